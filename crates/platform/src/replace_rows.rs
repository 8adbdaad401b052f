//! Replacing a dataset's rows through ingestion, the way any agency automation does: create a
//! `replace` upload, send the CSV in chunks ([`crate::upload`]), commit; abandon the upload when
//! anything fails.
//! Services that publish tables of their own on the portal (governance's freshness and retired
//! assets, DECD's awards) use it.

use opendata_proto::ingestion::v1 as ingestion;
use opendata_proto::ingestion::v1::ingestion_service_client::IngestionServiceClient;
use tonic::transport::Channel;

use crate::error::ApiError;
use crate::grpc::{ClientContext, MAX_MESSAGE_BYTES};
use crate::upload::{IngestionClient, SendError, send_file};

/// Why the rows were not replaced.
#[derive(Debug, thiserror::Error)]
pub enum ReplaceError {
    /// The key is unknown or revoked.
    #[error("the key was refused: {0}")]
    Unauthenticated(String),
    /// Ingestion refused or failed a step.
    #[error("{step}: {error}")]
    Failed {
        /// The step (`creating an upload`, `sending rows`, `committing`).
        step: &'static str,
        /// What ingestion said.
        error: ApiError,
    },
    /// Some rows did not fit the dataset's schema; nothing was committed.
    #[error("{rejected} rows rejected: {message}")]
    Rejected {
        /// How many.
        rejected: u64,
        /// The first reason.
        message: String,
    },
}

fn failed(step: &'static str, status: &tonic::Status) -> ReplaceError {
    if status.code() == tonic::Code::Unauthenticated {
        return ReplaceError::Unauthenticated(status.message().to_owned());
    }
    ReplaceError::Failed {
        step,
        error: ApiError::from_status(status),
    }
}

/// Replaces the rows of `dataset_id` with `csv` (header row first), acting with `key`; returns the
/// rows loaded.
pub async fn replace_rows(
    ingestion_channel: Channel,
    key: &str,
    dataset_id: &str,
    csv: Vec<u8>,
) -> Result<u64, ReplaceError> {
    let context = ClientContext::with_key(key)
        .map_err(|error| ReplaceError::Unauthenticated(error.message))?;
    let mut client = IngestionServiceClient::with_interceptor(ingestion_channel, context)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);
    let upload = client
        .create_upload(ingestion::CreateUploadRequest {
            dataset_id: dataset_id.to_owned(),
            mode: ingestion::UploadMode::Replace as i32,
            // The portal's own tables may legitimately have no rows (no dataset retired yet).
            allow_empty: true,
            ..Default::default()
        })
        .await
        .map_err(|status| failed("creating an upload", &status))?
        .into_inner();
    let loaded = load(&mut client, &upload.id, csv).await;
    if loaded.is_err() {
        // Best effort: the janitor drops abandoned uploads anyway.
        let _ = client
            .abandon_upload(ingestion::AbandonUploadRequest {
                upload_id: upload.id.clone(),
            })
            .await;
    }
    loaded
}

async fn load(
    client: &mut IngestionClient,
    upload_id: &str,
    csv: Vec<u8>,
) -> Result<u64, ReplaceError> {
    let loaded = send_file(client, upload_id, std::io::Cursor::new(csv), |_| {})
        .await
        .map_err(|error| match error {
            SendError::Refused(status) => failed("sending rows", &status),
            SendError::Read(error) => ReplaceError::Failed {
                step: "sending rows",
                error: crate::error::internal(&error),
            },
        })?;
    if loaded.rows_rejected > 0 || !loaded.error.is_empty() {
        return Err(ReplaceError::Rejected {
            rejected: loaded.rows_rejected,
            message: loaded.error,
        });
    }
    client
        .commit_upload(ingestion::CommitUploadRequest {
            upload_id: upload_id.to_owned(),
        })
        .await
        .map_err(|status| failed("committing", &status))?;
    Ok(loaded.rows_loaded)
}
