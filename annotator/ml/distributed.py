"""DistributedDataParallel setup from the variables ``torchrun`` sets.

``torchrun --nproc_per_node=N annotator train PROJECT`` starts N copies of the command;
each finds ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` and ``MASTER_ADDR/PORT`` in its
environment. Backend: NCCL on GPUs, gloo on CPU. Only rank 0 writes anything.
"""

from __future__ import annotations

import contextlib
import datetime
import importlib
import logging
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import torch
import torch.distributed as dist

from annotator.core import torchrun
from annotator.core.cancel import Cancellable
from annotator.core.errors import AnnotatorError, Cancelled, ModelError, SaidElsewhere

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistInfo:
    """Where this process sits in a distributed run."""

    rank: int
    world_size: int
    local_rank: int

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that prints and publishes."""
        return self.rank == 0


def env_info() -> DistInfo | None:
    """The torchrun layout from the environment, or ``None`` for a single process."""
    world = torchrun.world_size()
    if world <= 1:
        return None
    return DistInfo(
        rank=torchrun.rank(),
        world_size=world,
        local_rank=int(os.environ.get("LOCAL_RANK", "0")),
    )


def current() -> DistInfo | None:
    """The layout of the initialised process group, or ``None`` when not distributed."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() <= 1:
        return None
    info = env_info()
    local = info.local_rank if info else dist.get_rank()
    return DistInfo(dist.get_rank(), dist.get_world_size(), local)


#: How long a process waits for the others of its group before it says so.
JOIN_NOTE_S = 3.0


def init_from_env(device: str = "auto", cancel: Cancellable | None = None) -> DistInfo | None:
    """Join the process group described by the environment (no-op for one process).

    The backend is NCCL when this process will train on CUDA, gloo otherwise. The join
    waits for every process of the group: past :data:`JOIN_NOTE_S` it says so, and
    ``cancel`` (Ctrl+C) ends the wait (the join blocked signals for its whole timeout,
    an hour, when a partner never started: a mistyped launch, a task not scheduled).
    """
    info = env_info()
    if info is None:
        return None
    if not dist.is_initialized():
        use_cuda = device != "cpu" and torch.cuda.is_available()
        if use_cuda:
            _check_gpu_of(info)
        # DistributedDataParallel imports torch._dynamo on first use. Imported after
        # the group exists, it keeps a reference to the group that outlives
        # destroy_process_group, so gloo's threads were torn down at interpreter exit
        # and aborted the process ("terminate called without an active exception")
        # in about 1 run in 7 after a successful round. Imported first, it does not.
        importlib.import_module("torch._dynamo")

        if use_cuda:
            torch.cuda.set_device(info.local_rank)
        # Only rank 0 scores a round and writes its version; the others wait for it in
        # one collective call (share_failure). NCCL's default wait is 10 minutes, which a
        # big project's validation could pass: an hour, as long as a round may run.
        _check_launch(info)
        _join(info, "nccl" if use_cuda else "gloo", cancel)
    return info


def _check_launch(info: DistInfo) -> None:
    """The variables a group is joined by, besides ``WORLD_SIZE``: torchrun sets them
    all; a launch by hand (a batch script) may not, and torch's own refusal was an
    internal error."""
    missing = [v for v in ("MASTER_ADDR", "MASTER_PORT") if not os.environ.get(v)]
    if missing:
        raise ModelError(
            f"WORLD_SIZE={info.world_size} asks for a group of processes, but "
            f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set: launch "
            "with torchrun (torchrun --nproc_per_node=N -m annotator train ...), or set "
            "MASTER_ADDR and MASTER_PORT as torchrun does"
        )
    if not 0 <= info.rank < info.world_size:
        raise ModelError(
            f"RANK={info.rank} is not a process of a group of WORLD_SIZE={info.world_size} "
            f"(0 to {info.world_size - 1})"
        )


def _join(info: DistInfo, backend: str, cancel: Cancellable | None) -> None:
    """``init_process_group`` on a thread of its own, so that this one can say it waits
    and take a cancel: the join blocks in C++, where no signal handler runs."""
    failure: list[BaseException] = []

    def join() -> None:
        try:
            # Only rank 0 scores a round and writes its version; the others wait for it
            # in one collective call (share_failure). NCCL's default wait is 10 minutes,
            # which a big project's validation could pass: an hour, as long as a round
            # may run.
            dist.init_process_group(backend=backend, timeout=datetime.timedelta(hours=1))
        except BaseException as exc:  # handed to the caller's thread
            failure.append(exc)

    thread = threading.Thread(target=join, name="join the process group", daemon=True)
    thread.start()
    started, said = time.monotonic(), False
    while thread.is_alive():
        thread.join(0.2)
        if cancel is not None and cancel.is_set():
            raise Cancelled("stopped while waiting for the other processes of the group")
        if not said and time.monotonic() - started > JOIN_NOTE_S and thread.is_alive():
            said = True
            log.warning(
                "process %d of %d waits for the other %d of the group at %s:%s (Ctrl+C stops)",
                info.rank,
                info.world_size,
                info.world_size - 1,
                os.environ.get("MASTER_ADDR"),
                os.environ.get("MASTER_PORT"),
            )
    if failure:
        raise failure[0]


def _check_gpu_of(info: DistInfo) -> None:
    """Each process of a machine trains on its own GPU (``LOCAL_RANK``): more processes
    than GPUs failed in ``torch.cuda.set_device`` ("invalid device ordinal"), an internal
    error. The first process without a GPU says so; those after it end quietly."""
    gpus = torch.cuda.device_count()
    if info.local_rank < gpus:
        return
    if info.local_rank > gpus:
        raise SaidElsewhere()
    raise ModelError(
        f"this machine has {gpus} GPU(s) and torchrun started more processes on it: start "
        f"one per GPU (torchrun --nproc_per_node={gpus}), or train on the CPU (--device cpu)"
    )


local_world_size = torchrun.local_world_size  # processes on this machine (CPU threads)


def barrier() -> None:
    """Wait for every rank (no-op when not distributed)."""
    if current() is not None:
        dist.barrier()


@contextlib.contextmanager
def together() -> Iterator[None]:
    """A step that every rank takes before the group next talks (opening the project,
    reading the labels, building the network): if it fails on any rank, it fails on
    every rank, and each failure is said once.

    Most of these failures are the same on every rank (a wrong path, no labelled
    images): printed by each, the user read them N times. After the step the ranks
    tell each other how it went (no-op for one process). The first rank that met a
    failure raises it (rank 0 also raises a cancel a helper met); every other rank
    raises a quiet :class:`SaidElsewhere` (its ``interrupted`` set when the failure
    said is a cancel), so that a failure only one helper rank met is said by it."""
    info = current()
    if info is None:
        yield
        return
    failure: Exception | None = None
    try:
        yield
    except Exception as exc:  # told to the others first: they would wait for this rank
        failure = exc
    mine = None if failure is None else (str(failure), isinstance(failure, Cancelled))
    everyone: list[tuple[str, bool] | None] = [None] * info.world_size
    dist.all_gather_object(everyone, mine)
    said = who_says(info.rank, everyone)
    if said is None:
        return
    if said == "mine":
        assert failure is not None
        raise failure
    raise said


def who_says(
    rank: int, failures: list[tuple[str, bool] | None]
) -> Literal["mine"] | AnnotatorError | None:
    """What rank ``rank`` raises after a step of :func:`together`, given every rank's
    failure (its message, and whether it is a cancel): None when none failed, "mine"
    (its own failure: it says it), or the error to raise instead (quiet, unless rank
    0 says a cancel that a helper met)."""
    if not any(failures):
        return None
    own = failures[rank]
    first_cancel = next((f[0] for f in failures if f is not None and f[1]), None)
    main = failures[0]
    interrupted = main[1] if main is not None else first_cancel is not None
    if rank == 0:
        if own is not None:
            return "mine"
        if first_cancel is not None:  # Ctrl+C: process 0 says so, whoever noticed first
            return Cancelled(first_cancel)
        return SaidElsewhere(interrupted=False)  # only helpers failed: they say why
    if own is None or own[1]:  # (a cancel: process 0 says it)
        return SaidElsewhere(interrupted=interrupted)
    if any(f is not None and f[0] == own[0] for f in failures[:rank]):
        return SaidElsewhere(interrupted=interrupted)  # a lower rank says the same
    return "mine"


def share_failure(message: str | None) -> str | None:
    """Rank 0's failure (its one-line message, or None) told to every rank: the ranks
    wait for rank 0 here, as at a barrier, and learn whether it failed. Rank 0 must not
    leave the group before, or the others' wait ends in a transport error."""
    if current() is None:
        return message
    box = [message]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def shutdown() -> None:
    """Leave the process group if one was joined."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
