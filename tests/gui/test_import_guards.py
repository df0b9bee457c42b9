"""File > Import labels and the loop: refused while a training round runs (the round
reads the labels the import rewrites), the loop held from the form to the end (no idle
round, no proposal stored), and the images it wrote count as not in the model yet."""

from __future__ import annotations

import cv2
import numpy as np
from guihelpers import SIZE
from modelhelpers import ranked_project
from PySide6.QtWidgets import QDialog

import annotator.gui.file_menu as file_menu_module
from annotator.core.status import ImageStatus
from annotator.gui.import_dialog import ImportDialog
from annotator.services.model_settings import ModelSettings


def _masks(folder, names, value):
    """A masks dataset: one PNG per image name, every pixel ``value``."""
    folder.mkdir()
    for name in names:
        cv2.imwrite(str(folder / name), np.full((SIZE, SIZE), value, np.uint8))
    return folder


def _accept(monkeypatch, seen=None, window=None):
    def exec_(dialog):
        if seen is not None:
            seen.append(_held(window))
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(ImportDialog, "exec", exec_)


def _held(window):
    service = window.loop.service
    return (window.loop.idle_timer.isActive(), service._paused)


def test_an_import_is_refused_while_a_round_runs(window, tmp_path, monkeypatch, boxes):
    ds = _masks(tmp_path / "ds", ["im0.png"], 1)
    opened = []
    monkeypatch.setattr(ImportDialog, "exec", lambda d: opened.append(d) or 1)
    service = window.loop.service
    monkeypatch.setattr(type(service), "training", property(lambda self: True))
    window.file_menu.import_labels(preset=("masks", ds))
    assert not opened
    assert boxes and boxes[0][0] == "warning"
    assert "A training round is running, and it reads the labels" in boxes[0][1]
    project = window.session.project
    assert project.load_mask(project.image("im0.png")) is None


def test_a_round_started_while_the_form_was_open_stops_the_import(
    window, tmp_path, monkeypatch, boxes
):
    ds = _masks(tmp_path / "ds", ["im0.png"], 1)
    service = window.loop.service

    def accept_and_a_round_starts(dialog):
        monkeypatch.setattr(type(service), "training", property(lambda self: True))
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(ImportDialog, "exec", accept_and_a_round_starts)
    window.file_menu.import_labels(preset=("masks", ds))
    assert "training round is running" in boxes[0][1]
    project = window.session.project
    assert project.load_mask(project.image("im0.png")) is None


def test_the_loop_is_held_during_the_form_and_the_import(window, tmp_path, monkeypatch, boxes):
    ds = _masks(tmp_path / "ds", ["im0.png", "im1.png"], 1)
    window.loop.service.update_settings(idle_retrain_s=30)
    window.loop.idle_timer.start()  # an edit waits for its idle round
    seen: list[tuple[bool, bool]] = []
    _accept(monkeypatch, seen, window)
    real_run = file_menu_module.run_import

    def run_import(parent, project, request):
        seen.append(_held(window))
        return real_run(parent, project, request)

    monkeypatch.setattr(file_menu_module, "run_import", run_import)
    window.file_menu.import_labels(preset=("masks", ds))
    assert seen == [(False, True), (False, True)]  # no idle timer, proposals paused
    assert _held(window) == (True, False)  # both go on after
    project = window.session.project
    assert np.unique(project.load_mask(project.image("im1.png"))).tolist() == [1]


def test_labels_imported_over_trained_images_count_as_untrained(
    qtbot, tmp_path, monkeypatch, boxes
):
    from annotator.gui.main_window import MainWindow

    root = ranked_project(tmp_path, n_images=4)  # 2 done images, in model v1
    w = MainWindow()
    qtbot.addWidget(w)
    w.loop.settings_override = ModelSettings(
        device="cpu", threads=1, train_on_done=False, idle_retrain_s=60
    )
    w.show()
    w.open_project(root)
    service = w.loop.service
    project = service.project
    done = [r for r in project.images() if r.status is ImageStatus.DONE]
    assert len(done) == 2 and service.untrained_done() == []
    assert not service.labels_dirty
    ds = _masks(tmp_path / "ds", [r.name for r in done], 2)
    _accept(monkeypatch)
    w.file_menu.import_labels(preset=("masks", ds))
    assert "Imported" in w.file_menu.last_message, w.file_menu.last_message
    for record in done:
        assert np.unique(project.load_mask(project.image(record.id))).tolist() == [2]
    # v1 saw other labels of them: the import's are not in it, and idle retraining is due
    assert sorted(r.id for r in service.untrained_done()) == sorted(r.id for r in done)
    assert service.labels_dirty and w.loop.idle_timer.isActive()
    w.close()
