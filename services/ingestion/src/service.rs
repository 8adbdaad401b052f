//! Ingestion's operations and their authorization: an agency's key writes only its own agency's
//! datasets; the CDO and admins may write any. Every failure leaves the public data untouched and
//! the upload closed with its reason.

use std::sync::Arc;

use bytes::Bytes;
use chrono::{Datelike as _, Duration, Utc};
use futures::{Stream, StreamExt as _};
use opendata_datastore::convert::schema_from_proto;
use opendata_datastore::dataset_id::DatasetId;
use opendata_datastore::encode::Rejection;
use opendata_datastore::schema::Schema;
use opendata_datastore::table::working_table;
use opendata_platform::auth::{Authenticator, Principal};
use opendata_platform::authz::Action;
use opendata_platform::error::ApiError;
use opendata_platform::grpc::ClientContext;
use opendata_platform::timestamp::from_proto;
use opendata_proto::catalog::v1::catalog_service_client::CatalogServiceClient;
use opendata_proto::catalog::v1::{Dataset, GetDatasetRequest};
use sqlx::PgPool;
use tonic::metadata::MetadataMap;
use tonic::transport::Channel;
use uuid::Uuid;

use crate::commit::{Base, build_version};
use crate::config::IngestionSettings;
use crate::error::IngestionError;
use crate::events::{Committed, emit_version_committed};
use crate::janitor::drop_working_table;
use crate::model::{RowChanges, Upload, UploadMode, UploadState};
use crate::pipeline::{HeaderPolicy, Loader};
use crate::store;

/// Largest page of rejections.
const MAX_REJECTIONS_PAGE: u32 = 10_000;

/// A caller: the principal and the key it presented (forwarded to the catalog).
pub struct Caller {
    /// Who.
    pub principal: Principal,
    key: String,
}

/// What a new upload asks for.
pub struct NewUpload {
    /// Target dataset.
    pub dataset_id: String,
    pub mode: Option<UploadMode>,
    /// Largest rejected share, 0 to 1.
    pub max_rejected_fraction: f64,
    /// Infer the schema from the file.
    pub infer_schema: bool,
    /// A new schema for this version.
    pub schema: Option<opendata_proto::common::v1::Schema>,
    /// When the data was current.
    pub data_as_of: Option<prost_types::Timestamp>,
    /// A replace may commit without data rows.
    pub allow_empty: bool,
}

/// The ingestion service's operations.
#[derive(Clone)]
pub struct Ingestion {
    pub(crate) pool: PgPool,
    copy_pool: PgPool,
    auth: Arc<Authenticator>,
    catalog: Channel,
    pub(crate) settings: IngestionSettings,
}

impl Ingestion {
    /// Ingestion over its pool (and a separate pool whose size bounds concurrent loads),
    /// authenticating with governance and reading datasets from the catalog.
    pub fn new(
        pool: PgPool,
        copy_pool: PgPool,
        auth: Arc<Authenticator>,
        catalog: Channel,
        settings: IngestionSettings,
    ) -> Self {
        Ingestion {
            pool,
            copy_pool,
            auth,
            catalog,
            settings,
        }
    }

    /// The caller of a request; every ingestion call needs an API key (app tokens have no rights).
    pub async fn caller(&self, metadata: &MetadataMap) -> Result<Caller, IngestionError> {
        let principal = self.auth.require(metadata).await?;
        let key = opendata_platform::grpc::bearer_key(metadata)
            .unwrap_or_default()
            .to_owned();
        Ok(Caller { principal, key })
    }

    /// Opens an upload.
    pub async fn create_upload(
        &self,
        caller: &Caller,
        request: NewUpload,
    ) -> Result<Upload, IngestionError> {
        let dataset_id = parse_dataset_id(&request.dataset_id)?;
        let mode = request.mode.ok_or_else(|| {
            IngestionError::invalid("mode", "mode is required: replace, append or upsert")
        })?;
        let data_as_of = match &request.data_as_of {
            None => None,
            Some(timestamp) => {
                let time = from_proto(timestamp)
                    .filter(|t| t.year() >= 1900 && *t <= Utc::now() + Duration::minutes(5))
                    .ok_or_else(|| {
                        IngestionError::invalid(
                            "data_as_of",
                            "data_as_of must be a time since 1900 and not in the future",
                        )
                    })?;
                Some(time)
            }
        };
        if !(0.0..=1.0).contains(&request.max_rejected_fraction) {
            return Err(IngestionError::invalid(
                "max_rejected_fraction",
                "max_rejected_fraction must be between 0 and 1",
            ));
        }
        let dataset = self.dataset(caller, &dataset_id).await?;
        caller
            .principal
            .authorize(Action::WriteDatasets, Some(&dataset.agency_id))?;

        let declared = match &dataset.schema {
            Some(schema) => schema_from_proto(schema)
                .map_err(|e| IngestionError::invalid("schema", e.message))?,
            None => Schema::default(),
        };
        let mut tx = self.pool.begin().await?;
        let latest = store::latest_version(&mut tx, dataset_id.as_str()).await?;
        let given = request
            .schema
            .as_ref()
            .map(|schema| {
                schema_from_proto(schema)
                    .and_then(Schema::normalized)
                    .map_err(IngestionError::schema)
            })
            .transpose()?;
        let (schema, new_schema) =
            choose_schema(mode, given, request.infer_schema, latest.schema, declared)?;
        let id = Uuid::now_v7();
        let upload = Upload {
            id,
            dataset_id: dataset_id.to_string(),
            agency_id: dataset.agency_id,
            mode,
            state: UploadState::Created,
            max_rejected_fraction: request.max_rejected_fraction,
            infer_schema: request.infer_schema,
            schema,
            inferred_schema: None,
            file_columns: Vec::new(),
            base_version: latest.version,
            version: None,
            working_table: working_table(id),
            rows_received: 0,
            rows_loaded: 0,
            rows_rejected: 0,
            bytes_received: 0,
            load_millis: 0,
            index_millis: 0,
            error: String::new(),
            created_by: caller.principal.id.clone(),
            created_at: Utc::now(),
            committed_at: None,
            new_schema,
            data_as_of,
            allow_empty: request.allow_empty,
            changes: RowChanges::default(),
        };
        if let Some(schema) = upload.loading_schema() {
            store::create_working_table(&mut tx, &upload, &schema).await?;
        }
        store::insert_upload(&mut *tx, &upload).await?;
        tx.commit().await?;
        tracing::info!(upload_id = %id, dataset_id = %upload.dataset_id, mode = mode.as_str(), "upload created");
        Ok(upload)
    }

    /// The dataset as the catalog shows it to the caller (not found when the caller may not
    /// see it).
    pub(crate) async fn dataset(
        &self,
        caller: &Caller,
        dataset_id: &DatasetId,
    ) -> Result<Dataset, IngestionError> {
        let mut catalog = CatalogServiceClient::with_interceptor(
            self.catalog.clone(),
            ClientContext::with_key(&caller.key)?,
        );
        Ok(catalog
            .get_dataset(GetDatasetRequest {
                id: dataset_id.to_string(),
            })
            .await
            .map_err(|status| IngestionError::Api(ApiError::from_status(&status)))?
            .into_inner())
    }

    /// An upload the caller may act on (its agency's, or any for the CDO, the panel and admins).
    pub async fn get(&self, caller: &Caller, upload_id: &str) -> Result<Upload, IngestionError> {
        let id = parse_upload_id(upload_id)?;
        match store::fetch_upload(&self.pool, id, false).await? {
            Some(upload)
                if caller
                    .principal
                    .may(Action::ReadPrivateDatasets, Some(&upload.agency_id)) =>
            {
                Ok(upload)
            }
            _ => Err(IngestionError::UploadNotFound(upload_id.to_owned())),
        }
    }

    /// Receives the file of an upload and loads it (or stages it for inference).
    pub async fn receive<S>(
        &self,
        caller: &Caller,
        upload_id: &str,
        mut chunks: S,
    ) -> Result<Upload, IngestionError>
    where
        S: Stream<Item = Result<Bytes, ApiError>> + Unpin + Send,
    {
        let upload = self.get(caller, upload_id).await?;
        caller
            .principal
            .authorize(Action::WriteDatasets, Some(&upload.agency_id))?;
        if !store::transition(
            &self.pool,
            upload.id,
            UploadState::Created,
            UploadState::Receiving,
        )
        .await?
        {
            let current = store::fetch_upload(&self.pool, upload.id, false)
                .await?
                .map_or(upload.state, |u| u.state);
            return Err(IngestionError::WrongState {
                state: current,
                action: "sending the file",
                expected: "created (one file per upload)",
            });
        }
        let policy = match upload.loading_schema() {
            Some(schema) => HeaderPolicy::Match {
                require_row_identifier: schema.row_identifier.is_some(),
                schema,
            },
            None => HeaderPolicy::Infer,
        };
        let mut loader = self.loader(&upload, policy);
        let fed = async {
            while let Some(chunk) = chunks.next().await {
                let chunk = chunk.map_err(|error| {
                    IngestionError::Api(ApiError::new(
                        error.code,
                        format!("the upload stream was interrupted: {}", error.message),
                    ))
                })?;
                loader.feed(&chunk).await?;
            }
            Ok::<(), IngestionError>(())
        }
        .await;
        if let Err(error) = fed {
            return Err(self.fail(&upload, Some(loader), error).await);
        }
        let outcome = match loader.finish().await {
            Ok(outcome) => outcome,
            Err(error) => return Err(self.fail(&upload, None, error).await),
        };
        let state = if outcome.inferred.is_some() {
            UploadState::AwaitingSchema
        } else {
            UploadState::Loaded
        };
        store::finish_load(
            &self.pool,
            upload.id,
            outcome.progress,
            &outcome.file_columns,
            None,
            outcome.inferred.as_ref(),
            state,
        )
        .await?;
        tracing::info!(
            upload_id = %upload.id,
            rows_loaded = outcome.progress.rows_loaded,
            rows_rejected = outcome.progress.rows_rejected,
            millis = outcome.progress.load_millis,
            "upload received"
        );
        self.reload(upload.id).await
    }

    /// Loads the staged file of an inferred upload with the accepted schema.
    pub async fn accept_schema(
        &self,
        caller: &Caller,
        upload_id: &str,
        schema: &opendata_proto::common::v1::Schema,
    ) -> Result<Upload, IngestionError> {
        let upload = self.get(caller, upload_id).await?;
        caller
            .principal
            .authorize(Action::WriteDatasets, Some(&upload.agency_id))?;
        if upload.state != UploadState::AwaitingSchema {
            return Err(IngestionError::WrongState {
                state: upload.state,
                action: "accepting a schema",
                expected: "awaiting_schema",
            });
        }
        let schema = schema_from_proto(schema)
            .and_then(Schema::normalized)
            .map_err(IngestionError::schema)?;
        let mut tx = self.pool.begin().await?;
        if !store::transition(
            &mut *tx,
            upload.id,
            UploadState::AwaitingSchema,
            UploadState::Receiving,
        )
        .await?
        {
            return Err(IngestionError::WrongState {
                state: upload.state,
                action: "accepting a schema",
                expected: "awaiting_schema",
            });
        }
        store::create_working_table(&mut tx, &upload, &schema).await?;
        tx.commit().await?;

        let mut loader = self.loader(
            &upload,
            HeaderPolicy::Positional {
                schema: schema.clone(),
            },
        );
        let mut seq = 0;
        let replayed = async {
            while let Some((next, data)) = store::next_chunk(&self.pool, upload.id, seq).await? {
                seq = next;
                loader.feed(&data).await?;
            }
            Ok::<(), IngestionError>(())
        }
        .await;
        if let Err(error) = replayed {
            return Err(self.fail(&upload, Some(loader), error).await);
        }
        let outcome = match loader.finish().await {
            Ok(outcome) => outcome,
            Err(error) => return Err(self.fail(&upload, None, error).await),
        };
        store::finish_load(
            &self.pool,
            upload.id,
            outcome.progress,
            &outcome.file_columns,
            Some(&schema),
            None,
            UploadState::Loaded,
        )
        .await?;
        store::delete_chunks(&self.pool, upload.id).await?;
        self.reload(upload.id).await
    }

    /// Commits a loaded upload as the dataset's next version.
    pub async fn commit(&self, caller: &Caller, upload_id: &str) -> Result<Upload, IngestionError> {
        let id = parse_upload_id(upload_id)?;
        let mut tx = self.pool.begin().await?;
        let upload = match store::fetch_upload(&mut *tx, id, true).await? {
            Some(upload)
                if caller
                    .principal
                    .may(Action::ReadPrivateDatasets, Some(&upload.agency_id)) =>
            {
                upload
            }
            _ => return Err(IngestionError::UploadNotFound(upload_id.to_owned())),
        };
        caller
            .principal
            .authorize(Action::WriteDatasets, Some(&upload.agency_id))?;
        if upload.state != UploadState::Loaded {
            return Err(IngestionError::WrongState {
                state: upload.state,
                action: "committing",
                expected: "loaded",
            });
        }
        if upload.rejected_fraction() > upload.max_rejected_fraction {
            let error = IngestionError::TooManyRejected {
                rejected: upload.rows_rejected as u64,
                received: upload.rows_received as u64,
                share: upload.rejected_fraction() * 100.0,
                allowed: upload.max_rejected_fraction * 100.0,
            };
            drop(tx);
            return Err(self.fail(&upload, None, error).await);
        }
        // No rows to put in place of the dataset's: a header-only file, or one whose every row
        // was rejected under a generous threshold.
        if upload.mode == UploadMode::Replace && upload.rows_loaded == 0 && !upload.allow_empty {
            drop(tx);
            return Err(self
                .fail(&upload, None, IngestionError::EmptyReplacement)
                .await);
        }
        let Some(schema) = upload.schema.clone() else {
            return Err(IngestionError::WrongState {
                state: upload.state,
                action: "committing",
                expected: "loaded with a schema",
            });
        };
        store::lock_versions(&mut tx, &upload.dataset_id).await?;
        let latest = store::latest_version(&mut tx, &upload.dataset_id).await?;
        let current = latest.version;
        if current != upload.base_version {
            drop(tx);
            let error = IngestionError::VersionConflict {
                base: upload.base_version,
                current,
            };
            return Err(self.fail(&upload, None, error).await);
        }
        let version = current + 1;
        let base = latest.table.as_deref().map(|table| Base {
            table,
            generation: latest.generation.as_deref(),
            row_count: latest.row_count,
        });
        let built = match build_version(&mut tx, &upload, &schema, version, base).await {
            Ok(built) => built,
            Err(error) => {
                drop(tx);
                return Err(self.fail(&upload, None, error).await);
            }
        };
        let committed_at = Utc::now();
        store::record_version(
            &mut tx,
            &store::NewVersion {
                dataset_id: &upload.dataset_id,
                version,
                table: &built.table,
                generation: &built.generation,
                upload_id: upload.id,
                row_count: built.row_count,
                committed_at,
                schema: &schema,
            },
        )
        .await?;
        store::mark_committed(
            &mut tx,
            upload.id,
            version,
            committed_at,
            built.index_millis as i64,
            built.changes,
        )
        .await?;
        emit_version_committed(
            &mut tx,
            &Committed {
                upload: &upload,
                schema: &schema,
                version,
                table: &built.table,
                generation: &built.generation,
                row_count: built.row_count,
                changes: built.changes,
                committed_at,
                committed_by: &caller.principal,
            },
        )
        .await?;
        tx.commit().await?;
        let metrics = opendata_platform::metrics::metrics();
        metrics
            .rows_ingested
            .inc_by(u64::try_from(upload.rows_loaded).unwrap_or(0));
        metrics
            .rows_rejected
            .inc_by(u64::try_from(upload.rows_rejected).unwrap_or(0));
        tracing::info!(upload_id = %upload.id, dataset_id = %upload.dataset_id, version, rows = built.row_count, "version committed");
        self.reload(upload.id).await
    }

    /// Abandons an open upload.
    pub async fn abandon(
        &self,
        caller: &Caller,
        upload_id: &str,
    ) -> Result<Upload, IngestionError> {
        let upload = self.get(caller, upload_id).await?;
        caller
            .principal
            .authorize(Action::WriteDatasets, Some(&upload.agency_id))?;
        if !upload.state.is_open() {
            return Err(IngestionError::WrongState {
                state: upload.state,
                action: "abandoning",
                expected: "created, receiving, awaiting_schema or loaded",
            });
        }
        store::close_upload(
            &self.pool,
            upload.id,
            UploadState::Abandoned,
            "abandoned by the caller",
        )
        .await?;
        drop_working_table(&self.pool, upload.id, &upload.working_table).await?;
        self.reload(upload.id).await
    }

    /// Rejected rows after `after_line`.
    pub async fn rejections(
        &self,
        caller: &Caller,
        upload_id: &str,
        after_line: u64,
        page_size: u32,
    ) -> Result<Vec<Rejection>, IngestionError> {
        let upload = self.get(caller, upload_id).await?;
        let limit = match page_size {
            0 => 100,
            size => size.min(MAX_REJECTIONS_PAGE),
        };
        Ok(store::rejections(&self.pool, upload.id, after_line, i64::from(limit)).await?)
    }

    fn loader(&self, upload: &Upload, policy: HeaderPolicy) -> Loader {
        Loader::new(
            self.pool.clone(),
            self.copy_pool.clone(),
            upload.id,
            upload.working_table.clone(),
            policy,
            self.settings.max_stored_rejections,
            self.settings.copy_buffer_bytes,
        )
    }

    async fn reload(&self, id: Uuid) -> Result<Upload, IngestionError> {
        store::fetch_upload(&self.pool, id, false)
            .await?
            .ok_or_else(|| IngestionError::UploadNotFound(id.to_string()))
    }

    /// Closes an upload as failed with the error's message, drops what it loaded, and returns the
    /// error for the caller.
    async fn fail(
        &self,
        upload: &Upload,
        loader: Option<Loader>,
        error: IngestionError,
    ) -> IngestionError {
        // What the file said may be in the message: PostgreSQL cannot store a NUL, and a log line
        // must not be forged with line breaks or terminal codes.
        let message = error.to_string().replace('\0', "\u{fffd}");
        if let Some(mut loader) = loader {
            loader.abort(&message).await;
        }
        let cleaned = async {
            store::close_upload(&self.pool, upload.id, UploadState::Failed, &message).await?;
            drop_working_table(&self.pool, upload.id, &upload.working_table).await
        }
        .await;
        if let Err(cleanup) = cleaned {
            tracing::warn!(upload_id = %upload.id, error = %cleanup, "could not close the failed upload; the janitor will");
        }
        tracing::info!(upload_id = %upload.id, reason = %message.escape_debug(), "upload failed");
        error
    }
}

/// The schema an upload loads with, and whether it is new (given or inferred): a given schema
/// (replace only), inference (replace only, `None` until accepted), or else the schema of the
/// latest committed version, or the dataset's declared schema before the first version.
fn choose_schema(
    mode: UploadMode,
    given: Option<Schema>,
    infer: bool,
    latest: Option<Schema>,
    declared: Schema,
) -> Result<(Option<Schema>, bool), IngestionError> {
    let (schema, new_schema) = match (given, infer) {
        (Some(_), true) => {
            return Err(IngestionError::invalid(
                "infer_schema",
                "give a schema or ask for inference, not both",
            ));
        }
        (Some(_), false) if mode != UploadMode::Replace => {
            return Err(IngestionError::invalid(
                "schema",
                "a new schema comes only with a replace upload",
            ));
        }
        (None, true) if mode != UploadMode::Replace => {
            return Err(IngestionError::invalid(
                "infer_schema",
                "schema inference comes only with a replace upload",
            ));
        }
        (Some(schema), false) => (Some(schema), true),
        (None, true) => (None, true),
        (None, false) => match latest.or((!declared.is_empty()).then_some(declared)) {
            Some(schema) => (Some(schema), false),
            None => {
                return Err(IngestionError::invalid(
                    "schema",
                    "the dataset has no schema yet: send one with the upload or ask for inference (infer_schema)",
                ));
            }
        },
    };
    if mode == UploadMode::Upsert
        && schema
            .as_ref()
            .and_then(|s| s.row_identifier.as_ref())
            .is_none()
    {
        return Err(IngestionError::invalid(
            "mode",
            "an upsert needs a row identifier column in the dataset's schema",
        ));
    }
    Ok((schema, new_schema))
}

/// A dataset id as a request gives it, or the error naming `dataset_id`.
pub(crate) fn parse_dataset_id(dataset_id: &str) -> Result<DatasetId, IngestionError> {
    DatasetId::parse(dataset_id.trim()).ok_or_else(|| {
        IngestionError::invalid(
            "dataset_id",
            format!("`{dataset_id}` is not a dataset id like abcd-1234"),
        )
    })
}

fn parse_upload_id(upload_id: &str) -> Result<Uuid, IngestionError> {
    Uuid::parse_str(upload_id.trim()).map_err(|_| {
        IngestionError::invalid("upload_id", format!("`{upload_id}` is not an upload id"))
    })
}

#[cfg(test)]
mod tests {
    use opendata_datastore::schema::{Column, ColumnType, Schema};

    use super::{UploadMode, choose_schema, parse_upload_id};
    use crate::error::IngestionError;

    fn schema(title: &str, row_identifier: Option<&str>) -> Schema {
        Schema {
            columns: vec![Column::new(title, title, ColumnType::Text)],
            row_identifier: row_identifier.map(str::to_owned),
        }
    }

    fn refused_field(chosen: Result<(Option<Schema>, bool), IngestionError>) -> String {
        match chosen {
            Err(IngestionError::Invalid { field, .. }) => field,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn the_schema_an_upload_loads_with() {
        let (given, latest, declared) = (
            schema("given", None),
            schema("latest", None),
            schema("declared", None),
        );
        let chosen = |mode, given: Option<&Schema>, infer, latest: Option<&Schema>| {
            choose_schema(
                mode,
                given.cloned(),
                infer,
                latest.cloned(),
                declared.clone(),
            )
        };
        // A given schema is new, and only a replace may bring one.
        let (loaded, new) =
            chosen(UploadMode::Replace, Some(&given), false, Some(&latest)).unwrap();
        assert_eq!((loaded, new), (Some(given.clone()), true));
        // Inference: no schema until it is accepted.
        assert_eq!(
            chosen(UploadMode::Replace, None, true, None).unwrap(),
            (None, true)
        );
        // Otherwise the latest version's, else the declared one, neither new.
        assert_eq!(
            chosen(UploadMode::Append, None, false, Some(&latest)).unwrap(),
            (Some(latest.clone()), false)
        );
        assert_eq!(
            chosen(UploadMode::Replace, None, false, None).unwrap(),
            (Some(declared.clone()), false)
        );
    }

    #[test]
    fn impossible_schema_choices_name_the_field() {
        let some = schema("town", None);
        let refused = |mode, given: Option<Schema>, infer, declared: Schema| {
            refused_field(choose_schema(mode, given, infer, None, declared))
        };
        assert_eq!(
            refused(UploadMode::Replace, Some(some.clone()), true, some.clone()),
            "infer_schema"
        );
        assert_eq!(
            refused(UploadMode::Append, Some(some.clone()), false, some.clone()),
            "schema"
        );
        assert_eq!(
            refused(UploadMode::Upsert, None, true, some.clone()),
            "infer_schema"
        );
        let empty = Schema {
            columns: Vec::new(),
            row_identifier: None,
        };
        assert_eq!(refused(UploadMode::Replace, None, false, empty), "schema");
        // An upsert matches rows on the row identifier: without one there is nothing to match.
        assert_eq!(refused(UploadMode::Upsert, None, false, some), "mode");
        let keyed = schema("id", Some("id"));
        assert!(choose_schema(UploadMode::Upsert, None, false, None, keyed).is_ok());
    }

    #[test]
    fn upload_ids_are_uuids() {
        let id = "9b2f6a9e-3c1d-4b7a-9f0e-2d6c8a1b5e4f";
        assert_eq!(parse_upload_id(&format!(" {id} ")).unwrap().to_string(), id);
        match parse_upload_id("upload-1") {
            Err(IngestionError::Invalid { field, message, .. }) => {
                assert_eq!(field, "upload_id");
                assert!(message.contains("upload-1"), "{message}");
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
    }
}
