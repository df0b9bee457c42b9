"""Crash harness, short form (the long form is ``benchmarks/crash.py --kills 200``).

A scripted session in a forked child is killed with SIGKILL ten times at random moments;
after each kill the project must open with every saved edit, model version and export
intact. A negative control shows the checks do catch a lost edit, a damaged mask, a
listed version whose checkpoint is gone, and a half export.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _crash_module():
    spec = importlib.util.spec_from_file_location(
        "annotator_bench_crash", ROOT / "benchmarks" / "crash.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="forks and SIGKILLs a child")
def test_ten_random_kills_lose_nothing(tmp_path):
    crash = _crash_module()
    report = crash.run(10, seed=3, max_wait=4.0, out=tmp_path / "crash.json", verbose=False)
    assert report["kills"] == 10
    assert report["states_lost"] == 0, report["lost"]
    assert report["operations_completed"].get("paint", 0) > 0


def test_the_checks_catch_damage(tmp_path):
    """The verifier is not a rubber stamp: each kind of damage is reported."""
    import numpy as np

    from annotator.storage.project import Project

    crash = _crash_module()
    proj = crash.build_project(tmp_path)
    with Project.open(proj) as project:
        rec = project.images()[0]
        mask = np.full((rec.height, rec.width), 255, np.uint8)
        mask[8, 8] = 1
        project.save_mask(rec.id, mask)
    good = [
        {"op": "paint", "phase": "intent", "image": rec.id, "x": 8, "y": 8, "value": 1},
        {"op": "paint", "phase": "done", "image": rec.id, "x": 8, "y": 8, "value": 1},
    ]
    assert crash.verify(proj, good, tmp_path) == []
    lost = [{**e, "value": 2} for e in good]
    assert any("lost edit" in p for p in crash.verify(proj, lost, tmp_path))
    in_flight = [
        *good,
        {"op": "paint", "phase": "intent", "image": rec.id, "x": 8, "y": 8, "value": 2},
    ]
    assert crash.verify(proj, in_flight, tmp_path) == []  # not saved yet: either value is fine
    out = tmp_path / "export-x"
    (out / "sub").mkdir(parents=True)
    (out / "sub" / "a.png").write_bytes(b"x")
    half = [
        {"op": "export", "phase": "intent", "out": str(out), "format": "masks"},
        {"op": "export", "phase": "done", "out": str(out), "format": "masks", "files": 5},
    ]
    assert any("export wrote 5" in p for p in crash.verify(proj, half, tmp_path))
    project_mask = proj / "masks" / f"{rec.id}.png"
    project_mask.write_bytes(project_mask.read_bytes()[:40])
    assert any("does not decode" in p for p in crash.verify(proj, [], tmp_path))


def test_a_rerun_export_clears_what_a_killed_one_left(tmp_path):
    from .helpers import cli, make_project

    proj = make_project(tmp_path, n_images=2, size=32, labelled=2)
    out = tmp_path / "out"
    stale = tmp_path / ".out.partial-abc123"
    (stale / "train").mkdir(parents=True)
    (stale / "train" / "half.png").write_bytes(b"\x89PNG")
    result = cli("export", proj, out, "--format", "masks", "--split", "1")
    assert result.code == 0, result.err
    assert not stale.exists()
    assert (out / "class_names.txt").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []
