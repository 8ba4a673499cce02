#!/bin/sh
# Registry throughput: hull's registry server (python -m hull.registry serve)
# side by side with Debian's docker-registry (distribution 2.8), in one run.
#   image   ~200 MB: 4 gzip layers of 50 MB random data + a config,
#           an OCI layout made once and cached under $HULL_BENCH_ROOT
#   push    skopeo copy oci:<layout> docker://127.0.0.1:<port>/bench/img:v1
#           (each run against a fresh, empty registry root)
#   pull    skopeo copy docker://... dir:<tmpfs dir>
#   floor   curl GET of the biggest blob (no client work at all)
# Figures are MB/s (image bytes / wall time), the median of $RUNS runs.
# Registry roots live in $HULL_BENCH_ROOT (disk; both servers alike),
# pull targets in /dev/shm. Everything listens on 127.0.0.1 only.
set -e
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
ROOT=${HULL_BENCH_ROOT:-/var/tmp/hull-bench}
PY=$PWD/.venv/bin/python
HULL_PORT=${HULL_PORT:-5571}
DREG_PORT=${DREG_PORT:-5572}
scripts/apt-install.sh skopeo docker-registry curl podman
# the commands as `make` installs them (pip's console-script wrappers start
# Python with site and cost each `hull` call ~20 ms more)
"$PY" -m hull.launcher .venv/bin >/dev/null
mkdir -p "$ROOT"
work=$(mktemp -d "$ROOT/registry.XXXXXX")
shm=$(mktemp -d /dev/shm/hull-registry.XXXXXX)
pids=""
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work" "$shm"
}
trap cleanup EXIT INT TERM

# -- the image (cached) ----------------------------------------------------------------
layout="$ROOT/registry-image"
if [ ! -f "$layout/index.json" ]; then
    rm -rf "$layout.tmp"
    "$PY" - "$layout.tmp" <<'PYEOF'
import gzip, hashlib, io, json, os, sys, tarfile
from pathlib import Path
dest = Path(sys.argv[1]); blobs = dest / "blobs" / "sha256"; blobs.mkdir(parents=True)
def put(data):
    d = hashlib.sha256(data).hexdigest(); (blobs / d).write_bytes(data); return "sha256:" + d
layers, diff_ids = [], []
for i in range(4):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for j in range(5):
            data = os.urandom(10 * 1024 * 1024)
            info = tarfile.TarInfo(f"layer{i}/file{j}"); info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    raw = buf.getvalue(); diff_ids.append("sha256:" + hashlib.sha256(raw).hexdigest())
    # gzip: skopeo would compress an uncompressed layer on every push
    gz = gzip.compress(raw, compresslevel=1, mtime=0); d = put(gz)
    layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d,
                   "size": len(gz)})
config = json.dumps({"architecture": "amd64", "os": "linux",
                     "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": put(config),
               "size": len(config)}, "layers": layers}).encode()
md = put(manifest)
(dest / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
(dest / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [
    {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md,
     "size": len(manifest), "annotations": {"org.opencontainers.image.ref.name": "v1"}}]}))
PYEOF
    mv "$layout.tmp" "$layout"
fi
bytes=$(du -sb "$layout/blobs" | cut -f1)
big=$(ls -S "$layout/blobs/sha256" | head -1)
echo "image: $((bytes / 1000000)) MB in $(ls "$layout/blobs/sha256" | wc -l) blobs"

# -- servers -----------------------------------------------------------------------
start_hull() {
    rm -rf "$work/hull"
    "$PY" -m hull.registry serve --addr "127.0.0.1:$HULL_PORT" --root "$work/hull" \
        --log-level warning >>"$work/hull.log" 2>&1 &
    hull_pid=$!
    pids="$pids $hull_pid"
}
start_dreg() {
    rm -rf "$work/dreg"
    mkdir -p "$work/dreg"
    cat > "$work/dreg.yml" <<YEOF
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $work/dreg
http:
  addr: 127.0.0.1:$DREG_PORT
YEOF
    docker-registry serve "$work/dreg.yml" >>"$work/dreg.log" 2>&1 &
    dreg_pid=$!
    pids="$pids $dreg_pid"
}
wait_up() {
    i=0
    until curl -s -o /dev/null "http://127.0.0.1:$1/v2/"; do
        i=$((i + 1)); [ $i -lt 100 ] || { echo "registry on :$1 did not start" >&2; exit 1; }
        sleep 0.1
    done
}
stop() { kill "$1"; wait "$1" 2>/dev/null || true; }

now() { date +%s.%N; }
rate() { awk -v b="$bytes" -v s="$1" -v e="$2" 'BEGIN { printf "%.0f", b / 1e6 / (e - s) }'; }
median() { tr ' ' '\n' | grep . | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

run_one() {  # $1 = hull|dreg; echoes "push pull"
    if [ "$1" = hull ]; then start_hull; port=$HULL_PORT; pid=$hull_pid
    else start_dreg; port=$DREG_PORT; pid=$dreg_pid; fi
    wait_up "$port"
    ref="docker://127.0.0.1:$port/bench/img:v1"
    s=$(now)
    skopeo --insecure-policy copy -q --dest-tls-verify=false "oci:$layout:v1" "$ref"
    e=$(now); push=$(rate "$s" "$e")
    rm -rf "$shm/pull"
    s=$(now)
    skopeo --insecure-policy copy -q --src-tls-verify=false "$ref" "dir:$shm/pull"
    e=$(now); pull=$(rate "$s" "$e")
    floor=$(curl -s -o /dev/null -w '%{speed_download}' \
        "http://127.0.0.1:$port/v2/bench/img/blobs/sha256:$big" | awk '{ printf "%.0f", $1 / 1e6 }')
    stop "$pid"
    echo "$push $pull $floor"
}

hp=""; hl=""; hf=""; dp=""; dl=""; df=""
for r in $(seq "$RUNS"); do
    # alternate which server goes first (page cache, CPU frequency)
    if [ $((r % 2)) = 1 ]; then order="hull dreg"; else order="dreg hull"; fi
    for who in $order; do
        set -- $(run_one "$who")
        if [ "$who" = hull ]; then hp="$hp $1"; hl="$hl $2"; hf="$hf $3"
        else dp="$dp $1"; dl="$dl $2"; df="$df $3"; fi
    done
    echo "run $r: hull push/pull/curl$hp |$hl |$hf   docker-registry$dp |$dl |$df" | tr -s ' '
done
printf '\n%-28s %12s %18s\n' "MB/s (median of $RUNS)" "hull" "docker-registry"
printf '%-28s %12s %18s\n' "skopeo push" "$(echo "$hp" | median)" "$(echo "$dp" | median)"
printf '%-28s %12s %18s\n' "skopeo pull" "$(echo "$hl" | median)" "$(echo "$dl" | median)"
printf '%-28s %12s %18s\n' "curl GET biggest blob" "$(echo "$hf" | median)" "$(echo "$df" | median)"

# -- clients: hull pull vs podman pull vs skopeo (download only), from hull's server --
# hull pull and podman pull download, verify and unpack into a fresh store on
# tmpfs; skopeo copy to dir: only downloads. Same image, same server.
start_hull
wait_up "$HULL_PORT"
ref="127.0.0.1:$HULL_PORT/bench/img:v1"
skopeo --insecure-policy copy -q --dest-tls-verify=false "oci:$layout:v1" "docker://$ref"
# the push's 200 MB go to disk before any client is timed (else the writeback
# lands on whichever client runs first)
sync
sock="$shm/hulld.sock"
"$PWD/.venv/bin/hulld" --data-root "$shm/hulld-data" --exec-root "$shm/hulld-exec" \
    -H "unix://$sock" --pidfile "$shm/hulld.pid" >>"$work/hulld.log" 2>&1 &
hulld_pid=$!
pids="$pids $hulld_pid"
i=0; until [ -S "$sock" ]; do i=$((i + 1)); [ $i -lt 100 ] || exit 1; sleep 0.1; done
hc=""; pc=""; sc=""
for r in $(seq "$RUNS"); do
    "$PWD/.venv/bin/hull" -H "unix://$sock" rmi -f "$ref" >/dev/null 2>&1 || true
    "$PWD/.venv/bin/hull" -H "unix://$sock" image prune -a -f >/dev/null 2>&1 || true
    s=$(now); "$PWD/.venv/bin/hull" -H "unix://$sock" pull -q "$ref" >/dev/null; e=$(now)
    h=$(rate "$s" "$e"); hc="$hc $h"
    rm -rf "$shm/podman"; mkdir -p "$shm/podman"
    s=$(now)
    podman --root "$shm/podman/root" --runroot "$shm/podman/run" --tmpdir "$shm/podman/tmp" \
        --storage-driver vfs --cgroup-manager cgroupfs --events-backend file \
        pull -q --tls-verify=false "$ref" >/dev/null
    e=$(now); p=$(rate "$s" "$e"); pc="$pc $p"
    podman --root "$shm/podman/root" --runroot "$shm/podman/run" --tmpdir "$shm/podman/tmp" \
        --storage-driver vfs system reset --force >/dev/null 2>&1 || true
    rm -rf "$shm/podman" "$shm/pull"
    s=$(now)
    skopeo --insecure-policy copy -q --src-tls-verify=false "docker://$ref" "dir:$shm/pull"
    e=$(now); sk=$(rate "$s" "$e"); sc="$sc $sk"
    awk -v r="$r" -v h="$h" -v p="$p" -v s="$sk" 'BEGIN {
        printf "run %s: hull pull %s, podman pull %s, skopeo %s MB/s (hull/skopeo %.2f)\n", r, h, p, s, h / s }'
done
stop "$hulld_pid"
printf '\n%-44s %8s\n' "pull from hull's server, MB/s (median of $RUNS)" ""
printf '%-44s %8s\n' "hull pull (download, verify, unpack)" "$(echo "$hc" | median)"
printf '%-44s %8s\n' "podman pull (download, verify, unpack; vfs)" "$(echo "$pc" | median)"
printf '%-44s %8s\n' "skopeo copy to dir: (download only)" "$(echo "$sc" | median)"
awk -v h="$(echo "$hc" | median)" -v s="$(echo "$sc" | median)" \
    'BEGIN { printf "%-44s %8.2f\n", "hull pull / skopeo download-only", h / s }'
