//! The listener's choice between the fixed routes (answered by the axum router) and the prefix
//! routes (answered by the direct path): a fixed route's path is the fixed route's, in any
//! spelling that is canonically the same and for any method, also when a prefix route covers
//! it; every other path is the prefix table's. Requests are written byte for byte, so the
//! spelling reaches the proxy as written.

mod common;

use common::*;
use serde_json::json;

/// `METHOD target` with `Authorization: Bearer token` when given.
async fn send(proxy: &Proxy, method: &str, target: &str, token: Option<&str>) -> RawReply {
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "{method} {target} HTTP/1.1\r\nHost: proxy.test\r\n{auth}Content-Length: 0\r\nConnection: close\r\n\r\n"
    );
    raw_request(proxy.addr, request.as_bytes()).await
}

#[tokio::test]
async fn fixed_routes_come_before_the_prefix_route_that_covers_them() {
    let echo = RawEcho::start().await;
    let toml = engine_toml(
        &echo.url(),
        "",
        "[[routes]]\nprefix = \"/api\"\nupstream = \"engine\"\n\n[camunda]\nupstream = \"engine\"\n",
    );
    let proxy = Proxy::with_toml(&toml, &[]).await;
    let token = hs_token("user-1", json!({}));

    // The facade's routes, without a token: its own 401, 405 for a method it does not take
    // (the metrics below say which route answered).
    for (method, target, status) in [
        ("GET", "/api/processes", 401),
        ("GET", "/api/%70rocesses", 401),
        ("GET", "/api//processes/order-42", 401),
        ("PUT", "/api/processes", 405),
        ("POST", "/health", 405),
    ] {
        let reply = send(&proxy, method, target, None).await;
        assert_eq!(reply.status, status, "{method} {target}");
    }

    // Paths no fixed route's pattern matches go to the prefix route, and upstream.
    for target in [
        "/api/processes/",
        "/api/processes/order-42/nothing",
        "/api/other",
    ] {
        let reply = send(&proxy, "GET", target, Some(&token)).await;
        assert_eq!(reply.status, 200, "{target}: {}", reply.text());
        assert_eq!(reply.json()["target"], target, "the upstream's answer");
    }
    let reply = send(&proxy, "GET", "/elsewhere", Some(&token)).await;
    assert_eq!(reply.status, 404);

    let text = metrics_text(&proxy).await;
    for line in [
        r#"jwtkit_proxy_requests_total{route="/api/processes",status="401"} 2"#,
        r#"jwtkit_proxy_requests_total{route="/api/processes/{key}",status="401"} 1"#,
        r#"jwtkit_proxy_requests_total{route="/api/processes",status="405"} 1"#,
        r#"jwtkit_proxy_requests_total{route="/health",status="405"} 1"#,
        r#"jwtkit_proxy_requests_total{route="/api",status="200"} 3"#,
        r#"jwtkit_proxy_requests_total{route="unmatched",status="404"} 1"#,
    ] {
        assert!(text.contains(line), "{line} in\n{text}");
    }
}
