"""Nodata (ADR 0029): a GeoTIFF's GDAL_NODATA pixels are read as no value (NaN), and
leave the contrast window, the fill and the add summary alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from annotator.core.contrast import per_channel
from annotator.core.labelmap import LabelMap, tolerance_scales
from annotator.core.nodata import GDAL_NODATA_TAG
from annotator.storage.images import auto_windows, nodata_value, read_image


def _geotiff(path, array, nodata=None, **kwargs):
    tags = [] if nodata is None else [(GDAL_NODATA_TAG, "s", 0, str(nodata), True)]
    tifffile.imwrite(path, array, photometric="minisblack", extratags=tags, **kwargs)
    return path


def _reflectance(h=64, w=64, seed=0):
    """Four bands of reflectance: left half water (~0.05), right half vegetation (~0.5
    in NIR, 0.1-0.3 elsewhere); the top 16 rows nodata (-9999)."""
    rng = np.random.default_rng(seed)
    a = np.empty((h, w, 4), np.float32)
    a[:, : w // 2] = (0.04, 0.05, 0.06, 0.05)
    a[:, w // 2 :] = (0.10, 0.20, 0.12, 0.50)
    a += rng.normal(0, 0.0005, a.shape).astype(np.float32)
    a[:16] = -9999.0
    return a


def test_float_nodata_pixels_read_as_nan_and_the_window_spans_the_valid_values(tmp_path):
    path = _geotiff(tmp_path / "refl.tif", _reflectance(), -9999)
    image = read_image(path)
    assert nodata_value(path) == -9999.0
    assert image.dtype == np.float32
    assert np.isnan(image[:16]).all() and np.isfinite(image[16:]).all()
    # Old code: every window started at -9999 (the picture a white sheet).
    for low, high in auto_windows(image):
        assert 0.0 < low < high < 1.0


def test_uint16_nodata_zero_leaves_the_window_at_the_valid_minimum(tmp_path):
    rng = np.random.default_rng(1)
    a = rng.integers(479, 7000, (48, 40, 4)).astype(np.uint16)
    a[:12] = 0
    path = _geotiff(tmp_path / "rgbn.tif", a, 0)
    image = read_image(path)
    assert image.dtype == np.float32
    assert np.isnan(image[:12]).all()
    np.testing.assert_array_equal(image[12:], a[12:].astype(np.float32))  # exact values
    for low, _ in auto_windows(image):
        assert low >= 479  # old code: 0


def test_edge_fill_stops_at_the_other_class_beside_nodata(tmp_path):
    """The audit's fill at tolerance 20 (8-bit levels of each channel's window): with
    -9999 in the window it was ~780 reflectance units and took every pixel."""
    image = read_image(_geotiff(tmp_path / "refl.tif", _reflectance(), -9999))
    scales = tolerance_scales(image)
    assert per_channel(image)
    tolerance = tuple(20.0 * s for s in scales)
    labels = LabelMap(np.full(image.shape[:2], 255, np.uint8), 255, 254)
    labels.flood_fill(10, 40, 0, image=image, tolerance=tolerance)
    filled = labels.array == 0
    assert filled[16:, :32].all()  # the water half
    assert not filled[16:, 32:].any()  # not the vegetation
    assert not filled[:16].any()  # nor nodata


def test_a_tiff_without_the_tag_reads_exactly_as_before(tmp_path):
    a = _reflectance()  # -9999 values, but nobody said they are nodata
    image = read_image(_geotiff(tmp_path / "plain.tif", a))
    assert image.dtype == np.float32
    np.testing.assert_array_equal(image, a)
    u8 = np.random.default_rng(2).integers(0, 256, (20, 30, 3)).astype(np.uint8)
    tifffile.imwrite(tmp_path / "rgb.tif", u8, photometric="rgb")
    got = read_image(tmp_path / "rgb.tif")
    assert got.dtype == np.uint8
    np.testing.assert_array_equal(got, u8)


@pytest.mark.parametrize("nodata", [0, "nan", "junk"])
def test_an_8bit_picture_with_the_tag_but_no_such_pixel_stays_8bit(tmp_path, nodata):
    u8 = np.random.default_rng(3).integers(1, 256, (20, 30)).astype(np.uint8)
    got = read_image(_geotiff(tmp_path / "g.tif", u8, nodata))
    assert got.dtype == np.uint8
    np.testing.assert_array_equal(got, u8)


def test_the_add_summary_counts_pictures_with_nodata_and_load_reads_them_alike(tmp_path, project):
    _geotiff(tmp_path / "a.tif", _reflectance(seed=4), -9999)
    _geotiff(tmp_path / "b.tif", _reflectance(seed=5), -9999)
    u8 = np.random.default_rng(6).integers(0, 256, (20, 30)).astype(np.uint8)
    tifffile.imwrite(tmp_path / "c.tif", u8)
    report = project.add_images([tmp_path])
    assert len(report.added) == 3
    text = report.nodata_text()
    assert text.startswith("2 pictures have nodata pixels (value -9999")
    record = project.image("a.tif")
    assert record.bit_depth == 32  # as read: float32 with NaN
    loaded = project.load_image(record)
    np.testing.assert_array_equal(loaded, read_image(tmp_path / "a.tif"))  # NaN alike
    assert np.isnan(loaded[:16]).all()


def test_a_label_geotiff_with_nodata_beside_its_picture_is_still_left_out(tmp_path, project):
    rng = np.random.default_rng(7)
    picture = rng.integers(479, 7000, (40, 50, 4)).astype(np.uint16)
    picture[:8] = 0
    _geotiff(tmp_path / "tile.tif", picture, 0)
    labels = np.zeros((40, 50), np.uint8)
    labels[:, 25:] = 1
    labels[:8] = 255  # the label raster's own nodata
    _geotiff(tmp_path / "tile_mask.tif", labels, 255)
    report = project.add_images([tmp_path])
    assert [r.name for r in report.added] == ["tile.tif"]
    assert [Path(m).name for m, _ in report.masks_left_out] == ["tile_mask.tif"]


@pytest.mark.parametrize(
    ("dtype", "nodata"), [(np.float32, -9999.0), (np.float32, -3.4028234663852886e38)]
)
def test_the_slices_of_a_stack_keep_its_nodata(tmp_path, dtype, nodata):
    """A stack split into slices (ADR 0022): each slice file carries the stack's nodata
    value, so a slice reads with NaN where the stack has nodata, as a single picture
    does (a float's exact value: -3.4e38 written with %g would miss it)."""
    from annotator.storage.stacks import split_stack

    planes = np.random.default_rng(0).uniform(0.02, 0.3, (5, 32, 32)).astype(dtype)
    planes[:, :4, :4] = dtype(nodata)
    stack = tmp_path / "vol.tif"
    _geotiff(stack, planes, nodata=nodata, metadata={"axes": "ZYX"})
    _, files, _ = split_stack(tmp_path / "project", stack)
    assert len(files) == 5
    for f in files:
        picture = read_image(f)
        assert np.isnan(picture[:4, :4]).all() and not np.isnan(picture[4:]).any()


def _orthophoto(h=48, w=40, seed=11):
    """An 8-bit RGB orthophoto: a dark field (~60) left, a bright roof (~180) right, the
    top 10 rows the black collar of a reprojection (0, its nodata)."""
    rng = np.random.default_rng(seed)
    a = np.empty((h, w, 3), np.uint8)
    a[:, : w // 2] = rng.integers(50, 70, (h, w // 2, 3))
    a[:, w // 2 :] = rng.integers(170, 190, (h, w - w // 2, 3))
    a[:10] = 0
    return a


def test_an_8bit_picture_with_nodata_keeps_the_8bit_window_and_fill(tmp_path):
    """An 8-bit orthophoto with nodata 0 is read as float (NaN in its collar) but stays
    an 8-bit picture: window 0..255, tolerance in its own levels, the fill, the smart
    tools' colours and the channels picked as without the tag, the collar left out."""
    from annotator.core.channels import pick
    from annotator.core.nodata import eight_bit
    from annotator.core.smart import tile_superpixels, to_uint8_rgb
    from annotator.storage.images import to_display_uint8

    a = _orthophoto()
    tagged = read_image(_geotiff(tmp_path / "ortho.tif", a, 0))
    plain = read_image(_geotiff(tmp_path / "plain.tif", a))
    assert tagged.dtype == np.float32 and np.isnan(tagged[:10]).all()  # (ADR 0029 still)
    assert plain.dtype == np.uint8 and eight_bit(tagged) and eight_bit(pick(tagged, (2, 1, 0)))
    # old code: per-channel percentile windows of about (50, 190) each
    assert auto_windows(tagged) == ((0.0, 255.0),) * 3 == auto_windows(pick(tagged, (2, 1, 0)))
    assert not per_channel(tagged)
    assert tolerance_scales(tagged) == (1.0, 1.0, 1.0)  # old code: about (0.55, ...) each
    np.testing.assert_array_equal(to_display_uint8(tagged), a)  # the collar black, as 0 is
    np.testing.assert_array_equal(to_uint8_rgb(tagged), to_uint8_rgb(plain))
    tile = (4, 6, 48, 40)  # the superpixels of a tile (the smart tools' colours)
    np.testing.assert_array_equal(tile_superpixels(tagged, tile), tile_superpixels(plain, tile))
    for tolerance in (12.0, 30.0):  # in 8-bit levels, as the app's Tolerance box
        filled = []
        for image in (tagged, plain):
            scaled = tuple(tolerance * s for s in tolerance_scales(image))
            labels = LabelMap(np.full(a.shape[:2], 255, np.uint8), 255, 254)
            labels.flood_fill(5, 30, 0, image=image, tolerance=scaled)
            filled.append(labels.array == 0)
        np.testing.assert_array_equal(filled[0], filled[1])
        assert not filled[0][:10].any() and not filled[0][:, 20:].any()
    assert filled[0][10:, :20].all()  # 30 levels take the whole field


def test_the_record_of_an_8bit_picture_with_nodata_says_8_bit(tmp_path, project):
    _geotiff(tmp_path / "ortho.tif", _orthophoto(), 0)
    report = project.add_images([tmp_path])
    assert report.nodata_text().startswith("1 picture has nodata pixels (value 0")
    record = project.image("ortho.tif")
    assert record.bit_depth == 8  # the file's: old code 32, the float it is read as
    assert not project.has_deep_colour_images()  # no 8-bit RGB is "deep colour"
    loaded = project.load_image(record)
    assert np.isnan(loaded[:10]).all() and auto_windows(loaded) == ((0.0, 255.0),) * 3


def test_a_nodata_picture_pickled_keeps_its_source_type():
    """Training in worker processes pickles the pictures: the file's type goes along."""
    import pickle

    from annotator.core.nodata import source_dtype, with_nodata

    image = with_nodata(_orthophoto(), 0.0)
    again = pickle.loads(pickle.dumps(image))
    assert source_dtype(again) == np.uint8
    np.testing.assert_array_equal(again, image)
    assert source_dtype(image + 1) == np.float32  # arithmetic: no longer the file's values
