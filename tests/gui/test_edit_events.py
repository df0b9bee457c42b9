"""How often a gesture through the real canvas wakes the rest of the window (ADR 0008).

A mouse move repaints its box and nothing else; autosave scheduling, the loop's
"labels are dirty" and the enabling of the actions run once per committed gesture.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from guihelpers import at, click, drag
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

MOVES = 50


@dataclass
class Counts:
    repaints: int = 0
    commits: int = 0
    autosaves: int = 0
    action_updates: int = 0
    loop_calls: int = 0
    boxes: list = field(default_factory=list)


def count_events(window, monkeypatch) -> Counts:
    """Count the document's events and what the window does about them."""
    n = Counts()
    doc = window.document

    def repaint(box):
        n.repaints += 1
        n.boxes.append(box)

    def committed():
        n.commits += 1

    doc.add_repaint_listener(repaint)
    doc.add_commit_listener(committed)

    def wrap(obj, name, counter):
        real = getattr(obj, name)

        def counted(*args, **kwargs):
            setattr(n, counter, getattr(n, counter) + 1)
            return real(*args, **kwargs)

        monkeypatch.setattr(obj, name, counted)

    wrap(window, "schedule_autosave", "autosaves")
    wrap(window, "_update_enabled", "action_updates")
    wrap(window.loop, "labels_committed", "loop_calls")
    return n


def test_a_stroke_of_50_moves_commits_once_and_updates_the_window_once(window, monkeypatch):
    n = count_events(window, monkeypatch)
    window.canvas.set_brush_radius(2)
    path = [(5 + i, 20 + (i % 7)) for i in range(MOVES + 1)]  # press, 50 moves, release
    drag(window.canvas, path)
    print(
        f"stroke of {MOVES} moves: {n.repaints} repaints, {n.commits} commit events, "
        f"{n.autosaves} autosave schedulings, {n.action_updates} action updates, "
        f"{n.loop_calls} loop notifications"
    )
    assert n.repaints >= MOVES  # the view still repaints every move ...
    assert all(b.width <= 2 * 2 + 4 for b in n.boxes)  # ... and only its box
    assert n.commits == 1  # ... but the gesture is committed once
    assert n.autosaves == 1
    assert n.action_updates == 1
    assert n.loop_calls == 1
    assert window.document.history.undo_count == 1
    assert window.actions_["undo"].isEnabled()
    assert window.autosave_timer.isActive()


def test_fill_undo_redo_and_an_aborted_stroke_count_as_expected(window, monkeypatch):
    n = count_events(window, monkeypatch)
    QTest.keyClick(window.canvas, Qt.Key.Key_F)
    click(window.canvas, 5, 5)
    assert (n.commits, n.autosaves, n.action_updates) == (1, 1, 1)
    QTest.keyClick(window.canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    QTest.keyClick(window.canvas, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    assert (n.commits, n.autosaves, n.action_updates) == (3, 3, 3)
    assert window.document.history.undo_count == 1
    QTest.keyClick(window.canvas, Qt.Key.Key_B)
    QTest.keyClick(window.canvas, Qt.Key.Key_2)  # class id 1 over the filled class 0
    vp = window.canvas.viewport()
    QTest.mousePress(
        vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, at(window.canvas, 30, 30)
    )
    for x in range(31, 40):
        QTest.mouseMove(vp, at(window.canvas, x, 30))
    QTest.keyClick(window.canvas, Qt.Key.Key_Escape)  # abort: pixels back, nothing committed
    QTest.mouseRelease(
        vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, at(window.canvas, 40, 30)
    )
    assert (n.commits, n.autosaves, n.action_updates) == (3, 3, 3)
    assert n.repaints >= 3 + 10 + 1
    assert (window.document.label_map.array[25:35, 25:45] == 0).all()
    assert window.document.history.undo_count == 1 and not window.document.in_stroke
