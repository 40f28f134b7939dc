//! One service, two issuers in a `Registry`: service accounts with HS256 tokens, and a partner
//! whose tokens are signed with an Ed25519 key (its public key given as a PEM file). Each token
//! is routed by its `iss` and checked only with that issuer's key and policy.
//!
//! ```text
//! cargo run -p jwtkit-examples --example two_issuers
//! ```
//!
//! It runs offline: the keys of both issuers are generated here, and the partner's public key is
//! written to a temporary file.

use jwtkit::mint::{GenericProfile, Minter};
use jwtkit::{Algorithm, IssuerConfig, Registry, Secret, SigningKey, keygen, now};

/// The claims this program reads.
#[derive(serde::Deserialize)]
struct Caller {
    sub: String,
}

/// The claims of a five-minute token from `iss` about `sub`, for `aud` when given.
fn claims(
    sub: &str,
    iss: &str,
    aud: Option<&str>,
) -> Result<serde_json::Map<String, serde_json::Value>, jwtkit::mint::MintError> {
    let profile = GenericProfile::subject(sub).issuer(iss).expires_in("5m")?;
    let profile = match aud {
        Some(aud) => profile.audience(aud),
        None => profile,
    };
    profile.claims(now())
}

// A `?` that fails in `main` prints the error's Debug form; refusals are printed with Display.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Each issuer's signing key; in real life each issuer keeps its own.
    let service_secret = Secret::generate(32)?;
    let partner_keys = keygen::generate(Algorithm::EdDSA, 2048)?;
    let partner_pem =
        std::env::temp_dir().join(format!("jwtkit-example-partner-{}.pem", std::process::id()));
    std::fs::write(&partner_pem, &partner_keys.public_pem)?;

    let registry = Registry::new(vec![
        IssuerConfig::hmac("service-accounts", &service_secret)?.iss("urn:service-accounts"),
        IssuerConfig::public_key_file("partner", &partner_pem)?
            .iss("https://partner.example")
            .audience("orders"),
    ])?;
    std::fs::remove_file(&partner_pem)?; // the key was read once, above

    let service = Minter::new(SigningKey::hmac(Algorithm::HS256, &service_secret)?);
    let partner = Minter::new(SigningKey::from_pem(
        Some(Algorithm::EdDSA),
        &partner_keys.private_pem,
    )?);
    let tokens = [
        (
            "service account",
            service.mint(&claims("batch", "urn:service-accounts", None)?)?,
        ),
        (
            "partner",
            partner.mint(&claims("acme", "https://partner.example", Some("orders"))?)?,
        ),
        // The partner's key cannot speak for the service accounts: their tokens verify only
        // with the service accounts' secret.
        (
            "partner posing as a service account",
            partner.mint(&claims("acme", "urn:service-accounts", None)?)?,
        ),
        (
            "unknown issuer",
            service.mint(&claims("batch", "https://elsewhere.example", None)?)?,
        ),
    ];
    for (what, token) in tokens {
        match registry.validate_as::<Caller>(&token).await {
            Ok(valid) => println!(
                "{what}: valid: issuer {} sub {}",
                valid.issuer.as_deref().unwrap_or("-"),
                valid.claims.sub
            ),
            Err(err) => println!("{what}: invalid: {}: {err}", err.code()),
        }
    }
    Ok(())
}
