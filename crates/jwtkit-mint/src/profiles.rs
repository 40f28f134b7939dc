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

/// The Camunda 7 engine token of seed 000: exactly `sub`, `email`, `isActive`, `isSuperuser`,
/// `isVerified`, `iat`, `exp`, camelCase, all present; plus `iss` when the profile sets one (the
/// engine's parser does not read it).
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct CamundaClaims {
    /// Issuer, when the profile names one; the engine ignores it, so a minting party can mark
    /// its tokens as its own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// Engine user id.
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
    /// `isSuperuser`, default true (as the seed-000 proxy sent).
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
            return Err(MintError::MissingClaim {
                claim: "sub",
                hint: "the engine reads its user id from the subject",
            });
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
    /// The channel this token grants.
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

impl CentrifugoSubscriptionClaims {
    /// Fails when the required `channel` is empty.
    pub fn check(&self) -> Result<(), MintError> {
        if self.channel.is_empty() {
            return Err(MintError::MissingClaim {
                claim: "channel",
                hint: "a subscription token is for exactly one channel",
            });
        }
        Ok(())
    }
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
