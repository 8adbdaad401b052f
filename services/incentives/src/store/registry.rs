//! The programs registry and DRS's tax credit figures.

use sqlx::PgConnection;

/// An assistance program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    /// Short id (`maa`).
    pub id: String,
    pub name: String,
    pub statutory_reference: String,
    /// Kinds of assistance (`grant`, `loan`, `tax_credit`).
    pub assistance_types: Vec<String>,
    /// Administering agency id.
    pub administering_agency: String,
}

/// Creates or replaces a program.
pub async fn upsert_program(conn: &mut PgConnection, program: &Program) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO programs (id, name, statutory_reference, assistance_types, \
         administering_agency) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, \
         statutory_reference = EXCLUDED.statutory_reference, \
         assistance_types = EXCLUDED.assistance_types, \
         administering_agency = EXCLUDED.administering_agency, updated_at = now()",
        program.id,
        program.name,
        program.statutory_reference,
        &program.assistance_types,
        program.administering_agency,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Every program, by name.
pub async fn programs(conn: &mut PgConnection) -> Result<Vec<Program>, sqlx::Error> {
    sqlx::query_as!(
        Program,
        "SELECT id, name, statutory_reference, assistance_types, administering_agency \
         FROM programs ORDER BY name, id",
    )
    .fetch_all(&mut *conn)
    .await
}

/// Whether a program with this id exists.
pub async fn program_exists(conn: &mut PgConnection, id: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM programs WHERE id = $1) AS "exists!""#,
        id,
    )
    .fetch_one(&mut *conn)
    .await
}

/// DRS figures for one credit type, tax and year.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaxCreditFigure {
    /// Income year.
    pub year: i32,
    pub credit_type: String,
    /// Tax it is claimed against.
    pub tax_type: String,
    /// Taxpayers claiming.
    pub claim_count: i64,
    /// Amount claimed, in cents.
    pub claimed_cents: i64,
    /// Amount carried forward, in cents.
    pub carried_forward_cents: i64,
}

/// Records figures, replacing those of the same year, credit type and tax.
pub async fn record_tax_credits(
    conn: &mut PgConnection,
    figures: &[TaxCreditFigure],
) -> Result<(), sqlx::Error> {
    for figure in figures {
        sqlx::query!(
            "INSERT INTO tax_credits (year, credit_type, tax_type, claim_count, claimed_cents, \
             carried_forward_cents) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (year, credit_type, tax_type) DO UPDATE SET \
             claim_count = EXCLUDED.claim_count, claimed_cents = EXCLUDED.claimed_cents, \
             carried_forward_cents = EXCLUDED.carried_forward_cents, updated_at = now()",
            figure.year,
            figure.credit_type,
            figure.tax_type,
            figure.claim_count,
            figure.claimed_cents,
            figure.carried_forward_cents,
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Figures of one year (or all), by year, credit type and tax.
pub async fn tax_credits(
    conn: &mut PgConnection,
    year: Option<i32>,
) -> Result<Vec<TaxCreditFigure>, sqlx::Error> {
    sqlx::query_as!(
        TaxCreditFigure,
        "SELECT year, credit_type, tax_type, claim_count, claimed_cents, carried_forward_cents \
         FROM tax_credits WHERE $1::int IS NULL OR year = $1 ORDER BY year, credit_type, tax_type",
        year,
    )
    .fetch_all(&mut *conn)
    .await
}
