//! The OpenAPI document and the routers are built from one list of operations; this checks
//! that the served document, the router and the contract of api.md agree.

use std::collections::BTreeSet;

use ally::Config;
use ally::http::openapi::{SUBSCHEMA, SUBSCHEMA_LISTS, SUBSCHEMA_MAPS};
use ally::store::memory::MemoryStore;
use ally_tests::TestApi;

/// The routes of `api.md`.
const CONTRACT: &[(&str, &str)] = &[
    ("post", "/resellers"),
    ("get", "/resellers/me"),
    ("get", "/resellers/me/invite"),
    ("get", "/resellers/me/stats"),
    ("get", "/resellers/me/transactions"),
    ("get", "/resellers/me/lots"),
    ("get", "/resellers/me/sub-resellers"),
    ("get", "/resellers/me/alerts"),
    ("put", "/resellers/me/alerts"),
    ("get", "/resellers/me/auto-top-up"),
    ("put", "/resellers/me/auto-top-up"),
    ("delete", "/resellers/me/auto-top-up"),
    ("get", "/resellers/{refid}/sub-resellers"),
    ("post", "/resellers/me/transfers"),
    ("post", "/resellers/transfers"),
    ("post", "/webhooks/stripe"),
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
    // A bulk's state by its key (a bulk charged but not yet filled answers 202).
    ("get", "/clients/bulk/{key}"),
    // Reversals and holds.
    ("post", "/resellers/{refid}/reversals"),
    ("get", "/resellers/{refid}/transactions"),
    ("post", "/holds"),
    ("get", "/holds"),
    ("post", "/holds/{id}/capture"),
    ("post", "/holds/{id}/void"),
    ("get", "/clients"),
    ("get", "/clients/{id}"),
    ("get", "/analytics/top-resellers"),
    ("get", "/analytics/tier-snapshot"),
    ("get", "/analytics/credit-trends"),
    ("get", "/analytics/total-credits"),
    ("get", "/analytics/upgrade-candidates"),
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
        let concrete =
            path.replace("{refid}", "ZZZZZZZZZZ").replace("{id}", "01ARZ3NDEKTSV4RRFFQ69G5FAV").replace("{key}", "k");
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

/// Every schema in `value` (a document part where `schema` fields hold schemas, or a schema
/// when `is_schema`), with its path.
fn schemas_in<'a>(
    value: &'a serde_json::Value,
    is_schema: bool,
    path: String,
    out: &mut Vec<(String, &'a serde_json::Value)>,
) {
    use serde_json::Value;
    if !is_schema {
        match value {
            Value::Object(map) => {
                for (key, value) in map {
                    schemas_in(value, key == "schema", format!("{path}/{key}"), out);
                }
            }
            Value::Array(items) => {
                for (i, value) in items.iter().enumerate() {
                    schemas_in(value, false, format!("{path}/{i}"), out);
                }
            }
            _ => {}
        }
        return;
    }
    out.push((path.clone(), value));
    let Value::Object(map) = value else { return };
    for (key, sub) in map {
        match key.as_str() {
            k if SUBSCHEMA.contains(&k) => schemas_in(sub, true, format!("{path}/{key}"), out),
            k if SUBSCHEMA_MAPS.contains(&k) => {
                for (name, sub) in sub.as_object().unwrap() {
                    schemas_in(sub, true, format!("{path}/{key}/{name}"), out);
                }
            }
            k if SUBSCHEMA_LISTS.contains(&k) => {
                for (i, sub) in sub.as_array().unwrap().iter().enumerate() {
                    schemas_in(sub, true, format!("{path}/{key}/{i}"), out);
                }
            }
            _ => {}
        }
    }
}

/// What client generators (openapi-python-client, which `infra/client.sh` runs) read
/// wrongly or refuse is not in the document: boolean schemas (but `additionalProperties:
/// false`), enums as a `oneOf` of constants; and each operation names its function.
#[tokio::test]
async fn the_document_is_plain_for_client_generators() {
    let doc = ally::http::openapi_json();
    let mut schemas = Vec::new();
    schemas_in(&doc["paths"], false, "#/paths".into(), &mut schemas);
    for (name, schema) in doc["components"]["schemas"].as_object().unwrap() {
        schemas_in(schema, true, format!("#/components/schemas/{name}"), &mut schemas);
    }
    assert!(schemas.len() > 100, "{} schemas found", schemas.len());
    for (path, schema) in &schemas {
        let denies_extra_fields = path.ends_with("/additionalProperties") && **schema == false;
        assert!(!schema.is_boolean() || denies_extra_fields, "boolean schema at {path}");
        for key in ["oneOf", "anyOf"] {
            if let Some(members) = schema[key].as_array() {
                assert!(members.iter().any(|m| m.get("const").is_none()), "{key} of constants at {path}");
            }
        }
    }

    let entry_kind = &doc["components"]["schemas"]["EntryKind"];
    assert_eq!(entry_kind["type"], "string");
    assert_eq!(
        entry_kind["enum"],
        serde_json::json!([
            "credit",
            "debit",
            "refund",
            "reward",
            "reversal",
            "debt_repayment",
            "expiry",
            "transfer_out",
            "transfer_in",
            "commission"
        ])
    );
    let description = entry_kind["description"].as_str().unwrap();
    assert!(description.contains("- `debit`: Credits spent on provisioning."), "{description}");
    assert_eq!(
        doc["paths"]["/openapi.json"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["type"],
        "object"
    );

    let functions = ["onboarding", "add-credits", "provision", "clients", "analytics", "meta"];
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let tags = operation["tags"].as_array().unwrap_or_else(|| panic!("{method} {path} has no tags"));
            assert!(tags.len() == 1 && functions.contains(&tags[0].as_str().unwrap()), "{method} {path}: {tags:?}");
        }
    }
    assert_eq!(doc["paths"]["/resellers/{refid}/credits"]["post"]["tags"], serde_json::json!(["add-credits"]));
    assert_eq!(doc["paths"]["/health"]["get"]["tags"], serde_json::json!(["meta"]));

    let page = |path: &str| {
        doc["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].clone()
    };
    assert_eq!(page("/resellers/me/transactions"), "#/components/schemas/LedgerEntryPage");
    assert_eq!(page("/clients"), "#/components/schemas/ClientPage");
    let names: Vec<&String> = doc["components"]["schemas"].as_object().unwrap().keys().collect();
    assert!(!names.iter().any(|n| n.starts_with("PageBody")), "{names:?}");
}
