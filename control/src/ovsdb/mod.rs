//! The OVSDB client protocol layer (RFC 7047 plus Open vSwitch's extensions): what rvsd needs to
//! be an `ovs-vswitchd`-like client of a real `ovsdb-server`.
//!
//! Layers, each usable alone:
//! - [`schema`]: database schemas from `get_schema`;
//! - [`datum`]: atoms and data in their JSON wire form;
//! - [`replica`]: a local copy of monitored tables, kept by `update`/`update2`/`update3`;
//! - [`db`]: the embedded database (rvsd's own store): a replica of every table, changed by
//!   transactions committed as ovsdb-server commits them;
//! - [`txn`]: transaction operations (`insert`, `update`, `mutate`, `wait`, …) and their results;
//! - [`session`]: the sans-IO state machine (schema → lock → monitor with fallbacks → updates,
//!   echo, inactivity probes, reconnect with backoff and resynchronisation);
//! - [`transport`]: a small mio stream (`unix:PATH`, `tcp:IP:PORT`) that drives a session.
//!
//! Framing of the byte stream is the crate's shared [`crate::jsonrpc::Framer`].

pub mod datum;
pub mod db;
pub mod replica;
pub mod schema;
pub mod session;
pub mod transport;
pub mod txn;

#[cfg(test)]
pub(crate) mod fixtures;

pub use datum::{Atom, Datum};
pub use db::{CommitError, Database};
pub use replica::{Replica, Row, TableReplica};
pub use schema::{
    AtomicType, BaseType, ColumnSchema, ColumnType, DatabaseSchema, RefType, TableSchema,
};
pub use session::{Event, MonitorMethod, Session, SessionConfig, State};
pub use transport::{Remote, Transport};
pub use txn::{Condition, Function, Mutation, Mutator, Op, OpResult, TxnError, TxnOutcome};
