"""A masks import into a project without the pictures brings the picture each mask lies
beside, as real downloads ship them and as ``annotator add`` pairs them: it found one
only in ``images/`` of a mask folder named exactly ``masks`` and of the mask's own stem,
so Kaggle's ``masks/img0_mask.png``, a flat ``img0.jpg`` by ``img0_mask.png``, ISBI's
``labels/`` (the shared dataset: "nothing imported: all 30 item(s) were skipped"),
``Masks/``, Kaggle LGG's ``case_1.tif`` by ``case_1_mask.tif`` and Roboflow's
``x_jpg.rf.H.jpg`` by ``x_jpg.rf.H_mask.png`` imported nothing."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from annotator.core.errors import FormatError
from annotator.core.schema import LabelSchema
from annotator.services.exchange import ImportRequest, import_into_project
from annotator.storage.project import Project

H, W = 20, 30


def _picture(path: Path, seed: int) -> np.ndarray:
    """A noisy colour picture written losslessly (PNG, TIFF), returned as it reads back."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 255, (H, W, 3), np.uint8)
    assert cv2.imwrite(str(path), pixels)
    return cv2.imread(str(path), cv2.IMREAD_UNCHANGED)


def _mask(path: Path, values: tuple[int, ...] = (0, 255)) -> np.ndarray:
    """A mask of ``values``: the first all over, the next in a square, a third in a bar."""
    path.parent.mkdir(parents=True, exist_ok=True)
    mask = np.full((H, W), values[0], np.uint8)
    mask[3:12, 4:14] = values[1]
    if len(values) > 2:
        mask[14:18, 10:26] = values[2]
    Image.fromarray(mask).save(path)
    return mask


def _project(root: Path, classes: tuple[str, ...] = ("background", "tumor")) -> Project:
    return Project.create(root / "project", LabelSchema.from_names(list(classes)))


def _only(project: Project) -> tuple[str, np.ndarray, np.ndarray]:
    (rec,) = project.images()
    labels = project.load_mask(rec)
    assert labels is not None
    return rec.name, project.load_image(rec), labels


def _rgb(bgr: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _binary(mask: np.ndarray) -> np.ndarray:
    return (mask == 255).astype(np.uint8)


@pytest.mark.parametrize(
    ("picture", "mask"),
    [
        ("images/img0.png", "masks/img0_mask.png"),  # Kaggle's naming
        ("img0.png", "img0_mask.png"),  # a flat folder
        ("images/img0.png", "labels/img0.png"),  # ISBI's folders
        ("images/img0.png", "Masks/img0.png"),  # in any case
        ("Images/img0.png", "annotations/img0.png"),
        ("JPEGImages/img0.png", "SegmentationClass/img0.png"),
        ("images/val/img0.png", "labels/val/img0.png"),  # a split below each
        ("case/case_1.tif", "case/case_1_mask.tif"),  # Kaggle LGG
    ],
)
def test_a_picture_beside_its_mask_is_brought_with_it(tmp_path, picture, mask):
    src = tmp_path / "ds"
    pixels = _picture(src / picture, seed=3)
    truth = _mask(src / mask)
    with _project(tmp_path) as project:
        report = import_into_project(project, ImportRequest("masks", src))
        assert not report.skipped
        name, image, labels = _only(project)
        assert name == Path(picture).name
        assert np.array_equal(image, _rgb(pixels))
        assert np.array_equal(labels, _binary(truth))


def test_the_split_a_mask_lies_in_says_which_picture(tmp_path):
    """labels/val/0.png is images/val/0.png's, not images/train/0.png's."""
    src = tmp_path / "ds"
    _picture(src / "images" / "train" / "0.png", seed=1)
    val = _picture(src / "images" / "val" / "0.png", seed=2)
    truth = _mask(src / "labels" / "val" / "0.png")
    with _project(tmp_path) as project:
        import_into_project(project, ImportRequest("masks", src / "labels"))
        _, image, labels = _only(project)
        assert np.array_equal(image, _rgb(val))
        assert np.array_equal(labels, _binary(truth))


def test_roboflow_semantic_masks_bring_their_pictures_and_classes(tmp_path):
    """Roboflow's export: x_jpg.rf.H.jpg beside x_jpg.rf.H_mask.png, _classes.csv."""
    split = tmp_path / "ds" / "train"
    pixels = _picture(split / "a_jpg.rf.0f3a9.png", seed=5)
    truth = _mask(split / "a_jpg.rf.0f3a9_mask.png", (0, 1, 2))
    (split / "_classes.csv").write_text("Pixel Value, Class\n0, background\n1, crack\n2, rust\n")
    with _project(tmp_path, ("background", "rust", "crack")) as project:
        import_into_project(project, ImportRequest("masks", split))
        name, image, labels = _only(project)
        assert name == "a_jpg.rf.0f3a9.png"
        assert np.array_equal(image, _rgb(pixels))
        assert np.array_equal(labels, np.array([0, 2, 1], np.uint8)[truth])  # by name


def test_a_mask_without_its_picture_names_the_image_it_is_for(tmp_path):
    _mask(tmp_path / "ds" / "masks" / "img0_mask.png")
    with _project(tmp_path) as project:
        report = import_into_project(project, ImportRequest("masks", tmp_path / "ds"))
    ((_, why),) = report.skipped
    assert "no image 'img0' in the project" in why


def test_the_picture_is_found_in_any_case_when_it_is_the_only_one(tmp_path):
    src = tmp_path / "ds"
    pixels = _picture(src / "images" / "IMG0.PNG", seed=4)
    truth = _mask(src / "masks" / "img0.png")
    with _project(tmp_path) as project:
        import_into_project(project, ImportRequest("masks", src))
        name, image, labels = _only(project)
        assert name == "IMG0.PNG"
        assert np.array_equal(image, _rgb(pixels))
        assert np.array_equal(labels, _binary(truth))


def _roboflow_splits(root: Path, valid_table: str) -> dict[str, np.ndarray]:
    """Roboflow's train/ and valid/, each with a picture, its mask and _classes.csv."""
    truths = {}
    for seed, (split, table) in enumerate(
        (("train", "0, background\n1, crack\n2, rust\n"), ("valid", valid_table))
    ):
        folder = root / split
        _picture(folder / f"{split}0_jpg.rf.1.png", seed=seed)
        truths[f"{split}0_jpg.rf.1.png"] = _mask(folder / f"{split}0_jpg.rf.1_mask.png", (0, 1, 2))
        (folder / "_classes.csv").write_text("Pixel Value, Class\n" + table)
    return truths


def test_the_class_tables_of_split_folders_name_the_values_after_an_add(tmp_path):
    """`annotator add P ds` of a Roboflow export, then the import it suggests: the
    tables in train/ and valid/ were not read, and crack and rust swapped silently."""
    ds = tmp_path / "ds"
    truths = _roboflow_splits(ds, "0, background\n1, crack\n2, rust\n")
    with _project(tmp_path, ("background", "rust", "crack")) as project:
        project.add_images([ds])
        assert len(project.images()) == 2  # the masks were left out of the images
        report = import_into_project(project, ImportRequest("masks", ds))
        assert len(report.matched) == 2
        for rec in project.images():
            labels = project.load_mask(rec)
            truth = truths[Path(rec.name).name]
            assert np.array_equal(labels, np.array([0, 2, 1], np.uint8)[truth])
        assert any("valid/_classes.csv gives the same classes" in n for n in report.notes)


def test_split_folders_whose_class_tables_differ_are_refused(tmp_path):
    ds = tmp_path / "ds"
    _roboflow_splits(ds, "0, background\n1, rust\n2, crack\n")
    with _project(tmp_path, ("background", "rust", "crack")) as project:
        project.add_images([ds])
        with pytest.raises(FormatError) as err:
            import_into_project(project, ImportRequest("masks", ds))
        assert "one at a time" in str(err.value)
        assert all(project.load_mask(rec) is None for rec in project.images())


def test_two_pictures_of_the_stem_beside_a_mask_are_refused_naming_them(tmp_path):
    src = tmp_path / "ds"
    _picture(src / "img0.png", seed=1)
    _picture(src / "img0.tif", seed=2)
    _mask(src / "img0_mask.png")
    with _project(tmp_path) as project:  # (no project image of its name either)
        report = import_into_project(project, ImportRequest("masks", src))
        ((_, why),) = report.skipped
        assert "img0.png, img0.tif" in why and "the stem 'img0'" in why
        assert project.images() == []


def test_jpeg_masks_are_named_when_no_mask_is_found(tmp_path):
    """Kvasir-SEG ships images/ and masks/ of JPEG files: the refusal said no masks were
    found, with no word of the JPEG files right there in masks/."""
    from annotator.core.errors import FormatError

    ds = tmp_path / "Kvasir-SEG"
    for folder in ("images", "masks"):
        (ds / folder).mkdir(parents=True)
    picture = np.random.default_rng(0).integers(0, 255, (20, 30, 3), np.uint8)
    cv2.imwrite(str(ds / "images" / "cju0.jpg"), picture)
    mask = np.zeros((20, 30), np.uint8)
    mask[5:15, 5:15] = 255
    cv2.imwrite(str(ds / "masks" / "cju0.jpg"), mask)
    with (
        Project.create(tmp_path / "p", LabelSchema.from_names(["bg", "polyp"])) as project,
        pytest.raises(FormatError) as refused,
    ):
        import_into_project(project, ImportRequest("masks", ds))
    said = str(refused.value)
    assert "no PNG, TIFF or NIfTI masks found" in said
    assert f"{ds / 'masks'} holds 1 JPEG file(s) (cju0.jpg...), which are not read" in said
    assert "convert them to PNG" in said


def test_a_labels_folder_around_the_whole_dataset_is_not_its_mask_folder(tmp_path):
    """/data/labels/project/ds/x_mask.png: the pictures were looked for in
    /data/images/project/ds/, outside the import, where a namesake may be another
    picture; the picture beside the mask is its own."""
    outer = tmp_path / "labels" / "project" / "ds"
    outer.mkdir(parents=True)
    own = np.random.default_rng(1).integers(0, 255, (20, 30, 3), np.uint8)
    stranger = np.random.default_rng(2).integers(0, 255, (20, 30, 3), np.uint8)
    cv2.imwrite(str(outer / "x.png"), own)
    (tmp_path / "images" / "project" / "ds").mkdir(parents=True)
    cv2.imwrite(str(tmp_path / "images" / "project" / "ds" / "x.png"), stranger)
    mask = np.zeros((20, 30), np.uint8)
    mask[5:15, 5:15] = 1
    cv2.imwrite(str(outer / "x_mask.png"), mask)
    with Project.create(tmp_path / "p", LabelSchema.from_names(["bg", "fg"])) as project:
        report = import_into_project(project, ImportRequest("masks", outer))
        assert report.added and not report.skipped
        (record,) = project.images()
        assert np.array_equal(project.load_image(record), cv2.cvtColor(own, cv2.COLOR_BGR2RGB))
        assert np.array_equal(project.load_mask(record), mask)


def test_two_pictures_of_a_masks_stem_leave_it_to_the_projects_image(tmp_path):
    """images/a.png and images/a.tif beside labels/a.png, with a.png in the project: the
    import refused the mask ("all have the stem 'a'"), where it matched it before."""
    picture = np.random.default_rng(1).integers(0, 256, (16, 16), np.uint8)
    (tmp_path / "ds" / "images").mkdir(parents=True)
    (tmp_path / "ds" / "labels").mkdir()
    Image.fromarray(picture).save(tmp_path / "ds" / "images" / "a.png")
    Image.fromarray(picture).save(tmp_path / "ds" / "images" / "a.tif")
    mask = np.zeros((16, 16), np.uint8)
    mask[:4] = 1
    Image.fromarray(mask).save(tmp_path / "ds" / "labels" / "a.png")
    with Project.create(tmp_path / "p", LabelSchema.from_names(["bg", "fg"])) as project:
        project.add_images([tmp_path / "ds" / "images" / "a.png"])
        report = import_into_project(project, ImportRequest("masks", tmp_path / "ds" / "labels"))
        assert len(report.matched) == 1 and not report.added and not report.skipped
        assert np.array_equal(project.load_mask(project.images()[0]), mask)
