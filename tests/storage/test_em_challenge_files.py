"""EM challenges ship a volume and its labels side by side in one folder: ISBI 2012's
``train-volume.tif`` and ``train-labels.tif``, SNEMI3D's ``train-input.tif``, EPFL's
``training.tif`` and ``training_groundtruth.tif``. Before, ``annotator add`` took the
label stack for 30 more pictures and the masks import put the labels on those slices
(exit 0, "30 matched"): a silent wrong result; and ``annotator bench`` refused the
folder."""

from __future__ import annotations

import json
from pathlib import Path

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
