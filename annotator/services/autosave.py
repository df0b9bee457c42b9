"""Write label masks off the GUI thread, atomically, newest snapshot per image wins.

The caller takes a snapshot copy of the label map on its own (GUI) thread and hands it
to :meth:`Autosaver.submit`; one worker thread encodes and writes it through
:meth:`Project.save_mask` (atomic file write, then the database). When several
snapshots of one image are queued only the newest is written. :meth:`Autosaver.flush`
blocks until everything submitted is on disk (on quit, before a round or an export
reads the masks); :meth:`Autosaver.wait_written` until one image's labels are.

Until the newest snapshot of an image is written, the autosaver keeps it
(:meth:`Autosaver.unwritten`): after a failure too, so that labels of an image no longer
open (handed over when the user went on to another image, without waiting) can be
written again or rescued, never lost.

Errors never pass silently: they go to ``on_error`` through the injected ``dispatch``
(the GUI passes a function that runs the callback on its own thread).
"""

from __future__ import annotations

import errno
import functools
import logging
import shutil
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from annotator.core.cancel import CancelToken
from annotator.core.errors import ProjectError
from annotator.core.status import ImageStatus
from annotator.services.jobs import CoalescingQueue, Dispatcher, call_directly, log_failure
from annotator.storage.project import Project

if TYPE_CHECKING:
    from annotator.services.document import Document

log = logging.getLogger(__name__)
#: How long a save waits for another program's write lock on the project database before
#: it fails (and is reported; the next save tries again). Short, because leaving an image
#: or quitting waits for the save: a database browser holding the lock must not freeze
#: the window for the database's default 30 s.
SAVE_BUSY_TIMEOUT_S = 5.0
#: How many of an image's last writes :meth:`Autosaver.write_seconds` looks at.
WRITES_KEPT = 3


@dataclass(frozen=True, eq=False)
class SaveRequest:
    """One snapshot to write: the image, a private copy of its labels, its generation."""

    image_id: int
    mask: np.ndarray
    generation: int
    status: ImageStatus | None = None
    source: str = "user"  # the label source recorded with the mask
    #: The mask of the proposal ``source`` names, when this session accepted from it
    #: (kept beside the labels for training; never written to).
    accepted: np.ndarray | None = None

    @classmethod
    def of(cls, doc: Document, labels: np.ndarray | None = None) -> SaveRequest:
        """The snapshot of ``doc``: its ``labels`` (default: its label map's array, to
        be written before it changes), generation, label source and accepted mask."""
        return cls(
            doc.image_id,
            doc.label_map.array if labels is None else labels,
            doc.generation,
            source=doc.label_source,
            accepted=doc.accepted_mask,
        )


@dataclass(frozen=True)
class SaveResult:
    """What was written: the image and the generation of the labels now on disk."""

    image_id: int
    generation: int


#: The seconds a pixel's write likely takes before any was timed: 4096 x 4096 labels
#: took 0.22-0.48 s (painted regions) to 0.84-1.43 s (noise) to encode and write on a
#: plain laptop disk; 30 ns a pixel (0.5 s) starts the first save of a big image early
#: enough for the Autosave Bound, and a small one's (1 MP: 0.03 s) as before.
FIRST_SECONDS_PER_PIXEL = 3e-8


class Autosaver:
    """One background writer of label masks."""

    def __init__(
        self,
        project: Project,
        *,
        on_saved: Callable[[SaveResult], None] | None = None,
        on_error: Callable[[SaveRequest, Exception], None] | None = None,
        dispatch: Dispatcher = call_directly,
    ) -> None:
        self._project = project
        self._on_saved = on_saved
        self._on_error = on_error
        self._dispatch = dispatch
        self._queue: CoalescingQueue[int, SaveRequest] = CoalescingQueue(
            self._write, "annotator-autosave"
        )
        # The accepted proposal written last (image id, the very array), so the saves
        # after an accept do not encode it again; touched by the worker thread only.
        self._accepted_written: tuple[int, np.ndarray] | None = None
        # The error of each image whose newest save failed (cleared by one that works):
        # read after a flush, on the caller's thread, before the image is let go.
        self._failed: dict[int, Exception] = {}
        # The newest request of each image not written yet (waiting, being written, or
        # failed), dropped once written; both dicts change under the lock.
        self._unwritten: dict[int, SaveRequest] = {}
        self._lock = threading.Lock()
        # How long the last few writes of each image took (encode, file, record), in
        # seconds, and the seconds per pixel of the newest write of any image.
        self._took: dict[int, deque[float]] = {}
        self._per_pixel = FIRST_SECONDS_PER_PIXEL

    def write_seconds(self, image_id: int, pixels: int = 0) -> float:
        """How long the next write of ``image_id`` will likely take: the longest of its
        last :data:`WRITES_KEPT` writes (encode, file and record); before its first, the
        newest write of any image scaled to its ``pixels``; before any,
        :data:`FIRST_SECONDS_PER_PIXEL` a pixel."""
        with self._lock:
            took = self._took.get(image_id)
            return max(took) if took else self._per_pixel * pixels

    def submit(self, request: SaveRequest) -> None:
        """Queue a snapshot; an older one of the same image still waiting is dropped."""
        with self._lock:
            self._unwritten[request.image_id] = request
        try:
            self._queue.submit(request.image_id, request)
        except RuntimeError:
            raise RuntimeError("the autosaver is closed") from None

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every submitted snapshot is written; False on timeout."""
        return self._queue.wait_idle(timeout)

    @property
    def idle(self) -> bool:
        return self._queue.idle

    def wait_written(self, image_id: int, timeout: float | None = None) -> bool:
        """Wait until no snapshot of ``image_id`` is waiting or being written (any
        thread); False on timeout. Whether it was written: :meth:`failure`."""
        return self._queue.wait_key(image_id, timeout)

    def failure(self, image_id: int) -> Exception | None:
        """Why the newest save of ``image_id`` failed, or None (saved, or never tried)."""
        with self._lock:
            return self._failed.get(image_id)

    def failed_ids(self) -> list[int]:
        """The images whose newest save failed."""
        with self._lock:
            return list(self._failed)

    def unwritten(self, image_id: int) -> SaveRequest | None:
        """The newest snapshot of ``image_id`` not written yet (waiting, being written or
        failed), or None when its labels handed over are on disk."""
        with self._lock:
            return self._unwritten.get(image_id)

    def close(self, timeout: float | None = 30.0) -> None:
        """Write what is pending, then stop the worker."""
        self._queue.close(drop_pending=False, timeout=timeout)

    def _write(self, image_id: int, request: SaveRequest, _token: CancelToken) -> None:
        accepted = request.accepted
        last = self._accepted_written
        if (
            accepted is not None
            and last is not None
            and last[0] == image_id
            and last[1] is accepted
        ):
            accepted = None  # on disk already; save_mask keeps the file its source names
        began = time.monotonic()
        try:
            self._project.save_mask(
                request.image_id,
                request.mask,
                source=request.source,
                status=request.status,
                accepted=accepted,
                timeout=SAVE_BUSY_TIMEOUT_S,
            )
            # Any save without it may have removed the file (an undone accept).
            kept = request.accepted
            self._accepted_written = None if kept is None else (image_id, kept)
            with self._lock:
                took = time.monotonic() - began
                self._took.setdefault(image_id, deque(maxlen=WRITES_KEPT)).append(took)
                self._per_pixel = took / max(1, request.mask.size)
                self._failed.pop(image_id, None)
                if self._unwritten.get(image_id) is request:  # (not a newer one)
                    del self._unwritten[image_id]
        except Exception as raised:  # any failure must reach the user, never kill the writer
            exc = explained(raised, self._project.root)
            with self._lock:
                self._failed[image_id] = exc
            # One line for a save the user can fix (a locked database, a full disk): it
            # comes back every few seconds while it lasts; a traceback for a bug.
            log_failure(log, f"autosave of image {image_id} failed", exc)
            if self._on_error is not None:
                self._dispatch(functools.partial(self._on_error, request, exc))
        else:
            if self._on_saved is not None:
                result = SaveResult(request.image_id, request.generation)
                self._dispatch(functools.partial(self._on_saved, result))


#: The errors of a full disk (or a full quota).
_FULL = (errno.ENOSPC, errno.EDQUOT)


def explained(exc: Exception, root: Path) -> Exception:
    """``exc`` in the user's words where it says too little: a full disk names the
    project folder and the space left on it (the write that failed names at most a file
    inside, and the save's marker, written first, names none). Other errors as they are."""
    if not isinstance(exc, OSError) or exc.errno not in _FULL:
        return exc
    try:
        free = f"{size_text(shutil.disk_usage(root).free)} free"
    except OSError:
        free = "free space unknown"
    what = exc.strerror or "the disk is full"
    if exc.filename is not None:
        what += f": {exc.filename}"
    said = ProjectError(
        f"{what} ({free} on the disk of the project folder {root}): free some space there"
    )
    said.__cause__ = exc
    return said


def size_text(n: int) -> str:
    """A number of bytes for people: ``0 bytes``, ``512 bytes``, ``12 KB``, ``3.4 MB``."""
    if n < 1000:
        return f"{n} bytes"
    units = ("KB", "MB", "GB", "TB")
    value, i = n / 1000, 0
    while value >= 999.5 and i < len(units) - 1:
        value, i = value / 1000, i + 1
    return f"{value:.1f} {units[i]}" if value < 10 else f"{value:.0f} {units[i]}"
