"""The window's contrast and fill to edges on unusual pictures (an audit): float TIFFs with
and without NaN, and a 16-bit RGB TIFF whose channels have ranges of their own
(docs/adr/0027)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import tifffile
from guihelpers import SIZE, center, click

from annotator.core.schema import LabelSchema
from annotator.gui.main_window import MainWindow
from annotator.storage.project import Project

YY, XX = np.mgrid[0:SIZE, 0:SIZE]
DISC = (YY - 32) ** 2 + (XX - 32) ** 2 < 10**2


def _float_picture(nan: bool) -> np.ndarray:
    """Values 0.2..0.3, a disc at 0.8 and a block at 5 (which widens the range); with
    ``nan`` a block of NaN and a line of +inf."""
    image = (0.2 + 0.1 * np.random.default_rng(1).random((SIZE, SIZE))).astype(np.float32)
    image[DISC] = 0.8
    image[50:60, 2:12] = 5.0
    if nan:
        image[2:10, 2:10] = np.nan
        image[62, 10:50] = np.inf
    return image


def _rgb16() -> np.ndarray:
    """Red 1000..1400 with a disc at 1390, green half of red, blue flat at 30000."""
    red = np.random.default_rng(0).normal(1200, 40, (SIZE, SIZE)).clip(1000, 1380)
    red[DISC] = 1390
    red = red.astype(np.uint16)
    return np.stack([red, red // 2, np.full_like(red, 30000)], axis=-1)


@pytest.fixture
def window(qtbot, tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    eight = np.full((SIZE, SIZE), 40, np.uint8)
    cv2.imwrite(str(folder / "a8.png"), eight)
    tifffile.imwrite(folder / "b_clean.tif", _float_picture(nan=False))
    tifffile.imwrite(folder / "c_nan.tif", _float_picture(nan=True))
    tifffile.imwrite(folder / "d_rgb16.tif", _rgb16(), photometric="rgb")
    w = _fill_window(qtbot, tmp_path, folder, ["a", "b", "c"])
    w.open_image(w.ids["a8.png"])
    w.tolerance_spin.setValue(20)
    yield w
    w.close()


def _fill_window(qtbot, tmp_path, folder, classes: list[str]) -> MainWindow:
    """The window on a new project of the pictures in ``folder`` (``w.ids``: their ids by
    name), the fill to edges chosen."""
    with Project.create(tmp_path / "p", LabelSchema.from_names(classes)) as p:
        p.add_images([folder])
        ids = {r.name: r.id for r in p.images()}
    w = MainWindow()
    qtbot.addWidget(w)
    w.resize(900, 700)
    w.show()
    w.open_project(tmp_path / "p")
    w.ids = ids
    w.canvas.set_tool("fill")
    w.edges_check.setChecked(True)
    return w


def _open(w: MainWindow, name: str) -> None:
    w.open_image(w.ids[name])
    center(w.canvas)


@pytest.mark.parametrize("name", ["b_clean.tif", "c_nan.tif"])
def test_fill_to_edges_on_a_float_picture_carries_the_8_bit_tolerance(window, name):
    """With NaN the scale was 1 (20 stayed 20: one click filled the disc and the block
    too); without, 20 x 0.019 = 0.37 was rounded to 0 (one click filled 1 pixel)."""
    _open(window, name)
    finite = _float_picture(nan=False)
    scale = (np.percentile(finite, 99.5) - np.percentile(finite, 0.5)) / 255
    shown = window.tolerance_spin.value()
    assert shown == pytest.approx(20 * scale, rel=0.05) and 0.1 < shown < 1
    assert window.canvas.fill_tolerance == pytest.approx(shown)
    click(window.canvas, 20, 30)  # the background
    background = window.document.label_map.array == 0
    assert not (background & DISC).any() and not background[50:60, 2:12].any()
    assert background.sum() > 0.6 * SIZE * SIZE
    window.canvas.set_current_value(1)
    click(window.canvas, 32, 32)
    assert np.array_equal(window.document.label_map.array == 1, DISC)


def test_a_click_on_a_nan_pixel_says_why_nothing_was_filled(window):
    _open(window, "c_nan.tif")
    click(window.canvas, 5, 5)  # NaN: nothing to measure from
    assert (window.document.label_map.array == 0).sum() == 0
    said = window.statusBar().currentMessage()
    assert said.startswith("Fill to edges filled nothing: the pixel clicked has no value")


def test_a_float_picture_s_small_fill_says_its_range_without_nan(window):
    """It said "This image's values span nan to nan"."""
    _open(window, "c_nan.tif")
    window.tolerance_spin.setValue(0.0001)
    click(window.canvas, 20, 30)
    said = window.statusBar().currentMessage()
    assert said.startswith("Fill to edges changed only a few pixels")
    assert "nan" not in said and "span 0.2" in said and " to 5;" in said


def test_the_tolerance_box_keeps_the_8_bit_value_through_a_float_picture(window):
    _open(window, "b_clean.tif")
    assert window.tolerance_spin.decimals() >= 4
    _open(window, "a8.png")
    assert window.tolerance_spin.value() == 20 and window.tolerance_spin.decimals() == 2


def test_a_16_bit_rgb_picture_shows_each_channel_in_its_own_window(window):
    """One window over all channels (1000..30000) showed it solid blue."""
    _open(window, "d_rgb16.tif")
    shown = window.canvas.image_item.array
    assert shown[..., 0].max() == 255 and shown[..., 0].min() < 30  # red: full contrast
    assert shown[..., 1].max() == 255 and shown[..., 1].min() < 30
    assert (shown[..., 2] == 0).all()  # the flat blue is no brightness
    assert shown[DISC, 0].min() == 255 and np.median(shown[~DISC, 0]) < 200


def test_fill_to_edges_on_a_16_bit_rgb_picture_follows_each_channel(window):
    """The tolerance was scaled by one range over all channels (20 became 2300 of red's
    1000..1400): the fill took the whole picture."""
    _open(window, "d_rgb16.tif")
    assert window.tolerance_spin.value() == 20  # 8-bit levels of each channel's window
    tolerance = window.canvas.fill_tolerance
    assert isinstance(tolerance, tuple) and len(tolerance) == 3
    red = _rgb16()[..., 0]
    lo, hi = np.percentile(red, (0.5, 99.5))
    assert tolerance[0] == pytest.approx(20 * (hi - lo) / 255)
    click(window.canvas, 32, 32)
    assert np.array_equal(window.document.label_map.array == 0, DISC)
    window.tolerance_spin.setValue(0)
    window.canvas.set_current_value(1)
    click(window.canvas, 5, 5)
    said = window.statusBar().currentMessage()
    assert said.startswith("Fill to edges changed only a few pixels") and "by channel" in said


def test_the_contrast_dialog_sets_a_window_per_channel_and_each_image_keeps_its_own(window):
    _open(window, "d_rgb16.tif")
    window.show_contrast()
    dialog = window.contrast_dialog
    assert dialog.channel_count == 3
    names = [name.text() for name, _, _ in dialog.rows]
    assert names == ["Red", "Green", "Blue"]
    assert all(low.isVisible() for _, low, _ in dialog.rows)
    assert dialog.rows[2][1].value() == 30000  # blue's own window
    assert "red 10" in dialog.hint.text() and "blue 30000 to 30000" in dialog.hint.text()
    before = window.canvas.image_item.array.copy()
    dialog.rows[1][2].setValue(2000)  # green's white far up: green dims, red stays
    after = window.canvas.image_item.array
    assert np.array_equal(after[..., 0], before[..., 0])
    assert after[..., 1].max() < 100 and before[..., 1].max() == 255
    assert window.document.windows is not None and window.document.windows[1][1] == 2000
    dialog.rows[0][2].setValue(dialog.rows[0][1].value() - 1)  # white below black: refused
    assert "White must be above black (red)" in dialog.hint.text()
    assert window.document.windows[0][1] > window.document.windows[0][0]
    _open(window, "a8.png")  # a grey picture: one row
    assert dialog.channel_count == 1 and not dialog.rows[1][1].isVisible()
    assert window.canvas.image_item.array.max() == 40  # shown as it is
    _open(window, "d_rgb16.tif")  # the window chosen for it comes back
    assert dialog.rows[1][2].value() == 2000
    assert window.canvas.image_item.array[..., 1].max() < 100
    dialog.auto_button.click()
    assert window.document.windows is None
    assert window.canvas.image_item.array[..., 1].max() == 255


def _orthophoto() -> np.ndarray:
    """8-bit RGB: a field (60..80) with a roof disc (150..170), the top 8 rows the
    collar of a reprojection (0)."""
    rng = np.random.default_rng(4)
    image = rng.integers(60, 80, (SIZE, SIZE, 3)).astype(np.uint8)
    image[DISC] = rng.integers(150, 170, (int(DISC.sum()), 3)).astype(np.uint8)
    image[:8] = 0
    return image


def test_an_8bit_picture_with_nodata_is_shown_and_filled_as_an_8bit_one(qtbot, tmp_path):
    """An 8-bit GeoTIFF with GDAL_NODATA 0 (read as float, its collar NaN) opens as the
    same picture without the tag does: shown as it is (old code: each channel
    stretched over its percentiles), the Tolerance box in 8-bit levels, one click
    filling the same pixels, the collar left out."""
    from annotator.core.nodata import GDAL_NODATA_TAG

    folder = tmp_path / "imgs"
    folder.mkdir()
    tags = [(GDAL_NODATA_TAG, "s", 0, "0", True)]
    tifffile.imwrite(folder / "ortho.tif", _orthophoto(), photometric="rgb", extratags=tags)
    tifffile.imwrite(folder / "plain.tif", _orthophoto(), photometric="rgb")
    w = _fill_window(qtbot, tmp_path, folder, ["a", "b"])
    seen = {}
    try:
        for name in ("plain.tif", "ortho.tif"):
            _open(w, name)
            w.tolerance_spin.setValue(25)
            doc = w.document
            click(w.canvas, 20, 30)  # the field
            seen[name] = (
                doc.auto_windows,
                w.canvas.image_item.array.copy(),
                w.canvas.fill_tolerance,
                w.tolerance_spin.decimals(),
                doc.label_map.array == 0,
            )
    finally:
        w.close()
    nodata = seen["ortho.tif"]
    assert nodata[0] == ((0.0, 255.0),) * 3  # old code: about (60, 80) each
    np.testing.assert_array_equal(nodata[1], _orthophoto())  # as it is, the collar black
    assert nodata[2] == 25 and nodata[3] == 2  # old code: per channel, 25 x 0.08
    for got, want in zip(nodata, seen["plain.tif"], strict=True):
        np.testing.assert_array_equal(got, want)
    filled = nodata[4]
    assert not filled[:8].any() and not (filled & DISC).any() and filled[8:][~DISC[8:]].all()
