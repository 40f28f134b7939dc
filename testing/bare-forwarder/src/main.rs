//! A yardstick for `scripts/bench-proxy.sh`: the smallest forwarder on the HTTP stack the proxy
//! uses (hyper's HTTP/1 server and hyper-util's pooled client on a multi-threaded Tokio
//! runtime), with no authentication, no router and no header handling. What it costs per
//! request is what the proxy's stack costs before jwtkit does anything.
//!
//! ```sh
//! cargo run --release -p bare-forwarder -- 127.0.0.1:9000 127.0.0.1:8080 [--like-proxy]
//! ```
//! listens on the first address (loopback only) and forwards every request to the second.
//!
//! `--like-proxy` adds the two parts of the proxy's stack that every request pays for whatever
//! the proxy does with it: the listener serves HTTP/1.1 and HTTP/2 (h2c) on the same port, with
//! upgrades (hyper-util's `auto` builder, which reads each connection through a rewind buffer),
//! and the wait for the upstream's answer head is bounded by a timer (`timeout_seconds`).
//! `scripts/proxy-instructions.sh` counts both forms, so the cost of these features is told
//! apart from the cost of jwtkit's own work.
//!
//! It allocates with mimalloc and schedules without Tokio's LIFO slot, as the proxy does
//! (`jwtkit_proxy::server::runtime`): the yardstick differs from the proxy only by what jwtkit
//! does with a request.

use std::net::SocketAddr;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The proxy's default `timeout_seconds`.
const HEAD_TIMEOUT: Duration = Duration::from_secs(30);

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The proxy's runtime settings (`jwtkit_proxy::server::runtime`).
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all();
    #[cfg(tokio_unstable)]
    builder.disable_lifo_slot();
    builder.build()?.block_on(serve())
}

async fn serve() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage =
        "usage: bare_forwarder LISTEN_ADDR UPSTREAM_ADDR [--like-proxy] (addresses 127.0.0.1:PORT)";
    let listen: SocketAddr = args.next().ok_or(usage)?.parse()?;
    let upstream: SocketAddr = args.next().ok_or(usage)?.parse()?;
    let like_proxy = match args.next().as_deref() {
        None => false,
        Some("--like-proxy") => true,
        Some(_) => return Err(usage.into()),
    };
    if !listen.ip().is_loopback() {
        return Err("the yardstick listens on loopback only".into());
    }
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client: Client<HttpConnector, Incoming> =
        Client::builder(TokioExecutor::new()).build(connector);
    let listener = TcpListener::bind(listen).await?;
    println!("listening on {}", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        let client = client.clone();
        let io = TokioIo::new(stream);
        if like_proxy {
            let service = service_fn(move |request: Request<Incoming>| {
                let client = client.clone();
                async move {
                    let request = to_upstream(request, upstream);
                    match tokio::time::timeout(HEAD_TIMEOUT, client.request(request)).await {
                        Ok(Ok(response)) => Ok(response),
                        Ok(Err(err)) => Err(Failed::Upstream(err)),
                        Err(_) => Err(Failed::TimedOut),
                    }
                }
            });
            let connection = auto::Builder::new(TokioExecutor::new())
                .serve_connection_with_upgrades(io, service)
                .into_owned();
            tokio::spawn(async move {
                let _ = connection.await;
            });
        } else {
            tokio::spawn(async move {
                let service = service_fn(move |request| {
                    let client = client.clone();
                    async move { client.request(to_upstream(request, upstream)).await }
                });
                let _ = http1::Builder::new().serve_connection(io, service).await;
            });
        }
    }
}

/// `request` aimed at `upstream`, with its path and query.
fn to_upstream(mut request: Request<Incoming>, upstream: SocketAddr) -> Request<Incoming> {
    let path = request
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    *request.uri_mut() = Uri::builder()
        .scheme("http")
        .authority(upstream.to_string())
        .path_and_query(path)
        .build()
        .expect("an address and a path make a URI");
    request
}

/// Why a request got no upstream answer.
#[derive(Debug)]
enum Failed {
    Upstream(hyper_util::client::legacy::Error),
    /// The upstream's answer head did not come within [`HEAD_TIMEOUT`].
    TimedOut,
}

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Upstream(err) => write!(f, "upstream: {err}"),
            Self::TimedOut => f.write_str("the upstream did not answer in time"),
        }
    }
}

impl std::error::Error for Failed {}
