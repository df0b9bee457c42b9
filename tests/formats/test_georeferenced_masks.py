"""The masks of a GeoTIFF picture keep its place on the ground: a world file beside the
PNG mask, or (``--geotiff``) a GeoTIFF mask carrying the picture's geo tags."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tifffile

from annotator.cli import main
from annotator.core.errors import AnnotatorError
from annotator.core.proposal import Proposal
from annotator.core.status import ImageStatus
from annotator.services import proposals
from annotator.services.projects import open_project
from annotator.storage.project import Project

RNG = np.random.default_rng(7)
H, W = 24, 32
GEO_CODES = (33550, 33922, 34264, 34735, 34736, 34737)


def _keys(raster_type: int) -> tuple[int, ...]:
    # GeoKeyDirectory: version header, then GTModelType, GTRasterType, ProjectedCRS (UTM 33N)
    return (1, 1, 0, 3, 1024, 0, 1, 1, 1025, 0, 1, raster_type, 3072, 0, 1, 32633)


def _tiepoint_tags(raster_type: int):
    return [
        (34735, "H", 16, _keys(raster_type), True),
        (33550, "d", 3, (10.0, 10.0, 0.0), True),
        # pixel (10, 20) is at (500100, 4999800): the grid's corner at (500000, 5000000)
        (33922, "d", 6, (10.0, 20.0, 0.0, 500100.0, 4999800.0, 0.0), True),
        (34736, "d", 2, (6378137.0, 298.257223563), True),
        (34737, "s", 0, "WGS 84 / UTM zone 33N|", True),
    ]


#: A rotated grid: x = 2 i + 0.5 j + 1000, y = 0.25 i - 2 j + 2000 (i, j of the corner)
MATRIX = (2.0, 0.5, 0.0, 1000.0, 0.25, -2.0, 0.0, 2000.0, 0, 0, 0, 0, 0, 0, 0, 1.0)

PICTURES = {
    # name: (extratags, the world file's six numbers: the centre of the top-left pixel)
    "area": (_tiepoint_tags(1), (10.0, 0.0, 0.0, -10.0, 500005.0, 4999995.0)),
    "point": (_tiepoint_tags(2), (10.0, 0.0, 0.0, -10.0, 500000.0, 5000000.0)),
    "rotated": (
        [(34735, "H", 16, _keys(1), True), (34264, "d", 16, MATRIX, True)],
        (2.0, 0.25, 0.5, -2.0, 1000.0 + 1.0 + 0.25, 2000.0 + 0.125 - 1.0),
    ),
}


def _nodata_tag(path):
    """The GDAL_NODATA tag of a TIFF as stored: its TIFF type and text (None: no tag)."""
    with tifffile.TiffFile(path) as tif:
        tag = tif.pages[0].tags.get(42113)
        return None if tag is None else (tag.dtype, tag.value)


def _source_tags(path):
    with tifffile.TiffFile(path) as tif:
        page = tif.pages[0]
        return {c: page.tags[c].value for c in GEO_CODES if c in page.tags}


@pytest.fixture
def project(tmp_path):
    """A project of three GeoTIFF pictures (one 4-band 16-bit) and a PNG, all labelled."""
    files = []
    for i, (name, (tags, _)) in enumerate(PICTURES.items()):
        shape = (H, W, 4) if i == 0 else (H, W)
        dtype = np.uint16 if i == 0 else np.uint8
        pixels = RNG.integers(0, 200, shape).astype(dtype)
        tifffile.imwrite(tmp_path / f"{name}.tif", pixels, photometric="minisblack", extratags=tags)
        files.append(str(tmp_path / f"{name}.tif"))
    import cv2

    cv2.imwrite(str(tmp_path / "plain.png"), RNG.integers(0, 255, (H, W), np.uint8))
    files.append(str(tmp_path / "plain.png"))
    root = tmp_path / "proj"
    assert main(["new", str(root), "--classes", "water,field,road"]) == 0
    assert main(["add", str(root), *files]) == 0
    labels = {}
    with Project.open(root) as p:
        for rec in p.images():
            mask = RNG.integers(0, 3, (H, W)).astype(np.uint8)
            mask[0, :5] = 255  # unlabelled
            mask[1, :3] = 254  # void
            p.save_mask(rec.id, mask, status=ImageStatus.DONE)
            labels[rec.name] = mask
    return root, labels


def _world(path):
    return tuple(float(line) for line in path.read_text().splitlines())


def test_a_masks_export_writes_a_world_file_beside_the_mask_of_a_geotiff(project, tmp_path, capsys):
    root, _ = project
    out = tmp_path / "out"
    assert main(["export", str(root), str(out), "--format", "masks", "--split", "1"]) == 0
    said = capsys.readouterr().out
    assert "3 mask(s) of GeoTIFF pictures have a world file (<stem>.pgw)" in said
    masks = out / "train" / "masks"
    for name, (_, want) in PICTURES.items():
        assert (masks / f"{name}.png").is_file()
        assert _world(masks / f"{name}.pgw") == pytest.approx(want, abs=1e-9), name
    assert not (masks / "plain.pgw").exists()  # a PNG picture is placed nowhere


def test_a_voc_export_writes_world_files_too(project, tmp_path):
    root, _ = project
    out = tmp_path / "voc"
    assert main(["export", str(root), str(out), "--format", "voc", "--split", "1"]) == 0
    for name, (_, want) in PICTURES.items():
        assert _world(out / "SegmentationClass" / f"{name}.pgw") == pytest.approx(want)


def test_geotiff_masks_carry_the_pictures_tags_and_import_back_exactly(project, tmp_path, capsys):
    root, labels = project
    out = tmp_path / "out"
    args = ["export", str(root), str(out), "--format", "masks", "--split", "1", "--geotiff"]
    assert main(args) == 0
    assert "3 mask(s) of GeoTIFF pictures written as GeoTIFF" in capsys.readouterr().out
    masks = out / "train" / "masks"
    for name in PICTURES:
        mask_file = masks / f"{name}.tif"
        assert not (masks / f"{name}.png").exists() and not (masks / f"{name}.pgw").exists()
        assert _source_tags(mask_file) == _source_tags(tmp_path / f"{name}.tif"), name
        written = tifffile.imread(mask_file)
        assert written.dtype == np.uint8 and np.array_equal(written, labels[f"{name}.tif"])
        # unlabelled (255) is the mask's nodata, as GDAL writes it (ASCII): QGIS shows
        # those pixels see-through; void (254) is a value the user painted, shown
        assert _nodata_tag(mask_file) == (2, "255"), name
    assert (masks / "plain.png").is_file()  # no GeoTIFF to copy tags from
    # our own reader takes the masks beside their pictures for masks, nodata or not
    added = tmp_path / "added"
    assert main(["new", str(added), "--classes", "water,field,road"]) == 0
    assert main(["add", str(added), str(out / "train")]) == 0
    with Project.open(added) as p:
        assert sorted(r.name for r in p.images()) == sorted(f"images/{n}" for n in labels)
    # into a fresh project of the same pictures, the masks give the labels back exactly
    again = tmp_path / "again"
    assert main(["new", str(again), "--classes", "water,field,road"]) == 0
    pictures = [str(tmp_path / f"{n}.tif") for n in PICTURES] + [str(tmp_path / "plain.png")]
    assert main(["add", str(again), *pictures]) == 0
    assert main(["import", str(again), "--format", "masks", str(out)]) == 0
    with Project.open(again) as p:
        for rec in p.images():
            assert np.array_equal(p.load_mask(rec), labels[rec.name]), rec.name


def test_geotiff_masks_are_for_the_masks_format(project, tmp_path, capsys):
    root, _ = project
    args = ["export", str(root), str(tmp_path / "o"), "--format", "voc", "--geotiff"]
    assert main(args) != 0
    assert "GeoTIFF masks are written by the masks format, not voc" in capsys.readouterr().err


class _Predictor:
    def predict(self, image, cancel=None, keep_probabilities=True, progress=None):
        h, w = image.shape[:2]
        mask = (np.arange(h * w).reshape(h, w) % 3).astype(np.uint8)
        return Proposal(None, mask, np.zeros((h, w), np.float32), 0.5, 1)


@pytest.mark.parametrize("geotiff", [False, True])
def test_predict_out_places_the_masks_of_geotiffs(project, tmp_path, geotiff):
    root, _ = project
    out = tmp_path / "pred"
    notes: list[str] = []
    with open_project(root) as p:
        proposals.predict_images(
            p, out_dir=out, predictor=_Predictor(), geotiff=geotiff, geo_notes=notes
        )
    want_mask = (np.arange(H * W).reshape(H, W) % 3).astype(np.uint8)
    for name, (_, world) in PICTURES.items():
        if geotiff:
            assert _source_tags(out / f"{name}.tif") == _source_tags(tmp_path / f"{name}.tif")
            assert np.array_equal(tifffile.imread(out / f"{name}.tif"), want_mask)
            assert _nodata_tag(out / f"{name}.tif") == (2, "255")  # NO_CLASS, see-through
            assert not (out / f"{name}.png").exists()
        else:
            assert _world(out / f"{name}.pgw") == pytest.approx(world)
    assert (out / "plain.png").is_file() and not (out / "plain.pgw").exists()
    assert notes and ("GeoTIFF" in notes[0])
    # the masks predict --out wrote import back onto their images
    assert main(["import", str(root), "--format", "masks", str(out)]) == 0
    with Project.open(root) as p:
        for rec in p.images():
            assert np.array_equal(p.load_mask(rec), want_mask), rec.name


def test_predict_out_again_with_geotiff_replaces_the_png_masks_of_before(project, tmp_path, capsys):
    """A run with --geotiff into the folder of a run without: the images' masks become
    STEM.tif; their earlier STEM.png and world files go (with --overwrite, as every mask
    replaced), so an import of the folder finds one mask per image."""
    root, _ = project
    out = tmp_path / "pred"
    with open_project(root) as p:
        proposals.predict_images(p, out_dir=out, predictor=_Predictor())
        assert all((out / f"{name}.png").is_file() for name in PICTURES)
        with pytest.raises(AnnotatorError, match="--overwrite"):
            proposals.predict_images(p, out_dir=out, predictor=_Predictor(), geotiff=True)
        proposals.predict_images(
            p, out_dir=out, predictor=_Predictor(), geotiff=True, overwrite=True
        )
    for name in PICTURES:
        assert (out / f"{name}.tif").is_file()
        assert not (out / f"{name}.png").exists() and not (out / f"{name}.pgw").exists()
    assert (out / "plain.png").is_file()  # no GeoTIFF: its mask is the same file as before
    index = json.loads((out / "images.json").read_text())["masks"]
    assert sorted(index) == sorted([*(f"{n}.tif" for n in PICTURES), "plain.png"])
    assert main(["import", str(root), "--format", "masks", str(out)]) == 0
    assert "skipped" not in capsys.readouterr().err
