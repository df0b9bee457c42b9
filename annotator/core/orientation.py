"""The EXIF orientation of a picture, read without decoding its pixels.

Every entrance that reads pictures needs it (the project's reader, and imports that only
need a picture's size), and for PNG files Pillow's own ``getexif()`` decodes the whole
picture first: PNG allows the ``eXIf`` chunk after the pixel data, so Pillow loads the
pixels to be sure it has seen every chunk. On an 8000 x 6000 picture that load cost as
much as the decode that follows (0.7-1.0 s). Here the PNG's chunk list is walked
instead (a seek per chunk, a few milliseconds), and the one tag needed is read from the
chunk's TIFF-structured payload.
"""

from __future__ import annotations

import struct
from typing import Any, BinaryIO

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ORIENTATION_TAG = 0x0112
_SHORT, _LONG = 3, 4


def exif_orientation(im: Any) -> int:
    """The EXIF orientation (1-8; 1 when absent or unreadable) of an open Pillow image.

    A PNG's chunks are read from its file (the image's position in it is kept); other
    formats ask Pillow, whose readers find EXIF in the file's header."""
    if im.format == "PNG":
        fp = im.fp
        at = fp.tell()
        try:
            fp.seek(0)
            return png_orientation(fp)
        finally:
            fp.seek(at)
    return int(im.getexif().get(ORIENTATION_TAG, 1) or 1)


def png_orientation(fh: BinaryIO) -> int:
    """The orientation in a PNG file's ``eXIf`` chunk, before or after the pixel data."""
    if fh.read(8) != PNG_SIGNATURE:
        return 1
    while True:
        head = fh.read(8)
        if len(head) < 8:
            return 1
        length, kind = struct.unpack(">I4s", head)
        if kind == b"eXIf":
            return tiff_orientation(fh.read(length))
        if kind == b"IEND":
            return 1
        fh.seek(length + 4, 1)  # the chunk's data and its CRC


def tiff_orientation(data: bytes) -> int:
    """The orientation tag of a TIFF-structured EXIF block (optionally ``Exif\\0\\0``-led)."""
    if data.startswith(b"Exif\x00\x00"):
        data = data[6:]
    order = {b"II": "<", b"MM": ">"}.get(data[:2])
    if order is None or len(data) < 8:
        return 1
    magic, ifd = struct.unpack(order + "HI", data[2:8])
    if magic != 42 or ifd + 2 > len(data):
        return 1
    (count,) = struct.unpack(order + "H", data[ifd : ifd + 2])
    for i in range(count):
        entry = ifd + 2 + 12 * i
        if entry + 12 > len(data):
            break
        tag, kind = struct.unpack(order + "HH", data[entry : entry + 4])
        if tag != ORIENTATION_TAG:
            continue
        if kind == _SHORT:
            (value,) = struct.unpack(order + "H", data[entry + 8 : entry + 10])
        elif kind == _LONG:
            (value,) = struct.unpack(order + "I", data[entry + 8 : entry + 12])
        else:
            return 1
        return int(value) if 1 <= value <= 8 else 1
    return 1
