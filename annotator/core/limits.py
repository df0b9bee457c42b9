"""Limits every entrance shares: the image file types read, and the largest image
accepted (checked before allocating)."""

from __future__ import annotations

import os

#: Suffixes of the image files read (lower case); imports look for images by these too.
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp"})

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
