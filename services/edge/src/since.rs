//! `modified_since`: where a catalog listing (`/data.json`, `/api/catalog/v1`) starts from. A
//! time in RFC 3339 (`2026-12-01T08:00:00Z`, any offset), a date-time without offset (UTC), or a
//! date (its midnight, UTC).

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

use crate::error::SodaError;

/// The time `value` of `parameter` names.
pub fn parse_since(parameter: &str, value: &str) -> Result<DateTime<Utc>, SodaError> {
    let value = value.trim();
    DateTime::parse_from_rfc3339(value)
        .map(|time| time.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%S%.f")
                .ok()
                .map(|time| time.and_utc())
        })
        .or_else(|| {
            NaiveDate::parse_from_str(value, "%Y-%m-%d")
                .ok()
                .and_then(|date| date.and_hms_opt(0, 0, 0))
                .map(|time| time.and_utc())
        })
        .ok_or_else(|| {
            SodaError::bad_parameter(
                parameter,
                format!(
                    "{parameter} takes a date (2026-12-01) or a time (2026-12-01T08:00:00Z), \
                     not {:?}",
                    opendata_limits::excerpt(value)
                ),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_times_in_utc_or_with_an_offset() {
        let at = |text| parse_since("modified_since", text).unwrap().to_rfc3339();
        assert_eq!(at("2026-12-01"), "2026-12-01T00:00:00+00:00");
        assert_eq!(at("2026-12-01T08:30:00"), "2026-12-01T08:30:00+00:00");
        assert_eq!(at("2026-12-01T08:30:00-05:00"), "2026-12-01T13:30:00+00:00");
        assert_eq!(
            at(" 2026-12-01T08:30:00.250Z "),
            "2026-12-01T08:30:00.250+00:00"
        );
        for bad in ["yesterday", "2026-13-01", "", "1764000000"] {
            let error = parse_since("modified_since", bad).unwrap_err();
            assert!(
                error.0.message.contains("modified_since"),
                "{bad}: {error:?}"
            );
        }
    }
}
