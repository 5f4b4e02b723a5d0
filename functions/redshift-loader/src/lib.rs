//! `redshift-loader`: an idempotent COPY-and-merge of curated Parquet into the warehouse. In AWS it drives
//! Redshift through the Data API (manifest in S3, one BatchExecuteStatement transaction, bounded polling);
//! locally and in tests it speaks the PostgreSQL protocol and streams the rows through `COPY … FROM STDIN`. Both
//! run the same stage / apply / ledger SQL, built by pure functions in [`sql`].

pub mod encode;
pub mod evolve;
pub mod footer;
pub mod manifest;
pub mod request;
pub mod sql;

#[cfg(feature = "postgres")]
pub mod plan;
#[cfg(feature = "postgres")]
pub mod postgres;

#[cfg(feature = "lambda")]
pub mod config;
#[cfg(feature = "lambda")]
pub mod dataapi;
#[cfg(feature = "lambda")]
pub mod error;
#[cfg(feature = "lambda")]
pub mod handler;
