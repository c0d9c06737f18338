//! Starting SSO: from an organization's login URL (sign-in) or from the
//! connection page (Test Connection).

use super::requests::{self, NewRequest, Purpose};
use crate::connections::{store, PublicUrls};
use crate::entities::sso_connection::Model as Connection;
use crate::entities::{org_domain, organization, sso_connection};
use crate::saml::request as authn_request;
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder};
use shared::{Diagnosis, DiagnosisCode, Protocol};
use uuid::Uuid;

#[derive(Clone)]
pub struct SsoService {
    pub db: DatabaseConnection,
    pub urls: PublicUrls,
    /// Whether cookies carry `Secure` (the public URL is https).
    pub secure_cookies: bool,
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
    #[error("database error: {0}")]
    Database(#[from] DbErr),
}

impl SsoService {
    /// The IdP URL that signs a member of `org_slug` in, then returns to `return_to`.
    pub async fn start_sign_in(
        &self,
        org_slug: &str,
        return_to: &str,
    ) -> Result<String, StartError> {
        let org = organization::Entity::find()
            .filter(organization::Column::Slug.eq(org_slug))
            .one(&self.db)
            .await?
            .ok_or(StartError::NotAvailable)?;
        let mut candidates: Vec<Connection> = sso_connection::Entity::find()
            .filter(sso_connection::Column::OrgId.eq(org.id))
            .filter(sso_connection::Column::Active.eq(true))
            .order_by_asc(sso_connection::Column::CreatedAt)
            .all(&self.db)
            .await?
            .into_iter()
            .filter(|c| c.protocol == Protocol::Saml.key() && !c.saml_sso_url.trim().is_empty())
            .collect();
        // With several, the one that most recently passed Test Connection wins.
        candidates.sort_by_key(|c| std::cmp::Reverse(c.tested_at));
        let connection = candidates
            .into_iter()
            .next()
            .ok_or(StartError::NotAvailable)?;
        self.start(&connection, Purpose::SignIn, None, return_to)
            .await
    }

    /// "Sign in with SSO" by email: the organization that claims the domain.
    pub async fn start_sign_in_for_email(
        &self,
        email: &str,
        return_to: &str,
    ) -> Result<String, StartError> {
        let domain = shared::domain::email_domain(email).ok_or(StartError::NotAvailable)?;
        let claimed = org_domain::Entity::find_by_id(domain)
            .one(&self.db)
            .await?
            .ok_or(StartError::NotAvailable)?;
        let org = organization::Entity::find_by_id(claimed.org_id)
            .one(&self.db)
            .await?
            .ok_or(StartError::NotAvailable)?;
        self.start_sign_in(&org.slug, return_to).await
    }

    /// The IdP URL for an admin's Test Connection; the connection must belong
    /// to the admin's organization (checked by the caller's lookup).
    pub async fn start_test(
        &self,
        connection: &Connection,
        admin: Uuid,
    ) -> Result<String, StartError> {
        self.start(connection, Purpose::Test, Some(admin), "/")
            .await
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

    async fn start(
        &self,
        connection: &Connection,
        purpose: Purpose,
        admin: Option<Uuid>,
        return_to: &str,
    ) -> Result<String, StartError> {
        if connection.protocol != Protocol::Saml.key() {
            return Err(StartError::NotConfigured(
                Diagnosis::new(DiagnosisCode::ConnectionNotConfigured)
                    .with_detail("OpenID Connect sign-in is not available yet."),
            ));
        }
        if connection.saml_sso_url.trim().is_empty() {
            return Err(StartError::NotConfigured(
                Diagnosis::new(DiagnosisCode::ConnectionNotConfigured)
                    .with_expected("An IdP SSO URL")
                    .with_received("(empty)"),
            ));
        }
        let id = authn_request::new_request_id();
        requests::store(
            &self.db,
            NewRequest {
                id: id.clone(),
                connection_id: connection.id,
                org_id: connection.org_id,
                purpose,
                admin_user_id: admin,
                return_to: return_to.to_string(),
                nonce: None,
                pkce_verifier: None,
            },
        )
        .await?;
        // The RelayState is the request ID: opaque, and where to go next stays on our side.
        authn_request::redirect_url(
            &id,
            connection.saml_sso_url.trim(),
            &self.urls.sp_entity_id(connection.id),
            &self.urls.acs_url(connection.id),
            &id,
        )
        .map(|url| url.to_string())
        .map_err(|detail| {
            StartError::NotConfigured(
                Diagnosis::new(DiagnosisCode::ConnectionNotConfigured)
                    .with_expected("A valid IdP SSO URL")
                    .with_received(connection.saml_sso_url.clone())
                    .with_detail(detail),
            )
        })
    }
}
