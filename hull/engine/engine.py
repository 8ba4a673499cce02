"""The engine facade: containers from images, driven through the monitor and an OCI runtime.

``Engine(data_root, exec_root)`` owns an :class:`ImageService`, a
:class:`VolumeManager`, the container monitor (started if needed, shared
across hulld restarts), ``<data_root>/containers/<id>/`` (``hostname``,
``hosts``, ``resolv.conf``, ``<id>-json.log``, ``exit.json``, config copies)
and ``<exec_root>/bundles/<id>/`` (``config.json`` and the ``rootfs`` mount
point). Runtime state lives under ``<exec_root>/runtime/<runtime name>``.

Networking (:mod:`hull.engine.networking`): ``NetworkMode: "default"`` is
the default bridge; user-defined networks, ``host``, ``none`` and
``container:<id>`` as Docker's. The namespace of a bridged container is made
and wired before the runtime runs, and dropped when the container exits.

State transitions hold one re-entrant lock and notify one condition, so
``wait``/``stop`` (usable from any thread) block on the condition, not on
the monitor. A background thread consumes the monitor's events: an exit
updates State, unmounts the rootfs, publishes ``die``/``oom``, applies the
restart policy (:mod:`hull.engine.restart`) and ``--rm``. ``recover()`` at
daemon start reconciles records with what the monitor still runs. Lifecycle
methods are in this module; exits, restarts, the watcher and recovery are
functions of :mod:`hull.engine.supervise`, and exec, logs, attach, top,
stats, changes, export, commit and prune of :mod:`hull.engine.containers`,
bound here.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from hull import errors
from hull import metadata as md
from hull.engine import containers as ct
from hull.engine import filesystem as fs
from hull.engine import inspect as shapes
from hull.engine import networking as nw
from hull.engine import networks as nws
from hull.engine import supervise as sv
from hull.engine.config import ContainerConfig, HostConfig, parse_create_body, validate
from hull.engine.defaults import merge_image_config, with_create_defaults
from hull.engine.health import HealthChecker
from hull.engine.monitor.attaching import AttachingMonitor
from hull.engine.monitor.client import ensure_monitor
from hull.engine.names import new_id, random_name
from hull.engine.reaper import Reaper, remove_files
from hull.engine.restart import Backoff
from hull.engine.spec import command_args, generate_spec
from hull.engine.volumes import VolumeManager
from hull.errors import Conflict, ContainerExit, HullError, InvalidArgument, NotFound
from hull.images import ImageService, UsedBy
from hull.images.removal import image_users
from hull.metadata import ContainerRecord
from hull.network.files import write_atomic
from hull.oci.image_config import ImageConfig

EventSink = Callable[[str, str, str, Mapping[str, str]], object]
KILL = 9


def _default_runtime() -> str:
    venv = Path(sys.executable).parent / "hull-runtime"
    return str(venv) if venv.exists() else (shutil.which("hull-runtime") or str(venv))


def _init_path() -> str | None:
    for name in ("docker-init", "tini-static", "tini"):
        found = shutil.which(name)
        if found:
            return found
    return None


class Engine:
    """Containers in one data root; see the module docstring."""

    def __init__(
        self,
        data_root: Path,
        exec_root: Path,
        *,
        runtimes: Mapping[str, str] | None = None,
        default_runtime: str = "hull-runtime",
        events: EventSink | None = None,
        watch: bool = True,
    ) -> None:
        self.data_root = Path(data_root)
        self.exec_root = Path(exec_root)
        self.runtimes = dict(runtimes) if runtimes else {"hull-runtime": _default_runtime()}
        if default_runtime not in self.runtimes:
            raise InvalidArgument(f"default runtime {default_runtime} is not configured")
        self.default_runtime = default_runtime
        self.images = ImageService(self.data_root)
        self.db = self.images.db
        self.volumes = VolumeManager(self.data_root, self.db)
        self.net = nw.Networking(self.data_root, self.exec_root, self.db.path)
        self._net_recovered = False
        self.containers_dir = self.data_root / "containers"
        self.bundles_dir = self.exec_root / "bundles"
        for d in (self.containers_dir, self.bundles_dir):
            d.mkdir(parents=True, exist_ok=True)
        self.monitor_dir = self.exec_root / "monitor"
        ensure_monitor(self.monitor_dir)
        self.monitor = AttachingMonitor(self.monitor_dir)
        self._sink = events
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._exits: dict[str, int] = {}
        self._last_exit: dict[str, int] = {}
        self._backoff: dict[str, Backoff] = {}
        self._timers: dict[str, threading.Timer] = {}
        self._started: dict[str, float] = {}
        self.execs: dict[str, dict[str, Any]] = {}
        self._stopping = threading.Event()
        self._watch_sock: socket.socket | None = None
        self._watcher: threading.Thread | None = None
        self.health = HealthChecker(self)
        self.reaper = Reaper()
        from hull.runtime.cgroups import host_layout

        self.cgroup_v2 = host_layout() == "v2"
        if watch:
            self.start_watcher()

    # -- paths and small helpers ------------------------------------------------------

    def container_dir(self, cid: str) -> Path:
        return self.containers_dir / cid

    def bundle_dir(self, cid: str) -> Path:
        return self.bundles_dir / cid

    def log_path(self, cid: str) -> Path:
        return self.container_dir(cid) / f"{cid}-json.log"

    def runtime_root(self, runtime: str) -> Path:
        return self.exec_root / "runtime" / runtime

    def runtime_path(self, rec: ContainerRecord) -> str:
        try:
            return self.runtimes[rec.runtime]
        except KeyError:
            raise InvalidArgument(f"unknown or invalid runtime name: {rec.runtime}") from None

    def cgroup_paths(self, rec: ContainerRecord) -> dict[str, str]:
        """The container's cgroup directories, keyed by controller ("" for the unified tree)."""
        from hull.runtime.cgroups import create_cgroup_manager

        parent = str(rec.host_config.get("CgroupParent") or "/hull")
        return create_cgroup_manager(f"{parent}/{rec.id}", rec.id).paths()

    def find(self, ref: str) -> ContainerRecord:
        """A container by id, name or unique id prefix (Docker's "No such container")."""
        return md.find_container(self.db, ref)

    def publish(self, action: str, rec: ContainerRecord, **extra: str) -> None:
        if self._sink is None:
            return
        attrs = {**(rec.config.get("Labels") or {}), "image": rec.image_ref, "name": rec.name}
        attrs.update(extra)
        try:
            self._sink("container", action, rec.id, attrs)
        except Exception as exc:  # an event consumer must not break the lifecycle
            sv.log(f"publishing {action} of {rec.id}: {exc}")

    def _set_state(self, cid: str, **changes: Any) -> ContainerRecord:
        with self._cond:
            rec = md.get_container(self.db, cid)
            rec = md.update_container(self.db, cid, state={**rec.state, **changes})
            self._cond.notify_all()
            return rec

    def _exists(self, cid: str) -> bool:
        try:
            md.get_container(self.db, cid)
        except NotFound:
            return False
        return True

    def _has_process(self, cid: str) -> bool:
        """Whether a process of the container runs (restarting ones have none)."""
        try:
            st = md.get_container(self.db, cid).state
        except NotFound:
            return False
        return bool(st.get("Running")) and not st.get("Restarting")

    def _unmount(self, cid: str) -> None:
        rootfs = self.bundle_dir(cid) / "rootfs"
        while os.path.ismount(rootfs):
            try:
                self.images.snapshots.unmount(rootfs)
            except OSError as exc:
                sv.log(f"unmounting {rootfs}: {exc}; detaching")
                self.images.snapshots.unmount(rootfs, detach=True)

    # -- create -------------------------------------------------------------------------

    def create(self, body: dict[str, Any], name: str | None = None) -> tuple[str, list[str]]:
        """A new container from Docker's create body: (id, warnings)."""
        req = parse_create_body(body)
        cfg, host = req.config, req.host_config
        if not cfg.image:
            raise InvalidArgument("No image specified")
        image = self.images.resolve(cfg.image)
        icfg = ImageConfig.from_bytes(image.config)
        cfg = merge_image_config(cfg, icfg.config)
        host = with_create_defaults(
            host, cgroup_v2=self.cgroup_v2, default_runtime=self.default_runtime
        )
        validate(cfg, host)
        if host.runtime not in self.runtimes:
            raise InvalidArgument(f"unknown or invalid runtime name: {host.runtime}")
        networks = self.net.plan(self, cfg, host, req.networking_config)
        ct.log_options(host)
        command_args(cfg)
        cid = new_id()
        if not cfg.hostname:
            cfg = dataclasses.replace(cfg, hostname=ct.default_hostname(cid, host))
        plan = ct.plan_mounts(cfg, host)
        rec = ContainerRecord(
            id=cid, name="", image_id=str(image.id), image_ref=cfg.image,
            config=cfg.to_json(), host_config=host.to_json(), runtime=host.runtime,
            network_settings={"Networks": networks},
            state={**ct.new_state(), "_mounts": []}, snapshot_key=cid,
        )  # fmt: skip
        rec = self._insert(rec, name)
        try:
            self.images.prepare_rootfs(cid, image)
            cdir = self.container_dir(cid)
            cdir.mkdir(mode=0o710, parents=True, exist_ok=True)
            ct.write_network_files(cdir, cfg, host)
            write_atomic(cdir / "config.v2.json", json.dumps(rec.config), durable=False)
            write_atomic(cdir / "hostconfig.json", json.dumps(rec.host_config), durable=False)
            ct.make_mounts(plan, cid, self.volumes)
            rec = self._set_state(cid, _mounts=plan)
        except BaseException:
            with self._lock:
                self._remove_locked(cid, volumes=True, publish=False)
            raise
        self.publish("create", rec)
        return cid, []

    def _insert(self, rec: ContainerRecord, name: str | None) -> ContainerRecord:
        if name:
            return md.put_container(self.db, dataclasses.replace(rec, name=name.lstrip("/")))
        for attempt in range(10):
            try:
                return md.put_container(
                    self.db, dataclasses.replace(rec, name=random_name(attempt))
                )
            except errors.AlreadyExists:
                continue
        raise errors.Internal("could not find a free random container name")

    # -- start --------------------------------------------------------------------------

    def start(self, ref: str) -> None:
        """Start a created or stopped container (already running: ``AlreadyInState``)."""
        with self._lock:
            rec = self.find(ref)
            st = rec.state
            if st.get("Paused"):
                raise Conflict("cannot start a paused container, try unpause instead")
            if st.get("Running") and not st.get("Restarting"):
                raise ct.AlreadyInState(f"container {rec.id} is already running")
            self._cancel_restart(rec.id)
            self._backoff.pop(rec.id, None)
            rec = md.update_container(self.db, rec.id, restart_count=0,
                                      state={**rec.state, "_manual": False})  # fmt: skip
            self._start_locked(rec)

    def _start_locked(self, rec: ContainerRecord) -> int:
        cid = rec.id
        cfg = ContainerConfig.from_json(rec.config)
        host = HostConfig.from_json(rec.host_config)
        logopts = ct.log_options(host)
        bundle = self.bundle_dir(cid)
        rootfs = bundle / "rootfs"
        rootfs.mkdir(parents=True, exist_ok=True)
        cdir = self.container_dir(cid)
        try:
            if not os.path.ismount(rootfs):
                self.images.snapshots.mount(rec.snapshot_key or cid, rootfs)
            plan: list[dict[str, Any]] = rec.state.get("_mounts") or []
            self._copy_up(rootfs, plan)
            netcfg = self.net.attach(self, rec, cfg, host, cdir)
            files = netcfg.files_dir or cdir
            spec = generate_spec(
                None, cfg, host, container_id=cid, rootfs=str(rootfs),
                hostname=netcfg.hostname or cfg.hostname,
                resolv_conf=str(files / "resolv.conf"), hosts_file=str(files / "hosts"),
                hostname_file=str(files / "hostname"), mounts=ct.resolved_mounts(plan),
                init_path=_init_path() if host.init else None, cgroup_v2=self.cgroup_v2,
                netns_path=netcfg.netns_path,
            )  # fmt: skip
            write_atomic(bundle / "config.json", json.dumps(spec), durable=False)
            (cdir / "exit.json").unlink(missing_ok=True)
            paths = self.cgroup_paths(rec)
            pid = self.monitor.start(
                cid, str(bundle), runtime=self.runtime_path(rec),
                runtime_root=str(self.runtime_root(rec.runtime)), tty=cfg.tty,
                open_stdin=cfg.open_stdin, stdin_once=cfg.stdin_once,
                log=None if logopts is None else {"path": str(self.log_path(cid)), **logopts},
                exit_file=str(cdir / "exit.json"),
                cgroup_memory=paths.get("memory") or paths.get(""),
            )  # fmt: skip
        except ContainerExit as exc:
            self._unmount(cid)
            self._net_down(cid, host)
            msg = f"failed to create task for container: failed to create shim task: {exc}: unknown"
            self._set_state(cid, Error=msg, ExitCode=exc.exit_code)
            raise ContainerExit(msg, exc.exit_code) from None
        except HullError as exc:
            self._unmount(cid)
            self._net_down(cid, host)
            self._set_state(cid, Error=exc.message)
            raise
        except OSError as exc:
            self._unmount(cid)
            self._net_down(cid, host)
            self._set_state(cid, Error=str(exc))
            raise errors.Internal(f"starting container {cid}: {exc}") from exc
        self._started[cid] = time.monotonic()
        health = self.health.watch(cid, rec.config, rec.state.get("Health"))
        rec = self._set_state(cid, Status="running", Running=True, Paused=False, Restarting=False,
                              OOMKilled=False, Dead=False, Pid=pid, ExitCode=0, Error="",
                              StartedAt=ct.now_rfc3339(),
                              **({"Health": health} if health else {}))  # fmt: skip
        self.publish("start", rec)
        return pid

    def _net_down(self, cid: str, host: HostConfig) -> None:
        """Release the container's network (endpoints, ports, namespace); never raises."""
        try:
            self.net.detach(cid, nw.mode_of(host))
        except (HullError, OSError) as exc:
            sv.log(f"releasing the network of {cid}: {exc}")

    def _copy_up(self, rootfs: Path, plan: list[dict[str, Any]]) -> None:
        from hull.runtime.rootfs import secure_join

        for mp in plan:
            if mp["Type"] == "volume" and mp.get("CopyData"):
                src = Path(secure_join(str(rootfs), mp["Destination"]))
                with contextlib.suppress(NotFound):
                    self.volumes.copy_up(src, self.volumes.get(mp["Name"]))

    # -- exits, restart policies, the exit watcher, recovery (in supervise.py) ---------

    _on_exit = sv.on_exit
    _restart_due = sv.restart_due
    _cancel_restart = sv.cancel_restart
    start_watcher = sv.start_watcher
    stop_watcher = sv.stop_watcher
    close = sv.close
    _watch = sv.watch
    _handle_event = sv.handle_event
    recover = sv.recover
    _restart_at_start = sv.restart_at_start

    # -- stop, kill, restart, pause -----------------------------------------------------

    def _wait_no_process(self, cid: str, timeout: float | None) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: not self._has_process(cid), timeout)

    def _signal(self, rec: ContainerRecord, sig: int) -> None:
        try:
            self.monitor.kill(rec.id, sig)
        except (NotFound, Conflict):
            if self._has_process(rec.id):
                raise
        self.publish("kill", rec, signal=str(sig))

    def stop(self, ref: str, timeout: int | None = None, signal: str | None = None) -> None:
        """Stop signal, then SIGKILL after ``timeout`` s (the container's StopTimeout, or 10)."""
        rec = self.find(ref)
        cfg = ContainerConfig.from_json(rec.config)
        sig = ct.parse_signal(signal, ct.parse_signal(cfg.stop_signal or "SIGTERM"))
        with self._lock:
            rec = md.get_container(self.db, rec.id)
            if rec.state.get("Restarting"):
                self._set_state(rec.id, _manual=True)
                self._cancel_restart(rec.id)
                return
            if not rec.state.get("Running"):
                raise ct.AlreadyInState(f"container {rec.id} is already stopped")
            self._set_state(rec.id, _manual=True)
        t = timeout if timeout is not None else cfg.stop_timeout
        t = 10 if t is None else t
        self._signal(rec, sig)
        if rec.state.get("Paused"):
            with contextlib.suppress(HullError):
                self._runtime_verb(rec, "resume")
        if not self._wait_no_process(rec.id, None if t < 0 else float(t)):
            self._signal(rec, KILL)
            if not self._wait_no_process(rec.id, 30.0):
                raise errors.Internal(f"tried to kill container {rec.id}, but it did not exit")
        self.publish("stop", rec)

    def kill(self, ref: str, signal: str | int = "KILL") -> None:
        """Send a signal; SIGKILL or the stop signal also disables the restart policy."""
        rec = self.find(ref)
        sig = ct.parse_signal(signal)
        cfg = ContainerConfig.from_json(rec.config)
        if not rec.state.get("Running"):
            raise Conflict(f"Container {rec.id} is not running")
        if sig == KILL or sig == ct.parse_signal(cfg.stop_signal or "SIGTERM"):
            with self._lock:
                self._set_state(rec.id, _manual=True)
                if rec.state.get("Restarting"):
                    self._cancel_restart(rec.id)
                    return
        try:
            self._signal(rec, sig)
        except (NotFound, Conflict):
            raise Conflict(f"Container {rec.id} is not running") from None
        if sig == KILL:
            self._wait_no_process(rec.id, 10.0)

    def restart(self, ref: str, timeout: int | None = None) -> None:
        """Stop (if running) then start."""
        rec = self.find(ref)
        with contextlib.suppress(ct.AlreadyInState):
            self.stop(rec.id, timeout)
        self.start(rec.id)
        self.publish("restart", md.get_container(self.db, rec.id))

    def _runtime_verb(self, rec: ContainerRecord, verb: str) -> None:
        argv = [self.runtime_path(rec), "--root", str(self.runtime_root(rec.runtime)), verb,
                rec.id]  # fmt: skip
        res = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
        if res.returncode != 0:
            text = (res.stderr or res.stdout).strip().splitlines()
            raise errors.Internal(
                f"OCI runtime {verb} failed: {text[-1] if text else res.returncode}"
            )

    def pause(self, ref: str) -> None:
        """Freeze every process of a running container."""
        with self._lock:
            rec = self.find(ref)
            if not self._has_process(rec.id):
                raise Conflict(f"Container {rec.id} is not running")
            if rec.state.get("Paused"):
                raise Conflict(f"Container {rec.id} is already paused")
            self._runtime_verb(rec, "pause")
            rec = self._set_state(rec.id, Paused=True, Status="paused")
        self.publish("pause", rec)

    def unpause(self, ref: str) -> None:
        """Thaw a paused container."""
        with self._lock:
            rec = self.find(ref)
            if not rec.state.get("Paused"):
                raise Conflict(f"Container {rec.id} is not paused")
            self._runtime_verb(rec, "resume")
            rec = self._set_state(rec.id, Paused=False, Status="running")
        self.publish("unpause", rec)

    # -- wait, remove, rename -----------------------------------------------------------

    def wait(self, ref: str, condition: str = "not-running") -> dict[str, Any]:
        """Block until the condition holds: ``{"StatusCode", "Error"}``."""
        if condition in ("", None):
            condition = "not-running"
        if condition not in ("not-running", "next-exit", "removed"):
            raise InvalidArgument(f"invalid condition: {condition!r}")
        rec = self.find(ref)
        cid = rec.id
        with self._cond:
            if condition == "removed":
                self._cond.wait_for(lambda: not self._exists(cid))
            elif condition == "not-running" and not md.get_container(self.db, cid).state.get(
                "Running"
            ):
                pass
            else:
                gen = self._exits.get(cid, 0)
                self._cond.wait_for(lambda: self._exits.get(cid, 0) > gen or not self._exists(cid))
            try:
                code = int(md.get_container(self.db, cid).state.get("ExitCode", 0))
            except NotFound:
                code = self._last_exit.get(cid, int(rec.state.get("ExitCode", 0)))
        return {"StatusCode": code, "Error": None}

    def remove(self, ref: str, force: bool = False, volumes: bool = False) -> None:
        """Remove a container (``force`` kills it first; ``volumes`` its anonymous volumes)."""
        rec = self.find(ref)
        st = rec.state
        if st.get("Restarting") and not force:
            raise Conflict(f"You cannot remove a restarting container {rec.id}. Stop the "
                           "container before attempting removal or force remove")  # fmt: skip
        if st.get("Running") and not st.get("Restarting"):
            if not force:
                raise Conflict(f"You cannot remove a running container {rec.id}. Stop the "
                               "container before attempting removal or force remove")  # fmt: skip
            self._set_state(rec.id, _manual=True)
            with contextlib.suppress(NotFound, Conflict):
                self._signal(rec, KILL)
            if st.get("Paused"):
                with contextlib.suppress(HullError):
                    self._runtime_verb(rec, "resume")
            if not self._wait_no_process(rec.id, 30.0):
                raise errors.Internal(f"could not kill running container {rec.id}")
        with self._lock:
            self._remove_locked(rec.id, volumes=volumes)

    def _remove_locked(self, cid: str, *, volumes: bool, publish: bool = True) -> None:
        try:
            rec = md.get_container(self.db, cid)
        except NotFound:
            return
        self._cancel_restart(cid)
        self._unmount(cid)
        self._net_down(cid, HostConfig.from_json(rec.host_config))
        with contextlib.suppress(HullError):
            self.monitor.forget(cid)
        anon = [mp["Name"] for mp in rec.state.get("_mounts") or []
                if mp["Type"] == "volume" and mp.get("Anonymous")]  # fmt: skip
        self._last_exit[cid] = int(rec.state.get("ExitCode", 0))
        md.delete_container(self.db, cid)
        # gone for everyone now: the files go in the background (a restart sweeps leftovers)
        snaps, key = self.images.snapshots, rec.snapshot_key or cid
        dirs = (self.container_dir(cid), self.bundle_dir(cid))
        self.reaper.submit(lambda: remove_files(snaps, key, *dirs))
        if volumes:
            for name in anon:
                with contextlib.suppress(NotFound, Conflict):
                    self.volumes.remove(name)
        for eid in [e for e, x in self.execs.items() if x["ContainerID"] == cid]:
            del self.execs[eid]
        self._backoff.pop(cid, None)
        self._cond.notify_all()
        if publish:
            self.publish("destroy", rec)

    def rename(self, ref: str, new_name: str) -> None:
        """Give a container another name (taken: Docker's conflict)."""
        rec = self.find(ref)
        new = new_name.lstrip("/")
        if not new:
            raise InvalidArgument("Neither old nor new names may be empty")
        if new == rec.name:
            raise InvalidArgument("Renaming a container with the same name as its current name")
        md.rename_container(self.db, rec.id, new)
        self.publish("rename", md.get_container(self.db, rec.id), oldName="/" + rec.name)

    # -- inspect and list ---------------------------------------------------------------

    def inspect(self, ref: str, size: bool = False) -> dict[str, Any]:
        """Docker's ContainerJSON."""
        rec = self.find(ref)
        return shapes.container_json(self, rec, size=size)

    def image_users(self, image_id: str) -> list[UsedBy]:
        """The containers made from an image, for the images service's ``in_use``."""
        return image_users(self.db, image_id)

    # -- exec, logs, attach, stats, images from containers (in containers.py) ---------

    exec_create = ct.exec_create
    exec_start = ct.exec_start
    exec_inspect = ct.exec_inspect
    exec_resize = ct.exec_resize
    logs = ct.logs
    attach = ct.attach
    resize = ct.resize
    top = ct.top
    stats = ct.stats
    stats_stream = ct.stats_stream
    changes = fs.changes
    export = fs.export
    commit = fs.commit
    prune = ct.prune

    # -- networks (in networks.py) ---------------------------------------------------

    network_list = nws.network_list
    network_inspect = nws.network_inspect
    network_create = nws.network_create
    network_remove = nws.network_remove
    network_prune = nws.network_prune
    network_connect = nws.network_connect
    network_disconnect = nws.network_disconnect
    network_reset = nws.network_reset

    _exec_exited = sv.exec_exited

    def list(
        self,
        all: bool = False,
        filters: Mapping[str, list[str]] | None = None,
        limit: int = -1,
        size: bool = False,
    ) -> list[dict[str, Any]]:
        """Docker's ``ps``: running containers (every one with ``all``), newest first."""
        return shapes.list_containers(self, all=all, filters=dict(filters or {}), limit=limit,
                                      size=size)  # fmt: skip


__all__ = ["Engine", "EventSink"]
