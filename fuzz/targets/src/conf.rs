//! Target `conf_loader`: `conf.json` bytes into the loader.
//!
//! Input: the file's bytes. `Config::from_json_bytes` must answer (a config or an error with
//! a message), never panic. A loaded config must validate, survive a JSON round trip and a
//! real save/load through a scratch directory unchanged, and be listable by `ovs-vsctl show`
//! and `list interface` (whatever a file on disk says, the daemon must be able to show it).

use crate::scratch::ScratchDir;
use rvs_control::config::Config;
use rvs_control::vsctl::{self, NoStatus};

/// The `conf_loader` target.
pub fn conf_loader(data: &[u8]) {
    let cfg = match Config::from_json_bytes(data) {
        Ok(c) => c,
        Err(e) => {
            assert!(!e.to_string().is_empty());
            return;
        }
    };
    cfg.validate().expect("a loaded config is valid");
    let back = Config::from_json_bytes(&cfg.to_json_bytes()).expect("a saved config loads");
    assert_eq!(back, cfg, "JSON round trip");
    let dir = ScratchDir::new("conf");
    cfg.save(dir.path()).expect("save into a scratch directory");
    let disk = Config::load(dir.path()).expect("load what was saved");
    assert_eq!(disk, cfg, "save/load round trip");
    for cmd in [&["show"][..], &["list", "interface"][..]] {
        let args: Vec<String> = cmd.iter().map(|s| s.to_string()).collect();
        vsctl::execute(&cfg, &args, &NoStatus).expect("a loaded config can be listed");
    }
}
