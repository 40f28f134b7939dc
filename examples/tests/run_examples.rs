//! Runs every example as a real subprocess, the program `cargo run -p jwtkit-examples --example
//! NAME` runs, and checks what it prints and how it exits. Everything is offline: the examples
//! that need an IdP get one from this test (a discovery document and a JWK Set served on
//! 127.0.0.1), and the server example listens on a free port.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use jwtkit::mint::{GenericProfile, Minter, camunda_secret};
use jwtkit::{Algorithm, JwkSet, Secret, SigningKey, Validator, keygen, now};
use serde_json::{Value, json};

/// Variables the examples read; removed so the developer's shell cannot change an outcome.
const VARIABLES: [&str; 7] = [
    "JWT_SECRET_KEY",
    "ENGINE_JWT_SECRET",
    "CENTRIFUGO_HMAC_SECRET",
    "OIDC_URL",
    "OIDC_ISSUER",
    "OIDC_AUDIENCE",
    "BIND",
];

const API_SECRET: &str = "an-api-secret-of-at-least-32-bytes-long";
const ENGINE_SECRET: &str = "Ym9ZpC1VyZUU9svrmtrJGXZlAlMx5dW29qQwXUDYp50=";
const CENTRIFUGO_SECRET: &str = "a-centrifugo-secret-of-at-least-32-bytes";

/// The examples' folder in the target directory (`target/<profile>/examples`), built once per
/// test run so that `cargo test --test run_examples` never runs a stale example.
fn examples_dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        // This test is target/<profile>/deps/run_examples-<hash>.
        let exe = std::env::current_exe().expect("the test's path");
        let profile_dir = exe
            .parent()
            .and_then(|deps| deps.parent())
            .expect("target/<profile>");
        let mut build = Command::new(env!("CARGO"));
        build.args(["build", "--quiet", "-p", "jwtkit-examples", "--examples"]);
        if profile_dir
            .file_name()
            .is_some_and(|name| name == "release")
        {
            build.arg("--release");
        }
        let status = build.status().expect("cargo runs");
        assert!(status.success(), "building the examples failed");
        profile_dir.join("examples")
    })
}

/// The example `name`, with none of [`VARIABLES`] inherited.
fn example(name: &str) -> Command {
    let path = examples_dir().join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    let mut command = Command::new(path);
    for variable in VARIABLES {
        command.env_remove(variable);
    }
    command
}

fn run(command: &mut Command) -> (Option<i32>, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = command.output().expect("the example starts");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    );
    (status.code(), stdout, stderr)
}

fn hs256(secret: &Secret) -> Minter {
    Minter::new(SigningKey::hmac(Algorithm::HS256, secret).expect("a 32-byte secret"))
}

#[test]
fn verify_hs256_runs_alone_accepts_a_good_token_and_refuses_a_forged_one() {
    let (code, stdout, stderr) = run(&mut example("verify_hs256"));
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(
        stdout.starts_with("valid: sub=my-service expires in "),
        "{stdout}"
    );

    let secret = Secret::from_bytes(API_SECRET).unwrap();
    let claims = GenericProfile::subject("batch").expires_in("5m").unwrap();
    let token = hs256(&secret).mint(&claims.claims(now()).unwrap()).unwrap();
    let (code, stdout, stderr) = run(example("verify_hs256")
        .env("JWT_SECRET_KEY", API_SECRET)
        .arg(&token));
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(
        stdout.starts_with("valid: sub=batch expires in "),
        "{stdout}"
    );

    let forged = hs256(&Secret::generate(32).unwrap())
        .mint(&claims.claims(now()).unwrap())
        .unwrap();
    let (code, stdout, stderr) = run(example("verify_hs256")
        .env("JWT_SECRET_KEY", API_SECRET)
        .arg(&forged));
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert!(stdout.starts_with("invalid: bad_signature: "), "{stdout}");
    assert!(
        !stdout.contains(&forged) && !stderr.contains(&forged),
        "the token is echoed"
    );
}

#[test]
fn verify_jwks_verifies_by_jwks_url_and_by_discovery() {
    let (code, stdout, stderr) = run(&mut example("verify_jwks"));
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert_eq!(
        stdout,
        "JWKS URL: valid: sub=alice aud=orders\ndiscovery: valid: sub=alice aud=orders\n"
    );
}

#[test]
fn two_issuers_routes_each_token_to_its_own_issuer() {
    let (code, stdout, stderr) = run(&mut example("two_issuers"));
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{stdout}");
    assert_eq!(
        lines[0],
        "service account: valid: issuer service-accounts sub batch"
    );
    assert_eq!(lines[1], "partner: valid: issuer partner sub acme");
    assert!(
        lines[2].starts_with("partner posing as a service account: invalid: "),
        "{stdout}"
    );
    assert!(
        lines[3].starts_with("unknown issuer: invalid: unknown_issuer: "),
        "{stdout}"
    );
}

/// The token after `kind: ` in the example's output.
fn token<'a>(stdout: &'a str, kind: &str) -> &'a str {
    stdout
        .lines()
        .find_map(|line| line.strip_prefix(kind)?.strip_prefix(": "))
        .unwrap_or_else(|| panic!("no {kind} token in {stdout}"))
}

#[test]
fn mint_tokens_mints_tokens_their_consumers_accept() {
    let (code, stdout, stderr) = run(example("mint_tokens")
        .arg("agent-linux-01")
        .env("JWT_SECRET_KEY", API_SECRET)
        .env("ENGINE_JWT_SECRET", ENGINE_SECRET)
        .env("CENTRIFUGO_HMAC_SECRET", CENTRIFUGO_SECRET));
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(!stderr.contains("not set"), "{stderr}");
    let hmac = |secret: Secret| Validator::hmac(&secret).unwrap();

    let api = hmac(Secret::from_bytes(API_SECRET).unwrap());
    let generic = api.validate(token(&stdout, "generic")).unwrap();
    assert_eq!(generic.claims["sub"], "agent-linux-01");

    // The engine's reading of its secret: base64.
    let engine = hmac(camunda_secret(ENGINE_SECRET).unwrap());
    let camunda = engine.validate(token(&stdout, "camunda")).unwrap();
    let mut names: Vec<&str> = camunda.claims.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "email",
            "exp",
            "iat",
            "isActive",
            "isSuperuser",
            "isVerified",
            "sub"
        ]
    );

    let centrifugo = hmac(Secret::from_bytes(CENTRIFUGO_SECRET).unwrap());
    let connection = centrifugo
        .validate(token(&stdout, "centrifugo connection"))
        .unwrap();
    assert_eq!(connection.claims["sub"], "agent-linux-01");
    assert!(connection.claims.get("channel").is_none());
    let subscription = centrifugo
        .validate(token(&stdout, "centrifugo subscription"))
        .unwrap();
    assert_eq!(
        subscription.claims["channel"],
        "agents.test-tenant.agent-linux-01"
    );

    // Without the variables: random secrets, said on stderr, still four tokens.
    let (code, stdout, stderr) = run(&mut example("mint_tokens"));
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert_eq!(stdout.lines().count(), 4, "{stdout}");
    assert!(stderr.contains("ENGINE_JWT_SECRET is not set"), "{stderr}");
}

/// A stand-in OIDC provider on 127.0.0.1: its discovery document and JWK Set, one ES256 key.
struct Idp {
    issuer: String,
    minter: Minter,
}

impl Idp {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let pair = keygen::generate(Algorithm::ES256, 2048).unwrap();
        let discovery = json!({ "issuer": issuer, "jwks_uri": format!("{issuer}/jwks") });
        let jwks = serde_json::to_string(&JwkSet {
            keys: vec![pair.public_jwk.clone()],
        })
        .unwrap();
        let discovery = discovery.to_string();
        std::thread::spawn(move || {
            for mut stream in listener.incoming().flatten() {
                let head = read_head(&mut stream);
                let (status, body) = match head.split(' ').nth(1) {
                    Some("/.well-known/openid-configuration") => ("200 OK", discovery.as_str()),
                    Some("/jwks") => ("200 OK", jwks.as_str()),
                    _ => ("404 Not Found", "{}"),
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        let signer = SigningKey::from_pem(Some(Algorithm::ES256), &pair.private_pem)
            .unwrap()
            .with_kid(pair.public_jwk.kid.clone());
        Self {
            issuer,
            minter: Minter::new(signer),
        }
    }

    /// A token of this IdP for `orders` with these realm roles and scope.
    fn token(&self, roles: &[&str], scope: &str) -> String {
        let claims = GenericProfile::subject("alice")
            .issuer(&self.issuer)
            .audience("orders")
            .expires_in("5m")
            .unwrap()
            .claim("realm_access", json!({ "roles": roles }))
            .claim("scope", scope);
        self.minter.mint(&claims.claims(now()).unwrap()).unwrap()
    }
}

/// The request or response head (up to the blank line).
fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).is_ok_and(|n| n == 1) {
        head.push(byte[0]);
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// One HTTP/1.1 request; the status and the body parsed as JSON (`Value::Null` when not JSON).
fn request(address: &str, method: &str, path: &str, token: Option<&str>) -> (u16, Value) {
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let authorization = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\n{authorization}Content-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let head = read_head(&mut stream);
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut body = String::new();
    stream.read_to_string(&mut body).unwrap();
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

/// Kills the server example when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn axum_service_answers_401_403_and_200_as_json_for_both_issuers() {
    let idp = Idp::start();
    let mut child = Running(
        example("axum_service")
            .env("OIDC_URL", &idp.issuer)
            .env("OIDC_AUDIENCE", "orders")
            .env("JWT_SECRET_KEY", API_SECRET)
            .env("BIND", "127.0.0.1:0")
            .stdout(Stdio::piped())
            .spawn()
            .expect("the example starts"),
    );
    let stdout = BufReader::new(child.0.stdout.take().unwrap());
    let address = stdout
        .lines()
        .map_while(Result::ok)
        .find_map(|line| line.strip_prefix("listening on http://").map(str::to_owned))
        .expect("the example prints the address it listens on");
    let address = address.as_str();

    let service = hs256(&Secret::from_bytes(API_SECRET).unwrap());
    let service_token = service
        .mint(
            &GenericProfile::subject("batch")
                .issuer("urn:service-accounts")
                .expires_in("5m")
                .unwrap()
                .claims(now())
                .unwrap(),
        )
        .unwrap();

    assert_eq!(request(address, "GET", "/health", None).0, 200);

    let (status, body) = request(address, "GET", "/me", None);
    assert_eq!(status, 401, "{body}");
    assert!(
        body["error"].is_string() && body["detail"].is_string(),
        "{body}"
    );
    let (status, body) = request(address, "GET", "/me", Some("not.a.token"));
    assert_eq!(
        (status, &body["error"]),
        (401, &json!("malformed")),
        "{body}"
    );

    let (status, body) = request(address, "GET", "/me", Some(&service_token));
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({ "sub": "batch", "iss": "urn:service-accounts" })
    );
    let (status, body) = request(address, "GET", "/me", Some(&idp.token(&[], "")));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["iss"], json!(idp.issuer));

    let approver = idp.token(&["approver"], "orders:read orders:write");
    let (status, body) = request(address, "POST", "/approve", Some(&approver));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({ "approved_by": "alice" }));
    for (token, detail) in [
        (
            idp.token(&["viewer"], "orders:write"),
            "needs the realm role approver",
        ),
        (
            idp.token(&["approver"], "orders:read"),
            "needs the scope orders:write",
        ),
        (service_token.clone(), "needs the realm role approver"),
    ] {
        let (status, body) = request(address, "POST", "/approve", Some(&token));
        assert_eq!(status, 403, "{body}");
        assert_eq!(body, json!({ "error": "forbidden", "detail": detail }));
    }
}

#[test]
fn axum_service_without_its_configuration_says_what_to_set() {
    let (code, stdout, stderr) = run(&mut example("axum_service"));
    assert_ne!(code, Some(0), "{stdout}{stderr}");
    assert!(stderr.contains("set OIDC_URL"), "{stderr}");
}
