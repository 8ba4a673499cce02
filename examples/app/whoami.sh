#!/bin/sh
# Prints what the container sees: its isolation and its limits.
echo "$GREETING from $(hostname), $(cat /app/built)"
echo "pid inside:       $$"
echo "user:             $(id)"
echo "capabilities:     $(grep CapEff /proc/self/status | cut -f2)"
echo "interfaces:       $(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | tr '\n' ' ')"
echo "address:          $(ip -o -4 addr show eth0 2>/dev/null | awk '{print $4}')"
cg=/sys/fs/cgroup
echo "memory limit:     $(cat $cg/memory/memory.limit_in_bytes 2>/dev/null || cat $cg/memory.max)"
echo "pids limit:       $(cat $cg/pids/pids.max 2>/dev/null || cat $cg/pids.max)"
q=$(cat $cg/cpu/cpu.cfs_quota_us 2>/dev/null); p=$(cat $cg/cpu/cpu.cfs_period_us 2>/dev/null)
echo "cpu quota/period: $q/$p"
echo "unshare -m:       $(unshare -m true 2>&1 || true)"
echo "root filesystem:  $(awk '$5 == "/" {print $9}' /proc/self/mountinfo) (writable layer over the image's)"
