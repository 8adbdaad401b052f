//! The catalog's operations, with their authorization: who may create, change, publish and read
//! which datasets. Unpublished datasets are invisible (not found) to everyone but their agency's
//! principals, the CDO, the panel and admins.

use std::sync::Arc;

use chrono::Utc;
use opendata_datastore::dataset_id::DatasetId;
use opendata_datastore::output::{Format, OutputColumn};
use opendata_datastore::schema::Schema;
use opendata_limits::{COLUMNS, excerpt};
use opendata_platform::ApiError;
use opendata_platform::auth::Principal;
use opendata_platform::authz::{Action, Reach};
use opendata_platform::grpc::ClientContext;
use opendata_platform::shutdown::Shutdown;
use opendata_proto::catalog::v1::DatasetChange;
use opendata_proto::governance::v1::ListAgenciesRequest;
use opendata_proto::governance::v1::identity_service_client::IdentityServiceClient;
use opendata_soql::{Extensions, QueryRequest};
use sqlx::PgPool;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::conditional::{etag, is_current};
use crate::dataset_ids::{check_chosen, random_id};
use crate::diff::{DiffCounts, DiffPlan, Side};
use crate::error::CatalogError;
use crate::events::emit;
use crate::model::{Dataset, Metadata, Stage};
use crate::rows::{
    Chunks, QueryRun, RunAs, collect, compile_for, estimated_cost, query_rows, target_of,
};
use crate::share::{FairShare, QueryCaller};
use crate::store::{self, ListFilter, VersionRecord};

/// Largest page of a listing.
const MAX_PAGE_SIZE: u32 = 1000;
/// Page size when none is asked for.
const DEFAULT_PAGE_SIZE: u32 = 100;

/// A change to a column's description, display name or index flag.
#[derive(Debug, Clone, Default)]
pub struct ColumnChange {
    /// Which column.
    pub field_name: String,
    /// New display name; unchanged when empty.
    pub display_name: String,
    /// New description.
    pub description: String,
    /// Index the column from the next version on.
    pub indexed: bool,
}

/// What `update` changes.
#[derive(Debug, Clone, Default)]
pub struct DatasetUpdate {
    /// New metadata and the fields of it to apply (all when empty).
    pub metadata: Option<(Metadata, Vec<String>)>,
    /// Column display names and descriptions.
    pub columns: Vec<ColumnChange>,
    /// A whole new schema (only while no data is loaded).
    pub replace_schema: Option<Schema>,
}

/// Governance's directory, to check that an owning agency exists.
pub type IdentityClient = IdentityServiceClient<InterceptedService<Channel, ClientContext>>;

/// A request for rows.
#[derive(Debug, Clone)]
pub struct RowRead {
    /// The SoQL request.
    pub request: QueryRequest,
    /// Output format.
    pub format: Format,
    /// Start with a byte order mark.
    pub bom: bool,
    /// The client's `If-None-Match`.
    pub if_none_match: String,
    /// The client's `If-Modified-Since`.
    pub if_modified_since: Option<chrono::DateTime<Utc>>,
    /// `$version`: a kept version to read instead of the current one.
    pub version: Option<i64>,
}

/// A request for the changed rows between two kept versions.
pub struct DiffRead {
    /// The older version.
    pub from: i64,
    /// The newer version.
    pub to: i64,
    /// Output format (JSON or CSV).
    pub format: Format,
    /// At most this many changes.
    pub limit: Option<u64>,
    /// Changes skipped first.
    pub offset: u64,
    /// The client's `If-None-Match`.
    pub if_none_match: String,
}

/// The answer to a [`RowRead`].
pub struct RowAnswer {
    /// The dataset read.
    pub dataset: Dataset,
    /// The response's ETag.
    pub etag: String,
    /// Output columns and body; `None` when the client's copy is current.
    pub rows: Option<(Vec<OutputColumn>, Chunks)>,
}

/// What a listing asks for.
#[derive(Debug, Clone, Default)]
pub struct Listing<'a> {
    /// Only this agency's datasets.
    pub agency_id: Option<&'a str>,
    /// Only datasets in this stage.
    pub stage: Option<Stage>,
    /// Withheld datasets too (their metadata is disclosed).
    pub include_withheld: bool,
    /// Page size (default 100, at most 1000).
    pub page_size: u32,
    /// Id after which the page starts.
    pub page_token: Option<&'a str>,
}

#[derive(Clone)]
pub struct Catalog {
    pub(crate) pool: PgPool,
    /// Row queries run on their own connections, so exports never starve metadata calls.
    query_pool: PgPool,
    /// Connections that estimate what public queries cost.
    plan_pool: PgPool,
    /// Who may run how many row queries, for how long.
    share: Arc<FairShare>,
    /// Bytes of serialized rows per streamed chunk.
    chunk_bytes: usize,
    identity: IdentityClient,
    /// What the database runs beyond PostgreSQL (PostGIS), for the SoQL compiler.
    extensions: Extensions,
    /// Turns to watch a dataset's versions (see [`crate::watch`]).
    pub(crate) watches: Arc<tokio::sync::Semaphore>,
    /// The service's shutdown, which ends open watches (clients resume on another replica).
    pub(crate) shutdown: Shutdown,
}

/// What anyone may know of a withheld dataset: its DCAT metadata (with the access level and the
/// rights saying why), not its columns, size, versions or owner.
fn disclosed(mut dataset: Dataset) -> Dataset {
    dataset.schema = Schema::default();
    dataset.row_count = 0;
    dataset.current_version = 0;
    dataset.current_table = None;
    dataset.owner_id.clear();
    dataset.data_updated_at = None;
    dataset
}

fn visible(dataset: &Dataset, caller: Option<&Principal>) -> bool {
    dataset.stage == Stage::Published
        || caller.is_some_and(|c| c.may(Action::ReadPrivateDatasets, Some(&dataset.agency_id)))
}

impl Catalog {
    /// The catalog over its pool and a separate pool for row queries (its size bounds concurrent
    /// queries, shared out by `share`), checking agencies with governance.
    pub fn new(
        pool: PgPool,
        query_pool: PgPool,
        plan_pool: PgPool,
        share: FairShare,
        chunk_bytes: usize,
        identity: IdentityClient,
        extensions: Extensions,
    ) -> Self {
        Catalog {
            pool,
            query_pool,
            plan_pool,
            share: Arc::new(share),
            chunk_bytes,
            identity,
            extensions,
            watches: Arc::new(tokio::sync::Semaphore::new(
                opendata_limits::VERSION_WATCHES.get(),
            )),
            shutdown: Shutdown::default(),
        }
    }

    /// The catalog with `shutdown` ending its open watches.
    pub fn ending_watches_at(mut self, shutdown: Shutdown) -> Self {
        self.shutdown = shutdown;
        self
    }

    /// Every agency's id, once `agency_id` is known to be one of them.
    async fn require_agency(&self, agency_id: &str) -> Result<Vec<String>, CatalogError> {
        let agencies = self
            .identity
            .clone()
            .list_agencies(ListAgenciesRequest {})
            .await
            .map_err(|status| CatalogError::Denied(ApiError::from_status(&status)))?
            .into_inner()
            .agencies;
        if agencies.iter().any(|agency| agency.id == agency_id) {
            Ok(agencies.into_iter().map(|agency| agency.id).collect())
        } else {
            Err(CatalogError::AgencyNotFound(excerpt(agency_id)))
        }
    }

    /// Creates a dataset owned by `agency_id`. Agency roles create only for their own agency.
    pub async fn create(
        &self,
        caller: &Principal,
        agency_id: &str,
        metadata: Metadata,
        schema: Schema,
        requested_id: &str,
    ) -> Result<Dataset, CatalogError> {
        let agency_id = match (agency_id.trim(), caller.agency_id.as_deref()) {
            ("", Some(own)) => own.to_owned(),
            ("", None) => return Err(CatalogError::invalid("agency_id", "agency_id is required")),
            (agency, _) => agency.to_owned(),
        };
        caller
            .authorize(Action::WriteDatasets, Some(&agency_id))
            .map_err(CatalogError::Denied)?;
        let agencies = self.require_agency(&agency_id).await?;
        let metadata = metadata.normalized().map_err(CatalogError::from)?;
        let schema = if schema.is_empty() {
            schema
        } else {
            schema
                .normalized()
                .map_err(|e| CatalogError::schema("schema", e))?
        };
        let id = match requested_id.trim() {
            "" => random_id(&agency_id, &agencies),
            requested => {
                let id = DatasetId::parse(requested).ok_or_else(|| {
                    CatalogError::invalid(
                        "id",
                        format!(
                            "`{}` is not a dataset id like abcd-1234",
                            excerpt(requested)
                        ),
                    )
                })?;
                check_chosen(caller, &id, &agency_id, &agencies)?;
                id
            }
        };
        let now = Utc::now();
        let mut dataset = Dataset {
            id,
            agency_id,
            metadata,
            schema: Schema::default(),
            stage: Stage::Private,
            withheld: false,
            governance_revision: 0,
            current_version: 0,
            current_table: None,
            row_count: 0,
            owner_id: caller.id.clone(),
            created_at: now,
            metadata_updated_at: now,
            data_updated_at: None,
            published_at: None,
        };
        let mut tx = self.pool.begin().await?;
        dataset.schema = store::assign_column_ids(&mut tx, schema, &Schema::default()).await?;
        store::insert(&mut tx, &dataset).await?;
        emit(&mut tx, DatasetChange::Created, &dataset, 0).await?;
        tx.commit().await?;
        tracing::info!(dataset_id = %dataset.id, agency_id = %dataset.agency_id, "dataset created");
        Ok(dataset)
    }

    /// One dataset, if the caller may see it.
    pub async fn get(&self, caller: Option<&Principal>, id: &str) -> Result<Dataset, CatalogError> {
        match store::fetch(&self.pool, id, false).await? {
            Some(dataset) if visible(&dataset, caller) => Ok(dataset),
            _ => Err(CatalogError::NotFound(id.to_owned())),
        }
    }

    /// Changes metadata and column documentation, or the schema while no data is loaded.
    pub async fn update(
        &self,
        caller: &Principal,
        id: &str,
        update: DatasetUpdate,
    ) -> Result<Dataset, CatalogError> {
        let mut tx = self.pool.begin().await?;
        let mut dataset = match store::fetch(&mut *tx, id, true).await? {
            Some(dataset) if visible(&dataset, Some(caller)) => dataset,
            _ => return Err(CatalogError::NotFound(id.to_owned())),
        };
        caller
            .authorize(Action::WriteDatasets, Some(&dataset.agency_id))
            .map_err(CatalogError::Denied)?;
        if let Some((metadata, mask)) = update.metadata {
            dataset.metadata = apply_mask(dataset.metadata, metadata, &mask)?
                .normalized()
                .map_err(CatalogError::from)?;
        }
        if let Some(schema) = update.replace_schema {
            if dataset.current_version > 0 {
                return Err(CatalogError::SchemaChange(
                    "the dataset has data: change its columns with a replace upload carrying the new schema".to_owned(),
                ));
            }
            let schema = schema
                .normalized()
                .map_err(|e| CatalogError::schema("schema", e))?;
            dataset.schema = store::assign_column_ids(&mut tx, schema, &dataset.schema).await?;
        }
        if let Some(message) = COLUMNS.count_problem(update.columns.len()) {
            return Err(CatalogError::Invalid {
                field: "columns".to_owned(),
                message,
                limit: Some(COLUMNS.name),
            });
        }
        for (index, change) in update.columns.iter().enumerate() {
            let column = dataset
                .schema
                .columns
                .iter_mut()
                .find(|c| c.field_name == change.field_name)
                .ok_or_else(|| {
                    CatalogError::invalid(
                        format!("columns[{index}].field_name"),
                        format!("the dataset has no column `{}`", change.field_name),
                    )
                })?;
            if !change.display_name.trim().is_empty() {
                column.display_name = change.display_name.trim().to_owned();
            }
            column.description = change.description.trim().to_owned();
            column.indexed = change.indexed;
        }
        dataset
            .schema
            .check_limits()
            .map_err(|e| CatalogError::schema("schema", e))?;
        dataset.metadata_updated_at = Utc::now();
        store::update(&mut tx, &dataset).await?;
        emit(&mut tx, DatasetChange::MetadataUpdated, &dataset, 0).await?;
        tx.commit().await?;
        Ok(dataset)
    }

    /// Datasets the caller may see, a page at a time.
    pub async fn list(
        &self,
        caller: Option<&Principal>,
        listing: &Listing<'_>,
    ) -> Result<(Vec<Dataset>, Option<String>), CatalogError> {
        let limit = match listing.page_size {
            0 => DEFAULT_PAGE_SIZE,
            size => size.min(MAX_PAGE_SIZE),
        };
        // Private datasets of which agencies the caller may see: all (`None`), its own, or none.
        let private_agencies = match caller {
            Some(c) if !c.app_token => match Action::ReadPrivateDatasets.reach(c.role) {
                Reach::Everywhere => None,
                Reach::OwnAgency => Some(c.agency_id.iter().cloned().collect()),
                Reach::Nowhere => Some(Vec::new()),
            },
            _ => Some(Vec::new()),
        };
        let datasets = store::list(
            &self.pool,
            &ListFilter {
                agency_id: listing.agency_id,
                stage: listing.stage,
                private_agencies,
                include_withheld: listing.include_withheld,
                after_id: listing.page_token,
                limit: i64::from(limit),
            },
        )
        .await?;
        let next = (datasets.len() == limit as usize)
            .then(|| datasets.last().map(|d| d.id.to_string()))
            .flatten();
        let datasets = datasets
            .into_iter()
            .map(|dataset| {
                if visible(&dataset, caller) {
                    dataset
                } else {
                    disclosed(dataset)
                }
            })
            .collect();
        Ok((datasets, next))
    }

    /// A dataset's versions.
    pub async fn versions(
        &self,
        caller: Option<&Principal>,
        id: &str,
        limit: Option<u32>,
    ) -> Result<Vec<VersionRecord>, CatalogError> {
        self.get(caller, id).await?;
        store::versions(&self.pool, id, limit.map(i64::from)).await
    }

    /// `dataset` as it was at `version`, for reading that version's rows: its table, schema and
    /// rows. Refused, naming `$version`, when there is no such version or its table is no
    /// longer kept.
    async fn as_of(&self, mut dataset: Dataset, version: i64) -> Result<Dataset, CatalogError> {
        let kept = self.kept(&dataset, version, "$version").await?;
        dataset.current_version = version;
        dataset.current_table = Some(kept.table_name);
        dataset.schema = kept.schema.0;
        dataset.row_count = kept.row_count;
        dataset.data_updated_at = Some(kept.activated_at);
        Ok(dataset)
    }

    /// Version `version` of `dataset` while its rows can be read; refused, naming `parameter`,
    /// when there is no such version, it was purged, or it is no longer kept.
    async fn kept(
        &self,
        dataset: &Dataset,
        version: i64,
        parameter: &'static str,
    ) -> Result<store::KeptVersion, CatalogError> {
        let id = dataset.id.as_str();
        let refused = |message: String| CatalogError::NoSuchVersion { parameter, message };
        let unknown = || {
            refused(format!(
                "dataset {id} has no version {version}; its versions run from 1 to {}",
                dataset.current_version
            ))
        };
        if version < 1 || version > dataset.current_version {
            return Err(unknown());
        }
        let kept = store::kept_version(&self.pool, id, version)
            .await?
            .ok_or_else(unknown)?;
        if let Some(purged_at) = kept.purged_at {
            return Err(refused(format!(
                "version {version} of dataset {id} was purged on {}: {}",
                purged_at.format("%Y-%m-%d"),
                kept.purge_reason.unwrap_or_default()
            )));
        }
        if !kept.kept {
            return Err(refused(format!(
                "version {version} of dataset {id} is no longer kept; GET /api/views/{id}/versions \
                 lists the versions"
            )));
        }
        Ok(kept)
    }

    /// The plan of the diff between two kept versions of a dataset the caller may see (`from`
    /// older than `to`), with the dataset.
    async fn diff_plan(
        &self,
        caller: Option<&Principal>,
        id: &str,
        from: i64,
        to: i64,
    ) -> Result<(Dataset, DiffPlan), CatalogError> {
        let dataset = self.get(caller, id).await?;
        if from >= to {
            return Err(CatalogError::NoSuchVersion {
                parameter: "from",
                message: format!("from ({from}) must be an older version than to ({to})"),
            });
        }
        let older = self.kept(&dataset, from, "from").await?;
        let newer = self.kept(&dataset, to, "to").await?;
        let plan = DiffPlan::new(
            &Side {
                version: from,
                view: &older.table_name,
                generation: older.generation.as_deref(),
                schema: &older.schema,
            },
            &Side {
                version: to,
                view: &newer.table_name,
                generation: newer.generation.as_deref(),
                schema: &newer.schema,
            },
        );
        Ok((dataset, plan))
    }

    /// What changed between two kept versions: the plan (columns compared, the key) and the
    /// counts, counted as a row query (the caller's slot and timeout; across generations an
    /// expensive one for the public).
    pub async fn diff_summary(
        &self,
        caller: Option<&Principal>,
        id: &str,
        from: i64,
        to: i64,
    ) -> Result<(DiffPlan, DiffCounts), CatalogError> {
        let (dataset, plan) = self.diff_plan(caller, id, from, to).await?;
        let run = self
            .query_run(caller, !plan.incremental, RunAs::Catalog)
            .await?;
        let (_, chunks) =
            query_rows(&dataset, plan.count_query(), Format::Json, false, run).await?;
        let counts = DiffCounts::from_json(&collect(chunks).await?)?;
        Ok((plan, counts))
    }

    /// The changed rows between two kept versions, serialized; nothing when the client's copy
    /// is current (versions never change, so the ETag names the two and the page).
    pub async fn diff_rows(
        &self,
        caller: Option<&Principal>,
        id: &str,
        read: &DiffRead,
    ) -> Result<RowAnswer, CatalogError> {
        let (mut dataset, plan) = self.diff_plan(caller, id, read.from, read.to).await?;
        let etag = format!(
            "\"diff-{}-{}-{}-{}-{}-{}\"",
            dataset.id.as_str(),
            read.from,
            read.to,
            read.format.extension(),
            read.limit
                .map_or_else(|| "all".to_owned(), |limit| limit.to_string()),
            read.offset
        );
        dataset.current_version = read.to;
        if is_current(&read.if_none_match, None, &etag, dataset.updated_at()) {
            return Ok(RowAnswer {
                dataset,
                etag,
                rows: None,
            });
        }
        let compiled = plan.rows_query(target_of(read.format), read.limit, read.offset);
        // A diff within a generation reads only the changed rows; across generations it
        // compares two whole versions, which counts as an expensive query for the public.
        let run = self
            .query_run(caller, !plan.incremental, RunAs::Catalog)
            .await?;
        let rows = query_rows(&dataset, compiled, read.format, false, run).await?;
        Ok(RowAnswer {
            dataset,
            etag,
            rows: Some(rows),
        })
    }

    /// Where and how a row query of `caller` runs: its turn (taken now, waiting at most the
    /// admission time), its timeout and parallelism, as `role`. Only the public's queries are
    /// gated on cost (`expensive`).
    async fn query_run(
        &self,
        caller: Option<&Principal>,
        expensive: bool,
        role: RunAs,
    ) -> Result<QueryRun, CatalogError> {
        let query_caller = QueryCaller::of(caller);
        let admission = self.share.admission_deadline();
        let (timeout, timeout_limit) = self.share.timeout(&query_caller);
        Ok(QueryRun {
            pool: self.query_pool.clone(),
            control: self.pool.clone(),
            timeout,
            timeout_limit,
            parallel: self.share.parallel(&query_caller),
            admission,
            chunk_bytes: self.chunk_bytes,
            slot: self
                .share
                .admit(
                    &query_caller,
                    query_caller.is_public() && expensive,
                    admission,
                )
                .await?,
            role,
        })
    }

    /// Rows of a dataset's current version, serialized; nothing when the client's copy (its
    /// `If-None-Match` / `If-Modified-Since`) is current.
    pub async fn query(
        &self,
        caller: Option<&Principal>,
        id: &str,
        read: &RowRead,
    ) -> Result<RowAnswer, CatalogError> {
        let dataset = match (self.get(caller, id).await?, read.version) {
            (dataset, Some(version)) if version != dataset.current_version => {
                self.as_of(dataset, version).await?
            }
            (dataset, _) => dataset,
        };
        let etag = etag(&dataset, &read.request, read.format, read.bom);
        if is_current(
            &read.if_none_match,
            read.if_modified_since,
            &etag,
            dataset.updated_at(),
        ) {
            return Ok(RowAnswer {
                dataset,
                etag,
                rows: None,
            });
        }
        let compiled = compile_for(&dataset, &read.request, read.format, self.extensions)?;
        // Only the public's queries are gated on cost; key holders are not asked.
        let expensive = QueryCaller::of(caller).is_public()
            && dataset.current_table.is_some()
            && self.share.is_expensive(
                estimated_cost(&self.plan_pool, &compiled, self.share.admission_deadline()).await?,
            );
        let run = self.query_run(caller, expensive, RunAs::Reader).await?;
        let rows = query_rows(&dataset, compiled, read.format, read.bom, run).await?;
        Ok(RowAnswer {
            dataset,
            etag,
            rows: Some(rows),
        })
    }
}

/// Copies the masked fields of `new` over `current` (every field when the mask is empty). Each
/// field may be named once.
fn apply_mask(current: Metadata, new: Metadata, mask: &[String]) -> Result<Metadata, CatalogError> {
    if mask.is_empty() {
        return Ok(new);
    }
    let mut named = std::collections::HashSet::new();
    if let Some(repeated) = mask.iter().find(|path| !named.insert(path.as_str())) {
        return Err(CatalogError::invalid(
            "update_mask",
            format!("`{}` is named more than once", excerpt(repeated)),
        ));
    }
    let mut merged = current;
    for path in mask {
        match path.as_str() {
            "title" => merged.title = new.title.clone(),
            "description" => merged.description = new.description.clone(),
            "keywords" => merged.keywords = new.keywords.clone(),
            "category" => merged.category = new.category.clone(),
            "publisher" => merged.publisher = new.publisher.clone(),
            "contact_point" => {
                merged.contact_name = new.contact_name.clone();
                merged.contact_email = new.contact_email.clone();
            }
            "contact_point.name" => merged.contact_name = new.contact_name.clone(),
            "contact_point.email" => merged.contact_email = new.contact_email.clone(),
            "license" => merged.license = new.license.clone(),
            "access_level" => merged.access_level = new.access_level,
            "rights" => merged.rights = new.rights.clone(),
            "spatial" => merged.spatial = new.spatial.clone(),
            "temporal" => merged.temporal = new.temporal.clone(),
            "accrual_periodicity" => merged.accrual_periodicity = new.accrual_periodicity.clone(),
            "landing_page" => merged.landing_page = new.landing_page.clone(),
            "attribution" => merged.attribution = new.attribution.clone(),
            unknown => {
                return Err(CatalogError::invalid(
                    "update_mask",
                    format!("`{}` is not a metadata field", excerpt(unknown)),
                ));
            }
        }
    }
    Ok(merged)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_apply_only_named_fields() {
        let current = Metadata {
            title: "Old".into(),
            description: "Kept".into(),
            ..Metadata::default()
        };
        let new = Metadata {
            title: "New".into(),
            description: String::new(),
            ..Metadata::default()
        };
        let merged = apply_mask(current, new.clone(), &["title".into()]).unwrap();
        assert_eq!(merged.title, "New");
        assert_eq!(merged.description, "Kept");
        assert!(matches!(
            apply_mask(Metadata::default(), new, &["owner".into()]),
            Err(CatalogError::Invalid { ref field, .. }) if field == "update_mask"
        ));
    }
}
