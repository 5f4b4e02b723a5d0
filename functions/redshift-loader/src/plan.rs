//! What a Redshift load does to its table so that its files fit, decided from the files' footers and the table's
//! columns before anything is submitted: create the table on a first load, add the columns the files bring, and
//! group the files by column list, since Redshift's COPY from Parquet fills columns by position (each list gets a
//! stage of its shape, see [`crate::sql::redshift_load`]).
//!
//! Redshift folds unquoted and quoted identifiers to lower case (unless a cluster turns
//! `enable_case_sensitive_identifier` on), so the files' column names are compared in lower case.

use crate::evolve::{self, TableColumn, Warehouse};
use crate::postgres::LoadError;
use crate::sql::{Ident, TableName};
use arrow_schema::{Field, Schema};

/// The table's side of one load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// `CREATE TABLE IF NOT EXISTS` or `ALTER TABLE … ADD COLUMN`s, in the load's transaction.
    pub ddl: Vec<String>,
    /// The columns the files hold, applied to the table.
    pub columns: Vec<Ident>,
    /// Each distinct column list of the files, with the indexes of the files that have it, in first-seen order.
    pub sets: Vec<(Vec<Ident>, Vec<usize>)>,
}

fn lower(schema: &Schema) -> Schema {
    Schema::new(
        schema
            .fields()
            .iter()
            .map(|f| Field::clone(f).with_name(f.name().to_lowercase()))
            .collect::<Vec<_>>(),
    )
}

fn idents<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Vec<Ident>, LoadError> {
    names
        .into_iter()
        .map(|n| Ident::parse("column", n).map_err(LoadError::from))
        .collect()
}

/// The plan for loading files with `schemas` into `target`, whose columns are `table` (empty: the table does
/// not exist, or the loader's role cannot see it; it is then created from the files, if missing).
pub fn plan(
    target: &TableName,
    table: &[TableColumn],
    schemas: &[Schema],
) -> Result<Plan, LoadError> {
    let lowered: Vec<Schema> = schemas.iter().map(lower).collect();
    let mismatch = |mismatches| LoadError::SchemaMismatch {
        table: target.plain(),
        mismatches,
    };
    let united = evolve::union(&lowered).map_err(|m| mismatch(vec![m]))?;
    let columns = idents(united.iter().map(|c| c.name.as_str()))?;
    let ddl = if table.is_empty() {
        let definitions: Vec<String> = united
            .iter()
            .zip(&columns)
            .map(|(c, ident)| {
                format!(
                    "{ident} {}{}",
                    evolve::redshift_type(&c.pg_type),
                    if c.nullable { "" } else { " NOT NULL" }
                )
            })
            .collect();
        vec![format!(
            "CREATE TABLE IF NOT EXISTS {target} ({})",
            definitions.join(", ")
        )]
    } else {
        evolve::reconcile(table, &united, Warehouse::Redshift)
            .map_err(mismatch)?
            .iter()
            .map(|c| {
                evolve::statement(
                    &target.to_string(),
                    c,
                    |name| format!("\"{name}\""),
                    Warehouse::Redshift,
                )
            })
            .collect()
    };
    let mut sets: Vec<(Vec<Ident>, Vec<usize>)> = Vec::new();
    for (i, schema) in lowered.iter().enumerate() {
        let cols = idents(schema.fields().iter().map(|f| f.name().as_str()))?;
        match sets.iter_mut().find(|(c, _)| *c == cols) {
            Some((_, files)) => files.push(i),
            None => sets.push((cols, vec![i])),
        }
    }
    Ok(Plan { ddl, columns, sets })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_schema::DataType;

    fn schema(fields: &[(&str, DataType, bool)]) -> Schema {
        Schema::new(
            fields
                .iter()
                .map(|(n, t, null)| Field::new(*n, t.clone(), *null))
                .collect::<Vec<_>>(),
        )
    }

    fn column(name: &str, pg_type: &str, nullable: bool) -> TableColumn {
        TableColumn {
            name: name.into(),
            pg_type: pg_type.into(),
            nullable,
            has_default: false,
        }
    }

    fn names(idents: &[Ident]) -> Vec<&str> {
        idents.iter().map(Ident::as_str).collect()
    }

    fn target() -> TableName {
        TableName::parse("analytics.orders").expect("table")
    }

    #[test]
    fn a_first_load_creates_the_table_from_the_files() {
        let v1 = schema(&[
            ("Order_Id", DataType::Utf8, false),
            ("qty", DataType::Int64, true),
            ("price", DataType::Decimal128(12, 2), true),
        ]);
        let p = plan(&target(), &[], &[v1]).expect("plan");
        assert_eq!(
            p.ddl,
            [
                "CREATE TABLE IF NOT EXISTS \"analytics\".\"orders\" (\"order_id\" VARCHAR(65535) NOT NULL, \"qty\" bigint, \"price\" numeric(12,2))"
            ]
        );
        assert_eq!(p.sets.len(), 1);
    }

    #[test]
    fn files_of_two_versions_add_the_new_column_and_copy_in_two_shapes() {
        let table = [
            column("order_id", "character varying(64)", false),
            column("qty", "bigint", true),
        ];
        let v1 = schema(&[
            ("order_id", DataType::Utf8, false),
            ("qty", DataType::Int64, true),
        ]);
        let v2 = schema(&[
            ("order_id", DataType::Utf8, false),
            ("qty", DataType::Int64, true),
            ("channel", DataType::Utf8, true),
        ]);
        let p = plan(&target(), &table, &[v2.clone(), v1, v2]).expect("plan");
        assert_eq!(
            p.ddl,
            ["ALTER TABLE \"analytics\".\"orders\" ADD COLUMN \"channel\" VARCHAR(65535)"]
        );
        assert_eq!(names(&p.columns), ["order_id", "qty", "channel"]);
        let sets: Vec<(Vec<&str>, Vec<usize>)> =
            p.sets.iter().map(|(c, f)| (names(c), f.clone())).collect();
        assert_eq!(
            sets,
            [
                (vec!["order_id", "qty", "channel"], vec![0, 2]),
                (vec!["order_id", "qty"], vec![1]),
            ]
        );
    }

    #[test]
    fn what_redshift_cannot_change_is_a_schema_mismatch_naming_every_column() {
        let table = [
            column("qty", "integer", true),
            column("price", "numeric(10,2)", true),
        ];
        let files = schema(&[
            ("qty", DataType::Utf8, true),
            ("price", DataType::Decimal128(18, 2), true),
        ]);
        let err = plan(&target(), &table, &[files]).expect_err("mismatch");
        let LoadError::SchemaMismatch { mismatches, .. } = &err else {
            panic!("{err}")
        };
        let cols: Vec<&str> = mismatches.iter().map(|m| m.column.as_str()).collect();
        assert_eq!(cols, ["qty", "price"]);
        assert!(
            err.to_string()
                .starts_with("the files do not fit table analytics.orders: "),
            "{err}"
        );
    }
}
