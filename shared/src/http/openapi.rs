//! The OpenAPI 3.1 document, generated from the same [`Operation`] list that builds the
//! routers, with JSON Schemas (draft 2020-12, as OpenAPI 3.1 uses) derived from the types
//! the handlers read and write.

use axum::routing::MethodFilter;
use schemars::generate::{SchemaGenerator, SchemaSettings};
use schemars::{JsonSchema, Schema};
use serde_json::{Map, Value, json};

use crate::domain::{CallerKey, RefId};

/// Who may call an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No token needed.
    Public,
    /// Any signed-in user (a bearer token).
    SignedIn,
    /// The `admin` group.
    Admin,
    /// The payment provider, by `Ally-Signature`.
    Signed,
}

/// Makes the schema of a request or response body.
pub type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

/// The schema of `T`, as a reference into `components/schemas`.
pub fn schema<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    generator.subschema_for::<T>()
}

/// One route of the API: what the router serves and the document describes.
#[derive(Clone, Copy)]
pub struct Operation {
    pub method: Method,
    /// The path in axum 0.8 / OpenAPI syntax (`/clients/{id}`).
    pub path: &'static str,
    pub id: &'static str,
    pub summary: &'static str,
    /// What it does beyond its summary: rules, refusals, what a retry does.
    pub description: &'static str,
    pub access: Access,
    /// Query parameters: name and description.
    pub query: &'static [(&'static str, &'static str)],
    /// The query parameters whose values are a closed set, and the set.
    pub values: &'static [(&'static str, &'static [&'static str])],
    /// Takes an `Idempotency-Key` header.
    pub idempotent: bool,
    pub request: Option<SchemaFn>,
    pub status: u16,
    /// May also answer 202 with the same body and a `Location` to read its progress from.
    pub accepted: bool,
    pub response: SchemaFn,
    /// Error statuses it may answer, besides 401/413/422 that any route may.
    pub errors: &'static [u16],
}

impl Operation {
    const fn new<T: JsonSchema>(method: Method, path: &'static str, id: &'static str, summary: &'static str) -> Self {
        Self {
            method,
            path,
            id,
            summary,
            description: "",
            access: Access::SignedIn,
            query: &[],
            values: &[],
            idempotent: false,
            request: None,
            status: 200,
            accepted: false,
            response: schema::<T>,
            errors: &[],
        }
    }

    /// A `GET` answering 200 with a `T`, for a signed-in caller.
    pub const fn get<T: JsonSchema>(path: &'static str, id: &'static str, summary: &'static str) -> Self {
        Self::new::<T>(Method::Get, path, id, summary)
    }

    /// A `POST` answering 200 with a `T`, for a signed-in caller.
    pub const fn post<T: JsonSchema>(path: &'static str, id: &'static str, summary: &'static str) -> Self {
        Self::new::<T>(Method::Post, path, id, summary)
    }

    /// A `PUT` answering 200 with a `T`, for a signed-in caller.
    pub const fn put<T: JsonSchema>(path: &'static str, id: &'static str, summary: &'static str) -> Self {
        Self::new::<T>(Method::Put, path, id, summary)
    }

    /// A `PATCH` answering 200 with a `T`, for a signed-in caller.
    pub const fn patch<T: JsonSchema>(path: &'static str, id: &'static str, summary: &'static str) -> Self {
        Self::new::<T>(Method::Patch, path, id, summary)
    }

    /// A `DELETE` answering 204 without a body, for a signed-in caller.
    pub const fn delete(path: &'static str, id: &'static str, summary: &'static str) -> Self {
        let mut op = Self::new::<()>(Method::Delete, path, id, summary);
        op.status = 204;
        op
    }

    /// Takes a JSON body of type `B`.
    pub const fn body<B: JsonSchema>(mut self) -> Self {
        self.request = Some(schema::<B>);
        self
    }

    /// May answer 202 Accepted: the work is charged and finishing without the caller.
    pub const fn accepted(mut self) -> Self {
        self.accepted = true;
        self
    }

    /// Answers 201 Created.
    pub const fn created(mut self) -> Self {
        self.status = 201;
        self
    }

    /// Who may call it.
    pub const fn access(mut self, access: Access) -> Self {
        self.access = access;
        self
    }

    /// For admins only.
    pub const fn admin(self) -> Self {
        self.access(Access::Admin)
    }

    /// Takes these query parameters (name, description).
    pub const fn query(mut self, query: &'static [(&'static str, &'static str)]) -> Self {
        self.query = query;
        self
    }

    /// Says what it does beyond its summary.
    pub const fn describe(mut self, description: &'static str) -> Self {
        self.description = description;
        self
    }

    /// The closed sets of values of these query parameters.
    pub const fn values(mut self, values: &'static [(&'static str, &'static [&'static str])]) -> Self {
        self.values = values;
        self
    }

    /// Takes an `Idempotency-Key` header.
    pub const fn idempotent(mut self) -> Self {
        self.idempotent = true;
        self
    }

    /// May also answer these error statuses.
    pub const fn errors(mut self, errors: &'static [u16]) -> Self {
        self.errors = errors;
        self
    }
}

/// The HTTP methods the API uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    /// Lowercase, as OpenAPI keys it.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "get",
            Method::Post => "post",
            Method::Put => "put",
            Method::Patch => "patch",
            Method::Delete => "delete",
        }
    }

    /// The axum filter for it.
    pub fn filter(self) -> MethodFilter {
        match self {
            Method::Get => MethodFilter::GET,
            Method::Post => MethodFilter::POST,
            Method::Put => MethodFilter::PUT,
            Method::Patch => MethodFilter::PATCH,
            Method::Delete => MethodFilter::DELETE,
        }
    }
}

fn error_text(status: u16) -> &'static str {
    match status {
        401 => "no valid token, or an invalid signature",
        402 => "insufficient credits",
        403 => "not allowed (role, suspended, on hold, tier)",
        404 => "not found, or not the caller's",
        409 => "already exists, or an idempotency conflict",
        413 => "the body is over 256 KiB",
        422 => "invalid input",
        _ => "error",
    }
}

/// The whole document for `operations`, each tagged with the function that serves it.
pub fn document(operations: &[(&str, Operation)]) -> Value {
    let mut generator =
        SchemaSettings::draft2020_12().with(|s| s.definitions_path = "#/components/schemas/".into()).into_generator();
    let mut paths = Map::new();
    for (tag, op) in operations {
        let mut parameters: Vec<Value> = op
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| {
                let schema = if name == "refid" {
                    Value::from(RefId::json_schema(&mut generator))
                } else {
                    json!({"type": "string"})
                };
                json!({"name": name, "in": "path", "required": true, "schema": schema})
            })
            .collect();
        parameters.extend(op.query.iter().map(|(name, description)| {
            let schema = match op.values.iter().find(|(n, _)| n == name) {
                Some((_, values)) => json!({"type": "string", "enum": values}),
                None => json!({"type": "string"}),
            };
            json!({"name": name, "in": "query", "required": false, "description": description, "schema": schema})
        }));
        if op.idempotent {
            parameters.push(json!({
                "name": "Idempotency-Key", "in": "header", "required": true,
                "description": "1 to 128 printable ASCII characters, not all spaces; a retry with the same key and body returns the first response",
                "schema": {"type": "string", "minLength": 1, "maxLength": CallerKey::MAX, "pattern": CallerKey::PATTERN}
            }));
        }
        if op.access == Access::Signed {
            parameters.push(json!({
                "name": "Ally-Signature", "in": "header", "required": true,
                "description": "t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.<raw body>\">",
                "schema": {"type": "string"}
            }));
        }
        let mut responses = Map::new();
        let success = if op.status == 204 {
            json!({"description": "done, nothing to answer"})
        } else {
            json!({"description": "success", "content": {"application/json": {"schema": (op.response)(&mut generator)}}})
        };
        responses.insert(op.status.to_string(), success);
        if op.accepted {
            responses.insert(
                "202".into(),
                json!({
                    "description": "accepted: charged, still finishing; read its state at Location",
                    "headers": {"Location": {"description": "where its state is read", "schema": {"type": "string"}}},
                    "content": {"application/json": {"schema": (op.response)(&mut generator)}}
                }),
            );
        }
        let mut errors: Vec<u16> = op.errors.to_vec();
        if op.access != Access::Public {
            errors.push(401);
        }
        if op.request.is_some() {
            errors.extend([413, 422]);
        } else if !op.query.is_empty() || op.idempotent {
            errors.push(422);
        }
        if op.idempotent {
            errors.push(400);
        }
        errors.sort_unstable();
        errors.dedup();
        for status in errors {
            responses.insert(
                status.to_string(),
                json!({"description": error_text(status), "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}),
            );
        }
        let mut operation = json!({
            "operationId": op.id,
            "summary": op.summary,
            "description": op.description,
            "tags": [tag],
            "parameters": parameters,
            "responses": responses,
        });
        if let Some(request) = op.request {
            operation["requestBody"] =
                json!({"required": true, "content": {"application/json": {"schema": request(&mut generator)}}});
        }
        operation["security"] = match op.access {
            Access::Public | Access::Signed => json!([]),
            Access::SignedIn | Access::Admin => json!([{"bearer": []}]),
        };
        let entry = paths.entry(op.path.to_string()).or_insert_with(|| json!({}));
        entry[op.method.as_str()] = operation;
    }
    let mut schemas = generator.take_definitions(true);
    schemas.insert(
        "Problem".into(),
        json!({
            "type": "object",
            "required": ["type", "title", "status", "detail", "code"],
            "properties": {
                "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
                "detail": {"type": "string"}, "code": {"type": "string"}
            }
        }),
    );
    let mut doc = json!({
        "openapi": "3.1.0",
        "info": {"title": "Ally", "version": "1", "description": "The partner (reseller) network API."},
        "servers": [
            {"url": "/", "description": "the host that serves this document: a stack's ApiUrl, or the dev server"},
            {"url": "http://127.0.0.1:3000", "description": "make dev"}
        ],
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}
        }
    });
    for_generators(&mut doc);
    doc
}

/// Rewrites what schemars writes but client generators read wrongly or refuse
/// (openapi-python-client among them) into equivalent plain forms, in every schema of `doc`.
fn for_generators(doc: &mut Value) {
    schema_fields(&mut doc["paths"]);
    if let Some(schemas) = doc["components"]["schemas"].as_object_mut() {
        schemas.values_mut().for_each(plain_schema);
    }
}

/// [`plain_schema`] on every `schema` field in `value` (parameters, bodies, responses).
fn schema_fields(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                if key == "schema" { plain_schema(value) } else { schema_fields(value) }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(schema_fields),
        _ => {}
    }
}

/// `schema` and its subschemas without boolean schemas (`true` becomes `{}`, `false`
/// `{"not": {}}`, `additionalProperties: true` goes as the default it is;
/// `additionalProperties: false`, which every generator reads, stays) and
/// with each `oneOf` of string constants (a documented enum) as a plain `enum`, the
/// constants' descriptions listed in the schema's own.
/// JSON Schema keywords whose value is one subschema: where a walk of a schema goes on.
pub const SUBSCHEMA: &[&str] = &[
    "items",
    "additionalProperties",
    "not",
    "contains",
    "propertyNames",
    "if",
    "then",
    "else",
    "unevaluatedItems",
    "unevaluatedProperties",
];
/// Keywords whose value maps names to subschemas.
pub const SUBSCHEMA_MAPS: &[&str] = &["properties", "patternProperties", "$defs", "dependentSchemas"];
/// Keywords whose value is a list of subschemas.
pub const SUBSCHEMA_LISTS: &[&str] = &["allOf", "anyOf", "oneOf", "prefixItems"];

fn plain_schema(schema: &mut Value) {
    match schema {
        Value::Bool(true) => *schema = json!({}),
        Value::Bool(false) => *schema = json!({"not": {}}),
        Value::Object(map) => {
            if let Some(constants) = map.get("oneOf").and_then(string_constants) {
                let mut description: Vec<String> =
                    map.get("description").and_then(Value::as_str).map(str::to_string).into_iter().collect();
                let lines: Vec<String> = constants
                    .iter()
                    .filter_map(|(value, text)| text.as_ref().map(|text| format!("- `{value}`: {text}")))
                    .collect();
                if !lines.is_empty() {
                    description.push(lines.join("\n"));
                }
                map.remove("oneOf");
                map.insert("type".into(), json!("string"));
                map.insert("enum".into(), constants.iter().map(|(value, _)| json!(value)).collect());
                if !description.is_empty() {
                    map.insert("description".into(), json!(description.join("\n\n")));
                }
            }
            if map.get("additionalProperties") == Some(&Value::Bool(true)) {
                map.remove("additionalProperties");
            }
            for (key, value) in map.iter_mut() {
                match key.as_str() {
                    "additionalProperties" if value.is_boolean() => {}
                    k if SUBSCHEMA.contains(&k) => plain_schema(value),
                    k if SUBSCHEMA_MAPS.contains(&k) => {
                        value.as_object_mut().into_iter().flat_map(|m| m.values_mut()).for_each(plain_schema)
                    }
                    k if SUBSCHEMA_LISTS.contains(&k) => {
                        value.as_array_mut().into_iter().flatten().for_each(plain_schema)
                    }
                    _ => {}
                }
            }
        }
        _ => {}
    }
}

/// The constants and their descriptions when every member of `one_of` is a string
/// constant with at most a description and `type: string` besides.
fn string_constants(one_of: &Value) -> Option<Vec<(String, Option<String>)>> {
    let members = one_of.as_array().filter(|members| !members.is_empty())?;
    members
        .iter()
        .map(|member| {
            let member = member.as_object()?;
            let plain = member.keys().all(|k| matches!(k.as_str(), "const" | "description" | "type"))
                && member.get("type").is_none_or(|t| t == "string");
            let value = member.get("const")?.as_str().filter(|_| plain)?;
            Some((value.to_string(), member.get("description").and_then(Value::as_str).map(str::to_string)))
        })
        .collect()
}
