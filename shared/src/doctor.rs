//! The setup doctor behind Connection Health: checks a saved connection's
//! configuration and says, check by check, what is fine and what to fix.
//!
//! The inputs are plain data so both sides can run the checks: the server
//! parses certificates and fetches the discovery document, then hands over the
//! facts. Field checks reuse [`crate::validate`], so a check's message is the
//! same sentence the form shows next to the field.

use crate::idp_url::{self, IdpUrlPolicy};
use crate::mapping::{
    validate_mapping, AttributeMapping, EMAIL_FIELD, FIRST_NAME_FIELD, FULL_NAME_FIELD,
    LAST_NAME_FIELD,
};
use crate::validate;
use serde::{Deserialize, Deserializer, Serialize};

/// What the panel shows when no check failed.
pub const READY_LABEL: &str = "Ready to test";
/// What the panel shows when a check failed.
pub const NOT_READY_LABEL: &str = "Needs attention";
/// A certificate that expires within this many days gets a warning.
pub const CERTIFICATE_WARNING_DAYS: i64 = 30;

const SECONDS_PER_DAY: i64 = 86_400;

/// Stable check keys, for tests, styling and telemetry.
pub mod check_key {
    pub const SAML_SSO_URL: &str = "saml_sso_url";
    pub const SAML_ENTITY_ID: &str = "saml_entity_id";
    pub const SAML_CERTIFICATE: &str = "saml_certificate";
    pub const SAML_CERTIFICATE_VALIDITY: &str = "saml_certificate_validity";
    pub const SAML_ATTRIBUTE_MAPPING: &str = "saml_attribute_mapping";
    pub const SAML_SP_KEYS: &str = "saml_sp_keys";
    pub const SAML_SINGLE_LOGOUT: &str = "saml_single_logout";
    pub const OIDC_ISSUER_URL: &str = "oidc_issuer_url";
    pub const OIDC_CLIENT_ID: &str = "oidc_client_id";
    pub const OIDC_CLIENT_SECRET: &str = "oidc_client_secret";
    pub const OIDC_DISCOVERY: &str = "oidc_discovery";
    pub const OIDC_SINGLE_LOGOUT: &str = "oidc_single_logout";

    /// Every key, in the order the checks run.
    pub const ALL: &[&str] = &[
        SAML_SSO_URL,
        SAML_ENTITY_ID,
        SAML_CERTIFICATE,
        SAML_CERTIFICATE_VALIDITY,
        SAML_ATTRIBUTE_MAPPING,
        SAML_SP_KEYS,
        SAML_SINGLE_LOGOUT,
        OIDC_ISSUER_URL,
        OIDC_CLIENT_ID,
        OIDC_CLIENT_SECRET,
        OIDC_DISCOVERY,
        OIDC_SINGLE_LOGOUT,
    ];
}

/// The outcome of one check. Ordered from best to worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    Pass,
    /// Works, but deserves attention; does not block Test Connection.
    Warning,
    /// Blocks Test Connection.
    Fail,
}

impl CheckStatus {
    pub const ALL: &'static [CheckStatus] =
        &[CheckStatus::Pass, CheckStatus::Warning, CheckStatus::Fail];

    /// The stable name; equal to the serde name.
    pub fn key(self) -> &'static str {
        match self {
            CheckStatus::Pass => "pass",
            CheckStatus::Warning => "warning",
            CheckStatus::Fail => "fail",
        }
    }

    /// Words for screen readers next to the status icon.
    pub fn label(self) -> &'static str {
        match self {
            CheckStatus::Pass => "Pass",
            CheckStatus::Warning => "Warning",
            CheckStatus::Fail => "Fail",
        }
    }
}

/// One line of the Connection Health panel. It deserializes as owned data
/// (the key is mapped back onto its constant), so a server function can
/// return it to the browser.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DoctorCheck {
    /// One of [`check_key::ALL`].
    pub key: &'static str,
    pub label: String,
    pub status: CheckStatus,
    /// What is wrong and how to fix it, or what is fine.
    pub message: String,
    /// The exact configured value, shown by "Show details". Never a secret.
    pub detail: Option<String>,
}

/// [`DoctorCheck`] as it arrives: the key is still an owned string.
#[derive(Deserialize)]
struct DoctorCheckWire {
    key: String,
    label: String,
    status: CheckStatus,
    message: String,
    detail: Option<String>,
}

impl TryFrom<DoctorCheckWire> for DoctorCheck {
    type Error = String;

    fn try_from(wire: DoctorCheckWire) -> Result<Self, Self::Error> {
        Ok(DoctorCheck {
            key: known_check_key(&wire.key)?,
            label: wire.label,
            status: wire.status,
            message: wire.message,
            detail: wire.detail,
        })
    }
}

impl<'de> Deserialize<'de> for DoctorCheck {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let wire = DoctorCheckWire::deserialize(deserializer)?;
        DoctorCheck::try_from(wire).map_err(serde::de::Error::custom)
    }
}

/// Maps a received key back onto its `'static` constant; unknown keys are refused.
fn known_check_key(key: &str) -> Result<&'static str, String> {
    check_key::ALL
        .iter()
        .copied()
        .find(|k| *k == key)
        .ok_or_else(|| format!("unknown doctor check key `{key}`"))
}

impl DoctorCheck {
    fn new(
        key: &'static str,
        label: &str,
        status: CheckStatus,
        message: impl Into<String>,
        detail: Option<String>,
    ) -> Self {
        Self {
            key,
            label: label.to_string(),
            status,
            message: message.into(),
            detail,
        }
    }
}

/// The facts the server read from one configured X.509 certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateFacts {
    pub subject: String,
    pub issuer: String,
    /// Hex, as the server formats it (for example `AB:CD:…`).
    pub sha256_fingerprint: String,
    /// Unix seconds.
    pub not_before: i64,
    /// Unix seconds; the certificate is valid through this second.
    pub not_after: i64,
}

/// A SAML connection's saved configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SamlSetup {
    pub sso_url: String,
    /// The IdP SLO URL; empty when single logout is off.
    #[serde(default)]
    pub slo_url: String,
    pub entity_id: String,
    /// Every certificate that parsed; two during a rollover.
    pub certificates: Vec<CertificateFacts>,
    /// Why the saved PEM could not be parsed, when it could not.
    pub certificate_error: Option<String>,
    pub mapping: AttributeMapping,
    /// Whether the IdP SSO URL may use plain http:// on this server.
    #[serde(default)]
    pub url_policy: IdpUrlPolicy,
    #[serde(default)]
    pub sign_requests: bool,
    #[serde(default)]
    pub require_encryption: bool,
    /// Latchkey's own certificates for the connection.
    #[serde(default)]
    pub sp_certificates: Vec<crate::connection::SpCertificate>,
}

/// What the OIDC discovery document announced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscoveredEndpoints {
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub userinfo_endpoint: Option<String>,
    pub jwks_uri: String,
    /// Where RP-initiated logout sends the member (OIDC RP-Initiated Logout).
    #[serde(default)]
    pub end_session_endpoint: Option<String>,
}

/// An OIDC connection's saved configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OidcSetup {
    pub issuer_url: String,
    pub client_id: String,
    /// Whether an encrypted secret is stored; the secret itself never leaves the server.
    pub has_client_secret: bool,
    /// `None` until discovery ran; `Err` holds why it failed.
    pub discovery: Option<Result<DiscoveredEndpoints, String>>,
    /// Whether the issuer and the endpoints may use plain http:// on this server.
    #[serde(default)]
    pub url_policy: IdpUrlPolicy,
}

/// Where discovery reads the configuration of an issuer.
pub fn discovery_url(issuer_url: &str) -> String {
    format!(
        "{}/.well-known/openid-configuration",
        issuer_url.trim_end_matches('/')
    )
}

/// `true` when no check failed; warnings do not block a test.
pub fn ready_to_test(checks: &[DoctorCheck]) -> bool {
    checks.iter().all(|c| c.status != CheckStatus::Fail)
}

/// The worst status among the checks; `Pass` for none.
pub fn overall_status(checks: &[DoctorCheck]) -> CheckStatus {
    checks
        .iter()
        .map(|c| c.status)
        .max()
        .unwrap_or(CheckStatus::Pass)
}

/// [`READY_LABEL`] or [`NOT_READY_LABEL`].
pub fn summary_label(checks: &[DoctorCheck]) -> &'static str {
    if ready_to_test(checks) {
        READY_LABEL
    } else {
        NOT_READY_LABEL
    }
}

/// `2025-03-01 14:05 UTC` for a Unix time.
pub use crate::time::format_utc_minutes as format_unix_utc;

fn days_text(seconds: i64) -> String {
    match seconds / SECONDS_PER_DAY {
        0 => "less than a day".to_string(),
        1 => "1 day".to_string(),
        n => format!("{n} days"),
    }
}

fn non_empty(value: &str) -> Option<String> {
    (!value.is_empty()).then(|| value.to_string())
}

/// A URL check: the validator's message on failure, a warning for plain
/// http where the server accepts it, otherwise `pass_message`.
fn url_check(
    key: &'static str,
    label: &str,
    value: &str,
    result: Result<(), validate::FieldError>,
    pass_message: &str,
) -> DoctorCheck {
    match result {
        Err(e) => DoctorCheck::new(key, label, CheckStatus::Fail, e.message, non_empty(value)),
        Ok(()) if validate::is_plain_http_url(value) => DoctorCheck::new(
            key,
            label,
            CheckStatus::Warning,
            format!(
                "{label} uses plain http://, which this server accepts because it allows \
                 identity providers on a private network. Use the https:// address for \
                 real sign-ins."
            ),
            non_empty(value),
        ),
        Ok(()) => DoctorCheck::new(
            key,
            label,
            CheckStatus::Pass,
            pass_message,
            non_empty(value),
        ),
    }
}

/// Runs every SAML check. The certificate validity check is left out while
/// there is no readable certificate, since the certificate check already fails.
pub fn saml_checks(setup: &SamlSetup, now_unix: i64) -> Vec<DoctorCheck> {
    let mut checks = vec![
        url_check(
            check_key::SAML_SSO_URL,
            "IdP SSO URL",
            &setup.sso_url,
            validate::idp_sso_url("sso_url", &setup.sso_url, setup.url_policy),
            "The IdP SSO URL is set. Members are sent there to sign in.",
        ),
        entity_id_check(&setup.entity_id),
        certificate_check(setup),
    ];
    if setup.certificate_error.is_none() && !setup.certificates.is_empty() {
        checks.push(certificate_validity_check(&setup.certificates, now_unix));
    }
    checks.push(mapping_check(&setup.mapping));
    checks.extend(sp_keys_check(setup));
    // Single logout is optional: checked once an IdP SLO URL is given.
    if !setup.slo_url.trim().is_empty() {
        checks.push(url_check(
            check_key::SAML_SINGLE_LOGOUT,
            "IdP SLO URL",
            &setup.slo_url,
            validate::idp_slo_url("slo_url", &setup.slo_url, setup.url_policy),
            "Single logout is on: signing out here sends your identity provider a signed \
             LogoutRequest, and its logout requests to the SLO URL end sessions here.",
        ));
    }
    checks
}

/// What the identity provider must hold of Latchkey's own keys, shown once a
/// connection signs its requests, requires encryption, or keeps an old key.
/// Fingerprints go in the detail: they are long and only needed to compare.
fn sp_keys_check(setup: &SamlSetup) -> Option<DoctorCheck> {
    use crate::connection::SpKeyPurpose;
    let (key, label) = (check_key::SAML_SP_KEYS, "Signing and encryption");
    let detail = || {
        let lines: Vec<String> = setup
            .sp_certificates
            .iter()
            .map(|c| {
                let age = if c.current { "" } else { " (old)" };
                format!(
                    "{}{age}: SHA-256 {}",
                    c.purpose.label(),
                    c.facts.sha256_fingerprint
                )
            })
            .collect();
        (!lines.is_empty()).then(|| lines.join("\n"))
    };
    if let Some(old) = setup.sp_certificates.iter().find(|c| !c.current) {
        let word = match old.purpose {
            SpKeyPurpose::Signing => "signing",
            SpKeyPurpose::Encryption => "encryption",
        };
        return Some(DoctorCheck::new(
            key,
            label,
            CheckStatus::Warning,
            format!(
                "An old {word} key is still kept after a rotation. Once your identity provider uses the new {}, remove the old key under Signing and encryption certificates.",
                old.purpose.label()
            ),
            detail(),
        ));
    }
    let mut duties = Vec::new();
    if setup.sign_requests {
        duties
            .push("Requests are signed: your identity provider must hold the Signing certificate.");
    }
    if setup.require_encryption {
        duties.push("Only encrypted assertions are accepted: your identity provider must encrypt them for the Encryption certificate.");
    }
    (!duties.is_empty())
        .then(|| DoctorCheck::new(key, label, CheckStatus::Pass, duties.join(" "), detail()))
}

fn entity_id_check(value: &str) -> DoctorCheck {
    let (key, label) = (check_key::SAML_ENTITY_ID, "IdP Entity ID");
    match validate::entity_id("entity_id", value) {
        Err(e) => DoctorCheck::new(key, label, CheckStatus::Fail, e.message, non_empty(value)),
        Ok(()) => DoctorCheck::new(
            key,
            label,
            CheckStatus::Pass,
            "The IdP Entity ID is set. Responses must name it as their Issuer.",
            non_empty(value),
        ),
    }
}

fn certificate_summary(cert: &CertificateFacts) -> String {
    format!(
        "Subject: {}\nIssuer: {}\nSHA-256 fingerprint: {}\nValid from {} until {}",
        cert.subject,
        cert.issuer,
        cert.sha256_fingerprint,
        format_unix_utc(cert.not_before),
        format_unix_utc(cert.not_after)
    )
}

fn certificates_detail(certs: &[CertificateFacts]) -> Option<String> {
    (!certs.is_empty()).then(|| {
        certs
            .iter()
            .map(certificate_summary)
            .collect::<Vec<_>>()
            .join("\n\n")
    })
}

fn certificate_check(setup: &SamlSetup) -> DoctorCheck {
    let (key, label) = (check_key::SAML_CERTIFICATE, "X.509 Certificate");
    let detail = certificates_detail(&setup.certificates);
    if let Some(error) = &setup.certificate_error {
        return DoctorCheck::new(
            key,
            label,
            CheckStatus::Fail,
            format!(
                "The saved certificate could not be read ({}). {}",
                error.trim().trim_end_matches('.'),
                validate::CERTIFICATE_PASTE_MESSAGE
            ),
            detail,
        );
    }
    match setup.certificates.len() {
        0 => DoctorCheck::new(
            key,
            label,
            CheckStatus::Fail,
            validate::CERTIFICATE_PASTE_MESSAGE,
            None,
        ),
        1 => DoctorCheck::new(
            key,
            label,
            CheckStatus::Pass,
            "A signing certificate is saved. Responses must be signed with it.",
            detail,
        ),
        n if n <= validate::MAX_CERTIFICATES => DoctorCheck::new(
            key,
            label,
            CheckStatus::Pass,
            "Two signing certificates are saved, as during a certificate rollover. \
             Responses signed with either one are accepted.",
            detail,
        ),
        _ => DoctorCheck::new(
            key,
            label,
            CheckStatus::Fail,
            validate::TOO_MANY_CERTIFICATES_MESSAGE,
            detail,
        ),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Validity {
    NotYetValid,
    Expired,
    /// Valid now; expires within [`CERTIFICATE_WARNING_DAYS`].
    ExpiresSoon,
    Valid,
}

fn validity(cert: &CertificateFacts, now: i64) -> Validity {
    if now < cert.not_before {
        Validity::NotYetValid
    } else if now > cert.not_after {
        Validity::Expired
    } else if cert.not_after - now <= CERTIFICATE_WARNING_DAYS * SECONDS_PER_DAY {
        Validity::ExpiresSoon
    } else {
        Validity::Valid
    }
}

fn certificate_validity_check(certs: &[CertificateFacts], now: i64) -> DoctorCheck {
    let (key, label) = (check_key::SAML_CERTIFICATE_VALIDITY, "Certificate validity");
    let states: Vec<(&CertificateFacts, Validity)> =
        certs.iter().map(|c| (c, validity(c, now))).collect();
    let detail = Some(
        states
            .iter()
            .map(|(c, v)| {
                let state = match v {
                    Validity::NotYetValid => "not valid yet",
                    Validity::Expired => "expired",
                    Validity::ExpiresSoon => "expires soon",
                    Validity::Valid => "valid",
                };
                format!(
                    "{} ({}): valid from {} until {}; {state}",
                    c.subject,
                    c.sha256_fingerprint,
                    format_unix_utc(c.not_before),
                    format_unix_utc(c.not_after)
                )
            })
            .collect::<Vec<_>>()
            .join("\n"),
    );
    let usable = states
        .iter()
        .filter(|(_, v)| matches!(v, Validity::Valid | Validity::ExpiresSoon))
        .map(|(c, _)| *c)
        .max_by_key(|c| c.not_after);
    let first_with = |wanted: Validity| states.iter().find(|(_, v)| *v == wanted).map(|(c, _)| *c);

    let Some(best) = usable else {
        // Nothing can verify a signature right now.
        let all = |wanted: Validity| states.iter().all(|(_, v)| *v == wanted);
        let message = if all(Validity::Expired) {
            let latest = certs.iter().map(|c| c.not_after).max().unwrap_or_default();
            format!(
                "The certificate expired on {}, so every sign-in is refused. Download the \
                 current signing certificate from your identity provider and paste it into \
                 X.509 Certificate.",
                format_unix_utc(latest)
            )
        } else if all(Validity::NotYetValid) {
            let earliest = certs.iter().map(|c| c.not_before).min().unwrap_or_default();
            format!(
                "The certificate is not valid until {}, so sign-ins are refused until then. \
                 Check that you pasted the certificate your identity provider signs with now, \
                 and that this server's clock is correct.",
                format_unix_utc(earliest)
            )
        } else {
            "None of the saved certificates is valid right now: one has expired and the \
             other is not valid yet. Download the current signing certificate from your \
             identity provider and paste it into X.509 Certificate."
                .to_string()
        };
        return DoctorCheck::new(key, label, CheckStatus::Fail, message, detail);
    };

    let left = best.not_after - now;
    if validity(best, now) == Validity::ExpiresSoon {
        return DoctorCheck::new(
            key,
            label,
            CheckStatus::Warning,
            format!(
                "The certificate expires in {}, on {}. Get the new signing certificate from \
                 your identity provider and add it to X.509 Certificate before then, so that \
                 sign-ins keep working.",
                days_text(left),
                format_unix_utc(best.not_after)
            ),
            detail,
        );
    }
    if let Some(expired) = first_with(Validity::Expired) {
        return DoctorCheck::new(
            key,
            label,
            CheckStatus::Warning,
            format!(
                "One saved certificate expired on {}. Remove it from X.509 Certificate; the \
                 other one is valid until {}.",
                format_unix_utc(expired.not_after),
                format_unix_utc(best.not_after)
            ),
            detail,
        );
    }
    let mut message = format!(
        "The certificate is valid until {} ({} left).",
        format_unix_utc(best.not_after),
        days_text(left)
    );
    if let Some(next) = first_with(Validity::NotYetValid) {
        message.push_str(&format!(
            " The other saved certificate becomes valid on {}.",
            format_unix_utc(next.not_before)
        ));
    } else if let Some(old) = states
        .iter()
        .find(|(c, v)| *v == Validity::ExpiresSoon && !std::ptr::eq(*c, best))
        .map(|(c, _)| *c)
    {
        message.push_str(&format!(
            " The other saved certificate expires on {}; remove it once your identity \
             provider signs with the newer one.",
            format_unix_utc(old.not_after)
        ));
    }
    DoctorCheck::new(key, label, CheckStatus::Pass, message, detail)
}

fn mapping_check(mapping: &AttributeMapping) -> DoctorCheck {
    let (key, label) = (check_key::SAML_ATTRIBUTE_MAPPING, "Attribute mapping");
    let show = |value: &str| {
        if value.is_empty() {
            "(not mapped)".to_string()
        } else {
            format!("\"{value}\"")
        }
    };
    let detail = Some(format!(
        "{EMAIL_FIELD}: {}\n{FIRST_NAME_FIELD}: {}\n{LAST_NAME_FIELD}: {}\n{FULL_NAME_FIELD}: {}",
        show(&mapping.email),
        show(&mapping.first_name),
        show(&mapping.last_name),
        show(&mapping.full_name)
    ));
    let errors = validate_mapping(mapping);
    if !errors.is_empty() {
        let message = errors
            .0
            .iter()
            .map(|e| e.message.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        return DoctorCheck::new(key, label, CheckStatus::Fail, message, detail);
    }
    let mut message = if !mapping.first_name.is_empty() && !mapping.last_name.is_empty() {
        format!("{EMAIL_FIELD}, {FIRST_NAME_FIELD} and {LAST_NAME_FIELD} are mapped.")
    } else {
        format!("{EMAIL_FIELD} and {FULL_NAME_FIELD} are mapped.")
    };
    if mapping.email_from_name_id() {
        message.push_str(
            " The email address is read from the subject's NameID, so set your identity \
             provider's NameID format to email address.",
        );
    }
    message.push_str(" Attribute names must match your identity provider exactly, case included.");
    DoctorCheck::new(key, label, CheckStatus::Pass, message, detail)
}

/// Runs every OIDC check.
pub fn oidc_checks(setup: &OidcSetup) -> Vec<DoctorCheck> {
    let issuer_result = validate::oidc_issuer("issuer_url", &setup.issuer_url, setup.url_policy);
    let issuer_ok = issuer_result.is_ok();
    let client_id_check = match validate::client_id("client_id", &setup.client_id) {
        Err(e) => DoctorCheck::new(
            check_key::OIDC_CLIENT_ID,
            "Client ID",
            CheckStatus::Fail,
            e.message,
            non_empty(&setup.client_id),
        ),
        Ok(()) => DoctorCheck::new(
            check_key::OIDC_CLIENT_ID,
            "Client ID",
            CheckStatus::Pass,
            "The client ID is set.",
            non_empty(&setup.client_id),
        ),
    };
    let secret_check = match validate::client_secret("client_secret", "", setup.has_client_secret) {
        Err(e) => DoctorCheck::new(
            check_key::OIDC_CLIENT_SECRET,
            "Client Secret",
            CheckStatus::Fail,
            e.message,
            None,
        ),
        Ok(()) => DoctorCheck::new(
            check_key::OIDC_CLIENT_SECRET,
            "Client Secret",
            CheckStatus::Pass,
            "A client secret is stored, encrypted. It is never shown again; leave Client \
             Secret blank when saving to keep it, or paste a new one to replace it.",
            None,
        ),
    };
    vec![
        url_check(
            check_key::OIDC_ISSUER_URL,
            "Issuer URL",
            &setup.issuer_url,
            issuer_result,
            "The issuer URL is set. ID tokens must name it as their issuer.",
        ),
        client_id_check,
        secret_check,
        discovery_check(setup, issuer_ok),
    ]
    .into_iter()
    .chain(oidc_single_logout_check(setup))
    .collect()
}

/// Shown once discovery found an `end_session_endpoint`: single logout is on,
/// and the provider must know where to send members back.
fn oidc_single_logout_check(setup: &OidcSetup) -> Option<DoctorCheck> {
    let endpoint = match &setup.discovery {
        Some(Ok(endpoints)) => endpoints.end_session_endpoint.clone()?,
        _ => return None,
    };
    Some(DoctorCheck::new(
        check_key::OIDC_SINGLE_LOGOUT,
        "Single logout",
        CheckStatus::Pass,
        "Single logout is on: signing out here also ends the session at your identity \
         provider. Register the Post-logout redirect URI there, and the Back-channel logout \
         URI so that its logouts end sessions here.",
        Some(endpoint),
    ))
}

fn discovery_check(setup: &OidcSetup, issuer_ok: bool) -> DoctorCheck {
    let (key, label) = (check_key::OIDC_DISCOVERY, "Endpoint discovery");
    let fail = |message: String, detail: Option<String>| {
        DoctorCheck::new(key, label, CheckStatus::Fail, message, detail)
    };
    let well_known = discovery_url(&setup.issuer_url);
    let endpoints = match &setup.discovery {
        None if !issuer_ok => {
            return fail(
                "Fix the Issuer URL first. The endpoints are discovered from it when you save."
                    .to_string(),
                None,
            )
        }
        None => {
            return fail(
                format!(
                    "The endpoints have not been discovered yet. Save the connection, and \
                     Latchkey reads them from {well_known}."
                ),
                Some(well_known),
            )
        }
        Some(Err(error)) => {
            return fail(
                format!(
                    "Discovery failed: {}. Open {well_known} in a browser to check it loads, \
                     and copy the Issuer URL exactly as your identity provider shows it, \
                     including any path such as /oauth2/default. Then save again.",
                    error.trim().trim_end_matches('.')
                ),
                Some(well_known),
            )
        }
        Some(Ok(endpoints)) => endpoints,
    };
    let detail = Some(format!(
        "Authorization: {}\nToken: {}\nUserInfo: {}\nJWKS: {}",
        endpoints.authorization_endpoint,
        endpoints.token_endpoint,
        endpoints
            .userinfo_endpoint
            .as_deref()
            .unwrap_or("(not published)"),
        endpoints.jwks_uri
    ));
    let userinfo = endpoints
        .userinfo_endpoint
        .as_deref()
        .filter(|u| !u.is_empty());
    for (name, value) in [
        ("Authorization", endpoints.authorization_endpoint.as_str()),
        ("Token", endpoints.token_endpoint.as_str()),
        ("JWKS", endpoints.jwks_uri.as_str()),
    ] {
        if value.is_empty() {
            return fail(
                format!(
                    "The identity provider's configuration at {well_known} lists no {name} \
                     endpoint. Check the Issuer URL, or the application's settings in your \
                     identity provider."
                ),
                detail,
            );
        }
    }
    // The same rule as when discovery is saved and before every sign-in, so a
    // stored endpoint that an older version accepted shows up here.
    if let Err(problem) = idp_url::check_endpoints(endpoints, setup.url_policy) {
        return fail(
            format!(
                "{} Latchkey will not use this endpoint. Check the Issuer URL, or the \
                 identity provider's settings, then save again.",
                problem.message()
            ),
            detail,
        );
    }
    if userinfo.is_none() {
        return DoctorCheck::new(
            key,
            label,
            CheckStatus::Warning,
            "The Authorization, Token and JWKS endpoints were discovered, but the identity \
             provider publishes no UserInfo endpoint. Latchkey then reads the email and names \
             from the ID token alone, so make sure the ID token includes the email claim.",
            detail,
        );
    }
    DoctorCheck::new(
        key,
        label,
        CheckStatus::Pass,
        "The Authorization, Token, UserInfo and JWKS endpoints were discovered.",
        detail,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::IdentityProvider;
    use serde::de::value::{Error as DeError, StrDeserializer};
    use serde::de::IntoDeserializer;
    use CheckStatus::{Fail, Pass, Warning};

    /// 2025-06-15 15:06:40 UTC.
    const NOW: i64 = 1_750_000_000;
    const DAY: i64 = SECONDS_PER_DAY;

    /// certificates, parse error, status, message contains, validity check present
    type CertificateCase = (
        Vec<CertificateFacts>,
        Option<&'static str>,
        CheckStatus,
        &'static str,
        bool,
    );
    /// issuer, discovery outcome, status, message contains, detail contains
    type DiscoveryCase = (
        &'static str,
        Option<Result<DiscoveredEndpoints, String>>,
        CheckStatus,
        &'static str,
        Option<&'static str>,
    );

    fn cert(name: &str, not_before: i64, not_after: i64) -> CertificateFacts {
        CertificateFacts {
            subject: format!("CN={name}"),
            issuer: "CN=Example CA".into(),
            sha256_fingerprint: format!("AB:CD:{name}"),
            not_before,
            not_after,
        }
    }

    fn good_saml() -> SamlSetup {
        SamlSetup {
            sso_url: "https://idp.example.com/app/sso/saml".into(),
            entity_id: "http://www.example.com/exk123".into(),
            certificates: vec![cert("idp", NOW - 300 * DAY, NOW + 400 * DAY)],
            certificate_error: None,
            mapping: IdentityProvider::Okta.default_mapping(),
            url_policy: IdpUrlPolicy::HttpsOnly,
            ..SamlSetup::default()
        }
    }

    fn sp_certificate(
        purpose: crate::connection::SpKeyPurpose,
        current: bool,
        name: &str,
    ) -> crate::connection::SpCertificate {
        crate::connection::SpCertificate {
            purpose,
            current,
            pem: String::new(),
            facts: cert(name, NOW, NOW + 3650 * DAY),
        }
    }

    #[test]
    fn the_keys_check_says_what_the_idp_must_hold_and_warns_of_an_old_key() {
        use crate::connection::SpKeyPurpose::{Encryption, Signing};
        let keys = vec![
            sp_certificate(Signing, true, "signing"),
            sp_certificate(Encryption, true, "encryption"),
        ];
        let quiet = SamlSetup {
            sp_certificates: keys.clone(),
            ..good_saml()
        };
        assert!(saml_checks(&quiet, NOW)
            .iter()
            .all(|c| c.key != check_key::SAML_SP_KEYS));

        let both = SamlSetup {
            sign_requests: true,
            require_encryption: true,
            sp_certificates: keys.clone(),
            ..good_saml()
        };
        let check = saml_check(&both, check_key::SAML_SP_KEYS);
        assert_eq!(check.status, CheckStatus::Pass);
        assert_well_formed(&check);
        assert_eq!(
            check.message,
            "Requests are signed: your identity provider must hold the Signing certificate. Only encrypted assertions are accepted: your identity provider must encrypt them for the Encryption certificate."
        );
        let signing = &keys[0].facts.sha256_fingerprint;
        let encryption = &keys[1].facts.sha256_fingerprint;
        assert_eq!(
            check.detail,
            Some(format!("Signing certificate: SHA-256 {signing}\nEncryption certificate: SHA-256 {encryption}"))
        );

        let mut rotated = keys.clone();
        rotated.push(sp_certificate(Encryption, false, "old encryption"));
        let kept = SamlSetup {
            sp_certificates: rotated,
            ..good_saml()
        };
        let check = saml_check(&kept, check_key::SAML_SP_KEYS);
        assert_eq!(check.status, CheckStatus::Warning);
        assert_well_formed(&check);
        assert!(
            check
                .message
                .starts_with("An old encryption key is still kept"),
            "{}",
            check.message
        );
        assert!(check
            .detail
            .unwrap()
            .ends_with("Encryption certificate (old): SHA-256 AB:CD:old encryption"));
        assert!(ready_to_test(&saml_checks(&kept, NOW)));
    }

    fn good_oidc() -> OidcSetup {
        OidcSetup {
            issuer_url: "https://login.example.com/oauth2/default".into(),
            client_id: "0oa1b2c3".into(),
            has_client_secret: true,
            discovery: Some(Ok(endpoints())),
            url_policy: IdpUrlPolicy::HttpsOnly,
        }
    }

    fn endpoints() -> DiscoveredEndpoints {
        DiscoveredEndpoints {
            authorization_endpoint: "https://login.example.com/oauth2/default/v1/authorize".into(),
            token_endpoint: "https://login.example.com/oauth2/default/v1/token".into(),
            userinfo_endpoint: Some("https://login.example.com/oauth2/default/v1/userinfo".into()),
            jwks_uri: "https://login.example.com/oauth2/default/v1/keys".into(),
            end_session_endpoint: None,
        }
    }

    fn find<'a>(checks: &'a [DoctorCheck], key: &str) -> Option<&'a DoctorCheck> {
        checks.iter().find(|c| c.key == key)
    }

    fn saml_check(setup: &SamlSetup, key: &str) -> DoctorCheck {
        find(&saml_checks(setup, NOW), key)
            .unwrap_or_else(|| panic!("no {key} check"))
            .clone()
    }

    fn oidc_check(setup: &OidcSetup, key: &str) -> DoctorCheck {
        find(&oidc_checks(setup), key)
            .unwrap_or_else(|| panic!("no {key} check"))
            .clone()
    }

    fn assert_well_formed(check: &DoctorCheck) {
        assert!(check_key::ALL.contains(&check.key), "{}", check.key);
        assert!(!check.label.is_empty());
        assert!(check.message.ends_with('.'), "{}", check.message);
        assert!(!check.message.contains("  "), "{}", check.message);
    }

    #[test]
    fn a_complete_saml_setup_is_ready() {
        let checks = saml_checks(&good_saml(), NOW);
        let keys: Vec<&str> = checks.iter().map(|c| c.key).collect();
        assert_eq!(
            keys,
            [
                check_key::SAML_SSO_URL,
                check_key::SAML_ENTITY_ID,
                check_key::SAML_CERTIFICATE,
                check_key::SAML_CERTIFICATE_VALIDITY,
                check_key::SAML_ATTRIBUTE_MAPPING
            ]
        );
        let labels: Vec<&str> = checks.iter().map(|c| c.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "IdP SSO URL",
                "IdP Entity ID",
                "X.509 Certificate",
                "Certificate validity",
                "Attribute mapping"
            ]
        );
        for check in &checks {
            assert_eq!(check.status, Pass, "{check:?}");
            assert_well_formed(check);
        }
        assert!(ready_to_test(&checks));
        assert_eq!(summary_label(&checks), "Ready to test");
    }

    #[test]
    fn a_complete_oidc_setup_is_ready() {
        let checks = oidc_checks(&good_oidc());
        let keys: Vec<&str> = checks.iter().map(|c| c.key).collect();
        assert_eq!(
            keys,
            [
                check_key::OIDC_ISSUER_URL,
                check_key::OIDC_CLIENT_ID,
                check_key::OIDC_CLIENT_SECRET,
                check_key::OIDC_DISCOVERY
            ]
        );
        let labels: Vec<&str> = checks.iter().map(|c| c.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "Issuer URL",
                "Client ID",
                "Client Secret",
                "Endpoint discovery"
            ]
        );
        for check in &checks {
            assert_eq!(check.status, Pass, "{check:?}");
            assert_well_formed(check);
        }
        assert!(ready_to_test(&checks));
    }

    #[test]
    fn sso_url_check() {
        use IdpUrlPolicy::{HttpAllowed, HttpsOnly};
        let cases: &[(&str, IdpUrlPolicy, CheckStatus, Option<&str>)] = &[
            ("https://idp.example.com/sso", HttpsOnly, Pass, None),
            ("https://idp.example.com/sso?idpid=1", HttpsOnly, Pass, None),
            (
                "http://localhost:8080/realms/acme/protocol/saml",
                HttpAllowed,
                Warning,
                None,
            ),
            (
                "http://localhost:8080/realms/acme/protocol/saml",
                HttpsOnly,
                Fail,
                Some("https_required"),
            ),
            ("", HttpsOnly, Fail, Some("required")),
            ("   ", HttpsOnly, Fail, Some("required")),
            (
                "http://idp.example.com/sso",
                HttpsOnly,
                Fail,
                Some("https_required"),
            ),
            (
                "javascript:alert(document.domain)",
                HttpAllowed,
                Fail,
                Some("unsupported_scheme"),
            ),
            ("idp.example.com/sso", HttpsOnly, Fail, Some("invalid_url")),
            (
                "https://idp.example.com/a b",
                HttpsOnly,
                Fail,
                Some("invalid_characters"),
            ),
            (
                "https://idp.example.com:99999",
                HttpsOnly,
                Fail,
                Some("invalid_port"),
            ),
        ];
        for (value, policy, status, code) in cases {
            let setup = SamlSetup {
                sso_url: value.to_string(),
                url_policy: *policy,
                ..good_saml()
            };
            let check = saml_check(&setup, check_key::SAML_SSO_URL);
            assert_eq!(check.status, *status, "{value:?}");
            assert_well_formed(&check);
            assert_eq!(check.detail, non_empty(value), "{value:?}");
            if let Some(code) = code {
                let e = validate::idp_sso_url("sso_url", value, *policy).unwrap_err();
                assert_eq!(e.code, *code);
                assert_eq!(check.message, e.message, "same words as the form");
            }
        }
    }

    #[test]
    fn entity_id_check_cases() {
        let cases: &[(&str, CheckStatus)] = &[
            ("http://www.example.com/exk123", Pass),
            ("https://sts.example.net/tenant/", Pass),
            ("urn:example:idp", Pass),
            ("", Fail),
            ("my idp", Fail),
            ("my-idp", Fail),
        ];
        for (value, status) in cases {
            let setup = SamlSetup {
                entity_id: value.to_string(),
                ..good_saml()
            };
            let check = saml_check(&setup, check_key::SAML_ENTITY_ID);
            assert_eq!(check.status, *status, "{value:?}");
            assert_well_formed(&check);
            assert_eq!(check.detail, non_empty(value));
            if *status == Fail {
                assert_eq!(
                    check.message,
                    validate::entity_id("entity_id", value).unwrap_err().message
                );
            }
        }
    }

    #[test]
    fn certificate_check_cases() {
        let valid = cert("a", NOW - DAY, NOW + 365 * DAY);
        let other = cert("b", NOW - DAY, NOW + 700 * DAY);
        // (certificates, parse error, status, message contains, validity check present)
        let cases: Vec<CertificateCase> = vec![
            (
                vec![valid.clone()],
                None,
                Pass,
                "A signing certificate is saved",
                true,
            ),
            (
                vec![valid.clone(), other.clone()],
                None,
                Pass,
                "rollover",
                true,
            ),
            (vec![], None, Fail, "-----BEGIN CERTIFICATE-----", false),
            (
                vec![],
                Some("bad base64 in line 3."),
                Fail,
                "could not be read (bad base64 in line 3). Paste",
                false,
            ),
            (
                vec![valid.clone()],
                Some("trailing garbage"),
                Fail,
                "could not be read",
                false,
            ),
            (
                vec![valid.clone(), other.clone(), valid.clone()],
                None,
                Fail,
                "at most two certificates",
                true,
            ),
        ];
        for (certs, error, status, needle, validity_present) in cases {
            let setup = SamlSetup {
                certificates: certs.clone(),
                certificate_error: error.map(str::to_string),
                ..good_saml()
            };
            let checks = saml_checks(&setup, NOW);
            let check = find(&checks, check_key::SAML_CERTIFICATE).unwrap();
            assert_eq!(check.status, status, "{certs:?} {error:?}");
            assert!(check.message.contains(needle), "{}", check.message);
            assert_well_formed(check);
            assert_eq!(
                find(&checks, check_key::SAML_CERTIFICATE_VALIDITY).is_some(),
                validity_present,
                "{certs:?} {error:?}"
            );
            match certs.first() {
                Some(c) => {
                    let detail = check.detail.as_deref().unwrap();
                    assert!(detail.contains(&c.subject), "{detail}");
                    assert!(detail.contains(&c.sha256_fingerprint), "{detail}");
                    assert!(detail.contains("Issuer: CN=Example CA"), "{detail}");
                }
                None => assert_eq!(check.detail, None),
            }
        }
        let empty = saml_check(
            &SamlSetup {
                certificates: vec![],
                ..good_saml()
            },
            check_key::SAML_CERTIFICATE,
        );
        assert_eq!(
            empty.message,
            validate::certificate_pem("c", "").unwrap_err().message
        );
    }

    #[test]
    fn certificate_validity_cases() {
        let w = CERTIFICATE_WARNING_DAYS * DAY;
        // (certificates, status, message contains)
        let cases: Vec<(Vec<CertificateFacts>, CheckStatus, &str)> = vec![
            (
                vec![cert("a", NOW - DAY, NOW + 365 * DAY)],
                Pass,
                "valid until 2026-06-15 15:06 UTC (365 days left)",
            ),
            (
                vec![cert("a", NOW - DAY, NOW + w + 1)],
                Pass,
                "(30 days left)",
            ),
            (vec![cert("a", NOW, NOW + 365 * DAY)], Pass, "valid until"),
            (
                vec![cert("a", NOW - DAY, NOW + w)],
                Warning,
                "expires in 30 days, on 2025-07-15",
            ),
            (
                vec![cert("a", NOW - DAY, NOW + 3 * DAY)],
                Warning,
                "expires in 3 days",
            ),
            (
                vec![cert("a", NOW - DAY, NOW + DAY)],
                Warning,
                "expires in 1 day",
            ),
            (
                vec![cert("a", NOW - DAY, NOW + 60)],
                Warning,
                "expires in less than a day",
            ),
            (vec![cert("a", NOW - DAY, NOW)], Warning, "less than a day"),
            (
                vec![cert("a", NOW - 400 * DAY, NOW - 1)],
                Fail,
                "expired on 2025-06-15 15:06 UTC",
            ),
            (
                vec![cert("a", NOW - 400 * DAY, NOW - 30 * DAY)],
                Fail,
                "expired on 2025-05-16",
            ),
            (
                vec![cert("a", NOW + 1, NOW + 400 * DAY)],
                Fail,
                "not valid until 2025-06-15 15:06 UTC",
            ),
            (
                vec![cert("a", NOW + 10 * DAY, NOW + 400 * DAY)],
                Fail,
                "clock",
            ),
            // rollovers
            (
                vec![
                    cert("old", NOW - 400 * DAY, NOW - DAY),
                    cert("new", NOW - DAY, NOW + 365 * DAY),
                ],
                Warning,
                "One saved certificate expired on 2025-06-14",
            ),
            (
                vec![
                    cert("cur", NOW - DAY, NOW + 365 * DAY),
                    cert("next", NOW + 10 * DAY, NOW + 800 * DAY),
                ],
                Pass,
                "becomes valid on 2025-06-25",
            ),
            (
                vec![
                    cert("old", NOW - 300 * DAY, NOW + 5 * DAY),
                    cert("new", NOW - DAY, NOW + 365 * DAY),
                ],
                Pass,
                "The other saved certificate expires on 2025-06-20",
            ),
            (
                vec![
                    cert("old", NOW - 300 * DAY, NOW + 5 * DAY),
                    cert("next", NOW + 2 * DAY, NOW + 365 * DAY),
                ],
                Warning,
                "expires in 5 days",
            ),
            (
                vec![
                    cert("a", NOW - 400 * DAY, NOW - 10 * DAY),
                    cert("b", NOW - 400 * DAY, NOW - DAY),
                ],
                Fail,
                "expired on 2025-06-14",
            ),
            (
                vec![
                    cert("a", NOW + DAY, NOW + 400 * DAY),
                    cert("b", NOW + 2 * DAY, NOW + 400 * DAY),
                ],
                Fail,
                "not valid until 2025-06-16",
            ),
            (
                vec![
                    cert("old", NOW - 400 * DAY, NOW - DAY),
                    cert("next", NOW + DAY, NOW + 400 * DAY),
                ],
                Fail,
                "None of the saved certificates is valid",
            ),
        ];
        for (certs, status, needle) in cases {
            let setup = SamlSetup {
                certificates: certs.clone(),
                ..good_saml()
            };
            let check = saml_check(&setup, check_key::SAML_CERTIFICATE_VALIDITY);
            assert_eq!(check.status, status, "{certs:?}: {}", check.message);
            assert!(
                check.message.contains(needle),
                "{needle:?} not in {:?}",
                check.message
            );
            assert_well_formed(&check);
            let detail = check.detail.unwrap();
            for c in &certs {
                assert!(detail.contains(&c.sha256_fingerprint), "{detail}");
                assert!(detail.contains(&format_unix_utc(c.not_after)), "{detail}");
            }
            let ready = ready_to_test(&saml_checks(&setup, NOW));
            assert_eq!(ready, status != Fail, "{certs:?}");
        }
    }

    #[test]
    fn mapping_check_cases() {
        let m = |e: &str, f: &str, l: &str, n: &str| AttributeMapping {
            email: e.into(),
            first_name: f.into(),
            last_name: l.into(),
            full_name: n.into(),
        };
        let cases: Vec<(AttributeMapping, CheckStatus, &str)> = vec![
            (m("email", "firstName", "lastName", ""), Pass, "email, first_name and last_name are mapped."),
            (m("email", "", "", "displayName"), Pass, "email and full_name are mapped."),
            (m("NameID", "firstName", "lastName", ""), Pass, "NameID format to email address"),
            (m("", "firstName", "lastName", ""), Fail, "Enter the name of the attribute that carries the user's email address"),
            (m("email", "", "lastName", ""), Fail, "first name, or map a full name instead."),
            (m("email", "firstName ", "lastName", ""), Fail, "matched exactly"),
            (m("", "", "", ""), Fail, "email address, or NameID to use the subject's NameID. Enter the name of the attribute that carries the user's first name"),
        ];
        for (mapping, status, needle) in cases {
            let setup = SamlSetup {
                mapping: mapping.clone(),
                ..good_saml()
            };
            let check = saml_check(&setup, check_key::SAML_ATTRIBUTE_MAPPING);
            assert_eq!(check.status, status, "{mapping:?}");
            assert!(
                check.message.contains(needle),
                "{needle:?} not in {:?}",
                check.message
            );
            assert_well_formed(&check);
            let detail = check.detail.unwrap();
            assert!(detail.starts_with("email: "), "{detail}");
            if !mapping.first_name.is_empty() {
                assert!(
                    detail.contains(&format!("first_name: \"{}\"", mapping.first_name)),
                    "{detail}"
                );
            } else {
                assert!(detail.contains("first_name: (not mapped)"), "{detail}");
            }
        }
        for &p in IdentityProvider::ALL {
            let setup = SamlSetup {
                mapping: p.default_mapping(),
                ..good_saml()
            };
            assert_eq!(
                saml_check(&setup, check_key::SAML_ATTRIBUTE_MAPPING).status,
                Pass,
                "{p:?}"
            );
        }
    }

    #[test]
    fn an_empty_saml_setup_fails_everything_it_can() {
        let checks = saml_checks(&SamlSetup::default(), NOW);
        let statuses: Vec<(&str, CheckStatus)> = checks.iter().map(|c| (c.key, c.status)).collect();
        assert_eq!(
            statuses,
            [
                (check_key::SAML_SSO_URL, Fail),
                (check_key::SAML_ENTITY_ID, Fail),
                (check_key::SAML_CERTIFICATE, Fail),
                (check_key::SAML_ATTRIBUTE_MAPPING, Fail)
            ]
        );
        for c in &checks {
            assert_well_formed(c);
        }
        assert!(!ready_to_test(&checks));
        assert_eq!(summary_label(&checks), NOT_READY_LABEL);
        assert_eq!(overall_status(&checks), Fail);
    }

    #[test]
    fn issuer_check_cases() {
        use IdpUrlPolicy::{HttpAllowed, HttpsOnly};
        let cases: &[(&str, IdpUrlPolicy, CheckStatus, Option<&str>)] = &[
            (
                "https://login.example.com/oauth2/default",
                HttpsOnly,
                Pass,
                None,
            ),
            ("https://login.example.com/", HttpsOnly, Pass, None),
            (
                "http://localhost:8080/realms/acme",
                HttpAllowed,
                Warning,
                None,
            ),
            (
                "http://localhost:8080/realms/acme",
                HttpsOnly,
                Fail,
                Some("https_required"),
            ),
            ("", HttpsOnly, Fail, Some("required")),
            (
                "http://login.example.com",
                HttpsOnly,
                Fail,
                Some("https_required"),
            ),
            (
                "https://login.example.com/?x=1",
                HttpsOnly,
                Fail,
                Some("invalid_issuer"),
            ),
            ("login.example.com", HttpsOnly, Fail, Some("invalid_url")),
        ];
        for (value, policy, status, code) in cases {
            let setup = OidcSetup {
                issuer_url: value.to_string(),
                url_policy: *policy,
                ..good_oidc()
            };
            let check = oidc_check(&setup, check_key::OIDC_ISSUER_URL);
            assert_eq!(check.status, *status, "{value:?}");
            assert_well_formed(&check);
            assert_eq!(check.detail, non_empty(value));
            if let Some(code) = code {
                let e = validate::oidc_issuer("issuer_url", value, *policy).unwrap_err();
                assert_eq!(e.code, *code);
                assert_eq!(check.message, e.message);
            }
        }
    }

    #[test]
    fn client_id_and_secret_checks() {
        let cases: &[(&str, CheckStatus)] = &[
            ("0oa1b2c3", Pass),
            ("", Fail),
            (" 0oa1", Fail),
            ("cl\u{e9}", Fail),
        ];
        for (value, status) in cases {
            let setup = OidcSetup {
                client_id: value.to_string(),
                ..good_oidc()
            };
            let check = oidc_check(&setup, check_key::OIDC_CLIENT_ID);
            assert_eq!(check.status, *status, "{value:?}");
            assert_well_formed(&check);
            assert_eq!(check.detail, non_empty(value));
            if *status == Fail {
                assert_eq!(
                    check.message,
                    validate::client_id("client_id", value).unwrap_err().message
                );
            }
        }
        for (stored, status) in [(true, Pass), (false, Fail)] {
            let setup = OidcSetup {
                has_client_secret: stored,
                ..good_oidc()
            };
            let check = oidc_check(&setup, check_key::OIDC_CLIENT_SECRET);
            assert_eq!(check.status, status);
            assert_eq!(check.detail, None, "a secret is never shown");
            assert_well_formed(&check);
            if !stored {
                assert_eq!(
                    check.message,
                    validate::client_secret("client_secret", "", false)
                        .unwrap_err()
                        .message
                );
            }
        }
    }

    #[test]
    fn discovery_check_cases() {
        let with = |f: &dyn Fn(&mut DiscoveredEndpoints)| {
            let mut e = endpoints();
            f(&mut e);
            Some(Ok(e))
        };
        // (issuer, discovery, status, message contains, detail contains)
        let cases: Vec<DiscoveryCase> = vec![
            ("https://login.example.com/oauth2/default", Some(Ok(endpoints())), Pass, "UserInfo and JWKS endpoints were discovered", Some("JWKS: https://login.example.com/oauth2/default/v1/keys")),
            ("https://login.example.com", with(&|e| e.userinfo_endpoint = None), Warning, "no UserInfo endpoint", Some("UserInfo: (not published)")),
            ("https://login.example.com", with(&|e| e.userinfo_endpoint = Some(String::new())), Warning, "no UserInfo endpoint", None),
            ("https://login.example.com/", None, Fail, "not been discovered yet", Some("https://login.example.com/.well-known/openid-configuration")),
            ("", None, Fail, "Fix the Issuer URL first", None),
            ("https://login.example.com", Some(Err("HTTP 404 Not Found.".into())), Fail, "Discovery failed: HTTP 404 Not Found. Open https://login.example.com/.well-known/openid-configuration", Some("https://login.example.com/.well-known/openid-configuration")),
            ("https://login.example.com", with(&|e| e.token_endpoint.clear()), Fail, "lists no Token endpoint", Some("Authorization: https://")),
            ("https://login.example.com", with(&|e| e.jwks_uri = "http://login.example.com/keys".into()), Fail, "gives \"http://login.example.com/keys\" as its JWKS endpoint (jwks_uri). The address must start with https://.", None),
            ("https://login.example.com", with(&|e| e.authorization_endpoint = "/authorize".into()), Fail, "as its Authorization endpoint", None),
            ("https://login.example.com", with(&|e| e.authorization_endpoint = "javascript:alert(document.domain)".into()), Fail, "gives \"javascript:alert(document.domain)\" as its Authorization endpoint (authorization_endpoint). The address must start with https://. A javascript: address is not a web page", None),
            ("https://login.example.com", with(&|e| e.userinfo_endpoint = Some("nope".into())), Fail, "as its UserInfo endpoint", None),
        ];
        for (issuer, discovery, status, needle, detail_needle) in cases {
            let setup = OidcSetup {
                issuer_url: issuer.into(),
                discovery,
                ..good_oidc()
            };
            let check = oidc_check(&setup, check_key::OIDC_DISCOVERY);
            assert_eq!(check.status, status, "{setup:?}: {}", check.message);
            assert!(
                check.message.contains(needle),
                "{needle:?} not in {:?}",
                check.message
            );
            assert_well_formed(&check);
            if let Some(d) = detail_needle {
                assert!(
                    check.detail.as_deref().unwrap_or_default().contains(d),
                    "{:?}",
                    check.detail
                );
            }
        }
    }

    #[test]
    fn readiness_allows_warnings_and_refuses_failures() {
        let check = |status| DoctorCheck::new(check_key::SAML_SSO_URL, "x", status, "m.", None);
        let cases: &[(&[CheckStatus], bool, CheckStatus)] = &[
            (&[], true, Pass),
            (&[Pass], true, Pass),
            (&[Pass, Warning], true, Warning),
            (&[Warning, Warning], true, Warning),
            (&[Pass, Fail], false, Fail),
            (&[Warning, Fail, Pass], false, Fail),
        ];
        for (statuses, ready, overall) in cases {
            let checks: Vec<DoctorCheck> = statuses.iter().map(|s| check(*s)).collect();
            assert_eq!(ready_to_test(&checks), *ready, "{statuses:?}");
            assert_eq!(overall_status(&checks), *overall, "{statuses:?}");
            assert_eq!(
                summary_label(&checks),
                if *ready { READY_LABEL } else { NOT_READY_LABEL }
            );
        }
        assert_eq!(READY_LABEL, "Ready to test");
        assert!(!NOT_READY_LABEL.to_lowercase().contains("ready to test"));
    }

    #[test]
    fn status_keys_and_labels() {
        for (status, key, label) in [
            (Pass, "pass", "Pass"),
            (Warning, "warning", "Warning"),
            (Fail, "fail", "Fail"),
        ] {
            assert_eq!(status.key(), key);
            assert_eq!(status.label(), label);
            let de: StrDeserializer<'_, DeError> = key.into_deserializer();
            assert_eq!(CheckStatus::deserialize(de), Ok(status));
        }
        assert_eq!(CheckStatus::ALL, [Pass, Warning, Fail]);
    }

    #[test]
    fn check_keys_are_unique_and_travel_as_static_strings() {
        let mut keys = check_key::ALL.to_vec();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), check_key::ALL.len());
        let wire = |key: &str| DoctorCheckWire {
            key: key.to_string(),
            label: "IdP SSO URL".into(),
            status: Warning,
            message: "m.".into(),
            detail: Some("d".into()),
        };
        for key in check_key::ALL {
            let check = DoctorCheck::try_from(wire(key)).unwrap();
            assert_eq!(check.key, *key);
            assert_eq!(
                (
                    check.label.as_str(),
                    check.status,
                    check.message.as_str(),
                    check.detail.as_deref()
                ),
                ("IdP SSO URL", Warning, "m.", Some("d"))
            );
        }
        for bad in ["", "saml", "SAML_SSO_URL"] {
            assert!(DoctorCheck::try_from(wire(bad)).is_err(), "{bad:?}");
        }
        fn owned<T: serde::de::DeserializeOwned + Serialize + Clone + Send + Sync>() {}
        owned::<DoctorCheck>();
        owned::<SamlSetup>();
        owned::<OidcSetup>();
    }

    #[test]
    fn unix_time_formatting() {
        let cases = [
            (0, "1970-01-01 00:00 UTC"),
            (59, "1970-01-01 00:00 UTC"),
            (86_399, "1970-01-01 23:59 UTC"),
            (-1, "1969-12-31 23:59 UTC"),
            (951_782_400, "2000-02-29 00:00 UTC"),
            (1_709_251_199, "2024-02-29 23:59 UTC"),
            (1_750_000_000, "2025-06-15 15:06 UTC"),
            (4_102_444_800, "2100-01-01 00:00 UTC"),
            (253_402_300_799, "9999-12-31 23:59 UTC"),
            (-2_208_988_800, "1900-01-01 00:00 UTC"),
        ];
        for (unix, expected) in cases {
            assert_eq!(format_unix_utc(unix), expected, "{unix}");
        }
    }

    #[test]
    fn discovery_url_joins_without_double_slashes() {
        for (issuer, expected) in [
            (
                "https://login.example.com",
                "https://login.example.com/.well-known/openid-configuration",
            ),
            (
                "https://login.example.com/",
                "https://login.example.com/.well-known/openid-configuration",
            ),
            (
                "https://x.example.com/oauth2/default",
                "https://x.example.com/oauth2/default/.well-known/openid-configuration",
            ),
        ] {
            assert_eq!(discovery_url(issuer), expected);
        }
    }
}
