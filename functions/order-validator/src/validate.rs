//! The order rules: purchase-order JSON bytes in, a canonical [`ValidOrder`] with its content hash out, or
//! every violation found, each with the JSON path it concerns; and the result document built from either.
//!
//! The JSON is read through [`RawValue`], so each number's literal text reaches [`money::parse_decimal`]
//! untouched: no amount ever passes through an `f64`.

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

// ---- reading JSON without losing number text ----------------------------------------------------------------

/// A JSON value one level deep: numbers keep their literal text, containers their members unparsed.
enum Json<'a> {
    Null,
    Bool,
    Number(&'a str),
    String(String),
    Array(Vec<&'a RawValue>),
    Object(Object<'a>),
}

impl Json<'_> {
    fn kind(&self) -> &'static str {
        match self {
            Self::Null => "null",
            Self::Bool => "a boolean",
            Self::Number(_) => "a number",
            Self::String(_) => "a string",
            Self::Array(_) => "an array",
            Self::Object(_) => "an object",
        }
    }
}

/// An object's members in document order, duplicates kept (a `Map` would silently keep the last).
struct Object<'a> {
    entries: Vec<(String, &'a RawValue)>,
}

impl<'a> Object<'a> {
    fn get(&self, key: &str) -> Option<&'a RawValue> {
        self.entries
            .iter()
            .find_map(|(k, v)| (k == key).then_some(*v))
    }

    /// Each key that appears more than once, once, in order of first appearance.
    fn duplicate_keys(&self) -> Vec<&str> {
        let mut dups: Vec<&str> = Vec::new();
        for (i, (key, _)) in self.entries.iter().enumerate() {
            if self.entries[..i].iter().any(|(k, _)| k == key) && !dups.contains(&key.as_str()) {
                dups.push(key);
            }
        }
        dups
    }
}

impl<'de> Deserialize<'de> for Object<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entries;
        impl<'de> Visitor<'de> for Entries {
            type Value = Object<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(8));
                while let Some(key) = map.next_key::<String>()? {
                    entries.push((key, map.next_value::<&'de RawValue>()?));
                }
                Ok(Object { entries })
            }
        }
        deserializer.deserialize_map(Entries)
    }
}

/// Classifies a raw value by its first byte and decodes one level. `raw` is valid JSON already; decoding can
/// still fail on a string with a lone surrogate escape (`"\ud800"`), which the syntax check lets through.
fn read(raw: &RawValue) -> Result<Json<'_>, serde_json::Error> {
    let text = raw.get().trim();
    Ok(match text.as_bytes().first() {
        Some(b'"') => Json::String(serde_json::from_str(text)?),
        Some(b'{') => Json::Object(serde_json::from_str(text)?),
        Some(b'[') => Json::Array(serde_json::from_str(text)?),
        Some(b't' | b'f') => Json::Bool,
        Some(b'n') => Json::Null,
        _ => Json::Number(text),
    })
}

/// The document's top-level object, or the one rejection that stops everything else.
fn parse_document(bytes: &[u8]) -> Result<Object<'_>, Rejection> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let (line, column) = position(bytes, e.valid_up_to());
        Rejection::new(
            "$",
            format!("malformed JSON: invalid UTF-8 at line {line} column {column}"),
        )
    })?;
    let raw: &RawValue = serde_json::from_str(text)
        .map_err(|e| Rejection::new("$", format!("malformed JSON: {e}")))?;
    match read(raw) {
        Ok(Json::Object(object)) => Ok(object),
        Ok(other) => Err(Rejection::new(
            "$",
            format!("an order must be a JSON object, got {}", other.kind()),
        )),
        Err(e) => Err(Rejection::new("$", format!("malformed JSON: {e}"))),
    }
}

/// 1-based line and column (in bytes, as serde_json counts) of a byte offset.
fn position(bytes: &[u8], offset: usize) -> (usize, usize) {
    let before = &bytes[..offset.min(bytes.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let column = before.len()
        - before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |p| p + 1)
        + 1;
    (line, column)
}

// ---- the rules ----------------------------------------------------------------------------------------------

/// A member as the rules see it.
enum Member<'a> {
    /// Missing or `null`.
    Absent,
    Present(Json<'a>),
    /// Undecodable; already rejected.
    Rejected,
}

/// Collects rejections while the rules run, so every violation is reported.
struct Checker {
    errors: Vec<Rejection>,
}

/// `prefix.key`, or `key` at the top level.
fn path(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}.{key}")
    }
}

fn check(bytes: &[u8], now: DateTime<Utc>) -> (Option<String>, Result<ValidOrder, Vec<Rejection>>) {
    let root = match parse_document(bytes) {
        Ok(root) => root,
        Err(rejection) => return (None, Err(vec![rejection])),
    };
    let mut c = Checker { errors: Vec::new() };
    c.duplicate_keys(&root, "");
    let order_id = c.order_id(&root);
    let vendor = c.required_string(&root, "", "vendor");
    let customer_id = c.customer_id(&root);
    let currency = c.currency(&root);
    let created_at = c.created_at(&root, now);
    let lines = c.line_items(&root);
    let subtotal = lines.as_deref().and_then(|lines| c.subtotal(lines));
    let given_total = c.given_total(&root);
    let total = currency
        .zip(subtotal)
        .map(|(currency, subtotal)| money::round_half_even(subtotal, currency.minor_units()));
    if let (Some(currency), Some(total), Some(given)) = (currency, total, given_total)
        && given != total
    {
        let places = currency.minor_units();
        c.reject(
            "total",
            format!(
                "total {} does not match the computed total {} (the sum of quantity × unit_price, rounded half-even to {places} decimal place{} for {currency})",
                money::canonical(given),
                money::format_amount(total, places),
                if places == 1 { "" } else { "s" },
            ),
        );
    }

    let (Some(id), Some(vendor), Some(currency), Some(created_at), Some(lines), Some(total)) =
        (order_id.clone(), vendor, currency, created_at, lines, total)
    else {
        if c.errors.is_empty() {
            // Every rule that yields nothing reports why; this guards the invariant that an invalid order
            // always says what is wrong.
            c.reject("$", "the order could not be validated");
        }
        return (order_id, Err(c.errors));
    };
    if !c.errors.is_empty() {
        return (order_id, Err(c.errors));
    }
    let payload_hash = payload_hash(
        &id,
        &vendor,
        customer_id.as_ref(),
        currency,
        created_at,
        &lines,
    );
    let order = ValidOrder {
        order_id: id,
        vendor,
        customer_id,
        currency,
        total: money::format_amount(total, currency.minor_units()),
        line_count: lines.len(),
        created_at,
        validated_at: now,
        payload_hash,
        line_items: lines,
    };
    (order_id, Ok(order))
}

impl Checker {
    fn reject(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.errors.push(Rejection::new(path, message));
    }

    fn duplicate_keys(&mut self, object: &Object<'_>, prefix: &str) {
        for key in object.duplicate_keys() {
            self.reject(
                path(prefix, key),
                format!("{key} is given more than once; each field may appear once"),
            );
        }
    }

    /// Reads a member: [`Member::Absent`] when missing or `null`; a value that cannot be decoded is rejected
    /// here.
    fn member<'a>(&mut self, object: &Object<'a>, prefix: &str, key: &str) -> Member<'a> {
        let Some(raw) = object.get(key) else {
            return Member::Absent;
        };
        match read(raw) {
            Ok(Json::Null) => Member::Absent,
            Ok(value) => Member::Present(value),
            Err(e) => {
                self.reject(
                    path(prefix, key),
                    format!("{key} is not valid JSON text: {e}"),
                );
                Member::Rejected
            }
        }
    }

    /// A present, non-blank string, trimmed; rejected when missing, `null`, another type or blank.
    fn required_string(&mut self, object: &Object<'_>, prefix: &str, key: &str) -> Option<String> {
        match self.member(object, prefix, key) {
            Member::Present(Json::String(s)) if s.trim().is_empty() => {
                self.reject(path(prefix, key), format!("{key} must not be blank"));
                None
            }
            Member::Present(Json::String(s)) => Some(s.trim().to_owned()),
            Member::Present(other) => {
                self.reject(
                    path(prefix, key),
                    format!("{key} must be a string, got {}", other.kind()),
                );
                None
            }
            Member::Absent => {
                self.reject(path(prefix, key), format!("{key} is required"));
                None
            }
            Member::Rejected => None,
        }
    }

    /// `order_id`, or its alias `id`; when both are given they must agree.
    fn order_id(&mut self, root: &Object<'_>) -> Option<String> {
        let given = |key| {
            root.get(key)
                .is_some_and(|raw| !matches!(read(raw), Ok(Json::Null)))
        };
        match (given("order_id"), given("id")) {
            (true, false) => self.required_string(root, "", "order_id"),
            (false, true) => self.required_string(root, "", "id"),
            (true, true) => {
                let order_id = self.required_string(root, "", "order_id");
                let id = self.required_string(root, "", "id");
                if let (Some(order_id), Some(id)) = (&order_id, &id)
                    && order_id != id
                {
                    self.reject(
                        "id",
                        format!(
                            "id {id:?} differs from order_id {order_id:?}; id is an alias, send one of them"
                        ),
                    );
                }
                order_id.or(id)
            }
            (false, false) => {
                self.reject("order_id", "order_id (or its alias id) is required");
                None
            }
        }
    }

    fn customer_id(&mut self, root: &Object<'_>) -> Option<CustomerId> {
        let key = "customer_id";
        let value = match self.member(root, "", key) {
            Member::Present(value) => value,
            Member::Absent | Member::Rejected => return None,
        };
        match value {
            Json::String(s) if s.trim().is_empty() => {
                self.reject(key, "customer_id must not be blank; omit it or send null");
                None
            }
            Json::String(s) => Some(CustomerId::Text(s.trim().to_owned())),
            Json::Number(text) => match serde_json::from_str::<serde_json::Number>(text) {
                Ok(n) if n.is_i64() || n.is_u64() => Some(CustomerId::Integer(n)),
                _ => {
                    self.reject(
                        key,
                        format!(
                            "customer_id must be an integer (64-bit) or a string, got the number {text}"
                        ),
                    );
                    None
                }
            },
            other => {
                self.reject(
                    key,
                    format!(
                        "customer_id must be an integer or a string, got {}",
                        other.kind()
                    ),
                );
                None
            }
        }
    }

    fn currency(&mut self, root: &Object<'_>) -> Option<Currency> {
        let code = self.required_string(root, "", "currency")?;
        currency::lookup(&code)
            .map_err(|e| self.reject("currency", format!("currency {e}")))
            .ok()
    }

    fn created_at(&mut self, root: &Object<'_>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let text = self.required_string(root, "", "created_at")?;
        let at = match DateTime::parse_from_rfc3339(&text) {
            Ok(at) => at.with_timezone(&Utc),
            Err(e) => {
                self.reject(
                    "created_at",
                    format!(
                        "created_at {text:?} is not an RFC 3339 timestamp with an offset, such as 2026-11-21T10:00:00Z ({e})"
                    ),
                );
                return None;
            }
        };
        if at - now > MAX_FUTURE_SKEW {
            self.reject(
                "created_at",
                format!(
                    "created_at {} is more than 24 hours in the future (validated at {})",
                    at.to_rfc3339_opts(SecondsFormat::AutoSi, true),
                    now.to_rfc3339_opts(SecondsFormat::Secs, true),
                ),
            );
            return None;
        }
        Some(at)
    }

    /// The line items, or `None` when the list is missing, empty or has any invalid line (each one is
    /// reported).
    fn line_items(&mut self, root: &Object<'_>) -> Option<Vec<LineItem>> {
        let key = "line_items";
        let items = match self.member(root, "", key) {
            Member::Present(Json::Array(items)) => items,
            Member::Absent => {
                self.reject(key, "line_items is required (at least one line item)");
                return None;
            }
            Member::Rejected => return None,
            Member::Present(other) => {
                self.reject(
                    key,
                    format!(
                        "line_items must be an array of line items, got {}",
                        other.kind()
                    ),
                );
                return None;
            }
        };
        if items.is_empty() {
            self.reject(key, "line_items must have at least one line item");
            return None;
        }
        let mut lines = Vec::with_capacity(items.len());
        let mut all_valid = true;
        for (i, raw) in items.into_iter().enumerate() {
            match self.line_item(raw, &format!("{key}[{i}]")) {
                Some(line) => lines.push(line),
                None => all_valid = false,
            }
        }
        all_valid.then_some(lines)
    }

    fn line_item(&mut self, raw: &RawValue, prefix: &str) -> Option<LineItem> {
        let item = match read(raw) {
            Ok(Json::Object(item)) => item,
            Ok(other) => {
                self.reject(
                    prefix,
                    format!("a line item must be an object, got {}", other.kind()),
                );
                return None;
            }
            Err(e) => {
                self.reject(prefix, format!("line item is not valid JSON text: {e}"));
                return None;
            }
        };
        self.duplicate_keys(&item, prefix);
        let product_id = self.required_string(&item, prefix, "product_id");
        let quantity = self.quantity(&item, prefix);
        let unit_price = self.amount(&item, prefix, "unit_price", true);
        Some(LineItem {
            product_id: product_id?,
            quantity: quantity?,
            unit_price: unit_price?,
        })
    }

    /// A positive JSON integer literal.
    fn quantity(&mut self, item: &Object<'_>, prefix: &str) -> Option<u64> {
        let at = path(prefix, "quantity");
        let text = match self.member(item, prefix, "quantity") {
            Member::Present(Json::Number(text)) => text,
            Member::Absent => {
                self.reject(at, "quantity is required");
                return None;
            }
            Member::Rejected => return None,
            Member::Present(Json::String(s)) => {
                self.reject(
                    at,
                    format!("quantity must be a JSON integer, got a string ({s:?})"),
                );
                return None;
            }
            Member::Present(other) => {
                self.reject(
                    at,
                    format!("quantity must be a JSON integer, got {}", other.kind()),
                );
                return None;
            }
        };
        if text.contains(['.', 'e', 'E']) {
            self.reject(
                at,
                format!("quantity must be a whole number written without a fraction or exponent, got {text}"),
            );
            return None;
        }
        if text.starts_with('-') || text.bytes().all(|b| b == b'0') {
            self.reject(at, format!("quantity must be at least 1, got {text}"));
            return None;
        }
        text.parse::<u64>()
            .map_err(|_| {
                self.reject(
                    at,
                    format!("quantity {text} is too large (at most {})", u64::MAX),
                );
            })
            .ok()
    }

    /// A non-negative amount from a JSON number (its literal text) or a decimal string. `required` amounts
    /// are rejected when absent; optional ones are `None`.
    fn amount(
        &mut self,
        object: &Object<'_>,
        prefix: &str,
        key: &str,
        required: bool,
    ) -> Option<Decimal> {
        let at = path(prefix, key);
        let (text, parsed) = match self.member(object, prefix, key) {
            Member::Present(Json::Number(text)) => (text.to_owned(), money::parse_decimal(text)),
            Member::Present(Json::String(s)) => {
                let trimmed = s.trim();
                if trimmed.is_empty() {
                    self.reject(at, format!("{key} must not be blank"));
                    return None;
                }
                (format!("{trimmed:?}"), money::parse_decimal(trimmed))
            }
            Member::Absent => {
                if required {
                    self.reject(at, format!("{key} is required"));
                }
                return None;
            }
            Member::Rejected => return None,
            Member::Present(other) => {
                self.reject(
                    at,
                    format!(
                        "{key} must be a number or a decimal string, got {}",
                        other.kind()
                    ),
                );
                return None;
            }
        };
        match parsed {
            Ok(value) if value.is_sign_negative() && !value.is_zero() => {
                self.reject(at, format!("{key} must not be negative, got {text}"));
                None
            }
            Ok(value) => Some(value),
            Err(e) => {
                self.reject(at, format!("{key} {text} {e}"));
                None
            }
        }
    }

    /// Σ quantity × unit_price, exact and unrounded.
    fn subtotal(&mut self, lines: &[LineItem]) -> Option<Decimal> {
        let mut sum = Decimal::ZERO;
        for (i, line) in lines.iter().enumerate() {
            let Some(amount) = money::exact_mul(line.quantity, line.unit_price) else {
                self.reject(
                    format!("line_items[{i}]"),
                    "quantity × unit_price is too large to compute exactly",
                );
                return None;
            };
            let Some(next) = money::exact_add(sum, amount) else {
                self.reject(
                    "line_items",
                    "the order total is too large to compute exactly",
                );
                return None;
            };
            sum = next;
        }
        Some(sum)
    }

    fn given_total(&mut self, root: &Object<'_>) -> Option<Decimal> {
        self.amount(root, "", "total", false)
    }
}

#[cfg(test)]
#[path = "validate_tests.rs"]
mod tests;
