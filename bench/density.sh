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
PODMAN_RUNTIME=runc
. bench/lib/engines.sh
trap engines_cleanup EXIT INT TERM
engines_start
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
