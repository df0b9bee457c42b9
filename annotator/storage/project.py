"""A project: one folder holding the database, label masks, proposals and models.

::

    PROJECT/
      annotator.sqlite     the index: images, classes, statuses, model versions, settings
      masks/<id>.png       label maps as lossless PNG (8 or 16 bit, raw class ids)
      accepted/<id>_v<N>.png  the proposal (of model version N) an image's labels were
                           accepted from, kept while its label source names it
      proposals/           the model's latest proposals (``storage.proposals``)
      models/vNNNN/        one checkpoint + card per model version (``storage.models``)
      images/              images that came embedded in imported files, or generated

``annotator.storage`` is the only package that writes in this folder (a test patches the
file APIs to check it). The database is the source of truth for what exists; files are
written atomically first and recorded in the database second, so a crash between the two
leaves the previous state consistent.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import hashlib
import json
import logging
import math
import os
import re
import shutil
import sqlite3
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal, TypeVar

import numpy as np

from annotator.core.card import ModelCard, classes_fit
from annotator.core.channels import Choice, lacks
from annotator.core.channels import applies as channels_apply
from annotator.core.channels import check as check_channels
from annotator.core.channels import describe as describe_channels
from annotator.core.errors import (
    ImageReadError,
    ModelError,
    ProjectError,
    RecordRefused,
    SchemaError,
    WriteRefused,
)
from annotator.core.folders import NOT_UTF8, files_below, hidden_below, not_utf8, printable
from annotator.core.limits import NAMED_SKIPS, OTHER_PICTURE_SUFFIXES, named_first
from annotator.core.naming import (
    MASK_FOLDERS,
    NAME_MAX,
    NNUNET_PICTURE_FOLDERS,
    SIDECAR_ENDINGS,
    file_stem,
    fit_stem,
    label_stacks_of_slices,
    mask_ending,
    masks_beside,
    masks_in_mask_folders,
    natural_path_key,
    nnunet_channel,
    nnunet_further_channels,
    short_stem,
)
from annotator.core.nodata import nodata_label
from annotator.core.proposal import source_version
from annotator.core.records import ImageRecord, ImageScore, ModelRecord, now_iso
from annotator.core.schema import ClassRename, LabelClass, LabelSchema
from annotator.core.status import ImageStatus, status_after_save
from annotator.core.volumes import is_nifti, read_volume, volume_header
from annotator.storage.atomic import atomic_write_bytes, clear_partial_folders, fsync_dir
from annotator.storage.db import Database
from annotator.storage.images import (
    ImageInfo,
    encode_png,
    is_image_path,
    nodata_value,
    read_image,
    tiff_planes,
    unused_channels,
)
from annotator.storage.lock import LOCK_NAME, ProjectLock, ProjectLocked
from annotator.storage.lock import held_here as lock_held_here
from annotator.storage.lock import needed as lock_needed

log = logging.getLogger(__name__)
#: How long a write that only saves work later (a checked file's stamp) waits for another
#: program's lock on the database before it is skipped: opening an image waits for it.
BEST_EFFORT_WAIT_S = 0.2

DB_NAME = "annotator.sqlite"
_CREATING_NAME = ".annotator.sqlite.creating"
#: The folders every project has (label maps, proposals, model versions).
_OWN_FOLDERS = ("masks", "proposals", "models")
#: What a process killed while creating a project leaves in its folder.
_CREATION_LEFTOVERS = frozenset(
    {LOCK_NAME, _CREATING_NAME, _CREATING_NAME + "-wal", _CREATING_NAME + "-shm"}
)
#: Meta keys of a class change (``storage.class_change``): present while one is committed
#: and not yet swapped; and the generation of the ids, new with every change.
CLASS_CHANGE_KEY = "class_change"
IDS_KEY = "class_ids"
#: The ids of images removed whose files may be left (``storage.image_removal``).
REMOVED_IDS_KEY = "removed_image_ids"
#: The classes renamed, oldest first: ``[[old, new, newest model version then], ...]``
#: (model cards keep the names they were trained with; the IoU chart follows renames).
RENAMES_KEY = "class_renames"
#: The project setting of the channel choice (``core.channels``; absent: none).
CHANNELS_SETTING = "channels"
#: Project setting: the kept folders of imports killed part way, that the window has not
#: said yet (``removed/<time>-import`` paths, relative to the project).
STOPPED_IMPORTS_SETTING = "stopped_imports_unsaid"
#: The project setting of the names nnU-Net datasets added gave the pictures' channels
#: (their ``dataset.json``'s ``channel_names``): ``{"names": [...], "dataset": path}``;
#: names ``[]`` once two datasets added named them otherwise (absent: none added).
SOURCE_CHANNELS_SETTING = "source_channel_names"
#: The accepted proposals (``accepted/<id>_v<N>.png``, docs/adr/0013).
ACCEPTED_DIR = "accepted"
#: The ending of the file ``masks/<id>.saving`` a save of image ``<id>``'s labels writes
#: before the mask and removes once the record is written: the record it means to write
#: (labelled pixels, status, label source), as JSON. One left behind says the record may
#: be older than the mask (the program stopped, or the database refused the record).
SAVING_SUFFIX = ".saving"
#: Images stored inside the project (embedded in imported files, or generated).
IMAGES_DIR = "images"
#: The folders of the project's own files: never images to add (a data folder that holds
#: the project would otherwise offer its masks and proposals as pictures to label). Not
#: IMAGES_DIR: users keep their own pictures there too, and the embedded ones in it are
#: known by path and content already.
#: The label maps of images removed from the project (``storage.image_removal``).
REMOVED_DIR = "removed"
#: The slices of TIFF stacks added to the project (``storage/stacks.py``).
SLICES_DIR = "slices"
#: The pictures of nnU-Net's 2-D cases of a file per channel (``storage/cases.py``).
CASES_DIR = "cases"
OWN_DIRS = ("masks", "proposals", ACCEPTED_DIR, "models", REMOVED_DIR, SLICES_DIR, CASES_DIR)
#: The reason ``add_images`` gives, once, when asked to add any of them.
OWN_FILES_SKIPPED = "the project's own files (masks, proposals...) are not added"
#: The reasons ``add_images`` gives for files that need nothing of the user (a folder
#: added again): an add's summary counts them, one line a reason, naming a few.
ALREADY_ADDED = "already in the project"
SAME_CONTENT_ADDED = "same content as an image already added"
ROUTINE_SKIPS = {
    ALREADY_ADDED: "already in the project",
    SAME_CONTENT_ADDED: "with the same content as an image already added",
}
#: The files a summary's count of routine skips names first.
FIRST_NAMED = 3
Progress = Callable[[int, int, str], None]
#: ``add_images`` records this many images per database transaction.
ADD_BATCH = 100
#: A file's ``(size in bytes, when it last changed)`` (:func:`_changed_ns`), recorded with
#: the SHA-1 of its content (the column keeps its first name, ``file_mtime_ns``).
Stamp = tuple[int, int]
#: A file modified less than this long (ns) before it was looked at cannot vouch for its
#: content by its time stamp: a write later in the same tick of a coarse file system clock
#: (2 s on FAT, 1 s on some network file systems, a few ms on older Linux kernels) keeps the
#: time. Its stamp is not recorded; the next load hashes the file (as git's "racy clean").
RACY_NS = 2_000_000_000
#: Errors that would fail every write alike (a full disk, a read-only or forbidden
#: folder): they stop a whole import, said once, rather than skipping each file in turn.
UNWRITABLE_ERRNOS = frozenset(
    getattr(errno, n) for n in ("ENOSPC", "EDQUOT", "EROFS", "EACCES") if hasattr(errno, n)
)


@dataclass
class AddReport:
    """What ``add_images`` did: added records, skipped duplicates, unreadable files."""

    added: list[ImageRecord] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    errors: list[ImageReadError] = field(default_factory=list)
    #: Pictures in the folders given that are of a type not read, by suffix
    #: (``OTHER_PICTURE_SUFFIXES``: ``{".webp": 2}``); other files pass unsaid.
    other_pictures: dict[str, int] = field(default_factory=dict)
    #: Images whose file had gone, found again by content: (image name, its new file).
    relinked: list[tuple[str, str]] = field(default_factory=list)
    #: Mask files left out because their picture was added with them (``x_mask.png``
    #: of ``x.jpg``, Cityscapes' ``_gtFine_*``, ``labels/0.png`` of ``images/0.png``):
    #: (mask file, picture file).
    masks_left_out: list[tuple[str, str]] = field(default_factory=list)
    #: TIFF stacks split into their slices, each added as an image: (stack file, slices,
    #: the folder holding the slice files).
    stacks: list[tuple[str, int, str]] = field(default_factory=list)
    #: TIFF files added as one picture whose 2 to 8 bare pages were read as its channels
    #: (no file says whether they are channels or a short stack): (file, pages).
    pages_as_channels: list[tuple[str, int]] = field(default_factory=list)
    #: Pictures with channels past the third (not alpha), which are neither shown nor
    #: trained on: (file, channels, unused).
    channels_unused: list[tuple[str, int, int]] = field(default_factory=list)
    #: The project's channel choice the add met (``core.channels``; ``()``: none): with
    #: one, ``channels_unused`` lists the pictures that lack a chosen channel.
    choice: tuple[int, ...] = ()
    #: Pictures with nodata pixels (the value their GDAL_NODATA tag names), read as no
    #: value and left out of display windows, training and proposals: (file, value).
    nodata: list[tuple[str, str]] = field(default_factory=list)
    #: Files of a few bare pages split as slices without being told, because a split of
    #: the same content is in the project (``add --pages slices`` before).
    pages_split_before: list[str] = field(default_factory=list)
    #: Files of a few bare pages split as slices without being told, because a label
    #: stack of as many pages lies beside them (ISBI's ``train-labels.tif`` by its
    #: ``train-volume.tif``), as the masks import reads the pair.
    pages_split_for_labels: list[str] = field(default_factory=list)
    #: Stacks split whose file is also an image of the project, one picture of its pages
    #: as channels (added before without ``--pages slices``): (stack file, image name).
    also_one_picture: list[tuple[str, str]] = field(default_factory=list)
    #: Stacks split into pictures that look like labels (a label volume added alone, or
    #: one whose values no mask has beside its picture): (stack file, why).
    labels_split: list[tuple[str, str]] = field(default_factory=list)
    #: Files added that are nnU-Net's further channels of a case (``case_0001``...),
    #: each labelled apart: of TIFF stacks, or refused (``channels_refused``).
    further_channels: list[str] = field(default_factory=list)
    #: nnU-Net's 2-D cases of a file per channel joined into one picture of the project
    #: (``storage/cases.py``), written now: (first file, channels, the picture's folder).
    joined_pictures: list[tuple[str, int, str]] = field(default_factory=list)
    #: Files added under another name than their own, an image having that name already
    #: (``x~2.png``): (file, the image's name). Every later command knows it by that name.
    named_apart: list[tuple[str, str]] = field(default_factory=list)
    #: The project's picture of each such case, written now or before: first file ->
    #: the picture's file (the masks import finds the image of a case's labels by it).
    case_pictures: dict[str, str] = field(default_factory=dict)
    #: nnU-Net's cases of NIfTI channel files split as one, a picture per slice with a
    #: channel per file (``storage/stacks.py``): (first file, channels).
    joined_channels: list[tuple[str, int]] = field(default_factory=list)
    #: Why a case's further channels were not split with its first file (another grid),
    #: one line per case; and those files, each added apart.
    channels_refused: list[str] = field(default_factory=list)
    further_refused: list[str] = field(default_factory=list)

    def channels_unused_text(self, how_channels: str = "View > Channels...") -> str:
        """One sentence on the pictures whose channels past the third go unused ("" when
        none), and ``how_channels`` (a command, a menu) to choose them; under the
        project's channel choice, on the pictures that lack a chosen channel instead."""
        if not self.channels_unused:
            return ""
        file, channels, unused = self.channels_unused[0]
        more = len(self.channels_unused) - 1
        if self.choice:
            return (
                f"{Path(file).name} has {channels} channel(s), too few for the project's "
                f"channel choice ({describe_channels(self.choice)}): its first three are "
                + (
                    "shown; models of the choice give it no proposal and leave it out of training"
                    if lacks(channels, self.choice)
                    else "shown and trained on"
                )
                + (f" (and {more} more such file(s))" if more else "")
                + f"; {how_channels} changes the choice"
            )
        which = (
            f"channel {channels}" if unused == 1 else f"channels {channels - unused + 1}-{channels}"
        )
        return (
            f"{Path(file).name} has {channels} channels: the first three are shown and "
            f"trained on, {which} not used"
            + (f" (and {more} more file(s) with channels past the third)" if more else "")
            + f"; {how_channels} chooses which are used"
        )

    def nodata_text(self) -> str:
        """One sentence on the pictures with nodata pixels ("" when none)."""
        if not self.nodata:
            return ""
        values = sorted({value for _, value in self.nodata})
        n = len(self.nodata)
        return (
            f"{n} picture{'' if n == 1 else 's'} ha{'s' if n == 1 else 've'} nodata pixels "
            f"(value{'s' if len(values) > 1 else ''} {', '.join(values)}, first: "
            f"{Path(self.nodata[0][0]).name}): they have "
            "no value and are left out of contrast, training and proposals"
        )

    def pages_as_channels_text(self, how: str) -> str:
        """One sentence on the files whose bare pages were read as channels ("" when
        none was); ``how`` says how to add such a file as slices instead."""
        if not self.pages_as_channels:
            return ""
        file, pages = self.pages_as_channels[0]
        more = (
            f" (and {len(self.pages_as_channels) - 1} more file(s))"
            if (len(self.pages_as_channels) > 1)
            else ""
        )
        return (
            f"read the {pages} bare pages of {Path(file).name} as the channels of one "
            f"picture{more}; if they are the slices of a volume, add it with {how}"
        )

    def pages_split_text(self, how_remove: str, how_channels: str = "") -> str:
        """Sentences on files whose bare pages were split because they were before, and
        on stacks split that are also one picture in the project ("" when neither);
        ``how_remove`` says how to remove an image, ``how_channels`` (if any) how to add
        such a file as one picture after all."""
        parts = []

        def split(files: list[str], why: str) -> str:
            more = len(files) - 1
            return (
                f"split {Path(files[0]).name}{f' (and {more} more file(s))' if more else ''} "
                f"into slices, {why}"
            )

        if self.pages_split_before:
            parts.append(
                split(
                    self.pages_split_before,
                    "as it was split before (added with its pages as slices"
                    + (f"; {how_channels} adds it as one picture)" if how_channels else ")"),
                )
            )
        if self.pages_split_for_labels:
            parts.append(
                split(
                    self.pages_split_for_labels,
                    "as the label stack beside it has as many pages"
                    + (f" ({how_channels} adds it as one picture)" if how_channels else ""),
                )
            )
        if self.also_one_picture:
            file, name = self.also_one_picture[0]
            more = len(self.also_one_picture) - 1
            parts.append(
                f"{Path(file).name} is also in the project as the image {name!r}, its "
                f"pages read as channels{f' (and {more} more)' if more else ''}; if its "
                f"pages are slices, remove that image with {how_remove}"
            )
        return "; ".join(parts)

    def labels_split_text(self, how: str, word: Callable[[str], str] = str) -> str:
        """One sentence on the stacks split into pictures that look like labels ("" when
        none); ``how`` says how to import labels, ``FOLDER`` in it the first's folder
        as ``word`` writes it (a command's: quoted for the shell)."""
        if not self.labels_split:
            return ""
        file, why = self.labels_split[0]
        first = Path(file)
        more = f" and {len(self.labels_split) - 1} more" if len(self.labels_split) > 1 else ""
        return (
            f"split {len(self.labels_split)} stack(s) that look like labels into pictures "
            f"(first: {Path(first.parent.name, first.name)}: {why}{more}); if they are labels, "
            f"remove their slices and import them: "
            + how.replace("FOLDER", word(str(first.parent)))
        )

    def further_channels_text(self) -> str:
        """One sentence on nnU-Net's further channels added as images ("" when none):
        the cases refused (another grid), and further channels of 2-D cases."""
        parts = []
        if self.channels_refused:
            more = len(self.channels_refused) - 1
            parts.append(
                self.channels_refused[0] + (f" (and {more} more case(s) so)" if more else "")
            )
        if self.further_channels:
            first = Path(self.further_channels[0])
            parts.append(
                f"{len(self.further_channels)} file(s) are further channels of nnU-Net cases "
                f"(first: {first.parent.name}/{first.name}), added as images of their own: "
                "only NIfTI volumes of one grid and pictures of one size are read as the "
                "channels of one picture"
            )
        return "; ".join(parts)

    def named_apart_text(self) -> str:
        """One sentence on the files named apart from images of their name ("" when
        none)."""
        if not self.named_apart:
            return ""
        file, name = self.named_apart[0]
        more = f", and {len(self.named_apart) - 1} more" if len(self.named_apart) > 1 else ""
        return (
            f"{len(self.named_apart)} image(s) named apart from images of the same name "
            f"(first: {file} is {name!r}{more}); the image list and the commands know them "
            "by those names"
        )

    def joined_pictures_text(self) -> str:
        """One sentence on nnU-Net's 2-D cases whose channel files became one picture
        ("" when none)."""
        if not self.joined_pictures:
            return ""
        case, channels, folder = self.joined_pictures[0]
        others = len(self.joined_pictures) - 1
        return (
            f"{len(self.joined_pictures)} nnU-Net case(s) of a file per channel are one picture "
            f"with a channel per file (first: {Path(case).name} and its {channels - 1} further "
            f"channel(s){f', and {others} more case(s)' if others else ''}); the pictures are "
            f"in {Path(folder).parent}, the channel files unchanged"
        )

    def routine_skips(self) -> int:
        """How many files were skipped for a reason that needs nothing of the user
        (:data:`ROUTINE_SKIPS`: already in the project, a picture repeated)."""
        return sum(why in ROUTINE_SKIPS for _, why in self.skipped)

    def skipped_lines(self, every: bool, how: str, limit: int = NAMED_SKIPS) -> list[str]:
        """The lines that say which files were skipped or unreadable. A folder added
        again skips each of its files: one line a routine reason counts them and names
        the first few. Files skipped for other reasons, and unreadable ones, need the
        user's look: one line each, the first ``limit``, then one line counting the
        rest, which ``how`` lists. ``every``: one line for every file (no counting)."""
        if every:
            return [f"skipped {path}: {why}" for path, why in self.skipped] + [
                f"unreadable {err}" for err in self.errors
            ]
        lines = []
        for why, said in ROUTINE_SKIPS.items():
            paths = [path for path, reason in self.skipped if reason == why]
            if paths:
                first = ", ".join(paths[:FIRST_NAMED])
                more = f" and {len(paths) - FIRST_NAMED} more" if len(paths) > FIRST_NAMED else ""
                lines.append(f"skipped {len(paths)} file(s) {said} (first: {first}{more})")
        looks = [f"skipped {path}: {why}" for path, why in self.skipped if why not in ROUTINE_SKIPS]
        looks += [f"unreadable {err}" for err in self.errors]
        return lines + named_first(looks, how, limit)

    def stacks_text(self) -> str:
        """One sentence on the stacks split into slices ("" when there were none)."""
        if not self.stacks:
            return ""
        stack, planes, folder = self.stacks[0]
        more = f" and {len(self.stacks) - 1} more" if len(self.stacks) > 1 else ""
        joined = ""
        if self.joined_channels:
            case, channels = self.joined_channels[0]
            others = len(self.joined_channels) - 1
            joined = (
                f"; {len(self.joined_channels)} nnU-Net case(s) of a file per channel are one "
                f"picture per slice with a channel per file (first: {Path(case).name} and its "
                f"{channels - 1} further channel(s){f', and {others} more case(s)' if others else ''})"
            )
        return (
            f"split {Path(stack).name} ({planes} slices){more} into one image per slice; "
            f"the slice files are in {Path(folder).parent}{joined}"
        )

    def masks_folder(self, folder: str | os.PathLike[str] | None = None) -> str | None:
        """The one folder whose masks import reads the mask files left out: theirs when
        they are in one, else ``folder`` (one that reads them in several:
        ``formats.masks.import_folder``); None when there is no such folder (none left
        out, or in several folders and no ``folder``). Cityscapes' colour and instance
        files count only when nothing else was left out."""
        if not self.masks_left_out:
            return None
        labels = [(m, p) for m, p in self.masks_left_out if not _sidecar(m)]
        folders = list(dict.fromkeys(str(Path(m).parent) for m, _ in labels or self.masks_left_out))
        if len(folders) > 1 and folder is not None:
            return str(folder)
        return folders[0] if len(folders) == 1 else None

    def masks_text(
        self,
        how: str,
        folder: str | os.PathLike[str] | None = None,
        word: Callable[[str], str] = str,
    ) -> str:
        """One sentence on the mask files left out ("" when there were none); ``how``
        says how to import them as labels, from the folder of the masks: ``FOLDER`` in
        it (as ``word`` writes it: a command's quoted for the shell) is that folder when
        they are in one, or ``folder`` when they are in several
        that one import of ``folder`` reads (Cityscapes' ``gtFine/<split>/<city>/``:
        ``formats.masks.import_folder``); else their folders are named after it.
        Cityscapes' colour and instance files are counted apart: no import reads them
        as labels."""
        if not self.masks_left_out:
            return ""
        sidecars = [m for m, _ in self.masks_left_out if _sidecar(m)]
        labels = [(m, p) for m, p in self.masks_left_out if not _sidecar(m)]
        mask, picture = (Path(f).absolute() for f in (labels or self.masks_left_out)[0])
        try:  # named from the folder holding both: labels/0.png, the mask of images/0.png
            top = Path(os.path.commonpath([mask.parent, picture.parent]))
            mask_name, picture_name = (f.relative_to(top).as_posix() for f in (mask, picture))
        except ValueError:  # on two drives
            mask_name, picture_name = mask.name, picture.name
        one = self.masks_folder(folder)
        if one is not None and "FOLDER" in how:
            head, _, tail = how.rpartition("FOLDER")
            how = head + word(one) + tail
        elif one is not None:
            how = f"{how} from {one}"
        else:  # (VOC's SegmentationObject/ holds instances: the user picks)
            folders = list(
                dict.fromkeys(str(Path(m).parent) for m, _ in labels or self.masks_left_out)
            )
            more = f" and {len(folders) - 3} more" if len(folders) > 3 else ""
            how = f"{how}; they are in {len(folders)} folders: {', '.join(folders[:3])}{more}"
        # Said as what was found and left out: "left out ... added with their pictures"
        # read as if the masks had been added.
        what = (
            f"found {len(self.masks_left_out)} mask file(s) beside the pictures and left "
            "them out of the images"
        )
        if sidecars and labels:
            what += (
                f": {len(labels)} mask(s) (first: {mask_name}, the mask of {picture_name}) and "
                f"{len(sidecars)} colour and instance file(s) beside them, which are not labels"
            )
            return f"{what}; to import the masks as labels: {how}"
        first = f"(first: {mask_name}, the mask of {picture_name})"
        return f"{what} {first}; to import them as labels: {how}"

    def other_pictures_text(self) -> str:
        """``".gif (1), .webp (2)"``, or "" when there were none."""
        return ", ".join(f"{k} ({v})" for k, v in sorted(self.other_pictures.items()))


def _sidecar(file: str) -> bool:
    """Whether a mask file left out is Cityscapes' colour or instance file of a mask."""
    return mask_ending(Path(file).stem) in SIDECAR_ENDINGS


#: The whole-number columns of an image record, and the least each may hold.
_COUNTED_COLUMNS = {"width": 1, "height": 1, "channels": 1, "bit_depth": 1, "labelled_pixels": 0}


def _score(image_id: int, value: Any) -> float | None:
    """An image's stored score: a damaged one (text, infinite) counts as none, logged:
    the next model scores the image again."""
    if value is None or (isinstance(value, int | float) and math.isfinite(value)):
        return value
    log.warning("image %s: ignoring a damaged score %r", image_id, value)
    return None


def _row_to_image(row: Any) -> ImageRecord:
    try:
        status = ImageStatus(row["status"])
    except ValueError:
        raise ProjectError(
            f"{DB_NAME}: the project database is damaged "
            f"(image {row['id']} has an unknown status {row['status']!r})"
        ) from None
    for column, least in _COUNTED_COLUMNS.items():
        value = row[column]  # (SQLite keeps any value in any column: an edit by hand)
        if not isinstance(value, int) or value < least:
            raise ProjectError(
                f"{DB_NAME}: the project database is damaged "
                f"(image {row['id']} has {column} {value!r})"
            )
    return ImageRecord(
        id=row["id"],
        name=row["name"],
        path=row["path"],
        sha1=row["sha1"],
        width=row["width"],
        height=row["height"],
        channels=row["channels"],
        bit_depth=row["bit_depth"],
        status=status,
        label_source=row["label_source"],
        labelled_pixels=row["labelled_pixels"],
        score=_score(row["id"], row["score"]),
        added_at=row["added_at"],
        updated_at=row["updated_at"],
        file_size=row["file_size"],
        file_mtime_ns=row["file_mtime_ns"],
    )


def _row_to_model(row: Any, root: Path) -> ModelRecord:
    try:
        card = ModelCard.from_json(row["card"], f"{root}: model v{row['version']}")
    except ModelError as exc:
        raise ProjectError(str(exc)) from None
    return ModelRecord(row["version"], row["parent"], row["created_at"], row["checkpoint"], card)


def _identity(path: Path) -> tuple[int, int] | None:
    """The (device, inode) of a file, or None when there is none."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _inside(path: Path, folders: Collection[Path]) -> bool:
    """Whether resolved ``path`` is one of ``folders`` or inside one."""
    return any(path == f or f in path.parents for f in folders)


def _touches(path: Path, folders: Collection[Path]) -> bool:
    """Whether resolved ``path`` is one of ``folders``, inside one, or holds one."""
    return _inside(path, folders) or any(path in f.parents for f in folders)


def collect_image_files(
    paths: Iterable[str | os.PathLike[str]],
    exclude: Collection[Path] = (),
    other_pictures: dict[str, int] | None = None,
) -> list[tuple[Path, str]]:
    """Expand files and folders (recursively) into ``(file, display name)`` pairs.

    A file given directly is named by its file name; a file found in a folder by its
    path relative to that folder. Symbolic links to folders and files are followed,
    each real folder and file once (:func:`~annotator.core.folders.files_below`).
    Non-image files inside folders are ignored; a non-image file given directly is
    kept so that reading it reports the problem. Nothing inside the (resolved) folders ``exclude`` is collected. Pictures of a type
    not read found in folders are counted by suffix into ``other_pictures``.
    """
    found: list[tuple[Path, str]] = []
    for raw in paths:
        p = Path(raw)
        resolved = p.resolve()
        if _inside(resolved, exclude):
            continue
        if p.is_dir():
            # Linked folders are followed (each real folder once); the project's own
            # folders are left out wherever a link leads into them, and so are another
            # project's (its label maps, proposals, kept labels are no pictures).
            below = files_below(p, skip_dir=lambda d: _inside(d, exclude) or _project_own(d))
            for sub in sorted(below, key=lambda f: natural_path_key(f.relative_to(p))):
                rel = sub.relative_to(p)
                if hidden_below(sub, p) or not sub.is_file():
                    continue
                if sub.is_symlink() and _inside(sub.resolve(), exclude):
                    continue
                if is_image_path(sub) or is_nifti(sub):
                    found.append((sub, rel.as_posix()))
                elif (
                    other_pictures is not None
                    and (kind := sub.suffix.lower()) in OTHER_PICTURE_SUFFIXES
                ):
                    other_pictures[kind] = other_pictures.get(kind, 0) + 1
        else:
            found.append((p, p.name))
    return found


def _project_own(folder: Path) -> bool:
    """Whether ``folder`` is one of a project's own folders (:data:`OWN_DIRS`, beside
    its database): any project's, not only the one added to."""
    return folder.name in OWN_DIRS and (folder.parent / DB_NAME).is_file()


def _masks_among(candidates: Sequence[tuple[Path, str]]) -> dict[int, int]:
    """The files of an add that may be the mask of another, index -> its picture's:
    named as one beside it (``x_mask.png`` of ``x.jpg``) or in a mask folder
    (``labels/0.png`` of ``images/0.png``). Their pixels decide (:func:`looks_like_mask`)."""
    found = {
        i: j
        for i, j in masks_in_mask_folders([f.absolute() for f, _ in candidates]).items()
        # only files the masks import reads: a JPEG in masks/ is added as a picture, as
        # before, rather than left out with an import that cannot read it
        if candidates[i][0].suffix.lower() in (".png", ".tif", ".tiff")
        or is_nifti(candidates[i][0])
    }
    stems = [file_stem(f) for f, _ in candidates]
    found.update(masks_beside(stems))
    # an export's label stack (stacks/vol.tif) beside the slices it labels (vol_z000...)
    for i, j in label_stacks_of_slices(stems).items():
        if candidates[i][0].suffix.lower() in (".tif", ".tiff") or is_nifti(candidates[i][0]):
            found.setdefault(i, j)
    return found


#: A picture of at most this many distinct values (grey levels or colours) may be a mask.
MASK_MAX_VALUES = 64


def looks_like_mask(array: np.ndarray) -> bool:
    """Few distinct values (class ids, or a colour per class), as no photograph has:
    counted on a grid of about 256 x 256 pixels, which a mask's classes still show."""
    step = max(1, min(array.shape[0], array.shape[1]) // 256)
    sample = array[::step, ::step]
    if sample.ndim == 3:
        if sample.shape[2] == 2:  # two channels: the magenta and green shown
            sample = sample[..., [0, 1, 0]]
        if sample.shape[2] == 4:
            sample = sample[..., :3]
        if sample.dtype != np.uint8:
            return False
        sample = sample.astype(np.uint32)
        sample = (sample[..., 0] << 16) | (sample[..., 1] << 8) | sample[..., 2]
    elif not np.issubdtype(sample.dtype, np.integer):
        return False
    return np.unique(sample).size <= MASK_MAX_VALUES


def _beside_is_mask(
    file: Path, array: np.ndarray, pages_as_channels: bool, nodata: float | None
) -> bool:
    """Whether a picture named as a mask beside its picture holds a mask's few values:
    those of the file (a label GeoTIFF naming a nodata value is read with NaN there);
    of a few bare pages read as channels, the first page's, in any dtype. A TIFF's
    stored values: a palette TIFF's are class ids its colours only show."""
    if nodata is not None or file.suffix.lower() in (".tif", ".tiff"):
        array = read_image(file, nodata=False, stored=True)
    page = array[..., 0] if pages_as_channels and array.ndim == 3 else array
    return looks_like_mask(page)


def _label_stack_of(mask: Path | None, pages: int) -> bool:
    """Whether ``mask`` (a file named as the mask beside a picture of ``pages`` bare
    pages) is a label stack of a page per page: the picture's pages are then slices, as
    the masks import reads such a pair (a label stack's pages are always slices)."""
    if mask is None or mask.suffix.lower() not in (".tif", ".tiff"):
        return False
    try:
        planes, its_pages = tiff_planes(mask)
    except (ImageReadError, OSError):
        return False
    return (planes or its_pages) == pages and _first_page_is_mask(mask)


def _first_page_is_mask(path: Path) -> bool:
    """Whether a TIFF stack's first page holds few values, as a label stack's does; of a
    NIfTI volume, whether its voxels are whole numbers of few values (a label volume)."""
    if is_nifti(path):
        try:
            voxels = read_volume(path)[0]
        except ImageReadError:  # unreadable here: splitting it says why
            return False
        return _few_whole_values(list(voxels))
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            return looks_like_mask(np.asarray(tif.pages[0].asarray()))  # type: ignore[union-attr]
    except Exception:  # unreadable here: splitting it says why
        return False


def is_case_path(stored: str) -> bool:
    """Whether an image's stored path is the picture of a joined nnU-Net 2-D case
    (``cases/<case>/<case>.tif``, relative to the project: ``storage/cases.py``)."""
    parts = PurePosixPath(stored).parts
    return len(parts) == 3 and parts[0] == CASES_DIR


def is_slice_path(stored: str) -> bool:
    """Whether an image's stored path is a slice file of the project's
    (``slices/<stack>/<stack>_zNNN.tif``, relative to the project: ``storage/stacks.py``)."""
    parts = PurePosixPath(stored).parts
    return len(parts) == 3 and parts[0] == SLICES_DIR


_SLICE_NUMBER = re.compile(r"_z(\d{3,})$", re.IGNORECASE)


def _slice_number(name: str) -> int | None:
    """Which slice of its stack a slice file is, by its name (``vol_z012.tif``: 12)."""
    found = _SLICE_NUMBER.search(PurePosixPath(name).stem)
    return int(found.group(1)) if found else None


def _lost_image(rows: Iterable[Any], stored: str, a_slice: bool) -> Any | None:
    """Of the images whose file had gone and which have the content of the file
    ``stored`` (a slice file or not: ``a_slice``), the one that file is now: a picture
    is any such picture's; a slice is the slice of its file name, else of its number
    (its split written under another folder name), never a picture's or another
    slice's (a volume's blank frames have one content). None when none is."""
    if not a_slice:
        return next((r for r in rows if not is_slice_path(r["path"])), None)
    slices = [r for r in rows if is_slice_path(r["path"])]
    name = PurePosixPath(stored).name
    same = [r for r in slices if PurePosixPath(r["path"]).name == name]
    number = _slice_number(name)
    if not same and number is not None:  # of the same stack, split under another folder
        stack = _split_base(PurePosixPath(stored).parent.name)
        same = [
            r
            for r in slices
            if _slice_number(PurePosixPath(r["path"]).name) == number
            and _split_base(PurePosixPath(r["path"]).parent.name) == stack
        ]
    return same[0] if same else None


def _split_base(folder: str) -> str:
    """The stack a split folder is named after: ``vol`` of ``vol`` and ``vol~2``."""
    return re.sub(r"~\d+$", "", folder).lower()


#: How many slices of a stack, evenly spread, tell whether it holds labels.
LABEL_SAMPLE_SLICES = 8


def _few_whole_values(slices: Sequence[np.ndarray]) -> bool:
    """Whether ``slices`` hold whole numbers only, few of them (:func:`looks_like_mask`,
    over the slices together): a label volume's class ids, stored as integers or floats."""
    if not slices:
        return False
    if any(
        s.dtype.kind == "f" and not (np.isfinite(s).all() and np.array_equal(s, np.round(s)))
        for s in slices
    ):
        return False
    whole = [s.astype(np.int64) if s.dtype.kind == "f" else s for s in slices]
    return looks_like_mask(np.concatenate(whole))


def _looks_like_labels(stack: Path, sample: Sequence[np.ndarray]) -> str:
    """Why a stack split into pictures looks like labels ("" when it does not): whole
    numbers of few values in ``sample`` (some of its slices: :func:`looks_like_mask`),
    a mask folder (``labelsTr/``), a mask's name ending (``_seg``)."""
    reasons = []
    if _few_whole_values(sample):
        reasons.append("few whole values")
    if stack.parent.name.lower() in MASK_FOLDERS:
        reasons.append(f"in a mask folder, {stack.parent.name}/")
    ending = mask_ending(file_stem(stack))
    if ending is not None and (len(ending) > 2 or reasons):  # (_l, _p: CamVid's alone)
        reasons.append(f"named as a mask ({ending})")
    return ", ".join(reasons)


def file_sha1(path: Path) -> str:
    """The SHA-1 of a file's bytes (how the project knows an image file again)."""
    h = hashlib.sha1()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _changed_ns(st: os.stat_result) -> int:
    """When a file last changed: its modification time, or, when later, its status
    change time, which a rename, a copy over it or a reset modification time also
    moves on (POSIX): two files of one size and time swapped by ``mv`` are told apart.
    (On Windows ``st_ctime`` is the creation time: a new file there.) ADR 0024."""
    return max(st.st_mtime_ns, st.st_ctime_ns)


def _vouching(st: os.stat_result, looked_ns: int) -> Stamp | None:
    """The stamp of a file stat-ed at ``looked_ns`` (wall clock, taken just before), or
    ``None`` when it changed too recently for the stamp to vouch for the content."""
    changed = _changed_ns(st)
    if changed < looked_ns - RACY_NS:
        return (st.st_size, changed)
    return None


def _look(path: Path) -> tuple[os.stat_result | None, int]:
    """``(stat, wall clock just before it)`` of a file; no stat when it cannot be had
    (reading or hashing the file then says what is wrong)."""
    looked = time.time_ns()
    try:
        return path.stat(), looked
    except OSError:
        return None, looked


def file_stamp(path: Path) -> Stamp | None:
    """The stamp to record with the SHA-1 of a file about to be hashed (take it *before*
    reading: a change after it then always shows as another stamp). ``None``: unknown
    (cannot stat, or modified moments ago); the first load hashes the file."""
    st, looked = _look(path)
    return None if st is None else _vouching(st, looked)


def _tidy(folder: Path) -> Path:
    """``folder`` without ``..`` and ``.`` (``/x/sub/../P`` is ``/x/P``, as messages show
    it), where that is the same folder (a ``..`` after a link to a folder is not)."""
    tidy = Path(os.path.normpath(folder))
    if tidy == folder:
        return folder
    try:
        return tidy if os.path.samefile(tidy, folder) else folder
    except OSError:  # one of them is not there: the path as given says so
        return folder


def file_version(path: Path) -> tuple[int, int, int] | None:
    """What tells one version of a file from another: its inode (an atomic write makes a
    new one), size and the later of its modification and status change times (ADR 0024:
    a rewrite in place that sets the modification time back still moves the latter);
    None when there is no such file."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_size, max(st.st_mtime_ns, st.st_ctime_ns))


def _undo_cut_short_move(folder: Path, prefix: str) -> None:
    """Take back what a creation killed while moving its entries up into ``folder``
    (:meth:`Project.create_whole`, in place) had moved: its staging folder, whose
    creator is gone, still holds the database (moved last), so the project's own folders
    beside it are that creation's. Left so, the folder was neither a project nor empty:
    every later creation there was refused. Nothing else there is touched: with any
    other entry, the folder stays as it is (and is refused as not empty)."""
    own = {*_OWN_FOLDERS, "images", LOCK_NAME}
    for stale in folder.glob(f"{glob.escape(prefix)}*"):
        if lock_held_here(stale) or not (stale / DB_NAME).is_file():
            continue
        try:  # a live creator holds its staging project's lock
            left = ProjectLock.acquire(stale)
        except ProjectError:
            continue
        left.release()
        moved = [e for e in folder.iterdir() if not e.name.startswith(prefix)]
        # Each one moved out of the staging folder, so not in it any more: one that is
        # there too (a copy, the user's own folder) is not that creation's to take back.
        # (Its lock file is there again: taking the lock above made it.)
        if any(
            e.name not in own
            or e.is_symlink()
            or (e.name != LOCK_NAME and (stale / e.name).exists())
            for e in moved
        ):
            return
        for entry in moved:
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
        shutil.rmtree(stale, ignore_errors=True)


class Project:
    """An open project folder. Thread-safe: the database is locked per call."""

    def __init__(self, root: Path, db: Database) -> None:
        self.root = root
        self._db = db
        #: The schema read and the generation of ids it was read with, set together (one
        #: assignment): ``check_ids`` on another thread (``load_mask``) compares the two,
        #: and must never see one of them new and the other old.
        self._schema_read: tuple[LabelSchema, str | None] | None = None
        self._models: dict[int, tuple[tuple[Any, ...], ModelRecord]] = {}  # see _model_of
        #: image id -> (its mask file's stamp, the values it holds): see mask_values
        self._values: dict[int, tuple[tuple[int, int, int], frozenset[int]]] = {}
        self._identity = _identity(root / DB_NAME)  # see check_in_place
        self._write_lock: ProjectLock | None = None
        # False when opened to read only (lock=False, or a helper rank of torchrun): such
        # a process never writes, not even the stamp of a checked image file.
        self._writer = True
        #: The names of the images whose labels this opening counted again (Interrupted
        #: Saves: a mask file newer than its record), in the order counted.
        self.recounted: list[str] = []

    # --- lifecycle -----------------------------------------------------------------
    @classmethod
    def create(cls, root: str | os.PathLike[str], schema: LabelSchema) -> Project:
        """Create a new project folder (it must not exist or must be empty), holding its
        write lock.

        The database is made whole under another name and renamed into place: a process
        killed while creating leaves no half project (no tables, or no classes) that
        could be neither opened nor created again. What such a kill leaves (the lock
        file and the unfinished database) does not count as content: creating again
        clears it.
        """
        folder = Path(root).absolute()
        if folder.exists() and (
            not folder.is_dir() or any(e.name not in _CREATION_LEFTOVERS for e in folder.iterdir())
        ):
            raise ProjectError(f"{folder}: already exists and is not an empty folder")
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # read-only, no permission, a file on the way...
            raise ProjectError(
                f"{folder}: cannot create the project folder ({exc.strerror or exc})"
            ) from None
        try:  # (a second creator waits only with --wait: then it finds the project made)
            held = ProjectLock.acquire(folder)
        except ProjectLocked as exc:  # another creator right now: said as what it is
            who = f" ({exc.holder.describe()})" if exc.holder is not None else ""
            raise ProjectError(
                f"{folder}: already exists and is not an empty folder: another process{who} "
                "is creating a project there"
            ) from None
        try:
            if (folder / DB_NAME).exists():  # made by another creator meanwhile
                raise ProjectError(f"{folder}: already exists and is not an empty folder")
            unfinished = folder / _CREATING_NAME
            for leftover in _CREATION_LEFTOVERS - {LOCK_NAME}:
                (folder / leftover).unlink(missing_ok=True)
            db = Database(unfinished, create=True)
            try:
                with db.transaction() as conn:
                    conn.execute(
                        "INSERT INTO meta (key, value) VALUES ('created_at', ?)", (now_iso(),)
                    )
                    conn.execute(
                        "INSERT INTO meta (key, value) VALUES ('label_dtype', ?)",
                        (str(schema.dtype),),
                    )
                    cls._write_classes(conn, schema)
            finally:
                db.close()  # the last connection: SQLite folds its log into the file
            os.replace(unfinished, folder / DB_NAME)
            fsync_dir(folder)
            project = cls(folder, Database(folder / DB_NAME, create=False))
            project._make_folders()
        except BaseException:
            held.release()
            raise
        project._write_lock = held
        return project

    @classmethod
    def create_whole(
        cls,
        root: str | os.PathLike[str],
        schema: LabelSchema,
        fill: Callable[[Project], None],
    ) -> None:
        """Create a project, have ``fill`` add to it, and only then put it at ``root``
        (which must not exist or be empty): it is made in a staging folder beside
        ``root`` and renamed into place, so a process cut short leaves no partial
        project there. A staging folder whose creator is gone (nobody holds its lock) is
        cleared."""
        folder = Path(root).absolute()
        # An empty folder that exists (a mount point, a link to a folder, the current
        # folder of a shell) is filled in place: removing it to rename the project over
        # it fails there, or leaves a shell in a deleted folder. The staging folder is
        # then made inside it, and its entries moved up, the database last.
        in_place = folder.is_dir()
        parent = folder if in_place else folder.parent
        prefix = ".staging-" if in_place else f".{folder.name}.staging-"
        if in_place:
            _undo_cut_short_move(folder, prefix)
        if folder.exists() and (
            not folder.is_dir() or any(not e.name.startswith(prefix) for e in folder.iterdir())
        ):
            raise ProjectError(f"{folder}: already exists and is not an empty folder")
        for stale in parent.glob(f"{prefix}*"):
            if lock_held_here(stale):
                continue  # this process's own
            try:  # a live creator holds its staging project's lock
                left = ProjectLock.acquire(stale)
            except ProjectError:
                continue
            left.release()
            shutil.rmtree(stale, ignore_errors=True)
        staging = parent / f"{prefix}{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        try:
            staging.mkdir(parents=True)
        except OSError as exc:  # said of the folder asked for, not of a hidden one
            raise ProjectError(
                f"{folder}: cannot create the project there ({exc.strerror or exc})"
            ) from None
        try:
            with cls.create(staging, schema) as project:
                fill(project)
            if in_place:
                if any(e.name != staging.name for e in folder.iterdir()):  # filled meanwhile
                    raise ProjectError(f"{folder}: already exists and is not an empty folder")
                for entry in sorted(staging.iterdir(), key=lambda e: e.name == DB_NAME):
                    os.replace(entry, folder / entry.name)  # the database, last, says "done"
                staging.rmdir()
                fsync_dir(folder)
            else:
                try:
                    os.replace(staging, folder)
                except OSError as exc:
                    if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR):
                        raise
                    # made meanwhile by another creator (two demos racing on one name)
                    raise ProjectError(
                        f"{folder}: already exists and is not an empty folder"
                    ) from None
                fsync_dir(folder.parent)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise

    @classmethod
    def open(cls, root: str | os.PathLike[str], *, lock: bool = True) -> Project:
        """Open an existing project folder; ``lock`` takes its write lock (see
        ``storage/lock.py``): read-only commands pass ``False`` to run beside a writer."""
        folder = _tidy(Path(root).absolute())
        if folder.exists() and not folder.is_dir():
            inside = (
                f"; the project is its folder, {folder.parent}" if folder.name == DB_NAME else ""
            )
            raise ProjectError(f"{folder}: is a file, not a project folder{inside}")
        if not folder.is_dir():
            raise ProjectError(f"{folder}: no such project folder")
        wanted = lock and lock_needed() and (folder / DB_NAME).exists()
        again = wanted and lock_held_here(folder)  # this process has it open already
        held = ProjectLock.acquire(folder) if wanted else None
        try:
            # a reader opens read-only where it cannot as usual (a full or read-only disk)
            reader = not (lock and lock_needed())
            project = cls(folder, Database(folder / DB_NAME, create=False, reader=reader))
        except BaseException:
            if held is not None:
                held.release()
            raise
        project._write_lock = held
        project._writer = lock and lock_needed()
        try:
            project._finish_class_change(held is not None and not again)
        except BaseException:
            project.close()
            raise
        if held is not None and not again:  # (its own writers may be busy otherwise)
            try:
                project._make_folders()
                # (first: the record it restores may name an accepted proposal's file,
                # which the clearing would take for one no record names)
                project._count_interrupted_saves()
                project._clear_unfinished_writes()
                from annotator.storage.image_removal import clear_orphans

                clear_orphans(project)  # of images removed by a process killed meanwhile
                project._keep_stopped_imports()
                for own in (REMOVED_DIR, SLICES_DIR, CASES_DIR):  # what such a process half wrote
                    clear_partial_folders(project.root / own)
                from annotator.storage.spill import clear_stale_spills

                clear_stale_spills(project.models_dir)  # a killed round's scratch
            except BaseException:
                project.close()
                raise
        return project

    def _make_folders(self) -> None:
        """The project's own folders, made again where missing: a process killed while
        creating the project (they come after its database), or a copy or a version
        control that keeps no empty folder, leaves a project without them, whose labels
        could never be saved."""
        for sub in _OWN_FOLDERS:
            folder = self.root / sub
            if folder.is_dir():
                continue
            try:
                folder.mkdir()
            except OSError as exc:
                raise ProjectError(
                    f"{folder}: the project's folder is missing and cannot be made again "
                    f"({exc.strerror or exc})"
                ) from None

    def _keep_stopped_imports(self) -> None:
        """The labels an import killed part way had replaced: kept, as it would have
        kept them (``storage.kept_labels.finish_stopped``), and said."""
        from annotator.storage.kept_labels import finish_stopped

        removed = self.root / REMOVED_DIR
        if not removed.is_dir():
            return
        finished = finish_stopped(removed)
        if finished:  # said in the window too, whoever opened the project first
            unsaid = [f.relative_to(self.root).as_posix() for f in self.stopped_imports]
            names = [f.relative_to(self.root).as_posix() for f in finished]
            with contextlib.suppress(ProjectError, OSError, sqlite3.Error):
                self.set_setting(STOPPED_IMPORTS_SETTING, [*unsaid, *names])
        for folder in finished:
            log.warning(
                "labels that an import stopped part way had replaced are kept in %s: "
                "importing that folder brings them back",
                folder,
            )

    @property
    def stopped_imports(self) -> list[Path]:
        """The folders of kept labels that openings finished for imports killed part way,
        not yet said in the window (:meth:`stopped_imports_said`)."""
        try:
            names = self.get_setting(STOPPED_IMPORTS_SETTING, [])
        except ProjectError:
            return []
        if not isinstance(names, list):
            return []
        folders = [self.root / n for n in names if isinstance(n, str)]
        return [f for f in folders if f.is_dir()]  # (not one moved or removed since)

    def stopped_imports_said(self) -> None:
        """The window said :attr:`stopped_imports`: they are not said again."""
        with contextlib.suppress(ProjectError, OSError, sqlite3.Error):
            self.set_setting(STOPPED_IMPORTS_SETTING, [])

    def _finish_class_change(self, writer: bool) -> None:
        """Finish a class change a process was killed in the middle of (or clear what it
        staged), before anything reads a mask: see ``storage.class_change``. A reader
        finishes it when nobody holds the write lock, and is refused while the one who
        holds it is swapping the files (every writer finishes it on opening, so the
        holder is the one changing the classes)."""
        from annotator.storage.class_change import PENDING_KEY, STAGING_DIR, finish_class_change

        if writer:
            finish_class_change(self)
            return
        if not self.has_meta(PENDING_KEY):
            return  # a staging folder without the mark is the writer's, still staging
        try:
            held = ProjectLock.acquire(self.root)
        except ProjectError:
            raise ProjectError(
                f"{self.root}: its classes are being changed right now; try again when "
                "that has finished"
            ) from None
        try:
            finish_class_change(self)
        finally:
            held.release()
        assert not (self.root / STAGING_DIR).exists() or not self.has_meta(PENDING_KEY)

    def _clear_unfinished_writes(self) -> None:
        """Remove the temporary files of atomic writes a killed process left (``.*.tmp``
        beside masks, proposals, accepted proposals and generated images), and proposal
        files no JSON names: with the lock held nobody else is writing, so none is in
        use, and each would stay forever."""
        for sub in ("masks", "proposals", ACCEPTED_DIR, IMAGES_DIR):
            try:
                entries = list(os.scandir(self.root / sub))
            except OSError:
                continue
            for entry in entries:
                if entry.name.startswith(".") and entry.name.endswith(".tmp") and entry.is_file():
                    with contextlib.suppress(OSError):
                        os.unlink(entry.path)
            if sub == "proposals":
                from annotator.storage.proposals import clear_unnamed

                clear_unnamed(self.root / sub, [e.name for e in entries])
            elif sub == ACCEPTED_DIR:
                self._clear_unnamed_accepted([e.name for e in entries])

    def _count_interrupted_saves(self) -> None:
        """Bring the records of masks whose save was cut short up to date (the writer
        holds the lock, so nothing else writes meanwhile).

        A mask file is written before its record (ADR 0002). A process killed between
        the two, or a record the database refused (locked by another program) while the
        program then quit, leaves a file newer than its record: its labelled pixels,
        status and label source are an older save's (training selects images by that
        count: a record saying "no labelled pixel" would never train). Each save leaves
        a marker (``masks/<id>.saving``, the record it means to write) from before the
        file until the record is written; each image with a marker left is counted from
        its file here, and given the marker's status and source when the file is the
        one that save wrote. So is each image whose record counts no labelled pixel but
        whose mask file exists (cut short before markers were written). One folder
        listing, and a decode only of those masks.
        """
        try:
            names = {entry.name for entry in os.scandir(self.root / "masks")}
        except OSError:
            return
        marked = {
            int(name[: -len(SAVING_SUFFIX)])
            for name in names
            if name.endswith(SAVING_SUFFIX) and name[: -len(SAVING_SUFFIX)].isdigit()
        }
        rows = self._db.query("SELECT id FROM images WHERE labelled_pixels = 0")
        zero = {int(row["id"]) for row in rows if f"{row['id']}.png" in names}
        known = {int(r["id"]) for r in self._db.query("SELECT id FROM images")} if marked else zero
        for image_id in sorted(marked | zero):
            marker = self._saving_marker(image_id)
            if image_id not in known:  # removed meanwhile: nothing to record
                with contextlib.suppress(OSError):
                    marker.unlink()
                continue
            try:
                if not self._recount(image_id, marker if image_id in marked else None):
                    return  # the database refused (a full disk): opening still works
            except ProjectError:
                continue  # damaged: said, with what to do, when the image is opened
            with contextlib.suppress(OSError):
                marker.unlink()

    def _recount(self, image_id: int, marker: Path | None) -> bool:
        """Record image ``image_id``'s labels as its mask file has them (see
        :meth:`_count_interrupted_saves`); False when the database refused."""
        record = self.image(image_id)
        mask = self.load_mask(record)
        labelled = 0 if mask is None else int(np.count_nonzero(mask != self.schema.unlabelled))
        status, source = status_after_save(record.status, labelled > 0), record.label_source
        meant = _read_marker(marker) if marker is not None and mask is not None else None
        if meant is not None and meant[0] == labelled:  # the file that save wrote
            status, source = meant[1], meant[2]
        if (labelled, status, source) == (
            record.labelled_pixels,
            record.status,
            record.label_source,
        ):
            return True
        try:
            with self._db.transaction() as conn:
                conn.execute(
                    "UPDATE images SET labelled_pixels = ?, status = ?, label_source = ?, "
                    "updated_at = ? WHERE id = ?",
                    (labelled, status.value, source, now_iso(), image_id),
                )
        except ProjectError as exc:
            log.warning("%s: its labels could not be counted again: %s", record.name, exc)
            return False
        self.recounted.append(record.name)
        log.warning(
            "%s: its labels (%d pixels) were saved but not recorded (the program was "
            "stopped, or the database refused the record, in between); they count again",
            record.name,
            labelled,
        )
        return True

    def _saving_marker(self, image_id: int) -> Path:
        return self.root / "masks" / f"{image_id}{SAVING_SUFFIX}"

    def root_now(self) -> Path | None:
        """The project's folder as it is now: :attr:`root`, or where it was moved to while
        open (known on Linux from the lock this writer holds); None when it cannot be told
        (moved, not on Linux; deleted)."""
        if self._write_lock is not None and (moved := self._write_lock.folder_now()) is not None:
            return moved
        return self.root if (self.root / DB_NAME).is_file() else None

    def close(self) -> None:
        self._db.close()
        held, self._write_lock = self._write_lock, None
        if held is not None:
            held.release()

    def __enter__(self) -> Project:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- label schema --------------------------------------------------------------
    @property
    def schema(self) -> LabelSchema:
        """The current label schema (cached; changed only through :meth:`set_schema`)."""
        return self._read_schema()[0]

    def _read_schema(self) -> tuple[LabelSchema, str | None]:
        """The schema and the generation of ids it was read with, as one pair."""
        held = self._schema_read
        if held is None:
            # The ids first: a class change committed between the two reads then pairs
            # the new classes with the old ids, which check_ids refuses (the other order
            # would pair the old classes with the new ids, and pass).
            ids = self._meta(IDS_KEY)
            rows = self._db.query("SELECT id, name, color FROM classes ORDER BY id")
            dtype = self._meta("label_dtype")
            try:
                classes = tuple(LabelClass(r["id"], r["name"], r["color"]) for r in rows)
                schema = LabelSchema(classes)
            except (SchemaError, TypeError, ValueError, AttributeError) as exc:
                raise ProjectError(f"{self.root}: the class table is damaged ({exc})") from None
            if dtype and str(schema.dtype) != dtype:
                raise ProjectError(f"{self.root}: class table does not fit label type {dtype}")
            held = self._schema_read = (schema, ids)
        return held

    def check_ids(self) -> None:
        """Refuse to go on reading label maps when their ids no longer mean the classes
        this handle read: a class was removed, merged or moved (``storage.class_change``) by
        another program since, or it is swapping the maps right now. Without this a
        long reader (an export) would mix old and new ids under the old class list."""
        schema, ids_read = self._read_schema()
        rows = self._db.query(
            "SELECT key, value FROM meta WHERE key IN (?, ?)", (IDS_KEY, CLASS_CHANGE_KEY)
        )
        now = {r["key"]: r["value"] for r in rows}
        if CLASS_CHANGE_KEY in now or now.get(IDS_KEY) != ids_read:
            raise ProjectError(
                f"{self.root}: its classes were changed (removed, merged or moved) by another "
                f"program while this one read it (it knew {', '.join(schema.names)}); run it "
                "again"
            )

    def set_schema(self, schema: LabelSchema) -> None:
        """Replace the schema. Existing ids keep their meaning: classes may be renamed,
        recoloured or appended, never removed or reordered."""
        old, ids_read = self._read_schema()
        if len(schema) < len(old):
            raise SchemaError("classes cannot be removed from a project")
        if schema.dtype != old.dtype:
            raise SchemaError("this change would alter the label value range of the project")
        renamed = [
            (a.name, b.name) for a, b in zip(old.classes, schema.classes) if a.name != b.name
        ]
        with self._db.transaction() as conn:
            conn.execute("DELETE FROM classes")
            self._write_classes(conn, schema)
            if renamed:
                row = conn.execute("SELECT MAX(version) FROM models").fetchone()
                found = conn.execute("SELECT value FROM meta WHERE key = ?", (RENAMES_KEY,))
                kept = found.fetchone()
                made = json.loads(kept[0]) if kept is not None else []
                made.extend([a, b, row[0] or 0] for a, b in renamed)
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES (?, ?) "
                    "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    (RENAMES_KEY, json.dumps(made)),
                )
        self._schema_read = (schema, ids_read)  # the ids keep their meaning

    def class_renames(self) -> list[ClassRename]:
        """The classes renamed in this project, oldest first (a damaged record: none)."""
        raw = self._meta(RENAMES_KEY)
        try:
            return [ClassRename(str(a), str(b), int(v)) for a, b, v in json.loads(raw or "[]")]
        except (ValueError, TypeError):
            log.warning("%s: the record of renamed classes is damaged; ignored", self.root)
            return []

    @staticmethod
    def _write_classes(conn: Any, schema: LabelSchema) -> None:
        conn.executemany(
            "INSERT INTO classes (id, name, color) VALUES (?, ?, ?)",
            [(c.id, c.name, c.color) for c in schema.classes],
        )

    # --- meta and settings ---------------------------------------------------------
    def _meta(self, key: str) -> str | None:
        rows = self._db.query("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0]["value"] if rows else None

    def has_meta(self, key: str) -> bool:
        return self._meta(key) is not None

    def class_ids_generation(self) -> str | None:
        """The generation of the class ids as the database holds it now: new with every
        class change committed (``storage.class_change``), so that one can tell whether
        a change cut short was committed."""
        return self._meta(IDS_KEY)

    def clear_meta(self, key: str) -> None:
        with self._db.transaction() as conn:
            conn.execute("DELETE FROM meta WHERE key = ?", (key,))

    def commit_class_change(
        self,
        schema: LabelSchema,
        updates: Sequence[tuple[int, str, int]],
        model: tuple[ModelCard, str] | None = None,
    ) -> None:
        """The commit of a class change (``storage.class_change``): in one transaction
        the new classes (and label type), ``(labelled pixels, status, image id)`` of each
        rewritten map, the mark saying the staged files are the truth, a new generation
        of ids, and ``model``: the card and checkpoint path of a version whose folder is
        written already, recorded as the active one (it must be the next version, its
        parent the active one)."""
        self.check_in_place()
        stamp = now_iso()
        with self._db.transaction() as conn:
            conn.execute("DELETE FROM classes")
            self._write_classes(conn, schema)
            conn.execute(
                "UPDATE meta SET value = ? WHERE key = 'label_dtype'", (str(schema.dtype),)
            )
            conn.executemany(
                "UPDATE images SET labelled_pixels = ?, status = ?, updated_at = ? WHERE id = ?",
                [(n, status, stamp, image_id) for n, status, image_id in updates],
            )
            conn.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (CLASS_CHANGE_KEY, stamp))
            ids = f"{stamp} {os.getpid()}"
            conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (IDS_KEY, ids),
            )
            if model is not None:
                card, checkpoint = model
                row = conn.execute("SELECT MAX(version) FROM models").fetchone()
                active = conn.execute(
                    "SELECT value FROM settings WHERE key = 'active_model'"
                ).fetchone()
                if (row[0] or 0) + 1 != card.version or (
                    active is None or json.loads(active[0]) != card.parent
                ):
                    raise ModelError(
                        "another model version was published meanwhile; nothing was changed"
                    )
                self._record_model(
                    conn, card.version, card.parent, checkpoint, card, stamp, activate=True
                )
        self._schema_read = (schema, ids)  # one assignment: see __init__

    def get_setting(
        self, key: str, default: Any = None, *, fix: str = "restore the project from a backup"
    ) -> Any:
        """A JSON-valued project setting; ``fix`` says what to do when it is damaged."""
        rows = self._db.query("SELECT value FROM settings WHERE key = ?", (key,))
        if not rows:
            return default
        raw = rows[0]["value"]
        try:
            return json.loads(raw)
        except (ValueError, TypeError, RecursionError):  # a damaged or hand-edited file
            shown = repr(raw)[:60]
            raise ProjectError(
                f"{self._db.path}: the project setting {key!r} is damaged (not JSON: {shown}); "
                f"{fix}"
            ) from None

    def set_setting(self, key: str, value: Any, *, timeout: float | None = None) -> None:
        """Store a JSON-valued setting; ``timeout``: how long to wait for another
        program's write lock (seconds; the database's default when None)."""
        with self._db.transaction(timeout=timeout) as conn:
            conn.execute(
                "INSERT INTO settings (key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, json.dumps(value)),
            )

    def channel_choice(self) -> Choice:
        """The project's channel choice (``core.channels``, 0-based; ``()``: none, the
        first three as before)."""
        fix = f"choose again with 'annotator channels {self.root} --use ...' or --reset"
        raw = self.get_setting(CHANNELS_SETTING, fix=fix)
        if raw is None:
            return ()
        try:
            if not isinstance(raw, list) or not all(isinstance(c, int) for c in raw):
                raise ValueError("not a list of channel numbers")
            return check_channels(raw)
        except ValueError as exc:
            raise ProjectError(
                f"{self._db.path}: the project setting {CHANNELS_SETTING!r} is damaged "
                f"({exc}); {fix}"
            ) from None

    def set_channel_choice(self, choice: Sequence[int]) -> None:
        """Store the channel choice (``()``: none, the first three as before)."""
        chosen = check_channels(choice)
        if chosen:
            self.set_setting(CHANNELS_SETTING, list(chosen))
        else:
            with self._db.transaction() as conn:
                conn.execute("DELETE FROM settings WHERE key = ?", (CHANNELS_SETTING,))

    # --- images --------------------------------------------------------------------
    def _stored_path(self, path: Path) -> str:
        resolved = path.resolve()
        try:
            return resolved.relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return str(resolved)

    def image_path(self, record: ImageRecord) -> Path:
        """The absolute path of an image file."""
        p = Path(record.path)
        return p if p.is_absolute() else self.root / p

    def _file_there(self, stored: str) -> bool:
        p = Path(stored)
        return (p if p.is_absolute() else self.root / p).is_file()

    def _relink(self, image_id: int, stored: str, digest: str, stamp: Stamp | None) -> None:
        """Point image ``image_id`` at its file's new place (the same content: ``digest``)."""
        size, mtime = (None, None) if stamp is None else stamp
        with self._db.transaction() as conn:
            conn.execute(
                "UPDATE images SET path = ?, file_size = ?, file_mtime_ns = ? "
                "WHERE id = ? AND sha1 = ?",
                (stored, size, mtime, image_id, digest),
            )

    def _unique_name(self, wanted: str, taken: set[str]) -> str:
        if wanted not in taken:
            return wanted
        stem, suffix = os.path.splitext(wanted)
        n = 2
        while f"{stem}~{n}{suffix}" in taken:
            n += 1
        return f"{stem}~{n}{suffix}"

    def add_images(
        self,
        paths: Iterable[str | os.PathLike[str]],
        progress: Progress | None = None,
        unnamed_slices: bool = False,
        pages_as_channels: bool = False,
    ) -> AddReport:
        """Add image files and folders (recursively). Duplicates (same file or same
        content) are skipped; unreadable files are reported and the rest are added.
        TIFF stacks and NIfTI volumes are split into one image per slice
        (``storage/stacks.py``), every slice an image whatever its content (a scan's
        blank slices alike: only a slice file added before is "already" there);
        ``unnamed_slices``: 2 to 8 bare pages are the slices of a short stack too, not
        the channels of one picture (``annotator add --pages slices``);
        ``pages_as_channels``: they are channels even when the file was split before
        (``--pages channels``, to take back a split made by mistake).

        Records are written in batches of :data:`ADD_BATCH` images, one transaction each
        (a commit per image made adding thousands of small files mostly waiting for the
        disk). A record is only ever written for a file that was read and hashed; when
        the add stops on an error or a cancel, the files done so far are still recorded.
        """
        report = AddReport(choice=self.channel_choice())
        paths = list(paths)
        own = [(self.root / d).resolve() for d in OWN_DIRS]
        candidates = collect_image_files(paths, exclude=own, other_pictures=report.other_pictures)
        odd = {f for f, _ in candidates if not_utf8(f.absolute())}
        report.errors.extend(
            ImageReadError(printable(f), NOT_UTF8) for f, _ in candidates if f in odd
        )
        candidates = [(f, n) for f, n in candidates if f not in odd]
        # A dataset added as it ships holds its masks beside the pictures (Roboflow's
        # x_mask.png, Cityscapes' gtFine/, ISBI's labels/): labelled as images, they took
        # the labels an import meant for the pictures. The name proposes, the pixels
        # decide: frame_l.png beside frame.png may be a stereo view. Found among the files
        # as given, before stacks are split (a label stack's picture stack is then gone).
        beside = {candidates[i][0]: candidates[j][0] for i, j in _masks_among(candidates).items()}
        given = candidates
        channels: dict[Path, int] = {}  # files whose bare pages are read as channels
        candidates = self._split_stacks(
            candidates, report, progress, unnamed_slices, channels, beside, pages_as_channels
        )
        if any(_touches(Path(p).resolve(), own) for p in paths):
            report.skipped.append((str(self.root), OWN_FILES_SKIPPED))
        rows = self._db.query("SELECT * FROM images")
        taken_names = {r["name"] for r in rows}
        known_paths = {r["path"] for r in rows}
        recorded = {r["path"]: r for r in rows}
        known_sha = {r["sha1"] for r in rows}
        # Images whose file is gone (moved with their folder): the same content added
        # again tells where it is now, and their labels stay theirs. Slices of one
        # content (a volume's blank frames) are told apart by their place in the split.
        lost: dict[str, list[Any]] = {}
        for r in rows:
            if not self._file_there(r["path"]):
                lost.setdefault(r["sha1"], []).append(r)
        present: set[Path] = set()  # split folders whose slice files are images already
        pending: list[tuple[str, str, str, ImageInfo, Stamp | None]] = []

        def flush() -> None:
            batch = pending[:]
            pending.clear()
            if batch:
                report.added.extend(self._insert_images(batch))

        try:
            for i, (file, name) in enumerate(candidates):
                if progress:
                    progress(i, len(candidates), str(file))
                stored = self._stored_path(file) if file.exists() else str(file)
                # A slice is an image of its own whatever its content (ADR 0022): a
                # volume's blank frames are each a slice its labels and exports need.
                a_slice = is_slice_path(stored)
                if stored in known_paths:
                    row = recorded.get(stored)
                    why = ALREADY_ADDED
                    if row is not None and not self._still_added(_row_to_image(row), file):
                        why = (
                            f"not added: it replaced the picture added as {row['name']!r} "
                            "(same file, other content); put the original back, or save the "
                            "new picture under another name to add it"
                        )
                    elif a_slice or is_case_path(stored):  # (its folder written again)
                        present.add(file.parent)
                    report.skipped.append((str(file), why))
                    continue
                try:
                    stamp = file_stamp(file)
                    array = read_image(file)
                    digest = file_sha1(file)
                except ImageReadError as exc:
                    report.errors.append(exc)
                    continue
                except OSError as exc:
                    report.errors.append(ImageReadError(file, str(exc)))
                    continue
                value = nodata_value(file) if array.dtype.kind == "f" else None
                if file in beside and _beside_is_mask(file, array, file in channels, value):
                    report.masks_left_out.append((str(file), str(beside[file])))
                    continue
                row = _lost_image(lost.get(digest, ()), stored, a_slice)
                if row is not None:
                    lost[digest].remove(row)
                    self._relink(row["id"], stored, digest, stamp)
                    known_paths.add(stored)
                    report.relinked.append((row["name"], str(file)))
                    continue
                if digest in known_sha and not a_slice:  # (a picture equal to a slice too)
                    report.skipped.append((str(file), SAME_CONTENT_ADDED))
                    continue
                wanted, name = name, self._unique_name(name, taken_names)
                if name != wanted:
                    report.named_apart.append((str(file), name))
                pending.append((name, stored, digest, ImageInfo.of(array), stamp))
                if file in channels:
                    report.pages_as_channels.append((str(file), channels[file]))
                if report.choice:  # the choice names the channels used, where it applies
                    count = 1 if array.ndim == 2 else int(array.shape[2])
                    if not channels_apply(count, report.choice):
                        report.channels_unused.append((str(file), count, 0))
                elif unused := unused_channels(file, array):
                    report.channels_unused.append((str(file), int(array.shape[2]), unused))
                if value is not None and np.isnan(array).any():
                    report.nodata.append((str(file), nodata_label(value)))
                taken_names.add(name)
                known_paths.add(stored)
                known_sha.add(digest)
                if len(pending) >= ADD_BATCH:
                    flush()
        finally:
            flush()
        if progress:
            progress(len(candidates), len(candidates), "")
        self._drop_unused_splits(report, present)
        report.further_channels = self._further_channels(given, report)
        self._keep_source_channel_names([f for f, _ in given])
        return report

    def _keep_source_channel_names(self, files: Sequence[Path]) -> None:
        """Keep the channel names of the nnU-Net datasets whose cases' files are among
        ``files`` (:data:`SOURCE_CHANNELS_SETTING`), for the nnU-Net export."""
        from annotator.storage.cases import dataset_channel_names

        folders = {
            f.parent.parent
            for f in files
            if f.parent.name.lower() in NNUNET_PICTURE_FOLDERS and nnunet_channel(f) is not None
        }
        for folder in sorted(folders):
            names = dataset_channel_names(folder)
            if not names:
                continue
            where = str((folder / "dataset.json").absolute())  # (the add's folder, relative)
            had = self.source_channel_names()[0] if self._has_source_names() else None
            if had is None:
                value = {"names": list(names), "dataset": where}
            elif had == names:
                continue
            else:  # two datasets, other names: neither is the project's
                value = {"names": [], "dataset": where}
            self.set_setting(SOURCE_CHANNELS_SETTING, value)

    def _has_source_names(self) -> bool:
        rows = self._db.query("SELECT 1 FROM settings WHERE key = ?", (SOURCE_CHANNELS_SETTING,))
        return bool(rows)

    def source_channel_names(self) -> tuple[tuple[str, ...], str]:
        """The names the nnU-Net dataset(s) added gave the pictures' channels, and the
        ``dataset.json`` that named them (none: no such dataset added, or several that
        name them otherwise)."""
        try:
            kept = self.get_setting(SOURCE_CHANNELS_SETTING)
        except ProjectError:  # damaged: the export names the channels its own way
            return (), ""
        if not isinstance(kept, dict):
            return (), ""
        names, where = kept.get("names"), kept.get("dataset")
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            return (), ""
        return tuple(names), where if isinstance(where, str) else ""

    def _drop_unused_splits(self, report: AddReport, present: Collection[Path] = ()) -> None:
        """Remove the slice files just written of stacks none of whose slices is an image
        (added now, found again, or ``present``: recorded by path, the split's folder
        deleted by hand and written again), and their mention."""
        from annotator.storage.cases import discard_join
        from annotator.storage.stacks import discard_split

        used = {self.image_path(r).parent for r in report.added}
        used |= {Path(file).parent for _, file in report.relinked}  # images found there
        used |= set(present)
        report.stacks = _kept_where_used(report.stacks, used, discard_split)
        split = {stack for stack, _, _ in report.stacks}
        report.labels_split = [(f, why) for f, why in report.labels_split if f in split]
        report.joined_channels = [(f, n) for f, n in report.joined_channels if f in split]
        report.joined_pictures = _kept_where_used(report.joined_pictures, used, discard_join)

    def _further_channels(self, given: Sequence[tuple[Path, str]], report: AddReport) -> list[str]:
        """The files just added (as a picture, or split) that are nnU-Net's further
        channels of a case (``imagesTr/case_0001.nii.gz`` beside ``case_0000.nii.gz``)."""
        channels = nnunet_further_channels([f for f, _ in given])
        if not channels:
            return []
        added = {str(Path(stack).resolve()) for stack, _, _ in report.stacks}
        added |= {str(self.image_path(r).resolve()) for r in report.added}
        refused = set(report.further_refused)  # (said in their case's line)
        return [str(f) for f in channels if str(f.resolve()) in added and str(f) not in refused]

    def _split_stacks(
        self,
        candidates: list[tuple[Path, str]],
        report: AddReport,
        progress: Progress | None,
        unnamed_slices: bool,
        channels: dict[Path, int],
        pictures_of: dict[Path, Path],
        pages_as_channels: bool = False,
    ) -> list[tuple[Path, str]]:
        """``candidates`` with each TIFF stack replaced by its slices' files
        (``storage/stacks.py``); a stack that cannot be split is an error of the report.
        ``unnamed_slices``: see :meth:`add_images`. Files whose bare pages will be read
        as channels go into ``channels`` (file -> pages), unless a split of the same
        content is in the project already: added once as slices, such a file stays
        slices when its folder is added again."""
        from annotator.storage.cases import picture_cases
        from annotator.storage.stacks import (
            StackReplaced,
            channel_cases,
            split_files,
            split_stack,
        )

        out: list[tuple[Path, str]] = []
        labels_of = {picture: mask for mask, picture in pictures_of.items()}
        files = [f for f, _ in candidates]
        cases, refused = channel_cases(files)  # nnU-Net's channel files: volumes
        pictures, refused_pictures = picture_cases(files)  # and 2-D pictures
        pictures = {f: rest for f, rest in pictures.items() if not self._any_recorded([f, *rest])}
        for further, why in [*refused.values(), *refused_pictures.values()]:
            report.channels_refused.append(why)
            report.further_refused.extend(str(f) for f in further)
        within = {f for further in [*cases.values(), *pictures.values()] for f in further}
        for file, name in candidates:
            if file in within:  # split or joined as a channel of its case's first file
                continue
            if file in pictures:
                out.extend(self._join_case(file, pictures[file], report))
                continue
            as_slices = unnamed_slices
            try:
                tiff = file.suffix.lower() in (".tif", ".tiff")
                planes, pages = tiff_planes(file) if tiff else (0, 0)
                if is_nifti(file):  # a volume is split however many slices it holds
                    planes = volume_header(file).planes
                if pages and as_slices:
                    planes = pages
                elif pages and not planes:
                    if not pages_as_channels and split_files(self.root, file) is not None:
                        planes, as_slices = pages, True
                        report.pages_split_before.append(str(file))
                    elif not pages_as_channels and _label_stack_of(labels_of.get(file), pages):
                        planes, as_slices = pages, True
                        report.pages_split_for_labels.append(str(file))
                    else:
                        channels[file] = pages
            except ImageReadError as exc:  # a stack that cannot be cut into pictures
                report.errors.append(exc)
                continue
            except OSError as exc:  # the file went meanwhile
                report.errors.append(ImageReadError(file, exc.strerror or str(exc)))
                continue
            if not planes:
                out.append((file, name))
                continue
            if file in pictures_of and _first_page_is_mask(file):  # a label stack beside
                report.masks_left_out.append((str(file), str(pictures_of[file])))
                continue
            if progress:
                progress(0, 1, f"splitting {file.name} ({planes} slices)")
            if file.exists() and (
                one := self._db.query(
                    "SELECT name FROM images WHERE path = ?", (self._stored_path(file),)
                )
            ):
                report.also_one_picture.append((str(file), one[0]["name"]))
            sample: list[np.ndarray] = []
            try:
                folder, slices, written = split_stack(
                    self.root, file, as_slices, sample, cases.get(file, ())
                )
            except StackReplaced as exc:  # as a picture file replaced by another
                report.skipped.append((str(file), exc.problem))
                continue
            except ImageReadError as exc:
                report.errors.append(exc)
                continue
            except OSError as exc:  # the stack went meanwhile
                report.errors.append(ImageReadError(file, exc.strerror or str(exc)))
                continue
            if written:  # (split before: its slices are added, or "already in the project")
                report.stacks.append((str(file), len(slices), str(folder)))
                if file in cases:
                    report.joined_channels.append((str(file), 1 + len(cases[file])))
                if why := _looks_like_labels(file, sample):  # added alone, as PNG masks are
                    report.labels_split.append((str(file), why))
            out.extend((s, s.name) for s in slices)
        return out

    def _any_recorded(self, files: Sequence[Path]) -> bool:
        """Whether any of ``files`` is an image of the project (by path, or by content):
        a case whose files were added apart (before cases were joined, or one by one)
        is not joined, its files stay those images."""
        for file in files:
            try:
                stored, digest = self._stored_path(file), file_sha1(file)
            except OSError:
                continue  # (the add says why it cannot be read)
            if self._db.query(
                "SELECT 1 FROM images WHERE path = ? OR sha1 = ? LIMIT 1", (stored, digest)
            ):
                return True
        return False

    def _join_case(
        self, first: Path, further: list[Path], report: AddReport
    ) -> list[tuple[Path, str]]:
        """The project's picture of an nnU-Net 2-D case of a file per channel
        (``storage/cases.py``) to add, as a candidate; none when it cannot be made (an
        error of the report)."""
        from annotator.storage.cases import join_case
        from annotator.storage.stacks import StackReplaced

        try:
            picture, written = join_case(self.root, first, further)
        except StackReplaced as exc:  # a channel file changed since: as a replaced stack
            report.skipped.append((str(first), f"{exc.path}: {exc.problem}"))
            return []
        except ImageReadError as exc:
            report.errors.append(exc)
            return []
        except OSError as exc:  # a file went meanwhile
            report.errors.append(ImageReadError(first, exc.strerror or str(exc)))
            return []
        if written:
            report.joined_pictures.append((str(first), 1 + len(further), str(picture.parent)))
        report.case_pictures[str(first)] = str(picture)
        return [(picture, picture.name)]

    def _still_added(self, record: ImageRecord, file: Path) -> bool:
        """Whether ``file``, at the place of ``record``, still holds its picture (one
        ``stat`` while the stamp is unchanged): a file replaced by another picture is not
        "already in the project". A file that cannot be read is taken as added."""
        try:
            return self._content_unchanged(record, file, *_look(file))
        except OSError:
            return True

    def add_image_array_file(self, file: Path, name: str | None = None) -> ImageRecord:
        """Add one image file that is known to be readable; return its record (or the
        existing record when the file, or another of the same content, is already
        present; a slice file is an image of its own whatever its content: ADR 0022)."""
        if not_utf8(file.absolute()):
            raise ImageReadError(printable(file), NOT_UTF8)
        stamp = file_stamp(file)
        array = read_image(file)
        digest = file_sha1(file)
        stored = self._stored_path(file)
        existing = self._db.query(
            "SELECT * FROM images WHERE path = ? AND sha1 = ?", (stored, digest)
        )
        if not existing and not is_slice_path(stored):
            existing = self._db.query("SELECT * FROM images WHERE sha1 = ?", (digest,))
        if existing:
            return _row_to_image(existing[0])
        taken = {r["name"] for r in self._db.query("SELECT name FROM images")}
        return self._insert_image(
            self._unique_name(name or file.name, taken),
            stored,
            digest,
            ImageInfo.of(array),
            stamp,
        )

    def add_image_bytes(
        self, data: bytes, file_name: str, display_name: str | None = None
    ) -> ImageRecord:
        """Store an image that has no file of its own (embedded in an imported file, or
        generated) as ``PROJECT/images/<file_name>`` and add it.

        An existing file of that name is kept: the new one gets ``~2``, ``~3``... A name
        too long for a file (with its ``~N``) is shortened; the image keeps its name. A
        file that turns out unreadable is removed again and :class:`ImageReadError`
        raised; a file that cannot be written raises :class:`ProjectError` (a full disk or
        a read-only folder, :data:`UNWRITABLE_ERRNOS`, stays an ``OSError``: it stops the
        whole import, not just this image).
        """
        if not file_name or Path(file_name).name != file_name or file_name.startswith("."):
            raise ProjectError(f"{file_name!r} is not a plain file name for an image")
        folder = self.root / IMAGES_DIR
        stem, suffix = os.path.splitext(file_name)
        limit = NAME_MAX - len(suffix.encode("utf-8", "surrogateescape"))
        stem = short_stem(stem, limit)
        target, n = folder / (stem + suffix), 2
        try:
            folder.mkdir(exist_ok=True)
            while target.exists():
                target, n = folder / (fit_stem(stem, f"~{n}", limit) + suffix), n + 1
            atomic_write_bytes(target, data)
        except OSError as exc:
            if exc.errno in UNWRITABLE_ERRNOS:
                raise
            raise ProjectError(
                f"{target}: cannot store the image {display_name or file_name!r} in the "
                f"project ({exc.strerror or exc})"
            ) from None
        try:
            return self.add_image_array_file(target, name=display_name or target.name)
        except ImageReadError:
            with contextlib.suppress(OSError):
                target.unlink()
            raise

    def _insert_image(
        self, name: str, stored: str, digest: str, info: ImageInfo, stamp: Stamp | None
    ) -> ImageRecord:
        return self._insert_images([(name, stored, digest, info, stamp)])[0]

    def _insert_images(
        self, batch: Sequence[tuple[str, str, str, ImageInfo, Stamp | None]]
    ) -> list[ImageRecord]:
        """Record ``(name, stored path, sha1, info, stamp)`` images in one transaction."""
        ts = now_iso()
        ids: list[int] = []
        with self._db.transaction() as conn:
            for name, stored, digest, info, stamp in batch:
                size, mtime_ns = stamp or (None, None)
                cur = conn.execute(
                    "INSERT INTO images (name, path, sha1, width, height, channels, bit_depth, "
                    "file_size, file_mtime_ns, added_at, updated_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        name,
                        stored,
                        digest,
                        info.width,
                        info.height,
                        info.channels,
                        info.bit_depth,
                        size,
                        mtime_ns,
                        ts,
                        ts,
                    ),
                )
                ids.append(int(cur.lastrowid))  # type: ignore[arg-type]
        rows = self._db.query(
            "SELECT * FROM images WHERE id BETWEEN ? AND ? ORDER BY id", (ids[0], ids[-1])
        )
        wanted = set(ids)
        return [_row_to_image(r) for r in rows if r["id"] in wanted]

    def images(self, status: ImageStatus | None = None) -> list[ImageRecord]:
        """All images in the order they were added, optionally of one status."""
        if status is None:
            rows = self._db.query("SELECT * FROM images ORDER BY id")
        else:
            rows = self._db.query(
                "SELECT * FROM images WHERE status = ? ORDER BY id", (status.value,)
            )
        return [_row_to_image(r) for r in rows]

    def labelled_images(
        self, statuses: Sequence[ImageStatus], *, after: int = 0, limit: int | None = None
    ) -> list[ImageRecord]:
        """The images of ``statuses`` with a labelled pixel, in the order they were added:
        those after image id ``after``, at most ``limit`` (what a round trains on, read
        without the others' records: a check before a round reads one of 8,000)."""
        marks = ", ".join("?" for _ in statuses)
        sql = (
            f"SELECT * FROM images WHERE labelled_pixels > 0 AND status IN ({marks}) "
            "AND id > ? ORDER BY id"
        )
        params: list[object] = [s.value for s in statuses] + [after]
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [_row_to_image(r) for r in self._db.query(sql, tuple(params))]

    def image_ids(self) -> list[int]:
        """Every image's id, in the order they were added (``images`` without reading
        the records: 5 ms instead of 0.1-0.15 s at 5,000 images)."""
        return [r[0] for r in self._db.query("SELECT id FROM images ORDER BY id")]

    def has_deep_colour_images(self) -> bool:
        """Whether an image has several channels of more than 8 bits (whose model input
        depends on a version's input normalisation), without reading the records."""
        rows = self._db.query("SELECT 1 FROM images WHERE channels > 1 AND bit_depth > 8 LIMIT 1")
        return bool(rows)

    def image_scores(self) -> list[ImageScore]:
        """The id and score of every image not done, in the order they were added: what
        ranking the next image needs (the window's N), a tenth of the time of reading
        the whole records (``images``; 0.2 s at 5,000 images)."""
        rows = self._db.query(
            "SELECT id, score FROM images WHERE status != ? ORDER BY id",
            (ImageStatus.DONE.value,),
        )
        return [ImageScore(r[0], _score(r[0], r[1])) for r in rows]

    def image_at(self, path: str | os.PathLike[str]) -> ImageRecord | None:
        """The image whose picture is the file at ``path``, or None."""
        rows = self._db.query(
            "SELECT * FROM images WHERE path = ?", (self._stored_path(Path(path)),)
        )
        return _row_to_image(rows[0]) if rows else None

    def image(self, key: int | str) -> ImageRecord:
        """An image by id, by name, or by file stem when that is unambiguous."""
        if isinstance(key, int):
            rows = self._db.query("SELECT * FROM images WHERE id = ?", (key,))
        else:
            rows = self._db.query("SELECT * FROM images WHERE name = ?", (key,))
            if not rows:
                rows = [
                    r for r in self._db.query("SELECT * FROM images") if Path(r["name"]).stem == key
                ]
                if len(rows) > 1:
                    raise ProjectError(f"image name {key!r} is ambiguous; use the full name")
        if not rows:
            raise ProjectError(f"no image {key!r} in project {self.root}")
        return _row_to_image(rows[0])

    def load_image(self, record: ImageRecord) -> np.ndarray:
        """Decode the image file of a record; refuse a file that is no longer the one that
        was added (replaced on disk): its label map belongs to the old picture.

        A file of another pixel size is refused as such. Otherwise the content is known
        by the SHA-1 recorded when the image was added; hashing every load would be slow
        (training loads every labelled image each round), so the file's stamp (size in
        bytes, modification time) is recorded with it, and while the stamp is unchanged
        one ``stat`` vouches for the content (the record's stamp, or the database's when
        the record object is older than a stamp recorded since). A changed or unknown
        stamp (a ``touch``, a copy, a project from before database version 2, a file
        modified moments before it was looked at) has the file hashed: the same content
        records the new stamp (when it can vouch, see :data:`RACY_NS`), other content is
        refused. The stamp is taken before the file is read, so a change while it is read
        shows as another stamp next time.
        """
        path = self.image_path(record)
        st, looked = _look(path)
        array = read_image(path)
        h, w = array.shape[:2]
        try:
            same = self._content_unchanged(record, path, st, looked)
        except OSError as exc:
            raise ImageReadError(path, f"cannot read the file ({exc.strerror or exc})") from None
        if (h, w) != (record.height, record.width):
            if same:  # the file added, read otherwise by a newer reader (ADR 0017 addendum)
                raise ImageReadError(
                    path,
                    f"the file is the one added as {record.name!r}, but is now read as "
                    f"{w}x{h}, not {record.width}x{record.height} (a TIFF whose first page "
                    "is a thumbnail was read as that thumbnail before): its labels fit the "
                    "old reading; remove the image from the project and add it again to "
                    "label it at its size",
                )
            raise ImageReadError(
                path,
                f"the file is now {w}x{h} but was {record.width}x{record.height} when added "
                f"to the project as {record.name!r} (replaced?); put the original back",
            )
        if not same:
            raise ImageReadError(
                path,
                f"the file changed since it was added to the project as {record.name!r} (same "
                "width and height, other bytes: another picture, or the same re-saved or "
                "re-tagged): its labels were drawn on the file as it was added; put that "
                "file back",
            )
        self._record_reading(record, ImageInfo.of(array))
        return array

    def _record_reading(self, record: ImageRecord, info: ImageInfo) -> None:
        """Record the channels and bit depth the file is read with now, when they are not
        those it was added with: the same file, read by a newer reader (an LZW band-
        interleaved TIFF once read as its first band, a palette TIFF once read as its
        indices; ADR 0017 addendum of 2026-12-02). The channel choice and the models'
        input go by the records. Best effort, by the writer only, as the stamp is."""
        if (info.channels, info.bit_depth) == (record.channels, record.bit_depth):
            return
        if not self._writer:
            return
        if not self._note_in_record(
            record,
            "channels = ?, bit_depth = ?",
            (info.channels, info.bit_depth),
            f"{record.name}: could not record how it is read now",
        ):
            return
        log.info(
            "image %s is read with %d channel(s) of %d bits now (recorded: %d of %d)",
            record.name,
            info.channels,
            info.bit_depth,
            record.channels,
            record.bit_depth,
        )

    def content_unchanged(self, record: ImageRecord) -> bool:
        """Whether the image file still holds the content that was added (the check of
        :meth:`load_image`, without decoding: one ``stat`` while the stamp is unchanged,
        else a hash). Raises ``OSError`` when the file cannot be read."""
        path = self.image_path(record)
        return self._content_unchanged(record, path, *_look(path))

    def _recorded_stamp(self, record: ImageRecord) -> Stamp | None:
        """The stamp recorded with the record's content, ``None`` when unknown."""
        rows = self._db.query(
            "SELECT file_size, file_mtime_ns FROM images WHERE id = ? AND sha1 = ?",
            (record.id, record.sha1),
        )
        if not rows or rows[0]["file_size"] is None or rows[0]["file_mtime_ns"] is None:
            return None
        return (rows[0]["file_size"], rows[0]["file_mtime_ns"])

    def _content_unchanged(
        self, record: ImageRecord, path: Path, st: os.stat_result | None, looked_ns: int
    ) -> bool:
        """Whether the file (stat-ed as ``st`` at ``looked_ns``) holds the content that was
        added: its stamp vouches for it, or its hash. The same content found by hashing
        records the new stamp (by a writer, when it can vouch), so the next look needs
        no hashing."""
        if st is not None:
            now = (st.st_size, _changed_ns(st))
            if now == (record.file_size, record.file_mtime_ns) or now == self._recorded_stamp(
                record
            ):
                return True
        if file_sha1(path) != record.sha1:
            return False
        stamp = None if st is None else _vouching(st, looked_ns)
        if stamp is None or not self._writer:
            return True
        # (only saves hashing next time: a failure to record it is no error)
        self._note_in_record(
            record,
            "file_size = ?, file_mtime_ns = ?",
            stamp,
            f"{path}: could not record the checked file's stamp",
        )
        return True

    def _note_in_record(
        self, record: ImageRecord, assignments: str, values: tuple[object, ...], failed: str
    ) -> bool:
        """Set columns of the record of this content (``assignments``: ``"a = ?, b = ?"``)
        as a note of what was looked at, waiting a moment at most for the database: a
        failure is logged (``failed``: what could not be done), never raised. True when
        recorded."""
        try:
            with self._db.transaction(timeout=BEST_EFFORT_WAIT_S) as conn:
                conn.execute(
                    f"UPDATE images SET {assignments} WHERE id = ? AND sha1 = ?",
                    (*values, record.id, record.sha1),
                )
        except (sqlite3.Error, ProjectError) as exc:
            log.warning("%s (%s)", failed, exc)
            return False
        return True

    def status_counts(self) -> dict[str, int]:
        """Number of images per status (every status present, zero included)."""
        counts = {s.value: 0 for s in ImageStatus}
        for r in self._db.query("SELECT status, COUNT(*) AS n FROM images GROUP BY status"):
            counts[r["status"]] = r["n"]
        return counts

    def set_status(
        self, image_id: int, status: ImageStatus, *, timeout: float | None = None
    ) -> None:
        self.set_statuses([(image_id, status)], timeout=timeout)

    def set_statuses(
        self, changes: Sequence[tuple[int, ImageStatus]], *, timeout: float | None = None
    ) -> None:
        """Set the status of each image of ``changes`` (id, status), in one transaction."""
        stamp = now_iso()
        with self._db.transaction(timeout=timeout) as conn:
            conn.executemany(
                "UPDATE images SET status = ?, updated_at = ? WHERE id = ?",
                [(status.value, stamp, image_id) for image_id, status in changes],
            )
        for image_id, status in changes:
            marker = self._saving_marker(image_id)
            if marker.exists():  # a save whose record was refused: its record takes it too
                meant = _read_marker(marker)
                if meant is not None:
                    with contextlib.suppress(OSError):
                        marker.write_text(json.dumps([meant[0], status.value, meant[2]]))

    def delete_image_records(self, ids: Sequence[int]) -> None:
        """Delete the records of these images, and record their ids as removed, in one
        transaction (``storage.image_removal`` keeps their labels first and removes their
        files after, by that record)."""
        self.check_in_place()
        gone = sorted(set(self.removed_image_ids()) | set(ids))
        with self._db.transaction() as conn:
            conn.executemany("DELETE FROM images WHERE id = ?", [(i,) for i in ids])
            conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (REMOVED_IDS_KEY, json.dumps(gone)),
            )

    def removed_image_ids(self) -> list[int]:
        """Images removed whose files may still be on disk (see delete_image_records)."""
        raw = self._meta(REMOVED_IDS_KEY)
        try:
            ids = json.loads(raw) if raw else []
        except ValueError:
            return []
        return [i for i in ids if isinstance(i, int)] if isinstance(ids, list) else []

    def forget_removed_image_ids(self) -> None:
        self.clear_meta(REMOVED_IDS_KEY)

    def set_scores(self, scores: dict[int, float | None]) -> None:
        """Record image-level uncertainty scores (used to rank what to label next)."""
        with self._db.transaction() as conn:
            conn.executemany(
                "UPDATE images SET score = ? WHERE id = ?", [(s, i) for i, s in scores.items()]
            )

    # --- masks ---------------------------------------------------------------------
    def mask_path(self, image_id: int) -> Path:
        return self.root / "masks" / f"{image_id}.png"

    def new_mask(self, record: ImageRecord) -> np.ndarray:
        """An all-unlabelled label map of the image's size."""
        s = self.schema
        return np.full((record.height, record.width), s.unlabelled, dtype=s.dtype)

    def has_mask(self, record: ImageRecord) -> bool:
        """Whether the image has a saved label map. A map the index says was saved (a
        label source is recorded with every save) whose file is gone is an error: treated
        as none, a done image would silently drop out of exports and training."""
        if self.mask_path(record.id).exists():
            return True
        if (record.label_source or record.labelled_pixels) and not self._db.query(
            "SELECT 1 FROM images WHERE id = ?", (record.id,)
        ):
            raise ProjectError(
                f"image {record.name!r} was removed from the project while this ran "
                "(by another program); run it again"
            )
        if record.label_source or record.labelled_pixels:
            raise ProjectError(
                f"the label map of image {record.name!r} ({self.mask_path(record.id)}) is "
                "missing; restore it from a backup, or import the image's labels again"
            )
        return False

    def _remember_values(self, image_id: int, mask: np.ndarray) -> frozenset[int]:
        """The values of ``mask``, the image's label map as its file holds it now (just
        written, or read), kept with the file's stamp for :meth:`mask_values` (on the
        thread that wrote it: the saver's, in the window)."""
        from annotator.core.labelmap import values_present

        values = frozenset(values_present(mask).tolist())
        stamp = file_version(self.mask_path(image_id))
        if stamp is not None:
            self._values[image_id] = (stamp, values)
        return values

    def mask_values(self, record: ImageRecord) -> frozenset[int] | None:
        """The values the image's label map holds (None: it has none): as this handle
        wrote them when the file is still the one it wrote, else read. A round's check
        of the classes labelled read a big map on the GUI thread (0.6-0.8 s at 8192 x
        8192) right after the saver had it in memory."""
        kept = self._values.get(record.id)
        if kept is not None and kept[0] == file_version(self.mask_path(record.id)):
            self.check_ids()
            return kept[1]
        mask = self.load_mask(record)
        return None if mask is None else self._remember_values(record.id, mask)

    def load_mask(self, record: ImageRecord) -> np.ndarray | None:
        """The saved label map of an image, or ``None`` when it never had one.

        A file that is not a label map of the image (unreadable, empty, another size,
        values that are no class id) is refused as damaged: exported or trained on, its
        values would become wrong labels without a word.
        """
        import cv2

        if not self.has_mask(record):
            return None
        self.check_ids()
        path = self.mask_path(record.id)
        s, n = self.schema, len(self.schema)

        def damaged(problem: str) -> ProjectError:
            return ProjectError(
                f"{path}: damaged label mask for image {record.name!r} ({problem}); restore "
                "it from a backup, or import the image's labels again"
            )

        try:
            data = np.fromfile(path, dtype=np.uint8)
        except OSError as exc:
            raise ProjectError(
                f"{path}: cannot read the label mask of image {record.name!r} "
                f"({exc.strerror or exc})"
            ) from None
        if not data.size:  # imdecode raises on an empty buffer instead of returning None
            raise damaged("the file is empty")
        try:
            mask = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
        except cv2.error:
            mask = None
        if mask is None:
            raise damaged("not a readable PNG")
        if mask.shape != (record.height, record.width):
            raise damaged(f"shape {mask.shape}, the image is {record.height}x{record.width}")
        if mask.dtype not in (np.uint8, np.uint16):  # PNG holds no other; a renamed file
            raise damaged(f"values of type {mask.dtype}")
        # A 16-bit file in an 8-bit project (rewritten by another tool) would wrap.
        if mask.dtype.itemsize > s.dtype.itemsize and int(mask.max()) > s.unlabelled:
            raise damaged(f"value {int(mask.max())} is no class id; the project has {n} classes")
        mask = mask.astype(s.dtype, copy=False)
        # Valid: 0..n-1, void (max-1) and unlabelled (max). Adding 2 wraps void and
        # unlabelled to 0 and 1, so one max finds any other value (about 1 ms at 4096^2).
        if int(np.max(mask + s.dtype.type(2))) >= n + 2:
            bad = int(mask[(mask >= n) & (mask < s.void)][0])
            self._check_no_class_added(bad)
            raise damaged(f"value {bad} is no class id; the project has {n} classes")
        return mask

    def _check_no_class_added(self, value: int) -> None:
        """A label map holds ``value``, past the classes this handle read: refuse as a
        change made meanwhile when another program has added that class since (an export
        beside the app), not as a damaged file to restore from a backup."""
        row = self._db.query("SELECT COUNT(*) AS n FROM classes")[0]
        if int(row["n"]) > value:
            raise ProjectError(
                f"{self.root}: a class was added by another program while this one read it "
                f"(it knew {', '.join(self.schema.names)}); run it again"
            )

    def save_mask(
        self,
        image_id: int,
        mask: np.ndarray,
        *,
        source: str = "user",
        status: ImageStatus | None = None,
        accepted: np.ndarray | None = None,
        timeout: float | None = None,
    ) -> ImageRecord:
        """Write a label map atomically, then record it (and the status) in one transaction.

        Without an explicit status, a new image with labelled pixels becomes in-progress.
        ``accepted`` is the mask of the proposal that ``source`` names
        (``proposal:v<N>...``), kept beside the labels so training can tell which pixels
        were accepted (docs/adr/0013); without it a file kept for that version stays.
        Files of proposals the source no longer names are removed after the record.
        ``timeout``: how long the record waits for another program's write lock.
        """

        self.check_in_place()
        record = self.image(image_id)
        s = self.schema
        if mask.shape != (record.height, record.width):
            raise ProjectError(
                f"mask shape {mask.shape} does not match image {record.name!r} "
                f"({record.height}x{record.width})"
            )
        if mask.dtype != s.dtype:
            raise ProjectError(f"mask dtype {mask.dtype} is not the project's {s.dtype}")
        version = source_version(source)
        if accepted is not None:
            if version is None:
                raise ProjectError(f"an accepted proposal needs a proposal source, not {source!r}")
            if accepted.shape != mask.shape or accepted.dtype != np.uint8:
                raise ProjectError(
                    f"the accepted proposal ({accepted.shape} {accepted.dtype}) does not "
                    f"match image {record.name!r}"
                )
        encoded = encode_png(mask)
        labelled = int(np.count_nonzero(mask != s.unlabelled))
        if status is None:
            status = status_after_save(record.status, labelled > 0)
        # Before the file, removed after the record: left behind, it tells the next
        # writer to open the project that the record may be older than the file.
        marker = self._saving_marker(image_id)
        left = _read_marker(marker)  # an earlier save's whose record was refused
        # (one empty or cut short, from a process killed while writing it, still says
        # "count this image again": kept as such when this save fails)
        existed = left is not None or marker.exists()
        try:
            marker.parent.mkdir(exist_ok=True)  # (a folder deleted while the project is open)
            marker.write_text(json.dumps([labelled, status.value, source]), encoding="utf-8")
            if accepted is not None and version is not None:  # (checked above)
                # Written before the labels: a crash in between leaves a file the record
                # does not name yet (unused), never a record naming a file not there.
                atomic_write_bytes(self.accepted_path(image_id, version), encode_png(accepted))
            atomic_write_bytes(self.mask_path(image_id), encoded)
            self._remember_values(image_id, mask)
        except BaseException:  # the file is the one before: so is the marker
            with contextlib.suppress(OSError):
                if left is not None:
                    marker.write_text(json.dumps([left[0], left[1].value, left[2]]))
                elif existed:
                    marker.write_bytes(b"")
                else:
                    marker.unlink()
            raise
        try:
            with self._db.transaction(timeout=timeout) as conn:
                conn.execute(
                    "UPDATE images SET labelled_pixels = ?, label_source = ?, status = ?, "
                    "updated_at = ? WHERE id = ?",
                    (labelled, source, status.value, now_iso(), image_id),
                )
        except WriteRefused as exc:  # the labels are on disk: the marker has the record
            raise RecordRefused(record.name, exc.why.split("; ")[0]) from exc
        with contextlib.suppress(OSError):  # a marker left costs one decode at opening
            marker.unlink()
        previous = source_version(record.label_source)
        if previous is not None and previous != version:
            with contextlib.suppress(OSError):  # a leftover is unused, never wrong
                self.accepted_path(image_id, previous).unlink()
        return self.image(image_id)

    def accepted_path(self, image_id: int, version: int) -> Path:
        return self.root / ACCEPTED_DIR / f"{image_id}_v{version}.png"

    def load_accepted(self, record: ImageRecord) -> np.ndarray | None:
        """The proposal an image's labels were accepted from (the one its label source
        names), or ``None``: user labels, or no readable file of that proposal (accepted
        before the file was kept, or damaged: the labels then all count as the user's)."""
        import cv2

        version = source_version(record.label_source)
        if version is None:
            return None
        path = self.accepted_path(record.id, version)
        try:
            data = np.fromfile(path, dtype=np.uint8)
        except OSError:
            return None
        accepted = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
        if accepted is None or accepted.shape != (record.height, record.width):
            log.warning("%s: unreadable accepted proposal of %s; ignored", path, record.name)
            return None
        return accepted.astype(np.uint8, copy=False)

    def _clear_unnamed_accepted(self, names: list[str]) -> None:
        """Remove accepted proposals whose image's label source does not name them (what
        a save cut short between the file and the record leaves, or a removed image's):
        a save removes only the file its record named before. One query for them all."""
        if not names:
            return
        named = {
            f"{row['id']}_v{version}.png"
            for row in self._db.query("SELECT id, label_source FROM images")
            if (version := source_version(row["label_source"])) is not None
        }
        for name in names:
            head, sep, rest = name.partition("_v")
            if sep and head.isdigit() and rest.endswith(".png") and name not in named:
                with contextlib.suppress(OSError):
                    os.unlink(self.root / ACCEPTED_DIR / name)

    def check_in_place(self) -> None:
        """Refuse to write when the project folder is no longer where it was opened
        (deleted, renamed, unmounted): the writes would recreate its folders at the old
        path, a ghost project, while the database went on in the moved or deleted file."""
        if self._identity is not None and _identity(self.root / DB_NAME) != self._identity:
            raise ProjectError(
                f"{self.root}: the project folder is gone or was moved while it was open; "
                "nothing more is written there: open the project where it is now (the "
                "labels not saved yet stay in the window until it closes)"
            )

    # --- model versions ------------------------------------------------------------
    @property
    def models_dir(self) -> Path:
        return self.root / "models"

    def models(self) -> list[ModelRecord]:
        """All published model versions, oldest first."""
        rows = self._db.query("SELECT * FROM models ORDER BY version")
        return [self._model_of(r) for r in rows]

    def model(self, version: int) -> ModelRecord:
        rows = self._db.query("SELECT * FROM models WHERE version = ?", (version,))
        if not rows:
            raise ProjectError(f"no model version {version} in {self.root}")
        return self._model_of(rows[0])

    def _model_of(self, row: Any) -> ModelRecord:
        """A row as a record. A card lists every image it trained on, so parsing one
        costs milliseconds, and the window asks for the active version at every image
        it opens: records are kept while their row is the same (equal text, equal card;
        the records are frozen)."""
        key = (row["version"], row["parent"], row["created_at"], row["checkpoint"], row["card"])
        cached = self._models.get(row["version"])
        if cached is None or cached[0] != key:
            cached = (key, _row_to_model(row, self.root))
            self._models[row["version"]] = cached
        return cached[1]

    def next_model_version(self) -> int:
        rows = self._db.query("SELECT COALESCE(MAX(version), 0) AS v FROM models")
        return int(rows[0]["v"]) + 1

    def register_model(
        self,
        version: int,
        parent: int | None,
        checkpoint: str,
        card: ModelCard,
        *,
        replacing: int | None | Literal["any"] = "any",
    ) -> ModelRecord:
        """Record a model version whose files are already written; make it the active one.

        With ``replacing``, only while that version is still the active one (None: no
        version was): a version made active since (a rollback during a training round)
        stays active, and the new one is only listed. Checked in the same transaction,
        as is that the card's classes still fit the project's (the same, in the same
        order, or the first of them): a class renamed while the version was made (a
        training round, its export) is refused, and nothing is recorded.
        """
        ts = now_iso()
        with self._db.transaction() as conn:
            names = [r[0] for r in conn.execute("SELECT name FROM classes ORDER BY id")]
            if not classes_fit(card.classes, names):  # (any case: a rename of case fits)
                raise ModelError(
                    f"the classes changed while model v{version} was made (it knows "
                    f"{list(card.classes)}, the project now has {names}); nothing was "
                    "published: train from scratch"
                )
            activate = True
            if replacing != "any":
                row = conn.execute(
                    "SELECT value FROM settings WHERE key = 'active_model'"
                ).fetchone()
                activate = (None if row is None else json.loads(row[0])) == replacing
            self._record_model(conn, version, parent, checkpoint, card, ts, activate)
        return self.model(version)

    @staticmethod
    def _record_model(
        conn: Any,
        version: int,
        parent: int | None,
        checkpoint: str,
        card: ModelCard,
        created_at: str,
        activate: bool,
    ) -> None:
        conn.execute(
            "INSERT INTO models (version, parent, created_at, checkpoint, card) VALUES (?, ?, ?, ?, ?)",
            (version, parent, created_at, checkpoint, card.to_json()),
        )
        if activate:
            conn.execute(
                "INSERT INTO settings (key, value) VALUES ('active_model', ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (json.dumps(version),),
            )

    def active_model(self) -> ModelRecord | None:
        """The model version proposals come from (the newest unless rolled back)."""
        fix = f"make a version active again with: annotator models {self.root} --rollback VERSION"
        version = self.get_setting("active_model", fix=fix)
        if version is None:
            return None
        if type(version) is not int:  # int(True), int(1.5) would pick a version silently
            raise ProjectError(
                f"{self._db.path}: the project setting 'active_model' is damaged "
                f"({version!r} is no model version); {fix}"
            )
        rows = self._db.query("SELECT * FROM models WHERE version = ?", (version,))
        if not rows:  # (a version removed by hand, or an edit of the setting)
            raise ProjectError(f"the active model version {version} is not in {self.root}; {fix}")
        return self._model_of(rows[0])

    def set_active_model(self, version: int) -> ModelRecord:
        """Roll back (or forward) to a published version."""
        record = self.model(version)
        self.set_setting("active_model", version)
        return record

    # --- summary -------------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        """What ``annotator status`` reports."""
        active = self.active_model()
        counts = self.status_counts()
        return {
            "project": str(self.root),
            "images": sum(counts.values()),  # not len(images()): 0.6 s at 20,000 images
            "status": counts,
            "classes": [
                {"id": c.id, "name": c.name, "color": c.color} for c in self.schema.classes
            ],
            "void_value": self.schema.void,
            "unlabelled_value": self.schema.unlabelled,
            "models": [
                {
                    "version": m.version,
                    "parent": m.parent,
                    "created_at": m.created_at,
                    "metrics": m.card.to_dict()["metrics"],
                }
                for m in self.models()
            ],
            "active_model": active.version if active else None,
        }


def open_or_create(root: Path, class_names: Sequence[str] | None) -> Project:
    """Open ``root`` if it is a project, else create it with ``class_names``."""
    if (root / DB_NAME).exists():
        return Project.open(root)
    if not class_names:
        raise ProjectError(f"{root}: not a project, and no classes were given to create one")
    return Project.create(root, LabelSchema.from_names(list(class_names)))


def _read_marker(path: Path) -> tuple[int, ImageStatus, str] | None:
    """The record a save meant to write, from its marker (None: gone, or cut short)."""
    try:
        labelled, status, source = json.loads(path.read_text(encoding="utf-8"))
        return int(labelled), ImageStatus(status), str(source)
    except (OSError, ValueError, TypeError):
        return None


_Written = TypeVar("_Written", bound=tuple[Any, ...])


def _kept_where_used(
    written: Sequence[_Written], used: Collection[Path], discard: Callable[[Path], None]
) -> list[_Written]:
    """The entries of ``written`` (each ending in the folder it wrote) whose folder holds
    an image in ``used``; the others' folders ``discard``-ed (a split, a joined case)."""
    kept = []
    for entry in written:
        folder = Path(entry[-1])
        if folder in used:
            kept.append(entry)
        else:
            discard(folder)
    return kept
