#!/bin/sh
# Networking, hull vs docker vs podman, in one run on the same busybox rootfs:
#   1. start latency: `run --rm busybox true` on each engine's bridge network
#      and with --network none (hyperfine), and the difference;
#   2. TCP throughput container -> container on one bridge (busybox wget of a
#      file served by busybox httpd, timed inside the client container);
#   3. TCP throughput through a published port, host -> 127.0.0.1:PORT
#      (a Python client on the host reading the same file).
# Every engine is private: hulld on a temp data root (its bridge is named
# after it), a dockerd with its own bridge (userland proxy for published
# ports, no iptables), podman with its own store and a network of its own.
# All traffic stays on this machine. Everything is removed at exit.
set -e
cd "$(dirname "$0")/.."
RUNS=${RUNS:-20}
MB=${MB:-512}
scripts/apt-install.sh busybox-static docker.io podman runc hyperfine
[ -x .venv/bin/hull ] || make setup
work=$(mktemp -d /tmp/hull-bench-net.XXXXXX)
chmod 755 "$work"
PODMAN_RUNTIME=runc
. bench/lib/engines.sh
U="--ulimit nofile=20000:20000 --ulimit nproc=4096:4096"  # podman run needs it here
dbr=hlbd$(printf '%s' "$work" | sha256sum | cut -c1-6)

net_cleanup() {
    $HULL -H "unix://$hsock" system reset -f >/dev/null 2>&1 || true
    $P network rm -f hlbench >/dev/null 2>&1 || true
    engines_cleanup
    ip link del "$dbr" 2>/dev/null || true
    engines_drop_netavark_chains
    engines_drop_empty_tables
}
trap net_cleanup EXIT INT TERM

# engines_start's dockerd has no bridge: this one gets a private one
ip link add "$dbr" type bridge
ip addr add 10.219.0.1/24 dev "$dbr"
ip link set "$dbr" up
.venv/bin/hulld --data-root "$work/hull-data" --exec-root "$work/hull-exec" -H "unix://$hsock" \
    --pidfile "$work/hulld.pid" >"$work/hulld.log" 2>&1 &
dockerd --data-root "$work/docker-data" --exec-root "$work/docker-exec" -H "unix://$dsock" \
    --pidfile "$work/docker.pid" --bridge "$dbr" --iptables=false --ip-masq=false \
    >"$work/dockerd.log" 2>&1 &
i=0; until [ -S "$hsock" ] && [ -S "$dsock" ]; do
    i=$((i + 1)); [ $i -lt 300 ] || { echo "daemons did not start" >&2; exit 1; }; sleep 0.1
done
sleep 1
H="$HULL -H unix://$hsock"
D="$DOCKER -H unix://$dsock"
$H bootstrap busybox >/dev/null
$H save -o "$work/busybox.tar" busybox
$D load -i "$work/busybox.tar" >/dev/null
$P load -i "$work/busybox.tar" >/dev/null 2>&1
$P network create --subnet 10.219.1.0/24 hlbench >/dev/null

# 1. start latency, bridge vs none
for cmd in "$H run --rm busybox true" "$D run --rm busybox true" \
    "$P run $U --rm --network hlbench busybox true"; do
    $cmd || { echo "failed: $cmd" >&2; exit 1; }
done
hyperfine -N --warmup 3 --runs "$RUNS" --export-json "$work/start.json" \
  -n hull-bridge "$H run --rm busybox true" \
  -n hull-none "$H run --rm --network none busybox true" \
  -n docker-bridge "$D run --rm busybox true" \
  -n docker-none "$D run --rm --network none busybox true" \
  -n podman-bridge "$P run $U --rm --network hlbench busybox true" \
  -n podman-none "$P run $U --rm --network none busybox true" >/dev/null

# 2. and 3. throughput: one server per engine, a client container, a host client
serve="mkdir -p /www && dd if=/dev/zero of=/www/big bs=1M count=$MB 2>/dev/null && exec httpd -f -p 80 -h /www"
$H run -d --name srv -p 127.0.0.1:15301:80 busybox sh -c "$serve" >/dev/null
$D run -d --name srv -p 127.0.0.1:15302:80 busybox sh -c "$serve" >/dev/null
$P run $U -d --name srv --network hlbench -p 127.0.0.1:15303:80 busybox sh -c "$serve" >/dev/null
hip=$($H inspect -f '{{.NetworkSettings.IPAddress}}' srv)
dip=$($D inspect -f '{{.NetworkSettings.IPAddress}}' srv)
pip=$($P inspect -f '{{.NetworkSettings.Networks.hlbench.IPAddress}}' srv)
sleep 3  # the servers write their file first
get="for i in 1 2 3; do time wget -qO /dev/null http://\$0/big; done"
$H run --rm busybox sh -c "$get" "$hip" 2>"$work/c2c-hull.txt" >/dev/null
$D run --rm busybox sh -c "$get" "$dip" 2>"$work/c2c-docker.txt" >/dev/null
$P run $U --rm --network hlbench busybox sh -c "$get" "$pip" 2>"$work/c2c-podman.txt" >/dev/null

.venv/bin/python - "$work" "$MB" <<'PY'
import json, re, statistics, sys, time, urllib.request
work, mb = sys.argv[1], int(sys.argv[2])
res = {r["command"]: statistics.median(r["times"]) * 1000
       for r in json.load(open(f"{work}/start.json"))["results"]}

def c2c(engine):
    text = open(f"{work}/c2c-{engine}.txt").read()
    secs = []
    for m in re.finditer(r"real\s+(\d+)m\s*([\d.]+)s", text):
        secs.append(int(m.group(1)) * 60 + float(m.group(2)))
    return mb / statistics.median(secs) if secs else float("nan")

def published(port):
    rates = []
    for _ in range(3):
        t = time.perf_counter()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/big", timeout=60) as r:
            while r.read(1 << 20):
                pass
        rates.append(mb / (time.perf_counter() - t))
    return statistics.median(rates)

print(f"{'engine':<8}{'bridge ms':>11}{'none ms':>9}{'extra ms':>10}"
      f"{'c2c MB/s':>10}{'host->-p MB/s':>15}")
for name, port in (("hull", 15301), ("docker", 15302), ("podman", 15303)):
    b, n = res[f"{name}-bridge"], res[f"{name}-none"]
    print(f"{name:<8}{b:>11.1f}{n:>9.1f}{b - n:>10.1f}{c2c(name):>10.0f}{published(port):>15.0f}")
print("targets: hull's extra start latency < 15 ms; hull's published-port MB/s >= docker's")
PY
