//! libFuzzer entry point of the `udp_tunnel` target; the target itself (and its invariants)
//! is `rvs_fuzz_targets::udp_tunnel`, which CI replays over the corpus on stable Rust.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| rvs_fuzz_targets::udp_tunnel(data));
