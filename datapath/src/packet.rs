//! Frame buffers, their metadata, batches of 32, and the buffer pool.
//!
//! A `Packet` owns one fixed-size buffer. Frame bytes live in `buf[start..end]`; everything
//! before `start` is headroom, so a tunnel header is written in place by moving `start`
//! back (`push_front`), and stripped by moving it forward (`pull_front`). A fresh packet has
//! `HEADROOM` bytes of headroom and room for a 64 KB GSO super-frame behind it.
//!
//! Buffers come from a `PacketPool` that allocates them all up front; the hot path only moves
//! `Packet` values (a pointer and a few words) between the pool, batches and ports, so nothing
//! is allocated per packet. A `Batch` holds at most `BATCH_SIZE` packets and never grows.

use core::net::Ipv4Addr;

/// Packets per burst.
pub const BATCH_SIZE: usize = 32;
/// Headroom reserved in front of every received frame (outer Ethernet + VLAN + IPv4 with
/// options + GRE with all optional fields fits with room to spare).
pub const HEADROOM: usize = 128;
/// Largest frame a buffer holds: a 64 KB GSO super-frame plus link headers.
pub const MAX_FRAME: usize = 65535 + 14 + 8;
// GRE encapsulation must fit in front of any frame.
const _: () = assert!(HEADROOM >= 64);

/// Size of one buffer.
pub const BUF_SIZE: usize = HEADROOM + MAX_FRAME;

/// Checksum and segmentation state, in the terms of the virtio-net header that AF_PACKET
/// (PACKET_VNET_HDR) and TAP (IFF_VNET_HDR) exchange with the kernel.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Offload {
    /// The L4 checksum is partial: complete it from `csum_start` with the field at
    /// `csum_start + csum_offset` (offsets from the start of the Ethernet header).
    pub needs_csum: bool,
    /// The checksum has been verified (by the kernel) and need not be checked again.
    pub data_valid: bool,
    /// One of `GSO_*`: the frame is a super-frame to be cut into `gso_size` segments.
    pub gso_type: u8,
    /// Length of the headers that every segment repeats.
    pub hdr_len: u16,
    /// Payload bytes per segment.
    pub gso_size: u16,
    pub csum_start: u16,
    pub csum_offset: u16,
}

/// No segmentation.
pub const GSO_NONE: u8 = 0;
/// TCP over IPv4.
pub const GSO_TCPV4: u8 = 1;
/// UDP (fragmentation offload).
pub const GSO_UDP: u8 = 3;
/// TCP over IPv6.
pub const GSO_TCPV6: u8 = 4;
/// UDP segmentation (UDP_L4).
pub const GSO_UDP_L4: u8 = 5;
/// ECN flag ORed into `gso_type`.
pub const GSO_ECN: u8 = 0x80;

/// Tunnel metadata: set by GRE decap on receive, consumed by encap on transmit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TunnelMeta {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub key: Option<u32>,
    pub tos: u8,
    pub ttl: u8,
    /// The outer packet had DF set.
    pub df: bool,
    /// The tunnel header carried a (valid) checksum (GRE C bit, or a UDP checksum).
    pub csum: bool,
    /// UDP destination port of a VXLAN/Geneve packet (`None` for GRE).
    pub tp_dst: Option<u16>,
}

/// Per-packet metadata.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Meta {
    /// Datapath port the frame came in on.
    pub in_port: u16,
    /// Tunnel the frame came from, if any.
    pub tunnel: Option<TunnelMeta>,
    /// Checksum / GSO state.
    pub offload: Offload,
}

/// One frame in one buffer.
pub struct Packet {
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    /// Metadata that travels with the frame.
    pub meta: Meta,
}

impl core::fmt::Debug for Packet {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Packet")
            .field("len", &self.len())
            .field("headroom", &self.start)
            .field("meta", &self.meta)
            .finish()
    }
}

impl Packet {
    /// Allocate a packet buffer. Only the pool (and tests) call this.
    pub fn new() -> Packet {
        Packet {
            buf: vec![0u8; BUF_SIZE].into_boxed_slice(),
            start: HEADROOM,
            end: HEADROOM,
            meta: Meta::default(),
        }
    }
    /// A packet holding a copy of `frame` (tests and slow paths). Panics if `frame` is
    /// longer than `MAX_FRAME`.
    pub fn from_bytes(frame: &[u8]) -> Packet {
        let mut p = Packet::new();
        assert!(p.set_frame(frame), "frame longer than MAX_FRAME");
        p
    }
    /// The frame.
    #[inline]
    pub fn data(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }
    /// The frame, writable.
    #[inline]
    pub fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buf[self.start..self.end]
    }
    #[inline]
    pub fn len(&self) -> usize {
        self.end - self.start
    }
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }
    /// Bytes available in front of the frame.
    #[inline]
    pub fn headroom(&self) -> usize {
        self.start
    }
    /// Reset to an empty frame with full headroom and default metadata.
    #[inline]
    pub fn reset(&mut self) {
        self.start = HEADROOM;
        self.end = HEADROOM;
        self.meta = Meta::default();
    }
    /// The area a receive writes into (everything after the headroom). Follow with
    /// `set_len`.
    #[inline]
    pub fn rx_area(&mut self) -> &mut [u8] {
        self.start = HEADROOM;
        &mut self.buf[HEADROOM..]
    }
    /// Set the frame length after a receive into `rx_area`. Clamped to the buffer.
    #[inline]
    pub fn set_len(&mut self, len: usize) {
        self.end = (self.start + len).min(self.buf.len());
    }
    /// Replace the frame with a copy of `frame`. `false` (and nothing changes) when it is
    /// longer than `MAX_FRAME`: a frame is never silently cut short. (One that `push_front`
    /// grew into the headroom can be that long.)
    #[inline]
    #[must_use]
    pub fn set_frame(&mut self, frame: &[u8]) -> bool {
        let n = frame.len();
        if n > MAX_FRAME {
            return false;
        }
        self.start = HEADROOM;
        self.buf[HEADROOM..HEADROOM + n].copy_from_slice(frame);
        self.end = HEADROOM + n;
        true
    }
    /// Grow the frame by `n` bytes at the front, into the headroom, and return them.
    /// `None` when the headroom is too small.
    #[inline]
    pub fn push_front(&mut self, n: usize) -> Option<&mut [u8]> {
        if n > self.start {
            return None;
        }
        self.start -= n;
        Some(&mut self.buf[self.start..self.start + n])
    }
    /// Drop `n` bytes from the front of the frame. `false` (and nothing changes) when the
    /// frame is shorter than `n`.
    #[inline]
    pub fn pull_front(&mut self, n: usize) -> bool {
        if n > self.len() {
            return false;
        }
        self.start += n;
        true
    }
    /// Cut the frame to `len` bytes (no-op when it is already shorter).
    #[inline]
    pub fn truncate(&mut self, len: usize) {
        if len < self.len() {
            self.end = self.start + len;
        }
    }
    /// Append `bytes` at the end of the frame. `false` (and nothing changes) when the buffer
    /// has no room for them.
    #[inline]
    pub fn append(&mut self, bytes: &[u8]) -> bool {
        let end = self.end + bytes.len();
        if end > self.buf.len() || end - self.start > MAX_FRAME {
            return false;
        }
        self.buf[self.end..end].copy_from_slice(bytes);
        self.end = end;
        true
    }
    /// Make this packet a copy of `other` (frame and metadata). `false` (nothing changes)
    /// when `other`'s frame is longer than `MAX_FRAME` (see `set_frame`).
    #[inline]
    #[must_use]
    pub fn clone_from_packet(&mut self, other: &Packet) -> bool {
        if !self.set_frame(other.data()) {
            return false;
        }
        self.meta = other.meta;
        true
    }
}

impl Default for Packet {
    fn default() -> Self {
        Packet::new()
    }
}

/// Up to `BATCH_SIZE` packets. Never reallocates.
#[derive(Debug)]
pub struct Batch {
    pkts: Vec<Packet>,
}

impl Default for Batch {
    fn default() -> Self {
        Batch::new()
    }
}

impl Batch {
    pub fn new() -> Batch {
        Batch {
            pkts: Vec::with_capacity(BATCH_SIZE),
        }
    }
    #[inline]
    pub fn len(&self) -> usize {
        self.pkts.len()
    }
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.pkts.is_empty()
    }
    #[inline]
    pub fn is_full(&self) -> bool {
        self.pkts.len() == BATCH_SIZE
    }
    /// Room left.
    #[inline]
    pub fn room(&self) -> usize {
        BATCH_SIZE - self.pkts.len()
    }
    /// Add a packet; gives it back when the batch is full.
    #[inline]
    pub fn push(&mut self, p: Packet) -> Result<(), Packet> {
        if self.is_full() {
            return Err(p);
        }
        self.pkts.push(p);
        Ok(())
    }
    #[inline]
    pub fn pop(&mut self) -> Option<Packet> {
        self.pkts.pop()
    }
    #[inline]
    pub fn iter(&self) -> core::slice::Iter<'_, Packet> {
        self.pkts.iter()
    }
    #[inline]
    pub fn iter_mut(&mut self) -> core::slice::IterMut<'_, Packet> {
        self.pkts.iter_mut()
    }
    #[inline]
    pub fn get(&self, i: usize) -> Option<&Packet> {
        self.pkts.get(i)
    }
    /// Take every packet out, in order.
    #[inline]
    pub fn drain(&mut self) -> std::vec::Drain<'_, Packet> {
        self.pkts.drain(..)
    }
    /// The packets themselves, for in-place reordering and merging (`gro`). Callers must not
    /// grow the vector past `BATCH_SIZE`.
    #[inline]
    pub(crate) fn packets_mut(&mut self) -> &mut Vec<Packet> {
        &mut self.pkts
    }
    /// Keep only the packets for which `keep` is true; the others go back to `pool`.
    pub fn retain_or_recycle(
        &mut self,
        pool: &mut PacketPool,
        mut keep: impl FnMut(&mut Packet) -> bool,
    ) {
        let mut i = 0;
        while i < self.pkts.len() {
            if keep(&mut self.pkts[i]) {
                i += 1;
            } else {
                pool.put(self.pkts.swap_remove(i));
            }
        }
    }
}

/// A fixed set of pre-allocated buffers. Not shared between threads: every PMD owns one.
#[derive(Debug)]
pub struct PacketPool {
    free: Vec<Packet>,
    size: usize,
}

impl PacketPool {
    /// Allocate `n` buffers now (their pages are touched lazily by the kernel).
    pub fn new(n: usize) -> PacketPool {
        PacketPool {
            free: (0..n).map(|_| Packet::new()).collect(),
            size: n,
        }
    }
    /// Take a reset buffer, or `None` when all are in use (the caller counts a drop).
    #[inline]
    pub fn get(&mut self) -> Option<Packet> {
        self.free.pop()
    }
    /// Return a buffer. Buffers beyond the pool's size (never expected) are freed.
    #[inline]
    pub fn put(&mut self, mut p: Packet) {
        if self.free.len() < self.size {
            p.reset();
            self.free.push(p);
        }
    }
    /// Buffers currently free.
    #[inline]
    pub fn available(&self) -> usize {
        self.free.len()
    }
    /// Total buffers owned by the pool.
    #[inline]
    pub fn size(&self) -> usize {
        self.size
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Defect: copying a frame that `push_front` had grown past `MAX_FRAME` (a VLAN tag
    /// pushed onto a maximal GSO frame, then flooded) silently cut its tail off.
    #[test]
    fn a_frame_too_long_to_copy_is_refused_not_cut() {
        let mut big = Packet::from_bytes(&vec![7u8; MAX_FRAME]);
        big.push_front(4)
            .unwrap()
            .copy_from_slice(&[0x81, 0, 0, 10]);
        assert_eq!(big.len(), MAX_FRAME + 4);
        let mut copy = Packet::from_bytes(b"old");
        assert!(!copy.clone_from_packet(&big));
        assert_eq!(copy.data(), b"old", "unchanged");
        assert!(!copy.set_frame(big.data()));
        big.pull_front(4);
        assert!(copy.clone_from_packet(&big));
        assert_eq!(copy.len(), MAX_FRAME);
    }

    #[test]
    fn headroom_push_pull() {
        let mut p = Packet::from_bytes(b"hello");
        assert_eq!(p.headroom(), HEADROOM);
        p.push_front(4).unwrap().copy_from_slice(b"GRE:");
        assert_eq!(p.data(), b"GRE:hello");
        assert!(p.pull_front(4));
        assert_eq!(p.data(), b"hello");
        assert!(!p.pull_front(6));
        assert!(p.push_front(HEADROOM + 1).is_none());
        assert_eq!(p.data(), b"hello");
        p.truncate(2);
        assert_eq!(p.data(), b"he");
    }

    #[test]
    fn batch_is_bounded() {
        let mut b = Batch::new();
        for _ in 0..BATCH_SIZE {
            b.push(Packet::new()).unwrap();
        }
        assert!(b.push(Packet::new()).is_err());
        assert_eq!(b.len(), BATCH_SIZE);
    }

    #[test]
    fn pool_recycles_without_allocating() {
        let mut pool = PacketPool::new(2);
        let mut a = pool.get().unwrap();
        assert!(a.set_frame(b"x"));
        a.meta.in_port = 9;
        let b = pool.get().unwrap();
        assert!(pool.get().is_none());
        pool.put(a);
        pool.put(b);
        let a = pool.get().unwrap();
        assert!(a.is_empty() && a.meta.in_port == 0);
        assert_eq!(pool.available(), 1);
    }

    #[test]
    fn retain_or_recycle_returns_buffers() {
        let mut pool = PacketPool::new(4);
        let mut b = Batch::new();
        for i in 0..4u8 {
            let mut p = pool.get().unwrap();
            assert!(p.set_frame(&[i]));
            b.push(p).unwrap();
        }
        b.retain_or_recycle(&mut pool, |p| p.data()[0] % 2 == 0);
        assert_eq!(b.len(), 2);
        assert_eq!(pool.available(), 2);
    }
}
