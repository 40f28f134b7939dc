//! Inbound authentication end to end: the real proxy between a client and the fake engine,
//! tokens from the real oidc-provider IdP (RS256, ES256 over JWKS) and HS256 tokens without
//! `iss` (as `generate_jwt.py` made them), route rules (403), token sources (cookie, query).

mod common;

use common::*;
use jwtkit_testsupport::Idp;
use serde_json::json;

/// Engine (no auth of its own) and a proxy trusting the IdP and the HS256 issuer, with
/// `/t` open to both, `/idp-only` for the IdP, `/admin` for callers with role admin, `/c` taking
/// tokens from the header or the `__session` cookie, `/q` only from the `access_token` query.
async fn stack(idp: Option<&Idp>) -> (Engine, Proxy) {
    let engine = Engine::start(&["--auth", "none"]);
    let idp_section = idp.map(idp_issuer_toml).unwrap_or_default();
    let idp_only = if idp.is_some() { "idp" } else { "api" };
    let toml = format!(
        r#"{idp_section}
{rest}
[[routes]]
prefix = "/idp-only"
upstream = "engine"
strip_prefix = true
issuers = ["{idp_only}"]

[[routes]]
prefix = "/admin"
upstream = "engine"
strip_prefix = true
require_claims = {{ role = "admin" }}

[[routes]]
prefix = "/c"
upstream = "engine"
strip_prefix = true
token_from = ["header", "cookie:__session"]

[[routes]]
prefix = "/q"
upstream = "engine"
strip_prefix = true
token_from = ["query:access_token"]
"#,
        rest = engine_toml(&engine.url(), "", "")
    );
    let proxy = Proxy::with_toml(&toml, &[]).await;
    (engine, proxy)
}

async fn get(proxy: &Proxy, path: &str, token: Option<&str>) -> Reply {
    let mut request = client().get(proxy.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    Reply::of(request.send().await.expect("request")).await
}

#[tokio::test]
async fn idp_rs256_es256_and_hs256_tokens_without_iss_are_all_accepted() {
    let idp = Idp::start(None, 300);
    let (engine, proxy) = stack(Some(&idp)).await;
    let rs256 = idp.token("test-client", None).await;
    let es256 = idp.token("test-client-es", None).await;
    assert_eq!(decode_jwt(&rs256).0["alg"], "RS256");
    assert_eq!(decode_jwt(&es256).0["alg"], "ES256");
    let hs256 = hs_token("alice", json!({}));
    assert!(decode_jwt(&hs256).1.get("iss").is_none());

    for (token, sub) in [
        (&rs256, "test-client"),
        (&es256, "test-client-es"),
        (&hs256, "alice"),
    ] {
        let reply = get(&proxy, "/t/__test/echo/who", Some(token)).await;
        assert_eq!(reply.status, 200, "{sub}: {}", reply.text());
        let seen = engine.last_request().await;
        assert_eq!(seen.path(), "/__test/echo/who");
        // The upstream has no credentials configured: the caller's token must not leak.
        assert_eq!(seen.header("authorization"), None, "{sub}");
    }

    // Ready once every issuer's keys are loaded.
    let ready = get(&proxy, "/ready", None).await;
    assert_eq!(ready.status, 200, "{}", ready.text());
    assert_eq!(ready.json["ready"], true);
    assert!(ready.json["issuers"]["idp"]["keys"].as_u64().unwrap() >= 2);
}

#[tokio::test]
async fn idp_token_for_another_audience_is_401_audience_mismatch() {
    let idp = Idp::start(None, 300);
    let (_engine, proxy) = stack(Some(&idp)).await;
    let other = idp.token("test-client", Some("urn:jwtkit:other")).await;
    let reply = get(&proxy, "/t/__test/echo", Some(&other)).await;
    reply.assert_error(401, "audience_mismatch");
}

#[tokio::test]
async fn route_issuer_rule_gives_403_to_tokens_of_other_issuers() {
    let idp = Idp::start(None, 300);
    let (engine, proxy) = stack(Some(&idp)).await;
    let hs = hs_token("alice", json!({}));
    let reply = get(&proxy, "/idp-only/__test/echo/hs", Some(&hs)).await;
    let detail = reply.assert_error(403, "forbidden");
    assert!(detail.contains("issuer"), "{detail}");
    assert_ne!(engine.last_request().await.path(), "/__test/echo/hs");
    assert_eq!(reply.header("www-authenticate"), None);

    let rs = idp.token("test-client", None).await;
    let reply = get(&proxy, "/idp-only/__test/echo/idp", Some(&rs)).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(engine.last_request().await.path(), "/__test/echo/idp");
}

#[tokio::test]
async fn missing_token_is_401_with_a_bare_bearer_challenge_and_the_error_json() {
    let (engine, proxy) = stack(None).await;
    let reply = get(&proxy, "/t/__test/echo/anonymous", None).await;
    reply.assert_error(401, "missing_token");
    assert_eq!(reply.header("www-authenticate").as_deref(), Some("Bearer"));
    assert_ne!(engine.last_request().await.path(), "/__test/echo/anonymous");

    // Another scheme is no bearer token either.
    let reply = Reply::of(
        client()
            .get(proxy.url("/t/__test/echo"))
            .basic_auth("demo", Some("demo"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    reply.assert_error(401, "missing_token");
}

#[tokio::test]
async fn invalid_tokens_are_401_with_an_invalid_token_challenge() {
    let (engine, proxy) = stack(None).await;
    let forged = hs_token_signed(
        b"some-other-secret-that-is-long-enough!!",
        "alice",
        json!({}),
        jwtkit_mint::Expiry::After(300),
    );
    let good = hs_token("alice", json!({}));
    let (head, _) = good.rsplit_once('.').unwrap();
    let truncated_signature = format!("{head}.AAAA");
    for (token, code) in [
        (forged.as_str(), "bad_signature"),
        (truncated_signature.as_str(), "bad_signature"),
        (expired_hs_token("alice").as_str(), "expired"),
        ("not-a-jwt", "malformed"),
    ] {
        let reply = get(&proxy, "/t/__test/echo/rejected", Some(token)).await;
        let detail = reply.assert_error(401, code);
        assert!(!detail.contains(HS_SECRET), "{detail}");
        assert_eq!(
            reply.header("www-authenticate"),
            Some(format!(
                "Bearer error=\"invalid_token\", error_description=\"{code}\""
            )),
            "{code}"
        );
    }
    assert_ne!(engine.last_request().await.path(), "/__test/echo/rejected");
}

#[tokio::test]
async fn require_claims_rule_gives_403_unless_the_claim_has_the_value() {
    let (engine, proxy) = stack(None).await;
    for claims in [
        json!({}),
        json!({"role": "user"}),
        json!({"role": ["user"]}),
    ] {
        let token = hs_token("alice", claims.clone());
        let reply = get(&proxy, "/admin/__test/echo/denied", Some(&token)).await;
        let detail = reply.assert_error(403, "insufficient_scope");
        assert!(detail.contains("role"), "{claims}: {detail}");
    }
    assert_ne!(engine.last_request().await.path(), "/__test/echo/denied");
    for claims in [json!({"role": "admin"}), json!({"role": ["user", "admin"]})] {
        let token = hs_token("alice", claims.clone());
        let reply = get(&proxy, "/admin/__test/echo/allowed", Some(&token)).await;
        assert_eq!(reply.status, 200, "{claims}: {}", reply.text());
    }
}

#[tokio::test]
async fn cookie_token_is_accepted_and_the_token_cookie_is_not_forwarded() {
    let (engine, proxy) = stack(None).await;
    let token = hs_token("alice", json!({}));
    let reply = Reply::of(
        client()
            .get(proxy.url("/c/__test/echo/cookie"))
            .header("cookie", format!("theme=dark; __session={token}; lang=en"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let seen = engine.last_request().await;
    assert_eq!(seen.path(), "/__test/echo/cookie");
    assert_eq!(
        seen.header("cookie").as_deref(),
        Some("theme=dark; lang=en")
    );
    assert_eq!(seen.header("authorization"), None);

    // Only the session cookie: no Cookie header at all upstream.
    let reply = Reply::of(
        client()
            .get(proxy.url("/c/__test/echo/only"))
            .header("cookie", format!("__session={token}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(engine.last_request().await.header("cookie"), None);

    // The route that does not list the cookie ignores it.
    let reply = Reply::of(
        client()
            .get(proxy.url("/t/__test/echo"))
            .header("cookie", format!("__session={token}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    reply.assert_error(401, "missing_token");
}

#[tokio::test]
async fn query_token_is_accepted_and_the_parameter_is_not_forwarded() {
    let (engine, proxy) = stack(None).await;
    let token = hs_token("alice", json!({}));
    let reply = get(
        &proxy,
        &format!("/q/__test/echo/query?a=1&access_token={token}&b=two%20words"),
        None,
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let seen = engine.last_request().await;
    assert_eq!(seen.path(), "/__test/echo/query");
    assert!(!seen.query().contains("access_token"), "{}", seen.query());
    assert!(!seen.query().contains(&token), "{}", seen.query());
    assert!(seen.query().starts_with("a=1&b=two"), "{}", seen.query());
    assert_eq!(seen.header("authorization"), None);

    // This route takes the query only: a header token is not looked at.
    let reply = get(&proxy, "/q/__test/echo", Some(&token)).await;
    reply.assert_error(401, "missing_token");
}
