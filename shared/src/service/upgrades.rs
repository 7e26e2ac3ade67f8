//! The monthly upgrade step: each candidate of a month suggested once (the suggestion's
//! insert is the `TierUpgradeSuggested` event) and, with `ALLY_AUTO_UPGRADE`, upgraded once.

use chrono::NaiveDate;

use super::Ally;
use crate::domain::{AllyError, UpgradeSuggestion, month_of};
use crate::store::Store;

impl<S: Store> Ally<S> {
    /// Suggests each upgrade candidate of `month` once, applies it once when auto-upgrade
    /// was on at its suggestion, and answers the month's suggestions as recorded. A run
    /// again (a retried report) finds them recorded and does nothing twice.
    pub async fn suggest_upgrades(&self, month: NaiveDate) -> Result<Vec<UpgradeSuggestion>, AllyError> {
        let month = month_of(month);
        let mut suggestions = Vec::new();
        for (owner_id, c) in self.candidates(month).await? {
            let suggestion = UpgradeSuggestion {
                reason: format!(
                    "{} clients onboarded in {} (at least {}): {} to {}",
                    c.acquisitions,
                    month.format("%Y-%m"),
                    self.config.upgrade_acquisitions,
                    c.tier,
                    c.suggested_tier
                ),
                owner_id,
                refid: c.refid,
                month,
                acquisitions: c.acquisitions,
                tier: c.tier,
                suggested_tier: c.suggested_tier,
                auto: self.config.auto_upgrade,
                applied_at: None,
                created_at: self.now(),
            };
            // The one recorded first wins: a later run, after an upgrade moved the partner
            // a tier up, does not suggest (nor apply) a second step for the same month.
            let mut stored = self.store.suggest_upgrade(&suggestion).await?;
            if stored.auto && stored.applied_at.is_none() {
                let (from, to) = (stored.tier, stored.suggested_tier);
                // Only from the tier it was suggested from: an admin's change since stands.
                self.patch_profile(&stored.owner_id, |r| {
                    let applies = r.tier == from;
                    if applies {
                        r.tier = to;
                    }
                    applies
                })
                .await?;
                let at = self.now();
                self.store.upgrade_applied(&stored.owner_id, month, at).await?;
                tracing::info!(refid = %stored.refid, reason = %stored.reason, "tier upgraded automatically");
                stored.applied_at = Some(at);
            }
            suggestions.push(stored);
        }
        Ok(suggestions)
    }
}
