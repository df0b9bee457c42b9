"""Fixtures for GUI tests: a small project and a main window showing it at a fixed zoom."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from guihelpers import SIZE, center

from annotator.core.schema import LabelSchema
from annotator.gui.main_window import MainWindow
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
    w = MainWindow()
    qtbot.addWidget(w)
    w.resize(900, 700)
    with qtbot.waitActive(w):  # window shortcuts need an active window
        w.show()
        w.activateWindow()
    w.open_project(project_dir)
    center(w.canvas)
    yield w
    w.close()
