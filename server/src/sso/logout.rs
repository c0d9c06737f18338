//! Ending a member's session everywhere (single logout).
//!
//! A session ends here in three ways: the member signs out of Latchkey (the
//! Sign out button, or a host app's logout request), the SAML IdP sends a
//! LogoutRequest to the SLO URL, or the OpenID Provider POSTs a back-channel
//! logout token. Whichever way, every host app the session signed in to is
//! told (`provider::backchannel`), and when the member started it the IdP is
//! asked to end its own session too, after which the member goes where the
//! logout was asked to lead.

use super::events::{self, NewEvent};
use super::{identities, replay, SsoService};
use crate::audit::{self, Actor, AuditAction, AuditEntry};
use crate::connections::{sp_keys, store};
use crate::entities::pending_logout;
use crate::entities::session;
use crate::entities::sso_connection::Model as Connection;
use crate::oidc::http_client::OidcHttp;
use crate::oidc::logout::{end_session_url, verify_logout_token, EndSession};
use crate::provider::{backchannel, Provider};
use crate::saml::logout::{
    self as slo, Binding, LogoutMessage, LogoutStatus, LogoutSubject, Outgoing, SloParties,
};
use crate::saml::request::new_request_id;
use crate::secrets::SecretSlot;
use crate::sessions;
use chrono::{Duration, Utc};
use sea_orm::{ActiveModelTrait, DbErr, EntityTrait, Set};
use serde_json::json;
use shared::connection::field;
use shared::doctor::DiscoveredEndpoints;
use shared::sso_event::SsoEventKind;
use shared::{idp_url, Diagnosis, DiagnosisCode, Protocol};
use std::net::IpAddr;
use uuid::Uuid;

/// How long a member may spend at the IdP's logout.
const PENDING_LIFETIME: Duration = Duration::minutes(10);

#[derive(Clone)]
pub struct LogoutService {
    pub sso: SsoService,
    pub provider: Provider,
}

/// What the browser is shown after a message to a logout endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogoutOutcome {
    Redirect(String),
    /// Signed out, with nowhere to go back to.
    SignedOut,
    /// The message was not acted on; the reference finds the event.
    Refused {
        message: String,
        reference: String,
    },
    UnknownConnection,
}

/// Who ended a session, as the audit log says.
#[derive(Debug, Clone, Copy)]
enum EndedBy {
    Member,
    IdentityProvider,
}

impl LogoutService {
    fn db(&self) -> &sea_orm::DatabaseConnection {
        &self.sso.db
    }

    /// The member signs out. Returns where their browser goes: to the IdP's
    /// logout when their session came from a connection that has one, else
    /// to `return_to` (an address of ours, or a host app's registered one).
    pub async fn sign_out(
        &self,
        token: &str,
        client_ip: Option<IpAddr>,
        return_to: &str,
    ) -> Result<String, DbErr> {
        let Some(session) = sessions::close(self.db(), token).await? else {
            return Ok(return_to.to_string());
        };
        self.ended(&session, client_ip, EndedBy::Member).await?;
        Ok(self
            .idp_departure(&session, return_to)
            .await?
            .unwrap_or_else(|| return_to.to_string()))
    }

    /// What follows every ended session: the audit row and the host apps told.
    async fn ended(
        &self,
        session: &session::Model,
        client_ip: Option<IpAddr>,
        by: EndedBy,
    ) -> Result<(), DbErr> {
        if let Some(account) = crate::accounts::account_by_id(self.db(), session.user_id).await? {
            let by = match by {
                EndedBy::Member => "member",
                EndedBy::IdentityProvider => "identity_provider",
            };
            audit::record(
                self.db(),
                AuditEntry {
                    org_id: Some(account.org.id),
                    actor: Actor::User {
                        id: account.user.id,
                        email: account.user.email.clone(),
                    },
                    action: AuditAction::SignOut,
                    success: true,
                    detail: json!({ "by": by, "connection_id": session.sso_connection_id }),
                    client_ip,
                },
            )
            .await?;
        }
        backchannel::notify_apps(&self.provider, session).await?;
        Ok(())
    }

    /// The IdP's logout URL for a session it opened, if it has one. A
    /// connection that cannot send a logout does not keep the member from
    /// signing out here: they go straight to `return_to`.
    async fn idp_departure(
        &self,
        session: &session::Model,
        return_to: &str,
    ) -> Result<Option<String>, DbErr> {
        let Some(connection_id) = session.sso_connection_id else {
            return Ok(None);
        };
        let Some(connection) = store::find_any(self.db(), &connection_id.to_string()).await? else {
            return Ok(None);
        };
        let departure = if connection.protocol == Protocol::Oidc.key() {
            self.oidc_departure(&connection, session, return_to).await?
        } else {
            self.saml_departure(&connection, session, return_to).await?
        };
        Ok(departure.map_err(|why| {
            tracing::warn!(connection = %connection.id, %why, "no logout at the identity provider");
        })
        .ok())
    }

    async fn saml_departure(
        &self,
        connection: &Connection,
        session: &session::Model,
        return_to: &str,
    ) -> Result<Result<String, String>, DbErr> {
        let slo_url = connection.saml_idp_slo_url.trim();
        let Some(name_id) = session.idp_name_id.as_deref() else {
            return Ok(Err("the session has no NameID".into()));
        };
        if slo_url.is_empty() {
            return Ok(Err("the connection has no IdP SLO URL".into()));
        }
        if let Err(error) = idp_url::check(field::SLO_URL, slo_url, self.sso.url_policy()) {
            return Ok(Err(error.message));
        }
        let id = new_request_id();
        store_pending(self.db(), &id, connection.id, return_to).await?;
        let key = sp_keys::signing_key(self.db(), &self.sso.secrets, connection.id).await?;
        let outgoing = Outgoing {
            id: &id,
            destination: slo_url,
            sp_entity_id: &self.sso.urls.sp_entity_id(connection.id),
            relay_state: &id,
            signing_key: &key,
            now: Utc::now(),
        };
        let subject = LogoutSubject {
            name_id,
            name_id_format: session.idp_name_id_format.as_deref(),
            session_index: session.idp_session_index.as_deref(),
        };
        Ok(slo::request_url(&outgoing, &subject).map(String::from))
    }

    async fn oidc_departure(
        &self,
        connection: &Connection,
        session: &session::Model,
        return_to: &str,
    ) -> Result<Result<String, String>, DbErr> {
        let endpoint = connection
            .oidc_discovery
            .as_deref()
            .and_then(|json| serde_json::from_str::<DiscoveredEndpoints>(json).ok())
            .and_then(|endpoints| endpoints.end_session_endpoint)
            .filter(|e| !e.trim().is_empty());
        let Some(endpoint) = endpoint else {
            return Ok(Err("the provider announces no end_session_endpoint".into()));
        };
        if let Err(error) = idp_url::check("end_session_endpoint", &endpoint, self.sso.url_policy())
        {
            return Ok(Err(error.message));
        }
        let hint = session.idp_id_token.as_deref().and_then(|sealed| {
            self.sso
                .secrets
                .decrypt(SecretSlot::IdpIdToken(connection.id), sealed)
                .ok()
        });
        let state = crate::sessions::new_token();
        store_pending(self.db(), &state, connection.id, return_to).await?;
        let url = end_session_url(&EndSession {
            endpoint: &endpoint,
            id_token_hint: hint.as_deref(),
            client_id: connection.oidc_client_id.trim(),
            post_logout_redirect_uri: &self.sso.urls.post_logout_redirect_uri(connection.id),
            state: &state,
        });
        Ok(url.map(String::from).map_err(|e| e.to_string()))
    }

    /// A message to `/sso/saml/{id}/slo`, by either binding.
    pub async fn receive_saml(
        &self,
        connection_id: &str,
        binding: Binding<'_>,
        client_ip: Option<IpAddr>,
    ) -> Result<LogoutOutcome, DbErr> {
        let Some(connection) = store::find_any(self.db(), connection_id)
            .await?
            .filter(|c| c.protocol == Protocol::Saml.key())
        else {
            return Ok(LogoutOutcome::UnknownConnection);
        };
        let now = Utc::now();
        let prepared = match self.sso.saml_settings.get(&connection, &self.sso.urls, now) {
            Ok(prepared) => prepared,
            Err(diagnosis) => return self.refuse(&connection, diagnosis).await,
        };
        let slo_url = self.sso.urls.slo_url(connection.id);
        let parties = SloParties {
            idp: &prepared,
            slo_url: &slo_url,
            now,
        };
        let received = match slo::read(binding, &parties) {
            Ok(received) => received,
            Err(error) => return self.refuse(&connection, error.diagnosis()).await,
        };
        let relay_state = received.relay_state.unwrap_or_default();
        match received.message {
            LogoutMessage::Request(request) => {
                self.idp_logout_request(&connection, request, &relay_state, client_ip)
                    .await
            }
            LogoutMessage::Response(response) => {
                let Some(return_to) = take_pending(
                    self.db(),
                    response.in_response_to.as_deref().unwrap_or_default(),
                    connection.id,
                )
                .await?
                else {
                    let diagnosis = Diagnosis::new(DiagnosisCode::LogoutRequestUnknown)
                        .with_expected("A logout started here in the last 10 minutes")
                        .with_received(
                            response
                                .in_response_to
                                .unwrap_or_else(|| "(no InResponseTo)".into()),
                        );
                    return self.refuse(&connection, diagnosis).await;
                };
                let outcome = if response.is_success() {
                    Ok(())
                } else {
                    let status = match &response.sub_status {
                        Some(sub) => format!("{} ({sub})", response.status),
                        None => response.status.clone(),
                    };
                    Err(Diagnosis::new(DiagnosisCode::LogoutFailedAtIdp)
                        .with_expected(crate::saml::envelope::STATUS_SUCCESS)
                        .with_received(status))
                };
                self.record(&connection, "", None, outcome).await?;
                // Signed out here either way; the event tells the admin the rest.
                Ok(LogoutOutcome::Redirect(return_to))
            }
        }
    }

    /// The IdP ends its subject's sessions here, and is answered.
    async fn idp_logout_request(
        &self,
        connection: &Connection,
        request: slo::IdpLogoutRequest,
        relay_state: &str,
        client_ip: Option<IpAddr>,
    ) -> Result<LogoutOutcome, DbErr> {
        let ended = sessions::close_for_idp_subject(
            self.db(),
            connection.id,
            &request.name_id,
            &request.session_indexes,
        )
        .await?;
        for session in &ended {
            self.ended(session, client_ip, EndedBy::IdentityProvider)
                .await?;
        }
        let user_id = ended.first().map(|s| s.user_id);
        self.record(connection, &request.name_id, user_id, Ok(()))
            .await?;
        let slo_url = connection.saml_idp_slo_url.trim();
        if slo_url.is_empty()
            || idp_url::check(field::SLO_URL, slo_url, self.sso.url_policy()).is_err()
        {
            return Ok(LogoutOutcome::SignedOut);
        }
        let key = sp_keys::signing_key(self.db(), &self.sso.secrets, connection.id).await?;
        let id = new_request_id();
        let outgoing = Outgoing {
            id: &id,
            destination: slo_url,
            sp_entity_id: &self.sso.urls.sp_entity_id(connection.id),
            relay_state,
            signing_key: &key,
            now: Utc::now(),
        };
        Ok(
            match slo::response_url(&outgoing, &request.id, LogoutStatus::Success) {
                Ok(url) => LogoutOutcome::Redirect(url.into()),
                Err(_) => LogoutOutcome::SignedOut,
            },
        )
    }

    /// `GET /sso/oidc/{id}/logout`: the provider sends the member back.
    pub async fn oidc_returned(
        &self,
        connection_id: &str,
        state: Option<&str>,
    ) -> Result<LogoutOutcome, DbErr> {
        let Some(connection) = store::find_any(self.db(), connection_id)
            .await?
            .filter(|c| c.protocol == Protocol::Oidc.key())
        else {
            return Ok(LogoutOutcome::UnknownConnection);
        };
        match take_pending(self.db(), state.unwrap_or_default(), connection.id).await? {
            Some(return_to) => {
                self.record(&connection, "", None, Ok(())).await?;
                Ok(LogoutOutcome::Redirect(return_to))
            }
            // Signed out here already; a stale or missing state leads nowhere.
            None => Ok(LogoutOutcome::SignedOut),
        }
    }

    /// `POST /sso/oidc/{id}/backchannel-logout`: the provider ends sessions.
    /// `Err` holds why the token was refused (answered 400).
    pub async fn receive_oidc_backchannel(
        &self,
        connection_id: &str,
        logout_token: &str,
    ) -> Result<Result<usize, String>, DbErr> {
        let Some(connection) = store::find_any(self.db(), connection_id)
            .await?
            .filter(|c| c.protocol == Protocol::Oidc.key())
        else {
            return Ok(Err("no OIDC connection has this ID".into()));
        };
        let settings = match self.sso.oidc_settings(&connection) {
            Ok(settings) => settings,
            Err(diagnosis) => return Ok(Err(diagnosis.code.to_string())),
        };
        let now = Utc::now();
        let http = OidcHttp(self.sso.outbound);
        let claims =
            match verify_logout_token(&settings, logout_token, &self.sso.jwks, &http, now).await {
                Ok(claims) => claims,
                Err(error) => {
                    let diagnosis = Diagnosis::new(DiagnosisCode::IdTokenInvalid)
                        .with_detail(format!("Back-channel logout refused: {error}."));
                    self.record(&connection, "", None, Err(diagnosis)).await?;
                    return Ok(Err(error.to_string()));
                }
            };
        if let Some(jti) = &claims.jti {
            let first = replay::first_use(
                self.db(),
                connection.id,
                &format!("logout:{jti}"),
                now + Duration::minutes(15),
            )
            .await?;
            if !first {
                return Ok(Err("the logout token was already used".into()));
            }
        }
        let ended = match (&claims.sid, &claims.subject) {
            (Some(sid), _) => sessions::close_for_idp_sid(self.db(), connection.id, sid).await?,
            (None, Some(subject)) => {
                match identities::by_subject(self.db(), connection.id, subject).await? {
                    Some(identity) => {
                        sessions::close_for_user_via(self.db(), connection.id, identity.user_id)
                            .await?
                    }
                    None => Vec::new(),
                }
            }
            (None, None) => Vec::new(),
        };
        for session in &ended {
            self.ended(session, None, EndedBy::IdentityProvider).await?;
        }
        let subject = claims.subject.clone().unwrap_or_default();
        let user_id = ended.first().map(|s| s.user_id);
        self.record(&connection, &subject, user_id, Ok(())).await?;
        Ok(Ok(ended.len()))
    }

    async fn record(
        &self,
        connection: &Connection,
        subject: &str,
        user_id: Option<Uuid>,
        outcome: Result<(), Diagnosis>,
    ) -> Result<String, DbErr> {
        let event = NewEvent {
            subject: subject.to_string(),
            user_id,
            outcome,
            ..NewEvent::failure(
                connection.id,
                connection.org_id,
                SsoEventKind::Logout,
                Diagnosis::new(DiagnosisCode::LogoutRequestUnknown),
            )
        };
        let (_, reference) = events::record(self.db(), event).await?;
        Ok(reference)
    }

    async fn refuse(
        &self,
        connection: &Connection,
        diagnosis: Diagnosis,
    ) -> Result<LogoutOutcome, DbErr> {
        tracing::warn!(connection = %connection.id, code = %diagnosis.code, "logout message refused");
        let message = diagnosis.code.meaning().to_string();
        let reference = self.record(connection, "", None, Err(diagnosis)).await?;
        Ok(LogoutOutcome::Refused { message, reference })
    }
}

/// Removes logouts the IdP never answered; run now and then.
pub async fn purge_expired(db: &sea_orm::DatabaseConnection) -> Result<u64, DbErr> {
    use sea_orm::{ColumnTrait, QueryFilter};
    let result = pending_logout::Entity::delete_many()
        .filter(pending_logout::Column::ExpiresAt.lte(Utc::now()))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

async fn store_pending(
    db: &sea_orm::DatabaseConnection,
    id: &str,
    connection_id: Uuid,
    return_to: &str,
) -> Result<(), DbErr> {
    pending_logout::ActiveModel {
        id: Set(id.to_string()),
        connection_id: Set(connection_id),
        return_to: Set(return_to.to_string()),
        expires_at: Set(Utc::now() + PENDING_LIFETIME),
    }
    .insert(db)
    .await
    .map(|_| ())
}

/// Where the logout `id` leads, once: it is forgotten as it is read.
async fn take_pending(
    db: &sea_orm::DatabaseConnection,
    id: &str,
    connection_id: Uuid,
) -> Result<Option<String>, DbErr> {
    if id.is_empty() || id.len() > 128 {
        return Ok(None);
    }
    let Some(pending) = pending_logout::Entity::find_by_id(id.to_string())
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let deleted = pending_logout::Entity::delete_by_id(id.to_string())
        .exec(db)
        .await?;
    let live = deleted.rows_affected == 1
        && pending.connection_id == connection_id
        && pending.expires_at > Utc::now();
    Ok(live.then_some(pending.return_to))
}
