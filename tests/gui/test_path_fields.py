"""The forms' path fields (gui/forms.py path_text): a folder whose name ends in a space
is taken as it is, spaces typed by accident are dropped, and the lookup never raises."""

from __future__ import annotations

from PySide6.QtWidgets import QLineEdit

from annotator.gui.forms import path_text


def test_a_name_too_long_with_a_space_around_it_is_left_to_the_forms_refusal(qtbot, tmp_path):
    """Path.exists raised OSError (File name too long) out of the OK button."""
    edit = QLineEdit(f"{tmp_path / ('Q' * 300)} ")
    qtbot.addWidget(edit)
    assert path_text(edit) == str(tmp_path / ("Q" * 300))


def test_a_folder_under_home_whose_name_ends_in_a_space(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "photos ").mkdir()
    edit = QLineEdit("~/photos ")
    qtbot.addWidget(edit)
    assert path_text(edit) == "~/photos "  # (the callers expand ~ later)
    edit.setText("~/other ")
    assert path_text(edit) == "~/other"
