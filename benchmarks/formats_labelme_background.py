"""labelme JSON into a project with labels.txt's classes, *without* ``--labels``, -> VOC.

    python benchmarks/formats_labelme_background.py /work/shared/data/labelme-examples/semantic [--out FILE]

What a labelme user does: create the project with the classes of ``labels.txt``
(``__ignore__`` is void, not a class), then import the ``data_annotated`` folder, which
has no ``labels.txt`` of its own. The pixels no shape covers must become the project's
``_background_`` class, as labelme's ``labelme2voc`` makes them. Exports ``voc`` and
compares with labelme's ``voc/SegmentationClass/*.png``: pixels equal, per image and
over the whole set. Target: at least 99.9 %.
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

    names = [
        n
        for n in (folder / "labels.txt").read_text().splitlines()
        if n.strip() and n != "__ignore__"
    ]
    with tempfile.TemporaryDirectory() as tmp:
        with Project.create(Path(tmp) / "project", LabelSchema.from_names(names)) as project:
            imp = import_into_project(project, ImportRequest("labelme", folder / "data_annotated"))
            out = Path(tmp) / "voc"
            export_project(project, ExportRequest("voc", out, split=(1.0, 0.0, 0.0)))
        rows = []
        for ref_file in sorted((folder / "voc" / "SegmentationClass").glob("*.png")):
            ref = decode_mask_png(ref_file)
            ours = decode_mask_png(out / "SegmentationClass" / ref_file.name)
            same = ref.shape == ours.shape
            rows.append(
                {
                    "image": ref_file.stem,
                    "pixels": int(ref.size),
                    "equal": int(np.count_nonzero(ref == ours)) if same else 0,
                }
            )
    total = sum(r["pixels"] for r in rows)
    equal = sum(r["equal"] for r in rows)
    return {
        "imported": len(imp.imported),
        "skipped": imp.skipped,
        "classes_added": imp.classes_added,
        "background": imp.background,
        "images": rows,
        "pixels": total,
        "equal": equal,
        "agreement": equal / total if total else None,
        "target": 0.999,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="labelme-examples/semantic")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    args = parser.parse_args(argv)
    res = run(args.folder)
    print(f"{'image':<16} {'pixels':>8} {'differ':>7} {'equal %':>9}")
    for r in res["images"]:
        share = 100 * r["equal"] / r["pixels"]
        print(f"{r['image']:<16} {r['pixels']:>8} {r['pixels'] - r['equal']:>7} {share:>9.4f}")
    print(
        f"imported {res['imported']} file(s); skipped {len(res['skipped'])}; "
        f"classes added {res['classes_added'] or 'none'}"
    )
    print(f"import summary: {res['background']}")
    ok = res["agreement"] is not None and res["agreement"] >= res["target"]
    print(
        f"whole set: {res['equal']} of {res['pixels']} pixels equal = "
        f"{100 * (res['agreement'] or 0):.4f} % (target 99.9 %): " + ("met" if ok else "NOT met")
    )
    if args.out:
        args.out.write_text(json.dumps(res, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
