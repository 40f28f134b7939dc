//! Bodies and connections end to end: large random bodies arrive byte-exact in both directions
//! (with and without Content-Length), an upstream dying mid-body is an error for the client
//! (never a short 200 presented as complete), and SIGTERM lets in-flight requests finish.

mod common;

use std::time::{Duration, Instant};

use common::*;
use jwtkit_secret::Fingerprint;
use serde_json::json;

const MIB: usize = 1024 * 1024;

async fn stack(extra: &str) -> (Engine, Proxy) {
    let engine = Engine::start(&["--auth", "none"]);
    let proxy = Proxy::with_toml(&engine_toml(&engine.url(), "", extra), &[]).await;
    (engine, proxy)
}

/// `sha256:<first 16 hex>` of the engine's full SHA-256 hex digest, comparable to
/// [`Fingerprint`].
fn short(sha256_hex: &str) -> String {
    format!("sha256:{}", &sha256_hex[..16])
}

#[tokio::test]
async fn a_20_mib_random_body_arrives_byte_exact_upstream_and_back() {
    let (engine, proxy) = stack("[limits]\nmax_body_bytes = 33554432\n").await;
    let body = random_bytes(20 * MIB, 0x5eed);
    let response = client()
        .put(proxy.url("/t/__test/echo/big"))
        .bearer_auth(hs_token("alice", json!({})))
        .header("content-type", "application/octet-stream")
        .body(body.clone())
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    let echoed_sha = response
        .headers()
        .get("x-echo-sha256")
        .expect("x-echo-sha256 passes through")
        .to_str()
        .unwrap()
        .to_owned();
    let echoed = response.bytes().await.expect("body");
    assert_eq!(echoed.len(), body.len());
    assert!(echoed == body, "the echoed body differs");

    let seen = engine.last_request().await;
    assert_eq!(seen.0["method"], "PUT");
    assert_eq!(seen.0["body_length"], 20 * MIB);
    let upstream_sha = seen.0["body_sha256"].as_str().unwrap();
    assert_eq!(short(upstream_sha), Fingerprint::of(&body).to_string());
    assert_eq!(echoed_sha, upstream_sha);
}

#[tokio::test]
async fn a_streamed_body_without_content_length_arrives_byte_exact() {
    let (engine, proxy) = stack("[limits]\nmax_body_bytes = 16777216\n").await;
    let body = random_bytes(6 * MIB + 123, 42);
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        body.chunks(100_000).map(|c| Ok(c.to_vec())).collect();
    let response = client()
        .post(proxy.url("/t/__test/echo/chunked"))
        .bearer_auth(hs_token("alice", json!({})))
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    let echoed = response.bytes().await.expect("body");
    assert!(
        echoed == body,
        "the echoed body differs ({} bytes)",
        echoed.len()
    );
    let seen = engine.last_request().await;
    assert_eq!(seen.0["body_length"], body.len());
    assert_eq!(
        short(seen.0["body_sha256"].as_str().unwrap()),
        Fingerprint::of(&body).to_string()
    );
}

/// Fetches `path` and reports what the client ends up with: the status and either the whole
/// body or the error that ended it.
async fn fetch(proxy: &Proxy, path: &str) -> Result<(u16, usize), String> {
    let response = client()
        .get(proxy.url(path))
        .bearer_auth(hs_token("alice", json!({})))
        .send()
        .await
        .map_err(|e| format!("send: {e}"))?;
    let status = response.status().as_u16();
    let body = response.bytes().await.map_err(|e| format!("body: {e}"))?;
    Ok((status, body.len()))
}

#[tokio::test]
async fn an_upstream_closing_mid_body_is_an_error_for_the_client_not_a_short_success() {
    let (_engine, proxy) = stack("").await;
    for path in [
        "/t/__test/reset-mid-body",
        "/t/__test/reset-mid-body?mode=chunked",
    ] {
        match fetch(&proxy, path).await {
            Err(_) => {}
            // An error status is honest too; a 2xx with a complete-looking body is not.
            Ok((status, len)) => assert!(
                status >= 500,
                "{path}: the client got {status} with a body of {len} bytes as if complete"
            ),
        }
    }
    // The proxy keeps serving.
    let (status, _) = fetch(&proxy, "/t/__test/echo")
        .await
        .expect("after the reset");
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_the_in_flight_request_finish_then_the_proxy_exits_0() {
    let (engine, mut proxy) = stack("").await;
    let url = proxy.url("/t/__test/slow?ms=1500");
    let token = hs_token("alice", json!({}));
    let in_flight = tokio::spawn(async move {
        let started = Instant::now();
        let reply = Reply::of(
            client()
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .expect("slow"),
        )
        .await;
        (reply.status, reply.json, started.elapsed())
    });
    // Wait until the engine has the request, then ask the proxy to stop.
    let deadline = Instant::now() + Duration::from_secs(10);
    while engine.last_request().await.path() != "/__test/slow" {
        assert!(
            Instant::now() < deadline,
            "the slow request never reached the engine"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    proxy.terminate();

    let (status, body, elapsed) = in_flight.await.expect("request task");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["slept_ms"], 1500);
    assert!(elapsed >= Duration::from_millis(1400), "{elapsed:?}");

    let exit = tokio::task::block_in_place(|| proxy.wait_exit(Duration::from_secs(10)))
        .expect("the proxy should exit after SIGTERM");
    assert_eq!(exit.code(), Some(0), "{}", proxy.stderr.text());
    assert!(proxy.stderr.text().contains("shutting down"));
    // And it no longer listens.
    assert!(client().get(proxy.url("/health")).send().await.is_err());
}
