//! A yardstick for `scripts/bench-proxy.sh`: the smallest forwarder on the HTTP stack the proxy
//! uses (hyper's HTTP/1 server and hyper-util's pooled client on a multi-threaded Tokio
//! runtime), with no authentication, no router and no header handling. What it costs per
//! request is what the proxy's stack costs before jwtkit does anything.
//!
//! ```sh
//! cargo run --release -p bare-forwarder -- 127.0.0.1:9000 127.0.0.1:8080
//! ```
//! listens on the first address (loopback only) and forwards every request to the second.

use std::net::SocketAddr;

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: bare_forwarder LISTEN_ADDR UPSTREAM_ADDR (both 127.0.0.1:PORT)";
    let listen: SocketAddr = args.next().ok_or(usage)?.parse()?;
    let upstream: SocketAddr = args.next().ok_or(usage)?.parse()?;
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
        tokio::spawn(async move {
            let service = service_fn(move |mut request: Request<Incoming>| {
                let client = client.clone();
                async move {
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
                    client.request(request).await
                }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
