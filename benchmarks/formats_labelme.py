"""labelme JSON -> project -> VOC export, compared with labelme's own labelme2voc output.

    python benchmarks/formats_labelme.py /work/shared/data/labelme-examples/semantic [--out FILE]

The folder holds ``data_annotated/*.json`` (+ images), ``labels.txt`` and labelme's
``voc/SegmentationClass/*.png``. We create a project with the one class
``_background_``, import the JSON files with ``labels.txt`` (the import appends the
other classes in labels.txt order, so ids match labelme's), export ``voc`` and count,
per image, the pixels whose value equals labelme's. Target: at least 99.9 %.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np


def run(folder: Path) -> dict:
    from annotator.core.schema import LabelSchema
    from annotator.formats.masks import decode_mask_png
    from annotator.services.exchange import (
        ExportRequest,
        ImportRequest,
        export_project,
        import_into_project,
    )
    from annotator.storage.project import Project

    with tempfile.TemporaryDirectory() as tmp:
        project = Project.create(Path(tmp) / "project", LabelSchema.from_names(["_background_"]))
        with project:
            imp = import_into_project(
                project,
                ImportRequest(
                    "labelme", folder / "data_annotated", labels_file=folder / "labels.txt"
                ),
            )
            out = Path(tmp) / "voc"
            export_project(project, ExportRequest("voc", out, split=(1.0, 0.0, 0.0)))
            rows = []
            for ref_file in sorted((folder / "voc" / "SegmentationClass").glob("*.png")):
                ours_file = out / "SegmentationClass" / ref_file.name
                ref = decode_mask_png(ref_file)
                ours = decode_mask_png(ours_file)
                agree = float(np.mean(ref == ours)) if ref.shape == ours.shape else 0.0
                rows.append(
                    {
                        "image": ref_file.stem,
                        "pixels": int(ref.size),
                        "disagreeing": int(np.count_nonzero(ref != ours))
                        if ref.shape == ours.shape
                        else None,
                        "agreement": agree,
                    }
                )
        return {
            "imported": len(imp.imported),
            "skipped": imp.skipped,
            "unknown_labels": imp.unknown_labels,
            "images": rows,
            "min_agreement": min(r["agreement"] for r in rows) if rows else None,
            "target": 0.999,
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="labelme-examples/semantic")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    args = parser.parse_args(argv)
    res = run(args.folder)
    print(f"{'image':<16} {'pixels':>8} {'differ':>7} {'agree %':>9}")
    for r in res["images"]:
        print(
            f"{r['image']:<16} {r['pixels']:>8} {r['disagreeing']!s:>7} {100 * r['agreement']:>9.4f}"
        )
    print(
        f"imported {res['imported']} file(s); skipped {len(res['skipped'])}; "
        f"unknown labels {res['unknown_labels'] or 'none'}"
    )
    ok = res["min_agreement"] is not None and res["min_agreement"] >= res["target"]
    print(
        f"min agreement {100 * (res['min_agreement'] or 0):.4f} % (target 99.9 %): "
        + ("met" if ok else "NOT met")
    )
    if args.out:
        args.out.write_text(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
