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

/// The `AwardChanged` event of a change: the award without its job reviews, whose number grows
/// over the award's life (ask incentives for them); every other field has a limit, so the event
/// stays under [`opendata_limits::EVENT_BYTES`].
pub fn award_changed(event_id: Uuid, mut award: Award) -> AwardChanged {
    award.reviews.clear();
    AwardChanged {
        meta: Some(EventMeta {
            event_id: event_id.to_string(),
            occurred_at: Some(opendata_platform::timestamp::to_proto(Utc::now())),
            producer: DOMAIN.to_owned(),
        }),
        award: Some(award),
    }
}

/// Writes one `award_changed` event per award into the outbox, in the caller's transaction.
pub async fn emit(conn: &mut PgConnection, awards: Vec<Award>) -> Result<(), sqlx::Error> {
    let events = awards
        .into_iter()
        .map(|award| {
            let id = Uuid::now_v7();
            let event = award_changed(id, award);
            OutboxEvent {
                subject: subject(DOMAIN, "award_changed"),
                id,
                payload: event.encode_to_vec(),
            }
        })
        .collect();
    enqueue_many(conn, events).await
}

#[cfg(test)]
mod tests {
    use opendata_limits::{EVENT_BYTES, Limit, TEXT_NAME, TEXT_PARAGRAPH};
    use opendata_proto::incentives::v1::{AwardFields, JobReview};

    use super::*;

    /// Text as long as `limit` allows, in four-byte characters: the most bytes it can take.
    fn widest(limit: Limit) -> String {
        "𝕏".repeat(limit.get())
    }

    #[test]
    fn the_largest_award_event_fits_on_the_bus_whatever_its_reviews() {
        // Every text field at its limit; dates, codes and sums are far shorter in truth.
        let name = || widest(TEXT_NAME);
        let paragraph = || widest(TEXT_PARAGRAPH);
        let fields = AwardFields {
            fiscal_year: i32::MAX,
            company: name(),
            parent_company: name(),
            address: name(),
            municipality: name(),
            county: name(),
            zip_code: name(),
            industry: name(),
            naics_code: name(),
            minority_or_women_owned: true,
            contract_execution_date: name(),
            grant_amount: name(),
            loan_amount: name(),
            total_assistance: name(),
            total_mismatch_reason: paragraph(),
            total_project_cost: name(),
            amount_leveraged: name(),
            program_id: name(),
            statutory_reference: paragraph(),
            jobs_to_retain: i64::MAX,
            jobs_to_create: i64::MAX,
            jobs_target_date: name(),
            penalty: name(),
            forgiveness_credit: name(),
            amount_disbursed: name(),
            average_wage: name(),
            recapture_amount: name(),
            status: name(),
            project_name: name(),
            penalty_terms: paragraph(),
        };
        let review = JobReview {
            notes: paragraph(),
            ..Default::default()
        };
        let award = Award {
            id: Uuid::now_v7().to_string(),
            fields: Some(fields),
            reviews: vec![review; 1_000],
            revision: i64::MAX,
            withdrawn: true,
            withdrawn_reason: paragraph(),
            ..Default::default()
        };
        let bytes = award_changed(Uuid::now_v7(), award).encode_to_vec().len();
        assert!(
            bytes <= EVENT_BYTES.get(),
            "the largest AwardChanged takes {bytes} bytes"
        );
    }
}
