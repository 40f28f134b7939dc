//! [`Policy`]'s builder methods.

use std::time::Duration;

use jwtkit_keys::Algorithm;

use crate::Policy;

/// Builder methods: each takes the policy and returns it changed, starting from
/// [`Policy::default`].
///
/// ```
/// use std::time::Duration;
/// use jwtkit_keys::Algorithm;
/// use jwtkit_verify::Policy;
///
/// let policy = Policy::default()
///     .issuer("https://api.example")
///     .audience("orders")
///     .algorithms([Algorithm::HS256])
///     .leeway(Duration::from_secs(10))
///     .required_claim("sub");
/// assert_eq!(policy.issuers, ["https://api.example"]);
/// assert_eq!(policy.leeway_seconds, 10);
/// ```
impl Policy {
    /// Accepts tokens whose `iss` is `issuer`; call again for aliases. Once one is given, a
    /// token must carry one of them. (A [`Registry`](crate::Registry) entry sets its accepted
    /// values with [`IssuerConfig::iss`](crate::IssuerConfig::iss) instead.)
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuers.push(issuer.into());
        self
    }

    /// Accepts tokens for `audience` (any of those given); see [`Policy::audiences`].
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// Accepts only these algorithms (replacing any given before); by default, whatever the key
    /// allows.
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = algorithms.into_iter().collect();
        self
    }

    /// Allows this much clock skew for `exp`, `nbf` and `iat` (default 60 s); a fraction of a
    /// second counts as a whole one.
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway_seconds = leeway
            .as_secs()
            .saturating_add(u64::from(leeway.subsec_nanos() > 0));
        self
    }

    /// Sets [`Policy::accept_any_audience`]: while no audience is configured, a token is
    /// accepted whatever its `aud` says. An explicit loosening.
    pub fn accept_any_audience(mut self) -> Self {
        self.accept_any_audience = true;
        self
    }

    /// Sets [`Policy::allow_missing_iss`]: tokens without `iss` are accepted too. An explicit
    /// loosening.
    pub fn allow_missing_iss(mut self) -> Self {
        self.allow_missing_iss = true;
        self
    }

    /// Refuses tokens without this claim (`missing_claim`).
    pub fn required_claim(mut self, claim: impl Into<String>) -> Self {
        self.required_claims.push(claim.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const NOW: i64 = 1_700_000_000;

    #[test]
    fn builder_methods_set_the_fields() {
        let policy = Policy::default()
            .issuer("a")
            .issuer("b")
            .audience("x")
            .algorithms([Algorithm::RS256, Algorithm::ES256])
            .algorithms([Algorithm::HS256])
            .leeway(Duration::from_millis(1_500))
            .accept_any_audience()
            .allow_missing_iss()
            .required_claim("sub");
        let expected = Policy {
            issuers: vec!["a".into(), "b".into()],
            audiences: vec!["x".into()],
            algorithms: vec![Algorithm::HS256],
            leeway_seconds: 2,
            accept_any_audience: true,
            allow_missing_iss: true,
            required_claims: vec!["sub".into()],
            ..Policy::default()
        };
        assert_eq!(policy, expected);
        assert_eq!(Policy::default().leeway(Duration::ZERO).leeway_seconds, 0);
        let claims = json!({"exp": NOW + 10, "iss": "c"});
        let refused = policy.check_claims(claims.as_object().unwrap(), NOW);
        assert_eq!(refused.unwrap_err().code(), "unknown_issuer");
    }
}
