//! The events Ally publishes, as one enum shared by the publisher, the local bus and the
//! consumers. A variant's name is its EventBridge `detail-type`; its value is the `detail`:
//! the envelope every event carries, and the fields of its kind.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{
    Client, CompanyName, Email, EntryKind, Hold, HoldStatus, LedgerEntry, ProvisionedService, RefId, Tier, TopUpStatus,
    UserId,
};
use crate::events::{BusEvent, ItemChange, SOURCE, Stored};

/// The reseller an event is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResellerRef {
    pub user_id: UserId,
    /// Filled in by the publisher where the changed item does not carry it.
    #[serde(default)]
    pub refid: Option<RefId>,
}

/// What every Ally event carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// From the change record, so a redelivered change yields the same id: consumers
    /// dedupe by it.
    pub event_id: String,
    pub occurred_at: DateTime<Utc>,
    pub reseller: ResellerRef,
}

/// The `detail` of an event: its envelope and the fields of its kind, side by side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Detail<T> {
    #[serde(flatten)]
    pub envelope: Envelope,
    #[serde(flatten)]
    pub fields: T,
}

/// A reseller joined.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Joined {
    pub company: CompanyName,
    pub tier: Tier,
    #[serde(default)]
    pub email: Option<Email>,
}

/// A wallet fell below the low-credit threshold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BalanceLow {
    pub balance: i64,
    /// What may be spent (`balance - held`): what crossed the threshold.
    #[serde(default)]
    pub available: i64,
    pub threshold: i64,
    pub company: CompanyName,
    #[serde(default)]
    pub email: Option<Email>,
}

/// What is available crossed one of the partner's thresholds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThresholdCrossed {
    pub threshold: i64,
    pub balance: i64,
    pub available: i64,
    pub company: CompanyName,
    #[serde(default)]
    pub email: Option<Email>,
}

/// An auto top-up request, for the team's payment system: a payment credit that names
/// `request_id` (`top_up_request`, or Stripe metadata `ally_top_up_request`) answers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopUpAsked {
    pub request_id: String,
    pub amount: i64,
    pub requested_at: DateTime<Utc>,
}

/// An auto top-up request nothing paid within a day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopUpFailed {
    pub request_id: String,
    pub amount: i64,
    pub failures_in_a_row: u32,
    /// This failure turned the rule off (the partner is mailed).
    pub disabled: bool,
}

/// What is available fell below the partner's runway in days of its recent spend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunwayLow {
    pub runway_days: i64,
    /// The partner's alert level.
    pub threshold_days: i64,
    pub available: i64,
    pub company: CompanyName,
    #[serde(default)]
    pub email: Option<Email>,
}

/// A partner's acquisitions of a month make it a candidate for the next tier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpgradeSuggested {
    /// `YYYY-MM`.
    pub month: String,
    pub acquisitions: i64,
    pub tier: Tier,
    pub suggested_tier: Tier,
    /// Whether `ALLY_AUTO_UPGRADE` is on: the upgrade is applied.
    pub auto: bool,
}

/// A ledger entry was written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Posted {
    pub transaction: LedgerEntry,
}

/// A client was onboarded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientAdded {
    pub client: Client,
}

/// A service was provisioned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceAdded {
    pub service: ProvisionedService,
}

/// `detail` of a `LowCredit` event.
pub type LowCredit = Detail<BalanceLow>;

/// A hold was captured: what it debited and what it released.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldSettled {
    pub hold: Hold,
    pub captured: i64,
    pub released: i64,
}

/// A hold released all it reserved: voided by its owner or expired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldFreed {
    pub hold: Hold,
    pub released: i64,
}

/// Every event Ally puts on the bus (source [`SOURCE`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "detail-type", content = "detail")]
pub enum AllyEvent {
    ResellerOnboarded(Detail<Joined>),
    LowCredit(LowCredit),
    CreditsAdded(Detail<Posted>),
    CreditsSpent(Detail<Posted>),
    CreditsReversed(Detail<Posted>),
    DebtRepaid(Detail<Posted>),
    CreditsExpired(Detail<Posted>),
    CreditsTransferred(Detail<Posted>),
    ClientOnboarded(Detail<ClientAdded>),
    ServiceProvisioned(Detail<ServiceAdded>),
    HoldCaptured(Detail<HoldSettled>),
    HoldReleased(Detail<HoldFreed>),
    CreditThresholdCrossed(Detail<ThresholdCrossed>),
    CreditRecovered(Detail<ThresholdCrossed>),
    LowRunway(Detail<RunwayLow>),
    AutoTopUpRequested(Detail<TopUpAsked>),
    AutoTopUpFailed(Detail<TopUpFailed>),
    TierUpgradeSuggested(Detail<UpgradeSuggested>),
}

impl AllyEvent {
    /// The EventBridge `detail-type`.
    pub fn detail_type(&self) -> &'static str {
        match self {
            AllyEvent::ResellerOnboarded(_) => "ResellerOnboarded",
            AllyEvent::LowCredit(_) => "LowCredit",
            AllyEvent::CreditsAdded(_) => "CreditsAdded",
            AllyEvent::CreditsSpent(_) => "CreditsSpent",
            AllyEvent::CreditsReversed(_) => "CreditsReversed",
            AllyEvent::DebtRepaid(_) => "DebtRepaid",
            AllyEvent::CreditsExpired(_) => "CreditsExpired",
            AllyEvent::CreditsTransferred(_) => "CreditsTransferred",
            AllyEvent::ClientOnboarded(_) => "ClientOnboarded",
            AllyEvent::ServiceProvisioned(_) => "ServiceProvisioned",
            AllyEvent::HoldCaptured(_) => "HoldCaptured",
            AllyEvent::HoldReleased(_) => "HoldReleased",
            AllyEvent::CreditThresholdCrossed(_) => "CreditThresholdCrossed",
            AllyEvent::CreditRecovered(_) => "CreditRecovered",
            AllyEvent::LowRunway(_) => "LowRunway",
            AllyEvent::AutoTopUpRequested(_) => "AutoTopUpRequested",
            AllyEvent::AutoTopUpFailed(_) => "AutoTopUpFailed",
            AllyEvent::TierUpgradeSuggested(_) => "TierUpgradeSuggested",
        }
    }

    /// The envelope.
    pub fn envelope(&self) -> &Envelope {
        match self {
            AllyEvent::ResellerOnboarded(d) => &d.envelope,
            AllyEvent::LowCredit(d) => &d.envelope,
            AllyEvent::CreditsAdded(d)
            | AllyEvent::CreditsSpent(d)
            | AllyEvent::CreditsReversed(d)
            | AllyEvent::DebtRepaid(d)
            | AllyEvent::CreditsExpired(d)
            | AllyEvent::CreditsTransferred(d) => &d.envelope,
            AllyEvent::ClientOnboarded(d) => &d.envelope,
            AllyEvent::ServiceProvisioned(d) => &d.envelope,
            AllyEvent::HoldCaptured(d) => &d.envelope,
            AllyEvent::HoldReleased(d) => &d.envelope,
            AllyEvent::CreditThresholdCrossed(d) | AllyEvent::CreditRecovered(d) => &d.envelope,
            AllyEvent::LowRunway(d) => &d.envelope,
            AllyEvent::AutoTopUpRequested(d) => &d.envelope,
            AllyEvent::AutoTopUpFailed(d) => &d.envelope,
            AllyEvent::TierUpgradeSuggested(d) => &d.envelope,
        }
    }

    /// The envelope, to fill in what the change did not carry.
    pub fn envelope_mut(&mut self) -> &mut Envelope {
        match self {
            AllyEvent::ResellerOnboarded(d) => &mut d.envelope,
            AllyEvent::LowCredit(d) => &mut d.envelope,
            AllyEvent::CreditsAdded(d)
            | AllyEvent::CreditsSpent(d)
            | AllyEvent::CreditsReversed(d)
            | AllyEvent::DebtRepaid(d)
            | AllyEvent::CreditsExpired(d)
            | AllyEvent::CreditsTransferred(d) => &mut d.envelope,
            AllyEvent::ClientOnboarded(d) => &mut d.envelope,
            AllyEvent::ServiceProvisioned(d) => &mut d.envelope,
            AllyEvent::HoldCaptured(d) => &mut d.envelope,
            AllyEvent::HoldReleased(d) => &mut d.envelope,
            AllyEvent::CreditThresholdCrossed(d) | AllyEvent::CreditRecovered(d) => &mut d.envelope,
            AllyEvent::LowRunway(d) => &mut d.envelope,
            AllyEvent::AutoTopUpRequested(d) => &mut d.envelope,
            AllyEvent::AutoTopUpFailed(d) => &mut d.envelope,
            AllyEvent::TierUpgradeSuggested(d) => &mut d.envelope,
        }
    }

    /// The event as the bus takes it.
    pub fn to_bus(&self) -> Result<BusEvent, serde_json::Error> {
        let mut tagged = serde_json::to_value(self)?;
        let detail = tagged.get_mut("detail").map(serde_json::Value::take).unwrap_or_default();
        Ok(BusEvent { source: SOURCE.into(), detail_type: self.detail_type().into(), detail })
    }

    /// The event a bus event from [`SOURCE`] is, if it is one of Ally's.
    pub fn from_bus(event: &BusEvent) -> Result<Self, serde_json::Error> {
        serde_json::from_value(serde_json::json!({"detail-type": event.detail_type, "detail": event.detail}))
    }
}

/// A change record seen by the publisher, with the threshold `LowCredit` is judged by.
#[derive(Debug, Clone, Copy)]
pub struct Observed<'a> {
    pub change: &'a ItemChange,
    pub low_credit_threshold: i64,
}

/// A change that makes no event (a counter, an idempotency record, a spend that stays
/// above the threshold...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoEvent;

impl TryFrom<Observed<'_>> for AllyEvent {
    type Error = NoEvent;

    /// `LowCredit` only when what is available crosses from at or above the threshold to
    /// below it (a spend or a hold), so a wallet already low does not warn again on each.
    fn try_from(observed: Observed<'_>) -> Result<Self, NoEvent> {
        let change = observed.change;
        let threshold = observed.low_credit_threshold;
        let envelope = |user_id: &UserId, refid: Option<&RefId>| Envelope {
            event_id: change.id.clone(),
            occurred_at: change.at,
            reseller: ResellerRef { user_id: user_id.clone(), refid: refid.cloned() },
        };
        let event = match (&change.old, &change.new) {
            (None, Some(Stored::Reseller(r))) => AllyEvent::ResellerOnboarded(Detail {
                envelope: envelope(&r.user_id, Some(&r.refid)),
                fields: Joined { company: r.company.clone(), tier: r.tier, email: r.email.clone() },
            }),
            (Some(Stored::Reseller(old)), Some(Stored::Reseller(new)))
                if old.available() >= threshold && new.available() < threshold =>
            {
                AllyEvent::LowCredit(Detail {
                    envelope: envelope(&new.user_id, Some(&new.refid)),
                    fields: BalanceLow {
                        balance: new.balance,
                        available: new.available(),
                        threshold,
                        company: new.company.clone(),
                        email: new.email.clone(),
                    },
                })
            }
            (None, Some(Stored::Entry { owner_id, entry })) => {
                let detail =
                    Detail { envelope: envelope(owner_id, None), fields: Posted { transaction: entry.clone() } };
                match entry.kind {
                    EntryKind::Debit => AllyEvent::CreditsSpent(detail),
                    EntryKind::Credit | EntryKind::Refund | EntryKind::Reward | EntryKind::Commission => {
                        AllyEvent::CreditsAdded(detail)
                    }
                    EntryKind::Reversal => AllyEvent::CreditsReversed(detail),
                    EntryKind::DebtRepayment => AllyEvent::DebtRepaid(detail),
                    EntryKind::Expiry => AllyEvent::CreditsExpired(detail),
                    EntryKind::TransferOut | EntryKind::TransferIn => AllyEvent::CreditsTransferred(detail),
                }
            }
            (None, Some(Stored::Client(client))) => AllyEvent::ClientOnboarded(Detail {
                envelope: envelope(&client.owner_id, None),
                fields: ClientAdded { client: client.clone() },
            }),
            (None, Some(Stored::Service(service))) => AllyEvent::ServiceProvisioned(Detail {
                envelope: envelope(&service.owner_id, None),
                fields: ServiceAdded { service: service.clone() },
            }),
            (None, Some(Stored::TopUp(asked))) if asked.status == TopUpStatus::Pending => {
                AllyEvent::AutoTopUpRequested(Detail {
                    envelope: envelope(&asked.owner_id, None),
                    fields: TopUpAsked {
                        request_id: asked.id.clone(),
                        amount: asked.amount,
                        requested_at: asked.requested_at,
                    },
                })
            }
            (None, Some(Stored::Suggestion(s))) => AllyEvent::TierUpgradeSuggested(Detail {
                envelope: envelope(&s.owner_id, Some(&s.refid)),
                fields: UpgradeSuggested {
                    month: s.month.format("%Y-%m").to_string(),
                    acquisitions: s.acquisitions,
                    tier: s.tier,
                    suggested_tier: s.suggested_tier,
                    auto: s.auto,
                },
            }),
            (Some(Stored::TopUp(old)), Some(Stored::TopUp(failed)))
                if old.status == TopUpStatus::Pending && failed.status == TopUpStatus::Failed =>
            {
                AllyEvent::AutoTopUpFailed(Detail {
                    envelope: envelope(&failed.owner_id, None),
                    fields: TopUpFailed {
                        request_id: failed.id.clone(),
                        amount: failed.amount,
                        failures_in_a_row: failed.failures_in_a_row,
                        disabled: failed.disabled_rule,
                    },
                })
            }
            (Some(Stored::Hold(old)), Some(Stored::Hold(new))) if old.status == HoldStatus::Active => {
                let envelope = envelope(&new.owner_id, None);
                match (new.status, new.captured) {
                    (HoldStatus::Captured, Some(captured)) => AllyEvent::HoldCaptured(Detail {
                        envelope,
                        fields: HoldSettled { hold: new.clone(), captured, released: new.amount - captured },
                    }),
                    (HoldStatus::Voided | HoldStatus::Expired, _) => AllyEvent::HoldReleased(Detail {
                        envelope,
                        fields: HoldFreed { hold: new.clone(), released: new.amount },
                    }),
                    _ => return Err(NoEvent),
                }
            }
            _ => return Err(NoEvent),
        };
        Ok(event)
    }
}

#[cfg(test)]
#[path = "event_test.rs"]
mod tests;
