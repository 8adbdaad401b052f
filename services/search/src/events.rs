//! Catalog and incentives events applied to the index: all the events that arrived together go
//! to the [`Indexer`] as one sync, and each event's outcome is that of its own document.

use std::sync::Arc;

use opendata_platform::events::{Event, EventHandler, HandlerError};
use tracing::Instrument as _;

use crate::indexer::{Indexed, Indexer};

/// Applies catalog or incentives events to the index, the events that arrived together in one
/// write.
pub struct IndexEvents {
    /// The indexer writing them.
    pub indexer: Arc<Indexer>,
    /// Whose events they are.
    pub kind: Indexed,
}

impl EventHandler for IndexEvents {
    async fn handle(&self, event: Event) -> Result<(), HandlerError> {
        self.handle_group(vec![event])
            .await
            .pop()
            .unwrap_or_else(|| Err(HandlerError::Retry("the event had no outcome".to_owned())))
    }

    /// One sync for the group; an event fails only when its own document could not be synced
    /// (or it names none), so one bad document never holds back the others.
    async fn handle_group(&self, events: Vec<Event>) -> Vec<Result<(), HandlerError>> {
        let span = tracing::info_span!("index events", events = events.len());
        let subjects: Vec<Result<String, HandlerError>> = events
            .into_iter()
            .map(|event| {
                span.follows_from(&event.span);
                self.kind.subject_of(event.payload)
            })
            .collect();
        let ids: Vec<String> = subjects.iter().flatten().cloned().collect();
        let unsynced = self.indexer.sync(self.kind, &ids).instrument(span).await;
        subjects
            .into_iter()
            .map(|subject| match unsynced.reason(&subject?) {
                None => Ok(()),
                Some(reason) => Err(HandlerError::Retry(reason.to_owned())),
            })
            .collect()
    }
}
