//! Growth (upgrade candidates): the partners below platinum whose acquisitions in
//! a month reach the threshold, with the tier to offer; on both stores.

use ally::domain::Tier;
use ally::service::NewClient;
use ally::store::Store;
use ally::{Ally, Config};
use ally_tests::{cname, on_both_stores, reseller_with, uid};

async fn partners_with_enough_acquisitions_are_offered_the_next_tier<S: Store>(store: S) {
    let ally = Ally::new(store, Config { upgrade_acquisitions: 3, ..Config::default() });
    for (user, tier, clients) in [
        ("standard-3", Tier::Standard, 3),
        ("gold-4", Tier::Gold, 4),
        ("platinum-5", Tier::Platinum, 5),
        ("standard-2", Tier::Standard, 2),
    ] {
        reseller_with(&ally, user, tier, 0).await;
        for i in 0..clients {
            let client = NewClient { name: cname(&format!("Client {i}")), email: None };
            ally.onboard_client(&uid(user), client).await.unwrap();
        }
    }
    let month = chrono::Utc::now().date_naive();
    let offered: Vec<_> = ally
        .upgrade_candidates(month)
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.company.as_str().to_string(), c.tier, c.suggested_tier, c.acquisitions))
        .collect();
    assert_eq!(
        offered,
        [
            ("gold-4 Ltd".to_string(), Tier::Gold, Tier::Platinum, 4),
            ("standard-3 Ltd".to_string(), Tier::Standard, Tier::Gold, 3)
        ],
        "most acquisitions first; platinum has nothing to be offered, two clients are too few"
    );
    let last_year = month - chrono::Duration::days(400);
    assert!(ally.upgrade_candidates(last_year).await.unwrap().is_empty(), "another month counts its own");
}

/// Alerts through the API: the network's threshold until a partner sets its own; a refused
/// set changes nothing.
async fn a_partner_sets_its_alerts_and_bad_ones_change_nothing<S: Store>(store: S) {
    let api = ally_tests::TestApi::new(store, Config::default());
    let (token, _) = api.partner("alerted", "standard", 0).await;
    let default = api.call("GET", "/resellers/me/alerts", Some(&token), None).await;
    assert_eq!(default.body, serde_json::json!({"thresholds": [500]}), "the network's low-credit threshold");
    let set = serde_json::json!({"thresholds": [2_000, 300], "runway_days": 14});
    let saved = api.call("PUT", "/resellers/me/alerts", Some(&token), Some(set.clone())).await;
    assert_eq!((saved.status, saved.body.clone()), (200, set.clone()));
    for bad in [
        serde_json::json!({"thresholds": [1, 2, 3, 4, 5, 6]}),
        serde_json::json!({"thresholds": [-1]}),
        serde_json::json!({"thresholds": [100], "runway_days": 0}),
        serde_json::json!({"thresholds": [100], "colour": "red"}),
    ] {
        let refused = api.call("PUT", "/resellers/me/alerts", Some(&token), Some(bad.clone())).await;
        ally_tests::assert_problem(&refused, 422, "validation_failed", "");
    }
    assert_eq!(api.call("GET", "/resellers/me/alerts", Some(&token), None).await.body, set, "unchanged");
}

on_both_stores!(
    partners_with_enough_acquisitions_are_offered_the_next_tier,
    a_partner_sets_its_alerts_and_bad_ones_change_nothing,
);
