"""The project store: round trips, atomicity under failure, migrations, adding images."""

import os
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from storehelpers import image_folder

from annotator.core.card import CardMetrics, ModelCard
from annotator.core.errors import ProjectError, SchemaError
from annotator.core.schema import LabelSchema
from annotator.core.status import ImageStatus
from annotator.storage import atomic
from annotator.storage.db import SCHEMA_VERSION
from annotator.storage.project import DB_NAME, Project


def test_new_project_records_classes_in_the_given_order(tmp_path):
    with Project.create(tmp_path / "p", LabelSchema.from_names(["bg", "cell", "nucleus"])) as p:
        assert [(c.id, c.name) for c in p.schema.classes] == [
            (0, "bg"),
            (1, "cell"),
            (2, "nucleus"),
        ]
    with Project.open(tmp_path / "p") as p:
        assert p.schema.names == ["bg", "cell", "nucleus"]
        assert p.schema.unlabelled == 255 and p.schema.void == 254
        mode = p._db.query("PRAGMA journal_mode")[0][0]
        assert mode == "wal"


def test_creating_over_a_non_empty_folder_is_refused(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "file").write_text("keep me")
    with pytest.raises(ProjectError, match="not an empty folder"):
        Project.create(tmp_path / "x", LabelSchema.from_names(["a"]))
    assert (tmp_path / "x" / "file").read_text() == "keep me"


def test_opening_a_folder_that_is_no_project_names_it(tmp_path):
    with pytest.raises(ProjectError, match="not an Annotator project"):
        Project.open(tmp_path)


def test_add_folder_recursively_records_size_channels_depth_and_relative_paths(project):
    folder = image_folder(project.root / "imgs" / "sub")
    report = project.add_images([project.root / "imgs"])
    assert len(report.added) == 3 and not report.errors
    rec = project.image("sub/img1.png")
    assert (rec.width, rec.height, rec.channels, rec.bit_depth) == (30, 20, 1, 8)
    assert rec.path == "imgs/sub/img1.png"  # inside the project: stored relative
    assert rec.status is ImageStatus.NEW
    assert project.image("img1").id == rec.id  # the stem finds it too
    assert project.image_path(rec) == folder / "img1.png"


def test_add_skips_duplicates_by_path_and_by_content(project, tmp_path):
    folder = image_folder(tmp_path / "outside")
    project.add_images([folder])
    (tmp_path / "copy").mkdir()
    (tmp_path / "copy" / "again.png").write_bytes((folder / "img0.png").read_bytes())
    report = project.add_images([folder, tmp_path / "copy"])
    assert report.added == []
    assert len(report.skipped) == 4
    assert project.images()[0].path == str((folder / "img0.png").resolve())


def test_folder_with_bad_files_adds_the_good_ones_and_reports_the_bad(project, tmp_path):
    folder = image_folder(tmp_path / "mixed", n=2)
    (folder / "empty.png").write_bytes(b"")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0garbage")
    report = project.add_images([folder])
    assert sorted(r.name for r in report.added) == ["img0.png", "img1.png"]
    assert sorted(os.path.basename(e.path) for e in report.errors) == ["broken.jpg", "empty.png"]
    assert len(project.images()) == 2


def test_pictures_of_types_not_read_are_counted_notes_pass_unsaid(project, tmp_path):
    folder = image_folder(tmp_path / "mixed", n=1)
    for name in ("a.webp", "b.WEBP", "c.gif", "notes.txt", "labels.json", ".hidden.gif"):
        (folder / name).write_bytes(b"x")
    report = project.add_images([folder])
    assert [r.name for r in report.added] == ["img0.png"]
    assert report.other_pictures == {".webp": 2, ".gif": 1}
    assert report.other_pictures_text() == ".gif (1), .webp (2)"


def test_hidden_folders_and_another_projects_own_folders_are_not_added(project, tmp_path):
    """A thumbnail cache (.thumbs/), and the label maps, proposals and kept labels of
    another project in the folder, were added as pictures to label."""
    data = tmp_path / "data"
    image_folder(data / "pics", n=2)
    image_folder(data / ".thumbs", n=2, size=(4, 6))
    with Project.create(data / "old", LabelSchema.from_names(["a", "b"])) as old:
        old.add_images([data / "pics"])
        rec = old.images()[0]
        mask = old.new_mask(rec)
        mask[:2] = 1
        old.save_mask(rec.id, mask)
    image_folder(data / "old" / "removed" / "20260101-000000", n=1, size=(5, 5))  # kept labels
    image_folder(data / "old" / "images", n=1, size=(8, 8))  # a project's pictures: pictures
    report = project.add_images([data])
    assert sorted(r.name for r in report.added) == [
        "old/images/img0.png",
        "pics/img0.png",
        "pics/img1.png",
    ]
    # a hidden folder named itself is read, as a hidden file named itself
    assert len(project.add_images([data / ".thumbs"]).added) == 2


def test_mask_round_trip_and_status_provenance(project, tmp_path):
    project.add_images([image_folder(tmp_path / "i", n=1)])
    rec = project.images()[0]
    assert project.load_mask(rec) is None
    mask = project.new_mask(rec)
    mask[2:5, 3:9] = 1
    mask[10, 10] = project.schema.void
    saved = project.save_mask(rec.id, mask, source="user")
    assert saved.status is ImageStatus.IN_PROGRESS
    assert saved.labelled_pixels == 19 and saved.label_source == "user"
    project.close()
    with Project.open(project.root) as again:
        np.testing.assert_array_equal(again.load_mask(again.image(rec.id)), mask)
        again.set_status(rec.id, ImageStatus.DONE)
        assert again.status_counts() == {"new": 0, "in_progress": 0, "done": 1}


def test_mask_of_wrong_shape_is_refused(project, tmp_path):
    project.add_images([image_folder(tmp_path / "i", n=1)])
    rec = project.images()[0]
    with pytest.raises(ProjectError, match="does not match image"):
        project.save_mask(rec.id, np.zeros((3, 3), np.uint8))


def test_failed_mask_write_leaves_previous_mask_and_database_intact(project, tmp_path, monkeypatch):
    project.add_images([image_folder(tmp_path / "i", n=1)])
    rec = project.images()[0]
    first = project.new_mask(rec)
    first[:5] = 0
    project.save_mask(rec.id, first)
    before = project.image(rec.id)

    real_fsync = os.fsync

    def failing_fsync(fd):  # the disk fails after half the data went out
        raise OSError(5, "simulated I/O error")

    second = project.new_mask(rec)
    second[:] = 1
    monkeypatch.setattr(atomic.os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="simulated"):
        project.save_mask(rec.id, second)
    monkeypatch.setattr(atomic.os, "fsync", real_fsync)

    np.testing.assert_array_equal(project.load_mask(rec), first)
    assert project.image(rec.id) == before
    leftovers = [p.name for p in project.mask_path(rec.id).parent.iterdir()]
    assert leftovers == [f"{rec.id}.png"]


def test_failed_transaction_rolls_back_every_change(project, tmp_path):
    project.add_images([image_folder(tmp_path / "i", n=2)])
    with pytest.raises(RuntimeError), project._db.transaction() as conn:
        conn.execute("UPDATE images SET status = 'done'")
        raise RuntimeError("crash in the middle")
    assert project.status_counts()["done"] == 0


def test_killed_writer_leaves_last_committed_state(tmp_path):
    """A process killed mid-transaction: the next open sees only committed data."""
    import subprocess
    import sys

    root = tmp_path / "p"
    Project.create(root, LabelSchema.from_names(["a", "b"])).close()
    code = f"""
import os, sqlite3
conn = sqlite3.connect({str(root / DB_NAME)!r}, isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
conn.execute("INSERT INTO settings (key, value) VALUES ('half', '1')")
os._exit(9)  # dies before COMMIT
"""
    assert subprocess.run([sys.executable, "-c", code]).returncode == 9
    with Project.open(root) as p:
        assert p.get_setting("half") is None
        assert p.schema.names == ["a", "b"]


def test_database_from_a_newer_program_is_refused(tmp_path):
    Project.create(tmp_path / "p", LabelSchema.from_names(["a"])).close()
    conn = sqlite3.connect(tmp_path / "p" / DB_NAME)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(ProjectError, match="newer Annotator"):
        Project.open(tmp_path / "p")


def test_migrations_run_from_an_empty_database(tmp_path):
    from annotator.storage.db import Database

    db = Database(tmp_path / "x.sqlite", create=True)
    assert db.query("PRAGMA user_version")[0][0] == SCHEMA_VERSION
    tables = {r[0] for r in db.query("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"images", "classes", "models", "settings", "meta"} <= tables
    db.close()


def test_an_interrupt_just_after_begin_leaves_no_transaction_open(tmp_path):
    """Ctrl+C between ``BEGIN IMMEDIATE`` and the body left the transaction open: the
    next write failed ("cannot start a transaction within a transaction") and the
    database stayed locked for every other process."""
    from annotator.storage.db import Database

    db = Database(tmp_path / "x.sqlite", create=True)
    real = db._conn  # noqa: SLF001

    class InterruptedAfterBegin:
        """The connection, with an interrupt arriving right after ``BEGIN IMMEDIATE``."""

        armed = True

        def __getattr__(self, name):
            return getattr(real, name)

        def execute(self, sql, *args):
            out = real.execute(sql, *args)
            if sql == "BEGIN IMMEDIATE" and self.armed:
                self.armed = False
                raise KeyboardInterrupt
            return out

    db._conn = InterruptedAfterBegin()  # noqa: SLF001
    with pytest.raises(KeyboardInterrupt), db.transaction() as conn:
        conn.execute("INSERT INTO meta (key, value) VALUES ('a', '1')")
    assert not real.in_transaction
    with db.transaction() as conn:  # the next write works, and the first one did nothing
        conn.execute("INSERT INTO meta (key, value) VALUES ('b', '2')")
    assert [r[0] for r in db.query("SELECT key FROM meta WHERE key IN ('a', 'b')")] == ["b"]
    db._conn = real  # noqa: SLF001
    db.close()


def test_schema_changes_keep_ids_and_refuse_removal(project):
    s = project.schema.with_class("nucleus").renamed(1, "Cell").recoloured(0, "#000000")
    project.set_schema(s)
    with Project.open(project.root) as again:
        assert again.schema.names == ["background", "Cell", "nucleus"]
        assert again.schema.classes[0].color == "#000000"
    with pytest.raises(SchemaError, match="cannot be removed"):
        project.set_schema(LabelSchema.from_names(["background"]))


def test_settings_and_model_versions_round_trip(project):
    project.set_setting("strategy", {"name": "uncertainty"})
    assert project.get_setting("strategy") == {"name": "uncertainty"}
    assert project.active_model() is None
    assert project.next_model_version() == 1
    project.register_model(1, None, "models/v0001/model.pt", _card(1, None, 0.5))
    project.register_model(2, 1, "models/v0002/model.pt", _card(2, 1, 0.7))
    assert project.active_model().version == 2
    project.set_active_model(1)
    with Project.open(project.root) as again:
        assert again.active_model().version == 1
        assert [m.parent for m in again.models()] == [None, 1]
        assert again.models()[1].card == _card(2, 1, 0.7)
        assert again.summary()["models"][1]["metrics"]["mean_iou"] == 0.7


def _card(version: int, parent: int | None, miou: float) -> ModelCard:
    return ModelCard(
        version=version,
        parent=parent,
        architecture={"in_channels": 1, "n_classes": 2},
        classes=("background", "cell"),
        metrics=CardMetrics(loss=0.1, pixel_accuracy=0.9, mean_iou=miou, val_pixels=100),
    )


def test_a_project_on_a_read_only_disk_says_what_still_works(tmp_path, monkeypatch):
    """Opening to write said only "cannot create the project lock (Read-only file system)"."""
    import errno

    from annotator.core.errors import ProjectError
    from annotator.storage import lock as lock_module

    Project.create(tmp_path / "p", LabelSchema.from_names(["a", "b"])).close()
    real = lock_module.os.open

    def read_only(path, flags, *args):
        if str(path).endswith(lock_module.LOCK_NAME):
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real(path, flags, *args)

    monkeypatch.setattr(lock_module.os, "open", read_only)
    with pytest.raises(ProjectError, match="read-only disk can be read .* copy it to a writable"):
        Project.open(tmp_path / "p")


def test_images_whose_folder_moved_are_found_again_by_adding_the_new_place(project, tmp_path):
    """Adding the moved folder skipped every file as "same content as an image already
    added", and the images stayed unreadable (export, training) until moved back."""
    folder = image_folder(tmp_path / "data", n=2)
    project.add_images([folder])
    first = project.images()[0]
    mask = project.new_mask(first)
    mask[:2] = 1
    project.save_mask(first.id, mask)
    moved = tmp_path / "moved"
    folder.rename(moved)
    report = project.add_images([moved])
    assert report.added == [] and report.skipped == [] and report.errors == []
    assert sorted(name for name, _ in report.relinked) == ["img0.png", "img1.png"]
    again = project.image(first.id)
    assert Path(again.path) == (moved / "img0.png").resolve()
    assert project.load_image(again).shape[:2] == (again.height, again.width)
    assert (project.load_mask(again)[:2] == 1).all()  # the labels stay the image's
    assert project.add_images([moved]).skipped  # now simply already in the project


def test_a_write_while_another_program_holds_the_database_is_refused_in_words(project):
    """A database browser's open write transaction: the write waits its timeout, then is
    refused in one line (it was sqlite3.OperationalError "database is locked", an
    internal error), and meanwhile this process's other threads still read."""
    import threading
    import time

    other = sqlite3.connect(project.root / DB_NAME, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        began = time.monotonic()
        with pytest.raises(ProjectError, match="locked by another program"):
            project.set_setting("k", 1, timeout=0.3)
        assert 0.25 < time.monotonic() - began < 2
        waiting = threading.Thread(
            target=lambda: pytest.raises(ProjectError, project.set_setting, "k", 2, timeout=2)
        )
        waiting.start()
        time.sleep(0.2)
        began = time.monotonic()
        assert project.get_setting("k") is None  # not held up by the write waiting
        assert time.monotonic() - began < 0.5
        waiting.join()
    finally:
        other.execute("ROLLBACK")
        other.close()
    project.set_setting("k", 3, timeout=0)  # released: written at once
    assert project.get_setting("k") == 3


def test_a_write_to_a_read_only_database_is_refused_in_words(project):
    project._db._conn.execute("PRAGMA query_only = ON")  # SQLite's own read-only refusal
    with pytest.raises(ProjectError, match="read-only"):
        project.set_setting("k", 1)
    project._db._conn.execute("PRAGMA query_only = OFF")
    project.set_setting("k", 1)  # no transaction left open by the refusal


def test_mask_values_are_kept_from_the_save_until_the_file_changes(project, monkeypatch, tmp_path):
    """A round's check of the classes labelled decoded a big map on the GUI thread right
    after the saver had it in memory."""
    import cv2

    project.add_images([image_folder(tmp_path / "imgs", n=1)])
    rec = project.images()[0]
    mask = np.full((rec.height, rec.width), 255, np.uint8)
    mask[0, :3] = [0, 1, 0]
    project.save_mask(rec.id, mask)
    real = Project.load_mask
    monkeypatch.setattr(Project, "load_mask", lambda *a: pytest.fail("decoded again"))
    assert project.mask_values(rec) == {0, 1, 255}
    monkeypatch.setattr(Project, "load_mask", real)
    other = mask.copy()
    other[1, 1] = 254  # (void) written by another program: read again
    cv2.imwrite(str(project.mask_path(rec.id)) + ".tmp.png", other)
    os.replace(str(project.mask_path(rec.id)) + ".tmp.png", project.mask_path(rec.id))
    assert project.mask_values(rec) == {0, 1, 254, 255}
