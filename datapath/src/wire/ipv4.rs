//! IPv4 header view (options included) and emitter.
//!
//! `new_checked` requires version 4, IHL ≥ 5, the whole IHL-declared header in the buffer and
//! a total length in `[IHL*4, buffer length]`. Bytes past the total length (Ethernet padding)
//! are not part of `payload()`.

use super::{be16, be32, checksum, put16, put32, Result, WireError};
use core::net::Ipv4Addr;

/// Length of an IPv4 header without options.
pub const MIN_HEADER_LEN: usize = 20;
/// The Don't Fragment bit in the flags/fragment-offset word.
pub const FLAG_DF: u16 = 0x4000;
/// The More Fragments bit.
pub const FLAG_MF: u16 = 0x2000;

/// IP protocol numbers used by rvs.
pub mod proto {
    pub const ICMP: u8 = 1;
    pub const TCP: u8 = 6;
    pub const UDP: u8 = 17;
    pub const GRE: u8 = 47;
    pub const ICMPV6: u8 = 58;
}

/// A checked view of an IPv4 header and its payload.
#[derive(Debug, Clone, Copy)]
pub struct Ipv4Packet<T> {
    buf: T,
}

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
    /// Check version, IHL and total length against the buffer.
    #[inline]
    pub fn new_checked(buf: T) -> Result<Self> {
        let b = buf.as_ref();
        if b.len() < MIN_HEADER_LEN {
            return Err(WireError::Truncated);
        }
        if b[0] >> 4 != 4 {
            return Err(WireError::Malformed);
        }
        let hl = usize::from(b[0] & 0x0f) * 4;
        if hl < MIN_HEADER_LEN {
            return Err(WireError::Malformed);
        }
        let total = usize::from(be16(b, 2));
        if b.len() < hl || b.len() < total {
            return Err(WireError::Truncated);
        }
        if total < hl {
            return Err(WireError::Malformed);
        }
        Ok(Ipv4Packet { buf })
    }
    #[inline]
    fn b(&self) -> &[u8] {
        self.buf.as_ref()
    }
    /// Header length in bytes (IHL × 4).
    #[inline]
    pub fn header_len(&self) -> usize {
        usize::from(self.b()[0] & 0x0f) * 4
    }
    #[inline]
    pub fn tos(&self) -> u8 {
        self.b()[1]
    }
    #[inline]
    pub fn total_len(&self) -> u16 {
        be16(self.b(), 2)
    }
    #[inline]
    pub fn ident(&self) -> u16 {
        be16(self.b(), 4)
    }
    /// Flags (top 3 bits) and fragment offset as one word.
    #[inline]
    pub fn frag_word(&self) -> u16 {
        be16(self.b(), 6)
    }
    #[inline]
    pub fn dont_frag(&self) -> bool {
        self.frag_word() & FLAG_DF != 0
    }
    /// True for any fragment (MF set or a non-zero offset).
    #[inline]
    pub fn is_fragment(&self) -> bool {
        self.frag_word() & (FLAG_MF | 0x1fff) != 0
    }
    #[inline]
    pub fn ttl(&self) -> u8 {
        self.b()[8]
    }
    #[inline]
    pub fn protocol(&self) -> u8 {
        self.b()[9]
    }
    #[inline]
    pub fn checksum(&self) -> u16 {
        be16(self.b(), 10)
    }
    #[inline]
    pub fn src(&self) -> Ipv4Addr {
        Ipv4Addr::from(be32(self.b(), 12))
    }
    #[inline]
    pub fn dst(&self) -> Ipv4Addr {
        Ipv4Addr::from(be32(self.b(), 16))
    }
    /// Options bytes (empty when IHL = 5).
    #[inline]
    pub fn options(&self) -> &[u8] {
        &self.b()[MIN_HEADER_LEN..self.header_len()]
    }
    /// The header, options included.
    #[inline]
    pub fn header(&self) -> &[u8] {
        &self.b()[..self.header_len()]
    }
    /// The payload up to the declared total length.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.b()[self.header_len()..usize::from(self.total_len())]
    }
    /// True when the header checksum verifies.
    #[inline]
    pub fn verify_checksum(&self) -> bool {
        checksum::verify(self.header())
    }
    /// The pseudo-header sum for TCP/UDP over this packet with L4 length `l4_len`.
    #[inline]
    pub fn pseudo_header_sum(&self, l4_len: usize) -> u64 {
        pseudo_header_sum(self.src(), self.dst(), self.protocol(), l4_len)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv4Packet<T> {
    #[inline]
    pub fn set_total_len(&mut self, v: u16) {
        put16(self.buf.as_mut(), 2, v);
    }
    #[inline]
    pub fn set_ident(&mut self, v: u16) {
        put16(self.buf.as_mut(), 4, v);
    }
    #[inline]
    pub fn set_frag_word(&mut self, v: u16) {
        put16(self.buf.as_mut(), 6, v);
    }
    #[inline]
    pub fn set_ttl(&mut self, v: u8) {
        self.buf.as_mut()[8] = v;
    }
    /// Recompute and store the header checksum.
    #[inline]
    pub fn fill_checksum(&mut self) {
        let hl = self.header_len();
        let b = self.buf.as_mut();
        put16(b, 10, 0);
        let c = checksum::checksum(&b[..hl]);
        put16(b, 10, c);
    }
}

/// Fields of an option-less IPv4 header to emit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Repr {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub protocol: u8,
    pub tos: u8,
    pub ttl: u8,
    pub ident: u16,
    /// Flags and fragment offset word (e.g. `FLAG_DF`).
    pub frag_word: u16,
    /// Payload length (the emitted total length is this plus 20).
    pub payload_len: usize,
}

impl Ipv4Repr {
    /// Write a 20-byte header with a valid checksum into `out[..20]`.
    pub fn emit(&self, out: &mut [u8]) {
        let total = (MIN_HEADER_LEN + self.payload_len) as u16;
        out[0] = 0x45;
        out[1] = self.tos;
        put16(out, 2, total);
        put16(out, 4, self.ident);
        put16(out, 6, self.frag_word);
        out[8] = self.ttl;
        out[9] = self.protocol;
        put16(out, 10, 0);
        put32(out, 12, u32::from(self.src));
        put32(out, 16, u32::from(self.dst));
        let c = checksum::checksum(&out[..MIN_HEADER_LEN]);
        put16(out, 10, c);
    }
}

/// The TCP/UDP pseudo-header sum (not folded, not inverted).
#[inline]
pub fn pseudo_header_sum(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, l4_len: usize) -> u64 {
    let mut acc = checksum::sum(0, &src.octets());
    acc = checksum::sum(acc, &dst.octets());
    acc + u64::from(protocol) + l4_len as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        let mut p = vec![0u8; 28];
        Ipv4Repr {
            src: Ipv4Addr::new(10, 0, 0, 1),
            dst: Ipv4Addr::new(10, 0, 0, 2),
            protocol: proto::UDP,
            tos: 0,
            ttl: 64,
            ident: 7,
            frag_word: FLAG_DF,
            payload_len: 8,
        }
        .emit(&mut p);
        p
    }

    #[test]
    fn emit_parse_roundtrip() {
        let p = sample();
        let v = Ipv4Packet::new_checked(&p[..]).unwrap();
        assert!(v.verify_checksum());
        assert_eq!(
            (v.header_len(), v.total_len(), v.ttl(), v.protocol()),
            (20, 28, 64, 17)
        );
        assert!(v.dont_frag() && !v.is_fragment());
        assert_eq!(v.payload().len(), 8);
        let e = etherparse::Ipv4HeaderSlice::from_slice(&p).unwrap();
        assert_eq!(e.header_checksum(), v.checksum());
        assert_eq!(e.to_header().calc_header_checksum(), v.checksum());
    }

    #[test]
    fn options_are_covered() {
        // IHL 6: one 4-byte option (NOP NOP NOP EOL).
        let mut p = vec![0u8; 24 + 4];
        p[0] = 0x46;
        put16(&mut p, 2, 28);
        p[20..24].copy_from_slice(&[1, 1, 1, 0]);
        let mut v = Ipv4Packet::new_checked(&mut p[..]).unwrap();
        v.fill_checksum();
        assert!(v.verify_checksum());
        assert_eq!(v.options(), &[1, 1, 1, 0]);
        assert_eq!(v.payload().len(), 4);
    }

    #[test]
    fn rejects_bad_headers() {
        let mut p = sample();
        p[0] = 0x44; // IHL 4
        assert_eq!(
            Ipv4Packet::new_checked(&p[..]).unwrap_err(),
            WireError::Malformed
        );
        let mut p = sample();
        p[0] = 0x65; // version 6
        assert_eq!(
            Ipv4Packet::new_checked(&p[..]).unwrap_err(),
            WireError::Malformed
        );
        let mut p = sample();
        put16(&mut p, 2, 200); // longer than buffer
        assert_eq!(
            Ipv4Packet::new_checked(&p[..]).unwrap_err(),
            WireError::Truncated
        );
        let mut p = sample();
        put16(&mut p, 2, 10); // shorter than header
        assert_eq!(
            Ipv4Packet::new_checked(&p[..]).unwrap_err(),
            WireError::Malformed
        );
        let mut p = sample();
        p[0] = 0x4f; // IHL 15 = 60 bytes > buffer
        assert_eq!(
            Ipv4Packet::new_checked(&p[..]).unwrap_err(),
            WireError::Truncated
        );
        assert_eq!(
            Ipv4Packet::new_checked(&p[..19]).unwrap_err(),
            WireError::Truncated
        );
    }
}
