"""The EXIF orientation of a picture, read without decoding its pixels.

Every entrance that reads pictures needs it (the project's reader, and imports that only
need a picture's size), and for PNG files Pillow's own ``getexif()`` decodes the whole
picture first: PNG allows the ``eXIf`` chunk after the pixel data, so Pillow loads the
pixels to be sure it has seen every chunk. On an 8000 x 6000 picture that load cost as
much as the decode that follows (0.7-1.0 s). Here the PNG's chunk list is walked
instead (a seek per chunk, a few milliseconds), and the one tag needed is read from the
``eXIf`` chunk's TIFF-structured payload. A PNG that keeps its orientation in a text
chunk instead (ImageMagick's raw EXIF profile, or XMP) is left to Pillow, which reads
those too: rare files, read exactly as before.
"""

from __future__ import annotations

import contextlib
import struct
import warnings
from collections.abc import Iterator
from typing import Any, BinaryIO

import numpy as np

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ORIENTATION_TAG = 0x0112
#: Text chunks Pillow takes an orientation from (``Image.getexif``).
_PILLOW_TEXT_KEYWORDS = (b"Raw profile type exif", b"XML:com.adobe.xmp")
_TEXT_CHUNKS = (b"tEXt", b"zTXt", b"iTXt")
_INTEGER_TYPES = {3: "H", 4: "I", 8: "h", 9: "i"}  # SHORT, LONG, SSHORT, SLONG


def exif_orientation(im: Any) -> int:
    """The EXIF orientation (1-8; 1 when absent or unreadable) of an open Pillow image.

    A PNG's chunks are read from its file (the image's position in it is kept); other
    formats, and PNGs that keep the orientation in a text chunk, ask Pillow."""
    if im.format == "PNG":
        name = getattr(im, "filename", "")
        if name:  # unbuffered: a buffered reader would read every chunk to skip it
            with open(name, "rb", buffering=0) as raw:
                found = png_orientation(raw)
        else:  # an image in memory (embedded in an imported file)
            fp = im.fp
            at = fp.tell()
            try:
                fp.seek(0)
                found = png_orientation(fp)
            finally:
                fp.seek(at)
        if found is not None:
            return found
    with quiet_exif():
        return int(im.getexif().get(ORIENTATION_TAG, 1) or 1)


@contextlib.contextmanager
def quiet_exif() -> Iterator[None]:
    """Pillow's warning on a damaged EXIF block left unsaid (printed raw on the
    terminal, once a file): it reads what it can, and the picture is whole."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Corrupt EXIF data", UserWarning)
        yield


def png_orientation(fh: BinaryIO) -> int | None:
    """The orientation in a PNG file's ``eXIf`` chunk, before or after the pixel data;
    None when a text chunk may hold it instead (then Pillow must be asked).

    Of several ``eXIf`` chunks the one Pillow uses counts: the last before the pixels,
    else the last after them."""
    if fh.read(8) != PNG_SIGNATURE:
        return 1
    before, after, pixels_seen = None, None, False
    while True:
        head = fh.read(8)
        if len(head) < 8:
            break
        length, kind = struct.unpack(">I4s", head)
        if kind == b"IEND":
            break
        if kind == b"eXIf":
            if pixels_seen:
                after = fh.read(length)
            else:
                before = fh.read(length)
            fh.seek(4, 1)  # its CRC
        elif kind in _TEXT_CHUNKS:
            start = fh.read(min(length, 80))
            if start.split(b"\0", 1)[0] in _PILLOW_TEXT_KEYWORDS:
                return None
            fh.seek(length - len(start) + 4, 1)
        else:
            pixels_seen = pixels_seen or kind == b"IDAT"
            fh.seek(length + 4, 1)  # the chunk's data and its CRC
    exif = before if before is not None else after
    return 1 if exif is None else tiff_orientation(exif)


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
        code = _INTEGER_TYPES.get(kind)
        if code is None:
            return 1
        (value,) = struct.unpack_from(order + code, data, entry + 8)
        return int(value) if 1 <= value <= 8 else 1
    return 1


def apply_exif_orientation(array: np.ndarray, orientation: int) -> np.ndarray:
    """Turn ``array`` upright according to an EXIF orientation tag (1-8)."""
    if orientation == 2:
        out = array[:, ::-1]
    elif orientation == 3:
        out = array[::-1, ::-1]
    elif orientation == 4:
        out = array[::-1]
    elif orientation == 5:
        out = array.swapaxes(0, 1)
    elif orientation == 6:
        out = np.rot90(array, k=-1)
    elif orientation == 7:
        out = array.swapaxes(0, 1)[::-1, ::-1]
    elif orientation == 8:
        out = np.rot90(array, k=1)
    else:
        return array
    return np.ascontiguousarray(out)


#: EXIF orientations that show a picture turned by 90 degrees (its height its width).
TURNING = (5, 6, 7, 8)


def turned_size_hint(
    mask_hw: tuple[int, int], picture_hw: tuple[int, int], orientation: int
) -> str:
    """What a mask of its picture's size turned by 90 degrees most likely means (heights
    and widths), said after a size mismatch; "" for any other mismatch. ``orientation``:
    the picture's EXIF orientation, blamed only when it turns the picture (5-8)."""
    if tuple(mask_hw) != tuple(picture_hw)[::-1] or mask_hw[0] == mask_hw[1]:
        return ""
    if orientation not in TURNING:
        return (
            " (the sizes swapped, and the picture has no EXIF orientation that turns it: "
            "the labels give its width as the height and its height as the width, or were "
            "drawn on the picture turned)"
        )
    return (
        " (the sizes swapped: the picture has an EXIF orientation, which the project "
        "applies, as cameras and viewers do, and the tool that drew these labels did not)"
    )
