//! The incentives tables: awards with their revisions and job reviews (`awards`), filtered reads,
//! summaries and the export (`query`), programs and tax credit figures (`registry`). Functions take
//! a connection so the caller decides the transaction.

pub mod awards;
pub mod publishing;
pub mod query;
pub mod registry;

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use crate::award::AwardFields;
use crate::obligation::{LatestReview, Standing};

/// A job review as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredReview {
    /// The award.
    pub award_id: Uuid,
    /// Review date.
    pub reviewed_on: NaiveDate,
    /// Jobs found.
    pub actual_jobs: i64,
    pub notes: String,
}

/// An award as stored, with its reviews (oldest first).
#[derive(Debug, Clone)]
pub struct StoredAward {
    pub id: Uuid,
    pub revision: i64,
    /// Withdrawn awards stay, out of totals and searches.
    pub withdrawn: bool,
    /// Why it was withdrawn.
    pub withdrawn_reason: String,
    /// Current values.
    pub fields: AwardFields,
    /// Job reviews, oldest first.
    pub reviews: Vec<StoredReview>,
    /// Recorded at.
    pub created_at: DateTime<Utc>,
    /// Last changed at.
    pub updated_at: DateTime<Utc>,
}

impl StoredAward {
    /// Where the award stands on `today`.
    pub fn standing(&self, today: NaiveDate) -> Standing {
        Standing::of(&self.fields, self.latest_review(), today)
    }

    /// The latest review (by review date; the later recorded wins a tie).
    pub fn latest_review(&self) -> Option<LatestReview> {
        self.reviews
            .iter()
            .max_by_key(|r| r.reviewed_on)
            .map(|r| LatestReview {
                on: r.reviewed_on,
                actual_jobs: r.actual_jobs,
            })
    }
}

/// An award row with its values, as every read selects it.
struct AwardRow {
    id: Uuid,
    revision: i64,
    withdrawn: bool,
    withdrawn_reason: String,
    fields: sqlx::types::Json<AwardFields>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl AwardRow {
    fn into_award(self, reviews: Vec<StoredReview>) -> StoredAward {
        StoredAward {
            id: self.id,
            revision: self.revision,
            withdrawn: self.withdrawn,
            withdrawn_reason: self.withdrawn_reason,
            fields: self.fields.0,
            reviews,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// One award with its reviews, locked until the transaction ends when `for_update`.
async fn one(
    conn: &mut sqlx::PgConnection,
    id: Uuid,
    for_update: bool,
) -> Result<Option<StoredAward>, sqlx::Error> {
    let row = if for_update {
        sqlx::query_as!(
            AwardRow,
            r#"SELECT a.id, a.revision, a.withdrawn, a.withdrawn_reason,
                      v.fields AS "fields: sqlx::types::Json<AwardFields>", a.created_at,
                      a.updated_at
               FROM awards a JOIN award_values v ON v.award_id = a.id WHERE a.id = $1
               FOR UPDATE"#,
            id,
        )
        .fetch_optional(&mut *conn)
        .await?
    } else {
        sqlx::query_as!(
            AwardRow,
            r#"SELECT a.id, a.revision, a.withdrawn, a.withdrawn_reason,
                      v.fields AS "fields: sqlx::types::Json<AwardFields>", a.created_at,
                      a.updated_at
               FROM awards a JOIN award_values v ON v.award_id = a.id WHERE a.id = $1"#,
            id,
        )
        .fetch_optional(&mut *conn)
        .await?
    };
    Ok(match row {
        Some(row) => with_reviews(conn, vec![row]).await?.pop(),
        None => None,
    })
}

/// Attaches to each row its reviews, read in one query.
async fn with_reviews(
    conn: &mut sqlx::PgConnection,
    rows: Vec<AwardRow>,
) -> Result<Vec<StoredAward>, sqlx::Error> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let reviews = sqlx::query_as!(
        StoredReview,
        "SELECT award_id, reviewed_on, actual_jobs, notes FROM job_reviews \
         WHERE award_id = ANY($1) ORDER BY award_id, seq",
        &ids,
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut by_award: HashMap<Uuid, Vec<StoredReview>> = HashMap::new();
    for review in reviews {
        by_award.entry(review.award_id).or_default().push(review);
    }
    Ok(rows
        .into_iter()
        .map(|row| {
            let reviews = by_award.remove(&row.id).unwrap_or_default();
            row.into_award(reviews)
        })
        .collect())
}
