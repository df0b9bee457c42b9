"""A proposal stored for the active version shows without loading the model.

Reopening a project whose proposals are on disk showed "Proposing for cells_04.png…" for
11-12 s on a loaded machine: the worker loaded the model (torch imported, network built)
before it read the stored proposal, only to check the version still fits the classes.
The version's card says that without torch.
"""

from __future__ import annotations

import pytest
from modelhelpers import ranked_project

from annotator.core.errors import ModelError
from annotator.services import proposals
from annotator.services.jobs import call_directly
from annotator.services.proposals import ProposalEvents, ProposalRequest, ProposalWorker
from annotator.storage.project import Project


@pytest.fixture
def project(tmp_path):
    p = Project.open(ranked_project(tmp_path, 4))
    proposals.predict_images(p, device="cpu")  # every image's proposal stored for v1
    yield p
    p.close()


def _worker(project, loads, shown, errors):
    real = proposals.load_predictor

    def counted(*args, **kwargs):
        loads.append(kwargs.get("version"))
        return real(*args, **kwargs)

    events = ProposalEvents(
        on_proposal=lambda _request, proposal: shown.append(proposal),
        on_scores=lambda _request, _scores: None,
        on_idle=lambda _request: None,
        on_error=lambda _request, exc: errors.append(exc),
    )
    return ProposalWorker(project, call_directly, events, lambda: ("cpu", 1)), counted


def test_stored_proposals_show_and_rank_without_loading_the_model(project, monkeypatch):
    loads, shown, errors = [], [], []
    worker, counted = _worker(project, loads, shown, errors)
    monkeypatch.setattr(proposals, "load_predictor", counted)
    ids = [r.id for r in project.images()]
    try:
        worker.submit(ProposalRequest(1, ids[3], None, lambda: ids[2:3]))
        assert worker.wait_idle(30)
    finally:
        worker.shutdown(10)
    assert not errors and [p.model_version for p in shown] == [1]
    assert loads == []  # every proposal asked for was stored: no model loaded
    assert worker.scores_by(1).keys() == {ids[3], ids[2]}


def test_a_missing_proposal_still_loads_the_model(project, monkeypatch):
    loads, shown, errors = [], [], []
    worker, counted = _worker(project, loads, shown, errors)
    monkeypatch.setattr(proposals, "load_predictor", counted)
    ids = [r.id for r in project.images()]
    for path in (project.root / "proposals").glob(f"{ids[3]}_*"):
        path.unlink()
    (project.root / "proposals" / f"{ids[3]}.json").unlink()
    try:
        worker.submit(ProposalRequest(1, ids[3], None, lambda: []))
        assert worker.wait_idle(60)
    finally:
        worker.shutdown(10)
    assert not errors and len(shown) == 1 and loads == [1]


def test_a_stored_proposal_of_a_version_that_no_longer_fits_is_not_shown(project, monkeypatch):
    loads, shown, errors = [], [], []
    worker, counted = _worker(project, loads, shown, errors)
    monkeypatch.setattr(proposals, "load_predictor", counted)
    project.set_schema(project.schema.renamed(1, "cell body"))  # its outputs meant "cell"
    ids = [r.id for r in project.images()]
    try:
        worker.submit(ProposalRequest(1, ids[3], None, lambda: []))
        assert worker.wait_idle(30)
    finally:
        worker.shutdown(10)
    assert shown == [] and len(errors) == 1 and isinstance(errors[0], ModelError)
    assert "cell body" in str(errors[0])
