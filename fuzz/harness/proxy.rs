//! Fuzz harness: the proxy's request handling (`jwtkit-proxy`), in process.
//!
//! Shared by the `proxy` fuzz target and `bins/jwtkit-proxy/tests/fuzz_regressions.rs`. The
//! router is built once from TOML (`jwtkit_proxy::router_from_toml`) with two static-key issuers
//! (an HS256 secret file, an ES256 public JWK file), three upstreams (a stub served in process,
//! the same stub with passthrough credentials, an unreachable address), three prefix routes, the
//! Camunda facade and the Centrifugo token endpoints; each input becomes one request sent with
//! `tower::ServiceExt::oneshot` on a current-thread Tokio runtime created once.
//!
//! Input layout: byte 0 picks the method (`& 7`); byte 1 the token (`& 7`: none, a valid HS256
//! service token, a valid ES256 user token, HS256-signed claims from the input, a raw token
//! from the input, claims signed with an untrusted key, an expired token, ES256-signed claims
//! from the input), where it goes (`>> 3 & 3`: Authorization header, `session` cookie,
//! `access_token` query parameter, a lower-case `bearer` with extra spaces) and the stub's answer
//! status (`>> 5`); then fields separated by `0xFF`: path and query, header lines
//! (`name: value`), claims JSON or raw token, request body, stub response body.
//!
//! Besides "no panic" and "no hang", it checks: no 500 answer; without a valid token nothing but
//! `/health`, `/ready`, `/metrics` and `OPTIONS` answers 2xx and the upstream is never reached;
//! what reaches the upstream carries no caller-set `x-auth-*` or `x-user-*` header (only the
//! proxy's identity headers, equal to the token's claims) and no header named with `_`, never
//! the caller's token except on the passthrough route, and on prefix routes the caller's body
//! exactly. Paths are compared in the canonical form the proxy routes on
//! (`jwtkit_proxy::path::canonicalize`).
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use jwtkit_keys::{Algorithm, SigningKey, b64};
use jwtkit_secret::Secret;
use serde_json::{Map, Value, json};
use tower::ServiceExt as _;

/// `iss` of the HS256 service issuer.
pub const SERVICES_ISS: &str = "urn:fuzz:services";
/// `iss` of the ES256 user issuer.
pub const USERS_ISS: &str = "https://users.fuzz.example";
/// `exp` of the harness's valid tokens (year 2096).
pub const FAR_EXP: i64 = 4_000_000_000;
const HS_SECRET: &[u8] = b"fuzz-only proxy HS256 secret, 32+ bytes";
const UNTRUSTED_SECRET: &[u8] = b"an HS256 secret the proxy does not trust";
const METHODS: [&str; 8] = [
    "GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD", "PROPFIND",
];
const STUB_STATUSES: [u16; 8] = [200, 201, 204, 400, 401, 404, 500, 503];

/// What the stub upstream saw last, and what it answers next.
#[derive(Default)]
struct Stub {
    hits: AtomicU64,
    seen: Mutex<Option<(String, HeaderMap, Bytes)>>,
    answer: Mutex<(u16, Bytes)>,
}

struct Fixture {
    serial: Mutex<()>,
    runtime: tokio::runtime::Runtime,
    router: Router,
    stub: Arc<Stub>,
    services: SigningKey,
    users: SigningKey,
    untrusted: SigningKey,
}

fn hs(secret: &[u8]) -> SigningKey {
    let secret = Secret::from_bytes(secret).expect("non-empty");
    SigningKey::hmac(Algorithm::HS256, &secret).expect("32+ bytes")
}

async fn stub_handler(stub: Arc<Stub>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    *stub.seen.lock().expect("stub lock") = Some((parts.uri.to_string(), parts.headers, body));
    stub.hits.fetch_add(1, Ordering::SeqCst);
    let (status, body) = stub.answer.lock().expect("stub lock").clone();
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// A fresh directory for the secret and key files the configuration names.
fn work_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("jwtkit-fuzz-proxy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        let stub = Arc::new(Stub::default());
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("loopback listener");
        let port = listener.local_addr().expect("local addr").port();
        let handler_stub = stub.clone();
        let stub_app = Router::new()
            .fallback(move |request: Request| stub_handler(handler_stub.clone(), request));
        runtime.spawn(async move {
            let _ = axum::serve(listener, stub_app).await;
        });

        let users = SigningKey::from_pem(None, include_str!("../keys/es256.pem")).expect("PEM");
        let dir = work_dir();
        let write = |name: &str, contents: &[u8]| {
            let path = dir.join(name);
            std::fs::write(&path, contents).expect("write fixture file");
            path.display().to_string()
        };
        let hs_file = write("services.secret", HS_SECRET);
        let users_file = write(
            "users.jwk.json",
            serde_json::to_string(&users.public_jwk().expect("EC key"))
                .expect("JWK")
                .as_bytes(),
        );
        let engine_file = write(
            "engine.secret",
            b"Ym9ZpC1VyZUU9svrmtrJGXZlAlMx5dW29qQwXUDYp50=",
        );
        let password_file = write("password", b"demo");
        let centrifugo_file = write(
            "centrifugo.secret",
            b"fuzz-only centrifugo secret, 32 bytes+",
        );
        let config = format!(
            r#"
listen = "127.0.0.1:0"
cors_origins = ["http://localhost:3000"]
token_cache_capacity = 64

[limits]
max_body_bytes = 65536
max_header_bytes = 16384

[[issuers]]
name = "services"
iss = ["{SERVICES_ISS}"]
secret = {{ file = {hs_file:?} }}
algorithms = ["HS256"]
allow_missing_iss = true

[[issuers]]
name = "users"
iss = ["{USERS_ISS}"]
public_key_file = {users_file:?}
audiences = ["api"]

[[upstreams]]
name = "stub"
url = "http://127.0.0.1:{port}/base"
timeout_seconds = 5
identity_headers = {{ "X-User-Id" = "sub", "X-User-Email" = "email" }}
[upstreams.auth]
type = "mint"
profile = "camunda"
secret = {{ file = {engine_file:?} }}
ttl = "1h"

[[upstreams]]
name = "pass"
url = "http://127.0.0.1:{port}/pass"
timeout_seconds = 5
auth = {{ type = "passthrough" }}

[[upstreams]]
name = "down"
url = "http://127.0.0.1:1/down"
timeout_seconds = 1
auth = {{ type = "basic", user = "demo", password = {{ file = {password_file:?} }} }}

[[routes]]
prefix = "/up"
upstream = "stub"
strip_prefix = true
token_from = ["header", "cookie:session", "query:access_token"]

[[routes]]
prefix = "/pass"
upstream = "pass"
issuers = ["users"]
token_from = ["header", "cookie:session", "query:access_token"]

[[routes]]
prefix = "/down"
upstream = "down"
require_claims = {{ role = "ops" }}

[camunda]
upstream = "stub"
token_from = ["header", "cookie:session", "query:access_token"]

[centrifugo]
secret = {{ file = {centrifugo_file:?} }}
connection_channels = ["agents.{{tenant_id}}.{{sub}}"]
subscription_channels = ["agents.{{tenant_id}}.{{sub}}", "broadcast.{{tenant_id}}.*"]
token_from = ["header", "cookie:session", "query:access_token"]
"#
        );
        let router = runtime
            .block_on(async { jwtkit_proxy::router_from_toml(&config) })
            .expect("the fuzz configuration is valid");
        // Every file was read while the router was built: no secret file stays behind.
        let _ = std::fs::remove_dir_all(&dir);
        Fixture {
            serial: Mutex::new(()),
            runtime,
            router,
            stub,
            services: hs(HS_SECRET),
            users,
            untrusted: hs(UNTRUSTED_SECRET),
        }
    })
}

fn sign(key: &SigningKey, payload: &[u8]) -> String {
    let header = format!(r#"{{"alg":"{}","typ":"JWT"}}"#, key.algorithm().name());
    let mut token = format!(
        "{}.{}",
        b64::encode(header.as_bytes()),
        b64::encode(payload)
    );
    let signature = key.sign(token.as_bytes()).expect("signing works");
    token.push('.');
    token.push_str(&b64::encode(&signature));
    token
}

/// The claims of the harness's valid tokens for `iss`.
pub fn default_claims(iss: &str, exp: i64) -> Value {
    json!({
        "iss": iss,
        "sub": "user-1",
        "email": "user-1@fuzz.example",
        "aud": "api",
        "role": "ops",
        "tenant_id": "t1",
        "iat": 1_700_000_000,
        "exp": exp,
    })
}

/// The token the input asks for: (token, its claims when it is valid, whether it could be).
fn token(
    fixture: &Fixture,
    mode: u8,
    field: &[u8],
) -> (Option<String>, Option<Map<String, Value>>, bool) {
    let claims_of = |payload: &[u8]| serde_json::from_slice::<Map<String, Value>>(payload).ok();
    let default =
        |iss: &str, exp: i64| serde_json::to_vec(&default_claims(iss, exp)).expect("JSON");
    match mode & 7 {
        0 => (None, None, false),
        1 => {
            let payload = default(SERVICES_ISS, FAR_EXP);
            (
                Some(sign(&fixture.services, &payload)),
                claims_of(&payload),
                true,
            )
        }
        2 => {
            let payload = default(USERS_ISS, FAR_EXP);
            (
                Some(sign(&fixture.users, &payload)),
                claims_of(&payload),
                true,
            )
        }
        3 => (Some(sign(&fixture.services, field)), claims_of(field), true),
        4 => (
            Some(String::from_utf8_lossy(field).into_owned()),
            None,
            true,
        ),
        5 => (Some(sign(&fixture.untrusted, field)), None, false),
        6 => {
            let payload = default(SERVICES_ISS, 1_700_000_000);
            (Some(sign(&fixture.services, &payload)), None, false)
        }
        _ => (Some(sign(&fixture.users, field)), claims_of(field), true),
    }
}

/// Percent-encodes everything but unreserved characters (RFC 3986 §2.3).
fn query_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn fields(data: &[u8]) -> [&[u8]; 5] {
    let mut out: [&[u8]; 5] = [&[]; 5];
    let mut parts = data.splitn(5, |&b| b == 0xFF);
    for slot in &mut out {
        *slot = parts.next().unwrap_or_default();
    }
    out
}

/// Runs one fuzz input.
pub fn run(data: &[u8]) {
    let [method_byte, token_byte, rest @ ..] = data else {
        return;
    };
    let fixture = fixture();
    // One request at a time: the stub's record is shared (tests replay from several threads).
    let _one_at_a_time = fixture.serial.lock().unwrap_or_else(|e| e.into_inner());
    let [path, header_lines, token_field, body, answer] = fields(rest);
    let method = Method::from_bytes(METHODS[usize::from(method_byte & 7)].as_bytes())
        .expect("a known method");
    let (token, claims, could_pass) = token(fixture, *token_byte, token_field);
    let placement = (token_byte >> 3) & 3;

    let mut target = String::from_utf8_lossy(path).into_owned();
    if !target.starts_with('/') {
        target.insert(0, '/');
    }
    if let (Some(token), 2) = (&token, placement) {
        target.push(if target.contains('?') { '&' } else { '?' });
        target.push_str("access_token=");
        target.push_str(&query_escape(token));
    }
    let Ok(uri) = Uri::try_from(target) else {
        return;
    };

    let mut headers = HeaderMap::new();
    for line in header_lines.split(|&b| b == b'\n').take(32) {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(line[..colon].trim_ascii()),
            HeaderValue::from_bytes(line[colon + 1..].trim_ascii()),
        ) else {
            continue;
        };
        // The framing is the server's business: hyper never hands the app a body that
        // disagrees with its Content-Length, so neither does the harness.
        if name != header::CONTENT_LENGTH && name != header::TRANSFER_ENCODING {
            headers.append(name, value);
        }
    }
    let forged: Vec<(HeaderName, HeaderValue)> = headers
        .iter()
        .filter(|(name, _)| is_identity_header(name))
        .map(|(n, v)| (n.clone(), v.clone()))
        .collect();
    if let Some(token) = &token {
        let value = match placement {
            0 => Some(format!("Bearer {token}")),
            1 => None,
            2 => None,
            _ => Some(format!("bearer   {token}  ")),
        };
        if let Some(value) = value.and_then(|v| HeaderValue::from_str(&v).ok()) {
            headers.insert(header::AUTHORIZATION, value);
        }
        if placement == 1
            && let Ok(value) = HeaderValue::from_str(&format!("theme=dark; session={token}"))
        {
            headers.append(header::COOKIE, value);
        }
    }
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));

    let mut request = Request::new(Body::from(body.to_vec()));
    *request.method_mut() = method.clone();
    *request.uri_mut() = uri.clone();
    *request.headers_mut() = headers;

    let status = STUB_STATUSES[usize::from(token_byte >> 5)];
    *fixture.stub.answer.lock().expect("stub lock") = (status, Bytes::copy_from_slice(answer));
    *fixture.stub.seen.lock().expect("stub lock") = None;
    let hits_before = fixture.stub.hits.load(Ordering::SeqCst);

    let (status, response_body) = fixture.runtime.block_on(async {
        let response = tokio::time::timeout(
            Duration::from_secs(20),
            fixture.router.clone().oneshot(request),
        )
        .await
        .expect("the proxy answered within 20 s")
        .expect("the router is infallible");
        let status = response.status();
        let body = tokio::time::timeout(
            Duration::from_secs(20),
            axum::body::to_bytes(response.into_body(), 1 << 20),
        )
        .await
        .expect("the response body ended within 20 s");
        (status, body)
    });
    let reached = fixture.stub.hits.load(Ordering::SeqCst) != hits_before;
    let seen = fixture.stub.seen.lock().expect("stub lock").take();

    // fuzz/regressions/proxy/mint-empty-subject-500: a valid token with `"sub": ""` on a route
    // with a minted credential was a 500 `mint_failed`; it is a 403 since deb3cd3.
    assert_ne!(
        status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "500 for {method} {uri}: {:?}",
        response_body.map(|b| String::from_utf8_lossy(&b).into_owned())
    );
    // The proxy routes on the canonical path (`jwtkit_proxy::path`): `//health` is `/health`.
    // A path it refuses (400 `invalid_path`) reaches nothing: `""` matches no route below.
    let canonical = jwtkit_proxy::path::canonicalize(uri.path())
        .map(|p| p.into_owned())
        .unwrap_or_default();
    let path = canonical.as_str();
    if !could_pass {
        // `/health` probes each upstream's base URL itself (without credentials).
        let public = matches!(path, "/health" | "/ready" | "/metrics") || method == Method::OPTIONS;
        assert!(
            !reached || path == "/health",
            "the upstream was reached without a valid token: {method} {uri}"
        );
        assert!(
            public || !status.is_success(),
            "{status} without a valid token: {method} {uri}"
        );
    }
    if let Some((upstream_uri, upstream_headers, upstream_body)) = seen {
        check_forwarded(
            path,
            token.as_deref(),
            claims.as_ref(),
            &forged,
            &upstream_uri,
            &upstream_headers,
            &upstream_body,
            body,
        );
    }
}

fn is_identity_header(name: &HeaderName) -> bool {
    name.as_str().starts_with("x-user-") || name.as_str().starts_with("x-auth-")
}

fn under(path: &str, prefix: &str) -> bool {
    path == prefix || path.starts_with(prefix) && path[prefix.len()..].starts_with('/')
}

#[allow(clippy::too_many_arguments)]
fn check_forwarded(
    path: &str,
    token: Option<&str>,
    claims: Option<&Map<String, Value>>,
    forged: &[(HeaderName, HeaderValue)],
    upstream_uri: &str,
    upstream_headers: &HeaderMap,
    upstream_body: &[u8],
    body: &[u8],
) {
    let passthrough = upstream_uri.starts_with("/pass");
    for (name, value) in upstream_headers {
        // CGI-style upstreams read `x_user_id` as `x-user-id`: no such name is forwarded.
        assert!(
            !name.as_str().contains('_'),
            "a header named with `_` reached the upstream: {name}"
        );
        if !is_identity_header(name) {
            continue;
        }
        let claim = match name.as_str() {
            "x-user-id" if !passthrough => "sub",
            "x-user-email" if !passthrough => "email",
            _ => panic!("a caller-set {name} header reached the upstream"),
        };
        if let Some(Value::String(expected)) = claims.and_then(|c| c.get(claim)) {
            // A value with outer whitespace is refused (403): HTTP would strip it on the way
            // (fuzz/regressions/proxy/identity-header-trailing-space).
            assert_eq!(
                value.as_bytes(),
                expected.as_bytes(),
                "{name} is not the token's {claim}"
            );
        } else {
            assert!(
                !forged.iter().any(|(n, v)| n == name && v == value),
                "a caller-set {name} header reached the upstream"
            );
        }
    }
    if let Some(token) = token.filter(|t| t.len() >= 16) {
        let leaked = upstream_headers
            .iter()
            .filter(|(name, _)| !passthrough || *name != header::AUTHORIZATION)
            .any(|(_, v)| {
                v.as_bytes()
                    .windows(token.len())
                    .any(|w| w == token.as_bytes())
            })
            || upstream_uri.contains(token);
        assert!(!leaked, "the caller's token reached the upstream");
    }
    if under(path, "/up") || under(path, "/pass") {
        assert_eq!(
            upstream_body, body,
            "the upstream got another body than the caller sent"
        );
    }
}
