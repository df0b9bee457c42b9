"""Stored proposals: ``PROJECT/proposals/<id>.png``, ``<id>_uncertainty.png``, ``<id>.json``.

The newest proposal of each image is kept so that reopening an image (or the project)
shows it without running the model again. The two PNGs are written first and the JSON
last: the JSON commits the proposal, so a crash in between leaves the previous one (or
none), never a mix. Probabilities are not stored (only the argmax mask and the
uncertainty at 8 bits).
"""

from __future__ import annotations

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
    """``(mask.png, uncertainty.png, meta.json)`` of an image's stored proposal."""
    d = proposals_dir(project)
    return d / f"{image_id}.png", d / f"{image_id}_uncertainty.png", d / f"{image_id}.json"


def save_proposal(project: Project, image_id: int, proposal: Proposal) -> Path:
    """Store a proposal: mask and 8-bit uncertainty PNGs, then the JSON that commits them."""
    mask_p, unc_p, meta_p = proposal_paths(project, image_id)
    atomic_write_bytes(mask_p, encode_png(proposal.mask))
    unc8 = np.round(proposal.uncertainty * 255).astype(np.uint8)
    atomic_write_bytes(unc_p, encode_png(unc8))
    atomic_write_json(
        meta_p,
        {"model_version": proposal.model_version, "score": proposal.score, "created_at": now_iso()},
    )
    return mask_p


def load_proposal(
    project: Project, record: ImageRecord, version: int | None = None
) -> Proposal | None:
    """The stored proposal of an image (without probabilities), or ``None``.

    With ``version``, only a proposal of that model version is returned (the JSON that
    says which version made it is read once, before any image is decoded). Unreadable or
    mismatched files count as no proposal: the model can always make a new one.
    """
    import cv2

    mask_p, unc_p, meta_p = proposal_paths(project, record.id)
    try:
        meta = json.loads(meta_p.read_text(encoding="utf-8"))
        stored_version = int(meta["model_version"])
        score = float(meta["score"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("unreadable proposal for %s: %s", record.name, exc)
        return None
    if version is not None and stored_version != version:
        return None
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
