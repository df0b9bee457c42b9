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
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl+C during the last file write

    monkeypatch.setattr(model_store, "write_synced", write)
    assert main(["train", str(root), *TINY_TRAIN, "--json"]) == 130
    out, err = capsys.readouterr()
    data = json.loads(out)
    assert data["published"] is None and data["interrupted"] is True
    assert data["reason"] == "training cancelled: the model version is unchanged"
    assert err.strip().splitlines()[-1] == f"annotator: {data['reason']}"


def test_train_without_json_prints_what_it_printed(root, capsys):
    assert main(["train", str(root), *TINY_TRAIN]) == 0
    assert capsys.readouterr().out.startswith("published model v1 (from scratch): 1 steps")


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
