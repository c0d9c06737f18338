//! SCIM errors (RFC 7644 §3.12): a status, a `scimType` where the RFC defines one,
//! and a message for the person reading the IdP's provisioning log.

use super::filter::FilterError;
use super::path::PathError;
use serde_json::{json, Value};

pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScimError {
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    InvalidFilter(String),
    #[error("{0}")]
    InvalidPath(String),
    #[error("{0}")]
    NoTarget(String),
    #[error("{0}")]
    InvalidValue(String),
    #[error("{0}")]
    InvalidSyntax(String),
    #[error("{0}")]
    Mutability(String),
    #[error("{0}")]
    Uniqueness(String),
    /// The request conflicts with the resource's current state and no
    /// `scimType` describes it (RFC 9110 §15.5.10), e.g. a DELETE that would
    /// leave the organization without an active Integrations Admin.
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    TooMany(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{0}")]
    NotImplemented(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    /// Storage failed; the message names a reference, never the cause.
    #[error("{0}")]
    Internal(String),
}

impl ScimError {
    pub fn status(&self) -> u16 {
        match self {
            ScimError::Unauthorized(_) => 401,
            ScimError::NotFound(_) => 404,
            ScimError::InvalidFilter(_)
            | ScimError::InvalidPath(_)
            | ScimError::NoTarget(_)
            | ScimError::InvalidValue(_)
            | ScimError::InvalidSyntax(_)
            | ScimError::Mutability(_)
            | ScimError::TooMany(_) => 400,
            ScimError::Uniqueness(_) | ScimError::Conflict(_) => 409,
            ScimError::MethodNotAllowed(_) => 405,
            ScimError::PayloadTooLarge(_) => 413,
            ScimError::UnsupportedMediaType(_) => 415,
            ScimError::NotImplemented(_) => 501,
            ScimError::Internal(_) => 500,
        }
    }

    /// The RFC's `scimType`, for the errors that have one.
    pub fn scim_type(&self) -> Option<&'static str> {
        match self {
            ScimError::InvalidFilter(_) => Some("invalidFilter"),
            ScimError::InvalidPath(_) => Some("invalidPath"),
            ScimError::NoTarget(_) => Some("noTarget"),
            ScimError::InvalidValue(_) => Some("invalidValue"),
            ScimError::InvalidSyntax(_) => Some("invalidSyntax"),
            ScimError::Mutability(_) => Some("mutability"),
            ScimError::Uniqueness(_) => Some("uniqueness"),
            ScimError::TooMany(_) => Some("tooMany"),
            _ => None,
        }
    }

    /// A short stable word for the request log.
    pub fn outcome(&self) -> &'static str {
        self.scim_type().unwrap_or(match self {
            ScimError::Unauthorized(_) => "unauthorized",
            ScimError::NotFound(_) => "not_found",
            ScimError::Conflict(_) => "conflict",
            ScimError::MethodNotAllowed(_) => "method_not_allowed",
            ScimError::NotImplemented(_) => "not_implemented",
            ScimError::UnsupportedMediaType(_) => "unsupported_media_type",
            ScimError::PayloadTooLarge(_) => "payload_too_large",
            _ => "internal_error",
        })
    }

    pub fn to_json(&self) -> Value {
        let mut body = json!({
            "schemas": [ERROR_SCHEMA],
            "status": self.status().to_string(),
            "detail": self.to_string(),
        });
        if let Some(scim_type) = self.scim_type() {
            body["scimType"] = json!(scim_type);
        }
        body
    }

    pub fn value(message: impl Into<String>) -> Self {
        ScimError::InvalidValue(message.into())
    }
}

impl From<FilterError> for ScimError {
    fn from(e: FilterError) -> Self {
        ScimError::InvalidFilter(format!("Invalid filter: {e}"))
    }
}

impl From<PathError> for ScimError {
    fn from(e: PathError) -> Self {
        match e.scim_type() {
            "invalidFilter" => ScimError::InvalidFilter(format!("Invalid PATCH path: {e}")),
            _ => ScimError::InvalidPath(format!("Invalid PATCH path: {e}")),
        }
    }
}
