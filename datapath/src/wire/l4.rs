//! TCP and UDP: just enough to complete and verify checksums and to segment TCP.
//!
//! Two ways a checksum gets fixed:
//! - `complete_partial`: virtio-net `NEEDS_CSUM` semantics. The field at
//!   `csum_start + csum_offset` already holds the folded pseudo-header sum; the checksum of
//!   everything from `csum_start` to the end of the frame is written over it.
//! - `fill`: compute the whole checksum (pseudo header included) from scratch, for a frame whose
//!   L3/L4 layout is known (after segmentation, or when no offload metadata came with it).

use super::ethernet::{EtherType, EthernetFrame, L2Info};
use super::ipv4::{self, proto, Ipv4Packet};
use super::ipv6::{self, Ipv6Packet};
use super::{be16, be32, checksum, put16, put32, Result, WireError};

/// Minimum TCP header length.
pub const TCP_MIN_HEADER_LEN: usize = 20;
/// UDP header length.
pub const UDP_HEADER_LEN: usize = 8;
/// Offset of the checksum field inside a TCP header.
pub const TCP_CSUM_OFFSET: usize = 16;
/// Offset of the checksum field inside a UDP header.
pub const UDP_CSUM_OFFSET: usize = 6;

/// TCP flag bits as they sit in byte 13.
pub mod tcp_flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
    pub const URG: u8 = 0x20;
}

/// A checked view of a TCP header.
#[derive(Debug, Clone, Copy)]
pub struct TcpHeader<T> {
    buf: T,
}

impl<T: AsRef<[u8]>> TcpHeader<T> {
    /// Requires a data offset ≥ 5 words and the whole header in the buffer.
    pub fn new_checked(buf: T) -> Result<Self> {
        let b = buf.as_ref();
        if b.len() < TCP_MIN_HEADER_LEN {
            return Err(WireError::Truncated);
        }
        let hl = usize::from(b[12] >> 4) * 4;
        if hl < TCP_MIN_HEADER_LEN {
            return Err(WireError::Malformed);
        }
        if b.len() < hl {
            return Err(WireError::Truncated);
        }
        Ok(TcpHeader { buf })
    }
    pub fn header_len(&self) -> usize {
        usize::from(self.buf.as_ref()[12] >> 4) * 4
    }
    pub fn seq(&self) -> u32 {
        be32(self.buf.as_ref(), 4)
    }
    pub fn flags(&self) -> u8 {
        self.buf.as_ref()[13]
    }
    pub fn checksum(&self) -> u16 {
        be16(self.buf.as_ref(), 16)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> TcpHeader<T> {
    pub fn set_seq(&mut self, v: u32) {
        put32(self.buf.as_mut(), 4, v);
    }
    pub fn set_flags(&mut self, v: u8) {
        self.buf.as_mut()[13] = v;
    }
}

/// Complete a partial checksum in place (virtio `NEEDS_CSUM`). Offsets count from the start
/// of `frame`. Fails when the offsets point outside the frame.
#[inline]
pub fn complete_partial(frame: &mut [u8], csum_start: usize, csum_offset: usize) -> Result<()> {
    let field = csum_start
        .checked_add(csum_offset)
        .ok_or(WireError::Malformed)?;
    if field.checked_add(2).is_none_or(|end| end > frame.len()) {
        return Err(WireError::Truncated);
    }
    let c = checksum::finish(checksum::sum(0, &frame[csum_start..]));
    put16(frame, field, c);
    Ok(())
}

/// Where the L4 header of an IP frame is and what protocol it carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct L4Location {
    /// Offset of the L3 header in the frame.
    pub l3_offset: usize,
    /// Offset of the L4 header in the frame.
    pub l4_offset: usize,
    /// IP protocol / next header.
    pub protocol: u8,
    /// True for IPv4, false for IPv6.
    pub is_ipv4: bool,
    /// Length of the L4 header plus payload (from the IP length field).
    pub l4_len: usize,
}

/// Locate the L4 header of an Ethernet frame (VLAN tags skipped). IPv4 fragments other than
/// the first carry no L4 header and give `Malformed`.
pub fn locate(frame: &[u8]) -> Result<L4Location> {
    let l2 = EthernetFrame::new_checked(frame)?.parse_l2()?;
    let l3 = &frame[l2.l3_offset..];
    match l2.ethertype {
        EtherType::IPV4 => {
            let ip = Ipv4Packet::new_checked(l3)?;
            if ip.frag_word() & 0x1fff != 0 {
                return Err(WireError::Malformed);
            }
            Ok(L4Location {
                l3_offset: l2.l3_offset,
                l4_offset: l2.l3_offset + ip.header_len(),
                protocol: ip.protocol(),
                is_ipv4: true,
                l4_len: usize::from(ip.total_len()) - ip.header_len(),
            })
        }
        EtherType::IPV6 => {
            let ip = Ipv6Packet::new_checked(l3)?;
            Ok(L4Location {
                l3_offset: l2.l3_offset,
                l4_offset: l2.l3_offset + ipv6::HEADER_LEN,
                protocol: ip.next_header(),
                is_ipv4: false,
                l4_len: usize::from(ip.payload_len()),
            })
        }
        _ => Err(WireError::Malformed),
    }
}

pub(crate) fn csum_field_offset(protocol: u8) -> Result<usize> {
    match protocol {
        proto::TCP => Ok(TCP_CSUM_OFFSET),
        proto::UDP => Ok(UDP_CSUM_OFFSET),
        _ => Err(WireError::Malformed),
    }
}

/// The pseudo-header sum for the L4 segment at `loc`.
pub(crate) fn pseudo_sum(frame: &[u8], loc: &L4Location) -> Result<u64> {
    let l3 = &frame[loc.l3_offset..];
    if loc.is_ipv4 {
        let ip = Ipv4Packet::new_checked(l3)?;
        Ok(ipv4::pseudo_header_sum(
            ip.src(),
            ip.dst(),
            loc.protocol,
            loc.l4_len,
        ))
    } else {
        let ip = Ipv6Packet::new_checked(l3)?;
        Ok(ipv6::pseudo_header_sum(
            ip.src(),
            ip.dst(),
            loc.protocol,
            loc.l4_len,
        ))
    }
}

/// The TCP flags of a frame whose L2 header was parsed, or 0 when it is not TCP (or is cut
/// short). Cheap enough for every packet: no checksum work, only bounds-checked reads.
#[inline]
pub fn tcp_flags_of(frame: &[u8], l2: &L2Info) -> u8 {
    let l3 = frame.get(l2.l3_offset..).unwrap_or(&[]);
    let (proto, l4) = match l2.ethertype {
        EtherType::IPV4 if l3.len() >= 20 && l3[0] >> 4 == 4 => {
            (l3[9], usize::from(l3[0] & 0x0f) * 4)
        }
        EtherType::IPV6 if l3.len() >= ipv6::HEADER_LEN => (l3[6], ipv6::HEADER_LEN),
        _ => return 0,
    };
    if proto != proto::TCP {
        return 0;
    }
    l3.get(l4 + 13).copied().unwrap_or(0)
}

/// Compute and store the full TCP/UDP checksum of an Ethernet frame.
pub fn fill(frame: &mut [u8]) -> Result<L4Location> {
    let loc = locate(frame)?;
    let field = loc.l4_offset + csum_field_offset(loc.protocol)?;
    let end = loc.l4_offset + loc.l4_len;
    if field + 2 > end || end > frame.len() {
        return Err(WireError::Truncated);
    }
    let ph = pseudo_sum(frame, &loc)?;
    put16(frame, field, 0);
    let mut c = checksum::finish(checksum::sum(ph, &frame[loc.l4_offset..end]));
    if c == 0 && loc.protocol == proto::UDP {
        c = 0xffff; // RFC 768: a computed zero is sent as all ones.
    }
    put16(frame, field, c);
    Ok(loc)
}

/// Verify the TCP/UDP checksum of an Ethernet frame. An IPv4 UDP checksum of zero ("none")
/// verifies.
pub fn verify(frame: &[u8]) -> Result<bool> {
    let loc = locate(frame)?;
    let field = loc.l4_offset + csum_field_offset(loc.protocol)?;
    let end = loc.l4_offset + loc.l4_len;
    if field + 2 > end || end > frame.len() {
        return Err(WireError::Truncated);
    }
    if loc.protocol == proto::UDP && loc.is_ipv4 && be16(frame, field) == 0 {
        return Ok(true);
    }
    let ph = pseudo_sum(frame, &loc)?;
    Ok(checksum::fold(checksum::sum(ph, &frame[loc.l4_offset..end])) == 0xffff)
}

/// The value a sender with checksum offload leaves in the L4 checksum field: the folded
/// pseudo-header sum, not inverted. Used by the AF_XDP rule (a field equal to this is
/// a partial checksum to complete).
pub fn partial_value(frame: &[u8]) -> Result<u16> {
    let loc = locate(frame)?;
    Ok(checksum::fold(pseudo_sum(frame, &loc)?))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::wire::ethernet::{self, MacAddr};
    use crate::wire::ipv4::{Ipv4Repr, FLAG_DF};
    use core::net::Ipv4Addr;

    /// An Ethernet/IPv4/TCP frame with `payload` bytes of data and a correct checksum.
    pub(crate) fn tcp_frame(payload: usize) -> Vec<u8> {
        let mut f = vec![0u8; 14 + 20 + 20 + payload];
        ethernet::emit(
            &mut f,
            MacAddr([2, 0, 0, 0, 0, 2]),
            MacAddr([2, 0, 0, 0, 0, 1]),
            EtherType::IPV4,
        );
        Ipv4Repr {
            src: Ipv4Addr::new(10, 1, 1, 1),
            dst: Ipv4Addr::new(10, 1, 1, 2),
            protocol: proto::TCP,
            tos: 0,
            ttl: 64,
            ident: 1,
            frag_word: FLAG_DF,
            payload_len: 20 + payload,
        }
        .emit(&mut f[14..]);
        let t = &mut f[34..];
        put16(t, 0, 40000);
        put16(t, 2, 80);
        put32(t, 4, 1000);
        t[12] = 5 << 4;
        t[13] = tcp_flags::ACK | tcp_flags::PSH;
        put16(t, 14, 65535);
        for (i, b) in f[54..].iter_mut().enumerate() {
            *b = (i * 7) as u8;
        }
        fill(&mut f).unwrap();
        f
    }

    #[test]
    fn fill_and_verify_match_etherparse() {
        let f = tcp_frame(101);
        assert!(verify(&f).unwrap());
        let p = etherparse::SlicedPacket::from_ethernet(&f).unwrap();
        let ip = match p.net.unwrap() {
            etherparse::NetSlice::Ipv4(ip) => ip.header().to_header(),
            _ => unreachable!(),
        };
        let tcp = match p.transport.unwrap() {
            etherparse::TransportSlice::Tcp(t) => t,
            _ => unreachable!(),
        };
        let want = tcp
            .to_header()
            .calc_checksum_ipv4(&ip, tcp.payload())
            .unwrap();
        assert_eq!(TcpHeader::new_checked(&f[34..]).unwrap().checksum(), want);
    }

    #[test]
    fn partial_checksum_completion() {
        let good = tcp_frame(333);
        let mut partial = good.clone();
        let pv = partial_value(&partial).unwrap();
        put16(&mut partial, 34 + 16, pv);
        assert!(!verify(&partial).unwrap());
        complete_partial(&mut partial, 34, 16).unwrap();
        assert_eq!(partial, good);
        assert_eq!(
            complete_partial(&mut partial, 34, 400).unwrap_err(),
            WireError::Truncated
        );
        assert_eq!(
            complete_partial(&mut partial, usize::MAX, 16).unwrap_err(),
            WireError::Malformed
        );
    }

    #[test]
    fn udp_zero_becomes_ffff_and_none_verifies() {
        let mut f = tcp_frame(0);
        f[23] = proto::UDP;
        let mut ip = Ipv4Packet::new_checked(&mut f[14..]).unwrap();
        ip.fill_checksum();
        put16(&mut f, 34 + 4, 20); // UDP length
        put16(&mut f, 34 + 6, 0);
        assert!(verify(&f).unwrap());
        fill(&mut f).unwrap();
        assert!(verify(&f).unwrap());
        assert_ne!(be16(&f, 40), 0);
    }
}
