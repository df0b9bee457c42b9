"""A split stack as one volume again: its slice files, and where its voxels lie.

A stack added to a project is split into slice files (``storage/stacks.py``, ADR 0022);
the ``source.json`` of its folder lists them in order and names the stack file. An
export that writes volumes (nnU-Net's 3-D cases) reads every slice back, and the voxel
size from the stack file, when it is still where it was split from (same size): ImageJ's
calibration (the X/Y resolution tags and the ``spacing`` of its metadata, in its
``unit``) or an OME-TIFF's ``PhysicalSize``; otherwise voxels of 1 x 1 x 1, and the
geometry's ``source`` says which. A stack split from a NIfTI scan has the scan's own
space, always (its affine, voxel order and unit, "unknown" read as mm).

:func:`stack_geometry` is the one place a stack's geometry is chosen (docs/adr/0035).
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Any

from annotator.core.volume_geometry import VolumeGeometry
from annotator.core.volumes import NIFTI, picture_geometry
from annotator.storage.stacks import split_record

#: The unit names a stack may record -> NIfTI's (``core.volume_geometry.NIFTI_UNITS``).
_UNITS = {
    "micron": "micron",
    "microns": "micron",
    "um": "micron",
    "\u00b5m": "micron",  # micro sign
    "\u03bcm": "micron",  # Greek mu
    "\\u00b5m": "micron",  # (ImageJ writes the escape itself)
    "mm": "mm",
    "millimeter": "mm",
    "millimetre": "mm",
    "m": "meter",
    "meter": "meter",
    "metre": "meter",
}
_NO_UNIT = ("", "pixel", "pixels")


def slice_files(folder: Path) -> list[Path] | None:
    """The slice files of the split in ``folder``, in slice order (whether or not each
    is still there); None when its ``source.json`` lists none."""
    names = split_record(folder).get("files")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        return None
    return [folder / n for n in names]


def stack_geometry(folder: Path) -> VolumeGeometry:
    """Where the voxels of the stack split into ``folder`` lie (the module's docstring).
    Never fails: a stack file gone, changed or unreadable gives voxels of 1."""
    record = split_record(folder)
    where = record.get("stack")
    volume = record.get("volume")
    if isinstance(volume, dict) and volume.get("format") == NIFTI:  # (ADR 0034)
        return _scan_geometry(volume, where, folder)
    if not isinstance(where, str):
        return VolumeGeometry.unmeasured("the split names no stack file")
    stack = Path(where)
    try:
        same = stack.stat().st_size == record.get("size")
    except OSError:
        same = False
    if not same:
        return VolumeGeometry.unmeasured(f"{stack.name} is no longer at {stack.parent}: none read")
    return tiff_geometry(stack) or VolumeGeometry.unmeasured(f"{stack.name} records none")


#: What the summary adds to a NIfTI scan whose header records no unit (read as mm).
UNKNOWN_UNIT_AS_MM = "no unit recorded: mm, as ITK and nnU-Net read it"


def _scan_geometry(volume: dict[str, Any], where: Any, folder: Path) -> VolumeGeometry:
    """The space of a NIfTI scan split into ``folder``: its own affine and voxel order
    (``core.volumes.picture_geometry``), always its own, never a guess. A header whose
    unit is "unknown" (nibabel's default when writing) is in mm: ITK, and so SimpleITK and
    nnU-Net, read it so. Named by its folder and file (``imagesTs/liver_0000.nii.gz``):
    scans of one name in two folders are told apart."""
    if isinstance(where, str):
        path = Path(where)
        name = f"{path.parent.name}/{path.name}" if path.parent.name else path.name
    else:
        name = folder.name
    try:
        geometry = picture_geometry(volume, name)
    except (KeyError, TypeError, ValueError):
        return VolumeGeometry.unmeasured(f"the record of {name}'s split is damaged")
    if geometry.unit:
        return replace(geometry, scan=True)
    return replace(
        geometry, unit="mm", source=f"{geometry.source}; {UNKNOWN_UNIT_AS_MM}", scan=True
    )


def tiff_geometry(path: Path) -> VolumeGeometry | None:
    """The voxel size a TIFF stack records (ImageJ's calibration, OME's PhysicalSize),
    or None when it records none or cannot be read."""
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            if tif.is_ome and tif.ome_metadata:
                found = _ome(tif.ome_metadata)
                how = "OME metadata"
            elif tif.is_imagej:
                found = _imagej(tif)
                how = "ImageJ calibration"
            else:
                return None
    except (OSError, ValueError, KeyError, IndexError, tifffile.TiffFileError):
        return None
    if found is None:
        return None
    size, unit = found
    known = _UNITS.get(unit.strip().lower(), "")
    shown = "" if known or unit in _NO_UNIT else f", in {unit}"
    try:
        return VolumeGeometry.of_voxel_size(size, known, f"{how} of {path.name}{shown}")
    except ValueError:  # zero, negative or not finite
        return None


def _positive(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number > 0 else None


def _imagej(tif: Any) -> tuple[tuple[float, float, float], str] | None:
    meta = tif.imagej_metadata or {}
    unit = str(meta.get("unit", "")).strip()
    z = _positive(meta.get("spacing"))
    if z is None and unit.lower() in _NO_UNIT:
        return None  # not calibrated (tifffile writes resolution 1 to every file)
    tags = tif.pages.first.tags

    def step(tag: str) -> float:
        value = tags.get(tag)
        try:
            numerator, denominator = value.value
        except (AttributeError, TypeError, ValueError):
            return 1.0
        return _positive(denominator / numerator if numerator else None) or 1.0

    return (step("XResolution"), step("YResolution"), z or 1.0), unit


def _ome(xml: str) -> tuple[tuple[float, float, float], str] | None:
    import xml.etree.ElementTree as ET

    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        return None
    pixels = next((e for e in root.iter() if e.tag.rsplit("}", 1)[-1] == "Pixels"), None)
    if pixels is None:
        return None
    sizes = [_positive(pixels.get(f"PhysicalSize{a}")) for a in "XYZ"]
    if all(s is None for s in sizes):
        return None
    units = {pixels.get(f"PhysicalSize{a}Unit", "\u00b5m") for a in "XYZ"}
    if len(units) > 1:
        return None  # axes in different units: nothing to trust without converting
    x, y, z = (s or 1.0 for s in sizes)
    return (x, y, z), units.pop()
