//! The `analytics` function: ranking, tiers, trends, outstanding credits.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Query, State};
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::refid;
use crate::domain::{AllyError, DateRange, Interval, Measure, Ranking, TierSnapshot};
use crate::http::extract::{AdminCaller, Caller};
use crate::http::{Api, ApiError, Operation, Shared};
use crate::service::{TOP_RESELLERS_MAX_DAYS, TopReseller, UpgradeCandidate};
use crate::store::Store;

/// The ranking.
#[derive(Serialize, schemars::JsonSchema)]
pub struct TopResellers {
    items: Vec<TopReseller>,
}

/// Credits outstanding in all wallets.
#[derive(Serialize, schemars::JsonSchema)]
pub struct TotalCredits {
    total: i64,
    /// Of `total`, credit bought (payments, top-ups).
    paid: i64,
    /// Of `total`, credit given (referral rewards, grants marked promotional).
    promotional: i64,
    /// When the newest change counted happened: the figure lags the wallets by the time
    /// the change stream takes (seconds).
    #[serde(skip_serializing_if = "Option::is_none")]
    as_of: Option<DateTime<Utc>>,
}

/// The month's upgrade candidates.
#[derive(Serialize, schemars::JsonSchema)]
pub struct UpgradeCandidates {
    items: Vec<UpgradeCandidate>,
}

/// Resellers per tier, whatever their status.
#[derive(Serialize, schemars::JsonSchema)]
pub struct TierCounts {
    #[serde(flatten)]
    tiers: TierSnapshot,
    /// As for outstanding credits: when the newest change counted happened.
    #[serde(skip_serializing_if = "Option::is_none")]
    as_of: Option<DateTime<Utc>>,
}

const RANGE: (&str, &str) = ("start", "first day, YYYY-MM-DD");
const END: (&str, &str) = ("end", "last day, YYYY-MM-DD (default today)");
const SUBTREE: (&str, &str) =
    ("subtree", "a refid: that reseller and every reseller below it (an admin any, a reseller its own)");

pub const TOP: Operation = Operation::get::<TopResellers>(
    "/analytics/top-resellers",
    "topResellers",
    "Resellers ranked by clients onboarded or credits spent in [start, end] (admin; a reseller within its own subtree; default the last 30 days)",
)
.query(&[
    ("limit", "how many, 1 to 100 (default 10)"),
    RANGE,
    END,
    SUBTREE,
    ("by", "acquisitions (default: clients onboarded) or spent (credits spent)"),
])
.values(&[("by", Ranking::NAMES)])
.errors(&[403, 404])
.describe("Ranks the resellers active in the range (at most 366 days) by clients onboarded (`by=acquisitions`, the default) or by credits spent (`by=spent`), ties broken by the other figure. An admin ranks the network; a partner only its own subtree (`subtree=<its refid>`).");
pub const UPGRADES: Operation = Operation::get::<UpgradeCandidates>(
    "/analytics/upgrade-candidates",
    "upgradeCandidates",
    "Partners below platinum whose clients onboarded in the month reach ALLY_UPGRADE_ACQUISITIONS (admin)",
)
.admin()
.query(&[("month", "YYYY-MM (default this month)")])
.errors(&[403])
.describe("Partners below platinum whose clients onboarded in the month reach the network's threshold, most first, with the tier to offer.");
pub const TIERS: Operation = Operation::get::<TierCounts>(
    "/analytics/tier-snapshot",
    "tierSnapshot",
    "Resellers per tier, whatever their status (admin)",
)
.admin()
.errors(&[403])
.describe("Counts every reseller per tier, suspended ones included, as of the newest change counted (`as_of`).");
pub const TRENDS: Operation = Operation::get::<BTreeMap<String, i64>>(
    "/analytics/credit-trends",
    "creditTrends",
    "Credits distributed per period (admin; a reseller for its own refid)",
)
.query(&[
    ("interval", "daily, monthly (default) or yearly"),
    RANGE,
    END,
    ("reseller", "a refid: that reseller only (required for a non-admin: its own, or subtree)"),
    SUBTREE,
    ("measure", "added (default: credits added, net of reversals) or spent (credits spent)"),
])
.values(&[("interval", Interval::NAMES), ("measure", Measure::NAMES)])
.errors(&[403, 404])
.describe("Sums credits added (or, with `measure=spent`, spent) per day, month or year over the range. An admin reads the network, one reseller (`reseller`) or a subtree; a partner reads only its own refid or its own subtree. Each period of the range is present, zero when nothing moved.");
pub const TOTAL: Operation = Operation::get::<TotalCredits>(
    "/analytics/total-credits",
    "totalCredits",
    "Credits outstanding in all wallets (admin)",
)
.admin()
.errors(&[403])
.describe(
    "The credits held in every wallet, as of the newest change counted (`as_of`): what the network owes in services.",
);

/// The function's name: its binary, its SAM resource, its operations' tag.
pub const TAG: &str = "analytics";

/// What it serves, in the order [`api`] routes it.
pub const OPERATIONS: &[Operation] = &[TOP, UPGRADES, TIERS, TRENDS, TOTAL];

/// Network analytics: ranking, tiers, trends, outstanding credits.
pub fn api<S: Store>() -> Api<S> {
    Api::new(TAG)
        .route(TOP, top::<S>)
        .route(UPGRADES, upgrades::<S>)
        .route(TIERS, tiers::<S>)
        .route(TRENDS, trends::<S>)
        .route(TOTAL, total::<S>)
}

#[derive(Deserialize)]
struct RangeQuery {
    limit: Option<String>,
    interval: Option<String>,
    start: Option<String>,
    end: Option<String>,
    reseller: Option<String>,
    subtree: Option<String>,
    month: Option<String>,
    measure: Option<String>,
    by: Option<String>,
}

/// The members of the subtree asked for, if one was: an admin may ask for any, a reseller
/// for its own (another's is not found, as any other partner's object).
async fn subtree<S: Store>(
    app: &Shared<S>,
    actor: &crate::service::Actor,
    query: &RangeQuery,
) -> Result<Option<Vec<crate::domain::UserId>>, ApiError> {
    let Some(asked) = &query.subtree else { return Ok(None) };
    let root = app.ally.find_by_refid(&refid(asked)?).await?;
    if !actor.admin && root.user_id != actor.user_id {
        return Err(AllyError::NotFound("reseller").into());
    }
    Ok(Some(app.ally.subtree(&root.user_id).await?))
}

type Params = Result<Query<RangeQuery>, axum::extract::rejection::QueryRejection>;

fn params(query: Params) -> Result<RangeQuery, ApiError> {
    query.map(|Query(q)| q).map_err(|e| ApiError::validation(e.body_text()))
}

/// The range asked for; a missing `start` reaches back from `end` by `default_start`.
fn range(
    query: &RangeQuery,
    default_start: impl Fn(NaiveDate) -> Option<NaiveDate>,
    max_days: i64,
) -> Result<DateRange, ApiError> {
    let end = match &query.end {
        Some(end) => DateRange::day("end", end)?,
        None => Utc::now().date_naive(),
    };
    let start = match &query.start {
        Some(start) => DateRange::day("start", start)?,
        None => default_start(end).ok_or_else(|| ApiError::validation("end is too early to reach back from"))?,
    };
    let day = |d: NaiveDate| d.format("%Y-%m-%d").to_string();
    Ok(DateRange::parse(&day(start), &day(end), max_days)?)
}

async fn top<S: Store>(
    State(app): State<Shared<S>>,
    Caller(actor): Caller,
    query: Params,
) -> Result<Json<TopResellers>, ApiError> {
    let query = params(query)?;
    let members = subtree(&app, &actor, &query).await?;
    if members.is_none() && !actor.admin {
        return Err(ApiError::forbidden("the network ranking is for admins; ask for your own subtree"));
    }
    let limit = match &query.limit {
        None => 10,
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|l| (1..=100).contains(l))
            .ok_or_else(|| ApiError::validation("limit must be a number from 1 to 100"))?,
    };
    let range = range(&query, |end| end.checked_sub_signed(Duration::days(29)), TOP_RESELLERS_MAX_DAYS)?;
    let by: Ranking = query.by.as_deref().unwrap_or("acquisitions").parse()?;
    let items = match members {
        Some(members) => app.ally.subtree_top_resellers(&range, limit, &members, by).await?,
        None => app.ally.top_resellers(&range, limit, by).await?,
    };
    Ok(Json(TopResellers { items }))
}

async fn upgrades<S: Store>(
    State(app): State<Shared<S>>,
    _admin: AdminCaller,
    query: Params,
) -> Result<Json<UpgradeCandidates>, ApiError> {
    let query = params(query)?;
    let month = match &query.month {
        None => Utc::now().date_naive(),
        Some(month) => DateRange::day("month", &format!("{month}-01")).map_err(|_| {
            ApiError::validation(format!(
                "month must be YYYY-MM from 1970 to 9999, got `{}`",
                month.chars().take(32).collect::<String>()
            ))
        })?,
    };
    Ok(Json(UpgradeCandidates { items: app.ally.upgrade_candidates(month).await? }))
}

async fn tiers<S: Store>(State(app): State<Shared<S>>, _admin: AdminCaller) -> Result<Json<TierCounts>, ApiError> {
    let totals = app.ally.network_totals().await?;
    Ok(Json(TierCounts { tiers: totals.tiers, as_of: totals.as_of }))
}

async fn total<S: Store>(State(app): State<Shared<S>>, _admin: AdminCaller) -> Result<Json<TotalCredits>, ApiError> {
    let totals = app.ally.network_totals().await?;
    Ok(Json(TotalCredits {
        total: totals.outstanding,
        paid: totals.outstanding - totals.promotional,
        promotional: totals.promotional,
        as_of: totals.as_of,
    }))
}

async fn trends<S: Store>(
    State(app): State<Shared<S>>,
    Caller(actor): Caller,
    query: Params,
) -> Result<Json<BTreeMap<String, i64>>, ApiError> {
    let query = params(query)?;
    let interval: Interval = query.interval.as_deref().unwrap_or("monthly").parse()?;
    let default_start = |end: NaiveDate| match interval {
        Interval::Daily => end.checked_sub_signed(Duration::days(29)),
        Interval::Monthly => NaiveDate::from_ymd_opt(end.year().checked_sub(1)?, end.month(), 1),
        Interval::Yearly => NaiveDate::from_ymd_opt(end.year().checked_sub(4)?, 1, 1),
    };
    let range = range(&query, default_start, interval.max_span_days())?;
    let measure: Measure = query.measure.as_deref().unwrap_or("added").parse()?;
    if let Some(members) = subtree(&app, &actor, &query).await? {
        return Ok(Json(app.ally.subtree_credit_trends(interval, &range, &members, measure).await?));
    }
    let reseller = match (&query.reseller, actor.admin) {
        (Some(asked), _) => {
            let reseller = app.ally.find_by_refid(&refid(asked)?).await?;
            // Another partner's refid is not found, as any other partner's object.
            if !actor.admin && reseller.user_id != actor.user_id {
                return Err(AllyError::NotFound("reseller").into());
            }
            Some(reseller.user_id)
        }
        (None, true) => None,
        (None, false) => return Err(ApiError::forbidden("network trends are for admins; ask for your own refid")),
    };
    Ok(Json(app.ally.credit_trends(interval, &range, reseller.as_ref(), measure).await?))
}
