//! The desired-configuration model: what rvsd applies to the datapath, whichever mode it runs
//! in. Both modes derive it from OVSDB rows with the one function
//! `vswitchd::config_from_replica`: the embedded mode from its own database
//! (`ovsdb::Database`, stored by [`crate::store`]), the ovs-vswitchd mode from its replica of a
//! real ovsdb-server. The model mirrors the four tables the datapath acts on (Open_vSwitch,
//! Bridge, Port, Interface), ports nested in bridges and interfaces in ports; the rest of the
//! database (mirrors, QoS, controllers, …) is stored but not acted on.
//!
//! The structs keep their serde form: it is the layout of rvs's version 1 `conf.json`, which
//! [`crate::store`] still reads (and migrates).
//!
//! Invariants: [`Config::assign_ofports`] gives every interface an OpenFlow port number the
//! way OVS does (65534 for a bridge's own port; a number once assigned is kept while free;
//! `ofport_request` wins when free; else the lowest free number).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Read;

use serde::{Deserialize, Serialize};

/// The `schema_version` of rvs's version 1 `conf.json` (this model's serde form).
pub const SCHEMA_VERSION: u32 = 1;

/// OpenFlow port number of a bridge's local (internal) port.
pub const OFPP_LOCAL: i64 = 65534;

/// Highest OpenFlow port number that may be assigned to an ordinary port (OVS's OFPP_MAX).
pub const OFPORT_MAX: i64 = 65279;

/// Interface types rvs supports (`""` is the default, a system network device).
pub const IFACE_TYPES: &[&str] = &[
    "", "afxdp", "geneve", "gre", "internal", "system", "tap", "vxlan",
];

/// String → string map, ordered like OVSDB prints maps.
pub type Map = BTreeMap<String, String>;

/// The root of the configuration (the single Open_vSwitch row).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Version of this file's layout.
    pub schema_version: u32,
    /// UUID of the Open_vSwitch row (first line of `ovs-vsctl show`).
    pub uuid: String,
    /// `external_ids` column.
    #[serde(default)]
    pub external_ids: Map,
    /// `other_config` column.
    #[serde(default)]
    pub other_config: Map,
    /// Bridges in creation order.
    #[serde(default)]
    pub bridges: Vec<Bridge>,
}

/// One Bridge row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bridge {
    /// Bridge name.
    pub name: String,
    /// Row UUID.
    pub uuid: String,
    /// Ports in creation order (the local port named like the bridge is normally first).
    #[serde(default)]
    pub ports: Vec<Port>,
    /// `datapath_type` column (`netdev` for bridges rvs creates).
    #[serde(default)]
    pub datapath_type: String,
    /// `other_config` column (mac-aging-time, mac-table-size, n-pmd, pmd-cpu-mask, ...).
    #[serde(default)]
    pub other_config: Map,
    /// `external_ids` column.
    #[serde(default)]
    pub external_ids: Map,
}

/// One Port row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Port {
    /// Port name.
    pub name: String,
    /// Row UUID.
    pub uuid: String,
    /// Interfaces of the port (normally one with the port's name).
    pub interfaces: Vec<Interface>,
    /// Access VLAN.
    #[serde(default)]
    pub tag: Option<u16>,
    /// Trunked VLANs (empty = all).
    #[serde(default)]
    pub trunks: Vec<u16>,
    /// VLAN mode (one of [`VLAN_MODES`]).
    #[serde(default)]
    pub vlan_mode: Option<String>,
    /// `external_ids` column.
    #[serde(default)]
    pub external_ids: Map,
    /// `other_config` column.
    #[serde(default)]
    pub other_config: Map,
}

/// One Interface row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Interface {
    /// Interface (network device) name.
    pub name: String,
    /// Row UUID.
    pub uuid: String,
    /// `type` column: `""` (system), `internal`, `tap`, `gre`, `afxdp`.
    #[serde(rename = "type", default)]
    pub type_: String,
    /// `options` column (per-type, see [`validate_options`]).
    #[serde(default)]
    pub options: Map,
    /// `external_ids` column.
    #[serde(default)]
    pub external_ids: Map,
    /// `other_config` column.
    #[serde(default)]
    pub other_config: Map,
    /// Assigned OpenFlow port number (0 = not assigned yet; see [`Config::assign_ofports`]).
    #[serde(default)]
    pub ofport: i64,
    /// Requested OpenFlow port number.
    #[serde(default)]
    pub ofport_request: Option<i64>,
    /// Requested MTU.
    #[serde(default)]
    pub mtu_request: Option<i64>,
    /// Requested MAC (`mac` column) for ports rvs creates (internal, tap).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Self::new()
    }
}

impl Config {
    /// A fresh, empty configuration with a new random UUID.
    pub fn new() -> Config {
        Config {
            schema_version: SCHEMA_VERSION,
            uuid: new_uuid(),
            external_ids: Map::new(),
            other_config: Map::new(),
            bridges: Vec::new(),
        }
    }

    /// Assigns OpenFlow port numbers like OVS: per bridge, the internal interface named like
    /// the bridge gets 65534; an interface keeps the number it already has (if still free);
    /// new interfaces get their `ofport_request` if free, else the lowest free number from 1.
    pub fn assign_ofports(&mut self) {
        for br in &mut self.bridges {
            let brname = br.name.clone();
            let mut used = BTreeSet::new();
            let mut pending = Vec::new();
            // Pass 1: local port, requests, and kept numbers.
            for (pi, p) in br.ports.iter_mut().enumerate() {
                for (ii, i) in p.interfaces.iter_mut().enumerate() {
                    if i.name == brname {
                        i.ofport = OFPP_LOCAL;
                        continue;
                    }
                    if let Some(r) = i.ofport_request {
                        if (1..=OFPORT_MAX).contains(&r) && !used.contains(&r) {
                            i.ofport = r;
                            used.insert(r);
                            continue;
                        }
                    }
                    pending.push((pi, ii));
                }
            }
            let mut still = Vec::new();
            for (pi, ii) in pending {
                let Some(i) = br.ports.get_mut(pi).and_then(|p| p.interfaces.get_mut(ii)) else {
                    continue;
                };
                if (1..=OFPORT_MAX).contains(&i.ofport) && !used.contains(&i.ofport) {
                    used.insert(i.ofport);
                } else {
                    still.push((pi, ii));
                }
            }
            let mut next = 1;
            for (pi, ii) in still {
                while used.contains(&next) {
                    next += 1;
                }
                let Some(i) = br.ports.get_mut(pi).and_then(|p| p.interfaces.get_mut(ii)) else {
                    continue;
                };
                i.ofport = if next <= OFPORT_MAX { next } else { 0 };
                used.insert(next);
            }
        }
    }

    /// The bridge named `name`.
    pub fn bridge(&self, name: &str) -> Option<&Bridge> {
        self.bridges.iter().find(|b| b.name == name)
    }

    /// The bridge and port named `port`.
    pub fn port(&self, port: &str) -> Option<(&Bridge, &Port)> {
        self.bridges
            .iter()
            .find_map(|b| b.ports.iter().find(|p| p.name == port).map(|p| (b, p)))
    }

    /// The bridge, port and interface named `iface`.
    pub fn interface(&self, iface: &str) -> Option<(&Bridge, &Port, &Interface)> {
        self.bridges.iter().find_map(|b| {
            b.ports.iter().find_map(|p| {
                p.interfaces
                    .iter()
                    .find(|i| i.name == iface)
                    .map(|i| (b, p, i))
            })
        })
    }
}

impl Bridge {
    /// A new bridge with its local port and internal interface of the same name.
    pub fn new(name: &str) -> Bridge {
        let mut local = Port::new(name);
        if let Some(i) = local.interfaces.first_mut() {
            i.type_ = "internal".into();
        }
        Bridge {
            name: name.into(),
            uuid: new_uuid(),
            ports: vec![local],
            datapath_type: "netdev".into(),
            other_config: Map::new(),
            external_ids: Map::new(),
        }
    }
}

impl Port {
    /// A new port with one system interface of the same name.
    pub fn new(name: &str) -> Port {
        Port {
            name: name.into(),
            uuid: new_uuid(),
            interfaces: vec![Interface::new(name)],
            tag: None,
            trunks: Vec::new(),
            vlan_mode: None,
            external_ids: Map::new(),
            other_config: Map::new(),
        }
    }
}

impl Interface {
    /// A new system interface (type `""`).
    pub fn new(name: &str) -> Interface {
        Interface {
            name: name.into(),
            uuid: new_uuid(),
            type_: String::new(),
            options: Map::new(),
            external_ids: Map::new(),
            other_config: Map::new(),
            ofport: 0,
            ofport_request: None,
            mtu_request: None,
            mac: None,
        }
    }
}

/// True if `s` is a UUID in canonical 8-4-4-4-12 hex form.
pub fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, &c)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                c == b'-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
}

/// A new random (version 4) UUID string, from /dev/urandom. If that cannot be read, falls back
/// to time, pid and a counter mixed together (unique, though not cryptographically random).
pub fn new_uuid() -> String {
    let mut b = [0u8; 16];
    let ok = fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .is_ok();
    if !ok {
        use std::sync::atomic::{AtomicU64, Ordering};
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let c = COUNTER.fetch_add(1, Ordering::Relaxed);
        let mut x = (t as u64) ^ (u64::from(std::process::id()) << 32) ^ c.rotate_left(17);
        for chunk in b.chunks_mut(8) {
            // splitmix64
            x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            for (d, s) in chunk.iter_mut().zip(z.to_le_bytes()) {
                *d = s;
            }
        }
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Config {
        let mut c = Config::new();
        let mut br = Bridge::new("br0");
        br.ports.push(Port::new("p1"));
        br.ports.push(Port::new("gre0"));
        c.bridges.push(br);
        c.assign_ofports();
        c
    }

    #[test]
    fn uuid_shape_and_uniqueness() {
        let a = new_uuid();
        let b = new_uuid();
        assert!(is_uuid(&a), "{a}");
        assert_ne!(a, b);
        assert_eq!(&a[14..15], "4");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"));
        assert!(!is_uuid("not-a-uuid"));
    }

    #[test]
    fn ofports_like_ovs() {
        let c = sample();
        let br = &c.bridges[0];
        assert_eq!(br.ports[0].interfaces[0].ofport, OFPP_LOCAL);
        assert_eq!(br.ports[1].interfaces[0].ofport, 1);
        assert_eq!(br.ports[2].interfaces[0].ofport, 2);
        // Remove p1: gre0 keeps 2, a new port gets 1.
        let mut c2 = c.clone();
        c2.bridges[0].ports.remove(1);
        c2.bridges[0].ports.push(Port::new("p3"));
        c2.assign_ofports();
        assert_eq!(c2.port("gre0").unwrap().1.interfaces[0].ofport, 2);
        assert_eq!(c2.port("p3").unwrap().1.interfaces[0].ofport, 1);
        // ofport_request wins when free.
        let mut c3 = c.clone();
        let mut p = Port::new("p9");
        p.interfaces[0].ofport_request = Some(9);
        c3.bridges[0].ports.push(p);
        c3.assign_ofports();
        assert_eq!(c3.port("p9").unwrap().1.interfaces[0].ofport, 9);
    }
}
