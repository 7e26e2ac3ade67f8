//! Test data and invariant checks: typed values from plain strings, actors, funded
//! resellers, what a reseller holds, the ledger invariant.

use std::collections::BTreeMap;

use ally::Ally;
use ally::domain::{
    CallerKey, ClientName, CompanyName, Email, EntryKind, HoldStatus, IdempotencyKey, LedgerEntry, MetadataKey, Note,
    RefId, Reseller, Tier, UserId,
};
use ally::service::{Actor, CreditRequest, NewReseller};
use ally::store::{PageRequest, Store};

/// A user id (tests name users with plain strings).
pub fn uid(user_id: &str) -> UserId {
    UserId::parse(user_id).expect("a valid user id")
}

/// A refid as a test got it from an answer.
pub fn rid(refid: &str) -> RefId {
    RefId::parse(refid).expect("a valid refid")
}

/// A partner's own idempotency key, as the HTTP layer makes it of the header.
pub fn ikey(raw: &str) -> IdempotencyKey {
    IdempotencyKey::caller(&CallerKey::parse(raw).expect("a valid key"))
}

/// A client's name.
pub fn cname(name: &str) -> ClientName {
    ClientName::parse(name).expect("a valid client name")
}

/// An email address.
pub fn email(address: &str) -> Email {
    Email::parse(address).expect("a valid email address")
}

/// A metadata key.
pub fn mkey(name: &str) -> MetadataKey {
    MetadataKey::parse(name).expect("a valid metadata key")
}

/// A reason or description.
pub fn note(text: &str) -> Note {
    Note::parse(text).expect("a valid note")
}

/// A company name.
pub fn company(name: &str) -> CompanyName {
    CompanyName::parse(name).expect("a valid company name")
}

/// A signed-in partner.
pub fn partner(user_id: &str) -> Actor {
    Actor { user_id: uid(user_id), email: Some(format!("{user_id}@partners.example")), admin: false }
}

/// An admin.
pub fn admin() -> Actor {
    Actor { user_id: uid("admin-1"), email: Some("admin@ally.example".into()), admin: true }
}

/// Sleeps until just after `at` (now when none): for credit made to expire a few seconds
/// ahead, however long the writes before took.
pub async fn sleep_past(at: Option<chrono::DateTime<chrono::Utc>>) {
    let left = at.map_or(std::time::Duration::ZERO, |at| (at - chrono::Utc::now()).to_std().unwrap_or_default());
    tokio::time::sleep(left + std::time::Duration::from_millis(100)).await;
}

/// Onboards `user_id` at `tier` by an admin, with `email` for its notices.
pub async fn onboarded<S: Store>(ally: &Ally<S>, user_id: &str, tier: Tier, email: Option<&str>) -> Reseller {
    let request = NewReseller {
        tier: Some(tier),
        user_id: Some(uid(user_id)),
        email: email.map(self::email),
        ..NewReseller::new(company(&format!("{user_id} Ltd")))
    };
    ally.onboard(&admin(), request).await.expect("onboard")
}

/// A standard reseller `child` holding `balance`, hung under `parent`; its refid.
pub async fn child_of<S: Store>(ally: &Ally<S>, child: &str, parent: &RefId, balance: i64) -> RefId {
    let refid = reseller_with(ally, child, Tier::Standard, balance).await.refid;
    let patch = ally::service::ResellerPatch { parent_refid: Some(Some(parent.clone())), ..Default::default() };
    ally.update_reseller(&refid, patch).await.expect("hung under its parent");
    refid
}

/// Onboards `user_id` at `tier` (by an admin) and tops the wallet up to `balance`.
pub async fn reseller_with<S: Store>(ally: &Ally<S>, user_id: &str, tier: Tier, balance: i64) -> Reseller {
    onboarded(ally, user_id, tier, None).await;
    if balance > 0 {
        let credit =
            CreditRequest { amount: balance, reason: Some(note("opening balance")), ..CreditRequest::default() };
        ally.add_credits(
            &uid(user_id),
            credit,
            ally::domain::EntryKind::Credit,
            "admin-1",
            &ikey(&format!("open-{user_id}")),
        )
        .await
        .expect("opening credit");
    }
    ally.find_by_user(&uid(user_id)).await.expect("reseller")
}

/// Every ledger entry of `user_id`, walking all pages.
pub async fn all_entries<S: Store>(ally: &Ally<S>, user_id: &str) -> Vec<LedgerEntry> {
    let mut out = Vec::new();
    let mut page = PageRequest::first(100);
    loop {
        let p = ally.ledger(&uid(user_id), &page).await.expect("ledger");
        out.extend(p.items);
        match p.next_cursor {
            Some(c) => page.cursor = Some(c),
            None => return out,
        }
    }
}

/// Checks the ledger invariant: the entries sum to the balance, which is never negative.
pub async fn assert_ledger_matches_balance<S: Store>(ally: &Ally<S>, user_id: &str) {
    let r = ally.find_by_user(&uid(user_id)).await.expect("reseller");
    let entries = all_entries(ally, user_id).await;
    let sum: i64 = entries.iter().map(|e| e.delta()).sum();
    assert!(r.balance >= 0, "balance went negative: {}", r.balance);
    assert_eq!(sum, r.balance, "ledger sum != balance for {user_id}");
    // Debt is what was reversed but not taken from the balance, less what was repaid.
    let of = |kind: EntryKind| entries.iter().filter(|e| e.kind == kind).map(|e| e.amount).sum::<i64>();
    let reversed: i64 = entries.iter().map(|e| e.reversed).sum();
    assert_eq!(r.debt, reversed - of(EntryKind::Reversal) - of(EntryKind::DebtRepayment), "debt of {user_id}");
    assert!(r.debt >= 0, "debt went negative for {user_id}");
    // The reserve is what the holds not yet closed reserve, and never more than the balance.
    let mut reserved = 0;
    let mut page = PageRequest::first(100);
    loop {
        let p = ally.store().holds(&uid(user_id), &page).await.expect("holds");
        reserved += p.items.iter().filter(|h| h.status == HoldStatus::Active).map(|h| h.amount).sum::<i64>();
        match p.next_cursor {
            Some(c) => page.cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(r.held, reserved, "held != the active holds of {user_id}");
    assert!(r.available() >= 0, "available went negative for {user_id}: {r:?}");
    assert_lots_match_ledger(ally, user_id, &r, &entries).await;
}

/// The lots sum to the balance and their reservations to `held`; what the ledger moved in
/// and out of each lot is what is left of it; no spend drew from a lot expired at the time
/// (a capture at the time its hold reserved it); a lot expires at most once.
async fn assert_lots_match_ledger<S: Store>(ally: &Ally<S>, user_id: &str, r: &Reseller, entries: &[LedgerEntry]) {
    assert_eq!(r.lots.total(), r.balance, "lots != balance for {user_id}: {:?}", r.lots);
    assert_eq!(r.lots.iter().map(|l| l.reserved).sum::<i64>(), r.held, "lot reservations != held for {user_id}");
    let mut moved: BTreeMap<&str, i64> = BTreeMap::new();
    let mut expiries: BTreeMap<&str, usize> = BTreeMap::new();
    for e in entries {
        for d in &e.lots {
            *moved.entry(d.lot.as_str()).or_default() += e.kind.sign() * d.amount;
        }
        if e.kind == EntryKind::Expiry {
            for d in &e.lots {
                *expiries.entry(d.lot.as_str()).or_default() += 1;
            }
        }
    }
    assert!(expiries.values().all(|n| *n == 1), "a lot expired twice for {user_id}: {expiries:?}");
    for (lot, sum) in &moved {
        let left = r.lots.get(lot).map_or(0, |l| l.remaining);
        assert_eq!(*sum, left, "the ledger's moves of lot {lot} != what is left of it for {user_id}");
    }
    let mut lots = BTreeMap::new();
    let mut page = PageRequest::first(100);
    loop {
        let p = ally.store().lots(&uid(user_id), &page).await.expect("lots");
        lots.extend(p.items.into_iter().map(|l| (l.id.clone(), l)));
        match p.next_cursor {
            Some(c) => page.cursor = Some(c),
            None => break,
        }
    }
    for e in entries.iter().filter(|e| e.kind == EntryKind::Debit) {
        let decided = match e.reason.as_deref().and_then(|r| r.strip_prefix("capture of hold ")) {
            Some(hold) => {
                ally.store().hold(&uid(user_id), hold).await.expect("hold").expect("captured hold").created_at
            }
            None => e.created_at,
        };
        for d in &e.lots {
            let expires_at = lots.get(&d.lot).and_then(|l| l.expires_at);
            assert!(
                expires_at.is_none_or(|at| at > decided),
                "{} drew from lot {} expired at {expires_at:?}",
                e.id,
                d.lot
            );
        }
    }
}

/// Everything a reseller owns, to show that a refused or replayed request changed nothing.
#[derive(Debug, PartialEq)]
pub struct Holdings {
    pub reseller: Reseller,
    pub ledger: usize,
    pub services: usize,
    pub clients: usize,
}

/// What `user_id` holds now.
pub async fn holdings<S: Store>(ally: &Ally<S>, user_id: &str) -> Holdings {
    let page = PageRequest::first(100);
    Holdings {
        reseller: ally.find_by_user(&uid(user_id)).await.expect("reseller"),
        ledger: all_entries(ally, user_id).await.len(),
        services: ally.store().services(&uid(user_id), &page).await.expect("services").items.len(),
        clients: ally.store().clients(&uid(user_id), &page).await.expect("clients").items.len(),
    }
}

/// A clock a test moves by hand: the system's time plus what the test advanced it by.
#[derive(Clone, Default)]
pub struct Hands(std::sync::Arc<std::sync::atomic::AtomicI64>);

impl Hands {
    /// The clock to give [`Ally::with_clock`].
    pub fn clock(&self) -> ally::service::Clock {
        let offset = self.0.clone();
        std::sync::Arc::new(move || {
            chrono::Utc::now() + chrono::Duration::milliseconds(offset.load(std::sync::atomic::Ordering::SeqCst))
        })
    }

    /// Moves the clock `by` forward.
    pub fn advance(&self, by: chrono::Duration) {
        self.0.fetch_add(by.num_milliseconds(), std::sync::atomic::Ordering::SeqCst);
    }
}

/// A store like `store` whose first bulk fill dies: on the memory store half way through its
/// items, on DynamoDB at its first batch write (refused at the SDK, nothing written).
pub trait CrashingFill: Sized {
    fn crashing_fill(self) -> impl std::future::Future<Output = Self> + Send;
}

impl CrashingFill for ally::store::memory::MemoryStore {
    async fn crashing_fill(self) -> Self {
        let crashed = std::sync::atomic::AtomicBool::new(false);
        self.with_faults(move |method| match method {
            "put_portfolio" if !crashed.swap(true, std::sync::atomic::Ordering::SeqCst) => {
                ally::store::memory::Fault::HalfThenFail
            }
            _ => ally::store::memory::Fault::Proceed,
        })
    }
}

impl CrashingFill for ally::store::dynamo::DynamoStore {
    async fn crashing_fill(self) -> Self {
        let calls = crate::sdk::SdkCalls::default();
        calls.refuse("BatchWriteItem", "ValidationException", 1);
        calls.store_on(self.table())
    }
}

/// Ally on `store` with the default configuration.
pub fn ally_on<S: Store>(store: S) -> Ally<S> {
    Ally::new(store, ally::Config::default())
}

/// A credit of `amount`, with no reason given.
pub fn credit(amount: i64) -> ally::service::CreditRequest {
    ally::service::CreditRequest { amount, ..ally::service::CreditRequest::default() }
}

/// A spend of `cost` credits at a custom price, for no client.
pub fn spend(cost: i64) -> ally::service::ProvisionRequest {
    ally::service::ProvisionRequest { cost: Some(cost), ..ally::service::ProvisionRequest::default() }
}
