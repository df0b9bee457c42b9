"""Device choice: CUDA, then Apple MPS, then CPU, unless the user says otherwise."""

from __future__ import annotations

import os

import torch

from annotator.core.errors import ModelError

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")


def choose_device(preference: str = "auto") -> torch.device:
    """The torch device for ``preference`` (``auto``, ``cpu``, ``cuda``, ``cuda:1``, ``mps``).

    ``ANNOTATOR_DEVICE`` overrides ``auto``. Asking for a device that is not available
    is an error rather than a silent fallback, so a benchmark never measures the wrong
    thing.
    """
    pref = (preference or "auto").strip().lower()
    if pref == "auto":
        pref = os.environ.get("ANNOTATOR_DEVICE", "auto").strip().lower() or "auto"
    if pref == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if pref.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ModelError("--device cuda was asked for, but no CUDA GPU is available")
        return torch.device(pref)
    if pref == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise ModelError("--device mps was asked for, but Apple MPS is not available")
        return torch.device("mps")
    if pref == "cpu":
        return torch.device("cpu")
    raise ModelError(f"unknown device {preference!r}; choose one of {', '.join(DEVICE_CHOICES)}")


def configure_cpu_threads(processes_per_machine: int = 1) -> int:
    """Use every core for one process, or share them fairly between local processes.

    Respects ``OMP_NUM_THREADS`` when the user set it. Returns the thread count.
    """
    env = os.environ.get("OMP_NUM_THREADS")
    if env and env.isdigit() and int(env) > 0:
        n = int(env)
    else:
        n = max(1, (os.cpu_count() or 1) // max(1, processes_per_machine))
    torch.set_num_threads(n)
    return n


def to_channels_last(model: torch.nn.Module) -> torch.nn.Module:
    """The model in channels-last memory format (faster convolutions on CUDA tensor cores)."""
    return model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]


def limit_cpu_threads(n: int) -> None:
    """Give torch's process-wide intra-op pool ``n`` threads (GUI-launched work keeps a
    core free for the interface)."""
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)


def seed_everything(seed: int) -> None:
    """Seed Python's, numpy's and torch's generators (reproducible benchmarks and CLI runs)."""
    import random

    import numpy as np

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


#: What torch's out-of-memory errors say: CUDA's and MPS's, the CPU allocator's, and
#: oneDNN's, which fails to make a convolution's "primitive" when memory runs out.
OUT_OF_MEMORY_WORDS = ("out of memory", "can't allocate memory", "could not create a primitive")


def is_out_of_memory(exc: BaseException) -> bool:
    """True for a CPU ``MemoryError`` or torch's out-of-memory errors
    (:data:`OUT_OF_MEMORY_WORDS`)."""
    text = str(exc).lower()
    return isinstance(exc, MemoryError) or (
        isinstance(exc, RuntimeError) and any(w in text for w in OUT_OF_MEMORY_WORDS)
    )


def release_memory() -> None:
    """Give back what a failed attempt held (Python garbage, the CUDA cache)."""
    import gc

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
