"""Bad or unusual input to the window's file and dialog flows: one clear line in a
message box or the status bar, never a traceback, a frozen window, lost work or a
silently wrong result.

Each test is a case of a sweep of the GUI (File menu, class panel, Model menu, image
list). An uncaught exception in a slot fails the test through pytest-qt.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest
from guihelpers import SIZE, drag, model_file
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox

from annotator.core.schema import LabelSchema
from annotator.gui.export_dialog import ExportDialog
from annotator.gui.import_dialog import ImportDialog
from annotator.gui.main_window import MainWindow
from annotator.gui.new_project_dialog import NewProjectDialog
from annotator.storage.project import Project


@pytest.fixture
def boxes(monkeypatch):
    """Message boxes are recorded (kind, title, text) instead of blocking the test."""
    seen: list[tuple[str, str, str]] = []

    def record(kind):
        def box(_parent, title, text, *a, **k):
            seen.append((kind, title, text))
            return QMessageBox.StandardButton.Ok

        return box

    for kind in ("warning", "information", "critical", "question"):
        monkeypatch.setattr(QMessageBox, kind, record(kind))
    return seen


def one_line(text: str) -> None:
    assert "Traceback" not in text and "\n  File " not in text, text


@pytest.fixture
def bare_window(qtbot):
    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    yield w
    w.close()


def write_images(folder: Path, values: list[int]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for v in values:
        cv2.imwrite(str(folder / f"img{v:03d}.png"), np.full((SIZE, SIZE), v, np.uint8))
    return folder


def small_project(root: Path, names=("background", "cell")) -> Path:
    images = write_images(root.parent / f"{root.name}-imgs", [10, 20])
    with Project.create(root, LabelSchema.from_names(list(names))) as p:
        p.add_images([images])
    return root


# --- opening projects ------------------------------------------------------------------------


def test_open_a_folder_that_is_not_a_project(bare_window, tmp_path, monkeypatch, boxes):
    plain = tmp_path / "plain"
    plain.mkdir()
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(plain))
    bare_window.actions_["open"].trigger()
    assert bare_window.session is None
    assert [b[:2] for b in boxes] == [("warning", "Not a project")]
    assert "not an Annotator project" in boxes[0][2]


@pytest.mark.parametrize(
    "damage",
    ["garbage", "truncated", "newer", "no_tables", "bad_classes", "bad_status"],
)
def test_open_a_project_whose_database_is_damaged_or_too_new(bare_window, tmp_path, boxes, damage):
    root = small_project(tmp_path / "proj")
    db = root / "annotator.sqlite"
    if damage == "garbage":
        db.write_bytes(b"this is not a database at all" * 100)
    elif damage == "truncated":
        data = db.read_bytes()
        db.write_bytes(data[: len(data) // 3])
    else:
        conn = sqlite3.connect(db)
        if damage == "newer":
            conn.execute("PRAGMA user_version = 99")
        elif damage == "no_tables":
            conn.execute("DROP TABLE images")
        elif damage == "bad_classes":
            conn.execute("UPDATE classes SET color = 'not a colour'")
        elif damage == "bad_status":
            conn.execute("PRAGMA ignore_check_constraints = ON")
            conn.execute("UPDATE images SET status = 'weird'")
        conn.commit()
        conn.close()
    bare_window.open_project(root)
    assert len(boxes) == 1 and boxes[0][0] == "warning", boxes
    one_line(boxes[0][2])
    assert bare_window.session is None


def test_a_project_that_fails_to_open_is_closed_again(bare_window, tmp_path, boxes):
    """A damaged class table is found after the database opened: the project must be
    closed (its lock released) so another process or a repaired copy can open it."""
    from annotator.storage.lock import holder

    root = small_project(tmp_path / "proj")
    conn = sqlite3.connect(root / "annotator.sqlite")
    conn.execute("UPDATE classes SET color = 'not a colour'")
    conn.commit()
    conn.close()
    bare_window.open_project(root)
    assert boxes and "damaged" in boxes[0][2]
    assert holder(root) is None  # no lock left behind


def test_a_project_open_in_another_process_is_refused_and_the_open_one_kept(
    window, tmp_path, boxes
):
    other = small_project(tmp_path / "other")
    script = textwrap.dedent(
        f"""
        import sys
        from annotator.storage.project import Project
        p = Project.open({str(other)!r})
        print("ready", flush=True)
        sys.stdin.read()
        """
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    holder = subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"ready"
        before = window.session.project.root
        window.open_project(other)
    finally:
        holder.communicate(b"", timeout=30)
    assert len(boxes) == 1 and boxes[0][:2] == ("warning", "Cannot open project")
    assert "open in another process" in boxes[0][2]
    one_line(boxes[0][2])
    assert window.session is not None and window.session.project.root == before


def test_open_recent_of_a_folder_that_is_gone(bare_window, tmp_path, boxes):
    root = small_project(tmp_path / "proj")
    bare_window.open_project(root)
    bare_window.close_project()
    (root / "annotator.sqlite").unlink()
    bare_window.file_menu.open_recent(root)
    assert boxes and "no longer a project" in boxes[0][2]
    assert root not in bare_window.settings.recent_projects()


# --- adding images ---------------------------------------------------------------------------


def test_adding_corrupt_truncated_and_unsupported_files(window, tmp_path, monkeypatch, boxes):
    bad = tmp_path / "bad"
    bad.mkdir()
    good = bad / "good.png"
    cv2.imwrite(str(good), np.full((SIZE, SIZE), 99, np.uint8))
    truncated = bad / "half.png"
    truncated.write_bytes(good.read_bytes()[:40])
    garbage = bad / "garbage.jpg"
    garbage.write_bytes(b"\x00\x01 definitely not a jpeg" * 20)
    empty = bad / "empty.tif"
    empty.write_bytes(b"")
    text = bad / "notes.txt"
    text.write_text("hello")
    gone = bad / "deleted-meanwhile.png"
    files = [good, truncated, garbage, empty, text, gone]
    monkeypatch.setattr(
        QFileDialog, "getOpenFileNames", lambda *a, **k: ([str(f) for f in files], "")
    )
    before = len(window.session.images())
    window.actions_["add_images"].trigger()
    assert len(window.session.images()) == before + 1
    assert len(boxes) == 1 and boxes[0][0] == "warning"
    message = boxes[0][2]
    one_line(message)
    assert message.startswith("Added 1 image(s), 5 unreadable")


def test_adding_an_empty_folder_says_no_images_were_found(window, tmp_path, monkeypatch, boxes):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("no images here")
    (empty / "movie.gif").write_bytes(b"GIF89a")
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(empty))
    window.actions_["add_folder"].trigger()
    assert len(boxes) == 1
    kind, _title, message = boxes[0]
    assert kind == "warning" and message.startswith("Added no images: no image files found")
    assert message.endswith(
        "Left out pictures of types not read: .gif (1); convert them to PNG or TIFF to add them."
    )


def test_a_clean_add_says_so_in_the_status_bar_without_a_box_to_close(
    window, tmp_path, monkeypatch, boxes
):
    """ "Added 3 image(s)." came in a box to close after every add and new project,
    though the status bar and the image list said it already (UX audit)."""
    more = tmp_path / "more"
    more.mkdir()
    for i in range(3):
        cv2.imwrite(str(more / f"new{i}.png"), np.full((16, 16), 40 * i, np.uint8))
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(more))
    window.actions_["add_folder"].trigger()
    assert boxes == []
    assert window.statusBar().currentMessage() == "Added 3 image(s)."


def test_adding_a_folder_already_in_the_project_says_skipped(
    window, project_dir, monkeypatch, boxes
):
    monkeypatch.setattr(
        QFileDialog, "getExistingDirectory", lambda *a, **k: str(project_dir.parent / "imgs")
    )
    window.actions_["add_folder"].trigger()
    assert boxes and "skipped 3 already in the project" in boxes[0][2]


# --- import labels ---------------------------------------------------------------------------


def _fill_import(fmt: str, src: Path, **extra):
    def exec_(self):
        self.set_format(fmt)
        self.src_edit.setText(str(src))
        if "labels" in extra:
            self.labels_edit.setText(str(extra["labels"]))
        if "background" in extra:
            self.background_combo.setEditText(extra["background"])
        return ImportDialog.DialogCode.Accepted

    return exec_


@pytest.mark.parametrize("fmt", ["voc", "masks", "coco", "labelme", "yolo"])
def test_import_from_a_folder_with_nothing_matching(window, tmp_path, monkeypatch, boxes, fmt):
    src = tmp_path / "src"
    src.mkdir()
    (src / "readme.txt").write_text("nothing to import")
    monkeypatch.setattr(ImportDialog, "exec", _fill_import(fmt, src))
    images = len(window.session.images())
    window.actions_["import"].trigger()
    assert len(boxes) == 1, boxes
    kind, _t, message = boxes[0]
    one_line(message)
    assert kind == "warning" and ("Import failed" in message or "Imported 0" in message), message
    assert len(window.session.images()) == images
    assert window.document is not None  # the open image is open again


@pytest.mark.parametrize(
    ("fmt", "files"),
    [
        ("coco", {"ann.json": "{not json"}),
        ("coco", {"ann.json": '{"images": 5, "annotations": "x"}'}),
        ("labelme", {"a.json": "[1, 2, 3]"}),
        ("labelme", {"a.json": '{"shapes": [{"label": "cell", "points": "zz"}]}'}),
        ("voc", {"SegmentationClass/a.png": "not a png"}),
        ("masks", {"masks/im0.png": "not a png", "images/im0.png": "not a png"}),
        ("yolo", {"labels/im0.txt": "0 0.1 nan 0.3\nbanana\n", "images/im0.png": "x"}),
        (
            "yolo",
            {
                "data.yaml": "names: [cell]\n",
                "labels/train/im0.txt": "0 0.1 nan 0.3\nbanana\n",
                "images/train/im0.png": "<png>",
            },
        ),
        ("yolo", {"data.yaml": "names: {unclosed\n"}),
    ],
)
def test_import_of_malformed_files(window, tmp_path, monkeypatch, boxes, fmt, files):
    src = tmp_path / "src"
    for name, text in files.items():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        if text == "<png>":
            cv2.imwrite(str(src / name), np.zeros((SIZE, SIZE), np.uint8))
        else:
            (src / name).write_text(text)
    monkeypatch.setattr(ImportDialog, "exec", _fill_import(fmt, src))
    window.actions_["import"].trigger()
    assert len(boxes) == 1, boxes
    kind, _t, message = boxes[0]
    one_line(message)
    assert kind == "warning", message


def test_import_with_a_missing_labels_file_or_source(window, tmp_path, monkeypatch, boxes):
    monkeypatch.setattr(
        ImportDialog, "exec", _fill_import("voc", tmp_path / "gone", labels=tmp_path / "x.txt")
    )
    window.actions_["import"].trigger()
    assert len(boxes) == 1 and boxes[0][0] == "warning"
    assert "Import failed" in boxes[0][2] and "no such file or folder" in boxes[0][2]


# --- export ----------------------------------------------------------------------------------


def _mark_one_done(window):
    drag(window.canvas, [(10, 10), (30, 10)])
    window.mark_done()


def _fill_export(out: Path, fmt: str = "masks", include: str = "all"):
    def exec_(self):
        self.set_format(fmt)
        self.out_edit.setText(str(out))
        self.include_combo.setCurrentIndex(self.include_combo.findData(include))
        return ExportDialog.DialogCode.Accepted

    return exec_


def test_export_into_a_non_empty_folder_is_refused_and_the_folder_untouched(
    window, tmp_path, monkeypatch, boxes
):
    _mark_one_done(window)
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    monkeypatch.setattr(ExportDialog, "exec", _fill_export(out))
    window.actions_["export"].trigger()
    assert len(boxes) == 1 and boxes[0][0] == "warning"
    assert "not an empty folder" in boxes[0][2]
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]


def test_export_onto_an_existing_file(window, tmp_path, monkeypatch, boxes):
    _mark_one_done(window)
    out = tmp_path / "a-file"
    out.write_text("mine")
    monkeypatch.setattr(ExportDialog, "exec", _fill_export(out))
    window.actions_["export"].trigger()
    assert len(boxes) == 1 and boxes[0][0] == "warning", boxes
    one_line(boxes[0][2])
    assert out.read_text() == "mine"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_export_into_a_read_only_folder(window, tmp_path, monkeypatch, boxes):
    _mark_one_done(window)
    parent = tmp_path / "ro"
    parent.mkdir()
    parent.chmod(0o555)
    try:
        monkeypatch.setattr(ExportDialog, "exec", _fill_export(parent / "out"))
        window.actions_["export"].trigger()
    finally:
        parent.chmod(0o755)
    assert len(boxes) == 1 and boxes[0][0] == "warning", boxes
    one_line(boxes[0][2])
    assert "Export failed" in boxes[0][2]


def test_export_of_a_project_with_nothing_done(window, tmp_path, monkeypatch, boxes):
    out = tmp_path / "out"
    monkeypatch.setattr(ExportDialog, "exec", _fill_export(out, include="done"))
    window.actions_["export"].trigger()
    assert len(boxes) == 1 and "nothing to export" in boxes[0][2]
    assert not out.exists()


# --- new project -----------------------------------------------------------------------------


def _fill_new(project: Path, classes, images: Path | None = None):
    def exec_(self):
        if images is not None:
            self.images_edit.setText(str(images))
        self.project_edit.setText(str(project))
        self.classes.set_rows(classes)
        self.create_project()
        return self.result()

    return exec_


@pytest.mark.parametrize(
    ("classes", "words"),
    [
        ([("cell", None), ("Cell", None)], "a class named 'cell' is there already"),
        ([("", None), ("  ", None)], "at least one class"),
        ([("a", None), ("new\nline", None)], "control character"),
    ],
)
def test_new_project_with_bad_class_names(
    bare_window, tmp_path, monkeypatch, boxes, classes, words
):
    root = tmp_path / "proj"
    monkeypatch.setattr(NewProjectDialog, "exec", _fill_new(root, classes))
    bare_window.actions_["new_project"].trigger()
    assert len(boxes) == 1 and boxes[0][:2] == ("warning", "Cannot create the project")
    assert words in boxes[0][2].lower()
    assert not root.exists() and bare_window.session is None


def test_new_project_in_an_existing_non_empty_folder(bare_window, tmp_path, monkeypatch, boxes):
    root = tmp_path / "busy"
    root.mkdir()
    (root / "thesis.tex").write_text("mine")
    monkeypatch.setattr(NewProjectDialog, "exec", _fill_new(root, [("a", None)]))
    bare_window.actions_["new_project"].trigger()
    assert len(boxes) == 1 and "not an empty folder" in boxes[0][2]
    assert sorted(p.name for p in root.iterdir()) == ["thesis.tex"]


def test_new_project_with_images_that_are_a_file_or_missing(
    bare_window, tmp_path, monkeypatch, boxes
):
    root = tmp_path / "proj"
    monkeypatch.setattr(
        NewProjectDialog, "exec", _fill_new(root, [("a", None)], images=tmp_path / "nope")
    )
    bare_window.actions_["new_project"].trigger()
    assert len(boxes) == 1 and "no such folder" in boxes[0][2]
    assert not root.exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_new_project_in_a_read_only_folder(bare_window, tmp_path, monkeypatch, boxes):
    parent = tmp_path / "ro"
    parent.mkdir()
    parent.chmod(0o555)
    try:
        monkeypatch.setattr(NewProjectDialog, "exec", _fill_new(parent / "proj", [("a", None)]))
        bare_window.actions_["new_project"].trigger()
    finally:
        parent.chmod(0o755)
    assert len(boxes) == 1 and boxes[0][:2] == ("warning", "Cannot create the project"), boxes
    one_line(boxes[0][2])
    assert bare_window.session is None


def test_new_project_whose_folder_is_a_file(bare_window, tmp_path, monkeypatch, boxes):
    root = tmp_path / "a-file"
    root.write_text("mine")
    monkeypatch.setattr(NewProjectDialog, "exec", _fill_new(root, [("a", None)]))
    bare_window.actions_["new_project"].trigger()
    assert len(boxes) == 1 and boxes[0][:2] == ("warning", "Cannot create the project"), boxes
    assert root.read_text() == "mine"


# --- classes ---------------------------------------------------------------------------------


def _answer(monkeypatch, text: str, ok: bool = True):
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: (text, ok))


@pytest.mark.parametrize("name", ["background", "CELL", " cell "])
def test_renaming_a_class_to_an_existing_name(window, monkeypatch, boxes, name):
    window.class_panel.select_index(2)
    _answer(monkeypatch, name)
    window.class_panel.rename_button.click()
    assert len(boxes) == 1 and boxes[0][:2] == ("warning", "Class not changed")
    assert "is there already" in boxes[0][2].lower()
    assert window.session.schema.names == ["background", "cell", "membrane"]


@pytest.mark.parametrize("button", ["rename_button", "add_button"])
def test_an_empty_class_name_is_refused_in_words(window, monkeypatch, boxes, button):
    window.class_panel.select_index(1)
    _answer(monkeypatch, "   ")
    getattr(window.class_panel, button).click()
    assert len(boxes) == 1 and "empty" in boxes[0][2], boxes
    assert window.session.schema.names == ["background", "cell", "membrane"]


def test_cancelling_the_name_dialog_changes_nothing_and_says_nothing(window, monkeypatch, boxes):
    _answer(monkeypatch, "new", ok=False)
    window.class_panel.add_button.click()
    assert boxes == [] and window.session.schema.names == ["background", "cell", "membrane"]


def test_adding_an_existing_class_or_beyond_the_limit(window, monkeypatch, boxes):
    _answer(monkeypatch, "Membrane")
    window.class_panel.add_button.click()
    assert boxes and "is there already" in boxes[-1][2].lower()
    project = window.session.project
    schema = project.schema
    for i in range(len(schema), 254):
        schema = schema.with_class(f"c{i}")
    project.set_schema(schema)
    _answer(monkeypatch, "one too many")
    window.class_panel.add_button.click()
    assert "cannot grow past" in boxes[-1][2]
    assert len(window.session.schema) == 254


def test_a_class_name_with_a_control_character(window, monkeypatch, boxes):
    _answer(monkeypatch, "tab\there")
    window.class_panel.add_button.click()
    assert len(boxes) == 1 and "control character" in boxes[0][2]


# --- model files -----------------------------------------------------------------------------


@pytest.fixture
def model_boxes(window, monkeypatch):
    """The loop's non-modal error box, recorded."""
    seen: list[str] = []
    monkeypatch.setattr(QMessageBox, "show", lambda self: seen.append(self.text()))
    return seen


@pytest.mark.parametrize("kind", ["garbage", "empty", "folder", "other_classes", "gone"])
def test_importing_a_bad_model_file(window, tmp_path, monkeypatch, model_boxes, kind):
    path = tmp_path / "model.pt"
    if kind == "garbage":
        path.write_bytes(b"PK\x03\x04 garbage" * 50)
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "folder":
        path.mkdir()
    elif kind == "other_classes":
        model_file(path, ["road", "car", "sky"])
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(path), ""))
    window.actions_["import_model"].trigger()
    assert len(model_boxes) == 1, model_boxes
    assert model_boxes[0].startswith("Import failed: ")
    one_line(model_boxes[0])
    assert window.session.project.models() == []


def test_exporting_a_model_to_a_folder_or_a_missing_folder(
    window, tmp_path, monkeypatch, model_boxes
):
    window.loop.import_model(model_file(tmp_path / "lab.pt", window.session.schema.names))
    assert window.actions_["export_model"].isEnabled()
    for target, words in (
        (tmp_path, "is a folder"),
        (tmp_path / "nope" / "m.pt", "no such folder"),
    ):
        monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, t=target, **k: (str(t), ""))
        window.actions_["export_model"].trigger()
        assert words in model_boxes[-1]
    assert len(model_boxes) == 2


# --- closing while a task runs ---------------------------------------------------------------


def _held(real, started, release):
    """``real`` that says when a worker is inside it, then waits until released."""

    def held(*a, **k):
        started.set()
        assert release.wait(10)
        return real(*a, **k)

    return held


def _close_when(qtbot, window, started, release):
    """Close the window once the worker is inside the task, then let the worker go on."""

    def poll():
        if started.is_set():
            window.close()
            release.set()
        else:
            QTimer.singleShot(10, poll)

    QTimer.singleShot(10, poll)


def test_closing_the_window_while_an_export_runs_cancels_it_then_closes(
    qtbot, window, project_dir, tmp_path, monkeypatch, boxes
):
    import dataclasses

    from annotator.formats import registry
    from annotator.storage.lock import holder

    _mark_one_done(window)
    started, release = threading.Event(), threading.Event()
    real = registry.FORMATS["masks"]

    def blocking_writer(out, dataset, options, progress=None):
        started.set()
        assert release.wait(10)
        if progress:
            progress(0, 1, "")  # the next step: raises once the task is cancelled
        return real.writer(out, dataset, options, progress)

    monkeypatch.setitem(
        registry.FORMATS, "masks", dataclasses.replace(real, writer=blocking_writer)
    )
    out = tmp_path / "out"
    monkeypatch.setattr(ExportDialog, "exec", _fill_export(out))
    _close_when(qtbot, window, started, release)
    window.actions_["export"].trigger()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=5000)
    assert boxes == [("information", "Annotator", "Export cancelled; nothing was written.")]
    assert not out.exists()
    assert window.session is None and holder(project_dir) is None


def test_closing_the_window_while_an_import_runs_cancels_it_then_closes(
    qtbot, window, project_dir, tmp_path, monkeypatch, boxes
):
    import annotator.services.exchange as exchange
    from annotator.storage.lock import holder

    src = tmp_path / "src"
    (src / "masks").mkdir(parents=True)
    (src / "images").mkdir()
    for i in range(3):
        cv2.imwrite(str(src / "images" / f"n{i}.png"), np.full((SIZE, SIZE), 100 + i, np.uint8))
        cv2.imwrite(str(src / "masks" / f"n{i}.png"), np.ones((SIZE, SIZE), np.uint8))
    started, release = threading.Event(), threading.Event()
    monkeypatch.setattr(exchange, "_import_item", _held(exchange._import_item, started, release))
    monkeypatch.setattr(ImportDialog, "exec", _fill_import("masks", src))
    _close_when(qtbot, window, started, release)
    window.actions_["import"].trigger()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=5000)
    assert [b[2] for b in boxes] == [
        "Import cancelled: the masks of 1 image(s) were imported, and are kept."
    ]
    assert window.session is None and holder(project_dir) is None
    with Project.open(project_dir) as p:
        assert len(p.images()) == 4  # the first item only, imported before the close


def test_closing_the_window_while_a_model_import_runs_waits_for_it(
    qtbot, window, project_dir, tmp_path, monkeypatch, model_boxes
):
    import annotator.services.versions as versions

    path = model_file(tmp_path / "lab.pt", window.session.schema.names)
    started, release = threading.Event(), threading.Event()
    monkeypatch.setattr(versions, "import_model", _held(versions.import_model, started, release))
    _close_when(qtbot, window, started, release)
    window.loop.import_model(path)
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=5000)
    assert model_boxes == [] and window.session is None
    with Project.open(project_dir) as p:
        assert [m.version for m in p.models()] == [1]  # not cancellable: it completed


def test_closing_the_window_while_the_import_dialog_is_open(
    qtbot, window, tmp_path, monkeypatch, boxes
):
    def exec_(self):
        self.set_format("masks")
        self.src_edit.setText(str(tmp_path))
        window.close()
        return ImportDialog.DialogCode.Accepted

    monkeypatch.setattr(ImportDialog, "exec", exec_)
    window.actions_["import"].trigger()
    assert boxes == [] and window.session is None and not window.isVisible()


# --- images gone from disk -------------------------------------------------------------------


@pytest.mark.parametrize("background", [False, True], ids=["read-at-once", "read-by-a-worker"])
def test_an_image_deleted_from_disk_keeps_the_open_image_and_its_edits(
    qtbot, window, project_dir, boxes, background
):
    if background:
        window.background_open_pixels = 1  # read as a big picture is (ADR 0016)
    ids = [r.id for r in window.session.images()]
    first = window.document.image_id
    gone = next(i for i in ids if i != first)
    window.session.project.image_path(window.session.project.image(gone)).unlink()
    drag(window.canvas, [(10, 10), (30, 10)])
    window.image_list.image_activated.emit(gone)
    qtbot.waitUntil(lambda: bool(boxes), timeout=5000)
    assert len(boxes) == 1 and boxes[0][:2] == ("warning", "Cannot open image")
    assert "no such file" in boxes[0][2]
    # The image shown is still the one the session edits and saves.
    assert window.document is not None and window.document.image_id == first
    assert window.canvas.document is window.document
    drag(window.canvas, [(10, 40), (30, 40)])
    window.save_now()
    window.session.save(wait=True)
    mask = window.session.project.load_mask(window.session.project.image(first))
    assert mask is not None and mask[40, 20] == window.canvas.current_value


def test_an_image_whose_mask_is_damaged_keeps_the_open_image_shown_and_saved(qtbot, window, boxes):
    project = window.session.project
    first = window.document.image_id
    other = next(r for r in window.session.images() if r.id != first)
    project.mask_path(other.id).write_bytes(b"not a png")
    drag(window.canvas, [(10, 10), (30, 10)])
    window.image_list.image_activated.emit(other.id)
    assert len(boxes) == 1 and "damaged label mask" in boxes[0][2]
    # The mask is read before the session lets the first image go: it stays open, the
    # one the canvas shows, and strokes on it are saved.
    assert window.document is not None and window.document.image_id == first
    assert window.canvas.document is window.document
    assert window.actions_["mark_done"].isEnabled()
    drag(window.canvas, [(10, 40), (30, 40)])
    window.close()
    with Project.open(project.root) as p:
        mask = p.load_mask(p.image(first))
        assert mask[10, 20] == mask[40, 20] == window.canvas.current_value


def test_export_below_a_file_instead_of_a_folder(window, tmp_path, monkeypatch, boxes):
    """Like a read-only folder (which root, running these tests, can write into): the
    export cannot create its folder."""
    _mark_one_done(window)
    blocker = tmp_path / "a-file"
    blocker.write_text("mine")
    monkeypatch.setattr(ExportDialog, "exec", _fill_export(blocker / "out"))
    window.actions_["export"].trigger()
    assert len(boxes) == 1 and boxes[0][0] == "warning", boxes
    one_line(boxes[0][2])
    assert boxes[0][2] == (
        f"Export failed: {blocker / 'out'}: cannot create the export folder "
        f"({blocker} is a file, not a folder)"
    )
    assert blocker.read_text() == "mine"


def test_export_where_creating_the_folder_is_not_permitted(window, tmp_path, monkeypatch, boxes):
    """What a read-only parent folder does for a user who is not root."""
    _mark_one_done(window)
    real = Path.mkdir

    def refuse(self, *a, **k):
        if self.name == "parent":
            raise PermissionError(13, "Permission denied", str(self))
        return real(self, *a, **k)

    monkeypatch.setattr(Path, "mkdir", refuse)
    out = tmp_path / "parent" / "out"
    monkeypatch.setattr(ExportDialog, "exec", _fill_export(out))
    window.actions_["export"].trigger()
    assert boxes == [
        (
            "warning",
            "Annotator",
            f"Export failed: {out}: cannot create the export folder (Permission denied)",
        )
    ]


def test_new_project_below_a_file_instead_of_a_folder(bare_window, tmp_path, monkeypatch, boxes):
    blocker = tmp_path / "a-file"
    blocker.write_text("mine")
    monkeypatch.setattr(NewProjectDialog, "exec", _fill_new(blocker / "proj", [("a", None)]))
    bare_window.actions_["new_project"].trigger()
    assert len(boxes) == 1 and boxes[0][:2] == ("warning", "Cannot create the project"), boxes
    one_line(boxes[0][2])
    assert "cannot create the project folder (Not a directory)" in boxes[0][2]
    assert bare_window.session is None


def test_new_project_where_creating_the_folder_is_not_permitted(
    bare_window, tmp_path, monkeypatch, boxes
):
    """What a read-only parent folder does for a user who is not root."""
    real = Path.mkdir

    def refuse(self, *a, **k):
        if self.name == "proj":
            raise PermissionError(13, "Permission denied", str(self))
        return real(self, *a, **k)

    monkeypatch.setattr(Path, "mkdir", refuse)
    monkeypatch.setattr(NewProjectDialog, "exec", _fill_new(tmp_path / "proj", [("a", None)]))
    bare_window.actions_["new_project"].trigger()
    assert len(boxes) == 1 and "(Permission denied)" in boxes[0][2], boxes
    assert bare_window.session is None


def test_new_project_from_a_folder_without_images_says_so(
    bare_window, tmp_path, monkeypatch, boxes
):
    images = tmp_path / "nothing"
    images.mkdir()
    (images / "notes.txt").write_text("x")
    root = tmp_path / "proj"
    monkeypatch.setattr(NewProjectDialog, "exec", _fill_new(root, [("a", None)], images=images))
    bare_window.actions_["new_project"].trigger()
    assert bare_window.session is not None  # the project exists; images can come later
    assert boxes == [
        (
            "warning",
            "Annotator",
            "Added no images: no image files found (.bmp, .jpeg, .jpg, .png, .tif, .tiff, "
            ".nii, .nii.gz).",
        )
    ]


def test_reopening_the_open_project_keeps_the_edits(window, project_dir, boxes):
    first = window.document.image_id
    drag(window.canvas, [(10, 10), (30, 10)])
    value = window.canvas.current_value
    window.open_project(project_dir)
    assert boxes == []
    assert window.document is not None and window.document.image_id == first
    assert window.document.label_map.array[10, 20] == value


def test_export_when_an_image_file_was_deleted(window, tmp_path, monkeypatch, boxes):
    _mark_one_done(window)
    project = window.session.project
    project.image_path(window.document.record).unlink()
    out = tmp_path / "out"
    monkeypatch.setattr(ExportDialog, "exec", _fill_export(out, include="done"))
    window.actions_["export"].trigger()
    assert len(boxes) == 1 and boxes[0][0] == "warning", boxes
    one_line(boxes[0][2])
    assert boxes[0][2].startswith("Export failed: ") and not out.exists()


def test_an_export_split_of_all_zeros_is_said_in_the_dialogs_words(qtbot):
    dialog = ExportDialog(None)
    qtbot.addWidget(dialog)
    dialog.out_edit.setText("/tmp/somewhere")
    for spin in dialog.split_spins:
        spin.setValue(0)
    from annotator.core.errors import AnnotatorError

    with pytest.raises(AnnotatorError, match="give train, val or test a share above 0"):
        dialog.request()


def test_a_cancelled_import_says_how_many_masks_it_kept():
    from annotator.gui.file_menu import import_cancelled_text

    assert import_cancelled_text(0) == "Import cancelled; no mask was imported."
    assert "the masks of 4 image(s) were imported" in import_cancelled_text(4)


# --- switching projects: nothing of the old one reaches the new one --------------------------
def _other_project(tmp_path: Path, size: int = 2 * SIZE) -> Path:
    images = tmp_path / "other_imgs"
    images.mkdir()
    rng = np.random.default_rng(1)
    for i in range(2):
        cv2.imwrite(str(images / f"o{i}.png"), rng.integers(0, 255, (size, size), np.uint8))
    root = tmp_path / "other"
    with Project.create(root, LabelSchema.from_names(["background", "thing"])) as p:
        p.add_images([images])
    return root


def _segments(qtbot, smart, doc):
    qtbot.waitUntil(lambda: smart.superpixels(doc.image_id, doc.image) is not None, timeout=20000)
    return smart.superpixels(doc.image_id, doc.image)


def test_superpixels_are_never_another_project_s_or_another_image_s(qtbot, window, tmp_path):
    smart = window.canvas.smart
    first = window.document
    assert _segments(qtbot, smart, first).labels.shape == first.label_map.shape
    window.go(1)
    assert first.image_id not in smart._segments  # only the open image's are kept
    window.open_project(_other_project(tmp_path))
    doc = window.document
    assert doc.image_id == first.image_id  # the same id, another picture
    assert _segments(qtbot, smart, doc).labels.shape == doc.label_map.shape == (128, 128)


def test_a_save_landing_after_a_project_switch_touches_nothing_of_the_new_one(
    qtbot, window, tmp_path, boxes
):
    errors = []
    old_hook = sys.excepthook
    sys.excepthook = lambda *exc: errors.append(exc)
    try:
        window.go(1)
        window.go(1)  # image 3 of the first project: no such id in the other one
        drag(window.canvas, [(10, 10), (30, 10)])
        window.save_now()  # its "saved" news lands after the switch
        window.open_project(_other_project(tmp_path))
        for _ in range(20):
            qtbot.wait(10)
    finally:
        sys.excepthook = old_hook
    assert errors == [] and boxes == []
    assert [r.name for r in window.session.images()] == ["o0.png", "o1.png"]


def test_the_status_bar_forgets_the_old_project_s_round(window, tmp_path):
    window.activity.round_started()
    assert window.activity.text.startswith("Training round")
    window.open_project(_other_project(tmp_path))
    assert not window.activity.bar.isVisible()
    assert window.activity.text == "o0.png open"  # news of the new project gets through


def test_an_open_failing_past_the_close_of_the_old_image_leaves_nothing_editable(
    window, monkeypatch, boxes
):
    """The session closes the open image before it reads the new mask; a failure after
    that (memory, say) must not leave the closed image on the canvas, edits unsaved."""
    session = window.session
    other = next(r.id for r in session.images() if r.id != window.document.image_id)

    def fails_late(image_id, pixels=None):
        session.close_document()
        raise MemoryError()

    monkeypatch.setattr(session, "open_image", fails_late)
    window.open_image(other)
    assert window.document is None and window.canvas.document is None
    assert boxes and boxes[0][1] == "Cannot open image" and "MemoryError" in boxes[0][2]


def test_the_export_dialog_asks_before_it_replaces_a_full_folder(
    window, tmp_path, boxes, monkeypatch
):
    """A folder that holds files is replaced only when the user says so on OK (as
    `export --overwrite`, once the new export is whole); No keeps the dialog and the
    folder; a file is refused while the choices are on screen."""
    from PySide6.QtWidgets import QDialog

    from annotator.gui.export_dialog import run_export

    full = tmp_path / "full"
    full.mkdir()
    (full / "keep.txt").write_text("mine")
    dialog = ExportDialog(window)
    dialog.out_edit.setText(str(full))
    dialog.include_combo.setCurrentIndex(dialog.include_combo.findData("all"))
    dialog._accept_if_valid()  # the recorded question answers Ok: not Yes
    assert dialog.result() != QDialog.DialogCode.Accepted
    assert boxes[-1][0] == "question" and "already holds files" in boxes[-1][2]
    assert not dialog.request().overwrite
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    dialog._accept_if_valid()
    assert dialog.result() == QDialog.DialogCode.Accepted
    request = dialog.request()
    assert request.overwrite
    assert (full / "keep.txt").read_text() == "mine"  # nothing replaced before the export
    drag(window.canvas, [(10, 10), (40, 20)])  # labels to export
    window.session.save(wait=True)
    outcome = run_export(window, window.session.project, request)
    assert outcome.error is None, outcome.error
    assert not (full / "keep.txt").exists() and any(full.iterdir())
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    dialog = ExportDialog(window)
    dialog.out_edit.setText(str(a_file))
    dialog._accept_if_valid()
    assert dialog.result() != QDialog.DialogCode.Accepted
    assert boxes[-1][0] == "warning" and "is a file" in boxes[-1][2]


@pytest.mark.parametrize(
    "value", ["@Variant(\\0\\0\\0\\x2\\0\\0\\0\\x5)", "@ByteArray(/tmp)", "@Invalid()"]
)
def test_a_settings_file_with_recent_projects_of_another_type_still_starts(tmp_path, value):
    """An int or bytes where the list of recent projects belongs stopped the app at start
    (TypeError in recent_projects)."""
    from annotator.gui.settings_store import SettingsStore

    ini = tmp_path / "annotator.ini"
    ini.write_text(f"[recent]\nprojects={value}\nlast_open={value}\n")
    store = SettingsStore(ini)
    assert store.recent_projects() == [] and store.last_project() is None
    store.add_recent(tmp_path)  # and it can be written again
    assert store.recent_projects() == [tmp_path.resolve()]


def _answer_import_box(monkeypatch, button_text):
    """The re-import question answered with the button whose text starts so (None:
    asserts it is never asked); the texts asked are returned."""
    asked: list[str] = []

    def answer(box):
        asked.append(box.text())
        assert button_text is not None, box.text()
        [button] = [b for b in box.buttons() if b.text().startswith(button_text)]
        button.click()
        return 0

    monkeypatch.setattr(QMessageBox, "exec", answer)
    return asked


@pytest.mark.parametrize("choice", ["Use v", "Import once more", "Cancel"])
def test_importing_the_same_model_file_again_asks(window, tmp_path, monkeypatch, choice):
    """Model > Import of a file imported already (the CLI says so and changes nothing
    unless --again): the app asks whether to use that version or import it once more."""
    names = window.session.schema.names
    path = model_file(tmp_path / "lab.pt", names)
    asked = _answer_import_box(monkeypatch, None)
    window.loop.import_model(path)
    window.loop.import_model(model_file(tmp_path / "other.pt", [*names[:1], *names[1:]]))
    assert [m.version for m in window.session.project.models()] == [1, 2]
    assert asked == []  # other.pt holds other weights: a new file, no question
    asked = _answer_import_box(monkeypatch, choice)
    window.loop.import_model(path)  # the content of v1, while v2 is active
    assert asked == ["lab.pt was imported already, as model v1."]
    project = window.session.project
    expected = {"Use v": ([1, 2], 1), "Import once more": ([1, 2, 3], 3), "Cancel": ([1, 2], 2)}
    assert ([m.version for m in project.models()], project.active_model().version) == (
        expected[choice]
    )
