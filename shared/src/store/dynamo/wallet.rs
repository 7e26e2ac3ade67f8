//! The money path: the wallet and its idempotency record read together, and the one
//! transaction of a wallet change (the wallet under the rule, the ledger entry, the
//! idempotency record, the service bought, the counters).

use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};

use chrono::{DateTime, Utc};

use super::item::{Item, attr, idempotency_item, idempotency_key, item, key, n, owner_of, parse, s, sort_key, to_attr};
use super::transaction::{Role, TxItem, guard_condition};
use super::{DynamoStore, failure};
use crate::domain::{HoldStatus, IdempotencyKey, Lot, Refusal, Reseller, UserId};
use crate::store::{
    HoldWrite, IdempotencyRecord, IdempotencyState, LotWrite, PaymentReceipt, ReceiptWrite, ReversalOf, StoreError,
    StoreResult, WalletChange, Wallets, keys,
};

impl DynamoStore {
    /// The reseller of a profile item, with the lots waiting beside its wallet read in: one
    /// more strongly consistent query, only when the profile says some wait there. A write
    /// landing between the two reads gives the wallet a new version, which refuses a change
    /// decided from this read.
    pub(super) async fn with_lots_beside(&self, profile: Item) -> StoreResult<Reseller> {
        let waiting = profile.get(attr::LOTS_BESIDE).and_then(|v| v.as_n().ok()).is_some_and(|n| n != "0");
        let pk = profile.get(attr::PK).cloned();
        let mut reseller: Reseller = parse(profile)?;
        if let Some(AttributeValue::S(pk)) = pk.filter(|_| waiting) {
            let query = self.prefix_query(pk, keys::LOT_BESIDE_WALLET_PREFIX).consistent_read(true);
            let lots = self.query_all(query).await?.into_iter().map(parse).collect::<StoreResult<Vec<Lot>>>()?;
            reseller.lots.read_beside(lots);
        }
        Ok(reseller)
    }

    /// The reversal counted on the entry it reverses: `ADD reversed`, only while what was
    /// reversed before leaves room for it.
    fn reversal_count(&self, owner: &UserId, reversal: &ReversalOf) -> StoreResult<TxItem<'static>> {
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(keys::reseller(owner), keys::ledger_entry(&reversal.entry_id))))
            .update_expression("ADD #reversed :amount")
            .condition_expression("attribute_exists(#pk) AND (attribute_not_exists(#reversed) OR #reversed <= :limit)")
            .expression_attribute_names("#pk", attr::PK)
            .expression_attribute_names("#reversed", "reversed")
            .expression_attribute_values(":amount", n(reversal.amount))
            .expression_attribute_values(":limit", n(reversal.limit))
            .build()
            .map_err(StoreError::backend)?;
        let write = TransactWriteItem::builder().update(update).build();
        Ok(TxItem { write, role: Role::Requires(Refusal::ReversalExceedsOriginal) })
    }

    /// A hold as stored: an active one also in the sparse `HOLD#ACTIVE` partition of
    /// `by-status` (by expiry), which a closed one leaves, since the put replaces the item.
    /// Closing requires it still active, so a capture, a void and an expiry exclude each other.
    fn hold_write(&self, write: &HoldWrite) -> StoreResult<TxItem<'static>> {
        let hold = &write.hold;
        let mut stored = item(hold, keys::reseller(&hold.owner_id), keys::hold(&hold.id))?;
        if hold.status == HoldStatus::Active {
            stored.insert(attr::STATUS_PK.into(), s(keys::sparse(keys::ACTIVE_HOLDS, &hold.owner_id)));
            stored
                .insert(attr::STATUS_SK.into(), s(keys::active_hold_order(&hold.expires_at, &hold.owner_id, &hold.id)));
        }
        let put = Put::builder().table_name(&self.table).set_item(Some(stored));
        let put = if write.placed {
            put.condition_expression("attribute_not_exists(#pk)").expression_attribute_names("#pk", attr::PK)
        } else {
            put.condition_expression("#hold_status = :active")
                .expression_attribute_names("#hold_status", "status")
                .expression_attribute_values(":active", to_attr(&HoldStatus::Active)?)
        };
        let write = TransactWriteItem::builder().put(put.build().map_err(StoreError::backend)?).build();
        Ok(TxItem { write, role: Role::Requires(Refusal::HoldClosed) })
    }
    /// A lot item opened, grown or expired. One with an expiry sits in the sparse
    /// `LOT#EXPIRING` partition of `by-status` until the expiry job takes it out; the job's
    /// write requires it still there, so a lot expires once.
    fn lot_write(&self, owner: &UserId, write: &LotWrite) -> StoreResult<TxItem<'static>> {
        match write {
            LotWrite::Put(lot) => {
                let mut stored = item(lot, keys::reseller(owner), keys::lot(&lot.id))?;
                if let Some(expires_at) = lot.expires_at {
                    stored.insert(attr::STATUS_PK.into(), s(keys::sparse(keys::EXPIRING_LOTS, owner)));
                    stored.insert(attr::STATUS_SK.into(), s(keys::expiring_lot_order(&expires_at, owner, &lot.id)));
                }
                Ok(TxItem::plain(self.put(stored, None)?))
            }
            LotWrite::Expired { lot, amount } => {
                let update = Update::builder()
                    .table_name(&self.table)
                    .set_key(Some(key(keys::reseller(owner), keys::lot(lot))))
                    .update_expression("SET #expired = :amount REMOVE #status_pk, #status_sk")
                    .condition_expression("attribute_exists(#status_pk)")
                    .expression_attribute_names("#expired", "expired")
                    .expression_attribute_names("#status_pk", attr::STATUS_PK)
                    .expression_attribute_names("#status_sk", attr::STATUS_SK)
                    .expression_attribute_values(":amount", n(*amount))
                    .build()
                    .map_err(StoreError::backend)?;
                let write = TransactWriteItem::builder().update(update).build();
                Ok(TxItem { write, role: Role::Requires(Refusal::VersionChanged) })
            }
        }
    }

    /// The items of one wallet change: the wallet under its rule, the idempotency record,
    /// the entries, and what travels with them.
    fn wallet_items<'a>(&self, change: &'a WalletChange) -> StoreResult<Vec<TxItem<'a>>> {
        let condition = guard_condition(&change.guard);
        let (mut names, mut values) = (condition.names, condition.values);
        names.insert("#held".into(), "held".into());
        values.insert(":held".into(), n(change.new_held));
        names.insert("#debt".into(), "debt".into());
        values.insert(":debt".into(), n(change.new_debt));
        names.insert("#lots".into(), "lots".into());
        values.insert(":lots".into(), to_attr(&change.new_lots.on_wallet())?);
        names.insert("#lots_beside".into(), attr::LOTS_BESIDE.into());
        values.insert(":lots_beside".into(), n(change.new_lots.beside_count()));
        let mut set = String::from(
            "SET #new_balance = :balance, #held = :held, #debt = :debt, #lots = :lots, #lots_beside = :lots_beside, \
             #new_version = #new_version + :one, #wallet_open = :true, #updated_at = :at",
        );
        let mut remove = "";
        if change.lift_hold {
            names.insert("#hold".into(), "hold_provisioning".into());
            names.insert("#hold_reason".into(), "hold_reason".into());
            values.insert(":false".into(), AttributeValue::Bool(false));
            set.push_str(", #hold = :false");
            remove = " REMOVE #hold_reason";
        }
        if let Some(step) = &change.top_up {
            names.insert("#auto_top_up".into(), "auto_top_up".into());
            values.insert(":auto_top_up".into(), to_attr(&step.state)?);
            set.push_str(", #auto_top_up = :auto_top_up");
        }
        let wallet = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(keys::reseller(&change.user_id), keys::PROFILE)))
            .update_expression(format!(
                "{set} ADD #credits_added :added, #credits_spent :spent, #provisions :provisions, #clients :clients{remove}"
            ))
            .condition_expression(condition.text)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .expression_attribute_names("#new_balance", "balance")
            .expression_attribute_names("#new_version", "version")
            .expression_attribute_names("#wallet_open", "wallet_open")
            .expression_attribute_names("#updated_at", "updated_at")
            .expression_attribute_names("#credits_added", "credits_added")
            .expression_attribute_names("#credits_spent", "credits_spent")
            .expression_attribute_names("#provisions", "provisions")
            .expression_attribute_names("#clients", "clients")
            .expression_attribute_values(":balance", n(change.new_balance))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .expression_attribute_values(":at", to_attr(&change.at)?)
            .expression_attribute_values(":added", n(change.activity.credits_added))
            .expression_attribute_values(":spent", n(change.activity.credits_spent))
            .expression_attribute_values(":provisions", n(change.activity.provisions))
            .expression_attribute_values(":clients", n(change.activity.acquisitions))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(StoreError::backend)?;
        let owner = keys::reseller(&change.user_id);
        let mut items = vec![
            TxItem {
                write: TransactWriteItem::builder().update(wallet).build(),
                role: Role::Wallet(&change.user_id, &change.guard),
            },
            TxItem {
                write: self
                    .put(idempotency_item(&change.user_id, &change.idempotency)?, Some("attribute_not_exists(pk)"))?,
                role: Role::IdempotencyKey,
            },
        ];
        for entry in &change.entries {
            items.push(TxItem::plain(self.put(item(entry, owner.clone(), keys::ledger_entry(&entry.id))?, None)?));
        }
        if let Some(reversal) = &change.reversal {
            items.push(self.reversal_count(&change.user_id, reversal)?);
        }
        if let Some(write) = &change.hold {
            items.push(self.hold_write(write)?);
        }
        for write in &change.lot_writes {
            items.push(self.lot_write(&change.user_id, write)?);
        }
        // The lots beside the wallet move under the wallet's condition: a read of them
        // at another version is refused with it.
        let beside = change.new_lots.beside_changes();
        for lot in beside.put {
            items.push(TxItem::plain(self.put(item(lot, owner.clone(), keys::lot_beside_wallet(&lot.id))?, None)?));
        }
        for lot in beside.delete {
            let delete = Delete::builder()
                .table_name(&self.table)
                .set_key(Some(key(owner.clone(), keys::lot_beside_wallet(lot))))
                .build()
                .map_err(StoreError::backend)?;
            items.push(TxItem::plain(TransactWriteItem::builder().delete(delete).build()));
        }
        if let Some(step) = &change.top_up {
            items.push(self.top_up_write(&step.request)?);
        }
        match &change.payment {
            Some(ReceiptWrite::Take(receipt)) => {
                let name = keys::payment_receipt(receipt.key.as_str());
                let stored = item(receipt, name.clone(), name)?;
                items.push(TxItem {
                    write: self.put(stored, Some("attribute_not_exists(pk)"))?,
                    role: Role::Requires(Refusal::PaidElsewhere),
                });
            }
            Some(ReceiptWrite::Move { key: receipt, moves, taken_back }) => {
                let name = keys::payment_receipt(receipt.as_str());
                let update = Update::builder()
                    .table_name(&self.table)
                    .set_key(Some(key(name.clone(), name)))
                    .update_expression("SET #taken_back = :taken_back, #moves = :next")
                    .condition_expression("#moves = :moves")
                    .expression_attribute_names("#taken_back", "taken_back")
                    .expression_attribute_names("#moves", "moves")
                    .expression_attribute_values(":taken_back", n(*taken_back))
                    .expression_attribute_values(":moves", n(*moves))
                    .expression_attribute_values(":next", n(moves + 1))
                    .build()
                    .map_err(StoreError::backend)?;
                let write = TransactWriteItem::builder().update(update).build();
                items.push(TxItem { write, role: Role::Requires(Refusal::ReceiptMoved) });
            }
            None => {}
        }
        items.extend(self.counters(&change.user_id, change.at, &change.activity, change.accrual.as_ref())?);
        for client in &change.clients {
            items.push(TxItem::plain(self.put(item(client, owner.clone(), keys::client(&client.id))?, None)?));
        }
        for service in &change.services {
            items.push(TxItem::plain(self.put(item(service, owner.clone(), keys::service(&service.id))?, None)?));
        }
        Ok(items)
    }
}

impl Wallets for DynamoStore {
    async fn wallet(
        &self,
        user_id: &UserId,
        idempotency: &IdempotencyKey,
    ) -> StoreResult<(Option<Reseller>, Option<IdempotencyRecord>)> {
        let wanted = vec![key(keys::reseller(user_id), keys::PROFILE), idempotency_key(user_id, idempotency)];
        let mut profile = None;
        let mut record = None;
        for found in self.get_many(wanted).await? {
            match sort_key(&found) {
                Some(keys::PROFILE) => profile = Some(found),
                _ => record = Some(parse(found)?),
            }
        }
        let profile = match profile {
            Some(found) => Some(self.with_lots_beside(found).await?),
            None => None,
        };
        Ok((profile, record))
    }

    async fn payment_receipt(&self, key_name: &IdempotencyKey) -> StoreResult<Option<PaymentReceipt>> {
        let name = keys::payment_receipt(key_name.as_str());
        self.get(key(name.clone(), name)).await?.map(parse).transpose()
    }

    async fn lot(&self, owner_id: &UserId, id: &str) -> StoreResult<Option<Lot>> {
        self.get(key(keys::reseller(owner_id), keys::lot(id))).await?.map(parse).transpose()
    }

    async fn commit_wallet_change(&self, change: &WalletChange) -> StoreResult<()> {
        self.transact(self.wallet_items(change)?).await
    }

    async fn commit_transfer(&self, from: &WalletChange, to: &WalletChange) -> StoreResult<()> {
        let mut items = self.wallet_items(from)?;
        items.extend(self.wallet_items(to)?);
        self.transact(items).await
    }

    async fn finish_idempotency(&self, user_id: &UserId, key_name: &IdempotencyKey, response: &str) -> StoreResult<()> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(idempotency_key(user_id, key_name)))
            .update_expression("SET #state = :done, #response = :response REMOVE #fill, #fill_pk, #fill_sk")
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", attr::PK)
            .expression_attribute_names("#fill", "pending_fill")
            .expression_attribute_names("#fill_pk", attr::STATUS_PK)
            .expression_attribute_names("#fill_sk", attr::STATUS_SK)
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#response", "response")
            .expression_attribute_values(":done", to_attr(&IdempotencyState::Done)?)
            .expression_attribute_values(":response", s(response))
            .send()
            .await
            .map_err(failure)?;
        Ok(())
    }

    async fn pending_fills(&self, before: DateTime<Utc>) -> StoreResult<Vec<(UserId, IdempotencyRecord)>> {
        let mut pending = Vec::new();
        for record in self.swept(keys::PENDING_FILLS, keys::pending_fill_order(&before, "")).await? {
            let owner = owner_of(&record)?;
            let record: IdempotencyRecord = parse(record)?;
            // Read after the index: a fill finished in between is done.
            if record.state == IdempotencyState::Pending {
                pending.push((owner, record));
            }
        }
        Ok(pending)
    }
}
