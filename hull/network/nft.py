"""hull's nftables table (``table inet hull``): NAT, published ports, isolation.

Every change is one ``nft -f -`` batch, applied atomically by the kernel, and
only ever names hull's own table; other tables (iptables-nft, firewalld,
docker, netavark) are never read or written. Rules carry a comment naming
their owner (``hull:net:<network id>`` or ``hull:ctr:<container id>``) and are
removed by handle after listing the table as JSON.

Layout::

    table inet hull
      set bridges        { type ifname }       every hull bridge
      chain raw_pre      filter/prerouting/raw  drop 127.0.0.0/8 arriving on a hull bridge
      chain prerouting   nat/prerouting/dstnat  fib daddr type local → jump ports
      chain output       nat/output/-100        fib daddr type local → jump ports
      chain ports        (regular)              one DNAT per published port
      chain postrouting  nat/postrouting/srcnat per network: masquerade out, from localhost, hairpin
      chain forward      filter/forward/filter  per network: isolation, internal

Choices, and why:

- Outbound NAT: ``ip saddr <subnet> oifname != <bridge> masquerade`` (Docker's rule).
- Published ports: DNAT in prerouting (other hosts, other containers) and in
  output (the host itself). For ``127.0.0.1:H`` from the host, the DNATed
  packet keeps source 127.0.0.1, which the kernel refuses to route out of a
  non-loopback device unless ``route_localnet=1`` on that device: the manager
  sets it on hull's bridges only, masquerades ``127.0.0.0/8`` sources leaving
  through the bridge, and ``raw_pre`` drops packets to 127.0.0.0/8 arriving
  from a bridge (the CVE-2020-8558 hole route_localnet would open). No
  userland proxy process is needed.
- Hairpin (a container reaching a published port of its own network through
  the host's address): masquerade DNATed traffic that leaves through the bridge
  it came from, and hairpin mode on the bridge ports.
- Isolation: traffic from bridge A to any other hull bridge is dropped, except
  connections to published ports (``ct status dnat`` is accepted first), which
  Docker's users reach from any network through the host's address.
  ``internal`` networks: nothing enters or leaves the bridge through forwarding.
- ``icc=false`` is not done here: the manager sets the bridge-port ``isolated``
  flag on each veth, which stops bridging between containers without
  ``br_netfilter``; containers still reach the gateway and published ports.
- The chains only drop or NAT; the filter chain's policy is accept, so a host
  firewall with a DROP forward policy still needs its own accept rules.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network
from typing import Any

from hull.errors import FailedPrecondition, Internal
from hull.network.models import PublishedPort
from hull.network.ports import parse_port_spec

NET_PREFIX = "hull:net:"
CTR_PREFIX = "hull:ctr:"


@dataclass(frozen=True)
class NetworkRules:
    """What the table needs to know about one network."""

    id: str
    bridge: str
    subnet: IPv4Network
    internal: bool


def _q(name: str) -> str:
    """Quote an interface name for nft (names are ours, but be strict)."""
    if not name or any(c in name for c in '"\\ \n;{}') or len(name) > 15:
        raise ValueError(f"bad interface name {name!r}")
    return f'"{name}"'


def _comment(text: str) -> str:
    if any(c in text for c in '"\\\n'):
        raise ValueError(f"bad comment {text!r}")
    return f'comment "{text}"'


class NftTable:
    """The ``inet <name>`` table; ``name`` is ``hull`` except in tests."""

    def __init__(self, name: str = "hull", nft: str | None = None) -> None:
        if not name.replace("_", "").replace("-", "").isalnum():
            raise ValueError(f"bad table name {name!r}")
        self.name = name
        self.nft = nft or shutil.which("nft") or "/usr/sbin/nft"
        self.family = "inet"

    @property
    def ref(self) -> str:
        return f"{self.family} {self.name}"

    # -- running nft -------------------------------------------------------
    def run(self, script: str) -> str:
        """Apply ``script`` as one atomic batch."""
        try:
            res = subprocess.run(
                [self.nft, "-f", "-"], input=script, capture_output=True, text=True, check=False
            )
        except FileNotFoundError as exc:
            raise FailedPrecondition("nft is not installed (apt-get install nftables)") from exc
        if res.returncode != 0:
            raise Internal(f"nft failed: {res.stderr.strip()}\nbatch:\n{script}")
        return res.stdout

    def _list(self) -> list[dict[str, Any]]:
        res = subprocess.run(
            [self.nft, "-j", "-a", "list", "table", self.family, self.name],
            capture_output=True,
            text=True,
            check=False,
        )
        if res.returncode != 0:
            return []
        items: list[dict[str, Any]] = json.loads(res.stdout).get("nftables", [])
        return items

    def exists(self) -> bool:
        res = subprocess.run(
            [self.nft, "list", "table", self.family, self.name],
            capture_output=True,
            check=False,
        )
        return res.returncode == 0

    # -- table lifecycle ---------------------------------------------------
    def ensure(self) -> None:
        """Create the table with its sets and base chains unless it exists."""
        if self.exists():
            return
        t = self.ref
        self.run(
            f"""add table {t}
add set {t} bridges {{ type ifname; }}
add chain {t} raw_pre {{ type filter hook prerouting priority raw; policy accept; }}
add chain {t} prerouting {{ type nat hook prerouting priority dstnat; policy accept; }}
add chain {t} output {{ type nat hook output priority -100; policy accept; }}
add chain {t} ports
add chain {t} postrouting {{ type nat hook postrouting priority srcnat; policy accept; }}
add chain {t} forward {{ type filter hook forward priority filter; policy accept; }}
add rule {t} raw_pre iifname @bridges ip daddr 127.0.0.0/8 drop
add rule {t} forward ct status dnat accept
add rule {t} prerouting fib daddr type local jump ports
add rule {t} output fib daddr type local jump ports
"""
        )

    def delete(self) -> None:
        """Remove the whole table (no error if it is not there)."""
        if self.exists():
            self.run(f"delete table {self.ref}\n")

    # -- networks ----------------------------------------------------------
    def network_batch(self, net: NetworkRules) -> str:
        t, br, c = self.ref, _q(net.bridge), _comment(NET_PREFIX + net.id)
        sub = str(net.subnet)
        lines = [f"add element {t} bridges {{ {br} }}"]
        if not net.internal:
            lines.append(f"add rule {t} postrouting ip saddr {sub} oifname != {br} masquerade {c}")
        lines += [
            f"add rule {t} postrouting oifname {br} ip saddr 127.0.0.0/8 masquerade {c}",
            f"add rule {t} postrouting oifname {br} ip saddr {sub} ct status dnat masquerade {c}",
            f"add rule {t} forward iifname {br} oifname @bridges oifname != {br} drop {c}",
        ]
        if net.internal:
            lines += [
                f"add rule {t} forward iifname {br} oifname != {br} drop {c}",
                f"add rule {t} forward oifname {br} iifname != {br} drop {c}",
            ]
        return "\n".join(lines) + "\n"

    def add_network(self, net: NetworkRules) -> None:
        """Add a network's rules (replacing any it had) in one batch."""
        self.ensure()
        self.run(self._delete_batch({NET_PREFIX + net.id}) + self.network_batch(net))

    def remove_network(self, net: NetworkRules) -> None:
        if not self.exists():
            return
        batch = self._delete_batch({NET_PREFIX + net.id})
        if net.bridge in self.bridges():
            batch += f"delete element {self.ref} bridges {{ {_q(net.bridge)} }}\n"
        if batch:
            self.run(batch)

    def bridges(self) -> set[str]:
        for item in self._list():
            s = item.get("set")
            if s and s.get("name") == "bridges":
                return {str(e) for e in s.get("elem", [])}
        return set()

    # -- published ports ---------------------------------------------------
    def ports_batch(self, owner: str, ports: Sequence[PublishedPort]) -> str:
        t, c = self.ref, _comment(CTR_PREFIX + owner)
        lines = []
        for p in ports:
            match = ""
            if p.host_ip and p.host_ip not in ("0.0.0.0", "::"):
                match = f"ip daddr {IPv4Address(p.host_ip)} "
            lines.append(
                f"add rule {t} ports {match}{p.protocol} dport {p.host_port}"
                f" dnat ip to {p.container_ip}:{p.container_port} {c}"
            )
        return "\n".join(lines) + ("\n" if lines else "")

    def add_ports(self, owner: str, ports: Sequence[PublishedPort]) -> None:
        """DNAT rules for ``owner``'s published ports, in one batch."""
        if not ports:
            return
        self.ensure()
        self.run(self.ports_batch(owner, ports))

    def remove_owner(self, owner: str) -> None:
        """Remove every rule of container ``owner``."""
        batch = self._delete_batch({CTR_PREFIX + owner})
        if batch:
            self.run(batch)

    def owners(self) -> set[str]:
        """Container ids that own rules in the table."""
        out = set()
        for _chain, _handle, comment in self._rules():
            if comment.startswith(CTR_PREFIX):
                out.add(comment[len(CTR_PREFIX) :])
        return out

    def network_ids(self) -> set[str]:
        return {
            comment[len(NET_PREFIX) :]
            for _c, _h, comment in self._rules()
            if comment.startswith(NET_PREFIX)
        }

    # -- helpers -----------------------------------------------------------
    def _rules(self) -> list[tuple[str, int, str]]:
        out = []
        for item in self._list():
            r = item.get("rule")
            if r:
                out.append((str(r["chain"]), int(r["handle"]), str(r.get("comment", ""))))
        return out

    def _delete_batch(self, comments: Iterable[str]) -> str:
        wanted = set(comments)
        return "".join(
            f"delete rule {self.ref} {chain} handle {handle}\n"
            for chain, handle, comment in self._rules()
            if comment in wanted
        )


__all__ = ["CTR_PREFIX", "NET_PREFIX", "NetworkRules", "NftTable", "parse_port_spec"]
