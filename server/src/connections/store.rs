//! Reading and writing SSO connections, always scoped to one organization, each
//! change in one transaction with its audit row.

use crate::audit::{self, Actor, AuditAction, AuditEntry};
use crate::entities::organization;
use crate::entities::sso_connection::{self, ActiveModel, Column, Entity, Model};
use crate::events::{self, EventType};
use crate::saml::certificate::parse_pem_bundle;
use crate::secrets::{SecretKey, SecretSlot};
use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    Set,
};
use serde_json::{json, Value};
use shared::catalogue::display_name_or_default;
use shared::connection::{
    field, validate_new_connection, validate_oidc_form, validate_saml_form, NewConnection,
    OidcForm, SamlForm,
};
use shared::doctor::DiscoveredEndpoints;
use shared::{FieldError, FieldErrors, IdpUrlPolicy, Protocol};
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    #[error("no such connection in this organization")]
    NotFound,
    #[error("{0}")]
    Invalid(FieldErrors),
    #[error("database error: {0}")]
    Database(#[from] DbErr),
}

impl ConnectionError {
    pub fn code(&self) -> &'static str {
        match self {
            ConnectionError::NotFound => "connection_not_found",
            ConnectionError::Invalid(_) => "invalid_input",
            ConnectionError::Database(_) => "database_error",
        }
    }

    pub fn field(field: &str, code: &str, message: impl Into<String>) -> Self {
        ConnectionError::Invalid(FieldErrors(vec![FieldError::new(field, code, message)]))
    }
}

fn invalid_unless_empty(errors: FieldErrors) -> Result<(), ConnectionError> {
    errors.into_result().map_err(ConnectionError::Invalid)
}

pub async fn list(db: &DatabaseConnection, org_id: Uuid) -> Result<Vec<Model>, DbErr> {
    Entity::find()
        .filter(Column::OrgId.eq(org_id))
        .order_by_asc(Column::CreatedAt)
        .all(db)
        .await
}

pub async fn find(
    db: &DatabaseConnection,
    org_id: Uuid,
    id: &str,
) -> Result<Model, ConnectionError> {
    let id = Uuid::parse_str(id).map_err(|_| ConnectionError::NotFound)?;
    Entity::find_by_id(id)
        .filter(Column::OrgId.eq(org_id))
        .one(db)
        .await?
        .ok_or(ConnectionError::NotFound)
}

/// A connection by id alone, for the public protocol endpoints.
pub async fn find_any(db: &DatabaseConnection, id: &str) -> Result<Option<Model>, DbErr> {
    match Uuid::parse_str(id) {
        Ok(id) => Entity::find_by_id(id).one(db).await,
        Err(_) => Ok(None),
    }
}

/// A connection of `protocol` by id alone and the organization it belongs to,
/// in one query: what the ACS and the OIDC callback start from.
pub async fn find_with_org(
    db: &DatabaseConnection,
    id: &str,
    protocol: Protocol,
) -> Result<Option<(Model, organization::Model)>, DbErr> {
    let Ok(id) = Uuid::parse_str(id) else {
        return Ok(None);
    };
    let found = Entity::find_by_id(id)
        .filter(Column::Protocol.eq(protocol.key()))
        .find_also_related(organization::Entity)
        .one(db)
        .await?;
    Ok(found.and_then(|(connection, org)| Some((connection, org?))))
}

pub async fn create(
    db: &DatabaseConnection,
    org_id: Uuid,
    actor: Actor,
    new: NewConnection,
) -> Result<Model, ConnectionError> {
    invalid_unless_empty(validate_new_connection(&new))?;
    let mapping = match new.protocol {
        Protocol::Saml => new.provider.default_mapping(),
        Protocol::Oidc => shared::AttributeMapping::oidc_standard(),
    };
    let now = Utc::now();
    let model = ActiveModel {
        id: Set(crate::db::new_row_id()),
        org_id: Set(org_id),
        protocol: Set(new.protocol.key().to_string()),
        provider: Set(new.provider.key().to_string()),
        display_name: Set(display_name_or_default(&new.display_name, new.provider)),
        active: Set(true),
        saml_sso_url: Set(String::new()),
        saml_entity_id: Set(String::new()),
        saml_certificates: Set(String::new()),
        saml_idp_slo_url: Set(String::new()),
        allow_idp_initiated: Set(false),
        saml_sign_requests: Set(false),
        saml_require_encryption: Set(false),
        mapping_email: Set(mapping.email),
        mapping_first_name: Set(mapping.first_name),
        mapping_last_name: Set(mapping.last_name),
        mapping_full_name: Set(mapping.full_name),
        oidc_issuer_url: Set(String::new()),
        oidc_client_id: Set(String::new()),
        oidc_client_secret: Set(None),
        oidc_discovery: Set(None),
        tested_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    };
    let detail = json!({ "protocol": new.protocol.key(), "provider": new.provider.key() });
    write(
        db,
        org_id,
        actor,
        AuditAction::ConnectionCreated,
        detail,
        // Connections start active: host apps learn of them as activated.
        |txn| {
            Box::pin(async move {
                let created = model.insert(txn).await?;
                let data = events::connection_data(&created);
                events::emit(txn, org_id, EventType::ConnectionActivated, data).await?;
                Ok(created)
            })
        },
    )
    .await
}

/// `url_policy`: whether the server accepts a plain http:// IdP SSO URL.
pub async fn save_saml(
    db: &DatabaseConnection,
    org_id: Uuid,
    id: &str,
    actor: Actor,
    form: SamlForm,
    url_policy: IdpUrlPolicy,
) -> Result<Model, ConnectionError> {
    let existing = find(db, org_id, id).await?;
    if existing.protocol != Protocol::Saml.key() {
        return Err(ConnectionError::NotFound);
    }
    invalid_unless_empty(validate_saml_form(&form, url_policy))?;
    // The browser checked the PEM's shape; only the server can parse the DER.
    let certificates = if form.certificates_pem.trim().is_empty() {
        String::new()
    } else {
        let parsed = parse_pem_bundle(&form.certificates_pem)
            .map_err(|e| ConnectionError::field(field::CERTIFICATES, e.code(), e.to_string()))?;
        parsed
            .iter()
            .map(|c| c.pem.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    };
    let provider = form
        .provider
        .unwrap_or_else(|| super::view::provider(&existing));
    let mut model: ActiveModel = existing.into();
    model.provider = Set(provider.key().to_string());
    model.display_name = Set(display_name_or_default(&form.display_name, provider));
    model.saml_sso_url = Set(form.sso_url.trim().to_string());
    model.saml_idp_slo_url = Set(form.slo_url.trim().to_string());
    model.saml_entity_id = Set(form.entity_id.trim().to_string());
    model.saml_certificates = Set(certificates);
    // Attribute names are case-sensitive and kept exactly as typed.
    model.mapping_email = Set(form.mapping.email);
    model.mapping_first_name = Set(form.mapping.first_name);
    model.mapping_last_name = Set(form.mapping.last_name);
    model.mapping_full_name = Set(form.mapping.full_name);
    model.allow_idp_initiated = Set(form.allow_idp_initiated);
    model.saml_sign_requests = Set(form.sign_requests);
    model.saml_require_encryption = Set(form.require_encryption);
    model.updated_at = Set(Utc::now());
    let detail = json!({
        "protocol": "saml",
        "fields": ["sso_url", "slo_url", "entity_id", "certificates", "mapping", "allow_idp_initiated", "sign_requests", "require_encryption"],
        "allow_idp_initiated": form.allow_idp_initiated,
        "sign_requests": form.sign_requests,
        "require_encryption": form.require_encryption,
    });
    write(
        db,
        org_id,
        actor,
        AuditAction::ConnectionUpdated,
        detail,
        |txn| Box::pin(async move { model.update(txn).await }),
    )
    .await
}

/// Saves an OIDC connection whose discovery already succeeded. A blank secret
/// keeps the stored one; a new one is stored encrypted.
pub async fn save_oidc(
    db: &DatabaseConnection,
    secrets: &SecretKey,
    org_id: Uuid,
    existing: Model,
    actor: Actor,
    form: OidcForm,
    discovered: DiscoveredEndpoints,
) -> Result<Model, ConnectionError> {
    let provider = form
        .provider
        .unwrap_or_else(|| super::view::provider(&existing));
    let secret_changed = !form.client_secret.is_empty();
    let id = existing.id;
    let mut model: ActiveModel = existing.into();
    model.provider = Set(provider.key().to_string());
    model.display_name = Set(display_name_or_default(&form.display_name, provider));
    model.oidc_issuer_url = Set(form.issuer_url.trim().to_string());
    model.oidc_client_id = Set(form.client_id.trim().to_string());
    if secret_changed {
        model.oidc_client_secret = Set(Some(
            secrets.encrypt(SecretSlot::ClientSecret(id), &form.client_secret),
        ));
    }
    model.oidc_discovery = Set(Some(serde_json::to_string(&discovered).unwrap_or_default()));
    model.updated_at = Set(Utc::now());
    // The audit row says the secret changed, never what it is.
    let detail = json!({ "protocol": "oidc", "client_secret_changed": secret_changed });
    write(
        db,
        org_id,
        actor,
        AuditAction::ConnectionUpdated,
        detail,
        |txn| Box::pin(async move { model.update(txn).await }),
    )
    .await
}

/// Validates an OIDC form against the stored connection before discovery runs.
pub fn check_oidc_form(
    existing: &Model,
    form: &OidcForm,
    url_policy: IdpUrlPolicy,
) -> Result<(), ConnectionError> {
    if existing.protocol != Protocol::Oidc.key() {
        return Err(ConnectionError::NotFound);
    }
    invalid_unless_empty(validate_oidc_form(
        form,
        existing.oidc_client_secret.is_some(),
        url_policy,
    ))
}

pub async fn set_active(
    db: &DatabaseConnection,
    org_id: Uuid,
    id: &str,
    actor: Actor,
    active: bool,
) -> Result<Model, ConnectionError> {
    let existing = find(db, org_id, id).await?;
    let mut model: ActiveModel = existing.into();
    model.active = Set(active);
    model.updated_at = Set(Utc::now());
    let action = if active {
        AuditAction::ConnectionActivated
    } else {
        AuditAction::ConnectionDeactivated
    };
    let event = if active {
        EventType::ConnectionActivated
    } else {
        EventType::ConnectionDeactivated
    };
    write(db, org_id, actor, action, json!({}), |txn| {
        Box::pin(async move {
            let model = model.update(txn).await?;
            events::emit(txn, org_id, event, events::connection_data(&model)).await?;
            Ok(model)
        })
    })
    .await
}

pub async fn delete(
    db: &DatabaseConnection,
    org_id: Uuid,
    id: &str,
    actor: Actor,
) -> Result<(), ConnectionError> {
    let existing = find(db, org_id, id).await?;
    let detail = json!({ "display_name": existing.display_name, "protocol": existing.protocol });
    let (txn, _turn) = crate::db::begin_write(db).await?;
    sso_connection::Entity::delete_by_id(existing.id)
        .exec(&txn)
        .await?;
    if existing.active {
        let data = events::connection_data(&existing);
        events::emit(&txn, org_id, EventType::ConnectionDeactivated, data).await?;
    }
    record(
        &txn,
        org_id,
        actor,
        AuditAction::ConnectionDeleted,
        existing.id,
        detail,
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

pub async fn organization(
    db: &DatabaseConnection,
    org_id: Uuid,
) -> Result<Option<organization::Model>, DbErr> {
    organization::Entity::find_by_id(org_id).one(db).await
}

/// Sets "Require SSO" with its audit row, in one transaction; turning it on
/// ends members' password sessions in the same transaction.
pub async fn set_require_sso(
    db: &DatabaseConnection,
    org_id: Uuid,
    actor: Actor,
    on: bool,
) -> Result<(), DbErr> {
    let (txn, _turn) = crate::db::begin_write(db).await?;
    organization::ActiveModel {
        id: Set(org_id),
        require_sso: Set(on),
        ..Default::default()
    }
    .update(&txn)
    .await?;
    let mut detail = json!({ "require_sso": on });
    if on {
        // Members signed in with a password before the switch are signed out
        // now, not when their session expires.
        let ended = crate::sessions::close_member_password_sessions(&txn, org_id).await?;
        detail["member_password_sessions_ended"] = json!(ended);
    }
    audit::record(
        &txn,
        AuditEntry {
            org_id: Some(org_id),
            actor,
            action: if on {
                AuditAction::RequireSsoEnabled
            } else {
                AuditAction::RequireSsoDisabled
            },
            success: true,
            detail,
            client_ip: None,
        },
    )
    .await?;
    txn.commit().await
}

type WriteFuture<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<Model, DbErr>> + Send + 'a>>;

/// Runs one write and its audit row in a transaction.
async fn write<F>(
    db: &DatabaseConnection,
    org_id: Uuid,
    actor: Actor,
    action: AuditAction,
    detail: Value,
    change: F,
) -> Result<Model, ConnectionError>
where
    F: for<'a> FnOnce(&'a sea_orm::DatabaseTransaction) -> WriteFuture<'a>,
{
    let (txn, _turn) = crate::db::begin_write(db).await?;
    let model = change(&txn).await?;
    record(&txn, org_id, actor, action, model.id, detail).await?;
    txn.commit().await?;
    Ok(model)
}

/// Audits a change to a connection made outside its row (its SAML keys).
pub(super) async fn record_update(
    txn: &sea_orm::DatabaseTransaction,
    org_id: Uuid,
    actor: Actor,
    connection_id: Uuid,
    detail: Value,
) -> Result<(), DbErr> {
    record(
        txn,
        org_id,
        actor,
        AuditAction::ConnectionUpdated,
        connection_id,
        detail,
    )
    .await
}

async fn record(
    txn: &sea_orm::DatabaseTransaction,
    org_id: Uuid,
    actor: Actor,
    action: AuditAction,
    connection_id: Uuid,
    mut detail: Value,
) -> Result<(), DbErr> {
    detail["connection_id"] = json!(connection_id.to_string());
    audit::record(
        txn,
        AuditEntry {
            org_id: Some(org_id),
            actor,
            action,
            success: true,
            detail,
            client_ip: None,
        },
    )
    .await
}
