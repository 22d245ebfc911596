//! Ethernet II frames and 802.1Q / 802.1ad VLAN tags.
//!
//! `EthernetFrame` is a view of the 14-byte header. `VlanTag` views one 4-byte tag (TPID
//! 0x8100 or 0x88a8 at offset 12 of the frame, or after an outer tag). `EthernetFrame::parse_l2`
//! walks up to two tags and returns where the payload starts and which EtherType it carries.

use super::{be16, put16, Result, WireError};
use core::fmt;

/// Length of an Ethernet II header.
pub const HEADER_LEN: usize = 14;
/// Length of one VLAN tag.
pub const VLAN_TAG_LEN: usize = 4;

/// Well-known EtherTypes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EtherType;

impl EtherType {
    pub const IPV4: u16 = 0x0800;
    pub const ARP: u16 = 0x0806;
    pub const VLAN: u16 = 0x8100;
    pub const QINQ: u16 = 0x88a8;
    pub const IPV6: u16 = 0x86dd;
    /// Transparent Ethernet bridging: the GRE protocol type for Ethernet over GRE.
    pub const TEB: u16 = 0x6558;
}

/// A 48-bit MAC address.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    pub const BROADCAST: MacAddr = MacAddr([0xff; 6]);
    pub const ZERO: MacAddr = MacAddr([0; 6]);

    /// Group bit set (multicast or broadcast).
    #[inline]
    pub fn is_multicast(&self) -> bool {
        self.0[0] & 1 != 0
    }
    #[inline]
    pub fn is_broadcast(&self) -> bool {
        self.0 == [0xff; 6]
    }
    #[inline]
    pub fn is_zero(&self) -> bool {
        self.0 == [0; 6]
    }
    /// The address as the low 48 bits of a u64.
    #[inline]
    pub fn to_u64(self) -> u64 {
        let b = self.0;
        u64::from_be_bytes([0, 0, b[0], b[1], b[2], b[3], b[4], b[5]])
    }
    /// Inverse of `to_u64` (bits above 48 are ignored).
    #[inline]
    pub fn from_u64(v: u64) -> MacAddr {
        let b = v.to_be_bytes();
        MacAddr([b[2], b[3], b[4], b[5], b[6], b[7]])
    }
    /// Read a MAC from 6 bytes.
    #[inline]
    pub fn from_slice(b: &[u8]) -> MacAddr {
        MacAddr([b[0], b[1], b[2], b[3], b[4], b[5]])
    }
    /// A random locally administered unicast address (for internal ports).
    pub fn random_local(seed: u64) -> MacAddr {
        let mut b = MacAddr::from_u64(seed).0;
        b[0] = (b[0] & 0xfc) | 0x02;
        MacAddr(b)
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

impl fmt::Debug for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl core::str::FromStr for MacAddr {
    type Err = WireError;
    fn from_str(s: &str) -> Result<MacAddr> {
        let mut out = [0u8; 6];
        let mut n = 0;
        for part in s.split(':') {
            if n == 6 || part.is_empty() || part.len() > 2 {
                return Err(WireError::Malformed);
            }
            out[n] = u8::from_str_radix(part, 16).map_err(|_| WireError::Malformed)?;
            n += 1;
        }
        if n != 6 {
            return Err(WireError::Malformed);
        }
        Ok(MacAddr(out))
    }
}

/// A view of an Ethernet II header at the start of a buffer.
#[derive(Debug, Clone, Copy)]
pub struct EthernetFrame<T> {
    buf: T,
}

/// What `parse_l2` found: VLAN IDs (outer first), the inner EtherType, and the L3 offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct L2Info {
    /// TCI of the outer tag, if any.
    pub outer_tci: Option<u16>,
    /// TCI of the inner tag of a double-tagged frame.
    pub inner_tci: Option<u16>,
    /// The EtherType after all tags.
    pub ethertype: u16,
    /// Offset of the L3 header from the start of the frame.
    pub l3_offset: usize,
}

impl<T: AsRef<[u8]>> EthernetFrame<T> {
    /// Wrap `buf`, checking it holds a whole Ethernet header.
    #[inline]
    pub fn new_checked(buf: T) -> Result<Self> {
        if buf.as_ref().len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        Ok(EthernetFrame { buf })
    }
    #[inline]
    pub fn dst(&self) -> MacAddr {
        MacAddr::from_slice(&self.buf.as_ref()[0..6])
    }
    #[inline]
    pub fn src(&self) -> MacAddr {
        MacAddr::from_slice(&self.buf.as_ref()[6..12])
    }
    /// The EtherType (or TPID) at offset 12.
    #[inline]
    pub fn ethertype(&self) -> u16 {
        be16(self.buf.as_ref(), 12)
    }
    /// The whole frame, header included.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.as_ref()
    }
    /// Everything after the 14-byte header.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buf.as_ref()[HEADER_LEN..]
    }
    /// Walk up to two VLAN tags. Fails with `Truncated` when a tag is cut short.
    #[inline]
    pub fn parse_l2(&self) -> Result<L2Info> {
        let b = self.buf.as_ref();
        let mut info = L2Info {
            ethertype: be16(b, 12),
            l3_offset: HEADER_LEN,
            ..L2Info::default()
        };
        for depth in 0..2 {
            if !is_vlan_tpid(info.ethertype) {
                break;
            }
            let tag = VlanTag::new_checked(&b[info.l3_offset..])?;
            if depth == 0 {
                info.outer_tci = Some(tag.tci());
            } else {
                info.inner_tci = Some(tag.tci());
            }
            info.ethertype = tag.inner_ethertype();
            info.l3_offset += VLAN_TAG_LEN;
        }
        Ok(info)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> EthernetFrame<T> {
    #[inline]
    pub fn set_dst(&mut self, m: MacAddr) {
        self.buf.as_mut()[0..6].copy_from_slice(&m.0);
    }
    #[inline]
    pub fn set_src(&mut self, m: MacAddr) {
        self.buf.as_mut()[6..12].copy_from_slice(&m.0);
    }
    #[inline]
    pub fn set_ethertype(&mut self, t: u16) {
        put16(self.buf.as_mut(), 12, t);
    }
}

/// Write an Ethernet header into the first 14 bytes of `out`.
#[inline]
pub fn emit(out: &mut [u8], dst: MacAddr, src: MacAddr, ethertype: u16) {
    out[0..6].copy_from_slice(&dst.0);
    out[6..12].copy_from_slice(&src.0);
    put16(out, 12, ethertype);
}

/// True for the 802.1Q and 802.1ad TPIDs.
#[inline]
pub fn is_vlan_tpid(t: u16) -> bool {
    t == EtherType::VLAN || t == EtherType::QINQ
}

/// A view of one VLAN tag's last 4 bytes as they follow a TPID: TCI then inner EtherType.
///
/// The buffer starts at the TCI (i.e. at offset 14 of a single-tagged frame).
#[derive(Debug, Clone, Copy)]
pub struct VlanTag<T> {
    buf: T,
}

impl<T: AsRef<[u8]>> VlanTag<T> {
    #[inline]
    pub fn new_checked(buf: T) -> Result<Self> {
        if buf.as_ref().len() < VLAN_TAG_LEN {
            return Err(WireError::Truncated);
        }
        Ok(VlanTag { buf })
    }
    /// Tag control information: PCP (3 bits), DEI (1), VID (12).
    #[inline]
    pub fn tci(&self) -> u16 {
        be16(self.buf.as_ref(), 0)
    }
    #[inline]
    pub fn vid(&self) -> u16 {
        self.tci() & 0x0fff
    }
    #[inline]
    pub fn pcp(&self) -> u8 {
        (self.tci() >> 13) as u8
    }
    #[inline]
    pub fn inner_ethertype(&self) -> u16 {
        be16(self.buf.as_ref(), 2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(tags: &[(u16, u16)], ethertype: u16) -> Vec<u8> {
        let mut f = vec![0u8; 14];
        emit(
            &mut f,
            MacAddr([2, 0, 0, 0, 0, 2]),
            MacAddr([2, 0, 0, 0, 0, 1]),
            0,
        );
        let mut types: Vec<u16> = tags.iter().map(|t| t.0).collect();
        types.push(ethertype);
        put16(&mut f, 12, types[0]);
        for (i, (_, tci)) in tags.iter().enumerate() {
            f.extend_from_slice(&tci.to_be_bytes());
            f.extend_from_slice(&types[i + 1].to_be_bytes());
        }
        f.extend_from_slice(&[0u8; 20]);
        f
    }

    #[test]
    fn untagged() {
        let f = frame(&[], EtherType::IPV4);
        let e = EthernetFrame::new_checked(&f[..]).unwrap();
        assert_eq!(e.src(), MacAddr([2, 0, 0, 0, 0, 1]));
        assert_eq!(e.dst(), MacAddr([2, 0, 0, 0, 0, 2]));
        let l2 = e.parse_l2().unwrap();
        assert_eq!(
            l2,
            L2Info {
                ethertype: 0x0800,
                l3_offset: 14,
                ..Default::default()
            }
        );
    }

    #[test]
    fn single_and_double_tags() {
        let f = frame(&[(EtherType::VLAN, 0x2064)], EtherType::ARP);
        let l2 = EthernetFrame::new_checked(&f[..])
            .unwrap()
            .parse_l2()
            .unwrap();
        assert_eq!(
            (l2.outer_tci, l2.inner_tci, l2.ethertype, l2.l3_offset),
            (Some(0x2064), None, 0x0806, 18)
        );
        let tag = VlanTag::new_checked(&f[14..]).unwrap();
        assert_eq!((tag.vid(), tag.pcp()), (100, 1));

        let f = frame(
            &[(EtherType::QINQ, 10), (EtherType::VLAN, 20)],
            EtherType::IPV6,
        );
        let l2 = EthernetFrame::new_checked(&f[..])
            .unwrap()
            .parse_l2()
            .unwrap();
        assert_eq!(
            (l2.outer_tci, l2.inner_tci, l2.ethertype, l2.l3_offset),
            (Some(10), Some(20), 0x86dd, 22)
        );
    }

    #[test]
    fn truncated() {
        assert_eq!(
            EthernetFrame::new_checked(&[0u8; 13][..]).unwrap_err(),
            WireError::Truncated
        );
        let f = frame(&[(EtherType::VLAN, 5)], EtherType::IPV4);
        let e = EthernetFrame::new_checked(&f[..16]).unwrap();
        assert_eq!(e.parse_l2().unwrap_err(), WireError::Truncated);
    }

    #[test]
    fn mac_parse_format() {
        let m: MacAddr = "4a:9b:5a:05:53:42".parse().unwrap();
        assert_eq!(m.to_string(), "4a:9b:5a:05:53:42");
        assert_eq!(MacAddr::from_u64(m.to_u64()), m);
        assert!("4a:9b:5a:05:53".parse::<MacAddr>().is_err());
        assert!("4a:9b:5a:05:53:42:1".parse::<MacAddr>().is_err());
        assert!(MacAddr::BROADCAST.is_multicast() && MacAddr::BROADCAST.is_broadcast());
        let r = MacAddr::random_local(0xdead_beef_1234);
        assert!(!r.is_multicast() && r.0[0] & 2 == 2);
    }

    #[test]
    fn agrees_with_etherparse() {
        let f = frame(&[(EtherType::VLAN, 0x0123)], EtherType::IPV4);
        let e = etherparse::Ethernet2HeaderSlice::from_slice(&f).unwrap();
        let v = EthernetFrame::new_checked(&f[..]).unwrap();
        assert_eq!(e.source(), v.src().0);
        assert_eq!(e.destination(), v.dst().0);
        let t = etherparse::SingleVlanHeaderSlice::from_slice(&f[14..]).unwrap();
        assert_eq!(
            u16::from(t.vlan_identifier()),
            VlanTag::new_checked(&f[14..]).unwrap().vid()
        );
    }
}
