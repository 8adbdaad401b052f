//! The award ledger: recording, correcting and withdrawing awards and adding job reviews, each
//! change kept as a revision with who, when and why, and announced as an `award_changed` event in
//! the same transaction. Public reads (one award, its history, filtered pages, summaries, the
//! export) go through here too.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use chrono::NaiveDate;
use futures::Stream;
use opendata_limits::{FILTER_VALUES, RECORDS_PER_CALL, TEXT_NAME, TEXT_PARAGRAPH, excerpt};
use opendata_platform::auth::Principal;
use opendata_platform::authz::Action;
use opendata_platform::clock::Clock;
use opendata_platform::text::{check_count, check_text};
use opendata_proto::incentives::v1 as pb;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::award::{AwardFields, Context, MAX_JOBS, parse_date};
use crate::convert::award_to_proto;
use crate::error::{IncentivesError, Violations, required, required_within};
use crate::events::emit;
use crate::store::awards::{self, NewAward, Revision, Stamp};
use crate::store::query::{self, Dimension, Filter, SummaryRow};
use crate::store::{StoredAward, StoredReview, registry};

/// Awards per batch of the export.
const EXPORT_BATCH: i64 = 1_000;

/// Summaries kept per process: at most this many, all dropped when full.
const CACHED_SUMMARIES: usize = 256;

/// Summaries already computed, valid while the awards' generation has not moved.
#[derive(Default)]
struct SummaryCache {
    generation: i64,
    entries: HashMap<String, Vec<SummaryRow>>,
}

/// The ledger; cheap to clone.
#[derive(Clone)]
pub struct Ledger {
    pool: PgPool,
    clock: Arc<dyn Clock>,
    agency_id: Arc<str>,
    summaries: Arc<Mutex<SummaryCache>>,
}

/// A job review as the caller sends it.
#[derive(Debug, Clone, Copy)]
pub struct NewReview<'a> {
    /// Review date, `YYYY-MM-DD`.
    pub reviewed_on: &'a str,
    /// Jobs found.
    pub actual_jobs: i64,
    /// Notes, at most `TEXT_PARAGRAPH` characters.
    pub notes: &'a str,
}

impl NewReview<'_> {
    /// The review's date, jobs and notes, or every field that is wrong and why: the date must be
    /// given, not in the future and not before the contract; jobs must not be negative; notes
    /// must stay within `TEXT_PARAGRAPH`.
    pub fn parse(
        &self,
        today: NaiveDate,
        contract: Option<NaiveDate>,
    ) -> Result<(NaiveDate, i64, String), Violations> {
        let mut violations = Violations::default();
        let reviewed_on = match parse_date(self.reviewed_on) {
            Ok(Some(date)) if date > today => {
                violations.add("reviewed_on", format!("{date} is in the future"));
                None
            }
            Ok(Some(date)) => match contract.filter(|contract| date < *contract) {
                Some(contract) => {
                    violations.add(
                        "reviewed_on",
                        format!("{date} is before the contract execution date {contract}"),
                    );
                    None
                }
                None => Some(date),
            },
            Ok(None) => {
                violations.add("reviewed_on", "is required");
                None
            }
            Err(error) => {
                violations.add("reviewed_on", error);
                None
            }
        };
        if self.actual_jobs < 0 {
            violations.add("actual_jobs", "must not be negative");
        } else if self.actual_jobs > MAX_JOBS {
            violations.add(
                "actual_jobs",
                format!(
                    "{} is implausibly large (at most {MAX_JOBS})",
                    self.actual_jobs
                ),
            );
        }
        let notes = self.notes.trim();
        violations.text("notes", notes, TEXT_PARAGRAPH);
        match reviewed_on {
            Some(date) if violations.is_empty() => Ok((date, self.actual_jobs, notes.to_owned())),
            _ => Err(violations),
        }
    }
}

impl Ledger {
    /// The ledger over the incentives pool; `agency_id` is the agency whose roles write (DECD).
    pub fn new(pool: PgPool, clock: Arc<dyn Clock>, agency_id: &str) -> Self {
        Ledger {
            pool,
            clock,
            agency_id: agency_id.into(),
            summaries: Arc::default(),
        }
    }

    /// Today, by the ledger's clock.
    pub fn today(&self) -> NaiveDate {
        self.clock.now().date_naive()
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Refuses unless `who` may write incentives (DECD's ADO and publishers).
    pub fn authorize(&self, who: &Principal) -> Result<(), IncentivesError> {
        Ok(who.authorize(Action::WriteIncentives, Some(&self.agency_id))?)
    }

    async fn parse_fields(
        &self,
        conn: &mut PgConnection,
        fields: &pb::AwardFields,
    ) -> Result<AwardFields, IncentivesError> {
        let program_id = fields.program_id.trim();
        // An id no program could have (a NUL, say) never reaches the database; the parse names it.
        let program_exists = check_text("program_id", program_id, TEXT_NAME).is_ok()
            && registry::program_exists(conn, program_id).await?;
        let context = Context {
            today: self.today(),
            program_exists,
        };
        AwardFields::parse(fields, context).map_err(IncentivesError::Invalid)
    }

    /// Records a new award.
    pub async fn record(
        &self,
        who: &Principal,
        fields: &pb::AwardFields,
    ) -> Result<StoredAward, IncentivesError> {
        self.authorize(who)?;
        let mut tx = self.pool.begin().await?;
        let parsed = self.parse_fields(&mut tx, fields).await?;
        let id = Uuid::now_v7();
        let stamp = Stamp {
            actor_id: &who.id,
            reason: "",
            at: self.clock.now(),
        };
        let new = NewAward {
            id,
            fields: &parsed,
            reviews: &[],
        };
        awards::insert(&mut tx, &[new], stamp).await?;
        self.finish(tx, id).await
    }

    /// Records many awards with their reviews, all or none; their ids in order.
    pub async fn record_many(
        &self,
        who: &Principal,
        batch: &[pb::NewAward],
    ) -> Result<Vec<Uuid>, IncentivesError> {
        self.authorize(who)?;
        if batch.is_empty() {
            return Err(IncentivesError::invalid(
                "awards",
                "send at least one award",
            ));
        }
        check_count("awards", batch.len(), RECORDS_PER_CALL)?;
        let mut tx = self.pool.begin().await?;
        let programs: HashSet<String> = registry::programs(&mut tx)
            .await?
            .into_iter()
            .map(|p| p.id)
            .collect();
        let today = self.today();
        let mut violations = Violations::default();
        let mut parsed = Vec::with_capacity(batch.len());
        for (index, award) in batch.iter().enumerate() {
            let fields = award.fields.clone().unwrap_or_default();
            let context = Context {
                today,
                program_exists: programs.contains(fields.program_id.trim()),
            };
            let prefix = format!("awards[{index}].");
            let values = match AwardFields::parse(&fields, context) {
                Ok(values) => values,
                Err(found) => {
                    violations.extend_prefixed(&prefix, found);
                    continue;
                }
            };
            // Reviews are checked once the award parses, and only so many of them.
            let reviews_field = format!("{prefix}reviews");
            if !violations.count(&reviews_field, award.reviews.len(), FILTER_VALUES) {
                continue;
            }
            let mut reviews = Vec::new();
            for (number, review) in award.reviews.iter().enumerate() {
                let new = NewReview {
                    reviewed_on: &review.reviewed_on,
                    actual_jobs: review.actual_jobs,
                    notes: &review.notes,
                };
                match new.parse(today, values.contract_execution_date) {
                    Ok(review) => reviews.push(review),
                    Err(found) => {
                        violations.extend_prefixed(&format!("{reviews_field}[{number}]."), found)
                    }
                }
            }
            parsed.push((Uuid::now_v7(), values, reviews));
        }
        if !violations.is_empty() {
            return Err(IncentivesError::Invalid(violations));
        }
        let now = self.clock.now();
        let stored: Vec<StoredAward> = parsed
            .into_iter()
            .map(|(id, fields, reviews)| StoredAward {
                id,
                revision: 1,
                withdrawn: false,
                withdrawn_reason: String::new(),
                reviews: reviews
                    .into_iter()
                    .map(|(reviewed_on, actual_jobs, notes)| StoredReview {
                        award_id: id,
                        reviewed_on,
                        actual_jobs,
                        notes,
                    })
                    .collect(),
                fields,
                created_at: now,
                updated_at: now,
            })
            .collect();
        let new: Vec<NewAward<'_>> = stored
            .iter()
            .map(|a| NewAward {
                id: a.id,
                fields: &a.fields,
                reviews: &a.reviews,
            })
            .collect();
        let stamp = Stamp {
            actor_id: &who.id,
            reason: "",
            at: now,
        };
        awards::insert(&mut tx, &new, stamp).await?;
        emit(
            &mut tx,
            stored.iter().map(|a| award_to_proto(a, today)).collect(),
        )
        .await?;
        tx.commit().await?;
        Ok(stored.iter().map(|a| a.id).collect())
    }

    /// Replaces an award's values; the previous ones stay in its history.
    pub async fn correct(
        &self,
        who: &Principal,
        id: &str,
        fields: &pb::AwardFields,
        reason: &str,
        expected_revision: i64,
    ) -> Result<StoredAward, IncentivesError> {
        self.authorize(who)?;
        let reason = required_within("reason", reason, TEXT_PARAGRAPH)?;
        if expected_revision <= 0 {
            return Err(IncentivesError::invalid(
                "expected_revision",
                "is required: the revision being corrected",
            ));
        }
        let mut tx = self.pool.begin().await?;
        let award = changeable(&mut tx, id).await?;
        if award.revision != expected_revision {
            return Err(IncentivesError::RevisionConflict {
                id: id.to_owned(),
                expected: expected_revision,
                current: award.revision,
            });
        }
        let parsed = self.parse_fields(&mut tx, fields).await?;
        let stamp = Stamp {
            actor_id: &who.id,
            reason,
            at: self.clock.now(),
        };
        awards::correct(&mut tx, award.id, award.revision + 1, &parsed, stamp).await?;
        self.finish(tx, award.id).await
    }

    /// Withdraws an award: it stays, with its history, out of totals and searches.
    pub async fn withdraw(
        &self,
        who: &Principal,
        id: &str,
        reason: &str,
    ) -> Result<StoredAward, IncentivesError> {
        self.authorize(who)?;
        let reason = required_within("reason", reason, TEXT_PARAGRAPH)?;
        let mut tx = self.pool.begin().await?;
        let award = changeable(&mut tx, id).await?;
        let stamp = Stamp {
            actor_id: &who.id,
            reason,
            at: self.clock.now(),
        };
        awards::withdraw(&mut tx, &award, award.revision + 1, stamp).await?;
        self.finish(tx, award.id).await
    }

    /// Adds a job review; the obligation status follows from the latest one.
    pub async fn add_review(
        &self,
        who: &Principal,
        id: &str,
        review: NewReview<'_>,
    ) -> Result<StoredAward, IncentivesError> {
        self.authorize(who)?;
        let mut tx = self.pool.begin().await?;
        let award = changeable(&mut tx, id).await?;
        let (reviewed_on, actual_jobs, notes) = review
            .parse(self.today(), award.fields.contract_execution_date)
            .map_err(|found| IncentivesError::Invalid(found.prefixed("review.")))?;
        let stamp = Stamp {
            actor_id: &who.id,
            reason: &notes,
            at: self.clock.now(),
        };
        let fact = (reviewed_on, actual_jobs, notes.as_str());
        awards::add_review(&mut tx, &award, award.revision + 1, fact, stamp).await?;
        self.finish(tx, award.id).await
    }

    /// Reads the award back, announces it and commits.
    async fn finish(
        &self,
        mut tx: sqlx::Transaction<'_, sqlx::Postgres>,
        id: Uuid,
    ) -> Result<StoredAward, IncentivesError> {
        let award = awards::lock(&mut tx, id)
            .await?
            .ok_or_else(|| IncentivesError::AwardNotFound(id.to_string()))?;
        emit(&mut tx, vec![award_to_proto(&award, self.today())]).await?;
        tx.commit().await?;
        Ok(award)
    }

    /// One award (withdrawn ones too).
    pub async fn get(&self, id: &str) -> Result<StoredAward, IncentivesError> {
        let uuid = award_id(id)?;
        let mut conn = self.pool.acquire().await?;
        query::get(&mut conn, uuid)
            .await?
            .ok_or_else(|| IncentivesError::AwardNotFound(id.to_owned()))
    }

    /// Every revision of an award, oldest first.
    pub async fn history(&self, id: &str) -> Result<Vec<Revision>, IncentivesError> {
        let uuid = award_id(id)?;
        let mut conn = self.pool.acquire().await?;
        let revisions = awards::history(&mut conn, uuid).await?;
        if revisions.is_empty() {
            return Err(IncentivesError::AwardNotFound(id.to_owned()));
        }
        Ok(revisions)
    }

    /// A page of matching awards and how many match.
    pub async fn search(
        &self,
        filter: &Filter,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<StoredAward>, i64), IncentivesError> {
        let mut conn = self.pool.acquire().await?;
        Ok(query::search(&mut conn, filter, offset, limit).await?)
    }

    /// Totals and counts of matching awards by `dimensions`. Summaries by the public filters are
    /// cached until the awards change (their generation, one row, is read every time); those of
    /// searched companies or ids are not.
    pub async fn summarize(
        &self,
        filter: &Filter,
        dimensions: &[Dimension],
    ) -> Result<Vec<SummaryRow>, IncentivesError> {
        let mut conn = self.pool.acquire().await?;
        let cacheable = filter.ids.is_none() && filter.company_words.is_empty();
        if !cacheable {
            return Ok(query::summarize(&mut conn, filter, dimensions).await?);
        }
        let key = format!("{dimensions:?} {filter:?}");
        let generation = query::generation(&mut conn).await?;
        {
            let cache = self.summaries.lock().unwrap_or_else(|e| e.into_inner());
            if cache.generation == generation
                && let Some(rows) = cache.entries.get(&key)
            {
                return Ok(rows.clone());
            }
        }
        let rows = query::summarize(&mut conn, filter, dimensions).await?;
        let mut cache = self.summaries.lock().unwrap_or_else(|e| e.into_inner());
        if cache.generation != generation || cache.entries.len() >= CACHED_SUMMARIES {
            cache.generation = generation;
            cache.entries.clear();
        }
        cache.entries.insert(key, rows.clone());
        Ok(rows)
    }

    /// Every matching award, in batches, all read from one snapshot (a correction made during
    /// a download neither repeats nor skips an award).
    pub fn export(
        &self,
        filter: Filter,
    ) -> impl Stream<Item = Result<Vec<StoredAward>, IncentivesError>> + Send + 'static {
        let pool = self.pool.clone();
        futures::stream::try_unfold(
            (pool, None, filter, None::<StoredAward>, false),
            |(pool, snapshot, filter, last, done)| async move {
                if done {
                    return Ok(None);
                }
                let mut snapshot = match snapshot {
                    Some(snapshot) => snapshot,
                    None => {
                        let mut tx = pool.begin().await?;
                        query::snapshot(&mut tx).await?;
                        tx
                    }
                };
                let batch =
                    query::export_batch(&mut snapshot, &filter, last.as_ref(), EXPORT_BATCH)
                        .await?;
                if batch.is_empty() {
                    return Ok(None);
                }
                let done = (batch.len() as i64) < EXPORT_BATCH;
                let last = batch.last().cloned();
                Ok(Some((batch, (pool, Some(snapshot), filter, last, done))))
            },
        )
    }
}

/// Parses an award id.
pub fn award_id(id: &str) -> Result<Uuid, IncentivesError> {
    Uuid::parse_str(required("id", id)?).map_err(|_| {
        IncentivesError::invalid(
            "id",
            format!("{:?} is not an award id (a UUID)", excerpt(id)),
        )
    })
}

/// The award, locked, if it exists and is not withdrawn.
async fn changeable(conn: &mut PgConnection, id: &str) -> Result<StoredAward, IncentivesError> {
    let award = awards::lock(conn, award_id(id)?)
        .await?
        .ok_or_else(|| IncentivesError::AwardNotFound(id.to_owned()))?;
    if award.withdrawn {
        return Err(IncentivesError::Withdrawn(id.to_owned()));
    }
    Ok(award)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_review_names_every_broken_rule_and_its_notes_have_a_limit() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
        let notes = "n".repeat(TEXT_PARAGRAPH.get() + 1);
        let review = NewReview {
            reviewed_on: "2030-01-01",
            actual_jobs: -1,
            notes: &notes,
        };
        let violations = review.parse(today, None).unwrap_err();
        let fields: Vec<&str> = violations.fields.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["reviewed_on", "actual_jobs", "notes"]);
        assert_eq!(violations.limit, Some(TEXT_PARAGRAPH.name));
        let nul = NewReview {
            reviewed_on: "2020-01-01",
            actual_jobs: 3,
            notes: "met\0",
        };
        assert_eq!(nul.parse(today, None).unwrap_err().fields[0].field, "notes");
        let fine = NewReview {
            notes: " met ",
            ..nul
        };
        assert_eq!(
            fine.parse(today, None).unwrap(),
            (
                NaiveDate::from_ymd_opt(2020, 1, 1).unwrap(),
                3,
                "met".to_owned()
            )
        );
    }
}
