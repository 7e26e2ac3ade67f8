//! What callers ask of the service. The HTTP layer deserialises request bodies straight
//! into these (unknown fields refused), so each input shape is declared once.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::domain::{ClientName, CompanyName, Email, MetadataKey, MetadataValue, Note, RefId, Status, Tier, UserId};

/// Onboard a reseller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewReseller {
    /// The company's name as partners and admins read it.
    pub company: CompanyName,
    /// Only an admin may choose it; the network's default tier otherwise.
    #[serde(default)]
    pub tier: Option<Tier>,
    /// Only an admin may onboard someone else.
    #[serde(default)]
    pub user_id: Option<UserId>,
    /// Where notices go: for yourself, only the verified address you signed in with (an
    /// admin may set any).
    #[serde(default)]
    pub email: Option<Email>,
    /// Whitelabel metadata: JSON scalars by key (`company_name`, `primary_color`, `logo_url`,
    /// ...), 8 KiB in all.
    #[serde(default)]
    pub metadata: BTreeMap<MetadataKey, MetadataValue>,
    /// The reseller it sits under (admin only).
    #[serde(default)]
    pub parent_refid: Option<RefId>,
    /// An invite a partner handed out (`GET /resellers/me/invite`): you join under that
    /// partner. Only for onboarding yourself.
    #[serde(default)]
    pub invited_by: Option<String>,
}

pub use crate::domain::MetadataPatch;

/// An admin's change to a reseller.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResellerPatch {
    #[serde(default)]
    pub tier: Option<Tier>,
    #[serde(default)]
    pub status: Option<Status>,
    #[serde(default)]
    pub hold_provisioning: Option<bool>,
    #[serde(default)]
    pub metadata: MetadataPatch,
    /// Move it under the reseller of this refid; `null` puts it at the top of the tree.
    #[serde(default, deserialize_with = "present")]
    #[schemars(with = "Option<RefId>")]
    pub parent_refid: Option<Option<RefId>>,
}

/// A field that may be absent (`None`), `null` (`Some(None)`) or a value.
fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// Add credits to a wallet.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreditRequest {
    /// Whole credits, at most the network's largest single amount.
    #[schemars(range(min = 1))]
    pub amount: i64,
    /// Why, as the partner's ledger shows it.
    #[serde(default)]
    pub reason: Option<Note>,
    /// A grant rather than a purchase: its lot is promotional, spent before paid credit.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub promotional: bool,
    /// When its lot expires (in the future; none: never).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The auto top-up request this payment answers (`AutoTopUpRequested.request_id`):
    /// paying it ends the wait.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64), regex(pattern = "^[0-9A-Za-z]+$"))]
    pub top_up_request: Option<String>,
}

/// Provision one service: a catalog `product`, or a custom base `cost`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProvisionRequest {
    /// A catalog product's id (`GET /products`), charged at your tier's price.
    #[serde(default)]
    pub product: Option<String>,
    /// Or a custom base price, charged at your tier's discount (when no `product`).
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub cost: Option<i64>,
    /// One of your clients the service is for.
    #[serde(default)]
    pub client_id: Option<String>,
    /// What the service is, as your ledger and services show it.
    #[serde(default)]
    pub description: Option<Note>,
}

/// Reserve the tier price of a product or cost (`POST /holds`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HoldRequest {
    /// A catalog product's id (`GET /products`), charged at your tier's price.
    #[serde(default)]
    pub product: Option<String>,
    /// Or a custom base price, charged at your tier's discount (when no `product`).
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub cost: Option<i64>,
    /// One of your clients the service is for.
    #[serde(default)]
    pub client_id: Option<String>,
    /// What the service is, as your ledger and services show it.
    #[serde(default)]
    pub description: Option<Note>,
    /// How long the hold lasts: 60 s to 7 days, 24 h when not given.
    #[serde(default)]
    #[schemars(range(min = 60, max = 604800))]
    pub expires_in_s: Option<i64>,
}

/// Capture a hold (`POST /holds/{id}/capture`): `amount` at most the held amount, all of it
/// when not given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CaptureRequest {
    /// What the service cost, at most what was reserved; all of it when absent.
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub amount: Option<i64>,
}

/// Reverse all or part of a credit, payment or reward (`POST /resellers/{refid}/reversals`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReversalRequest {
    /// The ledger entry to reverse (a credit, payment or reward of that reseller).
    pub entry_id: String,
    /// At most what is left of it to reverse; all of that when not given.
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub amount: Option<i64>,
    /// Why, as the reseller's ledger shows it.
    pub reason: Note,
}

/// Onboard one client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewClient {
    /// The client's name, 1 to 200 visible characters.
    pub name: ClientName,
    /// The client's address, if any.
    #[serde(default)]
    pub email: Option<Email>,
}

/// Pass credits to a direct sub-reseller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferRequest {
    /// One of your direct sub-resellers.
    pub to_refid: RefId,
    /// Whole credits; the lots drawn keep their kind and expiry.
    #[schemars(range(min = 1))]
    pub amount: i64,
    /// Why, as both ledgers show it.
    #[serde(default)]
    pub note: Option<Note>,
}

/// Move credits between any two resellers (admin).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AdminTransferRequest {
    /// The reseller the credits leave.
    pub from_refid: RefId,
    /// The reseller they go to.
    pub to_refid: RefId,
    /// Whole credits; the lots drawn keep their kind and expiry.
    #[schemars(range(min = 1))]
    pub amount: i64,
    /// Why, as both ledgers show it.
    #[serde(default)]
    pub note: Option<Note>,
}

/// Onboard many clients and provision one service for each, all or nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkRequest {
    /// 1 to 500 clients, each getting one service.
    #[schemars(length(min = 1, max = 500))]
    pub clients: Vec<NewClient>,
    /// A catalog product's id, charged at your tier's price per client.
    #[serde(default)]
    pub product: Option<String>,
    /// Or a custom base price per client, at your tier's discount.
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub cost: Option<i64>,
}

impl NewReseller {
    /// Onboarding of the caller at the default tier, with nothing but a company name.
    pub fn new(company: CompanyName) -> Self {
        Self {
            company,
            tier: None,
            user_id: None,
            email: None,
            metadata: BTreeMap::new(),
            parent_refid: None,
            invited_by: None,
        }
    }
}
