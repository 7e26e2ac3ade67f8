//! The memory store's waiting items.

use super::MemoryStore;
use crate::store::{StoreResult, Waiting};

impl Waiting for MemoryStore {
    async fn park(&self, group: &str, id: &str, value: &str) -> StoreResult<()> {
        self.enter("park").await?;
        self.lock().waiting.entry(group.to_string()).or_default().insert(id.to_string(), value.to_string());
        self.changed();
        Ok(())
    }

    async fn waiting(&self, group: &str) -> StoreResult<Vec<(String, String)>> {
        self.enter("waiting").await?;
        let t = self.lock();
        Ok(t.waiting.get(group).map(|items| items.clone().into_iter().collect()).unwrap_or_default())
    }

    async fn settle(&self, group: &str, id: &str) -> StoreResult<()> {
        self.enter("settle").await?;
        if let Some(items) = self.lock().waiting.get_mut(group) {
            items.remove(id);
        }
        self.changed();
        Ok(())
    }
}
