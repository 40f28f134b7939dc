//! Typed validation of the benchmark's 13-claim HS256 token, N times, by one verifier: to count
//! instructions with callgrind, which on a shared machine are repeatable where criterion's
//! timings are not. The token, claims and checks are those of `verify_hs256` in
//! benches/benches/jwt (`jwtkit_validator_typed` against `jsonwebtoken_typed`).
//!
//! ```sh
//! cargo build --release -p jwtkit-benches --example typed_instructions
//! for who in jwtkit jsonwebtoken; do for n in 0 20000; do
//!   valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!     target/release/examples/typed_instructions $who $n 2>&1 | grep 'Collected'
//! done; done   # (Collected at n=20000 - at n=0) / 20000 = instructions per validation
//! ```

use std::hint::black_box;
use std::process::ExitCode;

use jwtkit_keys::{Algorithm, SigningKey};
use jwtkit_mint::Minter;
use jwtkit_secret::Secret;
use jwtkit_verify::{Policy, Validator};
use serde_json::json;

const ISS: &str = "https://svc.bench.example";
const AUD: &str = "orders-api";
const SECRET: &[u8; 32] = b"bench-secret-0123456789abcdefghi";

#[path = "../benches/jwt/access_claims.rs"]
mod access_claims;
use access_claims::AccessClaims;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(who), Some(Ok(n))) = (args.first(), args.get(1).map(|n| n.parse::<u64>())) else {
        eprintln!("usage: typed_instructions jwtkit|jsonwebtoken N");
        return ExitCode::from(2);
    };
    let now = jwtkit_verify::now();
    let secret = Secret::from_bytes(SECRET.to_vec()).expect("32 bytes");
    let key = SigningKey::hmac(Algorithm::HS256, &secret).expect("HS256 key");
    let validator = Validator::new(
        vec![key.verifying_key().expect("verifying key")],
        Policy {
            issuers: vec![ISS.to_owned()],
            audiences: vec![AUD.to_owned()],
            algorithms: vec![Algorithm::HS256],
            ..Policy::default()
        },
    );
    let token = Minter::new(key)
        .mint(&json!({
            "iss": ISS, "sub": "f3c1b6e2-5d4a-4c1e-9a7b-2b8c9d0e1f23", "aud": AUD,
            "exp": now + 86_400, "iat": now, "azp": "orders-web",
            "scope": "openid profile email orders:read orders:write",
            "email": "alice@example.com", "email_verified": true, "name": "Alice Example",
            "preferred_username": "alice", "roles": ["orders-reader", "orders-writer"],
            "sid": "7d0c9a4e-2b1f-4e8a-9c3d-5f6a7b8c9d0e"
        }))
        .expect("mint");
    let jwt_key = jsonwebtoken::DecodingKey::from_secret(SECRET);
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.set_issuer(&[ISS]);
    validation.set_audience(&[AUD]);
    validation.leeway = 60;
    // Both accept the token before anything is counted.
    validator
        .validate_as::<AccessClaims>(&token)
        .expect("jwtkit");
    jsonwebtoken::decode::<AccessClaims>(&token, &jwt_key, &validation).expect("jsonwebtoken");
    match who.as_str() {
        "jwtkit" => (0..n).for_each(|_| {
            black_box(
                validator
                    .validate_as::<AccessClaims>(black_box(&token))
                    .expect("valid"),
            );
        }),
        "jsonwebtoken" => (0..n).for_each(|_| {
            black_box(
                jsonwebtoken::decode::<AccessClaims>(black_box(&token), &jwt_key, &validation)
                    .expect("valid"),
            );
        }),
        _ => {
            eprintln!("usage: typed_instructions jwtkit|jsonwebtoken N");
            return ExitCode::from(2);
        }
    }
    ExitCode::SUCCESS
}
