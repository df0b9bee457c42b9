"""The model panel's findings of a GUI audit: the IoU chart's version names and light
class colours, the versions list (trained while you labelled, no versions yet), the idle
progress bar, a rollback's line after a rename, and the words of the panel and the
status bar."""

from __future__ import annotations

import re
import time

import pytest
from guihelpers import loop_on
from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QInputDialog

import annotator.gui.model_panel as panel_module
from annotator.core.card import CardMetrics, CardTraining, ModelCard
from annotator.core.records import ModelRecord
from annotator.core.schema import LabelSchema
from annotator.gui.model_panel import (
    IouChart,
    IouSeries,
    ModelPanel,
    ask_architecture,
    iou_series,
)
from annotator.services.training_rounds import CANCELLED_MESSAGE, RoundOutcome
from annotator.storage.project import Project

NAMES = ("background", "cell", "nucleus")


def _record(
    version: int,
    names=NAMES,
    *,
    kept_on=False,
    steps=15,
    parameters=1_840_000,
    imported_from=None,
) -> ModelRecord:
    card = ModelCard(
        version=version,
        architecture={"arch": "fcn", "depth": 2, "width": 8},
        classes=tuple(names),
        metrics=CardMetrics(mean_iou=0.6, iou={n: 0.6 for n in names}),
        training=CardTraining(device="cpu", steps=steps, kept_on=kept_on),
        parameters=parameters,
        imported_from=imported_from,
    )
    return ModelRecord(version, None, "2026-12-01T10:31:09.5+00:00", f"m{version}", card)


@pytest.fixture
def panel(qtbot):
    p = ModelPanel()
    qtbot.addWidget(p)
    return p


def _drawn_texts(monkeypatch, widget) -> list[tuple[QRectF, str]]:
    """Render ``widget`` and return the texts its paintEvent drew in a rectangle."""
    drawn: list[tuple[QRectF, str]] = []

    class Recording(QPainter):
        def drawText(self, *args):  # noqa: N802 (Qt API)
            if len(args) == 3 and isinstance(args[0], QRectF) and isinstance(args[2], str):
                drawn.append((QRectF(args[0]), args[2]))
            return super().drawText(*args)

    monkeypatch.setattr(panel_module, "QPainter", Recording)
    widget.grab()
    return drawn


def test_the_version_names_under_the_chart_never_run_together(qtbot, monkeypatch):
    """34 versions in the 312 px panel read "v9v13v17v21v25v29v334"."""
    chart = IouChart()
    qtbot.addWidget(chart)
    chart.resize(300, 160)  # (the chart's width in a 312 px panel)
    schema = LabelSchema.from_names(list(NAMES))
    models = [_record(v) for v in range(1, 35)]
    versions, series = iou_series(models, schema)
    chart.set_data(versions, series, 20)
    fm = chart.fontMetrics()
    names = [(r, t) for r, t in _drawn_texts(monkeypatch, chart) if re.fullmatch(r"v\d+", t)]
    # where each name's ink lies (centred in the rectangle it was drawn in)
    spans = sorted(
        (
            r.center().x() - fm.horizontalAdvance(t) / 2,
            r.center().x() + fm.horizontalAdvance(t) / 2,
            t,
        )
        for r, t in names
    )
    assert len(spans) >= 4
    for (_, right, a), (left, _, b) in zip(spans, spans[1:], strict=False):
        assert left - right >= 4, f"{a} and {b} touch"
    shown = {t for _, _, t in spans}
    assert {"v1", "v34", "v20"} <= shown  # the first, the last, the active one
    assert all(lo >= 0 and hi <= chart.width() for lo, hi, _ in spans)
    chart.resize(900, 160)  # wider: more names
    assert len(chart.axis_labels()) > len(spans)


def test_a_light_class_colour_gets_a_dark_edge_in_the_chart(qtbot):
    """The default membrane yellow was hard to see on the white chart."""
    chart = IouChart()
    qtbot.addWidget(chart)
    chart.resize(300, 160)

    def swatch(colour: QColor) -> tuple[QColor, QColor]:
        """The colours of the legend's swatch: inside, and on its left edge."""
        chart.set_data([1, 2], [IouSeries("membrane", colour, (0.5, 0.6))], 2)
        shot = chart.grab().toImage()
        fm = chart.fontMetrics()
        x = chart.width() - chart.legend().entry_width  # the legend's first row, beside
        middle = 8 + 3 + (fm.height() - 6) // 2
        return shot.pixelColor(x + 5, middle), shot.pixelColor(x, middle)

    yellow = QColor(255, 220, 0)
    inside, edge = swatch(yellow)
    assert inside.rgb() == yellow.rgb() and edge.value() < 150  # a dark edge
    dark = QColor(0, 0, 160)
    assert [c.rgb() for c in swatch(dark)] == [dark.rgb()] * 2  # as it was


def test_the_versions_list_marks_the_versions_kept_on(panel):
    """`annotator models` ends their rows with "kept on"; the list did not say it (it
    says "trained while you labelled": "kept on" was jargon, a UX audit found)."""
    schema = LabelSchema.from_names(list(NAMES))
    # (an imported version's card keeps the training of the project it was made in)
    imported = _record(4, kept_on=True, imported_from="m.pt (its v9, made 2026-12-01T10:31:09)")
    models = [_record(1), _record(2, kept_on=True), _record(3, kept_on=True), imported]
    panel.set_models(models, models[0], schema, stored={1, 3, 4})
    combo = panel.version_combo
    texts = [combo.itemText(i) for i in range(combo.count())]
    assert not texts[0].endswith("while you labelled")  # the imported one
    assert texts[1].startswith("v3  01 Dec ")
    assert texts[1].endswith("mIoU 0.60  trained while you labelled")
    assert texts[2].endswith("mIoU 0.60  trained while you labelled  (files removed)")
    assert not texts[3].endswith("while you labelled")
    tip = combo.itemData(1, panel_module.Qt.ItemDataRole.ToolTipRole)
    assert "while you labelled" in tip
    assert combo.itemData(2, panel_module.VersionCombo.SHORT_ROLE) == (
        "v2  mIoU 0.60  trained while you labelled  (files removed)"
    )


def test_an_idle_panel_shows_no_empty_bar_and_no_blank_versions_list(panel, qtbot):
    schema = LabelSchema.from_names(list(NAMES))
    panel.show()
    panel.set_models([], None, schema)
    combo = panel.version_combo
    assert panel.progress.isHidden()  # it looked like an empty text field
    assert combo.count() == 0 and not combo.isEnabled()
    assert combo.shown_text() == "No versions yet"
    panel.round_started()
    assert panel.progress.isVisible()
    panel.round_finished("published model v1 (15 steps in 0 s)", queued=False)
    assert panel.progress.isHidden()
    panel.round_started()
    panel.round_finished("published model v1 (15 steps in 0 s)", queued=True)
    assert panel.progress.isVisible()  # the follow-up starts
    model = _record(1)
    panel.set_models([model], model, schema)
    assert combo.isEnabled() and combo.shown_text().startswith("v1  ")


def test_the_rollback_line_goes_when_it_is_no_longer_true(panel):
    """After a rollback and a rename the panel said both "Rolled back to model v20: its
    proposals are shown." and "The classes changed ... Train from scratch"."""
    schema = LabelSchema.from_names(list(NAMES))
    models = [_record(v) for v in range(1, 22)]
    panel.set_models(models, models[19], schema)
    panel.rolled_back(20)
    said = "Rolled back to model v20: its proposals are shown."
    assert panel.round_label.text() == said
    panel.set_models(models, models[19], schema)  # (shown again, still true)
    assert panel.round_label.text() == said
    renamed = LabelSchema.from_names(["background", "cell body", "nucleus"])
    panel.set_models(models, models[19], renamed)
    assert panel.notice_label.text().startswith("The classes changed since model v20")
    assert panel.round_label.text() == ""
    panel.rolled_back(21)
    panel.set_models(models, models[20], schema)
    assert panel.round_label.text().startswith("Rolled back to model v21")
    panel.set_models(models, models[19], schema)  # another version made active
    assert panel.round_label.text() == ""


def test_the_active_versions_line_in_plain_words(panel, monkeypatch):
    """ "1 steps", "0.0 M parameters" of a tiny network, and an imported version's raw
    ISO time ("made 2026-12-01T10:31:09", UTC) where the list says "01 Dec 10:31"."""
    schema = LabelSchema.from_names(list(NAMES))
    one = _record(1, steps=1, parameters=12_345)
    panel.set_models([one], one, schema)
    line = panel.device_label.text()
    assert "on cpu, 1 step;" in line and line.endswith(", 12 k parameters")
    big = _record(2, parameters=1_840_000)
    panel.set_models([one, big], big, schema)
    assert "15 steps;" in panel.device_label.text()
    assert panel.device_label.text().endswith(", 1.8 M parameters")
    monkeypatch.setenv("TZ", "Europe/Berlin")  # UTC+1 on 1 December
    time.tzset()
    try:
        imported = _record(3, imported_from="m.pt (its v20, made 2026-12-01T10:31:09 UTC)")
        panel.set_models([imported], imported, schema)
        assert panel.device_label.text().startswith(
            "imported from m.pt (its v20, made 01 Dec 11:31); fcn"
        )
        assert panel.version_combo.itemText(0).startswith("v3  01 Dec 11:31")
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_the_status_bar_says_a_rounds_news_as_the_panel_does(qtbot, project_dir):
    """The status bar said "cancelled: the model version is unchanged", the panel
    "Cancelled: ..."."""
    with Project.open(project_dir) as project:
        loop, ws, _actions = loop_on(qtbot, project)
        loop.set_project(project)
        try:
            said: list[str] = []
            loop.message.connect(lambda text, _ms: said.append(text))
            loop._round_finished(RoundOutcome("cancelled", None, CANCELLED_MESSAGE))
            assert said == ["Cancelled: the model version is unchanged"]
            assert loop.panel.round_label.text() == said[0]
        finally:
            loop.close()
            ws.session.close()


def test_importing_a_file_that_is_no_model_says_so_in_one_plain_sentence(
    qtbot, project_dir, tmp_path
):
    """It said "...: not a readable checkpoint: a damaged or incomplete file, or another
    kind of file (KeyError: 101)"."""
    garbage = tmp_path / "notamodel.pt"
    garbage.write_bytes(b"hello")
    with Project.open(project_dir) as project:
        loop, ws, _actions = loop_on(qtbot, project)
        loop.set_project(project)
        try:
            with qtbot.waitSignal(loop.error) as failed:
                loop.import_model(garbage)
            assert failed.args[0] == (
                f"Import failed: {garbage} is not a model file Annotator can read (a "
                "damaged or incomplete file, or another kind of file)"
            )
        finally:
            if loop._error_box is not None:
                loop._error_box.hide()
            loop.close()
            ws.session.close()


def test_train_from_scratch_offers_each_network_in_plain_words(monkeypatch):
    """The list read "FCN-8s idea...", "ASPP", "k x 1 + 1 x k large kernels"."""
    from annotator.ml.networks import ARCHITECTURES

    seen: dict[str, list[str]] = {}

    def fake_get_item(parent, title, label, items, current, editable):
        seen["items"] = items
        return items[current], True

    monkeypatch.setattr(QInputDialog, "getItem", staticmethod(fake_get_item))
    assert ask_architecture(None) == "fcn"
    items = seen["items"]
    assert items[0] == (
        "fcn (recommended): the fastest to train and to propose; learnt best in minutes on a CPU"
    )
    for jargon in ("FCN-8s", "ASPP", "k x 1", "dilated", "skips", "conv units"):
        assert not any(jargon in item for item in items), jargon
    assert all(a.plain and a.plain != a.summary for a in ARCHITECTURES.values())
    # the technical summaries stay in the registry
    assert "ASPP" in ARCHITECTURES["deeplab"].summary
