"""Limits every entrance shares: the image file types read, and the largest image
accepted (checked before allocating)."""

from __future__ import annotations

import os

#: Suffixes of the image files read (lower case); imports look for images by these too.
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp"})

#: Suffixes of pictures that are not read (camera raw, web, medical and microscope
#: formats): a folder add counts the files it leaves out for them, instead of passing
#: over them in silence as it does over notes and annotation files.
OTHER_PICTURE_SUFFIXES = frozenset(
    {
        ".webp", ".gif", ".heic", ".heif", ".avif", ".jp2", ".j2k", ".jxl", ".ppm", ".pgm",
        ".pbm", ".pnm", ".tga", ".ico", ".psd", ".xcf", ".exr", ".hdr", ".dng", ".cr2",
        ".nef", ".arw", ".raw", ".dcm", ".dicom", ".nii", ".mrc", ".czi", ".nd2", ".lif",
        ".lsm", ".oib", ".oif", ".ims", ".svs", ".ndpi", ".scn", ".vsi", ".zvi", ".mha",
    }
)  # fmt: skip

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
