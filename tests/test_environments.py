"""Environments other than a developer's terminal: output streams closed by a launcher,
XDG variables that are relative."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_a_command_started_with_stderr_closed_finishes_as_it_would(tmp_path):
    """`annotator ... 2>&-` (a launcher that gives no stderr): the first progress line
    was an internal error, exit 70, after the work was done."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    project = tmp_path / "P"
    script = (
        f"{sys.executable} -m annotator demo {project} --images 2 --labelled 2 >/dev/null && "
        f"{sys.executable} -m annotator train {project} --steps 1 2>&-"
    )
    run = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout
    assert "published model v1" in run.stdout


def test_a_relative_xdg_folder_is_not_taken(monkeypatch, tmp_path):
    """The XDG spec says a relative value is ignored: the settings file and the demo hung
    on the folder the app was started from."""
    from annotator.gui.settings_store import config_folder, data_folder

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", "rel-config")
    monkeypatch.setenv("XDG_DATA_HOME", "rel-data")
    assert config_folder().is_absolute() and "rel-config" not in str(config_folder())
    assert data_folder().is_absolute() and "rel-data" not in str(data_folder())
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "abs"))
    assert config_folder() == tmp_path / "abs" / "annotator"
