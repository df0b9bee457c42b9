"""Reading images: PNG, JPEG, TIFF, BMP; grey, RGB, RGBA; 8 and 16 bit; EXIF orientation.

Every failure becomes an :class:`ImageReadError` naming the file and the problem in one
line. The pixel count is checked from the header *before* anything is decoded, so a
decompression bomb costs nothing.

Arrays come back as ``(H, W)`` for single-channel images and ``(H, W, C)`` otherwise,
channels in RGB(A) order, in the file's own dtype (``uint8``, ``uint16``, ``float32``...),
except a TIFF that names a nodata value (GDAL_NODATA) some pixels hold: float with NaN
at those (``core.nodata``, ADR 0029); the file itself is never changed.
Transparency is only what a file records as such (a PNG's alpha, a TIFF's ExtraSamples
alpha; a grey picture's is dropped); two channels of any other kind (a TIFF's C or S
axis, two bare pages: DAPI + GFP) are both kept, ``(H, W, 2)``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import warnings
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from annotator.core.contrast import (
    HIGH_PERCENTILE,
    LOW_PERCENTILE,
    Window,
    channel_count,
    even_sample,
    finite_values,
    shown_channels,
    stretch,
)
from annotator.core.errors import ImageReadError, ProjectError
from annotator.core.limits import IMAGE_SUFFIXES as IMAGE_SUFFIXES
from annotator.core.limits import (
    JPEG_ALIASES,
    MEDICAL_SUFFIXES,
    VOLUME_SUFFIXES,
    convert_advice,
    max_pixels,
)
from annotator.core.limits import MAX_STACK_BYTES as MAX_STACK_BYTES
from annotator.core.nodata import (
    GDAL_NODATA_TAG,
    eight_bit,
    keep_source,
    parse_nodata,
    source_dtype,
    with_nodata,
)
from annotator.core.orientation import apply_exif_orientation, exif_orientation, quiet_exif
from annotator.core.tiff_layout import (
    layout,
    pictures_of,
    stack_plan,
    stack_problem,
    unnamed_channels,
)


@dataclass(frozen=True)
class ImageInfo:
    """What the project records about an image file."""

    width: int
    height: int
    channels: int
    bit_depth: int
    dtype: str

    @classmethod
    def of(cls, array: np.ndarray) -> ImageInfo:
        """The info of a picture as read; its bit depth and type are its file's (an
        8-bit picture with nodata pixels, read as float, is 8-bit)."""
        h, w = array.shape[:2]
        channels = 1 if array.ndim == 2 else int(array.shape[2])
        stored = source_dtype(array)
        return cls(int(w), int(h), channels, stored.itemsize * 8, str(stored))


def is_image_path(path: Path) -> bool:
    """True when the file name has a supported image suffix."""
    return path.suffix.lower() in IMAGE_SUFFIXES


def _check_size(path: Path, width: int, height: int) -> None:
    if width <= 0 or height <= 0:
        raise ImageReadError(path, f"invalid image size {width}x{height}")
    limit = max_pixels()
    if width * height > limit:
        raise ImageReadError(
            path,
            f"image is {width}x{height} = {width * height:,} pixels, more than the limit of "
            f"{limit:,} (a decompression bomb?); set ANNOTATOR_MAX_PIXELS to allow it",
        )


def _normalise_channels(path: Path, array: np.ndarray) -> np.ndarray:
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3):
        raise ImageReadError(path, f"unsupported array shape {array.shape}: expected a 2-D image")
    if array.dtype == np.bool_:
        array = array.astype(np.uint8) * 255
    if array.dtype.kind not in "uif":
        raise ImageReadError(path, f"unsupported pixel type {array.dtype}")
    if array.size == 0:
        raise ImageReadError(path, "image has no pixels")
    # A picture is writeable like any array the app makes: Pillow's (JPEG, BMP) are
    # read-only views, which OpenCV refuses as an argument
    # it may write to (the fill's floodFill), and code that edits a copy in place would
    # fail on them only for some formats.
    out = np.ascontiguousarray(array)
    if not out.flags.writeable:
        out = out.copy()
    return keep_source(array, out)  # (nodata: the file's type kept)


class _TiffDamage(logging.Handler):
    """tifffile's errors about the file being read, per thread: tifffile logs damage
    (a page chain cut short, ImageJ metadata naming pages that are not there) and goes
    on with what it could read, which must not pass as the whole file."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self._seen = threading.local()

    def emit(self, record: logging.LogRecord) -> None:
        found = getattr(self._seen, "messages", None)
        if found is not None:
            found.append(record.getMessage())

    @contextlib.contextmanager
    def watching(self, path: Path) -> Iterator[None]:
        """Raise ImageReadError naming the first damage tifffile logs meanwhile."""
        found: list[str] = []
        self._seen.messages = found
        try:
            yield
        finally:
            self._seen.messages = None
        if found:
            why = found[0].split("> ", 1)[-1]  # without tifffile's <object @offset>
            raise ImageReadError(path, f"corrupt or truncated TIFF ({why})")


def _tiff_damage() -> _TiffDamage:
    """The one handler on tifffile's logger (which prints nothing of its own)."""
    log = logging.getLogger("tifffile")
    for handler in log.handlers:
        if isinstance(handler, _TiffDamage):
            return handler
    handler = _TiffDamage()
    log.setLevel(logging.ERROR)
    log.propagate = False  # ours is the one-line error
    log.addHandler(handler)
    return handler


def _tiff_problem(exc: Exception) -> str:
    """What stops a TIFF being read, from tifffile's error: a codec tifffile takes from
    the imagecodecs package (LZW, zstd, JPEG...) that this install lacks, or damage."""
    if isinstance(exc, ImportError) or "imagecodecs" in str(exc):
        return (
            f"its compression needs the imagecodecs package, which this install of "
            f"Annotator lacks ({exc}): pip install imagecodecs"
        )
    return f"corrupt or unsupported TIFF ({exc})"


def main_series(tif: Any) -> Any:
    """The series of an open ``tifffile.TiffFile`` that is its picture: the first one
    not flagged a reduced-resolution copy or a mask (:func:`~annotator.core.tiff_layout.
    is_picture`: a thumbnail some cameras and slide scanners write before the image,
    GDAL's internal nodata mask), else the first one."""
    return pictures_of(tif.series)[0]


def _read_tiff(path: Path, header_only: bool = False) -> np.ndarray:
    """A TIFF's picture as ``(H, W[, C])`` (:func:`~annotator.core.tiff_layout.layout`),
    as viewers show it (:func:`_as_seen`); ``header_only``: an array of that shape that
    reads nothing (for :func:`image_size`)."""
    stored, looks = _read_tiff_stored(path, header_only)
    return stored if header_only else _as_seen(stored, *looks)


def _read_tiff_stored(
    path: Path, header_only: bool = False
) -> tuple[np.ndarray, tuple[int, Any, int]]:
    """A TIFF's picture series (:func:`main_series`) as ``(H, W[, C])``, the values it
    stores, and what :func:`_as_seen` needs to show them."""
    import tifffile

    try:
        with _tiff_damage().watching(path), tifffile.TiffFile(path) as tif:
            if not tif.series:
                raise ImageReadError(path, "corrupt or unsupported TIFF (no image in it)")
            series = main_series(tif)
            shape = tuple(int(s) for s in series.shape)
            axes = series.axes
            shape_order = layout(path, shape, axes)
            height, width = (shape_order[0][i] for i in shape_order[1][:2])
            _check_size(path, width, height)
            # Pages written one by one are series of their own: more of the first's size
            # are slices of a stack (a thumbnail or a reduced copy has another size).
            plan = stack_plan(path, tif.series)
            if plan is not None:
                raise ImageReadError(
                    path, stack_problem(plan.planes, (height, width), "one per page")
                )
            key = series.keyframe
            looks = (int(key.photometric), key.colormap, int(key.bitspersample))
            if header_only:
                return np.broadcast_to(np.zeros((), series.dtype), (height, width)), looks
            array = series.asarray()
            # Grey and the alpha the file records (ExtraSamples): the grey alone, as a
            # PNG's. Two samples or channels of any other kind are two channels, and a
            # fourth sample stays a channel even when marked alpha: tifffile marks the
            # fourth of any (H, W, 4) array so, and a band of data must not go.
            grey_alpha = "S" in axes and tuple(series.keyframe.extrasamples) in ((1,), (2,))
    except ImageReadError:
        raise
    except Exception as exc:  # tifffile raises many kinds for broken files
        raise ImageReadError(path, _tiff_problem(exc)) from None
    array = np.transpose(array.reshape(shape_order[0]), shape_order[1])
    array = array[..., 0] if grey_alpha and array.ndim == 3 and array.shape[2] == 2 else array
    return array, looks


#: TIFF's PhotometricInterpretation values that change what the stored values mean.
_MINISWHITE, _PALETTE, _SEPARATED = 0, 3, 5


def _as_seen(array: np.ndarray, photometric: int, colormap: Any, bits: int) -> np.ndarray:
    """A grey TIFF's values as every viewer shows them: a palette's indices in its
    colours (RGB; 8-bit when the 16-bit table holds 8-bit colours, as Pillow and GDAL
    write it), and a ``MINISWHITE`` picture (0 is white: scans, some X-ray detectors)
    turned to 0 is black, as Pillow and Fiji show it; a CMYK one (``SEPARATED``, four
    inks) in RGB, as Pillow shows it (``255 - min(255, ink + black)``)."""
    if photometric == _SEPARATED and array.ndim == 3 and array.shape[2] == 4:
        if array.dtype.kind != "u":
            return array
        top = np.iinfo(array.dtype).max
        inks = array[..., :3].astype(np.int64) + array[..., 3:].astype(np.int64)
        return (top - np.minimum(inks, top)).astype(array.dtype)
    if array.ndim != 2 or array.dtype.kind not in "ub":
        return array
    if photometric == _PALETTE and colormap is not None:
        table = np.asarray(colormap, dtype=np.uint16).T  # (entries, 3)
        if np.all(table % 257 == 0) or np.all(table % 256 == 0):
            table = (table >> 8).astype(np.uint8)
        index = np.minimum(array.astype(np.intp), len(table) - 1)
        return table[index]
    if photometric == _MINISWHITE:
        if array.dtype == np.bool_:
            return ~array
        top = array.dtype.type((1 << min(bits, array.dtype.itemsize * 8)) - 1)
        return top - array
    return array


#: Channels a picture may have that are shown and trained on (``ml.data.to_channels``)
#: when the project makes no channel choice (``core.channels``, ADR 0030).
CHANNELS_USED = 3


def unused_channels(path: Path, array: np.ndarray) -> int:
    """How many channels of ``path``'s picture ``array`` are neither shown nor trained on:
    those past the third, less a TIFF's recorded alpha (its ExtraSamples say so: a
    fourth channel of a C axis is a channel; a PNG's alpha is not read at all)."""
    if array.ndim != 3 or array.shape[2] <= CHANNELS_USED:
        return 0
    extra = array.shape[2] - CHANNELS_USED
    if Path(path).suffix.lower() not in (".tif", ".tiff"):
        return extra  # (a PNG's or BMP's alpha is left out when it is read)
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            alpha = any(s in (1, 2) for s in main_series(tif).keyframe.extrasamples)
    except Exception:  # read once already: only the alpha question is left open
        alpha = False
    return extra - 1 if alpha else extra


def tiff_planes(path: str | os.PathLike[str]) -> tuple[int, int]:
    """One read of a TIFF's header: how many 2-D images it holds as a stack (Z or T
    planes, unnamed planes beyond what :func:`read_image` takes for channels, or pages of
    one size written one by one; 0 when it is one image, or unreadable: :func:`read_image`
    then says what it is), and how many planes nobody named it holds that are read as
    the channels of one picture (2 to 8 bare pages;
    :func:`~annotator.core.tiff_layout.unnamed_channels`). A stack that cannot be split
    is refused in words (:class:`ImageReadError`)."""
    import tifffile

    p = Path(path)
    try:
        with _tiff_damage().watching(p), tifffile.TiffFile(p) as tif:
            plan = stack_plan(p, tif.series)
            first = main_series(tif) if tif.series else None
            shape = () if first is None else tuple(int(n) for n in first.shape)
            channels = 0 if first is None else unnamed_channels(shape, str(first.axes))
    except ImageReadError:
        raise
    except Exception:  # not a TIFF, or damaged: read_image says so
        return 0, 0
    if plan is None:
        return 0, channels
    _check_size(p, plan.width, plan.height)
    return plan.planes, channels


def tiff_stack(path: str | os.PathLike[str], unnamed_slices: bool = False) -> int:
    """How many 2-D images the TIFF at ``path`` holds as a stack (:func:`tiff_planes`);
    ``unnamed_slices``: the planes read as channels for want of a name are slices."""
    planes, channels = tiff_planes(path)
    return channels if unnamed_slices and channels else planes


def tiff_unnamed_channels(path: str | os.PathLike[str]) -> int:
    """How many planes nobody named the TIFF at ``path`` holds that :func:`read_image`
    reads as the channels of one picture (:func:`tiff_planes`); 0 for any other file."""
    if Path(path).suffix.lower() not in (".tif", ".tiff"):
        return 0
    try:
        return tiff_planes(path)[1]
    except ImageReadError:
        return 0


def read_tiff_stack(path: str | os.PathLike[str], unnamed_slices: bool = False) -> list[np.ndarray]:
    """The slices of the TIFF stack at ``path`` (see :func:`tiff_stack`) as stored:
    ``(H, W)`` or ``(H, W, C)`` in the file's dtype, every channel kept (a slice file
    written from one is then read as :func:`read_image` reads any picture).
    :class:`ImageReadError` when it is not a stack, is damaged, or is larger than
    :data:`MAX_STACK_BYTES`."""
    import tifffile

    p = Path(path)
    try:
        with _tiff_damage().watching(p), tifffile.TiffFile(p) as tif:
            plan = stack_plan(p, tif.series, unnamed_slices)
            if plan is None:
                raise ImageReadError(p, "not a stack of images")
            _check_size(p, plan.width, plan.height)
            itemsize = np.dtype(plan.series[0].dtype).itemsize
            size = int(np.prod(plan.series[0].shape)) * itemsize * len(plan.series)
            if size > MAX_STACK_BYTES:
                raise ImageReadError(
                    p,
                    f"the stack of {plan.planes} images is {size / 2**30:.1f} GiB, more than "
                    f"the {MAX_STACK_BYTES / 2**30:.0f} GiB split here at once; save each "
                    "slice as a file of its own (Fiji: Image > Stacks > Stack to Images) and "
                    "add those",
                )
            slices = plan.slices([s.asarray() for s in plan.series])
    except ImageReadError:
        raise
    except Exception as exc:  # tifffile raises many kinds for broken files
        raise ImageReadError(p, _tiff_problem(exc)) from None
    if len(slices) != plan.planes:  # a plan this code made wrong, not the user's file
        raise ImageReadError(p, f"read {len(slices)} slices where {plan.planes} were expected")
    for s in slices:
        if s.dtype.kind not in "uifb":
            raise ImageReadError(p, f"unsupported pixel type {s.dtype}")
    return slices


def _read_pillow(path: Path) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    Image.MAX_IMAGE_PIXELS = None  # we check the size ourselves, with a clearer message
    try:
        with quiet_exif(), Image.open(path) as im:
            fmt = im.format or "?"
            if fmt not in {"PNG", "JPEG", "MPO", "BMP", "DIB", "TIFF"}:
                raise ImageReadError(path, f"unsupported image format {fmt}")
            _check_size(path, im.width, im.height)
            if fmt == "TIFF" and getattr(im, "n_frames", 1) > 1:
                _refuse_pillow_stack(path, im)
            orientation = exif_orientation(im)  # a PNG's without decoding it twice
            if fmt == "PNG":
                frames = getattr(im, "n_frames", 1)
                if frames > 1:  # (APNG: OpenCV and Pillow would read the first alone)
                    raise ImageReadError(
                        path,
                        f"an animated PNG of {frames} frames, not one picture; save each "
                        "frame as a file of its own and add those",
                    )
                array = _decode_png(path)
            else:
                with warnings.catch_warnings():
                    warnings.simplefilter("error")  # a truncated file must not pass silently
                    im.load()
                array = _pillow_to_array(path, im)
    except ImageReadError:
        raise
    except UnidentifiedImageError:
        damage = _png_file_damage(path)  # Pillow refuses a PNG with a bad chunk as "not one"
        if damage:
            raise ImageReadError(path, f"corrupt or truncated PNG data ({damage})") from None
        raise ImageReadError(path, "not an image file, or an unsupported format") from None
    except (OSError, SyntaxError, ValueError, Warning) as exc:
        raise ImageReadError(path, f"corrupt or truncated image ({exc})") from None
    return apply_exif_orientation(array, orientation)


def _refuse_pillow_stack(path: Path, im) -> None:  # type: ignore[no-untyped-def]
    """As :func:`_read_tiff`: frames of the first one's size are slices of a stack."""
    first = im.size
    same = 0
    for frame in range(1, im.n_frames):
        im.seek(frame)
        same += im.size == first
    im.seek(0)
    if same:
        raise ImageReadError(path, stack_problem(same + 1, (first[1], first[0]), "one per page"))


def _pillow_to_array(path: Path, im) -> np.ndarray:  # type: ignore[no-untyped-def]
    mode = im.mode
    if mode in ("P", "PA", "RGBA", "CMYK", "YCbCr"):  # (an alpha left out, as a PNG's)
        im = im.convert("RGB")
    elif mode in ("LA", "1"):
        im = im.convert("L")
    elif mode in ("I;16", "I;16B", "I;16L"):
        return np.asarray(im, dtype=np.uint16)
    return np.asarray(im)


def _decode_png(path: Path) -> np.ndarray:
    """PNG through libpng (cv2): keeps 16-bit colour, which Pillow would reduce to 8 bits."""
    import cv2

    data = np.fromfile(path, dtype=np.uint8)
    damage = png_damage(data.data)  # a view of the bytes read, not a copy
    if damage:  # said here, in our words: libpng would print its own line on stderr
        raise ImageReadError(path, f"corrupt or truncated PNG data ({damage})")
    array = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if array is None:
        raise ImageReadError(path, "corrupt or truncated PNG data")
    if array.ndim == 3 and array.shape[2] == 3:
        array = cv2.cvtColor(array, cv2.COLOR_BGR2RGB)
    elif array.ndim == 3 and array.shape[2] == 4:
        # The alpha is left out (it is no channel: the Channel Choice counted it as a
        # fourth); libpng gives grey + alpha (or grey with a transparent value) as BGRA
        # of three equal channels: grey, as the file is.
        if data.size > _PNG_COLOUR_TYPE and data[_PNG_COLOUR_TYPE] in _PNG_GREY_TYPES:
            array = np.ascontiguousarray(array[..., 0])
        else:
            array = cv2.cvtColor(array, cv2.COLOR_BGRA2RGB)
    return array


#: The colour type's byte in a PNG (in IHDR, the first chunk), and its grey types.
_PNG_COLOUR_TYPE = 25
_PNG_GREY_TYPES = (0, 4)


def _png_file_damage(path: Path) -> str:
    """:func:`png_damage` of a file that starts as a PNG ("" for any other file)."""
    try:
        with open(path, "rb") as fh:
            if fh.read(8) != b"\x89PNG\r\n\x1a\n":
                return ""
        return png_damage(np.fromfile(path, np.uint8).data, every_chunk=True)
    except OSError:
        return ""


def png_damage(data: bytes | memoryview, *, every_chunk: bool = False) -> str:
    """What is wrong with a PNG's chunk structure ("" when nothing): a file cut short,
    a chunk running past the end, a critical chunk whose CRC does not match (a flipped
    bit; zlib's CRC runs at about 1 GB/s, a few percent of a decode). As libpng, an
    ancillary chunk (lower-case first letter) with a bad CRC is no reason to refuse."""
    if bytes(data[:8]) != b"\x89PNG\r\n\x1a\n":
        return "no PNG signature"
    at, end = 8, len(data)
    while at + 12 <= end:
        length = int.from_bytes(data[at : at + 4], "big")
        kind = bytes(data[at + 4 : at + 8])
        stop = at + 12 + length
        if stop > end:
            return f"the {kind.decode('latin-1')} chunk runs past the end of the file"
        # As libpng: a damaged ancillary chunk is skipped, a damaged end only warned of
        # (``every_chunk``: as Pillow, which refuses any damaged chunk it reads).
        critical = every_chunk or (not kind[0] & 0x20 and kind != b"IEND")
        body = data[at + 4 : at + 8 + length]
        if critical and zlib.crc32(body) != int.from_bytes(data[stop - 4 : stop], "big"):
            return f"the {kind.decode('latin-1')} chunk is damaged: its checksum does not match"
        if kind == b"IEND":
            return ""
        at = stop
    return "the file ends before its IEND chunk"


def _sniff_tiff(path: Path) -> bool:
    with open(path, "rb") as fh:
        head = fh.read(4)
    return head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")


def image_size(path: str | os.PathLike[str]) -> tuple[int, int]:
    """``(height, width)`` of the array :func:`read_image` would return, from the
    file's header (EXIF orientation applied); raises :class:`ImageReadError` as it."""
    from PIL import Image, UnidentifiedImageError

    p = _checked_path(Path(path))
    try:
        if _sniff_tiff(p):
            height, width = _read_tiff(p, header_only=True).shape[:2]
            return int(height), int(width)
        Image.MAX_IMAGE_PIXELS = None  # checked below, with our message
        with quiet_exif(), Image.open(p) as im:
            _check_size(p, im.width, im.height)
            width, height = im.size
            if exif_orientation(im) in (5, 6, 7, 8):  # shown turned by 90 degrees
                width, height = height, width
            return int(height), int(width)
    except PermissionError:
        raise ImageReadError(p, "permission denied") from None
    except UnidentifiedImageError:
        raise ImageReadError(p, "not an image file, or an unsupported format") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageReadError(p, f"corrupt or truncated image ({exc})") from None


def _checked_path(p: Path) -> Path:
    """``p`` when it names a non-empty file of a supported type, else the error."""
    if not p.exists():
        raise ImageReadError(p, "no such file")
    if p.is_dir():
        raise ImageReadError(p, "is a folder, not an image file")
    if p.stat().st_size == 0:
        raise ImageReadError(p, "empty file")
    if p.name.lower().endswith(VOLUME_SUFFIXES):  # a volume is its slices' pictures
        raise ImageReadError(
            p,
            "a NIfTI volume, not one picture: add it to a project (annotator add) to split "
            "it into one image per slice, and use those",
        )
    if p.suffix.lower() not in IMAGE_SUFFIXES:
        raise ImageReadError(
            p,
            f"unsupported file type {p.suffix or '(none)'!r}; supported: "
            + ", ".join([*sorted(IMAGE_SUFFIXES), *VOLUME_SUFFIXES[::-1]])  # (.nii, .nii.gz)
            + (
                f"; {convert_advice([p.suffix.lower()])}"
                if p.suffix.lower() in MEDICAL_SUFFIXES | JPEG_ALIASES
                else ""
            ),
        )
    return p


def read_image(
    path: str | os.PathLike[str], *, nodata: bool = True, stored: bool = False
) -> np.ndarray:
    """Decode an image file into an array; raise :class:`ImageReadError` on any problem.

    A TIFF's pixels that hold the nodata value its GDAL_NODATA tag names come back as
    NaN, the picture as float (:func:`~annotator.core.nodata.with_nodata`): every reader
    (add, display, training, proposals) leaves them out the same way. ``nodata=False``:
    the values the file holds (an export writes the picture as it is). A TIFF is read as
    viewers show it (a palette's colours, ``MINISWHITE`` turned, CMYK as RGB); ``stored``:
    the values it stores (a label file's class ids: its palette is only how they look)."""
    p = Path(path)
    try:
        _checked_path(p)
        tiff = _sniff_tiff(p)
        if tiff:  # (the nodata value is one of the stored values, not of the seen ones)
            stored_values, looks = _read_tiff_stored(p)
            array = stored_values if stored else _as_seen(stored_values, *looks)
            if nodata:
                array = with_nodata(stored_values, nodata_value(p), seen=array)
        else:
            array = _read_pillow(p)
    except PermissionError:
        raise ImageReadError(p, "permission denied") from None
    except MemoryError:
        raise ImageReadError(p, "not enough memory to decode this image") from None
    return _normalise_channels(p, array)


def nodata_value(path: str | os.PathLike[str]) -> float | None:
    """The nodata value the TIFF at ``path`` names in its GDAL_NODATA tag (42113) on
    its first page (NaN for "nan"); None when it names none, names no number, or the
    file is no TIFF tifffile reads."""
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            page = tif.pages[0]
            tag = page.tags.get(GDAL_NODATA_TAG) if isinstance(page, tifffile.TiffPage) else None
            return None if tag is None else parse_nodata(tag.value)
    except Exception:  # read (or refused) in full by the reader already
        return None


def to_display_uint8(
    image: np.ndarray, low: float | None = None, high: float | None = None
) -> np.ndarray:
    """Map any image to ``uint8`` for display with a contrast window ``[low, high]``.

    Without a window, 8-bit images are returned as they are (window 0..255 for one with
    nodata pixels, read as float: ``core.nodata.eight_bit``) and others use the 0.5 and
    99.5 percentiles (robust to a few hot pixels).
    """
    if image.dtype == np.uint8 and low is None and high is None:
        return image
    if low is None or high is None:
        lo, hi = (0.0, 255.0) if eight_bit(image) else auto_window(image)
        low = lo if low is None else low
        high = hi if high is None else high
    return stretch(image, low, high)  # (NaN, a pixel with no value, black)


def auto_window(image: np.ndarray) -> tuple[float, float]:
    """A robust contrast window (0.5 / 99.5 percentiles, on a subsample for speed) over
    every value of ``image``, NaN and infinities left out."""
    flat = image.reshape(-1) if image.ndim == 2 else image.reshape(-1, image.shape[2])
    step = max(1, flat.shape[0] // 1_000_000)
    return _window_of(finite_values(flat[::step]))


def auto_windows(image: np.ndarray) -> tuple[Window, ...]:
    """The automatic contrast window of each channel shown (``core.contrast``): the one
    :func:`auto_window` of a grey picture; one per channel of the first three of a picture
    of several, each of its own values (as Fiji's auto contrast). An 8-bit picture
    (nodata pixels or not: ``core.nodata.eight_bit``) is shown as it is: 0..255 each."""
    if eight_bit(image):
        return ((0.0, 255.0),) * shown_channels(image)
    if channel_count(image) == 1:
        return (auto_window(image),)
    sample = even_sample(image, 1_000_000)
    return tuple(_window_of(finite_values(sample[..., c])) for c in range(shown_channels(image)))


def _window_of(values: np.ndarray) -> tuple[float, float]:
    """The percentile window of finite ``values``; their extremes when it is empty (a
    flat picture: one above its value), ``(0, 1)`` when there are none."""
    if values.size == 0:
        return 0.0, 1.0
    lo, hi = np.percentile(values, [LOW_PERCENTILE, HIGH_PERCENTILE])
    if hi <= lo:
        lo, hi = float(values.min()), float(values.max())
        if hi <= lo:
            hi = lo + 1
    return float(lo), float(hi)


def value_range(image: np.ndarray) -> tuple[float, float]:
    """The lowest and highest value of an image, NaN and infinities left out
    (``(0, 0)`` when no value is finite)."""
    if image.dtype.kind != "f":
        return float(image.min()), float(image.max())
    finite = image[np.isfinite(image)]
    return (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)


def channel_ranges(image: np.ndarray) -> tuple[tuple[float, float], ...]:
    """:func:`value_range` of each channel shown (one for a grey picture)."""
    if channel_count(image) == 1:
        return (value_range(image),)
    return tuple(value_range(image[..., c]) for c in range(shown_channels(image)))


def encode_png(array: np.ndarray) -> bytes:
    """Lossless PNG bytes of a 2-D (or 3-channel) uint8/uint16 array (fast compression)."""
    import cv2

    ok, buf = cv2.imencode(".png", array, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise ProjectError(f"cannot encode a {array.dtype} array of shape {array.shape} as PNG")
    return bytes(buf.tobytes())


def write_png(path: str | os.PathLike[str], array: np.ndarray) -> Path:
    """Write ``array`` as a PNG file atomically (e.g. class-id masks exported elsewhere)."""
    from annotator.storage.atomic import atomic_write_bytes

    atomic_write_bytes(path, encode_png(array))
    return Path(path)
