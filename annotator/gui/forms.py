"""The layout shared by the app's form dialogs (export, import): rows of a form, a path
field with its browse buttons, and OK / Cancel under the form."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
)


def path_row(edit: QLineEdit, *buttons: tuple[str, Callable[[], None]]) -> QHBoxLayout:
    """``edit`` followed by one push button per ``(text, slot)``."""
    row = QHBoxLayout()
    row.addWidget(edit)
    for text, slot in buttons:
        button = QPushButton(text)
        button.clicked.connect(slot)
        row.addWidget(button)
    return row


def finish_form(
    dialog: QDialog, form: QFormLayout, ok_text: str, on_ok: Callable[[], None]
) -> QDialogButtonBox:
    """Lay ``form`` out in ``dialog`` above OK (named ``ok_text``, calling ``on_ok``, which
    accepts the dialog when the input is valid) and Cancel."""
    buttons = QDialogButtonBox(
        QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
    )
    buttons.button(QDialogButtonBox.StandardButton.Ok).setText(ok_text)
    buttons.accepted.connect(on_ok)
    buttons.rejected.connect(dialog.reject)
    layout = QVBoxLayout(dialog)
    layout.addLayout(form)
    layout.addWidget(buttons)
    return buttons
