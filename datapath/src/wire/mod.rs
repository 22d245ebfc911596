//! Zero-copy packet views and emitters.
//!
//! Every view wraps `T: AsRef<[u8]>` and is built by a checked constructor (`new_checked`)
//! that verifies the buffer is long enough for every fixed field and for any length the
//! header itself declares. After that, no accessor can panic. Field offsets are constants.
//! Views over `T: AsMut<[u8]>` also offer setters, which is how emitters write in place.
//!
//! Why hand-written views rather than etherparse on the hot path: the NORMAL pipeline only
//! needs the Ethernet addresses, the VLAN tag and the EtherType, and the tunnel code needs the
//! outer IPv4 and GRE headers. The hand views read exactly those bytes in place. The criterion
//! bench `wire` compares them with `etherparse::SlicedPacket` on the same frames (see the
//! numbers in ARCHITECTURE.md); etherparse is kept as the independent cross-check in tests.
//!
//! Invariants: views never copy; `new_checked` returns `Err(Truncated | Malformed)` rather than
//! a view that could index out of bounds.

pub mod arp;
pub mod checksum;
pub mod ethernet;
pub mod geneve;
pub mod gre;
pub mod ipv4;
pub mod ipv6;
pub mod l4;
pub mod vxlan;

pub use arp::ArpPacket;
pub use ethernet::{EtherType, EthernetFrame, MacAddr, VlanTag};
pub use gre::GreHeader;
pub use ipv4::Ipv4Packet;
pub use ipv6::Ipv6Packet;

/// Why a view could not be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireError {
    /// The buffer is shorter than the header (or than a length the header declares).
    Truncated,
    /// A field holds a value the format forbids (e.g. IPv4 IHL < 5, IPv6 version ≠ 6).
    Malformed,
}

/// Result of building a view.
pub type Result<T> = core::result::Result<T, WireError>;

#[inline]
pub(crate) fn be16(b: &[u8], off: usize) -> u16 {
    u16::from_be_bytes([b[off], b[off + 1]])
}

#[inline]
pub(crate) fn be32(b: &[u8], off: usize) -> u32 {
    u32::from_be_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

#[inline]
pub(crate) fn put16(b: &mut [u8], off: usize, v: u16) {
    b[off..off + 2].copy_from_slice(&v.to_be_bytes());
}

#[inline]
pub(crate) fn put32(b: &mut [u8], off: usize, v: u32) {
    b[off..off + 4].copy_from_slice(&v.to_be_bytes());
}
