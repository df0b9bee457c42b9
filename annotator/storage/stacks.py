"""TIFF stacks and NIfTI volumes added to a project: each slice becomes an image of its own.

Microscopes and EM pipelines write volumes and time series as one multi-page TIFF;
scanners' volumes come as NIfTI files (``.nii``, ``.nii.gz``: ``core.volumes``). The
project's images are 2-D pictures, each its own file, so a stack is split: its slices
are written, losslessly and in their own dtype, as TIFF files into
``PROJECT/slices/<stem>/<stem>_z000.tif``... (numbered from 0, as napari and numpy count
planes; an OME-TIFF's ``.ome`` is no part of ``<stem>``, nor ``.nii.gz``), and those
files are added. A NIfTI volume's ``source.json`` also holds its ``volume`` record
(``core.volumes.geometry``): what writes its labels back as a volume of its voxels.
Every other part of the app then treats a slice as any picture, but the add: each slice
is an image of its own whatever its content (a scan's blank slices alike); masks named
``<stem>_z000.png`` import onto it, and exports name it so.

The folder is written as a hidden ``.partial`` folder and renamed whole, so a split is
never half there; a ``source.json`` in it records the stack (path, size, SHA-1), and
adding a stack of the same content again (touched, or moved) finds its slices instead of
writing them twice. The stack's own file is never touched.

nnU-Net keeps each input channel of a case in a file of its own (``imagesTr/
case_0000.nii.gz``, ``case_0001.nii.gz``...: BraTS' four MRI sequences). Added together,
the volumes of one grid (:func:`channel_grid`) are split as one: slice ``k`` is one
picture whose channel ``c`` is slice ``k`` of file ``_000c``, in the folder named after
the first file (``slices/case_0000/``, so the case's labels ``labelsTr/case.nii.gz`` and
the nnU-Net export find it as the first file's), its ``source.json`` naming every
channel file (``channels``: path, size, SHA-1 each); it is a split of that content,
those files in that order.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from annotator.core.errors import ImageReadError
from annotator.core.naming import file_stem, natural_key, nnunet_cases, slice_stems, stack_stem
from annotator.core.nodata import GDAL_NODATA_TAG
from annotator.core.volumes import grid_problem, is_nifti, read_volume, volume_geometry
from annotator.storage.atomic import atomic_write_text, fsync_dir, partial_folder, write_synced
from annotator.storage.images import main_series, nodata_value, read_tiff_stack
from annotator.storage.project import LABEL_SAMPLE_SLICES, SLICES_DIR, file_sha1

SOURCE_FILE = "source.json"


def split_stack(
    root: Path,
    stack: Path,
    unnamed_slices: bool = False,
    sample: list[np.ndarray] | None = None,
    channels: Sequence[Path] = (),
) -> tuple[Path, list[Path], bool]:
    """Write the slices of the TIFF stack ``stack`` into the project at ``root`` (see the
    module's docstring); ``(folder, slice files, whether they were written now)``. A
    stack split before (the same content, wherever it is now) gives its files again;
    those deleted since are written again (as they were: the same stack, the same rule).
    :class:`ImageReadError` naming the stack when it cannot be read or its slices cannot
    be written (nothing is left behind then). ``unnamed_slices``: bare pages read as
    channels are slices (``annotator add --pages slices``). ``sample``: a list that gets
    up to ``LABEL_SAMPLE_SLICES`` slices, evenly spread, of a stack read now.
    ``channels``: the further channel files of an nnU-Net case whose first file is
    ``stack`` (NIfTI volumes on its grid: :func:`channel_grid`), split with it as the
    channels of its slices."""
    st = stack.stat()
    digest = file_sha1(stack)
    content = content_of(stack, st.st_size, digest, channels)
    base = root / SLICES_DIR
    nifti = is_nifti(stack)
    name = stack_stem(file_stem(stack))  # vol.ome.tif: vol/, vol_z000.tif...; case.nii.gz: case/
    if not nifti and name != stack.stem:  # split before under its whole stem (vol.ome/)
        legacy = base / stack.stem
        found = _split_before(legacy, split_record(legacy), content)
        if found is not None:
            _moved_to(legacy, split_record(legacy), stack)
            return legacy, found, False
    folder, n = base / name, 2
    restore = False
    unrecorded: list[Path] = []  # splits whose source.json is lost or damaged
    while folder.exists():
        record = split_record(folder)
        if _files(record) is None or not isinstance(record.get("sha1"), str):
            unrecorded.append(folder)
        found = _split_before(folder, record, content)
        if found is not None:
            _moved_to(folder, record, stack)  # found where it lies now
            return folder, found, False
        if record_content(record) == content:
            restore = True  # this stack's split, slice files deleted: written again
            break
        if record.get("stack") == str(stack.resolve()) and len(record_content(record)) == len(
            content
        ):
            raise StackReplaced(
                stack,
                f"not added: it replaced the stack split into {folder} (same file, other "
                "content); put the original back, or save the new stack under another name "
                "to add it",
            )
        folder = base / f"{name}~{n}"  # another stack of the same name
        n += 1
    slices, volume = read_stack(stack, unnamed_slices)
    if channels:
        slices = _with_channels(slices, channels)
    for old in unrecorded:  # this stack's split, its record lost: recorded again
        if (files := _same_slices(old, slices)) is not None:
            record = _source_record(stack, st, digest, [f.name for f in files], volume)
            if channels:
                record["channels"] = channel_records([stack, *channels], content)
            with contextlib.suppress(OSError):  # (else found the same way next time)
                atomic_write_text(old / SOURCE_FILE, json.dumps(record, indent=2) + "\n")
            return old, files, False
    if sample is not None and len(slices):
        picks = np.linspace(0, len(slices) - 1, min(len(slices), LABEL_SAMPLE_SLICES))
        sample.extend(slices[k] for k in sorted({int(round(x)) for x in picks}))
    # the stack's nodata value goes with each slice (ADR 0029: read as NaN there too)
    nodata = None if nifti else nodata_value(stack)
    exact = nodata is not None and nodata.is_integer() and abs(nodata) < 1e15
    text = None if nodata is None else str(int(nodata)) if exact else repr(nodata)  # (nan too)
    extratags = [] if text is None else [(GDAL_NODATA_TAG, "s", 0, text, True)]
    alpha = not nifti and not channels and _has_alpha(stack)
    # Named after the folder: the second stack named vol.tif gives vol~2_z000.tif, which a
    # label stack named vol~2.tif is read into (formats/masks.py).
    names = [f"{stem}.tif" for stem in slice_stems(folder.name, len(slices))]
    staging = partial_folder(folder)
    try:
        import tifffile

        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        for name, array in zip(names, slices, strict=True):
            buffer = io.BytesIO()
            tifffile.imwrite(buffer, array, extratags=extratags, **as_picture(array, alpha))
            write_synced(staging / name, buffer.getvalue())
        record = _source_record(stack, st, digest, names, volume)
        if channels:
            record["channels"] = channel_records([stack, *channels], content)
        write_synced(staging / SOURCE_FILE, (json.dumps(record, indent=2) + "\n").encode())
        fsync_dir(staging)
        if restore:  # the folder left: its record and the slice files still there
            shutil.rmtree(folder)
        os.replace(staging, folder)
        fsync_dir(base)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise ImageReadError(
            stack,
            f"cannot write its slices into {folder} ({exc.strerror or exc}); nothing was added",
        ) from None
    # (restored: the images of these slices are in the project already, as before)
    return folder, [folder / name for name in names], not restore


def _source_record(
    stack: Path, st: os.stat_result, digest: str, names: list[str], volume: Any
) -> dict[str, Any]:
    """A split's ``source.json``: the stack it is of, and its slice files in order."""
    return {
        "stack": str(stack.resolve()),
        "size": st.st_size,
        "sha1": digest,
        "planes": len(names),
        "files": names,
        **({} if volume is None else {"volume": volume}),
    }


def _same_slices(folder: Path, slices: Sequence[np.ndarray] | np.ndarray) -> list[Path] | None:
    """The slice files of ``folder`` (whose ``source.json`` is lost or damaged) when they
    hold exactly ``slices``, in order: the split of this stack, to be recorded again
    rather than split a second time beside it."""
    import tifffile

    files = sorted(
        (f for f in folder.iterdir() if f.suffix == ".tif" and f.is_file()),
        key=lambda f: natural_key(f.name),
    )
    if len(files) != len(slices):
        return None
    try:
        for file, array in zip(files, slices, strict=True):
            if not np.array_equal(tifffile.imread(file), np.asarray(array), equal_nan=True):
                return None
    except (OSError, ValueError, TypeError):  # (a file that is no slice: not this split)
        return None
    return files


def read_stack(
    stack: Path, unnamed_slices: bool = False
) -> tuple[list[np.ndarray] | np.ndarray, dict[str, Any] | None]:
    """The slices of a TIFF stack (``storage.images.read_tiff_stack``) or of a NIfTI
    volume (``core.volumes.read_volume``: one array of them, and its ``volume`` record;
    None for a TIFF)."""
    if is_nifti(stack):
        return read_volume(stack)
    return read_tiff_stack(stack, unnamed_slices), None


class StackReplaced(ImageReadError):
    """The stack file split before holds another stack now (as a picture file replaced
    by another picture, it is not added: its slices' labels are the old stack's)."""


def split_record(folder: Path) -> dict[str, Any]:
    """The ``source.json`` of a split (empty when it is missing or unreadable)."""
    try:
        record = json.loads((folder / SOURCE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def _files(record: dict[str, Any]) -> list[str] | None:
    """The slice file names a split's record lists, in slice order."""
    names = record.get("files")
    return names if isinstance(names, list) and all(isinstance(n, str) for n in names) else None


def _moved_to(folder: Path, record: dict[str, Any], stack: Path) -> None:
    """Record that the stack split into ``folder`` now lies at ``stack`` (best effort:
    the record only tells a replaced stack from another stack of the same name)."""
    where = str(stack.resolve())
    if record.get("stack") != where:
        with contextlib.suppress(OSError):
            atomic_write_text(
                folder / SOURCE_FILE, json.dumps({**record, "stack": where}, indent=2) + "\n"
            )


def as_picture(array: np.ndarray, alpha: bool = False) -> dict[str, Any]:
    """tifffile's options that store ``array`` as one picture: grey, RGB of any depth,
    or other channel counts interleaved (never one page per row). A fourth channel is a
    channel (ExtraSamples unspecified: a case's fourth stain, a volume's fourth
    sequence), an alpha only when ``alpha`` says so (the stack's pages had one)."""
    if array.ndim == 2:
        return {"photometric": "minisblack"}
    if array.shape[2] == 3:
        return {"photometric": "rgb", "planarconfig": "contig"}
    if array.shape[2] == 4:
        extra = "unassalpha" if alpha else "unspecified"
        return {"photometric": "rgb", "planarconfig": "contig", "extrasamples": (extra,)}
    return {"photometric": "minisblack", "planarconfig": "contig"}


def _has_alpha(stack: Path) -> bool:
    """Whether a TIFF stack's pages record an alpha (ExtraSamples), kept in its slices."""
    import tifffile

    try:
        with tifffile.TiffFile(stack) as tif:
            return any(s in (1, 2) for s in main_series(tif).keyframe.extrasamples)
    except Exception:  # read once already: only the alpha question is left open
        return False


def _split_before(
    folder: Path, record: dict[str, Any], content: Content, first_only: bool = False
) -> list[Path] | None:
    """The slice files of ``folder`` when its ``record`` is the split of a stack of this
    ``content`` (:func:`content_of`), complete. ``first_only``: a split whose first
    channel file is of this content (a case's slices, for its labels)."""
    names = _files(record)
    have = record_content(record)
    if names is None or (have[:1] if first_only else have) != content:
        return None
    files = [folder / n for n in names]
    return files if all(f.is_file() for f in files) else None


def split_files(root: Path, stack: Path) -> list[Path] | None:
    """The slice files of the project's split of a stack of this content, whatever its
    folder is called (``vol~2/`` when another stack named ``vol.tif`` came first), else
    of the nnU-Net case whose first channel file it is, or ``None`` when the project
    holds none. Reads each split's ``source.json``; the stack
    is hashed only when the project has splits."""
    base = root / SLICES_DIR
    folders = (
        sorted(f for f in base.iterdir() if f.is_dir() and not f.name.startswith("."))
        if base.is_dir()
        else []
    )
    if not folders:
        return None
    content = ((stack.stat().st_size, file_sha1(stack)),)
    for first_only in (False, True):  # the stack's own split before a case's
        for folder in folders:
            found = _split_before(folder, split_record(folder), content, first_only)
            if found is not None:
                return found
    return None


#: What a split is of: the size and SHA-1 of each of its files (one for a stack, one per
#: channel file of an nnU-Net case), in channel order.
Content = tuple[tuple[Any, Any], ...]


def content_of(stack: Path, size: int, digest: str, channels: Sequence[Path]) -> Content:
    """The :data:`Content` of a split of ``stack`` (of ``size`` and ``digest``) and the
    further ``channels``."""
    return ((size, digest), *((c.stat().st_size, file_sha1(c)) for c in channels))


def record_content(record: dict[str, Any]) -> Content:
    """The :data:`Content` a split's record names (its ``channels``, else its stack)."""
    channels = record.get("channels")
    if isinstance(channels, list) and all(isinstance(c, dict) for c in channels):
        return tuple((c.get("size"), c.get("sha1")) for c in channels)
    return ((record.get("size"), record.get("sha1")),)


def channel_records(files: Sequence[Path], content: Content) -> list[dict[str, Any]]:
    """A case's ``channels`` in its ``source.json``: each file's path, size and SHA-1."""
    return [
        {"stack": str(f.resolve()), "size": size, "sha1": digest}
        for f, (size, digest) in zip(files, content, strict=True)
    ]


def _with_channels(
    slices: Sequence[np.ndarray] | np.ndarray, channels: Sequence[Path]
) -> np.ndarray:
    """``(slices, height, width, channels)``: the slices of a case's first file with
    those of its further ``channels`` (volumes of its grid), in one type that holds
    them all (int16 and float32: float32). :class:`ImageReadError` naming a file whose
    slices are not of the first's number and size."""
    pages = [np.asarray(slices)]
    for file in channels:
        more = read_volume(file)[0]
        if more.shape != pages[0].shape:
            raise ImageReadError(
                file,
                f"{'x'.join(map(str, more.shape))} slices, not the "
                f"{'x'.join(map(str, pages[0].shape))} of its case's first channel; nothing "
                "of the case was added",
            )
        pages.append(more)
    kind = np.result_type(*(p.dtype for p in pages))
    return np.stack([p.astype(kind, copy=False) for p in pages], axis=-1)


def channel_grid(first: Path, channels: Sequence[Path]) -> str | None:
    """Why the further ``channels`` of an nnU-Net case cannot be split with its
    ``first`` file as the channels of one picture per slice (a volume of another shape
    or affine: ``core.volumes.grid_problem``, a file that cannot be read), in one line;
    None when they all lie on its grid. Reads the headers only."""
    try:
        its = volume_geometry(first)
    except (ImageReadError, OSError):
        return None  # (the split says why the first cannot be read)
    for file in channels:
        outcome = "the case's further channels were added as images of their own"
        try:
            their = volume_geometry(file)
        except ImageReadError as exc:
            return f"{exc}; {outcome}"
        except OSError as exc:
            return f"{file}: {exc.strerror or exc}; {outcome}"
        problem = grid_problem(file, their, first, its, outcome, "its case's first file")
        if problem is not None:
            return problem
    return None


def channel_cases(
    files: Sequence[Path],
) -> tuple[dict[Path, list[Path]], dict[Path, tuple[list[Path], str]]]:
    """nnU-Net's cases of several NIfTI channel files among ``files``
    (``core.naming.nnunet_cases``): those to split as one (first file -> further
    channels), and those refused (first file -> (further channels, why: one line)),
    whose files are each split apart, as any volume."""
    joined: dict[Path, list[Path]] = {}
    refused: dict[Path, tuple[list[Path], str]] = {}
    for first, further in nnunet_cases(files).items():
        if not (is_nifti(first) and all(is_nifti(f) for f in further)):
            continue
        why = channel_grid(first, further)
        if why is None:
            joined[first] = further
        else:
            refused[first] = (further, why)
    return joined, refused


def case_channels(first: Path) -> list[Path]:
    """The further channel files beside ``first``, an nnU-Net case's first NIfTI file
    (``imagesTr/case_0000.nii.gz``: ``case_0001.nii.gz``...), that an add would split
    with it (:func:`channel_cases`); none when there are none, or they are refused."""
    try:
        beside = sorted(p for p in first.parent.iterdir() if p.is_file())
    except OSError:
        return []
    return channel_cases(beside)[0].get(first, [])


def discard_split(folder: Path) -> None:
    """Remove a split just written whose slices were all already in the project."""
    shutil.rmtree(folder, ignore_errors=True)


@dataclass(frozen=True)
class SliceOf:
    """Slice ``index`` of ``planes`` of the stack split into ``slices/<stack>/``;
    ``volume``: a NIfTI volume's record (``core.volumes.geometry``), None for a TIFF."""

    stack: str
    index: int
    planes: int
    volume: dict[str, Any] | None = None


class SliceIndex:
    """Which slice of which split stack an image file of the project is
    (:class:`SliceOf`) by the ``source.json`` of its folder (read once per folder), or
    ``None`` for a picture that is no slice."""

    def __init__(self, root: Path) -> None:
        self._base = (root / SLICES_DIR).resolve()
        self._folders: dict[Path, tuple[list[str] | None, dict[str, Any] | None]] = {}

    def __call__(self, image_file: Path) -> SliceOf | None:
        folder = image_file.resolve().parent
        if folder.parent != self._base:
            return None
        if folder not in self._folders:
            record = split_record(folder)
            volume = record.get("volume")
            self._folders[folder] = (_files(record), volume if isinstance(volume, dict) else None)
        names, volume = self._folders[folder]
        if names is None or image_file.name not in names:
            return None
        return SliceOf(folder.name, names.index(image_file.name), len(names), volume)
