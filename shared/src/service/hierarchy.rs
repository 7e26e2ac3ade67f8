//! The reseller tree (Vonage's subaccounts, ResellerClub's sub-resellers): a reseller may
//! sit under one parent, set by an admin or by the referral that recruited it. The tree has
//! no cycle and at most `ALLY_MAX_DEPTH` levels; a move is written under the moved
//! reseller's version and the chain above its new parent as read, so two moves at once
//! cannot close a cycle. Hanging a reseller anywhere gives that chain new tree versions
//! (never new wallet versions: a distributor's wallet is not written by its tree), so a
//! move of one of its members judged on the depth of its subtree before starts over and is
//! judged on the deeper one. A parent sees its children's figures, never their clients or
//! ledgers; a child sees its parent's refid and company.

use serde::{Deserialize, Serialize};

use super::{Ally, MAX_ATTEMPTS};
use crate::domain::{AllyError, ParentRef, RefId, Reseller, Status, Tier, UserId, month_of};
use crate::store::{Ancestor, ChildLink, Page, PageRequest, ParentChange, ParentLink, Store};

/// A direct child as its parent (or an admin) sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SubReseller {
    pub refid: RefId,
    pub company: crate::domain::CompanyName,
    pub tier: Tier,
    pub status: Status,
    pub balance: i64,
    pub clients: i64,
    /// Credits it spent this calendar month (UTC).
    pub credits_spent_month: i64,
}

impl<S: Store> Ally<S> {
    /// The link that puts `child` (none yet while it is being onboarded) under the reseller
    /// of `parent`; 422 when that would close a cycle or grow the tree past its depth.
    pub(super) async fn parent_link(&self, child: Option<&Reseller>, parent: &RefId) -> Result<ParentLink, AllyError> {
        let max = self.config.max_depth;
        let unknown = || AllyError::validation(format!("no reseller has the refid {parent}"));
        let parent_user = self.user_by_refid(parent).await.map_err(|_| unknown())?;
        let mut chain: Vec<Ancestor> = Vec::new();
        let mut shown = None;
        let mut next = Some(parent_user.clone());
        while let Some(user) = next {
            if child.is_some_and(|c| c.user_id == user) {
                return Err(AllyError::validation("a reseller cannot sit under itself or its own sub-resellers"));
            }
            if chain.len() >= max {
                return Err(AllyError::validation(format!("the reseller tree may be at most {max} levels deep")));
            }
            let r = self.find_by_user(&user).await?;
            shown.get_or_insert_with(|| ParentRef { refid: r.refid.clone(), company: r.company.clone() });
            next = match &r.parent {
                Some(p) => Some(self.user_by_refid(&p.refid).await?),
                None => None,
            };
            chain.push(Ancestor { user_id: user, parent: r.parent.map(|p| p.refid) });
        }
        let height = match child {
            Some(c) => self.height(&c.user_id, max.saturating_sub(chain.len())).await?,
            None => 1,
        };
        if chain.len() + height > max {
            return Err(AllyError::validation(format!("the reseller tree may be at most {max} levels deep")));
        }
        let shown = shown.ok_or_else(unknown)?;
        Ok(ParentLink { parent: parent_user, shown, chain })
    }

    /// The levels of the subtree of `root` (1 without children), counted no further than
    /// `limit` + 1: enough to tell whether it fits.
    async fn height(&self, root: &UserId, limit: usize) -> Result<usize, AllyError> {
        let mut level = vec![root.clone()];
        let mut height = 0;
        while !level.is_empty() && height <= limit {
            height += 1;
            let mut below = Vec::new();
            for user in &level {
                below.extend(self.all_children(user).await?.into_iter().map(|c| c.user_id));
            }
            level = below;
        }
        Ok(height)
    }

    /// Every direct child of `parent`.
    pub(super) async fn all_children(&self, parent: &UserId) -> Result<Vec<ChildLink>, AllyError> {
        let mut found = Vec::new();
        let mut page = PageRequest::first(100);
        loop {
            let p = self.store.children(parent, &page).await?;
            found.extend(p.items);
            match p.next_cursor {
                Some(cursor) => page.cursor = Some(cursor),
                None => return Ok(found),
            }
        }
    }

    /// Puts `child` under the reseller of `parent`, or at the top of the tree with none
    /// (an admin's move, or a referral's recruit); answers the child's profile.
    pub async fn set_parent(&self, child: &UserId, parent: Option<&RefId>) -> Result<Reseller, AllyError> {
        self.move_reseller(child, parent, false).await
    }

    /// Moves `child` under `parent` (or to the top); with `only_if_none`, only while it has
    /// no parent, judged on every read (an admin's move in between stands).
    async fn move_reseller(
        &self,
        child: &UserId,
        parent: Option<&RefId>,
        only_if_none: bool,
    ) -> Result<Reseller, AllyError> {
        for attempt in 0..MAX_ATTEMPTS {
            let mut r = self.find_by_user(child).await?;
            if r.parent.as_ref().map(|p| &p.refid) == parent || (only_if_none && r.parent.is_some()) {
                return Ok(r);
            }
            // Read before the subtree's depth is judged: a reseller hung below it since
            // changes it, and the move starts over.
            let tree_version = self.store.tree_version(child).await?;
            let new = match parent {
                Some(refid) => Some(self.parent_link(Some(&r), refid).await?),
                None => None,
            };
            let old = match &r.parent {
                Some(p) => Some(self.user_by_refid(&p.refid).await?),
                None => None,
            };
            let change = ParentChange {
                child: child.clone(),
                child_refid: r.refid.clone(),
                child_created_at: r.created_at,
                version: r.version,
                tree_version,
                old,
                new,
                at: self.now(),
            };
            match self.store.set_parent(&change).await {
                Ok(()) => {
                    r.parent = change.new.map(|l| l.shown);
                    r.version += 1;
                    r.updated_at = change.at;
                    return Ok(r);
                }
                Err(e) => super::wallet_write::retry_or_fail(e, attempt).await?,
            }
        }
        Err(AllyError::Contention)
    }

    /// The subtree rooted at `root`: itself, then every reseller below it, level by level.
    pub async fn subtree(&self, root: &UserId) -> Result<Vec<UserId>, AllyError> {
        let mut members = vec![root.clone()];
        let mut level = vec![root.clone()];
        for _ in 1..self.config.max_depth {
            let mut below = Vec::new();
            for user in &level {
                below.extend(self.all_children(user).await?.into_iter().map(|c| c.user_id));
            }
            if below.is_empty() {
                break;
            }
            members.extend(below.iter().cloned());
            level = below;
        }
        Ok(members)
    }

    /// Puts `child` under the reseller of `parent` if it has no parent yet (a referral's
    /// recruit: an admin's earlier choice stands).
    pub async fn set_parent_if_none(&self, child: &UserId, parent: &RefId) -> Result<(), AllyError> {
        self.move_reseller(child, Some(parent), true).await.map(|_| ())
    }

    /// The direct children of `parent`, newest first, with this month's spend.
    pub async fn sub_resellers(&self, parent: &UserId, page: &PageRequest) -> Result<Page<SubReseller>, AllyError> {
        let links = self.store.children(parent, page).await?;
        if links.items.is_empty() {
            self.find_by_user(parent).await?;
        }
        let users: Vec<UserId> = links.items.iter().map(|c| c.user_id.clone()).collect();
        let profiles = self.store.resellers_by_user(&users).await?;
        let month = month_of(self.now().date_naive());
        let spent: std::collections::BTreeMap<UserId, i64> =
            self.store.month_activity(&users, month).await?.into_iter().map(|(u, a)| (u, a.credits_spent)).collect();
        let items = users
            .iter()
            .filter_map(|u| profiles.iter().find(|r| &r.user_id == u))
            .map(|r| SubReseller {
                refid: r.refid.clone(),
                company: r.company.clone(),
                tier: r.tier,
                status: r.status,
                balance: r.balance,
                clients: r.clients,
                credits_spent_month: spent.get(&r.user_id).copied().unwrap_or(0),
            })
            .collect();
        Ok(Page { items, next_cursor: links.next_cursor })
    }
}
