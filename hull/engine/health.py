"""Healthchecks: the daemon runs a container's probe and keeps ``State.Health``.

One scheduler thread serves every container (a heap of due times); each
probe runs in a short-lived thread of its own, so a probe that hangs until
its timeout delays no other container. A probe is an exec in the container,
as Docker's is (and shows in ``docker events`` as one). The rules are moby's
``daemon/health.go``:

* ``CMD`` runs the arguments, ``CMD-SHELL`` runs them with ``/bin/sh -c``,
  ``NONE`` (or no test) means no healthcheck;
* exit 0 is healthy and resets the failing streak; any other result adds to
  the streak, and ``Retries`` consecutive ones make the container unhealthy,
  except that failures during ``StartPeriod`` do not count while the status
  is still ``starting``;
* a probe that outlives ``Timeout`` is killed and recorded with exit code -1;
* the log keeps the last 5 results, each output cut to 4096 bytes;
* when the container stops the status becomes ``unhealthy`` (moby keeps that
  for compatibility), and a start begins again at ``starting``.
"""

from __future__ import annotations

import contextlib
import heapq
import os
import select
import signal
import socket
import struct
import threading
import time
from typing import TYPE_CHECKING, Any

from hull.engine.units import format_duration
from hull.errors import HullError

if TYPE_CHECKING:
    from hull.engine.engine import Engine

DEFAULT_INTERVAL = 30.0
DEFAULT_TIMEOUT = 30.0
DEFAULT_RETRIES = 3
DEFAULT_START_INTERVAL = 5.0
MAX_LOG = 5
MAX_OUTPUT = 4096
NS = 1_000_000_000


def probe_command(test: list[str] | tuple[str, ...] | None) -> list[str] | None:
    """The argv a healthcheck test runs; None when there is no check."""
    if not test:
        return None
    kind, args = test[0], list(test[1:])
    if kind == "NONE":
        return None
    if kind == "CMD":
        return args or None
    if kind == "CMD-SHELL":
        return ["/bin/sh", "-c", " ".join(args)] if args else None
    return None  # an unknown kind: moby refuses it at create; an old record just has no check


class Schedule:
    """When a container's probe is next due, from its config and how it went so far."""

    def __init__(self, hc: dict[str, Any]) -> None:
        self.interval = (hc.get("Interval") or 0) / NS or DEFAULT_INTERVAL
        self.timeout = (hc.get("Timeout") or 0) / NS or DEFAULT_TIMEOUT
        self.start_period = (hc.get("StartPeriod") or 0) / NS
        self.start_interval = (hc.get("StartInterval") or 0) / NS or DEFAULT_START_INTERVAL
        self.retries = hc.get("Retries") or DEFAULT_RETRIES

    def next_delay(self, starting: bool, since_start: float) -> float:
        """Seconds until the next probe."""
        if starting and since_start < self.start_period:
            return min(self.start_interval, self.interval)
        return self.interval


def apply_result(
    health: dict[str, Any], result: dict[str, Any], sched: Schedule, since_start: float
) -> dict[str, Any]:
    """The new ``State.Health`` after one probe result (moby's handleProbeResult)."""
    h = {"Status": health.get("Status", "starting"),
         "FailingStreak": int(health.get("FailingStreak", 0)),
         "Log": [*(health.get("Log") or []), result][-MAX_LOG:]}  # fmt: skip
    if result["ExitCode"] == 0:
        h["FailingStreak"] = 0
        h["Status"] = "healthy"
    elif not (h["Status"] == "starting" and since_start < sched.start_period):
        h["FailingStreak"] += 1
        if h["FailingStreak"] >= sched.retries:
            h["Status"] = "unhealthy"
    return h


def _demux(data: bytes) -> bytes:
    """stdout and stderr interleaved, from Docker's 8-byte framed stream."""
    out, i = [], 0
    while i + 8 <= len(data):
        _, size = struct.unpack(">BxxxL", data[i : i + 8])
        out.append(data[i + 8 : i + 8 + size])
        i += 8 + size
    return b"".join(out)


class HealthChecker:
    """Runs every running container's healthcheck; started on first use."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._heap: list[tuple[float, int, str, int]] = []  # (due, seq, container, generation)
        self._gen: dict[str, int] = {}  # container -> generation of its current run
        self._started: dict[str, float] = {}
        self._cond = threading.Condition()
        self._seq = 0
        self._thread: threading.Thread | None = None
        self._closed = False

    # -- lifecycle hooks (called by the engine) ---------------------------------------

    def watch(
        self, cid: str, config: dict[str, Any], health: dict[str, Any] | None = None
    ) -> dict[str, Any] | None:
        """A container started: schedule its probes; its ``Health`` then (None: no check).

        A start begins at ``starting`` with the streak reset and the log kept
        (moby's initHealthMonitor).
        """
        hc = config.get("Healthcheck") or {}
        if probe_command(hc.get("Test")) is None:
            return None
        sched = Schedule(hc)
        with self._cond:
            gen = self._gen.get(cid, 0) + 1
            self._gen[cid] = gen
            self._started[cid] = time.monotonic()
            self._push(time.monotonic() + sched.next_delay(True, 0.0), cid, gen)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="health", daemon=True)
                self._thread.start()
        return {"Status": "starting", "FailingStreak": 0, "Log": (health or {}).get("Log") or []}

    def forget(self, cid: str) -> None:
        """The container stopped or went away: no more probes for this run."""
        with self._cond:
            self._gen[cid] = self._gen.get(cid, 0) + 1
            self._started.pop(cid, None)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    # -- the scheduler ----------------------------------------------------------------

    def _push(self, due: float, cid: str, gen: int) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (due, self._seq, cid, gen))
        self._cond.notify_all()

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._closed:
                    now = time.monotonic()
                    if self._heap and self._heap[0][0] <= now:
                        break
                    self._cond.wait(self._heap[0][0] - now if self._heap else None)
                if self._closed:
                    return
                _, _, cid, gen = heapq.heappop(self._heap)
                if self._gen.get(cid) != gen:
                    continue
            threading.Thread(target=self._probe, args=(cid, gen), name=f"probe-{cid[:12]}",
                             daemon=True).start()  # fmt: skip

    def _current(self, cid: str, gen: int) -> bool:
        with self._cond:
            return self._gen.get(cid) == gen and not self._closed

    def _probe(self, cid: str, gen: int) -> None:
        from hull.metadata import containers as md

        eng = self.engine
        try:
            rec = md.get_container(eng.db, cid)
        except HullError:
            self.forget(cid)
            return
        hc = rec.config.get("Healthcheck") or {}
        argv = probe_command(hc.get("Test"))
        if argv is None or not rec.state.get("Running"):
            return
        sched = Schedule(hc)
        result = self.run_probe(cid, argv, sched.timeout)
        with eng._lock:
            if not self._current(cid, gen):
                return  # the container stopped while the probe ran
            since = time.monotonic() - self._started.get(cid, time.monotonic())
            rec = md.get_container(eng.db, cid)
            old = rec.state.get("Health") or {}
            new = apply_result(old, result, sched, since)
            rec = eng._set_state(cid, Health=new)
        if new["Status"] != old.get("Status"):
            eng.publish(f"health_status: {new['Status']}", rec)
        with self._cond:
            if self._gen.get(cid) == gen:
                self._push(time.monotonic() + sched.next_delay(new["Status"] == "starting", since),
                           cid, gen)  # fmt: skip

    def run_probe(self, cid: str, argv: list[str], timeout: float) -> dict[str, Any]:
        """Run ``argv`` in the container: Docker's HealthcheckResult."""
        from hull.engine.containers import now_rfc3339

        eng = self.engine
        start = now_rfc3339()
        try:
            eid = eng.exec_create(cid, {"Cmd": argv, "AttachStdout": True, "AttachStderr": True})
            sock = eng.exec_start(eid)
        except HullError as exc:
            return {"Start": start, "End": now_rfc3339(), "ExitCode": -1, "Output": exc.message}
        assert sock is not None
        data, timed_out = _read_until(sock, time.monotonic() + timeout)
        output = _demux(data)[:MAX_OUTPUT].decode(errors="replace")
        if timed_out:
            with contextlib.suppress(HullError, ProcessLookupError, KeyError):
                pid = int(eng.execs[eid].get("Pid") or 0)
                if pid > 0:
                    os.kill(pid, signal.SIGKILL)
            code = -1
            output = f"Health check exceeded timeout ({format_duration(round(timeout * NS))})"
        else:
            code = _exit_code(eng, eid)
        eng.execs.pop(eid, None)
        return {"Start": start, "End": now_rfc3339(), "ExitCode": code, "Output": output}


def _read_until(sock: socket.socket, deadline: float) -> tuple[bytes, bool]:
    chunks: list[bytes] = []
    size = 0
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return b"".join(chunks), True
            if not select.select([sock], [], [], left)[0]:
                continue
            data = sock.recv(65536)
            if not data:
                return b"".join(chunks), False
            if size < MAX_OUTPUT + 8 * 64:
                chunks.append(data)
                size += len(data)
    finally:
        sock.close()


def _exit_code(eng: Engine, eid: str, wait: float = 2.0) -> int:
    """The exec's exit code once the monitor has reported it (-1 if it never does)."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        info = eng.exec_inspect(eid)
        if not info["Running"] and info["ExitCode"] is not None:
            return int(info["ExitCode"])
        time.sleep(0.01)
    return -1
