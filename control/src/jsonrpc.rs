//! JSON-RPC 1.0 over a byte stream, as Open vSwitch speaks it (unixctl and OVSDB alike):
//! JSON values written back to back with no delimiter, each one a request, a reply or a
//! notification.
//!
//! [`Framer`] cuts a byte stream into JSON values. It scans every received byte once (it keeps
//! its place, nesting depth and string state between reads), so a 200 KB monitor reply that
//! arrives in 4 KB pieces costs one pass, and it hands a complete value to `serde_json` once.
//! [`Message`] classifies a value into the three JSON-RPC message kinds.
//!
//! Invariants: a top-level value must be an object or an array (as OVS's parser requires);
//! anything else, malformed JSON, or a value growing past the size limit is a fatal
//! [`FrameError`] after which the stream is unusable (close the connection). Nothing here
//! panics on any input. White space between values is skipped.

use serde_json::{Map, Value};
use std::fmt;

/// Why a stream cannot be framed any further (close the connection).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameError(pub String);

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FrameError {}

/// Frames back-to-back JSON values out of a byte stream, in linear time.
#[derive(Debug, Clone)]
pub struct Framer {
    buf: Vec<u8>,
    /// Start of the value being scanned (bytes before it are consumed).
    head: usize,
    /// Next byte to scan.
    pos: usize,
    /// Nesting depth of `{`/`[` inside the current value (0: not inside one yet).
    depth: usize,
    in_string: bool,
    escaped: bool,
    max: usize,
    failed: Option<FrameError>,
}

impl Framer {
    /// A framer refusing values larger than `max` bytes.
    pub fn new(max: usize) -> Framer {
        Framer {
            buf: Vec::new(),
            head: 0,
            pos: 0,
            depth: 0,
            in_string: false,
            escaped: false,
            max,
            failed: None,
        }
    }

    /// Appends received bytes.
    pub fn feed(&mut self, data: &[u8]) {
        if self.head > 0 && self.head * 2 >= self.buf.len() {
            // Drop consumed bytes once they are at least half the buffer: amortised O(1).
            self.buf.drain(..self.head);
            self.pos -= self.head;
            self.head = 0;
        }
        self.buf.extend_from_slice(data);
    }

    /// Bytes received and not yet returned as a value.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.head
    }

    /// Drops everything buffered and any error (a new connection).
    pub fn reset(&mut self) {
        *self = Framer::new(self.max);
    }

    /// The next complete value, `Ok(None)` if more bytes are needed, or the fatal error (again
    /// on every later call).
    pub fn next_value(&mut self) -> Result<Option<Value>, FrameError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        match self.scan() {
            Ok(Some(end)) if end - self.head > self.max => {
                self.fail(format!("message larger than {} bytes", self.max))
            }
            Ok(Some(end)) => {
                let parsed = serde_json::from_slice::<Value>(&self.buf[self.head..end]);
                self.head = end;
                self.pos = end;
                match parsed {
                    Ok(v) => Ok(Some(v)),
                    Err(e) => self.fail(format!("malformed JSON: {e}")),
                }
            }
            Ok(None) => Ok(None),
            Err(e) => self.fail(e),
        }
    }

    fn fail<T>(&mut self, text: String) -> Result<T, FrameError> {
        let e = FrameError(text);
        self.failed = Some(e.clone());
        Err(e)
    }

    /// Scans from `pos`: the end offset of a complete top-level value, if one is buffered.
    fn scan(&mut self) -> Result<Option<usize>, String> {
        if self.depth == 0 {
            while self.head < self.buf.len() && self.buf[self.head].is_ascii_whitespace() {
                self.head += 1;
            }
            self.pos = self.head;
            match self.buf.get(self.head) {
                None => return Ok(None),
                Some(b'{' | b'[') => {}
                Some(&c) => {
                    return Err(format!(
                        "syntax error: a message must be a JSON object or array, not {}",
                        describe(c)
                    ))
                }
            }
        }
        while self.pos < self.buf.len() {
            let c = self.buf[self.pos];
            self.pos += 1;
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                } else if c == b'\\' {
                    self.escaped = true;
                } else if c == b'"' {
                    self.in_string = false;
                }
                continue;
            }
            match c {
                b'"' => self.in_string = true,
                b'{' | b'[' => self.depth += 1,
                b'}' | b']' => {
                    self.depth = self.depth.saturating_sub(1);
                    if self.depth == 0 {
                        return Ok(Some(self.pos));
                    }
                }
                _ => {}
            }
        }
        if self.pos - self.head > self.max {
            return Err(format!("message larger than {} bytes", self.max));
        }
        Ok(None)
    }
}

fn describe(c: u8) -> String {
    if c.is_ascii_graphic() {
        format!("'{}'", c as char)
    } else {
        format!("byte 0x{c:02x}")
    }
}

/// One JSON-RPC 1.0 message.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// A call that wants a reply with the same `id`.
    Request {
        method: String,
        params: Vec<Value>,
        id: Value,
    },
    /// A call without a reply (`"id": null`).
    Notification { method: String, params: Vec<Value> },
    /// The answer to a request: `error` is `Value::Null` on success.
    Reply {
        id: Value,
        result: Value,
        error: Value,
    },
}

impl Message {
    /// A request.
    pub fn request(method: &str, params: Vec<Value>, id: Value) -> Message {
        Message::Request {
            method: method.to_string(),
            params,
            id,
        }
    }

    /// A successful reply.
    pub fn reply(id: Value, result: Value) -> Message {
        Message::Reply {
            id,
            result,
            error: Value::Null,
        }
    }

    /// Classifies a framed value (OVS's rules: `method` makes a request or, with a null or
    /// missing `id`, a notification, whose `params` must be an array; otherwise `result` or
    /// `error` makes a reply, which needs an `id`).
    pub fn from_value(v: Value) -> Result<Message, String> {
        let Value::Object(mut m) = v else {
            return Err("a JSON-RPC message must be an object".into());
        };
        let id = m.remove("id").unwrap_or(Value::Null);
        if let Some(method) = m.remove("method") {
            let Value::String(method) = method else {
                return Err("\"method\" must be a string".into());
            };
            let params = match m.remove("params") {
                Some(Value::Array(p)) => p,
                _ => return Err(format!("{method}: \"params\" must be an array")),
            };
            return Ok(if id.is_null() {
                Message::Notification { method, params }
            } else {
                Message::Request { method, params, id }
            });
        }
        if !m.contains_key("result") && !m.contains_key("error") {
            return Err("a JSON-RPC message needs \"method\", \"result\" or \"error\"".into());
        }
        if id.is_null() {
            return Err("a JSON-RPC reply needs an \"id\"".into());
        }
        Ok(Message::Reply {
            id,
            result: m.remove("result").unwrap_or(Value::Null),
            error: m.remove("error").unwrap_or(Value::Null),
        })
    }

    /// The message as a JSON value.
    pub fn to_value(&self) -> Value {
        let mut m = Map::new();
        match self {
            Message::Request { method, params, id } => {
                m.insert("method".into(), Value::from(method.as_str()));
                m.insert("params".into(), Value::Array(params.clone()));
                m.insert("id".into(), id.clone());
            }
            Message::Notification { method, params } => {
                m.insert("method".into(), Value::from(method.as_str()));
                m.insert("params".into(), Value::Array(params.clone()));
                m.insert("id".into(), Value::Null);
            }
            Message::Reply { id, result, error } => {
                m.insert("id".into(), id.clone());
                m.insert("result".into(), result.clone());
                m.insert("error".into(), error.clone());
            }
        }
        Value::Object(m)
    }

    /// The message as bytes for the wire.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_value().to_string().into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn all(f: &mut Framer) -> Result<Vec<Value>, FrameError> {
        let mut out = vec![];
        while let Some(v) = f.next_value()? {
            out.push(v);
        }
        Ok(out)
    }

    #[test]
    fn frames_values_split_at_every_byte() {
        let stream = br#" {"a":"x}]\"{"} [1,{"b":[2,3]}]
{"method":"echo","params":[],"id":"echo"}"#;
        let whole = all(&mut {
            let mut f = Framer::new(1000);
            f.feed(stream);
            f
        })
        .unwrap();
        assert_eq!(whole.len(), 3);
        assert_eq!(whole[0], json!({"a": "x}]\"{"}));
        for split in 0..=stream.len() {
            let mut f = Framer::new(1000);
            f.feed(&stream[..split]);
            let mut got = all(&mut f).unwrap();
            f.feed(&stream[split..]);
            got.extend(all(&mut f).unwrap());
            assert_eq!(got, whole, "split at {split}");
            assert_eq!(f.buffered(), 0);
        }
    }

    #[test]
    fn byte_at_a_time_scans_each_byte_once() {
        // A 200 KB value fed one byte at a time: linear (would take minutes if quadratic).
        let big = json!({"rows": vec!["0123456789abcdef"; 12_000]}).to_string();
        let mut f = Framer::new(1 << 20);
        for b in big.as_bytes() {
            f.feed(std::slice::from_ref(b));
            if f.buffered() < big.len() {
                assert_eq!(f.next_value(), Ok(None));
            }
        }
        assert!(f.next_value().unwrap().is_some());
    }

    #[test]
    fn garbage_scalars_and_oversize_are_fatal_and_stay_fatal() {
        for bad in [
            &b"}"[..],
            b"x",
            b"12",
            b"\"s\"",
            b"{\"a\":}",
            b"[1,}",
            b"\xff",
        ] {
            let mut f = Framer::new(100);
            f.feed(bad);
            // `[1,}` is only known bad once the value closes; all of these close or start bad.
            assert!(f.next_value().is_err(), "{bad:?}");
            assert!(f.next_value().is_err());
        }
        let mut f = Framer::new(10);
        f.feed(b"[\"0123456789");
        assert!(f.next_value().is_err());
        let mut f = Framer::new(10);
        f.feed(b"[\"0123456789\"]");
        assert!(f.next_value().is_err(), "complete but too large");
        let mut f = Framer::new(10);
        f.feed(b"{\"a\":\"\xff\"}");
        assert!(f.next_value().is_err(), "invalid UTF-8 inside a string");
    }

    #[test]
    fn classifies_messages_as_ovs_does() {
        let m = |v: Value| Message::from_value(v);
        assert_eq!(
            m(json!({"method":"echo","params":[],"id":"echo"})),
            Ok(Message::request("echo", vec![], json!("echo")))
        );
        assert_eq!(
            m(json!({"id":null,"method":"locked","params":["ovs_vswitchd"]})),
            Ok(Message::Notification {
                method: "locked".into(),
                params: vec![json!("ovs_vswitchd")]
            })
        );
        // ovsdb-server's "unknown method" reply has no "result" member.
        assert_eq!(
            m(json!({"id":8,"error":"unknown method"})),
            Ok(Message::Reply {
                id: json!(8),
                result: Value::Null,
                error: json!("unknown method")
            })
        );
        assert!(m(json!([1])).is_err());
        assert!(m(json!({"method":"x","params":{}})).is_err());
        assert!(m(json!({"method":1,"params":[]})).is_err());
        assert!(m(json!({"result":1})).is_err());
        assert!(m(json!({"id":1})).is_err());
        let r = Message::reply(json!(3), json!({"locked": true}));
        assert_eq!(
            m(serde_json::from_slice(&r.to_bytes()).unwrap()),
            Ok(r.clone())
        );
        assert_eq!(
            String::from_utf8(r.to_bytes()).unwrap(),
            r#"{"error":null,"id":3,"result":{"locked":true}}"#
        );
    }
}
