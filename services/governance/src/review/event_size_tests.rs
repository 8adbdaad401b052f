//! The largest `DatasetStateChanged` the limits allow fits on the bus.

use chrono::Utc;
use opendata_limits::{EVENT_BYTES, Limit, TEXT_LINE, TEXT_NAME, TEXT_PARAGRAPH};
use opendata_proto::governance::v1 as pb;
use prost::Message as _;
use uuid::Uuid;

use crate::convert::state_changed;

/// Text as long as `limit` allows, in four-byte characters: the most bytes it can take.
fn widest(limit: Limit) -> String {
    "𝕏".repeat(limit.get())
}

#[test]
fn the_largest_state_event_fits_on_the_bus_whatever_the_history() {
    let transition = pb::Transition {
        actor_id: Uuid::now_v7().to_string(),
        reason: widest(TEXT_PARAGRAPH),
        ..Default::default()
    };
    let record = pb::InventoryRecord {
        dataset_id: widest(TEXT_NAME),
        agency_id: widest(TEXT_NAME),
        rights: widest(TEXT_LINE),
        accrual_periodicity: widest(TEXT_NAME),
        justification: widest(TEXT_PARAGRAPH),
        successor_dataset_id: widest(TEXT_NAME),
        history: vec![transition; 1_000],
        title: widest(TEXT_LINE),
        revision: i64::MAX,
        retired_at: Some(opendata_platform::timestamp::to_proto(Utc::now())),
        freshness: Some(pb::Freshness {
            dataset_id: widest(TEXT_NAME),
            agency_id: widest(TEXT_NAME),
            accrual_periodicity: widest(TEXT_NAME),
            ..Default::default()
        }),
        category: widest(TEXT_NAME),
        ..Default::default()
    };
    let event = state_changed(Uuid::now_v7(), Utc::now(), record);
    let bytes = event.encode_to_vec().len();
    assert!(
        bytes <= EVENT_BYTES.get(),
        "the largest DatasetStateChanged takes {bytes} bytes"
    );
}
