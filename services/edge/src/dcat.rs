//! `GET /data.json`: the catalog in DCAT-US 1.1 (Project Open Data, non-federal schema), listing
//! every published dataset with its distributions, and every withheld one by its metadata, as
//! `non-public` (or `restricted public`) with `rights` saying why.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use chrono::{DateTime, Utc};
use opendata_platform::timestamp::from_proto;
use opendata_proto::catalog::v1::{Dataset, ListDatasetsRequest};
use opendata_proto::governance::v1::ListAgenciesRequest;
use serde_json::{Map, Value, json};

use crate::error::SodaError;
use crate::since::parse_since;
use crate::state::EdgeState;

/// Datasets fetched per catalog call.
const PAGE: u32 = 1000;

/// The handler. `modified_since` keeps the datasets modified (metadata or data) at or after a
/// time.
pub async fn data_json(
    State(state): State<EdgeState>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, SodaError> {
    let since = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(name, _)| name == "modified_since")
        .map(|(name, value)| parse_since(&name, &value))
        .transpose()?;
    let agencies: HashMap<String, String> = state
        .identity()
        .list_agencies(ListAgenciesRequest {})
        .await?
        .into_inner()
        .agencies
        .into_iter()
        .map(|agency| (agency.id, agency.name))
        .collect();
    let base = state.settings.base_url().to_owned();
    let entries: Vec<Value> = public_catalog(&state)
        .await?
        .into_iter()
        .filter(|dataset| since.is_none_or(|since| modified(dataset).is_some_and(|m| m >= since)))
        .map(|dataset| entry(&base, &agencies, dataset))
        .collect();
    Ok(Json(json!({
        "@context": "https://project-open-data.cio.gov/v1.1/schema/catalog.jsonld",
        "@id": format!("{base}/data.json"),
        "@type": "dcat:Catalog",
        "conformsTo": "https://project-open-data.cio.gov/v1.1/schema",
        "describedBy": "https://project-open-data.cio.gov/v1.1/schema/catalog.json",
        "dataset": entries,
    })))
}

/// When a dataset last changed, its metadata or its data.
fn modified(dataset: &Dataset) -> Option<DateTime<Utc>> {
    [
        dataset.data_updated_at.as_ref(),
        dataset.metadata_updated_at.as_ref(),
    ]
    .into_iter()
    .flatten()
    .filter_map(from_proto)
    .max()
}

/// Every dataset the public may know of, as the anonymous public reads the catalog: the published
/// ones, and the withheld ones by their metadata.
async fn public_catalog(state: &EdgeState) -> Result<Vec<Dataset>, SodaError> {
    let mut catalog = state.catalog(&HeaderMap::new(), None)?;
    let mut datasets = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = catalog
            .list_datasets(ListDatasetsRequest {
                page_size: PAGE,
                page_token: page_token.clone(),
                include_withheld: true,
                ..Default::default()
            })
            .await?
            .into_inner();
        datasets.extend(page.datasets);
        if page.next_page_token.is_empty() {
            return Ok(datasets);
        }
        page_token = page.next_page_token;
    }
}

/// One dataset as a DCAT-US entry; optional fields appear only when they have a value.
fn entry(base: &str, agencies: &HashMap<String, String>, dataset: Dataset) -> Value {
    let metadata = dataset.metadata.clone().unwrap_or_default();
    let agency_name = agencies
        .get(&dataset.agency_id)
        .cloned()
        .unwrap_or_else(|| dataset.agency_id.clone());
    let publisher = if metadata.publisher.is_empty() {
        agency_name
    } else {
        metadata.publisher.clone()
    };
    let contact = metadata.contact_point.clone().unwrap_or_default();
    let mut contact_point = json!({
        "@type": "vcard:Contact",
        "fn": if contact.name.is_empty() { publisher.clone() } else { contact.name },
    });
    if !contact.email.is_empty() {
        contact_point["hasEmail"] = json!(format!("mailto:{}", contact.email));
    }
    let id = &dataset.id;
    let mut entry = Map::new();
    entry.insert("@type".into(), json!("dcat:Dataset"));
    entry.insert("identifier".into(), json!(format!("{base}/api/views/{id}")));
    entry.insert("title".into(), json!(metadata.title));
    entry.insert(
        "description".into(),
        json!(if metadata.description.is_empty() {
            metadata.title.clone()
        } else {
            metadata.description.clone()
        }),
    );
    entry.insert(
        "accessLevel".into(),
        json!(metadata.access_level().dcat_name()),
    );
    entry.insert(
        "publisher".into(),
        json!({"@type": "org:Organization", "name": publisher}),
    );
    entry.insert("contactPoint".into(), contact_point);
    if let Some(modified) = modified(&dataset) {
        entry.insert(
            "modified".into(),
            json!(modified.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
        );
    }
    if let Some(issued) = dataset.published_at.as_ref().and_then(from_proto) {
        entry.insert(
            "issued".into(),
            json!(issued.format("%Y-%m-%d").to_string()),
        );
    }
    if !metadata.keywords.is_empty() {
        entry.insert("keyword".into(), json!(metadata.keywords));
    }
    if !metadata.category.is_empty() {
        entry.insert("theme".into(), json!([metadata.category]));
    }
    // A withheld dataset is disclosed by its metadata alone: no distributions, and no landing page
    // on the portal (which answers 404 for it).
    let landing_page = match (metadata.landing_page.is_empty(), dataset.withheld) {
        (false, _) => Some(metadata.landing_page.clone()),
        (true, false) => Some(format!("{base}/api/views/{id}.json")),
        (true, true) => None,
    };
    if let Some(landing_page) = landing_page {
        entry.insert("landingPage".into(), json!(landing_page));
    }
    for (key, value) in [
        ("license", &metadata.license),
        ("rights", &metadata.rights),
        ("spatial", &metadata.spatial),
        ("temporal", &metadata.temporal),
        ("accrualPeriodicity", &metadata.accrual_periodicity),
    ] {
        if !value.is_empty() {
            entry.insert(key.into(), json!(value));
        }
    }
    if dataset.withheld {
        return Value::Object(entry);
    }
    entry.insert(
        "distribution".into(),
        json!([
            {"@type": "dcat:Distribution", "downloadURL": format!("{base}/resource/{id}.csv"), "mediaType": "text/csv", "format": "CSV"},
            {"@type": "dcat:Distribution", "downloadURL": format!("{base}/resource/{id}.json"), "mediaType": "application/json", "format": "JSON"},
        ]),
    );
    Value::Object(entry)
}
