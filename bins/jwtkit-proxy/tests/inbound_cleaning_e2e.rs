//! What a caller sends that must not reach an upstream in a form the upstream reads as the
//! proxy's own: identity headers spelled with underscores, the token's query parameter or cookie
//! in another spelling, a forged `X-Forwarded-Host`. Requests are written on plain TCP
//! connections; the upstream is a raw echo server that reports the request exactly as it
//! arrived.

mod common;

use common::*;
use serde_json::json;

/// The headers the upstream received, as `(name, value)` in the case they were sent.
fn upstream_headers(reply: &RawReply) -> Vec<(String, String)> {
    let json = reply.json();
    assert!(
        json["target"].is_string(),
        "the upstream did not answer: {} {}",
        reply.status,
        reply.text()
    );
    json["headers"]
        .as_array()
        .expect("headers")
        .iter()
        .map(|pair| {
            (
                pair[0].as_str().unwrap_or_default().to_owned(),
                pair[1].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// The values of header `name` (any case) the upstream received.
fn upstream_header(reply: &RawReply, name: &str) -> Vec<String> {
    upstream_headers(reply)
        .into_iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
        .collect()
}

/// The request target the upstream received.
fn upstream_target(reply: &RawReply) -> String {
    reply.json()["target"]
        .as_str()
        .unwrap_or_else(|| {
            panic!(
                "the upstream did not answer: {} {}",
                reply.status,
                reply.text()
            )
        })
        .to_owned()
}

/// `GET target` with extra header lines, on its own connection.
async fn get(proxy: &Proxy, target: &str, headers: &[&str]) -> RawReply {
    let mut request = format!("GET {target} HTTP/1.1\r\nHost: proxy.test\r\nConnection: close\r\n");
    for line in headers {
        request.push_str(line);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    raw_request(proxy.addr, request.as_bytes()).await
}

/// The echo upstream with identity headers `X-User-Id` (sub) and `X-Tenant` (tenant, outside the
/// stripped prefixes), a route `/t` taking the token from the header, the `__session` cookie or
/// the `access_token` query parameter, and `top` at the top level.
async fn stack(top: &str) -> (RawEcho, Proxy) {
    let echo = RawEcho::start().await;
    let toml = echo_toml(
        top,
        &echo.url(),
        r#"
identity_headers = { "X-User-Id" = "sub", "X-Tenant" = "tenant" }

[[routes]]
prefix = "/t"
upstream = "echo"
strip_prefix = true
token_from = ["header", "cookie:__session", "query:access_token"]
"#,
    );
    let proxy = Proxy::with_toml(&toml, &[]).await;
    (echo, proxy)
}

fn alice() -> String {
    hs_token("alice", json!({ "tenant": "t1" }))
}

#[tokio::test]
async fn headers_with_underscores_are_dropped_by_default() {
    let (_echo, proxy) = stack("").await;
    let token = alice();
    let reply = get(
        &proxy,
        "/t/x",
        &[
            &format!("Authorization: Bearer {token}"),
            "X_User_Id: root",
            "X_User_Email: root@example.com",
            "X_Auth_Roles: admin",
            "x_tenant: t0",
            "X_Custom_Thing: 1",
            "X-Request-Id: 42",
        ],
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let names: Vec<String> = upstream_headers(&reply)
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert!(
        !names.iter().any(|n| n.contains('_')),
        "a header with `_` reached the upstream: {names:?}"
    );
    assert_eq!(upstream_header(&reply, "x-user-id"), ["alice"]);
    assert_eq!(upstream_header(&reply, "x-tenant"), ["t1"]);
    assert_eq!(upstream_header(&reply, "x-request-id"), ["42"]);
}

#[tokio::test]
async fn kept_underscore_headers_still_lose_identity_spellings() {
    let (_echo, proxy) = stack("keep_underscore_headers = true").await;
    let token = alice();
    let reply = get(
        &proxy,
        "/t/x",
        &[
            &format!("Authorization: Bearer {token}"),
            "X_User_Id: root",
            "x_user-email: root@example.com",
            "X-Auth_Roles: admin",
            "X_Tenant: t0",
            "X_Custom_Thing: 1",
        ],
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let headers = upstream_headers(&reply);
    let names: Vec<&str> = headers.iter().map(|(n, _)| n.as_str()).collect();
    for forged in ["x_user_id", "x_user-email", "x-auth_roles", "x_tenant"] {
        assert!(
            !names.iter().any(|n| n.eq_ignore_ascii_case(forged)),
            "{forged} reached the upstream: {headers:?}"
        );
    }
    assert_eq!(upstream_header(&reply, "x_custom_thing"), ["1"]);
    assert_eq!(upstream_header(&reply, "x-user-id"), ["alice"]);
    assert_eq!(upstream_header(&reply, "x-tenant"), ["t1"]);
}

/// The other parameters of a query the token parameter was taken out of, byte for byte.
const ODD_QUERY: &str = "a=%2B+b&x=%7e&empty=&k&k=2&k=3&=v&&z=%41&u=%e2%82%ac&p=a+b%20c";

#[tokio::test]
async fn the_token_query_parameter_is_always_removed_and_the_rest_kept_byte_for_byte() {
    let (_echo, proxy) = stack("").await;
    let token = alice();
    let bearer = format!("Authorization: Bearer {token}");
    let cookie = format!("Cookie: __session={token}");
    let cases: Vec<(String, Vec<&str>, String)> = vec![
        // The token in the query: taken out, wherever it stands.
        (
            format!("/t/q?access_token={token}&{ODD_QUERY}"),
            vec![],
            format!("/q?{ODD_QUERY}"),
        ),
        (
            format!("/t/q?{ODD_QUERY}&access_token={token}"),
            vec![],
            format!("/q?{ODD_QUERY}"),
        ),
        // The token in the header or the cookie: a query parameter of that name (any
        // spelling the token lookup reads as it) is removed all the same.
        (
            "/t/q?a=%2B+b&access_token=forged&x=%7e".to_owned(),
            vec![bearer.as_str()],
            "/q?a=%2B+b&x=%7e".to_owned(),
        ),
        (
            format!("/t/q?access%5Ftoken=forged&{ODD_QUERY}&access_token=again"),
            vec![cookie.as_str()],
            format!("/q?{ODD_QUERY}"),
        ),
        (
            "/t/q?access_token=forged".to_owned(),
            vec![bearer.as_str()],
            "/q".to_owned(),
        ),
        // Nothing to remove: the query as it came.
        (
            format!("/t/q?{ODD_QUERY}"),
            vec![bearer.as_str()],
            format!("/q?{ODD_QUERY}"),
        ),
    ];
    for (target, headers, want) in cases {
        let reply = get(&proxy, &target, &headers).await;
        assert_eq!(reply.status, 200, "{target}: {}", reply.text());
        assert_eq!(upstream_target(&reply), want, "{target}");
    }
}

#[tokio::test]
async fn x_forwarded_host_is_always_what_the_proxy_received() {
    let (_echo, proxy) = stack("").await;
    let token = alice();
    let addr = proxy.addr;
    let send = |request: String| async move { raw_request(addr, request.as_bytes()).await };
    // HTTP/1.0 without Host: no host to pass on, and the caller's is not passed either.
    let reply = send(format!(
        "GET /t/x HTTP/1.0\r\nAuthorization: Bearer {token}\r\nX-Forwarded-Host: evil.example\r\n\r\n"
    ))
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        upstream_header(&reply, "x-forwarded-host"),
        Vec::<String>::new()
    );
    // An absolute-form target without Host: its authority.
    let reply = send(format!(
        "GET http://public.example:8443/t/x HTTP/1.1\r\nAuthorization: Bearer {token}\r\nX-Forwarded-Host: evil.example\r\nConnection: close\r\n\r\n"
    ))
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        upstream_header(&reply, "x-forwarded-host"),
        ["public.example:8443"]
    );
    // With Host: the Host.
    let reply = send(format!(
        "GET /t/x HTTP/1.1\r\nHost: proxy.example\r\nAuthorization: Bearer {token}\r\nX-Forwarded-Host: evil.example\r\nConnection: close\r\n\r\n"
    ))
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        upstream_header(&reply, "x-forwarded-host"),
        ["proxy.example"]
    );
}

#[tokio::test]
async fn token_cookies_are_found_and_removed_in_every_spelling() {
    let (_echo, proxy) = stack("").await;
    let token = alice();
    // Whitespace around names and values (RFC 6265's optional whitespace): found, and every
    // cookie of that name is removed, whatever the other spellings.
    let reply = get(
        &proxy,
        "/t/x",
        &[&format!(
            "Cookie: theme=dark;  __session = {token} ;__session =forged; lang= en;\t__session\t=x"
        )],
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(upstream_header(&reply, "cookie"), ["theme=dark; lang= en"]);
    // The token from the header: a cookie of the token cookie's name is removed all the same.
    let reply = get(
        &proxy,
        "/t/x",
        &[
            &format!("Authorization: Bearer {token}"),
            "Cookie: __session =forged; a=1",
            "Cookie: b=2; __session=again",
        ],
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let cookies = upstream_header(&reply, "cookie");
    assert_eq!(cookies, ["a=1; b=2"], "{cookies:?}");
}

/// The `X-Forwarded-*` values the upstream receives for a caller at 127.0.0.1 that sends its own.
async fn forwarded_as_seen(top: &str) -> (Vec<String>, Vec<String>, Vec<String>) {
    let (_echo, proxy) = stack(top).await;
    let token = alice();
    let reply = get(
        &proxy,
        "/t/x",
        &[
            &format!("Authorization: Bearer {token}"),
            "X-Forwarded-For: 203.0.113.7, 10.1.2.3",
            "X-Forwarded-Proto: https",
            "X-Forwarded-Host: public.example",
        ],
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    (
        upstream_header(&reply, "x-forwarded-for"),
        upstream_header(&reply, "x-forwarded-proto"),
        upstream_header(&reply, "x-forwarded-host"),
    )
}

#[tokio::test]
async fn x_forwarded_headers_of_a_trusted_proxy_are_kept_and_the_peer_appended() {
    let (xff, proto, host) = forwarded_as_seen("trusted_proxies = [\"127.0.0.1/32\"]\n").await;
    assert_eq!(xff, ["203.0.113.7, 10.1.2.3, 127.0.0.1"]);
    assert_eq!(proto, ["https"]);
    assert_eq!(host, ["public.example"]);
}

#[tokio::test]
async fn x_forwarded_headers_of_anyone_else_are_replaced() {
    for top in ["", "trusted_proxies = [\"10.0.0.0/8\", \"::1/128\"]\n"] {
        let (xff, proto, host) = forwarded_as_seen(top).await;
        assert_eq!(xff, ["127.0.0.1"], "{top}");
        assert_eq!(proto, ["http"], "{top}");
        assert_eq!(host, ["proxy.test"], "{top}");
    }
}

#[tokio::test]
async fn a_trusted_proxy_s_invalid_proto_or_host_is_replaced() {
    let (_echo, proxy) = stack("trusted_proxies = [\"127.0.0.1/32\"]\n").await;
    let token = alice();
    let reply = get(
        &proxy,
        "/t/x",
        &[
            &format!("Authorization: Bearer {token}"),
            "X-Forwarded-Proto: gopher",
            "X-Forwarded-Host: user@evil.example/path",
        ],
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(upstream_header(&reply, "x-forwarded-for"), ["127.0.0.1"]);
    assert_eq!(upstream_header(&reply, "x-forwarded-proto"), ["http"]);
    assert_eq!(upstream_header(&reply, "x-forwarded-host"), ["proxy.test"]);
}
