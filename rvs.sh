#!/usr/bin/env bash
# rvs developer entry point.
#   ./rvs.sh run    install what is missing, build release, start rvsd in the foreground
#   ./rvs.sh test   install what is missing, run the whole test suite (netns tests need root;
#                   with RVS_REQUIRE_ROOT=1, as CI sets, a test that would skip fails instead)
#   ./rvs.sh install  build release and install rvsd, the front ends (off PATH) and systemd units
# Extra arguments after `run` go to rvsd (e.g. --rundir DIR --dbdir DIR, or
# unix:/var/run/openvswitch/db.sock for the ovs-vswitchd mode).
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
    # rvsd itself prints the control socket it listens on (it knows --rundir, --unixctl and
    # the vswitchd mode's paths).
    echo "rvs: front ends are in $PWD/target/release (ovs-vsctl, ovs-appctl, ovs-dpctl)" >&2
    exec target/release/rvsd "$@"
    ;;
install)
    # ./rvs.sh install [--prefix DIR] [--no-systemd]
    # rvsd goes to PREFIX/sbin; rvs's front ends (ovs-vsctl, ovs-appctl, ovs-dpctl) go to
    # PREFIX/lib/rvs/bin, which is on nobody's PATH, so they never shadow a real OVS's tools
    # by accident: put that directory first on PATH only where the embedded mode is used.
    # The systemd units go to /etc/systemd/system (not enabled).
    shift
    prefix=/usr/local; systemd=1
    while [ $# -gt 0 ]; do
        case "$1" in
        --prefix) prefix="$2"; shift 2 ;;
        --prefix=*) prefix="${1#--prefix=}"; shift ;;
        --no-systemd) systemd=0; shift ;;
        *) echo "usage: $0 install [--prefix DIR] [--no-systemd]" >&2; exit 2 ;;
        esac
    done
    ensure_packages
    cargo build --release --workspace --bins
    install -D -m 0755 target/release/rvsd "$prefix/sbin/rvsd"
    for b in ovs-vsctl ovs-appctl ovs-dpctl; do
        install -D -m 0755 "target/release/$b" "$prefix/lib/rvs/bin/$b"
    done
    if [ "$systemd" = 1 ] && [ -d /etc/systemd/system ]; then
        for u in rvs-vswitchd rvsd; do
            sed "s|@SBINDIR@|$prefix/sbin|g" "control/packaging/$u.service" \
                > "/etc/systemd/system/$u.service"
        done
        command -v systemctl >/dev/null && systemctl daemon-reload 2>/dev/null || true
        echo "rvs: units rvs-vswitchd.service and rvsd.service in /etc/systemd/system (not enabled)" >&2
    fi
    echo "rvs: installed $prefix/sbin/rvsd; front ends in $prefix/lib/rvs/bin (not on PATH)" >&2
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
    echo "usage: $0 run [rvsd options] | test [cargo test options] | install [--prefix DIR]" >&2
    exit 2
    ;;
esac
