"""The json-file log writer and reader of the monitor."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from hull.engine.monitor.logs import (
    MAX_ENTRY,
    JsonFileWriter,
    log_files,
    parse_rfc3339,
    read_logs,
    rfc3339nano,
)

T0 = 1_700_000_000_123_456_789


def lines(path: Path) -> list[dict[str, str]]:
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_rfc3339nano_round_trip() -> None:
    text = rfc3339nano(T0)
    assert text == "2023-11-14T22:13:20.123456789Z"
    assert parse_rfc3339(text) == T0
    assert parse_rfc3339("2023-11-14T23:13:20.5+01:00") == 1_700_000_000_500_000_000
    assert parse_rfc3339("2023-11-14T22:13:20Z") == 1_700_000_000 * 10**9


def test_lines_streams_and_format(tmp_path: Path) -> None:
    w = JsonFileWriter(tmp_path / "c.log")
    w.write("stdout", b"a\nb", T0)
    w.write("stderr", b"e\n", T0 + 1)
    w.write("stdout", b"c\n", T0 + 2)
    w.close()
    raw = (tmp_path / "c.log").read_text().splitlines()
    assert raw[0] == '{"log":"a\\n","stream":"stdout","time":"2023-11-14T22:13:20.123456789Z"}'
    assert [(e["stream"], e["log"]) for e in lines(tmp_path / "c.log")] == [
        ("stdout", "a\n"),
        ("stderr", "e\n"),
        ("stdout", "bc\n"),
    ]


def test_unterminated_tail_written_on_close(tmp_path: Path) -> None:
    w = JsonFileWriter(tmp_path / "c.log")
    w.write("stdout", b"prompt$ ", T0)
    assert (tmp_path / "c.log").read_text() == ""
    w.close()
    (e,) = read_logs(tmp_path / "c.log")
    assert e.log == "prompt$ " and e.partial


def test_long_line_partial_entries(tmp_path: Path) -> None:
    w = JsonFileWriter(tmp_path / "c.log")
    w.write("stdout", b"x" * (MAX_ENTRY * 2 + 10) + b"\n", T0)
    w.close()
    es = list(read_logs(tmp_path / "c.log"))
    assert [len(e.log) for e in es] == [MAX_ENTRY, MAX_ENTRY, 11]
    assert [e.partial for e in es] == [True, True, False]


def test_partial_split_keeps_utf8_whole(tmp_path: Path) -> None:
    w = JsonFileWriter(tmp_path / "c.log")
    text = ("é" * MAX_ENTRY + "\n").encode()
    w.write("stdout", text, T0)
    w.close()
    es = list(read_logs(tmp_path / "c.log"))
    assert "".join(e.log for e in es).encode() == text
    assert all(len(e.log.encode()) <= MAX_ENTRY + 1 for e in es)


def test_exactly_max_entry_plus_newline_is_one_entry(tmp_path: Path) -> None:
    w = JsonFileWriter(tmp_path / "c.log")
    w.write("stdout", b"y" * MAX_ENTRY + b"\n", T0)
    w.close()
    assert [e.partial for e in read_logs(tmp_path / "c.log")] == [False]


def test_rotation_keeps_max_file(tmp_path: Path) -> None:
    log = tmp_path / "c.log"
    w = JsonFileWriter(log, max_size=300, max_file=3)
    for i in range(100):
        w.write("stdout", f"line {i}\n".encode(), T0 + i)
    w.close()
    assert [p.name for p in log_files(log)] == ["c.log.2", "c.log.1", "c.log"]
    assert all(p.stat().st_size <= 300 for p in tmp_path.iterdir())
    nums = [int(e.log.split()[1]) for e in read_logs(log)]
    assert nums[-1] == 99 and nums == list(range(nums[0], 100))


def test_rotation_with_one_file_truncates(tmp_path: Path) -> None:
    log = tmp_path / "c.log"
    w = JsonFileWriter(log, max_size=200, max_file=1)
    for i in range(20):
        w.write("stdout", f"line {i}\n".encode(), T0)
    w.close()
    assert [p.name for p in tmp_path.iterdir()] == ["c.log"]
    assert list(read_logs(log))[-1].log == "line 19\n"


def test_reader_tail_since_until_timestamps(tmp_path: Path) -> None:
    log = tmp_path / "c.log"
    w = JsonFileWriter(log)
    for i in range(10):
        w.write("stdout", f"{i}\n".encode(), T0 + i * 10**9)
    w.close()
    assert [e.log for e in read_logs(log, tail=3)] == ["7\n", "8\n", "9\n"]
    assert list(read_logs(log, tail=0)) == []
    assert len(list(read_logs(log, tail="all"))) == 10
    since = (T0 + 5 * 10**9) / 1e9 - 0.001
    assert next(e.log for e in read_logs(log, since=since)) == "5\n"
    until = datetime.fromtimestamp((T0 + 2 * 10**9) // 10**9 + 0.5, UTC)
    assert [e.log for e in read_logs(log, until=until)] == ["0\n", "1\n", "2\n"]
    first = next(iter(read_logs(log, timestamps=True)))
    assert first.data(False) == b"2023-11-14T22:13:20.123456789Z 0\n"


def test_reader_skips_torn_and_foreign_lines(tmp_path: Path) -> None:
    log = tmp_path / "c.log"
    good = '{"log":"ok\\n","stream":"stdout","time":"2023-11-14T22:13:20.1Z"}\n'
    log.write_text("garbage\n" + good + '{"log":"tor')
    assert [e.log for e in read_logs(log)] == ["ok\n"]


def test_follow_until_stopped_across_rotation(tmp_path: Path) -> None:
    log = tmp_path / "c.log"
    w = JsonFileWriter(log, max_size=400, max_file=5)
    w.write("stdout", b"first\n", T0)
    done = threading.Event()

    def produce() -> None:
        for i in range(30):
            w.write("stderr" if i % 2 else "stdout", f"n{i}\n".encode())
            time.sleep(0.005)
        w.close()
        done.set()

    t = threading.Thread(target=produce)
    t.start()
    got = [e.log for e in read_logs(log, follow=True, stopped=done.is_set, poll_interval=0.01)]
    t.join()
    assert got == ["first\n"] + [f"n{i}\n" for i in range(30)]


def test_follow_waits_for_a_log_to_appear(tmp_path: Path) -> None:
    log = tmp_path / "c.log"
    done = threading.Event()

    def produce() -> None:
        time.sleep(0.05)
        w = JsonFileWriter(log)
        w.write("stdout", b"late\n")
        w.close()
        done.set()

    t = threading.Thread(target=produce)
    t.start()
    got = [e.log for e in read_logs(log, follow=True, stopped=done.is_set, poll_interval=0.01)]
    t.join()
    assert got == ["late\n"]
