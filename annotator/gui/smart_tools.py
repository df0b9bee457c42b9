"""Tools that correct with one gesture: the proposal brush, accept region, the superpixel
brush, GrabCut and clean-up, plus the protected-painting control.

=============  ====  ================================================================
tool           key   gesture
=============  ====  ================================================================
Proposal brush  W    drag copies the model's proposal where the brush passes
Accept region   Q    click accepts the proposal's connected region under the cursor
Superpixels     S    drag paints every superpixel the brush touches, whole
GrabCut         G    drag a box; the object inside it gets the current class
Clean up        K    drag an outline; holes in the current class inside it are filled
                     and its specks removed (size: the toolbar's "Clean-up" value)
=============  ====  ================================================================

Every gesture is one undo step, and every tool honours protected painting (paint only
over unlabelled pixels, or only over one chosen class). Superpixels, GrabCut and the
clean-up of a large area are computed off the GUI thread (:class:`SmartSupport`), so the
brush stays responsive on large images; their results land through the same
:class:`Document` calls.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QWidget

from annotator.core.cancel import CancelToken
from annotator.core.labelmap import LabelMap, Patch, Point, clean_up_edits, region_at
from annotator.core.proposal import Proposal
from annotator.core.smart import (
    Superpixels,
    SuperpixelSettings,
    Tile,
    Windows,
    grabcut,
    nearest_tile,
    superpixel_tiles,
    tile_superpixels,
)
from annotator.gui.tools import LassoTool, Reach, Tool, ToolContext, protection, unchanged_text
from annotator.services.jobs import CoalescingQueue, Dispatcher


class SmartContext(ToolContext, Protocol):
    """What the smart tools need beyond a plain tool's context."""

    @property
    def smart(self) -> SmartSupport | None: ...

    @property
    def cleanup_area(self) -> int: ...


def _smart(ctx: ToolContext) -> SmartSupport | None:
    return getattr(ctx, "smart", None)


# --- background computation -----------------------------------------------------------------
class Landing:
    """A GrabCut or clean-up result on its way to the labels of one image: from the
    submit until it lands (after the computation, and after a gesture held meanwhile).

    An undo or redo pressed meanwhile cancels it (:meth:`SmartSupport.cancel_landings`):
    landing after them as a new step, it cleared the redo, and the step they undid was
    lost for good."""

    def __init__(self, kind: str, image_id: int, settle: Callable[[Landing], None]) -> None:
        self.kind = kind
        self.image_id = image_id
        self.started = False  # the worker took it (set there; a newer box no longer replaces it)
        self.cancelled = False
        self._settle = settle

    def settle(self) -> None:
        """It landed, or was dropped (its image left, the work failed): no longer pending."""
        self._settle(self)

    def guard(self, edit: Callable[[], object]) -> Callable[[], None]:
        """``edit`` (the landing itself) as it runs once cancelling is too late: not at
        all when an undo or redo cancelled it first."""

        def landing() -> None:
            if not self.cancelled:
                self.settle()
                edit()

        return landing


@dataclass(frozen=True, eq=False)
class _Job:
    """One background computation: what to run, for which image, and where its result goes."""

    image_id: int
    kind: str
    run: Callable[[], Any]
    done: Callable[[Any], None]
    landing: Landing | None = None  # (superpixels: none, they are no edit)


class _TileWork:
    """The superpixel tiles of one image still to compute, and where the brush is.

    ``focus`` is set on the GUI thread and read on the worker (a tuple swap is atomic);
    only the worker takes tiles out of ``remaining``.
    """

    def __init__(
        self,
        image: np.ndarray,
        settings: SuperpixelSettings,
        tiles: list[Tile],
        focus: Point,
        windows: Windows = None,
    ) -> None:
        self.image = image
        self.settings = settings
        self.tiles = tiles
        self.remaining = list(tiles)
        self.focus = focus
        self.windows = windows  # every tile of the work is seen through these

    def compute_next(self) -> tuple[Tile, np.ndarray]:
        """SLIC of the remaining tile nearest the focus (on the worker thread)."""
        x, y = self.focus
        tile = self.remaining.pop(nearest_tile(self.remaining, y, x))
        return tile, tile_superpixels(self.image, tile, self.settings, self.windows)


class SmartSupport:
    """Where the smart tools get the proposal, superpixels and background work from.

    ``proposal_of`` returns the proposal shown for an image id (or None); ``notify``
    shows a short message (the status bar); ``current_image`` says which image is open.
    Superpixels are computed once per image, on the worker thread, the first time a tool
    asks, tile by tile nearest the brush first (other jobs run between tiles), through
    the contrast windows the image is shown with: asked through others (the user
    changed them), they are dropped and computed again, so an index never holds tiles
    of two windows. GrabCut runs there too (a newer box replaces one still waiting). A
    GrabCut result for an image that is no longer open is dropped.
    """

    def __init__(
        self,
        dispatcher: Dispatcher,
        proposal_of: Callable[[int], Proposal | None],
        notify: Callable[[str], None],
        current_image: Callable[[], int | None],
        settings: SuperpixelSettings | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        """``notify``: a tool's result ("GrabCut found nothing to change"), for a few
        seconds; ``progress``: the superpixels' background work (default: ``notify``),
        where it does not replace a result (it did within a second on big images)."""
        self._dispatch = dispatcher
        self._proposal_of = proposal_of
        self.notify = notify
        self.progress = progress or notify
        self._current = current_image
        self.settings = settings or SuperpixelSettings()
        self._segments: dict[int, Superpixels] = {}
        self._seen_through: dict[int, Windows] = {}  # the windows of each image's index
        self._tiling: dict[int, _TileWork] = {}  # images whose tiles are being computed
        self._closed = False
        self._serial = itertools.count(1)
        self._landings: list[Landing] = []  # results submitted that have not landed yet
        self._queue: CoalescingQueue[tuple[str, int], _Job] = CoalescingQueue(
            self._run, "annotator-smart"
        )

    def proposal(self, image_id: int) -> Proposal | None:
        proposal = self._proposal_of(image_id)
        if proposal is None:
            self.notify("No proposal for this image yet: train a model or wait for it")
        return proposal

    def superpixels(
        self,
        image_id: int,
        image: np.ndarray,
        near: Point | None = None,
        windows: Windows = None,
    ) -> Superpixels | None:
        """The image's superpixels, or None until the first tile is ready.

        The first call starts computing them on the worker, one tile at a time (a big
        image has many, see :func:`superpixel_tiles`), each time the tile nearest
        ``near``, the brush's latest position; the index returned fills in as tiles
        land (on the GUI thread), so a stroke paints the segments that exist.
        ``windows``: the contrast windows the image is shown with (None: automatic),
        which SLIC sees it through; an index of other windows is dropped and this one
        started (a stroke holding the old index keeps it, and it gets no more tiles).
        """
        if self._closed:
            return None
        seen = None if windows is None else tuple((float(lo), float(hi)) for lo, hi in windows)
        if image_id in self._segments and self._seen_through.get(image_id) != seen:
            self.forget(image_id)  # shown through another window since
        work = self._tiling.get(image_id)
        if work is not None and near is not None:
            work.focus = near
        found = self._segments.get(image_id)
        if found is not None:
            return found if found.boxes or found.complete else None
        h, w = int(image.shape[0]), int(image.shape[1])
        tiles = superpixel_tiles(h, w)
        work = _TileWork(image, self.settings, tiles, near or (w / 2, h / 2), seen)
        self._tiling[image_id] = work
        self._segments[image_id] = Superpixels.blank(h, w, len(tiles))
        self._seen_through[image_id] = seen
        self.progress("Computing superpixels…")
        self._next_tile(image_id, work)
        return None

    def _next_tile(self, image_id: int, work: _TileWork) -> None:
        self._queue.submit(
            ("superpixels", image_id),
            _Job(
                image_id,
                "superpixels",
                work.compute_next,
                lambda result: self._store_tile(image_id, work, result),
            ),
        )

    def submit(
        self,
        image_id: int,
        kind: str,
        run: Callable[[], Any],
        done: Callable[[Any], None],
        *,
        replace: bool = True,
    ) -> Landing:
        """Run ``run()`` off the GUI thread; ``done(result)`` on it if the image is still
        open and the returned :class:`Landing` was not cancelled meanwhile; ``done``
        lands the result through :meth:`Landing.guard` (or settles it).

        With ``replace`` a job of the same kind still waiting is dropped for this one (a
        newer GrabCut box); without, jobs of the kind run one after the other, in order
        (each clean-up is a command of its own)."""
        if replace:
            for older in [x for x in self._landings if x.kind == kind and not x.started]:
                older.cancelled = True  # replaced in the queue: it never runs
                older.settle()
        landing = Landing(kind, image_id, self._settled)
        self._landings.append(landing)
        key = (kind, 0) if replace else (kind, next(self._serial))
        self._queue.submit(key, _Job(image_id, kind, run, done, landing))
        return landing

    def _settled(self, landing: Landing) -> None:
        if landing in self._landings:
            self._landings.remove(landing)

    def cancel_landings(self, image_id: int) -> list[str]:
        """Cancel the results for ``image_id`` not landed yet (an undo or redo was
        pressed: their landing would clear the redo); the kinds cancelled, in order."""
        cancelled = [x for x in self._landings if x.image_id == image_id]
        for landing in cancelled:
            landing.cancelled = True
            landing.settle()
        return list(dict.fromkeys(x.kind for x in cancelled))

    def forget(self, image_id: int | None = None) -> None:
        """Drop cached superpixels (of one image: its contrast window changed; or all:
        the settings or the channels shown changed); the next press computes them
        again. Tiles of the dropped work still running land nowhere."""
        if image_id is None:
            self._segments.clear()
            self._tiling.clear()
            self._seen_through.clear()
        else:
            self._segments.pop(image_id, None)
            self._tiling.pop(image_id, None)
            self._seen_through.pop(image_id, None)

    def keep_only(self, image_id: int) -> None:
        """Drop the superpixels of every image but ``image_id`` (the one opened): a
        4096 x 4096 image's index alone is 64 MB, and a tile of another still being
        computed lands unused."""
        for other in [i for i in self._segments if i != image_id]:
            self.forget(other)

    def wait_idle(self, timeout: float = 30.0) -> bool:
        return self._queue.wait_idle(timeout)

    def shutdown(self) -> None:
        self._closed = True  # a tile landing after this starts no other
        self._queue.close(drop_pending=True, timeout=5.0)

    def _run(self, _key: tuple[str, int], job: _Job, _token: CancelToken) -> None:
        if job.landing is not None:
            job.landing.started = True
        try:
            result = job.run()
        except Exception as exc:  # reaches the user as a message, never a traceback
            self._dispatch(functools.partial(self._failed, job, exc))
        else:
            self._dispatch(functools.partial(self._finished, job, result))

    def _store_tile(self, image_id: int, work: _TileWork, result: tuple[Tile, np.ndarray]) -> None:
        segments = self._segments.get(image_id)
        if self._closed or self._tiling.get(image_id) is not work or segments is None:
            return  # closed, or forgotten meanwhile (the settings changed): a stale tile
        segments.add_tile(*result)
        if work.remaining:
            n = len(work.tiles)
            self.progress(f"Computing superpixels… {n - len(work.remaining)} of {n} tiles ready")
            self._next_tile(image_id, work)
        else:
            del self._tiling[image_id]
            self.progress(f"Superpixels ready ({len(segments.boxes)} segments)")

    def _finished(self, job: _Job, result: Any) -> None:
        if job.landing is not None and job.landing.cancelled:
            return  # (said when it was cancelled)
        if job.kind == "superpixels" or job.image_id == self._current():
            job.done(result)
        else:
            if job.landing is not None:
                job.landing.settle()
            self.notify(dropped_text(job.kind))

    def _failed(self, job: _Job, exc: BaseException) -> None:
        if job.landing is not None:
            if job.landing.cancelled:
                return
            job.landing.settle()
        if job.kind == "superpixels":  # the next press starts over
            self.forget(job.image_id)
        self.notify(f"{job.kind} failed: {exc}")


def cancelled_text(kinds: Sequence[str], by: str) -> str:
    """What the status bar says when an undo (``by`` "Undo") or a redo ("Redo") cancelled
    results still being computed (:meth:`SmartSupport.cancel_landings`), instead of
    undoing or redoing a step: they would have landed after it and cleared the redo."""
    what = " and the ".join(k if k == "GrabCut" else k.lower() for k in kinds)
    if by == "Undo":
        return (
            f"Undo cancelled the {what} still being computed; nothing else was undone "
            "(Ctrl+Z again undoes the step before)"
        )
    return (
        f"Redo cancelled the {what} still being computed, which would have cleared the "
        "steps to redo; nothing was redone (Ctrl+Y again redoes)"
    )


def dropped_text(kind: str) -> str:
    """What the status bar says of a GrabCut or clean-up whose image was left (or
    opened again) before it finished: its result is not landed on labels it never saw."""
    return f"{kind} dropped: its image was left before it finished; do it again there"


# --- tools ------------------------------------------------------------------------------------
class _DragTool(Tool):
    """A brush-like tool: press begins a gesture, each move paints one segment, release
    commits it as one undo step, Esc aborts it. Subclasses prepare in ``press`` (then
    call :meth:`_begin`), paint in ``_paint`` and drop their state in ``_reset``."""

    def __init__(self) -> None:
        self._last: Point | None = None
        self._reach = Reach()  # how far the gesture went (to say why it changed nothing)

    def _begin(self, ctx: ToolContext, p: Point) -> None:
        doc = ctx.document
        assert doc is not None
        doc.begin_stroke()
        self._last = p
        self._reach = Reach()
        self._reach.add([p], ctx.brush_radius)
        self._paint(ctx, [p])

    def _paint(self, ctx: ToolContext, points: list[Point]) -> None:
        raise NotImplementedError

    def _reset(self) -> None:
        """Forget the gesture's inputs (the proposal, the superpixels)."""

    def move(self, ctx: ToolContext, p: Point) -> None:
        if self._last is None:
            return
        self._reach.add([p], ctx.brush_radius)
        self._paint(ctx, [self._last, p])
        self._last = p

    def release(self, ctx: ToolContext, p: Point) -> None:
        self.finish(ctx)

    def finish(self, ctx: ToolContext) -> None:
        doc = ctx.document
        if self._last is not None and doc is not None and not doc.commit_stroke():
            self._changed_nothing(ctx)  # (and no undo step)
        self._last = None
        self._reset()

    def _changed_nothing(self, ctx: ToolContext) -> None:
        """The gesture ended without changing a pixel (say so where it is not obvious)."""

    def cancel(self, ctx: ToolContext) -> None:
        if self._last is not None and ctx.document is not None:
            ctx.document.abort_stroke()
        self._last = None
        self._reset()

    @property
    def busy(self) -> bool:
        return self._last is not None


class ProposalBrushTool(_DragTool):
    """Drag to copy the proposal's classes where the brush passes (one undo step)."""

    name, label, shortcut, shows_brush = "proposal_brush", "Proposal brush", "W", True
    writes_proposal = True

    def __init__(self) -> None:
        super().__init__()
        self._proposal: Proposal | None = None

    def press(self, ctx: ToolContext, p: Point, erase: bool = False) -> None:
        doc, smart = ctx.document, _smart(ctx)
        if doc is None or smart is None:
            return
        self._proposal = smart.proposal(doc.image_id)
        if self._proposal is not None:
            self._begin(ctx, p)

    def _paint(self, ctx: ToolContext, points: list[Point]) -> None:
        doc = ctx.document
        if doc is None or self._proposal is None:
            return
        doc.paint_proposal(points, ctx.brush_radius, self._proposal, only_over=ctx.protected_value)

    def _changed_nothing(self, ctx: ToolContext) -> None:
        smart = _smart(ctx)
        if smart is not None and self._proposal is not None:
            smart.notify(
                "The proposal brush changed nothing: where it passed the labels already "
                "match the proposal"
                + ("" if ctx.protected_value is None else ", or protected painting kept them")
            )

    def _reset(self) -> None:
        self._proposal = None


class AcceptRegionTool(Tool):
    """Click a region of the proposal to accept just that region (one undo step)."""

    name, label, shortcut = "accept_region", "Accept region", "Q"
    writes_proposal = True

    def press(self, ctx: ToolContext, p: Point, erase: bool = False) -> None:
        doc, smart = ctx.document, _smart(ctx)
        if doc is None or smart is None:
            return
        proposal = smart.proposal(doc.image_id)
        if proposal is None:
            return
        if doc.accept_region(proposal, p[0], p[1], only_over=ctx.protected_value) is None:
            smart.notify(nothing_in_region_text(doc.label_map, proposal, p))


def nothing_in_region_text(labels: LabelMap, proposal: Proposal, p: Point) -> str:
    """Why accepting the proposal's region under ``p`` changed no pixel, in one line."""
    found = region_at(proposal.mask, p[0], p[1], labels.unlabelled)
    if found is None:
        h, w = labels.shape
        if not (0 <= round(p[0]) < w and 0 <= round(p[1]) < h):
            return "Nothing to accept there: click inside the image, on a region of the proposal"
        return "Nothing to accept there: the proposal has no region under the click"
    region, box = found
    seed = proposal.mask[int(round(p[1])), int(round(p[0]))]
    if (labels.array[box.slices][region] == seed).all():
        return "Nothing to accept there: this region is already labelled as the proposal says"
    return (
        "Nothing to accept there: protected painting keeps the labels of this region "
        "(X switches it off)"
    )


class SuperpixelTool(_DragTool):
    """Drag to paint every superpixel the brush touches (one undo step)."""

    name, label, shortcut, shows_brush = "superpixel", "Superpixel brush", "S", True
    paints_current = True

    def __init__(self) -> None:
        super().__init__()
        self._segments: Superpixels | None = None
        self._value = 0

    def press(self, ctx: ToolContext, p: Point, erase: bool = False) -> None:
        doc, smart = ctx.document, _smart(ctx)
        if doc is None or smart is None:
            return
        # Seen through the window the image is shown with: the edges the user sees.
        self._segments = smart.superpixels(doc.image_id, doc.shown_image, p, doc.windows)
        if self._segments is None:  # being computed: this stroke cannot paint them
            smart.notify(
                "This stroke painted nothing: the superpixels are being computed; paint "
                "again once they are ready"
            )
            return
        if not self._segments.ready_at(*p):
            smart.notify("Superpixels here are still being computed: the stroke paints those ready")
        self._value = doc.label_map.unlabelled if erase else ctx.current_value
        self._begin(ctx, p)

    def _paint(self, ctx: ToolContext, points: list[Point]) -> None:
        doc, smart = ctx.document, _smart(ctx)
        if doc is None or self._segments is None:
            return
        if smart is not None and not self._segments.complete and points:
            # Follow the brush. (A window changed meanwhile starts the index of the new
            # one; this stroke keeps painting the segments of the old.)
            smart.superpixels(doc.image_id, doc.shown_image, points[-1], doc.windows)
        doc.paint_segments(
            self._segments,
            points,
            ctx.brush_radius,
            self._value,
            only_over=protection(ctx, self._value),
        )

    def _changed_nothing(self, ctx: ToolContext) -> None:
        doc = ctx.document
        if doc is None or self._segments is None:
            return
        outside = self._reach.outside(doc.label_map.shape)
        said = unchanged_text(ctx, self._value, protection(ctx, self._value), outside=outside)
        if not outside and not self._segments.complete:
            said += ", or their superpixels were not computed yet"
        ctx.say(said)

    def _reset(self) -> None:
        self._segments = None


def _box_points(a: Point, b: Point) -> list[Point]:
    (x0, y0), (x1, y1) = a, b
    return [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]


class GrabCutTool(Tool):
    """Drag a box around an object: GrabCut finds it and it gets the current class.

    Pixels already labelled with the current class inside the box are kept as sure
    object, those of other classes as sure background. Runs off the GUI thread.
    """

    name, label, shortcut = "grabcut", "GrabCut box", "G"
    paints_current = True

    def __init__(self) -> None:
        self._start: Point | None = None

    def press(self, ctx: ToolContext, p: Point, erase: bool = False) -> None:
        if ctx.document is not None:
            self._start = p
            ctx.set_preview(_box_points(p, p), closed=True)

    def move(self, ctx: ToolContext, p: Point) -> None:
        if self._start is not None:
            ctx.set_preview(_box_points(self._start, p), closed=True)

    def release(self, ctx: ToolContext, p: Point) -> None:
        start, self._start = self._start, None
        ctx.set_preview(None)
        doc, smart = ctx.document, _smart(ctx)
        if start is None or doc is None or smart is None:
            return
        region = box_region(doc.label_map.shape, start, p)
        if region is None:
            return
        value = ctx.current_value
        only_over = protection(ctx, value)
        image, labels = doc.shown_image, doc.label_map.array.copy()  # (the channels shown)
        windows = doc.windows  # it sees the picture as shown (None: automatic)
        unlabelled = doc.label_map.unlabelled
        smart.notify("GrabCut…")

        def run() -> np.ndarray:
            return grabcut(
                image,
                region,
                labels=labels,
                value=value,
                unlabelled=unlabelled,
                open_label=only_over,  # "only over k": k's pixels are GrabCut's to decide
                windows=windows,
            )

        def land(found: np.ndarray) -> None:
            # Pixels painted while GrabCut ran are newer than what it saw: they stay.
            found = found & (doc.label_map.array == labels)
            changed = doc.assign(value, where=found, only_over=only_over) is not None
            smart.notify("GrabCut done" if changed else "GrabCut found nothing to change")

        def done(found: np.ndarray) -> None:
            if ctx.document is doc:  # a stroke painted meanwhile stays a step of its own
                doc.when_idle(landing.guard(lambda: land(found)))
            else:  # (the image left and opened again: a document of its own)
                landing.settle()
                smart.notify(dropped_text("GrabCut"))

        landing = smart.submit(doc.image_id, "GrabCut", run, done)

    def cancel(self, ctx: ToolContext) -> None:
        self._start = None
        ctx.set_preview(None)

    def finish(self, ctx: ToolContext) -> None:
        self.cancel(ctx)

    @property
    def busy(self) -> bool:
        return self._start is not None


def box_region(shape: tuple[int, int], a: Point, b: Point) -> np.ndarray | None:
    """The full-size mask of the box between two pixel-centre points (None if < 2x2 px)."""
    h, w = shape
    x0, x1 = sorted((int(round(a[0])), int(round(b[0]))))
    y0, y1 = sorted((int(round(a[1])), int(round(b[1]))))
    x0, y0 = max(x0, 0), max(y0, 0)
    x1, y1 = min(x1, w - 1), min(y1, h - 1)
    if x1 - x0 < 1 or y1 - y0 < 1:
        return None
    region = np.zeros(shape, dtype=bool)
    region[y0 : y1 + 1, x0 : x1 + 1] = True
    return region


#: A clean-up of an area larger than this (pixels of the outline's box, or of the whole
#: image) runs off the GUI thread: filling holes and removing specks took 0.6 s on a
#: 4096 x 4096 map and 17 s on 16384 x 16384 (one core). Smaller ones land at once.
BACKGROUND_CLEANUP_PIXELS = 1 << 22


def clean_up(
    ctx: ToolContext,
    within: np.ndarray | None = None,
    pixels: int = 0,
    say: Callable[[str], None] | None = None,
) -> None:
    """Fill the current class's holes and remove its specks (of at most the context's
    ``cleanup_area`` pixels) inside ``within`` (default: the whole image), one undo step.

    ``pixels`` is the size of ``within``'s box. Past :data:`BACKGROUND_CLEANUP_PIXELS`
    the work runs on the smart tools' worker, on a copy of the labels, and lands like a
    GrabCut result: pixels painted meanwhile keep their newer label. ``say``: where its
    lines go (default: the smart tools' ``notify``).
    """
    doc, smart = ctx.document, _smart(ctx)
    if doc is None:
        return
    tell = say if say is not None else (smart.notify if smart is not None else None)
    value = ctx.current_value
    only_over = protection(ctx, value)
    max_area = int(getattr(ctx, "cleanup_area", 64))
    lm = doc.label_map
    if within is None:
        pixels = lm.height * lm.width

    def said(changed: bool, found: bool = False) -> None:
        if tell is None:
            return
        if changed:
            tell("Cleaned up")
        elif found:  # every pixel it would change was painted while it ran
            tell("Nothing cleaned up: the pixels it would change were edited meanwhile")
        else:
            tell("No holes or specks of that size here")

    if smart is None or pixels <= BACKGROUND_CLEANUP_PIXELS:
        said(doc.clean_up(value, max_area, within, only_over=only_over))
        return
    work = LabelMap(lm.array.copy(), lm.unlabelled, lm.void)
    notify = tell or smart.notify
    notify("Cleaning up…")

    def run() -> list[Patch]:
        return [edit(work) for edit in clean_up_edits(value, max_area, within, only_over)]

    def done(patches: list[Patch]) -> None:
        if ctx.document is doc:  # a stroke painted meanwhile stays a step of its own
            found = any(not p.empty for p in patches)
            doc.when_idle(landing.guard(lambda: said(doc.land(patches), found)))
        else:
            landing.settle()
            notify(dropped_text("Clean-up"))

    landing = smart.submit(doc.image_id, "Clean-up", run, done, replace=False)


class CleanUpTool(LassoTool):
    """Drag an outline: fill the current class's holes and remove its specks inside."""

    name, label, shortcut = "cleanup", "Clean up", "K"

    def finish(self, ctx: ToolContext) -> None:
        points, self.points, self._active = self.points, [], False
        ctx.set_preview(None)
        doc = ctx.document
        if doc is None or len(points) < 3:
            return
        mask, box = doc.label_map.polygon_mask(points, ())
        if mask is None:
            return
        within = np.zeros(doc.label_map.shape, dtype=bool)
        within[box.slices] = mask
        clean_up(ctx, within, box.height * box.width)


def smart_tools() -> list[Tool]:
    """One instance of each smart tool, in menu order."""
    return [ProposalBrushTool(), AcceptRegionTool(), SuperpixelTool(), GrabCutTool(), CleanUpTool()]


# --- protected painting -----------------------------------------------------------------------
class ProtectionCombo(QComboBox):
    """Protected painting: paint over anything, only over unlabelled pixels, or only over
    one class. ``toggle`` (key X) switches between "anything" and the last protected
    choice."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setToolTip(
            "Protected painting: which pixels brush, fill, polygon, lasso and the smart "
            "tools may change (X toggles)"
        )
        self._unlabelled = 255
        # What X brings back: the last protection chosen, by its value (a row would be
        # another class once the classes move). None: "only unlabelled", the first.
        self._last_protected: int | None = None
        self.currentIndexChanged.connect(self._chosen)
        # Wide enough for "Only over “background”" (the box sized itself to its first
        # entries and cut class names); longer names show whole in the open list.
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setMinimumContentsLength(24)
        self.view().setTextElideMode(Qt.TextElideMode.ElideNone)
        self.set_classes((), 255)

    def set_classes(self, names: Sequence[str], unlabelled: int) -> None:
        """Offer "only over <class>" for these classes (ids 0..n-1); keeps the choice."""
        keep = self.currentData()
        if keep is not None and keep == self._unlabelled:
            keep = unlabelled  # "unlabelled" stays itself: 255 is a class in a 16-bit map
        elif keep is not None and keep >= len(names):
            keep = None  # a class the new list lacks (not the 8-bit unlabelled of the same id)
        self._unlabelled = unlabelled
        self.blockSignals(True)
        self.clear()
        self.addItem("Paint over anything", None)
        self.addItem("Only unlabelled pixels", unlabelled)
        for i, name in enumerate(names):
            self.addItem(f"Only over “{name}”", i)
        index = self.findData(keep) if keep is not None else 0
        self.setCurrentIndex(max(index, 0))
        self.blockSignals(False)

    def _chosen(self) -> None:
        """A protection chosen (in the box, by X or a class change) is what X brings back
        (it was only X's own last switch-off: a choice made in the box was forgotten)."""
        if (value := self.value()) is not None:
            self._last_protected = value

    def value(self) -> int | None:
        data = self.currentData()
        return None if data is None else int(data)

    def describe(self) -> str:
        """For the status bar: empty when painting is not protected."""
        return "" if self.value() is None else self.currentText()

    def toggle(self) -> None:
        if self.currentIndex() == 0:
            index = self.findData(self._last_protected) if self._last_protected is not None else -1
            self.setCurrentIndex(index if index > 0 else min(1, self.count() - 1))
        else:
            self._last_protected = self.value()
            self.setCurrentIndex(0)

    def remap(self, before: int | None, table: Callable[[int], int]) -> None:
        """The classes' ids changed (``table``: old value -> new; ``before``: the value
        chosen before, in old ids): keep protecting the same pixels, and X bringing back
        the same choice."""
        if self._last_protected is not None:
            self._last_protected = table(self._last_protected)
        if before is not None:
            self.setCurrentIndex(max(self.findData(table(before)), 0))
