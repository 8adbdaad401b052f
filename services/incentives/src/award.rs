//! An award's values as DECD records them, parsed from the wire with every rule checked at once:
//! amounts non-negative, total assistance equal to grant + loan (or a stated reason), plausible
//! dates, NAICS codes of 2 to 6 digits, a known program, names within `TEXT_NAME` and reasons,
//! terms and references within `TEXT_PARAGRAPH`, no NUL character anywhere. Each broken rule
//! names its field.

use chrono::{Datelike as _, NaiveDate};
use opendata_limits::{Limit, TEXT_NAME, TEXT_PARAGRAPH, excerpt};
use opendata_proto::incentives::v1 as pb;
use serde::{Deserialize, Serialize};

use crate::error::Violations;
use crate::money::Money;

/// Earliest date an award, review or target may carry.
const EARLIEST: NaiveDate = match NaiveDate::from_ymd_opt(1980, 1, 1) {
    Some(date) => date,
    None => unreachable!(),
};
/// Most jobs one commitment may count.
pub const MAX_JOBS: i64 = 10_000_000;
/// Latest year a job target may fall in.
const LAST_TARGET_YEAR: i32 = 2100;

/// The values of an award (current, or at one revision).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AwardFields {
    /// State fiscal year (2017 is July 2016 to June 2017).
    pub fiscal_year: i32,
    /// Company name.
    pub company: String,
    /// Parent company, or empty.
    pub parent_company: String,
    /// Street address.
    pub address: String,
    pub municipality: String,
    pub county: String,
    pub zip_code: String,
    pub industry: String,
    /// NAICS code (2 to 6 digits), or empty.
    pub naics_code: String,
    /// Minority- or women-owned business.
    pub minority_or_women_owned: bool,
    pub contract_execution_date: Option<NaiveDate>,
    pub grant: Money,
    pub loan: Money,
    /// Total assistance.
    pub total: Money,
    /// Why the total differs from grant + loan, or empty.
    pub total_mismatch_reason: String,
    pub total_project_cost: Option<Money>,
    pub amount_leveraged: Option<Money>,
    /// Program (funding source) id.
    pub program_id: String,
    pub statutory_reference: String,
    pub jobs_to_retain: i64,
    pub jobs_to_create: i64,
    /// Target date of the job commitments.
    pub jobs_target_date: Option<NaiveDate>,
    /// Penalty applied.
    pub penalty: Option<Money>,
    /// Forgiveness credit granted.
    pub forgiveness_credit: Option<Money>,
    /// Amount disbursed so far.
    pub amount_disbursed: Option<Money>,
    /// Average wage of the committed jobs.
    pub average_wage: Option<Money>,
    /// Amount recaptured (clawback).
    pub recapture_amount: Option<Money>,
    /// Award status (`Active`, `Closed`, ...).
    pub status: String,
    /// Project name, for project awards.
    #[serde(default)]
    pub project_name: String,
    /// How a penalty was applied when it is not only a sum.
    #[serde(default)]
    pub penalty_terms: String,
}

/// What the rules need to know besides the values.
#[derive(Debug, Clone, Copy)]
pub struct Context {
    pub today: NaiveDate,
    /// Whether the program named exists in the registry.
    pub program_exists: bool,
}

/// The state fiscal year `date` falls in (July to June, named by the year it ends).
pub fn fiscal_year_of(date: NaiveDate) -> i32 {
    if date.month() >= 7 {
        date.year() + 1
    } else {
        date.year()
    }
}

/// Parses a date as DECD publishes them: `2016-09-16`, `2016-09-16T00:00:00` or `09/16/2016`;
/// `None` for an empty text.
pub fn parse_date(text: &str) -> Result<Option<NaiveDate>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let day = text.split_once('T').map_or(text, |(day, _)| day);
    NaiveDate::parse_from_str(day, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(day, "%m/%d/%Y"))
        .map(Some)
        .map_err(|_| format!("is not a date (YYYY-MM-DD): {:?}", excerpt(text)))
}

/// Collects violations while fields are parsed, each field named `fields.<name>`.
#[derive(Default)]
pub struct Checks(Violations);

impl Checks {
    /// Records that `field` is wrong.
    pub fn add(&mut self, field: &str, description: impl Into<String>) {
        self.0.add(&format!("fields.{field}"), description);
    }

    /// `text` trimmed, recording it when it goes past `limit` or holds a NUL character.
    pub fn text(&mut self, field: &str, text: &str, limit: Limit) -> String {
        let value = text.trim();
        self.0.text(&format!("fields.{field}"), value, limit);
        value.to_owned()
    }

    /// The violations, if any.
    pub fn into_result<T>(self, value: T) -> Result<T, Violations> {
        self.0.into_result(value)
    }

    fn money(&mut self, field: &str, text: &str) -> Option<Money> {
        Money::parse(text).unwrap_or_else(|error| {
            self.add(field, error.to_string());
            None
        })
    }

    fn date(&mut self, field: &str, text: &str) -> Option<NaiveDate> {
        parse_date(text).unwrap_or_else(|error| {
            self.add(field, error);
            None
        })
    }

    /// Like [`Checks::text`], and recording an empty text as missing.
    fn required(&mut self, field: &str, text: &str, limit: Limit) -> String {
        let value = self.text(field, text, limit);
        if value.is_empty() {
            self.add(field, "is required");
        }
        value
    }

    fn jobs(&mut self, field: &str, count: i64) -> i64 {
        if count < 0 {
            self.add(field, "must not be negative");
        } else if count > MAX_JOBS {
            self.add(
                field,
                format!("{count} is implausibly large (at most {MAX_JOBS})"),
            );
        }
        count.clamp(0, MAX_JOBS)
    }

    /// `date` if it falls between `from` and `to`; else records why and gives `None`.
    fn between(
        &mut self,
        field: &str,
        date: Option<NaiveDate>,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Option<NaiveDate> {
        let date = date?;
        if date < from || date > to {
            self.add(
                field,
                format!("{date} is not plausible: expected {from} to {to}"),
            );
            return None;
        }
        Some(date)
    }
}

impl AwardFields {
    /// The values of `fields`, or every rule they break.
    pub fn parse(fields: &pb::AwardFields, context: Context) -> Result<AwardFields, Violations> {
        let mut v = Checks::default();
        let latest_fiscal_year = fiscal_year_of(context.today) + 1;
        if !(EARLIEST.year()..=latest_fiscal_year).contains(&fields.fiscal_year) {
            v.add(
                "fiscal_year",
                format!(
                    "{} is not plausible: expected {} to {latest_fiscal_year}",
                    fields.fiscal_year,
                    EARLIEST.year()
                ),
            );
        }
        let company = v.required("company", &fields.company, TEXT_NAME);
        let municipality = v.required("municipality", &fields.municipality, TEXT_NAME);
        let naics_code = fields.naics_code.trim().to_owned();
        let naics_ok = naics_code.is_empty()
            || ((2..=6).contains(&naics_code.len())
                && naics_code.bytes().all(|b| b.is_ascii_digit()));
        if !naics_ok {
            v.add(
                "naics_code",
                format!(
                    "{:?} is not a NAICS code: 2 to 6 digits",
                    excerpt(&naics_code)
                ),
            );
        }
        let zip_code = fields.zip_code.trim().to_owned();
        if !zip_code.is_empty() && !is_zip(&zip_code) {
            v.add(
                "zip_code",
                format!(
                    "{:?} is not a ZIP code (12345 or 12345-6789)",
                    excerpt(&zip_code)
                ),
            );
        }
        let contract_execution_date =
            v.date("contract_execution_date", &fields.contract_execution_date);
        let latest_contract = context.today + chrono::Duration::days(366);
        let plausible_contract = v.between(
            "contract_execution_date",
            contract_execution_date,
            EARLIEST,
            latest_contract,
        );
        let jobs_target_date = v.date("jobs_target_date", &fields.jobs_target_date);
        let last_target = NaiveDate::from_ymd_opt(LAST_TARGET_YEAR, 12, 31).unwrap_or(EARLIEST);
        let plausible_target =
            v.between("jobs_target_date", jobs_target_date, EARLIEST, last_target);
        if let (Some(contract), Some(target)) = (plausible_contract, plausible_target)
            && target < contract
        {
            v.add(
                "jobs_target_date",
                format!("{target} is before the contract execution date {contract}"),
            );
        }
        let amount_errors = v.0.fields.len();
        let grant = v
            .money("grant_amount", &fields.grant_amount)
            .unwrap_or(Money::ZERO);
        let loan = v
            .money("loan_amount", &fields.loan_amount)
            .unwrap_or(Money::ZERO);
        // Checked against the total only when both parsed: a bad grant is its own error.
        let sum = if v.0.fields.len() == amount_errors {
            grant.checked_add(loan)
        } else {
            None
        };
        let total = v
            .money("total_assistance", &fields.total_assistance)
            .or(sum);
        let total_mismatch_reason = v.text(
            "total_mismatch_reason",
            &fields.total_mismatch_reason,
            TEXT_PARAGRAPH,
        );
        if let (Some(total), Some(sum)) = (total, sum)
            && total != sum
            && total_mismatch_reason.is_empty()
        {
            v.add(
                    "total_assistance",
                    format!(
                        "{total} is not grant + loan ({sum}); correct it or say why in total_mismatch_reason"
                    ),
                );
        }
        let jobs_to_retain = v.jobs("jobs_to_retain", fields.jobs_to_retain);
        let jobs_to_create = v.jobs("jobs_to_create", fields.jobs_to_create);
        if jobs_to_retain + jobs_to_create > 0 && fields.jobs_target_date.trim().is_empty() {
            v.add("jobs_target_date", "is required when jobs are promised");
        }
        let program_errors = v.0.fields.len();
        let program_id = v.required("program_id", &fields.program_id, TEXT_NAME);
        if v.0.fields.len() == program_errors && !context.program_exists {
            v.add(
                "program_id",
                format!("{program_id:?} is not a known program"),
            );
        }
        let parsed = AwardFields {
            fiscal_year: fields.fiscal_year,
            company,
            parent_company: v.text("parent_company", &fields.parent_company, TEXT_NAME),
            address: v.text("address", &fields.address, TEXT_NAME),
            municipality,
            county: v.text("county", &fields.county, TEXT_NAME),
            zip_code,
            industry: v.text("industry", &fields.industry, TEXT_NAME),
            naics_code,
            minority_or_women_owned: fields.minority_or_women_owned,
            contract_execution_date,
            grant,
            loan,
            total: total.unwrap_or(Money::ZERO),
            total_mismatch_reason,
            total_project_cost: v.money("total_project_cost", &fields.total_project_cost),
            amount_leveraged: v.money("amount_leveraged", &fields.amount_leveraged),
            program_id,
            statutory_reference: v.text(
                "statutory_reference",
                &fields.statutory_reference,
                TEXT_PARAGRAPH,
            ),
            jobs_to_retain,
            jobs_to_create,
            jobs_target_date,
            penalty: v.money("penalty", &fields.penalty),
            forgiveness_credit: v.money("forgiveness_credit", &fields.forgiveness_credit),
            amount_disbursed: v.money("amount_disbursed", &fields.amount_disbursed),
            average_wage: v.money("average_wage", &fields.average_wage),
            recapture_amount: v.money("recapture_amount", &fields.recapture_amount),
            status: match v.text("status", &fields.status, TEXT_NAME) {
                status if status.is_empty() => "Active".to_owned(),
                status => status,
            },
            project_name: v.text("project_name", &fields.project_name, TEXT_NAME),
            penalty_terms: v.text("penalty_terms", &fields.penalty_terms, TEXT_PARAGRAPH),
        };
        v.into_result(parsed)
    }

    /// Jobs promised: retained plus created.
    pub fn jobs_promised(&self) -> i64 {
        self.jobs_to_retain + self.jobs_to_create
    }

    /// The values on the wire.
    pub fn to_proto(&self) -> pb::AwardFields {
        let money = |m: Option<Money>| m.map(|m| m.to_string()).unwrap_or_default();
        let date = |d: Option<NaiveDate>| d.map(|d| d.to_string()).unwrap_or_default();
        pb::AwardFields {
            fiscal_year: self.fiscal_year,
            company: self.company.clone(),
            parent_company: self.parent_company.clone(),
            address: self.address.clone(),
            municipality: self.municipality.clone(),
            county: self.county.clone(),
            zip_code: self.zip_code.clone(),
            industry: self.industry.clone(),
            naics_code: self.naics_code.clone(),
            minority_or_women_owned: self.minority_or_women_owned,
            contract_execution_date: date(self.contract_execution_date),
            grant_amount: self.grant.to_string(),
            loan_amount: self.loan.to_string(),
            total_assistance: self.total.to_string(),
            total_mismatch_reason: self.total_mismatch_reason.clone(),
            total_project_cost: money(self.total_project_cost),
            amount_leveraged: money(self.amount_leveraged),
            program_id: self.program_id.clone(),
            statutory_reference: self.statutory_reference.clone(),
            jobs_to_retain: self.jobs_to_retain,
            jobs_to_create: self.jobs_to_create,
            jobs_target_date: date(self.jobs_target_date),
            penalty: money(self.penalty),
            forgiveness_credit: money(self.forgiveness_credit),
            amount_disbursed: money(self.amount_disbursed),
            average_wage: money(self.average_wage),
            recapture_amount: money(self.recapture_amount),
            status: self.status.clone(),
            project_name: self.project_name.clone(),
            penalty_terms: self.penalty_terms.clone(),
        }
    }
}

fn is_zip(zip: &str) -> bool {
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    match zip.split_once('-') {
        Some((five, four)) => digits(five, 5) && digits(four, 4),
        None => digits(zip, 5),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context() -> Context {
        Context {
            today: NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(),
            program_exists: true,
        }
    }

    fn valid() -> pb::AwardFields {
        pb::AwardFields {
            fiscal_year: 2017,
            company: " 1st Alliance Lending, LLC ".into(),
            municipality: "Putnam".into(),
            naics_code: "522310".into(),
            zip_code: "06260".into(),
            contract_execution_date: "2016-09-16T00:00:00".into(),
            grant_amount: "0".into(),
            loan_amount: "6,000,000".into(),
            total_assistance: "6000000".into(),
            program_id: "maa".into(),
            jobs_to_retain: 132,
            jobs_to_create: 168,
            jobs_target_date: "2018-12-31".into(),
            ..Default::default()
        }
    }

    fn fields_of(violations: &Violations) -> Vec<&str> {
        violations.fields.iter().map(|v| v.field.as_str()).collect()
    }

    #[test]
    fn a_published_award_parses() {
        let award = AwardFields::parse(&valid(), context()).unwrap();
        assert_eq!(award.company, "1st Alliance Lending, LLC");
        assert_eq!(award.total.to_string(), "6000000.00");
        assert_eq!(award.status, "Active");
        assert_eq!(award.jobs_promised(), 300);
        assert_eq!(award.to_proto().contract_execution_date, "2016-09-16");
    }

    #[test]
    fn every_broken_rule_is_named_at_once() {
        let fields = pb::AwardFields {
            fiscal_year: 1890,
            company: " ".into(),
            naics_code: "5223101".into(),
            grant_amount: "-5".into(),
            loan_amount: "1.234".into(),
            contract_execution_date: "2016-13-01".into(),
            jobs_target_date: "2015-01-01".into(),
            jobs_to_create: -1,
            zip_code: "6260".into(),
            ..valid()
        };
        let violations = AwardFields::parse(
            &fields,
            Context {
                program_exists: false,
                ..context()
            },
        )
        .unwrap_err();
        assert_eq!(
            fields_of(&violations),
            [
                "fields.fiscal_year",
                "fields.company",
                "fields.naics_code",
                "fields.zip_code",
                "fields.contract_execution_date",
                "fields.grant_amount",
                "fields.loan_amount",
                "fields.jobs_to_create",
                "fields.program_id",
            ]
        );
        assert!(
            violations.fields[5].description.contains("negative"),
            "{violations:?}"
        );
        assert!(
            violations.fields[8]
                .description
                .contains("not a known program")
        );
    }

    #[test]
    fn texts_past_their_limits_and_nul_characters_are_named_together() {
        let fields = pb::AwardFields {
            company: "Alliance\0Lending".into(),
            municipality: "m".repeat(TEXT_NAME.get() + 1),
            penalty_terms: "p".repeat(TEXT_PARAGRAPH.get() + 1),
            ..valid()
        };
        let violations = AwardFields::parse(&fields, context()).unwrap_err();
        assert_eq!(
            fields_of(&violations),
            [
                "fields.company",
                "fields.municipality",
                "fields.penalty_terms"
            ]
        );
        assert_eq!(violations.limit, Some(TEXT_NAME.name));
        assert!(violations.fields[0].description.contains("NUL"));
        assert!(
            violations.fields[1]
                .description
                .contains("201 characters, more than the 200 allowed (limit text_name)"),
            "{violations:?}"
        );
        assert!(
            violations.fields[2]
                .description
                .contains("(limit text_paragraph)")
        );
        let at_the_limits = pb::AwardFields {
            municipality: "m".repeat(TEXT_NAME.get()),
            penalty_terms: "p".repeat(TEXT_PARAGRAPH.get()),
            ..valid()
        };
        assert!(AwardFields::parse(&at_the_limits, context()).is_ok());
    }

    #[test]
    fn malformed_values_are_quoted_short_and_nul_is_refused_everywhere() {
        let huge = "9".repeat(1_000_000);
        let fields = pb::AwardFields {
            grant_amount: format!("x{huge}"),
            zip_code: huge.clone(),
            naics_code: "52\0".into(),
            contract_execution_date: huge.clone(),
            program_id: "maa\0".into(),
            ..valid()
        };
        let violations = AwardFields::parse(&fields, context()).unwrap_err();
        assert_eq!(
            fields_of(&violations),
            [
                "fields.naics_code",
                "fields.zip_code",
                "fields.contract_execution_date",
                "fields.grant_amount",
                "fields.program_id",
            ]
        );
        for violation in &violations.fields {
            assert!(
                violation.description.chars().count() < 200,
                "{}: {} characters",
                violation.field,
                violation.description.len()
            );
        }
        assert!(violations.fields[4].description.contains("NUL"));
    }

    #[test]
    fn a_total_other_than_grant_plus_loan_needs_a_reason() {
        let fields = pb::AwardFields {
            grant_amount: "100".into(),
            ..valid()
        };
        let violations = AwardFields::parse(&fields, context()).unwrap_err();
        assert_eq!(fields_of(&violations), ["fields.total_assistance"]);
        assert!(
            violations.fields[0]
                .description
                .starts_with("6000000.00 is not grant + loan (6000100.00)"),
            "{violations:?}"
        );
        let explained = pb::AwardFields {
            total_mismatch_reason: "includes a $100 tax credit".into(),
            grant_amount: "100".into(),
            total_assistance: "6000200".into(),
            ..valid()
        };
        let award = AwardFields::parse(&explained, context()).unwrap();
        assert_eq!(award.total_mismatch_reason, "includes a $100 tax credit");
        let missing_total = pb::AwardFields {
            total_assistance: String::new(),
            ..valid()
        };
        assert_eq!(
            AwardFields::parse(&missing_total, context())
                .unwrap()
                .total
                .to_string(),
            "6000000.00"
        );
    }

    #[test]
    fn implausible_dates_are_refused() {
        let future = pb::AwardFields {
            contract_execution_date: "2031-01-01".into(),
            ..valid()
        };
        let violations = AwardFields::parse(&future, context()).unwrap_err();
        assert_eq!(fields_of(&violations), ["fields.contract_execution_date"]);
        let before = pb::AwardFields {
            jobs_target_date: "2016-01-01".into(),
            ..valid()
        };
        let violations = AwardFields::parse(&before, context()).unwrap_err();
        assert!(
            violations.fields[0]
                .description
                .contains("before the contract execution date")
        );
        let no_target = pb::AwardFields {
            jobs_target_date: String::new(),
            ..valid()
        };
        let violations = AwardFields::parse(&no_target, context()).unwrap_err();
        assert_eq!(
            violations.fields[0].description,
            "is required when jobs are promised"
        );
    }

    #[test]
    fn job_counts_are_bounded() {
        let huge = pb::AwardFields {
            jobs_to_create: i64::MAX,
            ..valid()
        };
        let violations = AwardFields::parse(&huge, context()).unwrap_err();
        assert_eq!(fields_of(&violations), ["fields.jobs_to_create"]);
        assert!(
            violations.fields[0]
                .description
                .contains("implausibly large")
        );
    }

    #[test]
    fn fiscal_years_run_july_to_june() {
        assert_eq!(
            fiscal_year_of(NaiveDate::from_ymd_opt(2016, 9, 16).unwrap()),
            2017
        );
        assert_eq!(
            fiscal_year_of(NaiveDate::from_ymd_opt(2017, 6, 30).unwrap()),
            2017
        );
        assert_eq!(
            parse_date("09/16/2016"),
            Ok(NaiveDate::from_ymd_opt(2016, 9, 16))
        );
    }
}
