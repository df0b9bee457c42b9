"""Limits every entrance shares: the image file types read, the largest image accepted
(checked before allocating), and how many skipped files a summary names."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

#: Suffixes of the image files read (lower case); imports look for images by these too.
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp"})

#: Suffixes of pictures that are not read (camera raw, web, medical and microscope
#: formats): a folder add counts the files it leaves out for them, instead of passing
#: over them in silence as it does over notes and annotation files.
OTHER_PICTURE_SUFFIXES = frozenset(
    {
        ".webp", ".gif", ".heic", ".heif", ".avif", ".jp2", ".j2k", ".jxl", ".ppm", ".pgm",
        ".pbm", ".pnm", ".tga", ".ico", ".psd", ".xcf", ".exr", ".hdr", ".dng", ".cr2",
        ".nef", ".arw", ".raw", ".dcm", ".dicom", ".mrc", ".czi", ".nd2", ".lif",
        ".lsm", ".oib", ".oif", ".ims", ".svs", ".ndpi", ".scn", ".vsi", ".zvi", ".mha",
        ".jfif", ".jpe",
    }
)  # fmt: skip

#: Other names of JPEG files (browsers save ``.jfif``): renamed ``.jpg``, they are read
#: (and every tool an export feeds knows them by that name).
JPEG_ALIASES = frozenset({".jfif", ".jpe"})

#: Suffixes of medical volumes (DICOM, MetaImage) whose values and geometry a PNG or
#: TIFF would lose: they are converted to NIfTI, which Annotator reads.
MEDICAL_SUFFIXES = frozenset({".dcm", ".dicom", ".mha"})


def convert_advice(suffixes: Iterable[str]) -> str:
    """What to do with pictures of types not read (``suffixes``, lower case with the dot):
    convert them to PNG or TIFF, and medical volumes to NIfTI (Hounsfield units are
    negative: a PNG would lose them)."""
    found = set(suffixes)
    if not found & (JPEG_ALIASES | MEDICAL_SUFFIXES):
        return "convert them to PNG or TIFF to add them"
    parts = []
    if found & JPEG_ALIASES:
        parts.append("rename .jfif and .jpe files to .jpg (they are JPEG files)")
    if found & MEDICAL_SUFFIXES:
        parts.append(
            "convert DICOM and MetaImage files to NIfTI (dcm2niix, or SimpleITK: it keeps "
            "their values and geometry)"
        )
    if found - JPEG_ALIASES - MEDICAL_SUFFIXES:
        parts.append("convert the others to PNG or TIFF")
    return "to add them, " + "; ".join(parts)


#: Names of the volume files read (lower case; ``.nii.gz`` is two suffixes): NIfTI, split
#: into slices as a TIFF stack is (``core.volumes``, ADR 0034).
VOLUME_SUFFIXES = (".nii.gz", ".nii")

#: A stack is split into its slices only when all its pixels fit in this many bytes
#: (it is read whole); a larger one is refused in words.
MAX_STACK_BYTES = 4 << 30

DEFAULT_MAX_PIXELS = 1 << 30  # one gigapixel; override with ANNOTATOR_MAX_PIXELS


def max_pixels() -> int:
    """The largest pixel count accepted (``ANNOTATOR_MAX_PIXELS`` overrides the default)."""
    env = os.environ.get("ANNOTATOR_MAX_PIXELS")
    if env:
        try:
            return int(env)
        except ValueError:
            pass
    return DEFAULT_MAX_PIXELS


#: A summary (``add``'s, ``import``'s) names this many files skipped or unreadable for a
#: reason that needs the user's look, one line each; a line counts the rest.
NAMED_SKIPS = 20


def named_first(lines: Sequence[str], how: str, limit: int = NAMED_SKIPS) -> list[str]:
    """``lines`` (one a file that needs the user's look) capped for a summary: the first
    ``limit``, then one line counting the rest, which ``how`` (a command) lists."""
    if len(lines) <= limit:
        return list(lines)
    return [*lines[:limit], f"... and {len(lines) - limit} more ({how} lists them)"]
