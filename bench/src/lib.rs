//! Shared helpers for rvs benchmarks: deterministic frame generators (used by the criterion
//! benches and by `rvs-bench`), and the modules of the `rvs-bench` throughput harness.
//!
//! Frames built here are always valid Ethernet/IPv4/UDP: a correct IPv4 header checksum (the
//! kernel bridge's netfilter drops bridged IPv4 whose checksum is wrong), a UDP length that
//! matches, and a zero UDP checksum (legal on IPv4: "no checksum").

pub mod gen;
pub mod measure;
pub mod relay;
pub mod report;
pub mod results;
pub mod rfc2544;
pub mod search;
pub mod stats;
pub mod systems;

use rvs_datapath::wire::ethernet::{emit, EtherType, MacAddr};
use rvs_datapath::wire::ipv4::{proto, Ipv4Repr, FLAG_DF};
use std::net::Ipv4Addr;

/// Ethernet (14) + IPv4 (20) + UDP (8): the shortest frame [`udp_frame_sized`] builds.
pub const MIN_UDP_FRAME: usize = 14 + 20 + 8;

/// A unicast MAC derived from `n` (locally administered, never multicast).
pub fn mac(n: u32) -> MacAddr {
    MacAddr::from_u64(0x0200_0000_0000 | u64::from(n))
}

/// Addresses and ports of one UDP flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpFlow {
    /// Ethernet destination.
    pub dst_mac: MacAddr,
    /// Ethernet source.
    pub src_mac: MacAddr,
    /// IPv4 source.
    pub src_ip: Ipv4Addr,
    /// IPv4 destination.
    pub dst_ip: Ipv4Addr,
    /// UDP source port.
    pub sport: u16,
    /// UDP destination port.
    pub dport: u16,
}

/// An Ethernet/IPv4/UDP frame of exactly `len` bytes (no FCS; at least [`MIN_UDP_FRAME`])
/// for `flow`, with a valid IPv4 header checksum, DF set, and a zero UDP checksum.
pub fn udp_frame_sized(flow: &UdpFlow, len: usize) -> Vec<u8> {
    let len = len.max(MIN_UDP_FRAME);
    let mut f = vec![0u8; len];
    emit(&mut f, flow.dst_mac, flow.src_mac, EtherType::IPV4);
    let ip_payload = len - 14 - 20;
    Ipv4Repr {
        src: flow.src_ip,
        dst: flow.dst_ip,
        protocol: proto::UDP,
        tos: 0,
        ttl: 64,
        ident: 0,
        frag_word: FLAG_DF,
        payload_len: ip_payload,
    }
    .emit(&mut f[14..]);
    let udp = &mut f[34..];
    udp[0..2].copy_from_slice(&flow.sport.to_be_bytes());
    udp[2..4].copy_from_slice(&flow.dport.to_be_bytes());
    udp[4..6].copy_from_slice(&(ip_payload as u16).to_be_bytes());
    f
}

/// A 64-byte Ethernet/IPv4/UDP frame from `src` to `dst` with valid IPv4 header.
pub fn udp_frame(dst: MacAddr, src: MacAddr) -> Vec<u8> {
    udp_frame_sized(
        &UdpFlow {
            dst_mac: dst,
            src_mac: src,
            src_ip: Ipv4Addr::new(10, 0, 0, 1),
            dst_ip: Ipv4Addr::new(10, 0, 0, 2),
            sport: 0,
            dport: 0,
        },
        64,
    )
}

/// `n` flows as MAC pairs: flow `i` goes from `mac(base + i)` to `mac(base + 0x8000 + i)`,
/// with UDP source port `10000 + i` between the two given addresses.
pub fn flows(n: usize, base: u32, src_ip: Ipv4Addr, dst_ip: Ipv4Addr) -> Vec<UdpFlow> {
    (0..n as u32)
        .map(|i| UdpFlow {
            src_mac: mac(base + i),
            dst_mac: mac(base + 0x8000 + i),
            src_ip,
            dst_ip,
            sport: 10000 + (i % 50000) as u16,
            dport: 9,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rvs_datapath::wire::{EthernetFrame, Ipv4Packet};

    #[test]
    fn frames_are_valid_ipv4_udp_of_the_asked_size() {
        for len in [64, 512, 1500] {
            let fl = flows(3, 1, Ipv4Addr::new(10, 1, 0, 1), Ipv4Addr::new(10, 1, 0, 2));
            let f = udp_frame_sized(&fl[2], len);
            assert_eq!(f.len(), len);
            let e = EthernetFrame::new_checked(&f[..]).unwrap();
            assert_eq!(e.src(), mac(3));
            assert_eq!(e.dst(), mac(3 + 0x8000));
            let ip = Ipv4Packet::new_checked(e.payload()).unwrap();
            assert!(ip.verify_checksum());
            assert_eq!(usize::from(ip.total_len()), len - 14);
            assert_eq!(u16::from_be_bytes([f[38], f[39]]) as usize, len - 34);
            assert_eq!(u16::from_be_bytes([f[34], f[35]]), 10002);
        }
        assert_eq!(udp_frame(mac(1), mac(2)).len(), 64);
    }
}
