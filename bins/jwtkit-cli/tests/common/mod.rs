//! Helpers shared by the CLI integration tests: run the real `jwtkit` binary as a subprocess and
//! look at its exit code, stdout and stderr.
//!
//! Every command starts with the secret variables of the replaced setups (JWT_SECRET_KEY, ENGINE_JWT_SECRET, ...) removed, so a secret
//! exported in the developer's shell can never make a test pass or fail.

// Each test file uses a different subset of these helpers.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use jwtkit_keys::{Algorithm, SigningKey, b64};
use jwtkit_mint::Minter;
use jwtkit_secret::Secret;
use serde_json::Value;

/// Variables the CLI (mint, verify, secret, doctor) falls back to when no secret flag is given.
pub const SECRET_ENVS: [&str; 3] = ["JWT_SECRET_KEY", "ENGINE_JWT_SECRET", "JWT_SECRET"];

/// A `jwtkit` command with no inherited secret variables.
pub fn jwtkit() -> Command {
    let mut cmd = Command::cargo_bin("jwtkit").expect("the jwtkit binary is built for tests");
    for name in SECRET_ENVS {
        cmd.env_remove(name);
    }
    cmd
}

/// The outcome of one run of the binary.
#[derive(Debug)]
pub struct Run {
    /// The command line, for failure messages.
    pub what: String,
    /// Exit code (None when killed by a signal, e.g. a panic with abort).
    pub code: Option<i32>,
    /// Standard output, lossily decoded.
    pub stdout: String,
    /// Standard error, lossily decoded.
    pub stderr: String,
}

/// Runs `jwtkit ARGS` with no stdin.
pub fn run<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    run_with(jwtkit().args(args))
}

/// Runs a prepared command (extra env, stdin, ...).
pub fn run_with(cmd: &mut Command) -> Run {
    let what = format!("{:?}", cmd);
    let output = cmd.output().expect("jwtkit runs");
    Run {
        what,
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

impl Run {
    fn context(&self) -> String {
        format!(
            "command: {}\nexit code: {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.what, self.code, self.stdout, self.stderr
        )
    }

    /// Asserts the exit code.
    #[track_caller]
    pub fn exit(self, code: i32) -> Self {
        assert_eq!(
            self.code,
            Some(code),
            "expected exit {code}\n{}",
            self.context()
        );
        if code != 0 {
            assert!(
                !self.stderr.contains("panicked"),
                "the CLI panicked\n{}",
                self.context()
            );
        }
        self
    }

    /// Asserts exit 0.
    #[track_caller]
    pub fn ok(self) -> Self {
        self.exit(0)
    }

    /// Asserts the token-rejection contract: exit 1 and exactly one stderr line
    /// `invalid: <code>: <reason>` with a non-empty reason.
    #[track_caller]
    pub fn invalid(self, code: &str) -> Self {
        let run = self.exit(1);
        let lines: Vec<&str> = run.stderr.lines().collect();
        assert_eq!(
            lines.len(),
            1,
            "stderr must be exactly one line\n{}",
            run.context()
        );
        let prefix = format!("invalid: {code}: ");
        let reason = lines[0]
            .strip_prefix(&prefix)
            .unwrap_or_else(|| panic!("stderr must start with {prefix:?}\n{}", run.context()));
        assert!(
            !reason.trim().is_empty(),
            "the reason is empty\n{}",
            run.context()
        );
        run
    }

    /// Asserts stderr contains every one of `needles` (case-sensitive).
    #[track_caller]
    pub fn stderr_has(self, needles: &[&str]) -> Self {
        for needle in needles {
            assert!(
                self.stderr.contains(needle),
                "stderr should mention {needle:?}\n{}",
                self.context()
            );
        }
        self
    }

    /// Asserts stdout contains every one of `needles` (case-sensitive).
    #[track_caller]
    pub fn stdout_has(self, needles: &[&str]) -> Self {
        for needle in needles {
            assert!(
                self.stdout.contains(needle),
                "stdout should mention {needle:?}\n{}",
                self.context()
            );
        }
        self
    }

    /// Asserts neither stream contains `secret`.
    #[track_caller]
    pub fn leaks_nothing(self, secret: &str) -> Self {
        assert!(!secret.is_empty());
        assert!(
            !self.stdout.contains(secret) && !self.stderr.contains(secret),
            "the secret {secret:?} was echoed\n{}",
            self.context()
        );
        self
    }

    /// Asserts stdout is nothing but one JSON document and returns it.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|err| {
            panic!("stdout is not one JSON document: {err}\n{}", self.context())
        })
    }

    /// Asserts stdout is exactly one non-empty line and returns it without the newline.
    #[track_caller]
    pub fn line(&self) -> String {
        let lines: Vec<&str> = self.stdout.lines().collect();
        assert!(
            lines.len() == 1 && !lines[0].trim().is_empty() && self.stdout.ends_with('\n'),
            "stdout must be exactly one line\n{}",
            self.context()
        );
        lines[0].to_owned()
    }

    /// The stdout lines containing `needle`.
    pub fn stdout_lines_with(&self, needle: &str) -> Vec<String> {
        self.stdout
            .lines()
            .filter(|line| line.contains(needle))
            .map(str::to_owned)
            .collect()
    }
}

/// `jwtkit mint ARGS`, asserting success and that stdout is the token alone; returns the token.
#[track_caller]
pub fn mint<I, S>(args: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let run = run_with(jwtkit().arg("mint").args(args)).ok();
    let token = run.line();
    assert_eq!(token.split('.').count(), 3, "not a compact JWS: {token}");
    token
}

/// A new random secret from `jwtkit secret generate --bytes N` (base64url text).
#[track_caller]
pub fn generate_secret(bytes: usize) -> String {
    run(["secret", "generate", "--bytes", &bytes.to_string()])
        .ok()
        .line()
}

/// Decodes one base64url segment of a token as JSON, independently of the CLI.
#[track_caller]
pub fn segment(token: &str, index: usize) -> Value {
    let part = token
        .split('.')
        .nth(index)
        .unwrap_or_else(|| panic!("token has no segment {index}: {token}"));
    let bytes = b64::decode(part).unwrap_or_else(|_| panic!("segment {index} is not base64url"));
    serde_json::from_slice(&bytes)
        .unwrap_or_else(|err| panic!("segment {index} is not JSON: {err}"))
}

/// The JOSE header of a token.
pub fn header(token: &str) -> Value {
    segment(token, 0)
}

/// The claims of a token.
pub fn claims(token: &str) -> Value {
    segment(token, 1)
}

/// Current Unix time in seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64
}

/// An HS256 token over arbitrary claims (for times the CLI cannot mint, e.g. exp in the past),
/// signed with `key` as raw bytes.
pub fn craft_hs256(key: &[u8], claims: &Value) -> String {
    let secret = Secret::from_bytes(key.to_vec()).expect("non-empty key");
    let signer = SigningKey::hmac(Algorithm::HS256, &secret).expect("key of at least 32 bytes");
    Minter::new(signer).mint(claims).expect("claims serialise")
}

/// Writes `contents` to `dir/name` and returns the path.
pub fn write_file(dir: &Path, name: &str, contents: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap_or_else(|err| panic!("write {}: {err}", path.display()));
    path
}

/// Reads a file as text.
#[track_caller]
pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|err| panic!("read {}: {err}", path.display()))
}

/// The files `jwtkit keygen --out DIR` writes, and the kid of its JWKS entry.
pub struct KeyFiles {
    pub private_pem: PathBuf,
    pub public_pem: PathBuf,
    pub jwks: PathBuf,
    pub kid: String,
}

/// Runs `jwtkit keygen --alg ALG --out DIR`, asserting success.
#[track_caller]
pub fn keygen(alg: &str, dir: &Path) -> KeyFiles {
    let out = dir.to_str().expect("UTF-8 temp path");
    run(["keygen", "--alg", alg, "--out", out]).ok();
    let jwks = dir.join("jwks.json");
    let set: Value = serde_json::from_str(&read(&jwks)).expect("jwks.json is JSON");
    let kid = set["keys"][0]["kid"]
        .as_str()
        .unwrap_or_else(|| panic!("{alg}: jwks.json has no kid: {set}"))
        .to_owned();
    KeyFiles {
        private_pem: dir.join("private.pem"),
        public_pem: dir.join("public.pem"),
        jwks,
        kid,
    }
}

/// `p` as a `&str` for command lines.
pub fn s(p: &Path) -> &str {
    p.to_str().expect("UTF-8 temp path")
}

/// A fresh temporary directory.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}
