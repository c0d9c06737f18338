//! Accounts as both sides see them.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// What a user may do inside their organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Configures SSO and SCIM; keeps password sign-in as break-glass access.
    IntegrationsAdmin,
    Member,
}

impl Role {
    /// The stable name stored in the database and written in audit rows.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::IntegrationsAdmin => "integrations_admin",
            Role::Member => "member",
        }
    }

    /// How the role is shown to people.
    pub fn label(self) -> &'static str {
        match self {
            Role::IntegrationsAdmin => "Integrations Admin",
            Role::Member => "Member",
        }
    }

    pub fn is_integrations_admin(self) -> bool {
        self == Role::IntegrationsAdmin
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Raised when a role name is neither spelling of a known role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownRole(pub String);

impl fmt::Display for UnknownRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown role \"{}\": use integrations-admin or member",
            self.0
        )
    }
}

impl std::error::Error for UnknownRole {}

impl FromStr for Role {
    type Err = UnknownRole;

    /// Accepts the stored form (`integrations_admin`) and the command-line form
    /// (`integrations-admin`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().replace('-', "_").as_str() {
            "integrations_admin" => Ok(Role::IntegrationsAdmin),
            "member" => Ok(Role::Member),
            _ => Err(UnknownRole(s.to_string())),
        }
    }
}

/// The signed-in user, as the pages show them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrentUser {
    pub user_id: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub role: Role,
    pub org_slug: String,
    pub org_name: String,
}

impl CurrentUser {
    /// "First Last", or the email when the IdP or admin gave no name.
    pub fn display_name(&self) -> String {
        let full = format!("{} {}", self.first_name.trim(), self.last_name.trim());
        let full = full.trim();
        if full.is_empty() {
            self.email.clone()
        } else {
            full.to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_parses_both_spellings_and_refuses_others() {
        for (input, role) in [
            ("integrations-admin", Role::IntegrationsAdmin),
            ("integrations_admin", Role::IntegrationsAdmin),
            ("Integrations-Admin", Role::IntegrationsAdmin),
            ("member", Role::Member),
        ] {
            assert_eq!(input.parse::<Role>(), Ok(role), "{input}");
        }
        assert!("admin".parse::<Role>().is_err());
        assert!("".parse::<Role>().is_err());
    }

    #[test]
    fn role_round_trips_through_its_stored_name() {
        for role in [Role::IntegrationsAdmin, Role::Member] {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
    }

    #[test]
    fn display_name_falls_back_to_email() {
        let mut user = CurrentUser {
            user_id: "1".into(),
            email: "ada@acme.test".into(),
            first_name: "Ada".into(),
            last_name: "Lovelace".into(),
            role: Role::Member,
            org_slug: "acme".into(),
            org_name: "Acme".into(),
        };
        assert_eq!(user.display_name(), "Ada Lovelace");
        user.first_name.clear();
        user.last_name = " ".into();
        assert_eq!(user.display_name(), "ada@acme.test");
    }
}
