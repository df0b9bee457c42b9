"""Atomic file writes: a crash at any moment leaves either the old or the new file.

The recipe: write a temporary file in the same folder (so the rename stays on one file
system), flush, fsync, ``os.replace`` over the target, then fsync the folder so the
rename itself is durable.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any


def fsync_dir(folder: Path) -> None:
    """Make a rename or a new entry in ``folder`` durable (where the OS allows it)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # e.g. Windows cannot open folders; the rename is still atomic there
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "wb") -> Iterator[IO[Any]]:
    """Open a temporary file next to ``path`` (``.HASH.XXXXXXXX.tmp``, 26 bytes whatever
    the name); on success it replaces ``path``.

    If the body raises, the temporary file is removed and ``path`` is untouched.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    # Named by a hash of the target's name, not the name itself: a legal 250-byte name
    # plus ".NAME.XXXXXXXX.tmp" would pass the 255-byte limit of a file name.
    tag = hashlib.sha1(os.fsencode(target.name)).hexdigest()[:12]
    fd, tmp_name = tempfile.mkstemp(prefix=f".{tag}.", suffix=".tmp", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        # mkstemp creates 0600 files; keep the mode of the file we replace, else 0644.
        try:
            os.chmod(tmp, target.stat().st_mode & 0o777 if target.exists() else 0o644)
        except OSError:
            pass
        with os.fdopen(fd, mode) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, OSError) and exc.filename is None:  # say which file (full disk...)
            raise OSError(exc.errno, exc.strerror or str(exc), str(target)) from exc
        raise
    fsync_dir(target.parent)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_open(path, "wb") as fh:
        fh.write(data)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> None:
    """Write ``obj`` as indented JSON to ``path`` atomically."""
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def write_synced(path: str | os.PathLike[str], data: bytes) -> None:
    """Write a new file and flush it to disk (for files in a staging folder that is
    renamed into place as a whole afterwards)."""
    try:
        with open(path, "xb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        if exc.filename is None:  # say which file (a write on a full disk names none)
            raise OSError(exc.errno, exc.strerror or str(exc), os.fspath(path)) from exc
        raise


def put_in_place(stage: Path, out: Path, inside: bool) -> None:
    """Move a complete staging folder to ``out``: renamed over ``out`` (missing, or an
    empty folder), or, when ``inside`` (the stage is in ``out``: the root of a drive, a
    folder holding other files), its entries moved up into ``out`` one by one.

    Renamed, it first gets the mode of the empty folder it replaces, else the one
    ``mkdir`` gives (0o777 less the umask): ``tempfile.mkdtemp`` makes it 0o700."""
    if inside:
        _move_up(stage, out)
    else:
        if out.is_dir():
            mode = stat.S_IMODE(out.stat().st_mode)
        else:  # the umask, read without os.umask (which would set it for every thread)
            probe = stage / ".mode"
            probe.mkdir()
            mode = stat.S_IMODE(probe.stat().st_mode)
            probe.rmdir()
        os.chmod(stage, mode)
        if out.exists():
            out.rmdir()
        os.replace(stage, out)
    fsync_dir(out if inside else out.parent)


def _move_up(stage: Path, out: Path) -> None:
    """Move the entries of ``stage`` into ``out`` one by one, a folder's into the folder
    of its name already there (``volumes/`` of an earlier run), then remove ``stage``."""
    for entry in sorted(stage.iterdir()):
        target = out / entry.name
        if entry.is_dir() and not entry.is_symlink() and target.is_dir():
            _move_up(entry, target)
        else:
            os.replace(entry, target)
    stage.rmdir()


def merge_folder(stage: Path, out: Path, keep: Callable[[str], bool]) -> None:
    """Put the complete folder ``stage`` (beside ``out``) over the folder ``out`` as one
    step, keeping what ``out`` holds that ``stage`` lacks: those entries (a folder's, in
    the folder of its name) are first linked into ``stage`` (copied where the file
    system has no links), except the names ``keep`` refuses, then
    :func:`replace_folder`. Moved into ``out`` one by one, a kill part way left it
    half old and half new. Where ``out`` holds a folder of another file system (a disk
    mounted there), whose files a copy would take away from it, the entries of
    ``stage`` are moved into ``out`` one by one instead."""
    if not _one_file_system(out):
        _move_up(stage, out)
        return
    _link_missing(out, stage, keep)
    replace_folder(stage, out)


def _one_file_system(folder: Path) -> bool:
    """Whether every folder below ``folder`` (links not followed) is on its disk."""
    device = folder.stat().st_dev
    for below, dirs, _files in os.walk(folder):
        for name in dirs:
            try:
                st = os.lstat(os.path.join(below, name))
            except OSError:
                return False
            if stat.S_ISDIR(st.st_mode) and st.st_dev != device:
                return False
    return True


def _link_missing(old: Path, new: Path, keep: Callable[[str], bool]) -> None:
    import shutil

    for entry in os.scandir(old):
        target = new / entry.name
        if not keep(entry.name):
            continue
        if entry.is_dir(follow_symlinks=False):
            if not target.exists():
                target.mkdir()
                shutil.copystat(entry.path, target)
            if target.is_dir() and not target.is_symlink():
                _link_missing(Path(entry.path), target, lambda _name: True)
            continue
        if target.exists() or target.is_symlink():
            continue  # the new one's
        if entry.is_symlink():
            os.symlink(os.readlink(entry.path), target)
            continue
        try:
            os.link(entry.path, target)
        except OSError:  # (no links on this file system, or not allowed)
            shutil.copy2(entry.path, target)
    fsync_dir(new)  # (the names linked: on disk before the folder is renamed)


def replaced_prefix(out: Path) -> str:
    """The name's beginning of the hidden folder :func:`replace_folder` moves an old
    ``out`` to until the new one is in place."""
    return f".{out.name}.replaced-"


def replace_folder(stage: Path, out: Path) -> None:
    """Put the complete folder ``stage`` (beside ``out``) in the place of the folder
    ``out``, which holds files: ``out`` is first renamed to a hidden folder beside it
    (:func:`replaced_prefix`), ``stage`` renamed to ``out``, and only then the old folder
    removed. If the second rename fails the old folder is put back, so the old folder is
    never removed before the new one is in place. Old folders that a killed process left
    beside ``out`` are removed once ``out`` is there again."""
    import shutil

    old = Path(tempfile.mkdtemp(prefix=replaced_prefix(out), dir=out.parent))
    old.rmdir()  # a free name on the same file system; a rename onto it makes it
    os.chmod(stage, stat.S_IMODE(out.stat().st_mode))
    os.rename(out, old)
    try:
        os.rename(stage, out)
    except BaseException:
        os.rename(old, out)
        raise
    fsync_dir(out.parent)
    shutil.rmtree(old, ignore_errors=True)


def restore_replaced_folder(out: Path) -> bool:
    """Put back the folder :func:`replace_folder` moved aside, where a process killed
    between its two renames left ``out`` missing (the hidden folder its only copy);
    whether it did. Call before writing ``out`` again."""
    if out.exists() or out.is_symlink():
        return False
    with contextlib.suppress(OSError):
        aside = sorted(out.parent.glob(f"{glob.escape(replaced_prefix(out))}*"))
        if len(aside) == 1 and aside[0].is_dir():
            os.rename(aside[0], out)
            fsync_dir(out.parent)
            return True
    return False


def clear_replaced_folders(out: Path) -> None:
    """Remove the old folders :func:`replace_folder` left beside ``out`` when killed
    after its new folder was in place; none while ``out`` is missing (a kill between the
    two renames: the hidden one is then the only copy)."""
    import shutil

    if not out.is_dir():
        return
    with contextlib.suppress(OSError):
        for entry in out.parent.glob(f"{glob.escape(replaced_prefix(out))}*"):
            shutil.rmtree(entry, ignore_errors=True)


#: A folder being written whole is ``.<name>.partial`` until it is renamed to ``<name>``.
PARTIAL_SUFFIX = ".partial"


def partial_folder(folder: Path) -> Path:
    """Where ``folder`` is written before it is renamed into place in one step."""
    return folder.with_name(f".{folder.name}{PARTIAL_SUFFIX}")


def clear_partial_folders(parent: Path) -> int:
    """Remove the ``.partial`` folders a killed process left in ``parent`` (see
    :func:`partial_folder`); returns how many went. Only for a writer holding the
    project's lock: another writer's folder is never half-written meanwhile."""
    import shutil

    removed = 0
    with contextlib.suppress(OSError):
        for entry in os.scandir(parent):
            name = entry.name
            if name.startswith(".") and name.endswith(PARTIAL_SUFFIX) and entry.is_dir():
                shutil.rmtree(entry.path, ignore_errors=True)
                removed += 1
    return removed
