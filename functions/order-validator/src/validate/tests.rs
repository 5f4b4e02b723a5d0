//! Bytes-in, result-out tests of every order rule, the money arithmetic through JSON, and the content hash.

use super::*;
use chrono::TimeZone;
use serde_json::{Value, json};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, 12, 0, 0)
        .single()
        .expect("valid time")
}

/// The issue's example order.
fn example() -> Value {
    json!({
        "order_id": "PO-1001",
        "vendor": "Acme, Inc.",
        "customer_id": 42,
        "currency": "USD",
        "created_at": "2026-11-21T10:00:00Z",
        "line_items": [{"product_id": "SKU-1", "quantity": 3, "unit_price": "19.99"}]
    })
}

/// The example with one top-level field replaced (or removed, with `None`).
fn example_with(key: &str, value: Option<Value>) -> Vec<u8> {
    let mut order = example();
    if let Some(object) = order.as_object_mut() {
        match value {
            Some(v) => object.insert(key.to_owned(), v),
            None => object.remove(key),
        };
    }
    order.to_string().into_bytes()
}

/// The example with its line items replaced by raw JSON text (so number literals are exactly as written).
fn with_lines(currency: &str, lines: &str) -> Vec<u8> {
    format!(
        r#"{{"order_id": "PO-1", "vendor": "V", "currency": "{currency}",
            "created_at": "2026-11-21T10:00:00Z", "line_items": {lines}}}"#
    )
    .into_bytes()
}

fn ok(bytes: &[u8]) -> ValidOrder {
    validate(bytes, now()).unwrap_or_else(|errors| {
        panic!(
            "expected a valid order, got {errors:?} for {}",
            String::from_utf8_lossy(bytes)
        )
    })
}

fn rejections(bytes: &[u8]) -> Vec<Rejection> {
    match validate(bytes, now()) {
        Ok(order) => panic!(
            "expected rejections, got {order:?} for {}",
            String::from_utf8_lossy(bytes)
        ),
        Err(errors) => errors,
    }
}

fn paths(bytes: &[u8]) -> Vec<String> {
    rejections(bytes).into_iter().map(|r| r.path).collect()
}

/// The single rejection, asserting its path; returns the message.
fn only(bytes: &[u8], path: &str) -> String {
    let errors = rejections(bytes);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].path, path, "{errors:?}");
    errors[0].message.clone()
}

fn total(currency: &str, lines: &str) -> String {
    ok(&with_lines(currency, lines)).total
}

// ---- the happy path ------------------------------------------------------------------------------------

#[test]
fn accepts_the_issue_example_in_canonical_form() {
    let order = ok(&example().to_string().into_bytes());
    assert_eq!(order.order_id, "PO-1001");
    assert_eq!(order.vendor, "Acme, Inc.");
    assert_eq!(order.customer_id, Some(CustomerId::Integer(42.into())));
    assert_eq!(order.currency.code(), "USD");
    assert_eq!(order.total, "59.97");
    assert_eq!(order.line_count, 1);
    assert_eq!(order.validated_at, now());
    assert_eq!(
        order.line_items,
        [LineItem {
            product_id: "SKU-1".into(),
            quantity: 3,
            unit_price: Decimal::new(1999, 2),
        }]
    );
    let json = serde_json::to_value(&order).expect("serializes");
    assert_eq!(
        json,
        json!({
            "order_id": "PO-1001",
            "vendor": "Acme, Inc.",
            "customer_id": 42,
            "currency": "USD",
            "total": "59.97",
            "line_count": 1,
            "created_at": "2026-11-21T10:00:00Z",
            "validated_at": "2026-11-21T12:00:00.000Z",
            "payload_hash": order.payload_hash,
        })
    );
}

#[test]
fn strings_are_trimmed() {
    let order = ok(
        br#"{"order_id": "  PO-7 ", "vendor": "\tAcme\n", "customer_id": " C-9 ",
        "currency": " usd ", "created_at": " 2026-11-21T10:00:00Z ",
        "line_items": [{"product_id": " SKU-1 ", "quantity": 1, "unit_price": " 2.50 "}]}"#,
    );
    assert_eq!(order.order_id, "PO-7");
    assert_eq!(order.vendor, "Acme");
    assert_eq!(order.customer_id, Some(CustomerId::Text("C-9".into())));
    assert_eq!(order.currency.code(), "USD");
    assert_eq!(order.line_items[0].product_id, "SKU-1");
    assert_eq!(order.total, "2.50");
}

#[test]
fn unknown_keys_are_ignored_and_a_byte_order_mark_is_allowed() {
    let mut order = example();
    order["notes"] = json!("rush");
    order["line_items"][0]["description"] = json!({"any": ["thing"]});
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend(order.to_string().into_bytes());
    assert_eq!(ok(&bytes).total, "59.97");
}

#[test]
fn id_is_accepted_as_an_alias_for_order_id() {
    let mut order = example();
    let id = order["order_id"].take();
    order["id"] = id;
    if let Some(o) = order.as_object_mut() {
        o.remove("order_id");
    }
    let order = ok(order.to_string().as_bytes());
    assert_eq!(order.order_id, "PO-1001");
    assert_eq!(
        order.payload_hash,
        ok(&example().to_string().into_bytes()).payload_hash,
        "the alias does not change the content"
    );
}

#[test]
fn id_and_order_id_must_agree_when_both_are_given() {
    ok(&example_with("id", Some(json!(" PO-1001"))));
    let message = only(&example_with("id", Some(json!("PO-2"))), "id");
    assert!(message.contains("differs from order_id"), "{message}");
    // A null id is as good as none.
    ok(&example_with("id", Some(Value::Null)));
}

// ---- required fields and types ----------------------------------------------------------------------

#[test]
fn every_missing_required_field_is_reported() {
    assert_eq!(
        paths(b"{}"),
        ["order_id", "vendor", "currency", "created_at", "line_items"]
    );
    let message = only(&example_with("order_id", None), "order_id");
    assert!(
        message.contains("order_id (or its alias id) is required"),
        "{message}"
    );
}

#[test]
fn null_counts_as_missing() {
    for key in ["order_id", "vendor", "currency", "created_at", "line_items"] {
        let message = only(&example_with(key, Some(Value::Null)), key);
        assert!(message.contains("is required"), "{key}: {message}");
    }
}

#[test]
fn blank_required_strings_are_rejected() {
    for key in ["order_id", "vendor", "currency", "created_at"] {
        let message = only(&example_with(key, Some(json!(" \t "))), key);
        assert_eq!(message, format!("{key} must not be blank"));
    }
    let message = only(
        &with_lines(
            "USD",
            r#"[{"product_id": "", "quantity": 1, "unit_price": 1}]"#,
        ),
        "line_items[0].product_id",
    );
    assert_eq!(message, "product_id must not be blank");
}

#[test]
fn required_strings_of_another_type_are_type_errors() {
    assert_eq!(
        only(&example_with("vendor", Some(json!(42))), "vendor"),
        "vendor must be a string, got a number"
    );
    assert_eq!(
        only(&example_with("order_id", Some(json!(["PO-1"]))), "order_id"),
        "order_id must be a string, got an array"
    );
    assert_eq!(
        only(
            &with_lines(
                "USD",
                r#"[{"product_id": 7, "quantity": 1, "unit_price": 1}]"#
            ),
            "line_items[0].product_id"
        ),
        "product_id must be a string, got a number"
    );
}

#[test]
fn reports_every_violation_at_once_with_its_path() {
    let bytes = br#"{"order_id": "PO-9", "vendor": "  ", "currency": "DOLLARS",
        "created_at": "2026-11-21T10:00:00Z",
        "line_items": [
            {"product_id": "SKU-1", "quantity": 1, "unit_price": "1.00"},
            {"product_id": "SKU-2", "quantity": "3", "unit_price": "2.00"},
            {"product_id": "SKU-3", "quantity": 2, "unit_price": -4.5}
        ]}"#;
    let errors = rejections(bytes);
    let got: Vec<(&str, &str)> = errors
        .iter()
        .map(|r| (r.path.as_str(), r.message.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("vendor", "vendor must not be blank"),
            (
                "currency",
                "currency \"DOLLARS\" is not an active ISO 4217 currency code"
            ),
            (
                "line_items[1].quantity",
                "quantity must be a JSON integer, got a string (\"3\")"
            ),
            (
                "line_items[2].unit_price",
                "unit_price must not be negative, got -4.5"
            ),
        ]
    );
    let outcome = outcome(bytes, now());
    assert_eq!(outcome.status, Status::Invalid);
    assert_eq!(outcome.order_id.as_deref(), Some("PO-9"));
}

#[test]
fn a_key_given_twice_is_rejected_rather_than_silently_overwritten() {
    let bytes = br#"{"order_id": "PO-1", "vendor": "A", "vendor": "B", "currency": "USD",
        "created_at": "2026-11-21T10:00:00Z",
        "line_items": [{"product_id": "S", "quantity": 1, "quantity": 100, "unit_price": 1}]}"#;
    assert_eq!(paths(bytes), ["vendor", "line_items[0].quantity"]);
}

#[test]
fn a_string_with_a_lone_surrogate_is_rejected_at_its_path() {
    let bytes = br#"{"order_id": "PO-1", "vendor": "\ud800", "currency": "USD",
        "created_at": "2026-11-21T10:00:00Z",
        "line_items": [{"product_id": "S", "quantity": 1, "unit_price": 1}]}"#;
    let message = only(bytes, "vendor");
    assert!(message.contains("not valid JSON text"), "{message}");
}

// ---- document shape ---------------------------------------------------------------------------------

#[test]
fn malformed_json_is_one_error_at_the_root_with_line_and_column() {
    let bytes = b"{\n  \"order_id\": \"PO-1\",\n  \"vendor\" \"Acme\"\n}";
    let message = only(bytes, "$");
    assert!(message.starts_with("malformed JSON: "), "{message}");
    assert!(message.contains("line 3 column 12"), "{message}");

    for bytes in [
        &b""[..],
        b"{",
        b"{\"a\": 1} trailing",
        b"{'single': 1}",
        b"{\"a\": NaN}",
    ] {
        let message = only(bytes, "$");
        assert!(message.contains(" line "), "{message}");
    }
}

#[test]
fn invalid_utf8_is_malformed_json_with_its_position() {
    let message = only(b"{\"order_id\":\n \"caf\xe9\"}", "$");
    assert_eq!(message, "malformed JSON: invalid UTF-8 at line 2 column 6");
}

#[test]
fn the_top_level_must_be_an_object() {
    for (text, kind) in [
        ("[]", "an array"),
        ("\"PO-1\"", "a string"),
        ("42", "a number"),
        ("true", "a boolean"),
        ("null", "null"),
    ] {
        assert_eq!(
            only(text.as_bytes(), "$"),
            format!("an order must be a JSON object, got {kind}")
        );
    }
}

#[test]
fn line_items_must_be_a_non_empty_array_of_objects() {
    assert_eq!(
        only(
            &example_with("line_items", Some(json!({"product_id": "S"}))),
            "line_items"
        ),
        "line_items must be an array of line items, got an object"
    );
    assert_eq!(
        only(&example_with("line_items", Some(json!([]))), "line_items"),
        "line_items must have at least one line item"
    );
    assert_eq!(
        only(
            &with_lines(
                "USD",
                r#"[{"product_id": "S", "quantity": 1, "unit_price": 1}, "SKU-2"]"#
            ),
            "line_items[1]"
        ),
        "a line item must be an object, got a string"
    );
}

// ---- quantity -----------------------------------------------------------------------------------------

fn quantity_error(quantity: &str) -> String {
    only(
        &with_lines(
            "USD",
            &format!(r#"[{{"product_id": "S", "quantity": {quantity}, "unit_price": 1}}]"#),
        ),
        "line_items[0].quantity",
    )
}

#[test]
fn quantity_must_be_a_positive_json_integer() {
    assert_eq!(
        quantity_error(r#""3""#),
        "quantity must be a JSON integer, got a string (\"3\")"
    );
    assert_eq!(quantity_error("0"), "quantity must be at least 1, got 0");
    assert_eq!(quantity_error("-2"), "quantity must be at least 1, got -2");
    assert_eq!(quantity_error("-0"), "quantity must be at least 1, got -0");
    for fractional in ["3.0", "2.5", "1e2"] {
        assert!(
            quantity_error(fractional).contains("without a fraction or exponent"),
            "{fractional}"
        );
    }
    assert_eq!(
        quantity_error("true"),
        "quantity must be a JSON integer, got a boolean"
    );
    assert_eq!(quantity_error("null"), "quantity is required");
    assert!(quantity_error("18446744073709551616").contains("too large"));
    assert_eq!(
        ok(&with_lines(
            "USD",
            r#"[{"product_id": "S", "quantity": 18446744073709551615, "unit_price": 0}]"#
        ))
        .line_items[0]
            .quantity,
        u64::MAX
    );
}

#[test]
fn a_missing_quantity_or_unit_price_is_reported() {
    assert_eq!(
        paths(&with_lines("USD", r#"[{"product_id": "S"}]"#)),
        ["line_items[0].quantity", "line_items[0].unit_price"]
    );
}

// ---- unit_price and money -------------------------------------------------------------------------------

fn price_error(price: &str) -> String {
    only(
        &with_lines(
            "USD",
            &format!(r#"[{{"product_id": "S", "quantity": 1, "unit_price": {price}}}]"#),
        ),
        "line_items[0].unit_price",
    )
}

#[test]
fn unit_price_must_be_a_non_negative_decimal() {
    assert_eq!(
        price_error("-0.01"),
        "unit_price must not be negative, got -0.01"
    );
    assert_eq!(
        price_error(r#""-5""#),
        "unit_price must not be negative, got \"-5\""
    );
    assert_eq!(
        price_error(r#""abc""#),
        "unit_price \"abc\" is not a decimal number"
    );
    assert_eq!(
        price_error(r#""1,000.00""#),
        "unit_price \"1,000.00\" is not a decimal number"
    );
    assert_eq!(price_error(r#""""#), "unit_price must not be blank");
    assert_eq!(
        price_error("false"),
        "unit_price must be a number or a decimal string, got a boolean"
    );
    assert!(price_error("1e400").contains("more digits than can be held exactly"));
    assert!(price_error(r#""0.00000000000000000000000000001""#).contains("held exactly"));
}

#[test]
fn a_free_line_is_allowed() {
    assert_eq!(
        total(
            "USD",
            r#"[{"product_id": "S", "quantity": 5, "unit_price": "-0.00"}]"#
        ),
        "0.00"
    );
}

#[test]
fn unit_price_may_be_a_json_number_or_a_string() {
    assert_eq!(
        total(
            "USD",
            r#"[{"product_id": "A", "quantity": 2, "unit_price": 19.99},
                {"product_id": "B", "quantity": 1, "unit_price": "5.02"}]"#
        ),
        "45.00"
    );
}

#[test]
fn three_times_ten_cents_is_exactly_thirty_cents_not_a_float() {
    assert_eq!(
        total(
            "USD",
            r#"[{"product_id": "S", "quantity": 3, "unit_price": 0.10}]"#
        ),
        "0.30"
    );
    assert_eq!(
        total(
            "USD",
            r#"[{"product_id": "A", "quantity": 1, "unit_price": 0.1},
                {"product_id": "B", "quantity": 1, "unit_price": 0.2}]"#
        ),
        "0.30"
    );
    // 0.1 + 0.2 as f64 is 0.30000000000000004; summed a thousand times, a float drifts further.
    let lines: Vec<String> = (0..1000)
        .map(|i| format!(r#"{{"product_id": "P{i}", "quantity": 1, "unit_price": 0.01}}"#))
        .collect();
    assert_eq!(total("USD", &format!("[{}]", lines.join(","))), "10.00");
}

#[test]
fn json_numbers_are_read_from_their_literal_text_not_through_f64() {
    // Through an f64 this literal becomes 0.3335, and 3 × 0.3335 = 1.0005 rounds half-even to 1.000. Read
    // from its text it is just above the midpoint, so the total rounds up.
    let order = ok(&with_lines(
        "KWD",
        r#"[{"product_id": "S", "quantity": 3, "unit_price": 0.33350000000000000001}]"#,
    ));
    assert_eq!(order.total, "1.001");
    assert_eq!(
        order.line_items[0].unit_price.to_string(),
        "0.33350000000000000001"
    );
    // More digits than an f64 holds survive too.
    assert_eq!(
        ok(&with_lines(
            "USD",
            r#"[{"product_id": "S", "quantity": 1, "unit_price": 12345678901234567890.12}]"#
        ))
        .total,
        "12345678901234567890.12"
    );
    assert_eq!(
        total(
            "USD",
            r#"[{"product_id": "S", "quantity": 1, "unit_price": 1.999e1}]"#
        ),
        "19.99"
    );
}

#[test]
fn unit_prices_finer_than_the_minor_unit_are_allowed_and_only_the_total_is_rounded() {
    assert_eq!(
        total(
            "USD",
            r#"[{"product_id": "S", "quantity": 1, "unit_price": "0.125"}]"#
        ),
        "0.12"
    );
    assert_eq!(
        total(
            "USD",
            r#"[{"product_id": "S", "quantity": 1, "unit_price": "0.135"}]"#
        ),
        "0.14"
    );
    // Rounded once at the end: 8 × 0.125 is exactly 1, where rounding each line first would give 0.96.
    assert_eq!(
        total(
            "USD",
            r#"[{"product_id": "S", "quantity": 8, "unit_price": "0.125"}]"#
        ),
        "1.00"
    );
}

#[test]
fn yen_totals_round_half_even_to_whole_yen() {
    assert_eq!(
        total(
            "JPY",
            r#"[{"product_id": "S", "quantity": 3, "unit_price": 33.5}]"#
        ),
        "100"
    );
    assert_eq!(
        total(
            "JPY",
            r#"[{"product_id": "S", "quantity": 3, "unit_price": "34.5"}]"#
        ),
        "104"
    );
    assert_eq!(
        total(
            "JPY",
            r#"[{"product_id": "S", "quantity": 4, "unit_price": 250}]"#
        ),
        "1000"
    );
}

#[test]
fn dinar_totals_have_three_decimal_places() {
    assert_eq!(
        total(
            "KWD",
            r#"[{"product_id": "S", "quantity": 2, "unit_price": "0.6175"}]"#
        ),
        "1.235"
    );
    assert_eq!(
        total(
            "KWD",
            r#"[{"product_id": "S", "quantity": 1, "unit_price": 1.2345}]"#
        ),
        "1.234"
    );
    assert_eq!(
        total(
            "KWD",
            r#"[{"product_id": "S", "quantity": 1, "unit_price": 7}]"#
        ),
        "7.000"
    );
}

#[test]
fn a_line_too_large_to_compute_exactly_is_rejected() {
    let bytes = with_lines(
        "USD",
        r#"[{"product_id": "S", "quantity": 18446744073709551615, "unit_price": "79228162514264337593543950335"}]"#,
    );
    assert_eq!(
        only(&bytes, "line_items[0]"),
        "quantity × unit_price is too large to compute exactly"
    );
}

// ---- total --------------------------------------------------------------------------------------------

#[test]
fn a_given_total_must_equal_the_computed_one_as_a_decimal() {
    let lines = r#"[{"product_id": "S", "quantity": 3, "unit_price": "0.10"}]"#;
    for given in [r#""0.3""#, r#""0.30""#, "0.30", "0.3", r#""0.300""#, "3e-1"] {
        let bytes = with_lines("USD", lines);
        let mut order: Value = serde_json::from_slice(&bytes).expect("json");
        order["total"] = serde_json::from_str(given).expect("json");
        // serde_json writes 0.3 back as 0.3; the string forms stay strings.
        assert_eq!(ok(order.to_string().as_bytes()).total, "0.30", "{given}");
    }
    let mut order: Value = serde_json::from_slice(&with_lines("USD", lines)).expect("json");
    order["total"] = json!("0.31");
    assert_eq!(
        only(order.to_string().as_bytes(), "total"),
        "total 0.31 does not match the computed total 0.30 (the sum of quantity × unit_price, rounded half-even to 2 decimal places for USD)"
    );
    // The unrounded sum is not the total either.
    order["total"] = json!("0.295");
    order["line_items"] = json!([{"product_id": "S", "quantity": 1, "unit_price": "0.295"}]);
    assert_eq!(paths(order.to_string().as_bytes()), ["total"]);
}

#[test]
fn a_given_total_is_checked_for_type_and_sign() {
    assert_eq!(
        only(&example_with("total", Some(json!("lots"))), "total"),
        "total \"lots\" is not a decimal number"
    );
    assert_eq!(
        only(&example_with("total", Some(json!(-59.97))), "total"),
        "total must not be negative, got -59.97"
    );
    assert_eq!(
        only(&example_with("total", Some(json!([1]))), "total"),
        "total must be a number or a decimal string, got an array"
    );
    ok(&example_with("total", Some(Value::Null)));
    ok(&example_with("total", Some(json!("59.97"))));
}

#[test]
fn a_total_cannot_be_checked_without_a_known_currency_and_is_not_blamed() {
    let mut order = example();
    order["currency"] = json!("ZZZ");
    order["total"] = json!("1.00");
    assert_eq!(paths(order.to_string().as_bytes()), ["currency"]);
}

// ---- currency ---------------------------------------------------------------------------------------

#[test]
fn currency_must_be_an_active_iso_4217_code() {
    assert_eq!(
        only(&example_with("currency", Some(json!("HRK"))), "currency"),
        "currency \"HRK\" is not an active ISO 4217 currency code"
    );
    assert!(
        only(&example_with("currency", Some(json!("XAU"))), "currency")
            .contains("without minor units")
    );
    assert_eq!(
        only(&example_with("currency", Some(json!(840))), "currency"),
        "currency must be a string, got a number"
    );
    assert_eq!(
        ok(&example_with("currency", Some(json!("eur"))))
            .currency
            .code(),
        "EUR"
    );
}

// ---- created_at -------------------------------------------------------------------------------------

#[test]
fn created_at_is_rfc_3339_and_normalized_to_utc() {
    let at = |text: &str| {
        let order = ok(&example_with("created_at", Some(json!(text))));
        serde_json::to_value(&order).expect("serializes")["created_at"].clone()
    };
    assert_eq!(
        at("2026-11-21T12:30:00+02:30"),
        json!("2026-11-21T10:00:00Z")
    );
    assert_eq!(
        at("2026-11-20T23:00:00-05:00"),
        json!("2026-11-21T04:00:00Z")
    );
    assert_eq!(
        at("2026-11-21T10:00:00.250Z"),
        json!("2026-11-21T10:00:00.250Z")
    );
    assert_eq!(
        at("2026-11-21t10:00:00.000z"),
        json!("2026-11-21T10:00:00Z")
    );
    for bad in [
        "2026-11-21",
        "2026-11-21T10:00:00",
        "21/11/2026 10:00",
        "2026-02-30T10:00:00Z",
        "2026-11-21T25:00:00Z",
        "yesterday",
    ] {
        let message = only(&example_with("created_at", Some(json!(bad))), "created_at");
        assert!(
            message.contains("is not an RFC 3339 timestamp"),
            "{bad}: {message}"
        );
    }
}

#[test]
fn created_at_may_be_up_to_24_hours_in_the_future_but_not_more() {
    let at = |offset: TimeDelta| {
        example_with(
            "created_at",
            Some(json!(
                (now() + offset).to_rfc3339_opts(SecondsFormat::AutoSi, true)
            )),
        )
    };
    ok(&at(TimeDelta::hours(23)));
    ok(&at(TimeDelta::hours(24)));
    ok(&at(-TimeDelta::days(3650)));
    let message = only(
        &at(TimeDelta::hours(24) + TimeDelta::seconds(1)),
        "created_at",
    );
    assert_eq!(
        message,
        "created_at 2026-11-22T12:00:01Z is more than 24 hours in the future (validated at 2026-11-21T12:00:00Z)"
    );
    assert_eq!(
        paths(&at(TimeDelta::days(30))),
        ["created_at"],
        "a month ahead"
    );
}

// ---- customer_id ------------------------------------------------------------------------------------

#[test]
fn customer_id_is_an_optional_integer_or_string_kept_as_given() {
    let customer = |value: Option<Value>| {
        let order = ok(&example_with("customer_id", value));
        serde_json::to_value(&order).expect("serializes")["customer_id"].clone()
    };
    assert_eq!(customer(Some(json!(42))), json!(42));
    assert_eq!(customer(Some(json!(-7))), json!(-7));
    assert_eq!(customer(Some(json!(u64::MAX))), json!(u64::MAX));
    assert_eq!(customer(Some(json!("0042"))), json!("0042"));
    assert_eq!(customer(Some(Value::Null)), Value::Null);
    assert_eq!(customer(None), Value::Null);
}

#[test]
fn customer_id_of_another_type_or_blank_is_rejected() {
    for (value, expected) in [
        (
            json!(4.2),
            "customer_id must be an integer (64-bit) or a string, got the number 4.2",
        ),
        (
            json!(true),
            "customer_id must be an integer or a string, got a boolean",
        ),
        (
            json!({"id": 1}),
            "customer_id must be an integer or a string, got an object",
        ),
        (
            json!("  "),
            "customer_id must not be blank; omit it or send null",
        ),
    ] {
        assert_eq!(
            only(&example_with("customer_id", Some(value)), "customer_id"),
            expected
        );
    }
    let huge = String::from_utf8(example_with("customer_id", Some(json!(0))))
        .expect("utf-8")
        .replace(
            r#""customer_id":0"#,
            r#""customer_id":18446744073709551616"#,
        );
    assert!(only(huge.as_bytes(), "customer_id").contains("64-bit"));
}

// ---- payload_hash ---------------------------------------------------------------------------------

fn hash(bytes: &[u8]) -> String {
    ok(bytes).payload_hash
}

#[test]
fn the_hash_is_sha256_of_the_documented_canonical_form() {
    let canonical = r#"["tributary.order.v1","PO-1001","Acme, Inc.",42,"USD","2026-11-21T10:00:00Z",[["SKU-1",3,"19.99"]]]"#;
    let expected = tributary_shared::hash::sha256_hex([canonical.as_bytes()], 32);
    let got = hash(&example().to_string().into_bytes());
    assert_eq!(got, expected, "changing the form invalidates stored hashes");
    assert_eq!(got.len(), 64);
    assert!(
        got.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    );
}

#[test]
fn the_hash_ignores_whitespace_key_order_and_spelling() {
    let reference = hash(&example().to_string().into_bytes());
    let respelled = br#"
    {
        "line_items" : [ { "unit_price" : 1.9990e1 , "quantity" : 3 , "product_id" : "  SKU-1" } ] ,
        "created_at" : "2026-11-21T05:00:00.000-05:00",
        "currency"   : "usd",
        "customer_id": 42,
        "vendor"     : " Acme, Inc. ",
        "id"         : "PO-1001",
        "total"      : "59.970",
        "notes"      : "ignored"
    }"#;
    assert_eq!(hash(respelled), reference);
    assert_eq!(
        validate(
            &example().to_string().into_bytes(),
            now() + TimeDelta::hours(5)
        )
        .map(|o| o.payload_hash)
        .ok(),
        Some(reference),
        "validated_at is not part of the content"
    );
}

#[test]
fn the_hash_changes_when_the_content_does() {
    let reference = hash(&example().to_string().into_bytes());
    let mut changed = Vec::new();
    for (pointer, value) in [
        ("/line_items/0/quantity", json!(4)),
        ("/line_items/0/unit_price", json!("19.98")),
        ("/line_items/0/product_id", json!("SKU-2")),
        ("/order_id", json!("PO-1002")),
        ("/vendor", json!("Acme Inc.")),
        ("/customer_id", json!("42")),
        ("/customer_id", Value::Null),
        ("/currency", json!("EUR")),
        ("/created_at", json!("2026-11-21T10:00:01Z")),
    ] {
        let mut order = example();
        if let Some(slot) = order.pointer_mut(pointer) {
            *slot = value;
        }
        let h = hash(order.to_string().as_bytes());
        assert_ne!(h, reference, "{pointer}");
        changed.push(h);
    }
    let mut order = example();
    order["line_items"] = json!([
        {"product_id": "SKU-1", "quantity": 2, "unit_price": "19.99"},
        {"product_id": "SKU-1", "quantity": 1, "unit_price": "19.99"}
    ]);
    assert_ne!(
        hash(order.to_string().as_bytes()),
        reference,
        "the same total from other lines is other content"
    );
    changed.sort();
    changed.dedup();
    assert_eq!(changed.len(), 9, "every change gives its own hash");
}

#[test]
fn strings_that_would_collide_if_concatenated_hash_differently() {
    let a = example_with("vendor", Some(json!("Acme,Inc.")));
    let mut b = example();
    b["order_id"] = json!("PO-1001Acme,");
    b["vendor"] = json!("Inc.");
    assert_ne!(hash(&a), hash(b.to_string().as_bytes()));
}

// ---- the result document --------------------------------------------------------------------------

#[test]
fn a_valid_outcome_carries_the_order_and_no_errors() {
    let result = outcome(&example().to_string().into_bytes(), now());
    let json = serde_json::to_value(&result).expect("serializes");
    assert_eq!(json["status"], "valid");
    assert_eq!(json["order_id"], "PO-1001");
    assert_eq!(json["order"]["total"], "59.97");
    assert_eq!(json["errors"], json!([]));
    let keys: Vec<&String> = json
        .as_object()
        .map(|o| o.keys().collect())
        .unwrap_or_default();
    assert_eq!(keys.len(), 4);
}

#[test]
fn an_invalid_outcome_has_a_null_order_and_the_id_when_one_could_be_read() {
    let bytes = example_with("currency", Some(json!("ZZZ")));
    let json = serde_json::to_value(outcome(&bytes, now())).expect("serializes");
    assert_eq!(
        json,
        json!({
            "status": "invalid",
            "order_id": "PO-1001",
            "order": null,
            "errors": [{"path": "currency", "message": "currency \"ZZZ\" is not an active ISO 4217 currency code"}]
        })
    );
    assert_eq!(readable_order_id(&bytes).as_deref(), Some("PO-1001"));

    let blank_id = example_with("order_id", Some(json!(" ")));
    assert_eq!(outcome(&blank_id, now()).order_id, None);
    assert_eq!(readable_order_id(&blank_id), None);
    let malformed = outcome(b"{\"order_id\": \"PO-1\",", now());
    assert_eq!(malformed.order_id, None);
    assert_eq!(malformed.errors.len(), 1);
    assert_eq!(readable_order_id(b"[]"), None);
    assert_eq!(
        readable_order_id(br#"{"order_id": 5, "id": " PO-5 "}"#).as_deref(),
        Some("PO-5")
    );
}

#[test]
fn the_handler_statuses_serialize_in_lower_case() {
    let order = ok(&example().to_string().into_bytes());
    let duplicate = serde_json::to_value(Outcome::duplicate(order.clone())).expect("serializes");
    assert_eq!(duplicate["status"], "duplicate");
    assert_eq!(
        duplicate["order"]["payload_hash"],
        json!(order.payload_hash)
    );
    let conflict = serde_json::to_value(Outcome::conflict(&order, "abc")).expect("serializes");
    assert_eq!(conflict["status"], "conflict");
    assert_eq!(conflict["order_id"], "PO-1001");
    assert_eq!(conflict["order"], Value::Null);
    assert_eq!(conflict["errors"][0]["path"], "order_id");
    assert_eq!(
        [
            Status::Valid,
            Status::Invalid,
            Status::Duplicate,
            Status::Conflict
        ]
        .map(Status::as_str),
        ["valid", "invalid", "duplicate", "conflict"]
    );
    assert_eq!(
        serde_json::from_str::<Status>("\"conflict\"").ok(),
        Some(Status::Conflict)
    );
}
