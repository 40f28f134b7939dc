//! Authorization rules of a route (or of the `[camunda]` / `[centrifugo]` sections): the
//! section's `require_claims`, `require_scopes` and `allow_if`, plus those of the request's
//! method (`[routes.methods.POST]`), built once at load into [`jwtkit_verify::Requirements`] and
//! checked with [`Requirements::check`] (or `check_request` when an `allow_if` may read the
//! request).
//!
//! The decision is remembered per verified token: the registry's token cache hands back the
//! same `Arc<Claims>` for the same token, so each rule set keeps a small direct-mapped table
//! ([`SLOTS`] entries) from that `Arc`'s address to the decision. An entry holds a `Weak` to
//! the claims, which keeps the allocation (not the claims' contents) alive, so no other token's
//! claims can ever sit at the same address while the entry exists: a matching address is the
//! same token. A new token simply replaces what its slot held; the table never grows. A rule
//! set with an `allow_if` is checked on every request, since its expression may read the
//! request.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use axum::http::{HeaderMap, Method};
use jwtkit_verify::{Claims, Denied, RequirementError, Requirements, Validated};
use serde_json::Value;

use crate::config::{AccessSection, ConfigError, MethodRules};

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
        let base = add(Built::default(), key, &RuleKeys::from(section))?;
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
            let built = add(base.clone(), &method_key, &RuleKeys::from(rules))?;
            methods.push((method, Checked::new(built)));
        }
        if !methods.iter().any(|(m, _)| m == Method::HEAD)
            && let Some((_, get)) = methods.iter().find(|(m, _)| m == Method::GET)
        {
            let head = Checked::new(get.built.clone());
            methods.push((Method::HEAD, head));
        }
        Ok(Self {
            base: Checked::new(base),
            methods,
        })
    }

    /// True when no rule applies to any method.
    pub fn is_empty(&self) -> bool {
        self.base.built.requirements.is_empty()
            && self
                .methods
                .iter()
                .all(|(_, checked)| checked.built.requirements.is_empty())
    }

    /// Checks the rules that apply to the request (`method`, `path`, `headers`) against its
    /// validated token.
    pub fn check(
        &self,
        token: &Validated,
        method: &Method,
        path: &str,
        headers: &HeaderMap,
    ) -> Result<(), Denied> {
        let checked = self
            .methods
            .iter()
            .find(|(m, _)| m == method)
            .map_or(&self.base, |(_, checked)| checked);
        if checked.built.reads_request {
            return checked.check_request(token, method, path, headers);
        }
        checked.check(token)
    }
}

/// A rule set being built: the requirements, and whether an `allow_if` may read the request.
#[derive(Debug, Clone, Default)]
struct Built {
    requirements: Requirements,
    reads_request: bool,
}

/// The rule keys of a section or of one of its methods.
struct RuleKeys<'a> {
    claims: &'a BTreeMap<String, Value>,
    scopes: &'a [String],
    allow_if: Option<&'a str>,
}

impl<'a> From<&'a AccessSection> for RuleKeys<'a> {
    fn from(section: &'a AccessSection) -> Self {
        Self {
            claims: &section.require_claims,
            scopes: &section.require_scopes,
            allow_if: section.allow_if.as_deref(),
        }
    }
}

impl<'a> From<&'a MethodRules> for RuleKeys<'a> {
    fn from(rules: &'a MethodRules) -> Self {
        Self {
            claims: &rules.require_claims,
            scopes: &rules.require_scopes,
            allow_if: rules.allow_if.as_deref(),
        }
    }
}

/// One rule set and its remembered decisions.
struct Checked {
    built: Built,
    decisions: Box<[Mutex<Option<Decision>>]>,
}

type Decision = (Weak<Claims>, Result<(), Denied>);

impl std::fmt::Debug for Checked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.built.requirements.fmt(f)
    }
}

impl Checked {
    fn new(built: Built) -> Self {
        let cached = !built.requirements.is_empty() && !built.reads_request;
        let slots = if cached { SLOTS } else { 0 };
        Self {
            built,
            decisions: (0..slots).map(|_| Mutex::new(None)).collect(),
        }
    }

    #[cfg(feature = "cel")]
    fn check_request(
        &self,
        token: &Validated,
        method: &Method,
        path: &str,
        headers: &HeaderMap,
    ) -> Result<(), Denied> {
        let request = jwtkit_verify::RequestInfo {
            method: method.as_str(),
            path,
            headers,
        };
        self.built.requirements.check_request(token, &request)
    }

    #[cfg(not(feature = "cel"))]
    fn check_request(
        &self,
        token: &Validated,
        _: &Method,
        _: &str,
        _: &HeaderMap,
    ) -> Result<(), Denied> {
        // Without `cel` no rule set reads the request (`allow_if` is refused at load).
        self.built.requirements.check(token)
    }

    /// The decision for a token whose rules do not read the request, remembered.
    fn check(&self, token: &Validated) -> Result<(), Denied> {
        if self.decisions.is_empty() {
            return self.built.requirements.check(token);
        }
        let claims = Arc::as_ptr(&token.claims);
        // Allocations are at least 8-byte aligned: the low bits say nothing.
        let slot = &self.decisions[(claims as usize >> 4) % SLOTS];
        if let Some((seen, decision)) = &*slot.lock().unwrap_or_else(PoisonError::into_inner)
            && std::ptr::eq(seen.as_ptr(), claims)
        {
            return decision.clone();
        }
        let decision = self.built.requirements.check(token);
        *slot.lock().unwrap_or_else(PoisonError::into_inner) =
            Some((Arc::downgrade(&token.claims), decision.clone()));
        decision
    }
}

/// `built` with the rules written under `key` added.
fn add(mut built: Built, key: &str, keys: &RuleKeys<'_>) -> Result<Built, ConfigError> {
    let mut requirements = built.requirements;
    for (path, value) in keys.claims {
        let at = || format!("{key}.require_claims.{}", toml_key(path));
        requirements = match value {
            Value::Array(values) => requirements.any_of(path, values.iter().cloned()),
            one => requirements.claim(path, one.clone()),
        }
        .map_err(|err| config_error(at(), err))?;
    }
    requirements = requirements
        .scopes(keys.scopes.iter().map(String::as_str))
        .map_err(|err| config_error(format!("{key}.require_scopes"), err))?;
    if let Some(expression) = keys.allow_if {
        requirements = allow_if(requirements, key, expression)?;
        built.reads_request = true;
    }
    built.requirements = requirements;
    Ok(built)
}

/// The `allow_if` of the section or method under `key`, named by that key.
#[cfg(feature = "cel")]
fn allow_if(
    requirements: Requirements,
    key: &str,
    expression: &str,
) -> Result<Requirements, ConfigError> {
    requirements
        .allow_if(key, expression)
        .map_err(|err| config_error(format!("{key}.allow_if"), err))
}

#[cfg(not(feature = "cel"))]
fn allow_if(_: Requirements, key: &str, _: &str) -> Result<Requirements, ConfigError> {
    Err(ConfigError::new(
        format!("{key}.allow_if"),
        "this jwtkit-proxy was built without the `cel` feature",
        "build it with `--features cel` (the default), or remove allow_if",
    ))
}

fn config_error(key: String, err: RequirementError) -> ConfigError {
    let fix = match &err {
        RequirementError::InvalidPointer { .. } => {
            "write a JSON Pointer such as /realm_access/roles (`~1` for `/`, `~0` for `~`), or a top-level claim name"
        }
        RequirementError::UnsupportedValue { .. } | RequirementError::NoValue { .. } => {
            "give a string, number or boolean, or a non-empty array of them (any of)"
        }
        RequirementError::InvalidScope { .. } => {
            "write each scope as one list entry, without spaces, quotes or backslashes"
        }
        // `InvalidExpression`, present when jwtkit-verify is built with `cel`, which another
        // crate of the build may turn on without this one's feature.
        #[allow(unreachable_patterns)]
        _ => {
            "fix the CEL expression (it reads claims.NAME, request.method, request.path, request.headers and has_scope('s')); see docs/AUTHORIZATION.md"
        }
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
