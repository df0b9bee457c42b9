"""`annotator bench` on medical datasets as they ship: NIfTI volumes (ADR 0034) in the
Medical Segmentation Decathlon's layout (``imagesTr/liver_3.nii.gz`` with
``labelsTr/liver_3.nii.gz``), nnU-Net's (``imagesTr/case_0000.nii.gz`` with
``labelsTr/case.nii.gz``) and one folder (``case.nii.gz`` with ``case_seg.nii.gz``).
Each slice is a bench image named and shown as `annotator add` makes it, labelled by
its label volume's slice as the masks import reads it; ``dataset.json`` names the
classes. The bench found no images in such a dataset before."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from niftihelpers import LPS, PERMUTED, RAS, ct_voxels, save_volume

from annotator.bench.dataset import load_dataset
from annotator.cli import main
from annotator.core.errors import AnnotatorError
from annotator.storage.project import Project

SHAPE = (32, 32, 4)
CLASSES = ("background", "liver", "tumour")


def _organs(shape: tuple[int, int, int] = SHAPE, seed: int = 0) -> np.ndarray:
    """uint8 labels: an organ (1) with a tumour (2) in it, placed off-centre and
    elsewhere in each slice, so that a flip or a turn of a slice shows."""
    rng = np.random.default_rng(seed)
    labels = np.zeros(shape, np.uint8)
    for k in range(shape[2]):
        x, y = (int(v) for v in rng.integers(2, 10, 2))
        labels[x : x + 14, y : y + 9, k] = 1
        labels[x + 2 : x + 6, y + 1 : y + 4, k] = 2
    return labels


def _scan(labels: np.ndarray, seed: int) -> np.ndarray:
    """int16 CT (negative Hounsfield units) whose organs are brighter than the body."""
    return (ct_voxels(labels.shape, seed) + 60 * labels.astype(np.int16)).astype(np.int16)


def _decathlon(root: Path, affine: np.ndarray = LPS) -> Path:
    for i, case in enumerate(["liver_3", "liver_10", "liver_1"]):
        labels = _organs(seed=10 + i)
        save_volume(root / "imagesTr" / f"{case}.nii.gz", _scan(labels, i), affine)
        save_volume(root / "labelsTr" / f"{case}.nii.gz", labels, affine)
    save_volume(root / "imagesTs" / "liver_99.nii.gz", ct_voxels(SHAPE, 9), affine)
    meta = {
        "name": "Liver",
        "modality": {"0": "CT"},
        "labels": {"0": "background", "1": "liver", "2": "tumour"},
        "numTraining": 3,
    }
    (root / "dataset.json").write_text(json.dumps(meta))
    return root


def _nnunet(root: Path, affine: np.ndarray = RAS, labels: dict | None = None) -> Path:
    for i, case in enumerate(["case_001", "case_002", "case_010"]):
        organs = _organs(seed=20 + i)
        save_volume(root / "imagesTr" / f"{case}_0000.nii.gz", _scan(organs, i), affine)
        save_volume(root / "labelsTr" / f"{case}.nii.gz", organs, affine)
    save_volume(root / "imagesTs" / "test_0000.nii.gz", ct_voxels(SHAPE, 9), affine)
    meta = {
        "channel_names": {"0": "CT"},
        "labels": labels or {"background": 0, "liver": 1, "tumour": 2},
        "numTraining": 3,
        "file_ending": ".nii.gz",
    }
    (root / "dataset.json").write_text(json.dumps(meta))
    return root


def _added_and_imported(tmp_path: Path, dataset: Path) -> Path:
    """A project that `annotator add` and the masks import made of ``dataset``."""
    root = tmp_path / "project"
    assert main(["new", str(root), "--classes", ",".join(CLASSES)]) == 0
    assert main(["add", str(root), str(dataset)]) == 0
    assert main(["import", str(root), "--format", "masks", str(dataset)]) == 0
    return root


def _as_the_project_has_them(ds, project_root: Path) -> None:
    """Every bench image's truth is the label map the add and the import made of it."""
    with Project.open(project_root, lock=False) as project:
        for p in ds.images:
            record = project.image(p.name)
            assert record is not None and record.path == f"slices/{p.stem[:-5]}/{p.name}"
            assert np.array_equal(ds.truths[p.stem], project.load_mask(record)), p.name


def test_a_decathlon_dataset_is_its_slices_labelled_as_the_import_labels_them(tmp_path):
    dataset = _decathlon(tmp_path / "Task03_Liver")
    ds = load_dataset(dataset)
    names = [f"liver_{c}_z{k:03d}.tif" for c in (1, 3, 10) for k in range(4)]
    assert [p.name for p in ds.images] == names  # natural order, imagesTs/ left out
    assert ds.class_names == CLASSES
    assert f"class names from {dataset / 'dataset.json'}" in ds.note
    assert "3 NIfTI volumes of 4 slices" in ds.note and "liver_1_z000.tif" in ds.note
    assert set(ds.slices) == set(ds.images) and ds.warnings == ()
    assert ds.slices[ds.images[5]].stack == dataset / "imagesTr" / "liver_3.nii.gz"
    assert ds.slices[ds.images[5]].index == 1
    _as_the_project_has_them(ds, _added_and_imported(tmp_path, dataset))


def test_an_nnunet_dataset_pairs_each_case_with_its_first_channel(tmp_path):
    """``_0000`` names the picture: the slices are ``case_001_0000_z000``..., as the add
    names them, labelled by ``labelsTr/case_001.nii.gz``; axes permuted and flipped
    (32 slices of 4 x 32) as the add cuts them."""
    dataset = _nnunet(tmp_path / "Dataset001_Liver", PERMUTED)
    # a second channel (MR's T2, say): the channel of its case's slices, as the add
    # splits them (test_bench_nnunet_channels.py), no images of its own
    save_volume(dataset / "imagesTr" / "case_001_0001.nii.gz", ct_voxels(SHAPE, 7), PERMUTED)
    ds = load_dataset(dataset)
    assert len(ds.images) == 96
    assert ds.warnings == ()
    assert ds.images[0].name == "case_001_0000_z000.tif"
    assert ds.images[-1].name == "case_010_0000_z031.tif"
    assert ds.truths["case_001_0000_z000"].shape == (32, 4)
    assert ds.class_names == CLASSES  # nnU-Net v2's {"background": 0, ...}
    _as_the_project_has_them(ds, _added_and_imported(tmp_path, dataset))


def test_one_folder_of_volumes_and_their_seg_volumes(tmp_path):
    labels = _organs()
    save_volume(tmp_path / "ds" / "case.nii.gz", _scan(labels, 0))
    save_volume(tmp_path / "ds" / "case_seg.nii.gz", labels)
    ds = load_dataset(tmp_path / "ds")
    assert [p.name for p in ds.images] == [f"case_z{k:03d}.tif" for k in range(4)]
    assert ds.class_names == ("class0", "class1", "class2")  # no dataset.json
    assert "case.nii.gz: a volume of 4 slices" in ds.note
    assert "labelled by the slices of case_seg.nii.gz" in ds.note
    for k in range(4):  # the radiological view: anterior up, the patient's right on the left
        assert np.array_equal(ds.truths[f"case_z{k:03d}"], labels[::-1, ::-1, k].T)


@pytest.mark.parametrize("other", ["shape", "affine"])
def test_a_label_volume_on_another_grid_is_refused_in_one_line(tmp_path, capsys, other):
    labels = _organs()
    save_volume(tmp_path / "ds" / "case.nii.gz", _scan(labels, 0))
    if other == "shape":
        save_volume(tmp_path / "ds" / "case_seg.nii.gz", _organs((32, 32, 5)))
    else:
        moved = RAS.copy()
        moved[0, 3] += 2.0  # the labels lie 2 mm to the side
        save_volume(tmp_path / "ds" / "case_seg.nii.gz", labels, moved)
    with pytest.raises(AnnotatorError) as got:
        load_dataset(tmp_path / "ds")
    message = str(got.value)
    seg, case = tmp_path / "ds" / "case_seg.nii.gz", tmp_path / "ds" / "case.nii.gz"
    assert message.startswith(f"{seg}: ") and str(case) in message
    assert ("32x32x5 voxels" if other == "shape" else "its affine is not that of") in message
    assert "its labels do not lie on its slices" in message
    capsys.readouterr()
    out = tmp_path / "out"
    assert main(["bench", str(tmp_path / "ds"), "--mode", "manual", "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip()
    assert err == f"annotator: error: {message}" and "\n" not in err


def test_dataset_json_names_the_classes_unless_a_class_list_is_given(tmp_path):
    ignored = _nnunet(
        tmp_path / "ignored", labels={"background": 0, "liver": 1, "tumour": 2, "ignore": 3}
    )
    labels = _organs(seed=20)
    labels[0, 0, :] = 3  # nnU-Net's ignore label: void
    save_volume(ignored / "labelsTr" / "case_001.nii.gz", labels)
    ds = load_dataset(ignored)
    assert ds.class_names == CLASSES
    assert ds.truths["case_001_0000_z000"][-1, -1] == 255  # (the patient's right, posterior)
    assert "3 -> void" in ds.note

    listed = tmp_path / "names.txt"
    listed.write_text("bg\norgan\nlesion\n")
    ds = load_dataset(_decathlon(tmp_path / "msd"), listed)
    assert ds.class_names == ("bg", "organ", "lesion") and "dataset.json" not in ds.note

    regions = _nnunet(tmp_path / "regions", labels={"background": 0, "whole": [1, 2]})
    ds = load_dataset(regions)
    assert ds.class_names == ("class0", "class1", "class2")
    assert any("its labels are not one class id each" in w for w in ds.warnings)


def test_an_annotator_export_dataset_json_names_no_classes(tmp_path):
    """Ours records reserved values, not classes: the bench reads no names from it."""
    labels = _organs()
    save_volume(tmp_path / "ds" / "case.nii.gz", _scan(labels, 0))
    save_volume(tmp_path / "ds" / "case_seg.nii.gz", labels)
    meta = {"format": "annotator-masks", "void": 254, "unlabelled": 255, "labels": {"0": "x"}}
    (tmp_path / "ds" / "dataset.json").write_text(json.dumps(meta))
    assert load_dataset(tmp_path / "ds").class_names == ("class0", "class1", "class2")


def test_bench_runs_on_a_few_slices_of_an_nnunet_dataset(tmp_path, capsys):
    dataset = _nnunet(tmp_path / "Dataset002_Liver")
    out = tmp_path / "out"
    args = ["bench", str(dataset), "--out", str(out), "--device", "cpu", "--seed", "0"]
    args += ["--mode", "assisted", "--strategy", "in-order", "--train-steps", "2"]
    args += ["--depth", "2", "--width", "4", "--train-now-every", "0", "--max-strokes", "400"]
    args += ["--stride", "2", "--limit", "3", "--last", "case_001_*"]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "3 NIfTI volumes of 4 slices" in err
    run = json.loads((out / "bench.json").read_text())["runs"][0]
    # every 2nd slice, the first 3 of those, case_001's slices last
    want = ["case_002_0000_z000.tif", "case_001_0000_z000.tif", "case_001_0000_z002.tif"]
    assert [r["name"] for r in run["images"]] == want
    assert run["eval_images"] == 9  # the other slices of the three volumes
    assert run["final_miou_unlabelled"] is not None
    assert any(f"class names from {dataset / 'dataset.json'}" in n for n in run["notes"])
    assert run["class_names"] == list(CLASSES)
    # the model and the tools were given the slices as the app shows them: int16 CT
    added = _added_and_imported(tmp_path, dataset)
    with (
        Project.open(out / "projects" / "assisted-in-order", lock=False) as bench,
        Project.open(added, lock=False) as project,
    ):
        for record in bench.images():
            picture = bench.load_image(record)
            assert picture.dtype == np.int16 and picture.min() < -900
            assert np.array_equal(picture, project.load_image(project.image(record.name)))
