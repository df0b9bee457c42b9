"""Export a project as a training set, and import labels from other tools.

The CLI (``annotator export`` / ``annotator import``) and the GUI's dialogs call these
two functions; both take a plain request and an optional progress callback
``(done, total, message)`` and return a plain report.

Export is all or nothing: files are written into a hidden staging folder next to OUT,
which is renamed to OUT only when every file is written. Import is all or nothing per
annotation file: a file is decoded and checked completely (classes, image, size) before
its label map is saved; a label stack's pages are all checked before any is saved, and
one refused skips the whole stack.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import hashlib
import logging
import os
import shlex
import shutil
import tempfile
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from annotator.core.channels import lacks
from annotator.core.errors import AnnotatorError, FormatError, ImageReadError, SchemaError
from annotator.core.folders import holds_cwd, printable
from annotator.core.limits import IMAGE_SUFFIXES, NAMED_SKIPS, named_first
from annotator.core.naming import (
    NAME_MAX,
    file_key,
    generated_base,
    mirrored,
    pair_base,
    short_stem,
    unique_stems,
    without_mask_ending,
)
from annotator.core.orientation import exif_orientation, turned_size_hint
from annotator.core.records import ImageRecord
from annotator.core.schema import LabelClass, LabelSchema, default_color, name_key, name_now
from annotator.core.status import ImageStatus
from annotator.formats.base import (
    CHANNEL_CHOICE_HOW,
    CHANNEL_NAMES_HOW,
    FORMAT_HOW,
    GEOTIFF_HOW,
    SPLITS,
    UNLABELLED,
    VOC_KEEP_HOW,
    VOID,
    ClassInfo,
    ExportDataset,
    ExportOptions,
    ExportSample,
    ImportItem,
    ImportOptions,
    ReadResult,
    StackSlice,
    StackVolume,
    is_background_name,
    open_pil,
    picture_orientation,
)
from annotator.formats.colour_table import LABELS_HOW
from annotator.formats.labelme import BACKGROUND_HOW
from annotator.formats.masks import stack_refusal
from annotator.formats.nnunet import (
    CASE_BYTES,
    every_case_lacks,
    lacking_cases,
    placement_notes,
    with_project,
)
from annotator.formats.paths import links_leaving, safe_stem
from annotator.formats.registry import FormatSpec, get_format
from annotator.services.projects import refuse_inside_project
from annotator.storage.atomic import (
    clear_replaced_folders,
    put_in_place,
    replace_folder,
    restore_replaced_folder,
)
from annotator.storage.images import read_image
from annotator.storage.kept_labels import KeptLabels
from annotator.storage.lock import holding
from annotator.storage.project import (
    DB_NAME,
    OWN_DIRS,
    REMOVED_DIR,
    UNWRITABLE_ERRNOS,
    Project,
    file_sha1,
)
from annotator.storage.stack_geometry import slice_files, stack_geometry
from annotator.storage.stacks import SliceIndex, read_stack, split_files

log = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]


# --- export ----------------------------------------------------------------------------

#: How the export's summary tells to write the background class, in the CLI's words.
KEEP_BACKGROUND_HOW = "--keep-background to write it"
#: Where the export's summary says the classes left out were named, in the CLI's words.
LEAVE_OUT_HOW = "--leave-out"
#: How the export's summary names copies of the images, in the CLI's words.
COPIES_HOW = "--images copy"
#: How an import refused by ``strict`` tells to import anyway, in the CLI's words.
STRICT_HOW = "rerun without --strict"
#: How an import of another project's folder tells to import that project's labels, in
#: the CLI's words.
OTHER_PROJECT_HOW = "export that project with 'annotator export' and import the export"
#: How an import's note tells to remove an image, in the CLI's words.
REMOVE_HOW = "`annotator remove` (or the image list's menu)"


@dataclass(frozen=True)
class ExportRequest:
    """What to export. ``split``: fractions for train, val, test (normalised; a zero
    fraction leaves that split out). ``include``: ``done`` images, or ``all`` images that
    have a label map."""

    format: str
    out: Path
    split: tuple[float, float, float] = (0.8, 0.1, 0.1)
    seed: int = 0
    include: str = "done"
    image_mode: str = "copy"
    coco_mode: str = "polygon"
    #: Also a label stack per TIFF stack the images were split from (masks format).
    stacks: bool = False
    #: What VOC's ``JPEGImages/`` holds: ``jpg`` (JPEG where it can) or ``keep``
    #: (``formats.voc``).
    voc_images: str = "jpg"
    #: Replace an OUT that holds files (``export --overwrite``): the new folder is
    #: written whole beside it, then swapped in, and only then the old one removed.
    overwrite: bool = False
    #: Masks format: the mask of a GeoTIFF picture as a GeoTIFF with its geo tags
    #: (``export --geotiff``) instead of a PNG with a world file.
    geotiff: bool = False
    #: nnU-Net's ``channel_names``, one per channel (``export --channel-names``).
    channel_names: tuple[str, ...] = ()
    #: Classes (names or ids) the object formats write as no objects (``export
    #: --leave-out``), besides the project's class 0 when it is named like a background
    #: (:data:`~annotator.formats.base.BACKGROUND_NAMES`), unless ``keep_background``.
    leave_out: tuple[str, ...] | None = None
    #: Write the background class as objects too (``export --keep-background``).
    keep_background: bool = False
    #: How the summary tells to write the background class (the GUI names its box).
    keep_background_how: str = KEEP_BACKGROUND_HOW
    #: How the summary says where the classes left out were named (the GUI: its field).
    leave_out_how: str = LEAVE_OUT_HOW
    #: How the summary names copies of the images (the GUI: its Images as field).
    copies_how: str = COPIES_HOW
    #: How the summary tells to ask for GeoTIFF masks (the GUI: its Georeferencing box).
    geotiff_how: str = GEOTIFF_HOW
    #: How the summary names VOC pictures kept as they are (the GUI: its VOC pictures field).
    voc_keep_how: str = VOC_KEEP_HOW
    #: How the summary and refusals tell to choose the project's channels (the GUI: its
    #: menu).
    channel_choice_how: str = CHANNEL_CHOICE_HOW
    #: How the summary tells to name nnU-Net's channels (the GUI: its field).
    channel_names_how: str = CHANNEL_NAMES_HOW


#: The formats that write objects (polygons, RLE) per region, which ``leave_out`` affects.
OBJECT_FORMATS = ("coco", "yolo", "labelme")


def left_out_classes(schema: LabelSchema, request: ExportRequest) -> tuple[tuple[int, ...], bool]:
    """The class ids the export writes as no objects, and whether the background class
    is among them by default. The rule, the CLI's and the GUI's: the classes named
    (``leave_out``) are left out, and so is the background class (class 0 named like a
    background) unless ``keep_background``. A class the schema does not have, a
    leave-out for a format that writes every pixel, and every class left out (nothing
    would be written) are refused."""
    names = schema.names
    if request.format not in OBJECT_FORMATS:
        if request.leave_out:
            raise FormatError(_leave_out_refusal(request.format))
        return (), False
    named = set(leave_out_ids(names, request.leave_out or ()))
    by_default = (
        not request.keep_background
        and 0 not in named
        and bool(names)
        and is_background_name(names[0])
    )
    ids = tuple(sorted(named | ({0} if by_default else set())))
    if names and len(ids) == len(names):
        raise FormatError("every class is left out: nothing would be written")
    return ids, by_default


def _leave_out_refusal(format: str) -> str:
    return (
        f"--leave-out: a {format} export writes every pixel's class (its masks are what "
        "trains); --leave-out is for " + ", ".join(OBJECT_FORMATS) + ", which write objects"
    )


def options_refusal(request: ExportRequest) -> str | None:
    """Why the options of ``request`` do not go with its format (label stacks for a voc
    export...), or None: what the request itself says is wrong, before any project is
    read (the CLI's usage error; :func:`export_project` refuses it too)."""
    if request.stacks and request.format != "masks":
        return f"label stacks are written by the masks format, not {request.format}"
    if request.geotiff and request.format != "masks":
        return f"GeoTIFF masks are written by the masks format, not {request.format}"
    if request.channel_names and request.format != "nnunet":
        return f"channel names are written by the nnunet format, not {request.format}"
    if request.leave_out and request.format not in OBJECT_FORMATS:
        return _leave_out_refusal(request.format)
    return None


def _parts(name: str) -> list[str]:
    """A name as a list split at its commas reads it."""
    return [p.strip() for p in name.split(",")]


def leave_out_ids(names: Sequence[str], words: Sequence[str]) -> tuple[int, ...]:
    """The ids of the classes ``words`` name, as the ``classes`` command reads them
    (:func:`~annotator.services.class_changes.class_by_name`: names in any case, ids,
    ``id:N``; a word that is one class's name and another's id is refused, saying how to
    name each); a word that names no class of ``names`` is refused, the classes listed."""
    from annotator.services.class_changes import class_by_name, names_a_class

    schema = LabelSchema(tuple(LabelClass(k, n, default_color(k)) for k, n in enumerate(names)))
    ids: list[int] = []
    for word in words:
        text = word.strip()
        if not names_a_class(schema, text):
            # (the list is split at its commas: a class whose name holds one is named by id)
            comma = next(
                (c for c in schema.classes if "," in c.name and text in _parts(c.name)), None
            )
            hint = (
                f"; the class {comma.name!r} holds a comma, which separates the classes "
                f"listed: name it by its id, id:{comma.id}"
                if comma is not None
                else ""
            )
            raise FormatError(
                f"leave out {text!r}: the project has no such class; its classes are "
                + ", ".join(f"{i} {n!r}" for i, n in enumerate(names))
                + hint
            )
        try:
            ids.append(class_by_name(schema, text).id)
        except SchemaError as exc:  # one class's name and another's id
            raise FormatError(f"leave out {text!r}: {exc}") from None
    return tuple(sorted(set(ids)))


def left_out_note(
    names: Sequence[str],
    ids: Sequence[int],
    default: bool,
    fmt: str,
    keep_how: str = KEEP_BACKGROUND_HOW,
    leave_how: str = LEAVE_OUT_HOW,
) -> str:
    """The summary's line on the classes written as no objects ("" for none): the
    background left out by default with ``keep_how`` (how to write it), the classes
    named with ``leave_how`` (where they were named); the CLI's flags by default."""
    if not ids:
        return ""
    ids_kept = {
        "coco": "; the other categories keep their ids (class id + 1)",
        "yolo": "; class indices stay the project's ids (data.yaml's names list every class)",
    }.get(fmt, "")
    parts = []
    named = [k for k in ids if not (default and k == 0)]
    if default:
        parts.append(f"class {names[0]!r} written as no objects ({keep_how})")
    if named:
        which = ", ".join(repr(names[k]) for k in named)
        parts.append(f"class(es) {which} written as no objects ({leave_how})")
    return "; ".join(parts) + ids_kept


@dataclass(frozen=True)
class ExportReport:
    """Images per split, the files written (relative to ``out``), images left out."""

    format: str
    out: Path
    counts: dict[str, int]
    files: tuple[str, ...]
    skipped: tuple[tuple[str, str], ...] = ()
    #: ``(images, pixels)`` of unlabelled pixels written as void (VOC: no unlabelled value).
    unlabelled_as_void: tuple[int, int] = (0, 0)
    #: ``(images, pixels)`` of void pixels left out (COCO, YOLO: no void value).
    void_left_out: tuple[int, int] = (0, 0)
    #: The summary's lines after the counts, for the CLI and the GUI alike: label stacks,
    #: images left out, values and pictures the format could not keep, the writer's
    #: warnings (:func:`export_notes`).
    notes: tuple[str, ...] = ()
    #: The stacks whose slices were exported, each stack's slices all in one split.
    stacks_in_one_split: int = 0
    #: ``(name, file name)`` of the images whose files the export names otherwise than
    #: the project: made safe for training tools, unique in any case, short enough
    #: (:func:`_unique_stems`).
    renamed: tuple[tuple[str, str], ...] = ()
    #: The line on the classes written as no objects (:func:`left_out_note`), "" for none.
    left_out: str = ""
    #: The line on the classes the split could not put in every split (:func:`spread_note`).
    spread: str = ""

    @property
    def label_stacks(self) -> list[str]:
        """The label stacks written (``<split>/stacks/<stack>.tif``, a NIfTI volume's
        ``<split>/stacks/<stack>.nii.gz``)."""
        return [f for f in self.files if "/stacks/" in f]


def losses_summary(report: ExportReport) -> list[str]:
    """One line per reserved value the format could not keep, for the CLI and the GUI."""
    lines = []
    name = report.format.upper()
    images, pixels = report.unlabelled_as_void
    if images:
        lines.append(
            f"{images} image(s) have unlabelled pixels ({pixels:,} in all), written as 255 "
            f"(void) since {name} has no unlabelled value: imported again they are void; "
            "export as masks to keep them unlabelled"
        )
    images, pixels = report.void_left_out
    if images:
        lines.append(
            f"{images} image(s) have void pixels ({pixels:,} in all), left out since {name} "
            "has no void value: imported again they are unlabelled; export as masks to keep "
            "them void"
        )
    return lines


def export_notes(
    report: ExportReport, request: ExportRequest, writer_notes: Sequence[str]
) -> list[str]:
    """The lines both front ends show after an export's counts (``ExportReport.notes``),
    in lower case without a full stop, as the CLI prints them."""
    lines = [line for line in (report.left_out, report.spread) if line]
    if request.stacks:
        stacks = [f for f in report.label_stacks if not f.endswith(".nii.gz")]
        volumes = [f for f in report.label_stacks if f.endswith(".nii.gz")]
        if stacks:
            lines.append(
                f"{len(stacks)} label stack(s), page i the labels of slice i (first: {stacks[0]})"
            )
        if volumes:
            lines.append(
                f"{len(volumes)} NIfTI label volume(s), in the voxel order and with the "
                f"affine of the volume the slices came from (first: {volumes[0]})"
            )
        if not report.label_stacks:
            lines.append("no label stack: none of the images exported is a slice of a stack")
    if report.stacks_in_one_split and sum(1 for f in request.split if f > 0) > 1:
        lines.append(
            f"slices of a stack are kept in one split ({report.stacks_in_one_split} "
            "stack(s)): no split scores slices next to ones trained on"
        )
    if report.skipped:
        lines.append(f"left out {len(report.skipped)} image(s) without a label map")
    if report.renamed:
        name, file_name = min(report.renamed)
        lines.append(
            f"{len(report.renamed)} file name(s) changed to be safe for training tools, "
            f"e.g. {name!r} -> {file_name!r}"
        )
    lines.extend(losses_summary(report))
    lines.extend(writer_notes)
    if report.format == "nnunet":
        lines.extend(placement_notes(report.out.name))
    elif request.image_mode == "symlink":
        lines.append(
            "the images are symbolic links to the originals; an import refuses links "
            f"leading out of the folder it reads, so export with copies ({request.copies_how}) to "
            "import this set again"
        )
    return lines


def parse_split(text: str) -> tuple[float, float, float]:
    """``"0.8,0.1,0.1"`` -> fractions (one to three numbers, normalised to sum 1)."""
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise FormatError(f"--split {text!r}: expected numbers like 0.8,0.1,0.1") from None
    if not 1 <= len(values) <= 3 or any(v < 0 or not np.isfinite(v) for v in values):
        raise FormatError(f"--split {text!r}: expected up to three non-negative fractions")
    values += [0.0] * (3 - len(values))
    top = max(values)
    if top <= 0:
        raise FormatError(f"--split {text!r}: the fractions sum to zero")
    values = [v / top for v in values]  # 1e308,1e308 would sum to infinity
    total = sum(values)
    return (values[0] / total, values[1] / total, values[2] / total)


def split_keys(
    keys: Sequence[str],
    fractions: Sequence[float],
    seed: int,
    groups: Mapping[str, str] | None = None,
    classes: Mapping[str, Collection[int]] | None = None,
) -> dict[str, list[str]]:
    """Assign each key to exactly one split, reproducibly for a seed.

    Keys are sorted first, so the result does not depend on the order they come in.
    Split sizes are the fractions of the count apportioned by largest remainder, a tie
    going to the smaller share (then the earlier split): 5 images at 0.8/0.1/0.1 are
    4/1/0, at 0.9/0.1 4/1. Rounding each share and giving the rest to the last split
    made the first 4/0/1, a test image but no validation.

    ``groups`` names the group of a key (the Stack a Slice was split from): the keys of
    one group go to one split together, so no neighbouring slice of a test slice is
    trained on. A key without a group is a group of its own. The groups are shuffled,
    then the largest first goes to the split that still lacks the most keys: the
    fractions apply to keys, as near as whole groups allow (a stack larger than the
    validation share trains). Without groups of several keys the split is that of single
    keys, the same as ever for the same seed.

    ``classes`` names the classes each key's labels hold: the split is then stratified
    by class presence (:func:`_stratified`), so a rare class is not left out of
    validation or test by chance.
    """
    named = groups or {}
    members: dict[tuple[bool, str], list[str]] = {}
    for key in sorted(keys):
        group = named.get(key)
        members.setdefault((False, key) if group is None else (True, group), []).append(key)
    units = sorted(members.values(), key=lambda m: m[0])
    n = sum(len(m) for m in units)
    perm = np.random.default_rng(seed).permutation(len(units))
    shuffled = [units[i] for i in perm]
    used = [(name, f) for name, f in zip(SPLITS, fractions) if f > 0]
    total = sum(f for _, f in used) or 1.0
    quotas = [f / total * n for _, f in used]
    sizes = [int(q) for q in quotas]
    by_remainder = sorted(
        range(len(used)), key=lambda k: (-round(quotas[k] - sizes[k], 9), quotas[k], k)
    )
    for k in by_remainder[: n - sum(sizes)]:
        sizes[k] += 1
    out: dict[str, list[str]] = {name: [] for name, _ in used}
    if classes is not None:
        return _stratified(shuffled, classes, [name for name, _ in used], sizes)
    if all(len(m) == 1 for m in units):  # single keys: cut the shuffled list at the sizes
        start = 0
        for (name, _), size in zip(used, sizes, strict=True):
            out[name] = [m[0] for m in shuffled[start : start + size]]
            start += size
        return out
    # Groups, largest first (in shuffled order among equals), each to the split that
    # still needs the most keys (the earlier of equals).
    need = list(sizes)
    for unit in sorted(shuffled, key=len, reverse=True):
        k = max(range(len(used)), key=lambda j: (need[j], -j))
        out[used[k][0]].extend(unit)
        need[k] -= len(unit)
    return out


def _stratified(
    units: Sequence[list[str]],
    classes: Mapping[str, Collection[int]],
    names: Sequence[str],
    sizes: Sequence[int],
) -> dict[str, list[str]]:
    """The split of ``units`` (groups of keys, in shuffled order) into the parts ``names``
    of ``sizes`` keys, stratified by the classes the keys hold (greedy, rarest class
    first). First every class held by at least as many units as there are non-empty
    parts gets one unit in each part lacking it (the unit holding the most classes that
    part lacks); then the units left of each class, rarest first, each go to the part
    that wants that class most (its share of the class's units, less those it has), then
    the part that lacks the most keys; the units holding no class fill the parts that
    lack keys. The parts keep their sizes as nearly as spreading the rare classes allows.
    """
    held = [frozenset(c for k in unit for c in classes.get(k, ())) for unit in units]
    total = sum(sizes) or 1
    parts = [k for k, size in enumerate(sizes) if size > 0]
    need = [float(size) for size in sizes]
    where: list[int | None] = [None] * len(units)
    has: list[set[int]] = [set() for _ in names]
    count: dict[int, int] = {}
    for h in held:
        for c in h:
            count[c] = count.get(c, 0) + 1
    rarest = sorted(count, key=lambda c: (count[c], c))
    want = {c: [sizes[k] / total * count[c] for k in range(len(names))] for c in count}

    def put(u: int, k: int) -> None:
        where[u] = k
        need[k] -= len(units[u])
        has[k].update(held[u])
        for c in held[u]:
            want[c][k] -= 1

    for c in rarest:  # every part gets each class that has a unit for it
        if count[c] < len(parts):
            continue
        for k in parts:
            free = [u for u in range(len(units)) if where[u] is None and c in held[u]]
            if c in has[k] or not free:
                continue
            put(max(free, key=lambda u: (len(held[u] - has[k]), -u)), k)
    for c in rarest:  # the rest of each class's units where that class is wanted most
        for u in range(len(units)):
            if where[u] is None and c in held[u]:
                room = [k for k in parts if need[k] > 0] or parts
                put(u, max(room, key=lambda k: (want[c][k], need[k], -k)))
    for u in range(len(units)):  # units without a class fill what each part lacks
        if where[u] is None:
            put(u, max(parts, key=lambda k: (need[k], -k)))
    out: dict[str, list[str]] = {name: [] for name in names}
    for u, part in enumerate(where):
        assert part is not None
        out[names[part]].extend(units[u])
    return out


def spread_note(
    parts: Mapping[str, Sequence[str]],
    classes: Mapping[str, Collection[int]],
    names: Sequence[str],
    groups: Mapping[str, str],
) -> str:
    """The summary's line on the classes not in every non-empty split ("" when all
    are): held by too few images (a stack counting once) to be spread over them."""
    used = [name for name, keys in parts.items() if keys]
    if len(used) < 2:
        return ""
    missing = []
    for c in sorted({c for held in classes.values() for c in held}):
        holders = [k for k, held in classes.items() if c in held]
        in_parts = [name for name in used if any(c in classes.get(k, ()) for k in parts[name])]
        if len(in_parts) < len(used):
            units = len({groups.get(k, "\0" + k) for k in holders})
            label = names[c] if 0 <= c < len(names) else str(c)
            missing.append(f"{label!r} ({units} image(s): {', '.join(in_parts)})")
    if not missing:
        return ""
    return (
        "class(es) in too few images to be in every split (a stack counts as one): "
        + ", ".join(missing[:NAMED_SKIPS])
        + (f" and {len(missing) - NAMED_SKIPS} more" if len(missing) > NAMED_SKIPS else "")
    )


#: What writers put after a stem: labelme's ``.json``, YOLO's ``.txt``, a mask's ``.png``,
#: a copied image's own suffix. An export's stems leave room for the longest.
WRITER_SUFFIXES = (".json", ".txt", ".png", *sorted(IMAGE_SUFFIXES))
EXPORT_STEM_BYTES = NAME_MAX - max(len(s) for s in WRITER_SUFFIXES)


def _unique_stems(
    records: Sequence[ImageRecord], others: Sequence[ImageRecord] = ()
) -> dict[int, str]:
    """Each record's file stem in an export: safe, unique in any case, at most
    :data:`EXPORT_STEM_BYTES`, and a made-up ``~N`` never equal to the real stem of any
    of ``records`` or ``others`` (the project's other images), which an import would
    take for that image's; a safe stem neither (``a_b`` for ``a b.png`` beside an image
    ``a_b.png``: an import gives a name spelled exactly like one image to that image,
    :meth:`_ImageIndex._named`) (:func:`~annotator.core.naming.unique_stems`)."""
    ordered = sorted(records, key=lambda r: r.id)
    return unique_stems(
        [(r.id, safe_stem(r.name)) for r in ordered],
        EXPORT_STEM_BYTES,
        reserved=[safe_stem(r.name) for r in others],
        own={r.id: _real_stem(r) for r in ordered},
        reserved_real=[_real_stem(r) for r in others],
    )


def _real_stem(rec: ImageRecord) -> str:
    """The stem of the image's name (``a b`` for ``scene1/a b.png``)."""
    return Path(Path(rec.name).name).stem


def build_export_dataset(
    project: Project,
    request: ExportRequest,
    progress: Progress | None = None,
    notes: list[str] | None = None,
    lacking: list[str] | None = None,
) -> tuple[ExportDataset, list[tuple[str, str]]]:
    """The samples to export, split, and the images left out with the reason; ``notes``
    gets the summary's line on the classes the split could not spread (:func:`spread_note`).
    nnU-Net: the images whose picture lacks a channel of the Channel Choice are left out
    (``lacking`` gets their names), as training leaves them out (refused when all do).

    The split is stratified by the classes each label map holds (read in the checking
    pass), unless it has one part only.

    Every image file to export is checked to be the one that was labelled (one ``stat``
    while its stamp is unchanged, else a hash: :meth:`Project.content_unchanged`);
    ``progress`` follows that pass (``checking NAME``), which can take seconds on large
    projects."""
    if request.include not in ("done", "all"):
        raise FormatError(f"--include {request.include!r}: use done or all")
    if request.voc_images not in ("jpg", "keep"):
        raise FormatError(f"--voc-images {request.voc_images!r}: use jpg or keep")
    refusal = options_refusal(request)
    if refusal is not None:
        raise FormatError(refusal)
    left_out_classes(project.schema, request)  # refused before any image is checked
    skipped: list[tuple[str, str]] = []
    chosen: list[ImageRecord] = []
    held: dict[int, frozenset[int]] = {}  # image id -> the classes its labels hold
    stratify = sum(1 for f in request.split if f > 0) > 1
    everyone = project.images()
    wanted = [rec for rec in everyone if request.include == "all" or rec.status is ImageStatus.DONE]
    choice = project.channel_choice() if request.format == "nnunet" else ()
    left: list[str] = []
    for i, rec in enumerate(wanted):
        if progress:
            progress(i, len(wanted), f"checking {rec.name}")
        if not project.has_mask(rec):  # one saved and then lost is an error, not a skip
            skipped.append((rec.name, "has no label map"))
            continue
        if lacks(rec.channels, choice):
            left.append(rec.name)
            continue
        if not project.image_path(rec).is_file():
            raise FormatError(
                f"{project.image_path(rec)}: the image file of {rec.name!r} is missing (moved "
                "or deleted?); put it back to export"
            )
        _check_unchanged(project, rec)
        chosen.append(rec)
        if stratify:
            held[rec.id] = _classes_held(_load_mask(project, rec), len(project.schema.classes))
    if left and not chosen:
        project_word = shlex.quote(str(project.root))
        raise FormatError(every_case_lacks(choice, project_word, request.channel_choice_how))
    if lacking is not None:
        lacking.extend(left)
    stems = _unique_stems(chosen, everyone)
    by_stem = {stems[r.id]: r for r in chosen}
    # The slices of one stack go to one split: neighbouring slices are nearly the same
    # picture, and one of them trained on would score its neighbour in the test split.
    slice_of = SliceIndex(project.root)
    where_of = {stem: slice_of(project.image_path(rec)) for stem, rec in by_stem.items()}
    groups = {stem: where.stack for stem, where in where_of.items() if where is not None}
    stack_folders = {
        where.stack: project.image_path(by_stem[stem]).resolve().parent
        for stem, where in where_of.items()
        if where is not None
    }
    by_class = {stem: held[rec.id] for stem, rec in by_stem.items()} if stratify else None
    parts = split_keys(list(by_stem), request.split, request.seed, groups, by_class)
    schema = project.schema
    if by_class is not None and notes is not None:
        note = spread_note(parts, by_class, schema.names, groups)
        notes.extend([note] if note else [])

    def sample(rec: ImageRecord) -> ExportSample:
        image = project.image_path(rec)
        where = where_of[stems[rec.id]]
        return ExportSample(
            stem=stems[rec.id],
            image_path=image,
            width=rec.width,
            height=rec.height,
            load_mask=lambda: _load_mask(project, rec),
            stack=None
            if where is None
            else StackSlice(where.stack, where.index, where.planes, where.volume),
            # (checked unchanged above; its values as the file holds them, nodata too)
            load_image=lambda: read_image(image, nodata=False),
            name=rec.name,
        )

    dataset = ExportDataset(
        classes=tuple(ClassInfo(c.id, c.name, c.color) for c in schema.classes),
        void=schema.void,
        unlabelled=schema.unlabelled,
        dtype=str(schema.dtype),
        splits={
            name: tuple(sample(by_stem[k]) for k in sorted(keys)) for name, keys in parts.items()
        },
        stacks={name: _stack_volume(name, folder) for name, folder in stack_folders.items()},
        # (read only for the format that writes pixel values: a damaged setting must not
        # stop an export of masks, which copies the picture files)
        channel_choice=project.channel_choice() if request.format == "nnunet" else (),
        source_channels=project.source_channel_names() if request.format == "nnunet" else ((), ""),
    )
    return dataset, skipped


def _stack_volume(name: str, folder: Path) -> StackVolume:
    """The whole stack split into ``folder``: a loader of each slice's picture (its
    values as the file holds them), and its geometry, read when a writer asks
    (``storage.stack_geometry``: where a stack's voxel size is chosen)."""

    def loader(path: Path) -> Callable[[], np.ndarray]:
        return lambda: read_image(path, nodata=False)

    files = slice_files(folder) or []
    loads = tuple(loader(f) if f.is_file() else None for f in files)
    return StackVolume(name, loads, lambda: stack_geometry(folder))


def _check_unchanged(project: Project, rec: ImageRecord) -> None:
    """Refuse an image file whose content is no longer what was added (replaced on disk):
    its label map belongs to the old picture. The project's own check: one ``stat`` while
    the file's stamp is unchanged, else a hash."""
    path = project.image_path(rec)
    try:
        same = project.content_unchanged(rec)
    except OSError as exc:
        raise FormatError(
            f"{path}: cannot read the image file of {rec.name!r} ({exc.strerror or exc})"
        ) from None
    if not same:
        raise FormatError(
            f"{path}: the image file of {rec.name!r} is not the one that was labelled (its "
            "content changed since it was added: replaced?); put the original back to export"
        )


def _classes_held(mask: np.ndarray, n_classes: int) -> frozenset[int]:
    """The class ids a label map holds (void and unlabelled are none)."""
    counts = np.bincount(mask.ravel(), minlength=n_classes)[:n_classes]
    return frozenset(np.flatnonzero(counts).tolist())


def _load_mask(project: Project, rec: ImageRecord) -> np.ndarray:
    mask = project.load_mask(rec)
    if mask is None:
        raise FormatError(f"the label map of {rec.name!r} disappeared during the export")
    return mask


def export_project(
    project: Project, request: ExportRequest, progress: Progress | None = None
) -> ExportReport:
    """Write the project's labelled images to ``request.out`` in ``request.format``.

    OUT must not exist or be an empty folder, outside the project folder; with
    ``request.overwrite`` a folder holding files is replaced, once the new one is
    complete (:func:`~annotator.storage.atomic.replace_folder`), unless it holds the
    project or one of its image files. Nothing appears at OUT unless every file was
    written (at the root of a drive, only a hidden staging folder does).
    """
    spec = get_format(request.format)
    out = Path(request.out).absolute()
    refuse_inside_project(project, out, "export")
    # The root of a drive (an empty USB stick) cannot be replaced by a rename: the files
    # are staged inside it, and moved up when all are written. So is an empty current
    # folder (`export P . ...`): replaced, it left the shell in a deleted folder.
    inside = out.is_dir() and (os.path.ismount(out) or (holds_cwd(out) and not any(out.iterdir())))
    partial = f".{out.name}.partial-"
    beside = out if inside else out.parent
    try:
        beside.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # read-only, no permission, a file where a folder should be
        raise _cannot_create(out, exc) from None
    # One export into a folder at a time: two at once took each other's staged files
    # for a killed export's and removed them, and one said "exported" over a broken set.
    refusal = f"{out}: another export is writing to this folder; wait for it to end"
    with contextlib.ExitStack() as held:
        try:
            held.enter_context(holding(beside / f"{partial}lock", refusal))
        except OSError as exc:
            raise _cannot_create(out, exc) from None
        return _export_held(project, request, spec, out, inside, partial, progress)


def _cannot_create(out: Path, exc: OSError) -> FormatError:
    blocker = next((p for p in out.parents if p.exists()), None)
    reason = exc.strerror or str(exc)
    if blocker is not None and not blocker.is_dir():
        reason = f"{blocker} is a file, not a folder"
    return FormatError(f"{out}: cannot create the export folder ({reason})")


def _export_held(
    project: Project,
    request: ExportRequest,
    spec: FormatSpec,
    out: Path,
    inside: bool,
    partial: str,
    progress: Progress | None,
) -> ExportReport:
    """:func:`export_project`, once this process holds the folder's export lock."""
    if restore_replaced_folder(out):
        log.warning("%s: put back as it was before an export killed while replacing it", out)
    replacing = out.exists() and (
        not out.is_dir() or any(not (inside and p.name.startswith(partial)) for p in out.iterdir())
    )
    if replacing:
        if not request.overwrite or not out.is_dir():
            raise FormatError(
                f"{out}: already exists and is not an empty folder; give a new or empty "
                "folder" + ("" if out.is_file() else ", or --overwrite to replace it")
            )
        if out.is_symlink():  # a rename would move the link, not the folder it names
            raise FormatError(
                f"{out}: is a link to {out.resolve()}; give that folder to replace it"
            )
        _refuse_replacing(project, out, inside)
    spread: list[str] = []
    lacking: list[str] = []
    dataset, skipped = build_export_dataset(project, request, progress, spread, lacking)
    if not any(dataset.splits.values()):
        what = "done images" if request.include == "done" else "images with a label map"
        raise FormatError(f"nothing to export: the project has no {what}")
    beside = out if inside else out.parent
    try:
        for stale in beside.glob(f"{glob.escape(partial)}*"):  # a killed export's
            if stale.is_dir():  # (the lock held is a file)
                shutil.rmtree(stale, ignore_errors=True)
        stage = Path(tempfile.mkdtemp(prefix=partial, dir=beside))
    except OSError as exc:  # read-only, no permission
        raise _cannot_create(out, exc) from None
    lost: dict[str, int] = {}  # stem -> pixels of the value the format cannot keep
    if spec.loses is not None:
        value = dataset.unlabelled if spec.loses == "unlabelled" else dataset.void
        dataset = _counting(dataset, value, lost)
    left_out, by_default = left_out_classes(project.schema, request)
    try:
        options = ExportOptions(
            leave_out=left_out,
            image_mode=request.image_mode,
            coco_mode=request.coco_mode,
            stacks=request.stacks,
            voc_images=request.voc_images,
            geotiff=request.geotiff,
            channel_names=request.channel_names,
            geotiff_how=request.geotiff_how,
            voc_keep_how=request.voc_keep_how,
            channel_names_how=request.channel_names_how,
            channel_choice_how=request.channel_choice_how,
        )
        assert spec.writer is not None
        result = spec.writer(stage, dataset, options, progress)
        # The rename says "complete": the files must be on disk before it, or a power cut
        # could leave a complete-looking export of empty files. One sync for them all (a
        # flush per file would cost seconds on thousands of masks).
        if hasattr(os, "sync"):
            os.sync()
        if replacing:
            replace_folder(stage, out)
        else:
            put_in_place(stage, out, inside)
        clear_replaced_folders(out)
    except OSError as exc:
        shutil.rmtree(stage, ignore_errors=True)
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):  # the error names the file copied
            raise FormatError(
                f"{out}: the disk is full ({exc.strerror}); nothing was exported: free some "
                "space there, or export elsewhere"
            ) from None
        raise
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    total = sum(len(v) for v in dataset.splits.values())
    if progress:
        progress(total, total, "")
    losses = (sum(1 for n in lost.values() if n), sum(lost.values()))
    report = ExportReport(
        format=spec.name,
        out=out,
        counts={k: len(v) for k, v in dataset.splits.items()},
        stacks_in_one_split=len({s.stack.stack for _, s in dataset.samples() if s.stack}),
        files=result.files,
        skipped=tuple(skipped),
        unlabelled_as_void=losses if spec.loses == "unlabelled" else (0, 0),
        void_left_out=losses if spec.loses == "void" else (0, 0),
        renamed=tuple(
            (s.name, s.image_file_name)
            for _, s in dataset.samples()
            if s.name and s.image_file_name != s.name
        ),
        left_out=left_out_note(
            dataset.names,
            left_out,
            by_default,
            spec.name,
            request.keep_background_how,
            request.leave_out_how,
        ),
        spread="".join(spread),
    )
    notes = [lacking_cases(lacking, dataset.channel_choice)] if lacking else []
    notes += with_project(result.notes, shlex.quote(str(project.root)))
    return replace(report, notes=tuple(export_notes(report, request, notes)))


def _refuse_replacing(project: Project, out: Path, drive_root: bool) -> None:
    """Refuse an ``--overwrite`` that would remove what is not an export: the project
    folder, or one of the project's image files, inside ``out``; and the root of a
    drive, which no rename can replace whole."""
    real = out.resolve()
    root = project.root.resolve()
    if real in root.parents:
        raise FormatError(
            f"{out}: holds the project folder {project.root}; replacing it would remove "
            "the project: export somewhere else"
        )
    if drive_root:
        raise FormatError(
            f"{out}: is the root of a drive, which cannot be replaced at once; export to a "
            "new folder on it"
        )
    for rec in project.images():
        path = project.image_path(rec)
        # as recorded too: a link there to a picture elsewhere is how the project finds it
        if real in path.resolve().parents or out in path.absolute().parents:
            raise FormatError(
                f"{out}: holds the image file of {rec.name!r} in the project; replacing "
                "the folder would remove it: export somewhere else"
            )


def _counting(dataset: ExportDataset, value: int, counts: dict[str, int]) -> ExportDataset:
    """``dataset`` whose samples count the pixels of ``value`` in ``counts`` (by stem)
    as the writer loads their label maps: no second read."""

    def counted(sample: ExportSample) -> ExportSample:
        def load() -> np.ndarray:
            mask = sample.load_mask()
            counts[sample.stem] = int(np.count_nonzero(mask == value))
            return mask

        return replace(sample, load_mask=load)

    splits = {k: tuple(counted(s) for s in v) for k, v in dataset.splits.items()}
    return replace(dataset, splits=splits)


# --- import ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportRequest:
    """What to import. ``strict``: stop when the source has classes the project lacks
    (or labels its ``labels.txt`` does not list) instead of adding or skipping them."""

    format: str
    src: Path
    strict: bool = False
    labels_file: Path | None = None
    background: str | None = None
    #: How the user gives another class table, as the summary says it (the GUI's words
    #: differ from the CLI's ``--labels FILE``).
    labels_how: str = LABELS_HOW
    #: How the user chooses the class of pixels no shape covers, as the summary says it.
    background_how: str = BACKGROUND_HOW
    #: How the user imports without stopping at classes the project lacks (the GUI: its box).
    strict_how: str = STRICT_HOW
    #: How the hint of a source that looks like another format chooses that format (the
    #: CLI: ``--format``; the GUI: its field).
    format_how: str = FORMAT_HOW
    #: How the refusal of another project's folder says to import its labels.
    other_project_how: str = OTHER_PROJECT_HOW
    #: How a note tells to remove an image (the GUI: the image list's menu).
    remove_how: str = REMOVE_HOW


@dataclass
class ImportReport:
    """What an import did."""

    format: str
    matched: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    imported: list[str] = field(default_factory=list)
    classes_added: list[str] = field(default_factory=list)
    unknown_labels: dict[str, int] = field(default_factory=dict)
    boxes_only: int = 0  # annotations with a box and no mask, left out (COCO)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    #: How many of ``skipped`` (the first) the reader refused whole: a COCO JSON file, a
    #: labelme file, a Label Studio export or task; the others are items it read (a COCO
    #: image entry whose picture is not found...).
    refused_by_reader: int = 0
    #: Images the source gives no labelled pixel (a COCO image without annotations and no
    #: background class): their labels in the project are left as they were, never
    #: replaced by nothing; new ones are added without labels.
    unlabelled: list[str] = field(default_factory=list)
    #: What the line on ``unlabelled`` adds on those of them that no label file names
    #: (YOLO's way of saying an image shows no object), "" for none.
    without_label_file: str = ""
    background: str = ""  # where pixels no shape covers went (labelme), for the summary
    #: ``(added, namesake)``: pictures added as new images although a project image has
    #: their file name, because that image shows another picture.
    namesakes: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # the reader's own summary lines
    #: Images whose labels the import replaced with other ones; those labels are kept
    #: in ``kept`` (a masks dataset in ``removed/``: importing it brings them back).
    replaced: list[str] = field(default_factory=list)
    kept: str = ""
    #: Images given back the status recorded with labels the project kept itself
    #: (``images.json``), by status: ``{"in_progress": 2, "done": 1}``.
    statuses: dict[str, int] = field(default_factory=dict)
    #: Pixels of raw 8-bit masks imported (no class list), and those of them whose 255
    #: was read as unlabelled (the summary says so, with the share).
    raw_pixels: int = 0
    raw_top_unlabelled: int = 0

    def skipped_lines(self, every: bool, how: str, limit: int = NAMED_SKIPS) -> list[str]:
        """The lines that name the files skipped, one each, with its reason: the first
        ``limit``, then one line counting the rest, which ``how`` lists (as an add's,
        :func:`annotator.core.limits.named_first`). ``every``: all of them."""
        lines = []
        for path, reason in self.skipped:
            # most reasons begin with the file they are about: name it once
            said = reason if reason.startswith(str(path)) else f"{path}: {reason}"
            lines.append(printable(f"skipped {said}"))
        return lines if every else named_first(lines, how, limit)


class ImportInterrupted(KeyboardInterrupt):
    """Ctrl+C (SIGTERM, SIGHUP) stopped an import part way: the label maps it saved
    before (``report.imported``, of the ``total`` the source holds) stay in the project,
    their images done; the same import again imports the rest (those saved are the same
    labels again: nothing changes for them)."""

    def __init__(self, report: ImportReport, total: int, reading: Path | None = None) -> None:
        self.report = report
        self.total = total
        #: the source, when the import stopped while reading it (nothing written yet)
        self.reading = reading
        super().__init__(
            f"interrupted while reading {reading}, before any change to the project"
            if reading is not None
            else f"interrupted after importing {len(report.imported)} of {total} mask(s)"
        )


def import_headline(report: ImportReport, title: str | None = None) -> str:
    """The summary's first line (for the CLI and the GUI): what was imported, and that
    the images of the labels imported are done now (but those given back the status
    kept with their labels). ``title``: the format as said (the CLI's name by default)."""
    done = len(report.imported) - sum(report.statuses.values())
    marked = f"; {done} image(s) marked done" if done > 0 else ""
    return (
        f"imported {len(report.imported)} mask(s) from {title or report.format}: "
        f"{len(report.matched)} matched to project images, {len(report.added)} image(s) "
        f"added{marked}"
    )


#: The most names a summary line lists of a class table's (ADE20K's has 150).
NAMES_LISTED = 12


def _listed(names: Sequence[str]) -> str:
    more = len(names) - NAMES_LISTED
    return ", ".join(names[:NAMES_LISTED]) + (f" and {more} more" if more > 0 else "")


def unnamed_classes_note(before: Sequence[str], named: Sequence[str]) -> str | None:
    """The line on the project's classes (``before`` the import) that the source's class
    table does not name, so that no pixel became one of them (a Decathlon set's
    ``cancer`` where the project says ``tumour``); ``None`` when it names them all or
    no table named the source's classes."""
    if not named:
        return None
    keys = {name_key(n) for n in named}
    missing = [n for n in before if name_key(n) not in keys]
    if not missing:
        return None
    return (
        f"no class of the source is the project's {_listed(missing)}, so no pixel was "
        f"imported as {'it' if len(missing) == 1 else 'them'} (the source names "
        f"{_listed(named)})"
    )


def unlabelled_summary(report: ImportReport) -> str:
    """One line on the images the source left unlabelled (for the CLI and the GUI)."""
    n, first = len(report.unlabelled), report.unlabelled[0]
    return (
        f"{n} image(s) without a labelled pixel in the source (first: {first}): their labels "
        "were left as they were; images new to the project were added to label"
        + report.without_label_file
    )


def namesakes_summary(report: ImportReport) -> str:
    """One line on pictures added beside a project image of the same file name."""
    added, namesake = report.namesakes[0]
    return (
        f"{len(report.namesakes)} image(s) have the file name of a project image but show "
        f"another picture, and were added as new images (first: {added}, beside {namesake})"
    )


def _needed_names(
    items: Sequence[ImportItem], declared: Sequence[str], named: Sequence[str] = ()
) -> list[str]:
    """The classes an import needs: those the source declares, then those its labels
    hold, in the order of its class table (``named``) where it names them (a
    ``dataset.json`` declares none: its classes come in as masks hold them)."""
    names: list[str] = list(declared)
    seen = {name_key(n) for n in names}
    for item in items:
        if item.names is None:
            continue
        for i in item.used_names():
            n = item.names[i]
            if name_key(n) not in seen:
                seen.add(name_key(n))
                names.append(n)
    order = {name_key(n): i for i, n in enumerate(named)}
    return sorted(names, key=lambda n: order.get(name_key(n), len(order)))


def _follow_renames(project: Project, result: ReadResult) -> str | None:
    """In labels the project kept itself, read a class name that no class of the project
    has, but that one of them had before it was renamed, as that class's: the label maps
    kept before a class was removed, imported after another was renamed, split the
    renamed class in two (its pixels went to a new class of its old name). ``result``
    is changed in place; the note says what was read so, or None."""
    renames = project.class_renames()
    schema = project.schema
    # Only labels the project kept itself (a dataset of others' with a name the project
    # once had is not of that class), and never onto a name the source has too (the
    # two were then different classes).
    if not renames or not result.items or any(i.status is None for i in result.items):
        return None
    own = {name_key(n) for n in (*result.declared, *result.named)}
    own |= {name_key(n) for i in result.items for n in (i.names or ())}
    followed: dict[str, str] = {}

    def now(name: str) -> str:
        if schema.has_name(name):
            return name
        renamed = name_now(name, 0, renames)
        if renamed != name and schema.has_name(renamed) and name_key(renamed) not in own:
            followed[name] = schema.by_name(renamed).name
            return followed[name]
        return name

    items = []
    for item in result.items:
        if item.names is not None:
            item = replace(item, names=tuple(now(n) for n in item.names))
        items.append(item)
    result.items = items
    result.declared = [now(n) for n in result.declared]
    result.named = [now(n) for n in result.named]
    if not followed:
        return None
    pairs = ", ".join(f"{a!r} as {b!r}" for a, b in followed.items())
    return f"read the classes renamed since by their names now: {pairs}"


def _ensure_classes(
    project: Project, names: Sequence[str], strict: bool, strict_how: str = STRICT_HOW
) -> list[str]:
    schema = project.schema
    missing = [n for n in names if not schema.has_name(n)]
    if not missing:
        return []
    if strict:
        raise FormatError(
            f"classes not in the project: {', '.join(missing)} ({strict_how} to add them)"
        )
    new: LabelSchema = schema
    for n in missing:
        try:
            new = new.with_class(n)
        except SchemaError as exc:  # (a name the project cannot take: said as the source's)
            raise FormatError(
                f"the source's class {n!r} cannot be added to the project: {exc}"
            ) from None
    project.set_schema(new)
    return missing


def binary_255(items: Sequence[ImportItem], schema: LabelSchema) -> bool:
    """Whether the raw masks of an import are a two-class project's 0/255 masks, so 255
    is the second class: decided over the whole import, never per mask. Per mask, 0/1
    masks whose 255 means "ignore" gave an image without foreground 255 = class 1.
    A mask refused whatever 255 means (a value no class has, such as 128) has no say:
    one odd mask made every other one's 255 unlabelled."""
    raw = [i for i in items if i.names is None and i.raw_bits]
    if len(schema) != 2 or not raw:
        return False
    present: set[int] = set()
    for item in raw:
        top = (1 << item.raw_bits) - 1
        used = set(item.used_names())
        if used - {0, 1, 255, top - 1, top}:
            continue
        present.update(used)
    return 255 in present and present <= {0, 255}


def top_read_as_unlabelled(report: ImportReport, labels_how: str = LABELS_HOW) -> str | None:
    """The note on the raw 8-bit masks imported whose 255 was read as unlabelled (the top
    value, as an Annotator masks export writes it), with the share of their pixels it
    covers; ``None`` when none was. ``labels_how``: how the user gives a class list (the
    CLI's ``give --labels FILE``, the GUI's own words)."""
    if not report.raw_top_unlabelled:
        return None
    n = report.raw_top_unlabelled
    share = n / max(1, report.raw_pixels)
    give = (
        "give the masks' class list with --labels FILE"
        if labels_how == LABELS_HOW
        else f"{labels_how} listing the masks' classes"
    )
    return (
        f"255 in the masks was read as unlabelled, the top value of 8-bit masks (as an "
        f"Annotator masks export writes it): {n} pixel{'' if n == 1 else 's'}, "
        f"{lost_share(share)} of their pixels; if it marks a class, {give} (a line "
        "'255 <class>', e.g. '255 scratch')"
    )


def lost_share(share: float) -> str:
    """``share`` (above 0) as a percentage that never reads 0% (nor 100% short of all):
    ``<0.1%`` below a thousandth, one decimal below 10%."""
    if share < 0.001:
        return "<0.1%"
    if share < 0.1:
        return f"{share:.1%}"
    if share < 1 and round(share * 100) >= 100:
        return ">99%"
    return f"{share:.0%}"


def _project_values(
    item: ImportItem, schema: LabelSchema, binary: bool = False, labels_how: str = LABELS_HOW
) -> np.ndarray:
    """The item's mask in the project's class ids (``binary``: see :func:`binary_255`);
    FormatError if a value has no class (:func:`_not_class_ids`)."""
    mask = item.labels()
    out = np.empty(mask.shape, schema.dtype)
    n = len(schema)
    if item.names is not None:
        # (a name no value holds may have no class: a dataset.json's background, not added)
        ids = [schema.by_name(n).id if schema.has_name(n) else -1 for n in item.names]
        lut = np.array(ids or [0], np.int64)
        cls = mask >= 0
        values = lut[mask[cls]]
        if values.size and values.min() < 0:
            schema.by_name(item.names[int(mask[cls][np.argmin(values)])])  # (says which)
        out[cls] = values
    else:
        raw = _raw_ids(mask, item, binary)
        if why := _not_class_ids(item, raw, n, labels_how):
            raise FormatError(why)
        cls = raw >= 0
        out[cls] = raw[cls]
        mask = raw
    out[mask == VOID] = schema.void
    out[mask == UNLABELLED] = schema.unlabelled
    return out


def _raw_ids(raw: np.ndarray, item: ImportItem, binary: bool) -> np.ndarray:
    """The raw values of an item without class names (a copy) as the project's class
    ids, the reserved values marked: in a mask file of ``raw_bits``, the top value is
    unlabelled and the one below void; ``binary``: 255 is class 1 (:func:`binary_255`)."""
    raw = raw.copy()
    if item.raw_bits:
        if binary:
            raw[raw == 255] = 1  # the import's 0/255 masks in a two-class project
        top = (1 << item.raw_bits) - 1
        raw[raw == top] = UNLABELLED
        raw[raw == top - 1] = VOID
    return raw


def _turned_hint(item: ImportItem, height: int, width: int, picture: Path | bytes) -> str:
    """What a mask of the picture's size turned by 90 degrees most likely means (the
    picture: its file, or the bytes embedded; its EXIF orientation is blamed only when
    it has one that turns it)."""
    mask_hw, picture_hw = (item.height, item.width), (height, width)
    if not turned_size_hint(mask_hw, picture_hw, 1):  # (no file read for another mismatch)
        return ""
    return turned_size_hint(mask_hw, picture_hw, picture_orientation(picture))


def _not_class_ids(
    item: ImportItem, ids: np.ndarray, n: int, labels_how: str = LABELS_HOW
) -> str | None:
    """Why the raw ``ids`` (:func:`_raw_ids`) of ``item`` are not the class ids of a
    project of ``n`` classes, or None; ``labels_how``: how the user gives a class list
    (the CLI's ``give --labels FILE``, the GUI's own words)."""
    bad = np.unique(ids[ids >= n])
    if not bad.size:
        return None
    where = item.source if item.stack_page is None else f"{item.source} (slice {item.stack_page})"
    give = (
        "give their class list with --labels FILE"
        if labels_how == LABELS_HOW
        else f"{labels_how} listing their classes"
    )
    return (
        f"{where}: values {bad[:5].tolist()} are not class ids of this project "
        f"(0..{n - 1}); if the masks number their classes otherwise, {give} (id lines: "
        f"'{int(bad[0])} <class>')"
    )


def _label_stacks(items: Sequence[ImportItem]) -> dict[Path, list[ImportItem]]:
    """The pages of each label stack among ``items``, by the stack's file."""
    stacks: dict[Path, list[ImportItem]] = {}
    for item in items:
        if item.stack_page is not None:
            stacks.setdefault(item.source, []).append(item)
    return stacks


def _refuse_stacks(
    refused: Mapping[Path, list[tuple[int, str]]],
    stacks: Mapping[Path, list[ImportItem]],
    report: ImportReport,
) -> set[int]:
    """Skip whole each label stack some of whose pages are ``refused`` (``(page,
    reason)``), in one line each (:func:`~annotator.formats.masks.stack_refusal`); the
    ``id`` s of all their pages' items."""
    dropped: set[int] = set()
    for stack, pages in refused.items():
        group = stacks[stack]
        report.skipped.append((str(stack), stack_refusal(stack, pages, group[0].stack_planes)))
        dropped.update(id(item) for item in group)
    return dropped


def _stacks_by_values(
    items: Sequence[ImportItem],
    schema: LabelSchema,
    binary: bool,
    report: ImportReport,
    labels_how: str = LABELS_HOW,
) -> set[int]:
    """The label stacks among ``items`` whose raw values (no class names) are not all
    the project's class ids, skipped whole before anything is added (a page left out
    would be a hole in the volume); the ``id`` s of their pages' items. Read from the
    values each page was found to hold: nothing is decoded again."""
    stacks = _label_stacks(items)
    refused: dict[Path, list[tuple[int, str]]] = {}
    for stack, pages in stacks.items():
        for item in pages:
            if item.names is not None:
                continue
            ids = _raw_ids(np.array(item.used_names(), np.int64), item, binary)
            if why := _not_class_ids(item, ids, len(schema), labels_how):
                refused.setdefault(stack, []).append((item.stack_page or 0, why))
    return _refuse_stacks(refused, stacks, report)


#: Two pictures of the same size whose grey levels correlate at least this well are one
#: picture saved twice (re-encoded by another tool: a JPEG saved again, labelme's embedded
#: copy, another bit depth). Different pictures correlate far less.
SAME_PICTURE_CORRELATION = 0.95


def _grey(array: np.ndarray) -> np.ndarray:
    """``array`` as float grey levels (the first three channels averaged)."""
    a = array.astype(np.float64)
    return a if a.ndim == 2 else a[..., : min(3, a.shape[2])].mean(axis=2)


def same_picture(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two decoded images show the same picture (:data:`SAME_PICTURE_CORRELATION`).

    A correlation ignores the levels each file uses: a 12-bit camera picture in 16-bit
    files, or the same picture saved at 8 bits, still matches; a low-contrast picture's
    JPEG noise does not hide it."""
    if a.shape[:2] != b.shape[:2]:
        return False
    ga, gb = _grey(a), _grey(b)
    finite = np.isfinite(ga) & np.isfinite(gb)
    if not finite.all():  # no value (nodata, NaN) is no brightness: where both have one
        ga, gb = ga[finite], gb[finite]
        if ga.size == 0:
            return False
    sa, sb = float(ga.std()), float(gb.std())
    if sa == 0.0 or sb == 0.0:  # a flat picture: the same only if both are flat
        return sa == sb
    r = float(np.mean((ga - ga.mean()) * (gb - gb.mean()))) / (sa * sb)
    return r >= SAME_PICTURE_CORRELATION


def _names_of(rec: ImageRecord) -> tuple[str, ...]:
    """The file names an image goes by: its name in the project, and its file's own
    name when the project renamed it (``0001~2.png`` for a second ``0001.png``)."""
    return tuple(dict.fromkeys((Path(rec.name).name, Path(rec.path).name)))


def _at_path(item: ImportItem, found: Sequence[ImageRecord]) -> ImageRecord | None:
    """The one image of ``found`` whose project name is, or ends in, the folders and
    file name the annotation gives (COCO's ``sub1/a.jpg``: ``sub1/a.jpg``,
    ``images/sub1/a.jpg``, not ``sub2/a.jpg``), in any case; else None."""
    if item.image_path is None or "/" not in item.image_path.strip("/"):
        return None
    want = file_key(item.image_path.strip("/"))
    at = [r for r in found if (n := file_key(r.name)) == want or n.endswith("/" + want)]
    return at[0] if len(at) == 1 else None


def _spelled_as(spelled: str, found: Sequence[ImageRecord]) -> ImageRecord | None:
    """The one image of ``found`` called ``spelled`` in every letter, where all of them
    are called so but for the letters' case (``f.png`` of ``f.png`` and ``f.PNG``)."""
    low = file_key(spelled)
    if not all(any(file_key(n) == low for n in _names_of(r)) for r in found):
        return None
    exact = [r for r in found if spelled in _names_of(r)]
    return exact[0] if len(exact) == 1 else None


def _distinct(records: Sequence[ImageRecord]) -> list[ImageRecord]:
    """``records`` without repeats, in their order."""
    return list({r.id: r for r in records}.values())


@dataclass(frozen=True)
class _Named:
    """The project images a name may mean: ``all`` of them, those it spells in every
    letter (``exact``), and the one it means (``chosen``), when that is clear."""

    all: list[ImageRecord]
    exact: list[ImageRecord]
    chosen: ImageRecord | None
    #: ``a`` when the name (``a~2``) may be one an export made for an image of stem ``a``
    generated: str = ""


class _ImageIndex:
    """Which project image an imported item's labels belong to.

    An item that carries its picture (a file next to it, or embedded) belongs to the
    project image with the same content, whatever either is called (an export renames
    ``a b.png`` to ``a_b.png``). Otherwise to a project image its name may mean (its
    stem for mask files) that shows the same picture: two pictures called ``0001.png``
    (``scene1/``, ``scene2/``) are two images, and a third is compared with both. An item
    with no picture is matched by name alone, and only where the name means one image:
    ``a~2`` in a project of ``a.png``, ``a.tif`` and ``a~2.png`` may be an export's name
    for ``a.tif``, so it is refused, with what to do.
    """

    def __init__(
        self, project: Project, pinned: dict[int, ImageRecord | None] | None = None
    ) -> None:
        self.project = project
        self.by_name: dict[str, list[ImageRecord]] = {}
        self.by_stem: dict[str, list[ImageRecord]] = {}
        #: Stems that files written for an image have where they are not its own: an
        #: export's safe stem (``a_b`` for ``a b.png``), a long stem shortened.
        self.by_made: dict[str, list[ImageRecord]] = {}
        self.by_base: dict[str, list[ImageRecord]] = {}  # by pair base (core/naming.py)
        #: Images by picture: one each, but for slices of one content (blank frames).
        self.by_sha: dict[str, list[ImageRecord]] = {}
        self.by_path: dict[str, ImageRecord] = {}  # by the path recorded
        #: The pictures of nnU-Net's 2-D cases joined (``storage/cases.py``), by their
        #: first channel file's size and SHA-1; read on first need.
        self._cases: dict[tuple[tuple[Any, Any], ...], Path] | None = None
        self._digests: dict[int, str | None] = {}
        self._same: dict[tuple[int, int], bool] = {}
        self._source_sha: dict[Path, str] = {}  # an annotation file's own SHA-1
        self.imported: dict[int, Path] = {}  # image id -> the source its labels came from
        #: Label stack slices bound to the project image of their own picture stack's
        #: slice (by ``id`` of the item; None: refused; :func:`_bind_label_stacks`).
        self.pinned = pinned or {}
        for rec in project.images():
            self.add(rec)

    def add(self, rec: ImageRecord) -> None:
        base = Path(rec.name).name
        stem = Path(base).stem
        self.by_name.setdefault(file_key(base), []).append(rec)
        self.by_stem.setdefault(file_key(stem), []).append(rec)
        # An image renamed when added (``0001~2.png``: a file ``s2/0001.png`` added beside
        # an image ``0001.png``) is meant by its file's own name too.
        own = Path(rec.path).name
        if file_key(own) != file_key(base):
            self.by_name.setdefault(file_key(own), []).append(rec)
            self.by_stem.setdefault(file_key(Path(own).stem), []).append(rec)
        exported = short_stem(safe_stem(base), EXPORT_STEM_BYTES)
        made = {
            safe_stem(base),
            safe_stem(base, composed=False),  # (an export made before accents were kept)
            exported,
            short_stem(exported, CASE_BYTES),  # an nnU-Net case's (room for _0000.nii.gz)
            short_stem(stem, NAME_MAX - len(".png")),  # predict --out's mask files
        }
        for other in {file_key(m) for m in made} - {file_key(stem)}:
            self.by_made.setdefault(other, []).append(rec)
        self.by_base.setdefault(pair_base(stem), []).append(rec)
        self.by_sha.setdefault(rec.sha1, []).append(rec)
        self.by_path.setdefault(rec.path, rec)

    def digest(self, item: ImportItem) -> str | None:
        """The SHA-1 of the picture the item carries (None without one, or unreadable)."""
        key = id(item)
        if key not in self._digests:
            digest = None
            if item.image_data is not None:
                digest = hashlib.sha1(item.image_data).hexdigest()
            elif item.image_file is not None:
                with contextlib.suppress(OSError):
                    digest = file_sha1(item.image_file)
            self._digests[key] = digest
        return self._digests[key]

    def named(self, item: ImportItem) -> list[ImageRecord]:
        """Every project image the item's name may mean (the first is its namesake)."""
        return self._named(item.image_name, item.match_by_stem).all

    def _named(
        self, name: str, by_stem: bool, source: Path | None = None, spelled: str | None = None
    ) -> _Named:
        """What ``name`` may mean: for a mask file (``by_stem``) its stem, the image's
        stem or whole name (``x.jpg.png`` is ``x.jpg``'s); else the image's file name.
        The same name in other letters counts too (``X.png`` for ``x.png``), and so do
        the names an export makes (``a_b`` for ``a b.png``), but a name spelled exactly
        like one image is that image's (``a_b.png``'s, beside ``a b.png``): a mask file's
        whole name too, ``spelled`` (``f.PNG`` for ``f.PNG`` beside ``f.png``). An image
        whose file is the ``source`` itself (a mask added as an image) is never meant."""
        low = file_key(name)
        if by_stem:
            stem = name
            plain = self.by_name.get(low, []) + self.by_stem.get(low, [])
            made = self.by_made.get(low, [])
            exact = [r for r in plain if any(name in (n, Path(n).stem) for n in _names_of(r))]
        else:
            stem, suffix = os.path.splitext(name)
            plain = self.by_name.get(low, [])
            made = [
                r
                for r in self.by_made.get(file_key(stem), [])
                if Path(r.name).suffix.lower() == suffix.lower()
            ]
            exact = [r for r in plain if name in _names_of(r)]
        # ``a~2`` may be the name an export gave the second image of stem ``a``.
        generated = generated_base(stem) or ""
        sharing = _distinct(
            self.by_stem.get(file_key(generated), []) + self.by_made.get(file_key(generated), [])
        )
        if len(sharing) < 2:
            generated, sharing = "", []
        if source is not None:
            plain, exact, made = (
                [r for r in group if not self.is_file(r, source)] for group in (plain, exact, made)
            )
        plain, exact = _distinct(plain), _distinct(exact)
        found = _distinct(plain + made + sharing)
        if not found and by_stem:  # x_mask.png, x_label.png, x_L.png: x's (core/naming.py)
            base = pair_base(name)
            found = _distinct(self.by_stem.get(base, []) or self.by_base.get(base, []))
            if source is not None:
                found = [r for r in found if not self.is_file(r, source)]
        chosen = None
        if len(found) == 1:
            chosen = found[0]
        elif len(exact) == 1 and all(r in plain or r in made for r in found):
            chosen = exact[0]  # (an export never gives one image another's real stem)
        elif len(exact) > 1 and spelled is not None:
            chosen = _spelled_as(spelled, found)
        return _Named(found, exact, chosen, generated)

    @staticmethod
    def spelled(item: ImportItem) -> str | None:
        """A mask file's whole name, where its stem is the name matched (``f.png``)."""
        if not item.match_by_stem or item.source.stem != item.image_name:
            return None
        return item.source.name

    def find(self, item: ImportItem) -> ImageRecord | None:
        """The project image the item's labels belong to, or None: its picture is new."""
        if id(item) in self.pinned:
            return self.pinned[id(item)]
        # Labels the project kept itself name their picture by its SHA-1: the image of
        # that picture, whatever the names say (scene1/0001.png, scene2/0001.png).
        if item.image_sha1 is not None and item.image_sha1 in self.by_sha:
            return self._one_of(item, self.by_sha[item.image_sha1])
        digest = self.digest(item)
        if digest is not None and digest in self.by_sha:
            return self._one_of(item, self.by_sha[digest])
        if (joined := self._joined(item, digest)) is not None:
            return joined
        named = self._named(item.image_name, item.match_by_stem, item.source, self.spelled(item))
        if digest is None:
            for other in item.other_names:  # another name it may have, if this names none
                if named.all:
                    break
                named = self._named(other, item.match_by_stem, item.source)
            if named.chosen is None and (at := _at_path(item, named.all)) is not None:
                return at
            if named.chosen is None and named.all:
                # labels/val/0.png beside images/val/0.png and images/train/0.png: the
                # dataset's layout says which (core/naming.py), when every image meant
                # has the mask's very stem (no export's ~N name, no whole-name rule)
                stem = file_key(item.image_name)
                near = (
                    mirrored(item.source.resolve(), [self.project.image_path(r) for r in named.all])
                    if item.match_by_stem
                    and not named.generated
                    and all(
                        stem in (file_key(Path(n).stem) for n in _names_of(r)) for r in named.all
                    )
                    else None
                )
                if near is None:
                    if item.kept_name is not None:
                        raise FormatError(_kept_missing(item))
                    raise FormatError(self._ambiguous(item, named))
                return named.all[near]
            return named.chosen
        same = [r for r in named.all if self._shows_same(item, r)]
        if len(same) > 1:
            same = [r for r in same if r in named.exact] or same
        if len(same) > 1:
            raise FormatError(
                f"{item.source}: its picture is the picture of several project images ("
                + ", ".join(r.name for r in same[:3])
                + "); these labels were not imported"
            )
        return same[0] if same else None

    def _joined(self, item: ImportItem, digest: str | None) -> ImageRecord | None:
        """The project image of the nnU-Net 2-D case whose first channel file is the
        item's picture (``imagesTr/cell_0000.png`` of ``labelsTr/cell.png``), its
        channel files joined into one picture (``storage/cases.py``): the join of that
        file and of the further channels beside it, all of the same content (two cases
        may share a first channel file); else None."""
        if digest is None or item.image_file is None:
            return None
        from annotator.storage.cases import case_content, case_pictures

        if self._cases is None:
            self._cases = case_pictures(self.project.root)
        if not self._cases:
            return None
        content = case_content(item.image_file, digest)
        picture = None if content is None else self._cases.get(content)
        if picture is None:
            return None
        return self.by_path.get(picture.relative_to(self.project.root).as_posix())

    def _one_of(self, item: ImportItem, same: list[ImageRecord]) -> ImageRecord:
        """Of the images of the item's picture, the one its labels belong to: the only
        one; else (slices of one content, a volume's blank frames) the one its kept name
        or its file name means; else refused, naming them."""
        if len(same) == 1:
            return same[0]
        ids = {r.id for r in same}
        if item.kept_name is not None:
            kept = [r for r in same if r.name == item.kept_name]
            if len(kept) == 1:
                return kept[0]
        for name in (item.image_name, *item.other_names):
            spelled = self.spelled(item) if name == item.image_name else None
            named = self._named(name, item.match_by_stem, item.source, spelled)
            meant = [r for r in named.all if r.id in ids]
            if len(meant) > 1:
                meant = [r for r in meant if r in named.exact] or meant
            if len(meant) > 1 and named.chosen in meant:
                return named.chosen
            if len(meant) == 1:
                return meant[0]
        raise FormatError(
            f"{item.source}: its picture is the picture of {len(same)} project images ("
            + ", ".join(r.name for r in same[:3])
            + (f" and {len(same) - 3} more" if len(same) > 3 else "")
            + f") and its name {item.image_name!r} says none of them; these labels were not "
            "imported (name them after the image, as an export does)"
        )

    def is_file(self, rec: ImageRecord, source: Path) -> bool:
        """Whether the image is the annotation being imported (the same bytes: a mask
        added as an image, there or as a copy extracted again)."""
        if source not in self._source_sha:
            try:
                self._source_sha[source] = file_sha1(source)
            except OSError:
                self._source_sha[source] = ""
        return rec.sha1 == self._source_sha[source]

    def _ambiguous(self, item: ImportItem, named: _Named) -> str:
        """Why an item without a picture matches none of the images its name may mean,
        and what to do that works."""
        text = (
            f"{item.source}: image name {item.image_name!r} matches several project images: "
            + ", ".join(r.name for r in named.all[:3])
            + (f" and {len(named.all) - 3} more" if len(named.all) > 3 else "")
        )
        if named.generated:
            text += (
                f" ({item.image_name!r} may be the name an export gave one of the images of "
                f"stem {named.generated!r})"
            )
        if not item.match_by_stem:
            return text + "; put the picture where the annotation names it, so it decides"
        suffix = item.source.suffix
        fixes: list[tuple[ImageRecord, str]] = []
        for rec in named.all[:3]:
            for stem in (Path(rec.name).stem, Path(rec.name).name):
                if self._named(stem, True).chosen == rec:
                    fixes.append((rec, stem))
                    break
        if fixes and all(stem == Path(rec.name).name for rec, stem in fixes):
            text += f"; name the mask after the whole image name ({fixes[0][1]}{suffix})"
            text += " to say which, or"
        elif fixes:
            text += "; name the mask " + ", or ".join(f"{s}{suffix} for {r.name}" for r, s in fixes)
            text += " to say which, or"
        else:
            text += ";"
        folder = item.source.parent
        pictures = {"masks": "images", "SegmentationClass": "JPEGImages"}.get(folder.name)
        if pictures is None:
            return text + (
                " put the masks in a masks/ folder and their pictures in images/ beside it, "
                "so that the pictures decide"
            )
        return text + f" put its picture in {folder.parent / pictures}, so that it decides"

    def _shows_same(self, item: ImportItem, rec: ImageRecord) -> bool:
        key = (id(item), rec.id)
        if key not in self._same:
            try:  # refused when the file is no longer the picture that was added
                ours = self.project.load_image(rec)
            except (AnnotatorError, OSError):
                # The project's file is gone (a drive not mounted) or replaced: only the
                # content recorded when it was added can say it is the same picture.
                self._same[key] = self.digest(item) == rec.sha1
                return self._same[key]
            try:
                theirs = _decode_carried(item)
            except (AnnotatorError, OSError):  # said when it is added
                self._same[key] = False
                return False
            self._same[key] = same_picture(ours, theirs)
        return self._same[key]


def _kept_missing(item: ImportItem) -> str:
    """Why labels the project kept of an image are not imported: no image of the
    picture they were kept with, and their name says no one image."""
    return (
        f"{item.source}: the labels of {item.kept_name!r}, whose picture is not in the "
        "project (removed?): add that picture again, then import this folder again"
    )


def named_alone(project: Project, stem: str, record: ImageRecord) -> bool:
    """Whether a masks import puts a mask file of ``stem`` with no picture beside it on
    ``record``: its name means that image and no other."""
    chosen = _ImageIndex(project)._named(stem, True).chosen
    return chosen is not None and chosen.id == record.id


def _decode_carried(item: ImportItem) -> np.ndarray:
    """The picture an item carries, decoded as project images are."""
    from annotator.storage.cases import case_picture
    from annotator.storage.images import read_image

    if item.image_file is not None:  # (an nnU-Net case's channel files: all of them)
        joined = case_picture(item.image_file)
        return joined if joined is not None else read_image(item.image_file)
    assert item.image_data is not None
    suffix, _ = _image_size_of_bytes(item.image_data, f"{item.source}: imageData")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"embedded{suffix}"
        path.write_bytes(item.image_data)
        return read_image(path)


def _image_size_of_file(path: Path) -> tuple[int, int]:
    from annotator.storage.images import read_image

    array = read_image(path)
    return int(array.shape[0]), int(array.shape[1])


def _image_size_of_bytes(data: bytes, where: str) -> tuple[str, tuple[int, int]]:
    import io

    from PIL import UnidentifiedImageError

    try:
        with open_pil(io.BytesIO(data), where) as im:
            fmt = (im.format or "PNG").lower()
            w, h = im.size
            if exif_orientation(im) in (5, 6, 7, 8):
                w, h = h, w
    except UnidentifiedImageError:  # its message names a BytesIO object, not the data
        raise FormatError(f"{where}: embedded data is not an image of a known format") from None
    except OSError as exc:
        raise FormatError(f"{where}: embedded image cannot be decoded ({exc})") from None
    suffix = {"jpeg": ".jpg", "mpo": ".jpg", "png": ".png", "bmp": ".bmp", "tiff": ".tif"}.get(fmt)
    if suffix is None:
        raise FormatError(f"{where}: embedded image format {fmt} is not supported")
    return suffix, (h, w)


def _add_embedded(project: Project, item: ImportItem, suffix: str) -> ImageRecord:
    assert item.image_data is not None
    return project.add_image_bytes(
        item.image_data, safe_stem(item.image_name) + suffix, Path(item.image_name).name
    )


def _import_item(
    project: Project,
    index: _ImageIndex,
    item: ImportItem,
    fmt: str,
    report: ImportReport,
    binary: bool = False,
    kept: KeptLabels | None = None,
    labels_how: str = LABELS_HOW,
) -> None:
    """Save one item's labels (its image checked by :func:`_with_images`); labels of
    the image that it replaces with other ones are first copied to ``kept``;
    ``labels_how``: as :func:`_not_class_ids`'s."""
    mask = _project_values(item, project.schema, binary, labels_how)
    rec = index.find(item)
    matched = rec is not None
    raw_8_bit = item.names is None and item.raw_bits == 8 and not binary
    if rec is not None:
        first = index.imported.get(rec.id)
        if first is not None:
            # (a COCO file's entries share its source: the entry is named by its picture)
            own, named = PurePosixPath(item.image_name), PurePosixPath(rec.name)
            by_name = file_key(own.name) in (file_key(named.name), file_key(named.stem))
            which = (
                f"image {rec.name!r}"
                if by_name
                else f"{item.image_name!r}, the same picture as image {rec.name!r},"
            )
            raise FormatError(
                f"{item.source}: {which} already got its labels from {first} in this import; "
                "these were not imported"
            )
        if (rec.height, rec.width) != (item.height, item.width):
            raise FormatError(
                f"{item.source}: the mask is {item.width}x{item.height} but image {rec.name!r} "
                f"is {rec.width}x{rec.height}"
                + _turned_hint(item, rec.height, rec.width, project.image_path(rec))
            )
    else:
        # (said as a namesake only when spelled alike: Case.png beside case.png is the
        # source's own other image, not "the file name of a project image")
        spelled = item.image_name
        namesake = next(
            (r for r in index.named(item) if spelled in (Path(r.name).name, Path(r.name).stem)),
            None,
        )
        new = True
        if item.image_file is not None:
            rec, new = _add_picture(project, item.image_file)
        else:
            assert item.image_data is not None
            suffix, _ = _image_size_of_bytes(item.image_data, f"{item.source}: imageData")
            rec = _add_embedded(project, item, suffix)
        if new:
            index.add(rec)
            report.added.append(rec.name)
            if namesake is not None:
                report.namesakes.append((rec.name, namesake.name))
        else:  # its case's picture, recorded, its file written again (storage/cases.py)
            matched = True
    index.imported[rec.id] = item.source
    if not np.any(mask != project.schema.unlabelled):
        # Nothing labelled (a COCO image without annotations, no background class): an
        # empty map would replace the image's labels with nothing and call it done.
        report.unlabelled.append(rec.name)
        return
    if matched:
        report.matched.append(rec.name)
        if kept is not None and rec.labelled_pixels:
            old = project.load_mask(rec)
            if old is not None and not np.array_equal(old, mask):
                kept.add(rec)  # labels are work: an import never destroys them
                report.replaced.append(rec.name)
    status = _status_of(item)
    project.save_mask(rec.id, mask, source=f"import:{fmt}", status=status)
    report.imported.append(rec.name)
    if raw_8_bit:  # (only 255 becomes unlabelled in a raw 8-bit mask)
        report.raw_pixels += int(mask.size)
        report.raw_top_unlabelled += int((mask == project.schema.unlabelled).sum())
    if item.status is not None:
        report.statuses[status.value] = report.statuses.get(status.value, 0) + 1


def _add_picture(project: Project, file: Path) -> tuple[ImageRecord, bool]:
    """Add the picture an imported item carries: an nnU-Net 2-D case's first channel
    file with its further channels beside it, joined into one picture as the add joins
    them (``storage/cases.py``); any other file as it is. ``(its image, whether it was
    added now)``: a case's picture recorded before, whose file was gone, is written
    again and its image given, never its first channel file alone."""
    from annotator.storage.cases import case_channels_beside

    further = case_channels_beside(file)
    if further:
        added = project.add_images([file, *further])
        if added.errors:
            raise added.errors[0]
        if added.added:
            return added.added[0], True
        if (picture := added.case_pictures.get(str(file))) is not None:
            rec = project.image_at(picture)  # its picture, recorded (written again)
            if rec is not None:
                return rec, False
        if why := next((w for f, w in added.skipped if f == str(file)), None):
            raise FormatError(why)  # never its first channel alone (why names the file)
    return project.add_image_array_file(file, name=file.name), True


def _status_of(item: ImportItem) -> ImageStatus:
    """The status an imported image gets: done, or for labels the project kept itself
    the status the image had then (labelled, so never new)."""
    if item.status is None:
        return ImageStatus.DONE
    return ImageStatus.IN_PROGRESS if item.status is ImageStatus.NEW else item.status


def _carried_size(item: ImportItem) -> tuple[int, int]:
    """``(height, width)`` of the picture an item carries (FormatError if unreadable)."""
    if item.image_file is not None:
        return _image_size_of_file(item.image_file)
    assert item.image_data is not None
    return _image_size_of_bytes(item.image_data, f"{item.source}: imageData")[1]


def _bind_label_stacks(
    project: Project,
    items: Sequence[ImportItem],
    report: ImportReport,
    binary: bool = False,
    words: tuple[str, str] = (LABELS_HOW, REMOVE_HOW),
) -> tuple[list[str], dict[int, ImageRecord | None], set[int]]:
    """Bind each slice of a label stack beside its picture stack (``masks/vol.tif`` by
    ``images/vol.tif``, ``vol_mask.tif`` by ``vol.tif``) to the project image of that
    stack's slice: the image of its split's slice file (found by content: ``vol~2_z000``
    when another ``vol.tif`` was split first), else the image its name means if that
    shows the slice's picture (the user's own slice files, a stack saved again), else
    the slice of any split that shows it (the same pictures saved in other bytes, split
    as ``vol~2`` while the name means ``vol``'s slices).

    Slices bound to none are added for their labels, when the stack holds as many
    slices as the labels and every page can be imported (their size, their values:
    ``binary`` as :func:`binary_255`): a label stack is imported whole or not at all, so
    one page refused skips all its pages in one line (:func:`_refuse_stacks`), and its
    slices are not added. A stack split before,
    whose missing slices were removed from the project, gets back only the slices its
    labels label (a page all unlabelled, as an export writes the slices it left out, is
    no reason to add a removed slice again). A stack that cannot be added is named and
    its unbound slices are refused, never left to their names.

    ``words``: how the user gives a class list and removes an image, as the refusals and
    notes say it (``labels_how``, ``remove_how`` of :class:`ImportRequest`).

    Returns the names of the images added, the bindings (by ``id`` of the item; None:
    refused) and the ``id`` s of the items that are not to be imported (said already)."""
    groups: dict[Path, list[ImportItem]] = {}
    for item in items:
        if item.picture_stack is not None and item.stack_page is not None:
            groups.setdefault(item.picture_stack, []).append(item)
    pins: dict[int, ImageRecord | None] = {}
    names: list[str] = []
    dropped: set[int] = set()
    if not groups:  # (the indexes below cost a pass over every image)
        return names, pins, dropped
    index = _ImageIndex(project)
    splits = _SplitSlices(project)
    for stack, group in groups.items():
        planes = group[0].stack_planes
        left, files = _pin_to_split(project, stack, group, pins)
        if not left:
            continue
        pictures = _stack_pictures(stack)
        unbound = []
        for item in left:
            page = item.stack_page or 0
            try:
                rec = index.find(item)
            except AnnotatorError:
                rec = None  # several of that name
            if rec is None or not _shows(project, rec, pictures, page):
                rec = splits.showing(pictures, page, planes)
            if rec is not None:
                pins[id(item)] = rec
            else:
                unbound.append(item)
        if not unbound or pictures is None:
            continue
        if len(pictures) != planes:
            holds = (
                "it is one picture" if len(pictures) == 1 else f"it holds {len(pictures)} slices"
            )
            report.notes.append(
                f"{stack}: not added: {holds} where its labels hold {planes} slices; the "
                "labels of slices not in the project were not imported"
            )
            pins.update((id(item), None) for item in unbound)
            continue
        usable: list[tuple[ImportItem, bool]] = []  # (item, whether it labels a pixel)
        refused: dict[Path, list[tuple[int, str]]] = {}
        for item in unbound:
            why, labelled = _page_check(item, pictures, stack, project.schema, binary, words[0])
            if why is None:
                usable.append((item, labelled))
            else:
                refused.setdefault(item.source, []).append((item.stack_page or 0, why))
        if refused:  # a label stack is imported whole or not at all
            gone = _refuse_stacks(refused, _label_stacks(items), report)
            dropped |= gone
            for key in gone:
                pins.pop(key, None)
            usable = [(item, labelled) for item, labelled in usable if id(item) not in gone]
        if not usable:  # nothing to import onto them: the slices are not added
            continue
        if files is not None:  # split before: the slices missing were removed since
            names.extend(_slices_back(project, stack, files, usable, pins, dropped, report))
            continue
        from annotator.storage.stacks import case_channels  # (nnU-Net's case_0001...)

        added = project.add_images([stack, *case_channels(stack)], unnamed_slices=True)
        names.extend(r.name for r in added.added)
        report.notes.extend(f"{e.path}: {e.problem}" for e in added.errors)
        # (an edited stack: refused as by `annotator add`, and said)
        report.notes.extend(f"{p}: {why}" for p, why in added.skipped if Path(p) == stack)
        # (its pages added before as one picture of channels: that image stays unlabelled)
        if also := added.pages_split_text(words[1]):
            report.notes.append(also)
        still = _pin_to_split(project, stack, [item for item, _ in usable], pins)[0]
        pins.update((id(item), None) for item in still)
    report.added.extend(names)
    return names, pins, dropped


def _uncovered_note(project: Project, items: Sequence[ImportItem], how: str) -> str:
    """What the summary says when a COCO, YOLO or Label Studio source (a defect or
    object dataset, whose pixels no object covers are background by its convention)
    left pixels unlabelled on the images imported (``items``, which the import marks
    done), while the project has a background class: the option that labels them (""
    otherwise)."""
    from annotator.formats.base import UNLABELLED
    from annotator.formats.labelme import project_background

    background = project_background(project.schema.names)
    if background is None:
        return ""
    # (an image the source labels nowhere is not marked done, and said apart)
    uncovered = sum(1 for item in items if _partly(item.labels() == UNLABELLED))
    if not uncovered:
        return ""
    option = f"{how} {background}" if how.startswith("--") else f"choosing {background!r} in {how}"
    return (
        f"pixels no object covers stay unlabelled in {uncovered} image(s) imported; in a "
        f"dataset of objects they are background: {option} labels them so"
    )


def _partly(where: np.ndarray) -> bool:
    """Whether some pixels are ``where`` and some are not."""
    return bool(where.any()) and not bool(where.all())


class _SplitSlices:
    """The project's images that are slices of a split stack, by ``(slice, slices)``;
    found on first use (a pass over every image)."""

    def __init__(self, project: Project) -> None:
        self._project = project
        self._by_page: dict[tuple[int, int], list[ImageRecord]] | None = None

    def showing(
        self, pictures: Sequence[np.ndarray] | None, page: int, planes: int
    ) -> ImageRecord | None:
        """The slice ``page`` of a split of ``planes`` slices that shows exactly
        ``pictures[page]``, if any."""
        if pictures is None or page >= len(pictures):
            return None
        if self._by_page is None:
            where = SliceIndex(self._project.root)
            self._by_page = {}
            for rec in self._project.images():
                found = where(self._project.image_path(rec))
                if found is not None:
                    self._by_page.setdefault((found.index, found.planes), []).append(rec)
        for rec in self._by_page.get((page, planes), []):
            try:
                if np.array_equal(self._project.load_image(rec), pictures[page], equal_nan=True):
                    return rec
            except (AnnotatorError, OSError):  # gone or replaced: not this slice
                continue
        return None


def _page_check(
    item: ImportItem,
    pictures: Sequence[np.ndarray],
    stack: Path,
    schema: LabelSchema,
    binary: bool,
    labels_how: str = LABELS_HOW,
) -> tuple[str | None, bool]:
    """Whether a label stack page can be imported onto its slice of ``pictures`` (the
    reason it cannot, or None) and whether it labels any pixel (``labels_how``: as
    :func:`_not_class_ids`'s)."""
    page = item.stack_page or 0
    h, w = pictures[page].shape[:2]
    if (item.height, item.width) != (h, w):
        return (
            f"{item.source}: slice {page} of the labels is {item.width}x{item.height} but "
            f"slice {page} of {stack} is {w}x{h}"
        ), False
    if item.names is not None:  # class names: any class is added (or --strict refused)
        return None, bool(np.any(item.labels() != UNLABELLED))
    try:
        values = _project_values(item, schema, binary, labels_how)
    except FormatError as exc:
        return str(exc), False
    return None, bool(np.any(values != schema.unlabelled))


def _slices_back(
    project: Project,
    stack: Path,
    files: list[Path],
    usable: list[tuple[ImportItem, bool]],
    pins: dict[int, ImageRecord | None],
    dropped: set[int],
    report: ImportReport,
) -> list[str]:
    """Add again the slice files of a split whose images were removed, for the pages
    that label them (those that label nothing are left out, and counted in a note); the
    names of the images added."""
    known = {r.id for r in project.images()}
    names, empty = [], 0
    for item, labelled in usable:
        if not labelled:
            dropped.add(id(item))
            empty += 1
            continue
        file = files[item.stack_page or 0]
        try:
            rec = project.add_image_array_file(file, name=file.name)
        except (AnnotatorError, OSError) as exc:
            reason = (exc.strerror or str(exc)) if isinstance(exc, OSError) else str(exc)
            report.skipped.append((str(item.source), f"{file}: {reason}"))
            dropped.add(id(item))
            continue
        pins[id(item)] = rec
        if rec.id not in known:
            names.append(rec.name)
    if empty:
        report.notes.append(
            f"{usable[0][0].source}: {empty} page(s) label nothing; their slices of {stack}, "
            "removed from the project, were not added again"
        )
    return names


def _project_stacks(project: Project) -> frozenset[str]:
    """The stacks (lower case) whose slices are images of the project: ``vol`` for
    ``vol_z000.tif`` (a slice's name: ``core.naming.slice_stems``)."""
    found = set()
    for rec in project.images():
        stem = Path(rec.name).stem
        head, sep, number = stem.rpartition("_z")
        if sep and head and len(number) >= 3 and number.isdigit():
            found.add(head.lower())
    return frozenset(found)


def _stack_pictures(stack: Path) -> Sequence[np.ndarray] | None:
    """The slices of the picture stack beside a label stack (bare pages are slices, as
    its labels' are: formats/masks.py; a NIfTI volume's as it is split); one picture if
    it is no stack; None when it cannot be read (the names decide then, as for any
    mask)."""
    try:
        return list(read_stack(stack, unnamed_slices=True)[0])
    except (ImageReadError, OSError):
        pass
    try:
        return [read_image(stack)]
    except (ImageReadError, OSError):
        return None


def _pin_to_split(
    project: Project,
    stack: Path,
    items: Sequence[ImportItem],
    pins: dict[int, ImageRecord | None],
) -> tuple[list[ImportItem], list[Path] | None]:
    """Bind the label stack ``items`` to the images of the slice files of the project's
    split of ``stack`` (by content; complete, of their slice count); those left, and the
    split's slice files (None when the project holds no such split)."""
    try:
        files = split_files(project.root, stack)
    except OSError:
        return list(items), None
    if files is None or len(files) != items[0].stack_planes:
        return list(items), None
    wanted = set(files)
    by_file = {path: rec for rec in project.images() if (path := project.image_path(rec)) in wanted}
    left = []
    for item in items:
        rec = by_file.get(files[item.stack_page or 0])
        if rec is None:
            left.append(item)
        else:
            pins[id(item)] = rec
    return left, files


def _shows(
    project: Project, rec: ImageRecord, pictures: Sequence[np.ndarray] | None, page: int
) -> bool:
    """Whether the project image shows slice ``page`` of the stack's ``pictures`` (True
    when either cannot be read: the name decides)."""
    if pictures is None:
        return True
    if page >= len(pictures):
        return False
    try:
        return bool(np.array_equal(project.load_image(rec), pictures[page], equal_nan=True))
    except (ImageReadError, OSError):
        return True


def _with_images(
    items: Sequence[ImportItem], index: _ImageIndex, report: ImportReport
) -> list[ImportItem]:
    """The items that have a readable image of their size (in the project, next to them,
    or embedded); the others are skipped before any class is added, so a failed import
    changes nothing."""
    usable = []
    refused: dict[Path, list[tuple[int, str]]] = {}  # label stacks' pages of another size
    for item in items:
        try:
            rec = index.find(item)
            picture: Path | bytes
            if rec is not None:
                size, name = (rec.height, rec.width), repr(rec.name)
                picture = index.project.image_path(rec)
            elif item.image_file is not None or item.image_data is not None:
                size = _carried_size(item)
                name = str(item.image_file) if item.image_file is not None else "the embedded image"
                picture = item.image_file or item.image_data or b""
            else:
                mistaken = [r for r in index.named(item) if index.is_file(r, item.source)]
                if mistaken:  # a blank picture and its blank mask are the same bytes
                    raise FormatError(
                        f"{item.source}: image {mistaken[0].name!r} {MISTAKEN}, so it was "
                        "taken for the mask added as an image and left "
                        "alone; if it is the picture, put it in an images/ folder beside the "
                        "masks/ folder, so that the picture decides"
                    )
                if item.kept_name is not None:
                    raise FormatError(_kept_missing(item))
                raise FormatError(
                    item.image_problem or f"{item.source}: no image {_meant(item)!r} {NO_IMAGE}"
                )
            if size != (item.height, item.width):
                page = item.stack_page
                what = "the mask" if page is None else f"slice {page} of the labels"
                why = (
                    f"{item.source}: {what} is {item.width}x{item.height} but image {name} "
                    f"is {size[1]}x{size[0]}" + _turned_hint(item, *size, picture)
                )
                if page is not None:  # the whole label stack goes, below
                    refused.setdefault(item.source, []).append((page, why))
                    continue
                raise FormatError(why)
        except AnnotatorError as exc:
            report.skipped.append((str(item.source), str(exc)))
            continue
        except OSError as exc:
            report.skipped.append((str(item.source), _os_reason(item, exc)))
            continue
        usable.append(item)
    if refused:  # a label stack is imported whole or not at all
        gone = _refuse_stacks(refused, _label_stacks(items), report)
        usable = [item for item in usable if id(item) not in gone]
    return usable


#: Said of a mask whose image is not found (see :func:`_with_images`).
NO_IMAGE = "in the project or next to the annotation"


def _meant(item: ImportItem) -> str:
    """The image name an item's labels are for, as the user knows it: a mask file's
    stem without its mask ending (``img0`` for ``img0_mask.png``)."""
    return without_mask_ending(item.image_name) if item.match_by_stem else item.image_name


#: Said of a mask whose only image has its very bytes (see :func:`_with_images`).
MISTAKEN = "has the very bytes of this mask"


def _os_reason(item: ImportItem, exc: OSError) -> str:
    """One line on an ``OSError`` while importing ``item``, naming the file."""
    where = exc.filename if exc.filename is not None else item.source
    return f"{where}: {exc.strerror or exc}"


def _in_project_files(where: Path, root: Path) -> bool:
    """Whether ``where`` is the project folder ``root`` or in one of its own folders of
    label maps and models (not ``removed/``: the label maps of removed images are kept
    by image name, to be imported again)."""
    own = [(root / d) for d in OWN_DIRS if d != REMOVED_DIR]
    return where == root or any(d == where or d in where.parents for d in own)


def import_into_project(
    project: Project, request: ImportRequest, progress: Progress | None = None
) -> ImportReport:
    """Read ``request.src`` in ``request.format`` and save its label maps into the project.

    Classes the source names and the project lacks are appended (or, with ``strict``,
    the import stops before writing anything). Imported images become done, except
    those of labels the project kept itself (a Kept Labels or Rescued Labels folder),
    which get back the status recorded with them. A file that cannot be imported is
    skipped with its reason; the rest are imported.
    """
    spec = get_format(request.format, for_import=True)
    src = Path(request.src)
    if not src.exists():
        raise FormatError(f"{src}: no such file or folder")
    where = src.resolve()
    if _in_project_files(where, project.root.resolve()):
        raise FormatError(
            f"{src}: is the project's own folder; its label maps are already the project's "
            "(import from a dataset's folder, or an export of another project)"
        )
    other = next((p for p in (where, *where.parents) if (p / DB_NAME).is_file()), None)
    if other is not None and _in_project_files(where, other):
        raise FormatError(
            f"{src}: is the folder of another Annotator project ({other}), whose label maps "
            "are named by image id, not by picture: they would land on the wrong images "
            f"({request.other_project_how})"
        )
    if request.labels_file is not None and not Path(request.labels_file).is_file():
        # a class list that is not there must not quietly turn names into raw ids
        raise FormatError(f"{request.labels_file}: no such class list or colour table")
    leaving = links_leaving(src)
    if leaving:
        link, target = leaving[0]
        raise FormatError(
            f"{link}: a symbolic link leading outside the import folder (to {target}); "
            "refused so that an import reads only what the folder holds"
        )
    assert spec.reader is not None
    from annotator.formats.labelme import background_summary, project_background

    background, default = request.background, None
    if spec.name == "labelme":  # labelme's convention: uncovered pixels are background
        default = project_background(project.schema.names)
    from annotator.storage.images import image_size

    options = ImportOptions(
        request.labels_file,
        background,
        default,
        image_size=image_size,
        labels_how=request.labels_how,
        background_how=request.background_how,
        format_how=request.format_how,
        project_classes=tuple(project.schema.names),
        project_stacks=_project_stacks(project),
        progress=progress,
    )
    try:
        result = spec.reader(src, options)
    except KeyboardInterrupt as exc:  # (Ctrl+C, SIGTERM) before anything was written
        raise ImportInterrupted(ImportReport(format=spec.name), 0, reading=src) from exc
    report = ImportReport(
        format=spec.name,
        unknown_labels=dict(result.unknown),
        boxes_only=result.boxes_only,
        notes=list(result.notes),
    )
    if result.without_label_file:
        how = request.background_how
        option = f"{how} CLASS" if how.startswith("--") else f"choosing a class in {how}"
        report.without_label_file = (
            f"; {len(result.without_label_file)} of them have no label file, YOLO's way of "
            f"saying an image shows no object ({option} makes all their pixels that class)"
        )
    if spec.name == "labelme":
        report.background = background_summary(
            request.background, default, result, request.background_how
        )
    chosen = request.background
    if result.background_added and chosen is not None and not project.schema.has_name(chosen):
        how = request.background_how
        chosen_how = f"{how} {chosen}" if how == BACKGROUND_HOW else f"{how} {chosen!r}"
        raise FormatError(
            f"{chosen_how}: neither the project nor the source has a class of that "
            f"name (the project's: {', '.join(project.schema.names)})"
        )
    report.skipped.extend(result.errors)
    report.refused_by_reader = len(result.errors)
    if not result.items and result.errors:
        first = result.errors[0][1]
        more = f" (and {len(result.errors) - 1} more file(s))" if len(result.errors) > 1 else ""
        raise FormatError(first + more)
    if request.strict and result.unknown:
        raise FormatError(
            "labels not listed in labels.txt: "
            + ", ".join(sorted(result.unknown))
            + f" ({request.strict_how} to skip them)"
        )
    imported: list[ImportItem] = []
    try:
        _import_items(project, request, spec.name, src, result, report, progress, imported)
    except KeyboardInterrupt as exc:  # (Ctrl+C, SIGTERM): what was saved stays
        raise ImportInterrupted(report, len(result.items)) from exc
    if request.background is None and spec.name in ("coco", "yolo", "labelstudio"):
        report.background = _uncovered_note(project, imported, request.background_how)
    return report


def _import_items(
    project: Project,
    request: ImportRequest,
    format_name: str,
    src: Path,
    result: ReadResult,
    report: ImportReport,
    progress: Progress | None,
    imported: list[ImportItem],
) -> ImportReport:
    """Save the label maps ``result`` read into the project, one by one: an interrupt
    leaves those saved so far, which ``report`` names (and ``imported`` holds)."""
    if note := _follow_renames(project, result):
        report.notes.append(note)
    if request.strict:  # refused before any slice is added for these labels
        needed = _needed_names(result.items, result.declared, result.named)
        _ensure_classes(project, needed, True, request.strict_how)
    binary = binary_255(result.items, project.schema)
    whole = _stacks_by_values(result.items, project.schema, binary, report, request.labels_how)
    added_names, pins, dropped = _bind_label_stacks(
        project,
        [i for i in result.items if id(i) not in whole],
        report,
        binary,
        (request.labels_how, request.remove_how),
    )
    dropped |= whole
    from_stacks = set(added_names)
    index = _ImageIndex(project, pins)
    items = _with_images([i for i in result.items if id(i) not in dropped], index, report)
    if not items and report.skipped and all(MISTAKEN in why for _, why in report.skipped):
        raise FormatError(  # (the folder of the pictures chosen instead of the masks')
            f"{src}: its files are the project's own pictures (the same bytes), not label "
            "masks; choose the folder that holds the masks (masks that are the very bytes of "
            "their pictures, blank ones: put the pictures in an images/ folder beside a "
            "masks/ folder, so that they decide)"
        )
    if not items and report.skipped:  # nothing can be imported: change nothing
        return report
    before = list(project.schema.names)
    report.classes_added = _ensure_classes(
        project,
        _needed_names(items, result.declared, result.named),
        request.strict,
        request.strict_how,
    )
    if note := unnamed_classes_note(before, result.named):
        report.notes.append(note)
    total = len(items)
    binary = binary_255(items, project.schema)
    # (with a journal: a process killed part way has replaced some maps already, and
    # the next writer keeps their copies: storage.kept_labels.finish_stopped)
    kept = KeptLabels(project, project.images(), project.schema, "import", journal=True)
    if binary:
        one = project.schema.classes[1].name
        report.notes.append(
            f"the masks hold only the values 0 and 255, as a two-class project's do: 255 "
            f"was read as class {one!r} (id 1), not as unlabelled"
        )
    try:
        for i, item in enumerate(items):
            if progress:
                progress(i, total, f"writing masks… {item.image_name or item.source.name}")
            try:
                _import_item(
                    project, index, item, format_name, report, binary, kept, request.labels_how
                )
                imported.append(item)
            except AnnotatorError as exc:
                report.skipped.append((str(item.source), str(exc)))
            except OSError as exc:  # a name too long here, a file not allowed...: this one
                if exc.errno in UNWRITABLE_ERRNOS:  # all would fail alike: one line, exit 1
                    raise
                report.skipped.append((str(item.source), _os_reason(item, exc)))
    finally:  # (what was replaced before a failure stays kept)
        folder = kept.finish()
    if note := top_read_as_unlabelled(report, request.labels_how):
        report.notes.append(note)
    if folder is not None:
        report.kept = str(folder)
        report.notes.append(
            f"{len(report.replaced)} image(s) had other labels, which the import replaced "
            f"(first: {report.replaced[0]}); they are kept in {folder}: importing that "
            "folder brings them back"
        )
    if report.statuses:
        n = sum(report.statuses.values())
        each = ", ".join(f"{k} {v.replace('_', ' ')}" for v, k in sorted(report.statuses.items()))
        report.notes.append(
            f"{n} image(s) got back the status they had when their labels were kept: {each}"
        )
    if progress:
        progress(total, total, "")
    # the slices of picture stacks added for their labels are new, not matched
    report.matched = [name for name in report.matched if name not in from_stacks]
    return report
