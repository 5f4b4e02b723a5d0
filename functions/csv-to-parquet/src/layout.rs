//! Where things live in the bucket: which keys are inputs, and the deterministic output and quarantine keys
//! for each, so a redelivered event overwrites rather than duplicates.

use chrono::NaiveDate;
use tributary_shared::partition::{date_path, join};

/// The prefixes the function reads and writes, each ending in `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prefixes {
    pub raw: String,
    pub curated: String,
    pub quarantine: String,
    pub schemas: String,
}

impl Default for Prefixes {
    fn default() -> Self {
        Self {
            raw: "raw/".into(),
            curated: "curated/".into(),
            quarantine: "quarantine/".into(),
            schemas: "schemas/".into(),
        }
    }
}

/// Keys derived from one input key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Targets {
    pub dataset: String,
    pub output_key: String,
    pub quarantine_key: String,
    pub schema_key: String,
}

/// Why a key is not an input; the event is then ignored, not failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotAnInput {
    #[error("key is outside the raw prefix {0:?}")]
    OutsideRaw(String),
    #[error("key is not .csv or .csv.gz")]
    NotCsv,
    #[error("key has no dataset folder: expected <raw prefix><dataset>/<file>.csv")]
    NoDataset,
}

/// Maps `raw/<dataset>/<path>/<name>.csv[.gz]` to `curated/<dataset>/year=/month=/day=/<path>__<name>.parquet`
/// (and the same under the quarantine prefix, as `.csv`). Sub-folders are folded into the file name so two
/// files with the same name in different folders never overwrite each other's output.
pub fn targets(key: &str, prefixes: &Prefixes, date: NaiveDate) -> Result<Targets, NotAnInput> {
    let rest = key
        .strip_prefix(prefixes.raw.as_str())
        .ok_or_else(|| NotAnInput::OutsideRaw(prefixes.raw.clone()))?;
    let lower = rest.to_ascii_lowercase();
    let stem_len = if lower.ends_with(".csv.gz") {
        rest.len() - 7
    } else if lower.ends_with(".csv") {
        rest.len() - 4
    } else {
        return Err(NotAnInput::NotCsv);
    };
    let (dataset, path) = rest[..stem_len]
        .split_once('/')
        .ok_or(NotAnInput::NoDataset)?;
    let name = path
        .split('/')
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("__");
    if dataset.is_empty() || name.is_empty() {
        return Err(NotAnInput::NoDataset);
    }
    let partition = date_path(date);
    Ok(Targets {
        dataset: dataset.to_owned(),
        output_key: join(&[
            &prefixes.curated,
            dataset,
            &partition,
            &format!("{name}.parquet"),
        ]),
        quarantine_key: join(&[
            &prefixes.quarantine,
            dataset,
            &partition,
            &format!("{name}.csv"),
        ]),
        schema_key: join(&[&prefixes.schemas, &format!("{dataset}.json")]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 21).expect("valid date")
    }

    #[test]
    fn maps_raw_keys_to_partitioned_outputs() {
        let t =
            targets("raw/orders/lines 1.csv.gz", &Prefixes::default(), day()).expect("an input");
        assert_eq!(t.dataset, "orders");
        assert_eq!(
            t.output_key,
            "curated/orders/year=2026/month=11/day=21/lines 1.parquet"
        );
        assert_eq!(
            t.quarantine_key,
            "quarantine/orders/year=2026/month=11/day=21/lines 1.csv"
        );
        assert_eq!(t.schema_key, "schemas/orders.json");
    }

    #[test]
    fn folds_sub_folders_into_the_name() {
        let t = targets(
            "raw/orders/2026-11-20/part-1.CSV",
            &Prefixes::default(),
            day(),
        )
        .expect("an input");
        assert_eq!(
            t.output_key,
            "curated/orders/year=2026/month=11/day=21/2026-11-20__part-1.parquet"
        );
    }

    #[test]
    fn ignores_keys_that_are_not_inputs() {
        let p = Prefixes::default();
        assert_eq!(
            targets("curated/orders/a.csv", &p, day()),
            Err(NotAnInput::OutsideRaw("raw/".into()))
        );
        assert_eq!(
            targets("raw/orders/a.json", &p, day()),
            Err(NotAnInput::NotCsv)
        );
        assert_eq!(targets("raw/a.csv", &p, day()), Err(NotAnInput::NoDataset));
        assert_eq!(
            targets("raw/orders/.csv", &p, day()),
            Err(NotAnInput::NoDataset)
        );
    }
}
