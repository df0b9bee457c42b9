"""File and folder names that are not UTF-8 (a Latin-1 ``café.png`` from an old zip or
an SMB share): Python reads them as surrogate escapes, which the database refuses. One
such file stopped the add of its whole folder (and a masks import) with an internal
error; the crash log could not be written for such a command line; the window could not
open a project in such a folder."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from annotator.cli import main

LATIN1 = os.fsdecode(b"caf\xe9")


def _picture(path: Path, value: int) -> None:
    ok, data = cv2.imencode(".png", np.full((16, 16), value, np.uint8))
    assert ok
    path.write_bytes(data.tobytes())


@pytest.fixture
def folder(tmp_path):
    pics = tmp_path / "pics"
    pics.mkdir()
    try:
        _picture(pics / f"{LATIN1}.png", 10)
    except (OSError, UnicodeEncodeError):  # (a file system that takes UTF-8 names only)
        pytest.skip("the file system refuses names that are not UTF-8")
    _picture(pics / "ok1.png", 20)
    _picture(pics / "ok2.png", 30)
    return pics


def test_an_add_takes_the_other_files_and_names_the_one_left_out(tmp_path, folder, capsys):
    proj = str(tmp_path / "P")
    main(["new", proj, "--classes", "a,b"])
    capsys.readouterr()
    assert main(["add", proj, str(folder)]) == 2  # a file left out unread
    out, err = capsys.readouterr()
    assert "added 2 image(s), skipped 0, 1 unreadable" in out
    assert "caf\\xe9.png: its path is not UTF-8 text" in err and "internal error" not in err
    inner = tmp_path / f"dir{LATIN1}"
    inner.mkdir()
    _picture(inner / "ok3.png", 40)
    assert main(["add", proj, str(inner)]) == 1  # nothing else to add: one line
    err = capsys.readouterr().err
    assert "dircaf\\xe9/ok3.png: its path is not UTF-8 text" in err and "internal" not in err


def test_a_masks_import_takes_the_other_pairs(tmp_path, folder, capsys):
    ds = tmp_path / "ds"
    (ds / "masks").mkdir(parents=True)
    folder.rename(ds / "images")
    for name in (f"{LATIN1}.png", "ok1.png"):
        _picture(ds / "masks" / name, 1)  # (OpenCV's imwrite dies on such a name)
    proj = str(tmp_path / "P")
    main(["new", proj, "--classes", "a,b"])
    assert main(["import", proj, str(ds), "--format", "masks"]) == 2
    out, err = capsys.readouterr()
    assert "1 image(s) added" in out and "its path is not UTF-8 text" in err


def test_the_crash_log_takes_a_command_line_that_is_not_utf8(tmp_path, capsys, monkeypatch):
    from annotator.storage import project as project_module

    def broken(*a, **k):
        raise ZeroDivisionError("boom")

    proj = str(tmp_path / f"P{LATIN1}")
    main(["new", proj, "--classes", "a"])
    monkeypatch.setattr(project_module.Project, "summary", broken)
    monkeypatch.setattr("sys.argv", ["annotator", "status", proj])
    assert main(["status", proj]) == 70
    err = capsys.readouterr().err
    assert "internal error: ZeroDivisionError: boom" in err and "Traceback" not in err
    log = Path(os.environ["ANNOTATOR_LOG_DIR"]) / "annotator-crash.log"
    assert "ZeroDivisionError: boom" in log.read_text(encoding="utf-8")


def test_the_window_opens_a_project_in_a_folder_not_utf8(tmp_path, qtbot, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    from annotator.gui.main_window import MainWindow

    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: pytest.fail(str(a)))
    proj = tmp_path / f"P{LATIN1}"
    main(["new", str(proj), "--classes", "a,b"])
    w = MainWindow()
    qtbot.addWidget(w)
    assert w.open_project(proj) is None
    assert w.windowTitle() == "Annotator — Pcaf\\xe9"
    w.close()
    from annotator.gui.settings_store import SettingsStore

    store = SettingsStore()  # (kept as U+FFFD: a path that is nowhere, never reopened)
    assert store.recent_projects()[0] == proj.resolve() and store.last_project() == proj


def test_the_cli_writes_such_a_name_as_its_messages_do(tmp_path):
    """Printed raw, the name stopped the CLI (stdout refused it); escaped by Python it
    read \\udce9 beside the messages' \\xe9."""
    import subprocess
    import sys

    folder = tmp_path / f"dir{LATIN1}"
    try:
        folder.mkdir()
    except (OSError, UnicodeEncodeError):
        pytest.skip("the file system refuses names that are not UTF-8")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    env.pop("PYTHONIOENCODING", None)
    run = subprocess.run(
        [sys.executable, "-m", "annotator", "status", os.fsencode(folder)],
        env=env,
        capture_output=True,
    )
    assert run.returncode == 1
    assert b"dircaf\\xe9: not an Annotator project" in run.stderr, run.stderr


def test_the_welcome_opens_a_recent_project_in_such_a_folder(tmp_path, qtbot, monkeypatch):
    """Its name lost its byte on the way through the list's text: 'no longer a project'."""
    from PySide6.QtWidgets import QMessageBox

    from annotator.gui.first_run import FirstRunDialog
    from annotator.gui.settings_store import SettingsStore

    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: pytest.fail(str(a)))
    proj = tmp_path / f"P{LATIN1}"
    main(["new", str(proj), "--classes", "a,b"])
    store = SettingsStore()
    store.add_recent(proj)
    dialog = FirstRunDialog(store)
    qtbot.addWidget(dialog)
    item = dialog.recent.item(0)
    assert item.text().startswith("Pcaf\\xe9")
    dialog._recent_activated(item)
    assert dialog.chosen == proj.resolve()
