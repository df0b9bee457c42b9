"""Opening a project reads every image's record once (for the image list).

At 5,000 images each such read costs 0.1-0.15 s of the window's thread; opening read
them twice, the second time only for their ids (which image to open first).
"""

from __future__ import annotations

import sqlite3

from guihelpers import shown_window

from annotator.storage import db as db_module


def test_opening_a_project_reads_the_image_records_once(qtbot, project_dir, monkeypatch):
    statements: list[str] = []
    real_connect = db_module._connect

    def traced(path):
        conn: sqlite3.Connection = real_connect(path)
        conn.set_trace_callback(statements.append)
        return conn

    monkeypatch.setattr(db_module, "_connect", traced)
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
