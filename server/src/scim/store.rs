//! SCIM storage: users (accounts) and groups of one organization, with filters
//! answered by indexes where they can be and by evaluation where they cannot.

use super::errors::ScimError;
use super::eval;
use super::filter::{AttrPath, CompareOp, Filter, Value as FilterValue};
use super::groups::{self, GroupDraft};
use super::resource::{GROUP_SCHEMA, USER_SCHEMA};
use super::users::{self, UserDraft};
use crate::audit::{Actor, AuditAction, AuditEntry};
use crate::db::is_unique_violation;
use crate::db::{LikeAt, Script};
use crate::entities::{membership, scim_group, scim_group_member, user};
use crate::events::{self, EventType};
use crate::group_commit::{Change, GroupCommit, Outcome, Undo};
use crate::sessions;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Func, LockType, Query, QueryStatementBuilder};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbErr,
    EntityTrait, FromQueryResult, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde_json::{json, Map, Value};
use shared::members::MemberSource;
use shared::validate::normalize_email;
use shared::Role;
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

/// Logs the cause of a storage failure and answers with a reference only.
pub fn internal(error: impl std::fmt::Display) -> ScimError {
    let reference = Uuid::new_v4().simple().to_string()[..8].to_uppercase();
    tracing::error!(%reference, %error, "SCIM storage error");
    ScimError::Internal(format!(
        "The server could not complete the request (reference {reference})."
    ))
}

impl From<DbErr> for ScimError {
    fn from(e: DbErr) -> Self {
        internal(e)
    }
}

/// Who is calling: one organization's SCIM connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    pub connection_id: Uuid,
    pub org_id: Uuid,
}

impl Caller {
    fn actor(&self) -> Actor {
        Actor::Scim {
            connection_id: self.connection_id,
        }
    }
}

pub struct Page<T> {
    pub total: u64,
    pub items: Vec<T>,
}

pub struct Store<'a> {
    pub db: &'a DatabaseConnection,
    pub base: &'a str,
    /// Every SCIM write goes through the group commit (see [`GroupCommit`]).
    pub writes: &'a GroupCommit,
}

fn not_found(kind: &str, id: &str) -> ScimError {
    ScimError::NotFound(format!(
        "No {kind} with id \"{}\".",
        id.chars().take(64).collect::<String>()
    ))
}

fn parse_id(kind: &str, id: &str) -> Result<Uuid, ScimError> {
    Uuid::parse_str(id).map_err(|_| not_found(kind, id))
}

fn user_exists(user_name: &str) -> ScimError {
    ScimError::Uniqueness(format!(
        "A user with userName \"{}\" already exists in this organization.",
        user_name.chars().take(254).collect::<String>()
    ))
}

fn user_entry(caller: &Caller, action: AuditAction, user: &user::Model) -> AuditEntry {
    AuditEntry {
        org_id: Some(caller.org_id),
        actor: caller.actor(),
        action,
        success: true,
        detail: json!({ "user_id": user.id, "email": user.email }),
        client_ip: None,
    }
}

/// What SCIM asked for and was not allowed to do, as the audit row names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    /// A password sent for an Integrations Admin: ignored, the rest applied.
    SetPassword,
    /// `active: false` for the last active Integrations Admin.
    Deactivate,
    /// DELETE of the last active Integrations Admin.
    Delete,
}

impl Refusal {
    fn attempted(self) -> &'static str {
        match self {
            Refusal::SetPassword => "set_password",
            Refusal::Deactivate => "deactivate",
            Refusal::Delete => "delete",
        }
    }

    fn reason(self) -> &'static str {
        match self {
            Refusal::SetPassword => {
                "SCIM never sets or changes passwords; the password was ignored."
            }
            Refusal::Deactivate | Refusal::Delete => {
                "This is the organization's last active Integrations Admin."
            }
        }
    }
}

/// The SCIM error for a request that would remove the last active Integrations
/// Admin, with a detail the IdP's provisioning log shows to whoever can fix it.
///
/// PUT and PATCH get 400 `mutability`: RFC 7644 §3.12 defines it as "the
/// attempted modification is not compatible with the target attribute's
/// mutability or current state", and `active` cannot become false in this
/// state. A DELETE modifies no attribute, so no `scimType` fits; it gets 409
/// Conflict, "a conflict with the current state of the target resource"
/// (RFC 9110 §15.5.10). Either way the IdP's provisioning log shows the detail.
fn last_admin_error(refusal: Refusal, admin: &user::Model) -> ScimError {
    let detail = format!(
        "{} is the organization's last active Integrations Admin, whose password \
         sign-in is the way back in when single sign-on fails; Latchkey does not let \
         SCIM deactivate or delete that account. Add another Integrations Admin in \
         Latchkey first.",
        admin.email
    );
    match refusal {
        Refusal::Delete => ScimError::Conflict(detail),
        _ => ScimError::Mutability(detail),
    }
}

/// The audit row an Integrations Admin sees for a refused SCIM request.
fn refusal_entry(caller: &Caller, refusal: Refusal, user: &user::Model) -> AuditEntry {
    AuditEntry {
        org_id: Some(caller.org_id),
        actor: caller.actor(),
        action: AuditAction::ScimChangeRefused,
        success: false,
        detail: json!({
            "user_id": user.id,
            "email": user.email,
            "attempted": refusal.attempted(),
            "reason": refusal.reason(),
        }),
        client_ip: None,
    }
}

/// Whether `admin` (an Integrations Admin) is the organization's only active
/// one, so deactivating or deleting them would leave nobody with break-glass
/// access. Call inside the write transaction (see `accounts::lock_organization`).
async fn is_last_active_admin(
    txn: &impl ConnectionTrait,
    org_id: Uuid,
    admin: &user::Model,
) -> Result<bool, DbErr> {
    if !admin.active {
        return Ok(false);
    }
    crate::accounts::lock_organization(txn, org_id).await?;
    Ok(crate::accounts::active_admin_count(txn, org_id).await? <= 1)
}

impl Store<'_> {
    // ------------------------------------------------------------------ users

    pub async fn user(&self, caller: &Caller, id: &str) -> Result<user::Model, ScimError> {
        let uuid = parse_id("User", id)?;
        user::Entity::find_by_id(uuid)
            .filter(user::Column::OrgId.eq(caller.org_id))
            .one(self.db)
            .await?
            .ok_or_else(|| not_found("User", id))
    }

    pub async fn create_user(
        &self,
        caller: &Caller,
        draft: UserDraft,
    ) -> Result<user::Model, ScimError> {
        let caller = *caller;
        let key = normalize_email(&draft.user_name);
        self.writes
            .write_with(key.as_bytes(), Undo::Script, move |change| {
                Box::pin(async move { insert_user(change, &caller, &draft).await.map(Ok) })
            })
            .await
    }

    /// Replaces a user's state (PUT, or a PATCH's result) with what `build` makes
    /// of the current one. The read, `build` and the write happen in one change of
    /// the group commit, so two concurrent PATCHes of one user both apply.
    pub async fn update_user<F>(
        &self,
        caller: &Caller,
        id: &str,
        build: F,
    ) -> Result<user::Model, ScimError>
    where
        F: FnOnce(&user::Model) -> Result<UserDraft, ScimError> + Send + 'static,
    {
        let uuid = parse_id("User", id)?;
        let (caller, id) = (*caller, id.to_string());
        self.writes
            .write_with(uuid.as_bytes(), Undo::ReadThenScript, move |change| {
                Box::pin(async move {
                    let current = user_for_update(change.txn, &caller, uuid, &id).await?;
                    let draft = build(&current.user)?;
                    write_user(change, &caller, current, draft).await
                })
            })
            .await
    }

    /// Deletes the account; its sessions and memberships go with it. The last
    /// active Integrations Admin is refused (audited) and kept.
    pub async fn delete_user(&self, caller: &Caller, id: &str) -> Result<(), ScimError> {
        let uuid = parse_id("User", id)?;
        let (caller, id) = (*caller, id.to_string());
        self.writes
            .write(uuid.as_bytes(), move |change| {
                Box::pin(async move {
                    let found = user_for_update(change.txn, &caller, uuid, &id).await?;
                    remove_user(change, &caller, found).await
                })
            })
            .await
    }

    pub async fn list_users(
        &self,
        caller: &Caller,
        filter: Option<&Filter>,
        start_index: u64,
        count: u64,
    ) -> Result<Page<user::Model>, ScimError> {
        let scoped = user::Entity::find().filter(user::Column::OrgId.eq(caller.org_id));
        let translated = match filter {
            None => Some(Condition::all()),
            Some(f) => user_condition(f),
        };
        if let Some(condition) = translated {
            let query = scoped.filter(condition);
            let items = if count == 0 {
                Vec::new()
            } else {
                query
                    .clone()
                    .order_by_asc(user::Column::CreatedAt)
                    .order_by_asc(user::Column::Id)
                    .offset(start_index - 1)
                    .limit(count)
                    .all(self.db)
                    .await?
            };
            let total = match known_total(start_index, count, items.len()) {
                Some(total) => total,
                None => query.count(self.db).await?,
            };
            return Ok(Page { total, items });
        }
        // A filter no index answers: evaluate it on each user of the organization.
        let filter = filter.expect("only a filter can fail to translate");
        let all = scoped
            .order_by_asc(user::Column::CreatedAt)
            .order_by_asc(user::Column::Id)
            .all(self.db)
            .await?;
        let matching: Vec<user::Model> = all
            .into_iter()
            .filter(|u| {
                let Value::Object(doc) = users::to_resource(u, self.base) else {
                    return false;
                };
                eval::matches(filter, &doc, USER_SCHEMA)
            })
            .collect();
        Ok(page_of(matching, start_index, count))
    }

    // ----------------------------------------------------------------- groups

    pub async fn group(&self, caller: &Caller, id: &str) -> Result<scim_group::Model, ScimError> {
        let uuid = parse_id("Group", id)?;
        scim_group::Entity::find_by_id(uuid)
            .filter(scim_group::Column::OrgId.eq(caller.org_id))
            .one(self.db)
            .await?
            .ok_or_else(|| not_found("Group", id))
    }

    /// Members of each group, in the order they were added.
    pub async fn members(&self, group_ids: &[Uuid]) -> Result<HashMap<Uuid, Vec<Uuid>>, ScimError> {
        members_of(self.db, group_ids).await
    }

    pub async fn create_group(
        &self,
        caller: &Caller,
        draft: GroupDraft,
    ) -> Result<(scim_group::Model, Vec<Uuid>), ScimError> {
        check_members(self.db, caller, &draft.members).await?;
        let caller = *caller;
        let key = draft.display_name.to_lowercase();
        self.writes
            .write(key.as_bytes(), move |change| {
                Box::pin(async move { insert_group(change, &caller, draft).await.map(Ok) })
            })
            .await
    }

    /// Replaces a group's state (PUT, or a PATCH's result) with what `build`
    /// makes of the current one and its members, changing only the memberships
    /// that differ. The read, `build` and the write happen in one change of the
    /// group commit, so two concurrent writes of one group each see the other's
    /// result instead of both working from the same earlier state.
    pub async fn update_group<F>(
        &self,
        caller: &Caller,
        id: &str,
        build: F,
    ) -> Result<(scim_group::Model, Vec<Uuid>), ScimError>
    where
        F: FnOnce(&scim_group::Model, &[Uuid]) -> Result<GroupDraft, ScimError> + Send + 'static,
    {
        let uuid = parse_id("Group", id)?;
        let (caller, id) = (*caller, id.to_string());
        self.writes
            .write(uuid.as_bytes(), move |change| {
                Box::pin(async move {
                    let txn = change.txn;
                    let current = group_for_update(txn, &caller, uuid, &id).await?;
                    let old = members_of(txn, &[uuid]).await?.remove(&uuid);
                    let old = old.unwrap_or_default();
                    let draft = build(&current, &old)?;
                    let membership = MembershipChange::between(&old, &draft.members);
                    check_members(txn, &caller, &membership.added).await?;
                    write_group(change, &caller, current, draft, membership)
                        .await
                        .map(Ok)
                })
            })
            .await
    }

    pub async fn delete_group(&self, caller: &Caller, id: &str) -> Result<(), ScimError> {
        let group = self.group(caller, id).await?;
        let org_id = caller.org_id;
        let key = group.id;
        self.writes
            .write(key.as_bytes(), move |change| {
                Box::pin(async move {
                    scim_group::Entity::delete_by_id(group.id)
                        .exec(change.txn)
                        .await?;
                    change.event(org_id, EventType::GroupDeleted, &events::group_data(&group));
                    Ok(Ok(()))
                })
            })
            .await
    }

    pub async fn list_groups(
        &self,
        caller: &Caller,
        filter: Option<&Filter>,
        start_index: u64,
        count: u64,
    ) -> Result<Page<scim_group::Model>, ScimError> {
        let scoped = scim_group::Entity::find().filter(scim_group::Column::OrgId.eq(caller.org_id));
        let translated = match filter {
            None => Some(Condition::all()),
            Some(f) => group_condition(f),
        };
        if let Some(condition) = translated {
            let query = scoped.filter(condition);
            let items = if count == 0 {
                Vec::new()
            } else {
                query
                    .clone()
                    .order_by_asc(scim_group::Column::CreatedAt)
                    .order_by_asc(scim_group::Column::Id)
                    .offset(start_index - 1)
                    .limit(count)
                    .all(self.db)
                    .await?
            };
            let total = match known_total(start_index, count, items.len()) {
                Some(total) => total,
                None => query.count(self.db).await?,
            };
            return Ok(Page { total, items });
        }
        let filter = filter.expect("only a filter can fail to translate");
        let all = scoped
            .order_by_asc(scim_group::Column::CreatedAt)
            .order_by_asc(scim_group::Column::Id)
            .all(self.db)
            .await?;
        let ids: Vec<Uuid> = all.iter().map(|g| g.id).collect();
        let members = self.members(&ids).await?;
        let matching = all
            .into_iter()
            .filter(|g| {
                let Value::Object(doc) =
                    groups::to_resource(g, members.get(&g.id).map(Vec::as_slice), self.base)
                else {
                    return false;
                };
                eval::matches(filter, &doc, GROUP_SCHEMA)
            })
            .collect();
        Ok(page_of(matching, start_index, count))
    }
}

// ------------------------------------------------- user changes (group commit)

/// A user read for a change, with their role in the organization.
#[derive(Debug, FromQueryResult)]
struct LockedUser {
    #[sea_orm(nested)]
    user: user::Model,
    role: Option<String>,
}

impl LockedUser {
    fn is_integrations_admin(&self) -> bool {
        self.role.as_deref() == Some(Role::IntegrationsAdmin.as_str())
    }
}

/// The user to change, read inside the change (locked on PostgreSQL).
async fn user_for_update(
    txn: &impl ConnectionTrait,
    caller: &Caller,
    uuid: Uuid,
    id: &str,
) -> Result<LockedUser, ScimError> {
    // The role comes as a scalar subquery in the same statement: the checks
    // that keep the last Integrations Admin need it, and a second query was
    // one more round trip a PATCH. A subquery, not a join: PostgreSQL cannot
    // lock the nullable side of an outer join.
    let role = Query::select()
        .column((membership::Entity, membership::Column::Role))
        .from(membership::Entity)
        .and_where(
            Expr::col((membership::Entity, membership::Column::UserId))
                .equals((user::Entity, user::Column::Id)),
        )
        .limit(1)
        .to_owned();
    // NO KEY UPDATE: the row's key does not change, and unlike FOR UPDATE it
    // does not wait for the KEY SHARE lock a group change's membership insert
    // takes on the user it adds.
    user::Entity::find_by_id(uuid)
        .filter(user::Column::OrgId.eq(caller.org_id))
        .expr_as(
            Expr::SubQuery(None, Box::new(role.into_sub_query_statement())),
            "role",
        )
        .lock(LockType::NoKeyUpdate)
        .into_model::<LockedUser>()
        .one(txn)
        .await?
        .ok_or_else(|| not_found("User", id))
}

async fn insert_user(
    change: &Change<'_>,
    caller: &Caller,
    draft: &UserDraft,
) -> Result<user::Model, ScimError> {
    let txn = change.txn;
    let now = Utc::now();
    let row = user::ActiveModel {
        id: Set(crate::db::new_row_id()),
        org_id: Set(caller.org_id),
        email_normalized: Set(normalize_email(&draft.user_name)),
        email: Set(draft.user_name.clone()),
        first_name: Set(draft.first_name.clone()),
        last_name: Set(draft.last_name.clone()),
        // SCIM accounts sign in through SSO; a sent password was dropped.
        password_hash: Set(None),
        active: Set(draft.active),
        external_id: Set(draft.external_id.clone()),
        scim_attributes: Set(draft.extra_json()),
        source: Set(MemberSource::Scim.as_str().to_string()),
        last_sign_in_at: Set(None),
        last_sign_in_method: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    };
    let created = sea_orm::TryIntoModel::try_into_model(row.clone()).map_err(internal)?;
    // The user, their membership and the end of a retirement go as one script
    // (on SQLite one hop to the writer; none reads or changes a row another
    // writes, so on PostgreSQL one statement): the group commit's writer waits
    // on each of its changes' statements in turn.
    let mut script = Script::independent(txn.get_database_backend());
    script.push(&user::Entity::insert(row));
    script.push(&membership::Entity::insert(membership::ActiveModel {
        id: Set(crate::db::new_row_id()),
        org_id: Set(caller.org_id),
        user_id: Set(created.id),
        role: Set(Role::Member.as_str().to_string()),
        created_at: Set(now),
    }));
    script.push(&crate::sso::identities::unretire_query(
        caller.org_id,
        &created.email_normalized,
    ));
    change.run(script).await.map_err(|e| {
        if is_unique_violation(&e) {
            user_exists(&draft.user_name)
        } else {
            internal(e)
        }
    })?;
    change.audit(user_entry(caller, AuditAction::ScimUserCreated, &created));
    change.event(
        caller.org_id,
        EventType::UserCreated,
        &events::user_data(&created),
    );
    Ok(created)
}

/// Writes a user's new state. Deactivation ends the user's sessions in the same
/// change. The password is never touched (the draft has none), and the last
/// active Integrations Admin is never deactivated: that refusal is audited (kept)
/// and nothing else changes.
async fn write_user(
    change: &Change<'_>,
    caller: &Caller,
    current: LockedUser,
    draft: UserDraft,
) -> Outcome<user::Model, ScimError> {
    let txn = change.txn;
    let admin = current.is_integrations_admin();
    let current = current.user;
    let was_active = current.active;
    let deactivating = was_active && !draft.active;
    if admin && deactivating && is_last_active_admin(txn, caller.org_id, &current).await? {
        change.audit(refusal_entry(caller, Refusal::Deactivate, &current));
        return Ok(Err(last_admin_error(Refusal::Deactivate, &current)));
    }
    if admin && draft.password_sent {
        change.audit(refusal_entry(caller, Refusal::SetPassword, &current));
    }
    // The IdP said again what is stored (a resync, a retried request): nothing
    // to write, the same lastModified, and no event for the host app.
    if current.source == MemberSource::Scim.as_str() && draft.is_stored_as(&current) {
        return Ok(Ok(current));
    }
    let mut model: user::ActiveModel = current.into();
    model.email_normalized = Set(normalize_email(&draft.user_name));
    model.email = Set(draft.user_name.clone());
    model.first_name = Set(draft.first_name.clone());
    model.last_name = Set(draft.last_name.clone());
    model.active = Set(draft.active);
    model.external_id = Set(draft.external_id.clone());
    model.scim_attributes = Set(draft.extra_json());
    // From its first SCIM write on, the IdP manages the account.
    model.source = Set(MemberSource::Scim.as_str().to_string());
    model.updated_at = Set(Utc::now());
    let updated = sea_orm::TryIntoModel::try_into_model(model.clone()).map_err(internal)?;
    let deactivated = was_active && !updated.active;
    // The row and the end of its sessions as one script, independent statements
    // as in `insert_user`.
    let mut script = Script::independent(txn.get_database_backend());
    script.push(
        &user::Entity::update_many()
            .set(model)
            .filter(user::Column::Id.eq(updated.id)),
    );
    if deactivated {
        script.push(&sessions::close_all_query(updated.id));
    }
    change.run(script).await.map_err(|e| {
        if is_unique_violation(&e) {
            user_exists(&draft.user_name)
        } else {
            internal(e)
        }
    })?;
    let event = if deactivated {
        change.audit(user_entry(
            caller,
            AuditAction::ScimUserDeactivated,
            &updated,
        ));
        EventType::UserDeactivated
    } else if !was_active && updated.active {
        change.audit(user_entry(
            caller,
            AuditAction::ScimUserReactivated,
            &updated,
        ));
        EventType::UserReactivated
    } else {
        EventType::UserUpdated
    };
    change.event(caller.org_id, event, &events::user_data(&updated));
    Ok(Ok(updated))
}

async fn remove_user(
    change: &Change<'_>,
    caller: &Caller,
    found: LockedUser,
) -> Outcome<(), ScimError> {
    let txn = change.txn;
    let admin = found.is_integrations_admin();
    let found = found.user;
    if found.active && admin && is_last_active_admin(txn, caller.org_id, &found).await? {
        change.audit(refusal_entry(caller, Refusal::Delete, &found));
        return Ok(Err(last_admin_error(Refusal::Delete, &found)));
    }
    sessions::close_all_for_user(txn, found.id).await?;
    user::Entity::delete_by_id(found.id).exec(txn).await?;
    // SSO must not bring the account back by creating it just in time.
    crate::sso::identities::retire(txn, caller.org_id, &found.email_normalized).await?;
    change.audit(user_entry(caller, AuditAction::ScimUserDeleted, &found));
    change.event(
        caller.org_id,
        EventType::UserDeleted,
        &events::user_data(&found),
    );
    Ok(Ok(()))
}

// ------------------------------------------------ group changes (group commit)

/// Who joins and who leaves a group in one change.
struct MembershipChange {
    added: Vec<Uuid>,
    removed: Vec<Uuid>,
}

impl MembershipChange {
    /// Who joins and who leaves when `old` members become `new`.
    fn between(old: &[Uuid], new: &[Uuid]) -> Self {
        let (before, after): (HashSet<Uuid>, HashSet<Uuid>) =
            (old.iter().copied().collect(), new.iter().copied().collect());
        Self {
            added: new
                .iter()
                .filter(|m| !before.contains(m))
                .copied()
                .collect(),
            removed: old.iter().filter(|m| !after.contains(m)).copied().collect(),
        }
    }

    fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty()
    }
}

/// Members of each group, in the order they were added.
async fn members_of(
    db: &impl ConnectionTrait,
    group_ids: &[Uuid],
) -> Result<HashMap<Uuid, Vec<Uuid>>, ScimError> {
    let mut out: HashMap<Uuid, Vec<Uuid>> = group_ids.iter().map(|id| (*id, Vec::new())).collect();
    for chunk in group_ids.chunks(500) {
        let rows = scim_group_member::Entity::find()
            .filter(scim_group_member::Column::GroupId.is_in(chunk.to_vec()))
            .order_by_asc(scim_group_member::Column::UserId)
            .all(db)
            .await?;
        for row in rows {
            out.entry(row.group_id).or_default().push(row.user_id);
        }
    }
    Ok(out)
}

/// Refuses members that are not users of this organization.
async fn check_members(
    db: &impl ConnectionTrait,
    caller: &Caller,
    members: &[Uuid],
) -> Result<(), ScimError> {
    let mut known = HashSet::new();
    for chunk in members.chunks(500) {
        let found: Vec<Uuid> = user::Entity::find()
            .select_only()
            .column(user::Column::Id)
            .filter(user::Column::OrgId.eq(caller.org_id))
            .filter(user::Column::Id.is_in(chunk.to_vec()))
            .into_tuple()
            .all(db)
            .await?;
        known.extend(found);
    }
    match members.iter().find(|m| !known.contains(m)) {
        Some(missing) => Err(ScimError::InvalidValue(format!(
            "Member \"{missing}\" is not a user of this organization."
        ))),
        None => Ok(()),
    }
}

/// The group, locked for the rest of the change (NO KEY UPDATE, as for users).
async fn group_for_update(
    txn: &impl ConnectionTrait,
    caller: &Caller,
    uuid: Uuid,
    id: &str,
) -> Result<scim_group::Model, ScimError> {
    scim_group::Entity::find_by_id(uuid)
        .filter(scim_group::Column::OrgId.eq(caller.org_id))
        .lock(LockType::NoKeyUpdate)
        .one(txn)
        .await?
        .ok_or_else(|| not_found("Group", id))
}

async fn add_members(
    txn: &impl ConnectionTrait,
    group_id: Uuid,
    members: &[Uuid],
) -> Result<(), DbErr> {
    for chunk in members.chunks(500) {
        let rows = chunk.iter().map(|user_id| scim_group_member::ActiveModel {
            group_id: Set(group_id),
            user_id: Set(*user_id),
        });
        scim_group_member::Entity::insert_many(rows)
            .on_conflict_do_nothing()
            .exec(txn)
            .await?;
    }
    Ok(())
}

async fn insert_group(
    change: &Change<'_>,
    caller: &Caller,
    draft: GroupDraft,
) -> Result<(scim_group::Model, Vec<Uuid>), ScimError> {
    let txn = change.txn;
    let now = Utc::now();
    let group = scim_group::ActiveModel {
        id: Set(crate::db::new_row_id()),
        org_id: Set(caller.org_id),
        display_name_normalized: Set(draft.display_name.to_lowercase()),
        display_name: Set(draft.display_name),
        external_id: Set(draft.external_id),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(txn)
    .await?;
    add_members(txn, group.id, &draft.members).await?;
    change.event(
        caller.org_id,
        EventType::GroupCreated,
        &events::group_data(&group),
    );
    membership_events(
        change,
        caller,
        &group,
        EventType::GroupUserAdded,
        &draft.members,
    );
    Ok((group, draft.members))
}

async fn write_group(
    change: &Change<'_>,
    caller: &Caller,
    current: scim_group::Model,
    draft: GroupDraft,
    membership: MembershipChange,
) -> Result<(scim_group::Model, Vec<Uuid>), ScimError> {
    let txn = change.txn;
    let renamed =
        draft.display_name != current.display_name || draft.external_id != current.external_id;
    let mut members = draft.members;
    members.sort();
    if !renamed && membership.is_empty() {
        // An IdP's resync or a retried request: nothing to write, nothing to tell.
        return Ok((current, members));
    }
    let mut model: scim_group::ActiveModel = current.into();
    model.display_name_normalized = Set(draft.display_name.to_lowercase());
    model.display_name = Set(draft.display_name);
    model.external_id = Set(draft.external_id);
    // A membership change is a change of the group too (its lastModified).
    model.updated_at = Set(Utc::now());
    let group = model.update(txn).await?;
    for chunk in membership.removed.chunks(500) {
        scim_group_member::Entity::delete_many()
            .filter(scim_group_member::Column::GroupId.eq(group.id))
            .filter(scim_group_member::Column::UserId.is_in(chunk.to_vec()))
            .exec(txn)
            .await?;
    }
    add_members(txn, group.id, &membership.added).await?;
    // group.updated carries the name and externalId only; membership has its own events.
    if renamed {
        change.event(
            caller.org_id,
            EventType::GroupUpdated,
            &events::group_data(&group),
        );
    }
    let (added, removed) = (&membership.added, &membership.removed);
    membership_events(change, caller, &group, EventType::GroupUserAdded, added);
    membership_events(change, caller, &group, EventType::GroupUserRemoved, removed);
    Ok((group, members))
}

/// The total without a COUNT query, when the page itself shows it: a page that is
/// not full and not empty ends the results (a lookup by userName is one such page).
fn known_total(start_index: u64, count: u64, found: usize) -> Option<u64> {
    let found = found as u64;
    if count == 0 {
        return None;
    }
    if found == 0 {
        // Nothing from the first row on means nothing at all.
        return (start_index == 1).then_some(0);
    }
    (found < count).then(|| start_index - 1 + found)
}

fn page_of<T>(all: Vec<T>, start_index: u64, count: u64) -> Page<T> {
    let total = all.len() as u64;
    let items = all
        .into_iter()
        .skip((start_index - 1) as usize)
        .take(count as usize)
        .collect();
    Page { total, items }
}

// ------------------------------------------------------- filters as SQL

/// A column a filter may use, and how its values compare.
enum Column {
    /// Compared lower-cased (the column holds a lower-cased copy).
    Folded(Expr),
    Exact(Expr),
    Id(Expr),
    Bool(Expr),
    Time(Expr),
}

fn is_core(path: &AttrPath, schema: &str) -> bool {
    path.urn
        .as_deref()
        .is_none_or(|u| u.eq_ignore_ascii_case(schema))
}

fn user_column(path: &AttrPath) -> Option<Column> {
    if !is_core(path, USER_SCHEMA) {
        return None;
    }
    let attr = path.attr.to_ascii_lowercase();
    let sub = path.sub_attr.as_deref().map(str::to_ascii_lowercase);
    Some(match (attr.as_str(), sub.as_deref()) {
        ("username", None) => Column::Folded(Expr::col(user::Column::EmailNormalized)),
        ("externalid", None) => Column::Exact(Expr::col(user::Column::ExternalId)),
        ("id", None) => Column::Id(Expr::col(user::Column::Id)),
        ("active", None) => Column::Bool(Expr::col(user::Column::Active)),
        ("meta", Some("lastmodified")) => Column::Time(Expr::col(user::Column::UpdatedAt)),
        ("meta", Some("created")) => Column::Time(Expr::col(user::Column::CreatedAt)),
        ("name", Some("givenname")) => {
            Column::Folded(Func::lower(Expr::col(user::Column::FirstName)).into())
        }
        ("name", Some("familyname")) => {
            Column::Folded(Func::lower(Expr::col(user::Column::LastName)).into())
        }
        _ => return None,
    })
}

fn group_column(path: &AttrPath) -> Option<Column> {
    if !is_core(path, GROUP_SCHEMA) {
        return None;
    }
    let attr = path.attr.to_ascii_lowercase();
    let sub = path.sub_attr.as_deref().map(str::to_ascii_lowercase);
    Some(match (attr.as_str(), sub.as_deref()) {
        ("displayname", None) => {
            Column::Folded(Expr::col(scim_group::Column::DisplayNameNormalized))
        }
        ("externalid", None) => Column::Exact(Expr::col(scim_group::Column::ExternalId)),
        ("id", None) => Column::Id(Expr::col(scim_group::Column::Id)),
        ("meta", Some("lastmodified")) => Column::Time(Expr::col(scim_group::Column::UpdatedAt)),
        ("meta", Some("created")) => Column::Time(Expr::col(scim_group::Column::CreatedAt)),
        _ => return None,
    })
}

pub fn user_condition(filter: &Filter) -> Option<Condition> {
    condition(filter, &user_column)
}

pub fn group_condition(filter: &Filter) -> Option<Condition> {
    condition(filter, &group_column)
}

fn never() -> Condition {
    Condition::all().add(Expr::val(1).eq(0))
}

fn condition(filter: &Filter, column: &dyn Fn(&AttrPath) -> Option<Column>) -> Option<Condition> {
    Some(match filter {
        Filter::And(l, r) => Condition::all()
            .add(condition(l, column)?)
            .add(condition(r, column)?),
        Filter::Or(l, r) => Condition::any()
            .add(condition(l, column)?)
            .add(condition(r, column)?),
        Filter::Not(inner) => condition(inner, column)?.not(),
        Filter::ValuePath { .. } => return None,
        Filter::Present(path) => match column(path)? {
            Column::Exact(c) => Condition::all().add(c.clone().is_not_null()).add(c.ne("")),
            // Every user has these.
            Column::Folded(_) | Column::Id(_) | Column::Bool(_) | Column::Time(_) => {
                Condition::all()
            }
        },
        Filter::Compare { path, op, value } => compare(column(path)?, *op, value)?,
    })
}

fn string_compare(c: Expr, op: CompareOp, v: String) -> Condition {
    let cond = match op {
        CompareOp::Eq => c.eq(v),
        CompareOp::Ne => c.ne(v),
        CompareOp::Co => c.like(crate::db::like(&v, LikeAt::Anywhere)),
        CompareOp::Sw => c.like(crate::db::like(&v, LikeAt::Start)),
        CompareOp::Ew => c.like(crate::db::like(&v, LikeAt::End)),
        CompareOp::Gt => c.gt(v),
        CompareOp::Ge => c.gte(v),
        CompareOp::Lt => c.lt(v),
        CompareOp::Le => c.lte(v),
    };
    Condition::all().add(cond)
}

fn compare(column: Column, op: CompareOp, value: &FilterValue) -> Option<Condition> {
    match (column, value) {
        // LIKE ignores case on SQLite but not on PostgreSQL; only lower-cased columns use it.
        (Column::Folded(c), FilterValue::String(v)) => {
            Some(string_compare(c, op, v.to_lowercase()))
        }
        (Column::Exact(c), FilterValue::String(v)) => match op {
            CompareOp::Eq | CompareOp::Ne => Some(string_compare(c, op, v.clone())),
            _ => None,
        },
        (Column::Exact(c), FilterValue::Null) => match op {
            CompareOp::Eq => Some(Condition::all().add(c.is_null())),
            CompareOp::Ne => Some(Condition::all().add(c.is_not_null())),
            _ => None,
        },
        (Column::Id(c), FilterValue::String(v)) => match (op, Uuid::parse_str(v)) {
            (CompareOp::Eq, Ok(id)) => Some(Condition::all().add(c.eq(id))),
            (CompareOp::Eq, Err(_)) => Some(never()),
            (CompareOp::Ne, Ok(id)) => Some(Condition::all().add(c.ne(id))),
            (CompareOp::Ne, Err(_)) => Some(Condition::all()),
            _ => None,
        },
        (Column::Bool(c), FilterValue::Bool(b)) => match op {
            CompareOp::Eq => Some(Condition::all().add(c.eq(*b))),
            CompareOp::Ne => Some(Condition::all().add(c.ne(*b))),
            _ => None,
        },
        (Column::Time(c), FilterValue::String(v)) => {
            let t: DateTime<Utc> = DateTime::parse_from_rfc3339(v).ok()?.with_timezone(&Utc);
            Some(Condition::all().add(match op {
                CompareOp::Eq => c.eq(t),
                CompareOp::Ne => c.ne(t),
                CompareOp::Gt => c.gt(t),
                CompareOp::Ge => c.gte(t),
                CompareOp::Lt => c.lt(t),
                CompareOp::Le => c.lte(t),
                _ => return None,
            }))
        }
        _ => None,
    }
}

/// The document a PATCH of a group works on.
pub fn group_patch_document(
    group: &scim_group::Model,
    members: &[Uuid],
    base: &str,
) -> Map<String, Value> {
    let Value::Object(mut doc) = groups::to_resource(group, Some(members), base) else {
        return Map::new();
    };
    for key in ["meta", "schemas", "id"] {
        doc.remove(key);
    }
    doc
}

/// One `group.user_added` or `group.user_removed` event per member.
fn membership_events(
    change: &Change<'_>,
    caller: &Caller,
    group: &scim_group::Model,
    event: EventType,
    members: &[Uuid],
) {
    for member in members {
        change.event(
            caller.org_id,
            event,
            &events::membership_data(group, *member),
        );
    }
}
