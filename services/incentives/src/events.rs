//! Incentives' events: `award_changed` into the outbox with every change.

use chrono::Utc;
use opendata_platform::events::{OutboxEvent, enqueue_many, subject};
use opendata_proto::common::v1::EventMeta;
use opendata_proto::incentives::v1::{Award, AwardChanged};
use prost::Message as _;
use sqlx::PgConnection;
use uuid::Uuid;

/// The domain name of incentives' events and stream.
pub const DOMAIN: &str = "incentives";

/// Writes one `award_changed` event per award into the outbox, in the caller's transaction.
pub async fn emit(conn: &mut PgConnection, awards: Vec<Award>) -> Result<(), sqlx::Error> {
    let events = awards
        .into_iter()
        .map(|award| {
            let id = Uuid::now_v7();
            let event = AwardChanged {
                meta: Some(EventMeta {
                    event_id: id.to_string(),
                    occurred_at: Some(opendata_platform::timestamp::to_proto(Utc::now())),
                    producer: DOMAIN.to_owned(),
                }),
                award: Some(award),
            };
            OutboxEvent {
                subject: subject(DOMAIN, "award_changed"),
                id,
                payload: event.encode_to_vec(),
            }
        })
        .collect();
    enqueue_many(conn, events).await
}
