//! The gRPC adapter of `IngestionService`.

use opendata_datastore::convert::schema_to_proto;
use opendata_platform::error::{ApiError, ErrorCode};
use opendata_platform::timestamp::{to_proto, to_proto_opt};
use opendata_proto::ingestion::v1 as pb;
use opendata_proto::ingestion::v1::ingestion_service_server::IngestionService;
use tokio_stream::StreamExt as _;
use tonic::{Request, Response, Status, Streaming};

use crate::model::{Upload, UploadMode, UploadState};
use crate::retention::{Retention, RetentionChange};
use crate::service::{Ingestion, NewUpload};

/// Serves `IngestionService`.
#[derive(Clone)]
pub struct IngestionApi {
    ingestion: Ingestion,
}

impl IngestionApi {
    /// The adapter.
    pub fn new(ingestion: Ingestion) -> Self {
        IngestionApi { ingestion }
    }
}

fn reply(upload: &Upload) -> Response<pb::Upload> {
    Response::new(upload_to_proto(upload))
}

fn upload_to_proto(upload: &Upload) -> pb::Upload {
    let mode = match upload.mode {
        UploadMode::Replace => pb::UploadMode::Replace,
        UploadMode::Append => pb::UploadMode::Append,
        UploadMode::Upsert => pb::UploadMode::Upsert,
    };
    let state = match upload.state {
        UploadState::Created => pb::UploadState::Created,
        UploadState::Receiving => pb::UploadState::Receiving,
        UploadState::AwaitingSchema => pb::UploadState::AwaitingSchema,
        UploadState::Loaded => pb::UploadState::Loaded,
        UploadState::Committed => pb::UploadState::Committed,
        UploadState::Failed => pb::UploadState::Failed,
        UploadState::Abandoned => pb::UploadState::Abandoned,
    };
    pb::Upload {
        id: upload.id.to_string(),
        dataset_id: upload.dataset_id.clone(),
        mode: mode as i32,
        state: state as i32,
        max_rejected_fraction: upload.max_rejected_fraction,
        rows_received: upload.rows_received as u64,
        rows_loaded: upload.rows_loaded as u64,
        rows_rejected: upload.rows_rejected as u64,
        version: upload.version.unwrap_or_default(),
        inferred_schema: upload.inferred_schema.as_ref().map(schema_to_proto),
        error: upload.error.clone(),
        created_at: Some(to_proto(upload.created_at)),
        committed_at: to_proto_opt(upload.committed_at),
        bytes_received: upload.bytes_received as u64,
        load_millis: upload.load_millis as u64,
        index_millis: upload.index_millis as u64,
        created_by: upload.created_by.clone(),
        data_as_of: to_proto_opt(upload.data_as_of),
        rows_created: upload.changes.created as u64,
        rows_updated: upload.changes.updated as u64,
        rows_deleted: upload.changes.deleted as u64,
    }
}

fn retention_to_proto(retention: Retention) -> pb::Retention {
    let (set_by, set_at) = retention.set.unzip();
    pb::Retention {
        dataset_id: retention.dataset_id,
        keep_days: retention.policy.keep_days as u32,
        keep_versions: retention.policy.keep_versions as u32,
        is_default: set_by.is_none(),
        set_by: set_by.unwrap_or_default(),
        set_at: to_proto_opt(set_at),
    }
}

#[tonic::async_trait]
impl IngestionService for IngestionApi {
    async fn create_upload(
        &self,
        request: Request<pb::CreateUploadRequest>,
    ) -> Result<Response<pb::Upload>, Status> {
        let caller = self.ingestion.caller(request.metadata()).await?;
        let body = request.into_inner();
        let mode = match body.mode() {
            pb::UploadMode::Replace => Some(UploadMode::Replace),
            pb::UploadMode::Append => Some(UploadMode::Append),
            pb::UploadMode::Upsert => Some(UploadMode::Upsert),
            pb::UploadMode::Unspecified => None,
        };
        let upload = self
            .ingestion
            .create_upload(
                &caller,
                NewUpload {
                    dataset_id: body.dataset_id,
                    mode,
                    max_rejected_fraction: body.max_rejected_fraction,
                    infer_schema: body.infer_schema,
                    schema: body.schema.filter(|schema| !schema.columns.is_empty()),
                    data_as_of: body.data_as_of,
                    allow_empty: body.allow_empty,
                },
            )
            .await?;
        Ok(reply(&upload))
    }

    async fn upload_chunks(
        &self,
        request: Request<Streaming<pb::UploadChunk>>,
    ) -> Result<Response<pb::Upload>, Status> {
        let caller = self.ingestion.caller(request.metadata()).await?;
        let mut stream = request.into_inner();
        let first = stream.message().await?.ok_or_else(|| {
            ApiError::invalid_field(
                "upload_id",
                "the stream is empty: send the upload id and the file",
            )
        })?;
        let upload_id = first.upload_id.clone();
        if upload_id.is_empty() {
            return Err(ApiError::invalid_field(
                "upload_id",
                "the first chunk must name the upload",
            )
            .into());
        }
        let expected = upload_id.clone();
        let rest = stream.map(move |chunk| match chunk {
            Ok(chunk) if chunk.upload_id.is_empty() || chunk.upload_id == expected => {
                Ok(chunk.data)
            }
            Ok(chunk) => Err(ApiError::invalid_field(
                "upload_id",
                format!(
                    "a chunk names upload {} in a stream for {expected}",
                    chunk.upload_id
                ),
            )),
            Err(status) => Err(ApiError::new(
                ErrorCode::from_grpc_code(status.code()),
                status.message().to_owned(),
            )),
        });
        let chunks = tokio_stream::once(Ok(first.data)).chain(rest);
        let upload = self
            .ingestion
            .receive(&caller, &upload_id, Box::pin(chunks))
            .await?;
        Ok(reply(&upload))
    }

    async fn accept_schema(
        &self,
        request: Request<pb::AcceptSchemaRequest>,
    ) -> Result<Response<pb::Upload>, Status> {
        let caller = self.ingestion.caller(request.metadata()).await?;
        let body = request.into_inner();
        let schema = body
            .schema
            .ok_or_else(|| ApiError::invalid_field("schema", "the schema to accept is required"))?;
        let upload = self
            .ingestion
            .accept_schema(&caller, &body.upload_id, &schema)
            .await?;
        Ok(reply(&upload))
    }

    async fn commit_upload(
        &self,
        request: Request<pb::CommitUploadRequest>,
    ) -> Result<Response<pb::Upload>, Status> {
        let caller = self.ingestion.caller(request.metadata()).await?;
        let upload = self
            .ingestion
            .commit(&caller, &request.into_inner().upload_id)
            .await?;
        Ok(reply(&upload))
    }

    async fn abandon_upload(
        &self,
        request: Request<pb::AbandonUploadRequest>,
    ) -> Result<Response<pb::Upload>, Status> {
        let caller = self.ingestion.caller(request.metadata()).await?;
        let upload = self
            .ingestion
            .abandon(&caller, &request.into_inner().upload_id)
            .await?;
        Ok(reply(&upload))
    }

    async fn get_upload(
        &self,
        request: Request<pb::GetUploadRequest>,
    ) -> Result<Response<pb::Upload>, Status> {
        let caller = self.ingestion.caller(request.metadata()).await?;
        let upload = self
            .ingestion
            .get(&caller, &request.into_inner().upload_id)
            .await?;
        Ok(reply(&upload))
    }

    async fn list_rejections(
        &self,
        request: Request<pb::ListRejectionsRequest>,
    ) -> Result<Response<pb::ListRejectionsResponse>, Status> {
        let caller = self.ingestion.caller(request.metadata()).await?;
        let body = request.into_inner();
        let rejections = self
            .ingestion
            .rejections(&caller, &body.upload_id, body.after_line, body.page_size)
            .await?;
        Ok(Response::new(pb::ListRejectionsResponse {
            rejections: rejections
                .into_iter()
                .map(|r| pb::Rejection {
                    line: r.line,
                    column: r.column,
                    value: r.value,
                    reason: r.reason,
                })
                .collect(),
        }))
    }

    async fn get_retention(
        &self,
        request: Request<pb::GetRetentionRequest>,
    ) -> Result<Response<pb::Retention>, Status> {
        let caller = self.ingestion.caller(request.metadata()).await?;
        let retention = self
            .ingestion
            .retention(&caller, &request.into_inner().dataset_id)
            .await?;
        Ok(Response::new(retention_to_proto(retention)))
    }

    async fn set_retention(
        &self,
        request: Request<pb::SetRetentionRequest>,
    ) -> Result<Response<pb::Retention>, Status> {
        let caller = self.ingestion.caller(request.metadata()).await?;
        let body = request.into_inner();
        let change = if body.use_default {
            RetentionChange::Default
        } else {
            RetentionChange::Own {
                keep_days: body.keep_days,
                keep_versions: body.keep_versions,
            }
        };
        let retention = self
            .ingestion
            .set_retention(&caller, &body.dataset_id, change)
            .await?;
        Ok(Response::new(retention_to_proto(retention)))
    }

    async fn purge_version(
        &self,
        request: Request<pb::PurgeVersionRequest>,
    ) -> Result<Response<pb::PurgeVersionResponse>, Status> {
        let caller = self.ingestion.caller(request.metadata()).await?;
        let body = request.into_inner();
        let purged = self
            .ingestion
            .purge(&caller, &body.dataset_id, body.version, &body.reason)
            .await?;
        Ok(Response::new(pb::PurgeVersionResponse {
            dataset_id: purged.dataset_id,
            version: purged.version,
            rejections_deleted: purged.rejections_deleted,
            purged_at: Some(to_proto(purged.purged_at)),
        }))
    }
}
