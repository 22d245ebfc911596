//! A thin mio transport that drives a [`Session`] over `unix:PATH` or `tcp:IP:PORT`: a
//! nonblocking connect, reads into the session, writes its output, and closes the socket when
//! the session drops the connection. The owner registers nothing itself: it gives the
//! transport its `Registry` and a `Token`, and calls [`Transport::drive`] whenever that token is
//! readable or writable and whenever [`Session::next_timeout`] passes.
//!
//! Invariants: at most one socket at a time, registered under the owner's token while it
//! exists and deregistered when it is dropped; the socket exists exactly while the session is
//! past `Backoff`. Interest is READABLE, plus WRITABLE while connecting or while output waits.
//! I/O errors become `Session::disconnected` with OVS-like text; nothing here panics.

use super::session::{Session, State};
use crate::unixctl::errno_text;
use mio::net::{TcpStream, UnixStream};
use mio::{Interest, Registry, Token};
use std::fmt;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Instant;

/// Where the database server listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Remote {
    Unix(PathBuf),
    Tcp(SocketAddr),
}

impl Remote {
    /// Parses `unix:PATH` or `tcp:IP:PORT` (IPv6 as `tcp:[::1]:6640`).
    pub fn parse(s: &str) -> Result<Remote, String> {
        if let Some(path) = s.strip_prefix("unix:").filter(|p| !p.is_empty()) {
            return Ok(Remote::Unix(PathBuf::from(path)));
        }
        if let Some(addr) = s.strip_prefix("tcp:") {
            return addr
                .parse()
                .map(Remote::Tcp)
                .map_err(|_| format!("{s}: expected tcp:IP:PORT"));
        }
        Err(format!(
            "{s}: unknown remote (use unix:PATH or tcp:IP:PORT)"
        ))
    }
}

impl fmt::Display for Remote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Remote::Unix(p) => write!(f, "unix:{}", p.display()),
            Remote::Tcp(a) => write!(f, "tcp:{a}"),
        }
    }
}

#[derive(Debug)]
enum Stream {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl Stream {
    fn open(remote: &Remote) -> io::Result<Stream> {
        Ok(match remote {
            Remote::Unix(p) => Stream::Unix(UnixStream::connect(p)?),
            Remote::Tcp(a) => Stream::Tcp(TcpStream::connect(*a)?),
        })
    }

    fn source(&mut self) -> &mut dyn mio::event::Source {
        match self {
            Stream::Unix(s) => s,
            Stream::Tcp(s) => s,
        }
    }

    /// `Ok(true)` once a nonblocking connect has completed, `Ok(false)` while in progress.
    fn finished_connecting(&self) -> io::Result<bool> {
        let (err, peer) = match self {
            Stream::Unix(s) => (s.take_error(), s.peer_addr().map(drop)),
            Stream::Tcp(s) => (s.take_error(), s.peer_addr().map(drop)),
        };
        if let Some(e) = err? {
            return Err(e);
        }
        match peer {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(false),
            Err(e) => Err(e),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Unix(s) => s.read(buf),
            Stream::Tcp(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Unix(s) => s.write(buf),
            Stream::Tcp(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The socket side of a session.
#[derive(Debug)]
pub struct Transport {
    remote: Remote,
    token: Token,
    stream: Option<Stream>,
    connected: bool,
    buf: Vec<u8>,
}

impl Transport {
    /// A transport to `remote` that registers its socket under `token`.
    pub fn new(remote: Remote, token: Token) -> Transport {
        Transport {
            remote,
            token,
            stream: None,
            connected: false,
            buf: vec![0; 64 << 10],
        }
    }

    /// The server's address.
    pub fn remote(&self) -> &Remote {
        &self.remote
    }

    /// True while a connection is established.
    pub fn is_connected(&self) -> bool {
        self.connected
    }

    /// Does whatever is due: connects when the session wants to, reads and hands bytes to the
    /// session, runs its timers, writes its output, closes the socket when the session ends
    /// the connection. Call it on every event for the token and when the session's timeout
    /// passes; extra calls are harmless.
    pub fn drive(&mut self, registry: &Registry, session: &mut Session, now: Instant) {
        session.tick(now);
        self.sync_close(registry, session);
        if self.stream.is_none() && session.connect_due(now) {
            self.connect(registry, session, now);
        }
        if self.stream.is_some() && !self.connected {
            self.finish_connect(registry, session, now);
        }
        if self.connected {
            self.read(registry, session, now);
        }
        if self.connected {
            self.write(registry, session, now);
        }
    }

    /// Closes the socket (if any) without telling the session: for the owner's shutdown.
    pub fn close(&mut self, registry: &Registry) {
        if let Some(mut s) = self.stream.take() {
            let _ = registry.deregister(s.source());
        }
        self.connected = false;
    }

    fn sync_close(&mut self, registry: &Registry, session: &mut Session) {
        if session.take_close_request() || session.state() == State::Backoff {
            self.close(registry);
        }
    }

    fn fail(
        &mut self,
        registry: &Registry,
        session: &mut Session,
        now: Instant,
        what: &str,
        e: &io::Error,
    ) {
        self.close(registry);
        session.disconnected(now, &format!("{}: {what} ({})", self.remote, errno_text(e)));
    }

    fn connect(&mut self, registry: &Registry, session: &mut Session, now: Instant) {
        session.connecting(now);
        let mut s = match Stream::open(&self.remote) {
            Ok(s) => s,
            Err(e) => return self.fail(registry, session, now, "connection attempt failed", &e),
        };
        if let Err(e) = registry.register(
            s.source(),
            self.token,
            Interest::READABLE | Interest::WRITABLE,
        ) {
            return self.fail(registry, session, now, "cannot poll the socket", &e);
        }
        self.stream = Some(s);
        self.connected = false;
    }

    fn finish_connect(&mut self, registry: &Registry, session: &mut Session, now: Instant) {
        let Some(s) = &self.stream else { return };
        match s.finished_connecting() {
            Ok(true) => {
                self.connected = true;
                session.connected(now);
            }
            Ok(false) => {}
            Err(e) => self.fail(registry, session, now, "connection attempt failed", &e),
        }
    }

    fn read(&mut self, registry: &Registry, session: &mut Session, now: Instant) {
        loop {
            let Some(s) = self.stream.as_mut() else {
                return;
            };
            match s.read(&mut self.buf) {
                Ok(0) => {
                    self.close(registry);
                    session
                        .disconnected(now, &format!("{}: connection closed by peer", self.remote));
                    return;
                }
                Ok(n) => {
                    session.received(&self.buf[..n], now);
                    if session.state() == State::Backoff {
                        // The session dropped the connection (a bad message).
                        self.sync_close(registry, session);
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return self.fail(registry, session, now, "receive error", &e),
            }
        }
    }

    fn write(&mut self, registry: &Registry, session: &mut Session, now: Instant) {
        while !session.pending_output().is_empty() {
            let Some(s) = self.stream.as_mut() else {
                return;
            };
            match s.write(session.pending_output()) {
                Ok(0) => {
                    let e = io::Error::from(io::ErrorKind::WriteZero);
                    return self.fail(registry, session, now, "send error", &e);
                }
                Ok(n) => session.consume_output(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return self.fail(registry, session, now, "send error", &e),
            }
        }
        let interest = if session.pending_output().is_empty() {
            Interest::READABLE
        } else {
            Interest::READABLE | Interest::WRITABLE
        };
        if let Some(s) = self.stream.as_mut() {
            if let Err(e) = registry.reregister(s.source(), self.token, interest) {
                self.fail(registry, session, now, "cannot poll the socket", &e);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ovsdb::session::{Event, SessionConfig};
    use mio::{Events, Poll};
    use std::time::Duration;

    #[test]
    fn parses_remotes() {
        assert_eq!(
            Remote::parse("unix:/run/db.sock"),
            Ok(Remote::Unix("/run/db.sock".into()))
        );
        assert_eq!(
            Remote::parse("tcp:127.0.0.1:6640"),
            Ok(Remote::Tcp("127.0.0.1:6640".parse().unwrap()))
        );
        assert_eq!(
            Remote::parse("tcp:[::1]:6640").unwrap().to_string(),
            "tcp:[::1]:6640"
        );
        for bad in ["unix:", "tcp:1.2.3.4", "ssl:1.2.3.4:6640", "/run/db.sock"] {
            assert!(Remote::parse(bad).is_err(), "{bad}");
        }
    }

    /// Drives until `done` says so (or 5 s pass).
    fn run(
        poll: &mut Poll,
        t: &mut Transport,
        s: &mut Session,
        mut done: impl FnMut(&mut Session) -> bool,
    ) {
        let mut events = Events::with_capacity(8);
        let end = Instant::now() + Duration::from_secs(5);
        while Instant::now() < end {
            t.drive(poll.registry(), s, Instant::now());
            if done(s) {
                return;
            }
            poll.poll(&mut events, Some(Duration::from_millis(20)))
                .unwrap();
        }
        panic!("timed out");
    }

    fn cfg() -> SessionConfig {
        SessionConfig {
            lock: None,
            ..SessionConfig::vswitchd(vec![])
        }
    }

    /// A one-shot server on another thread: reads one request (a JSON object), answers a
    /// schema error, closes; returns what it read.
    fn serve<S: Read + Write>(mut stream: S) -> String {
        let mut got = vec![];
        let mut buf = [0u8; 4096];
        while !got.ends_with(b"}") {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
        let _ = stream.write_all(br#"{"id":1,"result":null,"error":"no such database"}"#);
        String::from_utf8_lossy(&got).into_owned()
    }

    #[test]
    fn unix_and_tcp_connect_send_receive_and_close() {
        let dir = std::env::temp_dir().join(format!("rvs-ovsdb-transport-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("db.sock");
        let unix = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let servers = [
            (
                Remote::Unix(path.clone()),
                std::thread::spawn(move || serve(unix.accept().unwrap().0)),
            ),
            (
                Remote::Tcp(tcp.local_addr().unwrap()),
                std::thread::spawn(move || serve(tcp.accept().unwrap().0)),
            ),
        ];
        for (remote, server) in servers {
            let mut poll = Poll::new().unwrap();
            let mut s = Session::new(cfg(), Instant::now());
            let mut t = Transport::new(remote.clone(), Token(7));
            let mut saw = vec![];
            run(&mut poll, &mut t, &mut s, |s| {
                saw.extend(std::iter::from_fn(|| s.poll_event()));
                saw.iter().any(|e| matches!(e, Event::Disconnected { .. }))
            });
            assert!(
                server.join().unwrap().contains(r#""method":"get_schema""#),
                "{remote}"
            );
            assert_eq!(saw[0], Event::Connected, "{remote}");
            assert!(
                saw.iter().any(
                    |e| matches!(e, Event::Error(t) if t.contains("get_schema Open_vSwitch failed"))
                ),
                "{remote}: {saw:?}"
            );
            assert!(!t.is_connected());
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_refused_connection_is_a_disconnect_with_the_errno_text() {
        let mut poll = Poll::new().unwrap();
        let mut s = Session::new(cfg(), Instant::now());
        let mut t = Transport::new(Remote::Unix("/nonexistent/rvs/db.sock".into()), Token(1));
        t.drive(poll.registry(), &mut s, Instant::now());
        let ev: Vec<Event> = std::iter::from_fn(|| s.poll_event()).collect();
        assert!(
            matches!(&ev[..], [Event::Disconnected { reason, .. }] if reason == "unix:/nonexistent/rvs/db.sock: connection attempt failed (No such file or directory)"),
            "{ev:?}"
        );
        assert!(!t.is_connected());
        // Nothing happens before the backoff ends.
        t.drive(poll.registry(), &mut s, Instant::now());
        assert!(s.poll_event().is_none());
        let _ = poll.poll(&mut Events::with_capacity(1), Some(Duration::ZERO));
    }
}
