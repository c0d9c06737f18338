//! What the pages need from the server, as an interface. The server crate
//! implements it over the database; server functions reach it through context,
//! so the UI never touches storage directly.

use crate::error::AppError;
use async_trait::async_trait;
use shared::connection::{
    AuthenticationOverview, ConnectionDetail, MetadataImport, MetadataSource, NewConnection,
    OidcForm, SamlForm, SpKeyChange, SpKeyPurpose,
};
use shared::provisioning::{EnableScimForm, IssuedToken, ProvisioningOverview};
use shared::sso_event::{SsoChoice, SsoEvent};
use shared::CurrentUser;
use std::net::IpAddr;
use std::sync::Arc;

/// A password sign-in attempt with where it came from.
#[derive(Debug, Clone)]
pub struct SignInRequest {
    pub email: String,
    pub password: String,
    pub client_ip: Option<IpAddr>,
}

/// A session the server has just opened.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// The cookie value; only its hash is stored.
    pub token: String,
    pub max_age_secs: i64,
    pub user: CurrentUser,
}

/// Where single sign-on goes next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SsoStart {
    /// To the identity provider; the cookie (if any) binds the sign-in to this browser.
    Redirect {
        url: String,
        set_cookie: Option<String>,
    },
    /// The organization has several active connections: the member picks one.
    Choose {
        org_slug: String,
        choices: Vec<SsoChoice>,
    },
    /// Nothing to start; deliberately vague about why.
    NotAvailable,
}

#[async_trait]
pub trait Backend: Send + Sync + 'static {
    /// Verifies a password and opens a session, or says why not.
    async fn sign_in(&self, request: SignInRequest) -> Result<NewSession, AppError>;

    /// The user behind a session cookie, if the session is live and the user active.
    async fn session_user(&self, token: &str) -> Result<Option<CurrentUser>, AppError>;

    /// Ends a session everywhere and returns where the browser goes next: the
    /// identity provider's logout, when the session came from SSO through a
    /// connection that has one, else the sign-in page. Signing out twice is
    /// not an error.
    async fn sign_out(&self, token: &str, client_ip: Option<IpAddr>) -> Result<String, AppError>;

    /// Whether cookies must carry `Secure` (the public URL is https).
    fn secure_cookies(&self) -> bool;

    /// The connections methods take the admin the server function already checked.
    async fn authentication_overview(
        &self,
        admin: &CurrentUser,
    ) -> Result<AuthenticationOverview, AppError>;

    async fn create_connection(
        &self,
        admin: &CurrentUser,
        new: NewConnection,
    ) -> Result<ConnectionDetail, AppError>;

    async fn connection(&self, admin: &CurrentUser, id: &str)
        -> Result<ConnectionDetail, AppError>;

    async fn save_saml_connection(
        &self,
        admin: &CurrentUser,
        id: &str,
        form: SamlForm,
    ) -> Result<ConnectionDetail, AppError>;

    /// Rotates one of the connection's own SAML keys, or removes the one a
    /// rotation replaced.
    async fn change_sp_key(
        &self,
        admin: &CurrentUser,
        id: &str,
        purpose: SpKeyPurpose,
        change: SpKeyChange,
    ) -> Result<ConnectionDetail, AppError>;

    /// Runs OpenID discovery first; saves only when it succeeds.
    async fn save_oidc_connection(
        &self,
        admin: &CurrentUser,
        id: &str,
        form: OidcForm,
    ) -> Result<ConnectionDetail, AppError>;

    /// Reads IdP metadata (fetched or pasted) into form values for review; saves nothing.
    async fn import_saml_metadata(
        &self,
        admin: &CurrentUser,
        source: MetadataSource,
    ) -> Result<MetadataImport, AppError>;

    async fn set_connection_active(
        &self,
        admin: &CurrentUser,
        id: &str,
        active: bool,
    ) -> Result<ConnectionDetail, AppError>;

    async fn delete_connection(&self, admin: &CurrentUser, id: &str) -> Result<(), AppError>;

    /// Claims an email domain for "Sign in with SSO"; it routes only once verified.
    async fn add_domain(
        &self,
        admin: &CurrentUser,
        domain: &str,
    ) -> Result<AuthenticationOverview, AppError>;

    async fn remove_domain(
        &self,
        admin: &CurrentUser,
        domain: &str,
    ) -> Result<AuthenticationOverview, AppError>;

    /// Looks the claim's `_latchkey-challenge` TXT record up now; verifies the
    /// claim when it holds the claim's token, otherwise records what was found.
    async fn verify_domain(
        &self,
        admin: &CurrentUser,
        domain: &str,
    ) -> Result<AuthenticationOverview, AppError>;

    /// Where "Sign in with SSO" sends this email address; `NotAvailable` when
    /// no organization claims its domain (or has no active connection).
    async fn sso_start_for_email(&self, email: &str, return_to: &str)
        -> Result<SsoStart, AppError>;

    /// One page of the organization's audit log.
    async fn audit_log(
        &self,
        admin: &CurrentUser,
        query: shared::audit::AuditQuery,
    ) -> Result<shared::audit::AuditPage, AppError>;

    /// Settings > Members: one page of the list, searched and filtered on the server.
    async fn members(
        &self,
        admin: &CurrentUser,
        query: shared::members::MemberQuery,
    ) -> Result<shared::members::MembersPage, AppError>;

    /// One member of the admin's organization, with what the admin may do to them.
    async fn member(
        &self,
        admin: &CurrentUser,
        id: &str,
    ) -> Result<shared::members::MemberDetail, AppError>;

    /// A change by hand (deactivate, end sessions, …), audited; refused by the
    /// rules in `shared::members::check_action`.
    async fn change_member(
        &self,
        admin: &CurrentUser,
        id: &str,
        action: shared::members::MemberAction,
        client_ip: Option<IpAddr>,
    ) -> Result<shared::members::MemberDetail, AppError>;

    /// Turns "Require SSO" on (only with a tested connection) or off.
    async fn set_require_sso(
        &self,
        admin: &CurrentUser,
        on: bool,
    ) -> Result<AuthenticationOverview, AppError>;

    /// Where to send a member of `org_slug` to sign in with SSO: through
    /// `connection` when it names one of the organization's active connections.
    async fn sso_start(
        &self,
        org_slug: &str,
        connection: Option<&str>,
        return_to: &str,
    ) -> Result<SsoStart, AppError>;

    /// "Link my SSO identity": sends the signed-in Integrations Admin to the
    /// connection's IdP; the identity it vouches for is then bound to their
    /// account, so SSO may sign them in from then on.
    async fn sso_link_start(
        &self,
        admin: &CurrentUser,
        connection_id: &str,
    ) -> Result<SsoStart, AppError>;

    /// The subject (NameID or `sub`) bound to the admin's own account at this
    /// connection, if any.
    async fn my_sso_identity(
        &self,
        admin: &CurrentUser,
        connection_id: &str,
    ) -> Result<Option<String>, AppError>;

    /// A connection's recent sign-ins and tests, newest first.
    async fn sso_events(
        &self,
        admin: &CurrentUser,
        connection_id: &str,
    ) -> Result<Vec<SsoEvent>, AppError>;

    /// One event of a connection (the Test Connection result).
    async fn sso_event(
        &self,
        admin: &CurrentUser,
        connection_id: &str,
        event_id: &str,
    ) -> Result<SsoEvent, AppError>;

    /// Settings > User Provisioning: the SCIM connection card and recent requests.
    async fn provisioning_overview(
        &self,
        admin: &CurrentUser,
    ) -> Result<ProvisioningOverview, AppError>;

    /// Enables SCIM and returns the first bearer token, shown this once.
    async fn enable_scim(
        &self,
        admin: &CurrentUser,
        form: EnableScimForm,
    ) -> Result<IssuedToken, AppError>;

    /// Issues a second token; the first keeps working until the rotation completes.
    async fn rotate_scim_token(&self, admin: &CurrentUser) -> Result<IssuedToken, AppError>;

    async fn complete_scim_rotation(
        &self,
        admin: &CurrentUser,
    ) -> Result<ProvisioningOverview, AppError>;

    async fn cancel_scim_rotation(
        &self,
        admin: &CurrentUser,
    ) -> Result<ProvisioningOverview, AppError>;

    /// Revokes every token; users stay as they are.
    async fn disable_scim(&self, admin: &CurrentUser) -> Result<ProvisioningOverview, AppError>;
}

/// How the server hands its backend to the Leptos context.
#[derive(Clone)]
pub struct BackendHandle(pub Arc<dyn Backend>);
