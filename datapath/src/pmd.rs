//! Poll-mode threads.
//!
//! A PMD owns a replica of the switching core (`Switch`; the FDBs inside are shared `Arc`s),
//! a buffer pool, and the list of ports it receives from. Each iteration it applies pending
//! control messages (the safe point), then for every rx port: receive a burst of up to 32,
//! run NORMAL, transmit the per-port outputs. While traffic flows it busy-polls; after
//! `IDLE_BEFORE_SLEEP` without a frame it blocks in epoll (mio) on its ports' fds and a waker,
//! so an idle daemon costs ~0 CPU.
//!
//! # Thread-safety contract
//! Ports are `SharedPort = Arc<Mutex<Box<dyn Port>>>`: exactly one PMD receives from a port,
//! any PMD may transmit to it; the mutex is held for one burst and is uncontended with the
//! default single PMD. Control → PMD changes travel over a crossbeam channel and are applied
//! between bursts, so removing one port never drops frames in flight on the others (its own
//! pending outputs are flushed before it goes). PMD → control statistics are published into
//! atomics after each burst and read without stopping the PMD.

use crate::fastpath::{FastPath, Offloader, PortHook, REVALIDATE_EVERY, SYNC_EVERY};
use crate::fdb::Fdb;
use crate::flow::FlowDump;
use crate::packet::{Batch, PacketPool};
use crate::pipeline::{BridgeId, Counters, DropReason, Outputs, PortNo, Switch};
use crate::port::linux::LinkEvents;
use crate::port::Port;
use crossbeam_channel::{Receiver, Sender};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// A port shared between the PMDs (see the module contract).
pub type SharedPort = Arc<Mutex<Box<dyn Port>>>;

/// Lock a shared port, surviving a poisoned mutex (a panicked holder leaves the port usable).
pub fn lock_port(p: &SharedPort) -> MutexGuard<'_, Box<dyn Port>> {
    p.lock().unwrap_or_else(|e| e.into_inner())
}

/// Busy-poll this long without traffic before blocking.
pub const IDLE_BEFORE_SLEEP: Duration = Duration::from_millis(5);
/// Longest single block, so housekeeping-free PMDs still notice a stop promptly.
const MAX_SLEEP: Duration = Duration::from_millis(500);
/// Buffers per PMD pool.
pub const POOL_SIZE: usize = 1024;

/// The monotonic clock all PMDs and the control thread share (ms since the datapath began).
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    epoch: Instant,
}

impl Default for Clock {
    fn default() -> Self {
        Clock {
            epoch: Instant::now(),
        }
    }
}

impl Clock {
    #[inline]
    pub fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }
    #[inline]
    pub fn now_secs(&self) -> u32 {
        (self.now_ms() / 1000) as u32
    }
}

/// Messages from the control thread, applied at the PMD's safe point.
pub enum PmdMsg {
    AddBridge {
        id: BridgeId,
        fdb: Arc<Fdb>,
    },
    DelBridge {
        id: BridgeId,
    },
    /// Attach `port` to bridge `bridge`; if `rx` this PMD also polls it.
    AddPort {
        port_no: PortNo,
        bridge: BridgeId,
        port: SharedPort,
        rx: bool,
    },
    /// Detach a port: flush, stop polling and transmitting to it.
    DelPort {
        port_no: PortNo,
    },
    /// Answer once every message before this one is applied.
    Barrier(Sender<()>),
    /// Send a copy of every cached flow.
    DumpFlows(Sender<Vec<FlowDump>>),
    /// Remove every cached flow.
    DelFlows,
    /// Set a port's VLAN mode.
    SetVlan {
        port_no: PortNo,
        cfg: crate::vlan::PortVlan,
    },
    /// Re-decide every cached flow before its next use (configuration changed).
    Revalidate,
    /// Turn the kernel fast path on (with the loaded programs) or off (its entries removed).
    SetFastPath(Option<Arc<FastPath>>),
    /// Read the fast path's counters into flows and ports now (before a listing).
    SyncFastPath,
    /// Where the fast path hooks a port (`None`: flows from or to it stay in userspace).
    SetHook {
        port_no: PortNo,
        hook: Option<PortHook>,
    },
    Stop,
}

impl core::fmt::Debug for PmdMsg {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            PmdMsg::AddBridge { id, .. } => write!(f, "AddBridge({id})"),
            PmdMsg::DelBridge { id } => write!(f, "DelBridge({id})"),
            PmdMsg::AddPort {
                port_no,
                bridge,
                rx,
                ..
            } => write!(f, "AddPort({port_no} on {bridge}, rx={rx})"),
            PmdMsg::DelPort { port_no } => write!(f, "DelPort({port_no})"),
            PmdMsg::Barrier(_) => write!(f, "Barrier"),
            PmdMsg::DumpFlows(_) => write!(f, "DumpFlows"),
            PmdMsg::DelFlows => write!(f, "DelFlows"),
            PmdMsg::SetVlan { port_no, cfg } => write!(f, "SetVlan({port_no}, {cfg:?})"),
            PmdMsg::Revalidate => write!(f, "Revalidate"),
            PmdMsg::SetFastPath(fp) => write!(f, "SetFastPath({})", fp.is_some()),
            PmdMsg::SetHook { port_no, hook } => write!(f, "SetHook({port_no}, {hook:?})"),
            PmdMsg::SyncFastPath => write!(f, "SyncFastPath"),
            PmdMsg::Stop => write!(f, "Stop"),
        }
    }
}

/// Statistics a PMD publishes (read by the control thread at any time).
#[derive(Debug, Default)]
pub struct PmdStats {
    pub frames: AtomicU64,
    pub unicast: AtomicU64,
    pub flooded: AtomicU64,
    pub drops: [AtomicU64; DropReason::ALL.len()],
    /// Iterations that found at least one frame.
    pub busy_iterations: AtomicU64,
    /// Iterations that found none.
    pub idle_iterations: AtomicU64,
    /// Times the PMD blocked in epoll.
    pub sleeps: AtomicU64,
    /// Nanoseconds spent in busy iterations (for cycles-per-packet).
    pub busy_ns: AtomicU64,
    /// Flow cache hits, misses (upcalls), flows installed now, flows revalidated, flows not
    /// installed because the cache was full.
    pub flow_hits: AtomicU64,
    pub flow_misses: AtomicU64,
    pub flows: AtomicU64,
    pub flow_revalidated: AtomicU64,
    pub flow_limit_hits: AtomicU64,
    /// The flow table shrank: the control thread should return freed memory to the kernel.
    pub trim_wanted: AtomicBool,
}

impl PmdStats {
    fn publish(&self, c: &Counters, flows: &crate::flow::FlowCache) {
        self.flow_hits.store(flows.counters.hits, Relaxed);
        self.flow_misses.store(flows.counters.misses, Relaxed);
        self.flows.store(flows.len() as u64, Relaxed);
        self.flow_revalidated
            .store(flows.counters.revalidated, Relaxed);
        self.flow_limit_hits
            .store(flows.counters.limit_hits, Relaxed);
        self.frames.store(c.frames, Relaxed);
        self.unicast.store(c.unicast, Relaxed);
        self.flooded.store(c.flooded, Relaxed);
        for (a, v) in self.drops.iter().zip(c.drops) {
            a.store(v, Relaxed);
        }
    }
}

/// The control thread's handle on one PMD.
#[derive(Debug)]
pub struct PmdHandle {
    pub id: usize,
    pub core: Option<usize>,
    tx: Sender<PmdMsg>,
    waker: Arc<mio::Waker>,
    pub stats: Arc<PmdStats>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl PmdHandle {
    /// Start PMD `id`, pinned to `core` when given.
    pub fn spawn(id: usize, core: Option<usize>, clock: Clock) -> std::io::Result<PmdHandle> {
        let poll = mio::Poll::new()?;
        let waker = Arc::new(mio::Waker::new(poll.registry(), WAKE_TOKEN)?);
        let (tx, rx) = crossbeam_channel::unbounded();
        let stats = Arc::new(PmdStats::default());
        let st = stats.clone();
        let thread = std::thread::Builder::new()
            .name(format!("pmd{id}"))
            .spawn(move || {
                if let Some(c) = core {
                    core_affinity::set_for_current(core_affinity::CoreId { id: c });
                }
                Pmd::new(rx, poll, st, clock).run();
            })?;
        Ok(PmdHandle {
            id,
            core,
            tx,
            waker,
            stats,
            thread: Some(thread),
        })
    }

    /// Queue a message and wake the PMD if it sleeps.
    pub fn send(&self, m: PmdMsg) {
        // The receiver lives as long as the thread; a send error means it already stopped.
        let _ = self.tx.send(m);
        let _ = self.waker.wake();
    }

    /// Wait until every message sent so far has been applied (bounded wait).
    pub fn barrier(&self) {
        let (tx, rx) = crossbeam_channel::bounded(1);
        self.send(PmdMsg::Barrier(tx));
        let _ = rx.recv_timeout(Duration::from_secs(5));
    }

    /// Stop the thread and wait for it.
    pub fn stop(&mut self) {
        self.send(PmdMsg::Stop);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for PmdHandle {
    fn drop(&mut self) {
        self.stop();
    }
}

const WAKE_TOKEN: mio::Token = mio::Token(usize::MAX);

struct RxPort {
    port_no: PortNo,
    port: SharedPort,
    registered_fd: Option<std::os::fd::RawFd>,
}

struct Pmd {
    rx: Receiver<PmdMsg>,
    poll: mio::Poll,
    events: mio::Events,
    stats: Arc<PmdStats>,
    clock: Clock,
    switch: Switch,
    bridge_ids: Vec<(BridgeId, BridgeId)>,
    /// Ports by number (for transmit).
    ports: Vec<Option<SharedPort>>,
    rx_ports: Vec<RxPort>,
    pool: PacketPool,
    out: Outputs,
    batch: Batch,
    stop: AtomicBool,
    /// The kernel fast path's entries of this PMD's flows, when it is on.
    offload: Option<Offloader>,
    /// Link notifications while the fast path is on: a hooked netdev that vanished or moved to
    /// another namespace must lose its entries at once, not when traffic notices.
    link_events: Option<LinkEvents>,
}

/// The mio token of `Pmd::link_events` (ports use their port numbers).
const LINK_EVENTS: mio::Token = mio::Token(usize::MAX - 1);

impl Pmd {
    fn new(rx: Receiver<PmdMsg>, poll: mio::Poll, stats: Arc<PmdStats>, clock: Clock) -> Pmd {
        Pmd {
            rx,
            poll,
            events: mio::Events::with_capacity(64),
            stats,
            clock,
            switch: Switch::new(),
            bridge_ids: Vec::new(),
            ports: Vec::new(),
            rx_ports: Vec::new(),
            pool: PacketPool::new(POOL_SIZE),
            out: Outputs::new(),
            batch: Batch::new(),
            stop: AtomicBool::new(false),
            offload: None,
            link_events: None,
        }
    }

    /// Map a control-plane bridge id to this replica's bridge id.
    fn local_bridge(&self, id: BridgeId) -> Option<BridgeId> {
        self.bridge_ids
            .iter()
            .find(|(c, _)| *c == id)
            .map(|(_, l)| *l)
    }

    fn apply(&mut self, m: PmdMsg) {
        match m {
            PmdMsg::AddBridge { id, fdb } => {
                let local = self.switch.add_bridge(fdb);
                self.bridge_ids.push((id, local));
            }
            PmdMsg::DelBridge { id } => {
                if let Some(l) = self.local_bridge(id) {
                    self.switch.remove_bridge(l);
                    self.bridge_ids.retain(|(c, _)| *c != id);
                }
                self.revalidate_offloaded();
            }
            PmdMsg::AddPort {
                port_no,
                bridge,
                port,
                rx,
            } => {
                let Some(l) = self.local_bridge(bridge) else {
                    return;
                };
                self.switch.add_port(port_no, l);
                let i = usize::from(port_no);
                if i >= self.ports.len() {
                    self.ports.resize(i + 1, None);
                }
                self.ports[i] = Some(port.clone());
                if rx {
                    let fd = lock_port(&port).poll_fd();
                    let registered_fd = fd.and_then(|fd| {
                        self.poll
                            .registry()
                            .register(
                                &mut mio::unix::SourceFd(&fd),
                                mio::Token(usize::from(port_no)),
                                mio::Interest::READABLE,
                            )
                            .ok()
                            .map(|_| fd)
                    });
                    self.rx_ports.push(RxPort {
                        port_no,
                        port,
                        registered_fd,
                    });
                }
            }
            PmdMsg::DelPort { port_no } => {
                self.switch.remove_port(port_no);
                // No entry may redirect from or to the port once the control thread's
                // barrier returns.
                if let Some(o) = self.offload.as_mut() {
                    o.set_hook(port_no, None);
                }
                self.revalidate_offloaded();
                if let Some(slot) = self.ports.get_mut(usize::from(port_no)) {
                    *slot = None;
                }
                if let Some(i) = self.rx_ports.iter().position(|r| r.port_no == port_no) {
                    let r = self.rx_ports.remove(i);
                    if let Some(fd) = r.registered_fd {
                        let _ = self
                            .poll
                            .registry()
                            .deregister(&mut mio::unix::SourceFd(&fd));
                    }
                }
            }
            PmdMsg::Barrier(ack) => {
                let _ = ack.send(());
            }
            PmdMsg::DumpFlows(reply) => {
                self.sync_offloaded();
                let _ = reply.send(self.switch.dump_flows());
            }
            PmdMsg::SyncFastPath => self.sync_offloaded(),
            PmdMsg::DelFlows => {
                if let Some(o) = self.offload.as_mut() {
                    o.clear(&mut self.switch, self.clock.now_ms());
                }
                self.switch.flows.clear();
                self.publish();
            }
            PmdMsg::Revalidate => {
                self.switch.revalidate_all();
                self.revalidate_offloaded();
            }
            PmdMsg::SetVlan { port_no, cfg } => {
                self.switch.set_port_vlan(port_no, cfg);
                self.revalidate_offloaded();
            }
            PmdMsg::SetFastPath(fp) => {
                if let Some(mut o) = self.offload.take() {
                    o.clear(&mut self.switch, self.clock.now_ms());
                }
                for f in self.switch.flows.iter_mut() {
                    f.offloaded = false;
                }
                self.switch.offload_wanted = fp.as_ref().map(|_| Vec::new());
                if let Some(le) = self.link_events.take() {
                    let _ = self
                        .poll
                        .registry()
                        .deregister(&mut mio::unix::SourceFd(&le.fd()));
                }
                if fp.is_some() {
                    // Without notifications a vanished port is still noticed by the control
                    // thread's once-a-second check (`Dpif::run`).
                    self.link_events = LinkEvents::open().ok().filter(|le| {
                        self.poll
                            .registry()
                            .register(
                                &mut mio::unix::SourceFd(&le.fd()),
                                LINK_EVENTS,
                                mio::Interest::READABLE,
                            )
                            .is_ok()
                    });
                }
                self.offload = fp.map(Offloader::new);
            }
            PmdMsg::SetHook { port_no, hook } => {
                if let Some(o) = self.offload.as_mut() {
                    o.set_hook(port_no, hook);
                }
                self.revalidate_offloaded();
            }
            PmdMsg::Stop => self.stop.store(true, Relaxed),
        }
    }

    /// After link notifications: unhook every port whose netdev is no longer what its hook
    /// says (deleted, recreated, moved to another namespace) and re-decide the entries.
    fn check_hooks(&mut self) {
        let Some(le) = &self.link_events else {
            return;
        };
        if !le.drain() {
            return;
        }
        let Some(o) = self.offload.as_mut() else {
            return;
        };
        let hooked: Vec<(PortNo, PortHook)> = o.hooked().collect();
        let mut changed = false;
        for (port_no, hook) in hooked {
            let now = self
                .ports
                .get(usize::from(port_no))
                .and_then(Option::as_ref)
                .and_then(|p| lock_port(p).fastpath_hook());
            if now != Some(hook) {
                o.set_hook(port_no, None);
                changed = true;
            }
        }
        if changed {
            self.revalidate_offloaded();
        }
    }

    /// Read the fast path's counters into flows and ports now.
    fn sync_offloaded(&mut self) {
        if let Some(o) = self.offload.as_mut() {
            o.sync(&mut self.switch, self.clock.now_ms());
        }
    }

    /// Re-decide the offloaded flows now (after a port or configuration change).
    fn revalidate_offloaded(&mut self) {
        if let Some(o) = self.offload.as_mut() {
            o.revalidate(&mut self.switch, self.clock.now_ms());
        }
    }

    /// One pass over the rx ports. Returns frames received.
    fn poll_once(&mut self) -> usize {
        let mut total = 0;
        for i in 0..self.rx_ports.len() {
            // What the batch holds counts, not what rx_burst returned: nothing received may
            // ever be left behind in it.
            lock_port(&self.rx_ports[i].port).rx_burst(&mut self.pool, &mut self.batch);
            let n = self.batch.len();
            if n == 0 {
                continue;
            }
            total += n;
            let now = self.clock.now_ms();
            self.switch
                .process(&mut self.batch, now, &mut self.pool, &mut self.out);
            let ports = &self.ports;
            self.out.flush(&mut self.pool, |port_no, b, pool| {
                if let Some(Some(p)) = ports.get(usize::from(port_no)) {
                    lock_port(p).tx_burst(b, pool);
                }
            });
        }
        if total > 0 {
            if let Some(o) = self.offload.as_mut() {
                o.run(&mut self.switch, self.clock.now_ms());
            }
            self.publish();
        }
        total
    }

    fn publish(&self) {
        self.stats
            .publish(&self.switch.counters, &self.switch.flows);
    }

    fn run(mut self) {
        let mut last_traffic = Instant::now();
        let mut last_expiry = Instant::now();
        let mut last_offload_run = Instant::now();
        while !self.stop.load(Relaxed) {
            if self.offload.is_some() && last_offload_run.elapsed() >= REVALIDATE_EVERY {
                last_offload_run = Instant::now();
                self.check_hooks();
                if let Some(o) = self.offload.as_mut() {
                    o.run(&mut self.switch, self.clock.now_ms());
                }
            }
            if last_expiry.elapsed() >= SYNC_EVERY {
                last_expiry = Instant::now();
                let now = self.clock.now_ms();
                // Kernel counters first, so flows busy in the fast path are not expired.
                if let Some(o) = self.offload.as_mut() {
                    o.sync(&mut self.switch, now);
                }
                if self.switch.flows.expire(now) > 0 {
                    if let Some(o) = self.offload.as_mut() {
                        o.prune(&mut self.switch, now);
                    }
                    self.publish();
                }
                if self.switch.flows.take_shrunk() {
                    self.stats.trim_wanted.store(true, Relaxed);
                }
            }
            while let Ok(m) = self.rx.try_recv() {
                self.apply(m);
            }
            if self.stop.load(Relaxed) {
                break;
            }
            let t0 = Instant::now();
            if self.poll_once() > 0 {
                self.stats.busy_iterations.fetch_add(1, Relaxed);
                self.stats
                    .busy_ns
                    .fetch_add(t0.elapsed().as_nanos() as u64, Relaxed);
                last_traffic = t0;
                continue;
            }
            self.stats.idle_iterations.fetch_add(1, Relaxed);
            if last_traffic.elapsed() < IDLE_BEFORE_SLEEP {
                // Keep polling, but let a runnable thread (often the traffic's own sender or
                // receiver on a small machine) have the core between polls.
                std::thread::yield_now();
                continue;
            }
            // Idle: block until a port is readable, a message arrives, or MAX_SLEEP passes.
            // Ports without a pollable fd are checked every MAX_SLEEP at worst, so only sleep
            // that long when every rx port can wake us.
            let all_pollable = self.rx_ports.iter().all(|r| r.registered_fd.is_some());
            let timeout = if !all_pollable {
                Duration::from_millis(1)
            } else if self.offload.as_ref().is_some_and(|o| !o.is_empty()) {
                // Offloaded flows never wake us: re-check the generations on a timer.
                REVALIDATE_EVERY
            } else {
                MAX_SLEEP
            };
            self.stats.sleeps.fetch_add(1, Relaxed);
            let _ = self.poll.poll(&mut self.events, Some(timeout));
            if self.events.iter().any(|e| e.token() == LINK_EVENTS) {
                self.check_hooks();
            }
            if !self.events.is_empty() {
                last_traffic = Instant::now() - IDLE_BEFORE_SLEEP; // poll once, sleep again if nothing
            }
        }
        // Return every buffer still waiting (none expected: outputs flush every burst).
        self.out.flush(&mut self.pool, |_, _, _| {});
        if let Some(o) = self.offload.as_mut() {
            o.clear(&mut self.switch, self.clock.now_ms());
        }
    }
}

/// Read the pipeline counters a PMD published.
pub(crate) fn read_counters(s: &PmdStats) -> Counters {
    let mut c = Counters {
        frames: s.frames.load(Relaxed),
        unicast: s.unicast.load(Relaxed),
        flooded: s.flooded.load(Relaxed),
        ..Counters::default()
    };
    for (v, a) in c.drops.iter_mut().zip(&s.drops) {
        *v = a.load(Relaxed);
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::port::MemPort;
    use crate::wire::ethernet::{emit, MacAddr};

    fn frame(dst: MacAddr, src: MacAddr) -> Vec<u8> {
        let mut f = vec![0u8; 60];
        emit(&mut f, dst, src, 0x88b5);
        f
    }

    fn wait_for(mut cond: impl FnMut() -> bool) -> bool {
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(5) {
            if cond() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        false
    }

    #[test]
    fn pmd_forwards_and_survives_port_removal() {
        let mut pmd = PmdHandle::spawn(0, None, Clock::default()).unwrap();
        let fdb = Arc::new(Fdb::new(64));
        pmd.send(PmdMsg::AddBridge {
            id: 7,
            fdb: fdb.clone(),
        });
        let mut handles = vec![];
        for i in 1..=3u16 {
            let (p, h) = MemPort::new(&format!("m{i}"), i);
            let shared: SharedPort = Arc::new(Mutex::new(Box::new(p)));
            pmd.send(PmdMsg::AddPort {
                port_no: i,
                bridge: 7,
                port: shared,
                rx: true,
            });
            handles.push(h);
        }
        pmd.barrier();
        let a = MacAddr([2, 0, 0, 0, 0, 1]);
        let b = MacAddr([2, 0, 0, 0, 0, 2]);
        handles[0].inject(&frame(MacAddr::BROADCAST, a));
        assert!(wait_for(|| !handles[1].take_sent().is_empty()));
        assert!(wait_for(|| !handles[2].take_sent().is_empty()));
        // Remove port 3 while traffic 2 -> 1 flows; none of it is lost.
        for _ in 0..100 {
            handles[1].inject(&frame(a, b));
        }
        pmd.send(PmdMsg::DelPort { port_no: 3 });
        for _ in 0..100 {
            handles[1].inject(&frame(a, b));
        }
        let mut got = 0;
        assert!(wait_for(|| {
            got += handles[0].take_sent().len();
            got == 200
        }));
        assert_eq!(fdb.lookup(0, b).port(), Some(2));
        let c = read_counters(&pmd.stats);
        assert_eq!(c.frames, 201);
        pmd.stop();
    }
}
