//! The gRPC adapter of `CatalogService`: authenticate, convert, call the catalog, convert back.

use std::pin::Pin;
use std::sync::Arc;

use futures::Stream;
use opendata_datastore::convert::schema_from_proto;
use opendata_datastore::output::Format;
use opendata_datastore::schema::Schema;
use opendata_platform::auth::Authenticator;
use opendata_platform::error::ApiError;
use opendata_platform::timestamp::{from_proto, to_proto, to_proto_opt};
use opendata_proto::catalog::v1 as pb;
use opendata_proto::catalog::v1::catalog_service_server::CatalogService;
use opendata_soql::QueryRequest;
use tokio_stream::StreamExt as _;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::catalog::{Catalog, ColumnChange, DatasetUpdate, DiffRead, Listing, RowAnswer, RowRead};
use crate::convert::{dataset_to_proto, metadata_from_proto, version_to_proto};
use crate::model::Stage;

/// A `QueryRows` (or `DiffRows`) response stream.
type RowStream = Pin<Box<dyn Stream<Item = Result<pb::QueryRowsResponse, Status>> + Send>>;

/// Serves `CatalogService`.
#[derive(Clone)]
pub struct CatalogApi {
    catalog: Catalog,
    auth: Arc<Authenticator>,
}

impl CatalogApi {
    /// The adapter.
    pub fn new(catalog: Catalog, auth: Arc<Authenticator>) -> Self {
        CatalogApi { catalog, auth }
    }
}

fn schema_arg(
    schema: Option<&opendata_proto::common::v1::Schema>,
    field: &str,
) -> Result<Schema, ApiError> {
    match schema {
        Some(schema) => schema_from_proto(schema)
            .map_err(|e| ApiError::invalid_field(&format!("{field}.{}", e.field), e.message)),
        None => Ok(Schema::default()),
    }
}

fn stage_arg(stage: pb::PublicationStage) -> Option<Stage> {
    match stage {
        pb::PublicationStage::Unspecified => None,
        pb::PublicationStage::Private => Some(Stage::Private),
        pb::PublicationStage::Published => Some(Stage::Published),
    }
}

#[tonic::async_trait]
impl CatalogService for CatalogApi {
    async fn create_dataset(
        &self,
        request: Request<pb::CreateDatasetRequest>,
    ) -> Result<Response<pb::Dataset>, Status> {
        let caller = self.auth.require(request.metadata()).await?;
        let body = request.into_inner();
        let metadata = metadata_from_proto(&body.metadata.unwrap_or_default());
        let schema = schema_arg(body.schema.as_ref(), "schema")?;
        let dataset = self
            .catalog
            .create(&caller, &body.agency_id, metadata, schema, &body.id)
            .await?;
        Ok(Response::new(dataset_to_proto(&dataset)))
    }

    async fn get_dataset(
        &self,
        request: Request<pb::GetDatasetRequest>,
    ) -> Result<Response<pb::Dataset>, Status> {
        let caller = self.auth.optional(request.metadata()).await?;
        let dataset = self
            .catalog
            .get(caller.as_ref(), &request.into_inner().id)
            .await?;
        Ok(Response::new(dataset_to_proto(&dataset)))
    }

    async fn update_dataset(
        &self,
        request: Request<pb::UpdateDatasetRequest>,
    ) -> Result<Response<pb::Dataset>, Status> {
        let caller = self.auth.require(request.metadata()).await?;
        let body = request.into_inner();
        let metadata = body.metadata.as_ref().map(|metadata| {
            let mask = body
                .update_mask
                .clone()
                .map(|mask| mask.paths)
                .unwrap_or_default();
            (metadata_from_proto(metadata), mask)
        });
        let replace_schema = if body.replace_schema {
            let schema = opendata_proto::common::v1::Schema {
                columns: body.columns.clone(),
                row_identifier: body.row_identifier.clone(),
            };
            Some(schema_arg(Some(&schema), "columns")?)
        } else {
            None
        };
        let columns = if body.replace_schema {
            Vec::new()
        } else {
            body.columns
                .iter()
                .map(|column| ColumnChange {
                    field_name: column.field_name.clone(),
                    display_name: column.display_name.clone(),
                    description: column.description.clone(),
                    indexed: column.indexed,
                })
                .collect()
        };
        let dataset = self
            .catalog
            .update(
                &caller,
                &body.id,
                DatasetUpdate {
                    metadata,
                    columns,
                    replace_schema,
                },
            )
            .await?;
        Ok(Response::new(dataset_to_proto(&dataset)))
    }

    async fn list_datasets(
        &self,
        request: Request<pb::ListDatasetsRequest>,
    ) -> Result<Response<pb::ListDatasetsResponse>, Status> {
        let caller = self.auth.optional(request.metadata()).await?;
        let body = request.into_inner();
        let (datasets, next) = self
            .catalog
            .list(
                caller.as_ref(),
                &Listing {
                    agency_id: Some(body.agency_id.as_str()).filter(|a| !a.is_empty()),
                    stage: stage_arg(body.publication_stage()),
                    include_withheld: body.include_withheld,
                    page_size: body.page_size,
                    page_token: Some(body.page_token.as_str()).filter(|t| !t.is_empty()),
                },
            )
            .await?;
        Ok(Response::new(pb::ListDatasetsResponse {
            datasets: datasets.iter().map(dataset_to_proto).collect(),
            next_page_token: next.unwrap_or_default(),
        }))
    }

    async fn list_versions(
        &self,
        request: Request<pb::ListVersionsRequest>,
    ) -> Result<Response<pb::ListVersionsResponse>, Status> {
        let caller = self.auth.optional(request.metadata()).await?;
        let body = request.into_inner();
        let versions = self
            .catalog
            .versions(caller.as_ref(), &body.id, body.limit)
            .await?;
        Ok(Response::new(pb::ListVersionsResponse {
            versions: versions
                .iter()
                .map(version_to_proto)
                .map(|mut version| {
                    if body.without_schemas {
                        version.schema = None;
                    }
                    version
                })
                .collect(),
        }))
    }

    type QueryRowsStream = RowStream;
    type DiffRowsStream = RowStream;

    async fn query_rows(
        &self,
        request: Request<pb::QueryRowsRequest>,
    ) -> Result<Response<Self::QueryRowsStream>, Status> {
        let caller = self.auth.optional(request.metadata()).await?;
        let body = request.into_inner();
        let format = match body.format() {
            pb::RowFormat::Unspecified | pb::RowFormat::Json => Format::Json,
            pb::RowFormat::Csv => Format::Csv,
            pb::RowFormat::Geojson => Format::GeoJson,
        };
        let read = RowRead {
            request: QueryRequest {
                select: body.select_clause,
                where_clause: body.where_clause,
                order: body.order_clause,
                group: body.group_clause,
                having: body.having_clause,
                limit: body.limit,
                offset: body.offset,
                search: body.search,
                query: body.query,
                filters: body
                    .filters
                    .into_iter()
                    .map(|f| (f.field, f.value))
                    .collect(),
            },
            format,
            bom: body.bom,
            if_none_match: body.if_none_match,
            if_modified_since: body.if_modified_since.as_ref().and_then(from_proto),
            version: (body.version != 0).then_some(body.version),
        };
        let answer = self
            .catalog
            .query(caller.as_ref(), &body.dataset_id, &read)
            .await?;
        Ok(Response::new(row_stream(answer)))
    }

    async fn summarize_diff(
        &self,
        request: Request<pb::DiffRequest>,
    ) -> Result<Response<pb::DiffSummary>, Status> {
        let caller = self.auth.optional(request.metadata()).await?;
        let body = request.into_inner();
        let (plan, counts) = self
            .catalog
            .diff_summary(
                caller.as_ref(),
                &body.dataset_id,
                body.from_version,
                body.to_version,
            )
            .await?;
        Ok(Response::new(pb::DiffSummary {
            dataset_id: body.dataset_id,
            from_version: body.from_version,
            to_version: body.to_version,
            row_identifier: plan.key.unwrap_or_default(),
            columns: plan.columns.into_iter().map(|c| c.field_name).collect(),
            columns_added: plan.columns_added,
            columns_removed: plan.columns_removed,
            added: counts.added,
            removed: counts.removed,
            changed: counts.changed,
        }))
    }

    async fn diff_rows(
        &self,
        request: Request<pb::DiffRequest>,
    ) -> Result<Response<Self::DiffRowsStream>, Status> {
        let caller = self.auth.optional(request.metadata()).await?;
        let body = request.into_inner();
        let format = match body.format() {
            pb::RowFormat::Unspecified | pb::RowFormat::Json => Format::Json,
            pb::RowFormat::Csv => Format::Csv,
            pb::RowFormat::Geojson => {
                return Err(ApiError::invalid_field(
                    "format",
                    "a diff is JSON or CSV, not GeoJSON",
                )
                .into());
            }
        };
        let read = DiffRead {
            from: body.from_version,
            to: body.to_version,
            format,
            limit: body.limit,
            offset: body.offset,
            if_none_match: body.if_none_match,
        };
        let answer = self
            .catalog
            .diff_rows(caller.as_ref(), &body.dataset_id, &read)
            .await?;
        Ok(Response::new(row_stream(answer)))
    }

    type WatchVersionsStream =
        Pin<Box<dyn Stream<Item = Result<pb::DatasetVersion, Status>> + Send>>;

    async fn watch_versions(
        &self,
        request: Request<pb::WatchVersionsRequest>,
    ) -> Result<Response<Self::WatchVersionsStream>, Status> {
        let caller = self.auth.optional(request.metadata()).await?;
        let body = request.into_inner();
        let watched = self
            .catalog
            .watch(caller, &body.dataset_id, body.after_version)
            .await?;
        let versions = ReceiverStream::new(watched).map(|version| {
            version.map(|version| pb::DatasetVersion {
                version: version.version,
                row_count: version.row_count,
                rows_created: version.rows_created,
                rows_updated: version.rows_updated,
                rows_deleted: version.rows_deleted,
                mode: version.mode,
                committed_at: Some(to_proto(version.committed_at)),
                activated_at: Some(to_proto(version.activated_at)),
                ..Default::default()
            })
        });
        Ok(Response::new(Box::pin(versions)))
    }
}

/// A row answer as a `QueryRows` stream: the header, then the body's chunks (none when the
/// client's copy is current).
fn row_stream(answer: RowAnswer) -> RowStream {
    let (columns, chunks) = match answer.rows {
        Some((columns, chunks)) => (columns, Some(chunks)),
        None => (Vec::new(), None),
    };
    let header = pb::QueryRowsResponse {
        part: Some(pb::query_rows_response::Part::Header(pb::QueryHeader {
            columns: columns
                .iter()
                .map(|c| pb::OutputColumn {
                    field_name: c.name.clone(),
                    soql_type: c.soql_type.to_owned(),
                })
                .collect(),
            version: answer.dataset.current_version,
            data_updated_at: to_proto_opt(Some(answer.dataset.updated_at())),
            etag: answer.etag,
            not_modified: chunks.is_none(),
        })),
    };
    let Some(chunks) = chunks else {
        return Box::pin(tokio_stream::once(Ok(header)));
    };
    let body = ReceiverStream::new(chunks).map(|chunk| {
        chunk.map(|bytes| pb::QueryRowsResponse {
            part: Some(pb::query_rows_response::Part::Chunk(bytes)),
        })
    });
    Box::pin(tokio_stream::once(Ok(header)).chain(body))
}
