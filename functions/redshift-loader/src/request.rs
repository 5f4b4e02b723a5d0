//! The task input: what to load, where, and how. Accepts an explicit file list, an S3 prefix, or the
//! csv-to-parquet summary passed straight through by the state machine.

use crate::sql::{Mode, SqlError, TableName};
use serde::Deserialize;

/// An `s3://bucket/key` location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Url {
    pub bucket: String,
    pub key: String,
}

impl S3Url {
    pub fn parse(url: &str) -> Result<Self, RequestError> {
        let rest = url
            .strip_prefix("s3://")
            .ok_or_else(|| RequestError::BadUrl(url.to_owned()))?;
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(RequestError::BadUrl(url.to_owned()));
        }
        Ok(Self {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
        })
    }
}

impl std::fmt::Display for S3Url {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)
    }
}

/// Which files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Files {
    List(Vec<S3Url>),
    /// Every `.parquet` object under the prefix.
    Prefix(S3Url),
}

/// A checked load request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadRequest {
    pub table: TableName,
    pub mode: Mode,
    pub files: Files,
    /// Set when the state machine polls a load that was still running.
    pub statement_id: Option<String>,
    pub load_id: Option<String>,
}

/// Why a request cannot be run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error(transparent)]
    Sql(#[from] SqlError),
    #[error("{0:?} is not an s3://bucket/key URL")]
    BadUrl(String),
    #[error("no table: give \"table\" or set TARGET_TABLE")]
    NoTable,
    #[error(
        "nothing to load: give \"files\", \"prefix\", or a csv-to-parquet summary with \"output_key\""
    )]
    NoFiles,
    #[error("input is not a load request: {0}")]
    Json(String),
}

impl tributary_shared::Classify for RequestError {
    fn kind(&self) -> tributary_shared::ErrorKind {
        tributary_shared::ErrorKind::InvalidEvent
    }
}

#[derive(Debug, Deserialize)]
struct Raw {
    table: Option<String>,
    files: Option<Vec<String>>,
    prefix: Option<String>,
    mode: Option<String>,
    #[serde(default)]
    merge_keys: Vec<String>,
    statement_id: Option<String>,
    load_id: Option<String>,
    // The csv-to-parquet summary.
    output_key: Option<String>,
    output_bucket: Option<String>,
    bucket: Option<String>,
}

/// Defaults from the function's configuration.
#[derive(Debug, Clone, Default)]
pub struct Defaults {
    /// `TARGET_TABLE`; `{dataset}` is replaced by the dataset of a curated key (`curated/<dataset>/...`).
    pub table: Option<String>,
    pub mode: Option<String>,
    pub merge_keys: Vec<String>,
}

/// Reads a request. Returns `Ok(None)` for a csv-to-parquet summary that has no output (an ignored object).
pub fn parse(
    input: &serde_json::Value,
    defaults: &Defaults,
) -> Result<Option<LoadRequest>, RequestError> {
    let raw: Raw =
        serde_json::from_value(input.clone()).map_err(|e| RequestError::Json(e.to_string()))?;
    let files = match (&raw.files, &raw.prefix, &raw.output_key) {
        (Some(list), _, _) if !list.is_empty() => Files::List(
            list.iter()
                .map(|u| S3Url::parse(u))
                .collect::<Result<_, _>>()?,
        ),
        (_, Some(prefix), _) => Files::Prefix(S3Url::parse(prefix)?),
        (_, _, Some(key)) => {
            let bucket = raw
                .output_bucket
                .clone()
                .or_else(|| raw.bucket.clone())
                .ok_or(RequestError::NoFiles)?;
            Files::List(vec![S3Url {
                bucket,
                key: key.clone(),
            }])
        }
        _ if raw.statement_id.is_some() => Files::List(Vec::new()),
        _ if input.get("status").is_some() => return Ok(None),
        _ => return Err(RequestError::NoFiles),
    };
    let dataset = match &files {
        Files::List(l) => l.first().and_then(|u| dataset_of(&u.key)),
        Files::Prefix(p) => dataset_of(&p.key),
    };
    let table = raw
        .table
        .or_else(|| defaults.table.clone())
        .ok_or(RequestError::NoTable)?;
    let table = table.replace("{dataset}", dataset.as_deref().unwrap_or("{dataset}"));
    let merge_keys = if raw.merge_keys.is_empty() {
        defaults.merge_keys.clone()
    } else {
        raw.merge_keys
    };
    Ok(Some(LoadRequest {
        table: TableName::parse(&table)?,
        mode: Mode::parse(
            raw.mode.as_deref().or(defaults.mode.as_deref()),
            &merge_keys,
        )?,
        files,
        statement_id: raw.statement_id,
        load_id: raw.load_id,
    }))
}

/// `curated/orders/year=…/x.parquet` → `orders`.
fn dataset_of(key: &str) -> Option<String> {
    let mut parts = key.split('/');
    parts.next()?;
    parts
        .next()
        .filter(|d| !d.is_empty() && !d.contains('='))
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_file_lists_prefixes_and_modes() {
        let r = parse(&json!({"table": "analytics.order_lines", "files": ["s3://b/curated/orders/a.parquet"], "mode": "merge", "merge_keys": ["order_id", "line_no"]}), &Defaults::default())
            .expect("valid")
            .expect("a request");
        assert_eq!(r.table.plain(), "analytics.order_lines");
        assert_eq!(r.mode.name(), "merge");
        assert_eq!(
            r.files,
            Files::List(vec![S3Url {
                bucket: "b".into(),
                key: "curated/orders/a.parquet".into()
            }])
        );
        let p = parse(
            &json!({"table": "t", "prefix": "s3://b/curated/orders/year=2026/month=11/"}),
            &Defaults::default(),
        )
        .expect("valid")
        .expect("request");
        assert_eq!(
            p.files,
            Files::Prefix(S3Url {
                bucket: "b".into(),
                key: "curated/orders/year=2026/month=11/".into()
            })
        );
        assert_eq!(p.mode, Mode::Append);
    }

    /// csv-to-parquet's response, built and serialized with its own type: the contract between the two.
    fn summary(
        status: csv_to_parquet::outcome::Status,
        output_key: Option<&str>,
    ) -> serde_json::Value {
        let mut outcome = csv_to_parquet::outcome::Outcome::new(
            status,
            "raw-bucket",
            "raw/orders/x.csv",
            None,
            "b",
        );
        outcome.output_key = output_key.map(str::to_owned);
        serde_json::to_value(outcome).expect("serializes")
    }

    #[test]
    fn accepts_the_csv_to_parquet_summary_with_a_table_template() {
        use csv_to_parquet::outcome::Status;
        let summary_of = summary;
        let summary = summary_of(
            Status::Converted,
            Some("curated/orders/year=2026/month=11/day=21/x.parquet"),
        );
        let defaults = Defaults {
            table: Some("analytics.{dataset}".into()),
            mode: Some("merge".into()),
            merge_keys: vec!["order_id".into()],
        };
        let r = parse(&summary, &defaults).expect("valid").expect("request");
        assert_eq!(r.table.plain(), "analytics.orders");
        assert_eq!(
            r.files,
            Files::List(vec![S3Url {
                bucket: "b".into(),
                key: "curated/orders/year=2026/month=11/day=21/x.parquet".into()
            }])
        );
        assert_eq!(
            parse(&summary_of(Status::Ignored, None), &defaults),
            Ok(None),
            "an ignored object has nothing to load"
        );
    }

    #[test]
    fn refuses_bad_input_clearly() {
        let d = Defaults::default();
        assert!(matches!(
            parse(
                &json!({"table": "x; drop table y", "files": ["s3://b/k"]}),
                &d
            ),
            Err(RequestError::Sql(_))
        ));
        assert_eq!(
            parse(&json!({"files": ["s3://b/k"]}), &d),
            Err(RequestError::NoTable)
        );
        assert_eq!(
            parse(&json!({"table": "t"}), &d),
            Err(RequestError::NoFiles)
        );
        assert_eq!(
            parse(&json!({"table": "t", "files": ["http://x"]}), &d),
            Err(RequestError::BadUrl("http://x".into()))
        );
    }

    #[test]
    fn a_poll_carries_only_the_statement() {
        let r = parse(
            &json!({"table": "t", "statement_id": "abc"}),
            &Defaults::default(),
        )
        .expect("valid")
        .expect("request");
        assert_eq!(r.statement_id.as_deref(), Some("abc"));
    }
}
