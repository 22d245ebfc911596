//! libFuzzer entry point of the `pipeline` target; the target itself (and its invariants) is
//! `rvs_fuzz_targets::pipeline`, which CI replays over the corpus on stable Rust.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| rvs_fuzz_targets::pipeline(data));
