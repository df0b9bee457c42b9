"""Opening in the app a project another process writes: the refusal names the holder and
says to close it there, without the CLI's read-only commands (``suggest --stored-only``),
which the app has no use for."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from annotator.core.schema import LabelSchema
from annotator.storage.project import Project

ROOT = Path(__file__).resolve().parents[2]
#: Holds the project's write lock until its stdin closes.
HOLDER = """
import sys
from annotator.storage.project import Project
project = Project.open(sys.argv[1])
print("ready", flush=True)
sys.stdin.read()
"""


@contextlib.contextmanager
def held_elsewhere(root: Path) -> Iterator[None]:
    """The project at ``root`` open in another process (its write lock held) meanwhile."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(root)],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        yield
    finally:
        holder.communicate("", timeout=30)


def test_a_project_another_process_writes_is_refused_in_the_apps_words(window, boxes, tmp_path):
    other = tmp_path / "other"
    Project.create(other, LabelSchema.from_names(["cell"])).close()
    with held_elsewhere(other):
        said = window.open_project(other)
    assert said is not None
    assert [kind for kind, _ in boxes] == ["warning"]
    shown = boxes[0][1]
    assert shown.startswith(f"{other.resolve()}: project is open in another process (pid "), shown
    assert shown.endswith("; close it there first, then open it again."), shown
    assert not re.search(r"(?<![\w-])--[a-z]", shown)
    assert "read-only commands" not in shown
