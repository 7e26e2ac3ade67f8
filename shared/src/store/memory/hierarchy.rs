//! The memory store's reseller tree: each move judged under the lock as DynamoDB judges
//! its transaction (the child's version and tree version, the chain above the new parent
//! as read).

use super::{MemoryStore, Tables};
use crate::domain::{Refusal, UserId};
use crate::store::{
    Ancestor, ChildLink, Hierarchy, Page, PageRequest, ParentChange, ParentLink, StoreError, StoreResult, Stored, keys,
    page_newest_first,
};

impl Tables {
    /// Whether every reseller of `chain` still has the parent it was read with.
    pub(super) fn chain_holds(&self, chain: &[Ancestor]) -> bool {
        chain.iter().all(|a| {
            self.resellers
                .get(a.user_id.as_str())
                .is_some_and(|r| r.parent.as_ref().map(|p| &p.refid) == a.parent.as_ref())
        })
    }

    /// Lists `child` under the parent of `link` and gives every reseller of its chain a new
    /// tree version, as the DynamoDB store does (a move of one of them decided on the depth
    /// of its subtree as read starts over); their wallets are not touched.
    pub(super) fn link(&mut self, child: ChildLink, link: &ParentLink) {
        let order = keys::reseller_order(&child.created_at, &child.user_id);
        self.children.entry(link.parent.to_string()).or_default().insert(order, child);
        for ancestor in &link.chain {
            *self.tree_versions.entry(ancestor.user_id.to_string()).or_default() += 1;
        }
    }
}

impl Hierarchy for MemoryStore {
    async fn set_parent(&self, change: &ParentChange) -> StoreResult<()> {
        self.enter("set_parent").await?;
        let mut t = self.lock();
        let version = t.resellers.get(change.child.as_str()).map(|r| r.version);
        let tree_version = t.tree_versions.get(change.child.as_str()).copied().unwrap_or_default();
        if version != Some(change.version)
            || tree_version != change.tree_version
            || change.new.as_ref().is_some_and(|l| !t.chain_holds(&l.chain))
        {
            return Err(StoreError::Refused(Refusal::VersionChanged));
        }
        let order = keys::reseller_order(&change.child_created_at, &change.child);
        if let Some(old) = &change.old
            && let Some(links) = t.children.get_mut(old.as_str())
        {
            links.remove(&order);
        }
        if let Some(link) = &change.new {
            let child = ChildLink {
                user_id: change.child.clone(),
                refid: change.child_refid.clone(),
                created_at: change.child_created_at,
            };
            t.link(child, link);
        }
        let Some(r) = t.resellers.get_mut(change.child.as_str()) else {
            return Err(StoreError::Refused(Refusal::Missing));
        };
        let before = r.clone();
        r.parent = change.new.as_ref().map(|l| l.shown.clone());
        r.version += 1;
        r.updated_at = change.at;
        let after = r.clone();
        self.changed();
        self.emit(&mut t, Some(Stored::Reseller(Box::new(before))), Some(Stored::Reseller(Box::new(after))));
        Ok(())
    }

    async fn tree_version(&self, user: &UserId) -> StoreResult<u64> {
        self.enter("tree_version").await?;
        Ok(self.lock().tree_versions.get(user.as_str()).copied().unwrap_or_default())
    }

    async fn children(&self, parent: &UserId, page: &PageRequest) -> StoreResult<Page<ChildLink>> {
        self.enter("children").await?;
        page_newest_first(self.lock().children.get(parent.as_str()), page)
    }
}
