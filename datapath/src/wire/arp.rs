//! ARP (Ethernet/IPv4) view and emitter.

use super::{be16, be32, put16, put32, MacAddr, Result, WireError};
use core::net::Ipv4Addr;

/// Length of an Ethernet/IPv4 ARP packet.
pub const LEN: usize = 28;
/// ARP request opcode.
pub const OP_REQUEST: u16 = 1;
/// ARP reply opcode.
pub const OP_REPLY: u16 = 2;

/// A checked view of an Ethernet/IPv4 ARP packet.
#[derive(Debug, Clone, Copy)]
pub struct ArpPacket<T> {
    buf: T,
}

impl<T: AsRef<[u8]>> ArpPacket<T> {
    /// Requires 28 bytes, hardware type 1 / length 6, protocol 0x0800 / length 4.
    pub fn new_checked(buf: T) -> Result<Self> {
        let b = buf.as_ref();
        if b.len() < LEN {
            return Err(WireError::Truncated);
        }
        if be16(b, 0) != 1 || be16(b, 2) != 0x0800 || b[4] != 6 || b[5] != 4 {
            return Err(WireError::Malformed);
        }
        Ok(ArpPacket { buf })
    }
    pub fn op(&self) -> u16 {
        be16(self.buf.as_ref(), 6)
    }
    pub fn sha(&self) -> MacAddr {
        MacAddr::from_slice(&self.buf.as_ref()[8..14])
    }
    pub fn spa(&self) -> Ipv4Addr {
        Ipv4Addr::from(be32(self.buf.as_ref(), 14))
    }
    pub fn tha(&self) -> MacAddr {
        MacAddr::from_slice(&self.buf.as_ref()[18..24])
    }
    pub fn tpa(&self) -> Ipv4Addr {
        Ipv4Addr::from(be32(self.buf.as_ref(), 24))
    }
}

/// Write an Ethernet/IPv4 ARP packet into `out[..28]`.
pub fn emit(out: &mut [u8], op: u16, sha: MacAddr, spa: Ipv4Addr, tha: MacAddr, tpa: Ipv4Addr) {
    put16(out, 0, 1);
    put16(out, 2, 0x0800);
    out[4] = 6;
    out[5] = 4;
    put16(out, 6, op);
    out[8..14].copy_from_slice(&sha.0);
    put32(out, 14, u32::from(spa));
    out[18..24].copy_from_slice(&tha.0);
    put32(out, 24, u32::from(tpa));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip() {
        let mut b = [0u8; 28];
        let sha = MacAddr([2, 1, 2, 3, 4, 5]);
        emit(
            &mut b,
            OP_REQUEST,
            sha,
            Ipv4Addr::new(10, 0, 0, 1),
            MacAddr::ZERO,
            Ipv4Addr::new(10, 0, 0, 2),
        );
        let a = ArpPacket::new_checked(&b[..]).unwrap();
        assert_eq!(
            (a.op(), a.sha(), a.spa(), a.tpa()),
            (
                1,
                sha,
                Ipv4Addr::new(10, 0, 0, 1),
                Ipv4Addr::new(10, 0, 0, 2)
            )
        );
        assert_eq!(a.tha(), MacAddr::ZERO);
        let e = etherparse::ArpPacketSlice::from_slice(&b).unwrap();
        assert_eq!(e.sender_hw_addr(), &sha.0);
        assert_eq!(
            ArpPacket::new_checked(&b[..27]).unwrap_err(),
            WireError::Truncated
        );
        b[5] = 16;
        assert_eq!(
            ArpPacket::new_checked(&b[..]).unwrap_err(),
            WireError::Malformed
        );
    }
}
