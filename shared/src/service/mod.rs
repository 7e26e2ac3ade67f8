//! What partners, admins and event handlers can do. HTTP handlers and event consumers call
//! these methods and nothing below them.

mod analytics;
mod money;
mod receipts;
mod requests;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::Utc;
use tracing::instrument;

pub use analytics::{TOP_RESELLERS_MAX_DAYS, TopReseller};
pub use money::{MAX_BULK, check_idempotency_key};
pub use receipts::{BulkCharge, BulkReceipt, CreditReceipt, ProvisionReceipt, ResellerStats};
pub use requests::{
    BulkRequest, CreditRequest, MetadataPatch, NewClient, NewReseller, ProvisionRequest, ResellerPatch,
};

use crate::config::Config;
use crate::domain::{
    AllyError, Client, LedgerEntry, METADATA_MAX_KEYS, Reseller, Status, check_email, check_metadata, check_name,
    check_refid, check_user_id, new_id, new_refid,
};
use crate::store::{Page, PageRequest, ProfileUpdate, Refusal, ResellerFilter, Store, StoreError, Taken};

/// Who is calling, as proven by verified token claims (never by a body field or header).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The token's `sub`.
    pub user_id: String,
    /// The token's `email`, if any.
    pub email: Option<String>,
    /// Member of the `admin` group.
    pub admin: bool,
}

/// Makes refids; replaceable so tests can force a collision.
pub type RefidSource = Arc<dyn Fn() -> String + Send + Sync>;

/// How many times a write that lost a race is tried again before giving up.
const MAX_ATTEMPTS: u32 = 50;

/// The Ally service over a store.
pub struct Ally<S> {
    store: S,
    config: Config,
    refids: RefidSource,
}

impl<S: Store> Ally<S> {
    /// The service over `store` with `config`.
    pub fn new(store: S, config: Config) -> Self {
        Self { store, config, refids: Arc::new(new_refid) }
    }

    /// Uses `refids` to make refids (tests use it to force collisions).
    pub fn with_refids(mut self, refids: RefidSource) -> Self {
        self.refids = refids;
        self
    }

    /// The store underneath (tests read it to check nothing else was written).
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Onboards a reseller: self-service for the caller, or by an admin for anyone at any
    /// tier. One reseller per user; the refid is unique (a collision draws another).
    #[instrument(skip(self, request), fields(actor = %actor.user_id))]
    pub async fn onboard(&self, actor: &Actor, request: NewReseller) -> Result<Reseller, AllyError> {
        let user_id = match request.user_id {
            Some(other) if other != actor.user_id && !actor.admin => {
                return Err(AllyError::Forbidden("only an admin may onboard another user"));
            }
            Some(user_id) => user_id,
            None => actor.user_id.clone(),
        };
        let tier = match request.tier {
            Some(tier) if tier != self.config.default_tier && !actor.admin => {
                return Err(AllyError::Forbidden("only an admin may choose a tier"));
            }
            Some(tier) => tier,
            None => self.config.default_tier,
        };
        check_user_id(&user_id)?;
        check_name("company", &request.company)?;
        check_metadata(&request.metadata)?;
        if request.metadata.len() > METADATA_MAX_KEYS {
            return Err(AllyError::validation(format!("metadata holds at most {METADATA_MAX_KEYS} keys")));
        }
        let email = match request.email {
            Some(email) => Some(email),
            None if user_id == actor.user_id => actor.email.clone(),
            None => None,
        };
        if let Some(email) = &email {
            check_email(email)?;
        }
        let now = Utc::now();
        let mut reseller = Reseller {
            user_id,
            refid: String::new(),
            company: request.company.trim().to_string(),
            email,
            tier,
            status: Status::Active,
            balance: 0,
            wallet_open: self.config.auto_provision_wallet,
            hold_provisioning: false,
            metadata: request.metadata,
            version: 0,
            credits_added: 0,
            credits_spent: 0,
            provisions: 0,
            clients: 0,
            created_at: now,
            updated_at: now,
        };
        for _ in 0..5 {
            reseller.refid = (self.refids)();
            match self.store.insert_reseller(&reseller).await {
                Ok(()) => return Ok(reseller),
                Err(StoreError::Taken(Taken::Refid)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(AllyError::Contention)
    }

    /// The reseller of `user_id`.
    pub async fn find_by_user(&self, user_id: &str) -> Result<Reseller, AllyError> {
        check_user_id(user_id).map_err(|_| AllyError::NotFound("reseller"))?;
        self.store.reseller(user_id).await?.ok_or(AllyError::NotFound("reseller"))
    }

    /// The reseller with `refid`.
    pub async fn find_by_refid(&self, refid: &str) -> Result<Reseller, AllyError> {
        check_refid(refid).map_err(|_| AllyError::NotFound("reseller"))?;
        self.store.reseller_by_refid(refid).await?.ok_or(AllyError::NotFound("reseller"))
    }

    /// Resellers of one tier or status, newest first (an index query, never a scan).
    pub async fn list_resellers(
        &self,
        filter: ResellerFilter,
        page: &PageRequest,
    ) -> Result<Page<Reseller>, AllyError> {
        Ok(self.store.resellers(filter, page).await?)
    }

    /// An admin's change of tier, status, hold or metadata.
    #[instrument(skip(self, patch))]
    pub async fn update_reseller(&self, refid: &str, patch: ResellerPatch) -> Result<Reseller, AllyError> {
        let user_id = self.find_by_refid(refid).await?.user_id;
        self.patch_profile(&user_id, |r| {
            r.tier = patch.tier.unwrap_or(r.tier);
            r.status = patch.status.unwrap_or(r.status);
            r.hold_provisioning = patch.hold_provisioning.unwrap_or(r.hold_provisioning);
            merge_metadata(&mut r.metadata, &patch.metadata)
        })
        .await
    }

    /// A partner's change of its own whitelabel metadata; reserved keys are refused.
    #[instrument(skip(self, patch))]
    pub async fn update_own_metadata(&self, user_id: &str, patch: MetadataPatch) -> Result<Reseller, AllyError> {
        self.patch_profile(user_id, |r| merge_metadata(&mut r.metadata, &patch)).await
    }

    /// Applies `change` to the current profile and writes it under the version read,
    /// reading again if someone else wrote in between.
    async fn patch_profile(
        &self,
        user_id: &str,
        change: impl Fn(&mut Reseller) -> Result<(), AllyError>,
    ) -> Result<Reseller, AllyError> {
        for attempt in 0..MAX_ATTEMPTS {
            let mut r = self.find_by_user(user_id).await?;
            let (expected_version, previous_tier) = (r.version, r.tier);
            change(&mut r)?;
            let update = ProfileUpdate {
                expected_version,
                previous_tier,
                tier: r.tier,
                status: r.status,
                hold_provisioning: r.hold_provisioning,
                metadata: r.metadata,
                at: Utc::now(),
            };
            match self.store.update_profile(user_id, &update).await {
                Ok(updated) => return Ok(updated),
                Err(StoreError::Refused(Refusal::VersionChanged) | StoreError::Conflict) => {
                    crate::store::backoff(attempt).await
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(AllyError::Contention)
    }

    /// Onboards a client for the calling reseller.
    #[instrument(skip(self, request))]
    pub async fn onboard_client(&self, owner_id: &str, request: NewClient) -> Result<Client, AllyError> {
        check_new_client(&request)?;
        let client = Client {
            id: new_id(),
            owner_id: owner_id.to_string(),
            name: request.name.trim().to_string(),
            email: request.email,
            created_at: Utc::now(),
        };
        match self.store.insert_client(&client).await {
            Ok(()) => Ok(client),
            Err(StoreError::Refused(Refusal::Missing)) => Err(AllyError::NotFound("reseller")),
            Err(e) => Err(e.into()),
        }
    }

    /// One of the caller's clients; another partner's client is simply not found.
    pub async fn client(&self, owner_id: &str, client_id: &str) -> Result<Client, AllyError> {
        if client_id.parse::<ulid::Ulid>().is_err() {
            return Err(AllyError::NotFound("client"));
        }
        self.store.client(owner_id, client_id).await?.ok_or(AllyError::NotFound("client"))
    }

    /// The caller's clients, newest first.
    pub async fn clients(&self, owner_id: &str, page: &PageRequest) -> Result<Page<Client>, AllyError> {
        Ok(self.store.clients(owner_id, page).await?)
    }

    /// The caller's ledger, newest first.
    pub async fn ledger(&self, owner_id: &str, page: &PageRequest) -> Result<Page<LedgerEntry>, AllyError> {
        Ok(self.store.ledger(owner_id, page).await?)
    }

    /// The caller's balance, tier and running totals.
    pub async fn stats(&self, user_id: &str) -> Result<ResellerStats, AllyError> {
        let r = self.find_by_user(user_id).await?;
        Ok(ResellerStats {
            balance: r.balance,
            tier: r.tier,
            clients: r.clients,
            credits_added: r.credits_added,
            credits_spent: r.credits_spent,
            provisions: r.provisions,
        })
    }
}

fn check_new_client(client: &NewClient) -> Result<(), AllyError> {
    check_name("name", &client.name)?;
    if let Some(email) = &client.email {
        check_email(email)?;
    }
    Ok(())
}

fn merge_metadata(metadata: &mut BTreeMap<String, String>, patch: &MetadataPatch) -> Result<(), AllyError> {
    let sets: BTreeMap<String, String> =
        patch.iter().filter_map(|(k, v)| v.as_ref().map(|v| (k.clone(), v.clone()))).collect();
    check_metadata(&sets)?;
    for (key, value) in patch {
        match value {
            Some(value) => metadata.insert(key.clone(), value.clone()),
            None => metadata.remove(key),
        };
    }
    if metadata.len() > METADATA_MAX_KEYS {
        return Err(AllyError::validation(format!("metadata holds at most {METADATA_MAX_KEYS} keys")));
    }
    Ok(())
}
