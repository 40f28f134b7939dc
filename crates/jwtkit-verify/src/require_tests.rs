//! Unit tests of [`Requirements`], on the claim shapes real identity providers issue.

use serde_json::json;

use super::*;

fn claims(value: Value) -> ClaimMap {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

fn rule_of(requirements: &Requirements, value: Value) -> Option<String> {
    requirements
        .check_claims(&claims(value))
        .err()
        .map(|denied| denied.rule().to_owned())
}

#[test]
fn keycloak_realm_and_client_roles() {
    let token = json!({
        "iss": "https://kc.example/realms/acme",
        "realm_access": {"roles": ["offline_access", "admin"]},
        "resource_access": {"orders-app": {"roles": ["reader"]}, "account": {"roles": ["view-profile"]}},
        "scope": "openid profile email",
    });
    let realm = Requirements::new()
        .claim("/realm_access/roles", "admin")
        .unwrap();
    assert_eq!(rule_of(&realm, token.clone()), None);
    let client = Requirements::new()
        .claim("/resource_access/orders-app/roles", "writer")
        .unwrap();
    assert_eq!(
        rule_of(&client, token.clone()).as_deref(),
        Some(r#"claim /resource_access/orders-app/roles must contain "writer""#)
    );
    let either = Requirements::new()
        .any_of("/resource_access/orders-app/roles", ["writer", "reader"])
        .unwrap();
    assert_eq!(rule_of(&either, token), None);
}

#[test]
fn auth0_permissions_and_a_namespaced_claim() {
    let token = json!({
        "iss": "https://acme.eu.auth0.com/",
        "permissions": ["read:orders", "create:orders"],
        "https://example.com/roles": ["support"],
        "scope": "openid read:orders",
    });
    let permission = Requirements::new()
        .claim("permissions", "create:orders")
        .unwrap();
    assert_eq!(rule_of(&permission, token.clone()), None);
    // The escaped pointer and the plain (literal) name reach the same claim.
    for path in ["/https:~1~1example.com~1roles", "https://example.com/roles"] {
        let role = Requirements::new().claim(path, "support").unwrap();
        assert_eq!(rule_of(&role, token.clone()), None, "{path}");
        let admin = Requirements::new().claim(path, "admin").unwrap();
        assert_eq!(
            rule_of(&admin, token.clone()).as_deref(),
            Some(r#"claim /https:~1~1example.com~1roles must contain "admin""#)
        );
    }
}

#[test]
fn azure_scp_string_and_roles_array() {
    let token = json!({
        "iss": "https://login.microsoftonline.com/tid/v2.0",
        "scp": "Orders.Read Orders.Write",
        "roles": ["Orders.Admin"],
    });
    let ok = Requirements::new()
        .scopes(["Orders.Read", "Orders.Write"])
        .unwrap()
        .claim("roles", "Orders.Admin")
        .unwrap();
    assert_eq!(rule_of(&ok, token.clone()), None);
    let missing = Requirements::new()
        .scopes(["Orders.Read", "Orders.Delete"])
        .unwrap();
    let denied = missing.check_claims(&claims(token)).unwrap_err();
    assert_eq!(denied.rule(), r#"scope "Orders.Delete""#);
    assert_eq!(denied.scope(), Some("Orders.Read Orders.Delete"));
    assert_eq!(denied.code(), "insufficient_scope");
    // Some Azure and other issuers put `scp` as an array.
    let array = json!({"scp": ["Orders.Read", "Orders.Delete"]});
    assert_eq!(rule_of(&missing, array), None);
}

#[test]
fn clerk_org_role() {
    // Session token version 2: the active organization in `o`, the role without `org:`.
    let v2 = json!({"sub": "user_2a", "v": 2, "o": {"id": "org_1", "rol": "admin", "slg": "acme"}});
    let admin = Requirements::new().claim("/o/rol", "admin").unwrap();
    assert_eq!(rule_of(&admin, v2), None);
    // Version 1: `org_role` with the prefix.
    let token = json!({"sub": "user_2a", "org_id": "org_1", "org_role": "org:admin"});
    let admin = Requirements::new().claim("org_role", "org:admin").unwrap();
    assert_eq!(rule_of(&admin, token.clone()), None);
    let member = Requirements::new()
        .claim("/org_role", "org:member")
        .unwrap();
    assert_eq!(
        rule_of(&member, token).as_deref(),
        Some(r#"claim /org_role must contain "org:member""#)
    );
}

#[test]
fn oauth_scope_string_needs_every_scope_as_a_whole_token() {
    let needs = Requirements::new().scopes(["read", "write"]).unwrap();
    assert_eq!(rule_of(&needs, json!({"scope": "write read"})), None);
    for token in [
        json!({"scope": "read"}),
        json!({"scope": "read writer"}),
        json!({"scope": "read", "scp": "rewrite"}),
    ] {
        assert_eq!(
            rule_of(&needs, token.clone()).as_deref(),
            Some(r#"scope "write""#),
            "{token}"
        );
    }
    // `scope` is a string (RFC 6749 §3.3); an array there is not read.
    for token in [json!({"scope": ["read", "write"]}), json!({})] {
        assert_eq!(
            rule_of(&needs, token.clone()).as_deref(),
            Some(r#"scope "read""#),
            "{token}"
        );
    }
    // Either claim may hold a scope.
    assert_eq!(
        rule_of(&needs, json!({"scope": "read", "scp": ["write"]})),
        None
    );
}

#[test]
fn values_compare_by_type_and_numbers_by_value() {
    let level = Requirements::new().claim("level", 3).unwrap();
    assert_eq!(rule_of(&level, json!({"level": 3})), None);
    assert_eq!(rule_of(&level, json!({"level": 3.0})), None);
    assert_eq!(rule_of(&level, json!({"level": [1, 3]})), None);
    assert!(rule_of(&level, json!({"level": "3"})).is_some());
    let verified = Requirements::new().claim("email_verified", true).unwrap();
    assert_eq!(rule_of(&verified, json!({"email_verified": true})), None);
    assert!(rule_of(&verified, json!({"email_verified": "true"})).is_some());
    assert!(rule_of(&verified, json!({"email_verified": {"v": true}})).is_some());
    assert!(rule_of(&verified, json!({"email_verified": null})).is_some());
}

#[test]
fn pointers_unescape_and_index_arrays() {
    let tilde = Requirements::new().claim("/a~0b/c", "x").unwrap();
    assert_eq!(rule_of(&tilde, json!({"a~b": {"c": "x"}})), None);
    let indexed = Requirements::new().claim("/groups/1", "b").unwrap();
    assert_eq!(rule_of(&indexed, json!({"groups": ["a", "b"]})), None);
    assert!(rule_of(&indexed, json!({"groups": ["a"]})).is_some());
    let leading_zero = Requirements::new().claim("/groups/01", "b").unwrap();
    assert!(rule_of(&leading_zero, json!({"groups": ["a", "b"]})).is_some());
    let through_string = Requirements::new().claim("/name/0", "a").unwrap();
    assert!(rule_of(&through_string, json!({"name": "a"})).is_some());
}

#[test]
fn bad_requirements_are_construction_errors_naming_the_path() {
    for path in ["/a~2b", "/a~", ""] {
        let err = Requirements::new().claim(path, "x").unwrap_err();
        assert!(
            matches!(&err, RequirementError::InvalidPointer { path: p, .. } if p == path),
            "{err:?}"
        );
    }
    assert_eq!(
        Requirements::new().claim("/a", json!(null)).unwrap_err(),
        RequirementError::UnsupportedValue { path: "/a".into() }
    );
    assert!(matches!(
        Requirements::new().claim("/a", json!(["x"])),
        Err(RequirementError::UnsupportedValue { .. })
    ));
    assert_eq!(
        Requirements::new()
            .any_of("/a", Vec::<String>::new())
            .unwrap_err(),
        RequirementError::NoValue { path: "/a".into() }
    );
    for scope in ["", "a b", "a\"b", "é"] {
        assert!(matches!(
            Requirements::new().scopes([scope]),
            Err(RequirementError::InvalidScope { .. })
        ));
    }
}

#[test]
fn the_denial_names_the_rule_never_the_token_values() {
    let requirements = Requirements::new()
        .any_of("/groups", ["a", "b"])
        .unwrap()
        .scopes(["read"])
        .unwrap();
    let denied = requirements
        .check_claims(&claims(json!({"groups": ["secret-group-name"]})))
        .unwrap_err();
    assert_eq!(
        denied.rule(),
        r#"claim /groups must contain one of "a", "b""#
    );
    assert_eq!(denied.to_string(), denied.rule());
    assert!(!format!("{denied:?}").contains("secret-group-name"));
    assert_eq!(denied.scope(), Some("read"));
    let no_scopes = Requirements::new().claim("a", "b").unwrap();
    assert_eq!(
        no_scopes
            .check_claims(&claims(json!({})))
            .unwrap_err()
            .scope(),
        None
    );
}

#[test]
fn rules_hold_together_and_scopes_are_not_repeated() {
    let requirements = Requirements::new()
        .claim("a", "x")
        .unwrap()
        .claim("b", "y")
        .unwrap()
        .scopes(["read", "read"])
        .unwrap()
        .scopes(["write"])
        .unwrap();
    assert!(!requirements.is_empty());
    assert!(Requirements::new().is_empty());
    assert_eq!(
        rule_of(&requirements, json!({"a": "x", "scope": "read write"})).as_deref(),
        Some(r#"claim /b must contain "y""#)
    );
    let denied = requirements
        .check_claims(&claims(json!({"a": "x", "b": "y"})))
        .unwrap_err();
    assert_eq!(denied.scope(), Some("read write"));
    assert_eq!(
        rule_of(
            &requirements,
            json!({"a": "x", "b": "y", "scope": "read write"})
        ),
        None
    );
}
