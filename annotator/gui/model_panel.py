"""The model panel: active version, device, round progress, IoU over versions, controls.

It shows what the loop controller tells it and emits what the user asks for; it holds
no model logic. The IoU chart is drawn with QPainter (no plotting library in the GUI).
"""

from __future__ import annotations

import re
import sys
import textwrap
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFontMetrics,
    QPainter,
    QPaintEvent,
    QPalette,
    QPen,
    QResizeEvent,
    QStandardItemModel,
)
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QStyle,
    QStyleOptionComboBox,
    QStylePainter,
    QVBoxLayout,
    QWidget,
)

from annotator.core.card import classes_fit
from annotator.core.records import ModelRecord
from annotator.core.schema import ClassRename, LabelSchema, name_key, name_now
from annotator.gui.number_boxes import DecimalBox, WholeBox
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
    #: Room kept between two version names on the x axis (px).
    LABEL_GAP = 6

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

    def _plot_rect(self, fm: QFontMetrics) -> QRectF:
        """Where the lines go: left of a legend beside it, above one under it, above the
        version labels, right of the IoU labels."""
        left, top, right, bottom = fm.horizontalAdvance("1.0") + 8, 8, 8, fm.height() + 6
        legend = self.legend()
        legend_w = legend.entry_width if legend.beside else 0
        return QRectF(
            left,
            top,
            self.width() - left - right - legend_w,
            self.height() - top - bottom - legend.height,
        )

    def _x_of(self, plot: QRectF, i: int) -> float:
        return plot.left() + (plot.width() * (i + 0.5) / len(self.versions))

    def axis_labels(self) -> list[tuple[int, QRectF]]:
        """The versions the x axis names (their indices) and where each name goes: as
        many as fit without touching. The active version, the first and the last go
        first, then every version divisible by the smallest of 1, 2, 5, 10, 20, 50...
        that leaves room for the widest name (with 34 versions in a 312 px panel every
        fourth one ran into the next: "v9v13v17")."""
        n = len(self.versions)
        if n == 0:
            return []
        fm = self.fontMetrics()
        plot = self._plot_rect(fm)
        rects = []
        for i, version in enumerate(self.versions):
            w = fm.horizontalAdvance(f"v{version}")
            r = QRectF(self._x_of(plot, i) - w / 2, plot.bottom() + 2, w, fm.height())
            if r.right() > self.width():  # (the last name of a plot without a legend)
                r.moveRight(self.width())
            rects.append(r)
        pitch = plot.width() / n
        widest = max(r.width() for r in rects) + self.LABEL_GAP
        step = 1
        while step * pitch < widest and step < n:
            step = next(k for k in _nice_steps() if k > step)
        first = [self.versions.index(self.active)] if self.active in self.versions else []
        first += [0, n - 1]
        regular = [i for i, v in enumerate(self.versions) if v % step == 0]
        chosen: list[tuple[int, QRectF]] = []
        for i in dict.fromkeys(first + regular):
            room = rects[i].adjusted(-self.LABEL_GAP / 2, 0, self.LABEL_GAP / 2, 0)
            if rects[i].left() >= 0 and not any(
                room.intersects(r.adjusted(-self.LABEL_GAP / 2, 0, self.LABEL_GAP / 2, 0))
                for _, r in chosen
            ):
                chosen.append((i, rects[i]))
        return sorted(chosen, key=lambda c: c[0])

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt API)
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), self.palette().base())
        fm = self.fontMetrics()
        left, top, bottom = fm.horizontalAdvance("1.0") + 8, 8, fm.height() + 6
        legend = self.legend()
        plot = self._plot_rect(fm)
        text = self.palette().text().color()
        grid = QColor(text)
        grid.setAlpha(50)
        # Light class colours (yellow, the default membrane) on the white base were
        # hard to see: their lines, points and swatches get a dark edge.
        edge = QColor(text)
        edge.setAlpha(150)
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

        p.setPen(text)
        for i, where in self.axis_labels():
            p.drawText(where, Qt.AlignmentFlag.AlignHCenter, f"v{self.versions[i]}")
        if self.active in self.versions:
            x = self._x_of(plot, self.versions.index(self.active))
            p.setPen(QPen(grid, 6))
            p.drawLine(QPointF(x, plot.top()), QPointF(x, plot.bottom()))
        for row, s in enumerate(self.series):
            light = is_light(s.colour)
            points: list[QPointF | None] = [
                None
                if v is None
                else QPointF(self._x_of(plot, i), plot.bottom() - v * plot.height())
                for i, v in enumerate(s.values)
            ]
            for pen in ([QPen(edge, 4)] if light else []) + [QPen(s.colour, 2)]:
                p.setPen(pen)
                for a, b in zip(points, points[1:], strict=False):
                    if a is not None and b is not None:
                        p.drawLine(a, b)
            p.setPen(QPen(edge, 1) if light else QPen(s.colour, 2))
            p.setBrush(s.colour)
            for pt in points:
                if pt is not None:
                    p.drawEllipse(pt, 2.5 if not light else 3.0, 2.5 if not light else 3.0)
            if legend.beside:
                lx, ly = plot.right() + 8, float(top + row * legend.line)
            else:
                column, line = divmod(row, legend.rows)
                lx = 8.0 + column * legend.entry_width
                ly = plot.bottom() + bottom + line * legend.line
            swatch = QRectF(lx, ly + 3, 10, fm.height() - 6)
            p.fillRect(swatch, s.colour)
            if light:
                p.setPen(QPen(edge, 1))
                p.setBrush(Qt.BrushStyle.NoBrush)
                p.drawRect(swatch.adjusted(0.5, 0.5, -0.5, -0.5))
            p.setPen(text)
            name = fm.elidedText(s.name, Qt.TextElideMode.ElideRight, legend.entry_width - 20)
            p.drawText(QPointF(lx + 14, ly + fm.ascent()), name)
        p.end()


def _nice_steps() -> Iterator[int]:
    """1, 2, 5, 10, 20, 50, 100, ..."""
    k = 1
    while True:
        yield from (k, 2 * k, 5 * k)
        k *= 10


def is_light(colour: QColor) -> bool:
    """Whether ``colour`` is hard to see on white (yellow, light green, pale tints)."""
    r, g, b = colour.redF(), colour.greenF(), colour.blueF()
    return 0.299 * r + 0.587 * g + 0.114 * b > 0.7


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


def count_text(n: int | None, what: str) -> str:
    """``n`` things in words: "1 step", "15 steps", "? steps" (not recorded)."""
    if n is None:
        return f"? {what}s"
    return f"{n} {what}" if n == 1 else f"{n} {what}s"


def parameters_text(n: int | None) -> str:
    """A network's size: "1.8 M parameters"; below 0.1 M in thousands ("12 k
    parameters": a tiny test network read "0.0 M")."""
    if n is None:
        return "? M parameters"
    if n >= 100_000:
        return f"{n / 1e6:.1f} M parameters"
    if n >= 1000:
        return f"{n / 1000:.0f} k parameters"
    return count_text(n, "parameter")


def local_time(iso: str) -> str:
    """A time the project recorded (ISO 8601, UTC; cut to the second without its
    zone, as ``imported_from`` keeps it) as the versions list shows it: "01 Dec 10:31",
    local time."""
    try:
        when = datetime.fromisoformat(iso)
    except ValueError:
        return iso[:16]
    if when.tzinfo is None:  # (``now_iso()[:19]``: UTC)
        when = when.replace(tzinfo=UTC)
    return when.astimezone().strftime("%d %b %H:%M")


def imported_text(imported_from: str) -> str:
    """An imported version's origin (``card.imported_from``, "m.pt (its v20, made
    2026-12-01T10:31:09)") with the time as the versions list shows times."""
    return re.sub(
        r"made (\d{4}-\d\d-\d\dT[\d:.]+)(?: UTC)?",
        lambda m: f"made {local_time(m.group(1))}",
        imported_from,
    )


def round_text(message: str) -> str:
    """A round's news ("published model v3 (...)", "cancelled: ...") as the panel and the
    status bar both show it: a capital first letter."""
    return message[:1].upper() + message[1:]


#: A newer version scoring at least this much below the one before it is said in the
#: panel (smaller differences are the noise of holding out other labels, ADR 0015).
SCORE_DROP = 0.02


@dataclass(frozen=True)
class ScoreDrop:
    """The active version scores below the version before it (which it replaced)."""

    active: int
    score: float
    earlier: int
    earlier_score: float
    #: Whether the earlier version still has its files (it can be rolled back to).
    stored: bool

    def text(self) -> str:
        return (
            f"v{self.active} scores {self.score:.2f} on the labels it held out, below "
            f"v{self.earlier}'s {self.earlier_score:.2f} (each version holds out other "
            f"labels). v{self.active} is active: "
            + (
                f"roll back to v{self.earlier} if its proposals were better."
                if self.stored
                else f"v{self.earlier}'s files were removed, so it cannot be rolled back to."
            )
        )


def score_drop(
    models: Sequence[ModelRecord], active: ModelRecord | None, stored: set[int] | None = None
) -> ScoreDrop | None:
    """Whether the active version, made by a round, scores :data:`SCORE_DROP` or more
    below the version before it: its parent (the one it continued), or for a version
    trained from scratch the newest one before it. A newer version becomes active
    whatever its score (``services.versions``); the panel says so instead of keeping
    quiet. ``None`` when either has no score, or the active one was imported or adapted
    (scored elsewhere, or not by a round)."""
    if active is None or active.card.imported_from or active.card.adapted:
        return None
    before = [m for m in models if m.version < active.version]
    parent = active.card.parent
    earlier = next((m for m in before if m.version == parent), None) if parent else None
    if earlier is None and parent is None and before:
        earlier = max(before, key=lambda m: m.version)
    if earlier is None:
        return None
    now, then = active.card.metrics, earlier.card.metrics
    if now.not_scored or then.not_scored or now.mean_iou is None or then.mean_iou is None:
        return None
    if now.mean_iou > then.mean_iou - SCORE_DROP:
        return None
    return ScoreDrop(
        active.version,
        now.mean_iou,
        earlier.version,
        then.mean_iou,
        stored is None or earlier.version in stored,
    )


#: The versions list while there is none (a blank drop-down said nothing).
NO_VERSIONS_TEXT = "No versions yet"
#: What a version the list marks "trained while you labelled" is (its tooltip).
KEPT_ON_TEXT = "trained while you labelled"
KEPT_ON_TIP = "Trained on the done images while you labelled (Keep training while I label)"


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
        self.setPlaceholderText(NO_VERSIONS_TEXT)
        self.currentIndexChanged.connect(lambda _i: self.setToolTip(self.currentText()))

    def shown_text(self, width: int | None = None) -> str:
        """The text the closed box shows in ``width`` pixels (its own when None); the
        placeholder while the list is empty."""
        if self.currentIndex() < 0:
            return self.placeholderText()
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
        if self.currentIndex() < 0:  # (as QComboBox draws its placeholder)
            placeholder = opt.palette.placeholderText()
            opt.palette.setBrush(QPalette.ColorRole.ButtonText, placeholder)
        p.drawControl(QStyle.ControlElement.CE_ComboBoxLabel, opt)

    def showPopup(self) -> None:  # noqa: N802 (Qt API)
        """Open the list at least as wide as its longest entry."""
        view = self.view()
        frame = 2 * view.frameWidth() + view.verticalScrollBar().sizeHint().width()
        view.setMinimumWidth(view.sizeHintForColumn(0) + frame)
        super().showPopup()


def switch_text(version: int, newer: bool) -> str:
    """What making ``version`` the active one did: a rollback, or a switch to a newer one."""
    return f"{'Switched' if newer else 'Rolled back'} to model v{version}"


class ModelPanel(QWidget):
    """Version, device, progress, IoU chart; train, cancel, roll back; loop settings."""

    train_requested = Signal()
    cancel_requested = Signal()
    rollback_requested = Signal(int)
    drop_kept = Signal(int)  # a version kept though it scores lower (the project keeps it)
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
        self.device_label.hide()  # (shown with a model)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.progress.hide()  # idle, it looked like an empty text field: shown in a round
        self._rolled_back: int | None = None  # the version the round line says was
        self.round_label = QLabel("")
        self.round_label.setWordWrap(True)
        self.round_label.hide()  # (shown with news)
        self.error_label = QLabel("")
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #d04040")
        self.error_label.hide()
        # Calm news, not an error: the active version no longer fits the classes.
        self.notice_label = QLabel("")
        self.notice_label.setWordWrap(True)
        self.notice_label.hide()
        # The active version scores below the one before it: said, with both choices.
        self.drop_label = QLabel("")
        self.drop_label.setWordWrap(True)
        self.drop_back_button = QPushButton("Roll back")
        self.drop_keep_button = QPushButton("Keep")
        for label in (self.round_label, self.error_label, self.notice_label, self.drop_label):
            label.setTextFormat(Qt.TextFormat.PlainText)  # (they may name files and classes)
        self.drop_box = QWidget()
        drop_layout = QVBoxLayout(self.drop_box)
        drop_layout.setContentsMargins(0, 0, 0, 0)
        drop_layout.addWidget(self.drop_label)
        drop_buttons = QHBoxLayout()
        drop_buttons.addWidget(self.drop_back_button)
        drop_buttons.addWidget(self.drop_keep_button)
        drop_buttons.addStretch(1)
        drop_layout.addLayout(drop_buttons)
        self.drop_box.hide()
        self._drop: ScoreDrop | None = None
        #: Versions the user chose to keep though they score lower (Keep, or a rollback
        #: to them): not said again (the project keeps them: :meth:`keep_drops`).
        self._drop_kept: set[int] = set()
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
        self.budget_spin = DecimalBox()
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
            "stops at once for a round with new labels, and rests after 2 minutes\n"
            "without an edit."
        )
        self.idle_check = QCheckBox("Retrain when idle for")
        self.idle_spin = WholeBox()
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
            self.drop_box,
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
        self.drop_back_button.clicked.connect(self._drop_back)
        self.drop_keep_button.clicked.connect(self._drop_keep)
        self.strategy_combo.currentIndexChanged.connect(
            lambda _i: self.strategy_changed.emit(self.strategy_combo.currentData())
        )
        self.budget_spin.valueChanged.connect(self.budget_changed)
        self.on_done_check.toggled.connect(self.train_on_done_changed)
        self.keep_check.toggled.connect(self.keep_training_changed)
        self.idle_check.toggled.connect(self._idle_changed)
        self.idle_spin.valueChanged.connect(self._idle_changed)

    @staticmethod
    def _line(label: QLabel, text: str) -> None:
        """Set a line of the panel; an empty one is hidden (it left a blank gap)."""
        label.setText(text)
        label.setVisible(bool(text))

    # --- input -------------------------------------------------------------------------------
    def _rollback(self) -> None:
        version = self.version_combo.currentData()
        if version is not None:
            self.rollback_requested.emit(int(version))

    def _drop_back(self) -> None:
        if self._drop is not None:
            self.rollback_requested.emit(self._drop.earlier)

    def _drop_keep(self) -> None:
        if self._drop is not None:
            self._drop_kept.add(self._drop.active)
            self.drop_kept.emit(self._drop.active)
        self._show_drop(None)

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
            self._line(self.device_label, "")
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
                f"imported from {imported_text(active.card.imported_from)}"
                if active.card.imported_from
                else f"adapted from {active.card.adapted}"
                if active.card.adapted
                else f"trained {'on the done images while you labelled, ' if train.kept_on else ''}"
                f"on {train.device or '?'}, {count_text(train.steps, 'step')}"
            )
            self._line(
                self.device_label,
                f"{origin}; "
                f"{active.card.arch}, depth {arch.get('depth', '?')}, width "
                f"{arch.get('width', '?')}, {parameters_text(active.card.parameters)}"
                + (f"; {note}" if (note := normalisation_note(active.card, pooled_matters)) else "")
                + (f"; {note}" if (note := channels_note(active.card, channel_choice)) else ""),
            )
        stale = active is not None and not fits_classes(active, schema.names)
        self.notice_label.setText(classes_changed_text(active.version) if active and stale else "")
        self.notice_label.setVisible(stale)
        if self._rolled_back is not None and (
            stale or active is None or active.version != self._rolled_back
        ):
            # "Rolled back to model v20: its proposals are shown" is no longer true (the
            # classes changed: no proposals; another version is active)
            self._rolled_back = None
            self._line(self.round_label, "")
        self.version_combo.clear()
        items = self.version_combo.model()
        for rec in reversed(models):
            removed = stored is not None and rec.version not in stored
            # trained on the done images while the user labelled (ADR 0019 amendment;
            # `annotator models` ends their rows with "kept on")
            tail = f"  {KEPT_ON_TEXT}" if rec.card.kept_on else ""
            tail += "  (files removed)" if removed else ""
            self.version_combo.addItem(version_text(rec) + tail, rec.version)
            row = self.version_combo.count() - 1
            self.version_combo.setItemData(
                row, version_text(rec, when=False) + tail, VersionCombo.SHORT_ROLE
            )
            if rec.card.kept_on:
                self.version_combo.setItemData(row, KEPT_ON_TIP, Qt.ItemDataRole.ToolTipRole)
            if removed and isinstance(items, QStandardItemModel):
                items.item(row).setEnabled(False)  # no weights to roll back to
        self.version_combo.setEnabled(bool(models))  # (empty: "No versions yet")
        # the list shows the active version (after a rollback it showed the newest)
        current = self.version_combo.findData(active.version) if active is not None else -1
        self.version_combo.setCurrentIndex(max(current, 0))
        self.rollback_button.setEnabled(len(models) > 1)
        drop = None if stale else score_drop(models, active, stored)
        self._show_drop(drop if drop is None or drop.active not in self._drop_kept else None)
        versions, series = iou_series(models, schema, renames)
        self.chart.set_data(versions, series, active.version if active else None)

    def _show_drop(self, drop: ScoreDrop | None) -> None:
        """Say that the active version scores below the one before it (None: hide it)."""
        self._drop = drop
        self.drop_box.setVisible(drop is not None)
        if drop is None:
            return
        self.drop_label.setText(drop.text())
        self.drop_back_button.setText(f"Roll back to v{drop.earlier}")
        self.drop_back_button.setVisible(drop.stored)
        self.drop_keep_button.setText(f"Keep v{drop.active}")

    def round_started(self, keeping_on: bool = False) -> None:
        """A round started (``keeping_on``: one on the done images while the user labels)."""
        self.progress.setValue(0)
        self.progress.show()
        self._rolled_back = None
        self._training_name = "Training on the done images" if keeping_on else "Training"
        name = "Training on the done images" if keeping_on else "Training round"
        self._line(self.round_label, f"{name}: {starting_text()}…")
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
            self._line(self.round_label, f"{self._training_name}: {detail}…")
            return
        self._line(
            self.round_label,
            f"{self._training_name}: step {step}, {elapsed_s:.0f} s, loss {loss:.3f}",
        )

    def round_finished(self, message: str, queued: bool) -> None:
        self.progress.setValue(1000 if message.startswith("published") else 0)
        self.progress.setVisible(queued)  # (the follow-up's start shows it anyway)
        self._rolled_back = None
        self._line(
            self.round_label,
            round_text(message) + ("; a follow-up round is queued" if queued else ""),
        )
        self.cancel_button.setEnabled(queued)

    def rolled_back(self, version: int, newer: bool = False) -> None:
        """Say what a rollback did where the last round's news was ("Published v3");
        ``newer``: the version chosen is newer than the one that was active (a switch
        forward, not back)."""
        self.progress.setValue(0)
        self.progress.hide()
        self._rolled_back = version
        self._line(self.round_label, f"{switch_text(version, newer)}: its proposals are shown.")
        self._drop_kept.add(version)  # (chosen: a lower score is no news about it)
        self.drop_kept.emit(version)
        if self._drop is not None and self._drop.active == version:
            self._show_drop(None)

    def keep_drops(self, versions: set[int]) -> None:
        """The versions the project keeps though they score lower (said no more; set
        before :meth:`set_models` at opening)."""
        self._drop_kept = set(versions)

    def show_hint(self, text: str) -> None:
        """Calm news on the round's line (nothing to train yet), not an error."""
        self._rolled_back = None
        self.error_label.hide()
        self._line(self.round_label, text)

    def show_error(self, message: str) -> None:
        self.error_label.setText(message)
        self.error_label.show()

    def clear_round(self) -> None:
        """Forget the last project's round (its progress, message and error)."""
        self.progress.setValue(0)
        self.progress.hide()
        self._rolled_back = None
        self._line(self.round_label, "")
        self.error_label.hide()
        self.notice_label.hide()
        self._drop_kept.clear()  # (another project's versions)
        self._show_drop(None)
        self.cancel_button.setEnabled(False)


def version_text(rec: ModelRecord, when: bool = True) -> str:
    """A version in the list: its number, when it was made (local time, unless not
    ``when``: the short form of a narrow box), its mean IoU."""
    made = local_time(rec.created_at)
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
        # what each is good for, in plain words (the technical summary is the fallback)
        f"{n}{' (recommended)' if n == DEFAULT_ARCH else ''}: "
        f"{ARCHITECTURES[n].plain or ARCHITECTURES[n].summary}"
        for n in names
    ]
    start = names.index(current) if current in names else names.index(DEFAULT_ARCH)
    # getItem's label does not wrap: one line of this made the dialog 1477 px wide, its
    # buttons off an 800 px screen. Lines of a fixed length keep it as wide as the list.
    explanation = textwrap.fill(
        "The network of the new model. The recommended one learnt best in minutes of a "
        "laptop's CPU on both electron microscopy and street scenes, and proposes fastest; "
        "the others are the classic designs (each line says what for, and how much slower "
        "it trains on a CPU).",
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
