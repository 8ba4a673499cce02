"""Healthcheck rules (moby's daemon/health.go) without a container."""

from __future__ import annotations

from hull.engine.health import Schedule, apply_result, probe_command

NS = 1_000_000_000


def test_probe_command() -> None:
    assert probe_command(["CMD", "curl", "-f", "x"]) == ["curl", "-f", "x"]
    assert probe_command(["CMD-SHELL", "test -f /ok || exit 1"]) == [
        "/bin/sh", "-c", "test -f /ok || exit 1"]  # fmt: skip
    assert probe_command(["NONE"]) is None
    assert probe_command(None) is None and probe_command([]) is None


def test_defaults_and_start_interval() -> None:
    s = Schedule({})
    assert (s.interval, s.timeout, s.retries, s.start_period) == (30.0, 30.0, 3, 0.0)
    s = Schedule({"Interval": 10 * NS, "StartPeriod": 60 * NS, "StartInterval": 2 * NS})
    assert s.next_delay(True, 5.0) == 2.0  # still starting, inside the start period
    assert s.next_delay(True, 61.0) == 10.0
    assert s.next_delay(False, 5.0) == 10.0


def result(code: int) -> dict[str, object]:
    return {"Start": "s", "End": "e", "ExitCode": code, "Output": ""}


def test_streaks_retries_and_start_period() -> None:
    s = Schedule({"Retries": 2, "StartPeriod": 10 * NS})
    h: dict[str, object] = {"Status": "starting", "FailingStreak": 0, "Log": []}
    h = apply_result(h, result(1), s, since_start=1.0)  # in the start period: not counted
    assert (h["Status"], h["FailingStreak"]) == ("starting", 0)
    h = apply_result(h, result(1), s, since_start=11.0)
    assert (h["Status"], h["FailingStreak"]) == ("starting", 1)
    h = apply_result(h, result(1), s, since_start=12.0)
    assert (h["Status"], h["FailingStreak"]) == ("unhealthy", 2)
    h = apply_result(h, result(0), s, since_start=13.0)
    assert (h["Status"], h["FailingStreak"]) == ("healthy", 0)
    for i in range(7):
        h = apply_result(h, result(i), s, since_start=20.0 + i)
    assert len(h["Log"]) == 5  # type: ignore[arg-type]
