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
//! Claim rules are checked in the order given, then the scopes; the first that fails is the
//! [`Denied`] answer. A check that passes allocates nothing.
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

    /// True when nothing is required.
    pub fn is_empty(&self) -> bool {
        self.claims.is_empty() && self.scopes.is_empty()
    }

    /// Checks a validated token's claims.
    pub fn check(&self, validated: &Validated) -> Result<(), Denied> {
        if self.is_empty() {
            // Spares building the claim map of a token nobody asks anything of.
            return Ok(());
        }
        self.check_claims(validated.claims.map())
    }

    /// Checks a claim set: `Ok` when every rule holds, else the first that does not.
    pub fn check_claims(&self, claims: &ClaimMap) -> Result<(), Denied> {
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
    /// `claim /groups must contain one of "a", "b"`, or `scope "write"`.
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
fn has_scope(claims: &ClaimMap, scope: &str) -> bool {
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
