"""Export speed: N generated 512x512 label maps with 5 classes, in every format.

    python benchmarks/export.py [--n 1000] [--size 512] [--formats voc,coco,...] [--out FILE]

The project (images and label maps) is built first and not timed; then each format is
exported (images copied; VOC's as JPEG, then kept as they are) and timed. Reports images
per second per format.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

CLASSES = ("background", "road", "tree", "car", "person")


def generated_mask(seed: int, size: int, n_classes: int = len(CLASSES)) -> np.ndarray:
    """Smooth blobs of ``n_classes`` classes with some void and unlabelled pixels."""
    import cv2

    rng = np.random.default_rng(seed)
    field = cv2.GaussianBlur(rng.random((size, size)).astype(np.float32), (0, 0), size / 40)
    lo, hi = float(field.min()), float(field.max())
    mask = np.clip((field - lo) / max(hi - lo, 1e-6) * n_classes, 0, n_classes - 1).astype(np.uint8)
    mask[:4, :] = 254  # a void border strip
    y, x = rng.integers(0, size - 20, 2)
    mask[y : y + 20, x : x + 20] = 255  # an unlabelled square
    return mask


def build_project(root: Path, n: int, size: int):  # type: ignore[no-untyped-def]
    import cv2

    from annotator.core.schema import LabelSchema
    from annotator.core.status import ImageStatus
    from annotator.storage.project import Project

    project = Project.create(root / "project", LabelSchema.from_names(list(CLASSES)))
    images = root / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    for i in range(n):
        img = rng.integers(0, 255, (size // 8, size // 8), np.uint8)
        img = cv2.resize(img, (size, size), interpolation=cv2.INTER_LINEAR)
        cv2.imwrite(str(images / f"img_{i:05d}.png"), img)
    project.add_images([images])
    for i, rec in enumerate(project.images()):
        project.save_mask(rec.id, generated_mask(i, size), status=ImageStatus.DONE)
    return project


def run(n: int, size: int, formats: list[str]) -> dict:
    from annotator.services.exchange import ExportRequest, export_project

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        project = build_project(root, n, size)
        setup = time.perf_counter() - t0
        with project:
            for fmt in formats:
                modes = {"coco": ["polygon", "rle"], "voc": ["jpg", "keep"]}.get(fmt, [""])
                for mode in modes:
                    out = root / f"out_{fmt}_{mode}"
                    t0 = time.perf_counter()
                    report = export_project(
                        project,
                        ExportRequest(
                            fmt,
                            out,
                            coco_mode=mode if fmt == "coco" else "polygon",
                            voc_images=mode if fmt == "voc" else "jpg",
                        ),
                    )
                    dt = time.perf_counter() - t0
                    name = f"{fmt}-{mode}" if mode else fmt
                    rows.append(
                        {
                            "format": name,
                            "images": sum(report.counts.values()),
                            "seconds": dt,
                            "images_per_second": n / dt,
                            "files": len(report.files),
                        }
                    )
    return {"n": n, "size": size, "classes": len(CLASSES), "setup_seconds": setup, "results": rows}


def main(argv: list[str] | None = None) -> int:
    from annotator.formats.registry import export_formats

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="number of images (default 1000)")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--formats", default=",".join(export_formats()))
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    args = parser.parse_args(argv)
    res = run(args.n, args.size, [f.strip() for f in args.formats.split(",") if f.strip()])
    print(
        f"{res['n']} images {res['size']}x{res['size']}, {res['classes']} classes "
        f"(setup {res['setup_seconds']:.1f}s, not timed)"
    )
    print(f"{'format':<14} {'seconds':>8} {'images/s':>9} {'files':>6}")
    for r in res["results"]:
        print(
            f"{r['format']:<14} {r['seconds']:>8.2f} {r['images_per_second']:>9.1f} {r['files']:>6}"
        )
    if args.out:
        args.out.write_text(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
