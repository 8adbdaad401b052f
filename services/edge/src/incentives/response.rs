//! The public shapes of `/api/incentives/`: one flat award record (the JSON object without its
//! reviews is a CSV row), revisions, summaries keyed by dimension name, programs and tax credits.
//! Empty values are left out of JSON and empty in CSV.

use std::collections::BTreeMap;

use opendata_proto::incentives::v1 as pb;
use serde::Serialize;

use super::params::dimension_name;

fn is_empty(text: &str) -> bool {
    text.is_empty()
}

/// An award's values as the public reads them.
#[derive(Debug, Serialize)]
pub struct FieldsJson<'a> {
    /// State fiscal year.
    pub fiscal_year: i32,
    pub company: &'a str,
    #[serde(skip_serializing_if = "is_empty")]
    pub parent_company: &'a str,
    #[serde(skip_serializing_if = "is_empty")]
    pub address: &'a str,
    pub municipality: &'a str,
    #[serde(skip_serializing_if = "is_empty")]
    pub county: &'a str,
    #[serde(skip_serializing_if = "is_empty")]
    pub zip_code: &'a str,
    #[serde(skip_serializing_if = "is_empty")]
    pub industry: &'a str,
    #[serde(skip_serializing_if = "is_empty")]
    pub naics_code: &'a str,
    /// Minority- or women-owned.
    pub minority_or_women_owned: bool,
    #[serde(skip_serializing_if = "is_empty")]
    pub contract_execution_date: &'a str,
    /// Grant.
    pub grant_amount: &'a str,
    /// Loan.
    pub loan_amount: &'a str,
    pub total_assistance: &'a str,
    /// Why the total is not grant + loan.
    #[serde(skip_serializing_if = "is_empty")]
    pub total_mismatch_reason: &'a str,
    #[serde(skip_serializing_if = "is_empty")]
    pub total_project_cost: &'a str,
    #[serde(skip_serializing_if = "is_empty")]
    pub amount_leveraged: &'a str,
    /// Program id.
    pub program: &'a str,
    #[serde(skip_serializing_if = "is_empty")]
    pub statutory_reference: &'a str,
    pub jobs_to_retain: i64,
    pub jobs_to_create: i64,
    /// Target date of the job commitments.
    #[serde(skip_serializing_if = "is_empty")]
    pub jobs_target_date: &'a str,
    #[serde(skip_serializing_if = "is_empty")]
    pub penalty: &'a str,
    #[serde(skip_serializing_if = "is_empty")]
    pub forgiveness_credit: &'a str,
    #[serde(skip_serializing_if = "is_empty")]
    pub amount_disbursed: &'a str,
    #[serde(skip_serializing_if = "is_empty")]
    pub average_wage: &'a str,
    /// Amount recaptured.
    #[serde(skip_serializing_if = "is_empty")]
    pub recapture_amount: &'a str,
    /// Award status.
    pub status: &'a str,
    #[serde(skip_serializing_if = "is_empty")]
    pub project_name: &'a str,
    /// How a penalty was applied.
    #[serde(skip_serializing_if = "is_empty")]
    pub penalty_terms: &'a str,
}

impl<'a> FieldsJson<'a> {
    /// The public view of `fields`.
    pub fn of(fields: &'a pb::AwardFields) -> FieldsJson<'a> {
        FieldsJson {
            fiscal_year: fields.fiscal_year,
            company: &fields.company,
            parent_company: &fields.parent_company,
            address: &fields.address,
            municipality: &fields.municipality,
            county: &fields.county,
            zip_code: &fields.zip_code,
            industry: &fields.industry,
            naics_code: &fields.naics_code,
            minority_or_women_owned: fields.minority_or_women_owned,
            contract_execution_date: &fields.contract_execution_date,
            grant_amount: &fields.grant_amount,
            loan_amount: &fields.loan_amount,
            total_assistance: &fields.total_assistance,
            total_mismatch_reason: &fields.total_mismatch_reason,
            total_project_cost: &fields.total_project_cost,
            amount_leveraged: &fields.amount_leveraged,
            program: &fields.program_id,
            statutory_reference: &fields.statutory_reference,
            jobs_to_retain: fields.jobs_to_retain,
            jobs_to_create: fields.jobs_to_create,
            jobs_target_date: &fields.jobs_target_date,
            penalty: &fields.penalty,
            forgiveness_credit: &fields.forgiveness_credit,
            amount_disbursed: &fields.amount_disbursed,
            average_wage: &fields.average_wage,
            recapture_amount: &fields.recapture_amount,
            status: &fields.status,
            project_name: &fields.project_name,
            penalty_terms: &fields.penalty_terms,
        }
    }
}

/// An award as the public reads it: its values and what follows from them and its reviews. As
/// a JSON object it is a CSV row (see [`CSV_HEADER`]).
#[derive(Debug, Serialize)]
pub struct AwardRecord<'a> {
    /// Award id.
    pub id: &'a str,
    /// The values.
    #[serde(flatten)]
    pub fields: FieldsJson<'a>,
    /// Date of the latest job review.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latest_review_date: Option<&'a str>,
    /// Jobs found at the latest review.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actual_jobs: Option<i64>,
    /// `met`, `not_met`, `pending` or `past_due`.
    pub obligation_status: &'static str,
    /// A penalty applies or the commitment was not met.
    pub penalty_flag: bool,
    /// Money was recaptured.
    pub clawback_flag: bool,
    /// Withdrawn (only single awards can be).
    pub withdrawn: bool,
    pub revision: i64,
}

/// The CSV header: every field of [`AwardRecord`], in order.
pub const CSV_HEADER: &[&str] = &[
    "id",
    "fiscal_year",
    "company",
    "parent_company",
    "address",
    "municipality",
    "county",
    "zip_code",
    "industry",
    "naics_code",
    "minority_or_women_owned",
    "contract_execution_date",
    "grant_amount",
    "loan_amount",
    "total_assistance",
    "total_mismatch_reason",
    "total_project_cost",
    "amount_leveraged",
    "program",
    "statutory_reference",
    "jobs_to_retain",
    "jobs_to_create",
    "jobs_target_date",
    "penalty",
    "forgiveness_credit",
    "amount_disbursed",
    "average_wage",
    "recapture_amount",
    "status",
    "project_name",
    "penalty_terms",
    "latest_review_date",
    "actual_jobs",
    "obligation_status",
    "penalty_flag",
    "clawback_flag",
    "withdrawn",
    "revision",
];

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

impl<'a> AwardRecord<'a> {
    /// The record of `award`, whose values are `fields`.
    pub fn of(award: &'a pb::Award, fields: &'a pb::AwardFields) -> AwardRecord<'a> {
        let latest = award.reviews.iter().max_by_key(|r| r.reviewed_on.as_str());
        AwardRecord {
            id: &award.id,
            fields: FieldsJson::of(fields),
            latest_review_date: latest.map(|r| r.reviewed_on.as_str()),
            actual_jobs: latest.map(|r| r.actual_jobs),
            obligation_status: obligation_name(award.obligation_status()),
            penalty_flag: award.penalty_flag,
            clawback_flag: award.clawback_flag,
            withdrawn: award.withdrawn,
            revision: award.revision,
        }
    }
}

/// The public name of an obligation status.
pub fn obligation_name(status: pb::ObligationStatus) -> &'static str {
    match status {
        pb::ObligationStatus::Met => "met",
        pb::ObligationStatus::NotMet => "not_met",
        pb::ObligationStatus::PastDue => "past_due",
        pb::ObligationStatus::Pending | pb::ObligationStatus::Unspecified => "pending",
    }
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
