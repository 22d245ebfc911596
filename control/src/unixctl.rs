//! OVS's unixctl protocol: JSON-RPC 1.0 over a unix stream socket.
//!
//! A request is `{"method":"fdb/show","params":["br0"],"id":0}`; the reply is
//! `{"id":0,"result":"…","error":null}` or `{"id":0,"result":null,"error":"…"}`. Messages are
//! JSON values written back to back with no framing, exactly as Open vSwitch's `ovs-appctl`
//! sends them, so Debian's real `ovs-appctl -t RUNDIR/rvsd.ctl …` works against rvsd.
//!
//! `Decoder` frames a byte stream into requests with a hard size limit (through the
//! [`Framer`] OVSDB uses too, so a message must be a JSON object or array); `client_call` is
//! the front ends' side.

use crate::jsonrpc::Framer;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

/// Largest request accepted (bytes). A peer that sends more is disconnected.
pub const MAX_REQUEST: usize = 1 << 20;

/// One request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    pub method: String,
    #[serde(default)]
    pub params: Vec<Value>,
    #[serde(default)]
    pub id: Value,
}

impl Request {
    /// The params as strings (unixctl params are strings; anything else is rendered as JSON).
    pub fn string_params(&self) -> Vec<String> {
        self.params
            .iter()
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
            .collect()
    }
}

/// One reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    pub id: Value,
    pub result: Option<String>,
    pub error: Option<String>,
}

impl Reply {
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// What the decoder found in the buffered bytes.
#[derive(Debug, PartialEq)]
pub enum Decoded {
    /// Need more bytes.
    Incomplete,
    /// A request (its bytes have been consumed).
    Request(Request),
    /// A complete JSON value that is not a valid request; answer with this error.
    Invalid(String),
    /// Garbage or over the size limit: close the connection.
    Fatal(String),
}

/// Frames requests out of a byte stream (the shared [`Framer`] with the unixctl size limit).
#[derive(Debug)]
pub struct Decoder {
    framer: Framer,
}

impl Default for Decoder {
    fn default() -> Decoder {
        Decoder {
            framer: Framer::new(MAX_REQUEST),
        }
    }
}

impl Decoder {
    /// Append received bytes.
    pub fn feed(&mut self, data: &[u8]) {
        self.framer.feed(data);
    }

    /// Bytes buffered.
    pub fn buffered(&self) -> usize {
        self.framer.buffered()
    }

    /// Take the next message out of the buffer.
    pub fn next_message(&mut self) -> Decoded {
        match self.framer.next_value() {
            Ok(None) => Decoded::Incomplete,
            Ok(Some(v)) => match serde_json::from_value::<Request>(v) {
                Ok(r) => Decoded::Request(r),
                Err(e) => Decoded::Invalid(format!("invalid JSON-RPC request: {e}")),
            },
            Err(e) => Decoded::Fatal(e.0),
        }
    }
}

/// Error of a client call.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("{0}")]
    Connect(String),
    #[error("{0}")]
    Io(String),
    /// The server answered with an error string.
    #[error("{0}")]
    Server(String),
}

/// Send one request and wait for its reply (the front ends' side).
pub fn client_call(
    socket: &Path,
    method: &str,
    params: &[String],
    timeout: Option<Duration>,
) -> Result<String, CallError> {
    let mut s = UnixStream::connect(socket).map_err(|e| {
        CallError::Connect(format!(
            "cannot connect to \"{}\" ({})",
            socket.display(),
            errno_text(&e)
        ))
    })?;
    s.set_read_timeout(timeout).ok();
    s.set_write_timeout(timeout).ok();
    let req = Request {
        method: method.to_string(),
        params: params.iter().map(|p| Value::String(p.clone())).collect(),
        id: Value::from(0),
    };
    let bytes = serde_json::to_vec(&req).map_err(|e| CallError::Io(e.to_string()))?;
    s.write_all(&bytes)
        .map_err(|e| CallError::Io(format!("send failed ({})", errno_text(&e))))?;
    // Replies (e.g. a big `fdb/show`) have no size limit on this side.
    let mut framer = Framer::new(usize::MAX);
    let mut chunk = [0u8; 65536];
    loop {
        let n = s
            .read(&mut chunk)
            .map_err(|e| CallError::Io(format!("transaction error ({})", errno_text(&e))))?;
        if n == 0 {
            return Err(CallError::Io("transaction error (End of file)".into()));
        }
        framer.feed(&chunk[..n]);
        let value = match framer.next_value() {
            Ok(Some(v)) => v,
            Ok(None) => continue,
            Err(e) => return Err(CallError::Io(format!("bad reply: {e}"))),
        };
        let r = serde_json::from_value::<Reply>(value)
            .map_err(|e| CallError::Io(format!("bad reply: {e}")))?;
        return match (r.result, r.error) {
            (_, Some(e)) => Err(CallError::Server(e)),
            (Some(res), None) => Ok(res),
            (None, None) => Ok(String::new()),
        };
    }
}

/// "No such file or directory" style text for an io::Error, as OVS prints errno strings.
pub fn errno_text(e: &std::io::Error) -> String {
    let s = e.to_string();
    s.split(" (os error").next().unwrap_or(&s).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_back_to_back_requests_split_anywhere() {
        let msg = br#"{"method":"fdb/show","params":["br0"],"id":0}{"method":"version","params":[],"id":1}"#;
        for split in 0..msg.len() {
            let mut d = Decoder::default();
            d.feed(&msg[..split]);
            let mut got = vec![];
            loop {
                match d.next_message() {
                    Decoded::Request(r) => got.push(r),
                    Decoded::Incomplete => break,
                    other => panic!("{other:?}"),
                }
            }
            d.feed(&msg[split..]);
            while let Decoded::Request(r) = d.next_message() {
                got.push(r);
            }
            assert_eq!(got.len(), 2, "split at {split}");
            assert_eq!(got[0].string_params(), vec!["br0"]);
            assert_eq!(got[1].method, "version");
        }
    }

    #[test]
    fn garbage_and_oversize_are_fatal_non_requests_invalid() {
        let mut d = Decoder::default();
        d.feed(b"}}}");
        assert!(matches!(d.next_message(), Decoded::Fatal(_)));
        let mut d = Decoder::default();
        d.feed(b"[1,2]");
        assert!(matches!(d.next_message(), Decoded::Invalid(_)));
        let mut d = Decoder::default();
        d.feed(b"\"");
        d.feed(&vec![b'a'; MAX_REQUEST + 1]);
        assert!(matches!(d.next_message(), Decoded::Fatal(_)));
    }

    #[test]
    fn reply_shape_matches_ovs() {
        let r = Reply {
            id: Value::from(0),
            result: Some("x".into()),
            error: None,
        };
        assert_eq!(
            String::from_utf8(r.to_bytes()).unwrap(),
            r#"{"id":0,"result":"x","error":null}"#
        );
    }
}
