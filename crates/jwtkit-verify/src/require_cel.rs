//! `allow_if` rules: CEL expressions (the Common Expression Language, with the `cel` crate) over
//! the token's claims and the request, compiled once when the rule is added.
//!
//! An expression sees `claims` (the token's claims), `request.method`, `request.path` and
//! `request.headers` (lower-case header names to string values; repeated headers joined with
//! `, `), and the function `has_scope('read')` (true when the scope is in `scope` or `scp`, read
//! as [`Requirements::scopes`](crate::Requirements::scopes) reads them).
//!
//! Only the top-level claims an expression names (`claims.realm_access`, `claims['scp']`) are
//! converted to CEL values per check: converting a whole claim set costs far more than
//! evaluating a typical rule. An expression that uses `claims` any other way (`size(claims)`,
//! `claims[name]`) gets them all.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, LazyLock};

use cel::common::ast::{EntryExpr, Expr, IdedExpr, LiteralValue, MapExpr, StructExpr};
use cel::common::types::{
    CelBool, CelDouble, CelInt, CelList, CelMap, CelMapKey as Key, CelNull, CelString, CelUInt,
};
use cel::common::value::Val;
use cel::{Context, Env, ExecutionError, Program, Value};
use serde_json::Value as Json;

use crate::ClaimMap;
use crate::require::{RequestInfo, RequirementError};

/// The standard CEL environment, built once for every rule.
static ENV: LazyLock<Arc<Env>> = LazyLock::new(|| Arc::new(Env::stdlib()));

/// Which top-level claims an expression reads.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ClaimUse {
    /// These claims only (possibly none).
    Named(BTreeSet<String>),
    /// The whole claim set.
    All,
}

/// A compiled `allow_if` rule.
#[derive(Debug)]
pub(crate) struct CelRule {
    program: Program,
    /// `allow_if "<name>"`, as the denial names it.
    pub(crate) text: Arc<str>,
    claims: ClaimUse,
    /// Whether `request.headers` (or `request` as a whole) is read: headers are converted only then.
    headers: bool,
    /// Whether `has_scope` is called.
    scope_function: bool,
}

/// Why an `allow_if` rule did not allow: the kind, never a value from the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EvalFailure {
    /// The expression evaluated to `false`.
    False,
    /// The expression evaluated to something other than a boolean.
    NotBool,
    /// The expression failed to evaluate: the error's kind.
    Error(&'static str),
}

impl CelRule {
    /// Compiles `expression`; a syntax error names the rule and the position.
    pub(crate) fn compile(name: &str, expression: &str) -> Result<Self, RequirementError> {
        let program = ENV.compile(expression).map_err(|errors| {
            let first = errors.errors.first();
            RequirementError::InvalidExpression {
                rule: name.into(),
                line: first.map_or(0, |error| error.pos.0),
                column: first.map_or(0, |error| error.pos.1),
                message: first.map_or_else(|| errors.to_string(), |error| error.msg.clone()),
            }
        })?;
        let mut claims = ClaimUse::Named(BTreeSet::new());
        let mut headers = false;
        scan(program.expression(), &mut claims, &mut headers);
        let scope_function = program.references().has_function("has_scope");
        Ok(Self {
            program,
            text: format!("allow_if {name:?}").into(),
            claims,
            headers,
            scope_function,
        })
    }

    /// Evaluates the rule: `Ok` when it yields `true`.
    pub(crate) fn evaluate(
        &self,
        claims: &ClaimMap,
        request: &RequestInfo<'_>,
    ) -> Result<(), EvalFailure> {
        let mut context = Context::with_env(ENV.clone());
        context.add_variable_as_val("claims", self.claim_value(claims));
        context.add_variable_as_val("request", self.request_value(request));
        if self.scope_function {
            // The function outlives this borrow of the claims: it keeps a copy of the two it reads.
            let scopes: ClaimMap = ["scope", "scp"]
                .into_iter()
                .filter_map(|name| Some((name.to_owned(), claims.get(name)?.clone())))
                .collect();
            let added = context.add_function("has_scope", move |scope: Arc<String>| {
                crate::require::has_scope(&scopes, &scope)
            });
            // `has_scope` is no standard function, so adding it cannot conflict.
            debug_assert!(added.is_ok());
        }
        match self.program.execute(&context) {
            Ok(Value::Bool(true)) => Ok(()),
            Ok(Value::Bool(false)) => Err(EvalFailure::False),
            Ok(_) => Err(EvalFailure::NotBool),
            Err(error) => Err(EvalFailure::Error(error_kind(&error))),
        }
    }

    /// The claims the expression reads, borrowed from the claim map (no string is copied).
    fn claim_value<'a>(&self, claims: &'a ClaimMap) -> Box<dyn Val + 'a> {
        let map: HashMap<Key<'a>, Box<dyn Val + 'a>> = match &self.claims {
            ClaimUse::All => claims
                .iter()
                .map(|(name, value)| (Key::from(name.as_str()), to_val(value)))
                .collect(),
            ClaimUse::Named(names) => names
                .iter()
                .filter_map(|name| {
                    let (name, value) = claims.get_key_value(name)?;
                    Some((Key::from(name.as_str()), to_val(value)))
                })
                .collect(),
        };
        Box::new(CelMap::from(map))
    }

    fn request_value<'a>(&self, request: &RequestInfo<'a>) -> Box<dyn Val + 'a> {
        let mut map: HashMap<Key<'a>, Box<dyn Val + 'a>> = HashMap::with_capacity(3);
        map.insert(
            Key::from("method"),
            Box::new(CelString::from(request.method)),
        );
        map.insert(Key::from("path"), Box::new(CelString::from(request.path)));
        if self.headers {
            let headers: HashMap<Key<'a>, Box<dyn Val + 'a>> = request
                .headers
                .keys()
                .filter_map(|name| {
                    let value = header_value(request.headers, name)?;
                    Some((
                        Key::from(name.as_str()),
                        Box::new(CelString::from(value)) as _,
                    ))
                })
                .collect();
            map.insert(Key::from("headers"), Box::new(CelMap::from(headers)));
        }
        Box::new(CelMap::from(map))
    }
}

/// A header's value as a string: one value borrowed, several joined with `, `; `None` when one
/// is not visible ASCII (left out rather than guessed at).
fn header_value<'a>(headers: &'a http::HeaderMap, name: &http::HeaderName) -> Option<Cow<'a, str>> {
    let mut values = headers.get_all(name).iter();
    let first = values.next()?.to_str().ok()?;
    let mut joined: Option<String> = None;
    for value in values {
        let text = joined.get_or_insert_with(|| first.to_owned());
        text.push_str(", ");
        text.push_str(value.to_str().ok()?);
    }
    Some(joined.map_or(Cow::Borrowed(first), Cow::Owned))
}

/// A JSON value as CEL sees it, borrowing its strings: integers as `int` (or `uint` above
/// `i64`), other numbers as `double`.
fn to_val(value: &Json) -> Box<dyn Val + '_> {
    match value {
        Json::Null => Box::new(CelNull),
        Json::Bool(b) => Box::new(CelBool::from(*b)),
        Json::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Box::new(CelInt::from(i)),
            (None, Some(u)) => Box::new(CelUInt::from(u)),
            _ => Box::new(CelDouble::from(n.as_f64().unwrap_or(f64::NAN))),
        },
        Json::String(s) => Box::new(CelString::from(s.as_str())),
        Json::Array(items) => Box::new(CelList::from(items.iter().map(to_val).collect::<Vec<_>>())),
        Json::Object(map) => Box::new(CelMap::from(
            map.iter()
                .map(|(k, v)| (Key::from(k.as_str()), to_val(v)))
                .collect::<HashMap<_, _>>(),
        )),
    }
}

/// Logs why a rule did not allow (its name and the failure's kind, never a claim value).
pub(crate) fn log_failure(rule: &str, failure: EvalFailure) {
    match failure {
        EvalFailure::False => {}
        EvalFailure::NotBool => {
            tracing::warn!(
                rule,
                kind = "not_bool",
                "allow_if rule did not yield a boolean: denied"
            );
        }
        EvalFailure::Error(kind) => {
            tracing::info!(rule, kind, "allow_if rule failed to evaluate: denied");
        }
    }
}

/// A stable name for an evaluation error, safe to log: the error's text may quote claim values.
fn error_kind(error: &ExecutionError) -> &'static str {
    match error {
        ExecutionError::NoSuchKey(_) => "no_such_key",
        ExecutionError::NoSuchOverload(_) => "no_such_overload",
        ExecutionError::UndeclaredReference(_) => "undeclared_reference",
        ExecutionError::UnexpectedType { .. } | ExecutionError::UnsupportedTargetType { .. } => {
            "wrong_type"
        }
        ExecutionError::ValuesNotComparable(..) => "not_comparable",
        ExecutionError::IndexOutOfBounds(_) => "index_out_of_bounds",
        ExecutionError::DivisionByZero(_) | ExecutionError::RemainderByZero(_) => {
            "division_by_zero"
        }
        ExecutionError::Overflow(..) => "overflow",
        ExecutionError::FunctionError { .. } => "function_error",
        ExecutionError::InvalidArgumentCount { .. } => "invalid_argument_count",
        _ => "evaluation_error",
    }
}

/// Records what `expr` reads of `claims` (the top-level claims it names, or all of them) and
/// whether it reads `request.headers`. `claims.x`, `has(claims.x)` and `claims['x']` name `x`;
/// any other use of `claims` (`size(claims)`, `claims[k]`, a bare `claims`) reads them all.
fn scan(expr: &IdedExpr, claims: &mut ClaimUse, headers: &mut bool) {
    let ident = |e: &IdedExpr, name: &str| matches!(&e.expr, Expr::Ident(n) if n == name);
    let mut children = |exprs: &mut dyn Iterator<Item = &IdedExpr>| {
        exprs.for_each(|e| scan(e, claims, headers));
    };
    match &expr.expr {
        Expr::Ident(name) if name == "claims" => *claims = ClaimUse::All,
        Expr::Ident(name) if name == "request" => *headers = true,
        Expr::Select(select) if ident(&select.operand, "claims") => {
            name_claim(claims, &select.field);
        }
        Expr::Select(select) if ident(&select.operand, "request") => {
            *headers |= select.field == "headers";
        }
        Expr::Select(select) => children(&mut std::iter::once(&*select.operand)),
        Expr::Call(call) => {
            let constant_index = match (call.func_name.as_str(), call.args.as_slice()) {
                ("_[_]", [operand, index]) => match &index.expr {
                    Expr::Literal(LiteralValue::String(field)) => Some((operand, field.inner())),
                    _ => None,
                },
                _ => None,
            };
            match constant_index {
                Some((operand, field)) if ident(operand, "claims") => name_claim(claims, field),
                Some((operand, field)) if ident(operand, "request") => {
                    *headers |= field == "headers";
                }
                _ => children(&mut call.target.as_deref().into_iter().chain(&call.args)),
            }
        }
        Expr::Comprehension(c) => children(
            &mut [
                &c.iter_range,
                &c.accu_init,
                &c.loop_cond,
                &c.loop_step,
                &c.result,
            ]
            .into_iter(),
        ),
        Expr::List(list) => children(&mut list.elements.iter()),
        Expr::Map(MapExpr { entries }) | Expr::Struct(StructExpr { entries, .. }) => {
            for entry in entries {
                match &entry.expr {
                    EntryExpr::StructField(field) => scan(&field.value, claims, headers),
                    EntryExpr::MapEntry(pair) => {
                        scan(&pair.key, claims, headers);
                        scan(&pair.value, claims, headers);
                    }
                }
            }
        }
        Expr::Ident(_) | Expr::Literal(_) | Expr::Unspecified => {}
    }
}

fn name_claim(claims: &mut ClaimUse, field: &str) {
    if let ClaimUse::Named(names) = claims {
        names.insert(field.to_owned());
    }
}

#[cfg(test)]
#[path = "require_cel_tests.rs"]
mod tests;
