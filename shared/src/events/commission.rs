//! Commissions: a parent earns a share of each direct child's spend
//! (`ALLY_COMMISSION_PERCENT`, by the parent's tier), paid by a consumer of the child's
//! `CreditsSpent` event, never inside the child's money write (which touches the child's
//! own items only), once per spend entry however often the event comes: the entry id is a
//! permanent receipt, and the parent is the one the spend entry names (the tree as it
//! stood at the spend), so a move since, or a redelivery after one, pays no one else.
//! Commission earned on promotional credit is promotional, and expires as a reward does: a
//! grant passed down the tree never comes back up as paid credit.

use super::reactions::Handled;
use super::{Detail, Posted};
use crate::Ally;
use crate::domain::{AllyError, EntryKind, IdempotencyKey, LotKind, Note};
use crate::service::CreditRequest;
use crate::store::Store;

/// The commission on the spend `spent` reports, to the spender's parent.
pub async fn pay_commission<S: Store>(ally: &Ally<S>, spent: &Detail<Posted>) -> Result<Handled, AllyError> {
    let commissions = ally.config().commissions;
    let entry = &spent.fields.transaction;
    if commissions.is_off() || entry.kind != EntryKind::Debit {
        return Ok(Handled::Dropped);
    }
    let Some(parent) = &entry.commission_to else {
        return Ok(Handled::Dropped);
    };
    let child = &spent.envelope.reseller;
    let child_refid = match &child.refid {
        Some(refid) => refid.clone(),
        None => ally.find_by_user(&child.user_id).await?.refid,
    };
    let parent_user = ally.user_by_refid(parent).await?;
    let tier = ally.find_by_user(&parent_user).await?.tier;
    let amount = commissions.on(entry.amount, tier);
    if amount == 0 {
        return Ok(Handled::Dropped);
    }
    // The share of the commission earned on promotional credit, rounded down.
    let promotional_spent: i64 = entry.lots.iter().filter(|d| d.kind == LotKind::Promotional).map(|d| d.amount).sum();
    let promotional =
        i64::try_from(i128::from(amount) * i128::from(promotional_spent) / i128::from(entry.amount.max(1)))
            .unwrap_or(amount)
            .clamp(0, amount);
    let reason = Some(Note::parse(format!("commission on {child_refid} spend {}", entry.id))?);
    let expires_at = ally.now().checked_add_signed(chrono::Duration::days(ally.config().referral_expiry_days));
    let parts = [
        (amount - promotional, IdempotencyKey::commission(&entry.id)?, false),
        (promotional, IdempotencyKey::commission(&format!("{}:promotional", entry.id))?, true),
    ];
    let mut handled = Handled::Duplicate;
    for (part, key, promotional) in parts.into_iter().filter(|(part, ..)| *part > 0) {
        let request = CreditRequest {
            amount: part,
            reason: reason.clone(),
            promotional,
            expires_at: if promotional { expires_at } else { None },
            ..CreditRequest::default()
        };
        match ally.add_credits(&parent_user, request, EntryKind::Commission, "commission", &key).await {
            Ok(_) => handled = Handled::Done,
            // Paid before at the parent's tier of then (a redelivery after a tier change), or
            // a promotional part that expired since: what was paid stands.
            Err(AllyError::IdempotencyConflict | AllyError::Validation(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(handled)
}
