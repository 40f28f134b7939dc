//! `jwtkit verify`: signature, claims and `--require-*` rules, exit 0 with the claims or 1 with
//! `invalid: code: reason`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use jwtkit_keys::{Algorithm, VerifyingKey};
use jwtkit_secret::SecretEncoding;
use jwtkit_verify::{
    CaMode, Denied, JwksCache, JwksConfig, Policy, Requirements, TrustRoots, Validator, VerifyError,
};
use serde_json::Value;

use crate::input::{self, DEFAULT_SECRET_ENV, SecretArgs};
use crate::{CliError, print_json};

/// Arguments of `jwtkit verify`.
#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// The token, or `-` (or nothing) to read it from stdin.
    token: Option<String>,
    #[command(flatten)]
    secret: SecretArgs,
    /// Public key (PEM), private key (its public half is used), or one JWK of any kty (oct too).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["secret_source", "jwks_file"])]
    key: Option<PathBuf>,
    /// A JWK Set file; the token's kid selects the key.
    #[arg(long, value_name = "FILE", conflicts_with = "secret_source")]
    jwks_file: Option<PathBuf>,
    /// A JWK Set URL to fetch the keys from.
    #[arg(long, value_name = "URL", conflicts_with_all = ["secret_source", "key", "jwks_file"])]
    jwks_url: Option<String>,
    /// An OIDC issuer URL: keys are found through its discovery document, which must declare
    /// this URL as its issuer (or, with --iss, the first --iss value), and `iss` must be this URL
    /// unless --iss says otherwise.
    #[arg(long, value_name = "URL", conflicts_with_all = ["secret_source", "key", "jwks_file", "jwks_url"])]
    issuer: Option<String>,
    /// PEM CA certificates trusted for the --jwks-url or --issuer fetches (an IdP behind a
    /// private CA), added to the system's roots unless --ca-mode replace.
    #[arg(long, value_name = "FILE")]
    ca_file: Option<PathBuf>,
    /// With --ca-file: `add` (its CAs and the system's, the default) or `replace` (its CAs only).
    #[arg(long, value_name = "MODE", requires = "ca_file", value_parser = parse_ca_mode)]
    ca_mode: Option<CaMode>,
    /// Accepted issuer; repeat for aliases. Without it `iss` is not checked.
    #[arg(long, value_name = "S")]
    iss: Vec<String>,
    /// Accepted audience (any of); repeat for several. Without it (and without
    /// --any-audience) a token that carries `aud` is refused: it is meant for someone else.
    #[arg(long, value_name = "S")]
    aud: Vec<String>,
    /// Accept the token whatever its `aud` says (looser than the default; RFC 7519 §4.1.3 asks
    /// a recipient not named in `aud` to refuse the token).
    #[arg(long, conflicts_with = "aud")]
    any_audience: bool,
    /// Accepted algorithm; repeat for several. Default: whatever the key allows.
    #[arg(long, value_name = "ALG")]
    alg: Vec<Algorithm>,
    /// Clock-skew allowance for exp/nbf/iat (90, 90s, 5m).
    #[arg(long, value_name = "DUR", default_value = "60s", value_parser = input::parse_seconds)]
    leeway: u64,
    /// Claim that must be present; repeat for several.
    #[arg(long = "require", value_name = "CLAIM")]
    required: Vec<String>,
    /// Required header typ (e.g. at+jwt).
    #[arg(long, value_name = "TYP")]
    typ: Option<String>,
    /// Accept tokens without exp (looser than the default).
    #[arg(long)]
    allow_missing_exp: bool,
    /// Authorization: the claim at PATH must be VALUE or, when it is an array, contain it.
    /// PATH is a JSON Pointer (RFC 6901: /realm_access/roles, /https:~1~1example.com~1roles
    /// with ~1 for / and ~0 for ~) or a top-level claim name (role). VALUE compares as a JSON
    /// number or boolean when it parses as one (3, 2.5, true), else as a string. Repeat for
    /// several rules, all of which must hold; the same PATH repeated accepts any of its values.
    /// A failed rule exits 1 with `invalid: insufficient_scope: <rule>`.
    #[arg(long, value_name = "PATH=VALUE", value_parser = parse_claim_rule)]
    require_claim: Vec<ClaimRule>,
    /// Authorization: SCOPE must be in the token's space-separated `scope` claim, or in `scp`
    /// (string or array); repeat for several, all required.
    #[arg(long, value_name = "SCOPE", value_parser = parse_scope)]
    require_scope: Vec<String>,
    /// Authorization: the CEL expression must evaluate to true over `claims` (the token's
    /// claims) and `has_scope('read')`: 'admin' in claims.realm_access.roles &&
    /// has_scope('orders:read'). Repeat for several, all required; they are named
    /// --allow-if[1], --allow-if[2], ... in that order. One that is false, fails to evaluate
    /// (a missing claim, a wrong type) or is not a boolean exits 1 with `invalid:
    /// insufficient_scope: allow_if "--allow-if[N]"`; one that does not compile is a usage
    /// error naming the line and column. `request` is empty here (no method, path or headers).
    #[arg(long, value_name = "CEL")]
    allow_if: Vec<String>,
    /// Check the signature only (for JWS whose payload is not a JWT claim set); prints the payload.
    #[arg(long, conflicts_with_all = ["iss", "aud", "any_audience", "required", "typ", "require_claim", "require_scope", "allow_if"])]
    signature_only: bool,
    /// On success print {"valid": true, "header", "claims"}; on failure also print
    /// {"valid": false, "code", "reason"} on stdout.
    #[arg(long)]
    json: bool,
}

/// One `--require-claim PATH=VALUE`.
#[derive(Clone, Debug)]
struct ClaimRule {
    path: String,
    value: Value,
}

/// `PATH=VALUE`, the path checked as a JSON Pointer here so a bad one is a usage error.
fn parse_claim_rule(text: &str) -> Result<ClaimRule, String> {
    let (path, raw) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?} is not PATH=VALUE"))?;
    let value = match serde_json::from_str::<Value>(raw) {
        Ok(value @ (Value::Number(_) | Value::Bool(_))) => value,
        _ => Value::String(raw.to_owned()),
    };
    Requirements::new()
        .claim(path, value.clone())
        .map_err(|err| err.to_string())?;
    Ok(ClaimRule {
        path: path.to_owned(),
        value,
    })
}

fn parse_scope(scope: &str) -> Result<String, String> {
    Requirements::new()
        .scopes([scope])
        .map_err(|err| err.to_string())?;
    Ok(scope.to_owned())
}

/// The `--require-claim` rules, grouped by path (any of a path's values), the scopes and the
/// `--allow-if` expressions.
fn requirements(args: &VerifyArgs) -> Result<Requirements, CliError> {
    let mut paths: Vec<&str> = Vec::new();
    for rule in &args.require_claim {
        if !paths.contains(&rule.path.as_str()) {
            paths.push(&rule.path);
        }
    }
    let mut requirements = Requirements::new();
    for path in paths {
        let values = args.require_claim.iter().filter(|rule| rule.path == path);
        requirements = requirements
            .any_of(path, values.map(|rule| rule.value.clone()))
            .map_err(CliError::usage)?;
    }
    requirements = requirements
        .scopes(args.require_scope.iter().cloned())
        .map_err(CliError::usage)?;
    for (index, expression) in args.allow_if.iter().enumerate() {
        let name = format!("--allow-if[{}]", index + 1);
        requirements = requirements
            .allow_if(&name, expression)
            .map_err(CliError::usage)?;
    }
    Ok(requirements)
}

fn parse_ca_mode(text: &str) -> Result<CaMode, String> {
    CaMode::from_name(text).ok_or_else(|| format!("{text:?} is not a CA mode; use add or replace"))
}

/// The CA roots of --ca-file, read now; `System` without it.
fn trust(args: &VerifyArgs) -> Result<TrustRoots, CliError> {
    let Some(path) = &args.ca_file else {
        return Ok(TrustRoots::System);
    };
    if args.jwks_url.is_none() && args.issuer.is_none() {
        return Err(CliError::usage(
            "--ca-file applies to the --jwks-url and --issuer fetches",
        ));
    }
    TrustRoots::from_pem_file(path, args.ca_mode.unwrap_or_default()).map_err(CliError::failure)
}

fn keys(args: &VerifyArgs) -> Result<Vec<VerifyingKey>, CliError> {
    let trust = trust(args)?;
    if let Some(path) = &args.key {
        return Ok(vec![input::verifying_key_from_file(path)?]);
    }
    if let Some(path) = &args.jwks_file {
        return input::verifying_keys_from_jwks_file(path);
    }
    if let Some(url) = &args.jwks_url {
        return fetch_keys(JwksConfig::jwks_url(url.clone()).with_trust(trust));
    }
    if let Some(issuer) = &args.issuer {
        // With --iss the IdP may be reached under another name than its tokens carry (Keycloak
        // behind Docker): its discovery document must then declare the (first) accepted `iss`.
        return fetch_keys(
            JwksConfig::discovery(issuer.clone(), args.iss.first().cloned()).with_trust(trust),
        );
    }
    let decoded = args.secret.load(&[DEFAULT_SECRET_ENV], SecretEncoding::Raw)?.ok_or_else(|| {
        CliError::failure(format!(
            "no key: pass --secret/--secret-env/--secret-file, --key FILE, --jwks-file FILE, --jwks-url URL or --issuer URL, or set {DEFAULT_SECRET_ENV}"
        ))
    })?;
    Ok(vec![
        VerifyingKey::hmac(&decoded.secret).map_err(CliError::failure)?,
    ])
}

/// Fetches a key set once (the CLI verifies one token; no cache is worth keeping).
fn fetch_keys(config: JwksConfig) -> Result<Vec<VerifyingKey>, CliError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|err| CliError::failure(format!("cannot start the async runtime: {err}")))?;
    let snapshot = runtime
        .block_on(async { JwksCache::new(config)?.refresh().await })
        .map_err(|err| CliError::Invalid {
            code: "jwks_unavailable",
            reason: err.to_string(),
        })?;
    for skipped in &snapshot.skipped {
        eprintln!("note: {skipped}");
    }
    Ok(snapshot.keys.clone())
}

pub fn run(args: VerifyArgs) -> Result<ExitCode, CliError> {
    let token = match input::read_token(args.token.as_deref()) {
        Ok(token) => token,
        // A token refused while reading (over the stdin cap) is an invalid token like any
        // other: --json promises its verdict on stdout too.
        Err(CliError::Invalid { code, reason }) if args.json => {
            print_json(&serde_json::json!({"valid": false, "code": code, "reason": reason}));
            return Err(CliError::Invalid { code, reason });
        }
        Err(err) => return Err(err),
    };
    let issuers = match (&args.issuer, args.iss.is_empty()) {
        (Some(issuer), true) => vec![issuer.clone()],
        _ => args.iss.clone(),
    };
    let policy = Policy {
        issuers,
        audiences: args.aud.clone(),
        accept_any_audience: args.any_audience,
        algorithms: args.alg.clone(),
        leeway_seconds: args.leeway,
        require_exp: !args.allow_missing_exp,
        required_claims: args.required.clone(),
        typ: args.typ.clone(),
        ..Policy::default()
    };
    let requirements = requirements(&args)?;
    let validator = Validator::new(keys(&args)?, policy);
    let outcome = if args.signature_only {
        validator
            .verify_signature(&token)
            .map_err(Verdict::from)
            .map(|verified| {
                let payload =
                    serde_json::from_slice::<Value>(&verified.payload).unwrap_or_else(|_| {
                        Value::String(String::from_utf8_lossy(&verified.payload).into_owned())
                    });
                (
                    serde_json::to_value(&verified.header).unwrap_or_default(),
                    payload,
                )
            })
    } else {
        validator
            .validate(&token)
            .map_err(Verdict::from)
            .and_then(|v| {
                requirements.check(&v)?;
                Ok((
                    serde_json::to_value(&v.header).unwrap_or_default(),
                    Value::Object(v.claims.map().clone()),
                ))
            })
    };
    match outcome {
        Ok((header, claims)) => {
            if args.json {
                print_json(&serde_json::json!({"valid": true, "header": header, "claims": claims}));
            } else if let Value::String(text) = &claims {
                println!("{text}");
            } else {
                print_json(&claims);
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(verdict) => {
            let (code, reason) = match verdict {
                Verdict::Invalid(err) => (err.code(), err.to_string()),
                Verdict::Denied(denied) => (denied.code(), denied.to_string()),
            };
            if args.json {
                print_json(&serde_json::json!({"valid": false, "code": code, "reason": reason}));
            }
            Err(CliError::Invalid { code, reason })
        }
    }
}

/// Why a token is not accepted: refused by validation, or valid but short of a requirement.
enum Verdict {
    Invalid(VerifyError),
    Denied(Denied),
}

impl From<VerifyError> for Verdict {
    fn from(err: VerifyError) -> Self {
        Self::Invalid(err)
    }
}

impl From<Denied> for Verdict {
    fn from(denied: Denied) -> Self {
        Self::Denied(denied)
    }
}
