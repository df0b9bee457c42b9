"""EM challenges ship a volume and its labels side by side in one folder: ISBI 2012's
``train-volume.tif`` and ``train-labels.tif``, SNEMI3D's ``train-input.tif``, EPFL's
``training.tif`` and ``training_groundtruth.tif``. Before, ``annotator add`` took the
label stack for 30 more pictures and the masks import put the labels on those slices
(exit 0, "30 matched"): a silent wrong result; and ``annotator bench`` refused the
folder."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile

from annotator.bench.dataset import load_dataset
from annotator.cli import main
from annotator.core.naming import masks_beside, pair_base
from annotator.core.status import ImageStatus
from annotator.core.synthetic import synthetic_cells
from annotator.storage.project import Project


def _volume(n: int, size: int = 48) -> tuple[np.ndarray, np.ndarray]:
    pictures, masks = [], []
    for i in range(n):
        picture, mask = synthetic_cells(seed=i, size=size, n_cells=3, noise=5)
        pictures.append(picture)
        masks.append(np.where(mask > 0, 255, 0).astype(np.uint8))  # ISBI's 0 / 255
    return np.stack(pictures), np.stack(masks)


def _challenge(root: Path, n: int, picture: str, labels: str, bare: bool = False) -> np.ndarray:
    """A folder as the challenge ships it; returns the labels (as written)."""
    root.mkdir(parents=True)
    volume, masks = _volume(n)
    for name, data in ((picture, volume), (labels, masks)):
        if bare:  # pages written one by one, no axes: 2 to 8 of them read as channels
            with tifffile.TiffWriter(root / f"{name}.tif") as tif:
                for page in data:
                    tif.write(page, metadata=None)
        else:
            tifffile.imwrite(root / f"{name}.tif", data, photometric="minisblack")
    return masks


def test_challenge_names_pair_a_volume_with_its_labels():
    assert pair_base("train-volume") == pair_base("train-labels") == "train"
    assert pair_base("train-input") == pair_base("Train-Labels") == "train"
    assert pair_base("training_groundtruth") == pair_base("training") == "training"
    stems = ["train-volume", "train-labels", "test-volume", "x_raw", "x_gt", "y-masks"]
    found = masks_beside(stems)
    assert {stems[i]: stems[j] for i, j in found.items()} == {
        "train-labels": "train-volume",
        "x_gt": "x_raw",
    }


@pytest.mark.parametrize(
    ("picture", "labels"),
    [
        ("train-volume", "train-labels"),
        ("train-input", "train-labels"),
        ("training", "training_groundtruth"),
    ],
)
def test_added_and_imported_as_shipped_the_labels_land_on_the_volumes_slices(
    tmp_path, capsys, picture, labels
):
    masks = _challenge(tmp_path / "ds", 10, picture, labels)
    project_dir = tmp_path / "p"
    assert main(["new", str(project_dir), "--classes", "membrane,cell"]) == 0
    assert main(["add", str(project_dir), str(tmp_path / "ds")]) == 0
    said = "".join(capsys.readouterr())
    assert f"{labels}.tif, the mask of {picture}.tif" in said
    assert main(["import", str(project_dir), "--format", "masks", str(tmp_path / "ds")]) == 0
    said = "".join(capsys.readouterr())
    assert "imported 10 mask(s)" in said
    assert f"{picture}.tif" not in said  # the volume is no label stack of its own
    with Project.open(project_dir) as project:
        records = project.images()
        assert [r.name for r in records] == [f"{picture}_z{i:03d}.tif" for i in range(10)]
        assert all(r.status is ImageStatus.DONE for r in records)
        for i, record in enumerate(records):
            assert np.array_equal(project.load_mask(record), masks[i] // 255)


def test_bare_pages_beside_a_label_stack_of_as_many_pages_are_slices(tmp_path, capsys):
    masks = _challenge(tmp_path / "ds", 4, "train-volume", "train-labels", bare=True)
    project_dir = tmp_path / "p"
    assert main(["new", str(project_dir), "--classes", "membrane,cell"]) == 0
    assert main(["add", str(project_dir), str(tmp_path / "ds")]) == 0
    said = "".join(capsys.readouterr())
    assert "split train-volume.tif into slices, as the label stack beside it has as many" in said
    assert main(["import", str(project_dir), "--format", "masks", str(tmp_path / "ds")]) == 0
    with Project.open(project_dir) as project:
        records = project.images()
        assert [r.name for r in records] == [f"train-volume_z{i:03d}.tif" for i in range(4)]
        for i, record in enumerate(records):
            assert np.array_equal(project.load_mask(record), masks[i] // 255)
    # told otherwise, the pages stay the channels of one picture
    other = tmp_path / "q"
    assert main(["new", str(other), "--classes", "membrane,cell"]) == 0
    assert main(["add", str(other), str(tmp_path / "ds"), "--pages", "channels"]) == 0
    with Project.open(other) as project:
        assert [r.name for r in project.images()] == ["train-volume.tif"]


def test_the_bench_reads_a_volume_and_its_labels_side_by_side(tmp_path):
    masks = _challenge(tmp_path / "ds", 3, "train-volume", "train-labels")
    (tmp_path / "ds" / "classes.txt").write_text("membrane\ncell\n")
    ds = load_dataset(tmp_path / "ds", tmp_path / "ds" / "classes.txt")
    assert [p.name for p in ds.images] == [f"train-volume_z{i:03d}.tif" for i in range(3)]
    for i in range(3):
        assert np.array_equal(ds.truths[f"train-volume_z{i:03d}"], masks[i] // 255)
    out = tmp_path / "out"
    args = ["bench", str(tmp_path / "ds"), "--mode", "manual", "--limit", "1"]
    assert main([*args, "--out", str(out), "--device", "cpu"]) == 0
    report = json.loads((out / "bench.json").read_text())
    assert report["runs"][0]["images"][0]["name"] == "train-volume_z000.tif"


def test_a_folder_of_pictures_alone_still_says_what_a_dataset_needs(tmp_path, capsys):
    (tmp_path / "ds").mkdir()
    tifffile.imwrite(tmp_path / "ds" / "a.tif", np.zeros((8, 8), np.uint8))
    assert main(["bench", str(tmp_path / "ds"), "--out", str(tmp_path / "o")]) != 0
    err = capsys.readouterr().err
    assert "side by side, the masks named as such" in err and "Traceback" not in err


def _bare(path: Path, pages: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tifffile.TiffWriter(path) as tif:
        for page in pages:
            tif.write(page, metadata=None)


def _labels_of(project_dir: Path) -> dict[str, np.ndarray | None]:
    with Project.open(project_dir) as project:
        return {r.name: project.load_mask(r) for r in project.images()}


def test_a_label_stack_named_with_a_picture_ending_labels_the_stack_of_its_whole_name(
    tmp_path, capsys
):
    """Found by an audit: labels/em_raw.tif named its slices em_z000... (the picture
    ending taken off as a mask's would be), so it labelled images/em.tif's slices (exit 0,
    "12 matched") or none."""
    volume, masks = _volume(12)
    other, _ = _volume(24)
    for folder in ("labels", "masks"):
        root = tmp_path / folder
        _bare(root / "data/images/em.tif", other[12:])
        _bare(root / "data/images/em_raw.tif", volume)
        _bare(root / f"data/{folder}/em_raw.tif", masks)
        assert main(["new", str(root / "p"), "--classes", "membrane,cell"]) == 0
        assert main(["add", str(root / "p"), str(root / "data/images")]) == 0
        assert (
            main(["import", str(root / "p"), "--format", "masks", str(root / f"data/{folder}")])
            == 0
        )
        got = _labels_of(root / "p")
        for i in range(12):
            assert np.array_equal(got[f"em_raw_z{i:03d}.tif"], masks[i] // 255)
            assert got[f"em_z{i:03d}.tif"] is None


def test_an_unlabelled_volume_beside_a_labelled_one_is_no_label_stack(tmp_path, capsys):
    """Found by an audit: EPFL's testing.tif (no labels) beside training.tif and
    training_groundtruth.tif was read as a label stack: its grey levels failed the
    0/255 reading, so every 255 of the real labels was imported as unlabelled."""
    volume, masks = _volume(12)
    test_volume, _ = _volume(24)
    root = tmp_path / "ds"
    _bare(root / "training.tif", volume)
    _bare(root / "training_groundtruth.tif", masks)
    _bare(root / "testing.tif", test_volume[12:])
    assert main(["new", str(tmp_path / "p"), "--classes", "membrane,cell"]) == 0
    assert main(["add", str(tmp_path / "p"), str(root)]) == 0
    capsys.readouterr()
    assert main(["import", str(tmp_path / "p"), "--format", "masks", str(root)]) == 0
    assert "testing" not in "".join(capsys.readouterr())
    got = _labels_of(tmp_path / "p")
    for i in range(12):
        assert np.array_equal(got[f"training_z{i:03d}.tif"], masks[i] // 255)
        assert got[f"testing_z{i:03d}.tif"] is None


def _png(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), array)


def test_pictures_named_as_masks_and_satellite_endings_pair(tmp_path, capsys):
    """Found by an audit: images/scene-gt.png (a picture whose name ends as a mask's) was
    no picture to masks/scene-gt.png, nor scene-gt.png to scene-gt_mask.png beside it,
    so the masks were added as images; DeepGlobe's 119_sat.jpg did not pair with
    119_mask.png."""
    assert masks_beside(["scene-gt", "scene-gt_mask", "119_sat", "119_mask"]) == {1: 0, 3: 2}
    picture, mask = _volume(1)
    labels = mask[0] // 255
    _png(tmp_path / "a/images/scene-gt.png", picture[0])
    _png(tmp_path / "a/masks/scene-gt.png", labels)
    _png(tmp_path / "b/road-labels.png", picture[0])
    _png(tmp_path / "b/road-labels_mask.png", labels)
    _png(tmp_path / "c/119_sat.png", picture[0])
    _png(tmp_path / "c/119_mask.png", labels)
    for where, masks_folder, name in (
        ("a", "a/masks", "images/scene-gt.png"),
        ("b", "b", "road-labels.png"),
        ("c", "c", "119_sat.png"),
    ):
        project_dir = tmp_path / f"p-{where}"
        assert main(["new", str(project_dir), "--classes", "membrane,cell"]) == 0
        assert main(["add", str(project_dir), str(tmp_path / where)]) == 0
        assert (
            main(["import", str(project_dir), "--format", "masks", str(tmp_path / masks_folder)])
            == 0
        )
        got = _labels_of(project_dir)
        assert list(got) == [name] and np.array_equal(got[name], labels), where


def test_a_huge_rgb_tiff_mask_is_refused_before_it_is_decoded(tmp_path, monkeypatch):
    from annotator.core.errors import FormatError
    from annotator.formats.masks import decode_mask_file

    tifffile.imwrite(tmp_path / "rgb.tif", np.zeros((64, 80, 3), np.uint8), photometric="rgb")
    monkeypatch.setenv("ANNOTATOR_MAX_PIXELS", "100")

    def decoded(*a, **k):
        raise AssertionError("decoded before the size was checked")

    monkeypatch.setattr(tifffile.TiffPage, "asarray", decoded)
    with pytest.raises(FormatError, match="more than the limit of 100 pixels"):
        decode_mask_file(tmp_path / "rgb.tif")
