//! Handlers: parse, authorize, call one service method, map the result.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Serialize;

use super::openapi::{Access, Method, Operation, schema};
use super::{ApiError, Shared};
use crate::store::Store;

/// `{status: "ok"}`.
#[derive(Serialize, schemars::JsonSchema)]
pub struct Health {
    status: &'static str,
}

pub const HEALTH: Operation = Operation {
    method: Method::Get,
    path: "/health",
    id: "health",
    summary: "Liveness",
    access: Access::Public,
    query: &[],
    idempotent: false,
    request: None,
    status: 200,
    response: schema::<Health>,
    errors: &[],
};

pub const OPENAPI: Operation = Operation {
    method: Method::Get,
    path: "/openapi.json",
    id: "openapi",
    summary: "This document",
    access: Access::Public,
    query: &[],
    idempotent: false,
    request: None,
    status: 200,
    response: schema::<serde_json::Value>,
    errors: &[],
};

pub async fn health() -> Json<Health> {
    Json(Health { status: "ok" })
}

pub async fn openapi() -> Json<&'static serde_json::Value> {
    Json(super::openapi_json())
}

pub async fn no_route() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route")
}

/// A page of items as the API shows it, the cursor sealed to its caller.
#[derive(Serialize, schemars::JsonSchema)]
pub struct PageBody<T> {
    items: Vec<T>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

fn sealed_page<T, S>(app: &Shared<S>, scope: &str, page: crate::store::Page<T>) -> Json<PageBody<T>> {
    let next_cursor = page.next_cursor.map(|raw| app.cursors.seal(scope, &raw));
    Json(PageBody { items: page.items, next_cursor })
}

const LIST_QUERY: &[(&str, &str)] =
    &[("limit", "page size, 1 to 100 (default 25)"), ("cursor", "next_cursor of the previous page")];

pub mod resellers {
    use axum::extract::{Path, Query};
    use serde::Deserialize;

    use super::super::extract::{AdminCaller, Body, Caller, ListParams};
    use super::*;
    use crate::domain::{LedgerEntry, Reseller};
    use crate::service::{MetadataPatch, NewReseller, ResellerPatch, ResellerStats};

    pub const ONBOARD: Operation = Operation {
        method: Method::Post,
        path: "/resellers",
        id: "onboardReseller",
        summary: "Onboard a reseller (yourself; an admin may onboard anyone at any tier)",
        access: Access::SignedIn,
        query: &[],
        idempotent: false,
        request: Some(schema::<NewReseller>),
        status: 201,
        response: schema::<Reseller>,
        errors: &[403, 409],
    };
    pub const ME: Operation = Operation {
        method: Method::Get,
        path: "/resellers/me",
        id: "me",
        summary: "Your profile, tier, balance and metadata",
        access: Access::SignedIn,
        query: &[],
        idempotent: false,
        request: None,
        status: 200,
        response: schema::<Reseller>,
        errors: &[404],
    };
    pub const STATS: Operation = Operation {
        method: Method::Get,
        path: "/resellers/me/stats",
        id: "myStats",
        summary: "Your balance, tier and totals",
        access: Access::SignedIn,
        query: &[],
        idempotent: false,
        request: None,
        status: 200,
        response: schema::<ResellerStats>,
        errors: &[404],
    };
    pub const TRANSACTIONS: Operation = Operation {
        method: Method::Get,
        path: "/resellers/me/transactions",
        id: "myTransactions",
        summary: "Your ledger, newest first",
        access: Access::SignedIn,
        query: LIST_QUERY,
        idempotent: false,
        request: None,
        status: 200,
        response: schema::<PageBody<LedgerEntry>>,
        errors: &[404],
    };
    pub const METADATA: Operation = Operation {
        method: Method::Patch,
        path: "/resellers/me/metadata",
        id: "updateMyMetadata",
        summary: "Merge whitelabel metadata (null removes a key; reserved keys refused)",
        access: Access::SignedIn,
        query: &[],
        idempotent: false,
        request: Some(schema::<MetadataPatch>),
        status: 200,
        response: schema::<Reseller>,
        errors: &[404],
    };
    pub const FIND_BY_USER: Operation = Operation {
        method: Method::Get,
        path: "/resellers",
        id: "findByUser",
        summary: "Find a reseller by user id (admin)",
        access: Access::Admin,
        query: &[("user_id", "the reseller's user id (required)")],
        idempotent: false,
        request: None,
        status: 200,
        response: schema::<Reseller>,
        errors: &[403, 404],
    };
    pub const FIND_BY_REFID: Operation = Operation {
        method: Method::Get,
        path: "/resellers/{refid}",
        id: "findByRefid",
        summary: "Find a reseller by refid (admin)",
        access: Access::Admin,
        query: &[],
        idempotent: false,
        request: None,
        status: 200,
        response: schema::<Reseller>,
        errors: &[403, 404],
    };
    pub const UPDATE: Operation = Operation {
        method: Method::Patch,
        path: "/resellers/{refid}",
        id: "updateReseller",
        summary: "Change tier, status, hold or metadata (admin)",
        access: Access::Admin,
        query: &[],
        idempotent: false,
        request: Some(schema::<ResellerPatch>),
        status: 200,
        response: schema::<Reseller>,
        errors: &[403, 404],
    };

    pub async fn onboard<S: Store>(
        State(app): State<Shared<S>>,
        Caller(actor): Caller,
        Body(request): Body<NewReseller>,
    ) -> Result<impl IntoResponse, ApiError> {
        Ok((StatusCode::CREATED, Json(app.ally.onboard(&actor, request).await?)))
    }

    pub async fn me<S: Store>(State(app): State<Shared<S>>, Caller(actor): Caller) -> Result<Json<Reseller>, ApiError> {
        Ok(Json(app.ally.find_by_user(&actor.user_id).await?))
    }

    pub async fn stats<S: Store>(
        State(app): State<Shared<S>>,
        Caller(actor): Caller,
    ) -> Result<Json<ResellerStats>, ApiError> {
        Ok(Json(app.ally.stats(&actor.user_id).await?))
    }

    pub async fn transactions<S: Store>(
        State(app): State<Shared<S>>,
        Caller(actor): Caller,
        list: ListParams,
    ) -> Result<Json<PageBody<LedgerEntry>>, ApiError> {
        let scope = format!("ledger:{}", actor.user_id);
        let page = list.page(&app.cursors, &scope)?;
        // A signed-in user without a profile has no ledger to show: 404, as for /me.
        app.ally.find_by_user(&actor.user_id).await?;
        Ok(sealed_page(&app, &scope, app.ally.ledger(&actor.user_id, &page).await?))
    }

    pub async fn metadata<S: Store>(
        State(app): State<Shared<S>>,
        Caller(actor): Caller,
        Body(patch): Body<MetadataPatch>,
    ) -> Result<Json<Reseller>, ApiError> {
        Ok(Json(app.ally.update_own_metadata(&actor.user_id, patch).await?))
    }

    #[derive(Deserialize)]
    pub struct ByUser {
        user_id: Option<String>,
    }

    pub async fn find_by_user<S: Store>(
        State(app): State<Shared<S>>,
        _admin: AdminCaller,
        query: Result<Query<ByUser>, axum::extract::rejection::QueryRejection>,
    ) -> Result<Json<Reseller>, ApiError> {
        let Query(query) = query.map_err(|e| ApiError::validation(e.body_text()))?;
        let user_id = query.user_id.ok_or_else(|| ApiError::validation("the user_id query parameter is required"))?;
        Ok(Json(app.ally.find_by_user(&user_id).await?))
    }

    pub async fn find_by_refid<S: Store>(
        State(app): State<Shared<S>>,
        _admin: AdminCaller,
        Path(refid): Path<String>,
    ) -> Result<Json<Reseller>, ApiError> {
        Ok(Json(app.ally.find_by_refid(&refid).await?))
    }

    pub async fn update<S: Store>(
        State(app): State<Shared<S>>,
        _admin: AdminCaller,
        Path(refid): Path<String>,
        Body(patch): Body<ResellerPatch>,
    ) -> Result<Json<Reseller>, ApiError> {
        Ok(Json(app.ally.update_reseller(&refid, patch).await?))
    }
}

pub mod credits {
    use axum::extract::Path;
    use axum::http::HeaderMap;
    use serde::Deserialize;

    use super::super::extract::{AdminCaller, Body, IdempotencyKey, RawBody};
    use super::super::webhook;
    use super::*;
    use crate::domain::EntryKind;
    use crate::service::{CreditReceipt, CreditRequest};

    pub const ADD: Operation = Operation {
        method: Method::Post,
        path: "/resellers/{refid}/credits",
        id: "addCredits",
        summary: "Add credits to a reseller's wallet (admin)",
        access: Access::Admin,
        query: &[],
        idempotent: true,
        request: Some(schema::<CreditRequest>),
        status: 200,
        response: schema::<CreditReceipt>,
        errors: &[403, 404, 409],
    };
    pub const WEBHOOK: Operation = Operation {
        method: Method::Post,
        path: "/webhooks/payments",
        id: "paymentWebhook",
        summary: "A payment provider's signed notice: credits the reseller once per event id",
        access: Access::Signed,
        query: &[],
        idempotent: false,
        request: Some(schema::<PaymentEvent>),
        status: 200,
        response: schema::<CreditReceipt>,
        errors: &[404, 409],
    };

    pub async fn add<S: Store>(
        State(app): State<Shared<S>>,
        AdminCaller(admin): AdminCaller,
        Path(refid): Path<String>,
        IdempotencyKey(key): IdempotencyKey,
        Body(request): Body<CreditRequest>,
    ) -> Result<Json<CreditReceipt>, ApiError> {
        let reseller = app.ally.find_by_refid(&refid).await?;
        let key = format!("admin:{key}");
        Ok(Json(app.ally.add_credits(&reseller.user_id, request, EntryKind::Credit, &admin.user_id, &key).await?))
    }

    /// The payment provider's event.
    #[derive(Debug, Deserialize, schemars::JsonSchema)]
    #[serde(deny_unknown_fields)]
    pub struct PaymentEvent {
        /// The provider's event id: a repeated id credits nothing.
        pub id: String,
        /// Only `payment.succeeded` is accepted.
        #[serde(rename = "type")]
        pub kind: String,
        pub reseller_refid: String,
        /// The amount paid in minor units (cents).
        pub amount_minor: i64,
        pub currency: String,
    }

    pub async fn payment_webhook<S: Store>(
        State(app): State<Shared<S>>,
        headers: HeaderMap,
        RawBody(body): RawBody,
    ) -> Result<Json<CreditReceipt>, ApiError> {
        let secret = app.webhook_secret.as_deref().ok_or_else(|| {
            tracing::error!("ALLY_WEBHOOK_SECRET is not set: every payment webhook is refused");
            ApiError::invalid_signature("the webhook is not configured")
        })?;
        let header = headers.get("ally-signature").and_then(|v| v.to_str().ok());
        webhook::verify(header, &body, secret, chrono::Utc::now().timestamp())?;
        let event: PaymentEvent =
            serde_json::from_slice(&body).map_err(|e| ApiError::validation(format!("invalid JSON body: {e}")))?;
        if event.kind != "payment.succeeded" {
            return Err(ApiError::validation(format!(
                "unsupported event type `{}`",
                event.kind.chars().take(64).collect::<String>()
            )));
        }
        let config = app.ally.config();
        if !event.currency.eq_ignore_ascii_case(&config.currency) {
            return Err(ApiError::validation(format!("only {} payments are accepted", config.currency)));
        }
        // Whole credits only: a fraction of a credit is not created out of a payment.
        let credits = event
            .amount_minor
            .checked_mul(config.credit_conversion_rate)
            .map(|v| v / 100)
            .filter(|v| *v > 0)
            .ok_or_else(|| ApiError::validation("amount_minor must be positive and buy at least one credit"))?;
        let key = format!("payment:{}", event.id);
        crate::service::check_idempotency_key(&key)?;
        let reseller = app.ally.find_by_refid(&event.reseller_refid).await?;
        let request = CreditRequest { amount: credits, reason: Some(format!("payment {}", event.id)) };
        let receipt =
            app.ally.add_credits(&reseller.user_id, request, EntryKind::Credit, "webhook:payments", &key).await?;
        Ok(Json(receipt))
    }
}

pub mod provisioning {
    use super::super::extract::{Body, Caller, IdempotencyKey};
    use super::*;
    use crate::service::{BulkReceipt, BulkRequest, ProvisionReceipt, ProvisionRequest};

    /// A product as a reseller sees it: its base price, its price at the reseller's tier,
    /// and whether the tier may sell it.
    #[derive(Serialize, schemars::JsonSchema)]
    pub struct Offer {
        id: String,
        name: String,
        base_price: i64,
        price: i64,
        allowed: bool,
    }

    /// The catalog.
    #[derive(Serialize, schemars::JsonSchema)]
    pub struct Offers {
        items: Vec<Offer>,
    }

    pub const PRODUCTS: Operation = Operation {
        method: Method::Get,
        path: "/products",
        id: "products",
        summary: "The catalog at your tier's prices",
        access: Access::SignedIn,
        query: &[],
        idempotent: false,
        request: None,
        status: 200,
        response: schema::<Offers>,
        errors: &[404],
    };
    pub const PROVISION: Operation = Operation {
        method: Method::Post,
        path: "/provision",
        id: "provision",
        summary: "Provision one service at your tier's price",
        access: Access::SignedIn,
        query: &[],
        idempotent: true,
        request: Some(schema::<ProvisionRequest>),
        status: 200,
        response: schema::<ProvisionReceipt>,
        errors: &[402, 403, 404, 409],
    };
    pub const BULK: Operation = Operation {
        method: Method::Post,
        path: "/clients/bulk",
        id: "bulkOnboard",
        summary: "Onboard and provision up to 500 clients, all or nothing",
        access: Access::SignedIn,
        query: &[],
        idempotent: true,
        request: Some(schema::<BulkRequest>),
        status: 200,
        response: schema::<BulkReceipt>,
        errors: &[402, 403, 404, 409],
    };

    pub async fn products<S: Store>(
        State(app): State<Shared<S>>,
        Caller(actor): Caller,
    ) -> Result<Json<Offers>, ApiError> {
        let reseller = app.ally.find_by_user(&actor.user_id).await?;
        let config = app.ally.config();
        let items = config
            .catalog
            .0
            .iter()
            .map(|p| Offer {
                id: p.id.clone(),
                name: p.name.clone(),
                base_price: p.base_price.get(),
                price: config.discounts.price(p.base_price, reseller.tier).get(),
                allowed: p.allows(reseller.tier),
            })
            .collect();
        Ok(Json(Offers { items }))
    }

    pub async fn provision<S: Store>(
        State(app): State<Shared<S>>,
        Caller(actor): Caller,
        IdempotencyKey(key): IdempotencyKey,
        Body(request): Body<ProvisionRequest>,
    ) -> Result<Json<ProvisionReceipt>, ApiError> {
        Ok(Json(app.ally.provision(&actor.user_id, request, &key).await?))
    }

    pub async fn bulk<S: Store>(
        State(app): State<Shared<S>>,
        Caller(actor): Caller,
        IdempotencyKey(key): IdempotencyKey,
        Body(request): Body<BulkRequest>,
    ) -> Result<Json<BulkReceipt>, ApiError> {
        Ok(Json(app.ally.bulk_onboard(&actor.user_id, request, &key).await?))
    }
}

pub mod clients {
    use axum::extract::Path;

    use super::super::extract::{Body, Caller, ListParams};
    use super::*;
    use crate::domain::Client;
    use crate::service::NewClient;

    pub const CREATE: Operation = Operation {
        method: Method::Post,
        path: "/clients",
        id: "createClient",
        summary: "Onboard a client",
        access: Access::SignedIn,
        query: &[],
        idempotent: false,
        request: Some(schema::<NewClient>),
        status: 201,
        response: schema::<Client>,
        errors: &[403, 404],
    };
    pub const LIST: Operation = Operation {
        method: Method::Get,
        path: "/clients",
        id: "listClients",
        summary: "Your clients, newest first",
        access: Access::SignedIn,
        query: LIST_QUERY,
        idempotent: false,
        request: None,
        status: 200,
        response: schema::<PageBody<Client>>,
        errors: &[404],
    };
    pub const GET: Operation = Operation {
        method: Method::Get,
        path: "/clients/{id}",
        id: "getClient",
        summary: "One of your clients",
        access: Access::SignedIn,
        query: &[],
        idempotent: false,
        request: None,
        status: 200,
        response: schema::<Client>,
        errors: &[404],
    };

    pub async fn create<S: Store>(
        State(app): State<Shared<S>>,
        Caller(actor): Caller,
        Body(request): Body<NewClient>,
    ) -> Result<impl IntoResponse, ApiError> {
        Ok((StatusCode::CREATED, Json(app.ally.onboard_client(&actor.user_id, request).await?)))
    }

    pub async fn list<S: Store>(
        State(app): State<Shared<S>>,
        Caller(actor): Caller,
        list: ListParams,
    ) -> Result<Json<PageBody<Client>>, ApiError> {
        let scope = format!("clients:{}", actor.user_id);
        let page = list.page(&app.cursors, &scope)?;
        app.ally.find_by_user(&actor.user_id).await?;
        Ok(sealed_page(&app, &scope, app.ally.clients(&actor.user_id, &page).await?))
    }

    pub async fn get<S: Store>(
        State(app): State<Shared<S>>,
        Caller(actor): Caller,
        Path(id): Path<String>,
    ) -> Result<Json<Client>, ApiError> {
        Ok(Json(app.ally.client(&actor.user_id, &id).await?))
    }
}

pub mod analytics {
    use std::collections::BTreeMap;

    use axum::extract::Query;
    use chrono::{Datelike, Duration, NaiveDate, Utc};
    use serde::Deserialize;

    use super::super::extract::{AdminCaller, Caller};
    use super::*;
    use crate::domain::{AllyError, DateRange, Interval, TierSnapshot};
    use crate::service::{TOP_RESELLERS_MAX_DAYS, TopReseller};

    /// The ranking.
    #[derive(Serialize, schemars::JsonSchema)]
    pub struct TopResellers {
        items: Vec<TopReseller>,
    }

    /// Credits outstanding in all wallets.
    #[derive(Serialize, schemars::JsonSchema)]
    pub struct TotalCredits {
        total: i64,
    }

    const RANGE: (&str, &str) = ("start", "first day, YYYY-MM-DD");
    const END: (&str, &str) = ("end", "last day, YYYY-MM-DD (default today)");

    pub const TOP: Operation = Operation {
        method: Method::Get,
        path: "/analytics/top-resellers",
        id: "topResellers",
        summary: "Resellers ranked by clients onboarded in [start, end] (admin; default the last 30 days)",
        access: Access::Admin,
        query: &[("limit", "how many, 1 to 100 (default 10)"), RANGE, END],
        idempotent: false,
        request: None,
        status: 200,
        response: schema::<TopResellers>,
        errors: &[403],
    };
    pub const TIERS: Operation = Operation {
        method: Method::Get,
        path: "/analytics/tier-snapshot",
        id: "tierSnapshot",
        summary: "Resellers per tier, whatever their status (admin)",
        access: Access::Admin,
        query: &[],
        idempotent: false,
        request: None,
        status: 200,
        response: schema::<TierSnapshot>,
        errors: &[403],
    };
    pub const TRENDS: Operation = Operation {
        method: Method::Get,
        path: "/analytics/credit-trends",
        id: "creditTrends",
        summary: "Credits distributed per period (admin; a reseller for its own refid)",
        access: Access::SignedIn,
        query: &[
            ("interval", "daily, monthly (default) or yearly"),
            RANGE,
            END,
            ("reseller", "a refid: that reseller only (required for a non-admin: its own)"),
        ],
        idempotent: false,
        request: None,
        status: 200,
        response: schema::<BTreeMap<String, i64>>,
        errors: &[403, 404],
    };
    pub const TOTAL: Operation = Operation {
        method: Method::Get,
        path: "/analytics/total-credits",
        id: "totalCredits",
        summary: "Credits outstanding in all wallets (admin)",
        access: Access::Admin,
        query: &[],
        idempotent: false,
        request: None,
        status: 200,
        response: schema::<TotalCredits>,
        errors: &[403],
    };

    #[derive(Deserialize)]
    pub struct RangeQuery {
        limit: Option<String>,
        interval: Option<String>,
        start: Option<String>,
        end: Option<String>,
        reseller: Option<String>,
    }

    type Params = Result<Query<RangeQuery>, axum::extract::rejection::QueryRejection>;

    fn params(query: Params) -> Result<RangeQuery, ApiError> {
        query.map(|Query(q)| q).map_err(|e| ApiError::validation(e.body_text()))
    }

    /// The range asked for; a missing `start` reaches back from `end` by `default_start`.
    fn range(
        query: &RangeQuery,
        default_start: impl Fn(NaiveDate) -> NaiveDate,
        max_days: i64,
    ) -> Result<DateRange, ApiError> {
        let today = Utc::now().date_naive();
        let end = query.end.clone().unwrap_or_else(|| today.format("%Y-%m-%d").to_string());
        let start = match &query.start {
            Some(start) => start.clone(),
            None => {
                let end_day = NaiveDate::parse_from_str(&end, "%Y-%m-%d").unwrap_or(today);
                default_start(end_day).format("%Y-%m-%d").to_string()
            }
        };
        Ok(DateRange::parse(&start, &end, max_days)?)
    }

    pub async fn top<S: Store>(
        State(app): State<Shared<S>>,
        _admin: AdminCaller,
        query: Params,
    ) -> Result<Json<TopResellers>, ApiError> {
        let query = params(query)?;
        let limit = match &query.limit {
            None => 10,
            Some(l) => l
                .parse::<usize>()
                .ok()
                .filter(|l| (1..=100).contains(l))
                .ok_or_else(|| ApiError::validation("limit must be a number from 1 to 100"))?,
        };
        let range = range(&query, |end| end - Duration::days(29), TOP_RESELLERS_MAX_DAYS)?;
        Ok(Json(TopResellers { items: app.ally.top_resellers(&range, limit).await? }))
    }

    pub async fn tiers<S: Store>(
        State(app): State<Shared<S>>,
        _admin: AdminCaller,
    ) -> Result<Json<TierSnapshot>, ApiError> {
        Ok(Json(app.ally.tier_snapshot().await?))
    }

    pub async fn total<S: Store>(
        State(app): State<Shared<S>>,
        _admin: AdminCaller,
    ) -> Result<Json<TotalCredits>, ApiError> {
        Ok(Json(TotalCredits { total: app.ally.total_credits().await? }))
    }

    pub async fn trends<S: Store>(
        State(app): State<Shared<S>>,
        Caller(actor): Caller,
        query: Params,
    ) -> Result<Json<BTreeMap<String, i64>>, ApiError> {
        let query = params(query)?;
        let interval: Interval = query.interval.as_deref().unwrap_or("monthly").parse()?;
        let default_start = |end: NaiveDate| match interval {
            Interval::Daily => end - Duration::days(29),
            Interval::Monthly => NaiveDate::from_ymd_opt(end.year() - 1, end.month(), 1).unwrap_or(end),
            Interval::Yearly => NaiveDate::from_ymd_opt(end.year() - 4, 1, 1).unwrap_or(end),
        };
        let range = range(&query, default_start, interval.max_span_days())?;
        let reseller = match (&query.reseller, actor.admin) {
            (Some(refid), _) => {
                let reseller = app.ally.find_by_refid(refid).await?;
                // Another partner's refid is not found, as any other partner's object.
                if !actor.admin && reseller.user_id != actor.user_id {
                    return Err(AllyError::NotFound("reseller").into());
                }
                Some(reseller.user_id)
            }
            (None, true) => None,
            (None, false) => return Err(ApiError::forbidden("network trends are for admins; ask for your own refid")),
        };
        Ok(Json(app.ally.credit_trends(interval, &range, reseller.as_deref()).await?))
    }
}
