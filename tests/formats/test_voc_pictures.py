"""What a VOC export's ``JPEGImages/`` holds (ADR 0026).

VOC loaders build ``JPEGImages/<name>.jpg`` from the names ``ImageSets/Segmentation``
lists (torchvision's ``VOCSegmentation``: ``os.path.join(voc_root, "JPEGImages", x +
".jpg")``; mmsegmentation's ``PascalVOCDataset``: ``img_suffix=".jpg"``). The export
copied PNG and TIFF pictures with their own ending, which those loaders do not find.
"""

from __future__ import annotations

import io
import os

import numpy as np
import pytest
import tifffile
from fmthelpers import CLASSES, U, make_project
from PIL import Image, ImageCms

from annotator.cli import main
from annotator.core.schema import LabelSchema
from annotator.core.status import ImageStatus
from annotator.services.exchange import (
    ExportRequest,
    ImportRequest,
    export_project,
    import_into_project,
)
from annotator.storage.images import read_image
from annotator.storage.project import Project

H, W = 24, 32


def _smooth(seed: int, channels: int = 0, dtype=np.uint8) -> np.ndarray:
    """A smooth picture (a JPEG of it stays close to it, as photos and micrographs do)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:H, 0:W]
    top = 60000 if dtype == np.uint16 else 255
    base = (np.sin(x / (3 + seed)) + np.cos(y / 4)) * 0.25 + 0.5
    shape = (H, W) if not channels else (H, W, channels)
    noise = rng.normal(0, 0.01, shape)
    if channels:
        base = base[..., None] * np.linspace(0.6, 1.0, channels)
    return np.clip((base + noise) * top, 0, top).astype(dtype)


def _pictures(folder):
    """One picture of each kind an export meets."""
    folder.mkdir(parents=True)
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    Image.fromarray(_smooth(1, 3)).save(folder / "colour.png", icc_profile=srgb)
    Image.fromarray(_smooth(2)).save(folder / "grey.png")
    Image.fromarray(_smooth(3, 3)).save(folder / "scan.bmp")
    tifffile.imwrite(folder / "rgb.tif", _smooth(4, 3), photometric="rgb")
    Image.fromarray(_smooth(5, 3)).save(folder / "photo.jpeg", quality=90)
    tifffile.imwrite(folder / "deep.tif", _smooth(6, dtype=np.uint16))
    # four channels (no alpha: a PNG's alpha is left out when it is read)
    tifffile.imwrite(folder / "four.tif", _smooth(7, 4), photometric="minisblack")
    return srgb


def _project(tmp_path):
    srgb = _pictures(tmp_path / "src")
    project = Project.create(tmp_path / "P", LabelSchema.from_names(list(CLASSES)))
    project.add_images([tmp_path / "src"])
    for i, rec in enumerate(project.images()):
        mask = np.full((H, W), U, np.uint8)
        mask[: 6 + i, :10] = 1
        mask[12:, 20:] = 2
        project.save_mask(rec.id, mask, status=ImageStatus.DONE)
    return project, srgb


def _export(project, out, **kw):
    return export_project(project, ExportRequest("voc", out, split=(1, 0, 0), **kw))


def _voc_loader_opens(root) -> dict[str, np.ndarray]:
    """The pictures a VOC loader finds: ``JPEGImages/<name>.jpg`` of each listed name."""
    names = (root / "ImageSets/Segmentation/train.txt").read_text().split()
    found = {}
    for name in names:
        path = os.path.join(root, "JPEGImages", name + ".jpg")
        if os.path.isfile(path):
            with Image.open(path) as im:
                assert im.format == "JPEG"
                found[name] = np.asarray(im.convert("RGB"))
    return found


def test_voc_writes_jpeg_where_it_can_and_keeps_what_jpeg_cannot_hold(tmp_path):
    project, srgb = _project(tmp_path)
    with project:
        report = _export(project, tmp_path / "voc")
    out = tmp_path / "voc"
    assert sorted(p.name for p in (out / "JPEGImages").iterdir()) == [
        "colour.jpg",
        "deep.tif",
        "four.tif",
        "grey.jpg",
        "photo.jpg",
        "rgb.jpg",
        "scan.jpg",
    ]
    opened = _voc_loader_opens(out)
    assert sorted(opened) == ["colour", "grey", "photo", "rgb", "scan"]
    # a JPEG is copied byte for byte (only its ending becomes .jpg)
    assert (out / "JPEGImages/photo.jpg").read_bytes() == (tmp_path / "src/photo.jpeg").read_bytes()
    # the others are the pictures, JPEG's small losses aside (quality 95)
    for name, source in (("colour", "colour.png"), ("scan", "scan.bmp"), ("rgb", "rgb.tif")):
        original = read_image(tmp_path / "src" / source).astype(float)
        assert np.abs(opened[name] - original).mean() < 2.0, name
    with Image.open(out / "JPEGImages/grey.jpg") as im:
        assert im.mode == "L"  # grey stays grey
    with Image.open(out / "JPEGImages/colour.jpg") as im:
        assert im.info.get("icc_profile") == srgb  # its colour profile goes with it
    # kept as they are, lossless
    assert np.array_equal(read_image(out / "JPEGImages/deep.tif"), _smooth(6, dtype=np.uint16))
    assert (out / "JPEGImages/four.tif").read_bytes() == (tmp_path / "src/four.tif").read_bytes()
    unlabelled = sum(H * W - (6 + i) * 10 - 12 * 12 for i in range(7))  # as _project paints
    assert report.notes == (
        f"7 image(s) have unlabelled pixels ({unlabelled:,} in all), written as 255 (void) since VOC "
        "has no unlabelled value: imported again they are void; export as masks to keep "
        "them unlabelled",
        "4 picture(s) written as JPEG (quality 95) for VOC loaders, which read "
        "JPEGImages/<name>.jpg; 2 picture(s) that JPEG cannot hold kept as they are "
        "(1 16-bit TIFF, 1 4-channel TIFF): loaders that expect .jpg will not find them; "
        "export with --voc-images keep (VOC pictures: as they are) for lossless copies of "
        "every picture",
    )


def test_voc_images_keep_copies_every_picture_and_says_loaders_miss_them(tmp_path):
    project, _ = _project(tmp_path)
    with project:
        report = _export(project, tmp_path / "voc", voc_images="keep")
    out = tmp_path / "voc"
    for source in (tmp_path / "src").iterdir():
        assert (out / "JPEGImages" / source.name).read_bytes() == source.read_bytes()
    assert _voc_loader_opens(out) == {}
    assert report.notes[-1] == (
        "7 picture(s) kept in their own format in JPEGImages/ (1 BMP, 1 JPEG, 2 PNG, 3 TIFF), "
        "as --voc-images keep asks: loaders that build JPEGImages/<name>.jpg (torchvision, "
        "mmsegmentation) will not find them"
    )


def _one_jpeg_exported_hardlinked(tmp_path):
    """The export report of a project of one labelled JPEG, its picture hard-linked."""
    (tmp_path / "src").mkdir()
    Image.fromarray(_smooth(1, 3)).save(tmp_path / "src/a.jpg", quality=90)
    with Project.create(tmp_path / "P", LabelSchema.from_names(list(CLASSES))) as project:
        project.add_images([tmp_path / "src"])
        project.save_mask(project.images()[0].id, np.zeros((H, W), np.uint8))
        return export_project(
            project,
            ExportRequest("voc", tmp_path / "voc", (1, 0, 0), include="all", image_mode="hardlink"),
        )


def test_jpeg_files_alone_need_no_word_and_are_linked_as_asked(tmp_path):
    report = _one_jpeg_exported_hardlinked(tmp_path)
    assert report.notes == ()
    assert os.path.samefile(tmp_path / "voc/JPEGImages/a.jpg", tmp_path / "src/a.jpg")


def test_a_hard_link_refused_is_a_copy_and_said(tmp_path, monkeypatch):
    """(Onto another file system the export copied every picture without a word.)"""

    def cross_device(src, dst):
        raise OSError(18, "Invalid cross-device link", str(src))

    monkeypatch.setattr(os, "link", cross_device)
    report = _one_jpeg_exported_hardlinked(tmp_path)
    assert report.notes == (
        "1 picture(s) copied, not hard-linked, since the link was refused (first: "
        "JPEGImages/a.jpg: Invalid cross-device link; a hard link needs the same file system)",
    )
    assert not os.path.samefile(tmp_path / "voc/JPEGImages/a.jpg", tmp_path / "src/a.jpg")


@pytest.mark.parametrize("voc_images", ["jpg", "keep"])
def test_both_layouts_import_again_into_a_new_project_and_into_their_own(tmp_path, voc_images):
    project, _ = _project(tmp_path)
    with project:
        _export(project, tmp_path / "voc", voc_images=voc_images)
        labels = {r.stem: project.load_mask(r) for r in project.images()}
        again = import_into_project(project, ImportRequest("voc", tmp_path / "voc"))
        # the JPEG pictures show the project's pictures: matched, no namesake added
        assert len(again.matched) == 7 and not again.added and not again.namesakes
    with Project.create(tmp_path / "Q", LabelSchema.from_names(list(CLASSES))) as fresh:
        report = import_into_project(fresh, ImportRequest("voc", tmp_path / "voc"))
        assert len(report.added) == 7 and not report.skipped
        for rec in fresh.images():
            mask = fresh.load_mask(rec)
            want = labels[rec.stem]
            labelled = want != U  # VOC wrote unlabelled as void
            assert np.array_equal(mask[labelled], want[labelled]), rec.name
        suffixes = sorted(rec.name.rsplit(".", 1)[1] for rec in fresh.images())
    if voc_images == "jpg":
        assert suffixes == ["jpg"] * 5 + ["tif", "tif"]
    else:
        assert suffixes == ["bmp", "jpeg", "png", "png", "tif", "tif", "tif"]


def test_the_cli_takes_voc_images_for_voc_only_and_prints_the_note(tmp_path, capsys):
    project, _ = _project(tmp_path)
    project.close()
    out = tmp_path / "voc"
    assert (
        main(["export", str(tmp_path / "P"), str(out), "--format", "coco", "--voc-images", "keep"])
        == 2
    )
    assert "--voc-images is for a voc export, not coco" in capsys.readouterr().err
    assert main(["export", str(tmp_path / "P"), str(out), "--format", "voc"]) == 0
    printed = capsys.readouterr().out
    assert "\n  4 picture(s) written as JPEG (quality 95) for VOC loaders" in printed
    assert (out / "JPEGImages/grey.jpg").is_file()


def test_a_writer_given_no_picture_loader_keeps_the_file(tmp_path):
    """A writer called without the service's loader (a script) cannot tell what the
    picture holds: it copies the file and says so."""
    from annotator.formats.base import ClassInfo, ExportDataset, ExportOptions, ExportSample
    from annotator.formats.voc import write_voc

    (tmp_path / "src").mkdir()
    Image.fromarray(_smooth(2)).save(tmp_path / "src/x.png")
    mask = np.zeros((H, W), np.uint8)
    dataset = ExportDataset(
        classes=(ClassInfo(0, "a", "#000000"),),
        void=254,
        unlabelled=255,
        dtype="uint8",
        splits={"train": (ExportSample("x", tmp_path / "src/x.png", W, H, lambda: mask),)},
    )
    result = write_voc(tmp_path / "out", dataset, ExportOptions())
    assert "JPEGImages/x.png" in result.files
    assert "(1 unread PNG)" in result.notes[0]


def test_jpeg_encoding_is_quality_95_without_chroma_subsampling():
    from annotator.formats.voc import encode_jpeg, jpeg_cannot_hold

    data = encode_jpeg(_smooth(1, 3))
    with Image.open(io.BytesIO(data)) as im:
        assert im.layer[0][1:3] == im.layer[1][1:3] == (1, 1)  # 4:4:4
    assert jpeg_cannot_hold(np.zeros((2, 2, 2), np.uint8)) == "2-channel"
    assert jpeg_cannot_hold(np.zeros((2, 2), np.float32)) == "32-bit float"
    assert jpeg_cannot_hold(np.zeros((2, 2, 3), np.uint8)) is None


def test_a_voc_export_lists_trainval_as_train_then_val(tmp_path, masks):
    """torchvision's VOCSegmentation(image_set="trainval") needs trainval.txt; it was
    not written."""
    with make_project(tmp_path, masks) as project:
        export_project(project, ExportRequest("voc", tmp_path / "voc", split=(0.5, 0.5, 0)))
    sets = tmp_path / "voc" / "ImageSets" / "Segmentation"
    train, val, trainval = (
        (sets / f"{s}.txt").read_text().split() for s in ("train", "val", "trainval")
    )
    assert train and val
    assert trainval == train + val


def test_a_voc_export_names_its_classes_in_cvats_labelmap_in_the_palettes_colours(tmp_path, masks):
    """Without labelmap.txt, CVAT and datumaro read a VOC dataset with VOC's 21 names:
    classes background, a, b as background, aeroplane, bicycle."""
    from annotator.formats.colour_table import read_class_table, voc_colormap

    with make_project(tmp_path, masks) as project:
        export_project(project, ExportRequest("voc", tmp_path / "voc"))
        names = project.schema.names
    lines = (tmp_path / "voc/labelmap.txt").read_text().splitlines()
    assert lines[0] == "# label:color_rgb:parts:actions"
    colours = voc_colormap(len(names)).tolist()
    assert lines[1:] == [f"{n}:{r},{g},{b}::" for n, (r, g, b) in zip(names, colours)]
    table = read_class_table(tmp_path / "voc/labelmap.txt")
    assert table.names == tuple(names) and table.colours == tuple(map(tuple, colours))
    palette = Image.open(next((tmp_path / "voc/SegmentationClass").glob("*.png"))).getpalette()
    assert tuple(tuple(palette[3 * i : 3 * i + 3]) for i in range(len(names))) == table.colours


def test_a_class_name_cvats_labelmap_cannot_hold_leaves_it_out_and_says_so(tmp_path):
    from annotator.formats.voc import labelmap_text

    assert labelmap_text(["background", "a, b", "é"]) is not None
    for names in (["background", "ratio 1:2"], ["#1", "cell"], [" padded", "cell"]):
        assert labelmap_text(names) is None
    # a colour table's void name: a class "void" (porosity, materials) read back as void
    for names in (["background", "void", "cell"], ["Void"], ["__ignore__", "a"]):
        assert labelmap_text(names) is None


def test_a_class_named_void_comes_back_as_a_class_from_a_voc_export(tmp_path):
    masks = {"a": np.array([[0, 1, 2, 2]] * 4, np.uint8)}
    with make_project(tmp_path, masks, classes=("background", "void", "cell")) as project:
        export_project(project, ExportRequest("voc", tmp_path / "voc"))
        want = project.load_mask(project.images()[0])
    assert not (tmp_path / "voc/labelmap.txt").exists()
    with Project.create(tmp_path / "Q", LabelSchema.from_names(["background"])) as fresh:
        report = import_into_project(fresh, ImportRequest("voc", tmp_path / "voc"))
        assert fresh.schema.names == ["background", "void", "cell"] and not report.skipped
        assert np.array_equal(fresh.load_mask(fresh.images()[0]), want)


def test_datumaros_labelmap_without_colours_takes_vocs_colour_of_each_line(tmp_path):
    """datumaro writes "cat:::" for a label it has no colour for, its masks in VOC's
    colour of the line's index: every mask was refused ("labelmap.txt gives no colours")."""
    voc = tmp_path / "v"
    for sub in ("JPEGImages", "SegmentationClass", "ImageSets/Segmentation"):
        (voc / sub).mkdir(parents=True)
    Image.fromarray(np.full((20, 30, 3), 90, np.uint8)).save(voc / "JPEGImages/a.jpg")
    mask = np.zeros((20, 30, 3), np.uint8)
    mask[5:10, 5:20] = (128, 0, 0)  # VOC's colour 1
    mask[12:15, 2:4] = (0, 128, 0)  # colour 2, given explicitly below
    Image.fromarray(mask).save(voc / "SegmentationClass/a.png")
    (voc / "ImageSets/Segmentation/default.txt").write_text("a\n")
    (voc / "labelmap.txt").write_text(
        "# label:color_rgb:parts:actions\nbackground:::\ncat:::\ndog:0,128,0::\n"
    )
    with Project.create(tmp_path / "P", LabelSchema.from_names(["background", "cat", "dog"])) as p:
        report = import_into_project(p, ImportRequest("voc", voc))
        assert len(report.added) == 1 and not report.skipped
        got = p.load_mask(p.images()[0])
    want = np.zeros((20, 30), np.uint8)
    want[5:10, 5:20] = 1
    want[12:15, 2:4] = 2
    assert np.array_equal(got, want)
