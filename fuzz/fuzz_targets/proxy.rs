//! cargo-fuzz target `proxy`: see harness/proxy.rs for the input layout and the checks.
#![no_main]

#[path = "../harness/proxy.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::run(data));
