"""`cd out; annotator export P . --format ...`: the empty folder was replaced by a new
one, the shell left in a deleted folder (the next command there failed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from fmthelpers import make_project

from annotator.services.exchange import ExportRequest, export_project


def test_an_export_into_the_empty_current_folder_keeps_it(tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    inode = out.stat().st_ino
    with make_project(tmp_path, {"a": np.zeros((8, 8), np.uint8)}) as project:
        monkeypatch.chdir(out)
        export_project(project, ExportRequest("masks", Path("."), split=(1.0, 0.0, 0.0)))
    assert out.stat().st_ino == inode and Path.cwd() == out.resolve()
    assert (out / "class_names.txt").is_file()
    assert not [p for p in out.iterdir() if p.name.startswith(".")]
