"""The project lock on a file system with no locks at all (some network shares, where
``flock`` fails with ENOLCK): the lock file's holder decides, and a holder on another
machine cannot be checked from here, so it is never taken over. And what a taken-over
lock file is said to be, where the system's lock says whether anybody holds it."""

from __future__ import annotations

import errno
import json
import os

import pytest

from annotator.storage import lock as lock_module
from annotator.storage.lock import LOCK_NAME, ProjectLock, ProjectLocked


@pytest.fixture
def no_file_locks(monkeypatch):
    class NoLocks:
        LOCK_SH, LOCK_EX, LOCK_NB, LOCK_UN = 1, 2, 4, 8

        @staticmethod
        def flock(fd, how):
            raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(lock_module, "fcntl", NoLocks)


def _held_by(folder, host, pid):
    (folder / LOCK_NAME).write_text(
        json.dumps(
            {
                "pid": pid,
                "host": host,
                "since": "2026-12-02T06:00:00+0000",
                "command": "annotator gui P",
            }
        )
    )


def test_a_lock_file_of_another_machine_is_not_taken_over(tmp_path, no_file_locks):
    """It was taken over as "a process that is gone", and both machines wrote."""
    _held_by(tmp_path, "lab-pc-2", os.getpid())
    with pytest.raises(ProjectLocked) as refused:
        ProjectLock.acquire(tmp_path)
    said = str(refused.value)
    assert "project is open on lab-pc-2 (pid " in said
    assert "running `annotator gui P`" in said
    assert "this file system has no locks" in said
    assert f"delete {tmp_path / LOCK_NAME} and try again" in said
    assert "lab-pc-2" in (tmp_path / LOCK_NAME).read_text()  # left as it was


def test_a_lock_file_of_a_dead_process_here_is_taken_over(tmp_path, no_file_locks, monkeypatch):
    monkeypatch.setattr(lock_module, "pid_alive", lambda pid: False)
    _held_by(tmp_path, lock_module.socket.gethostname(), 999_999)
    lock = ProjectLock.acquire(tmp_path)
    try:
        assert json.loads((tmp_path / LOCK_NAME).read_text())["pid"] == os.getpid()
    finally:
        lock.release()


def test_a_lock_file_copied_with_a_project_open_elsewhere_is_said_as_such(tmp_path, caplog):
    """A copy (`cp -a`) of a project open in another process: its lock file names a live
    process, which was said to be "gone"."""
    _held_by(tmp_path, lock_module.socket.gethostname(), os.getppid())  # (alive)
    with caplog.at_level("WARNING", logger=lock_module.log.name):
        lock = lock_module.ProjectLock._take(tmp_path)
    lock.release()
    said = caplog.text
    assert "a process that holds no lock on this folder" in said and "copied" in said
    assert "is gone" not in said


def test_a_second_creator_of_one_project_is_told_it_exists(tmp_path):
    """Two `annotator new Q` at once: the second was told the project "is open in
    another process; close it there first" (exit 75)."""
    from annotator.core.errors import ProjectError
    from annotator.core.schema import LabelSchema
    from annotator.storage.project import Project

    folder = tmp_path / "Q"
    folder.mkdir()
    _held_by(folder, lock_module.socket.gethostname(), os.getppid())
    import fcntl

    with open(folder / LOCK_NAME, "rb") as held:  # the first creator holds the lock
        fcntl.flock(held.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(ProjectError) as refused:
            Project.create(folder, LabelSchema.from_names(["a", "b"]))
    said = str(refused.value)
    assert not isinstance(refused.value, ProjectLocked)  # (exit 1, not 75)
    assert said.startswith(f"{folder}: already exists and is not an empty folder: another ")
    assert "is creating a project there" in said and "close it there" not in said
