"""What the window says about rounds and proposals: a round's phases in words, a version
scored on too few labels, the classes a round had no labels of, and A while the proposal
is still coming."""

from __future__ import annotations

from guihelpers import center, drag, model_file
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from annotator.core.card import CardMetrics, ModelCard
from annotator.gui.main_window import MainWindow
from annotator.gui.model_panel import version_text
from annotator.services import versions
from annotator.services.model_service import ModelSettings
from annotator.services.proposals import ProposalWorker
from annotator.storage.project import Project

NAMES = ("background", "cell", "membrane")  # the conftest project's classes
TINY = ModelSettings(
    seconds=None, steps=3, device="cpu", depth=2, width=4, crop=64, batch_size=4, threads=1
)


def _open(qtbot, root, settings=None) -> MainWindow:
    w = MainWindow()
    qtbot.addWidget(w)
    w.resize(900, 700)
    w.loop.settings_override = settings or ModelSettings(train_on_done=False)
    with qtbot.waitActive(w):  # window shortcuts need an active window
        w.show()
        w.activateWindow()
    w.open_project(root)
    center(w.canvas)
    return w


def test_a_while_the_proposal_is_coming_says_so_instead_of_nothing(
    qtbot, project_dir, tmp_path, monkeypatch
):
    with Project.open(project_dir) as p:
        versions.import_model(p, model_file(tmp_path / "m.pt", NAMES))
    monkeypatch.setattr(ProposalWorker, "submit", lambda self, request: None)  # still coming
    w = _open(qtbot, project_dir)
    assert w.document is not None and not w.actions_["accept"].isEnabled()
    said = []
    w.loop.message.connect(lambda text, _ms: said.append(text))
    QTest.keyClick(w.canvas, Qt.Key.Key_A)
    assert said == ["The proposal of this image is not ready yet."]
    assert w.statusBar().currentMessage() == "The proposal of this image is not ready yet."
    QTest.keyClick(w.canvas, Qt.Key.Key_A, Qt.KeyboardModifier.ShiftModifier)
    assert len(said) == 2
    QTest.keyClick(w.canvas, Qt.Key.Key_B)  # (another key: not a word about proposals)
    assert len(said) == 2
    w.close()


def test_a_without_a_model_says_how_to_get_one(qtbot, project_dir):
    w = _open(qtbot, project_dir)
    said = []
    w.loop.message.connect(lambda text, _ms: said.append(text))
    QTest.keyClick(w.canvas, Qt.Key.Key_A)
    assert said and said[0].startswith("No model yet: paint some pixels of each class")
    w.close()


def test_every_phase_of_a_round_shows_in_the_status_bar_and_the_panel(qtbot, project_dir):
    from annotator.ml.progress import TrainProgress  # (no torch: what the GUI thread reads)

    w = _open(qtbot, project_dir)
    w.activity.round_started()
    w.loop.panel.round_started()
    assert w.activity.text in ("Training round 1: starting…", "Training round 1: loading torch…")
    for report in (
        TrainProgress.starting("load", "loading 12 labelled images", None, 30.0),
        TrainProgress.starting("prepare", "preparing 12 labelled images and the network"),
        TrainProgress(
            40, None, 31.0, 30.0, 0.2, "validate", detail="scoring on 4,096 validation pixels"
        ),
        TrainProgress(40, None, 31.0, 30.0, 0.2, "write", detail="writing model v3"),
    ):
        w.loop._progress(report)
        assert w.activity.text == f"Training round 1: {report.detail}…"
        assert w.loop.panel.round_label.text() == f"Training: {report.detail}…"
    w.loop._progress(TrainProgress(5, None, 3.0, 30.0, 0.5))
    assert w.activity.text == "Training round 1: 10 % (step 5, loss 0.500)"
    w.close()


def _card(version, metrics) -> ModelCard:
    return ModelCard(version=version, architecture={"arch": "fcn"}, classes=NAMES, metrics=metrics)


def test_a_version_scored_on_three_pixels_of_one_class_says_not_scored(qtbot, project_dir):
    tiny = CardMetrics(
        loss=0.7,
        pixel_accuracy=1.0,
        mean_iou=1.0,
        iou={"background": 1.0, "cell": None, "membrane": None},
        val_pixels=3,
        class_pixels={"background": 3, "cell": 0, "membrane": 0},
    )
    with Project.open(project_dir) as p:
        p.register_model(1, None, "models/v1/model.pt", _card(1, tiny))
    w = _open(qtbot, project_dir)
    panel = w.loop.panel
    text = panel.version_label.text()
    assert "not scored: too few validation labels (3 pixels of 1 class)" in text
    assert "1.00" not in text
    assert "  not scored" in panel.version_combo.currentText()
    assert [s.values for s in panel.chart.series] == [(None,), (None,), (None,)]
    w.close()


def test_a_version_scored_on_some_classes_says_how_many(qtbot, project_dir):
    fair = CardMetrics(
        loss=0.3,
        pixel_accuracy=0.9,
        mean_iou=0.8,
        iou={"background": 0.9, "cell": 0.7, "membrane": None},
        val_pixels=5000,
        class_pixels={"background": 4000, "cell": 1000, "membrane": 0},
    )
    with Project.open(project_dir) as p:
        record = p.register_model(1, None, "models/v1/model.pt", _card(1, fair))
    w = _open(qtbot, project_dir)
    assert "validation mean IoU 0.80 over 2 of 3 classes" in w.loop.panel.version_label.text()
    assert version_text(record, when=False) == "v1  mIoU 0.80 over 2 of 3 classes"
    w.close()


def test_a_round_without_labels_of_some_classes_says_which(qtbot, project_dir):
    w = _open(qtbot, project_dir, TINY)
    w.canvas.set_brush_radius(2)
    QTest.keyClick(w.canvas, Qt.Key.Key_1)  # background and cell, no membrane
    drag(w.canvas, [(4, 4), (60, 4), (60, 60)])
    QTest.keyClick(w.canvas, Qt.Key.Key_2)
    drag(w.canvas, [(25, 25), (35, 35)])
    with qtbot.waitSignal(w.loop.round_finished, timeout=60_000) as finished:
        w.loop.train_now()
    outcome = finished.args[0]
    assert outcome.status == "published", outcome.message
    # (labels of one class alone start no round: tests/gui/test_ux_audit.py)
    assert outcome.message.endswith(
        "; class membrane has no labels yet: the model cannot propose it until you paint "
        "some pixels of it"
    )
    assert "no labels yet" in w.loop.panel.round_label.text()
    w.close()
