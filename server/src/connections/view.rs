//! Turns stored connections into what the settings pages show.

use super::PublicUrls;
use crate::entities::sso_connection;
use crate::saml::certificate::parse_pem_bundle;
use shared::connection::{
    connection_checks, ConnectionDetail, ConnectionStatus, ConnectionSummary, OidcSettings,
    SamlSettings, ServiceProviderDetails, SpCertificate,
};
use shared::doctor::{overall_status, ready_to_test, DiscoveredEndpoints};
use shared::{AttributeMapping, IdentityProvider, IdpUrlPolicy, Protocol};

pub fn protocol(model: &sso_connection::Model) -> Protocol {
    Protocol::from_key(&model.protocol).unwrap_or(Protocol::Saml)
}

pub fn provider(model: &sso_connection::Model) -> IdentityProvider {
    IdentityProvider::from_key(&model.provider).unwrap_or(IdentityProvider::Other)
}

pub fn mapping(model: &sso_connection::Model) -> AttributeMapping {
    AttributeMapping {
        email: model.mapping_email.clone(),
        first_name: model.mapping_first_name.clone(),
        last_name: model.mapping_last_name.clone(),
        full_name: model.mapping_full_name.clone(),
    }
}

fn saml_settings(model: &sso_connection::Model, url_policy: IdpUrlPolicy) -> SamlSettings {
    let (certificates, certificate_error) = if model.saml_certificates.trim().is_empty() {
        (Vec::new(), None)
    } else {
        match parse_pem_bundle(&model.saml_certificates) {
            Ok(parsed) => (parsed.into_iter().map(|c| c.facts).collect(), None),
            Err(error) => (Vec::new(), Some(error.to_string())),
        }
    };
    SamlSettings {
        sso_url: model.saml_sso_url.clone(),
        slo_url: model.saml_idp_slo_url.clone(),
        entity_id: model.saml_entity_id.clone(),
        certificates_pem: model.saml_certificates.clone(),
        certificates,
        certificate_error,
        mapping: mapping(model),
        allow_idp_initiated: model.allow_idp_initiated,
        sign_requests: model.saml_sign_requests,
        require_encryption: model.saml_require_encryption,
        // Read from their own table by `sp_keys::certificates`; `detail` adds them.
        sp_certificates: Vec::new(),
        url_policy,
    }
}

fn oidc_settings(model: &sso_connection::Model, url_policy: IdpUrlPolicy) -> OidcSettings {
    OidcSettings {
        issuer_url: model.oidc_issuer_url.clone(),
        client_id: model.oidc_client_id.clone(),
        has_client_secret: model.oidc_client_secret.is_some(),
        discovery: model
            .oidc_discovery
            .as_deref()
            .and_then(|json| serde_json::from_str::<DiscoveredEndpoints>(json).ok()),
        url_policy,
    }
}

fn settings(
    model: &sso_connection::Model,
    url_policy: IdpUrlPolicy,
) -> (Option<SamlSettings>, Option<OidcSettings>) {
    match protocol(model) {
        Protocol::Saml => (Some(saml_settings(model, url_policy)), None),
        Protocol::Oidc => (None, Some(oidc_settings(model, url_policy))),
    }
}

/// The status the admin sees on the connection's page and in the list. It is
/// also the sign-in routing rule ([`ConnectionStatus::routes_sign_ins`]), so a
/// connection marked "Setup incomplete" never receives a member.
pub fn status(
    model: &sso_connection::Model,
    now_unix: i64,
    url_policy: IdpUrlPolicy,
) -> ConnectionStatus {
    let (saml, oidc) = settings(model, url_policy);
    let checks = connection_checks(saml.as_ref(), oidc.as_ref(), None, now_unix);
    ConnectionStatus::of(
        model.active,
        ready_to_test(&checks),
        model.tested_at.is_some(),
    )
}

/// `url_policy`: whether this server accepts plain http:// IdP addresses; the
/// doctor and the page's form check with it. `sp_certificates`: a SAML
/// connection's own certificates (`sp_keys::certificates`), which the doctor
/// speaks of too.
pub fn detail(
    model: &sso_connection::Model,
    urls: &PublicUrls,
    now_unix: i64,
    url_policy: IdpUrlPolicy,
    sp_certificates: Vec<SpCertificate>,
) -> ConnectionDetail {
    let protocol = protocol(model);
    let (mut saml, oidc) = settings(model, url_policy);
    if let Some(saml) = saml.as_mut() {
        saml.sp_certificates = sp_certificates;
    }
    let checks = connection_checks(saml.as_ref(), oidc.as_ref(), None, now_unix);
    let service_provider = match protocol {
        Protocol::Saml => ServiceProviderDetails {
            acs_url: Some(urls.acs_url(model.id)),
            entity_id: Some(urls.sp_entity_id(model.id)),
            metadata_url: Some(urls.metadata_url(model.id)),
            slo_url: Some(urls.slo_url(model.id)),
            ..Default::default()
        },
        Protocol::Oidc => ServiceProviderDetails {
            redirect_uri: Some(urls.redirect_uri(model.id)),
            post_logout_redirect_uri: Some(urls.post_logout_redirect_uri(model.id)),
            backchannel_logout_uri: Some(urls.backchannel_logout_uri(model.id)),
            ..Default::default()
        },
    };
    let ready = ready_to_test(&checks);
    let summary = ConnectionSummary {
        id: model.id.to_string(),
        protocol,
        provider: provider(model),
        display_name: model.display_name.clone(),
        active: model.active,
        health: overall_status(&checks),
        ready_to_test: ready,
        status: ConnectionStatus::of(model.active, ready, model.tested_at.is_some()),
    };
    ConnectionDetail {
        summary,
        service_provider,
        saml,
        oidc,
        checks,
    }
}

pub fn summary(
    model: &sso_connection::Model,
    urls: &PublicUrls,
    now_unix: i64,
    url_policy: IdpUrlPolicy,
) -> ConnectionSummary {
    // The list reads no keys: an old key kept after a rotation is a Warning on
    // the connection's own page only.
    detail(model, urls, now_unix, url_policy, Vec::new()).summary
}
