//! The connection use cases behind the settings pages: look up the admin's
//! organization, call the store, and turn the result into views and errors the
//! pages understand.

use super::sp_keys::{self, SpKeyError};
use super::store::{self, ConnectionError};
use super::{view, PublicUrls};
use crate::accounts;
use crate::audit::Actor;
use crate::backend::internal;
use crate::domains::dns::Dns;
use crate::domains::store::{self as domains, ClaimError};
use crate::oidc::discovery;
use crate::outbound::{self, OutboundPolicy};
use crate::saml::metadata::parse_idp_metadata;
use crate::secrets::SecretKey;
use app::error::AppError;
use sea_orm::DatabaseConnection;
use shared::connection::{
    field, AuthenticationOverview, ConnectionDetail, MetadataImport, MetadataSource, NewConnection,
    OidcForm, SamlForm, SpKeyChange, SpKeyPurpose,
};
use shared::{CurrentUser, FieldError, FieldErrors, IdpUrlPolicy};
use uuid::Uuid;

pub struct ConnectionService {
    pub db: DatabaseConnection,
    pub secrets: SecretKey,
    pub urls: PublicUrls,
    pub outbound: OutboundPolicy,
    /// Looks up the TXT records that verify domain claims.
    pub dns: Dns,
}

impl From<ConnectionError> for AppError {
    fn from(error: ConnectionError) -> Self {
        match error {
            ConnectionError::NotFound => AppError::NotFound,
            ConnectionError::Invalid(errors) => AppError::Invalid(errors),
            ConnectionError::Database(e) => internal(e),
        }
    }
}

fn sp_key_error(error: SpKeyError) -> AppError {
    match error {
        SpKeyError::Database(e) => internal(e),
        other => field_error("sp_keys", other.code(), other.to_string()),
    }
}

fn field_error(field: &str, code: &str, message: impl Into<String>) -> AppError {
    AppError::Invalid(FieldErrors(vec![FieldError::new(field, code, message)]))
}

/// A domain that is not (or no longer) in the organization's list, e.g. removed
/// in another tab.
fn not_claimed(domain: &str) -> AppError {
    field_error(
        "domain",
        ClaimError::NotClaimed.code(),
        format!("{domain} is not in your list of domains. Add it first."),
    )
}

fn actor(admin: &CurrentUser) -> Actor {
    Actor::User {
        id: Uuid::parse_str(&admin.user_id).unwrap_or_default(),
        email: admin.email.clone(),
    }
}

fn now_unix() -> i64 {
    chrono::Utc::now().timestamp()
}

impl ConnectionService {
    async fn org_id(&self, admin: &CurrentUser) -> Result<Uuid, AppError> {
        accounts::find_organization(&self.db, &admin.org_slug)
            .await
            .map_err(internal)?
            .map(|org| org.id)
            .ok_or(AppError::Unauthenticated)
    }

    /// Whether identity-provider addresses may use plain http:// here: only
    /// where the operator lets Latchkey reach a private network.
    fn url_policy(&self) -> IdpUrlPolicy {
        IdpUrlPolicy::from_allow_private_urls(self.outbound.allow_private_addresses)
    }

    /// The page's view of a connection; a SAML one with Latchkey's own
    /// certificates, made the first time they are shown.
    async fn detail(
        &self,
        model: &crate::entities::sso_connection::Model,
    ) -> Result<ConnectionDetail, AppError> {
        let sp_certificates = if view::protocol(model) == shared::Protocol::Saml {
            let keys = sp_keys::ensure(&self.db, &self.secrets, model.id)
                .await
                .map_err(internal)?;
            sp_keys::certificates(&keys)
        } else {
            Vec::new()
        };
        Ok(view::detail(
            model,
            &self.urls,
            now_unix(),
            self.url_policy(),
            sp_certificates,
        ))
    }

    pub async fn overview(&self, admin: &CurrentUser) -> Result<AuthenticationOverview, AppError> {
        let org_id = self.org_id(admin).await?;
        let now = now_unix();
        let models = store::list(&self.db, org_id).await.map_err(internal)?;
        let connections = models
            .iter()
            .map(|m| view::summary(m, &self.urls, now, self.url_policy()))
            .collect();
        let org = store::organization(&self.db, org_id)
            .await
            .map_err(internal)?
            .ok_or(AppError::Unauthenticated)?;
        Ok(AuthenticationOverview {
            org_name: admin.org_name.clone(),
            login_url: self.urls.login_url(&admin.org_slug),
            connections,
            require_sso: org.require_sso,
            has_tested_connection: models.iter().any(|m| m.active && m.tested_at.is_some()),
            domains: domains::claims(&self.db, org_id).await.map_err(internal)?,
        })
    }

    pub async fn add_domain(
        &self,
        admin: &CurrentUser,
        domain: &str,
    ) -> Result<AuthenticationOverview, AppError> {
        let org_id = self.org_id(admin).await?;
        shared::domain::validate_domain("domain", domain)
            .map_err(|e| AppError::Invalid(FieldErrors(vec![e])))?;
        let domain = shared::domain::normalize_domain(domain);
        match domains::claim(&self.db, org_id, actor(admin), &domain).await {
            Ok(()) => self.overview(admin).await,
            Err(error @ ClaimError::VerifiedElsewhere) => Err(field_error(
                "domain",
                error.code(),
                format!("{domain} is verified by another organization, so it cannot route sign-ins to yours. If your company owns it, ask your Latchkey operator for help."),
            )),
            Err(error @ ClaimError::AlreadyClaimed) => Err(field_error(
                "domain",
                error.code(),
                format!("{domain} is already in your list."),
            )),
            Err(ClaimError::NotClaimed) => Err(not_claimed(&domain)),
            Err(ClaimError::Database(error)) => Err(internal(error)),
        }
    }

    /// Looks the claim's TXT record up now. Not finding it is not an error: the
    /// overview comes back with the claim still pending and the reason.
    pub async fn verify_domain(
        &self,
        admin: &CurrentUser,
        domain: &str,
    ) -> Result<AuthenticationOverview, AppError> {
        let org_id = self.org_id(admin).await?;
        let domain = shared::domain::normalize_domain(domain);
        match domains::verify(&self.db, self.dns.as_ref(), org_id, actor(admin), &domain).await {
            // Verified elsewhere: the overview shows the claim marked so.
            Ok(()) | Err(ClaimError::VerifiedElsewhere) => self.overview(admin).await,
            Err(ClaimError::NotClaimed | ClaimError::AlreadyClaimed) => Err(not_claimed(&domain)),
            Err(ClaimError::Database(error)) => Err(internal(error)),
        }
    }

    pub async fn remove_domain(
        &self,
        admin: &CurrentUser,
        domain: &str,
    ) -> Result<AuthenticationOverview, AppError> {
        let org_id = self.org_id(admin).await?;
        let domain = shared::domain::normalize_domain(domain);
        domains::remove(&self.db, org_id, actor(admin), &domain)
            .await
            .map_err(internal)?;
        self.overview(admin).await
    }

    /// Require SSO only once an active connection has passed Test Connection,
    /// so turning it on cannot lock members out of a connection that never worked.
    pub async fn set_require_sso(
        &self,
        admin: &CurrentUser,
        on: bool,
    ) -> Result<AuthenticationOverview, AppError> {
        let org_id = self.org_id(admin).await?;
        let overview = self.overview(admin).await?;
        if on && !overview.has_tested_connection {
            return Err(field_error(
                "require_sso",
                "no_tested_connection",
                "Run Test Connection successfully on an active connection first. Until one passes, members could be locked out.",
            ));
        }
        if overview.require_sso != on {
            store::set_require_sso(&self.db, org_id, actor(admin), on)
                .await
                .map_err(internal)?;
        }
        self.overview(admin).await
    }

    pub async fn create(
        &self,
        admin: &CurrentUser,
        new: NewConnection,
    ) -> Result<ConnectionDetail, AppError> {
        let org_id = self.org_id(admin).await?;
        let model = store::create(&self.db, org_id, actor(admin), new).await?;
        self.detail(&model).await
    }

    pub async fn get(&self, admin: &CurrentUser, id: &str) -> Result<ConnectionDetail, AppError> {
        let org_id = self.org_id(admin).await?;
        let model = store::find(&self.db, org_id, id).await?;
        self.detail(&model).await
    }

    pub async fn save_saml(
        &self,
        admin: &CurrentUser,
        id: &str,
        form: SamlForm,
    ) -> Result<ConnectionDetail, AppError> {
        let org_id = self.org_id(admin).await?;
        let model =
            store::save_saml(&self.db, org_id, id, actor(admin), form, self.url_policy()).await?;
        self.detail(&model).await
    }

    pub async fn save_oidc(
        &self,
        admin: &CurrentUser,
        id: &str,
        form: OidcForm,
    ) -> Result<ConnectionDetail, AppError> {
        let org_id = self.org_id(admin).await?;
        let existing = store::find(&self.db, org_id, id).await?;
        store::check_oidc_form(&existing, &form, self.url_policy())?;
        let discovered = discovery::discover(form.issuer_url.trim(), self.outbound)
            .await
            .map_err(|e| field_error(field::ISSUER_URL, e.code(), e.to_string()))?;
        let model = store::save_oidc(
            &self.db,
            &self.secrets,
            org_id,
            existing,
            actor(admin),
            form,
            discovered,
        )
        .await?;
        self.detail(&model).await
    }

    pub async fn import_metadata(
        &self,
        source: MetadataSource,
    ) -> Result<MetadataImport, AppError> {
        let (xml, source_field) = match source {
            MetadataSource::Url(url) => {
                let mut errors = FieldErrors::default();
                errors.check(shared::validate::http_url(field::METADATA_URL, &url));
                errors.into_result()?;
                let xml = outbound::fetch_text(&url, self.outbound)
                    .await
                    .map_err(|e| {
                        field_error(
                            field::METADATA_URL,
                            e.code(),
                            format!("The metadata could not be fetched. {e}"),
                        )
                    })?;
                (xml, field::METADATA_URL)
            }
            MetadataSource::Xml(xml) => (xml, field::METADATA_XML),
        };
        let metadata = parse_idp_metadata(&xml)
            .map_err(|e| field_error(source_field, e.code(), e.to_string()))?;
        // The SSO URL is where members' browsers will be sent: the same rule as
        // when it is typed, reported on the metadata the admin gave.
        shared::idp_url::check(field::SSO_URL, &metadata.sso_url, self.url_policy()).map_err(
            |e| {
                field_error(
                    source_field,
                    &e.code,
                    format!(
                        "The metadata's single sign-on URL is {}. {} Nothing was imported.",
                        shared::idp_url::quoted(&metadata.sso_url),
                        e.message
                    ),
                )
            },
        )?;
        let certificates_pem = metadata.certificates_pem.join("\n");
        let certificates = crate::saml::certificate::parse_pem_bundle(&certificates_pem)
            .map(|parsed| parsed.into_iter().map(|c| c.facts).collect())
            .map_err(|e| field_error(source_field, e.code(), e.to_string()))?;
        Ok(MetadataImport {
            entity_id: metadata.entity_id,
            sso_url: metadata.sso_url,
            slo_url: metadata.slo_url,
            certificates_pem,
            certificates,
            wants_signed_requests: metadata.wants_signed_requests,
        })
    }

    pub async fn set_active(
        &self,
        admin: &CurrentUser,
        id: &str,
        active: bool,
    ) -> Result<ConnectionDetail, AppError> {
        let org_id = self.org_id(admin).await?;
        let model = store::set_active(&self.db, org_id, id, actor(admin), active).await?;
        self.detail(&model).await
    }

    /// Rotates one of the connection's own SAML keys, or removes the one a
    /// rotation replaced (`sp_keys::rotate`, `sp_keys::remove_previous`).
    pub async fn change_sp_key(
        &self,
        admin: &CurrentUser,
        id: &str,
        purpose: SpKeyPurpose,
        change: SpKeyChange,
    ) -> Result<ConnectionDetail, AppError> {
        let model = self.saml_connection(admin, id).await?;
        let purpose = sp_keys::from_shared(purpose);
        let (org_id, actor) = (model.org_id, actor(admin));
        match change {
            SpKeyChange::Rotate => {
                sp_keys::rotate(&self.db, &self.secrets, org_id, actor, model.id, purpose).await
            }
            SpKeyChange::RemovePrevious => {
                sp_keys::remove_previous(&self.db, org_id, actor, model.id, purpose).await
            }
        }
        .map_err(sp_key_error)?;
        self.detail(&model).await
    }

    async fn saml_connection(
        &self,
        admin: &CurrentUser,
        id: &str,
    ) -> Result<crate::entities::sso_connection::Model, AppError> {
        let org_id = self.org_id(admin).await?;
        let model = store::find(&self.db, org_id, id).await?;
        if model.protocol != shared::Protocol::Saml.key() {
            return Err(AppError::NotFound);
        }
        Ok(model)
    }

    pub async fn delete(&self, admin: &CurrentUser, id: &str) -> Result<(), AppError> {
        let org_id = self.org_id(admin).await?;
        store::delete(&self.db, org_id, id, actor(admin)).await?;
        Ok(())
    }
}
