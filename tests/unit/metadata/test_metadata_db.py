from __future__ import annotations

import multiprocessing
import os
import random
import signal
import sqlite3
import stat
import threading
import time
from pathlib import Path

import pytest
from _metadata_helpers import make_image

from hull import metadata as md
from hull.errors import FailedPrecondition, Internal, Unavailable
from hull.metadata import SCHEMA_VERSION, Database

FORK = multiprocessing.get_context("fork")


def test_version_3_with_the_old_network_tables_upgrades_keeping_rows(tmp_path: Path) -> None:
    """Before migration 4 the network store made its own tables: they stay, with their rows."""
    from hull.metadata.schema import MIGRATIONS
    from hull.network.store import SqliteNetworkStore

    path = tmp_path / "hull.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL) STRICT")
    for version in (1, 2, 3):
        for statement in MIGRATIONS[version]:
            conn.execute(statement)
    conn.execute("INSERT INTO schema_version (version) VALUES (3)")
    # what hull.network.store created on its own before migration 4
    for statement in MIGRATIONS[4]:
        conn.execute(statement)
    conn.execute(
        "INSERT INTO net_leases (network_id, address, owner) VALUES ('n1', '10.0.0.2', 'c1')"
    )
    conn.commit()
    conn.close()
    store = SqliteNetworkStore(path)
    try:
        assert {str(a): o for a, o in store.leases("n1").items()} == {"10.0.0.2": "c1"}
    finally:
        store.close()
    with Database.open(path) as db:
        assert db.schema_version() == SCHEMA_VERSION == 4


def test_a_fresh_network_store_gets_the_metadata_schema(tmp_path: Path) -> None:
    from hull.network.store import SqliteNetworkStore

    path = tmp_path / "net.db"
    SqliteNetworkStore(path).close()
    with Database.open(path) as db:
        assert db.schema_version() == SCHEMA_VERSION
        tables = {r[0] for r in db.connection().execute("SELECT name FROM sqlite_master")}
        assert {"images", "net_networks", "net_leases", "net_endpoints", "net_ports"} <= tables


def test_migrates_an_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "hull.db"
    path.touch()
    with Database.open(path) as db:
        assert db.schema_version() == SCHEMA_VERSION
        conn = db.connection()
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {
            "schema_version",
            "images",
            "image_layers",
            "tags",
            "leases",
            "lease_resources",
        } <= tables
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 30000
        assert db.integrity_check() == ["ok"]


def test_creates_data_root_and_private_file(tmp_path: Path) -> None:
    root = tmp_path / "var" / "lib" / "hull"
    with Database.open_data_root(root) as db:
        assert db.path == root / "hull.db"
        assert stat.S_IMODE(db.path.stat().st_mode) == 0o600


def test_reopen_keeps_data_and_version(tmp_path: Path) -> None:
    with Database.open_data_root(tmp_path) as db:
        img = md.put_image(db, make_image("a"))
    with Database.open_data_root(tmp_path) as db:
        assert db.schema_version() == SCHEMA_VERSION
        assert md.get_image(db, img.id) == img
        rows = db.connection().execute("SELECT count(*) FROM schema_version").fetchone()
        assert rows[0] == 1


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    with Database.open_data_root(tmp_path) as db, db.transaction() as conn:
        conn.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    with pytest.raises(FailedPrecondition, match="newer than this hull supports"):
        Database.open_data_root(tmp_path)


def test_nested_transactions_are_savepoints(tmp_path: Path) -> None:
    with Database.open_data_root(tmp_path) as db:
        a, b = make_image("a"), make_image("b")
        with db.transaction():
            md.put_image(db, a)
            with pytest.raises(RuntimeError), db.transaction():
                md.put_image(db, b)
                raise RuntimeError("inner fails")
            # the inner block rolled back alone
            assert md.has_image(db, a.id)
            assert not md.has_image(db, b.id)
        assert md.has_image(db, a.id)
        # an outer failure undoes everything, inner blocks included
        with pytest.raises(RuntimeError), db.transaction():
            md.put_image(db, b)
            raise RuntimeError("outer fails")
        assert not md.has_image(db, b.id)


def test_write_inside_read_is_refused(tmp_path: Path) -> None:
    with Database.open_data_root(tmp_path) as db:
        with pytest.raises(Internal), db.transaction(write=False):
            md.put_image(db, make_image("a"))
        # the connection is usable afterwards
        md.put_image(db, make_image("a"))


def test_closed_database(tmp_path: Path) -> None:
    db = Database.open_data_root(tmp_path)
    db.close()
    with pytest.raises(FailedPrecondition, match="closed"):
        md.list_images(db)


def test_threads_share_one_database(tmp_path: Path) -> None:
    errors: list[BaseException] = []
    with Database.open_data_root(tmp_path) as db:

        def work(n: int) -> None:
            try:
                for i in range(20):
                    img = md.put_image(db, make_image(f"t{n}-{i}"))
                    md.tag(db, f"docker.io/library/t{n}:{i}", img.id)
                    md.list_images(db)
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert len(md.list_images(db)) == 80
        assert len(md.list_tags(db)) == 80


# -- several processes ----------------------------------------------------------------


def _writer(path: str, name: str, count: int, barrier: object) -> None:
    db = Database.open(path)
    barrier.wait()  # type: ignore[attr-defined]
    for i in range(count):
        img = md.put_image(db, make_image(f"{name}-{i}", n_layers=3))
        md.tag(db, f"docker.io/library/{name}:{i}", img.id)
    db.close()


def test_concurrent_writers_from_two_processes(tmp_path: Path) -> None:
    path = str(tmp_path / "hull.db")  # both create and migrate it at once
    barrier = FORK.Barrier(2)
    procs = [FORK.Process(target=_writer, args=(path, name, 60, barrier)) for name in ("p1", "p2")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    with Database.open(path) as db:
        assert len(md.list_images(db)) == 120
        assert len(md.list_tags(db)) == 120
        assert all(len(i.layers) == 3 for i in md.list_images(db))
        assert db.integrity_check() == ["ok"]


def test_forked_child_gets_its_own_connection(tmp_path: Path) -> None:
    with Database.open_data_root(tmp_path) as db:
        md.put_image(db, make_image("parent"))  # the parent's connection exists
        child = FORK.Process(target=lambda: md.put_image(db, make_image("child")) and None)
        child.start()
        child.join(30)
        assert child.exitcode == 0
        # the parent's connection still works and sees the child's write
        assert {i.labels["seed"] for i in md.list_images(db)} == {"parent", "child"}


def _long_transaction(path: str, ready: object) -> None:
    db = Database.open(path)
    with db.transaction():
        for i in range(50):
            md.put_image(db, make_image(f"doomed-{i}"))
            md.tag(db, f"docker.io/library/doomed:{i}", make_image(f"doomed-{i}").id)
        ready.set()  # type: ignore[attr-defined]
        time.sleep(60)


def test_killed_mid_transaction_leaves_a_consistent_database(tmp_path: Path) -> None:
    path = str(tmp_path / "hull.db")
    with Database.open(path) as db:
        kept = md.put_image(db, make_image("kept"))
    ready = FORK.Event()
    child = FORK.Process(target=_long_transaction, args=(path, ready))
    child.start()
    assert ready.wait(30)
    assert child.pid is not None
    os.kill(child.pid, signal.SIGKILL)
    child.join(10)
    assert child.exitcode == -signal.SIGKILL
    with Database.open(path, busy_timeout=5) as db:
        assert db.integrity_check() == ["ok"]
        assert [i.id for i in md.list_images(db)] == [kept.id]
        assert md.list_tags(db) == []
        # the dead writer's lock is gone: writing works at once
        start = time.monotonic()
        md.put_image(db, make_image("after"))
        assert time.monotonic() - start < 2


def _busy_writer(path: str) -> None:
    db = Database.open(path)
    i = 0
    while True:
        img = md.put_image(db, make_image(f"busy-{os.getpid()}-{i}", n_layers=4))
        md.tag(db, f"docker.io/library/busy:{os.getpid()}-{i}", img.id)
        i += 1


def test_sigkill_at_random_points_never_corrupts(tmp_path: Path) -> None:
    path = str(tmp_path / "hull.db")
    Database.open(path).close()
    rng = random.Random(1234)
    for _ in range(6):
        child = FORK.Process(target=_busy_writer, args=(path,))
        child.start()
        time.sleep(rng.uniform(0.05, 0.3))
        assert child.pid is not None
        os.kill(child.pid, signal.SIGKILL)
        child.join(10)
        with Database.open(path, busy_timeout=5) as db:
            assert db.integrity_check() == ["ok"]
            images = md.list_images(db)
            # every image was stored whole, with all of its layers
            assert all(len(i.layers) == 4 for i in images)
            ids = {i.id for i in images}
            assert all(image_id in ids for _, image_id in md.list_tags(db))
    with Database.open(path) as db:
        assert len(md.list_images(db)) > 0


def test_busy_database_raises_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "hull.db"
    Database.open(path).close()
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        # opening a migrated database needs no write lock; reads go on (WAL)
        with Database.open(path, busy_timeout=0.2) as db:
            assert md.list_images(db) == []
            start = time.monotonic()
            with pytest.raises(Unavailable, match="busy"):
                md.put_image(db, make_image("x"))
            assert time.monotonic() - start >= 0.15
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()


def test_a_finished_thread_leaves_no_connection_open(tmp_path: Path) -> None:
    import gc

    def fds() -> int:
        return len(os.listdir("/proc/self/fd"))

    with Database.open(tmp_path / "t.db") as db:
        db.connection()
        before = fds()
        for _ in range(20):
            t = threading.Thread(target=lambda: db.connection().execute("SELECT 1").fetchall())
            t.start()
            t.join()
        gc.collect()
        assert fds() <= before + 2  # hulld makes a thread per attach or wait
