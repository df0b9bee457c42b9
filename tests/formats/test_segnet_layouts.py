"""CamVid as SegNet ships it (``train/`` + ``trainannot/``, ``val/`` + ``valannot/``) and
as datumaro (CVAT's "CamVid 1.0") exports it (``default/`` + ``defaultannot/`` +
``label_colors.txt``): `annotator add` paired those masks with their pictures, but the
masks import of the dataset found no masks ("no PNG, TIFF or NIfTI masks found"), and of
``trainannot/`` no pictures ("no image 'ftrain0' ... next to the annotation"); and every
mask of datumaro's export was refused for its black, the pixels no label covers, which
its ``label_colors.txt`` does not list."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from annotator.core.schema import LabelSchema
from annotator.services.exchange import ImportRequest, import_into_project
from annotator.storage.project import Project

H, W = 18, 24
SKY, BUILDING = (128, 128, 128), (128, 0, 0)


def _picture(path: Path, seed: int) -> np.ndarray:
    """A noisy colour picture written losslessly, returned as RGB."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 255, (H, W, 3), np.uint8)
    assert cv2.imwrite(str(path), pixels)
    return cv2.cvtColor(pixels, cv2.COLOR_BGR2RGB)


def _ids(path: Path, value: int) -> np.ndarray:
    """A grey class-id mask: 0 all over, ``value`` in a square."""
    path.parent.mkdir(parents=True, exist_ok=True)
    mask = np.zeros((H, W), np.uint8)
    mask[2:9, 3:12] = value
    Image.fromarray(mask).save(path)
    return mask


def _project(root: Path, classes: tuple[str, ...]) -> Project:
    return Project.create(root / "project", LabelSchema.from_names(list(classes)))


def _by_name(project: Project) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    out = {}
    for rec in project.images():
        labels = project.load_mask(rec)
        assert labels is not None
        out[rec.name] = (project.load_image(rec), labels)
    return out


def _segnet(src: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """SegNet's CamVid: one stem in both splits, so only the split folder tells which
    picture a mask is of."""
    truth = {}
    for seed, split in enumerate(("train", "val")):
        picture = _picture(src / split / "0.png", seed)
        truth[split] = (picture, _ids(src / f"{split}annot" / "0.png", seed + 1))
    return truth


def test_a_segnet_dataset_imports_each_mask_onto_its_splits_picture(tmp_path):
    src = tmp_path / "CamVid"
    truth = _segnet(src)
    with _project(tmp_path, ("sky", "building", "pole")) as project:
        report = import_into_project(project, ImportRequest("masks", src))
        assert not report.skipped
        got = sorted(_by_name(project).values(), key=lambda pair: int(pair[1].max()))
        for (image, labels), split in zip(got, ("train", "val"), strict=True):
            assert np.array_equal(image, truth[split][0])
            assert np.array_equal(labels, truth[split][1])


def test_a_segnet_mask_folder_finds_its_pictures_in_the_folder_it_is_named_after(tmp_path):
    src = tmp_path / "CamVid"
    truth = _segnet(src)
    with _project(tmp_path, ("sky", "building", "pole")) as project:
        report = import_into_project(project, ImportRequest("masks", src / "valannot"))
        assert not report.skipped
        ((image, labels),) = _by_name(project).values()
        assert np.array_equal(image, truth["val"][0])
        assert np.array_equal(labels, truth["val"][1])


def _datumaro_camvid(
    src: Path, table: str, pictures: str = "default", masks: str = "defaultannot"
) -> tuple[np.ndarray, np.ndarray]:
    """datumaro's CamVid export of a project without a background class: black where
    no label covers a pixel, and black not in label_colors.txt."""
    picture = _picture(src / pictures / "a.png", 4)
    colours = np.zeros((H, W, 3), np.uint8)
    colours[:, 12:] = SKY
    colours[2:6, 14:20] = BUILDING
    (src / masks).mkdir(parents=True)
    Image.fromarray(colours).save(src / masks / "a.png")
    (src / "label_colors.txt").write_text(table)
    (src / "default.txt").write_text("/default/a.png defaultannot/a.png\n")
    labels = np.full((H, W), -1, np.int16)  # (the project's unlabelled)
    labels[:, 12:] = 0
    labels[2:6, 14:20] = 1
    return picture, labels


@pytest.mark.parametrize(
    ("folder", "pictures", "masks"),
    [
        ("", "default", "defaultannot"),
        ("defaultannot", "default", "defaultannot"),
        ("", "images", "labels"),  # (the table alone: a layout always read)
    ],
)
def test_datumaros_camvid_export_leaves_its_black_unlabelled_and_says_so(
    tmp_path, folder, pictures, masks
):
    src = tmp_path / "dm"
    table = "128 128 128 sky\n128 0 0 building\n"
    picture, truth = _datumaro_camvid(src, table, pictures, masks)
    with _project(tmp_path, ("sky", "building")) as project:
        report = import_into_project(project, ImportRequest("masks", src / folder))
        assert not report.skipped
        ((image, labels),) = _by_name(project).values()
        assert np.array_equal(image, picture)
        want = np.where(truth < 0, project.schema.unlabelled, truth)
        assert np.array_equal(labels, want)
    (note,) = [n for n in report.notes if "black" in n]
    assert "216 black (0,0,0) pixel(s) in 1 mask(s) were left unlabelled" in note
    assert "label_colors.txt lists no colour for black" in note
