//! Reading DECD's published award tables into awards: the Business Assistance Portfolio
//! (`xnw3-nytd`), the Community Development Portfolio (`adkf-vin2`) and the Brownfield Portfolio
//! (`t2xi-dmhg`), each with its own columns. Cells are mapped as published; what the service's
//! rules refuse comes back naming the file, line and field. Funding sources are matched to the
//! programs registry by name.

use std::collections::HashMap;
use std::path::Path;

use chrono::NaiveDate;
use opendata_proto::incentives::v1 as pb;

use crate::client::CliError;

/// The shape of a DECD award table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `xnw3-nytd`: businesses, with job commitments and reviews.
    Portfolio,
    /// `adkf-vin2`: community development projects of towns and non-profits.
    CommunityDevelopment,
    /// `t2xi-dmhg`: brownfield remediation projects.
    Brownfield,
}

/// DECD's award tables in `data/decd/`.
pub const AWARD_FILES: [(&str, Shape); 3] = [
    ("decd/xnw3-nytd_top_records.csv", Shape::Portfolio),
    (
        "decd/adkf-vin2_top_records.csv",
        Shape::CommunityDevelopment,
    ),
    ("decd/t2xi-dmhg_top_records.csv", Shape::Brownfield),
];

/// The awards of one file, with the line each came from.
#[derive(Debug, Default)]
pub struct AwardFile {
    /// The awards.
    pub awards: Vec<pb::NewAward>,
    /// The file line of each award.
    pub lines: Vec<u64>,
}

/// Program ids by lowercase name.
pub struct ProgramNames(HashMap<String, String>);

impl ProgramNames {
    /// The names of `programs`.
    pub fn new(programs: &[pb::Program]) -> Self {
        ProgramNames(
            programs
                .iter()
                .map(|p| (p.name.trim().to_lowercase(), p.id.clone()))
                .collect(),
        )
    }

    fn id(&self, name: &str) -> Option<&str> {
        self.0.get(&name.trim().to_lowercase()).map(String::as_str)
    }
}

/// The file line each record of a table starts on, counting the lines quoted cells span.
pub struct Lines {
    next: u64,
}

impl Default for Lines {
    /// Records start on line 2, after the header.
    fn default() -> Self {
        Lines { next: 2 }
    }
}

impl Lines {
    /// The line `record` starts on (call once per record, in order).
    pub fn start_of(&mut self, record: &csv::StringRecord) -> u64 {
        let line = self.next;
        let inner: usize = record.iter().map(|cell| cell.matches('\n').count()).sum();
        self.next += 1 + inner as u64;
        line
    }
}

/// One record of a table, its cells by column name.
struct Row<'a> {
    file: &'a str,
    line: u64,
    headers: &'a csv::StringRecord,
    record: &'a csv::StringRecord,
}

impl Row<'_> {
    fn at(&self, column: &str) -> String {
        format!("{} line {}, column {column}", self.file, self.line)
    }

    /// The cell of `column` (trimmed); `n/a` and missing columns read as empty.
    fn cell(&self, column: &str) -> String {
        let value = self
            .headers
            .iter()
            .position(|h| h == column)
            .and_then(|i| self.record.get(i))
            .unwrap_or_default()
            .trim();
        if value.eq_ignore_ascii_case("n/a") {
            String::new()
        } else {
            value.to_owned()
        }
    }

    fn year(&self, column: &str) -> Result<i32, CliError> {
        let text = self.cell(column);
        text.parse()
            .map_err(|_| format!("{}: {text:?} is not a year", self.at(column)).into())
    }

    /// A whole count; empty is zero (`132.0` is 132).
    fn count(&self, column: &str) -> Result<i64, CliError> {
        let text = self.cell(column).replace(',', "");
        if text.is_empty() {
            return Ok(0);
        }
        match text.parse::<f64>() {
            Ok(value) if value.fract() == 0.0 && value.abs() < 1e12 => Ok(value as i64),
            _ => Err(format!("{}: {text:?} is not a whole number", self.at(column)).into()),
        }
    }

    fn flag(&self, column: &str) -> Result<bool, CliError> {
        match self.cell(column).to_lowercase().as_str() {
            "yes" | "y" | "true" => Ok(true),
            "no" | "n" | "false" | "" => Ok(false),
            other => Err(format!("{}: {other:?} is not yes or no", self.at(column)).into()),
        }
    }

    fn program(&self, programs: &ProgramNames) -> Result<String, CliError> {
        let name = self.cell("funding_source");
        programs.id(&name).map(str::to_owned).ok_or_else(|| {
            format!(
                "{}: {name:?} is not a program of the registry (data/incentives/programs.json)",
                self.at("funding_source")
            )
            .into()
        })
    }
}

/// A penalty cell as published: an amount (`$16,000`), an amount with words (`$16,000 paid`),
/// or words only (`Rate increase from 2% to 4.5%`); the amount and the terms.
pub fn penalty(text: &str) -> (String, String) {
    let text = text.trim();
    let amount: String = text
        .split_whitespace()
        .next()
        .filter(|first| {
            first.starts_with('$') || first.chars().next().is_some_and(|c| c.is_ascii_digit())
        })
        .filter(|first| {
            first
                .trim_start_matches('$')
                .chars()
                .all(|c| c.is_ascii_digit() || c == ',' || c == '.')
        })
        .unwrap_or_default()
        .to_owned();
    let terms = if amount == text { "" } else { text };
    (amount, terms.to_owned())
}

/// Reads one of DECD's award tables.
pub fn read_awards(
    path: &Path,
    shape: Shape,
    programs: &ProgramNames,
    today: NaiveDate,
) -> Result<AwardFile, CliError> {
    let file = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut reader =
        csv::Reader::from_path(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let headers = reader
        .headers()
        .map_err(|e| format!("{file}: {e}"))?
        .clone();
    let mut parsed = AwardFile::default();
    let mut lines = Lines::default();
    for record in reader.records() {
        let record = record.map_err(|e| format!("{file}: {e}"))?;
        let row = Row {
            file: &file,
            line: lines.start_of(&record),
            headers: &headers,
            record: &record,
        };
        let award = match shape {
            Shape::Portfolio => portfolio(&row, programs, today)?,
            Shape::CommunityDevelopment => community(&row, programs)?,
            Shape::Brownfield => brownfield(&row, programs)?,
        };
        parsed.awards.push(award);
        parsed.lines.push(row.line);
    }
    Ok(parsed)
}

fn money_columns(row: &Row<'_>, fields: &mut pb::AwardFields) {
    fields.grant_amount = row.cell("grant_amount");
    fields.loan_amount = row.cell("loan_amount");
    fields.total_assistance = row.cell("total_assistance");
    fields.total_project_cost = row.cell("total_project_cost");
    fields.statutory_reference = row.cell("statutory_reference");
}

fn portfolio(
    row: &Row<'_>,
    programs: &ProgramNames,
    today: NaiveDate,
) -> Result<pb::NewAward, CliError> {
    let (penalty, penalty_terms) = penalty(&row.cell("job_penalty_if_applicable"));
    let mut fields = pb::AwardFields {
        fiscal_year: row.year("fiscal_year")?,
        company: row.cell("company"),
        address: row.cell("address"),
        municipality: row.cell("municipality"),
        county: row.cell("county_1"),
        zip_code: row.cell("zip_code"),
        industry: row.cell("industry"),
        naics_code: row.cell("naics_code"),
        minority_or_women_owned: row.flag("minority_or_women_owned")?,
        contract_execution_date: row.cell("contract_execution_date"),
        amount_leveraged: row.cell("amount_leveraged"),
        program_id: row.program(programs)?,
        jobs_to_retain: row.count("contract_requirement_jobs_to_be_retained")?,
        jobs_to_create: row.count("contract_requirement_jobs_to_be_created")?,
        jobs_target_date: row.cell("contract_requirement_target_date"),
        penalty,
        penalty_terms,
        forgiveness_credit: row.cell("forgiveness_credit_if_applicable"),
        status: row.cell("status"),
        ..Default::default()
    };
    money_columns(row, &mut fields);
    // The portfolio gives the jobs found at the latest review but not its date: the review is
    // dated at the target date (or today, when that is still ahead).
    let reviews = match row.cell("actual_jobs_at_time_of_review").as_str() {
        "" => Vec::new(),
        _ => {
            let target = crate::incentives::date(&fields.jobs_target_date);
            let on = target.filter(|t| *t <= today).unwrap_or(today);
            vec![pb::JobReview {
                reviewed_on: on.to_string(),
                actual_jobs: row.count("actual_jobs_at_time_of_review")?,
                notes: "from DECD's portfolio; review dated at the target date".to_owned(),
            }]
        }
    };
    Ok(pb::NewAward {
        fields: Some(fields),
        reviews,
    })
}

fn community(row: &Row<'_>, programs: &ProgramNames) -> Result<pb::NewAward, CliError> {
    let fields = pb::AwardFields {
        fiscal_year: row.year("fiscal_year")?,
        company: row.cell("applicant"),
        address: row.cell("address"),
        municipality: row.cell("municipality"),
        zip_code: row.cell("zip_code"),
        industry: "Community Development".to_owned(),
        project_name: row.cell("project_name"),
        contract_execution_date: row.cell("closing_date"),
        amount_leveraged: row.cell("amount_leveraged"),
        program_id: row.program(programs)?,
        ..Default::default()
    };
    Ok(project(row, fields))
}

fn brownfield(row: &Row<'_>, programs: &ProgramNames) -> Result<pb::NewAward, CliError> {
    let fields = pb::AwardFields {
        fiscal_year: row.year("fiscal_year")?,
        company: row.cell("applicant"),
        address: row.cell("applicant_address"),
        municipality: row.cell("project_municipality"),
        county: row.cell("project_county"),
        zip_code: row.cell("project_zip_code"),
        industry: "Brownfield Remediation".to_owned(),
        project_name: row.cell("project_name"),
        contract_execution_date: row.cell("contract_execution_date"),
        amount_leveraged: row.cell("other_project_funds"),
        program_id: row.program(programs)?,
        ..Default::default()
    };
    Ok(project(row, fields))
}

/// A project award (no job commitments) with the money columns every table shares.
fn project(row: &Row<'_>, mut fields: pb::AwardFields) -> pb::NewAward {
    money_columns(row, &mut fields);
    pb::NewAward {
        fields: Some(fields),
        reviews: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_count_cells_that_span_lines() {
        let data = "a,b\n1,2\n\"x\ny\",3\n4,5\n";
        let mut reader = csv::Reader::from_reader(data.as_bytes());
        let mut lines = Lines::default();
        let starts: Vec<u64> = reader
            .records()
            .map(|r| lines.start_of(&r.unwrap()))
            .collect();
        assert_eq!(starts, [2, 3, 5]);
    }

    #[test]
    fn penalties_split_into_amount_and_terms() {
        assert_eq!(
            penalty("$16,000 paid"),
            ("$16,000".into(), "$16,000 paid".into())
        );
        assert_eq!(penalty("16000"), ("16000".into(), String::new()));
        assert_eq!(
            penalty("Rate increase from 2% to 4.5%"),
            (String::new(), "Rate increase from 2% to 4.5%".into())
        );
        assert_eq!(penalty(""), (String::new(), String::new()));
    }
}
