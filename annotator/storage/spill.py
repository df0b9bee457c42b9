"""Arrays a training round holds for its whole length, kept in a file instead of memory.

A round reads every labelled picture, its label map and its targets, and samples crops
from them until it ends: on a project of thousands of big pictures that is more than a
laptop's memory (ADR 0039). :class:`Spill` keeps the first ``budget`` bytes in memory,
as before, and copies each big array past them into a memory-mapped scratch file of the
project's ``models/`` folder: the round reads it as an array, and the operating system
keeps in memory only the parts read lately (file pages, given back under pressure,
where a copy in memory could only be swapped or kill the process).

The scratch files are taken in segments whose disk space is reserved before anything is
copied into them, so a full disk is an :class:`OSError` at that moment (the array then
stays in memory, said once in the log) and never a crash of the mapped memory later. A
segment's file is unlinked as soon as it is mapped: the mapping keeps its blocks until
the last array in it is gone, and a process killed at any moment leaves nothing on
POSIX systems. Where a mapped file cannot be unlinked (Windows), :meth:`Spill.close`
tries again, and a writer opening the project later removes what a dead process left
(:func:`clear_stale_spills`).
"""

from __future__ import annotations

import contextlib
import logging
import mmap
import os
import re
import socket
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from annotator.core.nodata import keep_source

log = logging.getLogger(__name__)

#: Bytes of round arrays held in memory before arrays are spilled to a file. A project
#: the loop makes (tens of pictures) stays within it and never touches the disk.
IN_MEMORY_BYTES = 1 << 30
#: Arrays below this size always stay in memory (each spilled one is a mapping of its
#: own, and a process has tens of thousands of them at most).
SMALLEST_SPILLED = 1 << 20
#: The scratch file is taken this much at a time (an array bigger than it gets a
#: segment of its own size).
SEGMENT_BYTES = 256 << 20
#: Offsets of the arrays in a segment are multiples of this (a cache line, and every
#: dtype's alignment).
_ALIGN = 64

_NAME = re.compile(r"^\.round-(?P<host>[A-Za-z0-9_-]*)-(?P<pid>\d+)-[^.]*\.spill$")


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", socket.gethostname())[:40]


class Spill:
    """Where a round keeps what it holds: :meth:`keep` an array, use what it returns.

    Use as a context manager (or call :meth:`close`): leaving drops the scratch files'
    names; their blocks go with the last array that maps them."""

    def __init__(
        self,
        folder: Path,
        budget: int | None = None,
        smallest: int | None = None,
        segment: int | None = None,
    ) -> None:
        """``budget``, ``smallest``, ``segment``: :data:`IN_MEMORY_BYTES`,
        :data:`SMALLEST_SPILLED` and :data:`SEGMENT_BYTES` unless given."""
        self.folder = Path(folder)
        self.budget = IN_MEMORY_BYTES if budget is None else int(budget)
        self.smallest = SMALLEST_SPILLED if smallest is None else int(smallest)
        self.segment = SEGMENT_BYTES if segment is None else int(segment)
        self.in_memory = 0  #: bytes of the arrays kept in memory
        self.spilled = 0  #: bytes of the arrays kept in the scratch file
        self._map: mmap.mmap | None = None
        self._used = 0
        self._unlink_later: list[Path] = []
        self._failed = False

    def __enter__(self) -> Spill:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def keep(self, array: np.ndarray) -> np.ndarray:
        """``array`` itself while the round's arrays fit the budget (or it is small),
        else an equal copy in the scratch file (a :class:`~annotator.core.nodata.NodataPicture`
        stays one). A scratch file that cannot be made (a full disk, a read-only folder)
        leaves this and every later array in memory, as a round without a spill holds
        them."""
        size = int(array.nbytes)
        if self._failed or size < self.smallest or self.in_memory + size <= self.budget:
            self.in_memory += size
            return array
        try:
            kept = self._copy(array)
        except (OSError, ValueError, OverflowError) as exc:
            self._failed = True
            log.warning(
                "could not keep the training round's arrays in a scratch file of %s (%s): "
                "they stay in memory",
                self.folder,
                exc,
            )
            self.in_memory += size
            return array
        self.spilled += size
        return keep_source(array, kept)

    def _copy(self, array: np.ndarray) -> np.ndarray:
        size = int(array.nbytes)
        start = -(-self._used // _ALIGN) * _ALIGN
        if self._map is None or start + size > len(self._map):
            self._map = self._new_segment(max(self.segment, size))
            start = 0
        out: np.ndarray[Any, Any] = np.ndarray(
            array.shape, array.dtype, buffer=self._map, offset=start
        )
        out[...] = array
        self._used = start + size
        return out

    def _new_segment(self, size: int) -> mmap.mmap:
        self.folder.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(
            prefix=f".round-{_host()}-{os.getpid()}-", suffix=".spill", dir=self.folder
        )
        path = Path(name)
        try:
            _reserve(fd, size)
            mapped = mmap.mmap(fd, size, access=mmap.ACCESS_WRITE)
        except BaseException:
            os.close(fd)
            with contextlib.suppress(OSError):
                path.unlink()
            raise
        os.close(fd)  # (the mapping keeps the file open)
        try:
            path.unlink()
        except OSError:  # mapped files cannot be unlinked on Windows
            self._unlink_later.append(path)
        return mapped

    def close(self) -> None:
        """Drop the scratch files' names (those that could not be unlinked while mapped
        are tried again; what stays is :func:`clear_stale_spills`'s)."""
        self._map = None
        for path in self._unlink_later:
            with contextlib.suppress(OSError):
                path.unlink()
        self._unlink_later = []


def _reserve(fd: int, size: int) -> None:
    """Take ``size`` bytes of disk for the file ``fd`` now: a full disk fails here, not
    as a bus error when a mapped page is first written."""
    fallocate = getattr(os, "posix_fallocate", None)
    if fallocate is not None:
        try:
            fallocate(fd, 0, size)
            return
        except OSError as exc:
            import errno

            if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
                raise
    block = b"\0" * (1 << 20)
    os.lseek(fd, 0, os.SEEK_SET)
    left = size
    while left > 0:
        left -= os.write(fd, block[: min(left, len(block))])


def clear_stale_spills(folder: Path) -> int:
    """Remove the scratch files that processes of this host no longer running left in
    ``folder`` (only where a mapped file could not be unlinked, or a process was killed
    in the moment between taking the file and mapping it); returns how many went."""
    from annotator.storage.lock import pid_alive

    removed, host = 0, _host()
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            match = _NAME.match(entry.name)
            if match is None or match["host"] != host or pid_alive(int(match["pid"])):
                continue
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
                removed += 1
    return removed
