//! The audit log: one row for every sign-in, failed sign-in and admin change.

use crate::entities::audit_event;
use chrono::Utc;
use sea_orm::{ConnectionTrait, DbErr, EntityTrait, Set};
use serde_json::Value;
use std::net::IpAddr;
use uuid::Uuid;

/// What happened. The stored names are stable: filters and reports rely on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditAction {
    SignIn,
    SignInFailed,
    SignOut,
    OrganizationCreated,
    UserCreated,
    ConnectionCreated,
    ConnectionUpdated,
    ConnectionActivated,
    ConnectionDeactivated,
    ConnectionDeleted,
    RequireSsoEnabled,
    RequireSsoDisabled,
    DomainAdded,
    DomainRemoved,
    /// Verify looked up a claim's TXT record (success: the domain now routes).
    DomainVerification,
    ScimEnabled,
    ScimTokenIssued,
    ScimTokenRotated,
    ScimRotationCompleted,
    ScimRotationCancelled,
    ScimDisabled,
    ScimUserCreated,
    ScimUserDeactivated,
    ScimUserReactivated,
    ScimUserDeleted,
    /// SCIM asked for something Latchkey does not let it do (e.g. deactivate
    /// the last Integrations Admin); stored with outcome `failure`.
    ScimChangeRefused,
    /// An Integrations Admin linked their identity at an IdP to their account.
    SsoIdentityLinked,
    SetupLinkCreated,
    SetupLinkUsed,
    SetupLinkRevoked,
    /// Settings > Members: an Integrations Admin's changes by hand.
    MemberDeactivated,
    MemberReactivated,
    MemberSessionsEnded,
    MemberRoleChanged,
    /// A change by hand that the rules refuse (e.g. the last admin); outcome `failure`.
    MemberChangeRefused,
}

impl AuditAction {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::SignIn => "sign_in",
            AuditAction::SignInFailed => "sign_in_failed",
            AuditAction::SignOut => "sign_out",
            AuditAction::OrganizationCreated => "organization_created",
            AuditAction::UserCreated => "user_created",
            AuditAction::ConnectionCreated => "connection_created",
            AuditAction::ConnectionUpdated => "connection_updated",
            AuditAction::ConnectionActivated => "connection_activated",
            AuditAction::ConnectionDeactivated => "connection_deactivated",
            AuditAction::ConnectionDeleted => "connection_deleted",
            AuditAction::RequireSsoEnabled => "require_sso_enabled",
            AuditAction::RequireSsoDisabled => "require_sso_disabled",
            AuditAction::DomainAdded => "domain_added",
            AuditAction::DomainRemoved => "domain_removed",
            AuditAction::DomainVerification => "domain_verification",
            AuditAction::ScimEnabled => "scim_enabled",
            AuditAction::ScimTokenIssued => "scim_token_issued",
            AuditAction::ScimTokenRotated => "scim_token_rotated",
            AuditAction::ScimRotationCompleted => "scim_rotation_completed",
            AuditAction::ScimRotationCancelled => "scim_rotation_cancelled",
            AuditAction::ScimDisabled => "scim_disabled",
            AuditAction::ScimUserCreated => "scim_user_created",
            AuditAction::ScimUserDeactivated => "scim_user_deactivated",
            AuditAction::ScimUserReactivated => "scim_user_reactivated",
            AuditAction::ScimUserDeleted => "scim_user_deleted",
            AuditAction::ScimChangeRefused => "scim_change_refused",
            AuditAction::SsoIdentityLinked => "sso_identity_linked",
            AuditAction::SetupLinkCreated => "setup_link_created",
            AuditAction::SetupLinkUsed => "setup_link_used",
            AuditAction::SetupLinkRevoked => "setup_link_revoked",
            AuditAction::MemberDeactivated => "member_deactivated",
            AuditAction::MemberReactivated => "member_reactivated",
            AuditAction::MemberSessionsEnded => "member_sessions_ended",
            AuditAction::MemberRoleChanged => "member_role_changed",
            AuditAction::MemberChangeRefused => "member_change_refused",
        }
    }
}

/// Who did it.
#[derive(Debug, Clone)]
pub enum Actor {
    User {
        id: Uuid,
        email: String,
    },
    /// Someone who is not (yet) a known user, e.g. a failed sign-in by email.
    Anonymous {
        claimed_email: String,
    },
    /// The operator, through the `latchkey` command.
    Cli,
    /// An identity provider, through a SCIM connection.
    Scim {
        connection_id: Uuid,
    },
    /// A host app, through the management API.
    HostApp {
        client_id: String,
    },
}

impl Actor {
    fn parts(&self) -> (Option<Uuid>, String) {
        match self {
            Actor::User { id, email } => (Some(*id), email.clone()),
            Actor::Anonymous { claimed_email } => (None, claimed_email.clone()),
            Actor::Cli => (None, "cli".into()),
            Actor::Scim { connection_id } => (None, format!("scim:{connection_id}")),
            Actor::HostApp { client_id } => (None, format!("app:{client_id}")),
        }
    }
}

pub struct AuditEntry {
    pub org_id: Option<Uuid>,
    pub actor: Actor,
    pub action: AuditAction,
    pub success: bool,
    /// Facts worth keeping; never a password, token or secret.
    pub detail: Value,
    pub client_ip: Option<IpAddr>,
}

pub async fn record(db: &impl ConnectionTrait, entry: AuditEntry) -> Result<(), DbErr> {
    audit_event::Entity::insert(row(entry))
        .exec_without_returning(db)
        .await
        .map(|_| ())
}

/// Adds the entry's row to a script.
pub fn push(script: &mut crate::db::Script, entry: AuditEntry) {
    script.push(&audit_event::Entity::insert(row(entry)));
}

/// The row an entry is stored as.
pub fn row(entry: AuditEntry) -> audit_event::ActiveModel {
    let (actor_user_id, actor) = entry.actor.parts();
    audit_event::ActiveModel {
        id: Set(crate::db::new_row_id()),
        org_id: Set(entry.org_id),
        actor_user_id: Set(actor_user_id),
        actor: Set(truncate(&actor, 254)),
        action: Set(entry.action.as_str().to_string()),
        outcome: Set(if entry.success { "success" } else { "failure" }.to_string()),
        detail: Set(entry.detail.to_string()),
        client_ip: Set(entry.client_ip.map(|ip| ip.to_string())),
        created_at: Set(Utc::now()),
        request_id: crate::request_context::column(),
    }
}

/// Stores many rows in few statements (a group commit's audit entries).
pub async fn insert_rows(
    db: &impl ConnectionTrait,
    rows: Vec<audit_event::ActiveModel>,
) -> Result<(), DbErr> {
    // 10 columns a row: stay under both backends' bind-parameter limits.
    for chunk in rows.chunks(100) {
        audit_event::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

fn truncate(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}

/// One page of an organization's audit log, newest first.
pub async fn page(
    db: &impl ConnectionTrait,
    org_id: Uuid,
    query: &shared::audit::AuditQuery,
) -> Result<shared::audit::AuditPage, DbErr> {
    use sea_orm::sea_query::ExprTrait;
    use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
    use shared::audit::AUDIT_PAGE_SIZE;
    let mut select = audit_event::Entity::find()
        .filter(audit_event::Column::OrgId.eq(org_id))
        .order_by_desc(audit_event::Column::CreatedAt);
    if let Some(kind) = query.kind {
        let mut any = Condition::any();
        for pattern in kind.patterns() {
            any = any.add(audit_event::Column::Action.like(*pattern));
        }
        select = select.filter(any);
    }
    // No actor holds NUL (PostgreSQL text cannot), so it is dropped from the search.
    let user = query.user.replace('\0', "").trim().to_lowercase();
    if !user.is_empty() {
        select = select.filter(
            sea_orm::sea_query::Expr::expr(sea_orm::sea_query::Func::lower(
                sea_orm::sea_query::Expr::col(audit_event::Column::Actor),
            ))
            .like(crate::db::like(&user, crate::db::LikeAt::Anywhere)),
        );
    }
    let mut rows = select
        .offset(query.page * AUDIT_PAGE_SIZE)
        .limit(AUDIT_PAGE_SIZE + 1)
        .all(db)
        .await?;
    let has_next = rows.len() as u64 > AUDIT_PAGE_SIZE;
    rows.truncate(AUDIT_PAGE_SIZE as usize);
    Ok(shared::audit::AuditPage {
        rows: rows.into_iter().map(to_row).collect(),
        page: query.page,
        has_next,
    })
}

pub fn to_row(event: audit_event::Model) -> shared::audit::AuditRow {
    let details = serde_json::from_str::<Value>(&event.detail)
        .ok()
        .and_then(|v| v.as_object().cloned())
        .map(|fields| {
            fields
                .into_iter()
                .map(|(k, v)| {
                    let text = match v {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    (k, text)
                })
                .collect()
        })
        .unwrap_or_default();
    shared::audit::AuditRow {
        at: event.created_at.timestamp(),
        actor: event.actor,
        action: event.action,
        success: event.outcome == "success",
        details,
        client_ip: event.client_ip,
        request_id: event.request_id,
    }
}
