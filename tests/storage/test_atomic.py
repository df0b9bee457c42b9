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
