//! Conversions between `chrono` times and protobuf timestamps.

use chrono::{DateTime, Utc};

/// A protobuf timestamp for a time.
pub fn to_proto(time: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: time.timestamp(),
        nanos: time.timestamp_subsec_nanos() as i32,
    }
}

/// A protobuf timestamp for an optional time.
pub fn to_proto_opt(time: Option<DateTime<Utc>>) -> Option<prost_types::Timestamp> {
    time.map(to_proto)
}

/// A time from a protobuf timestamp; `None` when out of range.
pub fn from_proto(timestamp: &prost_types::Timestamp) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(timestamp.seconds, u32::try_from(timestamp.nanos).ok()?)
}

/// A protobuf timestamp as RFC 3339 in UTC with milliseconds (`2026-12-05T01:02:03.456Z`), as the
/// public APIs write times.
pub fn iso_millis(timestamp: Option<&prost_types::Timestamp>) -> Option<String> {
    timestamp
        .and_then(from_proto)
        .map(|time| time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip() {
        let now = Utc::now();
        assert_eq!(from_proto(&to_proto(now)), Some(now));
    }
}
