//! Test data and invariant checks: typed values from plain strings, actors, funded
//! resellers, what a reseller holds, the ledger invariant.

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

/// Onboards `user_id` at `tier` (by an admin) and tops the wallet up to `balance`.
pub async fn reseller_with<S: Store>(ally: &Ally<S>, user_id: &str, tier: Tier, balance: i64) -> Reseller {
    onboarded(ally, user_id, tier, None).await;
    if balance > 0 {
        let credit = CreditRequest { amount: balance, reason: Some(note("opening balance")) };
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
