//! AF_XDP port (cargo feature `afxdp`, on by default): an existing netdev (one end of a veth,
//! or a TAP) read and written through an XDP socket from the `xsk-rs` crate (libxdp + libbpf).
//! The crate choice and its measurements are in ARCHITECTURE.md, "AF_XDP: crate decision".
//!
//! Facts this code is built on (DESIGN.md §1, measured again in the spike):
//! - copy mode only (`XDP_COPY`); zero-copy is EOPNOTSUPP on veth and TAP;
//! - `XDP_USE_NEED_WAKEUP` is always honoured: in copy mode every TX needs a `sendto()` kick
//!   and the kernel sends at most 32 frames per kick, so `kick_tx` loops until the TX ring has
//!   been consumed (bounded, and resumed from the next `rx_burst`/`tx_burst` if the device
//!   pushes back with EAGAIN/ENOBUFS/EBUSY); the fill ring is refilled on every receive and
//!   the kernel woken with `poll()` when it asks for it;
//! - the fill ring (`FILL_RING`) is larger than the whole frame pool, so returning received
//!   frames to it can never fail;
//! - an XDP program left on the device (after a `kill -9`, or by a foreign tool) keeps running
//!   and, worse, makes libxdp silently reuse it in whatever mode it was attached. `open`
//!   therefore detaches any program first (netlink, both modes), and `Drop` detaches again.
//!
//! Queues (`options:n_rxq`): one XDP socket per device receive queue 0..n, each with its own
//! UMEM (`NUM_FRAMES` frames of `FRAME_SIZE` bytes); the device must have at least `n` receive
//! queues (a veth has one unless created with `numrxqueues`), otherwise `open` fails with
//! `InvalidInput` naming both numbers. All queues are polled by the PMD that owns the port
//! (round robin, one burst at a time); with more than one, `poll_fd` is an epoll descriptor
//! over all of them. Transmit uses queue 0's socket. Queue 0's UMEM is split between receive
//! (owned by the fill/RX rings) and transmit (a free list; frames return through the
//! completion ring). Received frames are copied once into a `Packet` (the datapath's buffers
//! are not UMEM frames), and transmitted frames once out of it, so a frame crossing two
//! AF_XDP ports is copied twice; sharing one UMEM between ports (which xsk-rs supports) is not
//! done.
//!
//! Offloads: AF_XDP carries no virtio-net header.
//! - Receive: a veth or TAP sender with checksum offload leaves a *partial* TCP/UDP checksum
//!   (the field holds the pseudo-header sum). `offload::mark_unflagged_partial` recognises it
//!   and marks the frame `needs_csum`, as a vnet header would have; egress completes it.
//!   Counted in `afxdp_rx_csum_partial`. Other checksums, right or wrong, pass unchanged.
//!   GSO super-frames cannot arrive: native XDP on a veth turns GSO off on its peer, and a
//!   frame larger than a UMEM frame is dropped by the kernel before the socket (generic mode,
//!   TAP writers that send GSO frames): that traffic needs offloads off at the sender.
//! - Transmit: `offload::prepare_tx` with no vnet header completes partial checksums and cuts
//!   GSO super-frames (from AF_PACKET or TAP ports) into MTU-sized segments in software;
//!   counted in `afxdp_tx_csum_completed` / `afxdp_tx_gso_segmented`.
//!
//! Thread-safety: a port is owned by one PMD at a time (`Send`, not shared).

use super::linux::{self, Link};
use super::{Port, PortStats};
use crate::offload::{self, OffloadCounters};
use crate::packet::{Batch, Packet, PacketPool, BATCH_SIZE};
use std::io::{self, Write};
use std::num::NonZeroU32;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use xsk_rs::config::{
    BindFlags, FrameSize, Interface, QueueSize, SocketConfig, UmemConfig, XdpFlags,
};
use xsk_rs::{CompQueue, FillQueue, FrameDesc, RxQueue, Socket, TxQueue, Umem};

/// Frames in the UMEM of one port.
pub const NUM_FRAMES: u32 = 4096;
/// Bytes per UMEM frame (the libxdp default; the XDP headroom comes out of it).
pub const FRAME_SIZE: u32 = 4096;
/// Frames given to the fill ring at open (the rest are the TX free list).
const RX_FRAMES: u32 = 3072;
/// Fill ring: larger than the whole pool, so handing frames back never fails.
const FILL_RING: u32 = 2 * NUM_FRAMES;
/// Completion ring: room for every frame.
const COMP_RING: u32 = NUM_FRAMES;
const RX_RING: u32 = 2048;
const TX_RING: u32 = 2048;
/// Kicks per flush: the kernel sends at most 32 frames per kick in copy mode, so this
/// drains a full burst plus what an earlier push-back left behind.
const MAX_KICKS: usize = 2 * BATCH_SIZE / 32 + 2;
/// `open` retries for this long when the queue is still bound (EBUSY): the kernel releases
/// a closed XDP socket's queue asynchronously, so a fast restart can find it busy.
const BUSY_RETRIES: usize = 20;

/// How the XDP program is attached (OVS's `options:xdp-mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XdpMode {
    /// Driver (native) mode, falling back to generic (SKB) mode.
    BestEffort,
    /// Driver mode only.
    Native,
    /// Generic (SKB) mode only.
    Generic,
}

impl XdpMode {
    /// Parse `best-effort`, `native` or `generic` (OVS also accepts `native-with-zerocopy`,
    /// which is native here: zero-copy is unavailable on veth and TAP).
    pub fn parse(s: &str) -> Option<XdpMode> {
        match s {
            "" | "best-effort" => Some(XdpMode::BestEffort),
            "native" | "native-with-zerocopy" => Some(XdpMode::Native),
            "generic" => Some(XdpMode::Generic),
            _ => None,
        }
    }
}

/// The attach mode actually in effect on a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attached {
    None,
    Native,
    Generic,
    Other(u8),
}

impl Attached {
    /// The word `dpctl/show` prints.
    pub fn as_str(self) -> &'static str {
        match self {
            Attached::None => "none",
            Attached::Native => "native",
            Attached::Generic => "generic",
            Attached::Other(_) => "other",
        }
    }
}

/// One queue's socket, its rings and its UMEM.
struct Xsk {
    // Field order is drop order: queues (each holds the socket), then the UMEM.
    rx: RxQueue,
    tx: TxQueue,
    fq: FillQueue,
    cq: CompQueue,
    umem: Umem,
}

/// Transmit state (on queue 0's socket and UMEM).
struct TxSide {
    /// UMEM frames free for transmit.
    free: Vec<FrameDesc>,
    /// Frames written and not yet produced on the TX ring.
    stage: Vec<FrameDesc>,
    /// Scratch for the completion ring.
    done: Vec<FrameDesc>,
    /// The TX ring holds frames the kernel has not consumed yet: kick again.
    pending: bool,
    /// Kicks refused by the device (EAGAIN/ENOBUFS/EBUSY), for `coverage/show`.
    kick_busy: u64,
}

/// A datapath port on an existing netdev, through AF_XDP sockets in copy mode.
pub struct AfXdpPort {
    /// One socket per receive queue; transmit uses `queues[0]`. Empty after drop started.
    queues: Vec<Xsk>,
    /// With more than one queue: an epoll descriptor over all their sockets (`poll_fd`).
    epoll: Option<OwnedFd>,
    /// The queue the next `rx_burst` starts with.
    next_rxq: usize,
    port_no: u16,
    link: Link,
    attached: Attached,
    stats: PortStats,
    tx: TxSide,
    /// Scratch descriptors for one receive burst.
    scratch: Vec<FrameDesc>,
    wakeups: u64,
    /// Received frames whose partial checksum was recognised (`offload::mark_unflagged_partial`).
    rx_csum_partial: u64,
    /// What transmit preparation did (checksums completed, GSO frames cut, drops).
    offload: OffloadCounters,
}

impl core::fmt::Debug for AfXdpPort {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AfXdpPort")
            .field("name", &self.link.name())
            .field("port_no", &self.port_no)
            .field("queues", &self.queues.len())
            .field("attached", &self.attached)
            .field("stats", &self.stats)
            .finish()
    }
}

fn queue_size(n: u32) -> QueueSize {
    // Constants above are powers of two.
    QueueSize::new(n).expect("ring sizes are powers of two")
}

fn io_other(what: &str, e: impl core::fmt::Debug) -> io::Error {
    io::Error::other(format!("{what}: {e:?}"))
}

/// Receive queues of `ifname` as sysfs lists them (`queues/rx-N`), or `None` when sysfs does
/// not say (the kernel then judges the queue number at bind time).
pub fn rx_queue_count(ifname: &str) -> Option<usize> {
    let dir = std::fs::read_dir(format!("/sys/class/net/{ifname}/queues")).ok()?;
    let n = dir
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("rx-"))
        .count();
    (n > 0).then_some(n)
}

/// Check `n_rxq` against the device: an error that names both numbers when it has fewer.
pub fn check_n_rxq(ifname: &str, n_rxq: usize) -> io::Result<()> {
    if n_rxq == 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "n_rxq must be at least 1",
        ));
    }
    match rx_queue_count(ifname) {
        Some(have) if have < n_rxq => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "n_rxq={n_rxq} but {ifname} has only {have} receive queue(s) \
                 (for a veth, create it with numrxqueues {n_rxq})"
            ),
        )),
        _ => Ok(()),
    }
}

impl AfXdpPort {
    /// Open `ifname` (in the calling thread's network namespace) as datapath port `port_no`,
    /// on receive queues `0..n_rxq`, attaching the XDP program in `mode`. Any XDP program
    /// already on the device is detached first. Errors: `InvalidInput` when the device has
    /// fewer than `n_rxq` receive queues; otherwise OS errors where the kernel gave one
    /// (EOPNOTSUPP, EPERM, ENODEV, EBUSY…), so the caller can fall back to AF_PACKET and
    /// phrase the reason.
    pub fn open(ifname: &str, port_no: u16, mode: XdpMode, n_rxq: usize) -> io::Result<AfXdpPort> {
        check_n_rxq(ifname, n_rxq)?;
        let link = Link::open(ifname)?;
        detach_xdp(link.ifindex())?;
        let (queues, tx_free) = match mode {
            XdpMode::Native => open_queues(ifname, n_rxq, XdpFlags::XDP_FLAGS_DRV_MODE)?,
            XdpMode::Generic => open_queues(ifname, n_rxq, XdpFlags::XDP_FLAGS_SKB_MODE)?,
            XdpMode::BestEffort => {
                match open_queues(ifname, n_rxq, XdpFlags::XDP_FLAGS_DRV_MODE) {
                    Ok(x) => x,
                    Err(_) => {
                        // Whatever the native attempt left behind must not stay.
                        detach_xdp(link.ifindex())?;
                        open_queues(ifname, n_rxq, XdpFlags::XDP_FLAGS_SKB_MODE)?
                    }
                }
            }
        };
        let epoll = if queues.len() > 1 {
            let fds: Vec<RawFd> = queues.iter().map(|x| x.rx.fd().as_raw_fd()).collect();
            Some(linux::epoll_over(&fds)?)
        } else {
            None
        };
        let attached = xdp_attached(link.ifindex()).unwrap_or(Attached::Other(0));
        Ok(AfXdpPort {
            queues,
            epoll,
            next_rxq: 0,
            port_no,
            link,
            attached,
            stats: PortStats::default(),
            tx: TxSide {
                free: tx_free,
                stage: Vec::with_capacity(STAGE),
                done: vec![FrameDesc::default(); STAGE],
                pending: false,
                kick_busy: 0,
            },
            scratch: vec![FrameDesc::default(); BATCH_SIZE.max(64)],
            wakeups: 0,
            rx_csum_partial: 0,
            offload: OffloadCounters::default(),
        })
    }

    /// The datapath port number given at open.
    pub fn port_no(&self) -> u16 {
        self.port_no
    }

    /// The attach mode in effect (for `dpctl/show`).
    pub fn attached(&self) -> Attached {
        self.attached
    }

    /// Receive queues (sockets) in use.
    pub fn n_rxq(&self) -> usize {
        self.queues.len()
    }

    /// The MTU last read from the device.
    pub fn mtu(&self) -> usize {
        self.link.mtu()
    }

    /// AF_XDP carries no virtio-net header: `tx_burst` completes checksums and segments in
    /// software.
    pub fn accepts_vnet(&self) -> bool {
        false
    }

    /// Receive one burst from queue `q` into `batch`.
    fn rx_queue(&mut self, q: usize, pool: &mut PacketPool, batch: &mut Batch) -> usize {
        let x = &mut self.queues[q];
        let want = batch.room().min(self.scratch.len());
        if want == 0 {
            return 0;
        }
        // SAFETY: the scratch descriptors hold no frames we still own (they are copies).
        let got = unsafe { x.rx.consume(&mut self.scratch[..want]) };
        if got == 0 {
            if x.fq.needs_wakeup() {
                self.wakeups += 1;
                // A zero-timeout poll tells the kernel the fill ring has frames again.
                let _ = x.fq.wakeup(x.rx.fd_mut(), 0);
            }
            return 0;
        }
        let mut n = 0;
        for d in &self.scratch[..got] {
            // SAFETY: `d` was just received on this socket's RX ring, so it is a frame of
            // this queue's UMEM that the kernel has released to us until we refill it.
            let data = unsafe { x.umem.data(d) };
            let frame = data.contents();
            let Some(mut p) = pool.get() else {
                self.stats.rx_dropped += 1;
                continue;
            };
            let area = p.rx_area();
            let len = frame.len().min(area.len());
            area[..len].copy_from_slice(&frame[..len]);
            p.set_len(len);
            p.meta.in_port = self.port_no;
            if offload::mark_unflagged_partial(&mut p) {
                self.rx_csum_partial += 1;
            }
            self.stats.rx_packets += 1;
            self.stats.rx_bytes += len as u64;
            match batch.push(p) {
                Ok(()) => n += 1,
                Err(p) => {
                    self.stats.rx_dropped += 1;
                    pool.put(p);
                }
            }
        }
        // SAFETY: the frames were copied out above; they go back to the kernel. The fill ring
        // is larger than the pool, so it always has room.
        let back = unsafe { x.fq.produce(&self.scratch[..got]) };
        debug_assert_eq!(back, got);
        n
    }
}

/// Frames staged before they are produced on the TX ring and kicked.
const STAGE: usize = 64;

impl TxSide {
    /// Move completed TX frames back to the free list.
    fn reclaim(&mut self, x: &mut Xsk) {
        loop {
            // SAFETY: the completion ring only returns frames of this UMEM that were
            // produced on its TX ring; the kernel no longer uses them.
            let n = unsafe { x.cq.consume(&mut self.done) };
            if n == 0 {
                break;
            }
            self.free.extend_from_slice(&self.done[..n]);
        }
    }

    /// Copy one ready frame (no offload work left) into a free UMEM frame and stage it.
    fn stage_frame(&mut self, x: &mut Xsk, p: &Packet, stats: &mut PortStats, link: &Link) {
        let d = p.data();
        if link.too_big(p) {
            stats.tx_dropped += 1;
            return;
        }
        if self.free.is_empty() {
            self.reclaim(x);
        }
        let Some(mut desc) = self.free.pop() else {
            stats.tx_dropped += 1;
            return;
        };
        // SAFETY: `desc` came from the free list: a frame of this UMEM that no ring holds.
        let mut dm = unsafe { x.umem.data_mut(&mut desc) };
        let mut c = dm.cursor();
        c.set_pos(0);
        if d.len() > c.buf_len() || c.write_all(d).is_err() {
            self.free.push(desc);
            stats.tx_dropped += 1;
            return;
        }
        self.stage.push(desc);
    }

    /// Produce the staged frames on the TX ring and kick; returns how many went on the ring.
    fn submit(&mut self, x: &mut Xsk, stats: &mut PortStats, link: &mut Link) -> usize {
        if self.stage.is_empty() {
            return 0;
        }
        // SAFETY: the staged descriptors are frames of this UMEM filled by `stage_frame` and
        // owned by no ring; the kernel returns them through the completion ring.
        let sent = unsafe { x.tx.produce(&self.stage) };
        if sent < self.stage.len() {
            // TX ring full: those frames go back, counted as drops.
            stats.tx_dropped += (self.stage.len() - sent) as u64;
            self.free.extend_from_slice(&self.stage[sent..]);
        }
        stats.tx_packets += sent as u64;
        for d in &self.stage[..sent] {
            stats.tx_bytes += d.lengths().data() as u64;
        }
        self.stage.clear();
        self.kick(x, stats, link);
        sent
    }

    /// Kick the kernel until it has consumed the TX ring, at most `MAX_KICKS` times.
    fn kick(&mut self, x: &mut Xsk, stats: &mut PortStats, link: &mut Link) {
        let fd = x.tx.fd().as_raw_fd();
        self.pending = false;
        for _ in 0..MAX_KICKS {
            if x.tx.nb_free_exact() == TX_RING {
                return;
            }
            if !x.tx.needs_wakeup() {
                // The kernel is polling the ring itself (never seen in copy mode).
                return;
            }
            // SAFETY: a zero-length sendto on our own XDP socket is the documented kick.
            let r = unsafe {
                libc::sendto(
                    fd,
                    core::ptr::null(),
                    0,
                    libc::MSG_DONTWAIT,
                    core::ptr::null(),
                    0,
                )
            };
            if r < 0 {
                let e = linux::errno();
                match e {
                    // More than 32 frames queued: the kernel stopped after a batch.
                    libc::EAGAIN | libc::EINTR => continue,
                    // The device pushes back: try again on the next burst.
                    libc::ENOBUFS | libc::EBUSY => {
                        self.kick_busy += 1;
                        self.pending = true;
                        return;
                    }
                    _ => {
                        stats.tx_errors += 1;
                        if linux::is_link_errno(e) {
                            link.on_link_errno();
                        }
                        self.pending = true;
                        return;
                    }
                }
            }
        }
        self.pending = x.tx.nb_free_exact() != TX_RING;
    }
}

/// Open sockets on queues `0..n` with the given attach flags. Queue 0 keeps
/// `NUM_FRAMES - RX_FRAMES` frames for transmit (returned); the others give every frame to
/// receive. On error, sockets opened so far are closed.
fn open_queues(ifname: &str, n: usize, xdp: XdpFlags) -> io::Result<(Vec<Xsk>, Vec<FrameDesc>)> {
    let mut queues = Vec::with_capacity(n);
    let mut tx_free = Vec::new();
    for q in 0..n {
        let rx_frames = if q == 0 { RX_FRAMES } else { NUM_FRAMES };
        let q32 = u32::try_from(q).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
        let (x, rest) = open_xsk(ifname, q32, xdp, rx_frames)?;
        if q == 0 {
            tx_free = rest;
        }
        queues.push(x);
    }
    Ok((queues, tx_free))
}

/// Create a UMEM and a socket on `queue` with the given attach flags, give `rx_frames`
/// frames to the fill ring and return the rest (the TX free list).
fn open_xsk(
    ifname: &str,
    queue: u32,
    xdp: XdpFlags,
    rx_frames: u32,
) -> io::Result<(Xsk, Vec<FrameDesc>)> {
    let ucfg = UmemConfig::builder()
        .frame_size(FrameSize::new(FRAME_SIZE).map_err(|e| io_other("frame size", e))?)
        .fill_queue_size(queue_size(FILL_RING))
        .comp_queue_size(queue_size(COMP_RING))
        .build()
        .map_err(|e| io_other("umem config", e))?;
    let frames = NonZeroU32::new(NUM_FRAMES).expect("NUM_FRAMES > 0");
    let (umem, mut descs) = Umem::new(ucfg, frames, false).map_err(|e| io_other("umem", e))?;
    let scfg = SocketConfig::builder()
        .rx_queue_size(queue_size(RX_RING))
        .tx_queue_size(queue_size(TX_RING))
        .xdp_flags(xdp)
        .bind_flags(BindFlags::XDP_COPY | BindFlags::XDP_USE_NEED_WAKEUP)
        .build();
    let ifc: Interface = ifname
        .parse()
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    let mut tries = 0;
    let (tx, rx, rings) = loop {
        // SAFETY: the UMEM is owned by the returned `Xsk` together with the queues, and is
        // dropped after them (field order); frames are handed to one ring at a time.
        match unsafe { Socket::new(scfg, &umem, &ifc, queue) } {
            Ok(s) => break s,
            Err(e) => {
                let os = std::error::Error::source(&e)
                    .and_then(|s| s.downcast_ref::<io::Error>())
                    .and_then(io::Error::raw_os_error);
                if os == Some(libc::EBUSY) && tries < BUSY_RETRIES {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(50));
                    continue;
                }
                return Err(match os {
                    Some(code) => io::Error::from_raw_os_error(code),
                    None => io_other("xsk socket", e),
                });
            }
        }
    };
    let Some((mut fq, cq)) = rings else {
        return Err(io_other(
            "xsk socket",
            "no fill/completion rings for a fresh UMEM",
        ));
    };
    let tx_free = descs.split_off(rx_frames as usize);
    // SAFETY: fresh frames of this UMEM, owned by no ring yet.
    let given = unsafe { fq.produce(&descs) };
    if given != descs.len() {
        return Err(io_other("fill ring", "could not take the receive frames"));
    }
    Ok((
        Xsk {
            rx,
            tx,
            fq,
            cq,
            umem,
        },
        tx_free,
    ))
}

impl Port for AfXdpPort {
    fn name(&self) -> &str {
        self.link.name()
    }

    fn rx_burst(&mut self, pool: &mut PacketPool, batch: &mut Batch) -> usize {
        if self.tx.pending {
            if let Some(x) = self.queues.first_mut() {
                self.tx.kick(x, &mut self.stats, &mut self.link);
            }
        }
        if self.link.vanished() || self.queues.is_empty() {
            return 0;
        }
        let nq = self.queues.len();
        let mut n = 0;
        for i in 0..nq {
            if batch.room() == 0 {
                break;
            }
            let q = (self.next_rxq + i) % nq;
            n += self.rx_queue(q, pool, batch);
        }
        self.next_rxq = (self.next_rxq + 1) % nq;
        n
    }

    fn tx_burst(&mut self, batch: &mut Batch, pool: &mut PacketPool) -> usize {
        let total = batch.len();
        if total == 0 {
            return 0;
        }
        let Some(x) = self.queues.first_mut().filter(|_| !self.link.vanished()) else {
            self.stats.tx_dropped += total as u64;
            for p in batch.drain() {
                pool.put(p);
            }
            return 0;
        };
        let (tx, stats, link) = (&mut self.tx, &mut self.stats, &mut self.link);
        tx.reclaim(x);
        let mut oc = self.offload;
        let dropped_before = oc.drops();
        let mut sent = 0;
        for p in batch.drain() {
            // No vnet header here: complete partial checksums, cut GSO frames into segments.
            offload::prepare_tx(p, false, pool, &mut oc, &mut |s, pool| {
                tx.stage_frame(x, &s, stats, link);
                pool.put(s);
                if tx.stage.len() >= STAGE {
                    sent += tx.submit(x, stats, link);
                }
            });
        }
        sent += tx.submit(x, stats, link);
        tx.reclaim(x);
        stats.tx_dropped += oc.drops() - dropped_before;
        self.offload = oc;
        sent
    }

    fn stats(&self) -> PortStats {
        let k = self.kernel_drops();
        let full = k.rx_ring_full + k.fill_empty;
        PortStats {
            rx_dropped: self.stats.rx_dropped + full + k.other,
            rx_over_errors: full,
            ..self.stats
        }
    }

    fn poll_fd(&self) -> Option<RawFd> {
        match &self.epoll {
            Some(ep) => Some(ep.as_raw_fd()),
            None => self.queues.first().map(|x| x.rx.fd().as_raw_fd()),
        }
    }

    fn error(&self) -> Option<String> {
        self.link.error().map(str::to_string)
    }

    fn named_counters(&self) -> Vec<(&'static str, u64)> {
        let k = self.kernel_drops();
        vec![
            ("afxdp_rx_ring_full", k.rx_ring_full),
            ("afxdp_rx_fill_empty", k.fill_empty),
            ("afxdp_rx_kernel_dropped", k.other),
            ("afxdp_tx_kick_busy", self.tx.kick_busy),
            ("afxdp_fill_wakeups", self.wakeups),
            ("afxdp_rx_csum_partial", self.rx_csum_partial),
            ("afxdp_tx_csum_completed", self.offload.csum_completed),
            ("afxdp_tx_gso_segmented", self.offload.gso_segmented_frames),
            ("afxdp_tx_gso_segments", self.offload.gso_segments_out),
            ("afxdp_tx_offload_drops", self.offload.drops()),
        ]
    }
}

/// Receive drops the kernel counted on a port's XDP sockets (cumulative `XDP_STATISTICS`).
#[derive(Debug, Default, Clone, Copy)]
struct KernelDrops {
    /// The socket's RX ring was full.
    rx_ring_full: u64,
    /// No frame in the fill ring to receive into.
    fill_empty: u64,
    /// Other drops (invalid descriptors, frames too large for a UMEM frame, …).
    other: u64,
}

impl AfXdpPort {
    /// Sum `XDP_STATISTICS` over every queue's socket (the kernel keeps them cumulative).
    fn kernel_drops(&self) -> KernelDrops {
        let mut k = KernelDrops::default();
        for q in &self.queues {
            if let Ok(st) = q.rx.fd().xdp_statistics() {
                k.rx_ring_full += st.rx_ring_full();
                k.fill_empty += st.rx_fill_ring_empty_descs();
                k.other += st.rx_dropped() + st.rx_invalid_descs();
            }
        }
        k
    }
}

impl Drop for AfXdpPort {
    fn drop(&mut self) {
        // Sockets and UMEMs first, then make sure no program stays on the device.
        self.epoll = None;
        self.queues.clear();
        if !self.link.vanished() {
            let _ = detach_xdp(self.link.ifindex());
        }
    }
}

// ---- XDP program attach state over rtnetlink --------------------------------------------

// <linux/if_link.h>, <linux/netlink.h>, <linux/rtnetlink.h>
const IFLA_XDP: u16 = 43;
const IFLA_XDP_FD: u16 = 1;
const IFLA_XDP_ATTACHED: u16 = 2;
const IFLA_XDP_FLAGS: u16 = 3;
const NLA_F_NESTED: u16 = 1 << 15;
const NLA_TYPE_MASK: u16 = !(NLA_F_NESTED | (1 << 14));
const XDP_FLAGS_SKB_MODE: u32 = 1 << 1;
const XDP_FLAGS_DRV_MODE: u32 = 1 << 2;
const XDP_ATTACHED_NONE: u8 = 0;
const XDP_ATTACHED_DRV: u8 = 1;
const XDP_ATTACHED_SKB: u8 = 2;

/// `struct ifinfomsg`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct IfInfoMsg {
    family: u8,
    pad: u8,
    kind: u16,
    index: i32,
    flags: u32,
    change: u32,
}

impl IfInfoMsg {
    /// The link with index `ifindex`, any family.
    fn for_index(ifindex: u32) -> IfInfoMsg {
        IfInfoMsg {
            family: libc::AF_UNSPEC as u8,
            index: ifindex as i32,
            ..Default::default()
        }
    }
}

/// The header of a netlink request of type `kind` whose whole message is a `R`.
fn nl_header<R>(kind: u16, extra_flags: libc::c_int, seq: u32) -> libc::nlmsghdr {
    // SAFETY: nlmsghdr is plain data; all-zero is valid.
    let mut nh: libc::nlmsghdr = unsafe { core::mem::zeroed() };
    nh.nlmsg_len = core::mem::size_of::<R>() as u32;
    nh.nlmsg_type = kind;
    nh.nlmsg_flags = (libc::NLM_F_REQUEST | extra_flags) as u16;
    nh.nlmsg_seq = seq;
    nh
}

/// `struct nlattr`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct NlAttr {
    len: u16,
    kind: u16,
}

/// RTM_SETLINK { IFLA_XDP { IFLA_XDP_FD = -1, IFLA_XDP_FLAGS = mode } }.
#[repr(C)]
struct DetachReq {
    nh: libc::nlmsghdr,
    ifi: IfInfoMsg,
    xdp: NlAttr,
    fd_attr: NlAttr,
    fd: i32,
    flags_attr: NlAttr,
    flags: u32,
}

/// RTM_GETLINK for one index.
#[repr(C)]
struct GetReq {
    nh: libc::nlmsghdr,
    ifi: IfInfoMsg,
}

fn netlink_socket() -> io::Result<OwnedFd> {
    // SAFETY: plain socket(2) call; checked below.
    let raw = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::NETLINK_ROUTE,
        )
    };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `raw` is a fresh descriptor owned by nothing else.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

/// Send one request and read replies into `buf` until the one for `seq` arrives; returns
/// its length. An `NLMSG_ERROR` with a non-zero code becomes that OS error.
fn netlink_call<T>(fd: &OwnedFd, req: &T, seq: u32, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `req` is a plain repr(C) request of exactly size_of::<T>() bytes.
    let r = unsafe {
        libc::send(
            fd.as_raw_fd(),
            (req as *const T).cast(),
            core::mem::size_of::<T>(),
            0,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    loop {
        // SAFETY: `buf` is a valid writable buffer of its length.
        let n = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let n = n as usize;
        let hl = core::mem::size_of::<libc::nlmsghdr>();
        if n < hl {
            return Err(io::Error::from_raw_os_error(libc::EPROTO));
        }
        // SAFETY: at least one header's worth of bytes was received; read unaligned.
        let nh: libc::nlmsghdr = unsafe { core::ptr::read_unaligned(buf.as_ptr().cast()) };
        if nh.nlmsg_seq != seq {
            continue;
        }
        if nh.nlmsg_type == libc::NLMSG_ERROR as u16 {
            if n < hl + 4 {
                return Err(io::Error::from_raw_os_error(libc::EPROTO));
            }
            let code = i32::from_ne_bytes([buf[hl], buf[hl + 1], buf[hl + 2], buf[hl + 3]]);
            if code != 0 {
                return Err(io::Error::from_raw_os_error(-code));
            }
        }
        return Ok(n);
    }
}

/// Detach any XDP program from `ifindex`, in driver and in generic mode. Detaching where
/// nothing is attached succeeds. The same as `ip link set dev X xdpdrv off; … xdpgeneric off`.
pub fn detach_xdp(ifindex: u32) -> io::Result<()> {
    let fd = netlink_socket()?;
    let mut buf = [0u8; 4096];
    for (seq, flags) in [(1u32, XDP_FLAGS_DRV_MODE), (2, XDP_FLAGS_SKB_MODE)] {
        let req = DetachReq {
            nh: nl_header::<DetachReq>(libc::RTM_SETLINK, libc::NLM_F_ACK, seq),
            ifi: IfInfoMsg::for_index(ifindex),
            xdp: NlAttr {
                len: (3 * core::mem::size_of::<NlAttr>() + 8) as u16,
                kind: IFLA_XDP | NLA_F_NESTED,
            },
            fd_attr: NlAttr {
                len: 8,
                kind: IFLA_XDP_FD,
            },
            fd: -1,
            flags_attr: NlAttr {
                len: 8,
                kind: IFLA_XDP_FLAGS,
            },
            flags,
        };
        match netlink_call(&fd, &req, seq, &mut buf) {
            Ok(_) => {}
            // A device without driver-mode XDP (none here, but e.g. lo) refuses the DRV flag.
            Err(e) if flags == XDP_FLAGS_DRV_MODE && e.raw_os_error() == Some(libc::EOPNOTSUPP) => {
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Which XDP program attach mode is in effect on `ifindex` (IFLA_XDP_ATTACHED).
pub fn xdp_attached(ifindex: u32) -> io::Result<Attached> {
    let fd = netlink_socket()?;
    let req = GetReq {
        nh: nl_header::<GetReq>(libc::RTM_GETLINK, 0, 3),
        ifi: IfInfoMsg::for_index(ifindex),
    };
    let mut buf = vec![0u8; 32 * 1024];
    let n = netlink_call(&fd, &req, 3, &mut buf)?;
    let start = core::mem::size_of::<libc::nlmsghdr>() + core::mem::size_of::<IfInfoMsg>();
    let Some(attrs) = buf.get(start..n) else {
        return Err(io::Error::from_raw_os_error(libc::EPROTO));
    };
    let Some(xdp) = find_attr(attrs, IFLA_XDP) else {
        return Ok(Attached::None);
    };
    Ok(
        match find_attr(xdp, IFLA_XDP_ATTACHED).and_then(|v| v.first().copied()) {
            None | Some(XDP_ATTACHED_NONE) => Attached::None,
            Some(XDP_ATTACHED_DRV) => Attached::Native,
            Some(XDP_ATTACHED_SKB) => Attached::Generic,
            Some(o) => Attached::Other(o),
        },
    )
}

/// The payload of the first attribute of type `kind` in a run of netlink attributes.
fn find_attr(mut a: &[u8], kind: u16) -> Option<&[u8]> {
    while a.len() >= 4 {
        let len = u16::from_ne_bytes([a[0], a[1]]) as usize;
        let t = u16::from_ne_bytes([a[2], a[3]]) & NLA_TYPE_MASK;
        if len < 4 || len > a.len() {
            return None;
        }
        if t == kind {
            return Some(&a[4..len]);
        }
        let next = (len + 3) & !3;
        a = a.get(next..)?;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_like_ovs() {
        assert_eq!(XdpMode::parse("best-effort"), Some(XdpMode::BestEffort));
        assert_eq!(XdpMode::parse(""), Some(XdpMode::BestEffort));
        assert_eq!(XdpMode::parse("native"), Some(XdpMode::Native));
        assert_eq!(
            XdpMode::parse("native-with-zerocopy"),
            Some(XdpMode::Native)
        );
        assert_eq!(XdpMode::parse("generic"), Some(XdpMode::Generic));
        assert_eq!(XdpMode::parse("skb"), None);
    }

    #[test]
    fn attributes_are_walked_with_padding() {
        // IFLA_MTU (4) = 1500, then nested IFLA_XDP { IFLA_XDP_ATTACHED = 2 (u8, padded) }.
        let mut a = Vec::new();
        a.extend_from_slice(&8u16.to_ne_bytes());
        a.extend_from_slice(&4u16.to_ne_bytes());
        a.extend_from_slice(&1500u32.to_ne_bytes());
        a.extend_from_slice(&12u16.to_ne_bytes());
        a.extend_from_slice(&(IFLA_XDP | NLA_F_NESTED).to_ne_bytes());
        a.extend_from_slice(&5u16.to_ne_bytes());
        a.extend_from_slice(&IFLA_XDP_ATTACHED.to_ne_bytes());
        a.extend_from_slice(&[2, 0, 0, 0]);
        let xdp = find_attr(&a, IFLA_XDP).unwrap();
        assert_eq!(find_attr(xdp, IFLA_XDP_ATTACHED), Some(&[2u8][..]));
        assert_eq!(find_attr(&a, 99), None);
    }

    #[test]
    fn detach_on_a_missing_device_fails_cleanly() {
        // ifindex 0x7fff_fff0 does not exist: the kernel answers ENODEV (or EPERM when not
        // root); either way an error, never a panic.
        assert!(detach_xdp(0x7fff_fff0).is_err());
    }
}
