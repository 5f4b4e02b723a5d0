//! `order-webhook`: purchase orders sent as signed webhooks (the Standard Webhooks scheme) to an API Gateway
//! HTTP API. Each request is checked (size, signature and timestamp, JSON) and starts one execution of the orders
//! state machine, named by its delivery id, so a sender's retries are one order; the answer is 202 with the
//! execution, in milliseconds. Validation and storage are order-validator's, in the state machine.

pub mod config;
pub mod delivery;
pub mod signature;

#[cfg(feature = "lambda")]
pub mod handler;
#[cfg(feature = "lambda")]
pub mod secret;
#[cfg(feature = "lambda")]
pub mod start;
