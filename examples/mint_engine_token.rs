//! Mint the Camunda 7 engine token from a service: decode the engine secret the way
//! the engine does, refuse one the engine would silently replace, mint, print the fingerprint.
//!
//! ```text
//! ENGINE_JWT_SECRET=$(jwtkit secret generate --encoding base64) \
//! cargo run -p jwtkit-examples --example mint_engine_token -- demo
//! ```

use jwtkit_keys::{Algorithm, SigningKey};
use jwtkit_mint::{CamundaProfile, Minter, camunda_secret, now};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let user = std::env::args().nth(1).unwrap_or_else(|| "demo".into());
    let text = std::env::var("ENGINE_JWT_SECRET")
        .map_err(|_| "set ENGINE_JWT_SECRET (base64, >= 32 bytes)")?;
    let secret = camunda_secret(&text)?;
    eprintln!(
        "engine secret {} (compare with the engine's)",
        secret.fingerprint()
    );
    let minter = Minter::new(SigningKey::hmac(Algorithm::HS256, &secret)?);
    let claims = CamundaProfile::default().claims(&user, None, now())?;
    println!("{}", minter.mint(&claims)?);
    Ok(())
}
