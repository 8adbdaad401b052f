//! `GET /api/views/{id}.json`: a dataset's metadata in the shape Socrata clients read: columns with
//! ids, field names and types, the metadata object with the row identifier, owner and timestamps;
//! and its `changelog` (see [`crate::changelog`]), which Socrata's views do not have.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use opendata_platform::timestamp::from_proto;
use opendata_proto::catalog::v1::{Dataset, GetDatasetRequest, PublicationStage};
use serde::Serialize;
use serde_json::{Value, json};

use crate::changelog::changelog;
use crate::error::SodaError;
use crate::resource::is_dataset_id;
use crate::state::EdgeState;

/// One column, as `/api/views` shows it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ViewColumn {
    id: i64,
    name: String,
    data_type_name: &'static str,
    description: String,
    field_name: String,
    position: u32,
    render_type_name: &'static str,
    table_column_id: i64,
    format: Value,
}

/// A dataset, as `/api/views` shows it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct View {
    id: String,
    name: String,
    asset_type: &'static str,
    attribution: String,
    average_rating: u32,
    category: String,
    created_at: i64,
    description: String,
    display_type: &'static str,
    download_count: u64,
    hide_from_catalog: bool,
    hide_from_data_json: bool,
    new_backend: bool,
    number_of_comments: u32,
    provenance: &'static str,
    publication_append_enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    publication_date: Option<i64>,
    publication_stage: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    rows_updated_at: Option<i64>,
    total_times_rated: u32,
    view_count: u64,
    view_last_modified: i64,
    view_type: &'static str,
    columns: Vec<ViewColumn>,
    metadata: Value,
    owner: Value,
    table_author: Value,
    tags: Vec<String>,
    flags: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    license: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    attribution_link: Option<String>,
    rows_updated_by: String,
    index_updated_at: i64,
    rights: Vec<&'static str>,
    grants: Vec<Value>,
    query: Value,
}

fn epoch(timestamp: Option<&prost_types::Timestamp>) -> Option<i64> {
    timestamp.and_then(from_proto).map(|time| time.timestamp())
}

fn view_of(dataset: Dataset) -> View {
    let metadata = dataset.metadata.unwrap_or_default();
    let schema = dataset.schema.unwrap_or_default();
    let row_identifier = schema
        .columns
        .iter()
        .find(|c| c.field_name == schema.row_identifier)
        .map_or_else(|| "0".to_owned(), |c| c.id.to_string());
    let created_at = epoch(dataset.created_at.as_ref()).unwrap_or_default();
    let metadata_updated = epoch(dataset.metadata_updated_at.as_ref()).unwrap_or(created_at);
    let rows_updated = epoch(dataset.data_updated_at.as_ref());
    let published = dataset.publication_stage == PublicationStage::Published as i32;
    let owner = json!({
        "id": dataset.owner_id,
        "displayName": dataset.agency_id,
        "screenName": dataset.agency_id,
        "type": "interactive",
    });
    View {
        id: dataset.id,
        name: metadata.title,
        asset_type: "dataset",
        attribution: metadata.attribution,
        average_rating: 0,
        category: metadata.category,
        created_at,
        description: metadata.description,
        display_type: "table",
        download_count: 0,
        hide_from_catalog: false,
        hide_from_data_json: false,
        new_backend: true,
        number_of_comments: 0,
        provenance: "official",
        publication_append_enabled: false,
        publication_date: epoch(dataset.published_at.as_ref()),
        publication_stage: if published {
            "published"
        } else {
            "unpublished"
        },
        rows_updated_at: rows_updated,
        total_times_rated: 0,
        view_count: 0,
        view_last_modified: rows_updated
            .map_or(metadata_updated, |rows| rows.max(metadata_updated)),
        view_type: "tabular",
        columns: schema
            .columns
            .into_iter()
            .map(|column| {
                let type_name = column.r#type().data_type_name();
                ViewColumn {
                    id: column.id,
                    name: column.display_name,
                    data_type_name: type_name,
                    description: column.description,
                    field_name: column.field_name,
                    position: column.position,
                    render_type_name: type_name,
                    table_column_id: column.id,
                    format: json!({}),
                }
            })
            .collect(),
        metadata: json!({
            "rowIdentifier": row_identifier,
            "rdfSubject": "0",
            "rdfClass": "",
            "availableDisplayTypes": ["table", "fatrow", "page"],
            "custom_fields": {
                "Common Core": {
                    "Contact Name": metadata.contact_point.as_ref().map(|c| c.name.clone()).unwrap_or_default(),
                    "Contact Email": metadata.contact_point.as_ref().map(|c| c.email.clone()).unwrap_or_default(),
                    "License": metadata.license,
                    "Publisher": metadata.publisher,
                    "Temporal Applicability": metadata.temporal,
                    "Spatial": metadata.spatial,
                    "Frequency": metadata.accrual_periodicity,
                    "Landing Page": metadata.landing_page,
                },
                "Agency": { "Agency": dataset.agency_id },
            },
            "rowsUpdatedAt": rows_updated,
            "rowCount": dataset.row_count,
            "version": dataset.current_version,
        }),
        table_author: owner.clone(),
        owner,
        tags: metadata.keywords,
        flags: vec!["default"],
        license: (!metadata.license.is_empty())
            .then(|| json!({"name": metadata.license, "termsLink": metadata.license})),
        attribution_link: (!metadata.landing_page.is_empty())
            .then(|| metadata.landing_page.clone()),
        rows_updated_by: dataset.owner_id.clone(),
        index_updated_at: metadata_updated,
        rights: vec!["read"],
        grants: if published {
            vec![json!({"inherited": false, "type": "viewer", "flags": ["public"]})]
        } else {
            Vec::new()
        },
        query: json!({}),
    }
}

/// The handler.
pub async fn view(
    State(state): State<EdgeState>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, SodaError> {
    let id = file.strip_suffix(".json").unwrap_or(&file);
    if !is_dataset_id(id) {
        return Err(SodaError::dataset_not_found(id));
    }
    let dataset = state
        .catalog(&headers, None)?
        .get_dataset(GetDatasetRequest { id: id.to_owned() })
        .await?
        .into_inner();
    let mut view = serde_json::to_value(view_of(dataset)).unwrap_or_default();
    view["changelog"] = changelog(&state, &headers, id).await?;
    Ok(Json(view))
}
