"""Sizes, durations and ulimits as Docker's go-units and Go's time package read and print them."""

from __future__ import annotations

import pytest

from hull.engine import units
from hull.errors import InvalidArgument


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("32", 32),
        ("32b", 32),
        ("32B", 32),
        ("32k", 32 * 1024),
        ("32K", 32 * 1024),
        ("32kb", 32 * 1024),
        ("32Kib", 32 * 1024),
        ("32Mb", 32 * 1024 * 1024),
        ("512m", 512 * 1024 * 1024),
        ("1g", 1024**3),
        ("1G", 1024**3),
        ("2t", 2 * 1024**4),
        ("1p", 1024**5),
        ("0.5g", 512 * 1024**2),
        ("1.5k", 1536),
        ("32 mb", 32 * 1024**2),
    ],
)
def test_ram_in_bytes(text: str, expected: int) -> None:
    assert units.ram_in_bytes(text) == expected


@pytest.mark.parametrize("text", ["", "-1", "12x", "m", "1.2.3m", "32mbb", "1e3", " 5m", "5m "])
def test_ram_in_bytes_refuses(text: str) -> None:
    with pytest.raises(InvalidArgument, match="invalid size"):
        units.ram_in_bytes(text)


def test_from_human_size_is_decimal() -> None:
    assert units.from_human_size("44kB") == 44000
    assert units.from_human_size("17MB") == 17_000_000
    assert units.from_human_size("1.5G") == 1_500_000_000


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        (0, "0B"),
        (999, "999B"),
        (1000, "1kB"),
        (1024, "1.024kB"),
        (12_345_678, "12.35MB"),
        (4_261_000, "4.261MB"),
        (1_000_000_000, "1GB"),
        (10**24, "1YB"),
        (10**27, "1000YB"),
    ],
)
def test_human_size(size: int, expected: str) -> None:
    assert units.human_size(size) == expected


def test_human_size_with_precision_as_the_cli_tables() -> None:
    assert units.human_size_with_precision(4_261_000, 3) == "4.26MB"
    assert units.human_size_with_precision(999_900, 3) == "1e+03kB"  # Go's %.3g too


@pytest.mark.parametrize(
    ("size", "expected"),
    [(0, "0B"), (1024, "1KiB"), (1536, "1.5KiB"), (17 * 1024**2, "17MiB"), (1024**3, "1GiB")],
)
def test_bytes_size(size: int, expected: str) -> None:
    assert units.bytes_size(size) == expected


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("0", 0),
        ("10s", 10 * units.SECOND),
        ("1m30s", 90 * units.SECOND),
        ("1.5h", 90 * units.MINUTE),
        ("-10ms", -10 * units.MILLISECOND),
        ("+5us", 5000),
        ("5\u00b5s", 5000),
        ("1h2m3.5s", units.HOUR + 2 * units.MINUTE + 3500 * units.MILLISECOND),
        (".5s", 500 * units.MILLISECOND),
        ("300ns", 300),
    ],
)
def test_parse_duration(text: str, ns: int) -> None:
    assert units.parse_duration(text) == ns


@pytest.mark.parametrize("text", ["", "10", "1x", "s", "-", "1.s2", "."])
def test_parse_duration_refuses(text: str) -> None:
    with pytest.raises(InvalidArgument, match="time: "):
        units.parse_duration(text)


@pytest.mark.parametrize(
    ("ns", "text"),
    [
        (0, "0s"),
        (90 * units.SECOND, "1m30s"),
        (units.HOUR, "1h0m0s"),
        (1500 * units.MICROSECOND, "1.5ms"),
        (2 * units.SECOND + 1, "2.000000001s"),
        (-units.SECOND, "-1s"),
    ],
)
def test_format_duration(ns: int, text: str) -> None:
    assert units.format_duration(ns) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.5, "Less than a second"),
        (1, "1 second"),
        (30, "30 seconds"),
        (60, "About a minute"),
        (300, "5 minutes"),
        (3600, "About an hour"),
        (5 * 3600, "5 hours"),
        (3 * 86400, "3 days"),
        (20 * 86400, "2 weeks"),
        (90 * 86400, "3 months"),
        (800 * 86400, "2 years"),
    ],
)
def test_human_duration(seconds: float, text: str) -> None:
    assert units.human_duration(seconds) == text


def test_parse_ulimit() -> None:
    assert units.parse_ulimit("nofile=1024:2048") == ("nofile", 1024, 2048)
    assert units.parse_ulimit("nproc=512") == ("nproc", 512, 512)
    for bad, msg in (
        ("nofile", "invalid ulimit argument"),
        ("bogus=1", "invalid ulimit type"),
        ("nofile=2:1", "soft limit must be less than or equal"),
        ("nofile=a", "invalid ulimit argument"),
        ("nofile=1:2:3", "too many limit value arguments"),
    ):
        with pytest.raises(InvalidArgument, match=msg):
            units.parse_ulimit(bad)
