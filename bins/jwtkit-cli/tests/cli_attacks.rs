//! The attack corpus of `jwtkit_testsupport::attacks` against the real `jwtkit verify` binary:
//! every entry exits 1 with the one stderr line `invalid: <code>: <reason>` (and, with
//! `--json`, `{"valid": false, "code": <code>, ...}` on stdout), never panics, and never prints
//! the token back. Tokens too long for one command-line argument go through stdin; over 1 MiB
//! the CLI refuses them there with the library's own code, `token_too_large`. The corpus's
//! valid tokens are the control: they must pass.
//!
//! Failures are collected and reported by entry name; outputs are shown with every copy of the
//! token replaced, so no token ends up in the test log.

mod common;

use std::fmt::Write as _;
use std::path::Path;

use common::{jwtkit, tempdir, write_file};
use jwtkit_testsupport::attacks::{Corpus, Keys, Target};
use serde_json::Value;

/// Longer tokens go through stdin: Linux refuses a single argument over 128 KiB.
const MAX_ARGUMENT: usize = 64 * 1024;

struct Output {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// `jwtkit verify --jwks-file JWKS --iss ISS --aud AUD [--json] [-- TOKEN | < TOKEN]`.
fn verify(jwks: &Path, target: &Target, audience: &str, token: &str, json: bool) -> Output {
    let mut cmd = jwtkit();
    cmd.arg("verify").arg("--jwks-file").arg(jwks).args([
        "--iss",
        &target.issuer,
        "--aud",
        audience,
    ]);
    if json {
        cmd.arg("--json");
    }
    if token.len() <= MAX_ARGUMENT {
        cmd.args(["--", token]);
    } else {
        cmd.write_stdin(token.as_bytes().to_vec());
    }
    let output = cmd.output().expect("jwtkit runs");
    Output {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

impl Output {
    /// True when the token, or its signature segment, appears in the output.
    fn echoes(&self, token: &str) -> bool {
        let signature = token.rsplit('.').next().unwrap_or_default();
        [token, signature]
            .iter()
            .filter(|needle| needle.len() >= 16)
            .any(|needle| self.stdout.contains(needle) || self.stderr.contains(needle))
    }

    /// Both streams, cut short and with the token replaced, for a failure message.
    fn shown(&self, token: &str) -> String {
        let clean = |text: &str| {
            let text = if token.len() >= 8 {
                text.replace(token, "<token>")
            } else {
                text.to_owned()
            };
            text.chars().take(400).collect::<String>()
        };
        format!(
            "exit {:?}; stdout: {:?}; stderr: {:?}",
            self.code,
            clean(&self.stdout),
            clean(&self.stderr)
        )
    }

    /// What is wrong with this run as a rejection with `code`, if anything.
    fn rejection_problem(&self, code: &str, json: bool) -> Option<&'static str> {
        if self.code != Some(1) {
            return Some("exit code is not 1");
        }
        if self.stderr.contains("panicked") {
            return Some("panicked");
        }
        let lines: Vec<&str> = self.stderr.lines().collect();
        let prefix = format!("invalid: {code}: ");
        match lines.as_slice() {
            [line] => match line.strip_prefix(&prefix) {
                Some(reason) if !reason.trim().is_empty() => {}
                Some(_) => return Some("the reason is empty"),
                None => return Some("stderr is not `invalid: <expected code>: <reason>`"),
            },
            _ => return Some("stderr is not exactly one line"),
        }
        if json {
            let Ok(value) = serde_json::from_str::<Value>(&self.stdout) else {
                return Some("stdout is not one JSON document");
            };
            if value["valid"] != false || value["code"] != code {
                return Some("stdout JSON is not {valid: false, code: <expected code>}");
            }
            if value["reason"].as_str().is_none_or(str::is_empty) {
                return Some("stdout JSON has no reason");
            }
        } else if !self.stdout.is_empty() {
            return Some("stdout is not empty");
        }
        None
    }
}

struct Setup {
    _dir: tempfile::TempDir,
    jwks: std::path::PathBuf,
    target: Target,
    corpus: Corpus,
}

fn setup() -> Setup {
    let dir = tempdir();
    let keys = Keys::generate();
    let jwks = write_file(dir.path(), "issuer-jwks.json", &keys.issuer_jwks());
    let target = Target::now();
    let corpus = Corpus::build(&keys, &target);
    Setup {
        _dir: dir,
        jwks,
        target,
        corpus,
    }
}

#[test]
fn every_attack_is_rejected_by_jwtkit_verify_with_its_code_and_without_echo() {
    let s = setup();
    let mut failures = String::new();
    for attack in &s.corpus.attacks {
        // Over 1 MiB the CLI stops at reading stdin, with the code the library would give.
        for json in [false, true] {
            let run = verify(&s.jwks, &s.target, &s.target.audience, &attack.token, json);
            if let Some(problem) = run.rejection_problem(attack.code, json) {
                let _ = writeln!(
                    failures,
                    "{} (expected {}, json {json}): {problem}: {}",
                    attack.name,
                    attack.code,
                    run.shown(&attack.token)
                );
            }
            if run.echoes(&attack.token) {
                let _ = writeln!(failures, "{}: the token is echoed", attack.name);
            }
        }
    }
    assert!(failures.is_empty(), "corpus mismatches:\n{failures}");
}

#[test]
fn the_corpus_controls_pass_jwtkit_verify() {
    let s = setup();
    let mut failures = String::new();
    for legit in &s.corpus.legit {
        let run = verify(&s.jwks, &s.target, &s.target.audience, &legit.token, false);
        let claims: Option<Value> = serde_json::from_str(&run.stdout).ok();
        let iss_ok = claims
            .as_ref()
            .is_some_and(|c| c["iss"] == s.target.issuer.as_str());
        if run.code != Some(0) || !iss_ok || run.echoes(&legit.token) {
            let _ = writeln!(failures, "{}: {}", legit.name, run.shown(&legit.token));
        }
    }
    assert!(failures.is_empty(), "valid tokens refused:\n{failures}");
}

#[test]
fn a_valid_token_is_refused_under_another_audience() {
    let s = setup();
    let replay = &s.corpus.replay;
    let run = verify(&s.jwks, &s.target, &replay.audience, &replay.token, false);
    assert_eq!(run.code, Some(0), "{}", run.shown(&replay.token));
    for json in [false, true] {
        let run = verify(
            &s.jwks,
            &s.target,
            &replay.other_audience,
            &replay.token,
            json,
        );
        assert_eq!(
            run.rejection_problem(replay.code, json),
            None,
            "{}",
            run.shown(&replay.token)
        );
    }
}

/// The stdin cap counts bytes before decoding: a token over 1 MiB whose cut falls inside a
/// multi-byte character is still `token_too_large`, not a UTF-8 error.
#[test]
fn stdin_over_one_mebibyte_is_token_too_large_wherever_the_cut_falls() {
    let s = setup();
    for token in [
        "é".repeat(600_000),
        format!("a{}", "é".repeat(600_000)),
        "a".repeat(1024 * 1024 + 1),
    ] {
        let run = verify(&s.jwks, &s.target, &s.target.audience, &token, false);
        assert_eq!(
            run.rejection_problem("token_too_large", false),
            None,
            "{} bytes: {}",
            token.len(),
            run.shown(&token)
        );
    }
    // Exactly 1 MiB is read whole and refused by the library's cap (same code).
    let run = verify(
        &s.jwks,
        &s.target,
        &s.target.audience,
        &"a".repeat(1024 * 1024),
        false,
    );
    assert_eq!(
        run.rejection_problem("token_too_large", false),
        None,
        "{}",
        run.shown("")
    );
}
