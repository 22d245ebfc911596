//! Test helper: the conversations captured from a real ovsdb-server 3.1 in
//! `control/testdata/ovsdb/` (made by `capture.py` there). Each file is
//! `{"description": …, "transcript": [{"client", "send"|"recv"} | {"note"}]}`.

use super::schema::DatabaseSchema;
use serde_json::Value;
use std::path::PathBuf;

fn path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/ovsdb")
        .join(name)
}

/// The transcript items of a fixture file.
pub(crate) fn transcript(name: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(path(name)).expect("fixture exists");
    let v: Value = serde_json::from_str(&text).expect("fixture is JSON");
    v["transcript"].as_array().expect("a transcript").clone()
}

/// What the server sent to `client` (every client if `None`), in order.
pub(crate) fn received(name: &str, client: Option<&str>) -> Vec<Value> {
    transcript(name)
        .into_iter()
        .filter(|i| client.is_none_or(|c| i["client"] == c))
        .filter_map(|i| i.get("recv").cloned())
        .collect()
}

/// The reply to the `nth` request (from 0) of `method` in the file.
pub(crate) fn reply_to(name: &str, method: &str, nth: usize) -> Value {
    let items = transcript(name);
    let (client, id) = items
        .iter()
        .filter(|i| i["send"]["method"] == method)
        .map(|i| (i["client"].clone(), i["send"]["id"].clone()))
        .nth(nth)
        .expect("such a request");
    items
        .iter()
        .filter(|i| i["client"] == client)
        .filter_map(|i| i.get("recv"))
        .find(|m| m["id"] == id && m.get("method").is_none())
        .expect("its reply")
        .clone()
}

/// The vswitch schema as the server sent it.
pub(crate) fn schema() -> DatabaseSchema {
    let reply = reply_to("get_schema.json", "get_schema", 0);
    DatabaseSchema::from_json(&reply["result"]).expect("the captured schema parses")
}

/// The tables and columns capture.py monitors.
pub(crate) fn monitored() -> Vec<(String, Vec<String>)> {
    let req = &transcript("monitor_cond.json")[0]["send"]["params"][2];
    let tables = req.as_object().expect("monitor requests");
    tables
        .iter()
        .map(|(t, r)| {
            let cols = r[0]["columns"].as_array().expect("columns");
            let cols = cols.iter().filter_map(|c| c.as_str().map(str::to_string));
            (t.clone(), cols.collect())
        })
        .collect()
}

/// The UUID of some row of `table` (the first in UUID order).
pub(crate) fn some_row(r: &super::Replica, table: &str) -> String {
    let t = r.table(table).expect("a monitored table");
    t.rows().next().expect("a row").0.to_string()
}
