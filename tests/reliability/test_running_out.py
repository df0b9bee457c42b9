"""Running out: memory during a training round or proposals, disk space during a save.

Out of memory is simulated by a patched network forward (or predictor) raising what
torch raises (``RuntimeError("CUDA out of memory ...")``) or a ``MemoryError``; a full
disk by a failing ``fsync`` (ENOSPC), and, where this process may mount one, a real
tiny tmpfs. Each must say so in one line, publish or lose nothing, and leave the app
usable: the next round, proposal or save works.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import subprocess

import numpy as np
import pytest

from annotator.core.errors import ProjectError
from annotator.ml.archs.common import SegmentationNetwork

from .helpers import cli, make_project, tree_hash

TRAIN = ["--steps", "2", "--depth", "2", "--width", "4", "--device", "cpu"]


def _oom_above(batch: int, kind: str = "cuda"):
    real = SegmentationNetwork.forward

    def forward(self, x):  # type: ignore[no-untyped-def]
        if x.shape[0] > batch:
            if kind == "cpu":
                raise MemoryError()
            raise RuntimeError(
                "CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 8 GiB total capacity)"
            )
        return real(self, x)

    return forward


def test_training_retries_with_a_smaller_batch(tmp_path, monkeypatch):
    from annotator.ml.networks import NetworkConfig
    from annotator.services import training
    from annotator.storage.project import Project

    proj = make_project(tmp_path, n_images=3, size=32, labelled=3)
    monkeypatch.setattr(SegmentationNetwork, "forward", _oom_above(2))
    with Project.open(proj) as project:
        outcome = training.train_project(
            project, steps=2, device="cpu", network=NetworkConfig(1, 3, 2, 4)
        )
        assert outcome.model is not None
        assert outcome.model.card.training.config["batch_size"] == 2


def test_one_process_of_torchrun_out_of_memory_does_not_retry_alone(tmp_path, monkeypatch):
    """Under DDP the other processes wait in the gradient all-reduce for this one: a
    retry with a smaller batch on one process alone hung the whole run."""
    from annotator.core.errors import ModelError
    from annotator.ml import distributed
    from annotator.ml.networks import NetworkConfig
    from annotator.services import training
    from annotator.storage.project import Project

    proj = make_project(tmp_path, n_images=3, size=32, labelled=3)
    monkeypatch.setattr(SegmentationNetwork, "forward", _oom_above(2))
    monkeypatch.setattr(distributed, "current", lambda: distributed.DistInfo(1, 2, 1))
    with Project.open(proj) as project:
        request = training.build_request(project, steps=2, network=NetworkConfig(1, 3, 2, 4))
    # (a CPU run said "on auto ... run fewer processes per GPU")
    said = "out of memory on the CPU in process 1 of 2 with batch size 8 .*run fewer processes,"
    with pytest.raises(ModelError, match=said):
        training._train_within_memory(
            lambda request, progress, cancel: SegmentationNetwork.forward(
                None, np.zeros((8, 1, 4, 4))
            ),
            request,
            None,
            None,
        )


@pytest.mark.parametrize("kind", ["cuda", "cpu"])
def test_training_out_of_memory_even_at_batch_one_says_so_and_app_stays_usable(
    tmp_path, monkeypatch, kind
):
    proj = make_project(tmp_path, n_images=3, size=32, labelled=3)
    before = tree_hash(proj)
    monkeypatch.setattr(SegmentationNetwork, "forward", _oom_above(0, kind))
    result = cli("train", proj, *TRAIN)
    assert result.code == 1, result.err
    lines = [x for x in result.err_lines if x.startswith("annotator: error:")]
    assert len(lines) == 1 and "out of memory" in lines[0] and "Traceback" not in result.err
    assert "use the CPU" not in lines[0]  # it ran on the CPU
    assert tree_hash(proj) == before, "a failed round published something"
    monkeypatch.undo()
    again = cli("train", proj, *TRAIN)
    assert again.code == 0, again.err


def test_proposals_out_of_memory_say_so_and_keep_what_was_done(tmp_path, monkeypatch):
    from annotator.ml.predict import Predictor

    proj = make_project(tmp_path, n_images=3, size=32, labelled=3)
    assert cli("train", proj, *TRAIN).code == 0
    real = Predictor.predict
    calls = {"n": 0}

    def predict(self, *a, **k):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] >= 2:
            raise RuntimeError("CUDA out of memory. Tried to allocate 1 GiB")
        return real(self, *a, **k)

    monkeypatch.setattr(Predictor, "predict", predict)
    result = cli("predict", proj, "--device", "cpu")
    assert result.code == 1
    assert len(result.err_lines) == 1 and "out of memory after 1 image" in result.err
    assert len(list((proj / "proposals").glob("*"))) > 0  # the first one is kept
    monkeypatch.undo()
    assert cli("predict", proj, "--device", "cpu").code == 0


def test_out_of_memory_anywhere_in_the_cli_is_one_line(tmp_path, monkeypatch):
    from annotator.storage import project as project_mod

    proj = make_project(tmp_path, n_images=1)

    def boom(*a, **k):  # type: ignore[no-untyped-def]
        raise MemoryError()

    monkeypatch.setattr(project_mod.Project, "summary", boom)
    result = cli("status", proj)
    assert result.code == 1 and result.err_lines == [
        "annotator: error: out of memory; close other programs or work on fewer or smaller images"
    ]


def _fail_fsync(monkeypatch, when=lambda fd: True):
    real = os.fsync

    def fsync(fd):  # type: ignore[no-untyped-def]
        if when(fd):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(fd)

    monkeypatch.setattr(os, "fsync", fsync)


def test_full_disk_during_autosave_keeps_the_saved_mask_and_tells_the_user(tmp_path, monkeypatch):
    from annotator.services.session import AnnotationSession
    from annotator.storage.project import Project

    proj = make_project(tmp_path, n_images=1, size=32)
    errors: list[tuple[int, Exception]] = []
    with Project.open(proj) as project:
        session = AnnotationSession(project, on_save_error=lambda i, e: errors.append((i, e)))
        rec = project.images()[0]
        doc = session.open_image(rec.id)
        _edit(doc, 1)
        session.save(wait=True)
        saved = project.load_mask(rec).copy()
        _fail_fsync(monkeypatch)
        _edit(doc, 2)
        session.save(wait=True)
        assert errors and "No space left on device" in str(errors[0][1])
        assert str(project.mask_path(rec.id)) in str(errors[0][1])  # names the file
        monkeypatch.undo()
        assert np.array_equal(project.load_mask(rec), saved)  # the last good state is whole
        assert not list((proj / "masks").glob(".*.tmp"))  # no temporary file left behind
        session.save(wait=True)  # space again: the pending edit is written
        assert project.load_mask(rec)[4, 4] == 2
        session.close()


def _edit(doc, value: int) -> None:
    doc.paint_stroke([(4, 4)], 2, value)


def _fail_writes_after(monkeypatch, n: int) -> None:
    """The export writer's file writes fail with ENOSPC after ``n`` files."""
    from annotator.formats.base import OutputFolder

    real = OutputFolder.write_bytes
    count = {"n": 0}

    def write_bytes(self, rel, data):  # type: ignore[no-untyped-def]
        count["n"] += 1
        if count["n"] > n:
            raise OSError(errno.ENOSPC, "No space left on device", str(self.root / rel))
        return real(self, rel, data)

    monkeypatch.setattr(OutputFolder, "write_bytes", write_bytes)


@pytest.mark.parametrize("command", ["import", "export"])
def test_full_disk_in_cli_commands_is_one_line_and_loses_nothing(tmp_path, monkeypatch, command):
    proj = make_project(tmp_path, n_images=3, size=32, labelled=2)
    masks = tmp_path / "m"
    assert cli("export", proj, masks, "--format", "masks", "--split", "1").code == 0
    before = tree_hash(proj)
    if command == "export":
        _fail_writes_after(monkeypatch, 2)
    else:
        _fail_fsync(monkeypatch)
    argv = {
        "import": ("import", proj, masks, "--format", "masks"),
        "export": ("export", proj, tmp_path / "out", "--format", "voc"),
    }[command]
    result = cli(*argv)
    monkeypatch.undo()
    assert result.code in (1, 2), result.err
    assert "Traceback" not in result.err and "internal error" not in result.err, result.err
    assert any("No space left on device" in x or "disk is full" in x for x in result.err_lines)
    if command == "export":
        # said of the export's folder, not of a project image being copied there
        assert f"{tmp_path / 'out'}: the disk is full" in result.err, result.err
        assert tree_hash(proj) == before
        assert not (tmp_path / "out").exists()
        assert not list(tmp_path.glob(".out.partial-*"))  # the staging folder is removed
    assert cli("status", proj).code == 0


@pytest.fixture
def tiny_tmpfs(tmp_path):
    """A real 2 MiB file system, where this process may mount one (root on Linux)."""
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    if shutil.which("mount") is None or os.geteuid() != 0:
        pytest.skip("needs root to mount a tmpfs")
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)], capture_output=True
    )
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.decode().strip()}")
    yield mnt
    subprocess.run(["umount", str(mnt)], check=False)


def test_a_real_full_disk_loses_nothing_saved(tiny_tmpfs, tmp_path):
    """Fill a real 2 MiB disk with a project's masks until a save fails."""
    import cv2

    from annotator.core.schema import LabelSchema
    from annotator.storage.project import Project

    imgs = tmp_path / "imgs"
    imgs.mkdir()
    rng = np.random.default_rng(0)
    for i in range(20):
        cv2.imwrite(str(imgs / f"i{i:02d}.png"), np.zeros((512, 512), np.uint8) + i)
    proj = tiny_tmpfs / "proj"
    saved: dict[int, np.ndarray] = {}
    failure = None
    with Project.create(proj, LabelSchema.from_names(["a", "b", "c"])) as project:
        project.add_images([imgs])
        for rec in project.images():
            mask = rng.integers(0, 3, (512, 512), dtype=np.uint8)  # noise: compresses badly
            try:
                project.save_mask(rec.id, mask)
            except (OSError, ProjectError) as exc:  # the mask file, or the database
                failure = exc
                break
            saved[rec.id] = mask
    assert failure is not None, "the disk never filled"
    assert "No space left" in str(failure) or "disk is full" in str(failure), failure
    with Project.open(proj) as project:
        for image_id, mask in saved.items():
            assert np.array_equal(project.load_mask(project.image(image_id)), mask)
    result = cli("status", proj)
    assert result.code == 0, result.err


def test_labels_saved_but_not_recorded_before_a_kill_count_again_on_the_next_open(
    tmp_path, monkeypatch
):
    """A kill between the mask file's write and its record's commit left the record at
    no labelled pixel: training never saw those labels, even once the image was done."""
    from annotator.core.status import ImageStatus
    from annotator.services.training import labelled_records
    from annotator.storage.project import Project

    proj = make_project(tmp_path, n_images=2, size=32, labelled=0)
    with Project.open(proj) as project:
        record = project.images()[0]
        mask = project.new_mask(record)
        mask[4:20, 4:20] = 1
        real = project._db.transaction

        def killed(**_wait):
            raise KeyboardInterrupt  # the file is on disk, the record never commits

        monkeypatch.setattr(project._db, "transaction", killed)
        with pytest.raises(KeyboardInterrupt):
            project.save_mask(record.id, mask)
        monkeypatch.setattr(project._db, "transaction", real)
        assert project.image(record.id).labelled_pixels == 0
    with Project.open(proj) as project:
        again = project.image(record.id)
        assert again.labelled_pixels == 256 and again.status is ImageStatus.IN_PROGRESS
        assert [r.id for r in labelled_records(project)] == [record.id]
    with Project.open(proj, lock=False) as reader:  # a reader changes nothing
        assert reader.image(record.id).labelled_pixels == 256


def test_temporary_files_of_writes_cut_short_are_cleared_by_the_next_writer(tmp_path):
    from annotator.storage.project import Project

    proj = make_project(tmp_path, n_images=1, size=32, labelled=1)
    left = [proj / "masks" / ".1.png.k3j2.tmp", proj / "proposals" / ".1_v1.png.x9.tmp"]
    for path in left:
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(b"half a png")
    keep = proj / "masks" / "notes.tmp"  # not ours: no leading dot
    keep.write_text("mine")
    with Project.open(proj, lock=False):
        assert all(p.exists() for p in left)  # a reader leaves them (a writer may be busy)
    with Project.open(proj):
        pass
    assert not any(p.exists() for p in left) and keep.exists()


def test_opening_a_project_this_process_has_open_leaves_its_writes_alone(tmp_path):
    """The lock is re-entrant: a second open in the same process (Open recent on the
    project shown) must not clear the temporary files of its own busy writers."""
    from annotator.storage.project import Project

    proj = make_project(tmp_path, n_images=1, size=32, labelled=1)
    busy = proj / "masks" / ".1.png.busy.tmp"
    with Project.open(proj):
        busy.write_bytes(b"being written")
        with Project.open(proj):
            assert busy.exists()
    with Project.open(proj):
        assert not busy.exists()  # a fresh writer: nobody else was writing


def test_a_file_system_without_flock_still_locks_by_the_holder_s_pid(tmp_path, monkeypatch):
    import errno

    from annotator.storage import lock as lock_module
    from annotator.storage.project import Project

    def unsupported(*_args):
        raise OSError(errno.EOPNOTSUPP, "Operation not supported")

    monkeypatch.setattr(lock_module.fcntl, "flock", unsupported)
    proj = make_project(tmp_path, n_images=1, size=32, labelled=0)
    with Project.open(proj) as project:
        assert len(project.images()) == 1


def _fill(disk) -> None:
    """Leave not one byte free on ``disk``."""
    with open(disk / "filler", "wb") as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
        except OSError:
            pass
    for n in (4096, 512, 1):  # what a last whole chunk did not fill
        with open(disk / f"filler{n}", "wb", buffering=0) as fh, contextlib.suppress(OSError):
            while fh.write(b"\0" * n):
                pass
    assert shutil.disk_usage(disk).free == 0


def test_a_full_disk_still_reads_the_project_and_says_what_is_full(tiny_tmpfs, tmp_path):
    """At 0 bytes free, status, models and export said only "cannot open the project
    database (disk I/O error)" (SQLite could not make its -shm file), and a write on a
    full disk said "No space left on device" naming no file."""
    import cv2

    from annotator.storage.atomic import write_synced

    proj = make_project(tiny_tmpfs, n_images=3, size=32, labelled=2)
    _fill(tiny_tmpfs)
    status = cli("status", proj)
    assert status.code == 0 and "done: 2" in status.out, status.err
    assert cli("models", proj).code == 0
    out = tmp_path / "out"  # another disk
    exported = cli("export", proj, out, "--format", "masks", "--split", "1")
    assert exported.code == 0, exported.err
    assert len(list(out.rglob("masks/*.png"))) == 2
    pics = tmp_path / "pics"
    pics.mkdir()
    cv2.imwrite(str(pics / "new.png"), np.full((32, 32), 7, np.uint8))
    for command in (("add", proj, pics), ("train", proj, *TRAIN)):
        refused = cli(*command)
        assert refused.code == 1 and "internal error" not in refused.err, refused.err
        assert (
            f"{proj / 'annotator.sqlite'}: cannot open the project database (the disk it is on is full)"
            in refused.err
        )
    with pytest.raises(OSError) as err:  # a file the disk has no room for is named
        write_synced(tiny_tmpfs / "weights.pt", b"w" * 65536)
    assert err.value.filename == str(tiny_tmpfs / "weights.pt")


def test_onednn_out_of_memory_retries_with_a_smaller_batch_as_others_do(tmp_path, monkeypatch):
    """oneDNN's words for it ("could not create a primitive") were an internal error."""
    from annotator.ml.device import is_out_of_memory
    from annotator.ml.networks import NetworkConfig
    from annotator.services import training
    from annotator.storage.project import Project

    assert is_out_of_memory(RuntimeError("could not create a primitive"))
    assert not is_out_of_memory(RuntimeError("shapes cannot be multiplied"))
    real = SegmentationNetwork.forward

    def forward(self, x):  # type: ignore[no-untyped-def]
        if x.shape[0] > 2:
            raise RuntimeError("could not create a primitive")
        return real(self, x)

    proj = make_project(tmp_path, n_images=3, size=32, labelled=3)
    monkeypatch.setattr(SegmentationNetwork, "forward", forward)
    with Project.open(proj) as project:
        outcome = training.train_project(
            project, steps=2, device="cpu", network=NetworkConfig(1, 3, 2, 4)
        )
        assert outcome.model is not None
