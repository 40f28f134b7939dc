//! Token lifetimes written as in generate_jwt.py: `3600s`, `30m`, `24h`, `7d`, `4w`, `never`.

use std::fmt;
use std::str::FromStr;

/// How long a minted token lives.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Expiry {
    /// No `exp` claim at all (the default, as in generate_jwt.py).
    #[default]
    Never,
    /// `exp` = issue time + this many seconds.
    After(u64),
}

/// A lifetime string that could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid lifetime {0:?}: write a positive number with a unit s, m, h, d or w \
     (for example 3600s, 30m, 24h, 7d, 4w), or `never`"
)]
pub struct InvalidExpiry(pub String);

impl Expiry {
    /// The `exp` value for a token issued at `iat` (Unix seconds), if any.
    pub fn exp_after(self, iat: i64) -> Option<i64> {
        match self {
            Self::Never => None,
            Self::After(seconds) => {
                Some(iat.saturating_add(i64::try_from(seconds).unwrap_or(i64::MAX)))
            }
        }
    }
}

impl FromStr for Expiry {
    type Err = InvalidExpiry;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || InvalidExpiry(text.chars().take(40).collect());
        let trimmed = text.trim();
        if trimmed.eq_ignore_ascii_case("never") {
            return Ok(Self::Never);
        }
        let split = trimmed.len().checked_sub(1).ok_or_else(invalid)?;
        if !trimmed.is_char_boundary(split) {
            return Err(invalid());
        }
        let (number, unit) = trimmed.split_at(split);
        let unit_seconds: u64 = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3_600,
            "d" => 86_400,
            "w" => 604_800,
            _ => return Err(invalid()),
        };
        if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid());
        }
        let count: u64 = number.parse().map_err(|_| invalid())?;
        let seconds = count
            .checked_mul(unit_seconds)
            .filter(|s| *s > 0)
            .ok_or_else(invalid)?;
        // Beyond ~10^12 s (31,000 years) a lifetime is a typo, and i64 arithmetic must not overflow.
        if seconds > 1_000_000_000_000 {
            return Err(invalid());
        }
        Ok(Self::After(seconds))
    }
}

impl fmt::Display for Expiry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Never => f.write_str("never"),
            Self::After(seconds) => write!(f, "{seconds}s"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_of_generate_jwt_py() {
        let cases = [
            ("3600s", 3600),
            ("30m", 1800),
            ("24h", 86_400),
            ("7d", 604_800),
            ("4w", 2_419_200),
        ];
        for (text, seconds) in cases {
            assert_eq!(
                text.parse::<Expiry>().unwrap(),
                Expiry::After(seconds),
                "{text}"
            );
        }
        assert_eq!("never".parse::<Expiry>().unwrap(), Expiry::Never);
        assert_eq!(Expiry::After(60).exp_after(1000), Some(1060));
        assert_eq!(Expiry::Never.exp_after(1000), None);
    }

    #[test]
    fn bad_input_is_an_error_not_a_default() {
        for bad in [
            "",
            "s",
            "10",
            "10x",
            "-5m",
            "1.5h",
            "0s",
            "h1",
            "10 m",
            "99999999999999999999d",
            "5é",
            "🙂",
        ] {
            assert!(bad.parse::<Expiry>().is_err(), "{bad:?} should be refused");
        }
    }
}
