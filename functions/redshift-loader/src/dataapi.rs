//! The Redshift Data API adapter: submit statements, poll them with backoff within a time budget, read results.

use aws_sdk_redshiftdata::Client;
use aws_sdk_redshiftdata::types::{Field, SqlParameter, StatusString};
use std::time::{Duration, Instant};
use tributary_shared::ErrorKind;
use tributary_shared::aws::AwsError;

/// Where statements run: a provisioned cluster (with a secret or a database user) or a Serverless workgroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub database: String,
    pub cluster_id: Option<String>,
    pub workgroup: Option<String>,
    pub secret_arn: Option<String>,
    pub db_user: Option<String>,
}

/// How a statement ended, or that it has not yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Poll {
    Finished,
    /// Still running when the budget ran out.
    Running,
    /// FAILED or ABORTED, with Redshift's error and, for a batch, the sub-statement that failed and its
    /// Redshift query id (for the load-error log).
    Failed {
        status: String,
        error: String,
        statement: Option<String>,
        query_id: Option<i64>,
    },
}

fn err(op: &'static str, id: &str, message: impl Into<String>) -> AwsError {
    AwsError::other(op, id, ErrorKind::ServiceUnavailable, message)
}

/// Runs one statement with named parameters; returns its id.
pub async fn execute(
    client: &Client,
    t: &Target,
    sql: &str,
    params: &[(&str, &str)],
) -> Result<String, AwsError> {
    let parameters: Vec<SqlParameter> = params
        .iter()
        .map(|(n, v)| SqlParameter::builder().name(*n).value(*v).build())
        .collect::<Result<_, _>>()
        .map_err(|e| {
            AwsError::other(
                "ExecuteStatement",
                &t.database,
                ErrorKind::Internal,
                e.to_string(),
            )
        })?;
    let out = client
        .execute_statement()
        .database(&t.database)
        .set_cluster_identifier(t.cluster_id.clone())
        .set_workgroup_name(t.workgroup.clone())
        .set_secret_arn(t.secret_arn.clone())
        .set_db_user(t.db_user.clone())
        .sql(sql)
        .set_parameters(Some(parameters).filter(|p| !p.is_empty()))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ExecuteStatement", &t.database, &e))?;
    out.id()
        .map(str::to_owned)
        .ok_or_else(|| err("ExecuteStatement", &t.database, "no statement id returned"))
}

/// Runs statements as one transaction; returns the batch's id.
pub async fn execute_batch(
    client: &Client,
    t: &Target,
    sqls: Vec<String>,
    name: &str,
) -> Result<String, AwsError> {
    let out = client
        .batch_execute_statement()
        .database(&t.database)
        .set_cluster_identifier(t.cluster_id.clone())
        .set_workgroup_name(t.workgroup.clone())
        .set_secret_arn(t.secret_arn.clone())
        .set_db_user(t.db_user.clone())
        .statement_name(name)
        .set_sqls(Some(sqls))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("BatchExecuteStatement", &t.database, &e))?;
    out.id().map(str::to_owned).ok_or_else(|| {
        err(
            "BatchExecuteStatement",
            &t.database,
            "no statement id returned",
        )
    })
}

/// Polls DescribeStatement with backoff (250 ms growing to 5 s) until the statement ends or `until` comes.
pub async fn poll(client: &Client, id: &str, until: Instant) -> Result<Poll, AwsError> {
    let mut wait = Duration::from_millis(250);
    loop {
        let d = client
            .describe_statement()
            .id(id)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DescribeStatement", id, &e))?;
        match d.status() {
            Some(StatusString::Finished) => return Ok(Poll::Finished),
            Some(s @ (StatusString::Failed | StatusString::Aborted)) => {
                let failed = d.sub_statements().iter().find(|s| s.error().is_some());
                return Ok(Poll::Failed {
                    status: s.as_str().to_owned(),
                    error: failed
                        .and_then(|f| f.error())
                        .or(d.error())
                        .unwrap_or("no error message")
                        .to_owned(),
                    statement: failed.and_then(|f| f.query_string()).map(str::to_owned),
                    query_id: failed.map(|f| f.redshift_query_id()).filter(|id| *id > 0),
                });
            }
            _ => {}
        }
        let now = Instant::now();
        if now + wait >= until {
            return Ok(Poll::Running);
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 3 / 2).min(Duration::from_secs(5));
    }
}

/// How long each part of a finished batch took, as Redshift reports it: `(copy_ms, rest_ms)`, the COPY statements
/// and every other statement of the transaction (stage, merge, ledger).
pub async fn durations(client: &Client, id: &str) -> Result<(u64, u64), AwsError> {
    let d = client
        .describe_statement()
        .id(id)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DescribeStatement", id, &e))?;
    let (mut copy, mut rest) = (0_i64, 0_i64);
    for sub in d.sub_statements() {
        let nanos = sub.duration().max(0);
        if sub.query_string().is_some_and(|q| q.starts_with("COPY ")) {
            copy += nanos;
        } else {
            rest += nanos;
        }
    }
    let ms = |nanos: i64| u64::try_from(nanos / 1_000_000).unwrap_or(0);
    Ok((ms(copy), ms(rest)))
}

/// The rows of a finished statement, every field as text (`None` for NULL).
pub async fn rows(client: &Client, id: &str) -> Result<Vec<Vec<Option<String>>>, AwsError> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = client
            .get_statement_result()
            .id(id)
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("GetStatementResult", id, &e))?;
        for record in page.records() {
            out.push(
                record
                    .iter()
                    .map(|f| match f {
                        Field::StringValue(s) => Some(s.clone()),
                        Field::LongValue(n) => Some(n.to_string()),
                        Field::DoubleValue(n) => Some(n.to_string()),
                        Field::BooleanValue(b) => Some(b.to_string()),
                        _ => None,
                    })
                    .collect(),
            );
        }
        token = page
            .next_token()
            .map(str::to_owned)
            .filter(|t| !t.is_empty());
        if token.is_none() {
            return Ok(out);
        }
    }
}
