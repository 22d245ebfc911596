//! What a lab made, on disk: `ROOT/LAB/state.json` (ROOT is `$RVS_LAB_DIR`, else
//! `/run/rvs-lab`), so that `rvs-lab down` in another process — or a sweep after the owner
//! died — removes exactly what the lab made.
//!
//! Invariants:
//! - `ROOT/LAB` is created with `mkdir` (which fails if it exists), so one name is one lab;
//!   everything the lab writes (rvsd run and db directories, logs) is inside it.
//! - The state is written before anything else is created, with the namespace names of every
//!   node decided in advance, and rewritten (temp file + rename) after each daemon starts
//!   and when the lab is complete: a lab killed half-way is always described completely
//!   enough to remove.
//! - A daemon is signalled only while its [`ProcId`] (PID + start time) matches and its
//!   command line mentions the lab's directory.

use super::topology::Plan;
use crate::daemon::Bins;
use crate::names::ProcId;
use crate::netns::Netns;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Environment variable naming the directory that holds the labs' state.
pub const LAB_DIR_ENV: &str = "RVS_LAB_DIR";

/// Version of the state file's layout.
const STATE_VERSION: u32 = 1;

/// The directory holding one subdirectory per lab: `$RVS_LAB_DIR`, else `/run/rvs-lab`
/// (made absolute, since daemons are identified by it in their command lines).
pub fn state_root() -> PathBuf {
    let p = std::env::var_os(LAB_DIR_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/run/rvs-lab"));
    if p.is_absolute() {
        p
    } else {
        std::env::current_dir().unwrap_or_default().join(p)
    }
}

/// Everything a lab made and how to reach it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LabState {
    /// Layout version.
    pub version: u32,
    /// The lab's name.
    pub name: String,
    /// Its directory (`ROOT/NAME`).
    pub dir: PathBuf,
    /// The topology file it was built from, if any.
    pub source: Option<String>,
    /// The process the lab belongs to: when it is gone, the lab may be swept.
    pub owner: ProcId,
    /// The process that built it.
    pub up: ProcId,
    /// True once every port forwards.
    pub complete: bool,
    /// Creation time, seconds since the Unix epoch.
    pub created: u64,
    /// The rvs binaries its switches run.
    pub bins: Bins,
    /// Node name → network namespace name, for every node (decided before any is made).
    pub namespaces: BTreeMap<String, String>,
    /// Switch name → its rvsd.
    pub daemons: BTreeMap<String, ProcId>,
    /// Names and addresses.
    pub plan: Plan,
}

/// Where a lab stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LabStatus {
    /// Complete, owner alive.
    Up,
    /// `up` still running.
    Starting,
    /// Complete, but its owner is gone: `down --all` removes it.
    Orphaned,
    /// `up` died before completing: `down --all` removes it.
    Broken,
}

impl LabStatus {
    /// True when `down --all` (and the kit's sweep) removes such a lab.
    pub fn sweepable(self) -> bool {
        matches!(self, LabStatus::Orphaned | LabStatus::Broken)
    }

    /// Lower-case name, as `list` prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            LabStatus::Up => "up",
            LabStatus::Starting => "starting",
            LabStatus::Orphaned => "orphaned",
            LabStatus::Broken => "broken",
        }
    }
}

impl LabState {
    pub(crate) fn new(
        name: &str,
        dir: &Path,
        owner: ProcId,
        bins: Bins,
        plan: Plan,
        source: Option<String>,
    ) -> LabState {
        let owner_pid = owner.pid;
        let namespaces = plan
            .switches
            .iter()
            .map(|s| &s.name)
            .chain(plan.hosts.iter().map(|h| &h.name))
            .map(|n| {
                (
                    n.clone(),
                    format!("{}{owner_pid}-{name}-{n}", crate::OWNED_PREFIX),
                )
            })
            .collect();
        LabState {
            version: STATE_VERSION,
            name: name.to_string(),
            dir: dir.to_path_buf(),
            source,
            owner,
            up: ProcId::current(),
            complete: false,
            created: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            bins,
            namespaces,
            daemons: BTreeMap::new(),
            plan,
        }
    }

    fn file(dir: &Path) -> PathBuf {
        dir.join("state.json")
    }

    /// Read the state of the lab in `dir`.
    pub fn load(dir: &Path) -> Result<LabState, String> {
        let f = LabState::file(dir);
        let text = std::fs::read_to_string(&f).map_err(|e| format!("{}: {e}", f.display()))?;
        let s: LabState =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", f.display()))?;
        if s.version != STATE_VERSION {
            return Err(format!(
                "{}: state version {} (this rvs-lab reads {STATE_VERSION})",
                f.display(),
                s.version
            ));
        }
        Ok(s)
    }

    /// Write the state atomically (temp file, rename).
    pub(crate) fn save(&self) -> Result<(), String> {
        let f = LabState::file(&self.dir);
        let tmp = self.dir.join(".state.json.tmp");
        let text = serde_json::to_string_pretty(self).map_err(|e| e.to_string())?;
        std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, &f))
            .map_err(|e| format!("{}: {e}", f.display()))
    }

    /// Where it stands now.
    pub fn status(&self) -> LabStatus {
        match (self.complete, self.owner.alive(), self.up.alive()) {
            (true, true, _) => LabStatus::Up,
            (true, false, _) => LabStatus::Orphaned,
            (false, _, true) => LabStatus::Starting,
            (false, _, false) => LabStatus::Broken,
        }
    }

    /// The directory of switch `name` (run, db, log).
    pub fn switch_dir(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The run directory of switch `name`'s rvsd (its `RVS_RUNDIR`).
    pub fn rundir(&self, name: &str) -> PathBuf {
        self.switch_dir(name).join("run")
    }

    /// True when `node` is one of the lab's switches.
    pub fn is_switch(&self, node: &str) -> bool {
        self.plan.switches.iter().any(|s| s.name == node)
    }

    /// The network namespace of `node`.
    pub fn netns(&self, node: &str) -> Option<&str> {
        self.namespaces.get(node).map(String::as_str)
    }
}

/// Processes started with `--rundir` in a directory below `dir`: the lab's rvsds, including
/// one whose PID never reached the state because its `up` was killed right after starting it.
fn daemons_below(dir: &Path) -> Vec<ProcId> {
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return vec![];
    };
    let prefix = format!("{}/", dir.display());
    rd.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(ProcId::of)
        .filter(|p| {
            let Ok(raw) = std::fs::read(format!("/proc/{}/cmdline", p.pid)) else {
                return false;
            };
            let args: Vec<&[u8]> = raw.split(|&b| b == 0).collect();
            args.windows(2)
                .any(|w| w[0] == b"--rundir" && w[1].starts_with(prefix.as_bytes()))
        })
        .collect()
}

/// Remove everything `state` records: stop its daemons (identity checked, and any other
/// process running with a run directory inside the lab's), delete its namespaces (killing
/// what still runs in them), remove its directory. Returns what it removed, for messages.
pub fn teardown(state: &LabState) -> Vec<String> {
    let mut removed = vec![];
    let mark = state.dir.display().to_string();
    for (sw, p) in &state.daemons {
        if p.terminate(&mark, Duration::from_secs(5)) {
            removed.push(format!("rvsd of {sw} (pid {})", p.pid));
        }
    }
    for p in daemons_below(&state.dir) {
        if p.terminate(&mark, Duration::from_secs(5)) {
            removed.push(format!("unrecorded daemon pid {}", p.pid));
        }
    }
    for ns in state.namespaces.values() {
        if Path::new("/run/netns").join(ns).exists() {
            drop(Netns::existing(ns));
            removed.push(format!("netns {ns}"));
        }
    }
    if std::fs::remove_dir_all(&state.dir).is_ok() {
        removed.push(format!("{}", state.dir.display()));
    }
    removed
}

/// The labs under [`state_root`]: (directory, its state or why it cannot be read).
pub fn list_labs() -> Vec<(PathBuf, Result<LabState, String>)> {
    let Ok(rd) = std::fs::read_dir(state_root()) else {
        return vec![];
    };
    let mut labs: Vec<_> = rd
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| (e.path(), LabState::load(&e.path())))
        .collect();
    labs.sort_by(|a, b| a.0.cmp(&b.0));
    labs
}

/// A directory without a readable state older than this is a lab whose `up` died between
/// `mkdir` and the first write of its state.
const STATELESS_GRACE: Duration = Duration::from_secs(30);

/// Remove the labs whose owner is gone and those whose `up` died before completing
/// ([`LabStatus::sweepable`]), and state-less directories older than 30 s. Returns the
/// names of the labs removed.
pub fn sweep_dead_labs() -> Vec<String> {
    let mut swept = vec![];
    for (dir, state) in list_labs() {
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        match state {
            Ok(s) if s.status().sweepable() => {
                teardown(&s);
                swept.push(format!("lab {name}"));
            }
            Ok(_) => {}
            Err(_) => {
                let old = std::fs::metadata(&dir)
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|age| age > STATELESS_GRACE);
                if old && std::fs::remove_dir_all(&dir).is_ok() {
                    swept.push(format!("lab {name} (no state)"));
                }
            }
        }
    }
    swept
}
