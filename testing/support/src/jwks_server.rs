//! A JWK Set served over HTTP on 127.0.0.1 by the test process itself, for tests that need to
//! change what is served (remove a key, publish an `oct` key, fail) and count the fetches on the
//! server side. No Node, no subprocess: it runs as a task on the test's tokio runtime and stops
//! when the [`JwksServer`] is dropped or the runtime ends. [`JwksServer::start_tls`] serves the
//! same over https with a certificate of the test's own CA ([`crate::tls`]).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

struct Served {
    body: String,
    status: u16,
    cache_control: Option<String>,
    delay: Duration,
    requests: u64,
    /// The discovery document served at `/.well-known/openid-configuration`, if any.
    discovery: Option<String>,
}

/// A JWKS endpoint: every GET (any path but the discovery document's, once
/// [`JwksServer::set_discovery_issuer`] is called) answers the current document, status and
/// `Cache-Control`, after the current delay, and is counted.
pub struct JwksServer {
    served: Arc<Mutex<Served>>,
    /// `http://127.0.0.1:PORT/jwks` (`https://` from [`JwksServer::start_tls`]).
    pub url: String,
    task: JoinHandle<()>,
}

fn lock(served: &Mutex<Served>) -> std::sync::MutexGuard<'_, Served> {
    served.lock().unwrap_or_else(|p| p.into_inner())
}

impl JwksServer {
    /// Serves `document` with status 200 and no `Cache-Control`. Needs a tokio runtime.
    pub async fn start(document: &Value) -> Self {
        Self::serve(document, None).await
    }

    /// Serves `document` over TLS with `config` (a [`crate::tls::Leaf::server_config`]); a client
    /// that fails the handshake gets no answer and is not counted.
    pub async fn start_tls(document: &Value, config: Arc<rustls::ServerConfig>) -> Self {
        Self::serve(document, Some(tokio_rustls::TlsAcceptor::from(config))).await
    }

    async fn serve(document: &Value, tls: Option<tokio_rustls::TlsAcceptor>) -> Self {
        let scheme = if tls.is_some() { "https" } else { "http" };
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1");
        let port = listener.local_addr().expect("local address").port();
        let served = Arc::new(Mutex::new(Served {
            body: document.to_string(),
            status: 200,
            cache_control: None,
            delay: Duration::ZERO,
            requests: 0,
            discovery: None,
        }));
        let task = tokio::spawn({
            let served = served.clone();
            async move {
                while let Ok((stream, _)) = listener.accept().await {
                    let served = served.clone();
                    match &tls {
                        None => drop(tokio::spawn(answer(stream, served))),
                        Some(acceptor) => {
                            let accept = acceptor.accept(stream);
                            tokio::spawn(async move {
                                if let Ok(stream) = accept.await {
                                    answer(stream, served).await;
                                }
                            });
                        }
                    }
                }
            }
        });
        Self {
            served,
            url: format!("{scheme}://127.0.0.1:{port}/jwks"),
            task,
        }
    }

    /// Serves `document` from now on.
    pub fn set_document(&self, document: &Value) {
        lock(&self.served).body = document.to_string();
    }

    /// Answers `status` from now on (200 restores).
    pub fn set_status(&self, status: u16) {
        lock(&self.served).status = status;
    }

    /// Sends this `Cache-Control` from now on (`None`: no header).
    pub fn set_cache_control(&self, value: Option<&str>) {
        lock(&self.served).cache_control = value.map(str::to_owned);
    }

    /// Waits this long before each answer from now on.
    pub fn set_delay(&self, delay: Duration) {
        lock(&self.served).delay = delay;
    }

    /// Also serves an OpenID discovery document declaring `issuer` and this server's JWKS URL at
    /// `/.well-known/openid-configuration` (any prefix).
    pub fn set_discovery_issuer(&self, issuer: &str) {
        let document = serde_json::json!({ "issuer": issuer, "jwks_uri": self.url });
        lock(&self.served).discovery = Some(document.to_string());
    }

    /// The URL discovery starts from: the server's root.
    pub fn base_url(&self) -> &str {
        self.url.trim_end_matches("/jwks")
    }

    /// Requests received so far (counted when the request has been read, before the delay).
    pub fn requests(&self) -> u64 {
        lock(&self.served).requests
    }
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn answer<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, served: Arc<Mutex<Served>>) {
    // One request per connection (`Connection: close`): read up to the end of the head.
    let mut head = Vec::new();
    let mut buffer = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buffer[..n]),
        }
        if head.len() > 16 * 1024 {
            return;
        }
    }
    let target = head
        .split(|b| *b == b' ')
        .nth(1)
        .map(|t| String::from_utf8_lossy(t).into_owned())
        .unwrap_or_default();
    let (body, status, cache_control, delay) = {
        let mut served = lock(&served);
        served.requests += 1;
        let discovery = served
            .discovery
            .clone()
            .filter(|_| target.ends_with("/.well-known/openid-configuration"));
        (
            discovery.unwrap_or_else(|| served.body.clone()),
            served.status,
            served.cache_control.clone(),
            served.delay,
        )
    };
    tokio::time::sleep(delay).await;
    let body = if status == 200 {
        body
    } else {
        format!("{{\"error\":\"status {status}\"}}")
    };
    let cache_control = cache_control
        .map(|value| format!("cache-control: {value}\r\n"))
        .unwrap_or_default();
    let response = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n{cache_control}connection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}
