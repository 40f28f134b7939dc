//! Tokens the proxy mints are never accepted back as callers' tokens, end to end.
//!
//! - Every minted token (Centrifugo connection and subscription tokens, upstream credentials of
//!   `auth = mint`) carries the proxy's own `iss`, which no caller issuer may list: shown to the
//!   proxy as a bearer token it is `401 unknown_issuer`, whatever the secrets.
//! - A minting secret that is, as an HMAC key, the key of a caller issuer stops the start, in
//!   TOML and in environment mode, naming both keys and never the secret.

mod common;

use common::*;
use jwtkit_keys::b64;
use jwtkit_secret::{Secret, SecretEncoding};
use serde_json::json;

/// The `iss` of the tokens the proxy mints when no `issuer` is configured.
const MINTED_ISS: &str = "urn:jwtkit:proxy";
const CENTRIFUGO_SECRET: &str = "centrifugo-hmac-secret-key-of-32-bytes-or-more";

async fn post(proxy: &Proxy, path: &str, token: &str, body: Option<serde_json::Value>) -> Reply {
    let mut request = client().post(proxy.url(path)).bearer_auth(token);
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    Reply::of(request.send().await.expect("request")).await
}

#[tokio::test]
async fn a_centrifugo_token_exchanged_at_the_proxy_is_refused_as_a_caller_token() {
    let engine = Engine::start(&["--auth", "none"]);
    let toml = engine_toml(
        &engine.url(),
        "",
        r#"
[centrifugo]
secret = { env = "CENTRIFUGO_SECRET" }
connection_channels = ["personal.{sub}"]
subscription_channels = ["public.*"]
"#,
    );
    let proxy = Proxy::with_toml(&toml, &[("CENTRIFUGO_SECRET", CENTRIFUGO_SECRET)]).await;
    let caller = hs_token("alice", json!({}));
    let reply = get(&proxy, "/t/__test/echo/x", &caller).await;
    assert_eq!(
        reply.status,
        200,
        "the caller's own token: {}",
        reply.text()
    );

    let connection = post(&proxy, "/token/centrifugo", &caller, None).await;
    assert_eq!(connection.status, 200, "{}", connection.text());
    let subscription = post(
        &proxy,
        "/token/centrifugo/subscription",
        &caller,
        Some(json!({"channel": "public.news"})),
    )
    .await;
    assert_eq!(subscription.status, 200, "{}", subscription.text());
    for reply in [connection, subscription] {
        let minted = reply.json["token"].as_str().expect("token").to_owned();
        assert_eq!(decode_jwt(&minted).1["iss"], MINTED_ISS);
        assert!(hs256_signature_ok(&minted, CENTRIFUGO_SECRET.as_bytes()));
        // Neither on a route nor to exchange it again.
        let on_route = get(&proxy, "/t/__test/echo/x", &minted).await;
        let exchanged = post(&proxy, "/token/centrifugo", &minted, None).await;
        for reply in [on_route, exchanged] {
            let detail = reply.assert_error(401, "unknown_issuer");
            assert!(detail.contains(MINTED_ISS), "{detail}");
        }
    }
}

#[tokio::test]
async fn an_engine_token_minted_for_the_upstream_is_refused_as_a_caller_token() {
    // The fake engine checks the engine token like the real one: it must still accept it.
    let engine = Engine::jwt(ENGINE_SECRET_B64);
    let toml = engine_toml(
        &engine.url(),
        r#"auth = { type = "mint", profile = "camunda", secret = { env = "ENGINE_JWT_SECRET" } }"#,
        "",
    );
    let proxy = Proxy::with_toml(&toml, &[("ENGINE_JWT_SECRET", ENGINE_SECRET_B64)]).await;
    let reply = get(
        &proxy,
        "/engine-rest/version",
        &hs_token("alice", json!({})),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let authorization = engine.last_request().await.header("authorization").unwrap();
    let minted = authorization.strip_prefix("Bearer ").unwrap().to_owned();
    let claims = decode_jwt(&minted).1;
    assert_eq!(claims["iss"], MINTED_ISS);
    assert_eq!(claims["sub"], "alice");
    get(&proxy, "/engine-rest/version", &minted)
        .await
        .assert_error(401, "unknown_issuer");
}

#[tokio::test]
async fn generic_upstream_tokens_carry_the_configured_issuer_or_the_proxys() {
    let engine = Engine::start(&["--auth", "none"]);
    for (issuer_line, expected) in [
        ("", MINTED_ISS),
        (r#", issuer = "urn:example:gateway""#, "urn:example:gateway"),
    ] {
        let toml = engine_toml(
            &engine.url(),
            &format!(
                r#"auth = {{ type = "mint", profile = "generic", secret = {{ env = "UPSTREAM_SECRET" }}{issuer_line} }}"#
            ),
            "",
        );
        let proxy = Proxy::with_toml(&toml, &[("UPSTREAM_SECRET", CENTRIFUGO_SECRET)]).await;
        let reply = get(&proxy, "/t/__test/echo/x", &hs_token("alice", json!({}))).await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        let authorization = engine.last_request().await.header("authorization").unwrap();
        let minted = authorization.strip_prefix("Bearer ").unwrap().to_owned();
        assert_eq!(decode_jwt(&minted).1["iss"], expected);
        get(&proxy, "/t/__test/echo/x", &minted)
            .await
            .assert_error(401, "unknown_issuer");
    }
}

/// Runs the proxy expecting it to refuse the configuration; checks the message names every
/// `keys` entry and holds none of `secrets`.
fn refused(toml: Option<&str>, env: &[(&str, &str)], keys: &[&str], secrets: &[&str]) -> String {
    let exit = run_to_exit(toml, env);
    assert_eq!(exit.code, Some(1), "{keys:?}: {exit:?}");
    for key in keys {
        assert!(
            exit.stderr.contains(key),
            "should name {key}:\n{}",
            exit.stderr
        );
    }
    for secret in secrets {
        assert!(
            !exit.stderr.contains(secret) && !exit.stdout.contains(secret),
            "a secret was echoed:\n{}",
            exit.stderr
        );
    }
    exit.stderr
}

#[test]
fn a_minting_secret_that_is_a_caller_issuers_key_stops_the_start() {
    let bytes = HS_SECRET.as_bytes();
    let secret = Secret::from_bytes(bytes.to_vec()).unwrap();
    let fingerprint = secret.fingerprint().to_string();
    let base64 = secret.encode(SecretEncoding::Base64).to_string();
    let hex = secret.encode(SecretEncoding::Hex).to_string();
    // HMAC pads a short key with zero bytes: these bytes are the same HMAC key.
    let padded_hex = format!("{hex}00");
    let all_spellings = [HS_SECRET, &base64, &hex, &padded_hex];
    let upstream = |auth: &str| {
        format!("[[upstreams]]\nname = \"e\"\nurl = \"http://127.0.0.1:9\"\nauth = {auth}\n")
    };
    let cases = [
        // The same text.
        (
            "[centrifugo]\nsecret = { env = \"MINT\" }\n".to_owned(),
            HS_SECRET,
            "centrifugo.secret",
        ),
        // The same bytes in other encodings.
        (
            "[centrifugo]\nsecret = { env = \"MINT\", encoding = \"base64\" }\n".to_owned(),
            &base64,
            "centrifugo.secret",
        ),
        (
            upstream(
                r#"{ type = "mint", profile = "generic", secret = { env = "MINT", encoding = "hex" } }"#,
            ),
            &hex,
            "upstreams[0].auth.secret",
        ),
        // The Camunda profile reads its secret as base64, like the engine.
        (
            upstream(r#"{ type = "mint", profile = "camunda", secret = { env = "MINT" } }"#),
            &base64,
            "upstreams[0].auth.secret",
        ),
        // Other bytes, the same HMAC key.
        (
            upstream(
                r#"{ type = "mint", profile = "generic", secret = { env = "MINT", encoding = "hex" } }"#,
            ),
            &padded_hex,
            "upstreams[0].auth.secret",
        ),
    ];
    for (section, value, key) in &cases {
        let stderr = refused(
            Some(&format!("{HS_ISSUER_TOML}{section}")),
            &[("JWT_SECRET_KEY", HS_SECRET), ("MINT", value)],
            &[key, "issuers[0].secret", "JWT_SECRET_KEY", "MINT"],
            &all_spellings,
        );
        assert!(stderr.contains(&fingerprint), "{stderr}");
    }
    // A key file with the secret as an `oct` JWK is the same key too.
    let dir = tempfile::tempdir().unwrap();
    let jwks = dir.path().join("jwks.json");
    std::fs::write(
        &jwks,
        json!({"keys": [{"kty": "oct", "k": b64::encode(bytes)}]}).to_string(),
    )
    .unwrap();
    let toml = format!(
        "[[issuers]]\nname = \"files\"\niss = [\"urn:files\"]\njwks_file = \"{}\"\n[centrifugo]\nsecret = {{ env = \"MINT\" }}\n",
        jwks.display()
    );
    refused(
        Some(&toml),
        &[("MINT", HS_SECRET)],
        &["centrifugo.secret", "issuers[0].jwks_file"],
        &all_spellings,
    );
}

#[test]
fn environment_mode_refuses_one_secret_for_caller_tokens_and_minted_ones() {
    let secret = Secret::from_bytes(HS_SECRET.as_bytes().to_vec()).unwrap();
    let base64 = secret.encode(SecretEncoding::Base64).to_string();
    let base = [("JWT_SECRET_KEY", HS_SECRET), ("ENGINE_PASS", "demo")];
    let mut env = base.to_vec();
    env.push(("CENTRIFUGO_HMAC_SECRET", HS_SECRET));
    refused(
        None,
        &env,
        &["CENTRIFUGO_HMAC_SECRET", "JWT_SECRET_KEY"],
        &[HS_SECRET, &base64],
    );
    // ENGINE_JWT_SECRET is read as base64: its base64 spelling is the same key.
    let mut env = base.to_vec();
    env.push(("ENGINE_JWT_SECRET", &base64));
    refused(
        None,
        &env,
        &["ENGINE_JWT_SECRET", "JWT_SECRET_KEY"],
        &[HS_SECRET, &base64],
    );
}
