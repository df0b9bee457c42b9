"""The layout shared by the app's form dialogs (export, import): rows of a form, a path
field with its browse buttons, and OK / Cancel under the form; the plain names of the
interchange formats; the size of a dialog whose rows come and go; and the refusal of a
path the system cannot look up."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
)

from annotator.core.errors import AnnotatorError


def path_text(edit: QLineEdit) -> str:
    """The path a field holds: as typed when a file or folder of that very name exists
    (``data `` with its space, as Browse… fills it in), else without the spaces around
    it (typed by accident)."""
    text = edit.text()
    # (os.path.exists: False for a name too long or a folder not readable, never raises)
    there = text != text.strip() and text.strip() and os.path.exists(os.path.expanduser(text))
    return text if there else text.strip()


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


def fit_to_layout(dialog: QDialog) -> None:
    """Give ``dialog`` the size its layout needs now that rows were shown or hidden.

    The layout is brought up to date first: widgets shown or hidden while the dialog is
    closed are not in it until then, and ``adjustSize`` alone kept the old rows' height
    (the contrast dialog's boxes were cut off at the bottom). Words that wrap make the
    height depend on the width, so the height is at least the layout's for the width
    taken."""
    layout = dialog.layout()
    if layout is None:
        return
    layout.invalidate()
    layout.activate()
    dialog.adjustSize()
    needed = max(dialog.heightForWidth(dialog.width()), dialog.minimumSizeHint().height())
    if dialog.height() < needed:
        dialog.resize(dialog.width(), needed)


#: What the format boxes call each interchange format (the CLI's name and its technical
#: description go into the item's tooltip).
FORMAT_TITLES = {
    "voc": "PASCAL VOC (JPEGImages + SegmentationClass PNGs)",
    "masks": "Masks (class-id PNG per image; TIFF/NIfTI label stacks and volumes)",
    "coco": "COCO (JSON of polygons or RLE)",
    "labelme": "labelme (one JSON of polygons per image)",
    "yolo": "YOLO segmentation (polygons, data.yaml)",
    "nnunet": "nnU-Net v2 (imagesTr, labelsTr, dataset.json)",
    "labelstudio": "Label Studio (JSON export)",
}


def add_formats(combo: QComboBox, names: list[str], descriptions: dict[str, str]) -> None:
    """One item per format of ``names``: its plain title, the format's name as its data,
    and its name and description as its tooltip."""
    for name in names:
        combo.addItem(FORMAT_TITLES.get(name, name), name)
        combo.setItemData(
            combo.count() - 1, f"{name}: {descriptions[name]}", Qt.ItemDataRole.ToolTipRole
        )


def refuse_unusable_path(path: Path) -> None:
    """Raise :class:`AnnotatorError`, for the form to say while it is open, when ``path``
    cannot even be looked up (a name over 255 bytes, no permission on a folder on the
    way); a path that is merely missing passes. (The ``OSError`` escaped the OK button.)"""
    try:
        path.exists()
    except OSError as exc:
        advice = "; choose a shorter name" if exc.errno == errno.ENAMETOOLONG else ""
        raise AnnotatorError(f"{path}: {exc.strerror or exc}{advice}") from None
