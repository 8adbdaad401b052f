//! Sending a file into an ingestion upload, chunk by chunk, read while it is sent so memory holds
//! a few chunks whatever the file's size. `opendata push` sends files this way, and the services
//! that keep datasets of their own their CSV ([`crate::replace_rows`]).

use bytes::Bytes;
use opendata_proto::ingestion::v1 as pb;
use opendata_proto::ingestion::v1::ingestion_service_client::IngestionServiceClient;
use tokio::io::{AsyncRead, AsyncReadExt as _};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::grpc::ClientContext;

/// Bytes of a file per upload chunk.
pub const CHUNK_BYTES: usize = 1024 * 1024;
/// Chunks read ahead of the one being sent.
const READ_AHEAD: usize = 4;

/// An ingestion client calling with a caller's key.
pub type IngestionClient = IngestionServiceClient<InterceptedService<Channel, ClientContext>>;

/// Why a file did not reach its upload.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The file could not be read.
    #[error("reading the file: {0}")]
    Read(#[from] std::io::Error),
    /// Ingestion refused the chunks.
    #[error("{}", .0.message())]
    Refused(tonic::Status),
}

/// Sends all of `file` to upload `upload_id` (an empty file as one empty chunk), calling `read`
/// with the size of each chunk as it is read; returns the upload as ingestion left it.
pub async fn send_file<R>(
    client: &mut IngestionClient,
    upload_id: &str,
    mut file: R,
    mut read: impl FnMut(u64) + Send + 'static,
) -> Result<pb::Upload, SendError>
where
    R: AsyncRead + Unpin + Send + 'static,
{
    let (sender, receiver) = tokio::sync::mpsc::channel::<pb::UploadChunk>(READ_AHEAD);
    let mut upload_id = upload_id.to_owned();
    let reader = tokio::spawn(async move {
        let mut first = true;
        loop {
            let mut buffer = vec![0; CHUNK_BYTES];
            let count = file.read(&mut buffer).await?;
            if count == 0 && !first {
                return Ok::<(), std::io::Error>(());
            }
            buffer.truncate(count);
            read(count as u64);
            // The first chunk names the upload; the rest belong to the same stream.
            let chunk = pb::UploadChunk {
                upload_id: std::mem::take(&mut upload_id),
                data: Bytes::from(buffer),
            };
            first = false;
            if sender.send(chunk).await.is_err() || count == 0 {
                return Ok(());
            }
        }
    });
    let sent = client
        .upload_chunks(tokio_stream::wrappers::ReceiverStream::new(receiver))
        .await;
    reader.await.map_err(std::io::Error::other)??;
    Ok(sent.map_err(SendError::Refused)?.into_inner())
}
