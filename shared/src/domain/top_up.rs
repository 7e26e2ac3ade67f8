//! Auto top-up (Orb's and Lago's threshold top-ups, without their repeats): when what is
//! available falls below a level, one request for credit goes to the team's payment system.
//! The rule and its state ride on the wallet item, so a request is decided in the same
//! versioned write as the change that crosses: however many changes cross at once, one of
//! them sees no pending request and asks; the others see the one it made.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::{AllyError, UserId};

/// Failures in a row after which a rule turns itself off.
pub const TOP_UP_MAX_FAILURES: u32 = 3;

/// Hours a request stays pending before it counts as failed.
pub const TOP_UP_PENDING_HOURS: i64 = 24;

/// A partner's auto top-up rule (`PUT /resellers/me/auto-top-up`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TopUpRule {
    /// Ask for credit when what is available falls below this.
    pub below: i64,
    /// Ask for what brings what is available back to this.
    pub target: i64,
    /// The most credit asked for in one calendar month (UTC), all requests together.
    pub monthly_cap: i64,
}

impl TopUpRule {
    /// Checks the levels: `0 <= below < target <= max`, a cap of 1 to `max`.
    pub fn check(&self, max: i64) -> Result<(), AllyError> {
        if !(0..max).contains(&self.below) {
            return Err(AllyError::validation(format!("below is 0 to {} credits", max - 1)));
        }
        if self.target <= self.below || self.target > max {
            return Err(AllyError::validation(format!("target is above `below` and at most {max} credits")));
        }
        if !(1..=max).contains(&self.monthly_cap) {
            return Err(AllyError::validation(format!("monthly_cap is 1 to {max} credits")));
        }
        Ok(())
    }
}

/// A request waiting for its payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PendingTopUp {
    pub request_id: String,
    pub amount: i64,
    pub requested_at: DateTime<Utc>,
}

impl PendingTopUp {
    /// The request closed `status` at `now`, after `failures_in_a_row` failures.
    pub fn closed(
        &self,
        owner: &UserId,
        status: TopUpStatus,
        failures_in_a_row: u32,
        now: DateTime<Utc>,
    ) -> TopUpRequest {
        TopUpRequest {
            id: self.request_id.clone(),
            owner_id: owner.clone(),
            amount: self.amount,
            requested_at: self.requested_at,
            status,
            failures_in_a_row,
            disabled_rule: false,
            closed_at: Some(now),
        }
    }
}

/// The rule with its state, as the wallet keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AutoTopUp {
    pub rule: TopUpRule,
    /// False once [`TOP_UP_MAX_FAILURES`] requests failed in a row (a PUT turns it back on).
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<PendingTopUp>,
    /// The month (its first day) `requested_this_month` counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub month: Option<NaiveDate>,
    #[serde(default)]
    pub requested_this_month: i64,
    #[serde(default)]
    pub failures_in_a_row: u32,
}

/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TopUpStatus {
    Pending,
    /// A payment credit referenced it.
    Fulfilled,
    /// Nothing paid it within [`TOP_UP_PENDING_HOURS`].
    Failed,
    /// The rule was removed while it waited.
    Cancelled,
}

/// One request, an item of its own: its insert is the `AutoTopUpRequested` event, its
/// failure `AutoTopUpFailed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopUpRequest {
    pub id: String,
    pub owner_id: UserId,
    pub amount: i64,
    pub requested_at: DateTime<Utc>,
    pub status: TopUpStatus,
    /// Failures in a row, this one included, once it failed.
    #[serde(default)]
    pub failures_in_a_row: u32,
    /// Whether its failure turned the rule off.
    #[serde(default)]
    pub disabled_rule: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<DateTime<Utc>>,
}

/// What one wallet change does to the rule: the new state, and the request it opens or closes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopUpStep {
    pub state: AutoTopUp,
    pub request: TopUpRequest,
}

fn month_start(at: DateTime<Utc>) -> NaiveDate {
    let day = at.date_naive();
    day.with_day(1).unwrap_or(day)
}

impl AutoTopUp {
    /// A new rule, on, with nothing asked yet.
    pub fn new(rule: TopUpRule) -> Self {
        Self { rule, enabled: true, pending: None, month: None, requested_this_month: 0, failures_in_a_row: 0 }
    }

    /// The rule replaced and turned back on; what is pending and this month's count stay.
    pub fn with_rule(&self, rule: TopUpRule) -> Self {
        Self { rule, enabled: true, failures_in_a_row: 0, ..self.clone() }
    }

    /// What was asked for in the month of `now`.
    pub fn requested_in(&self, now: DateTime<Utc>) -> i64 {
        if self.month == Some(month_start(now)) { self.requested_this_month } else { 0 }
    }

    /// What a change of the wallet from `before` to `after` available does: a credit that
    /// references the pending request (`pays`) fulfils it; a fall from at or above `below`
    /// to under it asks for `target - after`, within what is left of the month's cap, when
    /// the rule is on and nothing is pending. `request_id` names a new request.
    pub fn step(
        &self,
        owner: &UserId,
        before: i64,
        after: i64,
        pays: Option<&str>,
        now: DateTime<Utc>,
        request_id: impl FnOnce() -> String,
    ) -> Option<TopUpStep> {
        if let Some(paid) = pays.and_then(|id| self.fulfil(id, owner, now)) {
            return Some(paid);
        }
        let crossed = before >= self.rule.below && after < self.rule.below;
        if !crossed || !self.enabled || self.pending.is_some() {
            return None;
        }
        let requested = self.requested_in(now);
        let amount = (self.rule.target - after).min(self.rule.monthly_cap - requested);
        if amount <= 0 {
            return None;
        }
        let request = TopUpRequest {
            id: request_id(),
            owner_id: owner.clone(),
            amount,
            requested_at: now,
            status: TopUpStatus::Pending,
            failures_in_a_row: 0,
            disabled_rule: false,
            closed_at: None,
        };
        let state = Self {
            pending: Some(PendingTopUp { request_id: request.id.clone(), amount, requested_at: now }),
            month: Some(month_start(now)),
            requested_this_month: requested + amount,
            ..self.clone()
        };
        Some(TopUpStep { state, request })
    }

    /// The pending request `request_id` paid at `now`: the new state, and the request closed
    /// as fulfilled; none when it is not the one pending (paid already, failed, replaced).
    pub fn fulfil(&self, request_id: &str, owner: &UserId, now: DateTime<Utc>) -> Option<TopUpStep> {
        let pending = self.pending.as_ref().filter(|p| p.request_id == request_id)?;
        let request = pending.closed(owner, TopUpStatus::Fulfilled, 0, now);
        let state = Self { pending: None, failures_in_a_row: 0, ..self.clone() };
        Some(TopUpStep { state, request })
    }

    /// The pending request `request_id` failed at `now`: the new state, and the request
    /// closed; none when it is not the one pending (it was paid, or the rule replaced).
    pub fn fail(&self, request_id: &str, owner: &UserId, now: DateTime<Utc>) -> Option<TopUpStep> {
        let pending = self.pending.as_ref().filter(|p| p.request_id == request_id)?;
        let failures_in_a_row = self.failures_in_a_row + 1;
        let disabled_rule = self.enabled && failures_in_a_row >= TOP_UP_MAX_FAILURES;
        let request =
            TopUpRequest { disabled_rule, ..pending.closed(owner, TopUpStatus::Failed, failures_in_a_row, now) };
        let state = Self { pending: None, failures_in_a_row, enabled: self.enabled && !disabled_rule, ..self.clone() };
        Some(TopUpStep { state, request })
    }
}

#[cfg(test)]
#[path = "top_up_test.rs"]
mod tests;
