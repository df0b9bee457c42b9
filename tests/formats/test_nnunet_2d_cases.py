"""nnU-Net's 2-D cases of a file per input channel (``imagesTr/cell_0000.png`` the DAPI
stain, ``cell_0001.png`` the GFP), added together, are one picture of the project with a
channel per file, written into ``PROJECT/cases/`` (the user's files untouched); the
case's labels import onto it, and the nnU-Net export writes each channel back, under
the names the source's ``dataset.json`` gave them (ADR 0034, amended)."""

from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
from niftihelpers import label_voxels, save_volume
from PIL import Image

from annotator.cli import main
from annotator.storage.images import read_image, unused_channels
from annotator.storage.project import Project

H, W = 12, 16


def _stain(seed: int) -> np.ndarray:
    """A 16-bit channel, each its own."""
    return np.random.default_rng(seed).integers(0, 4000, (H, W)).astype(np.uint16) + seed


def _microscopy(ds, cases=("cell_001", "cell_002"), channels=("DAPI", "GFP")):
    """An nnU-Net v2 raw dataset of 2-D PNG cases, a grey file per stain; the stains."""
    stains = {}
    for i, case in enumerate(cases):
        for c in range(len(channels)):
            stains[case, c] = _stain(10 * i + c)
            _save(ds / "imagesTr" / f"{case}_{c:04d}.png", stains[case, c])
        labels = np.zeros((H, W), np.uint8)
        labels[2 + i : 8, 3:11] = 1
        _save(ds / "labelsTr" / f"{case}.png", labels)
    meta = {
        "channel_names": {str(c): name for c, name in enumerate(channels)},
        "labels": {"background": 0, "nucleus": 1},
        "numTraining": len(cases),
        "file_ending": ".png",
    }
    (ds / "dataset.json").write_text(json.dumps(meta))
    return stains


def _channel_names(ds, count):
    """A ``dataset.json`` naming ``count`` input channels."""
    ds.mkdir(parents=True, exist_ok=True)
    names = {str(c): f"stain {c}" for c in range(count)}
    (ds / "dataset.json").write_text(json.dumps({"channel_names": names}))


def _save(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def _new(tmp_path, classes="background,nucleus"):
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


def _digests(folder):
    return {p.name: hashlib.sha1(p.read_bytes()).hexdigest() for p in folder.rglob("*.png")}


def test_the_channel_files_of_a_2d_case_are_one_picture_a_channel_per_file(tmp_path, capsys):
    ds = tmp_path / "Dataset101_Cells"
    stains = _microscopy(ds)
    before = _digests(ds)
    root = _new(tmp_path)
    said = _add(capsys, root, ds / "imagesTr")
    assert "added 2 image(s)" in said.out  # not 4: one picture per case
    assert (
        "2 nnU-Net case(s) of a file per channel are one picture with a channel per file "
        "(first: cell_001_0000.png and its 1 further channel(s), and 1 more case(s))"
    ) in said.out
    assert "further channels" not in said.err
    assert _names(root) == ["cell_001_0000.tif", "cell_002_0000.tif"]
    with Project.open(root) as project:
        for case in ("cell_001", "cell_002"):
            rec = project.image(f"{case}_0000.tif")
            assert project.image_path(rec) == root / "cases" / f"{case}_0000" / f"{case}_0000.tif"
            picture = project.load_image(rec)
            assert picture.shape == (H, W, 2) and picture.dtype == np.uint16
            for c in range(2):  # channel c is file _000c, losslessly
                assert np.array_equal(picture[..., c], stains[case, c]), (case, c)
            assert (rec.channels, rec.bit_depth) == (2, 16)
    record = json.loads((root / "cases" / "cell_001_0000" / "source.json").read_text())
    assert [c["stack"] for c in record["channels"]] == [
        str((ds / "imagesTr" / f"cell_001_{c:04d}.png").resolve()) for c in range(2)
    ]
    assert _digests(ds) == before  # the user's files are never modified


def test_an_rgb_first_file_alone_stays_an_rgb_picture_and_a_grey_file_adds_a_channel(
    tmp_path, capsys
):
    """nnU-Net's road example keeps RGB in one ``_0000.png``: added as it is. A case of an
    RGB file and a grey one is one picture of four channels, as nnU-Net reads it."""
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 255, (H, W, 3)).astype(np.uint8)
    grey = rng.integers(0, 255, (H, W)).astype(np.uint8)
    pictures = tmp_path / "Dataset120_Roads" / "imagesTr"
    _channel_names(pictures.parent, 2)
    _save(pictures / "road_0000.png", rgb)
    _save(pictures / "both_0000.png", rgb)
    _save(pictures / "both_0001.png", grey)
    root = _new(tmp_path)
    said = _add(capsys, root, pictures)
    assert "added 2 image(s)" in said.out
    assert _names(root) == ["both_0000.tif", "road_0000.png"]
    with Project.open(root) as project:
        rec = project.image("road_0000.png")
        assert project.image_path(rec) == (pictures / "road_0000.png").resolve()
        assert np.array_equal(project.load_image(rec), rgb)
        both = project.load_image(project.image("both_0000.tif"))
        assert both.shape == (H, W, 4)
        assert np.array_equal(both[..., :3], rgb) and np.array_equal(both[..., 3], grey)


def test_a_case_whose_channel_files_differ_in_size_is_refused_in_one_line(tmp_path, capsys):
    pictures = tmp_path / "ds" / "imagesTr"
    _channel_names(pictures.parent, 2)
    _save(pictures / "good_0000.png", _stain(0))
    _save(pictures / "good_0001.png", _stain(1))
    _save(pictures / "bad_0000.png", _stain(2))
    _save(pictures / "bad_0001.png", np.zeros((H + 1, W), np.uint16))
    root = _new(tmp_path)
    said = _add(capsys, root, pictures)
    assert "added 3 image(s)" in said.out  # good: one picture; bad: two, as before
    lines = [x for x in said.err.splitlines() if "bad_0001" in x]
    assert lines == [
        f"  {pictures / 'bad_0001.png'}: 16x13 pixels, but its case's first file "
        f"{pictures / 'bad_0000.png'} is 16x12; the case's further channels were added as "
        "images of their own"
    ]
    assert _names(root) == ["bad_0000.png", "bad_0001.png", "good_0000.tif"]
    assert sorted(p.name for p in (root / "cases").iterdir()) == ["good_0000"]


def test_adding_a_2d_case_again_adds_nothing_even_moved(tmp_path, capsys):
    ds = tmp_path / "ds"
    _microscopy(ds)
    root = _new(tmp_path)
    assert "added 2 image(s)" in _add(capsys, root, ds / "imagesTr").out
    again = _add(capsys, root, ds / "imagesTr")
    assert "added 0 image(s)" in again.out and "one picture with a channel" not in again.out
    moved = tmp_path / "elsewhere"
    shutil.move(ds, moved)
    assert "added 0 image(s)" in _add(capsys, root, moved / "imagesTr").out
    assert sorted(p.name for p in (root / "cases").iterdir()) == ["cell_001_0000", "cell_002_0000"]
    assert len(_names(root)) == 2


def test_labels_import_onto_the_joined_picture(tmp_path, capsys):
    ds = tmp_path / "Dataset101_Cells"
    _microscopy(ds)
    root = _new(tmp_path, "background,nucleus")
    _add(capsys, root, ds / "imagesTr")
    assert main(["import", str(root), "--format", "masks", str(ds / "labelsTr")]) == 0
    said = capsys.readouterr().out
    assert "imported 2 mask(s)" in said
    with Project.open(root) as project:
        for i, case in enumerate(("cell_001", "cell_002")):
            mask = project.load_mask(project.image(f"{case}_0000.tif"))
            assert np.array_equal(mask, read_image(ds / "labelsTr" / f"{case}.png")), i
    assert _names(root) == ["cell_001_0000.tif", "cell_002_0000.tif"]  # none added


def test_the_nnunet_export_writes_each_channel_back_under_the_source_names(tmp_path, capsys):
    ds = tmp_path / "Dataset101_Cells"
    stains = _microscopy(ds)
    root = _new(tmp_path)
    _add(capsys, root, ds / "imagesTr")
    assert main(["import", str(root), "--format", "masks", str(ds / "labelsTr")]) == 0
    out = tmp_path / "Dataset102_Again"
    capsys.readouterr()
    assert main(["export", str(root), str(out), "--format", "nnunet", "--split", "1,0,0"]) == 0
    said = capsys.readouterr().out
    assert (
        f"channel_names as the source nnU-Net dataset named them (DAPI, GFP: {ds / 'dataset.json'})"
    ) in said
    meta = json.loads((out / "dataset.json").read_text())
    assert meta["channel_names"] == {"0": "DAPI", "1": "GFP"}
    assert meta["file_ending"] == ".png"
    written = sorted(p.name for p in (out / "imagesTr").iterdir())
    assert written == [f"{case}_{c:04d}.png" for case in ("cell_001", "cell_002") for c in range(2)]
    for (case, c), stain in stains.items():
        assert np.array_equal(read_image(out / "imagesTr" / f"{case}_{c:04d}.png"), stain)
    assert sorted(p.name for p in (out / "labelsTr").iterdir()) == ["cell_001.png", "cell_002.png"]
    # named outright, the export's own names win
    capsys.readouterr()
    mine = tmp_path / "Dataset103_Mine"
    assert (
        main(
            [
                "export",
                str(root),
                str(mine),
                "--format",
                "nnunet",
                "--split",
                "1,0,0",
                "--channel-names",
                "a,b",
            ]
        )
        == 0
    )
    assert json.loads((mine / "dataset.json").read_text())["channel_names"] == {"0": "a", "1": "b"}
    assert "as the source nnU-Net dataset named them" not in capsys.readouterr().out


def test_source_names_are_kept_for_a_channel_choice_and_dropped_when_datasets_differ(
    tmp_path, capsys
):
    ds = tmp_path / "Dataset101_Cells"
    _microscopy(ds, cases=("cell_001",), channels=("DAPI", "GFP", "RFP", "Cy5"))
    root = _new(tmp_path)
    _add(capsys, root, ds / "imagesTr")
    assert main(["import", str(root), "--format", "masks", str(ds / "labelsTr")]) == 0
    assert main(["channels", str(root), "--use", "4,2"]) == 0
    out = tmp_path / "chosen"
    assert main(["export", str(root), str(out), "--format", "nnunet", "--split", "1,0,0"]) == 0
    assert json.loads((out / "dataset.json").read_text())["channel_names"] == {
        "0": "Cy5",
        "1": "GFP",
    }
    other = tmp_path / "Dataset104_Other"  # another dataset, other names: neither is kept
    _microscopy(other, cases=("tissue_001",), channels=("H", "E", "X", "Y"))
    _add(capsys, root, other / "imagesTr")
    out = tmp_path / "mixed"
    assert main(["export", str(root), str(out), "--format", "nnunet", "--split", "1,0,0"]) == 0
    assert json.loads((out / "dataset.json").read_text())["channel_names"] == {
        "0": "channel 4",
        "1": "channel 2",
    }


def test_a_3d_datasets_channel_names_are_the_exports_too(tmp_path, capsys):
    """BraTS' sequences as its dataset.json names them (v1's ``modality``), not
    ``channel 1``...: the export of its volumes reuses them."""
    ds = tmp_path / "Task01_BrainTumour"
    rng = np.random.default_rng(0)
    for c in range(2):
        voxels = rng.integers(-300, 3000, (24, 20, 6)).astype(np.int16)
        save_volume(ds / "imagesTr" / f"brats_001_{c:04d}.nii.gz", voxels)
    save_volume(ds / "labelsTr" / "brats_001.nii.gz", label_voxels(seed=4))
    labels = {"0": "background", "1": "edema", "2": "tumour"}
    meta = {"modality": {"0": "FLAIR", "1": "T1w"}, "labels": labels}
    (ds / "dataset.json").write_text(json.dumps(meta))
    root = _new(tmp_path, "background,edema,tumour")
    _add(capsys, root, ds / "imagesTr")
    assert main(["import", str(root), "--format", "masks", str(ds / "labelsTr")]) == 0
    out = tmp_path / "Dataset105_Brats"
    assert main(["export", str(root), str(out), "--format", "nnunet", "--split", "1,0,0"]) == 0
    meta = json.loads((out / "dataset.json").read_text())
    assert meta["channel_names"] == {"0": "FLAIR", "1": "T1w"}


def test_labels_imported_alone_add_their_case_as_one_picture(tmp_path, capsys):
    """The masks import of ``labelsTr/`` into a project without the cases adds each
    case's picture first (``imagesTr/cell_001_0000.png`` and its further channels,
    joined as the add joins them); the pictures added later add nothing."""
    ds = tmp_path / "Dataset101_Cells"
    stains = _microscopy(ds)
    root = _new(tmp_path)
    assert main(["import", str(root), "--format", "masks", str(ds / "labelsTr")]) == 0
    assert "2 image(s) added" in capsys.readouterr().out
    assert _names(root) == ["cell_001_0000.tif", "cell_002_0000.tif"]
    with Project.open(root) as project:
        for case in ("cell_001", "cell_002"):
            rec = project.image(f"{case}_0000.tif")
            assert np.array_equal(
                project.load_mask(rec), read_image(ds / "labelsTr" / f"{case}.png")
            )
            assert np.array_equal(project.load_image(rec)[..., 1], stains[case, 1])
    assert "added 0 image(s)" in _add(capsys, root, ds / "imagesTr").out


def test_a_case_whose_picture_was_deleted_is_written_again_when_added_again(tmp_path, capsys):
    ds = tmp_path / "ds"
    stains = _microscopy(ds)
    root = _new(tmp_path)
    _add(capsys, root, ds / "imagesTr")
    picture = root / "cases" / "cell_001_0000" / "cell_001_0000.tif"
    picture.unlink()
    assert "added 0 image(s)" in _add(capsys, root, ds / "imagesTr").out
    assert picture.is_file()
    with Project.open(root) as project:
        shown = project.load_image(project.image("cell_001_0000.tif"))
        assert np.array_equal(shown[..., 1], stains["cell_001", 1])
    assert _names(root) == ["cell_001_0000.tif", "cell_002_0000.tif"]


def test_labels_imported_after_the_cases_folder_went_find_their_pictures_again(tmp_path, capsys):
    """The case's picture is written again and its image gets the labels; its first
    channel file alone is never added."""
    ds = tmp_path / "ds"
    stains = _microscopy(ds)
    root = _new(tmp_path)
    _add(capsys, root, ds / "imagesTr")
    shutil.rmtree(root / "cases")
    capsys.readouterr()
    assert main(["import", str(root), "--format", "masks", str(ds / "labelsTr")]) == 0
    said = capsys.readouterr().out
    assert "imported 2 mask(s)" in said and "2 matched" in said and "0 image(s) added" in said
    assert _names(root) == ["cell_001_0000.tif", "cell_002_0000.tif"]
    with Project.open(root) as project:
        for case in ("cell_001", "cell_002"):
            rec = project.image(f"{case}_0000.tif")
            assert np.array_equal(project.load_image(rec)[..., 1], stains[case, 1])
            mask = project.load_mask(rec)
            assert np.array_equal(mask, read_image(ds / "labelsTr" / f"{case}.png"))


def _shared_reference(ds):
    """Cases a and b of one reference channel file (the same bytes), other stains."""
    _channel_names(ds, 2)
    for i, case in enumerate(("a", "b")):
        _save(ds / "imagesTr" / f"{case}_0000.png", _stain(1))
        _save(ds / "imagesTr" / f"{case}_0001.png", _stain(10 + i))
        labels = np.zeros((H, W), np.uint8)
        labels[:, :4] = i == 0
        labels[:, -4:] = i == 1
        _save(ds / "labelsTr" / f"{case}.png", labels)


def test_cases_sharing_a_first_channel_file_get_their_own_labels(tmp_path, capsys):
    ds = tmp_path / "ds"
    _shared_reference(ds)
    root = _new(tmp_path)
    assert "added 2 image(s)" in _add(capsys, root, ds / "imagesTr").out
    assert main(["import", str(root), "--format", "masks", str(ds / "labelsTr" / "b.png")]) == 0
    with Project.open(root) as project:
        assert project.load_mask(project.image("a_0000.tif")) is None
    assert main(["import", str(root), "--format", "masks", str(ds / "labelsTr")]) == 0
    assert "imported 2 mask(s)" in capsys.readouterr().out
    with Project.open(root) as project:
        for case in ("a", "b"):
            mask = project.load_mask(project.image(f"{case}_0000.tif"))
            assert np.array_equal(mask, read_image(ds / "labelsTr" / f"{case}.png")), case


def test_files_are_joined_only_when_the_datasets_json_counts_them(tmp_path, capsys):
    """Video frames ``vid_0000.png``... in a folder named imagesTr with no dataset.json
    stay frames; a case of another number of files than its dataset.json's channels is
    added apart, in one line."""
    frames = tmp_path / "video" / "imagesTr"
    for k in range(5):
        _save(frames / f"vid_{k:04d}.png", _stain(k))
    root = _new(tmp_path)
    said = _add(capsys, root, frames)
    assert "added 5 image(s)" in said.out and "one picture with a channel" not in said.out
    assert _names(root) == [f"vid_{k:04d}.png" for k in range(5)]
    assert not (root / "cases").exists()
    ds = tmp_path / "Dataset101_Cells"
    _microscopy(ds, cases=("cell_001",), channels=("DAPI", "GFP", "RFP"))
    (ds / "imagesTr" / "cell_001_0002.png").unlink()  # two files of three channels
    root = tmp_path / "q"
    assert main(["new", str(root), "--classes", "background,nucleus"]) == 0
    said = _add(capsys, root, ds / "imagesTr")
    assert "added 2 image(s)" in said.out
    lines = [x for x in said.err.splitlines() if "dataset.json" in x]
    assert lines == [
        f"  {ds / 'imagesTr' / 'cell_001_0000.png'}: its case has 2 channel file(s), but "
        f"{ds / 'dataset.json'} names 3 channel(s); the case's files were added as images "
        "of their own"
    ]
    assert "cell_001_0001.png" in _names(root)


def test_a_case_added_apart_before_is_not_joined_when_added_again(tmp_path, capsys):
    """A project whose case files were added one by one (or before cases were joined)
    keeps those images: the folder added again adds nothing."""
    ds = tmp_path / "ds"
    _microscopy(ds, cases=("cell_001",))
    root = _new(tmp_path)
    for c in range(2):
        _add(capsys, root, ds / "imagesTr" / f"cell_001_{c:04d}.png")
    said = _add(capsys, root, ds / "imagesTr")
    assert "added 0 image(s)" in said.out
    assert _names(root) == ["cell_001_0000.png", "cell_001_0001.png"]
    assert not (root / "cases").exists()


def _alpha(file):
    import tifffile

    with tifffile.TiffFile(file) as tif:
        return any(s in (1, 2) for s in tif.series[0].keyframe.extrasamples)


def test_a_fourth_channel_file_is_a_channel_not_an_alpha(tmp_path, capsys):
    ds = tmp_path / "ds"
    _microscopy(ds, cases=("cell_001",), channels=("DAPI", "GFP", "RFP", "Cy5"))
    root = _new(tmp_path)
    _add(capsys, root, ds / "imagesTr")
    picture = root / "cases" / "cell_001_0000" / "cell_001_0000.tif"
    assert not _alpha(picture)
    assert unused_channels(picture, read_image(picture)) == 1  # Cy5, past the three shown


def test_a_fourth_nifti_channel_is_a_channel_of_its_slices_not_an_alpha(tmp_path, capsys):
    ds = tmp_path / "Task01_BrainTumour"
    rng = np.random.default_rng(0)
    for c in range(4):
        voxels = rng.integers(-300, 3000, (24, 20, 3)).astype(np.int16)
        save_volume(ds / "imagesTr" / f"brats_001_{c:04d}.nii.gz", voxels)
    root = _new(tmp_path)
    _add(capsys, root, ds / "imagesTr")
    slices = sorted((root / "slices").rglob("*.tif"))
    assert slices and not any(_alpha(f) for f in slices)
    assert read_image(slices[0]).shape[2] == 4


def test_a_channel_file_changed_since_the_join_is_refused_in_one_line(tmp_path, capsys):
    ds = tmp_path / "ds"
    stains = _microscopy(ds, cases=("cell_001",))
    root = _new(tmp_path)
    _add(capsys, root, ds / "imagesTr")
    changed = ds / "imagesTr" / "cell_001_0001.png"
    _save(changed, _stain(99))
    said = _add(capsys, root, ds / "imagesTr")
    assert "added 0 image(s)" in said.out
    lines = [x for x in said.err.splitlines() if "changed since" in x]
    assert len(lines) == 1 and str(changed) in lines[0], said.err
    assert _names(root) == ["cell_001_0000.tif"]
    assert sorted(p.name for p in (root / "cases").iterdir()) == ["cell_001_0000"]
    capsys.readouterr()
    main(["import", str(root), "--format", "masks", str(ds / "labelsTr")])
    assert f"{changed}: not added: it changed since its case was joined" in capsys.readouterr().err
    assert _names(root) == ["cell_001_0000.tif"]  # its first channel alone never added
    with Project.open(root) as project:
        shown = project.load_image(project.image("cell_001_0000.tif"))
        assert np.array_equal(shown[..., 1], stains["cell_001", 1])
