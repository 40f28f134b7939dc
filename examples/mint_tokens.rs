//! Mint the three kinds of token jwtkit has profiles for: a generic API bearer token (what
//! generate_jwt.py made), the Camunda 7 engine token, and Centrifugo connection and subscription
//! tokens.
//!
//! ```text
//! JWT_SECRET_KEY=$(jwtkit secret generate) \
//! ENGINE_JWT_SECRET=$(jwtkit secret generate --encoding base64) \
//! CENTRIFUGO_HMAC_SECRET=$(jwtkit secret generate) \
//! cargo run -p jwtkit-examples --example mint_tokens -- demo
//! ```
//!
//! The argument is the subject (default `demo`). A secret variable that is not set is replaced
//! by a random secret, so the program runs anywhere. Tokens go to stdout, one `kind: token` per
//! line; the secrets' fingerprints (never the secrets) go to stderr.

use jwtkit::mint::{
    CamundaProfile, CentrifugoConnectionClaims, CentrifugoSubscriptionClaims, GenericProfile,
    Minter, camunda_secret,
};
use jwtkit::{Algorithm, Secret, SecretEncoding, SigningKey, now};

/// The text of variable `name`, or a random secret written in `encoding` when it is not set.
fn env_or_random(
    name: &str,
    encoding: SecretEncoding,
) -> Result<String, Box<dyn std::error::Error>> {
    match std::env::var(name) {
        Ok(text) => Ok(text),
        Err(_) => {
            eprintln!("{name} is not set: using a random secret");
            Ok(Secret::generate(32)?.encode(encoding).to_string())
        }
    }
}

/// An HS256 minter, after showing which secret it uses.
fn minter(what: &str, secret: &Secret) -> Result<Minter, jwtkit::KeyError> {
    eprintln!("{what} secret {}", secret.fingerprint());
    Ok(Minter::new(SigningKey::hmac(Algorithm::HS256, secret)?))
}

// A `?` that fails in `main` prints the error's Debug form.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let subject = std::env::args().nth(1).unwrap_or_else(|| "demo".into());

    // Generic: `sub`, `iat`, `exp` (and `iss`, `aud`, custom claims when set). The secret's
    // text is the key, as PyJWT and generate_jwt.py use it (Secret::from_env does the same).
    let api = Secret::from_bytes(env_or_random("JWT_SECRET_KEY", SecretEncoding::Base64Url)?)?;
    let claims = GenericProfile::subject(&subject)
        .expires_in("1h")?
        .claims(now())?;
    println!("generic: {}", minter("api", &api)?.mint(&claims)?);

    // Camunda 7 engine: its JWT plugin base64-decodes the secret; camunda_secret does the same
    // and refuses a secret the engine would silently replace (under 32 bytes).
    let engine = camunda_secret(&env_or_random("ENGINE_JWT_SECRET", SecretEncoding::Base64)?)?;
    let claims = CamundaProfile::default().claims(&subject, None, now())?;
    println!("camunda: {}", minter("engine", &engine)?.mint(&claims)?);

    // Centrifugo: a connection token, and a subscription token for one channel.
    let centrifugo = Secret::from_bytes(env_or_random(
        "CENTRIFUGO_HMAC_SECRET",
        SecretEncoding::Base64Url,
    )?)?;
    let centrifugo = minter("centrifugo", &centrifugo)?;
    let channel = format!("agents.test-tenant.{subject}");
    let connection = CentrifugoConnectionClaims::new(&subject, "1h".parse()?, now());
    let subscription = CentrifugoSubscriptionClaims::new(&subject, channel, "1h".parse()?, now());
    println!("centrifugo connection: {}", centrifugo.mint(&connection)?);
    println!(
        "centrifugo subscription: {}",
        centrifugo.mint(&subscription)?
    );
    Ok(())
}
