//! `opendata search` (what the public finds) and `opendata reindex` (rebuild the index).

use clap::Args;
use opendata_proto::search::v1::{ReindexRequest, SearchRequest, SortOrder};

use crate::client::{CliError, Connection, describe};

/// `opendata search [QUERY]`.
#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Words to look for (typos are tolerated); empty lists everything, newest first.
    #[arg(default_value = "")]
    pub query: String,
    /// Only this agency (repeatable: any of them).
    #[arg(long = "agency")]
    pub agencies: Vec<String>,
    /// Only this category (repeatable: any of them).
    #[arg(long = "category")]
    pub categories: Vec<String>,
    /// Only datasets with this tag (repeatable: all of them).
    #[arg(long = "tag")]
    pub tags: Vec<String>,
    /// Order by title instead of relevance.
    #[arg(long)]
    pub by_name: bool,
    /// Results to show.
    #[arg(long, default_value_t = 10)]
    pub limit: u32,
}

/// Prints the matching datasets with the agency and category facets.
pub async fn search(connection: &Connection, args: &SearchArgs) -> Result<(), CliError> {
    let response = connection
        .search()?
        .search(SearchRequest {
            query: args.query.clone(),
            agencies: args.agencies.clone(),
            categories: args.categories.clone(),
            tags: args.tags.clone(),
            sort: if args.by_name {
                SortOrder::Name
            } else {
                SortOrder::Relevance
            } as i32,
            limit: args.limit,
            facets: vec!["agency".to_owned(), "category".to_owned()],
            ..Default::default()
        })
        .await
        .map_err(|status| describe(&status))?
        .into_inner();
    println!(
        "{} datasets match ({} ms)",
        response.total, response.took_millis
    );
    for hit in &response.hits {
        println!("  {}  {}  [{}]", hit.id, hit.title, hit.agency_name);
    }
    for facet in &response.facets {
        let values: Vec<String> = facet
            .values
            .iter()
            .map(|v| format!("{} ({})", v.value, v.count))
            .collect();
        println!("{}: {}", facet.name, values.join(", "));
    }
    Ok(())
}

/// Rebuilds the index and reports its size.
pub async fn reindex(connection: &Connection) -> Result<(), CliError> {
    let rebuilt = connection
        .search()?
        .reindex(ReindexRequest {})
        .await
        .map_err(|status| describe(&status))?
        .into_inner();
    println!(
        "search index rebuilt: {} documents in {} ms",
        rebuilt.documents, rebuilt.took_millis
    );
    Ok(())
}
