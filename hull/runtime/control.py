"""The runtime's verbs on an existing container: start, kill, delete, pause, resume, ps.

Kept apart from :mod:`hull.runtime.container` (create and run), so that the
start path of a container loads none of this.
"""

from __future__ import annotations

from hull.errors import Conflict, FailedPrecondition, InvalidArgument, NotFound
from hull.linux import fastos as os
from hull.runtime import state as st
from hull.runtime.container import _cleanup, _hook_state, _kill_wait, _rmtree, _run_hooks

TYPE_CHECKING = False
if TYPE_CHECKING:
    from hull.oci.runtime_spec import Spec
    from hull.runtime.cgroups.base import CgroupManager


def start(root: str, cid: str) -> None:
    """Let a created container exec its process."""
    state = st.load(root, cid)
    state.require("start")
    import select

    try:
        fd = os.open(state.fifo, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise Conflict(f"cannot start container {cid}: it was already started") from None
    try:
        poller = select.poll()
        poller.register(fd, select.POLLIN | select.POLLHUP)
        while True:
            poller.poll(50)
            try:
                data = os.read(fd, 1)
            except BlockingIOError:
                data = b""
            if data:
                break
            if not state.alive():
                raise FailedPrecondition(f"cannot start container {cid}: its init process exited")
            import time

            time.sleep(0.001)
    finally:
        os.close(fd)
    try:
        os.unlink(state.fifo)
    except FileNotFoundError:
        pass
    raw = state.data.get("config")
    # parsing the whole spec costs ~2 ms of every start: only when there are hooks
    if not (isinstance(raw, dict) and (raw.get("hooks") or {}).get("poststart")):
        return
    spec = _saved_spec(state)
    if spec is not None and spec.hooks.get("poststart"):
        _run_hooks(
            spec,
            ("poststart",),
            _hook_state(cid, state.pid, st.RUNNING, state.data.get("bundle", ""), spec),
        )


def _saved_spec(state: st.State) -> Spec | None:
    raw = state.data.get("config")
    if not raw:
        return None
    from hull.oci.runtime_spec import Spec

    try:
        return Spec(raw)
    except InvalidArgument:
        return None


def _manager(state: st.State) -> CgroupManager | None:
    paths = state.data.get("cgroupPaths")
    if not paths:
        return None
    from hull.runtime.cgroups import load_cgroup_manager

    return load_cgroup_manager(paths)


def kill(root: str, cid: str, sig: int, all_procs: bool = False) -> None:
    """Send a signal to the container's init (or every process with ``all_procs``)."""
    state = st.load(root, cid)
    status = state.status()
    if status == st.STOPPED:
        raise Conflict(f"cannot kill container {cid}: container not running")
    if all_procs:
        cgm = _manager(state)
        if cgm is not None:
            cgm.kill_all(sig)
            return
    try:
        os.kill(state.pid, sig)
    except ProcessLookupError:
        raise Conflict(f"cannot kill container {cid}: container not running") from None


def delete(root: str, cid: str, force: bool = False) -> None:
    """Remove a stopped (or, with ``force``, any) container and everything it holds."""
    try:
        state = st.load(root, cid)
    except NotFound:
        # an aborted create may have left a directory without state.json
        sdir = os.path.join(root, cid)
        if os.path.isdir(sdir):
            _rmtree(sdir)
            return
        if force:
            return
        raise
    status = state.status()
    cgm = _manager(state)
    if status in (st.CREATED,) or (force and status != st.STOPPED):
        if cgm is not None:
            if status == st.PAUSED:
                cgm.thaw()
            cgm.kill_all(9)
        _kill_wait(state.pid)
    elif status != st.STOPPED:
        raise Conflict(f"cannot delete container {cid} that is not stopped: {status}")
    _cleanup(state, _saved_spec(state), cgm)


def pause(root: str, cid: str) -> None:
    state = st.load(root, cid)
    state.require("pause")
    cgm = _manager(state)
    if cgm is None:
        raise FailedPrecondition(f"container {cid} has no cgroup to freeze")
    cgm.freeze()


def resume(root: str, cid: str) -> None:
    state = st.load(root, cid)
    state.require("resume")
    cgm = _manager(state)
    if cgm is None:
        raise FailedPrecondition(f"container {cid} has no cgroup to thaw")
    cgm.thaw()


def pids(root: str, cid: str) -> list[int]:
    state = st.load(root, cid)
    cgm = _manager(state)
    if cgm is None:
        return [state.pid] if state.alive() else []
    return cgm.pids()
