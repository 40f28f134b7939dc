//! Harness of the proxy's end-to-end tests: the real `jwtkit-proxy` binary and the fake Camunda
//! engine (`testing/fake-engine/engine.py`) as child processes on 127.0.0.1, the real
//! oidc-provider IdP from `jwtkit-testsupport`, HS256 tokens minted with `jwtkit-mint`.
//!
//! Every process stops by itself: the engine when its stdin pipe closes (the test ends or
//! dies) or after its maximum lifetime; the proxy is killed on drop and, on Linux, by the
//! kernel when the test thread that started it dies (`PR_SET_PDEATHSIG`).

// Each test file uses a different subset of these helpers.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jwtkit_keys::{Algorithm, SigningKey, b64};
use jwtkit_mint::{Expiry, GenericProfile, Minter};
use jwtkit_secret::Secret;
use serde_json::{Map, Value, json};

/// The inbound HS256 secret (`JWT_SECRET_KEY`, as for `generate_jwt.py`); TOML-configured
/// proxies get it.
pub const HS_SECRET: &str = "an-api-secret-of-more-than-32-bytes-for-tests";
/// The engine's JWT secret (base64 of 32 bytes, as the Camunda engine's JWT plugin reads it).
pub const ENGINE_SECRET_B64: &str = "dGhlLWVuZ2luZS1zZWNyZXQtb2YtMzItYnl0ZXMhISE=";
/// Another valid engine secret, for a proxy that disagrees with the engine.
pub const OTHER_ENGINE_SECRET_B64: &str = "YW5vdGhlci1lbmdpbmUtc2VjcmV0LTMyLWJ5dGVzISE=";
/// `iss` value configured for the HS256 issuer (its tokens carry none).
pub const HS_ISS: &str = "urn:jwtkit:hs";

/// The `[[issuers]]` section of the HS256 issuer (`api`), without `iss` in its tokens.
pub const HS_ISSUER_TOML: &str = r#"
[[issuers]]
name = "api"
iss = ["urn:jwtkit:hs"]
secret = { env = "JWT_SECRET_KEY" }
algorithms = ["HS256"]
allow_missing_iss = true
"#;

/// The `[[issuers]]` section of the test IdP (`idp`), JWKS over HTTP.
pub fn idp_issuer_toml(idp: &jwtkit_testsupport::Idp) -> String {
    format!(
        r#"
[[issuers]]
name = "idp"
iss = ["{}"]
jwks_url = "{}"
audiences = ["urn:jwtkit:api"]
"#,
        idp.issuer, idp.jwks_uri
    )
}

/// An HTTP client for the tests: no system proxy, bounded time.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

/// An HS256 token of the `api` issuer for `sub`, valid 5 minutes, with `extra` claims.
pub fn hs_token(sub: &str, extra: Value) -> String {
    hs_token_signed(HS_SECRET.as_bytes(), sub, extra, Expiry::After(300))
}

/// An HS256 token signed with any secret and lifetime.
pub fn hs_token_signed(secret: &[u8], sub: &str, extra: Value, expiry: Expiry) -> String {
    let custom: Map<String, Value> = match extra {
        Value::Object(map) => map,
        Value::Null => Map::new(),
        other => panic!("extra claims must be an object, not {other}"),
    };
    let profile = GenericProfile {
        subject: Some(sub.to_owned()),
        expiry,
        custom,
        ..GenericProfile::default()
    };
    let key = SigningKey::hmac(
        Algorithm::HS256,
        &Secret::from_bytes(secret.to_vec()).expect("secret"),
    )
    .expect("HS256 key");
    let claims = profile.claims(jwtkit_mint::now()).expect("claims");
    Minter::new(key).mint(&claims).expect("mint")
}

/// An HS256 token that expired a while ago (beyond the default leeway).
pub fn expired_hs_token(sub: &str) -> String {
    let now = jwtkit_mint::now();
    let key = SigningKey::hmac(
        Algorithm::HS256,
        &Secret::from_bytes(HS_SECRET.as_bytes().to_vec()).expect("secret"),
    )
    .expect("HS256 key");
    Minter::new(key)
        .mint(&json!({"sub": sub, "iat": now - 7200, "exp": now - 3600}))
        .expect("mint")
}

/// The header and claims of a compact JWS, unverified.
pub fn decode_jwt(token: &str) -> (Value, Value) {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "not a compact JWS: {token:?}");
    let part = |text: &str| -> Value {
        serde_json::from_slice(&b64::decode(text).expect("base64url")).expect("JSON")
    };
    (part(parts[0]), part(parts[1]))
}

/// True when `token` is signed with HMAC `secret` (HS256).
pub fn hs256_signature_ok(token: &str, secret: &[u8]) -> bool {
    let (input, signature) = token.rsplit_once('.').expect("compact JWS");
    let key = jwtkit_keys::VerifyingKey::hmac(&Secret::from_bytes(secret.to_vec()).unwrap())
        .expect("key");
    key.verify(
        Algorithm::HS256,
        input.as_bytes(),
        &b64::decode(signature).expect("base64url"),
    )
    .is_ok()
}

/// `GET path` on the proxy with `token` as the bearer token.
pub async fn get(proxy: &Proxy, path: &str, token: &str) -> Reply {
    Reply::of(
        client()
            .get(proxy.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request"),
    )
    .await
}

/// A response's status, headers and body as JSON (`Value::Null` when not JSON).
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
    pub json: Value,
}

impl Reply {
    /// Reads a whole response.
    pub async fn of(response: reqwest::Response) -> Self {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.bytes().await.expect("response body").to_vec();
        let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
        Self {
            status,
            headers,
            body,
            json,
        }
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap_or("<binary>").to_owned())
    }

    /// Asserts the proxy's error format `{"error", "detail", "timestamp"}` with this status and
    /// code; returns the detail.
    pub fn assert_error(&self, status: u16, code: &str) -> String {
        assert_eq!(self.status, status, "status; body: {}", self.text());
        assert_eq!(
            self.header("content-type").as_deref(),
            Some("application/json"),
            "error content type; body: {}",
            self.text()
        );
        assert_eq!(
            self.json["error"],
            code,
            "error code; body: {}",
            self.text()
        );
        let timestamp = self.json["timestamp"].as_str().unwrap_or_default();
        assert!(
            timestamp.len() >= 20 && timestamp.ends_with('Z') && timestamp.contains('T'),
            "RFC 3339 UTC timestamp expected: {}",
            self.text()
        );
        let detail = self.json["detail"].as_str().unwrap_or_default().to_owned();
        assert!(!detail.is_empty(), "detail expected: {}", self.text());
        detail
    }
}

// ---------------------------------------------------------------------------------------------
// Child processes.

/// Lines a child wrote, collected by a reader thread.
#[derive(Clone, Default)]
pub struct Lines(Arc<Mutex<Vec<String>>>);

impl Lines {
    fn collect(stream: impl Read + Send + 'static, notify: Option<mpsc::Sender<String>>) -> Self {
        let lines = Self::default();
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines() {
                let Ok(line) = line else { break };
                if let Some(notify) = &notify {
                    let _ = notify.send(line.clone());
                }
                sink.0.lock().unwrap().push(line);
            }
        });
        lines
    }

    /// Everything so far, one line each.
    pub fn text(&self) -> String {
        self.0.lock().unwrap().join("\n")
    }
}

fn fake_engine_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testing/fake-engine/engine.py")
}

/// The fake Camunda engine, a Python process on 127.0.0.1.
pub struct Engine {
    child: Child,
    _stdin: ChildStdin,
    /// Its port.
    pub port: u16,
    /// What it wrote on stderr.
    pub stderr: Lines,
}

impl Engine {
    /// Starts `engine.py ARGS` and waits for its ready line.
    pub fn start(args: &[&str]) -> Self {
        let mut child = Command::new("python3")
            .arg(fake_engine_script())
            .args(["--port", "0", "--max-lifetime", "300"])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python3 must be installed to run the fake engine");
        let stdin = child.stdin.take().expect("stdin");
        let (sender, receiver) = mpsc::channel();
        Lines::collect(child.stdout.take().expect("stdout"), Some(sender));
        let stderr = Lines::collect(child.stderr.take().expect("stderr"), None);
        let line = receiver
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("the fake engine did not start: {}", stderr.text()));
        let ready: Value = serde_json::from_str(&line).expect("ready line");
        Self {
            child,
            _stdin: stdin,
            port: ready["port"].as_u64().expect("port") as u16,
            stderr,
        }
    }

    /// Requires Basic `demo:demo`.
    pub fn basic() -> Self {
        Self::start(&["--auth", "basic", "--user", "demo", "--password", "demo"])
    }

    /// Requires the engine JWT of the Camunda JWT plugin, signed with the decoded `secret_b64`.
    pub fn jwt(secret_b64: &str) -> Self {
        Self::start(&["--auth", "jwt", "--secret-b64", secret_b64])
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `http://127.0.0.1:PORT/engine-rest`.
    pub fn rest_url(&self) -> String {
        format!("{}/engine-rest", self.url())
    }

    /// What the engine saw last (see the fake engine's README).
    pub async fn last_request(&self) -> LastRequest {
        let value: Value = client()
            .get(format!("{}/__test/last-request", self.url()))
            .send()
            .await
            .expect("last-request")
            .json_value()
            .await;
        LastRequest(value)
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One request as the engine saw it.
#[derive(Debug, Clone)]
pub struct LastRequest(pub Value);

impl LastRequest {
    /// Values of a header (name in any case).
    pub fn headers(&self, name: &str) -> Vec<String> {
        self.0["headers"]
            .as_array()
            .map(|all| {
                all.iter()
                    .filter(|pair| pair[0].as_str() == Some(&name.to_ascii_lowercase()))
                    .filter_map(|pair| pair[1].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The only value of a header.
    pub fn header(&self, name: &str) -> Option<String> {
        let mut values = self.headers(name);
        assert!(
            values.len() <= 1,
            "{name} sent {} times: {values:?}",
            values.len()
        );
        values.pop()
    }

    /// Every header name.
    pub fn header_names(&self) -> Vec<String> {
        self.0["headers"]
            .as_array()
            .map(|all| {
                all.iter()
                    .filter_map(|p| p[0].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The path.
    pub fn path(&self) -> &str {
        self.0["path"].as_str().unwrap_or_default()
    }

    /// The raw query.
    pub fn query(&self) -> &str {
        self.0["query"].as_str().unwrap_or_default()
    }
}

/// `response.json()` without reqwest's `json` feature.
pub trait JsonValue {
    /// The body as JSON.
    fn json_value(self) -> impl std::future::Future<Output = Value>;
}

impl JsonValue for reqwest::Response {
    async fn json_value(self) -> Value {
        let bytes = self.bytes().await.expect("body");
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&bytes)))
    }
}

/// The `jwtkit-proxy` binary: `JWTKIT_PROXY_BIN` when set (a build's own copy when several
/// work trees share one target directory, whose uplifted binary any of them may replace),
/// else the one Cargo built for these tests.
pub fn proxy_binary() -> String {
    std::env::var("JWTKIT_PROXY_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_jwtkit-proxy").to_owned())
}

/// A running proxy.
pub struct Proxy {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    /// `http`, or `https` with `[tls]`.
    pub scheme: String,
    /// Its log (JSON lines, stderr).
    pub stderr: Lines,
    /// Its stdout (the `--dev` banner).
    pub stdout: Lines,
    exit: Option<ExitStatus>,
    dir: tempfile::TempDir,
}

/// A proxy command: a clean environment (nothing inherited, so a developer's CLERK_JWKS_URL
/// cannot leak in) plus `env`.
fn proxy_command(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(proxy_binary());
    command
        .env_clear()
        .env("NO_COLOR", "1")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, value) in env {
        command.env(name, value);
    }
    die_with_parent(&mut command);
    command
}

#[cfg(target_os = "linux")]
fn die_with_parent(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    unsafe extern "C" {
        fn prctl(option: std::ffi::c_int, ...) -> std::ffi::c_int;
    }
    const PR_SET_PDEATHSIG: std::ffi::c_int = 1;
    const SIGKILL: std::ffi::c_ulong = 9;
    // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        command.pre_exec(|| {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn die_with_parent(_command: &mut Command) {}

/// Sends a signal to a child.
#[cfg(unix)]
fn signal(child: &Child, signal: i32) {
    unsafe extern "C" {
        fn kill(pid: i32, sig: i32) -> i32;
    }
    // SAFETY: plain system call on our own child's pid (not yet reaped).
    let rc = unsafe { kill(child.id() as i32, signal) };
    assert_eq!(rc, 0, "kill({}, {signal}) failed", child.id());
}

impl Proxy {
    /// Starts the proxy with a TOML configuration file and waits until `/health` answers.
    /// `JWT_SECRET_KEY` is [`HS_SECRET`] unless `env` says otherwise.
    pub async fn with_toml(toml: &str, env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("proxy.toml");
        std::fs::write(&path, toml).expect("write config");
        let path = path.to_str().expect("utf-8 path").to_owned();
        let mut all = vec![("JWT_SECRET_KEY", HS_SECRET)];
        all.extend_from_slice(env);
        Self::start(&["--config", &path], &all, dir).await
    }

    /// Starts the proxy in environment mode (no `--config`: the FastAPI proxy's variables).
    pub async fn with_env(env: &[(&str, &str)]) -> Self {
        Self::start(&[], env, tempfile::tempdir().expect("temp dir")).await
    }

    /// Starts `jwtkit-proxy ARGS --listen 127.0.0.1:0 --log-format json` and waits until it
    /// listens and `/health` answers 200.
    pub async fn start(args: &[&str], env: &[(&str, &str)], dir: tempfile::TempDir) -> Self {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--listen", "127.0.0.1:0", "--log-format", "json"]);
        let mut child = proxy_command(&all, env)
            .spawn()
            .expect("spawn jwtkit-proxy");
        let (sender, receiver) = mpsc::channel();
        let stderr = Lines::collect(child.stderr.take().expect("stderr"), Some(sender));
        let stdout = Lines::collect(child.stdout.take().expect("stdout"), None);
        let deadline = Instant::now() + Duration::from_secs(30);
        let (addr, scheme) = loop {
            match receiver.recv_timeout(Duration::from_millis(100)) {
                Ok(line) => {
                    if let Some(listening) = listening_addr(&line) {
                        break listening;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = child.wait().ok();
                    std::thread::sleep(Duration::from_millis(50));
                    panic!(
                        "the proxy exited before listening ({status:?}):\n{}",
                        stderr.text()
                    );
                }
            }
            assert!(
                Instant::now() < deadline,
                "the proxy did not listen within 30 s:\n{}",
                stderr.text()
            );
        };
        let proxy = Self {
            child,
            addr,
            scheme,
            stderr,
            stdout,
            exit: None,
            dir,
        };
        proxy.wait_healthy().await;
        proxy
    }

    async fn wait_healthy(&self) {
        if self.scheme != "http" {
            // The TLS tests' clients trust their own CA; the listening line is enough.
            return;
        }
        let client = client();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(response) = client.get(self.url("/health")).send().await
                && response.status() == 200
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "/health did not answer 200:\n{}",
                self.stderr.text()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// `http://ADDR{path}` (`https://` with `[tls]`).
    pub fn url(&self, path: &str) -> String {
        format!("{}://{}{path}", self.scheme, self.addr)
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        signal(&self.child, 15);
    }

    /// Sends SIGHUP (reload the configuration).
    pub fn hangup(&self) {
        signal(&self.child, 1);
    }

    /// The configuration file of a proxy started by [`Proxy::with_toml`].
    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("proxy.toml")
    }

    /// How many log lines so far have a message containing `needle`.
    pub fn log_count(&self, needle: &str) -> usize {
        self.stderr
            .0
            .lock()
            .unwrap()
            .iter()
            .filter(|line| log_message(line).is_some_and(|m| m.contains(needle)))
            .count()
    }

    /// Waits up to 20 s until `count` log messages contain `needle`; returns the last such
    /// message.
    pub async fn wait_log(&self, needle: &str, count: usize) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.log_count(needle) < count {
            assert!(
                Instant::now() < deadline,
                "no {count} log lines with {needle:?} within 20 s:\n{}",
                self.stderr.text()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let lines = self.stderr.0.lock().unwrap();
        lines
            .iter()
            .filter_map(|line| log_message(line))
            .rfind(|m| m.contains(needle))
            .unwrap_or_default()
    }

    /// Waits up to `timeout` for the process to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                self.exit = Some(status);
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if self.exit.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The address and scheme of a `listening` JSON log line.
fn listening_addr(line: &str) -> Option<(SocketAddr, String)> {
    let value: Value = serde_json::from_str(line).ok()?;
    if value["fields"]["message"] != "listening" {
        return None;
    }
    let addr = value["fields"]["addr"].as_str()?.parse().ok()?;
    let scheme = value["fields"]["scheme"].as_str().unwrap_or("http");
    Some((addr, scheme.to_owned()))
}

/// The message of a JSON log line.
fn log_message(line: &str) -> Option<String> {
    let value: Value = serde_json::from_str(line).ok()?;
    Some(value["fields"]["message"].as_str()?.to_owned())
}

/// The outcome of a proxy run that is expected to end by itself (a bad configuration).
#[derive(Debug)]
pub struct Exit {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Asserts that a start was refused: exit code 1, `key` named on stderr, no panic.
pub fn assert_refused(exit: &Exit, key: &str) {
    assert_eq!(exit.code, Some(1), "{key}: {exit:?}");
    assert!(
        exit.stderr.contains(key),
        "the message should name {key}:\n{}",
        exit.stderr
    );
    assert!(!exit.stderr.contains("panicked"), "{}", exit.stderr);
}

/// Runs the proxy with `toml` and `env` and expects it to refuse the configuration, naming `key`.
pub fn refused(toml: Option<&str>, env: &[(&str, &str)], key: &str) -> Exit {
    let exit = run_to_exit(toml, env);
    assert_refused(&exit, key);
    exit
}

/// The proxy's `/metrics` text.
pub async fn metrics_text(proxy: &Proxy) -> String {
    client()
        .get(proxy.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics text")
}

/// Runs the proxy with a TOML configuration (or none when `toml` is `None`) and waits up to
/// 20 s for it to exit on its own; a proxy still running then is killed and reported.
pub fn run_to_exit(toml: Option<&str>, env: &[(&str, &str)]) -> Exit {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("proxy.toml");
    let mut args = vec!["--listen".to_owned(), "127.0.0.1:0".to_owned()];
    if let Some(toml) = toml {
        std::fs::write(&path, toml).expect("write config");
        args.extend(["--config".to_owned(), path.display().to_string()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run_args_to_exit(&args, env)
}

/// Runs the proxy with `args` and waits up to 20 s for it to exit on its own; a proxy still
/// running then is killed and reported.
pub fn run_args_to_exit(args: &[&str], env: &[(&str, &str)]) -> Exit {
    let mut child = proxy_command(args, env).spawn().expect("spawn");
    let stdout = Lines::collect(child.stdout.take().expect("stdout"), None);
    let stderr = Lines::collect(child.stderr.take().expect("stderr"), None);
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the proxy kept running where it should have exited:\n{}",
                stderr.text()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    // Let the reader threads drain the pipes.
    std::thread::sleep(Duration::from_millis(100));
    Exit {
        code: status.code(),
        stdout: stdout.text(),
        stderr: stderr.text(),
    }
}

/// A port on 127.0.0.1 that nothing listens on (bound, then released).
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

#[allow(unused_imports)] // not every test file sends large bodies
pub use jwtkit_testsupport::random_bytes;

/// A TOML with the HS256 issuer, one upstream named `engine` at `url` (`upstream` holds more
/// lines of its table, e.g. `auth = {...}`), a route `/engine-rest` (path kept) and a route `/t`
/// (prefix stripped) to it, then `extra` (more tables).
pub fn engine_toml(url: &str, upstream: &str, extra: &str) -> String {
    format!(
        r#"
{HS_ISSUER_TOML}
[[upstreams]]
name = "engine"
url = "{url}"
timeout_seconds = 5
{upstream}

[[routes]]
prefix = "/engine-rest"
upstream = "engine"

[[routes]]
prefix = "/t"
upstream = "engine"
strip_prefix = true
{extra}
"#
    )
}

// ---------------------------------------------------------------------------------------------
// Raw HTTP: requests written byte for byte, and an upstream that reports what it received.

/// An upstream on 127.0.0.1 that answers every request `200` with a JSON body describing the
/// request exactly as it arrived: `{"target": request-target, "headers": [[name, value], ...]}`
/// (names in the case they were sent, in order). No HTTP library parses the request, so
/// nothing is normalised on the way. It stops with the test's runtime (or when dropped).
pub struct RawEcho {
    /// Its port.
    pub port: u16,
    hits: Arc<std::sync::atomic::AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl RawEcho {
    /// Starts listening.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the raw echo upstream");
        let port = listener.local_addr().expect("addr").port();
        let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = hits.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(raw_echo_connection(stream, counter.clone()));
            }
        });
        Self { port, hits, task }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// How many requests it has answered.
    pub fn hits(&self) -> usize {
        self.hits.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Drop for RawEcho {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves one keep-alive connection of [`RawEcho`]; a request it cannot read ends it.
async fn raw_echo_connection(
    mut stream: tokio::net::TcpStream,
    hits: Arc<std::sync::atomic::AtomicUsize>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buffer: Vec<u8> = Vec::new();
    loop {
        let head_end = loop {
            if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break at;
            }
            if buffer.len() > 256 * 1024 {
                return;
            }
            let mut chunk = [0u8; 8192];
            match tokio::time::timeout(Duration::from_secs(30), stream.read(&mut chunk)).await {
                Ok(Ok(n)) if n > 0 => buffer.extend_from_slice(&chunk[..n]),
                _ => return,
            }
        };
        let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
        buffer.drain(..head_end + 4);
        let mut lines = head.split("\r\n");
        let request_line = lines.next().unwrap_or_default();
        let target = request_line
            .split(' ')
            .nth(1)
            .unwrap_or_default()
            .to_owned();
        let headers: Vec<(String, String)> = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (name.to_owned(), value.trim().to_owned()))
            .collect();
        let length: usize = headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, value)| value.parse().ok())
            .unwrap_or(0);
        while buffer.len() < length {
            let mut chunk = [0u8; 8192];
            match stream.read(&mut chunk).await {
                Ok(n) if n > 0 => buffer.extend_from_slice(&chunk[..n]),
                _ => return,
            }
        }
        buffer.drain(..length);
        hits.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let body = json!({"target": target, "headers": headers}).to_string();
        let answer = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        if stream.write_all(answer.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// An answer read off a raw connection.
#[derive(Debug)]
pub struct RawReply {
    /// The status code (0 when there was no status line).
    pub status: u16,
    /// The header lines, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The body (chunked encoding undone).
    pub body: Vec<u8>,
}

impl RawReply {
    /// The body as JSON (`Value::Null` when it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Writes `request` (the whole request, byte for byte: it should ask for `Connection: close` or
/// be HTTP/1.0) to `addr` and reads the answer until the connection closes, at most 30 s.
pub async fn raw_request(addr: SocketAddr, request: &[u8]) -> RawReply {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request).await.expect("write the request");
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut answer))
        .await
        .expect("the answer ended within 30 s")
        .expect("read the answer");
    let head_end = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(answer.len());
    let head = String::from_utf8_lossy(&answer[..head_end]).into_owned();
    let mut body = answer.get(head_end + 4..).unwrap_or_default().to_vec();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    if headers
        .iter()
        .any(|(name, value)| name == "transfer-encoding" && value.contains("chunked"))
    {
        body = dechunk(&body);
    }
    RawReply {
        status,
        headers,
        body,
    }
}

/// The data of a chunked body.
fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = raw.windows(2).position(|w| w == b"\r\n") {
        let size_text = String::from_utf8_lossy(&raw[..line_end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .expect("chunk size");
        if size == 0 {
            break;
        }
        let start = line_end + 2;
        out.extend_from_slice(&raw[start..start + size]);
        raw = &raw[start + size + 2..];
    }
    out
}

/// A TOML with `top` (top-level keys), the HS256 issuer and one upstream `echo` at `url`, then
/// `extra`: keys of that upstream's table first (e.g. `identity_headers = {...}`), then routes.
pub fn echo_toml(top: &str, url: &str, extra: &str) -> String {
    format!(
        r#"
{top}
{HS_ISSUER_TOML}
[[upstreams]]
name = "echo"
url = "{url}"
timeout_seconds = 5
{extra}
"#
    )
}
