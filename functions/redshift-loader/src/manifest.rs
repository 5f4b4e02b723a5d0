//! The Redshift COPY manifest: every file, mandatory, with its length (required for Parquet).

use serde_json::{Value, json};

/// `{"entries": [{"url", "mandatory": true, "meta": {"content_length"}}]}`.
pub fn manifest(files: &[(String, u64)]) -> Value {
    json!({
        "entries": files
            .iter()
            .map(|(url, len)| json!({"url": url, "mandatory": true, "meta": {"content_length": len}}))
            .collect::<Vec<_>>()
    })
}

/// Where a load's manifest is written: `manifests/<table>/<load id>.json`.
pub fn manifest_key(prefix: &str, table: &str, load_id: &str) -> String {
    format!("{prefix}{table}/{load_id}.json")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entry_is_mandatory_with_its_length() {
        let m = manifest(&[
            ("s3://b/a.parquet".into(), 10),
            ("s3://b/b.parquet".into(), 20),
        ]);
        assert_eq!(
            m["entries"][1],
            json!({"url": "s3://b/b.parquet", "mandatory": true, "meta": {"content_length": 20}})
        );
        assert_eq!(
            manifest_key("manifests/", "analytics.order_lines", "L1"),
            "manifests/analytics.order_lines/L1.json"
        );
    }
}
