//! The control socket server: a mio event loop on one unix listening socket (and on any event
//! sources the handler owns, such as rvsd's OVSDB connection).
//!
//! Single-threaded: requests are handled one at a time, in arrival order, on the control
//! thread — which is what makes every `ovs-vsctl` transaction atomic with respect to the
//! others. Limits keep hostile or broken clients from hurting the daemon:
//! - at most `MAX_CLIENTS` connections (a new one evicts the client that has been quiet
//!   longest, so idle connections cannot lock the operator out);
//! - `unixctl::MAX_REQUEST` bytes per request;
//! - `IDLE_TIMEOUT` without a complete request and without progress writing a reply (bytes
//!   that never complete a request do not keep a connection alive);
//! - replies are bounded *before* they are built: a client's buffered requests are decoded
//!   (and answered) only while its pending output is under `read_pause` and the pending
//!   output of all clients together is under `total_pending` — except that a client with
//!   nothing pending may always have its next request answered, so clients that read their
//!   replies keep working while others hoard output (pending output is thus bounded by
//!   `total_pending` plus one reply per client). The rest wait, undecoded, until replies
//!   drain; a client that neither sends nor reads is closed by the idle timer. A client whose
//!   pending output still exceeds `max_output` (one huge reply it never reads) is closed.
//!
//! Housekeeping (`Handler::tick`) runs about once a second; SIGTERM and SIGINT stop the loop
//! cleanly (the handler is then asked to shut down by the caller).

use crate::unixctl::{Decoded, Decoder, Reply, Request};
use mio::net::{UnixListener, UnixStream};
use mio::{Events, Interest, Poll, Registry, Token};
use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::{Duration, Instant};

/// The server's limits (see the module header); `Limits::default()` is what rvsd uses.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Concurrent clients served.
    pub max_clients: usize,
    /// Drop a client after this long without a complete request or reply progress.
    pub idle_timeout: Duration,
    /// Per-client pending reply bytes above which its requests are not decoded.
    pub read_pause: usize,
    /// All clients' pending reply bytes above which no request is decoded.
    pub total_pending: usize,
    /// Per-client pending reply bytes above which the client is closed.
    pub max_output: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_clients: MAX_CLIENTS,
            idle_timeout: IDLE_TIMEOUT,
            read_pause: 1 << 20,
            total_pending: 16 << 20,
            max_output: 64 << 20,
        }
    }
}

/// Concurrent clients served; more are closed on accept.
pub const MAX_CLIENTS: usize = 256;
/// A client that sends no complete request for this long is dropped.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(10);
/// Tokens from here up belong to the handler's own event sources (`Handler::register`).
pub const HANDLER_TOKENS: usize = 1 << 32;
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
    /// Register the handler's own event sources, with tokens ≥ `HANDLER_TOKENS`.
    fn register(&mut self, _registry: &Registry) -> std::io::Result<()> {
        Ok(())
    }
    /// One of the handler's sources is ready (`Some(token)`), or its deadline passed (`None`).
    fn ready(&mut self, _registry: &Registry, _token: Option<Token>) {}
    /// When the handler next wants `ready(None)`, if ever.
    fn deadline(&self) -> Option<Instant> {
        None
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
    /// The socket reported readable and was not read to the end (paused): with edge-triggered
    /// readiness no new event will come, so the loop reads it once there is room.
    unread: bool,
    /// Complete requests may wait in the decoder: decoding stopped for lack of room, not
    /// for lack of bytes.
    paused: bool,
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

/// Serve until a signal or `exit` request, with the default limits.
pub fn serve(listener: UnixListener, h: &mut dyn Handler) -> std::io::Result<()> {
    serve_with(listener, h, &Limits::default())
}

/// Serve until a signal or `exit` request. Returns when the loop stops.
pub fn serve_with(
    mut listener: UnixListener,
    h: &mut dyn Handler,
    lim: &Limits,
) -> std::io::Result<()> {
    let mut poll = Poll::new()?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    h.register(poll.registry())?;
    let mut events = Events::with_capacity(128);
    let mut clients: HashMap<Token, Client> = HashMap::new();
    let mut next_token = 0usize;
    let mut last_tick = Instant::now();
    while !stop_requested() && !h.exit_requested() {
        let now = Instant::now();
        let mut timeout = Duration::from_millis(200);
        if let Some(d) = h.deadline() {
            timeout = timeout.min(d.saturating_duration_since(now));
        }
        match poll.poll(&mut events, Some(timeout)) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        for ev in events.iter() {
            let t = ev.token();
            if t == LISTENER {
                accept_all(&listener, &poll, &mut clients, &mut next_token, lim);
            } else if t.0 >= HANDLER_TOKENS {
                h.ready(poll.registry(), Some(t));
            } else {
                let others = pending_total(&clients) - clients.get(&t).map_or(0, |c| c.out.len());
                if let Some(c) = clients.get_mut(&t) {
                    service(c, h, ev.is_readable(), others, lim);
                    rearm(&poll, t, c, lim);
                }
            }
        }
        if h.deadline().is_some_and(|d| Instant::now() >= d) {
            h.ready(poll.registry(), None);
        }
        // Clients whose buffered requests waited for the total to drain (they get no event
        // of their own: their bytes were read already).
        let mut total = pending_total(&clients);
        for (t, c) in clients.iter_mut() {
            if (c.paused || c.unread) && c.out.len() < lim.read_pause && !c.closing {
                let before = c.out.len();
                service(c, h, c.unread, total - before, lim);
                total = total - before + c.out.len();
                rearm(&poll, *t, c, lim);
            }
        }
        let now = Instant::now();
        clients.retain(|_, c| {
            // No request answered and no reply byte written for that long: idle or stuck.
            let idle = now.duration_since(c.last) > lim.idle_timeout;
            let done = c.closing && c.out.is_empty();
            let keep = !(idle || done || c.out.len() > lim.max_output);
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

fn pending_total(clients: &HashMap<Token, Client>) -> usize {
    clients.values().map(|c| c.out.len()).sum()
}

fn accept_all(
    listener: &UnixListener,
    poll: &Poll,
    clients: &mut HashMap<Token, Client>,
    next_token: &mut usize,
    lim: &Limits,
) {
    // Until WouldBlock (all accepted) or another error (tried again on the next event).
    while let Ok((mut s, _)) = listener.accept() {
        if clients.len() >= lim.max_clients {
            // Full: make room by dropping the client quiet the longest.
            let oldest = clients.iter().min_by_key(|(_, c)| c.last);
            if let Some(t) = oldest.map(|(t, _)| *t) {
                if let Some(mut c) = clients.remove(&t) {
                    let _ = poll.registry().deregister(&mut c.stream);
                }
            }
        }
        // Client tokens stay in 1..HANDLER_TOKENS, skipping any still in use.
        loop {
            *next_token = next_token.wrapping_add(1) % HANDLER_TOKENS;
            if *next_token != 0 && !clients.contains_key(&Token(*next_token)) {
                break;
            }
        }
        let t = Token(*next_token);
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
                    unread: false,
                    paused: false,
                },
            );
        }
    }
}

/// Flush what `c` can take, answer its buffered requests within the limits, read more if it
/// is readable and not paused, and flush again. `others` = other clients' pending output.
fn service(c: &mut Client, h: &mut dyn Handler, readable: bool, others: usize, lim: &Limits) {
    flush_client(c);
    // Over the total, a client with nothing pending may still have one request answered at a
    // time: clients that read their replies keep working while others hoard output.
    let room = |c: &Client| {
        c.out.len() < lim.read_pause
            && (c.out.is_empty() || others + c.out.len() < lim.total_pending)
    };
    c.unread |= readable;
    if room(c) && !drain_requests(c, h, &room) && c.unread && room(c) {
        read_client(c, h, &room);
    }
    flush_client(c);
}

/// Re-arm a client's interest: writable while replies or undecoded requests wait (the
/// kernel taking our output is what lets them proceed), readable unless paused. (Re-arming
/// reports readiness that already holds: epoll re-evaluates.)
fn rearm(poll: &Poll, t: Token, c: &mut Client, lim: &Limits) {
    let want = if c.out.len() >= lim.read_pause {
        Interest::WRITABLE
    } else if c.out.is_empty() && !c.paused {
        Interest::READABLE
    } else {
        Interest::READABLE | Interest::WRITABLE
    };
    let _ = poll.registry().reregister(&mut c.stream, t, want);
}

fn read_client(c: &mut Client, h: &mut dyn Handler, room: &dyn Fn(&Client) -> bool) {
    let mut buf = [0u8; 16384];
    loop {
        match c.stream.read(&mut buf) {
            Ok(0) => {
                c.closing = true;
                c.unread = false;
                break;
            }
            Ok(n) => {
                c.dec.feed(&buf[..n]);
                if drain_requests(c, h, room) || !room(c) {
                    break;
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                c.unread = false;
                break;
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => {
                c.closing = true;
                c.unread = false;
                c.out.clear();
                break;
            }
        }
    }
}

/// Answer buffered complete requests while `room` allows (`c.paused` tells whether it ran
/// out). Returns true when the connection must close. A complete request (valid or not)
/// resets the idle timer; a partial one does not.
fn drain_requests(c: &mut Client, h: &mut dyn Handler, room: &dyn Fn(&Client) -> bool) -> bool {
    loop {
        if !room(c) {
            c.paused = true;
            return false;
        }
        c.paused = false;
        let reply = match c.dec.next_message() {
            Decoded::Incomplete => return false,
            Decoded::Request(req) => match h.handle(&req) {
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
            },
            Decoded::Invalid(e) => Reply {
                id: serde_json::Value::Null,
                result: None,
                error: Some(e),
            },
            Decoded::Fatal(_) => {
                c.closing = true;
                return true;
            }
        };
        c.last = Instant::now();
        c.out.extend_from_slice(&reply.to_bytes());
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixStream as StdStream;
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;

    const REPLY: usize = 100_000;

    /// Answers every request with `REPLY` bytes and counts the requests it answered.
    struct Big {
        handled: Arc<AtomicUsize>,
        stop: Arc<AtomicBool>,
    }

    impl Handler for Big {
        fn handle(&mut self, _req: &Request) -> Result<String, String> {
            self.handled.fetch_add(1, Relaxed);
            Ok("x".repeat(REPLY))
        }
        fn exit_requested(&self) -> bool {
            self.stop.load(Relaxed)
        }
    }

    struct Server {
        path: std::path::PathBuf,
        handled: Arc<AtomicUsize>,
        stop: Arc<AtomicBool>,
        thread: Option<std::thread::JoinHandle<()>>,
    }

    impl Server {
        fn start(tag: &str, lim: Limits) -> Server {
            let path =
                std::env::temp_dir().join(format!("rvs-server-{tag}-{}.ctl", std::process::id()));
            let _ = std::fs::remove_file(&path);
            let listener = bind(&path).unwrap();
            let (handled, stop) = (
                Arc::new(AtomicUsize::new(0)),
                Arc::new(AtomicBool::new(false)),
            );
            let mut h = Big {
                handled: handled.clone(),
                stop: stop.clone(),
            };
            let thread = std::thread::spawn(move || serve_with(listener, &mut h, &lim).unwrap());
            Server {
                path,
                handled,
                stop,
                thread: Some(thread),
            }
        }
        fn handled(&self) -> usize {
            self.handled.load(Relaxed)
        }
    }

    impl Drop for Server {
        fn drop(&mut self) {
            self.stop.store(true, Relaxed);
            if let Some(t) = self.thread.take() {
                let _ = t.join();
            }
            let _ = std::fs::remove_file(&self.path);
        }
    }

    /// Reply bytes the kernel itself can hold per connection (the socket send buffer), on
    /// top of what the server keeps pending.
    fn kernel_buffer() -> usize {
        std::fs::read_to_string("/proc/sys/net/core/wmem_default")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(212_992)
            * 2
    }

    fn pipelined(n: usize) -> Vec<u8> {
        (0..n)
            .flat_map(|i| format!(r#"{{"method":"big","params":[],"id":{i}}}"#).into_bytes())
            .collect()
    }

    /// Read replies until `n` have arrived; returns their ids in order.
    fn read_replies(s: &mut StdStream, n: usize) -> Vec<u64> {
        let mut framer = crate::jsonrpc::Framer::new(1 << 20);
        let mut ids = vec![];
        let mut buf = vec![0u8; 1 << 16];
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        while ids.len() < n {
            let k = s.read(&mut buf).unwrap();
            assert!(k > 0, "closed after {} replies", ids.len());
            framer.feed(&buf[..k]);
            while let Some(v) = framer.next_value().unwrap() {
                ids.push(v["id"].as_u64().unwrap());
            }
        }
        ids
    }

    /// Defect: one 16 KB read carried hundreds of pipelined requests and every one was
    /// answered (its reply built) before the output limit was looked at.
    #[test]
    fn a_client_that_does_not_read_gets_only_a_bounded_amount_built() {
        let lim = Limits::default();
        let srv = Server::start("pause", lim);
        let mut c = StdStream::connect(&srv.path).unwrap();
        let reqs = pipelined(500);
        assert!(reqs.len() > 16384, "more than one read's worth");
        c.write_all(&reqs).unwrap();
        std::thread::sleep(Duration::from_millis(500));
        let bound = (lim.read_pause + kernel_buffer()) / REPLY + 2;
        assert!(
            srv.handled() <= bound,
            "{} replies built for a client that reads nothing (bound {bound})",
            srv.handled()
        );
        // Reading lets the rest through, in order, none lost.
        let ids = read_replies(&mut c, 500);
        assert_eq!(ids, (0..500).collect::<Vec<u64>>());
        assert_eq!(srv.handled(), 500);
    }

    /// The pending output of all clients together is capped too.
    #[test]
    fn the_total_pending_output_is_capped_across_clients() {
        let lim = Limits {
            total_pending: 300_000,
            ..Limits::default()
        };
        let srv = Server::start("total", lim);
        let mut cs: Vec<StdStream> = (0..4)
            .map(|_| StdStream::connect(&srv.path).unwrap())
            .collect();
        for c in &mut cs {
            c.write_all(&pipelined(50)).unwrap();
        }
        std::thread::sleep(Duration::from_millis(500));
        let bound = (lim.total_pending + cs.len() * kernel_buffer()) / REPLY + cs.len() + 1;
        assert!(srv.handled() <= bound, "{} > {bound}", srv.handled());
        for c in &mut cs {
            assert_eq!(read_replies(c, 50).len(), 50);
        }
        assert_eq!(srv.handled(), 200);
    }

    /// Defect: the idle timer was reset by any byte, so a client trickling a request that
    /// never completes held a connection slot forever.
    #[test]
    fn bytes_that_never_complete_a_request_do_not_keep_a_client() {
        let lim = Limits {
            idle_timeout: Duration::from_millis(400),
            ..Limits::default()
        };
        let srv = Server::start("idle", lim);
        let mut c = StdStream::connect(&srv.path).unwrap();
        c.write_all(b"{\"method\":").unwrap();
        let t = Instant::now();
        let mut closed = false;
        while t.elapsed() < Duration::from_secs(3) {
            std::thread::sleep(Duration::from_millis(100));
            if c.write_all(b" ").is_err() {
                closed = true;
                break;
            }
        }
        assert!(
            closed,
            "the trickling client was kept for {:?}",
            t.elapsed()
        );
        // A client that completes requests in time is kept.
        let mut d = StdStream::connect(&srv.path).unwrap();
        for i in 0..5 {
            d.write_all(format!(r#"{{"method":"big","params":[],"id":{i}}}"#).as_bytes())
                .unwrap();
            assert_eq!(read_replies(&mut d, 1), vec![i]);
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}
