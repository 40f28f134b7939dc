//! Mint JWTs with the claim sets real consumers expect.
//!
//! - [`GenericProfile`]: `sub`, `iat`, optional `exp`/`nbf`/`iss`/`aud`/`jti` and custom claims
//!   (the API bearer tokens of generate_jwt.py);
//! - [`CamundaProfile`]: the Camunda 7 engine token, with
//!   [`camunda_secret`] decoding the engine's base64 secret the way the engine does;
//! - [`CentrifugoConnectionClaims`] and [`CentrifugoSubscriptionClaims`]: Centrifugo tokens.
//!
//! A [`Minter`] holds a pre-parsed [`SigningKey`] and its encoded JOSE header, so minting is one
//! JSON serialisation and one signature.
//!
//! ```
//! use jwtkit_keys::{Algorithm, SigningKey};
//! use jwtkit_mint::{CamundaProfile, Minter, camunda_secret};
//!
//! let secret = camunda_secret("Ym9ZpC1VyZUU9svrmtrJGXZlAlMx5dW29qQwXUDYp50=")?;
//! let minter = Minter::new(SigningKey::hmac(Algorithm::HS256, &secret)?);
//! let claims = CamundaProfile::default().claims("demo", None, jwtkit_mint::now())?;
//! let token = minter.mint(&claims)?;
//! assert_eq!(token.split('.').count(), 3);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod cache;
mod expiry;
mod profiles;

use jwtkit_keys::{KeyError, SigningKey, b64};
use jwtkit_secret::{Secret, SecretEncoding, SecretError};
use serde::Serialize;

pub use cache::MintedTokenCache;
pub use expiry::{Expiry, InvalidExpiry};
/// The current time in Unix seconds: the one clock of jwtkit, shared with validation.
pub use jwtkit_keys::now;
pub use profiles::{
    Audience, CamundaClaims, CamundaProfile, CentrifugoConnectionClaims,
    CentrifugoSubscriptionClaims, GenericProfile, REGISTERED_CLAIMS,
};

/// Why a token could not be minted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MintError {
    /// The key could not sign.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// A custom claim would replace one the profile sets.
    #[error(
        "claim {0:?} is set by the profile; set it through the profile (subject, issuer, audience, lifetime) instead"
    )]
    ReservedClaim(String),
    /// A claim the consumer requires has no value.
    #[error("claim {claim:?} is required: {hint}")]
    MissingClaim {
        /// The claim name.
        claim: &'static str,
        /// What to do.
        hint: &'static str,
    },
    /// The Camunda engine secret is unusable.
    #[error("{0}")]
    CamundaSecret(String),
    /// The claims could not be serialised (or a profile's required claim is empty).
    #[error("the claims cannot be minted: {0}")]
    Serialize(String),
    /// A lifetime text such as `1h` could not be read.
    #[error(transparent)]
    Lifetime(#[from] InvalidExpiry),
}

/// Decodes an engine secret the way the Camunda 7 engine's JWT plugin does (standard base64) and
/// refuses what the engine would silently replace: under 32 decoded bytes the engine signs with
/// a random key of its own, so every token would fail with "signature does not match".
pub fn camunda_secret(text: &str) -> Result<Secret, MintError> {
    let decoded = Secret::decode(text, SecretEncoding::Base64).map_err(|err| {
        MintError::CamundaSecret(format!(
            "the Camunda engine decodes its JWT secret as standard base64, and this one is not: {}",
            match err {
                SecretError::Decode { reason, .. } => reason.to_owned(),
                other => other.to_string(),
            }
        ))
    })?;
    let found = decoded.secret.len();
    if found < 32 {
        return Err(MintError::CamundaSecret(format!(
            "the engine secret decodes to {found} bytes; under 32 bytes the Camunda engine silently \
             signs with a random key instead, so its tokens would never verify. Use at least 32 \
             random bytes: jwtkit secret generate --encoding base64"
        )));
    }
    Ok(decoded.secret)
}

/// Serialises a profile's claims and adds custom claims, refusing any custom name that the
/// profile already set, that is registered (`exp`, `iat`, ...), or that is in `forbidden`.
pub fn with_custom_claims<C: Serialize + ?Sized>(
    claims: &C,
    custom: &serde_json::Map<String, serde_json::Value>,
    forbidden: &[&str],
) -> Result<serde_json::Map<String, serde_json::Value>, MintError> {
    let mut map =
        match serde_json::to_value(claims).map_err(|e| MintError::Serialize(e.to_string()))? {
            serde_json::Value::Object(map) => map,
            _ => {
                return Err(MintError::Serialize(
                    "the profile did not produce a JSON object".into(),
                ));
            }
        };
    for (name, value) in custom {
        let taken = map.contains_key(name)
            || REGISTERED_CLAIMS.contains(&name.as_str())
            || forbidden.contains(&name.as_str());
        if taken {
            return Err(MintError::ReservedClaim(name.clone()));
        }
        map.insert(name.clone(), value.clone());
    }
    Ok(map)
}

/// Signs claim sets with one key; the JOSE header is encoded once, at construction.
#[derive(Debug)]
pub struct Minter {
    key: SigningKey,
    encoded_header: String,
}

impl Minter {
    /// A minter whose header is `{"alg":…,"typ":"JWT"}` plus `kid` when the key has one.
    pub fn new(key: SigningKey) -> Self {
        let mut header = serde_json::Map::new();
        header.insert("alg".into(), key.algorithm().name().into());
        header.insert("typ".into(), "JWT".into());
        if let Some(kid) = key.kid() {
            header.insert("kid".into(), kid.into());
        }
        let json = serde_json::to_vec(&header).expect("a map of strings serialises");
        Self {
            encoded_header: b64::encode(&json),
            key,
        }
    }

    /// The signing key.
    pub fn key(&self) -> &SigningKey {
        &self.key
    }

    /// Serialises `claims`, signs, and returns the compact JWS.
    pub fn mint<C: Serialize + ?Sized>(&self, claims: &C) -> Result<String, MintError> {
        let payload =
            serde_json::to_vec(claims).map_err(|e| MintError::Serialize(e.to_string()))?;
        // One buffer for the whole token: header, payload and signature are encoded into it.
        let mut token = String::with_capacity(
            self.encoded_header.len() + 2 + payload.len().div_ceil(3) * 4 + SIGNATURE_B64_MAX,
        );
        token.push_str(&self.encoded_header);
        token.push('.');
        b64::encode_into(&payload, &mut token);
        let signature = self.key.sign(token.as_bytes())?;
        token.push('.');
        b64::encode_into(&signature, &mut token);
        Ok(token)
    }
}

/// Base64url length of the largest signature (RSA-4096: 512 bytes).
const SIGNATURE_B64_MAX: usize = 683;

#[cfg(test)]
mod tests {
    use jwtkit_keys::Algorithm;

    use super::*;

    #[test]
    fn camunda_secret_refuses_short_and_non_base64_secrets_with_the_reason() {
        let short = camunda_secret("dGVzdGluZy1kZWZhdWx0LXNlY3JldC1mb3ItanNvbg==").unwrap_err();
        let message = short.to_string();
        assert!(
            message.contains("31 bytes") && message.contains("random key"),
            "{message}"
        );
        let not_b64 = camunda_secret("your-secret-key-here!")
            .unwrap_err()
            .to_string();
        assert!(not_b64.contains("standard base64"), "{not_b64}");
        assert!(!not_b64.contains("your-secret"), "{not_b64}");
        assert_eq!(
            camunda_secret("Ym9ZpC1VyZUU9svrmtrJGXZlAlMx5dW29qQwXUDYp50=")
                .unwrap()
                .len(),
            32
        );
    }

    #[test]
    fn camunda_token_verifies_with_jsonwebtoken_like_the_engine() {
        let text = "Ym9ZpC1VyZUU9svrmtrJGXZlAlMx5dW29qQwXUDYp50=";
        let minter = Minter::new(
            SigningKey::hmac(Algorithm::HS256, &camunda_secret(text).unwrap()).unwrap(),
        );
        let token = minter
            .mint(
                &CamundaProfile::default()
                    .claims("demo", None, now())
                    .unwrap(),
            )
            .unwrap();
        // The engine's view: base64-decode the configured secret, verify HS256.
        let engine_key = jsonwebtoken::DecodingKey::from_base64_secret(text).unwrap();
        let data = jsonwebtoken::decode::<serde_json::Value>(
            &token,
            &engine_key,
            &jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256),
        )
        .unwrap();
        assert_eq!(data.claims["isActive"], true);
        assert_eq!(data.header.typ.as_deref(), Some("JWT"));
    }

    #[test]
    fn custom_claims_cannot_replace_profile_or_forbidden_claims() {
        let claims = CentrifugoConnectionClaims {
            sub: "agent".into(),
            iat: 1,
            ..Default::default()
        };
        let mut custom = serde_json::Map::new();
        custom.insert("tenant_id".into(), "t".into());
        let merged = with_custom_claims(&claims, &custom, &["channel"]).unwrap();
        assert_eq!(merged["tenant_id"], "t");
        for taken in ["sub", "exp", "channel"] {
            let mut custom = serde_json::Map::new();
            custom.insert(taken.into(), "x".into());
            assert_eq!(
                with_custom_claims(&claims, &custom, &["channel"]).unwrap_err(),
                MintError::ReservedClaim(taken.into())
            );
        }
    }

    #[test]
    fn header_carries_kid_when_the_key_has_one() {
        let secret = Secret::generate(32).unwrap();
        let key = SigningKey::hmac(Algorithm::HS256, &secret)
            .unwrap()
            .with_kid(Some("k1".into()));
        let token = Minter::new(key)
            .mint(&serde_json::json!({"sub": "x"}))
            .unwrap();
        let header = b64::decode(token.split('.').next().unwrap()).unwrap();
        assert_eq!(header, br#"{"alg":"HS256","kid":"k1","typ":"JWT"}"#);
    }
}
