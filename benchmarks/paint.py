"""Painting speed and undo memory on a large label map, through the GUI's own path.

Every edit goes through :class:`annotator.services.document.Document`, as the canvas's
tools do (``begin_stroke``, ``paint_stroke`` per mouse move, ``commit_stroke``), and the
overlay is drawn from the document's repaint event, as the canvas's is. Measures, on a
SIZE x SIZE map (4096 by default):

* ``segment_ms_median``: one stroke segment (two mouse positions ~12 px apart, brush
  radius 20): ``Document.paint_stroke`` (paint, record for undo, repaint event) with the
  repaint listener drawing the dirty box of the label overlay (the same
  ``LabelOverlayItem.render_region`` the canvas paints with) into an ARGB32 target at
  1:1, i.e. the work of one mouse move.
* ``full_refresh_ms``: drawing the whole overlay at 1:1 into a SIZE x SIZE target (what a
  full repaint costs; the view only ever repaints what is visible), and
  ``fit_refresh_ms`` for the whole map scaled into a 1024 x 1024 view.
* ``segment_outline_ms_median`` and ``segment_outline_zoom4_ms_median``: the same stroke
  segments with the labels drawn as outlines (View > Labels as outlines), the dirty box
  and its one-pixel margin drawn into a 1600 x 1000 view at zoom 1 and 4 (the outlines
  are found on the screen's grid: 16 times the pixels at zoom 4).
* ``view_refresh_ms``, ``view_refresh_outline_ms`` (zoom 1) and
  ``view_refresh_zoom4_outline_ms``: a whole 1600 x 1000 view of the labels painted by
  those strokes, filled and as outlines; ``fit_refresh_outline_ms`` the whole map
  scaled into 1024 x 1024, as outlines.
* ``history_mb_200``: memory of the undo history after 200 strokes of 20 segments each
  (radius 20, random walks, classes alternating), counted from the stored arrays
  (``EditHistory.nbytes``), plus ``history_mb_200_traced`` measured by tracemalloc.
* ``commit_events_200``: commit events the document fired for those 200 strokes (one
  per gesture; a stroke's mouse moves only repaint).
* ``fill_*_ms``: one click of the fill tool (``Document.fill``: flood, write, the undo
  step, the repaint event) on a ``--fill-size`` picture (8000 x 6000 by default: an RGB
  photo-like picture of smooth shading, noise and 40 flat objects) whose label map has
  four large labelled regions and 52 % unlabelled pixels, the median of
  ``--fill-repeat`` clicks on a fresh copy: ``fill_unlabelled_ms`` (the unlabelled area,
  a region whose box is the whole image), ``fill_fresh_ms`` (an image with nothing
  labelled: every pixel changes), ``fill_region_ms`` (relabel a labelled disc of 2800
  px), ``fill_small_ms`` (a 1000 px disc), ``fill_protected_ms`` and
  ``fill_protected_class_ms`` (the first and third under protected painting, "only
  unlabelled" and "only over" that class), ``fill_edges_object_ms`` and
  ``fill_edges_background_ms`` (fill to edges, tolerance 20 from the app's 5 x 5 mean,
  in an object of the picture and in its shaded background),
  ``fill_unlabelled_proposal_ms`` (the first with a proposal shown, whose layer the
  fill hides where it labels).

Usage: ``python benchmarks/paint.py [--size 4096] [--fill-size 8000x6000]
[--out results.json]``. Not a test: it prints a table and never fails on a timing.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from annotator.core.labelmap import LabelMap
    from annotator.core.schema import LabelSchema
    from annotator.services.document import Document

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def random_walk(
    rng: np.random.Generator, size: int, n: int, step: float = 12.0
) -> list[tuple[float, float]]:
    x, y = rng.uniform(50, size - 50, 2)
    angle = rng.uniform(0, 2 * np.pi)
    pts = [(float(x), float(y))]
    for _ in range(n):
        angle += rng.normal(0, 0.3)
        x = float(np.clip(x + step * np.cos(angle), 0, size - 1))
        y = float(np.clip(y + step * np.sin(angle), 0, size - 1))
        pts.append((x, y))
    return pts


def _document(image: np.ndarray, label_map: LabelMap, history_bytes: int | None = None) -> Document:
    """A :class:`Document` on an in-memory image (no project folder needed)."""
    from annotator.core.records import ImageRecord
    from annotator.core.status import ImageStatus
    from annotator.services.document import DEFAULT_HISTORY_BYTES, Document

    h, w = image.shape[:2]
    record = ImageRecord(
        0, "bench", "bench.png", "", w, h, 1, 8, ImageStatus.NEW, "user", 0, None, "", ""
    )
    return Document(record, image, label_map, history_bytes or DEFAULT_HISTORY_BYTES)


def fill_scene(height: int, width: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """An RGB picture (smooth shading, noise, 40 flat ellipses) and a label map of four
    large regions (classes 0, 1, 2 and 1 again) with the rest unlabelled (255)."""
    import cv2

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    base = 60 + 40 * np.sin(xx / 900.0) + 30 * np.cos(yy / 700.0)
    del yy, xx
    picture = np.stack([base, base * 0.9 + 10, base * 0.8 + 20], axis=2)
    del base
    objects = np.zeros((height, width), np.uint8)
    for i in range(40):
        centre = (int(rng.integers(300, width - 300)), int(rng.integers(300, height - 300)))
        axes = (int(rng.integers(80, 500)), int(rng.integers(80, 500)))
        cv2.ellipse(objects, centre, axes, float(rng.uniform(0, 180)), 0, 360, 1 + i % 3, -1)
    for k, colour in ((1, (200, 170, 120)), (2, (90, 160, 210)), (3, (230, 230, 230))):
        picture[objects == k] = colour
    picture += rng.normal(0, 6, (height, width, 1)).astype(np.float32)
    picture = np.clip(picture, 0, 255).astype(np.uint8)
    labels = np.full((height, width), 255, np.uint8)
    s = min(height, width) / 6000
    cv2.rectangle(labels, (0, 0), (int(3500 * s), int(2800 * s)), 0, -1)
    cv2.circle(labels, (int(5800 * s), int(1800 * s)), int(1400 * s), 1, -1)
    cv2.ellipse(
        labels, (int(2500 * s), int(4300 * s)), (int(1800 * s), int(1100 * s)), 20, 0, 360, 2, -1
    )
    cv2.circle(labels, (width - int(1000 * s), height - int(800 * s)), int(500 * s), 1, -1)
    return picture, labels


def fill_timings(height: int, width: int, repeat: int) -> dict[str, float]:
    """The ``fill_*_ms`` rows (see the module docstring)."""
    from annotator.core.labelmap import LabelMap
    from annotator.core.proposal import Proposal
    from annotator.core.schema import LabelSchema
    from annotator.gui.proposal_layers import ProposalLayers
    from annotator.gui.tools import FILL_SAMPLE

    sample = FILL_SAMPLE  # the app's fill to edges

    picture, labels = fill_scene(height, width)
    schema = LabelSchema.from_names(["background", "cell", "membrane", "nucleus"])
    s = min(height, width) / 6000
    corner = (width - 100.0, 100.0)  # unlabelled, in the shaded background
    disc = (5800 * s, 1800 * s)  # the big disc of class 1
    small = (width - 1000 * s, height - 800 * s)
    near = np.abs(picture.astype(np.int16) - picture[height // 2, width // 2]).max(axis=2)
    ys, xs = np.nonzero((near <= 5) & (labels == 255))
    inside = (float(xs[len(xs) // 2]), float(ys[len(ys) // 2])) if len(xs) else corner
    del near
    proposal = Proposal(  # any classes: only its layer costs
        None, (labels == 255).astype(np.uint8), np.zeros(labels.shape, np.float32), 0.5, 1
    )

    def click(
        name: str, fill: Callable[[Document], object], *, fresh: bool = False, shown: bool = False
    ) -> tuple[str, float]:
        times = []
        for _ in range(repeat):
            start = np.full_like(labels, 255) if fresh else labels.copy()
            doc = _document(picture, LabelMap(start, schema.unlabelled, schema.void))
            layers = ProposalLayers()
            if shown:
                layers.show(doc, proposal, schema, target=schema.unlabelled)
            t0 = time.perf_counter()
            fill(doc)
            times.append(time.perf_counter() - t0)
            assert doc.history.undo_count == 1, name
        return name, round(statistics.median(times) * 1000, 1)

    rows = [
        click("fill_unlabelled_ms", lambda d: d.fill(*corner, 3)),
        click("fill_fresh_ms", lambda d: d.fill(*corner, 1), fresh=True),
        click("fill_region_ms", lambda d: d.fill(*disc, 2)),
        click("fill_small_ms", lambda d: d.fill(*small, 2)),
        click("fill_protected_ms", lambda d: d.fill(*corner, 3, only_over=255)),
        click("fill_protected_class_ms", lambda d: d.fill(*disc, 2, only_over=1)),
        click("fill_edges_object_ms", lambda d: d.fill(*inside, 3, tolerance=20, sample=sample)),
        click(
            "fill_edges_background_ms", lambda d: d.fill(*corner, 3, tolerance=20, sample=sample)
        ),
        click("fill_unlabelled_proposal_ms", lambda d: d.fill(*corner, 3), shown=True),
    ]
    return dict(rows)


def outline_timings(schema: LabelSchema, size: int, radius: float, segments: int) -> dict:
    """The ``*outline*`` and ``view_refresh_*`` rows (see the module docstring)."""
    from PySide6.QtGui import QImage, QPainter, QTransform

    from annotator.core.labelmap import Box, LabelMap
    from annotator.gui.layers import LabelOverlayItem, colour_table

    view_w, view_h = 1600, 1000
    image = np.zeros((size, size), np.uint8)
    rows: dict[str, float] = {}
    for zoom in (1, 4):
        rng = np.random.default_rng(0)  # the strokes of segment_ms
        doc = _document(image, LabelMap.blank(schema, size, size))
        overlay = LabelOverlayItem()
        overlay.set_labels(doc.label_map.array, colour_table(schema, 0.5))
        overlay.set_outline(True)
        target = QImage(view_w, view_h, QImage.Format.Format_ARGB32_Premultiplied)
        target.fill(0)
        painter = QPainter(target)

        def repaint(
            b: Box | None, z: float = zoom, p: QPainter = painter, o: LabelOverlayItem = overlay
        ) -> None:
            if b is None:
                return
            cx, cy = (b.x0 + b.x1) / 2, (b.y0 + b.y1) / 2  # the box in the view's middle
            p.setWorldTransform(QTransform(z, 0, 0, z, view_w / 2 - z * cx, view_h / 2 - z * cy))
            o.render_region(p, b.x0 - 1, b.y0 - 1, b.width + 2, b.height + 2)

        doc.add_repaint_listener(repaint)
        times = []
        pts = random_walk(rng, size, segments)
        doc.begin_stroke()
        for i in range(1, len(pts)):
            t0 = time.perf_counter()
            doc.paint_stroke([pts[i - 1], pts[i]], radius, 1 + i % 3)
            times.append(time.perf_counter() - t0)
            if i % 100 == 0:
                doc.commit_stroke()
                doc.begin_stroke()
        doc.commit_stroke()
        name = "segment_outline_ms_median" if zoom == 1 else "segment_outline_zoom4_ms_median"
        rows[name] = round(statistics.median(times) * 1000, 4)
        doc.remove_repaint_listener(repaint)

        # a whole view over the painted strokes (centred on their middle)
        ys, xs = np.nonzero(doc.label_map.array != schema.unlabelled)
        cx, cy = float(np.median(xs)), float(np.median(ys))
        w, h = math.ceil(view_w / zoom), math.ceil(view_h / zoom)
        x0 = int(min(max(cx - w / 2, 0), size - w))
        y0 = int(min(max(cy - h / 2, 0), size - h))
        painter.setWorldTransform(QTransform(zoom, 0, 0, zoom, -zoom * x0, -zoom * y0))
        for outline in (False, True) if zoom == 1 else (True,):
            overlay.set_outline(outline)
            full = []
            for _ in range(5):
                t0 = time.perf_counter()
                overlay.render_region(painter, x0, y0, w, h)
                full.append(time.perf_counter() - t0)
            name = "view_refresh" + ("_zoom4" if zoom == 4 else "") + ("_outline" * outline)
            rows[name + "_ms"] = round(statistics.median(full) * 1000, 3)
        painter.end()
        if zoom == 1:
            view = QImage(1024, 1024, QImage.Format.Format_ARGB32_Premultiplied)
            vp = QPainter(view)
            vp.scale(1024 / size, 1024 / size)
            fit = []
            for _ in range(5):
                t0 = time.perf_counter()
                overlay.render_region(vp, 0, 0, size, size)
                fit.append(time.perf_counter() - t0)
            vp.end()
            rows["fit_refresh_outline_ms"] = round(statistics.median(fit) * 1000, 3)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--radius", type=float, default=20.0)
    parser.add_argument("--segments", type=int, default=2000)
    parser.add_argument(
        "--fill-size", default="8000x6000", help="WIDTHxHEIGHT of the fills' picture"
    )
    parser.add_argument("--fill-repeat", type=int, default=5)
    parser.add_argument("--out", help="write the results as JSON to this file")
    args = parser.parse_args(argv)
    fill_width, fill_height = (int(v) for v in args.fill_size.lower().split("x"))

    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtWidgets import QApplication

    from annotator.core.labelmap import Box, LabelMap
    from annotator.core.schema import LabelSchema
    from annotator.gui.layers import LabelOverlayItem, colour_table

    _app = QApplication.instance() or QApplication(sys.argv[:1])
    size, radius = args.size, args.radius
    schema = LabelSchema.from_names(["background", "cell", "membrane", "nucleus"])
    rng = np.random.default_rng(0)

    image = np.zeros((size, size), np.uint8)
    doc = _document(image, LabelMap.blank(schema, size, size))
    lm = doc.label_map
    overlay = LabelOverlayItem()
    overlay.set_labels(lm.array, colour_table(schema, 0.5))
    target = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    target.fill(0)
    painter = QPainter(target)

    def repaint(b: Box | None) -> None:  # what the canvas's overlay does with the event
        if b is not None:
            overlay.render_region(painter, b.x0, b.y0, b.width, b.height)

    doc.add_repaint_listener(repaint)

    # --- one stroke segment, with the overlay update of its dirty box -------------------
    times = []
    pts = random_walk(rng, size, args.segments)
    doc.begin_stroke()
    for i in range(1, len(pts)):
        t0 = time.perf_counter()
        doc.paint_stroke([pts[i - 1], pts[i]], radius, 1 + i % 3)
        times.append(time.perf_counter() - t0)
        if i % 100 == 0:  # gestures of 100 segments, committed outside the timing
            doc.commit_stroke()
            doc.begin_stroke()
    doc.commit_stroke()
    segment_ms = statistics.median(times) * 1000
    segment_p95 = float(np.percentile(times, 95) * 1000)

    # --- full overlay refresh -------------------------------------------------------------
    full = []
    for _ in range(5):
        t0 = time.perf_counter()
        overlay.render_region(painter, 0, 0, size, size)
        full.append(time.perf_counter() - t0)
    painter.end()
    view = QImage(1024, 1024, QImage.Format.Format_ARGB32_Premultiplied)
    vp = QPainter(view)
    vp.scale(1024 / size, 1024 / size)
    fit = []
    for _ in range(5):
        t0 = time.perf_counter()
        overlay.render_region(vp, 0, 0, size, size)
        fit.append(time.perf_counter() - t0)
    vp.end()

    # --- undo history of 200 strokes ----------------------------------------------------------
    doc2 = _document(image, LabelMap.blank(schema, size, size), history_bytes=2**40)
    commits = []
    doc2.add_commit_listener(lambda: commits.append(1))
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    commit_times = []
    for s in range(200):
        walk = random_walk(rng, size, 20)
        doc2.begin_stroke()
        for a, b in zip(walk, walk[1:], strict=False):
            doc2.paint_stroke([a, b], radius, s % 4)
        t0 = time.perf_counter()
        doc2.commit_stroke()
        commit_times.append(time.perf_counter() - t0)
    traced = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    hist = doc2.history
    history_bytes = hist.nbytes
    commit_events = len(commits)
    # Undo everything once to show it restores the map (and how long it takes).
    t0 = time.perf_counter()
    while hist.can_undo:
        doc2.undo()
    undo_all_ms = (time.perf_counter() - t0) * 1000
    assert (doc2.label_map.array == schema.unlabelled).all(), "undo must restore the map"

    results = {
        "size": size,
        "radius": radius,
        "segment_ms_median": round(segment_ms, 4),
        "segment_ms_p95": round(segment_p95, 4),
        "full_refresh_ms": round(statistics.median(full) * 1000, 3),
        "fit_refresh_ms": round(statistics.median(fit) * 1000, 3),
        "history_mb_200": round(history_bytes / 2**20, 3),
        "history_mb_200_traced": round(traced / 2**20, 3),
        "commit_events_200": commit_events,
        "commit_ms_median": round(statistics.median(commit_times) * 1000, 3),
        "undo_200_ms": round(undo_all_ms, 2),
        **outline_timings(schema, size, radius, args.segments),
        "fill_size": f"{fill_width}x{fill_height}",
        "load_average_start": round(os.getloadavg()[0], 1),  # fills' timings follow the load
        **fill_timings(fill_height, fill_width, args.fill_repeat),
    }
    targets = {
        "segment_ms_median": 1.0,
        "full_refresh_ms": 16.0,
        "history_mb_200": 64.0,
        "segment_outline_ms_median": 1.0,
        "segment_outline_zoom4_ms_median": 4.0,
        "view_refresh_outline_ms": 16.0,
        "view_refresh_zoom4_outline_ms": 16.0,
        "fit_refresh_outline_ms": 16.0,
    }
    targets.update(
        {key: 100.0 for key in results if key.startswith("fill_") and key != "fill_size"}
    )
    print(f"paint benchmark, {size}x{size}, brush radius {radius:g}; fills on {args.fill_size}")
    print(f"{'metric':<28}{'value':>12}  target")
    for key, value in results.items():
        if key in ("size", "radius", "fill_size"):
            continue
        target = targets.get(key)
        mark = (
            "" if target is None else (f"< {target:g}  " + ("ok" if value < target else "MISSED"))
        )
        print(f"{key:<28}{value:>12}  {mark}")
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            json.dump(results, fh, indent=2)
            fh.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
