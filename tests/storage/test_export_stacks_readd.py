"""An ``export --stacks`` folder added and imported into another project: the label
stack in ``SPLIT/stacks/`` is the labels of the slices in ``SPLIT/images/``. Before,
``annotator add`` split it and added its slices as more pictures (exit 0), and the
import of ``SPLIT/stacks`` found neither the export's class list nor its reserved
values (an unlabelled pixel read as a class)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tifffile

from annotator.cli import main
from annotator.core.naming import label_stacks_of_slices
from annotator.core.synthetic import synthetic_cells
from annotator.storage.project import Project


def _exported(tmp_path: Path) -> tuple[Path, dict[str, np.ndarray]]:
    """A project of one 4-slice stack, labelled in part, exported with --stacks."""
    src = tmp_path / "src"
    src.mkdir()
    volume = np.stack([synthetic_cells(seed=i, size=40, n_cells=3)[0] for i in range(4)])
    tifffile.imwrite(src / "vol.tif", volume, imagej=True, metadata={"axes": "ZYX"})
    masks = tmp_path / "masks"
    masks.mkdir()
    for i in range(3):  # the last slice stays without labels
        mask = np.full((40, 40), 255, np.uint8)  # unlabelled...
        mask[:, : 10 + 5 * i] = 0
        mask[:, 30:] = 2
        mask[5:9, 5:9] = 1
        tifffile.imwrite(masks / f"vol_z00{i}.tif", mask)
    project = tmp_path / "p"
    assert main(["new", str(project), "--classes", "a,b,c"]) == 0
    assert main(["add", str(project), str(src / "vol.tif")]) == 0
    assert main(["import", str(project), "--format", "masks", str(masks)]) == 0
    out = tmp_path / "out"
    assert main(["export", str(project), str(out), "--format", "masks", "--stacks"]) == 0
    assert (out / "train" / "stacks" / "vol.tif").is_file()
    with Project.open(project) as p:
        labels = {r.name: p.load_mask(r) for r in p.images()}
    return out, {k: v for k, v in labels.items() if v is not None}


def test_an_export_folder_added_leaves_its_label_stack_out(tmp_path, capsys):
    out, _ = _exported(tmp_path)
    again = tmp_path / "again"
    assert main(["new", str(again), "--classes", "a,b,c"]) == 0
    capsys.readouterr()
    assert main(["add", str(again), str(out)]) == 0
    said = capsys.readouterr()
    with Project.open(again) as p:
        names = sorted(Path(r.name).name for r in p.images())
    # the labelled slices (done: exported), no label slices among them
    assert names == [f"vol_z00{i}.tif" for i in range(3)]
    assert "stacks/vol.tif" in said.out + said.err


def test_an_export_label_stack_imports_onto_the_slices_with_its_reserved_values(tmp_path, capsys):
    out, labels = _exported(tmp_path)
    again = tmp_path / "again"
    assert main(["new", str(again), "--classes", "a,b,c"]) == 0
    assert main(["add", str(again), str(out)]) == 0
    capsys.readouterr()
    # slice 3 was not exported: its page holds no labels, left out (not "skipped", exit 0)
    assert main(["import", str(again), "--format", "masks", str(out / "train" / "stacks")]) == 0
    said = capsys.readouterr()
    assert "1 slice(s) of label stacks hold no labels" in said.out + said.err
    assert "skipped" not in said.err
    with Project.open(again) as p:
        got = {Path(r.name).name: p.load_mask(r) for r in p.images()}
        unlabelled = p.schema.unlabelled
    assert sorted(labels) == [f"vol_z00{i}.tif" for i in range(3)]
    for name, mask in labels.items():
        assert (mask == unlabelled).any()
        np.testing.assert_array_equal(got[name], mask)


def test_a_stack_named_as_slices_beside_it_pairs_with_the_first_slice():
    stems = ["vol_z000", "vol_z001", "vol", "other", "big_z0000", "big.ome", "vol_z000"]
    assert label_stacks_of_slices(stems) == {2: 0, 5: 4}


def test_an_export_of_a_nifti_volume_added_leaves_its_label_volume_out(tmp_path):
    from niftihelpers import LPS, ct_voxels, label_voxels, save_volume

    save_volume(tmp_path / "src" / "case_0000.nii.gz", ct_voxels(), LPS)
    save_volume(tmp_path / "lab" / "case_0000_seg.nii.gz", label_voxels(), LPS)
    project = tmp_path / "p"
    assert main(["new", str(project), "--classes", "background,liver,tumour"]) == 0
    assert main(["add", str(project), str(tmp_path / "src")]) == 0
    assert main(["import", str(project), "--format", "masks", str(tmp_path / "lab")]) == 0
    out = tmp_path / "out"
    assert main(["export", str(project), str(out), "--format", "masks", "--stacks"]) == 0
    assert (out / "train" / "stacks" / "case_0000.nii.gz").is_file()
    again = tmp_path / "again"
    assert main(["new", str(again), "--classes", "background,liver,tumour"]) == 0
    assert main(["add", str(again), str(out)]) == 0
    with Project.open(again) as p:
        names = sorted(Path(r.name).name for r in p.images())
    assert names == [f"case_0000_z00{i}.tif" for i in range(6)]
