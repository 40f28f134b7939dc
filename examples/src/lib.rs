//! Examples live in this folder as `cargo run -p jwtkit-examples --example NAME`.
