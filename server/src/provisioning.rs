//! Settings > User Provisioning on the server: turns the SCIM connection, its
//! tokens and the request log into what the page shows, and runs the admin's
//! actions (enable, rotate, complete, cancel, disable) for their organization.

use crate::accounts;
use crate::audit::Actor;
use crate::backend::internal;
use crate::entities::{scim_connection, scim_request};
use crate::scim::connections::{self, Admin, ConnectionError, TOKEN_PENDING};
use crate::scim::Scim;
use app::error::AppError;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use shared::provisioning::{
    name_or_default, validate_enable, EnableScimForm, IssuedToken, ProvisioningOverview,
    RotationState, ScimConnectionView, ScimRequestView,
};
use shared::{CurrentUser, IdentityProvider};
use uuid::Uuid;

/// How many recent requests the page lists.
pub const LOG_LINES: u64 = 50;

#[derive(Clone)]
pub struct ProvisioningService {
    pub scim: Scim,
}

impl From<ConnectionError> for AppError {
    fn from(e: ConnectionError) -> Self {
        match e {
            ConnectionError::AlreadyEnabled => AppError::Conflict(
                "SCIM is already enabled. Disable it first to start over.".into(),
            ),
            ConnectionError::NotEnabled => {
                AppError::Conflict("SCIM is not enabled for your organization.".into())
            }
            ConnectionError::RotationInProgress => AppError::Conflict(
                "A rotation is already in progress: complete or cancel it first.".into(),
            ),
            ConnectionError::NoRotation => {
                AppError::Conflict("No token rotation is in progress.".into())
            }
            ConnectionError::Database(e) => internal(e),
        }
    }
}

impl ProvisioningService {
    async fn admin(&self, user: &CurrentUser) -> Result<Admin, AppError> {
        let org = accounts::find_organization(&self.scim.db, &user.org_slug)
            .await
            .map_err(internal)?
            .ok_or(AppError::Forbidden)?;
        let id = Uuid::parse_str(&user.user_id).map_err(|_| AppError::Forbidden)?;
        Ok(Admin {
            org_id: org.id,
            actor: Actor::User {
                id,
                email: user.email.clone(),
            },
        })
    }

    pub async fn overview(&self, user: &CurrentUser) -> Result<ProvisioningOverview, AppError> {
        let admin = self.admin(user).await?;
        self.overview_for(admin.org_id).await
    }

    async fn overview_for(&self, org_id: Uuid) -> Result<ProvisioningOverview, AppError> {
        // Show what the IdP did up to now, not up to the last periodic flush.
        self.scim.activity.flush().await.map_err(internal)?;
        let db = &self.scim.db;
        let connection = match connections::enabled_connection(db, org_id)
            .await
            .map_err(internal)?
        {
            Some(c) => Some(c),
            None => connections::latest_connection(db, org_id)
                .await
                .map_err(internal)?,
        };
        let Some(connection) = connection else {
            return Ok(ProvisioningOverview {
                connection: None,
                requests: Vec::new(),
            });
        };
        let requests = scim_request::Entity::find()
            .filter(scim_request::Column::ConnectionId.eq(connection.id))
            .order_by_desc(scim_request::Column::CreatedAt)
            .limit(LOG_LINES)
            .all(db)
            .await
            .map_err(internal)?
            .into_iter()
            .map(|r| ScimRequestView {
                at: r.created_at.timestamp(),
                method: r.method,
                path: r.path,
                status: u16::try_from(r.status).unwrap_or_default(),
                outcome: r.outcome,
            })
            .collect();
        Ok(ProvisioningOverview {
            connection: Some(self.view(connection).await?),
            requests,
        })
    }

    async fn view(&self, c: scim_connection::Model) -> Result<ScimConnectionView, AppError> {
        let tokens = connections::live_tokens(&self.scim.db, c.id)
            .await
            .map_err(internal)?;
        let rotation = match tokens.iter().find(|t| t.state == TOKEN_PENDING) {
            Some(pending) => RotationState::InProgress {
                started_at: pending.created_at.timestamp(),
            },
            None => RotationState::Idle,
        };
        Ok(ScimConnectionView {
            id: c.id.to_string(),
            provider: IdentityProvider::from_key(&c.provider).unwrap_or(IdentityProvider::Other),
            name: c.name,
            enabled: c.status == connections::ENABLED,
            base_url: self.scim.base_url(c.id),
            created_at: c.created_at.timestamp(),
            last_called_at: c.last_called_at.map(|t| t.timestamp()),
            disabled_at: c.disabled_at.map(|t| t.timestamp()),
            rotation,
            valid_tokens: tokens.len() as u32,
        })
    }

    pub async fn enable(
        &self,
        user: &CurrentUser,
        form: EnableScimForm,
    ) -> Result<IssuedToken, AppError> {
        validate_enable(&form).into_result()?;
        let admin = self.admin(user).await?;
        let name = name_or_default(&form.name, form.provider);
        let (_, token) =
            connections::enable(&self.scim.db, &admin, form.provider.key(), &name).await?;
        Ok(IssuedToken {
            overview: self.overview_for(admin.org_id).await?,
            token,
        })
    }

    pub async fn rotate(&self, user: &CurrentUser) -> Result<IssuedToken, AppError> {
        let admin = self.admin(user).await?;
        let (_, token) = connections::rotate(&self.scim.db, &self.scim.tokens, &admin).await?;
        Ok(IssuedToken {
            overview: self.overview_for(admin.org_id).await?,
            token,
        })
    }

    pub async fn complete_rotation(
        &self,
        user: &CurrentUser,
    ) -> Result<ProvisioningOverview, AppError> {
        let admin = self.admin(user).await?;
        connections::complete_rotation(&self.scim.db, &self.scim.tokens, &admin).await?;
        self.overview_for(admin.org_id).await
    }

    pub async fn cancel_rotation(
        &self,
        user: &CurrentUser,
    ) -> Result<ProvisioningOverview, AppError> {
        let admin = self.admin(user).await?;
        connections::cancel_rotation(&self.scim.db, &self.scim.tokens, &admin).await?;
        self.overview_for(admin.org_id).await
    }

    pub async fn disable(&self, user: &CurrentUser) -> Result<ProvisioningOverview, AppError> {
        let admin = self.admin(user).await?;
        connections::disable(&self.scim.db, &self.scim.tokens, &admin).await?;
        self.overview_for(admin.org_id).await
    }
}
