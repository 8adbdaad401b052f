//! SQL over the inventory and its transitions, checked at compile time against the migrations
//! (`sqlx::query!`, see `scripts/sqlx-prepare.sh`). Functions take an executor so callers choose
//! the transaction.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};

use super::state::{Ground, ReviewState};

/// An inventory record.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub dataset_id: String,
    /// Owning agency.
    pub agency_id: String,
    /// Title, as the catalog last reported it.
    pub title: String,
    /// Category, as the catalog last reported it.
    pub category: String,
    /// Workflow state.
    pub state: ReviewState,
    /// DCAT-US access level (`public`, `restricted public`, `non-public`).
    pub access_level: String,
    /// Why it is not public.
    pub rights: String,
    /// Update frequency, ISO 8601 or `irregular`; empty when never declared.
    pub accrual_periodicity: String,
    /// The ADO's justification for publishing.
    pub justification: String,
    /// Ground of the withholding.
    pub withholding_ground: Option<Ground>,
    /// Successor, when retired.
    pub successor_dataset_id: String,
    /// Whether the public may see it now.
    pub public: bool,
    /// Increases with every workflow change.
    pub revision: i64,
    /// When it was retired.
    pub retired_at: Option<DateTime<Utc>>,
    /// Last data update the catalog reported.
    pub last_data_update: Option<DateTime<Utc>>,
    /// The due date a stale announcement was made for.
    pub stale_announced_due: Option<DateTime<Utc>>,
    /// Deleted from the catalog.
    pub deleted: bool,
    /// Recorded at.
    pub created_at: DateTime<Utc>,
}

struct RecordRow {
    dataset_id: String,
    agency_id: String,
    title: String,
    category: String,
    state: String,
    access_level: String,
    rights: String,
    accrual_periodicity: String,
    justification: String,
    withholding_ground: Option<String>,
    successor_dataset_id: String,
    public: bool,
    revision: i64,
    retired_at: Option<DateTime<Utc>>,
    last_data_update: Option<DateTime<Utc>>,
    stale_announced_due: Option<DateTime<Utc>>,
    deleted: bool,
    created_at: DateTime<Utc>,
}

impl From<RecordRow> for Record {
    fn from(row: RecordRow) -> Record {
        Record {
            dataset_id: row.dataset_id,
            agency_id: row.agency_id,
            title: row.title,
            category: row.category,
            // The column's CHECK constraint admits only known states and grounds.
            state: ReviewState::parse(&row.state).unwrap_or(ReviewState::Inventoried),
            access_level: row.access_level,
            rights: row.rights,
            accrual_periodicity: row.accrual_periodicity,
            justification: row.justification,
            withholding_ground: row.withholding_ground.as_deref().and_then(Ground::parse),
            successor_dataset_id: row.successor_dataset_id,
            public: row.public,
            revision: row.revision,
            retired_at: row.retired_at,
            last_data_update: row.last_data_update,
            stale_announced_due: row.stale_announced_due,
            deleted: row.deleted,
            created_at: row.created_at,
        }
    }
}

/// One record, locked for update when `for_update`.
pub async fn fetch(
    executor: impl PgExecutor<'_>,
    dataset_id: &str,
    for_update: bool,
) -> Result<Option<Record>, sqlx::Error> {
    let row = if for_update {
        sqlx::query_as!(
            RecordRow,
            "SELECT dataset_id, agency_id, title, category, state, access_level, rights, \
                 accrual_periodicity, justification, withholding_ground, successor_dataset_id, \
                 public, revision, retired_at, last_data_update, stale_announced_due, deleted, \
                 created_at \
             FROM inventory WHERE dataset_id = $1 FOR UPDATE",
            dataset_id,
        )
        .fetch_optional(executor)
        .await?
    } else {
        sqlx::query_as!(
            RecordRow,
            "SELECT dataset_id, agency_id, title, category, state, access_level, rights, \
                 accrual_periodicity, justification, withholding_ground, successor_dataset_id, \
                 public, revision, retired_at, last_data_update, stale_announced_due, deleted, \
                 created_at \
             FROM inventory WHERE dataset_id = $1",
            dataset_id,
        )
        .fetch_optional(executor)
        .await?
    };
    Ok(row.map(Record::from))
}

/// What the catalog says about a dataset.
#[derive(Debug, Clone)]
pub struct CatalogFacts {
    pub dataset_id: String,
    /// Owning agency.
    pub agency_id: String,
    pub title: String,
    pub category: String,
    /// Declared update frequency (normalized), or empty.
    pub accrual_periodicity: String,
    pub last_data_update: Option<DateTime<Utc>>,
    /// When the dataset was created.
    pub created_at: DateTime<Utc>,
    /// The newest change the facts reflect; older facts never overwrite newer ones.
    pub seen_at: DateTime<Utc>,
    /// Deleted from the catalog.
    pub deleted: bool,
}

/// Records the catalog's facts, creating the record if needed; facts older than those already
/// recorded are ignored. A title from the catalog never overrides the workflow fields.
pub async fn record_facts(
    conn: &mut PgConnection,
    facts: &CatalogFacts,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO inventory (dataset_id, agency_id, title, category, accrual_periodicity, \
             last_data_update, catalog_seen_at, deleted, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (dataset_id) DO UPDATE SET \
             agency_id = EXCLUDED.agency_id, title = EXCLUDED.title, category = EXCLUDED.category, \
             accrual_periodicity = CASE WHEN EXCLUDED.accrual_periodicity = '' \
                 THEN inventory.accrual_periodicity ELSE EXCLUDED.accrual_periodicity END, \
             last_data_update = GREATEST(inventory.last_data_update, EXCLUDED.last_data_update), \
             catalog_seen_at = EXCLUDED.catalog_seen_at, \
             deleted = inventory.deleted OR EXCLUDED.deleted \
         WHERE inventory.catalog_seen_at <= EXCLUDED.catalog_seen_at",
        facts.dataset_id,
        facts.agency_id,
        facts.title,
        facts.category,
        facts.accrual_periodicity,
        facts.last_data_update,
        facts.seen_at,
        facts.deleted,
        facts.created_at,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Saves the workflow fields of a record.
pub async fn save(conn: &mut PgConnection, record: &Record) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE inventory SET state = $2, access_level = $3, rights = $4, accrual_periodicity = $5, \
             justification = $6, withholding_ground = $7, successor_dataset_id = $8, public = $9, \
             revision = $10, retired_at = $11, stale_announced_due = $12 \
         WHERE dataset_id = $1",
        record.dataset_id,
        record.state.as_str(),
        record.access_level,
        record.rights,
        record.accrual_periodicity,
        record.justification,
        record.withholding_ground.map(Ground::as_str),
        record.successor_dataset_id,
        record.public,
        record.revision,
        record.retired_at,
        record.stale_announced_due,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// One recorded transition.
#[derive(Debug, Clone, PartialEq)]
pub struct TransitionRow {
    /// State before.
    pub from_state: String,
    /// State after.
    pub to_state: String,
    /// Who.
    pub actor_id: String,
    /// Why.
    pub reason: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// Appends a transition.
pub async fn add_transition(
    conn: &mut PgConnection,
    dataset_id: &str,
    transition: &TransitionRow,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO transitions (dataset_id, from_state, to_state, actor_id, reason, at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
        dataset_id,
        transition.from_state,
        transition.to_state,
        transition.actor_id,
        transition.reason,
        transition.at,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A record's transitions, oldest first.
pub async fn history(
    executor: impl PgExecutor<'_>,
    dataset_id: &str,
) -> Result<Vec<TransitionRow>, sqlx::Error> {
    sqlx::query_as!(
        TransitionRow,
        "SELECT from_state, to_state, actor_id, reason, at FROM transitions \
         WHERE dataset_id = $1 ORDER BY id",
        dataset_id,
    )
    .fetch_all(executor)
    .await
}

/// Records not deleted, optionally of one agency and in some states, by dataset id.
pub async fn list(
    executor: impl PgExecutor<'_>,
    agency_id: Option<&str>,
    states: &[ReviewState],
) -> Result<Vec<Record>, sqlx::Error> {
    let states: Vec<&str> = states.iter().map(|s| s.as_str()).collect();
    let rows = sqlx::query_as!(
        RecordRow,
        "SELECT dataset_id, agency_id, title, category, state, access_level, rights, \
             accrual_periodicity, justification, withholding_ground, successor_dataset_id, \
             public, revision, retired_at, last_data_update, stale_announced_due, deleted, \
             created_at \
         FROM inventory WHERE NOT deleted \
           AND ($1::text IS NULL OR agency_id = $1) \
           AND (cardinality($2::text[]) = 0 OR state = ANY($2)) \
         ORDER BY dataset_id",
        agency_id,
        &states as &[&str],
    )
    .fetch_all(executor)
    .await?;
    Ok(rows.into_iter().map(Record::from).collect())
}

/// Retired records still public that were retired before `before`.
pub async fn retired_before(
    executor: impl PgExecutor<'_>,
    before: DateTime<Utc>,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT dataset_id FROM inventory WHERE state = 'retired' AND public AND retired_at <= $1 \
         ORDER BY dataset_id",
        before,
    )
    .fetch_all(executor)
    .await
}

/// Records of one agency (or all) by state, and withheld ones by ground: `(state, ground, count)`
/// rows, the ground empty except for withheld records.
pub async fn summary(
    executor: impl PgExecutor<'_>,
    agency_id: Option<&str>,
) -> Result<Vec<(String, String, i64)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT state, coalesce(withholding_ground, '') AS "ground!", count(*) AS "count!"
           FROM inventory WHERE NOT deleted AND ($1::text IS NULL OR agency_id = $1)
           GROUP BY 1, 2 ORDER BY 1, 2"#,
        agency_id,
    )
    .fetch_all(executor)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| (row.state, row.ground, row.count))
        .collect())
}

/// A withheld dataset as the public may know it: nothing of its record but what `/data.json`
/// discloses, its ground and when it was withheld.
#[derive(Debug, Clone)]
pub struct WithheldDataset {
    pub dataset_id: String,
    /// Owning agency.
    pub agency_id: String,
    /// Title, as the catalog last reported it.
    pub title: String,
    /// The ground (the column's CHECK constraint holds one for every withheld record).
    pub ground: Ground,
    /// The written explanation (`rights`).
    pub explanation: String,
    /// DCAT-US access level (`restricted public`, `non-public`).
    pub access_level: String,
    /// When it last entered the withheld state.
    pub withheld_at: Option<DateTime<Utc>>,
}

/// Withheld records not deleted, optionally of one agency, by agency name and title; at most
/// `limit`.
pub async fn withheld(
    executor: impl PgExecutor<'_>,
    agency_id: Option<&str>,
    limit: usize,
) -> Result<Vec<WithheldDataset>, sqlx::Error> {
    let rows = sqlx::query!(
        "SELECT i.dataset_id, i.agency_id, i.title, i.withholding_ground AS ground, \
                i.rights AS explanation, i.access_level, \
                (SELECT max(t.at) FROM transitions t \
                 WHERE t.dataset_id = i.dataset_id AND t.to_state = 'withheld') AS withheld_at \
         FROM inventory i LEFT JOIN agencies a ON a.id = i.agency_id \
         WHERE NOT i.deleted AND i.state = 'withheld' AND ($1::text IS NULL OR i.agency_id = $1) \
         ORDER BY coalesce(a.name, i.agency_id), i.title, i.dataset_id LIMIT $2",
        agency_id,
        i64::try_from(limit).unwrap_or(i64::MAX),
    )
    .fetch_all(executor)
    .await?;
    rows.into_iter()
        .map(|row| {
            let ground = row
                .ground
                .as_deref()
                .and_then(Ground::parse)
                .ok_or_else(|| {
                    sqlx::Error::Decode(
                        format!("withheld dataset {} has no known ground", row.dataset_id).into(),
                    )
                })?;
            Ok(WithheldDataset {
                dataset_id: row.dataset_id,
                agency_id: row.agency_id,
                title: row.title,
                ground,
                explanation: row.explanation,
                access_level: row.access_level,
                withheld_at: row.withheld_at,
            })
        })
        .collect()
}

/// Records that `dataset_id`'s lapse due at `due` is announced, only if nothing changed since the
/// record was read (still published, the same last update) and it was not announced already;
/// whether it was recorded.
pub async fn mark_stale_announced(
    conn: &mut PgConnection,
    dataset_id: &str,
    due: Option<DateTime<Utc>>,
    last_data_update: Option<DateTime<Utc>>,
) -> Result<bool, sqlx::Error> {
    let marked = sqlx::query!(
        "UPDATE inventory SET stale_announced_due = $2 WHERE dataset_id = $1 \
         AND stale_announced_due IS DISTINCT FROM $2 AND state = 'published' \
         AND NOT deleted AND last_data_update IS NOT DISTINCT FROM $3",
        dataset_id,
        due,
        last_data_update,
    )
    .execute(conn)
    .await?;
    Ok(marked.rows_affected() > 0)
}
