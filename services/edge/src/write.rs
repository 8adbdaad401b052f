//! Socrata's write API (SODA producer), so agencies' existing pipelines (sodapy, socrata-py,
//! DataSync-style jobs) keep working: `POST /resource/{id}.json` (or `.csv`) upserts by the row
//! identifier, a row with `":deleted": true` deleting its row; `PUT` replaces every row. The body
//! is a JSON array of objects keyed by field name (`application/json`, or no type: at most
//! `write_json_bytes`, read whole and turned into CSV) or CSV (`text/csv`: streamed through as it
//! arrives, at most `write_csv_bytes`, never pausing longer than `write_body_idle_seconds`).
//!
//! Authenticated by an API key: HTTP Basic with the key as the password (any user name) or as
//! the user name with an empty password, or `Authorization: Bearer <key>`. The rows pass through
//! ingestion over gRPC as one upload (`CreateUpload` first, so the key and the dataset's agency
//! are checked before the body is read; `UploadChunks`; `CommitUpload`) with the key: the same
//! authorization, coercion and report as `opendata push`. One row that does not fit fails the
//! whole request (400 naming the row, the column and why) and nothing is written. The answer is
//! Socrata's: `Rows Created`, `Rows Updated` (rows whose values changed), `Rows Deleted`,
//! `Errors` (always 0: errors fail the request), `By RowIdentifier` (an upsert's updated and
//! deleted rows), `By SID` (0: rows are matched by their identifier).

use std::io::Cursor;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use bytes::Bytes;
use futures::StreamExt as _;
use futures::stream::BoxStream;
use opendata_limits::{
    COLUMNS, Limit, WRITE_BODY_IDLE_SECONDS, WRITE_CSV_BYTES, WRITE_JSON_BYTES,
    WRITE_JSON_CSV_BYTES,
};
use opendata_platform::error::{ApiError, ErrorCode};
use opendata_platform::grpc::{basic_credential, bearer_credential};
use opendata_platform::upload::{IngestionClient, SendError, send_file};
use opendata_proto::catalog::v1::RowFormat;
use opendata_proto::ingestion::v1 as pb;
use serde_json::json;
use tokio::io::AsyncRead;
use tokio_util::io::StreamReader;
use tower_http::timeout::TimeoutError;

use crate::error::SodaError;
use crate::json_csv::{NotRows, json_rows_to_csv};
use crate::params::split_extension;
use crate::resource::is_dataset_id;
use crate::state::EdgeState;

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

/// A write of `mode`: the upload created, loaded and committed, or abandoned.
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
    let dataset_id = id.to_owned();
    let key = write_key(&headers)?;
    let kind = body_kind(&headers, extension)?;
    let mut ingestion = state.ingestion(&key)?;
    let upload_id = ingestion
        .create_upload(pb::CreateUploadRequest {
            dataset_id,
            mode: mode as i32,
            // One row that does not fit fails the request.
            max_rejected_fraction: 0.0,
            ..Default::default()
        })
        .await?
        .into_inner()
        .id;
    let outcome = match kind {
        BodyKind::Json => write_json(&state, &mut ingestion, upload_id.clone(), mode, body).await,
        BodyKind::Csv => write_csv(&state, &mut ingestion, upload_id.clone(), body).await,
    };
    match outcome {
        Ok(Some(committed)) => Ok(Json(socrata_report(mode, &committed))),
        Ok(None) => {
            abandon(&mut ingestion, upload_id).await;
            Ok(Json(socrata_report(mode, &pb::Upload::default())))
        }
        Err(error) => {
            abandon(&mut ingestion, upload_id).await;
            Err(error)
        }
    }
}

/// A JSON body: read whole (before its turn, so a slow client holds none), turned into CSV on a
/// blocking thread, sent and committed while the turn is held. `None` for an upsert of no rows
/// (nothing to write).
async fn write_json(
    state: &EdgeState,
    ingestion: &mut IngestionClient,
    upload_id: String,
    mode: pb::UploadMode,
    body: Body,
) -> Result<Option<pb::Upload>, SodaError> {
    let mut body = frames(body, WRITE_JSON_BYTES);
    let mut json = Vec::new();
    while let Some(bytes) = body.next().await {
        json.extend_from_slice(&bytes?);
    }
    let _turn = state.write_turn(false).await?;
    let mut converted = tokio::task::spawn_blocking(move || {
        json_rows_to_csv(&json, COLUMNS.get() + 1, WRITE_JSON_CSV_BYTES.get())
    })
    .await
    .map_err(|_| {
        SodaError(ApiError::new(
            ErrorCode::Internal,
            "the rows could not be read",
        ))
    })?
    .map_err(not_rows)?;
    if converted.row_lines.is_empty() {
        return match mode {
            pb::UploadMode::Replace => Err(SodaError(ApiError::new(
                ErrorCode::EmptyReplacement,
                "the body has no rows, and replacing the dataset with none would empty it; \
                 nothing was written",
            ))),
            _ => Ok(None),
        };
    }
    let csv = std::mem::take(&mut converted.csv);
    send(ingestion, &upload_id, Cursor::new(csv), None).await?;
    let row_of = |line: u64| format!("row {}", converted.row_at(line));
    commit(ingestion, upload_id, row_of).await.map(Some)
}

/// A CSV body: streamed to ingestion as it arrives, while its turn is held.
async fn write_csv(
    state: &EdgeState,
    ingestion: &mut IngestionClient,
    upload_id: String,
    body: Body,
) -> Result<Option<pb::Upload>, SodaError> {
    let _turn = state.write_turn(true).await?;
    let failure: Arc<Mutex<Option<SodaError>>> = Arc::default();
    let failed = failure.clone();
    let frames = frames(body, WRITE_CSV_BYTES).map(move |frame| {
        frame.map_err(|error| {
            if let Ok(mut slot) = failed.lock() {
                *slot = Some(error);
            }
            std::io::Error::other("the request body stopped")
        })
    });
    send(
        ingestion,
        &upload_id,
        StreamReader::new(frames),
        Some(failure),
    )
    .await?;
    commit(ingestion, upload_id, |line| format!("line {line}"))
        .await
        .map(Some)
}

/// Sends the file to the upload (as `opendata push` does); a body that stopped reports why.
async fn send(
    ingestion: &mut IngestionClient,
    upload_id: &str,
    file: impl AsyncRead + Unpin + Send + 'static,
    failure: Option<Arc<Mutex<Option<SodaError>>>>,
) -> Result<(), SodaError> {
    let loaded = match send_file(ingestion, upload_id, file, |_| {}).await {
        Ok(loaded) => loaded,
        Err(SendError::Refused(status)) => return Err(SodaError(ApiError::from_status(&status))),
        Err(SendError::Read(_)) => {
            let stopped = failure.and_then(|slot| slot.lock().ok().and_then(|mut s| s.take()));
            return Err(stopped.unwrap_or_else(|| {
                SodaError(ApiError::new(
                    ErrorCode::InvalidArgument,
                    "the request body could not be read",
                ))
            }));
        }
    };
    if loaded.state == pb::UploadState::Failed as i32 {
        return Err(SodaError(ApiError::new(
            ErrorCode::InvalidArgument,
            loaded.error,
        )));
    }
    Ok(())
}

/// Commits the loaded upload; a refusal for rejected rows names them, each by `place` (its
/// position in a JSON array, its line in CSV).
async fn commit(
    ingestion: &mut IngestionClient,
    upload_id: String,
    place: impl Fn(u64) -> String,
) -> Result<pb::Upload, SodaError> {
    let status = match ingestion
        .commit_upload(pb::CommitUploadRequest {
            upload_id: upload_id.clone(),
        })
        .await
    {
        Ok(committed) => return Ok(committed.into_inner()),
        Err(status) => status,
    };
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
    Err(rejected(&rejections, place))
}

/// Abandons an upload that will not be committed; best effort (the janitor abandons it later
/// otherwise).
async fn abandon(ingestion: &mut IngestionClient, upload_id: String) {
    let _ = ingestion
        .abandon_upload(pb::AbandonUploadRequest { upload_id })
        .await;
}

/// The refusal of rows that do not fit, naming each by `place`.
fn rejected(rejections: &[pb::Rejection], place: impl Fn(u64) -> String) -> SodaError {
    let named: Vec<String> = rejections
        .iter()
        .map(|rejection| {
            format!(
                "{}, column {}: {} (`{}`)",
                place(rejection.line),
                rejection.column,
                rejection.reason,
                rejection.value
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

/// What a JSON body that is not rows is refused with.
fn not_rows(error: NotRows) -> SodaError {
    match error {
        NotRows::Malformed(message) => SodaError(ApiError::new(ErrorCode::InvalidArgument, message)),
        NotRows::TooManyFields(most) => SodaError(
            ApiError::new(
                ErrorCode::InvalidArgument,
                format!("the rows name more than {most} fields; a dataset has at most {} columns", COLUMNS.value),
            )
            .with("limit", COLUMNS.name),
        ),
        NotRows::TooLarge(_) => SodaError(
            ApiError::new(
                ErrorCode::PayloadTooLarge,
                format!(
                    "the rows, each with a cell for every field any row names, take more than {} bytes \
                     (limit {}); send CSV, or rows with the same fields",
                    WRITE_JSON_CSV_BYTES.value, WRITE_JSON_CSV_BYTES.name
                ),
            )
            .with("limit", WRITE_JSON_CSV_BYTES.name),
        ),
    }
}

/// Socrata's answer to a write.
fn socrata_report(mode: pb::UploadMode, upload: &pb::Upload) -> serde_json::Value {
    let by_row_identifier = match mode {
        pb::UploadMode::Upsert => upload.rows_updated + upload.rows_deleted,
        _ => 0,
    };
    json!({
        "By RowIdentifier": by_row_identifier,
        "By SID": 0,
        "Errors": 0,
        "Rows Created": upload.rows_created,
        "Rows Deleted": upload.rows_deleted,
        "Rows Updated": upload.rows_updated,
    })
}

/// The API key of a write: HTTP Basic (the password, or the user name when the password is
/// empty) or Bearer.
fn write_key(headers: &HeaderMap) -> Result<String, SodaError> {
    let refused = |message: &str| SodaError(ApiError::new(ErrorCode::Unauthenticated, message));
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .ok_or_else(|| {
            refused(
                "writing rows needs an API key: HTTP Basic with the key as the password, or \
                 Authorization: Bearer <key>",
            )
        })?;
    bearer_credential(authorization)
        .map(str::to_owned)
        .or_else(|| basic_credential(authorization))
        .ok_or_else(|| {
            refused(
                "the Authorization header carries no key: send Basic (base64 of user:key) or \
                 Bearer <key>",
            )
        })
}

/// CSV for `text/csv`, or for no type on a path ending in `.csv`; JSON for `application/json`,
/// or no type otherwise (sodapy sends JSON without one). Any other type is refused, so a
/// browser's cross-site form can never write.
fn body_kind(headers: &HeaderMap, extension: Option<RowFormat>) -> Result<BodyKind, SodaError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .map(|value| value.to_str().unwrap_or_default().to_ascii_lowercase());
    match content_type.as_deref() {
        Some(kind) if kind.starts_with("text/csv") => Ok(BodyKind::Csv),
        Some(kind) if kind.starts_with("application/json") => Ok(BodyKind::Json),
        Some(other) => Err(SodaError::bad_parameter(
            "Content-Type",
            format!(
                "rows are written as application/json or text/csv, not {}",
                opendata_limits::excerpt(other)
            ),
        )),
        None if extension == Some(RowFormat::Csv) => Ok(BodyKind::Csv),
        None => Ok(BodyKind::Json),
    }
}

/// The body's bytes as they arrive, ending with what stopped them: more than `limit` bytes (413),
/// a pause longer than `write_body_idle_seconds` or the whole body's time (408), or a broken
/// connection (400). (Boxed: the unfolding closure's future would otherwise defeat the handler's
/// `Send` proof.)
fn frames(body: Body, limit: Limit) -> BoxStream<'static, Result<Bytes, SodaError>> {
    let idle = Duration::from_secs(WRITE_BODY_IDLE_SECONDS.value);
    let start = Some((body.into_data_stream(), 0u64));
    futures::stream::unfold(start, move |state| async move {
        let (mut frames, total) = state?;
        let frame = match tokio::time::timeout(idle, frames.next()).await {
            Ok(frame) => frame?,
            Err(_) => return Some((Err(SodaError::body_too_slow(WRITE_BODY_IDLE_SECONDS)), None)),
        };
        match frame {
            Err(error) => Some((Err(body_error(&error)), None)),
            Ok(bytes) if total + bytes.len() as u64 > limit.value => {
                Some((Err(SodaError::body_too_large(limit)), None))
            }
            Ok(bytes) => {
                let total = total + bytes.len() as u64;
                Some((Ok(bytes), Some((frames, total))))
            }
        }
    })
    .boxed()
}

/// Why a body could not be read: its time ran out (408), or the connection broke (400).
fn body_error(error: &axum::Error) -> SodaError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(cause) = source {
        if cause.downcast_ref::<TimeoutError>().is_some() {
            return SodaError::body_too_slow(opendata_limits::WRITE_BODY_SECONDS);
        }
        source = cause.source();
    }
    SodaError(ApiError::new(
        ErrorCode::InvalidArgument,
        "the request body could not be read",
    ))
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn with(name: header::HeaderName, value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(name, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn the_key_comes_from_basic_or_bearer() {
        for (value, key) in [
            (
                "Basic cGlwZWxpbmU6b2RrX3NlY3JldDp3aXRoOmNvbG9ucw==".to_owned(),
                "odk_secret:with:colons",
            ),
            ("Basic b2RrX3NlY3JldDo=".to_owned(), "odk_secret"),
            ("Basic b2RrX3NlY3JldA==".to_owned(), "odk_secret"),
            ("Bearer odk_secret".to_owned(), "odk_secret"),
        ] {
            let headers = with(header::AUTHORIZATION, &value);
            assert_eq!(write_key(&headers).unwrap(), key, "{value}");
        }
        for value in ["Basic !!!", "Digest x", "Bearer ", "Basic Og=="] {
            let error = write_key(&with(header::AUTHORIZATION, value)).unwrap_err();
            assert_eq!(error.0.code, ErrorCode::Unauthenticated, "{value}");
        }
        assert!(write_key(&HeaderMap::new()).is_err());
    }

    #[test]
    fn csv_and_json_are_what_say_so_and_nothing_else_is_taken() {
        let kind =
            |value: &str, extension| body_kind(&with(header::CONTENT_TYPE, value), extension);
        assert_eq!(
            kind("text/csv; charset=utf-8", None).unwrap(),
            BodyKind::Csv
        );
        assert_eq!(
            kind("application/json", Some(RowFormat::Csv)).unwrap(),
            BodyKind::Json
        );
        assert_eq!(
            body_kind(&HeaderMap::new(), Some(RowFormat::Csv)).unwrap(),
            BodyKind::Csv
        );
        assert_eq!(
            body_kind(&HeaderMap::new(), Some(RowFormat::Json)).unwrap(),
            BodyKind::Json
        );
        for refused in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ] {
            let error = kind(refused, None).unwrap_err();
            assert_eq!(error.0.details["parameter"], "Content-Type", "{refused}");
        }
    }

    #[test]
    fn rejected_rows_are_named_by_their_place() {
        let rejection = pb::Rejection {
            line: 3,
            column: "amount".to_owned(),
            value: "many".to_owned(),
            reason: "not a number".to_owned(),
        };
        let error = rejected(&[rejection], |line| format!("row {}", line - 1)).0;
        assert!(
            error
                .message
                .contains("row 2, column amount: not a number (`many`)"),
            "{}",
            error.message
        );
        assert_eq!(error.details["column"], "amount");
    }

    #[tokio::test]
    async fn bodies_past_their_limit_stop_with_413() {
        let tiny = Limit {
            value: 4,
            ..WRITE_CSV_BYTES
        };
        let mut body = frames(Body::from("a,b\n1,2\n"), tiny);
        let error = body.next().await.unwrap().unwrap_err();
        assert_eq!(error.0.code, ErrorCode::PayloadTooLarge);
        assert_eq!(error.0.details["limit"], WRITE_CSV_BYTES.name);
        assert!(body.next().await.is_none(), "nothing after the error");
        let mut body = frames(Body::from("a,b\n"), tiny);
        assert_eq!(body.next().await.unwrap().unwrap(), "a,b\n");
        assert!(body.next().await.is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_stalls_stops_with_408() {
        let stalled =
            Body::from_stream(futures::stream::pending::<Result<Bytes, std::io::Error>>());
        let mut body = frames(stalled, WRITE_CSV_BYTES);
        let error = body.next().await.unwrap().unwrap_err();
        assert_eq!(error.0.code, ErrorCode::RequestTimeout);
        assert_eq!(error.0.details["limit"], WRITE_BODY_IDLE_SECONDS.name);
        assert!(body.next().await.is_none());
    }

    #[test]
    fn rows_too_wide_or_too_large_name_their_limit() {
        let wide = not_rows(NotRows::TooManyFields(COLUMNS.get() + 1)).0;
        assert_eq!(wide.code, ErrorCode::InvalidArgument);
        assert_eq!(wide.details["limit"], COLUMNS.name);
        let large = not_rows(NotRows::TooLarge(WRITE_JSON_CSV_BYTES.get())).0;
        assert_eq!(large.code, ErrorCode::PayloadTooLarge);
        assert_eq!(large.details["limit"], WRITE_JSON_CSV_BYTES.name);
    }

    #[test]
    fn reports_count_by_row_identifier_only_for_upserts() {
        let upload = pb::Upload {
            rows_created: 1,
            rows_updated: 2,
            rows_deleted: 3,
            ..Default::default()
        };
        assert_eq!(
            socrata_report(pb::UploadMode::Upsert, &upload)["By RowIdentifier"],
            5
        );
        assert_eq!(
            socrata_report(pb::UploadMode::Replace, &upload)["By RowIdentifier"],
            0
        );
    }
}
