//! Caller issuers: `[[issuers]]` sections as `jwtkit_verify` configurations, and the start-up
//! check that no secret the proxy mints with is also a caller issuer's key.

use std::path::Path;
use std::time::Duration;

use jwtkit_keys::{Algorithm, SigningKey, VerifyingKey};
use jwtkit_secret::{Secret, SecretEncoding};
use jwtkit_verify::{CaMode, IssuerConfig, JwksCache, JwksConfig, KeySource, Policy, TrustRoots};

use super::{Config, ConfigError, IssuerSection, SecretRef, load_secret, secret_origin};

/// The `jwtkit_verify` configuration of caller issuer `issuers[index]`. Key files and secrets
/// are read now, so a mistake stops the start; JWKS are fetched later.
pub fn issuer_config(index: usize, section: &IssuerSection) -> Result<IssuerConfig, ConfigError> {
    let key = format!("issuers[{index}]");
    let algorithms = section.algorithms.clone();
    let read_file = |field: &str, path: &Path| {
        std::fs::read(path).map_err(|e| {
            ConfigError::new(
                format!("{key}.{field}"),
                format!("cannot read {}: {}", path.display(), e.kind()),
                "check the path",
            )
        })
    };
    let jwks = |config: JwksConfig| -> Result<KeySource, ConfigError> {
        let mut config = config;
        if let Some(seconds) = section.max_stale_seconds {
            config.max_stale = Duration::from_secs(seconds);
        }
        if let Some(path) = &section.ca_file {
            let trust = trust_roots(&format!("{key}.ca_file"), path, section.ca_mode)?;
            tracing::info!(
                issuer = %section.name,
                ca_file = %path.display(),
                ca_mode = %section.ca_mode.unwrap_or_default(),
                certificates = trust.certificates().map_or(0, |c| c.certificates().len()),
                "issuer CA file loaded"
            );
            config.trust = trust;
        }
        JwksCache::new(config)
            .map(KeySource::Jwks)
            .map_err(|e| ConfigError::new(key.clone(), e.to_string(), "check the URL"))
    };
    let keys = if let Some(url) = &section.jwks_url {
        jwks(JwksConfig::jwks_url(url.clone()))?
    } else if let Some(url) = &section.discovery_url {
        jwks(JwksConfig::discovery(
            url.clone(),
            section.iss.first().cloned(),
        ))?
    } else if let Some(path) = &section.jwks_file {
        let parsed = jwtkit_keys::parse_key_set(&read_file("jwks_file", path)?).map_err(|e| {
            ConfigError::new(
                format!("{key}.jwks_file"),
                e.to_string(),
                "give a {\"keys\": [...]} document",
            )
        })?;
        KeySource::Static(parsed.keys)
    } else if let Some(path) = &section.public_key_file {
        let text = String::from_utf8(read_file("public_key_file", path)?).unwrap_or_default();
        KeySource::Static(vec![VerifyingKey::from_pem_or_jwk(&text).map_err(|e| {
            ConfigError::new(
                format!("{key}.public_key_file"),
                e.to_string(),
                "give a PEM or JWK public key",
            )
        })?])
    } else if let Some(secret_ref) = &section.secret {
        let (secret, _) = load_secret(&format!("{key}.secret"), secret_ref, SecretEncoding::Raw)?;
        tracing::info!(issuer = %section.name, fingerprint = %secret.fingerprint(), "HMAC issuer secret loaded");
        let key_source = VerifyingKey::hmac(&secret).map_err(|e| {
            ConfigError::new(
                format!("{key}.secret"),
                e.to_string(),
                format!("use a longer secret in {}", secret_origin(secret_ref)),
            )
        })?;
        KeySource::Static(vec![key_source])
    } else {
        return Err(ConfigError::new(
            key,
            "has no key source",
            "set one of jwks_url, discovery_url, jwks_file, public_key_file, secret",
        ));
    };
    // A listed algorithm no key can serve would reject every token: refuse it at start.
    if let KeySource::Static(keys) = &keys
        && let Some(alg) = algorithms
            .iter()
            .find(|alg| !keys.iter().any(|k| k.allows(**alg)))
    {
        return Err(ConfigError::new(
            format!("{key}.algorithms"),
            format!(
                "no configured key can verify {alg} (HS384/HS512 need secrets of 48/64 bytes; RS*/ES* need public keys)"
            ),
            "list only the algorithms the issuer's keys serve",
        ));
    }
    Ok(IssuerConfig {
        name: section.name.clone(),
        issuers: section.iss.clone(),
        keys,
        policy: Policy {
            audiences: section.audiences.clone(),
            accept_any_audience: section.accept_any_audience,
            authorized_parties: section.authorized_parties.clone(),
            algorithms,
            leeway_seconds: section
                .leeway_seconds
                .unwrap_or(jwtkit_verify::DEFAULT_LEEWAY_SECONDS),
            required_claims: section.required_claims.clone(),
            typ: section.typ.clone(),
            allow_missing_iss: section.allow_missing_iss,
            ..Policy::default()
        },
    })
}

/// The CA roots of a `ca_file` written under `key`, read now: a missing or broken file stops the
/// start (and `--check-config`), naming the key and the path.
pub fn trust_roots(
    key: &str,
    path: &Path,
    mode: Option<CaMode>,
) -> Result<TrustRoots, ConfigError> {
    TrustRoots::from_pem_file(path, mode.unwrap_or_default()).map_err(|e| {
        ConfigError::new(
            key,
            e.to_string(),
            "give a PEM file of CA certificates (-----BEGIN CERTIFICATE-----)",
        )
    })
}

/// Static keys of a caller issuer, with the configuration key and origin that name them.
pub struct CallerKeys {
    key: String,
    name: String,
    origin: String,
    keys: Vec<VerifyingKey>,
}

/// A secret the proxy mints tokens with, named like [`CallerKeys`].
pub struct MintingKey {
    /// The configuration key of the secret, e.g. `centrifugo.secret`.
    pub key: String,
    /// Where it comes from ([`secret_origin`]), for messages.
    pub origin: String,
    /// The key bytes.
    pub secret: Secret,
}

/// Where a secret or key file comes from, for messages (never the secret itself).
fn origin_of(reference: Option<&SecretRef>, file: Option<&Path>) -> String {
    match (reference, file) {
        (Some(reference), _) => secret_origin(reference),
        (None, Some(path)) => format!("file {}", path.display()),
        (None, None) => "keys built in".to_owned(),
    }
}

/// The static keys of each caller issuer: configured ones by index, then `extra` ones by name.
pub fn caller_keys(config: &Config, issuers: &[IssuerConfig]) -> Vec<CallerKeys> {
    issuers
        .iter()
        .enumerate()
        .filter_map(|(index, issuer)| {
            let KeySource::Static(keys) = &issuer.keys else {
                return None;
            };
            let (key, origin) = match config.issuers.get(index) {
                Some(section) => {
                    let (field, file) = if section.secret.is_some() {
                        ("secret", None)
                    } else if let Some(path) = &section.jwks_file {
                        ("jwks_file", Some(path.as_path()))
                    } else {
                        ("public_key_file", section.public_key_file.as_deref())
                    };
                    (
                        format!("issuers[{index}].{field}"),
                        origin_of(section.secret.as_ref(), file),
                    )
                }
                None => (format!("issuer {:?}", issuer.name), origin_of(None, None)),
            };
            Some(CallerKeys {
                key,
                name: issuer.name.clone(),
                origin,
                keys: keys.clone(),
            })
        })
        .collect()
}

/// Message signed with each minting secret to find out whether a caller issuer's key verifies it.
const PROBE: &[u8] = b"jwtkit-proxy: is this minting key also a caller issuer's key?";

/// Refuses a minting secret that is, as an HMAC key, the key of a caller issuer: every token
/// minted with it (which `allow_missing_iss` or a configured minting `issuer` could route to
/// that issuer) would pass as a caller's token. Keys are compared the way HMAC uses them: a probe
/// signed with the minting secret under each HMAC algorithm the issuer's key serves must not
/// verify under it. That catches the same bytes in any encoding, and byte strings HMAC treats
/// as one key (a key and its zero-padded form, a long key and its hash).
pub fn refuse_shared_hmac_keys(
    minting: &[MintingKey],
    callers: &[CallerKeys],
) -> Result<(), ConfigError> {
    for mint in minting {
        for caller in callers {
            let shared = caller.keys.iter().any(|verifying| {
                [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512]
                    .into_iter()
                    .filter(|alg| verifying.allows(*alg))
                    .filter_map(|alg| {
                        let signature =
                            SigningKey::hmac(alg, &mint.secret).ok()?.sign(PROBE).ok()?;
                        Some(verifying.verify(alg, PROBE, &signature).is_ok())
                    })
                    .any(|verified| verified)
            });
            if shared {
                return Err(ConfigError::new(
                    &mint.key,
                    format!(
                        "is the same HMAC key ({}, {}) as `{}` of issuer {:?} ({}): one key would both sign the proxy's tokens and verify that issuer's callers' tokens",
                        mint.secret.fingerprint(),
                        mint.origin,
                        caller.key,
                        caller.name,
                        caller.origin
                    ),
                    format!(
                        "give `{}` and `{}` different secrets (jwtkit secret generate)",
                        mint.key, caller.key
                    ),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minting(secret: Secret) -> Vec<MintingKey> {
        vec![MintingKey {
            key: "centrifugo.secret".into(),
            origin: "environment variable C".into(),
            secret,
        }]
    }

    #[test]
    fn a_minting_secret_that_verifies_as_a_caller_key_is_refused() {
        let bytes = vec![7u8; 32];
        let callers = vec![CallerKeys {
            key: "issuers[0].secret".into(),
            name: "api".into(),
            origin: "environment variable S".into(),
            keys: vec![VerifyingKey::hmac(&Secret::from_bytes(bytes.clone()).unwrap()).unwrap()],
        }];
        let err = refuse_shared_hmac_keys(
            &minting(Secret::from_bytes(bytes.clone()).unwrap()),
            &callers,
        )
        .unwrap_err();
        assert_eq!(err.key, "centrifugo.secret");
        assert!(err.fix.contains("issuers[0].secret"), "{err}");
        // HMAC pads a short key with zeros to its block size: the padded form is the same key.
        let padded = [bytes, vec![0; 32]].concat();
        assert!(
            refuse_shared_hmac_keys(&minting(Secret::from_bytes(padded).unwrap()), &callers)
                .is_err()
        );
        refuse_shared_hmac_keys(&minting(Secret::from_bytes(vec![8; 32]).unwrap()), &callers)
            .unwrap();
    }

    #[test]
    fn public_key_files_may_be_pem_or_jwk() {
        let pair = jwtkit_keys::keygen::generate(Algorithm::ES256, 0).unwrap();
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in [
            ("key.pem", pair.public_pem),
            ("key.jwk", serde_json::to_string(&pair.public_jwk).unwrap()),
        ] {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            let section = IssuerSection {
                name: "k".into(),
                iss: vec!["urn:k".into()],
                public_key_file: Some(path),
                ..IssuerSection::default()
            };
            let config = issuer_config(0, &section).unwrap();
            assert!(
                matches!(&config.keys, KeySource::Static(keys) if keys.len() == 1),
                "{name}"
            );
        }
    }
}
