//! SSO connections as the settings pages see them, and the rules for saving them.
//! The server builds these views; the browser shows them and runs the same checks.

use crate::catalogue::{IdentityProvider, Protocol};
use crate::doctor::{self, CertificateFacts, CheckStatus, DiscoveredEndpoints, DoctorCheck};
use crate::idp_url::IdpUrlPolicy;
use crate::mapping::{validate_mapping, AttributeMapping};
use crate::validate::{self, FieldErrors};
use serde::{Deserialize, Serialize};

/// A row in the list of connections.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionSummary {
    pub id: String,
    pub protocol: Protocol,
    pub provider: IdentityProvider,
    pub display_name: String,
    pub active: bool,
    /// The worst doctor check: what the health badge shows.
    pub health: CheckStatus,
    pub ready_to_test: bool,
    /// The one word the list and the connection's page show.
    pub status: ConnectionStatus,
}

/// Where a connection stands, in the one word an admin reads in the list of
/// connections and on the connection's page, with what to do next. Members
/// can sign in only through a connection that is [`ConnectionStatus::Active`]
/// or [`ConnectionStatus::ReadyToTest`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConnectionStatus {
    /// On, but Connection Health still fails a check.
    SetupIncomplete,
    /// On and configured, and Test Connection has not passed yet.
    ReadyToTest,
    /// On, configured, and Test Connection passed.
    Active,
    /// Turned off by an admin.
    Inactive,
}

impl ConnectionStatus {
    pub fn of(active: bool, ready_to_test: bool, tested: bool) -> Self {
        match (active, ready_to_test, tested) {
            (false, _, _) => Self::Inactive,
            (true, false, _) => Self::SetupIncomplete,
            (true, true, false) => Self::ReadyToTest,
            (true, true, true) => Self::Active,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::SetupIncomplete => "Setup incomplete",
            Self::ReadyToTest => doctor::READY_LABEL,
            Self::Active => "Active",
            Self::Inactive => "Inactive",
        }
    }

    /// Whether members are sent to a connection in this status. An untested
    /// connection already routes: Test Connection is the admin's own check, and
    /// the page says to run it before telling members.
    pub fn routes_sign_ins(self) -> bool {
        matches!(self, Self::ReadyToTest | Self::Active)
    }

    /// What the admin does next, and what members get meanwhile.
    pub fn next_step(self) -> &'static str {
        match self {
            Self::SetupIncomplete => {
                "Fix what Connection Health marks Fail. Members cannot sign in through this connection yet."
            }
            Self::ReadyToTest => {
                "Run Test Connection to check a real sign-in end to end before you tell members about it."
            }
            Self::Active => "Members sign in through this connection.",
            Self::Inactive => {
                "Members cannot sign in through this connection. Activate it to let them."
            }
        }
    }
}

/// What the admin copies into their identity provider.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceProviderDetails {
    pub acs_url: Option<String>,
    pub entity_id: Option<String>,
    pub metadata_url: Option<String>,
    pub redirect_uri: Option<String>,
    /// SAML: our Single Logout service, for both bindings.
    #[serde(default)]
    pub slo_url: Option<String>,
    /// OIDC: where the provider sends members back after logging out.
    #[serde(default)]
    pub post_logout_redirect_uri: Option<String>,
    /// OIDC: where the provider POSTs back-channel logout tokens.
    #[serde(default)]
    pub backchannel_logout_uri: Option<String>,
}

/// A SAML connection's saved IdP details.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SamlSettings {
    pub sso_url: String,
    /// The IdP's Single Logout URL; empty when single logout is off.
    #[serde(default)]
    pub slo_url: String,
    pub entity_id: String,
    /// The PEM text as saved (one or two certificates).
    pub certificates_pem: String,
    pub certificates: Vec<CertificateFacts>,
    pub certificate_error: Option<String>,
    pub mapping: AttributeMapping,
    #[serde(default)]
    pub allow_idp_initiated: bool,
    #[serde(default)]
    pub sign_requests: bool,
    #[serde(default)]
    pub require_encryption: bool,
    /// Latchkey's own certificates for this connection, current first.
    #[serde(default)]
    pub sp_certificates: Vec<SpCertificate>,
    /// Whether this server accepts a plain http:// IdP SSO URL; the form and
    /// the doctor check with the server's rule.
    #[serde(default)]
    pub url_policy: IdpUrlPolicy,
}

/// What one of Latchkey's own SAML keys is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SpKeyPurpose {
    Signing,
    Encryption,
}

impl SpKeyPurpose {
    pub fn label(self) -> &'static str {
        match self {
            SpKeyPurpose::Signing => "Signing certificate",
            SpKeyPurpose::Encryption => "Encryption certificate",
        }
    }
}

/// What the admin does to one of Latchkey's SAML keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SpKeyChange {
    /// A new current key; the old one stays published and keeps decrypting.
    Rotate,
    /// Forget the key a rotation replaced.
    RemovePrevious,
}

/// One of Latchkey's certificates for a SAML connection, as the admin sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpCertificate {
    pub purpose: SpKeyPurpose,
    /// `false` for the key a rotation replaced, still published and still
    /// decrypting until the admin removes it.
    pub current: bool,
    pub pem: String,
    pub facts: CertificateFacts,
}

/// An OIDC connection's saved details. The secret itself never leaves the server.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OidcSettings {
    pub issuer_url: String,
    pub client_id: String,
    pub has_client_secret: bool,
    pub discovery: Option<DiscoveredEndpoints>,
    /// Whether this server accepts plain http:// issuer and endpoint URLs.
    #[serde(default)]
    pub url_policy: IdpUrlPolicy,
}

/// Everything the connection page shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionDetail {
    pub summary: ConnectionSummary,
    pub service_provider: ServiceProviderDetails,
    pub saml: Option<SamlSettings>,
    pub oidc: Option<OidcSettings>,
    pub checks: Vec<DoctorCheck>,
}

/// What a connection's page loads in one answer: a page that hydrates from a
/// single resource cannot have its resources matched up in the wrong order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionPageData {
    pub detail: ConnectionDetail,
    /// Recent sign-ins and tests, newest first, as HTML rendered on the
    /// server: the page shows it as it is, so the browser's code carries
    /// neither the views nor the diagnosis catalogue.
    pub event_log: String,
    /// The subject the signed-in admin linked at this connection, if any.
    pub linked_subject: Option<String>,
}

/// The Authentication page: the organization's login URL and its connections.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthenticationOverview {
    pub org_name: String,
    pub login_url: String,
    pub connections: Vec<ConnectionSummary>,
    /// Members must sign in through SSO; admins keep password sign-in (break-glass).
    #[serde(default)]
    pub require_sso: bool,
    /// Whether an active connection has passed Test Connection (Require SSO needs one).
    #[serde(default)]
    pub has_tested_connection: bool,
    /// Email domains claimed by this organization; only verified ones route
    /// "Sign in with SSO" here.
    #[serde(default)]
    pub domains: Vec<crate::domain::DomainClaim>,
}

/// The create form: protocol, IdP and an optional name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewConnection {
    pub protocol: Protocol,
    pub provider: IdentityProvider,
    pub display_name: String,
}

/// The SAML form. Blank fields may be saved (the doctor lists what is missing);
/// filled ones must be valid.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SamlForm {
    pub provider: Option<IdentityProvider>,
    pub display_name: String,
    pub sso_url: String,
    /// Optional: where members' browsers carry our LogoutRequest.
    #[serde(default)]
    pub slo_url: String,
    pub entity_id: String,
    pub certificates_pem: String,
    pub mapping: AttributeMapping,
    /// Accept sign-ins started at the identity provider (no request of ours).
    #[serde(default)]
    pub allow_idp_initiated: bool,
    /// Sign AuthnRequests with the connection's signing key.
    #[serde(default)]
    pub sign_requests: bool,
    /// Refuse assertions that are not encrypted.
    #[serde(default)]
    pub require_encryption: bool,
}

/// The OIDC form. A blank secret keeps the stored one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OidcForm {
    pub provider: Option<IdentityProvider>,
    pub display_name: String,
    pub issuer_url: String,
    pub client_id: String,
    pub client_secret: String,
}

/// Where IdP metadata comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MetadataSource {
    Url(String),
    Xml(String),
}

/// IdP details read from metadata, put into the form for the admin to review and save.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetadataImport {
    pub entity_id: String,
    pub sso_url: String,
    /// The IdP's HTTP-Redirect SingleLogoutService, or empty.
    #[serde(default)]
    pub slo_url: String,
    pub certificates_pem: String,
    pub certificates: Vec<CertificateFacts>,
    /// The IdP's metadata says it wants signed AuthnRequests.
    #[serde(default)]
    pub wants_signed_requests: bool,
}

/// Field names used by the forms and their error messages.
pub mod field {
    pub const PROTOCOL: &str = "protocol";
    pub const PROVIDER: &str = "provider";
    pub const DISPLAY_NAME: &str = "display_name";
    pub const SSO_URL: &str = "sso_url";
    pub const SLO_URL: &str = "slo_url";
    pub const ENTITY_ID: &str = "entity_id";
    pub const CERTIFICATES: &str = "certificates_pem";
    pub const METADATA_URL: &str = "metadata_url";
    pub const METADATA_XML: &str = "metadata_xml";
    pub const ISSUER_URL: &str = "issuer_url";
    pub const CLIENT_ID: &str = "client_id";
    pub const CLIENT_SECRET: &str = "client_secret";
}

pub fn validate_new_connection(new: &NewConnection) -> FieldErrors {
    let mut errors = FieldErrors::default();
    if !new.provider.supports(new.protocol) {
        errors.0.push(validate::FieldError::new(
            field::PROVIDER,
            "unsupported_protocol",
            format!(
                "{} does not offer {} here. Choose another protocol or identity provider.",
                new.provider.label(),
                new.protocol.label()
            ),
        ));
    }
    errors.check(validate::display_name(
        field::DISPLAY_NAME,
        &new.display_name,
    ));
    errors
}

/// Checks the filled-in fields of a SAML form, in the browser and on the server.
/// `url_policy`: whether the server accepts a plain http:// IdP SSO URL.
pub fn validate_saml_form(form: &SamlForm, url_policy: IdpUrlPolicy) -> FieldErrors {
    let mut errors = FieldErrors::default();
    errors.check(validate::display_name(
        field::DISPLAY_NAME,
        &form.display_name,
    ));
    if let Some(provider) = form.provider {
        if !provider.supports(Protocol::Saml) {
            errors.0.push(validate::FieldError::new(
                field::PROVIDER,
                "unsupported_protocol",
                format!("{} does not offer SAML here.", provider.label()),
            ));
        }
    }
    if !form.sso_url.trim().is_empty() {
        errors.check(validate::idp_sso_url(
            field::SSO_URL,
            &form.sso_url,
            url_policy,
        ));
    }
    if !form.slo_url.trim().is_empty() {
        errors.check(validate::idp_slo_url(
            field::SLO_URL,
            &form.slo_url,
            url_policy,
        ));
    }
    if !form.entity_id.trim().is_empty() {
        errors.check(validate::entity_id(field::ENTITY_ID, &form.entity_id));
    }
    if !form.certificates_pem.trim().is_empty() {
        errors.check(validate::certificate_pem(
            field::CERTIFICATES,
            &form.certificates_pem,
        ));
    }
    let mapping = validate_mapping(&form.mapping);
    errors.0.extend(
        mapping
            .0
            .into_iter()
            .filter(|e| e.code != "required" || !mapping_is_blank(&form.mapping)),
    );
    errors
}

/// Checks the filled-in fields of an OIDC form. `secret_stored`: a secret is
/// already saved; `url_policy`: whether the server accepts a plain http:// issuer.
pub fn validate_oidc_form(
    form: &OidcForm,
    secret_stored: bool,
    url_policy: IdpUrlPolicy,
) -> FieldErrors {
    let mut errors = FieldErrors::default();
    errors.check(validate::display_name(
        field::DISPLAY_NAME,
        &form.display_name,
    ));
    if let Some(provider) = form.provider {
        if !provider.supports(Protocol::Oidc) {
            errors.0.push(validate::FieldError::new(
                field::PROVIDER,
                "unsupported_protocol",
                format!("{} does not offer OIDC here.", provider.label()),
            ));
        }
    }
    errors.check(validate::oidc_issuer(
        field::ISSUER_URL,
        &form.issuer_url,
        url_policy,
    ));
    errors.check(validate::client_id(field::CLIENT_ID, &form.client_id));
    errors.check(validate::client_secret(
        field::CLIENT_SECRET,
        &form.client_secret,
        secret_stored,
    ));
    errors
}

fn mapping_is_blank(mapping: &AttributeMapping) -> bool {
    [
        &mapping.email,
        &mapping.first_name,
        &mapping.last_name,
        &mapping.full_name,
    ]
    .iter()
    .all(|v| v.is_empty())
}

/// The doctor for a saved connection, as both sides compute it.
pub fn connection_checks(
    saml: Option<&SamlSettings>,
    oidc: Option<&OidcSettings>,
    discovery_error: Option<&str>,
    now_unix: i64,
) -> Vec<DoctorCheck> {
    match (saml, oidc) {
        (Some(saml), _) => doctor::saml_checks(
            &doctor::SamlSetup {
                sso_url: saml.sso_url.clone(),
                slo_url: saml.slo_url.clone(),
                entity_id: saml.entity_id.clone(),
                certificates: saml.certificates.clone(),
                certificate_error: saml.certificate_error.clone(),
                mapping: saml.mapping.clone(),
                url_policy: saml.url_policy,
                sign_requests: saml.sign_requests,
                require_encryption: saml.require_encryption,
                sp_certificates: saml.sp_certificates.clone(),
            },
            now_unix,
        ),
        (None, Some(oidc)) => doctor::oidc_checks(&doctor::OidcSetup {
            issuer_url: oidc.issuer_url.clone(),
            client_id: oidc.client_id.clone(),
            has_client_secret: oidc.has_client_secret,
            discovery: match (&oidc.discovery, discovery_error) {
                (Some(found), _) => Some(Ok(found.clone())),
                (None, Some(error)) => Some(Err(error.to_string())),
                (None, None) => None,
            },
            url_policy: oidc.url_policy,
        }),
        (None, None) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn okta_mapping() -> AttributeMapping {
        IdentityProvider::Okta.default_mapping()
    }

    #[test]
    fn new_connection_refuses_a_protocol_the_provider_lacks() {
        let bad = NewConnection {
            protocol: Protocol::Oidc,
            provider: IdentityProvider::Duo,
            display_name: String::new(),
        };
        let errors = validate_new_connection(&bad);
        assert!(errors.for_field(field::PROVIDER).is_some());
        let good = NewConnection {
            protocol: Protocol::Saml,
            provider: IdentityProvider::Duo,
            display_name: "Duo for staff".into(),
        };
        assert!(validate_new_connection(&good).is_empty());
    }

    #[test]
    fn saml_form_accepts_blanks_and_refuses_bad_values() {
        let blank = SamlForm {
            mapping: AttributeMapping::default(),
            ..Default::default()
        };
        assert!(
            validate_saml_form(&blank, IdpUrlPolicy::HttpsOnly).is_empty(),
            "{:?}",
            validate_saml_form(&blank, IdpUrlPolicy::HttpsOnly)
        );

        let bad = SamlForm {
            provider: Some(IdentityProvider::Okta),
            display_name: String::new(),
            sso_url: "not a url".into(),
            entity_id: "has space".into(),
            certificates_pem: "MIIC...".into(),
            mapping: AttributeMapping {
                email: " email".into(),
                ..okta_mapping()
            },
            ..SamlForm::default()
        };
        let errors = validate_saml_form(&bad, IdpUrlPolicy::HttpsOnly);
        for f in [
            field::SSO_URL,
            field::ENTITY_ID,
            field::CERTIFICATES,
            "email",
        ] {
            assert!(errors.for_field(f).is_some(), "{f}: {errors:?}");
        }
    }

    #[test]
    fn saml_form_with_a_partial_mapping_names_the_missing_field() {
        let form = SamlForm {
            mapping: AttributeMapping {
                email: "email".into(),
                ..Default::default()
            },
            ..Default::default()
        };
        let errors = validate_saml_form(&form, IdpUrlPolicy::HttpsOnly);
        assert!(errors.for_field("first_name").is_some());
    }

    #[test]
    fn oidc_form_requires_a_secret_only_the_first_time() {
        let form = OidcForm {
            provider: Some(IdentityProvider::Okta),
            display_name: String::new(),
            issuer_url: "https://idp.example.com".into(),
            client_id: "abc".into(),
            client_secret: String::new(),
        };
        assert!(validate_oidc_form(&form, false, IdpUrlPolicy::HttpsOnly)
            .for_field(field::CLIENT_SECRET)
            .is_some());
        assert!(validate_oidc_form(&form, true, IdpUrlPolicy::HttpsOnly).is_empty());
    }

    /// The form in the browser and the server's save refuse the same
    /// addresses: a `javascript:` SSO URL always, plain http:// unless the
    /// server allows identity providers on a private network.
    #[test]
    fn forms_apply_the_servers_url_policy() {
        let saml = |sso_url: &str| SamlForm {
            sso_url: sso_url.into(),
            ..Default::default()
        };
        let oidc = |issuer_url: &str| OidcForm {
            issuer_url: issuer_url.into(),
            client_id: "abc".into(),
            client_secret: "s3cret".into(),
            ..Default::default()
        };
        for (url, policy, accepted) in [
            ("https://idp.example.com/sso", IdpUrlPolicy::HttpsOnly, true),
            ("http://idp.example.com/sso", IdpUrlPolicy::HttpsOnly, false),
            (
                "http://idp.example.com/sso",
                IdpUrlPolicy::HttpAllowed,
                true,
            ),
            (
                "javascript:alert(document.domain)",
                IdpUrlPolicy::HttpAllowed,
                false,
            ),
        ] {
            let errors = validate_saml_form(&saml(url), policy);
            assert_eq!(
                errors.for_field(field::SSO_URL).is_none(),
                accepted,
                "{url} {policy:?}: {errors:?}"
            );
            let errors = validate_oidc_form(&oidc(url), false, policy);
            assert_eq!(
                errors.for_field(field::ISSUER_URL).is_none(),
                accepted,
                "{url} {policy:?}: {errors:?}"
            );
        }
    }

    #[test]
    fn checks_follow_the_protocol() {
        let saml = SamlSettings::default();
        let checks = connection_checks(Some(&saml), None, None, 0);
        assert!(checks.iter().all(|c| c.key.starts_with("saml_")));
        let oidc = OidcSettings::default();
        let checks = connection_checks(None, Some(&oidc), Some("unreachable"), 0);
        assert!(checks.iter().all(|c| c.key.starts_with("oidc_")));
        assert!(!doctor::ready_to_test(&checks));
    }

    #[test]
    fn a_connection_has_one_status_with_a_next_step() {
        use ConnectionStatus as S;
        let cases = [
            ((false, true, true), S::Inactive),
            ((false, false, false), S::Inactive),
            ((true, false, true), S::SetupIncomplete),
            ((true, false, false), S::SetupIncomplete),
            ((true, true, false), S::ReadyToTest),
            ((true, true, true), S::Active),
        ];
        for ((active, ready, tested), expected) in cases {
            assert_eq!(S::of(active, ready, tested), expected);
        }
        let labels = [S::SetupIncomplete, S::ReadyToTest, S::Active, S::Inactive].map(S::label);
        assert_eq!(
            labels,
            ["Setup incomplete", "Ready to test", "Active", "Inactive"]
        );
    }
}
