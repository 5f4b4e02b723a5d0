//! The order rules: purchase-order JSON bytes in, a canonical [`ValidOrder`] with its content hash out, or
//! every violation found, each with the JSON path it concerns; and the result document built from either.
//!
//! The JSON is read through [`RawValue`], so each number's literal text reaches [`money::parse_decimal`]
//! untouched: no amount ever passes through an `f64`.
//!
//! This module holds the outcome, the canonical order and the entry point; its children, which share its
//! imports, hold the JSON reader (`json`) and the rules (`rules`).

mod json;
mod rules;

use json::*;
use rules::*;

use crate::currency::{self, Currency};
use crate::money;
use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use rust_decimal::Decimal;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::value::RawValue;
use std::fmt;

/// How far past `now` an order's `created_at` may be (producers' clocks drift; more than this is a bug).
pub const MAX_FUTURE_SKEW: TimeDelta = TimeDelta::hours(24);

/// Prefix of the hashed canonical form. Changing the form means changing this tag, because stored hashes
/// are compared with new ones to tell a duplicate from a conflict.
const HASH_FORM: &str = "tributary.order.v1";

/// One rule an order breaks.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Rejection {
    /// Where: `"vendor"`, `"line_items[2].quantity"`, or `"$"` for the document as a whole.
    pub path: String,
    /// What is wrong, as a sentence naming the field.
    pub message: String,
}

impl Rejection {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// `customer_id` as the order gave it: a JSON integer or a (trimmed) string.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(untagged)]
pub enum CustomerId {
    Integer(serde_json::Number),
    Text(String),
}

/// One validated line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineItem {
    pub product_id: String,
    /// At least 1.
    pub quantity: u64,
    /// Not negative; as precise as the order gave it (it may be finer than the currency's minor unit).
    pub unit_price: Decimal,
}

/// A valid order in canonical form. Serializes as `{order_id, vendor, customer_id, currency, total,
/// line_count, created_at, validated_at, payload_hash}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ValidOrder {
    /// Trimmed; read from `order_id` or its alias `id`.
    pub order_id: String,
    pub vendor: String,
    pub customer_id: Option<CustomerId>,
    pub currency: Currency,
    /// Sum of quantity × unit_price, rounded half-even once, written with exactly the currency's minor units
    /// (`"0.30"`, `"1000"` for JPY, `"1.235"` for KWD).
    pub total: String,
    pub line_count: usize,
    /// In UTC; written as RFC 3339 with `Z` and only the sub-second digits it has.
    #[serde(serialize_with = "rfc3339")]
    pub created_at: DateTime<Utc>,
    /// The `now` the order was validated at; not part of [`ValidOrder::payload_hash`]. Written with exactly
    /// three sub-second digits, so the strings sort as the times do.
    #[serde(serialize_with = "rfc3339_millis")]
    pub validated_at: DateTime<Utc>,
    /// SHA-256 (lower-case hex) of the order's content in canonical form: equal for the same order re-sent
    /// with other whitespace, key order, number spelling or time zone; different when anything the order
    /// says changes. See [`payload_hash`].
    pub payload_hash: String,
    /// The lines, normalized. Not serialized: the result document carries the summary above; a store that
    /// keeps the lines writes them itself.
    #[serde(skip)]
    pub line_items: Vec<LineItem>,
}

fn rfc3339<S: Serializer>(at: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&at.to_rfc3339_opts(SecondsFormat::AutoSi, true))
}

fn rfc3339_millis<S: Serializer>(at: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&at.to_rfc3339_opts(SecondsFormat::Millis, true))
}

/// What happened to an order. The pure core decides `valid` or `invalid`; the handler, which knows what is
/// already stored, turns a valid order into a `duplicate` (same `order_id`, same hash) or a `conflict` (same
/// `order_id`, different hash).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Valid,
    Invalid,
    Duplicate,
    Conflict,
}

impl Status {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Valid => "valid",
            Self::Invalid => "invalid",
            Self::Duplicate => "duplicate",
            Self::Conflict => "conflict",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The function's result document, the same from the Lambda and the CLI:
/// `{"status", "order_id", "order", "errors"}`. `order` is set only for `valid` and `duplicate`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outcome {
    pub status: Status,
    /// The order's id, also for an invalid order when one could be read (else `null`).
    pub order_id: Option<String>,
    pub order: Option<ValidOrder>,
    pub errors: Vec<Rejection>,
}

impl Outcome {
    pub fn valid(order: ValidOrder) -> Self {
        Self {
            status: Status::Valid,
            order_id: Some(order.order_id.clone()),
            order: Some(order),
            errors: Vec::new(),
        }
    }

    pub fn invalid(order_id: Option<String>, errors: Vec<Rejection>) -> Self {
        Self {
            status: Status::Invalid,
            order_id,
            order: None,
            errors,
        }
    }

    /// The order was already accepted with the same content: nothing new to store.
    pub fn duplicate(order: ValidOrder) -> Self {
        Self {
            status: Status::Duplicate,
            ..Self::valid(order)
        }
    }

    /// An order with this id was already accepted with other content (`stored_hash`); this one is refused.
    pub fn conflict(order: &ValidOrder, stored_hash: &str) -> Self {
        Self {
            status: Status::Conflict,
            order_id: Some(order.order_id.clone()),
            order: None,
            errors: vec![Rejection::new(
                "order_id",
                format!(
                    "order {} was already accepted with different content (payload_hash {stored_hash}, this one {})",
                    order.order_id, order.payload_hash
                ),
            )],
        }
    }
}

/// Validates an order and builds its result document: [`validate`] and [`Outcome`] in one step, reading the
/// id of an invalid order from the same parse.
pub fn outcome(bytes: &[u8], now: DateTime<Utc>) -> Outcome {
    let (order_id, result) = check(bytes, now);
    match result {
        Ok(order) => Outcome::valid(order),
        Err(errors) => Outcome::invalid(order_id, errors),
    }
}

/// Checks a purchase-order JSON document against every rule and returns the canonical order, or every
/// violation (not only the first) in a fixed order: the document, `order_id`, `vendor`, `customer_id`,
/// `currency`, `created_at`, each line item, `total`. Malformed JSON is one rejection at `$` whose message
/// has the parser's line and column. `now` bounds `created_at` and becomes `validated_at`.
///
/// The rules in full:
/// - Strings are trimmed; required ones (`order_id` or its alias `id`, `vendor`, `currency`, `created_at`,
///   each `product_id`) must be non-blank strings. `null` counts as absent. Unknown keys are ignored; a key
///   given twice in one object is an error.
/// - `currency` is an active ISO 4217 code with minor units, any case (`"usd"` becomes `USD`).
/// - `created_at` is RFC 3339 with an offset, at most [`MAX_FUTURE_SKEW`] after `now`.
/// - `quantity` is a JSON integer literal ≥ 1 (`3.0` and `"3"` are refused).
/// - `unit_price` is a JSON number or a decimal string, ≥ 0, of any precision a [`Decimal`] holds exactly:
///   prices are often quoted finer than the minor unit (0.125 USD), so only the total is rounded.
/// - `total`, when given, must equal the computed total as a decimal (`"0.3"` matches `"0.30"`).
/// - `customer_id` is optional: a JSON integer or a non-blank string, kept as given.
pub fn validate(bytes: &[u8], now: DateTime<Utc>) -> Result<ValidOrder, Vec<Rejection>> {
    check(bytes, now).1
}

/// The id an order gives (`order_id`, else `id`, trimmed and non-blank), even when the order is invalid.
pub fn readable_order_id(bytes: &[u8]) -> Option<String> {
    let root = parse_document(bytes).ok()?;
    ["order_id", "id"]
        .into_iter()
        .find_map(|key| match read(root.get(key)?).ok()? {
            Json::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
            _ => None,
        })
}

/// SHA-256, lower-case hex, of the order's content in canonical form: the compact JSON array
///
/// `["tributary.order.v1", order_id, vendor, customer_id, currency, created_at, [[product_id, quantity,
/// unit_price], …]]`
///
/// with strings trimmed, `customer_id` as given (integer, string or `null`), the currency's upper-case code,
/// `created_at` in UTC as RFC 3339 (`Z`, sub-second digits only when non-zero), quantities as integers and
/// unit prices as their shortest exact decimal strings (`19.990` and `1.999e1` are both `"19.99"`). Arrays, not
/// objects, so no map ordering can change it. Lines keep their order. `total` is left out (it is derived from the
/// lines) and so is `validated_at`.
pub fn payload_hash(
    order_id: &str,
    vendor: &str,
    customer_id: Option<&CustomerId>,
    currency: Currency,
    created_at: DateTime<Utc>,
    lines: &[LineItem],
) -> String {
    use serde_json::Value;
    let customer = match customer_id {
        None => Value::Null,
        Some(CustomerId::Integer(n)) => Value::Number(n.clone()),
        Some(CustomerId::Text(s)) => Value::String(s.clone()),
    };
    let lines = lines
        .iter()
        .map(|l| {
            Value::Array(vec![
                l.product_id.as_str().into(),
                l.quantity.into(),
                money::canonical(l.unit_price).into(),
            ])
        })
        .collect();
    let form = Value::Array(vec![
        HASH_FORM.into(),
        order_id.into(),
        vendor.into(),
        customer,
        currency.code().into(),
        created_at
            .to_rfc3339_opts(SecondsFormat::AutoSi, true)
            .into(),
        Value::Array(lines),
    ]);
    tributary_shared::hash::sha256_hex([form.to_string()], 32)
}

#[cfg(test)]
mod tests;
