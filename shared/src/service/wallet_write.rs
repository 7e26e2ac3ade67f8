//! Every wallet write, once per idempotency key: read the wallet and the key's record
//! together (and what else the write names, after it), build the change from that snapshot,
//! write it as ONE conditional change under the wallet's version (or the two of a transfer,
//! in one transaction), and start over from a fresh read when a wallet moved; a recorded
//! key replays its first answer.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use super::{Ally, MAX_ATTEMPTS};
use crate::domain::{AllyError, Hold, IdempotencyKey, Lot, Reseller, UserId, check_lots};
use crate::metrics::Metric;
use crate::store::{IdempotencyRecord, IdempotencyState, Store, StoreError, WalletChange, backoff};

/// What a write reads besides its wallet, after it on every attempt: anything that changes
/// only in a write of that wallet is then at least as new as the wallet read.
#[derive(Clone, Copy)]
pub(super) enum Also<'a> {
    Nothing,
    /// A lot's item (what its expiry wrote off).
    Lot(&'a str),
    /// One of the wallet's holds (closed since it was looked up?).
    Hold(&'a str),
    /// Another wallet, with its record of this key (the other side of a transfer).
    Wallet(&'a UserId, &'a IdempotencyKey),
}

/// What [`Also`] read.
#[derive(Default)]
pub(super) struct Read {
    pub lot: Option<Lot>,
    pub hold: Option<Hold>,
    pub other: Option<Reseller>,
}

/// One attempt of a wallet write, built from the wallet read: the changes (one wallet, or
/// the two sides of a transfer), the answer it records, and what it adds to the business
/// metrics once written.
pub(super) struct Attempt<R> {
    pub changes: Vec<WalletChange>,
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
        also: Also<'_>,
        build: impl Fn(&Reseller, &Read, DateTime<Utc>) -> Result<Attempt<R>, AllyError>,
    ) -> Result<Committed<R>, AllyError> {
        for attempt in 0..MAX_ATTEMPTS {
            let reseller = match self.snapshot(user_id, key, hash).await? {
                Ok(reseller) => reseller,
                Err(replayed) => return Ok(replayed),
            };
            let read = self.also(user_id, also).await?;
            let Attempt { changes, response, state, counted } = build(&reseller, &read, self.now())?;
            let written = match changes.as_slice() {
                [one] => self.store.commit_wallet_change(one).await,
                [from, to] => self.store.commit_transfer(from, to).await,
                _ => return Err(AllyError::internal(std::io::Error::other("a write of one or two wallets"))),
            };
            match written {
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
        let reseller = profile.ok_or(AllyError::NotFound("reseller"))?;
        tracing::Span::current().record("refid", reseller.refid.as_str());
        checked(reseller).map(Ok)
    }

    /// What `also` names, read after the wallet of `user_id`.
    async fn also(&self, user_id: &UserId, also: Also<'_>) -> Result<Read, AllyError> {
        Ok(match also {
            Also::Nothing => Read::default(),
            Also::Lot(id) => Read { lot: self.store.lot(user_id, id).await?, ..Read::default() },
            Also::Hold(id) => Read { hold: self.store.hold(user_id, id).await?, ..Read::default() },
            Also::Wallet(other, key) => {
                let other = self.store.wallet(other, key).await?.0.ok_or(AllyError::NotFound("reseller"))?;
                Read { other: Some(checked(other)?), ..Read::default() }
            }
        })
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

/// A wallet read whose lots are its balance and reserve; a drift is a 500, never adopted.
fn checked(reseller: Reseller) -> Result<Reseller, AllyError> {
    match check_lots(&reseller) {
        Ok(()) => Ok(reseller),
        Err(crate::domain::Unsettled::Drift { balance, lots, held, reserved }) => {
            Err(drift(&reseller, balance, lots, held, reserved))
        }
        Err(_) => Err(AllyError::internal(std::io::Error::other("the wallet could not be read"))),
    }
}

/// A wallet whose lots disagree with its balance or reserve: a 500, loudly.
pub(super) fn drift(r: &Reseller, balance: i64, lots: i64, held: i64, reserved: i64) -> AllyError {
    tracing::error!(
        refid = %r.refid,
        balance,
        lots,
        held,
        reserved,
        "the wallet's lots disagree with its balance or reserve: refused"
    );
    crate::metrics::record(&[Metric::WalletDrift]);
    AllyError::internal(std::io::Error::other("the wallet's lots disagree with its balance or reserve"))
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
