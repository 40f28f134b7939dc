//! Upstream credentials end to end, checked by the fake engine that enforces them: Basic demo/demo,
//! the engine JWT of the Camunda JWT plugin minted per caller (camunda profile, base64 secret),
//! passthrough, none; the caller's own Authorization and forged identity headers never reach the
//! upstream; a rejected proxy credential is a 502 naming its fingerprint.

mod common;

use common::*;
use jwtkit_secret::Fingerprint;
use serde_json::json;

const BASIC: &str =
    r#"auth = { type = "basic", user = "demo", password = { env = "ENGINE_PASS" } }"#;
const MINT: &str =
    r#"auth = { type = "mint", profile = "camunda", secret = { env = "ENGINE_JWT_SECRET" } }"#;

/// The fake engine expecting JWTs signed with `ENGINE_SECRET_B64`, and the proxy minting them with
/// `proxy_secret`.
async fn minted_stack(proxy_secret: &str) -> (Engine, Proxy) {
    let engine = Engine::jwt(ENGINE_SECRET_B64);
    let proxy = Proxy::with_toml(
        &engine_toml(&engine.url(), MINT, ""),
        &[("ENGINE_JWT_SECRET", proxy_secret)],
    )
    .await;
    (engine, proxy)
}

#[tokio::test]
async fn basic_credentials_replace_the_callers_token_and_the_engine_accepts_them() {
    let engine = Engine::basic();
    let proxy = Proxy::with_toml(
        &engine_toml(&engine.url(), BASIC, ""),
        &[("ENGINE_PASS", "demo")],
    )
    .await;
    let token = hs_token("alice", json!({}));
    let reply = get(
        &proxy,
        "/engine-rest/process-definition?latestVersion=true",
        &token,
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let keys: Vec<&str> = reply
        .json
        .as_array()
        .expect("definitions")
        .iter()
        .filter_map(|d| d["key"].as_str())
        .collect();
    assert_eq!(keys, ["invoice", "order-process"]);
    let seen = engine.last_request().await;
    assert_eq!(seen.path(), "/engine-rest/process-definition");
    assert_eq!(seen.query(), "latestVersion=true");
    // base64("demo:demo"), exactly once, never the caller's bearer token.
    assert_eq!(seen.headers("authorization"), ["Basic ZGVtbzpkZW1v"]);
}

#[tokio::test]
async fn minted_engine_token_has_the_engine_claims_and_the_engine_accepts_it() {
    let (engine, proxy) = minted_stack(ENGINE_SECRET_B64).await;
    let inbound = hs_token("alice", json!({"email": "alice@example.com"}));
    let reply = get(
        &proxy,
        "/engine-rest/process-definition/key/invoice",
        &inbound,
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json["key"], "invoice");

    let seen = engine.last_request().await;
    let authorization = seen.header("authorization").expect("authorization");
    let minted = authorization.strip_prefix("Bearer ").expect("bearer");
    assert_ne!(minted, inbound);
    let (header, claims) = decode_jwt(minted);
    assert_eq!(header["alg"], "HS256");
    let mut names: Vec<&str> = claims
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "email",
            "exp",
            "iat",
            "isActive",
            "isSuperuser",
            "isVerified",
            "iss",
            "sub"
        ]
    );
    // The engine's seven claims, plus the `iss` marking the token as the proxy's own (the
    // engine does not read it; the proxy refuses it as a caller token).
    assert_eq!(claims["iss"], "urn:jwtkit:proxy");
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["email"], "alice@example.com");
    assert_eq!(claims["isActive"], true);
    let decoded = jwtkit_mint::camunda_secret(ENGINE_SECRET_B64).unwrap();
    assert!(hs256_signature_ok(minted, decoded.expose_bytes()));
    // The text of the base64 secret is not the key (the FastAPI proxy signed with the text).
    assert!(!hs256_signature_ok(minted, ENGINE_SECRET_B64.as_bytes()));
}

#[tokio::test]
async fn minted_token_is_reused_for_the_same_caller_and_differs_between_callers() {
    let (engine, proxy) = minted_stack(ENGINE_SECRET_B64).await;
    let mut seen = Vec::new();
    for sub in ["alice", "alice", "bob"] {
        // A fresh inbound token each time: reuse must follow the subject, not the token.
        let reply = get(
            &proxy,
            "/engine-rest/version",
            &hs_token(sub, json!({"n": seen.len()})),
        )
        .await;
        assert_eq!(reply.status, 200, "{sub}: {}", reply.text());
        seen.push(engine.last_request().await.header("authorization").unwrap());
    }
    assert_eq!(
        seen[0], seen[1],
        "the engine should see alice's token twice"
    );
    assert_ne!(seen[0], seen[2]);
    let bob = seen[2].strip_prefix("Bearer ").unwrap();
    assert_eq!(decode_jwt(bob).1["sub"], "bob");
    assert_eq!(decode_jwt(bob).1["email"], "bob@camunda.local");
}

#[tokio::test]
async fn a_token_with_an_empty_subject_gets_403_not_a_minted_credential() {
    let (engine, proxy) = minted_stack(ENGINE_SECRET_B64).await;
    let reply = get(
        &proxy,
        "/engine-rest/version",
        &hs_token("alice", json!({})),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let forwarded = engine.last_request().await;
    let reply = get(&proxy, "/engine-rest/version", &hs_token("", json!({}))).await;
    reply.assert_error(403, "forbidden");
    assert_eq!(engine.last_request().await.0, forwarded.0);
}

#[tokio::test]
async fn a_claim_with_outer_whitespace_is_403_not_a_trimmed_identity_header() {
    let engine = Engine::basic();
    let upstream = format!("{BASIC}\nidentity_headers = {{ \"X-User-Id\" = \"sub\" }}");
    let proxy = Proxy::with_toml(
        &engine_toml(&engine.url(), &upstream, ""),
        &[("ENGINE_PASS", "demo")],
    )
    .await;
    let reply = get(
        &proxy,
        "/engine-rest/version",
        &hs_token("admin", json!({})),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let forwarded = engine.last_request().await;
    assert_eq!(forwarded.headers("x-user-id"), ["admin"]);
    // HTTP would deliver all of these as `admin`.
    for sub in ["admin ", " admin", "admin\t"] {
        let reply = get(&proxy, "/engine-rest/version", &hs_token(sub, json!({}))).await;
        reply.assert_error(403, "forbidden");
    }
    assert_eq!(engine.last_request().await.0, forwarded.0);
}

#[tokio::test]
async fn passthrough_forwards_the_callers_own_token() {
    let engine = Engine::start(&["--auth", "none"]);
    let proxy = Proxy::with_toml(
        &engine_toml(&engine.url(), r#"auth = { type = "passthrough" }"#, ""),
        &[],
    )
    .await;
    let token = hs_token("alice", json!({}));
    let reply = get(&proxy, "/t/__test/echo", &token).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        engine.last_request().await.headers("authorization"),
        [format!("Bearer {token}")]
    );
}

#[tokio::test]
async fn no_credentials_means_no_authorization_header_upstream() {
    let engine = Engine::basic();
    let proxy = Proxy::with_toml(
        &engine_toml(&engine.url(), r#"auth = { type = "none" }"#, ""),
        &[],
    )
    .await;
    let token = hs_token("alice", json!({}));
    let reply = get(&proxy, "/t/__test/echo", &token).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(engine.last_request().await.header("authorization"), None);
    // The engine wants credentials: its own 401 comes back (the proxy sent none to blame).
    let reply = get(&proxy, "/engine-rest/version", &token).await;
    assert_eq!(reply.status, 401, "{}", reply.text());
    assert_eq!(reply.json["type"], "AuthenticationException");
}

#[tokio::test]
async fn forged_identity_headers_never_reach_the_upstream_and_claims_fill_the_configured_ones() {
    let engine = Engine::basic();
    let upstream = format!(
        "{BASIC}\nidentity_headers = {{ \"X-User-Id\" = \"sub\", \"X-User-Email\" = \"email\", \"X-User-Name\" = \"name\" }}"
    );
    let proxy = Proxy::with_toml(
        &engine_toml(&engine.url(), &upstream, ""),
        &[("ENGINE_PASS", "demo")],
    )
    .await;
    let token = hs_token("alice", json!({"email": "alice@example.com"}));
    let reply = Reply::of(
        client()
            .get(proxy.url("/engine-rest/version"))
            .bearer_auth(&token)
            .header("X-User-Id", "admin")
            .header("x-user-email", "root@example.com")
            .header("X-User-Name", "Mallory")
            .header("X-Auth-Roles", "superuser")
            .header("X-Auth-Request-User", "admin")
            .header("X-Request-Id", "req-42")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let seen = engine.last_request().await;
    assert_eq!(seen.headers("x-user-id"), ["alice"]);
    assert_eq!(seen.headers("x-user-email"), ["alice@example.com"]);
    // The token has no `name`: the forged header is dropped, not kept.
    assert_eq!(seen.header("x-user-name"), None);
    let forged: Vec<String> = seen
        .header_names()
        .into_iter()
        .filter(|n| n.starts_with("x-auth-"))
        .collect();
    assert!(forged.is_empty(), "{forged:?}");
    assert_eq!(seen.headers("authorization"), ["Basic ZGVtbzpkZW1v"]);
    // Unrelated headers pass.
    assert_eq!(seen.header("x-request-id").as_deref(), Some("req-42"));
}

#[tokio::test]
async fn engine_rejecting_the_basic_credential_is_502_naming_its_fingerprint() {
    let engine = Engine::basic();
    let password = "not-the-engine-password-7f3a";
    let proxy = Proxy::with_toml(
        &engine_toml(&engine.url(), BASIC, ""),
        &[("ENGINE_PASS", password)],
    )
    .await;
    let reply = get(
        &proxy,
        "/engine-rest/version",
        &hs_token("alice", json!({})),
    )
    .await;
    let detail = reply.assert_error(502, "upstream_rejected_credentials");
    let fingerprint = Fingerprint::of(format!("demo:{password}").as_bytes()).to_string();
    assert!(
        detail.contains(&fingerprint),
        "{fingerprint} not in {detail}"
    );
    assert!(!detail.contains(password), "{detail}");
    assert!(!proxy.stderr.text().contains(password));
    // The engine really refused it.
    assert_eq!(
        engine.last_request().await.header("authorization"),
        Some(format!(
            "Basic {}",
            jwtkit_secret::Secret::from_bytes(format!("demo:{password}").into_bytes())
                .unwrap()
                .encode(jwtkit_secret::SecretEncoding::Base64)
                .as_str()
        ))
    );
}

#[tokio::test]
async fn engine_rejecting_the_minted_token_is_502_naming_the_secret_fingerprint() {
    // As in the FastAPI setup: proxy and engine configured with different secrets.
    let (engine, proxy) = minted_stack(OTHER_ENGINE_SECRET_B64).await;
    let reply = get(
        &proxy,
        "/engine-rest/process-definition",
        &hs_token("alice", json!({})),
    )
    .await;
    let detail = reply.assert_error(502, "upstream_rejected_credentials");
    let proxy_fingerprint = jwtkit_mint::camunda_secret(OTHER_ENGINE_SECRET_B64)
        .unwrap()
        .fingerprint()
        .to_string();
    let engine_fingerprint = jwtkit_mint::camunda_secret(ENGINE_SECRET_B64)
        .unwrap()
        .fingerprint()
        .to_string();
    assert!(
        detail.contains(&proxy_fingerprint),
        "{proxy_fingerprint} not in {detail}"
    );
    assert!(!detail.contains(&engine_fingerprint));
    for secret in [OTHER_ENGINE_SECRET_B64, ENGINE_SECRET_B64] {
        assert!(!detail.contains(secret));
        assert!(!proxy.stderr.text().contains(secret));
    }
    // The engine saw a minted token, not the caller's.
    let seen = engine.last_request().await;
    let minted = seen.header("authorization").unwrap();
    assert_eq!(
        decode_jwt(minted.strip_prefix("Bearer ").unwrap()).1["sub"],
        "alice"
    );
}

#[tokio::test]
async fn a_configured_identity_header_outside_the_stripped_prefixes_cannot_be_forged() {
    let engine = Engine::start(&["--auth", "none"]);
    let upstream = "identity_headers = { \"X-Remote-User\" = \"preferred_username\" }";
    let proxy = Proxy::with_toml(&engine_toml(&engine.url(), upstream, ""), &[]).await;
    // With the claim, the header carries it.
    let with_claim = hs_token("alice", json!({"preferred_username": "alice.a"}));
    let reply = Reply::of(
        client()
            .get(proxy.url("/t/__test/echo"))
            .bearer_auth(&with_claim)
            .header("X-Remote-User", "admin")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        engine.last_request().await.headers("x-remote-user"),
        ["alice.a"]
    );
    // Without the claim, the caller's own value must not stand in for it.
    let without_claim = hs_token("mallory", json!({}));
    let reply = Reply::of(
        client()
            .get(proxy.url("/t/__test/echo"))
            .bearer_auth(&without_claim)
            .header("X-Remote-User", "admin")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        engine.last_request().await.header("x-remote-user"),
        None,
        "a forged identity header reached the upstream"
    );
}
