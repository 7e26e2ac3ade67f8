//! The reseller tree: a child's parent on its profile, a link item in the parent's
//! partition to list the children, both changed in one transaction that also requires the
//! chain above the new parent as read (a check, not a write, of each one's profile) and
//! gives each of its resellers a new tree version, on an item of its own beside the wallet:
//! a tree change never writes a parent's wallet item.

use aws_sdk_dynamodb::types::{ConditionCheck, Delete, TransactWriteItem, Update};

use super::DynamoStore;
use super::item::{attr, item, key, n, s, to_attr};
use super::transaction::{Role, TxItem};
use crate::domain::{Refusal, Reseller, UserId};
use crate::store::{
    Ancestor, ChildLink, Hierarchy, Page, PageRequest, ParentChange, ParentLink, StoreError, StoreResult, keys,
};

impl DynamoStore {
    /// The writes that hang `child` under `link`: the link item, and for each reseller of
    /// the chain, a check that its parent is still the one read and a new tree version. The
    /// tree version is what a move of one of them is written under: a move decided on the
    /// depth of its subtree as read starts over when a reseller was hung below it meanwhile,
    /// and is judged again on the deeper tree.
    pub(super) fn link_items(&self, child: &ChildLink, link: &ParentLink) -> StoreResult<Vec<TxItem<'static>>> {
        let stored = item(child, keys::reseller(&link.parent), keys::child(&child.created_at, &child.user_id))?;
        let mut items = vec![TxItem::plain(self.put(stored, None)?)];
        for ancestor in &link.chain {
            items.push(self.chain_check(ancestor)?);
            items.push(self.tree_bump(&ancestor.user_id)?);
        }
        Ok(items)
    }

    /// A check that `ancestor` still exists under the parent read.
    fn chain_check(&self, ancestor: &Ancestor) -> StoreResult<TxItem<'static>> {
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(key(keys::reseller(&ancestor.user_id), keys::PROFILE)))
            .expression_attribute_names("#pk", attr::PK)
            .expression_attribute_names("#parent", "parent");
        let check = match &ancestor.parent {
            Some(refid) => check
                .condition_expression("attribute_exists(#pk) AND #parent.#refid = :refid")
                .expression_attribute_names("#refid", "refid")
                .expression_attribute_values(":refid", s(refid.as_str())),
            None => check.condition_expression("attribute_exists(#pk) AND attribute_not_exists(#parent)"),
        };
        let write = TransactWriteItem::builder().condition_check(check.build().map_err(StoreError::backend)?).build();
        Ok(TxItem { write, role: Role::Requires(Refusal::VersionChanged) })
    }

    /// A new tree version for `user`.
    fn tree_bump(&self, user: &UserId) -> StoreResult<TxItem<'static>> {
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(keys::reseller(user), keys::TREE)))
            .update_expression("ADD #tree_version :one")
            .expression_attribute_names("#tree_version", TREE_VERSION)
            .expression_attribute_values(":one", n(1))
            .build()
            .map_err(StoreError::backend)?;
        Ok(TxItem::plain(TransactWriteItem::builder().update(update).build()))
    }

    /// A check that the tree below `user` is as read at `version` (0: never changed).
    fn tree_check(&self, user: &UserId, version: u64) -> StoreResult<TxItem<'static>> {
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(key(keys::reseller(user), keys::TREE)))
            .expression_attribute_names("#tree_version", TREE_VERSION)
            .expression_attribute_values(":version", n(version));
        let check = if version == 0 {
            check.condition_expression("attribute_not_exists(#tree_version) OR #tree_version = :version")
        } else {
            check.condition_expression("#tree_version = :version")
        };
        let write = TransactWriteItem::builder().condition_check(check.build().map_err(StoreError::backend)?).build();
        Ok(TxItem { write, role: Role::Requires(Refusal::VersionChanged) })
    }
}

/// The attribute of a reseller's tree item counting the changes below it.
const TREE_VERSION: &str = "tree_version";

impl Hierarchy for DynamoStore {
    async fn set_parent(&self, change: &ParentChange) -> StoreResult<()> {
        let profile = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(keys::reseller(&change.child), keys::PROFILE)))
            .condition_expression("#version = :version")
            .expression_attribute_names("#version", "version")
            .expression_attribute_names("#parent", "parent")
            .expression_attribute_names("#updated_at", "updated_at")
            .expression_attribute_values(":version", n(change.version))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":at", to_attr(&change.at)?);
        let profile = match &change.new {
            Some(link) => profile
                .update_expression("SET #parent = :parent, #version = #version + :one, #updated_at = :at")
                .expression_attribute_values(":parent", to_attr(&link.shown)?),
            None => profile.update_expression("SET #version = #version + :one, #updated_at = :at REMOVE #parent"),
        };
        let write = TransactWriteItem::builder().update(profile.build().map_err(StoreError::backend)?).build();
        let mut items = vec![
            TxItem { write, role: Role::Requires(Refusal::VersionChanged) },
            self.tree_check(&change.child, change.tree_version)?,
        ];
        if let Some(old) = &change.old {
            let delete = Delete::builder()
                .table_name(&self.table)
                .set_key(Some(key(keys::reseller(old), keys::child(&change.child_created_at, &change.child))))
                .build()
                .map_err(StoreError::backend)?;
            items.push(TxItem::plain(TransactWriteItem::builder().delete(delete).build()));
        }
        if let Some(link) = &change.new {
            let child = ChildLink {
                user_id: change.child.clone(),
                refid: change.child_refid.clone(),
                created_at: change.child_created_at,
            };
            items.extend(self.link_items(&child, link)?);
        }
        self.transact(items).await
    }

    async fn tree_version(&self, user: &UserId) -> StoreResult<u64> {
        let found = self.get(key(keys::reseller(user), keys::TREE)).await?;
        match found.as_ref().and_then(|i| i.get(TREE_VERSION)) {
            None => Ok(0),
            Some(v) => v
                .as_n()
                .ok()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| StoreError::Backend("a tree version that is not a number".into())),
        }
    }

    async fn children(&self, parent: &UserId, page: &PageRequest) -> StoreResult<Page<ChildLink>> {
        self.query_page(keys::reseller(parent), keys::CHILD_PREFIX, page, |c: &ChildLink| {
            keys::reseller_order(&c.created_at, &c.user_id)
        })
        .await
    }
}

/// The link a new reseller is listed by under its parent.
pub(super) fn child_of(reseller: &Reseller) -> ChildLink {
    ChildLink { user_id: reseller.user_id.clone(), refid: reseller.refid.clone(), created_at: reseller.created_at }
}
