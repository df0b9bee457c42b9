"""Reading images: formats, bit depths, EXIF orientation, and every bad-file case."""

import struct
import zlib

import cv2
import numpy as np
import pytest
import tifffile
from PIL import Image

from annotator.core.errors import ImageReadError
from annotator.storage.images import ImageInfo, apply_exif_orientation, read_image, to_display_uint8


def _grad(h=24, w=32):
    return (np.arange(h * w).reshape(h, w) % 251).astype(np.uint8)


@pytest.mark.parametrize("suffix", [".png", ".bmp", ".tif"])
def test_lossless_formats_round_trip_grey_rgb_rgba(tmp_path, suffix):
    grey = _grad()
    rgb = np.stack([grey, 255 - grey, grey // 2], axis=-1)
    rgba = np.concatenate([rgb, np.full(grey.shape + (1,), 200, np.uint8)], axis=-1)
    for name, arr in {"g": grey, "rgb": rgb, "rgba": rgba}.items():
        if suffix == ".bmp" and name == "rgba":
            continue
        path = tmp_path / f"{name}{suffix}"
        Image.fromarray(arr).save(path)
        out = read_image(path)
        # (a PNG's alpha is left out; a TIFF's fourth sample stays a channel)
        alpha_left_out = name == "rgba" and suffix != ".tif"
        np.testing.assert_array_equal(out, arr[..., :3] if alpha_left_out else arr)


def test_jpeg_is_read_as_rgb(tmp_path):
    arr = np.zeros((20, 30, 3), np.uint8)
    arr[..., 0] = 200
    Image.fromarray(arr).save(tmp_path / "a.jpg", quality=95)
    out = read_image(tmp_path / "a.jpg")
    assert out.shape == (20, 30, 3) and out.dtype == np.uint8
    assert abs(int(out[..., 0].mean()) - 200) < 4 and out[..., 1].mean() < 6


def test_sixteen_bit_png_keeps_full_range_grey_and_rgb(tmp_path):
    grey = (np.arange(40 * 50).reshape(40, 50) * 31).astype(np.uint16)
    cv2.imwrite(str(tmp_path / "g16.png"), grey)
    np.testing.assert_array_equal(read_image(tmp_path / "g16.png"), grey)
    rgb = np.stack([grey, grey // 2, grey // 3], axis=-1)
    cv2.imwrite(str(tmp_path / "rgb16.png"), rgb[..., ::-1])  # cv2 writes BGR
    out = read_image(tmp_path / "rgb16.png")
    assert out.dtype == np.uint16
    np.testing.assert_array_equal(out, rgb)


def test_sixteen_bit_and_multichannel_tiff(tmp_path):
    grey = (np.arange(30 * 20).reshape(30, 20) * 100).astype(np.uint16)
    tifffile.imwrite(tmp_path / "g.tif", grey)
    np.testing.assert_array_equal(read_image(tmp_path / "g.tif"), grey)
    planar = np.stack([grey, grey + 1, grey + 2, grey + 3, grey + 4])  # (C, H, W)
    tifffile.imwrite(tmp_path / "c.tiff", planar, photometric="minisblack")
    out = read_image(tmp_path / "c.tiff")
    assert out.shape == (30, 20, 5)
    np.testing.assert_array_equal(out[..., 4], grey + 4)
    assert ImageInfo.of(out) == ImageInfo(20, 30, 5, 16, "uint16")


@pytest.mark.parametrize(
    "array, kwargs, shape",
    [
        (np.arange(50, dtype=np.uint8).reshape(1, 50), {}, (1, 50)),  # one row
        (np.full((1, 1), 7, np.uint8), {}, (1, 1)),  # one pixel
        (np.zeros((1, 50, 3), np.uint8), {"photometric": "rgb"}, (1, 50, 3)),
        (
            np.zeros((3, 100, 5), np.uint8),
            {"photometric": "rgb", "planarconfig": "separate"},
            (100, 5, 3),
        ),
        (
            np.zeros((5, 30, 20), np.uint8),
            {"imagej": True, "metadata": {"axes": "CYX"}},
            (30, 20, 5),
        ),
        (np.zeros((30, 20, 5), np.uint16), {"photometric": "minisblack"}, (30, 20, 5)),
    ],
)
def test_tiff_axes_decide_rows_columns_and_channels(tmp_path, array, kwargs, shape):
    """Shapes the old squeeze-and-guess read wrong (a 1x50 RGB as 50x3 grey) or refused."""
    array = array + np.arange(array.size, dtype=array.dtype).reshape(array.shape) % 97
    tifffile.imwrite(tmp_path / "a.tif", array, **kwargs)
    out = read_image(tmp_path / "a.tif")
    assert out.shape == shape
    assert sorted(out.ravel().tolist()) == sorted(array.ravel().tolist())  # every value kept


def test_tiff_stacks_are_refused_in_words_not_read_as_channels(tmp_path):
    tifffile.imwrite(tmp_path / "z.tif", np.zeros((20, 48, 64), np.uint8))  # 20 unnamed planes
    tifffile.imwrite(
        tmp_path / "zj.tif", np.zeros((4, 48, 64), np.uint8), imagej=True, metadata={"axes": "ZYX"}
    )
    with tifffile.TiffWriter(tmp_path / "pages.tif") as tif:  # pages written one by one
        for i in range(3):
            tif.write(np.full((48, 64), 50 * i, np.uint8))
    for name, planes in (("z.tif", 20), ("zj.tif", 4), ("pages.tif", 3)):
        with pytest.raises(
            ImageReadError, match=f"stack of {planes} images of 64x48.*Stack to Images"
        ):
            read_image(tmp_path / name)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_matches_pillow(tmp_path, orientation):
    from PIL import ImageOps

    arr = np.zeros((16, 24, 3), np.uint8)
    arr[:4, :8] = 255  # a marker in the top-left corner
    arr[:, :, 1] = np.arange(24, dtype=np.uint8)[None, :] * 10
    im = Image.fromarray(arr)
    exif = im.getexif()
    exif[0x0112] = orientation
    path = tmp_path / "o.jpg"
    im.save(path, exif=exif, quality=100)
    expected = np.asarray(ImageOps.exif_transpose(Image.open(path)))
    out = read_image(path)
    assert out.shape == expected.shape
    assert np.abs(out.astype(int) - expected.astype(int)).max() == 0


def test_exif_rotation_swaps_width_and_height():
    arr = np.zeros((10, 20), np.uint8)
    assert apply_exif_orientation(arr, 6).shape == (20, 10)
    assert apply_exif_orientation(arr, 1) is arr


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def test_decompression_bomb_is_refused_before_decoding(tmp_path):
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 0, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IEND", b"")
    path = tmp_path / "bomb.png"
    path.write_bytes(data)
    with pytest.raises(ImageReadError, match=r"bomb\.png: image is 100000x100000 .* limit"):
        read_image(path)


def test_pixel_limit_can_be_raised_by_environment(tmp_path, monkeypatch):
    Image.fromarray(_grad(64, 64)).save(tmp_path / "a.png")
    monkeypatch.setenv("ANNOTATOR_MAX_PIXELS", "1000")
    with pytest.raises(ImageReadError, match="limit of 1,000"):
        read_image(tmp_path / "a.png")
    monkeypatch.setenv("ANNOTATOR_MAX_PIXELS", "5000")
    assert read_image(tmp_path / "a.png").shape == (64, 64)


def _bad_files(tmp_path):
    Image.fromarray(_grad(200, 200)).save(tmp_path / "ok.png")
    Image.fromarray(np.stack([_grad(200, 200)] * 3, -1)).save(tmp_path / "ok.jpg")
    png = (tmp_path / "ok.png").read_bytes()
    jpg = (tmp_path / "ok.jpg").read_bytes()
    cases = {
        "empty.png": b"",
        "truncated.png": png[: len(png) // 2],
        "truncated.jpg": jpg[: len(jpg) // 2],
        "garbage.png": b"this is not an image at all" * 10,
        "corrupt.tif": b"II*\x00" + b"\xff" * 100,
        "notes.txt": b"hello",
    }
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
    # A real format we do not support (GIF) under a supported suffix.
    Image.fromarray(_grad()).save(tmp_path / "anim.png", format="GIF")
    return list(cases) + ["anim.png"]


@pytest.mark.parametrize(
    "name,problem",
    [
        ("empty.png", "empty file"),
        ("truncated.png", "corrupt or truncated"),
        ("truncated.jpg", "corrupt or truncated"),
        ("garbage.png", "not an image file"),
        ("corrupt.tif", "corrupt or unsupported TIFF"),
        ("notes.txt", "unsupported file type '.txt'"),
        ("anim.png", "unsupported image format GIF"),
        ("missing.png", "no such file"),
    ],
)
def test_bad_file_gives_one_clear_line_naming_the_file(tmp_path, name, problem):
    _bad_files(tmp_path)
    with pytest.raises(ImageReadError) as info:
        read_image(tmp_path / name)
    message = str(info.value)
    assert message.startswith(str(tmp_path / name) + ": ")
    assert problem in message
    assert "\n" not in message


def test_display_window_maps_sixteen_bit_to_full_eight_bit_range():
    img = np.linspace(1000, 1200, 100 * 100).reshape(100, 100).astype(np.uint16)
    out = to_display_uint8(img)
    assert out.dtype == np.uint8 and out.min() == 0 and out.max() == 255
    same = _grad()
    assert to_display_uint8(same) is same


def test_image_size_from_the_header_is_the_shape_read_image_gives(tmp_path):
    from annotator.storage.images import image_size

    rng = np.random.default_rng(1)
    tifffile.imwrite(
        tmp_path / "c5.tif", rng.integers(0, 9, (30, 20, 5), np.uint8), photometric="minisblack"
    )
    tifffile.imwrite(
        tmp_path / "planar.tif",
        np.zeros((3, 100, 5), np.uint8),
        photometric="rgb",
        planarconfig="separate",
    )
    tifffile.imwrite(tmp_path / "row.tif", np.zeros((1, 70), np.uint16))
    tifffile.imwrite(tmp_path / "f64.tif", rng.random((11, 13)))
    im = Image.fromarray(np.zeros((16, 24, 3), np.uint8))
    exif = im.getexif()
    exif[0x0112] = 6  # shown turned by 90 degrees
    im.save(tmp_path / "turned.jpg", exif=exif)
    cv2.imwrite(str(tmp_path / "g16.png"), np.zeros((9, 7), np.uint16))
    for path in sorted(tmp_path.iterdir()):
        assert image_size(path) == read_image(path).shape[:2], path.name
    tifffile.imwrite(tmp_path / "z.tif", np.zeros((20, 48, 64), np.uint8))
    with pytest.raises(ImageReadError, match="stack of 20 images"):
        image_size(tmp_path / "z.tif")


def test_a_multispectral_tiff_saved_from_numpy_keeps_its_bands(tmp_path):
    """(H, W, 13) from numpy was read as a stack of H images after the axes rule."""
    bands = np.random.default_rng(0).integers(0, 4000, (50, 40, 13)).astype(np.uint16)
    tifffile.imwrite(tmp_path / "s2.tif", bands, photometric="minisblack")
    out = read_image(tmp_path / "s2.tif")
    assert out.shape == (50, 40, 13) and np.array_equal(out, bands)


def test_two_channels_a_tiff_names_are_both_read_and_only_recorded_alpha_is_dropped(tmp_path):
    """A DAPI + GFP micrograph (ImageJ CYX, or two samples) was read as grey and alpha:
    its second channel was never shown nor trained on, without a word."""
    dapi, gfp = _grad(), np.zeros((24, 32), np.uint8)
    gfp[5:15, 10:30] = 200
    tifffile.imwrite(
        tmp_path / "cyx.tif", np.stack([dapi, gfp]), imagej=True, metadata={"axes": "CYX"}
    )
    tifffile.imwrite(tmp_path / "yxs.tif", np.dstack([dapi, gfp]), photometric="minisblack")
    for name in ("cyx.tif", "yxs.tif"):
        out = read_image(tmp_path / name)
        assert out.shape == (24, 32, 2), name
        assert np.array_equal(out[..., 0], dapi) and np.array_equal(out[..., 1], gfp), name
        assert ImageInfo.of(out).channels == 2
    # Transparency is what the file records as such: a TIFF's ExtraSamples alpha, a PNG LA
    tifffile.imwrite(
        tmp_path / "la.tif",
        np.dstack([dapi, gfp]),
        photometric="minisblack",
        extrasamples=["unassalpha"],
    )
    assert np.array_equal(read_image(tmp_path / "la.tif"), dapi)
    Image.fromarray(np.dstack([dapi, gfp]), "LA").save(tmp_path / "la.png")
    assert np.array_equal(read_image(tmp_path / "la.png"), dapi)  # (was read as RGBA)


def test_a_recorded_alpha_is_no_channel_of_the_picture(tmp_path, capsys):
    """An RGBA PNG counted 4 channels: the Channel Choice took its alpha for channel 4
    (`channels --use 4` accepted, a model of channel 4 proposed from the alpha), and one
    grey + alpha PNG among grey pictures made the project's model a colour one."""
    from annotator.cli import main

    rgb = np.dstack([_grad(), 255 - _grad(), _grad() // 2])
    folder = tmp_path / "pictures"
    folder.mkdir()
    Image.fromarray(rgb).save(folder / "rgb.png")
    Image.fromarray(np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])).save(
        folder / "rgba.png"
    )
    Image.fromarray(np.dstack([rgb, np.full(rgb.shape[:2], 9, np.uint8)])).save(folder / "rgba.bmp")
    palette = Image.fromarray(_grad()).convert("P")
    palette.info["transparency"] = 0
    palette.save(folder / "p.png", transparency=0)
    for name in ("rgba.png", "rgba.bmp"):
        assert np.array_equal(read_image(folder / name), rgb), name
    assert read_image(folder / "p.png").shape == (24, 32, 3)
    assert ImageInfo.of(read_image(folder / "rgba.png")).channels == 3
    root = tmp_path / "p"
    assert main(["new", str(root), "--classes", "a,b"]) == 0
    assert main(["add", str(root), str(folder / "rgb.png"), str(folder / "rgba.png")]) == 0
    capsys.readouterr()
    assert main(["channels", str(root), "--use", "4"]) != 0
    assert "channel 4" in capsys.readouterr().err


def test_channels_past_the_third_are_said_to_go_unused_and_alpha_is_not(tmp_path):
    """A 5-channel micrograph showed and trained on its first three channels without a
    word; an RGBA picture's alpha is no unused channel."""
    from annotator.core.schema import LabelSchema
    from annotator.storage.images import unused_channels
    from annotator.storage.project import Project

    rng = np.random.default_rng(0)
    folder = tmp_path / "pictures"
    folder.mkdir()
    for c in (4, 5):
        tifffile.imwrite(
            folder / f"c{c}.tif",
            rng.integers(0, 255, (c, 20, 30), np.uint8),
            imagej=True,
            metadata={"axes": "CYX"},
        )
    rgba = rng.integers(0, 255, (20, 30, 4), np.uint8)
    tifffile.imwrite(folder / "rgba.tif", rgba, photometric="rgb", extrasamples=["unassalpha"])
    cv2.imwrite(str(folder / "rgba.png"), rgba)
    cv2.imwrite(str(folder / "rgb.png"), rgba[..., :3])
    got = {p.name: unused_channels(p, read_image(p)) for p in sorted(folder.iterdir())}
    assert got == {"c4.tif": 1, "c5.tif": 2, "rgb.png": 0, "rgba.png": 0, "rgba.tif": 0}
    with Project.create(tmp_path / "p", LabelSchema.from_names(["a", "b"])) as project:
        report = project.add_images([folder])
    assert sorted(report.channels_unused) == [
        (str(folder / "c4.tif"), 4, 1),
        (str(folder / "c5.tif"), 5, 2),
    ]
    text = report.channels_unused_text()
    assert "has 4 channels" in text or "has 5 channels" in text
    assert "(and 1 more file(s) with channels past the third)" in text
