"""Shared tools of the reliability tests: tiny projects, folder hashes, CLI runs.

The attacks drive the app through its most stable surfaces: ``annotator.cli.main`` (in
process, output captured) and ``Project``. A folder hash before and after each attack
proves "the project is unchanged" byte for byte.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from annotator.core.synthetic import synthetic_cells


@dataclass(frozen=True)
class CliResult:
    """What one in-process CLI call did."""

    code: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]


def cli(*argv: object) -> CliResult:
    """Run ``annotator ARGV`` in this process; capture its exit code and output."""
    from annotator.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(a) for a in argv])
        except SystemExit as exc:  # argparse errors
            code = int(exc.code or 0) if not isinstance(exc.code, str) else 2
    return CliResult(code, out.getvalue(), err.getvalue())


def write_cells(folder: Path, n: int, size: int = 64, seed: int = 0) -> list[Path]:
    """``n`` small synthetic grey cell images as PNG files; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        image, _ = synthetic_cells(seed + i, size=size, n_cells=3)
        p = folder / f"cell{i:03d}.png"
        cv2.imwrite(str(p), image)
        paths.append(p)
    return paths


def make_project(root: Path, n_images: int = 3, size: int = 64, labelled: int = 0) -> Path:
    """A project ``root/proj`` with ``n_images`` images, the first ``labelled`` of them
    labelled from their ground truth and marked done."""
    from annotator.core.schema import LabelSchema
    from annotator.core.status import ImageStatus
    from annotator.storage.project import Project

    proj = root / "proj"
    imgs = write_cells(root / "imgs", n_images, size)
    with Project.create(proj, LabelSchema.from_names(["background", "cell", "nucleus"])) as p:
        p.add_images(imgs)
        for rec in p.images()[:labelled]:
            _, mask = synthetic_cells(int(rec.name[4:7]), size=size, n_cells=3)
            p.save_mask(rec.id, mask.astype(np.uint8), status=ImageStatus.DONE)
    return proj


def tree_hash(folder: Path, skip: tuple[str, ...] = ("-wal", "-shm", ".annotator.lock")) -> str:
    """A SHA-1 over every file's relative path and bytes under ``folder``.

    SQLite's ``-wal``/``-shm`` side files and the write lock are skipped (an open may create or
    checkpoint them); the database content itself is compared through ``db_dump``.
    """
    h = hashlib.sha1()
    for p in sorted(folder.rglob("*")):
        if p.is_file() and not p.name.endswith(skip):
            h.update(p.relative_to(folder).as_posix().encode())
            h.update(b"\0")
            if p.name.endswith(".sqlite"):
                h.update(db_dump(p).encode())
            else:
                h.update(p.read_bytes())
    return h.hexdigest()


def db_dump(path: Path) -> str:
    """The logical content of an SQLite file (schema and rows), independent of pages."""
    import sqlite3

    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return "\n".join(conn.iterdump())
    finally:
        conn.close()


def snapshot_outside(root: Path) -> dict[str, tuple[int, int]]:
    """``path -> (size, mtime_ns)`` of every file under ``root`` (to prove nothing new
    appeared and nothing changed outside the allowed folders)."""
    out = {}
    for dirpath, _dirs, files in os.walk(root):
        for f in files:
            p = os.path.join(dirpath, f)
            with contextlib.suppress(OSError):
                st = os.lstat(p)
                out[p] = (st.st_size, st.st_mtime_ns)
    return out


_WATCH: list[list[str]] = []


def _audit(event: str, args: tuple) -> None:
    if not _WATCH or event not in ("open", "os.listdir", "os.scandir", "sqlite3.connect"):
        return
    target = args[0] if args else None
    if isinstance(target, (str, bytes, os.PathLike)):
        _WATCH[-1].append(os.fsdecode(target))


_HOOKED = False


@contextlib.contextmanager
def watch_opens():
    """Collect every path Python opens or lists while the body runs (``sys`` audit hooks
    see ``open``, ``os.scandir`` and friends; C libraries opening files on their own are
    not seen, which is why the tests also check effects)."""
    import sys

    global _HOOKED
    if not _HOOKED:
        sys.addaudithook(_audit)
        _HOOKED = True
    seen: list[str] = []
    _WATCH.append(seen)
    try:
        yield seen
    finally:
        _WATCH.pop()


def touched_under(paths: list[str], folder: Path) -> list[str]:
    """The paths (resolved through symbolic links) that lie in ``folder``."""
    real = folder.resolve()
    hits = []
    for p in paths:
        try:
            r = Path(p).resolve()
        except (OSError, RuntimeError):
            continue
        if r == real or real in r.parents:
            hits.append(p)
    return hits
