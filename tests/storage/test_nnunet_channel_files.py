"""nnU-Net's cases of a file per input channel (``imagesTr/case_0000.nii.gz``,
``case_0001.nii.gz``...: BraTS' MRI sequences, the Decathlon's prostate T2 and ADC),
added together, are one set of slices whose pictures have a channel per file; the
case's labels import onto them and the nnU-Net export writes each channel back."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
from niftihelpers import LPS, RAS, label_voxels, radiological, save_volume

from annotator.cli import main
from annotator.storage.images import read_image
from annotator.storage.project import Project

SHAPE = (24, 20, 6)  # RAS, thickest along the third axis: 6 axial slices


def _mri(seed: int, dtype=np.int16) -> np.ndarray:
    """A modality's voxels: > 8-bit values, each file its own."""
    rng = np.random.default_rng(seed)
    return (rng.integers(-300, 3000, SHAPE) + 7 * seed).astype(dtype)


def _case(folder, case, channels, affine=RAS):
    """The channel files of a case; their voxels, in channel order."""
    voxels = []
    for c in range(channels):
        v = _mri(c) if c != 2 else _mri(c).astype(np.float32) / 3  # one float modality
        save_volume(folder / "imagesTr" / f"{case}_{c:04d}.nii.gz", v, affine)
        voxels.append(v)
    return voxels


def _new(tmp_path, classes="background,edema,tumour"):
    root = tmp_path / "p"
    assert main(["new", str(root), "--classes", classes]) == 0
    return root


def _add(capsys, root, *paths):
    capsys.readouterr()
    assert main(["add", str(root), *map(str, paths)]) == 0
    return capsys.readouterr()


def _names(root):
    with Project.open(root) as project:
        return sorted(rec.name for rec in project.images())


def test_the_channel_files_of_a_case_are_one_picture_per_slice_a_channel_per_file(tmp_path, capsys):
    voxels = _case(tmp_path / "ds", "brats_001", 3)
    root = _new(tmp_path)
    said = _add(capsys, root, tmp_path / "ds")
    assert "added 6 image(s)" in said.out  # not 18: one slice set, not one per file
    assert "1 nnU-Net case(s) of a file per channel are one picture per slice" in said.out
    assert "further channels" not in said.err
    assert _names(root) == [f"brats_001_0000_z{k:03d}.tif" for k in range(6)]
    folder = root / "slices" / "brats_001_0000"
    for k in range(6):
        picture = read_image(folder / f"brats_001_0000_z{k:03d}.tif")
        assert picture.shape == (20, 24, 3)
        for c in range(3):  # channel c is file _000c's slice k, as it is shown
            assert np.array_equal(picture[..., c], radiological(voxels[c], k).astype(np.float32))
    record = json.loads((folder / "source.json").read_text())
    assert [c["stack"] for c in record["channels"]] == [
        str((tmp_path / "ds" / "imagesTr" / f"brats_001_{c:04d}.nii.gz").resolve())
        for c in range(3)
    ]
    assert record["volume"]["shape"] == list(SHAPE)  # what undoes the slicing


def test_a_case_whose_channel_is_on_another_grid_is_refused_in_one_line(tmp_path, capsys):
    ds = tmp_path / "ds"
    _case(ds, "good", 2)
    save_volume(ds / "imagesTr" / "bad_0000.nii.gz", _mri(0))
    save_volume(ds / "imagesTr" / "bad_0001.nii.gz", _mri(1), LPS)  # its voxels elsewhere
    root = _new(tmp_path)
    said = _add(capsys, root, ds)
    assert "added 18 image(s)" in said.out  # good: 6 of 2 channels; bad: 6 + 6 as before
    # (a slow machine also shows the progress line, naming the file being added)
    lines = [x for x in said.err.splitlines() if "bad_0001" in x and "adding:" not in x]
    assert len(lines) == 1
    assert "its affine is not that of its case's first file" in lines[0]
    assert "the case's further channels were added as images of their own" in lines[0]
    names = _names(root)
    assert "bad_0001_z000.tif" in names and "good_0001_z000.tif" not in names
    with Project.open(root) as project:
        assert project.load_image(project.image("good_0000_z000.tif")).shape == (20, 24, 2)
        assert project.load_image(project.image("bad_0000_z000.tif")).shape == (20, 24)


def test_adding_a_case_again_adds_nothing(tmp_path, capsys):
    _case(tmp_path / "ds", "prostate_00", 2)
    root = _new(tmp_path)
    assert "added 6 image(s)" in _add(capsys, root, tmp_path / "ds").out
    again = _add(capsys, root, tmp_path / "ds")
    assert "added 0 image(s)" in again.out and "further channels" not in again.err
    assert sorted(p.name for p in (root / "slices").iterdir()) == ["prostate_00_0000"]
    assert len(_names(root)) == 6
    # its split's record lost: found again by its slices, recorded with its channels
    (root / "slices" / "prostate_00_0000" / "source.json").unlink()
    for _ in range(2):  # (recorded without its channels, the third add split it again)
        assert "added 0 image(s)" in _add(capsys, root, tmp_path / "ds").out
    assert sorted(p.name for p in (root / "slices").iterdir()) == ["prostate_00_0000"]
    assert len(_names(root)) == 6


def test_labels_import_onto_the_case_and_the_nnunet_export_writes_each_channel_back(
    tmp_path, capsys
):
    ds = tmp_path / "ds"
    voxels = _case(ds, "brats_001", 3)
    labels = label_voxels(SHAPE, seed=4)
    save_volume(ds / "labelsTr" / "brats_001.nii.gz", labels)
    root = _new(tmp_path)
    _add(capsys, root, ds / "imagesTr")
    assert main(["import", str(root), "--format", "masks", str(ds / "labelsTr")]) == 0
    assert "imported 6 mask(s)" in capsys.readouterr().out
    with Project.open(root) as project:
        for k in range(6):
            mask = project.load_mask(project.image(f"brats_001_0000_z{k:03d}.tif"))
            assert np.array_equal(mask, radiological(labels, k)), k
    out = tmp_path / "out"
    assert main(["export", str(root), str(out), "--format", "nnunet"]) == 0
    written = sorted(p.name for p in (out / "imagesTr").iterdir())
    assert written == [f"brats_001_{c:04d}.nii.gz" for c in range(3)]
    for c in range(3):
        back = np.asarray(nib.load(out / "imagesTr" / f"brats_001_{c:04d}.nii.gz").dataobj)
        assert np.array_equal(back, voxels[c].astype(np.float32)), c
    back = np.asarray(nib.load(out / "labelsTr" / "brats_001.nii.gz").dataobj)
    assert np.array_equal(back, labels)


def test_every_modality_of_four_is_exported_unless_a_channel_choice_picks(tmp_path, capsys):
    """BraTS' four sequences: nnU-Net trains on them together, so an export without a
    Channel Choice writes all four back, not the first three a model takes; with one,
    the channels chosen."""
    ds = tmp_path / "ds"
    voxels = _case(ds, "brats_002", 4)
    save_volume(ds / "labelsTr" / "brats_002.nii.gz", label_voxels(SHAPE, seed=5))
    root = _new(tmp_path)
    _add(capsys, root, ds / "imagesTr")
    assert main(["import", str(root), "--format", "masks", str(ds / "labelsTr")]) == 0
    out = tmp_path / "all"
    capsys.readouterr()
    assert main(["export", str(root), str(out), "--format", "nnunet"]) == 0
    said = capsys.readouterr().out
    assert "every case's 4 channels written (_0000 to _0003)" in said
    assert "more channels than" not in said
    written = sorted(p.name for p in (out / "imagesTr").iterdir())
    assert written == [f"brats_002_{c:04d}.nii.gz" for c in range(4)]
    back = np.asarray(nib.load(out / "imagesTr" / "brats_002_0003.nii.gz").dataobj)
    assert np.array_equal(back, voxels[3].astype(np.float32))
    meta = json.loads((out / "dataset.json").read_text())
    assert len(meta["channel_names"]) == 4
    assert main(["channels", str(root), "--use", "4,1"]) == 0
    out = tmp_path / "chosen"
    capsys.readouterr()
    assert main(["export", str(root), str(out), "--format", "nnunet"]) == 0
    assert "every case's" not in capsys.readouterr().out
    back = np.asarray(nib.load(out / "imagesTr" / "brats_002_0000.nii.gz").dataobj)
    assert np.array_equal(back, voxels[3].astype(np.float32))  # the choice's first: 4
    assert len(list((out / "imagesTr").iterdir())) == 2


def test_chosen_modalities_are_shown_each_through_a_window_of_its_own(tmp_path, capsys):
    """BraTS' four sequences, of scales far apart: ``channels --use 1,2,4`` shows the
    first, second and fourth, each stretched from its own 0.5 to 99.5 percentile."""
    rng = np.random.default_rng(3)
    scales = [(0, 100), (1000, 3000), (0, 1), (-500, -100)]
    for c, (low, high) in enumerate(scales):
        values = rng.uniform(low, high, SHAPE)
        voxels = values.astype(np.float32) if c == 2 else values.astype(np.int16)
        save_volume(tmp_path / "ds" / "imagesTr" / f"brats_002_{c:04d}.nii.gz", voxels)
    root = _new(tmp_path)
    _add(capsys, root, tmp_path / "ds")
    assert main(["channels", str(root), "--use", "1,2,4"]) == 0
    from annotator.services.session import AnnotationSession

    with Project.open(root) as project:
        session = AnnotationSession(project)
        try:
            doc = session.open_image(project.image("brats_002_0000_z003.tif").id)
            assert doc.image.shape == (20, 24, 4)
            assert np.array_equal(doc.shown_image, doc.image[..., [0, 1, 3]])
            windows = doc.auto_windows
            for (low, high), c in zip(windows, (0, 1, 3), strict=True):
                a, b = scales[c]
                assert a <= low < a + 0.05 * (b - a) and b - 0.05 * (b - a) < high <= b, c
            shown = doc.display_image()
            assert shown.shape == (20, 24, 3)
            for c in range(3):  # each channel spans black to white
                assert shown[..., c].min() <= 5 and shown[..., c].max() >= 250, c
        finally:
            session.close()


def test_labels_imported_alone_add_their_case_with_every_channel_file(tmp_path, capsys):
    """The masks import of ``labelsTr/`` into a project without the case adds its
    pictures first: the case's channel files as one, as ``annotator add`` would."""
    ds = tmp_path / "ds"
    voxels = _case(ds, "prostate_01", 2)
    labels = label_voxels(SHAPE, seed=6)
    save_volume(ds / "labelsTr" / "prostate_01.nii.gz", labels)
    root = _new(tmp_path)
    assert main(["import", str(root), "--format", "masks", str(ds / "labelsTr")]) == 0
    assert "6 image(s) added" in capsys.readouterr().out
    assert _names(root) == [f"prostate_01_0000_z{k:03d}.tif" for k in range(6)]
    with Project.open(root) as project:
        for k in range(6):
            rec = project.image(f"prostate_01_0000_z{k:03d}.tif")
            assert np.array_equal(project.load_mask(rec), radiological(labels, k)), k
            picture = project.load_image(rec)
            assert np.array_equal(picture[..., 1], radiological(voxels[1], k)), k
    # added later, the folder of pictures adds nothing more
    assert "added 0 image(s)" in _add(capsys, root, ds / "imagesTr").out
