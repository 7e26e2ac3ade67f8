//! Every wallet write, once per idempotency key: read the wallet and the key's record
//! together, build the change from that snapshot, write it as ONE conditional change under
//! the wallet's version, and start over from a fresh read when the wallet moved; a
//! recorded key replays its first answer.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use super::{Ally, MAX_ATTEMPTS};
use crate::domain::{AllyError, IdempotencyKey, Reseller, UserId};
use crate::metrics::Metric;
use crate::store::{IdempotencyRecord, IdempotencyState, Store, StoreError, WalletChange, backoff};

/// One attempt of a wallet write, built from the wallet read: the change, the answer it
/// records, and what it adds to the business metrics once written.
pub(super) struct Attempt<R> {
    pub change: WalletChange,
    pub response: R,
    pub state: IdempotencyState,
    pub counted: Vec<Metric>,
}

/// A committed operation: its answer, whether follow-up writes may still be missing, and
/// whether this call made it (rather than replaying it).
pub(super) struct Committed<R> {
    pub response: R,
    pub state: IdempotencyState,
    pub fresh: bool,
}

/// Fingerprint of an operation and its input, to tell a retry from a reuse of the key.
pub(super) fn request_hash(operation: &str, input: &impl Serialize) -> String {
    let body = serde_json::to_vec(input).unwrap_or_default();
    let mut hasher = Sha256::new();
    hasher.update(operation.as_bytes());
    hasher.update([0]);
    hasher.update(&body);
    hex::encode(hasher.finalize())
}

impl<S: Store> Ally<S> {
    /// The loop every wallet write runs: replay a recorded key, or build the change from a
    /// fresh snapshot and commit it as one conditional write; start over when the wallet
    /// moved in between.
    pub(super) async fn write_wallet<R: DeserializeOwned>(
        &self,
        user_id: &UserId,
        key: &IdempotencyKey,
        hash: &str,
        build: impl Fn(&Reseller, DateTime<Utc>) -> Result<Attempt<R>, AllyError>,
    ) -> Result<Committed<R>, AllyError> {
        for attempt in 0..MAX_ATTEMPTS {
            let reseller = match self.snapshot(user_id, key, hash).await? {
                Ok(reseller) => reseller,
                Err(replayed) => return Ok(replayed),
            };
            let Attempt { change, response, state, counted } = build(&reseller, Utc::now())?;
            match self.store.commit_wallet_change(&change).await {
                Ok(()) => {
                    crate::metrics::record(&counted);
                    return Ok(Committed { response, state, fresh: true });
                }
                Err(e) => retry_or_fail(e, attempt).await?,
            }
        }
        Err(AllyError::Contention)
    }

    /// The wallet as the money loops decide from it, or the first answer of a recorded key
    /// (a conflict when the key was used for another input).
    pub(super) async fn snapshot<R: DeserializeOwned>(
        &self,
        user_id: &UserId,
        key: &IdempotencyKey,
        hash: &str,
    ) -> Result<Result<Reseller, Committed<R>>, AllyError> {
        let (profile, record) = self.store.wallet(user_id, key).await?;
        if let Some(record) = record {
            return replay(record, hash).map(Err);
        }
        let mut reseller = profile.ok_or(AllyError::NotFound("reseller"))?;
        tracing::Span::current().record("refid", reseller.refid.as_str());
        reseller.lots.adopt(reseller.balance, reseller.held, reseller.created_at);
        Ok(Ok(reseller))
    }

    /// The idempotency record of a first answer. A provider redelivers, and an EventBridge
    /// archive replays, long after any window: the receipt of an external event that moved
    /// money is permanent; a caller's key is kept for the window.
    pub(super) fn record(
        &self,
        key: &IdempotencyKey,
        hash: &str,
        state: IdempotencyState,
        response: &impl Serialize,
        now: DateTime<Utc>,
        pending_fill: Option<String>,
    ) -> Result<IdempotencyRecord, AllyError> {
        Ok(IdempotencyRecord {
            key: key.clone(),
            request_hash: hash.to_string(),
            state,
            response: serde_json::to_string(response).map_err(AllyError::internal)?,
            created_at: now,
            expires_at: (!key.is_receipt())
                .then(|| (now + chrono::Duration::days(self.config.idempotency_ttl_days)).timestamp()),
            pending_fill,
        })
    }
}

/// After a write that did not land: wait and read again when someone else wrote first (a
/// duplicate key then replays); any other failure is the answer.
pub(super) async fn retry_or_fail(error: StoreError, attempt: u32) -> Result<(), AllyError> {
    match error {
        StoreError::Refused(refusal) if refusal.is_race() => {}
        StoreError::Conflict => {}
        e => return Err(e.into()),
    }
    backoff(attempt).await;
    Ok(())
}

/// The first answer of a recorded key, or a conflict when the key was used for another input.
fn replay<R: DeserializeOwned>(record: IdempotencyRecord, hash: &str) -> Result<Committed<R>, AllyError> {
    if record.request_hash != hash {
        return Err(AllyError::IdempotencyConflict);
    }
    let response = serde_json::from_str(&record.response).map_err(AllyError::internal)?;
    Ok(Committed { response, state: record.state, fresh: false })
}
