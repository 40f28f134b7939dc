//! The Camunda 7 REST facade of seed 001: the FastAPI proxy's `/api/processes`,
//! `/api/instances` and `/api/tasks` endpoints, in front of an engine's `engine-rest`.
//!
//! Every route needs an authenticated caller. Plain JSON variables from the caller become
//! Camunda typed variables ([`to_camunda_variables`]); when a process starts, the starter's
//! identity from the token is added as variables ([`inject_initiator`]) and the caller cannot
//! set those names. Path parameters are percent-encoded into the engine path
//! ([`path_segment`]) and only the documented query parameters are passed on.
//!
//! Status codes follow the FastAPI proxy: a started process answers `201 Created` with the
//! engine's JSON, a completed task `200 {}` (its client parses every answer as JSON, so the
//! engine's empty `204` would break it), everything else the engine's status and JSON.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequest, Path, Request, State};
use axum::handler::Handler;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use http_body_util::BodyExt;
use jwtkit_verify::ClaimMap;
use serde_json::{Map, Value, json};

use crate::app::AppState;
use crate::auth::{Access, Caller};
use crate::config::{CamundaSection, InitiatorVariables};
use crate::error::{ApiError, ErrorKind};
use crate::upstream::Upstream;

/// The facade's settings and engine.
pub struct CamundaFacade {
    /// The engine (`.../engine-rest`).
    pub engine: Arc<Upstream>,
    /// Who may call it.
    pub access: Access,
    /// Names of the starter's identity variables.
    pub variables: InitiatorVariables,
    /// ISO dates become `Date` variables.
    pub dates_as_date: bool,
}

impl CamundaFacade {
    /// From the configuration.
    pub fn new(section: &CamundaSection, engine: Arc<Upstream>) -> Self {
        Self {
            engine,
            access: Access::new(&section.access),
            variables: section.initiator_variables.clone(),
            dates_as_date: section.dates_as_date,
        }
    }
}

/// One facade operation, with its (still decoded) path parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    /// `GET /api/processes`.
    ListProcesses,
    /// `GET /api/processes/{key}`.
    GetProcess(String),
    /// `GET /api/processes/{key}/form`.
    StartForm(String),
    /// `POST /api/processes/{key}/start`.
    StartProcess(String),
    /// `GET /api/instances`.
    ListInstances,
    /// `GET /api/instances/{id}`.
    GetInstance(String),
    /// `GET /api/instances/{id}/variables`.
    InstanceVariables(String),
    /// `GET /api/tasks`.
    ListTasks,
    /// `GET /api/tasks/{id}/form`.
    TaskForm(String),
    /// `POST /api/tasks/{id}/complete`.
    CompleteTask(String),
}

impl Operation {
    /// True for the operations that take a JSON body.
    pub fn has_body(&self) -> bool {
        matches!(self, Self::StartProcess(_) | Self::CompleteTask(_))
    }
}

/// A request to the engine, relative to its base URL.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineCall {
    /// HTTP method.
    pub method: Method,
    /// Path below the engine's base URL, path parameters percent-encoded.
    pub path: String,
    /// Query parameters (only the documented ones).
    pub query: Vec<(&'static str, String)>,
    /// JSON body.
    pub body: Option<Value>,
}

/// Turns an operation into the engine request: `query` is the caller's raw query string,
/// `body` the caller's JSON object (for start and complete), `claims` the caller's token.
pub fn plan(
    operation: &Operation,
    query: Option<&str>,
    body: Option<&Map<String, Value>>,
    claims: &ClaimMap,
    names: &InitiatorVariables,
    dates_as_date: bool,
) -> Result<EngineCall, ApiError> {
    let empty = Map::new();
    let body = body.unwrap_or(&empty);
    let get = |path: String, query: Vec<(&'static str, String)>| EngineCall {
        method: Method::GET,
        path,
        query,
        body: None,
    };
    Ok(match operation {
        Operation::ListProcesses => get(
            "/process-definition".into(),
            vec![("latestVersion", "true".into())],
        ),
        Operation::GetProcess(key) => get(
            format!("/process-definition/key/{}", path_segment(key)?),
            Vec::new(),
        ),
        Operation::StartForm(key) => get(
            format!(
                "/process-definition/key/{}/form-variables",
                path_segment(key)?
            ),
            Vec::new(),
        ),
        Operation::StartProcess(key) => {
            let path = format!("/process-definition/key/{}/start", path_segment(key)?);
            let mut variables = to_camunda_variables(body.get("variables"), dates_as_date)?;
            inject_initiator(&mut variables, names, claims);
            let mut engine_body = Map::new();
            engine_body.insert("variables".into(), Value::Object(variables));
            match body.get("businessKey") {
                None | Some(Value::Null) => {}
                Some(Value::String(key)) => {
                    engine_body.insert("businessKey".into(), Value::String(key.clone()));
                }
                Some(_) => return Err(ApiError::bad_request("businessKey must be a string")),
            }
            EngineCall {
                method: Method::POST,
                path,
                query: Vec::new(),
                body: Some(Value::Object(engine_body)),
            }
        }
        Operation::ListInstances => get(
            "/process-instance".into(),
            allowed_query(query, &["processDefinitionKey"]),
        ),
        Operation::GetInstance(id) => get(
            format!("/process-instance/{}", path_segment(id)?),
            Vec::new(),
        ),
        Operation::InstanceVariables(id) => get(
            format!("/process-instance/{}/variables", path_segment(id)?),
            Vec::new(),
        ),
        Operation::ListTasks => get(
            "/task".into(),
            allowed_query(query, &["assignee", "processInstanceId"]),
        ),
        Operation::TaskForm(id) => get(
            format!("/task/{}/form-variables", path_segment(id)?),
            Vec::new(),
        ),
        Operation::CompleteTask(id) => {
            let path = format!("/task/{}/complete", path_segment(id)?);
            let mut variables = to_camunda_variables(body.get("variables"), dates_as_date)?;
            // Task variables land in the process scope: without this a task's assignee could
            // rewrite who started the process.
            remove_reserved(&mut variables, names);
            EngineCall {
                method: Method::POST,
                path,
                query: Vec::new(),
                body: Some(json!({ "variables": variables })),
            }
        }
    })
}

/// The first non-empty value of each allowed parameter; everything else is dropped (the
/// caller's `access_token`, engine filters the facade does not document).
fn allowed_query(query: Option<&str>, allowed: &[&'static str]) -> Vec<(&'static str, String)> {
    let Some(query) = query else {
        return Vec::new();
    };
    allowed
        .iter()
        .filter_map(|name| {
            url::form_urlencoded::parse(query.as_bytes())
                .find(|(key, value)| key == name && !value.is_empty())
                .map(|(_, value)| (*name, value.into_owned()))
        })
        .collect()
}

/// Percent-encodes one path parameter for the engine path: everything but RFC 3986 unreserved
/// characters, so `/`, `?`, `#` and `%` cannot change the path. `.` and `..` are refused: URL
/// parsers resolve them (even encoded as `%2E`), which would climb out of the resource.
pub fn path_segment(raw: &str) -> Result<String, ApiError> {
    if raw.is_empty() || raw == "." || raw == ".." {
        return Err(ApiError::bad_request(format!(
            "{raw:?} is not a valid key or id"
        )));
    }
    let mut out = String::with_capacity(raw.len());
    for byte in raw.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    Ok(out)
}

/// Camunda 7 variable types (REST names). `Object` is among them so it can be refused.
const CAMUNDA_TYPES: [&str; 13] = [
    "String", "Boolean", "Short", "Integer", "Long", "Double", "Date", "Null", "Json", "Xml",
    "Bytes", "File", "Object",
];

/// The canonical type name when `name` is one Camunda accepts: the engine lower-cases only the
/// first letter, so `String` and `string` are the same type and `STRING` is none.
fn camunda_type(name: &str) -> Option<&'static str> {
    let mut chars = name.chars();
    let first = chars.next()?;
    CAMUNDA_TYPES.into_iter().find(|known| {
        known.starts_with(first.to_ascii_uppercase()) && known[1..] == *chars.as_str()
    })
}

/// True when `value` is already a typed variable: an object with `value`, a known `type`,
/// optionally an object `valueInfo` (e.g. `{"transient": true}`), and nothing else.
fn typed_type(value: &Value) -> Option<&'static str> {
    let object = value.as_object()?;
    let kind = camunda_type(object.get("type")?.as_str()?)?;
    let valid = object.contains_key("value")
        && object.iter().all(|(key, v)| match key.as_str() {
            "value" | "type" => true,
            "valueInfo" => v.is_object(),
            _ => false,
        });
    valid.then_some(kind)
}

/// One plain JSON value as a Camunda typed variable (see [`to_camunda_variables`]).
pub fn to_camunda_value(value: &Value, dates_as_date: bool) -> Result<Value, ApiError> {
    if let Some(kind) = typed_type(value) {
        if kind == "Object" {
            // Object variables are deserialized by the engine (Java serialization when
            // enabled): not something an end user of the facade may send.
            return Err(ApiError::bad_request(
                "variables of type Object are not accepted; send plain JSON (stored as Json)",
            ));
        }
        return Ok(value.clone());
    }
    let (value, kind) = match value {
        Value::Null => (Value::Null, "Null"),
        Value::Bool(b) => (Value::Bool(*b), "Boolean"),
        Value::Number(n) => match n.as_i64() {
            Some(i) if i32::try_from(i).is_ok() => (value.clone(), "Integer"),
            Some(_) => (value.clone(), "Long"),
            // Fractions and integers above i64::MAX.
            None => (
                n.as_f64()
                    .and_then(serde_json::Number::from_f64)
                    .map_or_else(|| value.clone(), Value::Number),
                "Double",
            ),
        },
        Value::String(s) => match dates_as_date.then(|| camunda_date(s)).flatten() {
            Some(date) => (Value::String(date), "Date"),
            None => (value.clone(), "String"),
        },
        Value::Array(_) | Value::Object(_) => (Value::String(value.to_string()), "Json"),
    };
    Ok(json!({ "value": value, "type": kind }))
}

/// Converts the caller's plain `variables` to Camunda typed variables.
///
/// Strings become `String` (or `Date` when `dates_as_date` and the string is an RFC 3339
/// date-time), booleans `Boolean`, integers `Integer` (within i32) or `Long` (within i64),
/// other numbers `Double`, `null` `Null`, objects and arrays `Json` (as compact JSON text).
/// A value that is already typed (`{"value": ..., "type": "<Camunda type>"}`) is kept as it is,
/// except that `Object` is refused. Absent or `null` variables are none; anything but an
/// object is a 400.
pub fn to_camunda_variables(
    variables: Option<&Value>,
    dates_as_date: bool,
) -> Result<Map<String, Value>, ApiError> {
    match variables {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(plain)) => plain
            .iter()
            .map(|(name, value)| {
                let typed = to_camunda_value(value, dates_as_date).map_err(|mut err| {
                    err.detail = format!("variable {name:?}: {}", err.detail);
                    err
                })?;
                Ok((name.clone(), typed))
            })
            .collect(),
        Some(_) => Err(ApiError::bad_request(
            "variables must be a JSON object of name -> value",
        )),
    }
}

/// An RFC 3339 date-time (`2025-01-18T12:00:00Z`, `...T12:00:00.123+02:00`) in Camunda's
/// `yyyy-MM-dd'T'HH:mm:ss.SSSZ` format, keeping its offset (`2025-01-18T12:00:00.000+0000`).
/// `None` for anything else: strings without an offset name no instant, so they stay text.
pub fn camunda_date(text: &str) -> Option<String> {
    let b = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| -> Option<u32> {
        let part = b.get(range)?;
        part.iter()
            .all(u8::is_ascii_digit)
            .then(|| part.iter().fold(0, |n, d| n * 10 + u32::from(d - b'0')))
    };
    let (year, month, day) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    let (hour, minute, second) = (digits(11..13)?, digits(14..16)?, digits(17..19)?);
    let separators = b.get(4) == Some(&b'-')
        && b.get(7) == Some(&b'-')
        && matches!(b.get(10), Some(b'T' | b't'))
        && b.get(13) == Some(&b':')
        && b.get(16) == Some(&b':');
    let month = time::Month::try_from(u8::try_from(month).ok()?).ok()?;
    let valid_date =
        time::Date::from_calendar_date(i32::try_from(year).ok()?, month, u8::try_from(day).ok()?)
            .is_ok();
    // Leap seconds (60) are refused: Java would roll them into the next minute.
    if !separators || !valid_date || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let mut rest = &text[19..];
    let mut millis = String::from("000");
    if let Some(fraction) = rest.strip_prefix('.') {
        let len = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if len == 0 {
            return None;
        }
        // Truncated (not rounded) to milliseconds, Camunda's precision.
        let kept = &fraction[..len.min(3)];
        millis.replace_range(..kept.len(), kept);
        rest = &fraction[len..];
    }
    let offset = match rest {
        "Z" | "z" => "+0000".to_owned(),
        _ => {
            let o = rest.as_bytes();
            let sign = *o.first()?;
            if o.len() != 6 || !matches!(sign, b'+' | b'-') || o[3] != b':' {
                return None;
            }
            let hours = rest.get(1..3)?;
            let minutes = rest.get(4..6)?;
            let valid = hours
                .bytes()
                .chain(minutes.bytes())
                .all(|c| c.is_ascii_digit())
                && hours < "24"
                && minutes < "60";
            if !valid {
                return None;
            }
            format!("{}{hours}{minutes}", char::from(sign))
        }
    };
    Some(format!(
        "{}T{}.{millis}{offset}",
        &text[..10],
        &text[11..19]
    ))
}

/// A claim as non-empty text (strings as they are, numbers and booleans printed).
fn claim_text(claims: &ClaimMap, name: &str) -> Option<String> {
    let text = match claims.get(name)? {
        Value::String(s) => s.trim().to_owned(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => return None,
    };
    (!text.is_empty()).then_some(text)
}

/// `first last` from two claims, either of which may be missing.
fn full_name(claims: &ClaimMap, first: &str, last: &str) -> Option<String> {
    let parts: Vec<String> = [first, last]
        .into_iter()
        .filter_map(|name| claim_text(claims, name))
        .collect();
    (!parts.is_empty()).then(|| parts.join(" "))
}

/// The starter's identity from the token, as (variable name, value) pairs; the value is `None`
/// when the token does not carry it. The id is `sub`, the e-mail `email`, the display name
/// `name`, else `given_name` + `family_name` (OIDC), else `first_name` + `last_name` (Clerk
/// session-token templates). A variable configured with an empty name is left out.
pub fn initiator_values<'a>(
    names: &'a InitiatorVariables,
    claims: &ClaimMap,
) -> Vec<(&'a str, Option<String>)> {
    let display = claim_text(claims, "name")
        .or_else(|| full_name(claims, "given_name", "family_name"))
        .or_else(|| full_name(claims, "first_name", "last_name"));
    [
        (names.id.as_str(), claim_text(claims, "sub")),
        (names.email.as_str(), claim_text(claims, "email")),
        (names.name.as_str(), display),
    ]
    .into_iter()
    .filter(|(name, _)| !name.is_empty())
    .collect()
}

/// Removes the initiator variable names from caller-supplied variables.
fn remove_reserved(variables: &mut Map<String, Value>, names: &InitiatorVariables) {
    for name in [&names.id, &names.email, &names.name] {
        variables.remove(name.as_str());
    }
}

/// Sets the initiator variables from the token as `String` variables. The caller's variables
/// of those names are always removed, also when the token lacks the claim: the engine's
/// processes trust them (`${initiator}` as assignee), so only the token may set them.
pub fn inject_initiator(
    variables: &mut Map<String, Value>,
    names: &InitiatorVariables,
    claims: &ClaimMap,
) {
    remove_reserved(variables, names);
    for (name, value) in initiator_values(names, claims) {
        if let Some(value) = value {
            variables.insert(name.to_owned(), json!({ "value": value, "type": "String" }));
        }
    }
}

/// A metrics label for a facade path: ids replaced by placeholders, anything that is not a
/// facade route `unmatched`, so the label set stays bounded.
pub fn route_label(path: &str) -> String {
    let Some(rest) = path.strip_prefix("/api/") else {
        return "unmatched".to_owned();
    };
    let segments: Vec<&str> = rest.split('/').collect();
    let label = match segments.as_slice() {
        ["processes"] => "/api/processes",
        ["processes", key] if !key.is_empty() => "/api/processes/{key}",
        ["processes", key, "form"] if !key.is_empty() => "/api/processes/{key}/form",
        ["processes", key, "start"] if !key.is_empty() => "/api/processes/{key}/start",
        ["instances"] => "/api/instances",
        ["instances", id] if !id.is_empty() => "/api/instances/{id}",
        ["instances", id, "variables"] if !id.is_empty() => "/api/instances/{id}/variables",
        ["tasks"] => "/api/tasks",
        ["tasks", id, "form"] if !id.is_empty() => "/api/tasks/{id}/form",
        ["tasks", id, "complete"] if !id.is_empty() => "/api/tasks/{id}/complete",
        _ => "unmatched",
    };
    label.to_owned()
}

/// The facade's routes.
pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/processes", get_only(list_processes))
        .route("/api/processes/{key}", get_only(get_process))
        .route("/api/processes/{key}/form", get_only(start_form))
        .route("/api/processes/{key}/start", post_only(start_process))
        .route("/api/instances", get_only(list_instances))
        .route("/api/instances/{id}", get_only(get_instance))
        .route(
            "/api/instances/{id}/variables",
            get_only(instance_variables),
        )
        .route("/api/tasks", get_only(list_tasks))
        .route("/api/tasks/{id}/form", get_only(task_form))
        .route("/api/tasks/{id}/complete", post_only(complete_task))
}

fn get_only<H, T>(handler: H) -> MethodRouter<Arc<AppState>>
where
    H: Handler<T, Arc<AppState>>,
    T: 'static,
{
    get(handler).fallback(
        |State(state): State<Arc<AppState>>, request: Request| async move {
            wrong_method(state, request, "GET, HEAD").await
        },
    )
}

fn post_only<H, T>(handler: H) -> MethodRouter<Arc<AppState>>
where
    H: Handler<T, Arc<AppState>>,
    T: 'static,
{
    post(handler).fallback(
        |State(state): State<Arc<AppState>>, request: Request| async move {
            wrong_method(state, request, "POST").await
        },
    )
}

/// 405 in the proxy's JSON error format (axum's own has no body).
async fn wrong_method(state: Arc<AppState>, request: Request, allow: &'static str) -> Response {
    if state.camunda.is_none() {
        return delegate(&state, request).await;
    }
    let mut response = ApiError::new(
        ErrorKind::MethodNotAllowed,
        format!("this endpoint takes {allow}"),
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    response
}

/// Without a facade its paths belong to the prefix routes (a generic `/api` upstream, say),
/// exactly as if these routes did not exist; with no such route the answer is 404.
async fn delegate(state: &AppState, request: Request) -> Response {
    let path = request.uri().path();
    let Some(route) = state.routes.iter().find(|r| r.matches(path)) else {
        return ApiError::not_found(format!(
            "no route for {path} (the Camunda facade is not configured)"
        ))
        .into_response();
    };
    let caller = match route
        .access
        .authenticate(&state.registry, request.headers(), request.uri())
        .await
    {
        Ok(caller) => caller,
        Err(err) => return err.into_response(),
    };
    crate::forward::forward(state, route, &caller, request)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

type Id = Result<Path<String>, PathRejection>;

/// The operation for a path parameter; a parameter axum cannot decode is a 400.
fn with_id(id: Id, operation: fn(String) -> Operation) -> Result<Operation, ApiError> {
    id.map(|Path(id)| operation(id))
        .map_err(|rejection| ApiError::bad_request(rejection.body_text()))
}

async fn list_processes(State(state): State<Arc<AppState>>, request: Request) -> Response {
    handle(state, Ok(Operation::ListProcesses), request).await
}

async fn get_process(State(state): State<Arc<AppState>>, id: Id, request: Request) -> Response {
    handle(state, with_id(id, Operation::GetProcess), request).await
}

async fn start_form(State(state): State<Arc<AppState>>, id: Id, request: Request) -> Response {
    handle(state, with_id(id, Operation::StartForm), request).await
}

async fn start_process(State(state): State<Arc<AppState>>, id: Id, request: Request) -> Response {
    handle(state, with_id(id, Operation::StartProcess), request).await
}

async fn list_instances(State(state): State<Arc<AppState>>, request: Request) -> Response {
    handle(state, Ok(Operation::ListInstances), request).await
}

async fn get_instance(State(state): State<Arc<AppState>>, id: Id, request: Request) -> Response {
    handle(state, with_id(id, Operation::GetInstance), request).await
}

async fn instance_variables(
    State(state): State<Arc<AppState>>,
    id: Id,
    request: Request,
) -> Response {
    handle(state, with_id(id, Operation::InstanceVariables), request).await
}

async fn list_tasks(State(state): State<Arc<AppState>>, request: Request) -> Response {
    handle(state, Ok(Operation::ListTasks), request).await
}

async fn task_form(State(state): State<Arc<AppState>>, id: Id, request: Request) -> Response {
    handle(state, with_id(id, Operation::TaskForm), request).await
}

async fn complete_task(State(state): State<Arc<AppState>>, id: Id, request: Request) -> Response {
    handle(state, with_id(id, Operation::CompleteTask), request).await
}

async fn handle(
    state: Arc<AppState>,
    operation: Result<Operation, ApiError>,
    request: Request,
) -> Response {
    let Some(facade) = state.camunda.as_ref() else {
        return delegate(&state, request).await;
    };
    serve(&state, facade, operation, request)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn serve(
    state: &AppState,
    facade: &CamundaFacade,
    operation: Result<Operation, ApiError>,
    request: Request,
) -> Result<Response, ApiError> {
    // Authentication first: an anonymous caller learns nothing about its request's validity.
    let caller = facade
        .access
        .authenticate(&state.registry, request.headers(), request.uri())
        .await?;
    let operation = operation?;
    let query = request.uri().query().map(str::to_owned);
    let body = if operation.has_body() {
        Some(json_body(request).await?)
    } else {
        None
    };
    let call = plan(
        &operation,
        query.as_deref(),
        body.as_ref(),
        caller.claims(),
        &facade.variables,
        facade.dates_as_date,
    )?;
    let (status, value) = call_engine(&facade.engine, &caller, call).await?;
    answer(&operation, status, value)
}

/// Sends `call` to the engine for `caller`: the answer's status and JSON body. The engine's 4xx
/// are returned as errors with its own message (Camunda's `{"type": ..., "message": ...}`).
async fn call_engine(
    engine: &Upstream,
    caller: &Caller,
    call: EngineCall,
) -> Result<(StatusCode, Value), ApiError> {
    let EngineCall {
        method,
        path,
        query,
        body,
    } = call;
    let mut path_and_query = path;
    if !query.is_empty() {
        path_and_query.push('?');
        path_and_query.push_str(
            &url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(&query)
                .finish(),
        );
    }
    let mut headers = HeaderMap::new();
    headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
    let body = match &body {
        Some(value) => {
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            Body::from(value.to_string())
        }
        None => Body::empty(),
    };
    let response = engine
        .send(caller, method, &path_and_query, headers, body)
        .await?;
    let status = response.status();
    let bytes = match tokio::time::timeout(engine.timeout(), response.into_body().collect()).await {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(_)) => return Err(engine.unreachable_error()),
        Err(_) => return Err(engine.timeout_error()),
    };
    let value: Value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or(Value::Null)
    };
    if status.is_client_error() {
        // Camunda's error JSON: {"type": "...", "message": "..."}.
        let message = value
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("no message")
            .to_owned();
        let kind = if status == StatusCode::NOT_FOUND {
            ErrorKind::NotFound
        } else {
            ErrorKind::UpstreamRejected(status)
        };
        return Err(ApiError::new(kind, message));
    }
    Ok((status, value))
}

/// The caller's body as a JSON object. `Content-Type: application/json` is required: with
/// cookie tokens it keeps cross-site forms (which cannot send it without a preflight) from
/// starting processes. An empty body is an empty object.
async fn json_body(request: Request) -> Result<Map<String, Value>, ApiError> {
    if !is_json(request.headers()) {
        return Err(ApiError::new(
            ErrorKind::UnsupportedMediaType,
            "send the body as JSON with Content-Type: application/json",
        ));
    }
    let bytes = Bytes::from_request(request, &())
        .await
        .map_err(|rejection| {
            // Buffering fails for one of two reasons: the size limit (413) or a broken body.
            let kind = if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ErrorKind::BodyTooLarge
            } else {
                ErrorKind::BadRequest
            };
            ApiError::new(kind, rejection.body_text())
        })?;
    if bytes.trim_ascii().is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(body)) => Ok(body),
        Ok(_) => Err(ApiError::bad_request(
            "the body must be a JSON object like {\"variables\": {...}}",
        )),
        Err(err) => Err(ApiError::bad_request(format!(
            "the body is not valid JSON: {err}"
        ))),
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            let essence = v.split(';').next().unwrap_or_default().trim();
            essence.eq_ignore_ascii_case("application/json")
                || essence.to_ascii_lowercase().ends_with("+json")
        })
        .unwrap_or(false)
}

/// The caller's answer for an engine success.
fn answer(operation: &Operation, status: StatusCode, value: Value) -> Result<Response, ApiError> {
    if !status.is_success() {
        // A redirect or informational answer cannot be followed through the facade.
        return Err(ApiError::new(
            ErrorKind::UpstreamError,
            format!("the engine answered {status}"),
        ));
    }
    Ok(match operation {
        Operation::StartProcess(_) if status == StatusCode::OK => {
            (StatusCode::CREATED, Json(value)).into_response()
        }
        Operation::CompleteTask(_) if status == StatusCode::NO_CONTENT || value.is_null() => {
            (StatusCode::OK, Json(json!({}))).into_response()
        }
        _ if status == StatusCode::NO_CONTENT => StatusCode::NO_CONTENT.into_response(),
        _ => (status, Json(value)).into_response(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(value: Value, kind: &str) -> Value {
        json!({ "value": value, "type": kind })
    }

    fn convert(value: Value) -> Value {
        to_camunda_value(&value, false).unwrap()
    }

    #[test]
    fn numbers_take_the_smallest_camunda_type_that_holds_them() {
        let max32 = i64::from(i32::MAX);
        let min32 = i64::from(i32::MIN);
        assert_eq!(convert(json!(0)), typed(json!(0), "Integer"));
        assert_eq!(convert(json!(max32)), typed(json!(max32), "Integer"));
        assert_eq!(convert(json!(min32)), typed(json!(min32), "Integer"));
        assert_eq!(convert(json!(max32 + 1)), typed(json!(max32 + 1), "Long"));
        assert_eq!(convert(json!(min32 - 1)), typed(json!(min32 - 1), "Long"));
        assert_eq!(convert(json!(i64::MAX)), typed(json!(i64::MAX), "Long"));
        assert_eq!(convert(json!(i64::MIN)), typed(json!(i64::MIN), "Long"));
        // Above i64::MAX only a double holds it.
        assert_eq!(
            convert(json!(u64::MAX)),
            typed(json!(u64::MAX as f64), "Double")
        );
        assert_eq!(convert(json!(1.5)), typed(json!(1.5), "Double"));
        assert_eq!(convert(json!(-0.25)), typed(json!(-0.25), "Double"));
        // A JSON number written with a fraction is a double even when it is whole.
        let two: Value = serde_json::from_str("2.0").unwrap();
        assert_eq!(convert(two), typed(json!(2.0), "Double"));
    }

    #[test]
    fn strings_booleans_null_objects_and_arrays() {
        assert_eq!(
            convert(json!("ACME Corp")),
            typed(json!("ACME Corp"), "String")
        );
        assert_eq!(convert(json!("")), typed(json!(""), "String"));
        assert_eq!(convert(json!(true)), typed(json!(true), "Boolean"));
        assert_eq!(convert(json!(false)), typed(json!(false), "Boolean"));
        assert_eq!(convert(Value::Null), typed(Value::Null, "Null"));
        assert_eq!(
            convert(json!({"a": {"b": [1, 2, {"c": null}]}, "d": "e"})),
            typed(json!(r#"{"a":{"b":[1,2,{"c":null}]},"d":"e"}"#), "Json")
        );
        assert_eq!(
            convert(json!([1, "two", false])),
            typed(json!(r#"[1,"two",false]"#), "Json")
        );
        assert_eq!(convert(json!([])), typed(json!("[]"), "Json"));
        assert_eq!(convert(json!({})), typed(json!("{}"), "Json"));
    }

    #[test]
    fn dates_stay_strings_unless_asked_and_then_use_camunda_format() {
        let iso = json!("2025-01-18T12:00:00Z");
        assert_eq!(
            to_camunda_value(&iso, false).unwrap(),
            typed(iso.clone(), "String")
        );
        assert_eq!(
            to_camunda_value(&iso, true).unwrap(),
            typed(json!("2025-01-18T12:00:00.000+0000"), "Date")
        );
        // The browser's toISOString().
        assert_eq!(
            camunda_date("2025-01-18T12:00:00.123Z").as_deref(),
            Some("2025-01-18T12:00:00.123+0000")
        );
        // Extra precision is truncated; the offset is kept.
        assert_eq!(
            camunda_date("2025-01-18T12:00:00.987654+05:30").as_deref(),
            Some("2025-01-18T12:00:00.987+0530")
        );
        assert_eq!(
            camunda_date("2025-01-18T12:00:00.5-08:00").as_deref(),
            Some("2025-01-18T12:00:00.500-0800")
        );
        assert_eq!(
            camunda_date("2024-02-29t23:59:59z").as_deref(),
            Some("2024-02-29T23:59:59.000+0000")
        );
        for not_a_date_time in [
            "2025-01-18",
            "2025-01-18T12:00:00",
            "2025-01-18 12:00:00Z",
            "2025-02-29T12:00:00Z",
            "2025-13-01T12:00:00Z",
            "2025-01-18T24:00:00Z",
            "2025-01-18T12:60:00Z",
            "2025-01-18T12:00:60Z",
            "2025-01-18T12:00:00.Z",
            "2025-01-18T12:00:00+0100",
            "2025-01-18T12:00:00+24:00",
            "2025-01-18T12:00:00Zé",
            "2025-01-18T12:00:00Z ",
            "2025-1-18T12:00:00Z",
            "+2025-01-18T12:00:00Z",
            "é025-01-18T12:00:00Z",
            "order-12345",
        ] {
            assert_eq!(camunda_date(not_a_date_time), None, "{not_a_date_time}");
            assert_eq!(
                to_camunda_value(&json!(not_a_date_time), true).unwrap()["type"],
                "String"
            );
        }
    }

    #[test]
    fn already_typed_values_pass_through_unchanged() {
        for value in [
            json!({"value": "x", "type": "String"}),
            json!({"value": 5, "type": "Long"}),
            json!({"value": 5, "type": "long"}),
            json!({"value": "2025-01-18T12:00:00.000+0000", "type": "Date"}),
            json!({"value": null, "type": "Null"}),
            json!({"value": "{\"a\":1}", "type": "Json"}),
            json!({"value": "x", "type": "String", "valueInfo": {"transient": true}}),
            // The engine, not the facade, judges whether a value fits its type.
            json!({"value": "abc", "type": "Integer"}),
        ] {
            assert_eq!(convert(value.clone()), value);
        }
        // Not typed: stored as Json like any other object.
        for value in [
            json!({"value": "x", "type": "Strange"}),
            json!({"value": "x", "type": "STRING"}),
            json!({"value": "x", "type": "String", "extra": 1}),
            json!({"value": "x", "type": "String", "valueInfo": "no"}),
            json!({"type": "String"}),
            json!({"value": "x", "type": 1}),
        ] {
            assert_eq!(convert(value.clone())["type"], "Json", "{value}");
        }
        let object = json!({"value": "rO0AB", "type": "Object", "valueInfo": {
            "objectTypeName": "x.Y", "serializationDataFormat": "application/x-java-serialized-object"}});
        let err = to_camunda_value(&object, false).unwrap_err();
        assert_eq!(err.kind.status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn variables_must_be_an_object_when_present() {
        assert!(to_camunda_variables(None, false).unwrap().is_empty());
        assert!(
            to_camunda_variables(Some(&Value::Null), false)
                .unwrap()
                .is_empty()
        );
        for bad in [json!([1]), json!("x"), json!(1), json!(true)] {
            let err = to_camunda_variables(Some(&bad), false).unwrap_err();
            assert_eq!(err.kind.status(), StatusCode::BAD_REQUEST, "{bad}");
            assert_eq!(err.kind.code(), "bad_request");
        }
        let converted = to_camunda_variables(
            Some(&json!({"customerName": "ACME Corp", "amount": 1000, "due": "2025-01-18T12:00:00Z"})),
            true,
        )
        .unwrap();
        assert_eq!(
            Value::Object(converted),
            json!({
                "customerName": {"value": "ACME Corp", "type": "String"},
                "amount": {"value": 1000, "type": "Integer"},
                "due": {"value": "2025-01-18T12:00:00.000+0000", "type": "Date"},
            })
        );
    }

    fn claims(value: Value) -> ClaimMap {
        value.as_object().unwrap().clone()
    }

    fn injected(variables: Value, claims_value: Value) -> Value {
        let mut variables = to_camunda_variables(Some(&variables), false).unwrap();
        inject_initiator(
            &mut variables,
            &InitiatorVariables::default(),
            &claims(claims_value),
        );
        Value::Object(variables)
    }

    #[test]
    fn initiator_comes_from_the_token_as_in_seed_001() {
        let got = injected(
            json!({"customerName": "ACME Corp"}),
            json!({"sub": "user_2abc123", "email": "john@example.com", "name": "John Doe"}),
        );
        assert_eq!(
            got,
            json!({
                "customerName": { "value": "ACME Corp", "type": "String" },
                "initiator": { "value": "user_2abc123", "type": "String" },
                "initiatorEmail": { "value": "john@example.com", "type": "String" },
                "initiatorName": { "value": "John Doe", "type": "String" },
            })
        );
    }

    #[test]
    fn the_display_name_falls_back_to_given_family_then_first_last() {
        let name = |claims_value: Value| injected(json!({}), claims_value)["initiatorName"].clone();
        assert_eq!(
            name(
                json!({"sub": "u", "given_name": "Ada", "family_name": "Lovelace", "first_name": "X"})
            ),
            typed(json!("Ada Lovelace"), "String")
        );
        assert_eq!(
            name(json!({"sub": "u", "first_name": "Grace", "last_name": "Hopper"})),
            typed(json!("Grace Hopper"), "String")
        );
        assert_eq!(
            name(json!({"sub": "u", "family_name": "Lovelace"})),
            typed(json!("Lovelace"), "String")
        );
        assert_eq!(
            name(json!({"sub": "u", "first_name": "Grace"})),
            typed(json!("Grace"), "String")
        );
        // An empty name claim is no name.
        assert_eq!(
            name(json!({"sub": "u", "name": " ", "first_name": "Grace"})),
            typed(json!("Grace"), "String")
        );
    }

    #[test]
    fn absent_claims_leave_the_variable_out_and_the_body_cannot_set_it() {
        let got = injected(
            json!({
                "initiator": "admin",
                "initiatorEmail": "boss@example.com",
                "initiatorName": {"value": "The Boss", "type": "String"},
                "amount": 1
            }),
            json!({"sub": "user_1"}),
        );
        assert_eq!(
            got,
            json!({
                "amount": {"value": 1, "type": "Integer"},
                "initiator": {"value": "user_1", "type": "String"},
            })
        );
        // Without any identity claim nothing is added and nothing forged survives.
        assert_eq!(
            injected(json!({"initiator": "admin"}), json!({})),
            json!({})
        );
    }

    #[test]
    fn initiator_names_are_configurable() {
        let names = InitiatorVariables {
            id: "startedBy".into(),
            email: String::new(),
            name: "starterName".into(),
        };
        let mut variables = to_camunda_variables(
            Some(&json!({"startedBy": "x", "initiator": "kept", "initiatorEmail": "kept"})),
            false,
        )
        .unwrap();
        inject_initiator(
            &mut variables,
            &names,
            &claims(json!({"sub": 42, "email": "e@x", "name": "N"})),
        );
        assert_eq!(
            Value::Object(variables),
            json!({
                "startedBy": {"value": "42", "type": "String"},
                "starterName": {"value": "N", "type": "String"},
                "initiator": {"value": "kept", "type": "String"},
                "initiatorEmail": {"value": "kept", "type": "String"},
            })
        );
    }

    #[test]
    fn path_parameters_cannot_change_the_engine_path() {
        assert_eq!(
            path_segment("order-process_1.v2~x").unwrap(),
            "order-process_1.v2~x"
        );
        assert_eq!(path_segment("a/b").unwrap(), "a%2Fb");
        assert_eq!(path_segment("../x").unwrap(), "..%2Fx");
        assert_eq!(
            path_segment("a b?c#d%e&f=g+h;i").unwrap(),
            "a%20b%3Fc%23d%25e%26f%3Dg%2Bh%3Bi"
        );
        assert_eq!(path_segment("ü").unwrap(), "%C3%BC");
        assert_eq!(path_segment("\\x").unwrap(), "%5Cx");
        for bad in ["", ".", ".."] {
            assert_eq!(
                path_segment(bad).unwrap_err().kind.status(),
                StatusCode::BAD_REQUEST
            );
        }
        // What the upstream's URL parser sees: every encoded segment stays one segment.
        for key in ["a/b", "../x", "..%2F..", "a\\..\\b", "%2e%2e", "x?y#z"] {
            let url = url::Url::parse(&format!(
                "http://engine:8080/engine-rest/process-definition/key/{}/start",
                path_segment(key).unwrap()
            ))
            .unwrap();
            let segments: Vec<&str> = url.path_segments().unwrap().collect();
            assert_eq!(segments.len(), 5, "{key}: {url}");
            assert_eq!(segments[..3], ["engine-rest", "process-definition", "key"]);
            assert_eq!(segments[4], "start");
            assert_eq!(url.query(), None);
            assert_eq!(url.fragment(), None);
        }
    }

    fn plan_of(operation: Operation, query: Option<&str>, body: Option<Value>) -> EngineCall {
        let body = body.map(|b| b.as_object().unwrap().clone());
        plan(
            &operation,
            query,
            body.as_ref(),
            &claims(json!({"sub": "user_1", "email": "u@x"})),
            &InitiatorVariables::default(),
            false,
        )
        .unwrap()
    }

    #[test]
    fn operations_map_to_engine_requests() {
        let call = plan_of(Operation::ListProcesses, Some("latestVersion=false"), None);
        assert_eq!(
            (call.method, call.path.as_str(), call.query),
            (
                Method::GET,
                "/process-definition",
                vec![("latestVersion", "true".to_owned())]
            )
        );
        let path = |op| plan_of(op, None, None).path;
        assert_eq!(
            path(Operation::GetProcess("a/b".into())),
            "/process-definition/key/a%2Fb"
        );
        assert_eq!(
            path(Operation::StartForm("k".into())),
            "/process-definition/key/k/form-variables"
        );
        assert_eq!(
            path(Operation::GetInstance("i 1".into())),
            "/process-instance/i%201"
        );
        assert_eq!(
            path(Operation::InstanceVariables("i".into())),
            "/process-instance/i/variables"
        );
        assert_eq!(
            path(Operation::TaskForm("t".into())),
            "/task/t/form-variables"
        );
        let instances = plan_of(
            Operation::ListInstances,
            Some("processDefinitionKey=order%20process&active=true&processDefinitionKey=second"),
            None,
        );
        assert_eq!(instances.path, "/process-instance");
        assert_eq!(
            instances.query,
            vec![("processDefinitionKey", "order process".to_owned())]
        );
        let tasks = plan_of(
            Operation::ListTasks,
            Some(
                "access_token=secret&processInstanceId=p1&assignee=&assignee=user123&maxResults=1",
            ),
            None,
        );
        assert_eq!(tasks.path, "/task");
        assert_eq!(
            tasks.query,
            vec![
                ("assignee", "user123".to_owned()),
                ("processInstanceId", "p1".to_owned())
            ]
        );
        assert!(
            plan_of(Operation::ListTasks, Some("assignee="), None)
                .query
                .is_empty()
        );
    }

    #[test]
    fn start_and_complete_bodies() {
        let start = plan_of(
            Operation::StartProcess("order".into()),
            None,
            Some(
                json!({"variables": {"amount": 1000, "initiator": "admin"}, "businessKey": "order-12345", "other": 1}),
            ),
        );
        assert_eq!(start.method, Method::POST);
        assert_eq!(start.path, "/process-definition/key/order/start");
        assert_eq!(
            start.body.unwrap(),
            json!({
                "variables": {
                    "amount": {"value": 1000, "type": "Integer"},
                    "initiator": {"value": "user_1", "type": "String"},
                    "initiatorEmail": {"value": "u@x", "type": "String"},
                },
                "businessKey": "order-12345",
            })
        );
        // No body at all: no variables but the initiator, no business key.
        let bare = plan_of(Operation::StartProcess("order".into()), None, None);
        assert_eq!(
            bare.body.unwrap(),
            json!({"variables": {
                "initiator": {"value": "user_1", "type": "String"},
                "initiatorEmail": {"value": "u@x", "type": "String"},
            }})
        );
        let err = plan(
            &Operation::StartProcess("order".into()),
            None,
            json!({"businessKey": 5}).as_object(),
            &ClaimMap::new(),
            &InitiatorVariables::default(),
            false,
        )
        .unwrap_err();
        assert_eq!(err.kind.status(), StatusCode::BAD_REQUEST);

        let complete = plan_of(
            Operation::CompleteTask("t/1".into()),
            None,
            Some(
                json!({"variables": {"approved": true, "comments": "Looks good", "initiator": "me"}}),
            ),
        );
        assert_eq!(complete.method, Method::POST);
        assert_eq!(complete.path, "/task/t%2F1/complete");
        assert_eq!(
            complete.body.unwrap(),
            json!({"variables": {
                "approved": {"value": true, "type": "Boolean"},
                "comments": {"value": "Looks good", "type": "String"},
            }})
        );
        let err = plan(
            &Operation::CompleteTask("t".into()),
            None,
            json!({"variables": [1]}).as_object(),
            &ClaimMap::new(),
            &InitiatorVariables::default(),
            false,
        )
        .unwrap_err();
        assert_eq!(err.kind.status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn route_labels_never_contain_ids() {
        for (path, label) in [
            ("/api/processes", "/api/processes"),
            ("/api/processes/order", "/api/processes/{key}"),
            ("/api/processes/order/form", "/api/processes/{key}/form"),
            ("/api/processes/a%2Fb/start", "/api/processes/{key}/start"),
            ("/api/instances", "/api/instances"),
            ("/api/instances/8f1c", "/api/instances/{id}"),
            (
                "/api/instances/8f1c/variables",
                "/api/instances/{id}/variables",
            ),
            ("/api/tasks", "/api/tasks"),
            ("/api/tasks/t1/form", "/api/tasks/{id}/form"),
            ("/api/tasks/t1/complete", "/api/tasks/{id}/complete"),
            ("/api/tasks/t1", "unmatched"),
            ("/api/processes/", "unmatched"),
            ("/api/processes//start", "unmatched"),
            ("/api/processes/x/start/more", "unmatched"),
            ("/api/random-id-123", "unmatched"),
            ("/api", "unmatched"),
            ("/other", "unmatched"),
        ] {
            assert_eq!(route_label(path), label, "{path}");
        }
    }

    mod http {
        use std::net::SocketAddr;
        use std::sync::Mutex;

        use axum::body::Body;
        use axum::http::{Request as HttpRequest, Uri};
        use axum::routing::any;
        use jwtkit_keys::{Algorithm, SigningKey, VerifyingKey};
        use jwtkit_mint::Minter;
        use jwtkit_secret::Secret;
        use jwtkit_verify::{IssuerConfig, KeySource, Policy};
        use tower::ServiceExt;

        use super::*;
        use crate::config::Config;

        /// What the fake engine received.
        #[derive(Clone, Debug)]
        struct Seen {
            method: Method,
            path: String,
            query: Option<String>,
            authorization: Option<String>,
            body: Value,
        }

        type Log = Arc<Mutex<Vec<Seen>>>;

        /// An engine-rest stand-in on 127.0.0.1:0 that records every request.
        async fn fake_engine() -> (SocketAddr, Log) {
            let log: Log = Arc::default();
            let seen = log.clone();
            let app = Router::new().fallback(any(
                move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                    let seen = seen.clone();
                    async move {
                        let path = uri.path().to_owned();
                        seen.lock().unwrap().push(Seen {
                            method,
                            path: path.clone(),
                            query: uri.query().map(str::to_owned),
                            authorization: headers
                                .get(header::AUTHORIZATION)
                                .map(|v| v.to_str().unwrap().to_owned()),
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

        /// The proxy in front of a fake engine; `facade: false` leaves `[camunda]` out and
        /// routes `/api` to the same engine as a prefix route instead.
        async fn harness(facade: bool) -> Harness {
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
                "[[upstreams]]\nname = \"engine\"\nurl = \"http://{addr}/engine-rest\"\ntimeout_seconds = 5\n\
                 auth = {{ type = \"basic\", user = \"demo\", password = {{ file = {:?} }} }}\n{tail}\n",
                password.display().to_string()
            );
            let config = Config::from_toml(&text).unwrap();
            let secret = Secret::from_bytes(SECRET.to_vec()).unwrap();
            let issuer = IssuerConfig {
                name: "test".into(),
                issuers: vec!["urn:test".into()],
                keys: KeySource::Static(vec![VerifyingKey::hmac(&secret).unwrap()]),
                policy: Policy::default(),
            };
            let state = Arc::new(AppState::build(&config, vec![issuer]).unwrap());
            let token = mint(json!({
                "iss": "urn:test",
                "sub": "user_2abc123",
                "email": "john@example.com",
                "first_name": "John",
                "last_name": "Doe",
                "exp": jwtkit_mint::now() + 3600,
            }));
            Harness {
                app: crate::app::router(state, &config),
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
        async fn start_types_variables_adds_the_initiator_and_answers_201() {
            let h = harness(true).await;
            let (status, body) = h
                .post(
                    "/api/processes/order-process/start",
                    r#"{"variables": {"customerName": "ACME Corp", "amount": 1000,
                        "initiator": "admin", "initiatorName": "Forged"}, "businessKey": "order-12345"}"#,
                )
                .await;
            assert_eq!(status, StatusCode::CREATED);
            assert_eq!(body["id"], "instance-1");
            let seen = h.last();
            assert_eq!(seen.method, Method::POST);
            assert_eq!(
                seen.path,
                "/engine-rest/process-definition/key/order-process/start"
            );
            // The engine gets the proxy's Basic credential, never the caller's token.
            assert_eq!(seen.authorization.as_deref(), Some("Basic ZGVtbzpkZW1v"));
            assert_eq!(
                seen.body,
                json!({
                    "variables": {
                        "customerName": { "value": "ACME Corp", "type": "String" },
                        "amount": { "value": 1000, "type": "Integer" },
                        "initiator": { "value": "user_2abc123", "type": "String" },
                        "initiatorEmail": { "value": "john@example.com", "type": "String" },
                        "initiatorName": { "value": "John Doe", "type": "String" },
                    },
                    "businessKey": "order-12345",
                })
            );
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
            let forged =
                mint(json!({"iss": "urn:other", "sub": "x", "exp": jwtkit_mint::now() + 60}));
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
        async fn without_a_facade_or_route_the_answer_is_a_json_404() {
            let (addr, _log) = fake_engine().await;
            let text =
                format!("[[upstreams]]\nname = \"engine\"\nurl = \"http://{addr}/engine-rest\"\n");
            let config = Config::from_toml(&text).unwrap();
            let secret = Secret::from_bytes(SECRET.to_vec()).unwrap();
            let issuer = IssuerConfig {
                name: "test".into(),
                issuers: vec!["urn:test".into()],
                keys: KeySource::Static(vec![VerifyingKey::hmac(&secret).unwrap()]),
                policy: Policy::default(),
            };
            let state = Arc::new(AppState::build(&config, vec![issuer]).unwrap());
            let app = crate::app::router(state, &config);
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
    }
}
