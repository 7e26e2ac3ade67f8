//! The template against the code, so neither drifts unseen: the HTTP API's routes (method,
//! path, function, whether a token is needed) against the functions' operation lists, and
//! the table (keys, indexes, projections, stream, TTL) against the one the store creates.

use std::collections::BTreeSet;

use ally::http::openapi::Access;
use serde_norway::Value;

/// `template.yaml`, parsed (intrinsics such as `!Ref` kept as tagged values).
pub fn template() -> Value {
    let text = std::fs::read_to_string(ally_tests::workspace().join("template.yaml")).expect("template.yaml");
    serde_norway::from_str(&text).expect("template.yaml parses")
}

/// Each `AWS::Serverless::Function` of the template: its binary and its properties.
pub fn functions(template: &Value) -> Vec<(String, Value)> {
    let resources = template["Resources"].as_mapping().expect("Resources");
    resources
        .values()
        .filter(|r| r["Type"] == "AWS::Serverless::Function")
        .map(|r| {
            let binary = r["Metadata"]["BuildProperties"]["Binary"].as_str().expect("a binary").to_string();
            (binary, r["Properties"].clone())
        })
        .collect()
}

/// A route: method, path, the function serving it, whether it needs a token.
type Route = (String, String, String, bool);

#[test]
fn the_templates_routes_are_the_functions_operations() {
    let template = template();
    let mut declared: BTreeSet<Route> = BTreeSet::new();
    for (binary, properties) in functions(&template) {
        let Some(events) = properties["Events"].as_mapping() else { continue };
        for event in events.values().filter(|e| e["Type"] == "HttpApi") {
            let p = &event["Properties"];
            let token = p["Auth"]["Authorizer"] != "NONE";
            let method = p["Method"].as_str().expect("a method").to_uppercase();
            declared.insert((method, p["Path"].as_str().expect("a path").to_string(), binary.clone(), token));
        }
    }
    let mut served: BTreeSet<Route> = BTreeSet::new();
    for (function, operations) in ally::http::FUNCTIONS {
        for op in *operations {
            let token = matches!(op.access, Access::SignedIn | Access::Admin);
            served.insert((op.method.as_str().to_uppercase(), op.path.to_string(), function.to_string(), token));
        }
    }
    // Every function answers these; API Gateway sends them to the onboarding function.
    for meta in [ally::http::HEALTH, ally::http::OPENAPI] {
        served.insert((meta.method.as_str().to_uppercase(), meta.path.to_string(), "onboarding".into(), false));
    }
    // The pages: one catch-all route to the dashboard, which serves them all.
    served.insert(("GET".into(), "/{page+}".into(), "dashboard".into(), false));
    let missing: Vec<_> = served.difference(&declared).collect();
    let extra: Vec<_> = declared.difference(&served).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "served but not in template.yaml: {missing:#?}\nin template.yaml but not served: {extra:#?}"
    );
}

/// The template's table as (key schema, attribute definitions, indexes, stream view, TTL).
type Table = (Vec<(String, String)>, BTreeSet<(String, String)>, BTreeSet<String>, String, String);

fn keys(schema: &[(String, String)]) -> String {
    schema.iter().map(|(name, kind)| format!("{name}:{kind}")).collect::<Vec<_>>().join(",")
}

fn declared_table(template: &Value) -> Table {
    let t = &template["Resources"]["AllyTable"]["Properties"];
    let pairs = |v: &Value, a: &str, b: &str| -> Vec<(String, String)> {
        v.as_sequence()
            .expect("a list")
            .iter()
            .map(|e| (e[a].as_str().unwrap().to_string(), e[b].as_str().unwrap().to_string()))
            .collect()
    };
    let indexes = t["GlobalSecondaryIndexes"]
        .as_sequence()
        .expect("indexes")
        .iter()
        .map(|i| {
            let mut include: Vec<String> = i["Projection"]["NonKeyAttributes"]
                .as_sequence()
                .map(|s| s.iter().map(|a| a.as_str().unwrap().to_string()).collect())
                .unwrap_or_default();
            include.sort();
            format!(
                "{} [{}] {} {:?}",
                i["IndexName"].as_str().unwrap(),
                keys(&pairs(&i["KeySchema"], "AttributeName", "KeyType")),
                i["Projection"]["ProjectionType"].as_str().unwrap(),
                include
            )
        })
        .collect();
    (
        pairs(&t["KeySchema"], "AttributeName", "KeyType"),
        pairs(&t["AttributeDefinitions"], "AttributeName", "AttributeType").into_iter().collect(),
        indexes,
        t["StreamSpecification"]["StreamViewType"].as_str().unwrap().to_string(),
        t["TimeToLiveSpecification"]["AttributeName"].as_str().unwrap().to_string(),
    )
}

#[tokio::test]
async fn the_templates_table_is_the_one_the_store_creates() {
    let client = aws_sdk_dynamodb::Client::new(&ally_tests::sdk_config());
    let store = ally_tests::emulator::fresh_table(client.clone(), ally::store::dynamo::ChangeStream::On).await;
    let name = store.table().to_string();
    let table = client.describe_table().table_name(&name).send().await.unwrap().table.unwrap();
    let schema = |s: &[aws_sdk_dynamodb::types::KeySchemaElement]| -> Vec<(String, String)> {
        s.iter().map(|k| (k.attribute_name.clone(), k.key_type.as_str().to_string())).collect()
    };
    let indexes = table
        .global_secondary_indexes()
        .iter()
        .map(|i| {
            let projection = i.projection.as_ref().unwrap();
            let mut include = projection.non_key_attributes().to_vec();
            include.sort();
            format!(
                "{} [{}] {} {:?}",
                i.index_name.as_deref().unwrap(),
                keys(&schema(i.key_schema())),
                projection.projection_type.as_ref().unwrap().as_str(),
                include
            )
        })
        .collect();
    let ttl = client.describe_time_to_live().table_name(&name).send().await.unwrap();
    let created: Table = (
        schema(table.key_schema()),
        table
            .attribute_definitions()
            .iter()
            .map(|a| (a.attribute_name.clone(), a.attribute_type.as_str().to_string()))
            .collect(),
        indexes,
        table.stream_specification.and_then(|s| s.stream_view_type).map(|v| v.as_str().to_string()).unwrap_or_default(),
        ttl.time_to_live_description.and_then(|d| d.attribute_name).unwrap_or_default(),
    );
    assert_eq!(declared_table(&template()), created);
}

/// `DiscountGold` -> `ALLY_DISCOUNT_GOLD`.
fn variable(parameter: &str) -> String {
    let mut out = String::from("ALLY");
    for c in parameter.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// A product setting is stated once: its parameter carries no description of its own but
/// feeds the variable of the same name, which docs/configuration.md explains; the
/// deployment's own parameters say what they are.
#[test]
fn every_parameter_is_described_once() {
    let template = template();
    let variables = &template["Globals"]["Function"]["Environment"]["Variables"];
    let documented = std::fs::read_to_string(ally_tests::workspace().join("docs/configuration.md")).unwrap();
    let mut wrong = Vec::new();
    for (name, parameter) in template["Parameters"].as_mapping().expect("Parameters") {
        let name = name.as_str().unwrap();
        let variable = variable(name);
        // `!Ref Name`, or `!If [..., !Ref Name, ...]`.
        let value = serde_norway::to_string(&variables[variable.as_str()]).unwrap_or_default();
        let fed = value.split(|c: char| !c.is_ascii_alphanumeric()).any(|word| word == name);
        let described = parameter.get("Description").is_some();
        if fed == described || (fed && !documented.contains(&format!("`{variable}`"))) {
            wrong.push(format!("{name} (feeds {variable}: {fed}, has a description: {described})"));
        }
    }
    assert!(wrong.is_empty(), "parameters stated twice or not at all: {wrong:#?}");
}
