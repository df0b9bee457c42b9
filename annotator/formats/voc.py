"""PASCAL VOC segmentation layout.

Written::

    OUT/JPEGImages/<stem>.jpg            the images (see below)
    OUT/SegmentationClass/<stem>.png     palette PNG: pixel = class id, 255 = void/unlabelled
    OUT/SegmentationClass/<stem>.pgw     the world file of a GeoTIFF picture's mask
    OUT/ImageSets/Segmentation/{train,val,test}.txt, and trainval.txt (train + val)
    OUT/class_names.txt                  line i = name of class id i (labelme2voc's
                                         plain list; "<id> <name>" lines where names
                                         would be misread: "1 cell", a first "Label")
    OUT/labelmap.txt                     CVAT's "name:r,g,b::" lines in the palette's
                                         colours (CVAT and datumaro read the names there)

VOC loaders build ``JPEGImages/<name>.jpg`` from the names the split lists
(torchvision's ``VOCSegmentation``, mmsegmentation's ``img_suffix='.jpg'``), so by
default (``voc_images="jpg"``) every picture JPEG can hold is a ``.jpg`` there: a JPEG
file is copied (or linked) byte for byte, whatever its ending (``.jpeg``, ``.JPG``); an
8-bit grey or colour picture of another format is written as JPEG (quality 95, no
chroma subsampling, its colour profile kept). A picture JPEG cannot hold (16-bit or
float pixels, 2 or 4 and more channels) is copied as it is, with its own ending, and
the summary says so. ``voc_images="keep"`` copies every picture as it is (ADR 0026).

The palette is VOC's standard colour map (what VOC tools and labelme's ``labelme2voc``
show), not the project's colours: the pixel values carry the meaning.

Read: SRC is the VOC root (or its ``SegmentationClass`` folder; the augmented set's
``SegmentationClassAug``, read when the root has no ``SegmentationClass``, or given
itself). 255 becomes void. With a
class table (``--labels FILE``, else the first of
:data:`~annotator.formats.colour_table.TABLE_FILES` in the root) ids are mapped by name,
else they are the project's class ids. RGB masks (CVAT's "Segmentation mask" export) and
palette PNGs whose palette is not VOC's are read by the table's colours.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from annotator.core.errors import FormatError
from annotator.core.folders import hidden
from annotator.core.schema import name_key
from annotator.formats.base import (
    DEFAULT_EXPORT,
    DEFAULT_IMPORT,
    VOC_KEEP_HOW,
    VOID,
    ExportDataset,
    ExportOptions,
    ExportSample,
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
    VOID_NAMES,
    Labelling,
    class_list_text,
    find_class_table,
    read_class_table,
    table_note,
    voc_colormap,
)
from annotator.formats.detect import VOC_CLASS_FOLDERS, format_hint
from annotator.formats.georef import GeoMasks
from annotator.formats.masks import read_label_file

DESCRIPTION = "PASCAL VOC: JPEGImages/ (JPEG), SegmentationClass/ palette PNGs, ImageSets/"
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
    # (a plain list unless our import would read it otherwise: then an id list)
    try:
        class_list, listed = class_list_text(dataset.names), []
    except FormatError as exc:  # (names no list holds: written plain, and said)
        class_list = "".join(c + "\n" for c in dataset.names)
        listed = [f"class_names.txt: {exc}, or give it as the class list when importing"]
    folder.write_text("class_names.txt", class_list)
    labelmap = labelmap_text(dataset.names)
    if labelmap is not None:
        folder.write_text("labelmap.txt", labelmap)
    else:
        listed.append(
            "labelmap.txt not written: a class name begins with '#', holds ':' or is a colour "
            "table's void ('void', '__ignore__'), which CVAT's labelmap cannot hold as a class "
            "(CVAT and datumaro then read VOC's 21 class names)"
        )
    for split, items in dataset.splits.items():
        folder.write_text(
            f"ImageSets/Segmentation/{split}.txt", "".join(s.stem + "\n" for s in items)
        )
    # VOC's own lists include trainval (torchvision's VOCSegmentation(image_set=
    # "trainval") and mmsegmentation's configs read it): train then val.
    trainval = [s for split in ("train", "val") for s in dataset.splits.get(split, [])]
    folder.write_text(
        "ImageSets/Segmentation/trainval.txt", "".join(s.stem + "\n" for s in trainval)
    )
    if options.voc_images not in VOC_IMAGES:
        raise FormatError(f"unknown VOC image mode {options.voc_images!r}; use jpg or keep")
    if options.image_mode not in ("copy", "hardlink", "symlink"):  # (JPEGs written need none)
        raise FormatError(
            f"unknown image mode {options.image_mode!r}; use copy, hardlink or symlink"
        )
    samples = dataset.samples()
    pictures = _Pictures(options)
    placed = GeoMasks()
    for i, (_split, s) in enumerate(samples):
        if progress:
            progress(i, len(samples), s.stem)
        values = to_voc_values(s.load_mask(), n)
        folder.write_bytes(f"SegmentationClass/{s.stem}.png", encode_palette_png(values))
        placed.world_file(folder.write_bytes, f"SegmentationClass/{s.stem}", s.image_path)
        pictures.place(folder, s)
    return folder.result([*listed, *pictures.notes(), *placed.notes(None)])


def labelmap_text(names: Sequence[str]) -> str | None:
    """CVAT's ``labelmap.txt`` of the classes, in VOC's colours (the masks' palette):
    without it CVAT and datumaro read a VOC dataset with VOC's own 21 class names.
    ``None`` when a name cannot be written in it (``:`` inside, ``#`` first, or a name
    a colour table reads as void: :data:`~annotator.formats.colour_table.VOID_NAMES`)."""
    if any(":" in n or n.startswith("#") or n != n.strip() for n in names):
        return None
    if any(name_key(n) in VOID_NAMES for n in names):  # (a colour table's void: lost)
        return None
    colours = voc_colormap(len(names))
    lines = [f"{n}:{r},{g},{b}::" for n, (r, g, b) in zip(names, colours.tolist(), strict=True)]
    return "# label:color_rgb:parts:actions\n" + "".join(line + "\n" for line in lines)


#: ``--voc-images``: what ``JPEGImages/`` holds (the module's docstring).
VOC_IMAGES = ("jpg", "keep")
JPEG_QUALITY = 95
_JPEG_SIGNATURE = b"\xff\xd8\xff"


def _is_jpeg(path: Path) -> bool:
    """Whether the file is a JPEG by its content (its ending may be ``.jpeg``, ``.JPG``)."""
    try:
        with open(path, "rb") as fh:
            return fh.read(3) == _JPEG_SIGNATURE
    except OSError:
        return False


def jpeg_cannot_hold(picture: np.ndarray) -> str | None:
    """Why JPEG cannot hold the picture ("16-bit", "4-channel"), or None: it can
    (8-bit grey or colour)."""
    if picture.dtype != np.uint8:
        kind = (
            "float" if picture.dtype.kind == "f" else "signed" if picture.dtype.kind == "i" else ""
        )
        return f"{picture.dtype.itemsize * 8}-bit{' ' + kind if kind else ''}"
    channels = 1 if picture.ndim == 2 else int(picture.shape[2])
    if channels not in (1, 3):
        return f"{channels}-channel"
    return None


def encode_jpeg(picture: np.ndarray, icc_profile: bytes | None = None) -> bytes:
    """JPEG bytes of an 8-bit grey or RGB picture: quality 95, no chroma subsampling (a
    class border in colour stays as sharp as in grey)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(picture).save(
        buf, format="JPEG", quality=JPEG_QUALITY, subsampling=0, icc_profile=icc_profile
    )
    return buf.getvalue()


def _icc_profile(path: Path) -> bytes | None:
    """The colour profile a picture file carries (PNG's iCCP, TIFF's tag), if Pillow finds
    one; the pixels are not decoded."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            profile = im.info.get("icc_profile")
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError):
        return None
    return profile if isinstance(profile, bytes) and profile else None


class _Pictures:
    """Puts each picture into ``JPEGImages/`` as :data:`VOC_IMAGES` says, and counts what
    it did for the summary."""

    def __init__(self, options: ExportOptions) -> None:
        self.options = options
        self.copied_jpeg = 0
        self.encoded = 0
        #: (why JPEG cannot hold it, or "" under keep; the file's format) -> pictures
        self.kept: dict[tuple[str, str], int] = {}

    def place(self, folder: OutputFolder, s: ExportSample) -> None:
        mode = self.options.image_mode
        if self.options.voc_images == "keep":
            folder.place_image(f"JPEGImages/{s.image_file_name}", s.image_path, mode)
            if s.image_path.suffix.lower() != ".jpg":
                self._keep("", s)
            return
        if _is_jpeg(s.image_path):
            folder.place_image(f"JPEGImages/{s.stem}.jpg", s.image_path, mode)
            self.copied_jpeg += 1
            return
        picture = s.load_image() if s.load_image is not None else None
        why = "unread" if picture is None else jpeg_cannot_hold(picture)
        if picture is None or why is not None:
            folder.place_image(f"JPEGImages/{s.image_file_name}", s.image_path, mode)
            self._keep(why or "", s)
            return
        data = encode_jpeg(picture, _icc_profile(s.image_path))
        folder.write_bytes(f"JPEGImages/{s.stem}.jpg", data)
        self.encoded += 1

    def _keep(self, why: str, s: ExportSample) -> None:
        ext = s.image_path.suffix.lower().lstrip(".")
        kind = {"jpg": "JPEG", "jpeg": "JPEG", "tif": "TIFF"}.get(ext, ext.upper())
        self.kept[(why, kind)] = self.kept.get((why, kind), 0) + 1

    def notes(self) -> list[str]:
        """One line on what ``JPEGImages/`` holds, when it is not only the JPEG files the
        pictures were (nothing to say then)."""
        kept = sum(self.kept.values())
        if self.options.voc_images == "keep":
            if not kept:
                return []
            kinds = ", ".join(f"{n} {kind}" for (_, kind), n in sorted(self.kept.items()))
            return [
                f"{kept} picture(s) kept in their own format in JPEGImages/ ({kinds}), as "
                f"{self.options.voc_keep_how} asks: loaders that build JPEGImages/<name>.jpg "
                "(torchvision, mmsegmentation) will not find them"
            ]
        parts = []
        if self.encoded:
            linked = "" if self.options.image_mode == "copy" else ", written, not linked"
            parts.append(
                f"{self.encoded} picture(s) written as JPEG (quality {JPEG_QUALITY}{linked}) "
                "for VOC loaders, which read JPEGImages/<name>.jpg"
            )
        if kept:
            kinds = ", ".join(f"{n} {why} {kind}" for (why, kind), n in sorted(self.kept.items()))
            parts.append(
                f"{kept} picture(s) that JPEG cannot hold kept as they are ({kinds}): "
                "loaders that expect .jpg will not find them"
            )
        if self.encoded:
            parts.append(f"export with {self._keep_how()} for lossless copies of every picture")
        return ["; ".join(parts)] if parts else []

    def _keep_how(self) -> str:
        """How to keep every picture as it is: the CLI's flag with the GUI's field after
        it, or the front end's own words (the GUI's)."""
        how = self.options.voc_keep_how
        return f"{how} (VOC pictures: as they are)" if how == VOC_KEEP_HOW else how


def read_voc(src: Path, options: ImportOptions = DEFAULT_IMPORT) -> ReadResult:
    src = Path(src)
    if src.is_dir() and src.name in VOC_CLASS_FOLDERS:
        seg, src = src, src.parent
    else:  # (VOC's own class folder first; the augmented set's is read when alone)
        found = [src / name for name in VOC_CLASS_FOLDERS if (src / name).is_dir()]
        if not found:
            raise FormatError(
                f"{src}: not a VOC folder (no SegmentationClass/ inside)"
                + format_hint(src, "voc", options.format_how)
            )
        seg = found[0]
    result = ReadResult()
    if seg.name != VOC_CLASS_FOLDERS[-1] and (src / VOC_CLASS_FOLDERS[-1]).is_dir():
        result.notes.append(
            f"read the masks of {seg.name}/, not those of {VOC_CLASS_FOLDERS[-1]}/ beside "
            f"it: import {src / VOC_CLASS_FOLDERS[-1]} to read those"
        )
    table_file = options.labels_file or find_class_table([src, src.parent])
    table = read_class_table(table_file).without_leading_ignore() if table_file else None
    given = options.labels_file is not None
    if note := table_note(table_file, given, [src, src.parent], src, how=options.labels_how):
        result.notes.append(note)
    # VOC's ignore colour (index 255's) is void, as the value 255 is
    labelling = Labelling(
        table, options.project_classes, void_colours=[_IGNORE_COLOUR], labels_how=options.labels_how
    )
    names = labelling.names
    if names is not None:
        names = tuple(as_project_names(names, options.project_classes))
        result.named = list(names)
        if table is None or table.declares_every_class:  # (dataset.json: those used)
            result.declared = list(names)
    files = sorted(p for p in seg.glob("*.png") if not hidden(p) and p.is_file())
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
