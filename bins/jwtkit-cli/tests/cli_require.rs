//! `jwtkit verify --require-claim PATH=VALUE`, `--require-scope SCOPE` and `--allow-if CEL`
//! through the real binary: identity-provider claim shapes, any-of values for a repeated path,
//! JSON numbers and booleans, CEL expressions, the `invalid: insufficient_scope: <rule>`
//! verdict and usage errors.

mod common;

use common::*;

/// A token with a Keycloak realm role and client role, Auth0 permissions and a namespaced claim,
/// Azure `scp` and `roles`, Clerk's `org_role`, and an OAuth `scope`.
fn token(secret: &str) -> String {
    mint([
        "--secret",
        secret,
        "--expires-in",
        "5m",
        "--claim",
        r#"realm_access={"roles":["offline_access","admin"]}"#,
        "--claim",
        r#"resource_access={"orders-app":{"roles":["reader"]}}"#,
        "--claim",
        r#"permissions=["read:orders","create:orders"]"#,
        "--claim",
        r#"https://example.com/roles=["support"]"#,
        "--claim",
        "scp=Orders.Read Orders.Write",
        "--claim",
        r#"roles=["Orders.Admin"]"#,
        "--claim",
        "org_role=org:admin",
        "--claim",
        "scope=openid read",
        "--claim",
        "level=3",
        "--claim",
        "email_verified=true",
    ])
}

fn verify<'a>(secret: &'a str, token: &'a str, extra: &[&'a str]) -> Run {
    let mut args = vec!["verify", "--secret", secret];
    args.extend_from_slice(extra);
    args.push(token);
    run(args)
}

#[test]
fn rules_that_hold_print_the_claims() {
    let secret = generate_secret(32);
    let token = token(&secret);
    let held = verify(
        &secret,
        &token,
        &[
            "--require-claim",
            "/realm_access/roles=admin",
            "--require-claim",
            "/resource_access/orders-app/roles=reader",
            "--require-claim",
            "permissions=create:orders",
            "--require-claim",
            "/https:~1~1example.com~1roles=support",
            "--require-claim",
            "roles=Orders.Admin",
            "--require-claim",
            "org_role=org:admin",
            "--require-claim",
            "level=3",
            "--require-claim",
            "email_verified=true",
            "--require-scope",
            "read",
            "--require-scope",
            "Orders.Write",
        ],
    )
    .ok();
    assert_eq!(held.json()["org_role"], "org:admin");
}

#[test]
fn a_failed_rule_is_insufficient_scope_naming_the_rule() {
    let secret = generate_secret(32);
    let token = token(&secret);
    verify(
        &secret,
        &token,
        &["--require-claim", "/realm_access/roles=auditor"],
    )
    .invalid("insufficient_scope")
    .stderr_has(&[r#"claim /realm_access/roles must contain "auditor""#]);
    verify(&secret, &token, &["--require-scope", "write"])
        .invalid("insufficient_scope")
        .stderr_has(&[r#"scope "write""#]);
    // A number or boolean compares as such: the string "3" is not the number 3.
    verify(&secret, &token, &["--require-claim", "level=4"]).invalid("insufficient_scope");
    let text = mint([
        "--secret",
        &secret,
        "--expires-in",
        "5m",
        "--claim",
        "level=\"3\"",
    ]);
    verify(&secret, &text, &["--require-claim", "level=3"])
        .invalid("insufficient_scope")
        .stderr_has(&["claim /level must contain 3"]);
    // The verdict never shows the caller's own values.
    let denied = verify(
        &secret,
        &token,
        &["--require-claim", "permissions=delete:orders"],
    )
    .invalid("insufficient_scope");
    assert!(
        !denied.stderr.contains("create:orders"),
        "{}",
        denied.stderr
    );
}

#[test]
fn a_repeated_path_accepts_any_of_its_values() {
    let secret = generate_secret(32);
    let token = token(&secret);
    let either = [
        "--require-claim",
        "/realm_access/roles=auditor",
        "--require-claim",
        "/realm_access/roles=admin",
    ];
    verify(&secret, &token, &either).ok();
    verify(
        &secret,
        &token,
        &[
            "--require-claim",
            "/realm_access/roles=auditor",
            "--require-claim",
            "/realm_access/roles=owner",
        ],
    )
    .invalid("insufficient_scope")
    .stderr_has(&[r#"claim /realm_access/roles must contain one of "auditor", "owner""#]);
}

#[test]
fn json_output_gives_the_verdict_on_stdout() {
    let secret = generate_secret(32);
    let token = token(&secret);
    let denied = verify(&secret, &token, &["--json", "--require-scope", "admin"]).exit(1);
    let verdict = denied.json();
    assert_eq!(verdict["valid"], false);
    assert_eq!(verdict["code"], "insufficient_scope");
    assert_eq!(verdict["reason"], "scope \"admin\"");
}

#[test]
fn a_token_refused_by_validation_keeps_its_own_code() {
    let secret = generate_secret(32);
    let forged = token(&generate_secret(32));
    verify(&secret, &forged, &["--require-scope", "read"]).invalid("bad_signature");
}

#[test]
fn malformed_requirements_are_usage_errors() {
    let secret = generate_secret(32);
    let token = token(&secret);
    for bad in [
        ["--require-claim", "/realm_access/roles"],
        ["--require-claim", "/a~2b=x"],
        ["--require-claim", "=x"],
        ["--require-scope", "read write"],
        ["--require-scope", ""],
    ] {
        verify(&secret, &token, &bad).exit(2);
    }
    verify(
        &secret,
        &token,
        &["--signature-only", "--require-scope", "read"],
    )
    .exit(2);
}

#[test]
fn allow_if_expressions_hold_or_name_the_failed_rule() {
    let secret = generate_secret(32);
    let token = token(&secret);
    verify(
        &secret,
        &token,
        &[
            "--allow-if",
            "'admin' in claims.realm_access.roles && has_scope('read')",
            "--allow-if",
            "'Orders.Admin' in claims.roles && has_scope('Orders.Write') && claims.level >= 3",
            "--allow-if",
            "'support' in claims['https://example.com/roles']",
        ],
    )
    .ok();
    verify(
        &secret,
        &token,
        &[
            "--allow-if",
            "has_scope('openid')",
            "--allow-if",
            "'auditor' in claims.realm_access.roles",
        ],
    )
    .invalid("insufficient_scope")
    .stderr_has(&[r#"allow_if "--allow-if[2]""#]);
    // A missing claim or a result that is not a boolean is a denial, never a crash.
    for failing in [
        "'ops' in claims.groups",
        "claims.level",
        "claims.org_role > 1",
    ] {
        let denied = verify(&secret, &token, &["--allow-if", failing])
            .invalid("insufficient_scope")
            .stderr_has(&[r#"allow_if "--allow-if[1]""#]);
        assert!(!denied.stderr.contains("org:admin"), "{}", denied.stderr);
    }
    // No request in the CLI: request.method is empty.
    verify(&secret, &token, &["--allow-if", "request.method == 'GET'"])
        .invalid("insufficient_scope");
}

#[test]
fn an_allow_if_that_does_not_compile_is_a_usage_error_naming_the_position() {
    let secret = generate_secret(32);
    let token = token(&secret);
    verify(
        &secret,
        &token,
        &[
            "--allow-if",
            "has_scope('read')",
            "--allow-if",
            "'admin' in claims.realm_access.roles &&",
        ],
    )
    .exit(2)
    .stderr_has(&[r#"allow_if "--allow-if[2]": invalid CEL expression at line 1, column"#]);
    verify(&secret, &token, &["--signature-only", "--allow-if", "true"]).exit(2);
}
