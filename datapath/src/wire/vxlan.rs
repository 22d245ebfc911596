//! VXLAN header (RFC 7348): 8 bytes after the outer UDP header.
//!
//! Layout: flags (`I` = 0x08: the VNI is valid; every other bit reserved), 24 reserved bits,
//! the 24-bit VNI, 8 reserved bits. The inner Ethernet frame follows. `new_checked` only
//! guarantees the 8 bytes; policy (the I bit, reserved bits) is the caller's, who counts each
//! refusal as a drop reason.

use super::{be32, put32, Result, WireError};

/// Header length.
pub const HEADER_LEN: usize = 8;
/// The `I` flag: the VNI field is valid.
pub const FLAG_I: u8 = 0x08;
/// IANA's UDP port for VXLAN.
pub const PORT: u16 = 4789;

/// A checked view of a VXLAN header.
#[derive(Debug, Clone, Copy)]
pub struct VxlanHeader<T> {
    buf: T,
}

impl<T: AsRef<[u8]>> VxlanHeader<T> {
    /// Check that the 8 header bytes are there.
    #[inline]
    pub fn new_checked(buf: T) -> Result<Self> {
        if buf.as_ref().len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        Ok(VxlanHeader { buf })
    }
    /// The flags byte.
    #[inline]
    pub fn flags(&self) -> u8 {
        self.buf.as_ref()[0]
    }
    /// True when only `I` is set and the reserved fields are zero, as RFC 7348 sends.
    #[inline]
    pub fn is_canonical(&self) -> bool {
        let b = self.buf.as_ref();
        b[0] == FLAG_I && b[1..4] == [0, 0, 0] && b[7] == 0
    }
    /// The 24-bit VNI.
    #[inline]
    pub fn vni(&self) -> u32 {
        be32(self.buf.as_ref(), 4) >> 8
    }
}

/// Write a VXLAN header for `vni` (only the low 24 bits are used) into `out[..8]`.
#[inline]
pub fn emit(out: &mut [u8], vni: u32) {
    put32(out, 0, u32::from(FLAG_I) << 24);
    put32(out, 4, (vni & 0x00ff_ffff) << 8);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rfc_bytes() {
        let mut h = [0xffu8; 8];
        emit(&mut h, 0x12_3456);
        // RFC 7348 figure: I flag, reserved zero, VNI, reserved zero.
        assert_eq!(h, [0x08, 0, 0, 0, 0x12, 0x34, 0x56, 0]);
        let v = VxlanHeader::new_checked(&h[..]).unwrap();
        assert_eq!(
            (v.flags(), v.vni(), v.is_canonical()),
            (FLAG_I, 0x12_3456, true)
        );
        assert!(VxlanHeader::new_checked(&h[..7]).is_err());
        h[7] = 1;
        assert!(!VxlanHeader::new_checked(&h[..]).unwrap().is_canonical());
    }
}
