//! Profiles, wallets read whole, refids and whitelabel metadata in the memory store
//! (`Profiles`), as `store/dynamo/profiles.rs` keeps them in DynamoDB.

use std::collections::BTreeMap;

use super::MemoryStore;
use crate::domain::{
    METADATA_MAX_BYTES, Metadata, MetadataPatch, RefId, Refusal, Reseller, UserId, merge_metadata, metadata_bytes,
};
use crate::store::{
    ChildLink, MetadataPatched, Page, PageRequest, ParentLink, ProfileUpdate, Profiles, ResellerFilter, StoreError,
    StoreResult, Stored, Taken, WithMetadata, keys, page_newest_first,
};

impl Profiles for MemoryStore {
    async fn insert_reseller(&self, reseller: &Reseller, parent: Option<&ParentLink>) -> StoreResult<()> {
        self.enter("insert_reseller").await?;
        let mut t = self.lock();
        if parent.is_some_and(|l| !t.chain_holds(&l.chain)) {
            return Err(StoreError::Refused(Refusal::VersionChanged));
        }
        if t.resellers.contains_key(reseller.user_id.as_str()) {
            return Err(StoreError::Taken(Taken::User));
        }
        if t.refids.contains_key(reseller.refid.as_str()) {
            return Err(StoreError::Taken(Taken::Refid));
        }
        t.refids.insert(reseller.refid.to_string(), reseller.user_id.to_string());
        if let Some(link) = parent {
            let child = ChildLink {
                user_id: reseller.user_id.clone(),
                refid: reseller.refid.clone(),
                created_at: reseller.created_at,
            };
            t.link(child, link);
        }
        let mut profile = reseller.clone();
        let metadata = std::mem::take(&mut profile.metadata);
        t.metadata.insert(reseller.user_id.to_string(), (1, metadata));
        t.resellers.insert(reseller.user_id.to_string(), profile.clone());
        self.changed();
        self.emit(&mut t, None, Some(Stored::Reseller(Box::new(profile))));
        Ok(())
    }

    async fn reseller(&self, user_id: &UserId) -> StoreResult<Option<Reseller>> {
        self.enter("reseller").await?;
        Ok(self.with_metadata(user_id).await?.map(|read| read.reseller))
    }

    async fn with_metadata(&self, user_id: &UserId) -> StoreResult<Option<WithMetadata>> {
        self.enter("with_metadata").await?;
        let t = self.lock();
        Ok(t.resellers.get(user_id.as_str()).map(|profile| {
            let mut reseller = profile.clone();
            // A profile kept before metadata had an entry of its own keeps it inline until
            // its first metadata change, as in DynamoDB.
            let metadata_version = match t.metadata.get(user_id.as_str()) {
                Some((version, metadata)) => {
                    reseller.metadata = metadata.clone();
                    *version
                }
                None => 0,
            };
            WithMetadata { reseller, metadata_version }
        }))
    }

    async fn put_metadata(&self, user_id: &UserId, expected: u64, metadata: &Metadata) -> StoreResult<()> {
        self.enter("put_metadata").await?;
        let mut t = self.lock();
        let version = t.metadata.get(user_id.as_str()).map_or(0, |(version, _)| *version);
        if version != expected {
            return Err(StoreError::Refused(Refusal::VersionChanged));
        }
        t.metadata.insert(user_id.to_string(), (expected + 1, metadata.clone()));
        self.changed();
        Ok(())
    }

    async fn patch_metadata(
        &self,
        user_id: &UserId,
        patch: &MetadataPatch,
        _growth: usize,
    ) -> StoreResult<MetadataPatched> {
        self.enter("patch_metadata").await?;
        // Exact under the lock: what fits is written, what does not is handed back (as
        // DynamoDB's bound would, sooner or later).
        let mut t = self.lock();
        let Some((version, metadata)) = t.metadata.get_mut(user_id.as_str()) else {
            return Ok(MetadataPatched::Unproven(None));
        };
        let merged = merge_metadata(metadata.clone(), patch);
        if metadata_bytes(&merged) > METADATA_MAX_BYTES {
            return Ok(MetadataPatched::Unproven(Some((metadata.clone(), *version))));
        }
        *metadata = merged.clone();
        *version += 1;
        self.changed();
        Ok(MetadataPatched::Written(merged))
    }

    async fn user_by_refid(&self, refid: &RefId) -> StoreResult<Option<UserId>> {
        self.enter("user_by_refid").await?;
        let user = self.lock().refids.get(refid.as_str()).cloned();
        user.map(UserId::parse).transpose().map_err(StoreError::backend)
    }

    async fn resellers_by_user(&self, user_ids: &[UserId]) -> StoreResult<Vec<Reseller>> {
        self.enter("resellers_by_user").await?;
        let t = self.lock();
        Ok(user_ids.iter().filter_map(|u| t.resellers.get(u.as_str()).cloned()).collect())
    }

    async fn resellers(&self, filter: ResellerFilter, page: &PageRequest) -> StoreResult<Page<Reseller>> {
        self.enter("resellers").await?;
        let t = self.lock();
        let matching: BTreeMap<String, Reseller> = t
            .resellers
            .values()
            .filter(|r| filter.admits(r))
            .map(|r| (keys::reseller_order(&r.created_at, &r.user_id), r.clone()))
            .collect();
        page_newest_first(Some(&matching), page)
    }

    async fn update_profile(&self, user_id: &UserId, update: &ProfileUpdate) -> StoreResult<Reseller> {
        self.enter("update_profile").await?;
        let mut t = self.lock();
        update.guard.check(t.resellers.get(user_id.as_str())).map_err(StoreError::Refused)?;
        let r = t.resellers.get_mut(user_id.as_str()).ok_or(StoreError::Refused(Refusal::Missing))?;
        let before = r.clone();
        r.tier = update.tier;
        r.status = update.status;
        r.hold_provisioning = update.hold_provisioning;
        r.hold_reason = update.hold_reason;
        r.alerts = update.alerts.clone();
        r.updated_at = update.at;
        r.version += 1;
        let updated = r.clone();
        self.emit(&mut t, Some(Stored::Reseller(Box::new(before))), Some(Stored::Reseller(Box::new(updated.clone()))));
        self.changed();
        Ok(updated)
    }
}
