"""Exported pictures agree with their labels for readers that ignore EXIF orientation.

The project shows a picture turned by its EXIF orientation upright, and its labels are
drawn upright; an export copied the file as stored, so torchvision's VOC dataset (a
plain ``Image.open``) paired the labels with the picture turned.
"""

from __future__ import annotations

import numpy as np
import pytest
from fmthelpers import CLASSES, U
from PIL import Image

from annotator.core.orientation import ORIENTATION_TAG
from annotator.core.schema import LabelSchema
from annotator.services.exchange import ExportRequest, export_project
from annotator.storage.images import read_image
from annotator.storage.project import Project


def _turned_picture(path, fmt, orientation, bits=8):
    """A 30 x 50 (h x w) picture, bright in its top-left corner as stored."""
    stored = np.full((30, 50), 20, np.uint16 if bits == 16 else np.uint8)
    stored[:10, :15] = 60000 if bits == 16 else 240
    exif = Image.Exif()
    exif[ORIENTATION_TAG] = orientation
    Image.fromarray(stored).save(path, format=fmt, exif=exif.tobytes())


@pytest.mark.parametrize(
    ("name", "fmt", "orientation", "bits"),
    [("x.jpg", "JPEG", 6, 8), ("x.jpg", "JPEG", 3, 8), ("x.png", "PNG", 8, 16)],
)
@pytest.mark.parametrize("mode", ["copy", "symlink"])
def test_a_turned_picture_is_exported_upright(tmp_path, name, fmt, orientation, bits, mode):
    (tmp_path / "imgs").mkdir()
    _turned_picture(tmp_path / "imgs" / name, fmt, orientation, bits)
    with Project.create(tmp_path / "p", LabelSchema.from_names(CLASSES)) as p:
        p.add_images([tmp_path / "imgs"])
        shown = read_image(tmp_path / "imgs" / name)  # upright, as the app shows it
        mask = np.where(shown > int(shown.max()) // 2, 1, U).astype(np.uint8)
        p.save_mask(p.image(name).id, mask)
        export_project(
            p,
            ExportRequest("voc", tmp_path / "voc", split=(1, 0, 0), include="all", image_mode=mode),
        )
    out = tmp_path / "voc/JPEGImages" / name
    assert not out.is_symlink()  # a link would show the stored, turned picture
    with Image.open(out) as im:  # no EXIF applied, as torchvision reads it
        assert im.getexif().get(ORIENTATION_TAG, 1) == 1
        plain = np.asarray(im)
    assert plain.shape[:2] == mask.shape
    bright = plain > (plain.max() // 2)
    assert (bright == (mask == 1)).mean() > 0.98
    assert np.array_equal(read_image(out), shown) or fmt == "JPEG"  # PNG: lossless


def test_an_upright_picture_is_still_linked_as_asked(tmp_path):
    (tmp_path / "imgs").mkdir()
    _turned_picture(tmp_path / "imgs/x.jpg", "JPEG", 1)
    with Project.create(tmp_path / "p", LabelSchema.from_names(CLASSES)) as p:
        p.add_images([tmp_path / "imgs"])
        p.save_mask(p.image("x.jpg").id, np.zeros((30, 50), np.uint8))
        export_project(
            p,
            ExportRequest(
                "voc", tmp_path / "voc", split=(1, 0, 0), include="all", image_mode="symlink"
            ),
        )
    assert (tmp_path / "voc/JPEGImages/x.jpg").is_symlink()


def test_a_mask_of_the_stored_size_of_a_turned_picture_says_why_it_does_not_fit(tmp_path):
    """A tool that ignores EXIF orientation drew labels of the stored 50 x 30 picture,
    which the project shows 30 x 50: refused, but with the reason, not only the sizes."""
    from annotator.services.exchange import ImportRequest, import_into_project

    (tmp_path / "imgs").mkdir()
    _turned_picture(tmp_path / "imgs" / "x.jpg", "JPEG", 6)
    masks = tmp_path / "labels" / "masks"
    masks.mkdir(parents=True)
    Image.fromarray(np.ones((30, 50), np.uint8)).save(masks / "x.png")
    with Project.create(tmp_path / "p", LabelSchema.from_names(CLASSES)) as p:
        p.add_images([tmp_path / "imgs"])
        report = import_into_project(p, ImportRequest("masks", tmp_path / "labels"))
    ((_, why),) = report.skipped
    assert "the mask is 50x30 but image 'x.jpg' is 30x50 (the sizes swapped" in why
    assert "EXIF orientation" in why
