"""The model panel: active version, device, round progress, IoU over versions, controls.

It shows what the loop controller tells it and emits what the user asks for; it holds
no model logic. The IoU chart is drawn with QPainter (no plotting library in the GUI).
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QPainter,
    QPaintEvent,
    QPen,
    QResizeEvent,
    QStandardItemModel,
)
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QStyle,
    QStyleOptionComboBox,
    QStylePainter,
    QVBoxLayout,
    QWidget,
)

from annotator.core.card import classes_fit
from annotator.core.records import ModelRecord
from annotator.core.schema import ClassRename, LabelSchema, name_key, name_now
from annotator.services.channels import channels_note
from annotator.services.versions import normalisation_note

#: Characters per line of the "Train from scratch" explanation (about the list's width).
ARCHITECTURE_TEXT_COLUMNS = 64

STRATEGIES = (
    ("uncertainty", "Most uncertain first"),
    ("in-order", "In order"),
    ("random", "Random"),
)


@dataclass(frozen=True)
class IouSeries:
    """One class's validation IoU per version (``None`` where it was not measured)."""

    name: str
    colour: QColor
    values: tuple[float | None, ...]


def iou_series(
    models: list[ModelRecord], schema: LabelSchema, renames: Sequence[ClassRename] = ()
) -> tuple[list[int], list[IouSeries]]:
    """Versions and per-class IoU series read from the model cards. A card keeps the
    names its version was trained with: a class renamed since keeps its past under its
    new name (``renames``, oldest first); a class taken out has no series."""
    versions = [m.version for m in models]
    # A version whose validation is no score (too few labels held out) has no points.
    scores = [
        {}
        if m.card.metrics.not_scored
        else {name_key(name_now(n, m.version, renames)): v for n, v in m.card.metrics.iou.items()}
        for m in models
    ]
    series = []
    for c in schema.classes:
        values = tuple(by_name.get(name_key(c.name)) for by_name in scores)
        series.append(IouSeries(c.name, QColor(*c.rgb), values))
    return versions, series


@dataclass(frozen=True)
class LegendLayout:
    """Where the chart's legend goes: beside the plot (one column) while every class
    fits the chart's least height, else under it in as many columns as the width takes
    (the chart grows to show every class)."""

    beside: bool
    #: The width of one entry (swatch and name; a long name is elided to it).
    entry_width: int
    columns: int
    rows: int
    #: The height of one row.
    line: int

    @property
    def height(self) -> int:
        """The height the legend takes under the plot (0 beside it)."""
        return 0 if self.beside else self.rows * self.line + 4


class IouChart(QWidget):
    """A small line chart: validation IoU (0..1) of each class over model versions."""

    MIN_HEIGHT = 130
    #: An entry of the legend is at most this wide (a longer name is elided; the
    #: tooltip names every class whole).
    MAX_ENTRY_WIDTH = 130

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumSize(220, self.MIN_HEIGHT)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.versions: list[int] = []
        self.series: list[IouSeries] = []
        self.active: int | None = None

    def set_data(self, versions: list[int], series: list[IouSeries], active: int | None) -> None:
        self.versions, self.series, self.active = versions, series, active
        self._fit_height()
        self.setToolTip(self._tooltip())
        self.update()

    def legend(self) -> LegendLayout:
        fm = self.fontMetrics()
        widest = max((fm.horizontalAdvance(s.name) for s in self.series), default=0)
        entry = min(widest + 22, self.MAX_ENTRY_WIDTH)
        line = fm.height() + 2
        n = len(self.series)
        if 8 + n * line <= self.MIN_HEIGHT:
            return LegendLayout(True, entry, 1, n, line)
        columns = max(1, min(n, (self.width() - 16) // entry))
        return LegendLayout(False, entry, columns, -(-n // columns), line)

    def _fit_height(self) -> None:
        """Grow to show every class of a legend under the plot."""
        extra = self.legend().height if self.versions else 0
        if self.minimumHeight() != self.MIN_HEIGHT + extra:
            self.setMinimumHeight(self.MIN_HEIGHT + extra)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt API)
        super().resizeEvent(event)
        self._fit_height()  # the columns follow the width

    def _tooltip(self) -> str:
        """Every class with its IoU in the active version (or the newest)."""
        if not self.versions:
            return ""
        at = self.versions.index(self.active) if self.active in self.versions else -1
        lines = [f"Validation IoU of v{self.versions[at]}:"]
        for s in self.series:
            v = s.values[at]
            lines.append(f"{s.name}: {'not measured' if v is None else f'{v:.2f}'}")
        return "\n".join(lines)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt API)
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), self.palette().base())
        fm = p.fontMetrics()
        left, top, right, bottom = fm.horizontalAdvance("1.0") + 8, 8, 8, fm.height() + 6
        legend = self.legend()
        legend_w = legend.entry_width if legend.beside else 0
        plot = QRectF(
            left,
            top,
            self.width() - left - right - legend_w,
            self.height() - top - bottom - legend.height,
        )
        text = self.palette().text().color()
        grid = QColor(text)
        grid.setAlpha(50)
        p.setPen(QPen(grid, 1))
        for frac in (0.0, 0.5, 1.0):
            y = plot.bottom() - frac * plot.height()
            p.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
            p.setPen(text)
            p.drawText(
                QRectF(0, y - fm.height() / 2, left - 4, fm.height()),
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                f"{frac:.1f}",
            )
            p.setPen(QPen(grid, 1))
        if not self.versions:
            p.setPen(text)
            # The whole widget, not the plot area: the text is wider than an empty plot.
            p.drawText(
                QRectF(self.rect()),
                Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                "Validation IoU per class\nappears after the first round",
            )
            p.end()
            return
        n = len(self.versions)

        def x_of(i: int) -> float:
            return plot.left() + (plot.width() * (i + 0.5) / n)

        p.setPen(text)
        step = max(1, n // 8)
        for i, version in enumerate(self.versions):
            if i % step == 0 or i == n - 1:
                p.drawText(
                    QRectF(x_of(i) - 20, plot.bottom() + 2, 40, fm.height()),
                    Qt.AlignmentFlag.AlignHCenter,
                    f"v{version}",
                )
        if self.active in self.versions:
            x = x_of(self.versions.index(self.active))
            p.setPen(QPen(grid, 6))
            p.drawLine(QPointF(x, plot.top()), QPointF(x, plot.bottom()))
        for row, s in enumerate(self.series):
            p.setPen(QPen(s.colour, 2))
            last: QPointF | None = None
            for i, v in enumerate(s.values):
                if v is None:
                    last = None
                    continue
                pt = QPointF(x_of(i), plot.bottom() - v * plot.height())
                if last is not None:
                    p.drawLine(last, pt)
                p.setBrush(s.colour)
                p.drawEllipse(pt, 2.5, 2.5)
                last = pt
            if legend.beside:
                lx, ly = plot.right() + 8, float(top + row * legend.line)
            else:
                column, line = divmod(row, legend.rows)
                lx = 8.0 + column * legend.entry_width
                ly = plot.bottom() + bottom + line * legend.line
            p.fillRect(QRectF(lx, ly + 3, 10, fm.height() - 6), s.colour)
            p.setPen(text)
            name = fm.elidedText(s.name, Qt.TextElideMode.ElideRight, legend.entry_width - 20)
            p.drawText(QPointF(lx + 14, ly + fm.ascent()), name)
        p.end()


def fits_classes(record: ModelRecord, names: Sequence[str]) -> bool:
    """Whether a version can propose for (and a round continue it with) the classes
    ``names``: its classes are theirs, or the first of them (an added class is learnt by
    the next round). The rule of ``ml.checkpoint.check_classes``, read from the card, so
    the GUI thread needs no torch to know it."""
    return classes_fit(record.card.class_names, names)


def classes_changed_text(version: int) -> str:
    """What the panel and the status bar say while the active version does not fit the
    classes: an expected state after a rename, not an error."""
    return (
        f"The classes changed since model v{version} was trained: "
        "Train from scratch (Model menu) to use them."
    )


def starting_text() -> str:
    """What a round does before its first report: the first of a session loads torch
    (on the round's thread) unless the window's warm-up has already (ADR 0025)."""
    return "starting" if "torch" in sys.modules else "loading torch"


class VersionCombo(QComboBox):
    """The versions list: each entry whole in the open list; in the closed box, the date
    gives way first (the version and its mIoU are what a rollback is chosen by), then the
    text is elided, instead of cut in the middle of a number."""

    SHORT_ROLE = Qt.ItemDataRole.UserRole + 1

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # Its size must not follow the longest entry: that widened the whole dock.
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setMinimumContentsLength(8)
        self.currentIndexChanged.connect(lambda _i: self.setToolTip(self.currentText()))

    def shown_text(self, width: int | None = None) -> str:
        """The text the closed box shows in ``width`` pixels (its own when None)."""
        if width is None:
            opt = QStyleOptionComboBox()
            self.initStyleOption(opt)
            width = (
                self.style()
                .subControlRect(
                    QStyle.ComplexControl.CC_ComboBox,
                    opt,
                    QStyle.SubControl.SC_ComboBoxEditField,
                    self,
                )
                .width()
            )
        fm = self.fontMetrics()
        text = self.currentText()
        if fm.horizontalAdvance(text) <= width:
            return text
        short = self.currentData(self.SHORT_ROLE)
        if isinstance(short, str) and short:
            text = short
        return fm.elidedText(text, Qt.TextElideMode.ElideRight, width)

    def paintEvent(self, _event: QPaintEvent) -> None:  # noqa: N802 (Qt API)
        p = QStylePainter(self)
        opt = QStyleOptionComboBox()
        self.initStyleOption(opt)
        p.drawComplexControl(QStyle.ComplexControl.CC_ComboBox, opt)
        opt.currentText = self.shown_text()
        p.drawControl(QStyle.ControlElement.CE_ComboBoxLabel, opt)

    def showPopup(self) -> None:  # noqa: N802 (Qt API)
        """Open the list at least as wide as its longest entry."""
        view = self.view()
        frame = 2 * view.frameWidth() + view.verticalScrollBar().sizeHint().width()
        view.setMinimumWidth(view.sizeHintForColumn(0) + frame)
        super().showPopup()


class ModelPanel(QWidget):
    """Version, device, progress, IoU chart; train, cancel, roll back; loop settings."""

    train_requested = Signal()
    cancel_requested = Signal()
    rollback_requested = Signal(int)
    strategy_changed = Signal(str)
    budget_changed = Signal(float)
    train_on_done_changed = Signal(bool)
    keep_training_changed = Signal(bool)
    idle_retrain_changed = Signal(int)  # seconds, 0 = off

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.version_label = QLabel("No project")
        self._has_model = False
        self.version_label.setWordWrap(True)
        self.device_label = QLabel("")
        self.device_label.setWordWrap(True)  # else its one line sets the panel's width
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.round_label = QLabel("")
        self.round_label.setWordWrap(True)
        self.error_label = QLabel("")
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #d04040")
        self.error_label.hide()
        # Calm news, not an error: the active version no longer fits the classes.
        self.notice_label = QLabel("")
        self.notice_label.setWordWrap(True)
        self.notice_label.hide()
        self.chart = IouChart()
        self.train_button = QPushButton("Train now")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.version_combo = VersionCombo()
        self.rollback_button = QPushButton("Roll back")
        self.rollback_button.setToolTip("Make the selected version the active one")
        self.strategy_combo = QComboBox()
        for key, text in STRATEGIES:
            self.strategy_combo.addItem(text, key)
        self.budget_spin = QDoubleSpinBox()
        self.budget_spin.setRange(1, 3600)
        self.budget_spin.setDecimals(0)
        self.budget_spin.setSuffix(" s")
        self.budget_spin.setValue(30)  # the setting's default, until a project says its own
        self.on_done_check = QCheckBox("Train when an image is marked done")
        self._training_name = "Training"  # (what the running round's progress says)
        self.keep_check = QCheckBox("Keep training while I label")
        self.keep_check.setChecked(True)  # the setting's default
        self.keep_check.setToolTip(
            "When a round ends, another one trains on the images marked done while you\n"
            "label (the image open is left out), so the next proposals are better. It\n"
            "gives way at once to a round with new labels, and rests after 2 minutes\n"
            "without an edit."
        )
        self.idle_check = QCheckBox("Retrain when idle for")
        self.idle_spin = QSpinBox()
        self.idle_spin.setRange(5, 3600)
        self.idle_spin.setValue(30)
        self.idle_spin.setSuffix(" s")

        buttons = QHBoxLayout()
        buttons.addWidget(self.train_button)
        buttons.addWidget(self.cancel_button)
        rollback = QHBoxLayout()
        rollback.addWidget(self.version_combo, 1)
        rollback.addWidget(self.rollback_button)
        idle = QHBoxLayout()
        idle.addWidget(self.idle_check)
        idle.addWidget(self.idle_spin)
        form = QFormLayout()
        form.addRow("Next image", self.strategy_combo)
        form.addRow("Round budget", self.budget_spin)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        for w in (
            self.version_label,
            self.device_label,
            self.progress,
            self.round_label,
            self.error_label,
            self.notice_label,
            self.chart,
        ):
            layout.addWidget(w)
        layout.addLayout(buttons)
        layout.addLayout(rollback)
        layout.addLayout(form)
        layout.addWidget(self.on_done_check)
        layout.addWidget(self.keep_check)
        layout.addLayout(idle)
        layout.addStretch(1)

        self.train_button.clicked.connect(self.train_requested)
        self.cancel_button.clicked.connect(self.cancel_requested)
        self.rollback_button.clicked.connect(self._rollback)
        self.strategy_combo.currentIndexChanged.connect(
            lambda _i: self.strategy_changed.emit(self.strategy_combo.currentData())
        )
        self.budget_spin.valueChanged.connect(self.budget_changed)
        self.on_done_check.toggled.connect(self.train_on_done_changed)
        self.keep_check.toggled.connect(self.keep_training_changed)
        self.idle_check.toggled.connect(self._idle_changed)
        self.idle_spin.valueChanged.connect(self._idle_changed)

    # --- input -------------------------------------------------------------------------------
    def _rollback(self) -> None:
        version = self.version_combo.currentData()
        if version is not None:
            self.rollback_requested.emit(int(version))

    def _idle_changed(self) -> None:
        self.idle_spin.setEnabled(self.idle_check.isChecked())
        self.idle_retrain_changed.emit(self.idle_spin.value() if self.idle_check.isChecked() else 0)

    # --- display -------------------------------------------------------------------------------
    def set_settings(
        self,
        strategy: str,
        seconds: float | None,
        train_on_done: bool,
        idle_s: int,
        keep_training: bool = True,
    ) -> None:
        """Show stored settings without emitting change signals."""
        widgets = (
            self.strategy_combo,
            self.budget_spin,
            self.on_done_check,
            self.keep_check,
            self.idle_check,
            self.idle_spin,
        )
        for w in widgets:
            w.blockSignals(True)
        i = self.strategy_combo.findData(strategy)
        self.strategy_combo.setCurrentIndex(max(0, i))
        self.budget_spin.setValue(seconds or 30)
        self.on_done_check.setChecked(train_on_done)
        self.keep_check.setChecked(keep_training)
        self.idle_check.setChecked(idle_s > 0)
        if idle_s > 0:
            self.idle_spin.setValue(idle_s)
        self.idle_spin.setEnabled(idle_s > 0)
        for w in widgets:
            w.blockSignals(False)

    def set_models(
        self,
        models: list[ModelRecord],
        active: ModelRecord | None,
        schema: LabelSchema,
        stored: set[int] | None = None,
        renames: Sequence[ClassRename] = (),
        pooled_matters: bool = False,
        channel_choice: Sequence[int] = (),
    ) -> None:
        """Versions, the active one's card, and the IoU chart. Versions not in ``stored``
        (default: all are) had their files removed to save space: listed, not choosable.
        ``renames``: the project's classes renamed, oldest first (the chart follows them).
        ``pooled_matters``: the project has pictures whose input normalisation depends on
        the version's rule (``services.versions.pooled_matters``); the card says so of an
        active version made before the per-channel rule. ``channel_choice``: the
        project's (``core.channels``); the card says so of an active version that takes
        other channels."""
        self._has_model = active is not None
        if active is None:
            self.version_label.setText(
                "<b>No model yet.</b> Scribble a few strokes of every class and press "
                "Train now: the first round trains from scratch."
            )
            self.device_label.setText("")
        else:
            parts = [
                f"<b>Model v{active.version}</b> (active, {len(models)} version"
                f"{'s' if len(models) != 1 else ''})"
            ]
            score = active.card.metrics.score_text(name="validation mean IoU")
            if score is not None:
                parts.append(score)
            self.version_label.setText(", ".join(parts))
            train = active.card.training
            arch = active.card.architecture
            origin = (
                f"imported from {active.card.imported_from}"
                if active.card.imported_from
                else f"adapted from {active.card.adapted}"
                if active.card.adapted
                else f"trained {'on the done images while you labelled, ' if train.kept_on else ''}"
                f"on {train.device or '?'}, {'?' if train.steps is None else train.steps} steps"
            )
            self.device_label.setText(
                f"{origin}; "
                f"{active.card.arch}, depth {arch.get('depth', '?')}, width "
                f"{arch.get('width', '?')}, {(active.card.parameters or 0) / 1e6:.1f} M parameters"
                + (f"; {note}" if (note := normalisation_note(active.card, pooled_matters)) else "")
                + (f"; {note}" if (note := channels_note(active.card, channel_choice)) else "")
            )
        stale = active is not None and not fits_classes(active, schema.names)
        self.notice_label.setText(classes_changed_text(active.version) if active and stale else "")
        self.notice_label.setVisible(stale)
        self.version_combo.clear()
        items = self.version_combo.model()
        for rec in reversed(models):
            removed = stored is not None and rec.version not in stored
            tail = "  (files removed)" if removed else ""
            self.version_combo.addItem(version_text(rec) + tail, rec.version)
            row = self.version_combo.count() - 1
            self.version_combo.setItemData(
                row, version_text(rec, when=False) + tail, VersionCombo.SHORT_ROLE
            )
            if removed and isinstance(items, QStandardItemModel):
                items.item(row).setEnabled(False)  # no weights to roll back to
        # the list shows the active version (after a rollback it showed the newest)
        current = self.version_combo.findData(active.version) if active is not None else -1
        self.version_combo.setCurrentIndex(max(current, 0))
        self.rollback_button.setEnabled(len(models) > 1)
        versions, series = iou_series(models, schema, renames)
        self.chart.set_data(versions, series, active.version if active else None)

    def round_started(self, keeping_on: bool = False) -> None:
        """A round started (``keeping_on``: one on the done images while the user labels)."""
        self.progress.setValue(0)
        self._training_name = "Training on the done images" if keeping_on else "Training"
        name = "Training on the done images" if keeping_on else "Training round"
        self.round_label.setText(f"{name}: {starting_text()}…")
        if not self._has_model:  # "No model yet: press Train now" is no longer the news
            self.version_label.setText(
                "<b>Training the first model…</b> Its proposals appear when the round ends."
            )
        self.error_label.hide()
        self.cancel_button.setEnabled(True)

    def show_progress(
        self,
        step: int,
        fraction: float,
        elapsed_s: float,
        loss: float,
        phase: str,
        detail: str = "",
    ) -> None:
        """A step's progress, or what the round does between them (``detail``: loading
        the labelled images, scoring on the validation pixels, writing the version)."""
        self.progress.setValue(int(round(fraction * 1000)))
        if phase != "train" and detail:
            self.round_label.setText(f"{self._training_name}: {detail}…")
            return
        self.round_label.setText(
            f"{self._training_name}: step {step}, {elapsed_s:.0f} s, loss {loss:.3f}"
        )

    def round_finished(self, message: str, queued: bool) -> None:
        self.progress.setValue(1000 if message.startswith("published") else 0)
        text = message[:1].upper() + message[1:]
        self.round_label.setText(text + ("; a follow-up round is queued" if queued else ""))
        self.cancel_button.setEnabled(queued)

    def rolled_back(self, version: int) -> None:
        """Say what a rollback did where the last round's news was ("Published v3")."""
        self.progress.setValue(0)
        self.round_label.setText(f"Rolled back to model v{version}: its proposals are shown.")

    def show_error(self, message: str) -> None:
        self.error_label.setText(message)
        self.error_label.show()

    def clear_round(self) -> None:
        """Forget the last project's round (its progress, message and error)."""
        self.progress.setValue(0)
        self.round_label.setText("")
        self.error_label.hide()
        self.notice_label.hide()
        self.cancel_button.setEnabled(False)


def version_text(rec: ModelRecord, when: bool = True) -> str:
    """A version in the list: its number, when it was made (local time, unless not
    ``when``: the short form of a narrow box), its mean IoU."""
    from datetime import datetime

    try:
        made = datetime.fromisoformat(rec.created_at).astimezone().strftime("%d %b %H:%M")
    except ValueError:
        made = rec.created_at[:16]
    head = f"v{rec.version}  {made}" if when else f"v{rec.version}"
    metrics = rec.card.metrics
    if metrics.not_scored:  # (the panel's line says why)
        return f"{head}  not scored"
    score = metrics.score_text()
    return head + ("" if score is None else f"  {score}")


def ask_architecture(parent: QWidget | None, current: str | None = None) -> str | None:
    """Ask which architecture a model trained from scratch should have (None: cancelled)."""
    from annotator.ml.networks import ARCHITECTURES, DEFAULT_ARCH

    names = list(ARCHITECTURES)
    labels = [
        f"{n}{' (recommended)' if n == DEFAULT_ARCH else ''}: {ARCHITECTURES[n].summary}"
        for n in names
    ]
    start = names.index(current) if current in names else names.index(DEFAULT_ARCH)
    # getItem's label does not wrap: one line of this made the dialog 1477 px wide, its
    # buttons off an 800 px screen. Lines of a fixed length keep it as wide as the list.
    explanation = textwrap.fill(
        "The network of the new model. The recommended one learnt best in minutes of a "
        "laptop's CPU on both electron microscopy and street scenes, and proposes fastest; "
        "the others are the classic designs, for comparison or a GPU's longer rounds.",
        ARCHITECTURE_TEXT_COLUMNS,
    )
    label, ok = QInputDialog.getItem(
        parent,
        "Train from scratch",
        explanation,
        labels,
        start,
        False,
    )
    return names[labels.index(label)] if ok and label in labels else None
