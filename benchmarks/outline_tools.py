"""GrabCut box vs intelligent scissors vs a plain polygon, per click, on real objects.

    python benchmarks/outline_tools.py --data-root ../shared/data --out outline-tools.json

Issue 14 asks for a box refined by GrabCut (``cv2.grabCut``) *or* an edge-snapping outline
(OpenCV's intelligent scissors, ``cv2.segmentation.IntelligentScissorsMB``), whichever
measures better. For every object (a connected region of one class, 400 px to a quarter
of the image) of the held-out images of ISBI 2012 (cells) and CamVid (every class but
sky, road and building, which are not objects) it measures the IoU with the true region
of:

- ``grabcut``: the app's GrabCut (``annotator.core.smart.grabcut``) in the object's box
  with a 2 px margin: 2 clicks;
- ``scissors-K``: K clicks placed evenly along the true outline, each joined to the next
  by the scissors' edge-snapping path, the closed outline filled: K clicks;
- ``polygon-K``: the same K clicks joined by straight lines: K clicks (the baseline).

Clicks are placed with perfect knowledge of the outline, as the simulated annotator
does. Also reported: the median milliseconds of one GrabCut and of one scissors segment
(``buildMap`` from a click, then ``getContour``), one thread.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from architectures import DEFAULT_ROOT, load_camvid, load_isbi  # noqa: E402

CLICKS = (4, 6, 8, 12, 16)
NOT_OBJECTS = ("sky", "road", "building")


def objects(mask: np.ndarray, classes: list[str], skip: tuple[str, ...]) -> list[np.ndarray]:
    """Boolean masks of the connected regions of each class that are object-sized."""
    import cv2

    out = []
    limit = mask.size // 4
    for cid, name in enumerate(classes):
        if name in skip:
            continue
        n, lab, stats, _ = cv2.connectedComponentsWithStats((mask == cid).astype(np.uint8), 4)
        for i in range(1, n):
            if 400 <= stats[i, cv2.CC_STAT_AREA] <= limit:
                out.append(lab == i)
    return out


def outline_clicks(region: np.ndarray, k: int) -> np.ndarray:
    """``k`` points, evenly spaced along the region's outer contour, as (x, y) ints."""
    import cv2

    contours, _ = cv2.findContours(
        region.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE
    )
    c = max(contours, key=len)[:, 0, :]
    idx = np.linspace(0, len(c), k, endpoint=False).astype(int)
    return c[idx]


def fill(shape: tuple[int, int], points: np.ndarray) -> np.ndarray:
    import cv2

    canvas = np.zeros(shape, np.uint8)
    cv2.fillPoly(canvas, [points.reshape(-1, 1, 2).astype(np.int32)], 1)
    return canvas.astype(bool)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


def scissors_outline(tool: Any, clicks: np.ndarray, seg_ms: list[float]) -> np.ndarray:
    """The closed outline through ``clicks``, each segment snapped to edges."""
    path = []
    for i, start in enumerate(clicks):
        end = clicks[(i + 1) % len(clicks)]
        t0 = time.perf_counter()
        tool.buildMap((int(start[0]), int(start[1])))
        contour = tool.getContour((int(end[0]), int(end[1])))
        seg_ms.append(1000 * (time.perf_counter() - t0))
        path.append(contour.reshape(-1, 2))
    return np.concatenate(path)


def measure(
    name: str,
    images: list[tuple[str, np.ndarray, np.ndarray]],
    classes: list[str],
    skip: tuple[str, ...],
    limit: int,
) -> dict[str, Any]:
    import cv2

    from annotator.core.smart import grabcut

    cv2.setNumThreads(1)
    scores: dict[str, list[float]] = {"grabcut": []}
    for k in CLICKS:
        scores[f"scissors-{k}"] = []
        scores[f"polygon-{k}"] = []
    grab_ms: list[float] = []
    seg_ms: list[float] = []
    n = 0
    for _, pixels, mask in images:
        regions = objects(mask, classes, skip)
        if not regions:
            continue
        tool = cv2.segmentation.IntelligentScissorsMB()
        tool.setEdgeFeatureCannyParameters(32, 100)
        tool.setGradientMagnitudeMaxLimit(200)
        tool.applyImage(pixels if pixels.ndim == 3 else cv2.cvtColor(pixels, cv2.COLOR_GRAY2BGR))
        for region in regions:
            if n >= limit:
                break
            n += 1
            ys, xs = np.nonzero(region)
            box = np.zeros(region.shape, bool)
            box[max(0, ys.min() - 2) : ys.max() + 3, max(0, xs.min() - 2) : xs.max() + 3] = True
            cv2.setRNGSeed(0)
            t0 = time.perf_counter()
            scores["grabcut"].append(iou(grabcut(pixels, box), region))
            grab_ms.append(1000 * (time.perf_counter() - t0))
            for k in CLICKS:
                clicks = outline_clicks(region, k)
                scores[f"polygon-{k}"].append(iou(fill(region.shape, clicks), region))
                snapped = scissors_outline(tool, clicks, seg_ms)
                scores[f"scissors-{k}"].append(iou(fill(region.shape, snapped), region))
    return {
        "data": name,
        "objects": n,
        "mean_iou": {t: round(float(np.mean(v)), 4) for t, v in scores.items() if v},
        "clicks": {
            "grabcut": 2,
            **{f"{m}-{k}": k for k in CLICKS for m in ("scissors", "polygon")},
        },
        "grabcut_ms_median": round(float(np.median(grab_ms)), 1) if grab_ms else None,
        "scissors_segment_ms_median": round(float(np.median(seg_ms)), 1) if seg_ms else None,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-root", type=Path, default=DEFAULT_ROOT)
    ap.add_argument("--limit", type=int, default=150, help="objects per data set (150)")
    ap.add_argument("--out", type=Path, help="JSON results")
    args = ap.parse_args(argv)
    isbi = load_isbi(args.data_root, None)
    camvid = load_camvid(args.data_root, None, None)
    results = [
        measure("isbi cells", isbi.test, isbi.classes, ("membrane",), args.limit),
        measure("camvid objects", camvid.test, camvid.classes, NOT_OBJECTS, args.limit),
    ]
    tools = list(results[0]["mean_iou"])
    print(f"{'tool':12} {'clicks':>6} " + " ".join(f"{r['data']:>15}" for r in results))
    for t in tools:
        row = " ".join(f"{r['mean_iou'].get(t, float('nan')):15.3f}" for r in results)
        print(f"{t:12} {results[0]['clicks'][t]:6d} {row}")
    for r in results:
        print(
            f"{r['data']}: {r['objects']} objects; GrabCut {r['grabcut_ms_median']} ms, "
            f"one scissors segment {r['scissors_segment_ms_median']} ms (medians)"
        )
    if args.out:
        args.out.write_text(
            json.dumps({"benchmark": "outline_tools", "results": results}, indent=1)
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
