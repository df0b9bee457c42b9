"""A class change killed at any moment: the project opens all old or all new, never a mix.

A child process merges a class of a project of 60 label maps and is killed with
SIGKILL after a delay spread over the change's length. After each kill the project is
opened (which finishes a committed change) and every map must be, value for value,
either its old content under the old classes or its remapped content under the new.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from annotator.core.schema import ClassChange, LabelSchema
from annotator.storage.project import Project

from .helpers import write_cells

NAMES = ["background", "cell", "debris", "nucleus"]
N_MAPS = 60
CHILD = """
import sys
from annotator.core.schema import ClassChange
from annotator.storage.class_change import change_classes
from annotator.storage.project import Project

with Project.open(sys.argv[1]) as project:
    print("open", flush=True)
    change_classes(project, ClassChange.removal(project.schema, 1, into=3))
"""


def _map(i: int, size: int) -> np.ndarray:
    rng = np.random.default_rng(i)
    out = rng.integers(0, len(NAMES), (size, size)).astype(np.uint8)
    out[0, 0] = 255  # unlabelled
    return out


def _project(root: Path, size: int) -> None:
    pictures = write_cells(root.parent / f"{root.name}-pictures", N_MAPS, size=size)
    with Project.create(root, LabelSchema.from_names(NAMES)) as project:
        project.add_images(pictures)
        for i, record in enumerate(project.images()):
            project.save_mask(record.id, _map(i, size))


def _check(root: Path, size: int) -> str:
    change = ClassChange.removal(LabelSchema.from_names(NAMES), 1, into=3)
    with Project.open(root) as project:
        new = project.schema.names == change.new.names
        assert new or project.schema.names == NAMES
        for i, record in enumerate(project.images()):
            want = change.lut[_map(i, size)] if new else _map(i, size)
            got = project.load_mask(record)
            assert got is not None and np.array_equal(got, want), (i, new)
            assert record.labelled_pixels == int(np.count_nonzero(want != 255))
        assert not (root / ".class-change").exists()
    return "new" if new else "old"


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILLs a child")
def test_kills_at_any_moment_leave_all_old_or_all_new(tmp_path):
    size = 128
    template = tmp_path / "template"
    _project(template, size)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}

    def started(root: Path) -> subprocess.Popen[bytes]:
        subprocess.run(["cp", "-a", str(template), str(root)], check=True)
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(root)], stdout=subprocess.PIPE, env=env
        )
        assert child.stdout is not None and child.stdout.readline() == b"open\n"
        return child

    timed = started(tmp_path / "timed")
    start = time.monotonic()
    assert timed.wait() == 0
    whole = time.monotonic() - start  # the change alone, once the project is open
    assert _check(tmp_path / "timed", size) == "new"
    seen = []
    for k in range(8):
        child = started(tmp_path / f"kill{k}")
        time.sleep(whole * 1.1 * k / 7)  # from the start to just past the end
        child.send_signal(signal.SIGKILL)
        child.wait()
        seen.append(_check(tmp_path / f"kill{k}", size))
    assert "old" in seen and "new" in seen, seen  # kills landed before and after the commit
