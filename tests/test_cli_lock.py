"""A project busy in another process: its own exit code (75), the holder's command named,
and ``--wait SECONDS`` to wait for it."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from annotator.cli import EXIT_BUSY, main
from annotator.storage import lock as lock_module
from annotator.storage.lock import ProjectLock

REFUSAL = "project is open in another process"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    assert main(["new", str(tmp_path / "P"), "--classes", "background,cell"]) == 0
    return (tmp_path / "P").resolve()


@pytest.fixture
def held(root: Path, monkeypatch: pytest.MonkeyPatch):
    """The project's lock held as another process holds it (recording its command)."""
    monkeypatch.setattr(lock_module.sys, "argv", ["/usr/bin/annotator", "train", "P"])
    other = ProjectLock._take(root)  # (not registered as this process's own)
    yield other
    os.close(other._fd)  # what the other process's end does


def _unlock(lock: ProjectLock) -> None:
    lock_module._os_unlock(lock._fd)


def test_a_busy_project_exits_75_naming_the_holder_s_command(root, held, capsys):
    """It exited 1, as a wrong argument does: a script could not tell "try again later"."""
    code = main(["classes", str(root), "--add", "nucleus"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == EXIT_BUSY == 75
    assert len(err) == 1 and REFUSAL in err[0], err
    assert "running `annotator train P`" in err[0]
    assert "suggest --stored-only" in err[0]
    assert main(["status", str(root)]) == 0  # a read-only command runs beside it


def test_wait_gives_up_after_the_seconds_given_with_one_line_saying_it_waits(root, held, capsys):
    code = main(["classes", str(root), "--add", "nucleus", "--wait", "0.3"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == EXIT_BUSY
    assert len(err) == 2, err
    assert err[0].startswith("annotator: the project is open in another process (pid ")
    assert err[0].endswith("waiting up to 0.3 s for it to close")
    assert "still, after waiting 0.3 s;" in err[1] and err[1].startswith("annotator: error:")


def test_wait_takes_the_lock_once_the_other_process_lets_it_go(root, held, capsys):
    threading.Timer(0.4, _unlock, (held,)).start()
    code = main(["--wait", "30", "classes", str(root), "--add", "nucleus"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "waiting up to 30 s" in err and "nucleus" in out
    assert lock_module._wait_seconds == 0  # the next command refuses at once again


def test_wait_refuses_what_is_not_a_number_of_seconds(root, capsys):
    for bad in ("x", "-1", "nan"):
        with pytest.raises(SystemExit) as exit_:
            main(["classes", str(root), "--wait", bad])
        assert exit_.value.code == 2
        assert "--wait" in capsys.readouterr().err


def test_one_ctrl_c_ends_trains_wait_for_the_lock(root, held, capsys):
    """`train --wait`: the first Ctrl+C only asked the round (not started) to stop, and
    the wait went on; under torchrun, which passes on one signal, the ranks were killed."""
    import signal
    import time

    threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT)).start()
    started = time.monotonic()
    code = main(["train", str(root), "--steps", "1", "--wait", "20"])
    assert code == 130 and time.monotonic() - started < 10
    assert "waiting up to 20 s" in capsys.readouterr().err
