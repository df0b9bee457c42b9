"""An import given the wrong ``--format`` says which format the source looks like; a YOLO
import takes the ``data.yaml`` itself. (An audit: ``import P DIR --format masks`` of a VOC
folder said only "no PNG or TIFF masks found"; ``import P exu_yolo/data.yaml --format
yolo`` was refused with "expected a YOLO dataset folder".)"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from fmthelpers import CLASSES, DATA, make_project

from annotator.cli import main
from annotator.core.errors import FormatError
from annotator.core.schema import LabelSchema
from annotator.formats.base import ImportOptions
from annotator.formats.voc import read_voc
from annotator.formats.yolo import read_yolo
from annotator.services.exchange import (
    ExportRequest,
    ImportRequest,
    export_project,
    import_into_project,
)
from annotator.storage.project import Project

U = 255
FORMATS = ("voc", "masks", "coco", "labelme", "yolo")


def _masks() -> dict[str, np.ndarray]:
    a = np.full((8, 10), U, np.uint8)
    a[1:5, 2:7] = 1
    a[5:8, 0:4] = 2
    b = np.zeros((6, 6), np.uint8)
    b[2:4, 2:4] = 2
    return {"a": a, "b": b}


@pytest.fixture(scope="module")
def exports(tmp_path_factory) -> dict[str, Path]:
    """An export of one small project in every format."""
    tmp = tmp_path_factory.mktemp("exports")
    with make_project(tmp, _masks()) as project:
        for fmt in FORMATS:
            export_project(project, ExportRequest(format=fmt, out=tmp / fmt, split=(1.0, 0.0, 0.0)))
    return {fmt: tmp / fmt for fmt in FORMATS}


def _import_error(tmp_path: Path, src: Path, fmt: str) -> str:
    project = Project.create(tmp_path / "p", LabelSchema.from_names(list(CLASSES)))
    with project, pytest.raises(FormatError) as err:
        import_into_project(project, ImportRequest(format=fmt, src=src))
    return str(err.value)


# (the masks import reads a VOC folder's SegmentationClass/ as it is)
WRONG = [
    (tried, right)
    for tried in (*FORMATS, "labelstudio")
    for right in FORMATS
    if tried != right and (tried, right) != ("masks", "voc")
]


@pytest.mark.parametrize(("tried", "right"), WRONG)
def test_a_wrong_format_names_the_right_one(tmp_path, exports, tried, right):
    message = _import_error(tmp_path, exports[right], tried)
    assert f"with --format {right}" in message, message
    assert message.count("--format") == 1


def test_a_voc_folder_without_pictures_read_as_masks_names_voc(tmp_path, capsys):
    """labelme's labelme2voc output (SegmentationClass/, no picture folder beside it),
    imported as masks: nothing was found, and nothing said VOC."""
    voc = tmp_path / "voc"
    (voc / "SegmentationClass").mkdir(parents=True)
    shutil.copy(DATA / "labelme_semantic/2011_000003_voc.png", voc / "SegmentationClass")
    Project.create(tmp_path / "p", LabelSchema.from_names(list(CLASSES))).close()
    code = main(["import", str(tmp_path / "p"), str(voc), "--format", "masks"])
    err = capsys.readouterr().err.strip()
    assert code == 1 and err.count("\n") == 0
    assert "no PNG, TIFF or NIfTI masks found" in err
    assert err.endswith("; it looks like a VOC dataset: import it with --format voc")
    assert len(read_voc(voc, ImportOptions()).items) == 1


def test_a_folder_of_datasets_names_its_subfolders(tmp_path, exports):
    """labelme-examples/instance holds coco/ and data_annotated/: the hint names each
    with the path to import."""
    top = tmp_path / "top"
    shutil.copytree(exports["coco"], top / "coco")
    shutil.copytree(exports["labelme"] / "train", top / "annotated")
    message = _import_error(tmp_path, top, "masks")
    assert (
        f"; annotated/ holds labelme files: import {top / 'annotated'} with --format labelme"
        f"; coco/ holds COCO: import {top / 'coco'} with --format coco"
    ) in message


def test_a_source_of_the_right_format_gets_no_hint(tmp_path):
    """A VOC folder whose SegmentationClass/ is empty is VOC: its error says so alone."""
    from annotator.formats.detect import format_hint

    (tmp_path / "voc" / "SegmentationClass").mkdir(parents=True)
    message = _import_error(tmp_path, tmp_path / "voc", "voc")
    assert "no PNG masks found" in message and "--format" not in message
    assert format_hint(tmp_path / "voc", "voc") == ""
    assert format_hint(tmp_path / "nothing", "masks") == ""


def test_a_json_file_of_another_format_names_it(tmp_path):
    coco = DATA / "coco_instance/annotations.json"
    labelme = DATA / "labelme_semantic/2011_000003.json"
    assert "it looks like COCO: import it with --format coco" in _import_error(
        tmp_path / "1", coco, "labelme"
    )
    assert "it looks like labelme files: import it with --format labelme" in _import_error(
        tmp_path / "2", labelme, "coco"
    )


# --- YOLO's data.yaml ------------------------------------------------------------------


def _read(src: Path) -> dict[str, np.ndarray]:
    result = read_yolo(src, ImportOptions())
    assert not result.errors
    return {item.image_name: item.mask for item in result.items if item.mask is not None}


def test_the_data_yaml_of_an_export_imports_as_its_folder(tmp_path, exports):
    data_yaml = exports["yolo"] / "data.yaml"
    read = _read(data_yaml)
    assert sorted(read) == ["a.png", "b.png"]
    folder = _read(exports["yolo"])
    assert all(np.array_equal(read[k], folder[k]) for k in folder)
    with make_project(tmp_path, _masks()) as project:
        report = import_into_project(project, ImportRequest(format="yolo", src=data_yaml))
        assert sorted(report.matched) == ["a.png", "b.png"] and not report.added


def _copy_split_first(exports: dict[str, Path], root: Path) -> None:
    """The export as Roboflow lays it out: train/images, train/labels; valid/..."""
    for split, stem in (("train", "a"), ("valid", "b")):
        (root / split / "images").mkdir(parents=True)
        (root / split / "labels").mkdir(parents=True)
        shutil.copy(exports["yolo"] / f"images/train/{stem}.png", root / split / "images")
        shutil.copy(exports["yolo"] / f"labels/train/{stem}.txt", root / split / "labels")


def test_a_roboflow_data_yaml_reads_its_splits(tmp_path, exports):
    """Roboflow writes ``train: ../train/images``: ultralytics reads a missing ``../x``
    as ``x``."""
    root = tmp_path / "rf"
    _copy_split_first(exports, root)
    (root / "data.yaml").write_text(
        "train: ../train/images\nval: ../valid/images\nnc: 3\n"
        "names: ['background', 'cell', 'nucleus']\n"
    )
    assert sorted(_read(root / "data.yaml")) == ["a.png", "b.png"]
    # a YAML naming only the training images reads only those
    (root / "train.yaml").write_text(
        "train: train/images\nval: train/images\nnames: [background, cell, nucleus]\n"
    )
    assert sorted(_read(root / "train.yaml")) == ["a.png"]


def test_a_data_yaml_elsewhere_reads_its_path(tmp_path, exports):
    """``path`` names the dataset's folder (absolute, or relative to the current folder
    as ultralytics reads it, else to the YAML's); a list of images in a .txt file."""
    configs = tmp_path / "configs"
    configs.mkdir()
    doc = {"path": str(exports["yolo"]), "train": "images/train", "names": list(CLASSES)}
    (configs / "abs.yaml").write_text(yaml.safe_dump(doc))
    assert sorted(_read(configs / "abs.yaml")) == ["a.png", "b.png"]
    shutil.copytree(exports["yolo"], tmp_path / "ds")
    (tmp_path / "ds" / "train.txt").write_text("./images/train/b.png\n")
    doc = {"path": "../ds", "train": "train.txt", "val": "train.txt", "names": list(CLASSES)}
    (configs / "rel.yaml").write_text(yaml.safe_dump(doc))
    assert sorted(_read(configs / "rel.yaml")) == ["b.png"]


def test_a_data_yaml_given_relative_may_list_absolute_paths(tmp_path, exports, monkeypatch):
    """Found by an audit: `annotator import P data.yaml` (relative, run from its folder)
    whose train/val or image list are absolute paths ended in an internal error
    ("Can't mix absolute and relative paths"); and `path: .` run from another folder
    found nothing (the current folder, where ultralytics reads it)."""
    ds = tmp_path / "ds"
    shutil.copytree(exports["yolo"], ds)
    (ds / "val.txt").write_text(f"{ds / 'images/train/b.png'}\n")
    doc = {"train": str(ds / "images/train"), "val": "val.txt", "names": list(CLASSES)}
    (ds / "data.yaml").write_text(yaml.safe_dump(doc))
    monkeypatch.chdir(ds)
    assert sorted(_read(Path("data.yaml"))) == ["a.png", "b.png"]
    doc = {"path": ".", "train": "images/train", "names": list(CLASSES)}
    (ds / "dot.yaml").write_text(yaml.safe_dump(doc))
    monkeypatch.chdir(tmp_path)
    assert sorted(_read(ds / "dot.yaml")) == ["a.png", "b.png"]


def test_a_data_yaml_that_names_nothing_found_says_so(tmp_path, exports):
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: images/train\nnames: [a]\n")
    with pytest.raises(FormatError, match=r"bad.yaml: its images are not found \(images/train"):
        read_yolo(bad, ImportOptions())
    bad.write_text("path: /no/such/folder\ntrain: images/train\nnames: [a]\n")
    with pytest.raises(FormatError, match=r"its 'path' '/no/such/folder' is not a folder"):
        read_yolo(bad, ImportOptions())
    bad.write_text("train: images/train\n")
    with pytest.raises(FormatError, match="not a YOLO dataset YAML"):
        read_yolo(bad, ImportOptions())
    message = _import_error(tmp_path, exports["yolo"] / "data.yaml", "coco")
    assert message.endswith(
        "not a JSON file; it looks like a YOLO dataset: import it with --format yolo"
    )


def test_a_yaml_or_json_file_given_to_the_masks_import_gets_the_hint(tmp_path, exports):
    """It was read as a TIFF ("corrupt or unreadable TIFF (not a TIFF file: header=...)")."""
    message = _import_error(tmp_path, exports["yolo"] / "data.yaml", "masks")
    assert message.startswith(f"{exports['yolo'] / 'data.yaml'}: not a PNG or TIFF mask")
    assert message.endswith("it looks like a YOLO dataset: import it with --format yolo")
