//! Ally's integration tests as one program (one link, one emulator per run), a module per
//! concern. Support code (the emulator, fixtures, the fault injectors, typed HTTP
//! helpers) lives in the `ally_tests` library beside it.

mod alerts;
mod analytics;
mod commissions;
mod dev_server;
mod durability;
mod events;
mod extremes;
mod faults;
mod filters;
mod growth;
mod hardening;
mod holds;
mod hostile;
mod http;
mod http_spending;
mod lambda_functions;
mod least_privilege;
mod lots;
mod metadata;
mod money;
mod network;
mod openapi;
mod paging;
mod pipeline;
mod profiles;
mod properties;
mod reference;
mod reversals;
mod simulator;
mod statements;
mod stripe;
mod template;
mod tenants;
mod top_ups;
mod transfers;
mod tree;
