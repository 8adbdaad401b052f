//! SQL over the catalog's tables, checked at compile time against the migrations
//! (`sqlx::query!`, see `scripts/sqlx-prepare.sh`). Functions take an executor so callers choose
//! the transaction. (Dataset rows are read by `crate::rows`, from tables named per version.)

use chrono::{DateTime, Utc};
use opendata_datastore::dataset_id::DatasetId;
use opendata_datastore::schema::Schema;
use sqlx::types::Json;
use sqlx::{PgConnection, PgExecutor};

use crate::error::CatalogError;
use crate::model::{Dataset, Metadata, Stage};

struct DatasetRow {
    id: String,
    agency_id: String,
    metadata: Json<Metadata>,
    schema: Json<Schema>,
    publication_stage: String,
    current_version: i64,
    current_table: Option<String>,
    row_count: i64,
    owner_id: String,
    created_at: DateTime<Utc>,
    metadata_updated_at: DateTime<Utc>,
    data_updated_at: Option<DateTime<Utc>>,
    published_at: Option<DateTime<Utc>>,
    withheld: bool,
    governance_revision: i64,
}

impl DatasetRow {
    fn into_dataset(self) -> Result<Dataset, CatalogError> {
        let id = DatasetId::parse(&self.id).ok_or_else(|| {
            CatalogError::invalid("id", format!("stored id {} is not a 4x4", self.id))
        })?;
        Ok(Dataset {
            id,
            agency_id: self.agency_id,
            metadata: self.metadata.0,
            schema: self.schema.0,
            stage: Stage::parse(&self.publication_stage),
            withheld: self.withheld,
            governance_revision: self.governance_revision,
            current_version: self.current_version,
            current_table: self.current_table,
            row_count: self.row_count,
            owner_id: self.owner_id,
            created_at: self.created_at,
            metadata_updated_at: self.metadata_updated_at,
            data_updated_at: self.data_updated_at,
            published_at: self.published_at,
        })
    }
}

/// Inserts a new dataset; `AlreadyExists` when the id is taken.
pub async fn insert(conn: &mut PgConnection, dataset: &Dataset) -> Result<(), CatalogError> {
    let inserted = sqlx::query!(
        "INSERT INTO datasets (id, agency_id, metadata, schema, publication_stage, owner_id, created_at, metadata_updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7) ON CONFLICT (id) DO NOTHING",
        dataset.id.as_str(),
        dataset.agency_id,
        Json(&dataset.metadata) as _,
        Json(&dataset.schema) as _,
        dataset.stage.as_str(),
        dataset.owner_id,
        dataset.created_at,
    )
    .execute(conn)
    .await?;
    if inserted.rows_affected() == 0 {
        return Err(CatalogError::AlreadyExists(dataset.id.to_string()));
    }
    Ok(())
}

/// One dataset, locked for update when `for_update`.
pub async fn fetch(
    executor: impl PgExecutor<'_>,
    id: &str,
    for_update: bool,
) -> Result<Option<Dataset>, CatalogError> {
    let row = if for_update {
        sqlx::query_as!(
            DatasetRow,
            r#"SELECT id, agency_id, metadata AS "metadata: Json<Metadata>", schema AS "schema: Json<Schema>",
                  publication_stage, current_version, current_table, row_count, owner_id,
                  created_at, metadata_updated_at, data_updated_at, published_at, withheld,
                  governance_revision
               FROM datasets WHERE id = $1 FOR UPDATE"#,
            id,
        )
        .fetch_optional(executor)
        .await?
    } else {
        sqlx::query_as!(
            DatasetRow,
            r#"SELECT id, agency_id, metadata AS "metadata: Json<Metadata>", schema AS "schema: Json<Schema>",
                  publication_stage, current_version, current_table, row_count, owner_id,
                  created_at, metadata_updated_at, data_updated_at, published_at, withheld,
                  governance_revision
               FROM datasets WHERE id = $1"#,
            id,
        )
        .fetch_optional(executor)
        .await?
    };
    row.map(DatasetRow::into_dataset).transpose()
}

/// Saves metadata, schema and stage changes.
pub async fn update(conn: &mut PgConnection, dataset: &Dataset) -> Result<(), CatalogError> {
    sqlx::query!(
        "UPDATE datasets SET metadata = $2, schema = $3, publication_stage = $4, metadata_updated_at = $5, \
         published_at = $6, withheld = $7, governance_revision = $8 WHERE id = $1",
        dataset.id.as_str(),
        Json(&dataset.metadata) as _,
        Json(&dataset.schema) as _,
        dataset.stage.as_str(),
        dataset.metadata_updated_at,
        dataset.published_at,
        dataset.withheld,
        dataset.governance_revision,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Which datasets a listing may return.
pub struct ListFilter<'a> {
    /// Only this agency.
    pub agency_id: Option<&'a str>,
    /// Only this stage.
    pub stage: Option<Stage>,
    /// Private datasets of these agencies are visible too (`None`: of every agency).
    pub private_agencies: Option<Vec<String>>,
    /// Withheld datasets are listed too (their metadata is disclosed).
    pub include_withheld: bool,
    /// Ids after this one.
    pub after_id: Option<&'a str>,
    /// At most this many.
    pub limit: i64,
}

/// Datasets matching a filter, by id.
pub async fn list(
    executor: impl PgExecutor<'_>,
    filter: &ListFilter<'_>,
) -> Result<Vec<Dataset>, CatalogError> {
    let rows = sqlx::query_as!(
        DatasetRow,
        r#"SELECT id, agency_id, metadata AS "metadata: Json<Metadata>", schema AS "schema: Json<Schema>",
                  publication_stage, current_version, current_table, row_count, owner_id,
                  created_at, metadata_updated_at, data_updated_at, published_at, withheld,
                  governance_revision
           FROM datasets
           WHERE ($1::text IS NULL OR agency_id = $1)
             AND ($2::text IS NULL OR publication_stage = $2)
             AND (publication_stage = 'published' OR $3::boolean OR agency_id = ANY($4)
                  OR ($7::boolean AND withheld))
             AND ($5::text IS NULL OR id > $5)
           ORDER BY id LIMIT $6"#,
        filter.agency_id,
        filter.stage.map(Stage::as_str),
        filter.private_agencies.is_none(),
        &filter.private_agencies.clone().unwrap_or_default(),
        filter.after_id,
        filter.limit,
        filter.include_withheld,
    )
    .fetch_all(executor)
    .await?;
    rows.into_iter().map(DatasetRow::into_dataset).collect()
}

/// A version as the catalog recorded it.
#[derive(Debug, Clone)]
pub struct VersionRecord {
    /// Version number.
    pub version: i64,
    /// Rows.
    pub row_count: i64,
    /// Replace, append or upsert.
    pub mode: String,
    /// Upload that produced it.
    pub upload_id: String,
    /// Committed by ingestion at.
    pub committed_at: DateTime<Utc>,
    /// Made current at.
    pub activated_at: DateTime<Utc>,
    /// Its column schema.
    pub schema: Json<Schema>,
    /// Who committed it (id, display name), when recorded.
    pub committed_by_id: Option<String>,
    pub committed_by_name: Option<String>,
    /// When its data was current, when recorded.
    pub data_as_of: Option<DateTime<Utc>>,
    /// Whether its view (or table) is still there to read.
    pub kept: bool,
    /// When it was purged, by whom and why.
    pub purged_at: Option<DateTime<Utc>>,
    pub purged_by_name: Option<String>,
    pub purge_reason: Option<String>,
    /// What its commit changed: rows created, changed, deleted.
    pub rows_created: i64,
    pub rows_updated: i64,
    pub rows_deleted: i64,
}

/// Marks a version purged; whether the catalog has it.
pub async fn record_purge(
    executor: impl PgExecutor<'_>,
    dataset_id: &str,
    version: i64,
    purged_at: DateTime<Utc>,
    purged_by_name: &str,
    reason: &str,
) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query!(
        "UPDATE versions SET purged_at = $3, purged_by_name = $4, purge_reason = $5 \
         WHERE dataset_id = $1 AND version = $2",
        dataset_id,
        version,
        purged_at,
        purged_by_name,
        reason,
    )
    .execute(executor)
    .await?
    .rows_affected()
        > 0)
}

/// A version as a change feed tells it.
pub struct FeedVersion {
    pub version: i64,
    pub row_count: i64,
    /// What its commit changed: rows created, changed, deleted.
    pub rows_created: i64,
    pub rows_updated: i64,
    pub rows_deleted: i64,
    /// Replace, append or upsert.
    pub mode: String,
    pub committed_at: DateTime<Utc>,
    pub activated_at: DateTime<Utc>,
}

/// A dataset's versions after `after`, oldest first, at most `limit` (only what a feed tells).
pub async fn versions_after(
    executor: impl PgExecutor<'_>,
    dataset_id: &str,
    after: i64,
    limit: i64,
) -> Result<Vec<FeedVersion>, CatalogError> {
    Ok(sqlx::query_as!(
        FeedVersion,
        "SELECT version, row_count, rows_created, rows_updated, rows_deleted, mode, committed_at, \
         activated_at FROM versions \
         WHERE dataset_id = $1 AND version > $2 ORDER BY version LIMIT $3",
        dataset_id,
        after,
        limit,
    )
    .fetch_all(executor)
    .await?)
}

/// A dataset's versions, newest first.
pub async fn versions(
    executor: impl PgExecutor<'_>,
    dataset_id: &str,
    limit: Option<i64>,
) -> Result<Vec<VersionRecord>, CatalogError> {
    Ok(sqlx::query_as!(
        VersionRecord,
        r#"SELECT version, row_count, mode, upload_id, committed_at, activated_at,
                  schema AS "schema!: Json<Schema>", committed_by_id, committed_by_name, data_as_of,
                  to_regclass('data.' || quote_ident(table_name)) IS NOT NULL AS "kept!",
                  purged_at, purged_by_name, purge_reason, rows_created, rows_updated, rows_deleted
           FROM versions WHERE dataset_id = $1 ORDER BY version DESC LIMIT $2"#,
        dataset_id,
        limit,
    )
    .fetch_all(executor)
    .await?)
}

/// A version of a dataset as readers read it: its table, schema, rows and activation, and
/// whether its table is still there.
pub struct KeptVersion {
    pub table_name: String,
    pub schema: Json<Schema>,
    pub row_count: i64,
    pub activated_at: DateTime<Utc>,
    /// Whether its view (or table) is still there (retired versions' are dropped).
    pub kept: bool,
    /// When it was purged and why, if it was.
    pub purged_at: Option<DateTime<Utc>>,
    pub purge_reason: Option<String>,
    /// The generation table its view selects from (none before generations).
    pub generation: Option<String>,
}

/// Version `version` of dataset `dataset_id`, if it was ever activated.
pub async fn kept_version(
    executor: impl PgExecutor<'_>,
    dataset_id: &str,
    version: i64,
) -> Result<Option<KeptVersion>, CatalogError> {
    Ok(sqlx::query_as!(
        KeptVersion,
        r#"SELECT table_name, schema AS "schema!: Json<Schema>", row_count, activated_at,
                  to_regclass('data.' || quote_ident(table_name)) IS NOT NULL AS "kept!",
                  purged_at, purge_reason, generation
           FROM versions WHERE dataset_id = $1 AND version = $2"#,
        dataset_id,
        version,
    )
    .fetch_optional(executor)
    .await?)
}

/// Gives every column a numeric id: the id of the same field name in `previous`, or a new one.
pub async fn assign_column_ids(
    conn: &mut PgConnection,
    mut schema: Schema,
    previous: &Schema,
) -> Result<Schema, CatalogError> {
    for column in &mut schema.columns {
        column.id = match previous
            .column(&column.field_name)
            .map(|c| c.id)
            .filter(|id| *id > 0)
        {
            Some(id) => id,
            None => {
                sqlx::query_scalar!(r#"SELECT nextval('column_ids') AS "id!""#)
                    .fetch_one(&mut *conn)
                    .await?
            }
        };
    }
    Ok(schema)
}

/// A committed version the catalog makes current.
pub struct Activated<'a> {
    pub dataset_id: &'a str,
    pub version: i64,
    /// Its table in the `data` schema, as ingestion named it.
    pub table_name: &'a str,
    pub schema: &'a Schema,
    pub row_count: i64,
    /// `replace`, `append` or `upsert`.
    pub mode: &'a str,
    pub upload_id: &'a str,
    pub committed_at: DateTime<Utc>,
    /// When its data was current (the extract's date, else the commit).
    pub data_as_of: DateTime<Utc>,
    /// Who committed it (id, display name).
    pub committed_by_id: &'a str,
    pub committed_by_name: &'a str,
    /// The generation table its view selects from.
    pub generation: Option<&'a str>,
    /// What its commit changed: rows created, changed, deleted.
    pub changes: [i64; 3],
}

/// Records version `activated` and makes it the dataset's current one: readers switch tables in
/// this one update.
pub async fn activate_version(
    conn: &mut PgConnection,
    activated: &Activated<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO versions (dataset_id, version, table_name, schema, row_count, mode, upload_id, \
         committed_at, committed_by_id, committed_by_name, data_as_of, generation, rows_created, \
         rows_updated, rows_deleted) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
         ON CONFLICT DO NOTHING",
        activated.dataset_id,
        activated.version,
        activated.table_name,
        Json(activated.schema) as _,
        activated.row_count,
        activated.mode,
        activated.upload_id,
        activated.committed_at,
        activated.committed_by_id,
        activated.committed_by_name,
        activated.data_as_of,
        activated.generation,
        activated.changes[0],
        activated.changes[1],
        activated.changes[2],
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "UPDATE datasets SET current_version = $2, current_table = $3, schema = $4, row_count = $5, \
         data_updated_at = $6 WHERE id = $1",
        activated.dataset_id,
        activated.version,
        activated.table_name,
        Json(activated.schema) as _,
        activated.row_count,
        activated.data_as_of,
    )
    .execute(conn)
    .await?;
    Ok(())
}
