"""nnU-Net's 2-D cases of a file per channel, joined into one picture of the project.

nnU-Net keeps each input channel of a case in a file of its own, 2-D datasets too
(``imagesTr/cell_0000.png`` the DAPI stain, ``cell_0001.png`` the GFP; its road
segmentation example's RGB ``road_0000.png``). Added apart, each file was an image
labelled apart, and a model saw one stain. An image is one picture file the project
refers to (it reads nothing else), and the user's files are never modified: so the
channel files of one case, added together, are written once, losslessly, in the type
that holds them all, as one multi-channel TIFF of the project
(``PROJECT/cases/cell_0000/cell_0000.tif``, named after the first file, so that the
case's labels ``labelsTr/cell.png`` find it by nnU-Net's ``_0000``), and that file is
added. Its ``source.json`` names every channel file (``channels``: path, size, SHA-1,
in channel order), as a split of an nnU-Net case of NIfTI volumes does
(``storage/stacks.py``): the join is of that content, so adding the files again finds
it and adds nothing; a channel file changed since is refused in one line. The folder is
written as a hidden ``.partial`` folder and renamed whole. Files are joined only when the
dataset's ``dataset.json`` (beside ``imagesTr/``) names as many channels as the case has
files. Files of one case must be pictures of one size; a case whose further channel is
not, or of another number of files than its ``dataset.json`` names, is said in one line
and its files are added apart, as before (ADR 0034, amended).
"""

from __future__ import annotations

import io
import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from annotator.core.errors import ImageReadError
from annotator.core.naming import file_stem, nnunet_cases
from annotator.core.volumes import is_nifti
from annotator.storage.atomic import fsync_dir, partial_folder, write_synced
from annotator.storage.images import image_size, read_image, tiff_planes
from annotator.storage.project import CASES_DIR, file_sha1
from annotator.storage.stacks import (
    SOURCE_FILE,
    Content,
    StackReplaced,
    as_picture,
    channel_records,
    content_of,
    record_content,
    split_record,
)

#: What became of a case's files when they cannot be joined (the end of its line).
APART = "the case's further channels were added as images of their own"


def picture_cases(
    files: Sequence[Path],
) -> tuple[dict[Path, list[Path]], dict[Path, tuple[list[Path], str]]]:
    """nnU-Net's 2-D cases of several channel files among ``files`` (pictures, not
    NIfTI volumes nor TIFF stacks: ``core.naming.nnunet_cases``) of a dataset whose
    ``dataset.json`` names as many channels as they have files: those to join (first
    file -> further channels), and those refused (first file -> (further channels, why:
    one line naming the files)), whose files are added apart. Reads headers only."""
    joined: dict[Path, list[Path]] = {}
    refused: dict[Path, tuple[list[Path], str]] = {}
    for first, further in nnunet_cases(files).items():
        if is_nifti(first) or _planes(first):
            continue  # volumes are split as one (storage/stacks.py); TIFF stacks apart
        named = _dataset_channels(first)
        if named is None:
            continue  # no nnU-Net dataset (video frames in a folder named imagesTr)
        if named != 1 + len(further):
            refused[first] = (further, _count_problem(first, further, named))
            continue
        why = _size_problem(first, further)
        if why is None:
            joined[first] = further
        else:
            refused[first] = (further, why)
    return joined, refused


def _dataset_channels(first: Path) -> int | None:
    """How many input channels the ``dataset.json`` of the nnU-Net dataset of a case's
    ``first`` file (beside its ``imagesTr/``) names; None when there is none (or it
    names none)."""
    return len(dataset_channel_names(first.parent.parent)) or None


def _count_problem(first: Path, further: Sequence[Path], named: int) -> str:
    """The line of a case whose number of files is not its ``dataset.json``'s."""
    return (
        f"{first}: its case has {1 + len(further)} channel file(s), but "
        f"{first.parent.parent / 'dataset.json'} names {named} channel(s); the case's "
        "files were added as images of their own"
    )


def _planes(file: Path) -> int:
    """How many slices a TIFF holds as a stack (0: one picture, or no TIFF)."""
    if file.suffix.lower() not in (".tif", ".tiff"):
        return 0
    try:
        return tiff_planes(file)[0]
    except (ImageReadError, OSError):
        return 0  # (the add says why it cannot be read)


def _size_problem(first: Path, further: Sequence[Path]) -> str | None:
    """Why the ``further`` channel files cannot be joined with ``first`` into one
    picture (another size, a stack, unreadable), in one line naming the files; None
    when they all are pictures of its size."""
    try:
        size = image_size(first)
    except (ImageReadError, OSError):
        return None  # (adding it says why it cannot be read)
    for file in further:
        try:
            if planes := _planes(file):
                return (
                    f"{file}: a stack of {planes} slices, but its case's first file {first} "
                    f"is one picture; {APART}"
                )
            theirs = image_size(file)
        except ImageReadError as exc:
            return f"{exc}; {APART}"
        except OSError as exc:
            return f"{file}: {exc.strerror or exc}; {APART}"
        if theirs != size:
            return (
                f"{file}: {theirs[1]}x{theirs[0]} pixels, but its case's first file {first} "
                f"is {size[1]}x{size[0]}; {APART}"
            )
    return None


def join_case(root: Path, first: Path, further: Sequence[Path]) -> tuple[Path, bool]:
    """The project's picture of the case whose channel files are ``first`` and
    ``further`` (see the module's docstring): ``(its file, whether it was written
    now)``. A join of the same content (the same files' bytes, in that order, wherever
    they lie now) gives its file again, written again if deleted since.
    :class:`ImageReadError` naming a file that cannot be read, is not of the first's
    size, or when the picture cannot be written (nothing is left behind then)."""
    files = [first, *further]
    content = content_of(first, first.stat().st_size, file_sha1(first), further)
    base = root / CASES_DIR
    name = file_stem(first)
    folder, n = base / name, 2
    while folder.exists():
        record = split_record(folder)
        if record_content(record) == content:
            found = folder / f"{folder.name}.tif"
            if found.is_file():
                return found, False
            break  # this case's join, its picture deleted: written again
        if changed := _changed_channel(record, files, content):
            raise StackReplaced(
                changed,
                f"not added: it changed since its case was joined into {folder} (same file, "
                "other content); put the original back, or save the case under another "
                "name to add it",
            )
        folder = base / f"{name}~{n}"  # another case of the same first file name
        n += 1
    picture = _joined(files)
    target = folder / f"{folder.name}.tif"
    staging = partial_folder(folder)
    try:
        import tifffile

        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        buffer = io.BytesIO()
        tifffile.imwrite(buffer, picture, **as_picture(picture))
        write_synced(staging / target.name, buffer.getvalue())
        record = {
            "case": str(first.resolve()),
            "files": [target.name],
            "channels": channel_records(files, content),
        }
        write_synced(staging / SOURCE_FILE, (json.dumps(record, indent=2) + "\n").encode())
        fsync_dir(staging)
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(staging, folder)
        fsync_dir(base)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise ImageReadError(
            first,
            f"cannot write the picture of its case into {folder} ({exc.strerror or exc}); "
            "nothing of the case was added",
        ) from None
    return target, True


def _changed_channel(
    record: dict[str, Any], files: Sequence[Path], content: Content
) -> Path | None:
    """The file of ``files`` whose content is not the one ``record`` (a case's join)
    names, when the join was of these very files (the same paths, in that order);
    else None: another case of the same first file name."""
    channels = record.get("channels")
    if not isinstance(channels, list) or len(channels) != len(files):
        return None
    paths = [c.get("stack") if isinstance(c, dict) else None for c in channels]
    if paths != [str(f.resolve()) for f in files]:
        return None
    had = record_content(record)
    return next((f for f, a, b in zip(files, had, content, strict=True) if a != b), None)


def _joined(files: Sequence[Path]) -> np.ndarray:
    """``(height, width, channels)``: the channels of each file in turn (a grey file
    one, an RGB file three), in one type that holds them all (uint8 and uint16: uint16;
    integers and floats: float). :class:`ImageReadError` naming a file whose size is
    not the first's."""
    pictures = [read_image(f) for f in files]
    size = pictures[0].shape[:2]
    for file, picture in zip(files[1:], pictures[1:], strict=True):
        if picture.shape[:2] != size:
            raise ImageReadError(
                file,
                f"{picture.shape[1]}x{picture.shape[0]} pixels, not the {size[1]}x{size[0]} "
                f"of its case's first file {files[0]}; nothing of the case was added",
            )
    kind = np.result_type(*(p.dtype for p in pictures))
    planes = [(p if p.ndim == 3 else p[..., None]).astype(kind, copy=False) for p in pictures]
    return np.concatenate(planes, axis=2)


def discard_join(folder: Path) -> None:
    """Remove a case's picture just written that was not added."""
    shutil.rmtree(folder, ignore_errors=True)


def dataset_channel_names(folder: Path) -> tuple[str, ...]:
    """The names nnU-Net's ``dataset.json`` in ``folder`` (a raw dataset's, beside its
    ``imagesTr/``) gives the input channels, in channel order: v2's ``channel_names``,
    v1's and the Decathlon's ``modality`` (``{"0": "DAPI", "1": "GFP"}``); none when
    there is no such file or it names them otherwise (keys not ``0`` to ``n-1``)."""
    try:
        meta = json.loads((folder / "dataset.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return ()
    if not isinstance(meta, dict):
        return ()
    names = meta.get("channel_names", meta.get("modality"))
    if not isinstance(names, dict) or not names:
        return ()
    if set(names) != {str(c) for c in range(len(names))}:
        return ()
    ordered = [names[str(c)] for c in range(len(names))]
    if not all(isinstance(n, str) and n.strip() for n in ordered):
        return ()
    return tuple(n.strip() for n in ordered)


def case_channels_beside(first: Path) -> list[Path]:
    """The further channel files beside ``first``, an nnU-Net 2-D case's first file
    (``imagesTr/cell_0000.png``: ``cell_0001.png``...), that an add would join with it
    (:func:`picture_cases`); none when there are none, or they are refused."""
    try:
        beside = sorted(p for p in first.parent.iterdir() if p.is_file())
    except OSError:
        return []
    return picture_cases(beside)[0].get(first, [])


def case_picture(first: Path) -> np.ndarray | None:
    """The picture of the nnU-Net 2-D case whose first channel file is ``first``, its
    further channels beside it joined as an add joins them (:func:`case_channels_beside`);
    None when it has none (``first`` is the whole picture)."""
    further = case_channels_beside(first)
    return _joined([first, *further]) if further else None


def case_pictures(root: Path) -> dict[Content, Path]:
    """The project's pictures of joined cases, by the content (size and SHA-1) of all
    their channel files, in channel order (:func:`case_content`): two cases that share
    a first channel file (a reference stain) are told apart by the others. Those whose
    picture file is gone are left out."""
    base = root / CASES_DIR
    try:
        folders = sorted(f for f in base.iterdir() if f.is_dir() and not f.name.startswith("."))
    except OSError:
        return {}
    found: dict[Content, Path] = {}
    for folder in folders:
        content = record_content(split_record(folder))
        picture = folder / f"{folder.name}.tif"
        if len(content) > 1 and picture.is_file():
            found.setdefault(content, picture)
    return found


def case_content(first: Path, digest: str) -> Content | None:
    """The content of the case whose first channel file is ``first`` (of SHA-1
    ``digest``) with the further channels beside it that an add would join
    (:func:`case_channels_beside`), as :func:`case_pictures` keys it; None when it is
    no such case, or a file cannot be read."""
    further = case_channels_beside(first)
    if not further:
        return None
    try:
        return content_of(first, first.stat().st_size, digest, further)
    except OSError:
        return None
