"""Opening and creating projects: the front ends' way in, so they never reach into storage."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

from annotator.core.errors import AnnotatorError
from annotator.core.limits import VOLUME_SUFFIXES
from annotator.core.naming import file_key
from annotator.core.records import ImageRecord
from annotator.core.schema import LabelSchema
from annotator.core.status import ImageStatus
from annotator.storage.image_removal import RemovalReport as RemovalReport
from annotator.storage.image_removal import remove_images as storage_remove_images
from annotator.storage.images import IMAGE_SUFFIXES
from annotator.storage.project import DB_NAME, AddReport, Project
from annotator.storage.project import OWN_FILES_SKIPPED as OWN_FILES_SKIPPED
from annotator.storage.project import ROUTINE_SKIPS as ROUTINE_SKIPS

#: The image file suffixes a project reads (for file dialogs and messages): pictures, and
#: NIfTI volumes (split into slices).
IMAGE_FILE_SUFFIXES: tuple[str, ...] = (*sorted(IMAGE_SUFFIXES), *sorted(VOLUME_SUFFIXES))


def open_project(root: str | os.PathLike[str], *, lock: bool = True) -> Project:
    """Open an existing project folder (one-line :class:`ProjectError` when it is not one).

    ``lock``: take the project's write lock (refused while another process writes);
    read-only commands pass False and run beside a writer.
    """
    return Project.open(root, lock=lock)


def recovered_note(project: Project) -> str | None:
    """One line naming the images whose labels the opening of ``project`` counted again
    (Interrupted Saves: saved just before the app stopped, or while the database refused
    their record), and the folders where it kept the labels that an import killed part
    way had replaced; None when there were none."""
    lines = [_recounted_line(project.recounted, _NAMES_SHOWN), _stopped_line(project)]
    return "; ".join(line for line in lines if line) or None


def recovered_short(project: Project) -> str | None:
    """:func:`recovered_note` short enough for a narrow window's status bar (no names)."""
    names = project.recounted
    parts = []
    if names:
        what = "1 image" if len(names) == 1 else f"{len(names)} images"
        parts.append(f"Counted the unrecorded saves of {what}")
    if project.stopped_imports:
        parts.append("An import was stopped part way (its replaced labels are kept)")
    return "; ".join(parts) or None


def _stopped_line(project: Project) -> str | None:
    folders = project.stopped_imports
    if not folders:
        return None
    where = ", ".join(str(f.relative_to(project.root)) for f in folders)
    return (
        f"An import was stopped part way: some images have its labels, others not (run it "
        f"again to finish it); the labels it had replaced are kept in {where} (importing "
        "that folder brings them back)"
    )


def _recounted_line(names: Sequence[str], shown_at_most: int) -> str | None:
    if not names:
        return None
    shown = ", ".join(names[:shown_at_most])
    if len(names) > shown_at_most:
        shown += f" and {len(names) - shown_at_most} more"
    what = "1 image" if len(names) == 1 else f"{len(names)} images"
    whose = "whose save was" if len(names) == 1 else "whose saves were"
    return f"Counted the labels of {what} {whose} not recorded last time ({shown})"


#: How many image names a one-line note names before "and N more".
_NAMES_SHOWN = 5


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
    """Remove images, given as :func:`images_of` finds them, from the project; their label
    maps are kept in ``PROJECT/removed/`` (``storage.image_removal``). Every key is found
    before anything is removed."""
    return storage_remove_images(project, [r.id for r in images_of(project, keys)])


def select_images(
    project: Project, keys: Sequence[str | int], status: ImageStatus | None = None
) -> list[ImageRecord]:
    """The images a command names (``annotator remove P NAME... [--status STATUS]``,
    ``mark``, ``accept``): those ``keys`` name as :func:`images_of` finds them (each once,
    in the order first named), or with ``status`` those of them of that status (without
    ``keys``: every image of it), in the order they were added. Every key is found (or
    refused in one line, naming the image meant) before anything is selected."""
    named = list({r.id: r for r in images_of(project, keys)}.values())
    if status is None:
        return named
    of_status = project.images(status)
    if not keys:
        return of_status
    wanted = {r.id for r in named}
    return [r for r in of_status if r.id in wanted]


def image_of(project: Project, key: str | int) -> ImageRecord:
    """One image as :func:`images_of` finds it."""
    return images_of(project, [key])[0]


def images_of(project: Project, keys: Sequence[str | int]) -> list[ImageRecord]:
    """The images the front ends' keys name (``annotator predict --images``, ``remove``),
    in the keys' order. A key is, in this order: an image's name (``images/5.png``); the
    file name (``5.png``) or file stem (``5``) of one image only; an id (``7``, or
    ``id:7``). A key of digits that is both a file name or stem and the id of another
    image, or that names several images, or none, is refused in one line that names the
    images meant."""
    records = project.images()
    found: list[ImageRecord] = []
    for key in keys:
        if isinstance(key, int):
            found.append(project.image(key))
            continue
        found.append(_image_named(project, records, key))
    return found


def _image_named(project: Project, records: Sequence[ImageRecord], key: str) -> ImageRecord:
    from pathlib import PurePosixPath

    exact = [r for r in records if r.name == key]
    if exact:
        return exact[0]
    # (either Unicode form: "é" typed, "e"+accent kept; each name made a key once)
    key = file_key(key, any_case=False)
    keyed = [(r, file_key(r.name, any_case=False)) for r in records]
    exact = [r for r, k in keyed if k == key]
    if exact:
        return exact[0]
    paths = [(r, PurePosixPath(k)) for r, k in keyed]
    by_file = [r for r, p in paths if p.name == key]
    by_stem = [r for r, p in paths if p.stem == key]
    named = next((same[0] for same in (by_file, by_stem) if len(same) == 1), None)
    if key.startswith("id:") and key[3:].strip().isdecimal():  # an id, said as one
        of_id = project.image(int(key[3:]))
        if named is not None and named.id != of_id.id:  # (an image named id:3.png)
            raise AnnotatorError(
                f"image name {key!r} is the file stem of {named.name!r} and means the id of "
                f"{of_id.name!r}; give the whole name of the one you mean"
            )
        return of_id
    by_id = None
    if key.strip().isdecimal():
        try:
            by_id = project.image(int(key))
        except AnnotatorError:
            pass
    if named is not None and by_id is not None and named.id != by_id.id:
        # `remove P 1` with images/1.png and the image of id 1 both there: either could be
        # meant, and removing the other one is not undone by a word
        raise AnnotatorError(
            f"image name {key!r} is the file name or stem of {named.name!r} and the id of "
            f"{by_id.name!r}; give the whole name, or id:{by_id.id} for the id"
        )
    if named is not None:
        return named
    several = by_file or by_stem
    if several:
        shown = ", ".join(repr(r.name) for r in several[:3])
        more = f" and {len(several) - 3} more" if len(several) > 3 else ""
        raise AnnotatorError(
            f"image name {key!r} is the file name of several images ({shown}{more}); "
            f"give the whole name{'' if by_id is None else f', or id:{by_id.id} for the id'}"
        )
    if by_id is not None:
        return by_id
    return _no_image(project, records, key)


def _no_image(project: Project, records: Sequence[ImageRecord], key: str) -> ImageRecord:
    """Refuse ``key``, naming the image meant when one is near: the same name, file name
    or stem in another case, else the closest name (a typo)."""
    from pathlib import PurePosixPath

    from annotator.core.near import did_you_mean_text, near_names

    low = key.lower()
    near = [
        r.name
        for r in records
        if low
        in (r.name.lower(), PurePosixPath(r.name).name.lower(), PurePosixPath(r.name).stem.lower())
    ]
    if not near:
        names = {r.name: r.name for r in records}
        names.update({PurePosixPath(r.name).name: r.name for r in records})
        # (a stem typed without its suffix: ``tile_1`` for ``tile_10.tif``)
        names.update({PurePosixPath(r.name).stem: r.name for r in records})
        near = [names[n] for n in near_names(key, names)]
    near = list(dict.fromkeys(near))
    hint = did_you_mean_text(near)
    raise AnnotatorError(f"no image {key!r} in project {project.root}{hint}")


def masks_left_out_text(report: AddReport, how: str, word: Callable[[str], str] = str) -> str:
    """:meth:`AddReport.masks_text`, with the one folder whose masks import reads the
    masks left out when they lie in several (Cityscapes' ``gtFine/``:
    :func:`~annotator.formats.masks.import_folder`)."""
    if not report.masks_left_out:
        return ""
    return report.masks_text(how, _masks_import_folder(report), word)


def masks_left_out_folder(report: AddReport) -> Path | None:
    """The folder a masks import of which reads the masks an add left out (what
    :func:`masks_left_out_text` names), or None when no one folder does."""
    folder = report.masks_folder(_masks_import_folder(report))
    return Path(folder) if folder is not None else None


def _masks_import_folder(report: AddReport) -> Path | None:
    from annotator.formats.masks import import_folder

    if not report.masks_left_out:
        return None
    masks, pictures = zip(*((Path(m), Path(p)) for m, p in report.masks_left_out), strict=True)
    return import_folder(masks, pictures)
