"""Atomic writes: the target is either the old or the new file, never a mix."""

import os

import pytest

from annotator.storage.atomic import atomic_open, atomic_write_bytes, atomic_write_json


def test_write_replaces_whole_file(tmp_path):
    path = tmp_path / "a" / "f.bin"
    atomic_write_bytes(path, b"one")
    atomic_write_bytes(path, b"two")
    assert path.read_bytes() == b"two"
    assert [p.name for p in path.parent.iterdir()] == ["f.bin"]


def test_exception_midway_keeps_old_content_and_removes_temporary(tmp_path):
    path = tmp_path / "f.json"
    atomic_write_json(path, {"v": 1})
    with pytest.raises(RuntimeError), atomic_open(path, "w") as fh:
        fh.write('{"v": 2, "half')
        raise RuntimeError("power cut")
    assert path.read_text().strip().replace(" ", "").replace("\n", "") == '{"v":1}'
    assert [p.name for p in tmp_path.iterdir()] == ["f.json"]


def test_new_files_are_world_readable_and_replacements_keep_their_mode(tmp_path):
    path = tmp_path / "f"
    atomic_write_bytes(path, b"a")
    assert path.stat().st_mode & 0o777 == 0o644
    path.chmod(0o600)
    atomic_write_bytes(path, b"b")
    assert path.stat().st_mode & 0o777 == 0o600


def test_replace_folder_puts_the_old_folder_back_when_the_new_cannot_go_in(tmp_path, monkeypatch):
    from annotator.storage.atomic import clear_replaced_folders, replace_folder

    out, stage = tmp_path / "out", tmp_path / ".out.partial-1"
    out.mkdir()
    (out / "old.txt").write_text("old")
    stage.mkdir()
    (stage / "new.txt").write_text("new")
    real, calls = os.rename, []

    def second_fails(src, dst):
        calls.append(src)
        if len(calls) == 2:
            raise OSError(5, "Input/output error")
        real(src, dst)

    monkeypatch.setattr(os, "rename", second_fails)
    with pytest.raises(OSError):
        replace_folder(stage, out)
    monkeypatch.undo()
    assert (out / "old.txt").read_text() == "old" and (stage / "new.txt").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".out.partial-1", "out"]
    replace_folder(stage, out)
    assert [p.name for p in out.iterdir()] == ["new.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
    left = tmp_path / ".out.replaced-killed"  # a run killed before it removed the old one
    left.mkdir()
    clear_replaced_folders(out)
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_a_folder_a_kill_left_aside_is_put_back_before_it_is_written_again(tmp_path, monkeypatch):
    """Killed between replace_folder's two renames, the folder was missing and its only
    copy hidden beside it, which the next run's clean-up then removed."""
    from annotator.storage.atomic import (
        clear_replaced_folders,
        replace_folder,
        restore_replaced_folder,
    )

    out, stage = tmp_path / "out", tmp_path / ".stage"
    out.mkdir()
    (out / "mine.txt").write_text("mine")
    stage.mkdir()
    (stage / "new.txt").write_text("new")
    real = os.rename

    class _Killed(BaseException):
        pass

    dead: list[bool] = []

    def second_rename_killed(src, dst):  # type: ignore[no-untyped-def]
        if dead or os.fspath(src) == os.fspath(stage):
            dead.append(True)  # (a killed process renames nothing back)
            raise _Killed()
        return real(src, dst)

    monkeypatch.setattr(os, "rename", second_rename_killed)
    with pytest.raises(_Killed):
        replace_folder(stage, out)
    monkeypatch.setattr(os, "rename", real)
    assert not out.exists()  # (the window a kill can hit)
    assert restore_replaced_folder(out)
    assert (out / "mine.txt").read_text() == "mine"
    assert not restore_replaced_folder(out)  # there: nothing to do
    clear_replaced_folders(out)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".stage", "out"]


def test_a_folder_holding_another_disk_is_not_swapped_but_filled(tmp_path, monkeypatch):
    """predict --out into a folder holding a mount point: the mounted disk's files were
    copied into the new folder and deleted from the mount with the old folder."""
    from annotator.storage import atomic

    out, stage = tmp_path / "out", tmp_path / ".stage"
    (out / "data").mkdir(parents=True)
    (out / "data" / "thesis.txt").write_text("important")
    (out / "old.png").write_text("old")
    stage.mkdir()
    (stage / "new.png").write_text("new")
    real = os.lstat

    def mounted(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        st = real(path, *args, **kwargs)
        if os.fspath(path).endswith("data"):  # another file system
            fields = list(st)
            fields[2] = st.st_dev + 1  # (st_dev)
            return os.stat_result(fields)
        return st

    monkeypatch.setattr(atomic.os, "lstat", mounted)
    inode = out.stat().st_ino
    atomic.merge_folder(stage, out, lambda _name: True)
    assert out.stat().st_ino == inode  # filled, not swapped
    assert (out / "data" / "thesis.txt").read_text() == "important"
    assert (out / "new.png").read_text() == "new" and (out / "old.png").read_text() == "old"
    assert not stage.exists()
