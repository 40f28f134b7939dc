//! At trace level, the proxy's log never contains a token (inbound or minted) or a secret.

mod common;

use common::*;
use serde_json::json;

#[tokio::test]
async fn trace_logs_hold_no_token_and_no_secret() {
    let engine = Engine::jwt(ENGINE_SECRET_B64);
    let mint =
        r#"auth = { type = "mint", profile = "camunda", secret = { env = "ENGINE_JWT_SECRET" } }"#;
    let routes = "[[routes]]\nprefix = \"/q\"\nupstream = \"engine\"\nstrip_prefix = true\ntoken_from = [\"query:access_token\"]\n";
    let proxy = Proxy::with_toml(
        &engine_toml(&engine.url(), mint, routes),
        &[
            ("ENGINE_JWT_SECRET", ENGINE_SECRET_B64),
            ("JWTKIT_LOG_LEVEL", "trace"),
        ],
    )
    .await;
    let token = hs_token("alice", json!({"email": "alice@example.test"}));
    let expired = expired_hs_token("bob");
    let forged = format!("{}x", &token[..token.len() - 1]);
    for bearer in [&token, &expired, &forged] {
        client()
            .get(proxy.url("/engine-rest/process-definition"))
            .bearer_auth(bearer)
            .send()
            .await
            .unwrap();
    }
    client()
        .get(proxy.url(&format!("/q/engine-rest/task?access_token={token}")))
        .send()
        .await
        .unwrap();
    let minted = engine
        .last_request()
        .await
        .header("authorization")
        .expect("minted credential");

    let log = proxy.stderr.text();
    assert!(
        log.contains("\"status\":401"),
        "the rejections were logged: {log}"
    );
    let signature = |t: &str| t.rsplit('.').next().unwrap().to_owned();
    for (what, needle) in [
        ("inbound token", signature(&token)),
        ("expired token", signature(&expired)),
        ("forged token", signature(&forged)),
        (
            "minted engine token",
            signature(minted.trim_start_matches("Bearer ")),
        ),
        ("engine secret", ENGINE_SECRET_B64.to_owned()),
        ("issuer secret", HS_SECRET.to_owned()),
    ] {
        assert!(!log.contains(&needle), "the log contains the {what}");
    }
}
