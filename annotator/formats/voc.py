"""PASCAL VOC segmentation layout.

Written::

    OUT/JPEGImages/<stem>.<ext>          the images, in their original format
    OUT/SegmentationClass/<stem>.png     palette PNG: pixel = class id, 255 = void/unlabelled
    OUT/ImageSets/Segmentation/{train,val,test}.txt
    OUT/class_names.txt                  line i = name of class id i

The palette is VOC's standard colour map (what VOC tools and labelme's ``labelme2voc``
show), not the project's colours: the pixel values carry the meaning.

Read: SRC is the VOC root (or its ``SegmentationClass`` folder). 255 becomes void. With
``class_names.txt`` ids are mapped by name, else they are the project's class ids.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from annotator.core.errors import FormatError
from annotator.formats.base import (
    DEFAULT_EXPORT,
    DEFAULT_IMPORT,
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
    as_project_names,
    check_class_ids,
    read_names_file,
)
from annotator.formats.masks import decode_mask_png

DESCRIPTION = "PASCAL VOC: JPEGImages/, SegmentationClass/ palette PNGs, ImageSets/"
IGNORE = 255


def voc_colormap(n: int = 256) -> np.ndarray:
    """VOC's standard ``(n, 3) uint8`` colour map (bit-interleaved class ids)."""
    cmap = np.zeros((n, 3), np.uint8)
    for i in range(n):
        r = g = b = 0
        c = i
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        cmap[i] = (r, g, b)
    return cmap


_PALETTE = voc_colormap().reshape(-1).tolist()


def to_voc_values(mask: np.ndarray, n_classes: int) -> np.ndarray:
    """Class ids stay, everything else (void, unlabelled) becomes 255."""
    out = np.full(mask.shape, IGNORE, np.uint8)
    keep = mask < n_classes
    out[keep] = mask[keep]
    return out


def encode_palette_png(values: np.ndarray) -> bytes:
    from PIL import Image

    im = Image.fromarray(values, mode="P")
    im.putpalette(_PALETTE)
    buf = io.BytesIO()
    im.save(buf, format="PNG", optimize=False, compress_level=1)
    return buf.getvalue()


def write_voc(
    out: Path,
    dataset: ExportDataset,
    options: ExportOptions = DEFAULT_EXPORT,
    progress: Progress | None = None,
) -> WriteResult:
    n = len(dataset.classes)
    if n > IGNORE:
        raise FormatError(f"VOC masks are 8-bit: at most {IGNORE} classes, this project has {n}")
    folder = OutputFolder(out)
    folder.write_text("class_names.txt", "".join(c + "\n" for c in dataset.names))
    for split, items in dataset.splits.items():
        folder.write_text(
            f"ImageSets/Segmentation/{split}.txt", "".join(s.stem + "\n" for s in items)
        )
    samples = dataset.samples()
    for i, (_split, s) in enumerate(samples):
        if progress:
            progress(i, len(samples), s.stem)
        values = to_voc_values(s.load_mask(), n)
        folder.write_bytes(f"SegmentationClass/{s.stem}.png", encode_palette_png(values))
        folder.place_image(f"JPEGImages/{s.image_file_name}", s.image_path, options.image_mode)
    return folder.result()


def read_voc(src: Path, options: ImportOptions = DEFAULT_IMPORT) -> ReadResult:
    src = Path(src)
    if src.is_dir() and src.name == "SegmentationClass":
        src = src.parent
    seg = src / "SegmentationClass"
    if not seg.is_dir():
        raise FormatError(f"{src}: not a VOC folder (no SegmentationClass/ inside)")
    result = ReadResult()
    names: tuple[str, ...] | None = None
    names_file = options.labels_file or src / "class_names.txt"
    if names_file.is_file():
        names = tuple(read_names_file(names_file))
        if names and names[0] == "__ignore__":  # a labelme labels.txt: ids start at -1
            names = names[1:]
        names = tuple(as_project_names(names, options.project_classes))
        result.declared = list(names)
    files = sorted(p for p in seg.glob("*.png") if p.is_file())
    if not files:
        raise FormatError(f"{seg}: no PNG masks found")
    beside = ImagesBeside()
    for f in files:
        try:
            raw = decode_mask_png(f)
            if raw.dtype != np.uint8:
                raise FormatError(f"{f}: VOC masks are 8-bit, this one is {raw.dtype}")
            mask = raw.astype(np.int32)
            mask[raw == IGNORE] = VOID
            check_class_ids(mask, names, f, names_file)
            result.items.append(
                ImportItem(
                    source=f,
                    image_name=f.stem,
                    width=int(raw.shape[1]),
                    height=int(raw.shape[0]),
                    mask=mask,
                    names=names,
                    image_file=beside.find(src / "JPEGImages", f.stem, f),
                    match_by_stem=True,
                )
            )
        except FormatError as exc:
            result.errors.append((str(f), str(exc)))
    return result
