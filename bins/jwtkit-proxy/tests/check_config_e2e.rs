//! `jwtkit-proxy --check-config FILE`: the configuration is checked as a start would check it
//! (environment overrides, secrets, key files, the built proxy) and the process exits: 0 with
//! one `ok` line, or 1 naming the key. It never serves, never fetches a JWK Set and never
//! prints a secret.

mod common;

use std::io::ErrorKind;
use std::net::TcpListener;

use common::*;

const UPSTREAM_AND_ROUTE: &str = r#"
[[upstreams]]
name = "engine"
url = "http://127.0.0.1:9/engine-rest"

[[routes]]
prefix = "/engine-rest"
upstream = "engine"
"#;

/// Writes `toml` to a file and runs `--check-config` on it with `env`; returns the file's path
/// (as printed) and the outcome.
fn check(toml: &str, env: &[(&str, &str)]) -> (String, Exit) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("proxy.toml");
    std::fs::write(&path, toml).expect("write config");
    let path = path.display().to_string();
    let exit = run_args_to_exit(&["--check-config", &path], env);
    assert!(!exit.stderr.contains("panicked"), "{}", exit.stderr);
    (path, exit)
}

/// Expects exit code 1 with `key` named on stderr and nothing on stdout.
fn refused(toml: &str, env: &[(&str, &str)], key: &str) -> Exit {
    let (_, exit) = check(toml, env);
    assert_refused(&exit, key);
    assert!(exit.stdout.is_empty(), "{}", exit.stdout);
    exit
}

#[test]
fn a_valid_file_exits_0_with_one_ok_line_and_never_prints_the_secret() {
    let toml = format!("{HS_ISSUER_TOML}{UPSTREAM_AND_ROUTE}");
    let (path, exit) = check(&toml, &[("JWT_SECRET_KEY", HS_SECRET)]);
    assert_eq!(exit.code, Some(0), "{exit:?}");
    assert_eq!(
        exit.stdout,
        format!("config {path}: ok (1 issuers, 1 routes)")
    );
    assert!(!exit.stderr.contains(HS_SECRET), "{}", exit.stderr);
}

#[test]
fn problems_exit_1_naming_the_key() {
    let hs = [("JWT_SECRET_KEY", HS_SECRET)];
    let with_route = |extra: &str| format!("{HS_ISSUER_TOML}{UPSTREAM_AND_ROUTE}{extra}");
    // An unknown key.
    refused(
        &with_route("[limits]\nmax_body_byte = 5\n"),
        &hs,
        "max_body_byte",
    );
    // A secret variable that is not set.
    refused(&with_route(""), &[], "issuers[0].secret");
    // A key file that cannot be read.
    refused(
        &format!(
            "[[issuers]]\nname = \"k\"\niss = [\"urn:k\"]\npublic_key_file = \"/nonexistent/jwtkit/key.pem\"\n{UPSTREAM_AND_ROUTE}"
        ),
        &[],
        "issuers[0].public_key_file",
    );
    // A JSON Pointer that is not one.
    refused(
        &with_route("require_claims = { \"/realm_access/~roles\" = \"admin\" }\n"),
        &hs,
        r#"routes[0].require_claims."/realm_access/~roles""#,
    );
    // A trusted proxy that is not a network.
    refused(
        &format!(
            "trusted_proxies = [\"10.0.0.0/8\", \"10.0.0.1\"]\n{}",
            with_route("")
        ),
        &hs,
        "trusted_proxies[1]",
    );
    // The environment overrides of a start are applied and checked too.
    refused(
        &with_route(""),
        &[("JWT_SECRET_KEY", HS_SECRET), ("JWTKIT_LOG_LEVEL", "loud")],
        "JWTKIT_LOG_LEVEL",
    );
    // A file that does not exist.
    let exit = run_args_to_exit(&["--check-config", "/nonexistent/jwtkit/proxy.toml"], &[]);
    assert_eq!(exit.code, Some(1), "{exit:?}");
    assert!(
        exit.stderr.contains("/nonexistent/jwtkit/proxy.toml"),
        "{}",
        exit.stderr
    );
}

#[test]
fn every_unreadable_source_and_every_cross_check_problem_is_listed() {
    // Five problems at once: a secret variable not set, a key file that is not there, a route
    // to an upstream nobody declared, a prefix without its `/`, an upstream that is not HTTP.
    // Each is its own `error:` line naming its key.
    let toml = format!(
        "{HS_ISSUER_TOML}\n[[issuers]]\nname = \"k\"\niss = [\"urn:k\"]\npublic_key_file = \"/nonexistent/jwtkit/key.pem\"\n{UPSTREAM_AND_ROUTE}\n[[routes]]\nprefix = \"/other\"\nupstream = \"missing\"\n\n[[routes]]\nprefix = \"third\"\nupstream = \"engine\"\n\n[[upstreams]]\nname = \"files\"\nurl = \"ftp://127.0.0.1/\"\n"
    );
    let (_, exit) = check(&toml, &[]);
    assert_eq!(exit.code, Some(1), "{exit:?}");
    for key in [
        "issuers[0].secret",
        "issuers[1].public_key_file",
        "routes[1].upstream",
        "routes[2].prefix",
        "upstreams[1].url",
    ] {
        assert_refused(&exit, key);
    }
    let lines: Vec<&str> = exit
        .stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect();
    assert_eq!(lines.len(), 5, "{}", exit.stderr);
    assert!(exit.stdout.is_empty(), "{}", exit.stdout);
}

#[test]
fn an_unusable_secret_is_refused_without_being_echoed() {
    let short = "tiny-secret-XYZ";
    let exit = refused(
        &format!("{HS_ISSUER_TOML}{UPSTREAM_AND_ROUTE}"),
        &[("JWT_SECRET_KEY", short)],
        "issuers[0].secret",
    );
    assert!(!exit.stderr.contains(short), "{}", exit.stderr);
}

#[test]
fn the_check_fetches_no_jwks() {
    // One JWKS URL on a closed port, one on a listener that is never answered: a fetch would
    // fail for the first and leave a connection waiting on the second.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let watched = listener.local_addr().expect("addr");
    let closed = closed_port();
    let toml = format!(
        r#"
[[issuers]]
name = "closed"
iss = ["https://closed.example"]
jwks_url = "http://127.0.0.1:{closed}/jwks"
accept_any_audience = true

[[issuers]]
name = "watched"
iss = ["https://watched.example"]
jwks_url = "http://{watched}/jwks"
accept_any_audience = true
{UPSTREAM_AND_ROUTE}"#
    );
    let (path, exit) = check(&toml, &[]);
    assert_eq!(exit.code, Some(0), "{exit:?}");
    assert_eq!(
        exit.stdout,
        format!("config {path}: ok (2 issuers, 1 routes)")
    );
    match listener.accept() {
        Err(err) if err.kind() == ErrorKind::WouldBlock => {}
        other => panic!("the check connected to the JWKS URL: {other:?}"),
    }
}

#[test]
fn check_config_conflicts_with_dev() {
    let exit = run_args_to_exit(&["--check-config", "proxy.toml", "--dev"], &[]);
    assert_eq!(exit.code, Some(2), "{exit:?}");
    assert!(
        exit.stderr.contains("cannot be used with"),
        "{}",
        exit.stderr
    );
}
