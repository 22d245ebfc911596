//! Helpers shared by the datapath's integration tests: the golden captures in testdata/, and
//! `Rig`, one bridge of in-memory ports driven through the NORMAL pipeline with virtual time.

#![allow(dead_code)]

use rvs_datapath::fdb::Fdb;
use rvs_datapath::packet::{Batch, PacketPool};
use rvs_datapath::pipeline::{Outputs, Switch};
use rvs_datapath::port::{MemPort, MemPortHandle, Port};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A file in datapath/testdata.
pub fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(name)
}

#[allow(unused_imports)] // not every test binary that includes this module reads pcaps
pub use rvs_testkit::pcap_frames;

/// One bridge with in-memory ports 1..=n.
pub struct Rig {
    pub sw: Switch,
    pub fdb: Arc<Fdb>,
    pub ports: Vec<MemPort>,
    pub handles: Vec<MemPortHandle>,
    pub pool: PacketPool,
    pub out: Outputs,
}

impl Rig {
    /// One bridge with ports 1..=n and an FDB of `fdb_size`.
    pub fn new(n: u16, fdb_size: usize) -> Rig {
        let mut sw = Switch::new();
        let fdb = Arc::new(Fdb::new(fdb_size));
        let br = sw.add_bridge(fdb.clone());
        let (mut ports, mut handles) = (vec![], vec![]);
        for i in 1..=n {
            let (p, h) = MemPort::new(&format!("p{i}"), i);
            assert!(sw.add_port(i, br));
            ports.push(p);
            handles.push(h);
        }
        Rig {
            sw,
            fdb,
            ports,
            handles,
            pool: PacketPool::new(256),
            out: Outputs::new(),
        }
    }

    /// The test's handle on port `port`.
    pub fn h(&self, port: u16) -> &MemPortHandle {
        &self.handles[usize::from(port) - 1]
    }

    /// Receive everything pending on every port, run the pipeline, transmit, at `now_ms`;
    /// then check that every buffer went back to the pool.
    pub fn run(&mut self, now_ms: u64) {
        let mut batch = Batch::new();
        loop {
            let mut any = false;
            for i in 0..self.ports.len() {
                if self.ports[i].rx_burst(&mut self.pool, &mut batch) == 0 {
                    continue;
                }
                any = true;
                self.sw
                    .process(&mut batch, now_ms, &mut self.pool, &mut self.out);
                let ports = &mut self.ports;
                self.out.flush(&mut self.pool, |port, b, pool| {
                    ports[usize::from(port) - 1].tx_burst(b, pool);
                });
            }
            if !any {
                break;
            }
        }
        assert_eq!(self.pool.available(), self.pool.size(), "a buffer leaked");
    }

    /// Frames each port sent since the last call, by port (ports that sent nothing omitted).
    pub fn sent(&self) -> Vec<(u16, Vec<Vec<u8>>)> {
        (1..=self.handles.len() as u16)
            .map(|p| (p, self.h(p).take_sent()))
            .filter(|(_, v)| !v.is_empty())
            .collect()
    }
}
