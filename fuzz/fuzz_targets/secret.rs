//! cargo-fuzz target `secret`: see harness/secret.rs for the input layout and the checks.
#![no_main]

#[path = "../harness/secret.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::run(data));
