"""Taking a class out of a project (removed, or merged into another), or moving one in
the list, crash-safe.

Class ids are positions in the class list, so taking one out rewrites every label map
whose values change (the class's own pixels, and every later class, which moves down one
id), and the accepted proposals kept beside them (docs/adr/0013); a move likewise. A rewrite of hundreds
of files cannot be one atomic step, so it is done in three (docs/adr/0021):

1. **Stage.** Each changed map is read, checked and written, remapped, into
   ``PROJECT/.class-change/`` (the live files are untouched). Cancelled, failed or
   killed here, the project is as it was: the next writer to open it removes the folder.
2. **Commit.** One database transaction writes the new class list, the label counts and
   statuses of the changed images, and a ``class_change`` mark that says "the staged
   files are the truth".
3. **Swap.** Each staged file is renamed over its live one, the stored proposals (made
   for the old ids) are removed, and the mark is cleared. Killed here, the next writer to
   open the project finishes the swap before anything reads a mask
   (:func:`finish_class_change`); a reader that opens it meanwhile is refused.

A class removed or merged takes labels away, so before the commit the label maps that
held its pixels are kept, as they were, in ``PROJECT/removed/<time>-classes/``
(:mod:`annotator.storage.kept_labels`): importing that folder brings the class back.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from annotator.core.card import ModelCard
from annotator.core.errors import ProjectError
from annotator.core.proposal import source_version
from annotator.core.records import ImageRecord
from annotator.core.schema import ClassChange
from annotator.core.status import ImageStatus
from annotator.storage import models as model_store
from annotator.storage.atomic import fsync_dir, write_synced
from annotator.storage.images import encode_png
from annotator.storage.kept_labels import KeptLabels
from annotator.storage.project import ACCEPTED_DIR, CLASS_CHANGE_KEY, Progress, Project

#: Where the remapped files wait for the commit.
STAGING_DIR = ".class-change"
#: The meta key whose presence says the staged files are committed (step 3 to finish).
PENDING_KEY = CLASS_CHANGE_KEY
_SWAPPED = ("masks", ACCEPTED_DIR)


@dataclass
class ClassChangeReport:
    """What a class change did."""

    change: ClassChange
    masks_rewritten: int = 0
    #: Images that held pixels of the class taken out, and how many pixels.
    images_with_class: int = 0
    pixels: int = 0
    #: Images left with no labelled pixel (they are "new" again).
    emptied: list[str] = field(default_factory=list)
    #: The folder keeping, as a masks dataset of the old classes, the label maps of the
    #: images that held pixels of the class taken out (:mod:`kept_labels`).
    kept_in: Path | None = None

    def summary(self) -> str:
        what = self.change.describe()
        if self.change.removed is None:  # a move: every pixel keeps its class
            return f"{what}; {self.masks_rewritten} label map(s) rewritten for the ids that moved"
        if not self.images_with_class:
            rewritten = (
                f", {self.masks_rewritten} label map(s) rewritten for the ids that moved"
                if self.masks_rewritten
                else ""
            )
            return f"{what}; no image had pixels of it{rewritten}"
        moved = "became unlabelled" if self.change.into is None else "changed class"
        text = (
            f"{what}; {self.pixels:,} pixels in {self.images_with_class} image(s) {moved}, "
            f"{self.masks_rewritten} label map(s) rewritten"
        )
        if self.emptied:
            text += f"; {len(self.emptied)} image(s) have no labels left and are new again"
        if self.kept_in is not None:
            text += f"; their label maps as they were are kept in {self.kept_in}"
            if self.change.new.dtype == self.change.old.dtype:
                text += " (import that folder as masks to bring the class back)"
            else:  # 255 classes became 254: the project is 8-bit now, and cannot grow back
                text += (
                    f" (with {len(self.change.old)} classes: import them into a project "
                    "created with as many to bring the class back)"
                )
        return text


@dataclass(frozen=True)
class StagedModel:
    """A model version for the classes after the change (its parent adapted), recorded
    as the active version in the change's own commit: never labels of the new ids with
    only a model of the old, even after a crash."""

    card: ModelCard
    weights: bytes
    onnx: bytes | None = None


def change_classes(
    project: Project,
    change: ClassChange,
    progress: Progress | None = None,
    model: StagedModel | None = None,
) -> ClassChangeReport:
    """Make ``change`` (a class taken out, or moved) in ``project`` (see the module's
    docstring), and ``model`` the active version in the same commit.

    ``progress(done, total, name)`` is called before each image; an exception it raises
    (a cancel) stops the change with nothing changed. A damaged or missing label map
    stops it too, naming the file: a partial remap would leave wrong ids behind."""
    project.check_in_place()
    if project.schema != change.old:
        raise ProjectError("the classes changed meanwhile; look at them again and retry")
    staging = project.root / STAGING_DIR
    shutil.rmtree(staging, ignore_errors=True)
    report = ClassChangeReport(change)
    recorded: tuple[ModelCard, str] | None = None
    updates: list[tuple[int, str, int]] = []  # (labelled pixels, status, image id)
    old, new, lut = change.old, change.new, change.lut
    records = project.images()
    # The maps that lose the pixels of a class taken out are kept as they are now.
    kept = None if change.removed is None else KeptLabels(project, records, old, "classes")
    try:
        for sub in _SWAPPED:
            (staging / sub).mkdir(parents=True)
        for i, record in enumerate(records):
            if progress is not None:
                progress(i, len(records), record.name)
            mask = project.load_mask(record)
            if mask is None:
                continue
            remapped = lut[mask]
            gone = change.removed
            count = 0 if gone is None else int(np.count_nonzero(mask == gone.id))
            if count:
                report.images_with_class += 1
                report.pixels += count
                assert kept is not None
                kept.add(record)
            accepted = project.load_accepted(record)
            if accepted is not None:  # 8-bit class ids of a model: a project of <= 254
                moved = lut[np.minimum(accepted, old.unlabelled)]  # no class id: unlabelled
                if not np.array_equal(moved, accepted):
                    name = project.accepted_path(record.id, _accepted_version(record)).name
                    write_synced(staging / ACCEPTED_DIR / name, encode_png(moved))
            if remapped.dtype == mask.dtype and np.array_equal(remapped, mask):
                continue
            write_synced(staging / "masks" / f"{record.id}.png", encode_png(remapped))
            report.masks_rewritten += 1
            labelled = int(np.count_nonzero(remapped != new.unlabelled))
            status = record.status
            if not labelled and record.labelled_pixels:
                status = ImageStatus.NEW
                report.emptied.append(record.name)
            updates.append((labelled, status.value, record.id))
        if progress is not None:  # (then seconds of syncing and moving, at 8,000 maps)
            progress(
                len(records),
                len(records),
                f"putting {report.masks_rewritten} rewritten map(s) in place…",
            )
        for sub in _SWAPPED:
            fsync_dir(staging / sub)
        fsync_dir(staging)
        if kept is not None:
            report.kept_in = kept.finish()
        recorded = None
        if model is not None:  # a folder no record names, until the commit
            folder = model_store.next_version_folder(project, model.card.version)
            written = model_store.write_version_folder(
                folder, model.weights, model.card, model.onnx
            )
            recorded = (model.card, written.weights.relative_to(project.root).as_posix())
        project.commit_class_change(new, updates, recorded)
    except BaseException as exc:
        if not project.has_meta(PENDING_KEY):  # not committed: the project is as it was
            shutil.rmtree(staging, ignore_errors=True)
            if kept is not None:
                kept.discard()
                report.kept_in = None
            # the model's folder is ours, unless a version of its number was recorded since
            if recorded is not None and all(
                m.version != recorded[0].version for m in project.models()
            ):
                shutil.rmtree((project.root / recorded[1]).parent, ignore_errors=True)
            if isinstance(exc, OSError):  # a full disk, a read-only folder...
                raise ProjectError(
                    f"{exc.filename or staging}: {exc.strerror or exc}; the classes and "
                    "the labels are unchanged"
                ) from None
        raise
    finish_class_change(project)
    return report


def _accepted_version(record: ImageRecord) -> int:
    version = source_version(record.label_source)
    assert version is not None  # an accepted file was read, so the source names one
    return version


def finish_class_change(project: Project) -> None:
    """Step 3 of a committed class change (renaming is idempotent: a swap cut short is
    finished by running it again); an uncommitted one's staged files are removed."""
    staging = project.root / STAGING_DIR
    if not project.has_meta(PENDING_KEY):
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
        return
    for sub in _SWAPPED:
        # Files (or the folder) gone meanwhile were moved by another finisher in this
        # process: a second handle of the project opened during the swap.
        try:
            entries = list(os.scandir(staging / sub))
        except FileNotFoundError:
            continue
        target = project.root / sub
        target.mkdir(exist_ok=True)
        for entry in entries:
            with contextlib.suppress(FileNotFoundError):
                os.replace(entry.path, target / entry.name)
        fsync_dir(target)
    _remove_stored_proposals(project.root / "proposals")
    project.clear_meta(PENDING_KEY)
    shutil.rmtree(staging, ignore_errors=True)


def _remove_stored_proposals(folder: Path) -> None:
    """Stored proposals hold the old class ids; they are a cache, made again on demand.
    The JSON files commit a proposal, so they go first."""
    try:
        entries = sorted(os.scandir(folder), key=lambda e: not e.name.endswith(".json"))
    except OSError:
        return
    for entry in entries:
        if entry.is_file():
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
