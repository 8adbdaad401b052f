//! PostGIS, where the database has it. SoQL's geometry functions (`convex_hull`, `extent`,
//! `intersects`, …) compile to PostGIS calls, so the catalog looks for the extension once at
//! start: with it, row queries run with its schema on their search path and those functions
//! work; without it, the compiler refuses them by name (an operator who adds the extension
//! restarts the catalog).

use opendata_datastore::table::quote_ident;
use opendata_soql::Engine;
use sqlx::{Executor, PgPool};

use crate::SCHEMA;

/// Where PostGIS is installed, if it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PostGis {
    /// The schema holding its functions.
    pub schema: Option<String>,
}

impl PostGis {
    /// Looks for the extension in the catalog's database.
    pub async fn detect(pool: &PgPool) -> Result<PostGis, sqlx::Error> {
        let schema = sqlx::query_scalar::<_, String>(
            "SELECT n.nspname::text FROM pg_extension e \
             JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'postgis'",
        )
        .fetch_optional(pool)
        .await?;
        match &schema {
            Some(schema) => tracing::info!(schema, "PostGIS found: geometry functions are on"),
            None => tracing::warn!(
                "PostGIS is not installed in the database: SoQL's geometry functions are \
                 refused until it is (CREATE EXTENSION postgis) and the catalog restarts"
            ),
        }
        Ok(PostGis { schema })
    }

    /// What the SoQL compiler may use.
    pub fn engine(&self) -> Engine {
        Engine {
            postgis: self.schema.is_some(),
        }
    }

    /// The statement that gives a row-query connection its search path: the catalog's schema,
    /// then PostGIS's.
    pub fn search_path(&self) -> String {
        match &self.schema {
            Some(schema) => format!("SET search_path = {SCHEMA}, {}", quote_ident(schema)),
            None => format!("SET search_path = {SCHEMA}"),
        }
    }

    /// Sets the search path on a new connection.
    pub async fn prepare(statement: &str, connection: &mut sqlx::PgConnection) -> sqlx::Result<()> {
        connection.execute(statement).await.map(drop)
    }
}
