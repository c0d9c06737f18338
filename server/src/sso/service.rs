//! Starting SSO: from an organization's login URL (sign-in) or from the
//! connection page (Test Connection).

use super::binding::{self, Flow};
use super::requests::{self, NewRequest, Purpose};
use super::saml_settings::PreparedSamlCache;
use crate::connections::{sp_keys, store, view, PublicUrls};
use crate::entities::sso_connection::Model as Connection;
use crate::entities::{organization, sso_connection};
use crate::group_commit::GroupCommit;
use crate::oidc::jwks::JwksCache;
use crate::outbound::OutboundPolicy;
use crate::saml::request as authn_request;
use crate::saml::verifier::VerifierPool;
use crate::secrets::{SecretKey, SecretSlot};
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder};
use shared::connection::field;
use shared::idp_url;
use shared::sso_event::SsoChoice;
use shared::{Diagnosis, DiagnosisCode, FieldError, IdpUrlPolicy, Protocol};
use std::sync::Arc;
use uuid::Uuid;

#[derive(Clone)]
pub struct SsoService {
    pub db: DatabaseConnection,
    pub urls: PublicUrls,
    /// Whether cookies carry `Secure` (the public URL is https).
    pub secure_cookies: bool,
    /// Decrypts OIDC client secrets and encrypts PKCE verifiers at rest.
    pub secrets: SecretKey,
    /// Rules for calling the OpenID Provider's token, JWKS and UserInfo endpoints.
    pub outbound: OutboundPolicy,
    pub jwks: JwksCache,
    /// The threads that check SAML signatures (bounded, with a deadline).
    pub saml_verifier: VerifierPool,
    /// Each SAML connection's settings, prepared for the ACS.
    pub saml_settings: PreparedSamlCache,
    /// The writer a sign-in's rows go through with the other writes waiting
    /// (shared with SCIM): one commit for several sign-ins.
    pub writes: Arc<GroupCommit>,
}

/// A sign-in or test on its way to the identity provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Started {
    pub url: String,
    /// The `Set-Cookie` value binding the sign-in to this browser (`sso::binding`).
    pub set_cookie: Option<String>,
}

/// What an organization's sign-in does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignInStart {
    Started(Started),
    /// Several active connections: the member picks one.
    Choose {
        org_slug: String,
        choices: Vec<SsoChoice>,
    },
}

/// Why SSO could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The organization has no active connection (or does not exist: the two
    /// are not told apart, so the login URL reveals nothing).
    #[error("single sign-on is not available for this organization")]
    NotAvailable,
    #[error("the connection cannot start a sign-in: {}", .0.code)]
    NotConfigured(Diagnosis),
    /// A saved identity-provider address that the rule for such addresses
    /// refuses (stored by an older version, or written into the database):
    /// nobody is sent there.
    #[error("the connection's identity-provider address is refused: {}", .0.code)]
    UnsafeIdpUrl(Diagnosis),
    /// A sign-in refused for an [`StartError::UnsafeIdpUrl`]; the diagnosis is on
    /// the connection's event list under `reference`.
    #[error("single sign-on refused to start (reference {reference})")]
    Refused { reference: String },
    #[error("database error: {0}")]
    Database(#[from] DbErr),
}

impl SsoService {
    /// Signs a member of `org_slug` in: through `chosen` when it names one of the
    /// organization's connections that route sign-ins (status Ready to test or
    /// Active, the words the admin sees), through the only one, or by choice.
    pub async fn start_sign_in(
        &self,
        org_slug: &str,
        chosen: Option<&str>,
        return_to: &str,
    ) -> Result<SignInStart, StartError> {
        let org = organization::Entity::find()
            .filter(organization::Column::Slug.eq(org_slug))
            .one(&self.db)
            .await?
            .ok_or(StartError::NotAvailable)?;
        let now = chrono::Utc::now().timestamp();
        let mut candidates: Vec<Connection> = sso_connection::Entity::find()
            .filter(sso_connection::Column::OrgId.eq(org.id))
            .filter(sso_connection::Column::Active.eq(true))
            .order_by_asc(sso_connection::Column::CreatedAt)
            .all(&self.db)
            .await?
            .into_iter()
            .filter(|c| self.routes_members(c, now))
            .collect();
        // Connections that passed Test Connection come first, the latest on top.
        candidates.sort_by_key(|c| std::cmp::Reverse(c.tested_at));
        let picked = match chosen {
            Some(id) => candidates.iter().position(|c| c.id.to_string() == id),
            None if candidates.len() == 1 => Some(0),
            None => None,
        };
        if let Some(index) = picked {
            let connection = candidates.swap_remove(index);
            let departure = Departure {
                purpose: Purpose::SignIn,
                admin: None,
                return_to,
            };
            return match self.start(&connection, departure).await {
                Ok(started) => Ok(SignInStart::Started(started)),
                Err(StartError::UnsafeIdpUrl(diagnosis)) => {
                    Err(self.refuse_sign_in(&connection, diagnosis).await?)
                }
                Err(other) => Err(other),
            };
        }
        if candidates.is_empty() {
            return Err(StartError::NotAvailable);
        }
        Ok(SignInStart::Choose {
            org_slug: org.slug,
            choices: candidates
                .into_iter()
                .map(|c| SsoChoice {
                    connection_id: c.id.to_string(),
                    name: c.display_name,
                })
                .collect(),
        })
    }

    /// "Sign in with SSO" by email: the organization that verified the domain.
    /// A pending claim routes nothing and reads exactly like an unknown domain,
    /// so claiming someone else's domain neither routes nor reveals anything.
    pub async fn start_sign_in_for_email(
        &self,
        email: &str,
        return_to: &str,
    ) -> Result<SignInStart, StartError> {
        let domain = shared::domain::email_domain(email).ok_or(StartError::NotAvailable)?;
        let owner = crate::domains::store::verified_owner(&self.db, &domain)
            .await?
            .ok_or(StartError::NotAvailable)?;
        let org = organization::Entity::find_by_id(owner)
            .one(&self.db)
            .await?
            .ok_or(StartError::NotAvailable)?;
        self.start_sign_in(&org.slug, None, return_to).await
    }

    /// The IdP URL for an admin's Test Connection; the connection must belong
    /// to the admin's organization (checked by the caller's lookup).
    pub async fn start_test(
        &self,
        connection: &Connection,
        admin: Uuid,
    ) -> Result<Started, StartError> {
        let departure = Departure {
            purpose: Purpose::Test,
            admin: Some(admin),
            return_to: "/",
        };
        self.start(connection, departure).await
    }

    /// The IdP URL for an admin's "Link my SSO identity"; the connection must
    /// belong to the admin's organization (checked by the caller's lookup).
    pub async fn start_link(
        &self,
        connection: &Connection,
        admin: Uuid,
    ) -> Result<Started, StartError> {
        let departure = Departure {
            purpose: Purpose::Link,
            admin: Some(admin),
            return_to: "/settings/authentication",
        };
        self.start(connection, departure).await
    }

    /// Looks a connection up by ID within an organization.
    pub async fn connection_in_org(
        &self,
        org_id: Uuid,
        id: &str,
    ) -> Result<Option<Connection>, DbErr> {
        match store::find(&self.db, org_id, id).await {
            Ok(connection) => Ok(Some(connection)),
            Err(store::ConnectionError::NotFound) => Ok(None),
            Err(store::ConnectionError::Database(error)) => Err(error),
            Err(store::ConnectionError::Invalid(_)) => Ok(None),
        }
    }

    /// Whether identity-provider addresses may use plain http:// here: only
    /// where the operator lets Latchkey reach a private network.
    pub fn url_policy(&self) -> IdpUrlPolicy {
        IdpUrlPolicy::from_allow_private_urls(self.outbound.allow_private_addresses)
    }

    /// Records why a member's sign-in was refused before it left, so the admin
    /// finds the diagnosis on the connection's page by the member's reference.
    async fn refuse_sign_in(
        &self,
        connection: &Connection,
        diagnosis: Diagnosis,
    ) -> Result<StartError, DbErr> {
        tracing::warn!(connection = %connection.id, code = %diagnosis.code, "refused to send a browser to a saved identity-provider address");
        crate::metrics::record_sign_in(&connection.protocol, Some(diagnosis.code));
        let event = super::events::NewEvent::failure(
            connection.id,
            connection.org_id,
            shared::sso_event::SsoEventKind::SignIn,
            diagnosis,
        );
        let (_, reference) = super::events::record(&self.db, event).await?;
        Ok(StartError::Refused { reference })
    }

    /// A test that could not even start still gets a result, so the panel can explain it.
    pub async fn record_test_not_started(
        &self,
        connection: &Connection,
        diagnosis: Diagnosis,
    ) -> Result<Uuid, DbErr> {
        let event = super::events::NewEvent::failure(
            connection.id,
            connection.org_id,
            shared::sso_event::SsoEventKind::Test,
            diagnosis,
        );
        Ok(super::events::record(&self.db, event).await?.0)
    }

    /// Whether members are sent to this connection: its status routes sign-ins
    /// (the word the admin sees), or its stored IdP address fails today's rule,
    /// so the member gets a reference and the admin the diagnosis on the
    /// connection's page instead of a bare "not available".
    fn routes_members(&self, connection: &Connection, now_unix: i64) -> bool {
        view::status(connection, now_unix, self.url_policy()).routes_sign_ins()
            || self.departure_refused(connection).is_some()
    }

    /// Why the connection's stored IdP address may not be left for, if it may not.
    fn departure_refused(&self, connection: &Connection) -> Option<Diagnosis> {
        if connection.protocol == Protocol::Oidc.key() {
            let settings = self.oidc_settings(connection).ok()?;
            return self.check_endpoints(&settings).err();
        }
        let url = connection.saml_sso_url.trim();
        if url.is_empty() {
            return None;
        }
        idp_url::check(field::SSO_URL, url, self.url_policy())
            .err()
            .map(|e| refused_address("IdP SSO URL", &connection.saml_sso_url, &e))
    }

    async fn start(
        &self,
        connection: &Connection,
        departure: Departure<'_>,
    ) -> Result<Started, StartError> {
        if connection.protocol == Protocol::Oidc.key() {
            return self.start_oidc(connection, departure).await;
        }
        if connection.saml_sso_url.trim().is_empty() {
            return Err(StartError::NotConfigured(
                Diagnosis::new(DiagnosisCode::ConnectionNotConfigured)
                    .with_expected("An IdP SSO URL")
                    .with_received("(empty)"),
            ));
        }
        // Checked again before every departure, not only when saved: a stored
        // address never leaves as a redirect unless it passes today's rule.
        if let Some(refused) = self.departure_refused(connection) {
            return Err(StartError::UnsafeIdpUrl(refused));
        }
        let id = authn_request::new_request_id();
        let browser = binding::issue();
        requests::store(
            &self.db,
            departure.request(connection, id.clone(), browser.hash),
        )
        .await?;
        let signing_key = if connection.saml_sign_requests {
            Some(sp_keys::signing_key(&self.db, &self.secrets, connection.id).await?)
        } else {
            None
        };
        // The RelayState is the request ID: opaque, and where to go next stays on our side.
        let url = authn_request::redirect_url(
            &id,
            connection.saml_sso_url.trim(),
            &self.urls.sp_entity_id(connection.id),
            &self.urls.acs_url(connection.id),
            &id,
            signing_key.as_ref(),
        )
        .map_err(|detail| {
            StartError::NotConfigured(
                Diagnosis::new(DiagnosisCode::ConnectionNotConfigured)
                    .with_expected("A valid IdP SSO URL")
                    .with_received(connection.saml_sso_url.clone())
                    .with_detail(detail),
            )
        })?;
        Ok(Started {
            url: url.to_string(),
            set_cookie: Some(binding::set_cookie(
                Flow::Saml,
                connection.id,
                &id,
                &browser.secret,
                self.secure_cookies,
            )),
        })
    }

    async fn start_oidc(
        &self,
        connection: &Connection,
        departure: Departure<'_>,
    ) -> Result<Started, StartError> {
        let settings = self
            .oidc_settings(connection)
            .map_err(StartError::NotConfigured)?;
        self.check_endpoints(&settings)
            .map_err(StartError::UnsafeIdpUrl)?;
        let request = crate::oidc::request::authorization_request(&settings).map_err(|detail| {
            StartError::NotConfigured(
                Diagnosis::new(DiagnosisCode::ConnectionNotConfigured).with_detail(detail),
            )
        })?;
        let browser = binding::issue();
        let pending = NewRequest {
            nonce: Some(request.nonce),
            pkce_verifier: Some(self.secrets.encrypt(
                SecretSlot::PkceVerifier(&request.state),
                &request.pkce_verifier,
            )),
            ..departure.request(connection, request.state.clone(), browser.hash)
        };
        requests::store(&self.db, pending).await?;
        Ok(Started {
            url: request.url,
            set_cookie: Some(binding::set_cookie(
                Flow::Oidc,
                connection.id,
                &request.state,
                &browser.secret,
                self.secure_cookies,
            )),
        })
    }
}

/// Why and for whom a request leaves for the identity provider.
struct Departure<'a> {
    purpose: Purpose,
    admin: Option<Uuid>,
    return_to: &'a str,
}

impl Departure<'_> {
    /// The pending request to keep until the answer comes back, bound to the
    /// browser whose secret hashes to `browser_binding`.
    fn request(&self, connection: &Connection, id: String, browser_binding: String) -> NewRequest {
        NewRequest {
            id,
            connection_id: connection.id,
            org_id: connection.org_id,
            purpose: self.purpose,
            admin_user_id: self.admin,
            return_to: self.return_to.to_string(),
            nonce: None,
            pkce_verifier: None,
            browser_binding: Some(browser_binding),
        }
    }
}

/// Why a saved identity-provider address is not used: what the rule wants, what
/// is stored, and how the admin fixes it.
pub(super) fn refused_address(label: &str, value: &str, error: &FieldError) -> Diagnosis {
    Diagnosis::new(DiagnosisCode::ConnectionNotConfigured)
        .with_expected(format!("{label}: an address that starts with https://"))
        .with_received(idp_url::quoted(value))
        .with_detail(format!(
            "The connection's {label} is refused: {} Latchkey sent nobody there. Open the \
             connection under Settings > Authentication and save it again with your identity \
             provider's https:// address.",
            error.message
        ))
}
