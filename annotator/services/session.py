"""An annotation session: the open project and the image being labelled. No Qt.

:class:`AnnotationSession` opens images one at a time as a
:class:`~annotator.services.document.Document` (where every edit happens), saves them
through an :class:`Autosaver` (snapshot on the caller's thread, write on the worker),
moves to the next or previous image, marks images done and edits the class list.

A big picture can be decoded on a worker thread first (:meth:`read_soon`), so the
window stays live while a large PNG decodes (ADR 0016); the document itself is always
made on the owner's thread.
"""

from __future__ import annotations

import logging
import sqlite3
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from annotator.core.cancel import CancelToken
from annotator.core.errors import AnnotatorError, ProjectError, first_line
from annotator.core.labelmap import LabelMap
from annotator.core.records import ImageRecord
from annotator.core.schema import LabelSchema
from annotator.core.status import ImageStatus, status_after_save
from annotator.services.autosave import SAVE_BUSY_TIMEOUT_S, Autosaver, SaveRequest, SaveResult
from annotator.services.document import DEFAULT_HISTORY_BYTES, Document
from annotator.services.jobs import Dispatcher, LatestWinsWorker, call_directly
from annotator.storage.images import encode_png
from annotator.storage.kept_labels import LabelsFolder
from annotator.storage.project import Project

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
        self.document: Document | None = None
        self._on_save_error = on_save_error
        self._saved_listeners: list[Callable[[int], None]] = []
        self._saver = Autosaver(
            project, on_saved=self._saved, on_error=self._save_failed, dispatch=dispatch
        )
        # The newest open wins: every open, close and read bumps the ticket, and a read
        # whose ticket is no longer the latest is dropped (before or after decoding).
        self._closed = False
        self._ticket = 0
        self._reading: int | None = None  # the image a background read is for
        self._reader: LatestWinsWorker[_ReadRequest, np.ndarray | AnnotatorError | None] = (
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
        doc = self.document
        if doc is not None and doc.image_id == request.image_id:
            doc.submitted_generation = -1  # so the next save tries again
        if self._on_save_error is not None:
            self._on_save_error(request.image_id, exc)

    # --- documents ------------------------------------------------------------------------
    def open_image(self, image_id: int, pixels: np.ndarray | None = None) -> Document:
        """Save the current image (waiting for it), then open ``image_id``.

        Everything that can fail comes before the switch: when the new picture or mask
        cannot be read (deleted, replaced or damaged on disk), or the current labels
        cannot be saved, the error is raised and the current image stays open, edits
        and all, and saved as before. ``pixels`` is the picture when :meth:`read_soon`
        has decoded it already.
        """
        self.cancel_read()
        record = self.project.image(image_id)
        if pixels is None or pixels.shape[:2] != (record.height, record.width):
            pixels = self.project.load_image(record)
        self._save_to_leave()  # before reading the mask: it may be this image's own
        mask = self.project.load_mask(record)
        if mask is None:
            label_map = LabelMap.blank(self.schema, record.height, record.width)
        else:
            label_map = LabelMap.for_schema(self.schema, mask)
        document = Document(
            record,
            pixels,
            label_map,
            self.history_bytes,
            accepted=lambda: self.project.load_accepted(record),
        )
        try:  # only where to start next time: a failure must not undo the open
            self.project.set_setting(LAST_IMAGE_SETTING, record.id, timeout=REMEMBER_TIMEOUT_S)
        except (AnnotatorError, OSError, sqlite3.Error) as exc:
            log.warning("could not remember the open image: %s", exc)
        self.document = document
        return document

    # --- reading big pictures off the owner's thread ----------------------------------------
    def read_soon(self, image_id: int, on_read: PixelsRead, on_error: ReadFailed) -> None:
        """Decode ``image_id``'s picture on a worker thread, then call
        ``on_read(image_id, pixels)`` (or ``on_error(image_id, error)``) through the
        dispatcher; the owner opens it with ``open_image(image_id, pixels)``.

        Nothing changes meanwhile: the current image stays open and editable. A later
        read or open, closing the document or the session drops this read unheard.
        """
        self._ticket += 1
        self._reading = image_id
        self._reader.submit(_ReadRequest(self._ticket, image_id, on_read, on_error))

    @property
    def reading(self) -> int | None:
        """The image a background read is decoding for, if any."""
        return self._reading

    def cancel_read(self) -> None:
        """Forget a background read on its way (another open, a close, or the user went
        back to the open image)."""
        self._ticket += 1
        self._reading = None

    def _read(
        self, request: _ReadRequest, cancel: CancelToken
    ) -> np.ndarray | AnnotatorError | None:
        """On the worker thread: the decoded picture, the reason it cannot be read, or
        None when the read was dropped before it began."""
        if cancel.cancelled or request.ticket != self._ticket:
            return None
        try:
            return self.project.load_image(self.project.image(request.image_id))
        except AnnotatorError as exc:
            return exc

    def _pixels_read(
        self, request: _ReadRequest, result: np.ndarray | AnnotatorError | None
    ) -> None:
        if result is None or request.ticket != self._ticket:
            return  # dropped: another image was asked for, or the document was closed
        self._reading = None
        if isinstance(result, AnnotatorError):
            request.on_error(request.image_id, result)
        else:
            request.on_read(request.image_id, result)

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
        ids = [r.id for r in self.images()]
        if wanted in ids:
            return int(wanted)
        return ids[0] if ids else None

    def close_document(self) -> None:
        """Commit a gesture in progress, save synchronously and forget the document (and
        any image being read to replace it)."""
        self.cancel_read()
        self._save_to_leave()
        self.document = None

    def _save_to_leave(self) -> None:
        """Commit a gesture in progress and save synchronously, before the document is
        let go; raise :class:`ProjectError` (the document kept) if the save failed."""
        if self.document is None:
            return
        if self.document.in_stroke:
            self.document.commit_stroke()
        self.save(wait=True)
        failure = self._saver.failure(self.document.image_id)
        if failure is not None:  # let go now and its unsaved labels would be lost
            self.document.submitted_generation = -1  # the next save tries again
            raise ProjectError(
                f"the labels of {self.document.record.name} could not be saved "
                f"({first_line(failure)}); the image stays open so that nothing is lost: "
                "free some space (or fix the cause) and try again"
            )

    def save(self, *, wait: bool = False) -> bool:
        """Hand a snapshot of the current labels to the saver if they changed.

        The copy is taken here, on the caller's thread, so painting can go on while
        the worker encodes and writes. During a gesture nothing is taken: its pixels are
        not committed yet (an Esc may still take them back), and its commit will ask for
        a save. With ``wait`` block until it is on disk. Returns True if a snapshot was
        submitted.
        """
        doc = self.document
        submitted = False
        if (
            doc is not None
            and not doc.in_stroke
            # (a failed save's news may still be on its way to ``_save_failed``)
            and (doc.needs_save or self._saver.failure(doc.image_id) is not None)
        ):
            request = SaveRequest(
                doc.image_id,
                doc.label_map.copy_array(),
                doc.generation,
                source=doc.label_source,
                accepted=doc.accepted_mask,
            )
            doc.submitted_generation = doc.generation
            self._saver.submit(request)
            submitted = True
        if wait:
            self._saver.flush()
        return submitted

    def close(self) -> str | None:
        """Save everything and stop the saver (on quit, or another project). Never asks.

        When the open image's labels cannot be saved (a full disk, the project folder
        gone), they are written as a class-id PNG into :attr:`rescue_dir` instead, and
        the returned sentence says where (None when everything was saved)."""
        rescued = None
        try:
            self.close_document()
        except ProjectError as exc:
            rescued = self._rescue(exc)
            self.document = None
        # A decode running now cannot be stopped; it ends unheard (its ticket is stale)
        # and must not hold up closing, nor reach a project closed under it.
        self._reader.shutdown(timeout=0.0)
        self._saver.close()
        self._closed = True
        return rescued

    def _rescue(self, exc: ProjectError) -> str:
        """Write the open image's labels somewhere else; the sentence that says where.

        They are written as the project keeps removed labels (a masks dataset in a
        folder named after the project and the time, with the class list and the
        reserved values: :class:`~annotator.storage.kept_labels.LabelsFolder`), so
        ``annotator import --format masks`` of that folder puts them back exactly, on
        their image: the file is named after the image's whole name (``x.tif.png``),
        and where that name is another image's too (``scene1/0001.png`` and
        ``scene2/0001.png``) a copy of the picture beside it says which."""
        from annotator.services.exchange import named_alone

        doc = self.document
        assert doc is not None
        record = doc.record
        failure = self._saver.failure(doc.image_id)
        why = first_line(failure) if failure is not None else str(exc)
        stamp = f"{self.project.root.name}-{time.strftime('%Y%m%d-%H%M%S')}"
        rescue = LabelsFolder(self.rescue_dir, stamp, [record], self.schema)
        try:
            path = rescue.write(record, encode_png(doc.label_map.array))
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
        except (OSError, ProjectError) as again:
            rescue.discard()
            log.error("could not rescue the labels of %s: %s", record.name, again)
            return (
                f"the labels of {record.name} could not be saved ({why}), nor rescued "
                f"elsewhere ({first_line(again)})"
            )
        log.warning("labels of %s rescued to %s: %s", record.name, path, why)
        return (
            f"the labels of {record.name} could not be saved in the project ({why}). "
            f"They were written to {path} instead: once the project can be written again, "
            f"`annotator import PROJECT {folder} --format masks` puts them back"
        )

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
        schema = self.schema.renamed(class_id, name)
        self.project.set_schema(schema)
        return schema

    def recolour_class(self, class_id: int, color: str) -> LabelSchema:
        schema = self.schema.recoloured(class_id, color)
        self.project.set_schema(schema)
        return schema
