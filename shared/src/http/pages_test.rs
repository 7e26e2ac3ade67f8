//! Unit tests of `pages.rs`: every asset a page names is served under that name, with the
//! caching its hash allows; the CSP admits exactly the page's import map.

use axum::body::{Body, to_bytes};
use axum::http::Request;
use tower::ServiceExt;

use super::*;

async fn get(router: &Router, path: &str) -> (StatusCode, axum::http::HeaderMap, String) {
    let response = router.clone().oneshot(Request::get(path).body(Body::empty()).unwrap()).await.unwrap();
    let (parts, body) = response.into_parts();
    let text = String::from_utf8(to_bytes(body, usize::MAX).await.unwrap().to_vec()).unwrap();
    (parts.status, parts.headers, text)
}

fn linked_assets(html: &str) -> Vec<String> {
    html.split("/assets/").skip(1).map(|rest| format!("/assets/{}", rest.split(['"', '\'']).next().unwrap())).collect()
}

#[tokio::test]
async fn pages_link_hashed_assets_that_are_served_immutable() {
    let config = Config { dashboard_url: "partners/home".into(), ..Config::default() };
    let router = router(&config);
    for path in ["/partners/home", REPORTS] {
        let (status, headers, html) = get(&router, path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(headers[header::CACHE_CONTROL], "no-cache");
        assert!(html.contains("&quot;lowCreditThreshold&quot;:500"), "the page config: {html}");
        assert!(html.contains("id=\"local-signin\"") && !html.contains("ally:"), "the shared parts are filled in");
        let assets = linked_assets(&html);
        assert_eq!(assets.len(), 1 + 1 + 7, "the stylesheet, the page script and the import map: {assets:?}");
        for asset in assets {
            let (status, headers, body) = get(&router, &asset).await;
            assert_eq!(status, StatusCode::OK, "{asset}");
            assert_eq!(headers[header::CACHE_CONTROL], "public, max-age=31536000, immutable");
            let hash = asset.rsplit('.').nth(1).unwrap();
            assert_eq!(&hex::encode(Sha256::digest(body.as_bytes()))[..12], hash, "{asset} is named by its content");
        }
        let map = html.split("<script type=\"importmap\">").nth(1).unwrap().split("</script>").next().unwrap();
        let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap().to_string();
        assert!(csp.contains(&format!("'sha256-{}'", STANDARD.encode(Sha256::digest(map.as_bytes())))), "{csp}");
    }
    let (status, _, body) = get(&router, "/assets/app.000000000000.css").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("\"code\":\"not_found\""), "{body}");
}

#[test]
fn cognito_sign_in_is_offered_only_when_configured() {
    assert_eq!(page_config(&Config::default())["signIn"]["mode"], "local");
    let config = Config {
        cognito_domain: Some("https://ally.auth.eu-west-1.amazoncognito.com".into()),
        cognito_client_id: Some("client-1".into()),
        ..Config::default()
    };
    let page = page_config(&config);
    assert_eq!(
        (page["signIn"]["mode"].as_str(), page["signIn"]["clientId"].as_str()),
        (Some("cognito"), Some("client-1"))
    );
    assert!(
        render(ADMIN_HTML, "admin.js", &config).csp.to_str().unwrap().contains("connect-src 'self' https://ally.auth")
    );
}

#[tokio::test]
async fn pages_send_hsts_only_over_https_and_always_their_other_guards() {
    for (public_url, hsts) in [("https://partners.example.com", true), ("http://127.0.0.1:3000", false)] {
        let config = Config { public_url: public_url.into(), ..Config::default() };
        let router = router(&config);
        for path in [dashboard_path(&config).as_str(), REPORTS] {
            let (_, headers, _) = get(&router, path).await;
            assert_eq!(headers.get(header::STRICT_TRANSPORT_SECURITY).is_some(), hsts, "{public_url}{path}");
            assert_eq!(headers["cross-origin-opener-policy"], "same-origin");
            assert!(headers["permissions-policy"].to_str().unwrap().contains("camera=()"));
        }
    }
}

#[tokio::test]
async fn the_logos_origins_narrow_img_src_when_configured() {
    let csp = |config: &Config| {
        let page = render(PARTNER_HTML, "partner.js", config);
        page.csp.to_str().unwrap().to_string()
    };
    assert!(csp(&Config::default()).contains("img-src 'self' https: data:"));
    let config = Config { logo_origins: vec!["https://cdn.example.com".into()], ..Config::default() };
    assert!(csp(&config).contains("img-src 'self' https://cdn.example.com data:"), "{}", csp(&config));
}
