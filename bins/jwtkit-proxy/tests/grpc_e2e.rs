//! gRPC through the proxy with a real tonic server and client (HTTP/2 both ways: h2c prior
//! knowledge from the client, `http2 = true` toward the server): unary, server- and
//! client-streaming calls, a stream that is never buffered, trailing metadata, refusals in gRPC form
//! (`UNAUTHENTICATED`, `PERMISSION_DENIED`, `UNAVAILABLE`), identity headers as metadata and the
//! caller's token not forwarded.
//!
//! The messages are written with prost's derive and the service with tonic's generic server
//! and client APIs: no protoc, no build script.

mod common;

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use common::*;
use serde_json::json;
use tokio::sync::{Notify, mpsc};
use tokio_stream::wrappers::{ReceiverStream, TcpListenerStream};
use tonic::metadata::MetadataMap;
use tonic::{Code, Request, Response, Status};
use tonic_prost::ProstCodec;

/// The request of both methods.
#[derive(Clone, PartialEq, prost::Message)]
struct Ask {
    #[prost(string, tag = "1")]
    text: String,
    #[prost(uint32, tag = "2")]
    count: u32,
}

/// What the server saw, sent back.
#[derive(Clone, PartialEq, prost::Message)]
struct Seen {
    #[prost(string, tag = "1")]
    text: String,
    /// The `x-user-id` metadata the server received ("" without).
    #[prost(string, tag = "2")]
    user: String,
    /// Whether any `authorization` metadata reached the server.
    #[prost(bool, tag = "3")]
    authorization: bool,
    #[prost(uint32, tag = "4")]
    index: u32,
}

const SAY: &str = "/test.Echo/Say";
const COUNT: &str = "/test.Echo/Count";
const JOIN: &str = "/test.Echo/Join";

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// The tonic service `test.Echo`: `Say` (unary) echoes, `Count` (server streaming) sends one
/// message, waits until the client has it (`release`), then the rest and a trailer
/// `x-checksum`; `Join` (client streaming) answers the texts it received, joined by `,`, with
/// their number as `index`.
#[derive(Clone)]
struct Echo {
    calls: Arc<AtomicUsize>,
    release: Arc<Notify>,
}

fn seen(metadata: &MetadataMap, text: &str, index: u32) -> Seen {
    Seen {
        text: text.to_owned(),
        user: metadata
            .get("x-user-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned(),
        authorization: metadata.get("authorization").is_some(),
        index,
    }
}

struct SayMethod;

impl tonic::server::UnaryService<Ask> for SayMethod {
    type Response = Seen;
    type Future = BoxFuture<Result<Response<Seen>, Status>>;

    fn call(&mut self, request: Request<Ask>) -> Self::Future {
        let answer = seen(request.metadata(), &request.get_ref().text, 0);
        Box::pin(async move { Ok(Response::new(answer)) })
    }
}

struct CountMethod(Arc<Notify>);

impl tonic::server::ServerStreamingService<Ask> for CountMethod {
    type Response = Seen;
    type ResponseStream = ReceiverStream<Result<Seen, Status>>;
    type Future = BoxFuture<Result<Response<Self::ResponseStream>, Status>>;

    fn call(&mut self, request: Request<Ask>) -> Self::Future {
        let release = self.0.clone();
        let (tx, rx) = mpsc::channel(4);
        let ask = request.get_ref().clone();
        let metadata = request.metadata().clone();
        tokio::spawn(async move {
            let _ = tx.send(Ok(seen(&metadata, &ask.text, 0))).await;
            // The rest only once the client holds the first message: a proxy that buffered
            // the stream would never deliver it, and the call would end in this error.
            if tokio::time::timeout(Duration::from_secs(10), release.notified())
                .await
                .is_err()
            {
                let _ = tx
                    .send(Err(Status::aborted("the first message was not delivered")))
                    .await;
                return;
            }
            for index in 1..ask.count {
                let _ = tx.send(Ok(seen(&metadata, &ask.text, index))).await;
            }
            // A status OK with metadata ends the stream: its metadata are trailers.
            let mut trailers = MetadataMap::new();
            trailers.insert("x-checksum", ask.count.to_string().parse().unwrap());
            let _ = tx
                .send(Err(Status::with_metadata(Code::Ok, "", trailers)))
                .await;
        });
        Box::pin(async move { Ok(Response::new(ReceiverStream::new(rx))) })
    }
}

async fn join(request: Request<tonic::Streaming<Ask>>) -> Result<Response<Seen>, Status> {
    let metadata = request.metadata().clone();
    let mut stream = request.into_inner();
    let mut texts = Vec::new();
    while let Some(ask) = stream.message().await? {
        texts.push(ask.text);
    }
    let count = u32::try_from(texts.len()).unwrap();
    Ok(Response::new(seen(&metadata, &texts.join(","), count)))
}

impl<B> tower::Service<http::Request<B>> for Echo
where
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let release = self.release.clone();
        Box::pin(async move {
            let mut grpc = tonic::server::Grpc::new(ProstCodec::<Seen, Ask>::default());
            Ok(match request.uri().path() {
                SAY => grpc.unary(SayMethod, request).await,
                COUNT => grpc.server_streaming(CountMethod(release), request).await,
                JOIN => {
                    grpc.client_streaming(tower::service_fn(join), request)
                        .await
                }
                _ => Status::unimplemented("no such method").into_http(),
            })
        })
    }
}

impl tonic::server::NamedService for Echo {
    const NAME: &'static str = "test.Echo";
}

/// A running tonic server on 127.0.0.1 (stops with the test's runtime).
struct Server {
    port: u16,
    calls: Arc<AtomicUsize>,
    release: Arc<Notify>,
}

async fn start_server() -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the gRPC server");
    let port = listener.local_addr().unwrap().port();
    let echo = Echo {
        calls: Arc::new(AtomicUsize::new(0)),
        release: Arc::new(Notify::new()),
    };
    let server = Server {
        port,
        calls: echo.calls.clone(),
        release: echo.release.clone(),
    };
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(echo)
            .serve_with_incoming(TcpListenerStream::new(listener)),
    );
    server
}

/// The proxy in front of `server`: route `/test.Echo` (callers with `role = "reader"`) to it
/// over HTTP/2 with `X-User-Id` from `sub`; route `/test.Down` to an HTTP/2 upstream that is not
/// listening; `top` holds more top-level tables (e.g. `[limits]`).
async fn proxy_for(server: &Server, top: &str) -> Proxy {
    let toml = format!(
        r#"
{HS_ISSUER_TOML}
[[upstreams]]
name = "grpc"
url = "http://127.0.0.1:{}"
http2 = true
timeout_seconds = 15
identity_headers = {{ "X-User-Id" = "sub" }}

[[upstreams]]
name = "down"
url = "http://127.0.0.1:{}"
http2 = true

[[routes]]
prefix = "/test.Echo"
upstream = "grpc"
require_claims = {{ role = "reader" }}

[[routes]]
prefix = "/test.Down"
upstream = "down"
{top}
"#,
        server.port,
        closed_port()
    );
    Proxy::with_toml(&toml, &[]).await
}

/// A tonic client of the proxy (HTTP/2 prior knowledge, as tonic speaks to `http://`).
async fn client_of(proxy: &Proxy) -> tonic::client::Grpc<tonic::transport::Channel> {
    let channel = tonic::transport::Endpoint::from_shared(proxy.url(""))
        .unwrap()
        .timeout(Duration::from_secs(30))
        .connect()
        .await
        .expect("connect to the proxy");
    tonic::client::Grpc::new(channel)
}

fn ask(text: &str, count: u32, token: Option<&str>) -> Request<Ask> {
    let mut request = Request::new(Ask {
        text: text.to_owned(),
        count,
    });
    if let Some(token) = token {
        request
            .metadata_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
    }
    request
}

async fn say(proxy: &Proxy, path: &'static str, token: Option<&str>) -> Result<Seen, Status> {
    say_text(proxy, path, token, "hello").await
}

async fn say_text(
    proxy: &Proxy,
    path: &'static str,
    token: Option<&str>,
    text: &str,
) -> Result<Seen, Status> {
    let mut grpc = client_of(proxy).await;
    grpc.ready().await.expect("channel ready");
    grpc.unary(
        ask(text, 0, token),
        http::uri::PathAndQuery::from_static(path),
        ProstCodec::<Ask, Seen>::default(),
    )
    .await
    .map(Response::into_inner)
}

fn reader(sub: &str) -> String {
    hs_token(sub, json!({"role": "reader"}))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unary_call_passes_with_identity_metadata_and_without_the_callers_token() {
    let server = start_server().await;
    let proxy = proxy_for(&server, "").await;
    let seen = say(&proxy, SAY, Some(&reader("alice")))
        .await
        .expect("the call succeeds");
    assert_eq!(seen.text, "hello");
    assert_eq!(seen.user, "alice", "X-User-Id from the token's sub");
    assert!(
        !seen.authorization,
        "the upstream has no credentials configured: the caller's token must not reach it"
    );
    assert_eq!(server.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_stream_is_passed_as_it_comes_with_its_trailers() {
    let server = start_server().await;
    let proxy = proxy_for(&server, "").await;
    let mut grpc = client_of(&proxy).await;
    grpc.ready().await.unwrap();
    let mut stream = grpc
        .server_streaming(
            ask("tick", 5, Some(&reader("bob"))),
            http::uri::PathAndQuery::from_static(COUNT),
            ProstCodec::<Ask, Seen>::default(),
        )
        .await
        .expect("the stream starts")
        .into_inner();
    // The server holds back the rest until this first message arrived through the proxy.
    let first = tokio::time::timeout(Duration::from_secs(5), stream.message())
        .await
        .expect("the first message arrives while the stream is still open")
        .expect("first message")
        .expect("a message, not the end");
    assert_eq!((first.index, first.user.as_str()), (0, "bob"));
    server.release.notify_one();
    let mut indexes = vec![first.index];
    while let Some(seen) = stream.message().await.expect("the rest of the stream") {
        indexes.push(seen.index);
    }
    assert_eq!(indexes, [0, 1, 2, 3, 4]);
    let trailers = stream
        .trailers()
        .await
        .expect("trailers")
        .expect("the stream ends with trailers");
    assert_eq!(
        trailers.get("x-checksum").and_then(|v| v.to_str().ok()),
        Some("5"),
        "the server's trailing metadata reaches the client"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_without_a_valid_token_are_unauthenticated_and_never_reach_the_server() {
    let server = start_server().await;
    let proxy = proxy_for(&server, "").await;
    let missing = say(&proxy, SAY, None).await.unwrap_err();
    assert_eq!(missing.code(), Code::Unauthenticated, "{missing:?}");
    assert!(
        missing.message().starts_with("missing_token: "),
        "{missing:?}"
    );
    assert_eq!(
        missing
            .metadata()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok()),
        Some("Bearer")
    );
    let expired = say(&proxy, SAY, Some(&expired_hs_token("alice")))
        .await
        .unwrap_err();
    assert_eq!(expired.code(), Code::Unauthenticated, "{expired:?}");
    assert!(expired.message().starts_with("expired: "), "{expired:?}");
    assert_eq!(server.calls.load(Ordering::SeqCst), 0);
    // Counted with the HTTP status of the refusal, as every other 401.
    let metrics = metrics_text(&proxy).await;
    assert!(
        metrics.contains(r#"jwtkit_proxy_requests_total{route="/test.Echo",status="401"} 2"#),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_failing_the_routes_rule_is_permission_denied() {
    let server = start_server().await;
    let proxy = proxy_for(&server, "").await;
    let writer = hs_token("carol", json!({"role": "writer"}));
    let denied = say(&proxy, SAY, Some(&writer)).await.unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied, "{denied:?}");
    assert!(
        denied.message().starts_with("insufficient_scope: ") && denied.message().contains("role"),
        "the message names the rule: {denied:?}"
    );
    assert_eq!(server.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_upstream_is_unavailable() {
    let server = start_server().await;
    let proxy = proxy_for(&server, "").await;
    let down = say(&proxy, "/test.Down/Say", Some(&reader("alice")))
        .await
        .unwrap_err();
    assert_eq!(down.code(), Code::Unavailable, "{down:?}");
    assert!(
        down.message().starts_with("upstream_unreachable: "),
        "{down:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_over_max_body_bytes_is_resource_exhausted() {
    let server = start_server().await;
    let proxy = proxy_for(&server, "[limits]\nmax_body_bytes = 1024\n").await;
    let small = say_text(&proxy, SAY, Some(&reader("alice")), "fits").await;
    assert_eq!(small.expect("a small call passes").text, "fits");
    let big = "x".repeat(64 * 1024);
    let refused = say_text(&proxy, SAY, Some(&reader("alice")), &big)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    assert!(
        refused.message().starts_with("body_too_large: "),
        "{refused:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_stream_reaches_the_server_whole() {
    let server = start_server().await;
    let proxy = proxy_for(&server, "").await;
    let mut grpc = client_of(&proxy).await;
    grpc.ready().await.unwrap();
    let messages = ["a", "b", "c"].map(|text| Ask {
        text: text.to_owned(),
        count: 0,
    });
    let mut request = Request::new(tokio_stream::iter(messages));
    let token = format!("Bearer {}", reader("dave"));
    request
        .metadata_mut()
        .insert("authorization", token.parse().unwrap());
    let seen = grpc
        .client_streaming(
            request,
            http::uri::PathAndQuery::from_static(JOIN),
            ProstCodec::<Ask, Seen>::default(),
        )
        .await
        .expect("the call succeeds")
        .into_inner();
    assert_eq!((seen.text.as_str(), seen.index), ("a,b,c", 3));
    assert_eq!(seen.user, "dave");
}
