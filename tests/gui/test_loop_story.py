"""The active-learning loop through the real window, with a tiny network.

Every wait is on a signal of the loop controller (or on the worker going idle), never a
sleep: a round trains in the background while the test keeps driving the window.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from guihelpers import center, drag
from modelhelpers import tiny_settings
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from annotator.core.schema import LabelSchema
from annotator.core.status import ImageStatus
from annotator.gui.main_window import MainWindow
from annotator.services.model_service import ModelSettings, load_settings
from annotator.storage.project import Project

SIZE = 64
U = 255
TINY = tiny_settings(steps=15)  # (keeping on off: these count rounds)
LONG = ModelSettings(**{**TINY.to_dict(), "steps": None, "seconds": 300.0})
ROUND_TIMEOUT_MS = 60_000
CTRL, SHIFT = Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.ShiftModifier


def disks_image(seed: int) -> np.ndarray:
    """Bright disks on a dark, noisy background."""
    rng = np.random.default_rng(seed)
    img = np.full((SIZE, SIZE), 40, np.float32)
    for _ in range(3):
        cx, cy = rng.integers(12, SIZE - 12, 2)
        cv2.circle(img, (int(cx), int(cy)), int(rng.integers(6, 10)), 200, -1)
    img += rng.normal(0, 8 + 6 * seed, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


@pytest.fixture
def loop_project(tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(4):
        cv2.imwrite(str(folder / f"disks_{i}.png"), disks_image(i))
    root = tmp_path / "proj"
    with Project.create(root, LabelSchema.from_names(["background", "disk"])) as p:
        p.add_images([folder])
    return root


def open_window(qtbot, root, settings=TINY) -> MainWindow:
    w = MainWindow()
    qtbot.addWidget(w)
    w.resize(1100, 750)
    w.loop.settings_override = settings
    with qtbot.waitActive(w):
        w.show()
        w.activateWindow()
    w.open_project(root)
    center(w.canvas)
    return w


def key(w, k, mod=Qt.KeyboardModifier.NoModifier) -> None:
    QTest.keyClick(w.canvas, k, mod)


def scribble_two_classes(w) -> None:
    """Background strokes in the dark, disk strokes across bright pixels."""
    image = w.document.image
    w.canvas.set_brush_radius(1)
    key(w, Qt.Key.Key_1)
    drag(w.canvas, [(2, 2), (60, 2)])
    drag(w.canvas, [(2, 61), (60, 61)])
    key(w, Qt.Key.Key_2)
    ys, xs = np.nonzero(image > 150)
    for i in range(0, len(ys), max(1, len(ys) // 6)):
        drag(w.canvas, [(xs[i], ys[i]), (xs[i] + 1, ys[i])])


def test_label_train_propose_accept_correct_undo_retrain_next(qtbot, loop_project):
    w = open_window(qtbot, loop_project)
    loop = w.loop
    first = w.document.image_id
    assert not w.actions_["accept"].isEnabled()  # no model, no proposal
    scribble_two_classes(w)
    assert {0, 1} <= set(np.unique(w.document.label_map.array))

    # mark done: the first round trains from scratch in the background
    with qtbot.waitSignal(loop.round_finished, timeout=ROUND_TIMEOUT_MS) as finished:
        key(w, Qt.Key.Key_D, CTRL)
        assert loop.service.training  # the window is not waiting for it
        drag(w.canvas, [(30, 30), (31, 30)])  # painting goes on meanwhile
        key(w, Qt.Key.Key_Z, CTRL)
    assert finished.args[0].status == "published"
    assert loop.service.active_version == 1

    # the next image gets a proposal, shown as its own layer
    with qtbot.waitSignal(
        loop.proposal_shown, timeout=ROUND_TIMEOUT_MS, check_params_cb=lambda i, v: v == 1
    ) as shown:
        key(w, Qt.Key.Key_PageDown)
    second = w.document.image_id
    assert second != first and shown.args == [second, 1]
    assert loop.layers.proposal_item.isVisible()
    proposal = loop.layers.proposal
    lm = w.document.label_map

    # accept: the proposal fills the unlabelled pixels, one undo step
    assert (lm.array == U).all()
    key(w, Qt.Key.Key_A)
    assert (lm.array == proposal.mask).all()
    # correct with the brush, in a class the proposal does not hold all along the stroke
    fix = 1 if (proposal.mask[32, 10:51] == 0).all() else 0
    key(w, Qt.Key.Key_2 if fix else Qt.Key.Key_1)
    w.canvas.set_brush_radius(3)
    drag(w.canvas, [(10, 32), (50, 32)])
    corrected = lm.array.copy()
    assert (corrected[32, 10:51] == fix).all() and (corrected != proposal.mask).any()
    # undo the correction, then the accept: back to nothing labelled
    key(w, Qt.Key.Key_Z, CTRL)
    assert (lm.array == proposal.mask).all()
    key(w, Qt.Key.Key_Z, CTRL)
    assert (lm.array == U).all()
    # redo both, and the image is done: a second round continues from v1
    key(w, Qt.Key.Key_Y, CTRL)
    key(w, Qt.Key.Key_Y, CTRL)
    assert (lm.array == corrected).all()
    with qtbot.waitSignal(loop.version_changed, timeout=ROUND_TIMEOUT_MS) as changed:
        key(w, Qt.Key.Key_D, CTRL)
    assert changed.args == [2]
    project = loop.service.project
    assert project.active_model().parent == 1
    saved = project.image(second)
    assert saved.status is ImageStatus.DONE and saved.label_source == "proposal:v1+user"
    assert (project.load_mask(saved) == corrected).all()  # the model never touched labels

    # every image still to label is scored by v2; "next" opens the most uncertain one
    assert loop.service.wait_proposals(60)
    with qtbot.waitSignal(loop.proposal_shown, timeout=ROUND_TIMEOUT_MS):
        key(w, Qt.Key.Key_N)
    todo = [r for r in project.images() if r.status is not ImageStatus.DONE]
    assert all(r.score is not None for r in todo)
    most_uncertain = max(todo, key=lambda r: (r.score, -r.id))
    assert w.document.image_id == most_uncertain.id
    assert loop.layers.image_id == most_uncertain.id
    assert loop.layers.proposal.model_version == 2
    # the image list shows the scores (they reach it through a queued signal); sorted by
    # uncertainty, that image comes first
    w.image_list.set_sort("uncertainty")
    scores = {r.id: r.score for r in todo}
    qtbot.waitUntil(
        lambda: all(r.score == scores[r.id] for r in w.image_list.model.rows if r.id in scores),
        timeout=5000,
    )
    assert w.image_list.visible_ids()[0] == most_uncertain.id
    assert f"{most_uncertain.score:.3f}" in w.image_list.text(0)
    # the model panel plots both versions; rolling back brings v1's proposals back
    assert loop.panel.chart.versions == [1, 2]
    with qtbot.waitSignal(
        loop.proposal_shown, timeout=ROUND_TIMEOUT_MS, check_params_cb=lambda i, v: v == 1
    ):
        loop.rollback(1)
    assert project.active_model().version == 1 and loop.layers.proposal.model_version == 1
    # the panel says so where "Published model v2" was, and lists v1 as the current one
    assert loop.panel.round_label.text().startswith("Rolled back to model v1")
    assert loop.panel.version_combo.currentData() == 1
    w.close()


def test_layers_toggle_and_accept_class_fills_only_the_current_class(qtbot, loop_project):
    w = open_window(qtbot, loop_project)
    scribble_two_classes(w)
    with qtbot.waitSignal(w.loop.round_finished, timeout=ROUND_TIMEOUT_MS):
        w.loop.train_now()
    if w.loop.layers.proposal is None:
        with qtbot.waitSignal(w.loop.proposal_shown, timeout=ROUND_TIMEOUT_MS):
            pass
    layers = w.loop.layers
    assert layers.image_id == w.document.image_id
    assert not layers.uncertainty_item.isVisible()
    key(w, Qt.Key.Key_U)
    assert layers.uncertainty_item.isVisible()
    key(w, Qt.Key.Key_R)
    assert not layers.proposal_item.isVisible()
    before = w.document.label_map.array.copy()
    key(w, Qt.Key.Key_2)  # the "disk" class
    key(w, Qt.Key.Key_A, SHIFT)
    after = w.document.label_map.array
    changed = after != before
    assert (after[changed] == 1).all()
    assert (before[changed] == U).all()
    assert changed.sum() == ((before == U) & (layers.proposal.mask == 1)).sum()
    w.close()


def test_an_error_in_a_round_reaches_the_user(qtbot, loop_project):
    bad = ModelSettings(**{**TINY.to_dict(), "device": "no-such-device"})
    w = open_window(qtbot, loop_project, bad)
    scribble_two_classes(w)
    with qtbot.waitSignal(w.loop.error, timeout=ROUND_TIMEOUT_MS) as err:
        w.loop.train_now()
    assert "no-such-device" in err.args[0]
    assert w.loop.panel.error_label.isVisibleTo(w.loop.panel)
    assert "no-such-device" in w.loop.panel.error_label.text()
    w.close()


def test_train_now_without_labels_tells_the_user_what_to_do(qtbot, loop_project):
    """A calm hint in the status bar and on the panel's round line: it was a failure,
    said three times (a box, red text, the status bar)."""
    from PySide6.QtWidgets import QMessageBox

    w = open_window(qtbot, loop_project)
    errors: list[str] = []
    w.loop.error.connect(errors.append)
    hint = "Nothing labelled yet: paint a few strokes of each class, then Train now."
    key(w, Qt.Key.Key_T, CTRL)
    assert w.statusBar().currentMessage() == hint
    assert w.loop.panel.round_label.text() == hint and w.loop.panel.error_label.isHidden()
    assert errors == [] and not [b for b in w.findChildren(QMessageBox) if b.isVisible()]
    assert w.loop.service.rounds_started == 0
    w.close()


def test_quitting_during_a_round_cancels_it_and_keeps_the_labels(qtbot, loop_project):
    w = open_window(qtbot, loop_project, LONG)
    scribble_two_classes(w)
    painted = w.document.label_map.copy_array()
    image_id = w.document.image_id
    with qtbot.waitSignal(w.loop.round_started, timeout=5000):
        key(w, Qt.Key.Key_D, CTRL)
    drag(w.canvas, [(40, 40), (45, 40)])  # an edit not yet autosaved
    painted = w.document.label_map.copy_array()
    service = w.loop.service
    w.close()
    assert not service.training  # cancelled and joined, well before its 300 s budget
    with Project.open(loop_project) as p:
        assert p.models() == []
        assert (p.load_mask(p.image(image_id)) == painted).all()


def test_idle_retraining_starts_a_round_after_edits_stop(qtbot, loop_project):
    settings = ModelSettings(**{**TINY.to_dict(), "train_on_done": False, "idle_retrain_s": 1})
    w = open_window(qtbot, loop_project, settings)
    assert w.loop.service.labels_dirty is False
    with qtbot.waitSignal(w.loop.round_started, timeout=10_000):
        scribble_two_classes(w)  # nothing is marked done: the idle timer starts the round
    assert not w.loop.service.labels_dirty
    with qtbot.waitSignal(w.loop.round_finished, timeout=ROUND_TIMEOUT_MS) as finished:
        pass
    assert finished.args[0].status == "published"
    w.close()


def test_done_images_the_model_never_saw_are_said_when_the_project_opens(qtbot, loop_project):
    """Closing the app during a round dropped it in silence: at the next opening nothing
    said the image marked done was in no model."""
    w = open_window(qtbot, loop_project)
    scribble_two_classes(w)
    with qtbot.waitSignal(w.loop.round_finished, timeout=ROUND_TIMEOUT_MS) as finished:
        key(w, Qt.Key.Key_D, CTRL)
    assert finished.args[0].status == "published"
    w.close()
    with Project.open(loop_project) as p:  # marked done while no round ran (a quit)
        other = next(r for r in p.images() if r.status is not ImageStatus.DONE)
        mask = np.full((SIZE, SIZE), U, np.uint8)
        mask[:8] = 0
        p.save_mask(other.id, mask)
        p.set_status(other.id, ImageStatus.DONE)
    again = MainWindow()
    qtbot.addWidget(again)
    again.loop.settings_override = TINY
    said: list[str] = []
    again.loop.message.connect(lambda text, _ms: said.append(text))
    again.open_project(loop_project)
    assert f"1 done image(s) are not in model v1 yet (first: {other.name})" in " ".join(said)
    assert again.loop.service.labels_dirty  # idle retraining, when on, takes them
    again.close()


def test_cancel_says_when_it_dropped_the_queued_round_too(qtbot, loop_project):
    w = open_window(qtbot, loop_project, LONG)
    scribble_two_classes(w)
    with qtbot.waitSignal(w.loop.round_started, timeout=5000):
        key(w, Qt.Key.Key_D, CTRL)
    w.loop.train_now()  # queued behind the running round
    assert w.loop.service.follow_up_queued
    with qtbot.waitSignal(w.loop.round_finished, timeout=ROUND_TIMEOUT_MS) as finished:
        w.loop.cancel_training()
        w.loop.cancel_training()  # a second click while the round stops
    outcome = finished.args[0]
    assert outcome.status == "cancelled"
    assert outcome.message.endswith("; the round queued after it was dropped too")
    assert not w.loop.service.training
    w.close()


def test_rounds_keep_training_on_the_done_images_while_the_user_labels(qtbot, loop_project):
    """Keep training while I label: after the round of an image marked done, rounds go on
    on the done images while the user edits the next one; the panel's box turns it off."""
    w = open_window(qtbot, loop_project, ModelSettings(**{**TINY.to_dict(), "keep_training": True}))
    loop = w.loop
    assert loop.panel.keep_check.isChecked()
    first = w.document.image_id
    scribble_two_classes(w)
    with qtbot.waitSignal(loop.round_finished, timeout=ROUND_TIMEOUT_MS) as finished:
        key(w, Qt.Key.Key_D, CTRL)
    assert finished.args[0].status == "published"
    w.open_image(next(r.id for r in loop.service.project.images() if r.id != first))
    drag(w.canvas, [(5, 5), (20, 5)])  # labelling the next image, left in progress
    kept = []
    for _ in range(2):  # two rounds on their own, while the user labels
        qtbot.waitUntil(lambda: loop.service.keeping_on, timeout=ROUND_TIMEOUT_MS)
        assert loop.panel.round_label.text().startswith("Training on the done images")
        with qtbot.waitSignal(loop.round_finished, timeout=ROUND_TIMEOUT_MS) as finished:
            pass
        kept.append(finished.args[0])
    for outcome in kept:
        assert outcome.status == "published" and "while you label" in outcome.message
        seen = {ref.id for ref in outcome.model.card.train_images}
        seen |= {ref.id for ref in outcome.model.card.validation_images}
        assert seen == {first}  # the image being labelled is left out
        assert outcome.model.card.training.kept_on  # and its card says how it was made
    qtbot.waitUntil(lambda: "while you labelled" in loop.panel.device_label.text())
    loop.panel.keep_check.setChecked(False)  # off: the setting is stored, the round stops
    assert loop.service.settings.keep_training is False
    qtbot.waitUntil(lambda: not loop.service.training, timeout=ROUND_TIMEOUT_MS)
    versions = loop.service.active_version
    qtbot.wait(1500)
    assert not loop.service.training and loop.service.active_version == versions
    w.close()
    with Project.open(loop_project) as p:
        assert load_settings(p).keep_training is False
