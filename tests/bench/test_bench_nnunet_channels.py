"""`annotator bench` on nnU-Net datasets of a file per input channel joins each case's
files as `annotator add` joins them, by its code: a 2-D case is one picture with a
channel per file, a 3-D case one picture per slice with a channel per file. Before, the
further channels were images of their own, left out for want of a mask, and the
robot and the model saw the first channel only."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from niftihelpers import RAS, ct_voxels, save_volume
from PIL import Image

from annotator.bench.dataset import load_dataset
from annotator.cli import main
from annotator.core.synthetic import synthetic_cells
from annotator.storage.project import Project


def _cells(root: Path, cases: int = 2) -> dict[str, np.ndarray]:
    """Dataset nnU-Net v2 of 2-D PNG cases, two stains each; each case's two stains."""
    (root / "imagesTr").mkdir(parents=True)
    (root / "labelsTr").mkdir()
    stains = {}
    for i in range(cases):
        picture, mask = synthetic_cells(seed=i, size=32, n_cells=3, noise=5)
        mask[mask == 2] = 1
        other = (255 - picture).astype(np.uint8)  # a second stain, its own values
        case = f"cell_{i:03d}"
        Image.fromarray(picture).save(root / "imagesTr" / f"{case}_0000.png")
        Image.fromarray(other).save(root / "imagesTr" / f"{case}_0001.png")
        Image.fromarray(mask.astype(np.uint8)).save(root / "labelsTr" / f"{case}.png")
        stains[case] = np.stack([picture, other], axis=-1)
    meta = {
        "channel_names": {"0": "DAPI", "1": "GFP"},
        "labels": {"background": 0, "cell": 1},
        "numTraining": cases,
        "file_ending": ".png",
    }
    (root / "dataset.json").write_text(json.dumps(meta))
    return stains


def test_a_2d_case_of_a_file_per_channel_is_one_bench_image(tmp_path):
    root = tmp_path / "Dataset110_Cells"
    _cells(root)
    ds = load_dataset(root)
    assert [p.name for p in ds.images] == ["cell_000_0000.png", "cell_001_0000.png"]
    assert ds.channels[root / "imagesTr" / "cell_000_0000.png"] == (
        root / "imagesTr" / "cell_000_0001.png",
    )
    assert ds.warnings == ()  # the further channels are no images without a mask
    assert "2 nnU-Net case(s) of a file per channel, each read as one picture" in ds.note
    assert ds.class_names == ("background", "cell")


def test_a_bench_run_labels_the_joined_pictures(tmp_path, capsys):
    root = tmp_path / "Dataset110_Cells"
    stains = _cells(root)
    out = tmp_path / "out"
    args = ["bench", str(root), "--mode", "manual", "--out", str(out), "--device", "cpu"]
    assert main(args) == 0
    run = json.loads((out / "bench.json").read_text())["runs"][0]
    # (named as the project names them, as slices are)
    assert [r["name"] for r in run["images"]] == ["cell_000_0000.tif", "cell_001_0000.tif"]
    (project_root,) = (out / "projects").iterdir()
    with Project.open(project_root, lock=False) as project:
        assert sorted(r.name for r in project.images()) == [
            "cell_000_0000.tif",
            "cell_001_0000.tif",
        ]
        for case, stack in stains.items():
            picture = project.load_image(project.image(f"{case}_0000.tif"))
            assert np.array_equal(picture, stack), case


def test_a_3d_case_of_a_file_per_channel_is_one_set_of_slices(tmp_path):
    root = tmp_path / "Dataset111_Brain"
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, (16, 16, 3)).astype(np.uint8)
    save_volume(root / "imagesTr" / "brain_0000.nii.gz", ct_voxels((16, 16, 3)), RAS)
    save_volume(root / "imagesTr" / "brain_0001.nii.gz", ct_voxels((16, 16, 3), 7), RAS)
    save_volume(root / "labelsTr" / "brain.nii.gz", labels, RAS)
    ds = load_dataset(root)
    assert [p.name for p in ds.images] == [f"brain_0000_z{k:03d}.tif" for k in range(3)]
    assert ds.warnings == ()  # brain_0001's slices: channels, not images without masks
    assert ds.channels == {
        root / "imagesTr" / "brain_0000.nii.gz": (root / "imagesTr" / "brain_0001.nii.gz",)
    }


def test_a_bench_run_labels_slices_with_a_channel_per_file(tmp_path):
    """The run's project splits the case as the add does: each slice has both files'
    slices as its channels (the model and the tools see both)."""
    root = tmp_path / "Dataset111_Brain"
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, (16, 16, 3)).astype(np.uint8)
    save_volume(root / "imagesTr" / "brain_0000.nii.gz", ct_voxels((16, 16, 3)), RAS)
    save_volume(root / "imagesTr" / "brain_0001.nii.gz", ct_voxels((16, 16, 3), 7), RAS)
    save_volume(root / "labelsTr" / "brain.nii.gz", labels, RAS)
    out = tmp_path / "out"
    args = ["bench", str(root), "--mode", "manual", "--out", str(out), "--device", "cpu"]
    assert main([*args, "--limit", "1"]) == 0
    (project_root,) = (out / "projects").iterdir()
    with Project.open(project_root, lock=False) as project:
        (record,) = project.images()
        assert record.name == "brain_0000_z000.tif"
        picture = project.load_image(record)
        assert picture.shape == (16, 16, 2)
        assert not np.array_equal(picture[..., 0], picture[..., 1])
