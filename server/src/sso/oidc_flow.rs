//! What the Redirect URI does with the provider's answer: find the sign-in it
//! answers (by `state`, and only in the browser that started it), run the back
//! channel, map the claims; `finish` then signs the member in or hands the
//! admin a test result.

use super::binding::{self, BrowserCookies, Flow};
use super::finish::{Ending, Failure, SsoOutcome, Via, Vouched};
use super::requests::{self, PendingRequest, Purpose};
use super::SsoService;
use crate::connections::store;
use crate::connections::view::mapping;
use crate::entities::sso_connection::Model as Connection;
use crate::oidc::claims::{map_person, received_claims};
use crate::oidc::http_client::OidcHttp;
use crate::oidc::token::{self, CodeExchange, VerifiedLogin};
use crate::oidc::OidcSettings;
use crate::secrets::{SecretKey, SecretSlot};
use crate::sessions::{IdpSession, SignInMethod};
use chrono::Utc;
use sea_orm::DbErr;
use shared::doctor::DiscoveredEndpoints;
use shared::idp_url::check_endpoints;
use shared::{Diagnosis, DiagnosisCode, Protocol};
use std::net::IpAddr;

/// The query the provider sends the browser back with (RFC 6749 §4.1.2, RFC 9207).
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct CallbackParams {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
    pub iss: Option<String>,
}

impl SsoService {
    /// Handles `GET /sso/oidc/{id}/callback`; `cookies` must hold the browser
    /// secret of the sign-in the state names.
    pub async fn complete_oidc(
        &self,
        connection_id: &str,
        params: CallbackParams,
        cookies: &BrowserCookies,
        client_ip: Option<IpAddr>,
    ) -> Result<SsoOutcome, DbErr> {
        let Some((connection, org)) =
            store::find_with_org(&self.db, connection_id, Protocol::Oidc).await?
        else {
            return Ok(SsoOutcome::UnknownConnection);
        };
        // Used or not, a state answers once: of two callbacks racing for it
        // only one gets the request; the other reads as unknown.
        let pending = match &params.state {
            Some(state) => requests::take(&self.db, connection.id, state).await?,
            None => None,
        };
        let result = match self.check_callback(&connection, &params, pending.as_ref(), cookies) {
            Ok(exchange) => self.back_channel(&connection, exchange).await,
            Err(diagnosis) => Err(diagnosis),
        };
        let result = result
            .map(|login| vouched(&connection, &login, &self.secrets))
            .map_err(Failure::from);
        let ending = Ending::of(pending.as_ref());
        let return_to = pending
            .as_ref()
            .map_or_else(|| "/".to_string(), |p| p.return_to.clone());
        let via = Via {
            method: SignInMethod::Oidc,
            client_ip,
        };
        self.finish(&connection, &org, ending, result, return_to, via)
            .await
    }

    /// The checks before any call to the provider: our request, this browser,
    /// the provider's own error, the connection's state.
    fn check_callback(
        &self,
        connection: &Connection,
        params: &CallbackParams,
        pending: Option<&PendingRequest>,
        cookies: &BrowserCookies,
    ) -> Result<(String, PendingRequest), Diagnosis> {
        let received_state = params.state.clone().unwrap_or_else(|| "(none)".into());
        let Some(pending) = pending else {
            return Err(Diagnosis::new(DiagnosisCode::StateMismatch)
                .with_expected("The state of a sign-in started here in the last 10 minutes")
                .with_received(format!("state {received_state} (unknown, expired or used)")));
        };
        if let Err(mismatch) = binding::check(pending, Flow::Oidc, cookies) {
            let received = match mismatch {
                binding::Mismatch::Missing => {
                    "Another browser, or one that lost the sign-in cookie (none was sent)"
                }
                binding::Mismatch::Different => {
                    "Another browser: the sign-in cookie holds a different secret"
                }
            };
            return Err(Diagnosis::new(DiagnosisCode::StateMismatch)
                .with_expected("The browser that started the sign-in")
                .with_received(received));
        }
        if let Some(error) = &params.error {
            return Err(provider_error(
                error,
                params.error_description.as_deref(),
                self,
                connection,
            ));
        }
        if let Some(iss) = &params.iss {
            // RFC 9207: an answer from another provider is a mix-up attack.
            if iss != connection.oidc_issuer_url.trim() {
                return Err(Diagnosis::new(DiagnosisCode::IdTokenInvalid)
                    .with_detail("The iss parameter of the authorization response check failed.")
                    .with_expected(format!("iss {}", connection.oidc_issuer_url.trim()))
                    .with_received(format!("iss {iss}")));
            }
        }
        if !connection.active && pending.purpose != Purpose::Test {
            return Err(Diagnosis::new(DiagnosisCode::ConnectionNotConfigured)
                .with_expected("An active connection")
                .with_received("The connection is inactive"));
        }
        let code = params
            .code
            .clone()
            .filter(|c| !c.is_empty())
            .ok_or_else(|| {
                Diagnosis::new(DiagnosisCode::IdpError)
                    .with_expected("An authorization code")
                    .with_received("Neither a code nor an error")
            })?;
        Ok((code, pending.clone()))
    }

    async fn back_channel(
        &self,
        connection: &Connection,
        (code, pending): (String, PendingRequest),
    ) -> Result<VerifiedLogin, Diagnosis> {
        let settings = self.oidc_settings(connection)?;
        self.check_endpoints(&settings)?;
        let lost = || {
            Diagnosis::new(DiagnosisCode::StateMismatch)
                .with_expected("The PKCE verifier and nonce kept for this sign-in")
                .with_received("They could not be read (was the secret key changed?)")
        };
        let pkce_verifier = pending
            .pkce_verifier
            .as_deref()
            .and_then(|stored| {
                let slot = SecretSlot::PkceVerifier(&pending.id);
                self.secrets.decrypt(slot, stored).ok()
            })
            .ok_or_else(lost)?;
        let nonce = pending.nonce.clone().ok_or_else(lost)?;
        let exchange = CodeExchange {
            settings: &settings,
            code,
            pkce_verifier,
            nonce,
        };
        let started = std::time::Instant::now();
        let completed =
            token::complete(exchange, &self.jwks, &OidcHttp(self.outbound), Utc::now()).await;
        crate::metrics::record_token_exchange(started.elapsed());
        completed
    }

    /// The saved endpoints against the rule for identity-provider addresses,
    /// before a browser is sent to the provider and before any call to it: an
    /// endpoint stored by an older version, or written into the database, is
    /// refused with a diagnosis instead of being used.
    pub(super) fn check_endpoints(&self, settings: &OidcSettings) -> Result<(), Diagnosis> {
        check_endpoints(&settings.endpoints, self.url_policy()).map_err(|problem| {
            let label = format!("{} endpoint", problem.label());
            super::service::refused_address(&label, &problem.value, &problem.error)
        })
    }

    /// The connection's saved settings, with the client secret decrypted.
    pub(crate) fn oidc_settings(&self, connection: &Connection) -> Result<OidcSettings, Diagnosis> {
        let missing = |what: &str| {
            Diagnosis::new(DiagnosisCode::ConnectionNotConfigured)
                .with_expected(what.to_string())
                .with_received("(not set)")
        };
        let endpoints: DiscoveredEndpoints = connection
            .oidc_discovery
            .as_deref()
            .and_then(|json| serde_json::from_str(json).ok())
            .ok_or_else(|| missing("Endpoints discovered from the Issuer URL"))?;
        if connection.oidc_client_id.trim().is_empty() {
            return Err(missing("A Client ID"));
        }
        let client_secret = connection
            .oidc_client_secret
            .as_deref()
            .and_then(|stored| {
                let slot = SecretSlot::ClientSecret(connection.id);
                self.secrets.decrypt(slot, stored).ok()
            })
            .ok_or_else(|| missing("A Client Secret"))?;
        Ok(OidcSettings {
            issuer: connection.oidc_issuer_url.trim().to_string(),
            client_id: connection.oidc_client_id.trim().to_string(),
            client_secret,
            redirect_uri: self.urls.redirect_uri(connection.id),
            endpoints,
        })
    }
}

/// The provider sent the browser back with an error instead of a code.
fn provider_error(
    error: &str,
    description: Option<&str>,
    service: &SsoService,
    connection: &Connection,
) -> Diagnosis {
    let received = match description {
        Some(description) => format!("{error}: {description}"),
        None => error.to_string(),
    };
    if error == "redirect_uri_mismatch" || received.contains("redirect_uri") {
        return Diagnosis::new(DiagnosisCode::RedirectUriMismatch)
            .with_expected(format!(
                "{} registered as a redirect URI at the provider",
                service.urls.redirect_uri(connection.id)
            ))
            .with_received(received);
    }
    if error == "invalid_client" || error == "unauthorized_client" {
        return Diagnosis::new(DiagnosisCode::InvalidClient)
            .with_expected(format!(
                "The provider knows Client ID {}",
                connection.oidc_client_id.trim()
            ))
            .with_received(received);
    }
    Diagnosis::new(DiagnosisCode::IdpError)
        .with_expected("An authorization code")
        .with_received(received)
}

/// The protocol-neutral view of verified claims.
fn vouched(connection: &Connection, login: &VerifiedLogin, secrets: &SecretKey) -> Vouched {
    Vouched {
        subject: login.subject.clone(),
        attributes: received_claims(&login.claims),
        person: map_person(&login.claims, &mapping(connection)),
        idp_session: IdpSession {
            sealed_id_token: Some(
                secrets.encrypt(SecretSlot::IdpIdToken(connection.id), &login.id_token),
            ),
            sid: login
                .claims
                .get("sid")
                .and_then(serde_json::Value::as_str)
                .map(str::to_string),
            ..IdpSession::default()
        },
        claim: None,
    }
}
