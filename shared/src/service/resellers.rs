//! Resellers: onboarding (self-service, or an admin's for anyone at any tier), lookups by
//! user and by refid (a warm function remembers the refids it met), an admin's changes of
//! tier, status, hold, parent and metadata, the low-credit hold, a partner's alert
//! settings, and its ledger.

use tracing::instrument;

use super::wallet_write;
use super::{Actor, Ally, MAX_ATTEMPTS, NewReseller, ResellerPatch};
use crate::domain::{
    Alerts, AllyError, Email, Guard, HoldReason, LedgerEntry, Lots, Metadata, RefId, Reseller, Status, UserId,
    check_metadata, merge_metadata,
};
use crate::store::{Page, PageRequest, ParentLink, ProfileUpdate, ResellerFilter, Store, StoreError, Taken};

/// How many refids a process remembers before it starts over: 10,000 pairs are well under
/// a megabyte, more than the partners a warm function meets between cold starts.
const KNOWN_REFIDS: usize = 10_000;

impl<S: Store> Ally<S> {
    /// Whether partners may invite sub-resellers: not while commissions are paid, since a
    /// partner could invite accounts of its own, pass them credit and earn a commission on
    /// its own spending; then admins (and vetted referrals) place sub-resellers.
    pub fn invites_allowed(&self) -> Result<(), AllyError> {
        if self.config.commissions.is_off() {
            Ok(())
        } else {
            Err(AllyError::Forbidden("invites are off while commissions are paid: an administrator adds sub-resellers"))
        }
    }

    /// Onboards the caller under `inviter`, the partner whose invite it followed (checked by
    /// the caller of this method): as [`Ally::onboard`] of oneself, with that parent, which
    /// must be active and have room below it in the tree.
    #[instrument(skip(self, request), fields(actor = %actor.user_id))]
    pub async fn onboard_invited(
        &self,
        actor: &Actor,
        request: NewReseller,
        inviter: RefId,
    ) -> Result<Reseller, AllyError> {
        self.invites_allowed()?;
        if request.user_id.as_ref().is_some_and(|u| *u != actor.user_id) {
            return Err(AllyError::Forbidden("an invite onboards only yourself"));
        }
        if request.parent_refid.is_some() {
            return Err(AllyError::validation("an invite names the parent: send invited_by or parent_refid, not both"));
        }
        let link = self.parent_link(None, &inviter).await?;
        if self.find_by_user(&link.parent).await?.status != Status::Active {
            return Err(AllyError::validation("the partner who invited you cannot take sub-resellers now"));
        }
        self.insert_new(actor, request, Some(link)).await
    }

    /// Onboards a reseller: self-service for the caller, or by an admin for anyone at any
    /// tier. One reseller per user; the refid is unique (a collision draws another).
    #[instrument(skip(self, request), fields(actor = %actor.user_id))]
    pub async fn onboard(&self, actor: &Actor, request: NewReseller) -> Result<Reseller, AllyError> {
        let parent = match &request.parent_refid {
            Some(_) if !actor.admin => return Err(AllyError::Forbidden("only an admin may choose a parent")),
            Some(refid) => Some(self.parent_link(None, refid).await?),
            None => None,
        };
        self.insert_new(actor, request, parent).await
    }

    /// The new reseller `request` asks for, under `parent`, written once with a refid of its
    /// own.
    async fn insert_new(
        &self,
        actor: &Actor,
        request: NewReseller,
        parent: Option<ParentLink>,
    ) -> Result<Reseller, AllyError> {
        let user_id = match request.user_id {
            Some(other) if other != actor.user_id && !actor.admin => {
                return Err(AllyError::Forbidden("only an admin may onboard another user"));
            }
            Some(user_id) => user_id,
            None => actor.user_id.clone(),
        };
        let tier = match request.tier {
            Some(tier) if tier != self.config.default_tier && !actor.admin => {
                return Err(AllyError::Forbidden("only an admin may choose a tier"));
            }
            Some(tier) => tier,
            None => self.config.default_tier,
        };
        let metadata: Metadata = request.metadata.into_iter().map(|(k, v)| (k.into(), v)).collect();
        check_metadata(&metadata)?;
        // Platform mail goes only to an address an admin chose or the identity provider
        // verified (the actor's email is the verified one, or none).
        let verified = || actor.email.clone().map(Email::parse).transpose();
        let email = match request.email {
            Some(email) if !actor.admin && Some(email.as_str()) != actor.email.as_deref() => {
                return Err(AllyError::Forbidden("only an admin may set an address other than your verified email"));
            }
            Some(email) => Some(email),
            None if user_id == actor.user_id => verified()?,
            None => None,
        };
        let now = self.now();
        let mut reseller = Reseller {
            parent: parent.as_ref().map(|l| l.shown.clone()),
            alerts: None,
            auto_top_up: None,
            lots: Lots::default(),
            user_id,
            refid: (self.refids)(),
            company: request.company,
            email,
            tier,
            status: Status::Active,
            balance: 0,
            held: 0,
            debt: 0,
            wallet_open: self.config.auto_provision_wallet,
            hold_provisioning: false,
            hold_reason: None,
            metadata,
            version: 0,
            credits_added: 0,
            credits_spent: 0,
            provisions: 0,
            clients: 0,
            created_at: now,
            updated_at: now,
        };
        for _ in 0..5 {
            match self.store.insert_reseller(&reseller, parent.as_ref()).await {
                Ok(()) => {
                    self.remember(&reseller.refid, &reseller.user_id);
                    return Ok(reseller);
                }
                Err(StoreError::Taken(Taken::Refid)) => reseller.refid = (self.refids)(),
                Err(e) => return Err(e.into()),
            }
        }
        Err(AllyError::Contention)
    }

    /// The reseller of `user_id`.
    pub async fn find_by_user(&self, user_id: &UserId) -> Result<Reseller, AllyError> {
        self.store.reseller(user_id).await?.ok_or(AllyError::NotFound("reseller"))
    }

    /// The user a refid names: what the money path needs of a refid. One read the first
    /// time this process meets the refid, none after.
    pub async fn user_by_refid(&self, refid: &RefId) -> Result<UserId, AllyError> {
        let known = self.known_refids.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(refid).cloned();
        if let Some(user_id) = known {
            return Ok(user_id);
        }
        let user_id = self.store.user_by_refid(refid).await?.ok_or(AllyError::NotFound("reseller"))?;
        self.remember(refid, &user_id);
        Ok(user_id)
    }

    /// Notes that `refid` names `user_id` (only ever after a store said so).
    fn remember(&self, refid: &RefId, user_id: &UserId) {
        let mut known = self.known_refids.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if known.len() >= KNOWN_REFIDS {
            known.clear();
        }
        known.insert(refid.clone(), user_id.clone());
    }

    /// The reseller with `refid`.
    pub async fn find_by_refid(&self, refid: &RefId) -> Result<Reseller, AllyError> {
        let user_id = self.user_by_refid(refid).await?;
        self.find_by_user(&user_id).await
    }

    /// Resellers of one tier or status, newest first (an index query, never a scan).
    pub async fn list_resellers(
        &self,
        filter: ResellerFilter,
        page: &PageRequest,
    ) -> Result<Page<Reseller>, AllyError> {
        Ok(self.store.resellers(filter, page).await?)
    }

    /// An admin's change of tier, status, hold or metadata.
    #[instrument(skip(self, patch))]
    pub async fn update_reseller(&self, refid: &RefId, patch: ResellerPatch) -> Result<Reseller, AllyError> {
        let user_id = self.user_by_refid(refid).await?;
        if let Some(Some(parent)) = &patch.parent_refid {
            // A move the tree refuses is refused before anything else is written.
            self.parent_link(Some(&self.find_by_user(&user_id).await?), parent).await?;
        }
        let profile_changes = patch.tier.is_some() || patch.status.is_some() || patch.hold_provisioning.is_some();
        if profile_changes && !patch.metadata.is_empty() {
            // Refuse metadata that will not fit before the profile changes: the two are
            // separate writes, and a refusal must change nothing.
            let current = self.find_by_user(&user_id).await?;
            check_metadata(&merge_metadata(current.metadata, &patch.metadata))?;
        }
        let updated = if profile_changes {
            self.patch_profile(&user_id, |r| {
                r.tier = patch.tier.unwrap_or(r.tier);
                r.status = patch.status.unwrap_or(r.status);
                if let Some(hold) = patch.hold_provisioning {
                    r.hold_provisioning = hold;
                    r.hold_reason = hold.then_some(HoldReason::Manual);
                }
                true
            })
            .await?
        } else {
            None
        };
        let updated = match &patch.parent_refid {
            Some(parent) => Some(self.set_parent(&user_id, parent.as_ref()).await?),
            None => updated,
        };
        match updated {
            Some(updated) if patch.metadata.is_empty() => Ok(updated),
            _ if patch.metadata.is_empty() => self.find_by_user(&user_id).await,
            _ => {
                let (metadata, read) = self.patch_metadata(&user_id, &patch.metadata, None).await?;
                let mut reseller = read.ok_or(AllyError::NotFound("reseller"))?;
                reseller.metadata = metadata;
                Ok(reseller)
            }
        }
    }

    /// Puts `user_id`'s provisioning on hold for low credit, only while its balance is below
    /// the threshold and no hold is in place (read again on every try, under the version):
    /// true when this call set it. The credit that brings the balance back lifts it.
    pub async fn hold_for_low_credit(&self, user_id: &UserId) -> Result<bool, AllyError> {
        let threshold = self.config.low_credit_threshold;
        let set = self
            .patch_profile(user_id, |r| {
                let low = !r.hold_provisioning && r.available() < threshold;
                if low {
                    r.hold_provisioning = true;
                    r.hold_reason = Some(HoldReason::LowCredit);
                }
                low
            })
            .await?;
        Ok(set.is_some())
    }

    /// A partner's own credit alerts: its thresholds, or the network's low-credit threshold.
    pub async fn alerts(&self, user_id: &UserId) -> Result<Alerts, AllyError> {
        let r = self.find_by_user(user_id).await?;
        Ok(r.alerts.unwrap_or(Alerts { thresholds: vec![self.config.low_credit_threshold], runway_days: None }))
    }

    /// Sets a partner's credit alerts (checked: at most five thresholds, each 0 to the
    /// largest credit amount).
    pub async fn set_alerts(&self, user_id: &UserId, alerts: Alerts) -> Result<Alerts, AllyError> {
        alerts.check(self.config.max_credit_amount)?;
        self.patch_profile(user_id, |r| {
            r.alerts = Some(alerts.clone());
            true
        })
        .await?;
        Ok(alerts)
    }

    /// Applies `change` to the current profile and writes it under the version read,
    /// reading again if someone else wrote in between. `change` answers whether there is
    /// anything to write; none when there was not.
    pub(super) async fn patch_profile(
        &self,
        user_id: &UserId,
        change: impl Fn(&mut Reseller) -> bool,
    ) -> Result<Option<Reseller>, AllyError> {
        for attempt in 0..MAX_ATTEMPTS {
            let mut r = self.find_by_user(user_id).await?;
            let guard = Guard::Profile { version: r.version };
            let metadata = std::mem::take(&mut r.metadata);
            if !change(&mut r) {
                return Ok(None);
            }
            let update = ProfileUpdate {
                guard,
                tier: r.tier,
                status: r.status,
                hold_provisioning: r.hold_provisioning,
                hold_reason: r.hold_reason,
                alerts: r.alerts.clone(),
                at: self.now(),
            };
            match self.store.update_profile(user_id, &update).await {
                Ok(mut updated) => {
                    updated.metadata = metadata;
                    // Written under the version read, which pins the lots read (the store
                    // answers only those the wallet item carries).
                    updated.lots = r.lots;
                    return Ok(Some(updated));
                }
                Err(e) => wallet_write::retry_or_fail(e, attempt).await?,
            }
        }
        Err(AllyError::Contention)
    }

    /// The caller's ledger, newest first; 404 for a user without a profile.
    pub async fn ledger(&self, owner_id: &UserId, page: &PageRequest) -> Result<Page<LedgerEntry>, AllyError> {
        self.owned(owner_id, self.store.ledger(owner_id, page).await?).await
    }

    /// `page` of a list of `owner_id`'s, or 404 when it has no profile (as `/me`). Asked only
    /// of an empty page: a partner's list costs one read.
    pub(super) async fn owned<T>(&self, owner_id: &UserId, page: Page<T>) -> Result<Page<T>, AllyError> {
        if page.items.is_empty() {
            self.find_by_user(owner_id).await?;
        }
        Ok(page)
    }
}
