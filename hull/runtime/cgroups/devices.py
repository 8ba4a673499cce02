"""Device rules for the cgroup v1 devices controller, emulated as runc does.

The kernel keeps, per cgroup, a default (allow all = "black list", or deny
all = "white list") and a list of exceptions keyed by (type, major, minor),
each with some of the access letters ``rwm``. Writing an ``a`` rule resets
the default and drops every exception; any other rule that agrees with the
default removes access letters from an exception, and a rule that disagrees
adds them. :class:`DeviceState` replays OCI rules with these semantics
(runc ``cgroups/devices/emulator.go``), and :func:`transition` computes the
writes that move a cgroup from what ``devices.list`` shows to the target:

* when the cgroup is a black list (``devices.list`` cannot show its deny
  exceptions) or the defaults differ, one disruptive ``a *:* rwm`` rule first
  (``devices.deny`` for a white list), then every exception of the target;
* otherwise (white list to white list, e.g. ``update``) only the
  differences, so a running container never loses access for a moment.

cgroup v2 has no devices files: ``ebpf.py`` compiles the same state into an eBPF
program.
"""

from __future__ import annotations

from hull.errors import FailedPrecondition, InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    from hull.oci.runtime_spec import DeviceRule

WILDCARD = -1
_ACCESS_ORDER = "rwm"

# (type, major, minor) with -1 for "*"
Key = tuple[str, int, int]


def _perms(access: str) -> str:
    """Access letters in canonical order, deduplicated."""
    return "".join(c for c in _ACCESS_ORDER if c in access)


def _num(n: int) -> str:
    return "*" if n == WILDCARD else str(n)


def rule_string(key: Key, access: str) -> str:
    """The v1 text of one rule: ``c 1:3 rwm``, ``a *:* rwm``."""
    t, major, minor = key
    return f"{t} {_num(major)}:{_num(minor)} {access}"


class DeviceState:
    """The default and the exceptions of one devices cgroup."""

    __slots__ = ("default_allow", "rules")

    def __init__(self, default_allow: bool = False) -> None:
        self.default_allow = default_allow
        self.rules: dict[Key, str] = {}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DeviceState):
            return NotImplemented
        return self.default_allow == other.default_allow and self.rules == other.rules

    def __repr__(self) -> str:
        mode = "allow-all" if self.default_allow else "deny-all"
        rules = ", ".join(rule_string(k, v) for k, v in sorted(self.rules.items()))
        return f"DeviceState({mode}; {rules})"

    def apply(self, allow: bool, key: Key, access: str) -> None:
        """Replay one rule with the kernel's semantics."""
        if key[0] == "a":
            # A wildcard rule resets the cgroup, whatever its numbers say.
            self.default_allow = allow
            self.rules = {}
            return
        access = _perms(access)
        if allow != self.default_allow:
            self.rules[key] = _perms(self.rules.get(key, "") + access)
            return
        # The rule agrees with the default: remove access from the exception.
        t, major, minor = key
        for partial in ((t, WILDCARD, minor), (t, major, WILDCARD), (t, WILDCARD, WILDCARD)):
            if partial == key:
                continue
            overlap = _perms("".join(c for c in self.rules.get(partial, "") if c in access))
            if overlap:
                # cgroup v1 ignores such a request silently; refuse it instead.
                raise InvalidArgument(
                    f"linux.resources.devices: rule {rule_string(key, access)!r} cannot "
                    f"punch a hole in the wildcard rule {rule_string(partial, overlap)!r} "
                    "(cgroup v1 cannot express it)"
                )
        left = "".join(c for c in self.rules.get(key, "") if c not in access)
        if left:
            self.rules[key] = left
        else:
            self.rules.pop(key, None)


def target_state(rules: list[DeviceRule]) -> DeviceState:
    """The state the OCI rules ask for, starting from deny-all as runc does."""
    st = DeviceState(default_allow=False)
    for r in rules:
        major = WILDCARD if r.major is None or r.major < 0 else r.major
        minor = WILDCARD if r.minor is None or r.minor < 0 else r.minor
        st.apply(r.allow, (r.type, major, minor), r.access)
    return st


def parse_list(text: str) -> DeviceState:
    """The state ``devices.list`` shows: ``a *:* rwm`` alone means allow-all."""
    st = DeviceState(default_allow=False)
    for line in text.splitlines():
        parts = line.split()
        if len(parts) != 3:
            continue
        t, nums, access = parts
        major_s, _, minor_s = nums.partition(":")
        try:
            major = WILDCARD if major_s == "*" else int(major_s)
            minor = WILDCARD if minor_s == "*" else int(minor_s)
        except ValueError:
            raise FailedPrecondition(f"cgroup: unexpected line in devices.list: {line!r}") from None
        if t == "a":
            st.default_allow = True
            st.rules = {}
            continue
        st.rules[(t, major, minor)] = _perms(access)
    return st


def transition(current: DeviceState, target: DeviceState) -> list[tuple[str, str]]:
    """The (file, rule) writes that move ``current`` to ``target``, in order."""
    out: list[tuple[str, str]] = []
    old = current.rules
    if current.default_allow or current.default_allow != target.default_allow:
        file = "devices.allow" if target.default_allow else "devices.deny"
        out.append((file, rule_string(("a", WILDCARD, WILDCARD), "rwm")))
        old = {}
    # An exception of a deny-all cgroup is an allow rule, and vice versa.
    grant = "devices.deny" if target.default_allow else "devices.allow"
    revoke = "devices.allow" if target.default_allow else "devices.deny"
    for key, perms in sorted(old.items()):
        gone = "".join(c for c in perms if c not in target.rules.get(key, ""))
        if gone:
            out.append((revoke, rule_string(key, gone)))
    # in the order the rules were listed: the spec requires it, and
    # devices.list shows exceptions in the order they were added
    for key, perms in target.rules.items():
        new = "".join(c for c in perms if c not in old.get(key, ""))
        if new:
            out.append((grant, rule_string(key, new)))
    return out
