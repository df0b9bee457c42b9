"""SIGHUP (the terminal or ssh session closing under a long ``annotator train``) stops a
command as Ctrl+C and SIGTERM do: one line, the lock released, exit code 129 (128 + 1).
It killed the process at once: no line, the lock file naming a dead process.

Once the terminal has gone, writing to it fails (EIO on a closed terminal, EPIPE through
a pipe whose reader went away): the command must stop the same way all the same."""

from __future__ import annotations

import fcntl
import json
import os
import re
import signal
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest
from conftest import make_cells_project

from annotator.cli import main
from annotator.storage.lock import LOCK_NAME, holder
from annotator.storage.project import Project

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="no SIGHUP here")

LONG_TRAIN = ["--steps", "1000000", "--device", "cpu", "--depth", "2", "--width", "8"]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def root(tmp_path):
    make_cells_project(tmp_path / "project").close()
    return tmp_path / "project"


def _command(root: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "annotator", "train", str(root), *LONG_TRAIN, *extra]


def _env(tmp_path: Path) -> dict[str, str]:
    return dict(
        os.environ,
        PYTHONPATH=str(ROOT),
        OMP_NUM_THREADS="1",
        ANNOTATOR_LOG_DIR=str(tmp_path),  # a crash log would land here
    )


def _wait_for(read, what: bytes, timeout: float = 120.0) -> bytes:
    """What ``read()`` gave until ``what`` appeared in it (the round is under way)."""
    seen = b""
    deadline = time.monotonic() + timeout
    while what not in seen:
        assert time.monotonic() < deadline, seen
        chunk = read()
        assert chunk, seen  # the command ended before it got there
        seen += chunk
    return seen


def _cancelled_by_sighup(line: str) -> bool:
    """The round's one line on a SIGHUP, wherever it came: ``training:`` shows as the
    labels are still being read or prepared, and on a busy machine the signal may land
    there."""
    return (
        re.fullmatch(
            r"annotator: training cancelled( while (reading|preparing) the labels)? by SIGHUP[:;] "
            r"the model version is unchanged",
            line,
        )
        is not None
    )


def _released_and_unpublished(root: Path, tmp_path: Path) -> None:
    # released by the command (emptied), not dropped by the OS as the process died
    assert (root / LOCK_NAME).read_text() == ""
    assert holder(root) is None
    with Project.open(root, lock=False) as project:
        assert project.models() == []
    assert not (tmp_path / "annotator-crash.log").exists()


def test_sighup_stops_train_with_one_line_and_exit_129(root, tmp_path):
    child = subprocess.Popen(
        _command(root, "--json"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(tmp_path),
    )
    try:
        _wait_for(lambda: child.stderr.readline(), b"training:")
        child.send_signal(signal.SIGHUP)
        child.send_signal(signal.SIGHUP)  # a closed terminal may send two: no different
        out, err = child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    said = err.decode().strip().splitlines()
    assert child.returncode == 128 + signal.SIGHUP == 129, said
    assert _cancelled_by_sighup(said[-1]), said
    assert said[-1].endswith("the model version is unchanged"), said
    data = json.loads(out)
    assert (data["status"], data["published"], data["exit_code"]) == ("cancelled", None, 129)
    assert data["interrupted"] is True and "by SIGHUP" in data["error"]
    _released_and_unpublished(root, tmp_path)


def _on_a_terminal() -> None:
    """In the child: a session of its own, whose controlling terminal is its stdin (the
    pty), as a shell's command on a terminal has one."""
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def test_closing_the_terminal_stops_train_though_it_can_no_longer_write(root, tmp_path):
    """The pty's master closes (the terminal window, the ssh session): the kernel sends
    SIGHUP, and every later write to the terminal fails with EIO."""
    master, slave = os.openpty()
    child = subprocess.Popen(
        _command(root),
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=_env(tmp_path),
        preexec_fn=_on_a_terminal,
    )
    os.close(slave)
    try:
        _wait_for(lambda: os.read(master, 4096), b"training:")
        os.close(master)  # the terminal goes away: SIGHUP
        master = -1
        child.wait(timeout=120)
    finally:
        if master >= 0:
            os.close(master)
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 129
    _released_and_unpublished(root, tmp_path)


def test_sighup_stops_train_when_its_output_has_no_reader_any_more(root, tmp_path):
    """``annotator train P --json 2>log | reader``, and the session closes: the reader of
    stdout is gone (EPIPE). The command still says how it stopped where it can (the log)."""
    log = tmp_path / "train.log"
    with open(log, "wb") as err:
        child = subprocess.Popen(
            _command(root, "--json"), stdout=subprocess.PIPE, stderr=err, env=_env(tmp_path)
        )
    try:
        deadline = time.monotonic() + 120
        while b"training:" not in log.read_bytes():
            assert child.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        child.stdout.close()
        child.send_signal(signal.SIGHUP)
        child.wait(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    said = log.read_text().strip().splitlines()
    assert child.returncode == 129, said
    assert _cancelled_by_sighup(said[-1]), said
    _released_and_unpublished(root, tmp_path)


def test_sighup_in_a_read_only_command_gives_one_line(root, capsys, monkeypatch):
    """Every command (not only train) stops on SIGHUP, its handler given back after."""
    import annotator.services.versions as versions

    def listing(*_args, **_kwargs):
        signal.raise_signal(signal.SIGHUP)

    monkeypatch.setattr(versions, "listing", listing)
    monkeypatch.setattr(sys, "stdout", sys.stdout)  # (put back after the test)
    monkeypatch.setattr(sys, "stderr", sys.stderr)
    # as from a terminal, however the tests were started (under nohup the command rightly
    # ignores SIGHUP: see the next test)
    outer = signal.signal(signal.SIGHUP, signal.SIG_DFL)
    try:
        code = main(["models", str(root), "--json"])
        after = signal.getsignal(signal.SIGHUP)
    finally:
        signal.signal(signal.SIGHUP, outer)
    out, err = capsys.readouterr()
    assert code == 129
    assert err.strip().splitlines() == ["annotator: interrupted by SIGHUP"]
    assert json.loads(out) == {
        "error": "interrupted by SIGHUP",
        "exit_code": 129,
        "interrupted": True,
    }
    assert after is signal.SIG_DFL  # given back


def test_a_command_started_under_nohup_ignores_sighup(root, capsys, monkeypatch):
    """``nohup annotator train ...`` (SIGHUP ignored when the command starts) must outlive
    the terminal: the command does not install its own SIGHUP handler then."""
    import annotator.services.versions as versions

    real = versions.listing

    def listing(*args, **kwargs):
        signal.raise_signal(signal.SIGHUP)  # the terminal closes mid-command
        return real(*args, **kwargs)

    monkeypatch.setattr(versions, "listing", listing)
    before = signal.signal(signal.SIGHUP, signal.SIG_IGN)  # as nohup starts it
    try:
        code = main(["models", str(root), "--json"])
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGHUP, before)
    out, err = capsys.readouterr()
    assert code == 0, err
    assert isinstance(json.loads(out), dict | list)
