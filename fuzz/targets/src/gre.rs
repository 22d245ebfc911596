//! Target `gre_decap`: GRE receive and transmit, as the GRE port runs them.
//!
//! Input: one byte choosing the tunnel options (local_ip, key mode, csum, ttl/tos inherit,
//! df_default, and whether `remote_ip` is the packet's own source so the spoofing check
//! passes), a 32-bit key, a 16-bit underlay path MTU, then the packet.
//!
//! Receive: `tunnel::decap` of the bytes as a raw socket would return them. Invariants: a
//! delivered frame lies inside the packet, is at least an Ethernet header long, comes from
//! `remote_ip`, is one the config `accepts`, and `peek` reads the same addresses and key;
//! `decap` itself never answers `NotThisTunnel` (only the port's demultiplexer does).
//!
//! Transmit: the same bytes as an inner frame, through `tx_decision` and then what the port
//! does for each decision. Invariants: an encapsulated packet is a valid IPv4 packet that
//! fits the MTU when the decision was `Send`, and the tunnel's other end decapsulates it
//! back to the very same frame; ICMP "too big" replies are well-formed (lengths, IPv4 header
//! and ICMP checksums) and go back to the sender's MAC; outer fragments are within the MTU
//! and reassemble to the original outer payload.

use crate::input::Input;
use core::net::Ipv4Addr;
use rvs_datapath::packet::Packet;
use rvs_datapath::tunnel::{
    self, Decapped, Inherit, KeyOpt, TunnelConfig, TunnelDrop, TunnelKind, TxDecision,
    ICMP_FRAME_MAX, OUTER_IP_LEN,
};
use rvs_datapath::wire::ethernet::HEADER_LEN;
use rvs_datapath::wire::{checksum, EtherType, EthernetFrame, Ipv4Packet, Ipv6Packet};
use std::cell::RefCell;

/// The far end of the fuzzed tunnels.
pub(crate) const REMOTE: Ipv4Addr = Ipv4Addr::new(10, 201, 0, 2);
/// Our end.
pub(crate) const LOCAL: Ipv4Addr = Ipv4Addr::new(10, 201, 0, 1);

thread_local! {
    /// One reusable buffer (a `Packet` is 64 KB; allocating one per input would dominate).
    static PKT: RefCell<Packet> = RefCell::new(Packet::new());
}

/// A tunnel configuration chosen by the bits of `b`.
pub(crate) fn config(b: u8, key: u32, remote_ip: Ipv4Addr) -> TunnelConfig {
    let (in_key, out_key) = match (b >> 1) & 3 {
        0 => (KeyOpt::None, KeyOpt::None),
        1 => (KeyOpt::Fixed(key), KeyOpt::Fixed(key)),
        2 => (KeyOpt::Flow, KeyOpt::Flow),
        _ => (KeyOpt::Fixed(key), KeyOpt::Fixed(key.wrapping_add(1))),
    };
    let pick = |bit: u8, fixed: u8| {
        if b & bit != 0 {
            Inherit::Inherit
        } else {
            Inherit::Fixed(fixed)
        }
    };
    TunnelConfig {
        kind: TunnelKind::Gre,
        dst_port: 0,
        remote_ip,
        local_ip: (b & 1 != 0).then_some(LOCAL),
        in_key,
        out_key,
        csum: b & 8 != 0,
        ttl: pick(16, tunnel::DEFAULT_TTL),
        tos: pick(32, 0),
        df_default: b & 64 == 0,
    }
}

/// The other end of `cfg`'s tunnel, as configured there: addresses swapped, expecting the
/// key we send.
fn peer(cfg: &TunnelConfig, our_src: Ipv4Addr) -> TunnelConfig {
    TunnelConfig {
        remote_ip: our_src,
        local_ip: Some(cfg.remote_ip),
        in_key: match cfg.out_key {
            KeyOpt::Fixed(k) => KeyOpt::Fixed(k),
            KeyOpt::None | KeyOpt::Flow => KeyOpt::None,
        },
        out_key: cfg.in_key,
        ..*cfg
    }
}

/// `tunnel::decap` of one packet against `cfg`, with the receive-side checks.
pub(crate) fn decap_checked(pkt: &[u8], cfg: &TunnelConfig) -> Result<Decapped, TunnelDrop> {
    let r = tunnel::decap(pkt, cfg);
    match &r {
        Ok(d) => {
            assert!(d.inner.start <= d.inner.end && d.inner.end <= pkt.len());
            assert!(d.inner.len() >= HEADER_LEN, "runt delivered: {d:?}");
            assert_eq!(d.meta.src, cfg.remote_ip);
            assert!(cfg.accepts(d.meta.src, d.meta.dst, d.meta.key));
            assert_eq!(
                tunnel::peek(pkt),
                Some((d.meta.src, d.meta.dst, d.meta.key))
            );
        }
        Err(e) => assert_ne!(*e, TunnelDrop::NotThisTunnel),
    }
    r
}

/// Encapsulate `frame` as the port does and check the peer gets it back. Returns the outer
/// length, or `None` when it is too big to encapsulate.
fn encap_checked(frame: &[u8], cfg: &TunnelConfig, pkt: &mut Packet) -> Option<usize> {
    pkt.reset();
    if !pkt.set_frame(frame) {
        return None;
    }
    let inner_len = pkt.len();
    match tunnel::encap(pkt, cfg, LOCAL, 0x4242) {
        Ok(total) => {
            assert_eq!(total, pkt.len());
            assert_eq!(total, cfg.header_len() + inner_len);
            let outer = pkt.data();
            let ip = Ipv4Packet::new_checked(outer).expect("encap emits valid IPv4");
            assert!(ip.verify_checksum());
            assert_eq!(usize::from(ip.total_len()), total);
            let back = decap_checked(outer, &peer(cfg, LOCAL));
            if inner_len >= HEADER_LEN {
                let r = back.unwrap_or_else(|e| panic!("peer refused our packet: {e:?}"));
                assert_eq!(
                    &outer[r.inner],
                    &frame[..inner_len],
                    "round trip changed the frame"
                );
            } else {
                assert_eq!(back.err(), Some(TunnelDrop::Truncated));
            }
            Some(total)
        }
        Err(tunnel::EncapError::TooBig) => {
            assert!(cfg.header_len() + inner_len > usize::from(u16::MAX));
            None
        }
        Err(e) => panic!("encap failed with full headroom: {e:?}"),
    }
}

/// Check the ICMP "too big" reply rvs would send for `frame`.
fn icmp_checked(frame: &[u8], mtu: u32) {
    let mut out = [0u8; ICMP_FRAME_MAX];
    let Some(n) = tunnel::build_icmp_too_big(frame, mtu, &mut out) else {
        return;
    };
    assert!(
        (HEADER_LEN..=ICMP_FRAME_MAX).contains(&n),
        "reply length {n}"
    );
    let reply = &out[..n];
    let eth = EthernetFrame::new_checked(reply).expect("reply has an Ethernet header");
    assert_eq!(&reply[0..6], &frame[6..12], "reply goes back to the sender");
    let l2 = eth.parse_l2().expect("reply tags are whole");
    let l3 = &reply[l2.l3_offset..];
    match l2.ethertype {
        EtherType::IPV4 => {
            let ip = Ipv4Packet::new_checked(l3).expect("reply IPv4 is valid");
            assert!(ip.verify_checksum());
            assert_eq!(usize::from(ip.total_len()), l3.len());
            assert!(checksum::verify(ip.payload()), "ICMP checksum");
        }
        EtherType::IPV6 => {
            let ip = Ipv6Packet::new_checked(l3).expect("reply IPv6 is valid");
            assert_eq!(usize::from(ip.payload_len()) + 40, l3.len());
        }
        t => panic!("reply with EtherType {t:#x}"),
    }
}

/// The GRE port's transmit path for `frame` over path MTU `mtu`, with every outcome
/// checked. Returns the number of packets that would be sent.
pub(crate) fn transmit(frame: &[u8], cfg: &TunnelConfig, mtu: usize, pkt: &mut Packet) -> usize {
    match tunnel::tx_decision(frame, cfg, mtu) {
        TxDecision::Send => {
            let Some(total) = encap_checked(frame, cfg, pkt) else {
                return 0;
            };
            assert!(
                total <= mtu,
                "Send decided for {total} bytes over MTU {mtu}"
            );
            1
        }
        TxDecision::FragNeeded(m) => {
            icmp_checked(frame, u32::from(m));
            0
        }
        TxDecision::PacketTooBig(m) => {
            icmp_checked(frame, m);
            0
        }
        TxDecision::FragmentOuter => {
            assert!(!cfg.df_default);
            let Some(total) = encap_checked(frame, cfg, pkt) else {
                return 0;
            };
            let outer = pkt.data();
            let mut next = OUTER_IP_LEN;
            let n = tunnel::fragment_outer(outer, mtu, |h, r| {
                assert_eq!(r.start, next, "fragments are contiguous");
                assert!(h.len() + r.len() <= mtu, "fragment over the MTU");
                assert!(checksum::verify(h));
                next = r.end;
            });
            if n > 0 {
                assert_eq!(next, total, "fragments cover the packet");
            } else {
                assert!(mtu < OUTER_IP_LEN + 8);
            }
            n
        }
        TxDecision::Drop => 0,
    }
}

/// The `gre_decap` target.
pub fn gre_decap(data: &[u8]) {
    let mut inp = Input::new(data);
    let b = inp.u8();
    let key = inp.u32();
    let mtu = usize::from(inp.u16());
    let pkt = inp.rest();
    let remote = match pkt.get(12..16) {
        Some(s) if b & 0x80 != 0 => Ipv4Addr::new(s[0], s[1], s[2], s[3]),
        _ => REMOTE,
    };
    let cfg = config(b, key, remote);
    let _ = decap_checked(pkt, &cfg);
    PKT.with(|p| transmit(pkt, &cfg, mtu, &mut p.borrow_mut()));
}
