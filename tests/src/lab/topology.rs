//! The topology a lab is built from: switches, hosts and tunnels, read from a TOML file (or
//! made with a builder), checked, and turned into a [`Plan`] with every name and address the
//! lab will use.
//!
//! Nothing is created here: [`Topology::plan`] is pure, so a bad file creates nothing. Each
//! error names the key (`host[2].ip`) and, for a file, the line and column of its value (the
//! toml crate's spans). The plan is deterministic: the same file gives the same interface
//! names, MACs and underlay addresses.
//!
//! Rules the plan enforces:
//! - node names (switches and hosts share one namespace) are 1–12 characters of
//!   `[A-Za-z0-9_-]` starting with a letter, unique, and not an interface name the lab uses
//!   itself (`br0`, `lo`, `ulN`, `greN`, `vxlanN`, `geneveN`): a host's name is also the name
//!   of its port on the switch;
//! - a host names an existing switch, has an IPv4 `ip` with a prefix length from 1 to 30
//!   that is neither the network nor the broadcast address and not in 0/8, 127/8,
//!   192.0.2.0/24 (this machine's own network) or 224/3, unique in the lab; `vlan` is 1–4094;
//!   an explicit `mac` is unicast and unique;
//! - a tunnel joins two different existing switches, at most one tunnel per pair, and no
//!   tunnels form a loop (rvs has no STP: a loop would flood forever).

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::Ipv4Addr;
use std::ops::Range;
use toml::Spanned;

/// Longest node name (a host's name is also its switch port's interface name).
pub const NODE_NAME_MAX: usize = 12;

/// The bridge every switch runs.
pub const BRIDGE: &str = "br0";

/// The interface name of a host's port inside the host.
pub const HOST_IF: &str = "eth0";

/// A tunnel's encapsulation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TunnelKind {
    /// GRE (`type=gre`).
    Gre,
    /// VXLAN (`type=vxlan`; `key` is the VNI).
    Vxlan,
    /// Geneve (`type=geneve`; `key` is the VNI).
    Geneve,
}

impl TunnelKind {
    /// The OVS interface type.
    pub fn as_str(self) -> &'static str {
        match self {
            TunnelKind::Gre => "gre",
            TunnelKind::Vxlan => "vxlan",
            TunnelKind::Geneve => "geneve",
        }
    }

    fn parse(s: &str) -> Option<TunnelKind> {
        [TunnelKind::Gre, TunnelKind::Vxlan, TunnelKind::Geneve]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// One `[[switch]]`: an rvsd in its own namespace with bridge `br0`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwitchSpec {
    /// Node name.
    pub name: String,
}

/// One `[[host]]`: a namespace whose `eth0` is a port of a switch's `br0`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostSpec {
    /// Node name (also the name of its port on the switch).
    pub name: String,
    /// The switch it hangs off.
    pub switch: String,
    /// IPv4 address with prefix length, e.g. `10.0.0.1/24`.
    pub ip: String,
    /// Access VLAN of its port (`tag=`), if any.
    pub vlan: Option<u16>,
    /// Ethernet address of its `eth0` (allocated when `None`).
    pub mac: Option<String>,
}

impl HostSpec {
    /// A host `name` on `switch` with address `ip` (CIDR), untagged, MAC allocated.
    pub fn new(name: &str, switch: &str, ip: &str) -> HostSpec {
        HostSpec {
            name: name.into(),
            switch: switch.into(),
            ip: ip.into(),
            vlan: None,
            mac: None,
        }
    }

    /// Put the host's port in access VLAN `vlan`.
    pub fn vlan(mut self, vlan: u16) -> HostSpec {
        self.vlan = Some(vlan);
        self
    }

    /// Give the host's `eth0` this MAC.
    pub fn mac(mut self, mac: &str) -> HostSpec {
        self.mac = Some(mac.into());
        self
    }
}

/// One `[[tunnel]]`: an underlay veth between two switch namespaces and a tunnel port on
/// each switch's `br0`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TunnelSpec {
    /// The two switches.
    pub between: Vec<String>,
    /// Encapsulation.
    pub kind: TunnelKind,
    /// Tunnel key (`options:key=`), if any.
    pub key: Option<u32>,
}

/// A topology: what a lab consists of. Build it with [`Topology::from_toml`] or the builder
/// methods ([`Topology::new`], [`Topology::switch`], [`Topology::host`], [`Topology::tunnel`]).
#[derive(Debug, Clone, Default)]
pub struct Topology {
    /// The switches, in order.
    pub switches: Vec<SwitchSpec>,
    /// The hosts, in order.
    pub hosts: Vec<HostSpec>,
    /// The tunnels, in order.
    pub tunnels: Vec<TunnelSpec>,
    origin: Option<Origin>,
}

/// Where a topology came from: its text, file name and the span of every key's value.
#[derive(Debug, Clone, Default)]
struct Origin {
    file: Option<String>,
    text: String,
    spans: HashMap<String, Range<usize>>,
}

/// A topology that cannot be built, naming the key and, for a file, where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopologyError {
    /// The file, when read from one.
    pub file: Option<String>,
    /// 1-based line and column of the offending value, when known.
    pub at: Option<(usize, usize)>,
    /// The key, e.g. `host[2].ip` (empty for a syntax error).
    pub key: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for TopologyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.file, self.at) {
            (Some(file), Some((l, c))) => write!(f, "{file}:{l}:{c}: ")?,
            (Some(file), None) => write!(f, "{file}: ")?,
            (None, Some((l, c))) => write!(f, "line {l}, column {c}: ")?,
            (None, None) => {}
        }
        if !self.key.is_empty() {
            write!(f, "{}: ", self.key)?;
        }
        write!(f, "{}", self.message)
    }
}

impl std::error::Error for TopologyError {}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, col)
}

/// The key whose line holds `offset`, as `table[i].key` (`host[1].vlan`), for errors the
/// toml crate reports by span only (wrong type, unknown key). Empty when the line has no key
/// (e.g. a syntax error in a header).
fn key_at(text: &str, offset: usize) -> String {
    let offset = offset.min(text.len());
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line = text[line_start..].lines().next().unwrap_or_default().trim();
    let mut counts: HashMap<&str, usize> = HashMap::new();
    let mut table = String::new();
    for l in text[..line_start].lines().map(str::trim) {
        if let Some(name) = l.strip_prefix("[[").and_then(|r| r.split("]]").next()) {
            let n = counts.entry(name.trim()).or_insert(0);
            table = format!("{}[{n}].", name.trim());
            *n += 1;
        } else if let Some(name) = l.strip_prefix('[').and_then(|r| r.split(']').next()) {
            table = format!("{}.", name.trim());
        }
    }
    match line.split_once('=') {
        Some((key, _)) if !line.starts_with('[') => format!("{table}{}", key.trim()),
        _ => String::new(),
    }
}

// ---- the file format ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileToml {
    #[serde(default)]
    switch: Vec<SwitchToml>,
    #[serde(default)]
    host: Vec<HostToml>,
    #[serde(default)]
    tunnel: Vec<TunnelToml>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SwitchToml {
    name: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HostToml {
    name: Spanned<String>,
    switch: Spanned<String>,
    ip: Spanned<String>,
    vlan: Option<Spanned<i64>>,
    mac: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TunnelToml {
    between: Spanned<Vec<Spanned<String>>>,
    #[serde(rename = "type")]
    kind: Option<Spanned<String>>,
    key: Option<Spanned<i64>>,
}

impl Topology {
    /// An empty topology, to add to with the builder methods.
    pub fn new() -> Topology {
        Topology::default()
    }

    /// Add a switch `name`.
    pub fn switch(mut self, name: &str) -> Topology {
        self.switches.push(SwitchSpec { name: name.into() });
        self
    }

    /// Add an untagged host `name` on `switch` with address `ip` (CIDR).
    pub fn host(self, name: &str, switch: &str, ip: &str) -> Topology {
        self.host_spec(HostSpec::new(name, switch, ip))
    }

    /// Add a host described in full (e.g. `HostSpec::new(…).vlan(10)`).
    pub fn host_spec(mut self, host: HostSpec) -> Topology {
        self.hosts.push(host);
        self
    }

    /// Add a tunnel of `kind` between switches `a` and `b`.
    pub fn tunnel(mut self, a: &str, b: &str, kind: TunnelKind) -> Topology {
        self.tunnels.push(TunnelSpec {
            between: vec![a.into(), b.into()],
            kind,
            key: None,
        });
        self
    }

    /// Read a topology file; errors name the file, line and key.
    pub fn from_file(path: &std::path::Path) -> Result<Topology, TopologyError> {
        let text = std::fs::read_to_string(path).map_err(|e| TopologyError {
            file: Some(path.display().to_string()),
            at: None,
            key: String::new(),
            message: e.to_string(),
        })?;
        Topology::parse(&text, Some(path.display().to_string()))
    }

    /// Parse a topology from TOML text (see the module documentation for the keys) and
    /// check it ([`Topology::plan`]); errors give line, column and key.
    pub fn from_toml(text: &str) -> Result<Topology, TopologyError> {
        Topology::parse(text, None)
    }

    fn parse(text: &str, file: Option<String>) -> Result<Topology, TopologyError> {
        let mut origin = Origin {
            file,
            text: text.to_string(),
            spans: HashMap::new(),
        };
        let raw: FileToml = toml::from_str(text).map_err(|e| TopologyError {
            file: origin.file.clone(),
            at: e.span().map(|s| line_col(text, s.start)),
            key: e.span().map(|s| key_at(text, s.start)).unwrap_or_default(),
            message: e.message().trim().to_string(),
        })?;
        let mut t = Topology::new();
        let mut err = None;
        for (i, s) in raw.switch.into_iter().enumerate() {
            origin
                .spans
                .insert(format!("switch[{i}].name"), s.name.span());
            t.switches.push(SwitchSpec {
                name: s.name.into_inner(),
            });
        }
        for (i, h) in raw.host.into_iter().enumerate() {
            let k = |f: &str| format!("host[{i}].{f}");
            origin.spans.insert(k("name"), h.name.span());
            origin.spans.insert(k("switch"), h.switch.span());
            origin.spans.insert(k("ip"), h.ip.span());
            // The range is checked by `plan`; here only what does not fit a u16.
            let vlan = match h.vlan {
                None => None,
                Some(v) => {
                    origin.spans.insert(k("vlan"), v.span());
                    let n = *v.get_ref();
                    let fits = u16::try_from(n).ok();
                    if fits.is_none() {
                        err.get_or_insert((k("vlan"), format!("{n} is not a VLAN id (1 to 4094)")));
                    }
                    fits
                }
            };
            if let Some(m) = &h.mac {
                origin.spans.insert(k("mac"), m.span());
            }
            t.hosts.push(HostSpec {
                name: h.name.into_inner(),
                switch: h.switch.into_inner(),
                ip: h.ip.into_inner(),
                vlan,
                mac: h.mac.map(Spanned::into_inner),
            });
        }
        for (i, tu) in raw.tunnel.into_iter().enumerate() {
            let k = |f: &str| format!("tunnel[{i}].{f}");
            origin.spans.insert(k("between"), tu.between.span());
            for (j, b) in tu.between.get_ref().iter().enumerate() {
                origin
                    .spans
                    .insert(format!("tunnel[{i}].between[{j}]"), b.span());
            }
            let kind = match &tu.kind {
                None => TunnelKind::Gre,
                Some(s) => {
                    origin.spans.insert(k("type"), s.span());
                    TunnelKind::parse(s.get_ref()).unwrap_or_else(|| {
                        err.get_or_insert((
                            k("type"),
                            format!(
                                "unknown tunnel type {:?} (gre, vxlan or geneve)",
                                s.get_ref()
                            ),
                        ));
                        TunnelKind::Gre
                    })
                }
            };
            let key = tu.key.map(|v| {
                origin.spans.insert(k("key"), v.span());
                let n = *v.get_ref();
                u32::try_from(n).unwrap_or_else(|_| {
                    err.get_or_insert((k("key"), format!("{n} is not a 32-bit tunnel key")));
                    0
                })
            });
            t.tunnels.push(TunnelSpec {
                between: tu
                    .between
                    .into_inner()
                    .into_iter()
                    .map(Spanned::into_inner)
                    .collect(),
                kind,
                key,
            });
        }
        t.origin = Some(origin);
        if let Some((key, msg)) = err {
            return Err(t.error(&key, msg));
        }
        t.plan()?;
        Ok(t)
    }

    /// An error about `key`, located when the topology came from text.
    fn error(&self, key: &str, message: String) -> TopologyError {
        let o = self.origin.as_ref();
        TopologyError {
            file: o.and_then(|o| o.file.clone()),
            at: o.and_then(|o| {
                let span = o.spans.get(key)?;
                Some(line_col(&o.text, span.start))
            }),
            key: key.to_string(),
            message,
        }
    }

    /// " (line N)" for `key` when known: points at the other half of a conflict.
    fn line_of(&self, key: &str) -> String {
        self.origin
            .as_ref()
            .and_then(|o| {
                let span = o.spans.get(key)?;
                Some(format!(" (line {})", line_col(&o.text, span.start).0))
            })
            .unwrap_or_default()
    }

    /// Check the topology and allocate every name and address; creates nothing.
    pub fn plan(&self) -> Result<Plan, TopologyError> {
        if self.switches.is_empty() {
            return Err(self.error("switch", "a lab needs at least one [[switch]]".into()));
        }
        let nodes = self.check_names()?;
        let mut domain = UnionFind::new(self.switches.len());
        let ends = self.check_tunnels(&nodes, &mut domain)?;
        let hosts = self.plan_hosts(&nodes, &mut domain)?;
        let underlays: Vec<Ipv4Addr> = underlay_subnets(&hosts).take(self.tunnels.len()).collect();
        let mut tunnels = vec![];
        for (i, (t, idx)) in self.tunnels.iter().zip(&ends).enumerate() {
            let o = underlays
                .get(i)
                .ok_or_else(|| {
                    self.error(
                        &format!("tunnel[{i}].between"),
                        "no free underlay /24 left in 172.16.0.0/12".into(),
                    )
                })?
                .octets();
            let end = |j: usize| TunnelEnd {
                switch: self.switches[idx[j]].name.clone(),
                underlay_if: format!("ul{i}"),
                underlay_ip: format!("{}.{}.{}.{}/24", o[0], o[1], o[2], j + 1),
                port: format!("{}{i}", t.kind.as_str()),
            };
            tunnels.push(PlannedTunnel {
                kind: t.kind,
                key: t.key,
                ends: [end(0), end(1)],
            });
        }
        let switches = self
            .switches
            .iter()
            .map(|s| PlannedSwitch {
                name: s.name.clone(),
                bridge: BRIDGE.into(),
            })
            .collect();
        Ok(Plan {
            switches,
            hosts,
            tunnels,
        })
    }

    /// Node names are valid and unique across switches and hosts: name → its key.
    fn check_names(&self) -> Result<BTreeMap<&str, String>, TopologyError> {
        let mut nodes: BTreeMap<&str, String> = BTreeMap::new();
        let switches = self.switches.iter().map(|s| &s.name);
        let hosts = self.hosts.iter().map(|h| &h.name);
        let keyed = switches
            .enumerate()
            .map(|(i, n)| (n, format!("switch[{i}].name")))
            .chain(
                hosts
                    .enumerate()
                    .map(|(i, n)| (n, format!("host[{i}].name"))),
            );
        for (name, key) in keyed {
            check_node_name(name).map_err(|m| self.error(&key, m))?;
            if let Some(other) = nodes.get(name.as_str()) {
                let first = format!("{other}{}", self.line_of(other));
                return Err(
                    self.error(&key, format!("duplicate name {name:?}: {first} has it too"))
                );
            }
            nodes.insert(name, key);
        }
        Ok(nodes)
    }

    /// The index of switch `name`, or an error at `key` saying what `name` is instead.
    fn switch_at(
        &self,
        nodes: &BTreeMap<&str, String>,
        key: &str,
        name: &str,
    ) -> Result<usize, TopologyError> {
        self.switches
            .iter()
            .position(|s| s.name == name)
            .ok_or_else(|| {
                let what = if nodes.contains_key(name) {
                    "is a host, not a switch"
                } else {
                    "is not a switch"
                };
                let known: Vec<&str> = self.switches.iter().map(|s| s.name.as_str()).collect();
                let msg = format!("{name:?} {what} (switches: {})", known.join(", "));
                self.error(key, msg)
            })
    }

    /// Tunnels join two different existing switches, each pair once, without loops; joins
    /// their L2 domains. Returns the switch indexes of each tunnel's ends.
    fn check_tunnels(
        &self,
        nodes: &BTreeMap<&str, String>,
        domain: &mut UnionFind,
    ) -> Result<Vec<[usize; 2]>, TopologyError> {
        let mut pairs: HashMap<(usize, usize), usize> = HashMap::new();
        let mut ends = vec![];
        for (i, t) in self.tunnels.iter().enumerate() {
            let key = format!("tunnel[{i}].between");
            let [a, b] = t.between.as_slice() else {
                let n = t.between.len();
                let msg = format!("names {n} switches; a tunnel is between exactly two");
                return Err(self.error(&key, msg));
            };
            let idx = [
                self.switch_at(nodes, &format!("{key}[0]"), a)?,
                self.switch_at(nodes, &format!("{key}[1]"), b)?,
            ];
            if idx[0] == idx[1] {
                return Err(self.error(&key, format!("a tunnel from {a:?} to itself")));
            }
            let pair = (idx[0].min(idx[1]), idx[0].max(idx[1]));
            if let Some(j) = pairs.insert(pair, i) {
                let other = format!(
                    "tunnel[{j}]{}",
                    self.line_of(&format!("tunnel[{j}].between"))
                );
                let msg = format!("{a} and {b} are already joined by {other}");
                return Err(self.error(&key, msg));
            }
            if !domain.union(idx[0], idx[1]) {
                let msg = format!(
                    "tunnel {a} <-> {b} closes a loop (they are already joined through other \
                     tunnels); rvs has no STP, and a loop would flood forever"
                );
                return Err(self.error(&key, msg));
            }
            ends.push(idx);
        }
        Ok(ends)
    }

    /// Hosts: existing switch, usable and unique address, VLAN id, unique MAC.
    fn plan_hosts(
        &self,
        nodes: &BTreeMap<&str, String>,
        domain: &mut UnionFind,
    ) -> Result<Vec<PlannedHost>, TopologyError> {
        let mut hosts: Vec<PlannedHost> = vec![];
        let mut by_ip: HashMap<Ipv4Addr, usize> = HashMap::new();
        let mut by_mac: HashMap<String, usize> = HashMap::new();
        for (i, h) in self.hosts.iter().enumerate() {
            let k = |f: &str| format!("host[{i}].{f}");
            // A second host with the same value of `field`: name the first and its line.
            let duplicate = |field: &str, what: String, j: usize| {
                let first = &self.hosts[j].name;
                let line = self.line_of(&format!("host[{j}].{field}"));
                let msg = format!("duplicate {what}: host {first:?}{line} has it too");
                self.error(&k(field), msg)
            };
            let sw = self.switch_at(nodes, &k("switch"), &h.switch)?;
            let (addr, prefix) = parse_host_cidr(&h.ip)
                .map_err(|m| self.error(&k("ip"), format!("{:?}: {m}", h.ip)))?;
            if let Some(j) = by_ip.insert(addr, i) {
                return Err(duplicate("ip", format!("IP address {addr}"), j));
            }
            if let Some(v) = h.vlan.filter(|v| !(1..=4094).contains(v)) {
                let msg = format!("{v} is not a VLAN id (1 to 4094)");
                return Err(self.error(&k("vlan"), msg));
            }
            let n = i + 1;
            let mac = match &h.mac {
                Some(m) => {
                    parse_mac(m).map_err(|e| self.error(&k("mac"), format!("{m:?}: {e}")))?
                }
                None => format!("02:72:76:00:{:02x}:{:02x}", n >> 8 & 0xff, n & 0xff),
            };
            if let Some(j) = by_mac.insert(mac.clone(), i) {
                return Err(duplicate("mac", format!("MAC {mac}"), j));
            }
            hosts.push(PlannedHost {
                name: h.name.clone(),
                switch: h.switch.clone(),
                ip: format!("{addr}/{prefix}"),
                addr,
                prefix,
                vlan: h.vlan,
                mac,
                port: h.name.clone(),
                domain: domain.find(sw),
            });
        }
        Ok(hosts)
    }
}

/// Underlay subnets: the /24s of 172.16.0.0/12 that no host subnet overlaps, in order.
fn underlay_subnets(hosts: &[PlannedHost]) -> impl Iterator<Item = Ipv4Addr> + '_ {
    let base = u32::from(Ipv4Addr::new(172, 16, 0, 0));
    (0u32..4096)
        .map(move |n| Ipv4Addr::from(base + (n << 8)))
        .filter(|net| !hosts.iter().any(|h| overlaps(*net, 24, h.addr, h.prefix)))
}

fn check_node_name(name: &str) -> Result<(), String> {
    let ok_chars = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if name.is_empty()
        || name.len() > NODE_NAME_MAX
        || !ok_chars
        || !name.starts_with(|c: char| c.is_ascii_alphabetic())
    {
        return Err(format!(
            "{name:?} is not a node name (1 to {NODE_NAME_MAX} letters, digits, '_' or '-', \
             starting with a letter)"
        ));
    }
    let numbered = |p: &str| {
        name.strip_prefix(p)
            .is_some_and(|d| !d.is_empty() && d.chars().all(|c| c.is_ascii_digit()))
    };
    if name == BRIDGE || name == "lo" || ["ul", "gre", "vxlan", "geneve"].into_iter().any(numbered)
    {
        return Err(format!(
            "{name:?} is reserved: the lab names its own interfaces br0, lo, ulN, greN, vxlanN \
             and geneveN"
        ));
    }
    Ok(())
}

/// `a.b.c.d/len` for a host: the address and prefix length, or why it is not usable.
fn parse_host_cidr(s: &str) -> Result<(Ipv4Addr, u8), String> {
    let (a, p) = s
        .split_once('/')
        .ok_or("needs a prefix length, e.g. 10.0.0.1/24")?;
    let addr: Ipv4Addr = a
        .parse()
        .map_err(|_| format!("{a:?} is not an IPv4 address"))?;
    let prefix: u8 = p
        .parse()
        .ok()
        .filter(|p| (1..=30).contains(p))
        .ok_or_else(|| format!("bad prefix length /{p} (a host needs /1 to /30)"))?;
    let o = addr.octets();
    if o[0] == 0 || o[0] == 127 || o[0] >= 224 {
        return Err("not a unicast host address (0/8, 127/8 and 224/3 are out)".into());
    }
    if o[..3] == [192, 0, 2] {
        return Err("192.0.2.0/24 is this machine's own network; use 10.x".into());
    }
    let host_bits = u32::from(addr) & !mask(prefix);
    if host_bits == 0 || host_bits == !mask(prefix) {
        return Err(format!(
            "{addr} is the network or broadcast address of its /{prefix}"
        ));
    }
    Ok((addr, prefix))
}

fn mask(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix))
    }
}

fn overlaps(a: Ipv4Addr, pa: u8, b: Ipv4Addr, pb: u8) -> bool {
    let m = mask(pa.min(pb));
    u32::from(a) & m == u32::from(b) & m
}

/// A unicast, non-zero MAC in `aa:bb:cc:dd:ee:ff` form, normalised to lower case.
fn parse_mac(s: &str) -> Result<String, String> {
    let bytes: Vec<u8> = s
        .split(':')
        .map(|b| u8::from_str_radix(b, 16).ok().filter(|_| b.len() == 2))
        .collect::<Option<_>>()
        .filter(|v: &Vec<u8>| v.len() == 6)
        .ok_or("not a MAC address (aa:bb:cc:dd:ee:ff)")?;
    if bytes[0] & 1 != 0 || bytes.iter().all(|&b| b == 0) {
        return Err("a host needs a unicast, non-zero MAC".into());
    }
    Ok(s.to_ascii_lowercase())
}

struct UnionFind(Vec<usize>);

impl UnionFind {
    fn new(n: usize) -> UnionFind {
        UnionFind((0..n).collect())
    }
    fn find(&mut self, mut i: usize) -> usize {
        while self.0[i] != i {
            self.0[i] = self.0[self.0[i]];
            i = self.0[i];
        }
        i
    }
    /// Join the sets of `a` and `b`; false when they were one already.
    fn union(&mut self, a: usize, b: usize) -> bool {
        let (ra, rb) = (self.find(a), self.find(b));
        self.0[ra.max(rb)] = ra.min(rb);
        ra != rb
    }
}

/// Every name and address of a lab, derived from its topology.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// The switches.
    pub switches: Vec<PlannedSwitch>,
    /// The hosts.
    pub hosts: Vec<PlannedHost>,
    /// The tunnels.
    pub tunnels: Vec<PlannedTunnel>,
}

/// A switch of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedSwitch {
    /// Node name.
    pub name: String,
    /// Its bridge (`br0`).
    pub bridge: String,
}

/// A host of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedHost {
    /// Node name.
    pub name: String,
    /// Its switch.
    pub switch: String,
    /// Address with prefix length, on `eth0`.
    pub ip: String,
    /// The address alone.
    pub addr: Ipv4Addr,
    /// The prefix length.
    pub prefix: u8,
    /// Access VLAN of its port.
    pub vlan: Option<u16>,
    /// MAC of its `eth0`.
    pub mac: String,
    /// The switch-side veth, a port of `br0` (named like the host).
    pub port: String,
    /// Its L2 domain: switches joined by tunnels share one (an opaque number).
    pub domain: usize,
}

/// One end of a tunnel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TunnelEnd {
    /// The switch at this end.
    pub switch: String,
    /// The underlay veth in the switch's namespace.
    pub underlay_if: String,
    /// Its address with prefix length.
    pub underlay_ip: String,
    /// The tunnel port on `br0`.
    pub port: String,
}

/// A tunnel of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedTunnel {
    /// Encapsulation.
    pub kind: TunnelKind,
    /// Tunnel key, if any.
    pub key: Option<u32>,
    /// The two ends.
    pub ends: [TunnelEnd; 2],
}

impl TunnelEnd {
    /// The underlay address without the prefix length.
    pub fn addr(&self) -> &str {
        self.underlay_ip.split('/').next().unwrap_or_default()
    }
}

impl Plan {
    /// The host named `name`.
    pub fn host(&self, name: &str) -> Option<&PlannedHost> {
        self.hosts.iter().find(|h| h.name == name)
    }

    /// Ok when `a` and `b` should reach each other: same L2 domain (same switch, or
    /// switches joined by tunnels), same VLAN (untagged is a VLAN of its own) and each
    /// address in the other's subnet; otherwise why not.
    pub fn expect_reach(&self, a: &PlannedHost, b: &PlannedHost) -> Result<(), String> {
        let vlan = |h: &PlannedHost| h.vlan.map_or("untagged".into(), |v| format!("VLAN {v}"));
        if a.domain != b.domain {
            return Err(format!(
                "different L2 domains ({} and {} are not joined by tunnels)",
                a.switch, b.switch
            ));
        }
        if a.vlan != b.vlan {
            return Err(format!("different VLANs ({} vs {})", vlan(a), vlan(b)));
        }
        if !overlaps(a.addr, a.prefix, b.addr, a.prefix)
            || !overlaps(a.addr, b.prefix, b.addr, b.prefix)
        {
            return Err(format!("different subnets ({} vs {})", a.ip, b.ip));
        }
        Ok(())
    }

    /// "2 switches, 1 host, 0 tunnels".
    pub fn counts(&self) -> String {
        let n =
            |k: usize, one: &str, many: &str| format!("{k} {}", if k == 1 { one } else { many });
        format!(
            "{}, {}, {}",
            n(self.switches.len(), "switch", "switches"),
            n(self.hosts.len(), "host", "hosts"),
            n(self.tunnels.len(), "tunnel", "tunnels")
        )
    }

    /// Ports of switch `name` on its bridge: `br0`, its hosts', its tunnels'.
    pub fn ports_of(&self, name: &str) -> Vec<String> {
        let mut ports = vec![BRIDGE.to_string()];
        ports.extend(
            self.hosts
                .iter()
                .filter(|h| h.switch == name)
                .map(|h| h.port.clone()),
        );
        ports.extend(
            self.tunnels
                .iter()
                .flat_map(|t| &t.ends)
                .filter(|e| e.switch == name)
                .map(|e| e.port.clone()),
        );
        ports
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO_SITES: &str = r#"
[[switch]]
name = "s1"
[[switch]]
name = "s2"
[[host]]
name = "h1"
switch = "s1"
ip = "10.0.0.1/24"
vlan = 10
[[host]]
name = "h2"
switch = "s2"
ip = "10.0.0.2/24"
vlan = 10
[[host]]
name = "h3"
switch = "s2"
ip = "10.0.0.3/24"
[[tunnel]]
between = ["s1", "s2"]
type = "gre"
"#;

    fn err(text: &str) -> TopologyError {
        Topology::from_toml(text).unwrap_err()
    }

    #[test]
    fn two_sites_plan() {
        let p = Topology::from_toml(TWO_SITES).unwrap().plan().unwrap();
        assert_eq!(p.switches.len(), 2);
        let (h1, h2, h3) = (&p.hosts[0], &p.hosts[1], &p.hosts[2]);
        assert_eq!(
            (h1.port.as_str(), h1.mac.as_str()),
            ("h1", "02:72:76:00:00:01")
        );
        assert_eq!(h3.mac, "02:72:76:00:00:03");
        assert!(p.expect_reach(h1, h2).is_ok());
        assert!(p.expect_reach(h1, h3).unwrap_err().contains("VLAN"));
        let t = &p.tunnels[0];
        assert_eq!(t.ends[0].underlay_ip, "172.16.0.1/24");
        assert_eq!(t.ends[1].addr(), "172.16.0.2");
        assert_eq!(t.ends[0].port, "gre0");
        assert_eq!(p.ports_of("s2"), ["br0", "h2", "h3", "gre0"]);
        assert_eq!(p.counts(), "2 switches, 3 hosts, 1 tunnel");
        // The builder makes the same plan.
        let b = Topology::new()
            .switch("s1")
            .switch("s2")
            .host_spec(HostSpec::new("h1", "s1", "10.0.0.1/24").vlan(10))
            .host_spec(HostSpec::new("h2", "s2", "10.0.0.2/24").vlan(10))
            .host("h3", "s2", "10.0.0.3/24")
            .tunnel("s1", "s2", TunnelKind::Gre);
        assert_eq!(b.plan().unwrap(), p);
    }

    /// Two switches, a and b.
    fn ab() -> Topology {
        Topology::new().switch("a").switch("b")
    }

    #[test]
    fn underlay_avoids_host_subnets() {
        let p = ab()
            .host("h1", "a", "172.16.0.9/16")
            .tunnel("a", "b", TunnelKind::Gre)
            .plan()
            .unwrap();
        assert_eq!(p.tunnels[0].ends[0].underlay_ip, "172.17.0.1/24");
    }

    #[test]
    fn separate_domains_and_subnets() {
        let p = ab()
            .host("h1", "a", "10.0.0.1/24")
            .host("h2", "b", "10.0.0.2/24")
            .host("h3", "a", "10.0.1.3/24")
            .plan()
            .unwrap();
        let h = &p.hosts;
        assert!(p
            .expect_reach(&h[0], &h[1])
            .unwrap_err()
            .contains("L2 domain"));
        assert!(p.expect_reach(&h[0], &h[2]).unwrap_err().contains("subnet"));
    }

    #[test]
    fn errors_name_line_and_key() {
        let unknown = TWO_SITES.replace(
            "switch = \"s2\"\nip = \"10.0.0.2/24\"",
            "switch = \"s9\"\nip = \"10.0.0.2/24\"",
        );
        let e = err(&unknown);
        assert_eq!(
            (e.key.as_str(), e.at),
            ("host[1].switch", Some((13, 10))),
            "{e}"
        );
        assert!(
            e.to_string()
                .contains("\"s9\" is not a switch (switches: s1, s2)"),
            "{e}"
        );

        let dup = TWO_SITES.replace("10.0.0.3/24", "10.0.0.1/24");
        let e = err(&dup);
        assert_eq!(e.key, "host[2].ip");
        assert!(e.message.contains("host \"h1\" (line 9) has it too"), "{e}");
        assert_eq!(e.at.map(|a| a.0), Some(19));

        let e = err(&TWO_SITES.replace("10.0.0.3/24", "10.0.0.3/33"));
        assert!(
            e.to_string()
                .starts_with("line 19, column 6: host[2].ip: \"10.0.0.3/33\": bad prefix"),
            "{e}"
        );

        let e = err(&TWO_SITES.replace("[\"s1\", \"s2\"]", "[\"s1\", \"s1\"]"));
        assert_eq!(e.key, "tunnel[0].between");
        assert!(e.message.contains("to itself"), "{e}");

        let e = err(&TWO_SITES.replace(
            "vlan = 10\n[[host]]\nname = \"h2\"",
            "vlna = 10\n[[host]]\nname = \"h2\"",
        ));
        assert!(e.message.contains("unknown field `vlna`"), "{e}");
        assert_eq!(e.key, "host[0].vlna");
        assert_eq!(e.at.map(|a| a.0), Some(10));

        let e = err(&TWO_SITES.replace("type = \"gre\"", "type = \"ipip\""));
        assert_eq!(e.key, "tunnel[0].type");
        let e = err(&TWO_SITES.replace(
            "vlan = 10\n[[host]]\nname = \"h2\"",
            "vlan = 4095\n[[host]]\nname = \"h2\"",
        ));
        assert_eq!(e.key, "host[0].vlan");
        let e = err(&TWO_SITES.replace(
            "vlan = 10\n[[host]]\nname = \"h2\"",
            "vlan = 10\n[[host]]\nname = 2",
        ));
        assert_eq!(
            (e.key.as_str(), e.at),
            ("host[1].name", Some((12, 8))),
            "{e}"
        );
        let e = err("[[switch]\nname = 1");
        assert!(e.at.is_some() && e.key.is_empty(), "{e}");
    }

    #[test]
    fn rules() {
        let base = || Topology::new().switch("s1").switch("s2").switch("s3");
        let loopy = base()
            .tunnel("s1", "s2", TunnelKind::Gre)
            .tunnel("s2", "s3", TunnelKind::Gre)
            .tunnel("s3", "s1", TunnelKind::Gre);
        let e = loopy.plan().unwrap_err();
        assert_eq!(e.key, "tunnel[2].between");
        assert!(e.message.contains("loop"), "{e}");
        let twice = base()
            .tunnel("s1", "s2", TunnelKind::Gre)
            .tunnel("s2", "s1", TunnelKind::Gre);
        assert!(twice.plan().unwrap_err().message.contains("already joined"));
        for (ip, why) in [
            ("10.0.0.1", "prefix length"),
            ("10.0.0.0/24", "network or broadcast"),
            ("10.0.0.255/24", "network or broadcast"),
            ("192.0.2.7/24", "own network"),
            ("127.0.0.2/8", "unicast"),
            ("10.0.0.300/24", "not an IPv4"),
            ("10.0.0.1/31", "prefix"),
        ] {
            let e = base().host("h", "s1", ip).plan().unwrap_err();
            assert!(e.message.contains(why), "{ip}: {e}");
        }
        for bad in ["br0", "gre0", "ul3", "1x", "averyverylongname", "a b", ""] {
            assert!(
                base().host(bad, "s1", "10.0.0.1/24").plan().is_err(),
                "{bad}"
            );
        }
        assert!(base().host("gre", "s1", "10.0.0.1/24").plan().is_ok());
        let dup = base().host("s1", "s2", "10.0.0.1/24").plan().unwrap_err();
        assert!(dup.message.contains("duplicate name"), "{dup}");
        let mac = base()
            .host_spec(HostSpec::new("h1", "s1", "10.0.0.1/24").mac("03:00:00:00:00:01"))
            .plan()
            .unwrap_err();
        assert!(mac.message.contains("unicast"), "{mac}");
        assert!(Topology::new()
            .plan()
            .unwrap_err()
            .message
            .contains("[[switch]]"));
        let to_host = base()
            .host("h1", "s1", "10.0.0.1/24")
            .tunnel("s1", "h1", TunnelKind::Gre)
            .plan()
            .unwrap_err();
        assert!(to_host.message.contains("is a host"), "{to_host}");
    }
}
