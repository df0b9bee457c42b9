"""N ("next suggested") right after a new model version becomes active.

The project stores one score per image (``images.score``) and not the version that made
it; a new version rescores the images one by one on the proposal worker (4 s for 40
images of 512 x 512 px). N used to rank by whatever the project held meanwhile: mostly
the old version's scores, so it could open an image the new version is sure about.

Most tests score with a fake scorer of fixed scores per version (the worker's model
call is replaced, the rest of the worker runs), so the scenario is exact: v1 ranks
a, b, c, d; v2 scores a and b and is held there; the project then holds
a .5 (v2), b .2 (v2), c .7 (v1), d .6 (v1), so ranking by it opens c, which v2 is
surest about (.1). One test runs real rounds of a tiny network.
"""

from __future__ import annotations

import threading
import time

import cv2
import numpy as np
import pytest
from modelhelpers import wait_until
from PySide6.QtWidgets import QWidget

import annotator.gui.loop_controller as loop_module
from annotator.core.card import ModelCard
from annotator.core.errors import Cancelled
from annotator.core.proposal import Proposal
from annotator.core.records import ModelRecord
from annotator.core.schema import LabelSchema
from annotator.core.status import ImageStatus
from annotator.gui.actions import make_actions
from annotator.gui.dispatch import GuiDispatcher
from annotator.gui.loop_controller import LoopController
from annotator.services.jobs import call_directly
from annotator.services.model_service import ModelListener, ModelService, ModelSettings
from annotator.services.proposals import ProposalWorker
from annotator.storage import proposals as proposal_store
from annotator.storage.project import Project

SIZE = 64
NAMES = ("a", "b", "c", "d")
SCORES = {
    1: {"a": 0.9, "b": 0.8, "c": 0.7, "d": 0.6},  # v1 ranks a, b, c, d
    2: {"a": 0.5, "b": 0.2, "c": 0.1, "d": 0.3},  # v2: a first, c last
}
SETTINGS = ModelSettings(device="cpu", threads=1)  # strategy "uncertainty", the default


class FakeScorer:
    """Replaces the worker's model call: the proposal of an image has the score of
    ``SCORES[version][name]`` and is stored like a real one; one stored of the version
    asked for is read back instead (``loads``), as the worker does. Holds version
    ``gate_version`` after it scored ``gate_after`` images, until ``release`` is set."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, str]] = []  # proposals computed
        self.loads: list[tuple[int, str]] = []  # stored proposals read (pictures decoded)
        self.gate_version: int | None = None
        self.gate_after = 0
        self.release = threading.Event()
        self.reached = threading.Event()

    def install(self, monkeypatch) -> None:
        scorer = self

        def proposal_for(worker, image_id, version, pixels, cancel, progress=None):
            return scorer.propose(worker.project, image_id, version, cancel)

        monkeypatch.setattr(ProposalWorker, "_proposal_for", proposal_for)
        monkeypatch.setattr(ProposalWorker, "_predictor", lambda worker, version: None)

    def hold(self, version: int, after: int) -> None:
        self.gate_version, self.gate_after = version, after
        self.release.clear()
        self.reached.clear()

    def propose(self, project, image_id, version, cancel):
        record = project.image(image_id)
        name = record.name.split(".")[0]
        stored = proposal_store.load_proposal(project, record, version)
        if stored is not None:
            self.loads.append((version, name))
            return stored, False
        made = sum(1 for v, _ in self.calls if v == version)
        if version == self.gate_version and made >= self.gate_after:
            self.reached.set()
            while not self.release.wait(0.01):
                if cancel.is_set():
                    raise Cancelled("superseded")
        score = SCORES[version][name]
        shape = (record.height, record.width)
        proposal = Proposal(
            None, np.zeros(shape, np.uint8), np.full(shape, score, np.float32), score, version
        )
        proposal_store.save_proposal(project, image_id, proposal)
        project.set_scores({image_id: score})
        self.calls.append((version, name))
        return proposal, True


@pytest.fixture
def project(tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i, name in enumerate(("0done", *NAMES)):  # of different pixels: not one picture
        cv2.imwrite(str(folder / f"{name}.png"), np.full((SIZE, SIZE), 40 + i, np.uint8))
    p = Project.create(tmp_path / "proj", LabelSchema.from_names(["background", "cell"]))
    p.add_images([folder])
    p.set_status(p.image("0done.png").id, ImageStatus.DONE)
    yield p
    p.close()


@pytest.fixture
def scorer(monkeypatch):
    s = FakeScorer()
    s.install(monkeypatch)
    yield s
    s.release.set()  # never leave the worker held


def ids(project) -> dict[str, int]:
    return {name: project.image(f"{name}.png").id for name in NAMES}


def version(n: int) -> ModelRecord:
    """A model record to make a version active, not in the project's model table (its
    proposals come from :class:`FakeScorer`): it fits the project's classes, saw none of
    its images (no "done images not in v1" note at opening), and has no file."""
    card = ModelCard(n, {}, ("background", "cell"), imported_from="elsewhere")
    return ModelRecord(n, None, "", f"models/v{n}/weights.pt", card)


def v2_held_after_two(service, scorer) -> None:
    """v1 scored every image; v2 is active and has scored a and b, held before c."""
    service.adopt(version(1))
    assert service.wait_proposals(30)
    scorer.hold(2, after=2)
    service.adopt(version(2))
    assert scorer.reached.wait(30)


# --- the service ---------------------------------------------------------------------------
@pytest.fixture
def service(project, scorer):
    s = ModelService(project, call_directly, ModelListener(), SETTINGS)
    yield s
    scorer.release.set()
    s.shutdown(10)


def test_while_v2_rescores_the_stale_scores_no_longer_pick_the_image(project, scorer, service):
    v2_held_after_two(service, scorer)
    image = ids(project)
    # what the project holds: two of v2's scores and two of v1's
    assert {n: project.image(i).score for n, i in image.items()} == {
        "a": 0.5,
        "b": 0.2,
        "c": 0.7,
        "d": 0.6,
    }
    # by those, c would come first: the image v2 is surest about (.1)
    assert service.next_suggested().id == image["a"]  # v2's most uncertain so far
    suggestion = service.suggest()
    assert suggestion.record.id == image["a"] and suggestion.version == 2
    assert (suggestion.scored, suggestion.total, suggestion.complete) == (2, 4, False)
    ranking = service.ranking()
    assert (ranking.version, ranking.scored, ranking.total, ranking.busy) == (2, 2, 4, True)

    scorer.release.set()
    assert service.wait_proposals(30)
    done = service.suggest()
    assert done.complete and (done.scored, done.total) == (4, 4)
    assert done.record.id == image["a"]  # a .5 > d .3 > b .2 > c .1
    assert not service.ranking().busy


def test_right_after_a_version_change_nothing_counts_as_its_score(project, scorer, service):
    service.adopt(version(1))
    assert service.wait_proposals(30)
    scorer.hold(2, after=0)  # v2 scores nothing yet
    service.adopt(version(2))
    assert scorer.reached.wait(30)
    suggestion = service.suggest()
    assert (suggestion.scored, suggestion.complete) == (0, False)
    # v1's scores are all there is; the caller is told so (complete is False)
    assert suggestion.record.id == ids(project)["a"]
    # a rollback to v1 counts nothing of v2, nor v1's scores of before v2
    scorer.release.set()
    assert service.wait_proposals(30)
    scorer.hold(1, after=0)
    service.adopt(version(1))
    assert scorer.reached.wait(30)
    assert service.suggest().scored == 0


def test_strategies_that_ignore_scores_never_wait(project, scorer, service):
    v2_held_after_two(service, scorer)
    service.update_settings(strategy="in-order")
    suggestion = service.suggest()
    assert suggestion.complete and suggestion.record.id == ids(project)["a"]


def test_a_second_pass_of_the_same_version_reads_only_the_stored_scores(project, scorer, service):
    service.adopt(version(1))
    assert service.wait_proposals(30)
    assert len(scorer.calls) == 4
    service.show_image(ids(project)["b"])  # the window opened b: its proposal, then ranks
    assert service.wait_proposals(30)
    # b's proposal is the stored one (its pictures are read to show them); the others'
    # scores come from their proposals' JSON, without decoding their pictures
    assert len(scorer.calls) == 4
    assert scorer.loads == [(1, "b")]
    suggestion = service.suggest()
    assert suggestion.complete and suggestion.record.id == ids(project)["a"]


def reopened_with_v1(project, scorer, monkeypatch, tmp_path) -> int:
    """v1 scored (and stored) every image in a first session; an image ``e`` was added
    since; the project is reopened with v1 active. Returns ``e``'s id. The next v1
    proposal computed (``e``'s, the image the window shows) is held."""
    first = ModelService(project, call_directly, ModelListener(), SETTINGS)
    first.adopt(version(1))
    assert first.wait_proposals(30)
    first.shutdown(10)
    more = tmp_path / "more"
    more.mkdir()
    cv2.imwrite(str(more / "e.png"), np.full((SIZE, SIZE), 99, np.uint8))
    project.add_images([more])
    # the fake versions are not in the project's model table: v1 is the active one
    monkeypatch.setattr(project, "active_model", lambda: version(1))
    scorer.hold(1, after=sum(1 for v, _ in scorer.calls if v == 1))
    return project.image("e.png").id


def test_after_reopening_the_active_versions_stored_scores_count(
    project, scorer, monkeypatch, tmp_path
):
    """The record of what the active version scored lived only in the worker's memory:
    after reopening, suggest() said v1 had scored nothing although every image held
    its stored proposal, until the shown image's proposal was done (seconds for a big
    one). It is read from the stored proposals, off the owner's thread."""
    e = reopened_with_v1(project, scorer, monkeypatch, tmp_path)
    owner = threading.current_thread()
    read_on_owner = []
    real = proposal_store.version_and_score

    read_elsewhere = []

    def counted(project_, image_id):
        on_owner = threading.current_thread() is owner
        (read_on_owner if on_owner else read_elsewhere).append(image_id)
        return real(project_, image_id)

    monkeypatch.setattr(proposal_store, "version_and_score", counted)
    service = ModelService(project, call_directly, ModelListener(), SETTINGS)
    try:
        service.show_image(e)  # its proposal is computed (held)
        assert scorer.reached.wait(30)
        assert wait_until(lambda: service.suggest().complete, 10)
        # A suggest() of an incomplete ranking reads one JSON on the owner, by design (to
        # say whose score ranked the image it names); the record is filled elsewhere.
        read_on_owner.clear()
        suggestion = service.suggest()
        assert (suggestion.scored, suggestion.total, suggestion.version) == (4, 4, 1)
        assert suggestion.complete and suggestion.record.id == ids(project)["a"]
        assert suggestion.ranked_by == 1
        assert read_on_owner == []  # the owner read no proposal's JSON
        assert len(set(read_elsewhere)) >= 4  # the record was filled on a worker
        assert scorer.loads == []  # nor any picture: the JSON alone says it
    finally:
        scorer.release.set()
        service.shutdown(10)


def test_suggest_names_the_version_that_made_the_score_it_opens_by(
    project, scorer, monkeypatch, tmp_path
):
    """While the active version has scored nothing, suggest() says whose stored score
    ranked the image (one JSON read): an older version's, or after a rollback a newer."""
    service = ModelService(project, call_directly, ModelListener(), SETTINGS)
    try:
        service.adopt(version(1))
        assert service.wait_proposals(30)
        scorer.hold(2, after=0)
        service.adopt(version(2))
        assert scorer.reached.wait(30)
        assert service.suggest().ranked_by == 1
        scorer.release.set()
        assert service.wait_proposals(30)
        scorer.hold(1, after=0)
        service.adopt(version(1))  # a rollback: the images hold v2's proposals
        assert scorer.reached.wait(30)
        suggestion = service.suggest()
        assert (suggestion.scored, suggestion.complete) == (0, False)
        assert suggestion.ranked_by == 2
    finally:
        scorer.release.set()
        service.shutdown(10)


def test_real_rounds_v2_ranks_by_what_it_scored_until_it_scored_all(tmp_path, monkeypatch):
    """Two real rounds of a tiny network; v2's scoring is held after two images."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from test_model_service import TINY, scribbled_project

    project = scribbled_project(tmp_path / "real", n_images=6)
    real = ProposalWorker._proposal_for
    release, reached, made = threading.Event(), threading.Event(), []

    def held(worker, image_id, version, *args, **kwargs):
        if version == 2 and len(made) >= 2:
            reached.set()
            assert release.wait(60)
        proposal, computed = real(worker, image_id, version, *args, **kwargs)
        if version == 2:
            made.append(image_id)
        return proposal, computed

    monkeypatch.setattr(ProposalWorker, "_proposal_for", held)
    service = ModelService(project, call_directly, ModelListener(), TINY)
    try:
        service.train_now()
        assert service.wait_training(60) and service.wait_proposals(60)
        assert service.suggest().complete
        service.train_now()
        assert service.wait_training(60) and reached.wait(60)
        assert service.active_version == 2
        suggestion = service.suggest()
        assert (suggestion.scored, suggestion.total, suggestion.complete) == (2, 5, False)
        v2 = {i: project.image(i).score for i in made}
        assert suggestion.record.id == max(v2, key=lambda i: (v2[i], -i))
        release.set()
        assert service.wait_proposals(60)
        done = service.suggest()
        todo = [r for r in project.images() if r.status is not ImageStatus.DONE]
        assert done.complete and (done.scored, done.total) == (5, 5)
        assert done.record.id == max(todo, key=lambda r: (r.score, -r.id)).id
    finally:
        release.set()
        service.shutdown(10)
        project.close()


# --- N in the window's loop controller ----------------------------------------------------------
class NoDocument:
    """The LoopWorkspace protocol with no image open (N needs none)."""

    document = None
    schema = None

    def hidden_classes(self) -> frozenset[int]:
        return frozenset()

    def current_value(self) -> int:
        return 0

    def protected_value(self) -> int | None:
        return None

    def labels_visible(self) -> bool:
        return True

    def tool_writes_proposal(self) -> bool:
        return False

    def finish_gesture(self) -> str:
        return ""

    def save_labels(self) -> None:
        pass

    def save_before(self, title: str) -> None:
        pass

    def gesture_in_progress(self) -> bool:
        return False


@pytest.fixture
def loop(qtbot, project, scorer):
    yield from _controller(qtbot, project, scorer, NoDocument())


def _controller(qtbot, project, scorer, workspace):
    """A loop controller over ``workspace`` that records what it opens and says."""
    host = QWidget()
    qtbot.addWidget(host)
    controller = LoopController(workspace, GuiDispatcher(host), make_actions(host), host)
    controller.settings_override = SETTINGS
    controller.set_project(project)
    controller.workspace_ = workspace
    controller.opened = []
    controller.messages = []
    controller.open_requested.connect(controller.opened.append)
    controller.message.connect(lambda text, _ms: controller.messages.append(text))
    yield controller
    scorer.release.set()
    controller.close()


def settle(qtbot, loop) -> None:
    """Let the worker finish and its events reach the controller."""
    assert loop.service.wait_proposals(30)
    qtbot.wait(50)


def press_n_with_v2_held(qtbot, loop, scorer) -> float:
    """v2 active and held after scoring a and b; N pressed; returns how long N took."""
    loop.service.adopt(version(1))
    settle(qtbot, loop)
    scorer.hold(2, after=2)
    loop.service.adopt(version(2))
    assert scorer.reached.wait(30)
    qtbot.wait(50)  # a's and b's scores reach the controller
    loop.messages.clear()
    start = time.perf_counter()
    loop.open_next_suggested()
    return time.perf_counter() - start


def test_n_waits_for_the_new_version_to_rank_and_says_so(qtbot, project, scorer, loop):
    took = press_n_with_v2_held(qtbot, loop, scorer)
    assert took < 0.1  # the GUI thread does not wait
    assert loop.opened == []  # not c, by v1's stale score
    assert loop.messages[-1].startswith("Ranking the images with model v2… (2 of 4 scored)")
    scorer.release.set()
    qtbot.waitUntil(lambda: bool(loop.opened), timeout=10_000)
    assert loop.opened == [ids(project)["a"]]  # v2's most uncertain of all four


def test_n_again_while_waiting_opens_the_best_so_far_and_says_what_ranked_it(
    qtbot, project, scorer, loop
):
    press_n_with_v2_held(qtbot, loop, scorer)
    assert loop.opened == []
    loop.open_next_suggested()
    assert loop.opened == [ids(project)["a"]]
    assert loop.messages[-1] == (
        "Opened a.png: the most uncertain of the 2 of 4 images model v2 has scored so far "
        "(it has not scored the others yet)"
    )
    scorer.release.set()
    settle(qtbot, loop)
    assert loop.opened == [ids(project)["a"]]  # the end of the ranking opens nothing more


def test_the_wait_is_bounded(qtbot, project, scorer, loop):
    loop._next_timer.setInterval(200)  # NEXT_WAIT_S, shortened
    assert loop_module.NEXT_WAIT_S <= 10
    press_n_with_v2_held(qtbot, loop, scorer)
    qtbot.waitUntil(lambda: bool(loop.opened), timeout=5_000)
    assert loop.opened == [ids(project)["a"]]
    assert "2 of 4 images model v2 has scored so far" in loop.messages[-1]


def test_a_version_that_scored_nothing_yet_says_it_opened_by_older_scores(
    qtbot, project, scorer, loop
):
    loop.service.adopt(version(1))
    settle(qtbot, loop)
    scorer.hold(2, after=0)
    loop.service.adopt(version(2))
    assert scorer.reached.wait(30)
    loop.open_next_suggested()
    assert loop.opened == []
    loop.open_next_suggested()  # N again: do not wait
    assert loop.opened == [ids(project)["a"]]
    assert loop.messages[-1] == (
        "Model v2 has not scored the images yet: opened a.png by model v1's scores"
    )


def test_after_a_rollback_n_says_the_scores_it_opened_by_are_the_newer_versions(
    qtbot, project, scorer, loop
):
    for v in (1, 2):
        loop.service.adopt(version(v))
        settle(qtbot, loop)
    scorer.hold(1, after=0)
    loop.service.adopt(version(1))  # every image holds v2's proposal
    assert scorer.reached.wait(30)
    loop.open_next_suggested()
    loop.open_next_suggested()  # N again: do not wait
    assert loop.opened == [ids(project)["a"]]  # v2: a .5 first
    assert loop.messages[-1] == (
        "Model v1 has not scored the images yet: opened a.png by model v2's scores"
    )


def test_editing_while_n_waits_keeps_the_image(qtbot, project, scorer, loop):
    press_n_with_v2_held(qtbot, loop, scorer)
    loop.labels_committed()  # the user painted on the image open
    assert "stopped waiting for the ranking" in loop.messages[-1]
    scorer.release.set()
    settle(qtbot, loop)
    assert loop.opened == []


def test_n_opens_at_once_when_the_active_version_ranked_every_image(qtbot, project, scorer, loop):
    loop.service.adopt(version(1))
    settle(qtbot, loop)
    loop.service.adopt(version(2))
    settle(qtbot, loop)
    loop.messages.clear()
    loop.open_next_suggested()
    assert loop.opened == [ids(project)["a"]] and loop.messages == []


def reopening_loop(qtbot, monkeypatch):
    """A controller for the reopened project: (controller, images opened, messages)."""
    monkeypatch.setattr(LoopController, "_show_models", lambda self: None)  # (fake versions)
    host = QWidget()
    qtbot.addWidget(host)
    loop = LoopController(NoDocument(), GuiDispatcher(host), make_actions(host), host)
    loop.settings_override = SETTINGS
    loop.host = host  # (the widget lives as long as the controller, its child)
    opened, messages = [], []
    loop.open_requested.connect(opened.append)
    loop.message.connect(lambda text, _ms: messages.append(text))
    return loop, opened, messages


def test_n_after_reopening_opens_at_once_by_the_stored_scores(
    qtbot, project, scorer, monkeypatch, tmp_path
):
    """Reopened with v1 active and every image holding v1's stored proposal, while the
    shown (new) image's proposal is computed: N waited 5 s, then said v1 had not scored
    the images and opened 'by an older version's scores'."""
    e = reopened_with_v1(project, scorer, monkeypatch, tmp_path)
    loop, opened, messages = reopening_loop(qtbot, monkeypatch)
    try:
        loop.set_project(project)
        loop.service.show_image(e)  # its proposal is computed (held)
        assert scorer.reached.wait(30)
        qtbot.waitUntil(lambda: loop.service.suggest().complete, timeout=10_000)
        messages.clear()
        loop.open_next_suggested()
        assert opened == [ids(project)["a"]]  # at once, v1's most uncertain
        assert messages == []  # nothing to explain: v1 ranked every image
    finally:
        scorer.release.set()
        loop.close()


def test_n_pressed_while_the_stored_scores_are_read_opens_when_they_are(
    qtbot, project, scorer, monkeypatch, tmp_path
):
    e = reopened_with_v1(project, scorer, monkeypatch, tmp_path)
    reading = threading.Event()
    real = proposal_store.version_and_score
    owner = threading.current_thread()

    def slow(project_, image_id):
        if threading.current_thread() is not owner:  # the reading of every image's
            assert reading.wait(30)
        return real(project_, image_id)

    monkeypatch.setattr(proposal_store, "version_and_score", slow)
    loop, opened, messages = reopening_loop(qtbot, monkeypatch)
    try:
        loop.set_project(project)
        loop.service.show_image(e)
        assert scorer.reached.wait(30)
        start = time.perf_counter()
        loop.open_next_suggested()
        assert time.perf_counter() - start < 0.5  # the owner does not wait for the reading
        assert opened == []  # v1's stored scores are not read yet: N waits
        reading.set()
        qtbot.waitUntil(lambda: bool(opened), timeout=3000)  # long before the limit
        assert opened == [ids(project)["a"]]
        assert not any("older" in m or "has not scored" in m for m in messages)
    finally:
        reading.set()
        scorer.release.set()
        loop.close()


class Drawing(NoDocument):
    """A workspace whose canvas says whether a gesture is in progress."""

    def __init__(self) -> None:
        self.drawing = False

    def gesture_in_progress(self) -> bool:
        return self.drawing


@pytest.fixture
def drawing_loop(qtbot, project, scorer):
    yield from _controller(qtbot, project, scorer, Drawing())


def test_the_end_of_the_wait_never_opens_during_a_gesture(qtbot, project, scorer, drawing_loop):
    loop = drawing_loop
    loop._next_timer.setInterval(200)
    press_n_with_v2_held(qtbot, loop, scorer)
    loop.workspace_.drawing = True  # e.g. a lasso dragged, or polygon vertices clicked
    qtbot.wait(400)  # the limit passes
    scorer.release.set()
    settle(qtbot, loop)  # and the ranking ends
    assert loop.opened == []
    assert "while you draw" in loop.messages[-1]
    loop.open_next_suggested()  # N again: still not under the gesture
    assert loop.opened == []
    loop.workspace_.drawing = False  # cancelled: nothing was edited
    qtbot.waitUntil(lambda: bool(loop.opened), timeout=3000)
    assert loop.opened == [ids(project)["a"]]


def test_a_gesture_that_edits_ends_the_wait(qtbot, project, scorer, drawing_loop):
    loop = drawing_loop
    loop._next_timer.setInterval(200)
    press_n_with_v2_held(qtbot, loop, scorer)
    loop.workspace_.drawing = True
    qtbot.wait(400)
    loop.workspace_.drawing = False
    loop.labels_committed()  # the gesture ended as an edit of this image
    scorer.release.set()
    settle(qtbot, loop)
    qtbot.wait(300)
    assert loop.opened == []
    assert "stopped waiting for the ranking" in loop.messages[-1]
