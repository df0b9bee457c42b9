"""No path escapes: names and links in imported files never reach outside their folder.

Every entrance gets an attack pointing at an ``outside/`` folder of canary files:
``..`` names, absolute names and symbolic links in labelme ``imagePath``, COCO
``file_name``, YOLO and VOC folders, mask folders, and crafted class and image names on
export. An audit hook records every path Python opens or lists; none may resolve into
``outside/``, the project must be unchanged by a refused import, and an export must write
nothing outside its output folder.
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import cv2
import numpy as np
import pytest

from .helpers import cli, make_project, snapshot_outside, touched_under, tree_hash, watch_opens

SIZE = 32


@pytest.fixture
def world(tmp_path):
    """``proj`` (3 images, 2 labelled), ``src/`` (the chosen import folder) and
    ``outside/`` holding canaries every attack aims at."""
    proj = make_project(tmp_path, n_images=3, size=SIZE, labelled=2)
    outside = tmp_path / "outside"
    outside.mkdir()
    rng = np.random.default_rng(1)
    cv2.imwrite(str(outside / "canary.png"), rng.integers(0, 255, (SIZE, SIZE), np.uint8))
    cv2.imwrite(str(outside / "canary.jpg"), rng.integers(0, 255, (SIZE, SIZE, 3), np.uint8))
    cv2.imwrite(str(outside / "canary_mask.png"), np.ones((SIZE, SIZE), np.uint8))
    (outside / "canary.txt").write_text("1 0.1 0.1 0.9 0.1 0.9 0.9\n")
    (outside / "canary.json").write_text(json.dumps(_labelme("canary.png")))
    (outside / "sub").mkdir()
    (outside / "sub" / "canary.json").write_text(json.dumps(_labelme("canary.png")))
    src = tmp_path / "src"
    src.mkdir()
    return proj, src, outside


def _labelme(image_path: str) -> dict:
    return {
        "version": "5.0.0",
        "shapes": [
            {"label": "cell", "points": [[2, 2], [20, 2], [20, 20]], "shape_type": "polygon"}
        ],
        "imagePath": image_path,
        "imageData": None,
        "imageHeight": SIZE,
        "imageWidth": SIZE,
    }


def _coco(file_name: str) -> dict:
    return {
        "images": [{"id": 1, "file_name": file_name, "width": SIZE, "height": SIZE}],
        "annotations": [
            {
                "id": 1,
                "image_id": 1,
                "category_id": 1,
                "segmentation": [[2, 2, 20, 2, 20, 20]],
                "area": 100,
                "bbox": [2, 2, 18, 18],
                "iscrowd": 0,
            }
        ],
        "categories": [{"id": 1, "name": "cell"}],
    }


def _link(link: Path, target: Path) -> None:
    link.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(target, link)


# Each attack fills src/ and returns the --format to import it with.
def _labelme_dotdot(src, out):
    (src / "a.json").write_text(json.dumps(_labelme("../outside/canary.png")))
    return "labelme"


def _labelme_absolute(src, out):
    (src / "a.json").write_text(json.dumps(_labelme(str(out / "canary.png"))))
    return "labelme"


def _labelme_backslash(src, out):
    (src / "a.json").write_text(json.dumps(_labelme("..\\outside\\canary.png")))
    return "labelme"


def _labelme_symlinked_image(src, out):
    _link(src / "link.png", out / "canary.png")
    (src / "a.json").write_text(json.dumps(_labelme("link.png")))
    return "labelme"


def _labelme_symlinked_json(src, out):
    _link(src / "a.json", out / "canary.json")
    return "labelme"


def _labelme_symlinked_folder(src, out):
    _link(src / "sub", out / "sub")
    (src / "ok.txt").write_text("")
    return "labelme"


def _coco_dotdot(src, out):
    (src / "annotations.json").write_text(json.dumps(_coco("../outside/canary.png")))
    return "coco"


def _coco_absolute(src, out):
    (src / "annotations.json").write_text(json.dumps(_coco(str(out / "canary.png"))))
    return "coco"


def _coco_symlinked_image(src, out):
    _link(src / "images" / "link.png", out / "canary.png")
    (src / "annotations.json").write_text(json.dumps(_coco("link.png")))
    return "coco"


def _coco_symlinked_json(src, out):
    (out / "coco.json").write_text(json.dumps(_coco("canary.png")))
    _link(src / "annotations.json", out / "coco.json")
    return "coco"


def _yolo_symlinked_image(src, out):
    (src / "data.yaml").write_text("names: [background, cell, nucleus]\n")
    (src / "labels" / "train").mkdir(parents=True)
    (src / "labels" / "train" / "link.txt").write_text("1 0.1 0.1 0.9 0.1 0.9 0.9\n")
    _link(src / "images" / "train" / "link.png", out / "canary.png")
    return "yolo"


def _yolo_symlinked_labels(src, out):
    (src / "data.yaml").write_text("names: [background, cell, nucleus]\n")
    _link(src / "labels" / "train" / "canary.txt", out / "canary.txt")
    (src / "images" / "train").mkdir(parents=True)
    cv2.imwrite(str(src / "images" / "train" / "canary.png"), np.zeros((SIZE, SIZE), np.uint8))
    return "yolo"


def _yolo_symlinked_yaml(src, out):
    (out / "data.yaml").write_text("names: [background, cell, nucleus]\n")
    _link(src / "data.yaml", out / "data.yaml")
    (src / "labels").mkdir()
    (src / "labels" / "x.txt").write_text("1 0.1 0.1 0.9 0.1 0.9 0.9\n")
    return "yolo"


def _voc_symlinked_mask(src, out):
    _link(src / "SegmentationClass" / "canary.png", out / "canary_mask.png")
    return "voc"


def _voc_symlinked_image(src, out):
    (src / "SegmentationClass").mkdir()
    cv2.imwrite(str(src / "SegmentationClass" / "canary.png"), np.ones((SIZE, SIZE), np.uint8))
    _link(src / "JPEGImages" / "canary.jpg", out / "canary.jpg")
    return "voc"


def _voc_list_dotdot(src, out):
    (src / "SegmentationClass").mkdir()
    (src / "ImageSets" / "Segmentation").mkdir(parents=True)
    (src / "ImageSets" / "Segmentation" / "train.txt").write_text("../../outside/canary\n")
    cv2.imwrite(str(src / "SegmentationClass" / "x.png"), np.ones((SIZE, SIZE), np.uint8))
    return "voc"


def _masks_symlinked_mask(src, out):
    _link(src / "canary.png", out / "canary_mask.png")
    return "masks"


def _masks_symlinked_image(src, out):
    (src / "masks").mkdir()
    cv2.imwrite(str(src / "masks" / "canary.png"), np.ones((SIZE, SIZE), np.uint8))
    _link(src / "images" / "canary.png", out / "canary.png")
    return "masks"


def _masks_names_file_symlink(src, out):
    (out / "class_names.txt").write_text("background\ncell\nnucleus\n")
    _link(src / "class_names.txt", out / "class_names.txt")
    cv2.imwrite(str(src / "x.png"), np.ones((SIZE, SIZE), np.uint8))
    return "masks"


IMPORT_ATTACKS = {
    f.__name__.lstrip("_"): f
    for f in (
        _labelme_dotdot,
        _labelme_absolute,
        _labelme_backslash,
        _labelme_symlinked_image,
        _labelme_symlinked_json,
        _labelme_symlinked_folder,
        _coco_dotdot,
        _coco_absolute,
        _coco_symlinked_image,
        _coco_symlinked_json,
        _yolo_symlinked_image,
        _yolo_symlinked_labels,
        _yolo_symlinked_yaml,
        _voc_symlinked_mask,
        _voc_symlinked_image,
        _voc_list_dotdot,
        _masks_symlinked_mask,
        _masks_symlinked_image,
        _masks_names_file_symlink,
    )
}


@pytest.mark.parametrize("attack", sorted(IMPORT_ATTACKS))
def test_import_never_reaches_outside(world, attack):
    proj, src, outside = world
    fmt = IMPORT_ATTACKS[attack](src, outside)
    before = tree_hash(proj)
    with watch_opens() as seen:
        result = cli("import", proj, src, "--format", fmt)
    assert result.code == 1, (result.code, result.out, result.err)
    assert "Traceback" not in result.err
    lines = result.err_lines  # one line per refused file and their count, or one error line
    assert lines and all(
        x.startswith(("annotator: error:", "skipped "))
        or x.endswith("item(s) skipped (reasons above)")
        for x in lines
    ), lines
    assert not touched_under(seen, outside), touched_under(seen, outside)
    assert tree_hash(proj) == before, "a refused import changed the project"


HOSTILE_NAMES = ["../../evil", "..", "a/b", "/abs/evil", "C:\\evil", "x\\..\\..\\evil", ".hidden"]


def _craft(proj: Path, classes: list[str] | None, names: list[str] | None) -> None:
    conn = sqlite3.connect(proj / "annotator.sqlite")
    if classes:
        for i, name in enumerate(classes):
            conn.execute("UPDATE classes SET name = ? WHERE id = ?", (name, i))
    if names:
        ids = [r[0] for r in conn.execute("SELECT id FROM images ORDER BY id")]
        for i, name in zip(ids, names):
            conn.execute("UPDATE images SET name = ? WHERE id = ?", (name, i))
    conn.commit()
    conn.close()


@pytest.mark.parametrize("fmt", ["voc", "masks", "coco", "labelme", "yolo", "nnunet"])
@pytest.mark.parametrize("what", ["class-names", "image-names"])
def test_export_writes_only_into_its_output_folder(tmp_path, fmt, what):
    proj = make_project(tmp_path, n_images=3, size=SIZE, labelled=3)
    if what == "class-names":
        _craft(proj, ["../../evil", "a/b", "/abs/evil"], None)
    else:
        _craft(proj, None, ["../../../evil.png", "/abs/evil.png", "sub/../../x.png"])
    out = tmp_path / "exports" / "out"
    before = snapshot_outside(tmp_path)
    result = cli("export", proj, out, "--format", fmt, "--split", "1")
    assert result.code in (0, 1), result.err
    assert "Traceback" not in result.err
    after = snapshot_outside(tmp_path)
    real_out = out.resolve()
    changed = [
        p
        for p in set(after) | set(before)
        if after.get(p) != before.get(p) and real_out not in Path(p).resolve().parents
    ]
    assert not changed, changed
    if result.code == 0:
        for p in out.rglob("*"):
            assert p.resolve() == real_out or real_out in p.resolve().parents
            assert not p.is_symlink()
        assert not [p for p in (tmp_path / "exports").iterdir() if p.name != "out"]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_class_names_from_the_cli_stay_data(tmp_path, name):
    """``new --classes`` with path-like names: refused in one line, or kept as plain
    data that no file name is built from (the export test above checks the files)."""
    result = cli("new", tmp_path / "p", "--classes", f"background,{name}")
    assert result.code in (0, 1) and "Traceback" not in result.err
    assert set(os.listdir(tmp_path)) <= {"p"}
