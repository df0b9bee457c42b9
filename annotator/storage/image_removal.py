"""Removing images from a project, keeping their labels where they can come back from.

An image removed leaves the project: its record (status, score, label counts), its label
map, its accepted and stored proposals. The picture file is the user's and is never
touched. Labels are work, so the label maps of removed images are first copied, as a
masks dataset (``<stem>.png`` class-id PNGs, ``class_names.txt`` and ``dataset.json``), into
``PROJECT/removed/<time>/``: ``annotator import P --format masks`` of that folder brings
them back once the pictures are added again.

Order, for a crash at any moment: the copies first (a crash leaves the images in the
project and a spare copy), then one transaction that deletes the records, then the
project's files of those images (a crash leaves files no record names; the next writer
to open the project removes them, :func:`clear_orphans`). Image ids are never reused
(``AUTOINCREMENT``), so such a file can never be taken for a later image's.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from annotator.core.errors import ProjectError
from annotator.core.naming import NAME_MAX, unique_stems
from annotator.storage.atomic import atomic_write_json, atomic_write_text, fsync_dir
from annotator.storage.project import ACCEPTED_DIR, REMOVED_DIR, Project

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
                f"{self.kept_in} (import them with --format masks after adding the "
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
    labelled = [r for r in records if project.has_mask(r)]
    if labelled:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        folder = project.root / REMOVED_DIR / stamp
        n = 2
        while folder.exists():  # two removals within a second
            folder = project.root / REMOVED_DIR / f"{stamp}-{n}"
            n += 1
        stems = unique_stems([(r.id, Path(r.name).stem) for r in labelled], NAME_MAX - 4)
        try:
            (folder / "masks").mkdir(parents=True)
            for record in labelled:
                data = project.mask_path(record.id).read_bytes()
                (folder / "masks" / f"{stems[record.id]}.png").write_bytes(data)
            # the layout of a masks export (formats/masks.py), which its import reads
            schema = project.schema
            atomic_write_text(folder / "class_names.txt", "".join(n + "\n" for n in schema.names))
            atomic_write_json(
                folder / "dataset.json",
                {
                    "format": "annotator-masks",
                    "void": schema.void,
                    "unlabelled": schema.unlabelled,
                    "classes": schema.names,
                },
            )
            fsync_dir(folder / "masks")
        except OSError as exc:
            raise ProjectError(
                f"{exc.filename or folder}: cannot keep the labels of the images to remove "
                f"({exc.strerror or exc}); nothing was removed"
            ) from None
        report.kept_in, report.with_labels = folder, len(labelled)
    project.delete_image_records([r.id for r in records])
    report.removed = [r.name for r in records]
    clear_orphans(project)
    return report


def clear_orphans(project: Project) -> int:
    """Remove the project's files of images it no longer has (masks, accepted and stored
    proposals named ``<id>.png``, ``<id>_v<N>.png``, ``<id>.json``...); returns how many."""
    known = {str(r.id) for r in project.images()}
    removed = 0
    for sub in _OWN:
        try:
            entries = list(os.scandir(project.root / sub))
        except OSError:
            continue
        for entry in entries:
            head = entry.name.split(".", 1)[0].split("_", 1)[0]
            if head.isdigit() and head not in known and entry.is_file():
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)
                    removed += 1
    return removed
