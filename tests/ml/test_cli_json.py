"""What scripts read: ``train --json`` (one object at the end, published or not) and
``status --images`` (every image, with its id, path, status, label source and score)."""

from __future__ import annotations

import json
import os
import signal

import pytest
from conftest import make_cells_project

import annotator.storage.models as model_store
from annotator.cli import main
from annotator.storage.project import Project

TINY_TRAIN = ["--steps", "1", "--device", "cpu", "--depth", "2", "--width", "8"]


@pytest.fixture
def root(tmp_path):
    make_cells_project(tmp_path / "project").close()
    return tmp_path / "project"


def test_train_json_prints_one_object_with_the_version_and_its_metrics(root, capsys):
    assert main(["train", str(root), *TINY_TRAIN, "--json"]) == 0
    out = capsys.readouterr().out
    data = json.loads(out)  # the whole of stdout: one object
    assert (data["published"], data["parent"], data["steps"]) == (1, None, 1)
    assert data["status"] == "finished" and data["reason"] is None
    assert data["interrupted"] is False and data["device"] == "cpu"
    with Project.open(root, lock=False) as project:
        card = project.active_model().card
    assert data["loss"] == pytest.approx(card.metrics.loss, abs=1e-4)
    assert data["metrics"]["mean_iou"] == card.metrics.mean_iou
    assert data["metrics"]["iou"] == dict(card.metrics.iou)
    assert main(["train", str(root), *TINY_TRAIN, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["parent"] == 1


def test_train_json_says_why_nothing_was_published(root, capsys, monkeypatch):
    real = model_store.write_synced

    def write(path, data):
        real(path, data)
        if os.path.basename(path) == model_store.CARD_NAME:
            signal.raise_signal(signal.SIGINT)  # Ctrl+C during the last file write

    monkeypatch.setattr(model_store, "write_synced", write)
    assert main(["train", str(root), *TINY_TRAIN, "--json"]) == 130
    out, err = capsys.readouterr()
    data = json.loads(out)
    assert data["published"] is None and data["interrupted"] is True
    assert data["reason"] == "training cancelled: the model version is unchanged"
    assert err.strip().splitlines()[-1] == f"annotator: {data['reason']}"
    assert (data["exit_code"], data["error"]) == (130, data["reason"])


def test_train_without_json_prints_what_it_printed(root, capsys):
    assert main(["train", str(root), *TINY_TRAIN]) == 0
    assert capsys.readouterr().out.startswith("published model v1 (from scratch): 1 step in")


def test_status_images_lists_every_image_for_a_script(root, capsys, tmp_path):
    with Project.open(root, lock=False) as project:
        records = project.images()
        paths = {r.id: str(project.image_path(r)) for r in records}
    os.rename(paths[records[-1].id], tmp_path / "moved.png")
    assert main(["status", str(root), "--json"]) == 0
    plain = json.loads(capsys.readouterr().out)
    assert plain["images"] == len(records) and "image_list" not in plain  # as it was
    assert main(["status", str(root), "--json", "--images"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["images"] == len(records)
    listed = data["image_list"]
    assert [i["id"] for i in listed] == [r.id for r in records]
    for item, record in zip(listed, records):
        assert item["name"] == record.name and item["path"] == paths[record.id]
        assert item["status"] == record.status.value
        assert item["label_source"] == (record.label_source or None)
        assert item["score"] == record.score
    assert [i["missing"] for i in listed] == [False] * (len(records) - 1) + [True]
    assert main(["status", str(root), "--images"]) == 0
    rows = capsys.readouterr().out.splitlines()
    table = rows[rows.index(next(r for r in rows if r.split()[:2] == ["id", "status"])) + 1 :]
    assert [r.split()[0] for r in table] == [str(r.id) for r in records]
    assert table[0].split()[1:3] == ["done", "import"]
    assert table[-1].endswith(f"{records[-1].name}  (picture missing)")


def _failed(root, capsys, *argv):
    """Exit code, the one object on stdout, and the lines on stderr of ``train --json``."""
    code = main(["train", str(root), *TINY_TRAIN, "--json", *argv])
    out, err = capsys.readouterr()
    return code, json.loads(out), err.strip().splitlines()


def _round_keys(root, capsys):
    assert main(["train", str(root), *TINY_TRAIN, "--json"]) == 0
    return set(json.loads(capsys.readouterr().out))


def test_train_json_says_why_a_round_that_did_not_start_failed(tmp_path, capsys):
    """A round refused before it started (nothing labelled) printed nothing on stdout: a
    script parsing it got an empty string."""
    make_cells_project(tmp_path / "bare", n_labelled=0).close()
    code, data, err = _failed(tmp_path / "bare", capsys)
    assert code == 1
    assert err == [f"annotator: error: {data['error']}"]  # the human line stays on stderr
    assert data["error"].startswith("no labelled images")
    assert (data["status"], data["published"], data["exit_code"]) == ("failed", None, 1)
    assert data["reason"] == data["error"] and data["interrupted"] is False
    make_cells_project(tmp_path / "project").close()
    assert set(data) == _round_keys(tmp_path / "project", capsys)  # the shape of success


def test_train_json_on_a_busy_project_says_so_with_exit_code_75(root, capsys, monkeypatch):
    from annotator.storage import lock as lock_module
    from annotator.storage.lock import ProjectLock

    monkeypatch.setattr(lock_module.sys, "argv", ["/usr/bin/annotator", "train", "P"])
    other = ProjectLock._take(root.resolve())  # held as another process holds it
    try:
        code, data, err = _failed(root, capsys)
    finally:
        os.close(other._fd)
    assert code == 75 and data["exit_code"] == 75 and data["status"] == "failed"
    assert "open in another process" in data["error"] and len(err) == 1


@pytest.mark.parametrize(
    ("argv", "code", "said"),
    [
        (["--steps", "0"], 2, "argument --steps: '0' is not a whole number of 1 or more"),
        (["--seed", "-1"], 2, "argument --seed: -1 is not in 0..4294967295"),  # by argparse
        (["--stepz", "3"], 2, "unrecognized arguments: --stepz 3 (did you mean --steps?)"),
    ],
)
def test_train_json_says_a_bad_option_value(root, capsys, argv, code, said):
    if code == 2:  # argparse ends the process itself (SystemExit), after its usage
        with pytest.raises(SystemExit) as exc:
            main(["train", str(root), "--json", *argv])
        out, err = capsys.readouterr()
        assert exc.value.code == 2
        data = json.loads(out)
        assert err.strip().splitlines()[-1] == f"annotator train: error: {said}"
    else:
        got, data, err = _failed(root, capsys, *argv)
        assert got == code and err == [f"annotator: error: {said}"]
    assert (data["error"], data["exit_code"], data["status"]) == (said, code, "failed")
    assert data["published"] is None and data["reason"] == said


@pytest.mark.parametrize("published", [None, 3])
def test_train_json_says_an_interrupt_that_ended_the_command_at_once(
    root, capsys, monkeypatch, published
):
    """A second Ctrl+C (or SIGTERM) ends the round at once: it printed no object."""
    import annotator.services.training as training
    from annotator.core.errors import InterruptedAfterPublish

    def train(*_args, **_kwargs):
        signal.raise_signal(signal.SIGTERM)  # the round's cancel
        raise KeyboardInterrupt if published is None else InterruptedAfterPublish(published)

    monkeypatch.setattr(training, "train_headless", train)
    code, data, err = _failed(root, capsys)
    assert code == 143 and data["exit_code"] == 143
    assert data["status"] == "cancelled" and data["interrupted"] is True
    assert err == [f"annotator: {data['error']}"]
    if published is None:
        assert data["error"] == "interrupted by SIGTERM" == data["reason"]
        assert data["published"] is None
    else:
        assert data["error"] == "interrupted after model v3 was published by SIGTERM"
        assert (data["published"], data["reason"]) == (3, None)


def test_train_json_says_the_exit_code_of_a_round_that_ended(root, capsys):
    """Published: exit code 0 and no error; the keys are those of every other case."""
    assert main(["train", str(root), *TINY_TRAIN, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["exit_code"], data["error"], data["published"]) == (0, None, 1)
