//! The programs registry and DRS's tax credit figures: written by DECD's roles, read by anyone.

use chrono::Datelike as _;
use opendata_platform::auth::Principal;
use opendata_platform::error::FieldViolation;
use opendata_proto::incentives::v1 as pb;

use crate::error::IncentivesError;
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
        let latest = self.ledger.today().year();
        let mut violations = Vec::new();
        let mut parsed = Vec::with_capacity(figures.len());
        for (index, figure) in figures.iter().enumerate() {
            match parse_figure(figure, latest) {
                Ok(figure) => parsed.push(figure),
                Err(found) => violations.extend(found.into_iter().map(|(field, description)| {
                    FieldViolation {
                        field: format!("figures[{index}].{field}"),
                        description,
                    }
                })),
            }
        }
        if figures.is_empty() {
            return Err(IncentivesError::invalid("figures", "is empty"));
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

fn parse_program(program: &pb::Program) -> Result<Program, IncentivesError> {
    let mut violations = Vec::new();
    let mut violation = |field: &str, description: String| {
        violations.push(FieldViolation {
            field: field.to_owned(),
            description,
        })
    };
    let id = program.id.trim();
    if id.is_empty()
        || id.len() > 40
        || !id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    {
        violation(
            "id",
            format!("{id:?} is not a program id: 1 to 40 lowercase letters, digits, - or _"),
        );
    }
    if program.name.trim().is_empty() {
        violation("name", "is required".to_owned());
    }
    if program.administering_agency.trim().is_empty() {
        violation("administering_agency", "is required".to_owned());
    }
    let mut types = Vec::new();
    for kind in &program.assistance_types {
        match AssistanceType::parse(kind) {
            Some(_) => types.push(kind.trim().to_ascii_lowercase()),
            None => violation(
                "assistance_types",
                format!("{kind:?} is not an assistance type: grant, loan or tax_credit"),
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
        name: program.name.trim().to_owned(),
        statutory_reference: program.statutory_reference.trim().to_owned(),
        assistance_types: types,
        administering_agency: program.administering_agency.trim().to_owned(),
    })
}

fn parse_figure(
    figure: &pb::TaxCreditFigure,
    latest_year: i32,
) -> Result<TaxCreditFigure, Vec<(&'static str, String)>> {
    let mut found = Vec::new();
    if !(EARLIEST_YEAR..=latest_year).contains(&figure.year) {
        found.push((
            "year",
            format!(
                "{} is not plausible: expected {EARLIEST_YEAR} to {latest_year}",
                figure.year
            ),
        ));
    }
    for (field, value) in [
        ("credit_type", &figure.credit_type),
        ("tax_type", &figure.tax_type),
    ] {
        if value.trim().is_empty() {
            found.push((field, "is required".to_owned()));
        }
    }
    if figure.claim_count < 0 {
        found.push(("claim_count", "must not be negative".to_owned()));
    }
    let mut money = |field: &'static str, text: &str| match Money::parse(text) {
        Ok(amount) => amount.unwrap_or(Money::ZERO).cents(),
        Err(error) => {
            found.push((field, error.to_string()));
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
        credit_type: figure.credit_type.trim().to_owned(),
        tax_type: figure.tax_type.trim().to_owned(),
        claim_count: figure.claim_count,
        claimed_cents,
        carried_forward_cents,
    })
}
