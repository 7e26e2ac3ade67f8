//! The `onboarding` function: reseller profiles (onboarding, me, stats, ledger, metadata,
//! admin lookups and changes).

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};

use super::{LIST_QUERY, PageBody, refid, sealed_page};
use crate::domain::{Alerts, AllyError, LedgerEntry, Lot, RefId, Reseller, Status, Tier, TopUpRule, UserId};
use crate::http::extract::{AdminCaller, Body, Caller, ListParams};
use crate::http::{Api, ApiError, Operation, Shared};
use crate::service::{
    AutoTopUpView, MetadataPatch, NewReseller, Profile, ResellerPatch, ResellerStats, SubReseller, WhitelabelMetadata,
};
use crate::store::{ResellerFilter, Store};

pub const ONBOARD: Operation = Operation::post::<Reseller>(
    "/resellers",
    "onboardReseller",
    "Onboard a reseller (yourself; an admin may onboard anyone at any tier)",
)
.body::<NewReseller>()
.created()
.errors(&[403, 409])
.describe("Creates your partner account (company, optional email: only the address you signed in with), at the network's default tier. With `invited_by` (from a partner's `GET /resellers/me/invite`) it joins under that partner. An admin may onboard anyone (`user_id`) at any tier, with any address and parent. One account per user (409).");
pub const INVITE: Operation = Operation::get::<Invite>(
    "/resellers/me/invite",
    "myInvite",
    "An invite for a new partner to join under you: the value for `invited_by` and a sign-up link",
)
.errors(&[404]);
pub const ME: Operation =
    Operation::get::<Profile>("/resellers/me", "me", "Your profile, tier, balance, what you may spend and metadata")
        .errors(&[404])
.describe("Your profile as the dashboard shows it: tier, balance, what is reserved by holds and what you may spend, debt, what expires within 30 days, the runway at your spending of the last 30 days, your parent, metadata.");
pub const STATS: Operation =
    Operation::get::<ResellerStats>("/resellers/me/stats", "myStats", "Your balance, tier and totals")
        .errors(&[404])
        .describe("Your balance, tier and totals: credits added and spent, provisions, clients, runway.");
pub const TRANSACTIONS: Operation = Operation::get::<PageBody<LedgerEntry>>(
    "/resellers/me/transactions",
    "myTransactions",
    "Your ledger, newest first",
)
.query(LIST_QUERY)
.errors(&[404])
.describe("Your ledger, newest first: every movement of your wallet with its kind, amount, balance after, reason, who made it (by role or refid) and the lots it moved.");
pub const LOTS: Operation = Operation::get::<PageBody<Lot>>(
    "/resellers/me/lots",
    "myLots",
    "Your credit lots, newest first: kind, amount, what is left, expiry",
)
.query(LIST_QUERY)
.errors(&[404])
.describe("Your credit lots: each top-up, payment, reward or commission is one, with its kind (paid or promotional), what is left and when it expires. Spending takes the lot that expires first, promotional before paid.");
pub const SUB_RESELLERS: Operation = Operation::get::<PageBody<SubReseller>>(
    "/resellers/me/sub-resellers",
    "mySubResellers",
    "Your direct sub-resellers, newest first, with their balance and this month's spend",
)
.query(LIST_QUERY)
.errors(&[404])
.describe("The resellers directly below you in the tree, newest first, with their tier, status, balance, clients and this month's spend; never their clients or ledgers.");
pub const RESELLER_SUB_RESELLERS: Operation = Operation::get::<PageBody<SubReseller>>(
    "/resellers/{refid}/sub-resellers",
    "resellerSubResellers",
    "A reseller's direct sub-resellers (admin)",
)
.admin()
.query(LIST_QUERY)
.errors(&[403, 404])
.describe("A reseller's direct sub-resellers, as it sees them.");
pub const ALERTS: Operation = Operation::get::<Alerts>(
    "/resellers/me/alerts",
    "myAlerts",
    "Your credit alert thresholds (the network's low-credit threshold until you set yours)",
)
.errors(&[404])
.describe("Your alert levels of available credit and runway; the network's low-credit threshold until you set yours.");
pub const SET_ALERTS: Operation = Operation::put::<Alerts>(
    "/resellers/me/alerts",
    "setMyAlerts",
    "Set up to 5 thresholds of available credit: one event and mail per crossing down, one event on recovery",
)
.body::<Alerts>()
.errors(&[404])
.describe("Replaces your alert levels: up to 5 thresholds of available credit (each crossing down sends one event and mail, each recovery one event) and an optional runway in days.");
pub const AUTO_TOP_UP: Operation = Operation::get::<AutoTopUpView>(
    "/resellers/me/auto-top-up",
    "myAutoTopUp",
    "Your auto top-up rule and where it stands (404 without one)",
)
.errors(&[404])
.describe("Your auto top-up rule and where it stands: the request waiting, what was asked this month, failures in a row. 404 when you have no rule.");
pub const SET_AUTO_TOP_UP: Operation = Operation::put::<AutoTopUpView>(
    "/resellers/me/auto-top-up",
    "setMyAutoTopUp",
    "Ask your payment system for credit when what is available falls below `below`: one AutoTopUpRequested \
     for `target - available` at a time, at most `monthly_cap` a month; three failures in a row turn it off",
)
.body::<TopUpRule>()
.errors(&[404])
.describe("Sets your rule: when what you may spend falls below `below`, Ally asks your payment system (an `AutoTopUpRequested` event) for `target` minus what you have, one request at a time, at most `monthly_cap` in a calendar month; a payment that names the request fulfils it, three failures in a row turn the rule off.");
pub const REMOVE_AUTO_TOP_UP: Operation = Operation::delete(
    "/resellers/me/auto-top-up",
    "removeMyAutoTopUp",
    "Remove your auto top-up rule (a pending request is cancelled)",
)
.errors(&[404])
.describe("Removes your auto top-up rule; a request still waiting for payment is cancelled.");
pub const RESELLER_TRANSACTIONS: Operation = Operation::get::<PageBody<LedgerEntry>>(
    "/resellers/{refid}/transactions",
    "resellerTransactions",
    "A reseller's ledger, newest first (admin): what an admin reverses from",
)
.admin()
.query(LIST_QUERY)
.errors(&[403, 404])
.describe("A reseller's ledger, newest first, as it sees it: what an admin reverses from.");
pub const METADATA: Operation = Operation::patch::<WhitelabelMetadata>(
    "/resellers/me/metadata",
    "updateMyMetadata",
    "Merge whitelabel metadata (null removes a key; reserved keys refused); answers the metadata as it then stands",
)
.body::<MetadataPatch>()
.errors(&[404])
.describe("Merges your whitelabel metadata (company name, colours, logo URL, anything of your own): a key set to null is removed; values are JSON scalars, 8 KiB in all; reserved keys are refused.");
pub const FIND: Operation = Operation::get::<Found>(
    "/resellers",
    "findResellers",
    "Find a reseller by user id, or list resellers by tier and/or status, newest first (admin)",
)
.admin()
.query(&[
    ("user_id", "the reseller's user id: answers that reseller"),
    ("tier", "standard, gold or platinum: lists that tier"),
    ("status", "active or suspended: lists that status"),
    ("limit", "page size of a list, 1 to 100 (default 25)"),
    ("cursor", "next_cursor of the previous page of the same list"),
])
.values(&[("tier", &["standard", "gold", "platinum"]), ("status", &["active", "suspended"])])
.errors(&[403, 404])
.describe("With `user_id`: the reseller of that user. With `tier` and/or `status`: a page of the resellers of that tier and status, newest first (an index, never a scan).");
pub const FIND_BY_REFID: Operation =
    Operation::get::<Reseller>("/resellers/{refid}", "findByRefid", "Find a reseller by refid (admin)")
        .admin()
        .errors(&[403, 404])
        .describe("The reseller with this refid, with its metadata.");
pub const UPDATE: Operation = Operation::patch::<Reseller>(
    "/resellers/{refid}",
    "updateReseller",
    "Change tier, status, hold or metadata (admin)",
)
.admin()
.body::<ResellerPatch>()
.errors(&[403, 404])
.describe("Changes a reseller's tier, status, provisioning hold, metadata or parent in the tree (null takes it out of the tree). A refused change writes nothing.");

/// The function's name: its binary, its SAM resource, its operations' tag.
pub const TAG: &str = "onboarding";

/// What it serves, in the order [`api`] routes it.
pub const OPERATIONS: &[Operation] = &[
    ONBOARD,
    INVITE,
    ME,
    STATS,
    TRANSACTIONS,
    LOTS,
    SUB_RESELLERS,
    ALERTS,
    SET_ALERTS,
    AUTO_TOP_UP,
    SET_AUTO_TOP_UP,
    REMOVE_AUTO_TOP_UP,
    METADATA,
    FIND,
    FIND_BY_REFID,
    UPDATE,
    RESELLER_TRANSACTIONS,
    RESELLER_SUB_RESELLERS,
];

/// Reseller profiles: onboarding, me, metadata, admin lookups and changes.
pub fn api<S: Store>() -> Api<S> {
    Api::new(TAG)
        .route(ONBOARD, onboard::<S>)
        .route(INVITE, invite::<S>)
        .route(ME, me::<S>)
        .route(STATS, stats::<S>)
        .route(TRANSACTIONS, transactions::<S>)
        .route(LOTS, lots::<S>)
        .route(SUB_RESELLERS, sub_resellers::<S>)
        .route(ALERTS, alerts::<S>)
        .route(SET_ALERTS, set_alerts::<S>)
        .route(AUTO_TOP_UP, auto_top_up::<S>)
        .route(SET_AUTO_TOP_UP, set_auto_top_up::<S>)
        .route(REMOVE_AUTO_TOP_UP, remove_auto_top_up::<S>)
        .route(METADATA, metadata::<S>)
        .route(FIND, find::<S>)
        .route(FIND_BY_REFID, find_by_refid::<S>)
        .route(UPDATE, update::<S>)
        .route(RESELLER_TRANSACTIONS, reseller_transactions::<S>)
        .route(RESELLER_SUB_RESELLERS, reseller_sub_resellers::<S>)
}

async fn reseller_transactions<S: Store>(
    State(app): State<Shared<S>>,
    AdminCaller(admin): AdminCaller,
    Path(id): Path<String>,
    list: ListParams,
) -> Result<Json<PageBody<LedgerEntry>>, ApiError> {
    let user = app.ally.user_by_refid(&refid(&id)?).await?;
    let scope = format!("ledger:{}:{user}", admin.user_id);
    let page = list.page(&app.cursors, &scope)?;
    Ok(sealed_page(&app, &scope, app.ally.ledger(&user, &page).await?))
}

async fn alerts<S: Store>(State(app): State<Shared<S>>, Caller(actor): Caller) -> Result<Json<Alerts>, ApiError> {
    Ok(Json(app.ally.alerts(&actor.user_id).await?))
}

async fn set_alerts<S: Store>(
    State(app): State<Shared<S>>,
    Caller(actor): Caller,
    Body(alerts): Body<Alerts>,
) -> Result<Json<Alerts>, ApiError> {
    Ok(Json(app.ally.set_alerts(&actor.user_id, alerts).await?))
}

async fn auto_top_up<S: Store>(
    State(app): State<Shared<S>>,
    Caller(actor): Caller,
) -> Result<Json<AutoTopUpView>, ApiError> {
    Ok(Json(app.ally.auto_top_up(&actor.user_id).await?))
}

async fn set_auto_top_up<S: Store>(
    State(app): State<Shared<S>>,
    Caller(actor): Caller,
    Body(rule): Body<TopUpRule>,
) -> Result<Json<AutoTopUpView>, ApiError> {
    Ok(Json(app.ally.set_auto_top_up(&actor.user_id, rule).await?))
}

async fn remove_auto_top_up<S: Store>(
    State(app): State<Shared<S>>,
    Caller(actor): Caller,
) -> Result<StatusCode, ApiError> {
    app.ally.remove_auto_top_up(&actor.user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn sub_resellers<S: Store>(
    State(app): State<Shared<S>>,
    Caller(actor): Caller,
    list: ListParams,
) -> Result<Json<PageBody<SubReseller>>, ApiError> {
    let scope = format!("children:{}", actor.user_id);
    let page = list.page(&app.cursors, &scope)?;
    Ok(sealed_page(&app, &scope, app.ally.sub_resellers(&actor.user_id, &page).await?))
}

async fn reseller_sub_resellers<S: Store>(
    State(app): State<Shared<S>>,
    AdminCaller(admin): AdminCaller,
    Path(id): Path<String>,
    list: ListParams,
) -> Result<Json<PageBody<SubReseller>>, ApiError> {
    let user = app.ally.user_by_refid(&refid(&id)?).await?;
    let scope = format!("children:{}:{user}", admin.user_id);
    let page = list.page(&app.cursors, &scope)?;
    Ok(sealed_page(&app, &scope, app.ally.sub_resellers(&user, &page).await?))
}

async fn onboard<S: Store>(
    State(app): State<Shared<S>>,
    Caller(actor): Caller,
    Body(mut request): Body<NewReseller>,
) -> Result<impl IntoResponse, ApiError> {
    let created = match request.invited_by.take() {
        Some(invite) => {
            let refid =
                app.cursors.open(INVITE_SCOPE, &invite).ok().and_then(|refid| RefId::parse(refid).ok()).ok_or_else(
                    || ApiError::validation("this invite is not valid: ask the partner who invited you for its link"),
                )?;
            app.ally.onboard_invited(&actor, request, refid).await?
        }
        None => app.ally.onboard(&actor, request).await?,
    };
    Ok((StatusCode::CREATED, Json(created)))
}

/// What an invite is sealed for: a partner's refid, given to whoever it invites.
const INVITE_SCOPE: &str = "invite";

/// A partner's invite: `invited_by` for `POST /resellers`, and the dashboard link that
/// carries it.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Invite {
    /// The partner's refid, sealed so that no one can name another partner as their parent.
    pub invited_by: String,
    /// The partner dashboard with the invite: a new partner signs in there and joins under you.
    pub link: String,
}

async fn invite<S: Store>(State(app): State<Shared<S>>, Caller(actor): Caller) -> Result<Json<Invite>, ApiError> {
    app.ally.invites_allowed()?;
    let me = app.ally.find_by_user(&actor.user_id).await?;
    let invited_by = app.cursors.seal(INVITE_SCOPE, me.refid.as_str());
    let link = format!("{}?invited_by={invited_by}", app.ally.config().dashboard_link());
    Ok(Json(Invite { invited_by, link }))
}

async fn me<S: Store>(State(app): State<Shared<S>>, Caller(actor): Caller) -> Result<Json<Profile>, ApiError> {
    Ok(Json(app.ally.profile(&actor.user_id).await?))
}

async fn stats<S: Store>(State(app): State<Shared<S>>, Caller(actor): Caller) -> Result<Json<ResellerStats>, ApiError> {
    Ok(Json(app.ally.stats(&actor.user_id).await?))
}

async fn transactions<S: Store>(
    State(app): State<Shared<S>>,
    Caller(actor): Caller,
    list: ListParams,
) -> Result<Json<PageBody<LedgerEntry>>, ApiError> {
    let scope = format!("ledger:{}", actor.user_id);
    let page = list.page(&app.cursors, &scope)?;
    let mut entries = app.ally.ledger(&actor.user_id, &page).await?;
    entries.items = entries.items.into_iter().map(|e| e.as_read_by(&actor.user_id)).collect();
    Ok(sealed_page(&app, &scope, entries))
}

async fn lots<S: Store>(
    State(app): State<Shared<S>>,
    Caller(actor): Caller,
    list: ListParams,
) -> Result<Json<PageBody<Lot>>, ApiError> {
    let scope = format!("lots:{}", actor.user_id);
    let page = list.page(&app.cursors, &scope)?;
    Ok(sealed_page(&app, &scope, app.ally.lots(&actor.user_id, &page).await?))
}

async fn metadata<S: Store>(
    State(app): State<Shared<S>>,
    Caller(actor): Caller,
    Body(patch): Body<MetadataPatch>,
) -> Result<Json<WhitelabelMetadata>, ApiError> {
    Ok(Json(app.ally.update_own_metadata(&actor.user_id, patch).await?))
}

/// `GET /resellers` answers one reseller (`?user_id=`) or a page of a scope (`?tier=`,
/// `?status=`).
#[derive(Serialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum Found {
    One(Box<Reseller>),
    Page(PageBody<Reseller>),
}

#[derive(Deserialize)]
struct FindQuery {
    user_id: Option<String>,
    tier: Option<String>,
    status: Option<String>,
}

async fn find<S: Store>(
    State(app): State<Shared<S>>,
    AdminCaller(admin): AdminCaller,
    query: Result<Query<FindQuery>, axum::extract::rejection::QueryRejection>,
    list: ListParams,
) -> Result<Json<Found>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::validation(e.body_text()))?;
    let tier: Option<Tier> = query.tier.as_deref().map(str::parse).transpose()?;
    let status: Option<Status> = query.status.as_deref().map(str::parse).transpose()?;
    let filter = ResellerFilter::of(tier, status);
    match (query.user_id, filter) {
        (Some(user_id), None) => {
            // A user id of another shape names no reseller.
            let user_id = UserId::parse(user_id).map_err(|_| AllyError::NotFound("reseller"))?;
            Ok(Json(Found::One(Box::new(app.ally.find_by_user(&user_id).await?))))
        }
        (None, Some(filter)) => {
            let scope = format!("resellers:{}:{filter:?}", admin.user_id);
            let page = list.page(&app.cursors, &scope)?;
            let resellers = app.ally.list_resellers(filter, &page).await?;
            Ok(Json(Found::Page(sealed_page(&app, &scope, resellers).0)))
        }
        (Some(_), Some(_)) => Err(ApiError::validation("give user_id to find one reseller, or tier/status to list")),
        (None, None) => Err(ApiError::validation("give user_id, tier or status")),
    }
}

async fn find_by_refid<S: Store>(
    State(app): State<Shared<S>>,
    _admin: AdminCaller,
    Path(id): Path<String>,
) -> Result<Json<Reseller>, ApiError> {
    Ok(Json(app.ally.find_by_refid(&refid(&id)?).await?))
}

async fn update<S: Store>(
    State(app): State<Shared<S>>,
    _admin: AdminCaller,
    Path(id): Path<String>,
    Body(patch): Body<ResellerPatch>,
) -> Result<Json<Reseller>, ApiError> {
    let id = refid(&id)?;
    Ok(Json(app.ally.update_reseller(&id, patch).await?))
}
