//! What a token must satisfy beyond its signature.

use std::borrow::Cow;

use jwtkit_keys::Algorithm;
use serde_json::{Map, Value};

use crate::VerifyError;
use crate::error::clip;
use crate::registered::{ClaimValue, Registered};

/// Default clock-skew allowance, as Spring Security and Envoy use.
pub const DEFAULT_LEEWAY_SECONDS: u64 = 60;

/// Default cap on token length; real tokens are well under 8 KiB, and the cap bounds the work an
/// attacker can cause before the signature is checked.
pub const DEFAULT_MAX_TOKEN_BYTES: usize = 16 * 1024;

/// Claim and header requirements. The defaults are the safe ones: `exp` required, 60 s leeway,
/// every other check off until configured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Accepted `iss` values; empty means the issuer is not checked (single-key use only).
    pub issuers: Vec<String>,
    /// Accepted audiences (any of). When empty, a token that carries `aud` is refused
    /// (`audience_mismatch`) unless [`Policy::accept_any_audience`] is set; a token without
    /// `aud` is accepted.
    pub audiences: Vec<String>,
    /// With no `audiences` configured, accept a token whatever its `aud` says. Off by default:
    /// RFC 7519 §4.1.3 says a recipient that does not identify itself with a value in `aud` must
    /// reject the token (jsonwebtoken's default too), so a token meant for another service is
    /// not taken here by accident. Turning it on is an explicit loosening; it has no effect when
    /// `audiences` is non-empty. A malformed `aud` (not a string or an array of strings) is
    /// refused either way.
    pub accept_any_audience: bool,
    /// Accepted authorized parties; when non-empty, a present `azp` must be one of them.
    pub authorized_parties: Vec<String>,
    /// Accepted algorithms; empty means whatever the key allows.
    pub algorithms: Vec<Algorithm>,
    /// Clock-skew allowance in seconds for `exp`, `nbf` and `iat`.
    pub leeway_seconds: u64,
    /// Whether a token without `exp` is rejected. Turning this off is an explicit loosening.
    pub require_exp: bool,
    /// Claims that must be present.
    pub required_claims: Vec<String>,
    /// Required header `typ` (compared case-insensitively, `application/` prefix optional).
    pub typ: Option<String>,
    /// Token length cap in bytes.
    pub max_token_bytes: usize,
    /// Accept tokens that carry no `iss` at all (generate_jwt.py made such tokens). Looser than
    /// the default; a present `iss` must still be one of `issuers`.
    pub allow_missing_iss: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            issuers: Vec::new(),
            audiences: Vec::new(),
            accept_any_audience: false,
            authorized_parties: Vec::new(),
            algorithms: Vec::new(),
            leeway_seconds: DEFAULT_LEEWAY_SECONDS,
            require_exp: true,
            required_claims: Vec::new(),
            typ: None,
            max_token_bytes: DEFAULT_MAX_TOKEN_BYTES,
            allow_missing_iss: false,
        }
    }
}

/// A NumericDate claim (RFC 7519 §2): a JSON number; fractions are truncated toward the past
/// for `exp` checks by comparing as f64.
fn numeric_date(claim: Option<&ClaimValue<'_>>, name: &str) -> Result<Option<f64>, VerifyError> {
    match claim {
        None => Ok(None),
        Some(ClaimValue::Number(v)) if v.is_finite() => Ok(Some(*v)),
        Some(ClaimValue::Number(_)) => Err(VerifyError::InvalidClaim {
            claim: name.into(),
            reason: "not a finite number".into(),
        }),
        Some(_) => Err(VerifyError::InvalidClaim {
            claim: name.into(),
            reason: "must be a NumericDate (a JSON number of seconds), not another JSON type"
                .into(),
        }),
    }
}

/// A claim that is a string or an array of strings (`aud`), as the strings it holds.
fn string_or_array<'c, 'a>(
    claim: Option<&'c ClaimValue<'a>>,
    name: &str,
) -> Result<Option<&'c [Cow<'a, str>]>, VerifyError> {
    match claim {
        None => Ok(None),
        Some(ClaimValue::String(one)) => Ok(Some(std::slice::from_ref(one))),
        Some(ClaimValue::Strings(items)) => Ok(Some(items)),
        Some(_) => Err(VerifyError::InvalidClaim {
            claim: name.into(),
            reason: "must be a string or an array of strings".into(),
        }),
    }
}

/// The audience rule of [`Policy::audiences`]: one of the token's audiences is accepted.
fn any_accepted(found: &[Cow<'_, str>], accepted: &[String]) -> bool {
    found.iter().any(|aud| accepted.iter().any(|a| a == aud))
}

/// True when a decoded `aud` claim (a string or an array of strings) names one of `accepted`,
/// by the rule [`Policy::audiences`] applies; an absent or malformed `aud` names none.
pub(crate) fn names_audience(aud: Option<&Value>, accepted: &[String]) -> bool {
    let aud = aud.map(ClaimValue::of);
    matches!(string_or_array(aud.as_ref(), "aud"), Ok(Some(found)) if any_accepted(found, accepted))
}

fn to_seconds(value: f64) -> i64 {
    // Saturating conversion: 1e300 becomes i64::MAX instead of wrapping.
    value as i64
}

impl Policy {
    /// True when `typ` satisfies the required type.
    fn typ_matches(&self, found: Option<&str>) -> Result<(), VerifyError> {
        let Some(expected) = &self.typ else {
            return Ok(());
        };
        let found = found.unwrap_or_default();
        let normalized = |t: &str| {
            let lower = t.to_ascii_lowercase();
            lower
                .strip_prefix("application/")
                .map(str::to_owned)
                .unwrap_or(lower)
        };
        if normalized(found) == normalized(expected) {
            Ok(())
        } else {
            Err(VerifyError::TypMismatch {
                found: clip(found),
                expected: expected.clone(),
            })
        }
    }

    /// Checks the header `typ` and `alg` against the policy.
    pub fn check_header(&self, alg: Algorithm, typ: Option<&str>) -> Result<(), VerifyError> {
        if !self.algorithms.is_empty() && !self.algorithms.contains(&alg) {
            return Err(VerifyError::alg(alg));
        }
        self.typ_matches(typ)
    }

    /// Checks the registered claims at time `now` (Unix seconds).
    pub fn check_claims(&self, claims: &Map<String, Value>, now: i64) -> Result<(), VerifyError> {
        self.check_registered(&Registered::of_map(claims), now)?;
        if let Some(missing) = self
            .required_claims
            .iter()
            .find(|name| !claims.contains_key(name.as_str()))
        {
            return Err(VerifyError::MissingClaim(missing.clone()));
        }
        Ok(())
    }

    /// [`Policy::check_claims`] on a claim set read by [`Registered::from_json`]: `names` are
    /// all member names, sorted.
    pub(crate) fn check_scanned(
        &self,
        registered: &Registered<'_>,
        names: &[Cow<'_, str>],
        now: i64,
    ) -> Result<(), VerifyError> {
        self.check_registered(registered, now)?;
        if let Some(missing) = self.required_claims.iter().find(|name| {
            names
                .binary_search_by(|n| (**n).cmp(name.as_str()))
                .is_err()
        }) {
            return Err(VerifyError::MissingClaim(missing.clone()));
        }
        Ok(())
    }

    /// Every rule except `required_claims`, in the order the error precedence needs.
    fn check_registered(&self, claims: &Registered<'_>, now: i64) -> Result<(), VerifyError> {
        let leeway = i64::try_from(self.leeway_seconds).unwrap_or(i64::MAX);
        match numeric_date(claims.exp.as_ref(), "exp")? {
            // RFC 7519 §4.1.4: valid only before exp.
            Some(exp) if (now.saturating_sub(leeway) as f64) >= exp => {
                return Err(VerifyError::Expired {
                    exp: to_seconds(exp),
                    now,
                    leeway: self.leeway_seconds,
                });
            }
            None if self.require_exp => return Err(VerifyError::MissingClaim("exp".into())),
            _ => {}
        }
        if let Some(nbf) = numeric_date(claims.nbf.as_ref(), "nbf")?
            && (now.saturating_add(leeway) as f64) < nbf
        {
            return Err(VerifyError::NotYetValid {
                nbf: to_seconds(nbf),
                now,
            });
        }
        if let Some(iat) = numeric_date(claims.iat.as_ref(), "iat")?
            && (now.saturating_add(leeway) as f64) < iat
        {
            return Err(VerifyError::IssuedInFuture {
                iat: to_seconds(iat),
                now,
            });
        }
        if !self.issuers.is_empty() {
            match &claims.iss {
                Some(ClaimValue::String(iss)) if self.issuers.iter().any(|i| i == iss) => {}
                Some(ClaimValue::String(iss)) => return Err(VerifyError::UnknownIssuer(clip(iss))),
                Some(_) => {
                    return Err(VerifyError::InvalidClaim {
                        claim: "iss".into(),
                        reason: "must be a string".into(),
                    });
                }
                None if self.allow_missing_iss => {}
                None => return Err(VerifyError::MissingClaim("iss".into())),
            }
        }
        let audiences = string_or_array(claims.aud.as_ref(), "aud")?;
        let shown = |found: &[Cow<'_, str>]| {
            found
                .iter()
                .take(3)
                .map(|a| clip(a))
                .collect::<Vec<_>>()
                .join(", ")
        };
        if self.audiences.is_empty() {
            // A token addressed to some audience is not for a recipient that names none.
            if let Some(found) = audiences
                && !self.accept_any_audience
            {
                return Err(VerifyError::AudienceMismatch(format!(
                    "token aud: [{}]; no audience is configured to accept it",
                    shown(found)
                )));
            }
        } else {
            let found = audiences
                .ok_or_else(|| VerifyError::AudienceMismatch("the token has no aud".into()))?;
            if !any_accepted(found, &self.audiences) {
                return Err(VerifyError::AudienceMismatch(format!(
                    "token aud: {}",
                    shown(found)
                )));
            }
        }
        if !self.authorized_parties.is_empty() {
            match &claims.azp {
                None => {}
                Some(ClaimValue::String(azp))
                    if self.authorized_parties.iter().any(|p| p == azp) => {}
                Some(ClaimValue::String(azp)) => {
                    return Err(VerifyError::UnauthorizedParty(clip(azp)));
                }
                Some(_) => {
                    return Err(VerifyError::InvalidClaim {
                        claim: "azp".into(),
                        reason: "must be a string".into(),
                    });
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const NOW: i64 = 1_700_000_000;

    fn check(policy: &Policy, claims: Value) -> Result<(), &'static str> {
        policy
            .check_claims(claims.as_object().unwrap(), NOW)
            .map_err(|e| e.code())
    }

    #[test]
    fn exp_is_required_by_default_and_checked_with_leeway() {
        let p = Policy::default();
        assert_eq!(check(&p, json!({})), Err("missing_claim"));
        assert_eq!(check(&p, json!({"exp": NOW + 10})), Ok(()));
        assert_eq!(
            check(&p, json!({"exp": NOW - 59})),
            Ok(()),
            "inside the 60 s leeway"
        );
        assert_eq!(check(&p, json!({"exp": NOW - 60})), Err("expired"));
        assert_eq!(check(&p, json!({"exp": NOW as f64 + 0.5})), Ok(()));
        let loose = Policy {
            require_exp: false,
            ..Policy::default()
        };
        assert_eq!(check(&loose, json!({})), Ok(()));
    }

    #[test]
    fn time_claims_of_the_wrong_type_are_rejected_not_skipped() {
        let p = Policy::default();
        for bad in [
            json!("9999999999"),
            json!(null),
            json!(true),
            json!([1]),
            json!({"a": 1}),
        ] {
            assert_eq!(
                check(&p, json!({"exp": bad.clone()})),
                Err("invalid_claim"),
                "exp {bad}"
            );
            assert_eq!(
                check(&p, json!({"exp": NOW + 10, "nbf": bad.clone()})),
                Err("invalid_claim")
            );
            assert_eq!(
                check(&p, json!({"exp": NOW + 10, "iat": bad})),
                Err("invalid_claim")
            );
        }
        assert_eq!(check(&p, json!({"exp": -1})), Err("expired"));
        assert_eq!(check(&p, json!({"exp": 1e300})), Ok(()));
    }

    #[test]
    fn nbf_and_iat_in_the_future() {
        let p = Policy::default();
        assert_eq!(
            check(&p, json!({"exp": NOW + 999, "nbf": NOW + 61})),
            Err("not_yet_valid")
        );
        assert_eq!(
            check(&p, json!({"exp": NOW + 999, "nbf": NOW + 60})),
            Ok(())
        );
        assert_eq!(
            check(&p, json!({"exp": NOW + 999, "iat": NOW + 61})),
            Err("issued_in_future")
        );
    }

    #[test]
    fn issuer_audience_azp_and_required_claims() {
        let p = Policy {
            issuers: vec!["https://a".into(), "https://b".into()],
            audiences: vec!["api".into()],
            authorized_parties: vec!["https://app".into()],
            required_claims: vec!["email".into()],
            ..Policy::default()
        };
        let base = json!({"exp": NOW + 10, "iss": "https://b", "aud": ["x", "api"], "email": "e"});
        assert_eq!(check(&p, base.clone()), Ok(()));
        let with = |k: &str, v: Value| {
            let mut c = base.clone();
            c[k] = v;
            c
        };
        assert_eq!(
            check(&p, with("iss", json!("https://evil"))),
            Err("unknown_issuer")
        );
        assert_eq!(check(&p, with("iss", json!(1))), Err("invalid_claim"));
        assert_eq!(
            check(&p, with("aud", json!("other"))),
            Err("audience_mismatch")
        );
        assert_eq!(
            check(&p, with("aud", json!({"api": true}))),
            Err("invalid_claim")
        );
        assert_eq!(
            check(&p, with("aud", json!(["api", 3]))),
            Err("invalid_claim")
        );
        assert_eq!(check(&p, with("azp", json!("https://app"))), Ok(()));
        assert_eq!(
            check(&p, with("azp", json!("https://other"))),
            Err("unauthorized_party")
        );
        let mut no_email = base.clone();
        no_email.as_object_mut().unwrap().remove("email");
        assert_eq!(check(&p, no_email), Err("missing_claim"));
        let mut no_aud = base;
        no_aud.as_object_mut().unwrap().remove("aud");
        assert_eq!(check(&p, no_aud), Err("audience_mismatch"));
    }

    #[test]
    fn without_a_configured_audience_a_token_carrying_aud_is_refused() {
        // RFC 7519 §4.1.3: a recipient that does not identify itself with a value of `aud`
        // must reject the token; jsonwebtoken does the same by default.
        let p = Policy::default();
        for aud in [json!("api"), json!(["api", "web"]), json!([])] {
            assert_eq!(
                check(&p, json!({"exp": NOW + 10, "aud": aud.clone()})),
                Err("audience_mismatch"),
                "aud {aud}"
            );
        }
        assert_eq!(check(&p, json!({"exp": NOW + 10})), Ok(()), "no aud");
        assert_eq!(
            check(&p, json!({"exp": NOW + 10, "aud": 3})),
            Err("invalid_claim")
        );

        let any = Policy {
            accept_any_audience: true,
            ..Policy::default()
        };
        for aud in [json!("api"), json!(["api", "web"]), json!([])] {
            assert_eq!(
                check(&any, json!({"exp": NOW + 10, "aud": aud.clone()})),
                Ok(()),
                "aud {aud}"
            );
        }
        assert_eq!(check(&any, json!({"exp": NOW + 10})), Ok(()));
        assert_eq!(
            check(&any, json!({"exp": NOW + 10, "aud": {"api": true}})),
            Err("invalid_claim"),
            "a malformed aud stays refused"
        );
        // With audiences configured the flag changes nothing.
        let both = Policy {
            audiences: vec!["api".into()],
            accept_any_audience: true,
            ..Policy::default()
        };
        assert_eq!(
            check(&both, json!({"exp": NOW + 10, "aud": "web"})),
            Err("audience_mismatch")
        );
        assert_eq!(
            check(&both, json!({"exp": NOW + 10})),
            Err("audience_mismatch")
        );
    }

    #[test]
    fn a_validated_token_names_an_audience_by_the_rule_of_the_policy() {
        let accepted = ["api".to_owned(), "web".to_owned()];
        let token = |claims: Value| crate::Validated {
            header: crate::Header {
                alg: Algorithm::HS256,
                kid: None,
                typ: None,
            },
            claims: std::sync::Arc::new(crate::Claims::from_map(
                claims.as_object().unwrap().clone(),
            )),
            issuer: None,
        };
        for (claims, named) in [
            (json!({"aud": "api"}), true),
            (json!({"aud": ["x", "web"]}), true),
            (json!({"aud": "x"}), false),
            (json!({"aud": ["x", "y"]}), false),
            (json!({"aud": []}), false),
            (json!({}), false),
            (json!({"aud": ["api", 3]}), false),
            (json!({"aud": {"api": true}}), false),
            (json!({"aud": null}), false),
        ] {
            assert_eq!(
                token(claims.clone()).has_audience(&accepted),
                named,
                "{claims}"
            );
            // The same verdict as the policy itself gives for those audiences.
            let policy = Policy {
                audiences: accepted.to_vec(),
                require_exp: false,
                ..Policy::default()
            };
            assert_eq!(
                policy
                    .check_claims(claims.as_object().unwrap(), NOW)
                    .is_ok(),
                named,
                "{claims}"
            );
        }
        assert!(!token(json!({"aud": "api"})).has_audience(&[]));
    }

    #[test]
    fn typ_and_alg_allow_list() {
        let p = Policy {
            typ: Some("at+jwt".into()),
            algorithms: vec![Algorithm::RS256],
            ..Policy::default()
        };
        assert!(
            p.check_header(Algorithm::RS256, Some("application/AT+JWT"))
                .is_ok()
        );
        assert_eq!(
            p.check_header(Algorithm::RS256, Some("JWT"))
                .unwrap_err()
                .code(),
            "typ_mismatch"
        );
        assert_eq!(
            p.check_header(Algorithm::RS256, None).unwrap_err().code(),
            "typ_mismatch"
        );
        assert_eq!(
            p.check_header(Algorithm::HS256, Some("at+jwt"))
                .unwrap_err()
                .code(),
            "alg_not_allowed"
        );
    }
}
