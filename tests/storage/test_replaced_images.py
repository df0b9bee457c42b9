"""An image file replaced after it was added by another picture of the same width and
height is refused by ``Project.load_image`` (and so by training, prediction and the GUI),
as export refuses it: its label map belongs to the picture that was labelled.

Hashing every load would be slow, so the file's stamp (size in bytes, st_mtime_ns) is
recorded with its SHA-1: an unchanged stamp is trusted after one ``stat``, a changed or
unknown one (a ``touch``, a project of database version 1, a file modified moments before
it was looked at) has the file hashed once.
"""

import os
import sqlite3
import threading
import time
import types

import cv2
import numpy as np
import pytest
from PIL import Image

from annotator.cli import main
from annotator.core.errors import ImageReadError
from annotator.core.schema import LabelSchema
from annotator.services.session import AnnotationSession
from annotator.storage import db as db_module
from annotator.storage import project as project_module
from annotator.storage.project import DB_NAME, Project, file_sha1

HOUR_NS = 3600 * 10**9
REPLACED = "changed since it was added to the project as 'a.png'"


def _write(path, seed, size=(12, 16), mtime_ns=None):
    """An uncompressed PNG: every picture of one size has the same number of bytes, so
    only the time stamp (or the content) tells a replacement. ``mtime_ns``: an old time
    stamp, as of a file written long before it was added."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 255, size, dtype=np.uint8)
    Image.fromarray(pixels).save(path, compress_level=0)
    if mtime_ns is not None:
        os.utime(path, ns=(mtime_ns, mtime_ns))
    return pixels


def _stamp(project, image_id):
    row = project._db.query(
        "SELECT file_size, file_mtime_ns FROM images WHERE id = ?", (image_id,)
    )[0]
    return (row["file_size"], row["file_mtime_ns"])


def _file_stamp(path):
    """The stamp the project records: the size, and the later of the modification and
    status change times (a rename or ``os.utime`` moves the latter to now)."""
    st = path.stat()
    return (st.st_size, max(st.st_mtime_ns, st.st_ctime_ns))


@pytest.fixture
def hashes(monkeypatch):
    """Counts the files ``Project`` hashes."""
    seen = []
    real = project_module.file_sha1

    def counted(path):
        seen.append(path)
        return real(path)

    monkeypatch.setattr(project_module, "file_sha1", counted)
    return seen


@pytest.fixture
def later(monkeypatch):
    """Moves the project's clock 3 s on: what was modified moments ago is then old enough
    for its time stamp to vouch for its content."""

    def move():
        real = time.time_ns
        clock = types.SimpleNamespace(time_ns=lambda: real() + 3 * 10**9)
        monkeypatch.setattr(project_module, "time", clock)

    return move


@pytest.mark.parametrize("old_file", [True, False], ids=["stamp-recorded", "stamp-unknown"])
def test_a_picture_replaced_by_one_of_the_same_size_is_refused(project, tmp_path, old_file, later):
    src = tmp_path / "imgs" / "a.png"
    original = _write(src, 0, mtime_ns=time.time_ns() - HOUR_NS if old_file else None)
    if old_file:
        later()  # (its status change time is that of the write: now)
    (rec,) = project.add_images([src]).added
    assert (project.load_image(rec) == original).all()
    kept, stamp = src.read_bytes(), _file_stamp(src)
    _write(src, 1)  # same width, height and byte size; other pixels
    assert len(src.read_bytes()) == len(kept)
    with pytest.raises(ImageReadError) as err:
        project.load_image(rec)
    message = str(err.value)
    assert message.startswith(f"{src}: the file {REPLACED}")
    assert "its labels were drawn on the file as it was added; put that file back" in message
    assert "\n" not in message
    # the stamp of the original stays recorded (or unknown, when it could not vouch)
    assert _stamp(project, rec.id) == (stamp if old_file else (None, None))
    src.write_bytes(kept)  # the original back (with a new time stamp): loads again
    assert (project.load_image(rec) == original).all()


def test_a_replacement_in_the_same_clock_tick_as_the_add_is_still_found(project, tmp_path):
    """A coarse file system clock (2 s on FAT) gives a rewrite moments after the add the
    time stamp the file had: a stamp that recent is never trusted."""
    src = tmp_path / "imgs" / "a.png"
    _write(src, 0)
    (rec,) = project.add_images([src]).added
    same = src.stat().st_mtime_ns
    _write(src, 1)
    os.utime(src, ns=(same, same))  # as a coarse clock would leave it
    with pytest.raises(ImageReadError, match=REPLACED):
        project.load_image(rec)


def test_a_touched_file_is_hashed_once_then_loads_without_hashing(project, tmp_path, hashes, later):
    later()  # every file written here is old enough to vouch for its content
    src = tmp_path / "imgs" / "a.png"
    old = time.time_ns() - HOUR_NS
    original = _write(src, 0, mtime_ns=old)
    (rec,) = project.add_images([src]).added
    hashes.clear()
    project.load_image(rec)
    assert hashes == []  # the recorded stamp vouches: one stat, no hashing
    os.utime(src, ns=(old + 10**9, old + 10**9))  # touch: a new time, the same content
    assert (project.load_image(rec) == original).all()
    assert len(hashes) == 1
    assert _stamp(project, rec.id) == _file_stamp(src)  # the new stamp is recorded
    fresh = project.image(rec.id)
    assert (fresh.file_size, fresh.file_mtime_ns) == _file_stamp(src)
    assert (project.load_image(project.image(rec.id)) == original).all()
    assert (project.load_image(rec) == original).all()  # an older record object too
    assert len(hashes) == 1
    assert project.image(rec.id).updated_at == rec.updated_at  # training weighs by it


def test_a_file_modified_moments_ago_is_hashed_until_its_stamp_can_vouch(
    project, tmp_path, hashes, later
):
    src = tmp_path / "imgs" / "a.png"
    _write(src, 0)  # just written: its time stamp cannot vouch yet
    (rec,) = project.add_images([src]).added
    assert _stamp(project, rec.id) == (None, None)
    hashes.clear()
    project.load_image(rec)
    project.load_image(rec)
    assert len(hashes) == 2 and _stamp(project, rec.id) == (None, None)
    later()
    project.load_image(rec)
    assert len(hashes) == 3 and _stamp(project, rec.id) == _file_stamp(src)
    project.load_image(rec)
    assert len(hashes) == 3


@pytest.mark.parametrize("replaced", [False, True])
def test_a_row_with_no_stamp_is_checked_once(project, tmp_path, hashes, replaced, later):
    """Rows of projects from before the stamp was recorded: hashed on the first load."""
    later()
    src = tmp_path / "imgs" / "a.png"
    _write(src, 0, mtime_ns=time.time_ns() - HOUR_NS)
    (rec,) = project.add_images([src]).added
    with project._db.transaction() as conn:
        conn.execute("UPDATE images SET file_size = NULL, file_mtime_ns = NULL")
    rec = project.image(rec.id)
    if replaced:
        _write(src, 1, mtime_ns=time.time_ns() - HOUR_NS)
    hashes.clear()
    if replaced:
        with pytest.raises(ImageReadError, match=REPLACED):
            project.load_image(rec)
        assert _stamp(project, rec.id) == (None, None)  # nothing vouched for
        return
    project.load_image(rec)
    assert len(hashes) == 1 and _stamp(project, rec.id) == _file_stamp(src)
    project.load_image(rec)
    assert len(hashes) == 1


def test_threads_loading_images_of_unknown_stamp_at_once_all_get_them(project, tmp_path, later):
    """The GUI's workers and training load from several threads; the first loads of
    each image hash it and record its stamp, each in its own locked transaction."""
    later()
    old = time.time_ns() - HOUR_NS
    pixels = [_write(tmp_path / "imgs" / f"{i:02d}.png", i, mtime_ns=old) for i in range(12)]
    project.add_images([tmp_path / "imgs"])
    with project._db.transaction() as conn:
        conn.execute("UPDATE images SET file_size = NULL, file_mtime_ns = NULL")
    records = project.images()
    errors = []

    def load_all():
        try:
            for rec, expected in zip(records, pixels, strict=True):
                assert (project.load_image(rec) == expected).all()
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=load_all) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for rec in records:
        assert _stamp(project, rec.id) == _file_stamp(project.image_path(rec))


def test_every_way_of_adding_an_image_records_its_stamp(project, tmp_path, later):
    # an embedded image is written into the project just before it is added: unknown
    # until its time stamp can vouch (then the first load records it); with a clock
    # moved on, the add records it
    data = cv2.imencode(".png", np.full((5, 7), 9, np.uint8))[1].tobytes()
    c = project.add_image_bytes(data, "c.png")
    assert _stamp(project, c.id) == (None, None)
    later()
    old = time.time_ns() - HOUR_NS
    by_folder, single = tmp_path / "imgs" / "a.png", tmp_path / "other" / "b.png"
    _write(by_folder, 0, mtime_ns=old)
    _write(single, 1, mtime_ns=old)
    (a,) = project.add_images([tmp_path / "imgs"]).added
    b = project.add_image_array_file(single)
    assert _stamp(project, a.id) == _file_stamp(by_folder)
    assert _stamp(project, b.id) == _file_stamp(single)
    data = cv2.imencode(".png", np.ones((5, 7), np.uint8))[1].tobytes()
    d = project.add_image_bytes(data, "d.png")
    assert _stamp(project, d.id) == _file_stamp(project.image_path(d))
    project.load_image(c)
    assert _stamp(project, c.id) == _file_stamp(project.image_path(c))


def test_the_session_keeps_the_open_image_when_the_next_one_was_replaced(project, tmp_path):
    _write(tmp_path / "imgs" / "a.png", 0)
    _write(tmp_path / "imgs" / "b.png", 1)
    a, b = project.add_images([tmp_path / "imgs"]).added
    session = AnnotationSession(project)
    session.open_image(b.id)
    _write(tmp_path / "imgs" / "a.png", 2)
    with pytest.raises(ImageReadError, match=REPLACED):
        session.open_image(a.id)
    assert session.document is not None and session.document.image_id == b.id
    session.close()


# --- the command line ----------------------------------------------------------------------


def test_train_with_an_image_replaced_by_one_of_the_same_size_is_one_line(tmp_path, capsys):
    images, masks, proj = tmp_path / "imgs", tmp_path / "masks", tmp_path / "P"
    _write(images / "a.png", 0, mtime_ns=time.time_ns() - HOUR_NS)
    masks.mkdir()
    labels = np.ones((12, 16), np.uint8)
    labels[:, :4] = 0  # (two classes: one alone is refused before any picture is read)
    cv2.imwrite(str(masks / "a.png"), labels)
    assert main(["new", str(proj), "--classes", "bg,cell"]) == 0
    assert main(["add", str(proj), str(images)]) == 0
    assert main(["import", str(proj), str(masks), "--format", "masks"]) == 0
    _write(images / "a.png", 1)
    capsys.readouterr()
    assert main(["train", str(proj), "--steps", "1", "--device", "cpu"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and "internal error" not in err, err
    assert err.startswith("annotator: error: ") and err.count("\n") == 1
    assert f"{images / 'a.png'}: the file {REPLACED}" in err
    assert "its labels were drawn on the file as it was added; put that file back" in err
    with Project.open(proj, lock=False) as project:
        assert project.models() == []


# --- the migration ---------------------------------------------------------------------------


def test_a_database_of_version_1_is_upgraded_and_its_images_checked_once(tmp_path, hashes, later):
    """A project written before the stamp existed: its rows get an unknown stamp."""
    later()
    src = tmp_path / "imgs" / "a.png"
    original = _write(src, 0, mtime_ns=time.time_ns() - HOUR_NS)
    root = tmp_path / "old"
    root.mkdir()
    conn = sqlite3.connect(root / DB_NAME, isolation_level=None)
    conn.executescript(db_module.MIGRATIONS[0])  # the layout of version 1, as released
    conn.execute("PRAGMA user_version = 1")
    conn.execute("INSERT INTO meta VALUES ('created_at', '2024-01-01T00:00:00')")
    conn.execute("INSERT INTO meta VALUES ('label_dtype', 'uint8')")
    conn.execute("INSERT INTO classes VALUES (0, 'bg', '#000000'), (1, 'cell', '#ff0000')")
    conn.execute(
        "INSERT INTO images (name, path, sha1, width, height, channels, bit_depth, "
        "status, added_at, updated_at) VALUES ('a.png', ?, ?, 16, 12, 1, 8, 'done', "
        "'2024-01-01T00:00:00', '2024-01-02T00:00:00')",
        (str(src), file_sha1(src)),
    )
    conn.close()
    for sub in ("masks", "proposals", "models"):
        (root / sub).mkdir()

    with Project.open(root) as project:
        assert db_module.SCHEMA_VERSION == 2
        assert project._db.query("PRAGMA user_version")[0][0] == 2
        columns = {r["name"] for r in project._db.query("PRAGMA table_info(images)")}
        assert {"file_size", "file_mtime_ns"} <= columns
        (rec,) = project.images()
        assert (rec.name, rec.updated_at) == ("a.png", "2024-01-02T00:00:00")
        assert _stamp(project, rec.id) == (None, None)
        hashes.clear()
        assert (project.load_image(rec) == original).all()
        assert (project.load_image(rec) == original).all()
        assert len(hashes) == 1 and _stamp(project, rec.id) == _file_stamp(src)
    _write(src, 1)
    with Project.open(root) as project, pytest.raises(ImageReadError, match=REPLACED):
        project.load_image(project.images()[0])


def test_a_read_only_opening_checks_but_never_records(tmp_path, later):
    later()
    src = tmp_path / "imgs"
    src.mkdir()
    cv2.imwrite(str(src / "a.png"), np.full((8, 8), 7, np.uint8))
    old = 1_000_000_000_000_000_000
    os.utime(src / "a.png", ns=(old, old))
    with Project.create(tmp_path / "p", LabelSchema.from_names(["x", "y"])) as p:
        p.add_images([src])
    added = _file_stamp(src / "a.png")
    time.sleep(0.01)  # (a status change time that differs from the add's)
    os.utime(src / "a.png", ns=(old + 10**9, old + 10**9))  # a touch: same content
    touched = _file_stamp(src / "a.png")
    assert touched != added
    with Project.open(tmp_path / "p", lock=False) as reader:
        rec = reader.images()[0]
        reader.load_image(rec)  # hashed and found the same ...
        assert reader.image(rec.id).file_mtime_ns == added[1]  # ... but nothing written
    with Project.open(tmp_path / "p") as writer:
        writer.load_image(writer.images()[0])
        assert writer.images()[0].file_mtime_ns == touched[1]


def test_two_files_of_one_size_and_time_swapped_are_told_apart(project, tmp_path, later):
    """Unpacked from an archive, two pictures have one size and one modification time;
    swapped with mv, their stamps were the same, nothing was hashed, and each image's
    labels went out with the other picture (an audit's find). A rename moves the file's
    status change time on, so the swap is hashed and refused."""
    old = time.time_ns() - HOUR_NS
    a, b = tmp_path / "imgs" / "a.png", tmp_path / "imgs" / "b.png"
    _write(a, 0, mtime_ns=old)
    _write(b, 1, mtime_ns=old)
    later()
    rec_a, rec_b = project.add_images([tmp_path / "imgs"]).added
    assert _stamp(project, rec_a.id) != (None, None)
    time.sleep(0.01)
    os.rename(a, tmp_path / "swap.png")
    os.rename(b, a)
    os.rename(tmp_path / "swap.png", b)
    assert (a.stat().st_size, a.stat().st_mtime_ns) == (b.stat().st_size, old)
    with pytest.raises(ImageReadError, match="changed since it was added"):
        project.load_image(rec_a)
