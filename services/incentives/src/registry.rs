//! The programs registry and DRS's tax credit figures: written by DECD's roles, read by anyone.
//! Names, agencies and credit and tax types are held to `TEXT_NAME`, statutory references to
//! `TEXT_PARAGRAPH`, and one call records at most `RECORDS_PER_CALL` figures, as it does awards.

use chrono::Datelike as _;
use opendata_limits::{Limit, RECORDS_PER_CALL, TEXT_NAME, TEXT_PARAGRAPH, excerpt};
use opendata_platform::auth::Principal;
use opendata_platform::text::check_count;
use opendata_proto::incentives::v1 as pb;

use crate::error::{IncentivesError, Violations};
use crate::ledger::Ledger;
use crate::money::Money;
use crate::store::query::AssistanceType;
use crate::store::registry::{self, Program, TaxCreditFigure};

/// Earliest year of a tax credit figure.
const EARLIEST_YEAR: i32 = 1980;

/// Programs and tax credits; cheap to clone.
#[derive(Clone)]
pub struct Registry {
    ledger: Ledger,
}

impl Registry {
    /// The registry, sharing the ledger's pool, clock and authorization.
    pub fn new(ledger: Ledger) -> Self {
        Registry { ledger }
    }

    /// Creates or updates a program.
    pub async fn upsert_program(
        &self,
        who: &Principal,
        program: &pb::Program,
    ) -> Result<Program, IncentivesError> {
        self.ledger.authorize(who)?;
        let program = parse_program(program)?;
        let mut conn = self.ledger.pool().acquire().await?;
        registry::upsert_program(&mut conn, &program).await?;
        Ok(program)
    }

    /// Every program, by name.
    pub async fn programs(&self) -> Result<Vec<Program>, IncentivesError> {
        let mut conn = self.ledger.pool().acquire().await?;
        Ok(registry::programs(&mut conn).await?)
    }

    /// Records figures; all of them, or none when one is wrong.
    pub async fn record_tax_credits(
        &self,
        who: &Principal,
        figures: &[pb::TaxCreditFigure],
    ) -> Result<usize, IncentivesError> {
        self.ledger.authorize(who)?;
        if figures.is_empty() {
            return Err(IncentivesError::invalid(
                "figures",
                "send at least one figure",
            ));
        }
        check_count("figures", figures.len(), RECORDS_PER_CALL)?;
        let latest = self.ledger.today().year();
        let mut violations = Violations::default();
        let mut parsed = Vec::with_capacity(figures.len());
        for (index, figure) in figures.iter().enumerate() {
            match parse_figure(figure, latest) {
                Ok(figure) => parsed.push(figure),
                Err(found) => violations.extend_prefixed(&format!("figures[{index}]."), found),
            }
        }
        if !violations.is_empty() {
            return Err(IncentivesError::Invalid(violations));
        }
        let mut tx = self.ledger.pool().begin().await?;
        registry::record_tax_credits(&mut tx, &parsed).await?;
        tx.commit().await?;
        Ok(parsed.len())
    }

    /// Figures of one year, or all.
    pub async fn tax_credits(
        &self,
        year: Option<i32>,
    ) -> Result<Vec<TaxCreditFigure>, IncentivesError> {
        let mut conn = self.ledger.pool().acquire().await?;
        Ok(registry::tax_credits(&mut conn, year).await?)
    }
}

/// `value` trimmed, recording it in `violations` when it is empty, past `limit` or holds a NUL.
fn required_text(violations: &mut Violations, field: &str, value: &str, limit: Limit) -> String {
    let value = value.trim();
    if value.is_empty() {
        violations.add(field, "is required");
    } else {
        violations.text(field, value, limit);
    }
    value.to_owned()
}

fn parse_program(program: &pb::Program) -> Result<Program, IncentivesError> {
    let mut violations = Violations::default();
    let id = program.id.trim();
    if id.is_empty()
        || id.len() > 40
        || !id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    {
        violations.add(
            "id",
            format!(
                "{:?} is not a program id: 1 to 40 lowercase letters, digits, - or _",
                excerpt(id)
            ),
        );
    }
    let name = required_text(&mut violations, "name", &program.name, TEXT_NAME);
    let administering_agency = required_text(
        &mut violations,
        "administering_agency",
        &program.administering_agency,
        TEXT_NAME,
    );
    let statutory_reference = program.statutory_reference.trim();
    violations.text("statutory_reference", statutory_reference, TEXT_PARAGRAPH);
    let mut types = Vec::new();
    for kind in &program.assistance_types {
        match AssistanceType::parse(kind) {
            Some(_) => types.push(kind.trim().to_ascii_lowercase()),
            None => violations.add(
                "assistance_types",
                format!(
                    "{:?} is not an assistance type: grant, loan or tax_credit",
                    excerpt(kind)
                ),
            ),
        }
    }
    if !violations.is_empty() {
        return Err(IncentivesError::Invalid(violations));
    }
    types.sort();
    types.dedup();
    Ok(Program {
        id: id.to_owned(),
        name,
        statutory_reference: statutory_reference.to_owned(),
        assistance_types: types,
        administering_agency,
    })
}

fn parse_figure(
    figure: &pb::TaxCreditFigure,
    latest_year: i32,
) -> Result<TaxCreditFigure, Violations> {
    let mut found = Violations::default();
    if !(EARLIEST_YEAR..=latest_year).contains(&figure.year) {
        found.add(
            "year",
            format!(
                "{} is not plausible: expected {EARLIEST_YEAR} to {latest_year}",
                figure.year
            ),
        );
    }
    let credit_type = required_text(&mut found, "credit_type", &figure.credit_type, TEXT_NAME);
    let tax_type = required_text(&mut found, "tax_type", &figure.tax_type, TEXT_NAME);
    if figure.claim_count < 0 {
        found.add("claim_count", "must not be negative");
    }
    let mut money = |field: &str, text: &str| match Money::parse(text) {
        Ok(amount) => amount.unwrap_or(Money::ZERO).cents(),
        Err(error) => {
            found.add(field, error.to_string());
            0
        }
    };
    let claimed_cents = money("amount_claimed", &figure.amount_claimed);
    let carried_forward_cents = money("amount_carried_forward", &figure.amount_carried_forward);
    if !found.is_empty() {
        return Err(found);
    }
    Ok(TaxCreditFigure {
        year: figure.year,
        credit_type,
        tax_type,
        claim_count: figure.claim_count,
        claimed_cents,
        carried_forward_cents,
    })
}
