//! The ratio summary printed after the criterion groups.
//!
//! Figures are criterion's own estimates (the median point estimate in
//! `<criterion dir>/<group>/<function>/new/estimates.json`). Only estimates written during this
//! run are used, so a ratio always compares two figures measured in the same run; a benchmark
//! that a filter skipped shows as "not run".

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

/// One ratio: jwtkit's figure over a reference figure, with the target when it has one.
struct Ratio {
    what: &'static str,
    ours: &'static str,
    reference: &'static str,
    /// The ratio must be at most this.
    target: Option<f64>,
}

const fn ratio(
    what: &'static str,
    ours: &'static str,
    reference: &'static str,
    target: Option<f64>,
) -> Ratio {
    Ratio {
        what,
        ours,
        reference,
        target,
    }
}

const RATIOS: &[Ratio] = &[
    // Verification against jsonwebtoken (same checks, claims as a JSON map on both sides).
    ratio(
        "HS256 verify, 5-claim service token: Registry / jsonwebtoken",
        "verify_hs256_service/jwtkit_registry",
        "verify_hs256_service/jsonwebtoken",
        Some(0.5),
    ),
    ratio(
        "HS256 verify, 5-claim service token: Validator / jsonwebtoken",
        "verify_hs256_service/jwtkit_validator",
        "verify_hs256_service/jsonwebtoken",
        Some(0.5),
    ),
    ratio(
        "HS256 verify, 5-claim service token: Validator / jwt-simple",
        "verify_hs256_service/jwtkit_validator",
        "verify_hs256_service/jwt_simple",
        None,
    ),
    ratio(
        "HS256 verify, 5-claim service token: Validator / aws-lc-rs HMAC",
        "verify_hs256_service/jwtkit_validator",
        "verify_hs256_service/aws_lc",
        None,
    ),
    ratio(
        "HS256 verify, 13-claim access token: Registry / jsonwebtoken",
        "verify_hs256/jwtkit_registry",
        "verify_hs256/jsonwebtoken",
        Some(0.5),
    ),
    ratio(
        "HS256 verify, 13-claim access token, claims map read: Validator / jsonwebtoken",
        "verify_hs256/jwtkit_validator_map",
        "verify_hs256/jsonwebtoken",
        None,
    ),
    ratio(
        "HS256 verify, 13-claim access token: Validator / jsonwebtoken",
        "verify_hs256/jwtkit_validator",
        "verify_hs256/jsonwebtoken",
        Some(0.5),
    ),
    ratio(
        "HS256 verify, 13-claim access token, typed: Validator / jsonwebtoken",
        "verify_hs256/jwtkit_validator_typed",
        "verify_hs256/jsonwebtoken_typed",
        Some(0.5),
    ),
    ratio(
        "HS256 verify, 13-claim access token: Validator / jwt-simple",
        "verify_hs256/jwtkit_validator",
        "verify_hs256/jwt_simple",
        None,
    ),
    ratio(
        "HS256 verify, 13-claim access token: Validator / aws-lc-rs HMAC",
        "verify_hs256/jwtkit_validator",
        "verify_hs256/aws_lc",
        None,
    ),
    ratio(
        "RS256 verify, 5-claim service token: Registry (JWKS) / aws-lc-rs",
        "verify_rs256_service/jwtkit_registry",
        "verify_rs256_service/aws_lc",
        Some(1.10),
    ),
    ratio(
        "RS256 verify, 5-claim service token: Validator / aws-lc-rs",
        "verify_rs256_service/jwtkit_validator",
        "verify_rs256_service/aws_lc",
        Some(1.10),
    ),
    ratio(
        "RS256 verify, 5-claim service token: Registry (JWKS) / jsonwebtoken",
        "verify_rs256_service/jwtkit_registry",
        "verify_rs256_service/jsonwebtoken",
        None,
    ),
    ratio(
        "RS256 verify, 13-claim access token: Registry (JWKS) / aws-lc-rs",
        "verify_rs256/jwtkit_registry",
        "verify_rs256/aws_lc",
        Some(1.10),
    ),
    ratio(
        "RS256 verify, 13-claim access token: Validator / aws-lc-rs",
        "verify_rs256/jwtkit_validator",
        "verify_rs256/aws_lc",
        Some(1.10),
    ),
    ratio(
        "RS256 verify, 13-claim access token: Registry (JWKS) / jsonwebtoken",
        "verify_rs256/jwtkit_registry",
        "verify_rs256/jsonwebtoken",
        None,
    ),
    ratio(
        "RS256 verify, 13-claim access token: Registry (JWKS) / jwt-simple",
        "verify_rs256/jwtkit_registry",
        "verify_rs256/jwt_simple",
        None,
    ),
    ratio(
        "ES256 verify, 13-claim access token: Registry (JWKS) / aws-lc-rs",
        "verify_es256/jwtkit_registry",
        "verify_es256/aws_lc",
        Some(1.10),
    ),
    ratio(
        "ES256 verify, 13-claim access token: Validator / aws-lc-rs",
        "verify_es256/jwtkit_validator",
        "verify_es256/aws_lc",
        Some(1.10),
    ),
    ratio(
        "ES256 verify, 13-claim access token: Registry (JWKS) / jsonwebtoken",
        "verify_es256/jwtkit_registry",
        "verify_es256/jsonwebtoken",
        None,
    ),
    ratio(
        "ES256 verify, 13-claim access token: Registry (JWKS) / jwt-simple",
        "verify_es256/jwtkit_registry",
        "verify_es256/jwt_simple",
        None,
    ),
    ratio(
        "EdDSA verify, 13-claim access token: Registry (JWKS) / aws-lc-rs",
        "verify_eddsa/jwtkit_registry",
        "verify_eddsa/aws_lc",
        Some(1.10),
    ),
    ratio(
        "EdDSA verify, 13-claim access token: Validator / aws-lc-rs",
        "verify_eddsa/jwtkit_validator",
        "verify_eddsa/aws_lc",
        Some(1.10),
    ),
    ratio(
        "EdDSA verify, 13-claim access token: Registry (JWKS) / jsonwebtoken",
        "verify_eddsa/jwtkit_registry",
        "verify_eddsa/jsonwebtoken",
        None,
    ),
    ratio(
        "EdDSA verify, 13-claim access token: Registry (JWKS) / jwt-simple",
        "verify_eddsa/jwtkit_registry",
        "verify_eddsa/jwt_simple",
        None,
    ),
    // Caches.
    ratio(
        "verified-token cache hit (HS256 token) / jsonwebtoken HS256 decode",
        "caches/token_cache_hit_hs256",
        "verify_hs256/jsonwebtoken",
        Some(0.1),
    ),
    ratio(
        "verified-token cache hit (RS256 token) / jsonwebtoken HS256 decode",
        "caches/token_cache_hit_rs256",
        "verify_hs256/jsonwebtoken",
        Some(0.1),
    ),
    ratio(
        "JWKS key lookup / jsonwebtoken HS256 decode",
        "caches/jwks_key_lookup",
        "verify_hs256/jsonwebtoken",
        None,
    ),
    // Minting.
    ratio(
        "HS256 mint camunda / jsonwebtoken encode",
        "mint_hs256/camunda_jwtkit",
        "mint_hs256/camunda_jsonwebtoken",
        Some(1.0),
    ),
    ratio(
        "HS256 mint centrifugo / jsonwebtoken encode",
        "mint_hs256/centrifugo_jwtkit",
        "mint_hs256/centrifugo_jsonwebtoken",
        None,
    ),
    ratio(
        "HS256 mint generic / jsonwebtoken encode",
        "mint_hs256/generic_jwtkit",
        "mint_hs256/generic_jsonwebtoken",
        None,
    ),
    ratio(
        "HS256 mint camunda / jwt-simple",
        "mint_hs256/camunda_jwtkit",
        "mint_hs256/camunda_jwt_simple",
        None,
    ),
    ratio(
        "cached minted credential / jsonwebtoken HS256 camunda encode",
        "mint_hs256/camunda_cached",
        "mint_hs256/camunda_jsonwebtoken",
        Some(0.05),
    ),
    ratio(
        "RS256 mint camunda / jsonwebtoken encode",
        "mint_rs256/camunda_jwtkit",
        "mint_rs256/camunda_jsonwebtoken",
        Some(0.5),
    ),
    ratio(
        "RS256 mint centrifugo / jsonwebtoken encode",
        "mint_rs256/centrifugo_jwtkit",
        "mint_rs256/centrifugo_jsonwebtoken",
        Some(0.5),
    ),
    ratio(
        "RS256 mint generic / jsonwebtoken encode",
        "mint_rs256/generic_jwtkit",
        "mint_rs256/generic_jsonwebtoken",
        Some(0.5),
    ),
    ratio(
        "RS256 mint camunda / jwt-simple",
        "mint_rs256/camunda_jwtkit",
        "mint_rs256/camunda_jwt_simple",
        None,
    ),
    ratio(
        "RS256 mint camunda / aws-lc-rs sign alone",
        "mint_rs256/camunda_jwtkit",
        "mint_rs256/aws_lc_sign",
        None,
    ),
];

/// Where criterion writes, found the way criterion finds it.
fn criterion_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(target).join("criterion");
    }
    let from_metadata = std::env::var_os("CARGO").and_then(|cargo| {
        let output = Command::new(cargo)
            .args(["metadata", "--format-version", "1", "--no-deps"])
            .output()
            .ok()?;
        let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).ok()?;
        Some(PathBuf::from(metadata["target_directory"].as_str()?))
    });
    from_metadata
        .unwrap_or_else(|| PathBuf::from("target"))
        .join("criterion")
}

/// The median estimate in nanoseconds, if written at or after `since`.
fn median_ns(dir: &Path, id: &str, since: SystemTime) -> Option<f64> {
    let path = dir.join(id).join("new").join("estimates.json");
    let modified = std::fs::metadata(&path).ok()?.modified().ok()?;
    if modified < since {
        return None;
    }
    let estimates: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).ok()?).ok()?;
    estimates["median"]["point_estimate"].as_f64()
}

fn human(ns: f64) -> String {
    if ns >= 1_000_000.0 {
        format!("{:.2} ms", ns / 1_000_000.0)
    } else if ns >= 1_000.0 {
        format!("{:.2} us", ns / 1_000.0)
    } else {
        format!("{ns:.0} ns")
    }
}

/// Every `group/function` with an estimate written during this run, sorted.
fn measured(dir: &Path, since: SystemTime) -> Vec<(String, f64)> {
    let mut found = Vec::new();
    let Ok(groups) = std::fs::read_dir(dir) else {
        return found;
    };
    for group in groups.flatten() {
        let Ok(functions) = std::fs::read_dir(group.path()) else {
            continue;
        };
        for function in functions.flatten() {
            let id = format!(
                "{}/{}",
                group.file_name().to_string_lossy(),
                function.file_name().to_string_lossy()
            );
            if let Some(ns) = median_ns(dir, &id, since) {
                found.push((id, ns));
            }
        }
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found
}

/// Prints every figure and every ratio whose two figures were measured in this run.
pub fn print(since: SystemTime) {
    let dir = criterion_dir();
    println!();
    println!("== all figures of this run (median) ==");
    for (id, ns) in measured(&dir, since) {
        println!("{id:<45} {:>10}", human(ns));
    }
    println!();
    println!("== jwtkit benchmark summary ==");
    println!(
        "median estimates of this run, from {}; ratio = jwtkit / reference",
        dir.display()
    );
    println!();
    println!(
        "{:<68} {:>10} {:>10} {:>8} {:>7}  status",
        "measure", "jwtkit", "reference", "ratio", "target"
    );
    let (mut met, mut missed, mut not_run) = (0, 0, 0);
    for r in RATIOS {
        let ours = median_ns(&dir, r.ours, since);
        let reference = median_ns(&dir, r.reference, since);
        let target = r.target.map_or_else(String::new, |t| format!("<={t:.2}x"));
        match (ours, reference) {
            (Some(ours), Some(reference)) => {
                let value = ours / reference;
                let status = match r.target {
                    Some(t) if value <= t => {
                        met += 1;
                        "met"
                    }
                    Some(_) => {
                        missed += 1;
                        "NOT MET"
                    }
                    None => "",
                };
                println!(
                    "{:<68} {:>10} {:>10} {:>7.3}x {:>7}  {status}",
                    r.what,
                    human(ours),
                    human(reference),
                    value,
                    target
                );
            }
            _ => {
                not_run += 1;
                println!(
                    "{:<68} {:>10} {:>10} {:>8} {:>7}  not run",
                    r.what, "-", "-", "-", target
                );
            }
        }
    }
    println!();
    for (what, id) in [
        (
            "one Runtime::block_on of a ready future (not in any figure above)",
            "caches/tokio_block_on",
        ),
        (
            "JWKS cache key lookup (keys_for_kid + kid match)",
            "caches/jwks_key_lookup",
        ),
    ] {
        if let Some(ns) = median_ns(&dir, id, since) {
            println!("{what}: {}", human(ns));
        }
    }
    // Authorization: absolute targets, in nanoseconds.
    let figure = |id| median_ns(&dir, id, since);
    let added = figure("authz/cache_hit_declarative")
        .zip(figure("authz/cache_hit_keycloak"))
        .map(|(with, without)| with - without);
    for (what, ns, target) in [
        (
            "declarative check added to a cache hit (cache_hit_declarative - cache_hit_keycloak)",
            added,
            200.0,
        ),
        (
            "declarative check alone (authz/declarative_check)",
            figure("authz/declarative_check"),
            200.0,
        ),
        (
            "CEL allow_if evaluated, not cached (authz/cel_allow_if)",
            figure("authz/cel_allow_if"),
            2_000.0,
        ),
    ] {
        let Some(ns) = ns else {
            not_run += 1;
            println!("{what}: not run (target <= {})", human(target));
            continue;
        };
        let status = if ns <= target {
            met += 1;
            "met"
        } else {
            missed += 1;
            "NOT MET"
        };
        println!(
            "{what}: {} (target <= {}) {status}",
            human(ns),
            human(target)
        );
    }
    println!("targets met: {met}, not met: {missed}; ratios not measured in this run: {not_run}");
}
