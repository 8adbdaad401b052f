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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip() {
        let now = Utc::now();
        assert_eq!(from_proto(&to_proto(now)), Some(now));
    }
}
