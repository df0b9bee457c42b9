"""Enter in the New project dialog's class table edits the table: it never presses
Create (Enter on a cell not being edited, as after a name typed and ended with Enter,
made a project of a half-typed class list)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLineEdit

from annotator.gui.new_project_dialog import NewProjectDialog


def _dialog(qtbot, tmp_path):  # type: ignore[no-untyped-def]
    dialog = NewProjectDialog()
    qtbot.addWidget(dialog)
    dialog.project_edit.setText(str(tmp_path / "P"))
    dialog.show()
    qtbot.waitExposed(dialog)
    return dialog


def test_enter_after_typing_a_class_name_keeps_the_dialog_open(qtbot, tmp_path) -> None:
    dialog = _dialog(qtbot, tmp_path)
    table = dialog.classes
    table.add_row()
    row = table.rowCount() - 1
    table.setFocus()
    table.setCurrentCell(row, 0)
    table.editItem(table.item(row, 0))
    qtbot.waitUntil(lambda: isinstance(QApplication.focusWidget(), QLineEdit))
    editor = QApplication.focusWidget()
    qtbot.keyClicks(editor, "nucleus")
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    qtbot.wait(50)
    assert dialog.isVisible() and dialog.created is None
    assert not (tmp_path / "P").exists()
    assert table.item(row, 0).text() == "nucleus"  # the name was taken
    qtbot.keyClick(table, Qt.Key.Key_Return)  # Enter again, on the cell now not edited
    qtbot.wait(50)
    assert dialog.isVisible() and not (tmp_path / "P").exists()


def test_enter_on_a_name_cell_starts_editing_it(qtbot, tmp_path) -> None:
    dialog = _dialog(qtbot, tmp_path)
    table = dialog.classes
    table.setFocus()
    table.setCurrentCell(0, 0)
    qtbot.keyClick(table, Qt.Key.Key_Return)
    qtbot.wait(50)
    assert dialog.isVisible() and not (tmp_path / "P").exists()
    assert table.state() == table.State.EditingState
    assert isinstance(QApplication.focusWidget(), QLineEdit)


def test_enter_in_the_folder_field_still_creates(qtbot, tmp_path) -> None:
    dialog = _dialog(qtbot, tmp_path)
    dialog.project_edit.setFocus()
    qtbot.keyClick(dialog.project_edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not dialog.isVisible())
    assert dialog.created == (tmp_path / "P").absolute()
