//! Schema compatibility: whether a dataset's next schema version may follow its current one.
//!
//! BACKWARD (the default) asks whether a reader using the next schema can read every file written under the
//! current one: what Athena, Spark or DuckDB do when they read `curated/<dataset>/` through the catalog's columns.
//! FULL also asks the converse (a reader still on the current schema reads new files). NONE checks nothing.
//! Columns are matched by name.

use crate::schema::{Column, ColumnType, Schema};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A dataset's compatibility mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Compatibility {
    #[default]
    Backward,
    Full,
    None,
}

impl fmt::Display for Compatibility {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Backward => "BACKWARD",
            Self::Full => "FULL",
            Self::None => "NONE",
        })
    }
}

impl FromStr for Compatibility {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_uppercase().as_str() {
            "BACKWARD" => Ok(Self::Backward),
            "FULL" => Ok(Self::Full),
            "NONE" => Ok(Self::None),
            _ => Err(format!(
                "unknown compatibility {s:?} (expected BACKWARD, FULL or NONE)"
            )),
        }
    }
}

/// One reason a change is refused, naming its column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Incompatibility {
    pub column: String,
    pub reason: String,
}

impl fmt::Display for Incompatibility {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "column {:?}: {}", self.column, self.reason)
    }
}

/// Whether files holding `from` can be read as `to` without loss: the same type, or a promotion every reader
/// applies (Apache Iceberg's: a decimal's precision may grow at the same scale).
pub fn promotes(from: ColumnType, to: ColumnType) -> bool {
    match (from, to) {
        (
            ColumnType::Decimal {
                precision: p1,
                scale: s1,
            },
            ColumnType::Decimal {
                precision: p2,
                scale: s2,
            },
        ) => s1 == s2 && p2 >= p1,
        (a, b) => a == b,
    }
}

/// Every reason `next` may not follow `current` under `mode`; empty when it may.
pub fn check(current: &Schema, next: &Schema, mode: Compatibility) -> Vec<Incompatibility> {
    match mode {
        Compatibility::None => Vec::new(),
        Compatibility::Backward => readable(current, next, "files already written"),
        Compatibility::Full => {
            let mut reasons = readable(current, next, "files already written");
            for r in readable(next, current, "readers still on the current version") {
                if !reasons.iter().any(|known| known.column == r.column) {
                    reasons.push(r);
                }
            }
            reasons
        }
    }
}

/// Why data written as `written` cannot be read as `reader`.
fn readable(written: &Schema, reader: &Schema, who: &str) -> Vec<Incompatibility> {
    let find = |schema: &'_ Schema, name: &str| -> Option<Column> {
        schema.columns.iter().find(|c| c.name == name).cloned()
    };
    let mut reasons = Vec::new();
    let mut refuse = |column: &str, reason: String| {
        reasons.push(Incompatibility {
            column: column.to_owned(),
            reason,
        });
    };
    for old in &written.columns {
        match find(reader, &old.name) {
            // A reader skips a column it does not know; dropping a required one is refused, since it is the
            // one way to notice a rename.
            None if old.nullable => {}
            None => refuse(
                &old.name,
                format!("required column removed or renamed ({who} hold values for it)"),
            ),
            Some(new) => {
                if !promotes(old.column_type, new.column_type) {
                    refuse(
                        &old.name,
                        format!(
                            "type {} cannot become {} ({who} hold {} values; allowed: the same type, or a decimal's precision raised at the same scale)",
                            old.column_type, new.column_type, old.column_type
                        ),
                    );
                }
                if old.nullable && !new.nullable {
                    refuse(
                        &old.name,
                        format!("nullable column made required ({who} may hold nulls)"),
                    );
                }
            }
        }
    }
    for new in &reader.columns {
        if !new.nullable && find(written, &new.name).is_none() {
            refuse(
                &new.name,
                format!("new required column ({who} have no values for it; add it as nullable)"),
            );
        }
    }
    reasons
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(columns: &[(&str, &str, bool)]) -> Schema {
        Schema {
            columns: columns
                .iter()
                .map(|(name, t, nullable)| Column {
                    name: (*name).to_owned(),
                    column_type: t.parse().expect("type"),
                    nullable: *nullable,
                })
                .collect(),
        }
    }

    /// (what changes, current, next, refused columns under BACKWARD, under FULL)
    type Case = (
        &'static str,
        &'static [(&'static str, &'static str, bool)],
        &'static [(&'static str, &'static str, bool)],
        &'static [&'static str],
        &'static [&'static str],
    );

    const CASES: &[Case] = &[
        (
            "nothing",
            &[("id", "int64", false), ("x", "string", true)],
            &[("id", "int64", false), ("x", "string", true)],
            &[],
            &[],
        ),
        (
            "a nullable column added",
            &[("id", "int64", false)],
            &[("id", "int64", false), ("channel", "string", true)],
            &[],
            &[],
        ),
        (
            "a required column added",
            &[("id", "int64", false)],
            &[("id", "int64", false), ("channel", "string", false)],
            &["channel"],
            &["channel"],
        ),
        (
            "a required column made nullable",
            &[("id", "int64", false)],
            &[("id", "int64", true)],
            &[],
            &["id"],
        ),
        (
            "a nullable column made required",
            &[("id", "int64", true)],
            &[("id", "int64", false)],
            &["id"],
            &["id"],
        ),
        (
            "a decimal's precision raised at the same scale",
            &[("price", "decimal(10,2)", true)],
            &[("price", "decimal(18,2)", true)],
            &[],
            &["price"],
        ),
        (
            "a decimal's precision lowered",
            &[("price", "decimal(18,2)", true)],
            &[("price", "decimal(10,2)", true)],
            &["price"],
            &["price"],
        ),
        (
            "a decimal's scale changed",
            &[("price", "decimal(10,2)", true)],
            &[("price", "decimal(12,4)", true)],
            &["price"],
            &["price"],
        ),
        (
            "int64 to float64",
            &[("qty", "int64", true)],
            &[("qty", "float64", true)],
            &["qty"],
            &["qty"],
        ),
        (
            "int64 to string",
            &[("qty", "int64", true)],
            &[("qty", "string", true)],
            &["qty"],
            &["qty"],
        ),
        (
            "a nullable column dropped",
            &[("id", "int64", false), ("note", "string", true)],
            &[("id", "int64", false)],
            &[],
            &[],
        ),
        (
            "a required column dropped",
            &[("id", "int64", false), ("qty", "int64", false)],
            &[("id", "int64", false)],
            &["qty"],
            &["qty"],
        ),
        (
            "a required column renamed",
            &[("qty", "int64", false)],
            &[("quantity", "int64", false)],
            &["qty", "quantity"],
            &["qty", "quantity"],
        ),
        (
            "two changes at once, each named",
            &[("id", "int64", false), ("qty", "int64", true)],
            &[("id", "string", false), ("qty", "date", true)],
            &["id", "qty"],
            &["id", "qty"],
        ),
    ];

    #[test]
    fn each_change_is_allowed_or_refused_as_the_table_says() {
        for (what, current, next, backward, full) in CASES {
            let (current, next) = (schema(current), schema(next));
            let columns = |mode| -> Vec<String> {
                check(&current, &next, mode)
                    .into_iter()
                    .map(|r| r.column)
                    .collect()
            };
            assert_eq!(
                columns(Compatibility::Backward),
                *backward,
                "BACKWARD: {what}"
            );
            assert_eq!(columns(Compatibility::Full), *full, "FULL: {what}");
            assert!(
                check(&current, &next, Compatibility::None).is_empty(),
                "NONE: {what}"
            );
        }
    }

    #[test]
    fn a_refusal_says_what_and_why() {
        let reasons = check(
            &schema(&[("qty", "int64", true)]),
            &schema(&[("qty", "string", true)]),
            Compatibility::Backward,
        );
        assert_eq!(
            reasons[0].to_string(),
            "column \"qty\": type int64 cannot become string (files already written hold int64 values; allowed: \
             the same type, or a decimal's precision raised at the same scale)"
        );
    }

    #[test]
    fn modes_parse_in_any_case_and_print_in_upper_case() {
        assert_eq!("full".parse(), Ok(Compatibility::Full));
        assert_eq!(Compatibility::Backward.to_string(), "BACKWARD");
        assert!("SIDEWAYS".parse::<Compatibility>().is_err());
    }
}
