import io
import multiprocessing
import os
import threading
from pathlib import Path

import pytest

from hull.content import ContentStore, LocalStore
from hull.errors import InvalidArgument, NotFound
from hull.oci.digest import Digest, digest_bytes


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "content")


def test_local_store_satisfies_protocol(store: LocalStore) -> None:
    s: ContentStore = store
    assert s is store


def test_ingest_open_info_list_delete(store: LocalStore) -> None:
    data = os.urandom(3 << 20)
    d = store.ingest(io.BytesIO(data), digest_bytes(data), len(data))
    assert d == digest_bytes(data)
    assert store.exists(d)
    assert store.path(d) == store.root / "blobs" / "sha256" / d.hex
    with store.open(d) as f:
        assert f.read() == data
    assert store.info(d).size == len(data)
    assert store.list() == [d]
    assert store.ingests() == []
    assert os.stat(store.path(d)).st_mode & 0o777 == 0o444
    store.delete(d)
    assert not store.exists(d)
    with pytest.raises(NotFound):
        store.delete(d)
    with pytest.raises(NotFound):
        store.open(d)
    with pytest.raises(NotFound):
        store.info(d)


def test_ingest_streams_in_chunks(store: LocalStore) -> None:
    class Stream(io.RawIOBase):
        def __init__(self, total: int) -> None:
            self.left = total
            self.biggest = 0

        def readable(self) -> bool:
            return True

        def readinto(self, b: memoryview) -> int:  # type: ignore[override]
            self.biggest = max(self.biggest, len(b))
            n = min(len(b), self.left)
            b[:n] = b"z" * n
            self.left -= n
            return n

    s = Stream(5 << 20)
    d = store.ingest(s)  # type: ignore[arg-type]
    assert store.info(d).size == 5 << 20
    assert s.biggest <= 1 << 20


def test_digest_mismatch_discards(store: LocalStore) -> None:
    wrong = digest_bytes(b"something else")
    with pytest.raises(InvalidArgument, match=r"digest mismatch"):
        store.ingest(io.BytesIO(b"hello"), wrong, 5)
    assert store.list() == []
    assert store.ingests() == []
    with store.writer("ref-a", wrong) as w:
        w.write(b"hello")
        with pytest.raises(InvalidArgument, match=r"digest mismatch"):
            w.commit()
    assert store.ingests() == []
    assert not store.exists(digest_bytes(b"hello"))


def test_size_mismatch_short_and_long(store: LocalStore) -> None:
    with pytest.raises(InvalidArgument, match=r"size mismatch"):
        store.ingest(io.BytesIO(b"hello"), None, 6)
    with pytest.raises(InvalidArgument, match=r"more than the expected"):
        store.ingest(io.BytesIO(b"hello"), None, 4)
    assert store.list() == []
    assert store.ingests() == []


def test_resume_after_close(store: LocalStore) -> None:
    data = os.urandom(100_000)
    d = digest_bytes(data)
    w = store.writer("pull-1", d, len(data))
    w.write(data[:40_000])
    w.close()
    st = store.status("pull-1")
    assert st.offset == 40_000 and st.ref == "pull-1"
    with store.writer("pull-1", d, len(data)) as w2:
        assert w2.offset == 40_000
        w2.write(data[40_000:])
        assert w2.commit() == d
    assert store.info(d).size == len(data)
    with pytest.raises(NotFound):
        store.status("pull-1")


@pytest.mark.parametrize("hash_thread", [True, False])
def test_writes_from_a_reused_buffer(store: LocalStore, hash_thread: bool) -> None:
    # a download reads into one buffer again and again: what was hashed must not change
    data = os.urandom(3 << 20)
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    with store.writer("reuse", digest_bytes(data), len(data), hash_thread=hash_thread) as w:
        for i in range(0, len(data), len(buf)):
            buf[:] = data[i : i + len(buf)]
            w.write(view)
        buf[:] = bytes(len(buf))  # the buffer changes after the last write
        assert w.commit() == digest_bytes(data)
    with store.open(digest_bytes(data)) as f:
        assert f.read() == data


def _crashing_writer(root: str, data: bytes) -> None:
    s = LocalStore(Path(root))
    w = s.writer("crash-ref")
    w.write(data)
    os._exit(0)  # no close, no commit: a crash


def test_resume_after_crash(store: LocalStore) -> None:
    data = os.urandom(50_000)
    ctx = multiprocessing.get_context("fork")
    p = ctx.Process(target=_crashing_writer, args=(str(store.root), data[:30_000]))
    p.start()
    p.join()
    with store.writer("crash-ref", digest_bytes(data)) as w:
        assert w.offset == 30_000  # the partial data was re-hashed
        w.write(data[30_000:])
        assert w.commit() == digest_bytes(data)


def test_truncate_restarts(store: LocalStore) -> None:
    with store.writer("t") as w:
        w.write(b"garbage")
        w.truncate(0)
        w.write(b"good")
        assert w.commit() == digest_bytes(b"good")


def test_abort(store: LocalStore) -> None:
    with store.writer("to-abort") as w:
        w.write(b"abc")
    store.abort("to-abort")
    assert store.ingests() == []
    with pytest.raises(NotFound):
        store.abort("to-abort")


def test_concurrent_writers_of_one_blob(store: LocalStore) -> None:
    data = os.urandom(2 << 20)
    d = digest_bytes(data)
    results: list[Digest] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(6)

    def work(i: int) -> None:
        try:
            # three distinct refs and three threads sharing one ref
            ref = f"ref-{i}" if i < 3 else "shared"
            barrier.wait()
            with store.writer(ref, d, len(data)) as w:
                if w.offset:
                    w.truncate(0)
                for j in range(0, len(data), 65536):
                    w.write(data[j : j + 65536])
                results.append(w.commit())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert results == [d] * 6
    assert store.list() == [d]
    assert store.ingests() == []
    with store.open(d) as f:
        assert f.read() == data


def _proc_writer(root: str, data: bytes, q: "multiprocessing.Queue[str]") -> None:
    s = LocalStore(Path(root))
    q.put(str(s.ingest(io.BytesIO(data), digest_bytes(data), len(data))))


def test_concurrent_writers_in_processes(store: LocalStore) -> None:
    data = os.urandom(1 << 20)
    ctx = multiprocessing.get_context("fork")
    q: multiprocessing.Queue[str] = ctx.Queue()
    procs = [ctx.Process(target=_proc_writer, args=(str(store.root), data, q)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
        assert p.exitcode == 0
    got = {q.get() for _ in procs}
    assert got == {str(digest_bytes(data))}
    assert store.list() == [digest_bytes(data)]


def test_gc_removes_unreferenced_and_stale(store: LocalStore) -> None:
    keep = store.ingest(io.BytesIO(b"keep"))
    drop = store.ingest(io.BytesIO(b"drop"))
    with store.writer("abandoned") as w:
        w.write(b"partial")
    active = store.writer("active")
    active.write(b"in flight")
    try:
        # young ingests survive the default cutoff
        assert store.gc({keep}) == [drop]
        assert {s.ref for s in store.ingests()} == {"abandoned", "active"}
        # with a zero cutoff the abandoned one goes, the locked one stays
        assert store.gc({keep}, stale_ingest_seconds=0) == []
        assert [s.ref for s in store.ingests()] == ["active"]
        assert store.list() == [keep]
    finally:
        active.close()


def test_list_skips_stray_files(store: LocalStore) -> None:
    (store.root / "blobs" / "sha256" / "not-a-digest").write_bytes(b"")
    assert store.list() == []


def test_closed_writer_refuses(store: LocalStore) -> None:
    w = store.writer("x")
    w.close()
    with pytest.raises(InvalidArgument):
        w.write(b"a")


def test_bad_ref(store: LocalStore) -> None:
    with pytest.raises(InvalidArgument):
        store.writer("")
