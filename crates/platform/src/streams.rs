//! Ending a streamed answer whose reader may have stopped reading: the last item (its error,
//! typically) waits a while for the reader, then is dropped, so the task sending it does not wait
//! forever on a client that never reads.

use std::time::Duration;

use tokio::sync::mpsc;

/// How long the last item of a stream waits for a reader that is not reading.
pub const LAST_ITEM_WAIT: Duration = Duration::from_secs(10);

/// Sends `item`, the last of a stream, unless the reader has not made room for it within
/// [`LAST_ITEM_WAIT`] (or is gone). Give up whatever the stream held before calling this.
pub async fn send_last<T>(sender: &mpsc::Sender<T>, item: T) {
    let _ = tokio::time::timeout(LAST_ITEM_WAIT, sender.send(item)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_last_item_waits_for_a_reader_only_so_long() {
        let (sender, mut receiver) = mpsc::channel(1);
        sender.send(1).await.unwrap();
        let started = tokio::time::Instant::now();
        send_last(&sender, 2).await;
        assert_eq!(started.elapsed(), LAST_ITEM_WAIT);
        assert_eq!(receiver.recv().await, Some(1));
        assert!(
            receiver.try_recv().is_err(),
            "the unread last item was dropped"
        );

        send_last(&sender, 3).await;
        assert_eq!(receiver.recv().await, Some(3));
    }
}
