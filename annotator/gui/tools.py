"""Tools turn pointer events into edits of the document. No widgets here.

A tool gets positions in pixel-centre coordinates (see :mod:`annotator.core.labelmap`)
and a :class:`ToolContext` (the canvas) that knows the document, the current class, the
brush radius and the options. Every edit is one call on the :class:`Document`
(``paint_stroke``, ``fill``, ``polygon``, ``lasso``), which changes the pixels, records
them for undo and tells the view which box to repaint; a gesture (press to release) is
``begin_stroke`` ... ``commit_stroke``, one undo step and one commit event.

=========  ========  ========================================================
tool       key       gesture
=========  ========  ========================================================
Brush      B         drag paints the current class
Eraser     E         drag sets pixels back to unlabelled
Fill       F         click fills the connected region of equal label
Polygon    P         click vertices; double-click, Enter or click the first
                     vertex closes; Backspace drops the last vertex
Lasso      L         drag a freehand outline; release fills it
=========  ========  ========================================================

The right button erases with every one of them (brush, fill, polygon and lasso set their
pixels to unlabelled): a polygon erases when its first vertex was a right click. Esc
aborts a stroke in progress (its pixels are restored) or cancels an outline.

A gesture that changes no pixel records no undo step, and the status bar says why
(:func:`unchanged_text`), from what the gesture knows: the "Paint over" choice, the
class it wrote, how far it reached (never a scan of the labels).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from annotator.core.labelmap import LabelMap, Point, Tolerance
from annotator.services.document import Document


class ToolContext(Protocol):
    """What a tool needs from the canvas."""

    @property
    def document(self) -> Document | None: ...

    @property
    def current_value(self) -> int: ...

    @property
    def brush_radius(self) -> float: ...

    @property
    def protected_value(self) -> int | None:
        """Protected painting: the one label edits may overwrite (None: any)."""
        ...

    @property
    def protection_text(self) -> str:
        """The "Paint over" choice in words ("Only unlabelled pixels", "Only over
        “cell”"; "" when painting is not protected)."""
        ...

    @property
    def fill_tolerance(self) -> Tolerance | None: ...

    @property
    def zoom(self) -> float: ...

    @property
    def pixel_aspect(self) -> tuple[float, float]:
        """How much the picture is stretched on screen across and down ((1, 1): not)."""
        ...

    @property
    def pointer_exact(self) -> Point | None:
        """Where the pointer last was, within its pixel (the tools get the pixel's
        centre): for what is measured on screen, as the close ring of a polygon."""
        ...

    def set_preview(
        self,
        points: list[Point] | None,
        closed: bool = False,
        vertices: Sequence[Point] = (),
        closing: bool = False,
    ) -> None:
        """Draw the outline through ``points``; ``vertices`` get a marker each, the first
        one a ring: the close target of a polygon, lit when ``closing`` (the pointer is
        on it: a click there closes the polygon)."""
        ...

    def say(self, text: str) -> None:
        """Show a short message (the status bar)."""
        ...


def protection(ctx: ToolContext, value: int) -> int | None:
    """The label an edit writing ``value`` may overwrite (None: any).

    Erasing under "only unlabelled" would change nothing, so erasing ignores that mode
    (it still honours "only over class k").
    """
    keep = ctx.protected_value
    doc = ctx.document
    if doc is not None and value == keep == doc.label_map.unlabelled:
        return None
    return keep


def unchanged_text(
    ctx: ToolContext,
    value: int,
    only_over: int | None,
    *,
    outside: bool = False,
    click: bool = False,
) -> str:
    """Why a gesture that wrote ``value`` (only over pixels labelled ``only_over``, when
    that is not None) changed no pixel, in one line for the status bar. ``outside``: it
    reached no pixel of the image; ``click``: a fill's click (its region).

    Inside the image, a gesture that protection did not restrict changed nothing because
    every pixel it covered had ``value`` already; one restricted to another label,
    because none of them had that label."""
    doc = ctx.document
    if outside:
        return f"Nothing changed: the {'click' if click else 'gesture'} was outside the image"
    if only_over is not None:
        choice = ctx.protection_text or (
            "Only unlabelled pixels"
            if doc is not None and only_over == doc.label_map.unlabelled
            else "Only over one class"
        )
        said = f"{choice[:1].lower()}{choice[1:]}"
        if only_over == value:  # only pixels of the class painted may change: none does
            said += ", the class painted"
        return f"Nothing changed: Paint over is set to {said} (X switches it off)"
    these = "the region clicked" if click else "these pixels"
    if doc is not None and value == doc.label_map.unlabelled:
        return f"Nothing changed: {these} {'is' if click else 'are'} unlabelled already"
    return f"Nothing changed: {these} already {'has' if click else 'have'} that class"


def along(text: str, dropped: str) -> str:
    """``text`` (what a key did) with ``dropped`` (the line of what ending a gesture
    first dropped: a polygon not closed) after it, in one line, so neither replaces the
    other unread."""
    if not dropped:
        return text
    return f"{text}; {dropped[:1].lower()}{dropped[1:]}"


class Reach:
    """How far a gesture reached: the box of its points widened by the brush's radius,
    kept as it goes (a few comparisons per mouse move; no pixels read)."""

    def __init__(self) -> None:
        self.x0 = self.y0 = float("inf")
        self.x1 = self.y1 = float("-inf")

    def add(self, points: Sequence[Point], radius: float = 0.0) -> None:
        for x, y in points:
            self.x0, self.x1 = min(self.x0, x - radius), max(self.x1, x + radius)
            self.y0, self.y1 = min(self.y0, y - radius), max(self.y1, y + radius)

    def outside(self, shape: tuple[int, int]) -> bool:
        """Whether it stayed off the image of ``shape`` (pixel ``i`` spans i-0.5..i+0.5)."""
        h, w = shape
        return self.x1 < -0.5 or self.y1 < -0.5 or self.x0 > w - 0.5 or self.y0 > h - 0.5


class Tool:
    """Base tool: ignores everything."""

    name = "tool"
    label = "Tool"
    shortcut = ""
    shows_brush = False
    #: Writes the current class (with the left button): painting with a class the user
    #: hid shows it again (the window listens).
    paints_current = False
    #: Writes the model's proposal (where protection lets it), so the proposal layer
    #: shows over every pixel the tool may change, not only where accept writes.
    writes_proposal = False

    def press(self, ctx: ToolContext, p: Point, erase: bool = False) -> None:
        pass

    def move(self, ctx: ToolContext, p: Point) -> None:
        pass

    def hover(self, ctx: ToolContext, p: Point) -> None:
        pass

    def release(self, ctx: ToolContext, p: Point) -> None:
        pass

    def double_click(self, ctx: ToolContext, p: Point) -> None:
        pass

    def key(self, ctx: ToolContext, key: str) -> bool:
        """Handle ``"escape"``, ``"enter"`` or ``"backspace"``; True if used."""
        if key == "escape":
            self.cancel(ctx)
            return True
        return False

    def cancel(self, ctx: ToolContext) -> None:
        """Abort what is in progress."""

    def finish(self, ctx: ToolContext) -> None:
        """Keep what is in progress (e.g. before saving on quit)."""

    def undo_in_gesture(self, ctx: ToolContext) -> bool:
        """Undo pressed during a gesture: take back its own last part, True if there was
        one (then nothing else is undone). A drag is aborted, as Esc does."""
        if not self.busy:
            return False
        self.cancel(ctx)
        return True

    @property
    def busy(self) -> bool:
        """A gesture is in progress (begun and not yet finished or cancelled): switching
        images now would commit it half-done or drop it."""
        return False


class BrushTool(Tool):
    name, label, shortcut, shows_brush = "brush", "Brush", "B", True
    paints_current = True

    def __init__(self) -> None:
        self._last: Point | None = None
        self._value = 0
        self._reach = Reach()

    def _value_for(self, ctx: ToolContext, erase: bool) -> int:
        doc = ctx.document
        assert doc is not None
        return doc.label_map.unlabelled if erase else ctx.current_value

    def press(self, ctx: ToolContext, p: Point, erase: bool = False) -> None:
        doc = ctx.document
        if doc is None:
            return
        self._value = self._value_for(ctx, erase)
        doc.begin_stroke()
        self._last = p
        self._reach = Reach()
        self._paint(ctx, [p])

    def move(self, ctx: ToolContext, p: Point) -> None:
        if self._last is None or ctx.document is None:
            return
        self._paint(ctx, [self._last, p])
        self._last = p

    def _paint(self, ctx: ToolContext, points: list[Point]) -> None:
        doc = ctx.document
        assert doc is not None
        self._reach.add(points, ctx.brush_radius)
        doc.paint_stroke(
            points, ctx.brush_radius, self._value, only_over=protection(ctx, self._value)
        )

    def release(self, ctx: ToolContext, p: Point) -> None:
        doc, held = ctx.document, self._last is not None
        if not self.finish(ctx) and held and doc is not None:  # no undo step: say why
            outside = self._reach.outside(doc.label_map.shape)
            ctx.say(unchanged_text(ctx, self._value, protection(ctx, self._value), outside=outside))

    def finish(self, ctx: ToolContext) -> bool:  # type: ignore[override]
        """End the stroke as one undo step; whether it changed any pixel."""
        changed = False
        if self._last is not None and ctx.document is not None:
            changed = ctx.document.commit_stroke()
        self._last = None
        return changed

    def cancel(self, ctx: ToolContext) -> None:
        if self._last is not None and ctx.document is not None:
            ctx.document.abort_stroke()
        self._last = None

    @property
    def busy(self) -> bool:
        return self._last is not None


class EraserTool(BrushTool):
    name, label, shortcut = "eraser", "Eraser", "E"
    paints_current = False

    def _value_for(self, ctx: ToolContext, erase: bool) -> int:
        doc = ctx.document
        assert doc is not None
        return doc.label_map.unlabelled


class FillTool(Tool):
    name, label, shortcut = "fill", "Fill", "F"
    paints_current = True

    def press(self, ctx: ToolContext, p: Point, erase: bool = False) -> None:
        doc = ctx.document
        if doc is None:
            return
        value = doc.label_map.unlabelled if erase else ctx.current_value
        tolerance = ctx.fill_tolerance
        only_over = protection(ctx, value)
        box = doc.fill(
            p[0], p[1], value, tolerance=tolerance, only_over=only_over, sample=FILL_SAMPLE
        )
        if box is None and tolerance is not None and _no_value(doc.image, p):
            ctx.say(
                "Fill to edges filled nothing: the pixel clicked has no value (NaN or "
                "infinite); click another pixel."
            )
        elif box is None:  # the label clicked (one pixel read) says why
            r, c = round(p[1]), round(p[0])
            h, w = doc.label_map.shape
            outside = not (0 <= r < h and 0 <= c < w)
            if not outside and int(doc.label_map.array[r, c]) == value:
                only_over = None  # the region has the class already, protected or not
            ctx.say(unchanged_text(ctx, value, only_over, outside=outside, click=True))
        elif tolerance is not None and box.height * box.width <= FEW_PIXELS:
            ctx.say(few_filled_text(doc.value_range, tolerance))


#: Fill to edges measures the tolerance from the mean of this many pixels square around
#: the click (a magic wand's "5 x 5 average"): on a noisy picture one clicked pixel's
#: noise decided between a speck and a flood through the edges. A synthetic noisy disc
#: (noise sigma 15, tolerance 20): 5 x 5 filled 81 % of it at every click (spread 1 %),
#: the clicked pixel alone 53 % on average (spread 34 %, from nothing to all of it).
FILL_SAMPLE = 5

#: A fill bounded by the image that changes no more pixels than this is said (its
#: tolerance is likely too small for the image: a click seemed to do nothing).
FEW_PIXELS = 4


def _no_value(image: np.ndarray, p: Point) -> bool:
    """Whether the pixel at ``p`` is in ``image`` and not finite (a fill to edges never
    starts from it: ``LabelMap.flood_fill``)."""
    r, c = round(p[1]), round(p[0])
    inside = 0 <= r < image.shape[0] and 0 <= c < image.shape[1]
    return inside and not bool(np.isfinite(image[r, c]).all())


def few_filled_text(value_range: tuple[float, float], tolerance: Tolerance) -> str:
    """Why an image-bounded fill changed only a few pixels, with what to do.
    ``value_range``: the image's, NaN and infinities left out."""
    low, high = value_range
    if isinstance(tolerance, tuple):  # one per channel
        said = ", ".join(f"{t:.3g}" for t in tolerance) + " by channel"
    else:
        said = f"{tolerance:g}"

    return (
        f"Fill to edges changed only a few pixels: the pixels around the one clicked "
        f"differ from the mean around the click by more than the tolerance ({said}), or "
        f"hold another label. This image's values span {low:g} to {high:g}; raise the tolerance "
        "beside Fill to edges."
    )


class PolygonTool(Tool):
    name, label, shortcut = "polygon", "Polygon", "P"
    paints_current = True
    close_distance_px = 8.0  # on screen: a click this close to the first vertex closes

    def __init__(self) -> None:
        self.points: list[Point] = []
        self._erase = False  # the first vertex was a right click: the polygon erases

    def press(self, ctx: ToolContext, p: Point, erase: bool = False) -> None:
        if ctx.document is None:
            return
        if self.closes_at(ctx, p):
            self.close(ctx)
            return
        if not self.points:
            self._erase = erase
            if erase:
                ctx.say("Erasing polygon: closing it sets the pixels inside to unlabelled")
        self.points.append(p)
        self._show(ctx, p)

    def closes_at(self, ctx: ToolContext, p: Point) -> bool:
        """Whether a click at ``p`` closes the polygon: it has 3 vertices or more and
        ``p`` is within :attr:`close_distance_px` screen pixels of the first."""
        if len(self.points) < 3:
            return False
        exact = getattr(ctx, "pointer_exact", None)  # (the ring is drawn on screen)
        if exact is not None and abs(exact[0] - p[0]) <= 0.5 and abs(exact[1] - p[1]) <= 0.5:
            p = exact
        fx, fy = self.points[0]
        ax, ay = ctx.pixel_aspect  # (a stretched slice: on screen, as it is shown)
        dist = (((p[0] - fx) * ax) ** 2 + ((p[1] - fy) * ay) ** 2) ** 0.5 * max(ctx.zoom, 1e-6)
        return dist <= self.close_distance_px

    def _show(self, ctx: ToolContext, hover: Point | None = None) -> None:
        """The outline so far (to the pointer), each vertex marked, the first as the
        close target, lit while the pointer is on it (a click there closes)."""
        if not self.points:
            ctx.set_preview(None)
            return
        tail = [] if hover is None else [hover]
        closing = hover is not None and self.closes_at(ctx, hover)
        ctx.set_preview(self.points + tail, vertices=self.points, closing=closing)

    def hover(self, ctx: ToolContext, p: Point) -> None:
        if self.points:
            self._show(ctx, p)

    def double_click(self, ctx: ToolContext, p: Point) -> None:
        # The double click's first press already added the vertex.
        self.close(ctx)

    def key(self, ctx: ToolContext, key: str) -> bool:
        if key == "enter" and self.points:
            self.close(ctx)
            return True
        if key == "backspace" and self.points:
            self.points.pop()
            self._show(ctx)
            return True
        return super().key(ctx, key)

    def close(self, ctx: ToolContext) -> None:
        """Fill the outline drawn so far (3 or more vertices) as one undo step: with the
        current class, or with unlabelled when it was begun with the right button."""
        doc = ctx.document
        if doc is not None and 0 < len(self.points) < 3:  # (kept open: not lost unsaid)
            n = len(self.points)
            ctx.say(
                f"A polygon needs 3 vertices, this one has {n}: click to add "
                f"{'one more' if n == 2 else 'two more'} (Esc drops it)"
            )
            self._show(ctx)
            return
        points, self.points = self.points, []
        ctx.set_preview(None)
        if doc is None or len(points) < 3:
            return
        value = doc.label_map.unlabelled if self._erase else ctx.current_value
        if doc.polygon(points, value, only_over=protection(ctx, value)) is None:
            _said_unchanged(ctx, points, value)

    def cancel(self, ctx: ToolContext) -> None:
        self.points = []
        ctx.set_preview(None)

    def finish(self, ctx: ToolContext) -> None:
        """An unfinished outline is not an edit yet: dropped (another tool, another
        image), and said, so the vertices do not vanish without a word."""
        if self.points:
            n = len(self.points)
            ctx.say(
                f"The polygon not closed ({n} {'vertex' if n == 1 else 'vertices'}) was dropped: "
                "close a polygon with Enter, a double-click or a click on its first vertex"
            )
        self.cancel(ctx)

    def undo_in_gesture(self, ctx: ToolContext) -> bool:
        """An outline in progress loses its last vertex (as Backspace), nothing else."""
        return self.key(ctx, "backspace")

    @property
    def busy(self) -> bool:
        """Vertices are clicked (the button is up between them)."""
        return bool(self.points)


class LassoTool(Tool):
    name, label, shortcut = "lasso", "Lasso", "L"
    paints_current = True

    def __init__(self) -> None:
        self.points: list[Point] = []
        self._active = False
        self._erase = False  # dragged with the right button: the outline erases

    def press(self, ctx: ToolContext, p: Point, erase: bool = False) -> None:
        if ctx.document is None:
            return
        self.points = [p]
        self._active = True
        self._erase = erase
        ctx.set_preview(self.points, closed=True)

    def move(self, ctx: ToolContext, p: Point) -> None:
        if self._active:
            last = self.points[-1]
            if (p[0] - last[0]) ** 2 + (p[1] - last[1]) ** 2 >= 0.25:
                self.points.append(p)
                ctx.set_preview(self.points, closed=True)

    def release(self, ctx: ToolContext, p: Point) -> None:
        if not self._active:
            return
        self.move(ctx, p)
        self.finish(ctx)

    def finish(self, ctx: ToolContext) -> None:
        points, self.points, self._active = self.points, [], False
        ctx.set_preview(None)
        doc = ctx.document
        if doc is None or len(points) < 3:
            return
        value = doc.label_map.unlabelled if self._erase else ctx.current_value
        if doc.lasso(points, value, only_over=protection(ctx, value)) is None:
            _said_unchanged(ctx, points, value)

    def cancel(self, ctx: ToolContext) -> None:
        self.points, self._active = [], False
        ctx.set_preview(None)

    @property
    def busy(self) -> bool:
        return self._active


def _said_unchanged(ctx: ToolContext, outline: Sequence[Point], value: int) -> None:
    """An outline (polygon, lasso) filled with ``value`` changed nothing: say why."""
    doc = ctx.document
    assert doc is not None
    reach = Reach()
    reach.add(outline)
    outside = reach.outside(doc.label_map.shape)
    if not outside and not encloses_pixels(doc.label_map, outline):
        ctx.say(NO_AREA_TEXT)
        return
    ctx.say(unchanged_text(ctx, value, protection(ctx, value), outside=outside))


#: Why an outline whose points lie on one line (no area inside) changed nothing: it
#: said "these pixels already have that class", of pixels that were unlabelled.
NO_AREA_TEXT = (
    "Nothing changed: the outline encloses no area (its points lie on one line); "
    "draw it round the pixels to fill"
)


def encloses_pixels(labels: LabelMap, outline: Sequence[Point]) -> bool:
    """Whether the outline, filled, covers any pixel of the image."""
    mask, _box = labels.polygon_mask(outline, ())
    return mask is not None and bool(mask.any())


def all_tools() -> list[Tool]:
    """One instance of each tool, in menu order."""
    return [BrushTool(), EraserTool(), FillTool(), PolygonTool(), LassoTool()]
