//! GRE header (RFC 2784, with the key and sequence extensions of RFC 2890).
//!
//! Layout: flags/version word, protocol type, then optionally checksum + reserved1 (C bit),
//! key (K bit), sequence number (S bit), in that order. `new_checked` only guarantees that the
//! fields the flags announce are present; policy (version ≠ 0, routing bit, unknown flags) is
//! for the caller, who counts each as its own drop reason.

use super::{be16, be32, checksum, put16, put32, Result, WireError};

/// Checksum present.
pub const FLAG_C: u16 = 0x8000;
/// Routing present (RFC 1701; forbidden by RFC 2784).
pub const FLAG_R: u16 = 0x4000;
/// Key present.
pub const FLAG_K: u16 = 0x2000;
/// Sequence number present.
pub const FLAG_S: u16 = 0x1000;
/// Every bit of the flags word other than C, K, S and the version: strict source route,
/// recursion control and reserved0 (R is reported separately).
pub const FLAGS_UNKNOWN: u16 = 0x0ff8;
/// Base header length (flags + protocol).
pub const BASE_LEN: usize = 4;

/// A checked view of a GRE header and what follows it.
#[derive(Debug, Clone, Copy)]
pub struct GreHeader<T> {
    buf: T,
}

impl<T: AsRef<[u8]>> GreHeader<T> {
    /// Check that the optional fields announced by C/K/S are all in the buffer.
    #[inline]
    pub fn new_checked(buf: T) -> Result<Self> {
        let b = buf.as_ref();
        if b.len() < BASE_LEN {
            return Err(WireError::Truncated);
        }
        let h = GreHeader { buf };
        if h.buf.as_ref().len() < h.header_len() {
            return Err(WireError::Truncated);
        }
        Ok(h)
    }
    #[inline]
    fn b(&self) -> &[u8] {
        self.buf.as_ref()
    }
    /// The whole flags/version word.
    #[inline]
    pub fn flags(&self) -> u16 {
        be16(self.b(), 0)
    }
    #[inline]
    pub fn version(&self) -> u8 {
        (self.flags() & 0x7) as u8
    }
    #[inline]
    pub fn has_checksum(&self) -> bool {
        self.flags() & FLAG_C != 0
    }
    #[inline]
    pub fn has_routing(&self) -> bool {
        self.flags() & FLAG_R != 0
    }
    #[inline]
    pub fn has_key(&self) -> bool {
        self.flags() & FLAG_K != 0
    }
    #[inline]
    pub fn has_seq(&self) -> bool {
        self.flags() & FLAG_S != 0
    }
    #[inline]
    pub fn protocol(&self) -> u16 {
        be16(self.b(), 2)
    }
    /// Header length implied by the flags.
    #[inline]
    pub fn header_len(&self) -> usize {
        header_len(self.has_checksum(), self.has_key(), self.has_seq())
    }
    /// The checksum field, when C is set.
    #[inline]
    pub fn checksum(&self) -> Option<u16> {
        self.has_checksum().then(|| be16(self.b(), 4))
    }
    /// The key, when K is set.
    #[inline]
    pub fn key(&self) -> Option<u32> {
        let off = BASE_LEN + if self.has_checksum() { 4 } else { 0 };
        self.has_key().then(|| be32(self.b(), off))
    }
    /// The sequence number, when S is set.
    #[inline]
    pub fn seq(&self) -> Option<u32> {
        let off =
            BASE_LEN + if self.has_checksum() { 4 } else { 0 } + if self.has_key() { 4 } else { 0 };
        self.has_seq().then(|| be32(self.b(), off))
    }
    /// True when C is clear, or the checksum over header and payload verifies.
    #[inline]
    pub fn checksum_ok(&self) -> bool {
        !self.has_checksum() || checksum::verify(self.b())
    }
    /// The encapsulated payload.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.b()[self.header_len()..]
    }
}

/// Header length for a combination of optional fields.
#[inline]
pub const fn header_len(csum: bool, key: bool, seq: bool) -> usize {
    BASE_LEN + 4 * (csum as usize + key as usize + seq as usize)
}

/// What to put in a GRE header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GreRepr {
    pub csum: bool,
    pub key: Option<u32>,
    pub seq: Option<u32>,
    pub protocol: u16,
}

impl GreRepr {
    /// Emitted header length.
    #[inline]
    pub const fn header_len(&self) -> usize {
        header_len(self.csum, self.key.is_some(), self.seq.is_some())
    }
    /// The flags/version word this header will carry.
    #[inline]
    pub fn flags(&self) -> u16 {
        (if self.csum { FLAG_C } else { 0 })
            | (if self.key.is_some() { FLAG_K } else { 0 })
            | (if self.seq.is_some() { FLAG_S } else { 0 })
    }
    /// Write the header into `buf[..header_len()]`; when `csum` is set, the checksum is
    /// computed over the whole of `buf` (header plus payload, which must already be there).
    #[inline]
    pub fn emit(&self, buf: &mut [u8]) {
        put16(buf, 0, self.flags());
        put16(buf, 2, self.protocol);
        let mut off = BASE_LEN;
        if self.csum {
            put32(buf, off, 0);
            off += 4;
        }
        if let Some(k) = self.key {
            put32(buf, off, k);
            off += 4;
        }
        if let Some(s) = self.seq {
            put32(buf, off, s);
        }
        if self.csum {
            let c = checksum::checksum(buf);
            put16(buf, BASE_LEN, c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_flag_combinations_roundtrip() {
        for csum in [false, true] {
            for key in [None, Some(0x1234)] {
                for seq in [None, Some(77)] {
                    let r = GreRepr {
                        csum,
                        key,
                        seq,
                        protocol: 0x6558,
                    };
                    let mut b = vec![0u8; r.header_len() + 10];
                    b[r.header_len()..].copy_from_slice(b"0123456789");
                    r.emit(&mut b);
                    let h = GreHeader::new_checked(&b[..]).unwrap();
                    assert_eq!(
                        (h.has_checksum(), h.key(), h.seq(), h.protocol()),
                        (csum, key, seq, 0x6558)
                    );
                    assert_eq!(h.version(), 0);
                    assert!(h.checksum_ok());
                    assert_eq!(h.payload(), b"0123456789");
                    assert_eq!(
                        GreHeader::new_checked(&b[..r.header_len() - 1]).unwrap_err(),
                        WireError::Truncated
                    );
                }
            }
        }
    }

    #[test]
    fn bad_checksum_detected() {
        let r = GreRepr {
            csum: true,
            key: None,
            seq: None,
            protocol: 0x6558,
        };
        let mut b = vec![0u8; 8 + 4];
        r.emit(&mut b);
        b[10] ^= 1;
        assert!(!GreHeader::new_checked(&b[..]).unwrap().checksum_ok());
    }
}
