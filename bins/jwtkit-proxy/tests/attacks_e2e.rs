//! The attack corpus of `jwtkit_testsupport::attacks` against the real proxy: each entry, sent as
//! a Bearer token, is answered 401 with the entry's code in the proxy's JSON error format, and
//! the upstream (the fake engine) never sees the request. Tokens whose header is over
//! `limits.max_header_bytes` are answered 431 `headers_too_large` instead, and the one too big
//! for the HTTP server's header buffer may be refused before any handler runs (431 or the
//! connection closed). The corpus's valid tokens are the control (200, forwarded); a valid token
//! replayed on a route requiring another audience is 403 while the verified-token cache holds
//! it. The proxy logs at trace level and its log must hold none of the tokens.
//!
//! Failures are collected and reported by entry name, never with the token.

mod common;

use std::fmt::Write as _;

use common::*;
use jwtkit_testsupport::attacks::{Attack, Corpus, Keys, Target};
use reqwest::header::{AUTHORIZATION, HeaderValue};

/// `limits.max_header_bytes` of the test proxy (the default, written out).
const MAX_HEADER_BYTES: usize = 32 * 1024;

/// The path every forwarded request leaves as the engine's last request.
const CONTROL_PATH: &str = "/__test/echo/control";

struct Stack {
    engine: Engine,
    proxy: Proxy,
    target: Target,
    corpus: Corpus,
}

/// The fake engine (no auth) behind a proxy trusting the corpus issuer (its key set as a file)
/// and the second issuer, both for the corpus audience; `/t` is open to them, `/admin` requires
/// the other audience on top.
async fn stack() -> Stack {
    let keys = Keys::generate();
    let target = Target::now();
    let corpus = Corpus::build(&keys, &target);
    let dir = tempfile::tempdir().expect("temp dir");
    let issuer_jwks = dir.path().join("issuer-jwks.json");
    let other_jwks = dir.path().join("other-jwks.json");
    std::fs::write(&issuer_jwks, keys.issuer_jwks()).expect("write JWKS");
    std::fs::write(&other_jwks, keys.other_jwks()).expect("write JWKS");
    let engine = Engine::start(&["--auth", "none"]);
    let toml = format!(
        r#"
[limits]
max_header_bytes = {MAX_HEADER_BYTES}

[[issuers]]
name = "a"
iss = ["{iss}"]
jwks_file = "{issuer_jwks}"
audiences = ["{aud}"]

[[issuers]]
name = "b"
iss = ["{other_iss}"]
jwks_file = "{other_jwks}"
audiences = ["{aud}"]

[[upstreams]]
name = "engine"
url = "{engine}"
timeout_seconds = 5

[[routes]]
prefix = "/t"
upstream = "engine"
strip_prefix = true

[[routes]]
prefix = "/admin"
upstream = "engine"
strip_prefix = true
audiences = ["{other_aud}"]
"#,
        iss = target.issuer,
        other_iss = target.other_issuer,
        aud = target.audience,
        other_aud = target.other_audience,
        issuer_jwks = issuer_jwks.display(),
        other_jwks = other_jwks.display(),
        engine = engine.url(),
    );
    let proxy = Proxy::with_toml(&toml, &[("JWTKIT_LOG_LEVEL", "trace")]).await;
    // The key files are read at start; the directory may go.
    drop(dir);
    Stack {
        engine,
        proxy,
        target,
        corpus,
    }
}

/// What the proxy answered, or why there was no answer.
enum Answer {
    Reply(Reply),
    NoReply(String),
}

/// `GET path` with `Authorization: Bearer <token>`, the header built from the raw bytes (some
/// corpus tokens are not visible ASCII, which reqwest's `bearer_auth` refuses to send).
async fn send(proxy: &Proxy, path: &str, token: &str) -> Answer {
    let value = HeaderValue::from_bytes(format!("Bearer {token}").as_bytes())
        .expect("corpus tokens have no control characters but tab");
    match client()
        .get(proxy.url(path))
        .header(AUTHORIZATION, value)
        .send()
        .await
    {
        Ok(response) => Answer::Reply(Reply::of(response).await),
        // Never the error's Display: it might quote the request.
        Err(err) => Answer::NoReply(format!(
            "no reply (connect {}, timeout {}, request {}, body {})",
            err.is_connect(),
            err.is_timeout(),
            err.is_request(),
            err.is_body()
        )),
    }
}

/// What the proxy must answer `attack` with.
#[derive(Debug, PartialEq)]
enum Expect {
    /// 401 with this code.
    Unauthorized(&'static str),
    /// 431 `headers_too_large` from the proxy's header limit.
    HeadersTooLarge,
    /// Over the HTTP server's own header buffer: 431 in any format, or the connection closed.
    RefusedByTheServer,
}

fn expectation(attack: &Attack) -> Expect {
    let header = "authorization".len() + "Bearer ".len() + attack.token.len();
    if !attack
        .token
        .bytes()
        .all(|b| b == b'\t' || (0x20..0x7F).contains(&b))
    {
        // Not a visible-ASCII header value: the proxy finds no readable bearer token.
        return Expect::Unauthorized("missing_token");
    }
    if header + 1024 <= MAX_HEADER_BYTES {
        Expect::Unauthorized(attack.code)
    } else if header <= 256 * 1024 {
        assert!(
            header > MAX_HEADER_BYTES + 1024,
            "{attack:?} is too close to the header limit"
        );
        Expect::HeadersTooLarge
    } else if header >= 1024 * 1024 {
        Expect::RefusedByTheServer
    } else {
        panic!("{attack:?}: between the proxy's and the server's header limits; make it clear-cut")
    }
}

/// What is wrong with `answer` given `expect`, if anything.
fn problem(expect: &Expect, answer: &Answer) -> Option<String> {
    let reply = match (expect, answer) {
        (Expect::RefusedByTheServer, Answer::NoReply(_)) => return None,
        (_, Answer::NoReply(why)) => return Some(why.clone()),
        (_, Answer::Reply(reply)) => reply,
    };
    let (status, code) = match expect {
        Expect::Unauthorized(code) => (401, Some(*code)),
        Expect::HeadersTooLarge => (431, Some("headers_too_large")),
        Expect::RefusedByTheServer => (431, None),
    };
    let got = reply.json["error"].as_str().unwrap_or("<no JSON error>");
    if reply.status != status || code.is_some_and(|code| got != code) {
        return Some(format!("got {} {got}", reply.status));
    }
    if code.is_some() && reply.json["detail"].as_str().is_none_or(str::is_empty) {
        return Some("no detail".into());
    }
    if status == 401
        && !reply
            .header("www-authenticate")
            .is_some_and(|v| v.starts_with("Bearer"))
    {
        return Some("401 without a Bearer challenge".into());
    }
    None
}

async fn assert_control_passes(stack: &Stack) {
    let token = &stack.corpus.legit[0].token;
    match send(&stack.proxy, &format!("/t{CONTROL_PATH}"), token).await {
        Answer::Reply(reply) => assert_eq!(reply.status, 200, "control: {}", reply.text()),
        Answer::NoReply(why) => panic!("control: {why}"),
    }
    assert_eq!(stack.engine.last_request().await.path(), CONTROL_PATH);
}

#[tokio::test]
async fn every_attack_is_401_with_its_code_and_never_reaches_the_upstream() {
    let stack = stack().await;
    assert_control_passes(&stack).await;
    let mut failures = String::new();
    let mut server_refusals = 0;
    for (index, attack) in stack.corpus.attacks.iter().enumerate() {
        let expect = expectation(attack);
        let path = format!("/t/__test/echo/attack-{index}");
        let answer = send(&stack.proxy, &path, &attack.token).await;
        if let Some(problem) = problem(&expect, &answer) {
            let _ = writeln!(
                failures,
                "{} ({} bytes, expected {expect:?}): {problem}",
                attack.name,
                attack.token.len()
            );
        }
        if expect == Expect::RefusedByTheServer {
            server_refusals += 1;
        }
        // Nothing reached the engine since the control request.
        let seen = stack.engine.last_request().await;
        if seen.path() != CONTROL_PATH {
            let _ = writeln!(failures, "{}: the upstream received a request", attack.name);
        }
    }
    assert!(failures.is_empty(), "corpus mismatches:\n{failures}");
    assert_eq!(
        server_refusals, 1,
        "only the 10 MB token is over the server's buffer"
    );

    // Still serving, and the trace-level log holds none of the tokens.
    assert_control_passes(&stack).await;
    let log = stack.proxy.stderr.text();
    assert!(log.contains("\"status\":401"), "rejections are logged");
    for attack in &stack.corpus.attacks {
        let signature = attack.token.rsplit('.').next().unwrap_or_default();
        for needle in [attack.token.as_str(), signature] {
            assert!(
                needle.len() < 16 || !log.contains(needle),
                "{}: the proxy log contains the token",
                attack.name
            );
        }
    }
}

#[tokio::test]
async fn the_corpus_controls_are_forwarded_without_the_token() {
    let stack = stack().await;
    let mut failures = String::new();
    for (index, legit) in stack.corpus.legit.iter().enumerate() {
        let path = format!("/__test/echo/legit-{index}");
        match send(&stack.proxy, &format!("/t{path}"), &legit.token).await {
            Answer::Reply(reply) if reply.status == 200 => {
                let seen = stack.engine.last_request().await;
                if seen.path() != path {
                    let _ = writeln!(failures, "{}: not forwarded", legit.name);
                }
                if seen.header("authorization").is_some() {
                    let _ = writeln!(failures, "{}: the token was forwarded", legit.name);
                }
            }
            Answer::Reply(reply) => {
                let _ = writeln!(
                    failures,
                    "{}: {} {}",
                    legit.name, reply.status, reply.json["error"]
                );
            }
            Answer::NoReply(why) => {
                let _ = writeln!(failures, "{}: {why}", legit.name);
            }
        }
    }
    assert!(failures.is_empty(), "valid tokens refused:\n{failures}");
}

/// One registry and its verified-token cache serve every route: a token accepted (and cached)
/// on `/t` is still refused on `/admin`, which requires another audience, before and after.
#[tokio::test]
async fn a_valid_token_replayed_on_a_route_requiring_another_audience_is_403() {
    let stack = stack().await;
    let replay = &stack.corpus.replay;
    assert_eq!(replay.audience, stack.target.audience);
    for round in 0..2 {
        let path = format!("/__test/echo/replay-{round}");
        match send(&stack.proxy, &format!("/t{path}"), &replay.token).await {
            Answer::Reply(reply) => assert_eq!(reply.status, 200, "{}", reply.text()),
            Answer::NoReply(why) => panic!("{why}"),
        }
        assert_eq!(stack.engine.last_request().await.path(), path);
        match send(&stack.proxy, "/admin/__test/echo/replayed", &replay.token).await {
            Answer::Reply(reply) => {
                let detail = reply.assert_error(403, "forbidden");
                assert!(detail.contains("audience"), "{detail}");
            }
            Answer::NoReply(why) => panic!("{why}"),
        }
        assert_eq!(stack.engine.last_request().await.path(), path);
    }
}
