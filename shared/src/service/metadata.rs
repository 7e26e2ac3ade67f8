//! Whitelabel metadata: a partner's patch in one bounded update, merged exactly near the
//! 8 KiB limit; an admin's merged into the metadata read with the reseller.

use tracing::instrument;

use super::{Ally, MAX_ATTEMPTS, MetadataPatch, WhitelabelMetadata};
use crate::domain::{
    AllyError, METADATA_MAX_BYTES, Metadata, Reseller, UserId, check_metadata, check_metadata_value, merge_metadata,
    metadata_growth_bound,
};
use crate::store::{MetadataPatched, Store};

/// The most keys a metadata patch sets or removes in one update: its expression stays far
/// inside DynamoDB's 4 KB (about 20 bytes a key).
const METADATA_KEYS_IN_ONE_UPDATE: usize = 100;

impl<S: Store> Ally<S> {
    /// A partner's change of its own whitelabel metadata (reserved keys are refused), and the
    /// metadata as it then stands. One write when the size bound its item keeps shows the
    /// patch fits; otherwise merged exactly from what that write found (413 past the limit).
    #[instrument(skip(self, patch))]
    pub async fn update_own_metadata(
        &self,
        user_id: &UserId,
        patch: MetadataPatch,
    ) -> Result<WhitelabelMetadata, AllyError> {
        for (key, value) in &patch {
            value.as_ref().map_or(Ok(()), |value| check_metadata_value(key.as_str(), value))?;
        }
        let growth = metadata_growth_bound(&patch);
        // DynamoDB takes update expressions up to 4 KB: a long patch is merged and put whole.
        let found = if growth <= METADATA_MAX_BYTES && patch.len() <= METADATA_KEYS_IN_ONE_UPDATE {
            match self.store.patch_metadata(user_id, &patch, growth).await? {
                MetadataPatched::Written(metadata) => return Ok(WhitelabelMetadata { metadata }),
                MetadataPatched::Unproven(found) => found,
            }
        } else {
            None
        };
        let (metadata, _) = self.patch_metadata(user_id, &patch, found).await?;
        Ok(WhitelabelMetadata { metadata })
    }

    /// Merges `patch` exactly into the metadata (`found`, or read with the reseller) and
    /// writes it whole under its version (its own item: the wallet is not touched), reading
    /// again if someone else wrote in between. Answers the metadata written, with the
    /// reseller when it was read here.
    pub(super) async fn patch_metadata(
        &self,
        user_id: &UserId,
        patch: &MetadataPatch,
        mut found: Option<(Metadata, u64)>,
    ) -> Result<(Metadata, Option<Reseller>), AllyError> {
        for attempt in 0..MAX_ATTEMPTS {
            let (current, version, reseller) = match found.take() {
                Some((metadata, version)) => (metadata, version, None),
                None => {
                    let read = self.store.with_metadata(user_id).await?.ok_or(AllyError::NotFound("reseller"))?;
                    let mut reseller = read.reseller;
                    (std::mem::take(&mut reseller.metadata), read.metadata_version, Some(reseller))
                }
            };
            let metadata = merge_metadata(current, patch);
            check_metadata(&metadata)?;
            match self.store.put_metadata(user_id, version, &metadata).await {
                Ok(()) => return Ok((metadata, reseller)),
                Err(e) => super::wallet_write::retry_or_fail(e, attempt).await?,
            }
        }
        Err(AllyError::Contention)
    }
}
