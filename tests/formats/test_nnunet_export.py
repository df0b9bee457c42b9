"""``annotator export --format nnunet``: a raw dataset nnU-Net v2 trains on as it is.

Every written dataset is checked with nnU-Net's own rules, read as its readers read the
files (:func:`nnunet_cases`: ``verify_dataset_integrity`` and ``LabelManager``, with
NaturalImage2DIO's view of PNG and SimpleITKIO's of NIfTI), and its arrays against the
project's pictures and label maps.
"""

from __future__ import annotations

import gzip
import json
import re
import shlex
from pathlib import Path

import cv2
import nibabel as nib
import numpy as np
import pytest
import tifffile
from skimage import io as skio

from annotator.cli import main
from annotator.core.status import ImageStatus
from annotator.formats.nnunet import nnunet_labels
from annotator.storage.images import read_image
from annotator.storage.project import Project

RNG = np.random.default_rng(11)
U, V = 255, 254  # unlabelled and void of an 8-bit project
#: The affine of voxels of 1 that no one measured: SimpleITK's identity direction (LPS+),
#: so a viewer (and the NIfTI import) shows column 0 on the left and row 0 at the top.
UPRIGHT = np.diag([-1.0, -1.0, 1.0, 1.0])


# --- nnU-Net's view of a dataset ------------------------------------------------------


def _read(path: Path) -> np.ndarray:
    """A file as nnU-Net's reader of its ending gives it: ``(c, z, y, x)``."""
    if path.name.endswith(".png"):  # NaturalImage2DIO: skimage, RGB channels first
        a = skio.imread(path)
        return a.transpose(2, 0, 1)[:, None] if a.ndim == 3 else a[None, None]
    data = np.asarray(nib.load(path).dataobj)  # SimpleITKIO: the index order reversed
    return data.T[None, None] if data.ndim == 2 else data.transpose(2, 1, 0)[None]


def nnunet_cases(out: Path) -> dict[str, tuple[str, np.ndarray, np.ndarray]]:
    """``case -> (Tr or Ts, image (c, z, y, x), labels (z, y, x))`` after the checks of
    nnU-Net's verify_dataset_integrity and LabelManager (nnunetv2 is not installed)."""
    doc = json.loads((out / "dataset.json").read_text(encoding="utf-8"))
    assert {"labels", "channel_names", "numTraining", "file_ending"} <= doc.keys()
    ending, labels = doc["file_ending"], doc["labels"]
    assert labels["background"] == 0  # LabelManager._sanity_check
    expected = sorted(v for k, v in labels.items() if k != "ignore")
    if "ignore" in labels:  # "it must have the highest label value"
        assert labels["ignore"] == max(expected) + 1
        expected.append(labels["ignore"])
    assert expected == list(range(len(expected))), "labels must be consecutive"
    cases = {}
    for split in ("Tr", "Ts"):
        folder = out / f"images{split}"
        if not folder.is_dir():
            continue
        files = sorted(p.name for p in folder.iterdir())
        assert all(f.endswith(ending) for f in files), files
        for case in sorted({f[: -len(ending) - 5] for f in files}):  # (nnU-Net's crop)
            pattern = re.escape(case) + r"_\d{4}" + re.escape(ending)
            channels = [f for f in files if re.fullmatch(pattern, f)]
            assert channels == [f"{case}_{i:04d}{ending}" for i in range(len(channels))]
            image = np.vstack([_read(folder / f) for f in channels])
            label = _read(out / f"labels{split}" / f"{case}{ending}")
            assert image.shape[0] == len(doc["channel_names"])  # check_cases: modalities
            assert image.shape[1:] == label.shape[1:]  # check_cases: shapes
            assert set(np.unique(label).tolist()) <= set(expected)  # verify_labels
            assert not np.isnan(image).any()
            cases[case] = (split, image, label[0])
    assert doc["numTraining"] == sum(1 for s, _, _ in cases.values() if s == "Tr")
    for split in ("Tr", "Ts"):  # every label file belongs to a case
        folder = out / f"labels{split}"
        if folder.is_dir():
            assert {p.name[: -len(ending)] for p in folder.iterdir()} == {
                c for c, (s, _, _) in cases.items() if s == split
            }
    return cases


# --- projects ---------------------------------------------------------------------------


def _project(tmp_path: Path, classes: str, pictures: dict[str, np.ndarray], **stacks) -> Path:
    """A project of these pictures (PNG or TIFF by the name) and TIFF stacks
    (``name=(volume, tifffile options)``)."""
    src = tmp_path / "src"
    src.mkdir(parents=True)
    for name, array in pictures.items():
        if name.endswith(".png"):
            cv2.imwrite(str(src / name), array[..., ::-1] if array.ndim == 3 else array)
        else:
            tifffile.imwrite(src / name, array)
    for name, (volume, options) in stacks.items():
        tifffile.imwrite(src / f"{name}.tif", volume, imagej=True, **options)
    root = tmp_path / "proj"
    assert main(["new", str(root), "--classes", classes]) == 0
    assert main(["add", str(root), str(src)]) == 0
    return root


def _label(root: Path, masks: dict[str, np.ndarray], status=ImageStatus.DONE) -> None:
    with Project.open(root) as project:
        for rec in project.images():
            if rec.name in masks:
                project.save_mask(rec.id, masks[rec.name], status=status)


def _masks_of(root: Path) -> dict[str, np.ndarray]:
    with Project.open(root) as project:
        return {rec.name: project.load_mask(rec) for rec in project.images()}


def _export(root: Path, out: Path, *args: str) -> None:
    assert main(["export", str(root), str(out), "--format", "nnunet", *args]) == 0


def _labelled_export(tmp_path: Path, pictures: dict[str, np.ndarray], dataset: str):  # type: ignore[no-untyped-def]
    """A project of ``pictures``, each labelled at random and done, exported as the
    nnU-Net dataset ``dataset`` (all in training): the project, the export, the labels."""
    masks = {n: _classes(a.shape[:2], seed=i) for i, (n, a) in enumerate(pictures.items())}
    root = _project(tmp_path, "background,cell,nucleus", pictures)
    _label(root, masks)
    out = tmp_path / dataset
    _export(root, out, "--split", "1,0,0")
    return root, out, masks


def _classes(shape, n=3, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, n, shape).astype(np.uint8)


GREY8 = RNG.integers(0, 256, (20, 30), np.uint8)
RGB = RNG.integers(0, 256, (22, 26, 3), np.uint8)
GREY16 = RNG.integers(0, 65536, (18, 28), np.uint16)
VOLUME = RNG.integers(0, 256, (6, 16, 24), np.uint8)
ZYX = {"metadata": {"axes": "ZYX"}}
CALIBRATED = {"resolution": (2.0, 4.0), "metadata": {"axes": "ZYX", "spacing": 3.0, "unit": "um"}}


def test_pictures_and_a_stack_are_one_nifti_dataset_that_nnunet_reads_as_the_project(
    tmp_path, capsys
):
    root = _project(
        tmp_path,
        "background,cell,nucleus",
        {"grey8.png": GREY8, "rgb.png": RGB, "grey16.png": GREY16},
        vol=(VOLUME, CALIBRATED),
    )
    rgb_mask = _classes(RGB.shape[:2], seed=1)
    rgb_mask[:3] = U  # unlabelled rows
    rgb_mask[10, 10] = V
    masks = {
        "grey8.png": _classes(GREY8.shape, seed=2),
        "rgb.png": rgb_mask,
        "grey16.png": _classes(GREY16.shape, seed=3),
        # slices 0, 1 and 4 done; 2 in progress (not exported); 3 and 5 not labelled
        **{f"vol_z00{i}.tif": _classes(VOLUME.shape[1:], seed=4 + i) for i in (0, 1, 4)},
    }
    _label(root, masks)
    _label(root, {"vol_z002.tif": _classes(VOLUME.shape[1:], seed=9)}, ImageStatus.IN_PROGRESS)
    out = tmp_path / "Dataset501_Cells"
    _export(root, out, "--split", "1,0,0")
    said = capsys.readouterr().out
    doc = json.loads((out / "dataset.json").read_text())
    assert doc == {
        "channel_names": {"0": "R", "1": "G", "2": "B"},
        "labels": {"background": 0, "cell": 1, "nucleus": 2, "ignore": 3},
        "numTraining": 4,
        "file_ending": ".nii.gz",  # one ending: the stack is a volume
        "overwrite_image_reader_writer": "SimpleITKIO",
    }
    cases = nnunet_cases(out)
    assert sorted(cases) == ["grey16", "grey8", "rgb", "vol"]
    # the RGB picture's channel files are its channels, and its labels the label map's
    # (unlabelled and void: the ignore label)
    _, image, labels = cases["rgb"]
    for c in range(3):
        assert np.array_equal(image[c, 0], RGB[..., c])
        raw = np.asarray(nib.load(out / f"imagesTr/rgb_{c:04d}.nii.gz").dataobj)
        assert raw.shape == (26, 22) and np.array_equal(raw.T, RGB[..., c])  # x = column
    expected = np.where(rgb_mask >= V, 3, rgb_mask)
    assert np.array_equal(labels[0], expected)
    # 16-bit values kept exactly; grey pictures repeated into the dataset's 3 channels
    _, image, labels = cases["grey16"]
    assert nib.load(out / "imagesTr/grey16_0000.nii.gz").get_data_dtype() == np.uint16
    assert all(np.array_equal(image[c, 0], GREY16) for c in range(3))
    assert np.array_equal(labels[0], masks["grey16.png"])
    assert not (labels == 3).any()
    # the stack: one volume, slices in order, x = column, y = row, z = slice
    raw = np.asarray(nib.load(out / "imagesTr/vol_0000.nii.gz").dataobj)
    assert raw.shape == (24, 16, 6)
    assert all(np.array_equal(raw[:, :, k].T, VOLUME[k]) for k in range(6))
    label_volume = nib.load(out / "labelsTr/vol.nii.gz")
    for k in range(6):
        page = np.asarray(label_volume.dataobj)[:, :, k].T
        name = f"vol_z00{k}.tif"
        if k in (0, 1, 4):
            assert np.array_equal(page, masks[name])
        else:  # not exported (in progress, not labelled): the ignore label
            assert (page == 3).all()
    # beside pictures of no size, the stack's own voxel size is not kept (nnU-Net would
    # resample the pictures against it), and the summary says so
    for f in ("imagesTr/vol_0000.nii.gz", "imagesTr/vol_0002.nii.gz", "labelsTr/vol.nii.gz"):
        assert np.allclose(nib.load(out / f).affine, UPRIGHT)
    assert (
        "voxel size 1 x 1 x 1 (ImageJ calibration of vol.tif, 0.5 x 0.25 x 3 micron: not kept)"
    ) in said
    assert "voxel sizes recorded by 1 TIFF stack(s) not kept" in said
    # a picture is a 2-D NIfTI (two axes), which SimpleITKIO reads as a 2-D case
    assert nib.load(out / "imagesTr/grey8_0000.nii.gz").shape == (30, 20)
    assert "nnU-Net's ignore label 3 (in 2 case(s))" in said
    assert "move Dataset501_Cells into $nnUNet_raw" in said
    assert "-d 501 --verify_dataset_integrity" in said
    assert "warning" not in said


def test_stacks_alone_keep_the_voxel_size_they_recorded(tmp_path, capsys):
    other = RNG.integers(0, 256, (4, 16, 24), np.uint8)
    root = _project(
        tmp_path,
        "background,fg",
        {},
        vol=(VOLUME, CALIBRATED),
        more=(
            other,
            {
                "resolution": (1.0, 1.0),
                "metadata": {"axes": "ZYX", "spacing": 0.5, "unit": "micron"},
            },
        ),
    )
    _label(root, {f"vol_z00{i}.tif": _classes(VOLUME.shape[1:], 2, i) for i in range(6)})
    _label(root, {"more_z001.tif": _classes(other.shape[1:], 2)})
    out = tmp_path / "Dataset510_Stacks"
    _export(root, out, "--split", "1,0,0")
    said = capsys.readouterr().out
    # ImageJ: 1 / resolution across, spacing down, in micron, image and labels alike
    for f in ("imagesTr/vol_0000.nii.gz", "labelsTr/vol.nii.gz"):
        written = nib.load(out / f)
        assert np.allclose(written.affine, np.diag([-0.5, -0.25, 3.0, 1.0]))
        assert written.header.get_xyzt_units()[0] == "micron"
    assert np.allclose(nib.load(out / "labelsTr/more.nii.gz").affine, np.diag([-1, -1, 0.5, 1]))
    assert "vol: 6 slices, 6 exported, voxel size 0.5 x 0.25 x 3 micron (ImageJ calibration" in (
        said
    )
    assert "more: 4 slices, 1 exported" in said
    assert "not kept" not in said
    cases = nnunet_cases(out)
    assert (cases["more"][2][[0, 2, 3]] == 2).all()  # not exported: the ignore label
    # beside a stack that records none, no size is kept (nnU-Net would scale one by the
    # other, and the micron a thousand times: SimpleITK reads them as mm)
    root = _project(
        tmp_path / "b", "background,fg", {}, vol=(VOLUME, CALIBRATED), bare=(other, ZYX)
    )
    _label(root, {"vol_z000.tif": _classes(VOLUME.shape[1:], 2), "bare_z000.tif": other[0] % 2})
    out = tmp_path / "Dataset511_Mixed"
    _export(root, out, "--split", "1,0,0")
    assert "some cases are pictures or stacks of no recorded size" in capsys.readouterr().out
    assert all(np.allclose(nib.load(f).affine, UPRIGHT) for f in out.rglob("*.nii.gz"))


def test_pictures_png_holds_make_a_png_dataset_with_8_bit_rgb_in_one_file(tmp_path):
    _, out, masks = _labelled_export(tmp_path, {"g.png": GREY8, "rgb.png": RGB}, "Dataset502_Png")
    doc = json.loads((out / "dataset.json").read_text())
    assert doc["file_ending"] == ".png"
    assert doc["overwrite_image_reader_writer"] == "NaturalImage2DIO"
    assert doc["labels"] == {"background": 0, "cell": 1, "nucleus": 2}  # nothing to ignore
    assert doc["channel_names"] == {"0": "R", "1": "G", "2": "B"}
    cases = nnunet_cases(out)
    # as nnU-Net's road segmentation example: a colour picture is one RGB file, _0000
    assert sorted(p.name for p in (out / "imagesTr").iterdir()) == ["g_0000.png", "rgb_0000.png"]
    assert np.array_equal(skio.imread(out / "imagesTr/rgb_0000.png"), RGB)
    assert np.array_equal(cases["rgb"][1][:, 0].transpose(1, 2, 0), RGB)
    assert all(np.array_equal(cases["g"][1][c, 0], GREY8) for c in range(3))
    for case, name in (("g", "g.png"), ("rgb", "rgb.png")):
        assert np.array_equal(cases[case][2][0], masks[name])
        assert skio.imread(out / f"labelsTr/{case}.png").dtype == np.uint8


def test_16_bit_pictures_make_one_png_per_channel(tmp_path):
    # skimage (nnU-Net's PNG reader) reads a 16-bit RGB PNG as 8-bit: three grey files
    _, out, masks = _labelled_export(tmp_path, {"rgb.png": RGB, "w.png": GREY16}, "Dataset509_Wide")
    assert json.loads((out / "dataset.json").read_text())["file_ending"] == ".png"
    files = sorted(p.name for p in (out / "imagesTr").iterdir())
    assert files == [f"{c}_{i:04d}.png" for c in ("rgb", "w") for i in range(3)]
    cases = nnunet_cases(out)
    for c in range(3):
        assert np.array_equal(skio.imread(out / f"imagesTr/rgb_{c:04d}.png"), RGB[..., c])
        wide = skio.imread(out / f"imagesTr/w_{c:04d}.png")
        assert wide.dtype == np.uint16 and np.array_equal(wide, GREY16)
    assert np.array_equal(cases["w"][2][0], masks["w.png"])


def test_a_picture_written_as_channel_files_imports_back_onto_itself(tmp_path, capsys):
    """An export's channel files (``rgb_0000.png``... of a project with 16-bit pictures)
    imported again into the project added a copy of each picture, labelled, and left
    the original's labels alone: the first channel file alone was compared with it."""
    pictures = {"rgb.png": RGB, "w.png": GREY16}
    root, out, masks = _labelled_export(tmp_path, pictures, "Dataset510_Back")
    changed = {n: (m + 1) % 3 for n, m in masks.items()}  # new labels to import back
    for name, mask in changed.items():
        cv2.imwrite(str(out / "labelsTr" / f"{Path(name).stem}.png"), mask)
    capsys.readouterr()
    assert main(["import", str(root), str(out), "--format", "masks"]) == 0
    said = capsys.readouterr().out
    assert "2 matched to project images, 0 image(s) added" in said
    got = _masks_of(root)
    assert sorted(got) == sorted(pictures)
    for name, mask in changed.items():
        assert np.array_equal(got[name], mask), name


def test_a_grey_project_is_one_channel_and_a_float_picture_makes_it_nifti(tmp_path, capsys):
    floats = RNG.normal(size=(12, 14)).astype(np.float32)
    floats[0, 0] = np.nan
    signed = RNG.integers(-3000, 3000, (10, 11)).astype(np.int16)
    pictures = {"a.png": GREY8, "f.tif": floats, "s.tif": signed}
    root = _project(tmp_path, "background,fg", pictures)
    _label(root, {n: _classes(a.shape, 2) for n, a in pictures.items()})
    out = tmp_path / "Dataset503_Grey"
    _export(root, out, "--split", "1,0,0")
    said = capsys.readouterr().out
    doc = json.loads((out / "dataset.json").read_text())
    assert doc["channel_names"] == {"0": "grey"}
    assert doc["file_ending"] == ".nii.gz"
    assert "PNG cannot hold the 1 16-bit signed, 1 32-bit float picture(s)" in said
    cases = nnunet_cases(out)
    assert np.array_equal(cases["s"][1][0, 0], signed)
    assert nib.load(out / "imagesTr/s_0000.nii.gz").get_data_dtype() == np.int16
    written = cases["f"][1][0, 0]
    assert written.dtype == np.float32
    assert written[0, 0] == np.nanmin(floats)  # NaN, which nnU-Net refuses: the lowest value
    assert np.array_equal(written.ravel()[1:], floats.ravel()[1:])
    assert "1 picture(s) have NaN or infinite pixels" in said


@pytest.mark.parametrize("dtype", [np.int64, np.uint64])
def test_a_64_bit_integer_picture_is_written_in_its_own_type(tmp_path, capsys, dtype):
    # numpy's default integer is 64-bit, so a TIFF written from numpy often is
    # (nibabel refused to write it without an explicit type: a traceback)
    values = RNG.integers(0, 5000, (9, 13)).astype(dtype)
    root = _project(tmp_path, "background,fg", {"i.tif": values})
    _label(root, {"i.tif": _classes(values.shape, 2)})
    out = tmp_path / "Dataset504_Wide"
    _export(root, out, "--split", "1,0,0")
    capsys.readouterr()
    assert nib.load(out / "imagesTr/i_0000.nii.gz").get_data_dtype() == dtype
    assert np.array_equal(nnunet_cases(out)["i"][1][0, 0], values)


def test_the_ignore_label_is_declared_only_when_a_label_file_holds_it(tmp_path):
    root = _project(tmp_path, "background,fg", {"a.png": GREY8})
    full = _classes(GREY8.shape, 2)
    _label(root, {"a.png": full})
    _export(root, tmp_path / "Dataset504_Full", "--split", "1,0,0")
    doc = json.loads((tmp_path / "Dataset504_Full/dataset.json").read_text())
    assert "ignore" not in doc["labels"]
    partial = full.copy()
    partial[5:9, 5:9] = U
    partial[0, 0] = V
    _label(root, {"a.png": partial})
    _export(root, tmp_path / "Dataset505_Partial", "--split", "1,0,0")
    doc = json.loads((tmp_path / "Dataset505_Partial/dataset.json").read_text())
    assert doc["labels"] == {"background": 0, "fg": 1, "ignore": 2}
    labels = nnunet_cases(tmp_path / "Dataset505_Partial")["a"][2][0]
    assert np.array_equal(labels, np.where(partial >= V, 2, partial))


def test_a_project_without_a_background_class_leaves_nnunets_0_unused(tmp_path, capsys):
    root = _project(tmp_path, "cell,nucleus", {"a.png": GREY8})
    mask = _classes(GREY8.shape, 2)
    mask[0] = U
    _label(root, {"a.png": mask})
    out = tmp_path / "Dataset506_NoBackground"
    _export(root, out, "--split", "1,0,0")
    doc = json.loads((out / "dataset.json").read_text())
    assert doc["labels"] == {"background": 0, "cell": 1, "nucleus": 2, "ignore": 3}
    assert "renamed_labels" not in doc
    labels = nnunet_cases(out)["a"][2][0]
    assert np.array_equal(labels, np.where(mask == U, 3, mask + 1))
    assert 0 not in labels
    assert "the classes are 1 to 2 (the project's ids plus 1) and 0 is left unused" in (
        capsys.readouterr().out
    )


def test_the_background_class_is_label_0_wherever_it_is_and_reserved_names_are_renamed():
    labels = nnunet_labels(["cell", "Background", "ignore"], V, U)
    assert labels.names == {"background": 0, "cell": 1, "ignore_2": 2}
    assert labels.ignore == 3
    assert labels.renamed == {"background": "Background", "ignore_2": "ignore"}
    mask = np.array([[0, 1, 2, U, V]], np.uint8)
    assert labels.of(mask).tolist() == [[1, 0, 2, 3, 3]]
    # labelme's name for it is the background too; the ids stay when it is class 0
    assert nnunet_labels(["_background_", "a"], V, U).names == {"background": 0, "a": 1}
    # 254 classes and the ignore label still fit 8 bits; 16-bit projects' values map
    many = nnunet_labels([f"c{i}" for i in range(254)], V, U)
    assert many.ignore == 255 and many.dtype == np.uint8
    wide = nnunet_labels(["background", *(f"c{i}" for i in range(300))], 65534, 65535)
    assert wide.dtype == np.uint16
    assert wide.of(np.array([[300, 65534, 65535]], np.uint16)).tolist() == [[300, 301, 301]]


def test_background_renamed_is_recorded_in_dataset_json(tmp_path):
    root = _project(tmp_path, "cell,Background", {"a.png": GREY8})
    mask = _classes(GREY8.shape, 2)
    _label(root, {"a.png": mask})
    out = tmp_path / "Dataset507_Renamed"
    _export(root, out, "--split", "1,0,0")
    doc = json.loads((out / "dataset.json").read_text())
    assert doc["labels"] == {"background": 0, "cell": 1}
    assert doc["renamed_labels"] == {"background": "Background"}
    assert np.array_equal(nnunet_cases(out)["a"][2][0], 1 - mask)


def test_test_cases_go_to_imagests_and_a_stack_stays_in_one_split(tmp_path, capsys):
    pictures = {f"p{i}.png": RNG.integers(0, 256, (10, 12), np.uint8) for i in range(6)}
    root = _project(
        tmp_path, "background,fg", pictures, vol=(VOLUME, {"metadata": {"axes": "ZYX"}})
    )
    names = [*pictures, *(f"vol_z00{i}.tif" for i in range(6))]
    _label(
        root,
        {
            n: _classes((10, 12) if n.startswith("p") else (16, 24), 2, i)
            for i, n in enumerate(names)
        },
    )
    out = tmp_path / "export"
    _export(root, out, "--split", "0.5,0.2,0.3", "--seed", "4")
    said = capsys.readouterr().out
    cases = nnunet_cases(out)
    assert sorted(cases) == ["p0", "p1", "p2", "p3", "p4", "p5", "vol"]
    splits = {s for s, _, _ in cases.values()}
    assert splits == {"Tr", "Ts"}
    tested = [c for c, (s, _, _) in cases.items() if s == "Ts"]
    assert len(list((out / "labelsTs").iterdir())) == len(tested)
    # the stack's 6 slices are one case, whole, in one split
    assert cases["vol"][2].shape == (6, 16, 24)
    assert "voxel size 1 x 1 x 1 (vol.tif records none)" in said
    # a folder nnU-Net would not find is named in one line
    warnings = [line for line in said.splitlines() if "warning" in line]
    assert warnings == [
        "  warning: nnU-Net finds a dataset only in a folder named DatasetNNN_Name (three "
        "digits); rename 'export', e.g. to Dataset501_export"
    ]


def test_the_channel_choice_picks_the_channels_written(tmp_path):
    bands = RNG.integers(0, 4096, (14, 16, 5), np.uint16)
    root = _project(tmp_path, "background,fg", {"s.tif": bands})
    _label(root, {"s.tif": _classes(bands.shape[:2], 2)})
    assert main(["channels", str(root), "--use", "4,2"]) == 0
    out = tmp_path / "Dataset508_Bands"
    _export(root, out, "--split", "1,0,0")
    doc = json.loads((out / "dataset.json").read_text())
    assert doc["channel_names"] == {"0": "channel 4", "1": "channel 2"}
    assert doc["file_ending"] == ".png"  # two 16-bit grey PNGs
    image = nnunet_cases(out)["s"][1][:, 0]
    assert np.array_equal(image[0], bands[..., 3]) and np.array_equal(image[1], bands[..., 1])


def test_a_choice_of_more_than_three_writes_every_chosen_channel(tmp_path):
    bands = RNG.integers(0, 4096, (14, 16, 5), np.uint16)
    root = _project(tmp_path, "background,fg", {"s.tif": bands})
    _label(root, {"s.tif": _classes(bands.shape[:2], 2)})
    assert main(["channels", str(root), "--use", "5,1,2,3"]) == 0
    out = tmp_path / "Dataset509_Bands"
    _export(root, out, "--split", "1,0,0")
    doc = json.loads((out / "dataset.json").read_text())
    assert list(doc["channel_names"].values()) == [f"channel {c}" for c in (5, 1, 2, 3)]
    image = nnunet_cases(out)["s"][1][:, 0]
    assert len(image) == 4
    for written, c in zip(image, (4, 0, 1, 2), strict=True):
        assert np.array_equal(written, bands[..., c])


def test_a_picture_lacking_a_channel_of_a_wide_choice_is_left_out_and_named(tmp_path, capsys):
    bands = RNG.integers(0, 4096, (14, 16, 5), np.uint16)
    rgb = RNG.integers(0, 4096, (14, 16, 3), np.uint16)
    root = _project(tmp_path, "background,fg", {"s.tif": bands, "rgb.tif": rgb})
    _label(root, {n: _classes((14, 16), 2) for n in ("s.tif", "rgb.tif")})
    assert main(["channels", str(root), "--use", "5,1,2,3"]) == 0
    capsys.readouterr()
    out = tmp_path / "Dataset510_Wide"
    _export(root, out, "--split", "1,0,0")  # (it refused: "rgb: cannot make 4 channels...")
    assert set(nnunet_cases(out)) == {"s"}
    printed = capsys.readouterr().out
    assert "exported 1 image(s) as nnunet" in printed
    assert (
        "  1 picture lacks channel 5 of the Channel Choice 5,1,2,3 and is left out of the "
        "export: rgb.tif\n"
    ) in printed


def test_an_rgb_picture_under_a_choice_of_4_3_2_is_left_out_not_mixed_in(tmp_path, capsys):
    """Its own R, G, B went under the names of channels 4, 3 and 2 of the others."""
    bands = {f"t{i}.tif": RNG.integers(0, 256, (14, 16, 4), np.uint8) for i in range(2)}
    rgb = RNG.integers(0, 256, (14, 16, 3), np.uint8)
    root = _project(tmp_path, "background,fg", {**bands, "rgb.png": rgb})
    _label(root, {n: _classes((14, 16), 2) for n in (*bands, "rgb.png")})
    assert main(["channels", str(root), "--use", "4,3,2"]) == 0
    capsys.readouterr()
    out = tmp_path / "Dataset511_Mixed"
    _export(root, out, "--split", "1,0,0")
    assert set(nnunet_cases(out)) == {"t0", "t1"}
    assert json.loads((out / "dataset.json").read_text())["numTraining"] == 2
    printed = capsys.readouterr().out
    assert "exported 2 image(s) as nnunet" in printed
    assert (
        "1 picture lacks channel 4 of the Channel Choice 4,3,2 and is left out of the "
        "export: rgb.png"
    ) in printed
    # the choice in effect is said, not suggested again with a literal P
    assert "  2 case(s) have more channels than the 3 written (the Channel Choice 4,3,2)\n" in (
        printed
    )
    assert "annotator channels P" not in printed


def test_every_picture_lacking_a_chosen_channel_is_refused_in_one_line(tmp_path, capsys):
    rgb = RNG.integers(0, 256, (14, 16, 3), np.uint8)
    bands = RNG.integers(0, 256, (14, 16, 4), np.uint8)  # (not labelled)
    pictures = {"a.png": rgb, "b.png": rgb[::-1].copy(), "t.tif": bands}
    root = _project(tmp_path, "background,fg", pictures)
    _label(root, {n: _classes((14, 16), 2) for n in ("a.png", "b.png")})
    assert main(["channels", str(root), "--use", "4,3,2"]) == 0
    capsys.readouterr()
    args = ["export", str(root), str(tmp_path / "o"), "--format", "nnunet"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert err == (
        "annotator: error: every picture to export lacks channel 4 of the Channel Choice "
        "4,3,2, so nothing is left to export for nnU-Net: choose channels they have "
        f"(`annotator channels {root} --use ...`, or --reset)\n"
    )
    assert not (tmp_path / "o").exists()


def test_without_a_choice_more_channels_suggest_one_with_the_project_path(tmp_path, capsys):
    bands = RNG.integers(0, 256, (14, 16, 4), np.uint8)
    grey = RNG.integers(0, 256, (14, 16), np.uint8)
    root = _project(tmp_path / "my data", "background,fg", {"t.tif": bands, "g.png": grey})
    _label(root, {n: _classes((14, 16), 2) for n in ("t.tif", "g.png")})
    _export(root, tmp_path / "Dataset512_Bands", "--split", "1,0,0")
    printed = capsys.readouterr().out
    assert (
        "  1 case(s) have more channels than the 3 written (the first three, as models take "
        f"them); choose others with `annotator channels {shlex.quote(str(root))} --use 4,3,2`\n"
    ) in printed


def test_the_format_is_offered_and_options_of_other_formats_are_refused(tmp_path, capsys):
    root = _project(tmp_path, "background,fg", {"a.png": GREY8})
    _label(root, {"a.png": _classes(GREY8.shape, 2)})
    args = ["export", str(root), str(tmp_path / "o"), "--format", "nnunet"]
    assert main([*args, "--stacks"]) != 0
    assert "label stacks are written by the masks format, not nnunet" in capsys.readouterr().err
    assert main([*args, "--coco-mode", "rle"]) != 0
    assert main([*args, "--voc-images", "keep"]) != 0
    assert not (tmp_path / "o").exists()
    assert read_image(tmp_path / "src/a.png").shape == GREY8.shape


@pytest.mark.parametrize("name", ["Dataset001_X", "Dataset999_cells_2d"])
def test_a_dataset_folder_name_nnunet_finds_gets_no_warning(name):
    from annotator.formats.nnunet import dataset_name_problem, placement_notes

    assert dataset_name_problem(name) is None
    assert len(placement_notes(name)) == 1
    assert dataset_name_problem("Dataset01_X") is not None
    assert dataset_name_problem("dataset001_X") is not None


def test_a_geometry_with_its_own_orientation_writes_the_files_layout():
    """The seam for volumes read from files of their own (a NIfTI split into slices): the
    picture axes go where the geometry's orientation says, under its own affine."""
    from annotator.core.volume_geometry import VolumeGeometry
    from annotator.formats.nifti import nifti_bytes

    slices = [RNG.integers(0, 100, (3, 5), np.int16) for _ in range(4)]
    affine = ((0.0, 2.0, 0.0, 10.0), (1.5, 0.0, 0.0, -4.0), (0.0, 0.0, -3.0, 7.0), (0, 0, 0, 1))
    # column -> file axis 1, row -> file axis 0, slice -> file axis 2 running backwards
    geometry = VolumeGeometry(affine, ((1, 1), (0, 1), (2, -1)), "mm", "own")
    image = nib.Nifti1Image.from_bytes(gzip.decompress(nifti_bytes(slices, geometry)))
    data = np.asarray(image.dataobj)
    assert data.shape == (3, 5, 4)
    for k in range(4):
        assert np.array_equal(data[:, :, 3 - k], slices[k])  # data[row, column, 3 - slice]
    assert np.allclose(image.affine, np.asarray(affine, float))
    assert geometry.voxel_size == (2.0, 1.5, 3.0)  # column, row, slice
    # the identity geometry: data[x, y, z] = slice z[y, x]
    plain = nib.Nifti1Image.from_bytes(gzip.decompress(nifti_bytes(slices)))
    assert all(np.array_equal(np.asarray(plain.dataobj)[:, :, k].T, slices[k]) for k in range(4))


def test_an_ome_tiff_stack_gives_its_physical_size(tmp_path):
    from annotator.storage.stack_geometry import tiff_geometry

    path = tmp_path / "cells.ome.tif"
    tifffile.imwrite(
        path,
        VOLUME,
        ome=True,
        metadata={"axes": "ZYX", "PhysicalSizeX": 0.2, "PhysicalSizeY": 0.3, "PhysicalSizeZ": 1.5},
    )
    geometry = tiff_geometry(path)
    assert geometry is not None and geometry.measured
    assert geometry.voxel_size == pytest.approx((0.2, 0.3, 1.5))
    assert geometry.unit == "micron" and geometry.source == "OME metadata of cells.ome.tif"
    tifffile.imwrite(tmp_path / "plain.tif", VOLUME)
    assert tiff_geometry(tmp_path / "plain.tif") is None


def test_a_nifti_scan_is_a_case_on_the_scans_own_grid(tmp_path, capsys):
    """A stack split from a NIfTI file (ADR 0034) was written in picture layout with
    voxels of 1: its case no longer lay on the scan (nnU-Net's predictions, written back
    on that grid, would not overlay it), and ``case_0000.nii.gz`` became the case
    ``case_0000`` with its input ``case_0000_0000``."""
    import nibabel as nib
    from niftihelpers import LPS, ct_voxels, label_voxels, save_volume

    scan = save_volume(tmp_path / "ds" / "imagesTr" / "liver_0000.nii.gz", ct_voxels(), LPS)
    labels = save_volume(tmp_path / "ds" / "labelsTr" / "liver.nii.gz", label_voxels(), LPS)
    project = tmp_path / "P"
    assert main(["new", str(project), "--classes", "background,liver,tumour"]) == 0
    assert main(["add", str(project), str(tmp_path / "ds" / "imagesTr")]) == 0
    assert main(["import", str(project), "--format", "masks", str(tmp_path / "ds")]) == 0
    out = tmp_path / "Dataset002_Liver"
    capsys.readouterr()
    assert main(["export", str(project), str(out), "--format", "nnunet"]) == 0
    said = capsys.readouterr().out
    assert "the scan's own space and voxel order" in said
    assert "(the header of imagesTr/liver_0000.nii.gz; no unit recorded: mm" in said
    assert "nnUNetv2_train ID 3d_fullres all" in said
    image = nib.load(out / "imagesTr" / "liver_0000.nii.gz")
    label = nib.load(out / "labelsTr" / "liver.nii.gz")
    original, truth = nib.load(scan), nib.load(labels)
    for written, source in ((image, original), (label, truth)):
        np.testing.assert_array_equal(np.asarray(written.dataobj), np.asarray(source.dataobj))
        np.testing.assert_allclose(written.affine, source.affine, atol=1e-5)
    assert image.get_data_dtype() == np.int16


# --- NIfTI scans: their own space always; channel names ---------------------------------


def _save_scan(path: Path, voxels: np.ndarray, affine: np.ndarray, unit: str) -> Path:
    """A NIfTI file whose header records ``unit`` (nibabel writes "unknown" by default)."""
    from niftihelpers import save_volume

    save_volume(path, voxels, affine)
    image = nib.load(path)
    image.header.set_xyzt_units(xyz=unit)
    nib.save(nib.Nifti1Image(np.asarray(image.dataobj), None, header=image.header), path)
    assert nib.load(path).header.get_xyzt_units()[0] == unit
    return path


def _scan_project(tmp_path: Path, classes: str = "background,liver,tumour") -> Path:
    """A project of the scans in ``tmp_path/ds`` (added), their labels imported."""
    project = tmp_path / "P"
    assert main(["new", str(project), "--classes", classes]) == 0
    assert main(["add", str(project), str(tmp_path / "ds" / "images")]) == 0
    assert main(["import", str(project), "--format", "masks", str(tmp_path / "ds")]) == 0
    return project


def test_scans_of_mixed_units_keep_their_own_affine_shape_and_voxel_order(tmp_path, capsys):
    """One scan's unit "unknown" (nibabel's default) beside one in mm: every case was
    written with an identity affine in picture axes, the coronal one 8 x 32 x 40 where the
    scan is 40 x 32 x 8, and the 0.9 x 0.7 x 2.5 mm voxels made isotropic."""
    from niftihelpers import LPS, PERMUTED, ct_voxels, label_voxels

    ds = tmp_path / "ds"
    scans, truths = {}, {}
    for case, shape, affine, unit in (
        ("liver", (24, 20, 6), LPS, "unknown"),
        ("coronal", (40, 32, 8), PERMUTED, "mm"),
    ):
        scans[case] = _save_scan(
            ds / "images" / f"{case}_0000.nii.gz", ct_voxels(shape), affine, unit
        )
        truths[case] = _save_scan(
            ds / "labels" / f"{case}.nii.gz", label_voxels(shape), affine, unit
        )
    project = _scan_project(tmp_path)
    out = tmp_path / "Dataset003_Mixed"
    capsys.readouterr()
    _export(project, out, "--split", "1,0,0")
    said = capsys.readouterr().out
    for case in ("liver", "coronal"):
        image = nib.load(out / "imagesTr" / f"{case}_0000.nii.gz")
        label = nib.load(out / "labelsTr" / f"{case}.nii.gz")
        for written, source in ((image, nib.load(scans[case])), (label, nib.load(truths[case]))):
            assert written.shape == source.shape
            np.testing.assert_array_equal(np.asarray(written.dataobj), np.asarray(source.dataobj))
            np.testing.assert_allclose(written.affine, source.affine, atol=1e-5)
            # "unknown" is mm, as ITK (SimpleITK, nnU-Net) reads it, and written so
            assert image.header.get_xyzt_units()[0] == "mm"
    assert nib.load(out / "imagesTr/coronal_0000.nii.gz").shape == (40, 32, 8)
    assert "not kept" not in said and "different units" not in said
    assert "voxel size 0.9 x 0.7 x 2.5 mm (the header of images/coronal_0000.nii.gz)" in said
    assert "(the header of images/liver_0000.nii.gz; no unit recorded: mm, as ITK" in said
    # every case a CT scan: nnU-Net's CT normalisation, said in the summary
    doc = json.loads((out / "dataset.json").read_text())
    assert doc["channel_names"] == {"0": "CT"}
    assert "channel 0 named CT in dataset.json: every case is a NIfTI scan" in said
    assert "--channel-names NAME" in said
    assert "PNG cannot hold" not in said  # stacks are NIfTI anyway: no "picture(s)"
    nnunet_cases(out)


def test_tiff_stacks_in_different_units_fall_back_and_a_scan_beside_them_keeps_its_space(
    tmp_path, capsys
):
    from niftihelpers import LPS, ct_voxels

    src = tmp_path / "src"
    scan = _save_scan(src / "head_0000.nii.gz", ct_voxels((24, 20, 6)), LPS, "mm")
    mm = {"resolution": (2.0, 2.0), "metadata": {"axes": "ZYX", "spacing": 1.5, "unit": "mm"}}
    other = RNG.integers(0, 256, (4, 16, 24), np.uint8)
    tifffile.imwrite(src / "vol.tif", VOLUME, imagej=True, **CALIBRATED)  # micron
    tifffile.imwrite(src / "em.tif", other, imagej=True, **mm)
    root = tmp_path / "proj"
    assert main(["new", str(root), "--classes", "background,fg"]) == 0
    assert main(["add", str(root), str(src)]) == 0
    with Project.open(root) as project:
        for rec in project.images():
            project.save_mask(rec.id, _classes((rec.height, rec.width), 2), status=ImageStatus.DONE)
    out = tmp_path / "Dataset512_Units"
    capsys.readouterr()
    _export(root, out, "--split", "1,0,0")
    said = capsys.readouterr().out
    # the TIFF stacks fall back to voxels of 1, as before
    for case in ("vol", "em"):
        for f in (f"imagesTr/{case}_0000.nii.gz", f"labelsTr/{case}.nii.gz"):
            assert np.allclose(nib.load(out / f).affine, UPRIGHT)
    assert "voxel sizes recorded by 2 TIFF stack(s) not kept" in said
    assert "the stacks recorded them in different units" in said
    assert "the 1 NIfTI scan(s) keep their own" in said
    # the scan keeps its own, in its own voxel order
    written, source = nib.load(out / "imagesTr/head_0000.nii.gz"), nib.load(scan)
    np.testing.assert_allclose(written.affine, source.affine, atol=1e-5)
    np.testing.assert_array_equal(np.asarray(written.dataobj), np.asarray(source.dataobj))
    assert "export the scans apart to train on them alone" in said
    # not every case is CT: the channel is not named so
    assert json.loads((out / "dataset.json").read_text())["channel_names"] == {"0": "grey"}


def test_scans_of_one_name_in_two_folders_are_named_apart_in_the_summary(tmp_path, capsys):
    from niftihelpers import LPS, ct_voxels

    ds = tmp_path / "ds"
    for folder, seed in (("imagesTr", 0), ("imagesTs", 1)):
        _save_scan(ds / folder / "liver_0000.nii.gz", ct_voxels(seed=seed), LPS, "mm")
    project = tmp_path / "P"
    assert main(["new", str(project), "--classes", "background,liver"]) == 0
    assert main(["add", str(project), str(ds)]) == 0
    with Project.open(project) as p:
        for rec in p.images():
            p.save_mask(rec.id, _classes((rec.height, rec.width), 2), status=ImageStatus.DONE)
    out = tmp_path / "Dataset004_Twice"
    capsys.readouterr()
    _export(project, out, "--split", "1,0,0")
    said = capsys.readouterr().out
    assert sorted(p.name for p in (out / "labelsTr").iterdir()) == [
        "liver.nii.gz",
        "liver~2.nii.gz",
    ]
    assert (out / "imagesTr/liver~2_0000.nii.gz").is_file()
    line = next(x for x in said.splitlines() if "named apart" in x)
    assert "liver~2 is the stack liver_0000~2, the header of imagesTs/liver_0000.nii.gz" in line
    second = nib.load(out / "imagesTr/liver~2_0000.nii.gz")
    np.testing.assert_array_equal(
        np.asarray(second.dataobj), np.asarray(nib.load(ds / "imagesTs/liver_0000.nii.gz").dataobj)
    )


def test_channel_names_are_written_as_given_and_refused_when_they_do_not_fit(tmp_path, capsys):
    root = _project(tmp_path, "background,fg", {"a.png": GREY8, "b.png": RGB})
    _label(root, {"a.png": _classes(GREY8.shape, 2), "b.png": _classes(RGB.shape[:2], 2)})
    out = tmp_path / "Dataset513_Named"
    _export(root, out, "--split", "1,0,0", "--channel-names", "DAPI, GFP ,mCherry")
    doc = json.loads((out / "dataset.json").read_text())
    assert doc["channel_names"] == {"0": "DAPI", "1": "GFP", "2": "mCherry"}
    nnunet_cases(out)
    capsys.readouterr()
    args = ["export", str(root), str(tmp_path / "o"), "--split", "1,0,0"]
    assert main([*args, "--format", "nnunet", "--channel-names", "CT"]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].endswith(
        "--channel-names gives 1 name(s) and every case has 3 channel(s) written: give 3, "
        "in channel order"
    )
    assert main([*args, "--format", "nnunet", "--channel-names", "R,,B"]) != 0
    assert "--channel-names 'R,,B': a name is empty; give one name per channel" in (
        capsys.readouterr().err
    )
    assert main([*args, "--format", "masks", "--channel-names", "R,G,B"]) != 0
    assert "--channel-names is for an nnunet export, not masks" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
    # the service refuses them too (the dialog's request)
    from annotator.core.errors import FormatError
    from annotator.services.exchange import ExportRequest, export_project

    with Project.open(root) as project, pytest.raises(FormatError, match="not coco"):
        export_project(
            project, ExportRequest("coco", tmp_path / "o", channel_names=("R", "G", "B"))
        )
    assert not (tmp_path / "o").exists()


def test_a_ct_project_named_otherwise_keeps_the_names_given(tmp_path, capsys):
    from niftihelpers import LPS, ct_voxels, label_voxels

    ds = tmp_path / "ds"
    _save_scan(ds / "images" / "chest_0000.nii.gz", ct_voxels(), LPS, "mm")
    _save_scan(ds / "labels" / "chest.nii.gz", label_voxels(), LPS, "mm")
    project = _scan_project(tmp_path)
    out = tmp_path / "Dataset005_Named"
    capsys.readouterr()
    _export(project, out, "--split", "1,0,0", "--channel-names", "zscore")
    assert json.loads((out / "dataset.json").read_text())["channel_names"] == {"0": "zscore"}
    assert "named CT" not in capsys.readouterr().out
    # scans of no air (an MR scan, unsigned values) are not CT
    mr = tmp_path / "mr"
    _save_scan(
        mr / "ds" / "images" / "knee_0000.nii.gz",
        RNG.integers(0, 4000, (24, 20, 6)).astype(np.uint16),
        LPS,
        "mm",
    )
    _save_scan(mr / "ds" / "labels" / "knee.nii.gz", label_voxels(), LPS, "mm")
    _export(_scan_project(mr), mr / "Dataset006_Mr", "--split", "1,0,0")
    doc = json.loads((mr / "Dataset006_Mr" / "dataset.json").read_text())
    assert doc["channel_names"] == {"0": "grey"}
    assert "named CT" not in capsys.readouterr().out


def test_a_nifti_export_imported_again_gives_the_pictures_upright(tmp_path):
    """The pictures and stacks written with voxels of 1 had an identity affine, which
    the NIfTI import (and any viewer) shows as a radiologist reads it: the export
    imported into a new project came back turned by 180 degrees, labels with it."""
    picture = np.arange(12, dtype=np.float32).reshape(3, 4)  # float: a NIfTI dataset
    root = _project(tmp_path, "background,cell", {"a.tif": picture}, vol=(VOLUME, ZYX))
    a_mask = np.zeros((3, 4), np.uint8)
    a_mask[0, 0] = 1
    stack_masks = {f"vol_z00{k}.tif": _classes(VOLUME.shape[1:], 2, k) for k in range(6)}
    _label(root, {"a.tif": a_mask, **stack_masks})
    out = tmp_path / "Dataset520_Upright"
    _export(root, out, "--split", "1,0,0")
    again = tmp_path / "again"
    assert main(["new", str(again), "--classes", "background,cell"]) == 0
    assert main(["import", str(again), "--format", "masks", str(out)]) == 0
    with Project.open(again) as project:
        by_name = {r.name: r for r in project.images()}  # (each case a volume of slices)
        a = by_name["a_0000_z000.tif"]
        np.testing.assert_array_equal(read_image(project.image_path(a)), picture)
        np.testing.assert_array_equal(project.load_mask(a), a_mask)
        for k in range(6):
            page = by_name[f"vol_0000_z00{k}.tif"]
            np.testing.assert_array_equal(read_image(project.image_path(page)), VOLUME[k])
            np.testing.assert_array_equal(project.load_mask(page), stack_masks[f"vol_z00{k}.tif"])


def test_classes_renamed_for_nnunet_come_back_by_the_projects_names(tmp_path, capsys):
    """A class `ignore` (nnU-Net's reserved name) is exported as `ignore_2`, a class
    `ignore_2` then as `ignore_2_2`: imported back, dataset.json's renamed_labels gives
    the project's names again (the import added a class `ignore_2_2` and moved `ignore`'s
    pixels into the class `ignore_2`)."""
    root = _project(tmp_path, "background,ignore,ignore_2,cell", {"a.png": GREY8})
    mask = _classes(GREY8.shape, 4)
    _label(root, {"a.png": mask})
    out = tmp_path / "Dataset511_Ignore"
    _export(root, out, "--split", "1,0,0")
    doc = json.loads((out / "dataset.json").read_text())
    assert doc["renamed_labels"] == {"ignore_2": "ignore", "ignore_2_2": "ignore_2"}
    capsys.readouterr()
    assert main(["import", str(root), str(out), "--format", "masks"]) == 0
    assert "classes added" not in capsys.readouterr().out
    with Project.open(root) as project:
        assert project.schema.names == ["background", "ignore", "ignore_2", "cell"]
    assert np.array_equal(_masks_of(root)["a.png"], mask)
    fresh = tmp_path / "fresh"
    assert main(["new", str(fresh), "--classes", "background"]) == 0
    assert main(["import", str(fresh), str(out), "--format", "masks"]) == 0
    with Project.open(fresh) as project:
        assert project.schema.names == ["background", "ignore", "ignore_2", "cell"]
    (labels,) = _masks_of(fresh).values()  # (the picture is the case's channel file)
    assert np.array_equal(labels, mask)


@pytest.mark.parametrize("stem", ["L" * 246, "\u00e9" * 125])
def test_a_picture_of_a_long_name_imports_back_onto_itself(tmp_path, capsys, stem):
    """A case name shortened to leave room for `_0000.nii.gz` (243 bytes) was no name the
    import knew the image by: the export imported back added a copy of the picture,
    labelled, and left the original's labels alone."""
    root, out, masks = _labelled_export(tmp_path, {f"{stem}.png": RGB}, "Dataset512_Long")
    ((name, mask),) = masks.items()
    (label_file,) = (out / "labelsTr").iterdir()
    assert len(label_file.name.encode()) < len(name.encode())  # (shortened, with a hash)
    changed = (mask + 1) % 3
    cv2.imwrite(str(label_file), changed)
    capsys.readouterr()
    assert main(["import", str(root), str(out), "--format", "masks"]) == 0
    assert "1 matched to project images, 0 image(s) added" in capsys.readouterr().out
    assert list(_masks_of(root)) == [name]
    assert np.array_equal(_masks_of(root)[name], changed)
