//! Datasets, not files: each dataset has one schema, versioned, and every file is typed by it.
//!
//! The first file of a dataset registers its schema as version 1 (declared in `schemas/<dataset>.json`, else
//! inferred). A later file is typed by the registered version, never re-inferred. A file with columns the version
//! lacks registers the next version with them added as nullable (`SCHEMA_EVOLUTION=add-columns`), and a changed
//! declaration registers itself; either only when [`compat::check`] allows it under the dataset's mode. Versions
//! live in a [`Store`]: a directory for the CLI ([`local`]), the Glue Data Catalog under Lambda. Writers race
//! safely: a store creates a version only if nobody has, and the loser settles again against the winner's.

pub mod compat;
#[cfg(feature = "lambda")]
pub mod glue;
pub mod local;

use crate::schema::{Column, Schema, SchemaError};
use compat::{Compatibility, Incompatibility};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use tributary_shared::ErrorKind;

/// One registered version of a dataset's schema: the `schemas/<dataset>.json` format plus the version number and
/// the dataset's compatibility mode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Version {
    pub version: u32,
    #[serde(default)]
    pub compatibility: Compatibility,
    pub columns: Vec<Column>,
    /// The store's own token for this version (Glue's table `VersionId`), for a conditional update.
    #[serde(skip)]
    pub token: Option<String>,
}

impl Version {
    pub fn schema(&self) -> Schema {
        Schema {
            columns: self.columns.clone(),
        }
    }

    /// Parses a stored version and checks its schema.
    pub fn from_json(bytes: &[u8]) -> Result<Self, String> {
        let v: Version = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        v.schema().check().map_err(|e: SchemaError| e.to_string())?;
        Ok(v)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

/// What a file with columns the registered version lacks does (`SCHEMA_EVOLUTION`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Evolution {
    /// Register the next version with the new columns, nullable.
    #[default]
    AddColumns,
    /// Refuse the file.
    None,
}

impl FromStr for Evolution {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "add-columns" => Ok(Self::AddColumns),
            "none" => Ok(Self::None),
            _ => Err(format!(
                "unknown schema evolution {s:?} (expected add-columns or none)"
            )),
        }
    }
}

/// How a dataset's schema may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Policy {
    /// The mode a new dataset is registered with; an existing dataset keeps its own.
    pub compatibility: Compatibility,
    pub evolution: Evolution,
}

/// Why a schema could not be settled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    #[error(
        "dataset {dataset:?}: the schema change is refused under {mode} compatibility: {}",
        join(reasons)
    )]
    Incompatible {
        dataset: String,
        mode: Compatibility,
        reasons: Vec<Incompatibility>,
    },
    #[error(
        "dataset {dataset:?}: the file has columns version {version} does not ({}), and schema evolution is none",
        columns.join(", ")
    )]
    NewColumns {
        dataset: String,
        version: u32,
        columns: Vec<String>,
    },
    #[error(
        "dataset {dataset:?}: the file shares no column with version {version} (its header: {}); a wrong delimiter or \
         the wrong dataset's folder?",
        header.join(", ")
    )]
    Disjoint {
        dataset: String,
        version: u32,
        header: Vec<String>,
    },
    #[error(
        "dataset {dataset:?}: its table {table} belongs to dataset {owner:?} (names that differ only in - and _ share \
         one table); rename one folder"
    )]
    Clash {
        dataset: String,
        owner: String,
        table: String,
    },
    #[error("dataset name {0:?} cannot name a table: use lowercase letters, digits, _ and -")]
    BadDataset(String),
    #[error("dataset {dataset:?}: registered version {version} is unusable: {reason}")]
    Corrupt {
        dataset: String,
        version: u32,
        reason: String,
    },
    /// The store could not be reached or refused the request; `kind` says whether a retry can help.
    #[error("schema registry ({kind}): {message}")]
    Store { kind: ErrorKind, message: String },
    #[error(
        "dataset {0:?}: the schema kept changing under this file ({MAX_RACES} concurrent registrations)"
    )]
    Contended(String),
}

impl RegistryError {
    /// Whether the schema itself is at fault (a change the dataset's rules refuse), not the store.
    pub fn is_incompatible(&self) -> bool {
        matches!(
            self,
            Self::Incompatible { .. } | Self::NewColumns { .. } | Self::Disjoint { .. }
        )
    }

    /// The error's class: an incompatible change is `SchemaIncompatible`; a store's failure keeps its own.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Incompatible { .. } | Self::NewColumns { .. } | Self::Disjoint { .. } => {
                ErrorKind::SchemaIncompatible
            }
            Self::BadDataset(_) | Self::Clash { .. } => ErrorKind::InvalidInput,
            Self::Corrupt { .. } => ErrorKind::Internal,
            Self::Store { kind, .. } => *kind,
            Self::Contended(_) => ErrorKind::Conflict,
        }
    }
}

fn join(reasons: &[Incompatibility]) -> String {
    reasons
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Where versions are kept. Both calls are blocking; a store used under Lambda bridges to its runtime.
pub trait Store: Send + Sync {
    /// The dataset's newest version, if it has one.
    fn current(&self, dataset: &str) -> Result<Option<Version>, RegistryError>;
    /// A given version, if registered.
    fn get(&self, dataset: &str, version: u32) -> Result<Option<Version>, RegistryError>;
    /// Registers `next`, whose number follows `base` (or is 1 without one), unless another writer registered that
    /// number first: then `Ok(false)`, and nothing is written.
    fn create(
        &self,
        dataset: &str,
        base: Option<&Version>,
        next: &Version,
    ) -> Result<bool, RegistryError>;
}

/// A conversion's link to its dataset's registry.
#[derive(Clone)]
pub struct Registration {
    pub dataset: String,
    pub store: Arc<dyn Store>,
    pub policy: Policy,
}

impl fmt::Debug for Registration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registration")
            .field("dataset", &self.dataset)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// What a file brings to its dataset's registry.
#[derive(Debug, Clone, Copy)]
pub enum Proposal<'a> {
    /// The file's own columns, typed by inference.
    Observed(&'a Schema),
    /// The dataset's declared schema (`schemas/<dataset>.json`).
    Declared(&'a Schema),
}

/// How many times a file settles again after losing a registration race.
pub const MAX_RACES: usize = 16;

/// Dataset names become Glue table names and directory names: lowercase ASCII letters, digits, `_` and `-`.
pub fn check_dataset(dataset: &str) -> Result<(), RegistryError> {
    let ok = !dataset.is_empty()
        && dataset.len() <= 200
        && dataset
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(RegistryError::BadDataset(dataset.to_owned()))
    }
}

/// The version a file is typed by: the current one when the file fits it, else a newly registered one (the first,
/// an evolution, or a changed declaration), else the reasons it may not be registered.
pub fn settle(
    store: &dyn Store,
    dataset: &str,
    proposal: Proposal<'_>,
    policy: Policy,
) -> Result<Version, RegistryError> {
    settle_reporting(store, dataset, proposal, policy).map(|(version, _)| version)
}

/// [`settle`], and whether this call registered the version (for the `SchemaVersionsRegistered` metric).
pub fn settle_reporting(
    store: &dyn Store,
    dataset: &str,
    proposal: Proposal<'_>,
    policy: Policy,
) -> Result<(Version, bool), RegistryError> {
    check_dataset(dataset)?;
    for _ in 0..MAX_RACES {
        let current = store.current(dataset)?;
        let columns = match (&current, proposal) {
            (None, Proposal::Observed(s) | Proposal::Declared(s)) => s.columns.clone(),
            (Some(cur), Proposal::Observed(file)) => {
                let known = |name: &str| {
                    cur.columns
                        .iter()
                        .any(|c| c.name == name || c.name.eq_ignore_ascii_case(name))
                };
                let added: Vec<Column> = file
                    .columns
                    .iter()
                    .filter(|c| !known(&c.name))
                    .map(|c| Column {
                        nullable: true,
                        ..c.clone()
                    })
                    .collect();
                if added.is_empty() {
                    return Ok((cur.clone(), false));
                }
                // Evolution adds columns to a dataset's; a file with none of them is not this dataset's shape
                // (a `;` export read as one column, a file in the wrong folder), and would land as all nulls.
                if added.len() == file.columns.len() {
                    return Err(RegistryError::Disjoint {
                        dataset: dataset.to_owned(),
                        version: cur.version,
                        header: file.columns.iter().map(|c| c.name.clone()).collect(),
                    });
                }
                if policy.evolution == Evolution::None {
                    return Err(RegistryError::NewColumns {
                        dataset: dataset.to_owned(),
                        version: cur.version,
                        columns: added.into_iter().map(|c| c.name).collect(),
                    });
                }
                cur.columns.iter().cloned().chain(added).collect()
            }
            (Some(cur), Proposal::Declared(declared)) => {
                if declared.columns == cur.columns {
                    return Ok((cur.clone(), false));
                }
                declared.columns.clone()
            }
        };
        let mode = current
            .as_ref()
            .map_or(policy.compatibility, |c| c.compatibility);
        let next = Version {
            version: current.as_ref().map_or(1, |c| c.version + 1),
            compatibility: mode,
            columns,
            token: None,
        };
        if let Some(cur) = &current {
            let reasons = compat::check(&cur.schema(), &next.schema(), mode);
            if !reasons.is_empty() {
                return Err(RegistryError::Incompatible {
                    dataset: dataset.to_owned(),
                    mode,
                    reasons,
                });
            }
        }
        if store.create(dataset, current.as_ref(), &next)? {
            tracing::info!(
                dataset,
                version = next.version,
                "registered a new schema version"
            );
            return Ok((next, true));
        }
        tracing::info!(
            dataset,
            version = next.version,
            "another writer registered this version first; settling again"
        );
    }
    Err(RegistryError::Contended(dataset.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::ColumnType;
    use std::sync::Mutex;

    /// Versions in memory, with an optional rival that registers a version just before this writer's next create.
    #[derive(Default)]
    struct Memory {
        versions: Mutex<Vec<Version>>,
        rival: Mutex<Option<Version>>,
    }

    impl Store for Memory {
        fn current(&self, _: &str) -> Result<Option<Version>, RegistryError> {
            Ok(self.versions.lock().expect("lock").last().cloned())
        }
        fn get(&self, _: &str, version: u32) -> Result<Option<Version>, RegistryError> {
            let versions = self.versions.lock().expect("lock");
            Ok(versions.iter().find(|v| v.version == version).cloned())
        }
        fn create(
            &self,
            _: &str,
            _: Option<&Version>,
            next: &Version,
        ) -> Result<bool, RegistryError> {
            let mut versions = self.versions.lock().expect("lock");
            if let Some(rival) = self.rival.lock().expect("lock").take() {
                versions.push(rival);
            }
            if versions.iter().any(|v| v.version == next.version) {
                return Ok(false);
            }
            versions.push(next.clone());
            Ok(true)
        }
    }

    fn col(name: &str, t: ColumnType, nullable: bool) -> Column {
        Column {
            name: name.into(),
            column_type: t,
            nullable,
        }
    }

    fn schema(columns: Vec<Column>) -> Schema {
        Schema { columns }
    }

    #[test]
    fn the_first_file_registers_version_1_and_a_later_one_that_fits_reuses_it() {
        let store = Memory::default();
        let file = schema(vec![col("order_id", ColumnType::Int64, true)]);
        let v1 = settle(
            &store,
            "orders",
            Proposal::Observed(&file),
            Policy::default(),
        )
        .expect("v1");
        assert_eq!((v1.version, v1.compatibility), (1, Compatibility::Backward));
        // Typed as string in this file: it still fits, since the file is typed by the registered version.
        let again = schema(vec![col("ORDER_ID", ColumnType::String, true)]);
        let v = settle(
            &store,
            "orders",
            Proposal::Observed(&again),
            Policy::default(),
        )
        .expect("fits");
        assert_eq!(v.version, 1);
        assert_eq!(store.versions.lock().expect("lock").len(), 1);
    }

    #[test]
    fn new_columns_register_the_next_version_as_nullable_or_are_refused_without_evolution() {
        let store = Memory::default();
        let first = schema(vec![col("id", ColumnType::Int64, false)]);
        settle(
            &store,
            "orders",
            Proposal::Declared(&first),
            Policy::default(),
        )
        .expect("v1");
        let wider = schema(vec![
            col("id", ColumnType::Int64, true),
            col("channel", ColumnType::String, false),
        ]);
        let refused = settle(
            &store,
            "orders",
            Proposal::Observed(&wider),
            Policy {
                evolution: Evolution::None,
                ..Policy::default()
            },
        );
        assert!(
            matches!(refused, Err(RegistryError::NewColumns { ref columns, .. }) if columns == &["channel"])
        );
        let v2 = settle(
            &store,
            "orders",
            Proposal::Observed(&wider),
            Policy::default(),
        )
        .expect("v2");
        assert_eq!(v2.version, 2);
        assert_eq!(
            v2.columns,
            vec![
                col("id", ColumnType::Int64, false),
                col("channel", ColumnType::String, true)
            ]
        );
    }

    #[test]
    fn a_changed_declaration_is_checked_against_the_current_version() {
        let store = Memory::default();
        let first = schema(vec![col("qty", ColumnType::Int64, false)]);
        settle(&store, "d", Proposal::Declared(&first), Policy::default()).expect("v1");
        let narrowed = schema(vec![col("qty", ColumnType::String, false)]);
        match settle(
            &store,
            "d",
            Proposal::Declared(&narrowed),
            Policy::default(),
        ) {
            Err(RegistryError::Incompatible { reasons, mode, .. }) => {
                assert_eq!(mode, Compatibility::Backward);
                assert_eq!(reasons.len(), 1);
                assert_eq!(reasons[0].column, "qty");
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        let relaxed = schema(vec![col("qty", ColumnType::Int64, true)]);
        let v2 = settle(&store, "d", Proposal::Declared(&relaxed), Policy::default()).expect("v2");
        assert_eq!(v2.version, 2);
    }

    #[test]
    fn a_writer_that_loses_a_race_keeps_the_winners_columns_and_adds_its_own() {
        let store = Memory::default();
        let first = schema(vec![col("id", ColumnType::Int64, false)]);
        settle(&store, "d", Proposal::Declared(&first), Policy::default()).expect("v1");
        *store.rival.lock().expect("lock") = Some(Version {
            version: 2,
            compatibility: Compatibility::Backward,
            columns: vec![
                col("id", ColumnType::Int64, false),
                col("x", ColumnType::Float64, true),
            ],
            token: None,
        });
        let mine = schema(vec![
            col("id", ColumnType::Int64, true),
            col("y", ColumnType::Bool, true),
        ]);
        let v = settle(&store, "d", Proposal::Observed(&mine), Policy::default()).expect("v3");
        assert_eq!(v.version, 3);
        let names: Vec<&str> = v.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["id", "x", "y"]);
    }

    #[test]
    fn a_file_sharing_no_column_with_the_dataset_is_refused_not_evolved() {
        let store = Memory::default();
        let first = schema(vec![
            col("order_id", ColumnType::Int64, true),
            col("qty", ColumnType::Int64, true),
        ]);
        settle(&store, "d", Proposal::Observed(&first), Policy::default()).expect("v1");
        let semicolons = schema(vec![col("order_id;qty", ColumnType::String, true)]);
        let refused = settle(
            &store,
            "d",
            Proposal::Observed(&semicolons),
            Policy::default(),
        );
        assert!(
            matches!(refused, Err(RegistryError::Disjoint { version: 1, .. })),
            "{refused:?}"
        );
        assert_eq!(
            store.versions.lock().expect("lock").len(),
            1,
            "nothing registered"
        );
    }

    #[test]
    fn dataset_names_must_be_able_to_name_a_table() {
        assert!(check_dataset("order_lines-2").is_ok());
        for bad in ["", "Orders", "a/b", "a b", "ü"] {
            assert_eq!(
                check_dataset(bad),
                Err(RegistryError::BadDataset(bad.into()))
            );
        }
    }
}
