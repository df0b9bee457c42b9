"""Number boxes in the window's toolbars and panels leave the window's shortcuts alone.

A spin box that has the focus (after a click on its arrows, say) claims every printable
key for its text: E no longer chose the eraser and + no longer zoomed until the user
clicked the canvas. A number box has no use for letters, so they (and ``+``) go to the
window's shortcuts instead; digits, the decimal point and editing keys stay with the
box. Enter or Esc in a box hands the focus back to the canvas.

Its line edit also claims some Ctrl keys, as the platform's key bindings say: under the
X11, KDE and GNOME schemes (Linux) Ctrl+E is "end of line", so Ctrl+E (Export) did
nothing while a box had the focus. Every Ctrl or Alt key goes to the window's shortcuts
too, except the box's own editing (undo, redo, cut, copy, paste, select all); a key the
window has no shortcut for still reaches the box (Ctrl+Left moves by a word).

A non-modal dialog (View > Contrast) is a window of its own, and the window's shortcuts
are the window's only: B, E, F and the class digits did nothing while it had the focus.
:func:`share_shortcuts` gives it the window's shortcuts, its number boxes keeping what
one types into a number, as above.
"""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QAction, QKeyEvent, QKeySequence, QShortcut, QValidator
from PySide6.QtWidgets import QAbstractSpinBox, QDoubleSpinBox, QSpinBox, QWidget

#: Keys a number box keeps: what one types into a number, and moves within it.
_KEPT = {
    Qt.Key.Key_Backspace,
    Qt.Key.Key_Delete,
    Qt.Key.Key_Left,
    Qt.Key.Key_Right,
    Qt.Key.Key_Up,
    Qt.Key.Key_Down,
    Qt.Key.Key_Home,
    Qt.Key.Key_End,
    Qt.Key.Key_PageUp,
    Qt.Key.Key_PageDown,
    Qt.Key.Key_Period,
    Qt.Key.Key_Comma,
    Qt.Key.Key_Minus,
}


#: Ctrl keys that keep their meaning in the box's text (as the platform binds them).
_EDITING = (
    QKeySequence.StandardKey.Undo,
    QKeySequence.StandardKey.Redo,
    QKeySequence.StandardKey.Cut,
    QKeySequence.StandardKey.Copy,
    QKeySequence.StandardKey.Paste,
    QKeySequence.StandardKey.SelectAll,
)


def _with_ctrl_or_alt(event: QKeyEvent) -> bool:
    return bool(
        event.modifiers() & (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier)
    )


def _kept_key(event: QKeyEvent) -> bool:
    """Whether the key (modifiers aside) is one a number box keeps: :data:`_KEPT`, digits."""
    key = Qt.Key(event.key())
    return key in _KEPT or Qt.Key.Key_0 <= key <= Qt.Key.Key_9


def leaves_shortcuts(event: QKeyEvent) -> bool:
    """Whether a key pressed in a number box belongs to the window's shortcuts."""
    if _with_ctrl_or_alt(event):
        # Ctrl+Z, Ctrl+A... edit the box's text; Ctrl+E (Export) and the others are the
        # window's, whatever the platform binds them to in a text field.
        return not any(event.matches(k) for k in _EDITING)
    if _kept_key(event):
        return False
    return bool(event.text().strip())


def _keeps(event: QKeyEvent) -> bool:
    """Whether a plain key is one the box keeps (digits, arrows, PgUp/PgDown...): its
    ShortcutOverride is accepted so the box gets the key press, not a window shortcut
    on the same key (PgDown: next image)."""
    return not _with_ctrl_or_alt(event) and _kept_key(event)


_DONE_KEYS = {Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Escape}


def _point_refused(box: QObject, event: QKeyEvent) -> bool:
    """A '.' or ',' pressed in a box of whole numbers (or of no decimals), which refuses
    both: the key is the window's (label opacity) rather than lost."""
    if _with_ctrl_or_alt(event) or event.key() not in (Qt.Key.Key_Period, Qt.Key.Key_Comma):
        return False
    takes = isinstance(box, QDoubleSpinBox) and box.decimals() > 0
    return isinstance(box, QAbstractSpinBox) and not takes


class _PassShortcuts(QObject):
    """``canvas``: what gets the focus after Enter or Esc in a box (None: the box keeps it)."""

    def __init__(self, canvas: QWidget | None, parent: QObject) -> None:
        super().__init__(parent)
        self._canvas = canvas

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt API)
        if not isinstance(event, QKeyEvent):
            return False
        if event.type() == QEvent.Type.ShortcutOverride and (
            leaves_shortcuts(event) or _point_refused(watched, event)
        ):
            event.ignore()  # not the box's: the window's shortcut map gets it
            return True
        if event.type() == QEvent.Type.ShortcutOverride and _keeps(event):
            event.accept()  # the box's: no window shortcut on the same key fires
            return True
        canvas = self._canvas
        if (
            canvas is not None
            and event.type() == QEvent.Type.KeyPress
            and event.key() in _DONE_KEYS
        ):
            # The box takes the key first (Enter applies the value), then the image the
            # focus. Not on every focus-out: a click into another field must keep it.
            QTimer.singleShot(0, canvas, canvas.setFocus)
        return False


def let_shortcuts_through(window: QWidget, canvas: QWidget) -> None:
    """Install the pass-through on every number box of ``window`` itself (not of its
    dialogs, which are windows of their own)."""
    keeper = _PassShortcuts(canvas, window)
    for box in window.findChildren(QAbstractSpinBox):
        if box.window() is window:
            box.installEventFilter(keeper)


def share_shortcuts(dialog: QWidget, window: QWidget, actions: Iterable[QAction]) -> None:
    """The shortcuts of ``window`` (its ``actions``' and its own QShortcuts: the class
    digits) work while the non-modal ``dialog`` has the focus, as in the window; the
    dialog's number boxes keep digits, the point, minus and their editing keys (Enter
    applies a value, Esc closes the dialog, as before)."""
    dialog.addActions([a for a in actions if a.shortcuts()])
    for shortcut in window.findChildren(QShortcut):
        if shortcut.parent() is window:
            twin = QShortcut(shortcut.key(), dialog)
            twin.activated.connect(shortcut.activated)
    keeper = _PassShortcuts(None, dialog)
    for box in dialog.findChildren(QAbstractSpinBox):
        box.installEventFilter(keeper)


class DecimalBox(QDoubleSpinBox):
    """A box of a number with decimals that reads '.' and ',' alike as the decimal point,
    whatever the locale: under a German or French one Qt took a typed '.' for a
    thousands separator (12.5 became 125), and under an English one ',' (no group
    separator is shown or taken in these small numbers)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setGroupSeparatorShown(False)

    def _point(self, text: str) -> str:
        point = self.locale().decimalPoint()
        return text.replace(",", point).replace(".", point)

    def validate(self, text: str, pos: int) -> object:  # type: ignore[override]
        if text.count(".") + text.count(",") > 1:
            return QValidator.State.Invalid, text, pos
        return super().validate(self._point(text), pos)

    def valueFromText(self, text: str) -> float:  # noqa: N802 (Qt API)
        return super().valueFromText(self._point(text))


class WholeBox(QSpinBox):
    """A box of a whole number that takes no '.' nor ',' (Qt took them for a thousands
    separator: 1.5 typed became 15)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setGroupSeparatorShown(False)

    def validate(self, text: str, pos: int) -> object:  # type: ignore[override]
        if "." in text or "," in text:
            return QValidator.State.Invalid, text, pos
        return super().validate(text, pos)
