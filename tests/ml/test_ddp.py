"""Scale-out: two CPU processes with gloo under torchrun end with identical weights."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import make_cells_project

from annotator.ml.checkpoint import load_checkpoint
from annotator.ml.train import evaluate
from annotator.storage import models as model_store

HERE = Path(__file__).parent
REPO = HERE.parent.parent


def _torchrun(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        *args,
    ]
    return subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240)


@pytest.mark.slow
def test_two_gloo_processes_end_with_identical_weights_and_rank0_publishes_once(tmp_path):
    make_cells_project(tmp_path / "project").close()
    out = tmp_path / "out"
    out.mkdir()
    proc = _torchrun([str(HERE / "ddp_worker.py"), str(tmp_path / "project"), str(out)], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for name in ("rank", "timed"):
        a = torch.load(out / f"{name}0.pt", weights_only=True)
        b = torch.load(out / f"{name}1.pt", weights_only=True)
        assert a.keys() == b.keys()
        for k in a:
            assert torch.equal(a[k], b[k]), f"{name}: {k} differs between ranks"
        # BatchNorm statistics moved away from their initial values, and agree too.
        assert any("running_mean" in k and a[k].abs().sum() > 0 for k in a)
    rank0 = (out / "rank0.txt").read_text().split()
    rank1 = (out / "rank1.txt").read_text().split()
    assert rank0[:3] == ["2", "4", "1"] and rank1[:3] == ["2", "4", "none"]
    assert rank0[3] == rank1[3] and int(rank0[3]) > 1  # same number of timed steps
    from annotator.storage.project import Project

    with Project.open(tmp_path / "project") as project:
        assert [m.version for m in project.models()] == [1, 2]
        assert project.model(1).card.training.world_size == 2
        assert project.model(2).parent == 1
        # Only rank 0 validates (each rank predicted every held-out tile again), and its
        # scores are a single process's on the published weights.
        with open(out / "validations1.pkl", "rb") as f:
            assert not pickle.load(f), "process 1 validated too"
        with open(out / "validations0.pkl", "rb") as f:
            validations = pickle.load(f)
        assert len(validations) == 2
        for version, (items, n_classes, weights, metrics) in zip((1, 2), validations):
            record = project.model(version)
            model = load_checkpoint(model_store.model_files(project, record).weights).build_model()
            alone = evaluate(model, torch.device("cpu"), items, n_classes, weights)
            assert alone == metrics and metrics.pixels > 0
            card = record.card.metrics
            assert card.val_pixels == metrics.pixels
            assert card.pixel_accuracy == round(metrics.pixel_accuracy, 5)


@pytest.mark.slow
def test_annotator_train_runs_under_torchrun(tmp_path):
    make_cells_project(tmp_path / "project").close()
    proc = _torchrun(
        [
            "-m",
            "annotator",
            "train",
            str(tmp_path / "project"),
            "--steps",
            "3",
            "--device",
            "cpu",
            "--depth",
            "2",
            "--width",
            "8",
        ],
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("published model v1") == 1  # rank 0 prints, rank 1 stays quiet
    assert "x2 processes" in proc.stdout


TINY_TRAIN = ["--steps", "3", "--device", "cpu", "--depth", "2", "--width", "8"]


@pytest.mark.slow
def test_rank0_failing_to_publish_is_said_once_and_the_other_rank_ends_quietly(tmp_path):
    make_cells_project(tmp_path / "project").close()
    worker = HERE / "failing_publish_worker.py"
    proc = _torchrun([str(worker), "train", str(tmp_path / "project"), *TINY_TRAIN], tmp_path)
    assert proc.returncode != 0
    assert proc.stderr.count("annotator: error: the disk is full (No space left on device)") == 1, (
        proc.stderr
    )
    assert "internal error" not in proc.stderr and "gloo" not in proc.stderr
    from annotator.storage.project import Project

    with Project.open(tmp_path / "project") as project:
        assert project.models() == []


@pytest.mark.slow
def test_commands_other_than_train_are_refused_under_torchrun(tmp_path):
    make_cells_project(tmp_path / "project").close()
    out = tmp_path / "proposals"
    proc = _torchrun(
        ["-m", "annotator", "predict", str(tmp_path / "project"), "--out", str(out)], tmp_path
    )
    assert proc.returncode != 0
    said = "annotator: error: only 'annotator train' runs under torchrun"
    assert proc.stderr.count(said) == 1, proc.stderr
    assert not out.exists()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("case", "said"),
    [
        ("no project", "annotator: error: {missing}: no such project folder"),
        ("no labels", "annotator: error: no labelled images: label some pixels"),
        ("bad option", "annotator train: error: argument --steps: '0' is not a whole number"),
        ("no device", "annotator: error: --device mps was asked for, but Apple MPS"),
    ],
)
def test_an_error_every_process_meets_is_said_once(tmp_path, case, said):
    """Each process printed it: with 2 processes the user read every error twice."""
    project = tmp_path / "project"
    make_cells_project(project, n_labelled=0 if case == "no labels" else 3).close()
    args = ["-m", "annotator", "train", str(project), *TINY_TRAIN]
    if case == "no project":
        args[3] = str(tmp_path / "missing")
    elif case == "bad option":
        args += ["--steps", "0"]
    elif case == "no device":
        args += ["--device", "mps"]
    proc = _torchrun(args, tmp_path)
    assert proc.returncode != 0
    said = said.format(missing=tmp_path / "missing")
    assert proc.stderr.count(said) == 1, proc.stderr
    mine = [
        ln for ln in proc.stderr.splitlines() if ln.startswith(("annotator:", "annotator train:"))
    ]
    assert len(mine) == 1, proc.stderr  # nothing else of Annotator's, from neither process
    assert str(REPO / "annotator") not in proc.stderr  # no traceback of Annotator's
    assert "exitcode  : 0" not in proc.stderr  # each process failed (or torchrun ended it)


@pytest.mark.slow
def test_a_failure_only_a_helper_process_meets_is_said_by_it(tmp_path):
    make_cells_project(tmp_path / "project").close()
    worker = HERE / "helper_rank_failure_worker.py"
    proc = _torchrun([str(worker), "train", str(tmp_path / "project"), *TINY_TRAIN], tmp_path)
    assert proc.returncode != 0
    said = "annotator: error: process 1 of 2: /data/cells_2.png: no such file"
    assert proc.stderr.count(said) == 1, proc.stderr
    assert [ln for ln in proc.stderr.splitlines() if ln.startswith("annotator:")] == [
        said + " (mounted on this node only?)"
    ], proc.stderr  # process 0, which read its labels, ends quietly
    from annotator.storage.project import Project

    with Project.open(tmp_path / "project") as project:
        assert project.models() == []


def test_each_failure_of_a_step_is_said_once_by_the_first_process_that_met_it():
    from annotator.core.errors import Cancelled, SaidElsewhere
    from annotator.ml.distributed import who_says

    assert who_says(1, [None, None, None]) is None
    same, other = ("no labelled images", False), ("cells_2.png: no such file", False)
    failures = [None, same, same, other]
    said = [who_says(r, failures) for r in range(4)]
    assert said[1] == "mine" and said[3] == "mine"  # two distinct failures, each once
    assert isinstance(said[0], SaidElsewhere) and isinstance(said[2], SaidElsewhere)
    assert not said[0].interrupted
    said = [who_says(r, [same, same, other, None]) for r in range(4)]
    assert said[0] == "mine" and said[2] == "mine" and isinstance(said[1], SaidElsewhere)
    # Ctrl+C: process 0 says it, whichever process noticed; every process exits 130
    cancel = ("training cancelled while reading the labels", True)
    said = [who_says(r, [None, cancel, cancel]) for r in range(3)]
    assert isinstance(said[0], Cancelled) and str(said[0]) == cancel[0]
    assert all(isinstance(s, SaidElsewhere) and s.interrupted for s in said[1:])


@pytest.mark.parametrize(("local_rank", "said"), [(1, True), (2, False)])
def test_more_processes_than_gpus_is_said_once_in_a_line(monkeypatch, local_rank, said):
    """``torchrun --nproc_per_node=3`` on a machine with one GPU: each process past the
    first failed in torch.cuda.set_device, an internal error (exit 70, crash log)."""
    from annotator.core.errors import ModelError, SaidElsewhere
    from annotator.ml import distributed

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    for name, value in (("WORLD_SIZE", 3), ("RANK", local_rank), ("LOCAL_RANK", local_rank)):
        monkeypatch.setenv(name, str(value))
    with pytest.raises(ModelError if said else SaidElsewhere) as caught:
        distributed.init_from_env("auto")
    if said:
        assert str(caught.value) == (
            "this machine has 1 GPU(s) and torchrun started more processes on it: start one "
            "per GPU (torchrun --nproc_per_node=1), or train on the CPU (--device cpu)"
        )


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_a_process_whose_partners_never_come_says_it_waits_and_stops_on_ctrl_c(tmp_path):
    """Launched by hand as rank 0 of 2 (a batch script) with the other never started: it
    waited in silence for an hour, deaf to Ctrl+C and SIGTERM (only kill -9 ended it)."""
    import signal
    import time

    make_cells_project(tmp_path / "project").close()
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": str(REPO),
        "WORLD_SIZE": "2",
        "RANK": "0",
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(_free_port()),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "annotator", "train", str(tmp_path / "project"), *TINY_TRAIN],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        import select

        assert proc.stderr is not None
        ready, _, _ = select.select([proc.stderr], [], [], 30)  # (the note: after 3 s)
        assert ready, "nothing said while waiting for the group"
        line = proc.stderr.readline()
        assert "process 0 of 2 waits for the other 1 of the group at 127.0.0.1:" in line, line
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        rest = proc.communicate(timeout=30)[1]
        assert time.monotonic() - started < 10
    finally:
        proc.kill()
    assert proc.returncode == 130
    assert "stopped while waiting for the other processes of the group" in rest
    assert "Traceback" not in rest


def test_a_group_without_its_address_is_said_in_a_line(tmp_path, monkeypatch, capsys):
    from annotator.cli import main

    make_cells_project(tmp_path / "project").close()
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    monkeypatch.delenv("MASTER_ADDR", raising=False)
    monkeypatch.delenv("MASTER_PORT", raising=False)
    assert main(["train", str(tmp_path / "project"), *TINY_TRAIN]) == 1
    err = capsys.readouterr().err
    assert "MASTER_ADDR and MASTER_PORT are not set: launch with torchrun" in err
    assert "internal error" not in err


def test_a_helper_lost_after_the_version_was_published_is_no_failure(
    tmp_path, monkeypatch, capsys, caplog
):
    """A helper process killed while rank 0 wrote the version: v1 was published and
    active, and train said it failed (``--json``: ``"published": null``)."""
    import json

    from annotator.cli import main
    from annotator.ml import distributed

    def peer_gone(*_a, **_k):
        raise RuntimeError("[pair.cc:553] Connection closed by peer [127.0.0.1]:13697")

    make_cells_project(tmp_path / "project").close()
    monkeypatch.setattr(distributed, "share_failure", peer_gone)
    assert main(["train", str(tmp_path / "project"), *TINY_TRAIN, "--json"]) == 0
    out = capsys.readouterr().out
    assert json.loads(out)["published"] == 1
    said = "model v1 is published; another process of the group stopped meanwhile"
    assert said in caplog.text
