#!/usr/bin/env bash
# rvs developer entry point.
#   ./rvs.sh run    install what is missing, build release, start rvsd in the foreground
#   ./rvs.sh test   install what is missing, run the whole test suite (netns tests need root;
#                   with RVS_REQUIRE_ROOT=1, as CI sets, a test that would skip fails instead)
# Extra arguments after `run` go to rvsd (e.g. --rundir DIR --dbdir DIR).
set -euo pipefail
cd "$(dirname "$0")"

# Debian packages the build and the tests use. Installed only when missing.
# clang llvm make m4 libpcap-dev libelf-dev zlib1g-dev pkg-config: AF_XDP (libxdp-sys builds libxdp and
# its BPF objects with clang + llc, bindgen needs libclang); gcc libc6-dev: the C parts and linking.
PKGS=(iproute2 iputils-ping iperf3 curl ethtool python3 tcpdump procps kmod openvswitch-common openvswitch-switch python3-openvswitch uuid-runtime
      gcc libc6-dev make clang llvm m4 pkg-config libelf-dev zlib1g-dev libpcap-dev)

ensure_packages() {
    local missing=()
    for p in "${PKGS[@]}"; do
        dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        if [ "$(id -u)" -ne 0 ]; then
            echo "rvs: missing packages ${missing[*]} (run as root to install them)" >&2
            return 0
        fi
        echo "rvs: installing ${missing[*]}" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >/dev/null
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
}

case "${1:-}" in
run)
    shift
    ensure_packages
    cargo build --release --workspace
    export PATH="$PWD/target/release:$PATH"
    rundir="${RVS_RUNDIR:-/var/run/rvs}"
    echo "rvs: starting rvsd; control socket ${rundir}/rvsd.ctl" >&2
    echo "rvs: front ends are in $PWD/target/release (ovs-vsctl, ovs-appctl, ovs-dpctl)" >&2
    exec target/release/rvsd "$@"
    ;;
test)
    shift
    ensure_packages
    cargo build --workspace --bins
    cargo test --workspace "$@"
    # Model checks of the FDB seqlock and flow revalidation (loom; own target dir, since
    # --cfg loom rebuilds the datapath with loom's atomics).
    RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom \
        cargo test -p rvs-datapath --no-default-features --release --lib loom
    ;;
*)
    echo "usage: $0 run [rvsd options] | test [cargo test options]" >&2
    exit 2
    ;;
esac
