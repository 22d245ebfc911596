//! Shared helpers for rvs benchmarks: deterministic frame generators.

use rvs_datapath::wire::ethernet::{emit, EtherType, MacAddr};
use rvs_datapath::wire::ipv4::{proto, Ipv4Repr, FLAG_DF};

/// A unicast MAC derived from `n` (locally administered, never multicast).
pub fn mac(n: u32) -> MacAddr {
    MacAddr::from_u64(0x0200_0000_0000 | u64::from(n))
}

/// A 64-byte Ethernet/IPv4/UDP frame from `src` to `dst` with valid IPv4 header.
pub fn udp_frame(dst: MacAddr, src: MacAddr) -> Vec<u8> {
    let mut f = vec![0u8; 64];
    emit(&mut f, dst, src, EtherType::IPV4);
    Ipv4Repr {
        src: [10, 0, 0, 1].into(),
        dst: [10, 0, 0, 2].into(),
        protocol: proto::UDP,
        tos: 0,
        ttl: 64,
        ident: 0,
        frag_word: FLAG_DF,
        payload_len: 64 - 14 - 20,
    }
    .emit(&mut f[14..]);
    f
}
