//! The browser pages: the partner dashboard and the admin reports. Plain HTML, CSS and
//! JavaScript modules (the `ally-pages` crate, `pages/assets/`), built into the binary. Assets are served under content-hashed names
//! (`/assets/<name>.<hash>.<ext>`, cached for a year as immutable) that the pages reach
//! through an import map; the pages themselves are revalidated on every load, so a deploy
//! shows at once. The pages hold no data of their own: they call the API with the
//! signed-in user's token.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

use ally_pages::{ADMIN_HTML, ASSETS, Asset, PARTNER_HTML, SIGN_IN_HTML};

use super::ApiError;
use crate::Config;

pub use ally_pages::REPORTS;

/// Every asset under its hashed name, and the URL of each by plain name.
struct Hashed {
    by_file: HashMap<String, &'static Asset>,
    url: HashMap<&'static str, String>,
}

static HASHED: LazyLock<Hashed> = LazyLock::new(|| {
    let mut by_file = HashMap::new();
    let mut url = HashMap::new();
    for asset in &ASSETS {
        let digest = hex::encode(Sha256::digest(asset.bytes));
        let (stem, ext) = asset.name.rsplit_once('.').unwrap_or((asset.name, ""));
        let file = format!("{stem}.{}.{ext}", &digest[..12]);
        url.insert(asset.name, format!("/assets/{file}"));
        by_file.insert(file, asset);
    }
    Hashed { by_file, url }
});

/// What the pages need to know of the deployment, handed over in a `<meta>` tag.
fn page_config(config: &Config) -> serde_json::Value {
    let sign_in = match (&config.cognito_domain, &config.cognito_client_id) {
        (Some(domain), Some(client_id)) => {
            serde_json::json!({"mode": "cognito", "domain": domain, "clientId": client_id})
        }
        _ => serde_json::json!({"mode": "local"}),
    };
    serde_json::json!({
        "dashboard": dashboard_path(config),
        "reports": REPORTS,
        "lowCreditThreshold": config.low_credit_threshold,
        "paymentLink": config.stripe_payment_link,
        "discounts": {"standard": 0, "gold": config.discounts.gold, "platinum": config.discounts.platinum},
        "signIn": sign_in,
    })
}

/// The partner dashboard's path, from `urls.dashboard`.
pub fn dashboard_path(config: &Config) -> String {
    format!("/{}", config.dashboard_url.trim_matches('/'))
}

fn escape_attribute(text: &str) -> String {
    text.replace('&', "&amp;").replace('"', "&quot;").replace('<', "&lt;").replace('>', "&gt;")
}

/// A page, ready to send, with the CSP that allows exactly its import map.
struct Page {
    html: String,
    csp: HeaderValue,
    /// Whether browsers are told to come back over https only: when the pages' public URL
    /// is https (a deployment), never for the dev server's http.
    hsts: bool,
}

/// What no page uses: the browser's sensors, camera, microphone, location, payment and USB.
const PERMISSIONS_POLICY: &str =
    "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), payment=(), usb=()";

/// A year, with the subdomains: a deployment's pages are https only.
const HSTS: &str = "max-age=31536000; includeSubDomains";

fn render(template: &str, script: &str, config: &Config) -> Page {
    let hashed = &*HASHED;
    let imports: serde_json::Map<String, serde_json::Value> = ASSETS
        .iter()
        .filter(|a| a.name.ends_with(".js"))
        .map(|a| (format!("ally/{}", a.name.trim_end_matches(".js")), hashed.url[a.name].clone().into()))
        .collect();
    let import_map = serde_json::json!({ "imports": imports }).to_string();
    let map_hash = STANDARD.encode(Sha256::digest(import_map.as_bytes()));
    let head = format!(
        "<meta name=\"ally-config\" content=\"{}\">\n  <link rel=\"stylesheet\" href=\"{}\">\n  \
         <script type=\"importmap\">{import_map}</script>\n  <script type=\"module\" src=\"{}\"></script>",
        escape_attribute(&page_config(config).to_string()),
        hashed.url["app.css"],
        hashed.url[script],
    );
    let cognito = config.cognito_domain.as_deref().unwrap_or("");
    let logos = if config.logo_origins.is_empty() { "https:".to_string() } else { config.logo_origins.join(" ") };
    let csp = format!(
        "default-src 'self'; script-src 'self' 'sha256-{map_hash}'; style-src 'self'; \
         img-src 'self' {logos} data:; connect-src 'self' {cognito}; form-action 'self' {cognito}; \
         frame-ancestors 'none'; base-uri 'none'"
    );
    let html = template.replace("<!-- ally:head -->", &head).replace("<!-- ally:signin -->", SIGN_IN_HTML.trim());
    // A domain that cannot sit in a header fails closed: nothing but the page itself.
    let csp = HeaderValue::from_str(&csp).unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'"));
    Page { html, csp, hsts: config.public_url.starts_with("https://") }
}

fn page_response(page: &Page) -> Response {
    let mut response = ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], page.html.clone()).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::CONTENT_SECURITY_POLICY, page.csp.clone());
    headers.insert("permissions-policy", HeaderValue::from_static(PERMISSIONS_POLICY));
    // Another window a page opens (a Payment Link) or that opened it gets no handle on it.
    headers.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
    if page.hsts {
        headers.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static(HSTS));
    }
    response
}

async fn asset(Path(file): Path<String>) -> Response {
    let Some(asset) = HASHED.by_file.get(&file) else {
        return ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such asset").into_response();
    };
    let mut response = ([(header::CONTENT_TYPE, asset.content_type)], asset.bytes).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

/// The pages and their assets: `urls.dashboard`, `/admin/reports` and `/assets/*`.
pub fn router(config: &Config) -> Router {
    let partner = Arc::new(render(PARTNER_HTML, "partner.js", config));
    let admin = Arc::new(render(ADMIN_HTML, "admin.js", config));
    Router::new()
        .route(&dashboard_path(config), get(move || async move { page_response(&partner) }))
        .route(REPORTS, get(move || async move { page_response(&admin) }))
        .route("/assets/{file}", get(asset))
}

#[cfg(test)]
#[path = "pages_test.rs"]
mod tests;
