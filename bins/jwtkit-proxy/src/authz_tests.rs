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
    assert!(rules.check(&Method::GET, &reader).is_ok());
    assert!(rules.check(&Method::HEAD, &reader).is_ok());
    let denied = rules.check(&Method::POST, &reader).unwrap_err();
    assert_eq!(denied.rule(), r#"scope "write""#);
    assert_eq!(denied.scope(), Some("api write"));
    // A method with no entry of its own gets the section's rules only.
    assert!(rules.check(&Method::DELETE, &reader).is_ok());
    let outsider = token(serde_json::json!({"tier": "silver", "scope": "api read write"}));
    let denied = rules.check(&Method::GET, &outsider).unwrap_err();
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
    assert!(rules.check(&Method::HEAD, &nothing).is_err());
    assert!(rules.check(&Method::POST, &nothing).is_ok());
    access.methods.insert("HEAD".into(), MethodRules::default());
    let rules = Rules::new("routes[0]", &access).unwrap();
    assert!(rules.check(&Method::HEAD, &nothing).is_ok());
}

#[test]
fn decisions_are_remembered_per_token_and_never_shared_between_tokens() {
    let mut access = AccessSection::default();
    access.require_scopes = vec!["read".into()];
    let rules = Rules::new("routes[0]", &access).unwrap();
    let allowed = token(serde_json::json!({"scope": "read"}));
    let refused = token(serde_json::json!({"scope": "other"}));
    for _ in 0..3 {
        assert!(rules.check(&Method::GET, &allowed).is_ok());
        assert!(rules.check(&Method::GET, &allowed.clone()).is_ok());
        assert!(rules.check(&Method::GET, &refused).is_err());
    }
    // Many tokens through few slots: each still gets its own decision.
    for i in 0..(SLOTS * 3) {
        let scope = if i % 2 == 0 { "read" } else { "write" };
        let one = token(serde_json::json!({ "scope": scope }));
        assert_eq!(rules.check(&Method::GET, &one).is_ok(), i % 2 == 0, "{i}");
        assert_eq!(rules.check(&Method::GET, &one).is_ok(), i % 2 == 0, "{i}");
    }
    assert!(rules.check(&Method::GET, &allowed).is_ok());
    assert!(rules.check(&Method::GET, &refused).is_err());
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
