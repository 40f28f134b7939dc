//! `RequireLayer` behind `JwtAuthLayer`: routes needing different Keycloak realm roles, a route
//! needing scopes, the 403 `insufficient_scope` answer (status, challenge, JSON body), the log
//! line of a denial, and a token from the test OIDC provider checked for its `scope`.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::{Request, StatusCode, header};
use jwtkit_keys::{Algorithm, SigningKey};
use jwtkit_mint::Minter;
use jwtkit_secret::Secret;
use jwtkit_testsupport::Idp;
use jwtkit_verify::axum_auth::{JwtAuthLayer, RequireLayer};
use jwtkit_verify::{IssuerConfig, Registry, Requirements};
use serde_json::json;
use tower::ServiceExt;

const KC: &str = "https://kc.example/realms/acme";

fn registry(secret: &Secret) -> Registry {
    Registry::new(vec![
        IssuerConfig::hmac("keycloak", secret).unwrap().iss(KC),
    ])
    .unwrap()
}

/// A Keycloak-shaped access token with these realm roles and this `scope`.
fn keycloak_token(secret: &Secret, roles: &[&str], scope: &str) -> String {
    let claims = json!({
        "iss": KC,
        "sub": "f2c1",
        "exp": jwtkit_verify::now() + 60,
        "azp": "orders-app",
        "realm_access": {"roles": roles},
        "resource_access": {"orders-app": {"roles": ["reader"]}},
        "scope": scope,
    });
    Minter::new(SigningKey::hmac(Algorithm::HS256, secret).unwrap())
        .mint(&claims)
        .unwrap()
}

/// `/admin` needs the realm role `admin`, `/audit` the role `auditor`, `/orders` the scopes
/// `orders:read orders:write`; each its own router, merged, all behind one `JwtAuthLayer`.
fn app(secret: &Secret) -> Router {
    let role = |name: &str| {
        RequireLayer::new(
            Requirements::new()
                .claim("/realm_access/roles", name)
                .unwrap(),
        )
    };
    let admin = Router::new()
        .route("/admin", get(|| async { "admin area" }))
        .route_layer(role("admin"));
    let audit = Router::new()
        .route("/audit", get(|| async { "audit log" }))
        .route_layer(role("auditor"));
    let orders = Router::new()
        .route("/orders", get(|| async { "orders" }))
        .route_layer(RequireLayer::new(
            Requirements::new()
                .scopes(["orders:read", "orders:write"])
                .unwrap(),
        ));
    admin
        .merge(audit)
        .merge(orders)
        .route_layer(JwtAuthLayer::new(registry(secret)))
}

struct Answer {
    status: StatusCode,
    challenge: Option<String>,
    content_type: Option<String>,
    text: String,
}

async fn send(app: &Router, uri: &str, token: Option<&str>) -> Answer {
    let mut request = Request::get(uri);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let header = |name| {
        response
            .headers()
            .get(name)
            .map(|v: &http::HeaderValue| v.to_str().unwrap().to_owned())
    };
    let (challenge, content_type) = (
        header(header::WWW_AUTHENTICATE),
        header(header::CONTENT_TYPE),
    );
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
        .await
        .unwrap();
    Answer {
        status,
        challenge,
        content_type,
        text: String::from_utf8(bytes.to_vec()).unwrap(),
    }
}

#[tokio::test]
async fn routes_needing_different_realm_roles_let_in_only_their_role() {
    let secret = Secret::generate(32).unwrap();
    let app = app(&secret);
    let admin = keycloak_token(&secret, &["offline_access", "admin"], "openid");
    let auditor = keycloak_token(&secret, &["auditor"], "openid");

    let ok = send(&app, "/admin", Some(&admin)).await;
    assert_eq!(
        (ok.status, ok.text.as_str()),
        (StatusCode::OK, "admin area")
    );
    let ok = send(&app, "/audit", Some(&auditor)).await;
    assert_eq!((ok.status, ok.text.as_str()), (StatusCode::OK, "audit log"));

    let denied = send(&app, "/audit", Some(&admin)).await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    assert_eq!(
        denied.challenge.as_deref(),
        Some(r#"Bearer error="insufficient_scope""#)
    );
    assert_eq!(denied.content_type.as_deref(), Some("application/json"));
    let body: serde_json::Value = serde_json::from_str(&denied.text).unwrap();
    assert_eq!(
        body,
        json!({
            "error": "insufficient_scope",
            "detail": "claim /realm_access/roles must contain \"auditor\"",
        })
    );
    let denied = send(&app, "/admin", Some(&auditor)).await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);

    // Authentication still comes first: no token, or a refused one, is 401.
    assert_eq!(
        send(&app, "/admin", None).await.status,
        StatusCode::UNAUTHORIZED
    );
    let forged = keycloak_token(&Secret::generate(32).unwrap(), &["admin"], "");
    let refused = send(&app, "/admin", Some(&forged)).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert!(refused.challenge.unwrap().contains("invalid_token"));
}

#[tokio::test]
async fn a_scope_route_names_the_required_scopes_in_its_challenge() {
    let secret = Secret::generate(32).unwrap();
    let app = app(&secret);
    let both = keycloak_token(&secret, &[], "openid orders:write orders:read");
    assert_eq!(
        send(&app, "/orders", Some(&both)).await.status,
        StatusCode::OK
    );
    let read_only = keycloak_token(&secret, &["admin"], "openid orders:read");
    let denied = send(&app, "/orders", Some(&read_only)).await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    assert_eq!(
        denied.challenge.as_deref(),
        Some(r#"Bearer error="insufficient_scope", scope="orders:read orders:write""#)
    );
    let body: serde_json::Value = serde_json::from_str(&denied.text).unwrap();
    assert_eq!(body["error"], "insufficient_scope");
    assert_eq!(body["detail"], "scope \"orders:write\"");
}

#[tokio::test]
async fn without_an_authenticated_token_the_layer_does_not_let_through() {
    let secret = Secret::generate(32).unwrap();
    let needs_admin = || {
        RequireLayer::new(
            Requirements::new()
                .claim("/realm_access/roles", "admin")
                .unwrap(),
        )
    };
    // No JwtAuthLayer at all: a server mistake.
    let bare = Router::new()
        .route("/admin", get(|| async { "admin area" }))
        .route_layer(needs_admin());
    let answer = send(&bare, "/admin", None).await;
    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        answer.text.contains("auth_not_configured"),
        "{}",
        answer.text
    );
    // An optional JwtAuthLayer let the request through without a token: 401.
    let optional = Router::new()
        .route("/admin", get(|| async { "admin area" }))
        .route_layer(needs_admin())
        .route_layer(JwtAuthLayer::new(registry(&secret)).optional());
    let answer = send(&optional, "/admin", None).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.challenge.as_deref(), Some("Bearer"));
}

/// Captures what the fmt subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_denial_is_logged_with_rule_and_issuer_and_never_the_token() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_env_filter("jwtkit_verify=debug")
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();
    let secret = Secret::generate(32).unwrap();
    let app = Router::new()
        .route("/logged/admin", get(|| async { "admin area" }))
        .route_layer(RequireLayer::new(
            Requirements::new()
                .claim("/realm_access/roles", "admin")
                .unwrap(),
        ))
        .route_layer(JwtAuthLayer::new(registry(&secret)));
    let token = keycloak_token(&secret, &["secret-role-name"], "openid");
    let answer = send(&app, "/logged/admin", Some(&token)).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);

    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let line = text
        .lines()
        .find(|line| line.contains("path=\"/logged/admin\""))
        .unwrap_or_else(|| panic!("no log line: {text}"));
    for part in [
        " INFO jwtkit_verify::axum_auth::require:",
        "code=\"insufficient_scope\"",
        r#"rule="claim /realm_access/roles must contain \"admin\"""#,
        "issuer=\"keycloak\"",
        "requirements not met",
    ] {
        assert!(line.contains(part), "{part} in {line}");
    }
    // An `allow_if` rule that fails to evaluate: logged with its name and the error's kind.
    #[cfg(feature = "cel")]
    let text = {
        let cel = Router::new()
            .route("/logged/cel", get(|| async { "cel" }))
            .route_layer(RequireLayer::new(
                Requirements::new()
                    .allow_if("ops group", "'ops' in claims.realm_access.groups")
                    .unwrap(),
            ))
            .route_layer(JwtAuthLayer::new(registry(&secret)));
        let answer = send(&cel, "/logged/cel", Some(&token)).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN);
        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        let line = text
            .lines()
            .find(|line| line.contains("jwtkit_verify::require_cel"))
            .unwrap_or_else(|| panic!("no allow_if log line: {text}"));
        for part in [
            " INFO ",
            r#"rule="allow_if \"ops group\"""#,
            "kind=\"no_such_key\"",
        ] {
            assert!(line.contains(part), "{part} in {line}");
        }
        text
    };
    let mut needles = jwtkit_testsupport::leaks::Needles::default();
    needles.token("token", &token);
    needles.add("payload", token.split('.').nth(1).unwrap());
    needles.add("a role of the caller", "secret-role-name");
    needles.assert_absent("the log", &text, &[]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_from_the_test_idp_is_checked_for_its_scope() {
    let idp = Idp::start(None, 300);
    let registry = Registry::new(vec![
        IssuerConfig::jwks_url("idp", idp.jwks_uri.clone())
            .unwrap()
            .iss(idp.issuer.clone())
            .audience("urn:jwtkit:api"),
    ])
    .unwrap();
    let read = Requirements::new().scopes(["api:read"]).unwrap();
    let write = Requirements::new().scopes(["api:write"]).unwrap();

    let token = idp
        .token_with_scope("test-client", None, Some("api:read"))
        .await;
    let validated = registry.validate(&token).await.unwrap();
    assert_eq!(validated.claims["scope"], "api:read");
    assert!(read.check(&validated).is_ok());
    let denied = write.check(&validated).unwrap_err();
    assert_eq!(denied.rule(), "scope \"api:write\"");
    assert_eq!(denied.scope(), Some("api:write"));

    // Without a requested scope the provider grants none: no `scope` claim.
    let token = idp.token("test-client-es", None).await;
    let validated = registry.validate(&token).await.unwrap();
    assert!(validated.claims.get("scope").is_none());
    assert!(read.check(&validated).is_err());
}

/// An `allow_if` rule behind the layer reads the request: method, path and a header.
#[cfg(feature = "cel")]
#[tokio::test]
async fn an_allow_if_rule_reads_the_request_method_path_and_headers() {
    let secret = Secret::generate(32).unwrap();
    let rule = "'admin' in claims.realm_access.roles && request.method == 'GET' \
                && request.path.startsWith('/tenants/') && request.headers['x-tenant'] == 'acme'";
    let app = Router::new()
        .route("/tenants/{id}", get(|| async { "tenant" }))
        .route_layer(RequireLayer::new(
            Requirements::new().allow_if("tenant admin", rule).unwrap(),
        ))
        .route_layer(JwtAuthLayer::new(registry(&secret)));
    let admin = keycloak_token(&secret, &["admin"], "openid");
    let call = |tenant: Option<&'static str>| {
        let mut request =
            Request::get("/tenants/7").header(header::AUTHORIZATION, format!("Bearer {admin}"));
        if let Some(tenant) = tenant {
            request = request.header("X-Tenant", tenant);
        }
        app.clone().oneshot(request.body(Body::empty()).unwrap())
    };
    assert_eq!(call(Some("acme")).await.unwrap().status(), StatusCode::OK);
    for tenant in [Some("other"), None] {
        let denied = call(tenant).await.unwrap();
        assert_eq!(denied.status(), StatusCode::FORBIDDEN);
        let bytes = axum::body::to_bytes(denied.into_body(), 1 << 16)
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(body["detail"], r#"allow_if "tenant admin""#);
    }
}

/// A gRPC call (`content-type: application/grpc`) is refused as gRPC clients read it: HTTP 200,
/// `grpc-status` 16 without or with a bad token, 7 for a denial, `grpc-message` with the code;
/// the challenge stays. The same requests as JSON keep their 401/403.
#[tokio::test]
async fn grpc_calls_are_refused_in_grpc_form() {
    let secret = Secret::generate(32).unwrap();
    let app = app(&secret);
    let reader = keycloak_token(&secret, &["user"], "orders:read");
    let other = Secret::generate(32).unwrap();
    let forged = keycloak_token(&other, &["admin"], "");
    for (uri, token, grpc_status, message, challenge) in [
        ("/admin", None, "16", "missing_token: ", "Bearer"),
        (
            "/admin",
            Some(forged.as_str()),
            "16",
            "bad_signature: ",
            "Bearer error=\"invalid_token\", error_description=\"bad_signature\"",
        ),
        (
            "/orders",
            Some(reader.as_str()),
            "7",
            "insufficient_scope: ",
            "Bearer error=\"insufficient_scope\", scope=\"orders:read orders:write\"",
        ),
    ] {
        let mut request = Request::post(uri).header(header::CONTENT_TYPE, "application/grpc+proto");
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let response = app
            .clone()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let headers = response.headers().clone();
        assert_eq!(response.status(), StatusCode::OK, "{uri}");
        assert_eq!(headers[header::CONTENT_TYPE], "application/grpc", "{uri}");
        assert_eq!(headers["grpc-status"], grpc_status, "{uri}");
        let text = headers["grpc-message"].to_str().unwrap();
        assert!(text.starts_with(message), "{uri}: {text}");
        assert_eq!(headers[header::WWW_AUTHENTICATE], challenge, "{uri}");
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        assert!(body.is_empty(), "{uri}: a trailers-only answer has no body");
    }
    let json = send(&app, "/orders", Some(&reader)).await;
    assert_eq!(json.status, StatusCode::FORBIDDEN);
    assert_eq!(
        send(&app, "/admin", None).await.status,
        StatusCode::UNAUTHORIZED
    );
}
