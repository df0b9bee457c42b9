"""Plain class-id PNG masks next to the images.

Layout written::

    OUT/class_names.txt            one name per line, line i = class id i
    OUT/dataset.json               {"format": "annotator-masks", "void": 254, "unlabelled": 255}
    OUT/<split>/images/<stem>.<ext>
    OUT/<split>/masks/<stem>.png   single channel, pixel = class id (16 bit past 254 classes)
    OUT/<split>/masks/<stem>.pgw   the world file of a GeoTIFF picture's mask; or, with
                                   ``--geotiff``, the mask as ``<stem>.tif`` carrying the
                                   picture's geo tags and GDAL_NODATA naming the
                                   unlabelled value (``formats.georef``)
    OUT/<split>/stacks/<stack>.tif with ``--stacks``: one label stack per TIFF stack the
                                   images were split from (page i = slice i's labels)
    OUT/<split>/stacks/<stack>.nii.gz  and one label volume per NIfTI volume, in its
                                   voxel order, with its affine (``core.volumes``)

Read: every ``*.png`` directly in SRC, or else in any ``masks/`` folder below SRC (else
in a mask folder beside a picture folder: ISBI's ``labels/`` by ``images/``; else the
files below SRC named as masks; else, when SRC is itself a mask folder such as
``masks/``, every mask below it, outside picture folders),
matched to a project image by file stem, or by the picture found beside it as
``annotator add`` pairs them (:func:`_find_image`: ``images/x.jpg`` of ``labels/x.png``,
``x.jpg`` of ``x_mask.png``), which an import into a project without it adds. A label
stack (a TIFF of pages, or a NIfTI label volume: ``labelsTr/case.nii.gz`` of nnU-Net's ``imagesTr/case_0000.nii.gz``, the
Decathlon's ``labelsTr/liver_3.nii.gz`` of ``imagesTr/liver_3.nii.gz``, ``case_seg.nii.gz``
beside ``case.nii.gz``) is read slice by slice onto the slices of its picture stack,
whole or not at all (a page refused skips the stack, in one line: :func:`stack_refusal`).
Hidden files (``._x.nii.gz``) are never read. With a class table (``--labels FILE``, else
the first of :data:`~annotator.formats.colour_table.TABLE_FILES` in SRC's folder or the
one above it, or in the folders below holding the masks when all found there agree, else
the ``labels`` of nnU-Net's or the Decathlon's ``dataset.json`` there)
the ids are mapped by name, and colour-coded masks (RGB, or palette PNGs of
the table's colours) by colour; with ``dataset.json`` the reserved values are exact;
without them the pixel values are the project's class ids (the service applies the
0/255 binary rule). A folder of labels the project kept itself (Kept Labels, Rescued
Labels: ``storage/kept_labels.py``) names each mask's image in ``images.json``: the
SHA-1 of its picture and its status go with the item, so the service finds the image by
its picture and gives it back that status. The masks ``annotator predict --out`` wrote
name theirs there too (no status: those images become done, as usual).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from annotator.core.errors import FormatError, ImageReadError
from annotator.core.folders import hidden, hidden_below
from annotator.core.masks_layout import CLASS_NAMES, class_files
from annotator.core.naming import (
    MASK_FOLDERS,
    PICTURE_FOLDERS,
    SIDECAR_ENDINGS,
    file_stem,
    holds_pictures_of,
    mask_ending,
    pair_base,
    slice_stems,
    split_of_masks,
    stack_stem,
    without_mask_ending,
)
from annotator.core.status import (
    KEPT_IMAGES_FILE,
    KEPT_IMAGES_FORMAT,
    PREDICTED_IMAGES_FORMAT,
    ImageStatus,
)
from annotator.core.tiff_layout import StackPlan, stack_plan
from annotator.core.volumes import (
    grid_problem,
    is_nifti,
    label_volume_bytes,
    read_volume,
    volume_geometry,
    volume_header,
)
from annotator.formats.base import (
    DEFAULT_EXPORT,
    DEFAULT_IMPORT,
    SPLITS,
    UNLABELLED,
    VOID,
    ExportDataset,
    ExportOptions,
    ImagesBeside,
    ImportItem,
    ImportOptions,
    OutputFolder,
    Progress,
    ReadResult,
    WriteResult,
    check_pixels,
    load_json,
    open_pil,
)
from annotator.formats.colour_table import (
    ClassTable,
    Labelling,
    find_class_table,
    is_labels_json,
    other_tools_meta,
    own_class_list,
    read_class_table,
    readable_class_list,
    table_note,
)
from annotator.formats.detect import format_hint
from annotator.formats.georef import GeoMasks

if TYPE_CHECKING:
    from PIL.ImageFile import ImageFile

DESCRIPTION = (
    "class-id PNG masks (16-bit past 254 classes) next to the images; TIFF label stacks "
    "and NIfTI label volumes"
)


def write_masks(
    out: Path,
    dataset: ExportDataset,
    options: ExportOptions = DEFAULT_EXPORT,
    progress: Progress | None = None,
) -> WriteResult:
    folder = OutputFolder(out)
    for rel, data in class_files(dataset.names, dataset.void, dataset.unlabelled).items():
        if rel == CLASS_NAMES:  # (a list any reader reads back: `new --classes-file` too)
            data = readable_class_list(dataset.names).encode("utf-8")
        folder.write_bytes(rel, data)
    samples = dataset.samples()
    # (split, label stack) -> its pages so far; the export keeps a stack's slices in one
    # split, but each split's stack holds only its own pages, the others unlabelled.
    stacks: dict[tuple[str, str], tuple[int, dict[int, np.ndarray]]] = {}
    volumes: dict[str, Mapping[str, Any]] = {}  # NIfTI stacks' records (core.volumes)
    void_images = void_pixels = 0
    placed = GeoMasks(nodata=dataset.unlabelled)  # (GeoTIFF masks: unlabelled see-through)
    for i, (split, s) in enumerate(samples):
        if progress:
            progress(i, len(samples), s.stem)
        mask = s.load_mask()
        n_void = int(np.count_nonzero(mask == dataset.void))
        void_images += bool(n_void)
        void_pixels += n_void
        placed.write(
            folder.write_bytes, f"{split}/masks/{s.stem}", mask, s.image_path, options.geotiff
        )
        folder.place_image(f"{split}/images/{s.image_file_name}", s.image_path, options.image_mode)
        if options.stacks and s.stack is not None:
            key = (split, s.stack.stack)
            stacks.setdefault(key, (s.stack.planes, {}))[1][s.stack.index] = mask
            if s.stack.volume is not None:
                volumes[s.stack.stack] = s.stack.volume
    for (split, name), (planes, pages) in stacks.items():
        volume = label_pages(pages, planes, dataset.unlabelled)
        if name in volumes:  # a NIfTI volume's: in its own voxel order, with its affine
            folder.write_bytes(
                f"{split}/stacks/{name}.nii.gz", label_volume_bytes(volume, volumes[name])
            )
        else:
            folder.write_bytes(f"{split}/stacks/{name}.tif", _label_stack(volume))
    notes = [void_note(void_images, void_pixels, dataset.void, dataset.unlabelled)]
    return folder.result([*(notes if void_images else []), *placed.notes(options.geotiff_how)])


def void_note(images: int, pixels: int, void: int, unlabelled: int) -> str:
    """The summary's line on void pixels: written as their own value, which a loader
    that ignores one value (the unlabelled one) reads as a class."""
    text = (
        f"{images} image(s) have void pixels ({pixels:,} in all), written as {void} "
        f"(unlabelled as {unlabelled}; dataset.json records both): a loader that ignores "
        f"only {unlabelled} (mmsegmentation, CrossEntropyLoss(ignore_index={unlabelled})) "
        f"fails on {void} or trains it as a class; map {void} to {unlabelled} first"
    )
    if void == 254:
        text += ", or export as voc (255 for both)"
    return text


def label_pages(pages: dict[int, np.ndarray], planes: int, unlabelled: int) -> np.ndarray:
    """``(planes, height, width)`` labels: page i those of slice i, those not given all
    ``unlabelled``."""
    first = next(iter(pages.values()))
    volume = np.full((planes, *first.shape), unlabelled, first.dtype)
    for index, mask in pages.items():
        volume[index] = mask
    return volume


def _label_stack(volume: np.ndarray) -> bytes:
    """An ImageJ stack (Fiji opens it as one) of the pages of ``volume``."""
    import io

    import tifffile

    buffer = io.BytesIO()
    tifffile.imwrite(buffer, volume, imagej=True, metadata={"axes": "ZYX"})
    return buffer.getvalue()


#: How a colour table is given to the masks import (named where a colour-coded mask
#: is refused for want of one).
TABLE_OPTION = "--labels FILE"


def decode_mask_png(path: Path, table_option: str = TABLE_OPTION) -> np.ndarray:
    """A single-channel 8/16-bit PNG (grey or palette indices) as an array; an 8-bit RGB
    (or opaque RGBA) one whose three channels are equal everywhere is grey (a class-id
    mask saved as RGB), one whose channels differ is refused, naming ``table_option``
    (how the command is given a table of the colours)."""
    return _read_png(path, colours=False, table_option=table_option)[0]


def grey_of(colours: np.ndarray) -> np.ndarray | None:
    """The one channel of ``(h, w, 3)`` colours whose channels are equal everywhere (a
    class-id mask saved as RGB), else ``None`` (colour-coded)."""
    first = colours[..., 0]
    if np.array_equal(first, colours[..., 1]) and np.array_equal(first, colours[..., 2]):
        return np.ascontiguousarray(first)
    return None


def _read_png(
    path: Path, colours: bool, table_option: str = TABLE_OPTION
) -> tuple[np.ndarray, np.ndarray | None]:
    """A PNG mask's pixels from one opening of the file: what it holds (class ids, a
    palette or colours) is told by the image Pillow opened, and its pixels are read from
    that same image, not from the file opened a second time (which doubled the Pillow
    opens of an import of grey masks). A 16-bit mask is the exception: OpenCV decodes
    its pixels from the file's bytes, read again (Pillow's 16-bit modes vary with its
    version).
    ``colours``: a palette PNG comes with its palette, and an RGB(A) PNG is its colours
    (:func:`read_label_file`); else a palette PNG is its indices and an RGB(A) one is
    grey when its channels are equal, else refused naming ``table_option``
    (:func:`decode_mask_png`)."""
    from PIL import UnidentifiedImageError

    try:
        with open_pil(path, path) as im:
            if colours and im.format == "PNG" and im.mode in ("P", "RGB", "RGBA"):
                return _colour_pixels(im, path)
            if im.format != "PNG":
                raise FormatError(f"{path}: not a PNG file")
            if im.mode == "P":
                return np.asarray(im, dtype=np.uint8), None
            if im.mode in ("L", "1"):
                return np.asarray(im.convert("L"), dtype=np.uint8), None
            if im.mode.startswith("I"):
                import cv2

                arr = cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_UNCHANGED)
                if arr is None or arr.ndim != 2:
                    raise FormatError(f"{path}: cannot decode the 16-bit mask")
                return arr, None
            if im.mode in ("RGB", "RGBA"):
                pixels = _colour_pixels(im, path)[0]  # (16-bit, see-through: refused)
                grey = grey_of(pixels)
                if grey is None:
                    raise FormatError(
                        f"{path}: an {im.mode} mask whose channels differ is colour-coded, "
                        f"not class ids: give the table of its colours with {table_option} "
                        "(CVAT labelmap.txt, CamVid label_colors.txt or class_dict.csv), or "
                        "save the mask as a grey class-id PNG"
                    )
                return grey, None
            raise FormatError(
                f"{path}: a {im.mode} image is not a class-id mask; expected one channel "
                "(grey or palette) holding class ids"
            )
    except FormatError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise FormatError(f"{path}: corrupt or unreadable PNG ({exc})") from None


def _colour_pixels(im: ImageFile, path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """An open palette or RGB(A) PNG as :func:`read_label_file` gives it."""
    if any(str(t.args).endswith(";16B") for t in im.tile):
        raise FormatError(
            f"{path}: a 16-bit {im.mode} image is not a mask; save it with 8 "
            "bits a channel, or as a grey class-id PNG"
        )
    if im.mode == "P":
        palette = np.array(im.getpalette() or [], np.uint8).reshape(-1, 3)
        return np.asarray(im, dtype=np.uint8), palette
    pixels = np.asarray(im, dtype=np.uint8)
    if im.mode == "RGBA" and (pixels[..., 3] != 255).any():
        n = int((pixels[..., 3] != 255).sum())
        raise FormatError(
            f"{path}: {n} pixel(s) of this RGBA mask are see-through; a "
            "colour-coded mask needs every pixel opaque (save it as RGB)"
        )
    return np.ascontiguousarray(pixels[..., :3]), None


#: Lossless files a class-id mask comes in (microscopy labs keep theirs as TIFF).
MASK_SUFFIXES = (".png", ".tif", ".tiff")


def is_mask_file(path: Path) -> bool:
    """Whether the masks import reads a file of this name (:data:`MASK_SUFFIXES`, or a
    NIfTI label volume)."""
    return path.suffix.lower() in MASK_SUFFIXES or is_nifti(path)


def mask_stack_pages(path: Path) -> int:
    """How many masks a TIFF of masks holds as a stack (a label stack, as Fiji and ISBI
    write them), by the rules a picture stack is cut by
    (:func:`~annotator.core.tiff_layout.stack_plan`), so slice ``i`` of the labels is
    the mask of slice ``i`` of the pictures; 0 for one mask or another file. A NIfTI
    label volume holds its slices (``core.volumes``: one for a 2-D file)."""
    if is_nifti(path):
        try:
            return volume_header(path).planes
        except ImageReadError:  # unreadable: decoding it says so
            return 0
    if path.suffix.lower() not in (".tif", ".tiff"):
        return 0
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            plan = _label_plan(path, tif)
    except Exception:  # unreadable: decoding it says so
        return 0
    return 0 if plan is None else plan.planes


def _label_plan(path: Path, tif: Any) -> StackPlan | None:
    """The stack plan of an open ``tifffile.TiffFile`` of masks; ``None`` also for a
    stack cut into no pictures (decoding it then says what it holds). Planes nobody
    named are slices here, however few: a mask has one channel, so 2 to 8 bare pages of
    labels are a short label stack, never the channels of one mask."""
    try:
        return stack_plan(path, tif.series, unnamed_slices=True)
    except ImageReadError:
        return None


def _channel_planes(tif: Any) -> tuple[int, str]:
    """How many planes of one mask size a TIFF of masks says are channels (axes CYX, as
    an OME-TIFF written without axes says of its pages), with its axes; ``(0, axes)``
    for any other layout. A mask has one channel: such planes are a label stack whose
    axes were not written, or no mask."""
    series = tif.series[0]
    axes, shape = str(series.axes), tuple(int(n) for n in series.shape)
    if len(axes) != len(shape):
        return 0, axes
    kept = [(a, n) for a, n in zip(axes, shape, strict=True) if a in "YX" or n > 1]
    if [a for a, _ in kept] != ["C", "Y", "X"]:
        return 0, axes
    return kept[0][1], axes


def mask_channel_planes(path: Path) -> int:
    """:func:`_channel_planes` of the TIFF at ``path`` (0 for a PNG or an unreadable
    file: decoding it says what it holds)."""
    if path.suffix.lower() not in (".tif", ".tiff"):
        return 0
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            return _channel_planes(tif)[0]
    except Exception:  # unreadable: decoding it says so
        return 0


def _channel_plan(tif: Any) -> StackPlan | None:
    """The planes a TIFF of masks says are channels (:func:`_channel_planes`) as the
    slices of a label stack."""
    planes, _ = _channel_planes(tif)
    if not planes:
        return None
    series = tif.series[0]
    height, width = (int(n) for n in series.shape[-2:])
    return StackPlan(planes, (series,), (planes, height, width), (0, 1, 2), 2, height, width)


def _stack_slice(path: Path, tif: Any, page: int) -> np.ndarray:
    """Slice ``page`` of the label stack in ``tif`` (an open ``tifffile.TiffFile``),
    planes said to be channels too (read as a label stack: :func:`read_masks`)."""
    plan = _label_plan(path, tif) or _channel_plan(tif)
    if plan is None or not 0 <= page < plan.planes:
        raise FormatError(f"{path}: no slice {page} in it")
    if len(plan.series) > 1:  # pages written one by one: a series each
        return plan.slices([plan.series[page].asarray()])[0]
    pages = plan.series[0].pages
    if plan.image_ndim == 2 and len(pages) == plan.planes:  # one page a slice: read it alone
        return np.asarray(pages[page].asarray()).reshape(plan.height, plan.width)
    return plan.slices([plan.series[0].asarray()])[page]


def decode_mask_file(
    path: Path, page: int | None = None, colours: bool = False, table_option: str = TABLE_OPTION
) -> np.ndarray:
    """A class-id mask from a PNG (:func:`decode_mask_png`) or a single-channel integer
    TIFF (any integer type whose values fit 16 bits); ``page``: the slice of a label
    stack (:func:`mask_stack_pages`). An 8-bit RGB (or opaque RGBA) TIFF of one page is
    grey when its channels are equal everywhere, as a PNG is, else refused; ``colours``:
    its ``(h, w, 3)`` colours instead (:func:`read_label_file`). A refusal of colours
    names ``table_option`` (how the command is given a table of them)."""
    if path.suffix.lower() == ".png":
        return decode_mask_png(path, table_option)
    if is_nifti(path):
        return _volume_page(path, page)
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            if page is not None:
                arr = _stack_slice(path, tif, page)
                if arr.ndim != 2:
                    raise FormatError(
                        f"{path}: a mask must be single-channel, these slices are "
                        f"{'x'.join(map(str, arr.shape))}"
                    )
                check_pixels(arr.shape[1], arr.shape[0], path)
            else:
                plan = _label_plan(path, tif)  # (the file open already)
                if plan is not None:
                    raise FormatError(
                        f"{path}: a stack of {plan.planes} masks, not one (the masks import "
                        "reads it slice by slice, as <stem>_z000...)"
                    )
                channels, axes = _channel_planes(tif)
                if channels:
                    raise FormatError(
                        f"{path}: read as a {channels}-channel mask (axes {axes}), and a mask "
                        "has one channel; a label stack needs axes ZYX (tifffile.imwrite(..., "
                        "metadata={'axes': 'ZYX'})) or the name of a stack whose slices are "
                        "in the project (<stack>.tif for <stack>_z000...)"
                    )
                first = tif.pages[0]
                shape = tuple(int(n) for n in first.shape if n != 1)  # type: ignore[union-attr]
                rgb = _rgb_page(path, first, shape)
                if rgb is not None:
                    grey = None if colours else grey_of(rgb)
                    if grey is not None or colours:
                        return rgb if grey is None else grey
                    raise FormatError(
                        f"{path}: an RGB mask whose channels differ is colour-coded, not "
                        f"class ids: give the table of its colours with {table_option} "
                        "(CVAT labelmap.txt, CamVid label_colors.txt or class_dict.csv), or "
                        "save the mask as a grey class-id PNG or TIFF"
                    )
                if len(shape) != 2:
                    raise FormatError(
                        f"{path}: a mask must be one single-channel image, this TIFF is "
                        f"{'x'.join(map(str, first.shape))}"  # type: ignore[union-attr]
                    )
                check_pixels(shape[1], shape[0], path)
                arr = np.asarray(first.asarray()).reshape(shape)  # type: ignore[union-attr]
    except FormatError:
        raise
    except Exception as exc:  # tifffile raises many kinds on a broken file
        raise FormatError(f"{path}: corrupt or unreadable TIFF ({exc})") from None
    if arr.dtype.kind not in "ui":
        raise FormatError(f"{path}: a mask must hold integer class ids, not {arr.dtype} values")
    if arr.dtype.itemsize == 1:
        return arr.astype(np.uint8)
    low, high = (int(v) for v in (arr.min(), arr.max())) if arr.size else (0, 0)
    if low < 0 or high > 65535:
        raise FormatError(f"{path}: value {low if low < 0 else high} is not a class id")
    return arr.astype(np.uint16)


def _volume_page(path: Path, page: int | None) -> np.ndarray:
    """Slice ``page`` of a NIfTI label volume (:func:`label_volume`)."""
    pages = label_volume(path)[0]
    if page is None:
        raise FormatError(
            f"{path}: a volume of {len(pages)} slices of masks, not one (the masks import "
            "reads it slice by slice, as <stem>_z000...)"
        )
    if not 0 <= page < len(pages):
        raise FormatError(f"{path}: no slice {page} in it")
    return pages[page].copy()


def label_volume(path: Path) -> tuple[np.ndarray, dict[str, Any]]:
    """The slices of a NIfTI label volume as the picture volume's are cut
    (``core.volumes.read_volume``): ``(slices, height, width)`` class ids, uint8 for a
    file of 8-bit integers or of whole numbers up to 255 stored as float, else uint16 (as
    a TIFF's), and its geometry record. A one-line :class:`FormatError` for a file that
    cannot be read or holds no class ids (negative, fractional, past 65535). The last
    volume read is kept: the import reads it a slice at a time, twice."""
    st = path.stat()
    return _label_volume(str(path), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=1)
def _label_volume(path: str, size: int, changed: int) -> tuple[np.ndarray, dict[str, Any]]:
    try:
        pages, record = read_volume(path)
    except ImageReadError as exc:
        raise FormatError(str(exc)) from None
    if pages.dtype.kind == "f":
        whole = np.isfinite(pages) & (pages == np.round(pages))
        if not whole.all():
            value = pages[~whole].flat[0]
            raise FormatError(f"{path}: value {value:g} is not a class id (a whole number)")
    low, high = (float(v) for v in (pages.min(), pages.max())) if pages.size else (0.0, 0.0)
    if low < 0 or high > 65535:
        raise FormatError(f"{path}: value {low if low < 0 else high:g} is not a class id")
    small = pages.dtype.itemsize == 1 if pages.dtype.kind in "ui" else high <= 255
    ids = pages.astype(np.uint8 if small else np.uint16)
    ids.flags.writeable = False  # (kept for the next slice: each is copied out of it)
    return ids, record


def _rgb_page(path: Path, page: Any, shape: tuple[int, ...]) -> np.ndarray | None:
    """The ``(h, w, 3)`` colours of a TIFF page of 8-bit RGB or opaque RGBA samples
    stored pixel by pixel (as image editors save them), ``None`` for any other page;
    see-through pixels are refused, as in a PNG. Planar samples are left out: tifffile
    writes a numpy stack of 3 or 4 masks so, and those are no colours."""
    import tifffile

    rgb = getattr(page, "photometric", None) == tifffile.PHOTOMETRIC.RGB
    if str(getattr(page, "axes", "")) != "YXS" or not rgb or np.dtype(page.dtype) != np.uint8:
        return None
    if len(shape) != 3 or shape[2] not in (3, 4):
        return None
    check_pixels(shape[1], shape[0], path)  # before anything of that size is decoded
    pixels = np.asarray(page.asarray()).reshape(shape)
    if pixels.shape[2] == 4 and (pixels[..., 3] != 255).any():
        n = int((pixels[..., 3] != 255).sum())
        raise FormatError(
            f"{path}: {n} pixel(s) of this RGBA mask are see-through; a mask needs every "
            "pixel opaque (save it as RGB, or as a grey class-id image)"
        )
    return np.ascontiguousarray(pixels[..., :3])


def read_label_file(path: Path, page: int | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """A mask file's pixels as they are stored: ``(values, None)`` for class ids (grey
    PNG, TIFF; ``page``: a label stack's slice), ``(indices, palette)`` for a palette PNG
    (``palette``: ``(n, 3) uint8``), or ``(colours, None)`` with ``colours`` ``(h, w,
    3)`` for an RGB PNG or one-page TIFF (RGBA too, when no pixel is see-through: an
    alpha would be a fourth thing the colour says). The file is opened once."""
    if path.suffix.lower() != ".png":
        return decode_mask_file(path, page, colours=True), None
    return _read_png(path, colours=True)


def _decode(
    path: Path, labelling: Labelling, reserved: dict[int, int], page: int | None = None
) -> tuple[np.ndarray, int]:
    """A mask file's labels (``int32``: class ids through ``labelling``'s table, the
    ``reserved`` values marked; colours by the table's colours) and its bits a value."""
    pixels, palette = read_label_file(path, page)
    bits = pixels.dtype.itemsize * 8
    if pixels.ndim == 3:
        # Without a table of colours, an RGB mask whose channels are equal everywhere is
        # a class-id mask saved as RGB (with one, it is read by its colours, grey ones too)
        grey = None if labelling.has_colours else grey_of(pixels)
        if grey is None:
            return labelling.from_colours(pixels, path), bits
        pixels = grey
    marks = reserved
    if not marks and labelling.names is not None:  # a class list, no reserved values: max = void
        marks = {int(np.iinfo(pixels.dtype).max): VOID}
    if palette is not None:
        return labelling.from_palette(pixels, palette, path, marks), bits
    try:
        return labelling.from_ids(pixels, path, marks), bits
    except FormatError as exc:
        # An export of ours without its dataset.json: void (max - 1) is no class id.
        top = int(np.iinfo(pixels.dtype).max)
        table = labelling.table
        if reserved or table is None or top - 1 in table.ids or not np.any(pixels == top - 1):
            raise
        raise FormatError(
            f"{exc}; an Annotator masks export writes void as {top - 1} and unlabelled as "
            f"{top} and records them in its dataset.json, missing here: put the export's "
            f"dataset.json beside {table.path.name} (or write one holding "
            f'{{"void": {top - 1}, "unlabelled": {top}}})'
        ) from None


def read_labels(path: Path, labelling: Labelling, page: int | None = None) -> np.ndarray:
    """A mask file's labels as the masks import reads them without a ``dataset.json``
    (``int32``: class ids through ``labelling``'s table, colours by its colours, the
    largest value of the file's type void: :data:`VOID`; ``page``: a label stack's
    slice), or a one-line :class:`FormatError` (a colour the table lacks names the
    colour, the file and its pixel count)."""
    return _decode(path, labelling, {}, page)[0]


def _labels(
    path: Path, labelling: Labelling, reserved: dict[int, int], page: int | None = None
) -> np.ndarray:
    """The labels of a mask file checked before (a file changed since is refused)."""
    return _decode(path, labelling, reserved, page)[0]


def mask_files(src: Path) -> list[Path]:
    """The mask files a masks import of ``src`` reads (see the module's docstring);
    Cityscapes' colour and instance files beside its class-id masks are left alone
    (unless they are all there is: then their reasons are said)."""
    if src.is_file():
        return [src]
    found = _mask_files_in(src)
    labels = [p for p in found if mask_ending(file_stem(p)) not in SIDECAR_ENDINGS]
    return labels or found


def _mask_files_in(src: Path) -> list[Path]:
    def masks_in(found: list[Path]) -> list[Path]:
        # (hidden files and folders are left out, as `annotator add` leaves them: macOS's
        # AppleDouble ._x.nii.gz beside x.nii.gz in the Decathlon's tarballs is no mask,
        # nor a copy in .ipynb_checkpoints/)
        return sorted(
            p for p in found if is_mask_file(p) and not hidden_below(p, src) and p.is_file()
        )

    def without_pictures(found: list[Path]) -> list[Path]:
        # Pictures beside their masks (x.png by x_mask.png, as `annotator add` leaves
        # them; ISBI's train-volume.tif by train-labels.tif) are not masks themselves;
        # nor, outside a mask folder, are the files of a folder whose masks are named as
        # such (EPFL's testing.tif beside training_groundtruth.tif has no labels: read
        # as a label stack, its grey levels spoilt the 0/255 reading of the real ones).
        masks = [p for p in found if mask_ending(file_stem(p)) is not None]
        named = {p.parent for p in masks}
        bases = {(p.parent, pair_base(file_stem(p))) for p in masks}
        # scene-gt.png is the picture of scene-gt_mask.png, though named as a mask itself
        of_masks = {(p.parent, without_mask_ending(file_stem(p)).lower()) for p in masks}

        def picture(p: Path) -> bool:
            if (p.parent, file_stem(p).lower()) in of_masks:
                return True
            if mask_ending(file_stem(p)) is not None:
                return False
            if p.parent.name.lower() in MASK_FOLDERS:  # masks/x.png by masks/x_mask.png
                return (p.parent, pair_base(file_stem(p))) in bases
            return p.parent in named

        return [p for p in found if not picture(p)]

    direct = masks_in(list(src.iterdir()))
    if direct:
        return without_pictures(direct)
    nested = masks_in(list(src.rglob("masks/*")))
    if nested:
        return nested
    # A dataset's folder of masks beside its folder of pictures under another name
    # (ISBI's labels/ beside images/, SegNet's trainannot/ beside train/): what importing
    # that folder itself reads.
    beside_pictures = [
        d
        for d in sorted(src.rglob("*"))
        if d.is_dir()
        and d.name.lower() in MASK_FOLDERS
        and any(p.is_dir() and holds_pictures_of(p.name, d.name) for p in d.parent.iterdir())
    ]
    # VOC's SegmentationObject/ beside SegmentationClass/ holds instance ids, not classes
    classes = {d.parent for d in beside_pictures if d.name.lower().startswith("segmentationclass")}
    beside_pictures = [
        d
        for d in beside_pictures
        if not (d.name.lower() == "segmentationobject" and d.parent in classes)
    ]
    if beside_pictures:
        return masks_in([p for d in beside_pictures for p in d.rglob("*")])
    # A dataset's tree of files named as masks (Cityscapes' gtFine/<split>/<city>/).
    below = masks_in(list(src.rglob("*")))
    named = [p for p in below if mask_ending(file_stem(p)) is not None]
    if named or src.name.lower() not in MASK_FOLDERS:
        return named
    # A mask folder given itself, its masks in subfolders (masks/a/x.png, masks/b/x.png);
    # not the files of a picture folder below it. (None is named as a mask, so none is
    # a picture beside its mask.)
    return [
        p
        for p in below
        if not any(d.lower() in PICTURE_FOLDERS for d in p.relative_to(src).parts[:-1])
    ]


def import_folder(masks: Sequence[Path], pictures: Sequence[Path]) -> Path | None:
    """The one folder a masks import of which reads every class-id mask of ``masks``
    (mask files an add left out beside their ``pictures``, one each), when they lie in
    several folders (Cityscapes' ``gtFine/<split>/<city>/``: ``gtFine``; ADE20K's
    ``annotations/<split>/``: the dataset's folder, which holds ``images/`` beside it):
    the nearest folder above them all, up to the one holding the pictures too, whose
    import reads them all and none of the colour and instance files among them. None
    when they are in one folder, or when a picture has several masks (VOC's
    ``SegmentationClass/`` and ``SegmentationObject/``: the user picks), or when no
    such folder is found."""
    pairs = [
        (m.absolute(), p.absolute())
        for m, p in zip(masks, pictures, strict=True)
        if mask_ending(file_stem(m)) not in SIDECAR_ENDINGS
    ]
    folders = {m.parent for m, _ in pairs}
    if len(folders) < 2 or len({p for _, p in pairs}) != len(pairs):
        return None
    try:
        top = Path(os.path.commonpath([*folders, *(p.parent for _, p in pairs)]))
        here = Path(os.path.commonpath(list(folders)))
    except ValueError:  # on two drives
        return None
    labels = {m for m, _ in pairs}
    others = {m.absolute() for m in masks} - labels
    while True:
        try:
            read = set(mask_files(here))
        except OSError:
            read = set()
        if labels <= read and not read & others:
            return here
        if here == top or here.parent == here:
            return None
        here = here.parent


def _dataset_root(folder: Path) -> Path:
    """The folder holding the class list and reserved values: ``folder``, or the export
    around it when pointed at one of its ``SPLIT/masks``, ``SPLIT/stacks`` (the label
    stacks of ``--stacks``) or ``SPLIT`` folders."""
    candidates = [folder]
    if folder.name in ("masks", "stacks"):
        candidates += [folder.parent, folder.parent.parent]
    elif folder.name in SPLITS:
        candidates.append(folder.parent)
    for c in candidates:
        if (c / "class_names.txt").is_file() or (c / "dataset.json").is_file():
            return c
    return folder


#: How many of the folders holding the mask folders found below a source are looked in
#: for a class table (a tree of a folder per image has thousands).
TABLE_FOLDERS_BELOW = 8


def table_folders(folder: Path, root: Path) -> list[Path]:
    """Where a class table of masks in ``folder`` may be: the dataset root, the folder,
    and the one above it (CamVid's ``label_colors.txt`` beside ``labels/``)."""
    return list(dict.fromkeys([root, folder, folder.parent]))


_TIFF_NAMES = (".tif", ".tiff", ".TIF", ".TIFF")
#: A NIfTI label volume's picture volume: of its name, or nnU-Net's first channel of it.
_NIFTI_NAMES = tuple(
    f"{channel}{suffix}"
    for channel in ("", "_0000")
    for suffix in (".nii.gz", ".nii", ".NII.GZ", ".NII")
)


def _picture_stack(label_stack: Path, base: str) -> Path | None:
    """The file beside a label stack that may be its picture stack: ``images/<base>.tif``
    for ``masks/<base>.tif``, or ``<base>.tif`` in its own folder (``vol.tif`` for
    ``vol_mask.tif``), else the one TIFF there of that pair base not named as a mask
    (``train-volume.tif`` for ``train-labels.tif``, as ISBI 2012 ships them); the
    service checks that it is a stack of as many slices. A NIfTI label volume's is a
    NIfTI volume so found, ``<base>_0000.nii.gz`` too (nnU-Net's ``imagesTr/`` beside
    ``labelsTr/``: ``imagesTr`` before ``imagesTs`` for ``labelsTr``, as named)."""
    nifti = is_nifti(label_stack)
    folders = [label_stack.parent]
    own = label_stack.parent.name.lower()
    if own in MASK_FOLDERS:  # labels/x.tif: images/x.tif first
        up = label_stack.parent.parent
        folders[:0] = [up / name for name in _picture_folder_names(up, own)]
    for folder in folders:
        for suffix in _NIFTI_NAMES if nifti else _TIFF_NAMES:
            candidate = folder / f"{base}{suffix}"
            if candidate != label_stack and candidate.is_file():
                return candidate
    for folder in folders:
        try:
            tiffs = [
                p
                for p in folder.iterdir()
                if (is_nifti(p) if nifti else p.suffix.lower() in (".tif", ".tiff"))
                and not hidden(p)
            ]
        except OSError:
            continue
        paired = [
            p
            for p in tiffs
            if p != label_stack
            and mask_ending(file_stem(p)) is None
            and pair_base(file_stem(p)) == base.lower()
            and p.is_file()
        ]
        if len(paired) == 1:
            return paired[0]
    return None


def _volume_problem(labels: Path, pictures: Path | None) -> str | None:
    """Why the NIfTI label volume ``labels`` cannot be read onto the slices of the
    volume ``pictures`` beside it (another shape, another affine: the orientation the
    slices were cut in would differ), or None; reads the labels whole (a FormatError
    when they cannot be, :func:`label_volume`)."""
    their = label_volume(labels)[1]
    if pictures is None or not is_nifti(pictures):
        return None
    try:
        its = volume_geometry(pictures)
    except ImageReadError:  # unreadable: adding its slices says why
        return None
    if problem := grid_problem(labels, their, pictures, its):
        return problem
    plane, its_plane = their.get("plane", "axial"), its.get("plane", "axial")
    if plane != its_plane:  # one grid, voxel sides at the plane rule's tie: never guessed
        return (
            f"{labels}: its voxel sides (within rounding of its picture volume {pictures}'s) "
            f"cut it {plane} where the pictures are cut {its_plane}; its labels were not "
            "imported: save the labels with the picture volume's header"
        )
    return None


def _unreadable_volume(pictures: Path | None) -> str | None:
    """Why the NIfTI picture volume ``pictures`` beside a label volume cannot be read (a
    4-D volume of several channels: the Decathlon's BRATS and prostate tasks), or None."""
    if pictures is None or not is_nifti(pictures):
        return None
    try:
        volume_geometry(pictures)
    except ImageReadError as exc:
        return str(exc)
    return None


def _unread_picture_said(labels: Path, page: int | None, stem: str, unreadable: str) -> str:
    """The skip reason of a label volume's slice that no project image is named as, when
    the picture volume beside it cannot be read (``unreadable``: why): that, not "no
    image next to the annotation", with what imports it (for the Decathlon's
    ``imagesTr/``: nnU-Net's conversion, whose channel files import with these labels)."""
    said = (
        f"{labels} (slice {page}): no image {stem!r} in the project, and its picture "
        f"volume cannot be read: {unreadable}, then import the labels again"
    )
    if labels.parent.name.lower() in ("labelstr", "labelsts"):
        said += (
            " (a Decathlon task of several channels: nnU-Net's nnUNetv2_convert_MSD_dataset "
            "writes each channel as imagesTr/<case>_0000.nii.gz..., onto which its "
            "labelsTr/ import)"
        )
    return said


def _sub_folders(folder: Path) -> list[str]:
    try:
        return sorted(p.name for p in folder.iterdir() if p.is_dir())
    except OSError:
        return []


def _kept_images(root: Path) -> dict[Path, tuple[str, str, ImageStatus | None]]:
    """What the ``images.json`` of a folder of labels the project kept itself, or of
    masks ``annotator predict --out`` wrote, says of its mask files: mask file -> (its
    image's name, the SHA-1 of its picture, the image's status: ``None`` for predicted
    masks). Empty for any other dataset (no such file, or one of another format)."""
    file = root / KEPT_IMAGES_FILE
    if not file.is_file():
        return {}
    data = load_json(file)
    kinds = (KEPT_IMAGES_FORMAT, PREDICTED_IMAGES_FORMAT)
    if not isinstance(data, dict) or data.get("format") not in kinds:
        return {}
    predicted = data["format"] == PREDICTED_IMAGES_FORMAT
    damaged = FormatError(
        f"{file}: damaged (it names, per mask file, its image, the SHA-1 of its picture"
        + ("" if predicted else " and its status")
        + "); move it away to import the masks by their file names, as done images"
    )
    masks = data.get("masks")
    if not isinstance(masks, dict):
        raise damaged
    out: dict[Path, tuple[str, str, ImageStatus | None]] = {}
    for rel, entry in masks.items():
        try:
            name, sha1 = entry["image"], entry["sha1"]
            status = None if predicted else ImageStatus(entry["status"])
        except (TypeError, KeyError, ValueError):
            raise damaged from None
        if not isinstance(name, str) or not isinstance(sha1, str):
            raise damaged
        out[root / rel] = (name, sha1.lower(), status)
    return out


def _picture_folders(mask_folder: Path, top: Path) -> list[Path]:
    """The folders that may hold the pictures of the masks in ``mask_folder``, as
    ``annotator add`` pairs them (``core.naming.masks_in_mask_folders``): below the
    nearest mask folder around it (:data:`MASK_FOLDERS`, in any case: ``labels/``,
    ``Masks/``, ``SegmentationClass/``, ``gtFine/``), each picture folder beside that one
    (:data:`PICTURE_FOLDERS`: ``images/``, ``JPEGImages/``, ``leftImg8bit/``) and the
    same subfolders in it (``images/val/`` for ``labels/val/``); SegNet's ``train/`` for
    ``trainannot/`` (CamVid as SegNet and datumaro ship it); nnU-Net's ``imagesTr/``
    first for ``labelsTr/`` (``imagesTs/`` for ``labelsTs/``). The mask folders looked
    for lie within ``top``, the folder above the one imported (``masks/`` given itself,
    or ``masks/train/``): a folder named ``labels`` further up, around the whole dataset
    (``/data/labels/project/ds/``), is none of its own."""
    for up in (mask_folder, *mask_folder.parents):
        if up != top and top not in up.parents:
            break
        own = up.name.lower()
        if own not in MASK_FOLDERS:
            continue
        rel = mask_folder.relative_to(up)
        return [up.parent / name / rel for name in _picture_folder_names(up.parent, own)]
    return []


def _picture_folder_names(folder: Path, mask_folder: str) -> list[str]:
    """The folders in ``folder`` that may hold the pictures of its mask folder named
    ``mask_folder`` (:func:`core.naming.holds_pictures_of`), the likeliest first: SegNet's
    ``train/`` for ``trainannot/``, nnU-Net's and the Decathlon's ``imagesTr/`` before
    ``imagesTs/`` for ``labelsTr/``."""
    own = mask_folder.lower()
    names = [name for name in _sub_folders(folder) if holds_pictures_of(name, own)]
    split = own[-2:] if own in ("labelstr", "labelsts") else None
    names.sort(key=lambda name: name.lower()[-2:] != split)
    names.sort(key=lambda name: name.lower() != split_of_masks(own))
    return names


def _jpeg_masks_said(src: Path) -> str:
    """The JPEG files of a mask folder at or below ``src`` (Kvasir-SEG ships its masks
    so), which the import does not read, said with what to do; "" when there are none."""
    if not src.is_dir():
        return ""
    folders = [src] if src.name.lower() in MASK_FOLDERS else []
    folders += [
        d
        for d in sorted(src.glob("*")) + sorted(src.glob("*/*"))
        if d.is_dir() and d.name.lower() in MASK_FOLDERS and not hidden_below(d, src)
    ]
    for folder in folders:
        jpegs = [p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg")]
        if jpegs:
            return (
                f"; {folder} holds {len(jpegs)} JPEG file(s) ({jpegs[0].name}...), which are "
                "not read as masks: JPEG blurs a mask's values at every border; convert them "
                "to PNG (0/255 masks: thresholded at 128) and import those"
            )
    return ""


def _find_image(
    mask_file: Path, beside: ImagesBeside, stem: str, folders: dict[Path, list[Path]], top: Path
) -> Path | None:
    """The picture of a mask file, found as ``annotator add`` pairs them (the rules of
    :meth:`ImagesBeside.picture_of`): in the picture folders of its mask folder
    (:func:`_picture_folders`: ``images/x.png`` of ``masks/x.png`` or of
    ``labels/x_mask.png``, nnU-Net's ``imagesTr/cell_0000.png`` of ``labelsTr/cell.png``),
    else, for a mask named as one, beside it (``img0.jpg`` of ``img0_mask.png``: Kaggle's,
    Roboflow's ``x_jpg.rf.H.jpg`` of ``x_jpg.rf.H_mask.png``). ``folders`` caches
    :func:`_picture_folders` by mask folder (within ``top``)."""
    own = mask_file.parent
    if own not in folders:
        folders[own] = _picture_folders(own, top)
    for folder in folders[own]:
        if (found := beside.picture_of(folder, mask_file, stem)) is not None:
            return found
    return beside.picture_of(own, mask_file, stem, beside=True)


def _picture_of(
    mask_file: Path, beside: ImagesBeside, stem: str, folders: dict[Path, list[Path]], top: Path
) -> tuple[Path | None, str | None]:
    """:func:`_find_image`, or why it found none when several pictures may be the one
    (``a.png`` and ``a.tif``): the project's image of the mask's name then decides, and
    that reason is said if there is none."""
    try:
        return _find_image(mask_file, beside, stem, folders, top), None
    except FormatError as exc:
        return None, str(exc)


def stack_refusal(stack: Path | str, refused: Sequence[tuple[int, str]], planes: int) -> str:
    """The one line that skips a label stack whole: the first of its ``refused`` pages
    ``(page, reason)`` with its reason (less the stack's name it begins with), and how
    many of its ``planes`` slices were refused. A label stack is imported whole or not at
    all: a slice left out would be a hole in the volume, unlabelled, exported so."""
    page, why = refused[0]
    for prefix in (f"{stack} (slice {page}): ", f"{stack}: "):
        if why.startswith(prefix):
            why = why[len(prefix) :]
            break
    if not why.startswith(f"slice {page} "):  # (the reason names the slice already)
        why = f"slice {page}: {why}"
    return (
        f"{stack}: label stack not imported: {why} ({len(refused)} of its {planes} slices "
        "refused; a label stack is imported whole or not at all)"
    )


def _class_table(table_file: Path | None, meta: Any) -> ClassTable | None:
    """The class table of ``table_file``: as our masks export (or kept labels) wrote it
    when ``meta``, the ``dataset.json`` beside it, records the same classes
    (:func:`own_class_list`), else read by its content."""
    if table_file is None:
        return None
    own = own_class_list(table_file, meta)
    return own if own is not None else read_class_table(table_file).without_leading_ignore()


def _tables_agree(
    table: ClassTable, table_file: Path, below: Sequence[Path], labels_how: str
) -> list[Path]:
    """The other class tables in the folders ``below`` the source that hold masks (a
    Roboflow export's ``train/_classes.csv`` and ``valid/_classes.csv``), when each gives
    the masks' values the same classes as ``table``, read from ``table_file``, one of
    them; a FormatError when one does not: the values are never read by one split's
    table in another."""

    def same(other: ClassTable | None) -> bool:
        return other is not None and (other.names, other.ids, other.colours, other.void_ids) == (
            table.names,
            table.ids,
            table.colours,
            table.void_ids,
        )

    agree = []
    for folder in below:
        other = find_class_table([folder], other_tools=True)
        if other is None or other == table_file:
            continue
        if not same(_class_table(other, None)):
            raise FormatError(
                f"{table_file} and {other} give the masks' values other classes: import "
                f"{table_file.parent} and {other.parent} one at a time, each with its own "
                f"table, or {labels_how} of the classes for all"
            )
        agree.append(other)
    return agree


def read_masks(src: Path, options: ImportOptions = DEFAULT_IMPORT) -> ReadResult:
    src = Path(src)
    if not src.exists():
        raise FormatError(f"{src}: no such file or folder")
    folder = src if src.is_dir() else src.parent
    root = _dataset_root(folder)
    result = ReadResult()
    if src.is_file() and not is_mask_file(src):  # (data.yaml, a COCO JSON)
        raise FormatError(
            f"{src}: not a PNG or TIFF mask" + format_hint(src, "masks", options.format_how)
        )
    files = mask_files(src)
    # and the folders holding the mask folders found below (VOCdevkit/VOC2012/ holds
    # class_names.txt beside its SegmentationClass/)
    holding = list(dict.fromkeys(f.parent.parent for f in files))[:TABLE_FOLDERS_BELOW]
    # and the masks' own folders (Roboflow's train/_classes.csv beside train/x_mask.png)
    own = list(dict.fromkeys(f.parent for f in files))[:TABLE_FOLDERS_BELOW]
    near = table_folders(folder, root)
    below = [d for d in dict.fromkeys([*holding, *own]) if d not in near]
    folders = list(dict.fromkeys([*near, *below]))
    # a table of our kinds, else the labels of nnU-Net's or the Decathlon's dataset.json
    table_file = options.labels_file or find_class_table(folders, other_tools=True)
    meta_file = root / "dataset.json"
    meta = load_json(meta_file) if meta_file.is_file() else None
    try:
        table = _class_table(table_file, meta if table_file == root / "class_names.txt" else None)
    except FormatError as exc:
        if table_file is None or not is_labels_json(table_file):
            raise
        raise FormatError(
            f"{exc}: the masks' values cannot be named from it; {options.labels_how} of "
            "their classes (an id list: '0 background', '1 liver' lines)"
        ) from None
    same: list[Path] = []
    if table is not None and table_file is not None and table_file.parent in below:
        same = _tables_agree(table, table_file, below, options.labels_how)
    labelling = Labelling(table, options.project_classes, labels_how=options.labels_how)
    names = labelling.names
    if names is not None:
        result.named = list(names)
        if table is None or table.declares_every_class:  # (dataset.json: those used)
            result.declared = list(names)
    reserved: dict[int, int] = {}
    # nnU-Net's and the Decathlon's dataset.json (channel names, labels, file lists) is
    # not ours: it names no reserved values, and the masks' values are read as any
    if isinstance(meta, dict) and not other_tools_meta(meta):
        try:
            reserved = {int(meta["void"]): VOID, int(meta["unlabelled"]): UNLABELLED}
        except (KeyError, TypeError, ValueError):
            raise FormatError(f"{meta_file}: expected integer 'void' and 'unlabelled'") from None
    kind = table.kind if table is not None and table.path.suffix.lower() == ".json" else ""
    given = options.labels_file is not None
    how = options.labels_how
    if note := table_note(table_file, given, folders, root, kind, other_tools=True, how=how):
        if same:
            verb = "gives" if len(same) == 1 else "give"
            note += f" ({', '.join(str(p) for p in same)} {verb} the same classes)"
        result.notes.append(note)
    if not files:
        raise FormatError(
            f"{src}: no PNG, TIFF or NIfTI masks found (in it, in masks/ folders below it, in a "
            "labels/ folder beside images/, or named as masks below it: x_mask.png, "
            "x_gtFine_labelIds.png)"
            + (_jpeg_masks_said(src) or format_hint(src, "masks", options.format_how))
        )
    kept = _kept_images(root)
    beside = ImagesBeside()
    picture_folders: dict[Path, list[Path]] = {}
    top = folder.parent  # (the mask folders are looked for within it: _picture_folders)
    empty_pages: list[str | Path] = []
    for n, f in enumerate(files):
        if options.progress:  # (every mask is decoded here once, to be checked)
            options.progress(n, len(files), f"checking masks… {f.name}")
        # A label stack's slice i is the mask of image <stem>_z00i, as a stack added to
        # a project names its slices (storage/stacks.py).
        pages = mask_stack_pages(f)
        # vol_mask.tif holds the labels of vol.tif's slices, vol_z000...; vol.ome.tif
        # those of vol_z000 (or vol.ome_z000, as projects split it before: storage/stacks.py)
        # (a mask ending only: em_raw.tif labels em_raw_z000..., not em_z000...)
        base = without_mask_ending(file_stem(f))
        named = stack_stem(base)
        if not pages and {base.lower(), named.lower(), f"{base}.ome".lower()} & (
            options.project_stacks
        ):
            # planes said to be channels (an OME-TIFF written without axes: CYX), named
            # as a stack of the project: its label stack (else decoding refuses them)
            pages = mask_channel_planes(f)
        slices = list(enumerate(slice_stems(named, pages))) if pages else [(None, file_stem(f))]
        # Tried when those name no image, the other naming: vol.ome.tif's labels may be of
        # vol.ome_z000... (a project split vol.ome.tif before .ome was left out), and so
        # may vol.tif's.
        old_names = slice_stems(base if named != base else f"{base}.ome", pages)
        pictures = _picture_stack(f, base) if pages else None
        channel_names: list[str] = []
        unreadable: str | None = None
        if pages and is_nifti(f):
            unreadable = _unreadable_volume(pictures)
            try:  # read whole once: a file that cannot be is said once, not per slice
                why = _volume_problem(f, pictures)
            except FormatError as exc:
                why = str(exc)
            if why is not None:
                result.errors.append((str(f), why))
                continue
            # nnU-Net's labelsTr/case.nii.gz labels imagesTr/case_0000.nii.gz's slices
            channel_names = slice_stems(f"{named}_0000", pages)
        kept_name, kept_sha1, status = kept.get(f, (None, None, None))
        # A label stack is imported whole or not at all: its pages' items are kept until
        # every page has been read, and a page refused refuses them all, in one line.
        items: list[ImportItem] = []
        empty: list[str | Path] = []
        refused: list[tuple[int, str]] = []
        for page, stem in slices:
            where = f if page is None else f"{f} (slice {page})"
            try:
                mask, bits = _decode(f, labelling, reserved, page)
                if page is not None and not np.any(mask != UNLABELLED):
                    # a slice nobody labelled (an export's slices not exported): no
                    # labels to import, and no empty done image made of it
                    empty.append(where)
                    continue
                # Only what the checks found is kept; the labels are decoded again when
                # the item is imported, so a big import holds one mask at a time.
                picture, problem = _picture_of(f, beside, stem, picture_folders, top)
                items.append(
                    ImportItem(
                        source=f,
                        image_name=stem,
                        width=int(mask.shape[1]),
                        height=int(mask.shape[0]),
                        mask=None,
                        names=names,
                        image_file=picture,
                        image_problem=problem
                        or (unreadable and _unread_picture_said(f, page, stem, unreadable)),
                        raw_bits=0 if reserved or names is not None else bits,
                        match_by_stem=True,
                        load=functools.partial(_labels, f, labelling, reserved, page),
                        used=tuple(np.unique(mask[mask >= 0]).tolist()),
                        picture_stack=pictures,
                        stack_planes=pages,
                        stack_page=page,
                        other_names=(
                            (old_names[page], *channel_names[page : page + 1])
                            if page is not None
                            else ()
                        ),
                        image_sha1=kept_sha1,
                        kept_name=kept_name,
                        status=status,
                    )
                )
                del mask
            except FormatError as exc:
                if page is None:
                    result.errors.append((str(where), str(exc)))
                else:
                    refused.append((page, str(exc)))
        if refused:
            result.errors.append((str(f), stack_refusal(f, refused, pages)))
            continue
        result.items.extend(items)
        empty_pages.extend(empty)
    if empty_pages:
        result.notes.append(
            f"{len(empty_pages)} slice(s) of label stacks hold no labels (only the "
            f"unlabelled value) and were left out (first: {empty_pages[0]})"
        )
    if note := _black_note(labelling):
        result.notes.append(note)
    return result


def _black_note(labelling: Labelling) -> str:
    """The summary's line on the black pixels a CamVid table without black left
    unlabelled (:class:`Labelling`), or "" when no mask held any."""
    black = labelling.black_unlabelled
    if not black or labelling.table is None:
        return ""
    return (
        f"{sum(black.values())} black (0,0,0) pixel(s) in {len(black)} mask(s) were left "
        f"unlabelled: {labelling.table.path} lists no colour for black (datumaro's and "
        "CVAT's CamVid export paints black what no label covers); add a line '0 0 0 "
        "NAME' to it to import them as a class"
    )
