#!/usr/bin/env bash
# rvs soak: N minutes of mixed traffic through one rvsd bridge while ports are added and
# deleted and the FDB is flushed, then the figures: rvsd's RSS at start (after a warm-up) and
# end, and per port rx / tx / drops from `ovs-appctl dpctl/show -s`, with the datapath's own
# accounting (`coverage/show`: frames = unicast + flood + drops).
#
# Not part of CI. Root only; everything lives in network namespaces this script creates and
# removes (also on Ctrl-C or failure), addresses are 10.66.0.0/24 inside them.
#
# Usage: fuzz/soak.sh [SECONDS]        (default 600; SOAK_BIN=dir with release binaries)
# Traffic: TCP (iperf3, if installed) c1->c2, 100 pings/s c3->c4, bursts of random-source
# frames from c5 (python3), broadcast ARP; churn: a port deleted and re-added every 10 s,
# fdb/flush every 15 s.

set -euo pipefail
DURATION=${1:-600}
[ "$(id -u)" = 0 ] || { echo "soak: needs root (network namespaces)"; exit 1; }
ROOT=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "${SOAK_BIN:-}" ]; then
    (cd "$ROOT" && cargo build --release -q -p rvs-control)
    SOAK_BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release
fi
TAG=soak$$
WORK=$(mktemp -d /tmp/rvs-soak.XXXXXX)
export RVS_RUNDIR=$WORK/run
SW=${TAG}sw
PIDS=()
cleanup() {
    set +e
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    [ -n "${RVSD_PID:-}" ] && kill "$RVSD_PID" 2>/dev/null && sleep 0.5 && kill -9 "$RVSD_PID" 2>/dev/null
    for n in $(ip netns list | awk '{print $1}' | grep "^$TAG"); do
        for p in $(ip netns pids "$n" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
        ip netns del "$n"
    done
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

vsctl() { "$SOAK_BIN/ovs-vsctl" "$@"; }
appctl() { "$SOAK_BIN/ovs-appctl" "$@"; }
rss() { awk '/VmRSS/ {print $2}' "/proc/$RVSD_PID/status"; }

ip netns add "$SW"
ip -n "$SW" link set lo up
ip netns exec "$SW" sysctl -qw net.ipv4.conf.all.arp_ignore=1
ip netns exec "$SW" "$SOAK_BIN/rvsd" --rundir "$WORK/run" --dbdir "$WORK/db" 2>"$WORK/rvsd.log" &
RVSD_PID=$!
for _ in $(seq 100); do appctl version >/dev/null 2>&1 && break; sleep 0.05; done
vsctl add-br br0
for i in 1 2 3 4 5 6; do
    ip netns add "${TAG}c$i"
    ip -n "${TAG}c$i" link set lo up
    ip -n "$SW" link add "${TAG}p$i" type veth peer name eth0 netns "${TAG}c$i"
    ip -n "$SW" link set "${TAG}p$i" up
    ip -n "${TAG}c$i" addr add "10.66.0.$((10 + i))/24" dev eth0
    ip -n "${TAG}c$i" link set eth0 up
    vsctl add-port br0 "${TAG}p$i"
done
inns() { local n=$1; shift; ip netns exec "${TAG}c$n" "$@"; }

# Traffic.
if command -v iperf3 >/dev/null; then
    inns 2 iperf3 -s >/dev/null 2>&1 &
    PIDS+=($!)
    sleep 0.5
    inns 1 iperf3 -c 10.66.0.12 -t "$DURATION" -b 200M >/dev/null 2>&1 &
    PIDS+=($!)
else
    echo "soak: iperf3 not installed, no TCP stream"
fi
inns 3 ping -q -i 0.01 10.66.0.14 >/dev/null 2>&1 &
PIDS+=($!)
inns 6 arping -q -b -c 1000000 -i 0.1 -I eth0 10.66.0.13 >/dev/null 2>&1 &
PIDS+=($!)
cat >"$WORK/flood.py" <<'PY'
import random, socket, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("eth0", 0))
r = random.Random()
end = time.time() + float(sys.argv[1])
while time.time() < end:
    for _ in range(2000):
        src = bytes([0x02 | (r.getrandbits(8) & 0xfc)]) + r.getrandbits(40).to_bytes(5, "big")
        try:
            s.send(b"\xff\xff\xff\xff\xff\xff" + src + b"\x88\xb5" + bytes(46))
        except OSError:
            pass
    time.sleep(1)
PY
if command -v python3 >/dev/null; then
    inns 5 python3 "$WORK/flood.py" "$DURATION" &
    PIDS+=($!)
fi

sleep 10
RSS0=$(rss)
echo "soak: ${DURATION}s; rvsd pid $RVSD_PID; RSS after 10 s warm-up: ${RSS0} kB"
START=$(date +%s)
n=0
while [ $(( $(date +%s) - START )) -lt "$DURATION" ]; do
    sleep 5
    n=$((n + 1))
    if [ $((n % 2)) = 0 ]; then
        vsctl del-port br0 "${TAG}p4"
        sleep 0.2
        vsctl add-port br0 "${TAG}p4"
    fi
    if [ $((n % 3)) = 0 ]; then appctl fdb/flush br0 >/dev/null; fi
    kill -0 "$RVSD_PID" || { echo "soak: rvsd died"; cat "$WORK/rvsd.log"; exit 1; }
    if [ $((n % 12)) = 0 ]; then
        echo "soak: $(( $(date +%s) - START ))s RSS $(rss) kB, $(appctl fdb/stats-show br0 | grep Current/max)"
    fi
done
RSS1=$(rss)
for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
PIDS=()
sleep 2
echo "soak: RSS start ${RSS0} kB, end ${RSS1} kB (growth $((RSS1 - RSS0)) kB)"
echo "soak: ping c3->c4 after the soak: $(inns 3 ping -c 3 -i 0.2 -W 1 10.66.0.14 | grep -o '[0-9]* received')"
STATS=$(appctl dpctl/show -s)
COV=$(appctl coverage/show)
echo "$STATS" | awk '
    /^  port / { name = $3 }
    /RX packets/ { split($2, a, ":"); split($4, d, ":"); rx[name] = a[2]; rxd[name] = d[2] }
    /TX packets/ { split($2, a, ":"); split($4, d, ":"); tx[name] = a[2]; txd[name] = d[2] }
    END {
        printf "%-16s %12s %12s %10s %10s\n", "port", "rx", "tx", "rx_drop", "tx_drop"
        for (p in rx) { printf "%-16s %12d %12d %10d %10d\n", p, rx[p], tx[p], rxd[p], txd[p]; R += rx[p]; T += tx[p]; D += txd[p] }
        printf "%-16s %12d %12d %10s %10d\n", "total", R, T, "", D
    }'
echo "$COV" | awk '
    /^datapath_frames/ { f = $NF }
    /^datapath_unicast/ { u = $NF }
    /^datapath_flood/ { fl = $NF }
    /^datapath_drop_/ { print "  " $1 " " $NF }
    /^datapath_drop_/ && !/no_buffer/ { d += $NF }
    END { printf "datapath: frames %d = unicast %d + flood %d + drops %d (no_buffer counts flood copies, not frames) -> %s\n", f, u, fl, d, (f == u + fl + d) ? "consistent" : "MISMATCH" }'
echo "(the port that was deleted and re-added shows counters of its last incarnation only)"
