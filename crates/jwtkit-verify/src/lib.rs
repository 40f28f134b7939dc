//! JWT validation with keys bound to algorithms and stable error codes.
//!
//! A [`Validator`] holds pre-parsed [`VerifyingKey`]s and a [`Policy`]. Validation runs in this
//! order, stopping at the first failure:
//!
//! 1. size cap, then strict compact-JWS parsing ([`jws::parse`]): three unpadded base64url
//!    segments, a JSON object header without duplicate names, `alg` a known name other than
//!    `none`, no `crit`; `jku`/`x5u`/`jwk` headers are never read;
//! 2. header checks: `alg` on the policy's allow-list, `typ` when required;
//! 3. key selection: the key with the token's `kid`; otherwise every key that allows the `alg`
//!    among those configured without a `kid` (all keys when the token has no `kid`); a key only verifies algorithms of its own kind (an RSA public key is never an HMAC
//!    secret) and only the JWK's `alg` when it names one;
//! 4. signature, then claims: `exp` (required by default), `nbf`, `iat`, `iss`, `aud` (any of),
//!    `azp`, required claims, all with the policy's leeway.
//!
//! ```
//! use jwtkit_keys::{Algorithm, SigningKey};
//! use jwtkit_mint::{Expiry, GenericProfile, Minter};
//! use jwtkit_secret::Secret;
//! use jwtkit_verify::{Policy, Validator};
//!
//! let secret = Secret::generate(32)?;
//! let minter = Minter::new(SigningKey::hmac(Algorithm::HS256, &secret)?);
//! let profile = GenericProfile { subject: Some("svc".into()), expiry: Expiry::After(60), ..Default::default() };
//! let token = minter.mint(&profile.claims(jwtkit_mint::now())?)?;
//!
//! let validator = Validator::new(vec![minter.key().verifying_key()?], Policy::default());
//! let validated = validator.validate(&token)?;
//! assert_eq!(validated.claims["sub"], "svc");
//! assert_eq!(validator.validate("not.a.token").unwrap_err().code(), "malformed");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A [`Registry`] holds several issuers, each an [`IssuerConfig`] (`IssuerConfig::hmac`,
//! `public_key_file`, `jwks_url`, `discovery`, then builder methods such as `.iss(..)` and
//! `.audience(..)`, and `.ca_file(..)` for an IdP behind a private CA), and routes each token to
//! the one its `iss` names.
//!
//! [`Requirements`] say what the caller of a validated token may do: claim values at JSON
//! Pointer paths (Keycloak roles, Auth0 permissions), OAuth scopes and, with the `cel` feature,
//! CEL expressions over the claims and the request (`Requirements::allow_if`), checked with
//! [`Requirements::check`] or `Requirements::check_request`; a token that falls short is
//! [`Denied`] (403 `insufficient_scope`).
//!
//! Features: `jwks` (default) for issuers whose keys are fetched (JWKS URL, OIDC discovery;
//! brings in reqwest and tokio), `http` for finding a token in a request (`extract`) and the
//! HTTP answer to a refusal (`Refusal`, and its gRPC form in `grpc`), `axum` for a tower layer and extractor (`axum_auth`),
//! `cel` for `allow_if` rules (the `cel` crate; `require_cel`).

#[cfg(feature = "axum")]
pub mod axum_auth;
mod captured;
mod claims;
mod error;
#[cfg(feature = "http")]
pub mod extract;
#[cfg(feature = "http")]
pub mod grpc;
mod issuer;
pub mod jws;
mod one_pass;
mod policy;
mod policy_builder;
#[cfg(feature = "http")]
mod refusal;
mod registered;
mod registry;
pub mod require;
#[cfg(feature = "cel")]
pub mod require_cel;
mod token_cache;

use std::mem::MaybeUninit;
use std::sync::Arc;

use jwtkit_keys::{KeyError, SignatureError, VerifyingKey, b64};
use jwtkit_secret::Secret;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

pub use claims::Claims;
pub use error::VerifyError;
pub use issuer::{IssuerConfig, IssuerConfigError, KeySource};
pub use jws::Header;
#[cfg(feature = "jwks")]
pub use jwtkit_jwks::{
    CaCertificates, CaMode, JwksCache, JwksConfig, JwksError, JwksStats, Source as JwksSource,
    TrustError, TrustRoots,
};
/// Current Unix time in seconds: the one clock of jwtkit, shared with minting.
pub use jwtkit_keys::now;
pub use policy::{DEFAULT_LEEWAY_SECONDS, DEFAULT_MAX_TOKEN_BYTES, Policy};
#[cfg(feature = "http")]
pub use refusal::{RETRY_AFTER_SECONDS, Refusal};
pub use registry::{Registry, RegistryError};
#[cfg(feature = "http")]
pub use require::RequestInfo;
pub use require::{Denied, RequirementError, Requirements};

/// A claim set as decoded JSON.
pub type ClaimMap = Map<String, Value>;

/// A token that passed validation.
#[derive(Clone, Debug)]
pub struct Validated<T = Arc<Claims>> {
    /// The decoded protected header.
    pub header: Header,
    /// The claims: [`Claims`] (a JSON map on demand) by default, or the caller's type from
    /// `validate_as`.
    pub claims: T,
    /// The registry entry that accepted the token (`None` for a single-source [`Validator`]).
    pub issuer: Option<Arc<str>>,
}

impl Validated {
    /// The claims as the caller's type; `invalid_claim` when they do not fit it, naming the
    /// path of the value that does not (`claim "realm_access.roles[0]" is invalid: invalid
    /// type: integer `7`, expected a string`).
    pub fn deserialize<T: DeserializeOwned>(self) -> Result<Validated<T>, VerifyError> {
        let claims = claims::typed(self.claims.payload())?;
        Ok(Validated {
            header: self.header,
            claims,
            issuer: self.issuer,
        })
    }

    /// True when the token's `aud` (a string or an array of strings) names one of `accepted`,
    /// by the any-of rule [`Policy::audiences`] applies at validation: for a check made on top
    /// of the issuer's policy, such as a route that serves only some audiences. A token without
    /// `aud`, or with one that is neither a string nor an array of strings, names none.
    pub fn has_audience(&self, accepted: &[String]) -> bool {
        policy::names_audience(self.claims.get("aud"), accepted)
    }
}

/// A JWS whose signature verified; nothing about its payload was checked.
#[derive(Clone, Debug)]
pub struct VerifiedSignature {
    /// The decoded protected header.
    pub header: Header,
    /// The payload bytes (for a JWT, the claims JSON).
    pub payload: Vec<u8>,
}

/// Verifies the signature of a parsed token with the keys that may serve it.
pub fn verify_with_keys<P>(
    keys: &[VerifyingKey],
    parsed: &jws::Parsed<'_, P>,
) -> Result<(), VerifyError> {
    let alg = parsed.header.alg;
    let message = parsed.signing_input.as_bytes();
    let kid = parsed.header.kid.as_deref();
    if let Some(key) = kid.and_then(|kid| keys.iter().find(|key| key.kid() == Some(kid))) {
        return key
            .verify(alg, message, &parsed.signature)
            .map_err(|err| match err {
                SignatureError::AlgorithmNotAllowed(_) => VerifyError::alg(alg),
                SignatureError::Invalid => VerifyError::BadSignature,
            });
    }
    // No key has the token's kid: only keys configured without a kid (a single PEM key or
    // secret) may still answer; a key set whose keys all have kids does not.
    let mut candidates = keys
        .iter()
        .filter(|key| kid.is_none() || key.kid().is_none())
        .peekable();
    if candidates.peek().is_none() {
        return Err(VerifyError::UnknownKid(error::clip(
            kid.unwrap_or_default(),
        )));
    }
    let mut candidates = candidates.filter(|key| key.allows(alg)).peekable();
    if candidates.peek().is_none() {
        return Err(VerifyError::alg(alg));
    }
    if candidates.any(|key| key.verify(alg, message, &parsed.signature).is_ok()) {
        Ok(())
    } else {
        Err(VerifyError::BadSignature)
    }
}

/// Keys plus a policy: validates tokens from one key source.
#[derive(Clone, Debug)]
pub struct Validator {
    keys: Vec<VerifyingKey>,
    policy: Policy,
}

impl Validator {
    /// A validator trusting `keys` under `policy`.
    pub fn new(keys: Vec<VerifyingKey>, policy: Policy) -> Self {
        Self { keys, policy }
    }

    /// A validator for tokens signed with an HMAC `secret` under the default [`Policy`]: HS256,
    /// and HS384/HS512 when the secret is long enough for them (RFC 7518 §3.2: 32, 48, 64
    /// bytes). Fails when the secret is shorter than 32 bytes.
    ///
    /// ```
    /// use jwtkit_secret::Secret;
    /// use jwtkit_verify::{Policy, Validator};
    ///
    /// let secret = Secret::generate(32)?; // in a service: Secret::from_env("JWT_SECRET")?
    /// let validator = Validator::hmac(&secret)?.with_policy(Policy::default().issuer("https://api.example"));
    /// assert_eq!(validator.validate("not.a.token").unwrap_err().code(), "malformed");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn hmac(secret: &Secret) -> Result<Self, KeyError> {
        Ok(Self::new(
            vec![VerifyingKey::hmac(secret)?],
            Policy::default(),
        ))
    }

    /// The same keys under `policy`.
    pub fn with_policy(self, policy: Policy) -> Self {
        Self { policy, ..self }
    }

    /// The policy in force.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The trusted keys.
    pub fn keys(&self) -> &[VerifyingKey] {
        &self.keys
    }

    /// Checks only the signature (and the structural rules of step 1 and the `alg` allow-list);
    /// for JWS whose payload is not a JWT claim set.
    pub fn verify_signature(&self, token: &str) -> Result<VerifiedSignature, VerifyError> {
        let parsed = jws::parse(token, self.policy.max_token_bytes)?;
        if !self.policy.algorithms.is_empty()
            && !self.policy.algorithms.contains(&parsed.header.alg)
        {
            return Err(VerifyError::alg(parsed.header.alg));
        }
        verify_with_keys(&self.keys, &parsed)?;
        Ok(VerifiedSignature {
            header: parsed.header,
            payload: parsed.payload,
        })
    }

    /// Reads the registered claims of a verified payload in one pass and applies the policy.
    fn check_payload(&self, payload: &[u8], now: i64) -> Result<(), VerifyError> {
        let (registered, names) = registered::Registered::from_json(payload).map_err(|_| {
            VerifyError::Malformed("claims are not a JSON object with unique names")
        })?;
        self.policy.check_scanned(&registered, &names, now)
    }

    /// Validates at the current time; claims as a JSON map.
    pub fn validate(&self, token: &str) -> Result<Validated, VerifyError> {
        self.validate_at(token, now())
    }

    /// Validates at `now` (Unix seconds).
    pub fn validate_at(&self, token: &str, now: i64) -> Result<Validated, VerifyError> {
        let parsed = jws::parse(token, self.policy.max_token_bytes)?;
        self.policy
            .check_header(parsed.header.alg, parsed.header.typ.as_deref())?;
        verify_with_keys(&self.keys, &parsed)?;
        self.check_payload(&parsed.payload, now)?;
        Ok(Validated {
            header: parsed.header,
            claims: Arc::new(Claims::from_validated_payload(parsed.payload)),
            issuer: None,
        })
    }

    /// Validates at the current time and deserialises the claims into `T`.
    pub fn validate_as<T: DeserializeOwned>(
        &self,
        token: &str,
    ) -> Result<Validated<T>, VerifyError> {
        self.validate_as_at(token, now())
    }

    /// Validates at `now` (Unix seconds) and deserialises the claims into `T`.
    ///
    /// Same rules and verdicts as [`Validator::validate_at`] followed by
    /// [`Validated::deserialize`], without building the JSON map: `T` is deserialised in the
    /// same pass over the payload that reads the registered claims (the `one_pass` module says
    /// when that pass leaves the decision to a scan of the claims followed by a parse into `T`).
    pub fn validate_as_at<T: DeserializeOwned>(
        &self,
        token: &str,
        now: i64,
    ) -> Result<Validated<T>, VerifyError> {
        // The payload is only read into `T`, never kept: decoded on the stack unless unusually
        // long, so a typed validation allocates only what `T` holds (and the header's strings).
        let mut buffer = [MaybeUninit::uninit(); 2048];
        let parsed = jws::parse_with(token, self.policy.max_token_bytes, |payload| {
            b64::decode_buffered(payload, &mut buffer)
        })?;
        self.policy
            .check_header(parsed.header.alg, parsed.header.typ.as_deref())?;
        verify_with_keys(&self.keys, &parsed)?;
        let mut members = one_pass::Members::default();
        if let Some(claims) = one_pass::one_pass::<T>(&parsed.payload, &mut members) {
            self.policy
                .check_scanned(&members.registered(), &members.names, now)?;
            return Ok(Validated {
                header: parsed.header,
                claims,
                issuer: None,
            });
        }
        self.check_payload(&parsed.payload, now)?;
        let claims = claims::typed(&parsed.payload)?;
        Ok(Validated {
            header: parsed.header,
            claims,
            issuer: None,
        })
    }
}
