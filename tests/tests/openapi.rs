//! The OpenAPI document and the routers are built from one list of operations; this checks
//! that the served document, the router and the contract of api.md agree.

use std::collections::BTreeSet;

use ally::Config;
use ally::store::memory::MemoryStore;
use ally_tests::TestApi;

/// The routes of `api.md`.
const CONTRACT: &[(&str, &str)] = &[
    ("post", "/resellers"),
    ("get", "/resellers/me"),
    ("get", "/resellers/me/stats"),
    ("get", "/resellers/me/transactions"),
    ("patch", "/resellers/me/metadata"),
    ("get", "/resellers"),
    ("get", "/resellers/{refid}"),
    ("patch", "/resellers/{refid}"),
    ("post", "/resellers/{refid}/credits"),
    ("post", "/webhooks/payments"),
    ("get", "/products"),
    ("post", "/provision"),
    ("post", "/clients"),
    ("post", "/clients/bulk"),
    ("get", "/clients"),
    ("get", "/clients/{id}"),
    ("get", "/analytics/top-resellers"),
    ("get", "/analytics/tier-snapshot"),
    ("get", "/analytics/credit-trends"),
    ("get", "/analytics/total-credits"),
    ("get", "/health"),
    ("get", "/openapi.json"),
];

fn documented(doc: &serde_json::Value) -> BTreeSet<(String, String)> {
    doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| item.as_object().unwrap().keys().map(move |m| (m.clone(), path.clone())))
        .collect()
}

#[tokio::test]
async fn the_document_lists_exactly_the_contract_and_the_router_serves_it() {
    let api = TestApi::new(MemoryStore::new(), Config::default());
    let doc = api.call("GET", "/openapi.json", None, None).await.body;
    assert_eq!(doc["openapi"], "3.1.0");
    let expected: BTreeSet<(String, String)> = CONTRACT.iter().map(|(m, p)| (m.to_string(), p.to_string())).collect();
    assert_eq!(documented(&doc), expected);

    for (method, path) in &expected {
        let concrete = path.replace("{refid}", "ZZZZZZZZZZ").replace("{id}", "01ARZ3NDEKTSV4RRFFQ69G5FAV");
        let answer = api.call(&method.to_uppercase(), &concrete, None, None).await;
        assert_ne!(answer.body["detail"], "no such route", "{method} {path} is documented but not routed");
    }
    for (method, path) in [("DELETE", "/clients"), ("GET", "/provision"), ("GET", "/nope")] {
        let answer = api.call(method, path, None, None).await;
        assert_eq!((answer.status, answer.body["detail"].as_str()), (404, Some("no such route")), "{method} {path}");
    }
}

#[tokio::test]
async fn every_reference_resolves_and_bodies_have_schemas() {
    let doc = ally::http::openapi_json();
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let text = doc.to_string();
    for reference in text.split("\"$ref\":\"").skip(1) {
        let target = reference.split('"').next().unwrap();
        let name = target.strip_prefix("#/components/schemas/").unwrap_or_else(|| panic!("external ref {target}"));
        assert!(schemas.contains_key(name), "{target} does not resolve");
    }
    let onboard = &doc["paths"]["/resellers"]["post"];
    assert!(onboard["requestBody"]["content"]["application/json"]["schema"]["$ref"].is_string());
    assert!(onboard["responses"]["201"].is_object());
    assert!(onboard["responses"]["409"].is_object());
    let credits = &doc["paths"]["/resellers/{refid}/credits"]["post"];
    assert!(credits["parameters"].as_array().unwrap().iter().any(|p| p["name"] == "Idempotency-Key"));
    assert_eq!(doc["paths"]["/webhooks/payments"]["post"]["security"], serde_json::json!([]));
}
