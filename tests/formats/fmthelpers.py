"""Helpers for the format tests: generated label maps and small projects."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from annotator.core.schema import LabelSchema
from annotator.core.status import ImageStatus
from annotator.storage.project import Project

DATA = Path(__file__).resolve().parents[1] / "data"
CLASSES = ("background", "cell", "nucleus")
U, V = 255, 254  # unlabelled and void of a uint8 project


def crafted_masks() -> dict[str, np.ndarray]:
    """Label maps with the hard cases: holes (empty and filled), touching regions,
    one-pixel regions, regions on every border, diagonal contacts, empty images."""
    a = np.full((24, 32), U, np.uint8)
    a[2:12, 2:12] = 1  # a ring of class 1 ...
    a[4:10, 4:10] = U  # ... with an unlabelled hole
    a[6:8, 6:8] = 2  # ... holding an island of class 2
    a[14:20, 2:8] = 0  # class 0 touching class 1 side by side
    a[14:20, 8:14] = 1
    a[0, 31] = 2  # one-pixel regions: a corner ...
    a[12, 20] = 2  # ... and the middle
    a[22, 22] = 1  # diagonal contact of two one-pixel regions of one class
    a[23, 23] = 1
    a[:, 0] = 0  # a region along the whole left border
    a[23, 10:18] = V  # void on the bottom border
    a[2:9, 16:29] = 2  # a region with two holes
    a[4, 18] = U
    a[6, 24:27] = 0
    b = np.full((10, 12), U, np.uint8)  # empty: nothing labelled
    c = np.zeros((9, 7), np.uint8)  # everything one class
    rng = np.random.default_rng(7)
    d = rng.choice(np.array([0, 1, 2, V, U], np.uint8), size=(16, 16), p=[0.3, 0.3, 0.2, 0.1, 0.1])
    return {"crafted": a, "empty": b, "full": c, "noise": d}


def write_image(path: Path, shape: tuple[int, int], seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), rng.integers(0, 255, shape, np.uint8))
    return path


def make_project(root: Path, masks: dict[str, np.ndarray], classes=CLASSES) -> Project:
    """A project whose images are ``<name>.png`` with these label maps, all done."""
    project = Project.create(root / "project", LabelSchema.from_names(list(classes)))
    for i, (name, mask) in enumerate(masks.items()):
        write_image(root / "src" / f"{name}.png", mask.shape, seed=i)
    project.add_images([root / "src"])
    for rec in project.images():
        project.save_mask(rec.id, masks[rec.stem], status=ImageStatus.DONE)
    return project
