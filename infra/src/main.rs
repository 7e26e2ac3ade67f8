//! `ally-local`: Ally on a laptop.
//!
//! - `ally-local serve` — every route on `ALLY_LOCAL_ADDR` (127.0.0.1:3000) over the embedded
//!   store kept in `ALLY_LOCAL_DATA` (`.ally/`), identity from local HS256 tokens.
//! - `ally-local token <user_id> [--admin] [--email <address> | --no-email] [--hours <n>]` — a token
//!   signed with the dev server's secret.
//! - `ally-local stripe-event <type> --refid <refid> --amount <n>` — a Stripe event signed
//!   with the dev server's Stripe secret, sent to its `/webhooks/stripe`.
//! - `ally-local create-table` — the table `ALLY_TABLE_NAME` on the endpoint of
//!   `AWS_ENDPOINT_URL` (an emulator), for `make watch`.
//! - `ally-local redrive <queue url>` — sends the work parked on a poison or on-failure
//!   queue back through the code that failed on it, run here against the deployment the
//!   environment names (`ALLY_TABLE_NAME`, `ALLY_EVENT_BUS`, `ALLY_MAIL_FROM`, AWS
//!   credentials); a message is deleted only once its work is done.

mod guard;
mod local_events;
mod stripe_event;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use ally::config::{Config, Secret};
use ally::events::local::{LocalBus, Outbox, run_change_feed};
use ally::events::parking::ParkedFiles;
use ally::http::identity::{Claims, mint_hs256};
use ally::http::{HttpApp, local_router};
use ally::store::memory::MemoryStore;
use serde::{Deserialize, Serialize};

type Failure = Box<dyn std::error::Error + Send + Sync>;

/// Secrets the dev server made for itself, kept so tokens survive a restart.
#[derive(Serialize, Deserialize)]
struct LocalSecrets {
    jwt: String,
    webhook: String,
    cursor: String,
    /// Kept apart from the others: a secrets file from before Stripe gets one added.
    #[serde(default = "stripe_secret")]
    stripe: String,
}

fn stripe_secret() -> String {
    format!("whsec_{}", random_secret())
}

fn random_secret() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

/// The configuration with every secret filled: from the environment, else from
/// `<data>/secrets.json`, else new random ones saved there.
fn config_with_secrets() -> Result<Config, Failure> {
    let mut config = Config::from_env()?;
    let data = PathBuf::from(&config.local_data);
    std::fs::create_dir_all(&data)?;
    let file = data.join("secrets.json");
    let saved: LocalSecrets = match std::fs::read(&file) {
        Ok(bytes) => serde_json::from_slice(&bytes)?,
        Err(_) => {
            let fresh = LocalSecrets {
                jwt: random_secret(),
                webhook: random_secret(),
                cursor: random_secret(),
                stripe: stripe_secret(),
            };
            std::fs::write(&file, serde_json::to_vec_pretty(&fresh)?)?;
            fresh
        }
    };
    config.local_jwt_secret.get_or_insert(Secret::new(saved.jwt));
    config.webhook_secret.get_or_insert(Secret::new(saved.webhook));
    config.cursor_secret.get_or_insert(Secret::new(saved.cursor));
    config.stripe_webhook_secret.get_or_insert(Secret::new(saved.stripe));
    Ok(config)
}

/// The address a local token carries unless told otherwise, so that mail (alerts,
/// statements) reaches the outbox: the user id if it is an address, else
/// `<user id>@ally.local`.
fn default_email(user_id: &str) -> Option<String> {
    [user_id.to_string(), format!("{user_id}@ally.local")]
        .into_iter()
        .find(|candidate| ally::domain::Email::parse(candidate.as_str()).is_ok())
}

fn token(secret: &Secret, user_id: &str, admin: bool, email: Option<String>, hours: i64) -> String {
    let claims = Claims {
        sub: user_id.to_string(),
        // The dev server is its own identity provider: an address given is taken as verified.
        email_verified: email.is_some(),
        email,
        groups: if admin { vec!["admin".into()] } else { Vec::new() },
        exp: chrono::Utc::now().timestamp() + hours * 3_600,
    };
    mint_hs256(&claims, secret.bytes())
}

async fn serve() -> Result<(), Failure> {
    ally::lambda::init_logging();
    let mut config = config_with_secrets()?;
    let jwt = config.local_jwt_secret.clone().ok_or("no JWT secret")?;
    let webhook = config.webhook_secret.clone().ok_or("no webhook secret")?;
    let stripe = config.stripe_webhook_secret.clone().ok_or("no Stripe secret")?;
    // Bound first: the address printed is the one served (port 0 picks a free one).
    let listener = tokio::net::TcpListener::bind(&config.local_addr).await?;
    let addr = listener.local_addr()?;
    // Links in mail and invites point at this server unless ALLY_PUBLIC_URL says otherwise.
    if std::env::var("ALLY_PUBLIC_URL").is_err() {
        config.public_url = format!("http://{addr}");
    }
    let data = PathBuf::from(&config.local_data);
    let outbox = Arc::new(Outbox::new(&config.local_outbox, &config.mail_from));
    let (store, feed) = MemoryStore::open(data.join("store.json"))?.with_change_feed();
    let pages = ally::http::pages::router(&config);
    let dashboard = format!("http://{addr}{}", ally::http::pages::dashboard_path(&config));
    let ally = Arc::new(ally::Ally::new(store, config));
    let kept = ally.clone();
    let bus = Arc::new(LocalBus::new(ally.clone(), outbox.clone()));
    let parked = ParkedFiles::new(data.join("parked"));
    let change_feed = tokio::spawn(run_change_feed(ally.clone(), bus.clone(), parked, feed));
    let sweeper = tokio::spawn(sweep_every_minute(ally.clone()));
    let router = local_router(HttpApp::new(ally), jwt.bytes())
        .merge(
            local_events::routes(bus, outbox, jwt.clone())
                .layer(axum::middleware::map_response(ally::http::private_answer)),
        )
        .merge(pages);
    let router = guard::own_address_only(router, addr);
    let reset = match std::env::var("ALLY_LOCAL_DATA") {
        Ok(custom) => format!("ALLY_LOCAL_DATA={custom} make reset"),
        Err(_) => "make reset".into(),
    };
    println!("Ally dev server on http://{addr}  (data in {}/, `{reset}` clears it)", data.display());
    println!("{}", guard::banner(addr));
    println!("  ALLY_LOCAL_JWT_SECRET={}", jwt.expose());
    println!("  ALLY_WEBHOOK_SECRET={}", webhook.expose());
    println!("  ALLY_STRIPE_WEBHOOK_SECRET={}  (try: cargo run -q -p ally-local -- stripe-event ...)", stripe.expose());
    println!("  admin token (24 h): {}", token(&jwt, "admin", true, Some("admin@ally.local".into()), 24));
    println!("  more tokens: make -s token USER_ID=<user_id> [ADMIN=1]   (ally-local --help: the other tools)");
    println!("  pages: {dashboard} and http://{addr}{}", ally::http::pages::REPORTS);
    let served = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, served).with_graceful_shutdown(shutdown()).await?;
    // The change feed's reactions stop, then the store file gets the last writes (it is
    // otherwise rewritten shortly after them).
    sweeper.abort();
    change_feed.abort();
    let _ = change_feed.await;
    kept.store().flush()?;
    Ok(())
}

/// The template's sweeper schedule, in process: holds and lots past their end, bulk fills
/// left pending, auto top-up requests nothing paid within a day.
async fn sweep_every_minute(ally: Arc<ally::Ally<MemoryStore>>) {
    let mut minute = tokio::time::interval(std::time::Duration::from_secs(60));
    loop {
        minute.tick().await;
        if let Err(e) = ally::events::handlers::sweep(&ally).await {
            tracing::error!(error = %e, "the local sweep failed; the next minute tries again");
        }
    }
}

/// Ctrl-C or SIGTERM (a process manager stopping the server).
async fn shutdown() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}

fn mint(args: &[String]) -> Result<(), Failure> {
    let usage = "usage: ally-local token <user_id> [--admin] [--email <address> | --no-email] [--hours <n>]";
    let user_id = args.first().filter(|a| !a.starts_with("--")).ok_or(usage)?;
    ally::domain::UserId::parse(user_id.as_str())?;
    let mut admin = false;
    let mut email = default_email(user_id);
    let mut hours = 24;
    let mut rest = args[1..].iter();
    while let Some(flag) = rest.next() {
        match flag.as_str() {
            "--admin" => admin = true,
            "--email" => email = Some(rest.next().ok_or(usage)?.clone()),
            "--no-email" => email = None,
            "--hours" => hours = rest.next().ok_or(usage)?.parse().map_err(|_| usage)?,
            _ => return Err(usage.into()),
        }
    }
    let config = config_with_secrets()?;
    let secret = config.local_jwt_secret.ok_or("no JWT secret")?;
    println!("{}", token(&secret, user_id, admin, email, hours));
    // On stderr, so `$(ally-local token ...)` keeps only the token: which server takes it.
    let signed_with = match std::env::var("ALLY_LOCAL_JWT_SECRET") {
        Ok(_) => "ALLY_LOCAL_JWT_SECRET".to_string(),
        Err(_) => format!("{}/secrets.json", config.local_data),
    };
    eprintln!("ally-local: signed with {signed_with}: the dev server started with the same takes it");
    Ok(())
}

async fn create_table() -> Result<(), Failure> {
    let config = Config::from_env()?;
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    ally::store::dynamo::create_table(&client, &config.table_name, ally::store::dynamo::ChangeStream::On).await?;
    println!("created table {}", config.table_name);
    Ok(())
}

async fn redrive(args: &[String]) -> Result<(), Failure> {
    let queue_url = match args {
        [url] if url.starts_with("https://") || url.starts_with("http://") => url,
        _ => return Err("usage: ally-local redrive <queue url>".into()),
    };
    let services = ally::lambda::services().await?;
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let outcome =
        ally::events::redrive::redrive(&services.ally, &services.bus, &services.mailer, &sqs, queue_url).await?;
    println!("{}", serde_json::to_string(&outcome)?);
    if outcome.failed + outcome.unreadable > 0 {
        return Err(format!(
            "{} failed again and {} unreadable: left on the queue",
            outcome.failed, outcome.unreadable
        )
        .into());
    }
    Ok(())
}

/// Rebuilds the network figures of the table `ALLY_TABLE_NAME` from the resellers' own
/// counters, from a day on (docs: the runbook's "The network figures are wrong").
async fn recount(args: &[String]) -> Result<(), Failure> {
    let usage = "usage: ally-local recount --from <YYYY-MM-DD>";
    let from = match args {
        [flag, day] if flag == "--from" => day.parse::<chrono::NaiveDate>().map_err(|_| usage)?,
        _ => return Err(usage.into()),
    };
    let services = ally::lambda::services().await?;
    let recount = services.ally.recount_network_figures(from).await?;
    println!("{}", serde_json::to_string(&recount)?);
    Ok(())
}

/// What `ally-local --help` says.
const HELP: &str = "ally-local: Ally on a laptop

  ally-local serve                 every route on ALLY_LOCAL_ADDR (127.0.0.1:3000), data in ALLY_LOCAL_DATA (.ally)
  ally-local token <user_id> [--admin] [--email <address> | --no-email] [--hours <n>]
                                   a token the dev server of the same ALLY_LOCAL_DATA takes
  ally-local stripe-event <type> --refid <refid> --amount <minor units> [--payment pi_...] [--url <dev server>]
                                   a Stripe event signed with that dev server's Stripe secret, sent to it
  ally-local create-table          the table ALLY_TABLE_NAME at AWS_ENDPOINT_URL (make watch)
  ally-local redrive <queue url>   failed work on a queue done again, against the deployment the environment names
  ally-local recount --from <YYYY-MM-DD>
                                   the network figures rebuilt from the resellers' own counters

Each reads the same settings as serve (the environment, then ALLY_LOCAL_DATA's secrets.json).
`<command> --help` says more.";

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let help = |command: &str| args.get(1).is_some_and(|a| a == "--help" || a == "-h") && args[0] == command;
    let result = match args.first().map(String::as_str) {
        Some("--help" | "-h" | "help") => {
            println!("{HELP}");
            Ok(())
        }
        Some(command @ ("serve" | "token" | "create-table" | "redrive" | "recount")) if help(command) => {
            let line =
                HELP.lines().skip_while(|l| !l.trim_start().starts_with(&format!("ally-local {command}"))).take(2);
            println!("{}", line.collect::<Vec<_>>().join("\n"));
            Ok(())
        }
        None | Some("serve") => serve().await,
        Some("token") => mint(&args[1..]),
        Some("stripe-event") => config_with_secrets().and_then(|config| stripe_event::send(&config, &args[1..])),
        Some("create-table") => create_table().await,
        Some("redrive") => redrive(&args[1..]).await,
        Some("recount") => recount(&args[1..]).await,
        Some(other) => Err(format!(
            "unknown command `{other}` (serve, token, stripe-event, create-table, redrive, recount; --help says more)"
        )
        .into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ally-local: {e}");
            ExitCode::FAILURE
        }
    }
}
