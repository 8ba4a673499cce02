#!/bin/sh
# The demo: a busybox bundle run by hull-runtime, showing what the container sees.
set -e
RUNTIME=${1:-hull-runtime}
BUSYBOX=$(command -v busybox || echo /bin/busybox)
work=$(mktemp -d /tmp/hull-demo.XXXXXX)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"
mkdir -p "$work/rootfs/bin" "$work/rootfs/etc" "$work/rootfs/proc" "$work/rootfs/sys" \
    "$work/rootfs/dev" "$work/rootfs/tmp"
cp "$BUSYBOX" "$work/rootfs/bin/busybox"
for applet in $("$work/rootfs/bin/busybox" --list); do
    [ "$applet" = busybox ] || ln -s busybox "$work/rootfs/bin/$applet"
done
echo "root:x:0:0:root:/root:/bin/sh" > "$work/rootfs/etc/passwd"
echo "root:x:0:" > "$work/rootfs/etc/group"
"$RUNTIME" spec --bundle "$work"
# A non-interactive process with limits: 64 MiB of memory, 32 pids, half a CPU.
"$(dirname "$RUNTIME")/python3" - "$work/config.json" <<'PY'
import json, sys
path = sys.argv[1]
c = json.load(open(path))
c["process"]["terminal"] = False
c["hostname"] = "hull-demo"
c["process"]["args"] = ["sh", "-c", """
echo "pid inside:      $$"
echo "hostname:        $(hostname)"
echo "user:            $(id)"
echo "interfaces:      $(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | tr '\\n' ' ')"
cg=/sys/fs/cgroup
echo "memory limit:    $(cat $cg/memory/memory.limit_in_bytes 2>/dev/null || cat $cg/memory.max)"
echo "pids limit:      $(cat $cg/pids/pids.max 2>/dev/null || cat $cg/pids.max)"
echo "cpu quota/period: $(cat $cg/cpu/cpu.cfs_quota_us 2>/dev/null)/$(cat $cg/cpu/cpu.cfs_period_us 2>/dev/null)"
echo "mounts:"
cut -d' ' -f5,9 /proc/self/mountinfo | sed 's/^/  /'
"""]
c["linux"]["resources"].update({
    "memory": {"limit": 64 << 20},
    "pids": {"limit": 32},
    "cpu": {"quota": 50000, "period": 100000},
})
json.dump(c, open(path, "w"), indent=2)
PY
echo "\$ hull-runtime run --bundle $work demo-$$"
exec "$RUNTIME" run --bundle "$work" "demo-$$"
