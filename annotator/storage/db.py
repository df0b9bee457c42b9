"""The SQLite database of a project: connection, transactions, schema migrations.

WAL mode lets a CLI process read while the GUI writes. Every change runs inside one
transaction (``BEGIN IMMEDIATE`` ... ``COMMIT``), so a crash leaves the last committed
state. The writing connection is shared by the GUI thread and the I/O workers, guarded by
a lock held for a whole transaction, its commit (a synced write) included. Reads go
through read-only connections of their own (ADR 0031), so that a read (the GUI's N) never
waits for another thread's transaction: each query sees the state of the last commit, as
it did when it waited for the lock, never a transaction half done; a thread reads its own
transaction's changes through the writing connection.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from annotator.core.errors import ProjectError, WriteRefused

log = logging.getLogger(__name__)

# Each entry upgrades the database from version i to i+1. Append; never edit a released one.
MIGRATIONS: tuple[str, ...] = (
    # 0 -> 1: the first layout.
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE classes (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE COLLATE NOCASE,
        color TEXT NOT NULL
    );
    CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE images (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL UNIQUE,
        path TEXT NOT NULL UNIQUE,
        sha1 TEXT NOT NULL,
        width INTEGER NOT NULL,
        height INTEGER NOT NULL,
        channels INTEGER NOT NULL,
        bit_depth INTEGER NOT NULL,
        status TEXT NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'in_progress', 'done')),
        label_source TEXT NOT NULL DEFAULT '',
        labelled_pixels INTEGER NOT NULL DEFAULT 0,
        score REAL,
        added_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX images_sha1 ON images (sha1);
    CREATE INDEX images_status ON images (status);
    CREATE TABLE models (
        version INTEGER PRIMARY KEY,
        parent INTEGER,
        created_at TEXT NOT NULL,
        checkpoint TEXT NOT NULL,
        card TEXT NOT NULL
    );
    """,
    # 1 -> 2: each image file's size in bytes and modification time (st_mtime_ns) when its
    # content was last found to have the recorded SHA-1; while both are unchanged, loading
    # the image needs no hashing (``Project.load_image``). NULL: unknown, hash once.
    """
    ALTER TABLE images ADD COLUMN file_size INTEGER;
    ALTER TABLE images ADD COLUMN file_mtime_ns INTEGER;
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)
REQUIRED_TABLES = frozenset({"meta", "classes", "settings", "images", "models"})
#: How long a write waits, by default, for another connection's write transaction
#: (another program holding the database, such as a database browser), and a read for
#: one of SQLite's rare exclusive moments.
BUSY_TIMEOUT_S = 30.0
#: A write waits in steps of this many ms, the connection's lock released between them,
#: so the other threads of this process can write meanwhile (reads never wait for that
#: lock: they have connections of their own).
_BUSY_STEP_MS = 50


def _busy(exc: sqlite3.Error) -> bool:
    """Whether SQLite gave up waiting for another connection's lock."""
    text = str(exc)
    return "database is locked" in text or "database is busy" in text


def _one_line(exc: BaseException) -> str:
    """SQLite quotes damaged schema text, newlines included; the user gets one line."""
    return " ".join(str(exc).split())[:300]


#: Below this many bytes free, SQLite's "disk I/O error" is a full disk (it says so only
#: when a write of the database itself fails, not one of its -wal and -shm files).
_FULL_BELOW = 1 << 20


def _trouble(exc: sqlite3.Error, path: Path) -> str | None:
    """What stops SQLite writing (or reading) the database ``path``, in plain words, when
    it is the user's situation rather than a damaged file or a bug: a read-only, locked
    or full database. None otherwise."""
    code = getattr(exc, "sqlite_errorcode", None)
    primary = None if code is None else code & 0xFF
    if primary in (sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN):
        with contextlib.suppress(OSError):
            if shutil.disk_usage(path.parent).free < _FULL_BELOW:
                primary = sqlite3.SQLITE_FULL
    if primary == sqlite3.SQLITE_FULL:
        return "the disk it is on is full"
    if primary == sqlite3.SQLITE_READONLY:
        return (
            "the database file or its folder is read-only (file permissions, a file made "
            "immutable, or a read-only disk)"
        )
    if primary in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) or _busy(exc):
        return (
            "the project database is locked by another program (a database browser, a "
            "sync tool?); close that program and try again"
        )
    return None


def _connect(path: Path) -> sqlite3.Connection:
    """The usual connection: read and write, WAL, every commit synced."""
    conn = sqlite3.connect(
        path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_S
    )
    try:
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
    except BaseException:
        conn.close()
        raise
    return conn


#: How long closing the database waits for the reads running on other threads to end.
CLOSE_WAIT_S = 30.0


def _reading_connection(path: Path) -> sqlite3.Connection:
    """A connection beside the writing one that only reads (SQLite refuses it any write:
    ``query_only``); in WAL mode its reads never wait for the other's transactions."""
    conn = _connect(path)
    try:
        conn.execute("PRAGMA query_only = ON")
    except BaseException:
        conn.close()
        raise
    return conn


def _open_reading(path: Path) -> sqlite3.Connection | None:
    """A connection that only reads, for a reader where :func:`_connect` failed; None if
    SQLite cannot make one either.

    With no ``-wal`` file beside the database, or an empty one (no connection has it
    open, or every commit was copied into the database: a failed open leaves an empty
    one), the database file holds every commit and is opened immutable: SQLite then
    writes nothing, not even its ``-shm`` file or a lock. Otherwise it is opened
    read-only, through the ``-wal`` and ``-shm`` files that are there."""
    try:
        pending = path.with_name(path.name + "-wal").stat().st_size > 0
    except OSError:
        pending = False
    uri = f"{path.absolute().as_uri()}?{'mode=ro' if pending else 'immutable=1'}"
    try:
        conn = sqlite3.connect(
            uri, uri=True, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_S
        )
    except sqlite3.DatabaseError:
        return None
    try:
        conn.row_factory = sqlite3.Row
        conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError:
        conn.close()
        return None
    return conn


class Database:
    """A locked, transactional SQLite connection with migrations applied on open."""

    def __init__(self, path: Path, *, create: bool, reader: bool = False) -> None:
        """``reader``: only read (a command that takes no lock), so that where the
        database cannot be opened as usual (a full or read-only disk: SQLite writes
        beside it even to read it) it is opened read-only (:func:`_open_reading`)."""
        self.path = path
        if not create and not path.exists():
            raise ProjectError(f"{path.parent}: not an Annotator project (no {path.name})")
        if not create and path.stat().st_size == 0:  # SQLite would make it a new, empty one
            raise ProjectError(f"{path}: the project database is empty (damaged)")
        self._create = create
        self._reader = reader
        #: Reads get connections of their own (``_reading``) where the database opened as
        #: usual; one opened read-only (a full or read-only disk) is read through its one.
        self._separate_reads = True
        try:
            self._conn = _connect(path)
        except sqlite3.DatabaseError as exc:
            reading = _open_reading(path) if reader else None
            if reading is not None:
                log.info("%s: opened read-only (%s)", path, _one_line(exc))
                self._conn = reading
                self._separate_reads = False
            elif not os.access(path.parent, os.W_OK) or not os.access(path, os.W_OK):
                raise ProjectError(  # SQLite's "unable to open database file" says nothing
                    f"{path}: cannot open the project database: its folder or file is "
                    "read-only, and SQLite writes beside the database even to read it; copy "
                    "the project to a writable disk"
                ) from None
            else:
                raise ProjectError(
                    f"{path}: cannot open the project database "
                    f"({_trouble(exc, path) or _one_line(exc)})"
                ) from None
        self._lock = threading.RLock()
        #: The thread inside a write transaction (it holds ``_lock``): its reads go through
        #: the writing connection, the only one that sees its changes before the commit.
        self._writing: int | None = None
        #: The reading connections not in use, every one made, how many are in use, and
        #: whether the database is closing (no new one is made), under ``_readers_lock``.
        self._readers_lock = threading.Condition()
        self._idle: list[sqlite3.Connection] = []
        self._made: list[sqlite3.Connection] = []
        self._in_use = 0
        self._closing = False
        self._trace: Callable[[str], object] | None = None
        try:
            self._migrate(path)
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            if why := _trouble(exc, path):
                raise ProjectError(f"{path}: cannot open the project database ({why})") from None
            raise ProjectError(
                f"{path}: the project database is damaged ({_one_line(exc)})"
            ) from None
        except ProjectError:
            self._conn.close()
            raise

    def _migrate(self, path: Path) -> None:
        try:
            version = int(self._conn.execute("PRAGMA user_version").fetchone()[0])
        except sqlite3.DatabaseError as exc:
            raise ProjectError(
                f"{path}: the project database is damaged ({_one_line(exc)})"
            ) from None
        if version < 0:  # only a damaged or hand-edited file; MIGRATIONS[-3] would "work"
            raise ProjectError(
                f"{path}: the project database reports schema version {version}, which no "
                "Annotator wrote (damaged?); restore the project from a backup"
            )
        if version == 0 and not self._create:
            raise ProjectError(f"{path}: not an Annotator project database (no tables)")
        if version > SCHEMA_VERSION:
            raise ProjectError(
                f"{path.parent}: this project was written by a newer Annotator "
                f"(database version {version}, this program knows {SCHEMA_VERSION}); upgrade"
            )
        if version < SCHEMA_VERSION:  # (a reader may not write: no empty transaction)
            self._upgrade(path, version)
        # A damaged file can hold NULLs and wrong types no constraint lets in; the quick
        # check (a few ms even for 20,000 images) finds most damage before anything reads it.
        check = self._conn.execute("PRAGMA quick_check(1)").fetchone()[0]
        if check != "ok":
            raise ProjectError(
                f"{path}: the project database is damaged ({' '.join(check.split())[:200]})"
            )
        tables = {r[0] for r in self._conn.execute("SELECT name FROM sqlite_master")}
        missing = sorted(REQUIRED_TABLES - tables)
        if missing:
            raise ProjectError(
                f"{path}: the project database is damaged (missing table {', '.join(missing)})"
            )

    def _upgrade(self, path: Path, version: int) -> None:
        """Run the migrations from ``version`` on. A reader whose database cannot be
        written (a read-only disk or share, an archived project made by an older
        Annotator) reads an upgraded copy in memory instead; the file stays as it is,
        for the next writer to upgrade. (Every read-only command refused it: "this change
        was not saved".)"""

        def migrate() -> None:
            with self.transaction() as conn:
                for target in range(version, SCHEMA_VERSION):
                    for statement in MIGRATIONS[target].split(";"):
                        if statement.strip():
                            conn.execute(statement)
                    conn.execute(f"PRAGMA user_version = {target + 1}")

        if self._separate_reads:  # (opened as usual: the file may take the upgrade)
            try:
                migrate()
                return
            except WriteRefused:
                if not self._reader:
                    raise
        memory = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        try:
            memory.row_factory = sqlite3.Row
            self._conn.backup(memory)
        except BaseException:
            memory.close()
            raise
        self._conn.close()
        self._conn, self._separate_reads = memory, False
        migrate()
        memory.execute("PRAGMA query_only = ON")  # (nothing written to it is kept)
        log.info(
            "%s: made by an older Annotator (database version %d) and not writable here: "
            "read through a copy upgraded in memory",
            path,
            version,
        )

    @contextlib.contextmanager
    def transaction(self, *, timeout: float | None = None) -> Iterator[sqlite3.Connection]:
        """Run the body as one write transaction; roll back if it raises.

        While another connection holds the write lock, wait up to ``timeout`` seconds
        (default :data:`BUSY_TIMEOUT_S`) for it, letting this process's other threads
        use the connection meanwhile; then a :class:`ProjectError` says the database is
        locked. A full disk and a read-only database are refused in one line too."""
        self._begin(BUSY_TIMEOUT_S if timeout is None else timeout)
        outer = self._writing  # (a transaction inside its own: SQLite refuses the BEGIN)
        self._writing = threading.get_ident()
        try:
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            refusal = self._refusal(exc)
            if refusal is None:
                raise
            with contextlib.suppress(sqlite3.Error):
                self._conn.execute("ROLLBACK")
            raise refusal from None
        finally:
            self._writing = outer
            self._lock.release()

    def _begin(self, timeout: float) -> None:
        """``BEGIN IMMEDIATE``, waiting up to ``timeout`` s for another connection's write
        lock in short steps; returns holding :attr:`_lock`."""
        deadline = time.monotonic() + timeout
        while True:
            left_ms = int((deadline - time.monotonic()) * 1000)
            self._lock.acquire()
            try:
                self._conn.execute(f"PRAGMA busy_timeout = {max(0, min(_BUSY_STEP_MS, left_ms))}")
                try:
                    self._conn.execute("BEGIN IMMEDIATE")
                finally:
                    self._conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
                return
            except sqlite3.OperationalError as exc:
                self._lock.release()
                if _busy(exc) and left_ms > 0:
                    continue  # the lock was let go: another thread may use it now
                refusal = self._refusal(exc)
                if refusal is None:
                    raise
                raise refusal from None
            except BaseException:  # (an interrupt once BEGIN ran: no transaction stays open)
                try:
                    if self._conn.in_transaction:
                        with contextlib.suppress(sqlite3.Error):
                            self._conn.execute("ROLLBACK")
                finally:
                    self._lock.release()
                raise

    def _refusal(self, exc: sqlite3.OperationalError) -> ProjectError | None:
        """The one-line refusal of a write SQLite could not do for a known reason: a
        full disk, a database locked by another program, a read-only one (else None;
        :func:`_trouble` words them)."""
        why = _trouble(exc, self.path)
        return None if why is None else WriteRefused(self.path, why)

    def query(self, sql: str, params: tuple | dict = ()) -> list[sqlite3.Row]:
        """Run a read-only query and return all rows: the state of the last commit (or,
        inside a transaction of this thread, with its changes so far)."""
        with self._reading() as conn:
            try:
                return conn.execute(sql, params).fetchall()
            except sqlite3.DatabaseError as exc:  # a damaged or tampered file, not a bug
                if why := _trouble(exc, self.path):
                    raise ProjectError(f"{self.path}: cannot read the database ({why})") from None
                raise ProjectError(
                    f"{self.path}: the project database is damaged ({_one_line(exc)})"
                ) from None

    @contextlib.contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        """A connection to read with: one of the reading connections, not in use by
        another thread (made when none is free); the writing one, under its lock, for a
        thread inside its own transaction, a database opened read-only, or one closing.

        The count of reads running (which :meth:`close` waits for) goes back down
        whatever ends the read, a Ctrl+C included: raised while a connection was being
        opened, it left the count up, and closing the project waited for ever."""
        if not self._separate_reads or self._writing == threading.get_ident():
            with self._lock:
                yield self._conn
            return
        with self._readers_lock:
            closing = self._closing
            if not closing:
                self._in_use += 1
        if closing:
            with self._lock:
                yield self._conn
            return
        conn: sqlite3.Connection | None = None
        try:
            with self._readers_lock:
                if self._idle:
                    conn = self._idle.pop()
            if conn is None:
                conn = self._new_reader()
            if conn is None:  # (the writing one reads as before)
                with self._lock:
                    yield self._conn
            else:
                yield conn
        finally:
            with self._readers_lock:
                if conn is not None:
                    self._idle.append(conn)
                self._in_use -= 1
                self._readers_lock.notify_all()

    def _new_reader(self) -> sqlite3.Connection | None:
        """A new reading connection, or None: it cannot be opened, or the database is
        closing."""
        try:
            conn = _reading_connection(self.path)
        except sqlite3.DatabaseError as exc:
            log.info("%s: no connection of its own to read with (%s)", self.path, _one_line(exc))
            return None
        with self._readers_lock:
            if self._closing:
                conn.close()
                return None
            self._made.append(conn)
            if self._trace is not None:
                conn.set_trace_callback(self._trace)
        return conn

    def set_trace(self, callback: Callable[[str], object] | None) -> None:
        """Pass every statement any connection of this database runs to ``callback``
        (None: stop); for tests and debugging."""
        with self._readers_lock:
            self._trace = callback
            for conn in (self._conn, *self._made):
                conn.set_trace_callback(callback)

    def close(self) -> None:
        """Close the reading connections, once the reads running have ended, then the
        writing one: the last connection, it folds SQLite's log into the database."""
        with self._readers_lock:
            self._closing = True
            deadline = time.monotonic() + CLOSE_WAIT_S
            while self._in_use:
                left = deadline - time.monotonic()
                if left <= 0:  # (a count a bug left up must not hang the exit)
                    log.warning(
                        "%s: %d read(s) still counted as running after %g s; closing anyway",
                        self.path,
                        self._in_use,
                        CLOSE_WAIT_S,
                    )
                    break
                self._readers_lock.wait(left)
            readers, self._made, self._idle = self._made, [], []
        for conn in readers:
            conn.close()
        with self._lock:
            self._conn.close()
