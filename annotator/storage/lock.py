"""One writer per project: a lock file naming the process that holds it.

Two processes writing one project (the GUI and ``annotator import``, or two training
rounds) would each act on a stale view: two ``add`` runs give two images the same name,
two rounds both publish "v3". SQLite alone serialises single transactions, not these
read-decide-write sequences. So every process that changes a project takes
``PROJECT/.annotator.lock`` for as long as it has the project open; read-only commands
(``status``, ``models``, ``export``, ``suggest --stored-only``) do not, and run beside
the holder (WAL mode lets them read while it writes).

The lock is an ``flock`` on the file (on Windows, ``msvcrt.locking`` of one byte far
past the file's end, where it never blocks reading the content). The system drops it
when its holder dies (even by SIGKILL), so a stale lock never blocks anyone: the next
process takes it over and says so. The file's content (pid, host, time, command) is
only for the message "project is open in another process (pid N)". Where the file
system has no such locks (some network shares) the content itself is the lock: a lock
whose pid is dead on this host is stale. Within
one process the lock is re-entrant, so the GUI and its worker threads share it.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from annotator.core import torchrun
from annotator.core.errors import ProjectError

log = logging.getLogger(__name__)

LOCK_NAME = ".annotator.lock"

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]
try:
    import msvcrt
except ImportError:  # POSIX
    msvcrt = None  # type: ignore[assignment]

#: Where the Windows lock byte sits: far past any content, because a Windows lock is
#: mandatory (a locked byte cannot be read by anyone else), and locking past the end of
#: a file is allowed.
WINDOWS_LOCK_OFFSET = 1 << 30


class ProjectLocked(ProjectError):
    """Another live process holds the project's write lock (``holder``, when known)."""

    def __init__(self, message: str, holder: LockInfo | None = None) -> None:
        super().__init__(message)
        self.holder = holder


@dataclass(frozen=True)
class LockInfo:
    """Who holds (or held) a lock."""

    pid: int
    host: str
    since: str
    command: str

    @classmethod
    def current(cls) -> LockInfo:
        return cls(
            os.getpid(),
            socket.gethostname(),
            time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            " ".join(_program(a) if i == 0 else a for i, a in enumerate(sys.argv))[:200],
        )

    @classmethod
    def parse(cls, text: str) -> LockInfo | None:
        try:
            d: dict[str, Any] = json.loads(text)
            return cls(int(d["pid"]), str(d["host"]), str(d["since"]), str(d.get("command", "")))
        except (ValueError, KeyError, TypeError):
            return None

    def describe(self) -> str:
        where = "" if self.host == socket.gethostname() else f" on {self.host}"
        what = f", running `{self.command}`" if self.command else ""
        return f"pid {self.pid}{where}{what}, since {self.since}"


def _program(argv0: str) -> str:
    """The program's name as the user typed it: ``annotator`` also for ``python -m
    annotator`` (whose ``argv[0]`` is the package's ``__main__.py``)."""
    name = os.path.basename(argv0)
    return "annotator" if name == "__main__.py" else name


#: How long :meth:`ProjectLock.acquire` waits for a lock another process holds
#: (``annotator --wait SECONDS``), and what it calls once as it starts waiting.
_wait_seconds = 0.0
_on_wait: Callable[[float, LockInfo | None], None] | None = None


def wait_for_locks(
    seconds: float, on_wait: Callable[[float, LockInfo | None], None] | None = None
) -> None:
    """From now on, in this process, wait up to ``seconds`` for a project's lock that
    another process holds, instead of refusing at once; ``on_wait(seconds, holder)`` is
    called as a wait starts (to say so). ``0``: refuse at once (the default)."""
    global _wait_seconds, _on_wait
    _wait_seconds, _on_wait = max(0.0, seconds), on_wait


#: While a wait for a lock goes on, a stop asked meanwhile ends it (a command whose
#: Ctrl+C only asks its work to stop: ``annotator train``); see :func:`stop_waiting_when`.
_stop_asked: Callable[[], bool] | None = None


def stop_waiting_when(asked: Callable[[], bool] | None) -> Callable[[], bool] | None:
    """From now on a wait for a lock ends with ``KeyboardInterrupt`` as soon as
    ``asked()`` is true (None: only a signal's own KeyboardInterrupt ends it); returns the
    check there was, to put back."""
    global _stop_asked
    before, _stop_asked = _stop_asked, asked
    return before


def pid_alive(pid: int) -> bool:
    """True when a process with this pid exists on this host."""
    if pid <= 0:
        return False
    if sys.platform == "win32":
        return _windows_pid_alive(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    except OSError:
        return False
    return True


def _windows_pid_alive(pid: int) -> bool:
    # Not os.kill(pid, 0): on Windows signal 0 is CTRL_C_EVENT, sent to the console
    # group ``pid`` (it would interrupt a command running there).
    import ctypes

    kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined,unused-ignore]
    process_query_limited_information, still_active, access_denied = 0x1000, 259, 5
    handle = kernel32.OpenProcess(process_query_limited_information, False, pid)
    if not handle:
        return bool(kernel32.GetLastError() == access_denied)  # exists, someone else's
    try:
        code = ctypes.c_ulong()
        if not kernel32.GetExitCodeProcess(handle, ctypes.byref(code)):
            return True
        return code.value == still_active
    finally:
        kernel32.CloseHandle(handle)


def _os_lock(fd: int, shared: bool = False) -> bool | None:
    """Take the system's lock on ``fd`` without waiting (``shared``: a reader's, where
    the system has them): True when taken, False when another process holds it, None
    when this file system has no such locks."""
    try:
        if fcntl is not None:
            try:
                fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            return True
        if msvcrt is not None:
            return _windows_lock(fd, unlock=False)
    except OSError as exc:  # a file system without locks (some network shares)
        log.info("no file locks here (%s); the lock file's holder decides", exc)
    return None


def _os_unlock(fd: int) -> None:
    with contextlib.suppress(OSError):
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
        elif msvcrt is not None:
            _windows_lock(fd, unlock=True)


def _windows_lock(fd: int, unlock: bool) -> bool:
    """Lock (or unlock) the byte at :data:`WINDOWS_LOCK_OFFSET`; False when another
    process holds it. Raises OSError when the file system cannot lock at all."""
    windows: Any = msvcrt  # typeshed declares its names for win32 only
    os.lseek(fd, WINDOWS_LOCK_OFFSET, os.SEEK_SET)
    try:
        windows.locking(fd, windows.LK_UNLCK if unlock else windows.LK_NBLCK, 1)
    except OSError as exc:
        if not unlock and exc.errno in (errno.EACCES, errno.EDEADLK):
            return False
        raise
    finally:
        os.lseek(fd, 0, os.SEEK_SET)
    return True


def needed() -> bool:
    """False in the helper ranks of ``torchrun``: they only read the project while rank
    0, which holds the lock, publishes (see :mod:`annotator.core.torchrun`)."""
    return not torchrun.is_helper_rank()


_HELD: dict[str, tuple[ProjectLock, int]] = {}
_HELD_GUARD = threading.Lock()


def held_here(root: str | os.PathLike[str]) -> bool:
    """Whether this process holds the lock of ``root`` already (re-entrant holds)."""
    with _HELD_GUARD:
        return str(Path(root).resolve()) in _HELD


class ProjectLock:
    """The write lock of one project folder; use :func:`acquire` and :meth:`release`."""

    def __init__(self, root: Path, fd: int, recovered: LockInfo | None) -> None:
        self.root = root
        self.path = root / LOCK_NAME
        self._fd = fd
        self.recovered = recovered  # the dead holder whose lock was taken over, if any

    def folder_now(self) -> Path | None:
        """The folder the lock file is in now: its project's, moved or renamed since it
        was opened (Linux's ``/proc/self/fd`` knows; None elsewhere, or when the file was
        deleted)."""
        try:
            target = os.readlink(f"/proc/self/fd/{self._fd}")
        except OSError:
            return None
        return None if target.endswith(" (deleted)") else Path(target).parent

    @classmethod
    def acquire(cls, root: str | os.PathLike[str]) -> ProjectLock:
        """Take the lock of ``root`` (re-entrant within a process), or raise
        :class:`ProjectLocked` naming the live holder (after waiting for it to end, up
        to the seconds :func:`wait_for_locks` set)."""
        folder = Path(root).resolve()
        key = str(folder)
        deadline: float | None = None
        while True:
            with _HELD_GUARD:
                if key in _HELD:
                    lock, count = _HELD[key]
                    _HELD[key] = (lock, count + 1)
                    return lock
                try:
                    lock = cls._take(folder)
                except ProjectLocked as exc:
                    refused = exc
                else:
                    _HELD[key] = (lock, 1)
                    return lock
            now = time.monotonic()
            if deadline is None:
                if _wait_seconds <= 0:
                    raise refused
                deadline = now + _wait_seconds
                if _on_wait is not None:
                    _on_wait(_wait_seconds, refused.holder)
            elif now >= deadline:
                waited = _refusal(folder, refused.holder, _wait_seconds)
                raise ProjectLocked(waited, refused.holder)
            if _stop_asked is not None and _stop_asked():
                raise KeyboardInterrupt  # (the first Ctrl+C, which only asked the work to stop)
            time.sleep(min(0.25, max(0.0, deadline - now)))

    @classmethod
    def _take(cls, folder: Path) -> ProjectLock:
        path = folder / LOCK_NAME
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            hint = (
                "; a project on a read-only disk can be read (status, models, export) but not "
                "changed: copy it to a writable disk to label or train"
                if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM)
                else ""
            )
            raise ProjectError(
                f"{path}: cannot create the project lock ({exc.strerror}){hint}"
            ) from None
        try:
            previous = LockInfo.parse(_read(fd))
            locked = _os_lock(fd)
            if locked is False:
                info = LockInfo.parse(_read(fd))
                raise ProjectLocked(_refusal(folder, info), info)
            if locked:
                # we hold it: whoever the file names is gone (the system dropped their lock)
                recovered = previous
            else:
                if previous and previous.host != socket.gethostname():
                    raise ProjectLocked(_unlocked_refusal(path, previous), previous)
                if previous and pid_alive(previous.pid):
                    raise ProjectLocked(_refusal(folder, previous), previous)
                recovered = previous
            if recovered is not None and recovered.pid == os.getpid():
                recovered = None
            try:
                _write(fd, LockInfo.current())
            except OSError:  # a full disk: the flock still holds; only the message is lost
                log.warning("%s: could not record the lock holder (disk full?)", folder)
        except BaseException:
            os.close(fd)
            raise
        if recovered is not None:
            here = recovered.host == socket.gethostname()
            log.warning(
                "%s: took over the lock of a process that is gone (%s)"
                if not (here and pid_alive(recovered.pid))
                else "%s: took over a lock file naming %s, a process that holds no lock on "
                "this folder (the folder was copied while that process had it open, or a "
                "process that crashed left the file and its pid was given to another)",
                folder,
                recovered.describe(),
            )
        return cls(folder, fd, recovered)

    def release(self) -> None:
        """Drop one hold; the last one empties the file and unlocks it. The file itself
        stays: deleting it would let a waiting opener lock a file nobody else sees."""
        key = str(self.root)
        with _HELD_GUARD:
            held = _HELD.get(key)
            if held is None or held[0] is not self:
                return
            lock, count = held
            if count > 1:
                _HELD[key] = (lock, count - 1)
                return
            del _HELD[key]
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
            _os_unlock(self._fd)
            with contextlib.suppress(OSError):
                os.close(self._fd)


@contextlib.contextmanager
def holding(path: Path, refusal: str) -> Iterator[None]:
    """Hold the system's lock on the file ``path`` (made if missing, removed at the end)
    for the block: one process at a time does what it guards (an export into one
    folder). Another live holder: :class:`ProjectLocked`, ``refusal`` followed by who
    holds it. Where the file system has no locks the block runs unguarded, as before."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        locked = _os_lock(fd)
        if locked is False:
            info = LockInfo.parse(_read(fd))
            os.close(fd)
            raise ProjectLocked(refusal + (f" ({info.describe()})" if info else ""), info)
        try:  # the holder that just ended may have removed the file: lock the one there
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            same = False
        if same or not locked:
            break
        _os_unlock(fd)
        os.close(fd)
    try:
        with contextlib.suppress(OSError):
            _write(fd, LockInfo.current())
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)  # (while held: a waiting opener then locks a file of its own)
        _os_unlock(fd)
        os.close(fd)


def holder(root: str | os.PathLike[str]) -> LockInfo | None:
    """Who holds the project's lock now (``None`` when nobody does)."""
    path = Path(root) / LOCK_NAME
    if not path.exists():
        return None
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        info = LockInfo.parse(_read(fd))
        if fcntl is None:
            # Windows has no shared lock: a probe would take the holder's own exclusive
            # byte for a moment, and a writer opening then would be refused. The file
            # names its holder (emptied on release); ask whether that process lives.
            return info if info and pid_alive(info.pid) else None
        locked = _os_lock(fd, shared=True)
        if locked is False:
            return info
        if locked:
            _os_unlock(fd)
            return None
        return info if info and pid_alive(info.pid) else None
    finally:
        os.close(fd)


def _refusal(folder: Path, info: LockInfo | None, waited: float = 0.0) -> str:
    who = f" ({info.describe()})" if info else ""
    still = f" still, after waiting {waited:g} s" if waited else ""
    return (
        f"{folder}: project is open in another process{who}{still}; close it there first "
        "(read-only commands such as status, models, export and suggest --stored-only can "
        "run beside it)"
    )


def _unlocked_refusal(path: Path, info: LockInfo) -> str:
    """On a file system without locks, a lock file naming another machine: whether its
    process still runs cannot be told from here (taking it over let both write)."""
    return (
        f"{path.parent}: project is open on {info.host} (pid {info.pid}"
        + (f", running `{info.command}`" if info.command else "")
        + f", since {info.since}) as far as its lock file says, and this file system has no "
        "locks to check that it still runs: close it there first; if nothing runs there "
        f"(it crashed), delete {path} and try again"
    )


def _read(fd: int) -> str:
    os.lseek(fd, 0, os.SEEK_SET)
    return os.read(fd, 4096).decode("utf-8", "replace")


def _write(fd: int, info: LockInfo) -> None:
    data = json.dumps(info.__dict__).encode()
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, data)
    with contextlib.suppress(OSError):
        os.fsync(fd)
