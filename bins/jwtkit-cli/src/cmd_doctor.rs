//! `jwtkit doctor`: explain why a token fails, in the order people get it wrong: which secret
//! and which reading of it (raw, base64, ...), the algorithm, the times, the profile's claims.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use jwtkit_keys::{Algorithm, KeyKind, b64, hmac_matches_for_diagnosis};
use jwtkit_secret::{Secret, SecretSource};
use serde_json::{Map, Value};

use crate::cmd_decode::{Payload, decode_unverified};
use crate::cmd_mint::Profile;
use crate::input::{self, DEFAULT_SECRET_ENV};
use crate::{CliError, human};

/// Arguments of `jwtkit doctor`.
#[derive(Args, Debug)]
pub struct DoctorArgs {
    /// The token, or `-` (or nothing) to read it from stdin.
    token: Option<String>,
    /// A candidate secret; repeat to compare several.
    // Hyphen values: a base64url secret (`jwtkit secret generate`) may start with `-`.
    #[arg(long, value_name = "VALUE", allow_hyphen_values = true)]
    secret: Vec<String>,
    /// An environment variable holding a candidate secret; repeatable.
    #[arg(long, value_name = "NAME")]
    secret_env: Vec<String>,
    /// A file holding a candidate secret; repeatable.
    #[arg(long, value_name = "PATH")]
    secret_file: Vec<PathBuf>,
    /// A public key or JWK, for asymmetric tokens.
    #[arg(long, value_name = "FILE")]
    key: Option<PathBuf>,
    /// The algorithm the verifier expects.
    #[arg(long, value_name = "ALG")]
    alg: Option<Algorithm>,
    /// The claim profile the consumer expects (guessed from the claims when absent).
    #[arg(long, value_enum)]
    profile: Option<Profile>,
}

/// Collects findings; any problem makes the exit code 1.
#[derive(Default)]
struct Report {
    problems: usize,
}

impl Report {
    fn ok(&self, text: impl AsRef<str>) {
        println!("  ok       {}", text.as_ref());
    }
    fn info(&self, text: impl AsRef<str>) {
        println!("  note     {}", text.as_ref());
    }
    fn problem(&mut self, text: impl AsRef<str>) {
        self.problems += 1;
        println!("  PROBLEM  {}", text.as_ref());
    }
}

pub fn run(args: DoctorArgs) -> Result<ExitCode, CliError> {
    let token = input::read_token(args.token.as_deref())?;
    let decoded = decode_unverified(&token)?;
    let mut report = Report::default();
    let alg_name = decoded
        .header
        .get("alg")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    println!(
        "token: alg {alg_name}, kid {}, typ {}",
        decoded
            .header
            .get("kid")
            .and_then(Value::as_str)
            .unwrap_or("-"),
        decoded
            .header
            .get("typ")
            .and_then(Value::as_str)
            .unwrap_or("-")
    );

    let claims = match decoded.payload {
        Payload::Json(Value::Object(map)) => Some(map),
        _ => None,
    };
    let profile = args
        .profile
        .or_else(|| claims.as_ref().and_then(guess_profile));

    println!("signature:");
    match alg_name.parse::<Algorithm>() {
        Err(err) => report.problem(err.to_string()),
        Ok(alg) => {
            if let Some(expected) = args.alg.filter(|expected| *expected != alg) {
                report.problem(format!(
                    "the token is signed with {alg} but the verifier expects {expected}"
                ));
            }
            check_signature(&args, &token, alg, profile, &mut report)?;
        }
    }

    let claims = claims.unwrap_or_else(|| {
        report.problem("the payload is not a JSON object, so this is not a JWT claim set");
        Map::new()
    });
    println!("times:");
    check_times(&claims, &mut report);
    if let Some(profile) = profile {
        let name = profile
            .to_possible_value()
            .map(|v| v.get_name().to_owned())
            .unwrap_or_default();
        println!("claims for the {name} profile:");
        check_profile(profile, &claims, &mut report);
    }
    if report.problems == 0 {
        println!("verdict: no problem found");
        Ok(ExitCode::SUCCESS)
    } else {
        println!("verdict: {} problem(s) found", report.problems);
        Ok(ExitCode::from(1))
    }
}

fn candidate_sources(args: &DoctorArgs) -> Vec<SecretSource> {
    let mut sources: Vec<SecretSource> = args
        .secret
        .iter()
        .map(|s| SecretSource::literal(s.clone()))
        .chain(args.secret_env.iter().map(|n| SecretSource::Env(n.clone())))
        .chain(
            args.secret_file
                .iter()
                .map(|p| SecretSource::File(p.clone())),
        )
        .collect();
    if sources.is_empty() {
        // The variables of the setups jwtkit replaces (generate_jwt.py, the FastAPI proxy, the engine), when present.
        for name in [DEFAULT_SECRET_ENV, "ENGINE_JWT_SECRET", "JWT_SECRET"] {
            if std::env::var_os(name).is_some() {
                sources.push(SecretSource::Env(name.to_owned()));
            }
        }
    }
    sources
}

fn check_signature(
    args: &DoctorArgs,
    token: &str,
    alg: Algorithm,
    profile: Option<Profile>,
    report: &mut Report,
) -> Result<(), CliError> {
    let Some((signing_input, signature)) = token.rsplit_once('.') else {
        return Ok(());
    };
    let Ok(signature) = b64::decode(signature) else {
        report.problem("the signature segment is not unpadded base64url");
        return Ok(());
    };
    if alg.key_kind() != KeyKind::Hmac {
        let sources = candidate_sources(args);
        if !sources.is_empty() && args.key.is_none() {
            report.problem(format!(
                "the token is signed with {alg}, an asymmetric algorithm: a shared secret cannot verify it; \
                 pass the issuer's public key with --key (or use `jwtkit verify --jwks-file`)"
            ));
        }
        if let Some(path) = &args.key {
            let key = input::verifying_key_from_file(path)?;
            match key.verify(alg, signing_input.as_bytes(), &signature) {
                Ok(()) => report.ok(format!("{alg} signature verifies with {}", path.display())),
                Err(err) => report.problem(format!("{}: {err}", path.display())),
            }
        } else if sources.is_empty() {
            report.info("no key given (--key FILE): signature not checked");
        }
        return Ok(());
    }
    let sources = candidate_sources(args);
    if sources.is_empty() {
        report.info(format!("no secret given (--secret, --secret-env, --secret-file, or {DEFAULT_SECRET_ENV}): signature not checked"));
        return Ok(());
    }
    let min = alg.hmac().map_or(32, |h| h.min_key_len());
    let mut matched = false;
    for (number, source) in sources.iter().enumerate() {
        let text = match source.read_text() {
            Ok(text) => text,
            Err(err) => {
                report.problem(err.to_string());
                continue;
            }
        };
        println!("  secret #{} ({}):", number + 1, source.describe());
        // Readings that give the same bytes (base64 and base64url of text without + / - _) are one.
        let mut readings: Vec<(String, Secret)> = Vec::new();
        for reading in Secret::interpretations(&text) {
            match readings.iter_mut().find(|(_, s)| s.ct_eq(&reading.secret)) {
                Some((names, _)) => names.push_str(&format!("/{}", reading.encoding)),
                None => readings.push((reading.encoding.to_string(), reading.secret)),
            }
        }
        for (names, secret) in &readings {
            let verifies = hmac_matches_for_diagnosis(
                alg,
                secret.expose_bytes(),
                signing_input.as_bytes(),
                &signature,
            );
            let what = format!(
                "read as {names:<16} {:>3} bytes  {}",
                secret.len(),
                secret.fingerprint()
            );
            if !verifies {
                println!("           {what}  no match");
                continue;
            }
            matched = true;
            if secret.len() < min {
                report.problem(format!(
                    "{what}  MATCHES, but {alg} needs at least {min} bytes (RFC 7518); verifiers such as \
                     jwtkit and the Camunda engine refuse or replace such a key"
                ));
            } else if profile == Some(Profile::Camunda) && !names.split('/').any(|n| n == "base64")
            {
                // The Camunda engine base64-decodes its secret, whatever the signer did.
                report.problem(format!(
                    "{what}  MATCHES, but the Camunda engine base64-decodes its secret, so it will \
                     reject this token; sign with the base64 reading (jwtkit mint --profile camunda does)"
                ));
            } else {
                report.ok(format!(
                    "{what}  MATCHES: the signer read this secret {}; give the verifier the same \
                     reading (--secret-encoding {})",
                    reading_phrase(names),
                    names.split('/').next().unwrap_or_default()
                ));
            }
        }
    }
    if !matched {
        report.problem(
            "no reading of any given secret verifies the signature: the token was signed with another \
             secret. Compare `jwtkit secret fingerprint` on both sides (fingerprints cover the decoded bytes)",
        );
    }
    Ok(())
}

/// `raw` -> "as plain text"; `base64/base64url` -> "as base64 (or base64url)".
fn reading_phrase(encodings: &str) -> String {
    match encodings.split_once('/') {
        _ if encodings == "raw" => "as plain text".into(),
        Some((first, rest)) => format!("as {first} (or {})", rest.replace('/', ", ")),
        None => format!("as {encodings}"),
    }
}

fn check_times(claims: &Map<String, Value>, report: &mut Report) {
    let now = jwtkit_mint::now();
    for name in ["exp", "nbf", "iat"] {
        match claims.get(name) {
            Some(Value::Number(_)) | None => {}
            Some(Value::String(_)) => report.problem(format!(
                "{name} is a string; it must be a number of seconds since 1970 (serialise datetimes with int(dt.timestamp()))"
            )),
            Some(other) => report.problem(format!("{name} is a JSON {}; it must be a number", type_name(other))),
        }
    }
    for note in human::time_notes(claims, now) {
        report.info(note);
    }
    let number = |name: &str| claims.get(name).and_then(Value::as_f64).map(|v| v as i64);
    let leeway = jwtkit_verify::DEFAULT_LEEWAY_SECONDS as i64;
    if let Some(exp) = number("exp") {
        if exp + leeway <= now {
            report.problem(format!(
                "the token expired {} ({})",
                human::relative(exp, now),
                human::date(exp)
            ));
        } else if exp <= now {
            report.info(format!(
                "expired {}, still inside the usual {leeway} s clock-skew leeway",
                human::relative(exp, now)
            ));
        }
    }
    if let Some(nbf) = number("nbf")
        && nbf > now + leeway
    {
        report.problem(format!(
            "the token is not valid yet: nbf is {}",
            human::relative(nbf, now)
        ));
    }
    if let Some(iat) = number("iat")
        && iat > now + leeway
    {
        report.problem(format!(
            "iat is {} in the future: the signer's clock is ahead (verifiers refuse it as issued_in_future)",
            human::span((iat - now).unsigned_abs())
        ));
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Spelling-insensitive form: `is_active`, `IsActive` and `isActive` are the same claim to a person.
fn loose(name: &str) -> String {
    name.chars()
        .filter(|c| *c != '_' && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

fn guess_profile(claims: &Map<String, Value>) -> Option<Profile> {
    let has = |wanted: &str| claims.keys().any(|k| loose(k) == loose(wanted));
    if has("isActive") || has("isSuperuser") || has("isVerified") {
        Some(Profile::Camunda)
    } else if claims.contains_key("channel") {
        Some(Profile::CentrifugoSub)
    } else if claims.contains_key("channels") {
        Some(Profile::Centrifugo)
    } else {
        None
    }
}

/// (claim, JSON type) pairs a consumer requires.
fn required(profile: Profile) -> &'static [(&'static str, &'static str)] {
    match profile {
        Profile::Camunda => &[
            ("sub", "string"),
            ("email", "string"),
            ("isActive", "boolean"),
            ("isSuperuser", "boolean"),
            ("isVerified", "boolean"),
            ("iat", "number"),
            ("exp", "number"),
        ],
        Profile::Centrifugo => &[("sub", "string")],
        Profile::CentrifugoSub => &[("sub", "string"), ("channel", "string")],
        Profile::Generic => &[],
    }
}

fn check_profile(profile: Profile, claims: &Map<String, Value>, report: &mut Report) {
    for (name, expected_type) in required(profile) {
        match claims.get(*name) {
            Some(value) if type_name(value) == *expected_type => report.ok(format!("{name} present")),
            // Wrong-typed time claims are reported under "times" already.
            Some(_) if ["iat", "exp"].contains(name) => {}
            Some(value) => {
                report.problem(format!("{name} is a {}, the consumer needs a {expected_type}", type_name(value)))
            }
            None => match claims.keys().find(|k| loose(k) == loose(name)) {
                Some(near) => report.problem(format!(
                    "{name} is missing, but `{near}` is present: the consumer needs the exact name `{name}`"
                )),
                None => report.problem(format!("{name} is missing")),
            },
        }
    }
    match profile {
        Profile::Centrifugo => {
            if claims.get("sub").and_then(Value::as_str) == Some("") {
                report.info(
                    "sub is empty: Centrifugo treats the connection as anonymous (\"user\":\"\")",
                );
            }
            if claims.contains_key("channel") {
                report.problem("a connection token must not have `channel`: Centrifugo reads it as a subscription token");
            }
            match claims.get("channels") {
                None => report.info("no `channels`: the client must subscribe itself (needs permission or subscription tokens)"),
                Some(Value::Array(items)) if items.iter().all(Value::is_string) => report.ok("channels is a list of strings"),
                Some(_) => report.problem("`channels` must be an array of strings"),
            }
        }
        Profile::Camunda => {
            for key in claims
                .keys()
                .filter(|k| !required(profile).iter().any(|(n, _)| n == *k))
            {
                report.info(format!("extra claim `{key}` (ignored by the engine)"));
            }
        }
        Profile::Generic | Profile::CentrifugoSub => {}
    }
}
