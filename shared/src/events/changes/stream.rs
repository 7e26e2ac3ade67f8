//! DynamoDB Streams records (`aws_lambda_events`) -> [`ItemChange`]s.

use aws_lambda_events::event::dynamodb::EventRecord;
use serde::de::DeserializeOwned;

use crate::domain::{Reseller, UserId};
use crate::events::{ItemChange, Stored};
use crate::store::keys;

fn parse<T: DeserializeOwned>(image: &serde_dynamo::Item) -> Result<T, String> {
    serde_dynamo::from_item(image.clone()).map_err(|e| e.to_string())
}

fn text(image: &serde_dynamo::Item, name: &str) -> Option<String> {
    match image.get(name) {
        Some(serde_dynamo::AttributeValue::S(s)) => Some(s.clone()),
        _ => None,
    }
}

/// What an image holds, told by its sort key; an empty image (no old image of an insert) is none.
fn stored(image: &serde_dynamo::Item) -> Result<Option<Stored>, String> {
    if image.is_empty() {
        return Ok(None);
    }
    let sk = text(image, "sk").ok_or("the image has no sort key")?;
    let owner = || {
        text(image, "pk")
            .and_then(|pk| pk.strip_prefix(keys::RESELLER_PREFIX).and_then(|user| UserId::parse(user).ok()))
            .ok_or_else(|| "the image has no reseller partition".to_string())
    };
    let item = if sk == keys::PROFILE {
        Stored::Reseller(Box::new(parse::<Reseller>(image)?))
    } else if sk.starts_with(keys::LEDGER_PREFIX) {
        Stored::Entry { owner_id: owner()?, entry: parse(image)? }
    } else if sk.starts_with(keys::CLIENT_PREFIX) {
        Stored::Client(parse(image)?)
    } else if sk.starts_with(keys::SERVICE_PREFIX) {
        Stored::Service(parse(image)?)
    } else if sk.starts_with(keys::HOLD_PREFIX) {
        Stored::Hold(parse(image)?)
    } else if sk.starts_with(keys::TOP_UP_PREFIX) {
        Stored::TopUp(parse(image)?)
    } else if sk.starts_with(keys::SUGGESTION_PREFIX) {
        Stored::Suggestion(parse(image)?)
    } else {
        Stored::Other
    };
    Ok(Some(item))
}

/// The id to report a record by when it fails (its sequence number), and its change.
pub fn change_of(record: &EventRecord) -> (String, Result<ItemChange, String>) {
    let report_id = record.change.sequence_number.clone().unwrap_or_else(|| record.event_id.clone());
    let change = (|| {
        Ok(ItemChange {
            id: record.event_id.clone(),
            at: record.change.approximate_creation_date_time,
            old: stored(&record.change.old_image)?,
            new: stored(&record.change.new_image)?,
        })
    })();
    (report_id, change)
}

/// A stream record as the publisher takes it: its change, and the whole record to park.
pub fn record_of(record: &EventRecord) -> crate::events::publisher::Record {
    let (report_id, change) = change_of(record);
    let whole = serde_json::to_value(record).unwrap_or_else(|e| serde_json::json!({ "unserialisable": e.to_string() }));
    crate::events::publisher::Record { report_id, change, whole }
}
