//! What the caller of a validated token may do, read from its claims: required claim values and
//! OAuth scopes, checked after validation.
//!
//! - A claim is named by a JSON Pointer (RFC 6901): `/realm_access/roles`,
//!   `/resource_access/app/roles`, `/https:~1~1example.com~1roles` (`~1` is `/`, `~0` is `~`;
//!   an array element by its index, `/groups/0`). A name without a leading `/` is one top-level
//!   claim taken literally: `role` is `/role`, `https://example.com/roles` is the claim of that
//!   name.
//! - A claim rule holds when the claim is a string, number or boolean equal to one of the
//!   accepted values, or an array with an element equal to one of them (numbers compare by value:
//!   `1` equals `1.0`; a string never equals a number). Several accepted values for one path are
//!   any-of; several rules must all hold.
//! - A scope holds when it is one of the space-separated scopes of the `scope` claim (RFC 6749
//!   §3.3), or of `scp` (a space-separated string, or an array of strings as Azure AD issues).
//!
//! - With the `cel` feature, an `allow_if` rule is a CEL expression over the claims and the
//!   request (`Requirements::allow_if`, module `require_cel`).
//!
//! Claim rules are checked in the order given, then the scopes, then the `allow_if` rules; the
//! first that fails is the [`Denied`] answer. A check of claim and scope rules that passes
//! allocates nothing.
//!
//! ```
//! use jwtkit_verify::{ClaimMap, Requirements};
//!
//! let requirements = Requirements::new()
//!     .claim("/realm_access/roles", "admin")?
//!     .any_of("/groups", ["ops", "dev"])?
//!     .scopes(["read"])?;
//! let claims: ClaimMap = serde_json::from_str(
//!     r#"{"realm_access":{"roles":["admin"]},"groups":["dev"],"scope":"openid read"}"#,
//! )?;
//! assert!(requirements.check_claims(&claims).is_ok());
//!
//! let claims: ClaimMap = serde_json::from_str(r#"{"realm_access":{"roles":["user"]}}"#)?;
//! let denied = requirements.check_claims(&claims).unwrap_err();
//! assert_eq!(denied.rule(), r#"claim /realm_access/roles must contain "admin""#);
//! assert_eq!(denied.scope(), Some("read"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::sync::Arc;

use serde_json::Value;

use crate::{ClaimMap, Validated};

/// Why a requirement could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequirementError {
    /// The claim path is not a JSON Pointer (RFC 6901): empty, or a `~` not followed by `0` or
    /// `1`.
    #[error("claim path {path:?} is not a JSON Pointer: {reason}")]
    InvalidPointer {
        /// The path as given.
        path: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A required value is not a string, number or boolean (null, array or object).
    #[error("the value required of claim {path} must be a string, number or boolean")]
    UnsupportedValue {
        /// The claim path as given.
        path: String,
    },
    /// A claim rule with no accepted value (an empty `any_of`): it could never hold.
    #[error("claim {path} has no accepted value")]
    NoValue {
        /// The claim path as given.
        path: String,
    },
    /// A scope that is empty or has a character RFC 6749 §3.3 does not allow in a scope token
    /// (space, `"`, `\`, control or non-ASCII characters).
    #[error("scope {scope:?} is not a valid scope token")]
    InvalidScope {
        /// The scope as given.
        scope: String,
    },
    /// An `allow_if` expression that does not compile: the rule's name and where the CEL parser
    /// stopped (1-based line, 0-based column, as the `cel` crate reports them).
    #[cfg(feature = "cel")]
    #[error("allow_if {rule:?}: invalid CEL expression at line {line}, column {column}: {message}")]
    InvalidExpression {
        /// The rule's name.
        rule: String,
        /// The line of the error.
        line: isize,
        /// The column of the error.
        column: isize,
        /// The parser's message.
        message: String,
    },
}

/// The request an `allow_if` rule may read ([`Requirements::check_request`]).
#[cfg(feature = "http")]
#[derive(Debug, Clone, Copy)]
pub struct RequestInfo<'a> {
    /// The request method (`GET`).
    pub method: &'a str,
    /// The request path, without the query (`/orders/7`).
    pub path: &'a str,
    /// The request headers.
    pub headers: &'a http::HeaderMap,
}

/// A claim rule: a path and the values any of which satisfies it.
#[derive(Debug, Clone)]
struct ClaimRule {
    /// The pointer's reference tokens, unescaped.
    tokens: Box<[String]>,
    accepted: Box<[Value]>,
    /// The rule as [`Denied::rule`] says it, made once.
    text: Arc<str>,
}

/// A scope rule with its text.
#[derive(Debug, Clone)]
struct ScopeRule {
    scope: String,
    text: Arc<str>,
}

/// Requirements on the claims of a validated token; see the [module documentation](self) for
/// the rules. Built once (at configuration load), checked per request with
/// [`Requirements::check`].
#[derive(Debug, Clone, Default)]
pub struct Requirements {
    claims: Vec<ClaimRule>,
    scopes: Vec<ScopeRule>,
    /// The required scopes, space-separated (the RFC 6750 `scope` attribute); `None` without.
    scope_attribute: Option<Arc<str>>,
    /// `allow_if` rules, checked after the claims and scopes.
    #[cfg(feature = "cel")]
    pub(crate) cel: Vec<Arc<crate::require_cel::CelRule>>,
}

impl Requirements {
    /// No requirement: every validated token passes.
    pub fn new() -> Self {
        Self::default()
    }

    /// Requires the claim at `path` to be, or (an array) to contain, `value`.
    pub fn claim(self, path: &str, value: impl Into<Value>) -> Result<Self, RequirementError> {
        self.any_of(path, [value])
    }

    /// Requires the claim at `path` to be, or (an array) to contain, one of `values`.
    pub fn any_of<V: Into<Value>>(
        mut self,
        path: &str,
        values: impl IntoIterator<Item = V>,
    ) -> Result<Self, RequirementError> {
        let tokens = parse_pointer(path)?;
        let accepted: Box<[Value]> = values.into_iter().map(Into::into).collect();
        if accepted.is_empty() {
            return Err(RequirementError::NoValue { path: path.into() });
        }
        if !accepted.iter().all(is_scalar) {
            return Err(RequirementError::UnsupportedValue { path: path.into() });
        }
        let text = rule_text(&tokens, &accepted).into();
        self.claims.push(ClaimRule {
            tokens,
            accepted,
            text,
        });
        Ok(self)
    }

    /// Requires every one of `scopes` in the token's `scope` or `scp` claim (added to those
    /// required before).
    pub fn scopes<S: Into<String>>(
        mut self,
        scopes: impl IntoIterator<Item = S>,
    ) -> Result<Self, RequirementError> {
        for scope in scopes {
            let scope = scope.into();
            if !is_scope_token(&scope) {
                return Err(RequirementError::InvalidScope { scope });
            }
            if self.scopes.iter().any(|rule| rule.scope == scope) {
                continue;
            }
            let text = format!("scope {scope:?}").into();
            self.scopes.push(ScopeRule { scope, text });
        }
        let names: Vec<&str> = self.scopes.iter().map(|rule| rule.scope.as_str()).collect();
        self.scope_attribute = (!names.is_empty()).then(|| names.join(" ").into());
        Ok(self)
    }

    /// Requires the CEL `expression` to evaluate to `true` (feature `cel`; see
    /// [`require_cel`](crate::require_cel) for what it can read). It is compiled here, once; a
    /// syntax error is [`RequirementError::InvalidExpression`] naming `name` and the position.
    /// When it evaluates to `false`, fails to evaluate (a missing claim, a wrong type) or yields
    /// no boolean, the token is [`Denied`] with the rule `allow_if "<name>"`.
    ///
    /// ```
    /// use jwtkit_verify::{ClaimMap, Requirements};
    ///
    /// let admins = Requirements::new()
    ///     .allow_if("admin", "'admin' in claims.realm_access.roles && has_scope('read')")?;
    /// let claims: ClaimMap =
    ///     serde_json::from_str(r#"{"realm_access":{"roles":["admin"]},"scope":"openid read"}"#)?;
    /// assert!(admins.check_claims(&claims).is_ok());
    /// let denied = admins.check_claims(&ClaimMap::new()).unwrap_err();
    /// assert_eq!(denied.rule(), r#"allow_if "admin""#);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "cel")]
    pub fn allow_if(mut self, name: &str, expression: &str) -> Result<Self, RequirementError> {
        let rule = crate::require_cel::CelRule::compile(name, expression)?;
        self.cel.push(Arc::new(rule));
        Ok(self)
    }

    /// True when nothing is required.
    pub fn is_empty(&self) -> bool {
        #[cfg(feature = "cel")]
        let no_cel = self.cel.is_empty();
        #[cfg(not(feature = "cel"))]
        let no_cel = true;
        self.claims.is_empty() && self.scopes.is_empty() && no_cel
    }

    /// Checks a validated token's claims (an `allow_if` rule sees an empty request: no method,
    /// path or headers; use `Requirements::check_request` (feature `http`) where there is a request).
    pub fn check(&self, validated: &Validated) -> Result<(), Denied> {
        if self.is_empty() {
            // Spares building the claim map of a token nobody asks anything of.
            return Ok(());
        }
        self.check_claims(validated.claims.map())
    }

    /// Checks a validated token's claims and, for `allow_if` rules, the request it came with.
    #[cfg(feature = "http")]
    pub fn check_request(
        &self,
        validated: &Validated,
        request: &RequestInfo<'_>,
    ) -> Result<(), Denied> {
        if self.is_empty() {
            return Ok(());
        }
        self.check_all(validated.claims.map(), Some(request))
    }

    /// Checks a claim set: `Ok` when every rule holds, else the first that does not (an
    /// `allow_if` rule sees an empty request).
    pub fn check_claims(&self, claims: &ClaimMap) -> Result<(), Denied> {
        self.check_all(claims, None)
    }

    #[cfg(not(feature = "http"))]
    fn check_all(&self, claims: &ClaimMap, _request: Option<&()>) -> Result<(), Denied> {
        self.check_declared(claims)
    }

    #[cfg(feature = "http")]
    fn check_all(
        &self,
        claims: &ClaimMap,
        request: Option<&RequestInfo<'_>>,
    ) -> Result<(), Denied> {
        self.check_declared(claims)?;
        #[cfg(feature = "cel")]
        if !self.cel.is_empty() {
            let empty = http::HeaderMap::new();
            let request = request.copied().unwrap_or(RequestInfo {
                method: "",
                path: "",
                headers: &empty,
            });
            for rule in &self.cel {
                if let Err(failure) = rule.evaluate(claims, &request) {
                    crate::require_cel::log_failure(&rule.text, failure);
                    return Err(self.denied(&rule.text));
                }
            }
        }
        #[cfg(not(feature = "cel"))]
        let _ = request;
        Ok(())
    }

    /// The claim and scope rules.
    fn check_declared(&self, claims: &ClaimMap) -> Result<(), Denied> {
        for rule in &self.claims {
            let found = lookup(claims, &rule.tokens);
            if !found.is_some_and(|value| satisfies(value, &rule.accepted)) {
                return Err(self.denied(&rule.text));
            }
        }
        for rule in &self.scopes {
            if !has_scope(claims, &rule.scope) {
                return Err(self.denied(&rule.text));
            }
        }
        Ok(())
    }

    fn denied(&self, rule: &Arc<str>) -> Denied {
        Denied {
            rule: rule.clone(),
            scope: self.scope_attribute.clone(),
        }
    }
}

/// A token that does not meet its [`Requirements`]: which rule failed (said from the
/// requirement, never from the token's claims) and the scopes the requirements name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    rule: Arc<str>,
    scope: Option<Arc<str>>,
}

impl Denied {
    /// The stable code: `insufficient_scope` (RFC 6750 §3.1, for claim rules too).
    pub const CODE: &'static str = "insufficient_scope";

    /// The rule that failed: `claim /realm_access/roles must contain "admin"`,
    /// `claim /groups must contain one of "a", "b"`, `scope "write"`, or `allow_if "<name>"`.
    pub fn rule(&self) -> &str {
        &self.rule
    }

    /// The scopes the requirements name, space-separated (`read write`), whatever rule failed;
    /// `None` when they name none.
    pub fn scope(&self) -> Option<&str> {
        self.scope.as_deref()
    }

    /// [`Denied::CODE`].
    pub fn code(&self) -> &'static str {
        Self::CODE
    }
}

impl fmt::Display for Denied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.rule)
    }
}

impl std::error::Error for Denied {}

/// The reference tokens of a JSON Pointer, or of a plain top-level claim name.
fn parse_pointer(path: &str) -> Result<Box<[String]>, RequirementError> {
    let invalid = |reason| RequirementError::InvalidPointer {
        path: path.into(),
        reason,
    };
    if path.is_empty() {
        return Err(invalid("empty (the whole claim set is not a claim)"));
    }
    let Some(pointer) = path.strip_prefix('/') else {
        return Ok(Box::new([path.to_owned()]));
    };
    pointer
        .split('/')
        .map(|token| {
            let mut out = String::with_capacity(token.len());
            let mut chars = token.chars();
            while let Some(c) = chars.next() {
                if c != '~' {
                    out.push(c);
                    continue;
                }
                match chars.next() {
                    Some('0') => out.push('~'),
                    Some('1') => out.push('/'),
                    _ => return Err(invalid("`~` must be followed by 0 or 1")),
                }
            }
            Ok(out)
        })
        .collect()
}

/// A token escaped back into pointer form (`/` as `~1`, `~` as `~0`).
fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

fn rule_text(tokens: &[String], accepted: &[Value]) -> String {
    let pointer: String = tokens
        .iter()
        .map(|token| format!("/{}", escape(token)))
        .collect();
    let values: Vec<String> = accepted.iter().map(Value::to_string).collect();
    match values.as_slice() {
        [one] => format!("claim {pointer} must contain {one}"),
        many => format!("claim {pointer} must contain one of {}", many.join(", ")),
    }
}

fn is_scalar(value: &Value) -> bool {
    matches!(value, Value::String(_) | Value::Number(_) | Value::Bool(_))
}

/// RFC 6749 §3.3 `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`.
fn is_scope_token(scope: &str) -> bool {
    !scope.is_empty()
        && scope
            .bytes()
            .all(|b| matches!(b, 0x21 | 0x23..=0x5B | 0x5D..=0x7E))
}

/// The value at the pointer's tokens: object members by name, array elements by index
/// (decimal, no leading zero, as RFC 6901 §4 says).
fn lookup<'c>(claims: &'c ClaimMap, tokens: &[String]) -> Option<&'c Value> {
    let (first, rest) = tokens.split_first()?;
    rest.iter()
        .try_fold(claims.get(first)?, |value, token| match value {
            Value::Object(map) => map.get(token),
            Value::Array(items) => {
                let canonical = token == "0" || !token.starts_with('0');
                let index: usize = token.parse().ok().filter(|_| canonical)?;
                items.get(index)
            }
            _ => None,
        })
}

fn satisfies(value: &Value, accepted: &[Value]) -> bool {
    match value {
        Value::Array(items) => items.iter().any(|item| equals_any(item, accepted)),
        other => equals_any(other, accepted),
    }
}

fn equals_any(value: &Value, accepted: &[Value]) -> bool {
    accepted.iter().any(|want| match (value, want) {
        (Value::String(a), Value::String(b)) => a == b,
        (Value::Bool(a), Value::Bool(b)) => a == b,
        (Value::Number(a), Value::Number(b)) => {
            match (a.as_i64(), b.as_i64(), a.as_u64(), b.as_u64()) {
                (Some(x), Some(y), _, _) => x == y,
                (_, _, Some(x), Some(y)) => x == y,
                _ => a.as_f64() == b.as_f64(),
            }
        }
        _ => false,
    })
}

/// `scope` in the space-separated `scope` claim, or in `scp` (string or array of strings).
pub(crate) fn has_scope(claims: &ClaimMap, scope: &str) -> bool {
    let in_string = |value: Option<&Value>| {
        value
            .and_then(Value::as_str)
            .is_some_and(|text| text.split(' ').any(|token| token == scope))
    };
    if in_string(claims.get("scope")) {
        return true;
    }
    match claims.get("scp") {
        Some(Value::Array(items)) => items.iter().any(|item| item.as_str() == Some(scope)),
        scp => in_string(scp),
    }
}

#[cfg(test)]
#[path = "require_tests.rs"]
mod tests;
