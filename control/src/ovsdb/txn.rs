//! `transact` operations (RFC 7047 section 5.2) built from typed values and encoded against the
//! schema, and the per-operation results of the reply.
//!
//! Invariants: an [`Op`] is encoded only if every table and column it names exists in the
//! schema and every value fits its column's atomic types, so the server sees only well-typed
//! requests (it still checks constraints and references itself). Decoding a reply never
//! panics: a result that is not an array of objects is a [`TxnError::Malformed`].

use super::datum::Datum;
use super::schema::{ColumnType, DatabaseSchema, TableSchema, UNLIMITED};
use serde_json::{json, Map, Value};
use std::fmt;

/// A comparison in a `where` clause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    Lt,
    Le,
    Eq,
    Ne,
    Ge,
    Gt,
    Includes,
    Excludes,
}

impl Function {
    fn as_str(self) -> &'static str {
        match self {
            Function::Lt => "<",
            Function::Le => "<=",
            Function::Eq => "==",
            Function::Ne => "!=",
            Function::Ge => ">=",
            Function::Gt => ">",
            Function::Includes => "includes",
            Function::Excludes => "excludes",
        }
    }
}

/// One `[column, function, value]` condition.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub column: String,
    pub function: Function,
    pub value: Datum,
}

impl Condition {
    /// `column == value`.
    pub fn eq(column: &str, value: Datum) -> Condition {
        Condition {
            column: column.to_string(),
            function: Function::Eq,
            value,
        }
    }

    /// `_uuid == uuid`: the row with this UUID.
    pub fn uuid_is(uuid: &str) -> Condition {
        Condition::eq(
            "_uuid",
            Datum::scalar(super::Atom::Uuid(uuid.to_ascii_lowercase())),
        )
    }
}

/// A mutator of a `mutate` operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutator {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    /// Adds elements (sets) or pairs whose key is absent (maps).
    Insert,
    /// Removes elements, or map pairs (by pair, or by key when the datum has no values).
    Delete,
}

impl Mutator {
    fn as_str(self) -> &'static str {
        match self {
            Mutator::Add => "+=",
            Mutator::Sub => "-=",
            Mutator::Mul => "*=",
            Mutator::Div => "/=",
            Mutator::Mod => "%=",
            Mutator::Insert => "insert",
            Mutator::Delete => "delete",
        }
    }
}

/// One `[column, mutator, value]` mutation.
#[derive(Debug, Clone, PartialEq)]
pub struct Mutation {
    pub column: String,
    pub mutator: Mutator,
    pub value: Datum,
}

/// Column values of a row, by column name.
pub type RowValues = Vec<(String, Datum)>;

/// One operation of a transaction.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Insert {
        table: String,
        row: RowValues,
        /// Lets later operations refer to the new row as `Atom::NamedUuid(name)`.
        uuid_name: Option<String>,
    },
    Update {
        table: String,
        conditions: Vec<Condition>,
        row: RowValues,
    },
    Mutate {
        table: String,
        conditions: Vec<Condition>,
        mutations: Vec<Mutation>,
    },
    Delete {
        table: String,
        conditions: Vec<Condition>,
    },
    Select {
        table: String,
        conditions: Vec<Condition>,
        columns: Vec<String>,
    },
    /// Waits until the selected rows' `columns` equal (`until_equal`) or differ from `rows`,
    /// at most `timeout_ms` (forever if `None`).
    Wait {
        table: String,
        conditions: Vec<Condition>,
        columns: Vec<String>,
        until_equal: bool,
        rows: Vec<RowValues>,
        timeout_ms: Option<u64>,
    },
    /// Text for the server's log.
    Comment(String),
    /// Fails the transaction unless this client holds the lock.
    Assert { lock: String },
}

fn table<'s>(schema: &'s DatabaseSchema, name: &str) -> Result<&'s TableSchema, String> {
    schema
        .table(name)
        .ok_or_else(|| format!("no table {name} in schema {}", schema.name))
}

fn column<'t>(t: &'t TableSchema, name: &str) -> Result<&'t ColumnType, String> {
    t.column_type(name)
        .ok_or_else(|| format!("no column {name} in table {}", t.name))
}

/// A value must fit its column's atomic types to be encoded.
fn encode(t: &TableSchema, col: &str, ty: &ColumnType, d: &Datum) -> Result<Value, String> {
    let v = d.to_json(ty);
    Datum::from_json(&v, ty).map_err(|e| format!("table {} column {col}: {e}", t.name))?;
    Ok(v)
}

fn row_json(t: &TableSchema, row: &RowValues) -> Result<Value, String> {
    let mut m = Map::new();
    for (c, d) in row {
        if c.starts_with('_') {
            return Err(format!("column {c} cannot be written"));
        }
        m.insert(c.clone(), encode(t, c, column(t, c)?, d)?);
    }
    Ok(Value::Object(m))
}

fn where_json(t: &TableSchema, conds: &[Condition]) -> Result<Value, String> {
    conds
        .iter()
        .map(|c| {
            let ty = column(t, &c.column)?;
            // includes/excludes compare whole sets; the others one value of the column type.
            let ty = match c.function {
                Function::Includes | Function::Excludes => &ColumnType {
                    min: 0,
                    max: UNLIMITED,
                    ..ty.clone()
                },
                _ => ty,
            };
            Ok(json!([
                c.column,
                c.function.as_str(),
                encode(t, &c.column, ty, &c.value)?
            ]))
        })
        .collect::<Result<Vec<Value>, String>>()
        .map(Value::Array)
}

fn mutations_json(t: &TableSchema, muts: &[Mutation]) -> Result<Value, String> {
    muts.iter()
        .map(|m| {
            let ty = column(t, &m.column)?;
            let set_of_keys = ColumnType {
                key: ty.key.clone(),
                value: None,
                min: 0,
                max: UNLIMITED,
            };
            let value = match m.mutator {
                Mutator::Insert | Mutator::Delete
                    if ty.is_map() && m.value.values.is_empty() && !m.value.is_empty() =>
                {
                    if m.mutator == Mutator::Insert {
                        return Err(format!(
                            "column {}: insert into a map needs pairs",
                            m.column
                        ));
                    }
                    encode(t, &m.column, &set_of_keys, &m.value)?
                }
                Mutator::Insert | Mutator::Delete => encode(
                    t,
                    &m.column,
                    &ColumnType {
                        min: 0,
                        max: UNLIMITED,
                        ..ty.clone()
                    },
                    &m.value,
                )?,
                _ => {
                    let a = m.value.as_scalar().ok_or_else(|| {
                        format!(
                            "column {}: {} takes one value",
                            m.column,
                            m.mutator.as_str()
                        )
                    })?;
                    encode(
                        t,
                        &m.column,
                        &ColumnType::scalar(ty.key.atomic),
                        &Datum::scalar(a.clone()),
                    )?
                }
            };
            Ok(json!([m.column, m.mutator.as_str(), value]))
        })
        .collect::<Result<Vec<Value>, String>>()
        .map(Value::Array)
}

fn columns_json(t: &TableSchema, cols: &[String]) -> Result<Value, String> {
    for c in cols {
        column(t, c)?;
    }
    Ok(json!(cols))
}

impl Op {
    /// The operation's name and table (`None` for `comment` and `assert`).
    fn name_and_table(&self) -> (&'static str, Option<&str>) {
        match self {
            Op::Insert { table, .. } => ("insert", Some(table)),
            Op::Update { table, .. } => ("update", Some(table)),
            Op::Mutate { table, .. } => ("mutate", Some(table)),
            Op::Delete { table, .. } => ("delete", Some(table)),
            Op::Select { table, .. } => ("select", Some(table)),
            Op::Wait { table, .. } => ("wait", Some(table)),
            Op::Comment(_) => ("comment", None),
            Op::Assert { .. } => ("assert", None),
        }
    }

    /// The operation's JSON, checked against `schema`.
    pub fn to_json(&self, schema: &DatabaseSchema) -> Result<Value, String> {
        let (name, tname) = self.name_and_table();
        let mut v = json!({ "op": name });
        let Some(tname) = tname else {
            match self {
                Op::Comment(text) => v["comment"] = json!(text),
                Op::Assert { lock } => v["lock"] = json!(lock),
                _ => {}
            }
            return Ok(v);
        };
        let t = table(schema, tname)?;
        v["table"] = json!(tname);
        match self {
            Op::Insert { row, uuid_name, .. } => {
                v["row"] = row_json(t, row)?;
                if let Some(n) = uuid_name {
                    if !super::datum::is_id(n) {
                        return Err(format!("\"{n}\" is not a valid uuid-name"));
                    }
                    v["uuid-name"] = json!(n);
                }
            }
            Op::Update {
                conditions, row, ..
            } => {
                v["where"] = where_json(t, conditions)?;
                v["row"] = row_json(t, row)?;
            }
            Op::Mutate {
                conditions,
                mutations,
                ..
            } => {
                v["where"] = where_json(t, conditions)?;
                v["mutations"] = mutations_json(t, mutations)?;
            }
            Op::Delete { conditions, .. } => v["where"] = where_json(t, conditions)?,
            Op::Select {
                conditions,
                columns,
                ..
            } => {
                v["where"] = where_json(t, conditions)?;
                v["columns"] = columns_json(t, columns)?;
            }
            Op::Wait {
                conditions,
                columns,
                until_equal,
                rows,
                timeout_ms,
                ..
            } => {
                v["where"] = where_json(t, conditions)?;
                v["columns"] = columns_json(t, columns)?;
                v["until"] = json!(if *until_equal { "==" } else { "!=" });
                let rows = rows.iter().map(|r| row_json(t, r));
                v["rows"] = Value::Array(rows.collect::<Result<Vec<Value>, String>>()?);
                if let Some(ms) = timeout_ms {
                    v["timeout"] = json!(ms);
                }
            }
            Op::Comment(_) | Op::Assert { .. } => {}
        }
        Ok(v)
    }
}

/// The result of one operation.
#[derive(Debug, Clone, PartialEq)]
pub enum OpResult {
    /// Success: `{"uuid": …}` for insert, `{"count": n}` for update/mutate/delete, `{"rows":
    /// […]}` for select, `{}` otherwise.
    Ok(Map<String, Value>),
    /// `{"error": …, "details": …}`.
    Error {
        error: String,
        details: Option<String>,
    },
    /// `null`: not executed, because an earlier operation failed.
    NotExecuted,
}

impl OpResult {
    fn from_json(v: &Value) -> Result<OpResult, String> {
        if v.is_null() {
            return Ok(OpResult::NotExecuted);
        }
        let Value::Object(m) = v else {
            return Err(format!("operation result {v} is not an object"));
        };
        match m.get("error") {
            None | Some(Value::Null) => Ok(OpResult::Ok(m.clone())),
            Some(Value::String(e)) => Ok(OpResult::Error {
                error: e.clone(),
                details: m.get("details").and_then(Value::as_str).map(str::to_string),
            }),
            Some(other) => Err(format!("operation error {other} is not a string")),
        }
    }

    fn member(&self, key: &str) -> Option<&Value> {
        match self {
            OpResult::Ok(m) => m.get(key),
            _ => None,
        }
    }

    /// The new row's UUID, for an insert.
    pub fn uuid(&self) -> Option<&str> {
        self.member("uuid")?.as_array()?.get(1)?.as_str()
    }

    /// The number of rows touched, for update/mutate/delete.
    pub fn count(&self) -> Option<u64> {
        self.member("count")?.as_u64()
    }

    /// The selected rows, for select.
    pub fn rows(&self) -> Option<&[Value]> {
        self.member("rows")?.as_array().map(Vec::as_slice)
    }
}

/// The results of a committed or failed transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct TxnOutcome {
    /// One result per operation the caller gave (the server stops at the first failing one:
    /// later ones are [`OpResult::NotExecuted`] or absent).
    pub results: Vec<OpResult>,
    /// An error the server reported after all operations (e.g. a referential integrity
    /// violation found at commit), as the extra last element of the reply.
    pub commit_error: Option<OpResult>,
}

impl TxnOutcome {
    /// Builds the outcome of `n_ops` operations from a transact `result` array; `skip` leading
    /// results belong to operations the session added (the lock assertion), and a failure
    /// there is reported as [`TxnError::NotLocked`].
    pub fn from_result(result: &Value, n_ops: usize, skip: usize) -> Result<TxnOutcome, TxnError> {
        let arr = result.as_array().ok_or_else(|| {
            TxnError::Malformed(format!("transact result {result} is not an array"))
        })?;
        let mut all = arr
            .iter()
            .map(|v| OpResult::from_json(v).map_err(TxnError::Malformed))
            .collect::<Result<Vec<OpResult>, TxnError>>()?;
        for r in all.iter().take(skip) {
            if let OpResult::Error { error, details } = r {
                return Err(TxnError::NotLocked(format!(
                    "{error}{}",
                    details
                        .as_ref()
                        .map(|d| format!(": {d}"))
                        .unwrap_or_default()
                )));
            }
        }
        let mut results = all.split_off(skip.min(all.len()));
        let commit_error = if results.len() > n_ops {
            results.truncate(n_ops + 1);
            results.pop()
        } else {
            None
        };
        Ok(TxnOutcome {
            results,
            commit_error,
        })
    }

    /// The first failure: the operation's index (or `results.len()` for a commit error), the
    /// error and its details.
    pub fn error(&self) -> Option<(usize, &str, Option<&str>)> {
        self.results
            .iter()
            .chain(&self.commit_error)
            .enumerate()
            .find_map(|(i, r)| match r {
                OpResult::Error { error, details } => Some((i, error.as_str(), details.as_deref())),
                _ => None,
            })
    }
}

/// Why a transaction did not produce a [`TxnOutcome`].
#[derive(Debug, Clone, PartialEq)]
pub enum TxnError {
    /// No connection, or the session is not yet monitoring: try again later.
    NotConnected,
    /// This client does not hold the lock it is configured with.
    NotLocked(String),
    /// The operations do not fit the schema.
    Invalid(String),
    /// The connection was lost before the reply came: the transaction may or may not have
    /// been committed.
    Disconnected,
    /// The server answered with a JSON-RPC error (e.g. a syntax error).
    Rpc(Value),
    /// The reply was not a transact result.
    Malformed(String),
}

impl fmt::Display for TxnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TxnError::NotConnected => f.write_str("not connected to the database"),
            TxnError::NotLocked(e) => write!(f, "lock not held: {e}"),
            TxnError::Invalid(e) => write!(f, "invalid transaction: {e}"),
            TxnError::Disconnected => f.write_str("connection lost before the transaction's reply"),
            TxnError::Rpc(e) => write!(f, "transaction failed: {e}"),
            TxnError::Malformed(e) => write!(f, "malformed transaction reply: {e}"),
        }
    }
}

impl std::error::Error for TxnError {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ovsdb::datum::Atom;
    use crate::ovsdb::fixtures;

    fn s(x: &str) -> Atom {
        Atom::Str(x.into())
    }

    #[test]
    fn encodes_the_captured_transaction() {
        // The second request of transact.json, built from typed operations.
        let schema = fixtures::schema();
        let sent: Vec<Value> = fixtures::transcript("transact.json")
            .into_iter()
            .filter_map(|i| i.get("send").cloned())
            .collect();
        let root = sent[1]["params"][4]["where"][0][2][1]
            .as_str()
            .unwrap()
            .to_string();
        let ops = [
            Op::Insert {
                table: "Interface".into(),
                row: vec![
                    ("name".into(), Datum::scalar(s("t1"))),
                    ("type".into(), Datum::scalar(s(""))),
                    ("options".into(), Datum::map(vec![(s("key"), s("1"))])),
                ],
                uuid_name: Some("iface".into()),
            },
            Op::Insert {
                table: "Port".into(),
                row: vec![
                    ("name".into(), Datum::scalar(s("t1"))),
                    (
                        "interfaces".into(),
                        Datum::scalar(Atom::NamedUuid("iface".into())),
                    ),
                ],
                uuid_name: Some("port".into()),
            },
        ];
        for (i, op) in ops.iter().enumerate() {
            assert_eq!(op.to_json(&schema).unwrap(), sent[1]["params"][i + 1]);
        }
        let mutate = Op::Mutate {
            table: "Open_vSwitch".into(),
            conditions: vec![Condition::uuid_is(&root)],
            mutations: vec![
                Mutation {
                    column: "bridges".into(),
                    mutator: Mutator::Insert,
                    value: Datum::scalar(Atom::NamedUuid("br".into())),
                },
                Mutation {
                    column: "next_cfg".into(),
                    mutator: Mutator::Add,
                    value: Datum::scalar(Atom::Int(1)),
                },
            ],
        };
        let mut want = sent[1]["params"][4].clone();
        // OVS writes a one-element set as the bare atom; capture.py wrote ["set",[x]].
        want["mutations"][0][2] = json!(["named-uuid", "br"]);
        assert_eq!(mutate.to_json(&schema).unwrap(), want);
        let wait = Op::Wait {
            table: "Interface".into(),
            conditions: vec![Condition::eq("name", Datum::scalar(s("t1")))],
            columns: vec!["ofport".into()],
            until_equal: true,
            rows: vec![vec![("ofport".into(), Datum::scalar(Atom::Int(3)))]],
            timeout_ms: Some(0),
        };
        assert_eq!(wait.to_json(&schema).unwrap(), sent[2]["params"][3]);
        assert_eq!(
            Op::Comment("rvs: add brt".into()).to_json(&schema).unwrap(),
            sent[1]["params"][5]
        );
        let lock = fixtures::transcript("lock.json")
            .into_iter()
            .find_map(|i| i.get("send").filter(|m| m["method"] == "transact").cloned())
            .unwrap();
        assert_eq!(
            Op::Assert {
                lock: "ovs_vswitchd".into()
            }
            .to_json(&schema)
            .unwrap(),
            lock["params"][1]
        );
    }

    #[test]
    fn refuses_what_does_not_fit_the_schema() {
        let schema = fixtures::schema();
        let bad = [
            Op::Delete {
                table: "Nope".into(),
                conditions: vec![],
            },
            Op::Delete {
                table: "Port".into(),
                conditions: vec![Condition::eq("nope", Datum::empty())],
            },
            Op::Update {
                table: "Port".into(),
                conditions: vec![],
                row: vec![("tag".into(), Datum::scalar(s("x")))],
            },
            Op::Update {
                table: "Port".into(),
                conditions: vec![],
                row: vec![("_uuid".into(), Datum::empty())],
            },
            Op::Insert {
                table: "Port".into(),
                row: vec![],
                uuid_name: Some("9x".into()),
            },
            Op::Select {
                table: "Port".into(),
                conditions: vec![],
                columns: vec!["nope".into()],
            },
            Op::Mutate {
                table: "Port".into(),
                conditions: vec![],
                mutations: vec![Mutation {
                    column: "tag".into(),
                    mutator: Mutator::Add,
                    value: Datum::empty(),
                }],
            },
            Op::Mutate {
                table: "Port".into(),
                conditions: vec![],
                mutations: vec![Mutation {
                    column: "external_ids".into(),
                    mutator: Mutator::Insert,
                    value: Datum::set(vec![s("k")]),
                }],
            },
        ];
        for op in bad {
            assert!(op.to_json(&schema).is_err(), "{op:?}");
        }
        // Deleting map keys by key alone is a set of keys on the wire.
        let del = Op::Mutate {
            table: "Port".into(),
            conditions: vec![Condition {
                column: "trunks".into(),
                function: Function::Includes,
                value: Datum::scalar(Atom::Int(5)),
            }],
            mutations: vec![Mutation {
                column: "external_ids".into(),
                mutator: Mutator::Delete,
                value: Datum::set(vec![s("a"), s("b")]),
            }],
        };
        assert_eq!(
            del.to_json(&schema).unwrap(),
            json!({"op": "mutate", "table": "Port", "where": [["trunks", "includes", 5]],
                   "mutations": [["external_ids", "delete", ["set", ["a", "b"]]]]})
        );
    }

    #[test]
    fn decodes_captured_results_and_errors() {
        let r = fixtures::reply_to("transact.json", "transact", 1);
        let out = TxnOutcome::from_result(&r["result"], 5, 0).unwrap();
        assert!(out.error().is_none());
        assert!(out.results[0].uuid().unwrap().len() == 36);
        assert_eq!(out.results[3].count(), Some(1));
        let r = fixtures::reply_to("transact.json", "transact", 2);
        let out = TxnOutcome::from_result(&r["result"], 4, 0).unwrap();
        assert_eq!(out.results[3].rows().unwrap()[0]["ofport"], json!(3));
        // Constraint violation in the operation itself.
        let r = fixtures::reply_to("transact.json", "transact", 3);
        let out = TxnOutcome::from_result(&r["result"], 1, 0).unwrap();
        assert_eq!(
            out.error(),
            Some((
                0,
                "constraint violation",
                Some("0 is not in the valid range 1 to 65279 (inclusive)")
            ))
        );
        // Referential integrity: found at commit, one more result than operations.
        let r = fixtures::reply_to("transact.json", "transact", 4);
        let out = TxnOutcome::from_result(&r["result"], 1, 0).unwrap();
        assert_eq!(out.results.len(), 1);
        assert_eq!(
            out.error().map(|e| (e.0, e.1)),
            Some((1, "referential integrity violation"))
        );
        // A failed wait.
        let r = fixtures::reply_to("transact.json", "transact", 5);
        assert_eq!(
            TxnOutcome::from_result(&r["result"], 1, 0)
                .unwrap()
                .error()
                .unwrap()
                .1,
            "timed out"
        );
        // The lock assertion added by the session, failing: "not owner".
        let l = fixtures::reply_to("lock.json", "transact", 0);
        assert_eq!(
            TxnOutcome::from_result(&l["result"], 1, 1),
            Err(TxnError::NotLocked(
                "not owner: Asserted lock ovs_vswitchd not held.".into()
            ))
        );
        let ok = fixtures::reply_to("lock.json", "transact", 1);
        assert_eq!(
            TxnOutcome::from_result(&ok["result"], 1, 1)
                .unwrap()
                .results
                .len(),
            1
        );
        for bad in [json!({}), json!([1]), json!([{"error": 3}])] {
            assert!(matches!(
                TxnOutcome::from_result(&bad, 1, 0),
                Err(TxnError::Malformed(_))
            ));
        }
    }
}
