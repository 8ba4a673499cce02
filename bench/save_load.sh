#!/bin/sh
# `hull save` / `hull load` against `docker save` / `docker load` of the same
# Debian image (bootstrap_debian, cached under $HULL_BENCH_ROOT), in one
# hyperfine run. hull is driven through ImageService by a small python -c
# until the CLI exists; its load unpacks the layer into the snapshotter, as
# docker load does into overlay2. docker is a PRIVATE dockerd (own data root,
# exec root and socket, --bridge none, no iptables), stopped at the end.
set -e
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
ROOT=${HULL_BENCH_ROOT:-/var/tmp/hull-bench}
PY=$PWD/.venv/bin/python
scripts/apt-install.sh hyperfine docker.io debootstrap
mkdir -p "$ROOT"
work=$(mktemp -d /var/tmp/hull-saveload.XXXXXX)
cleanup() {
    if [ -f "$work/docker.pid" ]; then
        pid=$(cat "$work/docker.pid")
        kill "$pid" 2>/dev/null || true
        while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
    fi
    grep " $work/" /proc/self/mountinfo | awk '{print $5}' | sort -r | xargs -r -n1 umount -l
    rm -rf "$work"
}
trap cleanup EXIT

"$PY" -c 'import sys
from pathlib import Path
from hull.images import ImageService, bootstrap_debian
with ImageService(Path(sys.argv[1]) / "store") as s:
    bootstrap_debian(s, "bookworm", reference="debian:bookworm")' "$ROOT"

dockerd --data-root "$work/docker" --exec-root "$work/exec" --host "unix://$work/docker.sock" \
    --pidfile "$work/docker.pid" --bridge none --iptables=false --ip-masq=false \
    >"$work/dockerd.log" 2>&1 &
D="/usr/bin/docker -H unix://$work/docker.sock"
i=0
until $D version >/dev/null 2>&1; do
    i=$((i + 1)); [ $i -lt 200 ] || { tail "$work/dockerd.log"; exit 1; }; sleep 0.2
done

SAVE='import sys
from pathlib import Path
from hull.images import ImageService, save
with ImageService(Path(sys.argv[1])) as s, open(sys.argv[2], "wb") as f:
    save(s, ["debian:bookworm"], f)'
LOAD='import sys
from pathlib import Path
from hull.images import ImageService, load
with ImageService(Path(sys.argv[1])) as s, open(sys.argv[2], "rb") as f:
    load(s, f)'
"$PY" -c "$SAVE" "$ROOT/store" "$work/hull.tar"
$D load -i "$work/hull.tar" >/dev/null
$D save -o "$work/docker.tar" debian:bookworm

hyperfine --warmup 1 --runs "$RUNS" --export-json "$work/result.json" \
    --prepare "rm -f $work/hull-out.tar" -n "hull save" "$PY -c '$SAVE' $ROOT/store $work/hull-out.tar" \
    --prepare "rm -f $work/docker-out.tar" -n "docker save" "$D save -o $work/docker-out.tar debian:bookworm" \
    --prepare "rm -rf $work/dst" -n "hull load" "$PY -c '$LOAD' $work/dst $work/hull.tar" \
    --prepare "$D rmi -f debian:bookworm >/dev/null 2>&1 || true" -n "docker load" "$D load -i $work/docker.tar" \
    >/dev/null
"$PY" - "$work/result.json" "$work/hull.tar" <<'PY'
import json, os, statistics, sys
res = {r["command"]: statistics.median(r["times"]) * 1000 for r in json.load(open(sys.argv[1]))["results"]}
print(f"debian:bookworm archive: {os.path.getsize(sys.argv[2]) / 1e6:.0f} MB")
print(f"{'command':<14}{'median ms':>10}")
for name, ms in res.items():
    print(f"{name:<14}{ms:>10.1f}")
print(f"hull / docker: save {res['hull save'] / res['docker save']:.2f}x, load {res['hull load'] / res['docker load']:.2f}x")
PY
