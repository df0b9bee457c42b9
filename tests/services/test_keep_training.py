"""Keep training while the user labels: rounds on the done images between asked-for ones."""

from __future__ import annotations

import dataclasses
import threading
import time

import numpy as np
import pytest
from modelhelpers import wait_until
from test_model_service import SIZE, TINY, scribbled_project

from annotator.core.labelmap import LabelMap
from annotator.core.status import ImageStatus
from annotator.services import model_service
from annotator.services.jobs import call_directly
from annotator.services.model_service import ModelListener, ModelService
from annotator.services.training_rounds import RoundOutcome

KEEP = dataclasses.replace(TINY, keep_training=True)
SLOW_KEEP = dataclasses.replace(KEEP, steps=None, seconds=120.0)


class Rounds:
    """The rounds a service reports, and a way to wait for the n-th to end."""

    def __init__(self) -> None:
        self.ended: list[RoundOutcome] = []
        self.started = 0
        self.progress = threading.Event()
        self._cv = threading.Condition()

    def listener(self) -> ModelListener:
        def finished(outcome: RoundOutcome) -> None:
            with self._cv:
                self.ended.append(outcome)
                self._cv.notify_all()

        def started() -> None:
            self.started += 1
            self.progress.clear()

        return ModelListener(
            on_round_started=started,
            on_round_finished=finished,
            on_progress=lambda p: self.progress.set(),
        )

    def wait_ended(self, n: int, timeout: float = 60) -> bool:
        with self._cv:
            return self._cv.wait_for(lambda: len(self.ended) >= n, timeout)


@pytest.fixture
def project(tmp_path):
    p = scribbled_project(tmp_path / "proj")
    yield p
    p.close()


def in_progress_scribble(project) -> int:
    """A few labelled pixels on the second image, left in progress; its id."""
    second = project.images()[1]
    lm = LabelMap.blank(project.schema, SIZE, SIZE)
    lm.array[:4, :4] = 1
    project.save_mask(second.id, lm.array, status=ImageStatus.IN_PROGRESS)
    return second.id


def three_rounds(service: ModelService, rounds: Rounds) -> None:
    """The user labels; a round asked for, and two kept going after it; then off, and the
    service shut down."""
    try:
        service.labels_changed()
        service.train_now()
        assert rounds.wait_ended(3)
        service.update_settings(keep_training=False)
        assert service.wait_training(60)
    finally:
        service.shutdown(10)


def test_after_a_round_another_trains_on_the_done_images_while_the_user_labels(project):
    labelling = in_progress_scribble(project)
    done = {r.id for r in project.images(ImageStatus.DONE)}
    rounds = Rounds()
    service = ModelService(project, call_directly, rounds.listener(), KEEP)
    try:
        service.labels_changed()  # the user is labelling; no model yet: nothing starts
        assert rounds.started == 0
        service.train_now()  # the first round (asked for) reads the image in progress too
        assert rounds.wait_ended(3)  # ... and rounds go on after it by themselves
        service.update_settings(keep_training=False)  # (stops a round kept going)
        assert service.wait_training(60)
    finally:
        service.shutdown(10)
    first, kept = rounds.ended[0], rounds.ended[1:3]
    assert first.status == "published"
    first_seen = {ref.id for ref in first.model.card.train_images}
    first_seen |= {ref.id for ref in first.model.card.validation_images}
    assert labelling in first_seen
    for outcome in kept:
        assert outcome.status == "published", outcome.message
        # (it read "trained on, on the done images, while you label")
        assert outcome.message.endswith("; kept training on the done images while you label")
        card = outcome.model.card
        seen = {ref.id for ref in (*card.train_images, *card.validation_images)}
        assert seen == done  # the image being labelled is left out
        assert card.training.from_scratch is False  # each continues the newest version
    assert [o.model.card.parent for o in kept] == [1, 2]


def test_a_round_asked_for_stops_the_kept_round_at_once(project):
    rounds = Rounds()
    service = ModelService(project, call_directly, rounds.listener(), KEEP)
    try:
        service.labels_changed()
        service.train_now()
        assert rounds.wait_ended(1)
        service.update_settings(keep_training=False)
        assert service.wait_training(60)
        # A slow round kept going (two minutes of budget) is running...
        service.set_settings(SLOW_KEEP)
        service.labels_changed()  # resumes keeping on: the last round ended while it was off
        # (once the proposals of the newest version have ended)
        assert wait_until(lambda: service.training) and rounds.progress.wait(60)
        n = len(rounds.ended)
        started = rounds.started
        # ... when the user marks an image done: it gives way, unpublished, and the round
        # asked for starts right after it, without waiting for its budget.
        assert service.train_now() == "started"
        assert rounds.wait_ended(n + 1, timeout=30)
        gave_way = rounds.ended[n]
        assert (
            gave_way.status == "cancelled"
            and "stopped for the round you asked for" in gave_way.message
        )
        assert wait_until(lambda: rounds.started == started + 1)  # the asked-for round
        service.update_settings(keep_training=False)
        service.cancel_training()
    finally:
        service.shutdown(10)


def test_keeping_on_rests_when_nobody_labels_and_the_next_edit_resumes_it(project, monkeypatch):
    rounds = Rounds()
    monkeypatch.setattr(model_service, "KEEP_TRAINING_IDLE_S", 0.0)  # every edit is "old"
    service = ModelService(project, call_directly, rounds.listener(), KEEP)
    try:
        service.labels_changed()
        service.train_now()
        assert rounds.wait_ended(1) and service.wait_training(60)
        assert len(rounds.ended) == 1 and not service.training  # rested: no edit since
        monkeypatch.setattr(model_service, "KEEP_TRAINING_IDLE_S", 3600.0)
        service.labels_changed()  # the user is back: a round on the done images
        assert wait_until(lambda: rounds.started == 2)
        service.update_settings(keep_training=False)
        assert service.wait_training(60)
    finally:
        service.shutdown(10)


def test_off_no_round_follows_and_without_a_done_image_none_starts(project):
    rounds = Rounds()
    service = ModelService(project, call_directly, rounds.listener(), TINY)  # keeping on off
    try:
        service.labels_changed()
        service.train_now()
        assert rounds.wait_ended(1) and service.wait_training(60)
        assert rounds.started == 1
    finally:
        service.shutdown(10)
    # On: with the only done image marked in progress again, nothing is done: the
    # asked-for round trains on it, and no round follows (and no error is said).
    first = project.images(ImageStatus.DONE)[0]
    mask = project.load_mask(first)
    assert mask is not None
    project.save_mask(first.id, np.asarray(mask), status=ImageStatus.IN_PROGRESS)
    rounds = Rounds()
    errors: list = []
    listener = rounds.listener()
    listener = dataclasses.replace(listener, on_error=lambda what, exc: errors.append(exc))
    service = ModelService(project, call_directly, listener, KEEP)
    try:
        service.labels_changed()
        service.train_now()
        assert rounds.wait_ended(1) and service.wait_training(60)
        assert rounds.started == 1 and errors == []
    finally:
        service.shutdown(10)


def test_a_kept_round_starts_once_the_new_version_has_ranked_the_images(project, monkeypatch):
    from annotator.services import proposals

    load = proposals.load_predictor

    def slow_load(*args, **kwargs):  # a ranking that takes a while (a big project's)
        time.sleep(0.5)
        return load(*args, **kwargs)

    monkeypatch.setattr(proposals, "load_predictor", slow_load)
    events: list[str] = []
    rounds = Rounds()
    listener = rounds.listener()
    started, finished = listener.on_round_started, listener.on_round_finished

    def on_started() -> None:
        events.append("started")
        started()

    def on_finished(outcome: RoundOutcome) -> None:
        events.append("finished")
        finished(outcome)

    listener = dataclasses.replace(
        listener,
        on_round_started=on_started,
        on_round_finished=on_finished,
        on_proposals_idle=lambda: events.append("ranked"),
    )
    service = ModelService(project, call_directly, listener, KEEP)
    service.show_image(project.images()[2].id)  # a proposal to make, images to rank
    three_rounds(service, rounds)
    # every round after the first (kept going) started after the images were ranked by
    # the version the round before published
    starts = [i for i, e in enumerate(events) if e == "started"]
    assert len(starts) >= 3
    for before, start in zip(starts, starts[1:]):
        between = events[before:start]
        assert "finished" in between
        assert "ranked" in between[between.index("finished") :], events


def test_cancelling_while_a_kept_round_gives_way_drops_the_round_asked_for(project):
    rounds = Rounds()
    service = ModelService(project, call_directly, rounds.listener(), SLOW_KEEP)
    try:
        service.labels_changed()
        service.set_settings(TINY)  # a quick first round, then keeping on with 2 minutes
        service.train_now()
        assert rounds.wait_ended(1) and service.wait_training(60)
        service.set_settings(SLOW_KEEP)
        service.labels_changed()
        assert wait_until(lambda: service.keeping_on) and rounds.progress.wait(60)
        n = len(rounds.ended)
        assert service.train_now() == "started"  # the kept round gives way...
        service.cancel_training()  # ... and the user cancels before the new one starts
        assert rounds.wait_ended(n + 1, timeout=30) and service.wait_training(60)
        outcome = rounds.ended[n]
        assert outcome.status == "cancelled"
        assert (
            "dropped" in outcome.message
            and "stopped for the round you asked" not in outcome.message
        )
        assert not service.training and len(rounds.ended) == n + 1
    finally:
        service.shutdown(10)


def slow_kept_round(service: ModelService, rounds: Rounds) -> int:
    """A quick first round, then a slow round kept going on the done images, running;
    the number of rounds ended before it."""
    service.labels_changed()
    service.train_now()
    assert rounds.wait_ended(1) and service.wait_training(60)
    service.set_settings(SLOW_KEEP)
    service.labels_changed()  # keeping on (off during the first round) resumes
    assert wait_until(lambda: service.keeping_on) and rounds.progress.wait(60)
    return len(rounds.ended)


def test_a_kept_round_stops_for_a_change_of_what_it_reads_but_an_asked_for_one_does_not(
    project,
):
    rounds = Rounds()
    service = ModelService(project, call_directly, rounds.listener(), TINY)
    try:
        n = slow_kept_round(service, rounds)
        assert service.stop_keeping_on("the labels are being changed", timeout=30)
        assert not service.training
        assert rounds.wait_ended(n + 1)
        stopped = rounds.ended[n]
        assert stopped.status == "cancelled" and stopped.model is None
        assert (
            stopped.message == "the round on the done images stopped: the labels are being changed"
        )
        # a round the user asked for is theirs to cancel
        service.set_settings(dataclasses.replace(SLOW_KEEP, keep_training=False))
        service.train_now()
        assert rounds.progress.wait(60)
        assert not service.stop_keeping_on("the labels are being changed", timeout=1)
        assert service.training
        service.cancel_training()
    finally:
        service.shutdown(10)


def test_idle_retraining_takes_over_from_a_kept_round(project):
    """Retrain when idle trains the image in progress too: a round kept going on the done
    images gives way to it as to any round asked for."""
    labelling = in_progress_scribble(project)
    rounds = Rounds()
    service = ModelService(project, call_directly, rounds.listener(), TINY)
    try:
        n = slow_kept_round(service, rounds)  # (the labels are dirty)
        service.set_settings(dataclasses.replace(TINY, keep_training=True))
        assert service.train_if_dirty() == "started"  # the idle timer fired
        assert rounds.wait_ended(n + 2)
        gave_way, idle = rounds.ended[n], rounds.ended[n + 1]
        assert (
            gave_way.status == "cancelled"
            and "stopped for the round you asked for" in gave_way.message
        )
        assert idle.status == "published"
        card = idle.model.card
        assert labelling in {ref.id for ref in (*card.train_images, *card.validation_images)}
        service.set_settings(TINY)
        assert service.wait_training(60)
    finally:
        service.shutdown(10)


def test_keeping_on_goes_on_after_the_change_it_stopped_for(project):
    """Found by an audit: a removal, a class change or an import stopped keeping on for
    good (the box ticked, nothing trained). It goes on when the proposals resume after
    the change, if the user labelled lately; else at the next edit."""
    rounds = Rounds()
    service = ModelService(project, call_directly, rounds.listener(), TINY)
    try:
        n = slow_kept_round(service, rounds)
        service.pause_proposals()  # (as the window holds the loop during the change)
        assert service.stop_keeping_on("the images are being changed", timeout=30)
        assert rounds.wait_ended(n + 1) and not service.training
        service.resume_proposals()  # the change is over
        assert wait_until(lambda: service.keeping_on)
        assert rounds.started == n + 2  # the first round, the kept one stopped, this one
        # stopped again, with no resume of the proposals: the next edit resumes it
        assert service.stop_keeping_on("a model is being imported", timeout=30)
        assert rounds.wait_ended(n + 2) and not service.training
        service.labels_changed()
        assert wait_until(lambda: service.keeping_on)
        service.set_settings(TINY)
        assert service.wait_training(60)
    finally:
        service.shutdown(10)


def test_turning_keeping_on_off_just_after_done_keeps_the_round_asked_for(project):
    """Found by an audit: unticking the box while the kept round gave way to the round of
    an image marked done cancelled both: that image was in no version."""
    rounds = Rounds()
    service = ModelService(project, call_directly, rounds.listener(), TINY)
    try:
        n = slow_kept_round(service, rounds)
        service.set_settings(dataclasses.replace(SLOW_KEEP, steps=1, seconds=None))
        assert service.train_now() == "started"
        service.update_settings(keep_training=False)
        assert rounds.wait_ended(n + 2) and service.wait_training(60)
        assert [o.status for o in rounds.ended[n:]] == ["cancelled", "published"]
        assert "dropped" not in rounds.ended[n].message
    finally:
        service.shutdown(10)


def test_a_renamed_class_stops_the_kept_round(project):
    """It ran its whole budget and failed at publishing (the classes changed)."""
    rounds = Rounds()
    service = ModelService(project, call_directly, rounds.listener(), TINY)
    try:
        n = slow_kept_round(service, rounds)
        project.set_schema(project.schema.renamed(1, "renamed"))
        service.classes_renamed()
        assert rounds.wait_ended(n + 1, timeout=30)
        assert rounds.ended[n].status == "cancelled"
        assert rounds.ended[n].message.endswith("stopped: a class was renamed")
    finally:
        service.shutdown(10)


def test_the_no_labels_warning_of_a_kept_round_speaks_of_the_done_images():
    from annotator.services.training import unlabelled_classes_warning

    said = unlabelled_classes_warning(["a", "b"], [5, 0], done_only=True)
    assert said is not None and "no labels in the done images yet" in said
    assert "until you paint" in (unlabelled_classes_warning(["a", "b"], [5, 0]) or "")


class Deferred:
    """A dispatcher that holds the callbacks until pumped, as the window's event loop
    does: a round's thread has ended (the runner is free) before its news is told."""

    def __init__(self) -> None:
        self._calls: list = []
        self._lock = threading.Lock()

    def __call__(self, fn) -> None:
        with self._lock:
            self._calls.append(fn)

    def pump(self) -> None:
        while True:
            with self._lock:
                if not self._calls:
                    return
                fn = self._calls.pop(0)
            fn()

    def pump_until(self, condition, timeout: float = 60) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.pump()
            if condition():
                return True
            time.sleep(0.02)
        return False


def _deferred_kept_round(project, rounds: Rounds) -> tuple[ModelService, Deferred]:
    deferred = Deferred()
    service = ModelService(project, deferred, rounds.listener(), TINY)
    service.labels_changed()
    service.train_now()
    assert deferred.pump_until(lambda: len(rounds.ended) == 1 and not service.training)
    service.set_settings(SLOW_KEEP)
    service.labels_changed()
    assert deferred.pump_until(lambda: service.keeping_on and rounds.progress.is_set())
    return service, deferred


def test_keeping_on_resumed_before_the_stopped_rounds_news_waits_for_it(project):
    """Resumed as the change ended while the stopped round's news was still on its way,
    the new kept round was taken by that news for a round asked for (it no longer gave
    way to one)."""
    rounds = Rounds()
    service, deferred = _deferred_kept_round(project, rounds)
    try:
        n = len(rounds.ended)
        service.pause_proposals()
        assert service.stop_keeping_on("the images are being changed", timeout=30)
        service.resume_proposals()  # the news of the stop is not told yet
        assert deferred.pump_until(lambda: rounds.started == 3)
        assert rounds.ended[n].message.endswith("stopped: the images are being changed")
        assert service.keeping_on  # the new round is one kept going
        service.set_settings(TINY)
        assert deferred.pump_until(lambda: not service.training)
    finally:
        service.shutdown(10)


def test_no_change_goes_ahead_while_a_round_asked_for_waits_for_the_kept_ones_news(project):
    """Marked done just before a change: the kept round has ended, the round asked for
    starts when its news is told, in the middle of the change."""
    rounds = Rounds()
    service, deferred = _deferred_kept_round(project, rounds)
    try:
        assert service.train_now() == "started"  # the kept round gives way
        assert wait_until(lambda: not service.training)  # ended; its news not told
        assert service.follow_up_queued
        assert not service.stop_keeping_on("the labels are being changed", timeout=1)
        assert deferred.pump_until(lambda: rounds.started == 3)  # the round asked for
        service.cancel_training()
        assert deferred.pump_until(lambda: not service.training)
    finally:
        service.shutdown(10)


def test_a_kept_round_starts_without_waiting_for_the_open_images_save(project):
    """It read only what the done images have on disk, yet each start saved the open
    image and waited for it on the GUI thread: seconds for a big image, every round
    (an 11 s freeze was seen painting an 8192 x 8192 image). The round asked for saves."""
    in_progress_scribble(project)
    rounds = Rounds()
    saves: list[int] = []
    listener = dataclasses.replace(
        rounds.listener(), save_labels=lambda: saves.append(rounds.started)
    )
    three_rounds(ModelService(project, call_directly, listener, KEEP), rounds)
    assert saves == [0]  # before the round asked for, and never before a kept one
