//! Variable typing: the caller's plain JSON values become Camunda 7 typed variables, and ISO
//! date-times optionally Camunda `Date`s ([`camunda_date`]).

use serde_json::{Map, Value, json};

use crate::error::ApiError;

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

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

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
}
