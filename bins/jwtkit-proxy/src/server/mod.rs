//! The listener: a TCP accept loop serving HTTP/1.1 and HTTP/2 on one port (h2c by prior
//! knowledge on plain TCP, ALPN `h2`/`http/1.1` under TLS), with hyper upgrades (WebSocket)
//! and graceful shutdown: after the signal nothing new is accepted and requests in flight
//! finish.
//!
//! Each request is answered by the [`Front`] current when it arrives, loaded from a
//! [`SharedRouter`] (a reload stores a new one; a request already running keeps the one it
//! started with). It gets the peer's address and whether the connection is TLS; a request
//! that goes through the axum router sees them as `ConnectInfo<SocketAddr>` and the
//! [`Secure`] extension.
//!
//! - [`drain`]: graceful shutdown of the connections.
//! - [`tls`]: the certificate, its loading and the rustls acceptor.

pub mod drain;
pub mod tls;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use crate::forward::Peer;
use crate::front::{Front, ResponseFuture};
use drain::{Drain, Watcher};

/// What answers new requests; a reload replaces it with [`ArcSwap::store`].
pub type SharedRouter = Arc<ArcSwap<Front>>;

/// The proxy's Tokio runtime: one worker thread per core, I/O and timers on.
///
/// Built with `--cfg tokio_unstable` (the workspace's `.cargo/config.toml`), it also turns off
/// the "LIFO slot", through which a task woken by another runs next on the same worker: each
/// proxied request wakes the upstream connection's task and is woken back by it, so with the
/// slot a request's tasks stay on the worker that took it while the other has nothing to steal.
/// Without it, 8-10% more requests per second in `bash scripts/bench-proxy.sh` on two cores
/// (docs/PERFORMANCE.md).
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all();
    #[cfg(tokio_unstable)]
    builder.disable_lifo_slot();
    builder.build()
}

/// Request extension: the request came over a TLS connection of the listener.
#[derive(Clone, Copy, Debug)]
pub struct Secure;

/// A handshake not finished by then is dropped, so a silent client cannot hold a task forever.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The accept loop over a bound listener.
pub struct Server {
    listener: TcpListener,
    router: SharedRouter,
    tls: Option<TlsAcceptor>,
    drain: Drain,
}

impl Server {
    /// Serves `router` on `listener`, over TLS when `tls` is given; `drain` watches its
    /// connections (and, through its clones, what else must end with them).
    pub fn new(
        listener: TcpListener,
        router: SharedRouter,
        tls: Option<TlsAcceptor>,
        drain: Drain,
    ) -> Self {
        Self {
            listener,
            router,
            tls,
            drain,
        }
    }

    /// Accepts connections until `shutdown` resolves, then drains: the open connections
    /// finish their requests in flight, relayed WebSockets are closed, and this returns when
    /// all have ended.
    pub async fn serve(self, shutdown: impl Future<Output = ()>) {
        let mut builder = Builder::new(TokioExecutor::new());
        // As axum::serve: HTTP/2 extended CONNECT (RFC 8441) for WebSocket over HTTP/2.
        builder.http2().enable_connect_protocol();
        let drain = self.drain;
        tokio::pin!(shutdown);
        loop {
            let (stream, peer) = tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(err) => {
                        accept_failed(err).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            // Answers are written whole by hyper; Nagle's delay would only add latency.
            let _ = stream.set_nodelay(true);
            let service = PerConnection {
                router: self.router.clone(),
                peer: Peer::new(Some(peer), self.tls.is_some()),
            };
            match &self.tls {
                None => {
                    let connection = builder
                        .serve_connection_with_upgrades(TokioIo::new(stream), service)
                        .into_owned();
                    let connection = drain.watcher().watch(connection);
                    tokio::spawn(drain.track(async move {
                        if let Err(err) = connection.await {
                            tracing::debug!(%peer, "connection ended: {err}");
                        }
                    }));
                }
                Some(acceptor) => {
                    let connection = TlsConnection {
                        acceptor: acceptor.clone(),
                        builder: builder.clone(),
                        watcher: drain.watcher(),
                    };
                    tokio::spawn(drain.track(connection.serve(stream, peer, service)));
                }
            }
        }
        drop(self.listener);
        drain.drain().await;
    }
}

/// One TLS connection: the handshake in the connection's own task, then HTTP as on plain TCP.
struct TlsConnection {
    acceptor: TlsAcceptor,
    builder: Builder<TokioExecutor>,
    watcher: Watcher,
}

impl TlsConnection {
    async fn serve(self, stream: TcpStream, peer: SocketAddr, service: PerConnection) {
        let stream =
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, self.acceptor.accept(stream)).await {
                Ok(Ok(stream)) => stream,
                Ok(Err(err)) => {
                    tracing::debug!(%peer, "TLS handshake failed: {err}");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%peer, "TLS handshake timed out");
                    return;
                }
            };
        let connection = self
            .builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service);
        if let Err(err) = self.watcher.watch(connection).await {
            tracing::debug!(%peer, "connection ended: {err}");
        }
    }
}

/// Waits out an accept error as axum::serve does: a connection that failed before it was
/// accepted is skipped; anything else (no file descriptors left) pauses accepting for a second.
async fn accept_failed(err: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        err.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    ) {
        return;
    }
    tracing::error!("accept failed: {err}; retrying in 1 s");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// The hyper service of one connection: each request goes, with the peer address and whether
/// the connection is TLS, to the [`Front`] current at its arrival.
#[derive(Clone)]
struct PerConnection {
    router: SharedRouter,
    peer: Peer,
}

impl hyper::service::Service<hyper::Request<Incoming>> for PerConnection {
    type Response = axum::response::Response;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn call(&self, request: hyper::Request<Incoming>) -> Self::Future {
        // One atomic load and one reference count: no lock, no allocation.
        self.router.load_full().call(request, self.peer.clone())
    }
}
