//! The gRPC adapter of `ReviewService`.

use opendata_limits::FILTER_VALUES;
use opendata_platform::error::ApiError;
use opendata_platform::text::check_count;
use opendata_proto::common::v1::AccessLevel;
use opendata_proto::governance::v1 as pb;
use opendata_proto::governance::v1::review_service_server::ReviewService;
use tonic::{Request, Response, Status};

use crate::identity::Identity;
use crate::review::state::{Ground, ReviewState, Step};
use crate::review::{RecordView, Review};

/// Serves `ReviewService`.
#[derive(Clone)]
pub struct ReviewApi {
    identity: Identity,
    review: Review,
}

impl ReviewApi {
    /// The adapter.
    pub fn new(identity: Identity, review: Review) -> Self {
        ReviewApi { identity, review }
    }

    fn reply(&self, view: RecordView) -> Response<pb::InventoryRecord> {
        Response::new(self.review.to_proto(&view))
    }

    async fn simple(
        &self,
        request: Request<pb::TransitionRequest>,
        step: Step,
    ) -> Result<Response<pb::InventoryRecord>, Status> {
        let who = super::authenticated(&self.identity, &request).await?;
        let body = request.into_inner();
        let caller = who.caller();
        let view = self
            .review
            .simple_step(&caller, step, &body.dataset_id, &body.reason)
            .await
            .map_err(ApiError::from)?;
        Ok(self.reply(view))
    }
}

#[tonic::async_trait]
impl ReviewService for ReviewApi {
    async fn nominate(
        &self,
        request: Request<pb::NominateRequest>,
    ) -> Result<Response<pb::InventoryRecord>, Status> {
        let who = super::authenticated(&self.identity, &request).await?;
        let body = request.into_inner();
        let caller = who.caller();
        let view = self
            .review
            .nominate(
                &caller,
                &body.dataset_id,
                &body.justification,
                &body.accrual_periodicity,
            )
            .await?;
        Ok(self.reply(view))
    }

    async fn start_review(
        &self,
        request: Request<pb::TransitionRequest>,
    ) -> Result<Response<pb::InventoryRecord>, Status> {
        self.simple(request, Step::StartReview).await
    }

    async fn approve(
        &self,
        request: Request<pb::TransitionRequest>,
    ) -> Result<Response<pb::InventoryRecord>, Status> {
        self.simple(request, Step::Approve).await
    }

    async fn publish(
        &self,
        request: Request<pb::TransitionRequest>,
    ) -> Result<Response<pb::InventoryRecord>, Status> {
        self.simple(request, Step::Publish).await
    }

    async fn withhold(
        &self,
        request: Request<pb::WithholdRequest>,
    ) -> Result<Response<pb::InventoryRecord>, Status> {
        let who = super::authenticated(&self.identity, &request).await?;
        let body = request.into_inner();
        let caller = who.caller();
        let access_level = AccessLevel::try_from(body.access_level).unwrap_or_default();
        let view = self
            .review
            .withhold(
                &caller,
                &body.dataset_id,
                Ground::from_proto(body.ground()),
                &body.explanation,
                access_level,
            )
            .await?;
        Ok(self.reply(view))
    }

    async fn reopen(
        &self,
        request: Request<pb::TransitionRequest>,
    ) -> Result<Response<pb::InventoryRecord>, Status> {
        self.simple(request, Step::Reopen).await
    }

    async fn retire(
        &self,
        request: Request<pb::RetireRequest>,
    ) -> Result<Response<pb::InventoryRecord>, Status> {
        let who = super::authenticated(&self.identity, &request).await?;
        let body = request.into_inner();
        let caller = who.caller();
        let view = self
            .review
            .retire(
                &caller,
                &body.dataset_id,
                &body.reason,
                &body.successor_dataset_id,
            )
            .await?;
        Ok(self.reply(view))
    }

    async fn get_inventory_record(
        &self,
        request: Request<pb::GetInventoryRecordRequest>,
    ) -> Result<Response<pb::InventoryRecord>, Status> {
        let principal = super::authenticated(&self.identity, &request)
            .await?
            .principal;
        let view = self
            .review
            .get(&principal, &request.into_inner().dataset_id)
            .await?;
        Ok(self.reply(view))
    }

    async fn list_inventory(
        &self,
        request: Request<pb::ListInventoryRequest>,
    ) -> Result<Response<pb::ListInventoryResponse>, Status> {
        let principal = super::authenticated(&self.identity, &request)
            .await?
            .principal;
        let body = request.into_inner();
        check_count("states", body.states.len(), FILTER_VALUES).map_err(ApiError::from)?;
        let states: Vec<ReviewState> = body.states().filter_map(ReviewState::from_proto).collect();
        let views = self
            .review
            .list(&principal, Some(body.agency_id.as_str()), &states)
            .await?;
        Ok(Response::new(pb::ListInventoryResponse {
            records: views.iter().map(|v| self.review.to_proto(v)).collect(),
        }))
    }

    async fn summarize_inventory(
        &self,
        request: Request<pb::SummarizeInventoryRequest>,
    ) -> Result<Response<pb::InventorySummary>, Status> {
        let summary = self
            .review
            .summarize(&request.into_inner().agency_id)
            .await?;
        Ok(Response::new(summary.into()))
    }
}
