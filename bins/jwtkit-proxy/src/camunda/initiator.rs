//! The starter's identity: when a process starts, variables named by `initiator_variables` are
//! set from the caller's token, and the caller can never set them (at start or at task
//! completion).

use jwtkit_verify::ClaimMap;
use serde_json::{Map, Value, json};

use crate::config::InitiatorVariables;

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
pub fn remove_reserved(variables: &mut Map<String, Value>, names: &InitiatorVariables) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::camunda::variables::to_camunda_variables;

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
    fn initiator_comes_from_the_token_as_in_the_fastapi_proxy() {
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
            json!({"value": "Ada Lovelace", "type": "String"})
        );
        assert_eq!(
            name(json!({"sub": "u", "first_name": "Grace", "last_name": "Hopper"})),
            json!({"value": "Grace Hopper", "type": "String"})
        );
        assert_eq!(
            name(json!({"sub": "u", "family_name": "Lovelace"})),
            json!({"value": "Lovelace", "type": "String"})
        );
        assert_eq!(
            name(json!({"sub": "u", "first_name": "Grace"})),
            json!({"value": "Grace", "type": "String"})
        );
        // An empty name claim is no name.
        assert_eq!(
            name(json!({"sub": "u", "name": " ", "first_name": "Grace"})),
            json!({"value": "Grace", "type": "String"})
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
}
