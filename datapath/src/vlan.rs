//! VLAN port modes, as in OVS: which VLAN a received frame belongs to, whether a port may
//! send a VLAN and with or without a tag, and in-place tag push/pop.
//!
//! Modes (OVS's `vlan_mode`, `tag`, `trunks` columns):
//! - `Trunk` (the default with no `tag`): carries every VLAN in `trunks` (all when empty);
//!   untagged frames are VLAN 0, which is carried untagged.
//! - `Access(tag)` (the default with a `tag`): untagged frames in, the tag is added on trunk
//!   egress and removed on access egress; tagged frames (VID ≠ 0) are dropped.
//! - `NativeUntagged(tag)`: like a trunk, but untagged frames are in VLAN `tag`, and VLAN
//!   `tag` leaves untagged.
//! - `NativeTagged(tag)`: untagged frames are in VLAN `tag`; every VLAN leaves tagged.
//!
//! Invariant: a frame inside the pipeline keeps whatever tag it arrived with; egress decides
//! per port whether to push, pop, rewrite or keep it (`retag`).

use crate::packet::{Offload, Packet};
use crate::wire::ethernet::{is_vlan_tpid, EtherType};

/// A port's VLAN configuration.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PortVlan {
    pub mode: VlanMode,
    /// Trunked VLANs; empty means all.
    pub trunks: Vec<u16>,
}

/// See the module doc.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VlanMode {
    #[default]
    Trunk,
    Access(u16),
    NativeTagged(u16),
    NativeUntagged(u16),
}

impl PortVlan {
    /// Build from OVS columns: `vlan_mode` (None = default for the presence of `tag`),
    /// `tag`, `trunks`. An unknown mode string is treated as the default.
    pub fn from_ovs(vlan_mode: Option<&str>, tag: Option<u16>, trunks: &[u16]) -> PortVlan {
        let mode = match (vlan_mode, tag) {
            (Some("trunk"), _) => VlanMode::Trunk,
            (Some("native-tagged"), Some(t)) => VlanMode::NativeTagged(t),
            (Some("native-untagged"), Some(t)) => VlanMode::NativeUntagged(t),
            (Some("access"), Some(t)) | (None, Some(t)) => VlanMode::Access(t),
            (Some("native-tagged" | "native-untagged"), None) => VlanMode::NativeUntagged(0),
            _ => VlanMode::Trunk,
        };
        PortVlan {
            mode,
            trunks: trunks.to_vec(),
        }
    }

    fn trunks(&self, vid: u16) -> bool {
        self.trunks.is_empty() || self.trunks.contains(&vid)
    }

    /// The VLAN of a frame received here with outer VID `vid` (`None` = untagged, or a
    /// priority tag), or `None` when the port does not accept it.
    #[inline]
    pub fn ingress(&self, vid: Option<u16>) -> Option<u16> {
        let vid = vid.filter(|&v| v != 0);
        match (self.mode, vid) {
            (VlanMode::Trunk, None) => self.trunks(0).then_some(0),
            (VlanMode::Access(t), None) => Some(t),
            (VlanMode::Access(_), Some(_)) => None,
            (VlanMode::NativeTagged(t) | VlanMode::NativeUntagged(t), None) => Some(t),
            (_, Some(v)) => {
                let native = matches!(self.mode, VlanMode::NativeTagged(t) | VlanMode::NativeUntagged(t) if t == v);
                (native || self.trunks(v)).then_some(v)
            }
        }
    }

    /// How a frame in VLAN `vlan` leaves this port: `Some(true)` tagged, `Some(false)`
    /// untagged, `None` not at all.
    #[inline]
    pub fn egress(&self, vlan: u16) -> Option<bool> {
        match self.mode {
            VlanMode::Access(t) => (t == vlan).then_some(false),
            VlanMode::Trunk => self.trunks(vlan).then_some(vlan != 0),
            VlanMode::NativeUntagged(t) => {
                if vlan == t {
                    Some(false)
                } else {
                    self.trunks(vlan).then_some(vlan != 0)
                }
            }
            VlanMode::NativeTagged(t) => (vlan == t || self.trunks(vlan)).then_some(vlan != 0),
        }
    }

    /// True for the default (trunk of everything): no VLAN processing needed.
    pub fn is_default(&self) -> bool {
        self.mode == VlanMode::Trunk && self.trunks.is_empty()
    }
}

/// What egress does to a frame's outer tag. One table for `retag` (userspace), the kernel
/// fast path's action and `dpctl/dump-flows`' `push_vlan`/`set(vlan)`/`pop_vlan`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagEdit {
    /// Leave the frame as it is.
    Keep,
    /// Remove the outer tag.
    Pop,
    /// Add an 802.1Q tag with this VID (PCP 0).
    Push(u16),
    /// Give the outer tag this VID, keeping its PCP, DEI and TPID.
    SetVid(u16),
}

/// The edit that makes a frame whose outer TCI is `in_tci` (`None`: untagged) leave in VLAN
/// `vlan`, `tagged` or not (`PortVlan::egress`).
#[inline]
pub fn tag_edit(in_tci: Option<u16>, tagged: bool, vlan: u16) -> TagEdit {
    let vid = vlan & 0x0fff;
    match (in_tci, tagged) {
        (Some(t), true) if t & 0x0fff == vid => TagEdit::Keep,
        (Some(_), true) => TagEdit::SetVid(vid),
        (None, false) => TagEdit::Keep,
        (None, true) => TagEdit::Push(vid),
        (Some(_), false) => TagEdit::Pop,
    }
}

/// Make the frame's outer tag match what egress wants: tagged with `vlan` (keeping the PCP of
/// an existing tag) or untagged. False (and the frame unchanged) when the headroom is too small
/// (never with `packet::HEADROOM`), the frame is a runt, or its checksum/GSO offsets would
/// leave their 16-bit range once moved with the tag.
#[inline]
pub fn retag(p: &mut Packet, tagged: bool, vlan: u16) -> bool {
    let d = p.data();
    if d.len() < 14 {
        return false;
    }
    let in_tci = if is_vlan_tpid(u16::from_be_bytes([d[12], d[13]])) {
        if d.len() < 18 {
            return false;
        }
        Some(u16::from_be_bytes([d[14], d[15]]))
    } else {
        None
    };
    match tag_edit(in_tci, tagged, vlan) {
        TagEdit::Keep => true,
        TagEdit::SetVid(vid) => {
            let new = (in_tci.unwrap_or(0) & 0xf000) | vid;
            p.data_mut()[14..16].copy_from_slice(&new.to_be_bytes());
            true
        }
        TagEdit::Push(vid) => push_tag(p, EtherType::VLAN, vid),
        TagEdit::Pop => {
            let Some(offload) = shifted_offload(&p.meta.offload, -4) else {
                return false;
            };
            p.data_mut().copy_within(0..12, 4);
            p.pull_front(4);
            p.meta.offload = offload;
            true
        }
    }
}

/// Insert an outer tag (`tpid`, `tci`) after the MAC addresses, in the headroom.
#[inline]
pub fn push_tag(p: &mut Packet, tpid: u16, tci: u16) -> bool {
    if p.len() < 14 {
        return false;
    }
    let Some(offload) = shifted_offload(&p.meta.offload, 4) else {
        return false;
    };
    if p.push_front(4).is_none() {
        return false;
    }
    let d = p.data_mut();
    d.copy_within(4..16, 0);
    d[12..14].copy_from_slice(&tpid.to_be_bytes());
    d[14..16].copy_from_slice(&tci.to_be_bytes());
    p.meta.offload = offload;
    true
}

/// The checksum/GSO offsets moved by `delta` bytes (the L2 header grew or shrank), so they
/// point at the same bytes; `None` if one would leave 0..=u16::MAX (the frame's metadata
/// does not describe it: refuse it rather than wrap to an offset inside the MAC header).
fn shifted_offload(o: &Offload, delta: i16) -> Option<Offload> {
    let mut o = *o;
    if o.needs_csum {
        o.csum_start = o.csum_start.checked_add_signed(delta)?;
    }
    if o.hdr_len != 0 {
        o.hdr_len = o.hdr_len.checked_add_signed(delta)?;
    }
    Some(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Defect: offsets were moved with wrapping casts: a csum_start near 65535 wrapped to a
    /// few bytes (inside the MAC header) on a push, one below 4 was clamped on a pop.
    #[test]
    fn offsets_that_would_leave_their_range_refuse_the_retag() {
        let mut p = Packet::from_bytes(&[0u8; 60]);
        p.meta.offload.needs_csum = true;
        p.meta.offload.csum_start = u16::MAX - 1;
        assert!(!retag(&mut p, true, 10));
        assert_eq!(p.len(), 60, "frame unchanged");
        assert_eq!(p.meta.offload.csum_start, u16::MAX - 1);
        let mut f = vec![0u8; 60];
        f[12..14].copy_from_slice(&[0x81, 0]);
        let mut p = Packet::from_bytes(&f);
        p.meta.offload.needs_csum = true;
        p.meta.offload.csum_start = 2;
        assert!(!retag(&mut p, false, 0));
        assert_eq!(p.len(), 60);
        p.meta.offload.csum_start = 38;
        assert!(retag(&mut p, false, 0));
        assert_eq!((p.len(), p.meta.offload.csum_start), (56, 34));
    }

    #[test]
    fn modes_follow_ovs() {
        let trunk = PortVlan::default();
        assert_eq!(
            (trunk.ingress(None), trunk.ingress(Some(10))),
            (Some(0), Some(10))
        );
        assert_eq!(
            (trunk.egress(0), trunk.egress(10)),
            (Some(false), Some(true))
        );
        let access = PortVlan::from_ovs(None, Some(10), &[]);
        assert_eq!(
            (
                access.ingress(None),
                access.ingress(Some(10)),
                access.ingress(Some(0))
            ),
            (Some(10), None, Some(10))
        );
        assert_eq!(
            (access.egress(10), access.egress(20), access.egress(0)),
            (Some(false), None, None)
        );
        let some = PortVlan::from_ovs(Some("trunk"), None, &[10, 20]);
        assert_eq!(
            (
                some.ingress(Some(10)),
                some.ingress(Some(30)),
                some.ingress(None)
            ),
            (Some(10), None, None)
        );
        assert_eq!((some.egress(20), some.egress(30)), (Some(true), None));
        let nu = PortVlan::from_ovs(Some("native-untagged"), Some(5), &[10]);
        assert_eq!(
            (nu.ingress(None), nu.ingress(Some(10)), nu.ingress(Some(5))),
            (Some(5), Some(10), Some(5))
        );
        assert_eq!(
            (nu.egress(5), nu.egress(10), nu.egress(11)),
            (Some(false), Some(true), None)
        );
        let nt = PortVlan::from_ovs(Some("native-tagged"), Some(5), &[10]);
        assert_eq!(
            (nt.ingress(None), nt.egress(5), nt.egress(10)),
            (Some(5), Some(true), Some(true))
        );
    }

    #[test]
    fn push_pop_rewrite_in_place() {
        let mut f = vec![0u8; 60];
        f[0..12].copy_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
        f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
        f[14] = 0x45;
        let mut p = Packet::from_bytes(&f);
        p.meta.offload.needs_csum = true;
        p.meta.offload.csum_start = 34;
        assert!(retag(&mut p, true, 10));
        assert_eq!(p.len(), 64);
        assert_eq!(&p.data()[..12], &f[..12]);
        assert_eq!(&p.data()[12..18], &[0x81, 0x00, 0, 10, 0x08, 0x00]);
        assert_eq!(p.meta.offload.csum_start, 38);
        p.data_mut()[14] |= 0xa0; // PCP 5
        assert!(retag(&mut p, true, 20));
        assert_eq!(&p.data()[14..16], &[0xa0, 20]);
        assert!(retag(&mut p, false, 0));
        assert_eq!(p.data(), &f[..]);
        assert_eq!(p.meta.offload.csum_start, 34);
        assert!(retag(&mut p, false, 0));
        assert_eq!(p.data(), &f[..]);
    }
}
