//! Route rules cannot be dodged by spelling a path differently. A strict route `/api/admin`
//! (`require_claims = { role = "admin" }`) and a loose route `/api` send to the same upstream,
//! a raw echo server on 127.0.0.1 that reports the request target exactly as it arrived. Each
//! spelling is written on a plain TCP connection (no client library normalises it) twice: with
//! a token without the role and with one that has it. Every spelling either falls under the
//! strict route's rules (403 without the role; with it the upstream gets exactly the canonical
//! path), is a path outside `/api/admin` in any reading (the loose route, canonical path), or is
//! refused with `400 invalid_path` without reaching the upstream.

mod common;

use common::*;
use serde_json::json;

/// What the proxy must do with one spelling.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// The strict route's rules apply; with the role the upstream gets this request target.
    Strict(&'static str),
    /// Not below the strict prefix in any reading: the loose route forwards this target.
    Loose(&'static str),
    /// `400 invalid_path`, the upstream is not reached.
    Refused,
}

use Expect::{Loose, Refused, Strict};

/// Spellings against `/api/admin` (strict, `case_insensitive`) and `/api` (loose), both with the
/// path kept, and `/s/admin` (strict, `case_insensitive`) and `/s` (loose), both stripping it.
const TABLE: &[(&str, Expect)] = &[
    // The strict route's own spelling.
    ("/api/admin/x", Strict("/api/admin/x")),
    ("/api/admin", Strict("/api/admin")),
    ("/api/admin/", Strict("/api/admin/")),
    ("/api/admin?y=1", Strict("/api/admin?y=1")),
    // Percent-encoded unreserved characters are decoded.
    ("/api/%61dmin/x", Strict("/api/admin/x")),
    ("/api/adm%69n/x", Strict("/api/admin/x")),
    ("/api/%61%64%6d%69%6e/x", Strict("/api/admin/x")),
    ("/api/%61%64%6D%69%6E/x", Strict("/api/admin/x")),
    ("/%61pi/admin/x", Strict("/api/admin/x")),
    ("/api/admin/%7e%2D%5f%2E%41", Strict("/api/admin/~-_.A")),
    // Other escapes stay, in upper-case hex; characters a path cannot hold raw are escaped.
    ("/api/admin/a%3ab", Strict("/api/admin/a%3Ab")),
    ("/api/admin/%c3%a9", Strict("/api/admin/%C3%A9")),
    ("/api/admin/\u{e9}", Strict("/api/admin/%C3%A9")),
    ("/api/admin/a%20b", Strict("/api/admin/a%20b")),
    ("/api/admin/{x}", Strict("/api/admin/%7Bx%7D")),
    // Duplicate slashes are collapsed.
    ("/api//admin/x", Strict("/api/admin/x")),
    ("//api/admin/x", Strict("/api/admin/x")),
    ("/api///admin//x//", Strict("/api/admin/x/")),
    // Letter case: this strict route is `case_insensitive`.
    ("/api/ADMIN/x", Strict("/api/ADMIN/x")),
    ("/API/Admin/x", Strict("/API/Admin/x")),
    ("/api/%41dmin/x", Strict("/api/Admin/x")),
    // An absolute-form request target.
    ("http://proxy.test/api/%61dmin//x", Strict("/api/admin/x")),
    // The query is not the path: passed on as it came.
    (
        "/api/%61dmin?q=%2f%2e%2e&r=%61",
        Strict("/api/admin?q=%2f%2e%2e&r=%61"),
    ),
    // Path parameters (Tomcat and Spring drop them), also encoded.
    ("/api/admin;/x", Refused),
    ("/api/admin;jsessionid=1/x", Refused),
    ("/api/x/..;/admin/x", Refused),
    ("/api;/admin/x", Refused),
    ("/api/admin/x;", Refused),
    ("/api/admin%3b/x", Refused),
    ("/api/admin%3B/x", Refused),
    // Dot segments in every spelling.
    ("/api/x/../admin/x", Refused),
    ("/api/./admin/x", Refused),
    ("/api/%2e/admin/x", Refused),
    ("/api/x/%2e%2e/admin/x", Refused),
    ("/api/x/%2E%2E/admin/x", Refused),
    ("/api/x/.%2e/admin/x", Refused),
    ("/api/admin/..", Refused),
    // Encoded slashes, raw and encoded backslashes.
    ("/api%2fadmin/x", Refused),
    ("/api%2Fadmin/x", Refused),
    ("/api/x%2f..%2fadmin/x", Refused),
    ("/api\\admin/x", Refused),
    ("/api/x\\..\\admin/x", Refused),
    ("/api%5cadmin/x", Refused),
    ("/api%5Cadmin/x", Refused),
    // Encoded NUL and control characters.
    ("/api/admin%00/x", Refused),
    ("/api/admin%0a/x", Refused),
    ("/api/admin%0D%0A/x", Refused),
    ("/api/admin%09/x", Refused),
    ("/api/admin%7f/x", Refused),
    // Double encoding (a second decoding would read `admin`, `..`).
    ("/api/%2561dmin/x", Refused),
    ("/api/x/%252e%252e/admin/x", Refused),
    // Broken escapes.
    ("/api/admin%/x", Refused),
    ("/api/admin%4/x", Refused),
    ("/api/admin%zz/x", Refused),
    // Outside `/api/admin` in any reading: the loose route, canonical path.
    ("/api/administrator/x", Loose("/api/administrator/x")),
    ("/api/adminx", Loose("/api/adminx")),
    ("/api/other//x", Loose("/api/other/x")),
    ("/api/%6fther", Loose("/api/other")),
    // strip_prefix routes forward the canonical path below the matched prefix.
    ("/s/admin/x", Strict("/x")),
    ("/s/%61dmin//x", Strict("/x")),
    ("/s//ADMIN/x", Strict("/x")),
    ("/s/admin", Strict("/")),
    ("/s/other/%7e", Loose("/other/~")),
    ("/s/x/..;/admin/x", Refused),
];

/// The routes of [`TABLE`]; `case` is the strict routes' extra key.
fn routes(case: &str) -> String {
    format!(
        r#"
[[routes]]
prefix = "/api/admin"
upstream = "echo"
require_claims = {{ role = "admin" }}
{case}

[[routes]]
prefix = "/api"
upstream = "echo"

[[routes]]
prefix = "/s/admin"
upstream = "echo"
strip_prefix = true
require_claims = {{ role = "admin" }}
{case}

[[routes]]
prefix = "/s"
upstream = "echo"
strip_prefix = true
"#
    )
}

/// `GET target` with `token` on its own connection.
async fn send(proxy: &Proxy, target: &str, token: &str) -> RawReply {
    let request = format!(
        "GET {target} HTTP/1.1\r\nHost: proxy.test\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    );
    raw_request(proxy.addr, request.as_bytes()).await
}

/// What went wrong with one spelling, if anything.
async fn check(proxy: &Proxy, echo: &RawEcho, target: &str, expect: Expect) -> Option<String> {
    let plain = hs_token("bob", json!({}));
    let admin = hs_token("root", json!({ "role": "admin" }));
    let hits = echo.hits();
    let forwarded = |reply: &RawReply, want: &str| -> Option<String> {
        let got = reply.json()["target"].as_str().map(str::to_owned);
        (reply.status != 200 || got.as_deref() != Some(want)).then(|| {
            format!(
                "expected the upstream to get {want}, got {} {}",
                reply.status,
                reply.text()
            )
        })
    };
    let refused = |reply: &RawReply, status: u16, code: &str| -> Option<String> {
        (reply.status != status || reply.json()["error"] != code).then(|| {
            format!(
                "expected {status} {code}, got {} {}",
                reply.status,
                reply.text()
            )
        })
    };
    let problem = match expect {
        Strict(want) => {
            let without = send(proxy, target, &plain).await;
            if let Some(problem) = refused(&without, 403, "insufficient_scope") {
                Some(format!("without the role: {problem}"))
            } else if echo.hits() != hits {
                Some("without the role the upstream was reached".to_owned())
            } else {
                let with = send(proxy, target, &admin).await;
                forwarded(&with, want).map(|p| format!("with the role: {p}"))
            }
        }
        Loose(want) => forwarded(&send(proxy, target, &plain).await, want),
        Refused => {
            let mut problem = None;
            for token in [&plain, &admin] {
                if let Some(p) = refused(&send(proxy, target, token).await, 400, "invalid_path") {
                    problem = Some(p);
                    break;
                }
            }
            problem.or_else(|| (echo.hits() != hits).then(|| "the upstream was reached".to_owned()))
        }
    };
    problem.map(|p| format!("{target:?}: {p}"))
}

async fn run_table(proxy: &Proxy, echo: &RawEcho, table: &[(&str, Expect)]) {
    let mut problems = Vec::new();
    for (target, expect) in table {
        if let Some(problem) = check(proxy, echo, target, *expect).await {
            problems.push(problem);
        }
    }
    assert!(
        problems.is_empty(),
        "{} of {} spellings failed:\n{}",
        problems.len(),
        table.len(),
        problems.join("\n")
    );
}

#[tokio::test]
async fn every_spelling_of_a_strict_path_gets_its_rules_or_is_refused() {
    assert!(TABLE.len() >= 30);
    let echo = RawEcho::start().await;
    let toml = echo_toml("", &echo.url(), &routes("case_insensitive = true"));
    let proxy = Proxy::with_toml(&toml, &[]).await;
    run_table(&proxy, &echo, TABLE).await;
}

#[tokio::test]
async fn routes_are_case_sensitive_unless_configured_otherwise() {
    let echo = RawEcho::start().await;
    let proxy = Proxy::with_toml(&echo_toml("", &echo.url(), &routes("")), &[]).await;
    run_table(
        &proxy,
        &echo,
        &[
            ("/api/admin/x", Strict("/api/admin/x")),
            ("/api/%61dmin/x", Strict("/api/admin/x")),
            // A case-sensitive upstream reads these as other paths, and gets them as sent.
            ("/api/ADMIN/x", Loose("/api/ADMIN/x")),
            ("/api/%41DMIN/x", Loose("/api/ADMIN/x")),
            ("/s/Admin/x", Loose("/Admin/x")),
        ],
    )
    .await;
}

#[tokio::test]
async fn route_prefixes_are_read_in_their_canonical_form_and_must_be_plain() {
    let echo = RawEcho::start().await;
    // A prefix written with escapes and a trailing slash is the same prefix.
    let toml = echo_toml(
        "",
        &echo.url(),
        r#"
[[routes]]
prefix = "/api/%61dmin/"
upstream = "echo"
require_claims = { role = "admin" }

[[routes]]
prefix = "/api"
upstream = "echo"
"#,
    );
    let proxy = Proxy::with_toml(&toml, &[]).await;
    run_table(
        &proxy,
        &echo,
        &[
            ("/api/admin/x", Strict("/api/admin/x")),
            ("/api/%61dmin/x", Strict("/api/admin/x")),
        ],
    )
    .await;
    drop(proxy);
    // Characters other than letters, digits, `-._~` and `/` have several spellings that
    // upstreams read alike (`:` and `%3A`): such a prefix is refused at start.
    for prefix in [
        "/api/a:b",
        "/api/a;b",
        "/api/../x",
        "/api/a%2Fb",
        "/api/a b",
    ] {
        let toml = echo_toml(
            "",
            &echo.url(),
            &format!("[[routes]]\nprefix = \"{prefix}\"\nupstream = \"echo\"\n"),
        );
        let exit = run_to_exit(Some(&toml), &[("JWT_SECRET_KEY", HS_SECRET)]);
        assert_eq!(exit.code, Some(1), "{prefix}: {exit:?}");
        assert!(
            exit.stderr.contains("routes[0].prefix"),
            "{prefix}: {exit:?}"
        );
    }
}

/// The Camunda facade's paths and the metrics label are matched on the canonical path too: an
/// escaped facade path is the facade, not the generic `/api` route behind it.
#[tokio::test]
async fn facade_paths_and_metric_labels_use_the_canonical_path() {
    let echo = RawEcho::start().await;
    let engine = Engine::start(&["--auth", "none"]);
    let toml = echo_toml(
        "",
        &echo.url(),
        &format!(
            r#"
[[upstreams]]
name = "engine"
url = "{}"
timeout_seconds = 5

[[routes]]
prefix = "/api"
upstream = "echo"

[camunda]
upstream = "engine"
"#,
            engine.rest_url()
        ),
    );
    let proxy = Proxy::with_toml(&toml, &[]).await;
    // `/health` (asked while the proxy starts) probes every upstream.
    let echo_hits = echo.hits();
    let token = hs_token("alice", json!({}));
    for target in [
        "/api/processes",
        "/api/%70rocesses",
        "/api//processes",
        "//api/processes",
        "/%61pi/processes",
    ] {
        let reply = send(&proxy, target, &token).await;
        assert_eq!(reply.status, 200, "{target}: {}", reply.text());
        assert!(
            reply.json().is_array(),
            "{target}: not the facade's process list: {}",
            reply.text()
        );
        assert_eq!(
            engine.last_request().await.path(),
            "/engine-rest/process-definition",
            "{target}"
        );
    }
    let reply = send(&proxy, "/api/processes/%69nvoice", &token).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json()["key"], "invoice", "{}", reply.text());
    assert_eq!(
        echo.hits(),
        echo_hits,
        "the generic /api route got a facade path"
    );
    // Refused spellings are refused on facade paths as well.
    let reply = send(&proxy, "/api/processes;x=1", &token).await;
    assert_eq!(reply.json()["error"], "invalid_path", "{}", reply.text());

    let metrics = metrics_text(&proxy).await;
    let count = |route: &str| -> u64 {
        metrics
            .lines()
            .filter(|l| l.starts_with("jwtkit_proxy_requests_total{") && l.contains(route))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum()
    };
    assert_eq!(count("route=\"/api/processes\""), 5, "{metrics}");
    assert!(!metrics.contains("%70"), "{metrics}");
}
