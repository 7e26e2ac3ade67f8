//! What a reseller owns: clients (onboarded one by one in a transaction that counts them,
//! or written in batches after a bulk charge), services and ledger entries.

use aws_sdk_dynamodb::types::{ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update};
use chrono::{DateTime, Utc};

use super::item::{attr, item, key, n, owner_of, parse};
use super::transaction::{Role, TxItem, guard_condition};
use super::{DynamoStore, failure};
use crate::domain::{
    Activity, Client, ClientId, Guard, Hold, HoldStatus, LedgerEntry, Lot, ProvisionedService, UserId,
};
use crate::store::{Page, PageRequest, Portfolio, StoreError, StoreResult, Taken, keys};

impl Portfolio for DynamoStore {
    async fn insert_client(&self, client: &Client) -> StoreResult<()> {
        let owner = keys::reseller(&client.owner_id);
        let condition = guard_condition(&Guard::AddClient);
        let count = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(owner.clone(), keys::PROFILE)))
            .update_expression("ADD #clients :one")
            .condition_expression(condition.text)
            .set_expression_attribute_names(Some(condition.names))
            .set_expression_attribute_values(Some(condition.values))
            .expression_attribute_names("#clients", "clients")
            .expression_attribute_values(":one", n(1))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(StoreError::backend)?;
        let mut items = vec![
            TxItem {
                write: self.put(item(client, owner, keys::client(&client.id))?, Some("attribute_not_exists(pk)"))?,
                role: Role::Unique(Taken::Client),
            },
            TxItem {
                write: TransactWriteItem::builder().update(count).build(),
                role: Role::Wallet(&client.owner_id, &Guard::AddClient),
            },
        ];
        let acquisition = Activity { acquisitions: 1, ..Activity::default() };
        items.extend(self.counters(&client.owner_id, client.created_at, &acquisition, None)?);
        self.transact(items).await
    }

    async fn put_portfolio(&self, clients: &[Client], services: &[ProvisionedService]) -> StoreResult<()> {
        let mut items = Vec::with_capacity(clients.len() + services.len());
        for c in clients {
            items.push(item(c, keys::reseller(&c.owner_id), keys::client(&c.id))?);
        }
        for sv in services {
            items.push(item(sv, keys::reseller(&sv.owner_id), keys::service(&sv.id))?);
        }
        self.batch_put(items).await
    }

    async fn client(&self, owner_id: &UserId, client_id: &ClientId) -> StoreResult<Option<Client>> {
        self.get(key(keys::reseller(owner_id), keys::client(client_id))).await?.map(parse).transpose()
    }

    async fn clients(&self, owner_id: &UserId, page: &PageRequest) -> StoreResult<Page<Client>> {
        self.query_page(keys::reseller(owner_id), keys::CLIENT_PREFIX, page, |c: &Client| c.id.to_string()).await
    }

    async fn services(&self, owner_id: &UserId, page: &PageRequest) -> StoreResult<Page<ProvisionedService>> {
        self.query_page(keys::reseller(owner_id), keys::SERVICE_PREFIX, page, |sv: &ProvisionedService| sv.id.clone())
            .await
    }

    async fn entry(&self, owner_id: &UserId, id: &str) -> StoreResult<Option<LedgerEntry>> {
        self.get(key(keys::reseller(owner_id), keys::ledger_entry(id))).await?.map(parse).transpose()
    }

    async fn hold(&self, owner_id: &UserId, id: &str) -> StoreResult<Option<Hold>> {
        self.get(key(keys::reseller(owner_id), keys::hold(id))).await?.map(parse).transpose()
    }

    async fn holds(&self, owner_id: &UserId, page: &PageRequest) -> StoreResult<Page<Hold>> {
        self.query_page(keys::reseller(owner_id), keys::HOLD_PREFIX, page, |h: &Hold| h.id.clone()).await
    }

    async fn expired_holds(&self, now: DateTime<Utc>) -> StoreResult<Vec<Hold>> {
        let found = self.swept(keys::ACTIVE_HOLDS, keys::active_hold_order(&now, "", "")).await?;
        // Read after the index: a hold closed in between is no longer active.
        let holds: Vec<Hold> = found.into_iter().map(parse).collect::<StoreResult<_>>()?;
        Ok(holds.into_iter().filter(|h| h.status == HoldStatus::Active).collect())
    }

    async fn lots(&self, owner_id: &UserId, page: &PageRequest) -> StoreResult<Page<Lot>> {
        self.query_page(keys::reseller(owner_id), keys::LOT_PREFIX, page, |l: &Lot| l.id.clone()).await
    }

    async fn expired_lots(&self, now: DateTime<Utc>) -> StoreResult<Vec<(UserId, Lot)>> {
        let found = self.swept(keys::EXPIRING_LOTS, keys::expiring_lot_order(&now, "", "")).await?;
        let mut lots = Vec::new();
        for item in found {
            // Read after the index: one the job took in between has left the partition.
            if item.contains_key(attr::STATUS_PK) {
                lots.push((owner_of(&item)?, parse(item)?));
            }
        }
        Ok(lots)
    }

    async fn settle_lot(&self, owner_id: &UserId, lot: &str) -> StoreResult<()> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::reseller(owner_id), keys::lot(lot))))
            .update_expression("REMOVE #status_pk, #status_sk")
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", attr::PK)
            .expression_attribute_names("#status_pk", attr::STATUS_PK)
            .expression_attribute_names("#status_sk", attr::STATUS_SK)
            .send()
            .await
            .map_err(failure)?;
        Ok(())
    }

    async fn ledger(&self, owner_id: &UserId, page: &PageRequest) -> StoreResult<Page<LedgerEntry>> {
        self.query_page(keys::reseller(owner_id), keys::LEDGER_PREFIX, page, |e: &LedgerEntry| e.id.clone()).await
    }
}
