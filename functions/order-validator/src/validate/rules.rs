//! The rules an order must keep, each reporting every violation with its JSON path.

use super::*;

/// A member as the rules see it.
pub(super) enum Member<'a> {
    /// Missing or `null`.
    Absent,
    Present(Json<'a>),
    /// Undecodable; already rejected.
    Rejected,
}

/// Collects rejections while the rules run, so every violation is reported.
pub(super) struct Checker {
    pub(super) errors: Vec<Rejection>,
}

/// `prefix.key`, or `key` at the top level.
pub(super) fn path(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}.{key}")
    }
}

pub(super) fn check(
    bytes: &[u8],
    now: DateTime<Utc>,
) -> (Option<String>, Result<ValidOrder, Vec<Rejection>>) {
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
    pub(super) fn reject(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.errors.push(Rejection::new(path, message));
    }

    pub(super) fn duplicate_keys(&mut self, object: &Object<'_>, prefix: &str) {
        for key in object.duplicate_keys() {
            self.reject(
                path(prefix, key),
                format!("{key} is given more than once; each field may appear once"),
            );
        }
    }

    /// Reads a member: [`Member::Absent`] when missing or `null`; a value that cannot be decoded is rejected
    /// here.
    pub(super) fn member<'a>(
        &mut self,
        object: &Object<'a>,
        prefix: &str,
        key: &str,
    ) -> Member<'a> {
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
    pub(super) fn required_string(
        &mut self,
        object: &Object<'_>,
        prefix: &str,
        key: &str,
    ) -> Option<String> {
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
    pub(super) fn order_id(&mut self, root: &Object<'_>) -> Option<String> {
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

    pub(super) fn customer_id(&mut self, root: &Object<'_>) -> Option<CustomerId> {
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

    pub(super) fn currency(&mut self, root: &Object<'_>) -> Option<Currency> {
        let code = self.required_string(root, "", "currency")?;
        currency::lookup(&code)
            .map_err(|e| self.reject("currency", format!("currency {e}")))
            .ok()
    }

    pub(super) fn created_at(
        &mut self,
        root: &Object<'_>,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
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
    pub(super) fn line_items(&mut self, root: &Object<'_>) -> Option<Vec<LineItem>> {
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

    pub(super) fn line_item(&mut self, raw: &RawValue, prefix: &str) -> Option<LineItem> {
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
    pub(super) fn quantity(&mut self, item: &Object<'_>, prefix: &str) -> Option<u64> {
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
    pub(super) fn amount(
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
    pub(super) fn subtotal(&mut self, lines: &[LineItem]) -> Option<Decimal> {
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

    pub(super) fn given_total(&mut self, root: &Object<'_>) -> Option<Decimal> {
        self.amount(root, "", "total", false)
    }
}
