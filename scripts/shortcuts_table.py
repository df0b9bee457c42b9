"""Write the user guide's keyboard-shortcut table from the real window's menus.

    python scripts/shortcuts_table.py [--check]

The table between ``<!-- shortcuts:begin -->`` and ``<!-- shortcuts:end -->`` in
``docs/user-guide.md`` is what F1 shows (every action with keys, then the keys of no
action), with keys written portably (Ctrl+N). ``--check`` only says whether the guide
is up to date (exit 1 if not); ``tests/gui/test_menus.py`` runs the same check.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "user-guide.md"
BEGIN, END = "<!-- shortcuts:begin -->", "<!-- shortcuts:end -->"


def table() -> str:
    """The Markdown table of the window's menus as they are now."""
    from PySide6.QtWidgets import QApplication

    from annotator.gui.help_dialog import shortcut_rows, shortcuts_markdown
    from annotator.gui.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    window = MainWindow()
    try:
        return shortcuts_markdown(shortcut_rows(window.menuBar(), portable=True))
    finally:
        window.close()
        window.deleteLater()
        app.processEvents()


def with_table(text: str, markdown: str) -> str:
    """``text`` (the guide) with the block between the markers replaced."""
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    return text[:start] + "\n" + markdown + "\n" + text[end:]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check the guide")
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    text = GUIDE.read_text(encoding="utf-8")
    new = with_table(text, table())
    if args.check:
        print("up to date" if new == text else f"{GUIDE} is out of date: run {__file__}")
        return 0 if new == text else 1
    GUIDE.write_text(new, encoding="utf-8")
    print(f"wrote the shortcut table into {GUIDE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
