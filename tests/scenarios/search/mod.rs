//! Search behaviour, run against the embedded engine always and against Meilisearch when
//! `OPENDATA_TEST_MEILI_URL` (and `OPENDATA_TEST_MEILI_KEY`, if the server has a key) is set;
//! without it the Meilisearch variants are reported as ignored (skipped), never as passed.

mod discovery;
mod engine;
mod limits;
mod service;
mod shared;

use opendata_testkit::SearchEngine;

/// The engine a behaviour test runs against.
pub fn embedded() -> SearchEngine {
    SearchEngine::Embedded
}

/// Meilisearch from the environment; fails loudly when a Meilisearch test runs without it.
pub fn meilisearch() -> SearchEngine {
    SearchEngine::meilisearch_from_env().expect(
        "OPENDATA_TEST_MEILI_URL must name a Meilisearch server for the Meilisearch variants",
    )
}

/// Declares each named `async fn(SearchEngine)` as two tests: `embedded::<name>` and
/// `meilisearch::<name>` (ignored unless run with `--run-ignored`, as `make test` does when
/// `OPENDATA_TEST_MEILI_URL` is set).
macro_rules! engine_tests {
    ($($name:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::search::embedded()).await
                }
            )*
        }
        mod meilisearch {
            $(
                #[tokio::test]
                #[ignore = "needs OPENDATA_TEST_MEILI_URL"]
                async fn $name() {
                    super::$name($crate::search::meilisearch()).await
                }
            )*
        }
    };
}
pub(crate) use engine_tests;
