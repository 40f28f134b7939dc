//! The request planner: a facade operation and the caller's query, body and claims become the
//! engine request. Path parameters are percent-encoded into the engine path ([`path_segment`])
//! and only the documented query parameters are passed on.

use axum::http::Method;
use jwtkit_verify::ClaimMap;
use serde_json::{Map, Value, json};

use super::initiator::{inject_initiator, remove_reserved};
use super::variables::to_camunda_variables;
use crate::config::InitiatorVariables;
use crate::error::ApiError;

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

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use super::*;

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
            json!({"sub": "user_1", "email": "u@x"})
                .as_object()
                .unwrap(),
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
}
