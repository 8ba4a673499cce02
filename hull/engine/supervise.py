"""The engine's supervision: container exits, restart policies, the exit watcher, recovery.

Functions bound as methods of :class:`hull.engine.engine.Engine` (``self`` is
the engine), as :mod:`hull.engine.containers` does for exec and logs. A
background thread reads the monitor's event stream; an exit updates State,
unmounts the rootfs, takes the network down, publishes ``die``/``oom`` and
applies the restart policy (:mod:`hull.engine.restart`) or ``--rm``.
``recover`` reconciles the records with what the monitor still runs when
hulld starts, or when the monitor came back.
"""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

from hull import metadata as md
from hull.engine import containers as ct
from hull.engine.config import HostConfig
from hull.engine.monitor.client import ensure_monitor
from hull.engine.reaper import sweep
from hull.engine.restart import Backoff, Policy, restart_at_daemon_start, wants_restart
from hull.errors import HullError, NotFound
from hull.metadata import ContainerRecord

if TYPE_CHECKING:
    from hull.engine.engine import Engine


def log(msg: str) -> None:
    """One line on hulld's stderr."""
    print(f"hull engine: {msg}", file=sys.stderr, flush=True)


# -- exits, restart policies ---------------------------------------------------


def on_exit(
    self: Engine, cid: str, code: int, oom: bool, finished: str | None, *, policy: bool = True
) -> None:
    with self._lock:
        try:
            rec = md.get_container(self.db, cid)
        except NotFound:
            return
        if not rec.state.get("Running") or rec.state.get("Restarting"):
            return
        self._unmount(cid)
        self._net_down(cid, HostConfig.from_json(rec.host_config))
        ran_for = time.monotonic() - self._started.pop(cid, time.monotonic())
        self.health.forget(cid)
        # moby: a stopped container's health is "unhealthy", for compatibility
        health = rec.state.get("Health")
        stopped = {"Health": {**health, "Status": "unhealthy"}} if health else {}
        rec = self._set_state(cid, Status="exited", Running=False, Paused=False, Pid=0,
                              ExitCode=code, OOMKilled=oom,
                              FinishedAt=finished or ct.now_rfc3339(), **stopped)  # fmt: skip
        self._exits[cid] = self._exits.get(cid, 0) + 1
        self._last_exit[cid] = code
        for ex in list(self.execs.values()):
            if ex["ContainerID"] == cid and ex["Running"]:
                ex["Running"] = False
        if oom:
            self.publish("oom", rec)
        self.publish("die", rec, exitCode=str(code))
        host = HostConfig.from_json(rec.host_config)
        if host.auto_remove:
            self._remove_locked(cid, volumes=True)
            return
        pol = Policy(host.restart_policy.name, host.restart_policy.maximum_retry_count)
        if policy and wants_restart(pol, code, rec.restart_count, rec.state.get("_manual", False)):
            delay = self._backoff.setdefault(cid, Backoff()).next(ran_for)
            self._set_state(cid, Status="restarting", Running=True, Restarting=True)
            timer = threading.Timer(delay, self._restart_due, (cid,))
            timer.daemon = True
            self._timers[cid] = timer
            timer.start()


def restart_due(self: Engine, cid: str) -> None:
    with self._lock:
        self._timers.pop(cid, None)
        try:
            rec = md.get_container(self.db, cid)
        except NotFound:
            return
        if not rec.state.get("Restarting"):
            return
        rec = md.update_container(self.db, cid, restart_count=rec.restart_count + 1)
        try:
            self._start_locked(rec)
        except HullError as exc:
            log(f"restarting {cid}: {exc}")
            self._set_state(cid, Status="exited", Running=False, Restarting=False)


def cancel_restart(self: Engine, cid: str) -> None:
    timer = self._timers.pop(cid, None)
    if timer is not None:
        timer.cancel()
    with contextlib.suppress(NotFound):
        if md.get_container(self.db, cid).state.get("Restarting"):
            self._set_state(cid, Status="exited", Running=False, Restarting=False)


def exec_exited(self: Engine, eid: str, code: int) -> None:
    ex = self.execs.get(eid)
    if ex is None:
        return
    ex["Running"], ex["ExitCode"] = False, code
    with contextlib.suppress(NotFound):
        rec = md.get_container(self.db, ex["ContainerID"])
        self.publish("exec_die", rec, execID=eid, exitCode=str(code))
    with self._cond:
        self._cond.notify_all()


# -- the exit watcher ----------------------------------------------------------


def start_watcher(self: Engine) -> None:
    """Subscribe to the monitor's events and handle them in a background thread."""
    if self._watcher is not None:
        return
    self._stopping.clear()
    sock, _ = self.monitor._open({"op": "events"}, None)
    self._watch_sock = sock
    self._watcher = threading.Thread(target=self._watch, name="hull-exit-watcher", daemon=True)
    self._watcher.start()


def stop_watcher(self: Engine) -> None:
    """Stop handling events (containers keep running under the monitor)."""
    self._stopping.set()
    sock, self._watch_sock = self._watch_sock, None
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
    if self._watcher is not None:
        self._watcher.join(timeout=10)
        self._watcher = None
    for timer in list(self._timers.values()):
        timer.cancel()


def close(self: Engine) -> None:
    """Stop the watcher and close the database (the monitor and containers stay)."""
    self.health.close()
    self.stop_watcher()
    self.reaper.close()
    self.net.close()
    self.images.close()


def watch(self: Engine) -> None:
    while not self._stopping.is_set():
        sock = self._watch_sock
        if sock is not None:
            buf = b""
            with contextlib.suppress(OSError):
                while chunk := sock.recv(65536):
                    buf += chunk
                    *lines, buf = buf.split(b"\n")
                    for line in lines:
                        if line.strip():
                            self._handle_event(json.loads(line))
            with contextlib.suppress(OSError):
                sock.close()
        if self._stopping.wait(0.5):
            return
        try:  # the monitor went away: bring it back, then reconcile
            ensure_monitor(self.monitor_dir)
            self._watch_sock, _ = self.monitor._open({"op": "events"}, None)
            self.recover()
        except HullError as exc:
            log(f"reconnecting to the monitor: {exc}")


def handle_event(self: Engine, ev: dict[str, Any]) -> None:
    try:
        if ev.get("type") != "exit":
            return
        if "exec_id" in ev:
            self._exec_exited(str(ev["exec_id"]), int(ev.get("exit_code") or 0))
        else:
            self._on_exit(str(ev["id"]), int(ev.get("exit_code") or 0),
                          bool(ev.get("oom_killed")), ev.get("time"))  # fmt: skip
    except Exception as exc:  # the watcher must survive anything
        log(f"handling event {ev}: {exc!r}")


# -- recover -------------------------------------------------------------------


def recover(self: Engine) -> None:
    """Reconcile records with the monitor after a hulld restart; apply restart policies."""
    procs = {p["id"]: p for p in self.monitor.list() if "exec_id" not in p}
    if not self._net_recovered:  # once per engine: later calls race with starts
        self._net_recovered = True
        known = {rec.id for rec in md.list_containers(self.db)}
        left = sweep(self.images.snapshots, known, self.containers_dir, self.bundles_dir)
        if left:
            log(f"removed what {len(left)} removed container(s) had left on disk")
        try:
            self.net.recover({cid for cid, p in procs.items() if p.get("running")})
        except (HullError, OSError) as exc:
            log(f"restoring the network state: {exc}")
    for rec in md.list_containers(self.db):
        cid, st = rec.id, rec.state
        if st.get("Running") and not st.get("Restarting"):
            p = procs.get(cid)
            if p is not None and p.get("running"):
                self._started.setdefault(cid, time.monotonic())
                if st.get("Health"):  # probes go on where they were
                    self.health.watch(cid, rec.config, st["Health"])
                if p.get("pid") and p["pid"] != st.get("Pid"):
                    self._set_state(cid, Pid=p["pid"])
                continue
            code, oom, fin = 255, False, None
            if p is not None and p.get("exit_code") is not None:
                code, oom, fin = p["exit_code"], bool(p["oom_killed"]), p.get("finished_at")
            else:
                with contextlib.suppress(OSError, ValueError):
                    rec_ = json.loads((self.container_dir(cid) / "exit.json").read_text())
                    code, oom = int(rec_["exit_code"]), bool(rec_["oom_killed"])
                    fin = rec_.get("finished_at")
            self._on_exit(cid, code, oom, fin, policy=False)
        elif st.get("Restarting") and cid not in self._timers:
            self._set_state(cid, Status="exited", Running=False, Restarting=False)
        else:
            self._unmount(cid)
        with contextlib.suppress(NotFound):
            self._restart_at_start(md.get_container(self.db, cid))


def restart_at_start(self: Engine, rec: ContainerRecord) -> None:
    st = rec.state
    if st.get("Running") or st.get("StartedAt") in (None, ct.ZERO_TIME):
        return
    host = HostConfig.from_json(rec.host_config)
    pol = Policy(host.restart_policy.name, host.restart_policy.maximum_retry_count)
    if not restart_at_daemon_start(
        pol, int(st.get("ExitCode", 0)), rec.restart_count, bool(st.get("_manual"))
    ):
        return
    try:
        self.start(rec.id)
    except HullError as exc:
        log(f"restarting {rec.id} at daemon start: {exc}")
