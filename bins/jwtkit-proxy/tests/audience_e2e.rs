//! The audience default end to end: an issuer without `audiences` refuses a token that carries
//! `aud` (RFC 7519 §4.1.3) with `401 audience_mismatch`, accepts one without, and
//! `accept_any_audience = true` is the explicit way to take any `aud`.

mod common;

use common::*;
use jwtkit_keys::{Algorithm, SigningKey};
use jwtkit_mint::{Audience, Expiry, GenericProfile, Minter};
use jwtkit_secret::Secret;

/// An HS256 token of the `api` issuer (no `iss`) for `alice`, with `aud` when given.
fn token(aud: &[&str]) -> String {
    let profile = GenericProfile {
        subject: Some("alice".into()),
        audience: Audience::new(aud.iter().map(|a| (*a).to_owned()).collect()),
        expiry: Expiry::After(300),
        ..GenericProfile::default()
    };
    let key = SigningKey::hmac(
        Algorithm::HS256,
        &Secret::from_bytes(HS_SECRET.as_bytes().to_vec()).unwrap(),
    )
    .unwrap();
    let token = Minter::new(key)
        .mint(&profile.claims(jwtkit_mint::now()).unwrap())
        .unwrap();
    assert_eq!(decode_jwt(&token).1.get("aud").is_some(), !aud.is_empty());
    token
}

/// The HS256 issuer (no `audiences`) with `issuer_extra` lines, and `/t` to the fake engine.
async fn stack(issuer_extra: &str) -> (Engine, Proxy) {
    let engine = Engine::start(&["--auth", "none"]);
    let toml = engine_toml(&engine.url(), "", "").replacen(
        "allow_missing_iss = true",
        &format!("allow_missing_iss = true\n{issuer_extra}"),
        1,
    );
    let proxy = Proxy::with_toml(&toml, &[]).await;
    (engine, proxy)
}

async fn get(proxy: &Proxy, token: &str) -> Reply {
    Reply::of(
        client()
            .get(proxy.url("/t/__test/echo/aud"))
            .bearer_auth(token)
            .send()
            .await
            .expect("request"),
    )
    .await
}

#[tokio::test]
async fn an_issuer_without_audiences_refuses_tokens_that_carry_aud() {
    let (_engine, proxy) = stack("").await;
    for aud in [&["urn:another-service"][..], &["a", "b"]] {
        let detail = get(&proxy, &token(aud))
            .await
            .assert_error(401, "audience_mismatch");
        assert!(detail.contains("no audience is configured"), "{detail}");
    }
    let reply = get(&proxy, &token(&[])).await;
    assert_eq!(reply.status, 200, "a token without aud: {}", reply.text());
}

#[tokio::test]
async fn accept_any_audience_takes_any_aud() {
    let (_engine, proxy) = stack("accept_any_audience = true").await;
    for aud in [&["urn:another-service"][..], &[]] {
        let reply = get(&proxy, &token(aud)).await;
        assert_eq!(reply.status, 200, "{aud:?}: {}", reply.text());
    }
}
