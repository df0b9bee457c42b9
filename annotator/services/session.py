"""An annotation session: the open project and the image being labelled. No Qt.

:class:`AnnotationSession` opens images one at a time as a
:class:`~annotator.services.document.Document` (where every edit happens), saves them
through an :class:`Autosaver` (snapshot on the caller's thread, write on the worker),
moves to the next or previous image, marks images done and edits the class list.

A big picture can be decoded on a worker thread first (:meth:`read_soon`), its label
mask read there too, so the window stays live while a large PNG decodes (ADR 0016); the
document itself is always made on the owner's thread.

Going on to another image hands the labels of the one left to the saver without
waiting for the write (0.6 s for 8000 x 6000 labels, 1.9 s at 100 MP). Until they are
written the saver keeps them, and a failure is reported as any autosave's; the session
writes them again with each later save, and:

* opening that image again waits for them (or, failed, refuses: they are never
  replaced by the older mask on disk);
* closing the document (an import, a class change) waits and refuses while some could
  not be saved;
* closing the session writes those it still cannot save as Rescued Labels.

While a save is known to fail, going on waits as before, so the image open stays open.

The Edit History of an image left is kept (:class:`~annotator.services.document.KeptHistory`)
and taken back when it is opened again, if its labels are then exactly those it was left
at (a digest of the map, taken when leaving and on opening) and the classes are the same
(up to a rename or a new colour, which move no id).
All kept histories and the open one's share the one memory cap (``history_bytes``); the
least recently left go first. A failed save of an image left, closing the document (an
import, a class change, removing the open image) and :meth:`forget_histories` (images
removed) drop them.
"""

from __future__ import annotations

import errno
import logging
import shlex
import sqlite3
import tempfile
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import numpy as np

from annotator.core.cancel import CancelToken
from annotator.core.channels import pick
from annotator.core.contrast import display_pixels
from annotator.core.errors import AnnotatorError, ProjectError, RecordRefused, first_line
from annotator.core.labelmap import LabelMap
from annotator.core.naming import NAME_MAX, short_stem
from annotator.core.records import ImageRecord
from annotator.core.schema import LabelSchema
from annotator.core.status import ImageStatus, status_after_save
from annotator.services.autosave import SAVE_BUSY_TIMEOUT_S, Autosaver, SaveRequest, SaveResult
from annotator.services.document import DEFAULT_HISTORY_BYTES, Document, KeptHistory
from annotator.services.jobs import Dispatcher, LatestWinsWorker, call_directly
from annotator.storage.atomic import PARTIAL_SUFFIX
from annotator.storage.images import auto_windows, encode_png
from annotator.storage.kept_labels import LabelsFolder
from annotator.storage.project import Project, file_version

log = logging.getLogger(__name__)
LAST_IMAGE_SETTING = "gui.last_image"
#: How long remembering the open image waits for another program's write lock: it is
#: only where to start next time, never worth holding up the open.
REMEMBER_TIMEOUT_S = 0.2

#: ``on_read(image_id, pixels)``: a picture decoded by :meth:`AnnotationSession.read_soon`
PixelsRead = Callable[[int, np.ndarray], None]
#: ``on_error(image_id, error)``: the picture could not be read
ReadFailed = Callable[[int, AnnotatorError], None]


@dataclass(frozen=True)
class _ReadRequest:
    ticket: int
    image_id: int
    on_read: PixelsRead
    on_error: ReadFailed
    #: Saves of the image handed to the saver before the read was asked for.
    submitted: int = 0


#: A mask file's inode, size and change time (None: no file): changes with every write.
_Stamp = tuple[int, int, int] | None


_stamp = file_version


@dataclass(frozen=True, eq=False)
class _Read:
    """What a background read found: the picture, its display with the default window,
    and, when it could read it, the mask."""

    image_id: int
    pixels: np.ndarray
    submitted: int
    display: np.ndarray
    auto: tuple[tuple[float, float], ...] | None  # the automatic windows (None: not needed)
    schema: LabelSchema | None = None  # (None: the mask was not read)
    mask: np.ndarray | None = None
    stamp: _Stamp = field(default=None)
    choice: tuple[int, ...] = ()  # the channel choice the display was made with


def _others(n: int) -> str:
    return "" if n <= 0 else f" and {n} other image{'s' if n > 1 else ''}"


#: How many image names a sentence lists before "and N more".
NAMES_LISTED = 10


def name_list(names: Sequence[str]) -> str:
    """``a.png``, ``a.png and b.png``, ``a.png, b.png and c.png`` (the first
    :data:`NAMES_LISTED`, then how many more)."""
    shown = list(names[:NAMES_LISTED])
    if len(names) > NAMES_LISTED:
        shown.append(f"{len(names) - NAMES_LISTED} more")
    return shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} and {shown[-1]}"


def _not_saved(names: str, failure: Exception | None) -> str:
    """``the labels of NAMES could not be saved (why)``; or, when only their record was
    refused (their mask file is written), that they are not recorded yet."""
    if isinstance(failure, RecordRefused):
        return f"the labels of {names} are written but not recorded yet ({failure.why})"
    why = first_line(failure) if failure is not None else "unknown error"
    return f"the labels of {names} could not be saved ({why})"


def _remedy(failure: Exception | None) -> str:
    """What to do before trying again, by what the save met: ``free some space`` (a full
    disk), ``close the program that holds the project`` (a locked database), ``make the
    project folder writable``, else ``fix the cause``."""
    text = str(failure or "").lower()
    if (isinstance(failure, OSError) and failure.errno == errno.ENOSPC) or "no space" in text:
        return "free some space"
    if "locked" in text:
        return "close the program that holds the project"
    if isinstance(failure, PermissionError) or "read-only" in text or "permission" in text:
        return "make the project folder writable"
    return "fix the cause"


def rescue_candidates(first: Path) -> list[Path]:
    """Where labels that cannot be saved are rescued when nobody can be asked another
    folder (a SIGTERM, a logout): ``first``, then ``annotator-rescued`` in the user's
    home folder, then in the temporary folder, in turn (a full disk may hold the first
    and not the others)."""
    found = [first]
    for parent in (Path.home, lambda: Path(tempfile.gettempdir())):
        try:
            folder = parent() / "annotator-rescued"
        except (OSError, RuntimeError):  # (no home folder known)
            continue
        if folder not in found:
            found.append(folder)
    return found


class LabelsAtRisk(ProjectError):
    """:meth:`AnnotationSession.close` with ``keep_if_lost``: some labels could be neither
    saved in the project nor rescued into any folder given. The session stays open with
    them; ``names``: their images; ``full``: a folder refused them for want of space (a
    full disk or quota), so freeing some may help."""

    def __init__(self, message: str, names: Sequence[str], full: bool = False) -> None:
        super().__init__(message)
        self.names = tuple(names)
        self.full = full


class LabelsKept(ProjectError):
    """Moving on was refused: labels could not be saved (or, with ``unrecorded``, were
    written but their record was refused), so they are kept (the image open stays open).
    ``title`` names what happened, for a box."""

    def __init__(self, message: str, unrecorded: bool) -> None:
        super().__init__(message)
        self.unrecorded = unrecorded

    @property
    def title(self) -> str:
        return "Labels not counted yet" if self.unrecorded else "Labels not saved"


class AnnotationSession:
    """The open project and the image being labelled."""

    def __init__(
        self,
        project: Project,
        *,
        history_bytes: int = DEFAULT_HISTORY_BYTES,
        dispatch: Dispatcher = call_directly,
        on_save_error: Callable[[int, Exception], None] | None = None,
        rescue_dir: Path | None = None,
    ) -> None:
        """``rescue_dir``: where :meth:`close` writes labels it could not save (default:
        ``annotator-rescued`` in the system's temporary folder)."""
        self.project = project
        self.history_bytes = history_bytes
        self.rescue_dir = rescue_dir or Path(tempfile.gettempdir()) / "annotator-rescued"
        #: Where the last :meth:`close` rescued labels (None: nowhere).
        self.rescued_to: Path | None = None
        self.document: Document | None = None
        self._on_save_error = on_save_error
        self._saved_listeners: list[Callable[[int], None]] = []
        self._saver = Autosaver(
            project, on_saved=self._saved, on_error=self._save_failed, dispatch=dispatch
        )
        # The newest open wins: every open, close and read bumps the ticket, and a read
        # whose ticket is no longer the latest is dropped (before or after decoding).
        self._closed = False
        self._closing = False  # close() has begun (it may be asked again: LabelsAtRisk)
        self._ticket = 0
        self._reading: int | None = None  # the image a background read is for
        self._read_done: _Read | None = None  # the newest read, until its image opens
        #: Saves handed to the saver, per image (a mask read before one is stale).
        self._submitted: dict[int, int] = {}
        #: The records of images let go whose labels the saver may still hold.
        self._left: dict[int, ImageRecord] = {}
        #: The Edit Histories of images left, least recently left first, and the classes
        #: they were left with.
        self._histories: OrderedDict[int, tuple[KeptHistory, LabelSchema]] = OrderedDict()
        self._reader: LatestWinsWorker[_ReadRequest, _Read | AnnotatorError | None] = (
            LatestWinsWorker(
                self._read,
                self._pixels_read,
                self._read_crashed,
                dispatch,
                "image-reader",
                cancellable=True,
            )
        )

    # --- project --------------------------------------------------------------------------
    @property
    def schema(self) -> LabelSchema:
        return self.project.schema

    def images(self, status: ImageStatus | None = None) -> list[ImageRecord]:
        return self.project.images(status)

    def add_saved_listener(self, fn: Callable[[int], None]) -> None:
        """Call ``fn(image_id)`` (through the dispatcher) after a mask was written."""
        self._saved_listeners.append(fn)

    def _saved(self, result: SaveResult) -> None:
        if self._closed:  # landed after close: the listeners have another project now
            return
        if self._saver.unwritten(result.image_id) is None:
            self._left.pop(result.image_id, None)  # (an image let go: written)
        doc = self.document
        if doc is not None and doc.image_id == result.image_id:
            try:  # the open image's record as stored now (its status, see listed_status)
                doc.record = self.project.image(result.image_id)
            except AnnotatorError as exc:
                log.warning("could not read the record of image %s: %s", result.image_id, exc)
        for fn in list(self._saved_listeners):
            fn(result.image_id)

    def listed_status(self) -> ImageStatus | None:
        """The open image's status as its next save will store it (None: no image open).

        What the image list shows as soon as an edit is committed, whatever tool made it:
        a new image with a labelled pixel is in progress at once, not when the autosave
        lands a second later (or, after a smart tool's background work, later still)."""
        doc = self.document
        if doc is None:
            return None
        status = doc.record.status  # as stored by the last save (or set by mark done)
        if status is not ImageStatus.NEW:
            return status  # (no need to look at the labels)
        return status_after_save(status, doc.label_map.has_labels())

    def _save_failed(self, request: SaveRequest, exc: Exception) -> None:
        if self._histories.pop(request.image_id, None) is not None:
            log.info("the undo history of image %s is dropped: its save failed", request.image_id)
        if self._closed:  # landed after close: its labels were written or rescued there
            return
        if self._saver.unwritten(request.image_id) is None:
            # a later try wrote them before this news landed (going back to an image left
            # waits for that write): nothing to tell, nothing to try again
            return
        doc = self.document
        if doc is not None and doc.image_id == request.image_id:
            doc.submitted_generation = -1  # so the next save tries again
        if self._closing:  # landed while close asks what to do: close says it all
            return
        if self._on_save_error is not None:
            self._on_save_error(request.image_id, exc)

    # --- documents ------------------------------------------------------------------------
    def open_image(self, image_id: int, pixels: np.ndarray | None = None) -> Document:
        """Hand the current image's labels to the saver, then open ``image_id``.

        Everything that can fail comes before the switch: when the new picture or mask
        cannot be read (deleted, replaced or damaged on disk), or labels of it handed
        over earlier are not written yet and cannot be, the error is raised and the
        current image stays open, edits and all, and saved as before. The switch does
        not wait for the current labels' write, unless the open image is asked for again
        or a save is known to fail: then it waits, and raises (the image kept open) if
        they could not be saved. ``pixels`` is the picture when :meth:`read_soon` has
        decoded it already (its mask too, used when nothing wrote it since).
        """
        read, self._read_done = self._read_done, None
        self.cancel_read()
        record = self.project.image(image_id)
        if pixels is None or pixels.shape[:2] != (record.height, record.width):
            pixels = self.project.load_image(record)
        doc = self.document
        wait = doc is not None and (doc.image_id == image_id or bool(self._saver.failed_ids()))
        if wait:
            self._save_to_leave()  # before reading the mask: it may be this image's own
        self._settle(image_id)
        # As the saves of it recorded it: one may have landed since the read above (its
        # status, and its label source, an accepted proposal, when its undo history was
        # dropped by a failed save). Whether one was still to land cannot tell: it may
        # land between that read and the settle.
        record = self.project.image(image_id)
        fresh, mask = self._mask_read(read, image_id, pixels)
        if not fresh:
            mask = self.project.load_mask(record)
        if mask is None:
            label_map = LabelMap.blank(self.schema, record.height, record.width)
        else:
            label_map = LabelMap.for_schema(self.schema, mask)
        if wait:
            self._keep_history()  # (saved: the image may be this one)
        else:
            self._let_go()
        document = Document(
            record,
            pixels,
            label_map,
            self.history_bytes,
            accepted=lambda: self.project.load_accepted(record),
            channel_choice=self.project.channel_choice(),
        )
        kept = self._histories.pop(image_id, None)
        if kept is not None and not (kept[1] == self.schema and document.take_history(kept[0])):
            log.info("the undo history of image %s is dropped: its labels changed", image_id)
        document.add_commit_listener(self._fit_histories)
        if read is not None and read.pixels is pixels and read.choice == document.channel_choice:
            document.use_display(read.display, read.auto)
        try:  # only where to start next time: a failure must not undo the open
            self.project.set_setting(LAST_IMAGE_SETTING, record.id, timeout=REMEMBER_TIMEOUT_S)
        except (AnnotatorError, OSError, sqlite3.Error) as exc:
            log.warning("could not remember the open image: %s", exc)
        self.document = document
        return document

    def _mask_read(
        self, read: _Read | None, image_id: int, pixels: np.ndarray
    ) -> tuple[bool, np.ndarray | None]:
        """``(True, mask)``: the mask a background read found for this open, when
        nothing can have written it since (the picture it came with, no save of the
        image handed over since it was asked for, nothing of it unwritten, the same
        classes, and the file as it was: one ``stat``); else ``(False, None)``."""
        if (
            read is None
            or read.schema is None
            or read.image_id != image_id
            or read.pixels is not pixels
            or self._submitted.get(image_id, 0) != read.submitted
            or self._saver.unwritten(image_id) is not None
            or read.schema != self.schema
            or _stamp(self.project.mask_path(image_id)) != read.stamp
        ):
            return False, None
        return True, read.mask

    def _settle(self, image_id: int) -> None:
        """Labels of ``image_id`` handed to the saver when it was let go: wait until they
        are written (tried once more if they failed), or raise :class:`ProjectError`
        (they stay kept)."""
        if self._saver.unwritten(image_id) is None:
            self._left.pop(image_id, None)
            return
        self._saver.wait_written(image_id)
        if self._saver.failure(image_id) is not None:
            self._retry([image_id])
            self._saver.wait_written(image_id)
        failure = self._saver.failure(image_id)
        if failure is not None:
            record = self._left.get(image_id)
            name = record.name if record is not None else f"image {image_id}"
            raise LabelsKept(
                f"{_not_saved(name, failure)}, so it cannot be opened again yet (they are "
                f"kept, and saved with the next save): {_remedy(failure)} and try again",
                unrecorded=isinstance(failure, RecordRefused),
            )
        self._left.pop(image_id, None)

    def _let_go(self) -> None:
        """Hand the open document's labels to the saver without waiting: the array
        itself, since nothing edits it any more (a gesture in progress is committed)."""
        doc = self.document
        if doc is None:
            return
        if doc.in_stroke:
            doc.commit_stroke()
        if doc.needs_save or self._saver.failure(doc.image_id) is not None:
            self._left[doc.image_id] = doc.record
            self._submit(doc, doc.label_map.array)
        self._keep_history()
        self.document = None

    def _keep_history(self) -> None:
        """Keep the open document's Edit History, as it is being let go."""
        doc = self.document
        if doc is None:
            return
        kept = doc.let_go_history()
        if kept is not None:
            self._histories[doc.image_id] = (kept, self.schema)
            self._histories.move_to_end(doc.image_id)
            self._fit_histories(open_bytes=0)

    def _fit_histories(self, open_bytes: int | None = None) -> None:
        """Drop the histories of images left longest ago until they and the open
        document's (``open_bytes``, default its size now) fit in ``history_bytes``."""
        if open_bytes is None:
            open_bytes = self.document.held_bytes if self.document is not None else 0
        while self._histories and self.kept_history_bytes + open_bytes > self.history_bytes:
            image_id, _ = self._histories.popitem(last=False)
            log.info("the undo history of image %s is dropped: over the memory cap", image_id)

    @property
    def kept_history_bytes(self) -> int:
        """Memory held by the Edit Histories of images left."""
        return sum(kept.nbytes for kept, _schema in self._histories.values())

    def kept_history_ids(self) -> list[int]:
        """The images left whose Edit History is kept, least recently left first."""
        return list(self._histories)

    def forget_histories(self, image_ids: Iterable[int] | None = None) -> None:
        """Drop the kept Edit Histories of ``image_ids`` (default: all), when something
        else changed or removed their labels."""
        if image_ids is None:
            self._histories.clear()
            return
        for image_id in image_ids:
            self._histories.pop(image_id, None)

    def _submit(self, doc: Document, labels: np.ndarray) -> None:
        request = SaveRequest.of(doc, labels)
        doc.submitted_generation = doc.generation
        self._submitted[doc.image_id] = self._submitted.get(doc.image_id, 0) + 1
        self._saver.submit(request)

    def _retry(self, image_ids: Sequence[int]) -> None:
        """Hand the kept labels of images let go whose save failed to the saver again."""
        for image_id in image_ids:
            request = self._saver.unwritten(image_id)
            if request is not None:
                self._submitted[image_id] = self._submitted.get(image_id, 0) + 1
                self._saver.submit(request)

    def write_seconds(self) -> float:
        """How long a save of the open image's labels handed over now will likely need
        to reach the disk (:meth:`Autosaver.write_seconds`; 0.0: no image open)."""
        doc = self.document
        if doc is None:
            return 0.0
        return self._saver.write_seconds(doc.image_id, doc.label_map.array.size)

    def remedy(self, image_id: int) -> str:
        """What to do before a failed save of ``image_id`` is tried again, in words that
        follow "...:" (``free some space``, ``close the program that holds the project``)."""
        return _remedy(self._saver.failure(image_id))

    def unsaved_ids(self) -> list[int]:
        """The images whose newest labels handed to the saver could not be written (the
        open one's, or kept of an image left): a removal of them must wait."""
        return self._saver.failed_ids()

    def labels_not_written(self, image_id: int) -> bool:
        """Whether the newest labels of ``image_id`` handed to the saver are not on disk
        (their save failed before the file was written; a record refused after it, an
        Interrupted Save, has the labels on disk)."""
        failure = self._saver.failure(image_id)
        return failure is not None and not isinstance(failure, RecordRefused)

    def _left_failed(self) -> list[int]:
        """The images let go (not the open one) whose labels could not be saved."""
        doc = self.document
        return [i for i in self._saver.failed_ids() if doc is None or i != doc.image_id]

    # --- reading big pictures off the owner's thread ----------------------------------------
    def read_soon(self, image_id: int, on_read: PixelsRead, on_error: ReadFailed) -> None:
        """Decode ``image_id``'s picture on a worker thread, then call
        ``on_read(image_id, pixels)`` (or ``on_error(image_id, error)``) through the
        dispatcher; the owner opens it with ``open_image(image_id, pixels)``.

        Nothing changes meanwhile: the current image stays open and editable. A later
        read or open, closing the document or the session drops this read unheard. The
        worker reads the image's mask too (after any save of it handed over is written),
        which ``open_image`` uses unless something may have written it since.
        """
        self._ticket += 1
        self._reading = image_id
        self._read_done = None
        submitted = self._submitted.get(image_id, 0)
        self._reader.submit(_ReadRequest(self._ticket, image_id, on_read, on_error, submitted))

    @property
    def reading(self) -> int | None:
        """The image a background read is decoding for, if any."""
        return self._reading

    def cancel_read(self) -> None:
        """Forget a background read on its way (another open, a close, or the user went
        back to the open image)."""
        self._ticket += 1
        self._reading = None
        self._read_done = None

    def _read(self, request: _ReadRequest, cancel: CancelToken) -> _Read | AnnotatorError | None:
        """On the worker thread: the decoded picture and mask, the reason the picture
        cannot be read, or None when the read was dropped before it began."""
        if cancel.cancelled or request.ticket != self._ticket:
            return None
        image_id = request.image_id
        try:
            pixels = self.project.load_image(self.project.image(image_id))
            choice = self.project.channel_choice()
        except AnnotatorError as exc:
            return exc
        if cancel.cancelled or request.ticket != self._ticket:
            return None
        shown = pick(pixels, choice)
        auto = None if pixels.dtype == np.uint8 else auto_windows(shown)  # (8-bit nodata: 0..255)
        display = display_pixels(shown, None, lambda: auto or ((0.0, 1.0),))
        # Labels of the image handed to the saver (it was left a moment ago): read after
        # they are written. A failure, or a save handed over since, leaves the mask to
        # open_image (it checks).
        self._saver.wait_written(image_id)
        try:
            schema = self.project.schema
            stamp = _stamp(self.project.mask_path(image_id))  # (before: a write changes it)
            mask = self.project.load_mask(self.project.image(image_id))
        except (AnnotatorError, OSError, sqlite3.Error) as exc:
            log.info("the mask of image %s is read at the switch instead: %s", image_id, exc)
            return _Read(image_id, pixels, request.submitted, display, auto, choice=choice)
        return _Read(
            image_id, pixels, request.submitted, display, auto, schema, mask, stamp, choice
        )

    def _pixels_read(self, request: _ReadRequest, result: _Read | AnnotatorError | None) -> None:
        if result is None or request.ticket != self._ticket:
            return  # dropped: another image was asked for, or the document was closed
        self._reading = None
        if isinstance(result, AnnotatorError):
            request.on_error(request.image_id, result)
        else:
            self._read_done = result
            request.on_read(request.image_id, result.pixels)

    def _read_crashed(self, request: _ReadRequest, exc: BaseException) -> None:
        if request.ticket == self._ticket:
            self._reading = None
            request.on_error(request.image_id, AnnotatorError(f"cannot read the image ({exc})"))

    def last_image_id(self) -> int | None:
        """The image open when the project was last closed, if it still exists."""
        try:
            wanted = self.project.get_setting(LAST_IMAGE_SETTING)
        except ProjectError as exc:  # only a convenience: open the first image instead
            log.warning("ignoring the damaged last-image setting: %s", exc)
            wanted = None
        ids = self.project.image_ids()
        if wanted in ids:
            return int(wanted)
        return ids[0] if ids else None

    def choose_channels(self, choice: Sequence[int]) -> None:
        """Store the project's channel choice (``services.channels.choose``: refused in
        one line for a channel no picture has) and show the open picture with it; the
        contrast window for every image is dropped (``services.shared_contrast``)."""
        from annotator.services.channels import choose

        chosen = choose(self.project, choice, timeout=REMEMBER_TIMEOUT_S)
        if self.document is not None:
            self.document.set_channel_choice(chosen)

    def close_document(self, *, keep_histories: bool = False) -> None:
        """Commit a gesture in progress, save synchronously and forget the document (and
        any image being read to replace it). Raises :class:`ProjectError` (the document
        kept) when its labels, or those of an image let go, could not be saved: what
        comes next (an import, a class change) would read or replace them on disk.

        The Edit Histories are forgotten, unless ``keep_histories`` (a class change, which
        may be cancelled: committed, its new classes drop them at the next open; see
        :meth:`_carry_histories`). The open document's is then kept with them."""
        self.cancel_read()
        self._save_to_leave()
        failed = self._left_failed()
        if failed:
            record = self._left.get(failed[0])
            name = record.name if record is not None else f"image {failed[0]}"
            failure = self._saver.failure(failed[0])
            raise LabelsKept(
                f"{_not_saved(name + _others(len(failed) - 1), failure)}; they are kept, "
                f"and saved with the next save: {_remedy(failure)} and try again",
                unrecorded=isinstance(failure, RecordRefused),
            )
        if keep_histories:
            self._keep_history()
        else:
            self._histories.clear()  # (what comes next may rewrite any label map)
        self.document = None

    def _save_to_leave(self) -> None:
        """Commit a gesture in progress and save synchronously (labels of images let go
        whose save failed are tried again too), before the document is let go; raise
        :class:`ProjectError` (the document kept) if its save failed."""
        if self.document is None:
            self.save(wait=True)  # (only labels of images let go)
            return
        if self.document.in_stroke:
            self.document.commit_stroke()
        self.save(wait=True)
        failure = self._saver.failure(self.document.image_id)
        if failure is not None:  # let go now and its unsaved labels would be lost
            self.document.submitted_generation = -1  # the next save tries again
            raise LabelsKept(
                f"{_not_saved(self.document.record.name, failure)}; the image stays open "
                f"so that nothing is lost: {_remedy(failure)} and try again",
                unrecorded=isinstance(failure, RecordRefused),
            )

    def save(self, *, wait: bool = False) -> bool:
        """Hand a snapshot of the current labels to the saver if they changed.

        The copy is taken here, on the caller's thread, so painting can go on while
        the worker encodes and writes. During a gesture the edits committed before it are
        saved, without the gesture's own pixels: they are not committed yet (an Esc may
        still take them back), and its commit will ask for a save. Labels of images let go whose save failed are handed over again. With
        ``wait`` block until everything handed over is on disk (or failed). Returns True
        if a snapshot of the open image was submitted.
        """
        doc = self.document
        submitted = False
        if (
            doc is not None
            # (a failed save's news may still be on its way to ``_save_failed``)
            and (doc.needs_save or self._saver.failure(doc.image_id) is not None)
        ):
            self._submit(doc, doc.committed_labels())
            submitted = True
        retried = self._left_failed()
        self._retry(retried)
        if wait:
            self._saver.flush()
            # A write of an image let go that was under way and failed during this wait
            # (a passing lock) gets its try again now, as one known before did: without it
            # a close rescued labels that a second try writes into the project.
            fresh = [i for i in self._left_failed() if i not in retried]
            if fresh:
                self._retry(fresh)
                self._saver.flush()
        return submitted

    @property
    def writing(self) -> bool:
        """Labels handed to the saver are still waiting or being written."""
        return not self._saver.idle

    def wait_written(self, timeout: float | None = None) -> bool:
        """Wait until every snapshot handed to the saver is written or failed (from any
        thread: the window waits off its own thread, see ``MainWindow.save_before``);
        False when ``timeout`` seconds passed first."""
        return self._saver.flush(timeout)

    def close(
        self, rescue_dirs: Sequence[Path] | None = None, *, keep_if_lost: bool = False
    ) -> str | None:
        """Save everything and stop the saver (on quit, or another project). Never asks.

        When labels cannot be saved (a full disk, the project folder gone), the open
        image's or those of images let go, they are written as class-id PNGs into the
        first of ``rescue_dirs`` that takes them (default: :func:`rescue_candidates` of
        :attr:`rescue_dir`; empty: nowhere), and the returned sentence says where (None
        when everything was saved). Labels whose mask file was written but not their
        record (:class:`RecordRefused`) are on disk: not rescued, the sentence says so.

        When no folder takes them, the sentence says they are lost (logged as an error),
        unless ``keep_if_lost``: then :class:`LabelsAtRisk` is raised and the session
        stays open, its labels kept, for the caller to try again (``close`` once more),
        with another folder, or with none (losing them)."""
        folders = rescue_candidates(self.rescue_dir) if rescue_dirs is None else list(rescue_dirs)
        self._closing = True  # (a failure from now on is the close's to say)
        rescued = None
        try:
            self.close_document()
        except ProjectError as exc:
            rescued, lost, full = self._rescue(exc, folders, final=not keep_if_lost)
            if lost and keep_if_lost:
                raise LabelsAtRisk(rescued, lost, full) from None
            self.document = None
        # A decode running now cannot be stopped; it ends unheard (its ticket is stale)
        # and must not hold up closing, nor reach a project closed under it.
        self._reader.shutdown(timeout=0.0)
        self._saver.close()
        self._closed = True
        return rescued

    def _unsaved(self) -> list[tuple[ImageRecord, np.ndarray, Exception | None]]:
        """Labels the saver could not write: ``(record, labels, failure)`` of the open
        image (when its save failed) and of each image let go whose save failed."""
        found: list[tuple[ImageRecord, np.ndarray, Exception | None]] = []
        doc = self.document
        if doc is not None:
            failure = self._saver.failure(doc.image_id)
            if failure is not None:
                found.append((doc.record, doc.label_map.array, failure))
        for image_id in self._left_failed():
            request, failure = self._saver.unwritten(image_id), self._saver.failure(image_id)
            record = self._left.get(image_id)
            if record is None:
                try:
                    record = self.project.image(image_id)
                except (AnnotatorError, sqlite3.Error) as exc:
                    log.error("labels of image %s not rescued: %s", image_id, exc)
            if request is not None and record is not None:
                found.append((record, request.mask, failure))
        return found

    def _rescue(
        self, exc: ProjectError, folders: Sequence[Path], final: bool
    ) -> tuple[str, list[str], bool]:
        """Write the labels that could not be saved somewhere else (the open image's, and
        those of images let go) into the first of ``folders`` that takes them; the
        sentence that says where, the names of the images whose labels none took (lost,
        said as an error when ``final``), and whether a folder refused them for want of
        space. Those whose mask file was written (only the record was refused) are on
        disk already: the sentence says so."""
        unsaved = self._unsaved()
        if not unsaved:  # (the close refused for a reason of its own: nothing to keep)
            return f"the labels could not be saved ({exc})", [], False
        on_disk = [
            (record, failure)
            for record, _labels, failure in unsaved
            if isinstance(failure, RecordRefused)
        ]
        others = [
            (record, labels, first_line(failure) if failure is not None else "unknown error")
            for record, labels, failure in unsaved
            if not isinstance(failure, RecordRefused)
        ]
        parts: list[str] = []
        lost: list[str] = []
        full = False
        if others:
            said, lost, full = self._rescue_into(others, folders, final)
            parts.append(said)
        if on_disk:
            records = [record for record, _failure in on_disk]
            why = cast("RecordRefused", on_disk[0][1]).why
            files = "its mask file" if len(records) == 1 else "their mask files"
            counted = (
                f"the labels of {name_list([r.name for r in records])} are written to "
                f"{files}, but the project index could not record them ({why}); they will "
                "be counted when the project is next opened"
            )
            log.warning("%s", counted)
            parts.append(counted)
        said = ". ".join(p[:1].upper() + p[1:] if i else p for i, p in enumerate(parts))
        return said, lost, full

    def _rescue_into(
        self,
        unsaved: list[tuple[ImageRecord, np.ndarray, str]],
        folders: Sequence[Path],
        final: bool,
    ) -> tuple[str, list[str], bool]:
        """Write ``(record, labels, why)`` into the first of ``folders`` that takes them
        all; the sentence, the names of the images none took, and whether a folder
        refused them for want of space."""
        records = [record for record, _labels, _why in unsaved]
        first, why = records[0], unsaved[0][2]
        names = f"{first.name}{_others(len(records) - 1)}"
        when = f"-{time.strftime('%Y%m%d-%H%M%S')}"
        # Named after the project, cut to fit: staged as ``.<name>-N.partial``, the
        # whole must fit NAME_MAX even for a project folder of a long name.
        room = NAME_MAX - len(when) - len("." + PARTIAL_SUFFIX) - len("-999")
        stamp = short_stem(self.project.root.name, room) + when
        refused = []
        full = False
        for parent in folders:
            try:
                folder, where = self._write_rescue(parent, stamp, unsaved)
            except (OSError, ProjectError) as again:
                short = again.strerror if isinstance(again, OSError) else None
                full = full or (
                    isinstance(again, OSError) and again.errno in (errno.ENOSPC, errno.EDQUOT)
                )
                refused.append(f"{parent}: {short or first_line(again)}")
                log.info("could not rescue the labels of %s into %s: %s", names, parent, again)
                continue
            log.warning(
                "labels of %s could not be saved in the project (%s); rescued to %s",
                names,
                why,
                where,
            )
            self.rescued_to = folder
            # (a project moved while open: the command names where it is now, or PROJECT)
            root = self.project.root_now()
            project = "PROJECT" if root is None else shlex.quote(str(root))
            named = "" if root is not None else " (PROJECT: the project's folder now)"
            return (
                (
                    f"the labels of {names} could not be saved in the project ({why}). "
                    f"They were written to {where} instead: once the project can be written "
                    f"again, File > Import labels… of that folder (Format: Masks) puts them "
                    f"back, as does `annotator import {project} "
                    f"{shlex.quote(str(folder))} --format masks`{named}"
                ),
                [],
                False,
            )
        lost = [record.name for record in records]
        tried = "; ".join(refused) if refused else "no folder to write them to"
        said = (
            f"the labels of {name_list(lost)} could not be saved: {why}; nor rescued "
            f"elsewhere: {tried}"
        )
        if final:
            log.error("%s: they are lost", said)
        return said, lost, full

    def _write_rescue(
        self, parent: Path, stamp: str, unsaved: list[tuple[ImageRecord, np.ndarray, str]]
    ) -> tuple[Path, Path]:
        """Write the labels as a masks dataset (:class:`LabelsFolder`) in a new folder in
        ``parent``; that folder, and where the sentence points (the one file, or the masks
        folder). Leaves nothing when it fails (``OSError``, ``ProjectError``).

        The folder is named after the project and the time; ``annotator import --format
        masks`` of it puts the maps back exactly, on their image: each file is named after
        the image's whole name (``x.tif.png``), and where that name is another image's
        too (``scene1/0001.png`` and ``scene2/0001.png``) a copy of the picture beside it
        says which."""
        from annotator.services.exchange import named_alone

        records = [record for record, _labels, _why in unsaved]
        rescue = LabelsFolder(parent, stamp, records, self.schema)
        try:
            paths = []
            for record, labels, _why in unsaved:
                path = rescue.write(record, encode_png(labels))
                paths.append(path)
                try:
                    alone = named_alone(self.project, Path(path).stem, record)
                except (AnnotatorError, OSError, sqlite3.Error):
                    alone = False
                if not alone:
                    try:  # only a help to the import: the labels are rescued without it
                        rescue.add_picture(record, self.project.image_path(record))
                    except (AnnotatorError, OSError) as missing:
                        log.warning("no copy of the picture of %s: %s", record.name, missing)
            folder = rescue.finish()
            assert folder is not None  # (maps were written)
        except BaseException:
            rescue.discard()
            raise
        return folder, (paths[0] if len(paths) == 1 else Path(folder) / "masks")

    # --- navigation and status ------------------------------------------------------------
    def neighbour(self, step: int, among: Sequence[int] | None = None) -> int | None:
        """The id ``step`` places after (or before, if negative) the current image (the
        one being read, while a read is on its way: Next pressed twice goes two on).

        ``among`` restricts and orders the candidates (e.g. the filtered image list);
        when the current image is not among them the first (or last) is returned.
        """
        ids = list(among) if among is not None else [r.id for r in self.images()]
        if not ids:
            return None
        here = self._reading
        if here is None and self.document is not None:
            here = self.document.image_id
        if here is None or here not in ids:
            return ids[0] if step >= 0 else ids[-1]
        i = ids.index(here) + step
        return ids[i] if 0 <= i < len(ids) else None

    def set_status(self, status: ImageStatus) -> ImageRecord | None:
        """Set the status of the current image (its labels are saved first)."""
        doc = self.document
        if doc is None:
            return None
        self.save(wait=True)
        self.project.set_status(doc.image_id, status, timeout=SAVE_BUSY_TIMEOUT_S)
        doc.record = self.project.image(doc.image_id)
        return doc.record

    def mark_done(self) -> ImageRecord | None:
        """Mark the current image done (or back to in progress if it already is)."""
        doc = self.document
        if doc is None:
            return None
        current = self.project.image(doc.image_id).status
        new = ImageStatus.IN_PROGRESS if current is ImageStatus.DONE else ImageStatus.DONE
        return self.set_status(new)

    # --- classes --------------------------------------------------------------------------
    def add_class(self, name: str, color: str | None = None) -> LabelSchema:
        """Append a class; return the new schema."""
        schema = self.schema.with_class(name, color)
        self.project.set_schema(schema)
        return schema

    def rename_class(self, class_id: int, name: str) -> LabelSchema:
        """Rename a class (its id kept); return the new schema. The Edit Histories of
        images left stay: no label value changed its meaning."""
        old = self.schema
        schema = old.renamed(class_id, name)
        self.project.set_schema(schema)
        self._carry_histories(old, schema)
        return schema

    def recolour_class(self, class_id: int, color: str) -> LabelSchema:
        """Give a class another colour; return the new schema (histories kept, as for a
        rename)."""
        old = self.schema
        schema = old.recoloured(class_id, color)
        self.project.set_schema(schema)
        self._carry_histories(old, schema)
        return schema

    def _carry_histories(self, old: LabelSchema, new: LabelSchema) -> None:
        """The classes went from ``old`` to ``new`` without any id moving (a rename, a
        colour): the Edit Histories kept under ``old`` are taken back under ``new``. Any
        other change of the classes leaves them under the classes they were kept with,
        so opening their image drops them (a Class Change moves ids)."""
        for image_id, (kept, schema) in self._histories.items():
            if schema == old:
                self._histories[image_id] = (kept, new)
