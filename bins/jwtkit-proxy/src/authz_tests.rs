use super::*;
use crate::config::{Config, MethodRules};
use jwtkit_keys::Algorithm;
use jwtkit_verify::Header;

fn token(claims: Value) -> Validated {
    let Value::Object(map) = claims else {
        panic!("claims are an object")
    };
    Validated {
        header: Header {
            alg: Algorithm::HS256,
            kid: None,
            typ: None,
        },
        claims: Arc::new(Claims::from_map(map.into_iter().collect())),
        issuer: None,
    }
}

fn check(rules: &Rules, method: Method, token: &Validated) -> Result<(), Denied> {
    rules.check(token, &method, "/r/x", &HeaderMap::new())
}

fn section(toml: &str) -> AccessSection {
    let text = format!(
        "[[upstreams]]\nname = \"u\"\nurl = \"http://127.0.0.1:1\"\n[[routes]]\nprefix = \"/r\"\nupstream = \"u\"\n{toml}"
    );
    Config::from_toml(&text).unwrap().routes.remove(0).access
}

#[test]
fn section_rules_and_method_rules_both_apply() {
    let rules = Rules::new(
        "routes[0]",
        &section(
            r#"require_claims = { "/realm_access/roles" = "staff", tier = ["gold", 2] }
require_scopes = ["api"]
[routes.methods.GET]
require_scopes = ["read"]
[routes.methods.POST]
require_scopes = ["write"]
"#,
        ),
    )
    .unwrap();
    let reader = token(serde_json::json!({
        "realm_access": {"roles": ["staff"]}, "tier": 2, "scope": "api read"
    }));
    assert!(check(&rules, Method::GET, &reader).is_ok());
    assert!(check(&rules, Method::HEAD, &reader).is_ok());
    let denied = check(&rules, Method::POST, &reader).unwrap_err();
    assert_eq!(denied.rule(), r#"scope "write""#);
    assert_eq!(denied.scope(), Some("api write"));
    // A method with no entry of its own gets the section's rules only.
    assert!(check(&rules, Method::DELETE, &reader).is_ok());
    let outsider = token(serde_json::json!({"tier": "silver", "scope": "api read write"}));
    let denied = check(&rules, Method::GET, &outsider).unwrap_err();
    assert_eq!(
        denied.rule(),
        r#"claim /realm_access/roles must contain "staff""#
    );
}

#[test]
fn head_takes_get_rules_unless_it_has_its_own() {
    let mut access = AccessSection::default();
    access.methods.insert(
        "GET".into(),
        MethodRules {
            require_scopes: vec!["read".into()],
            ..MethodRules::default()
        },
    );
    let rules = Rules::new("routes[0]", &access).unwrap();
    let nothing = token(serde_json::json!({}));
    assert!(check(&rules, Method::HEAD, &nothing).is_err());
    assert!(check(&rules, Method::POST, &nothing).is_ok());
    access.methods.insert("HEAD".into(), MethodRules::default());
    let rules = Rules::new("routes[0]", &access).unwrap();
    assert!(check(&rules, Method::HEAD, &nothing).is_ok());
}

#[test]
fn decisions_are_remembered_per_token_and_never_shared_between_tokens() {
    let access = AccessSection {
        require_scopes: vec!["read".into()],
        ..AccessSection::default()
    };
    let rules = Rules::new("routes[0]", &access).unwrap();
    let allowed = token(serde_json::json!({"scope": "read"}));
    let refused = token(serde_json::json!({"scope": "other"}));
    for _ in 0..3 {
        assert!(check(&rules, Method::GET, &allowed).is_ok());
        assert!(check(&rules, Method::GET, &allowed.clone()).is_ok());
        assert!(check(&rules, Method::GET, &refused).is_err());
    }
    // Many tokens through few slots: each still gets its own decision.
    for i in 0..(SLOTS * 3) {
        let scope = if i % 2 == 0 { "read" } else { "write" };
        let one = token(serde_json::json!({ "scope": scope }));
        assert_eq!(check(&rules, Method::GET, &one).is_ok(), i % 2 == 0, "{i}");
        assert_eq!(check(&rules, Method::GET, &one).is_ok(), i % 2 == 0, "{i}");
    }
    assert!(check(&rules, Method::GET, &allowed).is_ok());
    assert!(check(&rules, Method::GET, &refused).is_err());
}

#[test]
fn bad_rules_name_their_key() {
    let cases = [
        (
            r#"require_claims = { "/a/~2" = "x" }"#,
            r#"routes[0].require_claims."/a/~2""#,
            "JSON Pointer",
        ),
        (
            "require_claims = { role = [] }",
            "routes[0].require_claims.role",
            "no accepted value",
        ),
        (
            "require_claims = { role = { a = 1 } }",
            "routes[0].require_claims.role",
            "string, number or boolean",
        ),
        (
            r#"require_scopes = ["a b"]"#,
            "routes[0].require_scopes",
            "scope token",
        ),
        (
            "[routes.methods.FETCH]\nrequire_scopes = [\"x\"]",
            "routes[0].methods.FETCH",
            "not an HTTP method",
        ),
        (
            "[routes.methods.get]\nrequire_scopes = [\"x\"]",
            "routes[0].methods.get",
            "not an HTTP method",
        ),
        (
            "[routes.methods.POST]\nrequire_claims = { \"\" = 1 }",
            r#"routes[0].methods.POST.require_claims."""#,
            "JSON Pointer",
        ),
    ];
    for (toml, key, problem) in cases {
        let err = Rules::new("routes[0]", &section(toml)).unwrap_err();
        assert_eq!(err.key, key, "{toml}");
        assert!(err.problem.contains(problem), "{toml}: {}", err.problem);
    }
}

#[test]
fn an_unknown_key_under_a_method_is_refused_at_load() {
    let text = "[[upstreams]]\nname = \"u\"\nurl = \"http://127.0.0.1:1\"\n[[routes]]\nprefix = \"/r\"\nupstream = \"u\"\n[routes.methods.GET]\nrequire_scope = [\"read\"]\n";
    let err = Config::from_toml(text).unwrap_err();
    assert!(err.to_string().contains("require_scope"), "{err}");
}

#[cfg(feature = "cel")]
#[test]
fn allow_if_reads_claims_and_the_request_and_is_checked_on_every_request() {
    let rules = Rules::new(
        "routes[0]",
        &section(
            r#"allow_if = "claims.tenant == 'acme'"
[routes.methods.DELETE]
allow_if = "request.path.startsWith('/r/own/') && 'admin' in claims.roles"
"#,
        ),
    )
    .unwrap();
    let acme = token(serde_json::json!({"tenant": "acme", "roles": ["admin"]}));
    let other = token(serde_json::json!({"tenant": "other", "roles": ["admin"]}));
    let headers = HeaderMap::new();
    assert!(rules.check(&acme, &Method::GET, "/r/x", &headers).is_ok());
    let denied = rules
        .check(&other, &Method::GET, "/r/x", &headers)
        .unwrap_err();
    assert_eq!(denied.rule(), r#"allow_if "routes[0]""#);
    // The same token, another path: the decision is not remembered across requests.
    assert!(
        rules
            .check(&acme, &Method::DELETE, "/r/own/1", &headers)
            .is_ok()
    );
    let denied = rules
        .check(&acme, &Method::DELETE, "/r/x", &headers)
        .unwrap_err();
    assert_eq!(denied.rule(), r#"allow_if "routes[0].methods.DELETE""#);
}

#[cfg(feature = "cel")]
#[test]
fn an_allow_if_that_does_not_compile_names_its_key() {
    let err = Rules::new("routes[0]", &section(r#"allow_if = "claims.a ==""#)).unwrap_err();
    assert_eq!(err.key, "routes[0].allow_if");
    assert!(
        err.problem.contains("invalid CEL expression"),
        "{}",
        err.problem
    );
    let err = Rules::new(
        "routes[0]",
        &section("[routes.methods.POST]\nallow_if = \"(\""),
    )
    .unwrap_err();
    assert_eq!(err.key, "routes[0].methods.POST.allow_if");
}
