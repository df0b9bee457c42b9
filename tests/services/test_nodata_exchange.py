"""Nodata (ADR 0029) in imports and exports: a picture whose nodata pixels are read as
NaN is still the same picture as itself, and an export writes the file's own values."""

from __future__ import annotations

import numpy as np
import tifffile
from PIL import Image

from annotator.core.nodata import GDAL_NODATA_TAG
from annotator.core.schema import LabelSchema
from annotator.core.status import ImageStatus
from annotator.services.exchange import ExportRequest, export_project, same_picture
from annotator.storage.images import read_image
from annotator.storage.project import Project


def _orthophoto(path, seed=0):
    """An 8-bit RGB GeoTIFF whose first 10 rows are nodata 0 (a reprojection's collar)."""
    a = np.random.default_rng(seed).integers(1, 256, (40, 50, 3)).astype(np.uint8)
    a[:10] = 0
    tags = [(GDAL_NODATA_TAG, "s", 0, "0", True)]
    tifffile.imwrite(path, a, photometric="rgb", extratags=tags)
    return a


def test_a_picture_with_nodata_is_the_same_picture_as_itself(tmp_path):
    _orthophoto(tmp_path / "o.tif")
    image = read_image(tmp_path / "o.tif")
    assert np.isnan(image[:10]).all()
    assert same_picture(image, read_image(tmp_path / "o.tif"))  # NaN made it "another"
    other = read_image(tmp_path / "o.tif").copy()
    other[10:] = other[10:][::-1]
    assert not same_picture(image, other)


def test_a_voc_export_writes_an_8bit_picture_with_nodata_as_jpeg_of_its_values(tmp_path):
    raw = _orthophoto(tmp_path / "o.tif")
    project = Project.create(tmp_path / "p", LabelSchema.from_names(["road", "field"]))
    try:
        project.add_images([tmp_path / "o.tif"])
        rec = project.images()[0]
        project.save_mask(rec.id, np.zeros((40, 50), np.uint8), status=ImageStatus.DONE)
        export_project(project, ExportRequest("voc", tmp_path / "voc", split=(1, 0, 0)))
    finally:
        project.close()
    jpegs = list((tmp_path / "voc").rglob("*.jpg"))
    assert len(jpegs) == 1  # not kept as a "32-bit float" picture
    with Image.open(jpegs[0]) as im:
        written = np.asarray(im)
    assert int(written[:6].max()) < 8 and (raw[:6] == 0).all()  # the collar black (JPEG)
