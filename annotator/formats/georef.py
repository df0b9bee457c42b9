"""The georeferencing of a GeoTIFF picture, carried over to its masks.

A remote-sensing picture is a GeoTIFF: its tags place each pixel on the ground. A mask
written as a plain PNG has none of that, so QGIS draws it at the origin. For a picture
that is a GeoTIFF the masks export and ``predict --out`` therefore write, beside the PNG
mask, a world file (``<stem>.pgw``: six numbers, no coordinate reference system), or,
asked (``--geotiff``), the mask itself as a GeoTIFF carrying the picture's six geo tags
as they are (the CRS included), and a ``GDAL_NODATA`` tag naming the mask's value of
pixels with no label (the masks export's unlabelled value, 255 or 65535; ``predict``'s
``NO_CLASS``, 255), so QGIS and GDAL show them see-through. Our own import reads the
mask's values as they are (``formats.masks``), never that tag.

World files give the centre of the top-left pixel; a GeoTIFF's tie point gives the
corner of the pixel grid (``RasterPixelIsArea``, the usual case), or a pixel's centre
(``RasterPixelIsPoint``): :func:`world_file` converts.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from annotator.core.nodata import GDAL_NODATA_TAG

#: The GeoTIFF tags, by code: ModelPixelScale, ModelTiepoint, ModelTransformation,
#: GeoKeyDirectory, GeoDoubleParams, GeoAsciiParams.
PIXEL_SCALE, TIEPOINT, TRANSFORMATION = 33550, 33922, 34264
GEO_KEYS, GEO_DOUBLES, GEO_ASCII = 34735, 34736, 34737
GEO_TAGS = (PIXEL_SCALE, TIEPOINT, TRANSFORMATION, GEO_KEYS, GEO_DOUBLES, GEO_ASCII)

#: GTRasterTypeGeoKey and its value for "the tie point is a pixel's centre".
RASTER_TYPE_KEY, PIXEL_IS_POINT = 1025, 2

WORLD_FILE_SUFFIX = ".pgw"  # beside a PNG mask


@dataclass(frozen=True)
class GeoTags:
    """A GeoTIFF's geo tags as stored: code -> (TIFF data type, count, value)."""

    tags: dict[int, tuple[int, int, Any]]

    def values(self, code: int) -> tuple[float, ...]:
        entry = self.tags.get(code)
        if entry is None or isinstance(entry[2], (str, bytes)):
            return ()
        value = entry[2]
        return tuple(float(v) for v in (value if isinstance(value, (tuple, list)) else [value]))

    @property
    def pixel_is_point(self) -> bool:
        """Whether the GeoKeyDirectory says the raster's points are pixel centres."""
        keys = [int(v) for v in self.values(GEO_KEYS)]
        for i in range(4, len(keys) - 3, 4):
            key, location, _count, value = keys[i : i + 4]
            if key == RASTER_TYPE_KEY and location == 0:
                return value == PIXEL_IS_POINT
        return False

    def extratags(self) -> list[tuple[int, int | str, int, Any, bool]]:
        """The tags as tifffile's ``extratags`` write them back verbatim."""
        return [
            (code, dtype, count, value, True) for code, (dtype, count, value) in self.tags.items()
        ]


def read_geotags(path: Path) -> GeoTags | None:
    """The geo tags of the first page of the TIFF at ``path``, or ``None`` for a picture
    that is no GeoTIFF (no pixel scale with tie point, nor transformation), another
    file type, or a file tifffile cannot read (its picture was read before: a header
    tifffile does not know gives no georeferencing, never an error)."""
    if path.suffix.lower() not in (".tif", ".tiff"):
        return None
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            page = tif.pages[0]
            found = {}
            for code in GEO_TAGS:
                tag = page.tags.get(code)  # type: ignore[union-attr]
                if tag is not None:
                    found[code] = (int(tag.dtype), int(tag.count), tag.value)
    except Exception:  # tifffile raises many kinds on a file it cannot read
        return None
    placed = TRANSFORMATION in found or (PIXEL_SCALE in found and TIEPOINT in found)
    return GeoTags(found) if placed else None


def world_file(tags: GeoTags) -> str | None:
    """The six lines of a world file (x size, y rotation, x rotation, y size, x and y of
    the centre of the top-left pixel) of a picture with ``tags``; ``None`` when the
    tags place the picture by several tie points (ground control points), which no
    affine world file holds."""
    point = tags.pixel_is_point
    matrix = tags.values(TRANSFORMATION)
    if len(matrix) == 16:
        a, b, _, d, e, f, _, h = matrix[:8]
    else:
        scale, tie = tags.values(PIXEL_SCALE), tags.values(TIEPOINT)
        if len(scale) < 2 or len(tie) != 6:
            return None
        # raster (i, j) -> (x0 + (i - I) * sx, y0 - (j - J) * sy)
        a, b, e, f = scale[0], 0.0, 0.0, -scale[1]
        d = tie[3] - tie[0] * scale[0]
        h = tie[4] + tie[1] * scale[1]
    # Raster (0, 0) is the corner of the top-left pixel (area) or its centre (point).
    centre = 0.0 if point else 0.5
    x = a * centre + b * centre + d
    y = e * centre + f * centre + h
    return "".join(f"{v!r}\n" for v in (a, e, b, f, x, y))


def geotiff_mask(mask: np.ndarray, tags: GeoTags, nodata: int | None = None) -> bytes:
    """``mask`` (8 or 16 bit) as a lossless (deflate) GeoTIFF with ``tags`` copied and,
    given ``nodata`` (the value of pixels with no label), a ``GDAL_NODATA`` tag naming it
    as GDAL writes it (ASCII text, "255")."""
    import tifffile

    extratags = tags.extratags()
    if nodata is not None:
        extratags.append((GDAL_NODATA_TAG, "s", 0, str(int(nodata)), True))
    buffer = io.BytesIO()
    tifffile.imwrite(
        buffer,
        mask,
        photometric="minisblack",
        compression="zlib",
        extratags=extratags,
        metadata=None,
    )
    return buffer.getvalue()


@dataclass
class GeoMasks:
    """Writes masks, each with its picture's georeferencing, and counts them for the
    summary: a PNG (and a world file beside it when the picture is a GeoTIFF), or with
    ``geotiff`` a GeoTIFF for a GeoTIFF picture, its ``GDAL_NODATA`` tag naming
    ``nodata`` (the masks' value of pixels with no label; None: no tag)."""

    nodata: int | None = None
    world_files: int = 0
    geotiffs: int = 0
    unplaced: list[str] = field(default_factory=list)  # GeoTIFFs of ground control points

    def write(
        self,
        put: Callable[[str, bytes], object],
        base: str,
        mask: np.ndarray,
        picture: Path,
        geotiff: bool,
    ) -> str:
        """Write the mask of ``picture`` as ``base`` + ``.png`` or ``.tif`` through
        ``put(name, bytes)``; the mask file's name."""
        from annotator.formats.base import encode_png

        tags = read_geotags(picture)
        if tags is not None and geotiff:
            put(base + ".tif", geotiff_mask(mask, tags, self.nodata))
            self.geotiffs += 1
            return base + ".tif"
        put(base + ".png", encode_png(mask))
        self.world_file(put, base, picture, tags)
        return base + ".png"

    def world_file(
        self,
        put: Callable[[str, bytes], object],
        base: str,
        picture: Path,
        tags: GeoTags | None = None,
    ) -> None:
        """The world file ``base`` + ``.pgw`` of the PNG mask of ``picture``, when it is
        a GeoTIFF (``tags``: its tags, read already)."""
        tags = tags or read_geotags(picture)
        if tags is None:
            return
        text = world_file(tags)
        if text is None:
            self.unplaced.append(picture.name)
        else:
            put(base + WORLD_FILE_SUFFIX, text.encode("ascii"))
            self.world_files += 1

    def notes(self, option: str | None) -> list[str]:
        """The summary's lines; ``option``: how to ask for GeoTIFF masks, if any (a
        flag is given, ``--geotiff``; other words, the GUI's, are said as they are)."""
        if option and option.startswith("--"):
            option = f"give {option}"
        lines = []
        if self.world_files:
            line = (
                f"{self.world_files} mask(s) of GeoTIFF pictures have a world file "
                f"(<stem>{WORLD_FILE_SUFFIX}) beside them, which places them in QGIS but "
                "has no coordinate reference system (set the layer's CRS to the picture's)"
            )
            if option:
                line += f", or {option} for GeoTIFF masks that carry it"
            lines.append(line)
        if self.geotiffs:
            lines.append(
                f"{self.geotiffs} mask(s) of GeoTIFF pictures written as GeoTIFF "
                "(<stem>.tif, lossless) with their picture's geo tags"
            )
        if self.unplaced:
            lines.append(
                f"{len(self.unplaced)} GeoTIFF picture(s) placed by ground control points "
                f"(first: {self.unplaced[0]}) have no world file: no six numbers hold "
                "such a placement" + (f"; {option} to keep their tags" if option else "")
            )
        return lines
