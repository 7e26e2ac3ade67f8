//! Queries, one page or all of them: newest first, with the store's cursor.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use serde::de::DeserializeOwned;

use super::item::{Item, attr, key, parse, s};
use super::{DynamoStore, failure};
use crate::store::{Page, PageRequest, StoreError, StoreResult, decode_cursor, encode_cursor, keys};

impl DynamoStore {
    /// Every item a query yields, page after page.
    pub(super) async fn query_all(&self, query: QueryFluentBuilder) -> StoreResult<Vec<Item>> {
        query.into_paginator().items().send().try_collect().await.map_err(failure)
    }

    /// The items of the sparse `by-status` list `list` (every shard of it) whose index sort
    /// key is before `before`, read again from the table (the index lags it), page after page.
    pub(super) async fn swept(&self, list: &str, before: String) -> StoreResult<Vec<Item>> {
        let shards = keys::sparse_partitions(list).into_iter().map(|partition| {
            self.query_all(
                self.client
                    .query()
                    .table_name(&self.table)
                    .index_name(keys::BY_STATUS_INDEX)
                    .key_condition_expression("#pk = :pk AND #sk < :before")
                    .expression_attribute_names("#pk", attr::STATUS_PK)
                    .expression_attribute_names("#sk", attr::STATUS_SK)
                    .expression_attribute_values(":pk", s(partition))
                    .expression_attribute_values(":before", s(before.clone())),
            )
        });
        let text = |found: &Item, name: &str| found.get(name).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
        let found = futures::future::try_join_all(shards).await?;
        let wanted = found.iter().flatten().map(|f| key(text(f, attr::PK), text(f, attr::SK))).collect();
        self.get_many(wanted).await
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
        let query = self.prefix_query(pk, prefix).set_exclusive_start_key(start);
        newest_first(query, page.limit, parse, |last: &T| BTreeMap::from([("after".to_string(), id_of(last))])).await
    }

    /// A query of the items of partition `pk` whose sort key starts with `prefix`.
    pub(super) fn prefix_query(&self, pk: String, prefix: &str) -> QueryFluentBuilder {
        self.client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
            .expression_attribute_names("#pk", attr::PK)
            .expression_attribute_names("#sk", attr::SK)
            .expression_attribute_values(":pk", s(pk))
            .expression_attribute_values(":prefix", s(prefix))
    }
}

/// Runs `query` newest first for one page of `limit` items. It asks for one item more than
/// the page, whose presence says a next page exists (so the last page has no cursor), and
/// goes on from `LastEvaluatedKey` while DynamoDB stops short of that: a Query stops at
/// 1 MB, or after a filter dropped items, and a short answer is not the end of the list.
pub(super) async fn newest_first<T>(
    query: QueryFluentBuilder,
    limit: u16,
    decode: impl Fn(Item) -> StoreResult<T>,
    cursor_of: impl Fn(&T) -> BTreeMap<String, String>,
) -> StoreResult<Page<T>> {
    let wanted = usize::from(limit) + 1;
    let mut items: Vec<T> = Vec::with_capacity(wanted);
    let mut start = query.get_exclusive_start_key().clone();
    loop {
        let left = i32::try_from(wanted - items.len()).unwrap_or(i32::MAX);
        let out = query
            .clone()
            .scan_index_forward(false)
            .limit(left)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(failure)?;
        for item in out.items.unwrap_or_default() {
            items.push(decode(item)?);
        }
        start = out.last_evaluated_key.filter(|key| !key.is_empty());
        if items.len() >= wanted || start.is_none() {
            break;
        }
    }
    let more = items.len() > usize::from(limit);
    items.truncate(usize::from(limit));
    let next_cursor = if more { items.last().map(|last| encode_cursor(&cursor_of(last))) } else { None };
    Ok(Page { items, next_cursor })
}
