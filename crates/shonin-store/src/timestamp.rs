//! Expiry times as integer unix microseconds (UTC), so both engines compare them exactly.

use shonin_types::StorageError;
use time::OffsetDateTime;

/// `t` as unix microseconds, truncated towards the past.
pub(crate) fn to_micros(t: OffsetDateTime) -> i64 {
    let micros = t.unix_timestamp_nanos().div_euclid(1_000);
    // `time` only represents years -9999..=9999 (±3.2e17 µs), well inside i64 (±9.2e18).
    i64::try_from(micros).unwrap_or(if micros < 0 { i64::MIN } else { i64::MAX })
}

/// The instant stored as `micros`.
pub(crate) fn from_micros(micros: i64, what: &str) -> Result<OffsetDateTime, StorageError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000)
        .map_err(|_| StorageError::Corrupt(format!("{what}: expiry time out of range")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn micros_round_trip_and_truncate_nanoseconds() {
        let t = datetime!(2026-03-04 05:06:07.123456789 UTC);
        let m = to_micros(t);
        assert_eq!(m, 1_772_600_767_123_456);
        assert_eq!(
            from_micros(m, "x").unwrap(),
            datetime!(2026-03-04 05:06:07.123456 UTC)
        );
    }

    #[test]
    fn times_before_1970_truncate_towards_the_past() {
        let t = datetime!(1969-12-31 23:59:59.9999995 UTC);
        assert_eq!(to_micros(t), -1);
    }

    #[test]
    fn offsets_do_not_change_the_instant() {
        let utc = datetime!(2026-01-01 12:00 UTC);
        let plus_two = datetime!(2026-01-01 14:00 +2);
        assert_eq!(to_micros(utc), to_micros(plus_two));
    }
}
