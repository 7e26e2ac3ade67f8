//! A reseller's clients, services, ledger and idempotency records in the memory store
//! (`Portfolio`), as `store/dynamo/portfolio.rs` keeps them in DynamoDB.

use chrono::{DateTime, Utc};

use super::{Fault, MemoryStore};
use crate::domain::{
    Activity, Client, ClientId, Guard, Hold, HoldStatus, LedgerEntry, Lot, ProvisionedService, UserId,
};
use crate::store::{Page, PageRequest, Portfolio, StoreError, StoreResult, Stored, Taken, page_newest_first};

impl Portfolio for MemoryStore {
    async fn insert_client(&self, client: &Client) -> StoreResult<()> {
        self.enter("insert_client").await?;
        let mut t = self.lock();
        let owner = client.owner_id.to_string();
        if t.clients.get(&owner).is_some_and(|m| m.contains_key(client.id.as_str())) {
            return Err(StoreError::Taken(Taken::Client));
        }
        Guard::AddClient.check(t.resellers.get(&owner)).map_err(StoreError::Refused)?;
        t.clients.entry(owner.clone()).or_default().insert(client.id.to_string(), client.clone());
        if let Some(r) = t.resellers.get_mut(&owner) {
            r.clients += 1;
        }
        let acquisition = Activity { acquisitions: 1, ..Activity::default() };
        t.counters.count(&client.owner_id, client.created_at, acquisition, None);
        self.changed();
        self.emit(&mut t, None, Some(Stored::Client(client.clone())));
        Ok(())
    }

    async fn put_portfolio(&self, clients: &[Client], services: &[ProvisionedService]) -> StoreResult<()> {
        let fault = self.enter("put_portfolio").await?;
        // A function dying mid-fill: the first half of the clients and services written.
        let (clients, services) = match fault {
            Fault::HalfThenFail => (&clients[..clients.len() / 2], &services[..services.len() / 2]),
            _ => (clients, services),
        };
        let mut t = self.lock();
        for c in clients {
            let old = t.clients.entry(c.owner_id.to_string()).or_default().insert(c.id.to_string(), c.clone());
            self.emit(&mut t, old.map(Stored::Client), Some(Stored::Client(c.clone())));
        }
        for s in services {
            let old = t.services.entry(s.owner_id.to_string()).or_default().insert(s.id.clone(), s.clone());
            self.emit(&mut t, old.map(Stored::Service), Some(Stored::Service(s.clone())));
        }
        self.changed();
        match fault {
            Fault::HalfThenFail => Err(StoreError::Backend("injected crash during the bulk fill".into())),
            _ => Ok(()),
        }
    }

    async fn client(&self, owner_id: &UserId, client_id: &ClientId) -> StoreResult<Option<Client>> {
        self.enter("client").await?;
        Ok(self.lock().clients.get(owner_id.as_str()).and_then(|m| m.get(client_id.as_str())).cloned())
    }

    async fn clients(&self, owner_id: &UserId, page: &PageRequest) -> StoreResult<Page<Client>> {
        self.enter("clients").await?;
        page_newest_first(self.lock().clients.get(owner_id.as_str()), page)
    }

    async fn services(&self, owner_id: &UserId, page: &PageRequest) -> StoreResult<Page<ProvisionedService>> {
        self.enter("services").await?;
        page_newest_first(self.lock().services.get(owner_id.as_str()), page)
    }

    async fn entry(&self, owner_id: &UserId, id: &str) -> StoreResult<Option<LedgerEntry>> {
        self.enter("entry").await?;
        Ok(self.lock().ledger.get(owner_id.as_str()).and_then(|l| l.get(id)).cloned())
    }

    async fn hold(&self, owner_id: &UserId, id: &str) -> StoreResult<Option<Hold>> {
        self.enter("hold").await?;
        Ok(self.lock().holds.get(owner_id.as_str()).and_then(|h| h.get(id)).cloned())
    }

    async fn holds(&self, owner_id: &UserId, page: &PageRequest) -> StoreResult<Page<Hold>> {
        self.enter("holds").await?;
        page_newest_first(self.lock().holds.get(owner_id.as_str()), page)
    }

    async fn expired_holds(&self, now: DateTime<Utc>) -> StoreResult<Vec<Hold>> {
        self.enter("expired_holds").await?;
        let t = self.lock();
        let active = t.holds.values().flat_map(|h| h.values());
        Ok(active.filter(|h| h.status == HoldStatus::Active && h.expires_at < now).cloned().collect())
    }

    async fn ledger(&self, owner_id: &UserId, page: &PageRequest) -> StoreResult<Page<LedgerEntry>> {
        self.enter("ledger").await?;
        page_newest_first(self.lock().ledger.get(owner_id.as_str()), page)
    }

    async fn lots(&self, owner_id: &UserId, page: &PageRequest) -> StoreResult<Page<Lot>> {
        self.enter("lots").await?;
        page_newest_first(self.lock().lots.get(owner_id.as_str()), page)
    }

    async fn expired_lots(&self, now: DateTime<Utc>) -> StoreResult<Vec<(UserId, Lot)>> {
        self.enter("expired_lots").await?;
        let t = self.lock();
        let mut found = Vec::new();
        for (owner, ids) in &t.expiring_lots {
            let owner_id = UserId::parse(owner.as_str()).map_err(StoreError::backend)?;
            let lots = ids.iter().filter_map(|id| t.lots.get(owner).and_then(|l| l.get(id)));
            found.extend(lots.filter(|l| l.is_expired(now)).map(|l| (owner_id.clone(), l.clone())));
        }
        Ok(found)
    }

    async fn settle_lot(&self, owner_id: &UserId, lot: &str) -> StoreResult<()> {
        self.enter("settle_lot").await?;
        let mut t = self.lock();
        if let Some(ids) = t.expiring_lots.get_mut(owner_id.as_str()) {
            ids.remove(lot);
        }
        self.changed();
        Ok(())
    }
}
