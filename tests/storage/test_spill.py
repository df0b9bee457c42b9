"""The scratch file a training round keeps its big arrays in past a memory budget."""

from __future__ import annotations

import errno
import logging
import mmap
import os
import socket

import numpy as np
import pytest

from annotator.core.nodata import NodataPicture, source_dtype, with_nodata
from annotator.storage import spill as spill_module
from annotator.storage.spill import Spill, clear_stale_spills


def _mapped(array: np.ndarray) -> bool:
    base = array
    while base is not None and not isinstance(base, mmap.mmap):
        base = base.base
    return base is not None


def test_arrays_within_the_budget_stay_in_memory_and_past_it_go_to_a_mapped_file(tmp_path):
    rng = np.random.default_rng(0)
    first = rng.integers(0, 60000, (300, 400), dtype=np.uint16)  # 240,000 bytes
    second = rng.integers(0, 255, (300, 400, 3), dtype=np.uint8)  # 360,000 bytes
    tiny = np.arange(10, dtype=np.int16)
    with Spill(tmp_path, budget=300_000, smallest=1000, segment=1 << 20) as spill:
        assert spill.keep(first) is first
        kept = spill.keep(second)
        assert spill.keep(tiny) is tiny  # (under ``smallest``: never worth a mapping)
        assert kept is not second and not np.shares_memory(kept, second)
        assert kept.dtype == second.dtype and np.array_equal(kept, second)
        assert _mapped(kept) and not _mapped(first)
        assert (spill.in_memory, spill.spilled) == (240_000 + 20, 360_000)
        # The file is unlinked as soon as it is mapped: a killed round leaves nothing.
        assert list(tmp_path.iterdir()) == []
    want = second.copy()
    del second
    assert np.array_equal(kept, want)  # (after the spill closed: the mapping holds it)
    kept[0, 0] = 5  # the round's own copy: writable
    assert list(kept[0, 0]) == [5, 5, 5]


def test_segments_fill_up_and_each_array_keeps_its_values_and_alignment(tmp_path):
    rng = np.random.default_rng(1)
    arrays = [rng.random((37 + i, 53)).astype(dtype) for i, dtype in enumerate("fdhbfd" * 4)]
    with Spill(tmp_path, budget=0, smallest=0, segment=20_000) as spill:
        kept = [spill.keep(a) for a in arrays]
        big = rng.random((200, 200))  # 320,000 bytes: a segment of its own size
        kept_big = spill.keep(big)
    assert all(np.array_equal(a, k) and k.dtype == a.dtype for a, k in zip(arrays, kept))
    assert all(k.ctypes.data % 64 == 0 for k in kept)
    assert (
        np.array_equal(kept_big, big)
        and spill.spilled == sum(a.nbytes for a in arrays) + big.nbytes
    )


def test_a_picture_with_nodata_pixels_stays_one(tmp_path):
    stored = np.arange(64 * 64, dtype=np.uint8).reshape(64, 64) % 200
    picture = with_nodata(stored, 0.0)
    assert isinstance(picture, NodataPicture)
    kept = Spill(tmp_path, budget=0, smallest=0).keep(picture)
    assert isinstance(kept, NodataPicture) and _mapped(kept)
    assert source_dtype(kept) == np.uint8
    assert np.array_equal(np.isnan(kept), np.isnan(picture))


def test_a_full_disk_leaves_the_arrays_in_memory_and_says_so_once(tmp_path, monkeypatch, caplog):
    def full(fd, offset, length):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "posix_fallocate", full, raising=False)
    a, b = np.ones((100, 100)), np.zeros((100, 100))
    spill = Spill(tmp_path, budget=0, smallest=0)
    with caplog.at_level(logging.WARNING, logger="annotator.storage.spill"):
        assert spill.keep(a) is a and spill.keep(b) is b
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 1 and "No space left on device" in said[0] and "stay in memory" in said[0]
    assert list(tmp_path.iterdir()) == [] and spill.spilled == 0


def test_a_filesystem_without_fallocate_has_the_space_written(tmp_path, monkeypatch):
    def unsupported(fd, offset, length):
        raise OSError(errno.EOPNOTSUPP, "Operation not supported")

    monkeypatch.setattr(os, "posix_fallocate", unsupported, raising=False)
    a = np.arange(50_000, dtype=np.float64)
    kept = Spill(tmp_path, budget=0, smallest=0, segment=1000).keep(a)
    assert _mapped(kept) and np.array_equal(kept, a)


def test_a_folder_that_cannot_be_made_leaves_the_arrays_in_memory(tmp_path):
    blocker = tmp_path / "models"
    blocker.write_text("a file where the folder would be")
    a = np.ones((64, 64))
    assert Spill(blocker, budget=0, smallest=0).keep(a) is a


def test_the_defaults_are_read_when_the_spill_is_made(tmp_path, monkeypatch):
    monkeypatch.setattr(spill_module, "IN_MEMORY_BYTES", 0)
    monkeypatch.setattr(spill_module, "SMALLEST_SPILLED", 0)
    assert _mapped(Spill(tmp_path).keep(np.ones(10)))


def test_stale_scratch_files_of_dead_processes_of_this_host_are_removed(tmp_path):
    host = spill_module._host()
    dead = tmp_path / f".round-{host}-{2**22 + 12345}-abc.spill"
    alive = tmp_path / f".round-{host}-{os.getpid()}-def.spill"
    elsewhere = tmp_path / f".round-not{host}-{2**22 + 12345}-ghi.spill"
    other = tmp_path / "v0001"
    for p in (dead, alive, elsewhere):
        p.write_bytes(b"x")
    other.mkdir()
    assert clear_stale_spills(tmp_path) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [alive.name, elsewhere.name, other.name]
    )
    assert clear_stale_spills(tmp_path / "missing") == 0
    assert socket.gethostname()  # (the host part is the sanitised host name)


def test_a_writer_opening_the_project_removes_a_killed_rounds_scratch(tmp_path):
    from annotator.core.schema import LabelSchema
    from annotator.storage.project import Project

    Project.create(tmp_path / "p", LabelSchema.from_names(["background", "cell"])).close()
    stale = tmp_path / "p" / "models" / f".round-{spill_module._host()}-{2**22 + 7}-x.spill"
    stale.parent.mkdir(exist_ok=True)
    stale.write_bytes(b"\0" * 100)
    Project.open(tmp_path / "p").close()
    assert not stale.exists()


@pytest.mark.skipif(os.name == "nt", reason="POSIX: a mapped file can be unlinked")
def test_nothing_is_left_on_disk_after_a_spill_closes(tmp_path):
    spill = Spill(tmp_path, budget=0, smallest=0, segment=4096)
    kept = [spill.keep(np.full(1000, i, np.int32)) for i in range(5)]
    spill.close()
    assert list(tmp_path.iterdir()) == []
    assert [int(k[0]) for k in kept] == list(range(5))
