//! The OpenAPI 3.1 document, generated from the same [`Operation`] list that builds the
//! routers, with JSON Schemas (draft 2020-12, as OpenAPI 3.1 uses) derived from the types
//! the handlers read and write.

use axum::routing::MethodFilter;
use schemars::generate::{SchemaGenerator, SchemaSettings};
use schemars::{JsonSchema, Schema};
use serde_json::{Map, Value, json};

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
    pub access: Access,
    /// Query parameters: name and description.
    pub query: &'static [(&'static str, &'static str)],
    /// Takes an `Idempotency-Key` header.
    pub idempotent: bool,
    pub request: Option<SchemaFn>,
    pub status: u16,
    pub response: SchemaFn,
    /// Error statuses it may answer, besides 401/413/422 that any route may.
    pub errors: &'static [u16],
}

/// The HTTP methods the API uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Patch,
}

impl Method {
    /// Lowercase, as OpenAPI keys it.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "get",
            Method::Post => "post",
            Method::Patch => "patch",
        }
    }

    /// The axum filter for it.
    pub fn filter(self) -> MethodFilter {
        match self {
            Method::Get => MethodFilter::GET,
            Method::Post => MethodFilter::POST,
            Method::Patch => MethodFilter::PATCH,
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

/// The whole document for `operations`.
pub fn document(operations: &[Operation]) -> Value {
    let mut generator =
        SchemaSettings::draft2020_12().with(|s| s.definitions_path = "#/components/schemas/".into()).into_generator();
    let mut paths = Map::new();
    for op in operations {
        let mut parameters: Vec<Value> = op
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| {
                // A refid has the shape Ally issues (`domain::check_refid`): 10 Crockford base-32 characters.
                let schema = if name == "refid" {
                    json!({"type": "string", "pattern": "^[0-9A-HJKMNP-TV-Z]{10}$"})
                } else {
                    json!({"type": "string"})
                };
                json!({"name": name, "in": "path", "required": true, "schema": schema})
            })
            .collect();
        parameters.extend(op.query.iter().map(|(name, description)| {
            json!({"name": name, "in": "query", "required": false, "description": description, "schema": {"type": "string"}})
        }));
        if op.idempotent {
            parameters.push(json!({
                "name": "Idempotency-Key", "in": "header", "required": true,
                "description": "1 to 128 printable ASCII characters, not all spaces; a retry with the same key and body returns the first response",
                "schema": {"type": "string", "minLength": 1, "maxLength": 128, "pattern": "^[ -~]*[!-~][ -~]*$"}
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
        responses.insert(
            op.status.to_string(),
            json!({"description": "success", "content": {"application/json": {"schema": (op.response)(&mut generator)}}}),
        );
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
    json!({
        "openapi": "3.1.0",
        "info": {"title": "Ally", "version": "1", "description": "The partner (reseller) network API."},
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}
        }
    })
}
