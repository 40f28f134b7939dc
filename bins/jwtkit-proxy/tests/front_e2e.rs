//! The listener's choice between the fixed routes (answered by the axum router) and the prefix
//! routes (answered by the direct path): a fixed route's path is the fixed route's, in any
//! spelling that is canonically the same and for any method, also when a prefix route covers
//! it; every other path is the prefix table's. Requests are written byte for byte, so the
//! spelling reaches the proxy as written. With `cors_origins`, both paths give the same CORS
//! headers.

mod common;

use common::*;
use serde_json::json;

/// `METHOD target` with `Authorization: Bearer token` when given.
async fn send(proxy: &Proxy, method: &str, target: &str, token: Option<&str>) -> RawReply {
    send_with(proxy, method, target, token, "").await
}

/// [`send`] with more header lines (`extra`, each ending in CRLF).
async fn send_with(
    proxy: &Proxy,
    method: &str,
    target: &str,
    token: Option<&str>,
    extra: &str,
) -> RawReply {
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "{method} {target} HTTP/1.1\r\nHost: proxy.test\r\n{auth}{extra}Content-Length: 0\r\nConnection: close\r\n\r\n"
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

/// `GET target` with `Origin: origin` when given, and a token when given.
async fn cors_get(
    proxy: &Proxy,
    target: &str,
    origin: Option<&str>,
    token: Option<&str>,
) -> RawReply {
    let origin = origin
        .map(|o| format!("Origin: {o}\r\n"))
        .unwrap_or_default();
    send_with(proxy, "GET", target, token, &origin).await
}

/// The CORS headers of an answer: `access-control-*`, and `vary` lines, in order.
fn cors_headers(reply: &RawReply) -> Vec<(String, String)> {
    reply
        .headers
        .iter()
        .filter(|(name, _)| name.starts_with("access-control-") || name == "vary")
        .cloned()
        .collect()
}

#[tokio::test]
async fn with_cors_origins_prefix_routes_get_the_routers_cors_headers() {
    let echo = RawEcho::start().await;
    let toml = echo_toml(
        r#"cors_origins = ["https://app.example", "http://localhost:3000"]"#,
        &echo.url(),
        "[[routes]]\nprefix = \"/t\"\nupstream = \"echo\"\n",
    );
    let proxy = Proxy::with_toml(&toml, &[]).await;
    let token = hs_token("alice", serde_json::Value::Null);
    // `/health` is a fixed route (the router and its tower-http CORS layer); `/t/x` a prefix
    // route (the direct path). Each origin gets the same CORS headers from both, for an
    // answer and for a refusal.
    for origin in [
        Some("https://app.example"),
        Some("http://localhost:3000"),
        Some("https://evil.example"),
        Some("null"),
        None,
    ] {
        let router = cors_get(&proxy, "/health", origin, None).await;
        assert_eq!(router.status, 200, "{origin:?}");
        let expected = cors_headers(&router);
        assert!(
            expected.iter().any(|(name, _)| name == "vary"),
            "{expected:?}"
        );
        let direct = cors_get(&proxy, "/t/x", origin, Some(&token)).await;
        assert_eq!(direct.status, 200, "{origin:?}");
        assert_eq!(cors_headers(&direct), expected, "{origin:?}");
        let refused = cors_get(&proxy, "/t/x", origin, None).await;
        assert_eq!(refused.status, 401, "{origin:?}");
        assert_eq!(cors_headers(&refused), expected, "{origin:?}");
    }
    let allowed = cors_get(&proxy, "/t/x", Some("https://app.example"), None).await;
    assert!(
        allowed.headers.contains(&(
            "access-control-allow-origin".into(),
            "https://app.example".into()
        )),
        "{:?}",
        allowed.headers
    );
    // A preflight to a prefix route is answered by the CORS layer, not forwarded.
    let before = echo.hits();
    let preflight = send_with(
        &proxy,
        "OPTIONS",
        "/t/x",
        None,
        "Origin: https://app.example\r\nAccess-Control-Request-Method: PUT\r\n\
         Access-Control-Request-Headers: authorization\r\n",
    )
    .await;
    assert_eq!(preflight.status, 200);
    let names: Vec<&str> = preflight.headers.iter().map(|(n, _)| n.as_str()).collect();
    for name in [
        "access-control-allow-origin",
        "access-control-allow-methods",
        "access-control-allow-headers",
        "access-control-max-age",
    ] {
        assert!(names.contains(&name), "{name} in {:?}", preflight.headers);
    }
    assert_eq!(
        echo.hits(),
        before,
        "a preflight never reaches the upstream"
    );
}
