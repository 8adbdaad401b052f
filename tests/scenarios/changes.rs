//! The change feed (`GET /api/views/{id}/changes`, Server-Sent Events): every version made current
//! is an event whose id is the version, so a client resumes with `Last-Event-ID`.

use std::time::Duration;

use futures::StreamExt as _;
use opendata_proto::common::v1::ColumnType;
use opendata_proto::ingestion::v1::UploadMode;
use opendata_testkit::TestStack;
use serde_json::Value;

use crate::support::*;

/// One event: its id, its name and its data.
type SseEvent = (String, String, String);

/// Reads events from a response body as they come.
struct Feed {
    body: futures::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buffered: String,
}

impl Feed {
    async fn open(stack: &TestStack, path: &str, last_event_id: Option<&str>) -> reqwest::Response {
        let mut request = reqwest::Client::new().get(format!("{}{path}", stack.edge_url()));
        if let Some(last) = last_event_id {
            request = request.header("last-event-id", last);
        }
        request.send().await.unwrap()
    }

    fn of(response: reqwest::Response) -> Feed {
        Feed {
            body: response.bytes_stream().boxed(),
            buffered: String::new(),
        }
    }

    /// The next event (comments skipped), within 20 s.
    async fn next(&mut self) -> SseEvent {
        tokio::time::timeout(Duration::from_secs(20), async {
            loop {
                if let Some(end) = self.buffered.find("\n\n") {
                    let block: String = self.buffered.drain(..end + 2).collect();
                    let field = |name: &str| {
                        block
                            .lines()
                            .find_map(|line| line.strip_prefix(&format!("{name}:")))
                            .map(|value| value.trim().to_owned())
                            .unwrap_or_default()
                    };
                    if block
                        .lines()
                        .all(|line| line.starts_with(':') || line.is_empty())
                    {
                        continue;
                    }
                    return (field("id"), field("event"), field("data"));
                }
                let chunk = self.body.next().await.expect("the feed ended").unwrap();
                self.buffered.push_str(&String::from_utf8_lossy(&chunk));
            }
        })
        .await
        .expect("an event within 20 s")
    }
}

#[tokio::test]
async fn the_feed_sends_each_version_and_resumes_after_the_last_event() {
    let stack = TestStack::start().await;
    let (key, dataset) = amounts_by_town(&stack).await;
    push_amounts(&stack, &key, &dataset, &[(UploadMode::Replace, "Avon,1\n")]).await;
    wait_for_version(&stack, &dataset, 1).await;
    let path = format!("/api/views/{dataset}/changes");
    let response = Feed::open(&stack, &path, None).await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream"),
        "{:?}",
        response.headers()
    );
    let mut feed = Feed::of(response);
    let (id, event, data) = feed.next().await;
    assert_eq!((id.as_str(), event.as_str()), ("1", "version"), "{data}");
    let first: Value = serde_json::from_str(&data).unwrap();
    assert_eq!(first["rowCount"], 1);
    assert!(
        first["diff"].is_null(),
        "the first version has no diff: {first}"
    );

    // A new version reaches the open feed, with its diff.
    push_amounts(
        &stack,
        &key,
        &dataset,
        &[(UploadMode::Upsert, "Avon,2\nBristol,3\n")],
    )
    .await;
    let (id, _, data) = feed.next().await;
    assert_eq!(id, "2");
    let second: Value = serde_json::from_str(&data).unwrap();
    assert_eq!(second["mode"], "upsert");
    assert_eq!(second["rowCount"], 2);
    // Avon changed, Bristol came.
    assert_eq!(
        (
            &second["rowsCreated"],
            &second["rowsUpdated"],
            &second["rowsDeleted"]
        ),
        (&Value::from(1), &Value::from(1), &Value::from(0)),
        "{second}"
    );
    assert_eq!(
        second["diff"],
        format!("/api/views/{dataset}/diff?from=1&to=2")
    );
    drop(feed);

    // Reconnecting after event 1 resumes with 2.
    let mut resumed = Feed::of(Feed::open(&stack, &path, Some("1")).await);
    assert_eq!(resumed.next().await.0, "2");
    let mut later = Feed::of(Feed::open(&stack, &format!("{path}?after=1"), None).await);
    assert_eq!(later.next().await.0, "2");

    // Refusals: a bad Last-Event-ID, a dataset the public cannot see.
    let bad = Feed::open(&stack, &path, Some("two")).await;
    assert_eq!(bad.status(), 400);
    let ahead = Feed::open(&stack, &format!("{path}?after=9"), None).await;
    assert_eq!(ahead.status(), 400);
    let error: Value = serde_json::from_str(&ahead.text().await.unwrap()).unwrap();
    assert_eq!(error["data"]["parameter"], "after", "{error}");
    let hidden = create_dataset(
        &stack,
        &key,
        "opm",
        vec![column("Town", ColumnType::Text)],
        "",
    )
    .await;
    let hidden = Feed::open(&stack, &format!("/api/views/{hidden}/changes"), None).await;
    assert_eq!(hidden.status(), 404);
    stack.stop().await;
}
