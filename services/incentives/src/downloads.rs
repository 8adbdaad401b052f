//! Public downloads of the award table (`ExportAwards`, behind `/api/incentives/awards.csv` and
//! `.json`): at most [`AWARD_EXPORTS`] stream at once and each has [`AWARD_EXPORT_SECONDS`], the
//! client's reading included. A download reads its batches from one snapshot
//! ([`Ledger::export`]) in a task of its own and hands them over a one-batch channel, so a client
//! that stops reading keeps neither its snapshot (a database connection) nor its place past its
//! time. The award dataset's own sync reads the ledger directly, outside these limits.

use std::sync::Arc;
use std::time::Duration;

use futures::{Stream, StreamExt as _};
use opendata_limits::{AWARD_EXPORT_SECONDS, AWARD_EXPORTS};
use opendata_platform::streams::send_last;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::time::Instant;
use tracing::Instrument as _;

use crate::error::IncentivesError;
use crate::ledger::Ledger;
use crate::store::StoredAward;
use crate::store::query::Filter;

/// Batches of one download, then an error if it could not finish.
pub type Batches = mpsc::Receiver<Result<Vec<StoredAward>, IncentivesError>>;

/// The public downloads; cheap to clone.
#[derive(Clone)]
pub struct Downloads {
    ledger: Ledger,
    places: Arc<Semaphore>,
    at_once: usize,
    time: Duration,
}

impl Downloads {
    /// At most `at_once` downloads at a time, each within `time`.
    pub fn new(ledger: Ledger, at_once: usize, time: Duration) -> Self {
        Downloads {
            ledger,
            places: Arc::new(Semaphore::new(at_once)),
            at_once,
            time,
        }
    }

    /// Starts downloading the awards `filter` matches, if a place is free.
    pub fn start(&self, filter: Filter) -> Result<Batches, IncentivesError> {
        let place = self
            .places
            .clone()
            .try_acquire_owned()
            .map_err(|_| IncentivesError::Busy {
                limit: AWARD_EXPORTS.name,
                message: format!(
                    "{} award downloads are running, the most at once; retry in a moment",
                    self.at_once
                ),
            })?;
        let (sender, receiver) = mpsc::channel(1);
        let deadline = Instant::now() + self.time;
        tokio::spawn(send(self.ledger.export(filter), place, deadline, sender).in_current_span());
        Ok(receiver)
    }
}

/// Sends `batches` until they end, the client goes away or `deadline` passes.
async fn send(
    batches: impl Stream<Item = Result<Vec<StoredAward>, IncentivesError>>,
    place: OwnedSemaphorePermit,
    deadline: Instant,
    sender: mpsc::Sender<Result<Vec<StoredAward>, IncentivesError>>,
) {
    let timed_out = || IncentivesError::TimedOut {
        limit: AWARD_EXPORT_SECONDS.name,
    };
    let failure = {
        let mut batches = std::pin::pin!(batches);
        loop {
            let next = tokio::select! {
                biased;
                () = sender.closed() => return,
                () = tokio::time::sleep_until(deadline) => break timed_out(),
                next = batches.next() => next,
            };
            match next {
                None => return,
                Some(Err(error)) => break error,
                Some(Ok(batch)) => {
                    match tokio::time::timeout_at(deadline, sender.send(Ok(batch))).await {
                        Ok(Ok(())) => {}
                        Ok(Err(_)) => return,
                        Err(_) => break timed_out(),
                    }
                }
            }
        }
    };
    // The snapshot (dropped with `batches`) and the place are given up before the error waits
    // for a reader.
    drop(place);
    send_last(&sender, Err(failure)).await;
}
