"""A small dialog to adjust the display contrast: the values shown black and white, one
pair per channel shown (a grey picture has one; docs/adr/0027); CT presets for a picture
that looks like CT, and "Use for every image" (docs/adr/0036)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QGridLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from annotator.core.contrast import CT_PRESETS, Preset
from annotator.gui.forms import fit_to_layout
from annotator.gui.number_boxes import DecimalBox
from annotator.services.shared_contrast import ContrastWindows

Window = tuple[float, float]

#: The most channels shown (of more, the first three).
MAX_CHANNELS = 3


def spin_step(data_range: tuple[float, float]) -> float:
    """A hundredth of the image's value range, at least 1e-9 (a flat image: 1)."""
    span = data_range[1] - data_range[0]
    return max(span / 100.0, 1e-9) if span > 0 else 1.0


#: The most decimals a box shows.
MAX_DECIMALS = 10


def spin_decimals(window: Window, data_range: tuple[float, float]) -> int:
    """The decimals a channel's boxes show: enough for a step (:func:`spin_step` of the
    channel's value range) to show its first digit, and for each end of ``window`` to
    show within a ten-thousandth of itself (a box rounds its value to its decimals: one
    decimal showed a reflectance window of 0.150 as 0.1 and set it so)."""
    step = spin_step(data_range)
    decimals = max(1, math.ceil(-math.log10(step)) + 1)
    for value in window:
        if not math.isfinite(value):
            continue
        close = 1e-4 * abs(value)
        while decimals < MAX_DECIMALS and abs(round(value, decimals) - value) > close:
            decimals += 1
    return min(decimals, MAX_DECIMALS)


def preset_text(preset: Preset) -> str:
    """How a CT preset reads in the chooser: its name, width and level."""
    return f"{preset.name} (W{preset.width:g} L{preset.level:g})"


PRESETS_TIP = (
    "CT windows in Hounsfield units, width W around level L: black at L - W/2, white at "
    "L + W/2. "
    + "; ".join(
        f"{p.name.lower()} W{p.width:g} L{p.level:g} ({p.window[0]:g} to {p.window[1]:g})"
        for p in CT_PRESETS
    )
    + ". Offered for a grey picture of signed values whose lowest is -900 or below (air)."
)

SHARED_TIP = (
    "Show every image with this window (images with as many channels shown, 8-bit or "
    "not alike; others keep their own), kept in the project, until unticked or "
    "Automatic is pressed. A change of the channels shown drops it."
)


def channel_names(count: int, chosen: Sequence[int] = ()) -> tuple[str, ...]:
    """What the rows of ``count`` channels are called: as they are shown, with the
    picture's channel each shows (1-based) when a channel choice picks them
    (``chosen``: 0-based, ADR 0030)."""
    if len(chosen) == count and count > 1:
        colours = ("Magenta", "Green") if count == 2 else ("Red", "Green", "Blue")
        return tuple(f"{c} ({i + 1})" for c, i in zip(colours, chosen, strict=True))
    if count == 2:
        return ("Magenta (1)", "Green (2)")
    if count == 3:
        return ("Red", "Green", "Blue")
    return ("",) * count


class ContrastDialog(QDialog):
    """Edits one ``(low, high)`` per channel shown; emits ``windows_changed`` live with
    all of them (a tuple of pairs), ``reset`` for the automatic ones, ``shared_toggled``
    when "Use for every image" is ticked or unticked."""

    windows_changed = Signal(object)
    reset = Signal()
    shared_toggled = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Contrast")
        grid = QGridLayout()
        grid.addWidget(QLabel("Black at"), 0, 1)
        grid.addWidget(QLabel("White at"), 0, 2)
        #: One row per channel: its name, the value shown black, the value shown white.
        self.rows: list[tuple[QLabel, QDoubleSpinBox, QDoubleSpinBox]] = []
        for row in range(1, MAX_CHANNELS + 1):
            name = QLabel("")
            low, high = DecimalBox(), DecimalBox()
            for spin in (low, high):
                spin.setDecimals(1)
                spin.setRange(-1e9, 1e9)
                spin.setKeyboardTracking(False)
                spin.valueChanged.connect(self._changed)
            grid.addWidget(name, row, 0)
            grid.addWidget(low, row, 1)
            grid.addWidget(high, row, 2)
            self.rows.append((name, low, high))
        # CT presets, for a picture that looks like CT (its row hidden otherwise).
        self.preset_label = QLabel("CT &preset")
        self.preset_combo = QComboBox()
        self.preset_combo.setPlaceholderText("Choose…")
        for i, preset in enumerate(CT_PRESETS):
            self.preset_combo.addItem(preset_text(preset), preset)
            low_at, high_at = preset.window
            self.preset_combo.setItemData(
                i, f"Black at {low_at:g}, white at {high_at:g}", Qt.ItemDataRole.ToolTipRole
            )
        self.preset_combo.setToolTip(PRESETS_TIP)
        self.preset_label.setBuddy(self.preset_combo)
        self.preset_combo.currentIndexChanged.connect(self._preset_chosen)
        grid.addWidget(self.preset_label, MAX_CHANNELS + 1, 0)
        grid.addWidget(self.preset_combo, MAX_CHANNELS + 1, 1, 1, 2)
        self.shared_check = QCheckBox("Use for &every image")
        self.shared_check.setToolTip(SHARED_TIP)
        self.shared_check.toggled.connect(self._shared_toggled)
        self.auto_button = QPushButton("&Automatic")
        self.auto_button.setToolTip(
            "The values of each channel between its 0.5 and 99.5 percentiles, black to white "
            '(8-bit pictures: as they are); with "Use for every image" ticked, every image '
            "goes back to its own automatic window"
        )
        self.auto_button.clicked.connect(self.reset.emit)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        # Enter in a box applies its value and nothing else: as the default button,
        # "Automatic" threw the typed value away (and Close would shut the dialog).
        for button in (self.auto_button, *buttons.buttons()):
            if isinstance(button, QPushButton):
                button.setAutoDefault(False)
                button.setDefault(False)
        layout = QVBoxLayout(self)
        layout.addLayout(grid)
        self.hint = QLabel("")  # the image's range, or why a change was not applied
        self.hint.setWordWrap(True)
        layout.addWidget(self.hint)
        layout.addWidget(self.shared_check)
        # Why this image is not shown with the window for every image that is on.
        self.shared_note = QLabel("")
        self.shared_note.setWordWrap(True)
        self.shared_note.hide()
        layout.addWidget(self.shared_note)
        layout.addWidget(self.auto_button)
        layout.addWidget(buttons)
        # Tab: the boxes row by row, the preset, the tick box, Automatic, Close.
        chain: list[QWidget] = [w for _, low, high in self.rows for w in (low, high)]
        chain += [self.preset_combo, self.shared_check, self.auto_button, *buttons.buttons()]
        for first, second in zip(chain, chain[1:], strict=False):
            QWidget.setTabOrder(first, second)
        self._setting = False
        self._count = 1
        self._names: tuple[str, ...] = ("",)
        self._range_text = ""
        self._show_rows(1)
        self.set_presets(False)

    @property
    def low(self) -> QDoubleSpinBox:
        """The first channel's (a grey picture's) "Black at" box."""
        return self.rows[0][1]

    @property
    def high(self) -> QDoubleSpinBox:
        """The first channel's (a grey picture's) "White at" box."""
        return self.rows[0][2]

    @property
    def channel_count(self) -> int:
        """How many channels the dialog shows a window of."""
        return self._count

    @property
    def presets_offered(self) -> bool:
        """Whether the CT presets are offered (the picture shown looks like CT)."""
        return not self.preset_combo.isHidden()

    def set_window(self, low: float, high: float, data_range: tuple[float, float]) -> None:
        """Show the one window of a grey picture."""
        self.set_windows([(low, high)], [data_range])

    def set_windows(
        self,
        windows: Sequence[Window],
        data_ranges: Sequence[tuple[float, float]],
        chosen: Sequence[int] = (),
    ) -> None:
        """Show one ``(low, high)`` per channel, with steps suited to each channel's value
        range (``data_ranges``, one per channel); ``chosen``: the picture's channels
        shown, when a channel choice picks them (0-based; the rows name them)."""
        count = min(len(windows), MAX_CHANNELS)
        self._setting = True
        self._show_rows(count, chosen)
        for (_, low_spin, high_spin), (low, high), data_range in zip(
            self.rows, windows[:count], data_ranges, strict=False
        ):
            step = spin_step(data_range)
            decimals = spin_decimals((low, high), data_range)
            for spin in (low_spin, high_spin):
                spin.setDecimals(decimals)
                spin.setSingleStep(step)
            low_spin.setValue(low)
            high_spin.setValue(high)
        self._setting = False
        if count == 1:
            lo, hi = data_ranges[0]
            self._range_text = f"The image's values run from {lo:g} to {hi:g}."
        else:
            spans = "; ".join(
                f"{name.lower()} {lo:g} to {hi:g}"
                for name, (lo, hi) in zip(self._names, data_ranges, strict=False)
            )
            self._range_text = f"Each channel has its own window. Their values run: {spans}."
        self.hint.setText(self._range_text)
        self._show_preset()
        fit_to_layout(self)  # (a grey picture's one row, then three: all shown)

    def set_presets(self, offered: bool) -> None:
        """Offer the CT presets (for a grey picture that looks like CT) or not."""
        for widget in (self.preset_label, self.preset_combo):
            widget.setHidden(not offered)
        self._show_preset()
        fit_to_layout(self)

    def set_shared(self, on: bool, note: str = "") -> None:
        """Tick "Use for every image" when the image is shown with the window for every
        image (``on``); ``note``: why it is not, when one is on for other images."""
        self._setting = True
        self.shared_check.setChecked(on)
        self._setting = False
        self.shared_note.setText(note)
        self.shared_note.setHidden(not note)
        fit_to_layout(self)

    def _show_rows(self, count: int, chosen: Sequence[int] = ()) -> None:
        self._count = count
        self._names = channel_names(count, chosen)
        for i, (name, low, high) in enumerate(self.rows):
            visible = i < count
            name.setText(self._names[i] if visible else "")
            for widget in (name, low, high):
                widget.setVisible(visible)

    def _show_preset(self) -> None:
        """Select the preset the boxes show, if any (none: "Choose…")."""
        shown = self.windows()[0] if self._count == 1 else None
        index = next((i for i, p in enumerate(CT_PRESETS) if p.window == shown), -1)
        self._setting = True
        self.preset_combo.setCurrentIndex(index)
        self._setting = False

    def windows(self) -> tuple[Window, ...]:
        """The windows the boxes show, one per channel."""
        return tuple((low.value(), high.value()) for _, low, high in self.rows[: self._count])

    def _preset_chosen(self, index: int) -> None:
        if self._setting or index < 0 or not self.presets_offered or self._count != 1:
            return
        low, high = CT_PRESETS[index].window
        self._setting = True
        self.low.setValue(low)
        self.high.setValue(high)
        self._setting = False
        self._changed()

    def _shared_toggled(self, on: bool) -> None:
        if not self._setting:
            self.shared_toggled.emit(on)

    def _changed(self) -> None:
        if self._setting:
            return
        windows = self.windows()
        wrong = [i for i, (low, high) in enumerate(windows) if not high > low]
        if wrong:
            which = f" ({self._names[wrong[0]].lower()})" if self._count > 1 else ""
            self.hint.setText(f"White must be above black{which}: the contrast was not changed.")
            return
        self.hint.setText(self._range_text)
        self._show_preset()
        self.windows_changed.emit(windows)


def _kind_text(shared: ContrastWindows) -> str:
    """The pictures a window for every image is for, in words."""
    if shared.ct:
        return "CT pictures (Hounsfield units)"
    shown = ("grey", "two-channel", "colour")[len(shared.windows) - 1]
    return (
        f"8-bit {shown} pictures" if shared.eight_bit else f"{shown} pictures of more than 8 bits"
    )


def shared_text(shared: ContrastWindows) -> str:
    """The status bar's words for the window for every image that is on (a CT preset's
    name where it is one)."""
    if len(shared.windows) > 1:
        return "Contrast for every image: a window per channel"
    low, high = shared.windows[0]
    preset = next((p.name.lower() for p in CT_PRESETS if p.window == (low, high)), None)
    return f"Contrast for every image: {preset + ', ' if preset else ''}{low:g} to {high:g}"


def shared_elsewhere(shared: ContrastWindows) -> str:
    """Why the image shown is not shown with the window for every image that is on."""
    return (
        f"The window for every image is on for {_kind_text(shared)}; this picture is of "
        "another kind and keeps its own (tick the box to use its window for every image "
        "instead)."
    )
