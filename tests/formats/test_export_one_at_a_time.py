"""Two exports into one folder at once broke each other (found by a new-user audit):
each took the other's staged files for a killed export's and removed them, and one
said "exported 140 image(s)" over a folder missing half its files. One export into a
folder at a time now; the second is refused in one line."""

from __future__ import annotations

import subprocess
import sys

import pytest
from fmthelpers import make_project

from annotator.cli import main
from annotator.services.exchange import ExportRequest, export_project
from annotator.storage.lock import ProjectLocked

HOLD = """
import sys, time
from pathlib import Path
from annotator.storage.lock import holding
with holding(Path(sys.argv[1]), "busy"):
    print("held", flush=True)
    sys.stdin.read()
"""


def test_a_second_export_into_a_folder_being_written_is_refused(tmp_path, masks, capsys):
    project = make_project(tmp_path, masks)
    out = tmp_path / "out"
    staged = tmp_path / ".out.partial-x1y2"  # the files the running export is writing
    staged.mkdir()
    (staged / "a.png").write_bytes(b"being written")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path / ".out.partial-lock")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(ProjectLocked) as refused:
            export_project(project, ExportRequest(format="masks", out=out))
        message = str(refused.value)
        assert message.startswith(f"{out}: another export is writing to this folder")
        assert f"pid {holder.pid}" in message and "\n" not in message
        assert (staged / "a.png").read_bytes() == b"being written"  # left alone
        assert not out.exists()
        root = str(project.root)
        project.close()
        assert main(["export", root, str(out), "--format", "voc"]) != 0
        assert "another export is writing to this folder" in capsys.readouterr().err
    finally:
        holder.communicate("")
    # once it ended, a staged folder left is a killed export's: removed by the next one
    assert main(["export", root, str(out), "--format", "voc"]) == 0
    assert not staged.exists()
    assert sorted(p.name for p in tmp_path.glob(".out.*")) == []  # no lock file left
