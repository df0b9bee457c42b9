"""An annotation session: the open project, the current image and its edits. No Qt.

:class:`Document` is one open image: its pixels, its :class:`LabelMap`, its
:class:`EditHistory`. Every change of its labels goes through it (``record_patch`` for a
tool's patch, ``undo``/``redo``, ``begin/commit/abort_stroke``) and is announced to its
listeners with the box that changed, so a view repaints that box only and the autosave
timer restarts. A generation counter tells whether the labels on disk are the newest.

:class:`AnnotationSession` opens documents one at a time, saves them through an
:class:`Autosaver` (snapshot on the caller's thread, write on the worker), moves to the
next or previous image, marks images done and edits the class list.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import numpy as np

from annotator.core.history import EditHistory
from annotator.core.labelmap import Box, LabelMap, Patch
from annotator.core.records import ImageRecord
from annotator.core.schema import LabelSchema
from annotator.core.status import ImageStatus
from annotator.services.autosave import Autosaver, Dispatch, SaveRequest, SaveResult, _call_now
from annotator.storage.images import auto_window, to_display_uint8
from annotator.storage.project import Project

log = logging.getLogger(__name__)

Listener = Callable[[Box | None], None]
DEFAULT_HISTORY_BYTES = 256 * 2**20
LAST_IMAGE_SETTING = "gui.last_image"


class Document:
    """One open image and its labels; the only way labels change while it is open."""

    def __init__(
        self,
        record: ImageRecord,
        image: np.ndarray,
        label_map: LabelMap,
        history_bytes: int = DEFAULT_HISTORY_BYTES,
    ) -> None:
        self.record = record
        self.image = image
        self.label_map = label_map
        self.history = EditHistory(history_bytes)
        self.generation = 0  # bumped on every change of the labels
        self.submitted_generation = 0  # the generation last handed to the saver
        # Saved with the labels: "user", or "proposal:v<N>+user" once a proposal was
        # accepted into them (kept when such an image is opened again).
        self.label_source = (
            record.label_source if record.label_source.startswith("proposal:") else "user"
        )
        self._listeners: list[Listener] = []
        self._window: tuple[float, float] | None = None

    @property
    def image_id(self) -> int:
        return self.record.id

    @property
    def needs_save(self) -> bool:
        """True when the labels changed since the last snapshot handed to the saver."""
        return self.generation != self.submitted_generation

    # --- listeners --------------------------------------------------------------------
    def add_listener(self, fn: Listener) -> None:
        """Call ``fn(box)`` after every change of the labels (``None`` = everything)."""
        self._listeners.append(fn)

    def remove_listener(self, fn: Listener) -> None:
        if fn in self._listeners:
            self._listeners.remove(fn)

    def _changed(self, box: Box | None) -> None:
        self.generation += 1
        for fn in list(self._listeners):
            fn(box)

    # --- edits ----------------------------------------------------------------------------
    def begin_stroke(self) -> None:
        """Start a gesture: patches recorded until :meth:`commit_stroke` undo as one."""
        if self.history.in_stroke:
            self.history.commit_stroke()
        self.history.begin_stroke()

    def record_patch(self, patch: Patch) -> None:
        """Record an edit a tool already applied to :attr:`label_map`."""
        self.history.add(patch)
        if not patch.empty:
            self._changed(patch.box)

    def commit_stroke(self) -> bool:
        """End the gesture as one undo step; True if it changed anything."""
        return self.history.commit_stroke()

    def abort_stroke(self) -> None:
        """End the gesture and restore the pixels it changed."""
        box = self.history.abort_stroke(self.label_map)
        if box is not None:
            self._changed(box)

    @property
    def in_stroke(self) -> bool:
        return self.history.in_stroke

    def undo(self) -> Box | None:
        """Undo the newest step; return the box that changed (None if nothing to undo)."""
        patch = self.history.undo(self.label_map)
        if patch is None:
            return None
        self._changed(patch.box)
        return patch.box

    def redo(self) -> Box | None:
        """Redo the step undone last; return the box that changed."""
        patch = self.history.redo(self.label_map)
        if patch is None:
            return None
        self._changed(patch.box)
        return patch.box

    # --- display --------------------------------------------------------------------------
    @property
    def auto_window(self) -> tuple[float, float]:
        """The automatic contrast window of the image (percentiles; cached)."""
        if not hasattr(self, "_auto"):
            self._auto = auto_window(self.image)
        return self._auto

    @property
    def window(self) -> tuple[float, float] | None:
        """The user's contrast window, or None for the default."""
        return self._window

    def set_window(self, window: tuple[float, float] | None) -> None:
        self._window = window

    def display_image(self) -> np.ndarray:
        """The image as ``uint8`` (grey or RGB) with the current contrast window.

        8-bit images are shown as they are unless the user set a window; others (16-bit,
        float) use the automatic window.
        """
        image = self.image
        if image.ndim == 3 and image.shape[2] == 4:
            image = image[:, :, :3]
        if self._window is None:
            if image.dtype == np.uint8:
                return np.ascontiguousarray(image)
            lo, hi = self.auto_window
        else:
            lo, hi = self._window
        if image.dtype in (np.uint8, np.uint16):
            # A look-up table over every possible value: ~20x faster than the float path
            # on an 8192x8192 16-bit image, and the same result.
            levels = np.arange(np.iinfo(image.dtype).max + 1, dtype=image.dtype)
            return np.ascontiguousarray(to_display_uint8(levels, lo, hi)[image])
        return np.ascontiguousarray(to_display_uint8(image, lo, hi))


class AnnotationSession:
    """The open project and the image being labelled."""

    def __init__(
        self,
        project: Project,
        *,
        history_bytes: int = DEFAULT_HISTORY_BYTES,
        dispatch: Dispatch = _call_now,
        on_save_error: Callable[[int, Exception], None] | None = None,
    ) -> None:
        self.project = project
        self.history_bytes = history_bytes
        self.document: Document | None = None
        self._on_save_error = on_save_error
        self._saved_listeners: list[Callable[[int], None]] = []
        self._saver = Autosaver(
            project, on_saved=self._saved, on_error=self._save_failed, dispatch=dispatch
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
        for fn in list(self._saved_listeners):
            fn(result.image_id)

    def _save_failed(self, request: SaveRequest, exc: Exception) -> None:
        doc = self.document
        if doc is not None and doc.image_id == request.image_id:
            doc.submitted_generation = -1  # so the next save tries again
        if self._on_save_error is not None:
            self._on_save_error(request.image_id, exc)

    # --- documents ------------------------------------------------------------------------
    def open_image(self, image_id: int) -> Document:
        """Save the current image (waiting for it), then open ``image_id``."""
        self.close_document()
        record = self.project.image(image_id)
        image = self.project.load_image(record)
        mask = self.project.load_mask(record)
        if mask is None:
            label_map = LabelMap.blank(self.schema, record.height, record.width)
        else:
            label_map = LabelMap.for_schema(self.schema, mask)
        self.document = Document(record, image, label_map, self.history_bytes)
        self.project.set_setting(LAST_IMAGE_SETTING, record.id)
        return self.document

    def last_image_id(self) -> int | None:
        """The image open when the project was last closed, if it still exists."""
        wanted = self.project.get_setting(LAST_IMAGE_SETTING)
        ids = [r.id for r in self.images()]
        if wanted in ids:
            return int(wanted)
        return ids[0] if ids else None

    def close_document(self) -> None:
        """Commit a gesture in progress, save synchronously and forget the document."""
        if self.document is None:
            return
        if self.document.in_stroke:
            self.document.commit_stroke()
        self.save(wait=True)
        self.document = None

    def save(self, *, wait: bool = False) -> bool:
        """Hand a snapshot of the current labels to the saver if they changed.

        The copy is taken here, on the caller's thread, so painting can go on while
        the worker encodes and writes. With ``wait`` block until it is on disk.
        Returns True if a snapshot was submitted.
        """
        doc = self.document
        submitted = False
        if doc is not None and doc.needs_save:
            request = SaveRequest(
                doc.image_id, doc.label_map.copy_array(), doc.generation, source=doc.label_source
            )
            doc.submitted_generation = doc.generation
            self._saver.submit(request)
            submitted = True
        if wait:
            self._saver.flush()
        return submitted

    def close(self) -> None:
        """Save everything and stop the saver (on quit). Never asks, never loses edits."""
        self.close_document()
        self._saver.close()

    # --- navigation and status ------------------------------------------------------------
    def neighbour(self, step: int, among: Sequence[int] | None = None) -> int | None:
        """The id ``step`` places after (or before, if negative) the current image.

        ``among`` restricts and orders the candidates (e.g. the filtered image list);
        when the current image is not among them the first (or last) is returned.
        """
        ids = list(among) if among is not None else [r.id for r in self.images()]
        if not ids:
            return None
        if self.document is None or self.document.image_id not in ids:
            return ids[0] if step >= 0 else ids[-1]
        i = ids.index(self.document.image_id) + step
        return ids[i] if 0 <= i < len(ids) else None

    def set_status(self, status: ImageStatus) -> ImageRecord | None:
        """Set the status of the current image (its labels are saved first)."""
        doc = self.document
        if doc is None:
            return None
        self.save(wait=True)
        self.project.set_status(doc.image_id, status)
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
