//! The gRPC adapters of `FreshnessService` and `AuditService`.

use std::pin::Pin;

use futures::Stream;
use opendata_platform::error::ApiError;
use opendata_platform::timestamp::to_proto;
use opendata_proto::governance::v1 as pb;
use opendata_proto::governance::v1::audit_service_server::AuditService;
use opendata_proto::governance::v1::freshness_service_server::FreshnessService;
use tokio_stream::StreamExt as _;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::audit::Audit;
use crate::convert;
use crate::identity::Identity;
use crate::review::Review;

/// Bytes per exported chunk.
const EXPORT_CHUNK_BYTES: usize = 64 * 1024;

/// Serves `FreshnessService`.
#[derive(Clone)]
pub struct FreshnessApi {
    identity: Identity,
    review: Review,
}

impl FreshnessApi {
    /// The adapter.
    pub fn new(identity: Identity, review: Review) -> Self {
        FreshnessApi { identity, review }
    }
}

#[tonic::async_trait]
impl FreshnessService for FreshnessApi {
    async fn list_stale(
        &self,
        request: Request<pb::ListStaleRequest>,
    ) -> Result<Response<pb::ListStaleResponse>, Status> {
        let principal = super::authenticated(&self.identity, &request)
            .await?
            .principal;
        let agency = request.into_inner().agency_id;
        let stale = self.review.stale(&principal, Some(agency.as_str())).await?;
        Ok(Response::new(pb::ListStaleResponse {
            datasets: stale.iter().map(convert::freshness).collect(),
        }))
    }

    async fn get_freshness(
        &self,
        request: Request<pb::GetFreshnessRequest>,
    ) -> Result<Response<pb::Freshness>, Status> {
        let principal = super::authenticated(&self.identity, &request)
            .await?
            .principal;
        let freshness = self
            .review
            .freshness_of(&principal, &request.into_inner().dataset_id)
            .await?;
        Ok(Response::new(convert::freshness(&freshness)))
    }
}

/// Serves `AuditService`.
#[derive(Clone)]
pub struct AuditApi {
    identity: Identity,
    audit: Audit,
}

impl AuditApi {
    /// The adapter.
    pub fn new(identity: Identity, audit: Audit) -> Self {
        AuditApi { identity, audit }
    }
}

#[tonic::async_trait]
impl AuditService for AuditApi {
    async fn list_audit_entries(
        &self,
        request: Request<pb::ListAuditEntriesRequest>,
    ) -> Result<Response<pb::ListAuditEntriesResponse>, Status> {
        let principal = super::authenticated(&self.identity, &request)
            .await?
            .principal;
        let body = request.into_inner();
        let entries = self
            .audit
            .list(
                &principal,
                Some(body.subject.as_str()),
                body.page_size,
                Some(body.before_id),
            )
            .await?;
        Ok(Response::new(pb::ListAuditEntriesResponse {
            entries: entries
                .into_iter()
                .map(|entry| pb::AuditEntry {
                    id: entry.id,
                    actor_id: entry.actor_id,
                    action: entry.action,
                    subject: entry.subject,
                    reason: entry.reason,
                    details_json: entry.details.0.to_string(),
                    at: Some(to_proto(entry.at)),
                })
                .collect(),
        }))
    }

    type ExportAuditLogStream = Pin<Box<dyn Stream<Item = Result<pb::ExportChunk, Status>> + Send>>;

    async fn export_audit_log(
        &self,
        request: Request<pb::ExportAuditLogRequest>,
    ) -> Result<Response<Self::ExportAuditLogStream>, Status> {
        let principal = super::authenticated(&self.identity, &request)
            .await?
            .principal;
        // Refuse before streaming, so the caller gets a status rather than an empty file.
        self.audit.list(&principal, None, 1, None).await?;
        let (sender, receiver) = tokio::sync::mpsc::channel(4);
        let audit = self.audit.clone();
        tokio::spawn(async move {
            let failure = sender.clone();
            if let Err(error) = audit.export(&principal, EXPORT_CHUNK_BYTES, sender).await {
                let _ = failure.send(Err(error)).await;
            }
        });
        let stream = ReceiverStream::new(receiver).map(|chunk| match chunk {
            Ok(data) => Ok(pb::ExportChunk { data: data.into() }),
            Err(error) => Err(ApiError::from(error).into()),
        });
        Ok(Response::new(Box::pin(stream)))
    }
}
