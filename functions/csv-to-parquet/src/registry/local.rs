//! The registry as a directory, for the CLI: `<dir>/<dataset>/v000001.json`, one file per version.
//!
//! A version is written to a temporary file and then hard-linked to its name, which fails if the name exists: a
//! version appears whole or not at all, and of two writers of the same number exactly one wins.

use super::{RegistryError, Store, Version, check_dataset};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// A registry directory.
#[derive(Debug, Clone)]
pub struct LocalStore {
    dir: PathBuf,
}

impl LocalStore {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    fn dataset_dir(&self, dataset: &str) -> Result<PathBuf, RegistryError> {
        check_dataset(dataset)?;
        Ok(self.dir.join(dataset))
    }

    fn path(dir: &Path, version: u32) -> PathBuf {
        dir.join(format!("v{version:06}.json"))
    }

    fn read(dataset: &str, path: &Path, version: u32) -> Result<Option<Version>, RegistryError> {
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(store_error(path, &e)),
        };
        let corrupt = |reason: String| RegistryError::Corrupt {
            dataset: dataset.to_owned(),
            version,
            reason,
        };
        let v = Version::from_json(&bytes).map_err(corrupt)?;
        if v.version != version {
            return Err(corrupt(format!(
                "{} says version {}",
                path.display(),
                v.version
            )));
        }
        Ok(Some(v))
    }
}

fn store_error(path: &Path, e: &io::Error) -> RegistryError {
    RegistryError::Store {
        kind: tributary_shared::ErrorKind::ServiceUnavailable,
        message: format!("{}: {e}", path.display()),
    }
}

impl Store for LocalStore {
    fn current(&self, dataset: &str) -> Result<Option<Version>, RegistryError> {
        let dir = self.dataset_dir(dataset)?;
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(store_error(&dir, &e)),
        };
        let newest = entries
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter_map(|name| name.strip_prefix('v')?.strip_suffix(".json")?.parse().ok())
            .max();
        match newest {
            Some(version) => Self::read(dataset, &Self::path(&dir, version), version),
            None => Ok(None),
        }
    }

    fn get(&self, dataset: &str, version: u32) -> Result<Option<Version>, RegistryError> {
        let dir = self.dataset_dir(dataset)?;
        Self::read(dataset, &Self::path(&dir, version), version)
    }

    fn create(
        &self,
        dataset: &str,
        _base: Option<&Version>,
        next: &Version,
    ) -> Result<bool, RegistryError> {
        let dir = self.dataset_dir(dataset)?;
        std::fs::create_dir_all(&dir).map_err(|e| store_error(&dir, &e))?;
        let mut tmp = tempfile::Builder::new()
            .prefix(".incoming-")
            .tempfile_in(&dir)
            .map_err(|e| store_error(&dir, &e))?;
        tmp.write_all(next.to_json().as_bytes())
            .and_then(|()| tmp.write_all(b"\n"))
            .and_then(|()| tmp.as_file().sync_all())
            .map_err(|e| store_error(tmp.path(), &e))?;
        let target = Self::path(&dir, next.version);
        match std::fs::hard_link(tmp.path(), &target) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(store_error(&target, &e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::compat::Compatibility;
    use crate::registry::{Policy, Proposal, settle};
    use crate::schema::{Column, ColumnType, Schema};
    use std::sync::{Arc, Barrier};

    fn file(names: &[&str]) -> Schema {
        Schema {
            columns: names
                .iter()
                .map(|n| Column {
                    name: (*n).into(),
                    column_type: ColumnType::Int64,
                    nullable: true,
                })
                .collect(),
        }
    }

    #[test]
    fn versions_are_files_that_read_back_as_written() {
        let dir = tempfile::tempdir().expect("dir");
        let store = LocalStore::new(dir.path());
        assert_eq!(store.current("orders").expect("empty"), None);
        let v1 = settle(
            &store,
            "orders",
            Proposal::Observed(&file(&["a"])),
            Policy::default(),
        )
        .expect("v1");
        let v2 = settle(
            &store,
            "orders",
            Proposal::Observed(&file(&["a", "b"])),
            Policy::default(),
        )
        .expect("v2");
        assert_eq!(store.get("orders", 1).expect("read"), Some(v1));
        assert_eq!(store.current("orders").expect("read"), Some(v2.clone()));
        assert_eq!(v2.compatibility, Compatibility::Backward);
        let text = std::fs::read_to_string(dir.path().join("orders/v000002.json")).expect("file");
        assert!(text.contains("\"version\": 2"), "{text}");
        let leftovers = std::fs::read_dir(dir.path().join("orders"))
            .expect("dir")
            .count();
        assert_eq!(leftovers, 2, "no temporary files are left");
    }

    #[test]
    fn concurrent_first_files_agree_on_one_version_1_and_concurrent_evolutions_lose_no_column() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Arc::new(LocalStore::new(dir.path()));
        let writers = 8;
        let barrier = Arc::new(Barrier::new(writers));
        let threads: Vec<_> = (0..writers)
            .map(|i| {
                let (store, barrier) = (Arc::clone(&store), Arc::clone(&barrier));
                std::thread::spawn(move || {
                    barrier.wait();
                    // Every writer brings "id" and a column of its own.
                    let own = format!("c{i}");
                    settle(
                        &*store,
                        "d",
                        Proposal::Observed(&file(&["id", &own])),
                        Policy::default(),
                    )
                })
            })
            .collect();
        let settled: Vec<Version> = threads
            .into_iter()
            .map(|t| t.join().expect("thread").expect("settled"))
            .collect();
        let current = store.current("d").expect("read").expect("registered");
        let v1 = store.get("d", 1).expect("read").expect("v1");
        // Each writer is typed by a version holding its own column, and the newest version holds them all.
        for (i, v) in settled.iter().enumerate() {
            assert!(
                v.columns.iter().any(|c| c.name == format!("c{i}")),
                "writer {i}: {v:?}"
            );
        }
        let mut names: Vec<String> = current.columns.iter().map(|c| c.name.clone()).collect();
        names.sort();
        let mut expected: Vec<String> = (0..writers).map(|i| format!("c{i}")).collect();
        expected.push("id".into());
        expected.sort();
        assert_eq!(names, expected);
        assert_eq!(usize::try_from(current.version).expect("small"), writers);
        assert_eq!(v1.columns.len(), 2, "one version 1, of one writer's file");
    }

    #[test]
    fn a_damaged_version_file_is_reported_not_ignored() {
        let dir = tempfile::tempdir().expect("dir");
        std::fs::create_dir_all(dir.path().join("d")).expect("mkdir");
        std::fs::write(dir.path().join("d/v000001.json"), "{not json").expect("write");
        let store = LocalStore::new(dir.path());
        assert!(matches!(
            store.current("d"),
            Err(RegistryError::Corrupt { version: 1, .. })
        ));
    }
}
