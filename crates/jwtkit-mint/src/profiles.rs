//! Claim profiles: the exact claim sets that real consumers expect.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::{Expiry, MintError};

/// The claims every profile sets from the clock; callers cannot also pass them as custom claims.
pub const REGISTERED_CLAIMS: [&str; 7] = ["iss", "sub", "aud", "exp", "nbf", "iat", "jti"];

/// One audience or several; serialised as a string when there is exactly one.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Audience(Vec<String>);

impl Audience {
    /// From a list of audience values.
    pub fn new(values: Vec<String>) -> Self {
        Self(values)
    }

    /// True when no audience was given.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn to_value(&self) -> Option<Value> {
        match self.0.as_slice() {
            [] => None,
            [one] => Some(Value::String(one.clone())),
            many => Some(Value::from(many.to_vec())),
        }
    }
}

/// Any token: `sub`, `iat`, optional `exp`, `nbf`, `iss`, `aud`, `jti`, plus custom claims.
#[derive(Clone, Debug, Default)]
pub struct GenericProfile {
    /// Subject (`sub`); omitted when `None`.
    pub subject: Option<String>,
    /// Issuer (`iss`).
    pub issuer: Option<String>,
    /// Audience (`aud`).
    pub audience: Audience,
    /// Lifetime; [`Expiry::Never`] omits `exp` (as generate_jwt.py did by default).
    pub expiry: Expiry,
    /// Seconds after issue before the token is valid (`nbf`), if set.
    pub not_before_offset: Option<i64>,
    /// Token id (`jti`).
    pub jwt_id: Option<String>,
    /// Further claims; names in [`REGISTERED_CLAIMS`] are refused.
    pub custom: Map<String, Value>,
}

impl GenericProfile {
    /// A profile for tokens about `subject`, without expiry until one is set.
    ///
    /// ```
    /// use jwtkit_mint::GenericProfile;
    ///
    /// let claims = GenericProfile::subject("svc").expires_in("1h")?.claims(1_700_000_000)?;
    /// assert_eq!(claims["sub"], "svc");
    /// assert_eq!(claims["exp"], 1_700_003_600);
    /// # Ok::<(), jwtkit_mint::MintError>(())
    /// ```
    pub fn subject(subject: impl Into<String>) -> Self {
        Self {
            subject: Some(subject.into()),
            ..Self::default()
        }
    }

    /// Sets the lifetime from text such as `3600s`, `30m`, `1h`, `7d` or `never`.
    pub fn expires_in(self, lifetime: &str) -> Result<Self, MintError> {
        Ok(self.expiry(lifetime.parse()?))
    }

    /// Sets the lifetime.
    pub fn expiry(mut self, expiry: Expiry) -> Self {
        self.expiry = expiry;
        self
    }

    /// Sets `iss`.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// Adds an audience to `aud`.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience.0.push(audience.into());
        self
    }

    /// Adds a custom claim; a registered name (`exp`, `sub`, ...) makes [`Self::claims`] fail.
    pub fn claim(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.custom.insert(name.into(), value.into());
        self
    }

    /// The claim set for a token issued at `now` (Unix seconds).
    pub fn claims(&self, now: i64) -> Result<Map<String, Value>, MintError> {
        if let Some(name) = self
            .custom
            .keys()
            .find(|k| REGISTERED_CLAIMS.contains(&k.as_str()))
        {
            return Err(MintError::ReservedClaim(name.clone()));
        }
        let mut claims = Map::new();
        insert_opt(&mut claims, "iss", self.issuer.clone().map(Value::String));
        insert_opt(&mut claims, "sub", self.subject.clone().map(Value::String));
        insert_opt(&mut claims, "aud", self.audience.to_value());
        claims.insert("iat".into(), now.into());
        insert_opt(
            &mut claims,
            "nbf",
            self.not_before_offset.map(|o| Value::from(now + o)),
        );
        insert_opt(
            &mut claims,
            "exp",
            self.expiry.exp_after(now).map(Value::from),
        );
        insert_opt(&mut claims, "jti", self.jwt_id.clone().map(Value::String));
        claims.extend(self.custom.clone());
        Ok(claims)
    }
}

fn insert_opt(claims: &mut Map<String, Value>, name: &str, value: Option<Value>) {
    if let Some(value) = value {
        claims.insert(name.to_owned(), value);
    }
}

/// The Camunda 7 engine token its JWT plugin expects: exactly `sub`, `email`, `isActive`, `isSuperuser`,
/// `isVerified`, `iat`, `exp`, camelCase, all present; plus `iss` when the profile sets one (the
/// engine's parser does not read it).
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct CamundaClaims {
    /// Issuer, when the profile names one; the engine ignores it, so a minting party can mark
    /// its tokens as its own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// Engine user id; never empty (checked wherever the claims are serialised).
    #[serde(serialize_with = "camunda_subject")]
    pub sub: String,
    /// E-mail; the engine requires the claim.
    pub email: String,
    /// Whether the user is active.
    pub is_active: bool,
    /// Grants admin access in the engine.
    pub is_superuser: bool,
    /// Whether the user is verified.
    pub is_verified: bool,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// Expiry (Unix seconds); the engine requires it.
    pub exp: i64,
}

/// Settings of the Camunda engine profile.
#[derive(Clone, Debug)]
pub struct CamundaProfile {
    /// E-mail template; `{sub}` is replaced by the subject. Default `{sub}@camunda.local`.
    pub email_template: String,
    /// `isActive`, default true.
    pub is_active: bool,
    /// `isSuperuser`, default true (as the FastAPI proxy sent for its service user).
    pub is_superuser: bool,
    /// `isVerified`, default true.
    pub is_verified: bool,
    /// Lifetime, default 1 hour. The engine requires `exp`, so `never` is refused.
    pub expiry: Expiry,
    /// `iss` of the token; none by default (the engine's seven claims only).
    pub issuer: Option<String>,
}

impl Default for CamundaProfile {
    fn default() -> Self {
        Self {
            email_template: "{sub}@camunda.local".into(),
            is_active: true,
            is_superuser: true,
            is_verified: true,
            expiry: Expiry::After(3600),
            issuer: None,
        }
    }
}

impl CamundaProfile {
    /// The engine claims for `subject` issued at `now`; `email` overrides the template.
    pub fn claims(
        &self,
        subject: &str,
        email: Option<&str>,
        now: i64,
    ) -> Result<CamundaClaims, MintError> {
        if subject.is_empty() {
            return Err(missing_subject());
        }
        let exp = self.expiry.exp_after(now).ok_or(MintError::MissingClaim {
            claim: "exp",
            hint: "the engine rejects tokens without exp; give the profile a lifetime such as 1h",
        })?;
        Ok(CamundaClaims {
            iss: self.issuer.clone(),
            sub: subject.to_owned(),
            email: email.map_or_else(
                || self.email_template.replace("{sub}", subject),
                str::to_owned,
            ),
            is_active: self.is_active,
            is_superuser: self.is_superuser,
            is_verified: self.is_verified,
            iat: now,
            exp,
        })
    }
}

/// A Centrifugo connection token (`sub`, `exp`, `iat`, optional `channels`, `info`, `b64info`,
/// `subs`, `meta`, `expire_at`, `aud`, `iss`). It never carries `channel`: Centrifugo would read
/// such a token as a subscription token.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct CentrifugoConnectionClaims {
    /// User id; empty for an anonymous connection.
    pub sub: String,
    /// Expiry (Unix seconds); omitted for a non-expiring token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    /// Issued at.
    pub iat: i64,
    /// Server-side subscriptions.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub channels: Vec<String>,
    /// Connection info shown to other clients.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub info: Option<Value>,
    /// Binary info, base64.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub b64info: Option<String>,
    /// Per-channel subscription options (Centrifugo `subs` object).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subs: Option<Map<String, Value>>,
    /// Server-only metadata.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meta: Option<Value>,
    /// When the connection itself expires (Unix seconds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expire_at: Option<i64>,
    /// Audience, when Centrifugo is configured to check it.
    #[serde(skip_serializing_if = "Audience::is_empty")]
    pub aud: Audience,
    /// Issuer, when Centrifugo is configured to check it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
}

/// A Centrifugo subscription token: `sub`, `channel` (required), `exp`, optional `info`,
/// `b64info`, `override`, `expire_at`, `aud`, `iss`.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct CentrifugoSubscriptionClaims {
    /// User id; must match the connection's user.
    pub sub: String,
    /// The channel this token grants; never empty (checked wherever the claims are serialised).
    #[serde(serialize_with = "subscription_channel")]
    pub channel: String,
    /// Expiry (Unix seconds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    /// Issued at.
    pub iat: i64,
    /// Channel info.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub info: Option<Value>,
    /// Binary channel info, base64.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub b64info: Option<String>,
    /// Channel option overrides (Centrifugo `override` object).
    #[serde(rename = "override", skip_serializing_if = "Option::is_none")]
    pub override_: Option<Map<String, Value>>,
    /// When the subscription expires (Unix seconds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expire_at: Option<i64>,
    /// Audience.
    #[serde(skip_serializing_if = "Audience::is_empty")]
    pub aud: Audience,
    /// Issuer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
}

impl CentrifugoConnectionClaims {
    /// A connection token for user `sub` (empty for an anonymous connection), issued at `now`
    /// and living for `lifetime`.
    ///
    /// ```
    /// use jwtkit_mint::{CentrifugoConnectionClaims, Expiry};
    ///
    /// let claims = CentrifugoConnectionClaims::new("agent-1", Expiry::After(3600), 1_700_000_000)
    ///     .channels(["agents.tenant.agent-1"]);
    /// assert_eq!(claims.exp, Some(1_700_003_600));
    /// ```
    pub fn new(sub: impl Into<String>, lifetime: Expiry, now: i64) -> Self {
        Self {
            sub: sub.into(),
            exp: lifetime.exp_after(now),
            iat: now,
            ..Self::default()
        }
    }

    /// Sets the server-side subscriptions (`channels`).
    pub fn channels<I: IntoIterator<Item = S>, S: Into<String>>(mut self, channels: I) -> Self {
        self.channels = channels.into_iter().map(Into::into).collect();
        self
    }
}

impl CentrifugoSubscriptionClaims {
    /// A subscription token for user `sub` to `channel`, issued at `now` and living for
    /// `lifetime`. An empty `channel` is refused when the claims are minted.
    ///
    /// ```
    /// use jwtkit_mint::{CentrifugoSubscriptionClaims, Expiry};
    ///
    /// let claims = CentrifugoSubscriptionClaims::new("agent-1", "agents.tenant.agent-1", Expiry::After(600), 0);
    /// assert!(claims.check().is_ok());
    /// ```
    pub fn new(
        sub: impl Into<String>,
        channel: impl Into<String>,
        lifetime: Expiry,
        now: i64,
    ) -> Self {
        Self {
            sub: sub.into(),
            channel: channel.into(),
            exp: lifetime.exp_after(now),
            iat: now,
            ..Self::default()
        }
    }

    /// Fails when the required `channel` is empty. [`crate::Minter::mint`] refuses such claims
    /// too; this reports it before anything is signed.
    pub fn check(&self) -> Result<(), MintError> {
        if self.channel.is_empty() {
            return Err(missing_channel());
        }
        Ok(())
    }
}

fn missing_channel() -> MintError {
    MintError::MissingClaim {
        claim: "channel",
        hint: "a subscription token is for exactly one channel",
    }
}

fn missing_subject() -> MintError {
    MintError::MissingClaim {
        claim: "sub",
        hint: "the engine reads its user id from the subject",
    }
}

/// A consumer's required claims are checked while serialising, so that every path to a token
/// (a [`crate::Minter`], `with_custom_claims`, a caller's own serde call) refuses an empty one.
fn non_empty<S: serde::Serializer>(
    value: &str,
    serializer: S,
    missing: fn() -> MintError,
) -> Result<S::Ok, S::Error> {
    if value.is_empty() {
        return Err(serde::ser::Error::custom(missing()));
    }
    serializer.serialize_str(value)
}

fn subscription_channel<S: serde::Serializer>(
    value: &str,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    non_empty(value, serializer, missing_channel)
}

fn camunda_subject<S: serde::Serializer>(value: &str, serializer: S) -> Result<S::Ok, S::Error> {
    non_empty(value, serializer, missing_subject)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camunda_claims_are_exactly_the_seven_camel_case_names() {
        let claims = CamundaProfile::default()
            .claims("demo", None, 1_700_000_000)
            .unwrap();
        let value = serde_json::to_value(&claims).unwrap();
        let mut names: Vec<_> = value.as_object().unwrap().keys().cloned().collect();
        names.sort();
        assert_eq!(
            names,
            [
                "email",
                "exp",
                "iat",
                "isActive",
                "isSuperuser",
                "isVerified",
                "sub"
            ]
        );
        assert_eq!(value["email"], "demo@camunda.local");
        assert_eq!(value["exp"], 1_700_003_600);
        assert_eq!(value["isSuperuser"], true);
    }

    #[test]
    fn camunda_issuer_is_added_only_when_set() {
        let profile = CamundaProfile {
            issuer: Some("urn:jwtkit:proxy".into()),
            ..CamundaProfile::default()
        };
        let value = serde_json::to_value(profile.claims("demo", None, 1).unwrap()).unwrap();
        assert_eq!(value["iss"], "urn:jwtkit:proxy");
        assert_eq!(value.as_object().unwrap().len(), 8);
        let plain =
            serde_json::to_value(CamundaProfile::default().claims("demo", None, 1).unwrap())
                .unwrap();
        assert!(plain.get("iss").is_none());
    }

    #[test]
    fn camunda_refuses_never_and_empty_subject() {
        let profile = CamundaProfile {
            expiry: Expiry::Never,
            ..CamundaProfile::default()
        };
        assert!(matches!(
            profile.claims("demo", None, 0),
            Err(MintError::MissingClaim { claim: "exp", .. })
        ));
        assert!(matches!(
            CamundaProfile::default().claims("", None, 0),
            Err(MintError::MissingClaim { claim: "sub", .. })
        ));
    }

    #[test]
    fn generic_refuses_custom_claims_that_shadow_registered_ones() {
        let mut profile = GenericProfile::default();
        profile.custom.insert("exp".into(), 1.into());
        assert_eq!(
            profile.claims(0).unwrap_err(),
            MintError::ReservedClaim("exp".into())
        );
    }

    #[test]
    fn generic_omits_exp_for_never_and_writes_single_audience_as_string() {
        let profile = GenericProfile {
            subject: Some("client".into()),
            audience: Audience::new(vec!["api".into()]),
            ..GenericProfile::default()
        };
        let claims = profile.claims(100).unwrap();
        assert!(!claims.contains_key("exp"));
        assert_eq!(claims["aud"], "api");
        assert_eq!(claims["iat"], 100);
        let two = GenericProfile {
            audience: Audience::new(vec!["a".into(), "b".into()]),
            ..profile
        };
        assert_eq!(
            two.claims(100).unwrap()["aud"],
            serde_json::json!(["a", "b"])
        );
    }

    #[test]
    fn centrifugo_connection_never_has_channel_and_subscription_requires_it() {
        let connection = CentrifugoConnectionClaims {
            sub: "agent-linux-01".into(),
            channels: vec!["agents.test-tenant.agent-linux-01".into()],
            iat: 1,
            exp: Some(2),
            ..Default::default()
        };
        let value = serde_json::to_value(&connection).unwrap();
        assert!(value.get("channel").is_none());
        assert_eq!(value["channels"][0], "agents.test-tenant.agent-linux-01");
        let subscription = CentrifugoSubscriptionClaims {
            sub: "u".into(),
            ..Default::default()
        };
        assert!(matches!(
            subscription.check(),
            Err(MintError::MissingClaim {
                claim: "channel",
                ..
            })
        ));
    }
}
