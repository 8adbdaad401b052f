//! `/api/incentives/`: DECD's economic assistance and tax credits (Executive Order 38), public.
//!
//! - `GET /api/incentives/awards?company=&municipality=&program=&fiscal_year=&assistance_type=&industry=&offset=&limit=`
//!   — a page of awards
//!
//! `company` is matched by the incentives service (its `company` module: the search service's
//! typo-tolerant full text first, the database's text index when search cannot answer), the
//! same for every caller. Every response with a `company` says which matched it, in
//! `company_search` (JSON) or the `X-Company-Search` header (downloads).
//! - `GET /api/incentives/awards.csv` and `.json` (same filters) — every matching award, streamed
//! - `GET /api/incentives/awards/{id}` and `/api/incentives/awards/{id}/history` — one award, and
//!   every revision of it with who, when and why
//! - `GET /api/incentives/summary?by=municipality,fiscal_year&...filters` — totals and counts
//! - `GET /api/incentives/programs`, `GET /api/incentives/tax-credits?year=`

pub mod params;
pub mod record;
pub mod response;

use axum::Extension;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use futures::{StreamExt as _, TryStreamExt as _};
use opendata_platform::error::internal;
use opendata_proto::incentives::v1 as pb;
use serde::Serialize;

use crate::error::SodaError;
use crate::held_body::held_until_sent;
use crate::json::{CONTENT_TYPE, SodaJson};
use crate::rate_limit::{Caller, download_turn};
use crate::state::EdgeState;
use params::{Route, parse, tax_credit_year};
use record::{AwardRecord, FieldsJson};
use response::{
    AwardJson, AwardPage, ProgramJson, RevisionJson, SummaryJson, SummaryRowJson, TaxCreditJson,
    reviews,
};

/// The default page size of `/api/incentives/awards`.
const DEFAULT_LIMIT: u32 = 100;

/// Who answered a company search.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CompanySearch {
    /// The search service (full text, typo-tolerant).
    FullText,
    /// The incentives database's text index (search was unavailable).
    Database,
}

impl CompanySearch {
    /// Who matched, as the incentives service says (nobody without a company).
    fn of(matched: pb::CompanyMatch) -> Option<CompanySearch> {
        match matched {
            pb::CompanyMatch::FullText => Some(CompanySearch::FullText),
            pb::CompanyMatch::Database => Some(CompanySearch::Database),
            pb::CompanyMatch::Unspecified => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            CompanySearch::FullText => "full_text",
            CompanySearch::Database => "database",
        }
    }
}

fn award_json(award: &pb::Award) -> Option<AwardJson<'_>> {
    let fields = award.fields.as_ref()?;
    Some(AwardJson {
        record: AwardRecord::of(award, fields),
        reviews: reviews(award),
    })
}

/// An award request whose company, if it names one, the incentives service has matched once
/// (`ResolveCompany`), ready for any number of listings and totals that must agree.
pub struct Resolved {
    request: pb::SearchAwardsRequest,
    /// Who matched the company, when the request names one.
    pub company: Option<CompanySearch>,
}

impl Resolved {
    /// Matches `request`'s company once.
    pub async fn new(
        state: &EdgeState,
        request: pb::SearchAwardsRequest,
    ) -> Result<Resolved, SodaError> {
        if request.company.trim().is_empty() {
            return Ok(Resolved {
                request,
                company: None,
            });
        }
        let request = state
            .incentives()
            .resolve_company(request)
            .await?
            .into_inner();
        Ok(Resolved {
            company: CompanySearch::of(request.company_match()),
            request,
        })
    }

    /// The page of matching awards (`offset` and `limit` as the request says).
    pub async fn awards(&self, state: &EdgeState) -> Result<pb::SearchAwardsResponse, SodaError> {
        Ok(state
            .incentives()
            .search_awards(self.request.clone())
            .await?
            .into_inner())
    }

    /// The totals of the matching awards, grouped by `by`.
    pub async fn totals(
        &self,
        state: &EdgeState,
        by: &[pb::SummaryDimension],
    ) -> Result<pb::SummarizeAwardsResponse, SodaError> {
        summarize(state, self.request.clone(), by).await
    }
}

/// The totals of the awards `filter` matches, grouped by `by`.
async fn summarize(
    state: &EdgeState,
    filter: pb::SearchAwardsRequest,
    by: &[pb::SummaryDimension],
) -> Result<pb::SummarizeAwardsResponse, SodaError> {
    Ok(state
        .incentives()
        .summarize_awards(pb::SummarizeAwardsRequest {
            group_by: by.iter().map(|d| *d as i32).collect(),
            filter: Some(filter),
        })
        .await?
        .into_inner())
}

/// `GET /api/incentives/awards`: a page of matching awards.
pub async fn awards(
    State(state): State<EdgeState>,
    RawQuery(query): RawQuery,
) -> Result<Response, SodaError> {
    let mut request = parse(query.as_deref(), Route::Page)?.request;
    if request.limit == 0 {
        request.limit = DEFAULT_LIMIT;
    }
    let (offset, limit) = (request.offset, request.limit);
    let page = state
        .incentives()
        .search_awards(request)
        .await?
        .into_inner();
    let company_search = CompanySearch::of(page.company_match());
    Ok(SodaJson(AwardPage {
        results: page.awards.iter().filter_map(award_json).collect(),
        total: page.total,
        offset,
        limit,
        company_search,
    })
    .into_response())
}

/// `GET /api/incentives/awards/{id}`: one award with its reviews (withdrawn ones too).
pub async fn award(
    State(state): State<EdgeState>,
    Path(id): Path<String>,
) -> Result<Response, SodaError> {
    let award = state
        .incentives()
        .get_award(pb::GetAwardRequest { id })
        .await?
        .into_inner();
    Ok(SodaJson(award_json(&award)).into_response())
}

/// `GET /api/incentives/awards/{id}/history`: every revision, oldest first.
pub async fn history(
    State(state): State<EdgeState>,
    Path(id): Path<String>,
) -> Result<Response, SodaError> {
    let history = state
        .incentives()
        .get_award_history(pb::GetAwardHistoryRequest { id })
        .await?
        .into_inner();
    let revisions: Vec<RevisionJson<'_>> = history
        .revisions
        .iter()
        .filter_map(|r| {
            Some(RevisionJson {
                revision: r.revision,
                change: &r.change,
                actor_id: &r.actor_id,
                reason: &r.reason,
                at: r
                    .at
                    .as_ref()
                    .and_then(opendata_platform::timestamp::from_proto)
                    .map(|t| t.to_rfc3339())
                    .unwrap_or_default(),
                fields: FieldsJson(r.fields.as_ref()?),
            })
        })
        .collect();
    Ok(SodaJson(revisions).into_response())
}

/// `GET /api/incentives/summary`: totals and counts by the `by` dimensions.
pub async fn summary(
    State(state): State<EdgeState>,
    RawQuery(query): RawQuery,
) -> Result<Response, SodaError> {
    let params = parse(query.as_deref(), Route::Summary)?;
    let by = params.group_by.clone();
    let summary = summarize(&state, params.request, &by).await?;
    let company_search = CompanySearch::of(summary.company_match());
    Ok(SodaJson(SummaryJson {
        company_search,
        by: by.iter().map(|d| params::dimension_name(*d)).collect(),
        rows: summary
            .rows
            .iter()
            .map(|row| SummaryRowJson::of(row, &by))
            .collect(),
    })
    .into_response())
}

/// `GET /api/incentives/programs`: the programs registry.
pub async fn programs(State(state): State<EdgeState>) -> Result<Response, SodaError> {
    let list = state
        .incentives()
        .list_programs(pb::ListProgramsRequest {})
        .await?
        .into_inner();
    let programs: Vec<ProgramJson<'_>> = list
        .programs
        .iter()
        .map(|p| ProgramJson {
            id: &p.id,
            name: &p.name,
            statutory_reference: &p.statutory_reference,
            assistance_types: &p.assistance_types,
            administering_agency: &p.administering_agency,
        })
        .collect();
    Ok(SodaJson(programs).into_response())
}

/// `GET /api/incentives/tax-credits?year=`: DRS's tax credit figures.
pub async fn tax_credits(
    State(state): State<EdgeState>,
    RawQuery(query): RawQuery,
) -> Result<Response, SodaError> {
    let year = tax_credit_year(query.as_deref())?;
    let list = state
        .incentives()
        .list_tax_credits(pb::ListTaxCreditsRequest { year })
        .await?
        .into_inner();
    let figures: Vec<TaxCreditJson<'_>> = list
        .figures
        .iter()
        .map(|f| TaxCreditJson {
            year: f.year,
            credit_type: &f.credit_type,
            tax_type: &f.tax_type,
            claim_count: f.claim_count,
            amount_claimed: &f.amount_claimed,
            amount_carried_forward: &f.amount_carried_forward,
        })
        .collect();
    Ok(SodaJson(figures).into_response())
}

/// `GET /api/incentives/awards.csv`: every matching award as CSV, streamed.
pub async fn download_csv(
    state: State<EdgeState>,
    caller: Option<Extension<Caller>>,
    query: RawQuery,
) -> Response {
    download(state, caller, query, Format::Csv).await
}

/// `GET /api/incentives/awards.json`: every matching award as a JSON array, streamed.
pub async fn download_json(
    state: State<EdgeState>,
    caller: Option<Extension<Caller>>,
    query: RawQuery,
) -> Response {
    download(state, caller, query, Format::Json).await
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Csv,
    Json,
}

async fn download(
    State(state): State<EdgeState>,
    caller: Option<Extension<Caller>>,
    RawQuery(query): RawQuery,
    format: Format,
) -> Response {
    let turn = match download_turn(&state, caller.as_ref().map(|Extension(caller)| caller)) {
        Ok(turn) => turn,
        Err(refused) => return refused.into_response(),
    };
    match stream_awards(&state, query.as_deref(), format).await {
        Ok(response) => match turn {
            Some(turn) => held_until_sent(response, turn),
            None => response,
        },
        Err(error) => error.into_response(),
    }
}

async fn stream_awards(
    state: &EdgeState,
    query: Option<&str>,
    format: Format,
) -> Result<Response, SodaError> {
    let request = parse(query, Route::Download)?.request;
    // Matched first, so the answer's headers can say who matched the company.
    let Resolved { request, company } = Resolved::new(state, request).await?;
    let chunks = state
        .incentives()
        .export_awards(request)
        .await?
        .into_inner();
    let opening = match format {
        Format::Csv => csv_line(record::csv_header().map(str::to_owned))?,
        Format::Json => b"[".to_vec(),
    };
    let mut first = true;
    let body = chunks
        .map_err(|status| std::io::Error::other(status.message().to_owned()))
        .map(move |chunk| {
            let chunk = chunk?;
            let mut out = Vec::new();
            for award in &chunk.awards {
                let Some(fields) = award.fields.as_ref() else {
                    continue;
                };
                let record = AwardRecord::of(award, fields);
                match format {
                    Format::Csv => out.extend(
                        csv_line(record.csv_row())
                            .map_err(|error| std::io::Error::other(error.0.message))?,
                    ),
                    Format::Json => {
                        if !first {
                            out.push(b',');
                        }
                        first = false;
                        serde_json::to_writer(&mut out, &record).map_err(std::io::Error::other)?;
                    }
                }
            }
            Ok::<_, std::io::Error>(out)
        });
    let closing = match format {
        Format::Csv => Vec::new(),
        Format::Json => b"]".to_vec(),
    };
    let stream = futures::stream::once(async move { Ok(opening) })
        .chain(body)
        .chain(futures::stream::once(async move { Ok(closing) }));
    let (content_type, filename) = match format {
        Format::Csv => (
            "text/csv; charset=utf-8",
            "attachment; filename=\"awards.csv\"",
        ),
        Format::Json => (CONTENT_TYPE, "attachment; filename=\"awards.json\""),
    };
    let mut response = Body::from_stream(stream).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static(filename),
    );
    if let Some(engine) = company {
        headers.insert(
            "x-company-search",
            HeaderValue::from_static(engine.as_str()),
        );
    }
    Ok(response)
}

fn csv_line(cells: impl Iterator<Item = String>) -> Result<Vec<u8>, SodaError> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer
        .write_record(cells)
        .map_err(|error| SodaError(internal(&error)))?;
    writer
        .into_inner()
        .map_err(|error| SodaError(internal(&error.into_error())))
}
