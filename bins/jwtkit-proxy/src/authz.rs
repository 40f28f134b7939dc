//! Authorization rules of a route (or of the `[camunda]` / `[centrifugo]` sections): the
//! section's `require_claims` and `require_scopes`, plus those of the request's method
//! (`[routes.methods.POST]`), built once at load into [`jwtkit_verify::Requirements`] and
//! checked with [`Requirements::check`].
//!
//! The decision is remembered per verified token: the registry's token cache hands back the
//! same `Arc<Claims>` for the same token, so each rule set keeps a small direct-mapped table
//! ([`SLOTS`] entries) from that `Arc`'s address to the decision. An entry holds a `Weak` to
//! the claims, which keeps the allocation (not the claims' contents) alive, so no other token's
//! claims can ever sit at the same address while the entry exists: a matching address is the
//! same token. A new token simply replaces what its slot held; the table never grows.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use axum::http::Method;
use jwtkit_verify::{Claims, Denied, RequirementError, Requirements, Validated};
use serde_json::Value;

use crate::config::{AccessSection, ConfigError};

/// Entries of each rule set's decision table.
pub const SLOTS: usize = 64;

/// The methods `methods` may name.
const METHODS: [Method; 7] = [
    Method::GET,
    Method::HEAD,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
    Method::OPTIONS,
];

/// A section's rules: those for methods it does not list, and per listed method the section's
/// rules plus the method's. `HEAD` without its own entry takes `GET`'s (it is a `GET` without
/// the body).
#[derive(Debug)]
pub struct Rules {
    base: Checked,
    methods: Vec<(Method, Checked)>,
}

impl Rules {
    /// Builds the rules of the section written under `key` (`routes[0]`, `camunda`); errors
    /// name the key of the rule (`routes[0].methods.POST.require_scopes`).
    pub fn new(key: &str, section: &AccessSection) -> Result<Self, ConfigError> {
        let base = add(
            Requirements::new(),
            key,
            &section.require_claims,
            &section.require_scopes,
        )?;
        let mut methods = Vec::new();
        for (name, rules) in &section.methods {
            let method_key = format!("{key}.methods.{}", toml_key(name));
            let method = METHODS
                .iter()
                .find(|m| m.as_str() == name)
                .cloned()
                .ok_or_else(|| {
                    ConfigError::new(
                        &method_key,
                        format!("{name:?} is not an HTTP method rules can be given for"),
                        "use GET, HEAD, POST, PUT, PATCH, DELETE or OPTIONS (upper case)",
                    )
                })?;
            let requirements = add(
                base.clone(),
                &method_key,
                &rules.require_claims,
                &rules.require_scopes,
            )?;
            methods.push((method, Checked::new(requirements)));
        }
        if !methods.iter().any(|(m, _)| m == Method::HEAD)
            && let Some((_, get)) = methods.iter().find(|(m, _)| m == Method::GET)
        {
            let head = Checked::new(get.requirements.clone());
            methods.push((Method::HEAD, head));
        }
        Ok(Self {
            base: Checked::new(base),
            methods,
        })
    }

    /// True when no rule applies to any method.
    pub fn is_empty(&self) -> bool {
        self.base.requirements.is_empty()
            && self
                .methods
                .iter()
                .all(|(_, checked)| checked.requirements.is_empty())
    }

    /// Checks the rules that apply to `method` against a validated token.
    pub fn check(&self, method: &Method, token: &Validated) -> Result<(), Denied> {
        self.methods
            .iter()
            .find(|(m, _)| m == method)
            .map_or(&self.base, |(_, checked)| checked)
            .check(token)
    }
}

/// One rule set and its remembered decisions.
struct Checked {
    requirements: Requirements,
    decisions: Box<[Mutex<Option<Decision>>]>,
}

type Decision = (Weak<Claims>, Result<(), Denied>);

impl std::fmt::Debug for Checked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.requirements.fmt(f)
    }
}

impl Checked {
    fn new(requirements: Requirements) -> Self {
        let slots = if requirements.is_empty() { 0 } else { SLOTS };
        Self {
            requirements,
            decisions: (0..slots).map(|_| Mutex::new(None)).collect(),
        }
    }

    fn check(&self, token: &Validated) -> Result<(), Denied> {
        if self.requirements.is_empty() {
            return Ok(());
        }
        let claims = Arc::as_ptr(&token.claims);
        // Allocations are at least 8-byte aligned: the low bits say nothing.
        let slot = &self.decisions[(claims as usize >> 4) % SLOTS];
        if let Some((seen, decision)) = &*slot.lock().unwrap_or_else(PoisonError::into_inner)
            && std::ptr::eq(seen.as_ptr(), claims)
        {
            return decision.clone();
        }
        let decision = self.requirements.check(token);
        *slot.lock().unwrap_or_else(PoisonError::into_inner) =
            Some((Arc::downgrade(&token.claims), decision.clone()));
        decision
    }
}

/// `requirements` with the claim and scope rules written under `key`.
fn add(
    mut requirements: Requirements,
    key: &str,
    claims: &BTreeMap<String, Value>,
    scopes: &[String],
) -> Result<Requirements, ConfigError> {
    for (path, value) in claims {
        let at = || format!("{key}.require_claims.{}", toml_key(path));
        requirements = match value {
            Value::Array(values) => requirements.any_of(path, values.iter().cloned()),
            one => requirements.claim(path, one.clone()),
        }
        .map_err(|err| config_error(at(), err))?;
    }
    requirements
        .scopes(scopes.iter().map(String::as_str))
        .map_err(|err| config_error(format!("{key}.require_scopes"), err))
}

fn config_error(key: String, err: RequirementError) -> ConfigError {
    let fix = match &err {
        RequirementError::InvalidPointer { .. } => {
            "write a JSON Pointer such as /realm_access/roles (`~1` for `/`, `~0` for `~`), or a top-level claim name"
        }
        RequirementError::UnsupportedValue { .. } | RequirementError::NoValue { .. } => {
            "give a string, number or boolean, or a non-empty array of them (any of)"
        }
        _ => "write each scope as one list entry, without spaces, quotes or backslashes",
    };
    ConfigError::new(key, err.to_string(), fix)
}

/// A TOML key as written: bare when it can be, else quoted.
fn toml_key(name: &str) -> String {
    let bare = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if bare {
        name.to_owned()
    } else {
        format!("{name:?}")
    }
}

#[cfg(test)]
#[path = "authz_tests.rs"]
mod tests;
