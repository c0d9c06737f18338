//! What the ACS does with a SAML Response: find the request it answers,
//! validate it, refuse a replay, map the identity, then either sign the member
//! in or hand the admin a test result. Every outcome lands in the event log.

use super::accounts::{self as jit, JitError, SsoPerson};
use super::events::{self, NewEvent};
use super::replay;
use super::requests::{self, PendingRequest, Purpose};
use super::SsoService;
use crate::audit::{self, Actor, AuditAction, AuditEntry};
use crate::connections::store;
use crate::connections::view::mapping;
use crate::entities::organization;
use crate::entities::sso_connection::{self, Model as Connection};
use crate::saml::certificate::parse_pem_bundle;
use crate::saml::envelope::{self, Envelope};
use crate::saml::identity::{map_identity, received_attributes};
use crate::saml::response::{verify, SamlSettings, VerifiedAssertion};
use crate::sessions::{self, SignInMethod, SESSION_LIFETIME};
use chrono::Utc;
use sea_orm::{ActiveModelTrait, DbErr, EntityTrait, IntoActiveModel, Set};
use serde_json::json;
use shared::sso_event::SsoEventKind;
use shared::{Diagnosis, DiagnosisCode, Protocol};
use std::net::IpAddr;
use uuid::Uuid;

/// The form the identity provider POSTs to the ACS.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct AcsForm {
    #[serde(rename = "SAMLResponse", default)]
    pub saml_response: String,
    #[serde(rename = "RelayState")]
    pub relay_state: Option<String>,
}

/// What the ACS answers.
#[derive(Debug)]
pub enum AcsOutcome {
    /// A member is signed in: set the cookie, go on.
    SignedIn {
        token: String,
        max_age_secs: i64,
        redirect_to: String,
    },
    /// A test finished, well or not: the popup tells its opener.
    TestFinished { event_id: Uuid },
    /// A member's sign-in failed: show the plain error page.
    Refused {
        diagnosis: Diagnosis,
        reference: String,
    },
    /// No SAML connection has this ID.
    UnknownConnection,
}

/// A failure on its way out, with what is known about the person so far.
struct Failure {
    diagnosis: Diagnosis,
    assertion: Option<VerifiedAssertion>,
}

impl From<Diagnosis> for Failure {
    fn from(diagnosis: Diagnosis) -> Self {
        Failure {
            diagnosis,
            assertion: None,
        }
    }
}

impl SsoService {
    pub async fn complete_saml(
        &self,
        connection_id: &str,
        form: AcsForm,
        client_ip: Option<IpAddr>,
    ) -> Result<AcsOutcome, DbErr> {
        let Some(connection) = store::find_any(&self.db, connection_id)
            .await?
            .filter(|c| c.protocol == Protocol::Saml.key())
        else {
            return Ok(AcsOutcome::UnknownConnection);
        };
        let decoded = envelope::decode(&form.saml_response)
            .and_then(|xml| envelope::inspect(&xml).map(|envelope| (xml, envelope)));
        // The pending request says whether this is a test; the RelayState is our request ID.
        let request_id = match &decoded {
            Ok((_, envelope)) => envelope.in_response_to.clone().or(form.relay_state.clone()),
            Err(_) => form.relay_state.clone(),
        };
        let pending = match &request_id {
            Some(id) => requests::find(&self.db, connection.id, id).await?,
            None => None,
        };
        let purpose = pending.as_ref().map_or(Purpose::SignIn, |p| p.purpose);
        let result = match decoded {
            Ok((xml, envelope)) => {
                self.validate(&connection, &xml, &envelope, pending.as_ref())
                    .await?
            }
            Err(diagnosis) => Err(diagnosis.into()),
        };
        if let Some(pending) = &pending {
            requests::consume(&self.db, &pending.id).await?;
        }
        match (purpose, result) {
            (Purpose::Test, result) => self.finish_test(&connection, result).await,
            (Purpose::SignIn, Ok(assertion)) => {
                let return_to = match &pending {
                    Some(pending) => pending.return_to.clone(),
                    // IdP-initiated: the RelayState may name a page of ours, nothing else.
                    None => shared::redirect::local_path(form.relay_state.as_deref()),
                };
                self.sign_in(&connection, assertion, return_to, client_ip)
                    .await
            }
            (Purpose::SignIn, Err(failure)) => self.refuse(&connection, failure, client_ip).await,
        }
    }

    async fn validate(
        &self,
        connection: &Connection,
        xml: &str,
        envelope: &Envelope,
        pending: Option<&PendingRequest>,
    ) -> Result<Result<VerifiedAssertion, Failure>, DbErr> {
        if let Err(diagnosis) = self.check_request(connection, envelope, pending) {
            return Ok(Err(diagnosis.into()));
        }
        let settings = match self.settings(connection) {
            Ok(settings) => settings,
            Err(diagnosis) => return Ok(Err(diagnosis.into())),
        };
        // xmlsec is CPU-bound C: keep it off the async workers.
        let (xml, envelope_copy, request_id) = (
            xml.to_string(),
            envelope.clone(),
            pending.map(|p| p.id.clone()),
        );
        let verified = tokio::task::spawn_blocking(move || {
            verify(
                &settings,
                &xml,
                &envelope_copy,
                request_id.as_deref(),
                Utc::now(),
            )
        })
        .await
        .map_err(|e| DbErr::Custom(format!("validation task failed: {e}")))?;
        let assertion = match verified {
            Ok(assertion) => assertion,
            Err(diagnosis) => return Ok(Err(diagnosis.into())),
        };
        if !replay::first_use(
            &self.db,
            connection.id,
            &assertion.assertion_id,
            assertion.remember_until,
        )
        .await?
        {
            return Ok(Err(Failure {
                diagnosis: Diagnosis::new(DiagnosisCode::ResponseReplayed)
                    .with_expected("An assertion used for the first time")
                    .with_received(format!(
                        "Assertion {} was already used",
                        assertion.assertion_id
                    )),
                assertion: Some(assertion),
            }));
        }
        Ok(Ok(assertion))
    }

    /// The request the response answers must be ours; without one the
    /// connection must accept IdP-initiated sign-in.
    fn check_request(
        &self,
        connection: &Connection,
        envelope: &Envelope,
        pending: Option<&PendingRequest>,
    ) -> Result<(), Diagnosis> {
        match (&envelope.in_response_to, pending) {
            // The IdP's own error says more than anything checked below.
            _ if !envelope.is_success() => Ok(()),
            (Some(id), None) => Err(Diagnosis::new(DiagnosisCode::InResponseToUnknown)
                .with_expected("The ID of a sign-in request Latchkey sent in the last 10 minutes")
                .with_received(id.clone())),
            (None, None) if !connection.allow_idp_initiated => {
                Err(Diagnosis::new(DiagnosisCode::IdpInitiatedNotAllowed)
                    .with_expected("A response to a sign-in started by Latchkey")
                    .with_received("An unsolicited (IdP-initiated) response"))
            }
            _ if !connection.active && pending.is_none_or(|p| p.purpose != Purpose::Test) => {
                Err(Diagnosis::new(DiagnosisCode::ConnectionNotConfigured)
                    .with_expected("An active connection")
                    .with_received("The connection is inactive"))
            }
            _ => Ok(()),
        }
    }

    fn settings(&self, connection: &Connection) -> Result<SamlSettings, Diagnosis> {
        let not_configured = |what: &str| {
            Diagnosis::new(DiagnosisCode::ConnectionNotConfigured)
                .with_expected(what.to_string())
                .with_received("(not set)")
        };
        if connection.saml_entity_id.trim().is_empty() {
            return Err(not_configured("The IdP Entity ID"));
        }
        let certificates = parse_pem_bundle(&connection.saml_certificates)
            .map_err(|_| not_configured("The IdP's X.509 signing certificate"))?;
        if certificates.is_empty() {
            return Err(not_configured("The IdP's X.509 signing certificate"));
        }
        Ok(SamlSettings {
            sp_entity_id: self.urls.sp_entity_id(connection.id),
            acs_url: self.urls.acs_url(connection.id),
            idp_entity_id: connection.saml_entity_id.trim().to_string(),
            certificates,
            allow_idp_initiated: connection.allow_idp_initiated,
        })
    }

    async fn sign_in(
        &self,
        connection: &Connection,
        assertion: VerifiedAssertion,
        return_to: String,
        client_ip: Option<IpAddr>,
    ) -> Result<AcsOutcome, DbErr> {
        let identity = match map_identity(&assertion, &mapping(connection)) {
            Ok(identity) => identity,
            Err(diagnosis) => {
                let failure = Failure {
                    diagnosis,
                    assertion: Some(assertion),
                };
                return self.refuse(connection, failure, client_ip).await;
            }
        };
        let org = organization::Entity::find_by_id(connection.org_id)
            .one(&self.db)
            .await?
            .ok_or_else(|| DbErr::RecordNotFound("organization".into()))?;
        let person = SsoPerson {
            email: identity.email.clone(),
            first_name: identity.first_name.clone(),
            last_name: identity.last_name.clone(),
        };
        let account =
            match jit::find_or_create(&self.db, &org, &person, &connection.display_name).await {
                Ok(account) => account,
                Err(JitError::Deactivated(diagnosis)) => {
                    let failure = Failure {
                        diagnosis,
                        assertion: Some(assertion),
                    };
                    return self.refuse(connection, failure, client_ip).await;
                }
                Err(JitError::Database(error)) => return Err(error),
                Err(JitError::Account(error)) => return Err(DbErr::Custom(error.to_string())),
            };
        let token = sessions::open(
            &self.db,
            account.user.id,
            org.id,
            SignInMethod::Saml,
            client_ip,
        )
        .await?;
        events::record(
            &self.db,
            NewEvent {
                connection_id: connection.id,
                org_id: org.id,
                kind: SsoEventKind::SignIn,
                subject: assertion.name_id.clone(),
                email: identity.email,
                first_name: identity.first_name,
                last_name: identity.last_name,
                attributes: received_attributes(&assertion),
                user_id: Some(account.user.id),
                outcome: Ok(()),
            },
        )
        .await?;
        audit::record(
            &self.db,
            AuditEntry {
                org_id: Some(org.id),
                actor: Actor::User {
                    id: account.user.id,
                    email: account.user.email.clone(),
                },
                action: AuditAction::SignIn,
                success: true,
                detail: json!({ "method": "saml", "connection_id": connection.id }),
                client_ip,
            },
        )
        .await?;
        Ok(AcsOutcome::SignedIn {
            token,
            max_age_secs: SESSION_LIFETIME.num_seconds(),
            redirect_to: return_to,
        })
    }

    async fn refuse(
        &self,
        connection: &Connection,
        failure: Failure,
        client_ip: Option<IpAddr>,
    ) -> Result<AcsOutcome, DbErr> {
        let code = failure.diagnosis.code;
        let email = failure
            .assertion
            .as_ref()
            .and_then(|a| map_identity(a, &mapping(connection)).ok())
            .map(|i| i.email)
            .unwrap_or_default();
        let (_, reference) = events::record(
            &self.db,
            failure_event(connection, SsoEventKind::SignIn, &failure),
        )
        .await?;
        audit::record(
            &self.db,
            AuditEntry {
                org_id: Some(connection.org_id),
                actor: Actor::Anonymous {
                    claimed_email: email,
                },
                action: AuditAction::SignInFailed,
                success: false,
                detail: json!({
                    "method": "saml",
                    "connection_id": connection.id,
                    "code": code.code(),
                    "reference": reference,
                }),
                client_ip,
            },
        )
        .await?;
        Ok(AcsOutcome::Refused {
            diagnosis: failure.diagnosis,
            reference,
        })
    }

    async fn finish_test(
        &self,
        connection: &Connection,
        result: Result<VerifiedAssertion, Failure>,
    ) -> Result<AcsOutcome, DbErr> {
        let event = match result {
            Ok(assertion) => match map_identity(&assertion, &mapping(connection)) {
                Ok(identity) => NewEvent {
                    connection_id: connection.id,
                    org_id: connection.org_id,
                    kind: SsoEventKind::Test,
                    subject: assertion.name_id.clone(),
                    email: identity.email,
                    first_name: identity.first_name,
                    last_name: identity.last_name,
                    attributes: received_attributes(&assertion),
                    user_id: None,
                    outcome: Ok(()),
                },
                Err(diagnosis) => failure_event(
                    connection,
                    SsoEventKind::Test,
                    &Failure {
                        diagnosis,
                        assertion: Some(assertion),
                    },
                ),
            },
            Err(failure) => failure_event(connection, SsoEventKind::Test, &failure),
        };
        let passed = event.outcome.is_ok();
        let (event_id, _) = events::record(&self.db, event).await?;
        if passed {
            mark_tested(&self.db, connection).await?;
        }
        Ok(AcsOutcome::TestFinished { event_id })
    }
}

fn failure_event(connection: &Connection, kind: SsoEventKind, failure: &Failure) -> NewEvent {
    let mut event = NewEvent::failure(
        connection.id,
        connection.org_id,
        kind,
        failure.diagnosis.clone(),
    );
    if let Some(assertion) = &failure.assertion {
        event.subject = assertion.name_id.clone();
        event.attributes = received_attributes(assertion);
        if let Ok(identity) = map_identity(assertion, &mapping(connection)) {
            event.email = identity.email;
            event.first_name = identity.first_name;
            event.last_name = identity.last_name;
        }
    }
    event
}

/// A passed test is what "Require SSO" waits for.
async fn mark_tested(
    db: &sea_orm::DatabaseConnection,
    connection: &Connection,
) -> Result<(), DbErr> {
    let mut model: sso_connection::ActiveModel = connection.clone().into_active_model();
    model.tested_at = Set(Some(Utc::now()));
    model.update(db).await?;
    Ok(())
}
