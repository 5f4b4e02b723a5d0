//! Lambda entry point for `order-validator`: a placeholder until the handler and its adapters land.

fn main() {}
