//! No secret and no whole token ever leaves the proxy except where that is the point (the
//! upstream credential on the upstream connection, the issued Centrifugo token in its own
//! response). The proxy runs at trace level (`JWTKIT_LOG_LEVEL=trace`, which also enables every
//! dependency's trace events) through success and failure paths; everything it writes on stdout
//! and stderr and every HTTP response (head and body) is searched for each secret in its raw,
//! base64, base64url and hex forms, for the PEM body of a private key, and for every token sent
//! or minted (whole, and its signature alone). Bad configurations that contain secrets are
//! refused without echoing them. Unit-level: `Debug` of keys, minters, configurations and the
//! authenticated caller holds no secret.

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;
use jwtkit_keys::{Algorithm, SigningKey, VerifyingKey, b64};
use jwtkit_mint::{Expiry, Minter};
use jwtkit_secret::{Secret, SecretEncoding};
use jwtkit_testsupport::leaks::Needles;
use serde_json::json;

/// The Basic password of the engine (`ENGINE_PASS`).
const ENGINE_PASS: &str = "engine-pass-Zq8x3Lw0-7f1d";
/// A password the engine does not accept.
const WRONG_PASS: &str = "wrong-pass-Kd92mQ-a71c";
const CENTRIFUGO_SECRET: &str = "centrifugo-hmac-secret-n5Jp2-of-more-than-32-bytes";
/// The secret of an `oct` key in a JWK Set file (base64url in the file).
const JWKS_OCT_SECRET: &[u8] = b"an-oct-jwk-secret-of-32-bytes-or-more!!";

/// An HTTP exchange as the client saw it.
struct Seen {
    label: String,
    text: String,
    /// Texts this response exists to carry (an issued Centrifugo token).
    allowed: Vec<String>,
}

fn seen(label: &str, reply: &Reply) -> Seen {
    let mut text = format!("{}\n", reply.status);
    for (name, value) in &reply.headers {
        text.push_str(&format!(
            "{name}: {}\n",
            String::from_utf8_lossy(value.as_bytes())
        ));
    }
    text.push_str(&reply.text());
    Seen {
        label: label.to_owned(),
        text,
        allowed: Vec::new(),
    }
}

fn rs256_token(private_pem: &str, sub: &str) -> String {
    let key = SigningKey::from_pem(Some(Algorithm::RS256), private_pem).expect("RSA key");
    let now = jwtkit_mint::now();
    Minter::new(key)
        .mint(&json!({"iss": "urn:jwtkit:keys", "sub": sub, "iat": now, "exp": now + 300}))
        .expect("mint RS256")
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path.display().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_secret_in_any_output_at_trace_level_across_success_and_failure_paths() {
    let engine_basic = Engine::start(&[
        "--auth",
        "basic",
        "--user",
        "demo",
        "--password",
        ENGINE_PASS,
    ]);
    let engine_jwt = Engine::jwt(ENGINE_SECRET_B64);
    let dir = tempfile::tempdir().unwrap();

    // An RSA private key given where a public key belongs: it must work (its public half) and
    // its private half must never be printed.
    let pair = jwtkit_keys::keygen::generate(Algorithm::RS256, 2048).expect("RSA key");
    let private_pem_path = write(dir.path(), "private.pem", &pair.private_pem);
    // A JWK Set file with an `oct` key (its `k` is a secret) and an RSA JWK carrying a
    // (fabricated) private exponent `d`.
    let fake_d = b64::encode(&random_bytes(256, 99));
    let mut rsa_jwk = serde_json::to_value(&pair.public_jwk).unwrap();
    rsa_jwk["d"] = json!(fake_d);
    rsa_jwk["kid"] = json!("rsa-with-d");
    let jwks_file = write(
        dir.path(),
        "jwks.json",
        &json!({"keys": [
            {"kty": "oct", "kid": "oct-1", "alg": "HS256", "k": b64::encode(JWKS_OCT_SECRET)},
            rsa_jwk,
        ]})
        .to_string(),
    );

    let toml = format!(
        r#"{HS_ISSUER_TOML}
[[issuers]]
name = "keys"
iss = ["urn:jwtkit:keys"]
public_key_file = "{private_pem_path}"

[[issuers]]
name = "jwks"
iss = ["urn:jwtkit:jwks"]
jwks_file = "{jwks_file}"

[[upstreams]]
name = "basic"
url = "{basic}"
auth = {{ type = "basic", user = "demo", password = {{ env = "ENGINE_PASS" }} }}

[[upstreams]]
name = "badpass"
url = "{basic}"
auth = {{ type = "basic", user = "demo", password = {{ env = "WRONG_PASS" }} }}

[[upstreams]]
name = "engine"
url = "{jwt}"
auth = {{ type = "mint", profile = "camunda", secret = {{ env = "ENGINE_JWT_SECRET" }} }}

[[upstreams]]
name = "wrong"
url = "{jwt}"
auth = {{ type = "mint", profile = "camunda", secret = {{ env = "WRONG_ENGINE_SECRET" }} }}

[[upstreams]]
name = "pass"
url = "{jwt_root}"
auth = {{ type = "passthrough" }}

[[routes]]
prefix = "/b"
upstream = "basic"
strip_prefix = true

[[routes]]
prefix = "/x"
upstream = "badpass"
strip_prefix = true

[[routes]]
prefix = "/m"
upstream = "engine"
strip_prefix = true

[[routes]]
prefix = "/w"
upstream = "wrong"
strip_prefix = true

[[routes]]
prefix = "/p"
upstream = "pass"
strip_prefix = true

[[routes]]
prefix = "/q"
upstream = "engine"
strip_prefix = true
token_from = ["query:access_token"]

[[routes]]
prefix = "/c"
upstream = "engine"
strip_prefix = true
token_from = ["cookie:session"]

[camunda]
upstream = "engine"

[centrifugo]
secret = {{ env = "CENTRIFUGO_SECRET" }}
connection_channels = ["user.{{sub}}"]
subscription_channels = ["user.{{sub}}"]
"#,
        basic = engine_basic.rest_url(),
        jwt = engine_jwt.rest_url(),
        jwt_root = engine_jwt.url(),
    );
    let mut proxy = Proxy::with_toml(
        &toml,
        &[
            ("JWTKIT_LOG_LEVEL", "trace"),
            ("ENGINE_PASS", ENGINE_PASS),
            ("WRONG_PASS", WRONG_PASS),
            ("ENGINE_JWT_SECRET", ENGINE_SECRET_B64),
            ("WRONG_ENGINE_SECRET", OTHER_ENGINE_SECRET_B64),
            ("CENTRIFUGO_SECRET", CENTRIFUGO_SECRET),
        ],
    )
    .await;
    let http = client();

    let mut needles = Needles::default();
    needles.secret("issuer secret", HS_SECRET, HS_SECRET.as_bytes());
    let engine_key = b64_std_decode(ENGINE_SECRET_B64);
    needles.secret("engine JWT secret", ENGINE_SECRET_B64, &engine_key);
    let wrong_key = b64_std_decode(OTHER_ENGINE_SECRET_B64);
    needles.secret("wrong engine secret", OTHER_ENGINE_SECRET_B64, &wrong_key);
    needles.secret("engine password", ENGINE_PASS, ENGINE_PASS.as_bytes());
    needles.secret("wrong password", WRONG_PASS, WRONG_PASS.as_bytes());
    for (what, pass) in [
        ("Basic credential", ENGINE_PASS),
        ("wrong Basic credential", WRONG_PASS),
    ] {
        let pair = format!("demo:{pass}");
        needles.secret(what, &pair, pair.as_bytes());
    }
    needles.secret(
        "Centrifugo secret",
        CENTRIFUGO_SECRET,
        CENTRIFUGO_SECRET.as_bytes(),
    );
    needles.secret(
        "JWK oct secret",
        &b64::encode(JWKS_OCT_SECRET),
        JWKS_OCT_SECRET,
    );
    needles.add("JWK private exponent d", fake_d.clone());
    needles.private_pem("RSA private key", &pair.private_pem, 6);

    let alice = hs_token("alice", json!({"email": "alice@example.test"}));
    let bob = hs_token("bob", json!({}));
    let carol_rs = rs256_token(&pair.private_pem, "carol");
    let expired = expired_hs_token("dave");
    let forged = format!("{}x", &alice[..alice.len() - 1]);
    let wrong_secret = hs_token_signed(
        b"a-secret-the-proxy-does-not-know-0123456789",
        "eve",
        json!({}),
        Expiry::After(300),
    );
    let oversized = format!(
        "{}.{}.{}",
        b64::encode(br#"{"alg":"HS256"}"#),
        b64::encode(&random_bytes(20_000, 5)),
        b64::encode(&random_bytes(32, 6))
    );
    for (what, token) in [
        ("caller token alice", &alice),
        ("caller token bob", &bob),
        ("RS256 caller token", &carol_rs),
        ("expired token", &expired),
        ("forged token", &forged),
        ("token signed with another secret", &wrong_secret),
        ("oversized token", &oversized),
    ] {
        needles.token(what, token);
    }

    let mut transcript: Vec<Seen> = Vec::new();
    let get = |path: &str, token: Option<&str>| {
        let mut request = http.get(proxy.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request
    };
    // Success paths: Basic, minted engine tokens (HS256 and RS256 callers), the facade, tokens
    // from a query parameter and a cookie, passthrough.
    for (label, request, expected) in [
        ("basic", get("/b/version", Some(&alice)), 200),
        ("mint", get("/m/version", Some(&alice)), 200),
        ("mint RS256 caller", get("/m/version", Some(&carol_rs)), 200),
        ("facade", get("/api/processes", Some(&bob)), 200),
        (
            "query token",
            get(&format!("/q/version?access_token={alice}"), None),
            200,
        ),
        (
            "cookie token",
            get("/c/version", None).header("cookie", format!("theme=x; session={bob}")),
            200,
        ),
        ("passthrough", get("/p/__test/echo", Some(&alice)), 200),
        // Failure paths.
        ("expired", get("/m/version", Some(&expired)), 401),
        ("forged", get("/m/version", Some(&forged)), 401),
        (
            "another secret",
            get("/m/version", Some(&wrong_secret)),
            401,
        ),
        ("oversized", get("/m/version", Some(&oversized)), 401),
        (
            "the issuer secret as a token",
            get("/m/x", Some(HS_SECRET)),
            401,
        ),
        (
            "the engine secret as a token",
            get("/m/x", Some(ENGINE_SECRET_B64)),
            401,
        ),
        (
            "query token where only the header counts",
            get(&format!("/m/version?access_token={alice}"), None),
            401,
        ),
        (
            "engine refuses the minted token",
            get("/w/version", Some(&alice)),
            502,
        ),
        (
            "engine refuses the password",
            get("/x/version", Some(&alice)),
            502,
        ),
        (
            "facade, expired",
            get("/api/processes", Some(&expired)),
            401,
        ),
    ] {
        let reply = Reply::of(request.send().await.expect(label)).await;
        assert_eq!(reply.status, expected, "{label}: {}", reply.text());
        transcript.push(seen(label, &reply));
    }
    // The engine saw the minted tokens: remember them as needles.
    for (what, path) in [
        ("minted engine token", "/m/version"),
        ("minted token the engine refused", "/w/version"),
    ] {
        let reply = Reply::of(get(path, Some(&alice)).send().await.unwrap()).await;
        transcript.push(seen(what, &reply));
        let minted = engine_jwt
            .last_request()
            .await
            .header("authorization")
            .expect("a minted credential");
        needles.token(what, minted.trim_start_matches("Bearer "));
    }
    // Centrifugo tokens: each may appear in its own response only.
    let mut issued = Vec::new();
    for (label, path, body, expected) in [
        ("centrifugo connection", "/token/centrifugo", None, 200),
        (
            "centrifugo subscription",
            "/token/centrifugo/subscription",
            Some(json!({"channel": "user.alice"})),
            200,
        ),
        (
            "centrifugo subscription refused",
            "/token/centrifugo/subscription",
            Some(json!({"channel": "user.root"})),
            403,
        ),
    ] {
        let mut request = http.post(proxy.url(path)).bearer_auth(&alice);
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let reply = Reply::of(request.send().await.unwrap()).await;
        assert_eq!(reply.status, expected, "{label}: {}", reply.text());
        let mut entry = seen(label, &reply);
        if let Some(token) = reply.json["token"].as_str() {
            assert!(hs256_signature_ok(token, CENTRIFUGO_SECRET.as_bytes()));
            needles.token(label, token);
            entry.allowed = vec![
                token.to_owned(),
                token.rsplit('.').next().unwrap().to_owned(),
            ];
            issued.push(token.to_owned());
        }
        transcript.push(entry);
    }
    assert_eq!(issued.len(), 2);

    // Stop the proxy so that its shutdown lines are in the capture too.
    proxy.terminate();
    let exit = tokio::task::block_in_place(|| proxy.wait_exit(Duration::from_secs(10)));
    assert!(exit.is_some(), "the proxy did not stop");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let log = proxy.stderr.text();
    let stdout = proxy.stdout.text();

    // The capture is from a trace-level run that went through these paths.
    assert!(
        log.contains(r#""level":"TRACE""#) || log.contains(r#""level":"DEBUG""#),
        "no debug/trace lines: the log level did not apply:\n{log}"
    );
    for expected in [
        r#""status":401"#,
        r#""status":502"#,
        "upstream_rejected_credentials",
    ] {
        assert!(
            log.contains(expected) || transcript.iter().any(|s| s.text.contains(expected)),
            "{expected} not seen"
        );
    }
    needles.assert_absent("the proxy's stderr", &log, &[]);
    needles.assert_absent("the proxy's stdout", &stdout, &[]);
    for entry in &transcript {
        let allowed: Vec<&str> = entry.allowed.iter().map(String::as_str).collect();
        needles.assert_absent(
            &format!("the response to {:?}", entry.label),
            &entry.text,
            &allowed,
        );
    }
}

fn b64_std_decode(text: &str) -> Vec<u8> {
    Secret::decode(text, SecretEncoding::Base64)
        .expect("base64")
        .secret
        .expose_bytes()
        .to_vec()
}

#[test]
fn configurations_holding_secrets_are_refused_without_echoing_them() {
    let dir = tempfile::tempdir().unwrap();
    let pair = jwtkit_keys::keygen::generate(Algorithm::RS256, 2048).expect("RSA key");
    // A private key PEM with its body damaged in the middle.
    let mut lines: Vec<String> = pair.private_pem.lines().map(str::to_owned).collect();
    lines[8] = lines[8].chars().rev().collect();
    let damaged = lines.join("\n");
    let damaged_path = write(dir.path(), "damaged.pem", &damaged);
    let literal = "literal-secret-in-the-file-Hq71-0123456789";
    let literal_b64 = "bGl0ZXJhbC1lbmdpbmUtc2VjcmV0LTMyLWJ5dGVzISE=";
    let engine_literal =
        format!("{HS_ISSUER_TOML}\n[[upstreams]]\nname = \"e\"\nurl = \"http://127.0.0.1:9\"\n");
    let cases = [
        (
            "issuer secret written in the file",
            format!("[[issuers]]\nname = \"api\"\niss = [\"urn:x\"]\nsecret = \"{literal}\"\n"),
            vec![literal.to_owned()],
        ),
        (
            "Basic password written in the file",
            format!(
                "{engine_literal}auth = {{ type = \"basic\", user = \"demo\", password = \"{literal}\" }}\n"
            ),
            vec![literal.to_owned()],
        ),
        (
            "engine secret written in the file",
            format!(
                "{engine_literal}auth = {{ type = \"mint\", profile = \"camunda\", secret = \"{literal_b64}\" }}\n"
            ),
            vec![literal_b64.to_owned()],
        ),
        (
            "Centrifugo secret written in the file",
            format!("{HS_ISSUER_TOML}\n[centrifugo]\nsecret = \"{literal}\"\n"),
            vec![literal.to_owned()],
        ),
        (
            "secret under an unknown key",
            format!(
                "{HS_ISSUER_TOML}\n[centrifugo]\nsecret = {{ env = \"C\" }}\nhmac_secret = \"{literal}\"\n"
            ),
            vec![literal.to_owned()],
        ),
        (
            "secret after a syntax error",
            format!(
                "[[issuers]]\nname = \"api\"\niss = [\"urn:x\"]\nsecret = {{ env = \"JWT_SECRET_KEY\" }} {literal}\n"
            ),
            vec![literal.to_owned()],
        ),
        (
            "damaged private key as the issuer key",
            format!(
                "[[issuers]]\nname = \"k\"\niss = [\"urn:k\"]\npublic_key_file = \"{damaged_path}\"\n"
            ),
            damaged
                .lines()
                .filter(|l| !l.starts_with("-----") && l.len() >= 16)
                .map(str::to_owned)
                .collect(),
        ),
    ];
    for (label, toml, secrets) in &cases {
        let exit = run_to_exit(
            Some(toml),
            &[
                ("JWT_SECRET_KEY", HS_SECRET),
                ("JWTKIT_LOG_LEVEL", "trace"),
                ("C", CENTRIFUGO_SECRET),
            ],
        );
        assert_eq!(exit.code, Some(1), "{label}: {exit:?}");
        assert!(
            exit.stderr.contains("error: config"),
            "{label}: {}",
            exit.stderr
        );
        for secret in secrets {
            assert!(
                !exit.stderr.contains(secret.as_str()) && !exit.stdout.contains(secret.as_str()),
                "{label}: the secret was echoed:\n{}",
                exit.stderr
            );
        }
        let mut needles = Needles::default();
        needles.secret("issuer secret", HS_SECRET, HS_SECRET.as_bytes());
        needles.assert_absent(label, &exit.stderr, &[]);
    }

    // Secrets in the environment that cannot be used: named, never shown.
    let hex_mint = format!(
        "{HS_ISSUER_TOML}\n[[upstreams]]\nname = \"e\"\nurl = \"http://127.0.0.1:9\"\nauth = {{ type = \"mint\", profile = \"generic\", secret = {{ env = \"S\", encoding = \"hex\" }} }}\n"
    );
    for (label, value) in [
        ("not hex", "zz-not-hex-but-a-secret-Pq8r-0123456789abcdef"),
        ("hex of too few bytes", "00112233445566778899aabbccddeeff"),
    ] {
        let exit = run_to_exit(
            Some(&hex_mint),
            &[("JWT_SECRET_KEY", HS_SECRET), ("S", value)],
        );
        assert_eq!(exit.code, Some(1), "{label}: {exit:?}");
        assert!(
            exit.stderr.contains("upstreams[0].auth.secret"),
            "{}",
            exit.stderr
        );
        assert!(
            !exit.stderr.contains(value),
            "{label}: echoed:\n{}",
            exit.stderr
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Debug output.

#[test]
fn debug_output_of_keys_minters_and_configurations_holds_no_secret() {
    let mut needles = Needles::default();
    needles.secret("issuer secret", HS_SECRET, HS_SECRET.as_bytes());
    let engine_key = b64_std_decode(ENGINE_SECRET_B64);
    needles.secret("engine secret", ENGINE_SECRET_B64, &engine_key);
    needles.secret("engine password", ENGINE_PASS, ENGINE_PASS.as_bytes());
    let pair = jwtkit_keys::keygen::generate(Algorithm::RS256, 2048).expect("RSA key");
    needles.private_pem("RSA private key", &pair.private_pem, 6);

    let hmac = Secret::from_bytes(HS_SECRET.as_bytes().to_vec()).unwrap();
    let engine = Secret::from_bytes(engine_key.clone()).unwrap();
    let signing = SigningKey::hmac(Algorithm::HS256, &hmac).unwrap();
    let engine_signing = SigningKey::hmac(Algorithm::HS256, &engine).unwrap();
    let rsa = SigningKey::from_pem(Some(Algorithm::RS256), &pair.private_pem).unwrap();
    let rsa_public_from_private = VerifyingKey::from_pem(&pair.private_pem).unwrap();
    let shown = [
        ("Secret", format!("{hmac:?} {hmac} {engine:?} {engine}")),
        (
            "SigningKey (HMAC)",
            format!("{signing:?} {engine_signing:?}"),
        ),
        ("SigningKey (RSA)", format!("{rsa:?}")),
        (
            "VerifyingKey (HMAC)",
            format!("{:?}", VerifyingKey::hmac(&hmac).unwrap()),
        ),
        (
            "VerifyingKey (from a private PEM)",
            format!("{rsa_public_from_private:?}"),
        ),
        (
            "Minter",
            format!(
                "{:?} {:?}",
                Minter::new(SigningKey::hmac(Algorithm::HS256, &hmac).unwrap()),
                Minter::new(
                    SigningKey::from_pem(Some(Algorithm::RS256), &pair.private_pem).unwrap()
                )
            ),
        ),
        (
            "IssuerConfig",
            format!(
                "{:?}",
                jwtkit_verify::IssuerConfig {
                    name: "api".into(),
                    issuers: vec![HS_ISS.into()],
                    keys: jwtkit_verify::KeySource::Static(vec![
                        VerifyingKey::hmac(&hmac).unwrap()
                    ]),
                    policy: jwtkit_verify::Policy::default(),
                }
            ),
        ),
    ];
    for (what, text) in &shown {
        needles.assert_absent(&format!("Debug of {what}"), text, &[]);
    }

    // Configurations name where secrets are; built from an environment that holds them, their
    // Debug output must still not hold the values.
    let env = |name: &str| -> Option<String> {
        match name {
            "JWT_SECRET_KEY" => Some(HS_SECRET.into()),
            "ENGINE_JWT_SECRET" => Some(ENGINE_SECRET_B64.into()),
            "ENGINE_PASS" => Some(ENGINE_PASS.into()),
            "CENTRIFUGO_HMAC_SECRET" => Some(CENTRIFUGO_SECRET.into()),
            "ENGINE_URL" => Some("http://127.0.0.1:9/engine-rest".into()),
            _ => None,
        }
    };
    let from_env = jwtkit_proxy::config::Config::from_env_mode(&env).expect("environment config");
    needles.assert_absent(
        "Debug of the environment-mode Config",
        &format!("{from_env:?}"),
        &[],
    );
    let toml = jwtkit_proxy::config::Config::from_toml(&format!(
        "{HS_ISSUER_TOML}\n[[upstreams]]\nname = \"e\"\nurl = \"http://e\"\nauth = {{ type = \"basic\", user = \"demo\", password = {{ env = \"ENGINE_PASS\" }} }}\n"
    ))
    .expect("toml config");
    needles.assert_absent("Debug of a TOML Config", &format!("{toml:?}"), &[]);
}

#[tokio::test]
async fn debug_output_of_an_authenticated_caller_holds_no_token() {
    let hmac = Secret::from_bytes(HS_SECRET.as_bytes().to_vec()).unwrap();
    let registry = jwtkit_verify::Registry::new(vec![jwtkit_verify::IssuerConfig {
        name: "api".into(),
        issuers: vec![HS_ISS.into()],
        keys: jwtkit_verify::KeySource::Static(vec![VerifyingKey::hmac(&hmac).unwrap()]),
        policy: jwtkit_verify::Policy {
            allow_missing_iss: true,
            ..jwtkit_verify::Policy::default()
        },
    }])
    .unwrap();
    let token = hs_token("alice", json!({"role": "ops"}));
    let validated = registry.validate(&token).await.expect("valid");
    let caller = jwtkit_proxy::auth::Caller {
        token: std::sync::Arc::new(validated),
        raw: token.as_str().into(),
    };
    let shown = format!("{caller:?} {caller:#?}");
    assert!(
        shown.contains("alice"),
        "the claims are still shown: {shown}"
    );
    let mut needles = Needles::default();
    needles.token("caller token", &token);
    needles.assert_absent("Debug of Caller", &shown, &[]);
}
