//! The monthly report: a statement for every active partner for the previous month, and an
//! admin summary. Each partner's statement is its own unit of work, sent once under its own
//! key; walked page by page through the by-status index (never a Scan), and resumable: a
//! run near its time limit, or held back by the mail service, saves its cursor and stops;
//! the next run goes on from there. One partner's failure never stops the others: a
//! refusal for good is recorded and counted, a passing failure is counted and tried again
//! by the next run (which walks the month again once this walk is over).

use chrono::{Datelike, Duration, NaiveDate};

use crate::Ally;
use crate::domain::{Activity, AllyError, DateRange, Ranking, Reseller, Status, UpgradeSuggestion};
use crate::events::mail::{Delivery, Mail, Mailer, footer_html, footer_text, html_escape, plain, send_once};
use crate::metrics::{Metric, record};
use crate::store::{Granularity, PageRequest, ResellerFilter, Store};

/// How long a run waits, doubling each time, while the mail service holds sends back,
/// before it stops and leaves the rest to the next run.
const THROTTLE_WAITS_MS: [u64; 3] = [1_000, 2_000, 4_000];

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReportRun {
    /// Mails sent by this run.
    pub sent: u32,
    /// Statements the mail service refused for good (recorded; never tried again).
    pub refused: u32,
    /// Statements a passing failure kept from this run: the next run tries them again.
    pub deferred: u32,
    /// The month's report is complete.
    pub done: bool,
}

/// A partner's month.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub opening_balance: i64,
    pub closing_balance: i64,
    pub activity: Activity,
}

/// The month before the one holding `day`, as its first day.
pub fn previous_month(day: NaiveDate) -> NaiveDate {
    let first = day.with_day(1).unwrap_or(day);
    (first - Duration::days(1)).with_day(1).unwrap_or(first)
}

fn month_range(month: NaiveDate) -> DateRange {
    let next = (month + Duration::days(32)).with_day(1).unwrap_or(month);
    DateRange { start: month, end: next - Duration::days(1) }
}

/// The statement of `reseller` for `month`, from counters: the closing balance is today's
/// balance less what moved since the month ended; the opening is the closing less the month.
pub async fn statement<S: Store>(
    ally: &Ally<S>,
    reseller: &Reseller,
    month: NaiveDate,
    today: NaiveDate,
) -> Result<Statement, AllyError> {
    let range = month_range(month);
    let store = ally.store();
    let activity = store.activity(Some(&reseller.user_id), &range, Granularity::Month).await?.into_values().fold(
        Activity::default(),
        |mut sum, a| {
            sum += a;
            sum
        },
    );
    let mut since = Activity::default();
    if range.end < today {
        let after = DateRange { start: range.end + Duration::days(1), end: today };
        for a in store.activity(Some(&reseller.user_id), &after, Granularity::Month).await?.into_values() {
            since += a;
        }
    }
    // What moved the balance: credits in, less spent, less expired unspent.
    let moved = |a: &Activity| a.credits_added - a.credits_spent - a.credits_expired;
    let closing_balance = reseller.balance - moved(&since);
    let opening_balance = closing_balance - moved(&activity);
    Ok(Statement { opening_balance, closing_balance, activity })
}

fn statement_mail(reseller: &Reseller, to: String, month: NaiveDate, s: &Statement, link: &str) -> Mail {
    let label = month.format("%B %Y");
    let rows = [
        ("Opening balance", s.opening_balance),
        ("Credits added", s.activity.credits_added),
        ("Credits spent", s.activity.credits_spent),
        ("Credits expired", s.activity.credits_expired),
        ("Services provisioned", s.activity.provisions),
        ("New clients", s.activity.acquisitions),
        ("Closing balance", s.closing_balance),
    ];
    let text = rows.iter().map(|(k, v)| format!("{k}: {v}\n")).collect::<String>();
    let html_rows = rows.iter().map(|(k, v)| format!("<tr><th>{k}</th><td>{v}</td></tr>")).collect::<String>();
    Mail {
        to,
        subject: format!("Your Ally statement for {label}"),
        text: format!(
            "Hello {},\n\nYour statement for {label}:\n\n{text}\nDashboard: {link}\n{}",
            plain(reseller.company.as_str()),
            footer_text(link)
        ),
        html: format!(
            "<p>Hello {},</p><p>Your statement for {label}:</p><table>{html_rows}</table><p><a href=\"{}\">Dashboard</a></p>{}",
            html_escape(&plain(reseller.company.as_str())),
            html_escape(link),
            footer_html(link)
        ),
    }
}

async fn summary_mail<S: Store>(
    ally: &Ally<S>,
    to: String,
    month: NaiveDate,
    upgrades: &[UpgradeSuggestion],
) -> Result<Mail, AllyError> {
    let top = ally.top_resellers(&month_range(month), 10, Ranking::Acquisitions).await?;
    let tiers = ally.tier_snapshot().await?;
    let total = ally.total_credits().await?;
    let label = month.format("%B %Y");
    let lines: String = top
        .iter()
        .map(|t| {
            format!(
                "{} ({}, {}): {} clients, {} credits spent\n",
                plain(t.company.as_str()),
                t.refid,
                t.tier,
                t.acquisitions,
                t.credits_spent
            )
        })
        .collect();
    let candidates: String = match upgrades {
        [] => "none\n".to_string(),
        _ => upgrades
            .iter()
            .map(|s| {
                let done = if s.applied_at.is_some() { " (applied)" } else { "" };
                format!("{}: {} to {}, {} clients{done}\n", s.refid, s.tier, s.suggested_tier, s.acquisitions)
            })
            .collect(),
    };
    let text = format!(
        "Ally summary for {label}\n\nTop resellers:\n{lines}\nUpgrade candidates:\n{candidates}\n\
         Tiers: {} platinum, {} gold, {} standard\nOutstanding credits: {total}\n",
        tiers.platinum, tiers.gold, tiers.standard
    );
    let link = ally.config().reports_link();
    Ok(Mail {
        to,
        subject: format!("Ally summary for {label}"),
        html: format!(
            "<pre>{}</pre><p><a href=\"{}\">Reports</a></p>{}",
            html_escape(&text),
            html_escape(&link),
            footer_html(&link)
        ),
        text: format!("{text}\nReports: {link}\n{}", footer_text(&link)),
    })
}

/// Runs (or resumes) the report for `month`. `time_left` says whether another page fits
/// before the function's time limit.
pub async fn run_monthly_report<S: Store, M: Mailer>(
    ally: &Ally<S>,
    mailer: &M,
    month: NaiveDate,
    today: NaiveDate,
    time_left: impl Fn() -> bool,
) -> Result<ReportRun, AllyError> {
    let store = ally.store();
    let tag = month.format("%Y-%m").to_string();
    let done_key = format!("report:{tag}:done");
    let checkpoint_key = format!("report:{tag}");
    let again_key = format!("report:{tag}:again");
    let mut run = ReportRun::default();
    if store.checkpoint(&done_key).await?.is_some() {
        run.done = true;
        return Ok(run);
    }
    let link = ally.config().dashboard_link();
    let mut cursor = store.checkpoint(&checkpoint_key).await?.filter(|c| !c.is_empty());
    loop {
        let page = PageRequest { limit: 25, cursor: cursor.clone() };
        let resellers = store.resellers(ResellerFilter::Status(Status::Active), &page).await?;
        for reseller in &resellers.items {
            // Out of time mid-page (a run sends at least one, so every run moves on): this
            // page again, next run (its sent are claimed).
            if run.sent + run.refused + run.deferred > 0 && !time_left() {
                return Ok(run);
            }
            let Some(to) = reseller.email.as_ref().map(ToString::to_string) else { continue };
            let claim = format!("statement:{tag}:{}", reseller.user_id);
            let compose = || {
                let (to, link) = (to.clone(), &link);
                async move {
                    let s = statement(ally, reseller, month, today).await?;
                    Ok(statement_mail(reseller, to, month, &s, link))
                }
            };
            match send_backing_off(store, mailer, &claim, compose, &time_left).await {
                Ok(Delivery::Sent) => run.sent += 1,
                Ok(Delivery::Refused) => run.refused += 1,
                Ok(Delivery::AlreadySent | Delivery::Suppressed) => {}
                // Held back past the waits: this page again, next run (its sent are claimed).
                Err(AllyError::Throttled) => return Ok(run),
                Err(e) => {
                    tracing::error!(reseller = %reseller.refid, error = %e, "a statement not sent; the next run tries again");
                    record(&[Metric::StatementDeferred]);
                    store.save_checkpoint(&again_key, "yes").await?;
                    run.deferred += 1;
                }
            }
        }
        cursor = resellers.next_cursor;
        store.save_checkpoint(&checkpoint_key, cursor.as_deref().unwrap_or("")).await?;
        if cursor.is_none() {
            break;
        }
        if !time_left() {
            return Ok(run);
        }
    }
    // A walk that left statements behind (this run's or an earlier one's) is walked again
    // by the next run, from the start: the sent are claimed, so only those are sent.
    if store.checkpoint(&again_key).await?.is_some_and(|again| !again.is_empty()) {
        store.save_checkpoint(&again_key, "").await?;
        return Ok(run);
    }
    // Suggested (and, with auto-upgrade, applied) once each, whoever gets the summary.
    let upgrades = ally.suggest_upgrades(month).await?;
    if let Some(admin) = ally.config().admin_email.clone() {
        let summary = || summary_mail(ally, admin.clone(), month, &upgrades);
        match send_backing_off(store, mailer, &format!("summary:{tag}"), summary, &time_left).await {
            Ok(Delivery::Sent) => run.sent += 1,
            Ok(Delivery::Refused) => run.refused += 1,
            Ok(Delivery::AlreadySent | Delivery::Suppressed) => {}
            // Held back: the next run sends it (the statements are all claimed).
            Err(AllyError::Throttled) => return Ok(run),
            Err(e) => return Err(e),
        }
    }
    store.save_checkpoint(&done_key, "done").await?;
    run.done = true;
    Ok(run)
}

/// [`send_once`], waiting [`THROTTLE_WAITS_MS`] in turn while the mail service holds sends
/// back and time is left; `AllyError::Throttled` when it still does.
async fn send_backing_off<S: Store, M: Mailer, F: Future<Output = Result<Mail, AllyError>>>(
    store: &S,
    mailer: &M,
    key: &str,
    compose: impl Fn() -> F,
    time_left: &impl Fn() -> bool,
) -> Result<Delivery, AllyError> {
    let mut waits = THROTTLE_WAITS_MS.iter();
    loop {
        match send_once(store, mailer, key, compose()).await {
            Err(AllyError::Throttled) => match waits.next() {
                Some(ms) if time_left() => tokio::time::sleep(std::time::Duration::from_millis(*ms)).await,
                _ => {
                    tracing::warn!(%key, "the mail service still holds sends back: the next run goes on from here");
                    return Err(AllyError::Throttled);
                }
            },
            outcome => return outcome,
        }
    }
}
