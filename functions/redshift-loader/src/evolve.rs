//! The warehouse follows the dataset's schema: what a load's files need of its target table, decided before a
//! row is written.
//!
//! The files of one load may come from several schema versions of their dataset; their columns are united by name.
//! A column the table lacks is added (nullable: the table's existing rows have no value for it). A column whose
//! type the table holds narrower is widened where the warehouse can change it in place (PostgreSQL: integers and
//! floats to wider ones, a decimal's precision at the same scale). A column the table requires and the files lack,
//! or a type that does not fit, is a [`Mismatch`] naming the column and both types; nothing is changed then.
//!
//! Redshift changes less in place ([`Warehouse::Redshift`]): it adds columns, but alters a type only to lengthen
//! a VARCHAR (which a Parquet schema cannot ask for) and never drops NOT NULL. A widening is a mismatch there, and
//! a column the dataset made nullable stays NOT NULL in the table, so a null in it fails the load with Redshift's
//! own error.

use arrow_schema::Schema;
use std::fmt;

/// A column of the load: the union of its files' columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadColumn {
    pub name: String,
    /// The PostgreSQL type, as [`crate::encode::pg_type`] names it.
    pub pg_type: String,
    pub nullable: bool,
    /// False when some file of the load lacks the column (its rows load NULL there).
    pub in_every_file: bool,
}

/// A column of the target table, from `information_schema.columns`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableColumn {
    pub name: String,
    /// Normalised by [`table_type`].
    pub pg_type: String,
    pub nullable: bool,
    /// A default, identity or generated column: rows that lack it still get a value.
    pub has_default: bool,
}

/// The warehouse a load's table lives in: they differ in what they change in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Warehouse {
    Postgres,
    Redshift,
}

/// A change the load makes to the target table, inside its transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Add {
        column: String,
        pg_type: String,
    },
    Widen {
        column: String,
        from: String,
        to: String,
    },
    /// The dataset made a required column nullable.
    DropNotNull {
        column: String,
    },
}

/// A column the load cannot put in the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub column: String,
    /// The table's type (or where the other type comes from).
    pub table: String,
    pub file: String,
    pub reason: &'static str,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "column {:?}: {} is {}, the files have {}",
            self.column, self.reason, self.table, self.file
        )
    }
}

/// The normalised name of a type `information_schema.columns` reports.
pub fn table_type(data_type: &str, precision: Option<i32>, scale: Option<i32>) -> String {
    match data_type {
        "timestamp with time zone" => "timestamptz".into(),
        "timestamp without time zone" => "timestamp".into(),
        "numeric" => match (precision, scale) {
            (Some(p), Some(s)) => format!("numeric({p},{s})"),
            _ => "numeric".into(),
        },
        other => other.into(),
    }
}

fn numeric(t: &str) -> Option<(u32, u32)> {
    let (p, s) = t
        .strip_prefix("numeric(")?
        .strip_suffix(')')?
        .split_once(',')?;
    Some((p.trim().parse().ok()?, s.trim().parse().ok()?))
}

fn rank(t: &str) -> Option<(u8, u8)> {
    match t {
        "smallint" => Some((0, 1)),
        "integer" => Some((0, 2)),
        "bigint" => Some((0, 3)),
        "real" => Some((1, 1)),
        "double precision" => Some((1, 2)),
        _ => None,
    }
}

/// How a value of type `from` fits a column of type `to`: as is, after widening the column, or not at all.
#[derive(Debug, PartialEq, Eq)]
enum Fit {
    AsIs,
    Widen,
    No,
}

/// The types the loader writes; a table column of another type (varchar, uuid, jsonb, …) is left to COPY's own
/// casts, as before the loader compared types.
fn known(t: &str) -> bool {
    rank(t).is_some()
        || numeric(t).is_some()
        || matches!(t, "text" | "boolean" | "date" | "timestamp" | "timestamptz")
}

fn fit(from: &str, to: &str) -> Fit {
    if from == to || !known(to) {
        return Fit::AsIs;
    }
    if let (Some((p1, s1)), Some((p2, s2))) = (numeric(from), numeric(to)) {
        return match (s1 == s2, p1 <= p2) {
            (false, _) => Fit::No,
            (true, true) => Fit::AsIs,
            (true, false) => Fit::Widen,
        };
    }
    if to == "numeric" && numeric(from).is_some() {
        return Fit::AsIs;
    }
    match (rank(from), rank(to)) {
        (Some((k1, r1)), Some((k2, r2))) if k1 == k2 => {
            if r1 <= r2 {
                Fit::AsIs
            } else {
                Fit::Widen
            }
        }
        _ => Fit::No,
    }
}

/// The columns of a load's files, united by name in first-seen order, each with the widest of its types.
pub fn union<'a>(
    schemas: impl IntoIterator<Item = &'a Schema>,
) -> Result<Vec<LoadColumn>, Mismatch> {
    let mut columns: Vec<LoadColumn> = Vec::new();
    let mut files_with: Vec<usize> = Vec::new();
    let mut files = 0;
    for schema in schemas {
        files += 1;
        for field in schema.fields() {
            let t = crate::encode::pg_type(field.data_type());
            match columns.iter().position(|c| c.name == *field.name()) {
                None => {
                    columns.push(LoadColumn {
                        name: field.name().clone(),
                        pg_type: t,
                        nullable: field.is_nullable(),
                        in_every_file: true,
                    });
                    files_with.push(1);
                }
                Some(i) => {
                    let c = &mut columns[i];
                    files_with[i] += 1;
                    match fit(&t, &c.pg_type) {
                        Fit::AsIs => {}
                        Fit::Widen => c.pg_type = t,
                        Fit::No if fit(&c.pg_type, &t) != Fit::No => c.pg_type = t,
                        Fit::No => {
                            return Err(Mismatch {
                                column: c.name.clone(),
                                table: format!("{} in one file", c.pg_type),
                                file: format!("{t} in another"),
                                reason: "the files disagree: its type",
                            });
                        }
                    }
                    c.nullable |= field.is_nullable();
                }
            }
        }
    }
    // A column some file lacks loads NULL from that file's rows.
    for (c, n) in columns.iter_mut().zip(files_with) {
        if n < files {
            c.in_every_file = false;
            c.nullable = true;
        }
    }
    Ok(columns)
}

/// What the table needs so the load fits, or every column that cannot.
pub fn reconcile(
    table: &[TableColumn],
    load: &[LoadColumn],
    warehouse: Warehouse,
) -> Result<Vec<Change>, Vec<Mismatch>> {
    let mut changes = Vec::new();
    let mut mismatches = Vec::new();
    for c in load {
        let Some(t) = table.iter().find(|t| t.name == c.name) else {
            // Adding "OrderId" beside a table's orderid would split one column in two.
            if let Some(t) = table.iter().find(|t| t.name.eq_ignore_ascii_case(&c.name)) {
                mismatches.push(Mismatch {
                    column: c.name.clone(),
                    table: format!("{:?}", t.name),
                    file: format!("{:?}", c.name),
                    reason: "its name differs only in case: the table's",
                });
            } else {
                changes.push(Change::Add {
                    column: c.name.clone(),
                    pg_type: c.pg_type.clone(),
                });
            }
            continue;
        };
        match fit(&c.pg_type, &t.pg_type) {
            Fit::AsIs => {}
            Fit::Widen if warehouse == Warehouse::Postgres => changes.push(Change::Widen {
                column: c.name.clone(),
                from: t.pg_type.clone(),
                to: c.pg_type.clone(),
            }),
            Fit::Widen => mismatches.push(Mismatch {
                column: c.name.clone(),
                table: t.pg_type.clone(),
                file: c.pg_type.clone(),
                reason: "Redshift changes a type in place only to lengthen a VARCHAR; its type in the table",
            }),
            Fit::No => mismatches.push(Mismatch {
                column: c.name.clone(),
                table: t.pg_type.clone(),
                file: c.pg_type.clone(),
                reason: "its type in the table",
            }),
        }
        if !t.nullable && !t.has_default {
            if !c.in_every_file {
                mismatches.push(Mismatch {
                    column: c.name.clone(),
                    table: format!("{} NOT NULL", t.pg_type),
                    file: "it in some files only".into(),
                    reason: "required in the table: its type",
                });
            } else if c.nullable && warehouse == Warehouse::Postgres {
                // The dataset made the column nullable.
                changes.push(Change::DropNotNull {
                    column: c.name.clone(),
                });
            }
        }
    }
    for t in table {
        if !t.nullable && !t.has_default && !load.iter().any(|c| c.name == t.name) {
            mismatches.push(Mismatch {
                column: t.name.clone(),
                table: format!("{} NOT NULL", t.pg_type),
                file: "no such column".into(),
                reason: "required in the table: its type",
            });
        }
    }
    if mismatches.is_empty() {
        Ok(changes)
    } else {
        Err(mismatches)
    }
}

/// The Redshift type for a column the loader names by its PostgreSQL type: the same name, but for text, which
/// Redshift would make VARCHAR(256); a string column gets Redshift's widest VARCHAR, so no value is cut.
pub fn redshift_type(pg_type: &str) -> &str {
    match pg_type {
        "text" => "VARCHAR(65535)",
        other => other,
    }
}

/// The change as one statement on `table` (already quoted), with `quote` for column names. Redshift has no
/// `ADD COLUMN IF NOT EXISTS`: a concurrent load that added the column first makes this one fail, and it is
/// retried as a lost race (see `handler::redshift_conflict`).
pub fn statement(
    table: &str,
    change: &Change,
    quote: impl Fn(&str) -> String,
    warehouse: Warehouse,
) -> String {
    match change {
        Change::Add { column, pg_type } => match warehouse {
            Warehouse::Postgres => format!(
                "ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {} {pg_type}",
                quote(column)
            ),
            Warehouse::Redshift => format!(
                "ALTER TABLE {table} ADD COLUMN {} {}",
                quote(column),
                redshift_type(pg_type)
            ),
        },
        Change::Widen { column, to, .. } => {
            format!(
                "ALTER TABLE {table} ALTER COLUMN {} TYPE {to}",
                quote(column)
            )
        }
        Change::DropNotNull { column } => {
            format!(
                "ALTER TABLE {table} ALTER COLUMN {} DROP NOT NULL",
                quote(column)
            )
        }
    }
}

/// The columns of the target table and of the load ledger beside it, through the Data API: named parameters
/// `:table_name`, `:ledger_name` and, when the table names one, `:table_schema`. Each row is the table's name,
/// then what [`redshift_table_column`] reads. Redshift's `information_schema` has no identity or generation
/// columns; an identity column's default is `"identity"(…)`, so `column_default` covers both.
pub fn redshift_describe_sql(schema_named: bool) -> String {
    format!(
        "SELECT table_name, column_name, data_type, character_maximum_length, numeric_precision, numeric_scale, \
         is_nullable, column_default FROM information_schema.columns \
         WHERE table_schema = {} AND table_name IN (:table_name, :ledger_name) ORDER BY table_name, ordinal_position",
        if schema_named {
            ":table_schema"
        } else {
            "current_schema()"
        }
    )
}

/// A row of [`redshift_describe_sql`], every field as text as the Data API adapter returns it.
pub fn redshift_table_column(row: &[Option<String>]) -> Option<TableColumn> {
    let field = |i: usize| row.get(i).cloned().flatten();
    let int = |i: usize| field(i).and_then(|v| v.parse::<i32>().ok());
    let data_type = field(1)?;
    let pg_type = match (data_type.as_str(), int(2)) {
        ("character varying" | "character", Some(n)) => format!("{data_type}({n})"),
        _ => table_type(&data_type, int(3), int(4)),
    };
    Some(TableColumn {
        name: field(0)?,
        pg_type,
        nullable: field(5).is_none_or(|v| v.eq_ignore_ascii_case("yes")),
        has_default: field(6).is_some(),
    })
}

/// The target table's columns.
pub fn describe_sql() -> &'static str {
    "SELECT column_name::text, data_type::text, numeric_precision::int, numeric_scale::int, \
     (is_nullable = 'YES'), (column_default IS NOT NULL OR is_identity = 'YES' OR is_generated <> 'NEVER') \
     FROM information_schema.columns \
     WHERE table_schema = coalesce($1, current_schema()) AND table_name = $2 ORDER BY ordinal_position"
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_schema::{DataType, Field};

    fn table(cols: &[(&str, &str, bool)]) -> Vec<TableColumn> {
        cols.iter()
            .map(|(n, t, null)| TableColumn {
                name: (*n).into(),
                pg_type: (*t).into(),
                nullable: *null,
                has_default: false,
            })
            .collect()
    }

    fn reconcile_pg(
        table: &[TableColumn],
        load: &[LoadColumn],
    ) -> Result<Vec<Change>, Vec<Mismatch>> {
        reconcile(table, load, Warehouse::Postgres)
    }

    fn load(cols: &[(&str, &str, bool)]) -> Vec<LoadColumn> {
        cols.iter()
            .map(|(n, t, null)| LoadColumn {
                name: (*n).into(),
                pg_type: (*t).into(),
                nullable: *null,
                in_every_file: true,
            })
            .collect()
    }

    #[test]
    fn a_new_column_is_added_and_one_the_files_lack_loads_as_null() {
        let changes = reconcile_pg(
            &table(&[("order_id", "bigint", true), ("note", "text", true)]),
            &load(&[("order_id", "bigint", true), ("channel", "text", true)]),
        )
        .expect("fits");
        assert_eq!(
            changes,
            [Change::Add {
                column: "channel".into(),
                pg_type: "text".into()
            }]
        );
    }

    #[test]
    fn narrower_values_fit_and_wider_ones_widen_the_column() {
        let changes = reconcile_pg(
            &table(&[
                ("a", "numeric(10,2)", true),
                ("b", "bigint", true),
                ("c", "integer", true),
            ]),
            &load(&[
                ("a", "numeric(18,2)", true),
                ("b", "integer", true),
                ("c", "bigint", true),
            ]),
        )
        .expect("fits");
        assert_eq!(
            changes,
            [
                Change::Widen {
                    column: "a".into(),
                    from: "numeric(10,2)".into(),
                    to: "numeric(18,2)".into()
                },
                Change::Widen {
                    column: "c".into(),
                    from: "integer".into(),
                    to: "bigint".into()
                },
            ]
        );
    }

    #[test]
    fn every_column_that_cannot_fit_is_named_with_both_types() {
        let err = reconcile_pg(
            &table(&[
                ("qty", "bigint", true),
                ("price", "numeric(10,2)", true),
                ("id", "text", false),
            ]),
            &load(&[("qty", "text", true), ("price", "numeric(10,4)", true)]),
        )
        .expect_err("mismatch");
        let named: Vec<String> = err.iter().map(ToString::to_string).collect();
        assert_eq!(
            named,
            [
                "column \"qty\": its type in the table is bigint, the files have text",
                "column \"price\": its type in the table is numeric(10,2), the files have numeric(10,4)",
                "column \"id\": required in the table: its type is text NOT NULL, the files have no such column",
            ]
        );
    }

    #[test]
    fn a_column_made_nullable_drops_not_null() {
        let changes = reconcile_pg(
            &table(&[("id", "bigint", false)]),
            &load(&[("id", "bigint", true)]),
        )
        .expect("fits");
        assert_eq!(
            changes,
            [Change::DropNotNull {
                column: "id".into()
            }]
        );
    }

    #[test]
    fn files_of_two_versions_unite_by_name_with_the_wider_type() {
        let v1 = Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("price", DataType::Decimal128(10, 2), true),
        ]);
        let v2 = Schema::new(vec![
            Field::new("id", DataType::Int64, true),
            Field::new("price", DataType::Decimal128(18, 2), true),
            Field::new("channel", DataType::Utf8, true),
        ]);
        let united = union([&v1, &v2]).expect("unites");
        let mut expected = load(&[
            ("id", "bigint", true),
            ("price", "numeric(18,2)", true),
            ("channel", "text", true),
        ]);
        expected[2].in_every_file = false;
        assert_eq!(united, expected);
        let v3 = Schema::new(vec![Field::new("id", DataType::Utf8, true)]);
        assert_eq!(union([&v1, &v3]).expect_err("disagree").column, "id");
    }

    #[test]
    fn a_name_that_differs_only_in_case_is_refused_not_added_beside() {
        let err = reconcile_pg(
            &table(&[("orderid", "bigint", true)]),
            &load(&[("OrderId", "bigint", true)]),
        )
        .expect_err("mismatch");
        assert_eq!(
            err[0].to_string(),
            "column \"OrderId\": its name differs only in case: the table's is \"orderid\", the files have \"OrderId\""
        );
    }

    #[test]
    fn defaults_fill_what_the_files_lack_and_types_the_loader_does_not_write_are_left_to_copy() {
        let mut t = table(&[
            ("id", "bigint", false),
            ("loaded_at", "timestamptz", false),
            ("tag", "uuid", true),
        ]);
        t[1].has_default = true;
        let changes = reconcile_pg(&t, &load(&[("id", "bigint", false), ("tag", "text", true)]))
            .expect("fits");
        assert!(changes.is_empty(), "{changes:?}");
    }

    #[test]
    fn a_required_column_only_some_files_have_is_a_mismatch() {
        let mut l = load(&[("id", "bigint", true)]);
        l[0].in_every_file = false;
        let err = reconcile_pg(&table(&[("id", "bigint", false)]), &l).expect_err("mismatch");
        assert_eq!(err[0].column, "id");
    }

    #[test]
    fn information_schema_types_are_named_as_the_loader_names_them() {
        assert_eq!(table_type("numeric", Some(12), Some(2)), "numeric(12,2)");
        assert_eq!(
            table_type("timestamp with time zone", None, None),
            "timestamptz"
        );
        assert_eq!(
            table_type("double precision", Some(53), None),
            "double precision"
        );
    }

    #[test]
    fn redshift_adds_columns_but_widens_nothing_and_keeps_not_null() {
        let t = table(&[
            ("order_id", "character varying(64)", false),
            ("qty", "integer", true),
            ("price", "numeric(10,2)", true),
        ]);
        // Widenings PostgreSQL would make are mismatches, each named with both types.
        let err = reconcile(
            &t,
            &load(&[
                ("order_id", "text", true),
                ("qty", "bigint", true),
                ("price", "numeric(18,2)", true),
            ]),
            Warehouse::Redshift,
        )
        .expect_err("Redshift cannot widen");
        let named: Vec<String> = err.iter().map(ToString::to_string).collect();
        assert_eq!(
            named,
            [
                "column \"qty\": Redshift changes a type in place only to lengthen a VARCHAR; its type in the table is integer, the files have bigint",
                "column \"price\": Redshift changes a type in place only to lengthen a VARCHAR; its type in the table is numeric(10,2), the files have numeric(18,2)",
            ]
        );
        // A new column is added with a Redshift type; a nullable file column leaves NOT NULL in place.
        let changes = reconcile(
            &t,
            &load(&[("order_id", "text", true), ("channel", "text", true)]),
            Warehouse::Redshift,
        )
        .expect("fits");
        assert_eq!(
            changes,
            [Change::Add {
                column: "channel".into(),
                pg_type: "text".into()
            }]
        );
        assert_eq!(
            statement(
                "\"a\".\"t\"",
                &changes[0],
                |c| format!("\"{c}\""),
                Warehouse::Redshift
            ),
            "ALTER TABLE \"a\".\"t\" ADD COLUMN \"channel\" VARCHAR(65535)"
        );
    }

    #[test]
    fn redshift_describe_rows_are_named_as_the_loader_names_them() {
        let row = |v: &[Option<&str>]| -> Vec<Option<String>> {
            v.iter().map(|f| f.map(str::to_owned)).collect()
        };
        let varchar = redshift_table_column(&row(&[
            Some("order_id"),
            Some("character varying"),
            Some("64"),
            None,
            None,
            Some("NO"),
            None,
        ]))
        .expect("column");
        assert_eq!(
            varchar,
            TableColumn {
                name: "order_id".into(),
                pg_type: "character varying(64)".into(),
                nullable: false,
                has_default: false
            }
        );
        let price = redshift_table_column(&row(&[
            Some("price"),
            Some("numeric"),
            None,
            Some("12"),
            Some("2"),
            Some("YES"),
            Some("0"),
        ]))
        .expect("column");
        assert_eq!(
            (price.pg_type.as_str(), price.nullable, price.has_default),
            ("numeric(12,2)", true, true)
        );
        assert_eq!(redshift_table_column(&row(&[None])), None);
    }
}
