"""Opening and creating projects: the front ends' way in, so they never reach into storage."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from annotator.core.errors import AnnotatorError
from annotator.core.records import ImageRecord
from annotator.core.schema import LabelSchema
from annotator.storage.image_removal import RemovalReport as RemovalReport
from annotator.storage.image_removal import remove_images as storage_remove_images
from annotator.storage.images import IMAGE_SUFFIXES
from annotator.storage.project import DB_NAME, AddReport, Project
from annotator.storage.project import OWN_FILES_SKIPPED as OWN_FILES_SKIPPED

#: The image file suffixes a project reads (for file dialogs and messages).
IMAGE_FILE_SUFFIXES: tuple[str, ...] = tuple(sorted(IMAGE_SUFFIXES))


def open_project(root: str | os.PathLike[str], *, lock: bool = True) -> Project:
    """Open an existing project folder (one-line :class:`ProjectError` when it is not one).

    ``lock``: take the project's write lock (refused while another process writes);
    read-only commands pass False and run beside a writer.
    """
    return Project.open(root, lock=lock)


def is_project(root: str | os.PathLike[str]) -> bool:
    """Whether ``root`` is a project folder (holds the project database)."""
    return (Path(root) / DB_NAME).is_file()


def create_project(
    root: str | os.PathLike[str], class_names: Sequence[str] | LabelSchema
) -> Project:
    """Create a project folder with these classes (ids ``0 .. n-1`` in this order), given
    as names or as a whole schema (names and colours)."""
    if isinstance(class_names, LabelSchema):
        return Project.create(root, class_names)
    names = [n.strip() for n in class_names]
    if not names or any(not n for n in names):
        raise AnnotatorError(f"empty class name in {', '.join(class_names)!r}")
    return Project.create(root, LabelSchema.from_names(names))


def refuse_image_files(
    project: Project, paths: Sequence[str | os.PathLike[str]], what: str
) -> None:
    """Refuse writing over one of the project's image files (a folder of pictures that is
    also an output folder), which no option may replace."""
    targets = {Path(p).resolve(): p for p in paths}
    if not targets:  # nothing would be replaced: no need to resolve every image's path
        return
    for rec in project.images():
        hit = targets.get(project.image_path(rec).resolve())
        if hit is not None:
            raise AnnotatorError(
                f"{hit}: is the image file of {rec.name!r} in the project; write the {what} "
                "somewhere else"
            )


def refuse_inside_project(project: Project, path: str | os.PathLike[str], what: str) -> None:
    """Refuse writing ``path`` among the project's own files (its database, label maps,
    models), which a command's output must never replace."""
    root = project.root.resolve()
    target = Path(path).resolve()
    if target == root or root in target.parents:
        raise AnnotatorError(
            f"{path}: is inside the project folder {project.root}; write the {what} "
            "somewhere else, so that no project file can be replaced"
        )


def remove_images(project: Project, keys: Sequence[str | int]) -> RemovalReport:
    """Remove images, given by name (or unambiguous file stem) or id, from the project;
    their label maps are kept in ``PROJECT/removed/`` (``storage.image_removal``). Every
    key is found before anything is removed."""
    return storage_remove_images(project, [image_of(project, k).id for k in keys])


def image_of(project: Project, key: str | int) -> ImageRecord:
    """An image by name (a name of digits wins over an id) or id."""
    if isinstance(key, int):
        return project.image(key)
    try:
        return project.image(key)
    except AnnotatorError:
        if key.strip().isdecimal():
            return project.image(int(key))
        raise


def masks_left_out_text(report: AddReport, how: str) -> str:
    """:meth:`AddReport.masks_text`, with the one folder whose masks import reads the
    masks left out when they lie in several (Cityscapes' ``gtFine/``:
    :func:`~annotator.formats.masks.import_folder`)."""
    from annotator.formats.masks import import_folder

    if not report.masks_left_out:
        return ""
    masks, pictures = zip(*((Path(m), Path(p)) for m, p in report.masks_left_out), strict=True)
    return report.masks_text(how, import_folder(masks, pictures))
