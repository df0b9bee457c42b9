"""TIFFs as GDAL, OpenCV, drones and slide scanners write them: compressed with the codecs
tifffile takes from imagecodecs (a dependency: without it Pillow read some of them with
bits or bands lost, silently), and with a reduced-resolution copy before the picture."""

from __future__ import annotations

import tomllib
from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile

from annotator.cli import main
from annotator.core.errors import ImageReadError
from annotator.storage.images import _tiff_problem, image_size, read_image
from annotator.storage.project import Project

RNG = np.random.default_rng(5)
ROOT = Path(__file__).resolve().parents[2]


def test_imagecodecs_is_a_dependency():
    doc = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert any(d.startswith("imagecodecs") for d in doc["project"]["dependencies"])


def test_a_16_bit_colour_tiff_opencv_wrote_keeps_its_16_bits(tmp_path):
    colour = RNG.integers(0, 4096, (24, 31, 3), dtype=np.uint16)  # 12-bit data
    cv2.imwrite(str(tmp_path / "c.tif"), colour[:, :, ::-1])  # LZW, as OpenCV writes
    read = read_image(tmp_path / "c.tif")
    assert read.dtype == np.uint16
    assert np.array_equal(read, colour)


@pytest.mark.parametrize("compression", ["lzw", "zstd", "deflate", "packbits"])
@pytest.mark.parametrize("planar", ["separate", "contig"])
def test_every_band_of_a_compressed_multi_band_tiff_is_read(tmp_path, compression, planar):
    bands = RNG.integers(0, 60000, (5, 20, 27), dtype=np.uint16)  # GDAL's INTERLEAVE=BAND
    data = bands if planar == "separate" else np.moveaxis(bands, 0, -1)
    tifffile.imwrite(
        tmp_path / "b.tif",
        data,
        compression=compression,
        planarconfig=planar,
        photometric="minisblack",
    )
    read = read_image(tmp_path / "b.tif")
    assert read.shape == (20, 27, 5)
    assert np.array_equal(read, np.moveaxis(bands, 0, -1))


def test_an_rgb_and_infrared_tiff_with_lzw_keeps_its_fourth_band(tmp_path):
    rgbn = RNG.integers(0, 255, (16, 18, 4), dtype=np.uint8)
    tifffile.imwrite(
        tmp_path / "n.tif", rgbn, compression="lzw", photometric="rgb", extrasamples=["unassalpha"]
    )
    assert np.array_equal(read_image(tmp_path / "n.tif"), rgbn)


def test_signed_and_wide_integers_with_lzw_keep_their_type(tmp_path):
    ct = RNG.integers(-1024, 3000, (12, 13)).astype(np.int16)
    wide = RNG.integers(0, 2**32, (12, 13), dtype=np.uint64).astype(np.uint32)
    tifffile.imwrite(tmp_path / "ct.tif", ct, compression="lzw")
    tifffile.imwrite(tmp_path / "w.tif", wide, compression="lzw")
    assert read_image(tmp_path / "ct.tif").dtype == np.int16
    assert np.array_equal(read_image(tmp_path / "w.tif"), wide)


def test_a_thumbnail_written_before_the_picture_is_not_the_picture(tmp_path, capsys):
    full = np.zeros((64, 80), np.uint16)
    full[:, 40:] = 2000
    with tifffile.TiffWriter(tmp_path / "t.tif") as tw:
        tw.write(full[::8, ::8], subfiletype=1)  # a reduced-resolution copy, first
        tw.write(full)
    assert np.array_equal(read_image(tmp_path / "t.tif"), full)
    assert image_size(tmp_path / "t.tif") == (64, 80)
    proj = tmp_path / "P"
    assert main(["new", str(proj), "--classes", "bg,fg"]) == 0
    assert main(["add", str(proj), str(tmp_path / "t.tif")]) == 0
    assert "added 1 image(s)" in capsys.readouterr().out
    with Project.open(proj) as project:
        (record,) = project.images()
    assert (record.width, record.height, record.bit_depth) == (80, 64, 16)


def test_a_codec_this_install_lacks_is_named_with_what_to_do():
    lzw = _tiff_problem(ValueError("<COMPRESSION.LZW: 5> requires the 'imagecodecs' package"))
    zstd = _tiff_problem(ModuleNotFoundError("No module named 'compression'"))
    for said in (lzw, zstd):
        assert said.startswith("its compression needs the imagecodecs package")
        assert said.endswith("pip install imagecodecs")
        assert "corrupt" not in said
    assert _tiff_problem(ValueError("bad IFD")) == "corrupt or unsupported TIFF (bad IFD)"


def test_a_palette_tiff_is_read_in_its_colours_as_a_palette_png_is(tmp_path):
    from PIL import Image

    rgb = np.zeros((20, 24, 3), np.uint8)
    rgb[:, 12:] = (30, 160, 220)
    rgb[2:6, 2:6] = (250, 10, 10)
    quantised = Image.fromarray(rgb).quantize(8)
    quantised.save(tmp_path / "p.tif")  # (Pillow's 16-bit table: colours times 256)
    quantised.save(tmp_path / "p.png")
    assert np.array_equal(read_image(tmp_path / "p.tif"), read_image(tmp_path / "p.png"))
    assert np.array_equal(read_image(tmp_path / "p.tif"), rgb)
    indices = RNG.integers(0, 4, (10, 11), dtype=np.uint8)
    table = np.array([[0, 65535, 1000, 5], [0, 0, 2000, 6], [0, 0, 3000, 7]], np.uint16)
    full = np.zeros((3, 256), np.uint16)
    full[:, :4] = table
    tifffile.imwrite(tmp_path / "p16.tif", indices, photometric="palette", colormap=full)
    assert np.array_equal(read_image(tmp_path / "p16.tif"), full.T[indices])  # 16-bit kept


def test_a_miniswhite_tiff_is_shown_with_0_as_white(tmp_path):
    grey = RNG.integers(0, 256, (9, 10), dtype=np.uint8)
    tifffile.imwrite(tmp_path / "w8.tif", grey, photometric="miniswhite")
    tifffile.imwrite(tmp_path / "w1.tif", grey > 100, photometric="miniswhite")
    assert np.array_equal(read_image(tmp_path / "w8.tif"), 255 - grey)
    assert np.array_equal(read_image(tmp_path / "w1.tif"), np.where(grey > 100, 0, 255))


GDAL_NODATA = 42113


def test_the_nodata_value_names_a_stored_value_not_a_shown_one(tmp_path):
    """GDAL's tag names a value the file stores: a palette index, a MINISWHITE grey.
    Compared with the colours shown, it marked the wrong pixels."""
    index = np.zeros((8, 12), np.uint8)
    index[:, 4:8], index[:, 8:] = 1, 2
    table = np.zeros((3, 256), np.uint16)
    table[:, 0] = 255 * 257  # index 0 (the nodata) is white, index 2 is black
    table[:, 1] = [200 * 257, 0, 0]
    nodata = [(GDAL_NODATA, "s", 0, "0", True)]
    tifffile.imwrite(
        tmp_path / "p.tif", index, photometric="palette", colormap=table, extratags=nodata
    )
    seen = read_image(tmp_path / "p.tif")
    assert np.isnan(seen[:, :4]).all()
    assert np.array_equal(seen[0, 4], [200, 0, 0]) and np.array_equal(seen[0, 8], [0, 0, 0])
    grey = np.zeros((8, 12), np.uint8)
    grey[:, 6:] = 255  # 255 stored: the nodata, shown black
    nodata = [(GDAL_NODATA, "s", 0, "255", True)]
    tifffile.imwrite(tmp_path / "w.tif", grey, photometric="miniswhite", extratags=nodata)
    seen = read_image(tmp_path / "w.tif")
    assert np.isnan(seen[:, 6:]).all() and (seen[:, :6] == 255).all()


def test_gdals_internal_mask_page_is_no_slice(tmp_path, capsys):
    """A grey GeoTIFF (a DEM) with GDAL's nodata mask as a page of its own (NewSubfileType
    4): it was split into 2 slices, the mask called a picture that looks like labels."""
    dem = np.full((32, 40), 1000, np.uint16)
    valid = np.ones((32, 40), bool)
    valid[:, :5] = False
    with tifffile.TiffWriter(tmp_path / "dem.tif") as tw:
        tw.write(dem, photometric="minisblack")
        tw.write(valid, subfiletype=4, photometric="mask")
    assert np.array_equal(read_image(tmp_path / "dem.tif"), dem)
    proj = tmp_path / "P"
    assert main(["new", str(proj), "--classes", "bg,fg"]) == 0
    assert main(["add", str(proj), str(tmp_path / "dem.tif")]) == 0
    said = capsys.readouterr()
    assert "added 1 image(s)" in said.out and "split" not in said.out + said.err


def test_a_stack_after_a_thumbnail_is_split_whole(tmp_path, capsys):
    planes = RNG.integers(0, 4000, (4, 24, 32)).astype(np.uint16)
    with tifffile.TiffWriter(tmp_path / "s.tif") as tw:
        tw.write(planes[0, ::4, ::4], subfiletype=1)
        for plane in planes:
            tw.write(plane)
    proj = tmp_path / "P"
    assert main(["new", str(proj), "--classes", "bg,fg"]) == 0
    assert main(["add", str(proj), str(tmp_path / "s.tif")]) == 0
    assert "split s.tif (4 slices)" in capsys.readouterr().out
    with Project.open(proj) as project:
        read = [project.load_image(r) for r in project.images()]
    assert all(np.array_equal(a, b) for a, b in zip(read, planes, strict=True))


def _frames(path: Path, height: int, width: int, count: int = 3) -> None:
    """``count`` colour frames of one file, as Pillow saves them (TIFF pages, APNG)."""
    from PIL import Image

    frames = [Image.fromarray(np.full((height, width, 3), k * 60, np.uint8)) for k in range(count)]
    frames[0].save(path, save_all=True, append_images=frames[1:])


def test_a_stack_of_colour_pages_is_named_by_its_pages_and_their_size(tmp_path):
    _frames(tmp_path / "rgb3.tif", 40, 60)
    with pytest.raises(ImageReadError, match="a stack of 3 images of 60x40"):
        read_image(tmp_path / "rgb3.tif")


def test_a_cmyk_tiff_is_read_in_rgb_as_pillow_shows_it(tmp_path):
    from PIL import Image

    rgb = np.zeros((10, 30, 3), np.uint8)
    rgb[:, 10:20] = (200, 30, 40)
    rgb[:, 20:] = 255
    Image.fromarray(rgb).convert("CMYK").save(tmp_path / "c.tif")  # (it was CMY as RGB)
    assert np.array_equal(read_image(tmp_path / "c.tif"), rgb)


def test_an_animated_png_is_refused_not_read_as_its_first_frame(tmp_path):
    _frames(tmp_path / "a.png", 10, 12)
    with pytest.raises(ImageReadError, match="an animated PNG of 3 frames, not one picture"):
        read_image(tmp_path / "a.png")


def test_a_cmyk_tiff_with_a_nodata_value_marks_the_pixels_no_ink_holds_data(tmp_path):
    inks = RNG.integers(1, 255, (8, 9, 4), dtype=np.uint8)
    inks[0, 0] = 0
    nodata = [(GDAL_NODATA, "s", 0, "0", True)]
    tifffile.imwrite(tmp_path / "c.tif", inks, photometric="separated", extratags=nodata)
    seen = read_image(tmp_path / "c.tif")  # (was an IndexError: four inks, three colours)
    assert seen.shape == (8, 9, 3)
    assert np.isnan(seen[0, 0]).all() and np.isnan(seen).sum() == 3


def test_a_picture_read_at_another_size_than_added_is_not_called_replaced(tmp_path):
    """A TIFF whose first page is a thumbnail was added as that thumbnail before: read
    whole now, it was refused as "replaced?; put the original back"."""
    import sqlite3

    tifffile.imwrite(tmp_path / "t.tif", np.zeros((16, 20), np.uint8))
    proj = tmp_path / "P"
    assert main(["new", str(proj), "--classes", "bg,fg"]) == 0
    assert main(["add", str(proj), str(tmp_path / "t.tif")]) == 0
    with sqlite3.connect(proj / "annotator.sqlite") as db:  # as the old reader recorded it
        db.execute("UPDATE images SET width = 5, height = 4")
    with Project.open(proj) as project, pytest.raises(ImageReadError) as said:
        project.load_image(project.images()[0])
    assert "is the one added as 't.tif', but is now read as 20x16, not 5x4" in str(said.value)
    assert "remove the image from the project and add it again" in str(said.value)
    tifffile.imwrite(tmp_path / "t.tif", np.ones((16, 20), np.uint8))  # replaced indeed
    with Project.open(proj) as project, pytest.raises(ImageReadError, match="replaced\\?"):
        project.load_image(project.images()[0])


def test_a_palette_tiff_mask_beside_its_picture_is_judged_by_its_ids(tmp_path, capsys):
    """A palette whose colours are no 8-bit ones made the mask's look many colours of
    16 bits: `add` took it for a picture to label."""
    folder = tmp_path / "d"
    folder.mkdir()
    tifffile.imwrite(folder / "a.tif", RNG.integers(0, 255, (16, 20, 3), dtype=np.uint8))
    ids = np.zeros((16, 20), np.uint8)
    ids[4:10, 5:15] = 1
    table = np.zeros((3, 256), np.uint16)
    table[:, 1] = [1000, 2000, 3000]  # (no 8-bit colour)
    tifffile.imwrite(folder / "a_mask.tif", ids, photometric="palette", colormap=table)
    proj = tmp_path / "P"
    assert main(["new", str(proj), "--classes", "bg,fg"]) == 0
    assert main(["add", str(proj), str(folder)]) == 0
    said = capsys.readouterr()
    assert "added 1 image(s)" in said.out
    assert "found 1 mask file(s) beside the pictures" in said.out + said.err


def test_a_picture_read_with_other_channels_than_recorded_is_recorded_anew(tmp_path, capsys):
    """A project made before today's readers recorded a band-interleaved LZW TIFF as 1
    channel (its first band) and a palette TIFF as grey: the channel choice, which goes
    by the records, refused channel 4 of the first and called the second lacking."""
    import sqlite3

    bands = RNG.integers(0, 4000, (4, 12, 14), dtype=np.uint16)
    tifffile.imwrite(
        tmp_path / "b.tif",
        bands,
        compression="lzw",
        planarconfig="separate",
        photometric="minisblack",
    )
    proj = tmp_path / "P"
    assert main(["new", str(proj), "--classes", "bg,fg"]) == 0
    assert main(["add", str(proj), str(tmp_path / "b.tif")]) == 0
    with sqlite3.connect(proj / "annotator.sqlite") as db:  # as the old reader recorded it
        db.execute("UPDATE images SET channels = 1, bit_depth = 16")
    with Project.open(proj) as project:
        record = project.images()[0]
        assert record.channels == 1
        project.load_image(record)
        assert project.images()[0].channels == 4
    capsys.readouterr()
    assert main(["channels", str(proj), "--use", "4,3,2"]) == 0
    with Project.open(proj, lock=False) as reader:  # a reader records nothing
        with sqlite3.connect(proj / "annotator.sqlite") as db:
            db.execute("UPDATE images SET channels = 1")
        reader.load_image(reader.images()[0])
        assert reader.images()[0].channels == 1
