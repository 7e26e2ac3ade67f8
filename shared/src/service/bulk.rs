//! Bulk onboarding: up to 500 clients, each with a service, charged at once; the first
//! ones written with the charge, the rest filled after it, by the caller or, if that fails,
//! by the sweeper.

use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use tracing::instrument;
use ulid::Ulid;

use super::money::Movement;
use super::wallet_write::{Also, request_hash};
use super::{Ally, BulkCharge, BulkReceipt, BulkRequest, BulkState, BulkStatus};
use crate::domain::{
    Activity, AllyError, Client, ClientId, EntryKind, IdempotencyKey, LotMove, ProvisionedService, Reseller, Tier,
    UserId, license_key,
};
use crate::store::{IdempotencyState, Store};

/// Most clients one bulk onboarding may carry.
pub const MAX_BULK: usize = 500;

impl<S: Store> Ally<S> {
    /// Onboards up to 500 clients and provisions one service for each at the tier price:
    /// all or nothing. The whole charge is reserved in one write, with as many of the clients
    /// and services as fit in it (all of a bulk of up to 47); the rest are then written in
    /// batches, with ids derived from the key, so a retry after a crash rewrites the same
    /// items and is never charged again.
    #[instrument(skip(self, request), fields(clients = request.clients.len()))]
    pub async fn bulk_onboard(
        &self,
        user_id: &UserId,
        request: BulkRequest,
        key: &IdempotencyKey,
    ) -> Result<BulkReceipt, AllyError> {
        let count = request.clients.len();
        if count == 0 || count > MAX_BULK {
            return Err(AllyError::validation(format!("a bulk onboarding takes 1 to {MAX_BULK} clients, got {count}")));
        }
        let hash = request_hash("bulk_onboard", &request);
        // What the charge that committed carried (each attempt decides it from its read).
        let carried = AtomicUsize::new(0);
        let fill = serde_json::to_string(&request).map_err(AllyError::internal)?;
        let committed = self
            .commit(
                user_id,
                key,
                hash,
                Also::Nothing,
                |r, _, now| {
                    let price = self.price(r, request.product.as_deref(), request.cost)?;
                    let total = price.cost.times(count)?;
                    let guard = price.guard(r, total, now);
                    guard.check(Some(r))?;
                    let (mut clients, mut services) =
                        bulk_items(user_id, key, &request, price.cost.get(), price.base.get(), r.tier, now);
                    let in_charge = count.min(clients_in_charge(r, total.get(), now));
                    carried.store(in_charge, Ordering::Relaxed);
                    let filled_later = count > in_charge;
                    clients.truncate(in_charge);
                    services.truncate(in_charge);
                    Ok(Movement {
                        reason: Some(format!("bulk onboarding of {count} clients")),
                        activity: Activity {
                            credits_spent: total.get(),
                            provisions: count as i64,
                            acquisitions: count as i64,
                            ..Activity::default()
                        },
                        clients,
                        services,
                        state: if filled_later { IdempotencyState::Pending } else { IdempotencyState::Done },
                        pending_fill: filled_later.then(|| fill.clone()),
                        ..Movement::new(
                            guard,
                            EntryKind::Debit,
                            total.get(),
                            user_id.as_str(),
                            LotMove::Draw,
                            (price, r.tier),
                        )
                    })
                },
                |o, (price, tier)| {
                    let entry = o.entry()?;
                    Ok(BulkCharge {
                        cost: price.cost.get(),
                        base_cost: price.base.get(),
                        tier: *tier,
                        total: entry.amount,
                        balance: o.balance,
                        transaction: entry.clone(),
                    })
                },
            )
            .await?;
        let charge = committed.response;
        let at = charge.transaction.created_at;
        let (clients, services) = bulk_items(user_id, key, &request, charge.cost, charge.base_cost, charge.tier, at);
        let mut state = BulkState::Done;
        if committed.state == IdempotencyState::Pending {
            // A fresh charge wrote the first clients and services itself; a retry of a
            // pending one cannot know how far a fill got, and rewrites them all.
            let from = if committed.fresh { carried.load(Ordering::Relaxed) } else { 0 };
            if let Err(e) = self.fill(user_id, key, &charge, &clients[from..], &services[from..]).await {
                // Charged, not yet filled: never a 500 that invites a retry with a new key.
                // The caller is told so (202); the sweeper or a retry finishes the fill.
                tracing::error!(error = %e, "a bulk fill failed after its charge; the sweeper finishes it");
                state = BulkState::Filling;
            }
        }
        Ok(BulkReceipt {
            state,
            cost: charge.cost,
            total: charge.total,
            balance: charge.balance,
            transaction: charge.transaction,
            clients,
            services,
        })
    }

    /// Writes a charged bulk's `clients` and `services` and marks its record done. Every
    /// write is of items whose ids derive from the key, so doing it twice (a retry and the
    /// sweeper at once) writes the same items.
    async fn fill(
        &self,
        user_id: &UserId,
        key: &IdempotencyKey,
        charge: &BulkCharge,
        clients: &[Client],
        services: &[ProvisionedService],
    ) -> Result<(), AllyError> {
        self.store.put_portfolio(clients, services).await?;
        let done = serde_json::to_string(charge).map_err(AllyError::internal)?;
        Ok(self.store.finish_idempotency(user_id, key, &done).await?)
    }

    /// A bulk onboarding of the caller's by its key: filling or done, and its charge; 404
    /// for a key that named no bulk of this caller.
    pub async fn bulk_status(&self, user_id: &UserId, key: &IdempotencyKey) -> Result<BulkStatus, AllyError> {
        let (_, record) = self.store.wallet(user_id, key).await?;
        let record = record.ok_or(AllyError::NotFound("bulk onboarding"))?;
        let charge: BulkCharge =
            serde_json::from_str(&record.response).map_err(|_| AllyError::NotFound("bulk onboarding"))?;
        let state = match record.state {
            IdempotencyState::Pending => BulkState::Filling,
            IdempotencyState::Done => BulkState::Done,
        };
        Ok(BulkStatus { state, charge })
    }

    /// Finishes every bulk whose fill is still pending after `grace` (its caller gave up or
    /// crashed): what the sweeper runs. Returns how many it finished; one that fails is
    /// logged and the others go on, then the run fails (for the alarm and the next run).
    #[instrument(skip(self))]
    pub async fn finish_pending_bulks(&self, grace: chrono::Duration) -> Result<usize, AllyError> {
        let mut finished = 0;
        let mut failed = None;
        for (user_id, record) in self.store.pending_fills(self.now() - grace).await? {
            let Some(fill) = &record.pending_fill else { continue };
            let done = async {
                let request: BulkRequest = serde_json::from_str(fill).map_err(AllyError::internal)?;
                let charge: BulkCharge = serde_json::from_str(&record.response).map_err(AllyError::internal)?;
                let at = charge.transaction.created_at;
                let (clients, services) =
                    bulk_items(&user_id, &record.key, &request, charge.cost, charge.base_cost, charge.tier, at);
                self.fill(&user_id, &record.key, &charge, &clients, &services).await
            };
            match done.await {
                Ok(()) => finished += 1,
                Err(e) => {
                    tracing::error!(reseller = %user_id, error = %e, "a pending bulk fill failed again");
                    failed = Some(e);
                }
            }
        }
        match failed {
            Some(e) => Err(e),
            None => Ok(finished),
        }
    }
}

/// A ULID at the charge's time whose random part is derived from the key and the index,
/// so every retry of a bulk onboarding names its items the same, in request order.
///
/// A ULID is 48 bits of milliseconds and 80 random bits. Here the 80 bits are 48 bits of
/// SHA-256(user, key, kind), the same for every item of one bulk, then the index in the
/// low 32 bits: ids of one bulk sort in request order, and two bulks (or clients and
/// services of one) differ in the hash part.
fn derived_id(user_id: &UserId, key: &IdempotencyKey, kind: &str, index: usize, at: DateTime<Utc>) -> Ulid {
    let digest = Sha256::digest(format!("{user_id}\0{key}\0{kind}").as_bytes());
    let mut high = [0u8; 8];
    high[2..].copy_from_slice(&digest[..6]);
    let random = (u128::from(u64::from_be_bytes(high)) << 32) | index as u128;
    Ulid::from_parts(at.timestamp_millis() as u64, random)
}

/// How many clients of a bulk of `total` credits (with their services, two items each) ride
/// in the charge's transaction: DynamoDB takes 100 items; the wallet, the entry, the key, the
/// two counters and an auto top-up request take 6, and each lot the spend moves beside the
/// wallet one (47 when it moves none).
fn clients_in_charge(r: &Reseller, total: i64, now: DateTime<Utc>) -> usize {
    let mut lots = r.lots.clone();
    lots.draw(total, now);
    let beside = lots.beside_changes();
    (100 - 6usize).saturating_sub(beside.put.len() + beside.delete.len()) / 2
}

/// The clients and services of a bulk onboarding at the charge's time `at`, rebuilt
/// identically from the request and the charge by every retry.
fn bulk_items(
    user_id: &UserId,
    key: &IdempotencyKey,
    request: &BulkRequest,
    per_client: i64,
    base_cost: i64,
    tier: Tier,
    at: DateTime<Utc>,
) -> (Vec<Client>, Vec<ProvisionedService>) {
    let mut clients = Vec::with_capacity(request.clients.len());
    let mut services = Vec::with_capacity(request.clients.len());
    for (index, new) in request.clients.iter().enumerate() {
        let client = Client {
            id: ClientId::from_ulid(derived_id(user_id, key, "client", index, at)),
            owner_id: user_id.clone(),
            name: new.name.clone(),
            email: new.email.clone(),
            created_at: at,
        };
        let service_id = derived_id(user_id, key, "service", index, at).to_string();
        services.push(ProvisionedService {
            license_key: license_key(user_id, &service_id),
            id: service_id,
            owner_id: user_id.clone(),
            client_id: Some(client.id.clone()),
            product: request.product.clone(),
            description: None,
            base_cost,
            cost: per_client,
            tier,
            created_at: at,
        });
        clients.push(client);
    }
    (clients, services)
}
