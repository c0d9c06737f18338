//! One SSO sign-in or Test Connection run, as the connection's event log and
//! the Test Connection panel show it.

use crate::diagnosis::Diagnosis;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SsoEventKind {
    SignIn,
    Test,
    /// A single logout, started by the member here or by the identity provider.
    Logout,
}

impl SsoEventKind {
    pub fn key(self) -> &'static str {
        match self {
            SsoEventKind::SignIn => "sign_in",
            SsoEventKind::Test => "test",
            SsoEventKind::Logout => "logout",
        }
    }

    pub fn from_key(key: &str) -> Option<SsoEventKind> {
        match key {
            "sign_in" => Some(SsoEventKind::SignIn),
            "test" => Some(SsoEventKind::Test),
            "logout" => Some(SsoEventKind::Logout),
            _ => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            SsoEventKind::SignIn => "Sign-in",
            SsoEventKind::Test => "Test",
            SsoEventKind::Logout => "Logout",
        }
    }
}

/// An attribute (SAML) or claim (OIDC) exactly as the identity provider sent it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceivedAttribute {
    pub name: String,
    pub values: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SsoEvent {
    pub id: String,
    /// Unix seconds.
    pub at: i64,
    pub kind: SsoEventKind,
    pub success: bool,
    /// Short; a member quotes it from the error page.
    pub reference: String,
    /// The SAML NameID or the OIDC `sub`.
    pub subject: String,
    /// The mapped email, when one was found.
    pub email: String,
    /// The mapped first and last name, when found.
    pub first_name: String,
    pub last_name: String,
    pub attributes: Vec<ReceivedAttribute>,
    /// Why it failed; `None` on success.
    pub diagnosis: Option<Diagnosis>,
    /// The `X-Request-Id` of the request that recorded it, for the server's logs.
    pub request_id: Option<String>,
}

/// A connection a member may sign in with when the organization has several.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SsoChoice {
    pub connection_id: String,
    /// The connection's display name, e.g. "Okta".
    pub name: String,
}

/// What an organization's login URL does for the member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum OrgSignIn {
    /// The browser is on its way to the identity provider.
    Redirecting,
    /// Several connections are active: the member picks one.
    Choose(Vec<SsoChoice>),
    /// No active connection (or no such organization: the two look alike).
    NotAvailable,
}
