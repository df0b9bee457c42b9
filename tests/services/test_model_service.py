"""The model service without Qt: rounds, follow-ups, proposals, stale results, accept."""

from __future__ import annotations

import dataclasses
import threading

import cv2
import numpy as np
import pytest
from modelhelpers import tiny_settings

from annotator.core.errors import ModelError, NothingLabelled
from annotator.core.labelmap import LabelMap
from annotator.core.proposal import Proposal
from annotator.core.schema import LabelSchema
from annotator.core.status import ImageStatus
from annotator.core.synthetic import SYNTHETIC_CLASSES, synthetic_cells
from annotator.services.jobs import call_directly
from annotator.services.model_service import (
    ModelListener,
    ModelService,
    ModelSettings,
    load_settings,
)
from annotator.storage.project import Project

SIZE = 64
TINY = tiny_settings(steps=12)  # (keeping on off: these count rounds)


def scribbled_project(root, n_images=4) -> Project:
    """Synthetic cells; the first image has a few scribbles of every class, marked done."""
    project = Project.create(root, LabelSchema.from_names(list(SYNTHETIC_CLASSES)))
    folder = root / "images"
    folder.mkdir()
    for i in range(n_images):
        image, _ = synthetic_cells(seed=i, size=SIZE, n_cells=3)
        cv2.imwrite(str(folder / f"cells_{i}.png"), image)
    project.add_images([folder])
    first = project.images()[0]
    _, truth = synthetic_cells(seed=0, size=SIZE, n_cells=3)
    lm = LabelMap.blank(project.schema, SIZE, SIZE)
    rng = np.random.default_rng(0)
    for c in range(3):
        ys, xs = np.nonzero(truth == c)
        pick = rng.choice(len(ys), size=min(40, len(ys)), replace=False)
        scribble = np.zeros_like(truth, bool)
        scribble[ys[pick], xs[pick]] = True
        lm.assign(np.uint8(c), scribble)
    project.save_mask(first.id, lm.array, status=ImageStatus.DONE)
    return project


class Recorder:
    """Collects every event of a service."""

    def __init__(self) -> None:
        self.proposals: list[tuple[int, int, Proposal]] = []
        self.scores: dict[int, float] = {}
        self.rounds: list = []
        self.versions: list = []
        self.errors: list[tuple[str, BaseException]] = []
        self.progress: list = []
        self.started = 0
        self.first_progress = threading.Event()

    def listener(self) -> ModelListener:
        def progress(p):
            self.progress.append(p)
            self.first_progress.set()

        return ModelListener(
            on_proposal=lambda i, v, p: self.proposals.append((i, v, p)),
            on_scores=self.scores.update,
            on_round_started=lambda: setattr(self, "started", self.started + 1),
            on_progress=progress,
            on_round_finished=self.rounds.append,
            on_version_changed=self.versions.append,
            on_error=lambda what, exc: self.errors.append((what, exc)),
        )


@pytest.fixture
def project(tmp_path):
    p = scribbled_project(tmp_path / "proj")
    yield p
    p.close()


@pytest.fixture
def make_service(project):
    made = []

    def make(settings=TINY, dispatcher=call_directly):
        rec = Recorder()
        service = ModelService(project, dispatcher, rec.listener(), settings)
        made.append(service)
        return service, rec

    yield make
    for s in made:
        s.shutdown(10)


def test_first_round_trains_from_scratch_and_proposals_follow_for_the_shown_image(
    project, make_service
):
    service, rec = make_service()
    second = project.images()[1].id
    service.show_image(second)
    assert service.active_version is None and not rec.proposals  # no model: nothing to show
    assert service.train_now() == "started"
    assert service.wait_training(60)
    assert service.wait_proposals(60)
    assert [r.status for r in rec.rounds] == ["published"]
    assert rec.rounds[0].model.card.training.from_scratch is True
    assert [v.version for v in rec.versions] == [1] and service.active_version == 1
    assert rec.progress and rec.progress[-1].step <= TINY.steps
    image_id, version, proposal = rec.proposals[-1]
    assert (image_id, version) == (second, 1)
    assert proposal.shape == (SIZE, SIZE) and proposal.mask.max() < 3
    # every image still to label got a score, stored for the strategy
    not_done = {r.id for r in project.images() if r.status is not ImageStatus.DONE}
    assert set(rec.scores) == not_done
    assert all(project.image(i).score == pytest.approx(rec.scores[i]) for i in not_done)
    assert rec.errors == []


def test_marking_done_during_a_round_queues_exactly_one_follow_up(project, make_service):
    service, rec = make_service()
    assert service.train_now() == "started"
    assert service.image_done() == "queued"
    assert service.train_now() == "queued"  # still one follow-up, not two
    assert service.follow_up_queued
    assert service.wait_training(60)  # the first round; its end starts the follow-up
    assert service.wait_training(60)
    assert service.rounds_started == 2 and rec.started == 2
    assert [r.model.version for r in rec.rounds] == [1, 2]
    assert rec.rounds[1].model.parent == 1  # the follow-up continued from v1


def test_cancel_stops_the_round_and_keeps_the_version(project, make_service):
    service, rec = make_service(
        ModelSettings(**{**TINY.to_dict(), "steps": None, "seconds": 120.0})
    )
    service.train_now()
    assert rec.first_progress.wait(60)
    service.cancel_training()
    assert service.wait_training(30)
    assert [r.status for r in rec.rounds] == ["cancelled"]
    assert service.active_version is None and project.models() == []
    assert rec.errors == []


def test_cancel_during_the_files_write_publishes_nothing(project, make_service, monkeypatch):
    """Cancel clicked while the version's files were written (after the ONNX export) was
    ignored: the round published, and the panel said so as if nobody had cancelled."""
    import os

    import annotator.storage.models as model_store

    service, rec = make_service()
    real = model_store.write_synced

    def write(path, data):
        real(path, data)
        if os.path.basename(path) == model_store.CARD_NAME:
            service.cancel_training()

    monkeypatch.setattr(model_store, "write_synced", write)
    service.train_now()
    assert service.wait_training(60)
    assert [(r.status, r.message) for r in rec.rounds] == [
        ("cancelled", "cancelled: the model version is unchanged")
    ]
    assert service.active_version is None and project.models() == []
    assert not any((project.root / "models").iterdir())  # no folder, no staging folder
    assert rec.errors == []


def test_a_cancel_after_the_record_says_the_version_was_published(
    project, make_service, monkeypatch
):
    service, rec = make_service()
    real = Project.register_model

    def record(self, *args, **kwargs):
        service.cancel_training()  # too late: the version is being recorded
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Project, "register_model", record)
    service.train_now()
    assert service.wait_training(60)
    (done,) = rec.rounds
    assert done.status == "published" and done.model.version == 1
    assert done.message.endswith("; the cancel came after it was published")
    assert [m.version for m in project.models()] == [1]


def test_an_error_in_a_round_reaches_the_listener(project, make_service):
    service, rec = make_service(ModelSettings(**{**TINY.to_dict(), "device": "no-such-device"}))
    service.train_now()
    assert service.wait_training(30)
    assert [r.status for r in rec.rounds] == ["failed"]
    ((what, exc),) = rec.errors
    assert what == "training" and "no-such-device" in str(exc)


def test_training_without_labels_says_what_to_do(tmp_path):
    with Project.create(tmp_path / "p", LabelSchema.from_names(["a", "b"])) as empty:
        service = ModelService(empty, call_directly, settings=TINY)
        with pytest.raises(NothingLabelled, match="paint a few strokes of each class"):
            service.train_now()
        service.shutdown()


def test_stale_proposals_are_dropped(project, make_service):
    queue: list = []
    service, rec = make_service(dispatcher=queue.append)  # callbacks wait until pumped

    def pump():
        while queue:
            queue.pop(0)()

    service.train_now()
    assert service.wait_training(60)
    pump()
    assert service.active_version == 1
    a, b = project.images()[1].id, project.images()[2].id
    service.show_image(a)
    assert service.wait_proposals(60)
    service.show_image(b)  # the user moved on before a's proposal arrived
    assert service.wait_proposals(60)
    pump()
    assert [(i, v) for i, v, _ in rec.proposals] == [(b, 1)]
    assert service.dropped >= 1  # a's (and the first request made at publish time)
    # a proposal of an older version is dropped too
    dropped = service.dropped
    service.show_image(a)
    assert service.wait_proposals(60)
    # as if v2 had just been published
    service._active_record = dataclasses.replace(service._active_record, version=2)
    pump()
    assert service.dropped == dropped + 1
    assert [(i, v) for i, v, _ in rec.proposals] == [(b, 1)]


def test_showing_an_image_leaves_the_ranking_to_the_worker(project, make_service, monkeypatch):
    """Ranking reads every image's score (it read their records: 0.1 s at 10,000
    images); the window paid it at every image it opened. Only the worker thread reads
    them now."""
    service, rec = make_service()
    service.train_now()
    assert service.wait_training(60) and service.wait_proposals(60)
    second = project.images()[1].id
    readers = []
    real = type(project).image_scores

    def image_scores(self, *args, **kwargs):
        readers.append(threading.current_thread())
        return real(self, *args, **kwargs)

    monkeypatch.setattr(type(project), "image_scores", image_scores)
    service.show_image(second)
    assert threading.main_thread() not in readers  # show_image itself read none
    assert service.wait_proposals(60)
    assert readers and threading.main_thread() not in readers
    assert rec.proposals[-1][0] == second


def test_next_suggested_is_the_most_uncertain_image_not_done(project, make_service):
    service, _ = make_service()
    records = project.images()
    project.set_scores({records[1].id: 0.2, records[2].id: 0.9, records[3].id: 0.5})
    assert service.next_suggested().id == records[2].id
    service.show_image(records[2].id)
    assert service.next_suggested().id == records[3].id  # never the image on screen
    # in the order added: the next after the image shown, round to the first (it went
    # back to the first image not done, so N went back and forth between two)
    service.update_settings(strategy="in-order")
    assert service.next_suggested().id == records[3].id
    service.show_image(records[3].id)
    assert service.next_suggested().id == records[1].id


def test_next_walks_down_the_ranking_instead_of_back_and_forth(project, make_service):
    """N from the most uncertain image opened the second, and N there the first again
    (each is "the first but the one shown"): an image N left is not suggested again
    while the ranking stands; after every image was passed, N starts from the first."""
    service, _ = make_service()
    records = [r for r in project.images() if r.status.value != "done"]
    assert len(records) >= 3
    scores = {r.id: 0.9 - 0.1 * i for i, r in enumerate(records)}
    project.set_scores(scores)
    service.show_image(records[0].id)
    seen = []
    for _ in range(len(records)):
        service.pass_over_shown()
        nxt = service.next_suggested()
        seen.append(nxt.id)
        service.show_image(nxt.id)
    assert seen == [r.id for r in records[1:]] + [records[0].id]
    service.update_settings(strategy="random")  # another ranking: nothing passed in it
    service.show_image(records[0].id)
    firsts = {service.next_suggested().id}
    service.pass_over_shown()
    service.show_image(service.next_suggested().id)
    service.pass_over_shown()
    firsts.add(service.next_suggested().id)
    assert len(firsts | {records[0].id}) == 3


def test_next_suggested_without_a_model_walks_on_in_the_order_added(project, make_service):
    service, _ = make_service()
    records = [r for r in project.images() if r.status.value != "done"]
    assert len(records) >= 3
    seen = []
    service.show_image(records[0].id)
    for _ in range(len(records)):
        nxt = service.next_suggested()
        seen.append(nxt.id)
        service.show_image(nxt.id)
    assert seen == [r.id for r in records[1:]] + [records[0].id]


def test_settings_are_stored_in_the_project(project, make_service):
    service, _ = make_service()
    service.update_settings(seconds=7.5, idle_retrain_s=30)
    stored = load_settings(project)
    assert stored.seconds == 7.5 and stored.idle_retrain_s == 30 and stored.depth == 2


def test_shutdown_during_a_round_cancels_and_joins(project, make_service):
    service, rec = make_service(
        ModelSettings(**{**TINY.to_dict(), "steps": None, "seconds": 120.0})
    )
    service.train_now()
    assert rec.first_progress.wait(60)
    assert service.shutdown(20) is True
    assert not service.training and project.models() == []
    assert rec.rounds == []  # events after shutdown are not delivered


def test_after_a_class_changes_meaning_a_round_fails_clearly_and_from_scratch_recovers(
    project, make_service
):
    service, rec = make_service()
    service.train_now()
    assert service.wait_training(60)
    project.set_schema(project.schema.renamed(2, "debris"))
    service.train_now()
    assert service.wait_training(60)
    assert rec.errors and "from-scratch" in str(rec.errors[-1][1])
    assert service.train_now(from_scratch=True) == "started"
    assert service.wait_training(60)
    assert rec.rounds[-1].model.card.training.from_scratch is True
    assert rec.rounds[-1].model.card.classes[2] == "debris"


def _v1_shown_on_the_second_image(project, make_service):
    """A service whose first round published v1, with v1's proposal of image 2 shown."""
    service, rec = make_service()
    second = project.images()[1].id
    service.show_image(second)
    service.train_now()
    assert service.wait_training(60) and service.wait_proposals(60)
    return service, rec, second


def test_a_stored_proposal_of_a_version_whose_class_changed_meaning_is_not_shown(
    project, make_service
):
    _service, rec, second = _v1_shown_on_the_second_image(project, make_service)
    assert rec.proposals and not rec.errors  # stored for v1 now
    project.set_schema(project.schema.renamed(2, "debris"))
    shown = len(rec.proposals)
    again, rec2 = make_service()  # as the window does when the project is opened again
    again.show_image(second)
    assert again.wait_proposals(60)
    assert len(rec2.proposals) == 0 and rec2.errors  # said, not shown as "debris"
    assert len(rec.proposals) == shown


def test_a_big_shown_image_reports_its_proposal_tile_by_tile(
    project, make_service, tmp_path, monkeypatch
):
    import annotator.services.proposals as proposals_module

    monkeypatch.setattr(proposals_module, "PROGRESS_EVERY_S", 0.0)  # every tile
    image, _ = synthetic_cells(seed=9, size=1100, n_cells=40)
    folder = tmp_path / "big"
    folder.mkdir()
    cv2.imwrite(str(folder / "big.png"), image)
    project.add_images([folder])
    big = project.images()[-1].id
    service, rec = make_service()
    seen = []
    service.listener = ModelListener(
        on_proposal=lambda i, v, p: rec.proposals.append((i, v, p)),
        on_proposal_progress=lambda i, done, total: seen.append((i, done, total)),
    )
    assert service.train_now() == "started" and service.wait_training(60)
    service.show_image(big)
    assert service.wait_proposals(60)
    assert [p[0] for p in rec.proposals][-1] == big
    assert seen, "no progress for a proposal of several tiles"
    totals = {t for _, _, t in seen}
    assert {i for i, _, _ in seen} == {big} and len(totals) == 1 and totals.pop() > 1
    dones = [d for _, d, _ in seen]
    assert dones == sorted(dones) and dones[-1] < seen[0][2]  # the end is the proposal


# --- what the user does while a round runs (audit of 2026-11-30) -----------------------------
def _held_round(monkeypatch):
    """Hold every round once it has read the labels, before it trains, until the
    returned event is set (what the user does meanwhile happens during the round)."""
    import annotator.ml.train as train_module

    release, real = threading.Event(), train_module.train_round
    held_now = threading.Semaphore(0)

    def held(*args, **kwargs):
        held_now.release()
        assert release.wait(30)
        return real(*args, **kwargs)

    monkeypatch.setattr(train_module, "train_round", held)
    release.held = lambda: held_now.acquire(timeout=30)  # wait until a round is held
    return release


def test_train_from_scratch_asked_during_a_round_is_queued_as_such(
    project, make_service, monkeypatch
):
    release = _held_round(monkeypatch)
    service, rec = make_service()
    assert service.train_now() == "started"
    assert service.train_now(from_scratch=True, arch="unet") == "queued"
    assert service.train_now() == "queued"  # a plain request does not downgrade it
    release.set()
    assert service.wait_training(60) and service.wait_training(60)
    second = rec.rounds[1].model
    assert second.card.training.from_scratch is True and second.parent is None
    assert second.card.architecture["arch"] == "unet"


def test_a_queued_round_saves_the_labels_in_memory_before_reading_them(
    project, make_service, monkeypatch
):
    release = _held_round(monkeypatch)
    service, rec = make_service()
    saves = []
    service.listener = ModelListener(
        on_round_finished=rec.rounds.append, save_labels=lambda: saves.append("saved")
    )
    assert service.train_now() == "started" and saves == ["saved"]
    assert service.train_now() == "queued" and saves == ["saved"]
    release.set()
    assert service.wait_training(60) and service.wait_training(60)
    assert saves == ["saved", "saved"]  # the follow-up saved before it read


def test_a_rollback_during_a_round_stays_active(project, make_service, monkeypatch):
    service, rec = make_service()
    service.train_now()
    assert service.wait_training(60)
    service.train_now()
    assert service.wait_training(60)  # v1, v2; v2 active
    release = _held_round(monkeypatch)
    service.train_now()  # from v2
    assert release.held()
    service.rollback(1)
    release.set()
    assert service.wait_training(60)
    assert [m.version for m in project.models()] == [1, 2, 3]
    assert project.active_model().version == 1 and service.active_version == 1
    assert rec.rounds[-1].status == "published"
    assert "v1 stays active" in rec.rounds[-1].message


def test_a_class_renamed_during_a_round_is_not_published_under_the_new_name(
    project, make_service, monkeypatch
):
    release = _held_round(monkeypatch)
    service, rec = make_service()
    service.train_now()
    assert release.held()
    project.set_schema(project.schema.renamed(2, "debris"))
    release.set()
    assert service.wait_training(60)
    assert project.models() == [] and service.active_version is None
    assert rec.rounds[-1].status == "failed"
    assert "the classes changed while model v1 was made" in rec.rounds[-1].message


def test_classes_added_during_a_round_still_publish(project, make_service, monkeypatch):
    release = _held_round(monkeypatch)
    service, rec = make_service()
    service.train_now()
    assert release.held()
    project.set_schema(project.schema.with_class("debris"))
    release.set()
    assert service.wait_training(60)
    assert rec.rounds[-1].status == "published" and service.active_version == 1


def test_a_renamed_class_stops_the_proposals_of_the_version_that_no_longer_fits(
    project, make_service
):
    service, rec, _second = _v1_shown_on_the_second_image(project, make_service)
    shown = len(rec.proposals)
    project.set_schema(project.schema.renamed(2, "debris"))
    service.classes_renamed()  # as the window does after a rename
    assert service.wait_proposals(60)
    assert len(rec.proposals) == shown  # the cached predictor is checked again
    assert rec.errors and "debris" in str(rec.errors[-1][1])


def test_marking_done_in_a_project_the_model_cannot_train_starts_no_round(tmp_path):
    from annotator.core.schema import LabelSchema as Schema

    project = Project.create(tmp_path / "many", Schema.from_names([f"c{i}" for i in range(300)]))
    rec = Recorder()
    service = ModelService(project, call_directly, rec.listener(), TINY)
    try:
        assert service.image_done() is None and rec.started == 0
        with pytest.raises(ModelError, match="at most 254 classes"):
            service.train_now()
    finally:
        service.shutdown(10)
        project.close()
