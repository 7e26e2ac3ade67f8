//! Transactions and how their refusals come back: each written item travels with its
//! role, the wallet rule becomes a condition expression, and a cancelled transaction is
//! mapped back through the same rule to a typed refusal.

use std::collections::HashMap;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, CancellationReason, Put, TransactWriteItem};

use super::item::{Item, attr, n, parse, s};
use super::{DynamoStore, failure};
use crate::domain::{Condition, Guard, Refusal, Status, UserId};
use crate::store::{Profiles, StoreError, StoreResult, Taken};

/// What an item of a transaction stands for, to read its cancellation reason.
#[derive(Clone)]
pub enum Role<'a> {
    /// The wallet of this user, written under this guard.
    Wallet(&'a UserId, &'a Guard),
    /// An item that must not exist yet.
    Unique(Taken),
    /// An item whose condition failing means this refusal.
    Requires(Refusal),
    /// An idempotency record that must not exist yet.
    IdempotencyKey,
    /// An item without a condition.
    Plain,
}

/// One write of a transaction together with its role.
pub struct TxItem<'a> {
    pub write: TransactWriteItem,
    pub role: Role<'a>,
}

impl<'a> TxItem<'a> {
    /// A write without a condition of its own.
    pub fn plain(write: TransactWriteItem) -> Self {
        Self { write, role: Role::Plain }
    }
}

/// A condition expression with its attribute names and values.
#[derive(Default)]
pub struct Expression {
    pub text: String,
    pub names: HashMap<String, String>,
    pub values: HashMap<String, AttributeValue>,
}

impl Expression {
    fn and(&mut self, clause: &str) {
        if !self.text.is_empty() {
            self.text.push_str(" AND ");
        }
        self.text.push_str(clause);
    }

    fn name(&mut self, placeholder: &str, attribute: &str) {
        self.names.insert(placeholder.into(), attribute.into());
    }

    fn value(&mut self, placeholder: &str, value: AttributeValue) {
        self.values.insert(placeholder.into(), value);
    }
}

/// The guard's conditions as one expression over the profile item: the same list, in the
/// same order, as [`Guard::check`] runs.
pub fn guard_condition(guard: &Guard) -> Expression {
    let mut e = Expression::default();
    for condition in guard.conditions() {
        match condition {
            Condition::Exists => {
                e.and("attribute_exists(#pk)");
                e.name("#pk", attr::PK);
            }
            Condition::Active => {
                e.and("#status = :active");
                e.name("#status", "status");
                e.value(":active", s(Status::Active.as_str()));
            }
            Condition::NoHold => {
                e.and("#hold = :no_hold");
                e.name("#hold", "hold_provisioning");
                e.value(":no_hold", AttributeValue::Bool(false));
            }
            Condition::TierIn { tiers, .. } => {
                let placeholders: Vec<String> = (0..tiers.len()).map(|i| format!(":tier_in{i}")).collect();
                e.and(&format!("#tier IN ({})", placeholders.join(", ")));
                e.name("#tier", "tier");
                for (placeholder, tier) in placeholders.iter().zip(tiers) {
                    e.value(placeholder, s(tier.as_str()));
                }
            }
            Condition::TierIs(tier) => {
                e.and("#tier = :tier");
                e.name("#tier", "tier");
                e.value(":tier", s(tier.as_str()));
            }
            Condition::AvailableAtLeast { cost, held, .. } => {
                e.and("#balance >= :cost");
                e.name("#balance", "balance");
                e.value(":cost", n(cost.saturating_add(held)));
            }
            Condition::VersionIs(version) => {
                e.and("#version = :version");
                e.name("#version", "version");
                e.value(":version", n(version));
            }
        }
    }
    e
}

impl DynamoStore {
    /// A `Put` of `item`, under `condition` if any.
    pub(super) fn put(&self, item: Item, condition: Option<&str>) -> StoreResult<TransactWriteItem> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .set_condition_expression(condition.map(str::to_string))
            .build()
            .map_err(StoreError::backend)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// Writes `items` in one transaction; a cancellation comes back as a typed refusal.
    pub(super) async fn transact(&self, items: Vec<TxItem<'_>>) -> StoreResult<()> {
        let (writes, roles): (Vec<_>, Vec<_>) = items.into_iter().map(|i| (i.write, i.role)).unzip();
        match self.client.transact_write_items().set_transact_items(Some(writes)).send().await {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(e)) => match e.into_err() {
                TransactWriteItemsError::TransactionCanceledException(c) => {
                    Err(self.cancelled(c.cancellation_reasons(), &roles).await)
                }
                other => Err(failure(other)),
            },
            Err(other) => Err(failure(other)),
        }
    }

    /// The one place that turns DynamoDB's cancellation reasons (one per item, in order)
    /// into typed refusals. A duplicate idempotency key wins over everything: it is a replay.
    async fn cancelled(&self, reasons: &[CancellationReason], roles: &[Role<'_>]) -> StoreError {
        let failed = |r: &CancellationReason| r.code() == Some("ConditionalCheckFailed");
        let pairs = || roles.iter().zip(reasons);
        if pairs().any(|(role, r)| matches!(role, Role::IdempotencyKey) && failed(r)) {
            return StoreError::Refused(Refusal::Duplicate);
        }
        for (role, reason) in pairs().filter(|(_, r)| failed(r)) {
            match role {
                Role::Unique(taken) => return StoreError::Taken(*taken),
                Role::Requires(refusal) => return StoreError::Refused(refusal.clone()),
                Role::Wallet(user, guard) => return self.wallet_refusal(user, guard, reason.item()).await,
                Role::IdempotencyKey | Role::Plain => {}
            }
        }
        if reasons.iter().any(|r| r.code() == Some("ThrottlingError")) {
            return StoreError::Throttled;
        }
        if reasons.iter().any(|r| r.code() == Some("TransactionConflict")) {
            return StoreError::Conflict;
        }
        let codes: Vec<_> = reasons.iter().map(|r| r.code().unwrap_or("None").to_string()).collect();
        StoreError::Backend(format!("transaction cancelled: {codes:?}").into())
    }

    /// What a failed condition on the wallet of `user_id` means: `guard` read again on the
    /// profile as the condition saw it (ALL_OLD), or as it is now when the emulator does not
    /// return it, gives the refusal; when it holds there, a change passed in between (retry).
    async fn wallet_refusal(&self, user_id: &UserId, guard: &Guard, seen: Option<&Item>) -> StoreError {
        let old = match seen {
            Some(item) if !item.is_empty() => parse(item.clone()).map(Some),
            _ => self.reseller(user_id).await,
        };
        match old {
            Ok(old) => guard.check(old.as_ref()).map_or_else(StoreError::Refused, |()| StoreError::Conflict),
            Err(e) => e,
        }
    }

    /// What a failed update of the wallet item alone (not in a transaction, asked with
    /// `ReturnValuesOnConditionCheckFailure::AllOld`) means, as [`Self::transact`] reads a
    /// cancelled one: a refusal by the guard, or a race to retry. DynamoDB refuses the
    /// update with `TransactionConflict` while a money transaction on the wallet is in
    /// flight: a race too ([`failure`]).
    pub(super) async fn wallet_update_failed(
        &self,
        user_id: &UserId,
        guard: &Guard,
        error: UpdateItemError,
    ) -> StoreError {
        match error {
            UpdateItemError::ConditionalCheckFailedException(failed) => {
                self.wallet_refusal(user_id, guard, failed.item.as_ref()).await
            }
            e => failure(e),
        }
    }
}
