"""The score that ranks "label next" summarises the model's doubt where nobody has
labelled yet: the pixels a user labelled (or painted void) are the user's, and the
model's doubt there is no reason to label the image. An image labelled all over
scores 0; a new image (nothing labelled) scores as before, over every pixel."""

from __future__ import annotations

import numpy as np
import pytest
from modelhelpers import ranked_project

from annotator.core.proposal import image_score
from annotator.services import proposals
from annotator.services.jobs import call_directly
from annotator.services.proposals import ProposalEvents, ProposalRequest, ProposalWorker
from annotator.storage import proposals as proposal_store
from annotator.storage.project import Project


@pytest.fixture
def project(tmp_path):
    p = Project.open(ranked_project(tmp_path, 5))  # cells_00, 01 done; 02-04 new
    yield p
    p.close()


def _whole(project, record):
    """The proposal of the image with the score of every pixel (the model's own)."""
    predictor = proposals.load_predictor(project, device="cpu")
    return predictor.predict(project.load_image(record), keep_probabilities=False)


def _label(project, record, whole, share):
    """Label the image's most doubtful ``share`` of pixels (the worst tenth as void),
    as a user correcting a proposal where it is wrong would; returns the unlabelled map."""
    u = whole.uncertainty
    order = np.argsort(u, axis=None)[::-1]
    n = int(round(share * u.size))
    mask = np.full(u.shape, project.schema.unlabelled, np.uint8)
    mask.flat[order[:n]] = whole.mask.flat[order[:n]]
    mask.flat[order[: n // 10]] = project.schema.void
    project.save_mask(record.id, mask)
    return mask == project.schema.unlabelled


def test_partly_labelled_images_score_their_unlabelled_pixels_only(project):
    partly, full, new = project.images()[2:5]
    whole_partly, whole_full, whole_new = (_whole(project, r) for r in (partly, full, new))
    unlabelled = _label(project, partly, whole_partly, 0.2)
    _label(project, full, whole_full, 1.0)
    made = {
        p.image_id: p.score
        for p in proposals.predict_images(project, [partly, full, new], device="cpu")
    }
    expected = image_score(whole_partly.uncertainty, unlabelled)
    assert made[partly.id] == expected < whole_partly.score
    assert made[full.id] == 0.0  # nothing left to label
    assert made[new.id] == whole_new.score  # bit for bit: nothing labelled, every pixel
    # The score the project holds, and the stored proposal's, are those.
    assert {r.id: r.score for r in project.images()}[partly.id] == expected
    assert proposal_store.version_and_score(project, partly.id) == (1, expected)


def test_the_proposal_worker_scores_the_same_way(project):
    partly, full, new = project.images()[2:5]
    whole = {r.id: _whole(project, r) for r in (partly, full, new)}
    unlabelled = _label(project, partly, whole[partly.id], 0.3)
    _label(project, full, whole[full.id], 1.0)
    shown, scores, errors = [], {}, []
    events = ProposalEvents(
        on_proposal=lambda _request, proposal: shown.append(proposal),
        on_scores=lambda _request, made: scores.update(made),
        on_idle=lambda _request: None,
        on_error=lambda _request, exc: errors.append(exc),
    )
    worker = ProposalWorker(project, call_directly, events, lambda: ("cpu", 1))
    try:
        worker.submit(ProposalRequest(1, partly.id, None, lambda: [full.id, new.id]))
        assert worker.wait_idle(60)
    finally:
        worker.shutdown(10)
    assert not errors
    expected = image_score(whole[partly.id].uncertainty, unlabelled)
    assert shown[0].score == scores[partly.id] == expected < whole[partly.id].score
    assert scores[full.id] == 0.0
    assert scores[new.id] == whole[new.id].score


def test_the_score_of_a_map_with_every_pixel_unlabelled_is_the_whole_images():
    rng = np.random.default_rng(0)
    u = rng.random((300, 200)).astype(np.float32)
    everywhere = np.ones(u.shape, bool)
    assert image_score(u, everywhere) == image_score(u)
    assert image_score(u, np.zeros(u.shape, bool)) == 0.0
    some = np.zeros(u.shape, bool)
    some[:10] = True  # the top decile of those pixels only
    top = np.sort(u[:10].ravel())[-200:]
    assert image_score(u, some) == pytest.approx(float(top.mean()), rel=1e-6)


def test_pixels_without_a_value_count_no_more_than_labelled_ones(project):
    """A partly labelled picture with nodata pixels (no class, uncertainty 0: ADR 0029):
    the score is over the pixels that have a value and nobody has labelled."""
    from dataclasses import replace

    from annotator.core.proposal import NO_CLASS

    record = project.images()[2]
    whole = _whole(project, record)
    unlabelled = _label(project, record, whole, 0.2)
    mask, uncertainty = whole.mask.copy(), whole.uncertainty.copy()
    mask[:, : mask.shape[1] // 3] = NO_CLASS  # a third of the picture has no value
    uncertainty[:, : mask.shape[1] // 3] = 0
    nodata = replace(whole, mask=mask, uncertainty=uncertainty)
    scored = proposals._scored_where_unlabelled(project, record, nodata)
    counted = unlabelled & (mask != NO_CLASS)
    assert scored.score == image_score(uncertainty, counted) > image_score(uncertainty, unlabelled)
