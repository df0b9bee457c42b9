"""Fixtures of the model-engine tests: tiny networks and small synthetic projects."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from annotator.core.schema import LabelSchema
from annotator.core.status import ImageStatus
from annotator.core.synthetic import SYNTHETIC_CLASSES, synthetic_cells
from annotator.ml.networks import NetworkConfig
from annotator.ml.train import TrainConfig
from annotator.storage.project import Project

TINY = NetworkConfig(in_channels=1, n_classes=3, depth=2, width=8)
FAST = TrainConfig(crop=64, batch_size=4, lr=5e-3, val_fraction=0.25, seed=0)


@pytest.fixture(autouse=True)
def _one_thread():
    # One torch thread: the suite must not slow to a crawl when the machine is shared
    # (two threads on two busy cores made one test go from 1 s to 130 s).
    torch.set_num_threads(1)
    yield


def write_png(path: Path, array: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, buf = cv2.imencode(".png", array)
    assert ok
    path.write_bytes(buf.tobytes())
    return path


def make_cells_project(
    root: Path, n_images: int = 4, n_labelled: int = 3, size: int = 96
) -> Project:
    """A project of synthetic cell images; the first ``n_labelled`` have full masks (done)."""
    project = Project.create(root, LabelSchema.from_names(list(SYNTHETIC_CLASSES)))
    for i in range(n_images):
        image, _ = synthetic_cells(seed=i, size=size, n_cells=4)
        write_png(root / "images" / f"cells_{i}.png", image)
    project.add_images([root / "images"])
    for rec in project.images()[:n_labelled]:
        _, mask = synthetic_cells(seed=int(rec.stem.split("_")[1]), size=size, n_cells=4)
        project.save_mask(rec.id, mask, source="import", status=ImageStatus.DONE)
    return project


@pytest.fixture
def cells_project(tmp_path):
    project = make_cells_project(tmp_path / "project")
    yield project
    project.close()
