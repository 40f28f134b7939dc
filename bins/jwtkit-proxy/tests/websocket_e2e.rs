//! WebSocket through the proxy, end to end: a real tokio-tungstenite client, the real proxy
//! binary and a real tokio-tungstenite upstream, all on 127.0.0.1. Echo of text and binary,
//! refusals at the handshake (401, 403), tokens from the query and a cookie, what the upstream
//! sees at the handshake, closing at the token's `exp` (1008 `token expired`, the option off,
//! grace), closing at SIGTERM (1001), many concurrent sockets, the upstream closing first, and
//! sockets opened over HTTP/2 (RFC 8441 extended CONNECT, a hyper HTTP/2 client).

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::*;
use futures_util::{SinkExt, StreamExt};
use hyper_util::rt::TokioIo;
use jwtkit_mint::Expiry;
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::handshake::client::Request as ClientRequest;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message, client::IntoClientRequest};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Client = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// What the upstream saw of one connection.
#[derive(Clone, Debug, Default)]
struct Seen {
    /// The handshake's request target.
    target: String,
    /// The handshake's headers, names in lower case.
    headers: Vec<(String, String)>,
    /// The close frame the proxy sent, if one came.
    close: Option<(u16, String)>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A WebSocket upstream: echoes every text and binary message. Below a path containing
/// `/close-first` it closes (4000 `upstream done`) right after echoing the first message.
struct WsUpstream {
    port: u16,
    seen: Arc<Mutex<Vec<Arc<Mutex<Seen>>>>>,
    task: tokio::task::JoinHandle<()>,
}

impl WsUpstream {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let seen: Arc<Mutex<Vec<Arc<Mutex<Seen>>>>> = Arc::default();
        let all = seen.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let record = Arc::new(Mutex::new(Seen::default()));
                all.lock().unwrap().push(record.clone());
                tokio::spawn(serve_socket(stream, record));
            }
        });
        Self { port, seen, task }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// What the upstream saw of every WebSocket handshake so far (the proxy's plain GETs to
    /// see whether the upstream is up, for `/health`, are left out).
    fn seen(&self) -> Vec<Seen> {
        let all = self.seen.lock().unwrap();
        all.iter()
            .map(|s| s.lock().unwrap().clone())
            .filter(|s| !s.target.is_empty())
            .collect()
    }

    /// Waits up to 5 s for a connection whose target starts with `prefix` to have received a close.
    async fn close_of(&self, prefix: &str) -> (u16, String) {
        for _ in 0..100 {
            let found = self
                .seen()
                .into_iter()
                .filter(|s| s.target.starts_with(prefix))
                .find_map(|s| s.close);
            if let Some(close) = found {
                return close;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the upstream saw no close on {prefix}: {:?}", self.seen());
    }
}

impl Drop for WsUpstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve_socket(stream: TcpStream, record: Arc<Mutex<Seen>>) {
    let handshake = record.clone();
    // The callback's type is tungstenite's (its error is an HTTP response).
    #[allow(clippy::result_large_err)]
    let callback = move |request: &Request, response: Response| {
        let mut seen = handshake.lock().unwrap();
        seen.target = request.uri().to_string();
        seen.headers = request
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap_or("?").to_owned()))
            .collect();
        Ok(response)
    };
    let Ok(mut socket) = tokio_tungstenite::accept_hdr_async(stream, callback).await else {
        return;
    };
    let close_first = record.lock().unwrap().target.contains("/close-first");
    while let Some(Ok(message)) = socket.next().await {
        match message {
            Message::Text(_) | Message::Binary(_) => {
                if record.lock().unwrap().target.contains("/drop") {
                    return;
                }
                if socket.send(message).await.is_err() {
                    return;
                }
                if close_first {
                    let frame = CloseFrame {
                        code: CloseCode::Library(4000),
                        reason: "upstream done".into(),
                    };
                    let _ = socket.send(Message::Close(Some(frame))).await;
                }
            }
            Message::Close(frame) => {
                record.lock().unwrap().close = Some(frame.map_or((1005, String::new()), |f| {
                    (u16::from(f.code), f.reason.to_string())
                }));
            }
            _ => {}
        }
    }
}

/// The upstream's table keys and the routes every test uses.
const ROUTES: &str = r#"
identity_headers = { "X-User-Id" = "sub" }

[[routes]]
prefix = "/ws"
upstream = "echo"

[[routes]]
prefix = "/admin"
upstream = "echo"
require_claims = { role = "admin" }

[[routes]]
prefix = "/q"
upstream = "echo"
token_from = ["query:access_token"]

[[routes]]
prefix = "/c"
upstream = "echo"
token_from = ["cookie:__session"]

[[routes]]
prefix = "/open"
upstream = "echo"
websocket = { close_at_expiry = false }

[[routes]]
prefix = "/grace"
upstream = "echo"
websocket = { grace_seconds = 2 }
"#;

async fn stack() -> (WsUpstream, Proxy) {
    let upstream = WsUpstream::start().await;
    let top = r#"cors_origins = ["https://app.example"]"#;
    let proxy = Proxy::with_toml(&echo_toml(top, &upstream.url(), ROUTES), &[]).await;
    (upstream, proxy)
}

/// A handshake request to `path` on the proxy, with `Authorization: Bearer token` when given.
fn request(proxy: &Proxy, path: &str, token: Option<&str>) -> ClientRequest {
    let mut request = format!("ws://{}{path}", proxy.addr)
        .into_client_request()
        .expect("request");
    if let Some(token) = token {
        request.headers_mut().insert(
            "authorization",
            format!("Bearer {token}").parse().expect("header"),
        );
    }
    request
}

async fn connect(request: ClientRequest) -> Client {
    let (socket, response) = tokio_tungstenite::connect_async(request)
        .await
        .expect("the WebSocket handshake through the proxy");
    assert_eq!(response.status(), 101);
    socket
}

/// The handshake's refusal status; panics if the proxy switched protocols.
async fn refusal(request: ClientRequest) -> u16 {
    match tokio_tungstenite::connect_async(request).await {
        Err(WsError::Http(response)) => response.status().as_u16(),
        Err(other) => panic!("expected an HTTP refusal, got {other}"),
        Ok(_) => panic!("the proxy switched protocols without a valid token"),
    }
}

/// Sends `message` and expects it back (skipping pongs).
async fn echo<S>(socket: &mut WebSocketStream<S>, message: Message)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    socket.send(message.clone()).await.expect("send");
    loop {
        let got = tokio::time::timeout(Duration::from_secs(5), socket.next())
            .await
            .expect("an echo within 5 s")
            .expect("the socket is open")
            .expect("a message");
        if !matches!(got, Message::Pong(_) | Message::Ping(_)) {
            assert_eq!(got, message);
            return;
        }
    }
}

/// Reads until a close frame arrives (within `within`): its code and reason.
async fn close_frame(socket: &mut Client, within: Duration) -> (u16, String) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let got = tokio::time::timeout_at(deadline, socket.next())
            .await
            .expect("a close frame in time");
        match got {
            Some(Ok(Message::Close(Some(frame)))) => {
                return (u16::from(frame.code), frame.reason.to_string());
            }
            Some(Ok(Message::Close(None))) => return (1005, String::new()),
            Some(Ok(_)) => {}
            other => panic!("the socket ended without a close frame: {other:?}"),
        }
    }
}

/// Reads on after a close frame: that sends the close reply, and the connection ends.
async fn await_end(socket: &mut Client) {
    let end = tokio::time::timeout(Duration::from_secs(5), socket.next())
        .await
        .expect("the connection ends");
    assert!(
        matches!(end, None | Some(Err(WsError::ConnectionClosed))),
        "{end:?}"
    );
}

/// Waits up to 5 s for `/metrics` to hold `line`.
async fn await_metric(proxy: &Proxy, line: &str) {
    let mut text = String::new();
    for _ in 0..100 {
        text = metrics_text(proxy).await;
        if text.lines().any(|l| l == line) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no {line:?} in /metrics:\n{text}");
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64()
}

/// A token for `sub` that expires in `seconds`, and its `exp`.
fn short_token(sub: &str, seconds: u64) -> (String, f64) {
    let token = hs_token_signed(HS_SECRET.as_bytes(), sub, json!({}), Expiry::After(seconds));
    let exp = decode_jwt(&token).1["exp"].as_f64().expect("exp");
    (token, exp)
}

#[tokio::test]
async fn text_and_binary_echo_through_the_proxy_and_the_upstream_sees_the_identity() {
    let (upstream, proxy) = stack().await;
    let token = hs_token("alice", json!({}));
    let mut request = request(&proxy, "/ws/chat?room=1", Some(&token));
    let headers = request.headers_mut();
    headers.insert("x-user-id", "mallory".parse().unwrap());
    headers.insert(
        "sec-websocket-extensions",
        "permessage-deflate; client_max_window_bits"
            .parse()
            .unwrap(),
    );
    let mut socket = connect(request).await;
    echo(&mut socket, Message::text("hello through the proxy")).await;
    echo(&mut socket, Message::binary(vec![0u8, 1, 2, 255, 254])).await;
    echo(&mut socket, Message::text("x".repeat(200_000))).await;
    socket.send(Message::Ping("p1".into())).await.expect("ping");
    let pong = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match socket.next().await {
                Some(Ok(Message::Pong(payload))) => return payload,
                Some(Ok(_)) => {}
                other => panic!("no pong: {other:?}"),
            }
        }
    })
    .await
    .expect("a pong within 5 s");
    assert_eq!(&pong[..], b"p1");
    socket.close(None).await.expect("close");

    let seen = &upstream.seen()[0];
    assert_eq!(seen.target, "/ws/chat?room=1");
    assert_eq!(seen.header("x-user-id"), Some("alice"));
    assert_eq!(seen.header("authorization"), None);
    assert_eq!(seen.header("sec-websocket-extensions"), None);
    assert_eq!(seen.header("upgrade"), Some("websocket"));
    assert!(seen.header("sec-websocket-key").is_some());
    assert_eq!(upstream.close_of("/ws/chat").await.0, 1000);
}

/// A WebSocket over HTTP/2 (RFC 8441), as a browser opens one on an HTTP/2 connection: an h2c
/// connection to the proxy (prior knowledge), then an extended `CONNECT` to `path` with
/// `:protocol` `websocket` and no key. Returns the answer's status and, on 200, the socket.
async fn connect_h2(
    proxy: &Proxy,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, Option<H2Socket>) {
    let stream = TcpStream::connect(proxy.addr).await.expect("connect");
    connect_h2_over(stream, &format!("http://{}", proxy.addr), path, headers).await
}

/// A WebSocket on an HTTP/2 stream.
type H2Socket = WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>;

/// [`connect_h2`] over `io` (plain TCP, or TLS with ALPN `h2`) to the proxy at `base`
/// (`http://ADDR` or `https://ADDR`).
async fn connect_h2_over<T>(
    io: T,
    base: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, Option<H2Socket>)
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) =
        hyper::client::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
            .handshake(TokioIo::new(io))
            .await
            .expect("HTTP/2 handshake");
    tokio::spawn(connection);
    let empty = || http_body_util::Empty::<bytes::Bytes>::new();
    // One plain request first: the proxy's SETTINGS (extended CONNECT allowed) have arrived
    // once it is answered.
    let health = hyper::Request::get(format!("{base}/health"))
        .body(empty())
        .unwrap();
    let answer = sender.send_request(health).await.expect("GET /health");
    assert_eq!(answer.status(), 200);
    let mut request = hyper::Request::builder()
        .method(hyper::Method::CONNECT)
        .uri(format!("{base}{path}"))
        .header("sec-websocket-version", "13");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let mut request = request.body(empty()).unwrap();
    request
        .extensions_mut()
        .insert(hyper::ext::Protocol::from_static("websocket"));
    let mut response = sender.send_request(request).await.expect("an answer");
    let status = response.status().as_u16();
    if status != 200 {
        return (status, None);
    }
    let upgraded = hyper::upgrade::on(&mut response)
        .await
        .expect("the stream handed over");
    let socket = WebSocketStream::from_raw_socket(
        TokioIo::new(upgraded),
        tokio_tungstenite::tungstenite::protocol::Role::Client,
        None,
    )
    .await;
    (status, Some(socket))
}

#[tokio::test]
async fn http2_clients_open_sockets_with_extended_connect() {
    let (upstream, proxy) = stack().await;
    assert_eq!(connect_h2(&proxy, "/ws/h2", &[]).await.0, 401, "no token");
    let token = hs_token("alice", json!({}));
    let bearer = format!("Bearer {token}");
    // A cookie route checks the origin as for HTTP/1.1, against `:authority`.
    let authority = format!("http://{}", proxy.addr);
    let cookie = format!("__session={token}");
    let evil = [
        ("cookie", cookie.as_str()),
        ("origin", "https://evil.example"),
    ];
    assert_eq!(connect_h2(&proxy, "/c/h2", &evil).await.0, 403);
    let same = [("cookie", cookie.as_str()), ("origin", authority.as_str())];
    let (status, socket) = connect_h2(&proxy, "/c/h2", &same).await;
    assert_eq!(status, 200);
    drop(socket);

    let (status, socket) = connect_h2(
        &proxy,
        "/ws/h2?room=2",
        &[("authorization", &bearer), ("x-user-id", "mallory")],
    )
    .await;
    assert_eq!(status, 200);
    let mut socket = socket.expect("a socket");
    echo(&mut socket, Message::text("hello over HTTP/2")).await;
    echo(&mut socket, Message::binary(vec![0u8, 1, 2, 255])).await;
    socket.close(None).await.expect("close");
    // The upstream saw an HTTP/1.1 upgrade with the proxy's own key and the caller's identity.
    let seen = upstream
        .seen()
        .into_iter()
        .find(|s| s.target == "/ws/h2?room=2")
        .expect("the upstream saw the handshake");
    assert_eq!(seen.header("upgrade"), Some("websocket"));
    assert_eq!(seen.header("sec-websocket-version"), Some("13"));
    assert!(seen.header("sec-websocket-key").is_some());
    assert_eq!(seen.header("x-user-id"), Some("alice"));
    assert_eq!(seen.header("authorization"), None);
    assert_eq!(upstream.close_of("/ws/h2").await.0, 1000);
}

#[tokio::test]
async fn http2_sockets_work_over_tls_as_browsers_open_them() {
    use jwtkit_testsupport::tls::TestCa;
    use rustls::pki_types::ServerName;
    let upstream = WsUpstream::start().await;
    let ca = TestCa::new("jwtkit test CA");
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = ca.server().write(dir.path(), "tls");
    let routes = format!(
        "{ROUTES}\n[tls]\ncert_file = \"{}\"\nkey_file = \"{}\"\n",
        cert.display(),
        key.display()
    );
    let proxy = Proxy::with_toml(&echo_toml("", &upstream.url(), &routes), &[]).await;
    assert_eq!(proxy.scheme, "https");
    // A browser's connection: TLS with ALPN `h2`, the proxy's CA trusted.
    let config = ca.client_config(&[b"h2"]);
    let tcp = TcpStream::connect(proxy.addr).await.expect("connect");
    let name = ServerName::IpAddress(std::net::Ipv4Addr::LOCALHOST.into());
    let tls = tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .expect("TLS handshake");
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let bearer = format!("Bearer {}", hs_token("alice", json!({})));
    let base = format!("https://{}", proxy.addr);
    let (status, socket) =
        connect_h2_over(tls, &base, "/ws/tls", &[("authorization", &bearer)]).await;
    assert_eq!(status, 200);
    let mut socket = socket.expect("a socket");
    echo(&mut socket, Message::text("over TLS and HTTP/2")).await;
    socket.close(None).await.expect("close");
    assert_eq!(upstream.close_of("/ws/tls").await.0, 1000);
}

#[tokio::test]
async fn handshakes_without_a_token_or_the_right_are_refused_before_the_upstream() {
    let (upstream, proxy) = stack().await;
    assert_eq!(refusal(request(&proxy, "/ws", None)).await, 401);
    let expired = expired_hs_token("alice");
    assert_eq!(refusal(request(&proxy, "/ws", Some(&expired))).await, 401);
    let user = hs_token("alice", json!({"role": "user"}));
    assert_eq!(refusal(request(&proxy, "/admin", Some(&user))).await, 403);
    assert!(upstream.seen().is_empty(), "{:?}", upstream.seen());
    let admin = hs_token("root", json!({"role": "admin"}));
    let mut socket = connect(request(&proxy, "/admin", Some(&admin))).await;
    echo(&mut socket, Message::text("admin")).await;
}

#[tokio::test]
async fn tokens_come_from_the_query_parameter_or_the_cookie_and_never_reach_the_upstream() {
    let (upstream, proxy) = stack().await;
    let token = hs_token("bob", json!({}));
    let path = format!("/q/live?access_token={token}&x=1");
    let mut socket = connect(request(&proxy, &path, None)).await;
    echo(&mut socket, Message::text("from a browser")).await;
    // The header is not a source on this route.
    assert_eq!(refusal(request(&proxy, "/q/live", Some(&token))).await, 401);

    let mut request = request(&proxy, "/c/live", None);
    request.headers_mut().insert(
        "cookie",
        format!("__session={token}; theme=dark").parse().unwrap(),
    );
    let mut socket = connect(request).await;
    echo(&mut socket, Message::text("from a cookie")).await;

    let seen = upstream.seen();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0].target, "/q/live?x=1");
    assert_eq!(seen[0].header("x-user-id"), Some("bob"));
    assert_eq!(seen[1].target, "/c/live");
    assert_eq!(seen[1].header("cookie"), Some("theme=dark"));
    assert_eq!(seen[1].header("x-user-id"), Some("bob"));
}

#[tokio::test]
async fn cookie_handshakes_from_another_site_are_refused_unless_listed_in_cors_origins() {
    let (upstream, proxy) = stack().await;
    let token = hs_token("ivy", json!({}));
    let from = |origin: &str| {
        let mut request = request(&proxy, "/c/live", None);
        let headers = request.headers_mut();
        headers.insert("cookie", format!("__session={token}").parse().unwrap());
        headers.insert("origin", origin.parse().unwrap());
        request
    };
    assert_eq!(refusal(from("https://evil.example")).await, 403);
    assert!(upstream.seen().is_empty(), "{:?}", upstream.seen());
    let same_origin = format!("http://{}", proxy.addr);
    for origin in [same_origin.as_str(), "https://app.example"] {
        let mut socket = connect(from(origin)).await;
        echo(&mut socket, Message::text(origin)).await;
    }
    // Header tokens cannot be sent by another site's page: no origin rule on such routes.
    let mut request = request(&proxy, "/ws", Some(&token));
    request
        .headers_mut()
        .insert("origin", "https://evil.example".parse().unwrap());
    connect(request).await;
}

#[tokio::test]
async fn the_socket_closes_with_1008_when_its_token_expires() {
    let (upstream, proxy) = stack().await;
    let (token, exp) = short_token("carol", 2);
    let mut socket = connect(request(&proxy, "/ws/expiring", Some(&token))).await;
    echo(&mut socket, Message::text("before exp")).await;
    let (code, reason) = close_frame(&mut socket, Duration::from_secs(6)).await;
    let at = unix_now();
    assert_eq!((code, reason.as_str()), (1008, "token expired"));
    assert!(at >= exp - 0.05, "closed {:.3} s before exp", exp - at);
    assert!(at <= exp + 1.5, "closed {:.3} s after exp", at - exp);
    await_end(&mut socket).await;
    assert_eq!(
        upstream.close_of("/ws/expiring").await,
        (1008, "token expired".to_owned())
    );
    await_metric(
        &proxy,
        r#"jwtkit_proxy_websocket_closes_total{route="/ws",reason="token_expired"} 1"#,
    )
    .await;
    await_metric(&proxy, r#"jwtkit_proxy_websockets_open{route="/ws"} 0"#).await;
}

#[tokio::test]
async fn sockets_outlive_their_token_when_the_route_says_so_or_within_grace() {
    let (_upstream, proxy) = stack().await;
    let (token, exp) = short_token("dave", 2);
    let mut open = connect(request(&proxy, "/open/x", Some(&token))).await;
    let mut grace = connect(request(&proxy, "/grace/x", Some(&token))).await;
    let wait = exp + 1.0 - unix_now();
    tokio::time::sleep(Duration::from_secs_f64(wait.max(0.0))).await;
    echo(&mut open, Message::text("after exp")).await;
    echo(&mut grace, Message::text("within grace")).await;
    let (code, reason) = close_frame(&mut grace, Duration::from_secs(4)).await;
    let at = unix_now();
    assert_eq!((code, reason.as_str()), (1008, "token expired"));
    assert!(
        at >= exp + 2.0 - 0.05,
        "closed {:.3} s before grace ended",
        exp + 2.0 - at
    );
    assert!(
        at <= exp + 3.5,
        "closed {:.3} s after grace ended",
        at - exp - 2.0
    );
    echo(&mut open, Message::text("still open")).await;
}

#[tokio::test]
async fn sixty_sockets_echo_concurrently_while_sixty_more_stay_open() {
    let (upstream, proxy) = stack().await;
    let token = hs_token("erin", json!({}));
    let sockets = (0..60).map(|i| {
        let request = request(&proxy, &format!("/ws/many/{i}"), Some(&token));
        async move {
            let mut socket = connect(request).await;
            for n in 0..20 {
                echo(
                    &mut socket,
                    Message::text(format!("socket {i} message {n}")),
                )
                .await;
            }
            echo(&mut socket, Message::binary(vec![i as u8; 10_000])).await;
            socket.close(None).await.expect("close");
        }
    });
    let open = (0..60).map(|i| {
        let request = request(&proxy, &format!("/ws/many/{i}"), Some(&token));
        async move { connect(request).await }
    });
    // 60 sockets held open while another 60 echo and close.
    let (held, ()) = tokio::join!(futures_util::future::join_all(open), async {
        futures_util::future::join_all(sockets).await;
    });
    assert_eq!(upstream.seen().len(), 120);
    await_metric(&proxy, r#"jwtkit_proxy_websockets_open{route="/ws"} 60"#).await;
    drop(held);
}

#[tokio::test]
async fn an_upstream_that_closes_first_closes_the_client_with_its_frame() {
    let (_upstream, proxy) = stack().await;
    let token = hs_token("frank", json!({}));
    let mut socket = connect(request(&proxy, "/ws/close-first", Some(&token))).await;
    echo(&mut socket, Message::text("last words")).await;
    let (code, reason) = close_frame(&mut socket, Duration::from_secs(5)).await;
    assert_eq!((code, reason.as_str()), (4000, "upstream done"));
    // The client's close reply completes the handshake; then the stream ends.
    await_end(&mut socket).await;
    await_metric(
        &proxy,
        r#"jwtkit_proxy_websocket_closes_total{route="/ws",reason="upstream_closed"} 1"#,
    )
    .await;
}

#[tokio::test]
async fn a_message_over_max_body_bytes_closes_the_socket_with_1009() {
    let upstream = WsUpstream::start().await;
    let top = "[limits]\nmax_body_bytes = 65536";
    let routes = "[[routes]]\nprefix = \"/ws\"\nupstream = \"echo\"\n";
    let proxy = Proxy::with_toml(&echo_toml(top, &upstream.url(), routes), &[]).await;
    let token = hs_token("hank", json!({}));
    let mut socket = connect(request(&proxy, "/ws/big", Some(&token))).await;
    echo(&mut socket, Message::binary(vec![7u8; 65_536])).await;
    socket
        .send(Message::binary(vec![7u8; 65_537]))
        .await
        .expect("send");
    let (code, reason) = close_frame(&mut socket, Duration::from_secs(5)).await;
    assert_eq!((code, reason.as_str()), (1009, "message too big"));
    assert_eq!(upstream.close_of("/ws/big").await.0, 1001);
}

#[tokio::test]
async fn sigterm_closes_open_sockets_with_1001_on_both_sides_then_exits() {
    let (upstream, mut proxy) = stack().await;
    let token = hs_token("jack", json!({}));
    let mut socket = connect(request(&proxy, "/ws/shutdown", Some(&token))).await;
    echo(&mut socket, Message::text("before SIGTERM")).await;
    proxy.terminate();
    // RFC 6455 1001: the endpoint is going away.
    assert_eq!(
        close_frame(&mut socket, Duration::from_secs(5)).await,
        (1001, "proxy shutting down".to_owned())
    );
    // Read on, so that the client's close reply goes out and the socket ends.
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(Ok(_)) = socket.next().await {}
    })
    .await;
    assert!(ended.is_ok(), "the client's socket stayed open");
    assert_eq!(
        upstream.close_of("/ws/shutdown").await,
        (1001, "proxy shutting down".to_owned())
    );
    let status = proxy
        .wait_exit(Duration::from_secs(10))
        .expect("the proxy exits once its sockets are closed");
    assert!(status.success(), "{status:?}");
}

#[tokio::test]
async fn an_upstream_that_drops_the_connection_closes_the_client_with_1011() {
    let (_upstream, proxy) = stack().await;
    let token = hs_token("kim", json!({}));
    let mut socket = connect(request(&proxy, "/ws/drop", Some(&token))).await;
    socket.send(Message::text("goodbye")).await.expect("send");
    let (code, reason) = close_frame(&mut socket, Duration::from_secs(5)).await;
    assert_eq!(
        (code, reason.as_str()),
        (1011, "upstream connection failed")
    );
}

#[tokio::test]
async fn an_upstream_accepting_an_extension_that_was_not_offered_is_502() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let server = tokio::spawn(async move {
        // Plain GETs (the proxy's `/health` look) are answered 200; the handshake 101 with an
        // extension, which a relay of frames could not read; below `/ws/accept`, 101 with an
        // answer to another key than the proxy's (for an HTTP/2 caller, the proxy's own).
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).await.unwrap_or(0) == 1 {
                head.push(byte[0]);
            }
            let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
            let answer = if head.contains("upgrade: websocket") && head.contains("/ws/accept") {
                "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\
                 sec-websocket-accept: x\r\n\r\n"
            } else if head.contains("upgrade: websocket") {
                "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\
                 sec-websocket-accept: x\r\nsec-websocket-extensions: permessage-deflate\r\n\r\n"
            } else {
                "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"
            };
            let _ = stream.write_all(answer.as_bytes()).await;
        }
    });
    let routes = "[[routes]]\nprefix = \"/ws\"\nupstream = \"echo\"\n";
    let proxy = Proxy::with_toml(&echo_toml("", &url, routes), &[]).await;
    let token = hs_token("lena", json!({}));
    assert_eq!(refusal(request(&proxy, "/ws", Some(&token))).await, 502);
    let bearer = format!("Bearer {token}");
    let auth = [("authorization", bearer.as_str())];
    assert_eq!(connect_h2(&proxy, "/ws", &auth).await.0, 502);
    assert_eq!(connect_h2(&proxy, "/ws/accept", &auth).await.0, 502);
    server.abort();
}

#[tokio::test]
async fn an_upstream_that_does_not_switch_answers_as_a_plain_response() {
    let echo = RawEcho::start().await;
    let proxy = Proxy::with_toml(
        &echo_toml(
            "",
            &echo.url(),
            "[[routes]]\nprefix = \"/plain\"\nupstream = \"echo\"\n",
        ),
        &[],
    )
    .await;
    let token = hs_token("gina", json!({}));
    let before = echo.hits();
    assert_eq!(refusal(request(&proxy, "/plain", Some(&token))).await, 200);
    assert_eq!(echo.hits(), before + 1);
    // To an HTTP/2 caller a 2xx would say the socket is open: it gets 502 instead.
    let bearer = format!("Bearer {token}");
    assert_eq!(
        connect_h2(&proxy, "/plain", &[("authorization", &bearer)])
            .await
            .0,
        502
    );
}
