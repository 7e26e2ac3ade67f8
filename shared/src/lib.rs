//! Ally: a partner (reseller) network back end. Every Lambda function links this crate.
//!
//! Layers, arrows pointing down: `service` (what partners and admins can do) ->
//! `store` (persistence: DynamoDB or memory) -> `domain` (the business, no AWS types).

pub mod config;
pub mod domain;
pub mod events;
pub mod http;
pub mod lambda;
pub mod metrics;
pub mod service;
pub mod store;

pub use config::Config;
pub use service::Ally;
