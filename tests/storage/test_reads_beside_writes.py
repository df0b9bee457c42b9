"""Reads go through connections of their own (ADR 0031): a read of one thread (the GUI's
N) never waits for another thread's write transaction, its commit included (a synced
write, 0.3-0.6 s under load), and sees the state of the last commit, never a
transaction half done; a thread inside its own transaction reads its changes."""

from __future__ import annotations

import threading

import pytest

from annotator.core.errors import ProjectError
from annotator.storage.db import Database
from annotator.storage.project import DB_NAME

WAIT_S = 10.0


def _scores_of(project) -> set:
    return {s.score for s in project.image_scores()}


class HeldWrite:
    """A write transaction on its own thread that has set every image's score to
    ``score`` and waits, uncommitted, until :meth:`finish` (a proposal worker whose
    commit is slow); :attr:`began` is set once it holds the transaction."""

    def __init__(self, project, score: float) -> None:
        self.began, self._go_on = threading.Event(), threading.Event()
        self.errors: list[BaseException] = []

        def write() -> None:
            try:
                with project._db.transaction() as conn:
                    conn.execute("UPDATE images SET score = ?", (score,))
                    self.began.set()
                    self._go_on.wait(WAIT_S)
            except BaseException as exc:  # (said by the test's thread)
                self.errors.append(exc)
                self.began.set()

        self._thread = threading.Thread(target=write, daemon=True)
        self._thread.start()
        assert self.began.wait(WAIT_S)

    def finish(self) -> None:
        self._go_on.set()
        self._thread.join(WAIT_S)
        assert not self._thread.is_alive() and not self.errors, self.errors


def _read_on_a_thread(read):
    """Run ``read`` on a thread; ``(ended, result)`` once it ended or WAIT_S passed."""
    ended, out = threading.Event(), []

    def run() -> None:
        try:
            out.append(read())
        finally:
            ended.set()

    threading.Thread(target=run, daemon=True).start()
    return ended, out


def test_a_read_does_not_wait_for_another_threads_transaction(project, tmp_path):
    from storehelpers import image_folder

    project.add_images([image_folder(tmp_path / "imgs", n=4)])
    project.set_scores({r.id: 0.25 for r in project.images()})
    held = HeldWrite(project, 0.75)
    try:
        ended, out = _read_on_a_thread(lambda: (_scores_of(project), project.image(1).score))
        # Before, the read waited for the writer's lock until the commit: never here.
        assert ended.wait(WAIT_S), "the read waited for another thread's transaction"
        assert out == [({0.25}, 0.25)]  # the last commit's state: nothing of the write
    finally:
        held.finish()
    assert _scores_of(project) == {0.75}  # committed: every read after it sees it


def test_a_thread_reads_its_own_transactions_changes_and_no_other_does(tmp_path):
    db = Database(tmp_path / "x.sqlite", create=True)
    try:
        with db.transaction() as conn:
            conn.execute("INSERT INTO meta (key, value) VALUES ('k', 'mine')")
            assert [r[0] for r in db.query("SELECT value FROM meta WHERE key = 'k'")] == ["mine"]
            ended, out = _read_on_a_thread(
                lambda: db.query("SELECT value FROM meta WHERE key = 'k'")
            )
            assert ended.wait(WAIT_S)
            assert out == [[]]
        assert [r[0] for r in db.query("SELECT value FROM meta WHERE key = 'k'")] == ["mine"]
    finally:
        db.close()


def test_reads_never_see_a_transaction_half_done(project, tmp_path):
    """Every commit sets every image's score to one value: a read sees one value."""
    from storehelpers import image_folder

    project.add_images([image_folder(tmp_path / "imgs", n=6)])
    project.set_scores({r.id: 0.0 for r in project.images()})
    stop, seen, errors = threading.Event(), [], []

    def write() -> None:
        try:
            for k in range(1, 60):
                with project._db.transaction() as conn:
                    for r in project._db.query("SELECT id FROM images"):
                        conn.execute("UPDATE images SET score = ? WHERE id = ?", (k, r[0]))
        except BaseException as exc:
            errors.append(exc)
        finally:
            stop.set()

    writer = threading.Thread(target=write)
    writer.start()
    while not stop.is_set():
        seen.append(_scores_of(project))
    writer.join()
    assert not errors, errors
    assert all(len(scores) == 1 for scores in seen), [s for s in seen if len(s) != 1][:3]
    assert _scores_of(project) == {59}


def test_a_read_cannot_write(tmp_path):
    db = Database(tmp_path / "x.sqlite", create=True)
    try:
        with pytest.raises(ProjectError):
            db.query("INSERT INTO meta (key, value) VALUES ('k', 'v')")
        assert db.query("SELECT value FROM meta WHERE key = 'k'") == []
    finally:
        db.close()


def test_closing_after_reads_of_several_threads_folds_the_log(project, tmp_path):
    """The reading connections close first: the writing one, closed last, folds SQLite's
    log into the database (no -wal file left) and every connection is closed."""
    readers = [_read_on_a_thread(project.status_counts) for _ in range(4)]
    assert all(ended.wait(WAIT_S) for ended, _ in readers)
    made = list(project._db._made)
    assert made, "the reads made no connection of their own"
    project.close()
    assert not (tmp_path / "proj" / (DB_NAME + "-wal")).exists()
    for conn in made:
        with pytest.raises(Exception, match="closed"):
            conn.execute("SELECT 1")


def test_a_ctrl_c_while_a_reading_connection_opens_does_not_hang_closing(project, monkeypatch):
    """Found by an audit: a Ctrl+C (or SIGTERM) that arrived while a read opened its
    connection left the count of reads running up, and closing the project (as every
    command does when it ends) waited for it for ever."""
    import annotator.storage.db as db

    def interrupted(path):
        raise KeyboardInterrupt

    monkeypatch.setattr(db, "_reading_connection", interrupted)
    with pytest.raises(KeyboardInterrupt):
        project.status_counts()
    monkeypatch.setattr(db, "CLOSE_WAIT_S", 0.5)  # (the new code needs none of it)
    closed = threading.Event()

    def close() -> None:
        project.close()
        closed.set()

    threading.Thread(target=close, daemon=True).start()
    assert closed.wait(WAIT_S)
    assert project._db._in_use == 0
