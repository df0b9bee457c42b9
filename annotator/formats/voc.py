"""PASCAL VOC segmentation layout.

Written::

    OUT/JPEGImages/<stem>.<ext>          the images, in their original format
    OUT/SegmentationClass/<stem>.png     palette PNG: pixel = class id, 255 = void/unlabelled
    OUT/ImageSets/Segmentation/{train,val,test}.txt
    OUT/class_names.txt                  line i = name of class id i

The palette is VOC's standard colour map (what VOC tools and labelme's ``labelme2voc``
show), not the project's colours: the pixel values carry the meaning.

Read: SRC is the VOC root (or its ``SegmentationClass`` folder). 255 becomes void. With a
class table (``--labels FILE``, else the first of
:data:`~annotator.formats.colour_table.TABLE_FILES` in the root) ids are mapped by name,
else they are the project's class ids. RGB masks (CVAT's "Segmentation mask" export) and
palette PNGs whose palette is not VOC's are read by the table's colours.
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
)
from annotator.formats.colour_table import (
    Labelling,
    find_class_table,
    read_class_table,
    table_note,
    voc_colormap,
)
from annotator.formats.masks import read_label_file

DESCRIPTION = "PASCAL VOC: JPEGImages/, SegmentationClass/ palette PNGs, ImageSets/"
IGNORE = 255


_PALETTE = voc_colormap().reshape(-1).tolist()
_IGNORE_COLOUR: tuple[int, int, int] = (224, 224, 192)  # voc_colormap()[IGNORE]


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
    table_file = options.labels_file or find_class_table([src, src.parent])
    table = read_class_table(table_file).without_leading_ignore() if table_file else None
    if note := table_note(table_file, options.labels_file is not None, [src, src.parent]):
        result.notes.append(note)
    # VOC's ignore colour (index 255's) is void, as the value 255 is
    labelling = Labelling(table, options.project_classes, void_colours=[_IGNORE_COLOUR])
    names = labelling.names
    if names is not None:
        names = tuple(as_project_names(names, options.project_classes))
        result.declared = list(names)
    files = sorted(p for p in seg.glob("*.png") if p.is_file())
    if not files:
        raise FormatError(f"{seg}: no PNG masks found")
    beside = ImagesBeside()
    for f in files:
        try:
            pixels, palette = read_label_file(f)
            if pixels.dtype != np.uint8:
                raise FormatError(f"{f}: VOC masks are 8-bit, this one is {pixels.dtype}")
            if pixels.ndim == 3:
                mask = labelling.from_colours(pixels, f)
            elif palette is not None:
                mask = labelling.from_palette(pixels, palette, f, {IGNORE: VOID})
            else:
                mask = labelling.from_ids(pixels, f, {IGNORE: VOID})
            result.items.append(
                ImportItem(
                    source=f,
                    image_name=f.stem,
                    width=int(mask.shape[1]),
                    height=int(mask.shape[0]),
                    mask=mask,
                    names=names,
                    image_file=beside.find(src / "JPEGImages", f.stem, f),
                    match_by_stem=True,
                )
            )
        except FormatError as exc:
            result.errors.append((str(f), str(exc)))
    return result
