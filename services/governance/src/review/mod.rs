//! The data inventory and its review workflow (Executive Order 39): every dataset an agency holds
//! is a record, nominated by its ADO, reviewed, approved and published by the CDO, or withheld on a
//! legal ground with an explanation, reopened, retired. Each step checks the caller against the
//! authorization matrix, refuses an illegal transition naming the current state, records the
//! transition and an audit entry, and announces the record on `governance.review.*`, from which
//! the catalog applies what the public may see.

mod decisions;
mod disclosure;
pub mod state;
pub mod store;

#[cfg(test)]
mod event_size_tests;

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use opendata_platform::auth::Principal;
use opendata_platform::authz::Action;
use opendata_platform::events::{enqueue, subject};
use opendata_platform::grpc::{ClientContext, MAX_MESSAGE_BYTES};
use opendata_proto::catalog::v1::GetDatasetRequest;
use opendata_proto::catalog::v1::catalog_service_client::CatalogServiceClient;
use opendata_proto::common::v1::AccessLevel;
use prost::Message as _;
use serde_json::{Value, json};
use sqlx::{PgConnection, PgPool};
use tonic::transport::Channel;
use uuid::Uuid;

use crate::audit;
use crate::convert;
use crate::error::{GovernanceError, required, within};
use crate::freshness::{Freshness, Periodicity, Status, assess};
pub use decisions::Decision;
pub use disclosure::Summary;
use opendata_limits::{TEXT_LINE, TEXT_NAME, TEXT_PARAGRAPH};
use opendata_platform::clock::Clock;
use state::{Ground, ReviewState, Step};
use store::{Record, TransitionRow};

/// The domain of governance's events.
pub const DOMAIN: &str = "governance";
/// Principal id recorded for what governance's own jobs do.
pub const SYSTEM_ACTOR: &str = "system";

/// How the workflow behaves.
#[derive(Debug, Clone, Copy)]
pub struct ReviewSettings {
    /// Days a retired dataset stays public.
    pub retired_public_days: i64,
    /// Grace after a due date before a dataset is stale, in percent of its period.
    pub stale_grace_percent: u32,
}

/// Who is asking, with the key they presented (governance looks datasets up in the catalog with
/// it, so it sees no more than they may).
pub struct Caller<'a> {
    pub principal: &'a Principal,
    /// Their key.
    pub key: &'a str,
}

/// A record with its history, as served.
#[derive(Debug, Clone)]
pub struct RecordView {
    pub record: Record,
    /// Its transitions, oldest first.
    pub history: Vec<TransitionRow>,
}

/// The inventory and the workflow.
#[derive(Clone)]
pub struct Review {
    pool: PgPool,
    catalog: Channel,
    clock: Arc<dyn Clock>,
    settings: ReviewSettings,
}

/// The event announcing a record that reached `state` (`review.dataset_published`).
fn event_name(state: ReviewState, public: bool) -> String {
    match (state, public) {
        (ReviewState::Retired, false) => "review.dataset_unpublished".to_owned(),
        (ReviewState::UnderReview, _) => "review.dataset_under_review".to_owned(),
        (state, _) => format!("review.dataset_{}", state.as_str()),
    }
}

impl Review {
    /// The workflow over governance's pool, looking datasets up in the catalog.
    pub fn new(
        pool: PgPool,
        catalog: Channel,
        clock: Arc<dyn Clock>,
        settings: ReviewSettings,
    ) -> Self {
        Review {
            pool,
            catalog,
            clock,
            settings,
        }
    }

    /// Governance's pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    pub fn settings(&self) -> ReviewSettings {
        self.settings
    }

    /// Creates the record of a dataset the catalog knows but whose creation event has not arrived
    /// yet, looking it up with the caller's key.
    async fn register(&self, caller: &Caller<'_>, dataset_id: &str) -> Result<(), GovernanceError> {
        let context = ClientContext::with_key(caller.key).map_err(GovernanceError::Denied)?;
        let found = CatalogServiceClient::with_interceptor(self.catalog.clone(), context)
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .get_dataset(GetDatasetRequest {
                id: dataset_id.to_owned(),
            })
            .await;
        let dataset = match found {
            Ok(response) => response.into_inner(),
            Err(status) if status.code() == tonic::Code::NotFound => {
                return Err(GovernanceError::DatasetNotFound(dataset_id.to_owned()));
            }
            Err(status) => {
                return Err(GovernanceError::CatalogUnavailable(
                    status.message().to_owned(),
                ));
            }
        };
        let mut conn = self.pool.acquire().await?;
        store::record_facts(&mut conn, &convert::facts_of(&dataset, false)).await?;
        Ok(())
    }

    /// Locks the record of `dataset_id` for a step by `caller`, registering it from the catalog if
    /// needed; NOT_FOUND when the caller may not see it.
    async fn lock(
        &self,
        caller: &Caller<'_>,
        dataset_id: &str,
    ) -> Result<(sqlx::Transaction<'static, sqlx::Postgres>, Record), GovernanceError> {
        for attempt in 0..2 {
            let mut tx = self.pool.begin().await?;
            match store::fetch(&mut *tx, dataset_id, true).await? {
                // A public dataset's existence is no secret: the step's own authorization then
                // answers PERMISSION_DENIED. A private one stays NOT_FOUND to those who may not
                // read its agency's inventory.
                Some(record)
                    if !record.deleted
                        && (record.public
                            || caller
                                .principal
                                .may(Action::ReadInventory, Some(&record.agency_id))) =>
                {
                    return Ok((tx, record));
                }
                Some(_) => break,
                None if attempt == 0 => {
                    drop(tx);
                    self.register(caller, dataset_id).await?;
                }
                None => break,
            }
        }
        Err(GovernanceError::DatasetNotFound(dataset_id.to_owned()))
    }

    /// Runs one workflow step: authorize, check the transition, change, record, announce.
    async fn step(
        &self,
        caller: &Caller<'_>,
        dataset_id: &str,
        step: Step,
        reason: &str,
        details: Value,
        change: impl FnOnce(&mut Record),
    ) -> Result<RecordView, GovernanceError> {
        let dataset_id = required("dataset_id", dataset_id, TEXT_NAME)?;
        let reason = within("reason", reason, TEXT_PARAGRAPH)?;
        let (mut tx, mut record) = self.lock(caller, dataset_id).await?;
        caller
            .principal
            .authorize(step.authz(), Some(&record.agency_id))
            .map_err(GovernanceError::Denied)?;
        let from = record.state;
        let to = step
            .target(from)
            .ok_or_else(|| GovernanceError::IllegalTransition {
                dataset_id: dataset_id.to_owned(),
                step: step.as_str(),
                state: from.as_str(),
                allowed: step
                    .sources()
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(" or "),
            })?;
        let now = self.clock.now();
        change(&mut record);
        record.state = to;
        record.public = matches!(to, ReviewState::Published | ReviewState::Retired);
        if to != ReviewState::Withheld {
            record.withholding_ground = None;
        }
        match to {
            ReviewState::Published => {
                record.access_level = "public".to_owned();
                record.rights.clear();
            }
            ReviewState::Retired => record.retired_at = Some(now),
            _ => {}
        }
        let transition = TransitionRow {
            from_state: from.as_str().to_owned(),
            to_state: to.as_str().to_owned(),
            actor_id: caller.principal.id.clone(),
            reason: reason.to_owned(),
            at: now,
        };
        let view = self
            .record_change(
                &mut tx,
                record,
                transition,
                &format!("dataset.{}", step.as_str()),
                details,
            )
            .await?;
        tx.commit().await?;
        tracing::info!(
            dataset_id,
            step = step.as_str(),
            state = to.as_str(),
            actor = %caller.principal.id,
            "review step"
        );
        Ok(view)
    }

    /// Saves a changed record, appends its transition and audit entry, and announces it.
    async fn record_change(
        &self,
        conn: &mut PgConnection,
        mut record: Record,
        transition: TransitionRow,
        action: &str,
        details: Value,
    ) -> Result<RecordView, GovernanceError> {
        record.revision += 1;
        store::save(conn, &record).await?;
        store::add_transition(conn, &record.dataset_id, &transition).await?;
        audit::record(
            conn,
            &transition.actor_id,
            action,
            &format!("dataset:{}", record.dataset_id),
            &transition.reason,
            details,
        )
        .await?;
        let history = store::history(&mut *conn, &record.dataset_id).await?;
        let view = RecordView { record, history };
        let event_id = Uuid::now_v7();
        let record = convert::record(&view, &self.freshness(&view.record));
        let event = convert::state_changed(event_id, transition.at, record);
        let name = event_name(view.record.state, view.record.public);
        enqueue(
            conn,
            &subject(DOMAIN, &name),
            event_id,
            event.encode_to_vec(),
        )
        .await?;
        Ok(view)
    }

    /// The ADO nominates a dataset, with a justification and an update frequency.
    pub async fn nominate(
        &self,
        caller: &Caller<'_>,
        dataset_id: &str,
        justification: &str,
        accrual_periodicity: &str,
    ) -> Result<RecordView, GovernanceError> {
        let justification = required("justification", justification, TEXT_PARAGRAPH)?.to_owned();
        let periodicity = Periodicity::normalize(required(
            "accrual_periodicity",
            accrual_periodicity,
            TEXT_NAME,
        )?)
        .map_err(|message| GovernanceError::invalid("accrual_periodicity", message))?;
        let details = json!({"accrual_periodicity": periodicity});
        self.step(
            caller,
            dataset_id,
            Step::Nominate,
            &justification.clone(),
            details,
            |record| {
                record.justification = justification;
                record.accrual_periodicity = periodicity;
            },
        )
        .await
    }

    /// A step that needs only a reason (start review, approve, publish, reopen).
    pub async fn simple_step(
        &self,
        caller: &Caller<'_>,
        step: Step,
        dataset_id: &str,
        reason: &str,
    ) -> Result<RecordView, GovernanceError> {
        self.step(caller, dataset_id, step, reason, json!({}), |_| {})
            .await
    }

    /// Withholds a dataset on a legal ground with a written explanation (its `rights`).
    pub async fn withhold(
        &self,
        caller: &Caller<'_>,
        dataset_id: &str,
        ground: Option<Ground>,
        explanation: &str,
        access_level: AccessLevel,
    ) -> Result<RecordView, GovernanceError> {
        let ground = ground.ok_or_else(|| {
            GovernanceError::invalid(
                "ground",
                "a legal ground is required: violates_law, endangers_public, hinders_government or undue_burden",
            )
        })?;
        // The explanation is published as the dataset's `rights`, a line of DCAT-US.
        let explanation = required("explanation", explanation, TEXT_LINE)?.to_owned();
        let access_level = match access_level {
            AccessLevel::Unspecified | AccessLevel::NonPublic => AccessLevel::NonPublic,
            AccessLevel::RestrictedPublic => AccessLevel::RestrictedPublic,
            AccessLevel::Public => {
                return Err(GovernanceError::invalid(
                    "access_level",
                    "a withheld dataset is restricted public or non-public",
                ));
            }
        };
        let details = json!({
            "ground": ground.as_str(),
            "ground_description": ground.description(),
            "access_level": access_level.dcat_name(),
        });
        self.step(
            caller,
            dataset_id,
            Step::Withhold,
            &explanation.clone(),
            details,
            |record| {
                record.withholding_ground = Some(ground);
                record.rights = explanation;
                record.access_level = access_level.dcat_name().to_owned();
            },
        )
        .await
    }

    /// Retires a published dataset with a reason, naming its successor if any.
    pub async fn retire(
        &self,
        caller: &Caller<'_>,
        dataset_id: &str,
        reason: &str,
        successor: &str,
    ) -> Result<RecordView, GovernanceError> {
        let reason = required("reason", reason, TEXT_PARAGRAPH)?.to_owned();
        let successor = within("successor_dataset_id", successor, TEXT_NAME)?.to_owned();
        if !successor.is_empty() {
            if successor == dataset_id.trim() {
                return Err(GovernanceError::invalid(
                    "successor_dataset_id",
                    "a dataset cannot succeed itself",
                ));
            }
            // Only a published dataset can succeed one, and published datasets are public, so
            // the answer reveals nothing about private ones.
            let published = store::fetch(&self.pool, &successor, false)
                .await?
                .is_some_and(|r| !r.deleted && r.state == ReviewState::Published);
            if !published {
                return Err(GovernanceError::invalid(
                    "successor_dataset_id",
                    format!("successor {successor} is not a published dataset"),
                ));
            }
        }
        let details = json!({"successor_dataset_id": successor});
        self.step(
            caller,
            dataset_id,
            Step::Retire,
            &reason,
            details,
            |record| {
                record.successor_dataset_id = successor;
            },
        )
        .await
    }

    /// Makes private every retired dataset retired more than the configured days ago; returns how
    /// many. Run by a scheduled job.
    pub async fn privatize_retired(&self) -> Result<usize, GovernanceError> {
        let now = self.clock.now();
        let cutoff = now - Duration::days(self.settings.retired_public_days);
        let due = store::retired_before(&self.pool, cutoff).await?;
        let mut done = 0;
        for dataset_id in due {
            match self.privatize(&dataset_id, now).await {
                Ok(true) => done += 1,
                Ok(false) => {}
                Err(error) => {
                    tracing::warn!(%dataset_id, %error, "making a retired dataset private failed");
                }
            }
        }
        Ok(done)
    }

    /// Makes one retired dataset private; false when it no longer needs it.
    async fn privatize(
        &self,
        dataset_id: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, GovernanceError> {
        let mut tx = self.pool.begin().await?;
        {
            let Some(mut record) = store::fetch(&mut *tx, dataset_id, true).await? else {
                return Ok(false);
            };
            if !(record.state == ReviewState::Retired && record.public) {
                return Ok(false);
            }
            record.public = false;
            let transition = TransitionRow {
                from_state: record.state.as_str().to_owned(),
                to_state: record.state.as_str().to_owned(),
                actor_id: SYSTEM_ACTOR.to_owned(),
                reason: format!(
                    "made private {} days after retirement",
                    self.settings.retired_public_days
                ),
                at: now,
            };
            self.record_change(
                &mut tx,
                record,
                transition,
                "dataset.made_private",
                json!({}),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// One record with its history.
    pub async fn get(
        &self,
        caller: &Principal,
        dataset_id: &str,
    ) -> Result<RecordView, GovernanceError> {
        let dataset_id = required("dataset_id", dataset_id, TEXT_NAME)?;
        let record = store::fetch(&self.pool, dataset_id, false)
            .await?
            .filter(|r| !r.deleted && caller.may(Action::ReadInventory, Some(&r.agency_id)))
            .ok_or_else(|| GovernanceError::DatasetNotFound(dataset_id.to_owned()))?;
        let history = store::history(&self.pool, dataset_id).await?;
        Ok(RecordView { record, history })
    }

    /// Records of one agency, or of all for callers who may read every agency's, optionally in
    /// some states. Without history (see [`Review::get`]).
    pub async fn list(
        &self,
        caller: &Principal,
        agency_id: Option<&str>,
        states: &[ReviewState],
    ) -> Result<Vec<RecordView>, GovernanceError> {
        let agency_id = agency_id
            .map(|agency| within("agency_id", agency, TEXT_NAME))
            .transpose()?
            .filter(|a| !a.is_empty());
        let scope = match agency_id {
            Some(agency) => Some(agency),
            None if caller.may(Action::ReadInventory, None) => None,
            // An agency role asking for "everything" gets its own agency.
            None => caller.agency_id.as_deref(),
        };
        caller
            .authorize(Action::ReadInventory, scope)
            .map_err(GovernanceError::Denied)?;
        Ok(store::list(&self.pool, scope, states)
            .await?
            .into_iter()
            .map(|record| RecordView {
                record,
                history: Vec::new(),
            })
            .collect())
    }

    /// Published datasets past due date + grace, most overdue first: one agency's, or every
    /// agency's for callers who may read them all.
    pub async fn stale(
        &self,
        caller: &Principal,
        agency_id: Option<&str>,
    ) -> Result<Vec<Freshness>, GovernanceError> {
        let agency_id = agency_id
            .map(|agency| within("agency_id", agency, TEXT_NAME))
            .transpose()?
            .filter(|a| !a.is_empty());
        let scope = match agency_id {
            Some(agency) => Some(agency),
            None if caller.may(Action::ReadFreshness, None) => None,
            None => caller.agency_id.as_deref(),
        };
        caller
            .authorize(Action::ReadFreshness, scope)
            .map_err(GovernanceError::Denied)?;
        let records = store::list(&self.pool, scope, &[ReviewState::Published]).await?;
        let mut stale: Vec<Freshness> = records
            .iter()
            .map(|record| self.freshness(record))
            .filter(|f| f.status == Status::Stale)
            .collect();
        stale.sort_by(|a, b| (a.due_at, &a.dataset_id).cmp(&(b.due_at, &b.dataset_id)));
        Ok(stale)
    }

    /// Freshness of one dataset the caller may see.
    pub async fn freshness_of(
        &self,
        caller: &Principal,
        dataset_id: &str,
    ) -> Result<Freshness, GovernanceError> {
        let dataset_id = required("dataset_id", dataset_id, TEXT_NAME)?;
        let record = store::fetch(&self.pool, dataset_id, false)
            .await?
            .filter(|r| !r.deleted && caller.may(Action::ReadFreshness, Some(&r.agency_id)))
            .ok_or_else(|| GovernanceError::DatasetNotFound(dataset_id.to_owned()))?;
        Ok(self.freshness(&record))
    }

    /// Announces, once per lapse, every published dataset that has turned stale; returns how many.
    /// Run by a scheduled job.
    pub async fn announce_stale(&self) -> Result<usize, GovernanceError> {
        let records = store::list(&self.pool, None, &[ReviewState::Published]).await?;
        let mut announced = 0;
        for record in records {
            let freshness = self.freshness(&record);
            let due = freshness.due_at;
            if freshness.status != Status::Stale
                || due.is_none()
                || record.stale_announced_due == due
            {
                continue;
            }
            let mut tx = self.pool.begin().await?;
            // Only if nothing changed since the record was read: still published, same data.
            let marked = store::mark_stale_announced(
                &mut tx,
                &record.dataset_id,
                due,
                record.last_data_update,
            )
            .await?;
            if !marked {
                continue;
            }
            audit::record(
                &mut tx,
                SYSTEM_ACTOR,
                "dataset.stale",
                &format!("dataset:{}", record.dataset_id),
                "no data update by the due date plus grace",
                json!({"due_at": due, "accrual_periodicity": record.accrual_periodicity}),
            )
            .await?;
            let event_id = Uuid::now_v7();
            let event = convert::stale_event(event_id, self.clock.now(), &freshness);
            enqueue(
                &mut tx,
                &subject(DOMAIN, "freshness.dataset_stale"),
                event_id,
                event.encode_to_vec(),
            )
            .await?;
            tx.commit().await?;
            announced += 1;
        }
        Ok(announced)
    }

    /// Freshness of a record at the clock's now.
    pub fn freshness(&self, record: &Record) -> Freshness {
        let last = record.last_data_update.unwrap_or(record.created_at);
        let periodicity =
            Periodicity::parse(&record.accrual_periodicity).unwrap_or(Periodicity::Irregular);
        let assessment = assess(
            periodicity,
            last,
            self.clock.now(),
            self.settings.stale_grace_percent,
        );
        Freshness {
            dataset_id: record.dataset_id.clone(),
            agency_id: record.agency_id.clone(),
            accrual_periodicity: record.accrual_periodicity.clone(),
            last_updated_at: record.last_data_update,
            due_at: assessment.due_at,
            status: assessment.status,
        }
    }
}
