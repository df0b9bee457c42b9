"""The status bar and its labels, sized so that a short message stays readable.

The status bar's own short messages ("Nothing changed: …", "Accepted …") show at its
left, in what the permanent labels at its right leave. Those labels once took all
they wanted (a class name of 70 characters, four labels of at least 110 px), and at
1000-1366 px a message showed as its first few words. Here:

- ``ElidedLabel``: a name (the class under the cursor, the proposal's, the protected
  class) takes at most ``widest`` px and gives way down to ``narrowest`` px when the bar
  is short; what it cuts ends in "…", and its tooltip starts with the whole text.
- ``ReadoutLabel``: a number (x y, value, zoom) is never cut; its width grows to the
  widest text it showed since ``forget_width`` (a new image), so it does not jitter.
- ``MessageBar``: while a message shows, it keeps room for the message in the layout
  (the labels at its right give way as far as they can), draws it with "…" where it is
  still cut, and its tooltip then gives the whole message.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QRect, QSize, Qt
from PySide6.QtGui import QHelpEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import (
    QLabel,
    QSizePolicy,
    QStatusBar,
    QStyle,
    QStyleOption,
    QToolTip,
    QWidget,
)

ELLIPSIS_RIGHT = Qt.TextElideMode.ElideRight


class ElidedLabel(QLabel):
    """A one-line label that shows what fits of its text, ending in "…".

    ``text()`` stays the whole text; the tooltip is the whole text, then ``about`` (what
    the label is), so nothing cut is out of reach."""

    def __init__(self, about: str = "", *, widest: int | None = None, narrowest: int = 60):
        super().__init__()
        self._about = about
        self._widest = widest
        self._narrowest = narrowest
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        self.setToolTip(about)

    def setText(self, text: str) -> None:  # noqa: N802 (Qt's name)
        super().setText(text)
        self.setToolTip("\n".join(t for t in (text, self._about) if t))

    def _margins(self) -> int:
        m = self.contentsMargins()
        return m.left() + m.right() + 2 * self.margin()

    def sizeHint(self) -> QSize:  # noqa: N802
        hint = super().sizeHint()  # (the whole text, as QLabel measures it)
        if not self.text():
            return QSize(self._margins(), hint.height())
        if self._widest is not None:
            return QSize(min(hint.width(), self._widest + self._margins()), hint.height())
        return hint

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        hint = self.sizeHint()
        width = min(hint.width(), self._narrowest + self._margins())
        return QSize(width, super().minimumSizeHint().height())

    def shown_text(self) -> str:
        """The text as drawn at the label's present width ("…" where cut)."""
        return self.fontMetrics().elidedText(
            self.text(), ELLIPSIS_RIGHT, self.contentsRect().width() - 2 * self.margin()
        )

    def is_cut(self) -> bool:
        return self.shown_text() != self.text()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        painter = QPainter(self)
        rect = self.contentsRect().adjusted(
            self.margin(), self.margin(), -self.margin(), -self.margin()
        )
        self.style().drawItemText(
            painter,
            rect,
            int(self.alignment() | Qt.AlignmentFlag.AlignVCenter),
            self.palette(),
            self.isEnabled(),
            self.shown_text(),
            self.foregroundRole(),
        )


class ReadoutLabel(QLabel):
    """A number of the status bar: never cut, as wide as the widest text it showed since
    ``forget_width`` (the digits of x and y come and go as the cursor moves)."""

    def __init__(self) -> None:
        super().__init__()
        self._floor = 0

    def setText(self, text: str) -> None:  # noqa: N802
        super().setText(text)
        width = super().sizeHint().width()
        if width > self._floor:
            self._floor = width
            self.updateGeometry()

    def forget_width(self) -> None:
        """A new image: its numbers may be narrower."""
        self._floor = 0
        self.updateGeometry()

    def sizeHint(self) -> QSize:  # noqa: N802
        hint = super().sizeHint()
        return QSize(max(hint.width(), self._floor), hint.height())

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        return self.sizeHint()


class _Room(QWidget):
    """Room kept for the status bar's message: as wide as the message, giving way."""

    def __init__(self) -> None:
        super().__init__()
        self.wanted = 0
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(self.wanted, 0)

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        return QSize(0, 0)


class MessageBar(QStatusBar):
    """A status bar whose short messages keep room beside its permanent labels, are
    drawn with "…" where still cut, and are whole in its tooltip then."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._permanent: list[QWidget] = []
        #: A normal widget (at the left), shown while a message is: the bar hides its
        #: normal widgets then, and its permanent ones took all the rest.
        self._room = _Room()
        self.addWidget(self._room)
        self._room.hide()
        self.messageChanged.connect(self._message_changed)

    def addPermanentWidget(self, widget: QWidget, stretch: int | None = 0) -> None:  # noqa: N802
        super().addPermanentWidget(widget, stretch or 0)
        self._permanent.append(widget)

    def _message_changed(self, text: str) -> None:
        self._room.wanted = self.fontMetrics().horizontalAdvance(text) + 8 if text else 0
        self._room.setVisible(bool(text))
        self._room.updateGeometry()

    def message_rect(self) -> QRect:
        """Where the message is drawn: from the left to the first permanent widget
        shown (as QStatusBar draws it)."""
        shown = [w for w in self._permanent if w.isVisible()]
        left, right = 6, self.width() - 12
        if shown and self.layoutDirection() == Qt.LayoutDirection.RightToLeft:
            left = max(left, max(w.x() + w.width() for w in shown) + 2)
        elif shown:
            right = min(right, min(w.x() for w in shown) - 2)
        return QRect(left, 0, right - left, self.height())

    def shown_message(self) -> str:
        """The current message as drawn ("…" where cut; "" when none)."""
        message = self.currentMessage()
        if not message:
            return ""
        return self.fontMetrics().elidedText(message, ELLIPSIS_RIGHT, self.message_rect().width())

    def message_tip(self) -> str:
        """The tooltip: a note's detail where one is set, else a cut message whole."""
        own = self.toolTip()
        if own:
            return own
        message = self.currentMessage()
        return message if message and self.shown_message() != message else ""

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            tip = self.message_tip()
            if tip:
                QToolTip.showText(event.globalPos(), tip, self)
            else:
                QToolTip.hideText()
                event.ignore()
            return True
        return super().event(event)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        message = self.currentMessage()
        if not message:
            super().paintEvent(event)
            return
        # As QStatusBar paints a message, with "…" where the message is cut.
        painter = QPainter(self)
        option = QStyleOption()
        option.initFrom(self)
        style = self.style()
        style.drawPrimitive(QStyle.PrimitiveElement.PE_PanelStatusBar, option, painter, self)
        for widget in self._permanent:
            if widget.isVisible():
                frame = QStyleOption()
                frame.rect = widget.geometry().adjusted(-2, -1, 2, 1)
                frame.palette = self.palette()
                style.drawPrimitive(
                    QStyle.PrimitiveElement.PE_FrameStatusBarItem, frame, painter, widget
                )
        painter.setPen(self.palette().windowText().color())
        flags = Qt.AlignmentFlag.AlignLeading | Qt.AlignmentFlag.AlignVCenter
        painter.drawText(
            self.message_rect(), int(flags | Qt.TextFlag.TextSingleLine), self.shown_message()
        )
