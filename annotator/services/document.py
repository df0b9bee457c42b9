"""One open image and its edits: the only way labels change while it is open. No Qt.

:class:`Document` holds an image's pixels, its :class:`LabelMap` and its
:class:`EditHistory`. Every change of its labels is **one call** on it that both changes
the pixels and records the change (``paint_stroke``, ``fill``, ``polygon``, ``lasso``,
``assign``, ``accept``, ``accept_region``, ``paint_proposal``, ``paint_segments``,
``clean_up``, or the generic ``apply``), so no caller can change a label map and forget
the history. Two events tell the rest of the program (docs/adr/0008):

* *repaint* (``add_repaint_listener(fn(box))``): after every change of pixels, with the
  box that changed, so a view repaints that box only; fires for each mouse move.
* *commit* (``add_commit_listener(fn())``): once per committed gesture (a stroke on
  release, a fill, an accept, an undo, a redo); autosave, the loop and the enabling of
  actions listen to this one only.

A generation counter, bumped per commit, tells whether the labels on disk are the newest.
The image's label source (``user`` or ``proposal:v<N>+user``) follows the history: it is
the tag of the newest step still applied, so undoing an accept takes it back.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from annotator.core.channels import Choice, pick, shown
from annotator.core.contrast import Window, display_pixels, looks_like_ct, shown_channels
from annotator.core.errors import AnnotatorError
from annotator.core.history import EditHistory, Step
from annotator.core.labelmap import Box, LabelMap, Patch, Point, Tolerance, clean_up_edits
from annotator.core.proposal import Proposal, proposal_source
from annotator.core.records import ImageRecord
from annotator.core.smart import Superpixels
from annotator.storage.images import auto_windows, channel_ranges, value_range

log = logging.getLogger(__name__)

RepaintListener = Callable[[Box | None], None]
CommitListener = Callable[[], None]
EditOp = Callable[[LabelMap], Patch]
DEFAULT_HISTORY_BYTES = 256 * 2**20
USER_SOURCE = "user"


class EditError(AnnotatorError):
    """An edit that cannot apply to this document (e.g. a proposal of another size)."""


def labels_digest(labels: np.ndarray) -> bytes:
    """A digest of a label map's shape, type and every pixel (SHA-1: 45 ms for 48 MP of
    ``uint8`` on the 2-core machine): equal digests, the same map."""
    h = hashlib.sha1(usedforsecurity=False)
    h.update(f"{labels.shape}{labels.dtype.str}".encode())
    h.update(np.ascontiguousarray(labels).data.cast("B"))
    return h.digest()


@dataclass(eq=False)
class KeptHistory:
    """The Edit History of an image left (:meth:`Document.let_go_history`), with the
    digest of the label map it was left at: it applies to that map only."""

    history: EditHistory
    digest: bytes
    base_source: str
    undo_tags: list[str | None]
    redo_tags: list[str | None]
    proposal_masks: dict[str, np.ndarray]
    read_base_accepted: Callable[[], np.ndarray | None] | None

    @property
    def nbytes(self) -> int:
        """Memory it holds: its steps, and the proposal masks only it may still hold."""
        return self.history.nbytes + sum(m.nbytes for m in self.proposal_masks.values())


class Document:
    """One open image and its labels; the only way labels change while it is open."""

    def __init__(
        self,
        record: ImageRecord,
        image: np.ndarray,
        label_map: LabelMap,
        history_bytes: int = DEFAULT_HISTORY_BYTES,
        accepted: Callable[[], np.ndarray | None] | None = None,
        channel_choice: Sequence[int] = (),
    ) -> None:
        self.record = record
        self.image = image
        # The project's channel choice (``core.channels``): the channels shown.
        self._choice: Choice = tuple(channel_choice)
        self._shown: np.ndarray | None = None
        self.label_map = label_map
        self.history = EditHistory(history_bytes)
        self.generation = 0  # bumped on every committed change of the labels
        self.submitted_generation = 0  # the generation last handed to the saver
        # The label source before any step of this history: "user", or the accepted
        # proposal it came from when such an image is opened again. Steps older than the
        # history's memory cap fold into it when they are forgotten.
        self._base_source = (
            record.label_source if record.label_source.startswith("proposal:") else USER_SOURCE
        )
        # One tag per undo and redo step (None = a plain user edit), kept in step with
        # the history's stacks so undo and redo move the label source with the pixels.
        self._undo_tags: list[str | None] = []
        self._redo_tags: list[str | None] = []
        self._stroke_tag: str | None = None
        # The mask of each proposal an edit of this history copied from, by its tag: what
        # the saver keeps beside the labels, so training can tell accepted pixels
        # (docs/adr/0013).
        self._proposal_masks: dict[str, np.ndarray] = {}
        # Reads the accepted proposal kept on disk for the opening source. Read only when a
        # newer proposal is copied from (its save removes the older file): undoing back
        # to the opening source then writes that file again. Never on opening an image.
        self._read_base_accepted = accepted if self._base_source != USER_SOURCE else None
        self._repaint_listeners: list[RepaintListener] = []
        self._commit_listeners: list[CommitListener] = []
        self._after_gesture: list[Callable[[], object]] = []  # see when_idle
        self._windows: tuple[Window, ...] | None = None
        self._ready: np.ndarray | None = None  # a display made off this thread (use_display)
        self._auto: tuple[Window, ...] | None = None
        self._range: tuple[float, float] | None = None
        self._channel_ranges: tuple[tuple[float, float], ...] | None = None

    @property
    def image_id(self) -> int:
        return self.record.id

    @property
    def needs_save(self) -> bool:
        """True when the labels changed since the last snapshot handed to the saver."""
        return self.generation != self.submitted_generation

    @property
    def label_source(self) -> str:
        """Who produced the labels as they are now: the newest tagged step still applied."""
        for tag in reversed(self._undo_tags):
            if tag is not None:
                return tag
        return self._base_source

    @property
    def accepted_mask(self) -> np.ndarray | None:
        """The mask of the proposal the label source names, when an edit of this history
        copied from it, or the opening source's once a newer proposal was copied from
        (``None`` for user labels, and for the opening source before that: its file is on
        disk). Never written to: the proposal's own array."""
        return self._proposal_masks.get(self.label_source)

    def _proposal_tag(self, proposal: Proposal) -> str:
        """The label source an edit copying from ``proposal`` gives the image."""
        tag = proposal_source(proposal.model_version)
        if self._read_base_accepted is not None and tag != self._base_source:
            base = self._read_base_accepted()
            if base is not None:
                self._proposal_masks[self._base_source] = base
            self._read_base_accepted = None
        if tag not in self._proposal_masks:  # (once a gesture: it runs on every move)
            self._drop_unused_masks()
        self._proposal_masks[tag] = proposal.mask
        return tag

    @property
    def held_bytes(self) -> int:
        """Memory this image's undo needs: the history's steps and the masks of the
        proposals its steps copied from (each a whole label map)."""
        return self.history.nbytes + sum(m.nbytes for m in self._proposal_masks.values())

    def _drop_unused_masks(self) -> None:
        """Forget the proposal masks no step, and not the label source before them,
        names any more (a gesture that changed nothing, steps forgotten by the cap)."""
        used = {self._base_source, self._stroke_tag, *self._undo_tags, *self._redo_tags}
        for tag in [t for t in self._proposal_masks if t not in used]:
            del self._proposal_masks[tag]

    # --- events ---------------------------------------------------------------------------
    def add_repaint_listener(self, fn: RepaintListener) -> None:
        """Call ``fn(box)`` after every change of pixels (``None`` = everything).

        Fires for each mouse move of a stroke: keep listeners cheap (a view's update).
        """
        self._repaint_listeners.append(fn)

    def remove_repaint_listener(self, fn: RepaintListener) -> None:
        if fn in self._repaint_listeners:
            self._repaint_listeners.remove(fn)

    def add_commit_listener(self, fn: CommitListener) -> None:
        """Call ``fn()`` once per committed gesture (stroke, fill, accept, undo, redo)."""
        self._commit_listeners.append(fn)

    def remove_commit_listener(self, fn: CommitListener) -> None:
        if fn in self._commit_listeners:
            self._commit_listeners.remove(fn)

    def _repaint(self, box: Box | None) -> None:
        for fn in list(self._repaint_listeners):
            fn(box)

    def _committed(self) -> None:
        self.generation += 1
        for fn in list(self._commit_listeners):
            fn()

    # --- gestures -------------------------------------------------------------------------
    @property
    def in_stroke(self) -> bool:
        return self.history.in_stroke

    def begin_stroke(self) -> None:
        """Start a gesture: edits until :meth:`commit_stroke` undo as one step.

        A gesture still open is committed first (a press never swallows the last one).
        """
        if self.history.in_stroke:
            self.commit_stroke()
        self.history.begin_stroke()
        self._stroke_tag = None

    def commit_stroke(self) -> bool:
        """End the gesture as one undo step; True (and one commit event) if it changed pixels."""
        if not self.history.in_stroke:
            return False
        tag, self._stroke_tag = self._stroke_tag, None
        if not self.history.commit_stroke():
            self._run_deferred()
            return False
        self._pushed(tag)
        self._committed()
        self._run_deferred()
        return True

    def committed_labels(self) -> np.ndarray:
        """A snapshot of the committed labels (at :attr:`generation`): during a gesture,
        without the gesture's pixels (an Esc may still take them back)."""
        if self.history.in_stroke:
            return self.history.committed_array(self.label_map)
        return self.label_map.copy_array()

    def abort_stroke(self) -> None:
        """End the gesture and restore the pixels it changed (a repaint, no commit)."""
        self._stroke_tag = None
        box = self.history.abort_stroke(self.label_map)
        if box is not None:
            self._repaint(box)
        self._run_deferred()

    # --- edits: one call changes the pixels and records them ------------------------------
    def apply(self, op: EditOp, tag: str | None = None) -> Box | None:
        """Run ``op`` on the label map and record the patch it returns.

        Inside a gesture the patch joins it (a repaint now, the commit on release);
        otherwise it is one undo step of its own (a repaint and a commit). ``tag`` is the
        label source the edit gives the image (e.g. ``proposal:v3+user``; None for a user
        edit). Returns the box that changed, or None when nothing did.
        """
        patch = op(self.label_map)
        if patch.empty:
            return None
        if self.history.in_stroke:
            self.history.add(patch, self.label_map)
            if tag is not None:
                self._stroke_tag = tag
            self._repaint(patch.box)
            return patch.box
        if not self.history.push(patch):
            return None  # the patch wrote the values the pixels already had
        self._pushed(tag)
        self._repaint(patch.box)
        self._committed()
        return patch.box

    def paint_stroke(
        self,
        points: Sequence[Point],
        radius: float,
        value: int,
        *,
        only_unlabelled: bool = False,
        only_over: int | None = None,
    ) -> Box | None:
        """Paint the polyline through ``points`` (one segment per mouse move in a gesture).

        Protected painting: ``only_over=k`` changes only pixels labelled ``k``
        (``only_unlabelled`` is ``only_over=unlabelled``).
        """
        return self.apply(
            lambda lm: lm.paint_stroke(
                points, radius, value, only_unlabelled=only_unlabelled, only_over=only_over
            )
        )

    def fill(
        self,
        x: float,
        y: float,
        value: int,
        *,
        tolerance: Tolerance | None = None,
        only_over: int | None = None,
        sample: int = 1,
    ) -> Box | None:
        """Flood-fill the region around ``(x, y)``; with ``tolerance`` (one, or one per
        channel) bounded by the image, measured from the mean of the ``sample`` x
        ``sample`` pixels around the click (``LabelMap.flood_fill``).

        Outside a gesture the undo step is made from the region itself (every pixel of
        it goes from one label to ``value``): no copies of the box's values before and
        after, which cost a fill of a whole 8000 x 6000 map about 25 ms of its 70."""
        image = self.image if tolerance is not None else None
        if self.history.in_stroke:  # joins the gesture as a patch (Esc restores it)
            return self.apply(
                lambda lm: lm.flood_fill(
                    x,
                    y,
                    value,
                    image=image,
                    tolerance=tolerance,
                    only_over=only_over,
                    sample=sample,
                )
            )
        lm = self.label_map
        found = lm.flood_region(
            x, y, value, image=image, tolerance=tolerance, only_over=only_over, sample=sample
        )
        if found is None:
            return None
        region, box, seed = found
        np.copyto(lm.array[box.slices], lm.dtype.type(value), where=region)
        if not self.history.push_step(Step.from_mask(box, region, seed, value, lm.dtype)):
            return None  # (an empty region: floodFill always takes the seed)
        self._pushed(None)
        self._repaint(box)
        self._committed()
        return box

    def polygon(
        self,
        exterior: Sequence[Point],
        value: int,
        holes: Sequence[Sequence[Point]] = (),
        *,
        only_unlabelled: bool = False,
        only_over: int | None = None,
    ) -> Box | None:
        """Fill a polygon (with optional holes)."""
        return self.apply(
            lambda lm: lm.fill_polygon(
                exterior, holes, value, only_unlabelled=only_unlabelled, only_over=only_over
            )
        )

    def lasso(
        self,
        points: Sequence[Point],
        value: int,
        *,
        only_unlabelled: bool = False,
        only_over: int | None = None,
    ) -> Box | None:
        """Fill the area enclosed by a freehand outline."""
        return self.apply(
            lambda lm: lm.fill_lasso(
                points, value, only_unlabelled=only_unlabelled, only_over=only_over
            )
        )

    def assign(
        self,
        values: np.ndarray | int,
        where: np.ndarray | None = None,
        tag: str | None = None,
        *,
        only_over: int | None = None,
    ) -> Box | None:
        """Set ``values`` (scalar or full-size array) where ``where`` is true, one step."""
        return self.apply(lambda lm: lm.assign(values, where, only_over=only_over), tag)

    def paint_proposal(
        self,
        points: Sequence[Point],
        radius: float,
        proposal: Proposal,
        *,
        only_over: int | None = None,
    ) -> Box | None:
        """The proposal brush: copy the proposal's classes where the brush passes."""
        self._check_proposal(proposal)
        return self.apply(
            lambda lm: lm.paint_stroke_from(points, radius, proposal.mask, only_over=only_over),
            self._proposal_tag(proposal),
        )

    def accept_region(
        self, proposal: Proposal, x: float, y: float, *, only_over: int | None = None
    ) -> Box | None:
        """Accept the proposal's connected region under ``(x, y)`` only: one undo step."""
        self._check_proposal(proposal)
        if self.history.in_stroke:
            self.commit_stroke()
        return self.apply(
            lambda lm: lm.assign_region(proposal.mask, x, y, only_over=only_over),
            self._proposal_tag(proposal),
        )

    def paint_segments(
        self,
        segments: Superpixels,
        points: Sequence[Point],
        radius: float,
        value: int,
        *,
        only_over: int | None = None,
    ) -> Box | None:
        """The superpixel brush: paint every superpixel the stroke touches, whole."""
        return self.apply(
            lambda lm: lm.paint_segments(
                segments.labels, points, radius, value, boxes=segments.boxes, only_over=only_over
            )
        )

    def clean_up(
        self,
        value: int,
        max_area: int,
        within: np.ndarray | None = None,
        *,
        only_over: int | None = None,
    ) -> bool:
        """Fill the holes of class ``value`` and remove its specks (regions of at most
        ``max_area`` pixels) inside ``within`` (default: the whole image): one undo step.
        Protected painting: with ``only_over`` only pixels of that label change. Returns
        whether any pixel changed."""
        return self._one_step(clean_up_edits(value, max_area, within, only_over))

    def land(self, patches: Sequence[Patch]) -> bool:
        """Land patches computed off the GUI thread on a copy of the label map (see
        :meth:`LabelMap.land`), in order, as one undo step; pixels edited since the copy
        keep their newer values. Returns whether any pixel changed."""
        return self._one_step([functools.partial(LabelMap.land, patch=p) for p in patches])

    def _one_step(self, edits: Sequence[EditOp]) -> bool:
        """Run ``edits`` in order as one undo step of its own (a stroke in progress ends
        first); whether any pixel changed."""
        if self.history.in_stroke:
            self.commit_stroke()
        self.begin_stroke()
        for edit in edits:
            self.apply(edit)
        return self.commit_stroke()

    def when_idle(self, edit: Callable[[], object]) -> None:
        """Run ``edit`` now, or when the gesture in progress ends (committed or aborted).

        For results that arrive from the background (GrabCut): joining an open stroke
        would make them undo, or be cancelled by Esc, with it."""
        if self.history.in_stroke:
            self._after_gesture.append(edit)
        else:
            edit()

    def _run_deferred(self) -> None:
        pending, self._after_gesture = self._after_gesture, []
        for edit in pending:
            edit()

    def _check_proposal(self, proposal: Proposal) -> None:
        if proposal.shape != self.label_map.shape:
            raise EditError(f"the proposal is {proposal.shape}, the image {self.label_map.shape}")

    def accept(
        self, proposal: Proposal, class_id: int | None = None, *, only_over: int | None = None
    ) -> bool:
        """Copy ``proposal`` into the labels where nothing is labelled yet: one undo step.

        With ``class_id`` only the pixels the proposal gives that class; with protected
        painting "only over class k" (``only_over``) the pixels labelled k instead of
        the unlabelled ones. A gesture in progress is committed first so the accept
        stays a step of its own. The label source becomes ``proposal:v<N>+user`` until
        the step is undone. Returns whether any pixel changed.
        """
        self._check_proposal(proposal)
        if self.history.in_stroke:
            self.commit_stroke()
        return (
            self.apply(
                lambda lm: lm.accept(proposal.mask, class_id, only_over=only_over),
                self._proposal_tag(proposal),
            )
            is not None
        )

    # --- undo / redo ----------------------------------------------------------------------
    def undo(self) -> Box | None:
        """Undo the newest step; return the box that changed (None if nothing to undo).

        A gesture in progress is committed first (its own commit event), then undone.
        Results held back until it ended (GrabCut's, :meth:`when_idle`) land after the
        undo, as steps of their own: before, they landed first and were what was undone.
        """
        held: list[Callable[[], object]] = []
        if self.history.in_stroke:
            held, self._after_gesture = self._after_gesture, []
            self.commit_stroke()
        try:
            patch = self.history.undo(self.label_map)
            if patch is None:
                return None
            if self._undo_tags:
                self._redo_tags.append(self._undo_tags.pop())
            self._repaint(patch.box)
            self._committed()
            return patch.box
        finally:
            for edit in held:
                edit()

    def redo(self) -> Box | None:
        """Redo the step undone last; return the box that changed."""
        patch = self.history.redo(self.label_map)
        if patch is None:
            return None
        if self._redo_tags:
            self._undo_tags.append(self._redo_tags.pop())
        self._repaint(patch.box)
        self._committed()
        return patch.box

    # --- the history of an image left ----------------------------------------------------
    def let_go_history(self) -> KeptHistory | None:
        """This document's Edit History, to be taken back by the document of the same
        image opened again (:meth:`take_history`); None when there is nothing to undo or
        redo. A gesture in progress is committed first. The digest of the labels costs a
        pass over them (see :func:`labels_digest`)."""
        if self.history.in_stroke:
            self.commit_stroke()
        if not (self.history.undo_count or self.history.redo_count):
            return None
        return KeptHistory(
            self.history,
            labels_digest(self.label_map.array),
            self._base_source,
            self._undo_tags,
            self._redo_tags,
            self._proposal_masks,
            self._read_base_accepted,
        )

    def take_history(self, kept: KeptHistory) -> bool:
        """Take back the Edit History of this image left earlier, only when the labels
        opened are exactly those it was left at (its patches never go to another map);
        True if taken. Right after opening, before any edit; nothing is repainted or
        committed (the labels do not change)."""
        if self.generation or self.history.undo_count or self.history.redo_count:
            raise RuntimeError("take_history() after an edit")
        if kept.digest != labels_digest(self.label_map.array):
            return False
        kept.history.max_bytes = self.history.max_bytes
        self.history = kept.history
        self._base_source = kept.base_source
        self._undo_tags = kept.undo_tags
        self._redo_tags = kept.redo_tags
        self._proposal_masks = kept.proposal_masks
        self._read_base_accepted = kept.read_base_accepted
        return True

    def _pushed(self, tag: str | None) -> None:
        """Keep the tags in step with a new history step, and with the memory cap, which
        the proposal masks the steps need count in: the oldest steps are forgotten until
        both fit (a version's mask is a whole label map: one per version copied from,
        while a new version comes every minute, outgrew the cap unseen)."""
        self._undo_tags.append(tag)
        self._redo_tags.clear()
        self._follow_history()
        while self.held_bytes > self.history.max_bytes and self.history.forget_oldest():
            self._follow_history()

    def _follow_history(self) -> None:
        """Forget the tags of the steps the history forgot (the oldest: their source
        becomes the one before every step), and the masks nothing names now."""
        while len(self._undo_tags) > self.history.undo_count:
            forgotten = self._undo_tags.pop(0)
            if forgotten is not None:
                self._base_source = forgotten
        self._drop_unused_masks()

    # --- display --------------------------------------------------------------------------
    @property
    def channel_choice(self) -> Choice:
        """The channel choice the picture is shown with (``core.channels``; ``()``: none)."""
        return self._choice

    def set_channel_choice(self, choice: Sequence[int]) -> None:
        """Show the picture's channels ``choice`` (``()``: as before); the contrast
        windows go back to automatic, those of the channels now shown."""
        self._choice = tuple(choice)
        self._shown = None
        self._ready = None
        self._windows = None
        self._auto = None
        self._range = None
        self._channel_ranges = None

    @property
    def shown_image(self) -> np.ndarray:
        """The channels of the picture that are shown (:func:`core.channels.pick` of the
        channel choice's first three: models may take more): the picture itself without
        a choice."""
        if self._shown is None:
            self._shown = pick(self.image, shown(self._choice))
        return self._shown

    @property
    def shown_channels(self) -> int:
        """How many channels are shown, each with a contrast window of its own: grey 1,
        two channels 2 (magenta and green), else the first three (of the chosen)."""
        return shown_channels(self.shown_image)

    @property
    def auto_windows(self) -> tuple[Window, ...]:
        """The contrast window of each channel shown when the user has set none (cached):
        8-bit pictures as they are, ``(0, 255)`` (nodata pixels or not); a grey
        picture's percentiles; a picture of several channels of more than 8 bits, each
        channel's own."""
        if self._auto is None:
            self._auto = auto_windows(self.shown_image)
        return self._auto

    @property
    def value_range(self) -> tuple[float, float]:
        """The image's lowest and highest value, NaN and infinities left out (cached)."""
        if self._range is None:
            self._range = value_range(self.shown_image)
        return self._range

    @property
    def channel_ranges(self) -> tuple[tuple[float, float], ...]:
        """:attr:`value_range` of each channel shown (cached)."""
        if self._channel_ranges is None:
            self._channel_ranges = channel_ranges(self.shown_image)
        return self._channel_ranges

    @property
    def looks_like_ct(self) -> bool:
        """Whether the picture shown looks like CT in Hounsfield units
        (``core.contrast.looks_like_ct``): the Contrast dialog offers CT presets."""
        return looks_like_ct(self.shown_image, self.channel_ranges[0][0])

    @property
    def windows(self) -> tuple[Window, ...] | None:
        """The user's contrast windows, one per channel shown, or None for automatic."""
        return self._windows

    def set_windows(self, windows: Sequence[Window] | None) -> None:
        """Show the image with ``windows`` (one ``(low, high)`` per channel shown), or
        with the automatic ones (None)."""
        self._ready = None
        if windows is None:
            self._windows = None
            return
        chosen = tuple((float(lo), float(hi)) for lo, hi in windows)
        if len(chosen) != self.shown_channels:
            raise ValueError(f"{len(chosen)} contrast windows for {self.shown_channels} channels")
        self._windows = chosen

    def use_display(self, display: np.ndarray, auto: tuple[Window, ...] | None) -> None:
        """Take the display image of the automatic windows (:func:`display_pixels` of the
        image and ``None``) and those windows (``None``: not made), made on a worker with
        the pixels (ADR 0016); the next :meth:`display_image` returns it."""
        if auto is not None:
            self._auto = auto
        self._ready = display

    def display_image(self) -> np.ndarray:
        """The image as ``uint8`` (grey or RGB) with the current contrast windows
        (:func:`display_pixels`)."""
        ready, self._ready = self._ready, None
        if ready is not None and self._windows is None:
            return ready
        return display_pixels(self.shown_image, self._windows, lambda: self.auto_windows)
