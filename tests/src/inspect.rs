//! Reading what a test observes: packet captures ([`Capture`], [`pcap_frames`]), `ovs-appctl
//! coverage/show` counters ([`coverage_total`]) and a process's memory ([`rss_kb`]).

use crate::cmd::try_run;
use crate::names::owned_name;
use crate::netns::{Background, Netns};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Resident memory of process `pid` in kB. Panics when it cannot be read: a memory check
/// that silently read 0 would pass whatever the memory did.
pub fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("cannot read /proc/{pid}/status: {e}"));
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or_else(|| panic!("no VmRSS line in /proc/{pid}/status"))
}

/// A coverage counter's total in `ovs-appctl coverage/show` output (0 when the counter is not
/// listed: OVS and rvs list only counters that were hit).
pub fn coverage_total(coverage_show: &str, name: &str) -> u64 {
    coverage_show
        .lines()
        .find(|l| l.split_whitespace().next() == Some(name))
        .and_then(|l| l.rsplit("total: ").next()?.trim().parse().ok())
        .unwrap_or(0)
}

/// Frames of a classic pcap file (either byte order, µs or ns timestamps). A missing or
/// truncated file gives the frames that are whole.
pub fn pcap_frames(path: &Path) -> Vec<Vec<u8>> {
    let Ok(d) = std::fs::read(path) else {
        return vec![];
    };
    if d.len() < 24 {
        return vec![];
    }
    let le = matches!(
        &d[0..4],
        [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1]
    );
    let rd = |b: &[u8]| {
        let a = [b[0], b[1], b[2], b[3]];
        if le {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        }
    };
    let mut off = 24;
    let mut out = vec![];
    while off + 16 <= d.len() {
        let caplen = rd(&d[off + 8..off + 12]) as usize;
        off += 16;
        if off + caplen > d.len() {
            break;
        }
        out.push(d[off..off + caplen].to_vec());
        off += caplen;
    }
    out
}

/// tcpdump on one interface of a namespace, written to a pcap file packet by packet.
/// [`Capture::start`] returns only once tcpdump is capturing (it has opened its file), so a
/// test that checks a frame is *absent* knows the capture was running.
#[derive(Debug)]
pub struct Capture {
    bg: Background,
    file: PathBuf,
}

impl Capture {
    /// Capture on `dev` in `ns` what `filter` (a pcap filter; "" for everything) matches.
    pub fn start(ns: &Netns, dev: &str, filter: &str) -> Capture {
        let file = std::env::temp_dir().join(format!("{}.pcap", owned_name("cap")));
        let mut args = vec![
            "tcpdump".to_string(),
            "-i".into(),
            dev.into(),
            "--immediate-mode".into(),
            "-U".into(),
            "-n".into(),
            "-w".into(),
            file.display().to_string(),
        ];
        if !filter.is_empty() {
            args.push(filter.into());
        }
        let mut bg = ns.spawn(&args);
        // tcpdump opens its file once the capture is active.
        let started = ns.wait_until(Duration::from_secs(5), |_| file.exists());
        assert!(
            started && bg.running(),
            "tcpdump did not start capturing on {dev} in {}",
            ns.name()
        );
        Capture { bg, file }
    }

    /// Stop the capture (SIGINT, so tcpdump flushes) and return the frames it saw.
    pub fn frames(mut self) -> Vec<Vec<u8>> {
        std::thread::sleep(Duration::from_millis(300));
        let _ = try_run(["kill", "-INT", &self.bg.id().to_string()]);
        let t = Instant::now();
        while self.bg.running() && t.elapsed() < Duration::from_secs(3) {
            std::thread::sleep(Duration::from_millis(20));
        }
        pcap_frames(&self.file)
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.file);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coverage_totals_and_pcap() {
        let show = "Event coverage, avg rate over last: 5 seconds, last minute, last hour,  hash=1:\n\
                    gre_drop_bad_key           0.0/sec     0.000/sec        0.0000/sec   total: 7\n";
        assert_eq!(coverage_total(show, "gre_drop_bad_key"), 7);
        assert_eq!(coverage_total(show, "gre_drop"), 0);
        let dir = std::env::temp_dir().join(owned_name("pcap"));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("t.pcap");
        let mut d = vec![0xd4, 0xc3, 0xb2, 0xa1];
        d.resize(24, 0);
        for frame in [&[1u8, 2, 3][..], &[4, 5]] {
            let mut rec = vec![0u8; 8];
            rec.extend((frame.len() as u32).to_le_bytes());
            rec.extend((frame.len() as u32).to_le_bytes());
            rec.extend_from_slice(frame);
            d.extend(rec);
        }
        d.extend([0u8; 10]); // a truncated record header is ignored
        std::fs::write(&f, &d).unwrap();
        assert_eq!(pcap_frames(&f), vec![vec![1, 2, 3], vec![4, 5]]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
