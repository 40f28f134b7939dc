//! The facade's routes: one handler per endpoint, each authenticating the caller, planning the
//! engine call and answering with the engine's result. A method an endpoint does not take is
//! 405 in the proxy's JSON error format.

use std::sync::Arc;

use crate::front::FixedRoutes;
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequest, Path, Request, State};
use axum::handler::Handler;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use serde_json::{Map, Value};

use super::CamundaFacade;
use super::engine::respond;
use super::plan::{Operation, plan};
use crate::error::{ApiError, ErrorKind};

type Facade = State<Arc<CamundaFacade>>;

/// The facade's routes, with the facade as their state.
pub fn router<S: Clone + Send + Sync + 'static>(facade: Arc<CamundaFacade>) -> FixedRoutes<S> {
    FixedRoutes::new()
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
        .with_state(facade)
}

fn get_only<H, T>(handler: H) -> MethodRouter<Arc<CamundaFacade>>
where
    H: Handler<T, Arc<CamundaFacade>>,
    T: 'static,
{
    get(handler).fallback(|| async { wrong_method("GET, HEAD") })
}

fn post_only<H, T>(handler: H) -> MethodRouter<Arc<CamundaFacade>>
where
    H: Handler<T, Arc<CamundaFacade>>,
    T: 'static,
{
    post(handler).fallback(|| async { wrong_method("POST") })
}

/// 405 in the proxy's JSON error format (axum's own has no body).
fn wrong_method(allow: &'static str) -> Response {
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

type Id = Result<Path<String>, PathRejection>;

/// The operation for a path parameter; a parameter axum cannot decode is a 400.
fn with_id(id: Id, operation: fn(String) -> Operation) -> Result<Operation, ApiError> {
    id.map(|Path(id)| operation(id))
        .map_err(|rejection| ApiError::bad_request(rejection.body_text()))
}

async fn list_processes(State(facade): Facade, request: Request) -> Response {
    handle(&facade, Ok(Operation::ListProcesses), request).await
}

async fn get_process(State(facade): Facade, id: Id, request: Request) -> Response {
    handle(&facade, with_id(id, Operation::GetProcess), request).await
}

async fn start_form(State(facade): Facade, id: Id, request: Request) -> Response {
    handle(&facade, with_id(id, Operation::StartForm), request).await
}

async fn start_process(State(facade): Facade, id: Id, request: Request) -> Response {
    handle(&facade, with_id(id, Operation::StartProcess), request).await
}

async fn list_instances(State(facade): Facade, request: Request) -> Response {
    handle(&facade, Ok(Operation::ListInstances), request).await
}

async fn get_instance(State(facade): Facade, id: Id, request: Request) -> Response {
    handle(&facade, with_id(id, Operation::GetInstance), request).await
}

async fn instance_variables(State(facade): Facade, id: Id, request: Request) -> Response {
    handle(&facade, with_id(id, Operation::InstanceVariables), request).await
}

async fn list_tasks(State(facade): Facade, request: Request) -> Response {
    handle(&facade, Ok(Operation::ListTasks), request).await
}

async fn task_form(State(facade): Facade, id: Id, request: Request) -> Response {
    handle(&facade, with_id(id, Operation::TaskForm), request).await
}

async fn complete_task(State(facade): Facade, id: Id, request: Request) -> Response {
    handle(&facade, with_id(id, Operation::CompleteTask), request).await
}

async fn handle(
    facade: &CamundaFacade,
    operation: Result<Operation, ApiError>,
    request: Request,
) -> Response {
    serve(facade, operation, request)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn serve(
    facade: &CamundaFacade,
    operation: Result<Operation, ApiError>,
    request: Request,
) -> Result<Response, ApiError> {
    // Authentication first: an anonymous caller learns nothing about its request's validity.
    let caller = facade
        .access
        .authenticate(
            &facade.registry,
            request.method(),
            request.headers(),
            request.uri(),
        )
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
    respond(&facade.engine, &caller, &operation, call).await
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
