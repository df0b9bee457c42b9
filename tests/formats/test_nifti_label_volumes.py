"""NIfTI label volumes: imported onto the slices of the volume they pair with (nnU-Net's
``labelsTr/case.nii.gz`` of ``imagesTr/case_0000.nii.gz``, the Decathlon's same names in
sibling folders, ``case_seg.nii.gz`` beside ``case.nii.gz``), and exported back with
``--stacks`` as a label volume of the original file's voxels and affine."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest
from niftihelpers import LPS, PERMUTED, RAS, ct_voxels, label_voxels, radiological, save_volume

from annotator.cli import main
from annotator.storage.project import Project

SHAPE = (24, 20, 6)


def _new(tmp_path, classes="background,liver,tumour"):
    root = tmp_path / "p"
    assert main(["new", str(root), "--classes", classes]) == 0
    return root


def _labels_of(root, stem, planes):
    """The label maps of a volume's slices, by slice."""
    with Project.open(root) as project:
        return [project.load_mask(project.image(f"{stem}_z{k:03d}.tif")) for k in range(planes)]


def _nnunet(folder, cases, affine=RAS):
    """nnU-Net's raw dataset layout: pictures with a channel ending, labels without."""
    labels = {}
    for i, case in enumerate(cases):
        save_volume(folder / "imagesTr" / f"{case}_0000.nii.gz", ct_voxels(seed=i), affine)
        labels[case] = label_voxels(seed=10 + i)
        save_volume(folder / "labelsTr" / f"{case}.nii.gz", labels[case], affine)
    save_volume(folder / "imagesTs" / "test_0000.nii.gz", ct_voxels(seed=99), affine)
    meta = {
        "channel_names": {"0": "CT"},
        "labels": {"background": 0, "liver": 1, "tumour": 2},
        "numTraining": len(cases),
        "file_ending": ".nii.gz",
    }
    (folder / "dataset.json").write_text(json.dumps(meta))
    return labels


def test_an_nnunet_dataset_added_and_imported_puts_each_case_on_its_slices(tmp_path, capsys):
    labels = _nnunet(tmp_path / "Dataset001_Liver", ["liver_001", "liver_002"])
    root = _new(tmp_path)
    assert main(["add", str(root), str(tmp_path / "Dataset001_Liver")]) == 0
    said = capsys.readouterr()
    assert "added 18 image(s)" in said.out  # 3 pictures, not the 2 label volumes
    assert "labelsTr/liver_001.nii.gz, the mask of imagesTr/liver_001_0000.nii.gz" in said.err
    # (its dataset.json is nnU-Net's: no reserved values, but the classes' names)
    assert main(["import", str(root), "--format", "masks", str(tmp_path / "Dataset001_Liver")]) == 0
    said = capsys.readouterr().out
    assert "imported 12 mask(s)" in said and "(nnU-Net's labels)" in said
    for case, voxels in labels.items():
        for k, mask in enumerate(_labels_of(root, f"{case}_0000", 6)):
            assert np.array_equal(mask, radiological(voxels, k)), (case, k)
    with Project.open(root) as project:
        assert project.load_mask(project.image("test_0000_z000.tif")) is None


def test_an_nnunet_label_folder_imported_alone_adds_its_picture_volumes_first(tmp_path, capsys):
    labels = _nnunet(tmp_path / "ds", ["a"])
    root = _new(tmp_path)
    assert main(["import", str(root), "--format", "masks", str(tmp_path / "ds" / "labelsTr")]) == 0
    assert "6 image(s) added" in capsys.readouterr().out
    for k, mask in enumerate(_labels_of(root, "a_0000", 6)):
        assert np.array_equal(mask, radiological(labels["a"], k))


def test_labels_of_the_test_cases_go_onto_the_test_cases_of_that_name(tmp_path, capsys):
    """``labelsTs/`` pairs with ``imagesTs/``, not with ``imagesTr/``'s case of its name."""
    ds = tmp_path / "ds"
    save_volume(ds / "imagesTr" / "a_0000.nii.gz", ct_voxels(seed=0))
    save_volume(ds / "imagesTs" / "a_0000.nii.gz", ct_voxels(seed=5))
    labels = label_voxels(seed=6)
    save_volume(ds / "labelsTs" / "a.nii.gz", labels)
    root = _new(tmp_path)
    assert main(["add", str(root), str(ds / "imagesTr"), str(ds / "imagesTs")]) == 0
    with Project.open(root) as project:  # (the second a_0000 is split as a_0000~2)
        assert project.image("a_0000~2_z000.tif").path.startswith("slices/a_0000~2/")
    assert main(["import", str(root), "--format", "masks", str(ds / "labelsTs")]) == 0
    assert all(m is None for m in _labels_of(root, "a_0000", 6))
    for k, mask in enumerate(_labels_of(root, "a_0000~2", 6)):
        assert np.array_equal(mask, radiological(labels, k))


def test_a_decathlon_dataset_pairs_by_the_same_name_in_sibling_folders(tmp_path, capsys):
    ds = tmp_path / "Task03_Liver"
    voxels = {}
    for i, case in enumerate(["liver_3", "liver_10"]):
        save_volume(ds / "imagesTr" / f"{case}.nii.gz", ct_voxels(seed=i), LPS)
        voxels[case] = label_voxels(seed=20 + i)
        save_volume(ds / "labelsTr" / f"{case}.nii.gz", voxels[case], LPS)
    labels = {"0": "background", "1": "liver", "2": "tumour"}
    meta = {"name": "Liver", "modality": {"0": "CT"}, "labels": labels}
    (ds / "dataset.json").write_text(json.dumps(meta))
    root = _new(tmp_path)
    assert main(["add", str(root), str(ds)]) == 0
    assert "added 12 image(s)" in capsys.readouterr().out
    assert main(["import", str(root), "--format", "masks", str(ds)]) == 0
    for case, labels in voxels.items():
        canonical = labels[::-1, ::-1, :]  # the file is LPS
        for k, mask in enumerate(_labels_of(root, case, 6)):
            assert np.array_equal(mask, radiological(canonical, k)), (case, k)


def test_a_decathlon_task_of_several_channels_says_why_its_pictures_are_not_read(tmp_path, capsys):
    """Task01 BrainTumour's imagesTr/BRATS_001.nii.gz holds 4 channels: the import said
    "no image 'BRATS_001_z000' in the project or next to the annotation; add the
    pictures first", the picture lying there."""
    ds = tmp_path / "Task01_BrainTumour"
    channels = np.stack([ct_voxels(seed=0), ct_voxels(seed=1)], axis=-1)  # x, y, z, c
    save_volume(ds / "imagesTr" / "BRATS_001.nii.gz", channels, RAS)
    save_volume(ds / "labelsTr" / "BRATS_001.nii.gz", label_voxels(seed=3), RAS)
    root = _new(tmp_path)
    capsys.readouterr()
    assert main(["import", str(root), "--format", "masks", str(ds)]) == 1
    err = capsys.readouterr().err
    assert "next to the annotation" not in err and "add the pictures first" not in err
    assert (
        f"{ds / 'labelsTr' / 'BRATS_001.nii.gz'} (slice 0): no image 'BRATS_001_z000' in the "
        f"project, and its picture volume cannot be read: {ds / 'imagesTr' / 'BRATS_001.nii.gz'}"
        ": a 4-D NIfTI volume (24x20x6x2: 2 time points or channels) is not read"
    ) in err
    assert "nnUNetv2_convert_MSD_dataset" in err


@pytest.mark.parametrize("ending", ["_seg", "-labels", "_mask"])
def test_a_label_volume_named_as_a_mask_beside_its_volume(tmp_path, capsys, ending):
    save_volume(tmp_path / "ds" / "case.nii.gz", ct_voxels())
    labels = label_voxels()
    # as float, as some tools store labels: whole numbers are class ids
    save_volume(tmp_path / "ds" / f"case{ending}.nii.gz", labels.astype(np.float32))
    root = _new(tmp_path)
    assert main(["add", str(root), str(tmp_path / "ds")]) == 0
    assert f"case{ending}.nii.gz, the mask of case.nii.gz" in capsys.readouterr().err
    assert main(["import", str(root), "--format", "masks", str(tmp_path / "ds")]) == 0
    for k, mask in enumerate(_labels_of(root, "case", 6)):
        assert np.array_equal(mask, radiological(labels, k))


@pytest.mark.parametrize("other", ["shape", "affine"])
def test_a_label_volume_of_another_grid_is_refused_in_one_line(tmp_path, capsys, other):
    save_volume(tmp_path / "ds" / "case.nii.gz", ct_voxels())
    if other == "shape":
        save_volume(tmp_path / "ds" / "case_seg.nii.gz", label_voxels((24, 20, 5)))
    else:
        moved = RAS.copy()
        moved[0, 3] += 2.0  # the labels lie 2 mm to the side
        save_volume(tmp_path / "ds" / "case_seg.nii.gz", label_voxels(), moved)
    root = _new(tmp_path)
    assert main(["add", str(root), str(tmp_path / "ds" / "case.nii.gz")]) == 0
    capsys.readouterr()
    assert main(["import", str(root), "--format", "masks", str(tmp_path / "ds")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err
    assert str(tmp_path / "ds" / "case_seg.nii.gz") in err
    assert str(tmp_path / "ds" / "case.nii.gz") in err
    assert ("24x20x5 voxels" if other == "shape" else "its affine is not that of") in err
    assert all(m is None for m in _labels_of(root, "case", 6))


@pytest.mark.parametrize(
    ("affine", "classes"),
    [(LPS, "bg,liver,tumour"), (PERMUTED, "bg,liver,tumour"), (PERMUTED, "many")],
)
def test_labels_imported_and_exported_as_a_volume_are_the_original_voxels(
    tmp_path, capsys, affine, classes
):
    """Through the slices and back: the voxels in the file's order, its affine, its
    qform and sform codes; uint16 for a project of more than 254 classes."""
    names = ",".join(f"c{i}" for i in range(300)) if classes == "many" else classes
    voxels = label_voxels(SHAPE)
    save_volume(tmp_path / "ds" / "imagesTr" / "case_0000.nii.gz", ct_voxels(), affine, 1, 2)
    save_volume(tmp_path / "ds" / "labelsTr" / "case.nii.gz", voxels, affine, 1, 2)
    save_volume(tmp_path / "ds" / "imagesTr" / "other.nii.gz", ct_voxels(seed=3), affine)
    root = _new(tmp_path, names)
    assert main(["add", str(root), str(tmp_path / "ds")]) == 0
    assert main(["import", str(root), "--format", "masks", str(tmp_path / "ds")]) == 0
    out = tmp_path / "out"
    args = ["export", str(root), str(out), "--format", "masks", "--stacks", "--split", "1"]
    assert main(args) == 0
    said = capsys.readouterr().out
    assert "1 NIfTI label volume(s)" in said and "train/stacks/case_0000.nii.gz" in said
    written = nib.load(out / "train" / "stacks" / "case_0000.nii.gz")
    assert written.shape == SHAPE
    want = np.uint16 if classes == "many" else np.uint8
    assert written.get_data_dtype() == want
    assert np.array_equal(np.asanyarray(written.dataobj), voxels)
    original = nib.load(tmp_path / "ds" / "labelsTr" / "case.nii.gz")  # (float32 as stored)
    assert np.allclose(original.affine, affine, atol=1e-6)
    assert np.array_equal(written.affine, original.affine)
    assert np.array_equal(written.get_qform(), original.get_qform())
    assert np.array_equal(written.get_sform(), original.get_sform())
    assert written.header.get_qform(coded=True)[1] == 1
    assert written.header.get_sform(coded=True)[1] == 2
    assert written.header.get_zooms() == original.header.get_zooms()
    assert not (out / "train" / "stacks" / "case_0000.tif").exists()
    # (the volume no label was imported onto is not exported: its slices have no labels)
    assert not (out / "train" / "stacks" / "other.nii.gz").exists()


def test_slices_not_exported_are_unlabelled_in_the_label_volume(tmp_path):
    voxels = label_voxels(SHAPE)
    save_volume(tmp_path / "ds" / "case.nii.gz", ct_voxels(), PERMUTED)
    save_volume(tmp_path / "ds" / "case_seg.nii.gz", voxels, PERMUTED)
    root = _new(tmp_path)
    assert main(["add", str(root), str(tmp_path / "ds")]) == 0
    assert main(["import", str(root), "--format", "masks", str(tmp_path / "ds")]) == 0
    with Project.open(root) as project:  # slice 4 back to unlabelled: not exported
        record = project.image("case_z004.tif")
        project.save_mask(record.id, np.full((record.height, record.width), 255, np.uint8))
    out = tmp_path / "out"
    assert (
        main(["export", str(root), str(out), "--format", "masks", "--stacks", "--split", "1"]) == 0
    )
    written = np.asanyarray(nib.load(out / "train" / "stacks" / "case.nii.gz").dataobj)
    # the file's axis 0 runs up: slice 4 of the pictures is its plane 4
    unlabelled = written == 255
    assert np.array_equal(written[~unlabelled], voxels[~unlabelled])
    assert np.array_equal(unlabelled.all(axis=(1, 2)), np.arange(SHAPE[0]) == 4)
    assert not unlabelled[np.arange(SHAPE[0]) != 4].any()
