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
* ``history_mb_200``: memory of the undo history after 200 strokes of 20 segments each
  (radius 20, random walks, classes alternating), counted from the stored arrays
  (``EditHistory.nbytes``), plus ``history_mb_200_traced`` measured by tracemalloc.
* ``commit_events_200``: commit events the document fired for those 200 strokes (one
  per gesture; a stroke's mouse moves only repaint).

Usage: ``python benchmarks/paint.py [--size 4096] [--out results.json]``. Not a test:
it prints a table and never fails on a timing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import tracemalloc
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from annotator.core.labelmap import LabelMap
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--radius", type=float, default=20.0)
    parser.add_argument("--segments", type=int, default=2000)
    parser.add_argument("--out", help="write the results as JSON to this file")
    args = parser.parse_args(argv)

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
    }
    targets = {"segment_ms_median": 1.0, "full_refresh_ms": 16.0, "history_mb_200": 64.0}
    print(f"paint benchmark, {size}x{size}, brush radius {radius:g}")
    print(f"{'metric':<24}{'value':>12}  target")
    for key, value in results.items():
        if key in ("size", "radius"):
            continue
        target = targets.get(key)
        mark = (
            "" if target is None else (f"< {target:g}  " + ("ok" if value < target else "MISSED"))
        )
        print(f"{key:<24}{value:>12}  {mark}")
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            json.dump(results, fh, indent=2)
            fh.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
