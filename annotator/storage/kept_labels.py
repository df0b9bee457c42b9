"""Label maps kept before an operation that takes them out of the project.

Removing images, or removing or merging a class, destroys labels. Labels are work, so
before either the label maps it loses are copied, as they are on disk, into
``PROJECT/removed/<time>[-what]/`` as a masks dataset (class-id PNGs in ``masks/``,
``class_names.txt`` and ``dataset.json`` with the classes of that moment, and
``images.json`` naming each map's image, the SHA-1 of its picture and its status):
``annotator import P --format masks`` of that folder brings them back, each on the image
of its picture and with the status it had (the pictures added again first, for removed
images; for a class taken out, the import adds the class again by name and replaces the
maps of those images).

The copies are written into a hidden ``removed/.<name>.partial`` folder, synced, and
renamed whole, so a kept folder is never half written; a process killed meanwhile leaves
the hidden folder, which the next writer to open the project removes
(:func:`~annotator.storage.atomic.clear_partial_folders`): removing images and classes
change the project only once their copies are all in place.

An import replaces maps one by one, each right after its copy: a process killed part way
has replaced some. Its copies are written with a journal (``journal=True``: the class
list at the first copy, a synced line per copy), and the next writer to open the project
finishes that folder instead of removing it (:func:`finish_stopped`): the replaced
labels are kept, as a finished import keeps them.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterable
from pathlib import Path, PurePath

from annotator.core.masks_layout import CLASS_NAMES, DATASET_JSON, class_files
from annotator.core.naming import NAME_MAX, unique_stems
from annotator.core.records import ImageRecord
from annotator.core.schema import LabelSchema
from annotator.core.status import KEPT_IMAGES_FILE, KEPT_IMAGES_FORMAT
from annotator.storage.atomic import (
    PARTIAL_SUFFIX,
    atomic_write_bytes,
    fsync_dir,
    partial_folder,
    write_synced,
)
from annotator.storage.project import REMOVED_DIR, Project

#: The journal of a folder written with ``journal=True``: a JSON line per map copied
#: (its ``masks/`` file and its image's record), synced as it is written.
JOURNAL = "kept.jsonl"


class LabelsFolder:
    """Label maps written as a masks dataset into a new folder ``PARENT/<stamp>``:
    ``masks/<image name>.png``, ``class_names.txt`` and ``dataset.json``, as a masks
    export writes them, and ``images.json`` (:data:`KEPT_IMAGES_FILE`): per mask file,
    its image's name, the SHA-1 of its picture and its status. ``annotator import P
    --format masks`` of the folder puts each map back on its image, found by its picture
    (two images called ``0001.png`` in ``scene1/`` and ``scene2/`` are told apart), with
    its status (an image in progress is not made done), unlabelled and void included.
    :meth:`write` each map, then :meth:`finish` (the folder appears whole) or
    :meth:`discard`.

    Used for the maps an operation is about to take out of the project
    (:class:`KeptLabels`) and for those a session could not save in it (the rescue)."""

    def __init__(
        self,
        parent: Path,
        stamp: str,
        records: Iterable[ImageRecord],
        schema: LabelSchema,
        journal: bool = False,
    ) -> None:
        """``records``: every image that may be added (they are named together, so that
        two images of one name never share a file); ``schema``: the classes the maps'
        ids are of; ``journal``: each copy is recorded as it is written, so that a
        process killed before :meth:`finish` leaves a folder :func:`finish_stopped`
        finishes (see the module)."""
        self._schema = schema
        self._journal = journal
        folder, n = parent / stamp, 2
        while folder.exists() or partial_folder(folder).exists():  # two in one second
            folder = parent / f"{stamp}-{n}"
            n += 1
        self.folder = folder
        self._staging = partial_folder(folder)
        # Named by the whole image name (``x.jpg.png``): the masks import then finds
        # ``x.jpg`` and never ``x.png``, which a bare stem would name as well. Only the
        # file's name: ``scene2/0001.png`` is ``0001.png.png``, no folder.
        self._names = unique_stems([(r.id, PurePath(r.name).name) for r in records], NAME_MAX - 4)
        #: ``masks/<file>`` -> the image it holds the labels of (``images.json``).
        self._images: dict[str, dict[str, str]] = {}
        self.count = 0
        self._finished = False

    def write(self, record: ImageRecord, data: bytes) -> Path:
        """Write ``data``, a PNG of ``record``'s label map (synced); the path it will
        have once the folder is finished."""
        masks = self._staging / "masks"
        if not self.count:
            shutil.rmtree(self._staging, ignore_errors=True)
            masks.mkdir(parents=True)
            if self._journal:
                self._write_classes()
                fsync_dir(self._staging)
        name = self._names[record.id]
        write_synced(masks / f"{name}.png", data)
        entry = {"image": record.name, "sha1": record.sha1, "status": record.status.value}
        self._images[f"masks/{name}.png"] = entry
        if self._journal:  # (after the copy is on disk: a line names a whole file)
            line = json.dumps({"mask": f"masks/{name}.png", **entry}) + "\n"
            with open(self._staging / JOURNAL, "ab") as fh:
                fh.write(line.encode())
                fh.flush()
                os.fsync(fh.fileno())
        self.count += 1
        return self.folder / "masks" / f"{name}.png"

    def _write_classes(self) -> None:
        """``class_names.txt`` and ``dataset.json`` of the maps' classes."""
        schema = self._schema  # (the layout of a masks export, which its import reads)
        for name, data in class_files(schema.names, schema.void, schema.unlabelled).items():
            write_synced(self._staging / name, data)

    def add_picture(self, record: ImageRecord, picture: Path) -> None:
        """Copy ``picture``, the file of ``record`` (written first), into ``images/``
        beside the masks: the import then finds the image by its content where its name
        alone does not say which (``scene1/0001.png`` and ``scene2/0001.png``). Leaves
        nothing of it when the copy fails (the ``OSError`` is raised)."""
        images = self._staging / "images"
        target = images / f"{self._names[record.id]}{picture.suffix}"
        try:
            images.mkdir(exist_ok=True)
            write_synced(target, picture.read_bytes())
        except OSError:
            target.unlink(missing_ok=True)
            raise

    def finish(self) -> Path | None:
        """Write the class list and rename the folder into place; the folder, or
        ``None`` when no map was added."""
        if not self.count:
            return None
        staging = self._staging
        if not self._journal:  # (else written with the first copy)
            self._write_classes()
        _put_in_place(staging, self.folder, self._images)
        self._finished = True
        return self.folder

    def discard(self) -> None:
        """Remove what was written (the operation did not happen), finished or not."""
        shutil.rmtree(self._staging, ignore_errors=True)
        if self._finished:
            shutil.rmtree(self.folder, ignore_errors=True)
            self._finished = False


def _put_in_place(staging: Path, folder: Path, masks: dict[str, dict[str, str]]) -> None:
    """Write ``images.json`` (``masks``: its entries), rename the synced ``staging``
    folder to ``folder``, and only then drop its journal: killed at any moment before
    the rename, the folder still has the journal that makes the next writer finish it
    (:func:`finish_stopped`, which writes ``images.json`` again over one written)."""
    # Which image each map is of, by its picture, and the status it had: the names
    # alone cannot tell scene1/0001.png from scene2/0001.png, nor a masks dataset
    # say that an image was in progress (an import makes the images it labels done).
    images = {"format": KEPT_IMAGES_FORMAT, "masks": masks}
    atomic_write_bytes(staging / KEPT_IMAGES_FILE, (json.dumps(images, indent=2) + "\n").encode())
    for sub in ("masks", "images"):
        if (staging / sub).is_dir():
            fsync_dir(staging / sub)
    fsync_dir(staging)
    os.replace(staging, folder)
    fsync_dir(folder.parent)
    if (folder / JOURNAL).exists():
        (folder / JOURNAL).unlink()
        fsync_dir(folder)


def finish_stopped(parent: Path) -> list[Path]:
    """Finish the folders of kept labels that a process killed part way left in
    ``parent`` with a journal (an import's: it had replaced the maps the journal names):
    the maps the journal names, with the class list written at the first copy, renamed
    into place as :meth:`LabelsFolder.finish` would have; a map file no line names (cut
    short by the kill) is left out. Returns the folders finished; a partial folder
    without a journal, or whose journal names no map, is left for
    :func:`~annotator.storage.atomic.clear_partial_folders`. Only for a writer holding
    the project's lock."""
    finished: list[Path] = []
    for done in parent.glob(f"*/{JOURNAL}"):  # a folder renamed, its journal not dropped
        if not done.parent.name.startswith("."):
            done.unlink()
    for staging in sorted(parent.glob(f".*{PARTIAL_SUFFIX}")):
        journal = staging / JOURNAL
        classes = [staging / CLASS_NAMES, staging / DATASET_JSON]
        if not journal.is_file() or not all(f.is_file() for f in classes):
            continue
        masks = _journal_entries(journal)
        if not masks:
            continue
        for f in (staging / "masks").iterdir():
            if f"masks/{f.name}" not in masks:
                f.unlink()
        folder = parent / staging.name[1 : -len(PARTIAL_SUFFIX)]
        name, n = folder.name, 2
        while folder.exists():
            folder = parent / f"{name}-{n}"
            n += 1
        _put_in_place(staging, folder, masks)
        finished.append(folder)
    return finished


def _journal_entries(journal: Path) -> dict[str, dict[str, str]]:
    """``masks/<file>`` -> its image's record, from the whole lines of ``journal``."""
    entries: dict[str, dict[str, str]] = {}
    for line in journal.read_bytes().splitlines():
        try:
            entry = json.loads(line)
            mask = entry.pop("mask")
        except (ValueError, KeyError, TypeError, AttributeError):
            continue  # (the line the kill cut short)
        if isinstance(mask, str) and mask.startswith("masks/") and "/" not in mask[6:]:
            entries[mask] = entry
    return entries


class KeptLabels(LabelsFolder):
    """The label maps kept before an operation, in ``PROJECT/removed/<time>[-what]/``:
    :meth:`add` each one, then :meth:`finish` (the folder appears whole) or
    :meth:`discard` (nothing is left)."""

    def __init__(
        self,
        project: Project,
        records: Iterable[ImageRecord],
        schema: LabelSchema,
        what: str = "",
        journal: bool = False,
    ) -> None:
        """``records``, ``schema``, ``journal``: as :class:`LabelsFolder`'s; ``what``
        ends the folder's name (``<time>-<what>``)."""
        stamp = time.strftime("%Y%m%d-%H%M%S") + (f"-{what}" if what else "")
        super().__init__(project.root / REMOVED_DIR, stamp, records, schema, journal)
        self._project = project

    def add(self, record: ImageRecord) -> None:
        """Copy ``record``'s label map (its file's bytes, synced)."""
        self.write(record, self._project.mask_path(record.id).read_bytes())

    def finish(self) -> Path | None:
        folder = super().finish()
        if folder is not None:
            fsync_dir(self._project.root)
        return folder
