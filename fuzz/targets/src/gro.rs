//! Target `gro`: receive coalescing (`rvs_datapath::gro::coalesce`) of a burst of TCP
//! segments that a remote host controls (GRE receive feeds it).
//!
//! Input: one byte of options (DF, a VLAN tag, TCP timestamp options, IPv6), the total payload
//! and the MSS (16 bits each), then mutations of 4 bytes each: segment, offset (its top bit
//! asks for the checksums to be recomputed afterwards, so a mutation can look valid), and an
//! XOR value (zero removes the segment). The segments are cut from one super-frame by the
//! datapath's own software TSO, mutated, and coalesced.
//!
//! Invariants: every buffer comes back (kept or pooled); frames left alone are byte-identical
//! to their inputs, in order; a merged frame is a TCPv4 GSO frame that the software TSO cuts
//! back into exactly the inputs it absorbed (byte for byte, checksums included, so nothing
//! with a bad checksum was merged), except the IPv4 id and header checksum when DF is set.
//! IPv6 merged frames must come back byte for byte.

use crate::input::Input;
use core::net::Ipv4Addr;
use rvs_datapath::gro::{self, GroCounters};
use rvs_datapath::offload::{prepare_tx, OffloadCounters};
use rvs_datapath::packet::{
    Batch, Offload, Packet, PacketPool, BATCH_SIZE, GSO_NONE, GSO_TCPV4, GSO_TCPV6,
};
use rvs_datapath::wire::ethernet::{self, MacAddr};
use rvs_datapath::wire::ipv4::{proto, Ipv4Packet, Ipv4Repr, FLAG_DF};
use rvs_datapath::wire::ipv6::Ipv6Repr;
use rvs_datapath::wire::{l4, EtherType};
use std::cell::RefCell;

fn put(f: &mut [u8], off: usize, v: &[u8]) {
    f[off..off + v.len()].copy_from_slice(v);
}

/// One super-frame (GSO metadata set) with `payload` bytes cut in `mss`-byte segments.
fn super_frame(opts: u8, payload: usize, mss: u16) -> Packet {
    let v6 = opts & 8 != 0;
    let l2 = if opts & 2 != 0 { 18 } else { 14 };
    let tcp_len = if opts & 4 != 0 { 32 } else { 20 };
    let l4 = l2 + if v6 { 40 } else { 20 };
    let et = if v6 { EtherType::IPV6 } else { EtherType::IPV4 };
    let mut f = vec![0u8; l4 + tcp_len + payload];
    ethernet::emit(
        &mut f,
        MacAddr([2, 0, 0, 0, 0, 2]),
        MacAddr([2, 0, 0, 0, 0, 1]),
        et,
    );
    if l2 == 18 {
        put(&mut f, 12, &EtherType::VLAN.to_be_bytes());
        put(&mut f, 14, &100u16.to_be_bytes());
        put(&mut f, 16, &et.to_be_bytes());
    }
    if v6 {
        Ipv6Repr {
            src: "fd00::1".parse().expect("address"),
            dst: "fd00::2".parse().expect("address"),
            next_header: proto::TCP,
            hop_limit: 64,
            payload_len: tcp_len + payload,
        }
        .emit(&mut f[l2..]);
    } else {
        Ipv4Repr {
            src: Ipv4Addr::new(10, 1, 1, 1),
            dst: Ipv4Addr::new(10, 1, 1, 2),
            protocol: proto::TCP,
            tos: 0,
            ttl: 64,
            ident: 0xfff0,
            frag_word: if opts & 1 != 0 { FLAG_DF } else { 0 },
            payload_len: tcp_len + payload,
        }
        .emit(&mut f[l2..]);
    }
    put(&mut f, l4, &40000u16.to_be_bytes());
    put(&mut f, l4 + 2, &5201u16.to_be_bytes());
    put(&mut f, l4 + 4, &0xffff_f000u32.to_be_bytes());
    put(&mut f, l4 + 8, &77u32.to_be_bytes());
    f[l4 + 12] = ((tcp_len / 4) as u8) << 4;
    f[l4 + 13] = l4::tcp_flags::ACK | l4::tcp_flags::PSH;
    put(&mut f, l4 + 14, &512u16.to_be_bytes());
    if tcp_len == 32 {
        put(&mut f, l4 + 20, &[1, 1, 8, 10, 0, 0, 1, 0, 0, 0, 2, 0]);
    }
    for (i, b) in f[l4 + tcp_len..].iter_mut().enumerate() {
        *b = (i * 7 + (i >> 9)) as u8;
    }
    let mut p = Packet::from_bytes(&f);
    p.meta.offload = Offload {
        gso_type: if v6 { GSO_TCPV6 } else { GSO_TCPV4 },
        gso_size: mss,
        ..Offload::default()
    };
    p
}

thread_local! {
    /// Reused between inputs: a pool allocates 64 KB per buffer.
    static POOL: RefCell<PacketPool> = RefCell::new(PacketPool::new(2 * BATCH_SIZE));
}

/// The `gro` target.
pub fn gro(data: &[u8]) {
    POOL.with(|p| run(data, &mut p.borrow_mut()));
}

fn run(data: &[u8], pool: &mut PacketPool) {
    let mut inp = Input::new(data);
    let opts = inp.u8();
    let payload = usize::from(inp.u16()) % 60_000 + 1;
    let mss = (inp.u16() % 9000).max(1);
    // At most a burst of segments: the rest would only be cut and thrown away.
    let payload = payload.min(usize::from(mss) * BATCH_SIZE);
    let mut segs: Vec<Packet> = Vec::new();
    prepare_tx(
        super_frame(opts, payload, mss),
        false,
        pool,
        &mut OffloadCounters::default(),
        &mut |s, pool| {
            if segs.len() < BATCH_SIZE {
                segs.push(s);
            } else {
                pool.put(s);
            }
        },
    );
    let l3 = if opts & 2 != 0 { 18 } else { 14 };
    while !inp.is_empty() && !segs.is_empty() {
        let i = usize::from(inp.u8()) % segs.len();
        let off = inp.u16();
        let x = inp.u8();
        if x == 0 {
            pool.put(segs.remove(i));
            continue;
        }
        let f = segs[i].data_mut();
        let at = usize::from(off & 0x7fff) % f.len();
        f[at] ^= x;
        if off & 0x8000 != 0 {
            if opts & 8 == 0 {
                if let Ok(mut ip) = Ipv4Packet::new_checked(&mut f[l3..]) {
                    ip.fill_checksum();
                }
            }
            let _ = l4::fill(f);
        }
    }
    let inputs: Vec<Vec<u8>> = segs.iter().map(|p| p.data().to_vec()).collect();
    let mut batch = Batch::new();
    for p in segs {
        if let Err(p) = batch.push(p) {
            pool.put(p);
        }
    }
    let before = pool.available() + batch.len();
    gro::coalesce(&mut batch, 0, pool, &mut GroCounters::default());
    assert_eq!(pool.available() + batch.len(), before, "buffers conserved");

    let mut next = 0;
    for p in batch.drain() {
        let o = p.meta.offload;
        if o.gso_type == GSO_NONE {
            assert_eq!(o, Offload::default());
            assert_eq!(
                Some(p.data()),
                inputs.get(next).map(Vec::as_slice),
                "untouched"
            );
            next += 1;
            pool.put(p);
            continue;
        }
        let v6 = opts & 8 != 0;
        assert_eq!(o.gso_type, if v6 { GSO_TCPV6 } else { GSO_TCPV4 });
        assert!(o.needs_csum);
        assert!(p.len() - l3 <= 65535 + if v6 { 40 } else { 0 });
        let df = !v6 && Ipv4Packet::new_checked(&p.data()[l3..]).is_ok_and(|ip| ip.dont_frag());
        let mut out = Vec::new();
        let mut oc = OffloadCounters::default();
        prepare_tx(p, false, pool, &mut oc, &mut |s, pool| {
            out.push(s.data().to_vec());
            pool.put(s);
        });
        assert_eq!(oc.drops(), 0, "a merged frame segments cleanly");
        assert!(out.len() >= 2, "a merged frame holds at least two segments");
        for mut s in out {
            let want = inputs.get(next).expect("no more segments out than in");
            if df {
                // The id (and so the header checksum) is regenerated; DF makes it moot.
                for r in [l3 + 4..l3 + 6, l3 + 10..l3 + 12] {
                    s[r.clone()].copy_from_slice(&want[r]);
                }
            }
            assert_eq!(&s, want, "merged segment {next} comes back as it went in");
            next += 1;
        }
    }
    assert_eq!(next, inputs.len(), "every input accounted for, in order");
}
