//! The gRPC adapter of `ReviewService`.

use opendata_limits::FILTER_VALUES;
use opendata_platform::error::ApiError;
use opendata_platform::text::check_count;
use opendata_platform::timestamp::to_proto_opt;
use opendata_proto::common::v1::AccessLevel;
use opendata_proto::governance::v1 as pb;
use opendata_proto::governance::v1::review_service_server::ReviewService;
use tonic::{Request, Response, Status};

use crate::convert::{self, access_level_from_name};
use crate::identity::Identity;
use crate::review::state::{Ground, ReviewState, Step};
use crate::review::{RecordView, Review, Summary};

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

    /// A record as served, with its freshness now.
    fn record(&self, view: &RecordView) -> pb::InventoryRecord {
        convert::record(view, &self.review.freshness(&view.record))
    }

    fn reply(&self, view: RecordView) -> Response<pb::InventoryRecord> {
        Response::new(self.record(&view))
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
            records: views.iter().map(|v| self.record(v)).collect(),
        }))
    }

    async fn list_decisions(
        &self,
        request: Request<pb::ListDecisionsRequest>,
    ) -> Result<Response<pb::ListDecisionsResponse>, Status> {
        let caller = super::optional(&self.identity, &request).await?;
        let decisions = self
            .review
            .decisions(caller.as_ref(), &request.into_inner().dataset_id)
            .await?;
        Ok(Response::new(pb::ListDecisionsResponse {
            decisions: decisions
                .into_iter()
                .map(|decision| pb::Decision {
                    state: decision.state.to_proto() as i32,
                    at: to_proto_opt(Some(decision.at)),
                    reason: decision.reason,
                    ground: decision
                        .ground
                        .map_or(pb::WithholdingGround::Unspecified, |ground| {
                            ground.to_proto()
                        }) as i32,
                    successor_dataset_id: decision.successor_dataset_id,
                })
                .collect(),
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
        Ok(Response::new(summary_to_proto(summary)))
    }
}

fn summary_to_proto(summary: Summary) -> pb::InventorySummary {
    pb::InventorySummary {
        states: summary
            .states
            .into_iter()
            .map(|(state, count)| pb::StateCount {
                state: state.to_proto() as i32,
                count,
            })
            .collect(),
        grounds: summary
            .grounds
            .into_iter()
            .map(|(ground, count)| pb::GroundCount {
                ground: ground.to_proto() as i32,
                count,
            })
            .collect(),
        withheld: summary
            .withheld
            .into_iter()
            .map(|dataset| pb::WithheldDataset {
                ground: dataset.ground.to_proto() as i32,
                access_level: access_level_from_name(&dataset.access_level) as i32,
                withheld_at: to_proto_opt(dataset.withheld_at),
                dataset_id: dataset.dataset_id,
                agency_id: dataset.agency_id,
                title: dataset.title,
                explanation: dataset.explanation,
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use opendata_limits::{TEXT_LINE, WITHHELD_LISTED};
    use prost::Message as _;

    use super::summary_to_proto;
    use crate::review::Summary;
    use crate::review::state::Ground;
    use crate::review::store::WithheldDataset;

    /// The edge reads the summary with tonic's default 4 MiB limit: the longest list, of the
    /// longest entries (four-byte characters to the text limits), must fit in it.
    #[test]
    fn the_longest_withheld_list_fits_one_message() {
        let longest = |chars: usize| "𝔸".repeat(chars);
        let entry = WithheldDataset {
            dataset_id: "abcd-1234".to_owned(),
            agency_id: "a".repeat(32),
            title: longest(TEXT_LINE.get()),
            ground: Ground::UndueBurden,
            explanation: longest(TEXT_LINE.get()),
            access_level: "restricted public".to_owned(),
            withheld_at: Some(chrono::Utc::now()),
        };
        let summary = Summary {
            states: Vec::new(),
            grounds: Vec::new(),
            withheld: vec![entry; WITHHELD_LISTED.get()],
        };
        let bytes = summary_to_proto(summary).encoded_len();
        assert!(bytes < 4 * 1024 * 1024, "{bytes} bytes");
    }
}
