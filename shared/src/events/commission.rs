//! Commissions: a parent earns a share of each direct child's spend
//! (`ALLY_COMMISSION_PERCENT`, by the parent's tier), paid by a consumer of the child's
//! `CreditsSpent` event, never inside the child's money write (which touches the child's
//! own items only), once per spend entry however often the event comes: the entry id is a
//! permanent receipt, and the parent is the one the spend entry names (the tree as it
//! stood at the spend), so a move since, or a redelivery after one, pays no one else.

use super::reactions::Handled;
use super::{Detail, Posted};
use crate::Ally;
use crate::domain::{AllyError, EntryKind, IdempotencyKey, Note};
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
    let request = CreditRequest {
        amount,
        reason: Some(Note::parse(format!("commission on {child_refid} spend {}", entry.id))?),
        ..CreditRequest::default()
    };
    let key = IdempotencyKey::commission(&entry.id)?;
    match ally.add_credits(&parent_user, request, EntryKind::Commission, "commission", &key).await {
        Ok(_) => Ok(Handled::Done),
        // Paid before at the parent's tier of then: a redelivery after a tier change.
        Err(AllyError::IdempotencyConflict) => Ok(Handled::Duplicate),
        Err(e) => Err(e),
    }
}
