//! Ethernet frames for tests, as plain bytes: MACs, frames padded to the 60-byte minimum,
//! 802.1Q tags, ARP requests, and a parser for the ARP requests in a capture. Send them from a
//! namespace with [`crate::Netns::send_frames`]; read them back with [`crate::Capture`].
//!
//! ```
//! use rvs_testkit::frames::{arp_request, arp_requests, mac, tag};
//!
//! let f = tag(&arp_request(mac(7), [10, 0, 0, 7], [10, 0, 0, 1]), 10);
//! assert_eq!(f.len(), 64);
//! assert_eq!(arp_requests(&[f]), [(Some(10), [10, 0, 0, 1])]);
//! ```

/// The broadcast address.
pub const BROADCAST: [u8; 6] = [0xff; 6];
/// EtherType of ARP.
pub const ETH_P_ARP: u16 = 0x0806;
/// EtherType (TPID) of an 802.1Q tag.
pub const ETH_P_8021Q: u16 = 0x8100;
/// IEEE local experimental EtherType: a payload no stack parses, for marker frames.
pub const ETH_P_EXPERIMENTAL: u16 = 0x88b5;
/// Shortest Ethernet frame without FCS.
pub const MIN_FRAME: usize = 60;

/// A locally administered unicast MAC made from `n`: `02:00:` + `n` big-endian.
pub fn mac(n: u32) -> [u8; 6] {
    let b = n.to_be_bytes();
    [0x02, 0, b[0], b[1], b[2], b[3]]
}

/// `aa:bb:cc:dd:ee:ff` as bytes.
pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let v: Vec<u8> = s
        .split(':')
        .map(|b| u8::from_str_radix(b, 16).ok())
        .collect::<Option<_>>()?;
    v.try_into().ok()
}

/// Ethernet header + `payload`, zero-padded to [`MIN_FRAME`] bytes.
pub fn ethernet(dst: [u8; 6], src: [u8; 6], ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(14 + payload.len().max(MIN_FRAME - 14));
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f.resize(f.len().max(MIN_FRAME), 0);
    f
}

/// `frame` with an 802.1Q tag (VLAN `vid`, priority 0) inserted after the MACs.
pub fn tag(frame: &[u8], vid: u16) -> Vec<u8> {
    let mut f = frame[..12].to_vec();
    f.extend_from_slice(&ETH_P_8021Q.to_be_bytes());
    f.extend_from_slice(&(vid & 0x0fff).to_be_bytes());
    f.extend_from_slice(&frame[12..]);
    f
}

/// A broadcast ARP request from `src` (`src_ip`) for `target_ip`.
pub fn arp_request(src: [u8; 6], src_ip: [u8; 4], target_ip: [u8; 4]) -> Vec<u8> {
    let mut arp = vec![0, 1, 0x08, 0x00, 6, 4, 0, 1];
    arp.extend_from_slice(&src);
    arp.extend_from_slice(&src_ip);
    arp.extend_from_slice(&[0; 6]);
    arp.extend_from_slice(&target_ip);
    ethernet(BROADCAST, src, ETH_P_ARP, &arp)
}

/// The broadcast ARP requests among `frames`: (802.1Q VLAN id if tagged, target IPv4).
pub fn arp_requests(frames: &[Vec<u8>]) -> Vec<(Option<u16>, [u8; 4])> {
    frames
        .iter()
        .filter_map(|f| {
            if f.len() < 14 || f[0..6] != BROADCAST {
                return None;
            }
            let (vid, l3) = match u16::from_be_bytes([f[12], f[13]]) {
                ETH_P_8021Q if f.len() >= 18 => {
                    (Some(u16::from_be_bytes([f[14], f[15]]) & 0x0fff), 18)
                }
                _ => (None, 14),
            };
            let ethertype = u16::from_be_bytes([*f.get(l3 - 2)?, *f.get(l3 - 1)?]);
            let arp = f.get(l3..l3 + 28)?;
            (ethertype == ETH_P_ARP && arp[6..8] == [0, 1])
                .then(|| (vid, [arp[24], arp[25], arp[26], arp[27]]))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builders_and_parser() {
        assert_eq!(mac(0x0102_0304), [2, 0, 1, 2, 3, 4]);
        assert_eq!(
            parse_mac("02:aa:bb:cc:dd:20"),
            Some([2, 0xaa, 0xbb, 0xcc, 0xdd, 0x20])
        );
        assert_eq!(parse_mac("02:aa"), None);
        let e = ethernet(BROADCAST, mac(1), ETH_P_EXPERIMENTAL, b"hi");
        assert_eq!((e.len(), &e[12..16]), (60, &[0x88, 0xb5, b'h', b'i'][..]));
        let a = arp_request(mac(2), [10, 0, 0, 2], [10, 0, 0, 9]);
        assert_eq!(a.len(), 60);
        assert_eq!(arp_requests(&[a.clone(), e]), [(None, [10, 0, 0, 9])]);
        let t = tag(&a, 4095 + 21);
        assert_eq!(&t[12..16], &[0x81, 0x00, 0x00, 20]);
        assert_eq!(arp_requests(&[t]), [(Some(20), [10, 0, 0, 9])]);
    }
}
