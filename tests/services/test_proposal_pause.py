"""Proposals paused while images are removed: the worker stops at once, then ranks anew.

The proposal worker scores every image to label, one model call each (100 ms and more
per image on a CPU), so a ranking of a big project runs for minutes. Removing images
used to wait for that ranking to end (or 30 s). Here a real tiny model is trained and
each model call is made to take as long as a real one on a CPU (a sleep that, like a
model call, does not look at the cancel token).
"""

from __future__ import annotations

import threading
import time

import pytest
from modelhelpers import ranked_project, slow_model_calls, wait_until

from annotator.core.status import ImageStatus
from annotator.services.jobs import call_directly
from annotator.services.model_service import ModelListener, ModelService, ModelSettings
from annotator.services.projects import remove_images
from annotator.services.proposals import ProposalEvents, ProposalWorker
from annotator.storage.project import Project

N_IMAGES = 30
MODEL_CALL_S = 0.2  # one model call on a CPU, about
SETTINGS = ModelSettings(device="cpu", threads=1)


@pytest.fixture
def project(tmp_path):
    p = Project.open(ranked_project(tmp_path, N_IMAGES))
    yield p
    p.close()


@pytest.fixture
def slow_model(monkeypatch):
    """Every model call takes ``delay[0]`` seconds more (0 to let the ranking run)."""
    return slow_model_calls(monkeypatch, MODEL_CALL_S)


def _files_of(project, image_ids) -> list[str]:
    """The project's proposal files of these images (``<id>_v<N>.png``, ``<id>.json``)."""
    heads = {str(i) for i in image_ids}
    return [
        p.name
        for p in (project.root / "proposals").glob("*")
        if p.name.split(".", 1)[0].split("_", 1)[0] in heads
    ]


def test_a_pause_stops_the_ranking_at_once_and_the_resume_ranks_the_images_left(
    project, slow_model
):
    scores: list[dict[int, float]] = []
    shown: list[int] = []
    errors: list[BaseException] = []
    service = ModelService(
        project,
        call_directly,
        ModelListener(
            on_proposal=lambda image_id, _v, _p: shown.append(image_id),
            on_scores=scores.append,
            on_error=lambda _what, exc: errors.append(exc),
        ),
        SETTINGS,
    )
    try:
        ids = [r.id for r in project.images()]
        service.show_image(ids[2])
        assert wait_until(lambda: service.ranking().scored >= 3, 30), service.ranking()
        began = time.monotonic()
        service.pause_proposals()
        assert service.wait_proposals(10)
        waited = time.monotonic() - began
        # The ranking had about 25 images (5 s) to go; one model call ends the wait.
        assert waited < 2, f"the pause waited {waited:.1f} s for the ranking"
        assert service.ranking().busy, "stopped, not finished: it is asked again"
        paused_at = service.ranking().scored
        service.show_image(ids[3])  # held while paused, as any other request
        service.refresh_proposals()
        time.sleep(3 * MODEL_CALL_S)
        assert service.ranking().scored == paused_at, "the worker went on while paused"
        assert shown == [ids[2]]

        ranked = {i for d in scores for i in d} - {ids[2], ids[3]}
        waiting = [i for i in ids[4:] if i not in ranked]
        gone = [min(ranked), *waiting[-2:]]  # one scored, two not yet
        remove_images(project, gone)
        scores.clear()
        slow_model[0] = 0.0
        service.resume_proposals()
        assert service.wait_proposals(60)
        to_label = [r.id for r in project.images() if r.status != ImageStatus.DONE]
        ranking = service.ranking()
        assert not ranking.busy and ranking.scored == ranking.total == len(to_label) - 1, ranking
        assert shown == [ids[2], ids[3]], "the shown image's proposal comes after the resume"
        assert {i for d in scores for i in d} == set(to_label), "every image left is ranked"
        suggestion = service.suggest()
        assert suggestion.complete and suggestion.record is not None
        assert suggestion.record.id in to_label
        assert _files_of(project, gone) == [], "a proposal of a removed image was written"
        assert errors == []
    finally:
        service.shutdown(10)


def test_a_reading_of_stored_scores_cut_short_reads_on_at_the_next_request(project, monkeypatch):
    # Every image to label gets a stored proposal of v1 first.
    service = ModelService(project, call_directly, settings=SETTINGS)
    service.show_image(None)
    assert service.wait_proposals(60) and not service.ranking().busy
    service.shutdown(10)
    to_label = {r.id for r in project.images() if r.status != ImageStatus.DONE}

    read: list[int] = []
    gate = threading.Event()
    real = ProposalWorker._stored_score

    def stored_score(self, version, image_id):
        read.append(image_id)
        if len(read) > 5:
            gate.wait(10)  # the reading is held here until cancelled
        return real(self, version, image_id)

    monkeypatch.setattr(ProposalWorker, "_stored_score", stored_score)
    stored: list[int] = []
    worker = ProposalWorker(
        project,
        call_directly,
        ProposalEvents(
            on_proposal=lambda *a: None,
            on_scores=lambda *a: None,
            on_idle=lambda *a: None,
            on_error=lambda *a: None,
            on_stored=stored.append,
        ),
        lambda: ("cpu", 1),
    )
    try:
        worker.read_stored(1)
        assert wait_until(lambda: len(read) > 5, 30)
        worker.cancel()
        gate.set()
        assert worker.wait_idle(10)
        assert stored == [], "a reading cut short does not say it is done"
        partial = worker.scores_by(1)
        assert 0 < len(partial) < len(to_label), partial
        read.clear()
        worker.read_stored(1)  # as the next request does
        assert worker.wait_idle(10)
        assert stored == [1]
        assert set(worker.scores_by(1)) == to_label
        assert not set(read) & set(partial), "what was read before is not read again"
    finally:
        worker.shutdown(10)
