//! A tantivy collector that returns every match as (document key, score): the embedded engine
//! filters, counts facets, sorts and pages in memory, which at a state portal's scale (tens of
//! thousands of documents) costs well under a millisecond.

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::Column;
use tantivy::index::SegmentReader;
use tantivy::{DocId, Score, SegmentOrdinal};

/// Collects the key fast field and score of every matching document.
pub struct MatchCollector {
    /// Name of the key fast field.
    pub key_field: &'static str,
}

/// Collects one segment's matches.
pub struct SegmentMatches {
    keys: Column<u64>,
    matches: Vec<(u64, Score)>,
}

impl Collector for MatchCollector {
    type Fruit = Vec<(u64, Score)>;
    type Child = SegmentMatches;

    fn for_segment(
        &self,
        _segment_local_id: SegmentOrdinal,
        segment: &SegmentReader,
    ) -> tantivy::Result<SegmentMatches> {
        Ok(SegmentMatches {
            keys: segment.fast_fields().u64(self.key_field)?,
            matches: Vec::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        true
    }

    fn merge_fruits(&self, segments: Vec<Vec<(u64, Score)>>) -> tantivy::Result<Self::Fruit> {
        Ok(segments.into_iter().flatten().collect())
    }
}

impl SegmentCollector for SegmentMatches {
    type Fruit = Vec<(u64, Score)>;

    fn collect(&mut self, doc: DocId, score: Score) {
        if let Some(key) = self.keys.first(doc) {
            self.matches.push((key, score));
        }
    }

    fn harvest(self) -> Self::Fruit {
        self.matches
    }
}
