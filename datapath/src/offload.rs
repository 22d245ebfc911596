//! Egress offload preparation: make a frame acceptable to the port (or tunnel) it leaves by.
//!
//! Frames received through AF_PACKET (`PACKET_VNET_HDR`) or TAP (`IFF_VNET_HDR`) may carry a
//! *partial* TCP/UDP checksum (`needs_csum`) and may be GSO super-frames of up to 64 KB that
//! stand for many MTU-sized segments (`gso_type`/`gso_size`). A port that takes a vnet header
//! passes that metadata to the kernel, which finishes the job. Anything else (a port without
//! vnet headers, a GRE tunnel that sends raw bytes) needs real frames: [`prepare_tx`] completes
//! partial checksums and cuts super-frames into segments in software.
//!
//! Segmentation (TCPv4, TCPv6, UDP_L4 over IPv4/IPv6, VLAN tags allowed): every segment repeats
//! the L2/L3/L4 headers; IPv4 gets its total length, an incrementing id and a fresh header
//! checksum, IPv6 its payload length; TCP gets the advanced sequence number, FIN/PSH only on
//! the last segment and CWR only on the first; UDP gets its own length. Every segment's L4
//! checksum is computed in full (the partial value in the super-frame is ignored). The header
//! length is computed from the headers themselves, never taken from `hdr_len` (on receive the
//! kernel puts a hint there, not the header length).
//!
//! Invariants: no panics on any input and no allocation. A frame that cannot be prepared is
//! returned to the pool and counted in exactly one `drops_*` counter. Segments take buffers
//! from the pool: all of them are reserved before the first is emitted, so a frame is either
//! emitted whole or dropped whole (`drops_no_buffer`). The original buffer becomes the last
//! segment, so a super-frame cut into `n` segments uses `n - 1` extra buffers. Emitted frames
//! keep `in_port` and tunnel metadata; their `offload` is reset (nothing left to do).
//! Not thread-shared: the caller (a PMD) owns the pool and the counters.

use crate::packet::{Offload, Packet, PacketPool, GSO_ECN, GSO_NONE, GSO_TCPV4, GSO_TCPV6};
use crate::packet::{GSO_UDP_L4, MAX_FRAME};
use crate::wire::ipv4::proto;
use crate::wire::l4::{self, tcp_flags, TcpHeader, UDP_HEADER_LEN};
use crate::wire::{be16, be32, checksum, ipv4, ipv6, put16, put32};

/// TCP CWR flag (byte 13).
const TCP_CWR: u8 = 0x80;

/// What `prepare_tx` did, for `dpctl/show -s`-style statistics. Plain counters: the owner
/// (one PMD) increments them, readers copy the struct.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OffloadCounters {
    /// Frames whose partial checksum was completed in software.
    pub csum_completed: u64,
    /// GSO super-frames segmented in software.
    pub gso_segmented_frames: u64,
    /// Segments those super-frames were cut into.
    pub gso_segments_out: u64,
    /// Frames dropped because the pool had too few buffers for their segments.
    pub drops_no_buffer: u64,
    /// Frames dropped because their offload metadata does not match their bytes.
    pub drops_malformed: u64,
    /// Frames dropped because their GSO type cannot be segmented here (e.g. UFO).
    pub drops_unsupported: u64,
}

impl OffloadCounters {
    /// All drops.
    pub fn drops(&self) -> u64 {
        self.drops_no_buffer + self.drops_malformed + self.drops_unsupported
    }
}

/// Prepare `p` for an egress that does (`accepts_vnet`) or does not take vnet headers, and
/// hand the resulting frame(s) to `out` in order. `out` gets the pool too, so it can flush a
/// full batch to a port (a 64 KB super-frame becomes ~45 segments, more than one batch).
///
/// With `accepts_vnet` the frame passes unchanged, metadata included. Otherwise partial
/// checksums are completed and GSO frames segmented; frames that cannot be fixed are dropped
/// (buffer back to `pool`) and counted.
pub fn prepare_tx(
    mut p: Packet,
    accepts_vnet: bool,
    pool: &mut PacketPool,
    counters: &mut OffloadCounters,
    out: &mut impl FnMut(Packet, &mut PacketPool),
) {
    let o = p.meta.offload;
    if accepts_vnet {
        out(p, pool);
        return;
    }
    let gso = o.gso_type & !GSO_ECN;
    if gso == GSO_NONE && !o.needs_csum {
        // Nothing to do (an ECN bit without a GSO type means nothing on its own): never let
        // it reach checksum completion, whose offsets would then be garbage.
        p.meta.offload = Offload::default();
        out(p, pool);
        return;
    }
    if gso == GSO_NONE {
        let (start, off) = (usize::from(o.csum_start), usize::from(o.csum_offset));
        if l4::complete_partial(p.data_mut(), start, off).is_err() {
            counters.drops_malformed += 1;
            pool.put(p);
            return;
        }
        // Like the kernel (CSUM_MANGLED_0): a computed zero is sent as all ones, which is
        // equivalent for TCP and required for UDP (zero means "no checksum", invalid in IPv6).
        let field = start + off;
        if be16(p.data(), field) == 0 {
            put16(p.data_mut(), field, 0xffff);
        }
        counters.csum_completed += 1;
        p.meta.offload = Offload::default();
        out(p, pool);
        return;
    }
    segment(p, pool, counters, out);
}

/// The receive rule for frames that arrive without checksum metadata (AF_XDP): a TCP or UDP
/// frame whose checksum field holds exactly the folded pseudo-header sum (not inverted) is a
/// *partial* checksum left by a sender with checksum offload (a veth peer, a TAP writer), and
/// is marked `needs_csum` (`csum_start` = L4 header, `csum_offset` = the field), as if a vnet
/// header had said so. Egress then completes it: the kernel for ports that take vnet headers,
/// [`prepare_tx`] in software for the others. Returns true when the frame was marked (or, for
/// a frame with trailing padding, completed in place over the IP length).
///
/// Only the pseudo header is summed (a few loads), never the payload, so the rule costs the
/// same for 64-byte and 1500-byte frames. It needs no verification first: completing a field
/// that holds the pseudo-header sum is an identity on a frame whose checksum happens to be
/// correct and equal to that value. Every other checksum, right or wrong, is left alone and
/// forwarded unchanged (the receiver's stack drops a bad one, as it would behind a hub). The
/// price: a corrupted frame whose field equals the pseudo-header sum by chance (1 in 65536)
/// would be repaired. Frames already marked, non-IP frames, other protocols, IPv4 fragments
/// after the first, an IPv4 UDP checksum of 0 ("none") and truncated frames are untouched.
pub fn mark_unflagged_partial(p: &mut Packet) -> bool {
    if p.meta.offload.needs_csum || p.meta.offload.gso_type != GSO_NONE {
        return false;
    }
    let f = p.data();
    let Ok(loc) = l4::locate(f) else {
        return false;
    };
    let Ok(off) = l4::csum_field_offset(loc.protocol) else {
        return false;
    };
    let field = loc.l4_offset + off;
    let end = loc.l4_offset + loc.l4_len;
    if field + 2 > end || end > f.len() {
        return false;
    }
    let Ok(ph) = l4::pseudo_sum(f, &loc) else {
        return false;
    };
    if be16(f, field) != checksum::fold(ph) {
        return false;
    }
    if end < f.len() {
        // Padding after the IP packet: `needs_csum` sums to the end of the frame, so
        // complete now over the IP length instead.
        return l4::fill(p.data_mut()).is_ok();
    }
    let (Ok(start), Ok(off)) = (u16::try_from(loc.l4_offset), u16::try_from(off)) else {
        return false;
    };
    let o = &mut p.meta.offload;
    o.needs_csum = true;
    o.csum_start = start;
    o.csum_offset = off;
    true
}

/// The receive rule for a TCP super-frame that arrives whole without GSO metadata: a kernel
/// tunnel that sends a GSO skb over a virtual underlay (a veth) hands it to the receiving UDP
/// socket as one datagram, whose inner IP packet is longer than the path allows (and no
/// segment size is reported). If `p` holds a TCP packet (IPv4 or IPv6, no padding) longer than
/// `max_l3` bytes of L3, mark it as the GSO super-frame it is: segment size
/// `max_l3 − (IP + TCP headers)`, checksum partial (kept when the field already holds the
/// pseudo-header sum; converted when the full checksum verifies). A frame with a bad checksum
/// is left alone (its egress then drops it as over-MTU, counted). Returns whether it marked.
pub fn mark_tcp_superframe(p: &mut Packet, max_l3: usize) -> bool {
    if p.meta.offload != Offload::default() {
        return false;
    }
    let f = p.data();
    let Ok(loc) = l4::locate(f) else {
        return false;
    };
    let end = loc.l4_offset + loc.l4_len;
    if loc.protocol != proto::TCP || end != f.len() || end - loc.l3_offset <= max_l3 {
        return false;
    }
    let Some(&off_byte) = f.get(loc.l4_offset + 12) else {
        return false;
    };
    let hdr = loc.l4_offset + usize::from(off_byte >> 4) * 4;
    let Some(mss) = max_l3.checked_sub(hdr - loc.l3_offset).filter(|m| *m > 0) else {
        return false;
    };
    let (Ok(mss), Ok(hdr16), Ok(start)) = (
        u16::try_from(mss),
        u16::try_from(hdr),
        u16::try_from(loc.l4_offset),
    ) else {
        return false;
    };
    if hdr >= end {
        return false;
    }
    let field = loc.l4_offset + 16;
    let Ok(ph) = l4::pseudo_sum(f, &loc) else {
        return false;
    };
    let partial = checksum::fold(ph);
    if be16(f, field) != partial {
        if !l4::verify(f).unwrap_or(false) {
            return false;
        }
        put16(p.data_mut(), field, partial);
    }
    p.meta.offload = Offload {
        needs_csum: true,
        data_valid: false,
        gso_type: if loc.is_ipv4 { GSO_TCPV4 } else { GSO_TCPV6 },
        hdr_len: hdr16,
        gso_size: mss,
        csum_start: start,
        csum_offset: 16,
    };
    true
}

/// Where the headers of a super-frame end and what to fix in each segment.
#[derive(Debug, Clone, Copy)]
struct Layout {
    l3: usize,
    l4: usize,
    /// Length of all headers (L2 + L3 + L4) that every segment repeats.
    hdr: usize,
    /// End of the IP packet (bytes after it, e.g. padding, are ignored).
    end: usize,
    is_ipv4: bool,
    is_tcp: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reject {
    Malformed,
    Unsupported,
}

fn layout(frame: &[u8], o: &Offload) -> Result<Layout, Reject> {
    let kind = o.gso_type & !GSO_ECN;
    if !matches!(kind, GSO_TCPV4 | GSO_TCPV6 | GSO_UDP_L4) {
        return Err(Reject::Unsupported);
    }
    let loc = l4::locate(frame).map_err(|_| Reject::Malformed)?;
    let end = loc.l4_offset + loc.l4_len;
    let is_tcp = loc.protocol == proto::TCP;
    let fits = match kind {
        GSO_TCPV4 => loc.is_ipv4 && is_tcp,
        GSO_TCPV6 => !loc.is_ipv4 && is_tcp,
        _ => loc.protocol == proto::UDP,
    };
    if !fits || end > frame.len() || o.gso_size == 0 {
        return Err(Reject::Malformed);
    }
    let l4_hdr = if is_tcp {
        TcpHeader::new_checked(&frame[loc.l4_offset..end])
            .map_err(|_| Reject::Malformed)?
            .header_len()
    } else if loc.l4_len >= UDP_HEADER_LEN {
        UDP_HEADER_LEN
    } else {
        return Err(Reject::Malformed);
    };
    Ok(Layout {
        l3: loc.l3_offset,
        l4: loc.l4_offset,
        hdr: loc.l4_offset + l4_hdr,
        end,
        is_ipv4: loc.is_ipv4,
        is_tcp,
    })
}

/// Values read once from the super-frame and adjusted per segment.
#[derive(Debug, Clone, Copy)]
struct Base {
    ip_id: u16,
    seq: u32,
    flags: u8,
}

/// Rewrite the headers of segment `i` of `n` carrying `chunk` payload bytes, then compute its
/// L4 checksum. `seg` is the whole segment frame.
fn fix_segment(seg: &mut [u8], l: &Layout, b: &Base, gso: usize, i: usize, n: usize) {
    let chunk = seg.len() - l.hdr;
    if l.is_ipv4 {
        put16(seg, l.l3 + 2, (l.hdr - l.l3 + chunk) as u16);
        put16(seg, l.l3 + 4, b.ip_id.wrapping_add(i as u16));
        if let Ok(mut ip) = ipv4::Ipv4Packet::new_checked(&mut seg[l.l3..]) {
            ip.fill_checksum();
        }
    } else {
        put16(
            seg,
            l.l3 + 4,
            (l.hdr - l.l3 - ipv6::HEADER_LEN + chunk) as u16,
        );
    }
    if l.is_tcp {
        put32(seg, l.l4 + 4, b.seq.wrapping_add((i * gso) as u32));
        let mut f = b.flags;
        if i + 1 < n {
            f &= !(tcp_flags::FIN | tcp_flags::PSH);
        }
        if i > 0 {
            f &= !TCP_CWR;
        }
        seg[l.l4 + 13] = f;
    } else {
        put16(seg, l.l4 + 4, (UDP_HEADER_LEN + chunk) as u16);
    }
    // Cannot fail: the layout was validated on the super-frame and lengths were just fixed.
    let _ = l4::fill(seg);
}

fn segment(
    mut p: Packet,
    pool: &mut PacketPool,
    counters: &mut OffloadCounters,
    out: &mut impl FnMut(Packet, &mut PacketPool),
) {
    let o = p.meta.offload;
    let l = match layout(p.data(), &o) {
        Ok(l) => l,
        Err(r) => {
            match r {
                Reject::Malformed => counters.drops_malformed += 1,
                Reject::Unsupported => counters.drops_unsupported += 1,
            }
            pool.put(p);
            return;
        }
    };
    let gso = usize::from(o.gso_size);
    let payload = l.end - l.hdr;
    let n = payload.div_ceil(gso).max(1);
    if n - 1 > pool.available() {
        counters.drops_no_buffer += 1;
        pool.put(p);
        return;
    }
    let base = {
        let d = p.data();
        Base {
            ip_id: if l.is_ipv4 { be16(d, l.l3 + 4) } else { 0 },
            seq: if l.is_tcp { be32(d, l.l4 + 4) } else { 0 },
            flags: if l.is_tcp { d[l.l4 + 13] } else { 0 },
        }
    };
    let mut meta = p.meta;
    meta.offload = Offload::default();
    for i in 0..n - 1 {
        let Some(mut s) = pool.get() else {
            // Only if `out` took buffers from the pool; the rest of the frame is lost.
            counters.drops_no_buffer += 1;
            pool.put(p);
            return;
        };
        let d = p.data();
        let off = l.hdr + i * gso;
        let len = l.hdr + gso;
        debug_assert!(len <= MAX_FRAME);
        let area = s.rx_area();
        area[..l.hdr].copy_from_slice(&d[..l.hdr]);
        area[l.hdr..len].copy_from_slice(&d[off..off + gso]);
        s.set_len(len);
        s.meta = meta;
        fix_segment(s.data_mut(), &l, &base, gso, i, n);
        out(s, pool);
    }
    // The original buffer becomes the last segment: move the headers up to sit right in
    // front of the last chunk and drop everything before them.
    let shift = (n - 1) * gso;
    p.data_mut().copy_within(..l.hdr, shift);
    p.pull_front(shift);
    p.truncate(l.end - shift);
    p.meta = meta;
    fix_segment(p.data_mut(), &l, &base, gso, n - 1, n);
    counters.gso_segmented_frames += 1;
    counters.gso_segments_out += n as u64;
    out(p, pool);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::GSO_UDP;
    use crate::wire::ethernet::{self, EtherType, MacAddr};
    use crate::wire::ipv4::{Ipv4Packet, Ipv4Repr, FLAG_DF};
    use crate::wire::ipv6::{Ipv6Packet, Ipv6Repr};
    use core::net::Ipv4Addr;

    const SEQ: u32 = 0xffff_f000; // wraps during segmentation

    fn pattern(n: usize) -> Vec<u8> {
        (0..n).map(|i| ((i * 31) ^ (i >> 8)) as u8).collect()
    }

    /// An Ethernet (optionally VLAN) / IPv4 or IPv6 / TCP or UDP frame carrying `payload`,
    /// with a partial L4 checksum and the offload metadata the kernel would attach.
    fn gso_frame(v6: bool, udp: bool, vlan: bool, payload: &[u8], gso_size: u16) -> Packet {
        let l2 = if vlan { 18 } else { 14 };
        let l3len = if v6 { 40 } else { 20 };
        let l4len = if udp { 8 } else { 32 }; // TCP with 12 bytes of options
        let mut f = vec![0u8; l2 + l3len + l4len + payload.len()];
        let et = if v6 { EtherType::IPV6 } else { EtherType::IPV4 };
        ethernet::emit(
            &mut f,
            MacAddr([2, 0, 0, 0, 0, 2]),
            MacAddr([2, 0, 0, 0, 0, 1]),
            et,
        );
        if vlan {
            put16(&mut f, 12, EtherType::VLAN);
            put16(&mut f, 14, 100);
            put16(&mut f, 16, et);
        }
        let protocol = if udp { proto::UDP } else { proto::TCP };
        if v6 {
            Ipv6Repr {
                src: "fd00::1".parse().unwrap(),
                dst: "fd00::2".parse().unwrap(),
                next_header: protocol,
                hop_limit: 64,
                payload_len: l4len + payload.len(),
            }
            .emit(&mut f[l2..]);
        } else {
            Ipv4Repr {
                src: Ipv4Addr::new(10, 1, 1, 1),
                dst: Ipv4Addr::new(10, 1, 1, 2),
                protocol,
                tos: 0,
                ttl: 64,
                ident: 0xfff0, // wraps during segmentation
                frag_word: FLAG_DF,
                payload_len: l4len + payload.len(),
            }
            .emit(&mut f[l2..]);
        }
        let l4 = l2 + l3len;
        put16(&mut f, l4, 40000);
        put16(&mut f, l4 + 2, 5201);
        if udp {
            put16(&mut f, l4 + 4, (8 + payload.len()) as u16);
        } else {
            put32(&mut f, l4 + 4, SEQ);
            put32(&mut f, l4 + 8, 77);
            f[l4 + 12] = 8 << 4;
            f[l4 + 13] = tcp_flags::ACK | tcp_flags::PSH | tcp_flags::FIN | TCP_CWR;
            put16(&mut f, l4 + 14, 512);
            f[l4 + 20..l4 + 32].copy_from_slice(&[1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]);
        }
        f[l4 + l4len..].copy_from_slice(payload);
        let csum_offset = if udp { 6 } else { 16 };
        let pv = l4::partial_value(&f).unwrap();
        put16(&mut f, l4 + csum_offset, pv);
        let mut p = Packet::from_bytes(&f);
        p.meta.in_port = 7;
        p.meta.offload = Offload {
            needs_csum: true,
            data_valid: false,
            gso_type: match (udp, v6) {
                (true, _) => GSO_UDP_L4,
                (false, false) => GSO_TCPV4,
                (false, true) => GSO_TCPV6 | GSO_ECN,
            },
            hdr_len: (l4 + l4len) as u16,
            gso_size,
            csum_start: l4 as u16,
            csum_offset: csum_offset as u16,
        };
        p
    }

    fn run(p: Packet, vnet: bool, pool: &mut PacketPool, c: &mut OffloadCounters) -> Vec<Packet> {
        let mut v = Vec::new();
        prepare_tx(p, vnet, pool, c, &mut |s, _| v.push(s));
        v
    }

    /// Segment and check every segment; returns the segments.
    fn check_segmentation(v6: bool, udp: bool, vlan: bool, payload_len: usize, gso: u16) {
        let payload = pattern(payload_len);
        let p = gso_frame(v6, udp, vlan, &payload, gso);
        let orig = p.data().to_vec();
        let mut pool = PacketPool::new(64);
        let mut c = OffloadCounters::default();
        let segs = run(p, false, &mut pool, &mut c);
        let n = payload_len.div_ceil(usize::from(gso)).max(1);
        assert_eq!(segs.len(), n);
        assert_eq!(pool.available(), 64 - (n - 1));
        assert_eq!((c.gso_segmented_frames, c.gso_segments_out), (1, n as u64));
        assert_eq!(c.drops(), 0);
        let loc = l4::locate(&orig).unwrap();
        let l4h = if udp { 8 } else { 32 };
        let hdr = loc.l4_offset + l4h;
        let mut joined = Vec::new();
        for (i, s) in segs.iter().enumerate() {
            let d = s.data();
            assert!(l4::verify(d).unwrap(), "segment {i} checksum");
            assert_eq!(s.meta.offload, Offload::default());
            assert_eq!(s.meta.in_port, 7);
            assert_eq!(&d[..loc.l3_offset], &orig[..loc.l3_offset], "L2 header");
            let chunk = d.len() - hdr;
            assert!(chunk <= usize::from(gso) && (chunk == usize::from(gso) || i == n - 1));
            let l3 = &d[loc.l3_offset..];
            if v6 {
                let ip = Ipv6Packet::new_checked(l3).unwrap();
                assert_eq!(usize::from(ip.payload_len()), l4h + chunk);
            } else {
                let ip = Ipv4Packet::new_checked(l3).unwrap();
                assert!(ip.verify_checksum());
                assert_eq!(usize::from(ip.total_len()), 20 + l4h + chunk);
                assert_eq!(ip.ident(), 0xfff0u16.wrapping_add(i as u16));
            }
            if udp {
                assert_eq!(usize::from(be16(d, loc.l4_offset + 4)), 8 + chunk);
            } else {
                let t = TcpHeader::new_checked(&d[loc.l4_offset..]).unwrap();
                assert_eq!(t.seq(), SEQ.wrapping_add((i * usize::from(gso)) as u32));
                let f = t.flags();
                assert_eq!(f & (tcp_flags::FIN | tcp_flags::PSH) != 0, i == n - 1);
                assert_eq!(f & TCP_CWR != 0, i == 0);
                assert!(f & tcp_flags::ACK != 0);
                // Options repeated verbatim.
                assert_eq!(&d[loc.l4_offset + 20..hdr], &orig[loc.l4_offset + 20..hdr]);
            }
            // Cross-check with etherparse.
            let e = etherparse::SlicedPacket::from_ethernet(d).unwrap();
            assert!(e.transport.is_some());
            joined.extend_from_slice(&d[hdr..]);
        }
        assert_eq!(joined, payload);
    }

    #[test]
    fn tcpv4_64k_super_frame() {
        check_segmentation(false, false, false, 65535 - 20 - 32, 1448);
    }

    #[test]
    fn tcpv6_64k_super_frame() {
        check_segmentation(true, false, false, MAX_FRAME - 14 - 40 - 32, 1428);
    }

    #[test]
    fn vlan_tagged_and_exact_multiple() {
        check_segmentation(false, false, true, 1448 * 10, 1448);
        check_segmentation(true, false, true, 9000, 1000);
    }

    #[test]
    fn udp_l4_segmentation() {
        check_segmentation(false, true, false, 30000, 1472);
        check_segmentation(true, true, false, 4000, 1452);
    }

    #[test]
    fn single_segment_super_frame_is_fixed_in_place() {
        check_segmentation(false, false, false, 100, 1448);
        check_segmentation(false, false, false, 0, 1448);
    }

    #[test]
    fn vnet_egress_passes_through_unchanged() {
        let p = gso_frame(false, false, false, &pattern(5000), 1448);
        let (bytes, meta) = (p.data().to_vec(), p.meta);
        let mut pool = PacketPool::new(4);
        let mut c = OffloadCounters::default();
        let v = run(p, true, &mut pool, &mut c);
        assert_eq!(v.len(), 1);
        assert_eq!((v[0].data(), v[0].meta), (&bytes[..], meta));
        assert_eq!(c, OffloadCounters::default());
    }

    #[test]
    fn partial_checksum_completed() {
        let mut p = gso_frame(false, false, false, &pattern(333), 1448);
        p.meta.offload.gso_type = GSO_NONE;
        p.meta.offload.gso_size = 0;
        assert!(!l4::verify(p.data()).unwrap());
        let mut pool = PacketPool::new(1);
        let mut c = OffloadCounters::default();
        let v = run(p, false, &mut pool, &mut c);
        assert_eq!(v.len(), 1);
        assert!(l4::verify(v[0].data()).unwrap());
        assert_eq!(c.csum_completed, 1);
        assert_eq!(v[0].meta.offload, Offload::default());
        // A frame with nothing to do is untouched and not counted.
        let plain = v.into_iter().next().unwrap();
        let v = run(plain, false, &mut pool, &mut c);
        assert_eq!((v.len(), c.csum_completed), (1, 1));
    }

    #[test]
    fn completed_zero_checksum_is_sent_as_ones() {
        // A UDP/IPv6 datagram whose checksum computes to zero: pick the last payload word so
        // the total folds to 0xffff.
        let mut p = gso_frame(true, true, false, &[0u8; 10], 1448);
        p.meta.offload.gso_type = GSO_NONE;
        let (start, field) = (54, 54 + 6);
        let f = p.data_mut();
        f[field..field + 2].copy_from_slice(&[0, 0]);
        let ph = l4::partial_value(f).unwrap();
        let body =
            crate::wire::checksum::fold(crate::wire::checksum::sum(u64::from(ph), &f[start..]));
        let need = !body; // adding this word makes the sum 0xffff, so the checksum is 0
        let end = f.len();
        put16(f, end - 2, need);
        put16(f, field, ph);
        let mut pool = PacketPool::new(1);
        let mut c = OffloadCounters::default();
        let v = run(p, false, &mut pool, &mut c);
        assert_eq!(be16(v[0].data(), field), 0xffff);
        assert!(l4::verify(v[0].data()).unwrap());
    }

    /// A TCP super-frame that arrived whole (as a kernel tunnel's GSO datagram does) becomes a
    /// GSO frame whose software segmentation gives valid segments of the path's size; a
    /// frame that fits, or whose checksum is bad, is left alone.
    #[test]
    fn a_whole_tcp_superframe_is_marked_for_segmentation() {
        let mut f = crate::wire::l4::tests::tcp_frame(5000);
        crate::wire::l4::fill(&mut f).unwrap();
        let mut p = Packet::from_bytes(&f);
        assert!(mark_tcp_superframe(&mut p, 1450));
        let o = p.meta.offload;
        assert_eq!(
            (o.gso_type, o.gso_size, o.csum_start),
            (GSO_TCPV4, 1450 - 40, 34)
        );
        let mut pool = PacketPool::new(16);
        let mut c = OffloadCounters::default();
        let segs = run(p, false, &mut pool, &mut c);
        assert_eq!(segs.len(), 5000usize.div_ceil(1410));
        for s in &segs {
            assert!(l4::verify(s.data()).unwrap());
            assert!(s.len() - 14 <= 1450);
        }
        let mut small = Packet::from_bytes(&f);
        assert!(
            !mark_tcp_superframe(&mut small, 6000),
            "fits: not a super-frame"
        );
        let mut bad = f.clone();
        bad[100] ^= 0xff;
        let mut p = Packet::from_bytes(&bad);
        assert!(
            !mark_tcp_superframe(&mut p, 1450),
            "bad checksum: left alone"
        );
    }

    /// Defect: a vnet header with only the ECN GSO bit (and no `needs_csum`) went to checksum
    /// completion with offsets 0/0, which wrote a "checksum" over the MAC header.
    #[test]
    fn an_ecn_bit_alone_changes_nothing() {
        let frame: Vec<u8> = (0..60u8).collect();
        let mut p = Packet::from_bytes(&frame);
        p.meta.offload.gso_type = GSO_ECN;
        let mut pool = PacketPool::new(1);
        let mut c = OffloadCounters::default();
        let v = run(p, false, &mut pool, &mut c);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].data(), &frame[..], "frame untouched");
        assert_eq!((c.csum_completed, c.drops()), (0, 0));
    }

    #[test]
    fn bad_metadata_is_dropped_and_counted() {
        let mut pool = PacketPool::new(8);
        let mut c = OffloadCounters::default();
        // csum_start beyond the frame.
        let mut p = Packet::from_bytes(&[0u8; 60]);
        p.meta.offload.needs_csum = true;
        p.meta.offload.csum_start = 59;
        p.meta.offload.csum_offset = 16;
        assert!(run(p, false, &mut pool, &mut c).is_empty());
        // GSO on a non-IP frame, GSO with size 0, TCPV6 on an IPv4 frame.
        let mut p = Packet::from_bytes(&[0u8; 60]);
        p.meta.offload.gso_type = GSO_TCPV4;
        p.meta.offload.gso_size = 1448;
        assert!(run(p, false, &mut pool, &mut c).is_empty());
        let mut p = gso_frame(false, false, false, &pattern(3000), 1448);
        p.meta.offload.gso_size = 0;
        assert!(run(p, false, &mut pool, &mut c).is_empty());
        let mut p = gso_frame(false, false, false, &pattern(3000), 1448);
        p.meta.offload.gso_type = GSO_TCPV6;
        assert!(run(p, false, &mut pool, &mut c).is_empty());
        assert_eq!(c.drops_malformed, 4);
        // UFO is not supported.
        let mut p = gso_frame(false, true, false, &pattern(3000), 1448);
        p.meta.offload.gso_type = GSO_UDP;
        assert!(run(p, false, &mut pool, &mut c).is_empty());
        assert_eq!(c.drops_unsupported, 1);
        // Truncated headers never panic.
        for cut in 0..70 {
            let mut p = gso_frame(false, false, false, &pattern(3000), 1448);
            p.truncate(cut);
            let _ = run(p, false, &mut pool, &mut c);
        }
        assert_eq!(c.gso_segments_out, 0);
    }

    #[test]
    fn empty_pool_drops_whole_frame() {
        let p = gso_frame(false, false, false, &pattern(10_000), 1448);
        let mut pool = PacketPool::new(3);
        let mut c = OffloadCounters::default();
        assert!(run(p, false, &mut pool, &mut c).is_empty());
        assert_eq!(c.drops_no_buffer, 1);
        assert_eq!(pool.available(), 3);
    }

    #[test]
    fn out_may_flush_through_the_pool() {
        // `out` gets the pool, so it can hand segments to a port (which returns the buffers)
        // while segmentation is still under way.
        let p = gso_frame(false, false, false, &pattern(20_000), 1000);
        let mut pool = PacketPool::new(25);
        let mut c = OffloadCounters::default();
        let mut n = 0;
        prepare_tx(p, false, &mut pool, &mut c, &mut |s, pool| {
            assert!(l4::verify(s.data()).unwrap());
            pool.put(s);
            n += 1;
        });
        assert_eq!(n, 20);
        assert_eq!(pool.available(), 25);
    }

    /// Frames captured on the receiving end of a veth pair with the kernel's default offloads
    /// (AF_PACKET without vnet header, Linux 6.18): the L4 checksum fields hold the folded
    /// pseudo-header sum, exactly what an AF_XDP socket on that veth reads.
    const REAL_PARTIAL: [&str; 3] = [
        // UDPv4 10.9.0.1:54599 -> 10.9.0.2:4789, "rvs partial udp4!", checksum field 0x143f.
        "02000000000202000000000108004500002d5f8740004011c7240a0900010a090002d54712b50019143f\
         727673207061727469616c207564703421",
        // UDPv6 fd09::1 -> fd09::2, "rvs partial udp6", checksum field 0xfa3f.
        "02000000000202000000000186dd600f89cf00181140fd0900000000000000000000000000\
         01fd0900000000000000000000000000029e9412b50018fa3f727673207061727469616c2075647036",
        // TCPv4 SYN 10.9.0.1:40430 -> 10.9.0.2:8080 with options, checksum field 0x1443.
        "02000000000202000000000108004500003c3c1840004006ea8f0a0900010a0900029dee1f90551656d4\
         00000000a002faf014430000020405b40402080a32ad49ff000000000103030a",
    ];

    fn unhex(h: &str) -> Vec<u8> {
        let h: Vec<u8> = h.bytes().filter(u8::is_ascii_hexdigit).collect();
        h.chunks(2)
            .map(|c| u8::from_str_radix(core::str::from_utf8(c).unwrap(), 16).unwrap())
            .collect()
    }

    #[test]
    fn real_partial_checksums_are_marked_and_completed_on_egress() {
        let mut pool = PacketPool::new(8);
        let mut c = OffloadCounters::default();
        for (h, (start, off)) in REAL_PARTIAL.iter().zip([(34, 6), (54, 6), (34, 16)]) {
            let f = unhex(h);
            assert!(!l4::verify(&f).unwrap(), "captured frames are partial");
            let mut p = Packet::from_bytes(&f);
            assert!(mark_unflagged_partial(&mut p));
            assert_eq!(p.data(), &f[..], "marking does not touch the bytes");
            let o = p.meta.offload;
            assert!(o.needs_csum);
            assert_eq!((o.csum_start, o.csum_offset), (start, off));
            // Marked once: a second pass is a no-op.
            assert!(!mark_unflagged_partial(&mut p));
            // An egress without vnet headers gets a correct checksum.
            let out = run(p, false, &mut pool, &mut c);
            assert_eq!(out.len(), 1);
            assert!(l4::verify(out[0].data()).unwrap());
            // The same as computing it from scratch.
            let mut full = f.clone();
            l4::fill(&mut full).unwrap();
            assert_eq!(out[0].data(), &full[..]);
        }
        assert_eq!(c.csum_completed, 3);
    }

    #[test]
    fn good_and_bad_checksums_are_left_alone() {
        for h in REAL_PARTIAL {
            let mut good = unhex(h);
            l4::fill(&mut good).unwrap();
            let mut p = Packet::from_bytes(&good);
            assert!(!mark_unflagged_partial(&mut p), "a correct checksum stays");
            assert_eq!(p.meta.offload, Offload::default());
            // Wrong, and not the pseudo-header sum: forwarded unchanged, unmarked.
            let mut bad = good.clone();
            let last = bad.len() - 1;
            bad[last] ^= 0x5a;
            assert!(!l4::verify(&bad).unwrap());
            let mut p = Packet::from_bytes(&bad);
            assert!(!mark_unflagged_partial(&mut p));
            assert_eq!((p.data(), p.meta.offload), (&bad[..], Offload::default()));
        }
        // IPv4 UDP with checksum 0 ("none") stays none.
        let mut none = unhex(REAL_PARTIAL[0]);
        put16(&mut none, 40, 0);
        let mut p = Packet::from_bytes(&none);
        assert!(!mark_unflagged_partial(&mut p));
        assert_eq!(p.data(), &none[..]);
    }

    #[test]
    fn padded_partial_frame_is_completed_over_the_ip_length() {
        // A 59-byte UDP frame padded to 64 with non-zero bytes (a TAP writer may pad).
        let mut f = unhex(REAL_PARTIAL[0]);
        let ip_end = f.len();
        f.extend_from_slice(&[0xee; 5]);
        let mut p = Packet::from_bytes(&f);
        assert!(mark_unflagged_partial(&mut p));
        assert!(
            !p.meta.offload.needs_csum,
            "completed now, nothing left for egress"
        );
        assert!(l4::verify(p.data()).unwrap());
        assert_eq!(&p.data()[ip_end..], &[0xee; 5]);
    }

    #[test]
    fn rule_never_panics_on_cut_frames() {
        for h in REAL_PARTIAL {
            let f = unhex(h);
            for cut in 0..f.len() {
                let mut p = Packet::from_bytes(&f[..cut]);
                assert!(!mark_unflagged_partial(&mut p), "cut at {cut}");
                assert_eq!(p.data(), &f[..cut]);
            }
        }
    }
}
