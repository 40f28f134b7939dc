//! The shape a typical service deserialises an access token into: the typed benchmarks'
//! (`verify_hs256` and friends) and `examples/typed_instructions.rs` read the same 13 claims.

use serde::Deserialize;

/// The 13 claims of the benchmarks' access token.
#[derive(Debug, Deserialize)]
#[allow(dead_code)] // read by serde only
pub struct AccessClaims {
    iss: String,
    sub: String,
    aud: String,
    exp: i64,
    iat: i64,
    azp: String,
    scope: String,
    email: String,
    email_verified: bool,
    name: String,
    preferred_username: String,
    roles: Vec<String>,
    sid: String,
}
