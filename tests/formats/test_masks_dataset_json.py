"""The masks import names the values of nnU-Net's and the Decathlon's label volumes by the
``labels`` of their ``dataset.json`` (when no class table of its own kinds is found, or
given as ``--labels``), as it does by a class table: a project whose classes come in
another order gets the right classes. Our own export's ``dataset.json`` (reserved values,
no labels) is never read as one."""

from __future__ import annotations

import json

import numpy as np
from niftihelpers import LPS, RAS, ct_voxels, label_voxels, radiological, save_volume

from annotator.cli import main
from annotator.storage.project import Project

SHAPE = (24, 20, 6)


def _new(tmp_path, classes):
    root = tmp_path / "p"
    assert main(["new", str(root), "--classes", classes]) == 0
    return root


def _maps(root, stem, planes=6):
    with Project.open(root) as project:
        names = project.schema.names
        maps = [project.load_mask(project.image(f"{stem}_z{k:03d}.tif")) for k in range(planes)]
        return names, maps, project.schema.void


def _decathlon(ds, labels, affine=LPS, dataset_json=True):
    """Task03_Liver as it ships: the same case names in imagesTr/ and labelsTr/."""
    save_volume(ds / "imagesTr" / "liver_0.nii.gz", ct_voxels(), affine)
    voxels = label_voxels(SHAPE, seed=4)
    save_volume(ds / "labelsTr" / "liver_0.nii.gz", voxels, affine)
    if dataset_json:
        meta = {"name": "Liver", "modality": {"0": "CT"}, "labels": labels, "numTraining": 1}
        (ds / "dataset.json").write_text(json.dumps(meta))
    return voxels[::-1, ::-1, :] if affine is LPS else voxels  # (canonical: RAS)


def _expected(canonical, k, by_value, names):
    """Slice k of the labels in the project's class ids: value -> class name -> id."""
    lut = np.array([names.index(by_value[v]) for v in range(len(by_value))], np.uint8)
    return lut[radiological(canonical, k)]


def test_the_decathlons_dataset_json_names_the_classes_of_a_project_in_another_order(
    tmp_path, capsys
):
    """Task03: {"0": "background", "1": "liver", "2": "cancer"} into a project
    background,cancer,liver: liver stays liver (it was stored as "cancer")."""
    ds = tmp_path / "Task03_Liver"
    canonical = _decathlon(ds, {"0": "background", "1": "liver", "2": "cancer"})
    root = _new(tmp_path, "background,cancer,liver")
    assert main(["add", str(root), str(ds)]) == 0
    capsys.readouterr()
    assert main(["import", str(root), "--format", "masks", str(ds)]) == 0
    out = capsys.readouterr().out
    assert f"classes read from {ds / 'dataset.json'} (the Decathlon's labels)" in out
    names, maps, _ = _maps(root, "liver_0")
    assert names == ["background", "cancer", "liver"]  # nothing added
    by_value = ["background", "liver", "cancer"]
    for k, mask in enumerate(maps):
        assert np.array_equal(mask, _expected(canonical, k, by_value, names)), k


def test_nnunets_labels_name_the_classes_and_its_ignore_label_is_void(tmp_path, capsys):
    """nnU-Net v2's {"background": 0, ...}: a project of liver,tumour gets background
    added (not every background voxel read as liver), and the ignore label is void."""
    ds = tmp_path / "Dataset003_Liver"
    save_volume(ds / "imagesTr" / "case_0000.nii.gz", ct_voxels(), RAS)
    voxels = label_voxels(SHAPE, seed=5)
    voxels[:4, :4, :] = 3  # nnU-Net's ignore label
    save_volume(ds / "labelsTr" / "case.nii.gz", voxels, RAS)
    meta = {
        "channel_names": {"0": "CT"},
        "labels": {"background": 0, "liver": 1, "tumour": 2, "ignore": 3},
        "numTraining": 1,
        "file_ending": ".nii.gz",
    }
    (ds / "dataset.json").write_text(json.dumps(meta))
    root = _new(tmp_path, "liver,tumour")
    # from its labelsTr/ alone: the dataset.json is the folder's above
    assert main(["import", str(root), "--format", "masks", str(ds / "labelsTr")]) == 0
    out = capsys.readouterr().out
    assert f"classes read from {ds / 'dataset.json'} (nnU-Net's labels)" in out
    names, maps, void = _maps(root, "case_0000")
    assert names == ["liver", "tumour", "background"]
    for k, mask in enumerate(maps):
        shown = radiological(voxels, k)
        want = np.array([2, 0, 1, void], np.uint8)[shown]
        assert np.array_equal(mask, want), k
        assert (mask == void).sum() == (shown == 3).sum() > 0


def test_a_dataset_json_given_as_labels_is_read_as_its_classes(tmp_path, capsys):
    """--labels data/Task03_Liver/dataset.json (it failed: "the class name '},' is
    listed twice")."""
    ds = tmp_path / "labels_only"
    canonical = _decathlon(ds, {}, dataset_json=False)
    meta = tmp_path / "meta" / "dataset.json"
    meta.parent.mkdir()
    labels = {"0": "background", "1": "liver", "2": "cancer"}
    meta.write_text(json.dumps({"name": "Liver", "labels": labels}, indent=4))
    root = _new(tmp_path, "cancer,liver,background")
    args = ["import", str(root), "--format", "masks", str(ds), "--labels", str(meta)]
    assert main(args) == 0
    names, maps, _ = _maps(root, "liver_0")
    assert names == ["cancer", "liver", "background"]
    for k, mask in enumerate(maps):
        assert np.array_equal(mask, _expected(canonical, k, list(labels.values()), names)), k


def test_region_labels_are_refused_in_one_line(tmp_path, capsys):
    """nnU-Net's region-based labels ({"whole": [1, 2]}) name no class per value."""
    ds = tmp_path / "Dataset004_Brats"
    _decathlon(ds, {"background": 0, "whole": [1, 2], "core": 2})
    root = _new(tmp_path, "background,whole,core")
    assert main(["add", str(root), str(ds / "imagesTr")]) == 0
    capsys.readouterr()
    assert main(["import", str(root), "--format", "masks", str(ds)]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err
    assert str(ds / "dataset.json") in err and "nnU-Net's regions" in err
    assert "--labels FILE" in err
    _, maps, _ = _maps(root, "liver_0")
    assert all(m is None for m in maps)


def test_our_exports_dataset_json_is_still_read_for_its_reserved_values(tmp_path, capsys):
    """An Annotator masks export's dataset.json (even one holding a 'labels' key) gives
    the void and unlabelled values and never names classes."""
    ds = tmp_path / "export"
    save_volume(ds / "case.nii.gz", ct_voxels(), RAS)
    voxels = label_voxels(SHAPE, seed=6)
    voxels[:3, :3, :] = 254  # void, as the export writes it
    save_volume(ds / "case_seg.nii.gz", voxels, RAS)
    meta = {"format": "annotator-masks", "void": 254, "unlabelled": 255, "labels": {"0": "x"}}
    (ds / "dataset.json").write_text(json.dumps(meta))
    root = _new(tmp_path, "a,b,c")
    assert main(["import", str(root), "--format", "masks", str(ds)]) == 0
    out = capsys.readouterr().out
    assert "classes read from" not in out
    names, maps, void = _maps(root, "case")
    assert names == ["a", "b", "c"]
    for k, mask in enumerate(maps):
        shown = radiological(voxels, k)
        assert np.array_equal(mask, np.where(shown == 254, void, shown)), k
