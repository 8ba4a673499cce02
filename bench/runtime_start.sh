#!/bin/sh
# Start latency of an OCI runtime: `run` of a busybox bundle executing `true`,
# hull-runtime side by side with runc and crun in one hyperfine run.
#
# crun 1.8 refuses this host's hybrid cgroup layout unless the unified
# mount's cgroup.controllers looks empty, so the whole run happens in a
# private mount namespace with an empty file bound over it (for all three).
set -e
cd "$(dirname "$0")/.."
RUNS=${RUNS:-60}
HULL=${HULL:-$PWD/.venv/bin/hull-runtime}
scripts/apt-install.sh busybox-static runc crun hyperfine
[ -x "$HULL" ] || make setup
# rewrite the launchers and hull-runtime's hot-module bundle: a bundle older
# than the sources is bypassed module by module (correct, but slower)
[ "$HULL" != "$PWD/.venv/bin/hull-runtime" ] || .venv/bin/python -m hull.launcher .venv/bin >/dev/null
work=$(mktemp -d /tmp/hull-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bundle/rootfs/bin" "$work/bundle/rootfs/proc" "$work/bundle/rootfs/sys" \
    "$work/bundle/rootfs/dev" "$work/bundle/rootfs/etc"
cp "$(command -v busybox)" "$work/bundle/rootfs/bin/busybox"
ln -s busybox "$work/bundle/rootfs/bin/true"
ln -s busybox "$work/bundle/rootfs/bin/sh"
(cd "$work/bundle" && runc spec)
.venv/bin/python - "$work/bundle/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["process"]["terminal"] = False
c["process"]["args"] = ["true"]
json.dump(c, open(sys.argv[1], "w"), indent=2)
PY
: > "$work/empty"
unshare -m --propagation private sh -c "
mount --bind '$work/empty' /sys/fs/cgroup/unified/cgroup.controllers
hyperfine -N --warmup 5 --runs $RUNS --export-json '$work/result.json' \
  -n hull-runtime '$HULL --root $work/state-hull run --bundle $work/bundle bench-hull' \
  -n runc 'runc --root $work/state-runc run --bundle $work/bundle bench-runc' \
  -n crun 'crun --root $work/state-crun run --bundle $work/bundle bench-crun'
" >/dev/null
.venv/bin/python - "$work/result.json" <<'PY'
import json, statistics, sys
res = {r["command"]: statistics.median(r["times"]) * 1000 for r in json.load(open(sys.argv[1]))["results"]}
hull = res["hull-runtime"]
print(f"{'runtime':<14}{'median ms':>10}{'hull / it':>11}")
for name, ms in res.items():
    print(f"{name:<14}{ms:>10.1f}{hull / ms:>11.2f}")
print(f"targets: hull < runc ({hull / res['runc']:.2f}x), hull <= 2x crun ({hull / res['crun']:.2f}x)")
PY
