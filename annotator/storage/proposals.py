"""Stored proposals: ``PROJECT/proposals/<id>_v<N>.png``, ``<id>_v<N>_uncertainty.png``
and ``<id>.json``.

The newest proposal of each image is kept so that reopening an image (or the project)
shows it without running the model again. The two PNGs are written first, under names
of the model version that made them, and the JSON last: the JSON commits the proposal by
naming its files, so a crash in between leaves the previous proposal (or none), never a
mix of two versions' pictures. The files of the version replaced (those the old JSON
names) are removed after the JSON; what a killed save left is cleared by the next
writer that opens the project (:func:`clear_unnamed`). Proposals stored before the
names carried the version (``<id>.png``, ``<id>_uncertainty.png``, a JSON naming no
file) are read as before. Probabilities are not stored (only the argmax mask and the
uncertainty at 8 bits).
"""

from __future__ import annotations

import contextlib
import json
import logging
from pathlib import Path

import numpy as np

from annotator.core.proposal import Proposal
from annotator.core.records import ImageRecord, now_iso
from annotator.storage.atomic import atomic_write_bytes, atomic_write_json
from annotator.storage.images import encode_png
from annotator.storage.project import Project

log = logging.getLogger(__name__)

PROPOSALS_DIR = "proposals"


def proposals_dir(project: Project) -> Path:
    """The folder holding the stored proposals."""
    return project.root / PROPOSALS_DIR


def proposal_paths(project: Project, image_id: int) -> tuple[Path, Path, Path]:
    """``(mask.png, uncertainty.png, meta.json)`` of an image's stored proposal: the
    files its JSON names (the names of old projects when it names none, or is gone)."""
    d = proposals_dir(project)
    meta_p = d / f"{image_id}.json"
    try:
        meta = json.loads(meta_p.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        meta = {}
    return (*_named_files(d, image_id, meta), meta_p)


def _named_files(folder: Path, image_id: int, meta: object) -> tuple[Path, Path]:
    names = meta if isinstance(meta, dict) else {}
    mask, unc = names.get("mask"), names.get("uncertainty")
    if isinstance(mask, str) and isinstance(unc, str) and _plain(mask) and _plain(unc):
        return folder / mask, folder / unc
    return folder / f"{image_id}.png", folder / f"{image_id}_uncertainty.png"


def _plain(name: str) -> bool:
    """A file name of the proposals folder itself (a JSON naming another path is ignored)."""
    return bool(name) and Path(name).name == name and name not in (".", "..")


def save_proposal(project: Project, image_id: int, proposal: Proposal) -> Path:
    """Store a proposal: mask and 8-bit uncertainty PNGs named by its model version,
    then the JSON that commits them, then the files of the proposal it replaced."""
    project.check_in_place()
    d = proposals_dir(project)
    stem = f"{image_id}_v{proposal.model_version}"
    mask_p, unc_p, meta_p = d / f"{stem}.png", d / f"{stem}_uncertainty.png", d / f"{image_id}.json"
    # The files to remove once the new JSON commits: those the old JSON names (not a
    # listing of the folder, which costs in proportion to the whole project).
    replaced = proposal_paths(project, image_id)[:2]
    atomic_write_bytes(mask_p, encode_png(proposal.mask))
    unc8 = np.round(proposal.uncertainty * 255).astype(np.uint8)
    atomic_write_bytes(unc_p, encode_png(unc8))
    atomic_write_json(
        meta_p,
        {
            "model_version": proposal.model_version,
            "score": proposal.score,
            "created_at": now_iso(),
            "mask": mask_p.name,
            "uncertainty": unc_p.name,
        },
    )
    for old in replaced:
        if old not in (mask_p, unc_p):
            with contextlib.suppress(FileNotFoundError):
                old.unlink()
    return mask_p


def clear_unnamed(folder: Path, names: list[str]) -> int:
    """Remove proposal files no JSON names, given the folder's file ``names``: those of
    a save cut short after its JSON committed (the replaced version's) or before (the
    new one's). Only images with files of two versions are looked at, by their JSON, so
    this costs one folder listing. Returns how many files were removed."""
    versions: dict[str, set[str]] = {}
    for name in names:
        head, sep, rest = name.partition("_v")
        if sep and head.isdigit() and rest.endswith(".png"):
            versions.setdefault(head, set()).add(name)
    removed = 0
    for image_id, files in versions.items():
        if len(files) <= 2:  # one version: a mask and its uncertainty
            continue
        try:
            meta = json.loads((folder / f"{image_id}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # no commit to judge by: leave them
        named = {p.name for p in _named_files(folder, int(image_id), meta)}
        for name in files - named:
            with contextlib.suppress(OSError):
                (folder / name).unlink()
                removed += 1
    return removed


def version_and_score(project: Project, image_id: int) -> tuple[int, float] | None:
    """``(model version, score)`` of the image's stored proposal, read from its JSON
    alone (no picture decoded: a small file read), or ``None`` when there is none or it
    is unreadable."""
    found = _read_meta(proposals_dir(project) / f"{image_id}.json", f"image {image_id}")
    return None if found is None else (found[0], found[1])


def _read_meta(meta_p: Path, what: str) -> tuple[int, float, dict[str, object]] | None:
    """``(model version, score, the whole JSON)`` of a stored proposal's JSON; ``None``
    when it is missing, or unreadable (logged, naming ``what``)."""
    try:
        meta = json.loads(meta_p.read_text(encoding="utf-8"))
        return int(meta["model_version"]), float(meta["score"]), meta
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("unreadable proposal for %s: %s", what, exc)
        return None


def load_proposal(
    project: Project, record: ImageRecord, version: int | None = None
) -> Proposal | None:
    """The stored proposal of an image (without probabilities), or ``None``.

    With ``version``, only a proposal of that model version is returned (the JSON that
    says which version made it is read once, before any image is decoded). Unreadable or
    mismatched files count as no proposal: the model can always make a new one.
    """
    import cv2

    meta_p = proposals_dir(project) / f"{record.id}.json"
    found = _read_meta(meta_p, record.name)
    if found is None:
        return None
    stored_version, score, meta = found
    if version is not None and stored_version != version:
        return None
    mask_p, unc_p = _named_files(meta_p.parent, record.id, meta)
    try:
        mask = cv2.imdecode(np.fromfile(mask_p, np.uint8), cv2.IMREAD_UNCHANGED)
        unc = cv2.imdecode(np.fromfile(unc_p, np.uint8), cv2.IMREAD_UNCHANGED)
    except (OSError, ValueError) as exc:
        log.warning("unreadable proposal for %s: %s", record.name, exc)
        return None
    if mask is None or unc is None or mask.shape != (record.height, record.width):
        return None
    return Proposal(
        None, mask.astype(np.uint8), unc.astype(np.float32) / 255.0, score, stored_version
    )
