//! The OVSDB client session as a sans-IO state machine: it is fed received bytes, connection
//! changes and the time (`now` is always an argument), and hands back bytes to send and
//! [`Event`]s for its owner. [`super::transport::Transport`] is one driver; tests and the fuzz
//! target are others.
//!
//! On every connection: `get_schema` for the database → `lock` (if configured; while another
//! client holds it the session reports [`Event::LockWaiting`] and waits for the server's
//! `locked` notification) → `monitor_cond_since` with the last transaction id of the replica,
//! falling back to `monitor_cond`, then `monitor`, when the server answers "unknown method" →
//! updates. It answers the server's `echo`, probes an idle server with `echo` and drops a
//! connection that stays silent for another probe interval (OVS's 5 s inactivity probe), and
//! reconnects with exponential backoff (1 s doubling to 8 s by default, reset once a monitor is
//! in sync).
//!
//! Invariants:
//! - the [`Replica`] survives disconnections (the owner keeps forwarding with the last
//!   configuration); a reconnection resynchronises it once: `found=true` applies only the
//!   missed changes, anything else replaces it wholesale ([`Event::Synced`] says which);
//! - a malformed or hostile message never panics and never half-applies: it is reported as
//!   [`Event::Error`] and, when the stream or the replica can no longer be trusted (bad
//!   framing, a bad reply or update), the connection is dropped and resynchronised;
//! - every [`Session::transact`] gets exactly one [`Event::Transaction`] (its reply, or
//!   [`TxnError::Disconnected`] if the connection goes first);
//! - output bytes belong to the current connection: they are discarded when it ends.

use super::replica::{Replica, UpdateFormat};
use super::schema::{DatabaseSchema, ZERO_UUID};
use super::txn::{Op, TxnError, TxnOutcome};
use crate::jsonrpc::{Framer, Message};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The lock `ovs-vswitchd` takes.
pub const VSWITCHD_LOCK: &str = "ovs_vswitchd";

/// What a session connects to and asks for.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// The database (`Open_vSwitch`).
    pub database: String,
    /// A lock to hold before monitoring, as `ovs-vswitchd` holds `ovs_vswitchd`.
    pub lock: Option<String>,
    /// Tables to monitor and their columns (an empty list: every column).
    pub monitor: Vec<(String, Vec<String>)>,
    /// Idle time before an `echo` probe, and the time to wait for any answer after it
    /// (zero: never probe).
    pub probe_interval: Duration,
    /// First reconnection delay; it doubles after each failure up to `max_backoff`.
    pub min_backoff: Duration,
    pub max_backoff: Duration,
    /// Largest message accepted from the server (bytes).
    pub max_message: usize,
}

impl SessionConfig {
    /// `ovs-vswitchd`'s settings: database `Open_vSwitch`, lock `ovs_vswitchd`, 5 s probes,
    /// backoff 1 s to 8 s, messages up to 64 MiB.
    pub fn vswitchd(monitor: Vec<(String, Vec<String>)>) -> SessionConfig {
        SessionConfig {
            database: "Open_vSwitch".into(),
            lock: Some(VSWITCHD_LOCK.into()),
            monitor,
            probe_interval: Duration::from_secs(5),
            min_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(8),
            max_message: 64 << 20,
        }
    }
}

/// Where the session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Not connected; [`Session::connect_due`] says when to try.
    Backoff,
    /// The transport is connecting.
    Connecting,
    /// Connected, `get_schema` sent.
    Schema,
    /// `lock` sent, or waiting for the server to grant it.
    Locking,
    /// A monitor request sent.
    Monitoring,
    /// In sync: updates flow into the replica.
    Active,
}

/// The monitor methods, newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MonitorMethod {
    CondSince,
    Cond,
    Plain,
}

impl MonitorMethod {
    /// The method's name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            MonitorMethod::CondSince => "monitor_cond_since",
            MonitorMethod::Cond => "monitor_cond",
            MonitorMethod::Plain => "monitor",
        }
    }

    fn fallback(self) -> Option<MonitorMethod> {
        match self {
            MonitorMethod::CondSince => Some(MonitorMethod::Cond),
            MonitorMethod::Cond => Some(MonitorMethod::Plain),
            MonitorMethod::Plain => None,
        }
    }
}

/// Something the owner should know (and usually log).
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A connection is up (`get_schema` sent).
    Connected,
    /// Another client holds the lock: configuration waits until it is granted.
    LockWaiting { lock: String },
    /// The lock is ours: the owner may configure and write.
    LockAcquired { lock: String },
    /// Another client stole the lock: stop writing until [`Event::LockAcquired`].
    LockStolen { lock: String },
    /// The server does not know a monitor method; the next one is tried.
    MonitorFallback {
        from: MonitorMethod,
        to: MonitorMethod,
    },
    /// The replica is in sync after a monitor request: replaced wholesale (`full`) or brought
    /// up to date with the changes missed while disconnected.
    Synced { full: bool, method: MonitorMethod },
    /// An update notification changed the replica.
    Updated,
    /// The reply to [`Session::transact`] number `id`.
    Transaction {
        id: u64,
        outcome: Result<TxnOutcome, TxnError>,
    },
    /// A bad message from the server (what and why); connection-fatal ones are followed by
    /// [`Event::Disconnected`].
    Error(String),
    /// The connection ended (or could not be made); the next attempt is in `retry_in`.
    Disconnected { reason: String, retry_in: Duration },
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Connected => f.write_str("connected"),
            Event::LockWaiting { lock } => {
                write!(f, "waiting for lock {lock}: another client holds it")
            }
            Event::LockAcquired { lock } => write!(f, "acquired lock {lock}"),
            Event::LockStolen { lock } => write!(f, "lock {lock} stolen by another client"),
            Event::MonitorFallback { from, to } => {
                write!(
                    f,
                    "server does not support {}, falling back to {}",
                    from.name(),
                    to.name()
                )
            }
            Event::Synced { full, method } => write!(
                f,
                "{} ({})",
                if *full {
                    "full database resync"
                } else {
                    "resynced missed changes"
                },
                method.name()
            ),
            Event::Updated => f.write_str("database changed"),
            Event::Transaction { id, outcome: Ok(o) } => match o.error() {
                None => write!(f, "transaction {id} committed"),
                Some((i, e, d)) => write!(
                    f,
                    "transaction {id} failed at operation {i}: {e}{}",
                    d.map(|d| format!(" ({d})")).unwrap_or_default()
                ),
            },
            Event::Transaction {
                id,
                outcome: Err(e),
            } => write!(f, "transaction {id}: {e}"),
            Event::Error(e) => write!(f, "protocol error: {e}"),
            Event::Disconnected { reason, retry_in } => {
                write!(f, "{reason}; reconnecting in {} ms", retry_in.as_millis())
            }
        }
    }
}

/// What a request in flight was.
#[derive(Debug, Clone, PartialEq)]
enum Pending {
    Schema,
    Lock,
    Monitor(MonitorMethod),
    Echo,
    Transact { n_ops: usize, skip: usize },
}

/// True when `interval` has passed since `since` (never, if that time is unrepresentable).
fn due(since: Instant, interval: Duration, now: Instant) -> bool {
    since.checked_add(interval).is_some_and(|t| now >= t)
}

/// The monitor id the session uses.
const MONITOR_ID: &str = "rvs";

/// One OVSDB client session (see the module documentation).
#[derive(Debug, Clone)]
pub struct Session {
    cfg: SessionConfig,
    state: State,
    framer: Framer,
    out: Vec<u8>,
    events: VecDeque<Event>,
    next_id: u64,
    pending: BTreeMap<u64, Pending>,
    /// Shared, so a session clones cheaply (the fuzz target clones one per input).
    schema: Option<Arc<DatabaseSchema>>,
    replica: Option<Replica>,
    /// A replica for a schema that differs from the current one, filled by the next monitor
    /// reply and swapped in then.
    next_replica: Option<Replica>,
    has_lock: bool,
    backoff: Duration,
    /// When to connect next (in `Backoff`; `None`: at once).
    retry_at: Option<Instant>,
    /// Start of the current connection attempt, or time of the last byte received.
    last_rx: Instant,
    probe_sent: Option<Instant>,
    close_requested: bool,
}

impl Session {
    /// A session that wants to connect at once.
    pub fn new(cfg: SessionConfig, now: Instant) -> Session {
        Session {
            framer: Framer::new(cfg.max_message),
            backoff: cfg.min_backoff,
            cfg,
            state: State::Backoff,
            out: Vec::new(),
            events: VecDeque::new(),
            next_id: 1,
            pending: BTreeMap::new(),
            schema: None,
            replica: None,
            next_replica: None,
            has_lock: false,
            retry_at: None,
            last_rx: now,
            probe_sent: None,
            close_requested: false,
        }
    }

    /// Where the session is.
    pub fn state(&self) -> State {
        self.state
    }

    /// The server's schema (of the current or last connection).
    pub fn schema(&self) -> Option<&DatabaseSchema> {
        self.schema.as_deref()
    }

    /// The replica, once a schema arrived (it outlives connections).
    pub fn replica(&self) -> Option<&Replica> {
        self.replica.as_ref()
    }

    /// The replica, to take its change flag.
    pub fn replica_mut(&mut self) -> Option<&mut Replica> {
        self.replica.as_mut()
    }

    /// True while this client holds its configured lock (always false without one).
    pub fn has_lock(&self) -> bool {
        self.has_lock
    }

    /// The next event for the owner.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Bytes to send on the connection.
    pub fn pending_output(&self) -> &[u8] {
        &self.out
    }

    /// Marks `n` bytes of [`Session::pending_output`] as sent.
    pub fn consume_output(&mut self, n: usize) {
        self.out.drain(..n.min(self.out.len()));
    }

    /// True (once) when the session dropped the connection itself: the transport must close
    /// the socket. The session is already in `Backoff`.
    pub fn take_close_request(&mut self) -> bool {
        std::mem::take(&mut self.close_requested)
    }

    /// True when the transport should start a connection attempt now.
    pub fn connect_due(&self, now: Instant) -> bool {
        self.state == State::Backoff && self.retry_at.is_none_or(|t| now >= t)
    }

    /// The transport started connecting.
    pub fn connecting(&mut self, now: Instant) {
        self.state = State::Connecting;
        self.last_rx = now;
    }

    /// The connection is up: asks for the schema.
    pub fn connected(&mut self, now: Instant) {
        self.state = State::Schema;
        self.framer.reset();
        self.out.clear();
        self.last_rx = now;
        self.probe_sent = None;
        self.close_requested = false;
        self.events.push_back(Event::Connected);
        let db = self.cfg.database.clone();
        self.request("get_schema", vec![json!(db)], Pending::Schema);
    }

    /// The connection ended or could not be made (`reason` is logged).
    pub fn disconnected(&mut self, now: Instant, reason: &str) {
        if self.state == State::Backoff {
            return;
        }
        for (id, p) in std::mem::take(&mut self.pending) {
            if let Pending::Transact { .. } = p {
                self.events.push_back(Event::Transaction {
                    id,
                    outcome: Err(TxnError::Disconnected),
                });
            }
        }
        self.out.clear();
        self.framer.reset();
        self.has_lock = false;
        self.probe_sent = None;
        self.state = State::Backoff;
        let wait = self.backoff;
        // An unrepresentable time (absurd settings) retries at once.
        self.retry_at = Some(now.checked_add(wait).unwrap_or(now));
        self.backoff = self.backoff.saturating_mul(2).min(self.cfg.max_backoff);
        self.events.push_back(Event::Disconnected {
            reason: reason.to_string(),
            retry_in: wait,
        });
    }

    /// When [`Session::tick`] should run next (a probe, a dead peer, a reconnection).
    pub fn next_timeout(&self) -> Option<Instant> {
        match self.state {
            State::Backoff => self.retry_at,
            _ if self.cfg.probe_interval.is_zero() => None,
            State::Connecting => self.last_rx.checked_add(self.cfg.probe_interval),
            _ => self
                .probe_sent
                .unwrap_or(self.last_rx)
                .checked_add(self.cfg.probe_interval),
        }
    }

    /// Runs the timers: inactivity probes and a stuck connection attempt.
    pub fn tick(&mut self, now: Instant) {
        let interval = self.cfg.probe_interval;
        if interval.is_zero() {
            return;
        }
        match self.state {
            State::Backoff => {}
            State::Connecting => {
                if due(self.last_rx, interval, now) {
                    self.disconnected(now, "connection attempt timed out");
                }
            }
            _ => {
                match self.probe_sent {
                    None if due(self.last_rx, interval, now) => {
                        self.probe_sent = Some(now);
                        self.request("echo", vec![], Pending::Echo);
                    }
                    Some(t) if due(t, interval, now) => {
                        let secs = (now - self.last_rx).as_secs();
                        self.close(now, &format!("no response to inactivity probe after {secs} seconds, disconnecting"));
                    }
                    _ => {}
                }
            }
        }
    }

    /// Bytes received from the server.
    pub fn received(&mut self, data: &[u8], now: Instant) {
        if matches!(self.state, State::Backoff | State::Connecting) {
            return;
        }
        self.last_rx = now;
        self.probe_sent = None;
        self.framer.feed(data);
        while !matches!(self.state, State::Backoff) {
            let msg = match self.framer.next_value() {
                Ok(Some(v)) => Message::from_value(v),
                Ok(None) => break,
                Err(e) => {
                    self.fatal(now, &format!("bad data from the server: {e}"));
                    break;
                }
            };
            match msg {
                Ok(m) => self.handle(m, now),
                Err(e) => self.fatal(now, &format!("bad JSON-RPC message from the server: {e}")),
            }
        }
    }

    /// Sends a transaction of `ops` (after an `assert` of the lock, if one is configured).
    /// Returns the id that its [`Event::Transaction`] will carry.
    pub fn transact(&mut self, ops: &[Op]) -> Result<u64, TxnError> {
        if self.state != State::Active {
            return Err(TxnError::NotConnected);
        }
        let schema = self.schema.as_ref().ok_or(TxnError::NotConnected)?;
        let mut params = vec![json!(self.cfg.database)];
        let mut skip = 0;
        if let Some(lock) = &self.cfg.lock {
            if !self.has_lock {
                return Err(TxnError::NotLocked(format!("waiting for lock {lock}")));
            }
            params.push(
                Op::Assert { lock: lock.clone() }
                    .to_json(schema)
                    .map_err(TxnError::Invalid)?,
            );
            skip = 1;
        }
        for op in ops {
            params.push(op.to_json(schema).map_err(TxnError::Invalid)?);
        }
        Ok(self.request(
            "transact",
            params,
            Pending::Transact {
                n_ops: ops.len(),
                skip,
            },
        ))
    }

    fn request(&mut self, method: &str, params: Vec<Value>, what: Pending) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.pending.insert(id, what);
        self.send(&Message::request(method, params, json!(id)));
        id
    }

    fn send(&mut self, m: &Message) {
        self.out.extend_from_slice(&m.to_bytes());
    }

    /// Drops the connection from this side (the transport closes the socket).
    fn close(&mut self, now: Instant, reason: &str) {
        self.disconnected(now, reason);
        self.close_requested = true;
    }

    /// A message that makes the connection unusable: report it and drop the connection.
    fn fatal(&mut self, now: Instant, text: &str) {
        self.events.push_back(Event::Error(text.to_string()));
        self.close(now, text);
    }

    fn handle(&mut self, msg: Message, now: Instant) {
        match msg {
            Message::Request { method, params, id } => {
                let reply = if method == "echo" {
                    Message::reply(id, Value::Array(params))
                } else {
                    self.events.push_back(Event::Error(format!(
                        "unexpected request \"{method}\" from the server"
                    )));
                    Message::Reply {
                        id,
                        result: Value::Null,
                        error: json!("unknown method"),
                    }
                };
                self.send(&reply);
            }
            Message::Notification { method, params } => self.notification(&method, &params, now),
            Message::Reply { id, result, error } => {
                let pending = id
                    .as_u64()
                    .and_then(|n| self.pending.remove(&n).map(|p| (n, p)));
                let Some((n, what)) = pending else {
                    self.events
                        .push_back(Event::Error(format!("reply to unknown request id {id}")));
                    return;
                };
                self.reply(n, what, result, error, now);
            }
        }
    }

    fn reply(&mut self, id: u64, what: Pending, result: Value, error: Value, now: Instant) {
        match what {
            Pending::Echo => {}
            Pending::Transact { n_ops, skip } => {
                let outcome = if error.is_null() {
                    TxnOutcome::from_result(&result, n_ops, skip)
                } else {
                    Err(TxnError::Rpc(error))
                };
                self.events.push_back(Event::Transaction { id, outcome });
            }
            _ if !error.is_null() => match (what, error.as_str()) {
                (Pending::Monitor(m), Some("unknown method")) => match m.fallback() {
                    Some(next) => {
                        self.events
                            .push_back(Event::MonitorFallback { from: m, to: next });
                        self.send_monitor(next);
                    }
                    None => self.fatal(now, "the server supports no monitor method"),
                },
                (Pending::Schema, _) => self.fatal(
                    now,
                    &format!("get_schema {} failed: {error}", self.cfg.database),
                ),
                (Pending::Lock, _) => self.fatal(now, &format!("lock request failed: {error}")),
                (Pending::Monitor(m), _) => {
                    self.fatal(now, &format!("{} failed: {error}", m.name()))
                }
                _ => {}
            },
            Pending::Schema => self.schema_reply(&result, now),
            Pending::Lock => match result.get("locked").and_then(Value::as_bool) {
                Some(true) => self.lock_granted(),
                Some(false) => {
                    if let Some(lock) = self.cfg.lock.clone() {
                        self.events.push_back(Event::LockWaiting { lock });
                    }
                }
                None => self.fatal(now, &format!("malformed lock reply {result}")),
            },
            Pending::Monitor(m) => self.monitor_reply(m, &result, now),
        }
    }

    fn schema_reply(&mut self, result: &Value, now: Instant) {
        let schema = match DatabaseSchema::from_json(result) {
            Ok(s) if s.name == self.cfg.database => s,
            Ok(s) => {
                return self.fatal(
                    now,
                    &format!("asked for schema {}, got {}", self.cfg.database, s.name),
                )
            }
            Err(e) => return self.fatal(now, &format!("malformed schema: {e}")),
        };
        if self.schema.as_deref() != Some(&schema) || self.replica.is_none() {
            // Monitor what the server has of what we want; say what it lacks.
            let mut monitor = Vec::new();
            for (t, cols) in &self.cfg.monitor {
                let Some(ts) = schema.table(t) else {
                    self.events.push_back(Event::Error(format!(
                        "server schema has no table {t}; not monitored"
                    )));
                    continue;
                };
                let (have, lack): (Vec<String>, Vec<String>) = cols
                    .iter()
                    .cloned()
                    .partition(|c| ts.columns.contains_key(c));
                if !lack.is_empty() {
                    self.events.push_back(Event::Error(format!(
                        "server schema has no column {} in table {t}; not monitored",
                        lack.join(", ")
                    )));
                }
                if cols.is_empty() || !have.is_empty() {
                    monitor.push((t.clone(), have));
                }
            }
            match Replica::new(&schema, &monitor) {
                Ok(r) if self.replica.is_none() => self.replica = Some(r),
                Ok(r) => self.next_replica = Some(r),
                Err(e) => return self.fatal(now, &e),
            }
        }
        self.schema = Some(Arc::new(schema));
        match self.cfg.lock.clone() {
            Some(lock) => {
                self.state = State::Locking;
                self.request("lock", vec![json!(lock)], Pending::Lock);
            }
            None => self.send_monitor(MonitorMethod::CondSince),
        }
    }

    fn lock_granted(&mut self) {
        if let Some(lock) = self.cfg.lock.clone() {
            if !self.has_lock {
                self.has_lock = true;
                self.events.push_back(Event::LockAcquired { lock });
            }
        }
        if self.state == State::Locking {
            self.send_monitor(MonitorMethod::CondSince);
        }
    }

    /// The replica the next monitor reply fills.
    fn target_replica(&self) -> Option<&Replica> {
        self.next_replica.as_ref().or(self.replica.as_ref())
    }

    fn send_monitor(&mut self, method: MonitorMethod) {
        let Some(replica) = self.target_replica() else {
            return;
        };
        let mut reqs = Map::new();
        for t in replica.tables() {
            let cols: Vec<&str> = t.columns().map(|(c, _)| c).collect();
            let one = json!({"columns": cols});
            reqs.insert(
                t.name().to_string(),
                if method == MonitorMethod::Plain {
                    one
                } else {
                    json!([one])
                },
            );
        }
        let mut params = vec![
            json!(self.cfg.database),
            json!(MONITOR_ID),
            Value::Object(reqs),
        ];
        if method == MonitorMethod::CondSince {
            params.push(json!(replica.last_txn_id().unwrap_or(ZERO_UUID)));
        }
        self.state = State::Monitoring;
        self.request(method.name(), params, Pending::Monitor(method));
    }

    fn monitor_reply(&mut self, method: MonitorMethod, result: &Value, now: Instant) {
        // The reply fills the new-schema replica if there is one, else the current one.
        let from_next = self.next_replica.is_some();
        let slot = if from_next {
            &mut self.next_replica
        } else {
            &mut self.replica
        };
        let Some(mut target) = slot.take() else {
            return;
        };
        let applied = match method {
            MonitorMethod::CondSince => match result.as_array().map(Vec::as_slice) {
                Some([Value::Bool(found), Value::String(last), updates]) => {
                    if *found {
                        target.apply_update3(last, updates).map(|_| false)
                    } else {
                        target
                            .replace_all(UpdateFormat::Update2, updates, Some(last))
                            .map(|_| true)
                    }
                }
                _ => Err("a monitor_cond_since reply must be [found, last-txn-id, updates]".into()),
            },
            MonitorMethod::Cond => target
                .replace_all(UpdateFormat::Update2, result, None)
                .map(|_| true),
            MonitorMethod::Plain => target
                .replace_all(UpdateFormat::Update, result, None)
                .map(|_| true),
        };
        match applied {
            Ok(full) => {
                self.replica = Some(target);
                self.state = State::Active;
                self.backoff = self.cfg.min_backoff;
                self.events.push_back(Event::Synced { full, method });
            }
            Err(e) => {
                // Untouched (atomic): back where it came from, for the next connection.
                if from_next {
                    self.next_replica = Some(target);
                } else {
                    self.replica = Some(target);
                }
                self.fatal(now, &format!("malformed {} reply: {e}", method.name()));
            }
        }
    }

    fn notification(&mut self, method: &str, params: &[Value], now: Instant) {
        match method {
            "locked" | "stolen" => {
                let ours = self
                    .cfg
                    .lock
                    .as_deref()
                    .is_some_and(|l| params.first() == Some(&json!(l)));
                if !ours {
                    self.events.push_back(Event::Error(format!(
                        "\"{method}\" notification for a lock we did not ask for"
                    )));
                } else if method == "locked" {
                    self.lock_granted();
                } else {
                    self.has_lock = false;
                    if let Some(lock) = self.cfg.lock.clone() {
                        self.events.push_back(Event::LockStolen { lock });
                    }
                }
            }
            "update" | "update2" | "update3" => self.update(method, params, now),
            other => self
                .events
                .push_back(Event::Error(format!("unexpected notification \"{other}\""))),
        }
    }

    fn update(&mut self, method: &str, params: &[Value], now: Instant) {
        if params.first() != Some(&json!(MONITOR_ID)) {
            self.events
                .push_back(Event::Error(format!("{method} for an unknown monitor")));
            return;
        }
        let (Some(replica), State::Active) = (self.replica.as_mut(), self.state) else {
            self.events
                .push_back(Event::Error(format!("{method} before the monitor reply")));
            return;
        };
        let applied = match (method, params) {
            ("update", [_, updates]) => replica.apply_update(updates),
            ("update2", [_, updates]) => replica.apply_update2(updates),
            ("update3", [_, Value::String(last), updates]) => replica.apply_update3(last, updates),
            _ => Err(format!("{method} has the wrong parameters")),
        };
        match applied {
            Ok(true) => self.events.push_back(Event::Updated),
            Ok(false) => {}
            // The replica no longer follows the server: resynchronise on a new connection.
            Err(e) => self.fatal(now, &format!("malformed {method}: {e}")),
        }
    }
}

#[cfg(test)]
mod tests;
