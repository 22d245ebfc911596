//! The traffic generator of `rvs-bench`: AF_PACKET sockets that send prebuilt frames out of
//! one interface, either as fast as the kernel takes them or at a steady offered rate, for a
//! fixed time or a fixed number of frames (a back-to-back burst).
//!
//! Frames go out in `sendmmsg` batches of up to [`BATCH`] with `PACKET_QDISC_BYPASS` (no qdisc
//! between the socket and the veth). A PACKET_MMAP TX ring (TPACKET_V2, filled in place,
//! one `send()` kick per 64 frames) was measured against it on this machine kind (veth,
//! kernel 6.18, 2 shared vCPUs, generator → sink with no switch, 64-byte frames, two runs
//! each): sendmmsg 0.67–0.72 Mpps, TX ring 0.61–0.62 Mpps. The ring's copy into the slot and
//! its per-frame status handshake buy nothing when the kernel must build an skb per frame
//! anyway, so the ring was dropped and sendmmsg kept.
//!
//! Rate control: frame `k` is due at `k / rate` seconds after the start. The sender sleeps
//! (timer slack 1 µs) until [`PACE_INTERVAL`] worth of frames is due, then sends what is due,
//! at most [`BATCH`] per call, so a late wake-up is caught up in batches rather than lost: the
//! achieved rate stays on target while the generator has the CPU for it, and bursts are at
//! most one batch. The caller compares achieved with target ([`GenStats::rate`]).
//!
//! Sockets are opened with protocol 0 and bound with protocol 0: they transmit only and
//! never receive a frame, so they cost nothing on the receive path.
//!
//! Invariants: frames are sent in the order given, cycling; "sent" counts only frames the
//! kernel accepted; the caller's thread must already be in the right network namespace.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Frames per `sendmmsg` call, at most.
pub const BATCH: usize = 64;

/// A paced sender wakes up about this often (fewer frames per wake-up at low rates).
pub const PACE_INTERVAL: Duration = Duration::from_micros(100);

/// What to send: how fast, for how long, how many.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Offer {
    /// Frames per second; `None`: as fast as the kernel takes them.
    pub rate: Option<f64>,
    /// Stop after this long.
    pub duration: Duration,
    /// Stop after this many frames (a burst); `None`: no limit.
    pub frames: Option<u64>,
}

impl Offer {
    /// Full speed for `duration`.
    pub fn max_load(duration: Duration) -> Offer {
        Offer {
            rate: None,
            duration,
            frames: None,
        }
    }
}

/// What one generator run did.
#[derive(Debug, Clone, Copy, Default)]
pub struct GenStats {
    /// Frames the kernel accepted.
    pub sent: u64,
    /// Their bytes (Ethernet header to end of payload, no FCS).
    pub bytes: u64,
    /// Wall time of the run.
    pub elapsed: Duration,
    /// CPU time of the sending thread (includes softirq work the kernel did in its context).
    pub cpu: Duration,
}

impl GenStats {
    /// Achieved offered rate, frames/s.
    pub fn rate(&self) -> f64 {
        self.sent as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn setsockopt_int(fd: &OwnedFd, level: libc::c_int, name: libc::c_int, v: libc::c_int) {
    // SAFETY: fd is a valid socket; the option value is a c_int that lives across the call.
    // Failures are tolerated (buffer sizes and bypass are optimisations).
    unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&v as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

/// Interface index of `ifname` in the calling thread's namespace.
pub fn ifindex(ifname: &str) -> io::Result<u32> {
    let c = CString::new(ifname).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: c is a valid NUL-terminated string for the duration of the call.
    let i = unsafe { libc::if_nametoindex(c.as_ptr()) };
    if i == 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(i)
}

/// A transmit-only AF_PACKET socket bound to `ifname`.
fn tx_socket(ifname: &str) -> io::Result<(OwnedFd, libc::sockaddr_ll)> {
    let idx = ifindex(ifname)?;
    // SAFETY: plain socket(2) call; the returned fd is checked and owned right away.
    let fd = cvt(unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) })?;
    // SAFETY: fd was just returned by socket(2) and is owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    setsockopt_int(&fd, libc::SOL_PACKET, libc::PACKET_QDISC_BYPASS, 1);
    setsockopt_int(&fd, libc::SOL_SOCKET, libc::SO_SNDBUFFORCE, 4 << 20);
    // SAFETY: sockaddr_ll is plain old data; all-zero is a valid value.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_ifindex = idx as i32;
    sll.sll_protocol = 0;
    // SAFETY: sll is a valid sockaddr_ll and the length passed matches it.
    cvt(unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&sll as *const libc::sockaddr_ll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    })?;
    Ok((fd, sll))
}

/// CPU time of the calling thread.
pub fn thread_cpu() -> Duration {
    // SAFETY: timespec is plain old data; clock_gettime writes it and cannot fail for this
    // clock id.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: ts is a valid, writable timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Let the calling thread's sleeps end within ~1 µs of their deadline (timer slack; the
/// default 50 µs would make paced sends and probes late).
pub fn precise_sleeps() {
    // SAFETY: prctl(PR_SET_TIMERSLACK) takes an integer and affects only the calling thread.
    unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1000 as libc::c_ulong) };
}

/// Send `frames` (cycling) out of `ifname` as `offer` says, or until `stop` is set.
pub fn send(
    ifname: &str,
    frames: &[Vec<u8>],
    offer: &Offer,
    stop: &AtomicBool,
) -> io::Result<GenStats> {
    if frames.is_empty() {
        return Ok(GenStats::default());
    }
    if let Some(r) = offer.rate.filter(|r| !(r.is_finite() && *r > 0.0)) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("offered rate {r} is not a positive number"),
        ));
    }
    let (fd, _) = tx_socket(ifname)?;
    if offer.rate.is_some() {
        precise_sleeps();
    }
    send_sendmmsg(&fd, frames, offer, stop)
}

/// Send `frames` (cycling) out of `ifname` at full speed for `duration` or until `stop`.
pub fn blast(
    ifname: &str,
    frames: &[Vec<u8>],
    duration: Duration,
    stop: &AtomicBool,
) -> io::Result<GenStats> {
    send(ifname, frames, &Offer::max_load(duration), stop)
}

/// Send each frame once (a few thousand at most), e.g. to teach a switch where MACs live.
pub fn send_once(ifname: &str, frames: &[Vec<u8>]) -> io::Result<u64> {
    let (fd, _) = tx_socket(ifname)?;
    let mut sent = 0;
    for f in frames {
        // SAFETY: f is a valid buffer of f.len() bytes for the duration of the call.
        let r = unsafe { libc::send(fd.as_raw_fd(), f.as_ptr().cast(), f.len(), 0) };
        if r > 0 {
            sent += 1;
        }
    }
    Ok(sent)
}

fn send_sendmmsg(
    fd: &OwnedFd,
    frames: &[Vec<u8>],
    offer: &Offer,
    stop: &AtomicBool,
) -> io::Result<GenStats> {
    let mut iovs: Vec<libc::iovec> = frames
        .iter()
        .map(|f| libc::iovec {
            iov_base: f.as_ptr() as *mut libc::c_void,
            iov_len: f.len(),
        })
        .collect();
    // SAFETY: mmsghdr is plain old data; all-zero is a valid (empty) value.
    let mut msgs: Vec<libc::mmsghdr> = (0..BATCH).map(|_| unsafe { std::mem::zeroed() }).collect();
    let limit = offer.frames.unwrap_or(u64::MAX);
    // Frames per wake-up of a paced sender.
    let chunk = offer.rate.map_or(BATCH as u64, |r| {
        ((r * PACE_INTERVAL.as_secs_f64()).ceil() as u64).clamp(1, BATCH as u64)
    });
    let (cpu0, t0) = (thread_cpu(), Instant::now());
    let mut st = GenStats::default();
    let mut pos = 0usize;
    let mut iter = 0u32;
    while st.sent < limit {
        iter = iter.wrapping_add(1);
        let mut want = (limit - st.sent).min(BATCH as u64);
        if let Some(rate) = offer.rate {
            let elapsed = t0.elapsed();
            if elapsed >= offer.duration || stop.load(Ordering::Relaxed) {
                break;
            }
            let due = (rate * elapsed.as_secs_f64()) as u64;
            let goal = (st.sent + chunk.min(want)).min(limit);
            if due < goal {
                // Sleep until the next chunk is due (or the trial ends).
                let at = Duration::from_secs_f64(goal as f64 / rate).min(offer.duration);
                std::thread::sleep(at.saturating_sub(elapsed));
                continue;
            }
            want = want.min(due - st.sent);
        } else if iter.is_multiple_of(64)
            && (t0.elapsed() >= offer.duration || stop.load(Ordering::Relaxed))
        {
            break;
        }
        let want = want as usize;
        for (j, m) in msgs.iter_mut().take(want).enumerate() {
            let k = (pos + j) % frames.len();
            m.msg_hdr.msg_iov = &mut iovs[k];
            m.msg_hdr.msg_iovlen = 1;
        }
        // SAFETY: msgs holds `want` (≤ BATCH) valid mmsghdr whose iovecs point into
        // `frames`, which outlive the call; the kernel only reads the buffers.
        let r =
            unsafe { libc::sendmmsg(fd.as_raw_fd(), msgs.as_mut_ptr(), want as libc::c_uint, 0) };
        if r < 0 {
            let e = io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::ENOBUFS) | Some(libc::EAGAIN) | Some(libc::EINTR) => continue,
                _ => return Err(e),
            }
        }
        let n = r as usize;
        for j in 0..n {
            st.bytes += frames[(pos + j) % frames.len()].len() as u64;
        }
        st.sent += n as u64;
        pos = (pos + n) % frames.len();
        if offer.frames.is_some() && stop.load(Ordering::Relaxed) {
            break;
        }
    }
    st.elapsed = t0.elapsed();
    st.cpu = thread_cpu().saturating_sub(cpu0);
    Ok(st)
}
