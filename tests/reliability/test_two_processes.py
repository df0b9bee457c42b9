"""Two processes, one project: a clear refusal or safe cooperation, never corruption.

Writers (add, import, train, rollback, the GUI's session) take the project's write lock;
read-only commands (status, models, export) run beside them. The interleavings are run
as real concurrent subprocesses, in a loop (``RELIABILITY_LOOPS``, default 1), and the
project is checked after each: the database passes ``integrity_check``, every mask
decodes, every image the successful commands added is there, model versions are
numbered without gaps and the active one loads.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from annotator.storage.lock import LOCK_NAME, ProjectLock, ProjectLocked, holder

from .helpers import cli, make_project, write_cells

ROOT = Path(__file__).resolve().parents[2]
LOOPS = int(os.environ.get("RELIABILITY_LOOPS", "1"))
TRAIN = ["--steps", "2", "--depth", "2", "--width", "4", "--device", "cpu"]
REFUSAL = "project is open in another process"


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}


def _spawn(*argv: object) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "annotator", *map(str, argv)],
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


HOLDER = """
import sys, time, json, os
import numpy as np
from annotator.storage.project import Project
from annotator.services.session import AnnotationSession
from annotator.core.labelmap import Box
proj, log_path, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
project = Project.open(proj)
session = AnnotationSession(project)
ids = [r.id for r in project.images()]
print("ready", flush=True)
end = time.monotonic() + seconds
n = 0
with open(log_path, "a") as log:
    while time.monotonic() < end and not os.path.exists(log_path + ".stop"):
        doc = session.open_image(ids[n % len(ids)])
        y, x = divmod(n, 7)
        doc.paint_stroke([(x, y % doc.label_map.array.shape[0])], 0, 1)
        session.save(wait=True)
        log.write(json.dumps([doc.image_id, int(y % doc.label_map.array.shape[0]), x]) + "\\n")
        log.flush()
        os.fsync(log.fileno())
        n += 1
session.close()
project.close()
print("done", n, flush=True)
"""


def _start_holder(proj: Path, log: Path, seconds: float) -> subprocess.Popen:
    p = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(proj), str(log), str(seconds)],
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert p.stdout is not None
    line = p.stdout.readline()
    assert line.strip() == "ready", p.stderr.read() if p.stderr else line
    return p


def check_project(proj: Path) -> dict[str, int]:
    """The post-conditions of every interleaving; returns counts for the caller."""
    conn = sqlite3.connect(f"file:{proj / 'annotator.sqlite'}?mode=ro", uri=True)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    images = conn.execute("SELECT id, width, height FROM images").fetchall()
    versions = [r[0] for r in conn.execute("SELECT version FROM models ORDER BY version")]
    conn.close()
    for image_id, w, h in images:
        mask_file = proj / "masks" / f"{image_id}.png"
        if mask_file.exists():
            mask = cv2.imdecode(np.fromfile(mask_file, np.uint8), cv2.IMREAD_UNCHANGED)
            assert mask is not None and mask.shape == (h, w), mask_file
    assert versions == list(range(1, len(versions) + 1)), versions
    if versions:
        from annotator.services import proposals
        from annotator.storage.project import Project

        with Project.open(proj, lock=False) as project:
            proposals.load_predictor(project, device="cpu")
    return {"images": len(images), "models": len(versions)}


def _outcome(p: subprocess.Popen) -> tuple[int, str]:
    out, err = p.communicate(timeout=300)
    assert "Traceback" not in err, err
    assert p.returncode in (0, 75), (p.returncode, err)
    if p.returncode == 75:  # busy: its own exit code
        assert REFUSAL in err and len(err.strip().splitlines()) == 1, err
    return p.returncode, err


def test_lock_is_reentrant_in_a_process_and_released_on_close(tmp_path):
    proj = make_project(tmp_path, n_images=1)
    from annotator.storage.project import Project

    a = Project.open(proj)
    b = Project.open(proj)  # the GUI and its threads share the process's lock
    assert holder(proj) is not None and holder(proj).pid == os.getpid()
    a.close()
    assert holder(proj) is not None
    b.close()
    assert holder(proj) is None
    assert (proj / LOCK_NAME).exists()


def test_a_live_holder_is_named_and_a_killed_one_is_recovered(tmp_path):
    proj = make_project(tmp_path, n_images=1)
    p = _start_holder(proj, tmp_path / "log", 60)
    try:
        with pytest.raises(ProjectLocked, match=rf"{REFUSAL} \(pid {p.pid}"):
            ProjectLock.acquire(proj)
        result = cli("add", proj, tmp_path / "imgs")
        assert result.code == 75 and f"pid {p.pid}" in result.err
        assert len(result.err_lines) == 1
    finally:
        p.send_signal(signal.SIGKILL)
        p.wait()
    lock = ProjectLock.acquire(proj)  # the kernel dropped the dead holder's lock
    try:
        assert lock.recovered is not None and lock.recovered.pid == p.pid
    finally:
        lock.release()
    check_project(proj)


def test_read_only_commands_cooperate_with_a_writing_session(tmp_path):
    """The GUI (an annotation session saving edits) is open; status, models and export
    run beside it, writers are refused; afterwards every logged edit is on disk."""
    proj = make_project(tmp_path, n_images=3, size=32, labelled=3)
    assert cli("train", proj, *TRAIN).code == 0
    log = tmp_path / "edits.jsonl"
    p = _start_holder(proj, log, 300)  # until the test says stop (below)
    try:
        for _ in range(LOOPS):
            assert cli("status", proj).code == 0
            assert cli("models", proj).code == 0
            out = tmp_path / f"export{time.monotonic_ns()}"
            r = cli("export", proj, out, "--format", "masks", "--include", "all")
            assert r.code == 0, r.err
            for argv in (
                ("add", proj, tmp_path / "imgs"),
                ("import", proj, out, "--format", "masks"),
                ("models", proj, "--rollback", 1),
                ("train", proj, *TRAIN),
            ):
                r = cli(*argv)
                assert r.code == 75 and REFUSAL in r.err, (argv, r.err)
    finally:
        Path(str(log) + ".stop").touch()
        out_text, err = p.communicate(timeout=120)
    assert p.returncode == 0, err
    edits = [json.loads(x) for x in log.read_text().splitlines()]
    assert edits
    from annotator.storage.project import Project

    with Project.open(proj) as project:
        for image_id, y, x in edits:
            assert project.load_mask(project.image(image_id))[y, x] == 1
    check_project(proj)


PAIRS = {
    "add+add": (("add", "{p}", "{a}"), ("add", "{p}", "{b}")),
    "import+train": (("import", "{p}", "{m}", "--format", "masks"), ("train", "{p}", *TRAIN)),
    "train+train": (("train", "{p}", *TRAIN), ("train", "{p}", *TRAIN)),
    "add+status": (("add", "{p}", "{a}"), ("status", "{p}")),
    "train+export": (("train", "{p}", *TRAIN), ("export", "{p}", "{o}", "--format", "voc")),
}


@pytest.mark.parametrize("pair", sorted(PAIRS))
def test_concurrent_commands_refuse_or_cooperate(tmp_path, pair):
    for loop in range(LOOPS):
        root = tmp_path / f"loop{loop}"
        proj = make_project(root, n_images=3, size=32, labelled=3)
        a = write_cells(root / "a", 3, size=32, seed=100)
        b = write_cells(root / "b", 3, size=32, seed=200)
        masks = root / "m"
        r = cli("export", proj, masks, "--format", "masks")
        assert r.code == 0, r.err
        before = check_project(proj)
        fill = {
            "{p}": proj,
            "{a}": a[0].parent,
            "{b}": b[0].parent,
            "{m}": masks,
            "{o}": root / "o",
        }
        argvs = [[fill.get(x, x) for x in argv] for argv in PAIRS[pair]]
        procs = [_spawn(*argvs[0])]
        time.sleep(0.05 * loop)  # vary the overlap
        procs.append(_spawn(*argvs[1]))
        codes = [_outcome(p)[0] for p in procs]
        after = check_project(proj)
        adds = sum(1 for argv, c in zip(argvs, codes) if argv[0] == "add" and c == 0)
        assert after["images"] == before["images"] + 3 * adds
        trains = sum(1 for argv, c in zip(argvs, codes) if argv[0] == "train" and c == 0)
        assert after["models"] == before["models"] + trains
        if pair in ("add+status", "train+export"):
            assert codes[1] == 0, "a read-only command must run beside a writer"


def test_torchrun_helper_ranks_read_beside_rank_zero(tmp_path, monkeypatch):
    """Under torchrun rank 0 holds the lock; ranks 1.. open the project without it."""
    from annotator.storage.project import Project

    proj = make_project(tmp_path, n_images=1)
    p = _start_holder(proj, tmp_path / "log", 30)
    try:
        monkeypatch.setenv("WORLD_SIZE", "2")  # RANK alone is no torchrun (a leftover)
        monkeypatch.setenv("RANK", "1")
        with Project.open(proj) as project:
            assert len(project.images()) == 1
        monkeypatch.setenv("RANK", "0")
        with pytest.raises(ProjectLocked):
            Project.open(proj)
    finally:
        p.send_signal(signal.SIGKILL)
        p.wait()
