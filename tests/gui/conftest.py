"""Fixtures for GUI tests: a small project and a main window showing it at a fixed zoom."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from guihelpers import SIZE, center, shown_window
from PySide6.QtWidgets import QMessageBox

from annotator.core.schema import LabelSchema
from annotator.storage.project import Project


@pytest.fixture
def project_dir(tmp_path):
    images = tmp_path / "imgs"
    images.mkdir()
    for i in range(3):
        img = np.full((SIZE, SIZE), 30 + 10 * i, np.uint8)
        img[20:40, 20:40] = 200  # a bright square, for the edge-bounded fill
        cv2.imwrite(str(images / f"im{i}.png"), img)
    root = tmp_path / "proj"
    with Project.create(root, LabelSchema.from_names(["background", "cell", "membrane"])) as p:
        p.add_images([images])
    return root


@pytest.fixture
def window(qtbot, project_dir):
    w = shown_window(qtbot, project_dir)
    center(w.canvas)
    yield w
    w.close()


@pytest.fixture
def boxes(monkeypatch):
    """Message boxes are recorded as (kind, text) instead of blocking the test (warning
    and information; a test file may record more with its own ``boxes``)."""
    seen: list[tuple[str, str]] = []

    def record(kind):
        def box(_parent, _title, text, *a, **k):
            seen.append((kind, text))
            return QMessageBox.StandardButton.Ok

        return box

    monkeypatch.setattr(QMessageBox, "warning", record("warning"))
    monkeypatch.setattr(QMessageBox, "information", record("information"))
    return seen
