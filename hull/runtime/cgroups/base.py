"""The ``CgroupManager`` Protocol: what every cgroup driver does, and when.

Import this module only under ``TYPE_CHECKING``: it imports ``typing``, which
costs ~10 ms on the runtime's hot path. At run time the factory in
``hull.runtime.cgroups`` hands out a ``V1Manager`` or a ``V2Manager``.

Vocabulary
    hierarchy   one mounted cgroup tree: a v1 controller mount
                (``/sys/fs/cgroup/memory``) or the cgroup2 mount.
    cgroup dir  the container's directory in a hierarchy.
    paths       controller name -> cgroup dir on v1 (``cpu`` and ``cpuacct``
                share a dir when mounted together; ``""`` is the dir in the
                unified tree of a hybrid host); ``{"": dir}`` on v2.

Lifecycle (driven by the runtime, runc's order)::

    create()            mkdir the dirs (idempotent; v1 cpuset copies the
                        parent's cpus/mems down, v2 enables controllers in
                        the parents' cgroup.subtree_control)
    apply(resources)    write every limit the spec sets; unset fields untouched
    add_pid(pid)        the container's init joins every hierarchy
    paths()             saved in the state file ...
    load_cgroup_manager(paths)   ... to rebuild the manager for later verbs
    pids() / stats() / oom_kill_count() / freezer_state()
    freeze() / thaw()   pause / resume
    kill_all(sig)       freeze, signal every pid, thaw (no fork races)
    destroy()           rmdir every dir, retrying while processes exit

Errors: a write the kernel refuses raises ``InvalidArgument`` (EINVAL,
ERANGE) or ``FailedPrecondition`` (EBUSY, ENOENT, EPERM...) naming the file
and the value; a controller the spec needs but the host lacks raises
``FailedPrecondition`` naming the controller.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from hull.oci.runtime_spec import Resources


class CgroupManager(Protocol):
    """One container's cgroup in every hierarchy of the host."""

    def create(self) -> None:
        """Make the container's cgroup dir in every hierarchy; idempotent."""
        ...

    def apply(self, resources: Resources, *, devices: bool = True, limits: bool = True) -> None:
        """Write every limit ``resources`` sets; fields left unset are not touched.

        ``devices=False`` leaves out the device rules, ``limits=False``
        everything else (the runtime writes the rules first, see container.py).
        """
        ...

    def add_pid(self, pid: int) -> None:
        """Move ``pid`` into the cgroup (cgroup.procs of every hierarchy)."""
        ...

    def paths(self) -> dict[str, str]:
        """Controller name -> absolute dir (v1), or ``{"": dir}`` (v2)."""
        ...

    def pids(self) -> list[int]:
        """Every process in the cgroup, child cgroups included."""
        ...

    def freeze(self) -> None:
        """Freeze every process of the cgroup; returns once they are frozen."""
        ...

    def thaw(self) -> None:
        """Let the frozen processes run again."""
        ...

    def freezer_state(self) -> str:
        """ "FROZEN" or "THAWED"."""
        ...

    def oom_kill_count(self) -> int:
        """How many processes the OOM killer killed in this cgroup."""
        ...

    def stats(self) -> dict[str, object]:
        """Usage counters shaped like the "data" of runc's ``events --stats``."""
        ...

    def kill_all(self, sig: int) -> None:
        """Send ``sig`` to every process, freezing first so none can fork away."""
        ...

    def destroy(self) -> None:
        """Remove every cgroup dir (already-removed ones are fine)."""
        ...
