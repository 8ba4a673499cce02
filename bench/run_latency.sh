#!/bin/sh
# `run --rm busybox true` end to end through each engine's CLI and daemon:
# hull (hull -> hulld -> monitor -> hull-runtime), docker (20.10 CLI ->
# a private dockerd -> containerd -> runc) and podman (crun), one hyperfine
# run, the same busybox rootfs for all three, on each engine's default
# bridge network and with --network none.
#
# The private dockerd has its own bridge but no iptables rules (published
# ports would go through docker-proxy), and podman a network of its own:
# their bridge setup is, if anything, cheaper than on a stock install.
set -e
cd "$(dirname "$0")/.."
RUNS=${RUNS:-30}
scripts/apt-install.sh busybox-static docker.io podman crun hyperfine
[ -x .venv/bin/hull ] || make setup
work=$(mktemp -d /tmp/hull-bench-run.XXXXXX)
chmod 755 "$work"
PODMAN_RUNTIME=crun
ENGINES_BRIDGE=1
. bench/lib/engines.sh
trap engines_cleanup EXIT INT TERM
engines_start

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
    "$P run --rm --network none --ulimit nofile=20000:20000 --ulimit nproc=4096:4096 busybox true" \\
    "$HULL -H unix://$hsock run --rm busybox true" \\
    "$DOCKER -H unix://$dsock run --rm busybox true" \\
    "$P run --rm --network hlbench --ulimit nofile=20000:20000 --ulimit nproc=4096:4096 busybox true"; do
    \$cmd || { echo "failed: \$cmd" >&2; exit 1; }
done
hyperfine -N --warmup 3 --runs "$RUNS" --export-json "$work/result.json" \\
  -n hull-none "$HULL -H unix://$hsock run --rm --network none busybox true" \\
  -n docker-none "$DOCKER -H unix://$dsock run --rm --network none busybox true" \\
  -n podman-none "$P run --rm --network none --ulimit nofile=20000:20000 --ulimit nproc=4096:4096 busybox true" \\
  -n hull-bridge "$HULL -H unix://$hsock run --rm busybox true" \\
  -n docker-bridge "$DOCKER -H unix://$dsock run --rm busybox true" \\
  -n podman-bridge "$P run --rm --network hlbench --ulimit nofile=20000:20000 --ulimit nproc=4096:4096 busybox true" \\
  >/dev/null
INNER
unshare -m --propagation private sh "$work/measure.sh"
.venv/bin/python - "$work/result.json" <<'PY'
import json, statistics, sys
res = {r["command"]: statistics.median(r["times"]) * 1000 for r in json.load(open(sys.argv[1]))["results"]}
print("run --rm busybox true, medians in ms (hull / peer in parentheses)")
print(f"{'network':<9}{'hull':>8}{'docker':>16}{'podman':>16}")
for mode in ("bridge", "none"):
    h, d, p = (res[f"{e}-{mode}"] for e in ("hull", "docker", "podman"))
    print(f"{mode:<9}{h:>8.1f}{d:>9.1f} ({h / d:.2f}){p:>9.1f} ({h / p:.2f})")
print("targets: hull <= 1/3 of docker's and <= 1/2 of podman's, in both modes")
PY
