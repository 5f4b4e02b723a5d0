//! Hive-style partition paths (`year=YYYY/month=MM/day=DD[/hour=HH]`).

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};

/// `year=YYYY/month=MM/day=DD`
pub fn date_path(date: NaiveDate) -> String {
    format!(
        "year={:04}/month={:02}/day={:02}",
        date.year(),
        date.month(),
        date.day()
    )
}

/// `year=YYYY/month=MM/day=DD/hour=HH` in UTC.
pub fn hour_path(time: DateTime<Utc>) -> String {
    format!("{}/hour={:02}", date_path(time.date_naive()), time.hour())
}

/// Joins key segments with single slashes, ignoring empty segments and stray slashes at the joins.
pub fn join(segments: &[&str]) -> String {
    segments
        .iter()
        .map(|s| s.trim_matches('/'))
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn date_paths_are_zero_padded() {
        let d = NaiveDate::from_ymd_opt(2026, 1, 5).expect("valid date");
        assert_eq!(date_path(d), "year=2026/month=01/day=05");
    }

    #[test]
    fn hour_paths_use_utc() {
        let t = Utc
            .with_ymd_and_hms(2026, 11, 21, 7, 59, 59)
            .single()
            .expect("valid time");
        assert_eq!(hour_path(t), "year=2026/month=11/day=21/hour=07");
    }

    #[test]
    fn join_ignores_empty_segments_and_extra_slashes() {
        assert_eq!(
            join(&["curated/", "", "/orders", "year=2026/", "a.parquet"]),
            "curated/orders/year=2026/a.parquet"
        );
    }
}
