//! Settings > User Provisioning: the SCIM form's rules and what the page shows.
//! Plain data, shared by the browser and the server.

use crate::catalogue::{scim_providers, IdentityProvider};
use crate::validate::{self, FieldError, FieldErrors};
use serde::{Deserialize, Serialize};

pub mod field {
    pub const PROVIDER: &str = "provider";
    pub const NAME: &str = "name";
}

/// What the admin submits with `Enable SCIM`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnableScimForm {
    pub provider: IdentityProvider,
    /// Optional; defaults to "{Provider} SCIM".
    pub name: String,
}

/// Field by field: a provider that offers SCIM, and a short, printable name.
pub fn validate_enable(form: &EnableScimForm) -> FieldErrors {
    let mut errors = FieldErrors::default();
    if !form.provider.supports_scim() {
        errors.check(Err(FieldError::new(
            field::PROVIDER,
            "scim_not_supported",
            format!(
                "{} does not provision users over SCIM. Choose one of: {}.",
                form.provider.label(),
                scim_providers()
                    .iter()
                    .map(|p| p.scim_label())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )));
    }
    errors.check(validate::optional_name(field::NAME, form.name.trim()));
    errors
}

/// The connection name to store: the admin's, or "{Provider} SCIM".
pub fn name_or_default(name: &str, provider: IdentityProvider) -> String {
    let name = name.trim();
    if name.is_empty() {
        format!("{} SCIM", provider.scim_label())
    } else {
        name.to_string()
    }
}

/// Where a token rotation stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RotationState {
    /// One active token.
    Idle,
    /// Two valid tokens: the old one until `Complete Rotation`, the new one after.
    InProgress { started_at: i64 },
}

/// The SCIM connection card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScimConnectionView {
    pub id: String,
    pub provider: IdentityProvider,
    pub name: String,
    pub enabled: bool,
    pub base_url: String,
    /// Unix seconds.
    pub created_at: i64,
    pub last_called_at: Option<i64>,
    pub disabled_at: Option<i64>,
    pub rotation: RotationState,
    /// How many tokens are valid now (1, or 2 during a rotation).
    pub valid_tokens: u32,
}

/// One line of the recent-requests log: never a token, password or body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScimRequestView {
    pub at: i64,
    pub method: String,
    pub path: String,
    pub status: u16,
    pub outcome: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvisioningOverview {
    /// The enabled connection, or else the most recently disabled one.
    pub connection: Option<ScimConnectionView>,
    pub requests: Vec<ScimRequestView>,
}

/// The answer to `Enable SCIM` and `Rotate Token`: the token, shown this once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedToken {
    pub overview: ProvisioningOverview,
    pub token: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_needs_a_scim_provider_and_a_short_name() {
        let ok = EnableScimForm {
            provider: IdentityProvider::MicrosoftEntraId,
            name: String::new(),
        };
        assert!(validate_enable(&ok).is_empty());
        let google = EnableScimForm {
            provider: IdentityProvider::GoogleWorkspace,
            name: "x".repeat(121),
        };
        let errors = validate_enable(&google);
        assert!(errors.for_field(field::PROVIDER).unwrap().contains("Okta"));
        assert!(errors.for_field(field::NAME).is_some());
        assert_eq!(
            name_or_default("  ", IdentityProvider::Other),
            "Generic SCIM"
        );
        assert_eq!(name_or_default(" Prod ", IdentityProvider::Okta), "Prod");
    }
}
