//! Queries, one page or all of them: newest first, with the store's cursor.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use serde::de::DeserializeOwned;

use super::DynamoStore;
use super::item::{Item, attr, key, parse, s};
use crate::store::{Page, PageRequest, StoreError, StoreResult, decode_cursor, encode_cursor};

impl DynamoStore {
    /// Every item a query yields, page after page.
    pub(super) async fn query_all(&self, query: QueryFluentBuilder) -> StoreResult<Vec<Item>> {
        query.into_paginator().items().send().try_collect().await.map_err(StoreError::backend)
    }

    /// One page of the items of partition `pk` whose sort key starts with `prefix`.
    pub(super) async fn query_page<T: DeserializeOwned>(
        &self,
        pk: String,
        prefix: &str,
        page: &PageRequest,
        id_of: impl Fn(&T) -> String,
    ) -> StoreResult<Page<T>> {
        let start = match &page.cursor {
            Some(c) => {
                let after = decode_cursor(c)?.remove("after").ok_or(StoreError::InvalidCursor)?;
                Some(key(pk.clone(), format!("{prefix}{after}")))
            }
            None => None,
        };
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
            .expression_attribute_names("#pk", attr::PK)
            .expression_attribute_names("#sk", attr::SK)
            .expression_attribute_values(":pk", s(pk))
            .expression_attribute_values(":prefix", s(prefix))
            .set_exclusive_start_key(start);
        newest_first(query, page.limit, |last: &T| BTreeMap::from([("after".to_string(), id_of(last))])).await
    }
}

/// Runs `query` newest first for one page: reads `limit + 1` items and keeps `limit`; the
/// extra one only says a next page exists, so the last page has no cursor.
pub(super) async fn newest_first<T: DeserializeOwned>(
    query: QueryFluentBuilder,
    limit: u16,
    cursor_of: impl Fn(&T) -> BTreeMap<String, String>,
) -> StoreResult<Page<T>> {
    let out = query.scan_index_forward(false).limit(i32::from(limit) + 1).send().await.map_err(StoreError::backend)?;
    let mut items: Vec<T> = out.items.unwrap_or_default().into_iter().map(parse).collect::<StoreResult<_>>()?;
    let more = items.len() > usize::from(limit);
    items.truncate(usize::from(limit));
    let next_cursor = if more { items.last().map(|last| encode_cursor(&cursor_of(last))) } else { None };
    Ok(Page { items, next_cursor })
}
