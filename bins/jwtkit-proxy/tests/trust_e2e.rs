//! Private CAs and client certificates, end to end: certificates generated here (rcgen, through
//! `jwtkit_testsupport::tls`), servers on 127.0.0.1 speaking TLS with them, the real proxy binary.
//!
//! - an issuer whose JWK Set (and discovery document) is served over https by a private CA:
//!   tokens verify with `ca_file`, and get 503 without it;
//! - https upstreams: a private-CA upstream is reached with `ca_file` (`add` or `replace`) and
//!   refused (502) without it; a "public" upstream (signed by the proxy's system roots, which
//!   `SSL_CERT_FILE` names here) stays reachable with `add` and is refused with `replace`;
//! - an upstream that requires a client certificate: reached with `client_cert_file` and
//!   `client_key_file`, refused without them; the key never appears in the log;
//! - bad files and mismatched pairs are refused at start and by `--check-config`, naming the key.

mod common;

use common::*;
use jwtkit_keys::{Algorithm, SigningKey, keygen};
use jwtkit_mint::Minter;
use jwtkit_testsupport::jwks_server::JwksServer;
use jwtkit_testsupport::leaks::Needles;
use jwtkit_testsupport::tls::TestCa;
use serde_json::json;

/// An ES256 key pair: its JWK Set (kid `k1`) and a token of `iss` signed with it.
fn es256_issuer(iss: &str) -> (serde_json::Value, String) {
    let pair = keygen::generate(Algorithm::ES256, 0).unwrap();
    let mut jwk = serde_json::to_value(&pair.public_jwk).unwrap();
    jwk["kid"] = "k1".into();
    let key = SigningKey::from_pem(Some(Algorithm::ES256), &pair.private_pem)
        .unwrap()
        .with_kid(Some("k1".into()));
    let now = jwtkit_mint::now();
    let token = Minter::new(key)
        .mint(&json!({"sub": "alice", "iss": iss, "iat": now, "exp": now + 300}))
        .unwrap();
    (json!({ "keys": [jwk] }), token)
}

/// The proxy's "system" roots: the platform verifier reads `SSL_CERT_FILE` on Linux.
const SYSTEM_ROOTS: &str = "SSL_CERT_FILE";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_issuer_behind_a_private_ca_is_trusted_with_its_ca_file() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("internal IdP CA");
    let ca_file = ca.write(dir.path(), "idp-ca.pem");
    let system_file = TestCa::new("system root").write(dir.path(), "system.pem");

    let (jwks, token) = es256_issuer("urn:internal-jwks");
    let jwks_server = JwksServer::start_tls(&jwks, ca.server().server_config(None)).await;
    // Discovery over https: the document, then the key set it names, both from the private CA.
    let discovery_server =
        JwksServer::start_tls(&json!({"keys": []}), ca.server().server_config(None)).await;
    let discovery_iss = discovery_server.base_url().to_owned();
    let (discovered_jwks, discovered_token) = es256_issuer(&discovery_iss);
    discovery_server.set_document(&discovered_jwks);
    discovery_server.set_discovery_issuer(&discovery_iss);
    let (untrusted_jwks, untrusted_token) = es256_issuer("urn:untrusted");
    let untrusted_server =
        JwksServer::start_tls(&untrusted_jwks, ca.server().server_config(None)).await;
    let echo = RawEcho::start().await;

    let toml = format!(
        r#"
{HS_ISSUER_TOML}
[[issuers]]
name = "internal"
iss = ["urn:internal-jwks"]
jwks_url = "{jwks}"
ca_file = "{ca}"

[[issuers]]
name = "discovered"
iss = ["{discovery_iss}"]
discovery_url = "{discovery_iss}"
ca_file = "{ca}"
ca_mode = "replace"

[[issuers]]
name = "untrusted"
iss = ["urn:untrusted"]
jwks_url = "{untrusted}"

[[upstreams]]
name = "echo"
url = "{echo}"

[[routes]]
prefix = "/api"
upstream = "echo"
"#,
        jwks = jwks_server.url,
        ca = ca_file.display(),
        untrusted = untrusted_server.url,
        echo = echo.url(),
    );
    let system_file = system_file.display().to_string();
    let proxy = Proxy::with_toml(&toml, &[(SYSTEM_ROOTS, &system_file)]).await;

    let reply = get(&proxy, "/api/x", &token).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert!(jwks_server.requests() >= 1);
    let reply = get(&proxy, "/api/x", &discovered_token).await;
    assert_eq!(reply.status, 200, "{}", reply.text());

    // No ca_file: the fetch fails on the certificate; the token gets 503, not a pass.
    let reply = get(&proxy, "/api/x", &untrusted_token).await;
    assert_eq!(reply.status, 503, "{}", reply.text());
    assert_eq!(untrusted_server.requests(), 0, "no request got past TLS");
    let log = proxy.stderr.text().to_lowercase();
    assert!(log.contains("certificate"), "{log}");
    assert!(log.contains("issuer ca file loaded"), "{log}");
}

/// Five upstreams on two https servers, one route each (`/NAME/...`, prefix stripped).
fn upstreams_toml(upstreams: &[(&str, &str, &str)]) -> String {
    let mut toml = HS_ISSUER_TOML.to_owned();
    for (name, url, tls) in upstreams {
        toml.push_str(&format!(
            "\n[[upstreams]]\nname = \"{name}\"\nurl = \"{url}\"\ntimeout_seconds = 5\n{tls}\n\n[[routes]]\nprefix = \"/{name}\"\nupstream = \"{name}\"\nstrip_prefix = true\n"
        ));
    }
    toml
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_upstreams_are_reached_with_their_ca_file_added_or_replacing() {
    let dir = tempfile::tempdir().unwrap();
    let private_ca = TestCa::new("internal CA");
    let system_ca = TestCa::new("system root");
    let ca_file = private_ca.write(dir.path(), "internal-ca.pem");
    let system_file = system_ca.write(dir.path(), "system.pem");
    let document = json!({"served": "over https"});
    let internal = JwksServer::start_tls(&document, private_ca.server().server_config(None)).await;
    let public = JwksServer::start_tls(&document, system_ca.server().server_config(None)).await;
    let add = format!("ca_file = \"{}\"", ca_file.display());
    let replace = format!("{add}\nca_mode = \"replace\"");

    let toml = upstreams_toml(&[
        ("internal-system", &internal.url, ""),
        ("internal-add", &internal.url, &add),
        ("internal-replace", &internal.url, &replace),
        ("public-system", &public.url, ""),
        ("public-add", &public.url, &add),
        ("public-replace", &public.url, &replace),
    ]);
    let system_file = system_file.display().to_string();
    let proxy = Proxy::with_toml(&toml, &[(SYSTEM_ROOTS, &system_file)]).await;
    let token = hs_token("alice", json!({}));
    // The health checks may already have reached the servers: count from here.
    let before = (internal.requests(), public.requests());

    for (route, status) in [
        ("internal-system", 502),
        ("internal-add", 200),
        ("internal-replace", 200),
        ("public-system", 200),
        ("public-add", 200),
        ("public-replace", 502),
    ] {
        let reply = get(&proxy, &format!("/{route}/x"), &token).await;
        assert_eq!(reply.status, status, "{route}: {}", reply.text());
        if status == 200 {
            assert!(reply.text().contains("over https"), "{route}");
        } else {
            reply.assert_error(502, "upstream_unreachable");
        }
    }
    // Only the requests that passed TLS reached the servers.
    assert_eq!(internal.requests() - before.0, 2);
    assert_eq!(public.requests() - before.1, 2);
    let log = proxy.stderr.text();
    assert!(
        log.contains("internal-ca.pem (mode replace, 1 certificate(s))"),
        "the start-up log names the CA file and mode: {log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_requiring_a_client_certificate_gets_it() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("internal CA");
    let ca_file = ca.write(dir.path(), "internal-ca.pem");
    let client = ca.client("jwtkit-proxy");
    let (cert_file, key_file) = client.write(dir.path(), "proxy-client");
    let stranger = TestCa::new("another CA").client("stranger");
    let (stranger_cert, stranger_key) = stranger.write(dir.path(), "stranger");
    let server =
        JwksServer::start_tls(&json!({"mtls": "ok"}), ca.server().server_config(Some(&ca))).await;

    let with_cert = format!(
        "ca_file = \"{}\"\nclient_cert_file = \"{}\"\nclient_key_file = \"{}\"",
        ca_file.display(),
        cert_file.display(),
        key_file.display()
    );
    let wrong_cert = format!(
        "ca_file = \"{}\"\nclient_cert_file = \"{}\"\nclient_key_file = \"{}\"",
        ca_file.display(),
        stranger_cert.display(),
        stranger_key.display()
    );
    let without = format!("ca_file = \"{}\"", ca_file.display());
    let toml = upstreams_toml(&[
        ("with-cert", &server.url, &with_cert),
        ("wrong-cert", &server.url, &wrong_cert),
        ("without-cert", &server.url, &without),
    ]);
    let proxy = Proxy::with_toml(&toml, &[]).await;
    let token = hs_token("alice", json!({}));
    let before = server.requests();

    let reply = get(&proxy, "/with-cert/x", &token).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert!(reply.text().contains("mtls"));
    for route in ["wrong-cert", "without-cert"] {
        let reply = get(&proxy, &format!("/{route}/x"), &token).await;
        reply.assert_error(502, "upstream_unreachable");
    }
    assert_eq!(
        server.requests() - before,
        1,
        "only the certified request got through"
    );

    let log = proxy.stderr.text();
    assert!(log.contains("proxy-client.crt"), "{log}");
    let mut needles = Needles::default();
    needles.private_pem("client key", &client.key_pem, 0);
    needles.assert_absent("the proxy's log", &log, &[]);
}

#[test]
fn bad_trust_files_are_refused_at_start_and_by_check_config() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("internal CA");
    let ca_file = ca.write(dir.path(), "ca.pem");
    let client = ca.client("proxy");
    let (cert_file, _) = client.write(dir.path(), "client");
    let (_, other_key) = ca.client("other").write(dir.path(), "other");
    let not_pem = dir.path().join("not.pem");
    std::fs::write(&not_pem, "this is no certificate").unwrap();
    let missing = dir.path().join("missing.pem");

    let issuer = |extra: &str| {
        format!(
            "{HS_ISSUER_TOML}\n[[issuers]]\nname = \"idp\"\niss = [\"urn:idp\"]\njwks_url = \"https://127.0.0.1:{}/jwks\"\n{extra}\n",
            closed_port()
        )
    };
    let upstream = |url: &str, extra: &str| {
        format!(
            "{HS_ISSUER_TOML}\n[[upstreams]]\nname = \"u\"\nurl = \"{url}\"\n{extra}\n\n[[routes]]\nprefix = \"/u\"\nupstream = \"u\"\n"
        )
    };
    let https = "https://127.0.0.1:9";
    let cases = [
        (
            issuer(&format!("ca_file = \"{}\"", missing.display())),
            "issuers[1].ca_file",
            "cannot read CA file",
        ),
        (
            issuer(&format!("ca_file = \"{}\"", not_pem.display())),
            "issuers[1].ca_file",
            "holds no PEM CERTIFICATE block",
        ),
        (
            issuer("ca_mode = \"add\""),
            "issuers[1].ca_mode",
            "without ca_file",
        ),
        (
            issuer(&format!(
                "ca_file = \"{}\"\nca_mode = \"both\"",
                ca_file.display()
            )),
            "issuers[1].ca_mode",
            "is not a CA mode",
        ),
        (
            format!("{HS_ISSUER_TOML}ca_file = \"{}\"\n", ca_file.display()),
            "issuers[0].ca_file",
            "keys are not fetched",
        ),
        (
            upstream(https, &format!("ca_file = \"{}\"", not_pem.display())),
            "upstreams[0].ca_file",
            "holds no PEM CERTIFICATE block",
        ),
        (
            upstream(
                "http://127.0.0.1:9",
                &format!("ca_file = \"{}\"", ca_file.display()),
            ),
            "upstreams[0].ca_file",
            "is not https://",
        ),
        (
            upstream(
                https,
                &format!("client_cert_file = \"{}\"", cert_file.display()),
            ),
            "upstreams[0].client_key_file",
            "is missing",
        ),
        (
            upstream(
                https,
                &format!(
                    "client_cert_file = \"{}\"\nclient_key_file = \"{}\"",
                    cert_file.display(),
                    other_key.display()
                ),
            ),
            "upstreams[0].client_key_file",
            "cannot be used with",
        ),
        (
            upstream(
                https,
                &format!(
                    "client_cert_file = \"{}\"\nclient_key_file = \"{}\"",
                    cert_file.display(),
                    not_pem.display()
                ),
            ),
            "upstreams[0].client_key_file",
            "holds no readable PEM PRIVATE KEY block",
        ),
    ];
    for (toml, key, problem) in &cases {
        let exit = refused(Some(toml), &[("JWT_SECRET_KEY", HS_SECRET)], key);
        assert!(exit.stderr.contains(problem), "{key}: {}", exit.stderr);
        assert!(
            !exit.stderr.contains("this is no certificate"),
            "{}",
            exit.stderr
        );

        let path = dir.path().join("proxy.toml");
        std::fs::write(&path, toml).unwrap();
        let path = path.display().to_string();
        let exit = run_args_to_exit(&["--check-config", &path], &[("JWT_SECRET_KEY", HS_SECRET)]);
        assert_refused(&exit, key);
    }
}
