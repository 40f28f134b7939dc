//! Inbound authentication: find the token where the route allows it, validate it with the
//! registry, then apply the route's own requirements.

use std::borrow::Cow;
use std::sync::Arc;

use axum::http::{HeaderMap, Uri, header};
use jwtkit_verify::{ClaimMap, Registry, Validated};
use serde_json::Value;

use crate::config::AccessSection;
use crate::error::ApiError;

/// Where a route accepts tokens from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenSource {
    /// `Authorization: Bearer`.
    Header,
    /// A cookie (Clerk's `__session`, for instance).
    Cookie(String),
    /// A query parameter (for clients that cannot set headers, e.g. EventSource).
    Query(String),
}

/// A route's requirements on callers, compiled from an [`AccessSection`].
#[derive(Clone, Debug)]
pub struct Access {
    sources: Vec<TokenSource>,
    issuers: Vec<String>,
    audiences: Vec<String>,
    require_claims: Vec<(String, Value)>,
}

/// An authenticated caller.
#[derive(Clone)]
pub struct Caller {
    /// The validated token.
    pub token: Validated,
    /// The raw bearer token (for passthrough upstreams).
    pub raw: Arc<str>,
    /// Where it came from (a cookie or query token is removed before forwarding).
    pub source: TokenSource,
}

// Not derived: a derived Debug would print the whole bearer token (`raw`), which is a usable
// credential, wherever a caller is logged with `?caller` or shown in a panic message.
impl std::fmt::Debug for Caller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Caller")
            .field("token", &self.token)
            .field("raw", &format_args!("<redacted, {} bytes>", self.raw.len()))
            .field("source", &self.source)
            .finish()
    }
}

impl Caller {
    /// The claims.
    pub fn claims(&self) -> &ClaimMap {
        &self.token.claims
    }

    /// A claim as text: strings as they are, numbers and booleans printed.
    pub fn claim_text(&self, name: &str) -> Option<String> {
        match self.claims().get(name)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    /// The subject, empty when absent.
    pub fn subject(&self) -> String {
        self.claim_text("sub").unwrap_or_default()
    }
}

impl Access {
    /// Compiles the configuration (already checked by `Config::check`).
    pub fn new(section: &AccessSection) -> Self {
        let sources = section
            .token_from
            .iter()
            .map(|from| match from.split_once(':') {
                Some(("cookie", name)) => TokenSource::Cookie(name.to_owned()),
                Some(("query", name)) => TokenSource::Query(name.to_owned()),
                _ => TokenSource::Header,
            })
            .collect();
        Self {
            sources,
            issuers: section.issuers.clone(),
            audiences: section.audiences.clone(),
            require_claims: section
                .require_claims
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }
    }

    /// The cookie or query parameter that carried the token, to remove before forwarding.
    pub fn sources(&self) -> &[TokenSource] {
        &self.sources
    }

    fn find_token<'r>(
        &self,
        headers: &'r HeaderMap,
        uri: &'r Uri,
    ) -> Option<(Cow<'r, str>, TokenSource)> {
        self.sources.iter().find_map(|source| {
            let token = match source {
                TokenSource::Header => bearer(headers).map(Cow::Borrowed),
                TokenSource::Cookie(name) => cookie(headers, name).map(Cow::Borrowed),
                TokenSource::Query(name) => query_param(uri, name),
            }?;
            Some((token, source.clone()))
        })
    }

    /// Authenticates the request: 401 without a valid token, 403 when the route's own rules
    /// (issuer, audience, claim values) exclude the caller.
    pub async fn authenticate(
        &self,
        registry: &Registry,
        headers: &HeaderMap,
        uri: &Uri,
    ) -> Result<Caller, ApiError> {
        let (raw, source) = self
            .find_token(headers, uri)
            .ok_or_else(ApiError::missing_token)?;
        let token = registry
            .validate(&raw)
            .await
            .map_err(|err| ApiError::token(&err))?;
        let caller = Caller {
            token,
            raw: Arc::from(raw.as_ref()),
            source,
        };
        self.authorize(&caller)?;
        Ok(caller)
    }

    fn authorize(&self, caller: &Caller) -> Result<(), ApiError> {
        if !self.issuers.is_empty() {
            let issuer = caller.token.issuer.as_deref().unwrap_or_default();
            if !self.issuers.iter().any(|allowed| allowed == issuer) {
                return Err(ApiError::forbidden(format!(
                    "tokens from issuer {issuer:?} are not accepted on this route"
                )));
            }
        }
        if !self.audiences.is_empty() {
            let audiences: Vec<&str> = match caller.claims().get("aud") {
                Some(Value::String(one)) => vec![one.as_str()],
                Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            };
            if !audiences
                .iter()
                .any(|aud| self.audiences.iter().any(|a| a == aud))
            {
                return Err(ApiError::forbidden(
                    "the token's audience does not include this route's audience",
                ));
            }
        }
        for (name, wanted) in &self.require_claims {
            let satisfied = match caller.claims().get(name) {
                Some(Value::Array(items)) => items.contains(wanted),
                Some(value) => value == wanted,
                None => false,
            };
            if !satisfied {
                return Err(ApiError::forbidden(format!(
                    "this route requires claim {name:?} = {wanted}"
                )));
            }
        }
        Ok(())
    }
}

/// The bearer token of the Authorization header (scheme case-insensitive).
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|line| {
            line.split(';').find_map(|pair| {
                let (key, value) = pair.trim().split_once('=')?;
                (key == name && !value.is_empty()).then_some(value)
            })
        })
}

fn query_param<'u>(uri: &'u Uri, name: &str) -> Option<Cow<'u, str>> {
    url::form_urlencoded::parse(uri.query()?.as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_found_in_header_cookie_and_query() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            "a=1; __session=tok.en.c; b=2".parse().unwrap(),
        );
        assert_eq!(cookie(&headers, "__session"), Some("tok.en.c"));
        assert_eq!(cookie(&headers, "missing"), None);
        headers.insert(header::AUTHORIZATION, "BEARER  abc ".parse().unwrap());
        assert_eq!(bearer(&headers), Some("abc"));
        headers.insert(header::AUTHORIZATION, "Basic abc".parse().unwrap());
        assert_eq!(bearer(&headers), None);
        let uri: Uri = "/x?y=1&access_token=a%2Eb".parse().unwrap();
        assert_eq!(query_param(&uri, "access_token").as_deref(), Some("a.b"));
    }
}
