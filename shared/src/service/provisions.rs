//! Credits spent on one service: its price at the reseller's tier, and the provision, one
//! movement of the pipeline with the service written in the same transaction.

use chrono::{DateTime, Utc};
use tracing::instrument;

use super::money::Movement;
use super::wallet_write::{Also, request_hash};
use super::{Ally, ProvisionReceipt, ProvisionRequest};
use crate::domain::{
    Activity, AllyError, Credits, EntryKind, Guard, IdempotencyKey, LotMove, Product, ProvisionedService, Reseller,
    UserId, license_key, new_id,
};
use crate::store::Store;

/// What a spend costs at the reseller's tier: the base price and the tier price.
pub(super) struct Price {
    pub base: Credits,
    pub cost: Credits,
    pub product: Option<Product>,
}

impl Price {
    /// The wallet rule of spending `total` at this price (the whole of a bulk) at `now`.
    pub(super) fn guard(&self, r: &Reseller, total: Credits, now: DateTime<Utc>) -> Guard {
        Guard::Spend {
            version: r.version,
            tier: r.tier,
            cost: total.get(),
            held: r.held,
            product: self.product.clone(),
            at: now,
        }
    }
}

impl<S: Store> Ally<S> {
    /// Provisions one service for the calling reseller at its tier price.
    #[instrument(skip(self, request))]
    pub async fn provision(
        &self,
        user_id: &UserId,
        request: ProvisionRequest,
        key: &IdempotencyKey,
    ) -> Result<ProvisionReceipt, AllyError> {
        let client_id = self.own_client(user_id, request.client_id.as_ref()).await?;
        let hash = request_hash("provision", &request);
        let committed = self
            .commit(
                user_id,
                key,
                hash,
                Also::Nothing,
                |r, _, now| {
                    let price = self.price(r, request.product.as_deref(), request.cost)?;
                    let guard = price.guard(r, price.cost, now);
                    guard.check(Some(r))?;
                    let id = new_id();
                    let service = ProvisionedService {
                        license_key: license_key(user_id, &id),
                        id,
                        owner_id: user_id.clone(),
                        client_id: client_id.clone(),
                        product: price.product.as_ref().map(|p| p.id.clone()),
                        description: request.description.as_ref().map(ToString::to_string),
                        base_cost: price.base.get(),
                        cost: price.cost.get(),
                        tier: r.tier,
                        created_at: now,
                    };
                    Ok(Movement {
                        reason: Some(service_reason(&service)),
                        activity: Activity { credits_spent: price.cost.get(), provisions: 1, ..Activity::default() },
                        services: vec![service.clone()],
                        ..Movement::new(
                            guard,
                            EntryKind::Debit,
                            price.cost.get(),
                            user_id.as_str(),
                            LotMove::Draw,
                            service,
                        )
                    })
                },
                |o, service| {
                    let entry = o.entry()?;
                    Ok(ProvisionReceipt {
                        cost: entry.amount,
                        balance: o.balance,
                        service: service.clone(),
                        transaction: entry.clone(),
                    })
                },
            )
            .await?;
        Ok(committed.response)
    }

    /// The base and tier price of a catalog product or a custom base cost. Whether the
    /// reseller may spend it is the wallet rule's to say ([`Price::guard`]).
    pub(super) fn price(&self, r: &Reseller, product: Option<&str>, cost: Option<i64>) -> Result<Price, AllyError> {
        let (base, product) = match (product, cost) {
            (Some(id), None) => {
                let p = self.config.catalog.find(id).ok_or_else(|| {
                    AllyError::validation(format!("unknown product `{}`", id.chars().take(64).collect::<String>()))
                })?;
                (p.base_price, Some(p.clone()))
            }
            (None, Some(cost)) => (Credits::new(cost, self.config.max_credit_amount)?, None),
            _ => return Err(AllyError::validation("give either a product or a cost")),
        };
        Ok(Price { base, cost: self.config.discounts.price(base, r.tier), product })
    }
}

fn service_reason(service: &ProvisionedService) -> String {
    match &service.product {
        Some(product) => format!("provision {product}"),
        None => "provision custom service".to_string(),
    }
}
