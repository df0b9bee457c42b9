"""Findings of a UX audit of the window: Train now with one class labelled, a newer
version that scores lower, zooming out a small image to a dot, controls active with no
project, a class key beyond the classes, the image list's score."""

from __future__ import annotations

import pytest
from guihelpers import SIZE, drag, shown_window
from modelhelpers import tiny_settings
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QMessageBox

from annotator.core.card import CardMetrics, CardTraining, ModelCard
from annotator.core.records import ModelRecord
from annotator.core.schema import LabelSchema
from annotator.gui.canvas import MIN_ZOOM, least_zoom
from annotator.gui.main_window import MainWindow
from annotator.gui.model_panel import ModelPanel, score_drop

ONE_CLASS = (
    "Only 'cell' is labelled so far: a model needs at least two classes to tell apart "
    "(label some 'background' or 'membrane' too)"
)


def _paint_cell(w) -> None:
    QTest.keyClick(w.canvas, Qt.Key.Key_2)  # cell
    w.canvas.set_brush_radius(2)
    drag(w.canvas, [(10, 10), (40, 10)])


def test_train_now_with_one_class_labelled_says_what_is_missing(qtbot, project_dir):
    """It trained a model that could only ever propose that class."""
    w = shown_window(qtbot, project_dir)
    w.loop.settings_override = tiny_settings(steps=5)
    w.open_project(project_dir)
    _paint_cell(w)
    QTest.keyClick(w.canvas, Qt.Key.Key_T, Qt.KeyboardModifier.ControlModifier)
    # Short in the status bar (cut at "(label s" in a 1000 px window), all of it in the
    # status bar's tooltip and the model panel.
    assert w.statusBar().currentMessage() == "Only 'cell' is labelled so far: see the Model panel"
    assert w.statusBar().toolTip() == ONE_CLASS
    panel = w.loop.panel
    assert panel.round_label.text() == ONE_CLASS and panel.error_label.isHidden()
    assert not [b for b in w.findChildren(QMessageBox) if b.isVisible()]  # no box
    assert w.loop.service is not None and w.loop.service.rounds_started == 0
    # a stroke of another class: the round starts
    QTest.keyClick(w.canvas, Qt.Key.Key_1)
    drag(w.canvas, [(10, 50), (40, 50)])
    with qtbot.waitSignal(w.loop.round_started, timeout=10_000):
        QTest.keyClick(w.canvas, Qt.Key.Key_T, Qt.KeyboardModifier.ControlModifier)
    w.loop.cancel_training()
    w.loop.service.wait_training(60)
    w.close()


def _version(version, iou, parent, *, stored_scores=True, imported=None) -> ModelRecord:
    names = ("background", "cell")
    metrics = (
        CardMetrics(mean_iou=iou, iou=dict.fromkeys(names, iou), val_pixels=5000)
        if stored_scores
        else CardMetrics()
    )
    card = ModelCard(
        version=version,
        architecture={"arch": "fcn", "depth": 2, "width": 8},
        classes=names,
        parent=parent,
        metrics=metrics,
        training=CardTraining(device="cpu", steps=10),
        imported_from=imported,
    )
    return ModelRecord(version, parent, "2026-12-01T10:31:09+00:00", f"m{version}", card)


@pytest.fixture
def panel(qtbot):
    p = ModelPanel()
    qtbot.addWidget(p)
    p.resize(320, 700)
    p.show()
    return p


def test_a_newer_version_that_scores_lower_is_said_with_both_choices(panel, qtbot):
    """v5 became active though it scored below v4, and nothing said so."""
    schema = LabelSchema.from_names(["background", "cell"])
    models = [_version(4, 0.86, 3), _version(5, 0.81, 4)]
    panel.set_models(models, models[1], schema, stored={4, 5})
    assert panel.drop_box.isVisible()
    assert panel.drop_label.text() == (
        "v5 scores 0.81 on the labels it held out, below v4's 0.86 (each version holds out "
        "other labels). v5 is active: roll back to v4 if its proposals were better."
    )
    assert panel.drop_back_button.text() == "Roll back to v4"
    assert panel.drop_keep_button.text() == "Keep v5"
    panel.grab().save("/tmp/ux-audit-model-panel.png")
    with qtbot.waitSignal(panel.rollback_requested) as asked:
        panel.drop_back_button.click()
    assert asked.args == [4]
    panel.drop_keep_button.click()
    assert not panel.drop_box.isVisible()
    panel.set_models(models, models[1], schema, stored={4, 5})  # (the next round's news)
    assert not panel.drop_box.isVisible()  # kept: not said again
    panel.clear_round()  # another project
    panel.set_models(models, models[1], schema, stored={4, 5})
    assert panel.drop_box.isVisible()


def test_a_rollback_to_the_lower_version_is_a_choice_not_news(panel):
    schema = LabelSchema.from_names(["background", "cell"])
    models = [_version(4, 0.86, 3), _version(5, 0.81, 4)]
    panel.set_models(models, models[0], schema)
    assert not panel.drop_box.isVisible()  # v4 active: nothing to say
    panel.set_models(models, models[1], schema)
    panel.rolled_back(5)  # the user picked v5 in the list
    assert not panel.drop_box.isVisible()


def test_which_drops_are_said():
    v4, v5 = _version(4, 0.86, 3), _version(5, 0.81, 4)
    assert score_drop([v4, v5], v5) is not None
    assert score_drop([v4, _version(5, 0.85, 4)], _version(5, 0.85, 4)) is None  # noise
    assert score_drop([v4, _version(5, 0.9, 4)], _version(5, 0.9, 4)) is None
    unscored = _version(5, 0.0, 4, stored_scores=False)
    assert score_drop([v4, unscored], unscored) is None
    imported = _version(5, 0.5, None, imported="m.pt")
    assert score_drop([v4, imported], imported) is None
    scratch = _version(6, 0.5, None)  # from scratch: the newest before it
    drop = score_drop([v4, v5, scratch], scratch, stored={4})
    assert drop is not None and drop.earlier == 5 and not drop.stored
    assert "cannot be rolled back to" in drop.text()


def test_zooming_out_stops_before_a_small_image_is_a_dot(window):
    c = window.canvas
    for _ in range(60):
        c.zoom_step(0.8)
    # a 64 px image in a view of hundreds: 1:1 at the farthest (it went to 1/64: 1 px)
    assert c.zoom == pytest.approx(1.0)
    assert c.least_zoom() == 1.0
    # a bigger one stops where it takes a quarter of the view across
    assert least_zoom(4000, 2000, 800, 600) == pytest.approx(0.25 * 800 / 4000)
    assert least_zoom(200_000, 1000, 800, 600) == MIN_ZOOM  # a huge one, as before
    # on a high-density screen one image pixel per device pixel stays reachable
    assert least_zoom(SIZE, SIZE, 800, 600, pixel_ratio=2.0) == 0.5


NEED_A_PROJECT = (
    "toggle_protection",
    "toggle_proposal",
    "toggle_uncertainty",
    "proposal_fainter",
    "proposal_stronger",
    "train_now",
    "accept",
    "tool_brush",
)


def test_with_no_project_open_its_controls_are_disabled(qtbot, project_dir):
    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    enabled = [n for n in NEED_A_PROJECT if w.actions_[n].isEnabled()]
    assert enabled == []
    assert not w.protection.isEnabled() and not w.cleanup_spin.isEnabled()
    assert not w.edges_check.isEnabled()
    w.open_project(project_dir)
    for name in ("toggle_protection", "toggle_proposal", "tool_brush", "train_now"):
        assert w.actions_[name].isEnabled(), name
    assert w.protection.isEnabled() and w.edges_check.isEnabled()
    assert not w.tolerance_spin.isEnabled()  # (its own rule: until Fill to edges)
    w.close()


def test_a_class_key_beyond_the_classes_says_so(window):
    before = window.canvas.current_value
    QTest.keyClick(window.canvas, Qt.Key.Key_7)
    assert window.statusBar().currentMessage() == "No class 7: the project has 3 classes (1-3)"
    assert window.canvas.current_value == before
    QTest.keyClick(window.canvas, Qt.Key.Key_0)  # the tenth
    assert window.statusBar().currentMessage().startswith("No class 10: ")
    QTest.keyClick(window.canvas, Qt.Key.Key_3)
    assert window.canvas.current_value == 2


def test_the_image_list_says_what_its_score_means(window):
    from dataclasses import replace

    model = window.image_list.model
    model.rows[0] = replace(model.rows[0], score=0.873)
    tip = model.data(model.index(0), Qt.ItemDataRole.ToolTipRole)
    assert "uncertainty score 0.873" in tip and "label next" in tip
    assert "no score yet" in model.data(model.index(1), Qt.ItemDataRole.ToolTipRole)
