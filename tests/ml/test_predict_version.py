"""``annotator predict --version N`` (a kept version's proposals, stored as its own) and
``train --json``'s ``parent`` of a round that published nothing."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from conftest import make_cells_project

import annotator.ml.train as ml_train
from annotator.cli import main
from annotator.core.labelmap import LabelMap
from annotator.services.document import Document
from annotator.storage import models as model_store
from annotator.storage import proposals as proposal_store
from annotator.storage.project import Project

TINY_TRAIN = ["--steps", "1", "--device", "cpu", "--depth", "2", "--width", "8"]


@pytest.fixture
def root(tmp_path, capsys):
    """A cells project with versions v1 and v2 (v2 active)."""
    make_cells_project(tmp_path / "project").close()
    root = tmp_path / "project"
    for _ in range(2):
        assert main(["train", str(root), *TINY_TRAIN]) == 0
    capsys.readouterr()
    return root


def test_predict_version_stores_that_versions_proposals_and_accept_names_it(root, capsys):
    assert main(["predict", str(root), "--version", "v1", "--device", "cpu"]) == 0
    assert "wrote 4 proposal(s) from model v1" in capsys.readouterr().out
    with Project.open(root) as p:
        assert p.active_model().version == 2  # (the active version is left as it was)
        record = p.images()[3]  # not labelled
        proposal = proposal_store.load_proposal(p, record)
        assert proposal is not None and proposal.model_version == 1
        assert proposal_store.version_and_score(p, record.id) == (1, proposal.score)
        blank = LabelMap.blank(p.schema, record.height, record.width)
        doc = Document(record, p.load_image(record), blank)
        assert doc.accept(proposal)
        assert doc.label_source == "proposal:v1+user"
        assert np.array_equal(doc.label_map.array, proposal.mask)
    assert main(["predict", str(root), "--device", "cpu"]) == 0  # the active one again
    assert "from model v2" in capsys.readouterr().out


def test_predict_version_refuses_a_version_not_there_or_whose_files_were_removed(root, capsys):
    assert main(["predict", str(root), "--version", "7"]) == 1
    err = capsys.readouterr().err
    assert err == (
        "annotator: error: the project has no model version v7 (its versions: v1 to v2; "
        "`annotator models` lists them)\n"
    )
    with Project.open(root) as p:
        model_store.remove_version_files(p, p.model(1))  # as Kept Versions prunes it
    assert main(["predict", str(root), "--version", "1"]) == 1
    err = capsys.readouterr().err
    assert "model v1's weights are not on disk" in err and len(err.splitlines()) == 1
    with Project.open(root, lock=False) as p:  # nothing was proposed
        assert all(proposal_store.version_and_score(p, r.id) is None for r in p.images())


def test_train_json_names_the_parent_of_a_round_that_did_not_publish(root, capsys, monkeypatch):
    real = ml_train.train_round

    def diverged(request, *args, **kwargs):
        result = real(request, *args, **kwargs)
        return replace(result, status="diverged", message="the loss is not finite")

    monkeypatch.setattr(ml_train, "train_round", diverged)
    assert main(["train", str(root), *TINY_TRAIN, "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert (data["published"], data["parent"], data["status"]) == (None, 2, "diverged")
    assert main(["train", str(root), *TINY_TRAIN, "--from-scratch", "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["parent"] is None


def test_train_json_names_the_parent_of_a_round_whose_publish_failed(root, capsys, monkeypatch):
    from annotator.core.errors import ModelError
    from annotator.services import training

    def refused(*_args, **_kwargs):
        raise ModelError("the disk is full")

    monkeypatch.setattr(training, "publish", refused)
    assert main(["train", str(root), *TINY_TRAIN, "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert (data["published"], data["parent"], data["status"]) == (None, 2, "failed")
    assert data["error"] == "the disk is full"
