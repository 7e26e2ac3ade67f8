//! Credit lots: paid and promotional credit, spent in one fixed order, expired
//! credit never spendable even before the job runs, each expiry written once however many
//! jobs and spends race it; on both stores. Past the few lots the wallet item carries, the
//! others wait in items beside it, and every path reads and writes them whole.

use ally::Ally;
use ally::domain::{AllyError, EntryKind, LOTS_ON_WALLET, LotKind, MAX_OPEN_LOTS, Tier, TopUpRule};
use ally::service::{BulkRequest, BulkState, CaptureRequest, CreditRequest, HoldRequest, NewClient, ReversalRequest};
use ally::store::dynamo::DynamoStore;
use ally::store::{PageRequest, Store, keys};
use ally_tests::items::item_size;
use ally_tests::{
    all_entries, assert_ledger_matches_balance, cname, ikey, note, on_both_stores, reseller_with, sleep_past, uid,
};
use ally_tests::{ally_on, spend};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::Utc;

type Item = std::collections::HashMap<String, AttributeValue>;

/// A credit of `amount`, promotional or paid, expiring `in_s` seconds from now.
fn grant(amount: i64, promotional: bool, in_s: Option<i64>) -> CreditRequest {
    CreditRequest {
        amount,
        reason: Some(note("grant")),
        promotional,
        expires_at: in_s.map(|s| Utc::now() + chrono::Duration::seconds(s)),
        top_up_request: None,
    }
}

fn hold_of(cost: i64) -> HoldRequest {
    HoldRequest { cost: Some(cost), ..HoldRequest::default() }
}

/// Drawn lots of an entry as (lot, amount).
fn drawn(entry: &ally::domain::LedgerEntry) -> Vec<(String, i64)> {
    entry.lots.iter().map(|d| (d.lot.clone(), d.amount)).collect()
}

async fn credit<S: Store>(ally: &Ally<S>, user: &str, request: CreditRequest, key: &str) -> String {
    let receipt = ally.add_credits(&uid(user), request, EntryKind::Credit, "admin", &ikey(key)).await.unwrap();
    receipt.transaction.lots[0].lot.clone()
}

async fn spending_draws_earliest_expiry_then_promotional_then_oldest<S: Store>(store: S) {
    let ally = ally_on(store);
    reseller_with(&ally, "p", Tier::Standard, 1_000).await;
    let paid = ally.find_by_user(&uid("p")).await.unwrap().lots.iter().next().unwrap().id.clone();
    let promo_10d = credit(&ally, "p", grant(300, true, Some(10 * 86_400)), "g1").await;
    let promo = credit(&ally, "p", grant(200, true, None), "g2").await;
    let paid_5d = credit(&ally, "p", grant(100, false, Some(5 * 86_400)), "g3").await;
    let r = ally.find_by_user(&uid("p")).await.unwrap();
    assert_eq!((r.balance, r.expiring_30d(Utc::now())), (1_600, 400));

    let bought = ally.provision(&uid("p"), spend(450), &ikey("buy")).await.unwrap();
    assert_eq!(drawn(&bought.transaction), [(paid_5d.clone(), 100), (promo_10d.clone(), 300), (promo.clone(), 50)]);
    let replay = ally.provision(&uid("p"), spend(450), &ikey("buy")).await.unwrap();
    assert_eq!(replay, bought, "a retry draws nothing again");

    let listed = ally.lots(&uid("p"), &PageRequest::first(10)).await.unwrap();
    let left: Vec<_> = listed.items.iter().map(|l| (l.id.clone(), l.kind, l.amount, l.remaining)).collect();
    assert_eq!(
        left,
        [
            (paid_5d, LotKind::Paid, 100, 0),
            (promo, LotKind::Promotional, 200, 150),
            (promo_10d, LotKind::Promotional, 300, 0),
            (paid, LotKind::Paid, 1_000, 1_000),
        ],
        "newest first, with what is left of each"
    );
    let past = CreditRequest { expires_at: Some(Utc::now() - chrono::Duration::seconds(1)), ..grant(5, true, None) };
    let refused = ally.add_credits(&uid("p"), past, EntryKind::Credit, "admin", &ikey("g4")).await;
    assert!(matches!(refused, Err(AllyError::Validation(_))), "{refused:?}");
    assert_eq!(ally.find_by_user(&uid("p")).await.unwrap().balance, 1_150, "a refused grant credits nothing");
    assert_ledger_matches_balance(&ally, "p").await;
}

async fn expired_credit_is_never_spendable_and_expires_once<S: Store>(store: S) {
    let ally = ally_on(store);
    reseller_with(&ally, "p", Tier::Standard, 100).await;
    let short = grant(500, true, Some(5));
    let expires_at = short.expires_at;
    let promo = credit(&ally, "p", short, "short").await;
    let early = ally.provision(&uid("p"), spend(50), &ikey("early")).await.unwrap();
    assert_eq!(drawn(&early.transaction), [(promo.clone(), 50)], "expiring credit goes first");
    sleep_past(expires_at).await;

    // The job has not run: the balance still counts the lot, but no spend may take it.
    let refused = ally.provision(&uid("p"), spend(200), &ikey("late")).await.unwrap_err();
    assert!(matches!(refused, AllyError::InsufficientCredits { needed: 200, balance: 100 }), "{refused:?}");
    let refused = ally.place_hold(&uid("p"), hold_of(101), &ikey("h")).await;
    assert!(matches!(refused, Err(AllyError::InsufficientCredits { .. })), "nor a hold");
    assert_eq!(ally.find_by_user(&uid("p")).await.unwrap().balance, 550);

    // Two jobs and a spend at once: the lot expires once, the spend takes paid credit.
    let (owner, racing) = (uid("p"), ikey("racing"));
    let (a, b, bought) =
        tokio::join!(ally.expire_lots(), ally.expire_lots(), ally.provision(&owner, spend(60), &racing));
    assert_eq!(a.unwrap() + b.unwrap(), 1, "one expiry between two jobs");
    assert_eq!(drawn(&bought.unwrap().transaction).iter().map(|d| d.1).sum::<i64>(), 60);
    assert_eq!(ally.expire_lots().await.unwrap(), 0, "a third run finds nothing");
    let entries = all_entries(&ally, "p").await;
    let expiries: Vec<_> = entries.iter().filter(|e| e.kind == EntryKind::Expiry).collect();
    assert_eq!(expiries.len(), 1);
    assert_eq!(drawn(expiries[0]), [(promo.clone(), 450)]);
    let r = ally.find_by_user(&uid("p")).await.unwrap();
    assert_eq!((r.balance, r.available()), (40, 40));
    let listed = ally.lots(&uid("p"), &PageRequest::first(10)).await.unwrap();
    let lot = listed.items.iter().find(|l| l.id == promo).unwrap();
    assert_eq!((lot.remaining, lot.expired), (0, 450));
    assert_ledger_matches_balance(&ally, "p").await;
}

async fn a_hold_keeps_what_it_reserved_of_a_lot_that_expires<S: Store>(store: S) {
    let ally = ally_on(store);
    reseller_with(&ally, "p", Tier::Standard, 100).await;
    let short = grant(300, true, Some(5));
    let expires_at = short.expires_at;
    let promo = credit(&ally, "p", short, "short").await;
    let hold = ally.place_hold(&uid("p"), hold_of(250), &ikey("h")).await.unwrap().hold;
    assert_eq!(hold.lots.iter().map(|d| (d.lot.clone(), d.amount)).collect::<Vec<_>>(), [(promo.clone(), 250)]);
    sleep_past(expires_at).await;

    assert_eq!(ally.expire_lots().await.unwrap(), 0, "a lot a hold still reserves waits for the hold");
    let refused = ally.provision(&uid("p"), spend(101), &ikey("more")).await.unwrap_err();
    assert!(matches!(refused, AllyError::InsufficientCredits { balance: 100, .. }), "{refused:?}");
    let partly = CaptureRequest { amount: Some(200) };
    let captured = ally.capture_hold(&uid("p"), &hold.id, partly, &ikey("cap")).await.unwrap();
    assert_eq!(drawn(&captured.transaction), [(promo.clone(), 200)], "the reservation was the decision");
    assert_eq!(ally.expire_lots().await.unwrap(), 1, "what the hold left expires");
    let r = ally.find_by_user(&uid("p")).await.unwrap();
    assert_eq!((r.balance, r.held), (100, 0));
    assert_ledger_matches_balance(&ally, "p").await;
}

async fn a_reversal_takes_only_credit_of_its_class<S: Store>(store: S) {
    let ally = ally_on(store);
    reseller_with(&ally, "p", Tier::Standard, 1_000).await;
    let granted =
        ally.add_credits(&uid("p"), grant(500, true, None), EntryKind::Credit, "admin", &ikey("g")).await.unwrap();
    let bought = ally.provision(&uid("p"), spend(300), &ikey("buy")).await.unwrap();
    assert_eq!(drawn(&bought.transaction), [(granted.transaction.id.clone(), 300)], "promotional first");
    let reversal =
        ReversalRequest { entry_id: granted.transaction.id.clone(), amount: None, reason: note("granted by mistake") };
    let reversed = ally.reverse(&uid("p"), reversal, "admin", &ikey("rev")).await.unwrap();
    // What is left of the grant is taken; what was spent of it is owed, never taken from
    // the paid credit in its place.
    assert_eq!(drawn(&reversed.transaction), [(granted.transaction.id.clone(), 200)]);
    assert_eq!((reversed.reversed, reversed.debt, reversed.balance), (500, 300, 1_000));
    assert_ledger_matches_balance(&ally, "p").await;
}

/// Promotional grants of `amount`, one lot each, expiring `in_s` seconds from now plus `i`
/// milliseconds (their order), keyed `prefix-i`; their lot ids in the spending order.
async fn grants<S: Store>(ally: &Ally<S>, prefix: &str, n: usize, amount: i64, in_s: i64) -> Vec<String> {
    let expires_at = Utc::now() + chrono::Duration::seconds(in_s);
    let mut ids = Vec::new();
    for i in 0..n {
        let request = CreditRequest {
            expires_at: Some(expires_at + chrono::Duration::milliseconds(i as i64)),
            ..grant(amount, true, None)
        };
        ids.push(credit(ally, "p", request, &format!("{prefix}-{i}")).await);
    }
    ids
}

async fn lots_past_the_wallets_own_are_held_spent_and_expired_in_order<S: Store>(store: S) {
    let ally = ally_on(store);
    reseller_with(&ally, "p", Tier::Standard, 100).await;
    let paid = ally.find_by_user(&uid("p")).await.unwrap().lots.iter().next().unwrap().id.clone();
    let soon = grants(&ally, "soon", 6, 10, 5).await;
    let expires_at = ally.find_by_user(&uid("p")).await.unwrap().lots.get(&soon[5]).unwrap().expires_at;
    let later = grants(&ally, "later", 2, 10, 10 * 86_400).await;
    let r = ally.find_by_user(&uid("p")).await.unwrap();
    let open: Vec<_> = r.lots.iter().map(|l| l.id.clone()).collect();
    assert_eq!(open, [soon.clone(), later.clone(), vec![paid.clone()]].concat(), "read back whole, in order");
    assert_eq!((r.balance, r.expiring_30d(Utc::now())), (180, 80));

    let hold = ally.place_hold(&uid("p"), hold_of(15), &ikey("h")).await.unwrap().hold;
    let bought = ally.provision(&uid("p"), spend(20), &ikey("buy")).await.unwrap();
    assert_eq!(drawn(&bought.transaction), [(soon[1].clone(), 5), (soon[2].clone(), 10), (soon[3].clone(), 5)]);
    sleep_past(expires_at).await;
    assert_eq!(ally.expire_lots().await.unwrap(), 3, "the fourth's rest, the fifth, the sixth: all beside the wallet");
    let r = ally.find_by_user(&uid("p")).await.unwrap();
    assert_eq!((r.balance, r.held, r.spendable(Utc::now())), (135, 15, 120));

    let bought = ally.provision(&uid("p"), spend(115), &ikey("buy-2")).await.unwrap();
    assert_eq!(drawn(&bought.transaction), [(later[0].clone(), 10), (later[1].clone(), 10), (paid.clone(), 95)]);
    let captured = ally.capture_hold(&uid("p"), &hold.id, CaptureRequest::default(), &ikey("cap")).await.unwrap();
    assert_eq!(drawn(&captured.transaction), [(soon[0].clone(), 10), (soon[1].clone(), 5)]);
    let r = ally.find_by_user(&uid("p")).await.unwrap();
    assert_eq!((r.balance, r.held), (5, 0));
    assert_eq!(r.lots.iter().map(|l| (l.id.clone(), l.remaining)).collect::<Vec<_>>(), [(paid, 5)]);
    assert_ledger_matches_balance(&ally, "p").await;
}

async fn a_bulk_that_moves_lots_beside_the_wallet_still_onboards_every_client<S: Store>(store: S) {
    let ally = ally_on(store);
    reseller_with(&ally, "p", Tier::Standard, 0).await;
    grants(&ally, "g", 10, 100, 10 * 86_400).await;
    let clients = (0..60).map(|i| NewClient { name: cname(&format!("client {i}")), email: None }).collect();
    let request = BulkRequest { clients, product: None, cost: Some(10) };
    let receipt = ally.bulk_onboard(&uid("p"), request, &ikey("bulk")).await.unwrap();
    assert_eq!((receipt.state, receipt.total, receipt.balance), (BulkState::Done, 600, 400));
    let listed = ally.clients(&uid("p"), &PageRequest::first(100)).await.unwrap();
    assert_eq!(listed.items.len(), 60, "the clients past the charge's own were filled after it");
    assert_eq!(ally.find_by_user(&uid("p")).await.unwrap().lots.iter().count(), 4, "six drawn whole");
    assert_ledger_matches_balance(&ally, "p").await;
}

on_both_stores!(
    spending_draws_earliest_expiry_then_promotional_then_oldest,
    expired_credit_is_never_spendable_and_expires_once,
    a_hold_keeps_what_it_reserved_of_a_lot_that_expires,
    a_reversal_takes_only_credit_of_its_class,
    lots_past_the_wallets_own_are_held_spent_and_expired_in_order,
    a_bulk_that_moves_lots_beside_the_wallet_still_onboards_every_client,
);

/// The profile item of `user` as stored, and the lots waiting beside it.
async fn stored_wallet(store: &DynamoStore, user: &str) -> (Item, usize) {
    let pk = keys::reseller(&uid(user));
    let key =
        [("pk", pk.clone()), ("sk", keys::PROFILE.to_string())].map(|(k, v)| (k.to_string(), AttributeValue::S(v)));
    let got = store.client().get_item().table_name(store.table()).set_key(Some(key.into())).consistent_read(true);
    let profile = got.send().await.unwrap().item.unwrap();
    let beside = store
        .client()
        .query()
        .table_name(store.table())
        .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
        .expression_attribute_values(":pk", AttributeValue::S(pk))
        .expression_attribute_values(":prefix", AttributeValue::S(keys::LOT_BESIDE_WALLET_PREFIX.into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    (profile, beside.items().len())
}

/// Every money write leaves the wallet item under 1 KB, however many lots are open.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_wallet_item_stays_under_1_kb_however_many_lots_are_open() {
    let store = ally_tests::dynamo_store().await;
    let ally = ally_on(store.clone());
    reseller_with(&ally, "p", Tier::Standard, 100).await;
    // The largest profile the wallet item carries beside its lots: with an auto top-up rule.
    ally.set_auto_top_up(&uid("p"), TopUpRule { below: 10, target: 1_000, monthly_cap: 100_000 }).await.unwrap();
    let mut largest = 0;
    for i in 0..MAX_OPEN_LOTS {
        let request = grant(10, true, Some(86_400 * (i as i64 + 1)));
        credit(&ally, "p", request, &format!("g{i}")).await;
        let (profile, beside) = stored_wallet(&store, "p").await;
        largest = largest.max(item_size(&profile));
        assert_eq!(beside, (i + 2).saturating_sub(LOTS_ON_WALLET), "the lots past the wallet's own wait beside it");
    }
    assert!(largest < 1024, "the wallet item reached {largest} bytes");
    ally.provision(&uid("p"), spend(700), &ikey("all")).await.unwrap();
    let (profile, beside) = stored_wallet(&store, "p").await;
    assert_eq!((beside, profile["lots_beside"].as_n().unwrap().as_str()), (0, "0"), "spent lots leave no item behind");
    assert_eq!(ally.find_by_user(&uid("p")).await.unwrap().balance, 40);
    assert_ledger_matches_balance(&ally, "p").await;
}
