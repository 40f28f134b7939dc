//! Live reload of the real binary: SIGHUP, a changed configuration file or secret file without
//! a signal, a broken configuration refused while the old one serves, a request in flight that
//! finishes on the configuration it started with, a changed log level.

mod common;

use std::path::Path;
use std::time::{Duration, SystemTime};

use common::*;
use serde_json::Value;

/// Rewrites `path` in place keeping its length, inode and modification time, so that only a
/// signal can make the proxy see the change.
fn rewrite_unnoticed(path: &Path, from: &str, to: &str) {
    assert_eq!(
        from.len(),
        to.len(),
        "same length, or the file's size shows the change"
    );
    let modified: SystemTime = std::fs::metadata(path).unwrap().modified().unwrap();
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{from:?} not in the configuration");
    std::fs::write(path, text.replace(from, to)).unwrap();
    let file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    file.set_modified(modified).unwrap();
}

fn route_toml(url: &str, prefix: &str, extra: &str) -> String {
    echo_toml(
        "",
        url,
        &format!(
            "[[routes]]\nprefix = \"{prefix}\"\nupstream = \"echo\"\nstrip_prefix = true\n{extra}"
        ),
    )
}

async fn status(proxy: &Proxy, path: &str) -> u16 {
    get(proxy, path, &hs_token("alice", Value::Null))
        .await
        .status
}

#[tokio::test]
async fn sighup_applies_a_changed_route() {
    let echo = RawEcho::start().await;
    let proxy = Proxy::with_toml(&route_toml(&echo.url(), "/aaa", ""), &[]).await;
    assert_eq!(status(&proxy, "/aaa/x").await, 200);
    rewrite_unnoticed(&proxy.config_path(), "/aaa", "/bbb");
    // Unnoticed by the file watch: several polls later the old route still serves.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(status(&proxy, "/aaa/x").await, 200);
    assert_eq!(proxy.log_count("configuration reloaded"), 0);

    proxy.hangup();
    let line = proxy.wait_log("configuration reloaded", 1).await;
    assert!(line.contains("SIGHUP"), "{line}");
    assert_eq!(status(&proxy, "/bbb/x").await, 200);
    assert_eq!(status(&proxy, "/aaa/x").await, 404);
}

#[tokio::test]
async fn a_changed_secret_file_takes_effect_without_a_signal() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("api-secret");
    std::fs::write(&secret, HS_SECRET).unwrap();
    let echo = RawEcho::start().await;
    let toml = format!(
        r#"
[[issuers]]
name = "api"
iss = ["urn:jwtkit:hs"]
secret = {{ file = "{}" }}
algorithms = ["HS256"]
allow_missing_iss = true

[[upstreams]]
name = "echo"
url = "{}"

[[routes]]
prefix = "/t"
upstream = "echo"
"#,
        secret.display(),
        echo.url()
    );
    let proxy = Proxy::with_toml(&toml, &[]).await;
    let old = hs_token("alice", Value::Null);
    let new_secret = "a-rotated-api-secret-of-more-than-32-bytes!";
    let new = hs_token_signed(
        new_secret.as_bytes(),
        "alice",
        Value::Null,
        jwtkit_mint::Expiry::After(300),
    );
    assert_eq!(get(&proxy, "/t/x", &old).await.status, 200);
    assert_eq!(get(&proxy, "/t/x", &new).await.status, 401);

    // As Kubernetes does with a Secret volume: the new content lands by a rename.
    let staged = dir.path().join("api-secret.new");
    std::fs::write(&staged, new_secret).unwrap();
    std::fs::rename(&staged, &secret).unwrap();
    let line = proxy.wait_log("configuration reloaded", 1).await;
    assert!(line.contains("api-secret changed"), "{line}");
    assert_eq!(get(&proxy, "/t/x", &new).await.status, 200);
    assert_eq!(get(&proxy, "/t/x", &old).await.status, 401);
    let metrics = metrics_text(&proxy).await;
    assert!(
        metrics.contains("jwtkit_proxy_config_reloads_total{result=\"ok\"} 1"),
        "{metrics}"
    );
    // Counting goes on across the reload: one 401 before it, one after.
    assert!(metrics.contains("status=\"401\"} 2"), "{metrics}");
}

#[tokio::test]
async fn a_broken_configuration_is_refused_and_the_old_one_keeps_serving() {
    let echo = RawEcho::start().await;
    let good = route_toml(&echo.url(), "/t", "");
    let proxy = Proxy::with_toml(&good, &[]).await;
    assert_eq!(status(&proxy, "/t/x").await, 200);

    // A route to an upstream that does not exist: parses, fails the complete validation.
    let broken = good.replace(
        "upstream = \"echo\"\nstrip_prefix",
        "upstream = \"nope\"\nstrip_prefix",
    );
    assert_ne!(broken, good);
    std::fs::write(proxy.config_path(), &broken).unwrap();
    let line = proxy.wait_log("reload refused", 1).await;
    assert!(
        line.starts_with("reload refused: config `routes[0].upstream`"),
        "{line}"
    );
    assert_eq!(
        status(&proxy, "/t/x").await,
        200,
        "the old configuration serves"
    );

    // Not TOML at all: refused on SIGHUP too, one line each time.
    std::fs::write(proxy.config_path(), "[[routes]\n").unwrap();
    proxy.wait_log("reload refused", 2).await;
    proxy.hangup();
    proxy.wait_log("reload refused", 3).await;
    assert_eq!(status(&proxy, "/t/x").await, 200);
    let metrics = metrics_text(&proxy).await;
    assert!(
        metrics.contains("jwtkit_proxy_config_reloads_total{result=\"refused\"} 3"),
        "{metrics}"
    );

    // Fixed: applied.
    std::fs::write(proxy.config_path(), good.replace("\"/t\"", "\"/u\"")).unwrap();
    proxy.wait_log("configuration reloaded", 1).await;
    assert_eq!(status(&proxy, "/u/x").await, 200);
    assert_eq!(status(&proxy, "/t/x").await, 404);
}

/// The reloads applied so far, from `/metrics`.
async fn reloads_applied(proxy: &Proxy) -> String {
    let metrics = metrics_text(proxy).await;
    metrics
        .lines()
        .find(|l| l.starts_with("jwtkit_proxy_config_reloads_total{result=\"ok\"}"))
        .unwrap_or("none")
        .to_owned()
}

#[tokio::test]
async fn a_changed_log_level_applies_without_a_restart() {
    let echo = RawEcho::start().await;
    // `info` (the default): every request has its access log line (`request`).
    let chatty = route_toml(&echo.url(), "/t", "");
    let proxy = Proxy::with_toml(&chatty, &[]).await;
    assert_eq!(status(&proxy, "/t/x").await, 200);
    proxy.wait_log("request", 1).await;

    // `warn`: the reload's own lines are below it, so `/metrics` tells when it is applied.
    let quiet = chatty.replace("[[upstreams]]", "[log]\nlevel = \"warn\"\n\n[[upstreams]]");
    std::fs::write(proxy.config_path(), &quiet).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !reloads_applied(&proxy).await.ends_with(" 1") {
        assert!(
            std::time::Instant::now() < deadline,
            "the reload was not applied: {}",
            proxy.stderr.text()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let before = proxy.log_count("request");
    assert_eq!(status(&proxy, "/t/x").await, 200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        proxy.log_count("request"),
        before,
        "{}",
        proxy.stderr.text()
    );

    // Back to `info`: said, and the access log is on again.
    std::fs::write(proxy.config_path(), &chatty).unwrap();
    proxy.wait_log("log level changed", 1).await;
    assert_eq!(status(&proxy, "/t/x").await, 200);
    proxy.wait_log("request", before + 1).await;
}

#[tokio::test]
async fn a_request_in_flight_finishes_on_the_configuration_it_started_with() {
    let engine = Engine::basic();
    let proxy = Proxy::with_toml(
        &engine_toml(
            &engine.url(),
            "auth = { type = \"basic\", user = \"demo\", password = { env = \"ENGINE_PASSWORD\" } }",
            "",
        ),
        &[("ENGINE_PASSWORD", "demo")],
    )
    .await;
    let token = hs_token("alice", Value::Null);
    let slow = {
        let url = proxy.url("/t/__test/slow?ms=2000");
        let token = token.clone();
        tokio::spawn(async move {
            Reply::of(
                client()
                    .get(url)
                    .bearer_auth(token)
                    .send()
                    .await
                    .expect("slow"),
            )
            .await
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The new configuration has no `/t` route any more.
    let text = std::fs::read_to_string(proxy.config_path()).unwrap();
    let without = text.replace("prefix = \"/t\"", "prefix = \"/v\"");
    std::fs::write(proxy.config_path(), without).unwrap();
    proxy.hangup();
    proxy.wait_log("configuration reloaded", 1).await;
    assert_eq!(
        get(&proxy, "/t/x", &token).await.status,
        404,
        "new requests: new routes"
    );
    let reply = slow.await.unwrap();
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json["slept_ms"], 2000);
}

#[tokio::test]
async fn sighup_without_a_configuration_file_says_why_and_keeps_serving() {
    let engine = Engine::basic();
    let env_mode = Proxy::with_env(&[
        ("JWT_SECRET_KEY", HS_SECRET),
        ("ENGINE_URL", &engine.rest_url()),
        ("ENGINE_PASS", "demo"),
    ])
    .await;
    let dev = Proxy::start(&["--dev"], &[], tempfile::tempdir().unwrap()).await;
    for (proxy, says) in [
        (&env_mode, "environment mode cannot re-read its environment"),
        (&dev, "--dev mode has no configuration file"),
    ] {
        proxy.hangup();
        proxy.wait_log(says, 1).await;
        let health = client().get(proxy.url("/health")).send().await;
        assert_eq!(health.expect("still serving").status(), 200, "{says}");
    }
}
