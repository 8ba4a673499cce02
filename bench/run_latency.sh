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
PODMAN_RUNTIME=crun
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
