//! cargo-fuzz target `token`: see harness/token.rs for the input layout and the checks.
#![no_main]

#[path = "../harness/token.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::run(data));
