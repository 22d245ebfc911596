//! IPv6 fixed header view (40 bytes) and emitter. Extension headers are not walked: the
//! switch only needs addresses, next header and payload length (for checksum completion
//! and ICMPv6 Packet Too Big).

use super::{be16, checksum, put16, Result, WireError};
use core::net::Ipv6Addr;

/// Length of the fixed IPv6 header.
pub const HEADER_LEN: usize = 40;

/// A checked view of an IPv6 fixed header and its payload.
#[derive(Debug, Clone, Copy)]
pub struct Ipv6Packet<T> {
    buf: T,
}

impl<T: AsRef<[u8]>> Ipv6Packet<T> {
    /// Check version 6 and that the declared payload fits the buffer.
    #[inline]
    pub fn new_checked(buf: T) -> Result<Self> {
        let b = buf.as_ref();
        if b.len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        if b[0] >> 4 != 6 {
            return Err(WireError::Malformed);
        }
        if b.len() < HEADER_LEN + usize::from(be16(b, 4)) {
            return Err(WireError::Truncated);
        }
        Ok(Ipv6Packet { buf })
    }
    #[inline]
    fn b(&self) -> &[u8] {
        self.buf.as_ref()
    }
    #[inline]
    pub fn traffic_class(&self) -> u8 {
        (be16(self.b(), 0) >> 4) as u8
    }
    #[inline]
    pub fn payload_len(&self) -> u16 {
        be16(self.b(), 4)
    }
    #[inline]
    pub fn next_header(&self) -> u8 {
        self.b()[6]
    }
    #[inline]
    pub fn hop_limit(&self) -> u8 {
        self.b()[7]
    }
    #[inline]
    pub fn src(&self) -> Ipv6Addr {
        let mut a = [0u8; 16];
        a.copy_from_slice(&self.b()[8..24]);
        Ipv6Addr::from(a)
    }
    #[inline]
    pub fn dst(&self) -> Ipv6Addr {
        let mut a = [0u8; 16];
        a.copy_from_slice(&self.b()[24..40]);
        Ipv6Addr::from(a)
    }
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.b()[HEADER_LEN..HEADER_LEN + usize::from(self.payload_len())]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv6Packet<T> {
    #[inline]
    pub fn set_payload_len(&mut self, v: u16) {
        put16(self.buf.as_mut(), 4, v);
    }
}

/// Fields of an IPv6 fixed header to emit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Repr {
    pub src: Ipv6Addr,
    pub dst: Ipv6Addr,
    pub next_header: u8,
    pub hop_limit: u8,
    pub payload_len: usize,
}

impl Ipv6Repr {
    /// Write the 40-byte fixed header into `out[..40]`.
    pub fn emit(&self, out: &mut [u8]) {
        out[0..4].copy_from_slice(&[0x60, 0, 0, 0]);
        put16(out, 4, self.payload_len as u16);
        out[6] = self.next_header;
        out[7] = self.hop_limit;
        out[8..24].copy_from_slice(&self.src.octets());
        out[24..40].copy_from_slice(&self.dst.octets());
    }
}

/// The upper-layer pseudo-header sum for IPv6 (RFC 8200 §8.1).
#[inline]
pub fn pseudo_header_sum(src: Ipv6Addr, dst: Ipv6Addr, next_header: u8, l4_len: usize) -> u64 {
    let mut acc = checksum::sum(0, &src.octets());
    acc = checksum::sum(acc, &dst.octets());
    acc + u64::from(next_header) + l4_len as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_checks() {
        let mut p = vec![0u8; 48];
        let r = Ipv6Repr {
            src: "fd00::1".parse().unwrap(),
            dst: "fd00::2".parse().unwrap(),
            next_header: 17,
            hop_limit: 64,
            payload_len: 8,
        };
        r.emit(&mut p);
        let v = Ipv6Packet::new_checked(&p[..]).unwrap();
        assert_eq!(
            (v.src(), v.dst(), v.next_header(), v.hop_limit()),
            (r.src, r.dst, 17, 64)
        );
        assert_eq!(v.payload().len(), 8);
        let e = etherparse::Ipv6HeaderSlice::from_slice(&p).unwrap();
        assert_eq!(e.source_addr(), r.src);
        assert_eq!(
            Ipv6Packet::new_checked(&p[..47]).unwrap_err(),
            WireError::Truncated
        );
        p[0] = 0x40;
        assert_eq!(
            Ipv6Packet::new_checked(&p[..]).unwrap_err(),
            WireError::Malformed
        );
    }
}
