"""Pictures read from JPEG, BMP and LZW TIFF files are plain writeable arrays.

Pillow gives read-only arrays for these formats; OpenCV refuses a read-only argument it
may write to, so the fill with a tolerance (``cv2.floodFill``) crashed on every JPEG
picture, in the app and in ``annotator bench``, while PNG pictures worked."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from annotator.core.labelmap import LabelMap
from annotator.core.schema import LabelSchema
from annotator.storage.images import read_image


def _picture() -> np.ndarray:
    rng = np.random.default_rng(0)
    img = np.full((48, 64), 40, np.uint8)
    img[10:30, 12:40] = 200
    return np.clip(img + rng.normal(0, 3, img.shape), 0, 255).astype(np.uint8)


@pytest.mark.parametrize(
    ("name", "colour", "options"),
    [
        ("g.jpg", False, {"quality": 95}),
        ("c.jpg", True, {"quality": 95}),
        ("g.bmp", False, {}),
        ("g.tif", False, {"compression": "tiff_lzw"}),
    ],
)
def test_a_fill_with_a_tolerance_works_on_pictures_pillow_reads(tmp_path, name, colour, options):
    grey = _picture()
    pixels = np.dstack([grey] * 3) if colour else grey
    Image.fromarray(pixels).save(tmp_path / name, **options)
    picture = read_image(tmp_path / name)
    assert picture.flags.writeable and picture.flags.c_contiguous
    schema = LabelSchema.from_names(["background", "cell"])
    lm = LabelMap.blank(schema, *grey.shape)
    lm.flood_fill(20, 25, 1, image=picture, tolerance=20)
    filled = lm.array == 1
    assert filled[12:28, 14:38].all() and not filled[:5].any()  # the bright box, alone


def test_the_fill_copes_with_a_read_only_picture_given_to_it():
    picture = _picture()
    picture.setflags(write=False)  # (a view of someone else's memory)
    lm = LabelMap.blank(LabelSchema.from_names(["background", "cell"]), *picture.shape)
    lm.flood_fill(20, 25, 1, image=picture, tolerance=20)
    assert (lm.array == 1)[12:28, 14:38].all()
