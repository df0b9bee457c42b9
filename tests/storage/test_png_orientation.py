"""A PNG's EXIF orientation, found without decoding the picture (Pillow's ``getexif``
decodes a whole PNG to look for an ``eXIf`` chunk after the pixels)."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, ImageOps, PngImagePlugin

from annotator.core.orientation import png_orientation, tiff_orientation
from annotator.storage.images import read_image


def _picture() -> np.ndarray:
    arr = np.zeros((16, 24, 3), np.uint8)
    arr[:4, :8] = 255  # a marker in the top-left corner
    arr[:, :, 1] = np.arange(24, dtype=np.uint8)[None, :] * 10
    return arr


def _png_with_exif(orientation: int) -> bytes:
    im = Image.fromarray(_picture())
    exif = im.getexif()
    exif[0x0112] = orientation
    out = io.BytesIO()
    im.save(out, format="PNG", exif=exif)
    return out.getvalue()


def _chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    pos, out = 8, []
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        out.append((kind, data[pos + 8 : pos + 8 + length]))
        pos += 12 + length
    return out


def _join(chunks: list[tuple[bytes, bytes]]) -> bytes:
    parts = [b"\x89PNG\r\n\x1a\n"]
    for kind, body in chunks:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        parts.append(struct.pack(">I4s", len(body), kind) + body + struct.pack(">I", crc))
    return b"".join(parts)


def _exif_after_pixels(data: bytes) -> bytes:
    """The same PNG with its eXIf chunk moved after the pixel data (allowed by PNG 1.5)."""
    chunks = _chunks(data)
    exif = [c for c in chunks if c[0] == b"eXIf"]
    rest = [c for c in chunks if c[0] != b"eXIf"]
    assert len(exif) == 1
    return _join(rest[:-1] + exif + rest[-1:])  # just before IEND


@pytest.mark.parametrize("after_pixels", [False, True])
@pytest.mark.parametrize("orientation", range(1, 9))
def test_png_orientation_matches_pillow(tmp_path, orientation, after_pixels):
    data = _png_with_exif(orientation)
    if after_pixels:
        data = _exif_after_pixels(data)
    path = tmp_path / "o.png"
    path.write_bytes(data)
    with Image.open(path) as im:
        assert im.getexif().get(0x0112) == orientation  # what the file says, per Pillow
        expected = np.asarray(ImageOps.exif_transpose(im))
    assert png_orientation(io.BytesIO(data)) == orientation
    out = read_image(path)
    np.testing.assert_array_equal(out, expected)


def test_png_is_decoded_once(tmp_path, monkeypatch):
    """The pixels come from libpng alone: Pillow never loads them to find the EXIF."""
    path = tmp_path / "a.png"
    path.write_bytes(_exif_after_pixels(_png_with_exif(6)))

    def refuse(self):
        raise AssertionError("Pillow decoded the PNG")

    monkeypatch.setattr(PngImagePlugin.PngImageFile, "load", refuse)
    assert read_image(path).shape == (24, 16, 3)  # turned by 90 degrees


def test_orientation_of_big_endian_and_damaged_blocks():
    def block(order: str, kind: int, value: int) -> bytes:
        head = (b"MM" if order == ">" else b"II") + struct.pack(order + "HI", 42, 8)
        entry = struct.pack(order + "HHI", 0x0112, kind, 1)
        entry += (
            struct.pack(order + "H", value) + b"\0\0"
            if kind == 3
            else struct.pack(order + "I", value)
        )
        return head + struct.pack(order + "H", 1) + entry + b"\0\0\0\0"

    assert tiff_orientation(block(">", 3, 6)) == 6
    assert tiff_orientation(b"Exif\0\0" + block("<", 3, 8)) == 8
    assert tiff_orientation(block("<", 4, 3)) == 3
    assert tiff_orientation(block("<", 3, 9)) == 1  # out of range
    assert tiff_orientation(block("<", 2, 6)) == 1  # not a number type
    assert tiff_orientation(block(">", 3, 6)[:20]) == 1  # cut short
    assert tiff_orientation(b"XX*\0\0\0\0\x08") == 1
    assert tiff_orientation(b"") == 1
    assert png_orientation(io.BytesIO(b"not a png")) == 1
    truncated = _png_with_exif(6)
    cut = truncated[: truncated.index(b"eXIf") - 4]  # ends before the chunk
    assert png_orientation(io.BytesIO(cut)) == 1


@pytest.mark.parametrize("damage", ["cut", "flipped"])
def test_a_damaged_png_is_one_line_and_libpng_prints_nothing(tmp_path, capfd, damage):
    from annotator.core.errors import ImageReadError

    data = bytearray(_png_with_exif(1))
    if damage == "cut":
        data = data[: len(data) - 30]
    else:
        idat = data.index(b"IDAT")
        data[idat + 10] ^= 0xFF
    path = tmp_path / "bad.png"
    path.write_bytes(bytes(data))
    with pytest.raises(ImageReadError, match="corrupt or truncated PNG data"):
        read_image(path)
    assert capfd.readouterr().err == ""  # nothing but our one line reaches the user


def _png_with_text(key: str, text: str, itxt: bool = False) -> bytes:
    info = PngImagePlugin.PngInfo()
    if itxt:
        info.add_itxt(key, text)
    else:
        info.add_text(key, text)
    out = io.BytesIO()
    Image.fromarray(_picture()).save(out, format="PNG", pnginfo=info)
    return out.getvalue()


def _raw_exif_profile(orientation: int) -> str:
    """ImageMagick's way: the EXIF block as hex in a "Raw profile type exif" text chunk."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    blob = b"Exif\x00\x00" + exif.tobytes()
    return f"\nexif\n{len(blob):8d}\n{blob.hex()}\n"


@pytest.mark.parametrize(
    "data",
    [
        _png_with_text("Raw profile type exif", _raw_exif_profile(6)),
        _png_with_text(
            "XML:com.adobe.xmp",
            '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><rdf:Description '
            'tiff:Orientation="8"/></rdf:RDF></x:xmpmeta>',
            itxt=True,
        ),
    ],
    ids=["imagemagick-raw-profile", "xmp"],
)
def test_orientation_kept_in_a_text_chunk_is_read_as_pillow_reads_it(tmp_path, data):
    path = tmp_path / "t.png"
    path.write_bytes(data)
    assert png_orientation(io.BytesIO(data)) is None  # Pillow is asked for these
    with Image.open(path) as im:
        assert im.getexif().get(0x0112) in (6, 8)
        expected = np.asarray(ImageOps.exif_transpose(im))
    np.testing.assert_array_equal(read_image(path), expected)


def test_of_several_exif_chunks_the_one_pillow_uses_counts(tmp_path):
    three = [c for c in _chunks(_png_with_exif(3)) if c[0] == b"eXIf"]
    chunks = _chunks(_png_with_exif(6))
    before_and_after = _join(chunks[:-1] + three + chunks[-1:])  # 6 before, 3 after
    bare = [c for c in chunks if c[0] != b"eXIf"]
    six = [c for c in chunks if c[0] == b"eXIf"]
    both_after = _join(bare[:-1] + six + three + bare[-1:])  # 6 then 3, after the pixels
    for data in (before_and_after, both_after):
        with Image.open(io.BytesIO(data)) as im:
            pillow = im.getexif().get(0x0112)
        assert png_orientation(io.BytesIO(data)) == pillow
    assert png_orientation(io.BytesIO(before_and_after)) == 6
    assert png_orientation(io.BytesIO(both_after)) == 3


def test_signed_integer_orientations_are_numbers_too():
    entry = struct.pack("<HHI", 0x0112, 8, 1) + struct.pack("<h", 5) + b"\0\0"
    block = b"II" + struct.pack("<HI", 42, 8) + struct.pack("<H", 1) + entry + b"\0" * 4
    assert tiff_orientation(block) == 5


def test_a_bad_checksum_on_an_ancillary_chunk_is_no_reason_to_refuse(tmp_path):
    chunks = _chunks(_png_with_exif(6))
    png = bytearray(_exif_after_pixels(_join(chunks)))
    exif = png.index(b"eXIf")
    png[exif + 8] ^= 0x01  # inside the payload's header: the checksum no longer matches
    path = tmp_path / "x.png"
    path.write_bytes(bytes(png))
    assert read_image(path).ndim == 3  # as libpng and Pillow: opened


def test_a_bad_checksum_on_the_end_chunk_is_only_a_warning_as_in_libpng(tmp_path):
    png = bytearray(_png_with_exif(1))
    png[-1] ^= 0xFF  # IEND's CRC
    path = tmp_path / "end.png"
    path.write_bytes(bytes(png))
    assert read_image(path).shape == (16, 24, 3)


def test_a_bad_chunk_before_the_pixels_is_said_as_damage_not_as_not_an_image(tmp_path):
    from annotator.core.errors import ImageReadError

    chunks = _chunks(_png_with_exif(1))
    png = bytearray(_join(chunks[:1] + [(b"tEXt", b"Comment\x00hello")] + chunks[1:]))
    png[png.index(b"tEXt") + 8] ^= 0x01  # Pillow refuses the file at open
    path = tmp_path / "text.png"
    path.write_bytes(bytes(png))
    with pytest.raises(ImageReadError, match="tEXt chunk is damaged"):
        read_image(path)
