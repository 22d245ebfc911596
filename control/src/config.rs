//! The rvs configuration store: the data model that `ovs-vsctl` edits and `rvsd` applies, its
//! validation, and its persistence in `DBDIR/conf.json`.
//!
//! The model mirrors the four OVSDB tables rvs supports (Open_vSwitch, Bridge, Port, Interface),
//! with ports nested in bridges and interfaces nested in ports.
//!
//! Invariants (checked by [`Config::validate`], which the loader and every `ovs-vsctl`
//! transaction run before a configuration is accepted):
//! - bridge names are unique; port names and interface names are unique across all bridges;
//!   every UUID is a well-formed, unique UUID string;
//! - every port has at least one interface;
//! - `tag` and `trunks` are VLAN ids 0..=4095, `trunks` is sorted without duplicates;
//! - interface types are known (`""`/`system`, `internal`, `tap`, `gre`, `afxdp`) and their
//!   options are known for the type and well formed (a GRE interface has an IPv4 `remote_ip`);
//! - known `other_config` keys carry well-formed values (unknown keys are kept, as OVS does).
//!
//! Persistence is crash-safe ([`crate::files::replace_file`]): [`Config::save`] writes a private
//! (0600: it holds GRE keys) temporary file in the same directory, fsyncs it and renames it over
//! `conf.json`. The rename is the commit point: a save that fails before it leaves the previous
//! file intact and the transaction is refused; once it succeeded the transaction is committed,
//! even if the directory fsync after it fails (logged as a warning). Loading never panics, whatever the bytes ([`Config::from_json_bytes`] is
//! fuzzed), and refuses files written by a newer rvs (higher `schema_version`).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use rvs_datapath::tunnel::{TunnelConfig, TunnelKind};
use serde::{Deserialize, Serialize};

/// Schema version written by this rvs. Files with a higher version are refused.
pub const SCHEMA_VERSION: u32 = 1;

/// File name of the configuration inside the database directory.
pub const CONF_FILE: &str = "conf.json";

/// OpenFlow port number of a bridge's local (internal) port.
pub const OFPP_LOCAL: i64 = 65534;

/// Highest OpenFlow port number that may be assigned to an ordinary port (OVS's OFPP_MAX).
pub const OFPORT_MAX: i64 = 65279;

/// Interface types rvs supports (`""` is the default, a system network device).
pub const IFACE_TYPES: &[&str] = &[
    "", "afxdp", "geneve", "gre", "internal", "system", "tap", "vxlan",
];

/// Allowed values of `Port.vlan_mode` (same as the OVS schema).
pub const VLAN_MODES: &[&str] = &[
    "access",
    "dot1q-tunnel",
    "native-tagged",
    "native-untagged",
    "trunk",
];

/// String → string map, ordered like OVSDB prints maps.
pub type Map = BTreeMap<String, String>;

/// Why a configuration could not be loaded, validated or saved.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read, written, synced or renamed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The file is not a valid rvs configuration.
    #[error("{0}: corrupt configuration: {1}")]
    Corrupt(PathBuf, String),
    /// The file was written by a newer rvs.
    #[error(
        "{path}: configuration schema version {found} is newer than the version {supported} this rvs supports; refusing to use or overwrite it"
    )]
    NewerSchema {
        /// The file concerned.
        path: PathBuf,
        /// Version found in the file.
        found: u64,
        /// Highest version supported.
        supported: u32,
    },
    /// A value breaks the rules of the model (the message names the record and value).
    #[error("{0}")]
    Invalid(String),
}

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

    /// Path of the configuration file inside `dbdir`.
    pub fn path(dbdir: &Path) -> PathBuf {
        dbdir.join(CONF_FILE)
    }

    /// Loads `DBDIR/conf.json`. A missing file gives a fresh configuration; an unreadable,
    /// corrupt, invalid or newer-schema file is an error (the caller must not overwrite it).
    pub fn load(dbdir: &Path) -> Result<Config, ConfigError> {
        let path = Self::path(dbdir);
        let mut bytes = Vec::new();
        match fs::File::open(&path) {
            Ok(mut f) => f
                .read_to_end(&mut bytes)
                .map_err(|source| ConfigError::Io {
                    path: path.clone(),
                    source,
                })?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Config::new()),
            Err(source) => return Err(ConfigError::Io { path, source }),
        };
        Self::from_json_bytes(&bytes).map_err(|e| match e {
            ConfigError::Corrupt(_, m) => ConfigError::Corrupt(path.clone(), m),
            ConfigError::NewerSchema {
                found, supported, ..
            } => ConfigError::NewerSchema {
                path: path.clone(),
                found,
                supported,
            },
            ConfigError::Invalid(m) => ConfigError::Corrupt(path.clone(), m),
            other => other,
        })
    }

    /// Parses and validates a configuration file's contents. Never panics.
    pub fn from_json_bytes(bytes: &[u8]) -> Result<Config, ConfigError> {
        let here = PathBuf::from(CONF_FILE);
        let value: serde_json::Value = serde_json::from_slice(bytes)
            .map_err(|e| ConfigError::Corrupt(here.clone(), e.to_string()))?;
        let obj = value
            .as_object()
            .ok_or_else(|| ConfigError::Corrupt(here.clone(), "not a JSON object".into()))?;
        let version = obj
            .get("schema_version")
            .and_then(|v| v.as_u64())
            .ok_or_else(|| {
                ConfigError::Corrupt(here.clone(), "missing or invalid schema_version".into())
            })?;
        if version > u64::from(SCHEMA_VERSION) {
            return Err(ConfigError::NewerSchema {
                path: here,
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        if version == 0 {
            return Err(ConfigError::Corrupt(
                here,
                "schema_version 0 is invalid".into(),
            ));
        }
        let cfg: Config = serde_json::from_value(value)
            .map_err(|e| ConfigError::Corrupt(here.clone(), e.to_string()))?;
        cfg.validate()
            .map_err(|e| ConfigError::Corrupt(here, e.to_string()))?;
        Ok(cfg)
    }

    /// Serializes the configuration as pretty JSON (what [`Config::save`] writes).
    pub fn to_json_bytes(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec_pretty(self).unwrap_or_default();
        out.push(b'\n');
        out
    }

    /// Writes `DBDIR/conf.json` atomically (see the module header): an error means nothing
    /// changed on disk; `Ok` means the new file is in place.
    pub fn save(&self, dbdir: &Path) -> Result<(), ConfigError> {
        crate::files::replace_file(&Self::path(dbdir), &self.to_json_bytes(), 0o600).map_err(|e| {
            ConfigError::Io {
                path: e.path,
                source: e.source,
            }
        })
    }

    /// Remove temporary files a crashed save left in `dbdir`; returns how many.
    pub fn remove_stale_temps(dbdir: &Path) -> usize {
        crate::files::remove_stale_temps(&Self::path(dbdir))
    }

    /// Checks every invariant listed in the module header. The error names the offending
    /// record and value.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: String| Err(ConfigError::Invalid(m));
        if self.schema_version == 0 || self.schema_version > SCHEMA_VERSION {
            return bad(format!(
                "unsupported schema_version {}",
                self.schema_version
            ));
        }
        let mut uuids = BTreeSet::new();
        let mut check_uuid = |u: &str, what: &str| -> Result<(), ConfigError> {
            if !is_uuid(u) {
                return Err(ConfigError::Invalid(format!(
                    "{what}: invalid UUID \"{u}\""
                )));
            }
            if !uuids.insert(u.to_string()) {
                return Err(ConfigError::Invalid(format!("{what}: duplicate UUID {u}")));
            }
            Ok(())
        };
        check_uuid(&self.uuid, "Open_vSwitch")?;
        validate_other_config(&self.other_config, "Open_vSwitch")?;
        let mut br_names = BTreeSet::new();
        let mut port_names = BTreeSet::new();
        let mut iface_names = BTreeSet::new();
        for br in &self.bridges {
            let what = format!("bridge {}", br.name);
            if br.name.is_empty() {
                return bad("bridge with empty name".into());
            }
            if !br_names.insert(br.name.as_str()) {
                return bad(format!("duplicate bridge name {}", br.name));
            }
            check_uuid(&br.uuid, &what)?;
            if !matches!(br.datapath_type.as_str(), "" | "netdev") {
                return bad(format!(
                    "{what}: unsupported datapath_type \"{}\" (rvs supports netdev)",
                    br.datapath_type
                ));
            }
            validate_other_config(&br.other_config, &what)?;
            for p in &br.ports {
                let what = format!("port {}", p.name);
                if p.name.is_empty() {
                    return bad(format!("bridge {}: port with empty name", br.name));
                }
                if !port_names.insert(p.name.as_str()) {
                    return bad(format!("duplicate port name {}", p.name));
                }
                check_uuid(&p.uuid, &what)?;
                if p.interfaces.is_empty() {
                    return bad(format!("{what}: a port must have at least one interface"));
                }
                if let Some(t) = p.tag {
                    if t > 4095 {
                        return bad(format!("{what}: tag {t} is not in the range 0 to 4095"));
                    }
                }
                let mut prev: Option<u16> = None;
                for &t in &p.trunks {
                    if t > 4095 {
                        return bad(format!("{what}: trunk {t} is not in the range 0 to 4095"));
                    }
                    if prev.is_some_and(|q| q >= t) {
                        return bad(format!("{what}: trunks must be sorted and unique"));
                    }
                    prev = Some(t);
                }
                if let Some(m) = &p.vlan_mode {
                    if !VLAN_MODES.contains(&m.as_str()) {
                        return bad(format!("{what}: unknown vlan_mode \"{m}\""));
                    }
                }
                for i in &p.interfaces {
                    let what = format!("interface {}", i.name);
                    if i.name.is_empty() {
                        return bad(format!("port {}: interface with empty name", p.name));
                    }
                    if !iface_names.insert(i.name.as_str()) {
                        return bad(format!("duplicate interface name {}", i.name));
                    }
                    check_uuid(&i.uuid, &what)?;
                    validate_options(&i.name, &i.type_, &i.options)?;
                    if let Some(r) = i.ofport_request {
                        if !(1..=OFPORT_MAX).contains(&r) {
                            return bad(format!(
                                "{what}: ofport_request {r} is not in the range 1 to {OFPORT_MAX}"
                            ));
                        }
                    }
                    if let Some(m) = i.mtu_request {
                        if !(1..=65535).contains(&m) {
                            return bad(format!(
                                "{what}: mtu_request {m} is not in the range 1 to 65535"
                            ));
                        }
                    }
                    if i.ofport != 0
                        && i.ofport != OFPP_LOCAL
                        && !(1..=OFPORT_MAX).contains(&i.ofport)
                    {
                        return bad(format!("{what}: invalid ofport {}", i.ofport));
                    }
                }
            }
        }
        Ok(())
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

fn int_in(v: &str, lo: i64, hi: i64) -> bool {
    v.parse::<i64>().is_ok_and(|n| (lo..=hi).contains(&n))
}

/// Checks `options` for an interface of type `type_`. Unknown types and options are errors
/// that name them.
pub fn validate_options(iface: &str, type_: &str, options: &Map) -> Result<(), ConfigError> {
    let err = |m: String| Err(ConfigError::Invalid(format!("interface {iface}: {m}")));
    match type_ {
        "" | "system" | "internal" | "tap" => {
            if let Some(k) = options.keys().next() {
                let t = if type_.is_empty() { "system" } else { type_ };
                return err(format!("unknown option \"{k}\" for interface type {t} (it takes no options)"));
            }
        }
        t if TunnelKind::from_type(t).is_some() => {
            let kind = TunnelKind::from_type(t).unwrap_or(TunnelKind::Gre);
            let known = kind.options();
            if let Some(k) = options.keys().find(|k| !known.contains(&k.as_str())) {
                return err(format!(
                    "unknown option \"{k}\" for interface type {t} (known: {})",
                    known.join(", ")
                ));
            }
            // The datapath's parser is the one judge of the values.
            if let Err(e) = TunnelConfig::from_options(kind, options) {
                return err(e.to_string());
            }
        }
        "afxdp" => {
            for (k, v) in options {
                let ok = match k.as_str() {
                    "xdp-mode" => matches!(v.as_str(), "best-effort" | "native" | "generic"),
                    "n_rxq" => int_in(v, 1, 1024),
                    _ => {
                        return err(format!(
                            "unknown option \"{k}\" for interface type afxdp (known: xdp-mode, n_rxq)"
                        ))
                    }
                };
                if !ok {
                    return err(format!("invalid value \"{v}\" for afxdp option {k}"));
                }
            }
        }
        other => {
            return err(format!(
                "unsupported interface type \"{other}\" (rvs supports: system, internal, tap, afxdp, gre, vxlan, geneve)"
            ))
        }
    }
    Ok(())
}

/// Checks the values of the `other_config` keys rvs honours; other keys are kept as OVS does.
pub fn validate_other_config(oc: &Map, what: &str) -> Result<(), ConfigError> {
    for (k, v) in oc {
        let ok = match k.as_str() {
            "mac-aging-time" | "mac-table-size" => v.parse::<i64>().is_ok(),
            "n-pmd" => int_in(v, 1, 1024),
            "pmd-cpu-mask" => {
                let h = v
                    .strip_prefix("0x")
                    .or_else(|| v.strip_prefix("0X"))
                    .unwrap_or(v);
                !h.is_empty() && h.len() <= 256 && h.bytes().all(|b| b.is_ascii_hexdigit())
            }
            _ => true,
        };
        if !ok {
            return Err(ConfigError::Invalid(format!(
                "{what}: invalid value \"{v}\" for other_config:{k}"
            )));
        }
    }
    Ok(())
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

    fn tmpdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "rvs-config-test-{tag}-{}-{}",
            std::process::id(),
            &new_uuid()[..8]
        ));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    fn sample() -> Config {
        let mut c = Config::new();
        let mut br = Bridge::new("br0");
        let mut p = Port::new("p1");
        p.tag = Some(10);
        p.interfaces[0]
            .external_ids
            .insert("container_id".into(), "c1".into());
        br.ports.push(p);
        let mut g = Port::new("gre0");
        g.interfaces[0].type_ = "gre".into();
        g.interfaces[0]
            .options
            .insert("remote_ip".into(), "10.0.0.2".into());
        br.ports.push(g);
        br.other_config.insert("mac-aging-time".into(), "30".into());
        c.bridges.push(br);
        c.assign_ofports();
        c
    }

    /// Defect: config validation and the datapath parsed GRE options each their own way:
    /// `key=0x1234` was refused here and accepted by the datapath, `tos=1` accepted here and
    /// refused by the datapath (ECN bits). Now the datapath's parser decides both.
    #[test]
    fn gre_options_are_judged_by_the_datapath_parser() {
        let opts = |kv: &[(&str, &str)]| -> Map {
            kv.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let base = [("remote_ip", "10.0.0.2")];
        for (kv, ok) in [
            (vec![("key", "0x1234")], true),
            (vec![("tos", "1")], false),
            (vec![("tos", "4")], true),
            (vec![("ttl", "0")], false),
            (vec![("key", "flow")], true),
            (vec![("csum", "yes")], false),
        ] {
            let mut all = base.to_vec();
            all.extend(kv.iter().copied());
            let o = opts(&all);
            let dp = rvs_datapath::tunnel::TunnelConfig::from_options(TunnelKind::Gre, &o).is_ok();
            let cfg = validate_options("gre0", "gre", &o).is_ok();
            assert_eq!((cfg, dp), (ok, ok), "{kv:?}");
        }
        assert!(validate_options(
            "gre0",
            "gre",
            &opts(&[("remote_ip", "10.0.0.2"), ("foo", "1")])
        )
        .is_err_and(|e| e.to_string().contains("unknown option \"foo\"")));
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

    #[test]
    fn round_trip() {
        let d = tmpdir("rt");
        let c = sample();
        c.save(&d).unwrap();
        let back = Config::load(&d).unwrap();
        assert_eq!(c, back);
        // No temp files left behind.
        let names: Vec<_> = fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, vec![CONF_FILE.to_string()]);
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn missing_file_gives_fresh_config() {
        let d = tmpdir("fresh");
        let c = Config::load(&d).unwrap();
        assert!(c.bridges.is_empty());
        assert_eq!(c.schema_version, SCHEMA_VERSION);
        assert!(is_uuid(&c.uuid));
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn corrupt_file_refused_and_untouched() {
        let d = tmpdir("corrupt");
        let p = Config::path(&d);
        fs::write(&p, b"{\"schema_version\": 1, \"uuid\": ").unwrap();
        let e = Config::load(&d).unwrap_err();
        assert!(matches!(e, ConfigError::Corrupt(..)), "{e}");
        assert!(e.to_string().contains("corrupt configuration"), "{e}");
        assert!(e.to_string().contains("conf.json"), "{e}");
        assert_eq!(fs::read(&p).unwrap(), b"{\"schema_version\": 1, \"uuid\": ");
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn newer_schema_refused() {
        let d = tmpdir("newer");
        let p = Config::path(&d);
        let text = br#"{"schema_version": 99, "uuid": "x", "future_field": true}"#;
        fs::write(&p, text).unwrap();
        let e = Config::load(&d).unwrap_err();
        assert!(
            matches!(e, ConfigError::NewerSchema { found: 99, .. }),
            "{e}"
        );
        assert!(e.to_string().contains("newer"), "{e}");
        assert_eq!(fs::read(&p).unwrap(), text);
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn invalid_content_refused() {
        let mut c = sample();
        c.bridges[0].ports[1].interfaces[0].type_ = "erspan".into();
        let bytes = c.to_json_bytes();
        let e = Config::from_json_bytes(&bytes).unwrap_err();
        assert!(e.to_string().contains("erspan"), "{e}");
        let bytes =
            br#"{"schema_version":1,"uuid":"4c7acb42-0e7d-415c-8e2d-26389d3cb985","bogus":1}"#;
        let e = Config::from_json_bytes(bytes).unwrap_err();
        assert!(e.to_string().contains("bogus"), "{e}");
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let seeds: &[&[u8]] = &[
            b"",
            b"null",
            b"[]",
            b"{}",
            b"{\"schema_version\":-1}",
            b"{\"schema_version\":1e99}",
            b"{\"schema_version\":1,\"uuid\":\"\",\"bridges\":[{}]}",
            &[0xff, 0xfe, 0x00],
            b"{\"schema_version\":1,\"uuid\":\"4c7acb42-0e7d-415c-8e2d-26389d3cb985\",\"bridges\":[{\"name\":\"b\",\"uuid\":\"4c7acb42-0e7d-415c-8e2d-26389d3cb986\",\"ports\":[{\"name\":\"p\",\"uuid\":\"4c7acb42-0e7d-415c-8e2d-26389d3cb987\",\"interfaces\":[],\"tag\":70000}]}]}",
        ];
        for s in seeds {
            assert!(Config::from_json_bytes(s).is_err());
        }
        let deep = "[".repeat(100_000);
        assert!(Config::from_json_bytes(deep.as_bytes()).is_err());
        // Every prefix of a valid file.
        let good = sample().to_json_bytes();
        for n in 0..good.len() {
            let _ = Config::from_json_bytes(&good[..n]);
        }
        assert!(Config::from_json_bytes(&good).is_ok());
    }

    #[test]
    fn save_into_unusable_dir_fails_cleanly() {
        // Running as root ignores permission bits, so simulate an unwritable database
        // directory with a path whose parent is a regular file (ENOTDIR).
        let d = tmpdir("ro");
        let file = d.join("not-a-dir");
        fs::write(&file, b"x").unwrap();
        let e = sample().save(&file).unwrap_err();
        assert!(matches!(e, ConfigError::Io { .. }), "{e}");
        assert_eq!(fs::read(&file).unwrap(), b"x");
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn failed_rename_keeps_old_file() {
        // conf.json is a non-empty directory: the rename fails after the temp file was written;
        // the old "file" must be intact and the temp file removed.
        let d = tmpdir("rename");
        let p = Config::path(&d);
        fs::create_dir(&p).unwrap();
        fs::write(p.join("keep"), b"old").unwrap();
        let e = sample().save(&d).unwrap_err();
        assert!(matches!(e, ConfigError::Io { .. }), "{e}");
        assert_eq!(fs::read(p.join("keep")).unwrap(), b"old");
        assert_eq!(fs::read_dir(&d).unwrap().count(), 1);
        fs::remove_dir_all(&d).unwrap();
    }

    /// Disk full: needs root and `mount`, so it is ignored by default
    /// (`cargo test -p rvs-control --lib -- --ignored save_on_full_disk`).
    #[test]
    #[ignore]
    fn save_on_full_disk_keeps_old_file() {
        use std::process::Command;
        let d = tmpdir("full");
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
            .arg(&d)
            .status()
            .is_ok_and(|s| s.success());
        if !mounted {
            eprintln!("cannot mount a tmpfs here; skipping");
            return;
        }
        let result = std::panic::catch_unwind(|| {
            let mut c = sample();
            c.save(&d).unwrap();
            let before = fs::read(Config::path(&d)).unwrap();
            let _ = fs::write(d.join("filler"), vec![0u8; 1 << 20]);
            for i in 0..200 {
                let mut b = Bridge::new(&format!("b{i}"));
                b.external_ids.insert("k".into(), "v".repeat(100));
                c.bridges.push(b);
            }
            let e = c.save(&d).unwrap_err();
            assert!(e.to_string().contains("No space left"), "{e}");
            assert_eq!(fs::read(Config::path(&d)).unwrap(), before);
            assert!(Config::load(&d).is_ok());
            let n = fs::read_dir(&d).unwrap().count();
            assert_eq!(n, 2, "temp file left behind");
        });
        let _ = Command::new("umount").arg(&d).status();
        let _ = fs::remove_dir_all(&d);
        if let Err(p) = result {
            std::panic::resume_unwind(p);
        }
    }

    #[test]
    fn options_validation() {
        let m = |kv: &[(&str, &str)]| -> Map {
            kv.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert!(validate_options("g", "gre", &m(&[("remote_ip", "10.0.0.2")])).is_ok());
        assert!(validate_options(
            "g",
            "gre",
            &m(&[
                ("remote_ip", "10.0.0.2"),
                ("key", "4660"),
                ("csum", "true"),
                ("ttl", "inherit"),
                ("tos", "0"),
                ("df_default", "false"),
                ("local_ip", "10.0.0.1"),
                ("in_key", "flow"),
                ("out_key", "1")
            ])
        )
        .is_ok());
        let e = validate_options("g", "gre", &Map::new()).unwrap_err();
        assert!(e.to_string().contains("remote_ip"), "{e}");
        let e = validate_options("g", "gre", &m(&[("remote_ip", "fe80::1")])).unwrap_err();
        assert!(e.to_string().contains("fe80::1"), "{e}");
        let e = validate_options("g", "gre", &m(&[("remote_ip", "1.2.3.4"), ("bogus", "1")]))
            .unwrap_err();
        assert!(e.to_string().contains("bogus"), "{e}");
        assert!(
            validate_options("g", "gre", &m(&[("remote_ip", "1.2.3.4"), ("ttl", "0")])).is_err()
        );
        assert!(
            validate_options("x", "afxdp", &m(&[("xdp-mode", "native"), ("n_rxq", "2")])).is_ok()
        );
        assert!(validate_options("x", "afxdp", &m(&[("xdp-mode", "zerocopy")])).is_err());
        assert!(validate_options("t", "tap", &m(&[("a", "b")])).is_err());
        let e = validate_options("v", "erspan", &Map::new()).unwrap_err();
        assert!(e.to_string().contains("erspan"), "{e}");
        // VXLAN: the datapath parser judges (24-bit VNI, dst_port).
        let e = validate_options("v", "vxlan", &Map::new()).unwrap_err();
        assert!(e.to_string().contains("remote_ip"), "{e}");
        let v = |kv: &[(&str, &str)]| validate_options("v", "vxlan", &m(kv));
        assert!(v(&[
            ("remote_ip", "1.2.3.4"),
            ("key", "16777215"),
            ("dst_port", "8472")
        ])
        .is_ok());
        assert!(v(&[("remote_ip", "1.2.3.4"), ("key", "16777216")]).is_err());
        assert!(v(&[("remote_ip", "1.2.3.4"), ("dst_port", "0")]).is_err());
        assert!(validate_other_config(&m(&[("mac-aging-time", "5")]), "b").is_ok());
        assert!(validate_other_config(&m(&[("mac-aging-time", "x")]), "b").is_err());
        assert!(validate_other_config(&m(&[("pmd-cpu-mask", "0x6")]), "b").is_ok());
        assert!(validate_other_config(&m(&[("hwaddr", "whatever")]), "b").is_ok());
    }
}
