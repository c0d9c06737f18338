//! The audit log page: what happened in the organization, filtered by kind and
//! by who did it.

use serde::{Deserialize, Serialize};

/// Rows per page.
pub const AUDIT_PAGE_SIZE: u64 = 50;

/// The groups the kind filter offers, each a set of stored action names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditKind {
    SignIns,
    SsoSettings,
    Provisioning,
    Users,
}

impl AuditKind {
    pub const ALL: [AuditKind; 4] = [
        AuditKind::SignIns,
        AuditKind::SsoSettings,
        AuditKind::Provisioning,
        AuditKind::Users,
    ];

    pub fn key(self) -> &'static str {
        match self {
            AuditKind::SignIns => "sign_ins",
            AuditKind::SsoSettings => "sso_settings",
            AuditKind::Provisioning => "provisioning",
            AuditKind::Users => "users",
        }
    }

    pub fn from_key(key: &str) -> Option<AuditKind> {
        AuditKind::ALL.into_iter().find(|k| k.key() == key)
    }

    pub fn label(self) -> &'static str {
        match self {
            AuditKind::SignIns => "Sign-ins and sign-outs",
            AuditKind::SsoSettings => "SSO connections and settings",
            AuditKind::Provisioning => "SCIM provisioning and tokens",
            AuditKind::Users => "Users and organization",
        }
    }

    /// Whether a stored action name belongs to this kind.
    pub fn includes(self, action: &str) -> bool {
        match self {
            AuditKind::SignIns => matches!(action, "sign_in" | "sign_in_failed" | "sign_out"),
            AuditKind::SsoSettings => {
                action.starts_with("connection_")
                    || action.starts_with("require_sso_")
                    || action.starts_with("domain_")
            }
            AuditKind::Provisioning => action.starts_with("scim_"),
            AuditKind::Users => {
                matches!(
                    action,
                    "user_created" | "organization_created" | "sso_identity_linked"
                ) || action.starts_with("setup_link_")
                    || action.starts_with("member_")
            }
        }
    }

    /// The action-name prefixes or names to match in storage.
    pub fn patterns(self) -> &'static [&'static str] {
        match self {
            AuditKind::SignIns => &["sign_in", "sign_in_failed", "sign_out"],
            AuditKind::SsoSettings => &["connection_%", "require_sso_%", "domain_%"],
            AuditKind::Provisioning => &["scim_%"],
            AuditKind::Users => &[
                "user_created",
                "organization_created",
                "sso_identity_linked",
                "setup_link_%",
                "member_%",
            ],
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditQuery {
    pub kind: Option<AuditKind>,
    /// Part of the actor's email, case-insensitive.
    pub user: String,
    /// From 0.
    pub page: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRow {
    /// Unix seconds.
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub success: bool,
    /// The detail's fields as `key: value` pairs, secrets never among them.
    pub details: Vec<(String, String)>,
    pub client_ip: Option<String>,
    /// The `X-Request-Id` of the request that wrote the entry: the key to its
    /// lines in the server's logs. `None` for the CLI and background work.
    pub request_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditPage {
    pub rows: Vec<AuditRow>,
    pub page: u64,
    pub has_next: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_and_group_actions() {
        for kind in AuditKind::ALL {
            assert_eq!(AuditKind::from_key(kind.key()), Some(kind));
        }
        assert!(AuditKind::SignIns.includes("sign_in_failed"));
        assert!(AuditKind::SsoSettings.includes("require_sso_enabled"));
        assert!(AuditKind::Provisioning.includes("scim_token_rotated"));
        assert!(!AuditKind::SignIns.includes("connection_created"));
    }
}
