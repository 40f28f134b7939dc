//! The Camunda facade's routes in process (`jwtkit_proxy::router_from_toml`, requests by
//! `oneshot`) in front of a recording stand-in for `engine-rest`: the exact engine request for
//! each endpoint, the documented query parameters only, path parameters kept one segment, the
//! proxy's error format (401, 404, 400, 415, 405 with `Allow`, 502), and without `[camunda]`
//! its paths belonging to the prefix routes. `camunda_e2e.rs` runs the facade against the
//! Python fake engine (typing, initiator, the start -> task -> complete flow).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, Request as HttpRequest, StatusCode, Uri, header};
use axum::response::IntoResponse;
use axum::routing::any;
use axum::{Json, Router};
use jwtkit_keys::{Algorithm, SigningKey};
use jwtkit_mint::Minter;
use jwtkit_secret::Secret;
use serde_json::{Value, json};
use tower::ServiceExt;

/// What the fake engine received.
#[derive(Clone, Debug)]
struct Seen {
    method: Method,
    path: String,
    query: Option<String>,
    body: Value,
}

type Log = Arc<Mutex<Vec<Seen>>>;

/// An engine-rest stand-in on 127.0.0.1:0 that records every request.
async fn fake_engine() -> (SocketAddr, Log) {
    let log: Log = Arc::default();
    let seen = log.clone();
    let app = Router::new().fallback(any(
        move |method: Method, uri: Uri, body: Bytes| {
            let seen = seen.clone();
            async move {
                let path = uri.path().to_owned();
                seen.lock().unwrap().push(Seen {
                    method,
                    path: path.clone(),
                    query: uri.query().map(str::to_owned),
                    body: serde_json::from_slice(&body).unwrap_or(Value::Null),
                });
                if path.contains("/missing") {
                    return (
                        StatusCode::NOT_FOUND,
                        Json(json!({"type": "RestException", "message": "No matching definition with key missing"})),
                    )
                        .into_response();
                }
                if path.contains("/broken") {
                    return (StatusCode::INTERNAL_SERVER_ERROR, "boom").into_response();
                }
                if path.ends_with("/complete") {
                    return StatusCode::NO_CONTENT.into_response();
                }
                if path.ends_with("/start") {
                    return Json(json!({"id": "instance-1", "definitionId": "order:1:abc", "ended": false}))
                        .into_response();
                }
                Json(json!({"engine_path": path})).into_response()
            }
        },
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (addr, log)
}

struct Harness {
    app: Router,
    log: Log,
    token: String,
    _dir: tempfile::TempDir,
}

const SECRET: [u8; 32] = [42; 32];

fn mint(claims: Value) -> String {
    let secret = Secret::from_bytes(SECRET.to_vec()).unwrap();
    Minter::new(SigningKey::hmac(Algorithm::HS256, &secret).unwrap())
        .mint(&claims)
        .unwrap()
}

/// The `[[issuers]]` section of the test issuer, its HMAC key in a file under `dir`.
fn issuer_toml(dir: &Path) -> String {
    let path = dir.join("issuer-secret");
    std::fs::write(&path, SECRET).unwrap();
    format!(
        "[[issuers]]\nname = \"test\"\niss = [\"urn:test\"]\nsecret = {{ file = {:?} }}\n",
        path.display().to_string()
    )
}

/// The proxy in front of a fake engine; `facade: false` leaves `[camunda]` out and
/// routes `/api` to the same engine as a prefix route instead.
async fn harness(facade: bool) -> Harness {
    harness_with_timeout(facade, 5).await
}

async fn harness_with_timeout(facade: bool, timeout_seconds: u64) -> Harness {
    let (addr, log) = fake_engine().await;
    let dir = tempfile::tempdir().unwrap();
    let password = dir.path().join("engine-pass");
    std::fs::write(&password, "demo").unwrap();
    let tail = if facade {
        "[camunda]\nupstream = \"engine\"".to_owned()
    } else {
        "[[routes]]\nprefix = \"/api\"\nupstream = \"engine\"".to_owned()
    };
    let text = format!(
        "{}[[upstreams]]\nname = \"engine\"\nurl = \"http://{addr}/engine-rest\"\ntimeout_seconds = {timeout_seconds}\n\
         auth = {{ type = \"basic\", user = \"demo\", password = {{ file = {:?} }} }}\n{tail}\n",
        issuer_toml(dir.path()),
        password.display().to_string()
    );
    let token = mint(json!({
        "iss": "urn:test",
        "sub": "user_2abc123",
        "email": "john@example.com",
        "first_name": "John",
        "last_name": "Doe",
        "exp": jwtkit_mint::now() + 3600,
    }));
    Harness {
        app: jwtkit_proxy::router_from_toml(&text).unwrap(),
        log,
        token,
        _dir: dir,
    }
}

impl Harness {
    async fn call(
        &self,
        method: Method,
        uri: &str,
        token: Option<&str>,
        content_type: Option<&str>,
        body: &str,
    ) -> (StatusCode, HeaderMap, Value) {
        let mut request = HttpRequest::builder().method(method).uri(uri);
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        if let Some(content_type) = content_type {
            request = request.header(header::CONTENT_TYPE, content_type);
        }
        let response = self
            .app
            .clone()
            .oneshot(request.body(Body::from(body.to_owned())).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap()
        };
        (status, headers, value)
    }

    async fn get(&self, uri: &str) -> (StatusCode, Value) {
        let (status, _, value) = self
            .call(Method::GET, uri, Some(&self.token), None, "")
            .await;
        (status, value)
    }

    async fn post(&self, uri: &str, body: &str) -> (StatusCode, Value) {
        let (status, _, value) = self
            .call(
                Method::POST,
                uri,
                Some(&self.token),
                Some("application/json"),
                body,
            )
            .await;
        (status, value)
    }

    fn last(&self) -> Seen {
        self.log
            .lock()
            .unwrap()
            .last()
            .cloned()
            .expect("no engine request")
    }

    fn count(&self) -> usize {
        self.log.lock().unwrap().len()
    }
}

#[tokio::test]
async fn reads_map_to_the_engine_with_only_documented_query_parameters() {
    let h = harness(true).await;
    let (status, body) = h.get("/api/processes?latestVersion=false&x=1").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"engine_path": "/engine-rest/process-definition"})
    );
    assert_eq!(h.last().query.as_deref(), Some("latestVersion=true"));

    for (uri, engine_path, query) in [
        (
            "/api/processes/order",
            "/engine-rest/process-definition/key/order",
            None,
        ),
        (
            "/api/processes/order/form",
            "/engine-rest/process-definition/key/order/form-variables",
            None,
        ),
        (
            "/api/instances?processDefinitionKey=order-process&sortBy=x",
            "/engine-rest/process-instance",
            Some("processDefinitionKey=order-process"),
        ),
        ("/api/instances", "/engine-rest/process-instance", None),
        (
            "/api/instances/abc-123",
            "/engine-rest/process-instance/abc-123",
            None,
        ),
        (
            "/api/instances/abc-123/variables",
            "/engine-rest/process-instance/abc-123/variables",
            None,
        ),
        (
            "/api/tasks?assignee=user123&processInstanceId=abc-123&candidateGroup=admins",
            "/engine-rest/task",
            Some("assignee=user123&processInstanceId=abc-123"),
        ),
        (
            "/api/tasks/t1/form",
            "/engine-rest/task/t1/form-variables",
            None,
        ),
    ] {
        let (status, body) = h.get(uri).await;
        assert_eq!(status, StatusCode::OK, "{uri}");
        assert_eq!(body["engine_path"], engine_path, "{uri}");
        let seen = h.last();
        assert_eq!(
            (seen.method, seen.path.as_str()),
            (Method::GET, engine_path)
        );
        assert_eq!(seen.query.as_deref(), query, "{uri}");
    }
}

#[tokio::test]
async fn complete_answers_200_with_an_object_for_the_engines_204() {
    let h = harness(true).await;
    let (status, body) = h
        .post(
            "/api/tasks/task-1/complete",
            r#"{"variables": {"approved": true, "comments": "Looks good", "initiator": "me"}}"#,
        )
        .await;
    assert_eq!((status, body), (StatusCode::OK, json!({})));
    let seen = h.last();
    assert_eq!(seen.path, "/engine-rest/task/task-1/complete");
    assert_eq!(
        seen.body,
        json!({"variables": {
            "approved": {"value": true, "type": "Boolean"},
            "comments": {"value": "Looks good", "type": "String"},
        }})
    );
    // An empty JSON body completes without variables.
    let (status, _) = h.post("/api/tasks/task-1/complete", "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h.last().body, json!({"variables": {}}));
}

#[tokio::test]
async fn encoded_path_parameters_stay_one_segment() {
    let h = harness(true).await;
    let (status, _) = h.get("/api/processes/a%3Fb%23c").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        h.last().path,
        "/engine-rest/process-definition/key/a%3Fb%23c"
    );
    let (status, _) = h.get("/api/instances/..%3F..").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h.last().path, "/engine-rest/process-instance/..%3F..");
    // Dot segments and encoded slashes are refused before routing (crate::path), on
    // facade paths as on every other.
    let before = h.count();
    for uri in [
        "/api/processes/..",
        "/api/processes/%2E%2E/start",
        "/api/tasks/./form",
        "/api/processes/a%2Fb",
        "/api/instances/..%2F..%2Fprocess-definition",
    ] {
        let (status, _, body) = if uri.ends_with("start") {
            h.call(
                Method::POST,
                uri,
                Some(&h.token),
                Some("application/json"),
                "{}",
            )
            .await
        } else {
            h.call(Method::GET, uri, Some(&h.token), None, "").await
        };
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}");
        assert_eq!(body["error"], "invalid_path");
    }
    assert_eq!(h.count(), before, "refused ids reach no engine");
}

#[tokio::test]
async fn errors_use_the_proxy_format() {
    let h = harness(true).await;
    // No token: 401 before anything else, even for a bad body.
    let (status, headers, body) = h
        .call(
            Method::POST,
            "/api/processes/invoice/start",
            None,
            Some("application/json"),
            "{not json",
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "missing_token");
    assert!(body["timestamp"].is_string());
    assert_eq!(headers[header::WWW_AUTHENTICATE], "Bearer");
    let forged = mint(json!({"iss": "urn:other", "sub": "x", "exp": jwtkit_mint::now() + 60}));
    let (status, _, _) = h
        .call(Method::GET, "/api/tasks", Some(&forged), None, "")
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(h.count(), 0);

    // The engine's 404 with its message.
    let (status, body) = h.get("/api/processes/missing").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"], "not_found");
    assert_eq!(body["detail"], "No matching definition with key missing");
    let (status, body) = h.get("/api/instances/broken").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert_eq!(body["error"], "upstream_error");

    let before = h.count();
    for (body, code) in [
        ("{not json", StatusCode::BAD_REQUEST),
        ("[1, 2]", StatusCode::BAD_REQUEST),
        (r#"{"variables": [1]}"#, StatusCode::BAD_REQUEST),
        (r#"{"variables": "x"}"#, StatusCode::BAD_REQUEST),
        (r#"{"businessKey": 12}"#, StatusCode::BAD_REQUEST),
    ] {
        let (status, answer) = h.post("/api/processes/order/start", body).await;
        assert_eq!(status, code, "{body}");
        assert_eq!(answer["error"], "bad_request", "{body}");
    }
    // A form post (what a cross-site page can send with a cookie) is refused.
    let (status, _, body) = h
        .call(
            Method::POST,
            "/api/processes/order/start",
            Some(&h.token),
            Some("application/x-www-form-urlencoded"),
            "variables=x",
        )
        .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(body["error"], "unsupported_media_type");
    let (status, headers, body) = h
        .call(
            Method::DELETE,
            "/api/processes/order",
            Some(&h.token),
            None,
            "",
        )
        .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(body["error"], "method_not_allowed");
    assert_eq!(headers[header::ALLOW], "GET, HEAD");
    let (status, headers, _) = h
        .call(
            Method::GET,
            "/api/tasks/t/complete",
            Some(&h.token),
            None,
            "",
        )
        .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(headers[header::ALLOW], "POST");
    assert_eq!(h.count(), before);
}

#[tokio::test]
async fn without_a_facade_its_paths_belong_to_the_prefix_routes() {
    let h = harness(false).await;
    // Forwarded untouched to the generic /api route (no typing, no encoding changes).
    let (status, body) = h.get("/api/processes?latestVersion=false").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["engine_path"], "/engine-rest/api/processes");
    assert_eq!(h.last().query.as_deref(), Some("latestVersion=false"));
    let (status, _) = h
        .post("/api/tasks/t1/complete", r#"{"variables": {"a": 1}}"#)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(h.last().body, json!({"variables": {"a": 1}}));
    let (status, _, _) = h
        .call(Method::DELETE, "/api/processes/x", Some(&h.token), None, "")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h.last().method, Method::DELETE);
}

#[tokio::test]
async fn an_upstream_timeout_beyond_the_clocks_range_waits_without_a_deadline() {
    // u64::MAX seconds cannot be added to an Instant: the wait has no deadline, no panic.
    let h = harness_with_timeout(false, u64::MAX).await;
    let (status, body) = h.get("/api/processes").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["engine_path"], "/engine-rest/api/processes");
}

#[tokio::test]
async fn without_a_facade_or_route_the_answer_is_a_json_404() {
    let (addr, _log) = fake_engine().await;
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "{}[[upstreams]]\nname = \"engine\"\nurl = \"http://{addr}/engine-rest\"\n",
        issuer_toml(dir.path())
    );
    let app = jwtkit_proxy::router_from_toml(&text).unwrap();
    for (method, uri) in [
        (Method::GET, "/api/processes"),
        (Method::POST, "/api/tasks/t/complete"),
        (Method::PUT, "/api/instances/i"),
    ] {
        let response = app
            .clone()
            .oneshot(
                HttpRequest::builder()
                    .method(method)
                    .uri(uri)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{uri}");
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let body: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(body["error"], "not_found");
    }
}
