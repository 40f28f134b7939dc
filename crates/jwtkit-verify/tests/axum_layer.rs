//! The axum Layer and extractor: 401 with an RFC 6750 challenge, 503 for unavailable keys,
//! typed claims in handlers; `route_layer` next to CORS, optional authentication, cookie tokens,
//! the rejection hook, `Retry-After`, claim-shape errors and the log line of a refusal.
//! (`Claims<T>` was renamed `JwtClaims<T>`; the first four tests are otherwise unchanged.)

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::{Request, StatusCode, header};
use jwtkit_keys::{Algorithm, SigningKey};
use jwtkit_mint::{Expiry, GenericProfile, Minter};
use jwtkit_secret::Secret;
use jwtkit_verify::axum_auth::{JwtAuthLayer, JwtClaims};
use jwtkit_verify::{IssuerConfig, JwksCache, JwksConfig, KeySource, Policy, Registry};
use tower::ServiceExt;

#[derive(serde::Deserialize)]
struct User {
    sub: String,
}

async fn me(JwtClaims(user): JwtClaims<User>) -> String {
    format!("hello {}", user.sub)
}

fn app(secret: &Secret) -> Router {
    let api = IssuerConfig {
        name: "api".into(),
        issuers: vec!["https://api.example".into()],
        keys: KeySource::Static(vec![
            SigningKey::hmac(Algorithm::HS256, secret)
                .unwrap()
                .verifying_key()
                .unwrap(),
        ]),
        policy: Policy::default(),
    };
    // An issuer whose JWKS endpoint refuses connections (port 9 on loopback: discard, closed).
    let down = IssuerConfig {
        name: "down".into(),
        issuers: vec!["https://down.example".into()],
        keys: KeySource::Jwks(
            JwksCache::new(JwksConfig::jwks_url("http://127.0.0.1:9/jwks")).unwrap(),
        ),
        policy: Policy::default(),
    };
    let registry = Registry::new(vec![api, down]).unwrap();
    Router::new()
        .route("/me", get(me))
        .layer(JwtAuthLayer::new(Arc::new(registry)))
}

fn token(secret: &Secret, issuer: &str, subject: &str) -> String {
    let profile = GenericProfile {
        subject: Some(subject.into()),
        issuer: Some(issuer.into()),
        expiry: Expiry::After(60),
        ..GenericProfile::default()
    };
    let key = SigningKey::hmac(Algorithm::HS256, secret).unwrap();
    Minter::new(key)
        .mint(&profile.claims(jwtkit_mint::now()).unwrap())
        .unwrap()
}

async fn call(
    app: Router,
    authorization: Option<String>,
) -> (StatusCode, Option<String>, serde_json::Value, String) {
    let mut request = Request::get("/me");
    if let Some(value) = authorization {
        request = request.header(header::AUTHORIZATION, value);
    }
    let response = app
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let challenge = response
        .headers()
        .get(header::WWW_AUTHENTICATE)
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
        .await
        .unwrap();
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    (
        status,
        challenge,
        serde_json::from_str(&text).unwrap_or_default(),
        text,
    )
}

#[tokio::test]
async fn valid_token_reaches_the_handler_with_typed_claims() {
    let secret = Secret::generate(32).unwrap();
    let bearer = format!("bearer {}", token(&secret, "https://api.example", "alice"));
    let (status, _, _, text) = call(app(&secret), Some(bearer)).await;
    assert_eq!((status, text.as_str()), (StatusCode::OK, "hello alice"));
}

#[tokio::test]
async fn missing_token_is_401_with_a_bare_bearer_challenge() {
    let secret = Secret::generate(32).unwrap();
    let (status, challenge, body, _) = call(app(&secret), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(challenge.as_deref(), Some("Bearer"));
    assert_eq!(body["error"], "missing_token");
    let (status, _, body, _) = call(app(&secret), Some("Basic dXNlcjpwYXNz".into())).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("missing_token"))
    );
}

#[tokio::test]
async fn invalid_token_is_401_with_invalid_token_challenge_and_code() {
    let secret = Secret::generate(32).unwrap();
    let other = Secret::generate(32).unwrap();
    let bearer = format!("Bearer {}", token(&other, "https://api.example", "mallory"));
    let (status, challenge, body, _) = call(app(&secret), Some(bearer)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        challenge.as_deref(),
        Some("Bearer error=\"invalid_token\", error_description=\"bad_signature\"")
    );
    assert_eq!(body["error"], "bad_signature");
}

#[tokio::test]
async fn unavailable_issuer_keys_are_503_not_401() {
    let secret = Secret::generate(32).unwrap();
    let bearer = format!("Bearer {}", token(&secret, "https://down.example", "bob"));
    let (status, challenge, body, _) = call(app(&secret), Some(bearer)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(challenge, None);
    assert_eq!(body["error"], "jwks_unavailable");
}

// ---- The layer as a service author sets it up from the docs: constructors, route_layer, CORS.

const API: &str = "https://api.example";
const DOWN: &str = "https://down.example";

/// An HMAC issuer and one whose JWKS server is down (port 9 on loopback refuses connections).
fn registry(secret: &Secret) -> Registry {
    Registry::new(vec![
        IssuerConfig::hmac("api", secret).unwrap().iss(API),
        IssuerConfig::jwks_url("down", "http://127.0.0.1:9/jwks")
            .unwrap()
            .iss(DOWN),
    ])
    .unwrap()
}

fn signed(secret: &Secret, claims: serde_json::Value) -> String {
    Minter::new(SigningKey::hmac(Algorithm::HS256, secret).unwrap())
        .mint(&claims)
        .unwrap()
}

struct Answer {
    status: StatusCode,
    headers: http::HeaderMap,
    text: String,
}

impl Answer {
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.text).unwrap_or_default()
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }
}

async fn send(app: &Router, request: Request<Body>) -> Answer {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
        .await
        .unwrap();
    Answer {
        status,
        headers,
        text: String::from_utf8(bytes.to_vec()).unwrap(),
    }
}

fn request(uri: &str, token: Option<&str>) -> Request<Body> {
    let mut request = Request::get(uri);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    request.body(Body::empty()).unwrap()
}

async fn orders(JwtClaims(user): JwtClaims<User>) -> String {
    format!("orders of {}", user.sub)
}

/// Two routes under `route_layer`, CORS outside, as the module documentation shows.
fn routed(secret: &Secret) -> Router {
    Router::new()
        .route("/me", get(me))
        .route("/orders", get(orders))
        .route_layer(JwtAuthLayer::new(registry(secret)))
        .layer(
            tower_http::cors::CorsLayer::new()
                .allow_origin(http::HeaderValue::from_static("https://app.example"))
                .allow_methods([http::Method::GET])
                .allow_headers([header::AUTHORIZATION]),
        )
}

#[tokio::test]
async fn route_layer_authenticates_matched_routes_and_leaves_unknown_paths_404() {
    let secret = Secret::generate(32).unwrap();
    let app = routed(&secret);
    let token = token(&secret, API, "alice");
    for (uri, expected) in [("/me", "hello alice"), ("/orders", "orders of alice")] {
        let answer = send(&app, request(uri, Some(&token))).await;
        assert_eq!(
            (answer.status, answer.text.as_str()),
            (StatusCode::OK, expected)
        );
        assert_eq!(
            send(&app, request(uri, None)).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    for token in [None, Some("not.a.token")] {
        let answer = send(&app, request("/nowhere", token)).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{token:?}");
    }
}

#[tokio::test]
async fn a_cors_preflight_is_answered_outside_the_layer() {
    let secret = Secret::generate(32).unwrap();
    let app = routed(&secret);
    let preflight = Request::builder()
        .method(http::Method::OPTIONS)
        .uri("/orders")
        .header(header::ORIGIN, "https://app.example")
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "GET")
        .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "authorization")
        .body(Body::empty())
        .unwrap();
    let answer = send(&app, preflight).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    // The refusal of a cross-origin request carries the CORS headers, so the page can read it.
    let mut refused = request("/orders", None);
    refused
        .headers_mut()
        .insert(header::ORIGIN, "https://app.example".parse().unwrap());
    let answer = send(&app, refused).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        answer.header("access-control-allow-origin"),
        Some("https://app.example")
    );
}

async fn greeting(user: Option<JwtClaims<User>>) -> String {
    match user {
        Some(JwtClaims(user)) => format!("hello {}", user.sub),
        None => "hello stranger".into(),
    }
}

#[tokio::test]
async fn optional_auth_lets_requests_without_a_token_through_and_refuses_bad_tokens() {
    let secret = Secret::generate(32).unwrap();
    let app = Router::new()
        .route("/", get(greeting))
        .route("/me", get(me))
        .route_layer(JwtAuthLayer::new(Arc::new(registry(&secret))).optional());
    let answer = send(&app, request("/", None)).await;
    assert_eq!(
        (answer.status, answer.text.as_str()),
        (StatusCode::OK, "hello stranger")
    );
    let good = token(&secret, API, "alice");
    assert_eq!(
        send(&app, request("/", Some(&good))).await.text,
        "hello alice"
    );
    let forged = token(&Secret::generate(32).unwrap(), API, "mallory");
    let answer = send(&app, request("/", Some(&forged))).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.json()["error"], "bad_signature");
    // A handler that requires the claims still refuses a request without a token.
    let answer = send(&app, request("/me", None)).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.json()["error"], "missing_token");
    assert_eq!(answer.header("www-authenticate"), Some("Bearer"));
}

#[tokio::test]
async fn the_token_may_come_from_the_configured_cookie() {
    let secret = Secret::generate(32).unwrap();
    let app = Router::new()
        .route("/me", get(me))
        .route_layer(JwtAuthLayer::new(registry(&secret)).cookie("__session"));
    let good = token(&secret, API, "alice");
    let with_cookie = |cookie: String| {
        Request::get("/me")
            .header(header::COOKIE, cookie)
            .body(Body::empty())
            .unwrap()
    };
    let answer = send(&app, with_cookie(format!("theme=dark; __session={good}"))).await;
    assert_eq!(
        (answer.status, answer.text.as_str()),
        (StatusCode::OK, "hello alice")
    );
    let answer = send(&app, with_cookie(format!("other={good}"))).await;
    assert_eq!(answer.json()["error"], "missing_token");
    // The header, when present, is the token; the cookie is not looked at.
    let mut both = with_cookie("__session=garbage".into());
    both.headers_mut().insert(
        header::AUTHORIZATION,
        format!("Bearer {good}").parse().unwrap(),
    );
    assert_eq!(send(&app, both).await.status, StatusCode::OK);
}

fn plain_text(rejection: &jwtkit_verify::axum_auth::AuthRejection) -> axum::response::Response {
    use axum::response::IntoResponse;
    (rejection.status(), format!("refused: {}", rejection.code())).into_response()
}

#[derive(Debug, serde::Deserialize)]
struct RealmAccess {
    #[allow(dead_code)]
    roles: Vec<String>,
}

#[derive(Debug, serde::Deserialize)]
struct KeycloakUser {
    #[allow(dead_code)]
    realm_access: RealmAccess,
}

async fn roles(JwtClaims(user): JwtClaims<KeycloakUser>) -> String {
    format!("{user:?}")
}

#[tokio::test]
async fn the_rejection_hook_shapes_every_refusal_and_keeps_the_protocol_headers() {
    let secret = Secret::generate(32).unwrap();
    let app = Router::new()
        .route("/me", get(me))
        .route("/roles", get(roles))
        .route_layer(JwtAuthLayer::new(registry(&secret)).on_rejection(plain_text));
    let answer = send(&app, request("/me", None)).await;
    assert_eq!(
        (answer.status, answer.text.as_str()),
        (StatusCode::UNAUTHORIZED, "refused: missing_token")
    );
    assert_eq!(answer.header("www-authenticate"), Some("Bearer"));
    let expired = signed(
        &secret,
        serde_json::json!({"sub": "a", "iss": API, "exp": jwtkit_verify::now() - 3600}),
    );
    let answer = send(&app, request("/me", Some(&expired))).await;
    assert_eq!(answer.text, "refused: expired");
    assert_eq!(
        answer.header("www-authenticate"),
        Some("Bearer error=\"invalid_token\", error_description=\"expired\"")
    );
    let down = token(&secret, DOWN, "bob");
    let answer = send(&app, request("/me", Some(&down))).await;
    assert_eq!(
        (answer.status, answer.text.as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, "refused: jwks_unavailable")
    );
    assert_eq!(answer.header("retry-after"), Some("5"));
    // The extractor's refusal (claims of the wrong shape) goes through the hook too.
    let shaped = signed(
        &secret,
        serde_json::json!({"iss": API, "exp": jwtkit_verify::now() + 60, "realm_access": {"roles": 1}}),
    );
    let answer = send(&app, request("/roles", Some(&shaped))).await;
    assert_eq!(
        (answer.status, answer.text.as_str()),
        (StatusCode::UNAUTHORIZED, "refused: invalid_claim")
    );
}

#[tokio::test]
async fn unavailable_keys_ask_the_client_to_retry_after_a_few_seconds() {
    let secret = Secret::generate(32).unwrap();
    let app = routed(&secret);
    let answer = send(&app, request("/me", Some(&token(&secret, DOWN, "bob")))).await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(answer.header("retry-after"), Some("5"));
    assert_eq!(answer.header("www-authenticate"), None);
    assert_eq!(answer.json()["error"], "jwks_unavailable");
    // A 401 has no Retry-After.
    let answer = send(&app, request("/me", None)).await;
    assert_eq!(answer.header("retry-after"), None);
}

#[tokio::test]
async fn a_claim_of_the_wrong_shape_is_refused_naming_its_path() {
    let secret = Secret::generate(32).unwrap();
    let app = Router::new()
        .route("/roles", get(roles))
        .route_layer(JwtAuthLayer::new(registry(&secret)));
    let claims = serde_json::json!({
        "iss": API,
        "exp": jwtkit_verify::now() + 60,
        "realm_access": {"roles": [7, "admin"]},
    });
    let answer = send(&app, request("/roles", Some(&signed(&secret, claims)))).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.json()["error"], "invalid_claim");
    assert_eq!(
        answer.json()["detail"],
        "claim \"realm_access.roles[0]\" is invalid: invalid type: integer `7`, expected a string"
    );
    let fits = serde_json::json!({
        "iss": API, "exp": jwtkit_verify::now() + 60, "realm_access": {"roles": ["admin"]},
    });
    let answer = send(&app, request("/roles", Some(&signed(&secret, fits)))).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
}

#[tokio::test]
async fn claims_without_the_layer_are_a_server_error() {
    let app = Router::new().route("/me", get(me));
    let answer = send(&app, request("/me", None)).await;
    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(answer.json()["error"], "auth_not_configured");
}

/// Captures what the fmt subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

/// The log of every test in this binary. A global subscriber, not a thread-local one: tracing
/// caches a log statement's interest from the first thread that reaches it, so a thread-local
/// subscriber misses the statements other tests reach first. Tests read their own lines by path.
fn captured_log() -> &'static Captured {
    static LOG: std::sync::OnceLock<Captured> = std::sync::OnceLock::new();
    LOG.get_or_init(|| {
        let captured = Captured::default();
        let writer = captured.clone();
        tracing_subscriber::fmt()
            .with_env_filter("jwtkit_verify=debug")
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .init();
        captured
    })
}

#[tokio::test]
async fn a_refusal_is_logged_with_code_and_issuer_and_never_the_token() {
    let log = captured_log();
    let secret = Secret::generate(32).unwrap();
    let app = Router::new()
        .route("/audited/me", get(me))
        .route("/audited/orders", get(orders))
        .route_layer(JwtAuthLayer::new(registry(&secret)));
    let forged = token(&Secret::generate(32).unwrap(), API, "mallory");
    let expired = signed(
        &secret,
        serde_json::json!({"sub": "a", "iss": API, "exp": jwtkit_verify::now() - 3600}),
    );
    let unknown = signed(
        &secret,
        serde_json::json!({"sub": "a", "iss": "https://evil.example", "exp": jwtkit_verify::now() + 60}),
    );
    for (path, token) in [
        ("/audited/me", Some(&forged)),
        ("/audited/orders", Some(&expired)),
        ("/audited/orders", Some(&unknown)),
        ("/audited/me", None),
    ] {
        let answer = send(&app, request(path, token.map(String::as_str))).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    }

    let text = log.text();
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("path=\"/audited/"))
        .collect();
    assert_eq!(lines.len(), 4, "{text}");
    let expect = |line: &str, level: &str, parts: &[&str]| {
        assert!(line.contains(level), "{level} in {line}");
        for part in parts {
            assert!(line.contains(part), "{part} in {line}");
        }
    };
    expect(
        lines[0],
        " INFO jwtkit_verify::axum_auth:",
        &[
            "code=\"bad_signature\"",
            "issuer=\"api\"",
            "path=\"/audited/me\"",
            "token not accepted",
        ],
    );
    expect(
        lines[1],
        " INFO ",
        &["code=\"expired\"", "issuer=\"api\"", "the token expired at"],
    );
    // No entry accepts the token's iss: no issuer name to log, the iss is in the reason.
    expect(
        lines[2],
        " INFO ",
        &["code=\"unknown_issuer\"", "https://evil.example"],
    );
    assert!(!lines[2].contains("issuer="), "{}", lines[2]);
    expect(lines[3], "DEBUG ", &["code=\"missing_token\"", "no token"]);
    let mut needles = jwtkit_testsupport::leaks::Needles::default();
    for (what, token) in [
        ("forged", &forged),
        ("expired", &expired),
        ("unknown", &unknown),
    ] {
        needles.token(what, token);
        // The payload segment (the claims, base64url) is not logged either.
        needles.add(format!("{what} payload"), token.split('.').nth(1).unwrap());
    }
    needles.assert_absent("the log", &text, &[]);
}
