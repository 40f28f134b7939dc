//! Times for people: RFC 3339 dates and "expires in 55 min" / "expired 2 h ago".

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// `2026-11-23T10:00:00Z`, or the raw number when it is out of range.
pub fn date(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| format!("{unix} (out of range)"))
}

/// A coarse span: `45 s`, `5 min`, `2 h`, `3 d`.
pub fn span(seconds: u64) -> String {
    match seconds {
        s if s < 120 => format!("{s} s"),
        s if s < 2 * 3600 => format!("{} min", s / 60),
        s if s < 2 * 86_400 => format!("{} h", s / 3600),
        s => format!("{} d", s / 86_400),
    }
}

/// `in 55 min` or `5 min ago`, relative to `now`.
pub fn relative(unix: i64, now: i64) -> String {
    let delta = unix.saturating_sub(now);
    if delta == 0 {
        return "just now".into();
    }
    if delta >= 0 {
        format!("in {}", span(delta.unsigned_abs()))
    } else {
        format!("{} ago", span(delta.unsigned_abs()))
    }
}

/// Human notes for the time claims of a claim set, one line each.
pub fn time_notes(claims: &serde_json::Map<String, serde_json::Value>, now: i64) -> Vec<String> {
    let mut notes = Vec::new();
    let number = |name: &str| {
        claims
            .get(name)
            .and_then(serde_json::Value::as_f64)
            .map(|v| v as i64)
    };
    if let Some(iat) = number("iat") {
        let when = if iat > now {
            format!("in the future, {}", relative(iat, now))
        } else {
            relative(iat, now)
        };
        notes.push(format!("issued     {} ({when})", date(iat)));
    }
    if let Some(nbf) = number("nbf") {
        let when = if nbf > now {
            format!("valid {}", relative(nbf, now))
        } else {
            "already valid".into()
        };
        notes.push(format!("not before {} ({when})", date(nbf)));
    }
    if claims.get("exp").is_some_and(|v| !v.is_number()) {
        notes.push("expires    unknown: exp is not a number".into());
        return notes;
    }
    match number("exp") {
        Some(exp) if exp > now => notes.push(format!(
            "expires    {} (expires {})",
            date(exp),
            relative(exp, now)
        )),
        Some(exp) => notes.push(format!(
            "expired    {} (expired {})",
            date(exp),
            relative(exp, now)
        )),
        None => notes.push("expires    never (no exp claim)".into()),
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_and_relative_times() {
        assert_eq!(span(45), "45 s");
        assert_eq!(span(300), "5 min");
        assert_eq!(span(7200), "2 h");
        assert_eq!(span(3 * 86_400), "3 d");
        assert_eq!(relative(1000 + 3300, 1000), "in 55 min");
        assert_eq!(relative(1000 - 7200, 1000), "2 h ago");
        assert_eq!(relative(5, 5), "just now");
        assert_eq!(date(0), "1970-01-01T00:00:00Z");
    }
}
