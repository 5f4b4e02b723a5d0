//! The registry in the Glue Data Catalog, under Lambda: one table per dataset, whose columns are the current
//! version, so Athena can query `curated/<dataset>/` right after its first file.
//!
//! The table's parameters carry the version, the compatibility mode and the whole version document (columns with
//! their nullability, which Glue's columns do not hold); Glue's table versions are the history. Partition
//! projection over `year/month/day` with `storage.location.template` means no crawler and no partition
//! registration. Races are settled by Glue itself: CreateTable fails with `AlreadyExistsException` for the second
//! first file, and UpdateTable with the `VersionId` read before fails with `ConcurrentModificationException` when
//! another writer updated the table in between.

use super::{RegistryError, Store, Version, check_dataset};
use crate::schema::{CORRELATION_ID_COLUMN, ColumnType, INGESTED_AT_COLUMN, SOURCE_KEY_COLUMN};
use aws_sdk_glue::Client;
use aws_sdk_glue::error::ProvideErrorMetadata;
use aws_sdk_glue::types::{Column as GlueColumn, SerDeInfo, StorageDescriptor, Table, TableInput};
use std::collections::HashMap;
use tokio::runtime::Handle;
use tributary_shared::aws::AwsError;

/// Table parameters this registry writes.
pub const VERSION_PARAM: &str = "tributary.schema_version";
pub const COMPATIBILITY_PARAM: &str = "tributary.compatibility";
pub const SCHEMA_PARAM: &str = "tributary.schema";
/// The dataset the table belongs to: `a-b` and `a_b` would name one table.
pub const DATASET_PARAM: &str = "tributary.dataset";

/// A Glue database holding one table per dataset.
#[derive(Debug, Clone)]
pub struct GlueStore {
    client: Client,
    database: String,
    /// Where each dataset's curated files are: `s3://<bucket>/<curated prefix>`.
    curated_url: String,
    /// The runtime the blocking registry calls are bridged to (the converter runs on a blocking thread).
    runtime: Handle,
}

impl GlueStore {
    pub fn new(
        client: Client,
        database: &str,
        bucket: &str,
        curated_prefix: &str,
        runtime: Handle,
    ) -> Self {
        Self {
            client,
            database: database.to_owned(),
            curated_url: format!("s3://{bucket}/{curated_prefix}"),
            runtime,
        }
    }

    fn store_error(&self, e: AwsError) -> RegistryError {
        RegistryError::Store {
            kind: e.kind,
            message: e.to_string(),
        }
    }

    fn target(&self, dataset: &str) -> String {
        format!("{}.{}", self.database, table_name(dataset))
    }

    fn read_table(&self, dataset: &str) -> Result<Option<Table>, RegistryError> {
        let name = table_name(dataset);
        let out = self.runtime.block_on(
            self.client
                .get_table()
                .database_name(&self.database)
                .name(&name)
                .send(),
        );
        match out {
            Ok(out) => Ok(out.table),
            Err(e) if e.code() == Some("EntityNotFoundException") => Ok(None),
            Err(e) => Err(self.store_error(glue_error("GetTable", self.target(dataset), &e))),
        }
    }

    fn version_of(
        dataset: &str,
        parameters: Option<&HashMap<String, String>>,
    ) -> Result<Version, RegistryError> {
        let corrupt = |reason: String| RegistryError::Corrupt {
            dataset: dataset.to_owned(),
            version: 0,
            reason,
        };
        let doc = parameters
            .and_then(|p| p.get(SCHEMA_PARAM))
            .ok_or_else(|| {
                corrupt(format!(
                    "the table has no {SCHEMA_PARAM} parameter (not registered by Tributary?)"
                ))
            })?;
        Version::from_json(doc.as_bytes()).map_err(corrupt)
    }

    /// The table for `version`: Athena reads the curated Parquet files through it.
    pub fn table_input(&self, dataset: &str, version: &Version) -> TableInput {
        let location = format!("{}{dataset}/", self.curated_url);
        let mut columns: Vec<GlueColumn> = version
            .columns
            .iter()
            .map(|c| glue_column(&c.name, c.column_type, &format!("nullable: {}", c.nullable)))
            .collect();
        columns.push(glue_column(
            SOURCE_KEY_COLUMN,
            ColumnType::String,
            "lineage: the source object",
        ));
        columns.push(glue_column(
            INGESTED_AT_COLUMN,
            ColumnType::Timestamp,
            "lineage: when the row was converted",
        ));
        columns.push(glue_column(
            CORRELATION_ID_COLUMN,
            ColumnType::String,
            "lineage: the conversion's correlation id (state machine execution, event or request)",
        ));
        let partition = |name: &str| {
            GlueColumn::builder()
                .name(name)
                .r#type("string")
                .build()
                .ok()
        };
        let parameters: HashMap<String, String> = [
            ("classification", "parquet".to_owned()),
            ("EXTERNAL", "TRUE".to_owned()),
            ("projection.enabled", "true".to_owned()),
            ("projection.year.type", "integer".to_owned()),
            ("projection.year.range", "2000,2100".to_owned()),
            ("projection.month.type", "integer".to_owned()),
            ("projection.month.range", "1,12".to_owned()),
            ("projection.month.digits", "2".to_owned()),
            ("projection.day.type", "integer".to_owned()),
            ("projection.day.range", "1,31".to_owned()),
            ("projection.day.digits", "2".to_owned()),
            (
                "storage.location.template",
                format!("{location}year=${{year}}/month=${{month}}/day=${{day}}/"),
            ),
            (VERSION_PARAM, version.version.to_string()),
            (COMPATIBILITY_PARAM, version.compatibility.to_string()),
            (DATASET_PARAM, dataset.to_owned()),
            (
                SCHEMA_PARAM,
                serde_json::to_string(version).unwrap_or_default(),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let storage = StorageDescriptor::builder()
            .set_columns(Some(columns))
            .location(location)
            .input_format("org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat")
            .output_format("org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat")
            .serde_info(
                SerDeInfo::builder()
                    .serialization_library(
                        "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
                    )
                    .build(),
            )
            .build();
        TableInput::builder()
            .name(table_name(dataset))
            .description(format!(
                "Tributary dataset {dataset}: curated Parquet, schema version {}",
                version.version
            ))
            .table_type("EXTERNAL_TABLE")
            .set_partition_keys(Some(
                ["year", "month", "day"]
                    .into_iter()
                    .filter_map(partition)
                    .collect(),
            ))
            .storage_descriptor(storage)
            .set_parameters(Some(parameters))
            .build()
            .expect("the table input has its name")
    }
}

/// Whether Glue refused a create or update because another writer got there first.
fn lost_race(code: Option<&str>) -> bool {
    matches!(
        code,
        Some("AlreadyExistsException" | "ConcurrentModificationException")
    )
}

/// An SDK error classified, with Glue's own timeout (sent as HTTP 400) as the retryable `Timeout` it is.
fn glue_error<E>(
    operation: &'static str,
    target: String,
    e: &aws_sdk_glue::error::SdkError<E, aws_sdk_glue::config::http::HttpResponse>,
) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let mut error = AwsError::from_sdk(operation, target, e);
    if e.code() == Some("OperationTimeoutException") {
        error.kind = tributary_shared::ErrorKind::Timeout;
    }
    error
}

/// A dataset's table: Athena's names take `_`, not `-`.
pub fn table_name(dataset: &str) -> String {
    dataset.replace('-', "_")
}

/// A column in Glue's (Hive's) type names.
fn glue_column(name: &str, t: ColumnType, comment: &str) -> GlueColumn {
    let glue_type = match t {
        ColumnType::String => "string".to_owned(),
        ColumnType::Int64 => "bigint".to_owned(),
        ColumnType::Float64 => "double".to_owned(),
        ColumnType::Bool => "boolean".to_owned(),
        ColumnType::Date => "date".to_owned(),
        ColumnType::Timestamp => "timestamp".to_owned(),
        ColumnType::Decimal { precision, scale } => format!("decimal({precision},{scale})"),
    };
    GlueColumn::builder()
        .name(name.to_ascii_lowercase())
        .r#type(glue_type)
        .comment(comment)
        .build()
        .expect("the column has its name")
}

impl Store for GlueStore {
    fn current(&self, dataset: &str) -> Result<Option<Version>, RegistryError> {
        check_dataset(dataset)?;
        let Some(table) = self.read_table(dataset)? else {
            return Ok(None);
        };
        let owner = table.parameters().and_then(|p| p.get(DATASET_PARAM));
        if let Some(owner) = owner.filter(|owner| owner.as_str() != dataset) {
            return Err(RegistryError::Clash {
                dataset: dataset.to_owned(),
                owner: owner.clone(),
                table: self.target(dataset),
            });
        }
        let mut version = Self::version_of(dataset, table.parameters())?;
        version.token = table.version_id;
        Ok(Some(version))
    }

    fn get(&self, dataset: &str, version: u32) -> Result<Option<Version>, RegistryError> {
        check_dataset(dataset)?;
        let mut pages = self
            .client
            .get_table_versions()
            .database_name(&self.database)
            .table_name(table_name(dataset))
            .into_paginator()
            .send();
        while let Some(page) = self.runtime.block_on(pages.next()) {
            let page = match page {
                Ok(page) => page,
                Err(e) if e.code() == Some("EntityNotFoundException") => return Ok(None),
                Err(e) => {
                    return Err(self.store_error(glue_error(
                        "GetTableVersions",
                        self.target(dataset),
                        &e,
                    )));
                }
            };
            for v in page.table_versions() {
                let params = v.table().and_then(|t| t.parameters());
                if params
                    .and_then(|p| p.get(VERSION_PARAM))
                    .map(String::as_str)
                    == Some(&version.to_string())
                {
                    return Self::version_of(dataset, params).map(Some);
                }
            }
        }
        Ok(None)
    }

    fn create(
        &self,
        dataset: &str,
        base: Option<&Version>,
        next: &Version,
    ) -> Result<bool, RegistryError> {
        check_dataset(dataset)?;
        let input = self.table_input(dataset, next);
        match base {
            None => {
                let out = self.runtime.block_on(
                    self.client
                        .create_table()
                        .database_name(&self.database)
                        .table_input(input)
                        .send(),
                );
                match out {
                    Ok(_) => Ok(true),
                    Err(e) if lost_race(e.code()) => Ok(false),
                    Err(e) => {
                        Err(self.store_error(glue_error("CreateTable", self.target(dataset), &e)))
                    }
                }
            }
            Some(base) => {
                // Without the version read, an update could overwrite a concurrent one: never unconditional.
                let Some(token) = base.token.clone() else {
                    return Err(RegistryError::Store {
                        kind: tributary_shared::ErrorKind::Internal,
                        message: format!(
                            "{}: no table VersionId to update against",
                            self.target(dataset)
                        ),
                    });
                };
                let out = self.runtime.block_on(
                    self.client
                        .update_table()
                        .database_name(&self.database)
                        .table_input(input)
                        .version_id(token)
                        .send(),
                );
                match out {
                    Ok(_) => Ok(true),
                    Err(e) if lost_race(e.code()) => Ok(false),
                    Err(e) => {
                        Err(self.store_error(glue_error("UpdateTable", self.target(dataset), &e)))
                    }
                }
            }
        }
    }
}
