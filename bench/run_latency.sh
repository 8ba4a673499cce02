#!/bin/sh
# `run --rm busybox true` end to end through each engine's CLI and daemon:
# hull (hull -> hulld -> monitor -> hull-runtime), docker (20.10 CLI ->
# a private dockerd -> containerd -> runc) and podman (crun), one hyperfine
# run, the same busybox rootfs for all three, --network none.
#
# hull's default network is none until the network issue wires bridges into
# the engine, so the default-network comparison waits for it.
set -e
cd "$(dirname "$0")/.."
RUNS=${RUNS:-30}
scripts/apt-install.sh busybox-static docker.io podman crun hyperfine
[ -x .venv/bin/hull ] || make setup
work=$(mktemp -d /tmp/hull-bench-run.XXXXXX)
chmod 755 "$work"
HULL=$PWD/.venv/bin/hull
DOCKER=/usr/bin/docker
hsock="$work/hull.sock"
dsock="$work/docker.sock"
P="podman --root $work/podman/root --runroot $work/podman/run --tmpdir $work/podman/tmp \
--storage-driver overlay --cgroup-manager cgroupfs --events-backend file --runtime crun"
cleanup() {
    [ -f "$work/hulld.pid" ] && kill "$(cat "$work/hulld.pid")" 2>/dev/null
    [ -f "$work/docker.pid" ] && kill "$(cat "$work/docker.pid")" 2>/dev/null
    sleep 2
    # the monitor outlives hulld by design
    [ -f "$work/hull-exec/monitor/monitor.pid" ] && \
        kill "$(cat "$work/hull-exec/monitor/monitor.pid")" 2>/dev/null
    $P system reset --force >/dev/null 2>&1 || true
    for m in $(awk -v w="$work" 'index($5, w) == 1 { print $5 }' /proc/self/mountinfo | sort -r); do
        umount -l "$m" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

.venv/bin/hulld --data-root "$work/hull-data" --exec-root "$work/hull-exec" -H "unix://$hsock" \
    --pidfile "$work/hulld.pid" >"$work/hulld.log" 2>&1 &
dockerd --data-root "$work/docker-data" --exec-root "$work/docker-exec" -H "unix://$dsock" \
    --pidfile "$work/docker.pid" --bridge none --iptables=false --ip-masq=false \
    >"$work/dockerd.log" 2>&1 &
i=0; until [ -S "$hsock" ] && [ -S "$dsock" ]; do
    i=$((i + 1)); [ $i -lt 300 ] || { echo "daemons did not start" >&2; exit 1; }; sleep 0.1
done
sleep 1
$HULL -H "unix://$hsock" bootstrap busybox >/dev/null
$HULL -H "unix://$hsock" save -o "$work/busybox.tar" busybox
$DOCKER -H "unix://$dsock" load -i "$work/busybox.tar" >/dev/null
$P load -i "$work/busybox.tar" >/dev/null 2>&1

# crun 1.8 refuses this hybrid cgroup host unless the unified mount's
# cgroup.controllers looks empty: measure all three in a private mount
# namespace with an empty file bound over it (the daemons are reached by
# their sockets, which the namespace still sees).
: > "$work/empty"
cat > "$work/measure.sh" <<INNER
set -e
mount --bind "$work/empty" /sys/fs/cgroup/unified/cgroup.controllers
for cmd in "$HULL -H unix://$hsock run --rm --network none busybox true" \\
    "$DOCKER -H unix://$dsock run --rm --network none busybox true" \\
    "$P run --rm --network none --ulimit nofile=20000:20000 --ulimit nproc=4096:4096 busybox true"; do
    \$cmd || { echo "failed: \$cmd" >&2; exit 1; }
done
hyperfine -N --warmup 3 --runs "$RUNS" --export-json "$work/result.json" \\
  -n hull "$HULL -H unix://$hsock run --rm --network none busybox true" \\
  -n docker "$DOCKER -H unix://$dsock run --rm --network none busybox true" \\
  -n podman "$P run --rm --network none --ulimit nofile=20000:20000 --ulimit nproc=4096:4096 busybox true" \\
  >/dev/null
INNER
unshare -m --propagation private sh "$work/measure.sh"
.venv/bin/python - "$work/result.json" <<'PY'
import json, statistics, sys
res = {r["command"]: statistics.median(r["times"]) * 1000 for r in json.load(open(sys.argv[1]))["results"]}
hull = res["hull"]
print(f"{'engine':<10}{'median ms':>10}{'hull / it':>11}   (run --rm --network none busybox true)")
for name, ms in res.items():
    print(f"{name:<10}{ms:>10.1f}{hull / ms:>11.2f}")
print(f"targets: <= 1/3 of docker ({hull / res['docker']:.2f}), <= 1/2 of podman ({hull / res['podman']:.2f})")
PY
