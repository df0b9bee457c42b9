"""core.nodata and the label edits around pixels with no value (ADR 0029)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from annotator.core.labelmap import LabelMap
from annotator.core.nodata import no_value_pixels, nodata_label, parse_nodata, with_nodata
from annotator.core.proposal import NO_CLASS, image_score


@pytest.mark.parametrize(
    ("text", "value"),
    [("-9999", -9999.0), ("0", 0.0), (" -3.4e+38\x00", -3.4e38), (b"255", 255.0)],
)
def test_the_tag_text_names_a_number(text, value):
    assert parse_nodata(text) == value


def test_nan_and_junk():
    assert math.isnan(parse_nodata("nan"))
    assert parse_nodata("none") is None and parse_nodata(None) is None
    assert nodata_label(-9999.0) == "-9999" and nodata_label(float("nan")) == "nan"


def test_only_pixels_equal_to_the_value_become_nan():
    a = np.array([[0, 5], [65535, 0]], np.uint16)
    out = with_nodata(a, 0.0)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(np.isnan(out), [[True, False], [False, True]])
    assert out[1, 0] == 65535.0
    assert with_nodata(a, 7.0) is a  # no such pixel: the picture as it was
    assert with_nodata(a, -1.0) is a and with_nodata(a, 0.5) is a  # not a uint16 value
    assert with_nodata(a, float("nan")) is a
    wide = with_nodata(np.array([[16777217, 0]], np.int32), 0.0)
    assert wide.dtype == np.float64 and wide[0, 0] == 16777217  # float32 would round it


def test_a_no_value_pixel_has_every_used_channel_nan():
    image = np.ones((2, 2, 4), np.float32)
    image[0, 0, :3] = np.nan  # the fourth channel is not used
    image[0, 1, 0] = np.nan  # one band only: still a pixel with values
    np.testing.assert_array_equal(no_value_pixels(image), [[True, False], [False, False]])
    assert no_value_pixels(np.ones((2, 2), np.float32)) is None
    assert no_value_pixels(np.zeros((2, 2), np.uint8)) is None


def test_accepting_over_a_class_never_erases_it_where_the_proposal_gives_none():
    labels = LabelMap(np.array([[1, 1], [255, 0]], np.uint8), 255, 254)
    proposal = np.array([[NO_CLASS, 0], [NO_CLASS, 1]], np.uint8)
    labels.accept(proposal, only_over=1)
    np.testing.assert_array_equal(labels.array, [[1, 0], [255, 0]])  # old code: 255 at (0, 0)
    labels.accept(proposal)
    np.testing.assert_array_equal(labels.array, [[1, 0], [255, 0]])


def test_the_score_passes_over_the_pixels_left_out():
    unc = np.zeros((10, 10), np.float32)
    unc[:, :5] = 0.8
    where = np.zeros((10, 10), bool)
    where[:, :5] = True
    assert image_score(unc, where) == pytest.approx(0.8)
    assert image_score(unc, np.zeros((10, 10), bool)) == 0.0
