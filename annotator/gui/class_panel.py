"""The class panel: pick the class to paint, show/hide classes, add, rename, recolour,
merge into another class, remove, move up or down.

Rows are the schema's classes in id order, then "void" (pixels to ignore). Each row has
a colour swatch and a check box for visibility. Keys 1-9 and 0 select the first ten
classes, V void (the main window owns those shortcuts and calls
:meth:`ClassPanel.select_index`); C lists them all (:mod:`annotator.gui.class_picker`).
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (
    QColorDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QMessageBox,
    QPushButton,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from annotator.core.card import classes_fit
from annotator.core.schema import LabelClass, LabelSchema
from annotator.gui.layers import VOID_RGB
from annotator.gui.progress_task import plain

VALUE_ROLE = Qt.ItemDataRole.UserRole

# ADR 0007 in the user's words: what the model does when the class list changes.
MODEL_NOTE = (
    "Adding a class: the model keeps what it learnt and learns the new class from the "
    "next training round. Renaming a class: the model cannot tell whether its meaning "
    "changed, so the next round must start over (Model > Train from scratch). "
    "Removing a class, or merging it into another: every label map is rewritten, and the "
    "model loses that class's output and goes on from what it learnt. "
    "Colours and hiding change only the display."
)


def explain_schema_change(
    old: LabelSchema, new: LabelSchema, model: Sequence[str] | None = None
) -> str:
    """One or two sentences on what a class change means for the model (ADR 0007);
    ``model``: the classes the active version was trained for (None: no version)."""
    if len(new) > len(old):
        added = ", ".join(f"'{c.name}'" for c in new.classes[len(old) :])
        said = (
            f"Added {added}. The current model keeps what it learnt; the next training "
            "round adds an output for it, silent until you label some of its pixels."
        )
        return said + _alike_note(new, new.classes[-1].id)
    for a, b in zip(old.classes, new.classes):
        if a.name != b.name:
            return _renamed(a, b, new, model)
        if a.color != b.color:
            said = f"Recoloured '{b.name}'. Only the display changes; the model is unaffected."
            return said + _alike_note(new, b.id)
    return "No class changed."


def _alike_note(schema: LabelSchema, class_id: int) -> str:
    """A sentence when another class's colour cannot be told from ``class_id``'s."""
    alike = schema.looking_alike(class_id)
    if not alike:
        return ""
    return (
        f" '{alike[0]}' has the same colour as '{schema.classes[class_id].name}', or one hard "
        "to tell from it: choose another (Colour…) to tell the two apart."
    )


def _renamed(
    was: LabelClass, now: LabelClass, new: LabelSchema, model: Sequence[str] | None
) -> str:
    from annotator.services.versions import rename_effect

    said = f"Renamed '{was.name}' to '{now.name}'"
    effect = rename_effect(model, now.id, was.name, new.names)
    if effect == "none":
        return said + "."
    if effect == "unknown":
        return f"{said}. The model has not learnt that class yet: the next round does."
    if effect == "same":
        return (
            f"{said}. The same name in other letters: the model takes it as the same "
            "class, and training goes on from it."
        )
    if effect == "back":
        return f"{said}, the name the model was trained with: training goes on from it."
    return (
        f"{said}. The model cannot tell whether the meaning changed, so the current "
        "version will not be continued: use Model > Train from scratch for the next round."
    )


#: The class list shows this many rows without scrolling, however short the window.
LIST_ROWS = 8


def _button_width(button: QPushButton) -> int:
    """The least width that shows ``button``'s text (and its menu arrow): below the
    style's 80 px for push buttons with words, so that Add, Rename, Colour and More fit
    the dock's 270 px (they made it 312 px)."""
    style, metric = button.style(), QStyle.PixelMetric
    width = button.fontMetrics().horizontalAdvance(button.text())
    width += 2 * style.pixelMetric(metric.PM_ButtonMargin, None, button)  # either side
    width += 2 * style.pixelMetric(metric.PM_DefaultFrameWidth, None, button)
    if button.menu() is not None:
        width += style.pixelMetric(metric.PM_MenuButtonIndicator, None, button) + 2
    return width


#: The key of void's row (Tools > Paint void).
VOID_KEY = "V"


def class_key(row: int, void: bool = False) -> str:
    """The key that selects the class list's ``row`` (from 0): 1-9, then 0 for the
    tenth class, V for void, none past the tenth."""
    if void:
        return VOID_KEY
    return str(row + 1) if row < 9 else "0" if row == 9 else ""


def swatch(color: QColor, size: int = 14) -> QIcon:
    pix = QPixmap(size, size)
    pix.fill(color)
    painter = QPainter(pix)  # a border, so a white swatch (void) stays visible
    painter.setPen(QColor(110, 110, 110))
    painter.drawRect(0, 0, size - 1, size - 1)
    painter.end()
    return QIcon(pix)


class ClassPanel(QWidget):
    """A list of classes with visibility check boxes and edit buttons."""

    value_selected = Signal(int)  # label value to paint (a class id or void)
    visibility_changed = Signal(object)  # frozenset of hidden values
    add_requested = Signal(str, str)  # name, colour
    rename_requested = Signal(int, str)
    recolour_requested = Signal(int, str)
    remove_requested = Signal(int)  # class id
    merge_requested = Signal(int, int)  # class id, into class id
    move_requested = Signal(int, int)  # class id, its new id

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.list = QListWidget()
        self.list.setObjectName("classList")
        self.add_button = QPushButton("Add…")
        self.rename_button = QPushButton("Rename…")
        self.colour_button = QPushButton("Colour…")
        # Merge and remove rewrite every label map: one click further, in a menu. (A push
        # button draws its menu arrow beside the text; a tool button's sat over the "e".)
        self.more_button = QPushButton("More")
        more = QMenu(self.more_button)
        self.merge_action = more.addAction("Merge into another class…", self._ask_merge)
        self.remove_action = more.addAction("Remove class…", self._ask_remove)
        more.addSeparator()
        self.up_action = more.addAction("Move up", lambda: self._move(-1))
        self.down_action = more.addAction("Move down", lambda: self._move(+1))
        self.more_button.setMenu(more)
        buttons = QHBoxLayout()
        buttons.setSpacing(4)
        for b in (self.add_button, self.rename_button, self.colour_button, self.more_button):
            buttons.addWidget(b)
            b.setMinimumWidth(_button_width(b))
        # The list: names elided at the dock's edge (the whole name in the row's tooltip),
        # never a horizontal scrollbar; tall enough for the classes and void up to
        # LIST_ROWS rows (set_schema), so a short window does not squeeze it to 3 rows.
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.list.setUniformItemSizes(True)
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.customContextMenuRequested.connect(self._context_menu)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.list)
        layout.addLayout(buttons)
        # What a class change means for the model, said under the list after a change
        # (hidden until then: it took the room of the classes on a small screen).
        self.note = QLabel("")
        self.note.setObjectName("classNote")
        self.note.setTextFormat(Qt.TextFormat.PlainText)  # (class names as typed: `<b>x</b>`)
        self.note.setWordWrap(True)
        self.note.setStyleSheet("font-size: small;")
        self.note.hide()
        layout.addWidget(self.note)
        self.setWhatsThis(MODEL_NOTE)
        self.add_button.setToolTip("Add a class at the end of the list (the model learns it next)")
        self.rename_button.setToolTip(
            "Rename the selected class: a model that learnt it then stops proposing (it "
            "cannot tell whether the meaning changed) until you choose Model > Train from "
            "scratch"
        )
        self.colour_button.setToolTip("Change the colour of the selected class")
        self.more_button.setToolTip(
            "Merge the selected class into another, remove it, or move it in the list (every "
            "label map is rewritten)"
        )
        self._schema: LabelSchema | None = None
        self._filling = False
        self.list.currentRowChanged.connect(self._row_changed)
        self.list.itemChanged.connect(self._item_changed)
        self.add_button.clicked.connect(self._ask_add)
        self.rename_button.clicked.connect(self._ask_rename)
        self.colour_button.clicked.connect(self._ask_colour)

    def set_schema(self, schema: LabelSchema, hidden: frozenset[int] = frozenset()) -> None:
        """Fill the list from ``schema``, keeping the selected row; void only when it was
        void (a row past the classes, from fewer classes, is the last class: void is
        chosen on purpose, never by a shift). No row selected: the first class."""
        row = max(self.list.currentRow(), 0)
        was_void = self._schema is not None and self.current_value() == self._schema.void
        self._schema = schema
        self._filling = True
        self.list.clear()
        entries = [(c.id, c.name, QColor(c.color)) for c in schema.classes]
        entries.append((schema.void, "void (ignore)", QColor(*VOID_RGB)))
        for i, (value, name, color) in enumerate(entries):
            key = class_key(i, value == schema.void)
            item = QListWidgetItem(swatch(color), f"{key:<3}{name}")
            item.setData(VALUE_ROLE, value)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(
                Qt.CheckState.Unchecked if value in hidden else Qt.CheckState.Checked
            )
            item.setToolTip(f"{name}: tick to show it, untick to hide it")
            self.list.addItem(item)
        self._filling = False
        self._fit_rows()
        classes = len(schema.classes)
        self.list.setCurrentRow(classes if was_void else min(row, max(classes - 1, 0)))

    def _fit_rows(self) -> None:
        """A list tall enough for its rows (classes and void), up to :data:`LIST_ROWS`
        of them; more scroll."""
        rows = min(max(self.list.count(), 1), LIST_ROWS)
        row = max(self.list.sizeHintForRow(0), self.list.fontMetrics().height())
        frame = 2 * self.list.frameWidth()
        self.list.setMinimumHeight(rows * row + frame + 2)

    def explain_change(
        self, old: LabelSchema, new: LabelSchema, model: Sequence[str] | None = None
    ) -> str:
        """Say under the list what the change means for the model (``model``: see
        :func:`explain_schema_change`); return the words."""
        text = explain_schema_change(old, new, model)
        self.note.setText(text)
        self.note.setVisible(bool(text))
        return text

    def model_caught_up(self, classes: Sequence[str]) -> None:
        """A round published a version trained for ``classes``: where they are the
        classes now, the note on the last change is done with (it said what the next
        round would do), so it goes."""
        schema = self._schema
        if schema is not None and classes_fit(
            classes, [c.name for c in schema.classes], allow_new_classes=False
        ):
            self.note.hide()

    def current_value(self) -> int | None:
        item = self.list.currentItem()
        return None if item is None else int(item.data(VALUE_ROLE))

    def select_value(self, value: int) -> None:
        """Select the row of this label value (a class id or void), else the first."""
        rows = [i for i in range(self.list.count()) if self.list.item(i).data(VALUE_ROLE) == value]
        self.list.setCurrentRow(rows[0] if rows else 0)

    def select_index(self, index: int) -> None:
        """Select the ``index``-th class (0-based), e.g. from the keys 1-9 and 0."""
        if self._schema is not None and 0 <= index < len(self._schema):
            self.list.setCurrentRow(index)

    def show_value(self, value: int) -> None:
        """Tick the "shown" box of this label value's row (no signal: the caller shows
        it)."""
        self._filling = True
        try:
            for i in range(self.list.count()):
                item = self.list.item(i)
                if item.data(VALUE_ROLE) == value:
                    item.setCheckState(Qt.CheckState.Checked)
        finally:
            self._filling = False

    def hidden(self) -> frozenset[int]:
        out = set()
        for i in range(self.list.count()):
            item = self.list.item(i)
            if item.checkState() != Qt.CheckState.Checked:
                out.add(int(item.data(VALUE_ROLE)))
        return frozenset(out)

    def _row_changed(self, row: int) -> None:
        value = self.current_value()
        is_class = self._selected_class() is not None  # void has no name or colour to edit
        self.rename_button.setEnabled(is_class)
        self.colour_button.setEnabled(is_class)
        several = self._schema is not None and len(self._schema) > 1
        self.more_button.setEnabled(is_class and several)
        cid = self._selected_class()
        self.up_action.setEnabled(cid is not None and cid > 0)
        self.down_action.setEnabled(
            cid is not None and self._schema is not None and cid < len(self._schema) - 1
        )
        if value is not None and not self._filling:
            self.value_selected.emit(value)

    def _item_changed(self, item: QListWidgetItem) -> None:
        if not self._filling:
            self.visibility_changed.emit(self.hidden())

    def _selected_class(self) -> int | None:
        value = self.current_value()
        if value is None or self._schema is None or value >= len(self._schema):
            return None
        return value

    def _ask_add(self) -> None:
        name, ok = QInputDialog.getText(self, "Add class", "Name of the new class:")
        if ok:  # an empty name too: the schema's refusal says why nothing was added
            self.add_requested.emit(name.strip(), "")

    def _ask_rename(self) -> None:
        cid = self._selected_class()
        if cid is None or self._schema is None:
            return
        name, ok = QInputDialog.getText(
            self, "Rename class", "New name:", text=self._schema.classes[cid].name
        )
        if ok:  # an empty name too: the schema's refusal says why nothing changed
            self.rename_requested.emit(cid, name.strip())

    def _ask_colour(self) -> None:
        cid = self._selected_class()
        if cid is None or self._schema is None:
            return
        color = QColorDialog.getColor(QColor(self._schema.classes[cid].color), self, "Class colour")
        if color.isValid():
            self.recolour_requested.emit(cid, color.name())

    def _context_menu(self, pos: QPoint) -> None:
        item = self.list.itemAt(pos)
        if item is None:
            return
        self.list.setCurrentItem(item)
        if self._selected_class() is None:
            return  # void: nothing to edit
        menu = QMenu(self)
        menu.addAction("Rename…", self._ask_rename)
        menu.addAction("Colour…", self._ask_colour)
        menu.addSeparator()
        for action in (self.merge_action, self.remove_action):
            menu.addAction(action)
            action.setEnabled(self.more_button.isEnabled())
        menu.addSeparator()
        menu.addAction(self.up_action)
        menu.addAction(self.down_action)
        menu.exec(self.list.viewport().mapToGlobal(pos))

    def _ask_merge(self) -> None:
        cid = self._selected_class()
        if cid is None or self._schema is None or len(self._schema) < 2:
            return
        name = self._schema.classes[cid].name
        others = [c for c in self._schema.classes if c.id != cid]
        picked, ok = QInputDialog.getItem(
            self,
            "Merge class",
            f"Merge '{name}' into:\n(its pixels become that class; '{name}' is removed)",
            [c.name for c in others],
            0,
            False,
        )
        if not ok:
            return
        into = next(c for c in others if c.name == picked)
        if self._confirm(
            f"Merge '{name}' into '{into.name}'?",
            f"Every pixel of '{name}' becomes '{into.name}' in every image.",
            "Merge",
        ):
            self.merge_requested.emit(cid, into.id)

    def _ask_remove(self) -> None:
        cid = self._selected_class()
        if cid is None or self._schema is None or len(self._schema) < 2:
            return
        name = self._schema.classes[cid].name
        if self._confirm(
            f"Remove the class '{name}'?",
            "Its pixels become unlabelled in every image. To keep them labelled as another "
            "class, merge it instead.",
            "Remove",
        ):
            self.remove_requested.emit(cid)

    def _move(self, step: int) -> None:
        """Move the selected class one place (its id and the neighbour's swap; every
        label map is rewritten, so no confirmation: moving back undoes it)."""
        cid = self._selected_class()
        if cid is None or self._schema is None or not 0 <= cid + step < len(self._schema):
            return
        self.move_requested.emit(cid, cid + step)

    def _confirm(self, question: str, what: str, verb: str) -> bool:
        """Ask before a change that rewrites every label map: ``verb`` names the button
        that does it, Cancel (the default) does nothing."""
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Change classes",
            plain(question),
            QMessageBox.StandardButton.Ok | QMessageBox.StandardButton.Cancel,
            self,
        )
        box.button(QMessageBox.StandardButton.Ok).setText(verb)
        box.setInformativeText(
            plain(
                f"{what} The classes after it move up one place in the list (and the keys "
                "1-9, 0 with them). Every label map is rewritten; stopped half-way, nothing "
                "changes. A model loses this class's output and goes on from what it "
                "learnt. It cannot be undone here: the label maps that held this class are "
                "kept, as they are now, in the project's removed folder, and File > Import "
                "labels… of that folder, with the format Masks, brings the class back."
            )
        )
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        return box.exec() == QMessageBox.StandardButton.Ok
