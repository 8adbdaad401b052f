//! The rows pages read, kept a short while: under load many visitors ask for the same page of the
//! same dataset, and a page view needs several queries (the table, the filtered count, the
//! freshness badge, the chart, the map). Rows of a dataset's own queries are keyed by its data
//! version, so a new version is seen at once; rows of the governance datasets (freshness,
//! retirements), whose version the pages do not read, are kept a few seconds only. The cache
//! holds at most [`MOST_BYTES`]; past that it starts again empty, so no query mix can grow it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

/// Rows as the pages read them.
pub type Rows = Vec<Map<String, Value>>;

/// How long rows keyed by their dataset's version are kept.
const VERSIONED: Duration = Duration::from_secs(60);
/// How long other rows are kept.
const UNVERSIONED: Duration = Duration::from_secs(5);
/// Bytes of rows (as read) the cache holds at most.
const MOST_BYTES: usize = 32 * 1024 * 1024;

struct Entry {
    read_at: Instant,
    keep: Duration,
    bytes: usize,
    rows: Arc<Rows>,
}

#[derive(Default)]
struct Entries {
    by_key: HashMap<String, Entry>,
    bytes: usize,
}

/// Recently read rows, by dataset, version and query.
#[derive(Default)]
pub struct RowsCache {
    entries: Mutex<Entries>,
}

/// The key of query `soql` of dataset `dataset_id` at `version` (none: unversioned).
fn key(dataset_id: &str, version: Option<&str>, soql: &str) -> String {
    format!("{dataset_id}\n{}\n{soql}", version.unwrap_or_default())
}

impl RowsCache {
    /// The rows kept for the query, if still fresh.
    pub fn get(&self, dataset_id: &str, version: Option<&str>, soql: &str) -> Option<Arc<Rows>> {
        let entries = self.entries.lock().ok()?;
        let entry = entries.by_key.get(&key(dataset_id, version, soql))?;
        (entry.read_at.elapsed() < entry.keep).then(|| Arc::clone(&entry.rows))
    }

    /// Keeps `rows` (`bytes` as read) for the query.
    pub fn put(
        &self,
        dataset_id: &str,
        version: Option<&str>,
        soql: &str,
        rows: Arc<Rows>,
        bytes: usize,
    ) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if entries.bytes + bytes > MOST_BYTES {
            *entries = Entries::default();
        }
        let entry = Entry {
            read_at: Instant::now(),
            keep: if version.is_some() {
                VERSIONED
            } else {
                UNVERSIONED
            },
            bytes,
            rows,
        };
        if let Some(old) = entries.by_key.insert(key(dataset_id, version, soql), entry) {
            entries.bytes -= old.bytes;
        }
        entries.bytes += bytes;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_kept_by_version_and_the_cache_stays_bounded() {
        let cache = RowsCache::default();
        let rows = Arc::new(vec![Map::new()]);
        cache.put("abcd-1234", Some("v1"), "$limit=20", Arc::clone(&rows), 10);
        assert!(cache.get("abcd-1234", Some("v1"), "$limit=20").is_some());
        assert!(
            cache.get("abcd-1234", Some("v2"), "$limit=20").is_none(),
            "a new version is read"
        );
        assert!(cache.get("abcd-1234", Some("v1"), "$limit=21").is_none());
        cache.put(
            "abcd-1234",
            None,
            "$limit=20",
            Arc::clone(&rows),
            MOST_BYTES,
        );
        assert!(
            cache.get("abcd-1234", Some("v1"), "$limit=20").is_none(),
            "full: started again"
        );
        assert!(cache.get("abcd-1234", None, "$limit=20").is_some());
    }
}
