//! The Camunda facade of the FastAPI Clerk -> Camunda proxy end to end: `/api/...` through the real
//! proxy to the fake engine, which checks the minted engine token and Camunda's typed variables.
//! Plain JSON variables become typed ones, the starter's identity comes from the token (never from
//! the caller's variables), tasks complete, and the engine's 404 message reaches the caller.

mod common;

use common::*;
use serde_json::{Value, json};

async fn stack(camunda_extra: &str) -> (Engine, Proxy) {
    let engine = Engine::jwt(ENGINE_SECRET_B64);
    let toml = format!(
        r#"{HS_ISSUER_TOML}
[[upstreams]]
name = "engine"
url = "{}"
timeout_seconds = 5
auth = {{ type = "mint", profile = "camunda", secret = {{ env = "ENGINE_JWT_SECRET" }} }}

[camunda]
upstream = "engine"
{camunda_extra}
"#,
        engine.rest_url()
    );
    let proxy = Proxy::with_toml(&toml, &[("ENGINE_JWT_SECRET", ENGINE_SECRET_B64)]).await;
    (engine, proxy)
}

fn alice() -> String {
    hs_token(
        "user_2abc123",
        json!({"email": "john@example.com", "name": "John Doe"}),
    )
}

async fn post(proxy: &Proxy, path: &str, token: &str, body: Value) -> Reply {
    Reply::of(
        client()
            .post(proxy.url(path))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .expect("request"),
    )
    .await
}

#[tokio::test]
async fn processes_are_listed_fetched_and_their_start_forms_read() {
    let (engine, proxy) = stack("").await;
    let token = alice();
    let reply = get(&proxy, "/api/processes", &token).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let keys: Vec<&str> = reply
        .json
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|d| d["key"].as_str())
        .collect();
    assert_eq!(keys, ["invoice", "order-process"]);
    let seen = engine.last_request().await;
    assert_eq!(seen.path(), "/engine-rest/process-definition");
    assert!(
        seen.query().contains("latestVersion=true"),
        "{}",
        seen.query()
    );
    // The engine got the minted token for this caller.
    let minted = seen.header("authorization").unwrap();
    assert_eq!(
        decode_jwt(minted.strip_prefix("Bearer ").unwrap()).1["sub"],
        "user_2abc123"
    );

    let reply = get(&proxy, "/api/processes/invoice", &token).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json["name"], "Invoice Receipt");
    let reply = get(&proxy, "/api/processes/invoice/form", &token).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json["amount"]["type"], "Double");
}

#[tokio::test]
async fn starting_a_process_types_plain_variables_and_adds_the_initiator_from_the_token() {
    let (engine, proxy) = stack("").await;
    let token = alice();
    let reply = post(
        &proxy,
        "/api/processes/order-process/start",
        &token,
        json!({
            "variables": {
                "customerName": "ACME Corp",
                "amount": 1000,
                "big": 5_000_000_000i64,
                "price": 9.5,
                "express": true,
                "note": null,
                "items": [1, "two"],
                "address": {"city": "Berlin"},
                "approvedBy": {"value": "manager", "type": "String"},
                "initiator": "mallory",
                "initiatorEmail": "mallory@example.com"
            },
            "businessKey": "order-12345"
        }),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    let id = reply.json["id"].as_str().expect("instance id").to_owned();
    assert_eq!(reply.json["businessKey"], "order-12345");
    assert!(
        reply.json["definitionId"]
            .as_str()
            .unwrap()
            .starts_with("order-process:"),
        "{}",
        reply.text()
    );
    assert_eq!(reply.json["ended"], false);
    let seen = engine.last_request().await;
    assert_eq!(seen.0["method"], "POST");
    assert_eq!(
        seen.path(),
        "/engine-rest/process-definition/key/order-process/start"
    );

    // What the engine stored is what it received.
    let reply = get(&proxy, &format!("/api/instances/{id}/variables"), &token).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let variables = &reply.json;
    let typed = |name: &str| {
        (
            variables[name]["type"].clone(),
            variables[name]["value"].clone(),
        )
    };
    assert_eq!(typed("customerName"), (json!("String"), json!("ACME Corp")));
    assert_eq!(typed("amount"), (json!("Integer"), json!(1000)));
    assert_eq!(typed("big"), (json!("Long"), json!(5_000_000_000i64)));
    assert_eq!(typed("price"), (json!("Double"), json!(9.5)));
    assert_eq!(typed("express"), (json!("Boolean"), json!(true)));
    assert_eq!(typed("note"), (json!("Null"), Value::Null));
    assert_eq!(typed("approvedBy"), (json!("String"), json!("manager")));
    let (kind, items) = typed("items");
    assert_eq!(kind, "Json");
    let items: Value = serde_json::from_str(items.as_str().expect("Json as text")).unwrap();
    assert_eq!(items, json!([1, "two"]));
    let (kind, address) = typed("address");
    assert_eq!(kind, "Json");
    assert_eq!(
        serde_json::from_str::<Value>(address.as_str().unwrap()).unwrap(),
        json!({"city": "Berlin"})
    );
    // The starter comes from the token, whatever the caller sent.
    assert_eq!(typed("initiator"), (json!("String"), json!("user_2abc123")));
    assert_eq!(
        typed("initiatorEmail"),
        (json!("String"), json!("john@example.com"))
    );
    assert_eq!(typed("initiatorName"), (json!("String"), json!("John Doe")));
}

#[tokio::test]
async fn instances_and_tasks_can_be_followed_to_completion() {
    let (engine, proxy) = stack("").await;
    let token = alice();
    let started = post(
        &proxy,
        "/api/processes/invoice/start",
        &token,
        json!({"variables": {"amount": 30.5, "creditor": "Great Pizza"}}),
    )
    .await;
    assert_eq!(started.status, 201, "{}", started.text());
    let id = started.json["id"].as_str().unwrap().to_owned();

    let reply = get(
        &proxy,
        "/api/instances?processDefinitionKey=invoice",
        &token,
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let ids: Vec<&str> = reply
        .json
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["id"].as_str())
        .collect();
    assert!(ids.contains(&id.as_str()), "{ids:?}");
    assert_eq!(
        engine.last_request().await.query(),
        "processDefinitionKey=invoice"
    );
    let reply = get(
        &proxy,
        "/api/instances?processDefinitionKey=order-process",
        &token,
    )
    .await;
    assert!(!reply.text().contains(&id));
    let reply = get(&proxy, &format!("/api/instances/{id}"), &token).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json["id"], id);

    // The engine assigns the new task to the initiator.
    let reply = get(
        &proxy,
        &format!("/api/tasks?processInstanceId={id}"),
        &token,
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let tasks = reply.json.as_array().unwrap().clone();
    assert_eq!(tasks.len(), 1, "{}", reply.text());
    let task_id = tasks[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(tasks[0]["assignee"], "user_2abc123");
    let reply = get(&proxy, "/api/tasks?assignee=user_2abc123", &token).await;
    assert!(reply.text().contains(&task_id), "{}", reply.text());
    let reply = get(&proxy, "/api/tasks?assignee=demo", &token).await;
    assert!(!reply.text().contains(&task_id), "{}", reply.text());
    let reply = get(&proxy, &format!("/api/tasks/{task_id}/form"), &token).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json["creditor"]["value"], "Great Pizza");

    let reply = post(
        &proxy,
        &format!("/api/tasks/{task_id}/complete"),
        &token,
        json!({"variables": {"approved": true, "comments": "Looks good"}}),
    )
    .await;
    // The FastAPI proxy answered 200 with a JSON body (its clients parse every answer).
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json, json!({}));
    let seen = engine.last_request().await;
    assert_eq!(seen.path(), format!("/engine-rest/task/{task_id}/complete"));
    let reply = get(
        &proxy,
        &format!("/api/tasks?processInstanceId={id}"),
        &token,
    )
    .await;
    assert_eq!(reply.json, json!([]));
    let reply = get(&proxy, &format!("/api/instances/{id}/variables"), &token).await;
    assert_eq!(
        reply.json["approved"],
        json!({"type": "Boolean", "value": true, "valueInfo": {}})
    );
    assert_eq!(reply.json["comments"]["value"], "Looks good");
}

#[tokio::test]
async fn unknown_instances_processes_and_tasks_are_404_with_the_engines_message() {
    let (_engine, proxy) = stack("").await;
    let token = alice();
    let reply = get(&proxy, "/api/instances/does-not-exist", &token).await;
    let detail = reply.assert_error(404, "not_found");
    assert_eq!(
        detail,
        "Process instance with id does-not-exist does not exist"
    );
    let reply = get(&proxy, "/api/instances/does-not-exist/variables", &token).await;
    reply.assert_error(404, "not_found");
    let reply = get(&proxy, "/api/processes/nope", &token).await;
    let detail = reply.assert_error(404, "not_found");
    assert!(
        detail.contains("No matching process definition with key: nope"),
        "{detail}"
    );
    let reply = post(
        &proxy,
        "/api/tasks/no-such-task/complete",
        &token,
        json!({"variables": {}}),
    )
    .await;
    let detail = reply.assert_error(404, "not_found");
    assert!(detail.contains("no-such-task"), "{detail}");
}

#[tokio::test]
async fn a_variable_the_engine_refuses_is_400_with_the_engines_message() {
    let (_engine, proxy) = stack("").await;
    let reply = post(
        &proxy,
        "/api/processes/invoice/start",
        &alice(),
        json!({"variables": {"amount": {"value": "lots", "type": "Integer"}}}),
    )
    .await;
    assert_eq!(reply.status, 400, "{}", reply.text());
    let detail = reply.json["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("Cannot convert value 'lots'"),
        "{}",
        reply.text()
    );
}

#[tokio::test]
async fn iso_dates_become_camunda_dates_when_configured() {
    let (_engine, proxy) = stack("dates_as_date = true").await;
    let token = alice();
    let started = post(
        &proxy,
        "/api/processes/invoice/start",
        &token,
        json!({"variables": {"due": "2025-01-18T12:00:00Z", "label": "2025-01-18"}}),
    )
    .await;
    assert_eq!(started.status, 201, "{}", started.text());
    let id = started.json["id"].as_str().unwrap();
    let reply = get(&proxy, &format!("/api/instances/{id}/variables"), &token).await;
    assert_eq!(reply.json["due"]["type"], "Date", "{}", reply.text());
    assert_eq!(reply.json["due"]["value"], "2025-01-18T12:00:00.000+0000");
    assert_eq!(reply.json["label"]["type"], "String");
}

#[tokio::test]
async fn the_facade_requires_a_valid_token_and_never_calls_the_engine_without_one() {
    let (engine, proxy) = stack("").await;
    let before = engine.last_request().await.0;
    let reply = Reply::of(client().get(proxy.url("/api/tasks")).send().await.unwrap()).await;
    reply.assert_error(401, "missing_token");
    let reply = get(&proxy, "/api/tasks", &expired_hs_token("user_2abc123")).await;
    reply.assert_error(401, "expired");
    assert_eq!(engine.last_request().await.0, before);
}
