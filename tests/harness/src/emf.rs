//! The CloudWatch Embedded Metric Format's rules, as its specification (and its JSON schema) state them, checked on
//! what a function printed: tests read metrics through [`crate::World::emf`], so a malformed record fails the test
//! that emitted it instead of being dropped by CloudWatch without a word.

use serde_json::Value;

/// Why `doc` is not a valid EMF record, or `Ok`.
pub fn check(doc: &Value) -> Result<(), String> {
    let root = doc.as_object().ok_or("an EMF record is a JSON object")?;
    let aws = root
        .get("_aws")
        .and_then(Value::as_object)
        .ok_or("_aws is an object")?;
    let timestamp = aws.get("Timestamp").and_then(Value::as_i64);
    if timestamp.is_none_or(|t| t < 0) {
        return Err(
            "_aws.Timestamp is a non-negative integer (milliseconds since the epoch)".into(),
        );
    }
    let directives = aws
        .get("CloudWatchMetrics")
        .and_then(Value::as_array)
        .ok_or("_aws.CloudWatchMetrics is an array")?;
    for directive in directives {
        let namespace = directive["Namespace"]
            .as_str()
            .ok_or("Namespace is a string")?;
        if namespace.is_empty() || namespace.len() > 1024 {
            return Err(format!("Namespace {namespace:?} is 1-1024 characters"));
        }
        let sets = directive["Dimensions"]
            .as_array()
            .ok_or("Dimensions is an array of dimension sets")?;
        for set in sets {
            let names = set.as_array().ok_or("each dimension set is an array")?;
            if names.len() > 30 {
                return Err(format!(
                    "a dimension set has {} dimensions, at most 30",
                    names.len()
                ));
            }
            for name in names {
                let name = name.as_str().ok_or("a dimension name is a string")?;
                if !root.get(name).is_some_and(Value::is_string) {
                    return Err(format!(
                        "dimension {name:?} has no string value at the root"
                    ));
                }
            }
        }
        let metrics = directive["Metrics"]
            .as_array()
            .ok_or("Metrics is an array")?;
        if metrics.len() > 100 {
            return Err(format!(
                "{} metrics, at most 100 per directive",
                metrics.len()
            ));
        }
        for metric in metrics {
            let name = metric["Name"].as_str().ok_or("a metric has a Name")?;
            if name.is_empty() || name.len() > 1024 {
                return Err(format!("metric name {name:?} is 1-1024 characters"));
            }
            let value = root
                .get(name)
                .ok_or_else(|| format!("metric {name:?} has no value at the root"))?;
            let numeric = value.is_number()
                || value.as_array().is_some_and(|v| {
                    !v.is_empty() && v.len() <= 100 && v.iter().all(Value::is_number)
                });
            if !numeric {
                return Err(format!(
                    "metric {name:?} is a number or an array of 1-100 numbers"
                ));
            }
            if let Some(unit) = metric.get("Unit") {
                const UNITS: [&str; 27] = [
                    "Seconds",
                    "Microseconds",
                    "Milliseconds",
                    "Bytes",
                    "Kilobytes",
                    "Megabytes",
                    "Gigabytes",
                    "Terabytes",
                    "Bits",
                    "Kilobits",
                    "Megabits",
                    "Gigabits",
                    "Terabits",
                    "Percent",
                    "Count",
                    "Bytes/Second",
                    "Kilobytes/Second",
                    "Megabytes/Second",
                    "Gigabytes/Second",
                    "Terabytes/Second",
                    "Bits/Second",
                    "Kilobits/Second",
                    "Megabits/Second",
                    "Gigabits/Second",
                    "Terabits/Second",
                    "Count/Second",
                    "None",
                ];
                if !unit.as_str().is_some_and(|u| UNITS.contains(&u)) {
                    return Err(format!(
                        "metric {name:?} has unit {unit}, not a CloudWatch unit"
                    ));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_record_missing_what_the_specification_requires_is_refused() {
        let good = json!({"Function": "f", "Rows": 3.0, "_aws": {"Timestamp": 1, "CloudWatchMetrics": [
            {"Namespace": "N", "Dimensions": [["Function"]], "Metrics": [{"Name": "Rows", "Unit": "Count"}]}]}});
        assert_eq!(check(&good), Ok(()));
        let mut no_dimension_value = good.clone();
        no_dimension_value
            .as_object_mut()
            .map(|o| o.remove("Function"));
        assert!(check(&no_dimension_value).is_err());
        let mut flat_dimensions = good.clone();
        flat_dimensions["_aws"]["CloudWatchMetrics"][0]["Dimensions"] = json!(["Function"]);
        assert!(check(&flat_dimensions).is_err());
        let mut bad_unit = good.clone();
        bad_unit["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"] = json!("Rows");
        assert!(check(&bad_unit).is_err());
        let mut text_value = good;
        text_value["Rows"] = json!("3");
        assert!(check(&text_value).is_err());
    }
}
