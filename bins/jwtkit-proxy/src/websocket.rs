//! WebSocket through the prefix routes. An upgrade request is authenticated, authorized and
//! forwarded like any other request ([`crate::forward`]); when the upstream answers 101, both
//! connections are upgraded and this module relays messages between them. It relays frames,
//! not bytes, so that it can close the socket when the token that opened it expires (close
//! code 1008, `token expired`) without cutting a frame in two, and close both sides with 1001
//! (`proxy shutting down`) when the proxy stops.
//!
//! A handshake comes as an HTTP/1.1 upgrade (RFC 6455) or, on an HTTP/2 connection, as an
//! extended `CONNECT` (RFC 8441, [`Handshake::Http2`]); the upstream gets an HTTP/1.1 upgrade
//! either way, with a key of the proxy's own for an HTTP/2 caller (which sends none), and its
//! answer's `Sec-WebSocket-Accept` checked by the proxy.
//!
//! Because the proxy reads the frames, it negotiates no extension: `Sec-WebSocket-Extensions`
//! is removed from the forwarded handshake (compressed permessage-deflate frames could not be
//! read), and an upstream that answers 101 with an extension anyway is refused with 502.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::http::header;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Response, StatusCode, Version};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use tokio::time::Instant;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use crate::auth::Caller;
use crate::config::WebSocketSection;
use crate::error::{ApiError, ErrorKind};
use crate::metrics::Metrics;
use crate::server::drain::Drain;

/// The reason of the close frame sent when the token expires.
pub const EXPIRED_REASON: &str = "token expired";

/// The reason of the close frame (1001, going away) sent to both sides when the proxy stops.
pub const SHUTDOWN_REASON: &str = "proxy shutting down";

/// How long closing may take once one side is done: the other side's close reply and the
/// last queued frames. A peer that never answers is dropped after it.
const CLOSE_WAIT: Duration = Duration::from_secs(5);

/// When a route's sockets close, besides either side closing them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lifetime {
    /// `grace` after the `exp` of the token that opened the socket.
    TokenExpiry {
        /// `websocket.grace_seconds`.
        grace: Duration,
    },
    /// Never (`websocket.close_at_expiry = false`).
    Unbounded,
}

impl Lifetime {
    /// The lifetime a route's `[routes.websocket]` section asks for.
    pub fn from_config(section: &WebSocketSection) -> Self {
        if section.close_at_expiry {
            Self::TokenExpiry {
                grace: Duration::from_secs(section.grace_seconds),
            }
        } else {
            Self::Unbounded
        }
    }

    /// When a socket `caller` opens must be closed; `None`: not for its token. A token
    /// without a numeric `exp` closes at once (the proxy's issuers refuse such tokens before,
    /// so this only keeps a socket from living forever should one pass); one whose `exp` lies
    /// beyond what a clock can hold never does.
    pub fn deadline(&self, caller: &Caller) -> Option<Instant> {
        let Self::TokenExpiry { grace } = *self else {
            return None;
        };
        let now = Instant::now();
        let Some(exp) = caller
            .claims()
            .get("exp")
            .and_then(serde_json::Value::as_f64)
        else {
            return Some(now);
        };
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        let left = exp + grace.as_secs_f64() - since_epoch;
        if left <= 0.0 {
            return Some(now);
        }
        Duration::try_from_secs_f64(left)
            .ok()
            .and_then(|left| now.checked_add(left))
    }
}

/// How a WebSocket handshake came.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Handshake {
    /// An HTTP/1.1 `GET` with `Upgrade: websocket` ([`is_upgrade`]); the caller's
    /// `Sec-WebSocket-Key` goes upstream and the upstream's answer to it comes back.
    Http1,
    /// An HTTP/2 extended `CONNECT` with `:protocol` `websocket` (RFC 8441 §4). The caller
    /// sends no key and expects `200`, so the proxy upgrades toward the upstream with a key
    /// of its own, checks the answer's `Sec-WebSocket-Accept`, and answers `200`.
    Http2,
}

/// The WebSocket handshake `request` is, if it is one.
pub fn handshake<B>(request: &axum::http::Request<B>) -> Option<Handshake> {
    if request.method() == Method::CONNECT {
        // Only HTTP/2 carries `:protocol` (hyper accepts it once the listener has said it
        // takes extended CONNECT).
        return request
            .extensions()
            .get::<hyper::ext::Protocol>()
            .is_some_and(|protocol| protocol.as_str().eq_ignore_ascii_case("websocket"))
            .then_some(Handshake::Http2);
    }
    is_upgrade(request).then_some(Handshake::Http1)
}

/// True when `request` asks to switch to WebSocket: an HTTP/1.1 GET with `Connection: upgrade`
/// and `Upgrade: websocket` (RFC 6455 §4.1). Other `Upgrade` protocols are not switched to:
/// such requests are forwarded as plain requests, their `Upgrade` removed as hop-by-hop.
pub fn is_upgrade<B>(request: &axum::http::Request<B>) -> bool {
    let names = |name: HeaderName, token: &str| {
        request
            .headers()
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|item| item.trim().eq_ignore_ascii_case(token))
    };
    request.method() == Method::GET
        && request.version() == Version::HTTP_11
        // Nearly no request has one: a single lookup answers most.
        && request.headers().contains_key(header::UPGRADE)
        && names(header::CONNECTION, "upgrade")
        && names(header::UPGRADE, "websocket")
}

/// True when a handshake on a route that takes tokens from a cookie may go on: it carries no
/// `Origin` (not a browser), or its origin is the one the proxy was asked for (`Origin`'s
/// host and port equal `Host`, or on HTTP/2 the request's `:authority`), or it is listed in
/// `cors_origins`. A WebSocket handshake is not subject to CORS and browsers send cookies
/// with it, so without this check any site could open a socket with a visitor's cookie
/// (cross-site WebSocket hijacking).
pub fn origin_allowed<B>(request: &axum::http::Request<B>, cors_origins: &[HeaderValue]) -> bool {
    let headers = request.headers();
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    if cors_origins.iter().any(|allowed| allowed == origin) {
        return true;
    }
    let authority = origin
        .to_str()
        .ok()
        .and_then(|o| o.split_once("://"))
        .map(|(_, authority)| authority);
    // HTTP/2 names the authority in `:authority`; a `Host` field only stands in for it.
    let host = match request.uri().authority() {
        Some(authority) if request.version() == Version::HTTP_2 => Some(authority.as_str()),
        _ => headers.get(header::HOST).and_then(|h| h.to_str().ok()),
    };
    matches!((authority, host), (Some(a), Some(h)) if a.eq_ignore_ascii_case(h))
}

/// Puts back the upgrade headers that hop-by-hop cleaning removed from a forwarded upgrade
/// request, and removes the extension offer (the relay reads frames; see the module docs).
/// For an HTTP/1.1 handshake `Sec-WebSocket-Key`, `-Version` and `-Protocol` pass as they came:
/// the upstream answers the caller's key, and the caller checks that answer. For an HTTP/2 one
/// (no key) the proxy's own key and version 13 are set, and the key is returned for
/// [`switch`] to check the answer with; `-Protocol` passes as it came.
pub fn upgrade_request_headers(headers: &mut HeaderMap, handshake: Handshake) -> Option<String> {
    headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    headers.remove(header::SEC_WEBSOCKET_EXTENSIONS);
    if handshake == Handshake::Http1 {
        return None;
    }
    let key = tokio_tungstenite::tungstenite::handshake::client::generate_key();
    let value = HeaderValue::from_str(&key).expect("a base64 key is a header value");
    headers.insert(header::SEC_WEBSOCKET_KEY, value);
    headers.insert(
        header::SEC_WEBSOCKET_VERSION,
        HeaderValue::from_static("13"),
    );
    Some(key)
}

/// The caller's side of a handshake being forwarded: the connection hyper hands over once the
/// caller has the answer, and for an HTTP/2 caller the key the proxy sent upstream.
pub struct Inbound {
    /// The caller's connection (HTTP/1.1) or stream (HTTP/2), once answered.
    pub upgrade: OnUpgrade,
    /// The proxy's `Sec-WebSocket-Key` toward the upstream ([`upgrade_request_headers`]):
    /// `Some` exactly for an HTTP/2 caller ([`Handshake::Http2`]), whose answer is then `200`.
    pub key: Option<String>,
}

impl Inbound {
    /// True for an HTTP/2 caller, to whom any `2xx` says the socket is open (RFC 8441 §5).
    pub fn is_http2(&self) -> bool {
        self.key.is_some()
    }
}

/// What a relay needs besides the two connections.
pub struct Socket {
    /// When to close it ([`Lifetime::deadline`]).
    pub deadline: Option<Instant>,
    /// The largest message and frame (`limits.max_body_bytes`).
    pub max_message_bytes: usize,
    /// Where it is counted, under its route's label.
    pub metrics: Arc<Metrics>,
    /// The route's metrics label (its prefix as configured).
    pub route: String,
    /// The listener's drain: the relay ends when it starts, and the drain waits for the relay.
    pub drain: Drain,
}

/// The caller's answer to an upstream's 101 (whose headers, hop-by-hop ones removed, are
/// `headers`): 101 to an HTTP/1.1 caller, 200 to an HTTP/2 one (RFC 8441 §5), with the relay of
/// `socket` started: it runs once both connections are handed over. 502 when the upstream
/// accepted an extension that was not offered, or (HTTP/2) answered another key than the
/// proxy's.
pub fn switch(
    inbound: Inbound,
    mut upstream: Response<hyper::body::Incoming>,
    mut headers: HeaderMap,
    socket: Socket,
) -> Result<Response<Body>, ApiError> {
    if headers.contains_key(header::SEC_WEBSOCKET_EXTENSIONS) {
        return Err(ApiError::new(
            ErrorKind::UpstreamError,
            "the upstream accepted a WebSocket extension the proxy did not offer",
        ));
    }
    let status = match &inbound.key {
        None => {
            upgrade_request_headers(&mut headers, Handshake::Http1);
            StatusCode::SWITCHING_PROTOCOLS
        }
        Some(key) => {
            let expected =
                tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
            let accept = headers.remove(header::SEC_WEBSOCKET_ACCEPT);
            if accept.as_ref().map(HeaderValue::as_bytes) != Some(expected.as_bytes()) {
                return Err(ApiError::new(
                    ErrorKind::UpstreamError,
                    "the upstream's WebSocket answer does not match the proxy's key",
                ));
            }
            StatusCode::OK
        }
    };
    let outbound = hyper::upgrade::on(&mut upstream);
    let inbound = inbound.upgrade;
    // Taken now: a drain that starts while the upgrade completes still ends the relay.
    let shutdown = socket.drain.watcher();
    tokio::spawn(socket.drain.clone().track(async move {
        let (client, upstream) = match tokio::try_join!(inbound, outbound) {
            Ok(both) => both,
            Err(err) => {
                tracing::debug!(error = %err, "websocket upgrade failed");
                return;
            }
        };
        let config = WebSocketConfig::default()
            .max_message_size(Some(socket.max_message_bytes))
            .max_frame_size(Some(socket.max_message_bytes));
        let client =
            WebSocketStream::from_raw_socket(TokioIo::new(client), Role::Server, Some(config))
                .await;
        let upstream =
            WebSocketStream::from_raw_socket(TokioIo::new(upstream), Role::Client, Some(config))
                .await;
        socket.metrics.websocket_opened(&socket.route);
        let end = relay(client, upstream, socket.deadline, shutdown.drained()).await;
        socket.metrics.websocket_closed(&socket.route, end.reason());
        tracing::debug!(route = %socket.route, reason = end.reason(), "websocket closed");
    }));
    let mut response = Response::new(Body::empty());
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    Ok(response)
}

type Stream = WebSocketStream<TokioIo<Upgraded>>;

/// One side of a relayed socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    Client,
    Upstream,
}

/// Why a relayed socket ended.
#[derive(Debug)]
enum End {
    /// `by` sent a close frame; the other side gets the same.
    Closed { by: Side, frame: Option<CloseFrame> },
    /// `side` broke the connection, sent what is not WebSocket, or a message over the limit.
    Failed { side: Side, too_big: bool },
    /// The token expired (plus grace).
    Expired,
    /// The proxy is stopping.
    Shutdown,
}

impl End {
    /// The metrics label of why it ended.
    fn reason(&self) -> &'static str {
        match self {
            Self::Closed {
                by: Side::Client, ..
            } => "client_closed",
            Self::Closed {
                by: Side::Upstream, ..
            } => "upstream_closed",
            Self::Failed { too_big: true, .. } => "message_too_big",
            Self::Failed {
                side: Side::Client, ..
            } => "client_failed",
            Self::Failed {
                side: Side::Upstream,
                ..
            } => "upstream_failed",
            Self::Expired => "token_expired",
            Self::Shutdown => "proxy_shutdown",
        }
    }

    /// The close frames still to send: to the client, to the upstream (`None`: nothing, that
    /// side closed or broke the connection itself).
    fn closes(&self) -> (Option<CloseFrame>, Option<CloseFrame>) {
        let close = |code: CloseCode, reason: &'static str| {
            Some(CloseFrame {
                code,
                reason: reason.into(),
            })
        };
        let too_big = close(CloseCode::Size, "message too big");
        match self {
            Self::Closed {
                by: Side::Client,
                frame,
            } => (None, frame.clone().or(close(CloseCode::Normal, ""))),
            Self::Closed {
                by: Side::Upstream,
                frame,
            } => (frame.clone().or(close(CloseCode::Normal, "")), None),
            Self::Failed {
                side: Side::Client,
                too_big: big,
            } => (
                if *big { too_big } else { None },
                close(CloseCode::Away, "client went away"),
            ),
            Self::Failed {
                side: Side::Upstream,
                too_big: big,
            } => (
                close(CloseCode::Error, "upstream connection failed"),
                if *big { too_big } else { None },
            ),
            Self::Expired => (
                close(CloseCode::Policy, EXPIRED_REASON),
                close(CloseCode::Policy, EXPIRED_REASON),
            ),
            Self::Shutdown => (
                close(CloseCode::Away, SHUTDOWN_REASON),
                close(CloseCode::Away, SHUTDOWN_REASON),
            ),
        }
    }
}

/// Relays messages both ways until one side closes or fails, `deadline` passes or `shutdown`
/// resolves; then closes the other side (or both) and waits at most [`CLOSE_WAIT`] for the
/// close handshakes.
async fn relay(
    client: Stream,
    upstream: Stream,
    deadline: Option<Instant>,
    shutdown: impl Future<Output = ()>,
) -> End {
    let (mut client_tx, mut client_rx) = client.split();
    let (mut upstream_tx, mut upstream_rx) = upstream.split();
    let expiry = async {
        match deadline {
            Some(deadline) => tokio::time::sleep_until(deadline).await,
            None => std::future::pending().await,
        }
    };
    let end = tokio::select! {
        end = pump(&mut client_rx, &mut upstream_tx, Side::Client) => end,
        end = pump(&mut upstream_rx, &mut client_tx, Side::Upstream) => end,
        () = expiry => End::Expired,
        () = shutdown => End::Shutdown,
    };
    let (to_client, to_upstream) = end.closes();
    let finish = async {
        tokio::join!(
            close(&mut client_tx, &mut client_rx, to_client),
            close(&mut upstream_tx, &mut upstream_rx, to_upstream),
        )
    };
    let _ = tokio::time::timeout(CLOSE_WAIT, finish).await;
    end
}

/// Forwards `from`'s messages (pings and pongs included) to `to` until `from` closes or either
/// fails; `side` is `from`'s.
async fn pump(
    from: &mut SplitStream<Stream>,
    to: &mut SplitSink<Stream, Message>,
    side: Side,
) -> End {
    let other = match side {
        Side::Client => Side::Upstream,
        Side::Upstream => Side::Client,
    };
    loop {
        let message = match from.next().await {
            Some(Ok(Message::Close(frame))) => return End::Closed { by: side, frame },
            Some(Ok(message)) => message,
            Some(Err(err)) => {
                let too_big = matches!(err, WsError::Capacity(_));
                return End::Failed { side, too_big };
            }
            None => {
                return End::Failed {
                    side,
                    too_big: false,
                };
            }
        };
        if to.send(message).await.is_err() {
            return End::Failed {
                side: other,
                too_big: false,
            };
        }
    }
}

/// Ends one side's closing handshake: sends `frame` and waits for the peer's close reply
/// (dropping what still arrives before it), or, with no `frame` (that side closed or failed
/// itself), flushes the reply its close frame queued. The connection is dropped after it,
/// without waiting for the peer to end the TCP connection.
async fn close(
    tx: &mut SplitSink<Stream, Message>,
    rx: &mut SplitStream<Stream>,
    frame: Option<CloseFrame>,
) {
    let Some(frame) = frame else {
        let _ = tx.close().await;
        return;
    };
    if tx.send(Message::Close(Some(frame))).await.is_err() {
        return;
    }
    while let Some(Ok(message)) = rx.next().await {
        if matches!(message, Message::Close(_)) {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;

    fn request(method: Method, connection: &str, upgrade: &str) -> Request<()> {
        let mut request = Request::builder()
            .method(method)
            .uri("/ws")
            .body(())
            .unwrap();
        let headers = request.headers_mut();
        headers.insert(header::CONNECTION, connection.parse().unwrap());
        headers.insert(header::UPGRADE, upgrade.parse().unwrap());
        request
    }

    #[test]
    fn only_http11_get_websocket_upgrades_are_switched() {
        assert!(is_upgrade(&request(
            Method::GET,
            "keep-alive, Upgrade",
            "WebSocket"
        )));
        assert!(!is_upgrade(&request(Method::POST, "upgrade", "websocket")));
        assert!(!is_upgrade(&request(
            Method::GET,
            "keep-alive",
            "websocket"
        )));
        assert!(!is_upgrade(&request(Method::GET, "upgrade", "h2c")));
        let mut http10 = request(Method::GET, "upgrade", "websocket");
        *http10.version_mut() = Version::HTTP_10;
        assert!(!is_upgrade(&http10));
    }

    #[test]
    fn handshakes_are_http1_upgrades_or_extended_connects_for_websocket() {
        let upgrade = request(Method::GET, "upgrade", "websocket");
        assert_eq!(handshake(&upgrade), Some(Handshake::Http1));
        let connect = |protocol: Option<&'static str>| {
            let mut request = Request::builder()
                .method(Method::CONNECT)
                .version(Version::HTTP_2)
                .uri("https://proxy.example/ws")
                .body(())
                .unwrap();
            if let Some(protocol) = protocol {
                request
                    .extensions_mut()
                    .insert(hyper::ext::Protocol::from_static(protocol));
            }
            request
        };
        assert_eq!(
            handshake(&connect(Some("websocket"))),
            Some(Handshake::Http2)
        );
        assert_eq!(
            handshake(&connect(Some("WebSocket"))),
            Some(Handshake::Http2)
        );
        assert_eq!(handshake(&connect(Some("connect-udp"))), None);
        assert_eq!(handshake(&connect(None)), None, "a plain CONNECT");
        assert_eq!(handshake(&request(Method::GET, "keep-alive", "")), None);
    }

    #[test]
    fn cookie_handshakes_come_from_the_same_origin_or_a_listed_one() {
        let listed = ["https://app.example".parse().unwrap()];
        // HTTP/1.1 names the host in `Host`, HTTP/2 in `:authority` (a `Host` field there
        // does not override it).
        let handshake = |http2: bool, origin: Option<&str>| {
            let builder = if http2 {
                Request::builder()
                    .version(Version::HTTP_2)
                    .uri("https://proxy.example:8443/ws")
                    .header(header::HOST, "evil.example")
            } else {
                Request::builder()
                    .uri("/ws")
                    .header(header::HOST, "proxy.example:8443")
            };
            let builder = match origin {
                Some(origin) => builder.header(header::ORIGIN, origin),
                None => builder,
            };
            origin_allowed(&builder.body(()).unwrap(), &listed)
        };
        for http2 in [false, true] {
            let with = |origin| handshake(http2, Some(origin));
            assert!(handshake(http2, None));
            assert!(with("https://proxy.example:8443"));
            assert!(with("https://app.example"));
            assert!(!with("https://evil.example"));
            assert!(!with("https://proxy.example"));
            assert!(!with("null"));
        }
    }

    #[test]
    fn forwarded_handshakes_offer_no_extension() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::SEC_WEBSOCKET_EXTENSIONS,
            "permessage-deflate".parse().unwrap(),
        );
        headers.insert(
            header::SEC_WEBSOCKET_KEY,
            "dGhlIHNhbXBsZSBub25jZQ==".parse().unwrap(),
        );
        assert_eq!(
            upgrade_request_headers(&mut headers, Handshake::Http1),
            None
        );
        assert!(!headers.contains_key(header::SEC_WEBSOCKET_EXTENSIONS));
        assert_eq!(headers[header::UPGRADE], "websocket");
        assert_eq!(headers[header::CONNECTION], "upgrade");
        assert_eq!(
            headers[header::SEC_WEBSOCKET_KEY],
            "dGhlIHNhbXBsZSBub25jZQ=="
        );
        // An HTTP/2 caller sends no key: the proxy's own, fresh each time, and version 13.
        let mut http2 = HeaderMap::new();
        let key = upgrade_request_headers(&mut http2, Handshake::Http2).expect("a key");
        assert_eq!(http2[header::SEC_WEBSOCKET_KEY], key.as_str());
        assert_eq!(http2[header::SEC_WEBSOCKET_VERSION], "13");
        assert_eq!(http2[header::UPGRADE], "websocket");
        let other = upgrade_request_headers(&mut HeaderMap::new(), Handshake::Http2);
        assert_ne!(other.as_deref(), Some(key.as_str()));
    }

    fn caller(claims: serde_json::Value) -> Caller {
        let serde_json::Value::Object(map) = claims else {
            panic!("claims are an object")
        };
        let token = jwtkit_verify::Validated {
            header: jwtkit_verify::Header {
                alg: jwtkit_keys::Algorithm::HS256,
                kid: None,
                typ: None,
            },
            claims: Arc::new(jwtkit_verify::Claims::from_map(map.into_iter().collect())),
            issuer: None,
        };
        Caller {
            token: Arc::new(token),
            raw: Arc::from("not a token"),
        }
    }

    #[test]
    fn the_deadline_is_exp_plus_grace_and_a_token_without_exp_closes_at_once() {
        let unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs() as f64;
        let grace = Lifetime::from_config(&WebSocketSection {
            close_at_expiry: true,
            grace_seconds: 30,
        });
        let in_100 = caller(serde_json::json!({"exp": unix + 100.0}));
        let left = grace.deadline(&in_100).unwrap() - Instant::now();
        assert!((128..=130).contains(&left.as_secs()), "{left:?}");
        let open = Lifetime::from_config(&WebSocketSection {
            close_at_expiry: false,
            grace_seconds: 0,
        });
        assert_eq!(open.deadline(&in_100), None);
        let now = Instant::now();
        for claims in [
            serde_json::json!({}),
            serde_json::json!({"exp": "soon"}),
            serde_json::json!({"exp": unix - 60.0}),
        ] {
            let deadline = grace.deadline(&caller(claims.clone())).unwrap();
            assert!(deadline <= Instant::now() && deadline >= now, "{claims}");
        }
        // Beyond what a clock holds: no deadline rather than a panic.
        assert_eq!(
            grace.deadline(&caller(serde_json::json!({"exp": 1e300}))),
            None
        );
    }

    #[test]
    fn expiry_closes_send_1008_both_ways_and_a_close_is_passed_on() {
        let (client, upstream) = End::Expired.closes();
        for frame in [client.unwrap(), upstream.unwrap()] {
            assert_eq!(u16::from(frame.code), 1008);
            assert_eq!(frame.reason.as_str(), EXPIRED_REASON);
        }
        let frame = CloseFrame {
            code: CloseCode::Library(4001),
            reason: "bye".into(),
        };
        let closed = End::Closed {
            by: Side::Upstream,
            frame: Some(frame.clone()),
        };
        assert_eq!(closed.closes(), (Some(frame), None));
    }
}
