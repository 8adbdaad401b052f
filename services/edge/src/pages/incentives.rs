//! The incentives explorer (Executive Order 38): DECD's economic assistance, searchable by company
//! (typos forgiven, through the same search as `/api/incentives/awards`) and filtered by town,
//! program, fiscal year, industry and assistance type — the page's query string is the API's
//! (`company`, `municipality`, `program`, `fiscal_year`, `industry`, `assistance_type`, `offset`).
//! It shows the matching awards, totals by program, and totals by town on the map of the 169
//! towns; `/incentives/company?name=` shows one company's awards with the jobs promised next to
//! the jobs found at review, obligation status, penalties and clawbacks, and each award's
//! corrections.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use opendata_limits::excerpt;
use opendata_proto::incentives::v1 as pb;
use opendata_proto::incentives::v1::SummaryDimension;

use super::chart::format_figure;
use super::map::towns_svg;
use super::towns::{self, Town};
use super::{
    Choice, Layout, PageError, choices, long_date, query_string, render, svg_response,
    within_page_query,
};
use crate::error::SodaError;
use crate::incentives::params::{Route, parse};
use crate::incentives::record::{latest_review, obligation_name};
use crate::incentives::{CompanySearch, Resolved};
use crate::state::EdgeState;

/// Awards a page lists.
const PER_PAGE: u32 = 25;
/// Awards a company page reads.
const COMPANY_AWARDS: u32 = 100;
/// Awards whose corrections a company page shows.
const HISTORIES: usize = 20;
/// Towns the totals table lists (the map shows them all).
const TOP_TOWNS: usize = 10;

/// One award in the list.
pub struct AwardRow {
    company: String,
    town: String,
    program: String,
    year: i32,
    assistance: String,
    promised: i64,
    found: String,
    status: &'static str,
    flags: &'static str,
}

/// Totals of one group.
pub struct TotalRow {
    label: String,
    awards: u64,
    assistance: String,
    promised: i64,
    found: i64,
}

/// The filters the page was asked for, as the form shows them.
#[derive(Default)]
pub struct Filters {
    company: String,
    municipality: String,
    program: String,
    fiscal_year: String,
    industry: String,
    assistance_type: String,
}

impl Filters {
    fn read(query: Option<&str>) -> Filters {
        let mut filters = Filters::default();
        for (name, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            let slot = match name.as_ref() {
                "company" => &mut filters.company,
                "municipality" => &mut filters.municipality,
                "program" => &mut filters.program,
                "fiscal_year" => &mut filters.fiscal_year,
                "industry" => &mut filters.industry,
                "assistance_type" => &mut filters.assistance_type,
                _ => continue,
            };
            *slot = value.trim().to_owned();
        }
        filters
    }

    /// The filters as a query string (without paging).
    fn query(&self) -> String {
        query_string(
            [
                ("company", &self.company),
                ("municipality", &self.municipality),
                ("program", &self.program),
                ("fiscal_year", &self.fiscal_year),
                ("industry", &self.industry),
                ("assistance_type", &self.assistance_type),
            ]
            .into_iter()
            .filter(|(_, value)| !value.is_empty())
            .map(|(name, value)| (name, value.as_str())),
        )
    }
}

#[derive(Template)]
#[template(path = "incentives.html")]
struct Explorer {
    layout: Layout,
    filters: Filters,
    towns: Vec<Choice>,
    programs: Vec<Choice>,
    years: Vec<Choice>,
    industries: Vec<Choice>,
    types: Vec<Choice>,
    awards: Vec<AwardRow>,
    total: u64,
    first: u64,
    last: u64,
    previous: Option<String>,
    next: Option<String>,
    by_program: Vec<TotalRow>,
    by_town: Vec<TotalRow>,
    /// The filters as a query string, for the map and the downloads.
    query: String,
    /// Who matched the company, when one was asked for.
    matched_by: &'static str,
}

fn total_row(row: &pb::SummaryRow) -> TotalRow {
    TotalRow {
        label: row
            .labels
            .first()
            .filter(|label| !label.is_empty())
            .or(row.keys.first())
            .cloned()
            .unwrap_or_default(),
        awards: row.award_count,
        assistance: row.assistance_total.clone(),
        promised: row.jobs_promised,
        found: row.jobs_actual,
    }
}

/// The obligation status as residents read it.
fn obligation(status: &str) -> &'static str {
    match status {
        "met" => "Met",
        "not_met" => "Not met",
        "past_due" => "Past due, not reviewed",
        "pending" => "Pending",
        _ => "",
    }
}

/// Penalty and clawback flags in words.
fn flags(award: &pb::Award) -> &'static str {
    match (award.withdrawn, award.penalty_flag, award.clawback_flag) {
        (true, _, _) => "Withdrawn",
        (false, true, true) => "Penalty, clawback",
        (false, true, false) => "Penalty",
        (false, false, true) => "Clawback",
        (false, false, false) => "",
    }
}

fn award_row(award: &pb::Award) -> Option<AwardRow> {
    let fields = award.fields.as_ref()?;
    Some(AwardRow {
        company: fields.company.clone(),
        town: fields.municipality.clone(),
        program: fields.program_id.clone(),
        year: fields.fiscal_year,
        assistance: fields.total_assistance.clone(),
        promised: fields.jobs_to_retain + fields.jobs_to_create,
        found: latest_review(award).map_or_else(
            || "not reviewed".to_owned(),
            |review| review.actual_jobs.to_string(),
        ),
        status: obligation(obligation_name(award.obligation_status())),
        flags: flags(award),
    })
}

fn matched_by(company: Option<CompanySearch>) -> &'static str {
    match company {
        Some(CompanySearch::FullText) => "full-text search (typos forgiven)",
        Some(CompanySearch::Database) => "the awards database (search was unavailable)",
        None => "",
    }
}

/// The totals of the awards `resolved` matches, by `by`.
async fn totals(
    state: &EdgeState,
    resolved: &Resolved,
    by: SummaryDimension,
) -> Result<Vec<pb::SummaryRow>, PageError> {
    resolved
        .totals(state, &[by])
        .await
        .map(|summary| summary.rows)
        .map_err(|error| PageError::from_api(state, error))
}

/// What the explorer's form offers besides the towns: programs, fiscal years and industries, as
/// (value, label), from every award.
pub struct FormOptions {
    programs: Vec<(String, String)>,
    years: Vec<(String, String)>,
    industries: Vec<(String, String)>,
}

/// How long the form's options are reused: they change when DECD records awards of a new year,
/// industry or program, rarely.
const OPTIONS_TTL: std::time::Duration = std::time::Duration::from_secs(60);

/// The form's options, read at most once a minute (one reader at a time).
async fn form_options(state: &EdgeState) -> Result<std::sync::Arc<FormOptions>, PageError> {
    let mut cached = state.incentive_options.lock().await;
    if let Some((read_at, options)) = cached.as_ref()
        && read_at.elapsed() < OPTIONS_TTL
    {
        return Ok(std::sync::Arc::clone(options));
    }
    let everything = Resolved::new(state, pb::SearchAwardsRequest::default())
        .await
        .map_err(|error| PageError::from_api(state, error))?;
    let (years, industries, programs) = tokio::try_join!(
        totals(state, &everything, SummaryDimension::FiscalYear),
        totals(state, &everything, SummaryDimension::Industry),
        async {
            state
                .incentives()
                .list_programs(pb::ListProgramsRequest {})
                .await
                .map(|response| response.into_inner().programs)
                .map_err(|status| PageError::from_api(state, status.into()))
        },
    )?;
    let options = std::sync::Arc::new(FormOptions {
        programs: programs
            .into_iter()
            .map(|program| (program.id, program.name))
            .collect(),
        years: years
            .iter()
            .filter_map(|row| {
                let year = row.keys.first()?.clone();
                Some((year.clone(), format!("FY {year}")))
            })
            .collect(),
        industries: industries
            .iter()
            .filter_map(|row| row.keys.first().filter(|key| !key.is_empty()).cloned())
            .map(|industry| (industry.clone(), industry))
            .collect(),
    });
    *cached = Some((std::time::Instant::now(), std::sync::Arc::clone(&options)));
    Ok(options)
}

/// `GET /incentives`.
pub async fn explorer(
    State(state): State<EdgeState>,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let api = |error: SodaError| PageError::from_api(&state, error);
    let query = without_blanks(Some(within_page_query(query.as_deref()).map_err(api)?));
    let mut request = parse(Some(&query), Route::Page).map_err(api)?.request;
    request.limit = PER_PAGE;
    let offset = request.offset;
    let filters = Filters::read(Some(&query));
    // The company is matched once, so the list and the totals agree.
    let resolved = Resolved::new(&state, request).await.map_err(api)?;
    let (page, by_program, by_town) = tokio::try_join!(
        async { resolved.awards(&state).await.map_err(api) },
        totals(&state, &resolved, SummaryDimension::Program),
        totals(&state, &resolved, SummaryDimension::Municipality),
    )?;
    let options = form_options(&state).await?;
    let mut by_town: Vec<TotalRow> = by_town.iter().map(total_row).collect();
    by_town.sort_by(|a, b| {
        let amount = |row: &TotalRow| row.assistance.parse::<f64>().unwrap_or_default();
        amount(b).total_cmp(&amount(a))
    });
    by_town.truncate(TOP_TOWNS);
    let link = |offset: u32| {
        let paging = query_string([("offset", offset.to_string().as_str())]);
        let filters = filters.query();
        if filters.is_empty() {
            format!("/incentives?{paging}")
        } else {
            format!("/incentives?{filters}&{paging}")
        }
    };
    let shown = page.awards.len() as u64;
    let explorer = Explorer {
        layout: Layout::new(&state, ""),
        towns: choices(
            towns::towns()
                .iter()
                .map(|town| (town.name.clone(), town.name.clone())),
            &filters.municipality,
        ),
        programs: choices(options.programs.iter().cloned(), &filters.program),
        years: choices(options.years.iter().cloned(), &filters.fiscal_year),
        industries: choices(options.industries.iter().cloned(), &filters.industry),
        types: choices(
            [
                ("grant", "Grant"),
                ("loan", "Loan"),
                ("tax_credit", "Tax credit"),
            ]
            .map(|(value, label)| (value.to_owned(), label.to_owned())),
            &filters.assistance_type,
        ),
        awards: page.awards.iter().filter_map(award_row).collect(),
        total: page.total,
        first: u64::from(offset) + u64::from(shown > 0),
        last: u64::from(offset) + shown,
        previous: (offset > 0).then(|| link(offset.saturating_sub(PER_PAGE))),
        next: (u64::from(offset) + shown < page.total).then(|| link(offset + PER_PAGE)),
        by_program: by_program.iter().map(total_row).collect(),
        by_town,
        query: filters.query(),
        matched_by: matched_by(resolved.company),
        filters,
    };
    Ok(render(StatusCode::OK, &explorer))
}

/// `query` without its empty parameters: a form's "any" choices filter nothing.
fn without_blanks(query: Option<&str>) -> String {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .into_owned()
        .filter(|(_, value)| !value.trim().is_empty())
        .collect();
    query_string(
        pairs
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str())),
    )
}

/// `GET /incentives/map.svg?...filters`: total assistance by town, on the map.
pub async fn map(
    State(state): State<EdgeState>,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let api = |error: SodaError| PageError::from_api(&state, error);
    let query = without_blanks(query.as_deref());
    let request = parse(Some(&query), Route::Download).map_err(api)?.request;
    let rows = Resolved::new(&state, request)
        .await
        .map_err(api)?
        .totals(&state, &[SummaryDimension::Municipality])
        .await
        .map_err(api)?
        .rows;
    let counts: Vec<(&Town, f64)> = rows
        .iter()
        .filter_map(|row| {
            let town = towns::find(row.keys.first()?)?;
            Some((town, row.assistance_total.parse().ok()?))
        })
        .collect();
    let picture = towns_svg(&counts, "Assistance by town ($)", "no awards");
    Ok(svg_response(picture))
}

/// One award of a company, with its reviews and corrections.
pub struct CompanyAward {
    row: AwardRow,
    project: String,
    grant: String,
    loan: String,
    retain: i64,
    create: i64,
    target: String,
    reviews: Vec<(String, i64, String)>,
    penalty_terms: String,
    withdrawn_reason: String,
    /// Revisions after the first: when, what, why.
    corrections: Vec<(String, String, String)>,
}

#[derive(Template)]
#[template(path = "incentives_company.html")]
struct CompanyPage {
    layout: Layout,
    name: String,
    exact: bool,
    awards: Vec<CompanyAward>,
    assistance: String,
    promised: i64,
    found: i64,
}

/// `GET /incentives/company?name=`.
pub async fn company(
    State(state): State<EdgeState>,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let api = |error: SodaError| PageError::from_api(&state, error);
    let name = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(parameter, _)| parameter == "name")
        .map(|(_, name)| name.trim().to_owned())
        .unwrap_or_default();
    if name.is_empty() {
        return Err(api(SodaError::bad_parameter(
            "name",
            "name is the company's name",
        )));
    }
    let mut request = parse(
        Some(&query_string([("company", name.as_str())])),
        Route::Page,
    )
    .map_err(api)?
    .request;
    request.limit = COMPANY_AWARDS;
    let page = Resolved::new(&state, request)
        .await
        .map_err(api)?
        .awards(&state)
        .await
        .map_err(api)?;
    let named = |award: &&pb::Award| {
        award.fields.as_ref().is_some_and(|fields| {
            fields.company.eq_ignore_ascii_case(&name)
                || fields.parent_company.eq_ignore_ascii_case(&name)
        })
    };
    let exact = page.awards.iter().any(|award| named(&award));
    let chosen: Vec<&pb::Award> = page
        .awards
        .iter()
        .filter(|award| !exact || named(award))
        .collect();
    if chosen.is_empty() {
        return Err(PageError::not_found(
            &state,
            &format!("award to {}", excerpt(&name)),
        ));
    }
    // The corrections of the first awards, asked for all at once.
    let histories = futures::future::try_join_all(chosen.iter().take(HISTORIES).map(|award| {
        let mut incentives = state.incentives();
        let id = award.id.clone();
        async move {
            incentives
                .get_award_history(pb::GetAwardHistoryRequest { id })
                .await
                .map(|history| history.into_inner().revisions)
        }
    }))
    .await
    .map_err(|status| api(status.into()))?;
    let mut awards = Vec::new();
    let (mut assistance, mut promised, mut found) = (0.0_f64, 0, 0);
    for (index, award) in chosen.into_iter().enumerate() {
        let (Some(fields), Some(row)) = (award.fields.as_ref(), award_row(award)) else {
            continue;
        };
        if !award.withdrawn {
            assistance += fields.total_assistance.parse::<f64>().unwrap_or_default();
            promised += row.promised;
            found += row.found.parse::<i64>().unwrap_or_default();
        }
        let corrections = histories
            .get(index)
            .into_iter()
            .flatten()
            .filter(|revision| revision.change != "recorded")
            .map(|revision| {
                (
                    long_date(revision.at.as_ref()),
                    revision.change.clone(),
                    revision.reason.clone(),
                )
            })
            .collect();
        awards.push(CompanyAward {
            project: fields.project_name.clone(),
            grant: fields.grant_amount.clone(),
            loan: fields.loan_amount.clone(),
            retain: fields.jobs_to_retain,
            create: fields.jobs_to_create,
            target: fields.jobs_target_date.clone(),
            reviews: award
                .reviews
                .iter()
                .map(|review| {
                    (
                        review.reviewed_on.clone(),
                        review.actual_jobs,
                        review.notes.clone(),
                    )
                })
                .collect(),
            penalty_terms: fields.penalty_terms.clone(),
            withdrawn_reason: award.withdrawn_reason.clone(),
            corrections,
            row,
        });
    }
    let page = CompanyPage {
        layout: Layout::new(&state, ""),
        name,
        exact,
        awards,
        assistance: format_figure(assistance),
        promised,
        found,
    };
    Ok(render(StatusCode::OK, &page))
}
