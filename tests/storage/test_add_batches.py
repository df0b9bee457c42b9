"""``Project.add_images`` records images in batches (one transaction per
``ADD_BATCH`` images, not one per image) and keeps its guarantees: duplicates skipped,
unreadable files reported, progress per image, and no record for a file that was not
read and hashed when an add stops half way."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image

from annotator.core.schema import LabelSchema
from annotator.storage import project as project_module
from annotator.storage.db import Database
from annotator.storage.project import Project, file_sha1


def _images(folder, n, start=0):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(start, start + n):
        arr = np.zeros((4, 6), np.uint8)
        arr.flat[:3] = (i % 256, i // 256, 7)  # every file's content distinct
        Image.fromarray(arr).save(folder / f"img{i:04d}.png")
    return folder


@pytest.fixture
def transactions(monkeypatch):
    """Counts the write transactions of every project database."""
    count = [0]
    real = Database.transaction

    def counted(self):
        count[0] += 1
        return real(self)

    monkeypatch.setattr(Database, "transaction", counted)
    return count


def _check_records(project):
    """Every record names a file with the content (sha1) it was recorded with."""
    for rec in project.images():
        assert file_sha1(project.image_path(rec)) == rec.sha1


def test_adding_many_images_takes_one_transaction_per_batch(project, tmp_path, transactions):
    folder = _images(tmp_path / "imgs", 250)
    report = project.add_images([folder])
    assert len(report.added) == 250 and not report.errors
    assert transactions[0] == 3  # 100 + 100 + 50, not 250
    assert [r.name for r in report.added] == [f"img{i:04d}.png" for i in range(250)]
    assert report.added == project.images()  # the records returned are the stored ones
    _check_records(project)


def test_progress_is_still_called_once_per_image_then_at_the_end(project, tmp_path):
    folder = _images(tmp_path / "imgs", 7)
    calls = []
    project.add_images([folder], progress=lambda i, n, msg: calls.append((i, n)))
    assert calls == [(i, 7) for i in range(8)]


def test_duplicates_and_unreadable_files_across_batch_boundaries(
    project, tmp_path, monkeypatch, transactions
):
    monkeypatch.setattr(project_module, "ADD_BATCH", 2)
    folder = _images(tmp_path / "imgs", 5)
    project.add_images([folder / "img0000.png"])
    (folder / "img0002_copy.png").write_bytes((folder / "img0002.png").read_bytes())
    (folder / "img0003_bad.png").write_bytes(b"not a png")
    transactions[0] = 0
    report = project.add_images([folder])
    assert [r.name for r in report.added] == [
        "img0001.png",
        "img0002.png",
        "img0003.png",
        "img0004.png",
    ]
    assert sorted(reason for _, reason in report.skipped) == [
        "already in the project",
        "same content as an image already added",
    ]
    assert [os.path.basename(e.path) for e in report.errors] == ["img0003_bad.png"]
    assert transactions[0] == 2
    assert len(project.images()) == 5
    _check_records(project)


def test_an_add_stopped_half_way_keeps_what_was_done_and_nothing_else(
    project, tmp_path, monkeypatch
):
    """A cancel (the progress callback raises) or an error reading a file keeps the
    images before it, as one transaction per image did, and records none after it."""
    monkeypatch.setattr(project_module, "ADD_BATCH", 4)
    folder = _images(tmp_path / "imgs", 10)

    class Cancelled(Exception):
        pass

    def cancel_at_7(i, n, msg):
        if i == 7:
            raise Cancelled

    with pytest.raises(Cancelled):
        project.add_images([folder], progress=cancel_at_7)
    assert [r.name for r in project.images()] == [f"img{i:04d}.png" for i in range(7)]

    real = project_module.read_image

    def fails_on_8(path):
        if path.name == "img0008.png":
            raise MemoryError
        return real(path)

    monkeypatch.setattr(project_module, "read_image", fails_on_8)
    with pytest.raises(MemoryError):
        project.add_images([folder])
    assert [r.name for r in project.images()] == [f"img{i:04d}.png" for i in range(8)]
    _check_records(project)


def test_a_batch_the_database_refuses_records_none_of_its_images(project, tmp_path, monkeypatch):
    monkeypatch.setattr(project_module, "ADD_BATCH", 3)
    folder = _images(tmp_path / "imgs", 7)
    real = Project._insert_images
    batches = []

    def second_fails(self, batch):
        batches.append(len(batch))
        if len(batches) == 2:
            # the first row went in, then the database fails: the batch rolls back
            with self._db.transaction() as conn:
                conn.execute(
                    "INSERT INTO images (name, path, sha1, width, height, channels, bit_depth, "
                    "added_at, updated_at) VALUES ('x', 'x', 'x', 1, 1, 1, 8, '', '')"
                )
                raise OSError(5, "simulated I/O error")
        return real(self, batch)

    monkeypatch.setattr(Project, "_insert_images", second_fails)
    with pytest.raises(OSError, match="simulated"):
        project.add_images([folder])
    assert batches == [3, 3]  # nothing tried again after the failure
    assert [r.name for r in project.images()] == ["img0000.png", "img0001.png", "img0002.png"]


@pytest.mark.skipif(sys.platform == "win32", reason="kills itself with os._exit")
def test_a_process_killed_mid_add_leaves_only_complete_records(tmp_path):
    folder = _images(tmp_path / "imgs", 150)
    with Project.create(tmp_path / "proj", LabelSchema.from_names(["a", "b"])):
        pass
    code = textwrap.dedent(
        f"""
        import os
        from annotator.storage.project import Project
        project = Project.open({str(tmp_path / "proj")!r})
        def progress(i, n, msg):
            if i == 130:
                os._exit(9)  # no cleanup, no finally: as a kill
        project.add_images([{str(folder)!r}], progress=progress)
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 9, result.stderr
    with Project.open(tmp_path / "proj") as project:
        names = [r.name for r in project.images()]
        assert names == [f"img{i:04d}.png" for i in range(100)]  # the first batch only
        _check_records(project)
        report = project.add_images([folder])  # adding again picks up the rest
        assert len(report.added) == 50 and len(report.skipped) == 100


def test_a_folder_is_added_in_the_order_of_its_numbers(tmp_path):
    """A series named without leading zeros (ISBI's 0.png .. 29.png, slices, time
    points) is added as it is meant to be read: 2 before 10, in folders too."""
    src = tmp_path / "src"
    for i, name in enumerate(["10.png", "2.png", "1.png", "0.png", "z9/3.png", "z10/1.png"]):
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        arr = np.zeros((4, 6), np.uint8)
        arr.flat[0] = i  # distinct content
        Image.fromarray(arr).save(src / name)
    with Project.create(tmp_path / "p", LabelSchema.from_names(["a", "b"])) as project:
        project.add_images([src])
        names = [r.name for r in project.images()]
    assert names == ["0.png", "1.png", "2.png", "10.png", "z9/3.png", "z10/1.png"]
