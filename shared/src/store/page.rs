//! Pages of a list: the request, the answer, and the cursor between them.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::{StoreError, StoreResult};
use crate::domain::AllyError;

/// One page of a list, newest first, and the cursor of the next page (absent at the end).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// Which page to read: at most `limit` items after `cursor`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: u16,
    pub cursor: Option<String>,
}

impl PageRequest {
    /// The largest page a caller may ask for.
    pub const MAX_LIMIT: u16 = 100;
    /// The page size when none is asked for.
    pub const DEFAULT_LIMIT: u16 = 25;

    /// Checks `limit` is in 1..=100 (default 25).
    pub fn new(limit: Option<i64>, cursor: Option<String>) -> Result<Self, AllyError> {
        let limit = limit.unwrap_or(i64::from(Self::DEFAULT_LIMIT));
        if !(1..=i64::from(Self::MAX_LIMIT)).contains(&limit) {
            return Err(AllyError::validation(format!("limit must be between 1 and 100, got {limit}")));
        }
        Ok(Self { limit: limit as u16, cursor })
    }

    /// The first page of `limit` items.
    pub fn first(limit: u16) -> Self {
        Self { limit, cursor: None }
    }
}

/// Position of a page in a list: the id of its last item (`after`, plus the index key for
/// index lists), encoded URL-safe. Both stores write the same cursor for the same page. The
/// owner is never in it: the store takes the owner from the caller, so a cursor cannot reach
/// another partner's list.
pub(crate) fn encode_cursor(key: &BTreeMap<String, String>) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(key).unwrap_or_default())
}

/// Reads a cursor made by [`encode_cursor`]; anything else is [`StoreError::InvalidCursor`].
pub(crate) fn decode_cursor(cursor: &str) -> Result<BTreeMap<String, String>, StoreError> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or(StoreError::InvalidCursor)
}

/// Items of a map, in reverse key order, after an optional exclusive start key: the memory
/// store's Query.
pub(crate) fn page_newest_first<T: Clone>(
    items: Option<&BTreeMap<String, T>>,
    page: &PageRequest,
) -> StoreResult<Page<T>> {
    let after = match &page.cursor {
        Some(c) => Some(decode_cursor(c)?.remove("after").ok_or(StoreError::InvalidCursor)?),
        None => None,
    };
    let mut iter = items
        .into_iter()
        .flat_map(|m| m.iter().rev())
        .filter(|(k, _)| after.as_ref().is_none_or(|a| k.as_str() < a.as_str()))
        .peekable();
    let mut out = Vec::new();
    let mut last = None;
    while out.len() < usize::from(page.limit) {
        let Some((k, v)) = iter.next() else { break };
        out.push(v.clone());
        last = Some(k.clone());
    }
    let next_cursor = match (iter.peek(), last) {
        (Some(_), Some(k)) => Some(encode_cursor(&BTreeMap::from([("after".to_string(), k)]))),
        _ => None,
    };
    Ok(Page { items: out, next_cursor })
}
