//! The credentials the proxy presents upstream in place of the caller's token: none, the
//! caller's own (passthrough), HTTP Basic, or a token minted per caller subject and reused
//! until shortly before it expires.

use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderValue;
use jwtkit_keys::SigningKey;
use jwtkit_mint::{
    Audience, CamundaProfile, Expiry, GenericProfile, MintedTokenCache, Minter, camunda_secret,
};
use jwtkit_secret::{Fingerprint, Secret, SecretEncoding};

use crate::auth::Caller;
use crate::config::{
    ConfigError, MintProfile, MintSection, SecretRef, UpstreamAuth, load_secret, secret_origin,
};
use crate::error::{ApiError, ErrorKind};

/// Minted tokens are replaced this long before they expire.
const MINT_MARGIN: Duration = Duration::from_secs(30);

/// An upstream's credentials, built once at start.
pub enum Credentials {
    /// No Authorization header.
    None,
    /// The caller's own bearer token.
    Passthrough,
    /// HTTP Basic: the header, and the fingerprint of `user:password` for messages.
    Basic {
        /// `Basic <base64>`, marked sensitive.
        header: HeaderValue,
        /// Identifies the credential in logs and errors without showing it.
        fingerprint: Fingerprint,
    },
    /// Tokens minted per caller subject.
    Mint(Box<MintCredentials>),
}

impl Credentials {
    /// The credentials of `auth` in the upstream at `key` (`upstreams[N]`); secrets are read
    /// now, so a bad one stops the start.
    pub fn from_config(key: &str, auth: &UpstreamAuth) -> Result<Self, ConfigError> {
        Ok(match auth {
            UpstreamAuth::None => Self::None,
            UpstreamAuth::Passthrough => Self::Passthrough,
            UpstreamAuth::Basic { user, password } => Self::basic(key, user, password)?,
            UpstreamAuth::Mint(mint) => Self::Mint(Box::new(MintCredentials::from_config(
                &format!("{key}.auth"),
                mint,
            )?)),
        })
    }

    fn basic(key: &str, user: &str, password: &SecretRef) -> Result<Self, ConfigError> {
        let (password, _) = load_secret(
            &format!("{key}.auth.password"),
            password,
            SecretEncoding::Raw,
        )?;
        let mut pair = user.as_bytes().to_vec();
        pair.push(b':');
        pair.extend_from_slice(password.expose_bytes());
        let fingerprint = Fingerprint::of(&pair);
        let encoded = Secret::from_bytes(pair)
            .map(|s| s.encode(SecretEncoding::Base64))
            .map_err(|e| {
                ConfigError::new(
                    format!("{key}.auth"),
                    e.to_string(),
                    "set a user and password",
                )
            })?;
        let mut header =
            HeaderValue::from_str(&format!("Basic {}", encoded.as_str())).map_err(|_| {
                ConfigError::new(
                    format!("{key}.auth"),
                    "cannot form a header",
                    "check the user name",
                )
            })?;
        header.set_sensitive(true);
        Ok(Self::Basic {
            header,
            fingerprint,
        })
    }

    /// The `Authorization` value for `caller` (marked sensitive), `None` for no header.
    pub fn authorization(&self, caller: &Caller) -> Result<Option<HeaderValue>, ApiError> {
        let value = match self {
            Self::None => None,
            Self::Passthrough => HeaderValue::from_str(&format!("Bearer {}", caller.raw)).ok(),
            Self::Basic { header, .. } => Some(header.clone()),
            Self::Mint(mint) => {
                let token = mint.token_for(caller)?;
                HeaderValue::from_str(&format!("Bearer {token}")).ok()
            }
        };
        Ok(value.map(|mut value| {
            value.set_sensitive(true);
            value
        }))
    }

    /// The key of the tokens minted (`auth = mint`), if any.
    pub fn minting_secret(&self) -> Option<&Secret> {
        match self {
            Self::Mint(mint) => Some(&mint.secret),
            _ => None,
        }
    }

    /// A loggable identifier of the credential (never the credential).
    pub fn fingerprint(&self) -> Option<String> {
        match self {
            Self::Basic { fingerprint, .. } => Some(fingerprint.to_string()),
            Self::Mint(mint) => Some(mint.minter.key().fingerprint()),
            Self::None | Self::Passthrough => None,
        }
    }

    /// What kind of credential, for the start-up log and errors.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Passthrough => "passthrough",
            Self::Basic { .. } => "basic",
            Self::Mint(_) => "minted token",
        }
    }
}

/// Tokens minted with a jwtkit-mint profile, cached per subject.
pub struct MintCredentials {
    minter: Minter,
    /// The signing key bytes, for the start-up check that no caller issuer verifies with them.
    secret: Secret,
    /// `iss` of every minted token: the configured one or [`crate::config::MINTED_ISS`].
    issuer: String,
    profile: MintProfile,
    /// `aud` of generic-profile tokens.
    audience: Option<String>,
    lifetime: Duration,
    subject: String,
    email_template: String,
    superuser: bool,
    cache: MintedTokenCache,
}

impl MintCredentials {
    fn from_config(key: &str, section: &MintSection) -> Result<Self, ConfigError> {
        let secret = match (section.profile, section.secret.encoding) {
            // The engine base64-decodes its secret and silently replaces a short one: refuse it.
            (MintProfile::Camunda, None) => {
                let (text_secret, _) = load_secret(
                    &format!("{key}.secret"),
                    &section.secret,
                    SecretEncoding::Raw,
                )?;
                let text = String::from_utf8_lossy(text_secret.expose_bytes()).into_owned();
                camunda_secret(&text).map_err(|e| {
                    ConfigError::new(
                        format!("{key}.secret"),
                        e.to_string(),
                        format!(
                            "set {} to a base64 secret of at least 32 bytes, the same as the engine's",
                            secret_origin(&section.secret)
                        ),
                    )
                })?
            }
            _ => {
                load_secret(
                    &format!("{key}.secret"),
                    &section.secret,
                    SecretEncoding::Raw,
                )?
                .0
            }
        };
        let signing = SigningKey::hmac(section.algorithm, &secret).map_err(|e| {
            ConfigError::new(
                format!("{key}.secret"),
                e.to_string(),
                "use a longer secret",
            )
        })?;
        Ok(Self {
            minter: Minter::new(signing),
            secret,
            issuer: section.minted_iss().to_owned(),
            profile: section.profile,
            audience: section.audience.clone(),
            lifetime: section.ttl,
            subject: section.subject.clone(),
            email_template: section.email_template.clone(),
            superuser: section.superuser,
            cache: MintedTokenCache::new(10_000, MINT_MARGIN),
        })
    }

    fn token_for(&self, caller: &Caller) -> Result<Arc<str>, ApiError> {
        // An empty subject (`"sub": ""`) is as unusable as a missing one: the caller's token,
        // not the proxy, is at fault, so 403 rather than a failed mint.
        let subject = render(&self.subject, caller)
            .filter(|subject| !subject.is_empty())
            .ok_or_else(|| {
                ApiError::forbidden("the token lacks a claim the upstream credential needs")
            })?;
        let failed =
            |e: jwtkit_mint::MintError| ApiError::new(ErrorKind::MintFailed, e.to_string());
        self.cache
            .get_or_mint(&subject, || {
                let now = jwtkit_mint::now();
                let expiry = Expiry::After(self.lifetime.as_secs());
                let token = match self.profile {
                    MintProfile::Camunda => {
                        let profile = CamundaProfile {
                            email_template: self.email_template.clone(),
                            is_superuser: self.superuser,
                            expiry,
                            issuer: Some(self.issuer.clone()),
                            ..CamundaProfile::default()
                        };
                        let email = caller
                            .claim_text("email")
                            .filter(|_| self.subject == "{sub}");
                        self.minter
                            .mint(&profile.claims(&subject, email.as_deref(), now)?)?
                    }
                    MintProfile::Generic => {
                        let profile = GenericProfile {
                            subject: Some(subject.clone()),
                            issuer: Some(self.issuer.clone()),
                            audience: Audience::new(self.audience.iter().cloned().collect()),
                            expiry,
                            ..GenericProfile::default()
                        };
                        self.minter.mint(&profile.claims(now)?)?
                    }
                };
                Ok((token, self.lifetime))
            })
            .map_err(failed)
    }
}

/// Fills `{claim}` placeholders from the caller's claims; `None` when one is missing.
pub fn render(template: &str, caller: &Caller) -> Option<String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}')? + start;
        out.push_str(&caller.claim_text(&rest[start + 1..end])?);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}
