"""Contrast windows per channel (docs/adr/0027) and the fill to edges on float pictures:
the automatic windows, the tolerance's scale per channel, the flood fill with NaN, and
what a document shows."""

from __future__ import annotations

import numpy as np
import pytest

from annotator.core.labelmap import LabelMap, tolerance_scale, tolerance_scales
from annotator.core.schema import LabelSchema
from annotator.core.smart import to_uint8_rgb
from annotator.core.status import ImageStatus
from annotator.storage.images import auto_window, auto_windows, channel_ranges

SCHEMA = LabelSchema.from_names(["a", "b"])


def _blank(h: int, w: int) -> LabelMap:
    return LabelMap.blank(SCHEMA, h, w)


def _rgb16() -> np.ndarray:
    """The audit's 16-bit RGB picture in small: red 1000..1400 with a bright disc at
    1390, green half of red, blue flat at 30000."""
    rng = np.random.default_rng(0)
    red = rng.normal(1200, 40, (60, 80)).clip(1000, 1400)
    yy, xx = np.mgrid[0:60, 0:80]
    disc = (yy - 30) ** 2 + (xx - 40) ** 2 < 12**2
    red[disc] = 1390
    red = red.astype(np.uint16)
    return np.stack([red, red // 2, np.full_like(red, 30000)], axis=-1)


def _float_picture(nan: bool) -> np.ndarray:
    """Float values 0.2..0.3 with a disc at 0.8, a block at 5 and, with ``nan``, a
    block of NaN and a line of +inf."""
    rng = np.random.default_rng(1)
    image = (0.2 + 0.1 * rng.random((64, 64))).astype(np.float32)
    yy, xx = np.mgrid[0:64, 0:64]
    image[(yy - 32) ** 2 + (xx - 32) ** 2 < 10**2] = 0.8
    image[50:60, 2:12] = 5.0
    if nan:
        image[2:10, 2:10] = np.nan
        image[62, 10:50] = np.inf
    return image


# --- the tolerance's scale ------------------------------------------------------------
def test_a_nan_pixel_leaves_the_tolerance_scale_of_a_float_picture_unchanged():
    """A percentile of an array with NaN is NaN: the scale came out as 1, and a
    tolerance of 20 grey levels stayed 20 on a picture of values 0.2..5."""
    clean, with_nan = _float_picture(nan=False), _float_picture(nan=True)
    expected = (np.percentile(clean, 99.5) - np.percentile(clean, 0.5)) / 255
    assert tolerance_scale(clean) == pytest.approx(expected)
    assert tolerance_scale(with_nan) == pytest.approx(expected, rel=0.05)
    assert tolerance_scale(with_nan, max_pixels=1000) < 0.05
    assert tolerance_scales(with_nan) == (pytest.approx(tolerance_scale(with_nan)),)
    assert tolerance_scale(np.full((4, 4), np.nan, np.float32)) == 1.0  # no value at all


def test_each_channel_of_a_16_bit_rgb_picture_has_its_own_tolerance_scale():
    image = _rgb16()
    scales = tolerance_scales(image)
    for c in range(3):
        lo, hi = np.percentile(image[..., c], (0.5, 99.5))
        assert scales[c] == pytest.approx((hi - lo) / 255 if hi > lo else 1.0)
    assert scales[2] == 1.0  # a flat channel
    assert tolerance_scales(np.zeros((4, 4, 3), np.uint8)) == (1.0, 1.0, 1.0)
    # The pooled scale (the simulated annotator's rule) is unchanged: all channels at once.
    assert tolerance_scale(image) == pytest.approx(
        (np.percentile(image, 99.5) - np.percentile(image, 0.5)) / 255
    )


# --- the flood fill ---------------------------------------------------------------------
def test_a_fill_to_edges_on_a_float_picture_keeps_its_fractional_tolerance():
    image = _float_picture(nan=True)
    lm = _blank(64, 64)
    lm.flood_fill(32, 32, 0, image=image, tolerance=0.37)  # the disc, at 0.8
    disc = lm.array == 0
    yy, xx = np.mgrid[0:64, 0:64]
    assert np.array_equal(disc, (yy - 32) ** 2 + (xx - 32) ** 2 < 10**2)
    lm.flood_fill(20, 20, 1, image=image, tolerance=0.37)  # the background, 0.2..0.3
    background = lm.array == 1
    assert not background[2:10, 2:10].any()  # NaN never joins
    assert not background[62, 10:50].any()  # nor +inf
    assert not background[50:60, 2:12].any() and not (background & disc).any()
    assert background.sum() == 64 * 64 - disc.sum() - 64 - 100 - 40


def test_a_fill_to_edges_clicked_on_a_pixel_with_no_value_fills_nothing():
    image = _float_picture(nan=True)
    lm = _blank(64, 64)
    assert lm.flood_fill(5, 5, 0, image=image, tolerance=1e9).empty  # NaN
    assert lm.flood_fill(30, 62, 0, image=image, tolerance=1e9).empty  # +inf
    as_double = image.astype(np.float64)  # numpy's path, not OpenCV's: the same rule
    assert lm.flood_fill(30, 62, 0, image=as_double, tolerance=1e9).empty
    assert lm.flood_fill(5, 5, 0, image=as_double, tolerance=1e9).empty
    assert not lm.flood_fill(20, 20, 0, image=as_double, tolerance=0.37).empty
    assert (lm.array == 0)[2:10, 2:10].sum() == 0


def test_a_tolerance_per_channel_bounds_each_channel_by_its_own():
    image = _rgb16()
    scales = tolerance_scales(image)
    lm = _blank(60, 80)
    lm.flood_fill(40, 30, 0, image=image, tolerance=tuple(20 * s for s in scales))
    yy, xx = np.mgrid[0:60, 0:80]
    disc = (yy - 30) ** 2 + (xx - 40) ** 2 < 12**2
    assert np.array_equal(lm.array == 0, disc)
    pooled = _blank(60, 80)  # one tolerance over every channel: the whole picture
    pooled.flood_fill(40, 30, 0, image=image, tolerance=20 * tolerance_scale(image))
    assert (pooled.array == 0).all()
    two = np.zeros((8, 8, 2), np.uint16)
    two[:, 4:, 1] = 100  # the second channel splits the picture; the first is flat
    lm = _blank(8, 8)
    lm.flood_fill(0, 0, 0, image=two, tolerance=(1000.0, 50.0))
    assert (lm.array == 0).sum() == 32


# --- the automatic windows ----------------------------------------------------------------
def test_a_16_bit_rgb_picture_gets_a_window_per_channel():
    image = _rgb16()
    windows = auto_windows(image)
    assert len(windows) == 3
    for c in (0, 1):
        assert windows[c] == pytest.approx(tuple(np.percentile(image[..., c], (0.5, 99.5))))
    assert windows[2] == (30000.0, 30001.0)  # flat: one above its value
    assert channel_ranges(image)[1] == (image[..., 1].min(), image[..., 1].max())
    grey = image[..., 0]
    assert auto_windows(grey) == (auto_window(grey),)
    assert len(auto_windows(np.zeros((4, 4, 5), np.uint16))) == 3  # the first three shown
    assert len(auto_windows(np.zeros((4, 4, 2), np.float32))) == 2


def test_the_smart_tools_see_each_channel_in_its_own_window():
    shown = to_uint8_rgb(_rgb16())
    assert shown[30, 40, 0] == 255 and shown[30, 40, 1] == 255  # the disc, in red and green
    assert shown[..., 0].std() > 20 and shown[..., 1].std() > 20
    assert (shown[..., 2] == 0).all()  # the flat blue adds nothing


# --- what a document shows -------------------------------------------------------------------
def _document(image: np.ndarray):
    from annotator.core.records import ImageRecord
    from annotator.services.document import Document

    h, w = image.shape[:2]
    record = ImageRecord(
        id=1,
        name="x.tif",
        path="x.tif",
        sha1="",
        width=w,
        height=h,
        channels=1 if image.ndim == 2 else image.shape[2],
        bit_depth=image.dtype.itemsize * 8,
        status=ImageStatus.NEW,
        label_source="user",
        labelled_pixels=0,
        score=None,
        added_at="",
        updated_at="",
    )
    return Document(record, image, _blank(h, w))


def test_a_16_bit_rgb_picture_shows_every_channel_in_its_own_window():
    """One window over all channels (572..30000) showed red at 4-7 of 255, green at 0-1
    and the flat blue white: solid blue."""
    image = _rgb16()
    doc = _document(image)
    shown = doc.display_image()
    assert shown[..., 0].max() == 255 and shown[..., 0].min() == 0
    assert shown[..., 1].max() == 255 and shown[..., 1].min() <= 5
    assert (shown[..., 2] == 0).all()
    assert shown[30, 40, 0] == 255 and shown[5, 5, 0] < 200
    doc.set_windows([(1000, 1400), (500, 700), (0, 60000)])
    shown = doc.display_image()
    red = ((image[..., 0].astype(float) - 1000) * 255 / 400).clip(0, 255).astype(np.uint8)
    assert np.array_equal(shown[..., 0], red)
    assert (shown[..., 2] == int(30000 * 255 / 60000)).all()
    with pytest.raises(ValueError, match="2 contrast windows for 3 channels"):
        doc.set_windows([(0, 1), (0, 1)])
    doc.set_windows(None)
    assert doc.windows is None and doc.display_image()[..., 2].max() == 0


def test_an_8_bit_rgb_picture_shows_as_it_is_and_takes_a_window_per_channel():
    image = np.random.default_rng(2).integers(0, 256, (16, 24, 3)).astype(np.uint8)
    doc = _document(image)
    assert np.array_equal(doc.display_image(), image)
    assert doc.auto_windows == ((0.0, 255.0),) * 3
    doc.set_windows([(0, 255), (0, 127.5), (0, 255)])
    shown = doc.display_image()
    assert np.array_equal(shown[..., 0], image[..., 0])
    assert np.array_equal(shown[..., 2], image[..., 2])
    assert np.array_equal(shown[..., 1], np.clip(image[..., 1].astype(float) * 2, 0, 255))


def test_two_16_bit_channels_show_in_magenta_and_green_each_in_its_own_window():
    image = np.zeros((10, 10, 2), np.uint16)
    image[..., 0] = np.arange(10) * 100  # 0..900
    image[..., 1] = 20000 + np.arange(10)[:, None] * 1000  # 20000..29000
    doc = _document(image)
    assert len(doc.auto_windows) == 2
    shown = doc.display_image()
    assert shown.shape == (10, 10, 3)
    assert np.array_equal(shown[..., 0], shown[..., 2])  # magenta: the first in red and blue
    assert shown[..., 0].max() == 255 and shown[..., 1].max() == 255
    assert shown[..., 0].min() == 0 and shown[..., 1].min() == 0


def test_a_picture_looks_like_ct_when_grey_signed_and_as_dark_as_air():
    """Air is -1000 Hounsfield units; the CT presets are offered from -900 down (docs/adr/0036)."""
    from annotator.core.contrast import CT_PRESETS, looks_like_ct

    grey = np.zeros((4, 4), np.int16)
    assert looks_like_ct(grey, -900.0) and looks_like_ct(grey.astype(np.float32), -3024.0)
    assert not looks_like_ct(grey, -899.0)  # no air: not CT
    assert not looks_like_ct(grey.astype(np.uint16), 0.0)
    assert not looks_like_ct(np.zeros((4, 4, 3), np.int16), -1000.0)  # colour
    assert [p.window for p in CT_PRESETS] == [
        (-160, 240),
        (-1350, 150),
        (-500, 1300),
        (0, 80),
        (-45, 105),
    ]
