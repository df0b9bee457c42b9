"""Every slice of a stack is an image of its own, whatever its content (ADR 0022).

Found by an audit of NIfTI volumes: a skull-stripped or atlas-registered scan has all-zero
top and bottom slices, and the add kept one blank slice in the whole project ("skipped
7 file(s) with the same content as an image already added"). The volume then had holes:
its label volume's import exited 2 ("already got its labels"), ``export --stacks`` and
the nnU-Net export wrote those slices as unlabelled, paging skipped them. The same held
for a TIFF time series' blank frames."""

from __future__ import annotations

import shutil

import nibabel as nib
import numpy as np
import tifffile
from niftihelpers import ct_voxels, label_voxels, save_volume

from annotator.cli import main
from annotator.core.status import ImageStatus
from annotator.storage.image_removal import remove_images
from annotator.storage.project import SAME_CONTENT_ADDED, Project

SHAPE = (24, 20, 8)
ZYX = {"imagej": True, "metadata": {"axes": "ZYX"}}
BLANK = (0, 1, 6, 7)  # the padding slices, all zero


def _padded(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A scan whose 2 top and 2 bottom slices are all zero, and its labels (background
    there, as a registered scan's)."""
    voxels = ct_voxels(SHAPE, seed=seed)
    labels = label_voxels(SHAPE, seed=seed + 1)
    voxels[:, :, list(BLANK)] = 0
    labels[:, :, list(BLANK)] = 0
    return voxels, labels


def _new(tmp_path, classes="bg,liver,tumour"):
    root = tmp_path / "p"
    assert main(["new", str(root), "--classes", classes]) == 0
    return root


def _tiff_series(blank=BLANK, seed=0, planes=8) -> np.ndarray:
    """A ZYX time series whose frames ``blank`` are all zero."""
    series = np.random.default_rng(seed).integers(1, 255, (planes, 16, 24)).astype(np.uint8)
    series[list(blank)] = 0
    return series


def test_a_volume_with_blank_slices_keeps_them_and_its_labels_go_back_voxel_for_voxel(
    tmp_path, capsys
):
    voxels, labels = _padded()
    save_volume(tmp_path / "ds" / "pad_000.nii.gz", voxels)
    save_volume(tmp_path / "ds" / "pad_000_seg.nii.gz", labels)
    root = _new(tmp_path, "background,liver,tumour")  # (nnU-Net's label 0: background)
    assert main(["add", str(root), str(tmp_path / "ds")]) == 0
    said = capsys.readouterr()
    assert "added 8 image(s), skipped 0" in said.out
    assert "same content" not in said.err
    assert main(["import", str(root), "--format", "masks", str(tmp_path / "ds")]) == 0
    said = capsys.readouterr()
    assert "imported 8 mask(s)" in said.out and "already got its labels" not in said.out
    with Project.open(root) as project:
        assert [r.name for r in project.images()] == [f"pad_000_z{k:03d}.tif" for k in range(8)]
        paths = {project.image_path(r) for r in project.images()}
        assert len(paths) == 8  # each slice its own file
    out = tmp_path / "out"
    args = ["export", str(root), str(out), "--format", "masks", "--stacks", "--split", "1"]
    assert main(args) == 0
    written = np.asanyarray(nib.load(out / "train" / "stacks" / "pad_000.nii.gz").dataobj)
    assert np.array_equal(written, labels)
    nnunet = tmp_path / "Dataset001_Pad"
    assert main(["export", str(root), str(nnunet), "--format", "nnunet", "--split", "1,0,0"]) == 0
    case = np.asanyarray(nib.load(nnunet / "labelsTr" / "pad_000.nii.gz").dataobj)
    assert case.shape == SHAPE and np.array_equal(case, labels)


def test_a_tiff_series_keeps_its_blank_frames_and_its_label_stack_round_trips(tmp_path, capsys):
    series = _tiff_series()
    labels = np.random.default_rng(5).integers(0, 2, series.shape).astype(np.uint8)
    labels[list(BLANK)] = 0
    (tmp_path / "ds").mkdir()
    tifffile.imwrite(tmp_path / "ds" / "vol.tif", series, **ZYX)
    tifffile.imwrite(tmp_path / "ds" / "vol_mask.tif", labels, **ZYX)
    root = _new(tmp_path, "bg,cell")
    assert main(["add", str(root), str(tmp_path / "ds")]) == 0
    assert "added 8 image(s), skipped 0" in capsys.readouterr().out
    assert main(["import", str(root), "--format", "masks", str(tmp_path / "ds")]) == 0
    assert "imported 8 mask(s)" in capsys.readouterr().out
    out = tmp_path / "out"
    args = ["export", str(root), str(out), "--format", "masks", "--stacks", "--split", "1"]
    assert main(args) == 0
    assert np.array_equal(tifffile.imread(out / "train" / "stacks" / "vol.tif"), labels)
    with Project.open(root) as project:  # paging meets every frame
        for k, record in enumerate(project.images()):
            assert np.array_equal(project.load_image(record), series[k])


def test_the_same_stack_again_adds_nothing_and_another_stack_of_equal_slices_is_its_own(
    tmp_path,
):
    for folder in ("a", "b"):  # b: a copy, byte for byte: the same stack
        (tmp_path / folder).mkdir()
        tifffile.imwrite(tmp_path / folder / "vol.tif", _tiff_series(), **ZYX)
    (tmp_path / "c").mkdir()  # other frames, the same blank ones
    tifffile.imwrite(tmp_path / "c" / "vol.tif", _tiff_series(seed=1), **ZYX)
    with Project.create(tmp_path / "p", _schema()) as project:
        assert len(project.add_images([tmp_path / "a"]).added) == 8
        for again in (tmp_path / "a", tmp_path / "a" / "vol.tif", tmp_path / "b", tmp_path):
            report = project.add_images([again])
            if again == tmp_path:  # (c is new)
                assert [r.name for r in report.added] == [f"vol~2_z{k:03d}.tif" for k in range(8)]
                continue
            assert report.added == [] and report.relinked == [] and report.stacks == []
            assert {why for _, why in report.skipped} == {"already in the project"}
        assert len(project.images()) == 16
        assert sorted(p.name for p in (project.root / "slices").iterdir()) == ["vol", "vol~2"]


def _schema():
    from annotator.core.schema import LabelSchema

    return LabelSchema.from_names(["bg", "cell"])


def _label_each(project, names):
    """A label map per image that tells it from every other (its index in ``names``)."""
    for k, name in enumerate(names):
        record = project.image(name)
        project.save_mask(record.id, np.full((record.height, record.width), k % 2, np.uint8))
        mask = project.load_mask(record)
        mask[0, : k + 1] = 1 - k % 2
        project.save_mask(record.id, mask, status=ImageStatus.DONE)


def _labels_of(project, names):
    return [project.load_mask(project.image(n)) for n in names]


def test_a_moved_project_and_stack_keep_each_slice_on_its_own_file(tmp_path):
    series = _tiff_series()
    (tmp_path / "data").mkdir()
    tifffile.imwrite(tmp_path / "data" / "vol.tif", series, **ZYX)
    names = [f"vol_z{k:03d}.tif" for k in range(8)]
    with Project.create(tmp_path / "p", _schema()) as project:
        project.add_images([tmp_path / "data"])
        _label_each(project, names)
        before = _labels_of(project, names)
    shutil.move(tmp_path / "p", tmp_path / "moved")
    shutil.move(tmp_path / "data", tmp_path / "elsewhere")
    with Project.open(tmp_path / "moved") as project:
        report = project.add_images([tmp_path / "elsewhere"])
        assert report.added == [] and report.relinked == [] and report.errors == []
        paths = [project.image_path(project.image(n)) for n in names]
        assert [p.name for p in paths] == names
        for k, name in enumerate(names):
            assert np.array_equal(project.load_image(project.image(name)), series[k])
        assert all(
            np.array_equal(a, b) for a, b in zip(_labels_of(project, names), before, strict=True)
        )


def test_slice_files_gone_are_relinked_each_to_its_own_slice(tmp_path):
    """The split of ``b/vol.tif`` was ``vol~2/`` (another ``vol.tif`` first); that one
    removed and ``slices/`` deleted by hand, ``b/vol.tif`` added again is split as
    ``vol/``: each image finds its slice, the four blank ones each their own."""
    for folder, seed in (("a", 3), ("b", 4)):
        (tmp_path / folder).mkdir()
        tifffile.imwrite(tmp_path / folder / "vol.tif", _tiff_series(seed=seed), **ZYX)
    series = _tiff_series(seed=4)
    names = [f"vol~2_z{k:03d}.tif" for k in range(8)]
    with Project.create(tmp_path / "p", _schema()) as project:
        project.add_images([tmp_path / "a", tmp_path / "b"])
        _label_each(project, names)
        before = _labels_of(project, names)
        remove_images(project, [project.image(f"vol_z{k:03d}.tif").id for k in range(8)])
        shutil.rmtree(project.root / "slices")
        report = project.add_images([tmp_path / "b"])
        assert report.added == [] and len(report.relinked) == 8
        assert not any(why == SAME_CONTENT_ADDED for _, why in report.skipped)
        for k, name in enumerate(names):
            record = project.image(name)
            assert project.image_path(record) == project.root / "slices/vol" / f"vol_z{k:03d}.tif"
            assert np.array_equal(project.load_image(record), series[k])
        assert all(
            np.array_equal(a, b) for a, b in zip(_labels_of(project, names), before, strict=True)
        )


def test_a_split_folder_deleted_by_hand_is_written_again_not_dropped(tmp_path):
    tifffile.imwrite(tmp_path / "vol.tif", _tiff_series(), **ZYX)
    with Project.create(tmp_path / "p", _schema()) as project:
        project.add_images([tmp_path / "vol.tif"])
        shutil.rmtree(project.root / "slices" / "vol")
        report = project.add_images([tmp_path / "vol.tif"])
        assert report.added == [] and report.errors == []
        for record in project.images():  # (the split just written was thrown away)
            assert project.image_path(record).is_file()
            project.load_image(record)


def test_a_picture_of_a_slices_bytes_is_a_duplicate_a_slice_never_is(tmp_path):
    """A plain picture repeats a slice when it has its bytes (a slice file copied out);
    a slice is added whatever pictures the project holds."""
    tifffile.imwrite(tmp_path / "vol.tif", _tiff_series(), **ZYX)
    with Project.create(tmp_path / "p", _schema()) as project:
        project.add_images([tmp_path / "vol.tif"])
        (tmp_path / "copies").mkdir()
        shutil.copy(project.root / "slices/vol/vol_z000.tif", tmp_path / "copies" / "blank.tif")
        report = project.add_images([tmp_path / "copies"])
        assert report.added == [] and report.skipped[0][1] == SAME_CONTENT_ADDED
    with Project.create(tmp_path / "q", _schema()) as project:  # the picture first
        assert len(project.add_images([tmp_path / "copies"]).added) == 1
        report = project.add_images([tmp_path / "vol.tif"])
        assert len(report.added) == 8 and report.skipped == []


def test_an_exports_labels_of_equal_slices_go_each_to_its_own_slice(tmp_path, capsys):
    """The export's pictures of the blank frames are one picture by content: each mask
    goes to the slice its name says (before: all to the first, then "already got its
    labels")."""
    tifffile.imwrite(tmp_path / "vol.tif", _tiff_series(), **ZYX)
    names = [f"vol_z{k:03d}.tif" for k in range(8)]
    root = tmp_path / "p"
    with Project.create(root, _schema()) as project:
        project.add_images([tmp_path / "vol.tif"])
        _label_each(project, names)
        before = _labels_of(project, names)
    out = tmp_path / "out"
    assert main(["export", str(root), str(out), "--format", "masks", "--split", "1"]) == 0
    with Project.open(root) as project:  # the labels changed since
        for name in names:
            project.save_mask(project.image(name).id, np.full((16, 24), 255, np.uint8))
    assert main(["import", str(root), "--format", "masks", str(out / "train")]) == 0
    said = capsys.readouterr().out
    assert "imported 8 mask(s)" in said and "8 matched" in said
    with Project.open(root) as project:
        assert all(
            np.array_equal(a, b) for a, b in zip(_labels_of(project, names), before, strict=True)
        )
    odd = tmp_path / "odd"  # a blank slice's picture under a name that says none of them
    for sub, name in (("images", "vol_z000.tif"), ("masks", "vol_z000.png")):
        (odd / sub).mkdir(parents=True)
        shutil.copy(out / "train" / sub / name, odd / sub / ("blank" + name[-4:]))
    assert main(["import", str(root), "--format", "masks", str(odd)]) == 1  # nothing imported
    said = capsys.readouterr().err
    assert "its picture is the picture of 4 project images (vol_z000.tif, vol_z001.tif, " in said
    assert "vol_z006.tif and 1 more)" in said
    assert "its name 'blank' says none of them" in said


def test_labels_kept_of_removed_blank_slices_come_back_each_on_its_own(tmp_path, capsys):
    """Blank slices removed keep their labels by picture (one SHA-1 for the four) and by
    name; the stack added again brings every slice back, and the import of the kept
    labels puts each map on its own slice."""
    tifffile.imwrite(tmp_path / "vol.tif", _tiff_series(), **ZYX)
    names = [f"vol_z{k:03d}.tif" for k in range(8)]
    root = tmp_path / "p"
    with Project.create(root, _schema()) as project:
        project.add_images([tmp_path / "vol.tif"])
        _label_each(project, names)
        before = _labels_of(project, names)
        removal = remove_images(project, [project.image(names[k]).id for k in BLANK])
        kept = removal.kept_in
        assert kept is not None
        report = project.add_images([tmp_path / "vol.tif"])
        assert sorted(r.name for r in report.added) == [names[k] for k in BLANK]
    assert main(["import", str(root), "--format", "masks", str(kept)]) == 0
    assert "imported 4 mask(s)" in capsys.readouterr().out
    with Project.open(root) as project:
        assert all(
            np.array_equal(a, b) for a, b in zip(_labels_of(project, names), before, strict=True)
        )


def test_a_blank_slice_of_another_volume_never_takes_a_lost_slices_image(tmp_path):
    """Found by a review: volume A's split gone, an unrelated volume B whose slice 0 is
    blank as A's was took A's image (its name, status and labels) for that slice."""
    rng = np.random.default_rng(1)
    for name in ("a", "b"):
        voxels = rng.integers(1, 1000, (16, 16, 3)).astype(np.int16)
        voxels[:, :, 0] = 0  # slice 0 blank in both
        save_volume(tmp_path / name / f"{name}.nii.gz", voxels, np.eye(4))
    project = tmp_path / "P"
    assert main(["new", str(project), "--classes", "bg,fg"]) == 0
    assert main(["add", str(project), str(tmp_path / "a" / "a.nii.gz")]) == 0
    shutil.rmtree(project / "slices" / "a")
    (tmp_path / "a" / "a.nii.gz").unlink()
    assert main(["add", str(project), str(tmp_path / "b" / "b.nii.gz")]) == 0
    with Project.open(project) as p:
        by_name = {r.name: p.image_path(r) for r in p.images()}
    assert sorted(n for n in by_name if n.startswith("b_")) == [f"b_z00{i}.tif" for i in range(3)]
    assert "slices/b" not in str(by_name["a_z000.tif"])
