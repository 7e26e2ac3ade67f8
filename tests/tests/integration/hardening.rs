//! What a security review asked for, held: API answers no cache keeps, ledgers and receipts
//! that name other people by role or refid only, and names that cannot hide characters.

use ally_tests::{Answer, assert_problem};
use serde_json::{Value, json};

use super::http::{Api, api};

/// Whether `answer` says no cache may keep it and no browser may sniff it.
fn private(answer: &Answer) -> bool {
    let header = |name: &str| answer.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    header("cache-control") == "no-store" && header("x-content-type-options") == "nosniff"
}

/// Every route of every function, as a partner, as an admin and with no token, answers
/// with `Cache-Control: no-store` and `nosniff`, whatever its status; so do `/health`,
/// the document and an unknown route.
#[tokio::test]
async fn every_api_answer_is_kept_by_no_cache() {
    let api = api();
    let (partner, refid) = api.partner("p", "gold", 1_000).await;
    let admin = api.token("admin", true);
    let mut routes: Vec<(String, String)> = Vec::new();
    for (_, operations) in ally::http::FUNCTIONS {
        for op in *operations {
            let path = op
                .path
                .replace("{refid}", &refid)
                .replace("{id}", "01ARZ3NDEKTSV4RRFFQ69G5FAV")
                .replace("{key}", "a-key");
            routes.push((op.method.as_str().to_uppercase(), path));
        }
    }
    routes
        .extend([("GET", "/health"), ("GET", "/openapi.json"), ("GET", "/nowhere")].map(|(m, p)| (m.into(), p.into())));
    for (method, path) in &routes {
        for token in [Some(partner.as_str()), Some(admin.as_str()), None] {
            let body = matches!(method.as_str(), "POST" | "PUT" | "PATCH").then(|| b"{}".to_vec()).unwrap_or_default();
            let answer = api.send(method, path, token, &[("idempotency-key", "k")], body).await;
            assert!(private(&answer), "{method} {path} ({}): {:?}", answer.status, answer.headers);
        }
    }
}

/// Every text of `answers` and the tokens that must not appear in it.
fn assert_names_none(what: &str, answers: &[Value], foreign: &[&str]) {
    let text = answers.iter().map(Value::to_string).collect::<Vec<_>>().join("\n");
    for token in foreign {
        assert!(!text.contains(token), "{what} names {token}: {text}");
    }
}

/// A partner's whole ledger, as it reads it.
async fn ledger(api: &Api, token: &str) -> Vec<Value> {
    let page = api.call("GET", "/resellers/me/transactions?limit=100", Some(token), None).await;
    assert_eq!(page.status, 200, "{page:?}");
    page.body["items"].as_array().unwrap().clone()
}

/// An admin credits, reverses into debt, is repaid and moves credit between two partners;
/// a parent passes credit to its child. What each partner reads, its ledger (every entry
/// kind these make) and the answers it got, names the admin as `admin` and the other
/// partner by refid only: never a user id. (The kinds made by no person, rewards,
/// commissions, expiries, refunds, name their source: the simulator's privacy law reads
/// them.) (Long: one network's story, each kind a person makes, then what each reads.)
#[tokio::test]
async fn ledgers_name_an_admin_by_role_and_a_reseller_by_refid() {
    let api = api();
    let admin = api.token("admin-7f3c9", true);
    let onboard = |user: &str, parent: Option<&str>| {
        let company = if parent.is_some() { "Child Ltd" } else { "Parent Ltd" };
        let mut body = json!({"company": company, "user_id": user});
        if let Some(parent) = parent {
            body["parent_refid"] = json!(parent);
        }
        body
    };
    let created = api.call("POST", "/resellers", Some(&admin), Some(onboard("parent-user-p", None))).await;
    let p_refid = created.body["refid"].as_str().unwrap().to_string();
    let created = api.call("POST", "/resellers", Some(&admin), Some(onboard("child-user-c", Some(&p_refid)))).await;
    assert_eq!(created.status, 201, "{created:?}");
    let c_refid = created.body["refid"].as_str().unwrap().to_string();
    let (p, c) = (api.token("parent-user-p", false), api.token("child-user-c", false));

    let mut p_answers = Vec::new();
    let mut c_answers = Vec::new();
    let credit = api.add_credits(&admin, &p_refid, "c1", json!({"amount": 1_000})).await;
    let entry = credit.body["transaction"]["id"].as_str().unwrap().to_string();
    p_answers.push(credit.body);
    c_answers.push(api.add_credits(&admin, &c_refid, "c2", json!({"amount": 500})).await.body);
    p_answers.push(api.provision(&p, "buy", json!({"cost": 300})).await.body);
    let reversal = json!({"entry_id": entry, "amount": 900, "reason": "chargeback"});
    let reversed = api.call_with_key("POST", &format!("/resellers/{p_refid}/reversals"), &admin, "r1", reversal).await;
    assert_eq!(reversed.status, 200, "{reversed:?}");
    p_answers.push(reversed.body);
    p_answers.push(api.add_credits(&admin, &p_refid, "c3", json!({"amount": 500})).await.body);
    let to_child = json!({"to_refid": c_refid, "amount": 100});
    let sent = api.call_with_key("POST", "/resellers/me/transfers", &p, "t1", to_child).await;
    assert_eq!(sent.status, 200, "{sent:?}");
    p_answers.push(sent.body);
    let between = json!({"from_refid": c_refid, "to_refid": p_refid, "amount": 50});
    let moved = api.call_with_key("POST", "/resellers/transfers", &admin, "alice@corp-move-7", between).await;
    assert_eq!(moved.status, 200, "{moved:?}");
    // An admin's own key (here its address) is the admin's, not the partner's.
    let keyed = api.add_credits(&admin, &c_refid, "alice@corp-topup-1", json!({"amount": 5})).await;
    assert_eq!(keyed.status, 200, "{keyed:?}");
    // An entry written before the rule named the admin by user id: read, it says admin.
    let old = ally::service::CreditRequest { amount: 7, ..Default::default() };
    let key = ally::domain::IdempotencyKey::caller(&ally::domain::CallerKey::parse("old-style").unwrap());
    api.app
        .ally
        .add_credits(&ally_tests::uid("child-user-c"), old, ally::domain::EntryKind::Credit, "admin-7f3c9", &key)
        .await
        .unwrap();

    let (p_ledger, c_ledger) = (ledger(&api, &p).await, ledger(&api, &c).await);
    let kinds: std::collections::BTreeSet<&str> =
        p_ledger.iter().chain(&c_ledger).filter_map(|e| e["kind"].as_str()).collect();
    for kind in ["credit", "debit", "reversal", "debt_repayment", "transfer_out", "transfer_in"] {
        assert!(kinds.contains(kind), "a {kind} entry was made: {kinds:?}");
    }
    for (entries, own, other) in [(&p_ledger, "parent-user-p", &c_refid), (&c_ledger, "child-user-c", &p_refid)] {
        for entry in entries {
            let actor = entry["actor"].as_str().unwrap();
            assert!(
                actor == "admin" || actor == own || actor == format!("reseller:{other}"),
                "{actor} is no role, own id or refid: {entry}"
            );
        }
    }
    p_answers.extend(p_ledger.clone());
    c_answers.extend(c_ledger.clone());
    p_answers.push(api.call("GET", "/resellers/me", Some(&p), None).await.body);
    c_answers.push(api.call("GET", "/resellers/me", Some(&c), None).await.body);
    let moved_in = c_ledger.iter().chain(&p_ledger).filter(|e| e["kind"] == "transfer_in" && e["amount"] == 50);
    assert!(
        moved_in.clone().count() == 1 && moved_in.clone().all(|e| e["actor"] == "admin"),
        "an admin's move says admin"
    );
    let secrets = ["admin-7f3c9", "alice@corp"];
    assert_names_none("the parent's reads", &p_answers, &[secrets.as_slice(), &["child-user-c"]].concat());
    assert_names_none("the child's reads", &c_answers, &[secrets.as_slice(), &["parent-user-p"]].concat());
}

/// A name or note with a character no reader can see (a bidirectional override that makes
/// `KCOL` read `LOCK`, a zero-width space, a tag) is refused on every route that takes
/// one, bulk included, with 422 naming its code point; nothing is written.
#[tokio::test]
async fn every_route_refuses_invisible_characters_in_names_and_notes() {
    let api = api();
    let (p, p_refid) = api.partner("p", "gold", 10_000).await;
    let (_, c_refid) = api.partner("c", "gold", 0).await;
    let admin = api.token("admin", true);
    let entry = ledger(&api, &p).await[0]["id"].as_str().unwrap().to_string();
    for (text, code) in [
        ("Ally Support \u{202e}KCOL\u{202c}\u{200b}", "U+202E"),
        ("Acme\u{200b}", "U+200B"),
        ("Acme\u{e0041}", "U+E0041"),
    ] {
        let before = api.holdings(&p).await;
        let asks: [(&str, String, &str, Value); 9] = [
            ("POST", "/resellers".into(), "new", json!({"company": text, "user_id": "x"})),
            ("POST", "/clients".into(), "p", json!({"name": text})),
            ("POST", "/clients/bulk".into(), "p", json!({"clients": [{"name": "Fine"}, {"name": text}], "cost": 10})),
            ("POST", "/provision".into(), "p", json!({"cost": 10, "description": text})),
            ("POST", "/holds".into(), "p", json!({"cost": 10, "description": text})),
            ("POST", "/resellers/me/transfers".into(), "p", json!({"to_refid": c_refid, "amount": 1, "note": text})),
            ("POST", format!("/resellers/{p_refid}/credits"), "admin", json!({"amount": 1, "reason": text})),
            (
                "POST",
                format!("/resellers/{p_refid}/reversals"),
                "admin",
                json!({"entry_id": entry, "amount": 1, "reason": text}),
            ),
            (
                "POST",
                "/resellers/transfers".into(),
                "admin",
                json!({"from_refid": p_refid, "to_refid": c_refid, "amount": 1, "note": text}),
            ),
        ];
        for (method, path, who, body) in asks {
            let token = if who == "p" { p.clone() } else { admin.clone() };
            let answer = api.call_with_key(method, &path, &token, "hidden", body).await;
            assert_problem(&answer, 422, "validation_failed", &format!("{path} with {code}"));
            assert!(answer.body["detail"].as_str().unwrap_or_default().contains(code), "{path}: {answer:?}");
        }
        assert_eq!(api.holdings(&p).await, before, "nothing was written");
        let none = api.call("GET", "/resellers?user_id=x", Some(&admin), None).await;
        assert_eq!(none.status, 404, "no reseller was made with a hidden name");
    }
}

/// The invisible-character rule holds for every string of a body (metadata, addresses),
/// takes what writing needs (Persian's non-joiner, joined emoji, a flag), and does not stop
/// a name stored before the rule from being read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invisible_characters_are_refused_in_every_field_and_old_names_still_read() {
    // On DynamoDB: a stored name is read back through its checks.
    let api = ally_tests::TestApi::new(ally_tests::dynamo_store().await, ally::Config::default());
    let (p, _) = api.partner("p", "gold", 0).await;
    let admin = api.token("admin", true);
    let before = api.holdings(&p).await;
    let metadata = json!({"company_name": "Ally Support \u{202e}KCOL\u{202c}"});
    let refused = api.call("PATCH", "/resellers/me/metadata", Some(&p), Some(metadata)).await;
    assert_problem(&refused, 422, "validation_failed", "metadata");
    assert!(refused.body["detail"].as_str().unwrap().contains("company_name holds U+202E"), "{refused:?}");
    let address = json!({"name": "Bob", "email": "bob\u{202e}@evil.example"});
    let refused = api.call("POST", "/clients", Some(&p), Some(address)).await;
    assert!(refused.body["detail"].as_str().unwrap().contains("email holds U+202E"), "{refused:?}");
    assert_eq!(api.holdings(&p).await, before);
    for (user, company) in [("fa", "پارس‌نت"), ("family", "Family 👨‍👩‍👧 Ltd"), ("love", "Love ❤️ Co")]
    {
        let body = json!({"company": company, "user_id": user});
        let made = api.call("POST", "/resellers", Some(&admin), Some(body)).await;
        assert_eq!(made.status, 201, "{company}: {made:?}");
        assert_eq!(made.body["company"], company);
    }
    // A name with a zero-width space, stored before names refused it, reads as stored.
    let old = ally::service::NewReseller::new(ally::domain::CompanyName::parse("Legacy\u{200b}Co").unwrap());
    let actor = ally::service::Actor { user_id: ally_tests::uid("legacy"), email: None, admin: false };
    api.app.ally.onboard(&actor, old).await.unwrap();
    let legacy = api.call("GET", "/resellers/me", Some(&api.token("legacy", false)), None).await;
    assert_eq!((legacy.status, legacy.body["company"].as_str()), (200, Some("Legacy\u{200b}Co")));
}
