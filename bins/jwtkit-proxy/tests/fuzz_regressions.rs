//! The `proxy` fuzz target's committed inputs, replayed through its harness
//! (`fuzz/harness/proxy.rs`: the router built in process, requests sent with `oneshot`) in the
//! normal test suite: the seed corpus and every regression input under
//! `fuzz/regressions/proxy/`.

#[path = "../../../fuzz/harness/proxy.rs"]
mod proxy;
#[path = "../../../fuzz/harness/replay.rs"]
mod replay;

#[test]
fn proxy_seed_corpus_replays() {
    let count = replay::replay("corpus", "proxy", proxy::run);
    assert!(count >= 10, "only {count} seeds under fuzz/corpus/proxy");
}

#[test]
fn proxy_regressions_replay() {
    replay::replay("regressions", "proxy", proxy::run);
}

/// One input: method index, token mode, placement, stub status index, then the five fields.
fn input(method: u8, mode: u8, placement: u8, status: u8, fields: [&str; 5]) -> Vec<u8> {
    let mut out = vec![method, mode | placement << 3 | status << 5];
    for (index, field) in fields.iter().enumerate() {
        if index > 0 {
            out.push(0xFF);
        }
        out.extend_from_slice(field.as_bytes());
    }
    out
}

/// Writes the seed corpus: `cargo test -p jwtkit-proxy --test fuzz_regressions -- --ignored`.
#[test]
#[ignore = "writes fuzz/corpus/proxy; run by hand when the input layout changes"]
fn write_proxy_seed_corpus() {
    let forged = "x-user-id: admin\nx-auth-roles: root\nx-request-id: 42\naccept: application/json";
    let claims = proxy::default_claims(proxy::SERVICES_ISS, proxy::FAR_EXP).to_string();
    let json = "content-type: application/json";
    let seeds: [(&str, Vec<u8>); 16] = [
        ("health", input(0, 0, 0, 0, ["/health", "", "", "", ""])),
        (
            "metrics-head",
            input(6, 0, 0, 0, ["/metrics", "", "", "", ""]),
        ),
        (
            "up-get-forged-headers",
            input(
                0,
                1,
                0,
                0,
                ["/up/items?x=1&y=%20", forged, "", "", r#"{"ok":true}"#],
            ),
        ),
        (
            "up-post-cookie",
            input(
                1,
                1,
                1,
                1,
                [
                    "/up/items",
                    "cookie: a=1\ncontent-type: text/plain",
                    "",
                    "hello body",
                    "created",
                ],
            ),
        ),
        (
            "pass-query-users",
            input(3, 2, 2, 0, ["/pass/x?keep=1", forged, "", "{}", "[]"]),
        ),
        (
            "down-unreachable",
            input(4, 1, 3, 0, ["/down/x", "", "", "", ""]),
        ),
        (
            "up-claims-from-input",
            input(0, 3, 0, 0, ["/up/", forged, &claims, "", ""]),
        ),
        (
            "up-raw-token",
            input(
                0,
                4,
                0,
                0,
                ["/up/x", "", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", "", ""],
            ),
        ),
        (
            "up-untrusted",
            input(1, 5, 0, 0, ["/up/x", "", &claims, "body", ""]),
        ),
        ("up-expired", input(0, 6, 1, 0, ["/up/x", "", "", "", ""])),
        (
            "camunda-start",
            input(
                1,
                1,
                0,
                0,
                [
                    "/api/processes/invoice/start",
                    json,
                    "",
                    r#"{"variables":{"amount":30,"when":"2024-01-01T00:00:00Z","tags":["a"]},"businessKey":"b1"}"#,
                    r#"{"id":"i1","definitionId":"d1"}"#,
                ],
            ),
        ),
        (
            "camunda-tasks",
            input(
                0,
                2,
                2,
                0,
                [
                    "/api/tasks?assignee=u1&processInstanceId=p1",
                    "",
                    "",
                    "",
                    r#"[{"id":"t1","name":"Review"}]"#,
                ],
            ),
        ),
        (
            "camunda-complete",
            input(
                1,
                1,
                0,
                2,
                [
                    "/api/tasks/t1/complete",
                    json,
                    "",
                    r#"{"variables":{"initiator":"evil","ok":true}}"#,
                    "",
                ],
            ),
        ),
        (
            "centrifugo-connection",
            input(1, 1, 0, 0, ["/token/centrifugo", "", "", "", ""]),
        ),
        (
            "centrifugo-subscription",
            input(
                1,
                7,
                0,
                0,
                [
                    "/token/centrifugo/subscription",
                    json,
                    &proxy::default_claims(proxy::USERS_ISS, proxy::FAR_EXP).to_string(),
                    r#"{"channel":"agents.t1.user-1"}"#,
                    "",
                ],
            ),
        ),
        (
            "cors-preflight",
            input(
                5,
                0,
                0,
                0,
                [
                    "/up/x",
                    "origin: http://localhost:3000\naccess-control-request-method: POST",
                    "",
                    "",
                    "",
                ],
            ),
        ),
    ];
    for (name, data) in seeds {
        replay::write_seed("proxy", name, &data);
    }
}
