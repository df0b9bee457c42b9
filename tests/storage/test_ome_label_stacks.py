"""OME-TIFF stacks: slices named without ``.ome``, and a label stack written without
axes (tifffile calls its planes channels, CYX) read as the label stack it is."""

from __future__ import annotations

import numpy as np
import tifffile

from annotator.cli import main
from annotator.storage import stacks
from annotator.storage.project import Project

RNG = np.random.default_rng(11)
SHAPE = (5, 16, 24)


def _stack(tmp_path):
    volume = RNG.integers(0, 255, SHAPE).astype(np.uint8)
    tifffile.imwrite(tmp_path / "vol.ome.tif", volume, metadata={"axes": "ZYX"})
    return tmp_path / "vol.ome.tif"


def _labels_without_axes(folder):
    """A label stack as `tifffile.imwrite("vol.ome.tif", labels)` writes it: axes CYX."""
    labels = RNG.integers(0, 2, SHAPE).astype(np.uint8)
    folder.mkdir()
    tifffile.imwrite(folder / "vol.ome.tif", labels)
    with tifffile.TiffFile(folder / "vol.ome.tif") as tif:
        assert tif.series[0].axes == "CYX"  # what the audit's file said
    return labels


def _names(root):
    with Project.open(root) as project:
        return sorted(r.name for r in project.images())


def test_an_ome_stack_gives_slices_named_without_ome(tmp_path):
    root = tmp_path / "proj"
    assert main(["new", str(root), "--classes", "bg,cell"]) == 0
    assert main(["add", str(root), str(_stack(tmp_path))]) == 0
    assert _names(root) == [f"vol_z00{i}.tif" for i in range(5)]
    assert (root / "slices" / "vol" / "vol_z000.tif").is_file()


def test_a_label_stack_written_without_axes_imports_onto_the_slices(tmp_path, capsys):
    root = tmp_path / "proj"
    assert main(["new", str(root), "--classes", "bg,cell"]) == 0
    assert main(["add", str(root), str(_stack(tmp_path))]) == 0
    labels = _labels_without_axes(tmp_path / "labels")
    assert main(["import", str(root), "--format", "masks", str(tmp_path / "labels")]) == 0
    assert "5 mask(s)" in capsys.readouterr().out
    with Project.open(root) as project:
        for i in range(5):
            assert np.array_equal(project.load_mask(project.image(f"vol_z00{i}.tif")), labels[i])


def test_a_project_that_split_an_ome_stack_before_keeps_its_names(tmp_path, monkeypatch):
    root = tmp_path / "proj"
    assert main(["new", str(root), "--classes", "bg,cell"]) == 0
    with monkeypatch.context() as before:  # the naming of earlier versions: the whole stem
        before.setattr(stacks, "stack_stem", lambda stem: stem)
        assert main(["add", str(root), str(_stack(tmp_path))]) == 0
    old = [f"vol.ome_z00{i}.tif" for i in range(5)]
    assert _names(root) == old
    assert main(["add", str(root), str(tmp_path / "vol.ome.tif")]) == 0  # again: found
    assert _names(root) == old
    assert not (root / "slices" / "vol").exists()
    labels = _labels_without_axes(tmp_path / "labels")
    assert main(["import", str(root), "--format", "masks", str(tmp_path / "labels")]) == 0
    with Project.open(root) as project:
        for i in range(5):
            assert np.array_equal(project.load_mask(project.image(old[i])), labels[i])
    # a label stack named without .ome (as a new project's export names it) finds them too
    again = RNG.integers(0, 2, SHAPE).astype(np.uint8)
    (tmp_path / "more").mkdir()
    tifffile.imwrite(tmp_path / "more" / "vol.tif", again, imagej=True, metadata={"axes": "ZYX"})
    assert main(["import", str(root), "--format", "masks", str(tmp_path / "more")]) == 0
    with Project.open(root) as project:
        for i in range(5):
            assert np.array_equal(project.load_mask(project.image(old[i])), again[i])


def test_a_mask_of_channels_naming_no_stack_is_skipped_saying_why(tmp_path, capsys):
    root = tmp_path / "proj"
    assert main(["new", str(root), "--classes", "bg,cell"]) == 0
    tifffile.imwrite(tmp_path / "other.tif", RNG.integers(0, 255, SHAPE[1:]).astype(np.uint8))
    assert main(["add", str(root), str(tmp_path / "other.tif")]) == 0
    (tmp_path / "labels").mkdir()
    tifffile.imwrite(tmp_path / "labels" / "other.ome.tif", np.zeros(SHAPE, np.uint8))
    assert main(["import", str(root), "--format", "masks", str(tmp_path / "labels")]) != 0
    err = capsys.readouterr().err
    assert "read as a 5-channel mask (axes CYX), and a mask has one channel" in err
    assert "a label stack needs axes ZYX" in err
    with Project.open(root) as project:  # its first plane was not taken for the mask
        assert project.load_mask(project.image("other.tif")) is None
