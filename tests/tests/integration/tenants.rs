//! Tenant isolation through the HTTP API, on both stores. Partner A has clients, services,
//! a ledger and stats; partner B calls every partner route with A's client ids, refid,
//! cursors and idempotency keys, and every admin route with A's refid. B gets 404, 403, a
//! refused cursor, or its own data; no answer B gets holds any of A's identifiers; A's
//! holdings are exactly as they were.

use ally::Config;
use ally::store::Store;
use ally_tests::{Answer, TestApi, on_both_stores};
use serde_json::{Value, json};

fn string(value: &Value) -> String {
    value.as_str().unwrap_or_else(|| panic!("not a string: {value}")).to_string()
}

fn ids(list: &Value) -> Vec<String> {
    list["items"].as_array().unwrap().iter().map(|item| string(&item["id"])).collect()
}

/// Partner B tries every route that names one of A's things (long: one list of every such
/// route, against the same A, whose holdings are compared once at the end).
async fn b_cannot_reach_a<S: Store>(store: S) {
    let api = TestApi::new(store, Config::default());
    let (a, a_refid) = api.partner("alpha", "gold", 10_000).await;
    let (b, _) = api.partner("beta", "standard", 5_000).await;

    // A's portfolio: clients, a provisioned service, a bulk onboarding, a ledger.
    let mut a_clients = Vec::new();
    for i in 0..3 {
        let client = api.call("POST", "/clients", Some(&a), Some(json!({"name": format!("Alpha {i}")}))).await;
        assert_eq!(client.status, 201, "{client:?}");
        a_clients.push(string(&client.body["id"]));
    }
    let a_client = a_clients[0].clone();
    let bought = api.provision(&a, "k-1", json!({"cost": 100, "client_id": a_client})).await;
    assert_eq!(bought.status, 200, "{bought:?}");
    let a_service = string(&bought.body["service"]["id"]);
    let bulk_body = json!({"clients": [{"name": "Alpha bulk 1"}, {"name": "Alpha bulk 2"}], "cost": 100});
    let bulk = api.bulk(&a, "bulk-1", bulk_body.clone()).await;
    assert_eq!(bulk.status, 200, "{bulk:?}");
    a_clients.extend(bulk.body["clients"].as_array().unwrap().iter().map(|c| string(&c["id"])));
    let before = api.holdings(&a).await;
    assert_eq!(ids(&before["clients"]).len(), 5);
    let mut a_secrets = vec![a_refid.clone(), "alpha Ltd".to_string(), a_service];
    a_secrets.extend(a_clients.iter().cloned());
    a_secrets.extend(ids(&before["ledger"]));
    let a_clients_cursor = string(&api.call("GET", "/clients?limit=1", Some(&a), None).await.body["next_cursor"]);
    let a_ledger_cursor =
        string(&api.call("GET", "/resellers/me/transactions?limit=1", Some(&a), None).await.body["next_cursor"]);

    // B's own portfolio.
    let b_client = api.call("POST", "/clients", Some(&b), Some(json!({"name": "Beta 0"}))).await;
    let b_client = string(&b_client.body["id"]);

    let mut answers: Vec<(String, Answer)> = Vec::new();
    let mut expect = |what: String, answer: Answer, status: u16| {
        assert_eq!(answer.status, status, "{what}: {answer:?}");
        answers.push((what, answer));
    };
    for id in &a_clients {
        expect(format!("GET A's client {id}"), api.call("GET", &format!("/clients/{id}"), Some(&b), None).await, 404);
    }
    let provision_a_client = json!({"cost": 10, "client_id": a_client});
    expect("provision for A's client".into(), api.provision(&b, "b-1", provision_a_client).await, 404);
    for (path, cursor) in [("/clients", &a_clients_cursor), ("/resellers/me/transactions", &a_ledger_cursor)] {
        let url = format!("{path}?cursor={cursor}");
        expect(format!("{path} with A's cursor"), api.call("GET", &url, Some(&b), None).await, 422);
    }
    // A cursor of B's own, altered by one character, is refused too.
    let b_more = api.call("POST", "/clients", Some(&b), Some(json!({"name": "Beta 1"}))).await;
    assert_eq!(b_more.status, 201);
    let b_cursor = string(&api.call("GET", "/clients?limit=1", Some(&b), None).await.body["next_cursor"]);
    let mut forged = b_cursor.clone().into_bytes();
    let last = forged.len() - 1;
    forged[last] = if forged[last] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    expect("a forged cursor".into(), api.call("GET", &format!("/clients?cursor={forged}"), Some(&b), None).await, 422);

    let trends = format!("/analytics/credit-trends?interval=daily&start=2026-01-01&end=2026-01-31&reseller={a_refid}");
    expect("A's credit trends".into(), api.call("GET", &trends, Some(&b), None).await, 404);
    for (method, path, body) in [
        ("GET", format!("/resellers/{a_refid}"), None),
        ("GET", "/resellers?user_id=alpha".to_string(), None),
        ("PATCH", format!("/resellers/{a_refid}"), Some(json!({"status": "suspended"}))),
        ("POST", "/resellers".to_string(), Some(json!({"company": "Mine now", "user_id": "alpha"}))),
        ("GET", "/analytics/top-resellers?start=2026-01-01&end=2026-12-31".to_string(), None),
    ] {
        expect(format!("{method} {path}"), api.call(method, &path, Some(&b), body).await, 403);
    }
    expect("credit A".into(), api.add_credits(&b, &a_refid, "b-2", json!({"amount": 1})).await, 403);

    // A's idempotency keys mean nothing for B: B's requests are B's own, charged to B.
    let b_bought = api.provision(&b, "k-1", json!({"cost": 100, "client_id": a_client})).await;
    expect("A's key, A's body".into(), b_bought, 404);
    let b_bought = api.provision(&b, "k-1", json!({"cost": 100, "client_id": b_client})).await;
    assert_eq!((b_bought.body["cost"].as_i64(), b_bought.body["balance"].as_i64()), (Some(100), Some(4_900)));
    answers.push(("A's key on B's provision".into(), b_bought));
    let b_bulk = api.bulk(&b, "bulk-1", bulk_body).await;
    assert_eq!(b_bulk.body["balance"].as_i64(), Some(4_700), "{b_bulk:?}");
    answers.push(("A's key and body on B's bulk".into(), b_bulk));

    // B's own views list B's data only.
    for path in ["/resellers/me", "/resellers/me/stats", "/resellers/me/transactions?limit=100", "/clients?limit=100"] {
        let answer = api.call("GET", path, Some(&b), None).await;
        assert_eq!(answer.status, 200, "{path}: {answer:?}");
        answers.push((path.into(), answer));
    }
    let b_clients = api.call("GET", "/clients?limit=100", Some(&b), None).await;
    let mut names: Vec<_> = b_clients.body["items"].as_array().unwrap().iter().map(|c| string(&c["name"])).collect();
    // Sorted: a client and a bulk made in the same millisecond may list in either order.
    names.sort();
    assert_eq!(names, ["Alpha bulk 1", "Alpha bulk 2", "Beta 0", "Beta 1"], "B's clients are B's own");

    for (what, answer) in &answers {
        let text = answer.body.to_string();
        for secret in &a_secrets {
            assert!(!text.contains(secret.as_str()), "{what}: B was shown A's `{secret}`: {text}");
        }
    }
    assert_eq!(api.holdings(&a).await, before, "A's holdings changed");
}

/// A parent P, its child C and an unrelated U: P sees C's figures and may pass it credit,
/// never C's clients or ledger; C sees P's refid and company only; U reaches neither, and
/// neither reaches U; only an admin moves resellers in the tree. (Long: one list of every
/// reach across the tree, against the same three.)
async fn a_tree_keeps_its_members_apart<S: Store>(store: S) {
    let api = TestApi::new(store, Config::default());
    let admin = api.token("admin", true);
    let (p, p_refid) = api.partner("parent", "platinum", 5_000).await;
    let (c, c_refid) = api.partner("child", "gold", 1_000).await;
    let (u, u_refid) = api.partner("other", "standard", 1_000).await;
    let moved =
        api.call("PATCH", &format!("/resellers/{c_refid}"), Some(&admin), Some(json!({"parent_refid": p_refid}))).await;
    assert_eq!(moved.status, 200, "{moved:?}");
    assert_eq!(moved.body["parent"], json!({"refid": p_refid, "company": "parent Ltd"}));
    let c_client = api.call("POST", "/clients", Some(&c), Some(json!({"name": "Child's client"}))).await;
    let c_client = string(&c_client.body["id"]);

    let me = api.call("GET", "/resellers/me", Some(&c), None).await.body;
    assert_eq!(me["parent"], json!({"refid": p_refid, "company": "parent Ltd"}), "the child sees refid and company");
    let children = api.call("GET", "/resellers/me/sub-resellers", Some(&p), None).await;
    assert_eq!(children.body["items"][0]["refid"], json!(c_refid), "{children:?}");
    assert_eq!(children.body["items"][0]["balance"], 1_000);
    let sent = api
        .call_with_key("POST", "/resellers/me/transfers", &p, "t-1", json!({"to_refid": c_refid, "amount": 400}))
        .await;
    assert_eq!((sent.status, sent.body["balance"].as_i64()), (200, Some(4_600)), "{sent:?}");
    assert_eq!(sent.body["to"]["transaction"]["balance_after"], 1_400);

    let mut answers: Vec<(String, Answer)> = Vec::new();
    let mut expect = |what: &str, answer: Answer, status: u16| {
        assert_eq!(answer.status, status, "{what}: {answer:?}");
        answers.push((what.to_string(), answer));
    };
    expect("P reads C's client", api.call("GET", &format!("/clients/{c_client}"), Some(&p), None).await, 404);
    expect(
        "P reads C's ledger",
        api.call("GET", &format!("/resellers/{c_refid}/transactions"), Some(&p), None).await,
        403,
    );
    expect(
        "P moves C",
        api.call("PATCH", &format!("/resellers/{c_refid}"), Some(&p), Some(json!({"parent_refid": null}))).await,
        403,
    );
    expect(
        "P lists C's children",
        api.call("GET", &format!("/resellers/{c_refid}/sub-resellers"), Some(&p), None).await,
        403,
    );
    expect(
        "P pays U",
        api.call_with_key("POST", "/resellers/me/transfers", &p, "t-2", json!({"to_refid": u_refid, "amount": 1}))
            .await,
        404,
    );
    expect(
        "C pays P",
        api.call_with_key("POST", "/resellers/me/transfers", &c, "t-3", json!({"to_refid": p_refid, "amount": 1}))
            .await,
        404,
    );
    expect(
        "U pays C",
        api.call_with_key("POST", "/resellers/me/transfers", &u, "t-4", json!({"to_refid": c_refid, "amount": 1}))
            .await,
        404,
    );
    expect(
        "U moves money as an admin",
        api.call_with_key(
            "POST",
            "/resellers/transfers",
            &u,
            "t-5",
            json!({"from_refid": p_refid, "to_refid": u_refid, "amount": 1}),
        )
        .await,
        403,
    );
    expect(
        "U onboards under P",
        api.call(
            "POST",
            "/resellers",
            Some(&api.token("newcomer", false)),
            Some(json!({"company": "New", "parent_refid": p_refid})),
        )
        .await,
        403,
    );
    expect(
        "a transfer of nothing",
        api.call_with_key("POST", "/resellers/me/transfers", &p, "t-6", json!({"to_refid": c_refid, "amount": 0}))
            .await,
        422,
    );
    let own =
        api.call("GET", &format!("/analytics/credit-trends?interval=daily&subtree={p_refid}"), Some(&p), None).await;
    assert_eq!(own.status, 200, "a parent's own subtree: {own:?}");
    let own = api.call("GET", &format!("/analytics/top-resellers?subtree={p_refid}"), Some(&p), None).await;
    assert_eq!(own.status, 200, "{own:?}");
    expect(
        "U's view of P's subtree",
        api.call("GET", &format!("/analytics/credit-trends?subtree={p_refid}"), Some(&u), None).await,
        404,
    );
    expect(
        "C's view of P's subtree",
        api.call("GET", &format!("/analytics/top-resellers?subtree={p_refid}"), Some(&c), None).await,
        404,
    );
    let u_children = api.call("GET", "/resellers/me/sub-resellers", Some(&u), None).await;
    assert_eq!(u_children.body["items"], json!([]));
    answers.push(("U's children".into(), u_children));
    answers.push(("U's profile".into(), api.call("GET", "/resellers/me", Some(&u), None).await));
    // A cycle through the API: 422 problem, nothing moved.
    let cycle =
        api.call("PATCH", &format!("/resellers/{p_refid}"), Some(&admin), Some(json!({"parent_refid": c_refid}))).await;
    ally_tests::assert_problem(&cycle, 422, "validation_failed", "");

    for (what, answer) in &answers {
        let text = answer.body.to_string();
        for secret in [c_client.as_str(), "Child's client", "other Ltd"] {
            if what.starts_with('U') && secret == "other Ltd" {
                continue;
            }
            assert!(!text.contains(secret), "{what}: shown `{secret}`: {text}");
        }
    }
    let after = api.call("GET", "/resellers/me", Some(&c), None).await.body;
    assert_eq!((after["balance"].as_i64(), after["parent"]["refid"].clone()), (Some(1_400), json!(p_refid)));
}

on_both_stores!(b_cannot_reach_a, a_tree_keeps_its_members_apart);
