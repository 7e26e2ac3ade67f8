//! Parse, don't validate: every identifier and free-text field the API takes is a newtype
//! built only through its checked constructor. Each type's rule, its pattern and its
//! length live here once; its JSON schema (for the OpenAPI document) is written from the
//! same constants, so the document cannot drift from what is accepted. The idempotency
//! keys, which name money movements rather than things, are in `idempotency.rs`.

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

use super::unseen::unseen_class;

/// Text without control or invisible characters, and not only white space: the shape of
/// every display name.
const NAME_PATTERN: &str = concat!("^[^", unseen_class!(), "]*[^\\s", unseen_class!(), "][^", unseen_class!(), "]*$");
/// Longest display name, in characters.
const NAME_MAX: usize = 200;

/// A display name: 1..=200 characters, not blank, no control characters; kept trimmed.
/// (Invisible characters are refused where requests come in, for every string of a body
/// ([`super::first_unseen`]); a name stored before that rule still reads.)
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
    /// A reseller's company name: 1..=200 characters, not blank, no control or invisible
    /// characters.
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

/// Text without control or invisible characters, possibly empty.
const NOTE_PATTERN: &str = concat!("^[^", unseen_class!(), "]*$");
/// Longest note, in characters.
const NOTE_MAX: usize = 500;

text_type!(
    /// Free text kept with money: the reason of a credit, the description of a service.
    /// At most 500 characters, no control or invisible characters.
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

#[cfg(test)]
#[path = "ids_test.rs"]
mod tests;
