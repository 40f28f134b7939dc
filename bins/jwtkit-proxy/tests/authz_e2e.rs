//! Route authorization end to end: the real proxy in front of the fake engine on 127.0.0.1,
//! with `require_claims` (JSON Pointers into Keycloak-shaped realm and client roles),
//! `require_scopes` (OAuth `scope` strings and Azure AD `scp` arrays) and per-method rules
//! (`[routes.methods.GET]`); the 403 `insufficient_scope` answer, the denial counter in
//! `/metrics`, and bad rules refused at start naming their key.

mod common;

use common::*;
use serde_json::json;

/// The HS256 issuer and the engine (no auth of its own) behind `/realm` (realm role admin),
/// `/client` (client role editor or owner of `my-app`), `/scope` (scope `orders:read`), `/scp`
/// (scope `Files.Read`), `/rest` (scope `api` always, `read` for GET, `write` for POST) and
/// `/cel` (an `allow_if` reading a claim and a request header; with the `cel` feature).
async fn stack() -> (Engine, Proxy) {
    let engine = Engine::start(&["--auth", "none"]);
    let routes = r#"
[[routes]]
prefix = "/realm"
upstream = "engine"
strip_prefix = true
require_claims = { "/realm_access/roles" = "admin" }

[[routes]]
prefix = "/client"
upstream = "engine"
strip_prefix = true
require_claims = { "/resource_access/my-app/roles" = ["editor", "owner"] }

[[routes]]
prefix = "/scope"
upstream = "engine"
strip_prefix = true
require_scopes = ["orders:read"]

[[routes]]
prefix = "/scp"
upstream = "engine"
strip_prefix = true
require_scopes = ["Files.Read"]

[[routes]]
prefix = "/rest"
upstream = "engine"
strip_prefix = true
require_scopes = ["api"]

[routes.methods.GET]
require_scopes = ["read"]

[routes.methods.POST]
require_scopes = ["write"]

[[routes]]
prefix = "/cel"
upstream = "engine"
strip_prefix = true
allow_if = "claims.tenant == 'acme' && request.headers['x-tenant'] == claims.tenant"
"#;
    let toml = engine_toml(&engine.url(), "", routes);
    let proxy = Proxy::with_toml(&toml, &[]).await;
    (engine, proxy)
}

async fn send(proxy: &Proxy, method: reqwest::Method, path: &str, token: &str) -> Reply {
    let request = client().request(method, proxy.url(path)).bearer_auth(token);
    Reply::of(request.send().await.expect("request")).await
}

async fn get(proxy: &Proxy, path: &str, token: &str) -> Reply {
    send(proxy, reqwest::Method::GET, path, token).await
}

/// Asserts the 403 answer to a denial and returns its detail.
fn assert_denied(reply: &Reply, challenge: &str) -> String {
    let detail = reply.assert_error(403, "insufficient_scope");
    assert_eq!(
        reply.header("www-authenticate").as_deref(),
        Some(challenge),
        "{}",
        reply.text()
    );
    detail
}

#[tokio::test]
async fn keycloak_realm_and_client_roles_are_read_by_json_pointer() {
    let (engine, proxy) = stack().await;
    let admin = hs_token(
        "alice",
        json!({"realm_access": {"roles": ["user", "admin"]}}),
    );
    let reply = get(&proxy, "/realm/__test/echo/realm-ok", &admin).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(engine.last_request().await.path(), "/__test/echo/realm-ok");

    let secret_role = "user-role-that-must-not-be-echoed";
    for claims in [
        json!({}),
        json!({"realm_access": {"roles": [secret_role]}}),
        json!({"realm_access": {"roles": "user"}}),
        // A top-level claim of the pointer's spelling is not the nested claim.
        json!({"/realm_access/roles": "admin"}),
        // The client role of another client does not count.
        json!({"resource_access": {"other": {"roles": ["admin"]}}}),
    ] {
        let token = hs_token("bob", claims.clone());
        let reply = get(&proxy, "/realm/__test/echo/realm-denied", &token).await;
        let detail = assert_denied(&reply, "Bearer error=\"insufficient_scope\"");
        assert_eq!(
            detail, r#"claim /realm_access/roles must contain "admin""#,
            "{claims}"
        );
        assert!(!reply.text().contains(secret_role), "{}", reply.text());
    }
    assert_ne!(
        engine.last_request().await.path(),
        "/__test/echo/realm-denied"
    );

    for role in ["editor", "owner"] {
        let token = hs_token(
            "carol",
            json!({"resource_access": {"my-app": {"roles": [role]}, "account": {"roles": ["x"]}}}),
        );
        let reply = get(&proxy, "/client/__test/echo/client-ok", &token).await;
        assert_eq!(reply.status, 200, "{role}: {}", reply.text());
    }
    let viewer = hs_token(
        "dave",
        json!({"resource_access": {"my-app": {"roles": ["viewer"]}}, "realm_access": {"roles": ["admin"]}}),
    );
    let reply = get(&proxy, "/client/__test/echo/client-denied", &viewer).await;
    let detail = assert_denied(&reply, "Bearer error=\"insufficient_scope\"");
    assert_eq!(
        detail,
        r#"claim /resource_access/my-app/roles must contain one of "editor", "owner""#
    );
}

#[tokio::test]
async fn scopes_come_from_a_scope_string_or_an_azure_scp_array() {
    let (_engine, proxy) = stack().await;
    for claims in [
        json!({"scope": "openid orders:read profile"}),
        json!({"scp": "orders:read"}),
    ] {
        let token = hs_token("svc", claims.clone());
        let reply = get(&proxy, "/scope/__test/echo/s", &token).await;
        assert_eq!(reply.status, 200, "{claims}: {}", reply.text());
    }
    for claims in [
        json!({}),
        json!({"scope": "orders:write"}),
        // A scope is a whole space-separated token, never a substring.
        json!({"scope": "orders:readonly"}),
        json!({"scope": ["orders:read"]}),
    ] {
        let token = hs_token("svc", claims.clone());
        let reply = get(&proxy, "/scope/__test/echo/s", &token).await;
        let detail = assert_denied(
            &reply,
            "Bearer error=\"insufficient_scope\", scope=\"orders:read\"",
        );
        assert_eq!(detail, r#"scope "orders:read""#, "{claims}");
    }

    let azure = hs_token("app", json!({"scp": ["User.Read", "Files.Read"]}));
    let reply = get(&proxy, "/scp/__test/echo/azure", &azure).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let without = hs_token(
        "app",
        json!({"scp": ["User.Read"], "roles": ["Files.Read"]}),
    );
    let reply = get(&proxy, "/scp/__test/echo/azure", &without).await;
    assert_denied(
        &reply,
        "Bearer error=\"insufficient_scope\", scope=\"Files.Read\"",
    );
}

#[tokio::test]
async fn per_method_rules_add_to_the_route_rules() {
    let (engine, proxy) = stack().await;
    let reader = hs_token("r", json!({"scope": "api read"}));
    let writer = hs_token("w", json!({"scope": "api write"}));
    let outsider = hs_token("o", json!({"scope": "read write"}));
    let (get_m, post_m, head_m, delete_m) = (
        reqwest::Method::GET,
        reqwest::Method::POST,
        reqwest::Method::HEAD,
        reqwest::Method::DELETE,
    );

    let reply = send(&proxy, get_m.clone(), "/rest/__test/echo/get", &reader).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let reply = send(&proxy, post_m.clone(), "/rest/__test/echo/post", &writer).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(engine.last_request().await.path(), "/__test/echo/post");

    // The scope attribute names every scope the method's rules require, route's first.
    let reply = send(&proxy, post_m, "/rest/__test/echo/post-denied", &reader).await;
    let detail = assert_denied(
        &reply,
        "Bearer error=\"insufficient_scope\", scope=\"api write\"",
    );
    assert_eq!(detail, r#"scope "write""#);
    let reply = send(
        &proxy,
        get_m.clone(),
        "/rest/__test/echo/get-denied",
        &writer,
    )
    .await;
    assert_denied(
        &reply,
        "Bearer error=\"insufficient_scope\", scope=\"api read\"",
    );
    // HEAD without rules of its own takes GET's.
    let reply = send(&proxy, head_m, "/rest/__test/echo/head", &writer).await;
    assert_eq!(reply.status, 403);
    // The route's own rule applies to every method.
    let reply = send(&proxy, get_m, "/rest/__test/echo/get", &outsider).await;
    let detail = assert_denied(
        &reply,
        "Bearer error=\"insufficient_scope\", scope=\"api read\"",
    );
    assert_eq!(detail, r#"scope "api""#);
    // A method without an entry gets the route's rules only.
    let reply = send(&proxy, delete_m.clone(), "/rest/__test/echo/del", &writer).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let reply = send(&proxy, delete_m, "/rest/__test/echo/del", &outsider).await;
    assert_denied(&reply, "Bearer error=\"insufficient_scope\", scope=\"api\"");
    assert_ne!(
        engine.last_request().await.path(),
        "/__test/echo/get-denied"
    );
}

#[tokio::test]
async fn the_same_token_gets_the_same_decision_from_the_cache_and_denials_are_counted() {
    let (_engine, proxy) = stack().await;
    let admin = hs_token("alice", json!({"realm_access": {"roles": ["admin"]}}));
    let user = hs_token("bob", json!({"realm_access": {"roles": ["user"]}}));
    for _ in 0..3 {
        let reply = get(&proxy, "/realm/__test/echo/a", &admin).await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        let reply = get(&proxy, "/realm/__test/echo/u", &user).await;
        assert_denied(&reply, "Bearer error=\"insufficient_scope\"");
    }
    let reply = get(&proxy, "/scope/__test/echo/s", &admin).await;
    assert_eq!(reply.status, 403);
    // The admin's cached decision on /realm is not the /scope route's.
    let reply = get(&proxy, "/realm/__test/echo/a", &admin).await;
    assert_eq!(reply.status, 200, "{}", reply.text());

    let metrics = metrics_text(&proxy).await;
    for line in [
        r#"jwtkit_proxy_authz_denials_total{route="/realm"} 3"#,
        r#"jwtkit_proxy_authz_denials_total{route="/scope"} 1"#,
        r#"jwtkit_proxy_requests_total{route="/realm",status="403"} 3"#,
    ] {
        assert!(metrics.contains(line), "{line} expected in:\n{metrics}");
    }
    assert!(!metrics.contains(r#"authz_denials_total{route="/rest"}"#));
}

#[test]
fn bad_rules_stop_the_start_naming_the_key() {
    let hs = [("JWT_SECRET_KEY", HS_SECRET)];
    let route = "[[routes]]\nprefix = \"/a\"\nupstream = \"engine\"\n";
    let cases = [
        (
            format!("{route}require_claims = {{ \"/realm_access/~roles\" = \"admin\" }}\n"),
            r#"routes[2].require_claims."/realm_access/~roles""#,
        ),
        (
            format!("{route}[routes.methods.FETCH]\nrequire_scopes = [\"read\"]\n"),
            "routes[2].methods.FETCH",
        ),
        (
            format!("{route}[routes.methods.GET]\nrequire_scopes = [\"read write\"]\n"),
            "routes[2].methods.GET.require_scopes",
        ),
        (
            "[camunda]\nupstream = \"engine\"\nrequire_claims = { role = [] }\n".to_owned(),
            "camunda.require_claims.role",
        ),
        (
            format!("{route}[routes.methods.GET]\nrequire_scope = [\"read\"]\n"),
            "require_scope",
        ),
        (
            format!("{route}[routes.methods.PUT]\nallow_if = \"claims.a ==\"\n"),
            "routes[2].methods.PUT.allow_if",
        ),
    ];
    for (extra, key) in cases {
        let toml = engine_toml("http://127.0.0.1:9", "", &extra);
        refused(Some(&toml), &hs, key);
    }
}

#[cfg(feature = "cel")]
#[tokio::test]
async fn allow_if_reads_the_claims_and_the_request() {
    let (engine, proxy) = stack().await;
    let acme = hs_token("a", json!({"tenant": "acme"}));
    let other = hs_token("o", json!({"tenant": "other"}));
    let send_as = |token: &str, tenant: &str| {
        client()
            .get(proxy.url("/cel/__test/echo/cel"))
            .bearer_auth(token)
            .header("x-tenant", tenant)
            .send()
    };
    let reply = Reply::of(send_as(&acme, "acme").await.expect("request")).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(engine.last_request().await.path(), "/__test/echo/cel");
    for (token, tenant) in [(&acme, "other"), (&other, "other"), (&other, "acme")] {
        let reply = Reply::of(send_as(token, tenant).await.expect("request")).await;
        let detail = assert_denied(&reply, "Bearer error=\"insufficient_scope\"");
        assert_eq!(detail, r#"allow_if "routes[7]""#);
    }
}
