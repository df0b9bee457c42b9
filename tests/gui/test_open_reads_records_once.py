"""Opening a project reads every image's record once (for the image list).

At 5,000 images each such read costs 0.1-0.15 s of the window's thread; opening read
them twice, the second time only for their ids (which image to open first).
"""

from __future__ import annotations

import sqlite3

from guihelpers import shown_window

from annotator.storage import db as db_module


def traced_statements(monkeypatch) -> list[str]:
    """Every SQL statement the projects opened from now on run, as they run."""
    statements: list[str] = []
    real_connect = db_module._connect

    def traced(path):
        conn: sqlite3.Connection = real_connect(path)
        conn.set_trace_callback(statements.append)
        return conn

    monkeypatch.setattr(db_module, "_connect", traced)
    return statements


def test_opening_a_project_reads_the_image_records_once(qtbot, project_dir, monkeypatch):
    statements = traced_statements(monkeypatch)
    window = shown_window(qtbot, project_dir)
    try:
        assert window.document is not None  # the first image is open
        every_record = [s for s in statements if s.startswith("SELECT * FROM images ORDER BY")]
        assert len(every_record) == 1, every_record
        first = window.document.image_id
        window.close_project()
        window.open_project(project_dir)  # again: the image open last is opened
        assert window.document is not None and window.document.image_id == first
    finally:
        window.close()


def test_the_model_panel_reads_no_image_record(qtbot, project_dir, monkeypatch):
    """The model panel is refreshed on every model change (a round's publish, a rollback,
    an import); whether a pooled version needs its note is one narrow query, not a read
    of every image's record (0.1-0.15 s of the window's thread at 5,000 images)."""
    statements = traced_statements(monkeypatch)
    window = shown_window(qtbot, project_dir)
    try:
        statements.clear()
        window.loop._show_models()
        assert not [s for s in statements if s.startswith("SELECT * FROM images")], statements
    finally:
        window.close()
