//! The monthly report: a statement for every active partner for the previous month, and an
//! admin summary. Idempotent per month (each mail is claimed once), walked page by page
//! through the by-status index (never a Scan), and resumable: a run near its time limit
//! saves its cursor and stops; the next run goes on from there.

use chrono::{Datelike, Duration, NaiveDate};

use super::mail::{Mail, Mailer, footer_html, footer_text, html_escape, plain, send_once};
use crate::Ally;
use crate::domain::{Activity, AllyError, DateRange, Reseller, Status, UpgradeSuggestion};
use crate::store::{Granularity, PageRequest, ResellerFilter, Store};

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportRun {
    /// Mails sent by this run.
    pub sent: u32,
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
    let top = ally.top_resellers(&month_range(month), 10).await?;
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
    let mut run = ReportRun { sent: 0, done: false };
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
            let Some(to) = reseller.email.as_ref().map(ToString::to_string) else { continue };
            let claim = format!("statement:{tag}:{}", reseller.user_id);
            let compose = async {
                let s = statement(ally, reseller, month, today).await?;
                Ok(statement_mail(reseller, to, month, &s, &link))
            };
            if send_once(store, mailer, &claim, compose).await? {
                run.sent += 1;
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
    // Suggested (and, with auto-upgrade, applied) once each, whoever gets the summary.
    let upgrades = ally.suggest_upgrades(month).await?;
    if let Some(admin) = ally.config().admin_email.clone()
        && send_once(store, mailer, &format!("summary:{tag}"), summary_mail(ally, admin, month, &upgrades)).await?
    {
        run.sent += 1;
    }
    store.save_checkpoint(&done_key, "done").await?;
    run.done = true;
    Ok(run)
}
