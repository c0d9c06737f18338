//! The identity providers Latchkey knows by name: which protocols each one
//! speaks, whether it provisions over SCIM, and the attribute names it sends by
//! default. The dropdowns, the form defaults and the server all read this table.

use crate::mapping::AttributeMapping;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Entra ID's claim URI for the email address.
pub const ENTRA_EMAIL_CLAIM: &str =
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress";
/// Entra ID's claim URI for the given (first) name.
pub const ENTRA_GIVEN_NAME_CLAIM: &str =
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname";
/// Entra ID's claim URI for the surname (last name).
pub const ENTRA_SURNAME_CLAIM: &str =
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname";

/// The single sign-on protocol of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    Saml,
    Oidc,
}

impl Protocol {
    pub const ALL: &'static [Protocol] = &[Protocol::Saml, Protocol::Oidc];

    /// The stable name stored in the database; equal to the serde name.
    pub fn key(self) -> &'static str {
        match self {
            Protocol::Saml => "saml",
            Protocol::Oidc => "oidc",
        }
    }

    /// The inverse of [`Protocol::key`]; exact match only.
    pub fn from_key(key: &str) -> Option<Protocol> {
        Protocol::ALL.iter().copied().find(|p| p.key() == key)
    }

    /// How the protocol is shown to people (the protocol choice in the form).
    pub fn label(self) -> &'static str {
        match self {
            Protocol::Saml => "SAML",
            Protocol::Oidc => "OIDC",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// An identity provider from the catalogue. `Other` stands for any standards
/// compliant provider that is not listed by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentityProvider {
    Okta,
    MicrosoftEntraId,
    GoogleWorkspace,
    OneLogin,
    JumpCloud,
    CyberArk,
    Duo,
    ClassLink,
    Keycloak,
    MiniOrange,
    PingFederate,
    Rippling,
    Salesforce,
    Shibboleth,
    Other,
}

impl IdentityProvider {
    /// Every provider, in the order the dropdowns list them.
    pub const ALL: &'static [IdentityProvider] = &[
        IdentityProvider::Okta,
        IdentityProvider::MicrosoftEntraId,
        IdentityProvider::GoogleWorkspace,
        IdentityProvider::OneLogin,
        IdentityProvider::JumpCloud,
        IdentityProvider::CyberArk,
        IdentityProvider::Duo,
        IdentityProvider::ClassLink,
        IdentityProvider::Keycloak,
        IdentityProvider::MiniOrange,
        IdentityProvider::PingFederate,
        IdentityProvider::Rippling,
        IdentityProvider::Salesforce,
        IdentityProvider::Shibboleth,
        IdentityProvider::Other,
    ];

    /// The stable name stored in the database and used in form values; equal
    /// to the serde name.
    pub fn key(self) -> &'static str {
        match self {
            IdentityProvider::Okta => "okta",
            IdentityProvider::MicrosoftEntraId => "microsoft_entra_id",
            IdentityProvider::GoogleWorkspace => "google_workspace",
            IdentityProvider::OneLogin => "one_login",
            IdentityProvider::JumpCloud => "jump_cloud",
            IdentityProvider::CyberArk => "cyber_ark",
            IdentityProvider::Duo => "duo",
            IdentityProvider::ClassLink => "class_link",
            IdentityProvider::Keycloak => "keycloak",
            IdentityProvider::MiniOrange => "mini_orange",
            IdentityProvider::PingFederate => "ping_federate",
            IdentityProvider::Rippling => "rippling",
            IdentityProvider::Salesforce => "salesforce",
            IdentityProvider::Shibboleth => "shibboleth",
            IdentityProvider::Other => "other",
        }
    }

    /// The inverse of [`IdentityProvider::key`]; exact match only.
    pub fn from_key(key: &str) -> Option<IdentityProvider> {
        IdentityProvider::ALL
            .iter()
            .copied()
            .find(|p| p.key() == key)
    }

    /// The provider's name as people know it.
    pub fn label(self) -> &'static str {
        match self {
            IdentityProvider::Okta => "Okta",
            IdentityProvider::MicrosoftEntraId => "Microsoft Entra ID",
            IdentityProvider::GoogleWorkspace => "Google Workspace",
            IdentityProvider::OneLogin => "OneLogin",
            IdentityProvider::JumpCloud => "JumpCloud",
            IdentityProvider::CyberArk => "CyberArk",
            IdentityProvider::Duo => "Duo",
            IdentityProvider::ClassLink => "ClassLink",
            IdentityProvider::Keycloak => "Keycloak",
            IdentityProvider::MiniOrange => "miniOrange",
            IdentityProvider::PingFederate => "PingFederate",
            IdentityProvider::Rippling => "Rippling",
            IdentityProvider::Salesforce => "Salesforce",
            IdentityProvider::Shibboleth => "Shibboleth",
            IdentityProvider::Other => "Other identity provider",
        }
    }

    /// Whether a connection of this protocol can be created for the provider.
    pub fn supports(self, protocol: Protocol) -> bool {
        match protocol {
            Protocol::Saml => true,
            Protocol::Oidc => matches!(
                self,
                IdentityProvider::Okta
                    | IdentityProvider::MicrosoftEntraId
                    | IdentityProvider::GoogleWorkspace
                    | IdentityProvider::OneLogin
                    | IdentityProvider::JumpCloud
                    | IdentityProvider::Other
            ),
        }
    }

    /// Whether the provider can provision users over SCIM.
    pub fn supports_scim(self) -> bool {
        matches!(
            self,
            IdentityProvider::Okta
                | IdentityProvider::MicrosoftEntraId
                | IdentityProvider::OneLogin
                | IdentityProvider::JumpCloud
                | IdentityProvider::CyberArk
                | IdentityProvider::Other
        )
    }

    /// The name shown in the SCIM provider dropdown: `Other` reads "Generic"
    /// there, every other provider its usual label.
    pub fn scim_label(self) -> &'static str {
        match self {
            IdentityProvider::Other => "Generic",
            other => other.label(),
        }
    }

    /// The SAML attribute names the provider sends unless an admin changed
    /// them. `full_name` is never set by default.
    pub fn default_mapping(self) -> AttributeMapping {
        match self {
            IdentityProvider::MicrosoftEntraId => AttributeMapping::new(
                ENTRA_EMAIL_CLAIM,
                ENTRA_GIVEN_NAME_CLAIM,
                ENTRA_SURNAME_CLAIM,
            ),
            IdentityProvider::OneLogin => {
                AttributeMapping::new("User.email", "User.FirstName", "User.LastName")
            }
            IdentityProvider::JumpCloud => AttributeMapping::new("email", "firstname", "lastname"),
            _ => AttributeMapping::new("email", "firstName", "lastName"),
        }
    }
}

impl fmt::Display for IdentityProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// The providers offered for a protocol, in catalogue order.
pub fn providers_for(protocol: Protocol) -> Vec<IdentityProvider> {
    IdentityProvider::ALL
        .iter()
        .copied()
        .filter(|p| p.supports(protocol))
        .collect()
}

/// The providers offered for SCIM provisioning, in catalogue order.
pub fn scim_providers() -> Vec<IdentityProvider> {
    IdentityProvider::ALL
        .iter()
        .copied()
        .filter(|p| p.supports_scim())
        .collect()
}

/// The display name a connection gets when the admin leaves it blank.
pub fn default_display_name(provider: IdentityProvider) -> String {
    format!("{} SSO", provider.label())
}

/// The display name to store: the admin's value without surrounding spaces,
/// or the default when they left it blank.
pub fn display_name_or_default(value: &str, provider: IdentityProvider) -> String {
    let value = value.trim();
    if value.is_empty() {
        default_display_name(provider)
    } else {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::de::value::{Error as DeError, StrDeserializer};
    use serde::de::IntoDeserializer;
    use IdentityProvider as P;

    fn from_serde<'a, T: Deserialize<'a>>(name: &'a str) -> Option<T> {
        let de: StrDeserializer<'a, DeError> = name.into_deserializer();
        T::deserialize(de).ok()
    }

    /// provider, key, label, SAML, OIDC, SCIM, SCIM label, email, first, last
    type Row = (
        IdentityProvider,
        &'static str,
        &'static str,
        bool,
        bool,
        bool,
        &'static str,
        &'static str,
        &'static str,
        &'static str,
    );

    const E: &str = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress";
    const G: &str = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname";
    const S: &str = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname";

    const TABLE: &[Row] = &[
        (
            P::Okta,
            "okta",
            "Okta",
            true,
            true,
            true,
            "Okta",
            "email",
            "firstName",
            "lastName",
        ),
        (
            P::MicrosoftEntraId,
            "microsoft_entra_id",
            "Microsoft Entra ID",
            true,
            true,
            true,
            "Microsoft Entra ID",
            E,
            G,
            S,
        ),
        (
            P::GoogleWorkspace,
            "google_workspace",
            "Google Workspace",
            true,
            true,
            false,
            "Google Workspace",
            "email",
            "firstName",
            "lastName",
        ),
        (
            P::OneLogin,
            "one_login",
            "OneLogin",
            true,
            true,
            true,
            "OneLogin",
            "User.email",
            "User.FirstName",
            "User.LastName",
        ),
        (
            P::JumpCloud,
            "jump_cloud",
            "JumpCloud",
            true,
            true,
            true,
            "JumpCloud",
            "email",
            "firstname",
            "lastname",
        ),
        (
            P::CyberArk,
            "cyber_ark",
            "CyberArk",
            true,
            false,
            true,
            "CyberArk",
            "email",
            "firstName",
            "lastName",
        ),
        (
            P::Duo,
            "duo",
            "Duo",
            true,
            false,
            false,
            "Duo",
            "email",
            "firstName",
            "lastName",
        ),
        (
            P::ClassLink,
            "class_link",
            "ClassLink",
            true,
            false,
            false,
            "ClassLink",
            "email",
            "firstName",
            "lastName",
        ),
        (
            P::Keycloak,
            "keycloak",
            "Keycloak",
            true,
            false,
            false,
            "Keycloak",
            "email",
            "firstName",
            "lastName",
        ),
        (
            P::MiniOrange,
            "mini_orange",
            "miniOrange",
            true,
            false,
            false,
            "miniOrange",
            "email",
            "firstName",
            "lastName",
        ),
        (
            P::PingFederate,
            "ping_federate",
            "PingFederate",
            true,
            false,
            false,
            "PingFederate",
            "email",
            "firstName",
            "lastName",
        ),
        (
            P::Rippling,
            "rippling",
            "Rippling",
            true,
            false,
            false,
            "Rippling",
            "email",
            "firstName",
            "lastName",
        ),
        (
            P::Salesforce,
            "salesforce",
            "Salesforce",
            true,
            false,
            false,
            "Salesforce",
            "email",
            "firstName",
            "lastName",
        ),
        (
            P::Shibboleth,
            "shibboleth",
            "Shibboleth",
            true,
            false,
            false,
            "Shibboleth",
            "email",
            "firstName",
            "lastName",
        ),
        (
            P::Other,
            "other",
            "Other identity provider",
            true,
            true,
            true,
            "Generic",
            "email",
            "firstName",
            "lastName",
        ),
    ];

    #[test]
    fn table_covers_every_provider_in_catalogue_order() {
        let listed: Vec<IdentityProvider> = TABLE.iter().map(|r| r.0).collect();
        assert_eq!(listed, IdentityProvider::ALL);
    }

    #[test]
    fn every_provider_matches_the_catalogue() {
        for &(p, key, label, saml, oidc, scim, scim_label, email, first, last) in TABLE {
            assert_eq!(p.key(), key, "{p:?}");
            assert_eq!(p.label(), label, "{p:?}");
            assert_eq!(p.supports(Protocol::Saml), saml, "{p:?} SAML");
            assert_eq!(p.supports(Protocol::Oidc), oidc, "{p:?} OIDC");
            assert_eq!(p.supports_scim(), scim, "{p:?} SCIM");
            assert_eq!(p.scim_label(), scim_label, "{p:?}");
            let m = p.default_mapping();
            assert_eq!(
                (
                    m.email.as_str(),
                    m.first_name.as_str(),
                    m.last_name.as_str()
                ),
                (email, first, last),
                "{p:?}"
            );
            assert_eq!(m.full_name, "", "{p:?} has no default full name");
            assert!(crate::mapping::validate_mapping(&m).is_empty(), "{p:?}");
            assert_eq!(default_display_name(p), format!("{label} SSO"));
        }
    }

    #[test]
    fn keys_round_trip_and_equal_the_serde_names() {
        for &p in IdentityProvider::ALL {
            assert_eq!(IdentityProvider::from_key(p.key()), Some(p));
            assert_eq!(from_serde::<IdentityProvider>(p.key()), Some(p));
            assert_eq!(p.to_string(), p.key());
        }
        for &p in Protocol::ALL {
            assert_eq!(Protocol::from_key(p.key()), Some(p));
            assert_eq!(from_serde::<Protocol>(p.key()), Some(p));
            assert_eq!(p.to_string(), p.key());
        }
    }

    #[test]
    fn keys_are_unique_snake_case_and_labels_unique() {
        let mut keys: Vec<&str> = IdentityProvider::ALL.iter().map(|p| p.key()).collect();
        let mut labels: Vec<&str> = IdentityProvider::ALL.iter().map(|p| p.label()).collect();
        for key in &keys {
            assert!(
                key.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{key}"
            );
        }
        keys.sort_unstable();
        keys.dedup();
        labels.sort_unstable();
        labels.dedup();
        assert_eq!(keys.len(), IdentityProvider::ALL.len());
        assert_eq!(labels.len(), IdentityProvider::ALL.len());
    }

    #[test]
    fn unknown_keys_are_refused() {
        for bad in [
            "",
            "Okta",
            "OKTA",
            " okta",
            "entra",
            "microsoft-entra-id",
            "azure_ad",
            "generic",
        ] {
            assert_eq!(IdentityProvider::from_key(bad), None, "{bad:?}");
        }
        for bad in ["", "SAML", "saml2", "oauth"] {
            assert_eq!(Protocol::from_key(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn protocol_labels() {
        assert_eq!(Protocol::Saml.label(), "SAML");
        assert_eq!(Protocol::Oidc.label(), "OIDC");
    }

    #[test]
    fn provider_lists_follow_catalogue_order() {
        assert_eq!(providers_for(Protocol::Saml), IdentityProvider::ALL);
        assert_eq!(
            providers_for(Protocol::Oidc),
            [
                P::Okta,
                P::MicrosoftEntraId,
                P::GoogleWorkspace,
                P::OneLogin,
                P::JumpCloud,
                P::Other
            ]
        );
        assert_eq!(
            scim_providers(),
            [
                P::Okta,
                P::MicrosoftEntraId,
                P::OneLogin,
                P::JumpCloud,
                P::CyberArk,
                P::Other
            ]
        );
        let scim_labels: Vec<&str> = scim_providers().iter().map(|p| p.scim_label()).collect();
        assert_eq!(
            scim_labels,
            [
                "Okta",
                "Microsoft Entra ID",
                "OneLogin",
                "JumpCloud",
                "CyberArk",
                "Generic"
            ]
        );
    }

    #[test]
    fn display_names() {
        let cases = [
            ("", P::Okta, "Okta SSO"),
            ("   ", P::MicrosoftEntraId, "Microsoft Entra ID SSO"),
            ("", P::Other, "Other identity provider SSO"),
            ("  Staff login ", P::Okta, "Staff login"),
            ("Acme Okta", P::Keycloak, "Acme Okta"),
        ];
        for (input, p, expected) in cases {
            assert_eq!(display_name_or_default(input, p), expected, "{input:?}");
        }
    }
}
