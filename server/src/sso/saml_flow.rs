//! What the ACS does with a SAML Response: find the request it answers,
//! validate it, refuse a replay, map the identity; `finish` then signs the
//! member in or hands the admin a test result.

use super::accounts::SsoPerson;
use super::binding::{self, BrowserCookies, Flow, Mismatch};
use super::finish::{Ending, Failure, SsoOutcome, Via, Vouched};
use super::replay::Claim;
use super::requests::{self, PendingRequest, Purpose};
use super::SsoService;
use crate::connections::view::mapping;
use crate::connections::{sp_keys, store};
use crate::entities::sso_connection::Model as Connection;
use crate::saml::envelope::{self, Envelope};
use crate::saml::identity::{map_identity, received_attributes};
use crate::saml::response::{verify, VerifiedAssertion};
use crate::saml::verifier::{self, VerifierError};
use crate::sessions::{IdpSession, SignInMethod};
use chrono::Utc;
use sea_orm::DbErr;
use shared::{Diagnosis, DiagnosisCode, Protocol};
use std::net::IpAddr;

/// The form the identity provider POSTs to the ACS.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct AcsForm {
    #[serde(rename = "SAMLResponse", default)]
    pub saml_response: String,
    #[serde(rename = "RelayState")]
    pub relay_state: Option<String>,
}

impl SsoService {
    pub async fn complete_saml(
        &self,
        connection_id: &str,
        form: AcsForm,
        cookies: &BrowserCookies,
        client_ip: Option<IpAddr>,
    ) -> Result<SsoOutcome, DbErr> {
        let Some((connection, org)) =
            store::find_with_org(&self.db, connection_id, Protocol::Saml).await?
        else {
            return Ok(SsoOutcome::UnknownConnection);
        };
        let decoded = envelope::decode(&form.saml_response)
            .and_then(|xml| envelope::inspect(&xml).map(|envelope| (xml, envelope)));
        // The pending request says whether this is a test; the RelayState is our request ID.
        let request_id = match &decoded {
            Ok((_, envelope)) => envelope.in_response_to.clone().or(form.relay_state.clone()),
            Err(_) => form.relay_state.clone(),
        };
        // Read, not used up: a verified response uses it up with what it leads
        // to, in one commit (`replay::Claim`), and of two responses racing for
        // it only that commit's first keeps anything.
        let pending = match &request_id {
            Some(id) => requests::find_live(&self.db, connection.id, id).await?,
            None => None,
        };
        let ending = Ending::of(pending.as_ref());
        let browser = pending
            .as_ref()
            .map(|p| binding::check(p, Flow::Saml, cookies));
        let result = match decoded {
            Ok((xml, envelope)) => {
                self.validate(&connection, &xml, &envelope, pending.as_ref(), browser)
                    .await?
            }
            Err(diagnosis) => Err(diagnosis.into()),
        };
        let return_to = match &pending {
            Some(pending) => pending.return_to.clone(),
            // IdP-initiated: the RelayState may name a page of ours, nothing else.
            None => shared::redirect::local_path(form.relay_state.as_deref()),
        };
        let answered = pending.as_ref().map(|p| p.id.clone());
        let result = result.map(|assertion| vouched(&connection, &assertion, answered));
        let via = Via {
            method: SignInMethod::Saml,
            client_ip,
        };
        self.finish(&connection, &org, ending, result, return_to, via)
            .await
    }

    async fn validate(
        &self,
        connection: &Connection,
        xml: &str,
        envelope: &Envelope,
        pending: Option<&PendingRequest>,
        browser: Option<Result<(), Mismatch>>,
    ) -> Result<Result<VerifiedAssertion, Failure>, DbErr> {
        if let Err(diagnosis) = self.check_request(connection, envelope, pending, browser) {
            return Ok(Err(diagnosis.into()));
        }
        if let Err(diagnosis) = check_encryption(connection, envelope) {
            return Ok(Err(diagnosis.into()));
        }
        let settings = match self.saml_settings.get(connection, &self.urls, Utc::now()) {
            Ok(settings) => settings,
            Err(diagnosis) => return Ok(Err(diagnosis.into())),
        };
        // Read only for an encrypted assertion: a plain one costs no key reads.
        let keys = if envelope.encrypted {
            sp_keys::decryption_keys(&self.db, &self.secrets, connection.id).await?
        } else {
            Vec::new()
        };
        // xmlsec is CPU-bound C: it runs on its own bounded pool, with a deadline.
        let (xml, envelope_copy, request_id) = (
            xml.to_string(),
            envelope.clone(),
            pending.map(|p| p.id.clone()),
        );
        let verified = self
            .saml_verifier
            .run(move || {
                verify(
                    &settings,
                    &xml,
                    &envelope_copy,
                    request_id.as_deref(),
                    Utc::now(),
                    &keys,
                )
            })
            .await
            .unwrap_or_else(|refused| Err(busy(refused)));
        Ok(verified.map_err(Failure::from))
    }

    /// The request the response answers must be ours, and answered in the
    /// browser that started it; without one the connection must accept
    /// IdP-initiated sign-in.
    fn check_request(
        &self,
        connection: &Connection,
        envelope: &Envelope,
        pending: Option<&PendingRequest>,
        browser: Option<Result<(), Mismatch>>,
    ) -> Result<(), Diagnosis> {
        match (&envelope.in_response_to, pending) {
            // The IdP's own error says more than anything checked below.
            _ if !envelope.is_success() => Ok(()),
            (_, Some(pending)) if browser.is_some_and(|b| b.is_err()) => {
                Err(self.browser_mismatch(pending, browser))
            }
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

    fn browser_mismatch(
        &self,
        pending: &PendingRequest,
        browser: Option<Result<(), Mismatch>>,
    ) -> Diagnosis {
        let diagnosis = Diagnosis::new(DiagnosisCode::BrowserMismatch).with_expected(format!(
            "The browser that started sign-in request {}",
            pending.id
        ));
        match browser {
            Some(Err(Mismatch::Different)) => diagnosis
                .with_received("Another browser: its sign-in cookie holds a different secret"),
            _ if self.secure_cookies => {
                diagnosis.with_received("A browser that sent no sign-in cookie for this request")
            }
            _ => diagnosis
                .with_received("A browser that sent no sign-in cookie for this request")
                .with_detail(
                    "Latchkey is served over http: browsers send the sign-in cookie with the \
                     identity provider's POST only when the identity provider is on the same \
                     site. Serve Latchkey over https to sign in through any identity provider.",
                ),
        }
    }
}

/// A connection that requires encryption refuses a plain assertion. An IdP's
/// error answer has no assertion to encrypt, and is read as usual.
fn check_encryption(connection: &Connection, envelope: &Envelope) -> Result<(), Diagnosis> {
    if connection.saml_require_encryption && envelope.is_success() && !envelope.encrypted {
        return Err(Diagnosis::new(DiagnosisCode::AssertionNotEncrypted)
            .with_expected("An EncryptedAssertion")
            .with_received("A plain Assertion"));
    }
    Ok(())
}

fn busy(refused: VerifierError) -> Diagnosis {
    Diagnosis::new(DiagnosisCode::ServerBusy)
        .with_expected(format!(
            "A signature check finished within {} s",
            verifier::DEADLINE.as_secs()
        ))
        .with_received(refused.to_string())
}

/// The protocol-neutral view of a verified assertion, which answers the
/// request `answered` (none when IdP-initiated).
fn vouched(
    connection: &Connection,
    assertion: &VerifiedAssertion,
    answered: Option<String>,
) -> Vouched {
    let person = stable_subject(assertion).and_then(|()| {
        map_identity(assertion, &mapping(connection)).map(|identity| SsoPerson {
            email: identity.email,
            first_name: identity.first_name,
            last_name: identity.last_name,
        })
    });
    Vouched {
        subject: assertion.name_id.clone(),
        attributes: received_attributes(assertion),
        person,
        idp_session: IdpSession {
            name_id: Some(assertion.name_id.clone()),
            name_id_format: assertion.name_id_format.clone(),
            session_index: assertion.session_index.clone(),
            ..IdpSession::default()
        },
        claim: Some(Claim {
            connection_id: connection.id,
            assertion_id: assertion.assertion_id.clone(),
            remember_until: assertion.remember_until,
            named_by_assertion: answered.is_some() && assertion.in_response_to == answered,
            request_id: answered,
        }),
    }
}

const TRANSIENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient";

/// Sign-ins are bound to the NameID (`sso::identities`): a transient one is a
/// new value each time, so it cannot pick an account.
fn stable_subject(assertion: &VerifiedAssertion) -> Result<(), Diagnosis> {
    if assertion.name_id_format.as_deref() != Some(TRANSIENT) {
        return Ok(());
    }
    Err(Diagnosis::new(DiagnosisCode::NameIdNotPersistent)
        .with_expected("NameID format persistent or emailAddress")
        .with_received(format!("{TRANSIENT} ({})", assertion.name_id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assertion(format: Option<&str>) -> VerifiedAssertion {
        VerifiedAssertion {
            assertion_id: "_a".into(),
            name_id: "_f81c2e".into(),
            name_id_format: format.map(str::to_string),
            session_index: None,
            attributes: Vec::new(),
            in_response_to: None,
            remember_until: Utc::now(),
        }
    }

    #[test]
    fn a_transient_name_id_cannot_pick_an_account() {
        let refused = stable_subject(&assertion(Some(TRANSIENT))).unwrap_err();
        assert_eq!(refused.code, DiagnosisCode::NameIdNotPersistent);
        for fine in [
            None,
            Some("urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"),
            Some("urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"),
            Some("urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"),
        ] {
            assert_eq!(stable_subject(&assertion(fine)), Ok(()), "{fine:?}");
        }
    }
}
