"""Names the user gave (a class, a file, a folder) holding HTML-like text are shown as
typed: the class panel's note and the message boxes read ``<b>x</b>`` and ``a<br>b``
as HTML (a bold x, a line break), Qt's guess for text that looks like it."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import Qt as GuiQt
from PySide6.QtGui import QTextDocument

NAME = "<b>x</b>"


def shown(text: str) -> str:
    """What a QLabel or QMessageBox of automatic format shows of ``text``."""
    if not GuiQt.mightBeRichText(text):
        return text
    document = QTextDocument()
    document.setHtml(text)
    return document.toPlainText()


def test_a_class_named_like_html_is_shown_as_typed_in_the_class_note(window):
    window.class_panel.rename_requested.emit(1, NAME)
    assert window.session.schema.names[1] == NAME
    note = window.class_panel.note
    assert note.isVisibleTo(window) and NAME in note.text()
    assert note.textFormat() == Qt.TextFormat.PlainText


def test_a_box_naming_such_a_class_shows_it_as_typed(window, boxes):
    window.class_panel.rename_requested.emit(1, NAME)
    window.class_panel.rename_requested.emit(2, NAME.upper())  # the same name: refused
    assert window.session.schema.names[2] != NAME.upper()
    (box,) = [text for kind, text in boxes if kind == "warning"]
    assert NAME in shown(box) or NAME.upper() in shown(box), box


@pytest.mark.parametrize(
    "text",
    [
        "Renamed 'cell' to '<i>ital</i> <b>bold</b>'.",
        "Added 'a<br>b'.\nIts colour: red",
        "Exported 2 image(s) to /tmp/<b>x</b>-export &amp;  two spaces.",
        "A plain sentence, shown as it is.",
    ],
)
def test_plain_box_text_shows_as_written(qapp, text):
    from annotator.gui.progress_task import plain

    assert shown(plain(text)) == text
