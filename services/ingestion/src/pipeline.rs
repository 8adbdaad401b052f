//! The load pipeline: CSV chunks in, COPY rows out. Parsing, header matching, coercion and
//! schema inference run synchronously on each chunk; the [`Loader`] around them streams the encoded
//! rows to PostgreSQL with `COPY` and stores rejections as it goes, so memory stays flat whatever
//! the file's size.

use std::time::{Duration, Instant};

use opendata_datastore::csv_stream::{CsvError, CsvStream, Record, check_header};
use opendata_datastore::encode::{Rejection, RowEncoder};
use opendata_datastore::infer::Inference;
use opendata_datastore::schema::Schema;
use opendata_datastore::table::{qualified, quote_ident};
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgCopyIn, PgPoolCopyExt as _};
use sqlx::{PgPool, Postgres};
use uuid::Uuid;

use crate::error::IngestionError;
use crate::store::{self, Progress};

/// Rejections buffered before they are written.
const REJECTION_BATCH: usize = 1000;
/// How often progress is saved while receiving.
const PROGRESS_INTERVAL: Duration = Duration::from_secs(2);

/// How the file's header maps to columns.
#[derive(Debug, Clone)]
pub enum HeaderPolicy {
    /// Header cells name schema columns (by field or display name).
    Match {
        schema: Schema,
        /// Upserts need the row identifier in the file and in every row.
        require_row_identifier: bool,
    },
    /// The file's columns are the schema's, in order (an accepted inferred schema).
    Positional { schema: Schema },
    /// No schema yet: infer one from every row.
    Infer,
}

/// What a load produced.
#[derive(Debug, Clone)]
pub struct LoadOutcome {
    /// Counters.
    pub progress: Progress,
    /// Field names of the file's columns in order.
    pub file_columns: Vec<String>,
    /// The inferred schema, with [`HeaderPolicy::Infer`].
    pub inferred: Option<Schema>,
}

/// Errors inside the synchronous part, carried out of the CSV reader's callback.
enum StepError {
    Csv(CsvError),
    Header(String),
}

impl From<CsvError> for StepError {
    fn from(error: CsvError) -> Self {
        StepError::Csv(error)
    }
}

impl From<StepError> for IngestionError {
    fn from(error: StepError) -> Self {
        match error {
            StepError::Csv(error) => IngestionError::Malformed(error),
            StepError::Header(message) => IngestionError::SchemaMismatch(message),
        }
    }
}

/// Per-row state the CSV callback updates.
struct Rows {
    policy: HeaderPolicy,
    encoder: Option<RowEncoder>,
    inference: Option<Inference>,
    file_columns: Vec<String>,
    encoded: Vec<u8>,
    rejections: Vec<Rejection>,
    stored_rejections: u64,
    max_stored_rejections: u64,
    progress: Progress,
}

impl Rows {
    /// Rows before the header, encoding into a buffer of `capacity` bytes.
    fn new(policy: HeaderPolicy, max_stored_rejections: u64, capacity: usize) -> Rows {
        Rows {
            policy,
            encoder: None,
            inference: None,
            file_columns: Vec::new(),
            encoded: Vec::with_capacity(capacity),
            rejections: Vec::new(),
            stored_rejections: 0,
            max_stored_rejections,
            progress: Progress::default(),
        }
    }

    fn on_record(&mut self, record: Record<'_>) -> Result<(), StepError> {
        if self.encoder.is_none() && self.inference.is_none() {
            return self.on_header(&record);
        }
        self.progress.rows_received += 1;
        if let Some(inference) = &mut self.inference {
            inference.observe(|index| record.get(index));
            return Ok(());
        }
        let Some(encoder) = &self.encoder else {
            return Ok(());
        };
        match encoder.encode(record.line, |index| record.get(index), &mut self.encoded) {
            Ok(()) => self.progress.rows_loaded += 1,
            Err(rejection) => {
                self.progress.rows_rejected += 1;
                if self.stored_rejections < self.max_stored_rejections {
                    self.stored_rejections += 1;
                    self.rejections.push(rejection);
                }
            }
        }
        Ok(())
    }

    fn on_header(&mut self, record: &Record<'_>) -> Result<(), StepError> {
        let header: Vec<&str> = record.iter().collect();
        check_header(&header)?;
        match &self.policy {
            HeaderPolicy::Match {
                schema,
                require_row_identifier,
            } => {
                let encoder = RowEncoder::new(schema, &header, *require_row_identifier)
                    .map_err(|e| StepError::Header(e.0))?;
                self.file_columns = encoder
                    .field_names()
                    .into_iter()
                    .map(str::to_owned)
                    .collect();
                self.encoder = Some(encoder);
            }
            HeaderPolicy::Positional { schema } => {
                if header.len() != schema.columns.len() {
                    return Err(StepError::Header(format!(
                        "the file has {} columns but the accepted schema has {}",
                        header.len(),
                        schema.columns.len()
                    )));
                }
                let names: Vec<&str> = schema
                    .columns
                    .iter()
                    .map(|c| c.field_name.as_str())
                    .collect();
                let encoder = RowEncoder::new(schema, &names, schema.row_identifier.is_some())
                    .map_err(|e| StepError::Header(e.0))?;
                self.file_columns = names.iter().map(|n| (*n).to_owned()).collect();
                self.encoder = Some(encoder);
            }
            HeaderPolicy::Infer => self.inference = Some(Inference::new(&header)),
        }
        Ok(())
    }
}

/// Loads one file into an upload's working table.
pub struct Loader {
    pool: PgPool,
    copy_pool: PgPool,
    upload_id: Uuid,
    working_table: String,
    stage_chunks: bool,
    csv: CsvStream,
    rows: Rows,
    copy: Option<PgCopyIn<PoolConnection<Postgres>>>,
    copy_buffer_bytes: usize,
    started: Instant,
    last_progress: Instant,
    chunk_seq: i64,
}

impl Loader {
    /// A loader into `working_table`, copying through a connection of `copy_pool` (kept apart so
    /// long uploads never starve other requests). With [`HeaderPolicy::Infer`] the raw chunks are
    /// also staged so they can be loaded once the schema is accepted.
    pub fn new(
        pool: PgPool,
        copy_pool: PgPool,
        upload_id: Uuid,
        working_table: String,
        policy: HeaderPolicy,
        max_stored_rejections: u64,
        copy_buffer_bytes: usize,
    ) -> Self {
        let stage_chunks = matches!(policy, HeaderPolicy::Infer);
        Loader {
            pool,
            copy_pool,
            upload_id,
            working_table,
            stage_chunks,
            csv: CsvStream::new(),
            rows: Rows::new(policy, max_stored_rejections, copy_buffer_bytes + 64 * 1024),
            copy: None,
            copy_buffer_bytes,
            started: Instant::now(),
            last_progress: Instant::now(),
            chunk_seq: 0,
        }
    }

    /// Takes the next piece of the file.
    pub async fn feed(&mut self, chunk: &[u8]) -> Result<(), IngestionError> {
        if chunk.is_empty() {
            return Ok(());
        }
        self.rows.progress.bytes_received += chunk.len() as u64;
        if self.stage_chunks {
            self.chunk_seq += 1;
            store::save_chunk(&self.pool, self.upload_id, self.chunk_seq, chunk).await?;
        }
        let rows = &mut self.rows;
        self.csv
            .feed(chunk, &mut |record| rows.on_record(record))
            .map_err(IngestionError::from)?;
        self.flush(false).await?;
        if self.last_progress.elapsed() >= PROGRESS_INTERVAL {
            self.last_progress = Instant::now();
            self.rows.progress.load_millis = self.started.elapsed().as_millis() as u64;
            if !store::save_progress(&self.pool, self.upload_id, self.rows.progress).await? {
                return Err(IngestionError::Closed);
            }
        }
        Ok(())
    }

    /// Ends the file: the last row, the last COPY message, the final counts.
    pub async fn finish(mut self) -> Result<LoadOutcome, IngestionError> {
        let rows = &mut self.rows;
        let ended = match self.csv.finish(&mut |record| rows.on_record(record)) {
            Ok(()) => self.flush(true).await,
            Err(error) => Err(IngestionError::from(error)),
        };
        if let Err(error) = ended {
            self.abort(&error.to_string()).await;
            return Err(error);
        }
        if let Some(copy) = self.copy.take() {
            let copied = copy.finish().await?;
            if copied != self.rows.progress.rows_loaded {
                tracing::warn!(upload_id = %self.upload_id, copied, encoded = self.rows.progress.rows_loaded, "copy count differs");
                self.rows.progress.rows_loaded = copied;
            }
        }
        self.rows.progress.load_millis = self.started.elapsed().as_millis() as u64;
        Ok(LoadOutcome {
            progress: self.rows.progress,
            file_columns: self.rows.file_columns,
            inferred: self.rows.inference.map(Inference::finish),
        })
    }

    /// Stops a load that failed; nothing it copied becomes visible.
    pub async fn abort(&mut self, reason: &str) {
        if let Some(copy) = self.copy.take()
            && let Err(error) = copy.abort(reason.to_owned()).await
        {
            tracing::debug!(%error, "copy abort");
        }
    }

    /// Counters so far.
    pub fn progress(&self) -> Progress {
        self.rows.progress
    }

    async fn flush(&mut self, force: bool) -> Result<(), IngestionError> {
        if self.copy.is_none() && self.rows.encoder.is_some() && !self.rows.encoded.is_empty() {
            let columns: Vec<String> = self
                .rows
                .file_columns
                .iter()
                .map(|c| quote_ident(c))
                .collect();
            let statement = format!(
                "COPY {} ({}) FROM STDIN",
                qualified(&self.working_table),
                columns.join(", ")
            );
            self.copy = Some(self.copy_pool.copy_in_raw(&statement).await?);
        }
        if let Some(copy) = &mut self.copy
            && (force || self.rows.encoded.len() >= self.copy_buffer_bytes)
            && !self.rows.encoded.is_empty()
        {
            let buffer = std::mem::replace(
                &mut self.rows.encoded,
                Vec::with_capacity(self.copy_buffer_bytes + 64 * 1024),
            );
            copy.send(buffer).await?;
        }
        if force || self.rows.rejections.len() >= REJECTION_BATCH {
            let rejections = std::mem::take(&mut self.rows.rejections);
            store::insert_rejections(&self.pool, self.upload_id, &rejections).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use opendata_datastore::schema::{Column, ColumnType};

    use super::*;

    fn rows(policy: HeaderPolicy, max_stored_rejections: u64) -> Rows {
        Rows::new(policy, max_stored_rejections, 0)
    }

    /// Feeds `file` in two chunks cut mid-row, as uploads arrive; the header problem, if any.
    fn feed(rows: &mut Rows, file: &str) -> Option<String> {
        let mut csv = CsvStream::new();
        let (first, second) = file.as_bytes().split_at(file.len() / 2);
        let fed = csv
            .feed(first, &mut |record| rows.on_record(record))
            .and_then(|()| csv.feed(second, &mut |record| rows.on_record(record)))
            .and_then(|()| csv.finish(&mut |record| rows.on_record(record)));
        match fed {
            Ok(()) => None,
            Err(StepError::Header(problem)) => Some(problem),
            Err(StepError::Csv(error)) => Some(format!("malformed: {error}")),
        }
    }

    fn towns() -> Schema {
        Schema {
            columns: vec![
                Column::new("town", "Town", ColumnType::Text),
                Column::new("population", "Population", ColumnType::Number),
            ],
            row_identifier: None,
        }
    }

    fn matched(max_stored_rejections: u64) -> Rows {
        rows(
            HeaderPolicy::Match {
                schema: towns(),
                require_row_identifier: false,
            },
            max_stored_rejections,
        )
    }

    fn positional() -> Rows {
        rows(HeaderPolicy::Positional { schema: towns() }, 10)
    }

    #[test]
    fn matched_headers_load_good_rows_and_reject_bad_ones_by_line_and_column() {
        let mut rows = matched(10);
        let problem = feed(
            &mut rows,
            "Population,Town\n100,Avon\nmany,Bristol\n200,Canton\n",
        );
        assert_eq!(problem, None);
        // The file's order, by field name, whatever names the header used.
        assert_eq!(rows.file_columns, ["population", "town"]);
        let progress = rows.progress;
        assert_eq!(
            (
                progress.rows_received,
                progress.rows_loaded,
                progress.rows_rejected
            ),
            (3, 2, 1)
        );
        assert_eq!(rows.rejections.len(), 1);
        let rejection = &rows.rejections[0];
        assert_eq!(
            (rejection.line, rejection.column.as_str()),
            (3, "population")
        );
        assert_eq!(rejection.value, "many");
        assert!(
            !rows.encoded.is_empty(),
            "the good rows are encoded for COPY"
        );
    }

    #[test]
    fn stored_rejections_stop_at_their_cap_while_the_count_goes_on() {
        let mut rows = matched(1);
        assert_eq!(feed(&mut rows, "Town,Population\nA,x\nB,y\nC,z\n"), None);
        assert_eq!(rows.progress.rows_rejected, 3);
        assert_eq!(rows.rejections.len(), 1);
        assert_eq!(rows.rejections[0].line, 2);
    }

    #[test]
    fn a_header_the_schema_does_not_know_is_named() {
        let mut rows = matched(10);
        let problem = feed(&mut rows, "Town,Inhabitants\nAvon,1\n").expect("a mismatch");
        assert!(problem.contains("Inhabitants"), "{problem}");
        assert_eq!(
            rows.progress.rows_received, 0,
            "no row is read past the header"
        );
    }

    #[test]
    fn positional_files_need_the_accepted_schemas_column_count() {
        let mut rows = positional();
        let problem = feed(&mut rows, "a,b,c\n1,2,3\n").expect("a mismatch");
        assert_eq!(
            problem,
            "the file has 3 columns but the accepted schema has 2"
        );

        // With the right count, the header's own names do not matter.
        let mut rows = positional();
        assert_eq!(feed(&mut rows, "Name,Count\nAvon,18000\n"), None);
        assert_eq!(rows.file_columns, ["town", "population"]);
        assert_eq!(rows.progress.rows_loaded, 1);
    }

    #[test]
    fn inference_reads_every_row_and_loads_none() {
        let mut rows = rows(HeaderPolicy::Infer, 10);
        assert_eq!(
            feed(&mut rows, "Town,Population\nAvon,18000\nBristol,60000\n"),
            None
        );
        assert_eq!(rows.progress.rows_received, 2);
        assert_eq!(rows.progress.rows_loaded, 0);
        assert!(rows.encoded.is_empty());
        let inferred = rows.inference.take().expect("an inference").finish();
        let types: Vec<ColumnType> = inferred.columns.iter().map(|c| c.column_type).collect();
        assert_eq!(types, [ColumnType::Text, ColumnType::Number]);
    }
}
