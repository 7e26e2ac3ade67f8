//! Every key format of the single table, in one place.

/// Partition-key prefix of everything a reseller owns.
pub const RESELLER_PREFIX: &str = "RESELLER#";

/// Partition of everything a reseller owns.
pub fn reseller(user_id: &str) -> String {
    format!("{RESELLER_PREFIX}{user_id}")
}

/// Sort key of the profile + wallet item.
pub const PROFILE: &str = "PROFILE";

/// Sort key of a reseller's whitelabel metadata, an item of its own beside the wallet.
pub const METADATA: &str = "METADATA";

/// Partition (and sort key) of the item that reserves a refid.
pub fn refid(refid: &str) -> String {
    format!("REFID#{refid}")
}

/// Sort key of the refid item.
pub const REFID: &str = "REFID";

/// Sort-key prefix of ledger entries.
pub const LEDGER_PREFIX: &str = "TXN#";

/// Sort key of a ledger entry.
pub fn ledger_entry(id: &str) -> String {
    format!("{LEDGER_PREFIX}{id}")
}

/// Sort key of an idempotency record.
pub fn idempotency(key: &str) -> String {
    format!("IDEMP#{key}")
}

/// Sort-key prefix of clients.
pub const CLIENT_PREFIX: &str = "CLIENT#";

/// Sort key of a client.
pub fn client(id: &str) -> String {
    format!("{CLIENT_PREFIX}{id}")
}

/// Sort-key prefix of services.
pub const SERVICE_PREFIX: &str = "SERVICE#";

/// Sort key of a provisioned service.
pub fn service(id: &str) -> String {
    format!("{SERVICE_PREFIX}{id}")
}

/// Index listing resellers by tier.
pub const BY_TIER_INDEX: &str = "by-tier";
/// Index listing resellers by status.
pub const BY_STATUS_INDEX: &str = "by-status";

/// Partition of the by-tier index.
pub fn tier_partition(tier: crate::domain::Tier) -> String {
    format!("TIER#{tier}")
}

/// Partition of the by-status index.
pub fn status_partition(status: crate::domain::Status) -> String {
    format!("STATUS#{status}")
}

/// Sort key of both reseller indexes: onboarding time, then user id for uniqueness.
pub fn reseller_order(created_at: &chrono::DateTime<chrono::Utc>, user_id: &str) -> String {
    format!("{}#{user_id}", created_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
}

/// Index listing the resellers with counters on a day (for top resellers).
pub const BY_DAY_INDEX: &str = "by-day";

/// Index listing the resellers with counters in a month (for top resellers).
pub const BY_MONTH_INDEX: &str = "by-month";

/// How many partitions a period's entries of the by-day and by-month indexes are spread
/// over: each reseller writes its entry once per period, and the shards keep the burst of
/// first writes (1,000,000 resellers whose first operation of the day, or of the month,
/// falls in its first minute: ~16,700 index writes a second) at about half of one
/// partition's 1,000 writes a second each (CAPACITY.md). A reseller always lands in the
/// same shard.
pub const ACTIVE_SHARDS: u8 = 32;

/// How many partitions each sparse list of the `by-status` index (active holds, expiring
/// lots, pending top-ups and fills, open figures) is spread over: an item enters and leaves
/// its list with the money write that opens and closes it, so a list's writes follow the
/// money rate; 16 keep the busiest (holds) under one partition's 1,000 writes a second at
/// the network's goal rate (CAPACITY.md). The sweeper reads every shard.
pub const SPARSE_SHARDS: u8 = 16;

/// The shard of `id` among `shards`: a stable hash (`shards` divides 256, so each is as likely).
fn shard_of(id: &str, shards: u8) -> u8 {
    let digest = <sha2::Sha256 as sha2::Digest>::digest(id.as_bytes());
    digest[0] % shards
}

/// The by-day and by-month shard of a reseller.
pub fn active_shard(user_id: &str) -> u8 {
    shard_of(user_id, ACTIVE_SHARDS)
}

/// The partition of `owner`'s items in the sparse `by-status` list `list` (`ACTIVE_HOLDS`...).
pub fn sparse(list: &str, owner: &str) -> String {
    format!("{list}#{}", shard_of(owner, SPARSE_SHARDS))
}

/// Every partition of the sparse list `list`: its shards, and the list itself, where items
/// written before the lists were sharded wait.
pub fn sparse_partitions(list: &str) -> Vec<String> {
    (0..SPARSE_SHARDS).map(|shard| format!("{list}#{shard}")).chain(std::iter::once(list.to_string())).collect()
}

/// Partition of the by-day index: one shard of one day.
pub fn active_day(day: chrono::NaiveDate, shard: u8) -> String {
    format!("DAY#{}#{shard}", day.format("%Y-%m-%d"))
}

/// Partition of the by-month index: one shard of one month.
pub fn active_month(month: chrono::NaiveDate, shard: u8) -> String {
    format!("MONTH#{}#{shard}", month.format("%Y-%m"))
}

/// Partition of a reseller's counters.
pub fn stats(user_id: &str) -> String {
    format!("STATS#{user_id}")
}

/// How many items the base network counters were spread over: the fold writes the first
/// only, and readers still add all of them (a table counted before keeps its figures).
pub const NETWORK_SHARDS: u8 = 16;

/// Partition of one shard of the network's base counters.
pub fn network(shard: u8) -> String {
    format!("NET#{shard}")
}

/// Sort key of one day's counters (and partition of the by-day index).
pub fn day(day: chrono::NaiveDate) -> String {
    format!("DAY#{}", day.format("%Y-%m-%d"))
}

/// Sort key of one month's counters.
pub fn month(month: chrono::NaiveDate) -> String {
    format!("MONTH#{}", month.format("%Y-%m"))
}

/// Sort key of a network shard's running totals (outstanding credits, tier counts).
pub const TOTALS: &str = "TOTALS";

/// Partition (and sort key) of the figures one stream shard's windows added, not yet
/// folded into the base (`NET#0`).
pub fn shard_figures(shard: &str) -> String {
    format!("FIGURES#{shard}")
}

/// The sparse list, in the `by-status` index, of the stream shards' figures not folded
/// yet (an item leaves it when folded), read by every network figure and the fold.
pub const OPEN_FIGURES: &str = "FIGURES#OPEN";

/// Partition (and sort key) of a claim: work done once.
pub fn claim(key: &str) -> String {
    format!("ONCE#{key}")
}

/// Prefix of a hold's sort key.
pub const HOLD_PREFIX: &str = "HOLD#";

/// Sort key of a hold.
pub fn hold(id: &str) -> String {
    format!("{HOLD_PREFIX}{id}")
}

/// The sparse list, in the `by-status` index, of the active holds (a hold leaves it when it
/// closes), over `SPARSE_SHARDS` partitions, read by the hold sweeper by expiry.
pub const ACTIVE_HOLDS: &str = "HOLD#ACTIVE";

/// Sort key of an active hold in that partition: its expiry (fixed width, so text order is
/// time order), then its owner and id.
pub fn active_hold_order(expires_at: &chrono::DateTime<chrono::Utc>, user_id: &str, id: &str) -> String {
    format!("{}#{user_id}#{id}", expires_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
}

/// The sparse list, in the `by-status` index, of the idempotency records whose bulk fill is
/// pending (only those records carry it), over `SPARSE_SHARDS` partitions, read by the sweeper.
pub const PENDING_FILLS: &str = "FILL#PENDING";

/// Sort key of a pending fill in that partition: the charge's time, then its owner.
pub fn pending_fill_order(created_at: &chrono::DateTime<chrono::Utc>, user_id: &str) -> String {
    format!("{}#{user_id}", created_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
}

/// Sort key of a referrer's reward slots of one month (its own item).
pub fn reward_slots(month: chrono::NaiveDate) -> String {
    format!("REWARDS#{}", month.format("%Y-%m"))
}

/// Partition of the referrals waiting for `user_id` to become a reseller.
pub fn referred(user_id: &str) -> String {
    format!("REFERRED#{user_id}")
}

/// Prefix of a waiting referral's sort key.
pub const REFERRAL_PREFIX: &str = "REFERRAL#";

/// Sort key of a waiting referral.
pub fn referral(referral_id: &str) -> String {
    format!("{REFERRAL_PREFIX}{referral_id}")
}

/// Partition (and sort key) of an external payment's network-wide receipt.
pub fn payment_receipt(key: &str) -> String {
    format!("RECEIPT#{key}")
}

/// Partition (and sort key) of a long job's checkpoint.
pub fn checkpoint(key: &str) -> String {
    format!("CHECKPOINT#{key}")
}

/// Prefix of a credit lot's sort key.
pub const LOT_PREFIX: &str = "LOT#";

/// Sort key of a credit lot (its id is its credit entry's ULID: lots sort by time).
pub fn lot(id: &str) -> String {
    format!("{LOT_PREFIX}{id}")
}

/// Prefix of the sort keys of the open lots that wait beside the wallet (past the ones it
/// carries).
pub const LOT_BESIDE_WALLET_PREFIX: &str = "WALLET#LOT#";

/// Sort key of an open lot waiting beside the wallet.
pub fn lot_beside_wallet(id: &str) -> String {
    format!("{LOT_BESIDE_WALLET_PREFIX}{id}")
}

/// The sparse list, in the `by-status` index, of the lots with an expiry not yet taken (a
/// lot leaves it when the expiry job has seen it), over `SPARSE_SHARDS` partitions, read
/// by the expiry job by expiry.
pub const EXPIRING_LOTS: &str = "LOT#EXPIRING";

/// Sort key of a lot in that partition: its expiry, then its owner and id.
pub fn expiring_lot_order(expires_at: &chrono::DateTime<chrono::Utc>, user_id: &str, id: &str) -> String {
    active_hold_order(expires_at, user_id, id)
}

/// Sort key of a reseller's tree item: the version of the tree below it, changed by a
/// reseller hung anywhere below, beside the wallet so that never writes the wallet.
pub const TREE: &str = "TREE";

/// Prefix of a child link's sort key, in its parent's partition.
pub const CHILD_PREFIX: &str = "CHILD#";

/// Sort key of the link to a sub-reseller: its onboarding time, then its user id, so the
/// children list newest first.
pub fn child(created_at: &chrono::DateTime<chrono::Utc>, user_id: &str) -> String {
    format!("{CHILD_PREFIX}{}", reseller_order(created_at, user_id))
}

/// Partition of the items waiting in `group` (sort key: the item's id).
pub fn waiting(group: &str) -> String {
    format!("WAIT#{group}")
}

/// Prefix of an auto top-up request's sort key.
pub const TOP_UP_PREFIX: &str = "TOPUP#";

/// Sort key of an auto top-up request.
pub fn top_up(id: &str) -> String {
    format!("{TOP_UP_PREFIX}{id}")
}

/// The sparse list, in the `by-status` index, of the auto top-up requests still pending (a
/// request leaves it when paid, failed or cancelled), over `SPARSE_SHARDS` partitions, read
/// by the sweeper by age.
pub const PENDING_TOP_UPS: &str = "TOPUP#PENDING";

/// Sort key of a request in that partition: when it was made, then its owner and id.
pub fn pending_top_up_order(requested_at: &chrono::DateTime<chrono::Utc>, user_id: &str, id: &str) -> String {
    active_hold_order(requested_at, user_id, id)
}

/// Prefix of an upgrade suggestion's sort key.
pub const SUGGESTION_PREFIX: &str = "SUGGESTION#";

/// Sort key of the upgrade suggested to a reseller for a month: one per month.
pub fn suggestion(month: chrono::NaiveDate) -> String {
    format!("{SUGGESTION_PREFIX}{}", month.format("%Y-%m"))
}
