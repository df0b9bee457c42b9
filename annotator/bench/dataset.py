"""The datasets of the effort benchmark: pictures and their ground-truth masks.

:func:`load_dataset` reads a folder of images and one of masks (or both side by side),
pairs them by name (:mod:`annotator.core.naming`), cuts TIFF stacks and NIfTI volumes
into slices as ``annotator add`` does (ADR 0022, 0034), and reads the masks' class ids
as the masks import reads them: plain lists, id lists and colour tables
(``formats/colour_table.py``), 0/255 binary masks, void; the class names of nnU-Net's
and the Decathlon's ``dataset.json``. Rules in ``docs/simulated-annotator.md``
("Datasets").
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from annotator.bench.robot import IGNORE
from annotator.core.errors import AnnotatorError, ImageReadError, first_line
from annotator.core.folders import hidden
from annotator.core.masks_layout import is_masks_meta
from annotator.core.naming import (
    SIDECAR_ENDINGS,
    file_stem,
    mask_ending,
    natural_key,
    pair_masks,
    slice_stems,
    stack_stem,
)
from annotator.core.orientation import turned_size_hint
from annotator.core.volumes import grid_problem, is_nifti, volume_geometry, volume_header
from annotator.formats.base import load_json, picture_orientation
from annotator.formats.colour_table import (
    DATASET_JSON,
    ClassTable,
    Labelling,
    find_class_table,
    labels_table,
    other_tools_meta,
    own_class_list,
    read_class_table,
)
from annotator.formats.masks import (
    decode_mask_file,
    decode_mask_png,
    mask_stack_pages,
    read_labels,
)
from annotator.storage.images import IMAGE_SUFFIXES, read_image, tiff_planes


@dataclass(frozen=True)
class Dataset:
    """Images with ground-truth masks (class ids; 255 = void)."""

    class_names: tuple[str, ...]
    images: tuple[Path, ...]
    truths: dict[str, np.ndarray]  # by file stem
    note: str = ""
    #: What was left out of the dataset and why (images without a mask...).
    warnings: tuple[str, ...] = ()
    #: The images that are slices of a TIFF stack or a NIfTI volume (their paths are the
    #: names a project gives them, ``images/vol_z000.tif``: no such file), with their stack.
    slices: dict[Path, SliceOf] = field(default_factory=dict)
    #: The dataset's folder (reported with each run).
    root: str = ""
    #: nnU-Net's cases of a file per channel: each case's first file (a picture, or a
    #: volume whose slices are images) -> its further channel files, joined with it as
    #: ``annotator add`` joins them (``storage/cases.py``, ``storage/stacks.py``).
    channels: dict[Path, tuple[Path, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class SliceOf:
    """Which slice of which TIFF stack (or NIfTI volume) a dataset image is."""

    stack: Path
    index: int
    #: The stack's bare pages are its slices (``storage.stacks.split_stack``'s
    #: ``unnamed_slices``).
    unnamed_slices: bool


def _natural_key(path: Path) -> list[Any]:
    return natural_key(path.stem)


#: Where a dataset keeps its pictures and its masks, in the order looked for (in any
#: letter case: ``Images``, ``MASKS``).
#: nnU-Net's and the Medical Segmentation Decathlon's training cases are in ``imagesTr``
#: and ``labelsTr``.
IMAGE_FOLDERS = ("images", "imgs", "img", "image", "imagestr")
MASK_FOLDERS = (
    "masks",
    "labels",
    "gt",
    "ground_truth",
    "groundtruth",
    "segmentations",
    "mask",
    "label",
    "labelstr",
)


#: Files a mask is refused in: lossy, they smear its class ids (a picture may be one).
LOSSY_SUFFIXES = (".jpg", ".jpeg")


def _dataset_folder(root: Path, names: tuple[str, ...]) -> Path | None:
    """The first folder of ``root`` named one of ``names`` (any letter case) that holds
    image files; else the first so named (an empty one, said in the error); ``None``."""
    try:
        found = {p.name.lower(): p for p in sorted(root.iterdir()) if p.is_dir()}
    except OSError:
        return None
    folders = [found[n] for n in names if n in found]
    return next((f for f in folders if _files_by_stem(f)), folders[0] if folders else None)


def _side_by_side(root: Path) -> tuple[dict[str, Path], dict[str, Path]] | None:
    """The pictures and the masks of a dataset that keeps them in one folder, the masks
    named as such (``x_mask.png`` by ``x.png``; ISBI 2012's ``train-labels.tif`` by
    ``train-volume.tif``), by file stem; ``None`` unless it holds both."""
    try:
        files = _files_by_stem(root)
    except OSError:
        return None
    endings = {stem: mask_ending(stem) for stem in files}
    masks = {s: p for s, p in files.items() if endings[s] and endings[s] not in SIDECAR_ENDINGS}
    pictures = {s: p for s, p in files.items() if endings[s] is None}
    return (pictures, masks) if pictures and masks else None


def load_dataset(root: Path, classes_file: Path | None = None) -> Dataset:
    """:func:`read_dataset`, with the class table of the dataset's folder when no
    ``classes_file`` is given (the first of ``formats.colour_table.TABLE_FILES`` there:
    ``classes.txt``, ``class_names.txt``, ``class_dict.csv``..., as the masks import
    finds it); one whose ids do not fit the masks is not used, and said in the
    warnings (the masks are then read as without it)."""
    root = Path(root)
    if classes_file is None and root.is_dir() and _export_list(root) is not None:
        return read_dataset(root, None)  # (an Annotator masks export: its own classes)
    found = find_class_table([root]) if classes_file is None and root.is_dir() else None
    if found is None:
        return read_dataset(root, classes_file)
    try:
        dataset = read_dataset(root, found)
    except AnnotatorError as exc:
        dataset = read_dataset(root, None)  # (a fault not the table's is raised here)
        why = (
            f"{found.name} was not read as the class names ({first_line(exc)}); give --classes FILE"
        )
        return replace(dataset, warnings=(*dataset.warnings, why))
    said = f"class names from {found.name} in the dataset's folder"
    return replace(dataset, note=f"{said}; {dataset.note}" if dataset.note else said)


def read_dataset(root: Path, classes_file: Path | None = None) -> Dataset:
    """Read ``root/images`` and ``root/masks`` (or another of :data:`IMAGE_FOLDERS` and
    :data:`MASK_FOLDERS`, in any letter case; of two, the first that holds image files),
    or, with neither, pictures and masks side by side in ``root`` (the masks named as
    such), matched by file stem, else by pair base (``x_mask.png`` is ``x.png``'s mask,
    ``train-labels.tif`` is ``train-volume.tif``'s: :mod:`annotator.core.naming`).
    Split folders are read together as one set: ``root/<split>/images`` with
    ``root/<split>/masks`` (an Annotator masks export's layout), or
    ``root/images/<split>`` with ``root/masks/<split>``. A JPEG mask is refused (lossy:
    it smears the class ids; ``formats.masks.MASK_SUFFIXES``); a JPEG picture is read.

    A TIFF stack of pictures is one image per slice, named as a project names its
    slices (``vol_z000.tif``...: ADR 0022), labelled by a label stack of the same stem
    (page i the mask of slice i, as the masks import reads it) or by masks named as the
    slices (``vol_z000.png``). 2 to 8 bare pages are the channels of one picture, as
    ``annotator add`` reads them, unless its masks label slices (as the masks import
    takes them beside a label stack); either is said in ``Dataset.warnings``. A NIfTI
    volume (``.nii``, ``.nii.gz``) is a stack too, its slices as ``annotator add`` cuts
    and shows them (``core.volumes``, ADR 0034: ``case_0000_z000.tif``...), labelled by a
    label volume paired as the masks import pairs them (nnU-Net's ``labelsTr/case.nii.gz``
    of ``imagesTr/case_0000.nii.gz``, the Decathlon's same name in ``labelsTr/``,
    ``case_seg.nii.gz`` beside ``case.nii.gz``) on the same grid (shape and affine), in
    the same orientation.

    Class names come from ``classes_file``: a plain list (one name per line, in id
    order), an id list (``0 cytoplasm`` lines) or a CSV table with an id column, read
    by id (ids from 1 read 0 as void, as the masks import does), or a class table with
    colours (``annotator import --format masks``'s: CVAT ``labelmap.txt``, CamVid
    ``label_colors.txt``...), whose colour-coded masks are read by colour as that
    import reads them. Masks holding only 0 and 255 are read as two classes with 255 ->
    1 (as ``annotator import --format masks`` does for a two-class project), with a
    two-name list or none. Without ``classes_file``, the ``labels`` of nnU-Net's or the
    Decathlon's ``root/dataset.json`` name them (``{"background": 0, "liver": 1}``,
    ``{"0": "background", "1": "liver"}``: read by id; nnU-Net's ``ignore`` is void),
    or those of an Annotator masks export (``root``'s or, for one split, its parent's
    ``dataset.json`` and ``class_names.txt``: its void 254 and unlabelled 255 void);
    without either, the classes are otherwise ``class0 .. classN`` up to the largest
    value below 255.

    Refused with one line: two files of a folder with the same stem, a mask that is not
    single-channel integer class ids in 0..255 (palette PNGs are read as their indices;
    an RGB PNG whose channels are equal as its grey), a colour or id the table lacks, a
    mask whose size is not its image's, a label stack whose slices are not its picture
    stack's, a label volume on another grid than its picture volume's, an unreadable
    image. Images without a mask (and masks without an image) are left out and said in
    ``Dataset.warnings``.
    """
    root = Path(root)
    if not root.is_dir():
        what = "not a folder" if root.exists() else "no such folder"
        raise AnnotatorError(
            f"{root}: {what}; give the dataset's folder (its images and masks, in images/ "
            "and masks/ or side by side)"
        )
    img_dir, mask_dir, by_stem, mask_files, split_note = _locate(root)
    warnings: list[str] = []
    by_stem, channels = _nnunet_cases(by_stem, warnings)
    # before reading every mask: a bad list fails at once
    listing: _ClassList | None
    if classes_file is not None:
        listing = _read_class_list(Path(classes_file))
    else:  # an Annotator masks export (or one of its splits), else other tools' file
        listing = _export_list(root) or _export_list(root.parent)
        listing = listing or _dataset_json_list(root, warnings)
    pairs = _pair(root, img_dir, mask_dir, by_stem, mask_files, warnings)
    raw, zero_pixels = _read_masks(pairs, listing)
    images = _without_void_only(pairs.images, raw, warnings)
    labelled = set(images)
    notes = _stack_notes([s for s in pairs.stacks.values() if labelled.intersection(s.paths)])
    if split_note:
        notes.insert(0, split_note)
    if listing is not None and listing.from_json:
        whose = "an Annotator masks export's classes" if listing.export else "its labels"
        notes.append(f"class names from {listing.file} ({whose}: {_some(listing.names, 8)})")
    _refuse_void_only(raw, mask_dir, listing)
    names, truths = _classes_of(raw, listing, notes, mask_dir)
    if listing is None:
        warnings.extend(_export_void_as_class(truths))
    _check_ids(truths, names, pairs.masks, listing)
    if listing is not None:
        warnings.extend(_unused_classes(truths, names, listing.file))
    if listing is not None and listing.by_id is not None:
        notes.append(_by_id_note(listing.file, names, listing.by_id))
        warnings.extend(_zero_as_void(truths, zero_pixels, listing.file))
    kept = {p: pairs.slices[p] for p in images if p in pairs.slices}
    if joined := _joined_note(channels, set(images), kept):
        notes.append(joined)
    return Dataset(
        tuple(names),
        tuple(images),
        truths,
        "; ".join(notes),
        tuple(warnings),
        kept,
        str(root),
        channels,
    )


def _nnunet_cases(
    by_stem: dict[str, Path], warnings: list[str]
) -> tuple[dict[str, Path], dict[Path, tuple[Path, ...]]]:
    """The pictures by stem without nnU-Net's further channel files of a case
    (``imagesTr/case_0001.png`` beside ``case_0000.png``), and each case's first file
    with its further channels: joined as ``annotator add`` joins them, by its code
    (NIfTI volumes of one grid: ``storage.stacks.channel_cases``; pictures of one size:
    ``storage.cases.picture_cases``). A case whose files cannot be joined is said in
    ``warnings`` and its files stay apart (its further channels have no mask)."""
    from annotator.storage.cases import picture_cases
    from annotator.storage.stacks import channel_cases

    files = list(by_stem.values())
    volumes, refused = channel_cases(files)
    pictures, refused_pictures = picture_cases(files)
    warnings.extend(why for _, why in [*refused.values(), *refused_pictures.values()])
    joined = {first: tuple(further) for first, further in {**volumes, **pictures}.items()}
    within = {f for further in joined.values() for f in further}
    return {stem: p for stem, p in by_stem.items() if p not in within}, joined


def _joined_note(
    channels: dict[Path, tuple[Path, ...]], images: set[Path], slices: dict[Path, SliceOf]
) -> str:
    """The note on nnU-Net's cases of a file per channel a run labels ("" when none)."""
    stacks = {where.stack for where in slices.values()}
    used = [first for first in channels if first in images or first in stacks]
    if not used:
        return ""
    first = sorted(used, key=_natural_key)[0]
    return (
        f"{len(used)} nnU-Net case(s) of a file per channel, each read as one picture (per "
        f"slice) with a channel per file, as `annotator add` joins them (first: "
        f"{first.name} and {len(channels[first])} further channel(s))"
    )


def _locate(root: Path) -> tuple[Path, Path, dict[str, Path], dict[str, Path], str]:
    """The folder of pictures and that of masks (``root`` itself for both when they lie
    side by side), their image files by stem, and a note on split folders read together
    (``train/images``..., an Annotator masks export; ``images/train``...: ``""`` when
    none); refused in one line without them."""
    img_dir = _dataset_folder(root, IMAGE_FOLDERS)
    mask_dir = _dataset_folder(root, MASK_FOLDERS)
    flat = _side_by_side(root) if img_dir is None and mask_dir is None else None
    if flat is not None:
        return root, root, *flat, ""
    if img_dir is None and mask_dir is None and (splits := _split_roots(root)):
        return _merged(root, splits, f"{root}/<split>/")
    if img_dir is None or mask_dir is None:
        raise AnnotatorError(
            f"{root}: a dataset needs a folder of images ({', '.join(IMAGE_FOLDERS)}) and "
            f"one of masks ({', '.join(MASK_FOLDERS)}), in any letter case (or a folder "
            "per split holding both: train/images, train/masks...), or its pictures "
            "and masks side by side, the masks named as such (x.png and x_mask.png, "
            "train-volume.tif and train-labels.tif)"
        )
    by_stem, mask_files = _files_by_stem(img_dir), _files_by_stem(mask_dir)
    if by_stem:
        return img_dir, mask_dir, by_stem, mask_files, ""
    subfolders = _subfolders(img_dir)
    if not subfolders:
        return img_dir, mask_dir, by_stem, mask_files, ""
    masks_of = {d.name.lower(): d for d in _subfolders(mask_dir)}
    splits = [(d, masks_of[d.name.lower()]) for d in subfolders if d.name.lower() in masks_of]
    if not splits:
        raise AnnotatorError(
            f"{root}: {img_dir} holds no image files but subfolders "
            f"({_some([d.name for d in subfolders])}), and {mask_dir} no subfolders of the "
            f"same names; keep each one's masks in {mask_dir}/<same name> (then read "
            "together), or give bench a folder holding the images/ and masks/ of one of them"
        )
    return _merged(root, splits, "")


def _subfolders(folder: Path) -> list[Path]:
    """The folders in ``folder`` that hold image files, in natural order."""
    found = [d for d in folder.iterdir() if d.is_dir() and not hidden(d)]
    return sorted((d for d in found if _files_by_stem(d)), key=_natural_key)


def _split_roots(root: Path) -> list[tuple[Path, Path]]:
    """The folders of images and of masks of ``root``'s split folders, each holding both
    (``train/images``, ``train/masks``: an Annotator masks export), in natural order."""
    splits = []
    for d in sorted((d for d in root.iterdir() if d.is_dir() and not hidden(d)), key=_natural_key):
        img_dir = _dataset_folder(d, IMAGE_FOLDERS)
        mask_dir = _dataset_folder(d, MASK_FOLDERS)
        if img_dir is not None and mask_dir is not None and _files_by_stem(img_dir):
            splits.append((img_dir, mask_dir))
    return splits


def _merged(
    root: Path, splits: list[tuple[Path, Path]], where: str
) -> tuple[Path, Path, dict[str, Path], dict[str, Path], str]:
    """The pictures and masks of split folders read as one dataset, with folders that
    name them all in messages; two files of one stem are refused in one line."""
    by_stem: dict[str, Path] = {}
    mask_files: dict[str, Path] = {}
    for img_dir, mask_dir in splits:
        for into, files in (
            (by_stem, _files_by_stem(img_dir)),
            (mask_files, _files_by_stem(mask_dir)),
        ):
            for stem, p in files.items():
                if stem in into:
                    raise AnnotatorError(
                        f"{into[stem]} and {p} have the same file stem; images and masks "
                        "are matched by stem, in every split folder read together, so "
                        "rename one of them, or give bench one split"
                    )
                into[stem] = p
    if where:  # train/images...
        names = [img.parent.name for img, _ in splits]
        img_label = f"{where}{splits[0][0].name}"
        mask_label = f"{where}{splits[0][1].name}"
    else:  # images/train...
        names = [img.name for img, _ in splits]
        img_label = f"{splits[0][0].parent}/<split>"
        mask_label = f"{splits[0][1].parent}/<split>"
    note = f"{len(splits)} split folder(s) read together as one set ({_some(names)})"
    return Path(img_label), Path(mask_label), by_stem, mask_files, note


@dataclass(frozen=True)
class _ClassList:
    """What ``--classes FILE`` says of the masks' values."""

    file: Path
    names: list[str]
    #: Colour-coded masks, read by colour as the masks import reads them.
    labelling: Labelling | None
    #: Mask value -> class id, for a list of ids other than 0..n-1 (read by id).
    by_id: np.ndarray | None
    #: The list names a void value (``255 void``; nnU-Net's ``ignore``).
    listed_void: bool
    #: The ``labels`` of nnU-Net's or the Decathlon's ``dataset.json``.
    from_json: bool = False
    #: The classes of an Annotator masks export.
    export: bool = False


def _read_class_list(file: Path) -> _ClassList:
    own = _export_list(file.parent) if file.name == EXPORT_CLASSES else None
    return own if own is not None else _class_list(read_class_table(file))


#: The class list an Annotator masks export writes beside its ``dataset.json``.
EXPORT_CLASSES = "class_names.txt"


def _export_list(folder: Path) -> _ClassList | None:
    """The classes of the Annotator masks export in ``folder`` (its ``dataset.json`` of
    format ``annotator-masks`` and its ``class_names.txt``: id i the line i), with its
    void and unlabelled values (254, 255) void; ``None`` for any other folder."""
    file = folder / DATASET_JSON
    if not file.is_file():
        return None
    try:
        meta = load_json(file)
    except AnnotatorError:
        return None
    if not is_masks_meta(meta):
        return None
    table = own_class_list(folder / EXPORT_CLASSES, meta)
    names = meta.get("classes")
    if (
        table is None
        and isinstance(names, list)
        and names
        and all(isinstance(n, str) for n in names)
    ):
        table = ClassTable(file, "class list", tuple(names), tuple(range(len(names))))
    if table is None:
        return None
    void = tuple(
        int(v)
        for v in (meta.get("void"), meta.get("unlabelled"))
        if isinstance(v, int) and len(names or ()) <= v <= IGNORE
    )
    return replace(_class_list(replace(table, void_ids=void), from_json=True), export=True)


def _class_list(table: ClassTable, from_json: bool = False) -> _ClassList:
    file = table.path
    labelling = None
    if table.colours is not None:  # colour-coded masks: as the masks import reads them
        labelling = Labelling(table.without_leading_ignore())
        names = list(labelling.names or ())
    else:
        names = list(table.names)
    if not names:
        raise AnnotatorError(f"{file}: no class names in it")
    by_id = None
    void_values = any(v != IGNORE for v in table.void_ids)  # (nnU-Net's ignore label)
    if labelling is None and (list(table.ids) != list(range(len(names))) or void_values):
        by_id = _ids_to_classes(table)  # read by id, as the masks import reads them
    listed_void = labelling is None and bool(table.void_ids)
    return _ClassList(file, names, labelling, by_id, listed_void, from_json)


def _dataset_json_list(root: Path, warnings: list[str]) -> _ClassList | None:
    """The class names of the ``labels`` of nnU-Net's or the Medical Segmentation
    Decathlon's ``root/dataset.json``, read as the masks import reads them when it finds
    no class table of its own kinds (``formats.colour_table.labels_table``): nnU-Net
    v2's ``{"background": 0, "liver": 1}`` (an ``ignore`` label void), the Decathlon's
    and nnU-Net v1's ``{"0": "background", "1": "liver"}``; read by id. None without
    such a file, or for one that names no classes this way (regions, a damaged file:
    said in ``warnings``); an Annotator masks export's ``dataset.json`` names none."""
    file = root / DATASET_JSON
    if not file.is_file():
        return None
    try:
        meta = load_json(file)
        if not isinstance(meta, dict) or not other_tools_meta(meta) or "labels" not in meta:
            return None
        table = labels_table(file, meta["labels"])
    except AnnotatorError as exc:
        warnings.append(f"{exc}: the class names were not read from it (give --classes FILE)")
        return None
    return _class_list(table, from_json=True)


@dataclass(frozen=True)
class _Pairs:
    """The dataset's images with a mask, and where each mask is."""

    #: In natural order, one per picture (a repeated one left out).
    images: list[Path]
    #: Each image's mask file, by image stem.
    masks: dict[str, Path]
    #: The label stack and page of each slice labelled by one, by image stem.
    label_pages: dict[str, tuple[Path, int]]
    stacks: dict[str, _PictureStack]
    slices: dict[Path, SliceOf]
    #: The height and width of each slice (the others are read with their mask).
    shapes: dict[Path, tuple[int, int]]


def _pair(
    root: Path,
    img_dir: Path,
    mask_dir: Path,
    by_stem: dict[str, Path],
    mask_files: dict[str, Path],
    warnings: list[str],
) -> _Pairs:
    """Pair the pictures (a stack's slices in its place) with their masks; what is left
    out (a picture without a mask, a mask without one, a picture repeated) is added to
    ``warnings``; refused in one line when no picture has a mask."""
    stacks = _picture_stacks(by_stem, mask_files, warnings)
    entries, slices, label_pages = _dataset_images(by_stem, stacks)
    label_stacks = {s.label_stack for s in stacks.values() if s.label_stack is not None}
    # by image stem (x_mask.png is x.png's); a label stack's pages are its slices' masks
    masks = pair_masks(
        {k: p for k, p in entries.items() if k not in label_pages},
        {k: m for k, m in mask_files.items() if m not in label_stacks},
    )
    masks.update({k: label for k, (label, _) in label_pages.items()})
    lossy = sorted((m for m in masks.values() if m.suffix.lower() in LOSSY_SUFFIXES), key=str)
    if lossy:  # (as the masks import reads none: formats.masks.MASK_SUFFIXES)
        raise AnnotatorError(
            f"{lossy[0]}: a JPEG mask ({len(lossy)} in all); masks must be lossless (PNG, "
            "TIFF...), since JPEG smears the class values at every edge: save them as PNG"
        )
    paired = set(masks.values())
    images = sorted((p for k, p in entries.items() if k in masks), key=_natural_key)
    if not images:
        empty = "" if mask_files else f" ({mask_dir} holds no mask files)"
        raise AnnotatorError(
            f"{root}: no image of {img_dir} has a mask in {mask_dir} with the same file stem "
            f"(or that stem and _mask, _label...: x.png and x_mask.png){empty}"
        )
    no_mask = sorted((p.name for k, p in entries.items() if k not in masks), key=_natural_name)
    if no_mask:
        warnings.append(
            f"{len(no_mask)} image(s) in {img_dir} have no mask in {mask_dir} and are left "
            f"out: {_some(no_mask)}"
        )
    from annotator.storage.stacks import read_stack

    shapes: dict[Path, tuple[int, int]] = {}
    labelled = set(images)
    for stack in stacks.values():  # each stack read once: its slices' sizes
        if labelled.isdisjoint(stack.paths):  # (nnU-Net's other channels: no labels)
            continue
        # (a NIfTI volume's slices as the add cuts and shows them: core.volumes)
        cut = read_stack(stack.path, stack.unnamed_slices)[0]
        for path, picture in zip(stack.paths, cut, strict=True):
            shapes[path] = (int(picture.shape[0]), int(picture.shape[1]))
    # (a stack's slices are images of their own, blank frames too, as a project's are)
    images, twins = _distinct_files(images, slices)
    if twins:
        warnings.append(
            f"{len(twins)} image(s) are byte for byte another image of the set and are left "
            f"out (a project keeps one image per picture): "
            + _some([f"{a.name} (= {b.name})" for a, b in twins])
        )
    no_image = sorted((p.name for p in mask_files.values() if p not in paired), key=_natural_name)
    if no_image:
        warnings.append(
            f"{len(no_image)} mask(s) in {mask_dir} have no image in {img_dir} and are "
            f"ignored: {_some(no_image)}"
        )
    return _Pairs(images, masks, label_pages, stacks, slices, shapes)


def _read_masks(
    pairs: _Pairs, listing: _ClassList | None
) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """Each image's mask as the file's values (by a list of ids: its class ids), by
    stem, and how many pixels a list of ids from 1 read as void (its 0s), by stem."""
    labelling = None if listing is None else listing.labelling
    by_id = None if listing is None else listing.by_id
    raw: dict[str, np.ndarray] = {}
    zero_pixels: dict[str, int] = {}
    for p in pairs.images:
        mask_file = pairs.masks[p.stem]
        page = pairs.label_pages[p.stem][1] if p.stem in pairs.label_pages else None
        m = _read_truth(mask_file, labelling, page)
        # (also refuses an unreadable image now, not later)
        h, w = pairs.shapes[p] if p in pairs.shapes else read_image(p).shape[:2]
        if m.shape != (h, w):
            where = mask_file if page is None else f"{mask_file} (slice {page})"
            raise ImageReadError(
                where,
                f"the mask is {m.shape[1]}x{m.shape[0]} but its image {p.name} is {w}x{h}"
                + turned_size_hint(
                    (int(m.shape[0]), int(m.shape[1])), (int(h), int(w)), picture_orientation(p)
                ),
            )
        if listing is not None and by_id is not None:
            if by_id[0] == IGNORE:  # 0 unlisted (ids from 1): void, said with its share
                zero_pixels[p.stem] = int((m == 0).sum())
            m = _read_by_id(m, by_id, mask_file, listing.file)
        raw[p.stem] = m
    return raw, zero_pixels


def _without_void_only(
    images: list[Path], raw: dict[str, np.ndarray], warnings: list[str]
) -> list[Path]:
    """``images`` without those whose mask is void only (taken out of ``raw`` too), unless
    every mask is (refused later, in words)."""
    void_only = [k for k, m in raw.items() if not (m != IGNORE).any()]
    if not void_only or len(void_only) == len(raw):
        return images
    # Nothing to label there: each would count 0 actions at "accuracy 1.000" and pull
    # every average (a proposal's too) towards a perfect score.
    names_void = [p.name for p in images if p.stem in void_only]
    for k in void_only:
        del raw[k]
    warnings.append(
        f"{len(void_only)} mask(s) are void (255) only and their images are left out: "
        + _some(names_void)
    )
    return [p for p in images if p.stem not in void_only]


def _classes_of(
    raw: dict[str, np.ndarray], listing: _ClassList | None, notes: list[str], mask_dir: Path
) -> tuple[list[str], dict[str, np.ndarray]]:
    """The class names and the masks as class ids (255 void): by the list, or 0/255
    masks as two classes (255 -> 1, said first in ``notes``), or ``class0 .. classN``."""
    values = np.unique(np.concatenate([np.unique(m) for m in raw.values()]))
    binary = set(values.tolist()) == {0, 255}
    if listing is not None:
        names = listing.names
        two_names = len(names) == 2 and listing.by_id is None and not listing.listed_void
        if not (two_names and listing.labelling is None and binary):
            return names, raw
        notes.insert(  # 0/255 masks and two names: as without a list
            0,
            f"masks hold only 0 and 255: read as the two classes of {listing.file}, "
            f"255 -> 1 ({names[1]})",
        )
        return names, {k: (m > 127).astype(np.uint8) for k, m in raw.items()}
    if binary:
        notes.insert(0, "masks hold only 0 and 255: read as two classes, 255 -> 1")
        return ["class0", "class1"], {k: (m > 127).astype(np.uint8) for k, m in raw.items()}
    top = int(values[values != IGNORE].max())
    return [f"class{i}" for i in range(top + 1)], raw


def _refuse_void_only(
    truths: dict[str, np.ndarray], mask_dir: Path, listing: _ClassList | None
) -> None:
    """Every mask void (``_without_void_only`` leaves them all): a run would count 0
    actions at accuracy 1.0 on every image (with ``--classes`` too, which the refusal
    once suggested)."""
    if any((t != IGNORE).any() for t in truths.values()):
        return
    listed = f" (as listed in {listing.file})" if listing is not None else ""
    raise AnnotatorError(
        f"{mask_dir}: every mask is void (255) only: there is nothing to label; if 255 "
        f"marks a class in these masks, write it as its class id{listed}"
    )


#: The value an Annotator masks export writes for void (its ``dataset.json``'s ``void``).
EXPORT_VOID = 254


def _export_void_as_class(truths: dict[str, np.ndarray]) -> list[str]:
    """The warning on masks named ``class0 .. class254`` only by a value 254 far above
    their other ids: most likely the void of an Annotator masks export read apart."""
    values = np.unique(np.concatenate([np.unique(t) for t in truths.values()]))
    below = values[values < EXPORT_VOID]
    if EXPORT_VOID not in values or (below.size and int(below.max()) >= EXPORT_VOID // 2):
        return []
    return [
        f"the masks hold {EXPORT_VOID}, far above their other ids (up to "
        f"{int(below.max()) if below.size else 0}), read as class{EXPORT_VOID}: if these are "
        f"an Annotator masks export's, where {EXPORT_VOID} is void, bench the export's "
        "folder (its dataset.json and class_names.txt name the classes and the void)"
    ]


def _check_ids(
    truths: dict[str, np.ndarray],
    names: list[str],
    masks: dict[str, Path],
    listing: _ClassList | None,
) -> None:
    """Refuse, in one line naming the mask, a value that is no class id; with a plain
    list of n names and masks 1..n, say how to write the list as id lines."""
    values = np.unique(np.concatenate([np.unique(t) for t in truths.values()]))
    present = values[values != IGNORE]
    for k, t in truths.items():
        bad = (t != IGNORE) & (t >= len(names))
        if not bad.any():
            continue
        from_one = (
            f"; the masks' values run 1..{len(names)}: if they number the classes from 1, "
            f"write {listing.file} as id lines ('1 {names[0]}', '2 {names[1 % len(names)]}'"
            "...)"
            if listing is not None
            and not listing.from_json
            and present.size
            and int(present.min()) == 1
            and int(present.max()) == len(names)
            else ""
        )
        raise AnnotatorError(
            f"{masks[k]}: value {int(t[bad].max())} is not a class id (0..{len(names) - 1})"
            + from_one
        )


def _unused_classes(truths: dict[str, np.ndarray], names: list[str], file: Path) -> list[str]:
    """The warning on the classes of the list that no mask holds, with the share of void
    when it may be one of them (binary masks saved 0/255 with a longer list)."""
    used = {int(v) for t in truths.values() for v in np.unique(t) if v != IGNORE}
    unused = [name for i, name in enumerate(names) if i not in used]
    total = sum(t.size for t in truths.values())
    void_share = sum(int((t == IGNORE).sum()) for t in truths.values()) / max(1, total)
    if unused and used <= {0}:
        return [
            f"the masks hold no class but {names[0]!r} (and 255, void): a run on them "
            "measures nothing; if 255 marks a class in these masks, write it as its "
            f"class id (as listed in {file})"
            + (f"; 255 covers {void_share:.0%} of their pixels" if void_share else "")
        ]
    if unused:
        void_text = (
            f"; 255 (void) covers {void_share:.0%} of the masks' pixels: if it marks one of "
            f"those classes, write it as its class id (as listed in {file})"
            if void_share > VOID_SHARE_WARNED
            else ""
        )
        return [f"{len(unused)} class(es) of {file} appear in no mask: {_some(unused)}" + void_text]
    return []


def _zero_as_void(
    truths: dict[str, np.ndarray], zero_pixels: dict[str, int], file: Path
) -> list[str]:
    """The warning on the masks' 0s that a list of ids from 1 read as void."""
    zero = sum(zero_pixels.get(k, 0) for k in truths) / max(1, sum(t.size for t in truths.values()))
    if zero <= 0:
        return []
    return [
        f"{zero:.1%} of the masks' pixels are 0, which {file} does not list: read as void "
        "(as `annotator import --format masks` reads such a list), so no run labels or "
        "measures them; if 0 is a class (background), add the line '0 background' to "
        f"{file}"
    ]


#: The share of the masks' pixels void (255) above which a class of the list that no
#: mask holds is warned of with it (255 may be that class, written as void).
VOID_SHARE_WARNED = 0.05


def _ids_to_classes(table: ClassTable) -> np.ndarray:
    """A class table of other ids than 0..n-1 (``1 cytoplasm``..., a CSV's id column)
    as a look-up from mask value to class id (the names in id order): 255 void, 0 void
    when the ids start at 1 and do not list it (as the masks import reads it), any other
    unlisted value :data:`_UNLISTED`."""
    too_big = [v for v in table.ids if v >= IGNORE]
    if too_big:
        raise AnnotatorError(
            f"{table.path}: id {too_big[0]} is beyond what the bench reads: a mask's values "
            f"are 8-bit class ids, 0..254 ({IGNORE} void), so every listed id must be below "
            f"{IGNORE}; renumber the masks' values (and the list's ids) into 0..254"
        )
    lut = np.full(256, _UNLISTED, np.int16)
    lut[IGNORE] = IGNORE
    if table.zero_is_void:
        lut[0] = IGNORE
    for value in table.void_ids:  # (nnU-Net's ignore label)
        if value < IGNORE:
            lut[value] = IGNORE
    for index, value in enumerate(table.ids):
        lut[value] = index
    return lut


#: A mask value a class table of ids does not list (while reading by id).
_UNLISTED = -1


def _read_by_id(mask: np.ndarray, lut: np.ndarray, where: Path, table: Path) -> np.ndarray:
    """A mask's values as class ids through ``lut`` (:func:`_ids_to_classes`)."""
    out = lut[mask]
    bad = np.unique(mask[out == _UNLISTED])
    if bad.size:
        listed = np.flatnonzero((lut >= 0) & (lut != IGNORE)).tolist()
        add = "add it to its labels" if table.name == "dataset.json" else "add a line for it"
        raise AnnotatorError(
            f"{where}: value {int(bad[0])} is not an id of {table} (it lists "
            f"{_some([str(v) for v in listed], 8)}); {add} or correct the mask"
        )
    return out.astype(np.uint8)


def _by_id_note(table: Path, names: list[str], lut: np.ndarray) -> str:
    """The note on a table of other ids than 0..n-1: which value is which class."""
    pairs = [
        f"{int(v)} -> {names[int(lut[v])]}" for v in np.flatnonzero((lut >= 0) & (lut != IGNORE))
    ]
    zero = ", 0 (not listed) -> void" if lut[0] == IGNORE else ""
    listed = [int(v) for v in np.flatnonzero(lut == IGNORE) if v not in (0, IGNORE)]
    void = "".join(f", {v} -> void" for v in listed)
    return f"{table} gives ids: the masks' values read by id ({_some(pairs, 8)}{zero}{void})"


@dataclass(frozen=True)
class _PictureStack:
    """A TIFF stack or a NIfTI volume of a dataset's pictures, read as one image per
    slice."""

    path: Path
    planes: int
    #: Its bare pages are its slices (``unnamed_slices``), not one picture's channels.
    unnamed_slices: bool
    #: Its label stack (page i the mask of slice i), or ``None``: a mask per slice.
    label_stack: Path | None
    #: The slices' image stems, as a project names them (``vol_z000``...).
    stems: tuple[str, ...]

    @property
    def paths(self) -> list[Path]:
        """The slices as dataset images: the names a project gives them (no such files)."""
        return [self.path.parent / f"{stem}.tif" for stem in self.stems]

    @property
    def volume(self) -> bool:
        """A NIfTI volume, not a TIFF stack."""
        return is_nifti(self.path)

    def note(self) -> str:
        pages = "slices" if self.volume else "pages"
        labels = f"the {pages} of {self.label_stack.name}" if self.label_stack else "a mask each"
        return (
            f"{self.path.name}: a {'volume' if self.volume else 'stack'} of {self.planes} "
            f"slices, each an image as `annotator add` makes them ({self.stems[0]}.tif ... "
            f"{self.stems[-1]}.tif), labelled by {labels}"
        )


#: How many volumes the notes name one by one (a scan dataset holds hundreds).
VOLUMES_NOTED = 1


def _stack_notes(stacks: list[_PictureStack]) -> list[str]:
    """The notes on the stacks whose slices a run labels: one per TIFF stack, one per
    NIfTI volume unless they are more than :data:`VOLUMES_NOTED`, then one for them all."""
    volumes = sorted((s for s in stacks if s.volume), key=lambda s: _natural_key(s.path))
    if len(volumes) <= VOLUMES_NOTED:
        return [s.note() for s in stacks]
    labels = [s.label_stack.name for s in volumes if s.label_stack is not None]
    by = f"the slices of their label volumes ({_some(labels, 2)})" if labels else "a mask each"
    planes = sorted(s.planes for s in volumes)
    count = f"{planes[0]}" if planes[0] == planes[-1] else f"{planes[0]} to {planes[-1]}"
    return [s.note() for s in stacks if not s.volume] + [
        f"{len(volumes)} NIfTI volumes of {count} slices ({_some([s.path.name for s in volumes], 2)}"
        f"), each slice an image as `annotator add` makes them ({volumes[0].stems[0]}.tif ...),"
        f" labelled by {by}"
    ]


def _picture_stacks(
    by_stem: dict[str, Path], mask_files: dict[str, Path], warnings: list[str]
) -> dict[str, _PictureStack]:
    """The TIFF stacks and NIfTI volumes among the pictures, by file stem (cut as
    ``annotator add`` cuts them: ``storage.images.tiff_planes``, ``core.volumes``). Bare
    pages read as channels stay one picture unless its masks label slices (a label
    stack, or masks named as its slices); the choice is added to ``warnings``. Refused
    in one line: a stack labelled by one mask, a label stack of another number of
    slices, a label stack of one picture, a label volume on another grid than its
    picture volume's (``core.volumes.grid_problem``, as the masks import refuses it)."""
    # a stack's own mask: a label stack (nnU-Net's case.nii.gz of case_0000.nii.gz by
    # its pair base, as the masks import pairs them)
    whole = pair_masks(by_stem, mask_files)
    stacks: dict[str, _PictureStack] = {}
    for stem, p in by_stem.items():
        label = whole.get(stem)
        if is_nifti(p):  # a volume is split however many slices it holds, as add does
            try:
                planes, pages = volume_header(p).planes, 0
            except ImageReadError:
                if label is not None:
                    raise
                continue  # no label volume: left out, said with the images without a mask
        elif p.suffix.lower() in (".tif", ".tiff"):
            planes, pages = tiff_planes(p)
        else:
            planes, pages = 0, 0
        label_pages = _label_stack_pages(label) if label is not None else 0
        if label is not None and is_nifti(label) and is_nifti(p):
            why = grid_problem(
                label,
                volume_geometry(label),
                p,
                volume_geometry(p),
                "its labels do not lie on its slices",
            )
            if why is not None:
                raise AnnotatorError(why)
        if not planes and not pages:
            if label_pages:
                raise AnnotatorError(
                    f"{label}: a label stack of {label_pages} slices, but its picture "
                    f"{p.name} is one picture; give it one mask"
                )
            continue
        count = planes or pages
        stems = tuple(slice_stems(stack_stem(file_stem(p)), count))
        per_slice = bool(pair_masks({k: k for k in stems}, mask_files))
        if not planes:  # bare pages: channels, as `annotator add` reads them...
            if not (label_pages or per_slice):
                if label is None:  # (no mask: left out, and said so)
                    continue
                warnings.append(
                    f"{p.name}: its {pages} bare pages (no axes recorded) are read as the "
                    f"{pages} channels of one picture, as `annotator add` reads them; a "
                    f"label stack of {pages} pages, or masks named {stems[0]}.png ..., "
                    "would make them slices"
                )
                continue
            warnings.append(  # ... unless its labels are slices' (as the masks import)
                f"{p.name}: its {pages} bare pages (no axes recorded) are read as {pages} "
                "slices, since its masks label slices, as `annotator import --format "
                "masks` reads them (and `annotator add`, beside a label stack of as many "
                "pages; beside masks named as slices, it reads them as channels unless "
                "given --pages slices)"
            )
        if label is not None and not label_pages:
            raise AnnotatorError(
                f"{label}: one mask, but its picture {p.name} is a stack of {count} slices; "
                f"give a label stack of {count} pages, or a mask per slice named "
                f"{stems[0]}.png ..."
            )
        if label is not None and label_pages != count:
            raise AnnotatorError(
                f"{label}: a label stack of {label_pages} slices, but its picture stack "
                f"{p.name} holds {count}; give one label page per slice"
            )
        stacks[stem] = _PictureStack(p, count, not planes, label, stems)
    return stacks


def _label_stack_pages(label: Path) -> int:
    """How many masks a label file holds as a stack (``formats.masks.mask_stack_pages``);
    a NIfTI label volume that cannot be read is refused in one line now."""
    return volume_header(label).planes if is_nifti(label) else mask_stack_pages(label)


def _dataset_images(
    by_stem: dict[str, Path], stacks: dict[str, _PictureStack]
) -> tuple[dict[str, Path], dict[Path, SliceOf], dict[str, tuple[Path, int]]]:
    """The dataset's images by stem (a stack's slices in its place), each slice's
    stack, and the label stack page of each slice labelled by one. A slice named as
    another image (``vol_z000.png`` beside ``vol.tif``) is refused in one line."""
    entries: dict[str, Path] = {}
    slices: dict[Path, SliceOf] = {}
    label_pages: dict[str, tuple[Path, int]] = {}
    for stem, p in by_stem.items():
        stack = stacks.get(stem)
        if stack is None:
            entries[stem] = p
            continue
        for index, (name, path) in enumerate(zip(stack.stems, stack.paths, strict=True)):
            other = by_stem.get(name) or entries.get(name)
            if other is not None:
                raise AnnotatorError(
                    f"{p}: its slice {index} is named {name}, as {other.name} is; rename one "
                    "of them (images and masks are matched by name)"
                )
            entries[name] = path
            slices[path] = SliceOf(p, index, stack.unnamed_slices)
            if stack.label_stack is not None:
                label_pages[name] = (stack.label_stack, index)
    return entries, slices, label_pages


def _distinct_files(
    images: list[Path], slices: Collection[Path] = ()
) -> tuple[list[Path], list[tuple[Path, Path]]]:
    """The images whose files differ, and ``(left out, kept)`` for those that repeat an
    earlier one exactly; ``slices`` (a stack's, no file of their own) are never left out:
    each slice is an image of its own, as a project's slices are (ADR 0022)."""
    from annotator.storage.project import file_sha1

    first: dict[str, Path] = {}
    kept, twins = [], []
    for p in images:
        if p in slices:
            kept.append(p)
            continue
        digest = file_sha1(p)
        if digest in first:
            twins.append((p, first[digest]))
        else:
            first[digest] = p
            kept.append(p)
    return kept, twins


def _natural_name(name: str) -> list[Any]:
    return _natural_key(Path(name))


def _some(names: list[str], shown: int = 5) -> str:
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def _files_by_stem(folder: Path) -> dict[str, Path]:
    """The image files (and NIfTI volumes) of ``folder`` by stem (``case_0000`` of
    ``case_0000.nii.gz``); two with one stem (``a.png`` and ``a.tif``) are refused,
    since masks and images are matched by stem."""
    out: dict[str, Path] = {}
    for p in sorted(folder.iterdir()):
        # dot-files are not images: macOS's "._x.png" resource forks, editors' backups
        picture = p.suffix.lower() in IMAGE_SUFFIXES or is_nifti(p)
        if not picture or not p.is_file() or hidden(p):
            continue
        stem = file_stem(p)
        if stem in out:
            raise AnnotatorError(
                f"{folder}: {out[stem].name} and {p.name} have the same file stem; images "
                "and masks are matched by stem, so keep one of them"
            )
        out[stem] = p
    return out


def _read_truth(
    path: Path, labelling: Labelling | None = None, page: int | None = None
) -> np.ndarray:
    """A ground-truth mask as ``uint8`` class ids (255 = void), or a one-line error.
    ``labelling``: read through a class table of colours, as the masks import reads
    masks (void and unlabelled are void); ``page``: the slice of a label stack."""
    if labelling is not None:
        labels = read_labels(path, labelling, page)
        if labels.size and int(labels.max()) >= IGNORE:  # (more classes than 8 bits hold)
            raise ImageReadError(path, f"class id {int(labels.max())} does not fit 0..254")
        return np.where(labels < 0, IGNORE, labels).astype(np.uint8)
    if page is not None:
        m = decode_mask_file(path, page)
    elif path.suffix.lower() == ".png":
        m = decode_mask_png(path, table_option="--classes FILE")
    else:  # (a label GeoTIFF's nodata value is one of its ids here: the file's values)
        m = read_image(path, nodata=False, stored=True)  # (ids: a palette is their look)
        if m.ndim == 3:  # an RGB TIFF mask: grey when its channels are equal, else refused
            m = decode_mask_file(path, table_option="--classes FILE")
    if m.ndim != 2:
        raise ImageReadError(path, "a mask must be a single-channel image")
    if m.dtype.kind not in "ui":
        raise ImageReadError(path, f"a mask must hold integer class ids, not {m.dtype} values")
    low, high = int(m.min()), int(m.max())
    if low < 0 or high > IGNORE:
        raise ImageReadError(
            path,
            f"value {low if low < 0 else high} is not a class id: a mask holds 0..254, "
            f"and {IGNORE} for void",
        )
    return m.astype(np.uint8)
