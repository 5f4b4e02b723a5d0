//! The Lambda handler: resolve the files (ETags and sizes from S3), then load them through PostgreSQL or
//! Redshift. Redshift loads are submitted as one BatchExecuteStatement and polled within the invocation's
//! remaining time; when time runs short the result is `{"status": "running", …}` for the state machine to poll
//! again, carrying everything needed to continue.

use crate::config::{Backend, Config};
use crate::dataapi::{self, Poll, Target};
use crate::error::Error;
use crate::evolve::{TableColumn, redshift_describe_sql, redshift_table_column};
use crate::manifest::{manifest, manifest_key};
use crate::plan::{Plan, plan};
use crate::postgres::{ParquetData, SourceFile};
use crate::request::{Files, LoadRequest, S3Url, parse};
use crate::sql::{
    CORRELATION_COLUMN, CopySet, GUARD_MARK, LEDGER, LedgerEntry, RedshiftLoad, TableName,
    add_correlation_column, redshift_load, select_loaded_param,
};
use arrow_schema::Schema;
use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::time::{Duration, Instant};
use tributary_shared::aws::AwsError;
use tributary_shared::correlation;
use tributary_shared::retry::Backoff;
use tributary_shared::s3;

/// Everything the handler needs, built once per cold start.
#[derive(Debug)]
pub struct Deps {
    pub s3: aws_sdk_s3::Client,
    pub redshift: aws_sdk_redshiftdata::Client,
    pub config: Config,
}

/// A file to load, with its version and size.
#[derive(Debug, Clone)]
struct Resolved {
    url: S3Url,
    etag: String,
    size: u64,
}

/// Time kept back from the deadline to answer.
const MARGIN: Duration = Duration::from_secs(5);

/// Handles one task. `remaining` is the invocation's remaining time. A finished load is also a metric record: files
/// loaded and skipped, rows (PostgreSQL path) and the invocation's time, per function and per table.
pub async fn handle(input: Value, remaining: Duration, deps: &Deps) -> Result<Value, Error> {
    let started = Instant::now();
    let answer = load(input, remaining, deps).await;
    if let Ok(out) = &answer
        && out["status"] == "loaded"
    {
        let count = |k: &str| out[k].as_u64().unwrap_or(0) as f64;
        tributary_shared::metrics::MetricSet::new("Tributary")
            .dimension("Function", "redshift-loader")
            .dimension("Table", out["table"].as_str().unwrap_or("unknown"))
            .rollup(&["Function"])
            .value("FilesLoaded", count("files_loaded"), "Count")
            .value("FilesSkipped", count("files_skipped"), "Count")
            .value("RowsLoaded", count("rows_loaded"), "Count")
            .value(
                "DurationMs",
                started.elapsed().as_secs_f64() * 1000.0,
                "Milliseconds",
            )
            .values(
                [
                    ("s3_read_ms", "S3ReadMs"),
                    ("copy_ms", "CopyMs"),
                    ("merge_ms", "MergeMs"),
                ]
                .into_iter()
                .filter_map(|(field, metric)| {
                    Some((metric, out["steps"][field].as_u64()? as f64, "Milliseconds"))
                }),
            )
            .emit();
    }
    answer
}

async fn load(input: Value, remaining: Duration, deps: &Deps) -> Result<Value, Error> {
    let c = &deps.config;
    let until = Instant::now()
        + remaining
            .saturating_sub(MARGIN)
            .min(Duration::from_secs(c.poll_seconds));
    let Some(request) = parse(&input, &c.defaults)? else {
        return Ok(json!({"status": "skipped", "reason": "the input names no file to load"}));
    };
    match &c.backend {
        Backend::Postgres(url) => load_postgres(&request, url, deps).await,
        Backend::Redshift { target, copy_role } => {
            if let (Some(id), Some("load")) = (
                &request.statement_id,
                input.get("phase").and_then(Value::as_str),
            ) {
                let load_id = request.load_id.clone().unwrap_or_default();
                match finish(deps, &request, &input, id, &load_id, until).await {
                    // The polled load lost a race: start over from the ledger, which now shows what the
                    // winner loaded, instead of polling the failed statement again.
                    Err(Error::Conflict { error, .. }) => {
                        tracing::info!(%error, "polled load lost a race; loading again");
                        // The task as it first came (the polled answer carries it whole), so that a
                        // `running` answer of the new load still names every file.
                        let mut first = input.clone();
                        if let Some(fields) = first.as_object_mut() {
                            for polled in ["status", "statement_id", "phase", "load_id"] {
                                fields.remove(polled);
                            }
                        }
                        let fresh = LoadRequest {
                            statement_id: None,
                            load_id: None,
                            ..request
                        };
                        return load_redshift(&fresh, &first, target, copy_role, deps, until).await;
                    }
                    other => return other,
                }
            }
            load_redshift(&request, &input, target, copy_role, deps, until).await
        }
    }
}

async fn resolve(deps: &Deps, files: &Files) -> Result<Vec<Resolved>, Error> {
    let urls: Vec<S3Url> = match files {
        Files::List(list) => list.clone(),
        Files::Prefix(prefix) => s3::list_keys(&deps.s3, &prefix.bucket, &prefix.key)
            .await?
            .into_iter()
            .filter(|k| k.ends_with(".parquet"))
            .map(|key| S3Url {
                bucket: prefix.bucket.clone(),
                key,
            })
            .collect(),
    };
    let mut resolved = Vec::with_capacity(urls.len());
    for url in urls {
        let head = s3::head(&deps.s3, &url.bucket, &url.key)
            .await?
            .ok_or_else(|| {
                AwsError::other(
                    "HeadObject",
                    url.to_string(),
                    tributary_shared::ErrorKind::NotFound,
                    "no such file to load",
                )
            })?;
        resolved.push(Resolved {
            etag: head.etag,
            size: head.size,
            url,
        });
    }
    Ok(resolved)
}

/// A load id that is the same for the same table and files, so a redelivered task reuses its manifest key.
fn load_id(table: &TableName, files: &[Resolved]) -> String {
    let parts = std::iter::once(table.plain()).chain(
        files
            .iter()
            .flat_map(|f| [f.url.to_string(), f.etag.clone()]),
    );
    tributary_shared::hash::sha256_hex(parts, 8)
}

async fn load_postgres(request: &LoadRequest, url: &str, deps: &Deps) -> Result<Value, Error> {
    let files = resolve(deps, &request.files).await?;
    let id = request
        .load_id
        .clone()
        .unwrap_or_else(|| load_id(&request.table, &files));
    let reading = Instant::now();
    let mut sources = Vec::with_capacity(files.len());
    for f in &files {
        sources.push(SourceFile {
            url: f.url.to_string(),
            etag: f.etag.clone(),
            data: ParquetData::File(spool(deps, &f.url, &f.etag).await?),
        });
    }
    let s3_read_ms = u64::try_from(reading.elapsed().as_millis()).unwrap_or(u64::MAX);
    let mut client = crate::postgres::connect(url).await?;
    let loaded = crate::postgres::load(
        &mut client,
        &request.table,
        &request.mode,
        &sources,
        &id,
        None,
    )
    .await?;
    tracing::info!(table = %request.table.plain(), files_loaded = loaded.files_loaded, files_skipped = loaded.files_skipped, rows = loaded.rows_loaded, "loaded");
    Ok(
        json!({"status": "loaded", "table": request.table.plain(), "files_loaded": loaded.files_loaded,
        "files_skipped": loaded.files_skipped, "rows_loaded": loaded.rows_loaded, "load_id": loaded.load_id,
        "steps": {"s3_read_ms": s3_read_ms, "copy_ms": loaded.copy_ms, "merge_ms": loaded.merge_ms}}),
    )
}

/// Copies an object to an unnamed temporary file (in Lambda, `/tmp`), so that a load holds no file in memory
/// whatever its size; the file is gone when its handle is dropped. A read cut mid-stream resumes from its
/// offset. An object deleted since it was listed is `NotFound`, never an empty file.
async fn spool(deps: &Deps, url: &S3Url, etag: &str) -> Result<std::fs::File, Error> {
    use tokio::io::AsyncWriteExt;
    let object = s3::get_stream(&deps.s3, &url.bucket, &url.key).await?;
    // The ledger records the version HEAD saw: rows of another version must not be loaded under its ETag.
    if object.etag.as_deref() != Some(etag) {
        return Err(AwsError::other(
            "GetObject",
            url.to_string(),
            tributary_shared::ErrorKind::ServiceUnavailable,
            format!(
                "the object changed since it was listed (ETag {etag}, now {})",
                object.etag.as_deref().unwrap_or("none")
            ),
        )
        .into());
    }
    let mut body = s3::resuming_body(
        deps.s3.clone(),
        &url.bucket,
        &url.key,
        object,
        s3::RESUME_ATTEMPTS,
    );
    let failed = |e: std::io::Error| {
        // A full /tmp stays full on a retry: that is the configuration's to fix, not a passing fault.
        let (kind, hint) = if e.kind() == std::io::ErrorKind::StorageFull {
            (
                tributary_shared::ErrorKind::InvalidInput,
                "; the load's files do not fit in /tmp: raise the function's ephemeral storage or load fewer files at once",
            )
        } else {
            (tributary_shared::ErrorKind::ServiceUnavailable, "")
        };
        AwsError::other(
            "GetObject",
            url.to_string(),
            kind,
            format!("spooling to a temporary file: {e}{hint}"),
        )
    };
    let mut file = tokio::fs::File::from_std(tempfile::tempfile().map_err(failed)?);
    tokio::io::copy(&mut body, &mut file)
        .await
        .map_err(failed)?;
    file.flush().await.map_err(failed)?;
    Ok(file.into_std().await)
}

/// What the state machine passes back to poll: the request plus the statement and phase.
fn running(request: &LoadRequest, input: &Value, id: &str, phase: &str, load_id: &str) -> Value {
    let mut out = input.clone();
    if !out.is_object() {
        out = json!({});
    }
    out["status"] = json!("running");
    out["statement_id"] = json!(id);
    out["phase"] = json!(phase);
    out["table"] = json!(request.table.plain());
    out["load_id"] = json!(load_id);
    out
}

/// Retries of a Redshift load that lost a race (Redshift's 1023, a deadlock, the ledger guard), within the
/// invocation's time budget.
const REDSHIFT_CONFLICT_RETRY: Backoff = Backoff {
    attempts: 4,
    base: Duration::from_secs(1),
    cap: Duration::from_secs(8),
};

/// Whether a failed Redshift statement lost a race with a concurrent transaction, so that running the load
/// again can succeed: a serializable isolation violation (error 1023), a deadlock, or the ledger guard finding
/// files a concurrent load recorded after this one checked.
pub fn redshift_conflict(error: &str, statement: Option<&str>) -> bool {
    let e = error.to_ascii_lowercase();
    (statement.is_some_and(|s| s.contains(GUARD_MARK))
        && (e.contains("division by zero") || e.contains("divide by zero")))
        // A concurrent load added the same column, or created the table, after this one read the table.
        || (statement.is_some_and(|s| s.starts_with("ALTER TABLE") || s.starts_with("CREATE TABLE IF NOT EXISTS"))
            && (e.contains("already exists") || e.contains("duplicate key")))
        || e.contains("serializable isolation violation")
        || e.contains("error: 1023")
        || e.contains("deadlock detected")
        || e.contains("could not serialize access")
        || e.contains("tuple concurrently updated")
}

/// Whether the ledger query failed only because the ledger does not exist yet (the table's first load).
fn ledger_missing(error: &str, table: &TableName) -> bool {
    error.contains("does not exist") && error.contains(table.ledger().table.as_str())
}

async fn load_redshift(
    request: &LoadRequest,
    input: &Value,
    target: &Target,
    copy_role: &str,
    deps: &Deps,
    until: Instant,
) -> Result<Value, Error> {
    let files = resolve(deps, &request.files).await?;
    let phase = input.get("phase").and_then(Value::as_str);
    let mut resumed_check = match (&request.statement_id, phase) {
        (Some(check), Some("ledger")) => Some(check.clone()),
        _ => None,
    };
    REDSHIFT_CONFLICT_RETRY
        .retry(
            async |attempt| {
                // Which files the ledger already holds.
                let check = match resumed_check.take() {
                    Some(check) => check,
                    None => {
                        dataapi::execute(
                            &deps.redshift,
                            target,
                            &select_loaded_param(&request.table),
                            &[("table_name", &request.table.plain())],
                        )
                        .await?
                    }
                };
                // The table's columns, read while the ledger query runs (each attempt reads them afresh).
                let describe = describe_table(deps, target, &request.table).await?;
                let known: HashSet<(String, String)> =
                    match dataapi::poll(&deps.redshift, &check, until).await? {
                        Poll::Running => {
                            let id = request
                                .load_id
                                .clone()
                                .unwrap_or_else(|| load_id(&request.table, &files));
                            return Ok(running(request, input, &check, "ledger", &id));
                        }
                        Poll::Failed { error, .. } if ledger_missing(&error, &request.table) => {
                            tracing::info!(%error, "no ledger yet; every file is new");
                            HashSet::new()
                        }
                        Poll::Failed {
                            status,
                            error,
                            statement,
                            ..
                        } => {
                            return Err(Error::LoadFailed {
                                table: request.table.plain(),
                                status,
                                error: format!("reading the load ledger: {error}"),
                                statement: statement.or(Some(select_loaded_param(&request.table))),
                                rejected_rows: Vec::new(),
                            });
                        }
                        Poll::Finished => dataapi::rows(&deps.redshift, &check)
                            .await?
                            .into_iter()
                            .filter_map(|r| Some((r.first()?.clone()?, r.get(1)?.clone()?)))
                            .collect(),
                    };
                let new: Vec<Resolved> = files
                    .iter()
                    .filter(|f| !known.contains(&(f.url.to_string(), f.etag.clone())))
                    .cloned()
                    .collect();
                // A retry loads what is still missing, under a load id (and manifest) of its own.
                let id = match (&request.load_id, attempt) {
                    (Some(given), 1) => given.clone(),
                    _ => load_id(&request.table, &new),
                };
                if new.is_empty() {
                    return Ok(
                        json!({"status": "loaded", "table": request.table.plain(), "files_loaded": 0, "files_skipped": files.len(), "load_id": id}),
                    );
                }
                let schemas = read_schemas(deps, &new).await?;
                let described = match table_columns(deps, &request.table, &describe, until).await? {
                    Some(described) => described,
                    None => return Ok(running(request, input, &check, "ledger", &id)),
                };
                let mut plan = plan(&request.table, &described.table, &schemas)?;
                if described.ledger_lacks_correlation() {
                    plan.ddl.insert(0, add_correlation_column(&request.table, "VARCHAR(1024)", false));
                }
                let (batch, manifests) =
                    submit(request, target, copy_role, deps, &new, &id, &plan).await?;
                match finish(deps, request, input, &batch, &id, until).await {
                    Ok(mut result) => {
                        if result["status"] == "loaded" {
                            result["files_loaded"] = json!(new.len());
                            result["files_skipped"] = json!(files.len() - new.len());
                            result["manifest"] = json!(manifests[0]);
                            result["manifests"] = json!(manifests);
                            result["schema_changes"] = json!(plan.ddl);
                        }
                        Ok(result)
                    }
                    Err(Error::Conflict { table, error, .. }) => Err(Error::Conflict {
                        table,
                        attempts: attempt,
                        error,
                    }),
                    Err(e) => Err(e),
                }
            },
            |e, attempt| {
                let again = matches!(e, Error::Conflict { .. })
                    && Instant::now() + REDSHIFT_CONFLICT_RETRY.cap < until;
                if again {
                    tracing::info!(table = %request.table.plain(), attempt, error = %e, "load lost a race; retrying");
                }
                again
            },
        )
        .await
}

/// Starts reading the target table's columns; returns the statement's id.
/// Names in lower case: Redshift folds identifiers, quoted ones too, and its catalog holds them folded.
async fn describe_table(deps: &Deps, target: &Target, table: &TableName) -> Result<String, Error> {
    let name = table.table.as_str().to_lowercase();
    let schema = table.schema.as_ref().map(|s| s.as_str().to_lowercase());
    let mut params = vec![("table_name", name.as_str()), ("ledger_name", LEDGER)];
    if let Some(schema) = &schema {
        params.push(("table_schema", schema.as_str()));
    }
    let sql = redshift_describe_sql(table.schema.is_some());
    Ok(dataapi::execute(&deps.redshift, target, &sql, &params).await?)
}

/// The columns of the target table and of its ledger, as [`describe_table`] read them.
struct Described {
    /// None when the table does not exist.
    table: Vec<TableColumn>,
    /// None when the ledger does not exist.
    ledger: Vec<TableColumn>,
}

impl Described {
    /// The ledger exists from before it recorded correlation ids: the load adds the column.
    fn ledger_lacks_correlation(&self) -> bool {
        !self.ledger.is_empty() && !self.ledger.iter().any(|c| c.name == CORRELATION_COLUMN)
    }
}

/// The target table's and the ledger's columns, or `None` when the query is still running at `until`.
async fn table_columns(
    deps: &Deps,
    table: &TableName,
    describe: &str,
    until: Instant,
) -> Result<Option<Described>, Error> {
    match dataapi::poll(&deps.redshift, describe, until).await? {
        Poll::Running => Ok(None),
        Poll::Failed {
            status,
            error,
            statement,
            ..
        } => Err(Error::LoadFailed {
            table: table.plain(),
            status,
            error: format!("reading the table's columns: {error}"),
            statement,
            rejected_rows: Vec::new(),
        }),
        Poll::Finished => {
            let mut described = Described {
                table: Vec::new(),
                ledger: Vec::new(),
            };
            for row in dataapi::rows(&deps.redshift, describe).await? {
                let Some((name, column)) = row.split_first() else {
                    continue;
                };
                let Some(column) = redshift_table_column(column) else {
                    continue;
                };
                if name.as_deref() == Some(LEDGER) {
                    described.ledger.push(column);
                } else {
                    described.table.push(column);
                }
            }
            Ok(Some(described))
        }
    }
}

/// The schema of every file from its footer (ranged GETs of the version the ledger will record), 8 at a time.
async fn read_schemas(deps: &Deps, files: &[Resolved]) -> Result<Vec<Schema>, Error> {
    futures_util::stream::iter(
        files.iter().map(|f| {
            crate::footer::read_schema(&deps.s3, &f.url.bucket, &f.url.key, f.size, &f.etag)
        }),
    )
    .buffered(8)
    .try_collect()
    .await
}

/// Writes one manifest per column list of `new` and submits the load's statements as one batch; returns the
/// batch id and the manifests' URLs.
async fn submit(
    request: &LoadRequest,
    target: &Target,
    copy_role: &str,
    deps: &Deps,
    new: &[Resolved],
    id: &str,
    plan: &Plan,
) -> Result<(String, Vec<String>), Error> {
    let bucket = deps
        .config
        .manifest_bucket
        .clone()
        .unwrap_or_else(|| new[0].url.bucket.clone());
    let mut sets = Vec::with_capacity(plan.sets.len());
    for (k, (columns, files)) in plan.sets.iter().enumerate() {
        let name = if plan.sets.len() == 1 {
            id.to_owned()
        } else {
            format!("{id}-{}", k + 1)
        };
        let key = manifest_key(&deps.config.manifest_prefix, &request.table.plain(), &name);
        let entries: Vec<(String, u64)> = files
            .iter()
            .map(|&i| (new[i].url.to_string(), new[i].size))
            .collect();
        let body = serde_json::to_vec_pretty(&manifest(&entries))
            .map_err(|e| Error::Internal(e.to_string()))?;
        s3::put(
            &deps.s3,
            &bucket,
            &key,
            Bytes::from(body),
            "application/json",
        )
        .await?;
        sets.push(CopySet {
            manifest_url: format!("s3://{bucket}/{key}"),
            columns: columns.clone(),
        });
    }
    let ledger: Vec<LedgerEntry> = new
        .iter()
        .map(|f| LedgerEntry {
            url: f.url.to_string(),
            etag: f.etag.clone(),
        })
        .collect();
    let statements = redshift_load(&RedshiftLoad {
        target: &request.table,
        ddl: plan.ddl.clone(),
        sets: sets.clone(),
        columns: plan.columns.clone(),
        mode: &request.mode,
        iam_role: copy_role,
        entries: &ledger,
        load_id: id,
        correlation_id: correlation::current().as_deref(),
    });
    let batch = dataapi::execute_batch(
        &deps.redshift,
        target,
        statements,
        &format!("tributary-load-{id}"),
    )
    .await?;
    let manifests: Vec<String> = sets.into_iter().map(|s| s.manifest_url).collect();
    tracing::info!(table = %request.table.plain(), statement = %batch, files = new.len(), manifests = ?manifests, schema_changes = ?plan.ddl, "load submitted");
    Ok((batch, manifests))
}

/// Redshift's own account of the rows a failed COPY rejected, when the log has it in time; best effort, a
/// failure here never hides the load's own error.
async fn load_error_rows(deps: &Deps, query_id: i64, until: Instant) -> Vec<String> {
    let Backend::Redshift { target, .. } = &deps.config.backend else {
        return Vec::new();
    };
    let until = until.min(Instant::now() + Duration::from_secs(15));
    let Ok(id) = dataapi::execute(
        &deps.redshift,
        target,
        &crate::sql::load_errors(query_id),
        &[],
    )
    .await
    else {
        return Vec::new();
    };
    match dataapi::poll(&deps.redshift, &id, until).await {
        Ok(Poll::Finished) => dataapi::rows(&deps.redshift, &id)
            .await
            .unwrap_or_default()
            .into_iter()
            .map(|r| {
                r.into_iter()
                    .map(Option::unwrap_or_default)
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .collect(),
        _ => Vec::new(),
    }
}

async fn finish(
    deps: &Deps,
    request: &LoadRequest,
    input: &Value,
    id: &str,
    load_id: &str,
    until: Instant,
) -> Result<Value, Error> {
    match dataapi::poll(&deps.redshift, id, until).await? {
        Poll::Running => Ok(running(request, input, id, "load", load_id)),
        Poll::Finished => {
            let mut answer = json!({"status": "loaded", "table": request.table.plain(), "statement_id": id, "load_id": load_id});
            // Best effort: the load is done whether or not its timings can be read.
            match dataapi::durations(&deps.redshift, id).await {
                Ok((copy_ms, merge_ms)) => {
                    answer["steps"] = json!({"copy_ms": copy_ms, "merge_ms": merge_ms});
                }
                Err(e) => tracing::warn!(error = %e, "the load's timings could not be read"),
            }
            Ok(answer)
        }
        Poll::Failed {
            error, statement, ..
        } if redshift_conflict(&error, statement.as_deref()) => Err(Error::Conflict {
            table: request.table.plain(),
            attempts: 1,
            error: match statement {
                Some(s) if s.contains(GUARD_MARK) => {
                    "a concurrent load recorded some of these files first".to_owned()
                }
                _ => error,
            },
        }),
        Poll::Failed {
            status,
            error,
            statement,
            query_id,
        } => {
            let rejected_rows = match query_id {
                Some(q) => load_error_rows(deps, q, until).await,
                None => Vec::new(),
            };
            Err(Error::LoadFailed {
                table: request.table.plain(),
                status,
                error,
                statement,
                rejected_rows,
            })
        }
    }
}
