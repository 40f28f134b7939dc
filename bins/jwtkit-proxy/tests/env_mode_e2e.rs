//! Environment mode (compatibility with the FastAPI proxy) end to end: the proxy started with only
//! the FastAPI proxy's variables (CLERK_JWKS_URL, CLERK_ISSUER, ENGINE_URL, ENGINE_USER/PASS, then
//! ENGINE_JWT_SECRET, JWT_SECRET_KEY, CENTRIFUGO_*, CORS_ORIGINS) serves the Camunda facade against
//! the fake engine, which enforces the credentials.

mod common;

use common::*;
use jwtkit_keys::{Algorithm, JwkSet, SigningKey, keygen};
use jwtkit_mint::Minter;
use jwtkit_testsupport::Idp;
use serde_json::json;

async fn get(proxy: &Proxy, path: &str, token: Option<&str>) -> Reply {
    let mut request = client().get(proxy.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    Reply::of(request.send().await.expect("request")).await
}

fn definition_keys(reply: &Reply) -> Vec<String> {
    reply
        .json
        .as_array()
        .unwrap_or_else(|| panic!("a list of definitions: {}", reply.text()))
        .iter()
        .filter_map(|d| d["key"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn clerk_jwks_and_basic_engine_credentials_from_the_environment() {
    let idp = Idp::start(None, 300);
    let engine = Engine::basic();
    let rest = engine.rest_url();
    // The test IdP's tokens carry `aud` (Clerk session tokens do not): name it, or the issuer
    // refuses them (no audience configured).
    let proxy = Proxy::with_env(&[
        ("CLERK_JWKS_URL", &idp.jwks_uri),
        ("CLERK_ISSUER", &idp.issuer),
        ("CLERK_AUDIENCE", "urn:jwtkit:api"),
        ("ENGINE_URL", &rest),
        ("ENGINE_USER", "demo"),
        ("ENGINE_PASS", "demo"),
    ])
    .await;
    let token = idp.token("test-client", None).await;
    let reply = get(&proxy, "/api/processes", Some(&token)).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(definition_keys(&reply), ["invoice", "order-process"]);
    let seen = engine.last_request().await;
    assert_eq!(seen.path(), "/engine-rest/process-definition");
    assert_eq!(seen.headers("authorization"), ["Basic ZGVtbzpkZW1v"]);

    let ready = get(&proxy, "/ready", None).await;
    assert_eq!(ready.status, 200, "{}", ready.text());
    assert!(ready.json["issuers"]["clerk"]["keys"].as_u64().unwrap() >= 2);
    // Without JWT_SECRET_KEY there is no HS256 issuer.
    let reply = get(
        &proxy,
        "/api/processes",
        Some(&hs_token("alice", json!({}))),
    )
    .await;
    assert_eq!(reply.status, 401, "{}", reply.text());
    let reply = get(&proxy, "/api/processes", None).await;
    reply.assert_error(401, "missing_token");
}

#[tokio::test]
async fn the_clerk_issuer_defaults_to_the_origin_of_the_jwks_url() {
    let idp = Idp::start(None, 300);
    assert_eq!(
        idp.issuer, idp.base_url,
        "the IdP's default issuer is its origin"
    );
    let engine = Engine::basic();
    let rest = engine.rest_url();
    let proxy = Proxy::with_env(&[
        ("CLERK_JWKS_URL", &idp.jwks_uri),
        ("CLERK_AUDIENCE", "urn:jwtkit:api"),
        ("ENGINE_URL", &rest),
        ("ENGINE_PASS", "demo"),
    ])
    .await;
    let token = idp.token("test-client-es", None).await;
    let reply = get(&proxy, "/api/processes/invoice", Some(&token)).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json["name"], "Invoice Receipt");
}

/// A Clerk-like instance: its JWKS at `http://127.0.0.1:PORT/.well-known/jwks.json` (served by
/// this test process until it ends) and an ES256 key to sign session tokens with.
async fn clerk_instance() -> (String, SigningKey) {
    let pair = keygen::generate(Algorithm::ES256, 2048).unwrap();
    let signer = SigningKey::from_pem(Some(Algorithm::ES256), &pair.private_pem)
        .unwrap()
        .with_kid(pair.public_jwk.kid.clone());
    let jwks = serde_json::to_value(JwkSet {
        keys: vec![pair.public_jwk],
    })
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new().route(
        "/.well-known/jwks.json",
        axum::routing::get(move || async move { axum::Json(jwks) }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    (origin, signer)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clerk_session_tokens_without_aud_pass_and_tokens_with_aud_need_clerk_audience() {
    let (origin, signer) = clerk_instance().await;
    let engine = Engine::basic();
    let rest = engine.rest_url();
    let proxy = Proxy::with_env(&[
        ("CLERK_JWKS_URL", &format!("{origin}/.well-known/jwks.json")),
        ("ENGINE_URL", &rest),
        ("ENGINE_PASS", "demo"),
    ])
    .await;
    let minter = Minter::new(signer);
    let now = jwtkit_mint::now();
    // A Clerk session token: no aud.
    let session = json!({"iss": origin, "sub": "user_2abc", "sid": "sess_1", "azp": "http://localhost:3000", "iat": now, "nbf": now, "exp": now + 60});
    let reply = get(
        &proxy,
        "/api/processes",
        Some(&minter.mint(&session).unwrap()),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    // The same token addressed to an audience is refused without CLERK_AUDIENCE.
    let mut addressed = session.clone();
    addressed["aud"] = json!("urn:another-service");
    let reply = get(
        &proxy,
        "/api/processes",
        Some(&minter.mint(&addressed).unwrap()),
    )
    .await;
    reply.assert_error(401, "audience_mismatch");
}

#[tokio::test]
async fn engine_jwt_secret_mints_the_engine_token_for_the_service_user() {
    let engine = Engine::jwt(ENGINE_SECRET_B64);
    let rest = engine.rest_url();
    let proxy = Proxy::with_env(&[
        ("JWT_SECRET_KEY", HS_SECRET),
        ("ENGINE_URL", &rest),
        ("ENGINE_USER", "demo"),
        // Both set: the engine token wins, as in the FastAPI proxy once its secret was fixed.
        ("ENGINE_PASS", "demo"),
        ("ENGINE_JWT_SECRET", ENGINE_SECRET_B64),
        ("ENGINE_JWT_ALGORITHM", "HS256"),
    ])
    .await;
    // A generate_jwt.py token: HS256, no iss.
    let reply = get(
        &proxy,
        "/api/processes",
        Some(&hs_token("client", json!({}))),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(definition_keys(&reply), ["invoice", "order-process"]);
    let authorization = engine.last_request().await.header("authorization").unwrap();
    let claims = decode_jwt(authorization.strip_prefix("Bearer ").unwrap()).1;
    assert_eq!(claims["sub"], "demo");
    assert_eq!(claims["email"], "demo@camunda.local");
    assert_eq!(claims["isSuperuser"], true);
}

#[tokio::test]
async fn a_proxy_engine_secret_differing_from_the_engines_is_502_naming_the_fingerprint() {
    // The FastAPI proxy and the engine disagreeing on the JWT secret, in environment mode.
    let engine = Engine::jwt(ENGINE_SECRET_B64);
    let rest = engine.rest_url();
    let proxy = Proxy::with_env(&[
        ("JWT_SECRET_KEY", HS_SECRET),
        ("ENGINE_URL", &rest),
        ("ENGINE_JWT_SECRET", OTHER_ENGINE_SECRET_B64),
    ])
    .await;
    let reply = get(
        &proxy,
        "/api/processes",
        Some(&hs_token("client", json!({}))),
    )
    .await;
    let detail = reply.assert_error(502, "upstream_rejected_credentials");
    let fingerprint = jwtkit_mint::camunda_secret(OTHER_ENGINE_SECRET_B64)
        .unwrap()
        .fingerprint()
        .to_string();
    assert!(detail.contains(&fingerprint), "{detail}");
    // The start-up log names the same fingerprint, so the two sides can be compared.
    assert!(proxy.stderr.text().contains(&fingerprint));
    assert!(!proxy.stderr.text().contains(OTHER_ENGINE_SECRET_B64));
}

#[tokio::test]
async fn centrifugo_and_cors_variables_are_honoured() {
    let engine = Engine::basic();
    let rest = engine.rest_url();
    let centrifugo_secret = "centrifugo-secret-from-the-environment-0123";
    let proxy = Proxy::with_env(&[
        ("JWT_SECRET_KEY", HS_SECRET),
        ("ENGINE_URL", &rest),
        ("ENGINE_PASS", "demo"),
        ("CENTRIFUGO_HMAC_SECRET", centrifugo_secret),
        ("CENTRIFUGO_CHANNELS", "agents.{tenant_id}.{sub}"),
        (
            "CORS_ORIGINS",
            "http://localhost:3000, http://localhost:3001",
        ),
    ])
    .await;
    let token = hs_token("agent-1", json!({"tenant_id": "t1"}));
    let reply = Reply::of(
        client()
            .post(proxy.url("/token/centrifugo"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let issued = reply.json["token"].as_str().unwrap();
    assert!(hs256_signature_ok(issued, centrifugo_secret.as_bytes()));
    assert_eq!(
        decode_jwt(issued).1["channels"],
        json!(["agents.t1.agent-1"])
    );

    let preflight = client()
        .request(reqwest::Method::OPTIONS, proxy.url("/api/processes"))
        .header("origin", "http://localhost:3001")
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "authorization")
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{}", preflight.status());
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        "http://localhost:3001"
    );
    let other = client()
        .request(reqwest::Method::OPTIONS, proxy.url("/api/processes"))
        .header("origin", "http://evil.example")
        .header("access-control-request-method", "GET")
        .send()
        .await
        .unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
}
