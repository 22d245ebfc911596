//! The embedded mode's store on disk: `DBDIR/conf.json`, the whole embedded OVSDB
//! [`Database`] (every table and column of the Open_vSwitch schema), with a schema version.
//!
//! Format (`schema_version` 2): `{"schema_version": 2, "db_version": "8.3.1", "tables":
//! {TABLE: {UUID: {COLUMN: VALUE}}}}`, values in OVSDB's wire form, only the columns that
//! differ from their defaults, ephemeral columns left out (as ovsdb-server leaves them out of
//! `conf.db`). Version 1 files (rvs's own four-table model, [`Config`]) are read and migrated
//! losslessly: every bridge, port, interface, option, external id, VLAN setting, requested
//! and assigned OpenFlow port number and MAC keeps its value and its row UUID.
//!
//! Invariants: [`save`] is crash-safe ([`crate::files::replace_file`]: a private 0600
//! temporary file, fsync, rename; a failure leaves the previous file and is reported, so the
//! transaction is refused); [`load`] never panics whatever the bytes ([`from_json_bytes`] is
//! fuzzed) and refuses, without touching them, files that are corrupt or written by a newer
//! rvs; what [`load`] accepts passes every check of an OVSDB commit.

use crate::config::{Config, Map};
use crate::ovsdb::{Atom, Database, Datum};
use serde_json::{json, Value};
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// The layout version this rvs writes. Files with a higher version are refused.
pub const SCHEMA_VERSION: u32 = 2;

/// File name of the database inside the database directory.
pub const CONF_FILE: &str = "conf.json";

/// Why the store could not be loaded or saved.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
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
}

/// Path of the store inside `dbdir`.
pub fn path(dbdir: &Path) -> PathBuf {
    dbdir.join(CONF_FILE)
}

/// Loads `DBDIR/conf.json`. A missing file gives an empty database; an unreadable, corrupt or
/// newer file is an error (the caller must not overwrite it).
pub fn load(dbdir: &Path) -> Result<Database, StoreError> {
    let path = path(dbdir);
    let mut bytes = Vec::new();
    match fs::File::open(&path) {
        Ok(mut f) => f.read_to_end(&mut bytes).map_err(|source| StoreError::Io {
            path: path.clone(),
            source,
        })?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Database::new()),
        Err(source) => return Err(StoreError::Io { path, source }),
    };
    from_json_bytes(&bytes).map_err(|e| match e {
        StoreError::Corrupt(_, m) => StoreError::Corrupt(path.clone(), m),
        StoreError::NewerSchema {
            found, supported, ..
        } => StoreError::NewerSchema {
            path: path.clone(),
            found,
            supported,
        },
        other => other,
    })
}

/// Parses a store file's contents, migrating a version 1 file. Never panics.
pub fn from_json_bytes(bytes: &[u8]) -> Result<Database, StoreError> {
    let here = PathBuf::from(CONF_FILE);
    let corrupt = |m: String| StoreError::Corrupt(here.clone(), m);
    let value: Value = serde_json::from_slice(bytes).map_err(|e| corrupt(e.to_string()))?;
    let obj = value
        .as_object()
        .ok_or_else(|| corrupt("not a JSON object".into()))?;
    let version = obj
        .get("schema_version")
        .and_then(Value::as_u64)
        .ok_or_else(|| corrupt("missing or invalid schema_version".into()))?;
    match version {
        0 => Err(corrupt("schema_version 0 is invalid".into())),
        1 => {
            let cfg: Config = serde_json::from_value(value).map_err(|e| corrupt(e.to_string()))?;
            from_config(&cfg).map_err(corrupt)
        }
        2 => {
            if let Some(k) = obj
                .keys()
                .find(|k| !matches!(k.as_str(), "schema_version" | "db_version" | "tables"))
            {
                return Err(corrupt(format!("unknown field `{k}`")));
            }
            let tables = obj.get("tables").cloned().unwrap_or_else(|| json!({}));
            Database::from_json(&tables).map_err(corrupt)
        }
        found => Err(StoreError::NewerSchema {
            path: here,
            found,
            supported: SCHEMA_VERSION,
        }),
    }
}

/// The store file's contents for `db` (what [`save`] writes).
pub fn to_json_bytes(db: &Database) -> Vec<u8> {
    let v = json!({
        "schema_version": SCHEMA_VERSION,
        "db_version": db.schema().version,
        "tables": db.to_json(),
    });
    let mut out = serde_json::to_vec_pretty(&v).unwrap_or_default();
    out.push(b'\n');
    out
}

/// Writes `DBDIR/conf.json` atomically (see the module header): an error means nothing
/// changed on disk; `Ok` means the new file is in place.
pub fn save(db: &Database, dbdir: &Path) -> Result<(), StoreError> {
    crate::files::replace_file(&path(dbdir), &to_json_bytes(db), 0o600).map_err(|e| {
        StoreError::Io {
            path: e.path,
            source: e.source,
        }
    })
}

/// Removes temporary files a crashed save left in `dbdir`; returns how many.
pub fn remove_stale_temps(dbdir: &Path) -> usize {
    crate::files::remove_stale_temps(&path(dbdir))
}

/// A version 1 configuration as database rows (the migration).
pub fn from_config(cfg: &Config) -> Result<Database, String> {
    let mut db = Database::new();
    let s = |v: &str| Datum::scalar(Atom::Str(v.to_string()));
    let map = |m: &Map| {
        Datum::map(
            m.iter()
                .map(|(k, v)| (Atom::Str(k.clone()), Atom::Str(v.clone())))
                .collect(),
        )
    };
    let refs = |u: Vec<&String>| Datum::set(u.into_iter().map(|u| Atom::Uuid(u.clone())).collect());
    let uuid = |u: &str| -> Result<String, String> {
        if crate::config::is_uuid(u) {
            Ok(u.to_ascii_lowercase())
        } else {
            Err(format!("invalid UUID \"{u}\""))
        }
    };
    let ovs = uuid(&cfg.uuid)?;
    db.insert("Open_vSwitch", &ovs);
    db.write("Open_vSwitch", &ovs, "external_ids", map(&cfg.external_ids));
    db.write("Open_vSwitch", &ovs, "other_config", map(&cfg.other_config));
    db.write(
        "Open_vSwitch",
        &ovs,
        "bridges",
        refs(cfg.bridges.iter().map(|b| &b.uuid).collect()),
    );
    for br in &cfg.bridges {
        let b = uuid(&br.uuid)?;
        db.insert("Bridge", &b);
        db.write("Bridge", &b, "name", s(&br.name));
        db.write("Bridge", &b, "datapath_type", s(&br.datapath_type));
        db.write("Bridge", &b, "other_config", map(&br.other_config));
        db.write("Bridge", &b, "external_ids", map(&br.external_ids));
        db.write(
            "Bridge",
            &b,
            "ports",
            refs(br.ports.iter().map(|p| &p.uuid).collect()),
        );
        for port in &br.ports {
            let p = uuid(&port.uuid)?;
            db.insert("Port", &p);
            db.write("Port", &p, "name", s(&port.name));
            let ints = |v: &[u16]| Datum::set(v.iter().map(|t| Atom::Int(i64::from(*t))).collect());
            db.write("Port", &p, "tag", ints(port.tag.as_slice()));
            db.write("Port", &p, "trunks", ints(&port.trunks));
            if let Some(m) = &port.vlan_mode {
                db.write("Port", &p, "vlan_mode", s(m));
            }
            db.write("Port", &p, "external_ids", map(&port.external_ids));
            db.write("Port", &p, "other_config", map(&port.other_config));
            db.write(
                "Port",
                &p,
                "interfaces",
                refs(port.interfaces.iter().map(|i| &i.uuid).collect()),
            );
            for iface in &port.interfaces {
                let i = uuid(&iface.uuid)?;
                let opt_int = |v: Option<i64>| Datum::opt(v.map(Atom::Int));
                db.insert("Interface", &i);
                db.write("Interface", &i, "name", s(&iface.name));
                db.write("Interface", &i, "type", s(&iface.type_));
                db.write("Interface", &i, "options", map(&iface.options));
                db.write("Interface", &i, "external_ids", map(&iface.external_ids));
                db.write("Interface", &i, "other_config", map(&iface.other_config));
                let ofport = (iface.ofport != 0).then_some(iface.ofport);
                db.write("Interface", &i, "ofport", opt_int(ofport));
                db.write(
                    "Interface",
                    &i,
                    "ofport_request",
                    opt_int(iface.ofport_request),
                );
                db.write("Interface", &i, "mtu_request", opt_int(iface.mtu_request));
                if let Some(mac) = &iface.mac {
                    db.write("Interface", &i, "mac", s(mac));
                }
            }
        }
    }
    Database::commit(&Database::new(), db, &[])
        .map(|(db, _)| db)
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmpdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "rvs-store-test-{tag}-{}-{}",
            std::process::id(),
            &crate::config::new_uuid()[..8]
        ));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    /// A version 1 file as rvs 0.1 wrote it: br0 with its local port, p1 (access VLAN 10,
    /// trunks, external ids) and a GRE port with a key, ofports assigned, a requested MAC.
    const V1: &str = r#"{
  "schema_version": 1,
  "uuid": "4c7acb42-0e7d-415c-8e2d-26389d3cb985",
  "external_ids": {"system-id": "host1"},
  "other_config": {"n-pmd": "2"},
  "bridges": [{
    "name": "br0", "uuid": "4c7acb42-0e7d-415c-8e2d-26389d3cb986",
    "datapath_type": "netdev", "other_config": {"mac-aging-time": "30"}, "external_ids": {},
    "ports": [
      {"name": "br0", "uuid": "4c7acb42-0e7d-415c-8e2d-26389d3cb987",
       "interfaces": [{"name": "br0", "uuid": "4c7acb42-0e7d-415c-8e2d-26389d3cb988",
                       "type": "internal", "ofport": 65534, "mac": "02:00:00:00:00:01"}]},
      {"name": "p1", "uuid": "4c7acb42-0e7d-415c-8e2d-26389d3cb989", "tag": 10,
       "trunks": [20, 30], "vlan_mode": "native-untagged", "external_ids": {"k": "v"},
       "interfaces": [{"name": "p1", "uuid": "4c7acb42-0e7d-415c-8e2d-26389d3cb98a",
                       "ofport": 1, "ofport_request": 1, "mtu_request": 1400,
                       "external_ids": {"container_id": "c1"}}]},
      {"name": "gre0", "uuid": "4c7acb42-0e7d-415c-8e2d-26389d3cb98b",
       "interfaces": [{"name": "gre0", "uuid": "4c7acb42-0e7d-415c-8e2d-26389d3cb98c",
                       "type": "gre", "ofport": 2,
                       "options": {"remote_ip": "10.0.0.2", "key": "4660"}}]}
    ]
  }]
}"#;

    #[test]
    fn version_1_files_migrate_losslessly() {
        let db = from_json_bytes(V1.as_bytes()).unwrap();
        let cfg = crate::vswitchd::config_from_replica(db.replica());
        let old: Config = serde_json::from_str(V1).unwrap();
        assert_eq!(cfg.uuid, old.uuid);
        assert_eq!(cfg.external_ids, old.external_ids);
        assert_eq!(cfg.other_config, old.other_config);
        assert_eq!(cfg.bridges.len(), 1);
        let (new_br, old_br) = (&cfg.bridges[0], &old.bridges[0]);
        assert_eq!(new_br.uuid, old_br.uuid);
        assert_eq!(new_br.other_config, old_br.other_config);
        for p in &old_br.ports {
            let (_, q) = cfg.port(&p.name).unwrap();
            assert_eq!(q, p, "port {}", p.name);
        }
        // And it survives a save in the new format.
        let again = from_json_bytes(&to_json_bytes(&db)).unwrap();
        assert_eq!(again.to_json(), db.to_json());
    }

    #[test]
    fn round_trip_through_a_directory() {
        let d = tmpdir("rt");
        let db = from_json_bytes(V1.as_bytes()).unwrap();
        save(&db, &d).unwrap();
        assert_eq!(load(&d).unwrap().to_json(), db.to_json());
        let names: Vec<_> = fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, vec![CONF_FILE.to_string()]);
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn missing_file_gives_an_empty_database() {
        let d = tmpdir("fresh");
        let db = load(&d).unwrap();
        assert!(db.table("Open_vSwitch").unwrap().is_empty());
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn corrupt_and_newer_files_are_refused_and_untouched() {
        let d = tmpdir("bad");
        let p = path(&d);
        for (text, want) in [
            (
                &b"{\"schema_version\": 2, \"tables\": "[..],
                "corrupt configuration",
            ),
            (&b"{\"schema_version\": 99, \"x\": 1}"[..], "newer"),
            (
                &br#"{"schema_version": 2, "tables": {"Bridge": {"x": {}}}}"#[..],
                "not a row UUID",
            ),
            (&br#"{"schema_version": 2, "bogus": 1}"#[..], "bogus"),
            (
                &br#"{"schema_version":1,"uuid":"4c7acb42-0e7d-415c-8e2d-26389d3cb985","bogus":1}"#
                    [..],
                "bogus",
            ),
        ] {
            fs::write(&p, text).unwrap();
            let e = load(&d).unwrap_err();
            assert!(e.to_string().contains(want), "{e}");
            assert!(e.to_string().contains("conf.json"), "{e}");
            assert_eq!(fs::read(&p).unwrap(), text);
        }
        fs::remove_dir_all(&d).unwrap();
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
            b"{\"schema_version\":2,\"tables\":[]}",
            &[0xff, 0xfe, 0x00],
        ];
        for s in seeds {
            assert!(from_json_bytes(s).is_err());
        }
        let deep = "[".repeat(100_000);
        assert!(from_json_bytes(deep.as_bytes()).is_err());
        let good = to_json_bytes(&from_json_bytes(V1.as_bytes()).unwrap());
        for n in 0..good.len() {
            let _ = from_json_bytes(&good[..n]);
        }
        assert!(from_json_bytes(&good).is_ok());
    }

    #[test]
    fn save_into_unusable_dir_fails_cleanly() {
        let d = tmpdir("ro");
        let file = d.join("not-a-dir");
        fs::write(&file, b"x").unwrap();
        let e = save(&Database::new(), &file).unwrap_err();
        assert!(matches!(e, StoreError::Io { .. }), "{e}");
        assert_eq!(fs::read(&file).unwrap(), b"x");
        fs::remove_dir_all(&d).unwrap();
    }
}
