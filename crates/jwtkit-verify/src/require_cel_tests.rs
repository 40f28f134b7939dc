//! Unit tests of `allow_if` rules: identity-provider claim shapes, the request variables,
//! `has_scope`, compile errors and evaluation failures (always denials).

use http::{HeaderMap, HeaderValue};
use serde_json::json;

use super::*;
use crate::Requirements;

fn claims(value: Json) -> ClaimMap {
    match value {
        Json::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

fn eval(expression: &str, token: Json) -> Result<(), EvalFailure> {
    let rule = CelRule::compile("test", expression).unwrap();
    let headers = HeaderMap::new();
    let request = RequestInfo {
        method: "GET",
        path: "/orders/7",
        headers: &headers,
    };
    rule.evaluate(&claims(token), &request)
}

fn reads(expression: &str) -> (ClaimUse, bool) {
    let rule = CelRule::compile("test", expression).unwrap();
    (rule.claims, rule.headers)
}

fn named(names: &[&str]) -> ClaimUse {
    ClaimUse::Named(names.iter().map(|name| name.to_string()).collect())
}

#[test]
fn keycloak_realm_and_client_roles() {
    let token = json!({
        "iss": "https://kc.example/realms/acme",
        "realm_access": {"roles": ["offline_access", "admin"]},
        "resource_access": {"orders-app": {"roles": ["reader"]}},
        "scope": "openid profile",
    });
    let admin = "'admin' in claims.realm_access.roles && request.method == 'GET'";
    assert_eq!(eval(admin, token.clone()), Ok(()));
    let client = "'writer' in claims.resource_access['orders-app'].roles";
    assert_eq!(eval(client, token.clone()), Err(EvalFailure::False));
    let any = "claims.realm_access.roles.exists(r, r in ['admin', 'ops'])";
    assert_eq!(eval(any, token.clone()), Ok(()));
    // The standard functions and macros AUTHORIZATION.md lists.
    let standard = "size(claims.realm_access.roles.filter(r, r.endsWith('min'))) == 1 \
                    && claims.iss.contains('/realms/') && claims.iss.startsWith('https://') \
                    && claims.realm_access.roles.map(r, size(r)).all(n, n > 3)";
    assert_eq!(eval(standard, token), Ok(()));
}

#[test]
fn auth0_permissions_and_a_namespaced_claim() {
    let token = json!({
        "iss": "https://acme.eu.auth0.com/",
        "permissions": ["read:orders", "delete:orders"],
        "https://acme.example/roles": ["support"],
        "scope": "openid read:orders",
    });
    assert_eq!(
        eval("'delete:orders' in claims.permissions", token.clone()),
        Ok(())
    );
    let namespaced = "'support' in claims['https://acme.example/roles']";
    assert_eq!(eval(namespaced, token.clone()), Ok(()));
    assert_eq!(reads(namespaced).0, named(&["https://acme.example/roles"]));
    assert_eq!(eval("has_scope('read:orders')", token.clone()), Ok(()));
    assert_eq!(eval("has_scope('read')", token), Err(EvalFailure::False));
}

#[test]
fn azure_scp_string_and_array_roles_and_numbers() {
    let token = json!({
        "iss": "https://login.microsoftonline.com/tid/v2.0",
        "scp": "Orders.Read User.Read",
        "roles": ["Orders.Admin"],
        "ver": "2.0",
        "uti": 12,
    });
    assert_eq!(
        eval(
            "has_scope('Orders.Read') && 'Orders.Admin' in claims.roles",
            token.clone()
        ),
        Ok(())
    );
    assert_eq!(
        eval("has_scope('Orders')", token.clone()),
        Err(EvalFailure::False)
    );
    assert_eq!(
        eval("claims.uti == 12 && claims.ver == '2.0'", token),
        Ok(())
    );
    let array = json!({"scp": ["Orders.Read", "Orders.Delete"]});
    assert_eq!(eval("has_scope('Orders.Delete')", array), Ok(()));
    assert_eq!(
        eval("has_scope('read')", json!({})),
        Err(EvalFailure::False)
    );
}

#[test]
fn request_variables() {
    let mut headers = HeaderMap::new();
    headers.insert("x-tenant", HeaderValue::from_static("acme"));
    headers.append("accept", HeaderValue::from_static("text/html"));
    headers.append("accept", HeaderValue::from_static("application/json"));
    let request = RequestInfo {
        method: "POST",
        path: "/admin/users",
        headers: &headers,
    };
    let token = claims(json!({"tenant": "acme"}));
    let check = |expression: &str| {
        CelRule::compile("r", expression)
            .unwrap()
            .evaluate(&token, &request)
    };
    assert_eq!(
        check("request.method == 'POST' && request.path.startsWith('/admin/')"),
        Ok(())
    );
    assert_eq!(
        check("request.headers['x-tenant'] == claims.tenant"),
        Ok(())
    );
    assert_eq!(
        check("request.headers.accept == 'text/html, application/json'"),
        Ok(())
    );
    assert_eq!(
        check("'x-missing' in request.headers"),
        Err(EvalFailure::False)
    );
    assert_eq!(
        check("request.headers['x-missing'] == 'a'"),
        Err(EvalFailure::Error("no_such_key"))
    );
}

#[test]
fn only_the_claims_an_expression_names_are_converted() {
    assert_eq!(
        reads("'admin' in claims.realm_access.roles && request.method == 'GET'"),
        (named(&["realm_access"]), false)
    );
    assert_eq!(
        reads("has(claims.email) && claims['sub'] != ''").0,
        named(&["email", "sub"])
    );
    assert_eq!(reads("has_scope('read')").0, named(&[]));
    assert_eq!(reads("size(claims) > 2").0, ClaimUse::All);
    assert_eq!(reads("claims[request.path] == 1"), (ClaimUse::All, false));
    assert_eq!(
        reads("claims.groups.exists(g, g == claims.sub)").0,
        named(&["groups", "sub"])
    );
    assert!(reads("request.headers.host == 'a'").1);
    assert!(reads("size(request) == 3").1);
    assert!(reads("request['headers'].host == 'a'").1);
}

#[test]
fn compile_errors_name_the_rule_and_the_position() {
    let error = Requirements::new()
        .allow_if("admins", "'admin' in claims.roles &&")
        .unwrap_err();
    let RequirementError::InvalidExpression {
        rule, line, column, ..
    } = &error
    else {
        panic!("{error:?}")
    };
    assert_eq!((rule.as_str(), *line), ("admins", 1));
    assert!(*column > 0, "{error}");
    let text = error.to_string();
    assert!(
        text.starts_with("allow_if \"admins\": invalid CEL expression at line 1, column"),
        "{text}"
    );
}

#[test]
fn evaluation_errors_are_denials() {
    let keycloak = json!({"realm_access": {"roles": ["admin"]}});
    assert_eq!(
        eval("'admin' in claims.groups", keycloak.clone()),
        Err(EvalFailure::Error("no_such_key"))
    );
    assert!(matches!(
        eval("claims.realm_access.roles > 3", keycloak.clone()),
        Err(EvalFailure::Error(_))
    ));
    assert!(matches!(
        eval("claims.realm_access.roles[5] == 'a'", keycloak.clone()),
        Err(EvalFailure::Error(_))
    ));
    assert!(matches!(
        eval("unknown_function(1)", keycloak),
        Err(EvalFailure::Error(_))
    ));
    // Through Requirements: the denial names the rule, not the error or the claims.
    let requirements = Requirements::new()
        .allow_if("groups", "'ops' in claims.groups")
        .unwrap();
    let denied = requirements
        .check_claims(&claims(json!({"sub": "secret-subject"})))
        .unwrap_err();
    assert_eq!(denied.rule(), r#"allow_if "groups""#);
    assert_eq!(denied.code(), "insufficient_scope");
}

#[test]
fn non_bool_results_are_denials() {
    let token = json!({"realm_access": {"roles": ["admin"]}, "sub": "u1"});
    assert_eq!(eval("claims.sub", token.clone()), Err(EvalFailure::NotBool));
    assert_eq!(
        eval("claims.realm_access.roles", token.clone()),
        Err(EvalFailure::NotBool)
    );
    assert_eq!(eval("1", token), Err(EvalFailure::NotBool));
}

#[test]
fn rules_run_after_claims_and_scopes_and_check_sees_an_empty_request() {
    let requirements = Requirements::new()
        .scopes(["read"])
        .unwrap()
        .allow_if("get only", "request.method == 'GET'")
        .unwrap();
    assert!(!requirements.is_empty());
    let token = claims(json!({"scope": "read"}));
    // `check_claims` (like `check`) has no request: the method is empty.
    assert_eq!(
        requirements.check_claims(&token).unwrap_err().rule(),
        r#"allow_if "get only""#
    );
    assert_eq!(
        requirements
            .check_claims(&claims(json!({})))
            .unwrap_err()
            .rule(),
        r#"scope "read""#
    );
    let headers = HeaderMap::new();
    let get = RequestInfo {
        method: "GET",
        path: "/",
        headers: &headers,
    };
    let rule = &requirements.cel[0];
    assert_eq!(rule.evaluate(&token, &get), Ok(()));
}
