//! `tributary schema show | check | push`: a dataset's schema versions in a registry directory, the offline twin
//! of the Glue Data Catalog that csv-to-parquet registers versions in under Lambda.

use crate::output::error;
use csv_to_parquet::Schema;
use csv_to_parquet::registry::compat::{self, Compatibility};
use csv_to_parquet::registry::local::LocalStore;
use csv_to_parquet::registry::{Policy, Proposal, RegistryError, Store, settle};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Exit code for a schema change the dataset's compatibility refuses.
pub const INCOMPATIBLE: u8 = 4;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Print a version (the newest by default) as JSON: the schema file format plus "version" and
    /// "compatibility".
    #[command(after_help = "Examples:
  tributary schema show --registry /tmp/tributary-registry --dataset order_lines_declared --version 1")]
    Show {
        #[command(flatten)]
        dataset: Dataset,
        /// The version to print [default: the newest].
        #[arg(long)]
        version: Option<u32>,
    },
    /// Check a schema file against the newest version: exit 0 if it may follow it, 4 with every reason if not.
    #[command(after_help = "Examples:
  tributary schema check --registry /tmp/tributary-registry --dataset order_lines_declared events/data/order_lines.schema.json

Exit codes: 0 compatible (or the dataset has no version yet), 4 incompatible, 1 error.")]
    Check {
        #[command(flatten)]
        dataset: Dataset,
        /// A schema file: {"columns": [{"name", "type", "nullable"}]}.
        file: PathBuf,
    },
    /// Register a schema file as the dataset's next version, if its compatibility allows; print the version.
    #[command(after_help = "Examples:
  tributary schema push --registry /tmp/tributary-registry --dataset order_lines_declared events/data/order_lines.schema.json

Exit codes: 0 registered (or already the newest version), 4 incompatible, 1 error.")]
    Push {
        #[command(flatten)]
        dataset: Dataset,
        /// A schema file: {"columns": [{"name", "type", "nullable"}]}.
        file: PathBuf,
        /// The compatibility mode of a dataset registered by this push (an existing one keeps its own).
        #[arg(long, default_value = "BACKWARD")]
        compatibility: Compatibility,
    },
}

/// Which dataset, in which registry.
#[derive(Debug, clap::Args)]
pub struct Dataset {
    /// The registry directory (one folder per dataset, one file per version).
    #[arg(long)]
    registry: PathBuf,
    /// The dataset's name: lowercase letters, digits, `_` and `-`.
    #[arg(long)]
    dataset: String,
}

pub fn run(command: &Command) -> ExitCode {
    match execute(command) {
        Ok(code) => code,
        Err(e) if e.is_incompatible() => {
            incompatible(&e);
            ExitCode::from(INCOMPATIBLE)
        }
        Err(e) => {
            error(&e);
            ExitCode::FAILURE
        }
    }
}

/// Prints a refusal with one reason per line.
pub fn incompatible(e: &RegistryError) {
    match e {
        RegistryError::Incompatible {
            dataset,
            mode,
            reasons,
        } => {
            error(&format_args!(
                "dataset {dataset:?}: the schema change is refused under {mode} compatibility:"
            ));
            for reason in reasons {
                eprintln!("  {reason}");
            }
        }
        other => error(other),
    }
}

fn read_schema(path: &Path) -> Result<Schema, RegistryError> {
    let bad = |message: String| RegistryError::Store {
        kind: tributary_shared::ErrorKind::InvalidInput,
        message,
    };
    let bytes =
        std::fs::read(path).map_err(|e| bad(format!("cannot read {}: {e}", path.display())))?;
    Schema::from_json(&bytes).map_err(|e| bad(format!("{}: {e}", path.display())))
}

fn print(json: &str) -> Result<ExitCode, RegistryError> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{json}").map_err(|e| RegistryError::Store {
        kind: tributary_shared::ErrorKind::Internal,
        message: format!("cannot write to stdout: {e}"),
    })?;
    Ok(ExitCode::SUCCESS)
}

fn execute(command: &Command) -> Result<ExitCode, RegistryError> {
    match command {
        Command::Show { dataset, version } => {
            let store = LocalStore::new(&dataset.registry);
            let found = match version {
                Some(n) => store.get(&dataset.dataset, *n)?,
                None => store.current(&dataset.dataset)?,
            };
            match found {
                Some(v) => print(&v.to_json()),
                None => {
                    error(&format_args!(
                        "dataset {:?} has {} in {}",
                        dataset.dataset,
                        version.map_or("no schema version".to_owned(), |n| format!(
                            "no version {n}"
                        )),
                        dataset.registry.display()
                    ));
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        Command::Check { dataset, file } => {
            let next = read_schema(file)?;
            let store = LocalStore::new(&dataset.registry);
            let Some(current) = store.current(&dataset.dataset)? else {
                return print(&format!(
                    "{{\"compatible\": true, \"dataset\": {:?}, \"next_version\": 1}}",
                    dataset.dataset
                ));
            };
            let reasons = compat::check(&current.schema(), &next, current.compatibility);
            if reasons.is_empty() {
                print(&format!(
                    "{{\"compatible\": true, \"dataset\": {:?}, \"version\": {}, \"mode\": \"{}\"}}",
                    dataset.dataset, current.version, current.compatibility
                ))
            } else {
                Err(RegistryError::Incompatible {
                    dataset: dataset.dataset.clone(),
                    mode: current.compatibility,
                    reasons,
                })
            }
        }
        Command::Push {
            dataset,
            file,
            compatibility,
        } => {
            let declared = read_schema(file)?;
            let store = LocalStore::new(&dataset.registry);
            let policy = Policy {
                compatibility: *compatibility,
                ..Policy::default()
            };
            let version = settle(
                &store,
                &dataset.dataset,
                Proposal::Declared(&declared),
                policy,
            )?;
            print(&version.to_json())
        }
    }
}
