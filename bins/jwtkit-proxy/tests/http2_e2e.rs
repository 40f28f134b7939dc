//! HTTP/2 without gRPC: the proxy's port speaks HTTP/1.1 and h2c (prior knowledge) at once;
//! requests over either reach an HTTP/1.1 upstream and an `http2 = true` upstream, each in its
//! own protocol, with `X-Forwarded-Host` from the address the client used (`:authority` on
//! HTTP/2); `TE: trailers` is the one `TE` value forwarded; an `https://` upstream with
//! `http2 = true` is reached by ALPN `h2`, trusted through its `ca_file`.

mod common;

use axum::Router;
use axum::extract::Request;
use common::*;
use hyper_util::rt::{TokioExecutor, TokioIo};
use jwtkit_testsupport::tls::{Leaf, TestCa};
use reqwest::Version;
use serde_json::{Value, json};

/// An upstream (axum, in this process) answering every request with what it saw:
/// `{"version", "authority", "target", "headers": {name: value}, "body_length"}`.
fn echo_router() -> Router {
    Router::new().fallback(|request: Request| async move {
        let (parts, body) = request.into_parts();
        let headers: serde_json::Map<String, Value> = parts
            .headers
            .iter()
            .map(|(name, value)| {
                let value = value.to_str().unwrap_or("<binary>");
                (name.as_str().to_owned(), Value::from(value))
            })
            .collect();
        let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
        axum::Json(json!({
            "version": format!("{:?}", parts.version),
            "authority": parts.uri.authority().map(ToString::to_string),
            "target": parts.uri.path_and_query().map(ToString::to_string),
            "headers": headers,
            "body_length": body.len(),
        }))
    })
}

/// The echo upstream over HTTP/1.1 and h2c.
async fn start_h2_echo() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the h2 echo upstream");
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, echo_router()).await });
    port
}

/// The echo upstream over TLS with `server`'s certificate, offering only `h2` by ALPN.
async fn start_h2_tls_echo(server: &Leaf) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the h2 TLS echo upstream");
    let port = listener.local_addr().unwrap().port();
    let mut config = (*server.server_config(None)).clone();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = hyper_util::service::TowerToHyperService::new(echo_router());
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .http2_only()
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    port
}

/// The proxy with route `/one` to an HTTP/1.1 upstream (a [`RawEcho`]) and `/two` to an
/// `http2 = true` upstream (the h2 echo), prefixes stripped.
async fn stack() -> (RawEcho, u16, Proxy) {
    let raw = RawEcho::start().await;
    let h2 = start_h2_echo().await;
    let toml = echo_toml(
        "",
        &raw.url(),
        &format!(
            r#"
[[upstreams]]
name = "h2"
url = "http://127.0.0.1:{h2}"
http2 = true
timeout_seconds = 5

[[routes]]
prefix = "/one"
upstream = "echo"
strip_prefix = true

[[routes]]
prefix = "/two"
upstream = "h2"
strip_prefix = true
"#
        ),
    );
    let proxy = Proxy::with_toml(&toml, &[]).await;
    (raw, h2, proxy)
}

fn h2c_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .http2_prior_knowledge()
        .build()
        .unwrap()
}

/// The value of header `name` in a [`RawEcho`] answer (names compared without case).
fn raw_header(seen: &Value, name: &str) -> Option<String> {
    seen["headers"].as_array()?.iter().find_map(|pair| {
        (pair[0].as_str()?.eq_ignore_ascii_case(name)).then(|| pair[1].as_str().unwrap().to_owned())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2c_requests_reach_an_http1_and_an_http2_upstream() {
    let (raw, h2, proxy) = stack().await;
    let authority = proxy.url("").trim_start_matches("http://").to_owned();
    let token = hs_token("alice", json!({}));

    let one = h2c_client()
        .get(proxy.url("/one/a?b=1"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("h2c request");
    assert_eq!(
        one.version(),
        Version::HTTP_2,
        "the proxy answered in HTTP/2"
    );
    assert_eq!(one.status(), 200);
    let seen: Value = one.json().await.unwrap();
    assert_eq!(seen["target"], "/a?b=1");
    assert_eq!(
        raw_header(&seen, "host").as_deref(),
        Some(format!("127.0.0.1:{}", raw.port).as_str()),
        "HTTP/1.1 upstream gets its own Host: {seen}"
    );
    assert_eq!(
        raw_header(&seen, "x-forwarded-host").as_deref(),
        Some(authority.as_str()),
        "X-Forwarded-Host from :authority: {seen}"
    );
    assert_eq!(raw_header(&seen, "authorization"), None, "{seen}");

    let body = random_bytes(300_000, 7);
    let two = h2c_client()
        .post(proxy.url("/two/b"))
        .bearer_auth(&token)
        .body(body.clone())
        .send()
        .await
        .expect("h2c request");
    assert_eq!(two.version(), Version::HTTP_2);
    assert_eq!(two.status(), 200);
    let seen: Value = two.json().await.unwrap();
    assert_eq!(
        seen["version"], "HTTP/2.0",
        "HTTP/2 toward the upstream: {seen}"
    );
    assert_eq!(seen["target"], "/b");
    assert_eq!(seen["body_length"], body.len());
    assert_eq!(seen["authority"], format!("127.0.0.1:{h2}"), "{seen}");
    assert_eq!(seen["headers"]["x-forwarded-host"], authority.as_str());
    assert_eq!(seen["headers"]["x-forwarded-proto"], "http");
    assert!(seen["headers"].get("authorization").is_none(), "{seen}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http1_clients_share_the_port_and_reach_both_upstreams() {
    let (_raw, _h2, proxy) = stack().await;
    let token = hs_token("alice", json!({}));
    for (path, upstream_version) in [("/one/x", None), ("/two/x", Some("HTTP/2.0"))] {
        let response = client()
            .get(proxy.url(path))
            .bearer_auth(&token)
            .send()
            .await
            .expect("HTTP/1.1 request");
        assert_eq!(response.version(), Version::HTTP_11, "{path}");
        assert_eq!(response.status(), 200, "{path}");
        let seen: Value = response.json().await.unwrap();
        assert_eq!(seen["target"], "/x", "{path}");
        if let Some(version) = upstream_version {
            assert_eq!(seen["version"], version, "{path}");
        }
    }
    // A refusal over h2c is the usual JSON answer: only gRPC calls get the gRPC form.
    let refused = h2c_client()
        .get(proxy.url("/two/x"))
        .send()
        .await
        .expect("h2c request");
    Reply::of(refused).await.assert_error(401, "missing_token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn te_trailers_is_the_only_te_value_forwarded() {
    let (_raw, _h2, proxy) = stack().await;
    let token = hs_token("alice", json!({}));
    let request = format!(
        "GET /one/te HTTP/1.1\r\nHost: proxy\r\nAuthorization: Bearer {token}\r\n\
         TE: deflate, trailers\r\nConnection: TE, close\r\n\r\n"
    );
    let answer = raw_request(proxy.addr, request.as_bytes()).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let seen = answer.json();
    assert_eq!(
        raw_header(&seen, "te").as_deref(),
        Some("trailers"),
        "{seen}"
    );
    let request = format!(
        "GET /one/te HTTP/1.1\r\nHost: proxy\r\nAuthorization: Bearer {token}\r\n\
         TE: deflate\r\nConnection: close\r\n\r\n"
    );
    let seen = raw_request(proxy.addr, request.as_bytes()).await.json();
    assert_eq!(raw_header(&seen, "te"), None, "{seen}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_https_http2_upstream_is_reached_by_alpn_with_its_ca_file() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("internal gRPC CA");
    let ca_file = ca.write(dir.path(), "ca.pem");
    let port = start_h2_tls_echo(&ca.server()).await;
    let raw = RawEcho::start().await;
    let toml = echo_toml(
        "",
        &raw.url(),
        &format!(
            r#"
[[upstreams]]
name = "h2tls"
url = "https://localhost:{port}"
http2 = true
ca_file = "{}"
timeout_seconds = 5

[[routes]]
prefix = "/tls"
upstream = "h2tls"
strip_prefix = true
"#,
            ca_file.display()
        ),
    );
    let proxy = Proxy::with_toml(&toml, &[]).await;
    let token = hs_token("alice", json!({}));
    for client in [
        h2c_client(),
        reqwest::Client::builder().no_proxy().build().unwrap(),
    ] {
        let answer = client
            .get(proxy.url("/tls/x"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("request through the proxy");
        assert_eq!(answer.status(), 200);
        let seen: Value = answer.json().await.unwrap();
        assert_eq!(
            seen["version"], "HTTP/2.0",
            "ALPN h2 toward the upstream: {seen}"
        );
        assert_eq!(seen["target"], "/x");
        assert_eq!(seen["authority"], format!("localhost:{port}"), "{seen}");
    }
}
