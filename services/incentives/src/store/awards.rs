//! Writing awards: the current row, one revision per change (append-only), and job reviews.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgConnection;
use sqlx::types::Json;
use uuid::Uuid;

use super::{StoredAward, StoredReview, one};
use crate::award::AwardFields;

/// What a revision changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// The award was recorded.
    Recorded,
    /// Its values were corrected.
    Corrected,
    /// A job review was added.
    JobReview,
    /// It was withdrawn.
    Withdrawn,
}

impl Change {
    /// The stored and public name.
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Recorded => "recorded",
            Change::Corrected => "corrected",
            Change::JobReview => "job_review",
            Change::Withdrawn => "withdrawn",
        }
    }
}

/// Who made a change, why and when.
#[derive(Debug, Clone, Copy)]
pub struct Stamp<'a> {
    /// Principal id.
    pub actor_id: &'a str,
    /// Why.
    pub reason: &'a str,
    /// When.
    pub at: DateTime<Utc>,
}

/// One revision of an award.
#[derive(Debug, Clone)]
pub struct Revision {
    /// Revision number.
    pub revision: i64,
    /// What changed.
    pub change: String,
    /// Values at this revision.
    pub fields: Json<AwardFields>,
    /// Who.
    pub actor_id: String,
    /// Why.
    pub reason: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// A new award to insert, with the job reviews made so far.
#[derive(Debug, Clone, Copy)]
pub struct NewAward<'a> {
    /// Its id.
    pub id: Uuid,
    /// Its values.
    pub fields: &'a AwardFields,
    /// Its reviews, oldest first.
    pub reviews: &'a [StoredReview],
}

/// Inserts new awards at revision 1 with their reviews and first revisions, a few statements for
/// all of them.
pub async fn insert(
    conn: &mut PgConnection,
    awards: &[NewAward<'_>],
    stamp: Stamp<'_>,
) -> Result<(), sqlx::Error> {
    let latest: Vec<Option<&StoredReview>> = awards
        .iter()
        .map(|a| a.reviews.iter().max_by_key(|r| r.reviewed_on))
        .collect();
    let column = |f: fn(&AwardFields) -> String| -> Vec<String> {
        awards.iter().map(|a| f(a.fields)).collect()
    };
    let cents =
        |f: fn(&AwardFields) -> i64| -> Vec<i64> { awards.iter().map(|a| f(a.fields)).collect() };
    let ids: Vec<Uuid> = awards.iter().map(|a| a.id).collect();
    let fields: Vec<Json<&AwardFields>> = awards.iter().map(|a| Json(a.fields)).collect();
    sqlx::query!(
        "INSERT INTO awards (id, revision, fiscal_year, company, parent_company, \
         municipality, industry, program_id, grant_cents, loan_cents, total_cents, jobs_promised, \
         latest_review_on, latest_actual_jobs, created_at, updated_at) \
         SELECT id, 1, fiscal_year, company, parent_company, municipality, industry, \
         program_id, grant_cents, loan_cents, total_cents, jobs_promised, latest_review_on, \
         latest_actual_jobs, $14, $14 \
         FROM UNNEST($1::uuid[], $2::int[], $3::text[], $4::text[], $5::text[], \
         $6::text[], $7::text[], $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[], \
         $12::date[], $13::bigint[]) AS t(id, fiscal_year, company, parent_company, \
         municipality, industry, program_id, grant_cents, loan_cents, total_cents, jobs_promised, \
         latest_review_on, latest_actual_jobs)",
        &ids,
        &awards
            .iter()
            .map(|a| a.fields.fiscal_year)
            .collect::<Vec<_>>(),
        &column(|f| f.company.clone()),
        &column(|f| f.parent_company.clone()),
        &column(|f| f.municipality.clone()),
        &column(|f| f.industry.clone()),
        &column(|f| f.program_id.clone()),
        &cents(|f| f.grant.cents()),
        &cents(|f| f.loan.cents()),
        &cents(|f| f.total.cents()),
        &cents(AwardFields::jobs_promised),
        &latest
            .iter()
            .map(|r| r.map(|r| r.reviewed_on))
            .collect::<Vec<_>>() as _,
        &latest
            .iter()
            .map(|r| r.map(|r| r.actual_jobs))
            .collect::<Vec<_>>() as _,
        stamp.at,
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "INSERT INTO award_values (award_id, fields) \
         SELECT * FROM UNNEST($1::uuid[], $2::jsonb[])",
        &ids,
        &fields as _,
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "INSERT INTO award_revisions (award_id, revision, change, fields, actor_id, reason, at) \
         SELECT id, 1, $3, fields, $4, $5, $6 FROM UNNEST($1::uuid[], $2::jsonb[]) AS t(id, fields)",
        &ids,
        &fields as _,
        Change::Recorded.as_str(),
        stamp.actor_id,
        stamp.reason,
        stamp.at,
    )
    .execute(&mut *conn)
    .await?;
    let reviews: Vec<(Uuid, i64, &StoredReview)> = awards
        .iter()
        .flat_map(|a| {
            a.reviews
                .iter()
                .enumerate()
                .map(move |(index, review)| (a.id, index as i64 + 1, review))
        })
        .collect();
    if !reviews.is_empty() {
        sqlx::query!(
            "INSERT INTO job_reviews (award_id, seq, reviewed_on, actual_jobs, notes, actor_id, at) \
             SELECT award_id, seq, reviewed_on, actual_jobs, notes, $6, $7 \
             FROM UNNEST($1::uuid[], $2::bigint[], $3::date[], $4::bigint[], $5::text[]) \
             AS t(award_id, seq, reviewed_on, actual_jobs, notes)",
            &reviews.iter().map(|r| r.0).collect::<Vec<_>>(),
            &reviews.iter().map(|r| r.1).collect::<Vec<_>>(),
            &reviews.iter().map(|r| r.2.reviewed_on).collect::<Vec<_>>(),
            &reviews.iter().map(|r| r.2.actual_jobs).collect::<Vec<_>>(),
            &reviews.iter().map(|r| r.2.notes.clone()).collect::<Vec<_>>(),
            stamp.actor_id,
            stamp.at,
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// The award, locked until the transaction ends.
pub async fn lock(conn: &mut PgConnection, id: Uuid) -> Result<Option<StoredAward>, sqlx::Error> {
    one(conn, id, true).await
}

/// Replaces the award's values, as `revision`.
pub async fn correct(
    conn: &mut PgConnection,
    id: Uuid,
    revision: i64,
    fields: &AwardFields,
    stamp: Stamp<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE awards SET revision = $2, fiscal_year = $3, company = $4, \
         parent_company = $5, municipality = $6, industry = $7, program_id = $8, \
         grant_cents = $9, loan_cents = $10, total_cents = $11, jobs_promised = $12, \
         updated_at = $13 WHERE id = $1",
        id,
        revision,
        fields.fiscal_year,
        fields.company,
        fields.parent_company,
        fields.municipality,
        fields.industry,
        fields.program_id,
        fields.grant.cents(),
        fields.loan.cents(),
        fields.total.cents(),
        fields.jobs_promised(),
        stamp.at,
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "UPDATE award_values SET fields = $2 WHERE award_id = $1",
        id,
        Json(fields) as _,
    )
    .execute(&mut *conn)
    .await?;
    insert_revision(conn, id, revision, Change::Corrected, fields, stamp).await
}

/// Withdraws the award, as `revision`.
pub async fn withdraw(
    conn: &mut PgConnection,
    award: &StoredAward,
    revision: i64,
    stamp: Stamp<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE awards SET revision = $2, withdrawn = true, withdrawn_reason = $3, \
         updated_at = $4 WHERE id = $1",
        award.id,
        revision,
        stamp.reason,
        stamp.at,
    )
    .execute(&mut *conn)
    .await?;
    insert_revision(
        conn,
        award.id,
        revision,
        Change::Withdrawn,
        &award.fields,
        stamp,
    )
    .await
}

/// Adds a job review, as `revision`, and keeps the award's latest review up to date.
pub async fn add_review(
    conn: &mut PgConnection,
    award: &StoredAward,
    revision: i64,
    review: (NaiveDate, i64, &str),
    stamp: Stamp<'_>,
) -> Result<(), sqlx::Error> {
    let (reviewed_on, actual_jobs, notes) = review;
    sqlx::query!(
        "INSERT INTO job_reviews (award_id, seq, reviewed_on, actual_jobs, notes, actor_id, at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        award.id,
        award.reviews.len() as i64 + 1,
        reviewed_on,
        actual_jobs,
        notes,
        stamp.actor_id,
        stamp.at,
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "UPDATE awards a SET revision = $2, updated_at = $3, \
         latest_review_on = l.reviewed_on, latest_actual_jobs = l.actual_jobs \
         FROM (SELECT reviewed_on, actual_jobs FROM job_reviews WHERE award_id = $1 \
               ORDER BY reviewed_on DESC, seq DESC LIMIT 1) l \
         WHERE a.id = $1",
        award.id,
        revision,
        stamp.at,
    )
    .execute(&mut *conn)
    .await?;
    insert_revision(
        conn,
        award.id,
        revision,
        Change::JobReview,
        &award.fields,
        stamp,
    )
    .await
}

async fn insert_revision(
    conn: &mut PgConnection,
    id: Uuid,
    revision: i64,
    change: Change,
    fields: &AwardFields,
    stamp: Stamp<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO award_revisions (award_id, revision, change, fields, actor_id, reason, at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        id,
        revision,
        change.as_str(),
        Json(fields) as _,
        stamp.actor_id,
        stamp.reason,
        stamp.at,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Every revision of the award, oldest first.
pub async fn history(conn: &mut PgConnection, id: Uuid) -> Result<Vec<Revision>, sqlx::Error> {
    sqlx::query_as!(
        Revision,
        r#"SELECT revision, change, fields AS "fields: Json<AwardFields>", actor_id, reason, at
           FROM award_revisions WHERE award_id = $1 ORDER BY revision"#,
        id,
    )
    .fetch_all(&mut *conn)
    .await
}
