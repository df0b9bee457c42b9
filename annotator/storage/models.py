"""Model versions on disk: ``PROJECT/models/vNNNN/{weights.pt, card.json, model.onnx}``.

``ml`` turns weights into bytes (``ml.checkpoint.checkpoint_bytes``, ``onnx_bytes``); this
module decides where they go and writes them. A version folder is assembled in a hidden
staging folder next to it and renamed into place only when every file is complete, and
the database records the version only after that: a crash at any moment leaves either no
``vNNNN`` at all or a complete one, and a half-written version is never listed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from annotator.core.cancel import Cancellable
from annotator.core.card import ModelCard
from annotator.core.errors import Cancelled, InterruptedAfterPublish, ModelError
from annotator.core.records import ModelRecord
from annotator.storage.atomic import fsync_dir, write_synced
from annotator.storage.project import Project

log = logging.getLogger(__name__)

MODELS_DIR = "models"
WEIGHTS_NAME = "weights.pt"
CARD_NAME = "card.json"
ONNX_NAME = "model.onnx"
#: The SHA-256 of ``weights.pt``, written with it: a file damaged on disk later would
#: otherwise still load (a flipped byte in a tensor is valid data) and train on.
CHECKSUM_NAME = "weights.sha256"
_VERSION_DIR = re.compile(r"^v(\d{4,})$")


def version_dir_name(version: int) -> str:
    """``v0007`` for version 7."""
    return f"v{version:04d}"


def next_version_folder(project: Project, version: int) -> Path:
    """Where the next version's folder goes; a ModelError when ``version`` is not the
    next one (its folder may be a published version's: writing it would replace it)."""
    if version != project.next_model_version():
        raise ModelError(
            f"model version {version} is not the next one ({project.next_model_version()})"
        )
    return project.root / MODELS_DIR / version_dir_name(version)


@dataclass(frozen=True)
class ModelFiles:
    """Where one version's files are (``onnx`` is ``None`` when it was not exported)."""

    folder: Path
    weights: Path
    card: Path
    onnx: Path | None


def files_in(folder: Path) -> ModelFiles:
    """The files of the version folder ``folder`` (an ONNX export only if present)."""
    folder = Path(folder)
    onnx = folder / ONNX_NAME
    return ModelFiles(
        folder, folder / WEIGHTS_NAME, folder / CARD_NAME, onnx if onnx.is_file() else None
    )


def _folder_of(project: Project, record: ModelRecord) -> Path:
    return (project.root / record.checkpoint).parent


def model_files(project: Project, record: ModelRecord) -> ModelFiles:
    """The files of a published version, resolved against the project folder; weights
    that no longer match the checksum written with them are refused (versions written
    before checksums were kept are taken as they are)."""
    files = files_in(_folder_of(project, record))
    check = files.folder / CHECKSUM_NAME
    if check.is_file() and files.weights.is_file():
        try:
            expected = check.read_text(encoding="ascii").strip()
            actual = _sha256(files.weights)
        except (OSError, UnicodeDecodeError) as exc:
            raise ModelError(f"{files.weights}: cannot be checked ({exc})") from None
        if actual != expected:
            raise ModelError(
                f"{files.weights}: the weights of model v{record.version} changed on disk since "
                "they were written (damaged?); make another version active with `annotator "
                f"models {project.root} --rollback N`, or restore the project from a backup"
            )
    return files


def _sha256(path: Path) -> str:
    import hashlib

    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def write_version_folder(
    folder: Path, weights: bytes, card: ModelCard, onnx: bytes | None = None
) -> ModelFiles:
    """Write a complete version folder at ``folder``, all at once or not at all.

    The files go into a hidden staging folder first (each flushed to disk); the staging
    folder is then renamed to ``folder``. A leftover ``folder`` (a crash after the rename
    but before the database recorded it) is replaced, and staging folders an interrupted
    write of the same version left behind are removed.
    """
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    for stale in folder.parent.glob(f".{folder.name}.*.tmp"):
        log.warning("removing %s, left by an interrupted publish", stale)
        shutil.rmtree(stale, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp", dir=folder.parent))
    try:
        write_synced(staging / WEIGHTS_NAME, weights)
        import hashlib

        write_synced(staging / CHECKSUM_NAME, hashlib.sha256(weights).hexdigest().encode("ascii"))
        if onnx is not None:
            write_synced(staging / ONNX_NAME, onnx)
        write_synced(staging / CARD_NAME, card.to_json().encode("utf-8"))
        os.chmod(staging, 0o755)
        fsync_dir(staging)
        if folder.exists():
            log.warning("replacing the unregistered model folder %s", folder)
            shutil.rmtree(folder)
        os.replace(staging, folder)
    except BaseException:
        with contextlib.suppress(OSError):
            shutil.rmtree(staging)
        raise
    fsync_dir(folder.parent)
    return files_in(folder)


def publish_version(
    project: Project,
    card: ModelCard,
    weights: bytes,
    onnx: bytes | None = None,
    *,
    replacing: int | None | Literal["any"] = "any",
    cancel: Cancellable | None = None,
) -> ModelRecord:
    """Write version ``card.version``'s folder, then record it as the active version
    (with ``replacing``: only if that version is still active, see
    :meth:`Project.register_model`).

    All or nothing, whatever stops it: until the record is committed, a ``cancel`` set
    meanwhile (Ctrl+C during the write) raises :class:`Cancelled`, and any error or
    interrupt removes the folder again. An interrupt that comes once the record is
    committed raises :class:`InterruptedAfterPublish`: the version stays, whole."""
    project.check_in_place()
    folder = next_version_folder(project, card.version)
    try:
        files = write_version_folder(folder, weights, card, onnx)
        if cancel is not None and cancel.is_set():
            raise Cancelled("training cancelled")
        rel = files.weights.relative_to(project.root).as_posix()
        return project.register_model(card.version, card.parent, rel, card, replacing=replacing)
    except BaseException as exc:
        recorded = _recorded(project, card.version)
        if recorded is None:  # the database cannot say: the folder stays (it may be used)
            raise
        if recorded:
            if isinstance(exc, KeyboardInterrupt) and not isinstance(exc, InterruptedAfterPublish):
                raise InterruptedAfterPublish(card.version) from None
            raise
        # refused (the classes changed meanwhile), cancelled, interrupted: no folder left
        shutil.rmtree(folder, ignore_errors=True)
        raise


def _recorded(project: Project, version: int) -> bool | None:
    """Whether the database records ``version`` (None when it cannot be read)."""
    try:
        return project.next_model_version() > version
    except Exception:
        return None


def version_folders(project: Project) -> list[int]:
    """Versions with a complete folder on disk (staging folders are never listed)."""
    found = []
    root = project.root / MODELS_DIR
    if not root.is_dir():
        return []
    for sub in root.iterdir():
        match = _VERSION_DIR.match(sub.name)
        if match and (sub / WEIGHTS_NAME).is_file() and (sub / CARD_NAME).is_file():
            found.append(int(match.group(1)))
    return sorted(found)


def has_files(project: Project, record: ModelRecord) -> bool:
    """Whether a version's weights are on disk (not removed to save space); a stat, not
    the checksum :func:`model_files` verifies (a damaged version is still there)."""
    return (project.root / record.checkpoint).is_file()


def remove_version_files(project: Project, record: ModelRecord) -> int:
    """Delete a version's folder (weights, card copy, ONNX export) to save space; its
    record, card and scores stay in the database. Returns the bytes freed.

    The folder is renamed to a hidden name first, so a crash half-way through leaves no
    half a version: a listing sees it removed, and :func:`clear_removed` finishes it."""
    project.check_in_place()
    folder = _folder_of(project, record)
    if not folder.is_dir():
        return 0
    freed = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    doomed = folder.parent / f".{folder.name}.removed"
    if doomed.exists():
        shutil.rmtree(doomed)
    os.replace(folder, doomed)
    fsync_dir(folder.parent)
    shutil.rmtree(doomed, ignore_errors=True)
    return freed


def clear_removed(project: Project) -> None:
    """Finish removals a crash interrupted (hidden ``.vNNNN.removed`` folders)."""
    root = project.root / MODELS_DIR
    if root.is_dir():
        for stale in root.glob(".v*.removed"):
            shutil.rmtree(stale, ignore_errors=True)
