//! Target `udp_tunnel`: VXLAN/Geneve receive. A buffer as a `UDP_GRO` socket returns it (one
//! datagram, or several coalesced under a segment size) is split (`tunnel::gro_datagrams`) and
//! each datagram demultiplexed among up to four tunnels sharing the socket
//! (`tunnel::udp_demux`), exactly as `port::udptun` does.
//!
//! Invariants: the datagrams tile the buffer in order; a datagram that is accepted goes to a
//! member whose configuration accepts its source, destination and VNI, its inner frame lies
//! inside it and is at least an Ethernet header, and re-encapsulating that frame for the
//! member (`udp_encap`) decapsulates to the same frame and VNI; a refused one names a reason
//! the kind can produce. Nothing panics.

use crate::input::Input;
use core::net::Ipv4Addr;
use rvs_datapath::packet::Packet;
use rvs_datapath::tunnel::{self, KeyOpt, TunnelConfig, TunnelDrop, TunnelKind};
use rvs_datapath::wire::ethernet::HEADER_LEN;
use std::collections::BTreeMap;

const LOCAL: Ipv4Addr = Ipv4Addr::new(10, 201, 0, 1);

fn member(inp: &mut Input, kind: TunnelKind) -> TunnelConfig {
    let b = inp.u8();
    let mut o = BTreeMap::new();
    o.insert(
        "remote_ip".to_string(),
        Ipv4Addr::new(10, 201, 0, 2 + (b & 3)).to_string(),
    );
    match (b >> 2) & 3 {
        0 => {}
        1 => {
            o.insert("key".into(), "flow".into());
        }
        _ => {
            o.insert("key".into(), (inp.u32() & 0x00ff_ffff).to_string());
        }
    }
    if b & 0x10 != 0 {
        o.insert("local_ip".into(), LOCAL.to_string());
    }
    TunnelConfig::from_options(kind, &o).expect("options built to be valid")
}

/// The fuzz target.
pub fn udp_tunnel(data: &[u8]) {
    let mut inp = Input::new(data);
    let head = inp.u8();
    let kind = if head & 1 == 0 {
        TunnelKind::Vxlan
    } else {
        TunnelKind::Geneve
    };
    let members: Vec<TunnelConfig> = (0..1 + (head >> 1) % 4)
        .map(|_| member(&mut inp, kind))
        .collect();
    let src = Ipv4Addr::new(10, 201, 0, 2 + (inp.u8() & 3));
    let dst = if inp.u8() & 1 == 0 {
        LOCAL
    } else {
        Ipv4Addr::new(10, 201, 0, 9)
    };
    let gso = match inp.u16() {
        0 => None,
        g => Some(usize::from(g) % 2048),
    };
    let buf = inp.rest();
    let mut next = 0;
    for r in tunnel::gro_datagrams(buf.len(), gso) {
        assert_eq!(r.start, next, "datagrams tile the buffer");
        assert!(r.end > r.start && r.end <= buf.len());
        next = r.end;
        let d = &buf[r];
        match tunnel::udp_demux(d, kind, src, dst, members.iter().copied()) {
            Ok((i, vni, inner)) => {
                let m = &members[i];
                assert!(
                    m.check_udp(src, dst, vni).is_ok(),
                    "accepted by a member that refuses it"
                );
                assert!(inner.end <= d.len() && inner.len() >= HEADER_LEN);
                let frame = &d[inner];
                // What the sending side would emit for this member decapsulates the same.
                let mut p = Packet::from_bytes(frame);
                let mut sender = *m;
                sender.out_key = match m.in_key {
                    KeyOpt::Fixed(k) => KeyOpt::Fixed(k),
                    KeyOpt::None => KeyOpt::None,
                    KeyOpt::Flow => KeyOpt::Fixed(vni),
                };
                if tunnel::udp_encap(&mut p, &sender).is_ok() {
                    let (vni2, inner2) =
                        tunnel::udp_decap(p.data(), kind).expect("own encap decaps");
                    assert_eq!(&p.data()[inner2], frame);
                    assert_eq!(vni2, sender.out_key().unwrap_or(0));
                }
            }
            Err(why) => {
                assert!(
                    !matches!(
                        why,
                        TunnelDrop::Routing | TunnelDrop::BadChecksum | TunnelDrop::NotThisTunnel
                    ),
                    "{why:?} is not a UDP tunnel reason"
                );
                if why == TunnelDrop::CriticalOption {
                    assert_eq!(kind, TunnelKind::Geneve);
                }
            }
        }
    }
    assert_eq!(next, buf.len());
}
