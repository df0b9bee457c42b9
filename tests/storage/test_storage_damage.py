"""A damaged or tampered project folder is one clear error naming the file, never a
traceback and never silently wrong labels: missing or damaged label maps, impossible
database versions, settings that are not JSON, and a project folder inside the folder
being added."""

import sqlite3

import cv2
import numpy as np
import pytest
from storehelpers import image_folder

from annotator.core.errors import ProjectError
from annotator.core.schema import LabelSchema
from annotator.core.status import ImageStatus
from annotator.storage.project import DB_NAME, Project


@pytest.fixture
def labelled(project, tmp_path):
    """The project with two images; the first is done, with a saved label map."""
    project.add_images([image_folder(tmp_path / "imgs", n=2)])
    rec = project.images()[0]
    mask = project.new_mask(rec)
    mask[:5] = 1
    project.save_mask(rec.id, mask, status=ImageStatus.DONE)
    return project


# --- label maps -------------------------------------------------------------------------
def test_a_saved_label_map_whose_file_is_gone_is_an_error_naming_it(labelled):
    done, never = labelled.images()
    labelled.mask_path(done.id).unlink()
    with pytest.raises(ProjectError) as err:
        labelled.load_mask(done)
    message = str(err.value)
    assert "\n" not in message
    assert "img0.png" in message and f"masks/{done.id}.png" in message and "missing" in message
    assert "backup" in message
    # an image whose labels were never saved simply has none
    assert labelled.load_mask(never) is None


def test_a_saved_label_map_of_no_labelled_pixels_is_still_missed(labelled):
    rec = labelled.images()[1]
    labelled.save_mask(rec.id, labelled.new_mask(rec))
    labelled.mask_path(rec.id).unlink()
    with pytest.raises(ProjectError, match="is missing"):
        labelled.load_mask(labelled.image(rec.id))


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_label_values_that_are_no_class_id_are_a_damaged_mask(labelled, dtype):
    rec = labelled.images()[0]
    mask = np.zeros((rec.height, rec.width), dtype)
    mask[3, 4] = 77 if dtype == np.uint8 else 256 + 1  # 257 would wrap to class 1
    cv2.imwrite(str(labelled.mask_path(rec.id)), mask)
    with pytest.raises(ProjectError, match="damaged label mask") as err:
        labelled.load_mask(rec)
    assert str(labelled.mask_path(rec.id)) in str(err.value)
    assert "is no class id" in str(err.value)


def test_every_valid_label_value_loads(labelled):
    rec = labelled.images()[0]
    s = labelled.schema
    mask = labelled.new_mask(rec)
    mask[0, :4] = [0, 1, s.void, s.unlabelled]
    labelled.save_mask(rec.id, mask)
    np.testing.assert_array_equal(labelled.load_mask(rec), mask)
    # a 16-bit file (rewritten by another tool) with values of an 8-bit project is fine
    cv2.imwrite(str(labelled.mask_path(rec.id)), mask.astype(np.uint16))
    loaded = labelled.load_mask(rec)
    assert loaded.dtype == np.uint8
    np.testing.assert_array_equal(loaded, mask)


def test_the_last_class_of_a_16_bit_project_is_a_valid_value(tmp_path):
    names = [f"c{i}" for i in range(300)]
    with Project.create(tmp_path / "p", LabelSchema.from_names(names)) as p:
        p.add_images([image_folder(tmp_path / "imgs", n=1)])
        rec = p.images()[0]
        mask = p.new_mask(rec)
        mask[0, :4] = [0, 299, p.schema.void, p.schema.unlabelled]
        p.save_mask(rec.id, mask)
        np.testing.assert_array_equal(p.load_mask(rec), mask)
        mask[0, 0] = 300
        cv2.imwrite(str(p.mask_path(rec.id)), mask)
        with pytest.raises(ProjectError, match="value 300 is no class id"):
            p.load_mask(rec)


@pytest.mark.parametrize("content", [b"", b"not a png"])
def test_an_empty_or_garbage_mask_file_is_a_damaged_mask(labelled, content):
    rec = labelled.images()[0]
    labelled.mask_path(rec.id).write_bytes(content)
    with pytest.raises(ProjectError, match="damaged label mask") as err:
        labelled.load_mask(rec)
    assert str(labelled.mask_path(rec.id)) in str(err.value)


# --- database ---------------------------------------------------------------------------
@pytest.mark.parametrize("version", [-3, -1])
def test_a_negative_database_version_is_one_line(project, version):
    root = project.root
    project.close()
    conn = sqlite3.connect(root / DB_NAME)
    conn.execute(f"PRAGMA user_version = {version}")
    conn.close()
    with pytest.raises(ProjectError, match=f"schema version {version}, which no Annotator"):
        Project.open(root)


def test_a_project_on_read_only_media_says_so(project, monkeypatch):
    """As root a folder is never read-only, so the system's answers are faked: SQLite
    fails to open the file, and the folder is not writable."""
    import os

    from annotator.storage import db

    root = project.root
    project.close()

    def refuse(*args, **kwargs):
        raise sqlite3.OperationalError("unable to open database file")

    monkeypatch.setattr(db.sqlite3, "connect", refuse)
    monkeypatch.setattr(os, "access", lambda path, mode: mode != os.W_OK)
    with pytest.raises(ProjectError, match="read-only, and SQLite writes beside"):
        Project.open(root)


def _add_says(project, tmp_path, capsys):
    """Run `annotator add` of two new pictures; its exit code and what it said."""
    from annotator.cli import main

    root = project.root
    project.close()
    code = main(["add", str(root), str(image_folder(tmp_path / "more", n=2))])
    return code, capsys.readouterr().err.strip()


@pytest.fixture
def immutable(project):
    """The project's database made immutable (``chattr +i``: even root cannot write it)."""
    import shutil
    import subprocess

    path = project.root / DB_NAME
    if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", path]).returncode:
        pytest.skip("chattr +i is not available here")
    yield path
    subprocess.run(["chattr", "-i", path], check=True)


def test_a_read_only_database_is_one_line_naming_it(project, immutable, tmp_path, capsys):
    """It was an internal error: sqlite3.OperationalError 'attempt to write a readonly
    database' (exit 70)."""
    code, said = _add_says(project, tmp_path, capsys)
    assert code == 1 and "\n" not in said
    assert f"{immutable}: the database file or its folder is read-only" in said
    assert "internal" not in said


def _made_by_version_1(root):
    """The project's database as the first Annotator wrote it (database version 1)."""
    conn = sqlite3.connect(root / DB_NAME)
    conn.execute("ALTER TABLE images DROP COLUMN file_size")
    conn.execute("ALTER TABLE images DROP COLUMN file_mtime_ns")
    conn.execute("PRAGMA user_version = 1")
    conn.close()


def _user_version(path) -> int:
    conn = sqlite3.connect(f"{path.as_uri()}?immutable=1", uri=True)
    try:
        return conn.execute("PRAGMA user_version").fetchone()[0]
    finally:
        conn.close()


def test_an_older_project_on_a_read_only_disk_is_read_without_upgrading_it(
    labelled, monkeypatch, tmp_path, capsys
):
    """status, models, export refused it: "… read-only …; this change was not saved"
    (the upgrade ran for every reader). As root a folder is never read-only: SQLite's
    usual opening is refused as on such a disk."""
    from annotator.cli import main
    from annotator.storage import db

    root = labelled.root
    labelled.close()
    _made_by_version_1(root)

    def refuse(path):
        raise sqlite3.OperationalError("unable to open database file")

    monkeypatch.setattr(db, "_connect", refuse)
    assert main(["status", str(root)]) == 0
    out = capsys.readouterr()
    assert "images   2  (new: 1, in_progress: 0, done: 1)" in out.out, out
    assert main(["export", str(root), str(tmp_path / "out"), "--format", "masks"]) == 0
    assert len(list((tmp_path / "out").rglob("masks/*.png"))) == 1
    with Project.open(root, lock=False) as p:
        assert [r.status for r in p.images()] == [ImageStatus.DONE, ImageStatus.NEW]
        with pytest.raises(ProjectError, match="read-only"):  # nothing is kept in memory
            p.set_setting("k", 1)
    assert _user_version(root / DB_NAME) == 1  # left for the next writer


def test_an_older_project_whose_database_is_immutable_is_read(labelled, tmp_path, capsys):
    """The same with the file itself made immutable (SQLite opens it, then the upgrade
    is refused)."""
    import shutil
    import subprocess

    from annotator.cli import main

    root = labelled.root
    labelled.close()
    _made_by_version_1(root)
    path = root / DB_NAME
    if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", path]).returncode:
        pytest.skip("chattr +i is not available here")
    try:
        assert main(["status", str(root)]) == 0
        assert "done: 1" in capsys.readouterr().out
        assert _user_version(path) == 1
    finally:
        subprocess.run(["chattr", "-i", path], check=True)
    with Project.open(root) as p:  # a writer upgrades it
        assert len(p.images()) == 2
    assert _user_version(path) == 2


def test_a_database_locked_by_another_program_is_one_line_naming_it(
    project, tmp_path, capsys, monkeypatch
):
    from annotator.storage import db

    monkeypatch.setattr(db, "BUSY_TIMEOUT_S", 0.1)
    other = sqlite3.connect(project.root / DB_NAME, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # a browser holding a write transaction open
    try:
        code, said = _add_says(project, tmp_path, capsys)
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert code == 1 and "\n" not in said
    assert f"{project.root / DB_NAME}: the project database is locked by another program" in said


def _set_raw_setting(root, key, raw):
    conn = sqlite3.connect(root / DB_NAME)
    conn.execute(
        "INSERT INTO settings (key, value) VALUES (?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (key, raw),
    )
    conn.commit()
    conn.close()


def test_a_setting_that_is_not_json_names_the_key(project):
    _set_raw_setting(project.root, "strategy", "{bad")
    with pytest.raises(ProjectError, match="'strategy'") as err:
        project.get_setting("strategy")
    assert "\n" not in str(err.value) and "not JSON" in str(err.value)


@pytest.mark.parametrize("raw", ["{bad", '"x"', "1.5", "true", "[1]"])
def test_a_damaged_active_model_setting_is_one_line_that_says_how_to_fix_it(project, raw):
    _set_raw_setting(project.root, "active_model", raw)
    with pytest.raises(ProjectError, match="active_model") as err:
        project.summary()
    assert "--rollback" in str(err.value)


# --- adding images ----------------------------------------------------------------------
def test_adding_a_folder_that_holds_the_project_leaves_out_the_projects_own_files(tmp_path):
    data = image_folder(tmp_path / "data", n=2)
    with Project.create(data / "proj", LabelSchema.from_names(["bg", "cell"])) as p:
        p.add_image_bytes((data / "img0.png").read_bytes(), "embedded.png")
        cv2.imwrite(str(p.mask_path(1)), np.full((20, 30), 255, np.uint8))
        (p.root / "proposals" / "1_uncertainty.png").write_bytes(b"x")
        image_folder(p.root / "mine", n=1, size=(7, 9))  # the user's own images in it
        report = p.add_images([data])
        assert [r.name for r in report.added] == ["img1.png", "proj/mine/img0.png"]
        own = [s for s in report.skipped if "the project's own" in s[1]]
        assert [s[0] for s in own] == [str(p.root)]  # once, naming the project
        embedded = str(p.root / "images" / "embedded.png")
        assert (embedded, "already in the project") in report.skipped
        assert not report.errors
        # a file named explicitly in one of the project's folders: the same reason
        again = p.add_images([p.mask_path(1), p.root / "proposals" / "1_uncertainty.png"])
        assert not again.added and not again.errors
        assert [s[0] for s in again.skipped] == [str(p.root)]


def test_a_class_added_by_another_program_meanwhile_is_no_damaged_mask(labelled):
    """An export beside the app, where the user added a class and painted with it: the
    export's handle knew the classes before, and called the map damaged, to restore from
    a backup."""
    reader = Project.open(labelled.root, lock=False)  # (as export reads)
    try:
        rec = reader.images()[0]
        assert reader.schema.names == labelled.schema.names  # (read before the change)
        labelled.set_schema(labelled.schema.with_class("debris"))
        mask = labelled.load_mask(rec)
        mask[:2] = len(labelled.schema) - 1
        labelled.save_mask(rec.id, mask)
        with pytest.raises(ProjectError) as err:
            reader.load_mask(reader.image(rec.id))
        said = str(err.value)
        assert "a class was added by another program while this one read it" in said
        assert "run it again" in said and "damaged" not in said
    finally:
        reader.close()
    # A value past every class is damaged still.
    bad = labelled.load_mask(rec)
    bad[0, 0] = 77
    cv2.imwrite(str(labelled.mask_path(rec.id)), bad)
    with pytest.raises(ProjectError, match="damaged label mask"):
        labelled.load_mask(rec)
