//! Target `ovsdb_client`: bytes from an OVSDB server, through the JSON framer into the client
//! session and its replica.
//!
//! Input: a byte choosing how the stream is cut into reads (1–256 bytes each), a flags byte,
//! then the server's byte stream. Flags: bit 0 starts from a session in sync (schema, lock
//! `ovs_vswitchd` granted as request 2, a populated `monitor_cond_since` reply as request 3,
//! monitor id `"rvs"`) instead of one that has just sent `lock` (request 2) after the schema;
//! bit 1 sends a transaction first (request 4 when in sync); bit 2 makes each read 1 s apart
//! instead of 10 ms (so inactivity probes and reconnections happen). When the session drops the
//! connection the target reconnects as soon as it may, and the stream goes on as the new
//! connection's. The schema and the sync are the real server's (`control/testdata/ovsdb`).
//!
//! Invariants: nothing panics; after every read the replica keeps its invariants (every row
//! has exactly the monitored columns, well-formed data within the column types' counts), its
//! seqno never goes back, and rows survive disconnections; everything the session sends is a
//! well-formed JSON-RPC message; every transaction gets exactly one outcome.

use crate::input::Input;
use rvs_control::jsonrpc::{Framer, Message};
use rvs_control::ovsdb::{Atom, Condition, Datum, Event, Op, Session, SessionConfig, State};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// Reads per input at most.
const MAX_READS: usize = 4096;

fn server_messages(fixture: &str) -> Vec<Value> {
    let v: Value = serde_json::from_str(fixture).expect("fixture is JSON");
    v["transcript"]
        .as_array()
        .expect("a transcript")
        .iter()
        .filter_map(|i| i.get("recv").cloned())
        .collect()
}

struct Protos {
    /// Schema received, `lock` (id 2) in flight.
    locking: Session,
    /// In sync (ids 1–3 used).
    active: Session,
    now: Instant,
}

fn feed(s: &mut Session, v: &Value, now: Instant) {
    s.received(v.to_string().as_bytes(), now);
}

fn protos() -> Protos {
    let schema = server_messages(include_str!(
        "../../../control/testdata/ovsdb/get_schema.json"
    ))
    .into_iter()
    .find(|m| m["result"]["tables"].is_object())
    .expect("a schema reply");
    // The columns capture.py monitors, so the captured updates fit.
    let monitor = [
        (
            "Open_vSwitch",
            &[
                "bridges",
                "cur_cfg",
                "next_cfg",
                "external_ids",
                "other_config",
            ][..],
        ),
        (
            "Bridge",
            &[
                "name",
                "ports",
                "datapath_type",
                "fail_mode",
                "external_ids",
                "other_config",
            ],
        ),
        (
            "Port",
            &[
                "name",
                "interfaces",
                "tag",
                "trunks",
                "vlan_mode",
                "external_ids",
            ],
        ),
        (
            "Interface",
            &[
                "name",
                "type",
                "options",
                "ofport",
                "ofport_request",
                "mtu_request",
                "external_ids",
                "status",
                "error",
            ],
        ),
    ]
    .iter()
    .map(|(t, c)| (t.to_string(), c.iter().map(|c| c.to_string()).collect()))
    .collect();
    let now = Instant::now();
    let mut locking = Session::new(SessionConfig::vswitchd(monitor), now);
    locking.connecting(now);
    locking.connected(now);
    feed(
        &mut locking,
        &json!({"id": 1, "result": schema["result"]}),
        now,
    );
    assert_eq!(locking.state(), State::Locking);
    let mut active = locking.clone();
    feed(
        &mut active,
        &json!({"id": 2, "result": {"locked": true}}),
        now,
    );
    let sync = server_messages(include_str!("../../../control/testdata/ovsdb/resync.json"))
        .into_iter()
        .find(|m| m["result"].is_array())
        .expect("a monitor_cond_since reply");
    feed(
        &mut active,
        &json!({"id": 3, "result": sync["result"]}),
        now,
    );
    assert_eq!(active.state(), State::Active);
    while active.poll_event().is_some() {}
    while locking.poll_event().is_some() {}
    for s in [&mut locking, &mut active] {
        let n = s.pending_output().len();
        s.consume_output(n);
    }
    Protos {
        locking,
        active,
        now,
    }
}

thread_local! {
    static PROTOS: Protos = protos();
}

/// Everything the session wants to send must frame into JSON-RPC messages.
fn check_output(s: &mut Session) {
    let mut f = Framer::new(usize::MAX);
    f.feed(s.pending_output());
    while let Some(v) = f.next_value().expect("the session sends valid JSON") {
        Message::from_value(v).expect("the session sends JSON-RPC messages");
    }
    assert_eq!(f.buffered(), 0, "output ends on a message boundary");
    let n = s.pending_output().len();
    s.consume_output(n);
}

/// The `ovsdb_client` target.
pub fn ovsdb_client(data: &[u8]) {
    let mut inp = Input::new(data);
    let chunk = 1 + usize::from(inp.u8());
    let flags = inp.u8();
    let stream = inp.rest();
    PROTOS.with(|p| {
        let mut s = if flags & 1 != 0 {
            p.active.clone()
        } else {
            p.locking.clone()
        };
        let mut now = p.now;
        let step = Duration::from_millis(if flags & 4 != 0 { 1000 } else { 10 });
        let mut txns = BTreeSet::new();
        if flags & 2 != 0 {
            let uuid = s
                .replica()
                .and_then(|r| {
                    r.table("Interface")?
                        .rows()
                        .next()
                        .map(|(u, _)| u.to_string())
                })
                .unwrap_or_else(|| "00000000-0000-0000-0000-000000000000".into());
            let op = Op::Update {
                table: "Interface".into(),
                conditions: vec![Condition::uuid_is(&uuid)],
                row: vec![("ofport".into(), Datum::scalar(Atom::Int(1)))],
            };
            if let Ok(id) = s.transact(&[op]) {
                txns.insert(id);
            }
        }
        let mut seqno = s.replica().map_or(0, |r| r.seqno());
        for piece in stream.chunks(chunk).take(MAX_READS) {
            if s.connect_due(now) {
                s.connecting(now);
                s.connected(now);
            }
            s.received(piece, now);
            now += step;
            s.tick(now);
            check_output(&mut s);
            if let Some(r) = s.replica() {
                r.check_invariants().expect("replica invariants");
                assert!(r.seqno() >= seqno, "seqno went back");
                seqno = r.seqno();
            }
            while let Some(e) = s.poll_event() {
                if let Event::Transaction { id, .. } = e {
                    assert!(txns.remove(&id), "one outcome per transaction");
                }
                assert!(!e.to_string().is_empty());
            }
            if s.state() == State::Backoff {
                assert!(!s.has_lock());
                let _ = s.take_close_request();
            }
        }
        // Whatever is still in flight gets its outcome when the connection goes.
        s.disconnected(now, "end of input");
        while let Some(e) = s.poll_event() {
            if let Event::Transaction { id, .. } = e {
                assert!(txns.remove(&id), "one outcome per transaction");
            }
        }
        assert!(txns.is_empty(), "transactions without an outcome: {txns:?}");
    });
}
