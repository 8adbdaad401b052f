//! Socrata's write API (SODA producer), so agencies' existing pipelines (sodapy, socrata-py,
//! DataSync-style jobs) keep working: `POST /resource/{id}.json` (or `.csv`) upserts by the row
//! identifier, a row with `":deleted": true` deleting its row; `PUT` replaces every row. The body
//! is a JSON array of objects keyed by field name (at most `write_json_bytes`, turned into CSV
//! here) or CSV (`Content-Type: text/csv`, streamed through as it arrives, at most
//! `write_csv_bytes`).
//!
//! Authenticated by an API key: HTTP Basic with the key as the password (any user name) or as
//! the user name with an empty password, or `Authorization: Bearer <key>`. The rows pass through
//! ingestion over gRPC as one upload (`CreateUpload`, `UploadChunks`, `CommitUpload`) with the
//! key: the same authorization (the dataset's agency), coercion and report as `opendata push`.
//! One row that does not fit fails the whole request (400 naming the row, the column and why) and
//! nothing is written. The answer is Socrata's: `Rows Created`, `Rows Updated` (rows whose values
//! changed), `Rows Deleted`, `Errors` (always 0: errors fail the request), `By RowIdentifier`,
//! `By SID` (0: rows are matched by their identifier).

use std::sync::{Arc, Mutex};

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use base64::Engine as _;
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{Stream, StreamExt as _};
use opendata_limits::{Limit, WRITE_BODY_SECONDS, WRITE_CSV_BYTES, WRITE_JSON_BYTES};
use opendata_platform::error::{ApiError, ErrorCode};
use opendata_platform::grpc::bearer_credential;
use opendata_proto::catalog::v1::RowFormat;
use opendata_proto::ingestion::v1 as pb;
use serde_json::json;
use tokio_stream::wrappers::ReceiverStream;
use tower_http::timeout::TimeoutError;

use crate::error::SodaError;
use crate::json_csv::{NotRows, json_rows_to_csv};
use crate::params::split_extension;
use crate::resource::is_dataset_id;
use crate::state::EdgeState;

/// Bytes of a JSON body's CSV sent to ingestion per message.
const CHUNK_BYTES: usize = 1024 * 1024;
/// Rejected rows named in a refusal.
const REJECTIONS_NAMED: u32 = 10;

/// `POST /resource/{id}.json|.csv`: upsert.
pub async fn upsert(
    state: State<EdgeState>,
    file: Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<serde_json::Value>, SodaError> {
    write(state, file, headers, body, pb::UploadMode::Upsert).await
}

/// `PUT /resource/{id}.json|.csv`: replace.
pub async fn replace(
    state: State<EdgeState>,
    file: Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<serde_json::Value>, SodaError> {
    write(state, file, headers, body, pb::UploadMode::Replace).await
}

/// How the body is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyKind {
    Json,
    Csv,
}

async fn write(
    State(state): State<EdgeState>,
    Path(file): Path<String>,
    headers: HeaderMap,
    body: Body,
    mode: pb::UploadMode,
) -> Result<Json<serde_json::Value>, SodaError> {
    let (id, extension) = split_extension(&file)?;
    if !is_dataset_id(id) {
        return Err(SodaError::dataset_not_found(id));
    }
    let id = id.to_owned();
    let key = write_key(&headers)?;
    let kind = body_kind(&headers, extension);
    let mut ingestion = state.ingestion(&key)?;
    // The key and the dataset are checked before the body is read.
    let upload = ingestion
        .create_upload(pb::CreateUploadRequest {
            dataset_id: id,
            mode: mode as i32,
            ..Default::default()
        })
        .await?
        .into_inner();
    let committed = match load(&state, &mut ingestion, upload.id.clone(), kind, body).await {
        Ok(Loaded::Rows) => commit(&mut ingestion, upload.id.clone(), kind).await,
        // An upsert of no rows changes nothing (a replace with none is ingestion's to refuse).
        Ok(Loaded::Nothing) if mode == pb::UploadMode::Upsert => Ok(pb::Upload::default()),
        Ok(Loaded::Nothing) => commit(&mut ingestion, upload.id.clone(), kind).await,
        Err(error) => Err(error),
    };
    match committed {
        Ok(committed) if committed.id.is_empty() => {
            abandon(&mut ingestion, upload.id).await;
            Ok(Json(socrata_report(&committed)))
        }
        Ok(committed) => Ok(Json(socrata_report(&committed))),
        Err(error) => {
            abandon(&mut ingestion, upload.id).await;
            Err(error)
        }
    }
}

/// Abandons an upload that will not be committed; best effort (the janitor abandons it later
/// otherwise).
async fn abandon(ingestion: &mut IngestionClient, upload_id: String) {
    let _ = ingestion
        .abandon_upload(pb::AbandonUploadRequest { upload_id })
        .await;
}

/// The API key of a write: HTTP Basic (the password, or the user name when the password is
/// empty) or Bearer.
fn write_key(headers: &HeaderMap) -> Result<String, SodaError> {
    let unauthenticated = |message: &str| {
        SodaError(ApiError::new(
            ErrorCode::Unauthenticated,
            message.to_owned(),
        ))
    };
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .ok_or_else(|| {
            unauthenticated(
                "writing rows needs an API key: HTTP Basic with the key as the password, or \
                 Authorization: Bearer <key>",
            )
        })?;
    if let Some(key) = bearer_credential(authorization) {
        return Ok(key.to_owned());
    }
    let basic = authorization
        .trim_start()
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .map(|(_, credentials)| credentials.trim())
        .ok_or_else(|| unauthenticated("the Authorization header is neither Basic nor Bearer"))?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(basic)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| unauthenticated("the Basic credentials are not base64 of user:password"))?;
    let (user, password) = decoded.split_once(':').unwrap_or((&decoded, ""));
    let key = if password.is_empty() { user } else { password };
    if key.is_empty() {
        return Err(unauthenticated("the Basic credentials carry no key"));
    }
    Ok(key.to_owned())
}

/// CSV when the request says `text/csv`, or names no type and the path ends in `.csv`; JSON
/// otherwise (sodapy sends JSON without a type).
fn body_kind(headers: &HeaderMap, extension: Option<RowFormat>) -> BodyKind {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(|value| value.to_ascii_lowercase());
    match content_type {
        Some(kind) if kind.starts_with("text/csv") => BodyKind::Csv,
        Some(_) => BodyKind::Json,
        None if extension == Some(RowFormat::Csv) => BodyKind::Csv,
        None => BodyKind::Json,
    }
}

/// What a body held.
enum Loaded {
    Rows,
    /// A JSON array without rows.
    Nothing,
}

/// Sends the body to the upload: a JSON body whole once turned into CSV, a CSV body as it
/// arrives.
async fn load(
    state: &EdgeState,
    ingestion: &mut IngestionClient,
    upload_id: String,
    kind: BodyKind,
    body: Body,
) -> Result<Loaded, SodaError> {
    let failure: Arc<Mutex<Option<SodaError>>> = Arc::default();
    let data: std::pin::Pin<Box<dyn Stream<Item = Bytes> + Send>> = match kind {
        BodyKind::Json => {
            let _turn = state.json_conversion().await?;
            let mut body = frames(body, WRITE_JSON_BYTES);
            let mut json = Vec::new();
            while let Some(bytes) = body.next().await {
                json.extend_from_slice(&bytes?);
            }
            let (csv, rows) = json_rows_to_csv(&json).map_err(|NotRows(message)| {
                SodaError(ApiError::new(ErrorCode::InvalidArgument, message))
            })?;
            if rows == 0 {
                return Ok(Loaded::Nothing);
            }
            let pieces: Vec<Bytes> = Bytes::from(csv)
                .chunks(CHUNK_BYTES)
                .map(Bytes::copy_from_slice)
                .collect();
            Box::pin(futures::stream::iter(pieces))
        }
        BodyKind::Csv => {
            let failed = failure.clone();
            Box::pin(frames(body, WRITE_CSV_BYTES).filter_map(move |frame| {
                let bytes = match frame {
                    Ok(bytes) => Some(bytes),
                    Err(error) => {
                        if let Ok(mut slot) = failed.lock() {
                            *slot = Some(error);
                        }
                        None
                    }
                };
                futures::future::ready(bytes)
            }))
        }
    };
    // The body is read on a task of its own while ingestion receives it (as `opendata push`
    // sends files), a few chunks ahead.
    let (sender, receiver) = tokio::sync::mpsc::channel::<pb::UploadChunk>(4);
    let reader = tokio::spawn(async move {
        let (mut upload_id, mut data) = (upload_id, data);
        while let Some(bytes) = data.next().await {
            // The first chunk names the upload; the rest belong to the same stream.
            let chunk = pb::UploadChunk {
                upload_id: std::mem::take(&mut upload_id),
                data: bytes,
            };
            if sender.send(chunk).await.is_err() {
                break;
            }
        }
    });
    let sent = ingestion.upload_chunks(ReceiverStream::new(receiver)).await;
    reader.abort();
    // The body's own failure (too large, too slow) explains a short file better than the file.
    if let Some(error) = failure.lock().ok().and_then(|mut slot| slot.take()) {
        return Err(error);
    }
    let loaded = sent?.into_inner();
    if loaded.state == pb::UploadState::Failed as i32 {
        return Err(SodaError(ApiError::new(
            ErrorCode::InvalidArgument,
            loaded.error,
        )));
    }
    Ok(Loaded::Rows)
}

/// Commits the loaded upload; a refusal for rejected rows names them.
async fn commit(
    ingestion: &mut IngestionClient,
    upload_id: String,
    kind: BodyKind,
) -> Result<pb::Upload, SodaError> {
    match ingestion
        .commit_upload(pb::CommitUploadRequest {
            upload_id: upload_id.clone(),
        })
        .await
    {
        Ok(committed) => Ok(committed.into_inner()),
        Err(status) => {
            let error = ApiError::from_status(&status);
            if error.code != ErrorCode::TooManyRejectedRows {
                return Err(SodaError(error));
            }
            let rejections = ingestion
                .list_rejections(pb::ListRejectionsRequest {
                    upload_id,
                    page_size: REJECTIONS_NAMED,
                    after_line: 0,
                })
                .await?
                .into_inner()
                .rejections;
            Err(rejected(&rejections, kind))
        }
    }
}

/// The refusal of rows that do not fit, naming each (a JSON row by its position, a CSV row by
/// its line).
fn rejected(rejections: &[pb::Rejection], kind: BodyKind) -> SodaError {
    let named: Vec<String> = rejections
        .iter()
        .map(|rejection| {
            let place = match kind {
                BodyKind::Json => format!("row {}", rejection.line.saturating_sub(1)),
                BodyKind::Csv => format!("line {}", rejection.line),
            };
            format!(
                "{place}, column {}: {} (`{}`)",
                rejection.column, rejection.reason, rejection.value
            )
        })
        .collect();
    let mut error = ApiError::new(
        ErrorCode::InvalidArgument,
        format!(
            "rows do not fit the dataset's columns; nothing was written: {}",
            named.join("; ")
        ),
    );
    if let Some(first) = rejections.first() {
        error = error.with("column", &first.column);
    }
    SodaError(error)
}

/// Socrata's answer to a write.
fn socrata_report(upload: &pb::Upload) -> serde_json::Value {
    json!({
        "By RowIdentifier": upload.rows_updated + upload.rows_deleted,
        "By SID": 0,
        "Errors": 0,
        "Rows Created": upload.rows_created,
        "Rows Deleted": upload.rows_deleted,
        "Rows Updated": upload.rows_updated,
    })
}

/// The body's bytes as they arrive, ending with what stopped them: more than `limit` bytes (413),
/// the body's time (408), or a broken connection (400).
/// (Boxed: the unfolding closure's future would otherwise defeat the handler's `Send` proof.)
fn frames(body: Body, limit: Limit) -> BoxStream<'static, Result<Bytes, SodaError>> {
    let start = Some((body.into_data_stream(), 0u64));
    futures::stream::unfold(start, move |state| async move {
        let (mut frames, total) = state?;
        match frames.next().await? {
            Err(error) => Some((Err(body_error(&error)), None)),
            Ok(bytes) if total + bytes.len() as u64 > limit.value => {
                let error = ApiError::new(
                    ErrorCode::PayloadTooLarge,
                    format!(
                        "the request body is larger than {} bytes (limit {}); send fewer rows at a \
                         time",
                        limit.value, limit.name
                    ),
                )
                .with("limit", limit.name);
                Some((Err(SodaError(error)), None))
            }
            Ok(bytes) => {
                let total = total + bytes.len() as u64;
                Some((Ok(bytes), Some((frames, total))))
            }
        }
    })
    .boxed()
}

/// Why a body could not be read.
fn body_error(error: &axum::Error) -> SodaError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(cause) = source {
        if cause.downcast_ref::<TimeoutError>().is_some() {
            return SodaError(
                ApiError::new(
                    ErrorCode::RequestTimeout,
                    "the request body took too long to arrive",
                )
                .with("limit", WRITE_BODY_SECONDS.name),
            );
        }
        source = cause.source();
    }
    SodaError(ApiError::new(
        ErrorCode::InvalidArgument,
        "the request body could not be read",
    ))
}

type IngestionClient =
    opendata_proto::ingestion::v1::ingestion_service_client::IngestionServiceClient<
        tonic::service::interceptor::InterceptedService<
            tonic::transport::Channel,
            opendata_platform::grpc::ClientContext,
        >,
    >;

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn authorization(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn the_key_comes_from_basic_or_bearer() {
        let basic = |credentials: &str| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(credentials)
            )
        };
        for (header, key) in [
            (basic("pipeline:odk_secret"), "odk_secret"),
            (basic("odk_secret:"), "odk_secret"),
            (basic("odk_secret"), "odk_secret"),
            ("Bearer odk_secret".to_owned(), "odk_secret"),
        ] {
            assert_eq!(write_key(&authorization(&header)).unwrap(), key, "{header}");
        }
        for header in ["Basic !!!", "Digest x", &basic(":")] {
            let error = write_key(&authorization(header)).unwrap_err();
            assert_eq!(error.0.code, ErrorCode::Unauthenticated, "{header}");
        }
        assert!(write_key(&HeaderMap::new()).is_err());
    }

    #[test]
    fn csv_is_what_says_so() {
        let typed = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_str(value).unwrap());
            headers
        };
        assert_eq!(
            body_kind(&typed("text/csv; charset=utf-8"), None),
            BodyKind::Csv
        );
        assert_eq!(
            body_kind(&typed("application/json"), Some(RowFormat::Csv)),
            BodyKind::Json
        );
        assert_eq!(
            body_kind(&HeaderMap::new(), Some(RowFormat::Csv)),
            BodyKind::Csv
        );
        assert_eq!(
            body_kind(&HeaderMap::new(), Some(RowFormat::Json)),
            BodyKind::Json
        );
    }

    #[test]
    fn rejected_rows_are_named_by_row_or_line() {
        let rejection = pb::Rejection {
            line: 3,
            column: "amount".to_owned(),
            value: "many".to_owned(),
            reason: "not a number".to_owned(),
        };
        let json = rejected(std::slice::from_ref(&rejection), BodyKind::Json).0;
        assert!(
            json.message
                .contains("row 2, column amount: not a number (`many`)"),
            "{}",
            json.message
        );
        assert_eq!(json.details["column"], "amount");
        let csv = rejected(&[rejection], BodyKind::Csv).0;
        assert!(
            csv.message.contains("line 3, column amount"),
            "{}",
            csv.message
        );
    }
}
