//! Centrifugo token endpoints end to end (in place of the `gen-token.py` script): an
//! authenticated caller gets a connection token for itself with rendered server-side channels,
//! and subscription tokens only for the channels its claims allow.

mod common;

use common::*;
use serde_json::{Value, json};

const CENTRIFUGO_SECRET: &str = "centrifugo-hmac-secret-key-of-32-bytes-or-more";

async fn proxy() -> Proxy {
    let toml = format!(
        r#"{HS_ISSUER_TOML}
[centrifugo]
secret = {{ env = "CENTRIFUGO_SECRET" }}
ttl = "15m"
connection_channels = ["agents.{{tenant_id}}.{{sub}}", "broadcast"]
subscription_channels = ["agents.{{tenant_id}}.{{sub}}", "public.*"]
"#
    );
    Proxy::with_toml(&toml, &[("CENTRIFUGO_SECRET", CENTRIFUGO_SECRET)]).await
}

fn agent_token() -> String {
    hs_token(
        "agent-linux-01",
        json!({"agent_id": "agent-linux-01", "tenant_id": "test-tenant", "project_id": "test-project"}),
    )
}

async fn post(proxy: &Proxy, path: &str, token: Option<&str>, body: Option<Value>) -> Reply {
    let mut request = client().post(proxy.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    Reply::of(request.send().await.expect("request")).await
}

#[tokio::test]
async fn connection_token_carries_sub_and_the_rendered_channels() {
    let proxy = proxy().await;
    let reply = post(&proxy, "/token/centrifugo", Some(&agent_token()), None).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let token = reply.json["token"].as_str().expect("token");
    assert!(hs256_signature_ok(token, CENTRIFUGO_SECRET.as_bytes()));
    let (header, claims) = decode_jwt(token);
    assert_eq!(header["alg"], "HS256");
    assert_eq!(claims["sub"], "agent-linux-01");
    assert_eq!(
        claims["channels"],
        json!(["agents.test-tenant.agent-linux-01", "broadcast"])
    );
    // A connection token never has `channel` (Centrifugo would read it as a subscription).
    assert!(claims.get("channel").is_none(), "{claims}");
    let iat = claims["iat"].as_i64().unwrap();
    let exp = claims["exp"].as_i64().unwrap();
    assert_eq!(exp - iat, 15 * 60);
    assert_eq!(reply.json["expires_at"], exp);
    assert!((iat - jwtkit_mint::now()).abs() < 60);
}

#[tokio::test]
async fn a_caller_without_the_claim_a_channel_needs_gets_403() {
    let proxy = proxy().await;
    let reply = post(
        &proxy,
        "/token/centrifugo",
        Some(&hs_token("agent-linux-01", json!({}))),
        None,
    )
    .await;
    let detail = reply.assert_error(403, "forbidden");
    assert!(detail.contains("agents.{tenant_id}.{sub}"), "{detail}");
}

#[tokio::test]
async fn subscription_tokens_only_for_allowed_channels() {
    let proxy = proxy().await;
    let token = agent_token();
    for channel in ["agents.test-tenant.agent-linux-01", "public.news"] {
        let reply = post(
            &proxy,
            "/token/centrifugo/subscription",
            Some(&token),
            Some(json!({"channel": channel})),
        )
        .await;
        assert_eq!(reply.status, 200, "{channel}: {}", reply.text());
        let issued = reply.json["token"].as_str().unwrap();
        assert!(hs256_signature_ok(issued, CENTRIFUGO_SECRET.as_bytes()));
        let claims = decode_jwt(issued).1;
        assert_eq!(claims["channel"], channel);
        assert_eq!(claims["sub"], "agent-linux-01");
    }
    for channel in [
        "agents.other-tenant.agent-linux-01",
        "agents.test-tenant.agent-linux-02",
        "agents.test-tenant.agent-linux-01.extra",
        "public.",
        "broadcast",
    ] {
        let reply = post(
            &proxy,
            "/token/centrifugo/subscription",
            Some(&token),
            Some(json!({"channel": channel})),
        )
        .await;
        let detail = reply.assert_error(403, "forbidden");
        assert!(detail.contains("not allowed"), "{channel}: {detail}");
    }
    let reply = post(&proxy, "/token/centrifugo/subscription", Some(&token), None).await;
    reply.assert_error(400, "bad_request");
}

#[tokio::test]
async fn token_endpoints_require_a_valid_caller_token() {
    let proxy = proxy().await;
    for path in ["/token/centrifugo", "/token/centrifugo/subscription"] {
        let reply = post(&proxy, path, None, Some(json!({"channel": "public.news"}))).await;
        reply.assert_error(401, "missing_token");
        let reply = post(
            &proxy,
            path,
            Some(&expired_hs_token("agent-linux-01")),
            Some(json!({"channel": "public.news"})),
        )
        .await;
        reply.assert_error(401, "expired");
    }
}
