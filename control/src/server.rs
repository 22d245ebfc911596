//! The control socket server: a mio event loop on one unix listening socket.
//!
//! Single-threaded: requests are handled one at a time, in arrival order, on the control
//! thread — which is what makes every `ovs-vsctl` transaction atomic with respect to the
//! others. Limits keep hostile or broken clients from hurting the daemon: at most
//! `MAX_CLIENTS` connections (a new one evicts the client that has been quiet longest, so
//! idle connections cannot lock the operator out), `unixctl::MAX_REQUEST` bytes per request,
//! `IDLE_TIMEOUT` without a request or without progress writing a reply, and backpressure:
//! a client with `READ_PAUSE` bytes of replies pending is not read from until it takes them,
//! and one whose replies exceed the buffer limit is closed.
//!
//! Housekeeping (`Handler::tick`) runs about once a second; SIGTERM and SIGINT stop the loop
//! cleanly (the handler is then asked to shut down by the caller).

use crate::unixctl::{Decoded, Decoder, Reply, Request};
use mio::net::{UnixListener, UnixStream};
use mio::{Events, Interest, Poll, Token};
use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::{Duration, Instant};

/// Concurrent clients served; more are closed on accept.
pub const MAX_CLIENTS: usize = 256;
/// A client that sends no complete request for this long is dropped.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(10);
/// Pending reply bytes allowed per client.
const MAX_OUTPUT: usize = 64 << 20;
/// Pending reply bytes above which a client's requests are not read (backpressure).
const READ_PAUSE: usize = 1 << 20;
const TICK: Duration = Duration::from_secs(1);
const LISTENER: Token = Token(0);

/// What the server calls.
pub trait Handler {
    /// Answer one request: `Ok(result)` or `Err(error text)`.
    fn handle(&mut self, req: &Request) -> Result<String, String>;
    /// Periodic housekeeping.
    fn tick(&mut self) {}
    /// True once a request (`exit`) asked the daemon to stop.
    fn exit_requested(&self) -> bool {
        false
    }
}

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Relaxed);
}

/// Route SIGTERM and SIGINT to a clean stop, and ignore SIGPIPE (a client that goes away
/// mid-reply must not kill the daemon).
pub fn install_signal_handlers() {
    // SAFETY: `on_signal` only stores to an atomic, which is async-signal-safe; SIG_IGN for
    // SIGPIPE is a constant disposition.
    unsafe {
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
}

/// True once SIGTERM/SIGINT arrived.
pub fn stop_requested() -> bool {
    STOP.load(Relaxed)
}

struct Client {
    stream: UnixStream,
    dec: Decoder,
    out: Vec<u8>,
    last: Instant,
    closing: bool,
}

/// Bind the control socket at `path` (mode 0600), replacing a stale socket file.
pub fn bind(path: &Path) -> std::io::Result<UnixListener> {
    if path.exists() {
        // A live daemon answers; a stale socket file does not.
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(std::io::Error::new(
                ErrorKind::AddrInUse,
                format!("{} is in use by a running daemon", path.display()),
            ));
        }
        std::fs::remove_file(path)?;
    }
    // Create it private from the start: no window where others could connect.
    // SAFETY: umask only changes this process's file-creation mask; restored right after.
    let old = unsafe { libc::umask(0o177) };
    let l = UnixListener::bind(path);
    // SAFETY: as above.
    unsafe { libc::umask(old) };
    let l = l?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(l)
}

/// Serve until a signal or `exit` request. Returns when the loop stops.
pub fn serve(mut listener: UnixListener, h: &mut dyn Handler) -> std::io::Result<()> {
    let mut poll = Poll::new()?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    let mut events = Events::with_capacity(128);
    let mut clients: HashMap<Token, Client> = HashMap::new();
    let mut next_token = 1usize;
    let mut last_tick = Instant::now();
    while !stop_requested() && !h.exit_requested() {
        match poll.poll(&mut events, Some(Duration::from_millis(200))) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        for ev in events.iter() {
            if ev.token() == LISTENER {
                loop {
                    match listener.accept() {
                        Ok((mut s, _)) => {
                            if clients.len() >= MAX_CLIENTS {
                                // Full: make room by dropping the client quiet the longest.
                                let oldest = clients.iter().min_by_key(|(_, c)| c.last);
                                if let Some(t) = oldest.map(|(t, _)| *t) {
                                    if let Some(mut c) = clients.remove(&t) {
                                        let _ = poll.registry().deregister(&mut c.stream);
                                    }
                                }
                            }
                            next_token = next_token.wrapping_add(1).max(1);
                            let t = Token(next_token);
                            if poll
                                .registry()
                                .register(&mut s, t, Interest::READABLE)
                                .is_ok()
                            {
                                clients.insert(
                                    t,
                                    Client {
                                        stream: s,
                                        dec: Decoder::default(),
                                        out: Vec::new(),
                                        last: Instant::now(),
                                        closing: false,
                                    },
                                );
                            }
                        }
                        Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                        Err(_) => break,
                    }
                }
                continue;
            }
            let t = ev.token();
            let Some(c) = clients.get_mut(&t) else {
                continue;
            };
            if ev.is_readable() && c.out.len() < READ_PAUSE {
                read_client(c, h);
            }
            flush_client(c);
            // Re-arming READABLE reports data that is already waiting (epoll re-evaluates).
            let want = if c.out.len() >= READ_PAUSE {
                Interest::WRITABLE
            } else if c.out.is_empty() {
                Interest::READABLE
            } else {
                Interest::READABLE | Interest::WRITABLE
            };
            let _ = poll.registry().reregister(&mut c.stream, t, want);
        }
        let now = Instant::now();
        clients.retain(|_, c| {
            // No request read and no reply byte written for that long: idle or stuck.
            let idle = now.duration_since(c.last) > IDLE_TIMEOUT;
            let done = c.closing && c.out.is_empty();
            let keep = !(idle || done || c.out.len() > MAX_OUTPUT);
            if !keep {
                let _ = poll.registry().deregister(&mut c.stream);
            }
            keep
        });
        if now.duration_since(last_tick) >= TICK {
            last_tick = now;
            h.tick();
        }
    }
    // Deliver replies already produced (e.g. to `exit`) before returning.
    for c in clients.values_mut() {
        let _ = c.stream.write_all(&c.out);
    }
    Ok(())
}

fn read_client(c: &mut Client, h: &mut dyn Handler) {
    let mut buf = [0u8; 16384];
    loop {
        match c.stream.read(&mut buf) {
            Ok(0) => {
                c.closing = true;
                break;
            }
            Ok(n) => {
                c.dec.feed(&buf[..n]);
                c.last = Instant::now();
                if drain_requests(c, h) || c.out.len() >= READ_PAUSE {
                    break;
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => {
                c.closing = true;
                c.out.clear();
                break;
            }
        }
    }
}

/// Answer every complete request buffered. Returns true when the connection must close.
fn drain_requests(c: &mut Client, h: &mut dyn Handler) -> bool {
    loop {
        match c.dec.next_message() {
            Decoded::Incomplete => return false,
            Decoded::Request(req) => {
                let reply = match h.handle(&req) {
                    Ok(r) => Reply {
                        id: req.id.clone(),
                        result: Some(r),
                        error: None,
                    },
                    Err(e) => Reply {
                        id: req.id.clone(),
                        result: None,
                        error: Some(e),
                    },
                };
                c.out.extend_from_slice(&reply.to_bytes());
            }
            Decoded::Invalid(e) => {
                c.out.extend_from_slice(
                    &Reply {
                        id: serde_json::Value::Null,
                        result: None,
                        error: Some(e),
                    }
                    .to_bytes(),
                );
            }
            Decoded::Fatal(_) => {
                c.closing = true;
                return true;
            }
        }
    }
}

fn flush_client(c: &mut Client) {
    while !c.out.is_empty() {
        match c.stream.write(&c.out) {
            Ok(0) => break,
            Ok(n) => {
                c.out.drain(..n);
                c.last = Instant::now();
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => {
                c.out.clear();
                c.closing = true;
                break;
            }
        }
    }
}
