//! The one clock of jwtkit: minting and validation read the time through [`now`].

use std::time::{SystemTime, UNIX_EPOCH};

/// Current Unix time in whole seconds, floored (a clock before 1970 gives negative seconds).
///
/// `jwtkit_mint::now` and `jwtkit_verify::now` are this function.
///
/// ```
/// let now = jwtkit_keys::now();
/// assert!(now > 1_600_000_000, "after September 2020");
/// ```
pub fn now() -> i64 {
    // SystemTime directly: half the cost of going through a calendar date.
    seconds_since_epoch(SystemTime::now())
}

fn seconds_since_epoch(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(since) => i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
        Err(before) => {
            let before = before.duration();
            let seconds = i64::try_from(before.as_secs()).unwrap_or(i64::MAX);
            if before.subsec_nanos() > 0 {
                -seconds - 1
            } else {
                -seconds
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn seconds_are_floored_on_both_sides_of_the_epoch() {
        let at = |offset: Duration, after: bool| {
            seconds_since_epoch(if after {
                UNIX_EPOCH + offset
            } else {
                UNIX_EPOCH - offset
            })
        };
        assert_eq!(at(Duration::from_millis(1_500), true), 1);
        assert_eq!(at(Duration::ZERO, true), 0);
        assert_eq!(at(Duration::from_millis(500), false), -1);
        assert_eq!(at(Duration::from_secs(2), false), -2);
    }

    #[test]
    fn now_is_the_system_time() {
        let system = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        assert!((now() - system).abs() <= 1);
    }
}
