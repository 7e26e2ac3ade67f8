//! Work that waits for something to arrive first (a refund that came before its payment):
//! kept by group, each item once, until the awaited thing settles it.

use std::future::Future;

use super::StoreResult;

/// Items waiting, by group.
pub trait Waiting: Send + Sync {
    /// Keeps `value` as item `id` of `group` (again: the same item, once).
    fn park(&self, group: &str, id: &str, value: &str) -> impl Future<Output = StoreResult<()>> + Send;

    /// The items of `group`, by id.
    fn waiting(&self, group: &str) -> impl Future<Output = StoreResult<Vec<(String, String)>>> + Send;

    /// Forgets item `id` of `group`, its work done.
    fn settle(&self, group: &str, id: &str) -> impl Future<Output = StoreResult<()>> + Send;
}
