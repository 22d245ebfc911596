//! An in-memory port: frames injected through a `MemPortHandle` are received by the datapath,
//! and frames the datapath transmits are collected for the test to read. Used by pipeline and
//! PMD tests and by benchmarks; it exercises exactly the code paths a real port does.

use super::{Port, PortStats};
use crate::packet::{Batch, Packet, PacketPool};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

#[derive(Debug, Default)]
struct Queues {
    rx: VecDeque<Vec<u8>>,
    tx: Vec<Vec<u8>>,
}

/// The test's side of a `MemPort`.
#[derive(Debug, Clone, Default)]
pub struct MemPortHandle {
    q: Arc<Mutex<Queues>>,
}

impl MemPortHandle {
    /// Queue a frame for the datapath to receive.
    pub fn inject(&self, frame: &[u8]) {
        self.q
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .rx
            .push_back(frame.to_vec());
    }
    /// Take every frame the datapath transmitted so far.
    pub fn take_sent(&self) -> Vec<Vec<u8>> {
        std::mem::take(&mut self.q.lock().unwrap_or_else(|e| e.into_inner()).tx)
    }
    /// Frames injected but not yet received.
    pub fn pending_rx(&self) -> usize {
        self.q.lock().unwrap_or_else(|e| e.into_inner()).rx.len()
    }
}

/// The datapath's side of an in-memory port.
#[derive(Debug)]
pub struct MemPort {
    name: String,
    port_no: u16,
    q: Arc<Mutex<Queues>>,
    stats: PortStats,
}

impl MemPort {
    /// A port named `name` with datapath number `port_no`, and the handle to drive it.
    pub fn new(name: &str, port_no: u16) -> (MemPort, MemPortHandle) {
        let h = MemPortHandle::default();
        (
            MemPort {
                name: name.to_string(),
                port_no,
                q: h.q.clone(),
                stats: PortStats::default(),
            },
            h,
        )
    }
}

impl Port for MemPort {
    fn name(&self) -> &str {
        &self.name
    }

    fn rx_burst(&mut self, pool: &mut PacketPool, batch: &mut Batch) -> usize {
        let mut q = self.q.lock().unwrap_or_else(|e| e.into_inner());
        let mut n = 0;
        while batch.room() > 0 {
            let Some(frame) = q.rx.pop_front() else { break };
            let Some(mut p): Option<Packet> = pool.get() else {
                self.stats.rx_dropped += 1;
                continue;
            };
            if !p.set_frame(&frame) {
                pool.put(p);
                self.stats.rx_errors += 1;
                continue;
            }
            p.meta.in_port = self.port_no;
            self.stats.rx_packets += 1;
            self.stats.rx_bytes += frame.len() as u64;
            if batch.push(p).is_ok() {
                n += 1;
            }
        }
        n
    }

    fn tx_burst(&mut self, batch: &mut Batch, pool: &mut PacketPool) -> usize {
        let mut q = self.q.lock().unwrap_or_else(|e| e.into_inner());
        let mut n = 0;
        for p in batch.drain() {
            self.stats.tx_packets += 1;
            self.stats.tx_bytes += p.len() as u64;
            q.tx.push(p.data().to_vec());
            pool.put(p);
            n += 1;
        }
        n
    }

    fn stats(&self) -> PortStats {
        self.stats
    }
}
