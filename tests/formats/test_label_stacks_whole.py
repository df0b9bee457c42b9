"""A label stack (a TIFF of pages, a NIfTI label volume) is imported whole or not at all:
one page refused for its values or its size skips the whole stack, in one line naming
the stack, the first slice refused and why, and how many were. A slice left out was a
hole in the volume (exported as unlabelled), and a real volume printed a line a slice."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tifffile
from niftihelpers import RAS, ct_voxels, label_voxels, save_volume

from annotator.cli import main
from annotator.storage.project import Project

SHAPE = (24, 20, 6)


def _maps(root, stem, planes=6):
    with Project.open(root) as project:
        return [project.load_mask(project.image(f"{stem}_z{k:03d}.tif")) for k in range(planes)]


def _run(root, src, capsys):
    code = main(["import", str(root), "--format", "masks", str(src)])
    said = capsys.readouterr()
    return code, said.out + said.err


@pytest.mark.parametrize("named", [True, False], ids=["dataset.json", "class-ids"])
def test_a_label_volume_with_one_bad_slice_is_skipped_whole_in_one_line(tmp_path, capsys, named):
    """By the dataset's class names (refused as it is read) or as the project's class
    ids (refused before anything is added)."""
    ds = tmp_path / "Task03_Liver"
    good, bad = label_voxels(SHAPE, seed=1), label_voxels(SHAPE, seed=2)
    bad[3:9, 3:9, 4] = 7  # slice 4: a value no class has
    for i, (case, voxels) in enumerate([("liver_0", good), ("liver_1", bad)]):
        save_volume(ds / "imagesTr" / f"{case}.nii.gz", ct_voxels(seed=i), RAS)
        save_volume(ds / "labelsTr" / f"{case}.nii.gz", voxels, RAS)
    if named:
        labels = {"0": "background", "1": "liver", "2": "cancer"}
        (ds / "dataset.json").write_text(json.dumps({"modality": {"0": "CT"}, "labels": labels}))
    root = tmp_path / "p"
    assert main(["new", str(root), "--classes", "background,liver,cancer"]) == 0
    assert main(["add", str(root), str(ds)]) == 0
    capsys.readouterr()
    code, said = _run(root, ds, capsys)
    assert code == 2, said
    lines = [line for line in said.splitlines() if "liver_1" in line]
    assert len(lines) == 1, said
    stack = ds / "labelsTr" / "liver_1.nii.gz"
    assert f"{stack}: label stack not imported: slice 4: values [7]" in lines[0]
    assert "(1 of its 6 slices refused" in lines[0]
    assert all(m is None for m in _maps(root, "liver_1"))
    assert all(m is not None for m in _maps(root, "liver_0"))


def _tiff_stack(path, pages):
    path.parent.mkdir(parents=True, exist_ok=True)
    tifffile.imwrite(path, pages, imagej=True, metadata={"axes": "ZYX"})


@pytest.mark.parametrize(
    "case", ["values", "values-listed", "size-of-slices-added", "size-of-slices-new"]
)
def test_a_tiff_label_stack_with_refused_pages_is_skipped_whole(tmp_path, capsys, case):
    rng = np.random.default_rng(0)
    ds = tmp_path / "ds"
    _tiff_stack(ds / "images" / "vol.tif", rng.integers(0, 255, (6, 20, 24), np.uint8))
    size = (10, 12) if case.startswith("size") else (20, 24)
    labels = rng.integers(0, 3, (6, *size), np.uint8)
    if case.startswith("values"):
        labels[2, :2, :2] = 9  # slices 2 and 5 hold a value no class has
        labels[5, :2, :2] = 9
    _tiff_stack(ds / "masks" / "vol.tif", labels)
    if case == "values-listed":
        (ds / "class_names.txt").write_text("bg\ncell\nnucleus\n")
    root = tmp_path / "p"
    assert main(["new", str(root), "--classes", "bg,cell,nucleus"]) == 0
    if case != "size-of-slices-new":
        assert main(["add", str(root), str(ds / "images")]) == 0
    capsys.readouterr()
    code, said = _run(root, ds, capsys)
    assert code == 1, said  # (nothing else to import: the error line repeats the reason)
    summary = ("annotator: error: nothing imported", "imported")
    lines = [line for line in said.splitlines() if not line.startswith(summary)]
    lines = [line for line in lines if "vol.tif" in line]
    assert len(lines) == 1, said
    assert f"{ds / 'masks' / 'vol.tif'}: label stack not imported: slice" in lines[0]
    if case.startswith("values"):
        assert "slice 2: values [9]" in lines[0] and "(2 of its 6 slices refused" in lines[0]
    else:
        assert "not imported: slice 0 of the labels is 12x10" in lines[0]
        assert "(6 of its 6 slices refused" in lines[0]
    with Project.open(root) as project:
        assert all(project.load_mask(r) is None for r in project.images())
        # the slices are not added for labels that cannot be imported
        assert len(project.images()) == (0 if case == "size-of-slices-new" else 6)
