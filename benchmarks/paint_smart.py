"""Latency of the smart tools (issue 14) on a large image.

On a SIZE x SIZE (4096 by default) synthetic picture of bright discs on a noisy
background, with a label map that has each disc labelled and a "proposal" that is the
true mask, measures the core operations behind each tool (no GUI drawing):

* ``superpixels_first_tile_s``: SLIC of the 512 px tile under the first press, what the
  superpixel brush waits for before it paints (the GUI computes the image tile by tile,
  nearest the brush first); ``superpixels_s``: every tile, with the segment index, as
  the GUI ends up holding it; ``superpixels_whole_image_s``: SLIC of the whole image in
  one piece (what the brush waited for before tiling), ``--sp-size`` px segments.
  With ``--window LOW,HIGH`` the first tile and every tile again, seen through that
  contrast window as the GUI passes the window the picture is shown with
  (``superpixels_first_tile_window_s``, ``superpixels_window_s``, ADR 0036).
* ``superpixel_move_ms``: one move of the superpixel brush (``LabelMap.paint_segments``,
  two mouse positions ~12 px apart, radius 10).
* ``protected_move_ms``: one move of the protected brush (``paint_stroke`` with
  ``only_over``), radius 20, for comparison with ``benchmarks/paint.py``.
* ``proposal_move_ms``: one move of the proposal brush (``paint_stroke_from``), radius 20.
* ``accept_region_ms``: one accept-region click (``assign_region``) on a disc.
* ``grabcut_512_ms`` / ``grabcut_2048_ms``: GrabCut in a 512 / 2048 px box
  (``core.smart.grabcut``, seeded by the labelled discs) plus assigning its result; a
  crop over ``GRABCUT_MAX_PIXELS`` is cut at a lower resolution.
* ``fill_holes_ms`` / ``remove_specks_ms``: over the whole image, max area 200 px.

Usage: ``python benchmarks/paint_smart.py [--size 4096] [--window 50,200]
[--out results.json]``. Not a
test: it prints a table, writes the JSON after every measurement, and never fails on a
timing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np


def scene(size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A grey image of bright discs (with small dark holes) and its two-class mask."""
    import cv2

    rng = np.random.default_rng(seed)
    truth = np.zeros((size, size), np.uint8)
    for _ in range(size * size // 12000):
        x, y = (int(v) for v in rng.integers(0, size, 2))
        cv2.circle(truth, (x, y), int(rng.integers(15, 60)), 1, -1)
    holes = rng.random((size, size)) < 2e-4
    truth[holes & (truth == 1)] = 0
    image = np.where(truth == 1, 170, 70).astype(np.float32)
    image += rng.normal(0, 12, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8), truth


def walk(rng: np.random.Generator, size: int, n: int) -> list[tuple[float, float]]:
    x, y = rng.uniform(100, size - 100, 2)
    angle = rng.uniform(0, 2 * np.pi)
    pts = [(float(x), float(y))]
    for _ in range(n):
        angle += rng.normal(0, 0.3)
        x = float(np.clip(x + 12 * np.cos(angle), 0, size - 1))
        y = float(np.clip(y + 12 * np.sin(angle), 0, size - 1))
        pts.append((x, y))
    return pts


def per_move_ms(fn: Callable[[list[tuple[float, float]]], object], pts: list) -> float:
    times = []
    for p, q in zip(pts[:-1], pts[1:]):
        t0 = time.perf_counter()
        fn([p, q])
        times.append((time.perf_counter() - t0) * 1000)
    return round(statistics.median(times), 3)


def once_ms(fn: Callable[[], object], repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return round(statistics.median(times), 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--sp-size", type=int, default=16, help="superpixel size (16)")
    parser.add_argument("--moves", type=int, default=40)
    parser.add_argument(
        "--window",
        help="LOW,HIGH: also time the superpixels seen through this contrast window "
        "(a negative LOW: --window=-160,240)",
    )
    parser.add_argument("--out", type=Path, help="write the results as JSON to this file")
    args = parser.parse_args(argv)

    from annotator.core.labelmap import LabelMap
    from annotator.core.smart import (
        SuperpixelSettings,
        grabcut,
        nearest_tile,
        superpixel_index,
        superpixel_tiles,
        superpixels,
        tile_superpixels,
    )

    size = args.size
    image, truth = scene(size)
    rng = np.random.default_rng(1)
    # Timings scale with the machine's load: keep it with them.
    results: dict[str, Any] = {
        "size": size,
        "superpixel_size": args.sp_size,
        "load_average_start": round(os.getloadavg()[0], 1),
        "cpus": os.cpu_count(),
    }

    def record(key: str, value: float) -> None:
        results[key] = value
        print(f"{key:22} {value}")
        if args.out:
            args.out.write_text(json.dumps(results, indent=2) + "\n")

    def labelled() -> LabelMap:
        return LabelMap(np.where(truth == 1, 1, 255).astype(np.uint8), 255, 254)

    lm = labelled()
    record(
        "protected_move_ms",
        per_move_ms(
            lambda m: lm.paint_stroke(m, 20, 0, only_over=255), walk(rng, size, args.moves)
        ),
    )
    lm = LabelMap(np.full((size, size), 255, np.uint8), 255, 254)
    record(
        "proposal_move_ms",
        per_move_ms(lambda m: lm.paint_stroke_from(m, 20, truth), walk(rng, size, args.moves)),
    )
    ys, xs = np.nonzero(truth == 1)
    clicks = rng.integers(0, ys.size, 5)
    lm = LabelMap(np.full((size, size), 255, np.uint8), 255, 254)
    times = []
    for i in clicks:
        t0 = time.perf_counter()
        lm.assign_region(truth, float(xs[i]), float(ys[i]))
        times.append((time.perf_counter() - t0) * 1000)
    record("accept_region_ms", round(statistics.median(times), 1))

    lm = labelled()
    record("fill_holes_ms", once_ms(lambda: labelled().fill_holes(1, 200)))
    record("remove_specks_ms", once_ms(lambda: labelled().remove_specks(1, 200)))

    for side in (s for s in (512, 2048) if s <= size):
        y0 = x0 = (size - side) // 2
        region = np.zeros((size, size), bool)
        region[y0 : y0 + side, x0 : x0 + side] = True

        def cut(region: np.ndarray = region) -> None:
            lm = labelled()
            fg = grabcut(image, region, labels=lm.array, value=1, unlabelled=255)
            lm.assign(1, fg)

        record(f"grabcut_{side}_ms", once_ms(cut, repeat=1 if side > 1024 else 3))

    settings = SuperpixelSettings(args.sp_size)
    t0 = time.perf_counter()
    whole = superpixels(image, settings)
    record("superpixels_whole_image_s", round(time.perf_counter() - t0, 2))
    del whole
    # What the GUI does: tile by tile, the one under the first press first.
    tiles = superpixel_tiles(size, size)
    first = tiles[nearest_tile(tiles, size / 2, size / 2)]
    t0 = time.perf_counter()
    tile_superpixels(image, first, settings)
    record("superpixels_first_tile_s", round(time.perf_counter() - t0, 2))
    t0 = time.perf_counter()
    index = superpixel_index(image, settings)  # each segment's box, as the GUI keeps them
    record("superpixels_s", round(time.perf_counter() - t0, 2))
    record("superpixel_tiles", len(tiles))
    record("superpixel_count", len(index.boxes))
    if args.window:
        low, high = (float(v) for v in args.window.split(","))
        windows = [(low, high)]
        results["window"] = [low, high]
        t0 = time.perf_counter()
        tile_superpixels(image, first, settings, windows)
        record("superpixels_first_tile_window_s", round(time.perf_counter() - t0, 2))
        t0 = time.perf_counter()
        superpixel_index(image, settings, windows)
        record("superpixels_window_s", round(time.perf_counter() - t0, 2))
    segments = index.labels
    results["load_average_end"] = round(os.getloadavg()[0], 1)
    lm = labelled()
    record(
        "superpixel_move_ms",
        per_move_ms(
            lambda m: lm.paint_segments(segments, m, 10, 1, boxes=index.boxes),
            walk(rng, size, args.moves),
        ),
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
