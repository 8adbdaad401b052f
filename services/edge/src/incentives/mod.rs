//! `/api/incentives/`: DECD's economic assistance and tax credits (Executive Order 38), public.
//!
//! - `GET /api/incentives/awards?company=&municipality=&program=&fiscal_year=&assistance_type=&industry=&offset=&limit=`
//!   — a page of awards
//!
//! `company` is looked up in the search service (typo-tolerant full text over company, parent
//! company and project); when search does not answer, or matches more awards than an award
//! search takes ids (`AWARD_IDS`), the incentives database's own text index (words matching
//! the starts of words of the company or parent name) answers instead. Every response with a
//! `company` says which did, in `company_search` (JSON) or the `X-Company-Search` header
//! (downloads).
//! - `GET /api/incentives/awards.csv` and `.json` (same filters) — every matching award, streamed
//! - `GET /api/incentives/awards/{id}` and `/api/incentives/awards/{id}/history` — one award, and
//!   every revision of it with who, when and why
//! - `GET /api/incentives/summary?by=municipality,fiscal_year&...filters` — totals and counts
//! - `GET /api/incentives/programs`, `GET /api/incentives/tax-credits?year=`

pub mod params;
pub mod response;

use axum::Extension;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use futures::{StreamExt as _, TryStreamExt as _};
use opendata_limits::AWARD_IDS;
use opendata_platform::error::internal;
use opendata_proto::incentives::v1 as pb;
use opendata_proto::search::v1::SearchRequest;
use serde::Serialize;
use std::time::Duration;

use crate::error::SodaError;
use crate::held_body::held_until_sent;
use crate::json::{CONTENT_TYPE, SodaJson};
use crate::rate_limit::{Caller, download_turn};
use crate::state::EdgeState;
use params::{Route, parse, tax_credit_year};
use response::{
    AwardJson, AwardPage, AwardRecord, CSV_HEADER, FieldsJson, ProgramJson, RevisionJson,
    SummaryJson, SummaryRowJson, TaxCreditJson, reviews,
};

/// The default page size of `/api/incentives/awards`.
const DEFAULT_LIMIT: u32 = 100;
/// Most awards a company search takes from the search service: as many ids as an award search
/// takes (`AWARD_IDS`). A company matching more is matched by the database instead.
const MAX_COMPANY_MATCHES: u32 = AWARD_IDS.value as u32;
/// How long the search service gets before the database answers instead.
const SEARCH_TIMEOUT: Duration = Duration::from_secs(2);

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
    fn as_str(self) -> &'static str {
        match self {
            CompanySearch::FullText => "full_text",
            CompanySearch::Database => "database",
        }
    }
}

/// Whether the search index holds any award at all (a search service configured without
/// incentives, or still catching up, finds none: the database must answer then).
async fn indexes_awards(client: &mut crate::state::SearchClient) -> bool {
    let count = client.search(SearchRequest {
        types: vec!["incentive_award".to_owned()],
        limit: 1,
        ..Default::default()
    });
    matches!(
        tokio::time::timeout(SEARCH_TIMEOUT, count).await,
        Ok(Ok(response)) if response.get_ref().total > 0
    )
}

/// Resolves `company` through the search service into award ids, so the request carries ids
/// instead; leaves it for the database when search does not answer. `None` without a company;
/// `Some((_, false))` when search found no award at all.
async fn resolve_company(
    state: &EdgeState,
    request: &mut pb::SearchAwardsRequest,
) -> Option<(CompanySearch, bool)> {
    if request.company.trim().is_empty() {
        return None;
    }
    let mut client = state.search();
    // The index filters by place, program and year too, so only the matches that count are
    // returned (and the cap on matches is reached less often). Blank values filter nothing, as
    // in the incentives service.
    let present = |values: &[String]| -> Vec<String> {
        values
            .iter()
            .map(|value| value.trim().to_owned())
            .filter(|value| !value.is_empty())
            .collect()
    };
    let filtered = SearchRequest {
        query: request.company.clone(),
        types: vec!["incentive_award".to_owned()],
        limit: MAX_COMPANY_MATCHES,
        municipalities: present(&request.municipalities),
        program_ids: present(&request.program_ids),
        fiscal_years: request.fiscal_years.clone(),
        ..Default::default()
    };
    let award_filters = !(filtered.municipalities.is_empty()
        && filtered.program_ids.is_empty()
        && filtered.fiscal_years.is_empty());
    let search = client.search(filtered);
    match tokio::time::timeout(SEARCH_TIMEOUT, search).await {
        Ok(Ok(found)) => {
            let found = found.into_inner();
            if found.total > found.hits.len() as u64 {
                tracing::warn!(
                    matches = found.total,
                    "more company matches than search returns; companies matched by the database"
                );
                return Some((CompanySearch::Database, true));
            }
            // Nothing found: either nothing matches, or the index cannot tell (it holds no
            // awards yet, or awards indexed before they carried the facts the filters need);
            // the database decides.
            if found.hits.is_empty() && (award_filters || !indexes_awards(&mut client).await) {
                return Some((CompanySearch::Database, true));
            }
            request.ids = found.hits.into_iter().map(|hit| hit.id).collect();
            request.company.clear();
            Some((CompanySearch::FullText, !request.ids.is_empty()))
        }
        Ok(Err(status)) => {
            tracing::warn!(error = %status.message(), "search unavailable; companies matched by the database");
            Some((CompanySearch::Database, true))
        }
        Err(_) => {
            tracing::warn!("search timed out; companies matched by the database");
            Some((CompanySearch::Database, true))
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

/// An award request whose company, if it names one, has been matched (see
/// [`resolve_company`]), ready for any number of listings and totals that must agree.
pub struct Resolved {
    request: pb::SearchAwardsRequest,
    /// Who matched the company, when the request names one.
    pub company: Option<CompanySearch>,
    /// Whether the company matched nothing (so nothing needs asking).
    nothing: bool,
}

impl Resolved {
    /// Matches `request`'s company once.
    pub async fn new(state: &EdgeState, mut request: pb::SearchAwardsRequest) -> Resolved {
        let company = resolve_company(state, &mut request).await;
        Resolved {
            request,
            company: company.map(|(engine, _)| engine),
            nothing: matches!(company, Some((_, false))),
        }
    }

    /// The page of matching awards (`offset` and `limit` as the request says).
    pub async fn awards(&self, state: &EdgeState) -> Result<pb::SearchAwardsResponse, SodaError> {
        if self.nothing {
            return Ok(pb::SearchAwardsResponse::default());
        }
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
        if self.nothing {
            return Ok(pb::SummarizeAwardsResponse::default());
        }
        Ok(state
            .incentives()
            .summarize_awards(pb::SummarizeAwardsRequest {
                group_by: by.iter().map(|d| *d as i32).collect(),
                filter: Some(self.request.clone()),
            })
            .await?
            .into_inner())
    }
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
    let resolved = Resolved::new(&state, request).await;
    let (page, company_search) = (resolved.awards(&state).await?, resolved.company);
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
                fields: FieldsJson::of(r.fields.as_ref()?),
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
    let resolved = Resolved::new(&state, params.request).await;
    let (summary, company_search) = (resolved.totals(&state, &by).await?, resolved.company);
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
    let mut request = parse(query, Route::Download)?.request;
    let company = resolve_company(state, &mut request).await;
    let chunks: futures::stream::BoxStream<'static, Result<pb::ExportAwardsChunk, tonic::Status>> =
        match company {
            Some((_, false)) => futures::stream::empty().boxed(),
            _ => state
                .incentives()
                .export_awards(request)
                .await?
                .into_inner()
                .boxed(),
        };
    let opening = match format {
        Format::Csv => csv_line(CSV_HEADER.iter().map(|h| h.to_string()))?,
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
                    Format::Csv => out.extend(csv_row(&record)?),
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
    if let Some((engine, _)) = company {
        headers.insert(
            "x-company-search",
            HeaderValue::from_static(engine.as_str()),
        );
    }
    Ok(response)
}

/// The CSV row of a record, its cells in [`CSV_HEADER`] order (absent values empty).
fn csv_row(record: &AwardRecord<'_>) -> Result<Vec<u8>, std::io::Error> {
    let value = serde_json::to_value(record).map_err(std::io::Error::other)?;
    let cells = CSV_HEADER.iter().map(|column| match value.get(*column) {
        None | Some(serde_json::Value::Null) => String::new(),
        Some(serde_json::Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
    });
    csv_line(cells).map_err(|error| std::io::Error::other(error.0.message))
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
