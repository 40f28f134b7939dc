//! The one pass against the two passes it replaces: the same verdict, error and `T` for
//! payloads that try to make them differ.

use std::collections::HashMap;
use std::fmt::Debug;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{Members, one_pass};
use crate::registered::Registered;
use crate::{Policy, VerifyError, claims};

const NOW: i64 = 1_700_000_000;

/// The two-pass path: scan of the registered claims, policy, then `T` from the payload.
fn two_passes<T: DeserializeOwned>(policy: &Policy, payload: &[u8]) -> Result<T, VerifyError> {
    let (registered, names) = Registered::from_json(payload)
        .map_err(|_| VerifyError::Malformed("claims are not a JSON object with unique names"))?;
    policy.check_scanned(&registered, &names, NOW)?;
    claims::typed(payload)
}

/// What `Validator::validate_as_at` does with a verified payload.
fn validate_as<T: DeserializeOwned>(policy: &Policy, payload: &[u8]) -> Result<T, VerifyError> {
    let mut members = Members::default();
    if let Some(value) = one_pass::<T>(payload, &mut members) {
        policy.check_scanned(&members.registered(), &members.names, NOW)?;
        return Ok(value);
    }
    two_passes(policy, payload)
}

#[derive(Debug, PartialEq, Deserialize)]
struct Small {
    sub: String,
}

#[derive(Debug, PartialEq, Deserialize)]
struct Registered6 {
    exp: i64,
    iss: String,
    aud: Vec<String>,
    nbf: Option<f64>,
}

#[derive(Debug, PartialEq, Deserialize)]
struct AudString {
    aud: String,
    exp: u64,
}

#[derive(Debug, PartialEq, Deserialize)]
struct Access {
    roles: Vec<String>,
}

#[derive(Debug, PartialEq, Deserialize)]
struct Nested {
    sub: String,
    realm_access: Access,
}

#[derive(Debug, PartialEq, Deserialize)]
struct Flattened {
    sub: String,
    #[serde(flatten)]
    rest: HashMap<String, Value>,
}

#[derive(Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct Exact {
    sub: String,
    exp: f64,
    iss: String,
    aud: Value,
}

#[derive(Debug, PartialEq, Deserialize)]
struct Seconds(f64);

/// Registered claims read through an `Option`, a newtype, a `Value`, a tuple and a `u128`.
#[derive(Debug, PartialEq, Deserialize)]
struct Shapes {
    exp: Option<Seconds>,
    aud: Option<(String,)>,
    iss: Option<Value>,
    iat: Option<u128>,
    azp: Option<char>,
}

#[derive(Debug, PartialEq, Deserialize)]
enum Kind {
    User,
    Service { name: String },
}

#[derive(Debug, PartialEq, Deserialize)]
struct WithEnum {
    kind: Kind,
    sub: Option<String>,
}

fn payloads() -> Vec<Vec<u8>> {
    let exp = NOW + 100;
    let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    let mut list: Vec<Vec<u8>> = [
        // An ordinary token, and shapes of the registered claims.
        format!(
            r#"{{"iss":"https://idp","sub":"ada","aud":["api","x"],"exp":{exp},"iat":{NOW},"realm_access":{{"roles":["a","b"]}},"kind":"User","n":[1,{{"k":null}}]}}"#
        ),
        format!(r#"{{"iss":"https://idp","sub":"ada","aud":"api","exp":{exp}}}"#),
        format!(r#"{{"iss":"https://idp","sub":"ada","aud":["api"],"azp":"x","exp":{exp}}}"#),
        format!(r#"{{"iss":"https://idp","sub":"ada","aud":["api","x"],"exp":{exp}}}"#),
        format!(r#"{{"iss":"https://idp","sub":"ada","aud":["api"],"azp":"xy","exp":-{exp}}}"#),
        format!(r#"{{"iss":"https:\/\/idp","sub":"a\u00e9","aud":"api","exp":{exp}.0}}"#),
        format!(r#"{{"iss":"https://idp","sub":"ada","aud":"api","exp":"{exp}"}}"#),
        format!(r#"{{"iss":"https://idp","sub":"ada","aud":"api","exp":{exp},"nbf":null}}"#),
        format!(r#"{{"iss":"https://idp","sub":"ada","aud":"api","exp":{exp},"nbf":{}}}"#, NOW + 1000),
        format!(r#"{{"iss":"https://idp","sub":"ada","aud":"api","exp":{}}}"#, NOW - 1000),
        r#"{"iss":"https://idp","sub":"ada","aud":"api","exp":1e400}"#.to_owned(),
        r#"{"iss":"https://idp","sub":"ada","aud":"api","exp":18446744073709551616}"#.to_owned(),
        format!(r#"{{"iss":"https://idp","sub":"ada","aud":["api",["api"]],"exp":{exp}}}"#),
        format!(r#"{{"iss":"https://idp","sub":"ada","aud":{{"x":1,"x":2}},"exp":{exp}}}"#),
        format!(r#"{{"iss":"https://idp","sub":"ada","aud":[],"exp":{exp}}}"#),
        format!(r#"{{"iss":"https://idp","sub":"ada","aud":[null,"api"],"exp":{exp}}}"#),
        format!(r#"{{"iss":["https://idp"],"sub":"ada","aud":"api","exp":{exp}}}"#),
        format!(r#"{{"iss":"https://evil","sub":"ada","aud":"api","exp":{exp}}}"#),
        format!(r#"{{"sub":"ada","aud":"api","exp":{exp}}}"#),
        // Duplicate names, also spelled differently.
        format!(r#"{{"iss":"https://idp","sub":"ada","aud":"api","exp":{exp},"exp":{exp}}}"#),
        format!(r#"{{"iss":"https://idp","sub":"ada","aud":"api","exp":{exp},"\u0065xp":1}}"#),
        format!(r#"{{"iss":"https://idp","sub":"ada","sub":"bob","aud":"api","exp":{exp}}}"#),
        format!(r#"{{"iss":"https://idp","sub":"ada","aud":"api","exp":{exp},"x":1,"x":2}}"#),
        // Values the claims scan refuses wherever they are, also in claims T ignores.
        format!(r#"{{"iss":"https://idp","sub":"ada","aud":"api","exp":{exp},"x":{}}}"#, deep(200)),
        format!(r#"{{"iss":"https://idp","sub":"ada","aud":"api","exp":{exp},"x":{}}}"#, deep(127)),
        format!(r#"{{"iss":"https://idp","sub":"ada","aud":"api","exp":{exp},"x":{}}}"#, deep(126)),
        format!(
            r#"{{"iss":"https://idp","sub":"ada","aud":"api","exp":{exp},"realm_access":{{"roles":[],"y":{}}}}}"#,
            deep(200)
        ),
        format!(
            r#"{{"iss":"https://idp","sub":"ada","aud":"api","exp":{exp},"realm_access":{{"roles":[],"y":1,"y":2}}}}"#
        ),
        format!(r#"{{"iss":"https://idp","sub":"ada","aud":"api","exp":{exp},"x":1e400}}"#),
        format!(r#"{{"iss":"https://idp","sub":"ada","aud":"api","exp":{exp},"x":"\ud800"}}"#),
        format!(r#"{{"iss":"https://idp","sub":"ada","aud":"api","exp":{exp},"x":"\q"}}"#),
        format!(r#"{{"iss":"https://idp","sub":"ada","aud":"api","exp":{exp},"kind":{{"Service":{{"name":"s"}}}}}}"#),
        format!(r#"{{"iss":"https://idp","sub":"ada","aud":"api","exp":{exp},"kind":{{"Service":{{"name":"s","z":{}}}}}}}"#, deep(200)),
        // Not one JSON object.
        format!(r#"{{"iss":"https://idp","sub":"ada","aud":"api","exp":{exp}}} x"#),
        format!(r#"{{"iss":"https://idp","sub":"ada","aud":"api","exp":{exp}}},"#),
        format!(r#"[{{"sub":"ada","exp":{exp}}}]"#),
        "{}".to_owned(),
        "".to_owned(),
        "null".to_owned(),
    ]
    .into_iter()
    .map(String::into_bytes)
    .collect();
    // Invalid UTF-8 in a claim T ignores, and in one it reads.
    let mut bad =
        format!(r#"{{"iss":"https://idp","sub":"ada","aud":"api","exp":{exp},"x":"#).into_bytes();
    bad.extend_from_slice(b"\"\xff\xfe\"}");
    list.push(bad);
    let mut bad_sub =
        format!(r#"{{"iss":"https://idp","aud":"api","exp":{exp},"sub":"#).into_bytes();
    bad_sub.extend_from_slice(b"\"a\xc3\"}");
    list.push(bad_sub);
    list
}

fn policies() -> [Policy; 2] {
    [
        Policy::default(),
        Policy {
            issuers: vec!["https://idp".into()],
            audiences: vec!["api".into()],
            required_claims: vec!["sub".into()],
            ..Policy::default()
        },
    ]
}

/// Same verdict, same error, same `T`; returns how many payloads the one pass decided itself.
fn agree<T: DeserializeOwned + PartialEq + Debug>() -> usize {
    let mut decided = 0;
    for payload in payloads() {
        let shown = String::from_utf8_lossy(&payload);
        if one_pass::<T>(&payload, &mut Members::default()).is_some() {
            decided += 1;
            // What the one pass takes, the two passes take too (before the policy).
            assert!(
                Registered::from_json(&payload).is_ok() && claims::typed::<T>(&payload).is_ok(),
                "{} accepted only by the one pass: {shown}",
                std::any::type_name::<T>()
            );
        }
        for policy in &policies() {
            let one = validate_as::<T>(policy, &payload).map_err(|e| e.to_string());
            let two = two_passes::<T>(policy, &payload).map_err(|e| e.to_string());
            assert_eq!(one, two, "{}: {shown}", std::any::type_name::<T>());
        }
    }
    decided
}

#[test]
fn the_one_pass_and_the_two_passes_agree_on_every_payload_and_type() {
    // Each type's count: the one pass must do the work for the ordinary tokens, else the
    // agreement above would hold trivially.
    assert!(agree::<Small>() >= 10);
    assert!(agree::<Registered6>() >= 2);
    assert!(agree::<AudString>() >= 3);
    assert!(agree::<Nested>() >= 1);
    assert!(agree::<Flattened>() >= 10);
    assert!(agree::<Exact>() >= 1);
    assert!(agree::<WithEnum>() >= 2);
    assert!(agree::<Shapes>() >= 2);
    assert!(agree::<Value>() >= 10);
    assert!(agree::<HashMap<String, Value>>() >= 10);
    assert!(agree::<serde::de::IgnoredAny>() >= 10);
}

#[test]
fn the_one_pass_leaves_what_it_cannot_vouch_for_to_the_two_passes() {
    let exp = NOW + 100;
    let undecided = [
        // Nesting beyond serde_json's limit in a claim T ignores: ignore_value would not count it.
        format!(
            r#"{{"sub":"a","exp":{exp},"x":{}{}}}"#,
            "[".repeat(200),
            "]".repeat(200)
        ),
        // A number serde_json cannot read, a lone surrogate: ignore_value would skip them.
        format!(r#"{{"sub":"a","exp":{exp},"x":1e400}}"#),
        format!(r#"{{"sub":"a","exp":{exp},"x":"\udc00"}}"#),
        // Duplicate names.
        format!(r#"{{"sub":"a","exp":{exp},"x":1,"x":1}}"#),
    ];
    for payload in &undecided {
        assert!(
            one_pass::<Small>(payload.as_bytes(), &mut Members::default()).is_none(),
            "{payload}"
        );
        assert!(
            two_passes::<Small>(&Policy::default(), payload.as_bytes()).is_err(),
            "{payload}"
        );
    }
    // A registered claim holding an object: only scalars and arrays of scalars are captured.
    let object = format!(r#"{{"sub":"a","exp":{exp},"aud":{{"a":1}}}}"#);
    assert!(one_pass::<Small>(object.as_bytes(), &mut Members::default()).is_none());
    let taken = format!(r#"{{"sub":"a","exp":{exp},"aud":["api"],"x":{{"y":[1,"z"]}}}}"#);
    let mut members = Members::default();
    let value = one_pass::<Small>(taken.as_bytes(), &mut members).expect("one pass");
    assert_eq!(value.sub, "a");
    assert_eq!(members.names.as_slice(), ["aud", "exp", "sub", "x"]);
    assert_eq!(
        members.registered(),
        Registered::from_json(taken.as_bytes()).unwrap().0
    );
}

/// The shape of the typed benchmark (`cargo bench -p jwtkit-benches -- verify_hs256`).
#[derive(Debug, PartialEq, Deserialize)]
struct AccessClaims {
    iss: String,
    sub: String,
    aud: String,
    exp: i64,
    iat: i64,
    azp: String,
    scope: String,
    email: String,
    email_verified: bool,
    name: String,
    preferred_username: String,
    roles: Vec<String>,
    sid: String,
}

#[test]
fn an_access_token_takes_the_one_pass() {
    let exp = NOW + 100;
    let payload = format!(
        r#"{{"aud":"api","azp":"web","email":"a@example.com","email_verified":true,"exp":{exp},"iat":{NOW},"iss":"https://idp","name":"A","preferred_username":"a","roles":["r","w"],"scope":"openid email","sid":"7d0c","sub":"f3c1"}}"#
    );
    let mut members = Members::default();
    let value = one_pass::<AccessClaims>(payload.as_bytes(), &mut members).expect("one pass");
    assert_eq!(
        value,
        claims::typed::<AccessClaims>(payload.as_bytes()).unwrap()
    );
    assert_eq!(members.names.len(), 13);
    let policy = &policies()[1];
    assert!(
        policy
            .check_scanned(&members.registered(), &members.names, NOW)
            .is_ok()
    );
}
