//! Ports: the `Port` trait every backend implements, per-port statistics, and the in-memory
//! port used by tests and benchmarks.
//!
//! Contract: `rx_burst` appends up to `batch.room()` received frames (taking buffers from the
//! pool) and returns how many; `tx_burst` consumes the whole batch — every frame is either
//! sent or dropped and counted — and returns how many were sent. Neither blocks.

pub mod afpacket;
#[cfg(feature = "afxdp")]
pub mod afxdp;
pub mod gre;
pub mod linux;
pub mod mem;
pub mod tap;
pub mod tunio;
pub mod udptun;
pub mod vnet;

use crate::packet::{Batch, PacketPool};

pub use mem::{MemPort, MemPortHandle};

/// Per-port counters, in the shape of `dpctl/show -s`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PortStats {
    pub rx_packets: u64,
    pub rx_bytes: u64,
    pub rx_errors: u64,
    /// Every received frame lost: rvs's own drops (no buffer, cut short) plus the kernel's
    /// (`rx_over_errors`).
    pub rx_dropped: u64,
    /// Frames the kernel dropped before rvs could read them because the socket's receive
    /// ring (or AF_XDP's rx/fill ring) was full: `overruns` in `dpctl/show -s`.
    pub rx_over_errors: u64,
    pub tx_packets: u64,
    pub tx_bytes: u64,
    pub tx_errors: u64,
    pub tx_dropped: u64,
}

/// A source and sink of frames, owned by one PMD thread at a time.
pub trait Port: Send + core::fmt::Debug {
    /// The netdev name.
    fn name(&self) -> &str;
    /// Receive up to `batch.room()` frames. Never blocks.
    fn rx_burst(&mut self, pool: &mut PacketPool, batch: &mut Batch) -> usize;
    /// Send (or drop and count) every frame of `batch`, returning buffers to `pool`.
    fn tx_burst(&mut self, batch: &mut Batch, pool: &mut PacketPool) -> usize;
    /// Counters so far.
    fn stats(&self) -> PortStats;
    /// A file descriptor that becomes readable when frames arrive, for the PMD's idle wait.
    fn poll_fd(&self) -> Option<std::os::fd::RawFd> {
        None
    }
    /// Ports that must be received by the same PMD report the same value (tunnel ports that
    /// share a socket); `None`: any PMD.
    fn rx_affinity(&self) -> Option<u64> {
        None
    }
    /// Why the port cannot pass traffic right now (e.g. its netdev vanished), if it cannot.
    fn error(&self) -> Option<String> {
        None
    }
    /// A remark for the interface's `status` column while the port works (e.g. why a
    /// `type=afxdp` port fell back to AF_PACKET). Control path only.
    fn note(&self) -> Option<String> {
        None
    }
    /// Where the kernel fast path hooks this port's netdev (`fastpath`), if it can: `None`
    /// keeps every flow from or to the port in userspace. Checked against the kernel on each
    /// call (`PortHook::checked`): `None` once the netdev is gone from rvs's namespace.
    fn fastpath_hook(&self) -> Option<crate::fastpath::PortHook> {
        None
    }
    /// Attach (`Some`) or detach (`None`) the fast path's socket filter on the port's own
    /// packet socket, so frames the kernel forwards are not also copied to rvs. Ports that
    /// read no packet socket have nothing to do.
    fn set_fastpath_filter(
        &mut self,
        _prog: Option<std::os::fd::BorrowedFd<'_>>,
    ) -> std::io::Result<()> {
        Ok(())
    }
    /// Backend-specific named counters (e.g. GRE drop reasons), for `coverage/show`:
    /// `(name, value)` pairs in a fixed order. Control path only; may allocate.
    fn named_counters(&self) -> Vec<(&'static str, u64)> {
        Vec::new()
    }
}
