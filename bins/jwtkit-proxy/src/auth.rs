//! Inbound authentication: find the token where the route allows it, validate it with the
//! registry, then apply the route's own requirements.

use std::borrow::Cow;
use std::str::FromStr;
use std::sync::Arc;

use axum::http::{HeaderMap, Method, Uri};
use jwtkit_verify::{ClaimMap, Registry, Validated, extract};
use serde_json::Value;

use crate::authz::Rules;
use crate::config::values::ValueError;
use crate::config::{AccessSection, ConfigError};
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

impl FromStr for TokenSource {
    type Err = ValueError;

    /// `header`, `cookie:NAME` or `query:NAME` (a `token_from` entry).
    fn from_str(text: &str) -> Result<Self, ValueError> {
        match text.split_once(':') {
            None if text == "header" => Ok(Self::Header),
            Some(("cookie", name)) if !name.is_empty() => Ok(Self::Cookie(name.to_owned())),
            Some(("query", name)) if !name.is_empty() => Ok(Self::Query(name.to_owned())),
            _ => Err(ValueError::new(
                "token_from",
                text,
                format!("{text:?} is not a token location"),
                "use header, cookie:NAME or query:NAME",
            )),
        }
    }
}

/// A route's requirements on callers, compiled from an [`AccessSection`].
#[derive(Clone, Debug)]
pub struct Access {
    sources: Vec<TokenSource>,
    issuers: Vec<String>,
    audiences: Vec<String>,
    rules: Arc<Rules>,
}

/// An authenticated caller.
#[derive(Clone)]
pub struct Caller {
    /// The validated token (shared with the verified-token cache).
    pub token: Arc<Validated>,
    /// The raw bearer token (for passthrough upstreams).
    pub raw: Arc<str>,
}

// Not derived: a derived Debug would print the whole bearer token (`raw`), which is a usable
// credential, wherever a caller is logged with `?caller` or shown in a panic message.
impl std::fmt::Debug for Caller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Caller")
            .field("token", &self.token)
            .field("raw", &format_args!("<redacted, {} bytes>", self.raw.len()))
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
    /// Compiles the section written under `key` (`routes[0]`, `camunda`; its cross-checks
    /// already made by `Config::check`); its claim and scope rules are built here, errors
    /// naming their key.
    pub fn new(key: &str, section: &AccessSection) -> Result<Self, ConfigError> {
        Ok(Self {
            sources: section.token_from.clone(),
            issuers: section.issuers.clone(),
            audiences: section.audiences.clone(),
            rules: Arc::new(Rules::new(key, section)?),
        })
    }

    /// The cookies the route takes tokens from: removed before forwarding, whichever place
    /// the token came from.
    pub fn cookie_names(&self) -> impl Iterator<Item = &str> {
        self.sources.iter().filter_map(|source| match source {
            TokenSource::Cookie(name) => Some(name.as_str()),
            _ => None,
        })
    }

    /// The query parameters the route takes tokens from: removed before forwarding, whichever
    /// place the token came from.
    pub fn query_names(&self) -> impl Iterator<Item = &str> {
        self.sources.iter().filter_map(|source| match source {
            TokenSource::Query(name) => Some(name.as_str()),
            _ => None,
        })
    }

    /// The token from the first configured place that has one. (Every configured cookie and
    /// query parameter is removed before forwarding, whichever place the token came from.)
    fn find_token<'r>(&self, headers: &'r HeaderMap, uri: &'r Uri) -> Option<Cow<'r, str>> {
        self.sources.iter().find_map(|source| match source {
            TokenSource::Header => extract::bearer(headers).map(Cow::Borrowed),
            TokenSource::Cookie(name) => extract::cookie(headers, name).map(Cow::Borrowed),
            TokenSource::Query(name) => extract::query_param(uri.query()?, name),
        })
    }

    /// Authenticates the request: 401 without a valid token, 403 `forbidden` when the route's
    /// issuers or audiences exclude the caller, 403 `insufficient_scope` when its claim and
    /// scope rules for `method` do.
    pub async fn authenticate(
        &self,
        registry: &Registry,
        method: &Method,
        headers: &HeaderMap,
        uri: &Uri,
    ) -> Result<Caller, ApiError> {
        let raw = self
            .find_token(headers, uri)
            .ok_or_else(ApiError::missing_token)?;
        let token = match registry.cached(&raw) {
            Some(hit) => hit,
            // Boxed: the validation's future holds a key-set fetch and is large; the common
            // case, a cache hit, should not carry it in every request's future.
            None => Box::pin(registry.validate_shared(&raw))
                .await
                .map_err(|err| ApiError::token(&err))?,
        };
        let caller = Caller {
            token,
            raw: Arc::from(raw.as_ref()),
        };
        self.authorize(&caller, method, uri, headers)?;
        Ok(caller)
    }

    fn authorize(
        &self,
        caller: &Caller,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
    ) -> Result<(), ApiError> {
        if !self.issuers.is_empty() {
            let issuer = caller.token.issuer.as_deref().unwrap_or_default();
            if !self.issuers.iter().any(|allowed| allowed == issuer) {
                return Err(ApiError::forbidden(format!(
                    "tokens from issuer {issuer:?} are not accepted on this route"
                )));
            }
        }
        if !self.audiences.is_empty() && !caller.token.has_audience(&self.audiences) {
            return Err(ApiError::forbidden(
                "the token's audience does not include this route's audience",
            ));
        }
        self.rules
            .check(&caller.token, method, uri.path(), headers)
            .map_err(|denied| ApiError::denied(&denied))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::header;

    #[test]
    fn tokens_are_found_in_header_cookie_and_query_in_the_configured_order() {
        let access = Access::new(
            "routes[0]",
            &AccessSection {
                token_from: vec![
                    TokenSource::Query("access_token".into()),
                    TokenSource::Cookie("__session".into()),
                    TokenSource::Header,
                ],
                ..AccessSection::default()
            },
        )
        .unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, "Bearer h".parse().unwrap());
        let uri: Uri = "/x?y=1".parse().unwrap();
        // Each place holds a different token, so the token says which place was read.
        let found =
            |headers: &HeaderMap, uri: &Uri| access.find_token(headers, uri).map(Cow::into_owned);
        assert_eq!(found(&headers, &uri).as_deref(), Some("h"));
        headers.insert(header::COOKIE, "a=1; __session = c ".parse().unwrap());
        assert_eq!(found(&headers, &uri).as_deref(), Some("c"));
        let uri: Uri = "/x?y=1&access%5Ftoken=a%2Eb".parse().unwrap();
        assert_eq!(found(&headers, &uri).as_deref(), Some("a.b"));
        assert_eq!(access.cookie_names().collect::<Vec<_>>(), ["__session"]);
        assert_eq!(access.query_names().collect::<Vec<_>>(), ["access_token"]);
    }

    #[test]
    fn token_locations_parse_or_name_the_problem() {
        assert_eq!("header".parse(), Ok(TokenSource::Header));
        assert_eq!(
            "cookie:__session".parse(),
            Ok(TokenSource::Cookie("__session".into()))
        );
        assert_eq!(
            "query:access_token".parse(),
            Ok(TokenSource::Query("access_token".into()))
        );
        for bad in ["body", "cookie:", "query:", "Header", "header:x", "cookie"] {
            let err = bad.parse::<TokenSource>().unwrap_err();
            assert_eq!(err.field, "token_from");
            assert!(err.problem.contains("not a token location"), "{bad}");
        }
    }
}
