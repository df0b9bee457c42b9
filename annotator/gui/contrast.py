"""A small dialog to adjust the display contrast window (low / high intensity)."""

from __future__ import annotations

import math

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QPushButton,
    QWidget,
)


def spin_step(data_range: tuple[float, float]) -> float:
    """A hundredth of the image's value range, at least 1e-9 (a flat image: 1)."""
    span = data_range[1] - data_range[0]
    return max(span / 100.0, 1e-9) if span > 0 else 1.0


class ContrastDialog(QDialog):
    """Edits ``(low, high)``; emits ``window_changed`` live, ``reset`` for automatic."""

    window_changed = Signal(float, float)
    reset = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Contrast")
        self.low = QDoubleSpinBox()
        self.high = QDoubleSpinBox()
        for spin in (self.low, self.high):
            spin.setDecimals(1)
            spin.setRange(-1e9, 1e9)
            spin.setKeyboardTracking(False)
            spin.valueChanged.connect(self._changed)
        self.auto_button = QPushButton("Automatic")
        self.auto_button.clicked.connect(self.reset.emit)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        # Enter in a box applies its value and nothing else: as the default button,
        # "Automatic" threw the typed value away (and Close would shut the dialog).
        for button in (self.auto_button, *buttons.buttons()):
            if isinstance(button, QPushButton):
                button.setAutoDefault(False)
                button.setDefault(False)
        form = QFormLayout(self)
        self.hint = QLabel("")  # the image's range, or why a change was not applied
        self.hint.setWordWrap(True)
        form.addRow("Black at", self.low)
        form.addRow("White at", self.high)
        form.addRow(self.hint)
        form.addRow(self.auto_button)
        form.addRow(buttons)
        self._setting = False
        self._range_text = ""

    def set_window(self, low: float, high: float, data_range: tuple[float, float]) -> None:
        """Show ``(low, high)`` with steps suited to the image's value range."""
        self._setting = True
        step = spin_step(data_range)
        for spin in (self.low, self.high):
            # A step shows at least its first digit: 0..0.05 gets four decimals, not 0.0.
            spin.setDecimals(max(1, min(10, math.ceil(-math.log10(step)) + 1)))
            spin.setSingleStep(step)
        self.low.setValue(low)
        self.high.setValue(high)
        self._setting = False
        self._range_text = f"The image's values run from {data_range[0]:g} to {data_range[1]:g}."
        self.hint.setText(self._range_text)

    def _changed(self) -> None:
        if self._setting:
            return
        low, high = self.low.value(), self.high.value()
        if high > low:
            self.hint.setText(self._range_text)
            self.window_changed.emit(low, high)
        else:
            self.hint.setText("White must be above black: the contrast was not changed.")
