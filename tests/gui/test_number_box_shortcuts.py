"""The window's Ctrl shortcuts work while a number box has the focus.

A spin box's line edit claims the keys the platform binds to text editing. Under the
X11, KDE and GNOME key bindings (a Linux desktop) Ctrl+E is "end of line", so Ctrl+E
(File > Export) did nothing while the radius box or another number box had the focus.
Qt's offscreen platform binds keys as Windows does (Ctrl+E is nothing there), so the
check runs in a child process on an X server (Xvfb) with the xcb platform.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QKeyEvent, QKeySequence
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QAbstractSpinBox, QApplication

CTRL = Qt.KeyboardModifier.ControlModifier


def swallowed(box, sequence: QKeySequence) -> bool:
    """Whether ``box`` claims the key (its ShortcutOverride accepted: no shortcut fires)."""
    combination = sequence[0]
    event = QKeyEvent(
        QEvent.Type.ShortcutOverride, combination.key(), combination.keyboardModifiers(), ""
    )
    event.ignore()
    QApplication.sendEvent(box, event)
    return event.isAccepted()


def window_shortcuts(window) -> dict[str, QKeySequence]:
    """The window's Ctrl and Alt keys, those a number box edits with left out."""
    editing = (  # the box's own: they edit its text
        QKeySequence.StandardKey.Undo,
        QKeySequence.StandardKey.Redo,
        QKeySequence.StandardKey.Cut,
        QKeySequence.StandardKey.Copy,
        QKeySequence.StandardKey.Paste,
        QKeySequence.StandardKey.SelectAll,
    )
    kept = {s.toString() for k in editing for s in QKeySequence.keyBindings(k)}
    keys = {}
    for name, action in window.actions_.items():
        for sequence in action.shortcuts():
            text = sequence.toString()
            if ("Ctrl+" in text or "Alt+" in text) and text not in kept:
                keys[f"{name} {text}"] = sequence
    return keys


def check(window) -> dict:
    """What the X11 child reports (and the offscreen test checks the same way)."""
    fired = []
    export = window.actions_["export"]
    export.triggered.disconnect()  # (its dialog would wait for an answer)
    export.triggered.connect(lambda: fired.append("export"))
    spin = window.radius_spin
    spin.setFocus()
    QApplication.processEvents()
    QTest.keyClick(spin, Qt.Key.Key_E, CTRL)
    QApplication.processEvents()
    boxes = [b for b in window.findChildren(QAbstractSpinBox) if b.window() is window]
    claimed = sorted(
        f"{box.objectName() or type(box).__name__}: {name}"
        for box in boxes
        for name, sequence in window_shortcuts(window).items()
        if swallowed(box, sequence)
    )
    # Typing into the box still works: select all (the box's Ctrl+A), digits, Enter.
    spin.setFocus()
    QTest.keyClick(spin, Qt.Key.Key_A, CTRL)
    QTest.keyClicks(spin, "12")
    QTest.keyClick(spin, Qt.Key.Key_Return)
    return {
        "platform": QApplication.platformName(),
        "end_of_line": [
            s.toString() for s in QKeySequence.keyBindings(QKeySequence.StandardKey.MoveToEndOfLine)
        ],
        "fired": fired,
        "claimed": claimed,
        "radius": spin.value(),
        "boxes": len(boxes),
    }


def test_ctrl_shortcuts_reach_the_window_from_a_number_box(window):
    """Here with the offscreen platform's key bindings (as on Windows)."""
    report = check(window)
    assert report["fired"] == ["export"] and report["claimed"] == []
    assert report["radius"] == 12 and report["boxes"] >= 5


_CHILD = textwrap.dedent(
    """
    import json, sys
    sys.path.insert(0, {tests!r})
    from PySide6.QtWidgets import QApplication
    app = QApplication([])
    from annotator.gui.main_window import MainWindow
    import test_number_box_shortcuts as t
    w = MainWindow()
    w.resize(900, 700)
    w.show()
    w.activateWindow()
    for _ in range(50):
        app.processEvents()
    w.open_project(__import__("pathlib").Path({project!r}))
    w.activateWindow()
    for _ in range(50):
        app.processEvents()
    print(json.dumps(t.check(w)), flush=True)
    w.close()
    """
)


@pytest.mark.skipif(shutil.which("xvfb-run") is None, reason="needs Xvfb (xvfb-run)")
def test_ctrl_e_exports_from_a_number_box_under_x11_key_bindings(project_dir):
    script = _CHILD.format(tests=os.path.dirname(__file__), project=str(project_dir))
    env = dict(os.environ, QT_QPA_PLATFORM="xcb")
    env.pop("QT_QPA_PLATFORMTHEME", None)
    done = subprocess.run(
        ["xvfb-run", "-a", sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert done.returncode == 0 and lines, done.stderr[-3000:]
    report = json.loads(lines[-1])
    assert report["platform"] == "xcb" and "Ctrl+E" in report["end_of_line"]  # the bindings
    assert report["fired"] == ["export"], report
    assert report["claimed"] == [], report
    assert report["radius"] == 12
