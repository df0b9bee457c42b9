"""Removing images from a project, keeping their labels where they can come back from.

An image removed leaves the project: its record (status, score, label counts), its label
map, its accepted and stored proposals. The picture file is the user's and is never
touched. Labels are work, so the label maps of removed images are first copied, as a
masks dataset, into ``PROJECT/removed/<time>/`` (:mod:`annotator.storage.kept_labels`):
``annotator import P --format masks`` of that folder brings them back once the pictures
are added again.

Order, for a crash at any moment: the copies first (a crash leaves the images in the
project and a spare copy), then one transaction that deletes the records, then the
project's files of those images (a crash leaves files no record names; the next writer
to open the project removes them: the commit records their ids, :func:`clear_orphans`). Image ids are never reused
(``AUTOINCREMENT``), so such a file can never be taken for a later image's.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from annotator.core.errors import ProjectError
from annotator.storage.kept_labels import KeptLabels
from annotator.storage.project import ACCEPTED_DIR, Project

_OWN = ("masks", ACCEPTED_DIR, "proposals")


@dataclass
class RemovalReport:
    """What :func:`remove_images` did."""

    removed: list[str] = field(default_factory=list)
    #: The folder holding the label maps of the removed images that had labels.
    kept_in: Path | None = None
    with_labels: int = 0

    def summary(self) -> str:
        if not self.removed:
            return "no image removed"
        text = f"removed {len(self.removed)} image(s) from the project"
        if self.kept_in is not None:
            text += (
                f"; the label maps of the {self.with_labels} with labels are in "
                f"{self.kept_in} (import that folder as masks after adding the "
                "pictures again)"
            )
        return text + "; the picture files were not touched"


def remove_images(project: Project, ids: Iterable[int]) -> RemovalReport:
    """Remove the images ``ids`` from ``project`` (see the module's docstring)."""
    project.check_in_place()
    records = [project.image(i) for i in dict.fromkeys(ids)]
    report = RemovalReport()
    if not records:
        return report
    # A map the record names but the disk lacks is no reason to keep the image.
    labelled = [r for r in records if project.mask_path(r.id).is_file()]
    if labelled:
        kept = KeptLabels(project, labelled, project.schema)
        try:
            for record in labelled:
                kept.add(record)
            folder = kept.finish()
        except OSError as exc:
            kept.discard()
            raise ProjectError(
                f"{exc.filename or kept.folder}: cannot keep the labels of the images to "
                f"remove ({exc.strerror or exc}); nothing was removed"
            ) from None
        report.kept_in, report.with_labels = folder, len(labelled)
    project.delete_image_records([r.id for r in records])
    report.removed = [r.name for r in records]
    clear_orphans(project)
    return report


def clear_orphans(project: Project) -> int:
    """Remove the project's files of the images removed (masks, accepted and stored
    proposals named ``<id>.png``, ``<id>_v<N>.png``, ``<id>.json``...), as the removal's
    commit recorded them, then forget that record; returns how many files went. Files of
    ids the record does not name stay: a database restored from an older backup must
    never cost the label maps it does not list."""
    gone = {str(i) for i in project.removed_image_ids()}
    if not gone:
        return 0
    removed = 0
    for sub in _OWN:
        try:
            entries = list(os.scandir(project.root / sub))
        except OSError:
            continue
        for entry in entries:
            head = entry.name.split(".", 1)[0].split("_", 1)[0]
            if head in gone and entry.is_file():
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)
                    removed += 1
    project.forget_removed_image_ids()
    return removed
