//! Faults, through the proxy as a real process: an IdP that is down at start, goes down later,
//! is slow, or is flooded with unknown kids; an upstream that refuses connections, hangs, resets
//! mid-body; a client that vanishes mid-upload. The hostile upstream is
//! `testing/fault-upstream/upstream.py` (stdlib Python); the IdP is the real oidc-provider of
//! `jwtkit-testsupport`. See docs/FAULTS.md for what each test checks and why.
//!
//! Timing bounds are generous (the machine is shared with builds) but each is well below what
//! the fault would cost without the protection under test: a 20 s JWKS delay against a 5 s fetch
//! timeout, a hanging upstream against a 1 s upstream timeout, 600 unknown kids against 2 fetches.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use jwtkit_jwks::JwksConfig;
use jwtkit_keys::b64;
use jwtkit_testsupport::Idp;
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------------
// The hostile upstream.

/// `testing/fault-upstream/upstream.py` as a child process; it exits when its stdin pipe closes
/// (this value dropped, or the test process gone), when its parent dies, or after 300 s.
struct FaultUpstream {
    child: Child,
    _stdin: ChildStdin,
    port: u16,
    http: reqwest::Client,
}

impl FaultUpstream {
    fn spawn(args: &[&str]) -> Self {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../testing/fault-upstream/upstream.py");
        let (child, stdin, ready) = jwtkit_testsupport::start_with_ready_line(
            Command::new("python3")
                .arg(&script)
                .args(["--max-lifetime", "300"])
                .args(args)
                .stderr(Stdio::inherit()),
            "the fault upstream",
            Duration::from_secs(20),
            "python3 is required; install Python 3.11",
        );
        Self {
            child,
            _stdin: stdin,
            port: ready["port"].as_u64().expect("port") as u16,
            http: client(),
        }
    }

    /// The hostile HTTP server.
    fn start() -> Self {
        Self::spawn(&[])
    }

    /// A port held bound but never listening: every connection is refused.
    fn refusing() -> Self {
        Self::spawn(&["--refuse"])
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Every request the upstream has seen (see the script's docstring for the fields).
    async fn records(&self) -> Vec<Value> {
        let value = self
            .http
            .get(format!("{}/__fault/records", self.url()))
            .send()
            .await
            .expect("records")
            .json_value()
            .await;
        value.as_array().expect("a list").clone()
    }

    /// The records whose path is `path`.
    async fn records_for(&self, path: &str) -> Vec<Value> {
        self.records()
            .await
            .into_iter()
            .filter(|r| r["path"] == path)
            .collect()
    }

    /// Waits up to `limit` for a record of `path` that satisfies `done`; returns it (or the
    /// last one seen, or None).
    async fn wait_record(
        &self,
        path: &str,
        limit: Duration,
        done: impl Fn(&Value) -> bool,
    ) -> Option<Value> {
        let deadline = Instant::now() + limit;
        loop {
            let records = self.records_for(path).await;
            if let Some(found) = records.iter().find(|r| done(r)) {
                return Some(found.clone());
            }
            if Instant::now() >= deadline {
                return records.last().cloned();
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

impl Drop for FaultUpstream {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Upstream timeout of the `faulty` upstream, seconds (the smallest the proxy accepts).
const UPSTREAM_TIMEOUT_S: u64 = 1;

/// The HS256 issuer, optionally the IdP (with `max_stale_seconds`), the `faulty` upstream at
/// `/f` and the `refused` upstream at `/r` (both prefixes stripped), a 1 MiB body limit.
fn proxy_toml(
    idp: Option<(&Idp, u64)>,
    faulty: &FaultUpstream,
    refused: Option<&FaultUpstream>,
) -> String {
    let mut toml = String::from(HS_ISSUER_TOML);
    if let Some((idp, max_stale)) = idp {
        toml.push_str(&idp_issuer_toml(idp));
        toml.push_str(&format!("max_stale_seconds = {max_stale}\n"));
    }
    toml.push_str(&format!(
        r#"
[limits]
max_body_bytes = 1048576

[[upstreams]]
name = "faulty"
url = "{}"
timeout_seconds = {UPSTREAM_TIMEOUT_S}

[[routes]]
prefix = "/f"
upstream = "faulty"
strip_prefix = true
"#,
        faulty.url()
    ));
    if let Some(refused) = refused {
        toml.push_str(&format!(
            r#"
[[upstreams]]
name = "refused"
url = "{}"
timeout_seconds = {UPSTREAM_TIMEOUT_S}

[[routes]]
prefix = "/r"
upstream = "refused"
strip_prefix = true
"#,
            refused.url()
        ));
    }
    toml
}

/// The JWKS fetch timeout the proxy runs with (not configurable: `JwksConfig`'s default).
fn jwks_fetch_timeout() -> Duration {
    JwksConfig::jwks_url("http://127.0.0.1/jwks").request_timeout
}

/// GET `path` with `token`; the reply and how long it took.
async fn timed_get(
    http: &reqwest::Client,
    proxy: &Proxy,
    path: &str,
    token: &str,
) -> (Reply, Duration) {
    let started = Instant::now();
    let response = http
        .get(proxy.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    let reply = Reply::of(response).await;
    (reply, started.elapsed())
}

/// The proxy still answers normally: `/health` 200 and a forwarded request 200.
async fn assert_still_serving(proxy: &Proxy) {
    let (reply, _) = timed_get(
        &client(),
        proxy,
        "/f/record/after-the-fault",
        &hs_token("alice", json!({})),
    )
    .await;
    assert_eq!(
        reply.status,
        200,
        "the proxy stopped serving: {}\n{}",
        reply.text(),
        proxy.stderr.text()
    );
    assert!(
        !proxy.stderr.text().contains("panicked"),
        "{}",
        proxy.stderr.text()
    );
}

// ---------------------------------------------------------------------------------------------
// Raw HTTP/1.1 on a socket: what the client can and cannot tell about a response's end.

/// How a response body's end is signalled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Length(usize),
    Chunked,
    /// Neither: the body ends when the connection does, so a cut is indistinguishable from
    /// the end.
    UntilClose,
}

#[derive(Debug)]
struct RawResponse {
    /// 0 when the connection ended before a status line.
    status: u16,
    /// Status line and headers, shown in failure messages.
    #[allow(dead_code)]
    head: String,
    framing: Framing,
    /// Body bytes received (chunk payloads for chunked).
    body_len: usize,
    /// The framing's end was received (all declared bytes, or the zero-length chunk).
    complete: bool,
    /// The read limit passed before the response or the connection ended.
    timed_out: bool,
    elapsed: Duration,
}

impl RawResponse {
    /// A client can tell this 2xx apart from a whole answer only by its framing.
    fn looks_whole(&self) -> bool {
        (200..300).contains(&self.status) && (self.complete || self.framing == Framing::UntilClose)
    }
}

/// Chunked body state: (complete, payload bytes) of the bytes received so far.
fn parse_chunked(mut data: &[u8]) -> (bool, usize) {
    let mut payload = 0;
    loop {
        let Some(eol) = data.windows(2).position(|w| w == b"\r\n") else {
            return (false, payload);
        };
        let line = String::from_utf8_lossy(&data[..eol]);
        let Ok(size) = usize::from_str_radix(line.split(';').next().unwrap_or("").trim(), 16)
        else {
            return (false, payload);
        };
        data = &data[eol + 2..];
        if size == 0 {
            // Trailers end with an empty line.
            return (data.windows(2).any(|w| w == b"\r\n"), payload);
        }
        if data.len() < size + 2 {
            return (false, payload + data.len().min(size));
        }
        payload += size;
        data = &data[size + 2..];
    }
}

/// Sends `request` on a new connection and reads one response until its framing ends, the
/// connection ends, or `limit` passes.
fn raw_exchange(addr: SocketAddr, request: &[u8], limit: Duration) -> RawResponse {
    let started = Instant::now();
    let mut stream = TcpStream::connect(addr).expect("connect to the proxy");
    stream.write_all(request).expect("send the request");
    read_response(&mut stream, started, limit)
}

fn read_response(stream: &mut TcpStream, started: Instant, limit: Duration) -> RawResponse {
    let mut data = Vec::new();
    let mut buf = [0u8; 65536];
    let mut timed_out = false;
    let mut head_end = None;
    let mut framing = Framing::UntilClose;
    let mut status = 0;
    let mut head = String::new();
    let (complete, body_len) = loop {
        if head_end.is_none()
            && let Some(pos) = data.windows(4).position(|w| w == b"\r\n\r\n")
        {
            head_end = Some(pos + 4);
            head = String::from_utf8_lossy(&data[..pos]).into_owned();
            status = head
                .split(' ')
                .nth(1)
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            let lower = head.to_ascii_lowercase();
            framing = if lower.contains("\r\ntransfer-encoding: chunked") {
                Framing::Chunked
            } else if let Some(len) = lower
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
            {
                Framing::Length(len)
            } else {
                Framing::UntilClose
            };
        }
        let state = head_end.map(|start| {
            let body = &data[start..];
            match framing {
                Framing::Length(len) => (body.len() >= len, body.len()),
                Framing::Chunked => parse_chunked(body),
                Framing::UntilClose => (false, body.len()),
            }
        });
        if let Some((true, len)) = state {
            break (true, len);
        }
        let left = limit.saturating_sub(started.elapsed());
        if left.is_zero() {
            timed_out = true;
            break state.unwrap_or((false, 0));
        }
        stream.set_read_timeout(Some(left)).expect("read timeout");
        match stream.read(&mut buf) {
            Ok(0) | Err(_) if started.elapsed() < limit => break state.unwrap_or((false, 0)),
            Ok(0) | Err(_) => {
                timed_out = true;
                break state.unwrap_or((false, 0));
            }
            Ok(n) => data.extend_from_slice(&buf[..n]),
        }
    };
    RawResponse {
        status,
        head,
        framing,
        body_len,
        complete,
        timed_out,
        elapsed: started.elapsed(),
    }
}

fn get_request(path: &str, token: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: proxy.test\r\nAuthorization: Bearer {token}\r\n\r\n")
        .into_bytes()
}

// ---------------------------------------------------------------------------------------------
// The IdP.

/// An RS256-looking token of the IdP with a random `kid` and a random signature.
fn random_kid_token(idp: &Idp, n: usize) -> String {
    let kid = b64::encode(&random_bytes(12, 0x9e37_79b9_7f4a_7c15 ^ n as u64));
    let header = json!({"alg": "RS256", "typ": "at+jwt", "kid": format!("flood-{n}-{kid}")});
    let now = jwtkit_mint::now();
    let claims = json!({"iss": idp.issuer, "aud": "urn:jwtkit:api", "sub": "flood", "iat": now, "exp": now + 300});
    format!(
        "{}.{}.{}",
        b64::encode(header.to_string().as_bytes()),
        b64::encode(claims.to_string().as_bytes()),
        b64::encode(&random_bytes(256, n as u64 + 1))
    )
}

#[tokio::test]
async fn idp_down_at_start_keeps_ready_false_and_its_tokens_get_503_not_401() {
    let mut idp = Idp::start(None, 300);
    let token = idp.token("test-client", None).await;
    idp.kill();
    let faulty = FaultUpstream::start();
    let proxy = Proxy::with_toml(&proxy_toml(Some((&idp, 3600)), &faulty, None), &[]).await;
    let http = client();

    // /ready stays false, probe after probe (each probe also retries the fetch).
    for _ in 0..4 {
        let reply = Reply::of(http.get(proxy.url("/ready")).send().await.unwrap()).await;
        assert_eq!(reply.status, 503, "{}", reply.text());
        assert_eq!(reply.json["ready"], false, "{}", reply.text());
        assert_eq!(reply.json["issuers"]["idp"]["keys"], 0, "{}", reply.text());
        assert!(
            reply.json["issuers"]["idp"]["last_error"].is_string(),
            "{}",
            reply.text()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    // A valid token of that issuer: the keys cannot be had, which is not the caller's fault.
    for _ in 0..3 {
        let (reply, elapsed) = timed_get(&http, &proxy, "/f/record/idp-down", &token).await;
        reply.assert_error(503, "jwks_unavailable");
        assert!(
            elapsed < jwks_fetch_timeout(),
            "a refused JWKS connection held the request {elapsed:?}"
        );
    }
    assert!(
        faulty.records_for("/record/idp-down").await.is_empty(),
        "a request without verified keys was forwarded"
    );
    // Other issuers are unaffected, and a request without a token is still a plain 401.
    assert_still_serving(&proxy).await;
    let reply = Reply::of(http.get(proxy.url("/f/x")).send().await.unwrap()).await;
    reply.assert_error(401, "missing_token");
}

// The slowest test (about 33 s: the cache's 30 s minimum lifetime plus max staleness). Its name
// sorts first so that libtest starts it first and the others run beside it.
#[tokio::test]
async fn a_cached_key_set_outlives_an_idp_outage_until_max_staleness_then_503() {
    const MAX_STALE_S: u64 = 2;
    let mut idp = Idp::start(None, 300);
    // max-age=1 is clamped up to the cache's 30 s minimum lifetime: the shortest possible.
    idp.set_jwks_cache_control("max-age=1").await;
    let lifetime = JwksConfig::jwks_url("http://127.0.0.1/jwks").min_ttl;
    let token = idp.token("test-client", None).await;
    let unused = idp.token("test-client-es", None).await;
    let faulty = FaultUpstream::start();
    let before_start = Instant::now();
    let proxy = Proxy::with_toml(&proxy_toml(Some((&idp, MAX_STALE_S)), &faulty, None), &[]).await;
    let started = Instant::now();
    let http = client();
    let (reply, _) = timed_get(&http, &proxy, "/f/record/stale", &token).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    idp.kill();

    // The keys were fetched between before_start and started; they are usable until
    // lifetime + max staleness after that, then the issuer's tokens get 503.
    let usable_for = lifetime + Duration::from_secs(MAX_STALE_S);
    let give_up = started + usable_for + Duration::from_secs(10);
    let mut last_ok = None;
    let first_failure = loop {
        let (reply, _) = timed_get(&http, &proxy, "/f/record/stale", &token).await;
        let now = Instant::now();
        match reply.status {
            200 => last_ok = Some(now),
            _ => {
                reply.assert_error(503, "jwks_unavailable");
                break now;
            }
        }
        assert!(
            now < give_up,
            "the issuer's tokens were still accepted {:?} after the keys were fetched \
             (lifetime {lifetime:?} + max_stale {MAX_STALE_S} s)",
            now - before_start
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let last_ok = last_ok.expect("at least one request succeeded after the IdP went down");
    // Stale keys were really served: accepted past the key set's lifetime.
    assert!(
        last_ok >= started + lifetime + Duration::from_millis(500),
        "the keys stopped working {:?} after the start, before their lifetime {lifetime:?} had \
         passed: stale-if-error did not apply",
        last_ok - before_start
    );
    // And not beyond lifetime + max staleness (the 200 ms polling and a loaded machine aside).
    assert!(
        first_failure >= before_start + usable_for - Duration::from_millis(500),
        "503 already {:?} after the start",
        first_failure - before_start
    );
    assert!(
        first_failure <= started + usable_for + Duration::from_secs(3),
        "503 only {:?} after the start",
        first_failure - before_start
    );
    // A token never seen before is refused the same way, and /ready reports it.
    let (reply, _) = timed_get(&http, &proxy, "/f/record/stale", &unused).await;
    reply.assert_error(503, "jwks_unavailable");
    let reply = Reply::of(http.get(proxy.url("/ready")).send().await.unwrap()).await;
    assert_eq!(reply.status, 503, "{}", reply.text());
    assert_still_serving(&proxy).await;
}

/// GET `path` with `token` in a task of its own; the reply and how long it took.
fn spawn_get(
    http: &reqwest::Client,
    url: String,
    token: Option<String>,
) -> tokio::task::JoinHandle<(Reply, Duration)> {
    let http = http.clone();
    tokio::spawn(async move {
        let started = Instant::now();
        let mut request = http.get(url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let reply = Reply::of(request.send().await.expect("request")).await;
        (reply, started.elapsed())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_idp_at_start_holds_no_request_beyond_the_fetch_timeout() {
    let timeout = jwks_fetch_timeout();
    let bound = timeout + Duration::from_secs(3);
    let idp = Idp::start(None, 300);
    let token = idp.token("test-client", None).await;
    // Every JWKS answer now takes 20 s, four times the fetch timeout.
    idp.set_jwks_status(0, 20_000).await;
    let faulty = FaultUpstream::start();
    let spawned = Instant::now();
    // The start-up fetch is bounded by the fetch timeout too.
    let proxy = Proxy::with_toml(&proxy_toml(Some((&idp, 3600)), &faulty, None), &[]).await;
    assert!(
        spawned.elapsed() < bound + Duration::from_secs(2),
        "the proxy took {:?} to start with a slow IdP",
        spawned.elapsed()
    );
    let http = client();

    // A readiness probe starts a new fetch (it ignores the back-off); requests arriving
    // meanwhile wait for that fetch's outcome: that wait must end with the fetch timeout.
    let probe = spawn_get(&http, proxy.url("/ready"), None);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let wave: Vec<_> = (0..10)
        .map(|_| spawn_get(&http, proxy.url("/f/record/slow-idp"), Some(token.clone())))
        .collect();
    let (reply, elapsed) = probe.await.unwrap();
    assert_eq!(reply.status, 503, "{}", reply.text());
    assert_eq!(reply.json["ready"], false, "{}", reply.text());
    assert!(elapsed < bound, "/ready waited {elapsed:?} on the slow IdP");
    for task in wave {
        let (reply, elapsed) = task.await.unwrap();
        reply.assert_error(503, "jwks_unavailable");
        assert!(
            elapsed < bound,
            "a request waited {elapsed:?} on the slow IdP"
        );
    }
    // Right after a failed fetch, requests are answered at once (back-off), not queued.
    let (reply, elapsed) = timed_get(&http, &proxy, "/f/record/slow-idp", &token).await;
    reply.assert_error(503, "jwks_unavailable");
    assert!(
        elapsed < Duration::from_secs(2),
        "a request waited {elapsed:?} during the back-off"
    );
    assert!(faulty.records_for("/record/slow-idp").await.is_empty());
    assert_still_serving(&proxy).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_idp_later_delays_only_the_unknown_kid_and_never_beyond_the_fetch_timeout() {
    let timeout = jwks_fetch_timeout();
    let idp = Idp::start(None, 300);
    let known = idp.token("test-client", None).await;
    let faulty = FaultUpstream::start();
    let proxy = Proxy::with_toml(&proxy_toml(Some((&idp, 3600)), &faulty, None), &[]).await;
    let http = client();
    let (reply, _) = timed_get(&http, &proxy, "/f/record/known", &known).await;
    assert_eq!(reply.status, 200, "{}", reply.text());

    idp.set_jwks_status(0, 20_000).await;
    idp.rotate(false).await;
    let rotated = idp.token("test-client", None).await;
    assert_ne!(
        decode_jwt(&rotated).0["kid"],
        decode_jwt(&known).0["kid"],
        "the rotation gave a new kid"
    );
    // The new kid makes the proxy fetch the key set, which hangs for 20 s.
    let url = proxy.url("/f/record/rotated");
    let other = http.clone();
    let pending = tokio::spawn(async move {
        let started = Instant::now();
        let reply = Reply::of(other.get(url).bearer_auth(rotated).send().await.unwrap()).await;
        (reply, started.elapsed())
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Meanwhile tokens with a known kid are answered at once.
    for _ in 0..5 {
        let (reply, elapsed) = timed_get(&http, &proxy, "/f/record/known", &known).await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        assert!(
            elapsed < Duration::from_secs(2),
            "a token with a known kid waited {elapsed:?} behind a JWKS fetch"
        );
    }
    let (reply, elapsed) = pending.await.unwrap();
    assert!(
        elapsed < timeout + Duration::from_secs(3),
        "the unknown-kid request waited {elapsed:?} (fetch timeout {timeout:?})"
    );
    // Its key could not be fetched: refused or unavailable, never forwarded.
    assert!(
        matches!(reply.status, 401 | 503),
        "{} {}",
        reply.status,
        reply.text()
    );
    assert!(faulty.records_for("/record/rotated").await.is_empty());
    assert_still_serving(&proxy).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_unknown_kids_causes_a_bounded_number_of_jwks_fetches() {
    let idp = Idp::start(None, 300);
    let valid = idp.token("test-client", None).await;
    let faulty = FaultUpstream::start();
    let proxy = Proxy::with_toml(&proxy_toml(Some((&idp, 3600)), &faulty, None), &[]).await;
    let before = idp.jwks_requests().await;
    assert!(before >= 1, "the proxy fetched the keys at start");
    let http = client();

    let mut unknown_kid = 0;
    for wave in 0..2 {
        for batch in 0..6 {
            let mut tasks = Vec::new();
            for i in 0..50 {
                let token = random_kid_token(&idp, wave * 1000 + batch * 50 + i);
                let url = proxy.url("/f/record/flood");
                let http = http.clone();
                tasks.push(tokio::spawn(async move {
                    Reply::of(http.get(url).bearer_auth(token).send().await.unwrap()).await
                }));
            }
            for task in tasks {
                let reply = task.await.unwrap();
                reply.assert_error(401, "unknown_kid");
                unknown_kid += 1;
            }
        }
    }
    let fetches = idp.jwks_requests().await - before;
    // The first unknown kid may refresh the set; the 30 s cooldown absorbs the other 599.
    assert!(
        fetches <= 2,
        "{unknown_kid} tokens with unknown kids caused {fetches} JWKS fetches"
    );
    assert!(faulty.records_for("/record/flood").await.is_empty());
    let (reply, _) = timed_get(&http, &proxy, "/f/record/valid", &valid).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
}

// ---------------------------------------------------------------------------------------------
// The upstream.

#[tokio::test]
async fn an_upstream_refusing_connections_is_a_502_in_json() {
    let faulty = FaultUpstream::start();
    let refused = FaultUpstream::refusing();
    let proxy = Proxy::with_toml(&proxy_toml(None, &faulty, Some(&refused)), &[]).await;
    let http = client();
    let token = hs_token("alice", json!({}));
    for _ in 0..3 {
        let (reply, elapsed) = timed_get(&http, &proxy, "/r/anything", &token).await;
        reply.assert_error(502, "upstream_unreachable");
        assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
    }
    let reply = Reply::of(
        http.post(proxy.url("/r/upload"))
            .bearer_auth(&token)
            .body(vec![7u8; 100_000])
            .send()
            .await
            .unwrap(),
    )
    .await;
    reply.assert_error(502, "upstream_unreachable");
    assert_still_serving(&proxy).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_or_slow_upstream_is_a_504_after_the_upstream_timeout() {
    let faulty = FaultUpstream::start();
    let proxy = Proxy::with_toml(&proxy_toml(None, &faulty, None), &[]).await;
    let http = client();
    let token = hs_token("alice", json!({}));
    let timeout = Duration::from_secs(UPSTREAM_TIMEOUT_S);
    // Within the timeout: answered.
    let (reply, _) = timed_get(&http, &proxy, "/f/slow?ms=200", &token).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json["slept_ms"], 200);
    // An upstream that never answers, one that answers too late, and a POST that is never
    // answered, all at once.
    let gets: Vec<_> = ["/f/hang", "/f/slow?ms=5000"]
        .into_iter()
        .map(|path| (path, spawn_get(&http, proxy.url(path), Some(token.clone()))))
        .collect();
    let post = {
        let http = http.clone();
        let url = proxy.url("/f/hang");
        let token = token.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let response = http
                .post(url)
                .bearer_auth(token)
                .body(vec![1u8; 50_000])
                .send()
                .await
                .expect("POST");
            (Reply::of(response).await, started.elapsed())
        })
    };
    for (path, task) in gets.into_iter().chain([("POST /f/hang", post)]) {
        let (reply, elapsed) = task.await.unwrap();
        reply.assert_error(504, "upstream_timeout");
        assert!(
            elapsed >= timeout - Duration::from_millis(100)
                && elapsed < timeout + Duration::from_secs(3),
            "{path}: answered after {elapsed:?} with an upstream timeout of {timeout:?}"
        );
    }
    assert_still_serving(&proxy).await;
}

#[tokio::test]
async fn an_upstream_stalling_mid_body_ends_the_response_visibly_incomplete() {
    let faulty = FaultUpstream::start();
    let proxy = Proxy::with_toml(&proxy_toml(None, &faulty, None), &[]).await;
    let token = hs_token("alice", json!({}));
    let addr = proxy.addr;
    // The upstream sends headers promising 1 MB, 1000 bytes, then nothing, forever.
    let response = tokio::task::spawn_blocking(move || {
        raw_exchange(
            addr,
            &get_request("/f/hang-body", &token),
            Duration::from_secs(UPSTREAM_TIMEOUT_S + 5),
        )
    })
    .await
    .unwrap();
    assert!(
        !response.timed_out && response.elapsed < Duration::from_secs(UPSTREAM_TIMEOUT_S + 3),
        "the response neither ended nor failed soon after the upstream timeout: {response:?}"
    );
    assert!(
        !response.looks_whole(),
        "a stalled body reached the client as a complete answer: {response:?}"
    );
    assert_still_serving(&proxy).await;
}

#[tokio::test]
async fn an_upstream_reset_mid_body_never_reaches_the_client_as_a_complete_response() {
    let faulty = FaultUpstream::start();
    let proxy = Proxy::with_toml(&proxy_toml(None, &faulty, None), &[]).await;
    for path in ["/f/reset-mid-body", "/f/reset-mid-body?mode=chunked"] {
        let token = hs_token("alice", json!({}));
        let addr = proxy.addr;
        let request = get_request(path, &token);
        let response = tokio::task::spawn_blocking(move || {
            raw_exchange(addr, &request, Duration::from_secs(10))
        })
        .await
        .unwrap();
        assert!(!response.timed_out, "{path}: no end: {response:?}");
        assert!(
            !response.looks_whole(),
            "{path}: a reset upstream body reached the client as a complete answer: {response:?}"
        );
        if response.status == 200 {
            // The honest form: the promised framing, visibly cut short.
            assert_ne!(response.framing, Framing::UntilClose, "{response:?}");
            assert!(response.body_len < 1_000_000, "{response:?}");
        }
    }
    assert_still_serving(&proxy).await;
}

/// Sends the headers of an upload and `sent` bytes of its body on a raw connection.
fn start_upload(
    addr: SocketAddr,
    path: &str,
    token: &str,
    chunked: bool,
    sent: usize,
) -> TcpStream {
    let mut stream = TcpStream::connect(addr).expect("connect");
    let framing = if chunked {
        "Transfer-Encoding: chunked".to_owned()
    } else {
        "Content-Length: 900000".to_owned()
    };
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: proxy.test\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/octet-stream\r\n{framing}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).unwrap();
    let body = random_bytes(sent, 7);
    if chunked {
        for piece in body.chunks(16_384) {
            stream
                .write_all(format!("{:x}\r\n", piece.len()).as_bytes())
                .unwrap();
            stream.write_all(piece).unwrap();
            stream.write_all(b"\r\n").unwrap();
        }
    } else {
        stream.write_all(&body).unwrap();
    }
    stream.flush().unwrap();
    stream
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_vanishing_mid_upload_never_delivers_a_complete_looking_body_upstream() {
    let faulty = FaultUpstream::start();
    let proxy = Proxy::with_toml(&proxy_toml(None, &faulty, None), &[]).await;
    let token = hs_token("alice", json!({}));
    // (path, chunked, half-close: shut down writing but keep reading the answer)
    let cases = [
        ("/f/record/gone-length", false, false),
        ("/f/record/gone-chunked", true, false),
        ("/f/record/half-closed-length", false, true),
        ("/f/record/half-closed-chunked", true, true),
    ];
    for (path, chunked, half_close) in cases {
        let upstream_path = path.trim_start_matches("/f");
        let stream = start_upload(proxy.addr, path, &token, chunked, 300_000);
        // The proxy streams: the upstream should see the upload begin. (A proxy that buffered
        // whole bodies would forward nothing, which is acceptable too; see below.)
        let begun = faulty
            .wait_record(upstream_path, Duration::from_secs(3), |r| {
                r["received"].as_u64() > Some(0)
            })
            .await;
        let mut stream = stream;
        let answer = if half_close {
            stream.shutdown(Shutdown::Write).unwrap();
            let response = tokio::task::spawn_blocking(move || {
                read_response(&mut stream, Instant::now(), Duration::from_secs(10))
            })
            .await
            .unwrap();
            Some(response)
        } else {
            drop(stream);
            None
        };
        // The upstream's view once the dust settles.
        let record = faulty
            .wait_record(upstream_path, Duration::from_secs(5), |r| {
                r["state"] == "done"
            })
            .await;
        match (&begun, &record) {
            (None, None) => {} // nothing forwarded at all
            (_, Some(record)) => {
                assert_eq!(
                    record["state"], "done",
                    "{path}: the upstream connection was left open: {record}"
                );
                assert_eq!(
                    record["complete"], false,
                    "{path}: the upstream received a complete-looking body: {record}"
                );
                if !chunked {
                    assert!(record["received"].as_u64().unwrap() < 900_000, "{record}");
                }
            }
            (Some(_), None) => unreachable!("a record that began is still listed"),
        }
        if let Some(answer) = answer {
            // The caller's fault, answered as such (a 502 would blame the upstream).
            assert_eq!(
                answer.status, 400,
                "{path}: a cut upload must be 400 body_incomplete: {answer:?}"
            );
        }
    }
    assert_still_serving(&proxy).await;
}

#[tokio::test]
async fn a_chunked_upload_growing_past_the_limit_is_413_and_never_complete_upstream() {
    let faulty = FaultUpstream::start();
    let proxy = Proxy::with_toml(&proxy_toml(None, &faulty, None), &[]).await;
    let token = hs_token("alice", json!({}));
    let body = random_bytes(3 * 1024 * 1024, 11);
    // The proxy answers 413 and closes without reading the rest of the upload (reading it is
    // what the limit prevents). A client still writing may then see its write fail before it
    // reads the answer: that race is HTTP's, so a few attempts must show the 413 at least once.
    let mut answered = false;
    for attempt in 0..5 {
        let path = format!("/record/too-big-{attempt}");
        let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
            body.chunks(65_536).map(|c| Ok(c.to_vec())).collect();
        let sent = client()
            .post(proxy.url(&format!("/f{path}")))
            .bearer_auth(&token)
            .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
                chunks,
            )))
            .send()
            .await;
        match sent {
            Ok(response) => {
                Reply::of(response)
                    .await
                    .assert_error(413, "body_too_large");
                answered = true;
            }
            Err(error) => assert!(
                closed_by_peer(&error),
                "attempt {attempt}: the upload failed otherwise than by the proxy closing: {error:?}"
            ),
        }
        if let Some(record) = faulty
            .wait_record(&path, Duration::from_secs(5), |r| r["state"] == "done")
            .await
        {
            assert_eq!(record["state"], "done", "{record}");
            assert_eq!(
                record["complete"], false,
                "the upstream got a truncated body as if whole: {record}"
            );
        }
        if answered {
            break;
        }
    }
    assert!(answered, "no attempt of five read the 413 answer");
    assert_still_serving(&proxy).await;
}

/// Whether a client error comes from the peer closing the connection (broken pipe or reset).
fn closed_by_peer(error: &reqwest::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            return matches!(
                io.kind(),
                std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
            );
        }
        source = cause.source();
    }
    false
}
