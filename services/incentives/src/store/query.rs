//! Reading awards the public way: filters (company words, municipality, program, fiscal year,
//! assistance type, industry, ids), pages, summaries grouped by municipality, program, fiscal year
//! or industry, and the export in batches. Withdrawn awards are left out of all of it. Every value
//! is a bind parameter; identifiers come from fixed lists.

use sqlx::{PgConnection, Postgres, QueryBuilder};
use uuid::Uuid;

use super::{AWARD_SELECT, AwardRow, StoredAward, one, with_reviews};

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

    fn push_where(&self, query: &mut QueryBuilder<'_, Postgres>) {
        query.push(" WHERE NOT a.withdrawn");
        if !self.company_words.is_empty() {
            let tsquery = self
                .company_words
                .iter()
                .map(|w| format!("{w}:*"))
                .collect::<Vec<_>>()
                .join(" & ");
            query
                .push(" AND a.company_text @@ to_tsquery('simple', ")
                .push_bind(tsquery)
                .push(")");
        }
        if !self.municipalities.is_empty() {
            let lower: Vec<String> = self
                .municipalities
                .iter()
                .map(|m| m.to_lowercase())
                .collect();
            query
                .push(" AND lower(a.municipality) = ANY(")
                .push_bind(lower)
                .push(")");
        }
        if !self.industries.is_empty() {
            let lower: Vec<String> = self.industries.iter().map(|m| m.to_lowercase()).collect();
            query
                .push(" AND lower(a.industry) = ANY(")
                .push_bind(lower)
                .push(")");
        }
        if !self.program_ids.is_empty() {
            query
                .push(" AND a.program_id = ANY(")
                .push_bind(self.program_ids.clone())
                .push(")");
        }
        if !self.fiscal_years.is_empty() {
            query
                .push(" AND a.fiscal_year = ANY(")
                .push_bind(self.fiscal_years.clone())
                .push(")");
        }
        if let Some(ids) = &self.ids {
            query
                .push(" AND a.id = ANY(")
                .push_bind(ids.clone())
                .push(")");
        }
        if !self.assistance_types.is_empty() {
            let mut any = query.separated(" OR ");
            any.push_unseparated(" AND (");
            for kind in &self.assistance_types {
                any.push(match kind {
                    AssistanceType::Grant => "a.grant_cents > 0",
                    AssistanceType::Loan => "a.loan_cents > 0",
                    AssistanceType::TaxCredit => {
                        "a.program_id IN (SELECT id FROM programs \
                         WHERE 'tax_credit' = ANY(assistance_types))"
                    }
                });
            }
            any.push_unseparated(")");
        }
    }
}

/// The order of every listing: newest fiscal year first, then company, then id (stable paging).
const ORDER: &str = " ORDER BY a.fiscal_year DESC, a.company, a.id";

/// One page of matching awards, and how many match in all.
pub async fn search(
    conn: &mut PgConnection,
    filter: &Filter,
    offset: i64,
    limit: i64,
) -> Result<(Vec<StoredAward>, i64), sqlx::Error> {
    let mut count = QueryBuilder::new("SELECT count(*) FROM awards a");
    filter.push_where(&mut count);
    let total: i64 = count.build_query_scalar().fetch_one(&mut *conn).await?;
    let mut page = QueryBuilder::new(AWARD_SELECT);
    filter.push_where(&mut page);
    page.push(ORDER)
        .push(" OFFSET ")
        .push_bind(offset)
        .push(" LIMIT ")
        .push_bind(limit);
    let rows: Vec<AwardRow> = page.build_query_as().fetch_all(&mut *conn).await?;
    Ok((with_reviews(conn, rows).await?, total))
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
    let mut batch = QueryBuilder::new(AWARD_SELECT);
    filter.push_where(&mut batch);
    if let Some(last) = after {
        batch
            .push(" AND (-a.fiscal_year, a.company, a.id) > (")
            .push_bind(-last.fields.fiscal_year)
            .push(", ")
            .push_bind(last.fields.company.clone())
            .push(", ")
            .push_bind(last.id)
            .push(")");
    }
    batch.push(ORDER).push(" LIMIT ").push_bind(size);
    let rows: Vec<AwardRow> = batch.build_query_as().fetch_all(&mut *conn).await?;
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
    /// The grouping column over `awards a`, and its key and label as text (`p` is `programs`).
    fn sql(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Dimension::Municipality => ("a.municipality", "a.municipality", "a.municipality"),
            Dimension::Program => ("a.program_id", "a.program_id", "min(p.name)"),
            Dimension::FiscalYear => (
                "a.fiscal_year",
                "a.fiscal_year::text",
                "a.fiscal_year::text",
            ),
            Dimension::Industry => ("a.industry", "a.industry", "a.industry"),
        }
    }
}

/// One group of a summary.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
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
    let columns: Vec<&str> = dimensions.iter().map(|d| d.sql().0).collect();
    let keys: Vec<&str> = dimensions.iter().map(|d| d.sql().1).collect();
    let labels: Vec<&str> = dimensions.iter().map(|d| d.sql().2).collect();
    // Programs are joined only for their names.
    let join = if dimensions.contains(&Dimension::Program) {
        " JOIN programs p ON p.id = a.program_id"
    } else {
        ""
    };
    let mut query = QueryBuilder::new(format!(
        "SELECT ARRAY[{keys}] AS keys, ARRAY[{labels}] AS labels, count(*) AS award_count, \
         sum(a.grant_cents)::bigint AS grant_cents, sum(a.loan_cents)::bigint AS loan_cents, \
         sum(a.total_cents)::bigint AS total_cents, \
         sum(a.jobs_promised)::bigint AS jobs_promised, \
         coalesce(sum(a.latest_actual_jobs), 0)::bigint AS jobs_actual \
         FROM awards a{join}",
        keys = keys.join(", "),
        labels = labels.join(", "),
    ));
    filter.push_where(&mut query);
    query.push(format!(" GROUP BY {}", columns.join(", ")));
    query.push(format!(" ORDER BY {}", columns.join(", ")));
    query.build_query_as().fetch_all(&mut *conn).await
}
