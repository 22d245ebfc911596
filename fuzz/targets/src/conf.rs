//! Target `conf_loader`: `conf.json` bytes into the embedded store's loader.
//!
//! Input: the file's bytes. `store::from_json_bytes` must answer (a database or an error with
//! a message), never panic; version 1 files are migrated. A loaded database must survive a
//! JSON round trip and a real save/load through a scratch directory unchanged, and be listable
//! by `ovs-vsctl show` and `list interface` (whatever a file on disk says, the daemon must be
//! able to show it), and yield a desired configuration.

use crate::scratch::ScratchDir;
use rvs_control::store;
use rvs_control::vsctl::{self, NoStatus};

/// The `conf_loader` target.
pub fn conf_loader(data: &[u8]) {
    let db = match store::from_json_bytes(data) {
        Ok(db) => db,
        Err(e) => {
            assert!(!e.to_string().is_empty());
            return;
        }
    };
    let back = store::from_json_bytes(&store::to_json_bytes(&db)).expect("a saved store loads");
    assert_eq!(back.to_json(), db.to_json(), "JSON round trip");
    let dir = ScratchDir::new("conf");
    store::save(&db, dir.path()).expect("save into a scratch directory");
    let disk = store::load(dir.path()).expect("load what was saved");
    assert_eq!(disk.to_json(), db.to_json(), "save/load round trip");
    for cmd in [&["show"][..], &["list", "interface"][..]] {
        let args: Vec<String> = cmd.iter().map(|s| s.to_string()).collect();
        vsctl::execute(&db, &args, &NoStatus).expect("a loaded store can be listed");
    }
    let _ = rvs_control::vswitchd::config_from_replica(db.replica());
}
