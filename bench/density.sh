#!/bin/sh
# Host memory per container: N detached `sleep` containers with hull, docker
# and podman (runc); the RSS and PSS of every host process each engine keeps
# for them (hull: hulld + its one monitor; docker: dockerd + containerd + one
# containerd-shim per container; podman: one conmon per container), before
# and after, divided by N. The containers' own `sleep` processes are the same
# for all three and not counted.
set -e
cd "$(dirname "$0")/.."
N=${N:-100}
scripts/apt-install.sh busybox-static docker.io podman runc
[ -x .venv/bin/hull ] || make setup
work=$(mktemp -d /tmp/hull-bench-density.XXXXXX)
chmod 755 "$work"
HULL=$PWD/.venv/bin/hull
DOCKER=/usr/bin/docker
hsock="$work/hull.sock"
dsock="$work/docker.sock"
P="podman --root $work/podman/root --runroot $work/podman/run --tmpdir $work/podman/tmp \
--storage-driver overlay --cgroup-manager cgroupfs --events-backend file --runtime runc"
cleanup() {
    $HULL -H "unix://$hsock" ps -aq 2>/dev/null | xargs -r $HULL -H "unix://$hsock" rm -f >/dev/null 2>&1 || true
    $DOCKER -H "unix://$dsock" ps -aq 2>/dev/null | xargs -r $DOCKER -H "unix://$dsock" rm -f >/dev/null 2>&1 || true
    $P rm -af >/dev/null 2>&1 || true
    [ -f "$work/hulld.pid" ] && kill "$(cat "$work/hulld.pid")" 2>/dev/null
    [ -f "$work/docker.pid" ] && kill "$(cat "$work/docker.pid")" 2>/dev/null
    sleep 2
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
# one container each first, so the engines' lazily started parts exist
$HULL -H "unix://$hsock" run --rm --network none busybox true
$DOCKER -H "unix://$dsock" run --rm --network none busybox true

mem() {  # $1 = engine: prints "rss_kib pss_kib" summed over its processes
    .venv/bin/python - "$1" "$work" <<'PY'
import os, sys
engine, work = sys.argv[1], sys.argv[2]
want = {"hull": ("hulld", "hull.engine.monitor"), "docker": ("dockerd", "containerd"),
        "podman": ("conmon",)}[engine]
rss = pss = 0
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        cmd = open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode()
        if not any(w in cmd for w in want) or (engine != "podman" and work not in cmd):
            continue
        for line in open(f"/proc/{pid}/smaps_rollup"):
            k, v = line.split(":", 1)
            if k == "Rss": rss += int(v.split()[0])
            if k == "Pss": pss += int(v.split()[0])
    except OSError:
        pass
print(rss, pss)
PY
}

for engine in hull docker podman; do
    set -- $(mem "$engine"); r0=$1; p0=$2
    i=0
    while [ $i -lt "$N" ]; do
        case $engine in
        hull) $HULL -H "unix://$hsock" run -d --network none busybox sleep 600 >/dev/null ;;
        docker) $DOCKER -H "unix://$dsock" run -d --network none busybox sleep 600 >/dev/null ;;
        podman) $P run -d --network none --ulimit nofile=20000:20000 --ulimit nproc=4096:4096 \
                    busybox sleep 600 >/dev/null ;;
        esac
        i=$((i + 1))
    done
    sleep 2
    set -- $(mem "$engine"); r1=$1; p1=$2
    awk -v e="$engine" -v n="$N" -v r0="$r0" -v r1="$r1" -v p0="$p0" -v p1="$p1" 'BEGIN {
        printf "%-8s %d containers: RSS +%.2f MiB/container (%.1f -> %.1f MiB), PSS +%.2f MiB/container\n",
               e, n, (r1 - r0) / n / 1024, r0 / 1024, r1 / 1024, (p1 - p0) / n / 1024 }'
    case $engine in
    hull) $HULL -H "unix://$hsock" ps -aq | xargs -r $HULL -H "unix://$hsock" rm -f >/dev/null ;;
    docker) $DOCKER -H "unix://$dsock" ps -aq | xargs -r $DOCKER -H "unix://$dsock" rm -f >/dev/null ;;
    podman) $P rm -af >/dev/null 2>&1 ;;
    esac
done
