//! Governance's records in their wire forms: inventory records and freshness as protobuf, the
//! events it publishes, and the catalog's datasets read as inventory facts. The gRPC adapters
//! and the event producers and consumers convert here; the workflow itself works on domain
//! types.

use chrono::{DateTime, Utc};
use opendata_platform::timestamp::{from_proto, to_proto, to_proto_opt};
use opendata_proto::common::v1::{AccessLevel, EventMeta};
use opendata_proto::governance::v1 as pb;
use uuid::Uuid;

use crate::freshness::{Freshness, Periodicity, Status};
use crate::review::state::{Ground, ReviewState};
use crate::review::store::CatalogFacts;
use crate::review::{DOMAIN, RecordView};

impl ReviewState {
    /// To protobuf.
    pub fn to_proto(self) -> pb::ReviewState {
        match self {
            ReviewState::Inventoried => pb::ReviewState::Inventoried,
            ReviewState::Nominated => pb::ReviewState::Nominated,
            ReviewState::UnderReview => pb::ReviewState::UnderReview,
            ReviewState::Approved => pb::ReviewState::Approved,
            ReviewState::Published => pb::ReviewState::Published,
            ReviewState::Withheld => pb::ReviewState::Withheld,
            ReviewState::Retired => pb::ReviewState::Retired,
        }
    }

    /// From protobuf; `None` when unspecified.
    pub fn from_proto(state: pb::ReviewState) -> Option<ReviewState> {
        ReviewState::ALL.into_iter().find(|s| s.to_proto() == state)
    }
}

impl Ground {
    /// To protobuf.
    pub fn to_proto(self) -> pb::WithholdingGround {
        match self {
            Ground::ViolatesLaw => pb::WithholdingGround::ViolatesLaw,
            Ground::EndangersPublic => pb::WithholdingGround::EndangersPublic,
            Ground::HindersGovernment => pb::WithholdingGround::HindersGovernment,
            Ground::UndueBurden => pb::WithholdingGround::UndueBurden,
        }
    }

    /// From protobuf; `None` when unspecified.
    pub fn from_proto(ground: pb::WithholdingGround) -> Option<Ground> {
        Ground::ALL.into_iter().find(|g| g.to_proto() == ground)
    }
}

/// The access level of its stored DCAT-US name (a CHECK constraint admits only those).
pub fn access_level_from_name(name: &str) -> AccessLevel {
    AccessLevel::from_dcat_name(name).unwrap_or(AccessLevel::Public)
}

/// A record as served, with its freshness.
pub fn record(view: &RecordView, freshness_now: &Freshness) -> pb::InventoryRecord {
    let record = &view.record;
    pb::InventoryRecord {
        dataset_id: record.dataset_id.clone(),
        agency_id: record.agency_id.clone(),
        state: record.state.to_proto() as i32,
        access_level: access_level_from_name(&record.access_level) as i32,
        rights: record.rights.clone(),
        accrual_periodicity: record.accrual_periodicity.clone(),
        justification: record.justification.clone(),
        withholding_ground: record
            .withholding_ground
            .map_or(pb::WithholdingGround::Unspecified, Ground::to_proto)
            as i32,
        successor_dataset_id: record.successor_dataset_id.clone(),
        history: view
            .history
            .iter()
            .map(|t| pb::Transition {
                from_state: state(&t.from_state) as i32,
                to_state: state(&t.to_state) as i32,
                actor_id: t.actor_id.clone(),
                reason: t.reason.clone(),
                at: Some(to_proto(t.at)),
            })
            .collect(),
        title: record.title.clone(),
        public: record.public,
        revision: record.revision,
        retired_at: to_proto_opt(record.retired_at),
        freshness: Some(freshness(freshness_now)),
        category: record.category.clone(),
    }
}

fn state(name: &str) -> pb::ReviewState {
    ReviewState::parse(name).map_or(pb::ReviewState::Unspecified, ReviewState::to_proto)
}

/// A dataset's freshness.
pub fn freshness(freshness: &Freshness) -> pb::Freshness {
    pb::Freshness {
        dataset_id: freshness.dataset_id.clone(),
        agency_id: freshness.agency_id.clone(),
        accrual_periodicity: freshness.accrual_periodicity.clone(),
        last_updated_at: to_proto_opt(freshness.last_updated_at),
        due_at: to_proto_opt(freshness.due_at),
        status: freshness_status(freshness.status) as i32,
    }
}

fn freshness_status(status: Status) -> pb::FreshnessStatus {
    match status {
        Status::Current => pb::FreshnessStatus::Current,
        Status::Due => pb::FreshnessStatus::Due,
        Status::Stale => pb::FreshnessStatus::Stale,
        Status::NotScheduled => pb::FreshnessStatus::NotScheduled,
    }
}

fn meta(event_id: Uuid, at: DateTime<Utc>) -> EventMeta {
    EventMeta {
        event_id: event_id.to_string(),
        occurred_at: Some(to_proto(at)),
        producer: DOMAIN.to_owned(),
    }
}

/// The `DatasetStateChanged` event of a step: the record without its history, which grows with
/// every step; every other field has a limit, so the event stays under
/// [`opendata_limits::EVENT_BYTES`].
pub fn state_changed(
    event_id: Uuid,
    at: DateTime<Utc>,
    mut record: pb::InventoryRecord,
) -> pb::DatasetStateChanged {
    record.history.clear();
    pb::DatasetStateChanged {
        meta: Some(meta(event_id, at)),
        record: Some(record),
    }
}

/// The `DatasetStale` event announcing a lapse.
pub fn stale_event(event_id: Uuid, at: DateTime<Utc>, stale: &Freshness) -> pb::DatasetStale {
    pb::DatasetStale {
        meta: Some(meta(event_id, at)),
        freshness: Some(freshness(stale)),
    }
}

/// What a catalog dataset says, as inventory facts.
pub fn facts_of(dataset: &opendata_proto::catalog::v1::Dataset, deleted: bool) -> CatalogFacts {
    let metadata = dataset.metadata.clone().unwrap_or_default();
    let time = |t: &Option<prost_types::Timestamp>| t.as_ref().and_then(from_proto);
    let created_at = time(&dataset.created_at).unwrap_or_else(Utc::now);
    let metadata_updated_at = time(&dataset.metadata_updated_at).unwrap_or(created_at);
    let last_data_update = time(&dataset.data_updated_at);
    let seen_at: DateTime<Utc> =
        last_data_update.map_or(metadata_updated_at, |data| data.max(metadata_updated_at));
    CatalogFacts {
        dataset_id: dataset.id.clone(),
        agency_id: dataset.agency_id.clone(),
        title: metadata.title,
        category: metadata.category,
        accrual_periodicity: Periodicity::normalize(&metadata.accrual_periodicity)
            .unwrap_or_default(),
        last_data_update,
        created_at,
        seen_at,
        deleted,
    }
}
