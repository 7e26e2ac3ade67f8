//! Whitelabel metadata: a partner's patch is one update when the size bound its
//! item keeps shows it fits, and merged exactly from what that update found otherwise, so
//! the 8 KiB limit holds to the byte on both stores, and racing patches of different keys
//! each land.

use ally_tests::ally_on;
use std::collections::BTreeMap;
use std::sync::Arc;

use ally::domain::{AllyError, METADATA_MAX_BYTES, MetadataPatch, MetadataValue, Tier, metadata_bytes};
use ally::store::{Store, keys};
use ally_tests::sdk::SdkCalls;
use ally_tests::{holdings, mkey, on_both_stores, reseller_with, uid};
use aws_sdk_dynamodb::types::AttributeValue;

fn text(value: &str) -> MetadataValue {
    MetadataValue::Text(value.into())
}

fn set(key: &str, value: &str) -> MetadataPatch {
    [(mkey(key), Some(text(value)))].into()
}

async fn the_limit_holds_to_the_byte_however_values_are_replaced<S: Store>(store: S) {
    let ally = ally_on(store);
    reseller_with(&ally, "p", Tier::Standard, 0).await;
    // Replacing 7,000 bytes with 7,500: the two together are past the limit, the result is not.
    ally.update_own_metadata(&uid("p"), set("banner", &"a".repeat(7_000))).await.unwrap();
    let replaced = ally.update_own_metadata(&uid("p"), set("banner", &"b".repeat(7_500))).await.unwrap();
    assert_eq!(replaced.metadata, BTreeMap::from([("banner".to_string(), text(&"b".repeat(7_500)))]));
    // Filled to exactly the limit (`,"pad":"..."` adds 9 bytes besides the value).
    let room = METADATA_MAX_BYTES - metadata_bytes(&replaced.metadata) - 9;
    let full = ally.update_own_metadata(&uid("p"), set("pad", &"c".repeat(room))).await.unwrap();
    assert_eq!(metadata_bytes(&full.metadata), METADATA_MAX_BYTES);
    // A byte more is refused and changes nothing.
    let before = holdings(&ally, "p").await;
    let over = ally.update_own_metadata(&uid("p"), set("x", "")).await;
    assert!(matches!(over, Err(AllyError::TooLarge(_))), "{over:?}");
    assert_eq!(holdings(&ally, "p").await, before);
    assert_eq!(ally.find_by_user(&uid("p")).await.unwrap().metadata, full.metadata);
    // Removing a key makes room again.
    let removed = ally.update_own_metadata(&uid("p"), [(mkey("banner"), None)].into()).await.unwrap();
    assert_eq!(removed.metadata.keys().collect::<Vec<_>>(), ["pad"]);
    ally.update_own_metadata(&uid("p"), set("x", "y")).await.unwrap();
}

async fn a_value_replaced_many_times_lands_every_time<S: Store>(store: S) {
    let ally = ally_on(store);
    reseller_with(&ally, "p", Tier::Standard, 0).await;
    // Each replacement grows the bound by the whole value: past the limit, an exact merge
    // writes it and sets the bound back to the size.
    for i in 0..20 {
        let logo = format!("{i:04}").repeat(250);
        let answer = ally.update_own_metadata(&uid("p"), set("logo", &logo)).await.unwrap();
        assert_eq!(answer.metadata["logo"], text(&logo), "replacement {i}");
    }
    let stored = ally.find_by_user(&uid("p")).await.unwrap().metadata;
    assert_eq!(stored, BTreeMap::from([("logo".to_string(), text(&"0019".repeat(250)))]));
}

async fn racing_patches_of_different_keys_all_land<S: Store>(store: S) {
    let ally = Arc::new(ally_on(store));
    reseller_with(&ally, "p", Tier::Standard, 0).await;
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let ally = ally.clone();
            tokio::spawn(async move { ally.update_own_metadata(&uid("p"), set(&format!("k{i}"), "v")).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(ally.find_by_user(&uid("p")).await.unwrap().metadata.len(), 20);
}

on_both_stores!(
    the_limit_holds_to_the_byte_however_values_are_replaced,
    a_value_replaced_many_times_lands_every_time,
    racing_patches_of_different_keys_all_land,
);

/// `PATCH /resellers/me/metadata` is one DynamoDB call; two when the bound cannot
/// show it fits and it does; a reseller from before every reseller had a metadata item
/// gets one on its first patch.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_patch_is_one_update_and_an_exact_merge_only_near_the_limit() {
    let calls = SdkCalls::default();
    let store = calls.store().await;
    let ally = ally_on(store.clone());
    reseller_with(&ally, "p", Tier::Standard, 0).await;
    let count = |pairs: &[(&str, u64)]| pairs.iter().map(|(op, n)| (op.to_string(), *n)).collect::<BTreeMap<_, _>>();

    calls.take();
    ally.update_own_metadata(&uid("p"), set("primary_color", "#0055ff")).await.unwrap();
    assert_eq!(calls.take(), count(&[("UpdateItem", 1)]));
    ally.update_own_metadata(&uid("p"), set("banner", &"a".repeat(7_000))).await.unwrap();
    calls.take();
    ally.update_own_metadata(&uid("p"), set("banner", &"b".repeat(7_500))).await.unwrap();
    assert_eq!(calls.take(), count(&[("PutItem", 1), ("UpdateItem", 1)]), "near the limit: merged exactly");
    let over = ally.update_own_metadata(&uid("p"), set("more", &"c".repeat(1_000))).await;
    assert!(matches!(over, Err(AllyError::TooLarge(_))), "{over:?}");
    assert_eq!(calls.take(), count(&[("UpdateItem", 1)]), "refused from what the update found");

    // A reseller without a metadata item (onboarded before each got one).
    reseller_with(&ally, "old", Tier::Standard, 0).await;
    let key = [("pk", keys::reseller(&uid("old"))), ("sk", keys::METADATA.to_string())]
        .map(|(k, v)| (k.to_string(), AttributeValue::S(v)));
    store.client().delete_item().table_name(store.table()).set_key(Some(key.into())).send().await.unwrap();
    calls.take();
    let first = ally.update_own_metadata(&uid("old"), set("primary_color", "#112233")).await.unwrap();
    assert_eq!(first.metadata.len(), 1);
    assert_eq!(calls.take(), count(&[("BatchGetItem", 1), ("PutItem", 1), ("UpdateItem", 1)]));
    ally.update_own_metadata(&uid("old"), set("logo_url", "https://cdn.example/l.png")).await.unwrap();
    assert_eq!(calls.take(), count(&[("UpdateItem", 1)]), "and one update from then on");
    assert_eq!(ally.find_by_user(&uid("old")).await.unwrap().metadata.len(), 2);
    let missing = ally.update_own_metadata(&uid("nobody"), set("k", "v")).await;
    assert!(matches!(missing, Err(AllyError::NotFound(_))), "{missing:?}");
}
