#!/usr/bin/env bash
# TCP throughput through rvs and through the kernel Linux bridge on identical veth
# topologies, in one run, with DEFAULT offloads on every veth. Also the idle CPU of rvsd.
#   bench/scripts/l2-compare.sh [SECONDS]
# Needs root, iperf3, and a release build (cargo build --release).
set -euo pipefail
cd "$(dirname "$0")/../.."
T=${1:-5}
BIN=$PWD/target/release
[ -x "$BIN/rvsd" ] || cargo build --release -q
S=$$
SW=rvsb-sw$S; H1=rvsb-a$S; H2=rvsb-b$S
TMP=$(mktemp -d)
cleanup() {
    [ -n "${RVSD_PID:-}" ] && kill "$RVSD_PID" 2>/dev/null && wait "$RVSD_PID" 2>/dev/null || true
    for n in $SW $H1 $H2; do ip netns del $n 2>/dev/null || true; done
    rm -rf "$TMP"
}
trap cleanup EXIT

topo() {
    for n in $SW $H1 $H2; do ip netns add $n; ip -n $n link set lo up; done
    ip -n $SW link add s1 type veth peer name eth0 netns $H1
    ip -n $SW link add s2 type veth peer name eth0 netns $H2
    ip -n $SW link set s1 up; ip -n $SW link set s2 up
    ip -n $H1 addr add 10.88.0.1/24 dev eth0; ip -n $H1 link set eth0 up
    ip -n $H2 addr add 10.88.0.2/24 dev eth0; ip -n $H2 link set eth0 up
    ip netns exec $SW sysctl -qw net.ipv4.conf.all.arp_ignore=1
}
untopo() { for n in $SW $H1 $H2; do ip netns del $n; done; }

iperf() {
    ip netns exec $H2 iperf3 -s -1 -D -I "$TMP/iperf.pid" >/dev/null
    sleep 0.3
    ip netns exec $H1 iperf3 -c 10.88.0.2 -t "$T" -J | python3 -c 'import json,sys; print("%.2f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e9))'
}

echo "TCP, iperf3 -t $T, default veth offloads, $(nproc) vCPUs, $(date -u +%F)"
topo
ip -n $SW link add lbr type bridge; ip -n $SW link set lbr up
ip -n $SW link set s1 master lbr; ip -n $SW link set s2 master lbr
printf "%-22s %s Gbit/s\n" "Linux bridge" "$(iperf)"
untopo

topo
RVS_RUNDIR=$TMP/run RVS_DBDIR=$TMP/db ip netns exec $SW "$BIN/rvsd" --rundir "$TMP/run" --dbdir "$TMP/db" 2>"$TMP/rvsd.log" &
RVSD_PID=$!
for _ in $(seq 100); do [ -S "$TMP/run/rvsd.ctl" ] && break; sleep 0.05; done
export RVS_RUNDIR=$TMP/run
"$BIN/ovs-vsctl" add-br br0 -- add-port br0 s1 -- add-port br0 s2
ip netns exec $H1 ping -c 2 -W 2 10.88.0.2 >/dev/null
printf "%-22s %s Gbit/s\n" "rvs (AF_PACKET)" "$(iperf)"
# Idle CPU: the real PID of rvsd is the child of `ip netns exec` (exec'd in place).
sleep 1
pid=$(pgrep -f "$BIN/rvsd --rundir $TMP/run" | head -1)
t0=$(awk '{print $14+$15}' /proc/$pid/stat); sleep 10; t1=$(awk '{print $14+$15}' /proc/$pid/stat)
hz=$(getconf CLK_TCK)
printf "%-22s %s %% of one CPU over 10 s\n" "rvsd idle CPU" "$(python3 -c "print('%.2f' % (($t1-$t0)/$hz/10*100))")"
