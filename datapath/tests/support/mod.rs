//! Helpers shared by the datapath's integration tests: the golden captures in testdata/.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// A file in datapath/testdata.
pub fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(name)
}

/// Frames of a classic little-endian, microsecond pcap file.
pub fn pcap_frames(path: &Path) -> Vec<Vec<u8>> {
    let d = std::fs::read(path).unwrap();
    assert_eq!(
        &d[0..4],
        &[0xd4, 0xc3, 0xb2, 0xa1],
        "little-endian microsecond pcap"
    );
    let mut off = 24;
    let mut out = vec![];
    while off + 16 <= d.len() {
        let caplen = u32::from_le_bytes(d[off + 8..off + 12].try_into().unwrap()) as usize;
        off += 16;
        out.push(d[off..off + caplen].to_vec());
        off += caplen;
    }
    out
}
