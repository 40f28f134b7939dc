//! cargo-fuzz target `jwk`: see harness/jwk.rs for the input layout and the checks.
#![no_main]

#[path = "../harness/jwk.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::run(data));
