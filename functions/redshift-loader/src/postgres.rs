//! The PostgreSQL backend (local runs and tests; Redshift speaks the same protocol): the same stage / apply /
//! ledger logic as the Redshift path, in one transaction, with the Parquet rows streamed through
//! `COPY … FROM STDIN` instead of COPY from S3.

use crate::encode::{check_schema, write_csv};
use crate::evolve::{self, Mismatch, TableColumn, Warehouse};
use crate::sql::{
    CORRELATION_COLUMN, Ident, LEDGER, LedgerEntry, Mode, SqlError, TableName,
    add_correlation_column, apply, create_ledger, record, select_loaded, stage_name,
};
use arrow_schema::SchemaRef;
use bytes::Bytes;
use futures_util::SinkExt;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde::Serialize;
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;
use tokio_postgres::{Client, NoTls};
use tributary_shared::retry::Backoff;
use tributary_shared::{Classify, ErrorKind};

/// A Parquet file to load: where it is recorded as coming from, its version, and its bytes.
#[derive(Debug)]
pub struct SourceFile {
    pub url: String,
    pub etag: String,
    pub data: ParquetData,
}

/// Parquet bytes, from a local file or held in memory (an S3 object).
#[derive(Debug)]
pub enum ParquetData {
    File(std::fs::File),
    Bytes(Bytes),
}

/// What a load did; printed by `tributary load`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Loaded {
    pub files_loaded: usize,
    pub files_skipped: usize,
    pub rows_loaded: u64,
    pub load_id: String,
    /// The COPY of the files into the stage, then the rest of the transaction (table changes before it are not
    /// counted; the merge, the ledger and the commit are).
    pub copy_ms: u64,
    pub merge_ms: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Sql(#[from] SqlError),
    #[error("{0}")]
    Schema(String),
    #[error("the files do not fit table {table}: {}", mismatches.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    SchemaMismatch {
        table: String,
        mismatches: Vec<Mismatch>,
    },
    #[error("reading Parquet {url}: {source}")]
    Parquet {
        url: String,
        #[source]
        source: parquet::errors::ParquetError,
    },
    #[error("{}", postgres_message(.0))]
    Postgres(#[from] tokio_postgres::Error),
    #[error("reading {url}: {source}")]
    Io {
        url: String,
        #[source]
        source: std::io::Error,
    },
}

/// The server's own words, when it said anything.
fn postgres_message(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut m = format!("PostgreSQL error {}: {}", db.code().code(), db.message());
            if let Some(detail) = db.detail() {
                m.push_str(&format!(" ({detail})"));
            }
            m
        }
        None => format!("PostgreSQL: {}", tributary_shared::error::chain(e)),
    }
}

impl LoadError {
    /// Whether the load lost a race with another transaction and would succeed if run again: a serialization
    /// failure, a deadlock, or a catalog row another session created or changed at the same moment (two
    /// `CREATE … IF NOT EXISTS` of one name both pass the check, and one hits the catalog's unique index).
    pub fn is_conflict(&self) -> bool {
        let Self::Postgres(e) = self else {
            return false;
        };
        let Some(db) = e.as_db_error() else {
            return false;
        };
        use tokio_postgres::error::SqlState;
        let code = db.code();
        *code == SqlState::T_R_SERIALIZATION_FAILURE
            || *code == SqlState::T_R_DEADLOCK_DETECTED
            || *code == SqlState::DUPLICATE_TABLE
            || *code == SqlState::DUPLICATE_SCHEMA
            || *code == SqlState::DUPLICATE_OBJECT
            || (*code == SqlState::UNIQUE_VIOLATION
                && db.constraint().is_some_and(|c| c.starts_with("pg_")))
            || (*code == SqlState::INTERNAL_ERROR && db.message().contains("concurrently"))
    }
}

impl Classify for LoadError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Sql(_) | Self::Schema(_) | Self::Parquet { .. } => ErrorKind::InvalidInput,
            Self::SchemaMismatch { .. } => ErrorKind::SchemaMismatch,
            e if e.is_conflict() => ErrorKind::Conflict,
            // The server ended the session (shutdown, an operator's pg_terminate_backend) or the connection
            // broke: nothing was committed, and the same load can succeed later.
            Self::Postgres(e)
                if e.as_db_error().is_some_and(|db| {
                    let code = db.code().code();
                    code.starts_with("57") || code.starts_with("08")
                }) =>
            {
                ErrorKind::ServiceUnavailable
            }
            Self::Postgres(e) if e.as_db_error().is_some() => ErrorKind::LoadFailed,
            Self::Postgres(_) | Self::Io { .. } => ErrorKind::ServiceUnavailable,
        }
    }
}

/// Connects (no TLS: local and test warehouses) and drives the connection in the background.
pub async fn connect(url: &str) -> Result<Client, LoadError> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::warn!(error = %e, "warehouse connection ended");
        }
    });
    Ok(client)
}

fn builder(
    file: &SourceFile,
) -> Result<ParquetRecordBatchReaderBuilder<ParquetDataReader>, LoadError> {
    let reader = match &file.data {
        ParquetData::File(f) => {
            ParquetDataReader::File(f.try_clone().map_err(|source| LoadError::Io {
                url: file.url.clone(),
                source,
            })?)
        }
        ParquetData::Bytes(b) => ParquetDataReader::Bytes(b.clone()),
    };
    ParquetRecordBatchReaderBuilder::try_new(reader).map_err(|source| LoadError::Parquet {
        url: file.url.clone(),
        source,
    })
}

/// The one reader type the Parquet builder sees.
#[derive(Debug)]
enum ParquetDataReader {
    File(std::fs::File),
    Bytes(Bytes),
}

impl parquet::file::reader::Length for ParquetDataReader {
    fn len(&self) -> u64 {
        match self {
            Self::File(f) => f.len(),
            Self::Bytes(b) => b.len() as u64,
        }
    }
}

impl parquet::file::reader::ChunkReader for ParquetDataReader {
    type T = Box<dyn std::io::Read + Send>;

    fn get_read(&self, start: u64) -> parquet::errors::Result<Self::T> {
        Ok(match self {
            Self::File(f) => Box::new(f.get_read(start)?),
            Self::Bytes(b) => Box::new(b.get_read(start)?),
        })
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        match self {
            Self::File(f) => f.get_bytes(start, length),
            Self::Bytes(b) => b.get_bytes(start, length),
        }
    }
}

/// Retries of a load that lost a race: up to 6 attempts over a few seconds.
pub const CONFLICT_RETRY: Backoff = Backoff {
    attempts: 6,
    base: std::time::Duration::from_millis(100),
    cap: std::time::Duration::from_secs(3),
};

/// Loads `files` into `table` in one transaction. Files already in the ledger with the same ETag are skipped;
/// when all are known the load is a successful no-op. On any error the transaction rolls back: the target and
/// the ledger are unchanged. A load that loses a race with a concurrent one ([`LoadError::is_conflict`]) is
/// run again, with jittered backoff, up to [`CONFLICT_RETRY`]'s attempts; a conflict left after that is
/// [`ErrorKind::Conflict`], which the state machine retries.
///
/// `rows_sent`, when given, counts the rows streamed so far (for a progress display; a retry starts it again).
pub async fn load(
    client: &mut Client,
    table: &TableName,
    mode: &Mode,
    files: &[SourceFile],
    load_id: &str,
    rows_sent: Option<&AtomicU64>,
) -> Result<Loaded, LoadError> {
    CONFLICT_RETRY
        .retry(
            async |_| {
                if let Some(sent) = rows_sent {
                    sent.store(0, Ordering::Relaxed);
                }
                load_once(client, table, mode, files, load_id, rows_sent).await
            },
            |e, attempt| {
                let conflict = e.is_conflict();
                if conflict {
                    tracing::info!(table = %table.plain(), attempt, error = %e, "load lost a race; retrying");
                }
                conflict
            },
        )
        .await
}

/// Creates the schema and the ledger when missing, in a short transaction of its own. Tributary's loads into
/// one database take turns here (one advisory lock), so two first loads never race on the same catalog names.
async fn prepare(client: &mut Client, table: &TableName) -> Result<(), LoadError> {
    let tx = client.transaction().await?;
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtext('tributary: create schema and ledger'))",
        &[],
    )
    .await?;
    if let Some(schema) = &table.schema {
        tx.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
            .await?;
    }
    tx.batch_execute(&create_ledger(table, "text", "timestamptz"))
        .await?;
    // A ledger from before correlation ids gains the column. Looked up first: ALTER TABLE takes an exclusive lock
    // even when the column exists, and would wait for every load in progress while holding the lock above.
    let schema = table.schema.as_ref().map(|s| s.as_str().to_owned());
    let has_column = tx
        .query_opt(
            "SELECT 1 FROM information_schema.columns WHERE table_schema = coalesce($1, current_schema()) \
             AND table_name = $2 AND column_name = $3",
            &[&schema, &LEDGER, &CORRELATION_COLUMN],
        )
        .await?
        .is_some();
    if !has_column {
        tx.batch_execute(&add_correlation_column(table, "text", true))
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

async fn load_once(
    client: &mut Client,
    table: &TableName,
    mode: &Mode,
    files: &[SourceFile],
    load_id: &str,
    rows_sent: Option<&AtomicU64>,
) -> Result<Loaded, LoadError> {
    prepare(client, table).await?;
    let tx = client.transaction().await?;
    // Loads of one table run one at a time, from before the table is created to the commit: two deliveries of
    // the same task cannot both see a file as new, and two first loads cannot both create the table.
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtext($1))",
        &[&table.plain()],
    )
    .await?;
    let known: HashSet<(String, String)> = tx
        .query(&select_loaded(table), &[])
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let total = files.len();
    let mut seen = HashSet::new();
    let new: Vec<&SourceFile> = files
        .iter()
        .filter(|f| {
            !known.contains(&(f.url.clone(), f.etag.clone()))
                && seen.insert((f.url.clone(), f.etag.clone()))
        })
        .collect();
    if new.is_empty() {
        tx.commit().await?;
        return Ok(Loaded {
            files_loaded: 0,
            files_skipped: total,
            rows_loaded: 0,
            load_id: load_id.to_owned(),
            copy_ms: 0,
            merge_ms: 0,
        });
    }

    // The files may come from several schema versions of their dataset: the load's columns are their union.
    let schemas = new
        .iter()
        .map(|f| Ok(builder(f)?.schema().clone()))
        .collect::<Result<Vec<SchemaRef>, LoadError>>()?;
    for s in &schemas {
        check_schema(s).map_err(LoadError::Schema)?;
    }
    let mismatch = |mismatches| LoadError::SchemaMismatch {
        table: table.plain(),
        mismatches,
    };
    let united = evolve::union(schemas.iter().map(AsRef::as_ref)).map_err(|m| mismatch(vec![m]))?;
    let columns = united
        .iter()
        .map(|c| Ident::parse("column", &c.name))
        .collect::<Result<Vec<_>, _>>()?;
    let definitions: Vec<String> = united
        .iter()
        .zip(&columns)
        .map(|(c, ident)| {
            format!(
                "{ident} {}{}",
                c.pg_type,
                if c.nullable { "" } else { " NOT NULL" }
            )
        })
        .collect();
    tx.batch_execute(&format!(
        "CREATE TABLE IF NOT EXISTS {table} ({})",
        definitions.join(", ")
    ))
    .await?;
    // The table follows the dataset's schema, before a row is written: new columns, widened types.
    let schema_name = table.schema.as_ref().map(|s| s.as_str().to_owned());
    let current: Vec<TableColumn> = tx
        .query(
            evolve::describe_sql(),
            &[&schema_name, &table.table.as_str()],
        )
        .await?
        .iter()
        .map(|r| TableColumn {
            name: r.get(0),
            pg_type: evolve::table_type(r.get(1), r.get(2), r.get(3)),
            nullable: r.get(4),
            has_default: r.get(5),
        })
        .collect();
    for change in evolve::reconcile(&current, &united, Warehouse::Postgres).map_err(mismatch)? {
        tracing::info!(table = %table.plain(), ?change, "the table follows the files' schema");
        tx.batch_execute(&evolve::statement(
            &table.to_string(),
            &change,
            |c| format!("\"{c}\""),
            Warehouse::Postgres,
        ))
        .await?;
    }
    let stage = stage_name(load_id);
    tx.batch_execute(&format!(
        "CREATE TEMP TABLE {stage} (LIKE {table} INCLUDING DEFAULTS) ON COMMIT DROP"
    ))
    .await?;

    // One COPY per file, naming that file's own columns: a column it lacks stays NULL.
    let copying = Instant::now();
    let mut rows = 0;
    for (file, schema) in new.iter().zip(&schemas) {
        let column_list = schema
            .fields()
            .iter()
            .map(|f| Ident::parse("column", f.name()).map(|i| i.to_string()))
            .collect::<Result<Vec<_>, _>>()?
            .join(", ");
        let sink = tx
            .copy_in(&format!(
                "COPY {stage} ({column_list}) FROM STDIN WITH (FORMAT csv)"
            ))
            .await?;
        futures_util::pin_mut!(sink);
        let mut buf = Vec::with_capacity(1 << 20);
        for batch in builder(file)?
            .with_batch_size(8192)
            .build()
            .map_err(|source| LoadError::Parquet {
                url: file.url.clone(),
                source,
            })?
        {
            let batch = batch.map_err(|e| LoadError::Parquet {
                url: file.url.clone(),
                source: e.into(),
            })?;
            write_csv(&batch, &mut buf);
            if let Some(sent) = rows_sent {
                sent.fetch_add(batch.num_rows() as u64, Ordering::Relaxed);
            }
            if buf.len() >= 1 << 20 {
                sink.send(Bytes::from(std::mem::replace(
                    &mut buf,
                    Vec::with_capacity(1 << 20),
                )))
                .await?;
            }
        }
        if !buf.is_empty() {
            sink.send(Bytes::from(buf)).await?;
        }
        rows += sink.finish().await?;
    }

    let copy_ms = millis_since(copying);
    let merging = Instant::now();
    for statement in apply(table, &stage, &columns, mode) {
        tx.batch_execute(&statement).await?;
    }
    let entries: Vec<LedgerEntry> = new
        .iter()
        .map(|f| LedgerEntry {
            url: f.url.clone(),
            etag: f.etag.clone(),
        })
        .collect();
    if let Some(statement) = record(
        table,
        &entries,
        load_id,
        tributary_shared::correlation::current().as_deref(),
        "now()",
    ) {
        tx.batch_execute(&statement).await?;
    }
    tx.commit().await?;
    Ok(Loaded {
        files_loaded: new.len(),
        files_skipped: total - new.len(),
        rows_loaded: rows,
        load_id: load_id.to_owned(),
        copy_ms,
        merge_ms: millis_since(merging),
    })
}

fn millis_since(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}
