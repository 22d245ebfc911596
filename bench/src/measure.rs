//! What `rvs-bench` measures besides the generator's own counts: interface counters of the
//! sink, CPU time of the switch's processes and of the kernel's softirq threads, latency of a
//! UDP request/response ping-pong (back to back, or paced probes under load), and TCP
//! throughput with iperf3.
//!
//! CPU time comes from `/proc/PID/task/*/schedstat` (nanoseconds on CPU, exact, per thread)
//! so other work on a shared machine does not leak into the figures the way `/proc/stat`
//! totals would. Without IRQ time accounting (this kernel) softirq work is charged to the
//! task it interrupted, so the Linux bridge's forwarding shows up in the generator thread and
//! in `ksoftirqd/N`, both of which are counted.

use crate::stats;
use hdrhistogram::Histogram;
use rvs_testkit::Netns;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Receive counters of one interface.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RxCounters {
    /// Frames the interface received (for a veth: frames its peer delivered into this netns).
    pub packets: u64,
    /// Their bytes.
    pub bytes: u64,
}

/// Parse the receive counters of `dev` out of a `/proc/net/dev` text.
pub fn parse_net_dev(text: &str, dev: &str) -> Option<RxCounters> {
    text.lines().find_map(|l| {
        let (name, rest) = l.split_once(':')?;
        if name.trim() != dev {
            return None;
        }
        let mut it = rest.split_whitespace().map(|v| v.parse::<u64>().ok());
        let bytes = it.next()??;
        let packets = it.next()??;
        Some(RxCounters { packets, bytes })
    })
}

/// Receive counters of `dev` inside `ns`.
pub fn rx_counters(ns: &Netns, dev: &str) -> io::Result<RxCounters> {
    let text = ns.run_in(|| std::fs::read_to_string("/proc/thread-self/net/dev"))?;
    parse_net_dev(&text, dev).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            format!("{dev} not in /proc/net/dev of netns {}", ns.name()),
        )
    })
}

/// Nanoseconds on CPU of every thread of `pid` (0 when the process is gone).
pub fn process_cpu_ns(pid: u32) -> u64 {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    dir.filter_map(Result::ok)
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// PIDs of the kernel's `ksoftirqd/N` threads.
pub fn ksoftirqd_pids() -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return vec![];
    };
    dir.filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .map(|c| c.starts_with("ksoftirqd/"))
                .unwrap_or(false)
        })
        .collect()
}

/// Total CPU nanoseconds of a set of processes.
pub fn cpu_ns(pids: &[u32]) -> u64 {
    pids.iter().map(|&p| process_cpu_ns(p)).sum()
}

/// How a request/response ping-pong runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RrConfig {
    /// How long round trips are measured (after the warm-up).
    pub dur: Duration,
    /// Send a request at most this often (`None`: the next as soon as a reply came back).
    pub interval: Option<Duration>,
    /// Send without a UDP checksum (`SO_NO_CHECK`, checksum 0 is legal on IPv4), so no
    /// partial checksum is left for the switch: probes every switch can carry, as a hardware
    /// tester's would be. Off, the sockets behave as applications' do.
    pub no_checksum: bool,
}

impl RrConfig {
    /// Back-to-back round trips with ordinary sockets for `dur`.
    pub fn ping_pong(dur: Duration) -> RrConfig {
        RrConfig {
            dur,
            interval: None,
            no_checksum: false,
        }
    }
}

/// Result of a request/response ping-pong.
#[derive(Debug, Clone)]
pub struct RrResult {
    /// Round-trip times, ns.
    pub rtt: Histogram<u64>,
    /// Requests without a reply within the timeout.
    pub lost: usize,
    /// Requests the server received (warm-up included): frames that reached the sink.
    pub server_rx: u64,
}

impl RrResult {
    /// The `q`-quantile of the round trips, µs (NaN without samples).
    pub fn quantile_us(&self, q: f64) -> f64 {
        if self.rtt.is_empty() {
            return f64::NAN;
        }
        self.rtt.value_at_quantile(q) as f64 / 1e3
    }
}

const RR_PORT: u16 = 7777;
const RR_PAYLOAD: usize = 18; // makes a 64-byte frame: 14 + 20 + 8 + 18 + 4 spare

fn no_udp_checksum(sock: &UdpSocket) -> io::Result<()> {
    let one: libc::c_int = 1;
    // SAFETY: the fd is a valid UDP socket; the option value is a c_int that lives across
    // the call.
    let r = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_NO_CHECK,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// UDP ping-pong from `client` to an echo server on `server_ip` in `server`, one request in
/// flight at a time, as `cfg` says (at most 200 000 round trips). The first replies (ARP,
/// MAC learning, flow set-up) are not counted.
pub fn udp_rr(
    client: &Netns,
    server: &Netns,
    server_ip: Ipv4Addr,
    cfg: RrConfig,
    stop: &AtomicBool,
) -> io::Result<RrResult> {
    let done = AtomicBool::new(false);
    let ready = AtomicBool::new(false);
    let server_rx = AtomicU64::new(0);
    std::thread::scope(|s| {
        let srv = s.spawn(|| -> io::Result<()> {
            let _g = server.enter()?;
            let sock = UdpSocket::bind(SocketAddr::from((server_ip, RR_PORT)))?;
            if cfg.no_checksum {
                no_udp_checksum(&sock)?;
            }
            sock.set_read_timeout(Some(Duration::from_millis(50)))?;
            ready.store(true, Ordering::Release);
            let mut buf = [0u8; 256];
            while !done.load(Ordering::Relaxed) {
                if let Ok((n, from)) = sock.recv_from(&mut buf) {
                    server_rx.fetch_add(1, Ordering::Relaxed);
                    let _ = sock.send_to(&buf[..n], from);
                }
            }
            Ok(())
        });
        let t = Instant::now();
        while !ready.load(Ordering::Acquire) && t.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(5));
        }
        let r = client.run_in(|| rr_client(server_ip, cfg, stop));
        done.store(true, Ordering::Relaxed);
        match srv.join() {
            Ok(Err(e)) => return Err(e),
            Err(p) => std::panic::resume_unwind(p),
            Ok(Ok(())) => {}
        }
        r.map(|(rtt, lost)| RrResult {
            rtt,
            lost,
            server_rx: server_rx.load(Ordering::Relaxed),
        })
    })
}

fn rr_client(
    server_ip: Ipv4Addr,
    cfg: RrConfig,
    stop: &AtomicBool,
) -> io::Result<(Histogram<u64>, usize)> {
    let sock = UdpSocket::bind(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)))?;
    if cfg.no_checksum {
        no_udp_checksum(&sock)?;
    }
    sock.connect(SocketAddr::from((server_ip, RR_PORT)))?;
    sock.set_read_timeout(Some(Duration::from_millis(200)))?;
    let mut buf = [0u8; 256];
    let mut req = [0u8; RR_PAYLOAD];
    let mut seq = 0u64;
    let mut once = |seq: u64, buf: &mut [u8]| -> io::Result<Option<Duration>> {
        req[..8].copy_from_slice(&seq.to_be_bytes());
        let t = Instant::now();
        sock.send(&req)?;
        loop {
            match sock.recv(buf) {
                Ok(n) if n >= 8 && buf[..8] == seq.to_be_bytes() => return Ok(Some(t.elapsed())),
                Ok(_) => continue, // a late reply to an earlier request
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return Ok(None)
                }
                Err(e) => return Err(e),
            }
        }
    };
    // Warm-up: until replies come back (at most 5 s), then 20 more.
    let t = Instant::now();
    let mut ok = 0;
    while ok < 20 && t.elapsed() < Duration::from_secs(5) && !stop.load(Ordering::Relaxed) {
        seq += 1;
        if once(seq, &mut buf)?.is_some() {
            ok += 1;
        }
    }
    if ok == 0 {
        return Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "no echo reply within 5 s",
        ));
    }
    if cfg.interval.is_some() {
        crate::gen::precise_sleeps();
    }
    let mut rtt = stats::latency_histogram();
    let mut lost = 0;
    let t = Instant::now();
    let mut next = t;
    while t.elapsed() < cfg.dur && rtt.len() < 200_000 && !stop.load(Ordering::Relaxed) {
        if let Some(iv) = cfg.interval {
            let now = Instant::now();
            if next > now {
                std::thread::sleep(next - now);
            }
            next += iv;
        }
        seq += 1;
        match once(seq, &mut buf)? {
            Some(d) => stats::record_latency(&mut rtt, d.as_nanos() as u64),
            None => lost += 1,
        }
    }
    Ok((rtt, lost))
}

/// Result of one iperf3 run.
#[derive(Debug, Clone, Copy, Default)]
pub struct TcpResult {
    /// Goodput seen by the receiver, bit/s.
    pub bits_per_second: f64,
    /// Retransmitted segments reported by the sender.
    pub retransmits: u64,
    /// CPU nanoseconds of the switch processes + softirq threads during the test.
    pub cpu_ns: u64,
    /// CPU of the iperf3 client and server (their own report), in cores (1.0 = one CPU).
    pub endpoint_cores: f64,
}

/// `iperf3 -c server_ip -t secs` from `client` to a one-shot server in `server`, default
/// offloads, with CPU of `cpu_pids` sampled around it. A connection that cannot be made
/// (e.g. a switch that breaks TCP checksums) is an error with iperf3's message.
pub fn iperf3(
    client: &Netns,
    server: &Netns,
    server_ip: Ipv4Addr,
    secs: u64,
    cpu_pids: &[u32],
) -> Result<TcpResult, String> {
    let _srv = server.spawn(["iperf3", "-s", "-1", "-p", "5201"]);
    std::thread::sleep(Duration::from_millis(300));
    let ip = server_ip.to_string();
    let secs_s = secs.max(1).to_string();
    let limit = (secs.max(1) + 15).to_string();
    let c0 = cpu_ns(cpu_pids);
    let out = client
        .try_exec([
            "timeout",
            &limit,
            "iperf3",
            "-c",
            &ip,
            "-p",
            "5201",
            "-t",
            &secs_s,
            "-J",
            "--connect-timeout",
            "3000",
        ])
        .map_err(|e| format!("cannot run iperf3: {e}"))?;
    let cpu = cpu_ns(cpu_pids).saturating_sub(c0);
    let text = String::from_utf8_lossy(&out.stdout);
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|_| {
        format!(
            "iperf3 gave no result ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )
    })?;
    if let Some(e) = v.get("error").and_then(|e| e.as_str()) {
        return Err(format!("iperf3: {e}"));
    }
    let end = &v["end"];
    let bps = end["sum_received"]["bits_per_second"]
        .as_f64()
        .ok_or_else(|| "iperf3 JSON without end.sum_received".to_string())?;
    Ok(TcpResult {
        bits_per_second: bps,
        retransmits: end["sum_sent"]["retransmits"].as_u64().unwrap_or(0),
        cpu_ns: cpu,
        endpoint_cores: (end["cpu_utilization_percent"]["host_total"]
            .as_f64()
            .unwrap_or(0.0)
            + end["cpu_utilization_percent"]["remote_total"]
                .as_f64()
                .unwrap_or(0.0))
            / 100.0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn net_dev_parsing() {
        let t = "Inter-|   Receive                                                |  Transmit\n \
                 face |bytes    packets errs drop fifo frame compressed multicast|bytes\n    \
                 lo:       0       0    0    0    0     0          0         0        0\n  \
                 eth0: 6400 100 0 0 0 0 0 0 128 2 0 0 0 0 0 0\n";
        assert_eq!(
            parse_net_dev(t, "eth0"),
            Some(RxCounters {
                packets: 100,
                bytes: 6400
            })
        );
        assert_eq!(parse_net_dev(t, "eth1"), None);
    }

    #[test]
    fn own_cpu_time_is_visible() {
        let me = std::process::id();
        let a = process_cpu_ns(me);
        let t = Instant::now();
        let mut x = 0u64;
        while t.elapsed() < Duration::from_millis(20) {
            x = x.wrapping_add(std::hint::black_box(1));
        }
        assert!(x > 0);
        assert!(process_cpu_ns(me) > a);
    }
}
