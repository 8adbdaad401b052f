//! Reading awards the public way: filters (company words, municipality, program, fiscal year,
//! assistance type, industry, ids), pages, summaries grouped by municipality, program, fiscal year
//! or industry, and the export in batches. Withdrawn awards are left out of all of it. Which
//! awards a filter passes is decided in one place, the `matching_awards` SQL function (migration
//! 0103), and every query is checked at compile time.

use std::collections::HashMap;

use sqlx::PgConnection;
use sqlx::types::Json;
use uuid::Uuid;

use super::{AwardRow, StoredAward, one, with_reviews};
use crate::award::AwardFields;

/// Kinds of assistance a filter can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssistanceType {
    /// A grant (grant amount above zero).
    Grant,
    /// A loan (loan amount above zero).
    Loan,
    /// Through a program that gives tax credits.
    TaxCredit,
}

impl AssistanceType {
    /// Every type, by name.
    pub const ALL: [(&'static str, AssistanceType); 3] = [
        ("grant", AssistanceType::Grant),
        ("loan", AssistanceType::Loan),
        ("tax_credit", AssistanceType::TaxCredit),
    ];

    /// The type named `name`.
    pub fn parse(name: &str) -> Option<AssistanceType> {
        AssistanceType::ALL
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name.trim()))
            .map(|(_, t)| *t)
    }
}

/// Which awards a read covers. Empty lists do not filter.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Words of the company (or parent company) name; each must start a word of it.
    pub company_words: Vec<String>,
    /// Municipalities (case-insensitive).
    pub municipalities: Vec<String>,
    pub program_ids: Vec<String>,
    pub fiscal_years: Vec<i32>,
    /// Assistance types (any of them).
    pub assistance_types: Vec<AssistanceType>,
    /// Industries (case-insensitive).
    pub industries: Vec<String>,
    /// Only these awards, when set.
    pub ids: Option<Vec<Uuid>>,
}

impl Filter {
    /// The words of a company query that the text index can match (letters and digits).
    pub fn words_of(company: &str) -> Vec<String> {
        company
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect()
    }

    /// The filter as `matching_awards` takes it.
    fn args(&self) -> MatchArgs {
        let lower = |values: &[String]| values.iter().map(|v| v.to_lowercase()).collect();
        let asks = |kind| self.assistance_types.contains(&kind);
        MatchArgs {
            company_query: (!self.company_words.is_empty()).then(|| {
                self.company_words
                    .iter()
                    .map(|w| format!("{w}:*"))
                    .collect::<Vec<_>>()
                    .join(" & ")
            }),
            municipalities: lower(&self.municipalities),
            industries: lower(&self.industries),
            program_ids: self.program_ids.clone(),
            fiscal_years: self.fiscal_years.clone(),
            ids: self.ids.clone(),
            grants: asks(AssistanceType::Grant),
            loans: asks(AssistanceType::Loan),
            tax_credits: asks(AssistanceType::TaxCredit),
        }
    }
}

/// The arguments of `matching_awards`, in its order.
struct MatchArgs {
    /// The company words as a prefix `tsquery` (`gear:* & inc:*`).
    company_query: Option<String>,
    /// Lowercase.
    municipalities: Vec<String>,
    /// Lowercase.
    industries: Vec<String>,
    program_ids: Vec<String>,
    fiscal_years: Vec<i32>,
    ids: Option<Vec<Uuid>>,
    grants: bool,
    loans: bool,
    tax_credits: bool,
}

/// One page of matching awards, and how many match in all.
pub async fn search(
    conn: &mut PgConnection,
    filter: &Filter,
    offset: i64,
    limit: i64,
) -> Result<(Vec<StoredAward>, i64), sqlx::Error> {
    let m = filter.args();
    let (total, rows) = match &m.ids {
        Some(ids) => among(conn, &m, ids, offset, limit).await?,
        None => everywhere(conn, &m, offset, limit).await?,
    };
    Ok((with_reviews(conn, rows).await?, total))
}

/// `sqlx::$query!` over `matching_awards`: the filter's values (`MatchArgs` `$m`) are `$1` to `$8`
/// (company query, municipalities, industries, programs, fiscal years, grants, loans, tax
/// credits), then whatever follows the `;`. The SQL stays a literal, checked at compile time.
macro_rules! matching {
    ($query:ident, $($target:ident,)? $sql:literal, $m:ident; $($extra:expr),* $(,)?) => {
        sqlx::$query!(
            $($target,)?
            $sql,
            $m.company_query,
            &$m.municipalities,
            &$m.industries,
            &$m.program_ids,
            &$m.fiscal_years,
            $m.grants,
            $m.loans,
            $m.tax_credits,
            $($extra),*
        )
    };
}

/// A page and count over every award the filter passes. The filters are parameters that filter
/// nothing when empty.
async fn everywhere(
    conn: &mut PgConnection,
    m: &MatchArgs,
    offset: i64,
    limit: i64,
) -> Result<(i64, Vec<AwardRow>), sqlx::Error> {
    let total = matching!(
        query_scalar,
        r#"SELECT count(*) AS "count!"
           FROM matching_awards($1, $2, $3, $4, $5, NULL, $6, $7, $8)"#,
        m;
    )
    .fetch_one(&mut *conn)
    .await?;
    // Newest fiscal year first, then company, then id (stable paging).
    let rows = matching!(
        query_as,
        AwardRow,
        r#"SELECT a.id AS "id!", a.revision AS "revision!", a.withdrawn AS "withdrawn!",
                  a.withdrawn_reason AS "withdrawn_reason!",
                  v.fields AS "fields!: Json<AwardFields>", a.created_at AS "created_at!",
                  a.updated_at AS "updated_at!"
           FROM matching_awards($1, $2, $3, $4, $5, NULL, $6, $7, $8) a
           JOIN award_values v ON v.award_id = a.id
           ORDER BY a.fiscal_year DESC, a.company, a.id OFFSET $9 LIMIT $10"#,
        m;
        offset,
        limit,
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok((total, rows))
}

/// A page and count among the awards `ids` names (what full-text search matched, thousands at
/// times). The ids are compared outside the filter function, unguarded, so a plan kept for any
/// list finds them by primary key instead of planning a long list of constants every time.
async fn among(
    conn: &mut PgConnection,
    m: &MatchArgs,
    ids: &[Uuid],
    offset: i64,
    limit: i64,
) -> Result<(i64, Vec<AwardRow>), sqlx::Error> {
    let total = matching!(
        query_scalar,
        r#"SELECT count(*) AS "count!"
           FROM matching_awards($1, $2, $3, $4, $5, NULL, $6, $7, $8) a
           WHERE a.id = ANY($9)"#,
        m;
        ids,
    )
    .fetch_one(&mut *conn)
    .await?;
    let rows = matching!(
        query_as,
        AwardRow,
        r#"SELECT a.id AS "id!", a.revision AS "revision!", a.withdrawn AS "withdrawn!",
                  a.withdrawn_reason AS "withdrawn_reason!",
                  v.fields AS "fields!: Json<AwardFields>", a.created_at AS "created_at!",
                  a.updated_at AS "updated_at!"
           FROM matching_awards($1, $2, $3, $4, $5, NULL, $6, $7, $8) a
           JOIN award_values v ON v.award_id = a.id
           WHERE a.id = ANY($9)
           ORDER BY a.fiscal_year DESC, a.company, a.id OFFSET $10 LIMIT $11"#,
        m;
        ids,
        offset,
        limit,
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok((total, rows))
}

/// The awards' generation: it changes with every change to an award, so totals read at one
/// generation can be kept until the next.
pub async fn generation(conn: &mut PgConnection) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!("SELECT generation FROM awards_generation")
        .fetch_one(conn)
        .await
}

/// Makes the transaction a read-only snapshot, so an export's batches read one state of the
/// awards.
pub async fn snapshot(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query!("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(conn)
        .await?;
    Ok(())
}

/// The batch of matching awards after `after` (the last award of the previous batch, in the
/// listing order), at most `size`.
pub async fn export_batch(
    conn: &mut PgConnection,
    filter: &Filter,
    after: Option<&StoredAward>,
    size: i64,
) -> Result<Vec<StoredAward>, sqlx::Error> {
    let m = filter.args();
    // After the last award sent, in the listing's order; from the start without one.
    let (year, company, id) = after.map_or((0, String::new(), Uuid::nil()), |last| {
        (
            -last.fields.fiscal_year,
            last.fields.company.clone(),
            last.id,
        )
    });
    let rows = matching!(
        query_as,
        AwardRow,
        r#"SELECT a.id AS "id!", a.revision AS "revision!", a.withdrawn AS "withdrawn!",
                  a.withdrawn_reason AS "withdrawn_reason!",
                  v.fields AS "fields!: Json<AwardFields>", a.created_at AS "created_at!",
                  a.updated_at AS "updated_at!"
           FROM matching_awards($1, $2, $3, $4, $5, $9, $6, $7, $8) a
           JOIN award_values v ON v.award_id = a.id
           WHERE NOT $10 OR (-a.fiscal_year, a.company, a.id) > ($11, $12, $13)
           ORDER BY a.fiscal_year DESC, a.company, a.id LIMIT $14"#,
        m;
        m.ids.as_deref(),
        after.is_some(),
        year,
        company,
        id,
        size,
    )
    .fetch_all(&mut *conn)
    .await?;
    with_reviews(conn, rows).await
}

/// One award, withdrawn or not.
pub async fn get(conn: &mut PgConnection, id: Uuid) -> Result<Option<StoredAward>, sqlx::Error> {
    one(conn, id, false).await
}

/// A grouping dimension of a summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dimension {
    /// By municipality.
    Municipality,
    /// By program (keyed by id, labelled by name).
    Program,
    /// By fiscal year.
    FiscalYear,
    /// By industry.
    Industry,
}

impl Dimension {
    /// Its name, as the summary query knows it.
    fn name(self) -> &'static str {
        match self {
            Dimension::Municipality => "municipality",
            Dimension::Program => "program",
            Dimension::FiscalYear => "fiscal_year",
            Dimension::Industry => "industry",
        }
    }
}

/// One group of a summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryRow {
    /// Keys, in dimension order.
    pub keys: Vec<String>,
    /// Labels of the keys (program names for programs).
    pub labels: Vec<String>,
    /// Awards.
    pub award_count: i64,
    /// Sum of grants, in cents.
    pub grant_cents: i64,
    /// Sum of loans, in cents.
    pub loan_cents: i64,
    /// Sum of total assistance, in cents.
    pub total_cents: i64,
    pub jobs_promised: i64,
    /// Jobs found at the latest reviews.
    pub jobs_actual: i64,
}

/// Totals and counts of matching awards grouped by `dimensions` (at least one), ordered by keys.
pub async fn summarize(
    conn: &mut PgConnection,
    filter: &Filter,
    dimensions: &[Dimension],
) -> Result<Vec<SummaryRow>, sqlx::Error> {
    let m = filter.args();
    let dimension_names: Vec<&str> = dimensions.iter().map(|d| d.name()).collect();
    // The group's key at each of at most four positions: the dimension named there, as text
    // (years have four digits, so they sort as numbers do); null past the last dimension.
    let groups = matching!(
        query,
        r#"SELECT k.k1, k.k2, k.k3, k.k4, count(*) AS "award_count!",
                  sum(a.grant_cents)::bigint AS "grant_cents!",
                  sum(a.loan_cents)::bigint AS "loan_cents!",
                  sum(a.total_cents)::bigint AS "total_cents!",
                  sum(a.jobs_promised)::bigint AS "jobs_promised!",
                  coalesce(sum(a.latest_actual_jobs), 0)::bigint AS "jobs_actual!"
           FROM matching_awards($1, $2, $3, $4, $5, $9, $6, $7, $8) a
           CROSS JOIN LATERAL (SELECT
               CASE ($10::text[])[1] WHEN 'municipality' THEN a.municipality
                   WHEN 'program' THEN a.program_id WHEN 'fiscal_year' THEN a.fiscal_year::text
                   WHEN 'industry' THEN a.industry END AS k1,
               CASE ($10::text[])[2] WHEN 'municipality' THEN a.municipality
                   WHEN 'program' THEN a.program_id WHEN 'fiscal_year' THEN a.fiscal_year::text
                   WHEN 'industry' THEN a.industry END AS k2,
               CASE ($10::text[])[3] WHEN 'municipality' THEN a.municipality
                   WHEN 'program' THEN a.program_id WHEN 'fiscal_year' THEN a.fiscal_year::text
                   WHEN 'industry' THEN a.industry END AS k3,
               CASE ($10::text[])[4] WHEN 'municipality' THEN a.municipality
                   WHEN 'program' THEN a.program_id WHEN 'fiscal_year' THEN a.fiscal_year::text
                   WHEN 'industry' THEN a.industry END AS k4) k
           GROUP BY k.k1, k.k2, k.k3, k.k4
           ORDER BY k.k1, k.k2, k.k3, k.k4"#,
        m;
        m.ids.as_deref(),
        &dimension_names as &[&str],
    )
    .fetch_all(&mut *conn)
    .await?;
    // Programs are labelled by name; the registry is small, read whole when needed.
    let names: HashMap<String, String> = if dimensions.contains(&Dimension::Program) {
        sqlx::query!("SELECT id, name FROM programs")
            .fetch_all(&mut *conn)
            .await?
            .into_iter()
            .map(|program| (program.id, program.name))
            .collect()
    } else {
        HashMap::new()
    };
    Ok(groups
        .into_iter()
        .map(|group| {
            let keys: Vec<String> = [group.k1, group.k2, group.k3, group.k4]
                .into_iter()
                .take(dimensions.len())
                .map(Option::unwrap_or_default)
                .collect();
            let labels = dimensions
                .iter()
                .zip(&keys)
                .map(|(dimension, key)| match dimension {
                    Dimension::Program => names.get(key).unwrap_or(key).clone(),
                    _ => key.clone(),
                })
                .collect();
            SummaryRow {
                keys,
                labels,
                award_count: group.award_count,
                grant_cents: group.grant_cents,
                loan_cents: group.loan_cents,
                total_cents: group.total_cents,
                jobs_promised: group.jobs_promised,
                jobs_actual: group.jobs_actual,
            }
        })
        .collect())
}
