//! The memory store's bookkeeping of event consumers and long jobs.

use chrono::Utc;

use super::MemoryStore;
use crate::store::{Jobs, StoreResult};

impl Jobs for MemoryStore {
    async fn claim(&self, key: &str) -> StoreResult<bool> {
        self.enter("claim").await?;
        let mut t = self.lock();
        if t.claims.contains_key(key) {
            return Ok(false);
        }
        t.claims.insert(key.to_string(), Utc::now());
        self.changed();
        Ok(true)
    }

    async fn claimed(&self, key: &str) -> StoreResult<bool> {
        self.enter("claimed").await?;
        Ok(self.lock().claims.contains_key(key))
    }

    async fn checkpoint(&self, key: &str) -> StoreResult<Option<String>> {
        self.enter("checkpoint").await?;
        Ok(self.lock().checkpoints.get(key).cloned())
    }

    async fn save_checkpoint(&self, key: &str, value: &str) -> StoreResult<()> {
        self.enter("save_checkpoint").await?;
        let mut t = self.lock();
        t.checkpoints.insert(key.to_string(), value.to_string());
        self.changed();
        Ok(())
    }
}
