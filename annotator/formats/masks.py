"""Plain class-id PNG masks next to the images.

Layout written::

    OUT/class_names.txt            one name per line, line i = class id i
    OUT/dataset.json               {"format": "annotator-masks", "void": 254, "unlabelled": 255}
    OUT/<split>/images/<stem>.<ext>
    OUT/<split>/masks/<stem>.png   single channel, pixel = class id (16 bit past 254 classes)

Read: every ``*.png`` directly in SRC, or else in any ``masks/`` folder below SRC,
matched to a project image by file stem. With ``class_names.txt`` the ids are mapped by
name; with ``dataset.json`` the reserved values are exact; without them the pixel
values are the project's class ids (the service applies the 0/255 binary rule).
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from annotator.core.errors import FormatError
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
    check_class_ids,
    check_pixels,
    encode_png,
    load_json,
    open_pil,
    read_names_file,
)

DESCRIPTION = "class-id PNG masks (16-bit past 254 classes) next to the images"


def write_masks(
    out: Path,
    dataset: ExportDataset,
    options: ExportOptions = DEFAULT_EXPORT,
    progress: Progress | None = None,
) -> WriteResult:
    folder = OutputFolder(out)
    folder.write_text("class_names.txt", "".join(n + "\n" for n in dataset.names))
    folder.write_json(
        "dataset.json",
        {
            "format": "annotator-masks",
            "void": dataset.void,
            "unlabelled": dataset.unlabelled,
            "classes": dataset.names,
        },
    )
    samples = dataset.samples()
    for i, (split, s) in enumerate(samples):
        if progress:
            progress(i, len(samples), s.stem)
        mask = s.load_mask()
        folder.write_bytes(f"{split}/masks/{s.stem}.png", encode_png(mask))
        folder.place_image(f"{split}/images/{s.image_file_name}", s.image_path, options.image_mode)
    return folder.result()


def decode_mask_png(path: Path) -> np.ndarray:
    """A single-channel 8/16-bit PNG (grey or palette indices) as an array."""
    from PIL import UnidentifiedImageError

    try:
        with open_pil(path, path) as im:
            if im.format != "PNG":
                raise FormatError(f"{path}: not a PNG file")
            if im.mode == "P":
                return np.asarray(im, dtype=np.uint8)
            if im.mode in ("L", "1"):
                return np.asarray(im.convert("L"), dtype=np.uint8)
            if im.mode.startswith("I"):
                import cv2

                arr = cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_UNCHANGED)
                if arr is None or arr.ndim != 2:
                    raise FormatError(f"{path}: cannot decode the 16-bit mask")
                return arr
            raise FormatError(
                f"{path}: a {im.mode} image is not a class-id mask; expected one channel "
                "(grey or palette) holding class ids"
            )
    except FormatError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise FormatError(f"{path}: corrupt or unreadable PNG ({exc})") from None


#: Lossless files a class-id mask comes in (microscopy labs keep theirs as TIFF).
MASK_SUFFIXES = (".png", ".tif", ".tiff")


def decode_mask_file(path: Path) -> np.ndarray:
    """A class-id mask from a PNG (:func:`decode_mask_png`) or a single-channel integer
    TIFF (any integer type whose values fit 16 bits)."""
    if path.suffix.lower() == ".png":
        return decode_mask_png(path)
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            page = tif.pages[0]
            shape = tuple(int(n) for n in page.shape if n != 1)  # type: ignore[union-attr]
            if len(shape) != 2:
                raise FormatError(
                    f"{path}: a mask must be one single-channel image, this TIFF is "
                    f"{'x'.join(map(str, page.shape))}"  # type: ignore[union-attr]
                )
            check_pixels(shape[1], shape[0], path)
            arr = np.asarray(page.asarray()).reshape(shape)  # type: ignore[union-attr]
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


def _mask_files(src: Path) -> list[Path]:
    if src.is_file():
        return [src]

    def masks_in(found: list[Path]) -> list[Path]:
        return sorted(p for p in found if p.suffix.lower() in MASK_SUFFIXES and p.is_file())

    direct = masks_in(list(src.iterdir()))
    if direct:
        return direct
    return masks_in(list(src.rglob("masks/*")))


def _dataset_root(folder: Path) -> Path:
    """The folder holding the class list and reserved values: ``folder``, or the export
    around it when pointed at one of its ``SPLIT/masks`` (or ``SPLIT``) folders."""
    candidates = [folder]
    if folder.name == "masks":
        candidates += [folder.parent, folder.parent.parent]
    elif folder.name in SPLITS:
        candidates.append(folder.parent)
    for c in candidates:
        if (c / "class_names.txt").is_file() or (c / "dataset.json").is_file():
            return c
    return folder


def _find_image(mask_file: Path, beside: ImagesBeside) -> Path | None:
    folder = mask_file.parent
    if folder.name == "masks":
        return beside.find(folder.parent / "images", mask_file.stem, mask_file)
    return None


def read_masks(src: Path, options: ImportOptions = DEFAULT_IMPORT) -> ReadResult:
    src = Path(src)
    if not src.exists():
        raise FormatError(f"{src}: no such file or folder")
    root = _dataset_root(src if src.is_dir() else src.parent)
    result = ReadResult()
    names: tuple[str, ...] | None = None
    names_file = options.labels_file or root / "class_names.txt"
    if names_file.is_file():
        names = tuple(read_names_file(names_file))
        result.declared = list(names)
    reserved: dict[int, int] = {}
    meta_file = root / "dataset.json"
    if meta_file.is_file():
        meta = load_json(meta_file)
        try:
            reserved = {int(meta["void"]): VOID, int(meta["unlabelled"]): UNLABELLED}
        except (KeyError, TypeError, ValueError):
            raise FormatError(f"{meta_file}: expected integer 'void' and 'unlabelled'") from None
    files = _mask_files(src)
    if not files:
        raise FormatError(f"{src}: no PNG or TIFF masks found")
    beside = ImagesBeside()
    for f in files:
        try:
            raw, mask = _labels_of(f, reserved, names)
            check_class_ids(mask, names, f, names_file)
            # Only what the checks found is kept; the labels are decoded again when the
            # item is imported, so a big import holds one mask at a time.
            result.items.append(
                ImportItem(
                    source=f,
                    image_name=f.stem,
                    width=int(raw.shape[1]),
                    height=int(raw.shape[0]),
                    mask=None,
                    names=names,
                    image_file=_find_image(f, beside),
                    raw_bits=0 if reserved or names is not None else raw.dtype.itemsize * 8,
                    match_by_stem=True,
                    load=functools.partial(_reread, f, reserved, names, names_file),
                    used=tuple(np.unique(mask[mask >= 0]).tolist()),
                )
            )
            del raw, mask
        except FormatError as exc:
            result.errors.append((str(f), str(exc)))
    return result


def _labels_of(
    path: Path, reserved: dict[int, int], names: tuple[str, ...] | None
) -> tuple[np.ndarray, np.ndarray]:
    """The file's values and its labels (``int32``, the reserved values marked)."""
    raw = decode_mask_file(path)
    mask = raw.astype(np.int32)
    marks = reserved
    if not marks and names is not None:  # a class list but no reserved values: max = void
        marks = {int(np.iinfo(raw.dtype).max): VOID}
    for value, marker in marks.items():
        mask[raw == value] = marker
    return raw, mask


def _reread(
    path: Path, reserved: dict[int, int], names: tuple[str, ...] | None, names_file: Path
) -> np.ndarray:
    """The labels of a mask file checked before (a file changed since is refused)."""
    mask = _labels_of(path, reserved, names)[1]
    check_class_ids(mask, names, path, names_file)
    return mask
