"""Networking through hulld as a process: the hull CLI, the docker CLI and docker-py.

One hulld (temp data root, exec root and socket) serves the module. Traffic
stays on this machine: hull's bridges, a private "outside" namespace reached
through the host's routing (for outbound NAT), and 127.0.0.1. Teardown
removes containers, runs ``hull system reset`` and checks that nothing of
this daemon is left in the kernel, then removes the outside namespace, the
monitor, mounts and the temp tree, also when a test failed.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from hull.network.naming import names_for
from tests.conftest import REPO, requires_root
from tests.e2e.test_daemon_basics import docker_cli, hull, hulld_cmd, wait_socket
from tests.unit.api.test_containers_routes import stop_monitor, unmount_under

pytestmark = [requires_root]

WEB = "mkdir -p /www && echo hello-$0 > /www/index.html && exec httpd -f -p 80 -h /www"


@dataclass
class Daemon:
    tmp: Path
    proc: subprocess.Popen[bytes]

    def start(self) -> None:
        (self.tmp / "hull.sock").unlink(missing_ok=True)  # left by a killed daemon
        self.proc = subprocess.Popen(hulld_cmd(self.tmp), stderr=subprocess.DEVNULL, cwd=REPO)
        wait_socket(self.tmp / "hull.sock", self.proc)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=20)


def docker(tmp: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, DOCKER_HOST=f"unix://{tmp}/hull.sock",
               DOCKER_CONFIG=str(tmp / "docker-config"))  # fmt: skip
    env.pop("DOCKER_CONTEXT", None)
    return subprocess.run([docker_cli(), *args], capture_output=True, text=True, env=env,
                          timeout=timeout, stdin=subprocess.DEVNULL)  # fmt: skip


def ok(r: subprocess.CompletedProcess[str]) -> str:
    assert r.returncode == 0, (r.args, r.stdout, r.stderr)
    return r.stdout


def run_out(tmp: Path, *args: str, cli: str = "hull") -> tuple[int, str]:
    """``run -d``, ``wait``, ``logs``, ``rm``: (exit code, output) of a container.

    Through the log, not an attached stream: these tests are about the network.
    """
    call = hull if cli == "hull" else docker
    cid = ok(call(tmp, "run", "-d", *args)).strip()
    try:
        code = int(ok(call(tmp, "wait", cid)).strip())
        logs = call(tmp, "logs", cid)
        return code, logs.stdout + logs.stderr
    finally:
        call(tmp, "rm", "-f", cid)


def run_ok(tmp: Path, *args: str, cli: str = "hull") -> str:
    code, out = run_out(tmp, *args, cli=cli)
    assert code == 0, (args, out)
    return out


def kernel_leftovers(data_root: Path) -> list[str]:
    """Links, nft tables of the daemon on ``data_root`` still in the kernel."""
    names = names_for(data_root)
    links = json.loads(subprocess.run(["ip", "-j", "link"], capture_output=True, text=True,
                                      check=True).stdout)  # fmt: skip
    out = [ln["ifname"] for ln in links
           if ln["ifname"] == names.default_bridge or ln["ifname"].startswith(names.bridge_prefix)
           or ln.get("ifalias", "") == names.owner]  # fmt: skip
    tables = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout
    if f"table inet {names.table}\n" in tables:
        out.append(names.table)
    return out


@pytest.fixture(scope="module")
def daemon() -> Iterator[Daemon]:
    tmp = Path(tempfile.mkdtemp(prefix="hull-e2e-net-"))
    d = Daemon(tmp, subprocess.Popen(["true"]))
    try:
        d.start()
        ok(hull(tmp, "bootstrap", "busybox"))
        yield d
        r = hull(tmp, "system", "reset", "-f")
        assert r.returncode == 0, r.stderr
        assert kernel_leftovers(tmp / "data") == []
        assert not any((tmp / "run" / "netns").iterdir())
        d.stop()
    finally:
        if d.proc.poll() is None:
            d.proc.kill()
            d.proc.wait()
        stop_monitor(tmp / "run")
        unmount_under(tmp)
        shutil.rmtree(tmp, ignore_errors=True)
        from hull.network.naming import sweep_orphans

        sweep_orphans()


@pytest.fixture
def tmp(daemon: Daemon) -> Iterator[Path]:
    """The daemon's directory; every container and user network removed after the test."""
    yield daemon.tmp
    ids = docker(daemon.tmp, "ps", "-aq").stdout.split()
    if ids:
        docker(daemon.tmp, "rm", "-f", *ids)
    nets = docker(daemon.tmp, "network", "ls", "-q", "--filter", "type=custom").stdout.split()
    if nets:
        docker(daemon.tmp, "network", "rm", *nets)


class Outside:
    """A namespace standing for a host on the internet, reached via the host's routing.

    It has no route back to any container subnet: a container reaches it
    only if hull masquerades. Its server answers ``hello from <peer>``.
    """

    def __init__(self) -> None:
        self.name = "hlo" + secrets.token_hex(4)
        self.veth = self.name + "h"
        k = secrets.randbelow(200) + 20
        self.host_ip, self.ip = f"10.214.{k}.1", f"10.214.{k}.2"
        subprocess.run(["ip", "netns", "add", self.name], check=True)
        subprocess.run(["ip", "link", "add", self.veth, "type", "veth", "peer", "name", "eth0",
                        "netns", self.name], check=True)  # fmt: skip
        subprocess.run(["ip", "addr", "add", f"{self.host_ip}/24", "dev", self.veth], check=True)
        subprocess.run(["ip", "link", "set", self.veth, "up"], check=True)
        for cmd in (["ip", "addr", "add", f"{self.ip}/24", "dev", "eth0"],
                    ["ip", "link", "set", "eth0", "up"]):  # fmt: skip
            subprocess.run(["ip", "netns", "exec", self.name, *cmd], check=True)
        from hull.network.netlink import run_in_netns

        def listen() -> socket.socket:
            s = socket.socket()
            s.bind((self.ip, 0))
            s.listen(8)
            return s

        self.sock = run_in_netns(f"/run/netns/{self.name}", listen)
        self.sock.settimeout(0.2)
        self.port = int(self.sock.getsockname()[1])
        self.peers: list[str] = []
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._serve, daemon=True)
        self._t.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, peer = self.sock.accept()
            except TimeoutError:
                continue
            with conn:
                self.peers.append(peer[0])
                conn.sendall(f"hello from {peer[0]}\n".encode())

    def close(self) -> None:
        self._stop.set()
        self._t.join()
        self.sock.close()
        subprocess.run(["ip", "link", "del", self.veth], capture_output=True)
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)


@pytest.fixture
def outside() -> Iterator[Outside]:
    o = Outside()
    try:
        yield o
    finally:
        o.close()


def http_get(url: str, timeout: float = 5) -> str:
    deadline = time.time() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                return str(r.read().decode())
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.1)


def test_default_bridge_nat_ports_and_conflict(tmp: Path, outside: Outside) -> None:
    # outbound: the outside host sees the host's address, not the container's
    out = run_ok(tmp, "busybox", "nc", "-w", "3", outside.ip, str(outside.port), cli="docker")
    assert out == f"hello from {outside.host_ip}\n"
    # -p: from the host (its own address and 127.0.0.1) and from another container
    cid = ok(docker(tmp, "run", "-d", "--name", "web", "-p", "0:80", "--expose", "81",
                    "busybox", "sh", "-c", WEB, "web")).strip()  # fmt: skip
    port = ok(hull(tmp, "port", "web", "80")).strip()
    host_port = int(port.rsplit(":", 1)[1])
    assert http_get(f"http://127.0.0.1:{host_port}/") == "hello-web\n"
    doc = json.loads(ok(docker(tmp, "inspect", cid)))[0]["NetworkSettings"]
    assert doc["Ports"]["80/tcp"] == [{"HostIp": "0.0.0.0", "HostPort": str(host_port)}]
    assert doc["Ports"]["81/tcp"] is None
    gw, ip = doc["Gateway"], doc["IPAddress"]
    assert doc["Networks"]["bridge"]["IPAddress"] == ip
    out = run_ok(tmp, "busybox", "wget", "-qO-", f"http://{gw}:{host_port}/", cli="docker")
    assert out == "hello-web\n"
    assert run_ok(tmp, "busybox", "wget", "-qO-", f"http://{ip}/", cli="docker") == ("hello-web\n")
    # the same host port again: Docker's error, the container does not run
    r = docker(
        tmp, "run", "-d", "--name", "clash", "-p", f"{host_port}:80", "busybox", "sleep", "9"
    )
    assert r.returncode == 125 and "port is already allocated" in r.stderr, r.stderr
    st = json.loads(ok(docker(tmp, "inspect", "clash")))[0]["State"]
    assert not st["Running"] and "port is already allocated" in st["Error"]
    # -P: every exposed port on a random host port
    ok(docker(tmp, "run", "-d", "--name", "all", "-P", "--expose", "80", "busybox", "sh", "-c",
              WEB, "all"))  # fmt: skip
    lines = ok(hull(tmp, "port", "all")).splitlines()
    assert len(lines) == 1 and lines[0].startswith("80/tcp -> 0.0.0.0:")
    assert http_get(f"http://127.0.0.1:{lines[0].rsplit(':', 1)[1]}/") == "hello-all\n"
    assert "0.0.0.0:" in ok(docker(tmp, "ps", "--filter", "name=all"))
    # stop releases the port and the address
    ok(docker(tmp, "stop", "-t", "0", "web"))
    assert json.loads(ok(docker(tmp, "inspect", "web")))[0]["NetworkSettings"]["Ports"] == {}
    ok(docker(tmp, "start", "clash"))
    # bad input
    r = docker(tmp, "run", "--rm", "-p", "80a", "busybox", "true")
    assert r.returncode != 0 and "80a" in r.stderr
    r = hull(tmp, "run", "--rm", "--network", "nosuch", "busybox", "true")
    assert r.returncode == 125 and "network nosuch not found" in r.stderr
    r = hull(tmp, "run", "--rm", "--ip", "10.1.1.1", "busybox", "true")
    assert r.returncode == 125 and "user defined networks only" in r.stderr


def test_user_networks_dns_isolation_internal(tmp: Path, outside: Outside) -> None:
    ok(hull(tmp, "network", "create", "--label", "team=a", "front"))
    ok(hull(tmp, "network", "create", "--subnet", "10.215.7.0/24", "back"))
    r = hull(tmp, "network", "create", "--subnet", "10.215.7.128/25", "overlap")
    assert r.returncode != 0 and "Pool overlaps" in r.stderr
    ok(hull(tmp, "network", "create", "--internal", "--subnet", "10.215.8.0/24", "sealed"))
    ls = ok(hull(tmp, "network", "ls", "--format", "{{.Name}} {{.Driver}}")).split("\n")
    assert {"front bridge", "back bridge", "sealed bridge", "bridge bridge", "host host",
            "none null"} <= set(ls)  # fmt: skip
    ok(hull(tmp, "run", "-d", "--name", "api", "--network", "front", "--network-alias", "svc",
            "busybox", "sh", "-c", WEB, "api"))  # fmt: skip
    ok(hull(tmp, "run", "-d", "--name", "db", "--network", "back", "--ip", "10.215.7.50",
            "busybox", "sleep", "60"))  # fmt: skip
    # names and aliases resolve on the shared network; hosts and resolv.conf as Docker's
    out = run_ok(
        tmp,
        "--network",
        "front",
        "busybox",
        "sh",
        "-c",
        "wget -qO- http://api/ && wget -qO- http://svc/ && cat /etc/resolv.conf",
    )
    assert out.startswith("hello-api\nhello-api\nnameserver ") and "ndots:0" in out
    # not across networks: neither by name nor by address
    r = hull(tmp, "run", "--rm", "--network", "back", "busybox", "nslookup", "api")
    assert r.returncode != 0
    api_ip = json.loads(ok(hull(tmp, "inspect", "api")))[0]["NetworkSettings"]["Networks"][
        "front"]["IPAddress"]  # fmt: skip
    r = hull(tmp, "run", "--rm", "--network", "back", "busybox", "ping", "-c1", "-W1", api_ip)
    assert r.returncode != 0
    # connect joins a second network at once: db now resolves api
    ok(hull(tmp, "network", "connect", "--alias", "store", "front", "db"))
    ok(hull(tmp, "exec", "db", "wget", "-qO-", "http://api/"))
    out = run_ok(tmp, "--network", "front", "busybox", "nslookup", "store")
    assert "Address" in out
    r = hull(tmp, "network", "rm", "front")
    assert r.returncode != 0 and "has active endpoints" in r.stderr
    ok(hull(tmp, "network", "disconnect", "front", "db"))
    assert "eth1" not in ok(hull(tmp, "exec", "db", "ip", "-o", "link"))
    insp = json.loads(ok(hull(tmp, "network", "inspect", "back")))[0]
    assert [c["IPv4Address"] for c in insp["Containers"].values()] == ["10.215.7.50/24"]
    # --internal: no way out, no default route
    r = hull(tmp, "run", "--rm", "--network", "sealed", "busybox", "sh", "-c",
             f"ip route; nc -w 2 {outside.ip} {outside.port}")  # fmt: skip
    assert "default" not in r.stdout and "hello" not in r.stdout
    assert outside.peers == []
    # --dns, --dns-search, --add-host, --hostname, --mac-address
    out = run_ok(
        tmp,
        "--dns",
        "10.0.0.53",
        "--dns-search",
        "example.test",
        "--add-host",
        "db.local:10.9.9.9",
        "--hostname",
        "box",
        "--mac-address",
        "02:42:0a:00:00:99",
        "busybox",
        "sh",
        "-c",
        "cat /etc/resolv.conf /etc/hosts; hostname; ip -o link show eth0",
    )
    assert "nameserver 10.0.0.53" in out and "search example.test" in out
    assert "10.9.9.9\tdb.local" in out and "\tbox\n" in out and "02:42:0a:00:00:99" in out
    pruned = ok(hull(tmp, "network", "prune", "-f"))
    assert "sealed" in pruned and "back" not in pruned


def test_container_network_mode(tmp: Path) -> None:
    ok(hull(tmp, "run", "-d", "--name", "main", "--hostname", "mainbox", "busybox", "sh", "-c",
            WEB, "main"))  # fmt: skip
    out = run_ok(
        tmp,
        "--network",
        "container:main",
        "busybox",
        "sh",
        "-c",
        "wget -qO- http://127.0.0.1/ && hostname",
    )
    assert out == "hello-main\nmainbox\n"
    r = hull(tmp, "run", "--rm", "--network", "container:main", "-p", "80", "busybox", "true")
    assert r.returncode == 125 and "conflicting options" in r.stderr
    ok(hull(tmp, "stop", "-t", "0", "main"))
    r = hull(tmp, "run", "--rm", "--network", "container:main", "busybox", "true")
    assert r.returncode == 125 and "non running container" in r.stderr
    out = run_ok(tmp, "--network", "none", "busybox", "ip", "-o", "link")
    assert "eth0" not in out


def test_restart_keeps_leases_ports_and_names(daemon: Daemon, tmp: Path) -> None:
    ok(hull(tmp, "network", "create", "keep"))
    ok(hull(tmp, "run", "-d", "--name", "k1", "--network", "keep", "-p", "0:80", "busybox",
            "sh", "-c", WEB, "k1"))  # fmt: skip
    port = int(ok(hull(tmp, "port", "k1", "80")).strip().rsplit(":", 1)[1])
    before = json.loads(ok(hull(tmp, "inspect", "k1")))[0]["NetworkSettings"]
    daemon.proc.send_signal(signal.SIGKILL)  # a crash: nothing is cleaned up
    daemon.proc.wait()
    daemon.start()
    after = json.loads(ok(hull(tmp, "inspect", "k1")))[0]["NetworkSettings"]
    assert after["Networks"]["keep"]["IPAddress"] == before["Networks"]["keep"]["IPAddress"]
    assert http_get(f"http://127.0.0.1:{port}/") == "hello-k1\n"
    with socket.socket() as s, pytest.raises(OSError):
        s.bind(("0.0.0.0", port))  # still held for the container
    run_ok(tmp, "--network", "keep", "busybox", "wget", "-qO-", "http://k1/")
    ip2 = run_ok(tmp, "--network", "keep", "busybox", "sh", "-c",
                  "ip -o -4 addr show eth0")  # fmt: skip
    assert before["Networks"]["keep"]["IPAddress"] + "/" not in ip2


def test_docker_cli_and_sdk_networks(tmp: Path) -> None:
    ok(docker(tmp, "network", "create", "--subnet", "10.216.3.0/24", "dnet"))
    insp = json.loads(ok(docker(tmp, "network", "inspect", "dnet")))[0]
    assert insp["IPAM"]["Config"] == [{"Subnet": "10.216.3.0/24", "Gateway": "10.216.3.1"}]
    ok(docker(tmp, "run", "-d", "--name", "d1", "--network", "dnet", "--network-alias", "alias1",
              "busybox", "sh", "-c", WEB, "d1"))  # fmt: skip
    out = run_ok(tmp, "--network", "dnet", "busybox", "wget", "-qO-",
                    "http://alias1/", cli="docker")  # fmt: skip
    assert out == "hello-d1\n"
    assert "dnet" in ok(docker(tmp, "network", "ls"))
    r = docker(tmp, "network", "rm", "bridge")
    assert r.returncode != 0 and "pre-defined" in r.stderr
    docker_sdk = pytest.importorskip("docker")
    client = docker_sdk.DockerClient(base_url=f"unix://{tmp}/hull.sock", timeout=60)
    try:
        net = client.networks.create("sdknet", driver="bridge", labels={"k": "v"})
        assert net.attrs["Labels"] == {"k": "v"}
        c = client.containers.run("busybox", ["sh", "-c", WEB, "sdk"], detach=True,
                                  name="sdk", network="sdknet")  # fmt: skip
        net.reload()
        assert c.id in net.attrs["Containers"]
        out = client.containers.run("busybox", "wget -qO- http://sdk/", network="sdknet",
                                    remove=True)  # fmt: skip
        assert out == b"hello-sdk\n"
        d1 = client.containers.get("d1")
        net.connect(d1, aliases=["via-sdk"])
        assert d1.exec_run("wget -qO- http://sdk/").output == b"hello-sdk\n"
        net.disconnect(d1)
        d1.reload()
        assert set(d1.attrs["NetworkSettings"]["Networks"]) == {"dnet"}
        assert {n.name for n in client.networks.list()} >= {"bridge", "host", "none", "sdknet"}
        c.remove(force=True)
        net.remove()
        with pytest.raises(docker_sdk.errors.NotFound):
            client.networks.get("sdknet")
    finally:
        with contextlib.suppress(Exception):
            client.containers.get("sdk").remove(force=True)
        client.close()
