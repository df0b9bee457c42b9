"""The loop controller on its own: a fake workspace, real actions, no MainWindow."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest
from guihelpers import FakeWorkspace, loop_on, model_file
from PySide6.QtWidgets import QFileDialog, QWidget

import annotator.gui.loop_controller as loop_module
from annotator.core.proposal import Proposal
from annotator.gui.actions import make_actions
from annotator.gui.dispatch import GuiDispatcher
from annotator.gui.loop_controller import LoopController
from annotator.gui.proposal_layers import TRANSPARENT, proposal_codes
from annotator.ml.checkpoint import load_checkpoint
from annotator.storage.project import Project


@pytest.fixture
def setup(qtbot, project_dir):
    project = Project.open(project_dir)
    loop, ws, actions = loop_on(qtbot, project)
    loop.set_project(project)
    yield loop, ws, actions
    loop.close()
    ws.session.close()
    project.close()


def test_the_controller_imports_nothing_of_the_window():
    tree = ast.parse(Path(loop_module.__file__).read_text(encoding="utf-8"))
    imported = {
        node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    }
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert not {m for m in imported if m.startswith("annotator.gui.main_window")}
    assert "annotator.gui.canvas" not in imported


def test_accept_edits_the_document_and_reports_through_signals(setup, qtbot):
    loop, ws, actions = setup
    doc = ws.session.open_image(ws.session.images()[0].id)
    loop.image_opened(doc)
    assert not actions["accept"].isEnabled()  # no proposal yet
    mask = np.zeros(doc.label_map.shape, np.uint8)
    mask[:, 32:] = 1
    proposal = Proposal(None, mask, np.zeros(mask.shape, np.float32), 0.2, 4)
    loop.layers.show(doc, proposal, ws.schema)
    loop.update_enabled()
    assert actions["accept"].isEnabled() and actions["accept_class"].isEnabled()
    ws.value = 1
    with qtbot.waitSignal(loop.message) as shown:
        loop.accept(True)
    assert shown.args == ["Accepted the proposal of model v4", 3000]
    assert ws.finished == 1
    assert (doc.label_map.array[:, 32:] == 1).all()
    assert (doc.label_map.array[:, :32] == doc.label_map.unlabelled).all()
    assert doc.label_source == "proposal:v4+user"
    ws.value = doc.label_map.void
    loop.accept(True)  # void is no class of the model: nothing happens
    assert doc.history.undo_count == 1


def test_accept_under_protected_painting_writes_over_the_protected_class_only(setup, qtbot):
    loop, ws, _actions = setup
    doc = ws.session.open_image(ws.session.images()[0].id)
    loop.image_opened(doc)
    unl = doc.label_map.unlabelled
    doc.assign(0, _columns(doc.label_map.shape, 0, 40))  # a fill too big
    doc.paint_stroke([(50, 10)], 2, 1)
    mask = np.zeros(doc.label_map.shape, np.uint8)
    mask[:, 20:] = 1
    loop.layers.show(doc, Proposal(None, mask, np.zeros(mask.shape, np.float32), 0.2, 7), ws.schema)
    ws.protected = 0
    with qtbot.waitSignal(loop.message) as shown:
        loop.accept(False)
    name = ws.schema.names[0]
    assert shown.args == [f"Accepted the proposal of model v7 over {name}", 3000]
    a = doc.label_map.array
    assert (a[:, :20] == 0).all() and (a[:, 20:40] == 1).all()  # only over class 0
    assert (a[:, 40:] != 0).all() and (a[:, 60:] == unl).all()  # the rest is untouched
    assert a[10, 50] == 1  # the user's stroke stays
    assert doc.history.undo_count == 3
    doc.undo()
    assert (a[:, 20:40] == 0).all()
    ws.protected = unl  # "only unlabelled" is what a plain accept does
    loop.accept(False)
    assert (a[:, 40:] == 1).all() and (a[:, 20:40] == 0).all()


def test_the_proposal_is_drawn_only_where_accept_would_write(setup):
    loop, ws, _actions = setup
    doc = ws.session.open_image(ws.session.images()[0].id)
    loop.image_opened(doc)
    a, unl = doc.label_map.array, doc.label_map.unlabelled
    doc.assign(0, _columns(doc.label_map.shape, 0, 16))
    mask = np.zeros(doc.label_map.shape, np.uint8)
    mask[:, 32:] = 1
    loop.layers.show(doc, Proposal(None, mask, np.zeros(mask.shape, np.float32), 0.2, 2), ws.schema)
    codes = proposal_codes(mask, len(ws.schema))
    shown = loop.layers.proposal_item.labels
    assert shown is not None and (shown == codes).all()  # drawn everywhere until told
    loop.view_changed()  # no protection: accept writes the unlabelled pixels
    assert (shown[:, :16] == TRANSPARENT).all() and (shown[:, 16:] == codes[:, 16:]).all()
    doc.paint_stroke([(40, 20)], 3, 1)  # a stroke hides the proposal under it, box by box
    assert (shown[a != unl] == TRANSPARENT).all() and (shown[a == unl] == codes[a == unl]).all()
    doc.undo()
    assert (shown[:, 16:] == codes[:, 16:]).all()
    ws.protected = 0  # "only over class 0": accept writes there, so the proposal shows there
    loop.view_changed()
    assert (shown[:, :16] == codes[:, :16]).all() and (shown[:, 16:] == TRANSPARENT).all()
    ws.protected, ws.proposal_tool = None, True  # the proposal brush may write anywhere
    loop.view_changed()
    assert (shown == codes).all()
    ws.protected = 0  # ... or, protected, over class 0 only, as accept
    loop.view_changed()
    assert (shown[:, 16:] == TRANSPARENT).all()
    ws.protected, ws.proposal_tool, ws.shown = None, False, False  # labels hidden: all of it
    loop.view_changed()
    assert (shown == codes).all()
    loop.image_opened(doc)  # the layers let go of the document
    doc.paint_stroke([(10, 10)], 3, 1)
    assert loop.layers.proposal is None and loop.layers.proposal_item.labels is None


def test_import_and_export_of_a_model_file(setup, qtbot, tmp_path, monkeypatch):
    loop, ws, actions = setup
    assert actions["import_model"].isEnabled() and not actions["export_model"].isEnabled()
    given = model_file(tmp_path / "lab.pt", ws.schema.names)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(given), ""))
    loop.panel.round_finished("cancelled: the model version is unchanged", False)
    with qtbot.waitSignal(loop.version_changed) as changed:
        loop.import_model()  # asks for the file
    assert changed.args == [1]
    assert "imported from lab.pt (its v5" in loop.panel.device_label.text()
    # the round's line says what happened last, not the news of a round before
    assert loop.panel.round_label.text() == "Imported lab.pt as model v1: its proposals are shown."
    assert actions["export_model"].isEnabled()
    out = tmp_path / "again.pt"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), ""))
    with qtbot.waitSignal(loop.message) as shown:
        loop.export_model()
    assert shown.args[0] == f"Wrote model v1 to {out}"
    assert load_checkpoint(out).card.imported_from.startswith("lab.pt")
    wrong = model_file(tmp_path / "roads.pt", ["road", "car", "sky"])
    with qtbot.waitSignal(loop.error) as failed:
        loop.import_model(wrong)
    assert failed.args[0] == (
        f"Import failed: {wrong} is a model file for other classes (road, car, sky) than "
        "this project's (background, cell, membrane); a model fits a project whose classes "
        "are the same, in the same order, or begin with them"
    )
    assert [m.version for m in ws.session.project.models()] == [1]


def test_an_onnx_file_to_import_names_the_apps_export(setup, qtbot, tmp_path):
    """An ONNX file is refused as a model to import: the refusal says to export the
    version's .pt file with Model > Export model…, not with ``annotator models
    --export`` (the CLI's words: ``tests/ml/test_model_files.py``)."""
    loop, _ws, _actions = setup
    onnx = tmp_path / "lab.onnx"
    onnx.write_bytes(b"not read: refused by its name")
    with qtbot.waitSignal(loop.error) as failed:
        loop.import_model(onnx)
    assert failed.args[0] == (
        f"Import failed: {onnx}: an ONNX file holds no training weights and cannot be "
        "imported; import the version's .pt export (Model > Export model… in its project)"
    )


def _columns(shape, x0, x1):
    where = np.zeros(shape, bool)
    where[:, x0:x1] = True
    return where


def test_next_suggested_asks_for_an_image_instead_of_opening_it(setup, qtbot):
    loop, ws, actions = setup
    ids = [r.id for r in ws.session.images()]
    with qtbot.waitSignal(loop.open_requested) as asked:
        loop.open_next_suggested()
    assert asked.args[0] in ids
    assert ws.document is None  # the controller opened nothing itself


def test_training_with_nothing_labelled_is_a_hint_not_a_failure(setup, qtbot):
    """It said "Training failed: no labelled images yet: paint some pixels of each class
    first" three times: in a box, in red on the panel and in the status bar."""
    loop, ws, actions = setup
    ws.session.open_image(ws.session.images()[0].id)
    errors: list[str] = []
    loop.error.connect(errors.append)
    hint = "Nothing labelled yet: paint a few strokes of each class, then Train now."
    with qtbot.waitSignal(loop.message) as said:
        loop.train_now()
    assert said.args == [hint, 10000]
    assert ws.saved == 1 and ws.finished == 1
    assert errors == [] and loop._error_box is None  # no box
    assert loop.panel.error_label.isHidden() and loop.panel.round_label.text() == hint
    assert loop.service is not None and loop.service.rounds_started == 0


def test_scores_arrive_batched_through_a_signal(setup, qtbot):
    loop, _ws, _actions = setup
    loop._scores({1: 0.5})
    loop._scores({2: 0.25})
    with qtbot.waitSignal(loop.scores_changed, timeout=2000) as got:
        pass
    assert got.args[0] == {1: 0.5, 2: 0.25}


def test_missing_actions_are_refused(qtbot, project_dir):
    host = QWidget()
    qtbot.addWidget(host)
    actions = make_actions(host)
    del actions["accept"]
    with pytest.raises(ValueError, match="accept"):
        LoopController(FakeWorkspace(None), GuiDispatcher(host), actions, host)  # type: ignore[arg-type]


def test_idle_retraining_waits_for_a_stroke_in_progress(setup, monkeypatch):
    loop, ws, _actions = setup
    asked = []
    monkeypatch.setattr(loop.service, "train_if_dirty", lambda: asked.append("round"))
    doc = ws.session.open_image(ws.session.images()[0].id)
    loop.image_opened(doc)
    doc.begin_stroke()
    doc.paint_stroke([(10, 10), (20, 10)], 3, 1)
    loop._idle()  # the timer fired in the middle of the stroke
    assert loop.idle_timer.isActive() and asked == []
    doc.commit_stroke()
    loop.idle_timer.stop()
    loop._idle()
    assert asked == ["round"] and not loop.idle_timer.isActive()


def test_the_window_wires_the_loop_signals_to_its_status_bar_list_and_images(window):
    loop = window.loop
    ids = [r.id for r in window.session.images()]
    loop.message.emit("a loop message", 5000)
    assert window.statusBar().currentMessage() == "a loop message"
    loop.scores_changed.emit({ids[2]: 0.75})
    texts = [window.image_list.text(i) for i in range(window.image_list.count())]
    assert any(t.endswith("0.750") for t in texts)
    loop.open_requested.emit(ids[2])
    assert window.document.image_id == ids[2]
    assert loop.layers.uncertainty_item.scene() is window.canvas.scene()
    assert loop.layers.proposal_item.scene() is window.canvas.scene()


def test_the_model_menu_imports_a_model_file(window, qtbot, tmp_path, monkeypatch):
    given = model_file(tmp_path / "lab.pt", window.session.schema.names)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(given), ""))
    with qtbot.waitSignal(window.loop.version_changed):
        window.actions_["import_model"].trigger()
    assert window.session.project.active_model().card.imported_from.startswith("lab.pt")
    assert window.statusBar().currentMessage() == "Imported lab.pt as model v1"


def test_the_same_error_again_is_not_boxed_again(setup, qtbot):
    """A proposal that fails on every image opened (classes renamed) tells the user once
    in a box; the status bar and the model panel keep saying it."""
    from annotator.core.errors import ModelError

    loop, _ws, _actions = setup
    said = []
    loop.message.connect(lambda text, _ms: said.append(text))
    loop._error("proposal", ModelError("the classes changed"))
    box = loop._error_box
    assert box is not None and box.isVisible()
    box.hide()  # the user closes it
    loop._error("proposal", ModelError("the classes changed"))
    assert not box.isVisible() and len(said) == 2
    loop._error("training", ModelError("something else"))
    assert box.isVisible()


def test_a_box_of_a_failed_round_closes_when_a_later_round_starts_or_publishes(setup):
    """ "Training failed: no labelled images yet" stayed over the canvas, non-modal, after
    the next round had published a model."""
    from annotator.core.errors import ModelError

    loop, _ws, _actions = setup
    loop._error("training", ModelError("no labelled images yet"))
    box = loop._error_box
    assert box is not None and box.isVisible()
    loop._round_started()
    assert not box.isVisible()
    loop._error("training", ModelError("no labelled images yet"))  # again: news again
    assert box.isVisible()
    loop._version_changed(None)  # published (or rolled back): no longer true
    assert not box.isVisible()
    loop._error("proposal", ModelError("cannot propose"))
    loop._version_changed(None)
    assert not box.isVisible()
    loop._error("import", ModelError("not a model file"))  # the user's own action: stays
    loop._round_started()
    assert box.isVisible()


def test_a_big_proposal_is_drawn_from_codes_made_off_the_gui_thread(setup, qtbot, monkeypatch):
    """At 100 MP the proposal's codes took the GUI thread 1.5-2 s when it arrived."""
    import threading

    from annotator.gui import proposal_layers

    loop, ws, actions = setup
    doc = ws.session.open_image(ws.session.images()[0].id)
    loop.image_opened(doc)
    loop.layers.background_pixels = 1  # (as a 4 MP proposal)
    made = []
    real = proposal_layers.proposal_codes
    monkeypatch.setattr(
        proposal_layers,
        "proposal_codes",
        lambda *a: made.append(threading.current_thread()) or real(*a),
    )
    mask = np.zeros(doc.label_map.shape, np.uint8)
    mask[:, 32:] = 1
    proposal = Proposal(None, mask, np.zeros(mask.shape, np.float32), 0.2, 4)
    shown = []
    loop.proposal_shown.connect(lambda image_id, version: shown.append((image_id, version)))
    loop._proposal(doc.image_id, 4, proposal)
    assert loop.layers.proposal is None and not actions["accept"].isEnabled()  # not yet
    qtbot.waitUntil(lambda: shown == [(doc.image_id, 4)], timeout=5000)
    assert made and threading.current_thread() not in made
    assert loop.layers.proposal is proposal and actions["accept"].isEnabled()
    np.testing.assert_array_equal(loop.layers.proposal_item.labels, real(mask, len(ws.schema)))
    # Another image opened while the codes are made: they are dropped.
    loop._proposal(doc.image_id, 5, Proposal(None, mask, proposal.uncertainty, 0.2, 5))
    loop.image_opened(ws.session.open_image(ws.session.images()[1].id))
    assert loop.layers._worker is not None and loop.layers._worker.wait_idle(5)
    qtbot.wait(50)
    assert shown == [(doc.image_id, 4)] and loop.layers.proposal is None


# --- class edits, project switches and idle rounds around a running round ---------------------
def _shown_proposal(loop, ws, version=4):
    doc = ws.session.open_image(ws.session.images()[0].id)
    loop.image_opened(doc)
    mask = np.zeros(doc.label_map.shape, np.uint8)
    mask[:, 32:] = 1
    loop.layers.show(
        doc, Proposal(None, mask, np.zeros(mask.shape, np.float32), 0.2, version), ws.schema
    )
    loop.update_enabled()
    return doc, mask


def test_an_added_class_redraws_the_proposal_in_the_right_colours(setup):
    loop, ws, _actions = setup
    _doc, mask = _shown_proposal(loop, ws)
    ws.session.add_class("debris")
    loop.schema_changed(ws.schema)
    n = len(ws.schema)
    shown = loop.layers.proposal_item.labels
    codes = proposal_codes(mask, n)
    assert (shown == codes).all()  # the codes follow the new class count
    assert loop.layers.proposal is not None  # the version still fits: still shown


def test_a_renamed_class_takes_the_proposal_away(setup, monkeypatch):
    loop, ws, actions = setup
    _shown_proposal(loop, ws)
    assert actions["accept"].isEnabled()
    asked = []
    monkeypatch.setattr(loop.service, "refresh_proposals", lambda: asked.append("again"))
    ws.session.rename_class(1, "nucleus")
    loop.schema_changed(ws.schema)
    assert loop.layers.proposal is None and not actions["accept"].isEnabled()
    assert asked == ["again"]  # asked again: the worker says why it cannot propose


def test_closing_the_project_forgets_its_round(setup):
    loop, ws, _actions = setup
    loop.panel.round_started()
    loop.panel.show_progress(14, 0.4, 3.0, 0.9, "train")
    closed = []
    loop.closed.connect(lambda: closed.append(True))
    loop.close()
    assert closed == [True]
    assert loop.panel.round_label.text() == "" and loop.panel.progress.value() == 0
    assert not loop.panel.cancel_button.isEnabled()


def test_edits_made_during_a_round_are_retrained_once_idle(setup, monkeypatch):
    from annotator.services.training_rounds import RoundOutcome

    loop, ws, _actions = setup
    loop.service.update_settings(idle_retrain_s=1)
    service = loop.service
    monkeypatch.setattr(type(service), "training", property(lambda self: True))
    loop.labels_committed()  # an edit during the round
    loop.idle_timer.stop()
    loop._idle()  # fires while the round runs: skipped
    assert not loop.idle_timer.isActive()
    monkeypatch.setattr(type(service), "training", property(lambda self: False))
    loop._round_finished(RoundOutcome("published", None, "published model v1"))
    assert service.labels_dirty and loop.idle_timer.isActive()  # re-armed


def test_rolling_back_to_a_version_of_other_classes_says_so_in_the_panels_words(setup, tmp_path):
    """It said "Rollback failed: <its checkpoint's path>: ..." (found by a GUI audit)."""
    from annotator.services import versions

    loop, ws, _ = setup
    project = loop.service.project
    versions.import_model(project, model_file(tmp_path / "a.pt", ws.schema.names))
    versions.import_model(project, model_file(tmp_path / "b.pt", ws.schema.names))
    loop.service.reread_active()
    names = ", ".join(project.schema.names)
    project.set_schema(project.schema.renamed(1, "renamed"))
    loop.rollback(1)
    said = loop.panel.error_label.text()
    assert said.startswith(f"Rollback failed: model v1 was trained for other classes ({names})")
    assert str(project.root) not in said
    assert said.endswith(
        "no stored version was made for them; train from scratch (Model > Train from scratch)"
    )
    assert project.active_model().version == 2
