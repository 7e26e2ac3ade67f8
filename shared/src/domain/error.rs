use std::error::Error as StdError;

use super::{Refusal, Tier};

/// Every way an Ally operation can fail, in the partner business's terms.
///
/// The HTTP layer maps each variant to one status and one stable `code`; event handlers
/// decide from it whether a delivery is worth retrying.
#[derive(Debug, thiserror::Error)]
pub enum AllyError {
    /// The input is malformed or out of range; nothing was changed.
    #[error("{0}")]
    Validation(String),
    /// The object does not exist, or is not the caller's to see.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A unique object (one reseller per user, a client id) already exists.
    #[error("{0} already exists")]
    AlreadyExists(&'static str),
    /// The wallet cannot pay: `needed` credits asked, `balance` held.
    #[error("insufficient credits: {needed} needed, {balance} available")]
    InsufficientCredits { needed: i64, balance: i64 },
    /// An admin (or a low-credit rule) has put provisioning on hold.
    #[error("provisioning is on hold for this reseller")]
    OnHold,
    /// The reseller is suspended and may not spend or onboard.
    #[error("the reseller is suspended")]
    Suspended,
    /// The reseller's tier may not sell this product.
    #[error("the {tier} tier may not sell product {product}")]
    TierNotAllowed { tier: Tier, product: String },
    /// The input is well formed but larger than Ally keeps (413).
    #[error("{0}")]
    TooLarge(String),
    /// A reversal would take back more than the entry gave, in all (422).
    #[error("the reversals of an entry may not exceed it in all")]
    ReversalExceedsOriginal,
    /// The hold was captured, voided or has expired: it can do nothing more (409).
    #[error("the hold is closed: captured, voided or expired")]
    HoldClosed,
    /// The idempotency key was used before with a different request.
    #[error("this idempotency key was already used with a different request")]
    IdempotencyConflict,
    /// The caller is known but its role does not allow this.
    #[error("{0}")]
    Forbidden(&'static str),
    /// The wallet kept changing under us past the retry budget; the caller may retry.
    #[error("the wallet is busy, retry the request")]
    Contention,
    /// The store refused for capacity (DynamoDB throttling) past the SDK's retries.
    #[error("the store is throttling requests, retry shortly")]
    Throttled,
    /// The store failed for a reason unrelated to the request (network, bug).
    #[error("storage failure")]
    Store(#[source] Box<dyn StdError + Send + Sync>),
    /// Anything else that failed inside Ally: mail, files, JSON of a stored answer.
    #[error("internal failure")]
    Internal(#[source] Box<dyn StdError + Send + Sync>),
}

impl AllyError {
    /// A validation error with a message for the caller.
    pub fn validation(message: impl Into<String>) -> Self {
        Self::Validation(message.into())
    }

    /// An internal failure, from its cause.
    pub fn internal(cause: impl StdError + Send + Sync + 'static) -> Self {
        Self::Internal(Box::new(cause))
    }

    /// Whether trying the same request again later may succeed (used by event consumers).
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Contention | Self::Throttled | Self::Store(_) | Self::Internal(_))
    }
}

/// The one mapping from a refused wallet change to the error the caller sees. A race
/// (the wallet moved, a duplicate key) only escapes when the retries ran out.
impl From<Refusal> for AllyError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::Missing => AllyError::NotFound("reseller"),
            Refusal::Suspended => AllyError::Suspended,
            Refusal::OnHold => AllyError::OnHold,
            Refusal::TierNotAllowed { tier, product } => AllyError::TierNotAllowed { tier, product },
            Refusal::Insufficient { needed, balance } => AllyError::InsufficientCredits { needed, balance },
            Refusal::HoldClosed => AllyError::HoldClosed,
            Refusal::ReversalExceedsOriginal => AllyError::ReversalExceedsOriginal,
            // The payment's id is the key it was credited under: the same key, another input.
            Refusal::PaidElsewhere => AllyError::IdempotencyConflict,
            Refusal::ReceiptMoved => AllyError::Contention,
            Refusal::TierChanged | Refusal::VersionChanged | Refusal::Duplicate => AllyError::Contention,
        }
    }
}
