//! The OVSDB client library against a real Debian `ovsdb-server` (root, and Debian's
//! `openvswitch-switch`; without them the test says why and returns, unless
//! `RVS_REQUIRE_ROOT=1`, which makes a missing prerequisite a failure).
//!
//! One scenario: monitor Open_vSwitch/Bridge/Port/Interface; `ovs-vsctl add-br/add-port` rows
//! arrive; a transaction writes Interface `ofport` and `ovs-vsctl get` reads it back; the
//! server is killed with SIGKILL, the database changed offline with `ovsdb-tool transact`, the
//! server restarted, and the session reconnects and resynchronises (the replica is kept
//! meanwhile); a second client waits for the `ovs_vswitchd` lock while the first holds it and
//! gets it when the first goes away. The server and the temp dir are cleaned up on drop, also
//! on panic.

use mio::{Events, Poll, Token};
use rvs_control::ovsdb::{
    Atom, Condition, Datum, Event, Op, Remote, Session, SessionConfig, State, Transport,
};
use rvs_testkit::{skip_unless_ovs, OvsdbServer, TempDir};
use std::path::Path;
use std::time::{Duration, Instant};

/// Debian's `ovs-vsctl --no-wait ARGS` against `server` (no ovs-vswitchd runs); trimmed stdout.
fn vsctl(server: &OvsdbServer, args: &[&str]) -> String {
    let mut all = vec!["--no-wait"];
    all.extend_from_slice(args);
    server.try_vsctl(&all).unwrap().trim().to_string()
}

/// A session and its transport on their own poll.
struct Client {
    poll: Poll,
    session: Session,
    transport: Transport,
    events: Vec<Event>,
}

impl Client {
    fn new(sock: &Path) -> Client {
        let monitor = [
            ("Open_vSwitch", &["bridges", "cur_cfg", "next_cfg"][..]),
            ("Bridge", &["name", "ports"]),
            ("Port", &["name", "interfaces"]),
            ("Interface", &["name", "ofport", "mtu_request"]),
        ]
        .iter()
        .map(|(t, cols)| (t.to_string(), cols.iter().map(|c| c.to_string()).collect()))
        .collect();
        let remote = Remote::parse(&format!("unix:{}", sock.display())).unwrap();
        Client {
            poll: Poll::new().unwrap(),
            session: Session::new(SessionConfig::vswitchd(monitor), Instant::now()),
            transport: Transport::new(remote, Token(0)),
            events: vec![],
        }
    }

    /// Drives the client until `done` holds (events so far are in `self.events`), or panics
    /// after `secs` seconds.
    fn until(&mut self, secs: u64, what: &str, mut done: impl FnMut(&Client) -> bool) {
        let mut evs = Events::with_capacity(16);
        let end = Instant::now() + Duration::from_secs(secs);
        loop {
            let now = Instant::now();
            self.transport
                .drive(self.poll.registry(), &mut self.session, now);
            while let Some(e) = self.session.poll_event() {
                eprintln!("client: {e}");
                self.events.push(e);
            }
            if done(self) {
                return;
            }
            assert!(
                now < end,
                "timed out waiting for {what}; events: {:?}",
                self.events
            );
            let wait = self
                .session
                .next_timeout()
                .map_or(Duration::from_millis(100), |t| {
                    t.saturating_duration_since(now)
                })
                .min(Duration::from_millis(100));
            self.poll.poll(&mut evs, Some(wait)).unwrap();
        }
    }

    /// The UUID and row of the `table` row named `name`.
    fn row(&self, table: &str, name: &str) -> Option<(String, rvs_control::ovsdb::Row)> {
        let name = Datum::scalar(Atom::Str(name.into()));
        let (uuid, row) = self.session.replica()?.table(table)?.find("name", &name)?;
        Some((uuid.to_string(), row.clone()))
    }

    fn int(&self, table: &str, name: &str, col: &str) -> Option<i64> {
        match self.row(table, name)?.1.get(col)?.as_scalar()? {
            Atom::Int(i) => Some(*i),
            _ => None,
        }
    }

    fn saw(&self, pred: impl Fn(&Event) -> bool) -> bool {
        self.events.iter().any(pred)
    }
}

#[test]
fn ovsdb_client_against_a_real_ovsdb_server() {
    if skip_unless_ovs("ovsdb_client_against_a_real_ovsdb_server") {
        return;
    }
    let dir = TempDir::new("ovsdb");
    let server = OvsdbServer::try_create(None, &dir.0).unwrap();
    server.try_start().unwrap();
    vsctl(&server, &["init"]);

    let mut a = Client::new(&server.sock());
    a.until(10, "the first sync", |c| {
        c.saw(|e| matches!(e, Event::Synced { full: true, .. }))
    });
    assert!(a.saw(|e| matches!(e, Event::LockAcquired { .. })));
    assert_eq!(
        a.session
            .replica()
            .unwrap()
            .table("Open_vSwitch")
            .unwrap()
            .len(),
        1
    );

    // Rows made by the real ovs-vsctl arrive.
    vsctl(&server, &["add-br", "br0", "--", "add-port", "br0", "p1"]);
    a.until(10, "br0 and p1", |c| {
        c.row("Bridge", "br0").is_some()
            && c.row("Port", "p1").is_some()
            && c.row("Interface", "p1").is_some()
    });
    let (br0, br) = a.row("Bridge", "br0").unwrap();
    let (p1_port, _) = a.row("Port", "p1").unwrap();
    assert!(br.get("ports").unwrap().contains(&Atom::Uuid(p1_port)));
    let ovs = a
        .session
        .replica()
        .unwrap()
        .table("Open_vSwitch")
        .unwrap()
        .rows()
        .next()
        .unwrap()
        .1
        .clone();
    assert!(ovs.get("bridges").unwrap().contains(&Atom::Uuid(br0)));

    // Write ofport back, as vswitchd does, and read it with ovs-vsctl.
    let (p1, _) = a.row("Interface", "p1").unwrap();
    let id = a
        .session
        .transact(&[Op::Update {
            table: "Interface".into(),
            conditions: vec![Condition::uuid_is(&p1)],
            row: vec![("ofport".into(), Datum::scalar(Atom::Int(5)))],
        }])
        .unwrap();
    a.until(10, "the transaction reply", |c| {
        c.saw(|e| matches!(e, Event::Transaction { id: i, .. } if *i == id))
    });
    let outcome = a.events.iter().find_map(|e| match e {
        Event::Transaction { id: i, outcome } if *i == id => Some(outcome.clone()),
        _ => None,
    });
    let outcome = outcome.unwrap().unwrap();
    assert_eq!(outcome.error(), None);
    assert_eq!(outcome.results[0].count(), Some(1));
    assert_eq!(vsctl(&server, &["get", "Interface", "p1", "ofport"]), "5");
    a.until(10, "ofport in the replica", |c| {
        c.int("Interface", "p1", "ofport") == Some(5)
    });

    // kill -9; change the database while the server is down; restart.
    a.events.clear();
    server.kill9();
    a.until(10, "the disconnect", |c| {
        c.saw(|e| matches!(e, Event::Disconnected { .. }))
    });
    assert!(
        a.row("Interface", "p1").is_some(),
        "the replica is kept while disconnected"
    );
    let offline = r#"["Open_vSwitch",{"op":"update","table":"Interface","where":[["name","==","p1"]],"row":{"mtu_request":1400}}]"#;
    server
        .tool(&[
            "ovsdb-tool",
            "transact",
            server.db().to_str().unwrap(),
            offline,
        ])
        .unwrap();
    server.try_start().unwrap();
    a.until(20, "the resync after restart", |c| {
        c.saw(|e| matches!(e, Event::Synced { .. }))
    });
    // A standalone database keeps no transaction ids: the resync is a full one.
    assert!(a.saw(|e| matches!(e, Event::Synced { full: true, .. })));
    assert_eq!(
        a.int("Interface", "p1", "mtu_request"),
        Some(1400),
        "the missed change is there"
    );
    assert_eq!(a.int("Interface", "p1", "ofport"), Some(5));
    assert!(a.session.has_lock());

    // A second client waits for the lock the first holds, and gets it when the first goes.
    let mut b = Client::new(&server.sock());
    b.until(10, "the second client to wait", |c| {
        c.saw(|e| matches!(e, Event::LockWaiting { .. }))
    });
    assert_eq!(b.session.state(), State::Locking);
    assert!(!b.session.has_lock());
    assert!(b.session.transact(&[Op::Comment("x".into())]).is_err());
    a.transport.close(a.poll.registry());
    drop(a);
    b.until(10, "the lock to pass to the second client", |c| {
        c.saw(|e| matches!(e, Event::Synced { .. }))
    });
    assert!(b.saw(|e| matches!(e, Event::LockAcquired { .. })));
    assert_eq!(b.int("Interface", "p1", "mtu_request"), Some(1400));
}
