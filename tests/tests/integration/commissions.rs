//! Commissions: a sub-reseller's spend accrues its parent's share on the spender's own
//! counters and never writes the parent's wallet; once the day is over, the sweeper pays
//! each parent one entry for the day, exactly once; on both stores.

use ally::domain::{EntryKind, LotKind, Tier};
use ally::service::{CreditRequest, ResellerPatch};
use ally::store::Store;
use ally::{Ally, Config};
use ally_tests::{
    Hands, all_entries, assert_ledger_matches_balance, child_of, ikey, on_both_stores, reseller_with, uid,
};
use ally_tests::{credit, spend};

/// Past the day's end and the settlement's grace.
fn next_day() -> chrono::Duration {
    chrono::Duration::days(1) + chrono::Duration::minutes(20)
}

async fn a_parent_is_paid_once_a_day_and_its_wallet_is_not_written_by_its_childrens_spends<S: Store>(store: S) {
    let hands = Hands::default();
    let config = Config { commissions: "gold=10,platinum=0".parse().unwrap(), ..Config::default() };
    let ally = Ally::new(store, config).with_clock(hands.clock());
    let gold = reseller_with(&ally, "gold", Tier::Gold, 0).await;
    let platinum = reseller_with(&ally, "platinum", Tier::Platinum, 0).await.refid;
    let a = child_of(&ally, "a", &gold.refid, 5_000).await;
    let b = child_of(&ally, "b", &gold.refid, 5_000).await;
    child_of(&ally, "other", &platinum, 5_000).await;
    let before = ally.find_by_user(&uid("gold")).await.unwrap().version;
    for (user, cost, key) in [("a", 1_005, "a-1"), ("a", 995, "a-2"), ("b", 500, "b-1"), ("other", 1_000, "o-1")] {
        ally.provision(&uid(user), spend(cost), &ikey(key)).await.unwrap();
    }
    // A retried spend accrues nothing more.
    ally.provision(&uid("a"), spend(1_005), &ikey("a-1")).await.unwrap();
    let parent = ally.find_by_user(&uid("gold")).await.unwrap();
    assert_eq!(parent.version, before, "the children's spends never wrote the parent's wallet");
    ally::events::handlers::sweep(&ally).await.unwrap();
    assert_eq!(ally.find_by_user(&uid("gold")).await.unwrap().balance, 0, "the day is not over");

    hands.advance(next_day());
    let swept = ally::events::handlers::sweep(&ally).await.unwrap();
    assert_eq!(swept.commissions_settled, 1, "one parent earned: platinum's rate is 0 %");
    ally::events::handlers::sweep(&ally).await.unwrap();
    let entries = all_entries(&ally, "gold").await;
    let commissions: Vec<_> = entries.iter().filter(|e| e.kind == EntryKind::Commission).collect();
    assert_eq!(commissions.len(), 1, "one entry for the day, however often the sweeper runs");
    assert_eq!(commissions[0].amount, 250, "10 % of the 2,500 spent");
    let reason = commissions[0].reason.clone().unwrap_or_default();
    let day = (hands.clock())() - next_day();
    for named in [a.as_str(), b.as_str(), "3 spends", "2500 credits", &day.date_naive().to_string()] {
        assert!(reason.contains(named), "the entry names what it covers ({named}): {reason}");
    }
    assert_eq!(ally.find_by_user(&uid("platinum")).await.unwrap().balance, 0);
    assert_ledger_matches_balance(&ally, "gold").await;
}

/// A spend accrues for the parent the tree names at the spend: a child that moves earns
/// its new parent what it spends after the move, and its old one what it spent before.
async fn a_move_splits_the_day_between_the_old_and_the_new_parent<S: Store>(store: S) {
    let hands = Hands::default();
    let config = Config { commissions: "10".parse().unwrap(), ..Config::default() };
    let ally = Ally::new(store, config).with_clock(hands.clock());
    let first = reseller_with(&ally, "first", Tier::Standard, 0).await.refid;
    let second = reseller_with(&ally, "second", Tier::Standard, 0).await.refid;
    let child = child_of(&ally, "child", &first, 5_000).await;
    ally.provision(&uid("child"), spend(1_000), &ikey("before")).await.unwrap();
    let patch = ResellerPatch { parent_refid: Some(Some(second)), ..ResellerPatch::default() };
    ally.update_reseller(&child, patch).await.unwrap();
    ally.provision(&uid("child"), spend(3_000), &ikey("after")).await.unwrap();
    hands.advance(next_day());
    ally::events::handlers::sweep(&ally).await.unwrap();
    assert_eq!(ally.find_by_user(&uid("first")).await.unwrap().balance, 100);
    assert_eq!(ally.find_by_user(&uid("second")).await.unwrap().balance, 300);
}

/// A commission earned on promotional credit is promotional: a grant spent below never
/// comes back up the tree as paid credit.
async fn a_commission_on_promotional_credit_is_promotional<S: Store>(store: S) {
    let hands = Hands::default();
    let config = Config { commissions: "gold=10".parse().unwrap(), ..Config::default() };
    let ally = Ally::new(store, config).with_clock(hands.clock());
    let gold = reseller_with(&ally, "gold", Tier::Gold, 0).await.refid;
    child_of(&ally, "child", &gold, 600).await;
    let grant = CreditRequest { amount: 400, promotional: true, ..CreditRequest::default() };
    ally.add_credits(&uid("child"), grant, EntryKind::Credit, "admin", &ikey("grant")).await.unwrap();
    // 1,000 spent: the 400 promotional first, then 600 paid.
    ally.provision(&uid("child"), spend(1_000), &ikey("buy")).await.unwrap();
    hands.advance(next_day());
    ally::events::handlers::sweep(&ally).await.unwrap();
    ally::events::handlers::sweep(&ally).await.unwrap();
    let parent = ally.find_by_user(&uid("gold")).await.unwrap();
    let mut lots: Vec<_> = parent.lots.iter().map(|l| (l.kind, l.remaining)).collect();
    lots.sort_by_key(|(kind, _)| *kind == LotKind::Paid);
    assert_eq!(
        lots,
        [(LotKind::Promotional, 40), (LotKind::Paid, 60)],
        "100 earned: 40 on the grant, 60 on paid credit"
    );
    assert_ledger_matches_balance(&ally, "gold").await;
}

/// A day's commission above the most one credit may be is paid in several entries of the
/// day, never dropped.
async fn a_commission_above_the_largest_credit_is_paid_in_parts<S: Store>(store: S) {
    let hands = Hands::default();
    let config = Config { commissions: "gold=10".parse().unwrap(), max_credit_amount: 60, ..Config::default() };
    let ally = Ally::new(store, config).with_clock(hands.clock());
    reseller_with(&ally, "gold", Tier::Gold, 0).await;
    let gold = ally.find_by_user(&uid("gold")).await.unwrap().refid;
    child_of(&ally, "child", &gold, 0).await;
    for i in 0..50 {
        let credit = credit(50);
        ally.add_credits(&uid("child"), credit, EntryKind::Credit, "admin", &ikey(&format!("c-{i}"))).await.unwrap();
    }
    for i in 0..50 {
        ally.provision(&uid("child"), spend(50), &ikey(&format!("buy-{i}"))).await.unwrap();
    }
    hands.advance(next_day());
    ally::events::handlers::sweep(&ally).await.unwrap();
    ally::events::handlers::sweep(&ally).await.unwrap();
    let mut parts: Vec<i64> =
        all_entries(&ally, "gold").await.iter().filter(|e| e.kind == EntryKind::Commission).map(|e| e.amount).collect();
    parts.sort_unstable();
    assert_eq!(parts, [10, 60, 60, 60, 60], "250 earned on 2,500 spent, in parts of at most 60");
    assert_ledger_matches_balance(&ally, "gold").await;
}

on_both_stores!(
    a_commission_above_the_largest_credit_is_paid_in_parts,
    a_parent_is_paid_once_a_day_and_its_wallet_is_not_written_by_its_childrens_spends,
    a_move_splits_the_day_between_the_old_and_the_new_parent,
    a_commission_on_promotional_credit_is_promotional,
);
