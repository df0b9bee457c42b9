"""Keys the keyboard hunt (2026-12-02) found doing the wrong thing, each driven as the
user presses it: an undo or redo while a GrabCut or clean-up is still computing, Ctrl+D,
A or Shift+K while a polygon is being clicked, the menus' access letters, X after a
choice in the "Paint over" box, painting with the labels hidden (H), a held key, and an
outline with no area."""

from __future__ import annotations

import re
import threading

import numpy as np
import pytest
from guihelpers import click, drag, hold_background_jobs
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QKeyEvent, QKeySequence
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMenu

from annotator.core.proposal import Proposal

U = 255
CTRL = Qt.KeyboardModifier.ControlModifier


def labels(window) -> np.ndarray:
    return window.document.label_map.array


def key(window, k, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    QTest.keyClick(window.canvas, k, modifier)


def said(window) -> list[str]:
    """Every line the status bar shows from now on."""
    lines: list[str] = []
    window.statusBar().messageChanged.connect(lambda text: text and lines.append(text))
    return lines


@pytest.fixture
def gate():
    """Set to let the background jobs held by :func:`hold_background_jobs` go on (at
    the latest when the test ends)."""
    event = threading.Event()
    yield event
    event.set()


def let_go(window, qtbot, gate: threading.Event) -> None:
    """Let the held jobs finish and their results arrive on the GUI thread."""
    gate.set()
    assert window.canvas.smart.wait_idle(30)
    for _ in range(5):
        qtbot.wait(10)


def grabcut_box(window) -> None:
    key(window, Qt.Key.Key_G)
    drag(window.canvas, [(15, 15), (30, 30), (45, 45)])  # round the bright square


def clean_up_everywhere(window) -> None:
    lab = labels(window)
    lab[10:30, 40:60] = 1
    lab[15:17, 45:47] = U  # a hole Shift+K fills (cell is the class painted)
    window.actions_["cleanup_image"].trigger()


# --- undo / redo while a smart result is still being computed ---------------------------------
@pytest.mark.parametrize("smart_edit", [grabcut_box, clean_up_everywhere])
def test_undo_while_a_smart_result_is_computed_cancels_it_and_loses_no_step(
    window, qtbot, monkeypatch, gate, smart_edit
):
    """Ctrl+Z right after a GrabCut box undid the stroke before it; the box's result then
    landed as a new step, which cleared the redo: Ctrl+Y never brought the stroke back."""
    monkeypatch.setattr("annotator.gui.smart_tools.BACKGROUND_CLEANUP_PIXELS", 100)
    key(window, Qt.Key.Key_2)  # cell
    window.canvas.set_brush_radius(1)
    drag(window.canvas, [(2, 60), (12, 60)])  # the stroke before
    stroke = labels(window) == 1
    hold_background_jobs(window, gate)
    smart_edit(window)
    before = labels(window).copy()
    key(window, Qt.Key.Key_Z, CTRL)  # at once, while it is computed
    assert (labels(window)[stroke] == 1).all()  # the stroke is not undone by it
    assert "Undo cancelled the" in window.statusBar().currentMessage()
    let_go(window, qtbot, gate)
    assert np.array_equal(labels(window), before)  # the cancelled result never landed
    assert window.document.history.undo_count == 1
    key(window, Qt.Key.Key_Z, CTRL)
    assert (labels(window)[stroke] == U).all()  # the stroke, undone now
    key(window, Qt.Key.Key_Y, CTRL)
    assert np.array_equal(labels(window), before)  # redone: nothing was lost
    smart_edit(window)  # once landed, Ctrl+Z undoes the result, as ever
    qtbot.waitUntil(lambda: window.document.history.undo_count == 2, timeout=10_000)
    key(window, Qt.Key.Key_Z, CTRL)
    assert window.document.history.undo_count == 1
    assert "cancelled" not in window.statusBar().currentMessage()


def test_undo_cancels_a_grabcut_that_is_the_images_first_edit(window, qtbot, gate):
    """Edit > Undo is disabled with no step to take back: the Ctrl+Z meant for the
    GrabCut never reached the window's undo, and the result landed after it."""
    assert not window.document.history.can_undo
    hold_background_jobs(window, gate)
    grabcut_box(window)
    key(window, Qt.Key.Key_Z, CTRL)
    assert "Undo cancelled the GrabCut" in window.statusBar().currentMessage()
    let_go(window, qtbot, gate)
    assert (labels(window) == U).all() and window.document.history.undo_count == 0


def test_redo_while_a_grabcut_is_computed_keeps_every_step_to_redo(window, qtbot, gate):
    """Two strokes undone, a GrabCut box, Ctrl+Y at once: the first stroke came back,
    the box landed after it and threw the second stroke's redo away."""
    key(window, Qt.Key.Key_2)
    window.canvas.set_brush_radius(1)
    drag(window.canvas, [(2, 58), (12, 58)])
    drag(window.canvas, [(2, 62), (12, 62)])
    strokes = labels(window) == 1
    key(window, Qt.Key.Key_Z, CTRL)
    key(window, Qt.Key.Key_Z, CTRL)
    hold_background_jobs(window, gate)
    grabcut_box(window)
    key(window, Qt.Key.Key_Y, CTRL)
    let_go(window, qtbot, gate)
    key(window, Qt.Key.Key_Y, CTRL)
    key(window, Qt.Key.Key_Y, CTRL)
    assert np.array_equal(labels(window) == 1, strokes)
    assert window.document.history.undo_count == 2


# --- a key that ends a polygon being clicked says so -------------------------------------------
def polygon_clicked(window) -> None:
    key(window, Qt.Key.Key_P)
    for x, y in ((40, 40), (55, 40), (55, 55)):
        click(window.canvas, x, y)
    assert len(window.canvas.tool.points) == 3


DROPPED = "polygon not closed (3 vertices) was dropped"


def test_ctrl_d_while_a_polygon_is_clicked_says_the_polygon_was_dropped(window):
    """The "dropped" line was replaced at once by "…: done": the outline vanished unsaid."""
    key(window, Qt.Key.Key_2)
    drag(window.canvas, [(2, 2), (10, 2)])  # labelled: the image can be done
    polygon_clicked(window)
    lines = said(window)
    key(window, Qt.Key.Key_D, CTRL)
    assert window.document.record.status.value == "done"
    assert any(": done" in line for line in lines)
    # (the loop says one class is not enough to train: after the drop, not over it)
    assert DROPPED in window.statusBar().currentMessage()


def test_shift_k_while_a_polygon_is_clicked_says_the_polygon_was_dropped(window):
    key(window, Qt.Key.Key_2)
    polygon_clicked(window)
    key(window, Qt.Key.Key_K, Qt.KeyboardModifier.ShiftModifier)
    shown = window.statusBar().currentMessage()
    assert DROPPED in shown and "No holes or specks" in shown


def test_accept_while_a_polygon_is_clicked_says_the_polygon_was_dropped(window):
    mask = np.ones(labels(window).shape, np.uint8)
    proposal = Proposal(None, mask, np.zeros(mask.shape, np.float32), 0.5, 3)
    window.loop.layers.show(window.document, proposal, window.session.schema)
    window.loop.update_enabled()
    polygon_clicked(window)
    key(window, Qt.Key.Key_A)
    shown = window.statusBar().currentMessage()
    assert DROPPED in shown and "Accepted the proposal of model v3" in shown
    assert (labels(window) == 1).all()


# --- menus: the key shown beside an entry never runs another entry -----------------------------
def access_letter(text: str) -> str | None:
    """The letter after a single & (a menu's access key), lower case."""
    found = re.search(r"(?<!&)&([^&])", text)
    return found.group(1).lower() if found else None


def single_keys(action) -> set[str]:
    """The one-character shortcuts of ``action`` (no modifier), lower case."""
    keys = set()
    for sequence in action.shortcuts():
        text = sequence.toString(QKeySequence.SequenceFormat.PortableText)
        if len(text) == 1:
            keys.add(text.lower())
    return keys


def menus_of(window) -> list[QMenu]:
    found, todo = [], [a.menu() for a in window.menuBar().actions() if a.menu() is not None]
    while todo:
        menu = todo.pop()
        found.append(menu)
        todo += [a.menu() for a in menu.actions() if a.menu() is not None]
    return found


def test_no_menu_entry_has_the_access_letter_of_another_entrys_key(window):
    """In an open menu a letter runs the entry of that access letter: Tools, then W (shown
    beside Proposal brush) ran "Clean up the whole image". Each entry whose key is a
    letter of its text has that letter; no entry has a letter another entry shows."""
    menus = menus_of(window)
    assert len(menus) >= 7
    for menu in menus:
        entries = [a for a in menu.actions() if not a.isSeparator()]
        for entry in entries:
            letter = access_letter(entry.text())
            others = set().union(*(single_keys(o) for o in entries if o is not entry))
            assert letter is None or letter not in others, (menu.title(), entry.text())
            for own in single_keys(entry):
                if own.isalpha() and own in entry.text().replace("&", "").lower():
                    assert letter == own, (menu.title(), entry.text(), own)
        letters = [access_letter(a.text()) for a in entries if access_letter(a.text())]
        assert len(letters) == len(set(letters)), (menu.title(), letters)


def test_a_letter_in_the_open_tools_menu_runs_no_other_entry(window, qtbot):
    """Tools, then W ran "Clean up the whole image" (an edit of every pixel), I ran
    "Bigger brush": W now runs nothing there, I "Pick class under the cursor"."""
    tools = next(m for m in menus_of(window) if m.title() == "&Tools")
    ran: list[str] = []
    for name in ("cleanup_image", "pick_class", "brush_bigger", "choose_class"):
        window.actions_[name].triggered.connect(lambda _=False, n=name: ran.append(n))
    tools.popup(window.mapToGlobal(window.rect().center()))
    qtbot.waitUntil(tools.isVisible)
    QTest.keyClick(tools, Qt.Key.Key_W)
    assert ran == [] and tools.isVisible()
    QTest.keyClick(tools, Qt.Key.Key_I)
    assert ran == ["pick_class"]


# --- X brings back the protection last chosen ----------------------------------------------------
def test_x_brings_back_the_protection_last_chosen_in_the_box(window):
    combo = window.protection
    combo.setCurrentIndex(combo.findData(1))  # only over "cell", in the box
    combo.setCurrentIndex(0)  # paint over anything, in the box
    key(window, Qt.Key.Key_X)
    assert combo.currentData() == 1 and window.canvas.protected_value == 1


# --- painting with the labels hidden -------------------------------------------------------------
def test_painting_with_the_labels_hidden_shows_them_and_says_so(window):
    key(window, Qt.Key.Key_H)
    assert not window.canvas.labels_visible()
    key(window, Qt.Key.Key_2)
    drag(window.canvas, [(10, 10), (30, 10)])
    assert (labels(window) == 1).any()
    assert window.canvas.labels_visible() and window.actions_["toggle_labels"].isChecked()
    assert "labels were hidden" in window.statusBar().currentMessage()


# --- a held key ----------------------------------------------------------------------------------
def held(window, k, modifier=Qt.KeyboardModifier.NoModifier, repeats: int = 5) -> None:
    """A key held down: one press, then the keyboard's auto-repeated presses."""
    for i in range(repeats + 1):
        event = QKeyEvent(QEvent.Type.KeyPress, k, modifier, "", i > 0)
        QApplication.sendEvent(window.canvas, event)
    QApplication.sendEvent(window.canvas, QKeyEvent(QEvent.Type.KeyRelease, k, modifier))


@pytest.mark.parametrize(
    ("k", "modifier", "name"),
    [
        (Qt.Key.Key_D, CTRL, "mark_done"),
        (Qt.Key.Key_H, Qt.KeyboardModifier.NoModifier, "toggle_labels"),
        (Qt.Key.Key_X, Qt.KeyboardModifier.NoModifier, "toggle_protection"),
        (Qt.Key.Key_K, Qt.KeyboardModifier.ShiftModifier, "cleanup_image"),
        (Qt.Key.Key_A, Qt.KeyboardModifier.NoModifier, "accept"),
    ],
)
def test_a_held_switch_or_command_key_runs_once(window, k, modifier, name):
    """Holding Ctrl+D 1.2 s flipped done / in progress 15 times and queued rounds."""
    key(window, Qt.Key.Key_2)
    drag(window.canvas, [(2, 2), (10, 2)])
    mask = np.ones(labels(window).shape, np.uint8)
    proposal = Proposal(None, mask, np.zeros(mask.shape, np.float32), 0.5, 3)
    window.loop.layers.show(window.document, proposal, window.session.schema)
    window.loop.update_enabled()
    ran: list[bool] = []
    window.actions_[name].triggered.connect(lambda _=False: ran.append(True))
    held(window, k, modifier)
    assert len(ran) == 1
    zoomed: list[bool] = []  # (zoom, like navigation, brush size and undo, repeats)
    window.actions_["zoom_in"].triggered.connect(lambda _=False: zoomed.append(True))
    held(window, Qt.Key.Key_Plus, repeats=3)
    assert len(zoomed) == 4


# --- an outline with no area -----------------------------------------------------------------------
def test_a_polygon_on_one_line_says_it_encloses_no_area(window):
    """Collinear vertices on unlabelled pixels said "these pixels already have that class"."""
    key(window, Qt.Key.Key_2)
    key(window, Qt.Key.Key_P)
    for x in (10, 20, 30):
        click(window.canvas, x, 30)
    key(window, Qt.Key.Key_Return)
    assert (labels(window) == U).all()
    shown = window.statusBar().currentMessage()
    assert "encloses no area" in shown and "already have that class" not in shown
