//! Auto top-up: the partner's rule (`/resellers/me/auto-top-up`), the request a crossing
//! makes inside the money write ([`top_up_step`]), and the sweeper's failure of requests
//! nothing paid within a day.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tracing::instrument;

use super::{Ally, MAX_ATTEMPTS};
use crate::domain::{
    AllyError, AutoTopUp, Reseller, TOP_UP_PENDING_HOURS, TopUpRequest, TopUpRule, TopUpStatus, TopUpStep, UserId,
    new_id,
};
use crate::store::Store;

/// A partner's auto top-up as the API shows it: the rule and where it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AutoTopUpView {
    pub below: i64,
    pub target: i64,
    pub monthly_cap: i64,
    /// False once three requests in a row failed (a PUT turns it back on).
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_request_id: Option<String>,
    /// Credit asked for in this calendar month (UTC).
    pub requested_this_month: i64,
    pub failures_in_a_row: u32,
}

impl AutoTopUpView {
    fn of(state: &AutoTopUp, now: DateTime<Utc>) -> Self {
        Self {
            below: state.rule.below,
            target: state.rule.target,
            monthly_cap: state.rule.monthly_cap,
            enabled: state.enabled,
            pending_request_id: state.pending.as_ref().map(|p| p.request_id.clone()),
            requested_this_month: state.requested_in(now),
            failures_in_a_row: state.failures_in_a_row,
        }
    }
}

/// What a wallet change to `after` available (paying request `pays`, if it names one) does
/// to `r`'s auto top-up: decided on the wallet as read, written under its version.
pub(super) fn top_up_step(r: &Reseller, after: i64, pays: Option<&str>, now: DateTime<Utc>) -> Option<TopUpStep> {
    r.auto_top_up.as_ref()?.step(&r.user_id, r.available(), after, pays, now, new_id)
}

/// The longest request id a payment may name.
const REQUEST_ID_MAX: usize = 64;

/// Checks the request id a payment names.
pub(super) fn check_request_id(id: Option<&str>) -> Result<(), AllyError> {
    match id {
        Some(id) if id.is_empty() || id.len() > REQUEST_ID_MAX || !id.chars().all(|c| c.is_ascii_alphanumeric()) => {
            Err(AllyError::validation(format!("top_up_request is 1 to {REQUEST_ID_MAX} letters and digits")))
        }
        _ => Ok(()),
    }
}

impl<S: Store> Ally<S> {
    /// A partner's auto top-up (404 without a rule).
    pub async fn auto_top_up(&self, user_id: &UserId) -> Result<AutoTopUpView, AllyError> {
        let r = self.find_by_user(user_id).await?;
        let state = r.auto_top_up.ok_or(AllyError::NotFound("auto top-up rule"))?;
        Ok(AutoTopUpView::of(&state, self.now()))
    }

    /// Sets a partner's rule and turns it on; a pending request and this month's count stay.
    #[instrument(skip(self))]
    pub async fn set_auto_top_up(&self, user_id: &UserId, rule: TopUpRule) -> Result<AutoTopUpView, AllyError> {
        rule.check(self.config.max_credit_amount)?;
        self.change_top_up(user_id, |r| {
            let state = r.auto_top_up.as_ref().map_or_else(|| AutoTopUp::new(rule), |s| s.with_rule(rule));
            Some((Some(state), None))
        })
        .await
        .map(|state| AutoTopUpView::of(&state.flatten().unwrap_or_else(|| AutoTopUp::new(rule)), self.now()))
    }

    /// Removes a partner's rule; a request still pending is cancelled with it.
    #[instrument(skip(self))]
    pub async fn remove_auto_top_up(&self, user_id: &UserId) -> Result<(), AllyError> {
        let now = self.now();
        self.change_top_up(user_id, |r| {
            let pending = r.auto_top_up.as_ref().and_then(|s| s.pending.as_ref());
            let cancelled = pending.map(|p| p.closed(&r.user_id, TopUpStatus::Cancelled, 0, now));
            Some((None, cancelled))
        })
        .await
        .map(drop)
    }

    /// Closes request `request_id` as paid when the wallet still waits for it: a payment
    /// whose credit was made by another event of it (one that did not name the request).
    pub(super) async fn fulfil_top_up(&self, user_id: &UserId, request_id: &str) -> Result<(), AllyError> {
        let now = self.now();
        self.change_top_up(user_id, |r| {
            let step = r.auto_top_up.as_ref()?.fulfil(request_id, &r.user_id, now)?;
            Some((Some(step.state), Some(step.request)))
        })
        .await
        .map(drop)
    }

    /// Fails every request pending for longer than a day; returns how many it failed.
    pub async fn fail_stale_top_ups(&self, now: DateTime<Utc>) -> Result<usize, AllyError> {
        let stale = self.store.stale_top_ups(now - chrono::Duration::hours(TOP_UP_PENDING_HOURS)).await?;
        let mut failed = 0;
        for request in stale {
            // Every write that stops the wallet waiting for a request closes the request in
            // the same transaction: one the wallet no longer waits for was paid or cancelled.
            let written = self
                .change_top_up(&request.owner_id, |r| {
                    let step = r.auto_top_up.as_ref()?.fail(&request.id, &r.user_id, now)?;
                    Some((Some(step.state), Some(step.request)))
                })
                .await?;
            failed += usize::from(written.is_some());
        }
        Ok(failed)
    }

    /// Reads the wallet, decides the new rule state and the request it closes, and writes
    /// both under the version read; reads again when the wallet moved in between. Answers
    /// the state written; none when `decide` found nothing to write.
    async fn change_top_up(
        &self,
        user_id: &UserId,
        decide: impl Fn(&Reseller) -> Option<(Option<AutoTopUp>, Option<TopUpRequest>)>,
    ) -> Result<Option<Option<AutoTopUp>>, AllyError> {
        for attempt in 0..MAX_ATTEMPTS {
            let r = self.find_by_user(user_id).await?;
            let Some((state, closed)) = decide(&r) else { return Ok(None) };
            match self.store.put_auto_top_up(user_id, r.version, state.as_ref(), closed.as_ref()).await {
                Ok(()) => return Ok(Some(state)),
                Err(e) => super::wallet_write::retry_or_fail(e, attempt).await?,
            }
        }
        Err(AllyError::Contention)
    }
}
