//! Process-level behaviour: a bad configuration stops the start with exit code 1 and a message
//! naming the key (never the secret), `/metrics` exposes request, auth-failure and JWKS
//! families, and `--dev` runs with nothing else and prints a working token.

mod common;

use std::time::{Duration, Instant};

use common::*;
use jwtkit_testsupport::Idp;
use serde_json::json;

const UPSTREAM: &str = r#"
[[upstreams]]
name = "engine"
url = "http://127.0.0.1:9/engine-rest"
"#;

#[test]
fn invalid_configurations_exit_1_naming_the_key() {
    let hs = [("JWT_SECRET_KEY", HS_SECRET)];
    let cases = [
        (
            format!("{HS_ISSUER_TOML}[[upstreams]]\nname = \"e\"\nurl = \"ftp://engine/x\"\n"),
            "upstreams[0].url",
        ),
        (
            format!("{HS_ISSUER_TOML}{UPSTREAM}[[routes]]\nprefix = \"/a\"\nupstream = \"nope\"\n"),
            "routes[0].upstream",
        ),
        (
            format!(
                "{HS_ISSUER_TOML}{UPSTREAM}[[routes]]\nprefix = \"a\"\nupstream = \"engine\"\n"
            ),
            "routes[0].prefix",
        ),
        (
            format!(
                "{HS_ISSUER_TOML}{UPSTREAM}[[routes]]\nprefix = \"/a\"\nupstream = \"engine\"\nissuers = [\"keycloak\"]\n"
            ),
            "routes[0].issuers",
        ),
        (
            format!(
                "{HS_ISSUER_TOML}{UPSTREAM}[[routes]]\nprefix = \"/a\"\nupstream = \"engine\"\ntoken_from = [\"body\"]\n"
            ),
            "routes[0].token_from",
        ),
        (
            "[[issuers]]\nname = \"x\"\niss = [\"https://x\"]\n".to_owned(),
            "issuers[0]",
        ),
        (
            // A 45-byte secret cannot serve HS512 (64 bytes): every token would be refused.
            HS_ISSUER_TOML.replace("[\"HS256\"]", "[\"HS512\"]"),
            "issuers[0].algorithms",
        ),
        (
            format!("{HS_ISSUER_TOML}[limits]\nmax_body_byte = 5\n"),
            "max_body_byte",
        ),
        (
            format!(
                "{HS_ISSUER_TOML}[[upstreams]]\nname = \"e\"\nurl = \"http://e\"\nauth = {{ type = \"basic\", user = \"demo\", password = {{ env = \"UNSET_PASSWORD\" }} }}\n"
            ),
            "upstreams[0].auth.password",
        ),
        (
            format!(
                "{HS_ISSUER_TOML}[[upstreams]]\nname = \"e\"\nurl = \"http://e\"\nauth = {{ type = \"mint\", profile = \"camunda\", algorithm = \"RS256\", secret = {{ env = \"JWT_SECRET_KEY\" }} }}\n"
            ),
            "upstreams[0].auth.algorithm",
        ),
    ];
    for (toml, key) in &cases {
        refused(Some(toml), &hs, key);
    }
    // A missing file is named too.
    let exit = run_to_exit(None, &[]);
    assert_eq!(exit.code, Some(1));
    assert!(exit.stderr.contains("CLERK_JWKS_URL"), "{}", exit.stderr);
}

#[test]
fn unusable_secrets_stop_the_start_without_being_echoed() {
    // Not base64: the Camunda engine would not decode it.
    let not_base64 = "Not!Base64-Engine-Secret-Value-0001";
    // Base64 of 9 bytes: the engine would silently replace it with a random key.
    let short_base64 = "c2hvcnQtb25lIQ==";
    let mint = r#"
[[upstreams]]
name = "engine"
url = "http://127.0.0.1:9"
auth = { type = "mint", profile = "camunda", secret = { env = "ENGINE_JWT_SECRET" } }
"#;
    for value in [not_base64, short_base64] {
        let exit = refused(
            Some(&format!("{HS_ISSUER_TOML}{mint}")),
            &[("JWT_SECRET_KEY", HS_SECRET), ("ENGINE_JWT_SECRET", value)],
            "upstreams[0].auth.secret",
        );
        assert!(
            !exit.stderr.contains(value) && !exit.stdout.contains(value),
            "the secret was echoed:\n{}",
            exit.stderr
        );
    }
    // An inbound HMAC secret too short for HS256.
    let short_inbound = "tiny-secret-XYZ";
    let exit = refused(
        Some(HS_ISSUER_TOML),
        &[("JWT_SECRET_KEY", short_inbound)],
        "issuers[0].secret",
    );
    assert!(!exit.stderr.contains(short_inbound), "{}", exit.stderr);
}

#[test]
fn env_mode_errors_name_the_variable_and_exit_1() {
    refused(None, &[], "CLERK_JWKS_URL");
    refused(None, &[("JWT_SECRET_KEY", HS_SECRET)], "ENGINE_PASS");
    refused(
        None,
        &[
            ("JWT_SECRET_KEY", HS_SECRET),
            ("ENGINE_PASS", "demo"),
            ("ENGINE_TIMEOUT", "soon"),
        ],
        "ENGINE_TIMEOUT",
    );
    let bad = "Not!Base64-Engine-Secret-Value-0002";
    let exit = refused(
        None,
        &[("JWT_SECRET_KEY", HS_SECRET), ("ENGINE_JWT_SECRET", bad)],
        "ENGINE_JWT_SECRET",
    );
    assert!(!exit.stderr.contains(bad), "{}", exit.stderr);
    // generate_jwt.py's JWT_SECRET_KEY needs at least 32 bytes for HS256.
    let short = "short-api-secret-QWERTY";
    let exit = refused(
        None,
        &[("JWT_SECRET_KEY", short), ("ENGINE_PASS", "demo")],
        "JWT_SECRET_KEY",
    );
    assert!(!exit.stderr.contains(short), "{}", exit.stderr);
}

/// The value of the sample `name` (with labels, exactly as exposed) in a metrics text.
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test]
async fn metrics_count_requests_auth_failures_and_describe_jwks_issuers() {
    let idp = Idp::start(None, 300);
    let engine = Engine::start(&["--auth", "none"]);
    let toml = format!(
        "{}\n{}",
        idp_issuer_toml(&idp),
        engine_toml(&engine.url(), "", "")
    );
    let proxy = Proxy::with_toml(&toml, &[]).await;
    let http = client();
    let good = hs_token("alice", json!({}));
    let idp_token = idp.token("test-client", None).await;
    for token in [good.as_str(), good.as_str(), idp_token.as_str()] {
        let status = http
            .get(proxy.url("/t/__test/echo"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 200);
    }
    let status = http.get(proxy.url("/t/x")).send().await.unwrap().status();
    assert_eq!(status, 401);
    let status = http
        .get(proxy.url("/t/x"))
        .bearer_auth(expired_hs_token("alice"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 401);
    let status = http
        .get(proxy.url("/no/route/42"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 404);

    let response = http.get(proxy.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    let text = response.text().await.unwrap();
    let expect = |name: &str, value: f64| {
        assert_eq!(sample(&text, name), Some(value), "{name} in:\n{text}");
    };
    expect(
        "jwtkit_proxy_requests_total{route=\"/t\",status=\"200\"}",
        3.0,
    );
    expect(
        "jwtkit_proxy_requests_total{route=\"/t\",status=\"401\"}",
        2.0,
    );
    // Unmatched paths are one label, never the raw path.
    expect(
        "jwtkit_proxy_requests_total{route=\"unmatched\",status=\"404\"}",
        1.0,
    );
    assert!(!text.contains("/no/route/42"));
    expect(
        "jwtkit_proxy_auth_failures_total{code=\"missing_token\"}",
        1.0,
    );
    expect("jwtkit_proxy_auth_failures_total{code=\"expired\"}", 1.0);
    assert!(text.contains("# TYPE jwtkit_proxy_upstream_request_duration_seconds histogram"));
    expect("jwtkit_proxy_jwks_keys{issuer=\"idp\"}", 2.0);
    assert!(sample(&text, "jwtkit_proxy_jwks_fetches_total{issuer=\"idp\"}").unwrap() >= 1.0);
    expect("jwtkit_proxy_jwks_fetch_errors_total{issuer=\"idp\"}", 0.0);
    assert!(
        sample(
            &text,
            "jwtkit_proxy_jwks_key_set_age_seconds{issuer=\"idp\"}"
        )
        .unwrap()
            >= 0.0
    );
    assert!(
        text.contains("# TYPE jwtkit_proxy_jwks_fetches counter"),
        "{text}"
    );
    assert!(text.ends_with("# EOF\n"));
}

#[tokio::test]
async fn dev_mode_prints_a_token_and_curl_lines_and_the_token_works_on_echo() {
    let proxy = Proxy::start(&["--dev"], &[], tempfile::tempdir().unwrap()).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let banner = loop {
        let text = proxy.stdout.text();
        if text.contains("curl http") {
            break text;
        }
        assert!(Instant::now() < deadline, "no banner on stdout: {text:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let token = banner
        .lines()
        .find_map(|l| l.strip_prefix("TOKEN="))
        .expect("a TOKEN= line")
        .to_owned();
    let echo_url = proxy.url("/echo/hello");
    assert!(
        banner
            .lines()
            .any(|l| l.starts_with("curl ") && l.contains("$TOKEN") && l.contains(&echo_url)),
        "{banner}"
    );
    assert_eq!(decode_jwt(&token).1["sub"], "dev-user");

    let reply = Reply::of(
        client()
            .get(proxy.url("/echo/hello?x=1"))
            .bearer_auth(&token)
            .header("X-User-Id", "forged")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json["path"], "/hello");
    assert_eq!(reply.json["query"], "x=1");
    assert_eq!(reply.json["headers"]["x-user-id"], "dev-user");
    let upstream_auth = reply.json["headers"]["authorization"].as_str().unwrap();
    let minted = upstream_auth
        .strip_prefix("Bearer ")
        .expect("a minted bearer token");
    assert_ne!(minted, token);
    assert_eq!(decode_jwt(minted).1["sub"], "dev-user");
    // Per-caller engine tokens carry no admin rights unless `superuser = true` is configured.
    assert_eq!(decode_jwt(minted).1["isSuperuser"], false);

    let reply = Reply::of(client().get(proxy.url("/echo/hello")).send().await.unwrap()).await;
    reply.assert_error(401, "missing_token");
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
}
