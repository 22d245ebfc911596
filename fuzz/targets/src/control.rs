//! Target `control_request`: bytes on the control socket, as one client connection.
//!
//! Input: one byte choosing how the stream is cut into reads (1–256 bytes each, as a socket
//! might deliver it), then the stream. It goes through `unixctl::Decoder` exactly as the
//! server feeds it, and every request it frames goes to a live `Daemon`'s `Handler::handle`:
//! a real `Dpif` with one PMD thread and in-memory ports, and a scratch database directory,
//! starting from a small configuration (two bridges, a VLAN access port, a GRE port).
//!
//! Invariants: the decoder never buffers more than `MAX_REQUEST` bytes while waiting; every
//! answer serialises into a reply that parses back; `rvs/vsctl` answers are `VsctlReply`
//! JSON; after the connection the daemon still answers `version`,
//! and the database on disk is the one in memory (a failed save leaves both as they
//! were). The daemon is kept between inputs (starting one costs a thread and a dozen PMD
//! round trips) and rebuilt after any input that changed its configuration or asked it to
//! exit; FDB entries and counters an input leaves behind are bounded and harmless.

use crate::input::Input;
use crate::scratch::ScratchDir;
use crate::vsctl::baseline_db;
use rvs_control::daemon::{Daemon, VsctlReply, VERSION};
use rvs_control::log::{self, Level};
use rvs_control::server::Handler;
use rvs_control::store;
use rvs_control::unixctl::{Decoded, Decoder, Reply, Request, MAX_REQUEST};
use rvs_datapath::dpif::{Dpif, DpifConfig, PortOpener};
use rvs_datapath::port::{MemPort, Port};
use std::cell::RefCell;

/// Requests handled per input at most (each may touch the datapath).
const MAX_REQUESTS: usize = 32;

struct Rig {
    daemon: Daemon,
    dir: ScratchDir,
}

impl Rig {
    fn new() -> Rig {
        log::set_level(Level::Err);
        let _ = log::set_file(std::path::Path::new("/dev/null"));
        let dir = ScratchDir::new("control");
        let db = baseline_db();
        store::save(&db, dir.path()).expect("save the baseline database");
        // Every port is an in-memory port, whatever its type.
        let opener: PortOpener = Box::new(|spec, no| {
            let (p, _) = MemPort::new(&spec.name, no);
            Ok((Box::new(p) as Box<dyn Port>, "mem"))
        });
        let dp = Dpif::with_opener(
            &DpifConfig {
                n_pmd: 1,
                pmd_cores: vec![],
            },
            opener,
        )
        .expect("start the datapath");
        let daemon = Daemon::new(db, dir.path().to_path_buf(), dp);
        Rig { daemon, dir }
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        self.daemon.shutdown();
    }
}

thread_local! {
    static RIG: RefCell<Option<Rig>> = const { RefCell::new(None) };
}

fn answer(rig: &mut Rig, req: &Request) {
    let r = rig.daemon.handle(req);
    if let (Ok(json), "rvs/vsctl") = (&r, req.method.as_str()) {
        serde_json::from_str::<VsctlReply>(json).expect("rvs/vsctl answers a VsctlReply");
    }
    let reply = Reply {
        id: req.id.clone(),
        result: r.as_ref().ok().cloned(),
        error: r.err(),
    };
    let back: Reply = serde_json::from_slice(&reply.to_bytes()).expect("reply parses back");
    assert_eq!((back.result, back.error), (reply.result, reply.error));
}

/// The `control_request` target.
pub fn control_request(data: &[u8]) {
    let mut inp = Input::new(data);
    let chunk = 1 + usize::from(inp.u8());
    let stream = inp.rest();
    RIG.with(|cell| {
        let mut slot = cell.borrow_mut();
        let rig = slot.get_or_insert_with(Rig::new);
        let baseline = rig.daemon.database().to_json();
        let mut dec = Decoder::default();
        let mut handled = 0;
        'conn: for piece in stream.chunks(chunk) {
            dec.feed(piece);
            loop {
                match dec.next_message() {
                    Decoded::Incomplete => {
                        assert!(dec.buffered() <= MAX_REQUEST, "decoder buffers too much");
                        break;
                    }
                    Decoded::Request(req) => {
                        handled += 1;
                        if handled > MAX_REQUESTS {
                            break 'conn;
                        }
                        answer(rig, &req);
                    }
                    Decoded::Invalid(e) => assert!(!e.is_empty()),
                    Decoded::Fatal(_) => break 'conn,
                }
            }
        }
        // The daemon is whole after the connection, whatever it sent.
        let db = rig.daemon.database().to_json();
        let disk = store::load(rig.dir.path()).expect("the saved database loads");
        assert_eq!(disk.to_json(), db, "database on disk and in memory differ");
        let version = Request {
            method: "version".into(),
            params: vec![],
            id: 0.into(),
        };
        assert_eq!(
            rig.daemon.handle(&version),
            Ok(format!("rvsd (rvs) {VERSION}\n"))
        );
        if db != baseline || rig.daemon.exit_requested() {
            *slot = None;
        }
    });
}
