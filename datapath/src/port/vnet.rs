//! The 10-byte virtio-net header (`struct virtio_net_hdr`) that AF_PACKET (`PACKET_VNET_HDR`)
//! and TAP (`IFF_VNET_HDR`) put in front of every frame, and its mapping to
//! [`packet::Offload`](crate::packet::Offload).
//!
//! Layout (little-endian, as the kernel uses on every architecture rvs runs on):
//! `flags: u8, gso_type: u8, hdr_len: u16, gso_size: u16, csum_start: u16, csum_offset: u16`.
//! `csum_start` counts from the first byte of the Ethernet header.
//!
//! Invariants: `parse` and `emit` are total (no input makes them panic) and exact inverses for
//! every header whose flags use only the two defined bits. Unknown `gso_type` values are carried
//! unchanged; it is the consumer's job (`offload::prepare_tx`, the kernel) to reject them.
//! Note that on receive the kernel fills `hdr_len` with a hint (the linear length of the skb),
//! not necessarily the exact header length: never trust it for segmentation.

use crate::packet::{Offload, GSO_ECN};

/// Length of the header.
pub const VNET_HDR_LEN: usize = 10;
/// `VIRTIO_NET_HDR_F_NEEDS_CSUM`: the L4 checksum is partial.
pub const F_NEEDS_CSUM: u8 = 1;
/// `VIRTIO_NET_HDR_F_DATA_VALID`: the checksum has been verified.
pub const F_DATA_VALID: u8 = 2;

/// Decode a header.
#[inline]
pub fn parse(h: &[u8; VNET_HDR_LEN]) -> Offload {
    let le = |o: usize| u16::from_le_bytes([h[o], h[o + 1]]);
    Offload {
        needs_csum: h[0] & F_NEEDS_CSUM != 0,
        data_valid: h[0] & F_DATA_VALID != 0,
        gso_type: h[1],
        hdr_len: le(2),
        gso_size: le(4),
        csum_start: le(6),
        csum_offset: le(8),
    }
}

/// Encode `o` into a header.
#[inline]
pub fn emit(o: &Offload, h: &mut [u8; VNET_HDR_LEN]) {
    h[0] = (u8::from(o.needs_csum) * F_NEEDS_CSUM) | (u8::from(o.data_valid) * F_DATA_VALID);
    h[1] = o.gso_type;
    h[2..4].copy_from_slice(&o.hdr_len.to_le_bytes());
    h[4..6].copy_from_slice(&o.gso_size.to_le_bytes());
    h[6..8].copy_from_slice(&o.csum_start.to_le_bytes());
    h[8..10].copy_from_slice(&o.csum_offset.to_le_bytes());
}

/// The GSO type without the ECN bit.
#[inline]
pub fn gso_kind(o: &Offload) -> u8 {
    o.gso_type & !GSO_ECN
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::{GSO_NONE, GSO_TCPV4, GSO_TCPV6};

    #[test]
    fn parses_the_measured_header() {
        // flags=NEEDS_CSUM gso_type=TCPV4 hdr_len=66 gso_size=1448 csum_start=34 csum_offset=16
        let h = [1, 1, 66, 0, 0xa8, 0x05, 34, 0, 16, 0];
        let o = parse(&h);
        assert_eq!(
            o,
            Offload {
                needs_csum: true,
                data_valid: false,
                gso_type: GSO_TCPV4,
                hdr_len: 66,
                gso_size: 1448,
                csum_start: 34,
                csum_offset: 16,
            }
        );
        let mut back = [0u8; VNET_HDR_LEN];
        emit(&o, &mut back);
        assert_eq!(back, h);
    }

    #[test]
    fn ecn_bit_and_flags_roundtrip() {
        let o = Offload {
            needs_csum: false,
            data_valid: true,
            gso_type: GSO_TCPV6 | GSO_ECN,
            hdr_len: 0x1234,
            gso_size: 0xfedc,
            csum_start: 0xffff,
            csum_offset: 0x0102,
        };
        let mut h = [0u8; VNET_HDR_LEN];
        emit(&o, &mut h);
        assert_eq!(h, [2, 0x84, 0x34, 0x12, 0xdc, 0xfe, 0xff, 0xff, 0x02, 0x01]);
        assert_eq!(parse(&h), o);
        assert_eq!(gso_kind(&o), GSO_TCPV6);
    }

    #[test]
    fn default_is_all_zero_and_unknown_bits_are_ignored() {
        let mut h = [0xaau8; VNET_HDR_LEN];
        emit(&Offload::default(), &mut h);
        assert_eq!(h, [0u8; VNET_HDR_LEN]);
        let mut h = [0u8; VNET_HDR_LEN];
        h[0] = 0xfc; // undefined flag bits
        let o = parse(&h);
        assert!(!o.needs_csum && !o.data_valid && o.gso_type == GSO_NONE);
    }
}
