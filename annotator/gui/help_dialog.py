"""Help > Keyboard shortcuts (F1, ?): an overview read from the live menus.

The rows come from the window's menu bar at the moment the dialog opens: every action
of every menu with the keys Qt has bound to it. A key added, changed or removed in
:mod:`annotator.gui.actions` shows up here by construction, so the overview cannot go
stale. Keys that belong to no action (class keys 1-9 and 0, panning) come from
:data:`annotator.gui.actions.EXTRA_KEYS`.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import cast

from PySide6.QtCore import QSize
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLineEdit,
    QMenu,
    QMenuBar,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from annotator.gui.actions import EXTRA_KEYS

#: The size the overview asks for; capped at the screen's free room (800x600 screens).
DIALOG_SIZE = QSize(520, 640)
#: Room kept for the window frame and title bar, which the window manager adds.
FRAME_ROOM = 60


def available_size(widget: QWidget) -> QSize:
    """The free room of the screen ``widget`` is on (less panels and docks)."""
    screen = widget.screen() or QGuiApplication.primaryScreen()
    return screen.availableGeometry().size()


@dataclass(frozen=True)
class ShortcutRow:
    """One line of the overview."""

    menu: str
    text: str
    keys: str
    tip: str = ""


def _plain(text: str) -> str:
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&").rstrip("…").strip()


def _keys(action: QAction, portable: bool = False) -> str:
    form = QKeySequence.SequenceFormat
    fmt = form.PortableText if portable else form.NativeText
    return ", ".join(k.toString(fmt) for k in action.shortcuts())


def shortcut_rows(menubar: QMenuBar, portable: bool = False) -> list[ShortcutRow]:
    """Every action of every menu, in menu order (a submenu is one row); keys as this
    system writes them, or ``portable`` (Ctrl+N on every system: the user guide)."""
    rows: list[ShortcutRow] = []

    def walk(menu_title: str, actions: list[QAction]) -> None:
        for action in actions:
            if action.isSeparator():
                continue
            if action.menu() is not None:  # a submenu (e.g. the recent projects): one row
                rows.append(ShortcutRow(menu_title, _plain(action.text()) + " ›", ""))
                continue
            tip = action.toolTip()
            keys = _keys(action, portable)
            rows.append(ShortcutRow(menu_title, _plain(action.text()), keys, tip))

    for top in menubar.actions():
        menu = cast("QMenu | None", top.menu())
        if menu is not None:
            walk(_plain(top.text()), menu.actions())
    return rows


def shortcuts_html(rows: list[ShortcutRow], only_with_keys: bool = False) -> str:
    """The overview as an HTML table, grouped by menu."""
    parts: list[str] = []
    menu = None
    for row in rows:
        if only_with_keys and not row.keys:
            continue
        if row.menu != menu:
            menu = row.menu
            parts.append(f"<tr><td colspan='2'><h3>{html.escape(menu)}</h3></td></tr>")
        keys = html.escape(row.keys) if row.keys else "<span style='color:gray'>menu only</span>"
        parts.append(f"<tr><td><b>{keys}</b></td><td>{html.escape(row.text)}</td></tr>")
    parts.append("<tr><td colspan='2'><h3>Mouse and other keys</h3></td></tr>")
    for keys, text in EXTRA_KEYS:
        parts.append(f"<tr><td><b>{html.escape(keys)}</b></td><td>{html.escape(text)}</td></tr>")
    return f"<table cellspacing='4'>{''.join(parts)}</table>"


def shortcuts_markdown(rows: list[ShortcutRow]) -> str:
    """The overview as the user guide's Markdown table: the actions that have keys, then
    the keys of no action (written by ``scripts/shortcuts_table.py``; a test keeps the
    guide equal to it)."""

    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    lines = ["| Menu | Action | Keys |", "| --- | --- | --- |"]
    lines += [f"| {r.menu} | {cell(r.text)} | {cell(r.keys)} |" for r in rows if r.keys]
    lines += [f"| | {cell(text)} | {cell(keys)} |" for keys, text in EXTRA_KEYS]
    return "\n".join(lines)


class ShortcutsDialog(QDialog):
    """A searchable table of every action and key."""

    def __init__(self, menubar: QMenuBar, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.setObjectName("shortcutsDialog")
        self.rows = shortcut_rows(menubar)
        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("Type to filter, e.g. brush or Ctrl")
        self.filter_edit.setClearButtonEnabled(True)
        self.browser = QTextBrowser()  # scrolls: the rows need not fit the screen
        self.browser.setMinimumHeight(120)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.filter_edit)
        layout.addWidget(self.browser)
        layout.addWidget(buttons)
        self.filter_edit.textChanged.connect(self._refilter)
        self._refilter("")
        room = available_size(parent or self)
        self.resize(
            min(DIALOG_SIZE.width(), room.width() - FRAME_ROOM),
            min(DIALOG_SIZE.height(), room.height() - FRAME_ROOM),
        )

    def _refilter(self, text: str) -> None:
        needle = text.strip().lower()
        rows = [
            r
            for r in self.rows
            if not needle or needle in f"{r.menu} {r.text} {r.keys} {r.tip}".lower()
        ]
        self.browser.setHtml(shortcuts_html(rows))
