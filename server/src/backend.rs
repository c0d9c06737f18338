//! The server's side of the pages' `Backend` interface: sign-in, sessions, sign-out.

use crate::accounts::{self, Account};
use crate::audit::{self, Actor, AuditAction, AuditEntry};
use crate::config::Config;
use crate::connections::service::ConnectionService;
use crate::members;
use crate::password;
use crate::sessions::{self, SignInMethod, SESSION_LIFETIME};
use crate::sso::service::{SignInStart, StartError};
use crate::sso::{events, SsoService};
use crate::throttle::SignInThrottle;
use app::backend::{Backend, NewSession, SignInRequest, SsoStart};
use app::error::AppError;
use async_trait::async_trait;
use sea_orm::{DatabaseConnection, DbErr};
use serde_json::json;
use shared::connection::{
    AuthenticationOverview, ConnectionDetail, MetadataImport, MetadataSource, NewConnection,
    OidcForm, SamlForm, SpKeyChange, SpKeyPurpose,
};
use shared::provisioning::{EnableScimForm, IssuedToken, ProvisioningOverview};
use shared::sso_event::SsoEvent;
use shared::CurrentUser;
use std::net::IpAddr;
use std::sync::Arc;
use uuid::Uuid;

pub struct ServerBackend {
    pub db: DatabaseConnection,
    pub config: Arc<Config>,
    pub throttle: Arc<SignInThrottle>,
    pub connections: ConnectionService,
    pub sso: SsoService,
    pub logout: crate::sso::logout::LogoutService,
    pub provisioning: crate::provisioning::ProvisioningService,
}

/// Logs the real cause and gives the person a reference to quote, never the cause.
pub fn internal(error: impl std::fmt::Display) -> AppError {
    let reference = uuid::Uuid::new_v4().simple().to_string()[..8].to_uppercase();
    tracing::error!(%reference, %error, "internal error");
    AppError::Internal { reference }
}

/// Where SSO goes next: an unready connection reads like none at all to the
/// person signing in, and is logged for the admin.
fn member_id(id: &str) -> Result<Uuid, AppError> {
    Uuid::parse_str(id).map_err(|_| AppError::MemberNotFound)
}

fn member_error(error: members::MemberError) -> AppError {
    match error {
        members::MemberError::NotFound => AppError::MemberNotFound,
        members::MemberError::Refused(refusal) => AppError::MemberRefused(refusal),
        members::MemberError::InvalidQuery(message) => AppError::BadRequest(message),
        members::MemberError::Database(error) => internal(error),
    }
}

fn sso_start(started: Result<SignInStart, StartError>) -> Result<SsoStart, AppError> {
    match started {
        Ok(SignInStart::Started(started)) => Ok(SsoStart::Redirect {
            url: started.url,
            set_cookie: started.set_cookie,
        }),
        Ok(SignInStart::Choose { org_slug, choices }) => Ok(SsoStart::Choose { org_slug, choices }),
        Err(StartError::NotAvailable) => Ok(SsoStart::NotAvailable),
        Err(StartError::NotConfigured(diagnosis) | StartError::UnsafeIdpUrl(diagnosis)) => {
            tracing::warn!(code = %diagnosis.code, "SSO could not start");
            Ok(SsoStart::NotAvailable)
        }
        // The member learns that SSO was refused (not that it is missing) and
        // gets the reference under which the admin finds the diagnosis.
        Err(StartError::Refused { reference }) => Err(AppError::SsoRefused { reference }),
        Err(StartError::Database(error)) => Err(internal(error)),
    }
}

impl ServerBackend {
    async fn audit_failure(
        &self,
        account: Option<&Account>,
        email: &str,
        reason: &str,
        client_ip: Option<IpAddr>,
    ) -> Result<(), DbErr> {
        audit::record(
            &self.db,
            AuditEntry {
                org_id: account.map(|a| a.org.id),
                actor: match account {
                    Some(a) => Actor::User {
                        id: a.user.id,
                        email: a.user.email.clone(),
                    },
                    None => Actor::Anonymous {
                        claimed_email: email.to_string(),
                    },
                },
                action: AuditAction::SignInFailed,
                success: false,
                detail: json!({ "method": "password", "reason": reason }),
                client_ip,
            },
        )
        .await
    }

    /// The admin as the members service needs them: ids, not names.
    async fn acting(
        &self,
        admin: &CurrentUser,
        client_ip: Option<IpAddr>,
    ) -> Result<members::Acting, AppError> {
        let org = accounts::find_organization(&self.db, &admin.org_slug)
            .await
            .map_err(internal)?
            .ok_or(AppError::Unauthenticated)?;
        Ok(members::Acting {
            org_id: org.id,
            admin_id: Uuid::parse_str(&admin.user_id).map_err(|_| AppError::Unauthenticated)?,
            admin_email: admin.email.clone(),
            client_ip,
        })
    }

    /// The account whose password matches, trying each organization's account with
    /// this email. Always spends at least one verification.
    async fn matching_account(&self, accounts: &[Account], password: &str) -> Option<Account> {
        if accounts.iter().all(|a| a.user.password_hash.is_none()) {
            password::verify(password.to_string(), None).await;
            return None;
        }
        for account in accounts {
            if let Some(hash) = &account.user.password_hash {
                if password::verify(password.to_string(), Some(hash.clone())).await {
                    return Some(account.clone());
                }
            }
        }
        None
    }
}

#[async_trait]
impl Backend for ServerBackend {
    async fn sign_in(&self, request: SignInRequest) -> Result<NewSession, AppError> {
        let SignInRequest {
            email,
            password,
            client_ip,
        } = request;
        let standing = self
            .throttle
            .check(&email, client_ip)
            .await
            .map_err(internal)?;
        // Checked before the email is looked up, so the answer is the same
        // whether or not the account exists.
        if let Some(wait) = standing.wait {
            self.audit_failure(None, &email, "rate_limited", client_ip)
                .await
                .map_err(internal)?;
            return Err(AppError::RateLimited {
                retry_after_secs: wait.as_secs().max(1),
            });
        }
        let accounts = accounts::accounts_by_email(&self.db, &email)
            .await
            .map_err(internal)?;
        let Some(account) = self.matching_account(&accounts, &password).await else {
            self.throttle
                .record_failure(&email, client_ip)
                .await
                .map_err(internal)?;
            let reason = if accounts.is_empty() {
                "unknown_email"
            } else {
                "wrong_password"
            };
            self.audit_failure(accounts.first(), &email, reason, client_ip)
                .await
                .map_err(internal)?;
            return Err(AppError::InvalidCredentials);
        };
        self.throttle
            .record_success(&email, standing)
            .await
            .map_err(internal)?;
        if !account.user.active {
            self.audit_failure(Some(&account), &email, "user_deactivated", client_ip)
                .await
                .map_err(internal)?;
            return Err(AppError::AccountDeactivated);
        }
        // Checked only now that the password is right: a guesser learns nothing.
        let method = if !account.org.require_sso {
            SignInMethod::Password
        } else if account.role.is_integrations_admin() {
            SignInMethod::BreakGlass
        } else {
            self.audit_failure(Some(&account), &email, "sso_required", client_ip)
                .await
                .map_err(internal)?;
            return Err(AppError::SsoRequired {
                login_path: format!("/login/{}", account.org.slug),
            });
        };
        // The session and its audit row in one write, in turn with the others.
        let (txn, _turn) = crate::db::begin_write(&self.db).await.map_err(internal)?;
        let token = sessions::open(&txn, account.user.id, account.org.id, method, client_ip)
            .await
            .map_err(internal)?;
        audit::record(
            &txn,
            AuditEntry {
                org_id: Some(account.org.id),
                actor: Actor::User {
                    id: account.user.id,
                    email: account.user.email.clone(),
                },
                action: AuditAction::SignIn,
                success: true,
                detail: json!({ "method": method.as_str() }),
                client_ip,
            },
        )
        .await
        .map_err(internal)?;
        txn.commit().await.map_err(internal)?;
        Ok(NewSession {
            token,
            max_age_secs: SESSION_LIFETIME.num_seconds(),
            user: account.to_current_user(),
        })
    }

    async fn session_user(&self, token: &str) -> Result<Option<CurrentUser>, AppError> {
        let live = sessions::live_account(&self.db, token)
            .await
            .map_err(internal)?;
        Ok(live.map(|(_, account)| account.to_current_user()))
    }

    async fn sign_out(&self, token: &str, client_ip: Option<IpAddr>) -> Result<String, AppError> {
        self.logout
            .sign_out(token, client_ip, "/login")
            .await
            .map_err(internal)
    }

    fn secure_cookies(&self) -> bool {
        self.config.secure_cookies()
    }

    async fn authentication_overview(
        &self,
        admin: &CurrentUser,
    ) -> Result<AuthenticationOverview, AppError> {
        self.connections.overview(admin).await
    }

    async fn create_connection(
        &self,
        admin: &CurrentUser,
        new: NewConnection,
    ) -> Result<ConnectionDetail, AppError> {
        self.connections.create(admin, new).await
    }

    async fn connection(
        &self,
        admin: &CurrentUser,
        id: &str,
    ) -> Result<ConnectionDetail, AppError> {
        self.connections.get(admin, id).await
    }

    async fn save_saml_connection(
        &self,
        admin: &CurrentUser,
        id: &str,
        form: SamlForm,
    ) -> Result<ConnectionDetail, AppError> {
        self.connections.save_saml(admin, id, form).await
    }

    async fn change_sp_key(
        &self,
        admin: &CurrentUser,
        id: &str,
        purpose: SpKeyPurpose,
        change: SpKeyChange,
    ) -> Result<ConnectionDetail, AppError> {
        self.connections
            .change_sp_key(admin, id, purpose, change)
            .await
    }

    async fn save_oidc_connection(
        &self,
        admin: &CurrentUser,
        id: &str,
        form: OidcForm,
    ) -> Result<ConnectionDetail, AppError> {
        self.connections.save_oidc(admin, id, form).await
    }

    async fn import_saml_metadata(
        &self,
        _admin: &CurrentUser,
        source: MetadataSource,
    ) -> Result<MetadataImport, AppError> {
        self.connections.import_metadata(source).await
    }

    async fn set_connection_active(
        &self,
        admin: &CurrentUser,
        id: &str,
        active: bool,
    ) -> Result<ConnectionDetail, AppError> {
        self.connections.set_active(admin, id, active).await
    }

    async fn delete_connection(&self, admin: &CurrentUser, id: &str) -> Result<(), AppError> {
        self.connections.delete(admin, id).await
    }

    async fn add_domain(
        &self,
        admin: &CurrentUser,
        domain: &str,
    ) -> Result<AuthenticationOverview, AppError> {
        self.connections.add_domain(admin, domain).await
    }

    async fn remove_domain(
        &self,
        admin: &CurrentUser,
        domain: &str,
    ) -> Result<AuthenticationOverview, AppError> {
        self.connections.remove_domain(admin, domain).await
    }

    async fn verify_domain(
        &self,
        admin: &CurrentUser,
        domain: &str,
    ) -> Result<AuthenticationOverview, AppError> {
        self.connections.verify_domain(admin, domain).await
    }

    async fn sso_start_for_email(
        &self,
        email: &str,
        return_to: &str,
    ) -> Result<SsoStart, AppError> {
        sso_start(self.sso.start_sign_in_for_email(email, return_to).await)
    }

    async fn audit_log(
        &self,
        admin: &CurrentUser,
        query: shared::audit::AuditQuery,
    ) -> Result<shared::audit::AuditPage, AppError> {
        let org = accounts::find_organization(&self.db, &admin.org_slug)
            .await
            .map_err(internal)?
            .ok_or(AppError::Unauthenticated)?;
        audit::page(&self.db, org.id, &query)
            .await
            .map_err(internal)
    }

    async fn members(
        &self,
        admin: &CurrentUser,
        query: shared::members::MemberQuery,
    ) -> Result<shared::members::MembersPage, AppError> {
        let acting = self.acting(admin, None).await?;
        members::page(&self.db, &acting, &query)
            .await
            .map_err(member_error)
    }

    async fn member(
        &self,
        admin: &CurrentUser,
        id: &str,
    ) -> Result<shared::members::MemberDetail, AppError> {
        let acting = self.acting(admin, None).await?;
        members::detail(&self.db, &acting, member_id(id)?)
            .await
            .map_err(member_error)
    }

    async fn change_member(
        &self,
        admin: &CurrentUser,
        id: &str,
        action: shared::members::MemberAction,
        client_ip: Option<IpAddr>,
    ) -> Result<shared::members::MemberDetail, AppError> {
        let acting = self.acting(admin, client_ip).await?;
        members::apply(&self.db, &acting, member_id(id)?, action)
            .await
            .map_err(member_error)
    }

    async fn set_require_sso(
        &self,
        admin: &CurrentUser,
        on: bool,
    ) -> Result<AuthenticationOverview, AppError> {
        self.connections.set_require_sso(admin, on).await
    }

    async fn sso_start(
        &self,
        org_slug: &str,
        connection: Option<&str>,
        return_to: &str,
    ) -> Result<SsoStart, AppError> {
        sso_start(
            self.sso
                .start_sign_in(org_slug, connection, return_to)
                .await,
        )
    }

    async fn sso_link_start(
        &self,
        admin: &CurrentUser,
        connection_id: &str,
    ) -> Result<SsoStart, AppError> {
        // The admin's own organization only (NotFound otherwise).
        self.connections.get(admin, connection_id).await?;
        let connection = crate::connections::store::find_any(&self.db, connection_id)
            .await
            .map_err(internal)?
            .ok_or(AppError::NotFound)?;
        let admin_id = admin.user_id.parse().map_err(internal)?;
        match self.sso.start_link(&connection, admin_id).await {
            Ok(started) => Ok(SsoStart::Redirect {
                url: started.url,
                set_cookie: started.set_cookie,
            }),
            Err(StartError::NotConfigured(_) | StartError::UnsafeIdpUrl(_)) => {
                Err(AppError::Conflict(
                    "This connection cannot sign anyone in yet: finish its settings and run Test Connection first."
                        .into(),
                ))
            }
            Err(StartError::Database(error)) => Err(internal(error)),
            Err(other) => Err(internal(other)),
        }
    }

    async fn my_sso_identity(
        &self,
        admin: &CurrentUser,
        connection_id: &str,
    ) -> Result<Option<String>, AppError> {
        let detail = self.connections.get(admin, connection_id).await?;
        let connection = detail.summary.id.parse().map_err(internal)?;
        let user = admin.user_id.parse().map_err(internal)?;
        let identity = crate::sso::identities::of_user(&self.db, connection, user)
            .await
            .map_err(internal)?;
        Ok(identity.map(|identity| identity.subject))
    }

    async fn sso_events(
        &self,
        admin: &CurrentUser,
        connection_id: &str,
    ) -> Result<Vec<SsoEvent>, AppError> {
        let detail = self.connections.get(admin, connection_id).await?;
        let id = detail.summary.id.parse().map_err(internal)?;
        events::recent(&self.db, id).await.map_err(internal)
    }

    async fn sso_event(
        &self,
        admin: &CurrentUser,
        connection_id: &str,
        event_id: &str,
    ) -> Result<SsoEvent, AppError> {
        let detail = self.connections.get(admin, connection_id).await?;
        let id = detail.summary.id.parse().map_err(internal)?;
        let event_id = event_id.parse().map_err(|_| AppError::NotFound)?;
        events::find(&self.db, id, event_id)
            .await
            .map_err(internal)?
            .ok_or(AppError::NotFound)
    }

    async fn provisioning_overview(
        &self,
        admin: &CurrentUser,
    ) -> Result<ProvisioningOverview, AppError> {
        self.provisioning.overview(admin).await
    }

    async fn enable_scim(
        &self,
        admin: &CurrentUser,
        form: EnableScimForm,
    ) -> Result<IssuedToken, AppError> {
        self.provisioning.enable(admin, form).await
    }

    async fn rotate_scim_token(&self, admin: &CurrentUser) -> Result<IssuedToken, AppError> {
        self.provisioning.rotate(admin).await
    }

    async fn complete_scim_rotation(
        &self,
        admin: &CurrentUser,
    ) -> Result<ProvisioningOverview, AppError> {
        self.provisioning.complete_rotation(admin).await
    }

    async fn cancel_scim_rotation(
        &self,
        admin: &CurrentUser,
    ) -> Result<ProvisioningOverview, AppError> {
        self.provisioning.cancel_rotation(admin).await
    }

    async fn disable_scim(&self, admin: &CurrentUser) -> Result<ProvisioningOverview, AppError> {
        self.provisioning.disable(admin).await
    }
}
