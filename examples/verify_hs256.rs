//! Verify an HS256 token into your own claims type.
//!
//! ```text
//! export JWT_SECRET_KEY=$(jwtkit secret generate)
//! cargo run -p jwtkit-examples --example verify_hs256 -- "$(jwtkit mint --sub my-service --expires-in 1h)"
//! ```
//!
//! Without a token argument it mints one with a random secret first, so it runs anywhere. It
//! prints `valid: ...` and exits 0, or prints `invalid: <code>: <reason>` and exits 1.

use jwtkit::mint::{GenericProfile, Minter};
use jwtkit::{Algorithm, Secret, SigningKey, Validator, now};

/// The claims this program reads; anything else in the token is ignored.
#[derive(serde::Deserialize)]
struct Caller {
    sub: String,
    exp: i64,
}

// A `?` that fails in `main` prints the error's Debug form; refusals are printed with Display.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (secret, token) = match std::env::args().nth(1) {
        Some(token) => (Secret::from_env("JWT_SECRET_KEY")?, token),
        None => {
            let secret = Secret::generate(32)?;
            let minter = Minter::new(SigningKey::hmac(Algorithm::HS256, &secret)?);
            let claims = GenericProfile::subject("my-service").expires_in("1h")?;
            let token = minter.mint(&claims.claims(now())?)?;
            (secret, token)
        }
    };
    // The fingerprint tells two secrets apart without showing either.
    eprintln!("secret {}", secret.fingerprint());

    let validator = Validator::hmac(&secret)?;
    match validator.validate_as::<Caller>(&token) {
        Ok(valid) => {
            let caller = valid.claims;
            println!(
                "valid: sub={} expires in {} s",
                caller.sub,
                caller.exp - now()
            );
            Ok(())
        }
        Err(err) => {
            println!("invalid: {}: {err}", err.code());
            std::process::exit(1);
        }
    }
}
