//! The award table's columns as a portal dataset (`decd-awrd`), in one table: each column's name,
//! type and description (the dataset's schema) and how a row's value is read from an award (the
//! rows pushed through ingestion).

use chrono::NaiveDate;
use opendata_proto::common::v1::{Column, ColumnType};

use crate::money::Money;
use crate::obligation::{LatestReview, Standing};
use crate::store::StoredAward;

/// An award as a dataset row reads it: with its latest review and where it stands on the day of
/// the push.
pub struct RowSource<'a> {
    award: &'a StoredAward,
    latest: Option<LatestReview>,
    standing: Standing,
}

/// One column of the dataset.
pub struct DatasetColumn {
    /// Display name (the catalog derives the field name: `Award ID` is `award_id`).
    pub name: &'static str,
    pub column_type: ColumnType,
    pub description: &'static str,
    /// Its value in a row.
    value: fn(&RowSource<'_>) -> String,
}

fn money(value: Option<Money>) -> String {
    value.map(|m| m.to_string()).unwrap_or_default()
}

fn date(value: Option<NaiveDate>) -> String {
    value.map(|d| d.to_string()).unwrap_or_default()
}

/// The dataset's columns, in order.
pub const COLUMNS: &[DatasetColumn] = &[
    DatasetColumn {
        name: "Award ID",
        column_type: ColumnType::Text,
        description: "Identifier of the award in DECD's database",
        value: |r| r.award.id.to_string(),
    },
    DatasetColumn {
        name: "Fiscal Year",
        column_type: ColumnType::Number,
        description: "State fiscal year (2017 is July 2016 to June 2017)",
        value: |r| r.award.fields.fiscal_year.to_string(),
    },
    DatasetColumn {
        name: "Company",
        column_type: ColumnType::Text,
        description: "Recipient",
        value: |r| r.award.fields.company.clone(),
    },
    DatasetColumn {
        name: "Parent Company",
        column_type: ColumnType::Text,
        description: "Recipient's parent company",
        value: |r| r.award.fields.parent_company.clone(),
    },
    DatasetColumn {
        name: "Project Name",
        column_type: ColumnType::Text,
        description: "Project, for project awards",
        value: |r| r.award.fields.project_name.clone(),
    },
    DatasetColumn {
        name: "Address",
        column_type: ColumnType::Text,
        description: "Street address",
        value: |r| r.award.fields.address.clone(),
    },
    DatasetColumn {
        name: "Municipality",
        column_type: ColumnType::Text,
        description: "Municipality",
        value: |r| r.award.fields.municipality.clone(),
    },
    DatasetColumn {
        name: "County",
        column_type: ColumnType::Text,
        description: "County",
        value: |r| r.award.fields.county.clone(),
    },
    DatasetColumn {
        name: "ZIP Code",
        column_type: ColumnType::Text,
        description: "ZIP code",
        value: |r| r.award.fields.zip_code.clone(),
    },
    DatasetColumn {
        name: "Industry",
        column_type: ColumnType::Text,
        description: "Industry",
        value: |r| r.award.fields.industry.clone(),
    },
    DatasetColumn {
        name: "NAICS Code",
        column_type: ColumnType::Text,
        description: "NAICS code",
        value: |r| r.award.fields.naics_code.clone(),
    },
    DatasetColumn {
        name: "Minority or Women Owned",
        column_type: ColumnType::Checkbox,
        description: "Minority- or women-owned business",
        value: |r| r.award.fields.minority_or_women_owned.to_string(),
    },
    DatasetColumn {
        name: "Contract Execution Date",
        column_type: ColumnType::CalendarDate,
        description: "When the contract was executed",
        value: |r| date(r.award.fields.contract_execution_date),
    },
    DatasetColumn {
        name: "Grant Amount",
        column_type: ColumnType::Number,
        description: "Grant, in dollars",
        value: |r| r.award.fields.grant.to_string(),
    },
    DatasetColumn {
        name: "Loan Amount",
        column_type: ColumnType::Number,
        description: "Loan, in dollars",
        value: |r| r.award.fields.loan.to_string(),
    },
    DatasetColumn {
        name: "Total Assistance",
        column_type: ColumnType::Number,
        description: "Total assistance, in dollars",
        value: |r| r.award.fields.total.to_string(),
    },
    DatasetColumn {
        name: "Total Mismatch Reason",
        column_type: ColumnType::Text,
        description: "Why total assistance is not grant + loan",
        value: |r| r.award.fields.total_mismatch_reason.clone(),
    },
    DatasetColumn {
        name: "Total Project Cost",
        column_type: ColumnType::Number,
        description: "Total project cost, in dollars",
        value: |r| money(r.award.fields.total_project_cost),
    },
    DatasetColumn {
        name: "Amount Leveraged",
        column_type: ColumnType::Number,
        description: "Other funds the award leveraged, in dollars",
        value: |r| money(r.award.fields.amount_leveraged),
    },
    DatasetColumn {
        name: "Program",
        column_type: ColumnType::Text,
        description: "Funding program id (see /api/incentives/programs)",
        value: |r| r.award.fields.program_id.clone(),
    },
    DatasetColumn {
        name: "Statutory Reference",
        column_type: ColumnType::Text,
        description: "Statute of the program",
        value: |r| r.award.fields.statutory_reference.clone(),
    },
    DatasetColumn {
        name: "Jobs to Retain",
        column_type: ColumnType::Number,
        description: "Jobs the company committed to retain",
        value: |r| r.award.fields.jobs_to_retain.to_string(),
    },
    DatasetColumn {
        name: "Jobs to Create",
        column_type: ColumnType::Number,
        description: "Jobs the company committed to create",
        value: |r| r.award.fields.jobs_to_create.to_string(),
    },
    DatasetColumn {
        name: "Jobs Target Date",
        column_type: ColumnType::CalendarDate,
        description: "When the job commitments are due",
        value: |r| date(r.award.fields.jobs_target_date),
    },
    DatasetColumn {
        name: "Latest Review Date",
        column_type: ColumnType::CalendarDate,
        description: "Date of the latest job review",
        value: |r| date(r.latest.map(|review| review.on)),
    },
    DatasetColumn {
        name: "Actual Jobs",
        column_type: ColumnType::Number,
        description: "Jobs found at the latest review",
        value: |r| {
            r.latest
                .map(|review| review.actual_jobs.to_string())
                .unwrap_or_default()
        },
    },
    DatasetColumn {
        name: "Obligation Status",
        column_type: ColumnType::Text,
        description: "met, not met, pending or past due, as of the push",
        value: |r| r.standing.obligation.as_str().replace('_', " "),
    },
    DatasetColumn {
        name: "Penalty Flag",
        column_type: ColumnType::Checkbox,
        description: "A penalty applies or the commitment was not met",
        value: |r| r.standing.penalty_flag.to_string(),
    },
    DatasetColumn {
        name: "Clawback Flag",
        column_type: ColumnType::Checkbox,
        description: "Money was recaptured",
        value: |r| r.standing.clawback_flag.to_string(),
    },
    DatasetColumn {
        name: "Penalty",
        column_type: ColumnType::Number,
        description: "Penalty, in dollars",
        value: |r| money(r.award.fields.penalty),
    },
    DatasetColumn {
        name: "Penalty Terms",
        column_type: ColumnType::Text,
        description: "How a penalty was applied",
        value: |r| r.award.fields.penalty_terms.clone(),
    },
    DatasetColumn {
        name: "Forgiveness Credit",
        column_type: ColumnType::Number,
        description: "Loan forgiveness credited, in dollars",
        value: |r| money(r.award.fields.forgiveness_credit),
    },
    DatasetColumn {
        name: "Amount Disbursed",
        column_type: ColumnType::Number,
        description: "Amount disbursed so far, in dollars",
        value: |r| money(r.award.fields.amount_disbursed),
    },
    DatasetColumn {
        name: "Average Wage",
        column_type: ColumnType::Number,
        description: "Average wage of the committed jobs, in dollars",
        value: |r| money(r.award.fields.average_wage),
    },
    DatasetColumn {
        name: "Recapture Amount",
        column_type: ColumnType::Number,
        description: "Amount recaptured, in dollars",
        value: |r| money(r.award.fields.recapture_amount),
    },
    DatasetColumn {
        name: "Status",
        column_type: ColumnType::Text,
        description: "Award status",
        value: |r| r.award.fields.status.clone(),
    },
    DatasetColumn {
        name: "Revision",
        column_type: ColumnType::Number,
        description: "Revision of the award (each correction adds one)",
        value: |r| r.award.revision.to_string(),
    },
];

/// The dataset's schema columns.
pub fn schema_columns() -> Vec<Column> {
    COLUMNS
        .iter()
        .map(|column| Column {
            display_name: column.name.to_owned(),
            r#type: column.column_type as i32,
            description: column.description.to_owned(),
            ..Default::default()
        })
        .collect()
}

/// The header of the pushed file: the display names.
pub fn header() -> impl Iterator<Item = &'static str> {
    COLUMNS.iter().map(|column| column.name)
}

/// The row of an award as of `today`, in [`COLUMNS`] order.
pub fn row(award: &StoredAward, today: NaiveDate) -> Vec<String> {
    let source = RowSource {
        award,
        latest: award.latest_review(),
        standing: award.standing(today),
    };
    COLUMNS
        .iter()
        .map(|column| (column.value)(&source))
        .collect()
}
