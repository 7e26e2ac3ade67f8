use chrono::{DateTime, Duration, TimeZone, Utc};

use super::*;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
}

fn days(n: i64) -> Option<DateTime<Utc>> {
    Some(t0() + Duration::days(n))
}

fn lots(list: &[(&str, LotKind, i64, Option<DateTime<Utc>>)]) -> Lots {
    let mut lots = Lots::default();
    for (i, (id, kind, amount, expires_at)) in list.iter().enumerate() {
        lots.open(Lot::new(id, *kind, *amount, *expires_at, t0() + Duration::seconds(i as i64)), t0());
    }
    lots
}

fn drawn(draws: &[Draw]) -> Vec<(&str, i64)> {
    draws.iter().map(|d| (d.lot.as_str(), d.amount)).collect()
}

#[test]
fn spending_draws_earliest_expiry_first_promotional_before_paid_then_oldest() {
    use LotKind::{Paid, Promotional};
    let mut wallet = lots(&[
        ("paid-old", Paid, 10, None),
        ("paid-new", Paid, 10, None),
        ("paid-30", Paid, 10, days(30)),
        ("promo-30", Promotional, 10, days(30)),
        ("promo-10", Promotional, 10, days(10)),
        ("promo-none", Promotional, 10, None),
    ]);
    assert_eq!(wallet.get("paid-old").map(|l| l.remaining), Some(20), "paid credit without expiry joins one lot");
    assert_eq!(wallet.iter().count(), 5);
    let draws = wallet.draw(55, t0()).unwrap();
    assert_eq!(
        drawn(&draws),
        [("promo-10", 10), ("promo-30", 10), ("paid-30", 10), ("promo-none", 10), ("paid-old", 15)]
    );
    assert_eq!(wallet.total(), 5);
    assert_eq!(wallet.iter().map(|l| l.id.as_str()).collect::<Vec<_>>(), ["paid-old"]);
}

#[test]
fn expired_credit_is_never_drawn_and_a_short_draw_takes_nothing() {
    let mut wallet = lots(&[("promo", LotKind::Promotional, 50, days(1)), ("paid", LotKind::Paid, 20, None)]);
    let after = t0() + Duration::days(1);
    assert_eq!(wallet.expired_unreserved(after), 50);
    assert_eq!(wallet.draw(30, after), None);
    assert_eq!(wallet.total(), 70, "a refused draw leaves every lot as it was");
    assert_eq!(drawn(&wallet.draw(20, after).unwrap()), [("paid", 20)]);
}

#[test]
fn expiry_takes_what_is_left_once_no_hold_reserves_it() {
    let mut wallet = lots(&[("promo", LotKind::Promotional, 50, days(1)), ("paid", LotKind::Paid, 20, None)]);
    let reserved = wallet.reserve(30, t0()).unwrap();
    assert_eq!(drawn(&reserved), [("promo", 30)]);
    let after = t0() + Duration::days(2);
    assert_eq!(wallet.expire("promo", t0()), None, "not expired yet");
    assert_eq!(wallet.expire("promo", after), None, "a hold still reserves part of it");
    // The hold placed before the expiry still captures from it.
    assert_eq!(drawn(&wallet.capture(&reserved, 25)), [("promo", 25)]);
    let expired = wallet.expire("promo", after).unwrap();
    assert_eq!(expired.amount, 25);
    assert_eq!(wallet.total(), 20);
    assert_eq!(wallet.expire("promo", after), None, "a lot expires once");
}

#[test]
fn a_void_gives_back_exactly_what_was_reserved() {
    let mut wallet = lots(&[("a", LotKind::Paid, 10, None), ("b", LotKind::Paid, 10, None)]);
    let reserved = wallet.reserve(15, t0()).unwrap();
    assert_eq!(wallet.draw(6, t0()), None, "only 5 is left unreserved");
    wallet.release(&reserved);
    assert_eq!(wallet.iter().map(|l| l.reserved).sum::<i64>(), 0);
    assert_eq!(wallet.total(), 20);
}

#[test]
fn a_reversal_takes_only_credit_of_its_class_even_when_expired() {
    let mut wallet = lots(&[
        ("paid", LotKind::Paid, 100, None),
        ("paid-2", LotKind::Paid, 30, None),
        ("promo", LotKind::Promotional, 40, days(1)),
    ]);
    assert_eq!(wallet.reversible(LotKind::Promotional, days(1)), 40, "expired or not, and never the paid lots");
    assert_eq!(wallet.reversible(LotKind::Paid, None), 130, "paid credit without an expiry is one class");
    wallet.reserve(10, t0()).unwrap();
    assert_eq!(wallet.reversible(LotKind::Promotional, days(1)), 30, "what a hold reserves is not taken");
    assert_eq!(drawn(&wallet.take_back(LotKind::Promotional, days(1), 30).unwrap()), [("promo", 30)]);
    assert_eq!(wallet.take_back(LotKind::Promotional, days(1), 1), None);
    assert_eq!(wallet.total(), 140);
}

#[test]
fn past_the_bound_a_credit_joins_its_class_and_never_revives_or_stretches_expired_credit() {
    let mut wallet = Lots::default();
    for i in 0..MAX_OPEN_LOTS {
        let at = Some(t0() + Duration::days(i as i64 + 1) + Duration::hours(1));
        wallet.open(Lot::new(&format!("promo-{i:03}"), LotKind::Promotional, 1, at, t0()), t0());
    }
    // Same kind, same expiry day: it joins, and the lot ends at the later time of that day.
    let later_that_day = Some(t0() + Duration::days(3) + Duration::hours(5));
    let joined = wallet.open(Lot::new("late", LotKind::Promotional, 5, later_that_day, t0()), t0());
    assert_eq!((joined.id.as_str(), joined.amount, joined.expires_at), ("promo-002", 6, later_that_day));
    assert_eq!(wallet.iter().count(), MAX_OPEN_LOTS);
    // Its day's lot has expired: a credit never joins it, and the expired credit stays expired.
    let after = t0() + Duration::days(1) + Duration::hours(2);
    let fresh =
        wallet.open(Lot::new("fresh", LotKind::Promotional, 5, days(1).map(|d| d + Duration::hours(23)), after), after);
    assert_eq!(fresh.id, "fresh");
    assert_eq!(wallet.expired_unreserved(after), 1, "promo-000 is still expired");
    // Paid credit without expiry joins the paid lot without expiry, never an expiring one.
    let paid = wallet.open(Lot::new("paid", LotKind::Paid, 7, None, t0()), t0());
    let again = wallet.open(Lot::new("paid-2", LotKind::Paid, 3, None, t0()), t0());
    assert_eq!((paid.id.as_str(), again.id.as_str(), again.amount, again.expires_at), ("paid", "paid", 10, None));
}

/// The lots as a store keeps them and reads them back: the first on the wallet, the others
/// beside it.
fn stored(lots: &Lots) -> Lots {
    let mut read = Lots { open: lots.on_wallet().to_vec(), beside: Vec::new() };
    read.read_beside(lots.open[lots.on_wallet().len()..].to_vec());
    read
}

fn ids<'a>(lots: impl IntoIterator<Item = &'a Lot>) -> Vec<&'a str> {
    lots.into_iter().map(|l| l.id.as_str()).collect()
}

#[test]
fn the_first_lots_ride_on_the_wallet_and_a_write_moves_only_what_changed_beside_it() {
    use LotKind::{Paid, Promotional};
    let wallet = lots(&[
        ("d1", Promotional, 10, days(1)),
        ("d2", Promotional, 10, days(2)),
        ("d3", Promotional, 10, days(3)),
        ("d4", Promotional, 10, days(4)),
        ("d5", Promotional, 10, days(5)),
        ("d6", Promotional, 10, days(6)),
        ("paid", Paid, 100, None),
    ]);
    assert_eq!(ids(wallet.on_wallet()), ["d1", "d2"]);
    assert_eq!(wallet.beside_count(), 5);
    // Read from a wallet that carried them all (before lots waited beside it): all five move.
    let first = wallet.beside_changes();
    assert_eq!((ids(first.put), first.delete), (vec!["d3", "d4", "d5", "d6", "paid"], Vec::<&str>::new()));

    let read = stored(&wallet);
    assert_eq!(read, wallet, "read back whole, in the spending order");
    assert_eq!(read.beside_changes(), BesideChanges::default(), "nothing moved, nothing written beside");

    // A spend of the wallet's lots: one closes, the first lot beside it moves onto the wallet.
    let mut spent = read.clone();
    assert_eq!(drawn(&spent.draw(15, t0()).unwrap()), [("d1", 10), ("d2", 5)]);
    let changes = spent.beside_changes();
    assert_eq!((ids(changes.put), changes.delete), (vec![], vec!["d3"]));

    // A spend past the wallet's lots draws those beside it in order, and writes them.
    let mut deep = read.clone();
    assert_eq!(deep.draw(55, t0()).unwrap().len(), 6);
    assert_eq!(ids(deep.on_wallet()), ["d6", "paid"]);
    let changes = deep.beside_changes();
    assert_eq!((ids(changes.put), changes.delete), (vec![], vec!["d3", "d4", "d5", "d6", "paid"]));

    // An earlier lot pushes the wallet's last lot beside it; a reservation of a lot beside
    // it rewrites that lot.
    let mut granted = read.clone();
    granted.open(Lot::new("d0", Promotional, 10, Some(t0() + Duration::hours(12)), t0()), t0());
    let changes = granted.beside_changes();
    assert_eq!((ids(changes.put), changes.delete), (vec!["d2"], vec![]));
    let mut held = read;
    held.reserve(45, t0()).unwrap();
    let changes = held.beside_changes();
    assert_eq!((ids(changes.put), changes.delete), (vec!["d3", "d4", "d5"], vec![]));
}
