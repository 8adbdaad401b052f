//! Row queries: a compiled query runs in a read-only transaction under the reader role with the
//! caller's statement timeout and slot (see [`crate::share`]), and its rows are serialized into
//! chunks as they arrive, so memory stays flat however many rows go out. Errors before the first
//! row become the call's error; later ones end the stream with an error. When the client goes
//! away, before the first row or after, the query is cancelled in the database at once
//! (`pg_cancel_backend`) instead of running on for nobody.

use std::time::Duration;

use bytes::Bytes;
use futures::TryStreamExt as _;
use opendata_datastore::output::{Format, OutputColumn, RowSerializer};
use opendata_datastore::table::READER_ROLE;
use opendata_limits::QUERY_CONNECTIONS;
use opendata_platform::error::ApiError;
use opendata_platform::streams::send_last;
use opendata_soql::{CompiledQuery, Extensions, QueryRequest, Target, compile};
use sqlx::pool::PoolConnection;
use sqlx::{Executor as _, PgConnection, PgPool, Postgres, Row as _};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tonic::Status;
use tracing::Instrument as _;

use crate::error::CatalogError;
use crate::model::Dataset;
use crate::share::Slot;

/// Longest an estimate waits for a lock on the table, in milliseconds.
const PLANNING_WAIT_MILLIS: u64 = 200;
/// Longest an estimate may take, in milliseconds (planning an ordinary query takes a few; one
/// that takes longer is counted as expensive).
const PLANNING_TIMEOUT_MILLIS: u64 = 500;

/// Chunks of the serialized body, ending early with an error if the query fails midway.
pub type Chunks = mpsc::Receiver<Result<Bytes, Status>>;

/// Where and how one query runs.
pub struct QueryRun {
    /// The row-query connections.
    pub pool: PgPool,
    /// Other connections, for cancelling a query whose client went away.
    pub control: PgPool,
    /// How long the query may take, streaming included: the statement timeout, and a deadline
    /// on the whole stream (a client that stops reading holds its slots no longer than this).
    pub timeout: Duration,
    /// The limit that sets `timeout`, named when it passes.
    pub timeout_limit: &'static str,
    /// Whether PostgreSQL may spread the query over parallel workers (not for the public, whose
    /// share of the machine stays one process a query).
    pub parallel: bool,
    /// When the query must have its connection (the deadline of all its waits).
    pub admission: Instant,
    /// Bytes per chunk.
    pub chunk_bytes: usize,
    /// The caller's turn, held until the last row is sent.
    pub slot: Slot,
    /// The role the query runs as.
    pub role: RunAs,
}

/// The role a query runs as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunAs {
    /// The reader role, which reads only versions' views: every query built from a request's
    /// SoQL.
    Reader,
    /// The catalog's own role: statements the catalog builds alone from its records (diffs, which
    /// read a generation's version columns).
    Catalog,
}

/// `request` compiled for `dataset`: against its current table, or, while it has no data, only
/// checked.
pub fn compile_for(
    dataset: &Dataset,
    request: &QueryRequest,
    format: Format,
    extensions: Extensions,
) -> Result<CompiledQuery, CatalogError> {
    let table = dataset.current_table.as_deref().unwrap_or("none");
    Ok(compile(
        request,
        &dataset.schema,
        table,
        target_of(format),
        extensions,
    )?)
}

/// What SQL renders values for: GeoJSON carries JSON values.
pub fn target_of(format: Format) -> Target {
    match format {
        Format::Json | Format::GeoJson => Target::Json,
        Format::Csv => Target::Csv,
    }
}

/// A whole (small) body: the chunks of a query the catalog reads itself, such as a diff's
/// counts.
pub async fn collect(mut chunks: Chunks) -> Result<Vec<u8>, CatalogError> {
    let mut body = Vec::new();
    while let Some(chunk) = chunks.recv().await {
        let chunk = chunk.map_err(|status| CatalogError::Midway(ApiError::from_status(&status)))?;
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The planner's estimate of what a public query, `compiled`, costs to run (as it will run,
/// without parallel workers), read as the reader role from `EXPLAIN` on `plan_pool` (so a query
/// waiting for its turn holds no row-query connection). Planning takes moments; when it cannot by
/// `deadline` (the table is locked, by a schema change say, or every planning connection is
/// busy), the cost is unknown and counted as infinite rather than letting the estimate wait.
pub async fn estimated_cost(
    plan_pool: &PgPool,
    compiled: &CompiledQuery,
    deadline: Instant,
) -> Result<f64, CatalogError> {
    match tokio::time::timeout_at(deadline, explain(plan_pool, compiled)).await {
        Err(_) | Ok(Err(sqlx::Error::PoolTimedOut)) => Ok(f64::INFINITY),
        Ok(Err(sqlx::Error::Database(error)))
            if matches!(error.code().as_deref(), Some("55P03" | "57014")) =>
        {
            Ok(f64::INFINITY)
        }
        Ok(outcome) => Ok(outcome?),
    }
}

async fn explain(plan_pool: &PgPool, compiled: &CompiledQuery) -> Result<f64, sqlx::Error> {
    let mut tx = plan_pool.begin().await?;
    let setup = format!(
        "SET TRANSACTION READ ONLY; SET LOCAL ROLE {READER_ROLE}; \
         SET LOCAL lock_timeout = {PLANNING_WAIT_MILLIS}; \
         SET LOCAL statement_timeout = {PLANNING_TIMEOUT_MILLIS}; \
         SET LOCAL max_parallel_workers_per_gather = 0"
    );
    (&mut *tx).execute(setup.as_str()).await?;
    let statement = format!("EXPLAIN (FORMAT JSON) {}", compiled.sql);
    let mut explain = sqlx::query_scalar::<_, sqlx::types::JsonValue>(&statement);
    for bind in &compiled.binds {
        explain = explain.bind(bind);
    }
    let plan = explain.fetch_one(&mut *tx).await?;
    tx.rollback().await?;
    Ok(costliest_step(&plan[0]["Plan"]))
}

/// The highest total cost of any step of a plan. A `LIMIT` is costed as if the rows it wants
/// came early, which a filter matching nothing turns into a full scan: what a step below it may
/// cost is what the query may cost.
fn costliest_step(plan: &sqlx::types::JsonValue) -> f64 {
    let mut costliest: f64 = 0.0;
    let mut pending = vec![plan];
    while let Some(step) = pending.pop() {
        costliest = costliest.max(step["Total Cost"].as_f64().unwrap_or(f64::INFINITY));
        if let Some(children) = step["Plans"].as_array() {
            pending.extend(children);
        }
    }
    costliest
}

/// Runs `compiled` (see [`compile_for`]) over `dataset`'s current version; returns the output
/// columns and the body.
pub async fn query_rows(
    dataset: &Dataset,
    compiled: CompiledQuery,
    format: Format,
    bom: bool,
    run: QueryRun,
) -> Result<(Vec<OutputColumn>, Chunks), CatalogError> {
    let (sender, receiver) = mpsc::channel(4);
    if dataset.current_table.is_none() {
        // No data yet: an empty body.
        let serializer = RowSerializer::new(format, compiled.columns.clone());
        let mut body = Vec::new();
        serializer.begin(bom, &mut body);
        serializer.end(&mut body);
        let _ = sender.try_send(Ok(Bytes::from(body)));
        return Ok((compiled.columns, receiver));
    }
    let columns = compiled.columns.clone();
    let (started, started_receiver) = oneshot::channel();
    tokio::spawn(stream_rows(run, compiled, format, bom, started, sender).in_current_span());
    match started_receiver.await {
        Ok(Ok(())) => Ok((columns, receiver)),
        Ok(Err(error)) => Err(error),
        Err(_) => Err(CatalogError::Database(sqlx::Error::PoolClosed)),
    }
}

/// Reports whether the query got going (first row or clean end) exactly once.
struct Start(Option<oneshot::Sender<Result<(), CatalogError>>>);

impl Start {
    fn ok(&mut self) {
        if let Some(started) = self.0.take() {
            let _ = started.send(Ok(()));
        }
    }

    /// Hands the error to the caller if the stream has not started; otherwise gives it back.
    fn fail(&mut self, error: CatalogError) -> Option<CatalogError> {
        match self.0.take() {
            Some(started) => {
                let _ = started.send(Err(error));
                None
            }
            None => Some(error),
        }
    }
}

async fn stream_rows(
    run: QueryRun,
    compiled: CompiledQuery,
    format: Format,
    bom: bool,
    started: oneshot::Sender<Result<(), CatalogError>>,
    sender: mpsc::Sender<Result<Bytes, Status>>,
) {
    let mut start = Start(Some(started));
    let connection = match tokio::time::timeout_at(run.admission, run.pool.acquire()).await {
        Ok(acquired) => acquired.map_err(CatalogError::from),
        Err(_) => Err(CatalogError::Busy {
            limit: QUERY_CONNECTIONS.name,
            message: "every query connection is busy; retry in a moment".to_owned(),
        }),
    };
    let outcome = match connection {
        Ok(mut connection) => {
            let outcome = stream(
                &run,
                &mut connection,
                compiled,
                format,
                bom,
                &mut start,
                &sender,
            )
            .await;
            if !matches!(outcome, Ok(Completion::Done)) {
                // Mid-result or mid-transaction: close it rather than hand it back to the pool,
                // which would have to drain the rest of the rows first.
                connection.close_on_drop();
            }
            outcome
        }
        Err(error) => Err(error),
    };
    // The connection is back (or closed); the query's place goes before an error waits for a
    // client that may not be reading.
    drop(run.slot);
    if let Err(error) = outcome
        && let Some(error) = start.fail(error)
    {
        let status: Status = ApiError::from(error).into();
        send_last(&sender, Err(status)).await;
    }
}

/// How a row stream ended.
enum Completion {
    /// Every row was sent.
    Done,
    /// The client went away before the end.
    ClientGone,
}

async fn stream(
    run: &QueryRun,
    connection: &mut PoolConnection<Postgres>,
    compiled: CompiledQuery,
    format: Format,
    bom: bool,
    start: &mut Start,
    sender: &mpsc::Sender<Result<Bytes, Status>>,
) -> Result<Completion, CatalogError> {
    // A read-only transaction as the reader role, with the caller's statement timeout. The values
    // are constants and configuration, never request input.
    let role = match run.role {
        RunAs::Reader => format!("SET LOCAL ROLE {READER_ROLE}; "),
        RunAs::Catalog => String::new(),
    };
    let setup = format!(
        "BEGIN READ ONLY; {role}SET LOCAL statement_timeout = {}{}",
        run.timeout.as_millis(),
        if run.parallel {
            ""
        } else {
            "; SET LOCAL max_parallel_workers_per_gather = 0"
        }
    );
    let deadline = Instant::now() + run.timeout;
    let timed_out = || CatalogError::TimedOut {
        limit: run.timeout_limit,
    };
    let connection: &mut PgConnection = connection;
    connection.execute(setup.as_str()).await?;
    let backend: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut *connection)
        .await?;

    let mut query = sqlx::query(&compiled.sql);
    for bind in &compiled.binds {
        query = query.bind(bind);
    }
    let mut rows = query.fetch(&mut *connection);
    let mut serializer = RowSerializer::new(format, compiled.columns);
    let width = serializer.columns().len();
    let mut body = Vec::with_capacity(run.chunk_bytes + 4096);
    let streamed = &opendata_platform::metrics::metrics().query_rows_streamed;
    serializer.begin(bom, &mut body);
    loop {
        let next = tokio::select! {
            biased;
            () = sender.closed() => {
                cancel(&run.control, backend).await;
                return Ok(Completion::ClientGone);
            }
            () = tokio::time::sleep_until(deadline) => {
                cancel(&run.control, backend).await;
                return Err(timed_out());
            }
            next = rows.try_next() => next.map_err(|error| on_timeout(error, run.timeout_limit))?,
        };
        let Some(row) = next else { break };
        start.ok();
        let mut values: Vec<Option<&str>> = Vec::with_capacity(width);
        for index in 0..width {
            let value = row.try_get_raw(index)?;
            values.push(if sqlx::ValueRef::is_null(&value) {
                None
            } else {
                Some(value.as_str().map_err(sqlx::Error::Decode)?)
            });
        }
        serializer.row(&values, &mut body);
        streamed.inc();
        if body.len() >= run.chunk_bytes {
            let chunk = Bytes::from(std::mem::replace(
                &mut body,
                Vec::with_capacity(run.chunk_bytes + 4096),
            ));
            match tokio::time::timeout_at(deadline, sender.send(Ok(chunk))).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => {
                    cancel(&run.control, backend).await;
                    return Ok(Completion::ClientGone);
                }
                // A client that stops reading: its time is up all the same.
                Err(_) => {
                    cancel(&run.control, backend).await;
                    return Err(timed_out());
                }
            }
        }
    }
    drop(rows);
    start.ok();
    connection.execute("COMMIT").await?;
    serializer.end(&mut body);
    match tokio::time::timeout_at(deadline, sender.send(Ok(Bytes::from(body)))).await {
        Ok(Ok(())) => Ok(Completion::Done),
        Ok(Err(_)) => Ok(Completion::ClientGone),
        // Without its last rows the body would look whole: end it with the error instead.
        Err(_) => Err(timed_out()),
    }
}

/// A statement timeout, named by the limit that set it; other errors as they are.
pub(crate) fn on_timeout(error: sqlx::Error, limit: &'static str) -> CatalogError {
    match error.as_database_error().and_then(|e| e.code()).as_deref() {
        Some("57014") => CatalogError::TimedOut { limit },
        _ => CatalogError::from(error),
    }
}

/// Cancels what `backend` is running: the query of a client that went away.
async fn cancel(control: &PgPool, backend: i32) {
    let cancelled = sqlx::query_scalar::<_, bool>("SELECT pg_cancel_backend($1)")
        .bind(backend)
        .fetch_one(control)
        .await;
    if let Err(error) = cancelled {
        tracing::warn!(backend, %error, "cancelling an abandoned query failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_limit_is_costed_as_what_it_may_have_to_scan() {
        let plan = serde_json::json!({
            "Node Type": "Limit",
            "Total Cost": 1.2,
            "Plans": [{"Node Type": "Seq Scan", "Total Cost": 24675.0}]
        });
        assert_eq!(costliest_step(&plan), 24675.0);
        assert!(costliest_step(&serde_json::json!({})).is_infinite());
    }
}
