"""labelme JSON -> project -> VOC export, compared with labelme's own labelme2voc output.

    python benchmarks/formats_labelme.py /work/shared/data/labelme-examples/semantic [--out FILE]
    python benchmarks/formats_labelme.py /work/shared/data/labelme-examples/semantic --project-classes

The folder holds ``data_annotated/*.json`` (+ images), ``labels.txt`` and labelme's
``voc/SegmentationClass/*.png``. Two ways a user brings such a set in:

* default (``--labels``): a project with the one class ``_background_``; the JSON files
  are imported with ``labels.txt`` (the import appends the other classes in its order,
  so ids match labelme's).
* ``--project-classes``: what a labelme user does when the project already has the
  classes of ``labels.txt`` (``__ignore__`` is void, not a class) and imports the
  ``data_annotated`` folder, which has no ``labels.txt`` of its own. The pixels no shape
  covers must become the project's ``_background_`` class, as labelme2voc makes them.

Either way the project is exported as ``voc`` and compared with labelme's masks: pixels
equal per image and over the whole set. Target: at least 99.9 % on every image. The
exit status is 1 when the target is missed.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np


def run(folder: Path, project_classes: bool = False) -> dict:
    from annotator.core.schema import LabelSchema
    from annotator.formats.masks import decode_mask_png
    from annotator.services.exchange import (
        ExportRequest,
        ImportRequest,
        export_project,
        import_into_project,
    )
    from annotator.storage.project import Project

    if project_classes:
        lines = (folder / "labels.txt").read_text().splitlines()
        names = [n for n in lines if n.strip() and n != "__ignore__"]
        request = ImportRequest("labelme", folder / "data_annotated")
    else:
        names = ["_background_"]
        request = ImportRequest(
            "labelme", folder / "data_annotated", labels_file=folder / "labels.txt"
        )
    with tempfile.TemporaryDirectory() as tmp:
        with Project.create(Path(tmp) / "project", LabelSchema.from_names(names)) as project:
            imp = import_into_project(project, request)
            out = Path(tmp) / "voc"
            export_project(project, ExportRequest("voc", out, split=(1.0, 0.0, 0.0)))
        rows = []
        for ref_file in sorted((folder / "voc" / "SegmentationClass").glob("*.png")):
            ref = decode_mask_png(ref_file)
            ours = decode_mask_png(out / "SegmentationClass" / ref_file.name)
            equal = int(np.count_nonzero(ref == ours)) if ref.shape == ours.shape else 0
            rows.append({"image": ref_file.stem, "pixels": int(ref.size), "equal": equal})
    total = sum(r["pixels"] for r in rows)
    equal = sum(r["equal"] for r in rows)
    return {
        "mode": "project classes, no labels file" if project_classes else "--labels",
        "imported": len(imp.imported),
        "skipped": imp.skipped,
        "unknown_labels": imp.unknown_labels,
        "classes_added": imp.classes_added,
        "background": imp.background,
        "images": rows,
        "pixels": total,
        "equal": equal,
        "agreement": equal / total if total else None,
        "min_agreement": min(r["equal"] / r["pixels"] for r in rows) if rows else None,
        "target": 0.999,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="labelme-examples/semantic")
    parser.add_argument(
        "--project-classes",
        action="store_true",
        help="the project has labels.txt's classes; import without a labels file",
    )
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    args = parser.parse_args(argv)
    res = run(args.folder, args.project_classes)
    print(f"{'image':<16} {'pixels':>8} {'differ':>7} {'equal %':>9}")
    for r in res["images"]:
        share = 100 * r["equal"] / r["pixels"]
        print(f"{r['image']:<16} {r['pixels']:>8} {r['pixels'] - r['equal']:>7} {share:>9.4f}")
    print(
        f"imported {res['imported']} file(s); skipped {len(res['skipped'])}; "
        f"unknown labels {res['unknown_labels'] or 'none'}; "
        f"classes added {res['classes_added'] or 'none'}"
    )
    if res["background"]:
        print(f"import summary: {res['background']}")
    ok = res["min_agreement"] is not None and res["min_agreement"] >= res["target"]
    print(
        f"whole set: {res['equal']} of {res['pixels']} pixels equal = "
        f"{100 * (res['agreement'] or 0):.4f} %; worst image {100 * (res['min_agreement'] or 0):.4f} % "
        "(target 99.9 %): " + ("met" if ok else "NOT met")
    )
    if args.out:
        args.out.write_text(json.dumps(res, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
