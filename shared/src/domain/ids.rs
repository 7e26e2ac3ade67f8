//! Parse, don't validate: every identifier and free-text field the API takes is a newtype
//! built only through its checked constructor. Each type's rule, its pattern and its
//! length live here once; its JSON schema (for the OpenAPI document) is written from the
//! same constants, so the document cannot drift from what is accepted. (One file of about
//! 400 lines because the types share one macro and the rules are easiest compared side by
//! side.)

use std::borrow::Cow;
use std::fmt;
use std::ops::Deref;

use rand::Rng;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::AllyError;

/// A string newtype: checked constructor, `Deref<Target = str>`, serialised as its text,
/// deserialised through the check, with a hand-written schema.
macro_rules! text_type {
    ($(#[$doc:meta])* $name:ident, $schema:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            /// The text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                $name::parse(text).map_err(serde::de::Error::custom)
            }
        }

        impl JsonSchema for $name {
            fn inline_schema() -> bool {
                true
            }
            fn schema_name() -> Cow<'static, str> {
                stringify!($name).into()
            }
            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                $schema
            }
        }
    };
}

/// Text without control characters (C0, DEL, C1), and not only white space: the shape of
/// every display name.
const NAME_PATTERN: &str =
    r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$";
/// Longest display name, in characters.
const NAME_MAX: usize = 200;

/// A display name: 1..=200 characters, not blank, no control characters; kept trimmed.
fn parse_name(field: &str, name: String) -> Result<String, AllyError> {
    let len = name.chars().count();
    if name.trim().is_empty() || len > NAME_MAX || name.chars().any(char::is_control) {
        return Err(AllyError::validation(format!(
            "{field} must be 1 to {NAME_MAX} characters, not blank, without control characters"
        )));
    }
    Ok(name.trim().to_string())
}

fn name_schema() -> Schema {
    json_schema!({"type": "string", "minLength": 1, "maxLength": NAME_MAX, "pattern": NAME_PATTERN})
}

const USER_ID_MAX: usize = 128;

text_type!(
    /// The identity provider's subject (`sub`): 1..=128 of `[A-Za-z0-9._@:-]`. Part of
    /// every key a partner owns.
    UserId,
    json_schema!({"type": "string", "pattern": "^[A-Za-z0-9._@:-]{1,128}$"})
);

impl UserId {
    /// Checks the shape of a user id.
    pub fn parse(user_id: impl Into<String>) -> Result<Self, AllyError> {
        let user_id = user_id.into();
        let ok = !user_id.is_empty()
            && user_id.len() <= USER_ID_MAX
            && user_id.bytes().all(|b| b.is_ascii_alphanumeric() || b"._@:-".contains(&b));
        if ok {
            Ok(Self(user_id))
        } else {
            Err(AllyError::validation("user_id must be 1 to 128 characters of A-Z, a-z, 0-9 and . _ @ : -"))
        }
    }
}

/// Length of a refid: 10 Crockford base-32 characters, about 50 bits.
const REFID_LEN: usize = 10;
const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

text_type!(
    /// A reseller's public reference (unique), used by admins and payment providers:
    /// 10 Crockford base-32 characters.
    RefId,
    json_schema!({"type": "string", "pattern": "^[0-9A-HJKMNP-TV-Z]{10}$"})
);

impl RefId {
    /// Checks that `refid` has the shape of one Ally issued, before it is used in a key.
    pub fn parse(refid: impl Into<String>) -> Result<Self, AllyError> {
        let refid = refid.into();
        if refid.len() == REFID_LEN && refid.bytes().all(|b| CROCKFORD.contains(&b)) {
            Ok(Self(refid))
        } else {
            Err(AllyError::validation("refid must be 10 characters of 0-9 and A-Z (Crockford base 32)"))
        }
    }

    /// A fresh random refid. Uniqueness is enforced by the store, which refuses a taken one.
    pub fn random() -> Self {
        let mut rng = rand::rng();
        Self((0..REFID_LEN).map(|_| char::from(CROCKFORD[rng.random_range(0..32)])).collect())
    }
}

text_type!(
    /// A client's id: the ULID Ally gave it (26 Crockford base-32 characters).
    ClientId,
    json_schema!({"type": "string", "pattern": "^[0-7][0-9A-HJKMNP-TV-Z]{25}$"})
);

impl ClientId {
    /// Checks that `id` is a ULID in its canonical (upper-case) form.
    pub fn parse(id: impl Into<String>) -> Result<Self, AllyError> {
        let id = id.into();
        match id.parse::<ulid::Ulid>() {
            Ok(ulid) if ulid.to_string() == id => Ok(Self(id)),
            _ => Err(AllyError::validation("a client id is a ULID (26 characters of 0-9 and A-Z)")),
        }
    }

    /// A new time-ordered client id.
    pub fn new() -> Self {
        Self(super::new_id())
    }

    /// An id Ally derived itself (a bulk onboarding's), already a ULID.
    pub(crate) fn from_ulid(ulid: ulid::Ulid) -> Self {
        Self(ulid.to_string())
    }
}

impl Default for ClientId {
    fn default() -> Self {
        Self::new()
    }
}

text_type!(
    /// A reseller's company name: 1..=200 characters, not blank, no control characters.
    CompanyName,
    name_schema()
);

impl CompanyName {
    /// Checks a company name and trims it.
    pub fn parse(name: impl Into<String>) -> Result<Self, AllyError> {
        parse_name("company", name.into()).map(Self)
    }
}

text_type!(
    /// A client's name: the same rule as a company name.
    ClientName,
    name_schema()
);

impl ClientName {
    /// Checks a client name and trims it.
    pub fn parse(name: impl Into<String>) -> Result<Self, AllyError> {
        parse_name("name", name.into()).map(Self)
    }
}

const EMAIL_MAX: usize = 254;

text_type!(
    /// An address notices can be sent to: one `@`, a dotted domain, no spaces, at most 254
    /// bytes.
    Email,
    json_schema!({"type": "string", "format": "email", "maxLength": EMAIL_MAX})
);

impl Email {
    /// Checks an email address well enough to send to it.
    pub fn parse(email: impl Into<String>) -> Result<Self, AllyError> {
        let email = email.into();
        let ok = email.len() <= EMAIL_MAX
            && !email.chars().any(|c| c.is_whitespace() || c.is_control())
            && matches!(email.split_once('@'), Some((local, domain))
                if !local.is_empty() && domain.contains('.') && !domain.contains('@')
                    && !domain.starts_with('.') && !domain.ends_with('.'));
        if ok {
            Ok(Self(email))
        } else {
            let shown: String = email.chars().take(EMAIL_MAX).collect();
            Err(AllyError::validation(format!("`{shown}` is not an email address")))
        }
    }
}

/// Text without control characters (C0, DEL, C1), possibly empty.
const NOTE_PATTERN: &str = r"^[^\u0000-\u001f\u007f-\u009f]*$";
/// Longest note, in characters.
const NOTE_MAX: usize = 500;

text_type!(
    /// Free text kept with money: the reason of a credit, the description of a service.
    /// At most 500 characters, no control characters.
    Note,
    json_schema!({"type": "string", "maxLength": NOTE_MAX, "pattern": NOTE_PATTERN})
);

impl Note {
    /// Checks a note.
    pub fn parse(text: impl Into<String>) -> Result<Self, AllyError> {
        let text = text.into();
        if text.chars().count() > NOTE_MAX || text.chars().any(char::is_control) {
            return Err(AllyError::validation(format!(
                "a reason or description is at most {NOTE_MAX} characters without control characters"
            )));
        }
        Ok(Self(text))
    }
}

/// Keys of metadata that carry meaning for Ally itself; admins set them as fields.
pub const RESERVED_METADATA_KEYS: [&str; 1] = ["hold_provisioning"];
const METADATA_KEY_MAX: usize = 64;

text_type!(
    /// A whitelabel metadata key: `[a-z0-9_]{1,64}`, not a reserved key.
    MetadataKey,
    json_schema!({
        "type": "string",
        "pattern": "^[a-z0-9_]{1,64}$",
        "not": {"enum": RESERVED_METADATA_KEYS}
    })
);

impl MetadataKey {
    /// Checks a metadata key; reserved keys are refused.
    pub fn parse(key: impl Into<String>) -> Result<Self, AllyError> {
        let key = key.into();
        let ok = !key.is_empty()
            && key.len() <= METADATA_KEY_MAX
            && key.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !ok {
            let shown: String = key.chars().take(METADATA_KEY_MAX).collect();
            return Err(AllyError::validation(format!(
                "metadata key `{shown}` must be 1 to 64 characters of a-z, 0-9 and _"
            )));
        }
        if RESERVED_METADATA_KEYS.contains(&key.as_str()) {
            return Err(AllyError::validation(format!("metadata key `{key}` is reserved")));
        }
        Ok(Self(key))
    }
}

/// Longest key a caller may send.
const CALLER_KEY_MAX: usize = 128;
/// Longest id of an external event (payment, referral) that keys a credit.
const EVENT_ID_MAX: usize = 200;

/// Prefixes of the keys the system derives. A caller's key that starts with one of them
/// (or with the escape itself) is stored behind [`CALLER_ESCAPE`], so no caller key can
/// ever equal a derived one, and two different caller keys never share a stored form.
const SYSTEM_PREFIXES: [&str; 8] =
    ["admin:", "payment:", "referral:", "bulk:", "hold:", "lot:", "transfer:", "commission:"];
const CALLER_ESCAPE: &str = "caller:";

/// The `Idempotency-Key` header as a caller sent it: 1..=128 printable ASCII characters,
/// not only spaces. Becomes an [`IdempotencyKey`] in the namespace of the route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerKey(String);

impl CallerKey {
    /// The pattern of a caller's key, for the OpenAPI document.
    pub const PATTERN: &'static str = "^[ -~]*[!-~][ -~]*$";
    /// The longest caller key.
    pub const MAX: usize = CALLER_KEY_MAX;

    /// The key as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Checks a caller's key.
    pub fn parse(key: impl Into<String>) -> Result<Self, AllyError> {
        let key = key.into();
        if printable(&key, CALLER_KEY_MAX) {
            Ok(Self(key))
        } else {
            Err(AllyError::validation("Idempotency-Key must be 1 to 128 printable ASCII characters"))
        }
    }
}

fn printable(text: &str, max: usize) -> bool {
    !text.is_empty() && text.len() <= max && text.bytes().all(|b| (0x20..0x7f).contains(&b)) && !text.trim().is_empty()
}

/// The key an operation is recorded under in a wallet: a caller's own key, an admin's key
/// for a top-up, or a key the system derives from an external event. The stored forms of
/// the namespaces never meet (see [`SYSTEM_PREFIXES`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// A partner's own key for its own wallet. Stored as sent (so keys recorded before
    /// namespaces existed still replay) unless it looks like a system key.
    pub fn caller(key: &CallerKey) -> Self {
        let raw = &key.0;
        if SYSTEM_PREFIXES.iter().chain([&CALLER_ESCAPE]).any(|p| raw.starts_with(p)) {
            Self(format!("{CALLER_ESCAPE}{raw}"))
        } else {
            Self(raw.clone())
        }
    }

    /// An admin's key for a top-up of a partner's wallet.
    pub fn admin(key: &CallerKey) -> Self {
        Self(format!("admin:{}", key.0))
    }

    /// The commission a parent earned on its sub-resellers' spends of `day` (and `part`:
    /// the promotional share is an entry of its own): one per day however often it is settled.
    pub fn commission(day: chrono::NaiveDate, part: &str) -> Result<Self, AllyError> {
        Self::external("commission:", "the day", &format!("{day}{part}"))
    }

    /// The receiving side's record of a transfer made by `from` with `key`, in the
    /// receiver's partition: both sides of a transfer are written once, together. The
    /// receiver reads it on its entry, so it is a digest of the giver's user and key, never
    /// either of them (the entry names the giver by refid).
    pub fn transfer_in(from: &UserId, key: &IdempotencyKey) -> Self {
        use sha2::{Digest, Sha256};
        let mut digest = Sha256::new();
        digest.update(from.as_str().as_bytes());
        digest.update([0]);
        digest.update(key.0.as_bytes());
        Self(format!("transfer:{}", &hex::encode(digest.finalize())[..32]))
    }

    /// The payment provider's event id: one credit per event.
    pub fn payment(event_id: &str) -> Result<Self, AllyError> {
        Self::external("payment:", "the payment event id", event_id)
    }

    /// The referral system's referral id: one reward per referral.
    pub fn referral(referral_id: &str) -> Result<Self, AllyError> {
        Self::external("referral:", "the referral id", referral_id)
    }

    /// Whether this key is an external payment's: it credits once in the whole network.
    pub fn is_payment(&self) -> bool {
        self.0.starts_with("payment:")
    }

    /// Whether this key is an external event's receipt (a payment or a referral), kept for
    /// good, rather than a caller's key, kept for the idempotency window.
    pub fn is_receipt(&self) -> bool {
        ["payment:", "referral:", "commission:"].iter().any(|p| self.0.starts_with(p))
    }

    /// The sweeper's key for the expiry of hold `id`: one release however often it runs.
    pub fn hold_expiry(id: &str) -> Self {
        Self(format!("hold:{id}:expired"))
    }

    /// The expiry job's key for the expiry of lot `id`: one expiry however often it runs.
    pub fn lot_expiry(id: &str) -> Self {
        Self(format!("lot:{id}:expired"))
    }

    fn external(prefix: &str, what: &str, id: &str) -> Result<Self, AllyError> {
        if printable(id, EVENT_ID_MAX) {
            Ok(Self(format!("{prefix}{id}")))
        } else {
            Err(AllyError::validation(format!("{what} must be 1 to {EVENT_ID_MAX} printable ASCII characters")))
        }
    }

    /// The stored form.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
#[path = "ids_test.rs"]
mod tests;
