//! PostGIS, where the database has it. SoQL's geometry functions (`convex_hull`, `extent`,
//! `intersects`, …) compile to PostGIS calls, so the catalog looks for the extension once at
//! start: with it (and the reader role allowed to use its schema), row queries run with its
//! schema on their search path and those functions work; without it, the compiler refuses them
//! by name (an operator who adds the extension restarts the catalog).

use opendata_datastore::table::{READER_ROLE, quote_ident};
use opendata_soql::Extensions;
use sqlx::PgPool;
use sqlx::postgres::PgConnectOptions;

use crate::SCHEMA;

/// Where PostGIS is installed, if it is and row queries may use it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PostGis {
    /// The schema holding its functions.
    pub schema: Option<String>,
}

impl PostGis {
    /// Looks for the extension in the catalog's database, and for the reader role's right to
    /// use its schema.
    pub async fn detect(pool: &PgPool) -> Result<PostGis, sqlx::Error> {
        let found = sqlx::query_as::<_, (String, bool)>(
            "SELECT n.nspname::text, has_schema_privilege($1, n.oid, 'USAGE') \
             FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace \
             WHERE e.extname = 'postgis'",
        )
        .bind(READER_ROLE)
        .fetch_optional(pool)
        .await?;
        let schema = match found {
            Some((schema, true)) => {
                tracing::info!(schema, "PostGIS found: geometry functions are on");
                Some(schema)
            }
            Some((schema, false)) => {
                tracing::warn!(
                    schema,
                    role = READER_ROLE,
                    "PostGIS is installed, but the reader role may not use its schema: SoQL's \
                     geometry functions are refused until it may (GRANT USAGE) and the catalog \
                     restarts"
                );
                None
            }
            None => {
                tracing::warn!(
                    "PostGIS is not installed in the database: SoQL's geometry functions are \
                     refused until it is (CREATE EXTENSION postgis) and the catalog restarts"
                );
                None
            }
        };
        Ok(PostGis { schema })
    }

    /// What the SoQL compiler may use.
    pub fn extensions(&self) -> Extensions {
        Extensions {
            postgis: self.schema.is_some(),
        }
    }

    /// `options` for row queries: the catalog's schema on the search path, then PostGIS's.
    /// (A connection option's spaces and backslashes are escaped with a backslash.)
    pub fn row_query_options(&self, options: PgConnectOptions) -> PgConnectOptions {
        match &self.schema {
            Some(schema) => {
                let path = format!("{SCHEMA},{}", quote_ident(schema))
                    .replace('\\', "\\\\")
                    .replace(' ', "\\ ");
                options.options([("search_path", path)])
            }
            None => options,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_search_path_quotes_and_escapes_the_schema() {
        let options = || PgConnectOptions::new().options([("search_path", SCHEMA)]);
        let without = PostGis::default().row_query_options(options());
        assert_eq!(without.get_options(), Some("-c search_path=catalog"));
        let odd = PostGis {
            schema: Some("geo \"x\"".to_owned()),
        };
        assert_eq!(
            odd.row_query_options(options()).get_options(),
            Some(r#"-c search_path=catalog -c search_path=catalog,"geo\ ""x""""#)
        );
    }
}
