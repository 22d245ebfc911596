//! The "VM" of the pvp deployment: a process that holds two TAP devices the way a hypervisor
//! holds a guest's virtio-net NICs (`IFF_VNET_HDR`, checksum and TSO offloads accepted) and
//! relays every frame from one to the other, both ways, as a guest running an L2 forwarder
//! does in VSPERF's pvp (phy → vswitch → VM → vswitch → phy). The switch under test attaches
//! the two TAP netdevs as ordinary ports, one on each of two bridges, so every frame crosses
//! the switch twice and the VM once.
//!
//! Device handling is rvs's own TAP port ([`TapPort`]: non-persistent TAPs, vnet headers
//! parsed on read and written back on write, so a partial checksum or a GSO super-frame
//! crosses the VM as it would cross a virtio guest that forwards descriptors unchanged).
//!
//! It runs as `rvs-bench vm-relay TAP_A TAP_B` inside the switch's netns until killed or
//! `stop` is set; the TAPs vanish with it. It busy-polls while frames flow and sleeps in
//! `poll(2)` when both TAPs are idle, so an idle VM costs no CPU.

use rvs_datapath::packet::{Batch, PacketPool};
use rvs_datapath::port::tap::TapPort;
use rvs_datapath::port::Port;
use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, Ordering};

/// Buffers the relay owns: room for a full batch in flight each way.
const POOL: usize = 256;

/// Create TAP devices `a` and `b` (up, vnet headers on) and relay frames between them until
/// `stop` is set. Errors: a TAP that cannot be created (name taken, no `/dev/net/tun`, no
/// CAP_NET_ADMIN) or a failing `poll`.
pub fn run(a: &str, b: &str, stop: &AtomicBool) -> io::Result<()> {
    let ta = TapPort::create(a, 1).map_err(|e| io::Error::new(e.kind(), format!("{a}: {e}")))?;
    let tb = TapPort::create(b, 2).map_err(|e| io::Error::new(e.kind(), format!("{b}: {e}")))?;
    let mut ports = [ta, tb];
    let fds: Vec<RawFd> = ports.iter().filter_map(|p| p.poll_fd()).collect();
    let mut pool = PacketPool::new(POOL);
    let mut batch = Batch::new();
    while !stop.load(Ordering::Relaxed) {
        let mut moved = 0;
        for i in 0..2 {
            let n = ports[i].rx_burst(&mut pool, &mut batch);
            if n > 0 {
                moved += n;
                ports[1 - i].tx_burst(&mut batch, &mut pool);
            }
        }
        if moved == 0 {
            wait_readable(&fds)?;
        }
    }
    Ok(())
}

/// Block until one of `fds` is readable, or 100 ms pass (so `stop` is seen).
fn wait_readable(fds: &[RawFd]) -> io::Result<()> {
    let mut p: Vec<libc::pollfd> = fds
        .iter()
        .map(|&fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    // SAFETY: `p` is a valid array of `p.len()` pollfd that lives across the call.
    let r = unsafe { libc::poll(p.as_mut_ptr(), p.len() as libc::nfds_t, 100) };
    if r < 0 {
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
    Ok(())
}
