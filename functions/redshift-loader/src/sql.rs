//! SQL generation, pure: validated identifiers, quoted literals, and the statement sequences of a load, for
//! Redshift (COPY from an S3 manifest) and for PostgreSQL (COPY FROM STDIN). Nothing from a payload or an S3
//! key reaches SQL except through [`Ident`] (validated, then quoted) or [`literal`] (escaped).

use std::fmt;

/// Why a name cannot be used in SQL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SqlError {
    #[error(
        "{what} {name:?} is not a valid identifier: use letters, digits and _ (not first), at most 127 characters"
    )]
    BadIdent { what: &'static str, name: String },
    #[error("table {0:?} must be TABLE or SCHEMA.TABLE")]
    BadTable(String),
    #[error("merge mode needs at least one merge key")]
    NoMergeKeys,
}

/// A validated SQL identifier: `[A-Za-z_][A-Za-z0-9_]*`, at most 127 bytes. Always written quoted.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Ident(String);

impl Ident {
    pub fn parse(what: &'static str, name: &str) -> Result<Self, SqlError> {
        let bad = || SqlError::BadIdent {
            what,
            name: name.to_owned(),
        };
        let mut chars = name.chars();
        let first = chars.next().ok_or_else(bad)?;
        if !(first.is_ascii_alphabetic() || first == '_')
            || name.len() > 127
            || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(bad());
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Ident {
    /// Quoted: validation already excludes `"`, so no escaping is needed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\"", self.0)
    }
}

/// `schema.table` or `table`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TableName {
    pub schema: Option<Ident>,
    pub table: Ident,
}

impl TableName {
    pub fn parse(name: &str) -> Result<Self, SqlError> {
        let parts: Vec<&str> = name.split('.').collect();
        match parts.as_slice() {
            [table] => Ok(Self {
                schema: None,
                table: Ident::parse("table", table)?,
            }),
            [schema, table] => Ok(Self {
                schema: Some(Ident::parse("schema", schema)?),
                table: Ident::parse("table", table)?,
            }),
            _ => Err(SqlError::BadTable(name.to_owned())),
        }
    }

    /// The ledger table beside this one.
    pub fn ledger(&self) -> TableName {
        TableName {
            schema: self.schema.clone(),
            table: Ident(LEDGER.to_owned()),
        }
    }

    /// Unquoted `schema.table`, as recorded in the ledger.
    pub fn plain(&self) -> String {
        match &self.schema {
            Some(s) => format!("{}.{}", s.as_str(), self.table.as_str()),
            None => self.table.as_str().to_owned(),
        }
    }
}

impl fmt::Display for TableName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.schema {
            Some(s) => write!(f, "{s}.{}", self.table),
            None => write!(f, "{}", self.table),
        }
    }
}

/// The ledger of loaded files, one per schema.
pub const LEDGER: &str = "tributary_load_ledger";

/// A string literal: `'it''s'`. Backslashes are doubled too, so the result is the same text whether or not
/// the server treats backslash as an escape.
pub fn literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\'' => out.push_str("''"),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// How the staged rows reach the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Add every staged row.
    Append,
    /// Delete target rows whose keys appear in the stage, then add every staged row.
    Merge(Vec<Ident>),
    /// Empty the target, then add every staged row.
    Replace,
}

impl Mode {
    pub fn parse(mode: Option<&str>, merge_keys: &[String]) -> Result<Self, SqlError> {
        match mode.unwrap_or("append") {
            "append" => Ok(Self::Append),
            "replace" => Ok(Self::Replace),
            "merge" => {
                let keys = merge_keys
                    .iter()
                    .map(|k| Ident::parse("merge key", k))
                    .collect::<Result<Vec<_>, _>>()?;
                if keys.is_empty() {
                    Err(SqlError::NoMergeKeys)
                } else {
                    Ok(Self::Merge(keys))
                }
            }
            other => Err(SqlError::BadIdent {
                what: "mode (append, merge or replace)",
                name: other.to_owned(),
            }),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Self::Append => "append",
            Self::Merge(_) => "merge",
            Self::Replace => "replace",
        }
    }
}

/// A file to record in the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    pub url: String,
    pub etag: String,
}

/// The ledger's column naming the correlation id of the load that recorded a file (the state machine's execution;
/// null for a load run by hand). Added to a ledger created before it existed.
pub const CORRELATION_COLUMN: &str = "correlation_id";

/// `CREATE TABLE IF NOT EXISTS` for the ledger.
pub fn create_ledger(target: &TableName, text: &str, timestamp: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {} (table_name {text} NOT NULL, file_url {text} NOT NULL, etag {text} NOT NULL, load_id {text} NOT NULL, loaded_at {timestamp} NOT NULL, {CORRELATION_COLUMN} {text})",
        target.ledger()
    )
}

/// Adds the correlation column to a ledger from before it. PostgreSQL runs it with `if_not_exists` on every
/// load; Redshift has no such clause, so the loader adds it only when its description of the ledger lacks it.
pub fn add_correlation_column(target: &TableName, text: &str, if_not_exists: bool) -> String {
    format!(
        "ALTER TABLE {} ADD COLUMN {}{CORRELATION_COLUMN} {text}",
        target.ledger(),
        if if_not_exists { "IF NOT EXISTS " } else { "" }
    )
}

/// Files of `target` already in the ledger, as `(file_url, etag)` rows.
pub fn select_loaded(target: &TableName) -> String {
    format!(
        "SELECT file_url, etag FROM {} WHERE table_name = {}",
        target.ledger(),
        literal(&target.plain())
    )
}

/// The same query with the table name as a Data API parameter (`:table_name`) instead of a literal.
pub fn select_loaded_param(target: &TableName) -> String {
    format!(
        "SELECT file_url, etag FROM {} WHERE table_name = :table_name",
        target.ledger()
    )
}

/// Moving the staged rows into the target, in `mode`. With no `columns` (the Redshift path, where the stage is
/// `LIKE` the target) every column is moved in table order.
pub fn apply(target: &TableName, stage: &Ident, columns: &[Ident], mode: &Mode) -> Vec<String> {
    let cols = columns
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let insert = if columns.is_empty() {
        format!("INSERT INTO {target} SELECT * FROM {stage}")
    } else {
        format!("INSERT INTO {target} ({cols}) SELECT {cols} FROM {stage}")
    };
    match mode {
        Mode::Append => vec![insert],
        Mode::Replace => vec![format!("DELETE FROM {target}"), insert],
        Mode::Merge(keys) => {
            let on = keys
                .iter()
                .map(|k| format!("{target}.{k} = {stage}.{k}"))
                .collect::<Vec<_>>()
                .join(" AND ");
            vec![
                format!("DELETE FROM {target} USING {stage} WHERE {on}"),
                insert,
            ]
        }
    }
}

/// Records loaded files, with the load's correlation id; `now` is the SQL for the current time.
pub fn record(
    target: &TableName,
    entries: &[LedgerEntry],
    load_id: &str,
    correlation_id: Option<&str>,
    now: &str,
) -> Option<String> {
    let correlation = correlation_id.map_or_else(|| "NULL".to_owned(), literal);
    if entries.is_empty() {
        return None;
    }
    let values: Vec<String> = entries
        .iter()
        .map(|e| {
            format!(
                "({}, {}, {}, {}, {now}, {correlation})",
                literal(&target.plain()),
                literal(&e.url),
                literal(&e.etag),
                literal(load_id)
            )
        })
        .collect();
    Some(format!(
        "INSERT INTO {} (table_name, file_url, etag, load_id, loaded_at, {CORRELATION_COLUMN}) VALUES {}",
        target.ledger(),
        values.join(", ")
    ))
}

/// The first rejected rows of a failed COPY, from Redshift's load-error log (`query_id` comes from the Data
/// API's description of the failed statement, a number, so nothing textual is pasted in).
pub fn load_errors(query_id: i64) -> String {
    format!(
        "SELECT line_number, column_name, error_code, error_message, file_name FROM sys_load_error_detail \
         WHERE query_id = {query_id} ORDER BY line_number LIMIT 20"
    )
}

/// The staging table's name for a load.
pub fn stage_name(load_id: &str) -> Ident {
    let safe: String = load_id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(32)
        .collect();
    Ident(format!("tributary_stage_{safe}"))
}

/// Marks the statement of a Redshift load that refuses files already in the ledger (see [`guard`]).
pub const GUARD_MARK: &str = "/* tributary: stop if another load recorded these files */";

/// A statement that fails the transaction (dividing by zero: plain SQL has no other way to raise an error,
/// and Redshift's Data API runs no procedural code in a batch) when any of `entries` is already in the ledger.
/// Run after the ledger is locked, it catches the load that checked the ledger before a concurrent load of the
/// same files committed: that load then fails as a [`GUARD_MARK`] conflict, and its retry skips those files.
pub fn guard(target: &TableName, entries: &[LedgerEntry]) -> String {
    let files = entries
        .iter()
        .map(|e| {
            format!(
                "(file_url = {} AND etag = {})",
                literal(&e.url),
                literal(&e.etag)
            )
        })
        .collect::<Vec<_>>()
        .join(" OR ");
    format!(
        "SELECT 1 / (CASE WHEN COUNT(*) = 0 THEN 1 ELSE 0 END) {GUARD_MARK} FROM {} WHERE table_name = {} AND ({})",
        target.ledger(),
        literal(&target.plain()),
        if files.is_empty() {
            "FALSE".to_owned()
        } else {
            files
        }
    )
}

/// Files with one column list (names in file order), copied from one manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopySet {
    pub manifest_url: String,
    pub columns: Vec<Ident>,
}

/// One Redshift load, as [`redshift_load`] writes its statements.
#[derive(Debug)]
pub struct RedshiftLoad<'a> {
    pub target: &'a TableName,
    /// Creates the table or adds columns to it, after the ledger is locked and before the stage exists.
    pub ddl: Vec<String>,
    /// One per column list; a set without columns (unknown) is copied straight into the stage, by position.
    pub sets: Vec<CopySet>,
    /// The columns applied to the table (empty: all of them).
    pub columns: Vec<Ident>,
    pub mode: &'a Mode,
    pub iam_role: &'a str,
    pub entries: &'a [LedgerEntry],
    pub load_id: &'a str,
    pub correlation_id: Option<&'a str>,
}

/// The Redshift statements of one load, for BatchExecuteStatement (which runs them as one transaction): lock
/// the ledger, check again that no file is in it ([`guard`]), make the table fit the files, stage with COPY from
/// each set's manifest, apply, record, drop the stage.
///
/// Redshift's COPY from Parquet fills a table's columns by position and needs as many as the file has. So each
/// set is copied into a stage of its own shape (made from the main stage's columns, so with the table's types, as
/// the table is inside this transaction) and moved into the main stage by name; the columns it lacks take their
/// default or NULL there. By name always, never by position into the table's stage: the table's columns were read
/// before this transaction, and a load that changed them since must not shift values into other columns.
pub fn redshift_load(load: &RedshiftLoad) -> Vec<String> {
    let target = load.target;
    let stage = stage_name(load.load_id);
    let copy = |into: &Ident, manifest_url: &str| {
        format!(
            "COPY {into} FROM {} IAM_ROLE {} FORMAT AS PARQUET MANIFEST",
            literal(manifest_url),
            literal(load.iam_role)
        )
    };
    let mut statements = vec![
        create_ledger(target, "VARCHAR(1024)", "TIMESTAMP"),
        format!("LOCK {}", target.ledger()),
        guard(target, load.entries),
    ];
    statements.extend(load.ddl.iter().cloned());
    statements.push(format!(
        "CREATE TEMP TABLE {stage} (LIKE {target} INCLUDING DEFAULTS)"
    ));
    for (k, set) in load.sets.iter().enumerate() {
        if set.columns.is_empty() {
            statements.push(copy(&stage, &set.manifest_url));
            continue;
        }
        let shaped = Ident(format!("{}_{}", stage.0, k + 1));
        let cols = set
            .columns
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        statements.extend([
            format!("CREATE TEMP TABLE {shaped} AS SELECT {cols} FROM {stage} WHERE 1 = 0"),
            copy(&shaped, &set.manifest_url),
            format!("INSERT INTO {stage} ({cols}) SELECT {cols} FROM {shaped}"),
            format!("DROP TABLE {shaped}"),
        ]);
    }
    statements.extend(apply(target, &stage, &load.columns, load.mode));
    statements.extend(record(
        target,
        load.entries,
        load.load_id,
        load.correlation_id,
        "GETDATE()",
    ));
    statements.push(format!("DROP TABLE {stage}"));
    statements
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(name: &str) -> TableName {
        TableName::parse(name).expect("valid table")
    }

    fn cols(names: &[&str]) -> Vec<Ident> {
        names
            .iter()
            .map(|n| Ident::parse("column", n).expect("valid"))
            .collect()
    }

    #[test]
    fn injection_attempts_are_refused_with_a_clear_error() {
        let err = TableName::parse("x; drop table y").expect_err("refused");
        assert_eq!(
            err.to_string(),
            "table \"x; drop table y\" is not a valid identifier: use letters, digits and _ (not first), at most 127 characters"
        );
        assert!(TableName::parse("a.b.c").is_err());
        assert!(TableName::parse("analytics.\"q\"").is_err());
        assert!(Ident::parse("column", "1abc").is_err());
        assert!(Ident::parse("column", "").is_err());
        assert!(Ident::parse("column", &"a".repeat(128)).is_err());
        assert!(Mode::parse(Some("merge"), &["id); drop".into()]).is_err());
        assert!(Mode::parse(Some("upsert"), &[]).is_err());
        assert_eq!(Mode::parse(Some("merge"), &[]), Err(SqlError::NoMergeKeys));
    }

    #[test]
    fn identifiers_and_literals_are_quoted() {
        assert_eq!(
            t("analytics.order_lines").to_string(),
            "\"analytics\".\"order_lines\""
        );
        assert_eq!(t("Orders").to_string(), "\"Orders\"");
        assert_eq!(literal("it's a \\ test"), "'it''s a \\\\ test'");
        assert_eq!(
            t("analytics.order_lines").ledger().to_string(),
            "\"analytics\".\"tributary_load_ledger\""
        );
    }

    #[test]
    fn merge_deletes_matching_keys_then_inserts() {
        let s = apply(
            &t("a.t"),
            &stage_name("L1"),
            &cols(&["order_id", "line_no", "qty"]),
            &Mode::Merge(cols(&["order_id", "line_no"])),
        );
        assert_eq!(
            s,
            [
                "DELETE FROM \"a\".\"t\" USING \"tributary_stage_L1\" WHERE \"a\".\"t\".\"order_id\" = \"tributary_stage_L1\".\"order_id\" AND \"a\".\"t\".\"line_no\" = \"tributary_stage_L1\".\"line_no\"",
                "INSERT INTO \"a\".\"t\" (\"order_id\", \"line_no\", \"qty\") SELECT \"order_id\", \"line_no\", \"qty\" FROM \"tributary_stage_L1\"",
            ]
        );
    }

    #[test]
    fn append_and_replace() {
        let c = cols(&["x"]);
        assert_eq!(
            apply(&t("t"), &stage_name("s"), &c, &Mode::Append),
            ["INSERT INTO \"t\" (\"x\") SELECT \"x\" FROM \"tributary_stage_s\""]
        );
        assert_eq!(
            apply(&t("t"), &stage_name("s"), &c, &Mode::Replace)[0],
            "DELETE FROM \"t\""
        );
    }

    #[test]
    fn the_ledger_records_every_file_with_escaped_values() {
        let entries = [
            LedgerEntry {
                url: "s3://b/curated/o'k.parquet".into(),
                etag: "e1".into(),
            },
            LedgerEntry {
                url: "s3://b/2.parquet".into(),
                etag: "e2".into(),
            },
        ];
        let sql = record(
            &t("a.t"),
            &entries,
            "L1",
            Some("arn:x:execution:m:e'1"),
            "now()",
        )
        .expect("statement");
        assert_eq!(
            sql,
            "INSERT INTO \"a\".\"tributary_load_ledger\" (table_name, file_url, etag, load_id, loaded_at, correlation_id) VALUES ('a.t', 's3://b/curated/o''k.parquet', 'e1', 'L1', now(), 'arn:x:execution:m:e''1'), ('a.t', 's3://b/2.parquet', 'e2', 'L1', now(), 'arn:x:execution:m:e''1')"
        );
        let by_hand = record(&t("a.t"), &entries[1..], "L1", None, "now()").expect("statement");
        assert!(by_hand.ends_with("'L1', now(), NULL)"), "{by_hand}");
        assert_eq!(record(&t("a.t"), &[], "L1", None, "now()"), None);
        assert_eq!(
            add_correlation_column(&t("a.t"), "text", true),
            "ALTER TABLE \"a\".\"tributary_load_ledger\" ADD COLUMN IF NOT EXISTS correlation_id text"
        );
        assert_eq!(
            add_correlation_column(&t("a.t"), "VARCHAR(1024)", false),
            "ALTER TABLE \"a\".\"tributary_load_ledger\" ADD COLUMN correlation_id VARCHAR(1024)"
        );
        assert_eq!(
            select_loaded(&t("a.t")),
            "SELECT file_url, etag FROM \"a\".\"tributary_load_ledger\" WHERE table_name = 'a.t'"
        );
    }

    #[test]
    fn the_redshift_load_is_one_transaction_of_lock_stage_copy_apply_record() {
        let entries = [LedgerEntry {
            url: "s3://b/x.parquet".into(),
            etag: "e".into(),
        }];
        let one = |columns: &[&str]| CopySet {
            manifest_url: "s3://b/manifests/a.t/L1.json".into(),
            columns: cols(columns),
        };
        let load = RedshiftLoad {
            target: &t("a.t"),
            ddl: Vec::new(),
            sets: vec![one(&[])],
            columns: cols(&["x"]),
            mode: &Mode::Append,
            iam_role: "arn:aws:iam::1:role/r",
            entries: &entries,
            load_id: "L1",
            correlation_id: Some("c1"),
        };
        let s = redshift_load(&load);
        assert!(s[0].starts_with("CREATE TABLE IF NOT EXISTS \"a\".\"tributary_load_ledger\""));
        assert_eq!(s[1], "LOCK \"a\".\"tributary_load_ledger\"");
        assert_eq!(
            s[2],
            "SELECT 1 / (CASE WHEN COUNT(*) = 0 THEN 1 ELSE 0 END) /* tributary: stop if another load recorded these files */ FROM \"a\".\"tributary_load_ledger\" WHERE table_name = 'a.t' AND ((file_url = 's3://b/x.parquet' AND etag = 'e'))"
        );
        assert_eq!(
            s[3],
            "CREATE TEMP TABLE \"tributary_stage_L1\" (LIKE \"a\".\"t\" INCLUDING DEFAULTS)"
        );
        assert_eq!(
            s[4],
            "COPY \"tributary_stage_L1\" FROM 's3://b/manifests/a.t/L1.json' IAM_ROLE 'arn:aws:iam::1:role/r' FORMAT AS PARQUET MANIFEST"
        );
        assert!(s[5].starts_with("INSERT INTO \"a\".\"t\""));
        assert!(s[6].starts_with("INSERT INTO \"a\".\"tributary_load_ledger\""));
        assert!(s[6].ends_with(", 'c1')"), "{}", s[6]);
        assert_eq!(s[7], "DROP TABLE \"tributary_stage_L1\"");
        assert_eq!(s.len(), 8);

        // Files with known columns: DDL after the guard, and each set in a stage of its own shape, moved in by
        // name.
        let evolved = RedshiftLoad {
            ddl: vec!["ALTER TABLE \"a\".\"t\" ADD COLUMN \"y\" VARCHAR(65535)".into()],
            sets: vec![one(&["x"]), one(&["y", "x"])],
            columns: cols(&["x", "y"]),
            ..load
        };
        let s = redshift_load(&evolved);
        assert_eq!(
            &s[3..13],
            [
                "ALTER TABLE \"a\".\"t\" ADD COLUMN \"y\" VARCHAR(65535)",
                "CREATE TEMP TABLE \"tributary_stage_L1\" (LIKE \"a\".\"t\" INCLUDING DEFAULTS)",
                "CREATE TEMP TABLE \"tributary_stage_L1_1\" AS SELECT \"x\" FROM \"tributary_stage_L1\" WHERE 1 = 0",
                "COPY \"tributary_stage_L1_1\" FROM 's3://b/manifests/a.t/L1.json' IAM_ROLE 'arn:aws:iam::1:role/r' FORMAT AS PARQUET MANIFEST",
                "INSERT INTO \"tributary_stage_L1\" (\"x\") SELECT \"x\" FROM \"tributary_stage_L1_1\"",
                "DROP TABLE \"tributary_stage_L1_1\"",
                "CREATE TEMP TABLE \"tributary_stage_L1_2\" AS SELECT \"y\", \"x\" FROM \"tributary_stage_L1\" WHERE 1 = 0",
                "COPY \"tributary_stage_L1_2\" FROM 's3://b/manifests/a.t/L1.json' IAM_ROLE 'arn:aws:iam::1:role/r' FORMAT AS PARQUET MANIFEST",
                "INSERT INTO \"tributary_stage_L1\" (\"y\", \"x\") SELECT \"y\", \"x\" FROM \"tributary_stage_L1_2\"",
                "DROP TABLE \"tributary_stage_L1_2\"",
            ]
        );
        assert!(s[13].starts_with("INSERT INTO \"a\".\"t\" (\"x\", \"y\")"));
    }

    #[test]
    fn load_error_rows_are_read_for_the_failed_query() {
        assert_eq!(
            load_errors(4242),
            "SELECT line_number, column_name, error_code, error_message, file_name FROM sys_load_error_detail WHERE query_id = 4242 ORDER BY line_number LIMIT 20"
        );
    }

    #[test]
    fn stage_names_are_safe_whatever_the_load_id() {
        assert_eq!(
            stage_name("ab-12; drop").to_string(),
            "\"tributary_stage_ab12drop\""
        );
    }
}
