//! The Discovery API's response bodies, serialized straight from the search hits (a page holds up
//! to 100 results with all their columns, so no intermediate JSON tree is built).

use opendata_platform::timestamp::iso_millis as iso;
use opendata_proto::search::v1::SearchHit;
use serde::Serialize;

/// `{results, resultSetSize, timings, warnings}`.
#[derive(Serialize)]
pub struct CatalogPage {
    /// The page's results.
    pub results: Vec<CatalogResult>,
    /// Matches in all.
    #[serde(rename = "resultSetSize")]
    pub result_set_size: u64,
    /// Where the time went.
    pub timings: Timings,
    /// Always empty.
    pub warnings: Vec<String>,
}

/// `timings`: milliseconds in the edge, and in the engine.
#[derive(Serialize)]
pub struct Timings {
    /// The whole request.
    #[serde(rename = "serviceMillis")]
    pub service_millis: u64,
    /// The engine (Socrata reports a range; both ends are the one figure here).
    #[serde(rename = "searchMillis")]
    pub search_millis: [u32; 2],
}

/// One result.
#[derive(Serialize)]
pub struct CatalogResult {
    resource: Resource,
    classification: Classification,
    metadata: Metadata,
    permalink: String,
    link: String,
}

#[derive(Serialize)]
struct Resource {
    name: String,
    id: String,
    resource_name: Option<String>,
    parent_fxf: [String; 0],
    description: String,
    attribution: Option<String>,
    attribution_link: Option<String>,
    contact_email: Option<String>,
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(rename = "updatedAt")]
    updated_at: Option<String>,
    #[serde(rename = "createdAt")]
    created_at: Option<String>,
    metadata_updated_at: Option<String>,
    data_updated_at: Option<String>,
    columns_name: Vec<String>,
    columns_field_name: Vec<String>,
    columns_datatype: Vec<String>,
    columns_description: Vec<String>,
    columns_format: Vec<Empty>,
    provenance: &'static str,
    lens_view_type: &'static str,
    lens_display_type: &'static str,
    locked: bool,
    blob_mime_type: Option<String>,
    hide_from_data_json: bool,
    publication_date: Option<String>,
}

/// `{}`.
#[derive(Serialize)]
struct Empty {}

#[derive(Serialize)]
struct Classification {
    categories: [String; 0],
    tags: [String; 0],
    domain_category: Option<String>,
    domain_tags: Vec<String>,
    domain_metadata: Vec<KeyValue>,
}

#[derive(Serialize)]
struct KeyValue {
    key: &'static str,
    value: String,
}

#[derive(Serialize)]
struct Metadata {
    domain: String,
}

fn non_empty(value: String) -> Option<String> {
    (!value.is_empty()).then_some(value)
}

/// Socrata's human data type names (`calendar_date` is "Calendar date").
pub fn human_type(data_type: &str) -> String {
    match data_type {
        "url" => "URL".to_owned(),
        "date" => "Date & Time".to_owned(),
        other => {
            let spaced = other.replace('_', " ");
            let mut chars = spaced.chars();
            chars
                .next()
                .map(|first| first.to_uppercase().chain(chars).collect())
                .unwrap_or_default()
        }
    }
}

/// A URL path segment from a title: `Real Estate Sales 2001-2022` becomes
/// `Real-Estate-Sales-2001-2022`.
pub fn slug(text: &str) -> String {
    let words: Vec<&str> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    if words.is_empty() {
        "dataset".to_owned()
    } else {
        words.join("-")
    }
}

impl CatalogResult {
    /// A hit as a result of the portal at `base` (whose host is `domain`).
    pub fn new(base: &str, domain: &str, hit: SearchHit) -> CatalogResult {
        let category_segment = if hit.category.is_empty() {
            "dataset".to_owned()
        } else {
            slug(&hit.category)
        };
        let permalink = format!("{base}/d/{}", hit.id);
        let link = format!("{base}/{category_segment}/{}/{}", slug(&hit.title), hit.id);
        let columns_format = hit.columns.iter().map(|_| Empty {}).collect();
        let columns_datatype = hit
            .columns
            .iter()
            .map(|c| human_type(&c.data_type))
            .collect();
        let mut columns_name = Vec::with_capacity(hit.columns.len());
        let mut columns_field_name = Vec::with_capacity(hit.columns.len());
        let mut columns_description = Vec::with_capacity(hit.columns.len());
        for column in hit.columns {
            columns_name.push(column.name);
            columns_field_name.push(column.field_name);
            columns_description.push(column.description);
        }
        CatalogResult {
            resource: Resource {
                name: hit.title,
                id: hit.id,
                resource_name: None,
                parent_fxf: [],
                description: hit.description,
                attribution: non_empty(hit.attribution),
                attribution_link: None,
                contact_email: non_empty(hit.contact_email),
                kind: "dataset",
                updated_at: iso(hit.updated_at.as_ref()),
                created_at: iso(hit.created_at.as_ref()),
                metadata_updated_at: iso(hit.metadata_updated_at.as_ref()),
                data_updated_at: iso(hit.data_updated_at.as_ref()),
                columns_name,
                columns_field_name,
                columns_datatype,
                columns_description,
                columns_format,
                provenance: "official",
                lens_view_type: "tabular",
                lens_display_type: "table",
                locked: false,
                blob_mime_type: None,
                hide_from_data_json: false,
                publication_date: iso(hit.published_at.as_ref()),
            },
            classification: Classification {
                categories: [],
                tags: [],
                domain_category: non_empty(hit.category),
                domain_tags: hit.tags,
                domain_metadata: vec![KeyValue {
                    key: "Agency",
                    value: hit.agency_name,
                }],
            },
            metadata: Metadata {
                domain: domain.to_owned(),
            },
            permalink,
            link,
        }
    }
}

/// A title with the words that start with a query word wrapped in Socrata's highlight span,
/// HTML-escaped.
pub fn highlight(title: &str, query: &str) -> String {
    let wanted: Vec<String> = query
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    let mut out = String::new();
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if word.is_empty() {
            return;
        }
        let lower = word.to_lowercase();
        if wanted.iter().any(|w| lower.starts_with(w.as_str())) {
            out.push_str("<span class=highlight>");
            out.push_str(word);
            out.push_str("</span>");
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    for c in title.chars() {
        if c.is_alphanumeric() {
            word.push(c);
            continue;
        }
        flush(&mut word, &mut out);
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    flush(&mut word, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_are_slugged_highlighted_and_escaped() {
        assert_eq!(
            slug("Real Estate Sales 2001-2022"),
            "Real-Estate-Sales-2001-2022"
        );
        assert_eq!(
            highlight("Real Estate <Sales> & more", "real sal"),
            "<span class=highlight>Real</span> Estate &lt;<span class=highlight>Sales</span>&gt; &amp; more"
        );
        assert_eq!(human_type("calendar_date"), "Calendar date");
        assert_eq!(human_type("number"), "Number");
    }
}
