"""An import killed part way keeps the labels it had replaced.

It replaces the maps one by one, each after its copy into ``removed/``'s hidden staging
folder, which it renamed into place only at its end: killed before that, the next
writer deleted the staging folder, and with it the only copies of the maps already
replaced.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import numpy as np
import pytest

from annotator.cli import main
from annotator.storage.kept_labels import JOURNAL, finish_stopped
from annotator.storage.project import Project

N = 8


def _dataset(tmp_path: Path) -> tuple[Path, Path, Path]:
    pics, a, b = (tmp_path / d for d in ("pics", "a", "b"))
    for d in (pics, a, b):
        d.mkdir()
    rng = np.random.default_rng(0)
    for i in range(N):
        cv2.imwrite(str(pics / f"{i}.png"), rng.integers(0, 255, (16, 16), np.uint8))
        m = np.zeros((16, 16), np.uint8)
        m[: i + 1] = 1
        cv2.imwrite(str(a / f"{i}.png"), m)
        cv2.imwrite(str(b / f"{i}.png"), 1 - m)
    return pics, a, b


def _labelled(tmp_path: Path) -> tuple[Path, Path, Path]:
    """Project P of the pictures labelled with masks a; the folders a and b."""
    pics, a, b = _dataset(tmp_path)
    root = tmp_path / "P"
    assert main(["new", str(root), "--classes", "bg,fg"]) == 0
    assert main(["add", str(root), str(pics)]) == 0
    assert main(["import", str(root), "--format", "masks", str(a)]) == 0
    return root, a, b


@pytest.mark.skipif(sys.platform == "win32", reason="kills itself with os._exit")
def test_the_labels_an_import_killed_part_way_replaced_are_kept(tmp_path, capsys):
    root, a, b = _labelled(tmp_path)
    code = textwrap.dedent(
        f"""
        import os
        from annotator.services import exchange
        real, done = exchange._import_item, []
        def killed_after_three(*args, **kwargs):
            if len(done) == 3:
                os._exit(9)  # no finally, no cleanup: as a kill
            real(*args, **kwargs)
            done.append(1)
        exchange._import_item = killed_after_three
        from annotator.cli import main
        main(["import", {str(root)!r}, "--format", "masks", {str(b)!r}])
        """
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    assert subprocess.run([sys.executable, "-c", code], env=env, check=False).returncode == 9
    removed = root / "removed"
    assert [p.name for p in removed.iterdir() if p.name.startswith(".")]  # the staging
    capsys.readouterr()
    assert main(["status", str(root)]) == 0  # a reader changes nothing
    assert [p for p in removed.iterdir() if p.name.startswith(".")]
    assert main(["mark", str(root), "0.png", "--not-done"]) == 0  # the next writer keeps them
    err = capsys.readouterr().err
    assert "labels that an import stopped part way had replaced are kept in" in err
    (kept,) = [p for p in removed.iterdir()]
    assert kept.name.endswith("-import") and not (kept / JOURNAL).exists()
    assert sorted(p.name for p in (kept / "masks").iterdir()) == [
        "0.png.png",
        "1.png.png",
        "2.png.png",
    ]
    with Project.open(root) as project:
        replaced = {r.name for r in project.images() if project.load_mask(r)[0, 0] == 0}
    assert replaced == {"0.png", "1.png", "2.png"}  # (b's maps: 0 on their first row)
    # importing the kept folder brings the replaced labels back
    assert main(["import", str(root), "--format", "masks", str(kept)]) == 0
    with Project.open(root) as project:
        for r in project.images():
            want = cv2.imread(str(a / r.name), cv2.IMREAD_UNCHANGED)
            np.testing.assert_array_equal(project.load_mask(r), want)


def test_a_journal_line_cut_short_leaves_its_map_out(tmp_path):
    staging = tmp_path / ".20261202-000000-import.partial"
    (staging / "masks").mkdir(parents=True)
    for name in ("class_names.txt", "dataset.json"):
        (staging / name).write_text("x\n")
    (staging / "masks" / "a.png.png").write_bytes(b"a")
    (staging / "masks" / "b.png.png").write_bytes(b"b")
    (staging / JOURNAL).write_text(
        '{"mask": "masks/a.png.png", "image": "a.png", "sha1": "1", "status": "done"}\n'
        '{"mask": "masks/b.png.png", "ima'
    )
    (folder,) = finish_stopped(tmp_path)
    assert folder.name == "20261202-000000-import"
    assert [p.name for p in (folder / "masks").iterdir()] == ["a.png.png"]
    # a staging folder without a journal (a removal's, killed before it changed
    # anything) is not finished: the next writer clears it
    (tmp_path / ".x.partial" / "masks").mkdir(parents=True)
    assert finish_stopped(tmp_path) == []


@pytest.mark.skipif(sys.platform == "win32", reason="kills itself with os._exit")
@pytest.mark.parametrize("moment", ["images.json written", "before the rename", "after it"])
def test_a_kill_while_the_kept_folder_is_put_in_place_keeps_it(tmp_path, capsys, moment):
    """The journal was dropped before the rename: killed between the two, the next
    writer took the folder for a removal's and deleted every kept map. Killed after
    images.json was written and before that, every later writer failed on images.json
    being there (FileExistsError, exit 70)."""
    root, a, b = _labelled(tmp_path)
    code = textwrap.dedent(
        f"""
        import os
        from pathlib import Path
        from annotator.storage import atomic, kept_labels
        moment = {moment!r}
        real_write, real_replace = atomic.write_synced, os.replace
        def write(path, data):
            real_write(path, data)
            if moment == "images.json written" and Path(path).name == "images.json":
                os._exit(9)
        def replace(src, dst, *a, **k):
            moved = Path(src).name.endswith(".partial") and "removed" in str(src)
            if moved and moment == "before the rename":
                os._exit(9)
            real_replace(src, dst, *a, **k)
            if moved and moment == "after it":
                os._exit(9)
        kept_labels.write_synced = write
        if hasattr(kept_labels, "atomic_write_bytes"):
            real_atomic = kept_labels.atomic_write_bytes
            def atomic_write(path, data):
                real_atomic(path, data)
                if moment == "images.json written" and Path(path).name == "images.json":
                    os._exit(9)
            kept_labels.atomic_write_bytes = atomic_write
        os.replace = replace
        from annotator.cli import main
        main(["import", {str(root)!r}, "--format", "masks", {str(b)!r}])
        """
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    assert subprocess.run([sys.executable, "-c", code], env=env, check=False).returncode == 9
    capsys.readouterr()
    assert main(["mark", str(root), "0.png", "--not-done"]) == 0, capsys.readouterr().err
    removed = root / "removed"
    (folder,) = [p for p in removed.iterdir() if not p.name.startswith(".")]
    assert not (folder / JOURNAL).exists()
    assert len(list((folder / "masks").iterdir())) == N  # every map the import replaced
    assert main(["import", str(root), "--format", "masks", str(folder)]) == 0
    with Project.open(root) as project:
        for r in project.images():
            want = cv2.imread(str(a / r.name), cv2.IMREAD_UNCHANGED)
            np.testing.assert_array_equal(project.load_mask(r), want)
