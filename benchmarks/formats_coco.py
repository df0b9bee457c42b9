"""COCO: import labelme's instance COCO file, export COCO, compare with pycocotools.

    python benchmarks/formats_coco.py /work/shared/data/labelme-examples/instance [--out FILE]

The folder holds ``coco/annotations.json`` (labelme2coco output, polygons, one
annotation per object instance) and ``data_annotated/*.jpg``.

A project is a *semantic* label map, so instances of one class that touch or overlap
merge into one region, and where annotations of different classes overlap the later
one wins (as in the import). The comparison is therefore made three ways:

1. **per class** (fair for a semantic map): the reference is the original annotations
   painted in file order into one class map; for each image and class we compare the
   reference class mask with the union of our exported annotations of that class.
2. **per annotation, separable ones**: an original instance that touches no other
   instance of its class (8-neighbourhood) and is not covered by a later annotation
   must come out as exactly its exported regions: IoU with the union of the exported
   annotations of its class that overlap it (one instance may be several regions).
   Instances that merge or are occluded are listed apart with the same IoU.
3. **RLE round trip**: export with RLE (iscrowd 1), import that into a fresh project,
   export RLE again; every annotation must be identical (IoU exactly 1.0).
Targets: IoU >= 0.99 for polygons, exactly 1.0 for RLE round trips.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.count_nonzero(a | b)
    return 1.0 if union == 0 else float(np.count_nonzero(a & b) / union)


def _decode_file(path: Path) -> dict[str, list[tuple[str, np.ndarray]]]:
    """file base name -> [(category name, bool mask)] in annotation order."""
    from annotator.formats.coco import decode_segmentation

    data = json.loads(path.read_text())
    cats = {c["id"]: c["name"] for c in data["categories"]}
    images = {im["id"]: im for im in data["images"]}
    out: dict[str, list[tuple[str, np.ndarray]]] = {
        Path(im["file_name"]).name: [] for im in data["images"]
    }
    for ann in data["annotations"]:
        im = images[ann["image_id"]]
        m = decode_segmentation(ann["segmentation"], im["height"], im["width"], "benchmark")
        out[Path(im["file_name"]).name].append((cats[ann["category_id"]], m))
    return out


def _check_area_bbox(path: Path) -> int:
    """Annotations whose area/bbox differ from pycocotools' own of the decoded mask."""
    from pycocotools import mask as mu

    data = json.loads(path.read_text())
    images = {im["id"]: im for im in data["images"]}
    bad = 0
    for ann in data["annotations"]:
        im = images[ann["image_id"]]
        seg = ann["segmentation"]
        if isinstance(seg, list):
            rle = mu.merge(mu.frPyObjects(seg, im["height"], im["width"]))
        else:
            rle = {"size": seg["size"], "counts": seg["counts"].encode()}
        if float(mu.area(rle)) != ann["area"] or list(mu.toBbox(rle)) != ann["bbox"]:
            bad += 1
    return bad


def run(folder: Path) -> dict:
    from annotator.core.schema import LabelSchema
    from annotator.services.exchange import (
        ExportRequest,
        ImportRequest,
        export_project,
        import_into_project,
    )
    from annotator.storage.project import Project

    source = folder / "coco" / "annotations.json"
    original = _decode_file(source)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        with Project.create(tmp / "p", LabelSchema.from_names(["_background_"])) as project:
            project.add_images(sorted((folder / "data_annotated").glob("*.jpg")))
            imp = import_into_project(project, ImportRequest("coco", source))
            export_project(project, ExportRequest("coco", tmp / "poly", split=(1, 0, 0)))
            export_project(
                project, ExportRequest("coco", tmp / "rle", split=(1, 0, 0), coco_mode="rle")
            )
        poly = _decode_file(tmp / "poly" / "train.json")
        rle = _decode_file(tmp / "rle" / "train.json")
        area_bbox_bad = _check_area_bbox(tmp / "poly" / "train.json") + _check_area_bbox(
            tmp / "rle" / "train.json"
        )
        with Project.create(tmp / "q", LabelSchema.from_names(["_background_"])) as second:
            import_into_project(second, ImportRequest("coco", tmp / "rle" / "train.json"))
            export_project(
                second, ExportRequest("coco", tmp / "rle2", split=(1, 0, 0), coco_mode="rle")
            )
        rle2 = _decode_file(tmp / "rle2" / "train.json")

    per_class, separable, merged, rle_rows = [], [], [], []
    for name, anns in original.items():
        shape = anns[0][1].shape if anns else None
        if shape is None:
            continue
        painted = np.full(shape, "", dtype=object)
        for cat, m in anns:
            painted[m] = cat
        for cat in sorted({c for c, _ in anns}):
            ref = painted == cat
            for label, exported in (("polygon", poly), ("rle", rle)):
                ours = np.zeros(shape, bool)
                for c, m in exported.get(name, []):
                    if c == cat:
                        ours |= m
                per_class.append(
                    {"image": name, "class": cat, "mode": label, "iou": _iou(ref, ours)}
                )
        for k, (cat, m) in enumerate(anns):
            same = [o for j, (c, o) in enumerate(anns) if c == cat and j != k]
            grown = np.zeros(shape, np.uint8)
            grown[m] = 1
            import cv2

            grown = cv2.dilate(grown, np.ones((3, 3), np.uint8)).astype(bool)
            touches = any(np.any(grown & o) for o in same)
            covered = any(np.any(m & o) for c, o in anns[k + 1 :] if c != cat)
            # An instance may be several 8-connected regions (several polygons, thin
            # parts): compare with the union of the exported regions of its class that
            # overlap it.
            ours = np.zeros(shape, bool)
            for c, o in poly.get(name, []):
                if c == cat and np.any(o & m):
                    ours |= o
            row = {"image": name, "annotation": k, "class": cat, "iou": _iou(m, ours)}
            (merged if touches or covered else separable).append(row)
    for name, anns in rle.items():
        again = rle2.get(name, [])
        for k, (cat, m) in enumerate(anns):
            same = k < len(again) and again[k][0] == cat and np.array_equal(again[k][1], m)
            rle_rows.append(
                {
                    "image": name,
                    "annotation": k,
                    "class": cat,
                    "identical": bool(same),
                    "iou": _iou(m, again[k][1]) if k < len(again) else 0.0,
                }
            )
    poly_cls = [r["iou"] for r in per_class if r["mode"] == "polygon"]
    rle_cls = [r["iou"] for r in per_class if r["mode"] == "rle"]
    return {
        "imported": len(imp.imported),
        "skipped": imp.skipped,
        "per_class": per_class,
        "per_class_polygon_min_iou": min(poly_cls),
        "per_class_rle_min_iou": min(rle_cls),
        "separable_annotations": separable,
        "separable_min_iou": min((r["iou"] for r in separable), default=None),
        "merged_annotations": merged,
        "rle_round_trip": rle_rows,
        "rle_round_trip_all_identical": all(r["identical"] for r in rle_rows) and bool(rle_rows),
        "rle_round_trip_annotation_count": [
            sum(len(v) for v in rle.values()),
            sum(len(v) for v in rle2.values()),
        ],
        "area_bbox_mismatches": area_bbox_bad,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="labelme-examples/instance")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    args = parser.parse_args(argv)
    res = run(args.folder)
    print(f"imported {res['imported']} image(s), skipped {len(res['skipped'])}")
    print(f"{'image':<18} {'class':<12} {'mode':<8} {'IoU':>8}")
    for r in res["per_class"]:
        print(f"{r['image']:<18} {r['class']:<12} {r['mode']:<8} {r['iou']:>8.5f}")
    print(
        f"per class: min IoU polygon {res['per_class_polygon_min_iou']:.5f}, "
        f"RLE {res['per_class_rle_min_iou']:.5f}"
    )
    print(
        f"separable annotations: {len(res['separable_annotations'])}, min IoU "
        f"{res['separable_min_iou']}"
    )
    for r in res["merged_annotations"]:
        print(
            f"  merged/occluded: {r['image']} #{r['annotation']} {r['class']}: IoU {r['iou']:.4f}"
        )
    n1, n2 = res["rle_round_trip_annotation_count"]
    print(
        f"RLE round trip: {n1} -> {n2} annotations, all identical: "
        f"{res['rle_round_trip_all_identical']}"
    )
    print(f"area/bbox differing from pycocotools: {res['area_bbox_mismatches']}")
    if args.out:
        args.out.write_text(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
