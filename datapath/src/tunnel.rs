//! Tunnels (GRE, VXLAN, Geneve), I/O-free: one configuration (`options:` of a `type=gre`,
//! `vxlan` or `geneve` interface, with OVS's defaults, parsed by [`TunnelConfig::from_options`],
//! the single parser the control plane's validation and listings call too), encapsulation in
//! place, decapsulation with per-reason drops ([`TunnelDrop`], counted per tunnel type), the
//! underlay MTU decision, and the ICMP "fragmentation needed" / ICMPv6 "packet too big"
//! messages sent back to an inner sender whose packet does not fit the tunnel. The socket
//! side lives in `port::gre` (raw IPv4, protocol 47) and `port::udptun` (UDP sockets with
//! segmentation offload).
//!
//! UDP tunnels: VXLAN (RFC 7348, default port 4789) and Geneve (RFC 8926, default 6081, no
//! options sent; received options are skipped unless critical, which drops the packet). The
//! key option is the 24-bit VNI. The kernel's UDP socket writes the outer IPv4 and UDP
//! headers, so [`udp_encap`] prepends only the 8-byte tunnel header, and [`udp_decap`] reads
//! a datagram's payload with the addresses the socket reported.
//!
//! Wire format (what real OVS 3.1 puts on the wire, proven byte for byte against its captures
//! in `tests/tunnel.rs`): outer IPv4 without options, id 0 when DF is set, DF per
//! `df_default` (default on), TTL 64 (or `ttl=`), TOS from `tos=` with the ECN bits always
//! inherited from an inner IP packet (CE becomes ECT(0)), protocol 47; then GRE version 0,
//! protocol 0x6558 (transparent Ethernet bridging), C when `csum=true`, K when an output key
//! is configured, never S. The outer Ethernet header is the kernel's business.
//!
//! Keys, as in OVS: `key=` sets both `in_key` and `out_key`. On receive "no key" and "key 0"
//! are the same thing. `in_key=flow` accepts any key; `out_key=flow` sends no key (rvs has no
//! flow table that could set a per-packet key), so `key=flow` means "accept any, send none".
//!
//! Invariants: nothing here panics on any input (decap is fuzzed) and nothing allocates per
//! packet. A frame that cannot be received is reported as exactly one [`TunnelDrop`], a frame
//! that cannot be sent as exactly one [`TxDecision`] other than `Send`.

use crate::packet::{Packet, TunnelMeta};
use crate::wire::ethernet::{EtherType, EthernetFrame};
use crate::wire::gre::{self, GreHeader, GreRepr};
use crate::wire::ipv4::{self, proto, Ipv4Packet, Ipv4Repr, FLAG_DF};
use crate::wire::ipv6::{self, Ipv6Packet};
use crate::wire::{be16, checksum, put16, put32};
use core::net::Ipv4Addr;
use core::ops::Range;
use std::collections::BTreeMap;
use std::io;

/// OVS's default outer TTL.
pub const DEFAULT_TTL: u8 = 64;
/// Outer IPv4 header length (rvs never emits options).
pub const OUTER_IP_LEN: usize = ipv4::MIN_HEADER_LEN;
/// Largest ICMP error frame [`build_icmp_too_big`] writes: L2 with two VLAN tags, IPv6,
/// ICMPv6 and the 1232 quoted bytes that keep it within the IPv6 minimum MTU.
pub const ICMP_FRAME_MAX: usize = 22 + 1280;
/// Linux sends no "fragmentation needed" advertising less than this (RFC 791 minimum
/// datagram every host must accept).
const MIN_ICMP_MTU_V4: usize = 576;
/// IPv6 minimum link MTU: no "packet too big" below it.
const MIN_MTU_V6: usize = 1280;

/// A key option: absent, a number, or `flow`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyOpt {
    /// Not configured: send no key; accept no key or key 0.
    None,
    /// A fixed 32-bit key.
    Fixed(u32),
    /// `flow`: accept any key; send none.
    Flow,
}

/// `ttl=` / `tos=`: a fixed value or `inherit` (copy from the inner IP packet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inherit {
    Fixed(u8),
    Inherit,
}

/// The tunnel types rvs carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TunnelKind {
    Gre,
    Vxlan,
    Geneve,
}

impl TunnelKind {
    /// Every kind, in counter order.
    pub const ALL: [TunnelKind; 3] = [TunnelKind::Gre, TunnelKind::Vxlan, TunnelKind::Geneve];

    /// The kind of an interface `type`, if it is a tunnel rvs carries.
    pub fn from_type(t: &str) -> Option<TunnelKind> {
        match t {
            "gre" => Some(TunnelKind::Gre),
            "vxlan" => Some(TunnelKind::Vxlan),
            "geneve" => Some(TunnelKind::Geneve),
            _ => None,
        }
    }

    /// The interface type (and counter prefix).
    pub const fn name(self) -> &'static str {
        match self {
            TunnelKind::Gre => "gre",
            TunnelKind::Vxlan => "vxlan",
            TunnelKind::Geneve => "geneve",
        }
    }

    /// The option keys this kind knows ([`TunnelConfig::from_options`] reads them).
    pub const fn options(self) -> &'static [&'static str] {
        match self {
            TunnelKind::Gre => &[
                "remote_ip",
                "local_ip",
                "key",
                "in_key",
                "out_key",
                "csum",
                "ttl",
                "tos",
                "df_default",
            ],
            TunnelKind::Vxlan | TunnelKind::Geneve => &[
                "remote_ip",
                "local_ip",
                "key",
                "in_key",
                "out_key",
                "dst_port",
                "csum",
                "ttl",
                "tos",
                "df_default",
            ],
        }
    }

    /// The default UDP destination port (0 for GRE, which has none).
    pub const fn default_dst_port(self) -> u16 {
        match self {
            TunnelKind::Gre => 0,
            TunnelKind::Vxlan => crate::wire::vxlan::PORT,
            TunnelKind::Geneve => crate::wire::geneve::PORT,
        }
    }

    /// True for the UDP-based kinds.
    pub const fn is_udp(self) -> bool {
        !matches!(self, TunnelKind::Gre)
    }
}

/// UDP header length.
pub const UDP_LEN: usize = 8;
/// The VXLAN/Geneve header rvs sends (Geneve without options).
pub const UDP_TUNNEL_HDR_LEN: usize = 8;

/// The tunnel settings of one tunnel port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TunnelConfig {
    pub kind: TunnelKind,
    /// UDP destination port (`dst_port`; VXLAN/Geneve only).
    pub dst_port: u16,
    pub remote_ip: Ipv4Addr,
    /// Outer source address; also the only outer destination accepted when set.
    pub local_ip: Option<Ipv4Addr>,
    pub in_key: KeyOpt,
    pub out_key: KeyOpt,
    /// Emit GRE checksums (received checksums are verified whenever present).
    pub csum: bool,
    /// Outer TTL; `Inherit` copies an inner IP TTL / hop limit (64 for non-IP).
    pub ttl: Inherit,
    /// Outer DSCP; `Inherit` copies the inner DSCP (0 for non-IP). ECN is always inherited.
    pub tos: Inherit,
    /// Set DF on the outer header (`df_default`, default true).
    pub df_default: bool,
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

/// Parse a number the way OVS's `strtoull(s, NULL, 0)` reads it: decimal, `0x` hex or
/// leading-zero octal.
fn parse_num(s: &str) -> Option<u64> {
    let s = s.trim();
    if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u64::from_str_radix(h, 16).ok()
    } else if s.len() > 1 && s.starts_with('0') {
        u64::from_str_radix(&s[1..], 8).ok()
    } else {
        s.parse().ok()
    }
}

fn parse_key(opts: &BTreeMap<String, String>, name: &str, kind: TunnelKind) -> io::Result<KeyOpt> {
    let (opt, v) = match opts.get(name) {
        Some(v) => (name, v),
        None => match opts.get("key") {
            Some(v) => ("key", v),
            None => return Ok(KeyOpt::None),
        },
    };
    if v == "flow" {
        return Ok(KeyOpt::Flow);
    }
    match (kind, parse_num(v).map(u32::try_from)) {
        (TunnelKind::Gre, Some(Ok(k))) => Ok(KeyOpt::Fixed(k)),
        (_, Some(Ok(k))) if k <= 0x00ff_ffff => Ok(KeyOpt::Fixed(k)),
        (TunnelKind::Gre, _) => Err(invalid(format!(
            "options:{opt}={v:?}: expected a 32-bit GRE key (decimal or 0x hex) or \"flow\""
        ))),
        (_, _) => Err(invalid(format!(
            "options:{opt}={v:?}: expected a 24-bit VNI (0..16777215, decimal or 0x hex) or \"flow\""
        ))),
    }
}

fn parse_bool(opts: &BTreeMap<String, String>, name: &str, default: bool) -> io::Result<bool> {
    match opts.get(name).map(String::as_str) {
        None => Ok(default),
        Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(v) => Err(invalid(format!(
            "options:{name}={v:?}: expected \"true\" or \"false\""
        ))),
    }
}

fn parse_ipv4(opt: &str, v: &str) -> io::Result<Ipv4Addr> {
    v.parse().map_err(|_| {
        invalid(format!(
            "options:{opt}={v:?}: expected an IPv4 address (IPv6 and \"flow\" are not supported)"
        ))
    })
}

impl TunnelConfig {
    /// Read a tunnel interface's `options`. `remote_ip` is required; everything else has
    /// OVS's default (VXLAN and Geneve send no UDP checksum unless `csum=true`, as OVS).
    /// Options the kind does not know are ignored here (the control plane refuses them,
    /// [`TunnelKind::options`]). Errors are `InvalidInput` naming the option.
    pub fn from_options(
        kind: TunnelKind,
        opts: &BTreeMap<String, String>,
    ) -> io::Result<TunnelConfig> {
        let remote_ip = match opts.get("remote_ip") {
            Some(v) => parse_ipv4("remote_ip", v)?,
            None => {
                return Err(invalid(format!(
                    "options:remote_ip is required for a {} tunnel",
                    kind.name().to_uppercase()
                )))
            }
        };
        let dst_port = match (kind.is_udp(), opts.get("dst_port")) {
            (true, Some(v)) => match parse_num(v).map(u16::try_from) {
                Some(Ok(p)) if p != 0 => p,
                _ => {
                    return Err(invalid(format!(
                        "options:dst_port={v:?}: expected a UDP port 1..65535"
                    )))
                }
            },
            _ => kind.default_dst_port(),
        };
        if remote_ip.is_unspecified() || remote_ip.is_multicast() || remote_ip.is_broadcast() {
            return Err(invalid(format!(
                "options:remote_ip={remote_ip}: expected a unicast IPv4 address"
            )));
        }
        let local_ip = opts
            .get("local_ip")
            .map(|v| parse_ipv4("local_ip", v))
            .transpose()?;
        let ttl = match opts.get("ttl").map(String::as_str) {
            None => Inherit::Fixed(DEFAULT_TTL),
            Some("inherit") => Inherit::Inherit,
            Some(v) => match parse_num(v) {
                Some(t @ 1..=255) => Inherit::Fixed(t as u8),
                _ => {
                    return Err(invalid(format!(
                        "options:ttl={v:?}: expected 1..255 or \"inherit\""
                    )))
                }
            },
        };
        let tos = match opts.get("tos").map(String::as_str) {
            None => Inherit::Fixed(0),
            Some("inherit") => Inherit::Inherit,
            Some(v) => match parse_num(v) {
                // Like OVS: only DSCP bits; ECN is always inherited.
                Some(t) if t <= 0xff && t & 0x03 == 0 => Inherit::Fixed(t as u8),
                _ => {
                    return Err(invalid(format!(
                        "options:tos={v:?}: expected a DSCP value 0..255 with the two ECN bits \
                         clear, or \"inherit\""
                    )))
                }
            },
        };
        Ok(TunnelConfig {
            kind,
            dst_port,
            remote_ip,
            local_ip,
            in_key: parse_key(opts, "in_key", kind)?,
            out_key: parse_key(opts, "out_key", kind)?,
            csum: parse_bool(opts, "csum", false)?,
            ttl,
            tos,
            df_default: parse_bool(opts, "df_default", true)?,
        })
    }

    /// The GRE header this tunnel emits.
    #[inline]
    pub fn gre_repr(&self) -> GreRepr {
        GreRepr {
            csum: self.csum,
            key: match self.out_key {
                KeyOpt::Fixed(k) => Some(k),
                KeyOpt::None | KeyOpt::Flow => None,
            },
            seq: None,
            protocol: EtherType::TEB,
        }
    }

    /// Outer header length: IPv4 + GRE, or IPv4 + UDP + VXLAN/Geneve.
    #[inline]
    pub fn header_len(&self) -> usize {
        match self.kind {
            TunnelKind::Gre => OUTER_IP_LEN + self.gre_repr().header_len(),
            TunnelKind::Vxlan | TunnelKind::Geneve => OUTER_IP_LEN + UDP_LEN + UDP_TUNNEL_HDR_LEN,
        }
    }

    /// The key (GRE key, VXLAN/Geneve VNI) this tunnel sends, if any.
    #[inline]
    pub fn out_key(&self) -> Option<u32> {
        match self.out_key {
            KeyOpt::Fixed(k) => Some(k),
            KeyOpt::None | KeyOpt::Flow => None,
        }
    }

    /// Whether a packet from `src` to `dst` carrying `key` belongs to this tunnel.
    #[inline]
    pub fn accepts(&self, src: Ipv4Addr, dst: Ipv4Addr, key: Option<u32>) -> bool {
        src == self.remote_ip
            && self.local_ip.is_none_or(|l| l == dst)
            && self.key_check(key).is_ok()
    }

    fn key_check(&self, key: Option<u32>) -> Result<(), TunnelDrop> {
        match (self.in_key, key) {
            (KeyOpt::Flow, _) => Ok(()),
            (KeyOpt::None, None | Some(0)) => Ok(()),
            (KeyOpt::None, Some(_)) => Err(TunnelDrop::UnexpectedKey),
            (KeyOpt::Fixed(k), got) if got.unwrap_or(0) == k => Ok(()),
            (KeyOpt::Fixed(_), None) => Err(TunnelDrop::MissingKey),
            (KeyOpt::Fixed(_), Some(_)) => Err(TunnelDrop::BadKey),
        }
    }
}

/// Why a received tunnel packet was not delivered. Each has its own counter per tunnel kind
/// (`name()`), e.g. `gre_drop_bad_key`, `vxlan_drop_bad_key`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum TunnelDrop {
    /// Outer IPv4, GRE or VXLAN/Geneve header cut short, or an inner frame shorter than
    /// Ethernet.
    Truncated,
    /// Outer IPv4 that is not a whole GRE datagram (not protocol 47, a fragment), or Geneve
    /// options whose lengths do not add up.
    Malformed,
    /// Not from `remote_ip` (or not to `local_ip` when that is set).
    SpoofedSource,
    /// For another tunnel port of this datapath (set by the port, not by `decap`).
    NotThisTunnel,
    /// A non-zero key (VNI) on a tunnel without `in_key`.
    UnexpectedKey,
    /// A key (VNI) other than `in_key`.
    BadKey,
    /// No key on a tunnel whose `in_key` is non-zero.
    MissingKey,
    /// GRE or Geneve version other than 0.
    BadVersion,
    /// The routing bit (RFC 1701 source routing) is set.
    Routing,
    /// GRE: strict source route, recursion control or reserved flag bits are set. VXLAN: the
    /// I flag is clear or reserved bits are set.
    UnknownFlags,
    /// The GRE checksum (C bit) does not verify.
    BadChecksum,
    /// The payload is not Ethernet (protocol ≠ 0x6558).
    BadProtocol,
    /// Geneve: an option rvs does not understand has its critical bit set (RFC 8926).
    CriticalOption,
}

impl TunnelDrop {
    /// Every reason, in counter order.
    pub const ALL: [TunnelDrop; 13] = [
        TunnelDrop::Truncated,
        TunnelDrop::Malformed,
        TunnelDrop::SpoofedSource,
        TunnelDrop::NotThisTunnel,
        TunnelDrop::UnexpectedKey,
        TunnelDrop::BadKey,
        TunnelDrop::MissingKey,
        TunnelDrop::BadVersion,
        TunnelDrop::Routing,
        TunnelDrop::UnknownFlags,
        TunnelDrop::BadChecksum,
        TunnelDrop::BadProtocol,
        TunnelDrop::CriticalOption,
    ];

    /// The counter name for tunnels of `kind` (as `coverage/show` lists it).
    pub const fn name(self, kind: TunnelKind) -> &'static str {
        const NAMES: [[&str; 13]; 3] = [
            [
                "gre_drop_truncated",
                "gre_drop_malformed",
                "gre_drop_spoofed_source",
                "gre_not_this_tunnel",
                "gre_drop_unexpected_key",
                "gre_drop_bad_key",
                "gre_drop_missing_key",
                "gre_drop_bad_version",
                "gre_drop_routing",
                "gre_drop_unknown_flags",
                "gre_drop_bad_checksum",
                "gre_drop_bad_protocol",
                "gre_drop_critical_option",
            ],
            [
                "vxlan_drop_truncated",
                "vxlan_drop_malformed",
                "vxlan_drop_spoofed_source",
                "vxlan_not_this_tunnel",
                "vxlan_drop_unexpected_key",
                "vxlan_drop_bad_key",
                "vxlan_drop_missing_key",
                "vxlan_drop_bad_version",
                "vxlan_drop_routing",
                "vxlan_drop_unknown_flags",
                "vxlan_drop_bad_checksum",
                "vxlan_drop_bad_protocol",
                "vxlan_drop_critical_option",
            ],
            [
                "geneve_drop_truncated",
                "geneve_drop_malformed",
                "geneve_drop_spoofed_source",
                "geneve_not_this_tunnel",
                "geneve_drop_unexpected_key",
                "geneve_drop_bad_key",
                "geneve_drop_missing_key",
                "geneve_drop_bad_version",
                "geneve_drop_routing",
                "geneve_drop_unknown_flags",
                "geneve_drop_bad_checksum",
                "geneve_drop_bad_protocol",
                "geneve_drop_critical_option",
            ],
        ];
        NAMES[kind as usize][self as usize]
    }

    /// Index into a `[u64; TunnelDrop::ALL.len()]` counter array.
    #[inline]
    pub const fn index(self) -> usize {
        self as usize
    }

    /// A reason that may only mean "this packet is for another tunnel".
    #[inline]
    pub fn is_demux(self) -> bool {
        matches!(
            self,
            TunnelDrop::SpoofedSource
                | TunnelDrop::UnexpectedKey
                | TunnelDrop::BadKey
                | TunnelDrop::MissingKey
        )
    }
}

/// A successfully decapsulated packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decapped {
    /// Where the inner Ethernet frame sits in the received bytes.
    pub inner: Range<usize>,
    /// The outer headers, for `Meta::tunnel`.
    pub meta: TunnelMeta,
}

/// Outer addresses and key of a GRE packet, read without any policy (for demultiplexing a
/// packet that one tunnel refused). `None` when the headers are not there.
pub fn peek(pkt: &[u8]) -> Option<(Ipv4Addr, Ipv4Addr, Option<u32>)> {
    let ip = Ipv4Packet::new_checked(pkt).ok()?;
    let g = GreHeader::new_checked(ip.payload()).ok()?;
    Some((ip.src(), ip.dst(), g.key()))
}

/// Check a received outer IPv4 + GRE packet (as a raw socket returns it) against `cfg` and
/// locate the inner Ethernet frame. Sequence numbers are accepted and ignored.
pub fn decap(pkt: &[u8], cfg: &TunnelConfig) -> Result<Decapped, TunnelDrop> {
    let ip = Ipv4Packet::new_checked(pkt).map_err(|e| match e {
        crate::wire::WireError::Truncated => TunnelDrop::Truncated,
        crate::wire::WireError::Malformed => TunnelDrop::Malformed,
    })?;
    if ip.protocol() != proto::GRE || ip.is_fragment() {
        return Err(TunnelDrop::Malformed);
    }
    if ip.src() != cfg.remote_ip || cfg.local_ip.is_some_and(|l| l != ip.dst()) {
        return Err(TunnelDrop::SpoofedSource);
    }
    let payload = ip.payload();
    if payload.len() < gre::BASE_LEN {
        return Err(TunnelDrop::Truncated);
    }
    let flags = be16(payload, 0);
    if flags & 0x7 != 0 {
        return Err(TunnelDrop::BadVersion);
    }
    if flags & gre::FLAG_R != 0 {
        return Err(TunnelDrop::Routing);
    }
    if flags & gre::FLAGS_UNKNOWN != 0 {
        return Err(TunnelDrop::UnknownFlags);
    }
    let g = GreHeader::new_checked(payload).map_err(|_| TunnelDrop::Truncated)?;
    cfg.key_check(g.key())?;
    if g.protocol() != EtherType::TEB {
        return Err(TunnelDrop::BadProtocol);
    }
    if !g.checksum_ok() {
        return Err(TunnelDrop::BadChecksum);
    }
    let start = ip.header_len() + g.header_len();
    let end = usize::from(ip.total_len());
    if end < start + crate::wire::ethernet::HEADER_LEN {
        return Err(TunnelDrop::Truncated);
    }
    Ok(Decapped {
        inner: start..end,
        meta: TunnelMeta {
            src: ip.src(),
            dst: ip.dst(),
            key: g.key(),
            tos: ip.tos(),
            ttl: ip.ttl(),
            df: ip.dont_frag(),
            csum: g.has_checksum(),
            tp_dst: None,
        },
    })
}

/// A VXLAN/Geneve datagram's tunnel header, checked: its VNI and where the inner Ethernet
/// frame sits in `payload` (the UDP payload, as a UDP socket returns it).
pub fn udp_decap(payload: &[u8], kind: TunnelKind) -> Result<(u32, Range<usize>), TunnelDrop> {
    let (vni, start) = match kind {
        TunnelKind::Vxlan => {
            let h = crate::wire::vxlan::VxlanHeader::new_checked(payload)
                .map_err(|_| TunnelDrop::Truncated)?;
            // The I flag must be set and no other flag (Linux drops the same); the reserved
            // fields are ignored on receipt (RFC 7348).
            if h.flags() != crate::wire::vxlan::FLAG_I {
                return Err(TunnelDrop::UnknownFlags);
            }
            (h.vni(), crate::wire::vxlan::HEADER_LEN)
        }
        TunnelKind::Geneve => {
            use crate::wire::geneve::{GeneveHeader, PROTO_ETHERNET};
            let h = GeneveHeader::new_checked(payload).map_err(|_| TunnelDrop::Truncated)?;
            if h.version() != 0 {
                return Err(TunnelDrop::BadVersion);
            }
            if h.protocol() != PROTO_ETHERNET {
                return Err(TunnelDrop::BadProtocol);
            }
            match h.critical_option() {
                Ok(None) => {}
                Ok(Some(_)) => return Err(TunnelDrop::CriticalOption),
                Err(_) => return Err(TunnelDrop::Malformed),
            }
            (h.vni(), h.header_len())
        }
        TunnelKind::Gre => return Err(TunnelDrop::Malformed),
    };
    if payload.len() < start + crate::wire::ethernet::HEADER_LEN {
        return Err(TunnelDrop::Truncated);
    }
    Ok((vni, start..payload.len()))
}

/// Prepend the VXLAN or Geneve header (VNI = the tunnel's output key, 0 without one) to `p`;
/// the UDP socket adds UDP and IPv4. Returns the datagram's payload length.
pub fn udp_encap(p: &mut Packet, cfg: &TunnelConfig) -> Result<usize, EncapError> {
    let vni = cfg.out_key().unwrap_or(0);
    let Some(h) = p.push_front(UDP_TUNNEL_HDR_LEN) else {
        return Err(EncapError::NoHeadroom);
    };
    match cfg.kind {
        TunnelKind::Vxlan => crate::wire::vxlan::emit(h, vni),
        TunnelKind::Geneve => crate::wire::geneve::emit(h, vni),
        TunnelKind::Gre => return Err(EncapError::NoHeadroom),
    }
    if p.len() + OUTER_IP_LEN + UDP_LEN > usize::from(u16::MAX) {
        let _ = p.pull_front(UDP_TUNNEL_HDR_LEN);
        return Err(EncapError::TooBig);
    }
    Ok(p.len())
}

/// The datagrams of a buffer a UDP socket returned: one, or (`UDP_GRO`) consecutive
/// `gso_size`-byte datagrams, the last possibly shorter.
pub fn gro_datagrams(len: usize, gso_size: Option<usize>) -> impl Iterator<Item = Range<usize>> {
    let seg = gso_size.filter(|&g| g > 0 && g < len).unwrap_or(len.max(1));
    (0..len).step_by(seg).map(move |at| at..(at + seg).min(len))
}

/// Check a VXLAN/Geneve datagram `payload` from `src` to `dst` against the tunnels sharing
/// its UDP socket: the index of the one it belongs to, its VNI and where its inner frame
/// sits; or why it is dropped (a key mismatch on a known remote rather than "spoofed" when
/// any member knows the remote).
pub fn udp_demux(
    payload: &[u8],
    kind: TunnelKind,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    members: impl IntoIterator<Item = TunnelConfig>,
) -> Result<(usize, u32, Range<usize>), TunnelDrop> {
    let (vni, inner) = udp_decap(payload, kind)?;
    let mut best = TunnelDrop::SpoofedSource;
    for (i, m) in members.into_iter().enumerate() {
        match m.check_udp(src, dst, vni) {
            Ok(()) => return Ok((i, vni, inner)),
            Err(TunnelDrop::SpoofedSource) => {}
            Err(other) => best = other,
        }
    }
    Err(best)
}

impl TunnelConfig {
    /// Whether a VXLAN/Geneve datagram from `src` to `dst` with `vni` is this tunnel's, and
    /// if not, why (the most specific reason: a known remote with another VNI is a key
    /// mismatch, an unknown remote is spoofed).
    pub fn check_udp(&self, src: Ipv4Addr, dst: Ipv4Addr, vni: u32) -> Result<(), TunnelDrop> {
        if src != self.remote_ip || self.local_ip.is_some_and(|l| l != dst) {
            return Err(TunnelDrop::SpoofedSource);
        }
        self.key_check(Some(vni))
    }
}

/// Inner IP DSCP/ECN and TTL of an Ethernet frame, when it carries IPv4 or IPv6.
fn inner_tos_ttl(frame: &[u8]) -> Option<(u8, u8)> {
    let l2 = EthernetFrame::new_checked(frame).ok()?.parse_l2().ok()?;
    let l3 = frame.get(l2.l3_offset..)?;
    match l2.ethertype {
        EtherType::IPV4 if l3.len() >= ipv4::MIN_HEADER_LEN => Some((l3[1], l3[8])),
        EtherType::IPV6 if l3.len() >= ipv6::HEADER_LEN => Some(((be16(l3, 0) >> 4) as u8, l3[7])),
        _ => None,
    }
}

/// The outer TOS and TTL for `frame` under `cfg`, OVS's way: DSCP fixed or inherited, ECN
/// always inherited (CE sent as ECT(0)), TTL fixed or inherited.
pub fn outer_tos_ttl(frame: &[u8], cfg: &TunnelConfig) -> (u8, u8) {
    let inner = inner_tos_ttl(frame);
    let mut tos = match (cfg.tos, inner) {
        (Inherit::Fixed(t), _) => t,
        (Inherit::Inherit, Some((t, _))) => t & 0xfc,
        (Inherit::Inherit, None) => 0,
    };
    if let Some((t, _)) = inner {
        let ecn = t & 0x03;
        tos |= if ecn == 0x03 { 0x02 } else { ecn };
    }
    let ttl = match (cfg.ttl, inner) {
        (Inherit::Fixed(t), _) => t,
        (Inherit::Inherit, Some((_, t))) => t,
        (Inherit::Inherit, None) => DEFAULT_TTL,
    };
    (tos, ttl)
}

/// Why a frame could not be encapsulated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncapError {
    /// Not enough headroom in the buffer (never with `packet::HEADROOM`).
    NoHeadroom,
    /// The outer packet would exceed 65535 bytes.
    TooBig,
}

/// Encapsulate `p` in place: outer IPv4 (source `src`, which may be 0.0.0.0 to let the kernel
/// fill it in) + GRE in the headroom. `outer_ident` is used only when DF is clear (with DF
/// the id is 0, like OVS and Linux). Returns the outer packet length.
pub fn encap(
    p: &mut Packet,
    cfg: &TunnelConfig,
    src: Ipv4Addr,
    outer_ident: u16,
) -> Result<usize, EncapError> {
    let g = cfg.gre_repr();
    let hl = OUTER_IP_LEN + g.header_len();
    let inner_len = p.len();
    let total = hl + inner_len;
    if total > usize::from(u16::MAX) {
        return Err(EncapError::TooBig);
    }
    let (tos, ttl) = outer_tos_ttl(p.data(), cfg);
    if p.push_front(hl).is_none() {
        return Err(EncapError::NoHeadroom);
    }
    let d = p.data_mut();
    g.emit(&mut d[OUTER_IP_LEN..]);
    Ipv4Repr {
        src,
        dst: cfg.remote_ip,
        protocol: proto::GRE,
        tos,
        ttl,
        ident: if cfg.df_default { 0 } else { outer_ident },
        frag_word: if cfg.df_default { FLAG_DF } else { 0 },
        payload_len: total - OUTER_IP_LEN,
    }
    .emit(d);
    Ok(total)
}

/// What to do with an inner frame before encapsulation, given the underlay path MTU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxDecision {
    /// It fits: encapsulate and send.
    Send,
    /// Inner IPv4 with DF: answer with ICMP "fragmentation needed" advertising this MTU.
    FragNeeded(u16),
    /// Inner IPv6: answer with ICMPv6 "packet too big" advertising this MTU.
    PacketTooBig(u32),
    /// Send it as outer IPv4 fragments (`df_default=false`, inner allows fragmentation).
    FragmentOuter,
    /// Drop it (counted as too big).
    Drop,
}

/// Decide whether `frame` fits a tunnel with underlay path MTU `path_mtu`. The MTU offered
/// to the inner sender is the path MTU minus outer IPv4, GRE and the inner L2 header (VLAN
/// tags included) — 1462 for a plain tunnel over a 1500-byte underlay, as Linux computes it
/// for bridged tunnels.
pub fn tx_decision(frame: &[u8], cfg: &TunnelConfig, path_mtu: usize) -> TxDecision {
    let hl = cfg.header_len();
    if hl + frame.len() <= path_mtu {
        return TxDecision::Send;
    }
    let l2 = EthernetFrame::new_checked(frame)
        .ok()
        .and_then(|e| e.parse_l2().ok());
    if let Some(l2) = l2 {
        let mtu = path_mtu.saturating_sub(hl + l2.l3_offset);
        match l2.ethertype {
            EtherType::IPV4 => {
                let df = frame
                    .get(l2.l3_offset..)
                    .and_then(|b| Ipv4Packet::new_checked(b).ok())
                    .is_some_and(|ip| ip.dont_frag());
                if df {
                    return TxDecision::FragNeeded(mtu.min(0xffff) as u16);
                }
            }
            EtherType::IPV6 => return TxDecision::PacketTooBig(mtu as u32),
            _ => {}
        }
    }
    if cfg.df_default {
        TxDecision::Drop
    } else {
        TxDecision::FragmentOuter
    }
}

fn v4_bad_source(a: Ipv4Addr) -> bool {
    a.is_unspecified() || a.is_loopback() || a.is_broadcast() || a.is_multicast()
}

/// Write the L2 header of a reply to `frame` (addresses swapped, tags kept, `ethertype`) into
/// `out`, returning its length.
fn reply_l2(frame: &[u8], l3: usize, ethertype: u16, out: &mut [u8]) -> usize {
    out[0..6].copy_from_slice(&frame[6..12]);
    out[6..12].copy_from_slice(&frame[0..6]);
    out[12..l3].copy_from_slice(&frame[12..l3]);
    put16(out, l3 - 2, ethertype);
    l3
}

/// Build, into `out` (at least [`ICMP_FRAME_MAX`] bytes), the ICMP error Linux sends for a
/// bridged tunnel (`iptunnel_pmtud_build_icmp[v6]`) when `frame` is too big for the tunnel:
/// - inner IPv4 (exactly DF, not a fragment): ICMP type 3 code 4 with next-hop MTU `mtu`,
///   quoting the inner packet up to a 576-byte reply; IPv4 from the inner destination to
///   the inner source, TTL copied from the inner packet, id 0, DF;
/// - inner IPv6: ICMPv6 type 2 with MTU `mtu`, quoting up to a 1280-byte reply; hop limit
///   copied.
///
/// The Ethernet addresses are swapped (VLAN tags kept), so the reply, delivered as if it came
/// out of the tunnel, reaches the sender through NORMAL. Returns the frame length, or `None`
/// where Linux sends nothing: MTU below 576 (IPv4) / 1280 (IPv6), non-unicast or unspecified
/// sources, broadcast/multicast destinations, and errors about ICMP errors.
pub fn build_icmp_too_big(frame: &[u8], mtu: u32, out: &mut [u8]) -> Option<usize> {
    if out.len() < ICMP_FRAME_MAX {
        return None;
    }
    let l2 = EthernetFrame::new_checked(frame).ok()?.parse_l2().ok()?;
    let l3 = l2.l3_offset;
    let inner = frame.get(l3..)?;
    match l2.ethertype {
        EtherType::IPV4 => {
            let ip = Ipv4Packet::new_checked(inner).ok()?;
            if (mtu as usize) < MIN_ICMP_MTU_V4 || mtu > 0xffff || ip.frag_word() != FLAG_DF {
                return None;
            }
            if v4_bad_source(ip.src()) || ip.dst().is_broadcast() || ip.dst().is_multicast() {
                return None;
            }
            if ip.protocol() == proto::ICMP {
                let t = ip.payload().first().copied().unwrap_or(0);
                if matches!(t, 3 | 4 | 5 | 11 | 12) {
                    return None;
                }
            }
            let quoted = &inner[..usize::from(ip.total_len())];
            let quoted = &quoted[..quoted.len().min(MIN_ICMP_MTU_V4 - 20 - 8)];
            let icmp_len = 8 + quoted.len();
            let at = reply_l2(frame, l3, EtherType::IPV4, out);
            let icmp = &mut out[at + 20..at + 20 + icmp_len];
            icmp[..8].copy_from_slice(&[3, 4, 0, 0, 0, 0, 0, 0]);
            put16(icmp, 6, mtu as u16);
            icmp[8..].copy_from_slice(quoted);
            let c = checksum::checksum(icmp);
            put16(icmp, 2, c);
            Ipv4Repr {
                src: ip.dst(),
                dst: ip.src(),
                protocol: proto::ICMP,
                tos: 0,
                ttl: ip.ttl(),
                ident: 0,
                frag_word: FLAG_DF,
                payload_len: icmp_len,
            }
            .emit(&mut out[at..]);
            Some(at + 20 + icmp_len)
        }
        EtherType::IPV6 => {
            let ip = Ipv6Packet::new_checked(inner).ok()?;
            let src = ip.src();
            if (mtu as usize) < MIN_MTU_V6 || src.is_unspecified() || src.is_multicast() {
                return None;
            }
            if src.is_loopback() {
                return None;
            }
            if ip.next_header() == proto::ICMPV6 && ip.payload().first().is_some_and(|t| *t < 128) {
                return None;
            }
            let quoted = &inner[..ipv6::HEADER_LEN + usize::from(ip.payload_len())];
            let quoted = &quoted[..quoted.len().min(MIN_MTU_V6 - ipv6::HEADER_LEN - 8)];
            let icmp_len = 8 + quoted.len();
            let at = reply_l2(frame, l3, EtherType::IPV6, out);
            ipv6::Ipv6Repr {
                src: ip.dst(),
                dst: src,
                next_header: proto::ICMPV6,
                hop_limit: ip.hop_limit(),
                payload_len: icmp_len,
            }
            .emit(&mut out[at..]);
            let icmp = &mut out[at + ipv6::HEADER_LEN..at + ipv6::HEADER_LEN + icmp_len];
            icmp[..4].copy_from_slice(&[2, 0, 0, 0]);
            put32(icmp, 4, mtu);
            icmp[8..].copy_from_slice(quoted);
            let ph = ipv6::pseudo_header_sum(ip.dst(), src, proto::ICMPV6, icmp_len);
            let c = checksum::finish(checksum::sum(ph, icmp));
            put16(icmp, 2, c);
            Some(at + ipv6::HEADER_LEN + icmp_len)
        }
        _ => None,
    }
}

/// Cut an encapsulated outer IPv4 packet (`pkt`, DF clear) into fragments of at most `mtu`
/// bytes: calls `emit(header, payload_range)` per fragment with a 20-byte header (fragment
/// offset, MF, total length and checksum set) and the range of `pkt` it carries. Returns the
/// number of fragments, 0 when the packet is not a fragmentable IPv4 packet or `mtu` is
/// smaller than 28.
pub fn fragment_outer(
    pkt: &[u8],
    mtu: usize,
    mut emit: impl FnMut(&[u8; OUTER_IP_LEN], Range<usize>),
) -> usize {
    let Ok(ip) = Ipv4Packet::new_checked(pkt) else {
        return 0;
    };
    if ip.header_len() != OUTER_IP_LEN || ip.frag_word() != 0 || mtu < OUTER_IP_LEN + 8 {
        return 0;
    }
    let chunk = (mtu - OUTER_IP_LEN) & !7;
    let end = usize::from(ip.total_len());
    let mut off = OUTER_IP_LEN;
    let mut n = 0;
    while off < end {
        let len = chunk.min(end - off);
        let last = off + len == end;
        let mut h = [0u8; OUTER_IP_LEN];
        h.copy_from_slice(&pkt[..OUTER_IP_LEN]);
        put16(&mut h, 2, (OUTER_IP_LEN + len) as u16);
        let word = ((off - OUTER_IP_LEN) / 8) as u16 | if last { 0 } else { ipv4::FLAG_MF };
        put16(&mut h, 6, word);
        put16(&mut h, 10, 0);
        let c = checksum::checksum(&h);
        put16(&mut h, 10, c);
        emit(&h, off..off + len);
        off += len;
        n += 1;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::ethernet::{self, MacAddr};
    use crate::wire::ipv6::Ipv6Repr;
    use core::net::Ipv6Addr;

    fn opts(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const R: Ipv4Addr = Ipv4Addr::new(10, 201, 0, 2);
    const L: Ipv4Addr = Ipv4Addr::new(10, 201, 0, 1);

    fn cfg(kv: &[(&str, &str)]) -> TunnelConfig {
        let mut o = opts(kv);
        o.entry("remote_ip".into()).or_insert_with(|| R.to_string());
        TunnelConfig::from_options(TunnelKind::Gre, &o).unwrap()
    }

    #[test]
    fn defaults_are_ovs_defaults() {
        let c = cfg(&[]);
        assert_eq!(
            c,
            TunnelConfig {
                kind: TunnelKind::Gre,
                dst_port: 0,
                remote_ip: R,
                local_ip: None,
                in_key: KeyOpt::None,
                out_key: KeyOpt::None,
                csum: false,
                ttl: Inherit::Fixed(64),
                tos: Inherit::Fixed(0),
                df_default: true,
            }
        );
        assert_eq!(c.header_len(), 24);
        let c = cfg(&[
            ("key", "0x1234"),
            ("out_key", "7"),
            ("csum", "true"),
            ("ttl", "inherit"),
            ("tos", "inherit"),
            ("df_default", "false"),
            ("local_ip", "10.201.0.1"),
            ("dst_port", "ignored"),
        ]);
        assert_eq!(
            (
                c.in_key,
                c.out_key,
                c.csum,
                c.ttl,
                c.tos,
                c.df_default,
                c.local_ip
            ),
            (
                KeyOpt::Fixed(0x1234),
                KeyOpt::Fixed(7),
                true,
                Inherit::Inherit,
                Inherit::Inherit,
                false,
                Some(L)
            )
        );
        assert_eq!(c.header_len(), 32);
        let c = cfg(&[("key", "flow"), ("ttl", "3"), ("tos", "0x10")]);
        assert_eq!((c.in_key, c.out_key), (KeyOpt::Flow, KeyOpt::Flow));
        assert_eq!((c.ttl, c.tos), (Inherit::Fixed(3), Inherit::Fixed(0x10)));
        assert_eq!(c.gre_repr().key, None);
        assert_eq!(cfg(&[("in_key", "4660")]).out_key, KeyOpt::None);
        assert_eq!(cfg(&[("key", "010")]).in_key, KeyOpt::Fixed(8));
    }

    #[test]
    fn bad_options_name_the_option() {
        for (kv, opt) in [
            (vec![], "remote_ip"),
            (vec![("remote_ip", "flow")], "remote_ip"),
            (vec![("remote_ip", "fd00::1")], "remote_ip"),
            (vec![("remote_ip", "224.0.0.1")], "remote_ip"),
            (
                vec![("remote_ip", "10.0.0.1"), ("local_ip", "x")],
                "local_ip",
            ),
            (
                vec![("remote_ip", "10.0.0.1"), ("key", "4294967296")],
                "key",
            ),
            (vec![("remote_ip", "10.0.0.1"), ("in_key", "-1")], "in_key"),
            (
                vec![("remote_ip", "10.0.0.1"), ("out_key", "abc")],
                "out_key",
            ),
            (vec![("remote_ip", "10.0.0.1"), ("csum", "yes")], "csum"),
            (vec![("remote_ip", "10.0.0.1"), ("ttl", "0")], "ttl"),
            (vec![("remote_ip", "10.0.0.1"), ("ttl", "256")], "ttl"),
            (vec![("remote_ip", "10.0.0.1"), ("tos", "1")], "tos"),
            (
                vec![("remote_ip", "10.0.0.1"), ("df_default", "1")],
                "df_default",
            ),
        ] {
            let e = TunnelConfig::from_options(TunnelKind::Gre, &opts(&kv)).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
            assert!(e.to_string().contains(opt), "{kv:?}: {e}");
        }
    }

    /// An Ethernet/IPv4/ICMP echo frame of `len` bytes in total.
    pub(crate) fn ipv4_frame(len: usize, df: bool, tos: u8) -> Vec<u8> {
        let mut f = vec![0u8; len];
        ethernet::emit(
            &mut f,
            MacAddr([2, 0, 0, 0, 0, 2]),
            MacAddr([2, 0, 0, 0, 0, 1]),
            EtherType::IPV4,
        );
        Ipv4Repr {
            src: Ipv4Addr::new(10, 77, 0, 1),
            dst: Ipv4Addr::new(10, 77, 0, 2),
            protocol: proto::ICMP,
            tos,
            ttl: 61,
            ident: 9,
            frag_word: if df { FLAG_DF } else { 0 },
            payload_len: len - 34,
        }
        .emit(&mut f[14..]);
        f[34] = 8;
        for (i, b) in f[42..].iter_mut().enumerate() {
            *b = i as u8;
        }
        let c = checksum::checksum(&f[34..]);
        put16(&mut f, 36, c);
        f
    }

    fn ipv6_frame(len: usize) -> Vec<u8> {
        let mut f = vec![0u8; len];
        ethernet::emit(
            &mut f,
            MacAddr([2, 0, 0, 0, 0, 2]),
            MacAddr([2, 0, 0, 0, 0, 1]),
            EtherType::IPV6,
        );
        Ipv6Repr {
            src: "fd00::1".parse().unwrap(),
            dst: "fd00::2".parse().unwrap(),
            next_header: proto::UDP,
            hop_limit: 63,
            payload_len: len - 54,
        }
        .emit(&mut f[14..]);
        f
    }

    fn encapped(c: &TunnelConfig, inner: &[u8]) -> Vec<u8> {
        let mut p = Packet::from_bytes(inner);
        encap(&mut p, c, R, 0).unwrap();
        // Outer packets come *from* the remote in these tests: swap addresses via src = R.
        p.data().to_vec()
    }

    #[test]
    fn encap_decap_roundtrip_all_variants() {
        let inner = ipv4_frame(100, true, 0);
        for kv in [
            vec![],
            vec![("key", "4660")],
            vec![("csum", "true")],
            vec![("key", "4660"), ("csum", "true")],
        ] {
            let c = cfg(&kv);
            let out = encapped(&c, &inner);
            assert_eq!(out.len(), c.header_len() + inner.len());
            let ip = Ipv4Packet::new_checked(&out[..]).unwrap();
            assert!(ip.verify_checksum() && ip.dont_frag());
            assert_eq!((ip.ident(), ip.ttl(), ip.protocol()), (0, 64, 47));
            let d = decap(&out, &c).unwrap();
            assert_eq!(&out[d.inner.clone()], &inner[..]);
            assert_eq!(d.meta.key, c.gre_repr().key);
            assert_eq!(d.meta.csum, c.csum);
            assert_eq!((d.meta.src, d.meta.ttl, d.meta.df), (R, 64, true));
        }
    }

    #[test]
    fn tos_ttl_inheritance() {
        let c = cfg(&[]);
        // ECN always inherited; CE becomes ECT(0).
        assert_eq!(outer_tos_ttl(&ipv4_frame(60, true, 0xb8 | 1), &c), (1, 64));
        assert_eq!(outer_tos_ttl(&ipv4_frame(60, true, 0xb8 | 3), &c), (2, 64));
        let c = cfg(&[("tos", "inherit"), ("ttl", "inherit")]);
        assert_eq!(
            outer_tos_ttl(&ipv4_frame(60, true, 0xb8 | 3), &c),
            (0xb8 | 2, 61)
        );
        assert_eq!(outer_tos_ttl(&ipv6_frame(80), &c), (0, 63));
        assert_eq!(outer_tos_ttl(&[0u8; 60], &c), (0, 64));
        let c = cfg(&[("df_default", "false")]);
        let mut p = Packet::from_bytes(&ipv4_frame(60, false, 0));
        encap(&mut p, &c, L, 77).unwrap();
        let ip = Ipv4Packet::new_checked(p.data()).unwrap();
        assert_eq!((ip.ident(), ip.frag_word()), (77, 0));
    }

    /// Build a hostile variant of a good packet and expect `want`.
    fn expect_drop(c: &TunnelConfig, pkt: &[u8], want: TunnelDrop) {
        assert_eq!(decap(pkt, c).unwrap_err(), want, "{pkt:02x?}");
    }

    fn refix_ip(pkt: &mut [u8]) {
        let mut ip = Ipv4Packet::new_checked(&mut pkt[..]).unwrap();
        ip.fill_checksum();
    }

    #[test]
    fn hostile_packets_get_their_named_drop() {
        let inner = ipv4_frame(80, true, 0);
        let plain = cfg(&[]);
        let keyed = cfg(&[("key", "4660")]);
        let good = encapped(&plain, &inner);
        let good_keyed = encapped(&keyed, &inner);
        let good_csum = encapped(&cfg(&[("csum", "true")]), &inner);

        // Spoofed source / wrong local address.
        let mut p = good.clone();
        p[15] = 99;
        refix_ip(&mut p);
        expect_drop(&plain, &p, TunnelDrop::SpoofedSource);
        let local = cfg(&[("local_ip", "10.201.0.9")]);
        expect_drop(&local, &good, TunnelDrop::SpoofedSource);
        // Keys: present on keyless, wrong, missing; key 0 equals no key.
        expect_drop(&plain, &good_keyed, TunnelDrop::UnexpectedKey);
        expect_drop(&cfg(&[("key", "1")]), &good_keyed, TunnelDrop::BadKey);
        expect_drop(&keyed, &good, TunnelDrop::MissingKey);
        let zero = encapped(&cfg(&[("key", "0")]), &inner);
        assert!(decap(&zero, &plain).is_ok());
        assert!(decap(&good, &cfg(&[("key", "0")])).is_ok());
        assert!(decap(&good_keyed, &cfg(&[("key", "flow")])).is_ok());
        assert!(decap(&good, &cfg(&[("in_key", "flow")])).is_ok());
        // Version, routing, unknown flags, protocol.
        for (bits, want) in [
            (0x0001u16, TunnelDrop::BadVersion),
            (gre::FLAG_R, TunnelDrop::Routing),
            (0x0800, TunnelDrop::UnknownFlags),
            (0x0080, TunnelDrop::UnknownFlags),
            (0x0008, TunnelDrop::UnknownFlags),
        ] {
            let mut p = good.clone();
            let f = be16(&p, 20) | bits;
            put16(&mut p, 20, f);
            expect_drop(&plain, &p, want);
        }
        let mut p = good.clone();
        put16(&mut p, 22, 0x0800);
        expect_drop(&plain, &p, TunnelDrop::BadProtocol);
        // Bad checksum.
        let mut p = good_csum.clone();
        let last = p.len() - 1;
        p[last] ^= 0x55;
        expect_drop(&plain, &p, TunnelDrop::BadChecksum);
        assert!(decap(&good_csum, &plain).is_ok());
        // Sequence numbers are accepted and ignored.
        let mut p = vec![0u8; 28];
        p.extend_from_slice(&inner);
        GreRepr {
            csum: false,
            key: None,
            seq: Some(5),
            protocol: EtherType::TEB,
        }
        .emit(&mut p[20..]);
        Ipv4Repr {
            src: R,
            dst: L,
            protocol: 47,
            tos: 0,
            ttl: 64,
            ident: 0,
            frag_word: FLAG_DF,
            payload_len: 8 + inner.len(),
        }
        .emit(&mut p);
        assert_eq!(decap(&p, &plain).unwrap().inner, 28..28 + inner.len());
        // Not GRE, fragments.
        let mut p = good.clone();
        p[9] = 17;
        expect_drop(&plain, &p, TunnelDrop::Malformed);
        let mut p = good.clone();
        put16(&mut p, 6, ipv4::FLAG_MF);
        expect_drop(&plain, &p, TunnelDrop::Malformed);
        // Truncation anywhere: never a panic, never a delivery of a short inner frame.
        for hdr in [&good, &good_keyed, &good_csum] {
            for cut in 0..hdr.len() {
                let mut p = hdr[..cut].to_vec();
                if cut >= 20 {
                    put16(&mut p, 2, cut as u16);
                }
                match decap(&p, &cfg(&[("key", "flow")])) {
                    Ok(d) => assert!(d.inner.len() >= 14),
                    Err(e) => assert!(
                        matches!(
                            e,
                            TunnelDrop::Truncated | TunnelDrop::Malformed | TunnelDrop::BadChecksum
                        ),
                        "cut {cut}: {e:?}"
                    ),
                }
            }
        }
        expect_drop(&plain, &good[..23], TunnelDrop::Truncated);
        let mut p = good_keyed[..26].to_vec();
        put16(&mut p, 2, 26);
        expect_drop(&keyed, &p, TunnelDrop::Truncated);
        let names: Vec<&str> = TunnelDrop::ALL
            .iter()
            .map(|d| d.name(TunnelKind::Gre))
            .collect();
        assert!(names.contains(&"gre_drop_bad_key") && names.contains(&"gre_not_this_tunnel"));
        for (i, d) in TunnelDrop::ALL.iter().enumerate() {
            assert_eq!(d.index(), i);
        }
    }

    #[test]
    fn accepts_matches_decap() {
        let keyed = cfg(&[("key", "5")]);
        assert!(keyed.accepts(R, L, Some(5)));
        assert!(!keyed.accepts(R, L, None));
        assert!(!keyed.accepts(L, L, Some(5)));
        let good = encapped(&keyed, &ipv4_frame(60, true, 0));
        assert_eq!(peek(&good), Some((R, R, Some(5))));
        assert_eq!(peek(&good[..10]), None);
    }

    #[test]
    fn mtu_decisions() {
        let c = cfg(&[]);
        assert_eq!(
            tx_decision(&ipv4_frame(1476, true, 0), &c, 1500),
            TxDecision::Send
        );
        assert_eq!(
            tx_decision(&ipv4_frame(1514, true, 0), &c, 1500),
            TxDecision::FragNeeded(1462)
        );
        assert_eq!(
            tx_decision(&ipv4_frame(1514, false, 0), &c, 1500),
            TxDecision::Drop
        );
        assert_eq!(
            tx_decision(&ipv6_frame(1514), &c, 1500),
            TxDecision::PacketTooBig(1462)
        );
        let k = cfg(&[("key", "1"), ("csum", "true")]);
        assert_eq!(
            tx_decision(&ipv4_frame(1514, true, 0), &k, 1500),
            TxDecision::FragNeeded(1454)
        );
        let nodf = cfg(&[("df_default", "false")]);
        assert_eq!(
            tx_decision(&ipv4_frame(1514, false, 0), &nodf, 1500),
            TxDecision::FragmentOuter
        );
        assert_eq!(
            tx_decision(&[0u8; 3000], &nodf, 1500),
            TxDecision::FragmentOuter
        );
        assert_eq!(tx_decision(&[], &c, 1500), TxDecision::Send);
    }

    #[test]
    fn frag_needed_is_valid_icmp() {
        let f = ipv4_frame(1514, true, 0);
        let mut out = [0u8; ICMP_FRAME_MAX];
        let n = build_icmp_too_big(&f, 1462, &mut out).unwrap();
        let r = &out[..n].to_vec()[..];
        assert_eq!(n, 14 + 576);
        assert_eq!(&r[0..6], &f[6..12]);
        assert_eq!(&r[6..12], &f[0..6]);
        let ip = Ipv4Packet::new_checked(&r[14..]).unwrap();
        assert!(ip.verify_checksum());
        assert_eq!(
            (ip.src(), ip.dst(), ip.protocol(), ip.ttl(), ip.ident()),
            (
                Ipv4Addr::new(10, 77, 0, 2),
                Ipv4Addr::new(10, 77, 0, 1),
                1,
                61,
                0
            )
        );
        let icmp = ip.payload();
        assert!(checksum::verify(icmp));
        assert_eq!((icmp[0], icmp[1], be16(icmp, 6)), (3, 4, 1462));
        assert_eq!(&icmp[8..], &f[14..14 + 548]);
        let e = etherparse::SlicedPacket::from_ethernet(r).unwrap();
        assert!(matches!(
            e.transport,
            Some(etherparse::TransportSlice::Icmpv4(_))
        ));
        // Nothing for: non-DF, MTU < 576, ICMP errors, multicast destinations.
        assert!(build_icmp_too_big(&ipv4_frame(1514, false, 0), 1462, &mut out).is_none());
        assert!(build_icmp_too_big(&f, 575, &mut out).is_none());
        let mut err = f.clone();
        err[34] = 3;
        assert!(build_icmp_too_big(&err, 1462, &mut out).is_none());
        let mut mc = f.clone();
        mc[30] = 224;
        assert!(build_icmp_too_big(&mc, 1462, &mut out).is_none());
        // Short packets are quoted whole.
        let small = ipv4_frame(200, true, 0);
        let n = build_icmp_too_big(&small, 1000, &mut out).unwrap();
        assert_eq!(n, 14 + 20 + 8 + 186);
    }

    #[test]
    fn packet_too_big_is_valid_icmpv6() {
        let f = ipv6_frame(1514);
        let mut out = [0u8; ICMP_FRAME_MAX];
        let n = build_icmp_too_big(&f, 1462, &mut out).unwrap();
        assert_eq!(n, 14 + 1280);
        let r = &out[..n].to_vec()[..];
        let ip = Ipv6Packet::new_checked(&r[14..]).unwrap();
        assert_eq!((ip.next_header(), ip.hop_limit()), (58, 63));
        assert_eq!(ip.src(), "fd00::2".parse::<Ipv6Addr>().unwrap());
        let icmp = ip.payload();
        let ph = ipv6::pseudo_header_sum(ip.src(), ip.dst(), 58, icmp.len());
        assert_eq!(checksum::fold(checksum::sum(ph, icmp)), 0xffff);
        assert_eq!((icmp[0], icmp[1]), (2, 0));
        assert_eq!(
            u32::from_be_bytes([icmp[4], icmp[5], icmp[6], icmp[7]]),
            1462
        );
        let e = etherparse::SlicedPacket::from_ethernet(r).unwrap();
        assert!(matches!(
            e.transport,
            Some(etherparse::TransportSlice::Icmpv6(_))
        ));
        assert!(build_icmp_too_big(&f, 1279, &mut out).is_none());
        assert!(build_icmp_too_big(&f, 1462, &mut out[..100]).is_none());
        assert!(build_icmp_too_big(&[0u8; 20], 1462, &mut out).is_none());
    }

    #[test]
    fn outer_fragments_reassemble() {
        let c = cfg(&[("df_default", "false")]);
        let inner = ipv4_frame(3000, false, 0);
        let mut p = Packet::from_bytes(&inner);
        encap(&mut p, &c, L, 4242).unwrap();
        let pkt = p.data().to_vec();
        let mut joined = Vec::new();
        let mut frags = 0;
        let n = fragment_outer(&pkt, 1500, |h, r| {
            assert!(checksum::verify(h));
            assert_eq!(usize::from(be16(h, 2)), 20 + r.len());
            assert_eq!(be16(h, 4), 4242);
            let off = usize::from(be16(h, 6) & 0x1fff) * 8;
            assert_eq!(off, joined.len());
            assert!(20 + r.len() <= 1500);
            joined.extend_from_slice(&pkt[r]);
            frags += 1;
        });
        assert_eq!((n, frags), (3, 3));
        assert_eq!(joined, pkt[20..]);
        assert_eq!(fragment_outer(&pkt[..10], 1500, |_, _| {}), 0);
        assert_eq!(fragment_outer(&pkt, 20, |_, _| {}), 0);
    }
}
