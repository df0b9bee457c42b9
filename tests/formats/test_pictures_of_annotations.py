"""The picture a COCO or labelme file names is found where the tools that write them put
it: CVAT's "COCO 1.0" ``annotations/instances_default.json`` beside ``images/`` (whose
``file_name`` may hold folders: ``sub1/a.png``), and in other letters' case
(``pic0.JPG`` for ``pic0.jpg``, a dataset made on Windows or macOS). A ``file_name``
with folders that is exactly one project image's name means that image, not every
image of its file name."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from annotator.core.schema import LabelSchema
from annotator.services.exchange import ImportRequest, import_into_project
from annotator.storage.project import Project

H, W = 20, 30
U = 255


def _picture(path: Path, seed: int) -> np.ndarray:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 255, (H, W, 3), np.uint8)
    assert cv2.imwrite(str(path) if path.suffix.islower() else str(path) + ".png", pixels)
    if not path.suffix.islower():  # (cv2 chooses the encoder by a lower-case suffix)
        Path(str(path) + ".png").rename(path)
    return cv2.cvtColor(pixels, cv2.COLOR_BGR2RGB)


def _coco(path: Path, file_names: list[str]) -> None:
    """One box polygon of category 'car' per image: columns 4..15, rows 3..11."""
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "images": [
            {"id": i + 1, "file_name": name, "width": W, "height": H}
            for i, name in enumerate(file_names)
        ],
        "categories": [{"id": 7, "name": "car"}],
        "annotations": [
            {
                "id": i + 1,
                "image_id": i + 1,
                "category_id": 7,
                "segmentation": [[4, 3, 16, 3, 16, 12, 4, 12]],
                "iscrowd": 0,
            }
            for i in range(len(file_names))
        ],
    }
    path.write_text(json.dumps(doc))


def _project(root: Path, name: str = "project") -> Project:
    return Project.create(root / name, LabelSchema.from_names(["background"]))


def _maps(project: Project) -> dict[str, tuple[np.ndarray, np.ndarray | None]]:
    return {r.name: (project.load_image(r), project.load_mask(r)) for r in project.images()}


def _reference(tmp_path: Path) -> np.ndarray:
    """The labels of the same annotation with its picture beside the JSON file, where
    the picture was always found."""
    _picture(tmp_path / "ref" / "sub1" / "a.png", seed=1)
    _coco(tmp_path / "ref" / "ann.json", ["sub1/a.png"])
    with _project(tmp_path, "reference") as project:
        import_into_project(project, ImportRequest("coco", tmp_path / "ref"))
        ((_, labels),) = _maps(project).values()
    assert labels is not None
    assert labels[7, 9] == 1 and labels[0, 0] == U  # the box is car, the rest unlabelled
    return labels


@pytest.mark.parametrize(
    ("json_file", "picture"),
    [
        ("ds/annotations/instances_default.json", "ds/images/sub1/a.png"),  # CVAT
        ("ds/ann.json", "ds/images/sub1/a.png"),  # images/ beside, with the folders
        ("ds/ann.json", "ds/sub1/A.PNG"),  # in other letters' case
    ],
)
def test_the_picture_is_found_where_the_file_name_puts_it(tmp_path, json_file, picture):
    _imports_on_its_picture(tmp_path, json_file, "sub1/a.png", picture)


def _imports_on_its_picture(tmp_path: Path, json_file: str, file_name: str, picture: str):
    """A COCO file naming ``file_name`` at ``json_file`` imports on ``picture``: its
    pixels, and the labels the reference import gives."""
    reference = _reference(tmp_path)
    pixels = _picture(tmp_path / picture, seed=1)
    _coco(tmp_path / json_file, [file_name])
    with _project(tmp_path) as project:
        report = import_into_project(project, ImportRequest("coco", (tmp_path / json_file).parent))
        assert report.added and not report.skipped
        ((image, labels),) = _maps(project).values()
        assert np.array_equal(image, pixels)
        assert np.array_equal(labels, reference)


def test_a_file_name_with_folders_means_the_project_image_of_that_name(tmp_path):
    """After `add P ds/images` (sub1/a.png, sub2/a.png), a JSON without its pictures
    naming sub1/a.png: refused as matching several project images."""
    reference = _reference(tmp_path)
    _picture(tmp_path / "ds" / "images" / "sub1" / "a.png", seed=1)
    _picture(tmp_path / "ds" / "images" / "sub2" / "a.png", seed=2)
    _coco(tmp_path / "elsewhere" / "ann.json", ["sub1/a.png"])
    with _project(tmp_path) as project:
        project.add_images([tmp_path / "ds" / "images"])
        report = import_into_project(project, ImportRequest("coco", tmp_path / "elsewhere"))
        assert not report.skipped and not report.added
        maps = _maps(project)
        assert sorted(maps) == ["sub1/a.png", "sub2/a.png"]
        assert np.array_equal(maps["sub1/a.png"][1], reference)
        assert maps["sub2/a.png"][1] is None


def _labelme(folder: Path, image_path: str) -> None:
    shapes = [{"label": "car", "points": [[4, 3], [15, 11]], "shape_type": "rectangle"}]
    doc = {"shapes": shapes, "imagePath": image_path, "imageData": None}
    (folder / "pic0.json").write_text(json.dumps(doc | {"imageHeight": H, "imageWidth": W}))


def test_a_labelme_picture_is_found_in_other_letters_case(tmp_path):
    """labelme's imagePath pic0.png, the file pic0.PNG: "no image 'pic0.png'"."""
    found = {}
    for name, image_path in (("reference", "pic0.PNG"), ("project", "pic0.png")):
        src = tmp_path / name / "lm"
        pixels = _picture(src / "pic0.PNG", seed=3)
        _labelme(src, image_path)
        with _project(tmp_path / name) as project:
            report = import_into_project(project, ImportRequest("labelme", src))
            assert len(report.added) == 1 and not report.skipped
            ((image, labels),) = _maps(project).values()
            assert np.array_equal(image, pixels)
            found[name] = labels
    assert found["project"] is not None and np.any(found["project"] == 1)
    assert np.array_equal(found["project"], found["reference"])


@pytest.mark.parametrize(
    ("json_file", "file_name", "picture"),
    [
        ("ds/x.json", "/home/me/data/a.png", "ds/a.png"),  # detectron2: an absolute path
        ("ds/x.json", "C:\\data\\a.png", "ds/images/a.png"),  # another machine's, Windows
        ("ds/annotations/x.json", "/home/me/ds/images/a.png", "ds/images/a.png"),
    ],
)
def test_an_absolute_file_name_is_found_by_its_file_name(tmp_path, json_file, file_name, picture):
    """The whole JSON file was refused ("only relative names are allowed"), with or
    without the pictures in the project."""
    _imports_on_its_picture(tmp_path, json_file, file_name, picture)


def test_a_file_name_climbing_out_of_its_folder_is_refused_not_taken_by_its_name(tmp_path):
    """``train/val_ann.json`` naming ``../val/a.png``: looked for by its file name
    alone, it took ``train/a.png``, another picture, for val's labels."""
    from annotator.core.errors import FormatError

    _picture(tmp_path / "ds" / "train" / "a.png", seed=2)  # the namesake, not meant
    _picture(tmp_path / "ds" / "val" / "a.png", seed=1)
    _coco(tmp_path / "ds" / "train" / "val_ann.json", ["../val/a.png"])
    with _project(tmp_path) as project:
        with pytest.raises(FormatError, match="points outside its folder"):
            import_into_project(project, ImportRequest("coco", tmp_path / "ds" / "train"))
        assert project.images() == []


@pytest.mark.parametrize(
    ("json_file", "file_name", "picture"),
    [
        # datumaro's and CVAT's "COCO 1.0" export: a folder per subset below images/
        ("ds/annotations/instances_train.json", "a.png", "ds/images/train/a.png"),
        ("ds/annotations/person_keypoints_Validation.json", "a.png", "ds/images/Validation/a.png"),
        # COCO's own layout: val2017/ beside annotations/
        ("ds/annotations/instances_val2017.json", "a.png", "ds/val2017/a.png"),
        ("ds/annotations/instances_val2017.json", "/data/coco/val2017/a.png", "ds/val2017/a.png"),
    ],
)
def test_the_picture_is_found_in_the_folder_of_the_split_the_json_is_named_for(
    tmp_path, json_file, file_name, picture
):
    """ "no image 'a.png' in the project or next to the annotation", until `add`."""
    _imports_on_its_picture(tmp_path, json_file, file_name, picture)


def test_the_split_the_json_is_named_for_picks_its_picture(tmp_path):
    """images/train/a.png and images/val/a.png: instances_val.json's is val's."""
    reference = _reference(tmp_path)
    _picture(tmp_path / "ds" / "images" / "train" / "a.png", seed=2)
    pixels = _picture(tmp_path / "ds" / "images" / "val" / "a.png", seed=1)
    _coco(tmp_path / "ds" / "annotations" / "instances_val.json", ["a.png"])
    with _project(tmp_path) as project:
        report = import_into_project(project, ImportRequest("coco", tmp_path / "ds"))
        assert report.added and not report.skipped
        ((image, labels),) = _maps(project).values()
        assert np.array_equal(image, pixels)
        assert np.array_equal(labels, reference)


def test_a_dataset_folder_reads_the_coco_files_of_its_annotations_folder(tmp_path):
    """datumaro's coco_instances export given whole: "no COCO JSON file found"."""
    reference = _reference(tmp_path)
    found = {}
    for split, seed in (("train", 1), ("val", 2)):
        found[split] = _picture(tmp_path / "ds" / "images" / split / f"{split}.png", seed)
        _coco(tmp_path / "ds" / "annotations" / f"instances_{split}.json", [f"{split}.png"])
    (tmp_path / "ds" / "annotations" / "notes.json").write_text('{"not": "coco"}')
    with _project(tmp_path) as project:
        report = import_into_project(project, ImportRequest("coco", tmp_path / "ds"))
        assert sorted(report.added) == ["train.png", "val.png"] and not report.skipped
        maps = _maps(project)
        for split, pixels in found.items():
            image, labels = maps[f"{split}.png"]
            assert np.array_equal(image, pixels)
            assert np.array_equal(labels, reference)


def test_a_split_is_read_from_a_json_name_only_as_one_folder_name():
    from annotator.formats.coco import split_of

    assert split_of(Path("instances_default.json")) == "default"
    assert split_of(Path("panoptic_val2017.json")) == "val2017"
    assert split_of(Path("instances_...json")) is None  # '..' climbs out
    assert split_of(Path("instances_.json")) is None
    assert split_of(Path("val.json")) is None


NFC, NFD = "caf\u00e9", "cafe\u0301"  # "café" as most tools write it, and as macOS stores it


def test_a_picture_named_in_the_other_unicode_form_is_found_beside_the_annotation(tmp_path):
    """A COCO file_name 'café.png' composed, the picture's name decomposed (a dataset made
    on macOS): "no image 'café.png' in the project or next to the annotation"."""
    _imports_on_its_picture(tmp_path, "ds/ann.json", f"sub1/{NFC}.png", f"ds/sub1/{NFD}.png")


def test_a_project_image_named_in_the_other_unicode_form_takes_the_labels(tmp_path):
    """COCO (no picture beside it) and a masks folder naming 'café' composed, the project
    image added from a file named decomposed: its labels, not "no image 'café.png'"."""
    reference = _reference(tmp_path)
    pixels = _picture(tmp_path / "pics" / f"{NFD}.png", seed=1)
    _coco(tmp_path / "elsewhere" / "ann.json", [f"{NFC}.png"])
    (tmp_path / "masks").mkdir()
    mask = np.zeros((H, W), np.uint8)
    assert cv2.imwrite(str(tmp_path / "masks" / f"{NFC}.png"), mask)
    with _project(tmp_path) as project:
        project.add_images([tmp_path / "pics"])
        report = import_into_project(project, ImportRequest("coco", tmp_path / "elsewhere"))
        assert not report.skipped and not report.added
        ((image, labels),) = _maps(project).values()
        assert np.array_equal(image, pixels) and np.array_equal(labels, reference)
        report = import_into_project(project, ImportRequest("masks", tmp_path / "masks"))
        assert not report.skipped and not report.added
        ((_, labels),) = _maps(project).values()
        assert labels is not None and np.all(labels == 0)


def test_a_labelme_picture_named_in_the_other_unicode_form_is_found(tmp_path):
    src = tmp_path / "lm"
    pixels = _picture(src / f"{NFD}.png", seed=3)
    _labelme(src, f"{NFC}.png")
    with _project(tmp_path) as project:
        report = import_into_project(project, ImportRequest("labelme", src))
        assert len(report.added) == 1 and not report.skipped
        ((image, labels),) = _maps(project).values()
        assert np.array_equal(image, pixels) and labels is not None and np.any(labels == 1)
