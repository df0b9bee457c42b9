"""N's delayed open never switches images under a gesture in progress.

N right after a new model version waits for its ranking (``LoopController``); when the
wait ends (the ranking finished, or the limit) the suggested image opens. A gesture the
user began meanwhile was committed half-drawn (a lasso with the button still held
labelled its outline so far on the image left behind) or silently dropped (clicked
polygon vertices): only the brush's stroke was checked. Now the open waits for the
gesture to end: cancelled (Esc), the image opens; finished (an edit), the user went on
with this image and N's request ends, as after any edit made while N waits. A pan (the
middle button, or Space and the left, dragged) is a gesture too: the image opened under
the hand that moved the view; now it opens when the button is let go.

The proposals come from a fake scorer (the worker's model call is replaced): v1 scores
every image, v2 computes the shown image's proposal and is then held, so N waits.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
from guihelpers import at, click, press, release
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from annotator.core.card import ModelCard
from annotator.core.errors import Cancelled
from annotator.core.proposal import Proposal
from annotator.core.records import ModelRecord
from annotator.services.proposals import ProposalWorker
from annotator.storage import proposals as proposal_store

WAIT_MS = 200  # NEXT_WAIT_S, shortened


class Gate:
    """Replaces the worker's model call; holds ``version`` after ``after`` proposals."""

    def __init__(self) -> None:
        self.version: int | None = None
        self.after = 0
        self.made = 0
        self.release = threading.Event()
        self.reached = threading.Event()

    def propose(self, worker, image_id, version, pixels, cancel, progress=None):
        project = worker.project
        record = project.image(image_id)
        stored = proposal_store.load_proposal(project, record, version)
        if stored is not None:
            return stored, False
        if version == self.version:
            if self.made >= self.after:
                self.reached.set()
                while not self.release.wait(0.01):
                    if cancel.is_set():
                        raise Cancelled("superseded")
            self.made += 1
        score = 0.1 * version + 0.01 * image_id
        shape = (record.height, record.width)
        proposal = Proposal(
            None, np.zeros(shape, np.uint8), np.full(shape, score, np.float32), score, version
        )
        proposal_store.save_proposal(project, image_id, proposal)
        project.set_scores({image_id: score})
        return proposal, True


@pytest.fixture
def gate(monkeypatch):
    g = Gate()

    def proposal_for(worker, image_id, version, pixels, cancel, progress=None):
        return g.propose(worker, image_id, version, pixels, cancel, progress)

    monkeypatch.setattr(ProposalWorker, "_proposal_for", proposal_for)
    monkeypatch.setattr(ProposalWorker, "_predictor", lambda worker, version: None)
    yield g
    g.release.set()  # never leave the worker held


def version(n: int, names) -> ModelRecord:
    """A version to make active, not in the project's model table (the gate proposes)."""
    card = ModelCard(n, {}, tuple(names), imported_from="elsewhere")
    return ModelRecord(n, None, "", f"models/v{n}/weights.pt", card)


@pytest.fixture
def waiting(qtbot, window, gate):
    """v2 active, its ranking held after the shown image; N pressed and waiting."""
    loop = window.loop
    loop.service.adopt(version(1, window.session.schema.names))
    assert loop.service.wait_proposals(30)
    qtbot.wait(50)
    gate.version, gate.after = 2, 1  # v2 computes the shown image's proposal, then waits
    loop.service.adopt(version(2, window.session.schema.names))
    assert gate.reached.wait(30)
    qtbot.wait(50)
    loop._next_timer.setInterval(WAIT_MS)
    window.messages = []
    loop.message.connect(lambda text, _ms: window.messages.append(text))
    window.shown = window.document.image_id
    window.actions_["next_suggested"].trigger()  # N
    assert window.document.image_id == window.shown  # it waits
    assert window.messages[-1].startswith("Ranking the images with model v2")
    return window


def start(window, tool: str) -> None:
    """Begin a gesture of ``tool`` (its key) on the image shown and leave it unfinished."""
    QTest.keyClick(window, getattr(Qt.Key, f"Key_{tool}"))
    canvas = window.canvas
    if tool == "P":  # three clicked vertices of an outline
        for x, y in [(10, 10), (50, 10), (50, 50)]:
            click(canvas, x, y)
        assert len(canvas.tool.points) == 3
    else:  # a drag, the button still held
        press(canvas, 10, 10)
        for x, y in [(50, 10), (50, 50)]:
            QTest.mouseMove(canvas.viewport(), at(canvas, x, y))
    assert canvas.gesture_in_progress()


def labelled(window, image_id: int) -> int:
    """Pixels labelled in the saved map of ``image_id``."""
    window.session.save(wait=True)
    project = window.session.project
    labels = project.load_mask(project.image(image_id))
    return 0 if labels is None else int((labels != project.schema.unlabelled).sum())


def end_the_wait(qtbot, window, gate) -> None:
    """The limit of the wait passes, then the ranking finishes: both would open."""
    qtbot.wait(WAIT_MS + 200)
    gate.release.set()
    assert window.loop.service.wait_proposals(30)
    qtbot.wait(200)


TOOLS = ["L", "P", "B", "G", "K"]  # lasso, polygon, brush, GrabCut box, clean-up outline


@pytest.mark.parametrize("tool", TOOLS)
def test_the_wait_ending_during_a_gesture_keeps_the_image_and_the_gesture(
    qtbot, waiting, gate, tool
):
    window = waiting
    before = window.document.label_map.array.copy()
    start(window, tool)
    end_the_wait(qtbot, window, gate)
    assert window.document.image_id == window.shown  # not switched under the hand
    assert window.canvas.gesture_in_progress()  # the gesture goes on
    if tool == "P":
        assert len(window.canvas.tool.points) == 3  # no vertex lost
    if tool != "B":  # (a brush paints as it goes, and commits on release)
        assert np.array_equal(window.document.label_map.array, before)
    assert "while you draw" in window.messages[-1]


@pytest.mark.parametrize("tool", TOOLS)
def test_a_gesture_cancelled_then_opens_the_suggested_image(qtbot, waiting, gate, tool):
    window = waiting
    start(window, tool)
    end_the_wait(qtbot, window, gate)
    assert window.document.image_id == window.shown
    suggested = window.loop.service.suggest()
    assert suggested.complete  # v2 ranked every image meanwhile
    QTest.keyClick(window.canvas, Qt.Key.Key_Escape)  # drops the gesture
    if tool != "P":
        release(window.canvas, 50, 50)
    qtbot.waitUntil(lambda: window.document.image_id != window.shown, timeout=3000)
    assert window.document.image_id == suggested.record.id
    assert labelled(window, window.shown) == 0  # nothing of the gesture was kept


@pytest.mark.parametrize("tool", ["L", "P", "B"])
def test_a_gesture_finished_keeps_the_image_and_its_edit(qtbot, waiting, gate, tool):
    window = waiting
    start(window, tool)
    end_the_wait(qtbot, window, gate)
    if tool == "P":
        QTest.keyClick(window.canvas, Qt.Key.Key_Return)  # closes the outline
    else:
        release(window.canvas, 50, 50)
    qtbot.wait(300)
    assert window.document.image_id == window.shown  # the user went on with this image
    assert "stopped waiting for the ranking" in window.messages[-1]
    assert labelled(window, window.shown) > 0


PANS = ["middle", "space"]  # a middle-button drag; Space held and a left-button drag


def view_centre(canvas):
    """The scene point at the centre of the view (a pan moves it)."""
    return canvas.mapToScene(canvas.viewport().rect().center())


def pan_to(canvas, x: float, y: float) -> None:
    """Move the mouse to pixel (x, y) as it is now: with the pan on, the view follows."""
    seen = view_centre(canvas)
    QTest.mouseMove(canvas.viewport(), at(canvas, x, y))
    assert view_centre(canvas) != seen  # the view moved


def start_pan(window, how: str) -> Qt.MouseButton:
    """Drag the view with the button of ``how`` and keep it held (a pan in progress)."""
    canvas = window.canvas
    button = Qt.MouseButton.MiddleButton
    if how == "space":
        QTest.keyPress(canvas, Qt.Key.Key_Space)
        button = Qt.MouseButton.LeftButton
    QTest.mousePress(canvas.viewport(), button, Qt.KeyboardModifier.NoModifier, at(canvas, 10, 10))
    pan_to(canvas, 20, 15)
    return button


def end_pan(window, how: str, button: Qt.MouseButton) -> None:
    canvas = window.canvas
    QTest.mouseRelease(
        canvas.viewport(), button, Qt.KeyboardModifier.NoModifier, at(canvas, 20, 15)
    )
    if how == "space":
        QTest.keyRelease(canvas, Qt.Key.Key_Space)


@pytest.mark.parametrize("how", PANS)
def test_a_pan_is_a_gesture_until_its_button_is_let_go(window, how):
    canvas = window.canvas
    assert not canvas.gesture_in_progress()
    button = start_pan(window, how)
    assert canvas.gesture_in_progress()
    end_pan(window, how, button)
    assert not canvas.gesture_in_progress()
    assert labelled(window, window.document.image_id) == 0  # a pan labels nothing


def test_space_let_go_during_a_pan_ends_it(window):
    # (A pan that never ended would hold N's image back for good.)
    canvas = window.canvas
    start_pan(window, "space")
    QTest.keyRelease(canvas, Qt.Key.Key_Space)
    assert not canvas.gesture_in_progress()
    QTest.mouseRelease(canvas.viewport(), Qt.MouseButton.LeftButton)
    assert not canvas.gesture_in_progress()


@pytest.mark.parametrize("how", PANS)
def test_the_wait_ending_during_a_pan_opens_the_image_when_the_pan_ends(qtbot, waiting, gate, how):
    window = waiting
    button = start_pan(window, how)
    end_the_wait(qtbot, window, gate)
    assert window.document.image_id == window.shown  # not switched under the hand
    assert window.canvas.gesture_in_progress()
    pan_to(window.canvas, 30, 20)  # the pan goes on
    assert "while you draw or pan" in window.messages[-1]
    suggested = window.loop.service.suggest()
    assert suggested.complete
    end_pan(window, how, button)
    qtbot.waitUntil(lambda: window.document.image_id != window.shown, timeout=3000)
    assert window.document.image_id == suggested.record.id
    assert labelled(window, window.shown) == 0  # a pan labels nothing
