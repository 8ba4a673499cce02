"""The one SQLite database of hull (``<data-root>/hull.db``): connections, transactions, schema.

Several processes (hulld, CLI tools) and threads share the file safely:

- WAL journal: readers never block the writer nor each other; a crash at any
  point leaves the last committed state (``synchronous=NORMAL`` may lose the
  last transactions at a power cut, never consistency).
- One connection per thread (and per process: a connection inherited through
  ``fork`` is left alone, never used nor closed, as SQLite requires).
- Writers start with ``BEGIN IMMEDIATE``, so they queue on the write lock (up
  to the busy timeout) instead of failing half-way when upgrading a read lock.
- Foreign keys on: tags and layers cannot outlive their image.

Lifecycle::

    Database.open(path) ──► migrate to SCHEMA_VERSION ──► transaction()* ──► close()

A ``transaction()`` inside another one on the same thread is a SAVEPOINT: the
inner block rolls back alone on error, and nothing is durable before the
outermost block ends.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

from hull.errors import FailedPrecondition, Internal, Unavailable
from hull.metadata.schema import MIGRATIONS, SCHEMA_VERSION

DB_NAME = "hull.db"
DEFAULT_BUSY_TIMEOUT = 30.0


class _Owned:
    """A thread's connection, closed when the thread ends.

    Threads come and go (every attach or wait gets one in hulld): without
    this, each left an open connection (and its file descriptors) behind
    until the database was closed.
    """

    __slots__ = ("__weakref__", "conn", "pid")

    def __init__(self, conn: sqlite3.Connection, pid: int) -> None:
        self.conn = conn
        self.pid = pid

    def close(self) -> None:
        if os.getpid() == self.pid:  # never a connection inherited through fork
            with contextlib.suppress(sqlite3.Error):
                self.conn.close()

    def __del__(self) -> None:
        self.close()


class _ThreadState(threading.local):
    conn: sqlite3.Connection | None = None
    owned: _Owned | None = None
    pid: int = 0
    # stack of "is this level a writer" for nested transactions
    levels: list[bool]

    def __init__(self) -> None:
        self.levels = []


class Database:
    """The metadata database: ``with Database.open(path) as db: with db.transaction(): …``."""

    def __init__(self, path: Path, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> None:
        self.path = Path(path)
        self.busy_timeout = busy_timeout
        self._state = _ThreadState()
        self._lock = threading.Lock()
        self._conns: weakref.WeakSet[_Owned] = weakref.WeakSet()
        self._pid = os.getpid()
        self._closed = False
        self._savepoints = itertools.count()

    # -- lifecycle -------------------------------------------------------------

    @classmethod
    def open(cls, path: Path | str, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> Database:
        """Open (creating if needed, mode 0600) and migrate the database at ``path``."""
        db = cls(Path(path), busy_timeout=busy_timeout)
        db.path.parent.mkdir(parents=True, exist_ok=True)
        if not db.path.exists():
            # SQLite creates files 0644; the database holds image labels and
            # lease names only, but keep it private like the rest of data-root.
            with contextlib.suppress(FileExistsError):
                os.close(os.open(db.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        try:
            db._migrate()
        except BaseException:
            db.close()
            raise
        return db

    @classmethod
    def open_data_root(
        cls, data_root: Path | str, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT
    ) -> Database:
        """Open ``<data_root>/hull.db``."""
        return cls.open(Path(data_root) / DB_NAME, busy_timeout=busy_timeout)

    def close(self) -> None:
        """Close every connection this process opened; the object is unusable after."""
        with self._lock:
            self._closed = True
            owned, self._conns = list(self._conns), weakref.WeakSet()
        for o in owned:
            o.close()

    def __enter__(self) -> Database:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- connections -------------------------------------------------------------

    def connection(self) -> sqlite3.Connection:
        """This thread's connection (opened on first use)."""
        if self._closed:
            raise FailedPrecondition(f"database {self.path} is closed")
        st = self._state
        pid = os.getpid()
        if st.conn is not None and st.pid == pid:
            return st.conn
        if st.pid != pid:
            # Inherited through fork: drop the reference without closing (the
            # parent still uses the same SQLite state), and any half-open
            # transaction bookkeeping with it.
            st.levels = []
            if pid != self._pid:
                with self._lock:
                    self._conns = weakref.WeakSet()
                    self._pid = pid
        conn = self._connect()
        owned = _Owned(conn, pid)
        st.conn, st.owned, st.pid = conn, owned, pid
        with self._lock:
            self._conns.add(owned)
        return conn

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                self.path,
                timeout=self.busy_timeout,
                isolation_level=None,  # we issue BEGIN/COMMIT ourselves
                check_same_thread=False,  # only close() crosses threads
            )
        except sqlite3.Error as exc:
            raise Unavailable(f"cannot open database {self.path}: {exc}") from exc
        try:
            conn.execute(f"PRAGMA busy_timeout={int(self.busy_timeout * 1000)}")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._enable_wal(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _enable_wal(self, conn: sqlite3.Connection) -> None:
        # Switching to WAL needs an exclusive lock and does not wait on the busy
        # handler in every SQLite version: retry while another process opens it.
        # Once the file is in WAL mode the pragma is a no-op.
        deadline = time.monotonic() + self.busy_timeout
        while True:
            try:
                mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise Unavailable(f"cannot open database {self.path}: {exc}") from exc
                if time.monotonic() > deadline:
                    raise Unavailable(f"database {self.path} is busy: {exc}") from exc
                time.sleep(0.01)
        if str(mode).lower() != "wal":
            raise FailedPrecondition(
                f"database {self.path}: cannot use WAL journal mode (got {mode!r});"
                " is the data root on a filesystem without shared memory support?"
            )

    # -- transactions ----------------------------------------------------------------

    @contextlib.contextmanager
    def transaction(self, write: bool = True) -> Iterator[sqlite3.Connection]:
        """Run the block in one transaction: all of it is committed, or none.

        ``write=True`` takes the write lock up front (``BEGIN IMMEDIATE``);
        ``write=False`` reads one consistent snapshot. A writer may not nest
        inside a reader (the lock upgrade could fail with a snapshot conflict).
        """
        conn = self.connection()
        levels = self._state.levels
        if levels:
            if write and not levels[0]:
                raise Internal("a write transaction cannot nest inside a read transaction")
            name = f"hull_sp{next(self._savepoints)}"
            conn.execute(f"SAVEPOINT {name}")
            levels.append(write)
            try:
                yield conn
            except BaseException:
                conn.execute(f"ROLLBACK TO {name}")
                conn.execute(f"RELEASE {name}")
                raise
            else:
                conn.execute(f"RELEASE {name}")
            finally:
                levels.pop()
            return
        try:
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        except sqlite3.OperationalError as exc:
            raise Unavailable(f"database {self.path} is busy: {exc}") from exc
        levels.append(write)
        try:
            yield conn
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        else:
            try:
                conn.execute("COMMIT")
            except sqlite3.OperationalError as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise Unavailable(f"database {self.path}: commit failed: {exc}") from exc
        finally:
            levels.pop()

    # -- schema ------------------------------------------------------------------------

    def schema_version(self) -> int:
        """The schema version stored in the file."""
        with self.transaction(write=False) as conn:
            return _stored_version(conn)

    def integrity_check(self) -> list[str]:
        """SQLite's ``integrity_check`` and ``foreign_key_check``; ``["ok"]`` when sound."""
        conn = self.connection()
        rows = [str(r[0]) for r in conn.execute("PRAGMA integrity_check")]
        fk = [
            f"foreign key violation in {r[0]} row {r[1]}"
            for r in conn.execute("PRAGMA foreign_key_check")
        ]
        if rows == ["ok"] and not fk:
            return ["ok"]
        return [r for r in rows if r != "ok"] + fk

    def _migrate(self) -> None:
        conn = self.connection()
        # Fast path without the write lock: opening must not wait for a writer.
        try:
            current = _stored_version(conn)
        except sqlite3.OperationalError:
            current = -1  # no schema_version table yet
        self._check_version(current)
        if current == SCHEMA_VERSION:
            return
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise Unavailable(f"database {self.path} is busy: {exc}") from exc
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL) STRICT"
            )
            current = _stored_version(conn)  # again: another process may have migrated
            self._check_version(current)
            for version in range(current + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[version]:
                    conn.execute(statement)
            if current == 0 and not conn.execute("SELECT 1 FROM schema_version").fetchone():
                conn.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
            elif current != SCHEMA_VERSION:
                conn.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION,))
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _check_version(self, current: int) -> None:
        if current > SCHEMA_VERSION:
            raise FailedPrecondition(
                f"database {self.path} has schema version {current}, newer than this"
                f" hull supports ({SCHEMA_VERSION}): upgrade hull"
            )


def _stored_version(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


__all__ = ["DB_NAME", "DEFAULT_BUSY_TIMEOUT", "Database"]
