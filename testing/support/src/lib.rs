//! Test support shared by the workspace's integration tests.
//!
//! [`attacks`] builds the attack-token corpus run against the library, the CLI and the proxy.
//! [`Idp`] runs `testing/idp/idp.mjs` (the npm package `oidc-provider`) on 127.0.0.1 as a child
//! process. It stops when the [`Idp`] is dropped, when the test process dies (its stdin pipe
//! closes), or after its maximum lifetime. [`jwks_server::JwksServer`] serves a JWK Set the test
//! changes at will, from inside the test process.

pub mod attacks;
pub mod jwks_server;
pub mod leaks;
pub mod tls;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

/// A running test IdP.
pub struct Idp {
    child: Child,
    _stdin: ChildStdin,
    /// The port on 127.0.0.1.
    pub port: u16,
    /// The issuer string in tokens and discovery.
    pub issuer: String,
    /// `http://127.0.0.1:PORT`: where to fetch from.
    pub base_url: String,
    /// The JWKS URL.
    pub jwks_uri: String,
    token_endpoint: String,
    http: reqwest::Client,
}

/// The folder of the test IdP.
pub fn idp_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../idp")
}

impl Idp {
    /// Starts the IdP; `issuer` may contain `{port}` (e.g. `http://localhost:{port}`) and defaults
    /// to `http://127.0.0.1:PORT`. Panics with instructions when Node or the package is missing.
    pub fn start(issuer: Option<&str>, token_ttl_seconds: u64) -> Self {
        let dir = idp_dir();
        assert!(
            dir.join("node_modules/oidc-provider").is_dir(),
            "the test IdP (npm oidc-provider) is not installed: run `bash scripts/test.sh`, which \
             installs it (or `npm ci --prefix testing/idp`)"
        );
        let mut command = Command::new("node");
        command
            .arg(dir.join("idp.mjs"))
            .args([
                "--port",
                "0",
                "--max-lifetime",
                "600",
                "--ttl",
                &token_ttl_seconds.to_string(),
            ])
            .stderr(Stdio::inherit());
        if let Some(issuer) = issuer {
            command.args(["--issuer", issuer]);
        }
        let (child, stdin, ready) = start_with_ready_line(
            &mut command,
            "the test IdP",
            Duration::from_secs(30),
            "node must be installed (Node.js 20+)",
        );
        let text = |name: &str| ready[name].as_str().expect("ready line field").to_owned();
        let port = ready["port"].as_u64().expect("port") as u16;
        Self {
            child,
            _stdin: stdin,
            port,
            issuer: text("issuer"),
            base_url: format!("http://127.0.0.1:{port}"),
            jwks_uri: text("jwks_uri"),
            token_endpoint: text("token_endpoint"),
            http: reqwest::Client::new(),
        }
    }

    /// An access token from the client-credentials grant: `test-client` signs RS256,
    /// `test-client-es` ES256; `resource` picks the audience (`urn:jwtkit:api` by default).
    pub async fn token(&self, client: &str, resource: Option<&str>) -> String {
        self.token_with_scope(client, resource, None).await
    }

    /// [`Idp::token`] asking for `scope` (`api:read`, `api:write`, or both space-separated):
    /// the token's `scope` claim holds what was granted (unknown scopes are dropped).
    pub async fn token_with_scope(
        &self,
        client: &str,
        resource: Option<&str>,
        scope: Option<&str>,
    ) -> String {
        let mut form = vec![("grant_type", "client_credentials")];
        if let Some(resource) = resource {
            form.push(("resource", resource));
        }
        if let Some(scope) = scope {
            form.push(("scope", scope));
        }
        let response = self
            .http
            .post(&self.token_endpoint)
            .basic_auth(client, Some("test-secret"))
            .form(&form)
            .send()
            .await
            .expect("token request");
        let body: Value = response.json().await.expect("token response JSON");
        body["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no access_token in {body}"))
            .to_owned()
    }

    async fn admin(&self, path: &str, body: Value) -> Value {
        let url = format!("{}/__admin/{path}", self.base_url);
        let response = self
            .http
            .post(url)
            .json(&body)
            .send()
            .await
            .expect("admin request");
        assert!(
            response.status().is_success(),
            "admin {path}: {}",
            response.status()
        );
        response.json().await.expect("admin JSON")
    }

    /// New signing keys first in the JWKS; old ones kept unless `drop_old`. Returns the reply.
    pub async fn rotate(&self, drop_old: bool) -> Value {
        self.admin("rotate", serde_json::json!({ "drop_old": drop_old }))
            .await
    }

    /// Makes the JWKS endpoint answer `status` (0 restores) after `delay_ms`.
    pub async fn set_jwks_status(&self, status: u16, delay_ms: u64) {
        self.admin(
            "jwks-status",
            serde_json::json!({ "status": status, "delay_ms": delay_ms }),
        )
        .await;
    }

    /// Sets the Cache-Control header of JWKS responses.
    pub async fn set_jwks_cache_control(&self, value: &str) {
        self.admin("jwks-cache-control", serde_json::json!({ "value": value }))
            .await;
    }

    /// How many JWKS requests the IdP has served (failures included).
    pub async fn jwks_requests(&self) -> u64 {
        let url = format!("{}/__admin/stats", self.base_url);
        let stats: Value = self
            .http
            .get(url)
            .send()
            .await
            .expect("stats")
            .json()
            .await
            .expect("stats JSON");
        stats["jwks_requests"].as_u64().expect("jwks_requests")
    }

    /// Stops the IdP now (simulates an outage).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Idp {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Spawns a test server that prints one JSON line when it is ready (`{"port": ..., ...}`) and
/// exits when its stdin closes: returns the child, the stdin to hold while it should run, and
/// the parsed line. Panics naming `what` (and `missing`, the install hint) when it cannot start.
pub fn start_with_ready_line(
    command: &mut Command,
    what: &str,
    wait: Duration,
    missing: &str,
) -> (Child, ChildStdin, Value) {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| panic!("{what} cannot start ({err}): {missing}"));
    let stdin = child.stdin.take().expect("piped stdin");
    let stdout = child.stdout.take().expect("piped stdout");
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = sender.send(line);
    });
    let line = receiver
        .recv_timeout(wait)
        .unwrap_or_else(|_| panic!("{what} did not start within {wait:?}"));
    let ready: Value =
        serde_json::from_str(&line).unwrap_or_else(|_| panic!("{what}: bad ready line {line:?}"));
    (child, stdin, ready)
}

/// `testing/vectors`: the RFC 7520 / 7515 / 8037 JWS vectors, kept in the repository; panics when
/// they are missing (never skips).
pub fn vectors_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../vectors");
    assert!(
        dir.join("rfc7515-rfc8037.json").is_file() && dir.join("rfc7520").is_dir(),
        "test vectors not found at {} (expected testing/vectors/rfc7515-rfc8037.json and \
         testing/vectors/rfc7520/4_*.json in the repository)",
        dir.display()
    );
    dir
}

/// A JSON file, with a message naming it when it cannot be read or parsed.
pub fn read_json(path: &std::path::Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()));
    serde_json::from_str(&text)
        .unwrap_or_else(|err| panic!("{} is not JSON: {err}", path.display()))
}

/// Deterministic pseudo-random bytes (xorshift).
pub fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    out
}
