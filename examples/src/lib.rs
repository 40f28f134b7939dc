//! Examples live in this folder as `cargo run -p jwtkit-examples --example NAME`, one idea per
//! file, each using the `jwtkit` crate only: `verify_hs256`, `verify_jwks`, `two_issuers`,
//! `axum_service`, `mint_tokens`. `tests/run_examples.rs` runs every one of them.
