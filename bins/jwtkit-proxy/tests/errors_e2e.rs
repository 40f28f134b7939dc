//! Every error status the proxy answers itself, end to end, in the JSON format of the FastAPI
//! proxy (`{"error", "detail", "timestamp"}`): 404 no route, 502 upstream down or failing, 504
//! upstream too slow, 503 issuer keys unavailable (and `/ready`), 413 body too large, 431
//! headers too large, 400 for paths with dot segments.

mod common;

use std::time::{Duration, Instant};

use common::*;
use jwtkit_testsupport::Idp;
use serde_json::json;

async fn get(proxy: &Proxy, path: &str, token: Option<&str>) -> Reply {
    let mut request = client().get(proxy.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    Reply::of(request.send().await.expect("request")).await
}

async fn open_stack(extra: &str) -> (Engine, Proxy) {
    let engine = Engine::start(&["--auth", "none"]);
    let proxy = Proxy::with_toml(&engine_toml(&engine.url(), "", extra), &[]).await;
    (engine, proxy)
}

#[tokio::test]
async fn a_path_without_a_route_is_404_with_or_without_a_token() {
    let (_engine, proxy) = open_stack("").await;
    let token = hs_token("alice", json!({}));
    for token in [Some(token.as_str()), None] {
        let reply = get(&proxy, "/nowhere/x", token).await;
        let detail = reply.assert_error(404, "not_found");
        assert!(detail.contains("/nowhere/x"), "{detail}");
    }
    // A prefix matches whole segments only.
    let reply = get(&proxy, "/tx/__test/echo", Some(&hs_token("a", json!({})))).await;
    reply.assert_error(404, "not_found");
}

#[tokio::test]
async fn an_upstream_refusing_connections_is_502() {
    let url = format!("http://127.0.0.1:{}", closed_port());
    let proxy = Proxy::with_toml(&engine_toml(&url, "", ""), &[]).await;
    let reply = get(&proxy, "/t/anything", Some(&hs_token("alice", json!({})))).await;
    let detail = reply.assert_error(502, "upstream_unreachable");
    assert!(detail.contains("engine"), "{detail}");
}

#[tokio::test]
async fn upstream_5xx_is_502_and_its_4xx_pass_through() {
    let (_engine, proxy) = open_stack("").await;
    let token = hs_token("alice", json!({}));
    for code in [500, 503] {
        let reply = get(&proxy, &format!("/t/__test/status/{code}"), Some(&token)).await;
        let detail = reply.assert_error(502, "upstream_error");
        assert!(detail.contains(&code.to_string()), "{detail}");
    }
    for code in [404, 409, 418] {
        let reply = get(&proxy, &format!("/t/__test/status/{code}"), Some(&token)).await;
        assert_eq!(reply.status, code);
        // The upstream's own body, untouched.
        assert_eq!(reply.json["type"], "TestStatus", "{}", reply.text());
    }
}

#[tokio::test]
async fn an_upstream_slower_than_timeout_seconds_is_504() {
    let engine = Engine::start(&["--auth", "none"]);
    let toml =
        engine_toml(&engine.url(), "", "").replace("timeout_seconds = 5", "timeout_seconds = 1");
    let proxy = Proxy::with_toml(&toml, &[]).await;
    let token = hs_token("alice", json!({}));

    let reply = get(&proxy, "/t/__test/slow?ms=200", Some(&token)).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json["slept_ms"], 200);

    let started = Instant::now();
    let reply = get(&proxy, "/t/__test/slow?ms=4000", Some(&token)).await;
    let elapsed = started.elapsed();
    let detail = reply.assert_error(504, "upstream_timeout");
    assert!(detail.contains("engine"), "{detail}");
    assert!(
        elapsed >= Duration::from_millis(900) && elapsed < Duration::from_millis(3500),
        "answered after {elapsed:?}"
    );
}

#[tokio::test]
async fn an_issuer_whose_idp_is_down_from_the_start_gives_503_and_ready_503() {
    let mut idp = Idp::start(None, 300);
    let token = idp.token("test-client", None).await;
    idp.kill();
    let engine = Engine::start(&["--auth", "none"]);
    let toml = format!(
        "{}\n{}",
        idp_issuer_toml(&idp),
        engine_toml(&engine.url(), "", "")
    );
    let proxy = Proxy::with_toml(&toml, &[]).await;

    let reply = get(&proxy, "/t/__test/echo/idp", Some(&token)).await;
    let detail = reply.assert_error(503, "jwks_unavailable");
    assert!(detail.contains("retry"), "{detail}");
    assert_eq!(reply.header("www-authenticate"), None);
    assert_ne!(engine.last_request().await.path(), "/__test/echo/idp");

    let ready = get(&proxy, "/ready", None).await;
    assert_eq!(ready.status, 503, "{}", ready.text());
    assert_eq!(ready.json["ready"], false);
    assert!(
        ready.json["issuers"]["idp"]["last_error"].is_string(),
        "{}",
        ready.text()
    );
    // Liveness is not readiness.
    assert_eq!(get(&proxy, "/health", None).await.status, 200);
    // The other issuer is unaffected.
    let reply = get(
        &proxy,
        "/t/__test/echo/hs",
        Some(&hs_token("alice", json!({}))),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
}

#[tokio::test]
async fn a_body_over_max_body_bytes_is_413() {
    let (engine, proxy) = open_stack("[limits]\nmax_body_bytes = 1024\n").await;
    let token = hs_token("alice", json!({}));

    let fits = vec![b'a'; 1024];
    let reply = Reply::of(
        client()
            .post(proxy.url("/t/__test/echo/fits"))
            .bearer_auth(&token)
            .body(fits.clone())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.body, fits);

    let reply = Reply::of(
        client()
            .post(proxy.url("/t/__test/echo/too-large"))
            .bearer_auth(&token)
            .body(vec![b'a'; 4096])
            .send()
            .await
            .unwrap(),
    )
    .await;
    let detail = reply.assert_error(413, "body_too_large");
    assert!(detail.contains("1024"), "{detail}");
    assert_ne!(engine.last_request().await.path(), "/__test/echo/too-large");
}

#[tokio::test]
async fn a_streamed_body_growing_over_max_body_bytes_is_413_not_forwarded_short() {
    let (engine, proxy) = open_stack("[limits]\nmax_body_bytes = 1024\n").await;
    let token = hs_token("alice", json!({}));
    // No Content-Length: the limit is only found while streaming.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..8).map(|_| Ok(vec![b'b'; 512])).collect();
    let body = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    let response = client()
        .post(proxy.url("/t/__test/echo/streamed"))
        .bearer_auth(&token)
        .body(body)
        .send()
        .await;
    if let Ok(response) = response {
        let reply = Reply::of(response).await;
        assert_eq!(reply.status, 413, "{}", reply.text());
    }
    // Either way the upstream must not have received a complete, shorter body.
    let seen = engine.last_request().await;
    assert!(
        seen.path() != "/__test/echo/streamed",
        "the upstream got a body of {} bytes",
        seen.0["body_length"]
    );
}

#[tokio::test]
async fn headers_over_max_header_bytes_are_431() {
    let (engine, proxy) = open_stack("[limits]\nmax_header_bytes = 4096\n").await;
    let token = hs_token("alice", json!({}));
    let reply = Reply::of(
        client()
            .get(proxy.url("/t/__test/echo/small"))
            .bearer_auth(&token)
            .header("x-padding", "p".repeat(1000))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());

    let reply = Reply::of(
        client()
            .get(proxy.url("/t/__test/echo/big"))
            .bearer_auth(&token)
            .header("x-padding", "p".repeat(6000))
            .send()
            .await
            .unwrap(),
    )
    .await;
    reply.assert_error(431, "headers_too_large");
    assert_ne!(engine.last_request().await.path(), "/__test/echo/big");
    // Refused before routing, but counted like every other request.
    let metrics = metrics_text(&proxy).await;
    assert!(
        metrics.contains("jwtkit_proxy_requests_total{route=\"/t\",status=\"431\"} 1"),
        "{metrics}"
    );
}

/// Sends `GET {path}` exactly as written (an HTTP client library would resolve the dots first)
/// and returns the status line.
async fn raw_get_status(proxy: &Proxy, path: &str, token: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = proxy.url("").trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: proxy\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.expect("read");
    let text = String::from_utf8_lossy(&answer);
    text.lines().next().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn paths_with_dot_segments_are_400_and_never_reach_the_upstream() {
    let (engine, proxy) = open_stack("").await;
    let token = hs_token("alice", json!({}));
    let control = raw_get_status(&proxy, "/t/__test/echo", &token).await;
    assert!(control.contains(" 200 "), "{control}");
    let forwarded = engine.last_request().await;
    for path in [
        "/t/../t/__test/echo",
        "/t/__test/./echo",
        "/t/%2e%2e/t/__test/echo",
        "/t/.%2E/t/__test/echo",
        "/t/..%2ft/__test/echo",
        "/t/..\\t/__test/echo",
    ] {
        let status = raw_get_status(&proxy, path, &token).await;
        assert!(status.contains(" 400 "), "{path}: {status}");
    }
    assert_eq!(engine.last_request().await.0, forwarded.0);
}
