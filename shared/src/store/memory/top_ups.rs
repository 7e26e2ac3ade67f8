//! The memory store's growth: the auto top-up rule on the profile, requests and upgrade
//! suggestions by owner.

use chrono::{DateTime, NaiveDate, Utc};

use super::{MemoryStore, Tables};
use crate::domain::{AutoTopUp, Guard, Refusal, TopUpRequest, TopUpStatus, UpgradeSuggestion, UserId};
use crate::store::{StoreError, StoreResult, Stored, TopUps, Upgrades};

impl MemoryStore {
    /// Whether `request` may be written: opened while it does not exist, closed while it is
    /// still pending (as DynamoDB's conditions on the item).
    pub(super) fn check_top_up(t: &Tables, request: &TopUpRequest) -> StoreResult<()> {
        let stored = t.top_ups.get(request.owner_id.as_str()).and_then(|r| r.get(&request.id));
        let allowed = match stored {
            None => request.status == TopUpStatus::Pending,
            Some(old) => request.status != TopUpStatus::Pending && old.status == TopUpStatus::Pending,
        };
        if allowed { Ok(()) } else { Err(StoreError::Refused(Refusal::VersionChanged)) }
    }

    /// Writes a checked `request` and emits its change.
    pub(super) fn put_top_up(&self, t: &mut Tables, request: &TopUpRequest) {
        let old =
            t.top_ups.entry(request.owner_id.to_string()).or_default().insert(request.id.clone(), request.clone());
        self.emit(t, old.map(Stored::TopUp), Some(Stored::TopUp(request.clone())));
    }
}

impl TopUps for MemoryStore {
    async fn put_auto_top_up(
        &self,
        user_id: &UserId,
        version: u64,
        state: Option<&AutoTopUp>,
        closed: Option<&TopUpRequest>,
    ) -> StoreResult<()> {
        self.enter("put_auto_top_up").await?;
        let mut t = self.lock();
        Guard::Profile { version }.check(t.resellers.get(user_id.as_str())).map_err(StoreError::Refused)?;
        if let Some(request) = closed {
            Self::check_top_up(&t, request)?;
        }
        let Some(r) = t.resellers.get_mut(user_id.as_str()) else {
            return Err(StoreError::Refused(Refusal::Missing));
        };
        let before = r.clone();
        r.auto_top_up = state.cloned();
        r.version += 1;
        let after = r.clone();
        self.emit(&mut t, Some(Stored::Reseller(Box::new(before))), Some(Stored::Reseller(Box::new(after))));
        if let Some(request) = closed {
            self.put_top_up(&mut t, request);
        }
        self.changed();
        Ok(())
    }

    async fn stale_top_ups(&self, before: DateTime<Utc>) -> StoreResult<Vec<TopUpRequest>> {
        self.enter("stale_top_ups").await?;
        let t = self.lock();
        let mut stale: Vec<TopUpRequest> = t
            .top_ups
            .values()
            .flat_map(|requests| requests.values())
            .filter(|r| r.status == TopUpStatus::Pending && r.requested_at < before)
            .cloned()
            .collect();
        stale.sort_by_key(|r| r.requested_at);
        Ok(stale)
    }
}

impl Upgrades for MemoryStore {
    async fn suggest_upgrade(&self, suggestion: &UpgradeSuggestion) -> StoreResult<UpgradeSuggestion> {
        self.enter("suggest_upgrade").await?;
        let mut t = self.lock();
        let month = suggestion.month.format("%Y-%m").to_string();
        let mine = t.suggestions.entry(suggestion.owner_id.to_string()).or_default();
        if let Some(stored) = mine.get(&month) {
            return Ok(stored.clone());
        }
        mine.insert(month, suggestion.clone());
        self.emit(&mut t, None, Some(Stored::Suggestion(suggestion.clone())));
        self.changed();
        Ok(suggestion.clone())
    }

    async fn upgrade_applied(&self, owner_id: &UserId, month: NaiveDate, at: DateTime<Utc>) -> StoreResult<()> {
        self.enter("upgrade_applied").await?;
        let mut t = self.lock();
        let stored = t
            .suggestions
            .get_mut(owner_id.as_str())
            .and_then(|s| s.get_mut(&month.format("%Y-%m").to_string()))
            .ok_or(StoreError::Refused(Refusal::Missing))?;
        stored.applied_at = Some(at);
        self.changed();
        Ok(())
    }
}
