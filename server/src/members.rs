//! Settings > Members: the organization's accounts as an Integrations Admin
//! reads and changes them by hand. What may change is decided by
//! `shared::members::check_action` (the page uses the same rule to choose its
//! buttons); this module reads, applies and audits.

use crate::accounts;
use crate::audit::{self, Actor, AuditAction, AuditEntry};
use crate::db::{like, LikeAt};
use crate::entities::{
    audit_event, membership, scim_connection, scim_group, scim_group_member, session, user,
};
use crate::events::{self, EventType};
use crate::provider::directory::{roles_and_groups, GroupRef};
use crate::sessions;
use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbErr,
    EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Select, Set,
};
use serde_json::json;
use shared::members::{
    allowed_actions, check_action, normalize_search, sign_in_method_label, ActionContext,
    GroupSummary, LastSignIn, MemberAction, MemberDetail, MemberQuery, MemberRefusal, MemberRow,
    MemberSource, MembersPage, MAX_GROUPS_LISTED, MEMBERS_PAGE_SIZE, RECENT_EVENTS,
};
use shared::Role;
use std::collections::HashMap;
use std::net::IpAddr;
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum MemberError {
    #[error("That member no longer exists; SCIM provisioning may have deleted them.")]
    NotFound,
    #[error("{}", .0.message())]
    Refused(MemberRefusal),
    #[error("{0}")]
    InvalidQuery(String),
    #[error(transparent)]
    Database(#[from] DbErr),
}

impl MemberError {
    pub fn code(&self) -> &'static str {
        match self {
            MemberError::NotFound => "member_not_found",
            MemberError::Refused(refusal) => refusal.code(),
            MemberError::InvalidQuery(_) => "invalid_query",
            MemberError::Database(_) => "server_error",
        }
    }
}

/// The Integrations Admin acting, in their organization.
#[derive(Debug, Clone)]
pub struct Acting {
    pub org_id: Uuid,
    pub admin_id: Uuid,
    pub admin_email: String,
    pub client_ip: Option<IpAddr>,
}

impl Acting {
    fn audit(&self, action: AuditAction, success: bool, detail: serde_json::Value) -> AuditEntry {
        AuditEntry {
            org_id: Some(self.org_id),
            actor: Actor::User {
                id: self.admin_id,
                email: self.admin_email.clone(),
            },
            action,
            success,
            detail,
            client_ip: self.client_ip,
        }
    }
}

/// One page of the members list, searched and filtered on the server so that
/// an organization of 100,000 stays fast: one indexed, ordered page query and
/// a count, then roles and groups for that page only.
pub async fn page(
    db: &DatabaseConnection,
    acting: &Acting,
    query: &MemberQuery,
) -> Result<MembersPage, MemberError> {
    let org_id = acting.org_id;
    let search = normalize_search(&query.search).map_err(MemberError::InvalidQuery)?;
    let group = match query.group.as_deref().filter(|g| !g.is_empty()) {
        Some(id) => Some(group_summary(db, org_id, id).await?),
        None => None,
    };
    let select = members_matching(org_id, &search, group.as_ref());
    let total = select.clone().count(db).await?;
    let mut users = select
        .order_by_asc(user::Column::EmailNormalized)
        .offset(query.page * MEMBERS_PAGE_SIZE)
        .limit(MEMBERS_PAGE_SIZE + 1)
        .all(db)
        .await?;
    let has_next = users.len() as u64 > MEMBERS_PAGE_SIZE;
    users.truncate(MEMBERS_PAGE_SIZE as usize);
    let viewer = Viewer::of(db, acting).await?;
    Ok(MembersPage {
        rows: rows(db, users, &viewer).await?,
        page: query.page,
        total,
        has_next,
        groups: groups(db, org_id).await?,
        group,
        scim_enabled: viewer.scim_enabled,
    })
}

fn members_matching(
    org_id: Uuid,
    search: &str,
    group: Option<&GroupSummary>,
) -> Select<user::Entity> {
    let mut select = user::Entity::find().filter(user::Column::OrgId.eq(org_id));
    if !search.is_empty() {
        // NUL cannot be stored (PostgreSQL text refuses it), so nothing holds it.
        let search = search.replace('\0', "");
        let full_name = Expr::cust("LOWER(first_name || ' ' || last_name)");
        select = select.filter(
            Condition::any()
                .add(user::Column::EmailNormalized.like(like(&search, LikeAt::Anywhere)))
                .add(full_name.like(like(&search, LikeAt::Anywhere))),
        );
    }
    if let Some(group) = group.and_then(|g| Uuid::parse_str(&g.id).ok()) {
        select = select.filter(
            user::Column::Id.in_subquery(
                sea_orm::sea_query::Query::select()
                    .column(scim_group_member::Column::UserId)
                    .from(scim_group_member::Entity)
                    .and_where(Expr::col(scim_group_member::Column::GroupId).eq(group))
                    .to_owned(),
            ),
        );
    }
    select
}

async fn scim_enabled(db: &impl ConnectionTrait, org_id: Uuid) -> Result<bool, DbErr> {
    Ok(scim_connection::Entity::find()
        .filter(scim_connection::Column::OrgId.eq(org_id))
        .filter(scim_connection::Column::Status.eq("enabled"))
        .count(db)
        .await?
        > 0)
}

/// The organization's SCIM groups by name, each with its size.
async fn groups(db: &DatabaseConnection, org_id: Uuid) -> Result<Vec<GroupSummary>, DbErr> {
    let groups = scim_group::Entity::find()
        .filter(scim_group::Column::OrgId.eq(org_id))
        .order_by_asc(scim_group::Column::DisplayName)
        .limit(MAX_GROUPS_LISTED)
        .all(db)
        .await?;
    if groups.is_empty() {
        return Ok(Vec::new());
    }
    let sizes: HashMap<Uuid, i64> = scim_group_member::Entity::find()
        .select_only()
        .column(scim_group_member::Column::GroupId)
        .column_as(scim_group_member::Column::UserId.count(), "size")
        .filter(scim_group_member::Column::GroupId.is_in(groups.iter().map(|g| g.id)))
        .group_by(scim_group_member::Column::GroupId)
        .into_tuple::<(Uuid, i64)>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    Ok(groups
        .into_iter()
        .map(|g| GroupSummary {
            member_count: u64::try_from(sizes.get(&g.id).copied().unwrap_or(0)).unwrap_or(0),
            id: g.id.to_string(),
            name: g.display_name,
        })
        .collect())
}

async fn group_summary(
    db: &DatabaseConnection,
    org_id: Uuid,
    id: &str,
) -> Result<GroupSummary, MemberError> {
    let unknown = || MemberError::InvalidQuery("That group no longer exists.".into());
    let id = Uuid::parse_str(id).map_err(|_| unknown())?;
    let group = scim_group::Entity::find_by_id(id)
        .filter(scim_group::Column::OrgId.eq(org_id))
        .one(db)
        .await?
        .ok_or_else(unknown)?;
    let member_count = scim_group_member::Entity::find()
        .filter(scim_group_member::Column::GroupId.eq(id))
        .count(db)
        .await?;
    Ok(GroupSummary {
        id: group.id.to_string(),
        name: group.display_name,
        member_count,
    })
}

/// What a row's allowed actions depend on besides the member.
struct Viewer {
    admin_id: Uuid,
    active_admins: u64,
    scim_enabled: bool,
}

impl Viewer {
    async fn of(db: &impl ConnectionTrait, acting: &Acting) -> Result<Self, DbErr> {
        Ok(Viewer {
            admin_id: acting.admin_id,
            active_admins: accounts::active_admin_count(db, acting.org_id).await?,
            scim_enabled: scim_enabled(db, acting.org_id).await?,
        })
    }

    fn context(&self, user: &user::Model, role: Role) -> ActionContext {
        ActionContext {
            active: user.active,
            role,
            managed_by_scim: self.scim_enabled && source_of(user) == MemberSource::Scim,
            is_self: user.id == self.admin_id,
            active_admins: self.active_admins,
        }
    }
}

fn source_of(user: &user::Model) -> MemberSource {
    MemberSource::parse(&user.source).unwrap_or(MemberSource::Manual)
}

/// The page's rows, with roles and groups read for these users only.
async fn rows(
    db: &impl ConnectionTrait,
    users: Vec<user::Model>,
    viewer: &Viewer,
) -> Result<Vec<MemberRow>, DbErr> {
    let ids: Vec<Uuid> = users.iter().map(|u| u.id).collect();
    let (roles, mut groups) = roles_and_groups(db, &ids).await?;
    Ok(users
        .into_iter()
        .map(|u| {
            let role = role_named(roles.get(&u.id).map(String::as_str));
            let member_of = groups.remove(&u.id).unwrap_or_default();
            to_row(u, role, member_of, viewer)
        })
        .collect())
}

fn role_named(stored: Option<&str>) -> Role {
    stored.and_then(|r| r.parse().ok()).unwrap_or(Role::Member)
}

fn to_row(u: user::Model, role: Role, groups: Vec<GroupRef>, viewer: &Viewer) -> MemberRow {
    let ctx = viewer.context(&u, role);
    let name = format!("{} {}", u.first_name, u.last_name)
        .trim()
        .to_string();
    MemberRow {
        id: u.id.to_string(),
        name,
        role,
        active: u.active,
        source: source_of(&u),
        last_sign_in: u.last_sign_in_at.map(|at| LastSignIn {
            at: at.timestamp(),
            method: sign_in_method_label(u.last_sign_in_method.as_deref().unwrap_or_default())
                .to_string(),
        }),
        groups: groups.into_iter().map(|g| g.name).collect(),
        managed_by_scim: ctx.managed_by_scim,
        allowed: allowed_actions(ctx),
        email: u.email,
    }
}

/// A member with what the acting admin may do to them and their recent audit events.
pub async fn detail(
    db: &DatabaseConnection,
    acting: &Acting,
    member_id: Uuid,
) -> Result<MemberDetail, MemberError> {
    let found = find_member(db, acting.org_id, member_id).await?;
    let created_at = found.created_at.timestamp();
    let email = found.email_normalized.clone();
    let viewer = Viewer::of(db, acting).await?;
    let member = rows(db, vec![found], &viewer)
        .await?
        .pop()
        .ok_or(MemberError::NotFound)?;
    let live_sessions = session::Entity::find()
        .filter(session::Column::UserId.eq(member_id))
        .filter(session::Column::ExpiresAt.gt(Utc::now()))
        .count(db)
        .await?;
    Ok(MemberDetail {
        live_sessions,
        created_at,
        recent_events: recent_events(db, acting.org_id, member_id, &email).await?,
        member,
    })
}

async fn find_member(
    db: &impl ConnectionTrait,
    org_id: Uuid,
    member_id: Uuid,
) -> Result<user::Model, MemberError> {
    user::Entity::find_by_id(member_id)
        .filter(user::Column::OrgId.eq(org_id))
        .one(db)
        .await?
        .ok_or(MemberError::NotFound)
}

/// Events the member did, and events about them (their id or email in the detail).
async fn recent_events(
    db: &DatabaseConnection,
    org_id: Uuid,
    member_id: Uuid,
    email: &str,
) -> Result<Vec<shared::audit::AuditRow>, DbErr> {
    let events = audit_event::Entity::find()
        .filter(audit_event::Column::OrgId.eq(org_id))
        .filter(
            Condition::any()
                .add(audit_event::Column::ActorUserId.eq(member_id))
                .add(audit_event::Column::Actor.eq(email))
                .add(
                    audit_event::Column::Detail
                        .like(like(&member_id.to_string(), LikeAt::Anywhere)),
                )
                .add(
                    audit_event::Column::Detail
                        .like(like(&format!("\"{email}\""), LikeAt::Anywhere)),
                ),
        )
        .order_by_desc(audit_event::Column::CreatedAt)
        .limit(RECENT_EVENTS)
        .all(db)
        .await?;
    Ok(events.into_iter().map(audit::to_row).collect())
}

/// Applies `action` to a member by hand, in one transaction with its audit
/// row and host-app event. A refusal is audited too, and changes nothing else.
pub async fn apply(
    db: &DatabaseConnection,
    acting: &Acting,
    member_id: Uuid,
    action: MemberAction,
) -> Result<MemberDetail, MemberError> {
    let (txn, _turn) = crate::db::begin_write(db).await?;
    accounts::lock_organization(&txn, acting.org_id).await?;
    let found = find_member(&txn, acting.org_id, member_id).await?;
    let membership = membership_of(&txn, member_id).await?;
    let role = role_named(membership.as_ref().map(|m| m.role.as_str()));
    let ctx = Viewer::of(&txn, acting).await?.context(&found, role);
    if let Err(refusal) = check_action(action, ctx) {
        let detail = json!({
            "user_id": found.id, "email": found.email,
            "attempted": action.label(), "reason": refusal.code(),
        });
        audit::record(
            &txn,
            acting.audit(AuditAction::MemberChangeRefused, false, detail),
        )
        .await?;
        txn.commit().await?;
        return Err(MemberError::Refused(refusal));
    }
    change(&txn, acting, found, membership, action).await?;
    txn.commit().await?;
    detail(db, acting, member_id).await
}

async fn membership_of(
    db: &impl ConnectionTrait,
    user_id: Uuid,
) -> Result<Option<membership::Model>, DbErr> {
    membership::Entity::find()
        .filter(membership::Column::UserId.eq(user_id))
        .one(db)
        .await
}

async fn change(
    txn: &impl ConnectionTrait,
    acting: &Acting,
    found: user::Model,
    membership: Option<membership::Model>,
    action: MemberAction,
) -> Result<(), MemberError> {
    let base = json!({ "user_id": found.id, "email": found.email });
    let (audit_action, detail, event) = match action {
        MemberAction::Deactivate | MemberAction::Reactivate => {
            let active = action == MemberAction::Reactivate;
            let mut model: user::ActiveModel = found.into();
            model.active = Set(active);
            model.updated_at = Set(Utc::now());
            let updated = model.update(txn).await?;
            let ended = if active {
                0
            } else {
                sessions::close_all_for_user(txn, updated.id).await?
            };
            let (audit_action, event) = if active {
                (AuditAction::MemberReactivated, EventType::UserReactivated)
            } else {
                (AuditAction::MemberDeactivated, EventType::UserDeactivated)
            };
            let mut detail = base;
            if !active {
                detail["sessions_ended"] = json!(ended);
            }
            (
                audit_action,
                detail,
                Some((event, events::user_data(&updated))),
            )
        }
        MemberAction::EndSessions => {
            let ended = sessions::close_all_for_user(txn, found.id).await?;
            let mut detail = base;
            detail["sessions_ended"] = json!(ended);
            (AuditAction::MemberSessionsEnded, detail, None)
        }
        MemberAction::MakeAdmin | MemberAction::RemoveAdmin => {
            let to = if action == MemberAction::MakeAdmin {
                Role::IntegrationsAdmin
            } else {
                Role::Member
            };
            let from = role_named(membership.as_ref().map(|m| m.role.as_str()));
            let mut model: membership::ActiveModel =
                membership.ok_or(MemberError::NotFound)?.into();
            model.role = Set(to.as_str().to_string());
            model.update(txn).await?;
            let mut detail = base;
            detail["from"] = json!(from.as_str());
            detail["to"] = json!(to.as_str());
            let data = events::user_data(&found);
            (
                AuditAction::MemberRoleChanged,
                detail,
                Some((EventType::UserUpdated, data)),
            )
        }
    };
    audit::record(txn, acting.audit(audit_action, true, detail)).await?;
    if let Some((event, data)) = event {
        events::emit(txn, acting.org_id, event, data).await?;
    }
    Ok(())
}
