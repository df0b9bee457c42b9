"""Every command with ``--json`` prints one JSON value on stdout, also when it fails: an
object with the ``error`` (the line said on stderr, which stays there) and the
``exit_code``. They printed nothing: a script parsing stdout got an empty string."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from annotator.cli import main
from annotator.storage import lock as lock_module
from annotator.storage.lock import ProjectLock


@pytest.fixture
def root(tmp_path: Path) -> Path:
    assert main(["new", str(tmp_path / "P"), "--classes", "background,cell"]) == 0
    return (tmp_path / "P").resolve()


def _run(capsys, *argv: str) -> tuple[int, object, list[str]]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, json.loads(out), err.strip().splitlines()


def _failure(data: object, code: int, err: list[str], prefix: str = "annotator: error: "):
    assert isinstance(data, dict) and set(data) == {"error", "exit_code", "interrupted"}
    assert data["exit_code"] == code
    assert err[-1] == f"{prefix}{data['error']}"  # the same words as the human line
    return data


@pytest.mark.parametrize("command", ["status", "classes", "models", "suggest"])
def test_a_missing_project_is_said_in_json(tmp_path, capsys, command):
    code, data, err = _run(capsys, command, str(tmp_path / "nowhere"), "--json")
    assert code == 1
    assert "no such project folder" in _failure(data, 1, err)["error"]


def test_json_with_a_change_of_classes_is_refused_in_json(root, capsys):
    code, data, err = _run(capsys, "classes", str(root), "--add", "x", "--json")
    assert code == 2  # options that do not go together: the command line's refusal
    assert _failure(data, 2, err)["error"] == (
        "--json is for the listing of classes (without an option) (see `annotator classes --help`)"
    )


def test_a_busy_project_is_said_in_json(root, capsys, monkeypatch):
    monkeypatch.setattr(lock_module.sys, "argv", ["/usr/bin/annotator", "train", "P"])
    other = ProjectLock._take(root)  # held as another process holds it
    try:
        code, data, err = _run(capsys, "suggest", str(root), "--json")
    finally:
        os.close(other._fd)
    assert code == 75
    assert "open in another process" in _failure(data, 75, err)["error"]


def test_a_bad_option_value_is_said_in_json(root, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["suggest", str(root), "--json", "--count", "0"])
    out, err = capsys.readouterr()
    assert exc.value.code == 2
    data = _failure(json.loads(out), 2, err.strip().splitlines(), "annotator suggest: error: ")
    assert data["error"] == "argument -n/--count: '0' is not a whole number of 1 or more"


def test_an_interrupt_is_said_in_json(root, capsys, monkeypatch):
    import annotator.services.projects as projects

    def summary(self):
        signal.raise_signal(signal.SIGTERM)

    monkeypatch.setattr(projects.Project, "summary", summary)
    code, data, err = _run(capsys, "status", str(root), "--json")
    assert code == 143
    assert _failure(data, 143, err, "annotator: ") == {
        "error": "interrupted by SIGTERM",
        "exit_code": 143,
        "interrupted": True,
    }


def test_success_prints_only_the_command_s_own_value(root, capsys):
    code, data, err = _run(capsys, "classes", str(root), "--json")
    assert code == 0 and [c["name"] for c in data] == ["background", "cell"]
    code, data, err = _run(capsys, "status", str(root), "--json")
    assert code == 0 and "error" not in data


def test_a_command_without_json_prints_no_object(root, capsys):
    """``--json`` where the command has none is refused by argparse alone."""
    with pytest.raises(SystemExit):
        main(["predict", str(root), "--json"])
    assert capsys.readouterr().out == ""
