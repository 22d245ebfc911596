//! Session flows against the messages captured from a real ovsdb-server (with request ids
//! rewritten to the session's own), on a virtual clock.

use super::*;
use crate::ovsdb::datum::{Atom, Datum};
use crate::ovsdb::fixtures;
use crate::ovsdb::replica::Row;
use crate::ovsdb::txn::{Condition, Op, OpResult};

fn schema_reply() -> Value {
    fixtures::reply_to("get_schema.json", "get_schema", 0)
}

/// `m` with its id replaced.
fn with_id(m: &Value, id: u64) -> Value {
    let mut m = m.clone();
    m["id"] = json!(id);
    m
}

struct H {
    s: Session,
    now: Instant,
}

impl H {
    fn new(cfg: SessionConfig) -> H {
        let now = Instant::now();
        let mut h = H {
            s: Session::new(cfg, now),
            now,
        };
        h.connect();
        h
    }

    fn vswitchd() -> H {
        H::new(SessionConfig::vswitchd(fixtures::monitored()))
    }

    fn connect(&mut self) {
        assert!(self.s.connect_due(self.now));
        self.s.connecting(self.now);
        assert_eq!(self.s.state(), State::Connecting);
        self.s.connected(self.now);
        assert_eq!(self.s.state(), State::Schema);
    }

    /// The messages the session wants sent (taken).
    fn sent(&mut self) -> Vec<Message> {
        let mut f = Framer::new(usize::MAX);
        f.feed(self.s.pending_output());
        let n = self.s.pending_output().len();
        self.s.consume_output(n);
        let mut out = vec![];
        while let Some(v) = f.next_value().unwrap() {
            out.push(Message::from_value(v).unwrap());
        }
        out
    }

    /// The one request sent, as (method, params, id).
    fn request(&mut self) -> (String, Vec<Value>, u64) {
        let mut sent = self.sent();
        assert_eq!(sent.len(), 1, "{sent:?}");
        match sent.remove(0) {
            Message::Request { method, params, id } => (method, params, id.as_u64().unwrap()),
            other => panic!("not a request: {other:?}"),
        }
    }

    fn feed(&mut self, v: &Value) {
        self.s.received(v.to_string().as_bytes(), self.now);
    }

    fn events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.s.poll_event()).collect()
    }

    fn advance(&mut self, d: Duration) {
        self.now += d;
        self.s.tick(self.now);
    }

    /// get_schema → lock granted → the monitor request (method, params, id).
    fn up_to_monitor(&mut self) -> (String, Vec<Value>, u64) {
        let (m, p, id) = self.request();
        assert_eq!((m.as_str(), p), ("get_schema", vec![json!("Open_vSwitch")]));
        self.feed(&with_id(&schema_reply(), id));
        let (m, p, id) = self.request();
        assert_eq!((m.as_str(), p), ("lock", vec![json!("ovs_vswitchd")]));
        assert_eq!(self.s.state(), State::Locking);
        self.feed(&json!({"id": id, "result": {"locked": true}, "error": null}));
        assert!(self.s.has_lock());
        self.request()
    }

    fn row(&self, table: &str, name: &str) -> Option<Row> {
        let name = Datum::scalar(Atom::Str(name.into()));
        Some(
            self.s
                .replica()?
                .table(table)?
                .find("name", &name)?
                .1
                .clone(),
        )
    }
}

/// Monitor requests with each column list sorted.
fn sorted(reqs: &Value) -> Value {
    let mut v = reqs.clone();
    for r in v.as_object_mut().unwrap().values_mut() {
        let one = if r.is_array() { &mut r[0] } else { r };
        let cols = one["columns"].as_array_mut().unwrap();
        cols.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
    }
    v
}

/// What the server sent `client` in a capture (every client if `None`), with the monitor id
/// of its notifications made the session's own.
fn server_msgs(file: &str, client: Option<&str>) -> Vec<Value> {
    let mut msgs = fixtures::received(file, client);
    for m in &mut msgs {
        if m["method"]
            .as_str()
            .is_some_and(|m| m.starts_with("update"))
        {
            m["params"][0] = json!(MONITOR_ID);
        }
    }
    msgs
}

/// The server's messages of a monitor capture: its reply, then its notifications.
fn monitor_capture(file: &str) -> (Value, Vec<Value>) {
    let mut msgs = server_msgs(file, None);
    let first = msgs.remove(0);
    (first, msgs)
}

/// A monitor_cond_since reply with rows in every table (the clustered capture's first one).
fn populated_reply() -> Value {
    server_msgs("resync.json", Some("first")).remove(0)
}

#[test]
fn connects_locks_monitors_since_and_follows_updates() {
    let mut h = H::vswitchd();
    let (m, p, id) = h.up_to_monitor();
    assert_eq!(m, "monitor_cond_since");
    let captured = &fixtures::transcript("monitor_cond_since.json")[0]["send"]["params"];
    assert_eq!(p[0], json!("Open_vSwitch"));
    assert_eq!(
        sorted(&p[2]),
        sorted(&captured[2]),
        "the same tables and columns as capture.py asked for"
    );
    assert_eq!(p[3], json!(ZERO_UUID));
    let (reply, notes) = monitor_capture("monitor_cond_since.json");
    h.feed(&with_id(&reply, id));
    assert_eq!(h.s.state(), State::Active);
    for n in &notes {
        h.feed(n);
    }
    let ev = h.events();
    assert_eq!(
        ev[..4],
        [
            Event::Connected,
            Event::LockAcquired {
                lock: "ovs_vswitchd".into()
            },
            Event::Synced {
                full: true,
                method: MonitorMethod::CondSince
            },
            Event::Updated
        ]
    );
    assert_eq!(
        ev.iter().filter(|e| **e == Event::Updated).count(),
        notes.len()
    );
    assert!(h.row("Bridge", "br1").is_some());
    assert!(h.row("Port", "p1").is_none(), "deleted at the end");
    h.s.replica().unwrap().check_invariants().unwrap();
    assert!(h.s.replica_mut().unwrap().take_changed());
    assert!(h.sent().is_empty());
}

#[test]
fn any_split_of_the_stream_gives_the_same_replica() {
    let (reply, notes) = monitor_capture("monitor_cond.json");
    let mut prefix = H::new(SessionConfig {
        lock: None,
        ..SessionConfig::vswitchd(fixtures::monitored())
    });
    let (_, _, id) = prefix.request();
    prefix.feed(&with_id(&schema_reply(), id));
    let (m, _, id) = prefix.request();
    assert_eq!(
        m, "monitor_cond_since",
        "no lock configured: straight to the monitor"
    );
    prefix.feed(&json!({"id": id, "error": "unknown method"}));
    let (m, _, id) = prefix.request();
    assert_eq!(m, "monitor_cond");
    let mut stream = with_id(&reply, id).to_string().into_bytes();
    for n in &notes {
        stream.extend_from_slice(n.to_string().as_bytes());
        stream.push(b'\n');
    }
    let run = |chunk: usize| {
        let mut h = H {
            s: prefix.s.clone(),
            now: prefix.now,
        };
        for piece in stream.chunks(chunk) {
            h.s.received(piece, h.now);
        }
        let ev = h.events();
        assert!(
            !ev.iter()
                .any(|e| matches!(e, Event::Error(_) | Event::Disconnected { .. })),
            "{ev:?}"
        );
        h.s.replica().unwrap().clone()
    };
    let whole = run(stream.len());
    assert!(whole.seqno() > notes.len() as u64);
    for chunk in [1, 2, 3, 7, 64, 1000, 4096] {
        assert_eq!(run(chunk), whole, "chunks of {chunk}");
    }
}

#[test]
fn falls_back_from_monitor_cond_since_to_monitor_cond_to_monitor() {
    let unknown = fixtures::reply_to("transact.json", "monitor_cond_since_v9", 0);
    assert_eq!(
        unknown,
        json!({"id": 8, "error": "unknown method"}),
        "the real server's shape"
    );
    let mut h = H::vswitchd();
    let (m, _, id) = h.up_to_monitor();
    assert_eq!(m, "monitor_cond_since");
    h.feed(&with_id(&unknown, id));
    let (m, p, id) = h.request();
    assert_eq!((m.as_str(), p.len()), ("monitor_cond", 3));
    assert!(p[2]["Bridge"].is_array());
    h.feed(&with_id(&unknown, id));
    let (m, p, id) = h.request();
    assert_eq!((m.as_str(), p.len()), ("monitor", 3));
    assert_eq!(
        sorted(&p[2]),
        sorted(&fixtures::transcript("monitor.json")[0]["send"]["params"][2]),
        "RFC 7047 request objects"
    );
    let (reply, notes) = monitor_capture("monitor.json");
    h.feed(&with_id(&reply, id));
    for n in &notes {
        h.feed(n);
    }
    let ev = h.events();
    assert!(ev.contains(&Event::MonitorFallback {
        from: MonitorMethod::CondSince,
        to: MonitorMethod::Cond
    }));
    assert!(ev.contains(&Event::MonitorFallback {
        from: MonitorMethod::Cond,
        to: MonitorMethod::Plain
    }));
    assert!(ev.contains(&Event::Synced {
        full: true,
        method: MonitorMethod::Plain
    }));
    assert_eq!(
        ev.iter().filter(|e| **e == Event::Updated).count(),
        notes.len()
    );
    assert!(h.row("Bridge", "br3").is_some());

    // A server that knows none of them.
    let mut h = H::vswitchd();
    let (_, _, mut id) = h.up_to_monitor();
    for _ in 0..2 {
        h.feed(&with_id(&unknown, id));
        id = h.request().2;
    }
    h.feed(&with_id(&unknown, id));
    assert_eq!(h.s.state(), State::Backoff);
    assert!(h.s.take_close_request());
    assert!(h
        .events()
        .iter()
        .any(|e| matches!(e, Event::Error(t) if t.contains("no monitor method"))));
}

#[test]
fn waits_for_the_lock_and_follows_locked_and_stolen() {
    let lock = fixtures::received("lock.json", Some("B"));
    let (locked, stolen) = (&lock[1], &lock[3]);
    assert_eq!(
        (&locked["method"], &stolen["method"]),
        (&json!("locked"), &json!("stolen"))
    );
    let mut h = H::vswitchd();
    let (_, _, id) = h.request();
    h.feed(&with_id(&schema_reply(), id));
    let (_, _, id) = h.request();
    // Captured: the second client's lock request is not granted at once.
    h.feed(&with_id(&lock[0], id));
    assert_eq!(
        h.events()[1..],
        [Event::LockWaiting {
            lock: "ovs_vswitchd".into()
        }]
    );
    assert!(h.sent().is_empty(), "no monitor before the lock");
    assert_eq!(h.s.state(), State::Locking);
    assert_eq!(h.s.transact(&[]), Err(TxnError::NotConnected));
    h.feed(locked);
    assert_eq!(
        h.events(),
        [Event::LockAcquired {
            lock: "ovs_vswitchd".into()
        }]
    );
    let (m, _, id) = h.request();
    assert_eq!(m, "monitor_cond_since");
    h.feed(&with_id(&monitor_capture("monitor_cond_since.json").0, id));
    h.events();
    h.feed(stolen);
    assert_eq!(
        h.events(),
        [Event::LockStolen {
            lock: "ovs_vswitchd".into()
        }]
    );
    assert!(!h.s.has_lock());
    assert_eq!(h.s.state(), State::Active, "the replica keeps following");
    assert!(matches!(h.s.transact(&[]), Err(TxnError::NotLocked(_))));
    h.feed(locked);
    assert_eq!(
        h.events(),
        [Event::LockAcquired {
            lock: "ovs_vswitchd".into()
        }]
    );
    assert!(h.sent().is_empty(), "already monitoring");
    // A repeated "locked" (the real server sends one) changes nothing; another lock's is odd.
    h.feed(locked);
    assert!(h.events().is_empty());
    h.feed(&json!({"id": null, "method": "stolen", "params": ["other"]}));
    assert!(matches!(&h.events()[..], [Event::Error(_)]));
    assert!(h.s.has_lock());
}

#[test]
fn answers_echo_and_probes_an_idle_server() {
    let echo = fixtures::transcript("echo.json");
    let probe = echo
        .iter()
        .find_map(|i| i.get("recv").filter(|m| m["method"] == "echo"))
        .unwrap();
    let answer = echo
        .iter()
        .filter_map(|i| i.get("send"))
        .find(|m| m["id"] == "echo")
        .unwrap();
    let mut h = H::vswitchd();
    let (_, _, id) = h.up_to_monitor();
    h.feed(&with_id(&monitor_capture("monitor_cond_since.json").0, id));
    h.feed(probe);
    let sent = h.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        &sent[0].to_value(),
        answer,
        "answered as the captured client did"
    );

    let probe_interval = Duration::from_secs(5);
    assert_eq!(h.s.next_timeout(), Some(h.now + probe_interval));
    h.advance(Duration::from_millis(4999));
    assert!(h.sent().is_empty());
    h.advance(Duration::from_millis(1));
    let (m, p, id) = h.request();
    assert_eq!((m.as_str(), p.len()), ("echo", 0));
    h.advance(Duration::from_secs(4));
    h.feed(&json!({"id": id, "result": [], "error": null}));
    h.advance(Duration::from_secs(4));
    assert_eq!(h.s.state(), State::Active, "the answer reset the clock");
    h.advance(Duration::from_secs(1));
    h.request();
    h.events();
    h.advance(Duration::from_secs(5));
    assert_eq!(h.s.state(), State::Backoff);
    assert!(h.s.take_close_request());
    let ev = h.events();
    assert!(
        matches!(&ev[..], [Event::Disconnected { reason, retry_in }] if reason.contains("inactivity probe") && *retry_in == Duration::from_secs(1)),
        "{ev:?}"
    );
    assert_eq!(
        h.s.replica().unwrap().table("Open_vSwitch").unwrap().len(),
        1,
        "the replica stays"
    );
}

#[test]
fn reconnects_with_exponential_backoff() {
    let mut h = H::vswitchd();
    let mut waits = vec![];
    for _ in 0..5 {
        h.s.disconnected(h.now, "Connection refused");
        let Some(Event::Disconnected { retry_in, .. }) = h.events().pop() else {
            panic!()
        };
        waits.push(retry_in.as_secs());
        assert_eq!(h.s.next_timeout(), Some(h.now + retry_in));
        assert!(!h.s.connect_due(h.now + retry_in - Duration::from_millis(1)));
        h.now += retry_in;
        h.s.tick(h.now);
        h.connect();
    }
    assert_eq!(waits, [1, 2, 4, 8, 8]);
    // A connection attempt that hangs is given up after the probe interval.
    h.s.disconnected(h.now, "x");
    h.now += Duration::from_secs(8);
    h.s.connecting(h.now);
    h.events();
    h.advance(Duration::from_secs(5));
    assert!(
        matches!(&h.events()[..], [Event::Disconnected { reason, .. }] if reason.contains("timed out"))
    );
    // In sync again: the backoff starts over.
    h.now += Duration::from_secs(8);
    h.connect();
    let (_, _, id) = h.up_to_monitor();
    h.feed(&with_id(&monitor_capture("monitor_cond_since.json").0, id));
    h.s.disconnected(h.now, "x");
    assert!(
        matches!(h.events().pop(), Some(Event::Disconnected { retry_in, .. }) if retry_in == Duration::from_secs(1))
    );
}

#[test]
fn resyncs_after_reconnect_from_the_last_txn_id() {
    let items = fixtures::transcript("resync.json");
    let sent_by = |c: &str| {
        items
            .iter()
            .find(|i| i["client"] == c && i.get("send").is_some())
            .unwrap()["send"]
            .clone()
    };
    let first = server_msgs("resync.json", Some("first"));
    let second = server_msgs("resync.json", Some("second"));
    let third = server_msgs("resync.json", Some("third"));

    let mut h = H::vswitchd();
    let (_, _, id) = h.up_to_monitor();
    h.feed(&with_id(&first[0], id));
    for n in &first[1..] {
        h.feed(n);
    }
    assert!(h.row("Port", "p1").is_some());
    h.s.disconnected(h.now, "connection closed by server");
    h.events();
    assert!(
        h.row("Port", "p1").is_some(),
        "the replica outlives the connection"
    );
    h.now += Duration::from_secs(1);
    h.connect();
    let (m, p, id) = h.up_to_monitor();
    assert_eq!(m, "monitor_cond_since");
    assert_eq!(
        p[3],
        sent_by("second")["params"][3],
        "asks from the last txn id it saw"
    );
    assert_ne!(p[3], json!(ZERO_UUID));
    h.feed(&with_id(&second[0], id));
    h.feed(&second[1]);
    let ev = h.events();
    assert!(ev.contains(&Event::Synced {
        full: false,
        method: MonitorMethod::CondSince
    }));
    assert!(h.row("Port", "p1").is_none(), "deleted while away");
    assert!(h.row("Port", "p2").is_some(), "added while away");
    let after_resync = h.s.replica().unwrap().clone();

    // The same state as a full dump; and a full dump (found=false) replaces the replica.
    h.s.disconnected(h.now, "x");
    h.now += Duration::from_secs(1);
    h.connect();
    let (_, _, id) = h.up_to_monitor();
    h.feed(&with_id(&third[0], id));
    assert!(h.events().contains(&Event::Synced {
        full: true,
        method: MonitorMethod::CondSince
    }));
    let full = h.s.replica().unwrap();
    for t in after_resync.tables() {
        let rows = |r: &Replica| {
            r.table(t.name())
                .unwrap()
                .rows()
                .map(|(u, r)| (u.to_string(), r.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(rows(&after_resync), rows(full), "table {}", t.name());
    }
    assert_eq!(after_resync.last_txn_id(), full.last_txn_id());
}

#[test]
fn a_changed_schema_on_reconnect_asks_for_everything() {
    let mut h = H::vswitchd();
    let (_, _, id) = h.up_to_monitor();
    let (reply, notes) = monitor_capture("monitor_cond_since.json");
    h.feed(&with_id(&reply, id));
    h.feed(&notes[0]);
    h.feed(&json!({"id": null, "method": "update3", "params": ["rvs", "11111111-2222-3333-4444-555555555555", {}]}));
    assert!(h.s.replica().unwrap().last_txn_id().is_some());
    let mut schema = schema_reply();
    schema["result"]["version"] = json!("9.9.9");
    // Twice: a bad reply to the first monitor must not lose the pending full resync.
    for bad_reply in [true, false] {
        h.s.disconnected(h.now, "x");
        h.now += Duration::from_secs(8);
        h.connect();
        let (_, _, id) = h.request();
        h.feed(&with_id(&schema, id));
        let (_, _, id) = h.request();
        h.feed(&json!({"id": id, "result": {"locked": true}}));
        let (_, p, id) = h.request();
        assert_eq!(p[3], json!(ZERO_UUID));
        assert!(
            h.row("Bridge", "br1").is_some(),
            "old rows stay until the new dump"
        );
        if !bad_reply {
            h.feed(&json!({"id": id, "result": [false, ZERO_UUID, {}]}));
            break;
        }
        h.feed(&json!({"id": id, "result": [false, ZERO_UUID, {"Nope": {}}]}));
        assert_eq!(h.s.state(), State::Backoff);
    }
    assert!(h.row("Bridge", "br1").is_none());
    assert_eq!(h.s.schema().unwrap().version, "9.9.9");
}

#[test]
fn hostile_messages_are_reported_and_never_half_applied() {
    let ready = || {
        let mut h = H::vswitchd();
        let (_, _, id) = h.up_to_monitor();
        h.feed(&with_id(&populated_reply(), id));
        h.events();
        h
    };
    // Harmless oddities: reported, connection kept.
    let mut h = ready();
    for m in [
        json!({"id": 999, "result": {}, "error": null}),
        json!({"id": "x", "result": {}, "error": null}),
        json!({"id": null, "method": "update2", "params": ["other", {}]}),
        json!({"id": null, "method": "surprise", "params": []}),
    ] {
        h.feed(&m);
        let ev = h.events();
        assert!(matches!(&ev[..], [Event::Error(_)]), "{m}: {ev:?}");
        assert_eq!(h.s.state(), State::Active);
    }
    h.feed(&json!({"id": 5, "method": "list_dbs", "params": []}));
    assert_eq!(
        h.sent()[0].to_value(),
        json!({"id": 5, "result": null, "error": "unknown method"})
    );
    h.events();
    // Fatal: the replica is left as it was and the connection dropped.
    let bridge = fixtures::some_row(h.s.replica().unwrap(), "Bridge");
    for bad in [
        b"}{".to_vec(),
        b"[1]".to_vec(),
        b"{\"id\":null,\"method\":\"update3\",\"params\":[\"rvs\",{}]}".to_vec(),
        json!({"id": null, "method": "update3", "params": ["rvs", ZERO_UUID, {"Bridge": {bridge.clone(): {"modify": {"datapath_type": 5}}}}]}).to_string().into_bytes(),
        json!({"id": null, "method": "update3", "params": ["rvs", ZERO_UUID, {"Bridge": {bridge.clone(): {"modify": {"datapath_type": "x"}}, "25b139bc-dd8c-4d06-8496-268a0336d4cf": {"modify": {}}}}]}).to_string().into_bytes(),
    ] {
        let mut h = ready();
        let before = h.s.replica().unwrap().clone();
        h.s.received(&bad, h.now);
        let ev = h.events();
        assert!(matches!(&ev[..], [Event::Error(_), Event::Disconnected { .. }]), "{}: {ev:?}", String::from_utf8_lossy(&bad));
        assert!(h.s.take_close_request());
        assert_eq!(h.s.replica().unwrap(), &before);
        // Bytes after the bad message are not looked at.
        h.s.received(b"{\"id\":1", h.now);
        assert!(h.events().is_empty());
    }
    // A bad schema, lock reply, monitor reply: dropped, nothing kept half-built.
    for (step, bad) in [
        (0, json!({"name": "Open_vSwitch"})),
        (1, json!({"locked": "yes"})),
        (2, json!([true])),
    ] {
        let mut h = H::vswitchd();
        let mut id = h.request().2;
        let good = [schema_reply()["result"].clone(), json!({"locked": true})];
        for g in good.iter().take(step) {
            h.feed(&json!({"id": id, "result": g}));
            id = h.request().2;
        }
        h.feed(&json!({"id": id, "result": bad}));
        assert_eq!(h.s.state(), State::Backoff, "step {step}");
        assert!(h.events().iter().any(|e| matches!(e, Event::Error(_))));
    }
    let mut h = H::vswitchd();
    let id = h.request().2;
    h.feed(&json!({"id": id, "result": null, "error": {"error": "unknown database"}}));
    assert_eq!(h.s.state(), State::Backoff);
}

#[test]
fn transactions_assert_the_lock_and_report_each_outcome() {
    let mut h = H::vswitchd();
    let (_, _, id) = h.up_to_monitor();
    h.feed(&with_id(&populated_reply(), id));
    h.events();
    let iface = fixtures::some_row(h.s.replica().unwrap(), "Interface");
    let ops = [Op::Update {
        table: "Interface".into(),
        conditions: vec![Condition::uuid_is(&iface)],
        row: vec![("ofport".into(), Datum::scalar(Atom::Int(3)))],
    }];
    let t = h.s.transact(&ops).unwrap();
    let (m, p, id) = h.request();
    assert_eq!((m.as_str(), id), ("transact", t));
    assert_eq!(p[1], json!({"op": "assert", "lock": "ovs_vswitchd"}));
    assert_eq!(p[2]["row"], json!({"ofport": 3}));
    h.feed(&json!({"id": id, "result": [{}, {"count": 1}], "error": null}));
    let ev = h.events();
    let [Event::Transaction {
        id: got,
        outcome: Ok(o),
    }] = &ev[..]
    else {
        panic!("{ev:?}")
    };
    assert_eq!((*got, o.results[0].count()), (t, Some(1)));
    // Lost the lock meanwhile (captured "not owner" result).
    let not_owner = fixtures::reply_to("lock.json", "transact", 0);
    let t = h.s.transact(&ops).unwrap();
    h.sent();
    h.feed(&with_id(&not_owner, t));
    assert!(matches!(
        &h.events()[..],
        [Event::Transaction {
            outcome: Err(TxnError::NotLocked(_)),
            ..
        }]
    ));
    // A JSON-RPC error, then a connection lost with two in flight.
    let t = h.s.transact(&ops).unwrap();
    h.feed(&json!({"id": t, "result": null, "error": {"error": "syntax error"}}));
    assert!(matches!(
        &h.events()[..],
        [Event::Transaction {
            outcome: Err(TxnError::Rpc(_)),
            ..
        }]
    ));
    let a = h.s.transact(&ops).unwrap();
    let b = h.s.transact(&[Op::Comment("x".into())]).unwrap();
    h.s.disconnected(h.now, "x");
    let ev = h.events();
    for id in [a, b] {
        assert!(ev.contains(&Event::Transaction {
            id,
            outcome: Err(TxnError::Disconnected)
        }));
    }
    assert!(
        h.s.pending_output().is_empty(),
        "output of a dead connection is dropped"
    );
    assert_eq!(h.s.transact(&ops), Err(TxnError::NotConnected));
    // Invalid operations are refused before anything is sent.
    h.now += Duration::from_secs(1);
    h.connect();
    let (_, _, id) = h.up_to_monitor();
    h.feed(&with_id(&monitor_capture("monitor_cond_since.json").0, id));
    let bad = Op::Delete {
        table: "Nope".into(),
        conditions: vec![],
    };
    assert!(matches!(h.s.transact(&[bad]), Err(TxnError::Invalid(_))));
    assert!(h.sent().is_empty());
    assert!(OpResult::NotExecuted.uuid().is_none());
}

#[test]
fn events_read_well_in_a_log() {
    let e = Event::LockWaiting {
        lock: "ovs_vswitchd".into(),
    };
    assert_eq!(
        e.to_string(),
        "waiting for lock ovs_vswitchd: another client holds it"
    );
    let e = Event::Disconnected {
        reason: "connection closed by server".into(),
        retry_in: Duration::from_secs(2),
    };
    assert_eq!(
        e.to_string(),
        "connection closed by server; reconnecting in 2000 ms"
    );
    let e = Event::Synced {
        full: false,
        method: MonitorMethod::CondSince,
    };
    assert_eq!(
        e.to_string(),
        "resynced missed changes (monitor_cond_since)"
    );
}
