"""First run: the welcome dialog's choices, creating a project from a folder, and what
the app restores on the next start (recent projects, layout, tools, class, image)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PySide6.QtWidgets import QDialog, QDockWidget, QFileDialog

from annotator.gui import first_run
from annotator.gui.app import offer_first_run, open_start_project
from annotator.gui.first_run import FirstRunDialog
from annotator.gui.main_window import MainWindow
from annotator.gui.new_project_dialog import NewProjectDialog
from annotator.gui.settings_store import SettingsStore
from annotator.storage.project import Project


@pytest.fixture
def images(tmp_path) -> Path:
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    for i in range(3):
        img = np.full((24, 32, 3), 40 * i, np.uint8)
        cv2.imwrite(str(folder / f"p{i}.png"), img)
    cv2.imwrite(str(folder / "sub" / "deep.png"), np.full((24, 32), 7, np.uint8))
    (folder / "notes.txt").write_text("not an image")
    return folder


@pytest.fixture
def data_home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "data-home"
    monkeypatch.setenv("XDG_DATA_HOME", str(home))
    return home


def start_window(project: Path | None) -> MainWindow:
    """What ``run_gui`` does before the event loop runs."""
    window = MainWindow()
    open_start_project(window, project)
    window.show()
    offer_first_run(window)
    return window


def fill_new_project(images: Path, project: Path, classes):
    """An ``exec`` for NewProjectDialog that types the form and presses Create."""

    def exec_(self):
        self.images_edit.setText(str(images))
        assert self.project_edit.text() == str(images.parent / f"{images.name}-project")
        self.project_edit.setText(str(project))
        self.classes.set_rows(classes)
        self.create_project()
        return self.result()

    return exec_


def test_new_project_from_a_folder_creates_classes_with_colours_and_adds_every_image(
    qtbot, images, tmp_path, monkeypatch, boxes
):
    target = tmp_path / "labels-project"
    monkeypatch.setattr(
        NewProjectDialog,
        "exec",
        fill_new_project(images, target, [("sky", "#3366ff"), ("tree", None), ("road", "#808080")]),
    )
    dialog = FirstRunDialog(SettingsStore())
    qtbot.addWidget(dialog)
    dialog.choose_new()
    assert dialog.chosen == target
    assert dialog.result() == QDialog.DialogCode.Accepted
    assert dialog.created and dialog.add_outcome.summary().startswith("Added 4 image(s)")
    with Project.open(target) as project:
        assert [c.name for c in project.schema.classes] == ["sky", "tree", "road"]
        assert project.schema.classes[0].color == "#3366ff"
        assert project.schema.classes[2].color == "#808080"
        assert project.schema.classes[1].color.startswith("#")
        names = sorted(r.name for r in project.images())
        assert names == ["p0.png", "p1.png", "p2.png", "sub/deep.png"]


def test_new_project_with_a_duplicate_class_says_so_in_one_line_and_creates_nothing(
    qtbot, images, tmp_path, monkeypatch, boxes
):
    target = tmp_path / "dup"
    monkeypatch.setattr(
        NewProjectDialog, "exec", fill_new_project(images, target, [("a", None), ("A", None)])
    )
    dialog = FirstRunDialog(SettingsStore())
    qtbot.addWidget(dialog)
    dialog.choose_new()
    assert dialog.chosen is None
    assert not target.exists()
    assert len(boxes) == 1 and boxes[0][0] == "warning"
    assert boxes[0][1].startswith("A class named 'A' is there already") and "\n" not in boxes[0][1]
    assert boxes[0][1].endswith(".")  # a sentence, not the CLI's lower-case error line


def test_open_demo_creates_it_in_the_data_folder_once_and_chooses_it(qtbot, data_home, boxes):
    dialog = FirstRunDialog(SettingsStore())
    qtbot.addWidget(dialog)
    dialog.choose_demo()
    demo = data_home / "annotator" / "demo"
    assert dialog.chosen == demo
    with Project.open(demo) as project:
        assert len(project.images()) == 8
    mtime = (demo / "annotator.sqlite").stat().st_mtime_ns
    again = FirstRunDialog(SettingsStore())
    qtbot.addWidget(again)
    again.choose_demo()  # reused, not recreated
    assert again.chosen == demo
    with Project.open(demo) as project:
        assert len(project.images()) == 8
    assert boxes == []
    assert (demo / "annotator.sqlite").stat().st_mtime_ns >= mtime
    from test_locked_project_words import held_elsewhere

    # open in another window: the box was "Cannot create the demo", with the CLI's advice
    with held_elsewhere(demo):
        third = FirstRunDialog(SettingsStore())
        qtbot.addWidget(third)
        third.choose_demo()
        assert third.chosen == demo and boxes == []  # the window says why, in its words


def test_open_refuses_a_folder_that_is_not_a_project(qtbot, tmp_path, monkeypatch, boxes):
    plain = tmp_path / "plain"
    plain.mkdir()
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(plain))
    dialog = FirstRunDialog(SettingsStore())
    qtbot.addWidget(dialog)
    dialog.choose_open()
    assert dialog.chosen is None
    assert boxes and "not an Annotator project" in boxes[0][1]


def test_recent_projects_are_listed_newest_first_and_open_on_activation(
    qtbot, project_dir, tmp_path, boxes
):
    other = tmp_path / "other"
    Project.create(other, Project.open(project_dir).schema).close()
    settings = SettingsStore()
    settings.add_recent(project_dir)
    settings.add_recent(other)
    settings.add_recent(tmp_path / "gone")  # does not exist: never listed
    dialog = FirstRunDialog(settings)
    qtbot.addWidget(dialog)
    paths = [dialog.recent.item(i).data(first_run.PATH_ROLE) for i in range(dialog.recent.count())]
    assert paths == [str(other), str(project_dir)]
    dialog.recent.itemActivated.emit(dialog.recent.item(1))
    assert dialog.chosen == project_dir


def test_start_without_a_project_queues_the_welcome_and_its_choice_opens_in_the_window(
    qtbot, data_home, monkeypatch, boxes
):
    def pick_demo(self):
        self.choose_demo()
        return self.result()

    monkeypatch.setattr(FirstRunDialog, "exec", pick_demo)
    window = start_window(None)
    qtbot.addWidget(window)
    assert window.session is None  # the dialog runs once the event loop does
    qtbot.waitUntil(lambda: window.session is not None, timeout=10000)
    assert window.session.project.root == data_home / "annotator" / "demo"
    assert window.document is not None
    assert SettingsStore().recent_projects() == [data_home / "annotator" / "demo"]
    window.close()


def test_the_next_start_restores_project_image_layout_tools_and_class(
    qtbot, project_dir, monkeypatch
):
    monkeypatch.setattr(
        FirstRunDialog, "exec", lambda self: pytest.fail("no welcome when a project is restored")
    )
    window = start_window(project_dir)
    qtbot.addWidget(window)
    window.resize(700, 500)
    window.open_image(window.session.images()[2].id)
    window.actions_["tool_fill"].trigger()
    window.canvas.set_brush_radius(17)
    window.opacity_slider.setValue(30)
    window.class_panel.select_index(2)
    window.findChild(QDockWidget, "dock_model").setFloating(True)
    size = (window.width(), window.height())  # the height may be held up by minimum sizes
    assert size[0] == 700
    window.close()

    again = start_window(None)
    qtbot.addWidget(again)
    assert again.session is not None and again.session.project.root == project_dir
    assert again.document.image_id == again.session.images()[2].id
    assert again.actions_["tool_fill"].isChecked()
    assert again.canvas.brush_radius == 17
    assert again.opacity_slider.value() == 30
    assert again.canvas.current_value == 2
    assert (again.width(), again.height()) == size  # not the default 1280 wide
    assert again.findChild(QDockWidget, "dock_model").isFloating()
    again.close()


def test_closing_with_no_project_open_means_the_next_start_shows_the_welcome(
    qtbot, project_dir, monkeypatch
):
    shown = []
    monkeypatch.setattr(FirstRunDialog, "exec", lambda self: shown.append(1) or 0)
    window = start_window(project_dir)
    qtbot.addWidget(window)
    window.close_project()
    window.close()
    again = start_window(None)
    qtbot.addWidget(again)
    qtbot.waitUntil(lambda: shown == [1], timeout=5000)
    assert again.session is None
    again.close()


def test_a_first_window_fits_its_screen_and_a_saved_one_is_kept_on_it(qtbot):
    """The window opened at a fixed 1280 x 820: on a 1366 x 768 screen its status bar was
    below the screen's edge, and a geometry saved on a bigger monitor came back as it was."""
    from annotator.gui.settings_store import remember_window

    window = MainWindow()
    qtbot.addWidget(window)
    free = window.screen().availableGeometry()
    assert window.width() <= free.width() * 0.9 + 1 and window.height() <= free.height() * 0.9 + 1
    assert free.contains(window.frameGeometry())
    window.resize(free.width() * 2, free.height() * 2)  # as on a bigger monitor, to the right
    window.move(free.right() + 500, free.top() + 100)
    remember_window(window, window.settings)
    window.close()
    again = MainWindow()
    qtbot.addWidget(again)
    assert free.contains(again.frameGeometry()), (free, again.frameGeometry())
    again.close()


def test_a_first_window_takes_most_of_the_screen_up_to_a_limit():
    from PySide6.QtCore import QRect, QSize

    from annotator.gui.settings_store import FIRST_MAX, first_size

    assert first_size(QRect(0, 0, 1366, 740)) == QSize(1229, 666)
    assert first_size(QRect(0, 0, 1600, 1000)) == QSize(1440, 900)
    assert first_size(QRect(0, 0, 3840, 2160)) == FIRST_MAX


def test_the_class_last_painted_is_found_again_by_its_name_after_ids_moved(
    qtbot, project_dir, monkeypatch
):
    """It was remembered by id: after `annotator classes --remove` (or --move) of another
    class, reopening chose the class that took the id, and the next stroke painted it."""
    from annotator.cli import main

    monkeypatch.setattr(FirstRunDialog, "exec", lambda self: pytest.fail("no welcome"))
    window = start_window(project_dir)
    qtbot.addWidget(window)
    window.class_panel.select_index(2)  # membrane
    assert window.canvas.current_value == 2
    window.close()
    assert main(["classes", str(project_dir), "--remove", "cell"]) == 0
    again = start_window(None)
    qtbot.addWidget(again)
    assert again.session.schema.names == ["background", "membrane"]
    assert again.canvas.current_value == 1  # membrane, at its new id
    void_row = again.class_panel.list.count() - 1
    again.class_panel.list.setCurrentRow(void_row)
    again.close()
    third = start_window(None)
    qtbot.addWidget(third)
    assert third.canvas.current_value == third.session.schema.void
    third.class_panel.select_index(1)
    third.close()
    assert main(["classes", str(project_dir), "--rename", "membrane", "wall"]) == 0
    renamed = start_window(None)  # a rename moves no id: the same class, by its id
    qtbot.addWidget(renamed)
    assert renamed.canvas.current_value == 1
    renamed.close()
    assert main(["classes", str(project_dir), "--rename", "wall", "membrane"]) == 0
    assert main(["classes", str(project_dir), "--remove", "membrane"]) == 0
    fourth = start_window(None)  # the class is gone: not the one that took its id
    qtbot.addWidget(fourth)
    assert fourth.canvas.current_value == 0
    fourth.close()


def test_a_project_away_for_a_while_stays_in_the_recent_list_and_as_the_last_one(
    qtbot, tmp_path, monkeypatch
):
    """A project on a disk not mounted at one start was dropped from the recent list for
    good (and from the project the next start opens) as soon as the app quit."""
    from annotator.core.schema import LabelSchema

    monkeypatch.setattr(FirstRunDialog, "exec", lambda self: QDialog.DialogCode.Rejected)
    a, b = tmp_path / "a", tmp_path / "b"
    for root in (a, b):
        Project.create(root, LabelSchema.from_names(["x"])).close()
    window = start_window(b)
    qtbot.addWidget(window)
    window.open_project(a)  # the recent list: a, b
    window.close()
    away = tmp_path / "away"
    a.rename(away)  # a's disk not mounted: the next start opens nothing
    again = start_window(None)
    qtbot.addWidget(again)
    assert again.session is None
    again.open_project(b)
    assert SettingsStore().recent_projects() == [b]  # (only those there now are shown)
    again.close_project()
    again.close()
    away.rename(a)
    assert SettingsStore().recent_projects() == [b, a]  # a is back in the list
    third = start_window(a)  # a open when the app quits: the next start opens it
    qtbot.addWidget(third)
    third.close()
    a.rename(away)
    fourth = start_window(None)  # started while a is away, closed without opening any
    qtbot.addWidget(fourth)
    assert fourth.session is None
    fourth.close()
    away.rename(a)
    assert SettingsStore().last_project() == a


def test_a_folder_whose_name_ends_in_a_space_is_taken_as_it_is(qtbot, tmp_path, monkeypatch, boxes):
    """Browse… filled in 'photos ' and the form took 'photos': no such folder."""
    from annotator.gui.forms import path_text

    folder = tmp_path / "photos "
    folder.mkdir()
    cv2.imwrite(str(folder / "p.png"), np.full((8, 8), 9, np.uint8))
    target = tmp_path / "made"

    def exec_(self):
        self.images_edit.setText(str(folder))
        self.project_edit.setText(str(target))
        self.classes.set_rows([("a", None), ("b", None)])
        self.create_project()
        return self.result()

    monkeypatch.setattr(NewProjectDialog, "exec", exec_)
    dialog = FirstRunDialog(SettingsStore())
    qtbot.addWidget(dialog)
    dialog.choose_new()
    assert dialog.chosen == target and boxes == []
    with Project.open(target) as project:
        assert [r.name for r in project.images()] == ["p.png"]
    from PySide6.QtWidgets import QLineEdit

    edit = QLineEdit(f"  {tmp_path / 'made'}  ")  # spaces typed by accident: dropped
    assert path_text(edit) == str(tmp_path / "made")


def test_a_last_project_there_that_cannot_be_opened_is_not_tried_at_every_start(
    qtbot, project_dir, monkeypatch, boxes
):
    import sqlite3

    monkeypatch.setattr(FirstRunDialog, "exec", lambda self: QDialog.DialogCode.Rejected)
    window = start_window(project_dir)
    qtbot.addWidget(window)
    window.close()
    con = sqlite3.connect(project_dir / "annotator.sqlite")
    con.execute("INSERT OR REPLACE INTO settings (key, value) VALUES ('channels', ?)", ('"abc"',))
    con.commit()
    con.close()
    again = start_window(None)  # refused in a box, once
    qtbot.addWidget(again)
    assert again.session is None and len(boxes) == 1
    again.close()
    assert SettingsStore().last_project() is None


def test_the_class_painted_is_remembered_when_the_database_cannot_be_read(window, monkeypatch):
    """Closing read the class ids' generation before the labels not saved were rescued:
    a database that could not be read then (a disk pulled out) stopped the close."""
    from annotator.core.errors import ProjectError
    from annotator.gui.settings_store import painted_name

    def unreadable():
        raise ProjectError("disk I/O error")

    monkeypatch.setattr(window.session.project, "class_ids_generation", unreadable)
    window.class_panel.select_index(1)
    assert painted_name(window) == (window.session.schema.names[1], "")
