//! Geneve header (RFC 8926): 8 bytes plus variable-length options, after the outer UDP header.
//!
//! Layout: `Ver(2) OptLen(6)` (options length in 4-byte words), `O C Rsvd(6)`, the protocol
//! type (0x6558 for Ethernet), the 24-bit VNI, 8 reserved bits, then `OptLen` words of
//! options, each `class(16) type(8) R(3) len(5)` + `len` words of data. The high bit of an
//! option's type is its *critical* bit: a receiver that does not understand a critical option
//! must drop the packet (RFC 8926 §3.5.1). `new_checked` guarantees the base header and the
//! announced options are in the buffer; [`GeneveHeader::critical_option`] walks the options.

use super::{be16, be32, put16, put32, Result, WireError};

/// Base header length (without options).
pub const BASE_LEN: usize = 8;
/// IANA's UDP port for Geneve.
pub const PORT: u16 = 6081;
/// Protocol type of an Ethernet payload (transparent Ethernet bridging).
pub const PROTO_ETHERNET: u16 = 0x6558;
/// The `O` (OAM) flag.
pub const FLAG_OAM: u8 = 0x80;
/// The `C` (critical options present) flag.
pub const FLAG_CRITICAL: u8 = 0x40;

/// A checked view of a Geneve header.
#[derive(Debug, Clone, Copy)]
pub struct GeneveHeader<T> {
    buf: T,
}

impl<T: AsRef<[u8]>> GeneveHeader<T> {
    /// Check that the base header and the options it announces are there.
    #[inline]
    pub fn new_checked(buf: T) -> Result<Self> {
        let b = buf.as_ref();
        if b.len() < BASE_LEN {
            return Err(WireError::Truncated);
        }
        let h = GeneveHeader { buf };
        if h.buf.as_ref().len() < h.header_len() {
            return Err(WireError::Truncated);
        }
        Ok(h)
    }
    #[inline]
    fn b(&self) -> &[u8] {
        self.buf.as_ref()
    }
    /// Version (0 is the only one defined).
    #[inline]
    pub fn version(&self) -> u8 {
        self.b()[0] >> 6
    }
    /// Header length with options, in bytes.
    #[inline]
    pub fn header_len(&self) -> usize {
        BASE_LEN + usize::from(self.b()[0] & 0x3f) * 4
    }
    /// The O and C flags byte (reserved bits included).
    #[inline]
    pub fn flags(&self) -> u8 {
        self.b()[1]
    }
    /// Protocol type of the payload.
    #[inline]
    pub fn protocol(&self) -> u16 {
        be16(self.b(), 2)
    }
    /// The 24-bit VNI.
    #[inline]
    pub fn vni(&self) -> u32 {
        be32(self.b(), 4) >> 8
    }
    /// The first option with its critical bit set, as (class, type); `Err` when an option's
    /// length runs past the options area. rvs understands no option, so any critical one
    /// means "drop".
    pub fn critical_option(&self) -> core::result::Result<Option<(u16, u8)>, WireError> {
        let opts = &self.b()[BASE_LEN..self.header_len()];
        let mut off = 0;
        while off < opts.len() {
            if opts.len() - off < 4 {
                return Err(WireError::Malformed);
            }
            let (class, ty) = (be16(opts, off), opts[off + 2]);
            let len = 4 + usize::from(opts[off + 3] & 0x1f) * 4;
            if off + len > opts.len() {
                return Err(WireError::Malformed);
            }
            if ty & 0x80 != 0 {
                return Ok(Some((class, ty)));
            }
            off += len;
        }
        Ok(None)
    }
}

/// Write a Geneve base header (no options, Ethernet payload) for `vni` into `out[..8]`.
#[inline]
pub fn emit(out: &mut [u8], vni: u32) {
    out[0] = 0;
    out[1] = 0;
    put16(out, 2, PROTO_ETHERNET);
    put32(out, 4, (vni & 0x00ff_ffff) << 8);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_header_round_trip() {
        let mut h = [0xffu8; 8];
        emit(&mut h, 0xab_cdef);
        assert_eq!(h, [0, 0, 0x65, 0x58, 0xab, 0xcd, 0xef, 0]);
        let g = GeneveHeader::new_checked(&h[..]).unwrap();
        assert_eq!(
            (g.version(), g.header_len(), g.protocol(), g.vni()),
            (0, 8, PROTO_ETHERNET, 0xab_cdef)
        );
        assert_eq!(g.critical_option(), Ok(None));
    }

    #[test]
    fn options_critical_or_not_and_lengths_checked() {
        // OptLen 4 words: a non-critical option with one data word, then a critical one.
        let mut h = vec![0x04, 0x40, 0x65, 0x58, 0, 0, 1, 0];
        h.extend([0x01, 0x02, 0x03, 0x01, 9, 9, 9, 9]); // class 0x0102 type 3, 1 word
        h.extend([0x01, 0x02, 0x85, 0x00]); // class 0x0102 type 0x85 (critical), no data
        h.extend([0xaa; 4]); // padding to OptLen*4... (counted as the 4th word)
        let g = GeneveHeader::new_checked(&h[..]).unwrap();
        assert_eq!(g.header_len(), 24);
        assert_eq!(g.critical_option(), Ok(Some((0x0102, 0x85))));
        // Only the non-critical option: accepted.
        let mut n = vec![0x02, 0x00, 0x65, 0x58, 0, 0, 1, 0];
        n.extend([0x01, 0x02, 0x03, 0x01, 9, 9, 9, 9]);
        assert_eq!(
            GeneveHeader::new_checked(&n[..]).unwrap().critical_option(),
            Ok(None)
        );
        // An option whose length runs past OptLen.
        let mut bad = vec![0x01, 0x00, 0x65, 0x58, 0, 0, 1, 0];
        bad.extend([0x01, 0x02, 0x03, 0x02]);
        assert_eq!(
            GeneveHeader::new_checked(&bad[..])
                .unwrap()
                .critical_option(),
            Err(WireError::Malformed)
        );
        // Options announced but not present.
        assert!(GeneveHeader::new_checked(&n[..12]).is_err());
    }
}
