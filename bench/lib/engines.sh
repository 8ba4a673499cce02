# Sourced by the engine benchmarks: private hulld and dockerd (own data
# roots, sockets, no bridge, no iptables) and a podman with its own store,
# a busybox image in all three, and a cleanup that removes every trace.
# Needs: $work (a fresh dir), $PODMAN_RUNTIME (runc or crun). Sets HULL,
# DOCKER, P (the podman command), hsock, dsock. With ENGINES_BRIDGE=1 the
# dockerd gets a private bridge ($dbr, no iptables: docker-proxy publishes)
# and podman a network of its own (hlbench), for default-network figures.
HULL=$PWD/.venv/bin/hull
DOCKER=/usr/bin/docker
hsock="$work/hull.sock"
dsock="$work/docker.sock"
P="podman --root $work/podman/root --runroot $work/podman/run --tmpdir $work/podman/tmp \
--storage-driver overlay --cgroup-manager cgroupfs --events-backend file --runtime $PODMAN_RUNTIME"

dbr=hlbd$(printf '%s' "$work" | sha256sum | cut -c1-6)
# netavark (podman) creates iptables-nft's ip nat / ip filter tables; the
# cleanup removes them again if they were not there before and are empty
preexisting_tables=$(nft list tables 2>/dev/null | tr '\n' ' ')

engines_drop_empty_tables() {
    for t in nat filter; do
        case "$preexisting_tables" in *"table ip $t "*) continue ;; esac
        if ! nft list table ip "$t" 2>/dev/null | grep -qE '^\s+(ip|tcp|udp|meta|counter|jump|oif|iif|ct|fib|masquerade|dnat|snat|accept|drop)'; then
            nft delete table ip "$t" 2>/dev/null || true
        fi
    done
}

engines_cleanup() {
    # containers, networks, hull's bridge and nft table
    $HULL -H "unix://$hsock" system reset -f >/dev/null 2>&1 || true
    [ "${ENGINES_BRIDGE:-}" = 1 ] && $P network rm -f hlbench >/dev/null 2>&1
    $HULL -H "unix://$hsock" ps -aq 2>/dev/null | xargs -r $HULL -H "unix://$hsock" rm -f >/dev/null 2>&1 || true
    $DOCKER -H "unix://$dsock" ps -aq 2>/dev/null | xargs -r $DOCKER -H "unix://$dsock" rm -f >/dev/null 2>&1 || true
    $P rm -af >/dev/null 2>&1 || true
    [ -f "$work/hulld.pid" ] && kill "$(cat "$work/hulld.pid")" 2>/dev/null
    [ -f "$work/docker.pid" ] && kill "$(cat "$work/docker.pid")" 2>/dev/null
    sleep 2
    # the monitor outlives hulld by design
    [ -f "$work/hull-exec/monitor/monitor.pid" ] && \
        kill "$(cat "$work/hull-exec/monitor/monitor.pid")" 2>/dev/null
    $P system reset --force >/dev/null 2>&1 || true
    for m in $(awk -v w="$work" 'index($5, w) == 1 { print $5 }' /proc/self/mountinfo | sort -r); do
        umount -l "$m" 2>/dev/null || true
    done
    rm -rf "$work"
    if [ "${ENGINES_BRIDGE:-}" = 1 ]; then
        ip link del "$dbr" 2>/dev/null || true
        engines_drop_netavark_chains
    fi
    engines_drop_empty_tables
    return 0
}

# podman's netavark leaves its (empty) iptables chains behind: remove them
engines_drop_netavark_chains() {
    for t in nat filter; do
        iptables -t "$t" -S 2>/dev/null | grep -- '-j NETAVARK' | sed 's/^-A/-D/' |
            while read -r rule; do eval iptables -t "$t" "$rule" || true; done
        for c in $(iptables -t "$t" -S 2>/dev/null | awk '$1 == "-N" && $2 ~ /^NETAVARK/ { print $2 }'); do
            iptables -t "$t" -F "$c" 2>/dev/null || true
            iptables -t "$t" -X "$c" 2>/dev/null || true
        done
    done
}

engines_start() {
    .venv/bin/hulld --data-root "$work/hull-data" --exec-root "$work/hull-exec" -H "unix://$hsock" \
        --pidfile "$work/hulld.pid" >"$work/hulld.log" 2>&1 &
    bridge=none
    if [ "${ENGINES_BRIDGE:-}" = 1 ]; then
        bridge=$dbr
        ip link add "$dbr" type bridge
        ip addr add 10.219.0.1/24 dev "$dbr"
        ip link set "$dbr" up
    fi
    dockerd --data-root "$work/docker-data" --exec-root "$work/docker-exec" -H "unix://$dsock" \
        --pidfile "$work/docker.pid" --bridge "$bridge" --iptables=false --ip-masq=false \
        >"$work/dockerd.log" 2>&1 &
    i=0; until [ -S "$hsock" ] && [ -S "$dsock" ]; do
        i=$((i + 1)); [ $i -lt 300 ] || { echo "daemons did not start" >&2; exit 1; }; sleep 0.1
    done
    sleep 1
    $HULL -H "unix://$hsock" bootstrap busybox >/dev/null
    $HULL -H "unix://$hsock" save -o "$work/busybox.tar" busybox
    $DOCKER -H "unix://$dsock" load -i "$work/busybox.tar" >/dev/null
    $P load -i "$work/busybox.tar" >/dev/null 2>&1
    if [ "${ENGINES_BRIDGE:-}" = 1 ]; then
        $P network create --subnet 10.219.1.0/24 hlbench >/dev/null
    fi
}
