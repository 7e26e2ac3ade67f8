//! The browser pages' files, kept apart from the Rust that serves them and built into the
//! binary that links this crate: the partner dashboard, the admin reports, the sign-in
//! they share, and the CSS and JavaScript modules they load. `shared/src/http/pages.rs`
//! serves them (hashed names, caching, the content security policy).

/// The admin report page's path (mail links to it, the router serves it).
pub const REPORTS: &str = "/admin/reports";

/// A file built into the binary.
pub struct Asset {
    pub name: &'static str,
    pub bytes: &'static [u8],
    pub content_type: &'static str,
}

const JS: &str = "text/javascript; charset=utf-8";

/// The CSS and JavaScript the pages load.
pub static ASSETS: [Asset; 8] = [
    Asset { name: "app.css", bytes: include_bytes!("../assets/app.css"), content_type: "text/css; charset=utf-8" },
    Asset { name: "api.js", bytes: include_bytes!("../assets/api.js"), content_type: JS },
    Asset { name: "ui.js", bytes: include_bytes!("../assets/ui.js"), content_type: JS },
    Asset { name: "session.js", bytes: include_bytes!("../assets/session.js"), content_type: JS },
    Asset { name: "chart.js", bytes: include_bytes!("../assets/chart.js"), content_type: JS },
    Asset { name: "alerts.js", bytes: include_bytes!("../assets/alerts.js"), content_type: JS },
    Asset { name: "partner.js", bytes: include_bytes!("../assets/partner.js"), content_type: JS },
    Asset { name: "admin.js", bytes: include_bytes!("../assets/admin.js"), content_type: JS },
];

/// The partner dashboard.
pub const PARTNER_HTML: &str = include_str!("../assets/partner.html");
/// The admin reports.
pub const ADMIN_HTML: &str = include_str!("../assets/admin.html");
/// The signed-in user, sign-out and the sign-in, the same on both pages.
pub const SIGN_IN_HTML: &str = include_str!("../assets/signin.html");
