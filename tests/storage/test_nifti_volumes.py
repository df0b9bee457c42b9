"""NIfTI volumes (``.nii``, ``.nii.gz``) added to a project: split into slices as a TIFF
stack is, every voxel in its own type, each slice shown as radiologists read it. Before,
``annotator add`` did not know the files (a folder's were counted as pictures not read)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from niftihelpers import (
    LPS,
    PERMUTED,
    RAS,
    ct_voxels,
    radiological,
    save_scaled,
    save_volume,
)

from annotator.cli import main
from annotator.core import limits
from annotator.core.errors import ImageReadError
from annotator.storage.images import read_image


def _slices(project, stem, n):
    """The pictures of a volume's slices, as the project reads them."""
    return [read_image(project.root / "slices" / stem / f"{stem}_z{k:03d}.tif") for k in range(n)]


@pytest.mark.parametrize("name", ["case_0000.nii.gz", "case_0000.nii"])
def test_a_ct_volume_is_split_into_slices_that_keep_its_int16_values(project, tmp_path, name):
    voxels = ct_voxels()
    assert voxels.min() < -900  # air: negative Hounsfield units
    file = save_volume(tmp_path / name, voxels)
    report = project.add_images([file])
    assert report.errors == [] and len(report.added) == 6
    assert report.stacks == [(str(file), 6, str(project.root / "slices" / "case_0000"))]
    assert [r.name for r in report.added] == [f"case_0000_z{k:03d}.tif" for k in range(6)]
    assert all(r.bit_depth == 16 and r.width == 24 and r.height == 20 for r in report.added)
    for k, picture in enumerate(_slices(project, "case_0000", 6)):
        assert picture.dtype == np.int16  # not clipped to 0, not widened
        assert np.array_equal(picture, radiological(voxels, k))  # (RAS: canonical already)
    record = json.loads((project.root / "slices" / "case_0000" / "source.json").read_text())
    volume = record["volume"]
    assert volume["format"] == "nifti" and volume["shape"] == [24, 20, 6]
    assert volume["orientation"] == [[0, 1], [1, 1], [2, 1]]
    assert volume["spacing"] == pytest.approx([0.8, 0.7, 2.5])


def test_each_slice_is_shown_anterior_up_and_the_patients_right_on_the_left(project, tmp_path):
    """An LPS file (DICOM's order) and one of permuted axes give the pictures of the
    same scan in RAS order: the orientation is the patient's, not the file's."""
    canonical = ct_voxels((24, 20, 6))  # RAS: axis 0 to the patient's right, 1 forwards
    canonical[19:22, 14:18, :] = 3000  # bone at the patient's right, in front
    stored = {  # the same scan as each file stores it (a value apart: not one picture)
        "ras": (RAS, canonical),
        "lps": (LPS, canonical[::-1, ::-1, :] + 1),
        "perm": (PERMUTED, canonical[::-1, :, :].transpose(2, 1, 0) + 2),  # (S, A, L)
    }
    for stem, (affine, voxels) in stored.items():
        save_volume(tmp_path / f"{stem}.nii.gz", np.ascontiguousarray(voxels), affine)
    report = project.add_images(sorted(tmp_path.glob("*.nii.gz")))
    assert report.errors == [] and len(report.added) == 18
    for offset, stem in enumerate(stored):
        for k, picture in enumerate(_slices(project, stem, 6)):
            assert np.array_equal(picture - offset, radiological(canonical, k)), (stem, k)
    # the bone: the patient's right is the picture's left, the front at its top
    bone = np.argwhere(_slices(project, "perm", 6)[3] == 3002)
    assert bone[:, 0].max() < 6 and bone[:, 1].max() < 5


def test_a_scaled_volume_is_stored_as_float32_scaled(project, tmp_path):
    stored = ct_voxels() + 1024  # as some scanners store CT: offset, then scaled back
    file = save_scaled(tmp_path / "scaled.nii.gz", stored.astype(np.int16), 0.5, -10.0)
    report = project.add_images([file])
    assert report.errors == [] and len(report.added) == 6
    for k, picture in enumerate(_slices(project, "scaled", 6)):
        assert picture.dtype == np.float32
        want = radiological(stored.astype(np.float32) * 0.5 - 10.0, k)
        assert np.array_equal(picture, want)


@pytest.mark.parametrize(("dtype", "top"), [(np.uint8, 255), (np.uint16, 60000)])
def test_unsigned_and_float_volumes_keep_their_type(project, tmp_path, dtype, top):
    voxels = np.random.default_rng(2).integers(0, top, (16, 12, 3)).astype(dtype)
    save_volume(tmp_path / "u.nii", voxels)
    save_volume(tmp_path / "f.nii", (voxels / 7).astype(np.float32))
    assert project.add_images([tmp_path / "u.nii", tmp_path / "f.nii"]).errors == []
    assert all(
        np.array_equal(p, radiological(voxels, k)) for k, p in enumerate(_slices(project, "u", 3))
    )
    floats = _slices(project, "f", 3)
    assert floats[0].dtype == np.float32
    assert np.array_equal(floats[1], radiological((voxels / 7).astype(np.float32), 1))


def test_a_4d_file_of_one_time_point_is_read_as_3d(project, tmp_path):
    voxels = ct_voxels()
    save_volume(tmp_path / "t1.nii.gz", voxels[..., None])
    report = project.add_images([tmp_path / "t1.nii.gz"])
    assert report.errors == [] and len(report.added) == 6
    assert np.array_equal(_slices(project, "t1", 6)[5], radiological(voxels, 5))


@pytest.mark.parametrize(("shape", "what"), [((8, 6, 3, 4), "4-D"), ((8, 6, 3, 1, 2), "5-D")])
def test_a_4d_or_5d_file_is_refused_in_one_line(tmp_path, capsys, shape, what):
    save_volume(tmp_path / "fmri.nii.gz", np.zeros(shape, np.int16))
    root = str(tmp_path / "p")
    assert main(["new", root, "--classes", "a,b"]) == 0
    capsys.readouterr()
    assert main(["add", root, str(tmp_path / "fmri.nii.gz")]) != 0
    err = capsys.readouterr().err
    line = next(line for line in err.splitlines() if "fmri.nii.gz" in line)
    assert f"a {what} NIfTI volume" in line and "save each as a 3-D file" in line
    assert "Traceback" not in err
    assert not (tmp_path / "p" / "slices").exists() or not any(
        (tmp_path / "p" / "slices").iterdir()
    )


def test_a_damaged_volume_is_refused_and_leaves_nothing_behind(tmp_path, capsys):
    whole = save_volume(tmp_path / "whole.nii.gz", ct_voxels((40, 40, 20))).read_bytes()
    (tmp_path / "cut.nii.gz").write_bytes(whole[: len(whole) // 2])  # header there, voxels not
    (tmp_path / "junk.nii.gz").write_bytes(b"not a volume at all" * 20)
    root = tmp_path / "p"
    assert main(["new", str(root), "--classes", "a,b"]) == 0
    capsys.readouterr()
    code = main(["add", str(root), str(tmp_path / "cut.nii.gz"), str(tmp_path / "junk.nii.gz")])
    err = capsys.readouterr().err
    assert code != 0 and "Traceback" not in err
    assert "cut.nii.gz: corrupt or truncated NIfTI file" in err
    assert "junk.nii.gz: corrupt or unsupported NIfTI file" in err
    slices = root / "slices"
    assert not slices.exists() or list(slices.iterdir()) == []  # no split, no .partial


def test_a_volume_added_again_finds_its_slices(project, tmp_path):
    file = save_volume(tmp_path / "scan.nii.gz", ct_voxels())
    first = project.add_images([file])
    assert len(first.added) == 6
    again = project.add_images([file])
    assert again.added == [] and again.stacks == []
    moved = tmp_path / "elsewhere" / "scan.nii.gz"
    moved.parent.mkdir()
    shutil.copy2(file, moved)
    third = project.add_images([moved.parent])  # (a folder: found among its files)
    assert third.added == [] and third.errors == []
    assert sorted(p.name for p in (project.root / "slices").iterdir()) == ["scan"]


def test_a_2d_file_and_a_volume_of_one_slice_are_one_slice(project, tmp_path):
    plane = ct_voxels((24, 20, 1))
    save_volume(tmp_path / "flat.nii", plane[..., 0])
    save_volume(tmp_path / "one.nii.gz", ct_voxels((24, 20, 1), seed=5))
    report = project.add_images([tmp_path])
    assert report.errors == []
    assert sorted(r.name for r in report.added) == ["flat_z000.tif", "one_z000.tif"]
    assert np.array_equal(_slices(project, "flat", 1)[0], radiological(plane, 0))


def test_volumes_beyond_the_limits_are_refused_in_words(project, tmp_path, monkeypatch):
    save_volume(tmp_path / "big.nii.gz", ct_voxels())
    monkeypatch.setattr(limits, "MAX_STACK_BYTES", 1000)
    report = project.add_images([tmp_path / "big.nii.gz"])
    assert report.added == [] and "GiB split here at once" in report.errors[0].problem
    monkeypatch.undo()
    monkeypatch.setenv("ANNOTATOR_MAX_PIXELS", "100")
    report = project.add_images([tmp_path / "big.nii.gz"])
    assert report.added == [] and "ANNOTATOR_MAX_PIXELS" in report.errors[0].problem


def test_a_volume_read_as_one_picture_says_to_add_it(tmp_path):
    save_volume(tmp_path / "scan.nii.gz", ct_voxels())
    with pytest.raises(ImageReadError, match="a NIfTI volume, not one picture: add it"):
        read_image(tmp_path / "scan.nii.gz")
