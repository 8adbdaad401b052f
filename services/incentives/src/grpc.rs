//! The gRPC adapter of `IncentivesService`: authenticate, convert, call the ledger or the registry,
//! convert back.

use std::pin::Pin;
use std::sync::Arc;

use futures::{Stream, StreamExt as _};
use opendata_platform::auth::{Authenticator, Principal};
use opendata_platform::error::ApiError;
use opendata_platform::timestamp::to_proto;
use opendata_proto::incentives::v1 as pb;
use opendata_proto::incentives::v1::incentives_service_server::IncentivesService;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response};

use crate::company::{CompanyMatcher, matches_nothing};
use crate::convert::{
    award_to_proto, program_to_proto, revision_to_proto, summary_to_proto, tax_credit_to_proto,
};
use crate::downloads::Downloads;
use crate::error::IncentivesError;
use crate::filter::filter_of;
use crate::ledger::{Ledger, NewReview};
use crate::publishing::{Publisher, Status};
use crate::registry::Registry;
use crate::store::StoredAward;
use crate::store::query::{Dimension, Filter};

/// Results per page when the caller does not say.
const DEFAULT_LIMIT: u32 = 100;
/// Most results per page.
const MAX_LIMIT: u32 = 1_000;

/// What an award read asks for, its company matched.
enum Matched {
    /// The awards this filter passes.
    Awards(Filter),
    /// None: the company matched no award.
    Nothing,
}

/// Serves `IncentivesService`.
#[derive(Clone)]
pub struct IncentivesApi {
    ledger: Ledger,
    downloads: Downloads,
    registry: Registry,
    publisher: Publisher,
    companies: CompanyMatcher,
    auth: Arc<Authenticator>,
}

impl IncentivesApi {
    /// The adapter.
    pub fn new(
        ledger: Ledger,
        downloads: Downloads,
        publisher: Publisher,
        companies: CompanyMatcher,
        auth: Arc<Authenticator>,
    ) -> Self {
        IncentivesApi {
            registry: Registry::new(ledger.clone()),
            ledger,
            downloads,
            publisher,
            companies,
            auth,
        }
    }

    /// The filter of an award read with its company matched, and who matched it. The
    /// request's limits are checked before search is asked.
    async fn matched_filter(
        &self,
        request: pb::SearchAwardsRequest,
    ) -> Result<(Matched, pb::CompanyMatch), tonic::Status> {
        filter_of(&request).map_err(status)?;
        let request = self.companies.resolve(request).await;
        let matched = request.company_match();
        if matches_nothing(&request) {
            return Ok((Matched::Nothing, matched));
        }
        Ok((
            Matched::Awards(filter_of(&request).map_err(status)?),
            matched,
        ))
    }

    fn publishing(&self, status: Status) -> pb::PublishingStatus {
        pb::PublishingStatus {
            dataset_id: self.publisher.dataset_id().to_owned(),
            key_set: status.key_set,
            last_pushed_at: status.last_pushed_at.map(to_proto),
            rows_pushed: status.rows_pushed.max(0) as u64,
            last_error: status.last_error,
        }
    }

    async fn caller<T>(&self, request: &Request<T>) -> Result<Principal, tonic::Status> {
        Ok(self.auth.require(request.metadata()).await?)
    }

    fn award(&self, award: &StoredAward) -> pb::Award {
        award_to_proto(award, self.ledger.today())
    }
}

fn status(error: IncentivesError) -> tonic::Status {
    ApiError::from(error).into_status()
}

type ExportStream =
    Pin<Box<dyn Stream<Item = Result<pb::ExportAwardsChunk, tonic::Status>> + Send>>;

#[tonic::async_trait]
impl IncentivesService for IncentivesApi {
    async fn record_award(
        &self,
        request: Request<pb::RecordAwardRequest>,
    ) -> Result<Response<pb::Award>, tonic::Status> {
        let who = self.caller(&request).await?;
        let fields = request.into_inner().fields.unwrap_or_default();
        let award = self.ledger.record(&who, &fields).await.map_err(status)?;
        Ok(Response::new(self.award(&award)))
    }

    async fn record_awards(
        &self,
        request: Request<pb::RecordAwardsRequest>,
    ) -> Result<Response<pb::RecordAwardsResponse>, tonic::Status> {
        let who = self.caller(&request).await?;
        let ids = self
            .ledger
            .record_many(&who, &request.get_ref().awards)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::RecordAwardsResponse {
            ids: ids.iter().map(ToString::to_string).collect(),
        }))
    }

    async fn correct_award(
        &self,
        request: Request<pb::CorrectAwardRequest>,
    ) -> Result<Response<pb::Award>, tonic::Status> {
        let who = self.caller(&request).await?;
        let body = request.into_inner();
        let fields = body.fields.unwrap_or_default();
        let award = self
            .ledger
            .correct(
                &who,
                &body.id,
                &fields,
                &body.reason,
                body.expected_revision,
            )
            .await
            .map_err(status)?;
        Ok(Response::new(self.award(&award)))
    }

    async fn withdraw_award(
        &self,
        request: Request<pb::WithdrawAwardRequest>,
    ) -> Result<Response<pb::Award>, tonic::Status> {
        let who = self.caller(&request).await?;
        let body = request.into_inner();
        let award = self
            .ledger
            .withdraw(&who, &body.id, &body.reason)
            .await
            .map_err(status)?;
        Ok(Response::new(self.award(&award)))
    }

    async fn add_job_review(
        &self,
        request: Request<pb::AddJobReviewRequest>,
    ) -> Result<Response<pb::Award>, tonic::Status> {
        let who = self.caller(&request).await?;
        let body = request.into_inner();
        let review = body.review.unwrap_or_default();
        let award = self
            .ledger
            .add_review(
                &who,
                &body.id,
                NewReview {
                    reviewed_on: &review.reviewed_on,
                    actual_jobs: review.actual_jobs,
                    notes: &review.notes,
                },
            )
            .await
            .map_err(status)?;
        Ok(Response::new(self.award(&award)))
    }

    async fn get_award(
        &self,
        request: Request<pb::GetAwardRequest>,
    ) -> Result<Response<pb::Award>, tonic::Status> {
        let award = self
            .ledger
            .get(&request.into_inner().id)
            .await
            .map_err(status)?;
        Ok(Response::new(self.award(&award)))
    }

    async fn get_award_history(
        &self,
        request: Request<pb::GetAwardHistoryRequest>,
    ) -> Result<Response<pb::GetAwardHistoryResponse>, tonic::Status> {
        let revisions = self
            .ledger
            .history(&request.into_inner().id)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::GetAwardHistoryResponse {
            revisions: revisions.iter().map(revision_to_proto).collect(),
        }))
    }

    async fn search_awards(
        &self,
        request: Request<pb::SearchAwardsRequest>,
    ) -> Result<Response<pb::SearchAwardsResponse>, tonic::Status> {
        let body = request.into_inner();
        let (offset, limit) = (body.offset, body.limit);
        let limit = match limit {
            0 => DEFAULT_LIMIT,
            limit if limit > MAX_LIMIT => {
                return Err(status(IncentivesError::invalid(
                    "limit",
                    format!("{limit} is more than {MAX_LIMIT}; page with offset"),
                )));
            }
            limit => limit,
        };
        let (matched, company_match) = self.matched_filter(body).await?;
        let (awards, total) = match matched {
            Matched::Awards(filter) => self
                .ledger
                .search(&filter, i64::from(offset), i64::from(limit))
                .await
                .map_err(status)?,
            Matched::Nothing => (Vec::new(), 0),
        };
        Ok(Response::new(pb::SearchAwardsResponse {
            awards: awards.iter().map(|a| self.award(a)).collect(),
            total: total.max(0) as u64,
            company_match: company_match as i32,
        }))
    }

    type ExportAwardsStream = ExportStream;

    async fn export_awards(
        &self,
        request: Request<pb::SearchAwardsRequest>,
    ) -> Result<Response<Self::ExportAwardsStream>, tonic::Status> {
        let (matched, _) = self.matched_filter(request.into_inner()).await?;
        let today = self.ledger.today();
        let batches = match matched {
            Matched::Awards(filter) => self.downloads.start(filter).map_err(status)?,
            Matched::Nothing => tokio::sync::mpsc::channel(1).1,
        };
        let stream = ReceiverStream::new(batches).map(move |batch| {
            batch
                .map(|awards| pb::ExportAwardsChunk {
                    awards: awards.iter().map(|a| award_to_proto(a, today)).collect(),
                })
                .map_err(status)
        });
        Ok(Response::new(Box::pin(stream)))
    }

    async fn summarize_awards(
        &self,
        request: Request<pb::SummarizeAwardsRequest>,
    ) -> Result<Response<pb::SummarizeAwardsResponse>, tonic::Status> {
        let body = request.into_inner();
        let mut dimensions = Vec::new();
        for dimension in body.group_by() {
            let dimension = match dimension {
                pb::SummaryDimension::Municipality => Dimension::Municipality,
                pb::SummaryDimension::Program => Dimension::Program,
                pb::SummaryDimension::FiscalYear => Dimension::FiscalYear,
                pb::SummaryDimension::Industry => Dimension::Industry,
                pb::SummaryDimension::Unspecified => {
                    return Err(status(IncentivesError::invalid(
                        "group_by",
                        "names an unspecified dimension",
                    )));
                }
            };
            if dimensions.contains(&dimension) {
                return Err(status(IncentivesError::invalid(
                    "group_by",
                    "names a dimension twice",
                )));
            }
            dimensions.push(dimension);
        }
        if dimensions.is_empty() {
            return Err(status(IncentivesError::invalid(
                "group_by",
                "is required: municipality, program, fiscal year or industry",
            )));
        }
        let (matched, company_match) = self.matched_filter(body.filter.unwrap_or_default()).await?;
        let rows = match matched {
            Matched::Awards(filter) => self
                .ledger
                .summarize(&filter, &dimensions)
                .await
                .map_err(status)?,
            Matched::Nothing => Vec::new(),
        };
        Ok(Response::new(pb::SummarizeAwardsResponse {
            rows: rows.iter().map(summary_to_proto).collect(),
            company_match: company_match as i32,
        }))
    }

    async fn resolve_company(
        &self,
        request: Request<pb::SearchAwardsRequest>,
    ) -> Result<Response<pb::SearchAwardsRequest>, tonic::Status> {
        let body = request.into_inner();
        filter_of(&body).map_err(status)?;
        Ok(Response::new(self.companies.resolve(body).await))
    }

    async fn upsert_program(
        &self,
        request: Request<pb::Program>,
    ) -> Result<Response<pb::Program>, tonic::Status> {
        let who = self.caller(&request).await?;
        let program = self
            .registry
            .upsert_program(&who, request.get_ref())
            .await
            .map_err(status)?;
        Ok(Response::new(program_to_proto(&program)))
    }

    async fn list_programs(
        &self,
        _request: Request<pb::ListProgramsRequest>,
    ) -> Result<Response<pb::ListProgramsResponse>, tonic::Status> {
        let programs = self.registry.programs().await.map_err(status)?;
        Ok(Response::new(pb::ListProgramsResponse {
            programs: programs.iter().map(program_to_proto).collect(),
        }))
    }

    async fn record_tax_credits(
        &self,
        request: Request<pb::RecordTaxCreditsRequest>,
    ) -> Result<Response<pb::RecordTaxCreditsResponse>, tonic::Status> {
        let who = self.caller(&request).await?;
        let recorded = self
            .registry
            .record_tax_credits(&who, &request.get_ref().figures)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::RecordTaxCreditsResponse {
            recorded: recorded as u64,
        }))
    }

    async fn set_publisher_key(
        &self,
        request: Request<pb::SetPublisherKeyRequest>,
    ) -> Result<Response<pb::PublishingStatus>, tonic::Status> {
        let who = self.caller(&request).await?;
        let key = request.into_inner().api_key;
        let owner = self.auth.authenticate(key.trim()).await;
        let status = self
            .publisher
            .set_key(&who, &key, owner)
            .await
            .map_err(status)?;
        Ok(Response::new(self.publishing(status)))
    }

    async fn get_publishing_status(
        &self,
        request: Request<pb::GetPublishingStatusRequest>,
    ) -> Result<Response<pb::PublishingStatus>, tonic::Status> {
        // Its last error may say more than the public should read.
        let who = self.caller(&request).await?;
        self.ledger.authorize(&who).map_err(status)?;
        let status = self.publisher.status().await.map_err(status)?;
        Ok(Response::new(self.publishing(status)))
    }

    async fn list_tax_credits(
        &self,
        request: Request<pb::ListTaxCreditsRequest>,
    ) -> Result<Response<pb::ListTaxCreditsResponse>, tonic::Status> {
        let year = request.into_inner().year;
        let figures = self
            .registry
            .tax_credits((year != 0).then_some(year))
            .await
            .map_err(status)?;
        Ok(Response::new(pb::ListTaxCreditsResponse {
            figures: figures.iter().map(tax_credit_to_proto).collect(),
        }))
    }
}
