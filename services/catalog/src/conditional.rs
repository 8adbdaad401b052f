//! Conditional reads: the ETag of a row response and whether the client's copy is still current
//! (`If-None-Match`, or `If-Modified-Since` when no ETag is given), so unchanged data is not sent
//! again.

use chrono::{DateTime, Utc};
use opendata_datastore::output::Format;
use opendata_soql::QueryRequest;
use sha2::{Digest, Sha256};

use crate::model::Dataset;

/// A strong ETag for the rows `request` returns from the dataset as it is now.
pub fn etag(dataset: &Dataset, request: &QueryRequest, format: Format, bom: bool) -> String {
    let mut hasher = Sha256::new();
    hasher.update(dataset.id.as_str().as_bytes());
    hasher.update(dataset.current_version.to_be_bytes());
    hasher.update(dataset.updated_at().timestamp_micros().to_be_bytes());
    hasher.update(format!("{request:?}|{format:?}|{bom}").as_bytes());
    let digest = hasher.finalize();
    let hex: String = digest
        .iter()
        .take(16)
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!("\"{hex}\"")
}

/// Whether the client's copy is current: `If-None-Match` lists the ETag (or `*`); without it,
/// nothing changed after `If-Modified-Since` (HTTP dates have whole seconds).
pub fn is_current(
    if_none_match: &str,
    if_modified_since: Option<DateTime<Utc>>,
    etag: &str,
    last_modified: DateTime<Utc>,
) -> bool {
    let if_none_match = if_none_match.trim();
    if !if_none_match.is_empty() {
        return if_none_match
            .split(',')
            .map(|tag| tag.trim().trim_start_matches("W/"))
            .any(|tag| tag == "*" || tag == etag);
    }
    if_modified_since.is_some_and(|since| last_modified.timestamp() <= since.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validators_follow_http() {
        let now = Utc::now();
        assert!(is_current("\"abc\"", None, "\"abc\"", now));
        assert!(is_current("\"x\", W/\"abc\"", None, "\"abc\"", now));
        assert!(is_current("*", None, "\"abc\"", now));
        assert!(
            !is_current("\"x\"", Some(now), "\"abc\"", now),
            "an ETag mismatch wins over the date"
        );
        assert!(is_current("", Some(now), "\"abc\"", now));
        assert!(!is_current(
            "",
            Some(now - chrono::Duration::seconds(5)),
            "\"abc\"",
            now
        ));
        assert!(!is_current("", None, "\"abc\"", now));
    }
}
