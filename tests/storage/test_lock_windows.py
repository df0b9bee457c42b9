"""The project lock's Windows path, run here through stand-ins for ``msvcrt`` and
``kernel32`` (there is no Windows machine in CI): what it asks of the system, and that
it never sends a console signal to find out whether a process lives."""

from __future__ import annotations

import ctypes
import errno
import fcntl
import json
import os
import types

import pytest

from annotator.storage import lock as lock_module
from annotator.storage.lock import (
    LOCK_NAME,
    WINDOWS_LOCK_OFFSET,
    ProjectLock,
    ProjectLocked,
    holder,
    pid_alive,
)

LK_UNLCK, LK_NBLCK = 0, 2


def fake_msvcrt(calls: list[tuple[int, int]]) -> types.SimpleNamespace:
    """``msvcrt.locking`` over ``flock``, which (like a Windows lock) one open file
    refuses to another even within a process; it records (mode, file position)."""

    def locking(fd: int, mode: int, nbytes: int) -> None:
        assert nbytes == 1
        calls.append((mode, os.lseek(fd, 0, os.SEEK_CUR)))
        if mode == LK_UNLCK:
            fcntl.flock(fd, fcntl.LOCK_UN)
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OSError(errno.EACCES, "Permission denied") from None

    return types.SimpleNamespace(LK_UNLCK=LK_UNLCK, LK_NBLCK=LK_NBLCK, locking=locking)


@pytest.fixture
def windows_locks(monkeypatch):
    calls: list[tuple[int, int]] = []
    monkeypatch.setattr(lock_module, "fcntl", None)
    monkeypatch.setattr(lock_module, "msvcrt", fake_msvcrt(calls))

    def taking(pid):  # the holder is asked after by its pid (holder() takes no lock)
        return pid == os.getpid()

    monkeypatch.setattr(lock_module, "pid_alive", taking)
    return calls


def test_a_windows_lock_refuses_a_second_writer_and_is_free_after_release(tmp_path, windows_locks):
    first = ProjectLock.acquire(tmp_path)
    try:
        # The byte far past the end is locked; the content stays readable at the start.
        assert windows_locks == [(LK_NBLCK, WINDOWS_LOCK_OFFSET)]
        holder(tmp_path)
        assert len(windows_locks) == 1  # asking who holds it takes no lock (no shared ones)
        content = (tmp_path / LOCK_NAME).read_bytes()
        assert json.loads(content)["pid"] == os.getpid()
        assert len(content) < 4096
        assert holder(tmp_path).pid == os.getpid()
        with pytest.raises(ProjectLocked, match=f"pid {os.getpid()}"):
            ProjectLock._take(tmp_path)  # as another process would
    finally:
        first.release()
    assert (LK_UNLCK, WINDOWS_LOCK_OFFSET) in windows_locks
    assert holder(tmp_path) is None
    again = ProjectLock.acquire(tmp_path)
    assert again.recovered is None
    again.release()


def test_a_windows_lock_left_by_a_dead_holder_is_taken_over(tmp_path, windows_locks):
    (tmp_path / LOCK_NAME).write_text(
        json.dumps({"pid": 999_999, "host": "here", "since": "then", "command": "gone"})
    )
    lock = ProjectLock.acquire(tmp_path)
    try:
        assert lock.recovered is not None and lock.recovered.pid == 999_999
    finally:
        lock.release()


class FakeKernel32:
    """``OpenProcess``/``GetExitCodeProcess`` for one table of pids."""

    def __init__(self, processes: dict[int, int | None]) -> None:
        self.processes = processes  # pid -> exit code (259: running; None: no access)
        self.last_error = 0
        self.closed: list[int] = []

    def OpenProcess(self, access, inherit, pid):  # noqa: N802 (the Windows name)
        if pid not in self.processes:
            self.last_error = 87  # ERROR_INVALID_PARAMETER: no such process
            return 0
        if self.processes[pid] is None:
            self.last_error = 5  # ERROR_ACCESS_DENIED: someone else's process
            return 0
        return 1000 + pid

    def GetLastError(self):  # noqa: N802
        return self.last_error

    def GetExitCodeProcess(self, handle, code_ref):  # noqa: N802
        code_ref._obj.value = self.processes[handle - 1000]
        return 1

    def CloseHandle(self, handle):  # noqa: N802
        self.closed.append(handle)
        return 1


def test_pid_alive_on_windows_asks_the_process_table_not_a_console_signal(monkeypatch):
    kernel32 = FakeKernel32({10: 259, 11: 0, 12: None})
    monkeypatch.setattr(lock_module.sys, "platform", "win32")
    monkeypatch.setattr(ctypes, "windll", types.SimpleNamespace(kernel32=kernel32), raising=False)

    def no_kill(pid, sig):
        raise AssertionError("os.kill(pid, 0) sends CTRL_C_EVENT on Windows")

    monkeypatch.setattr(lock_module.os, "kill", no_kill)
    assert pid_alive(10)  # running
    assert not pid_alive(11)  # exited, handle still open somewhere
    assert pid_alive(12)  # exists, another user's
    assert not pid_alive(13)  # no such process
    assert kernel32.closed == [1010, 1011]
