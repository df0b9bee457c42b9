"""Label maps kept before an operation that takes them out of the project.

Removing images, or removing or merging a class, destroys labels. Labels are work, so
before either the label maps it loses are copied, as they are on disk, into
``PROJECT/removed/<time>[-what]/`` as a masks dataset (class-id PNGs in ``masks/``,
``class_names.txt`` and ``dataset.json`` with the classes of that moment): ``annotator
import P --format masks`` of that folder brings them back (the pictures added again
first, for removed images; for a class taken out, the import adds the class again by
name and replaces the maps of those images).

The copies are written into a hidden ``removed/.<name>.partial`` folder, synced, and
renamed whole, so a kept folder is never half written; a process killed meanwhile leaves
the hidden folder, which the next writer to open the project removes
(:func:`~annotator.storage.atomic.clear_partial_folders`).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterable
from pathlib import Path

from annotator.core.naming import NAME_MAX, unique_stems
from annotator.core.records import ImageRecord
from annotator.core.schema import LabelSchema
from annotator.storage.atomic import fsync_dir, partial_folder, write_synced
from annotator.storage.project import REMOVED_DIR, Project


class KeptLabels:
    """The label maps kept before an operation: :meth:`add` each one, then
    :meth:`finish` (the folder appears whole) or :meth:`discard` (nothing is left)."""

    def __init__(
        self,
        project: Project,
        records: Iterable[ImageRecord],
        schema: LabelSchema,
        what: str = "",
    ) -> None:
        """``records``: every image that may be added (they are named together, so that
        two images of one stem never share a file); ``schema``: the classes the maps'
        ids are of; ``what`` ends the folder's name (``<time>-<what>``)."""
        self._project, self._schema = project, schema
        stamp = time.strftime("%Y%m%d-%H%M%S") + (f"-{what}" if what else "")
        root = project.root / REMOVED_DIR
        folder, n = root / stamp, 2
        while folder.exists() or partial_folder(folder).exists():  # two in one second
            folder = root / f"{stamp}-{n}"
            n += 1
        self.folder = folder
        self._staging = partial_folder(folder)
        # Named by the whole image name (``x.jpg.png``): the masks import then finds
        # ``x.jpg`` and never ``x.png``, which a bare stem would name as well.
        self._names = unique_stems([(r.id, r.name) for r in records], NAME_MAX - 4)
        self.count = 0
        self._finished = False

    def add(self, record: ImageRecord) -> None:
        """Copy ``record``'s label map (its file's bytes, synced)."""
        masks = self._staging / "masks"
        if not self.count:
            shutil.rmtree(self._staging, ignore_errors=True)
            masks.mkdir(parents=True)
        data = self._project.mask_path(record.id).read_bytes()
        write_synced(masks / f"{self._names[record.id]}.png", data)
        self.count += 1

    def finish(self) -> Path | None:
        """Write the class list and rename the folder into place; the folder, or
        ``None`` when no map was added."""
        if not self.count:
            return None
        schema, staging = self._schema, self._staging
        write_synced(staging / "class_names.txt", "".join(n + "\n" for n in schema.names).encode())
        meta = {  # the layout of a masks export (formats/masks.py), which its import reads
            "format": "annotator-masks",
            "void": schema.void,
            "unlabelled": schema.unlabelled,
            "classes": schema.names,
        }
        write_synced(staging / "dataset.json", (json.dumps(meta, indent=2) + "\n").encode())
        fsync_dir(staging / "masks")
        fsync_dir(staging)
        os.replace(staging, self.folder)
        fsync_dir(self.folder.parent)
        fsync_dir(self._project.root)
        self._finished = True
        return self.folder

    def discard(self) -> None:
        """Remove what was kept (the operation did not happen), finished or not."""
        shutil.rmtree(self._staging, ignore_errors=True)
        if self._finished:
            shutil.rmtree(self.folder, ignore_errors=True)
            self._finished = False
