//! `order-validator`: purchase-order JSON becomes a validated, canonical order with an exact decimal total and
//! a stable content hash, or a list of every rule it breaks, each with its JSON path.
//!
//! The core ([`validate`], [`money`], [`currency`]) is pure and has no AWS dependency; the CLI uses it with
//! default features off. The Lambda handler and its DynamoDB/S3 adapters belong behind the `lambda` feature.

pub mod currency;
pub mod money;
pub mod shape;
pub mod validate;

#[cfg(feature = "lambda")]
pub mod config;
#[cfg(feature = "lambda")]
pub mod error;
#[cfg(feature = "lambda")]
pub mod handler;
#[cfg(feature = "lambda")]
pub mod store;

pub use currency::Currency;
pub use rust_decimal::Decimal;
pub use validate::{
    CustomerId, LineItem, MAX_FUTURE_SKEW, Outcome, Rejection, Status, ValidOrder, outcome,
    payload_hash, readable_order_id, validate,
};
