"""A project whose settings or image records were damaged (an edit by hand, a database
browser: SQLite keeps any value in any column) must neither keep the window from
starting nor leave it half switched to the project, holding its lock: a damaged setting
the window can do without is ignored (logged), anything else is said in a box."""

from __future__ import annotations

import sqlite3

import pytest
from guihelpers import shown_window
from PySide6.QtWidgets import QMessageBox

from annotator.services.model_settings import ModelSettings, load_settings
from annotator.services.shared_contrast import SHARED_CONTRAST_SETTING, shared_windows
from annotator.storage.project import Project


def _set(root, sql, *params):
    con = sqlite3.connect(root / "annotator.sqlite")
    con.execute(sql, params)
    con.commit()
    con.close()


def _setting(root, key, raw):
    _set(
        root,
        "INSERT INTO settings (key, value) VALUES (?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        key,
        raw,
    )


@pytest.fixture
def said(monkeypatch):
    seen: list[str] = []
    monkeypatch.setattr(
        QMessageBox, "warning", lambda _p, _t, text, *a, **k: seen.append(text) or None
    )
    return seen


@pytest.mark.parametrize(
    ("raw", "default"),
    [
        ('{"seconds": "30"}', "seconds"),
        ('{"idle_retrain_s": "x"}', "idle_retrain_s"),
        ('{"idle_retrain_s": 100000000}', "idle_retrain_s"),  # past the timers' range
        ('{"keep_training": "no"}', "keep_training"),
        ('{"crop": -5}', "crop"),
    ],
)
def test_damaged_model_settings_give_way_to_the_defaults(qtbot, project_dir, said, raw, default):
    _setting(project_dir, "model.settings", raw)
    with Project.open(project_dir) as p:
        settings = load_settings(p)
    assert getattr(settings, default) == getattr(ModelSettings(), default)
    w = shown_window(qtbot, project_dir)  # (the model panel took them: a TypeError)
    assert w.session is not None and not said
    w.close()


def test_a_damaged_contrast_window_for_every_image_is_ignored(qtbot, project_dir, said):
    huge = "1" + "0" * 400  # (a JSON number past a float: OverflowError)
    _setting(project_dir, SHARED_CONTRAST_SETTING, f'{{"windows": [[0, {huge}]]}}')
    with Project.open(project_dir) as p:
        assert shared_windows(p) is None
    w = shown_window(qtbot, project_dir)
    assert w.session is not None and not said
    w.close()


def test_a_project_that_cannot_be_shown_is_said_and_let_go(qtbot, project_dir, said):
    _setting(project_dir, "channels", '"abc"')
    w = shown_window(qtbot, project_dir)
    assert len(said) == 1 and "the project setting 'channels' is damaged" in said[0]
    assert w.session is None and w.windowTitle() == "Annotator"  # not half switched
    Project.open(project_dir).close()  # its lock was let go (it was held to the end)
    _setting(project_dir, "channels", "null")
    _setting(project_dir, "active_model", "5")
    assert w.open_project(project_dir) is not None
    assert "The active model version 5 is not in" in said[-1] and "--rollback" in said[-1]
    assert w.session is None
    Project.open(project_dir).close()
    w.close()


def test_a_damaged_score_counts_as_none_and_a_damaged_size_is_said(qtbot, project_dir, said):
    _set(project_dir, "UPDATE images SET score = 'abc' WHERE id = 1")
    with Project.open(project_dir) as p:
        assert p.image(1).score is None
        assert [s.score for s in p.image_scores()] == [None, None, None]
    w = shown_window(qtbot, project_dir)  # (the image list's row died in C++: SIGSEGV)
    assert w.session is not None and not said
    w.image_list.grab()  # every row drawn
    w.close()
    _set(project_dir, "UPDATE images SET width = 'x' WHERE id = 3")
    w = shown_window(qtbot, project_dir)
    assert said and "the project database is damaged (image 3 has width 'x')" in said[-1]
    assert w.session is None
    w.close()
