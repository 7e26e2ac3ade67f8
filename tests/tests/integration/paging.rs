//! Lists on DynamoDB when a Query stops short (at 1 MB, or after a filter): every page is
//! filled to its limit or to the end, and the monthly report walks every partner. The
//! interceptor [`ShortPages`] makes the emulator answer two items at a time.

use ally_tests::credit;
use std::collections::BTreeSet;

use ally::domain::{Status, Tier};
use ally::events::local::Outbox;
use ally::events::report::run_monthly_report;
use ally::service::{BulkRequest, NewClient};
use ally::store::{Page, PageRequest, Profiles, ResellerFilter};
use ally::{Ally, Config};
use ally_tests::sdk::ShortPages;
use ally_tests::{cname, ikey, onboarded, reseller_with, uid};

/// Every page of a list, walked with its cursors; asserts each page but the last is full.
async fn walk<T, F, Fut>(limit: u16, mut read: F) -> Vec<T>
where
    F: FnMut(PageRequest) -> Fut,
    Fut: std::future::Future<Output = Page<T>>,
{
    let mut all = Vec::new();
    let mut page = PageRequest::first(limit);
    loop {
        let got = read(page.clone()).await;
        let full = got.items.len() == usize::from(limit);
        all.extend(got.items);
        match got.next_cursor {
            Some(cursor) => {
                assert!(full, "a page before the end holds `limit` items");
                page.cursor = Some(cursor);
            }
            None => return all,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_are_full_when_dynamodb_stops_short() {
    let ally = &Ally::new(ShortPages(2).store().await, Config::default());
    reseller_with(ally, "p", Tier::Gold, 100_000).await;
    let clients = (0..30).map(|i| NewClient { name: cname(&format!("Client {i}")), email: None }).collect();
    let bulk = BulkRequest { clients, product: None, cost: Some(10) };
    ally.bulk_onboard(&uid("p"), bulk, &ikey("bulk")).await.unwrap();
    for i in 0..11 {
        let credit = credit(1);
        ally.add_credits(&uid("p"), credit, ally::domain::EntryKind::Credit, "admin", &ikey(&format!("c{i}")))
            .await
            .unwrap();
    }

    let first = ally.clients(&uid("p"), &PageRequest::first(25)).await.unwrap();
    assert_eq!((first.items.len(), first.next_cursor.is_some()), (25, true), "a full first page and a cursor");
    let clients = walk(25, |page| async move { ally.clients(&uid("p"), &page).await.unwrap() }).await;
    let ids: BTreeSet<_> = clients.iter().map(|c| c.id.clone()).collect();
    assert_eq!((clients.len(), ids.len()), (30, 30), "every client once");

    let ledger = walk(5, |page| async move { ally.ledger(&uid("p"), &page).await.unwrap() }).await;
    assert_eq!(ledger.len(), 13, "the opening credit, the bulk and 11 credits");
    assert!(ledger.windows(2).all(|w| w[0].id > w[1].id), "newest first");

    for i in 0..7 {
        onboarded(ally, &format!("gold-{i}"), Tier::Gold, None).await;
    }
    let gold =
        walk(3, |page| async move { ally.store().resellers(ResellerFilter::Tier(Tier::Gold), &page).await.unwrap() })
            .await;
    assert_eq!(gold.len(), 8, "p and the 7 others");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_monthly_report_walks_every_partner_when_pages_stop_short() {
    let ally = &Ally::new(ShortPages(2).store().await, Config::default());
    for i in 0..30 {
        onboarded(ally, &format!("p{i:02}"), Tier::Standard, Some(&format!("p{i}@partners.example"))).await;
    }
    let active =
        walk(
            25,
            |page| async move { ally.store().resellers(ResellerFilter::Status(Status::Active), &page).await.unwrap() },
        )
        .await;
    assert_eq!(active.len(), 30);
    let dir = std::env::temp_dir().join(format!("ally-report-{}", ulid::Ulid::new()));
    let outbox = Outbox::new(&dir, "reports@ally.example");
    let today = chrono::Utc::now().date_naive();
    let month = ally::events::report::previous_month(today);
    let run = run_monthly_report(ally, &outbox, month, today, || true).await.unwrap();
    assert!(run.done);
    let to: BTreeSet<_> = outbox.sent().into_iter().map(|m| m.to).collect();
    assert_eq!(to.len(), 30, "a statement for every partner, not the first short page: {to:?}");
    let _ = std::fs::remove_dir_all(dir);
}
