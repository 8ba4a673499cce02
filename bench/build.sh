#!/bin/sh
# Builds of one 10-instruction Dockerfile on the busybox base, three ways:
#   cold     every step runs (--no-cache; the base image is present),
#   cached   nothing changed: every step from the cache,
#   onefile  one COPY'd file changed (its COPY and the 5 steps after it rerun),
# through hull (hull -> hulld), docker build with the classic builder
# (DOCKER_BUILDKIT=0) and with BuildKit (DOCKER_BUILDKIT=1; Debian's
# /usr/bin/docker 20.10 against a private dockerd), and buildah bud
# --layers. One hyperfine run per case, the same busybox rootfs imported
# into each engine, RUN without network everywhere (--network none).
set -e
cd "$(dirname "$0")/.."
RUNS=${RUNS:-15}
scripts/apt-install.sh busybox-static docker.io buildah hyperfine
[ -x .venv/bin/hull ] || make setup
work=$(mktemp -d /tmp/hull-bench-build.XXXXXX)
chmod 755 "$work"
HULL=$PWD/.venv/bin/hull
DOCKER=/usr/bin/docker
hsock="$work/hull.sock"
dsock="$work/docker.sock"
B="buildah --root $work/buildah/root --runroot $work/buildah/run --storage-driver overlay"

cleanup() {
    [ -f "$work/hulld.pid" ] && kill "$(cat "$work/hulld.pid")" 2>/dev/null
    [ -f "$work/docker.pid" ] && kill "$(cat "$work/docker.pid")" 2>/dev/null
    sleep 2
    [ -f "$work/hull-exec/monitor/monitor.pid" ] && \
        kill "$(cat "$work/hull-exec/monitor/monitor.pid")" 2>/dev/null
    $B rm --all >/dev/null 2>&1 || true
    $B rmi --all --force >/dev/null 2>&1 || true
    for m in $(awk -v w="$work" 'index($5, w) == 1 { print $5 }' /proc/self/mountinfo | sort -r); do
        umount -l "$m" 2>/dev/null || true
    done
    ip link del hullbench0 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

# -- engines: a private hulld and dockerd (own data roots, sockets, bridge), buildah's store
.venv/bin/hulld --data-root "$work/hull-data" --exec-root "$work/hull-exec" -H "unix://$hsock" \
    --pidfile "$work/hulld.pid" >"$work/hulld.log" 2>&1 &
ip link add hullbench0 type bridge 2>/dev/null && ip addr add 10.213.77.1/24 dev hullbench0 && \
    ip link set hullbench0 up || true
dockerd --data-root "$work/docker-data" --exec-root "$work/docker-exec" -H "unix://$dsock" \
    --pidfile "$work/docker.pid" --bridge hullbench0 --iptables=false --ip-masq=false \
    >"$work/dockerd.log" 2>&1 &
i=0; until [ -S "$hsock" ] && [ -S "$dsock" ]; do
    i=$((i + 1)); [ $i -lt 300 ] || { echo "daemons did not start" >&2; exit 1; }; sleep 0.1
done
sleep 1
$HULL -H "unix://$hsock" bootstrap busybox >/dev/null
$HULL -H "unix://$hsock" save -o "$work/busybox.tar" busybox
$DOCKER -H "unix://$dsock" load -i "$work/busybox.tar" >/dev/null
$B pull -q "docker-archive:$work/busybox.tar" >/dev/null
$B tag "$($B images -q | head -1)" busybox:latest >/dev/null 2>&1 || true

# -- the context: 10 instructions, 3 copied files
ctx="$work/ctx"
mkdir -p "$ctx"
cat > "$ctx/Dockerfile" <<'EOF'
FROM busybox
ENV APP=/app
WORKDIR /app
COPY a.txt ./
RUN echo one > /one.txt
COPY b.txt ./
RUN cat a.txt b.txt > both.txt
LABEL bench=build
COPY c.txt ./
CMD ["cat", "/app/both.txt"]
EOF
for f in a b c; do head -c 4096 /dev/urandom | base64 > "$ctx/$f.txt"; done

cmds() {  # $1: extra build flags (before the context: buildah wants them there)
    hull_cmd="$HULL -H unix://$hsock build -q $1 -t bench:hull $ctx"
    classic_cmd="env DOCKER_BUILDKIT=0 $DOCKER -H unix://$dsock build -q --network none $1 -t bench:classic $ctx"
    bk_cmd="env DOCKER_BUILDKIT=1 $DOCKER -H unix://$dsock build -q --network none $1 -t bench:bk $ctx"
    # crun refuses this hybrid cgroup host: buildah runs RUN steps with runc
    buildah_cmd="$B bud --layers -q --network none --runtime runc $1 -t bench:buildah $ctx"
}
cmds ""
change="sh -c 'head -c 64 /dev/urandom | base64 > $ctx/b.txt'"

for cmd in "$hull_cmd" "$classic_cmd" "$bk_cmd" "$buildah_cmd"; do
    $cmd >/dev/null || { echo "failed: $cmd" >&2; exit 1; }
done

bench() {  # case-name extra-hyperfine-args... ; the four engines
    name=$1; shift
    hyperfine -N --warmup 2 --runs "$RUNS" ${HF_ARGS:-} "$@" --export-json "$work/$name.json" \
        -n hull "$hull_cmd" -n classic "$classic_cmd" -n buildkit "$bk_cmd" \
        -n buildah "$buildah_cmd" >/dev/null
}
cmds --no-cache; bench cold
cmds ""; bench cached
bench onefile --prepare "$change"

.venv/bin/python - "$work" <<'PY'
import json, statistics, sys
work = sys.argv[1]
print(f"{'case':<9}{'engine':<10}{'median ms':>10}{'hull / it':>11}")
for case in ("cold", "cached", "onefile"):
    res = {r["command"]: statistics.median(r["times"]) * 1000
           for r in json.load(open(f"{work}/{case}.json"))["results"]}
    hull = res["hull"]
    for name, ms in res.items():
        print(f"{case:<9}{name:<10}{ms:>10.1f}{hull / ms:>11.2f}")
    peers = {k: v for k, v in res.items() if k != "hull"}
    if case == "cached":
        best = min(peers.values())
        print(f"  target: cached <= 1/2 of the fastest peer ({hull / best:.2f})")
    else:
        print(f"  target: faster than BuildKit ({hull / res['buildkit']:.2f})")
PY
