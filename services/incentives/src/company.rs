//! How a company name in an award request is matched, decided here for every caller (the
//! edge's REST routes and pages, gRPC clients alike). The search service's full text is
//! typo-tolerant and covers company, parent company and project, so it answers first: filtered
//! as the request is (place, program, year), it gives the ids of the matching awards. The
//! database's own text index (words matching the starts of words of the company or parent name)
//! answers instead when search is not configured, fails or takes longer than [`SEARCH_TIMEOUT`],
//! matches more awards than an award request may name ([`AWARD_IDS`]), or cannot tell (it holds
//! no awards yet, or finds none under filters its documents may predate).

use std::collections::HashSet;
use std::time::Duration;

use opendata_limits::AWARD_IDS;
use opendata_platform::grpc::{ClientContext, MAX_MESSAGE_BYTES};
use opendata_proto::incentives::v1 as pb;
use opendata_proto::search::v1::SearchRequest;
use opendata_proto::search::v1::search_service_client::SearchServiceClient;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use uuid::Uuid;

/// How long the search service gets before the database matches instead.
pub const SEARCH_TIMEOUT: Duration = Duration::from_secs(2);
/// The search document type of an award.
const AWARD_TYPE: &str = "incentive_award";

type SearchClient = SearchServiceClient<InterceptedService<Channel, ClientContext>>;

/// Matches company names; cheap to clone.
#[derive(Clone)]
pub struct CompanyMatcher {
    /// The search service, when one is configured.
    search: Option<SearchClient>,
}

impl CompanyMatcher {
    /// A matcher asking the search service on `search` first, or only the database without one.
    pub fn new(search: Option<Channel>) -> CompanyMatcher {
        CompanyMatcher {
            search: search.map(|channel| {
                SearchServiceClient::with_interceptor(channel, ClientContext::anonymous())
                    .max_decoding_message_size(MAX_MESSAGE_BYTES)
            }),
        }
    }

    /// `request` with its company matched: unchanged without a company or when it says how
    /// its company was matched; else with the search service's matches as ids (only those among
    /// the request's own ids, when it names some; [`pb::CompanyMatch::FullText`]) or left for the
    /// database ([`pb::CompanyMatch::Database`]).
    pub async fn resolve(&self, mut request: pb::SearchAwardsRequest) -> pb::SearchAwardsRequest {
        if request.company.trim().is_empty()
            || request.company_match() != pb::CompanyMatch::Unspecified
        {
            return request;
        }
        match self.full_text(&request).await {
            Some(mut ids) => {
                if !request.ids.is_empty() {
                    // Compared as UUIDs: the caller may spell them in any form a UUID takes.
                    let asked: HashSet<Uuid> = request
                        .ids
                        .iter()
                        .filter_map(|id| Uuid::parse_str(id.trim()).ok())
                        .collect();
                    ids.retain(|id| Uuid::parse_str(id).is_ok_and(|id| asked.contains(&id)));
                }
                request.ids = ids;
                request.company.clear();
                request.set_company_match(pb::CompanyMatch::FullText);
            }
            None => request.set_company_match(pb::CompanyMatch::Database),
        }
        request
    }

    /// The ids of every award the search service matches, or `None` when it cannot answer for
    /// all of them.
    async fn full_text(&self, request: &pb::SearchAwardsRequest) -> Option<Vec<String>> {
        let mut search = self.search.clone()?;
        // The index filters by place, program and year too, so only the matches that count
        // come back (and the cap on matches is reached less often). Blank values filter
        // nothing, as in the database.
        let present = |values: &[String]| -> Vec<String> {
            values
                .iter()
                .map(|value| value.trim().to_owned())
                .filter(|value| !value.is_empty())
                .collect()
        };
        let filtered = SearchRequest {
            query: request.company.clone(),
            types: vec![AWARD_TYPE.to_owned()],
            limit: AWARD_IDS.value as u32,
            municipalities: present(&request.municipalities),
            program_ids: present(&request.program_ids),
            fiscal_years: request.fiscal_years.clone(),
            ..Default::default()
        };
        let award_filters = !(filtered.municipalities.is_empty()
            && filtered.program_ids.is_empty()
            && filtered.fiscal_years.is_empty());
        let found = match tokio::time::timeout(SEARCH_TIMEOUT, search.search(filtered)).await {
            Ok(Ok(found)) => found.into_inner(),
            Ok(Err(status)) => {
                tracing::warn!(error = %status.message(), "search unavailable; companies matched by the database");
                return None;
            }
            Err(_) => {
                tracing::warn!("search timed out; companies matched by the database");
                return None;
            }
        };
        if found.total > found.hits.len() as u64 {
            tracing::warn!(
                matches = found.total,
                "more company matches than an award request may name; companies matched by the database"
            );
            return None;
        }
        if found.hits.is_empty() && (award_filters || !indexes_awards(&mut search).await) {
            return None;
        }
        Some(found.hits.into_iter().map(|hit| hit.id).collect())
    }
}

/// Whether the search index holds any award at all (a search service configured without
/// incentives, still catching up, or just restarted with an embedded index finds none: the
/// database must match then).
async fn indexes_awards(search: &mut SearchClient) -> bool {
    let count = search.search(SearchRequest {
        types: vec![AWARD_TYPE.to_owned()],
        limit: 1,
        ..Default::default()
    });
    matches!(
        tokio::time::timeout(SEARCH_TIMEOUT, count).await,
        Ok(Ok(response)) if response.get_ref().total > 0
    )
}

/// Whether a matched request can match no award: the full text found none.
pub fn matches_nothing(request: &pb::SearchAwardsRequest) -> bool {
    request.company_match() == pb::CompanyMatch::FullText && request.ids.is_empty()
}
