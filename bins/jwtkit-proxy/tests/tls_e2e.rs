//! The HTTPS listener (`[tls]`): certificates generated here (`jwtkit_testsupport::tls`: one CA,
//! leaves for 127.0.0.1, client certificates of other CAs), the real binary, real clients
//! (reqwest trusting the CA, with and without a client certificate; a rustls + hyper client
//! holding one connection open while the certificate files are replaced).

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;
use jwtkit_testsupport::tls::{Leaf, TestCa};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::Value;

/// The DER form of the first certificate in `pem`.
fn der(pem: &str) -> CertificateDer<'static> {
    CertificateDer::from_pem_slice(pem.as_bytes()).expect("certificate PEM")
}

/// Writes `leaf` as `tls.crt` and `tls.key` in `dir`, each replaced by a rename (as a writer
/// that knows better than to leave a half-written file).
fn install(dir: &Path, leaf: &Leaf) -> (PathBuf, PathBuf) {
    let cert = dir.join("tls.crt");
    let key = dir.join("tls.key");
    for (path, text) in [(&key, &leaf.key_pem), (&cert, &leaf.cert_pem)] {
        let temporary = path.with_extension("new");
        std::fs::write(&temporary, text).expect("write");
        std::fs::rename(&temporary, path).expect("rename");
    }
    (cert, key)
}

fn tls_toml(echo: &RawEcho, cert: &Path, key: &Path) -> String {
    echo_toml(
        "",
        &echo.url(),
        &format!(
            r#"
[[routes]]
prefix = "/t"
upstream = "echo"
strip_prefix = true

[tls]
cert_file = "{}"
key_file = "{}"
"#,
            cert.display(),
            key.display()
        ),
    )
}

/// A reqwest client that trusts only `ca`.
fn https_client(ca: &TestCa) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .no_proxy()
        .tls_certs_only([reqwest::Certificate::from_pem(ca.cert_pem.as_bytes()).expect("CA pem")])
        .timeout(Duration::from_secs(30))
}

fn header<'a>(echoed: &'a Value, name: &str) -> Option<&'a str> {
    echoed["headers"]
        .as_array()?
        .iter()
        .find(|pair| {
            pair[0]
                .as_str()
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        })
        .and_then(|pair| pair[1].as_str())
}

#[tokio::test]
async fn https_serves_http1_and_http2_by_alpn_and_forwards_proto_https() {
    let ca = TestCa::new("jwtkit test CA");
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = install(dir.path(), &ca.server());
    let echo = RawEcho::start().await;
    let proxy = Proxy::with_toml(&tls_toml(&echo, &cert, &key), &[]).await;
    assert_eq!(proxy.scheme, "https");
    let token = hs_token("alice", Value::Null);

    let h2 = https_client(&ca).build().unwrap();
    let response = h2
        .get(proxy.url("/t/x"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("HTTPS request");
    assert_eq!(response.version(), reqwest::Version::HTTP_2, "ALPN h2");
    let reply = Reply::of(response).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(header(&reply.json, "x-forwarded-proto"), Some("https"));

    let h1 = https_client(&ca).http1_only().build().unwrap();
    let response = h1
        .get(proxy.url("/health"))
        .send()
        .await
        .expect("HTTPS request");
    assert_eq!(response.version(), reqwest::Version::HTTP_11);
    assert_eq!(response.status(), 200);

    // Plain HTTP on the TLS port is not served.
    let plain = client()
        .get(format!("http://{}/health", proxy.addr))
        .send()
        .await;
    assert!(
        plain.is_err() || plain.unwrap().status() != 200,
        "plain HTTP answered"
    );
}

#[tokio::test]
async fn plain_listener_speaks_h2c_by_prior_knowledge_and_forwards_proto_http() {
    let echo = RawEcho::start().await;
    let toml = echo_toml(
        "",
        &echo.url(),
        "[[routes]]\nprefix = \"/t\"\nupstream = \"echo\"\nstrip_prefix = true\n",
    );
    let proxy = Proxy::with_toml(&toml, &[]).await;
    let h2c = reqwest::Client::builder()
        .no_proxy()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let response = h2c
        .get(proxy.url("/t/x"))
        .bearer_auth(hs_token("alice", Value::Null))
        .send()
        .await
        .expect("h2c request");
    assert_eq!(response.version(), reqwest::Version::HTTP_2);
    let reply = Reply::of(response).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(header(&reply.json, "x-forwarded-proto"), Some("http"));
}

#[test]
fn start_is_refused_with_a_key_of_another_certificate_or_a_missing_file() {
    let ca = TestCa::new("jwtkit test CA");
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = install(dir.path(), &ca.server());
    // The key of another leaf.
    std::fs::write(&key, ca.server().key_pem).unwrap();
    let toml = |cert: &Path, key: &Path| {
        format!(
            "{HS_ISSUER_TOML}\n[tls]\ncert_file = \"{}\"\nkey_file = \"{}\"\n",
            cert.display(),
            key.display()
        )
    };
    let exit = refused(
        Some(&toml(&cert, &key)),
        &[("JWT_SECRET_KEY", HS_SECRET)],
        "tls.key_file",
    );
    assert!(exit.stderr.contains("does not belong"), "{}", exit.stderr);
    refused(
        Some(&toml(&dir.path().join("missing.crt"), &key)),
        &[("JWT_SECRET_KEY", HS_SECRET)],
        "tls.cert_file",
    );
    std::fs::write(&key, "not a key\n").unwrap();
    let exit = refused(
        Some(&toml(&cert, &key)),
        &[("JWT_SECRET_KEY", HS_SECRET)],
        "tls.key_file",
    );
    assert!(!exit.stderr.contains("not a key"), "{}", exit.stderr);

    // --check-config reads them too.
    let path = dir.path().join("proxy.toml");
    std::fs::write(&path, toml(&cert, &key)).unwrap();
    let exit = run_args_to_exit(
        &["--check-config", path.to_str().unwrap()],
        &[("JWT_SECRET_KEY", HS_SECRET)],
    );
    assert_refused(&exit, "tls.key_file");
}

#[test]
fn start_is_refused_with_an_unreadable_client_ca_or_client_auth_without_one() {
    let ca = TestCa::new("jwtkit test CA");
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = install(dir.path(), &ca.server());
    let toml = |extra: &str| {
        format!(
            "{HS_ISSUER_TOML}\n[tls]\ncert_file = \"{}\"\nkey_file = \"{}\"\n{extra}",
            cert.display(),
            key.display()
        )
    };
    let hs = [("JWT_SECRET_KEY", HS_SECRET)];
    refused(
        Some(&toml("client_auth = \"optional\"\n")),
        &hs,
        "tls.client_auth",
    );
    refused(
        Some(&toml("client_auth = \"sometimes\"\n")),
        &hs,
        "tls.client_auth",
    );
    let missing = dir.path().join("missing-ca.pem");
    refused(
        Some(&toml(&format!(
            "client_ca_file = \"{}\"\n",
            missing.display()
        ))),
        &hs,
        "tls.client_ca_file",
    );
    let not_pem = dir.path().join("not-a-ca.pem");
    std::fs::write(&not_pem, "not a certificate\n").unwrap();
    refused(
        Some(&toml(&format!(
            "client_ca_file = \"{}\"\n",
            not_pem.display()
        ))),
        &hs,
        "tls.client_ca_file",
    );
}

/// A client that trusts `ca` and, with `identity`, presents that client certificate; a new
/// client each time, so each check is a new handshake.
fn mtls_client(ca: &TestCa, identity: Option<&Leaf>) -> reqwest::Client {
    let mut builder = https_client(ca);
    if let Some(leaf) = identity {
        let pem = format!("{}{}", leaf.cert_pem, leaf.key_pem);
        builder = builder.identity(reqwest::Identity::from_pem(pem.as_bytes()).expect("identity"));
    }
    builder.build().expect("client")
}

/// `GET /t/x` with a valid token over a new connection: the status, or the error's text
/// (the handshake refused).
async fn mtls_get(proxy: &Proxy, ca: &TestCa, identity: Option<&Leaf>) -> Result<u16, String> {
    mtls_client(ca, identity)
        .get(proxy.url("/t/x"))
        .bearer_auth(hs_token("alice", Value::Null))
        .send()
        .await
        .map(|response| response.status().as_u16())
        .map_err(|err| format!("{err:?}"))
}

/// A proxy on TLS that asks for client certificates of `callers` (`client_ca_file`, and
/// `extra` lines in `[tls]`); `others` issues certificates it does not take.
struct MtlsStack {
    ca: TestCa,
    callers: TestCa,
    others: TestCa,
    client_ca: PathBuf,
    proxy: Proxy,
    _echo: RawEcho,
    _dir: tempfile::TempDir,
}

async fn mtls_stack(extra: &str) -> MtlsStack {
    let ca = TestCa::new("jwtkit test CA");
    let callers = TestCa::new("callers CA");
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = install(dir.path(), &ca.server());
    let client_ca = callers.write(dir.path(), "clients.pem");
    let echo = RawEcho::start().await;
    let toml = format!(
        "{}client_ca_file = \"{}\"\n{extra}",
        tls_toml(&echo, &cert, &key),
        client_ca.display()
    );
    let proxy = Proxy::with_toml(&toml, &[]).await;
    MtlsStack {
        ca,
        callers,
        others: TestCa::new("other callers CA"),
        client_ca,
        proxy,
        _echo: echo,
        _dir: dir,
    }
}

#[tokio::test]
async fn client_certificates_are_required_checked_against_the_client_ca_and_reloaded() {
    let stack = mtls_stack("").await;
    let (ca, proxy, client_ca) = (&stack.ca, &stack.proxy, &stack.client_ca);
    let (callers, others) = (&stack.callers, &stack.others);
    let (caller, other) = (callers.client("svc-a"), others.client("svc-b"));
    assert_eq!(mtls_get(proxy, ca, Some(&caller)).await, Ok(200));
    assert!(mtls_get(proxy, ca, None).await.is_err(), "no certificate");
    assert!(
        mtls_get(proxy, ca, Some(&other)).await.is_err(),
        "a certificate of another CA"
    );
    // Nor one of the CA that issued the listener's own certificate.
    assert!(mtls_get(proxy, ca, Some(&ca.client("x"))).await.is_err());

    // The client CA file replaced (by a rename): new handshakes check against the new CA.
    let replacement = client_ca.with_extension("new");
    std::fs::write(&replacement, &others.cert_pem).unwrap();
    std::fs::rename(&replacement, client_ca).unwrap();
    proxy.wait_log("configuration reloaded", 1).await;
    assert_eq!(mtls_get(proxy, ca, Some(&other)).await, Ok(200));
    assert!(mtls_get(proxy, ca, Some(&caller)).await.is_err());
}

#[tokio::test]
async fn optional_client_certificates_admit_callers_without_one_but_not_a_bad_one() {
    let stack = mtls_stack("client_auth = \"optional\"\n").await;
    let (ca, proxy) = (&stack.ca, &stack.proxy);
    let caller = stack.callers.client("svc-a");
    assert_eq!(mtls_get(proxy, ca, None).await, Ok(200));
    assert_eq!(mtls_get(proxy, ca, Some(&caller)).await, Ok(200));
    let other = stack.others.client("svc-b");
    assert!(mtls_get(proxy, ca, Some(&other)).await.is_err());
    // Without the JWT a client certificate is not enough: the route still needs a token.
    let response = mtls_client(ca, Some(&caller))
        .get(proxy.url("/t/x"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 401);
}

/// A TLS connection of its own (ALPN http/1.1) with an HTTP/1.1 client on it.
struct HeldConnection {
    sender: hyper::client::conn::http1::SendRequest<http_body_util::Empty<bytes::Bytes>>,
    certificate: CertificateDer<'static>,
}

impl HeldConnection {
    async fn open(addr: SocketAddr, ca: &TestCa) -> Self {
        let connector = tokio_rustls::TlsConnector::from(ca.client_config(&[b"http/1.1"]));
        let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let name = ServerName::IpAddress(Ipv4Addr::LOCALHOST.into());
        let stream = connector.connect(name, tcp).await.expect("handshake");
        let certificate = stream.get_ref().1.peer_certificates().expect("certificate")[0].clone();
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .expect("HTTP/1.1 handshake");
        tokio::spawn(connection);
        Self {
            sender,
            certificate,
        }
    }

    async fn get(&mut self, path: &str, token: &str) -> u16 {
        let request = hyper::Request::get(path)
            .header("host", "127.0.0.1")
            .header("authorization", format!("Bearer {token}"))
            .body(http_body_util::Empty::new())
            .unwrap();
        let response = self
            .sender
            .send_request(request)
            .await
            .expect("request on the held connection");
        let status = response.status().as_u16();
        response.into_body().collect().await.expect("body");
        status
    }
}

#[tokio::test]
async fn replaced_certificate_serves_new_connections_and_open_ones_keep_working() {
    let ca = TestCa::new("jwtkit test CA");
    let dir = tempfile::tempdir().unwrap();
    let first = ca.server();
    let (cert, key) = install(dir.path(), &first);
    let echo = RawEcho::start().await;
    let proxy = Proxy::with_toml(&tls_toml(&echo, &cert, &key), &[]).await;
    let token = hs_token("alice", Value::Null);

    let mut held = HeldConnection::open(proxy.addr, &ca).await;
    assert_eq!(held.certificate, der(&first.cert_pem));
    assert_eq!(held.get("/t/before", &token).await, 200);

    // A mismatched pair on the way (the certificate written before its key) is refused and
    // the first certificate stays.
    let second = ca.server();
    std::fs::write(&cert, &second.cert_pem).unwrap();
    let refusal = proxy.wait_log("reload refused", 1).await;
    assert!(refusal.contains("tls.key_file"), "{refusal}");
    assert_eq!(
        HeldConnection::open(proxy.addr, &ca).await.certificate,
        der(&first.cert_pem)
    );

    std::fs::write(&key, &second.key_pem).unwrap();
    proxy.wait_log("configuration reloaded", 1).await;

    assert_eq!(
        held.get("/t/after", &token).await,
        200,
        "the connection opened before the swap keeps working"
    );
    let mut fresh = HeldConnection::open(proxy.addr, &ca).await;
    assert_eq!(
        fresh.certificate,
        der(&second.cert_pem),
        "a new connection gets the new certificate"
    );
    assert_eq!(fresh.get("/t/new", &token).await, 200);
    assert!(
        metrics_text_tls(&proxy, &ca)
            .await
            .contains("jwtkit_proxy_config_reloads_total{result=\"ok\"} 1"),
    );
}

async fn metrics_text_tls(proxy: &Proxy, ca: &TestCa) -> String {
    https_client(ca)
        .build()
        .unwrap()
        .get(proxy.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics text")
}

#[tokio::test]
async fn sigterm_finishes_a_request_in_flight_over_tls_and_exits_0() {
    let ca = TestCa::new("jwtkit test CA");
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = install(dir.path(), &ca.server());
    let engine = Engine::basic();
    let toml = format!(
        "{}\n[tls]\ncert_file = \"{}\"\nkey_file = \"{}\"\n",
        engine_toml(
            &engine.url(),
            "auth = { type = \"basic\", user = \"demo\", password = { env = \"ENGINE_PASSWORD\" } }",
            "",
        ),
        cert.display(),
        key.display()
    );
    let mut proxy = Proxy::with_toml(&toml, &[("ENGINE_PASSWORD", "demo")]).await;
    let token = hs_token("alice", Value::Null);
    // One idle keep-alive connection, and one request in flight.
    let mut idle = HeldConnection::open(proxy.addr, &ca).await;
    assert_eq!(idle.get("/t/__test/slow?ms=1", &token).await, 200);
    let slow = {
        let url = proxy.url("/t/__test/slow?ms=1500");
        let client = https_client(&ca).build().unwrap();
        let token = token.clone();
        tokio::spawn(async move { client.get(url).bearer_auth(token).send().await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    proxy.terminate();
    let response = slow
        .await
        .unwrap()
        .expect("the request in flight is answered");
    assert_eq!(response.status(), 200);
    let status = tokio::task::spawn_blocking(move || {
        let status = proxy.wait_exit(Duration::from_secs(10));
        (status, proxy)
    })
    .await
    .unwrap();
    assert!(
        status.0.is_some_and(|s| s.success()),
        "exit {:?}:\n{}",
        status.0,
        status.1.stderr.text()
    );
}
