"""The quick class picker (Tools > Choose class from a list, C): a small list of the
classes at the pointer, filtered as one types, Enter picks.

Keys 1-9 and 0 reach the first ten classes; a street scene has 11 (CamVid) or 19
(Cityscapes). The picker reaches every class with a few keys and no trip to the class
panel: C, two or three letters of the name (or the class's number), Enter. Up and Down
move through what the filter leaves, a click picks too, Esc or a click elsewhere closes
it and nothing changes. It is a popup, so while it is open the typed letters go to its
filter, not to the window's shortcuts.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QPoint, Qt, Signal
from PySide6.QtGui import QColor, QKeyEvent
from PySide6.QtWidgets import (
    QFrame,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from annotator.core.schema import LabelSchema
from annotator.gui.class_panel import VALUE_ROLE, class_key, swatch
from annotator.gui.layers import VOID_RGB

#: Rows the list shows before it scrolls.
VISIBLE_ROWS = 12
#: A row's number (its position in the class list, from 1) and lower-case name.
SEARCH_ROLE = Qt.ItemDataRole.UserRole + 1


class ClassPicker(QFrame):
    """The popup; :meth:`open_at` fills and shows it, :attr:`picked` says the choice."""

    picked = Signal(int)  # the label value chosen: a class id or void

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Popup)
        self.setObjectName("classPicker")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("Type to filter, Enter picks")
        self.list = QListWidget()
        self.list.setObjectName("classPickerList")
        self.list.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the keys stay in the filter
        layout = QVBoxLayout(self)
        layout.setContentsMargins(3, 3, 3, 3)
        layout.setSpacing(3)
        layout.addWidget(self.filter_edit)
        layout.addWidget(self.list)
        self.filter_edit.textChanged.connect(self._refilter)
        self.filter_edit.installEventFilter(self)
        self.list.itemClicked.connect(self._pick_item)

    def open_at(self, schema: LabelSchema, current: int, where: QPoint) -> None:
        """List ``schema``'s classes and void (``current`` selected) with the popup's
        top-left corner at ``where`` (global; kept on the screen)."""
        self.list.clear()
        entries = [(c.id, c.name, QColor(c.color)) for c in schema.classes]
        entries.append((schema.void, "void (ignore)", QColor(*VOID_RGB)))
        for i, (value, name, colour) in enumerate(entries):
            void = value == schema.void
            number = "" if void else str(i + 1)  # what typing a number finds
            key = class_key(i, void)
            text = f"{number:>2}  {name}" + (f"   (key {key})" if key not in ("", number) else "")
            item = QListWidgetItem(swatch(colour), text)
            item.setData(VALUE_ROLE, value)
            item.setData(SEARCH_ROLE, (number, name.lower()))
            self.list.addItem(item)
        self.filter_edit.clear()
        self._refilter("")
        self._select_value(current)
        row = self.list.sizeHintForRow(0) if self.list.count() else 20
        self.list.setFixedHeight(row * min(self.list.count(), VISIBLE_ROWS) + 6)
        self.list.setMinimumWidth(max(self.list.sizeHintForColumn(0) + 30, 180))
        self.adjustSize()
        screen = self.screen().availableGeometry()
        x = min(max(where.x(), screen.left()), screen.right() - self.width())
        y = min(max(where.y(), screen.top()), screen.bottom() - self.height())
        self.move(x, y)
        self.show()
        self.filter_edit.setFocus()

    def shown_values(self) -> list[int]:
        """The label values the filter leaves, in list order."""
        return [
            int(self.list.item(i).data(VALUE_ROLE))
            for i in range(self.list.count())
            if not self.list.item(i).isHidden()
        ]

    def _refilter(self, text: str) -> None:
        """Keep the rows whose name holds ``text`` or whose number is ``text``, and select
        the best of them: the first whose number is it or whose name begins with it
        ("car" before "bicycle" of "c"), else the first shown. Emptied, the filter shows
        every row and keeps the selection."""
        needle = text.strip().lower()
        best = first = None
        for i in range(self.list.count()):
            item = self.list.item(i)
            number, name = item.data(SEARCH_ROLE)
            shown = not needle or needle == number or needle in name
            item.setHidden(not shown)
            if shown and first is None:
                first = i
            if shown and best is None and needle and (needle == number or name.startswith(needle)):
                best = i
        current = self.list.currentItem()
        if needle or current is None or current.isHidden():
            self.list.setCurrentRow(best if best is not None else -1 if first is None else first)

    def _select_value(self, value: int) -> None:
        for i in range(self.list.count()):
            if self.list.item(i).data(VALUE_ROLE) == value:
                self.list.setCurrentRow(i)
                return

    def _move(self, step: int) -> None:
        """Select the shown row ``step`` rows on from the selected one (kept in the list)."""
        rows = [i for i in range(self.list.count()) if not self.list.item(i).isHidden()]
        if not rows:
            return
        now = self.list.currentRow()
        at = rows.index(now) if now in rows else (-1 if step > 0 else len(rows))
        self.list.setCurrentRow(rows[max(0, min(len(rows) - 1, at + step))])

    def _pick_item(self, item: QListWidgetItem) -> None:
        self.close()
        self.picked.emit(int(item.data(VALUE_ROLE)))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt API)
        if watched is not self.filter_edit or event.type() != QEvent.Type.KeyPress:
            return False
        assert isinstance(event, QKeyEvent)
        key = event.key()
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            item = self.list.currentItem()
            if item is not None and not item.isHidden():
                self._pick_item(item)
            return True
        if key in (Qt.Key.Key_Down, Qt.Key.Key_Up, Qt.Key.Key_PageDown, Qt.Key.Key_PageUp):
            steps = {
                Qt.Key.Key_Down: 1,
                Qt.Key.Key_Up: -1,
                Qt.Key.Key_PageDown: VISIBLE_ROWS,
                Qt.Key.Key_PageUp: -VISIBLE_ROWS,
            }
            self._move(steps[Qt.Key(key)])
            return True
        if key == Qt.Key.Key_Escape:
            self.close()
            return True
        return False
