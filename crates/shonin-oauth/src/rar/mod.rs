//! Rich Authorization Requests (RFC 9396): parsing and validating the `authorization_details`
//! request parameter against per-type JSON Schemas.
//!
//! [`AuthorizationDetailsPolicy`] holds one validator per known type. It ships
//! `payment_initiation` and `account_information` (schemas in `schemas/*.json`, embedded at
//! build time) and accepts operator-defined types through
//! [`AuthorizationDetailsPolicy::with_schema`]. [`AuthorizationDetailsPolicy::parse`] bounds the
//! input (size, nesting depth, number of entries) before and while parsing, then checks each
//! entry: an object with a string `type`, a known type, a type the client may use, no control
//! characters, valid against its schema, and — for `payment_initiation` — an IBAN whose check
//! digits are right. The result, a `Vec<AuthorizationDetail>`, is what the server stores and
//! later renders on the consent page from its own copy (escaping is the renderer's job:
//! `<`, `'` and `;` are data here).
//!
//! Schemas are evaluated by the `jsonschema` crate built without default features, offline: no
//! `$ref` is ever fetched over the network or from disk, and `pattern` uses the linear-time
//! `regex` engine so an operator's schema cannot cause catastrophic backtracking.

mod canonical;
mod error;
mod screen;

pub use canonical::{canonical_json, canonical_sha256};
pub use error::RarError;
pub use screen::{MAX_ECHOED_TYPE_LEN, is_forbidden_char};
pub use shonin_types::iban::iban_checksum_ok;

use screen::{bounded, find_forbidden_char_in_object, is_valid_type_name, truncate};
use shonin_types::json::JsonError;

use jsonschema::{PatternOptions, Validator};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;

/// The shipped `payment_initiation` type.
pub const PAYMENT_INITIATION: &str = "payment_initiation";
/// The shipped `account_information` type.
pub const ACCOUNT_INFORMATION: &str = "account_information";

const PAYMENT_INITIATION_SCHEMA: &str = include_str!("../../schemas/payment_initiation.json");
const ACCOUNT_INFORMATION_SCHEMA: &str = include_str!("../../schemas/account_information.json");

/// Default longest `authorization_details` parameter, in bytes (after form decoding).
pub const DEFAULT_MAX_LEN: usize = 16 * 1024;
/// Default deepest nesting of arrays and objects; the outer array is level 1.
pub const DEFAULT_MAX_DEPTH: usize = 8;
/// Default largest number of entries in the array.
pub const DEFAULT_MAX_ENTRIES: usize = 10;

/// One validated `authorization_details` entry. Only [`AuthorizationDetailsPolicy::parse`]
/// makes one, so holding it means the entry passed every check.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(transparent)]
pub struct AuthorizationDetail(Value);

impl AuthorizationDetail {
    /// The entry's `type`.
    pub fn type_name(&self) -> &str {
        self.0
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    /// The entry as JSON, exactly as accepted.
    pub fn as_value(&self) -> &Value {
        &self.0
    }

    pub fn into_value(self) -> Value {
        self.0
    }
}

impl std::borrow::Borrow<Value> for AuthorizationDetail {
    fn borrow(&self) -> &Value {
        &self.0
    }
}

/// The accepted entries as one JSON array, for the token response, access token claims and
/// introspection (RFC 9396 §7, §9).
pub fn details_to_json(details: &[AuthorizationDetail]) -> Value {
    Value::Array(details.iter().map(|d| d.0.clone()).collect())
}

/// Checks beyond the schema, tied to a shipped type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ExtraChecks {
    None,
    /// `creditorAccount.iban` mod-97.
    PaymentInitiation,
}

struct TypeValidator {
    schema: Validator,
    extra: ExtraChecks,
}

/// The authorization details types this server understands, their schemas, and the input limits.
/// Built once at start-up and shared (it is `Send + Sync`).
pub struct AuthorizationDetailsPolicy {
    types: BTreeMap<String, TypeValidator>,
    max_len: usize,
    max_depth: usize,
    max_entries: usize,
}

impl fmt::Debug for AuthorizationDetailsPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizationDetailsPolicy")
            .field("types", &self.types.keys().collect::<Vec<_>>())
            .field("max_len", &self.max_len)
            .field("max_depth", &self.max_depth)
            .field("max_entries", &self.max_entries)
            .finish()
    }
}

impl AuthorizationDetailsPolicy {
    /// A policy that knows no types (every entry is refused as unknown), with default limits.
    pub fn empty() -> Self {
        Self {
            types: BTreeMap::new(),
            max_len: DEFAULT_MAX_LEN,
            max_depth: DEFAULT_MAX_DEPTH,
            max_entries: DEFAULT_MAX_ENTRIES,
        }
    }

    /// The shipped types, `payment_initiation` and `account_information`, with default limits.
    /// Fails only if a shipped schema does not compile, which the tests rule out.
    pub fn shipped() -> Result<Self, RarError> {
        Self::empty()
            .with_type(
                PAYMENT_INITIATION,
                PAYMENT_INITIATION_SCHEMA,
                ExtraChecks::PaymentInitiation,
            )?
            .with_type(
                ACCOUNT_INFORMATION,
                ACCOUNT_INFORMATION_SCHEMA,
                ExtraChecks::None,
            )
    }

    /// Adds an operator-defined type validated by `schema_json` (a JSON Schema; draft 2020-12
    /// unless its `$schema` says otherwise). External `$ref`s are refused, not fetched.
    pub fn with_schema(self, type_name: &str, schema_json: &str) -> Result<Self, RarError> {
        self.with_type(type_name, schema_json, ExtraChecks::None)
    }

    /// Replaces the input limits (each at least 1).
    pub fn with_limits(mut self, max_len: usize, max_depth: usize, max_entries: usize) -> Self {
        self.max_len = max_len.max(1);
        // The outer array and one entry object are always needed.
        self.max_depth = max_depth.max(2);
        self.max_entries = max_entries.max(1);
        self
    }

    /// The known types, sorted: `authorization_details_types_supported` (RFC 9396 §10).
    pub fn supported_types(&self) -> Vec<String> {
        self.types.keys().cloned().collect()
    }

    fn with_type(
        mut self,
        type_name: &str,
        schema_json: &str,
        extra: ExtraChecks,
    ) -> Result<Self, RarError> {
        if !is_valid_type_name(type_name) {
            return Err(RarError::InvalidTypeName(truncate(type_name)));
        }
        if self.types.contains_key(type_name) {
            return Err(RarError::DuplicateType(type_name.to_owned()));
        }
        let invalid = |reason: String| RarError::InvalidSchema {
            type_name: type_name.to_owned(),
            reason,
        };
        let schema: Value =
            serde_json::from_str(schema_json).map_err(|e| invalid(format!("not JSON: {e}")))?;
        let validator = jsonschema::options()
            .offline()
            .should_validate_formats(true)
            .with_pattern_options(PatternOptions::regex())
            .build(&schema)
            .map_err(|e| invalid(e.to_string()))?;
        self.types.insert(
            type_name.to_owned(),
            TypeValidator {
                schema: validator,
                extra,
            },
        );
        Ok(self)
    }

    /// Parses and validates the `authorization_details` parameter of an authorization (PAR) or
    /// token request for a client registered for `allowed_types`.
    pub fn parse<S: AsRef<str>>(
        &self,
        raw: impl AsRef<[u8]>,
        allowed_types: &[S],
    ) -> Result<Vec<AuthorizationDetail>, RarError> {
        let raw = raw.as_ref();
        if raw.len() > self.max_len {
            return Err(RarError::TooLarge { max: self.max_len });
        }
        let text = std::str::from_utf8(raw).map_err(|_| RarError::NotUtf8)?;
        if shonin_jose::json_depth_exceeds(text.as_bytes(), self.max_depth) {
            return Err(RarError::TooDeep {
                max: self.max_depth,
            });
        }
        let entries = match shonin_types::json::from_str(text) {
            Ok(Value::Array(entries)) => entries,
            Ok(_) => return Err(RarError::NotAnArray),
            Err(JsonError::DuplicateName(name)) => return Err(RarError::DuplicateName(name)),
            Err(JsonError::Syntax(_)) => return Err(RarError::MalformedJson),
        };
        if entries.is_empty() {
            return Err(RarError::Empty);
        }
        if entries.len() > self.max_entries {
            return Err(RarError::TooManyEntries {
                max: self.max_entries,
            });
        }
        entries
            .into_iter()
            .enumerate()
            .map(|(index, entry)| self.check_entry(index, entry, allowed_types))
            .collect()
    }

    fn check_entry<S: AsRef<str>>(
        &self,
        index: usize,
        entry: Value,
        allowed_types: &[S],
    ) -> Result<AuthorizationDetail, RarError> {
        let object = entry
            .as_object()
            .ok_or(RarError::EntryNotAnObject { index })?;
        let type_name = object
            .get("type")
            .and_then(Value::as_str)
            .ok_or(RarError::MissingType { index })?;
        let validator = self
            .types
            .get(type_name)
            .ok_or_else(|| RarError::UnknownType {
                index,
                type_name: truncate(type_name),
            })?;
        if !allowed_types.iter().any(|t| t.as_ref() == type_name) {
            return Err(RarError::TypeNotAllowed {
                index,
                type_name: truncate(type_name),
            });
        }
        if let Some(path) = find_forbidden_char_in_object(object, "") {
            return Err(RarError::ControlCharacter { index, path });
        }
        if let Err(error) = validator.schema.validate(&entry) {
            return Err(RarError::SchemaViolation {
                index,
                type_name: type_name.to_owned(),
                path: bounded(error.instance_path().to_string()),
                // `masked` leaves the submitted value out of the message; member names the
                // client chose can still appear, hence the bound.
                reason: bounded(error.masked().to_string()),
            });
        }
        if validator.extra == ExtraChecks::PaymentInitiation {
            let iban = entry
                .pointer("/creditorAccount/iban")
                .and_then(Value::as_str);
            if iban.is_some_and(|iban| !iban_checksum_ok(iban)) {
                return Err(RarError::IbanChecksum { index });
            }
        }
        Ok(AuthorizationDetail(entry))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_schemas_compile_and_are_listed() {
        let policy = AuthorizationDetailsPolicy::shipped().unwrap();
        assert_eq!(
            policy.supported_types(),
            vec![
                ACCOUNT_INFORMATION.to_owned(),
                PAYMENT_INITIATION.to_owned()
            ]
        );
    }

    #[test]
    fn policy_is_shareable_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<AuthorizationDetailsPolicy>();
    }

    #[test]
    fn every_error_has_an_oauth_code() {
        assert_eq!(
            RarError::UnknownType {
                index: 0,
                type_name: "x".into()
            }
            .oauth_error(),
            "invalid_authorization_details"
        );
        assert_eq!(
            RarError::DuplicateType("x".into()).oauth_error(),
            "server_error"
        );
    }
}
