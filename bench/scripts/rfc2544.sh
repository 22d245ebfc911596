#!/usr/bin/env bash
# The RFC 2544 figures of the README (rvs-bench --method ndr, 3 runs each, ~45 min on 2 vCPUs):
# the L2 switches, the tunnels, and the pvp deployment, each with its table (.txt, with the
# load average before and after), JSON, CSV and SVG under bench/results/.
#   bench/scripts/rfc2544.sh [extra rvs-bench options]
# Needs root, Open vSwitch for the ovs rows, and a release build (cargo build --release).
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${CARGO_TARGET_DIR:-$PWD/target}/release/rvs-bench
[ -x "$BIN" ] || cargo build --release -q
COMMON=(--method ndr --sizes 64,1500 --flows 1 --repeat 3 --trial 1 --final-trial 3 "$@")
run() {
    local name=$1 out=bench/results/$1
    shift
    {
        echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), uptime: $(uptime)"
        echo "# rvs-bench ${COMMON[*]} $*"
    } > "$out.txt"
    "$BIN" "${COMMON[@]}" "$@" --json "$out.json" --csv "$out.csv" --svg "$out.svg" >> "$out.txt"
    echo "# finished $(date -u '+%H:%M UTC'), uptime: $(uptime)" >> "$out.txt"
}
run rfc2544 --only rvs-offload,rvs,linux-bridge,ovs
run rfc2544-tunnels --only rvs-gre,rvs-vxlan,linux-vxlan
run rfc2544-pvp --only rvs-offload,rvs,linux-bridge,ovs --deployment pvp
