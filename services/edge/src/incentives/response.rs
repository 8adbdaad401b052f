//! The public shapes of `/api/incentives/`: an award (its flat record, see [`super::record`], with
//! its reviews), revisions, summaries keyed by dimension name, programs and tax credits. Empty
//! values are left out of JSON.

use std::collections::BTreeMap;

use opendata_proto::incentives::v1 as pb;
use serde::Serialize;

use super::params::dimension_name;
use super::record::{AwardRecord, FieldsJson};

fn is_empty(text: &str) -> bool {
    text.is_empty()
}

/// A job review.
#[derive(Debug, Serialize)]
pub struct ReviewJson<'a> {
    /// Review date.
    pub reviewed_on: &'a str,
    /// Jobs found.
    pub actual_jobs: i64,
    #[serde(skip_serializing_if = "is_empty")]
    pub notes: &'a str,
}

/// An award with its reviews.
#[derive(Debug, Serialize)]
pub struct AwardJson<'a> {
    /// The flat record.
    #[serde(flatten)]
    pub record: AwardRecord<'a>,
    /// Job reviews, oldest first.
    pub reviews: Vec<ReviewJson<'a>>,
}

/// The reviews of an award.
pub fn reviews(award: &pb::Award) -> Vec<ReviewJson<'_>> {
    award
        .reviews
        .iter()
        .map(|r| ReviewJson {
            reviewed_on: &r.reviewed_on,
            actual_jobs: r.actual_jobs,
            notes: &r.notes,
        })
        .collect()
}

/// A page of awards.
#[derive(Debug, Serialize)]
pub struct AwardPage<'a> {
    /// The awards.
    pub results: Vec<AwardJson<'a>>,
    /// Matching awards in all.
    pub total: u64,
    /// Awards skipped.
    pub offset: u32,
    /// Page size.
    pub limit: u32,
    /// Who matched `company`, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company_search: Option<super::CompanySearch>,
}

/// One revision of an award.
#[derive(Debug, Serialize)]
pub struct RevisionJson<'a> {
    /// Revision number.
    pub revision: i64,
    /// `recorded`, `corrected`, `job_review` or `withdrawn`.
    pub change: &'a str,
    /// Who.
    pub actor_id: &'a str,
    /// Why.
    #[serde(skip_serializing_if = "is_empty")]
    pub reason: &'a str,
    /// When (RFC 3339).
    pub at: String,
    /// The values at this revision.
    pub fields: FieldsJson<'a>,
}

/// One group of a summary: its keys by dimension name, then the totals.
#[derive(Debug, Serialize)]
pub struct SummaryRowJson<'a> {
    /// Keys by dimension name (and `program_name` for programs).
    #[serde(flatten)]
    pub keys: BTreeMap<String, &'a str>,
    /// Awards.
    pub award_count: u64,
    /// Sum of grants.
    pub grant_total: &'a str,
    /// Sum of loans.
    pub loan_total: &'a str,
    /// Sum of total assistance.
    pub assistance_total: &'a str,
    pub jobs_promised: i64,
    /// Jobs found at the latest reviews.
    pub jobs_actual: i64,
}

/// A summary.
#[derive(Debug, Serialize)]
pub struct SummaryJson<'a> {
    /// The dimensions, in order.
    pub by: Vec<&'static str>,
    /// Groups, ordered by keys.
    pub rows: Vec<SummaryRowJson<'a>>,
    /// Who matched `company`, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company_search: Option<super::CompanySearch>,
}

impl<'a> SummaryRowJson<'a> {
    /// The row of `row`, whose keys follow `by`.
    pub fn of(row: &'a pb::SummaryRow, by: &[pb::SummaryDimension]) -> SummaryRowJson<'a> {
        let mut keys = BTreeMap::new();
        for ((dimension, key), label) in by.iter().zip(&row.keys).zip(&row.labels) {
            keys.insert(dimension_name(*dimension).to_owned(), key.as_str());
            if *dimension == pb::SummaryDimension::Program {
                keys.insert("program_name".to_owned(), label.as_str());
            }
        }
        SummaryRowJson {
            keys,
            award_count: row.award_count,
            grant_total: &row.grant_total,
            loan_total: &row.loan_total,
            assistance_total: &row.assistance_total,
            jobs_promised: row.jobs_promised,
            jobs_actual: row.jobs_actual,
        }
    }
}

/// A program.
#[derive(Debug, Serialize)]
pub struct ProgramJson<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub statutory_reference: &'a str,
    pub assistance_types: &'a [String],
    pub administering_agency: &'a str,
}

/// A tax credit figure.
#[derive(Debug, Serialize)]
pub struct TaxCreditJson<'a> {
    /// Income year.
    pub year: i32,
    pub credit_type: &'a str,
    /// Tax.
    pub tax_type: &'a str,
    /// Taxpayers claiming.
    pub claim_count: i64,
    pub amount_claimed: &'a str,
    pub amount_carried_forward: &'a str,
}
