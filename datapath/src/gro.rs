//! Receive coalescing ("software GRO"): merge consecutive TCP segments of one flow into one
//! super-frame, the inverse of the software TSO in `offload`.
//!
//! Why: a port without virtio-net metadata (a GRE tunnel's raw socket) delivers one
//! MTU-sized segment per frame. Forwarded as they are, each segment costs a trip through the
//! egress socket and the receiver's TCP stack, and each pair of segments earns an ACK that
//! crosses the tunnel back. Merged, a burst of up to 32 segments leaves as one GSO frame
//! (`GSO_TCPV4` with a partial checksum), which an egress that takes vnet headers (veth, TAP)
//! hands to the kernel in one piece; an egress that does not is given the original segments
//! again by `offload::prepare_tx`.
//!
//! Rules (the ones Linux's `tcp_gro_receive` applies, narrowed to what is simple to prove):
//! - only untouched TCP frames (no offload metadata) over IPv4 (IHL 5, not a fragment, valid
//!   header checksum) or IPv6 (no extension headers), with a valid TCP checksum: a merged
//!   frame goes out with a partial checksum the receiver trusts, so nothing unverified is
//!   ever merged;
//! - only adjacent frames of the same burst, from the same port and tunnel, whose L2 header,
//!   IP header (but for lengths, the IPv4 id and checksum), ports, ACK number, window, urgent
//!   pointer and TCP options (timestamps included) are byte-identical, with flags ACK or
//!   ACK|PSH;
//! - the sequence number continues the run exactly, the IPv4 id is the next one (or DF is set),
//!   every segment but the last carries exactly the first segment's payload size (the MSS),
//!   and a shorter segment or PSH ends the run;
//! - the result never exceeds 64 KB of IP packet (IPv6: of payload) nor the buffer.
//!
//! Frames that break a rule are forwarded unchanged, in order.
//! No allocation; the absorbed buffers go back to the pool. Owned by one PMD (not shared).

use crate::packet::{Batch, Offload, Packet, PacketPool, GSO_NONE, GSO_TCPV4, GSO_TCPV6};
use crate::wire::ipv4::{self, proto, Ipv4Packet};
use crate::wire::ipv6::{self, Ipv6Packet};
use crate::wire::l4::{tcp_flags, TCP_CSUM_OFFSET, TCP_MIN_HEADER_LEN};
use crate::wire::{be16, be32, checksum, put16, EtherType, EthernetFrame};

/// What coalescing did. Plain counters owned by the port that coalesces.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GroCounters {
    /// Super-frames built.
    pub superframes: u64,
    /// Segments that went into them (including each run's first).
    pub segments: u64,
}

/// The largest IPv4 packet.
const IP_MAX: usize = 65535;

/// The current run: a kept frame that later segments may be appended to.
#[derive(Debug, Clone, Copy)]
struct Run {
    l3: usize,
    l4: usize,
    /// End of the TCP header (L2 + L3 + L4 header length).
    hdr: usize,
    /// Payload bytes of the first segment: every segment but the last has exactly this.
    mss: usize,
    next_seq: u32,
    /// IPv6 (no id, no header checksum) rather than IPv4.
    v6: bool,
    first_id: u16,
    df: bool,
    segs: u16,
    /// False once a short segment or PSH has been appended.
    open: bool,
    /// The head carries a partial checksum (see [`partial_at`]).
    partial: bool,
}

/// True when `p` is flagged with a partial TCP checksum at `l4` and nothing else (what a
/// sender's checksum offload leaves, recognized on receive by
/// `offload::mark_unflagged_partial`). Such a checksum is not verifiable: like Linux's GRO
/// with `CHECKSUM_PARTIAL`, it is taken as valid (the frame never crossed a wire unchecked:
/// its outer datagram was accepted by the kernel), and the merged frame stays partial.
fn partial_at(p: &Packet, l4: usize) -> bool {
    let o = p.meta.offload;
    o.needs_csum
        && !o.data_valid
        && o.gso_type == GSO_NONE
        && usize::from(o.csum_start) == l4
        && usize::from(o.csum_offset) == TCP_CSUM_OFFSET
}

/// The layout of `frame` when it could start a run: a TCP data segment over IPv4 (header
/// checksum verified) or IPv6. Its TCP checksum is checked when a segment wants to join.
fn eligible(p: &Packet) -> Option<Run> {
    let flagged = p.meta.offload != Offload::default();
    let f = p.data();
    let l2 = EthernetFrame::new_checked(f).ok()?.parse_l2().ok()?;
    let l3 = l2.l3_offset;
    let (l4, first_id, df) = match l2.ethertype {
        EtherType::IPV4 => {
            let ip = Ipv4Packet::new_checked(&f[l3..]).ok()?;
            if f[l3] != 0x45 || ip.protocol() != proto::TCP || ip.frag_word() & 0x3fff != 0 {
                return None;
            }
            if l3 + usize::from(ip.total_len()) != f.len() || !ip.verify_checksum() {
                return None;
            }
            (l3 + ipv4::MIN_HEADER_LEN, ip.ident(), ip.dont_frag())
        }
        EtherType::IPV6 => {
            let ip = Ipv6Packet::new_checked(&f[l3..]).ok()?;
            // TCP right after the fixed header (no extension headers).
            let l4 = l3 + ipv6::HEADER_LEN;
            if ip.next_header() != proto::TCP || l4 + usize::from(ip.payload_len()) != f.len() {
                return None;
            }
            (l4, 0, true)
        }
        _ => return None,
    };
    let partial = partial_at(p, l4);
    if flagged && !partial {
        return None;
    }
    let hdr = l4 + usize::from(*f.get(l4 + 12)? >> 4) * 4;
    if hdr - l4 < TCP_MIN_HEADER_LEN || hdr >= f.len() || !flags_ok(f[l4 + 13]) {
        return None;
    }
    // The TCP checksum is verified only once a second segment wants to join (`try_append`):
    // a frame that stays alone is forwarded as it is and needs no check here.
    let v6 = l2.ethertype == EtherType::IPV6;
    Some(Run {
        l3,
        l4,
        hdr,
        mss: f.len() - hdr,
        next_seq: be32(f, l4 + 4).wrapping_add((f.len() - hdr) as u32),
        v6,
        first_id,
        df,
        segs: 1,
        open: f[l4 + 13] & tcp_flags::PSH == 0,
        partial,
    })
}

fn flags_ok(flags: u8) -> bool {
    flags == tcp_flags::ACK || flags == tcp_flags::ACK | tcp_flags::PSH
}

/// Verify the TCP checksum of the segment `f[l4..]` (IP header at `l3`).
fn tcp_checksum_ok(f: &[u8], l3: usize, l4: usize, v6: bool) -> bool {
    let ph = pseudo_sum(f, l3, f.len() - l4, v6);
    checksum::fold(checksum::sum(ph, &f[l4..])) == 0xffff
}

fn pseudo_sum(f: &[u8], l3: usize, l4_len: usize, v6: bool) -> u64 {
    if v6 {
        let addr = |o: usize| {
            let b: [u8; 16] = f[o..o + 16].try_into().unwrap_or([0; 16]);
            core::net::Ipv6Addr::from(b)
        };
        ipv6::pseudo_header_sum(addr(l3 + 8), addr(l3 + 24), proto::TCP, l4_len)
    } else {
        let addr = |o: usize| core::net::Ipv4Addr::new(f[o], f[o + 1], f[o + 2], f[o + 3]);
        ipv4::pseudo_header_sum(addr(l3 + 12), addr(l3 + 16), proto::TCP, l4_len)
    }
}

/// Append `cand` to `head` when it continues `run`; true when it was absorbed.
fn try_append(head: &mut Packet, run: &mut Run, cand: &Packet) -> bool {
    if !run.open
        || cand.meta.in_port != head.meta.in_port
        || cand.meta.tunnel != head.meta.tunnel
        || (cand.meta.offload != Offload::default() && !partial_at(cand, run.l4))
    {
        return false;
    }
    let (h, c) = (head.data(), cand.data());
    let (l3, l4, hdr) = (run.l3, run.l4, run.hdr);
    if c.len() <= hdr || h[..l3] != c[..l3] {
        return false;
    }
    let same_ip = if run.v6 {
        // IPv6: version/traffic class/flow label, next header + hop limit, addresses.
        h[l3..l3 + 4] == c[l3..l3 + 4] && h[l3 + 6..l4] == c[l3 + 6..l4]
    } else {
        // IPv4: version/IHL + TOS, flags/fragment + TTL + protocol, addresses.
        h[l3..l3 + 2] == c[l3..l3 + 2]
            && h[l3 + 6..l3 + 10] == c[l3 + 6..l3 + 10]
            && h[l3 + 12..l3 + 20] == c[l3 + 12..l3 + 20]
    };
    // TCP: ports; ACK number; data offset; window + (skip checksum) urgent + options.
    let same_tcp = h[l4..l4 + 4] == c[l4..l4 + 4]
        && h[l4 + 8..l4 + 13] == c[l4 + 8..l4 + 13]
        && h[l4 + 14..l4 + 16] == c[l4 + 14..l4 + 16]
        && h[l4 + 18..hdr] == c[l4 + 18..hdr];
    if !same_ip || !same_tcp || !flags_ok(c[l4 + 13]) {
        return false;
    }
    let payload = c.len() - hdr;
    // The length field (IPv4 total length, IPv6 payload length) must describe the frame, and
    // the merged packet must still fit it.
    let (len_field, len_base) = if run.v6 { (l3 + 4, l4) } else { (l3 + 2, l3) };
    let id_ok = run.df || be16(c, l3 + 4) == run.first_id.wrapping_add(run.segs);
    if be32(c, l4 + 4) != run.next_seq
        || payload > run.mss
        || !id_ok
        || usize::from(be16(c, len_field)) != c.len() - len_base
        || h.len() + payload - len_base > IP_MAX
    {
        return false;
    }
    if run.segs == 1 && !run.partial && !tcp_checksum_ok(h, l3, l4, run.v6) {
        // The head itself is bad: it goes out alone, and nothing joins it.
        run.open = false;
        return false;
    }
    let ip_ok = run.v6 || Ipv4Packet::new_checked(&c[l3..]).is_ok_and(|ip| ip.verify_checksum());
    if !ip_ok || (!partial_at(cand, l4) && !tcp_checksum_ok(c, l3, l4, run.v6)) {
        return false;
    }
    let flags = c[l4 + 13];
    if !head.append(&c[hdr..]) {
        return false;
    }
    head.data_mut()[l4 + 13] |= flags;
    run.next_seq = run.next_seq.wrapping_add(payload as u32);
    run.segs += 1;
    run.open = payload == run.mss && flags & tcp_flags::PSH == 0;
    true
}

/// Turn a head that absorbed segments into a GSO super-frame: new IPv4 length and header
/// checksum, the TCP checksum field set to the pseudo-header sum (a partial checksum, as a
/// sending stack leaves it), and the offload metadata to match.
fn finish(head: &mut Packet, run: &Run, c: &mut GroCounters) {
    if run.segs < 2 {
        return;
    }
    let len = head.len();
    let f = head.data_mut();
    if run.v6 {
        put16(f, run.l3 + 4, (len - run.l4) as u16);
    } else {
        put16(f, run.l3 + 2, (len - run.l3) as u16);
        if let Ok(mut ip) = Ipv4Packet::new_checked(&mut f[run.l3..]) {
            ip.fill_checksum();
        }
    }
    let partial = checksum::fold(pseudo_sum(f, run.l3, len - run.l4, run.v6));
    put16(f, run.l4 + TCP_CSUM_OFFSET, partial);
    head.meta.offload = Offload {
        needs_csum: true,
        data_valid: false,
        gso_type: if run.v6 { GSO_TCPV6 } else { GSO_TCPV4 },
        hdr_len: run.hdr as u16,
        gso_size: run.mss as u16,
        csum_start: run.l4 as u16,
        csum_offset: TCP_CSUM_OFFSET as u16,
    };
    c.superframes += 1;
    c.segments += u64::from(run.segs);
}

/// Coalesce the packets `batch[from..]` (the ones a port just received), in place. Order is
/// kept; absorbed buffers go back to `pool`.
pub fn coalesce(batch: &mut Batch, from: usize, pool: &mut PacketPool, c: &mut GroCounters) {
    let v = batch.packets_mut();
    if v.len() < from + 2 {
        return;
    }
    // [from, kept) are the frames kept so far; [kept, r) absorbed ones waiting for the pool.
    let mut kept = from;
    let mut run: Option<Run> = None;
    for r in from..v.len() {
        if let Some(cur) = run.as_mut() {
            let (front, back) = v.split_at_mut(r);
            if try_append(&mut front[kept - 1], cur, &back[0]) {
                continue;
            }
            finish(&mut front[kept - 1], cur, c);
        }
        run = eligible(&v[r]);
        v.swap(kept, r);
        kept += 1;
    }
    if let Some(cur) = run {
        finish(&mut v[kept - 1], &cur, c);
    }
    for p in v.drain(kept..) {
        pool.put(p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::offload::{prepare_tx, OffloadCounters};
    use crate::packet::MAX_FRAME;
    use crate::wire::l4::{self, tests::tcp_frame};
    use crate::wire::put32;

    /// Cut a GSO frame of `payload` bytes into real segments with the datapath's own TSO.
    fn segments(payload: usize, mss: u16) -> (Vec<u8>, Vec<Packet>) {
        let mut f = tcp_frame(payload);
        f[14 + 20 + 13] = tcp_flags::ACK | tcp_flags::PSH;
        l4::fill(&mut f).unwrap();
        let segs = tso(&f, GSO_TCPV4, mss);
        (f, segs)
    }

    /// The datapath's own software TSO of `frame` as a `gso_type` super-frame.
    fn tso(frame: &[u8], gso_type: u8, mss: u16) -> Vec<Packet> {
        let mut p = Packet::from_bytes(frame);
        p.meta.offload = Offload {
            gso_type,
            gso_size: mss,
            ..Offload::default()
        };
        cut(p)
    }

    /// What the software TSO makes of a packet (for a port without vnet headers).
    fn cut(p: Packet) -> Vec<Packet> {
        let mut pool = PacketPool::new(64);
        let mut out = Vec::new();
        prepare_tx(
            p,
            false,
            &mut pool,
            &mut OffloadCounters::default(),
            &mut |s, _| out.push(s),
        );
        out
    }

    /// `cut`, as bytes.
    fn resegment(p: Packet) -> Vec<Vec<u8>> {
        cut(p).iter().map(|s| s.data().to_vec()).collect()
    }

    fn batch_of(pkts: Vec<Packet>) -> Batch {
        let mut b = Batch::new();
        for p in pkts {
            b.push(p).unwrap();
        }
        b
    }

    fn run(b: &mut Batch) -> GroCounters {
        // A pool with room for a whole batch and nothing free: it counts what comes back.
        let mut pool = PacketPool::new(crate::packet::BATCH_SIZE);
        while pool.get().is_some() {}
        let mut c = GroCounters::default();
        let before = b.len();
        coalesce(b, 0, &mut pool, &mut c);
        assert_eq!(
            pool.available() + b.len(),
            before,
            "every buffer kept or pooled"
        );
        c
    }

    #[test]
    fn segments_merge_back_into_the_original_super_frame() {
        let (original, segs) = segments(20 * 1000 + 300, 1000);
        assert_eq!(segs.len(), 21);
        let mut b = batch_of(segs);
        let c = run(&mut b);
        assert_eq!((c.superframes, c.segments), (1, 21));
        assert_eq!(b.len(), 1);
        let m = b.get(0).unwrap();
        let o = m.meta.offload;
        assert_eq!(
            (o.gso_type, o.gso_size, o.needs_csum),
            (GSO_TCPV4, 1000, true)
        );
        assert_eq!((o.csum_start, o.csum_offset, o.hdr_len), (34, 16, 54));
        // Same bytes as the super-frame TSO started from, but for the partial checksum (the
        // IPv4 header, id included, is rebuilt exactly).
        let mut got = m.data().to_vec();
        assert_eq!(got.len(), original.len());
        assert_eq!(be16(&got, 34 + 16), l4::partial_value(&got).unwrap());
        l4::complete_partial(&mut got, 34, 16).unwrap();
        assert_eq!(got, original);
    }

    #[test]
    fn a_merged_frame_segments_into_the_same_segments_again() {
        let (_, segs) = segments(5000, 1200);
        let want: Vec<Vec<u8>> = segs.iter().map(|p| p.data().to_vec()).collect();
        let mut b = batch_of(segs);
        run(&mut b);
        assert_eq!(resegment(b.pop().unwrap()), want);
    }

    /// An Ethernet/IPv6/TCP frame (timestamps option) carrying `payload` bytes, checksum
    /// filled.
    fn tcp6_frame(payload: usize) -> Vec<u8> {
        let (l3, l4, th) = (14, 54, 32);
        let mut f = vec![0u8; l4 + th + payload];
        crate::wire::ethernet::emit(
            &mut f,
            crate::wire::MacAddr([2, 0, 0, 0, 0, 2]),
            crate::wire::MacAddr([2, 0, 0, 0, 0, 1]),
            EtherType::IPV6,
        );
        crate::wire::ipv6::Ipv6Repr {
            src: "fd00::1".parse().unwrap(),
            dst: "fd00::2".parse().unwrap(),
            next_header: proto::TCP,
            hop_limit: 64,
            payload_len: th + payload,
        }
        .emit(&mut f[l3..]);
        put16(&mut f, l4, 40000);
        put16(&mut f, l4 + 2, 5201);
        put32(&mut f, l4 + 4, 0xffff_ff00);
        put32(&mut f, l4 + 8, 77);
        f[l4 + 12] = 8 << 4;
        f[l4 + 13] = tcp_flags::ACK | tcp_flags::PSH;
        f[l4 + 20..l4 + 32].copy_from_slice(&[1, 1, 8, 10, 0, 0, 1, 0, 0, 0, 2, 0]);
        for (i, b) in f[l4 + th..].iter_mut().enumerate() {
            *b = (i * 13) as u8;
        }
        l4::fill(&mut f).unwrap();
        f
    }

    #[test]
    fn ipv6_segments_merge_and_cut_back_identically() {
        let original = tcp6_frame(10 * 1428 + 7);
        let segs = tso(&original, GSO_TCPV6, 1428);
        assert_eq!(segs.len(), 11);
        let want: Vec<Vec<u8>> = segs.iter().map(|p| p.data().to_vec()).collect();
        let mut b = batch_of(segs);
        let c = run(&mut b);
        assert_eq!((c.superframes, c.segments, b.len()), (1, 11, 1));
        let m = b.pop().unwrap();
        let o = m.meta.offload;
        assert_eq!(
            (o.gso_type, o.gso_size, o.csum_start, o.hdr_len),
            (GSO_TCPV6, 1428, 54, 86)
        );
        let mut full = m.data().to_vec();
        l4::complete_partial(&mut full, 54, 16).unwrap();
        assert_eq!(full, original, "the super-frame TSO started from");
        assert_eq!(resegment(m), want);
    }

    #[test]
    fn a_bad_checksum_a_gap_or_another_flow_ends_the_run_and_nothing_is_lost() {
        let (_, mut segs) = segments(9 * 1000, 1000);
        // segs[2]: corrupted payload (checksum no longer verifies).
        let d = segs[2].data_mut();
        let n = d.len();
        d[n - 1] ^= 0xff;
        // segs[5]: another destination port (another flow), checksum recomputed.
        put16(segs[5].data_mut(), 34 + 2, 9999);
        l4::fill(segs[5].data_mut()).unwrap();
        // Drop segs[7]: a gap between segs[6] and segs[8].
        let last = segs.pop().unwrap();
        segs.pop();
        segs.push(last);
        let total: usize = segs.iter().map(|p| p.len() - 54).sum();
        let mut b = batch_of(segs);
        run(&mut b);
        // runs: [0,1] | 2 (bad) | [3,4] | 5 (other flow) | [6] | 8 (gap)
        let lens: Vec<usize> = b.iter().map(|p| (p.len() - 54) / 1000).collect();
        assert_eq!(lens, vec![2, 1, 2, 1, 1, 1]);
        assert_eq!(b.iter().map(|p| p.len() - 54).sum::<usize>(), total);
        assert_eq!(
            b.get(1).unwrap().meta.offload.gso_type,
            GSO_NONE,
            "bad one untouched"
        );
        assert!(!l4::verify(b.get(1).unwrap().data()).unwrap());
    }

    #[test]
    fn syn_fin_and_pure_acks_are_never_merged() {
        for flags in [
            tcp_flags::SYN | tcp_flags::ACK,
            tcp_flags::FIN | tcp_flags::ACK,
        ] {
            let mut a = tcp_frame(100);
            a[14 + 20 + 13] = flags;
            l4::fill(&mut a).unwrap();
            let mut b2 = a.clone();
            put32(&mut b2, 34 + 4, be32(&a, 34 + 4).wrapping_add(100));
            l4::fill(&mut b2).unwrap();
            let mut b = batch_of(vec![Packet::from_bytes(&a), Packet::from_bytes(&b2)]);
            assert_eq!(run(&mut b).superframes, 0);
            assert_eq!(b.len(), 2);
        }
        // Pure ACKs (no payload) are not data segments.
        let a = tcp_frame(0);
        let mut b = batch_of(vec![Packet::from_bytes(&a), Packet::from_bytes(&a)]);
        assert_eq!(run(&mut b).superframes, 0);
    }

    #[test]
    fn never_grows_past_64k_of_ip() {
        // 8 full segments of 8000 bytes, then a 9th that continues them exactly: together
        // more than 65535 bytes of IPv4, so the 9th starts a new frame.
        let (_, mut segs) = segments(8 * 8000, 8000);
        let mut ninth = segs[7].data().to_vec();
        let (seq, id) = (be32(&ninth, 34 + 4), be16(&ninth, 14 + 4));
        put32(&mut ninth, 34 + 4, seq.wrapping_add(8000));
        put16(&mut ninth, 14 + 4, id.wrapping_add(1));
        Ipv4Packet::new_checked(&mut ninth[14..])
            .unwrap()
            .fill_checksum();
        l4::fill(&mut ninth).unwrap();
        segs.push(Packet::from_bytes(&ninth));
        let mut b = batch_of(segs);
        let c = run(&mut b);
        assert_eq!((c.superframes, c.segments), (1, 8));
        let lens: Vec<usize> = b.iter().map(|p| p.len()).collect();
        assert_eq!(lens, vec![54 + 64000, 54 + 8000]);
        assert!(lens.iter().all(|&n| n - 14 <= IP_MAX && n <= MAX_FRAME));
    }
}
