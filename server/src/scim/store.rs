//! SCIM storage: users (accounts) and groups of one organization, with filters
//! answered by indexes where they can be and by evaluation where they cannot.

use super::errors::ScimError;
use super::eval;
use super::filter::{AttrPath, CompareOp, Filter, Value as FilterValue};
use super::groups::{self, GroupDraft};
use super::resource::{GROUP_SCHEMA, USER_SCHEMA};
use super::user_changes;
use super::users::{self, UserDraft};
use crate::audit::Actor;
use crate::db::LikeAt;
use crate::entities::{scim_group, scim_group_member, user};
use crate::events::{self, EventType};
use crate::group_commit::{Change, GroupCommit, Undo};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Func, LockType};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbErr,
    EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde_json::{Map, Value};
use shared::validate::normalize_email;
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
    pub(super) fn actor(&self) -> Actor {
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

pub(super) fn not_found(kind: &str, id: &str) -> ScimError {
    ScimError::NotFound(format!(
        "No {kind} with id \"{}\".",
        id.chars().take(64).collect::<String>()
    ))
}

fn parse_id(kind: &str, id: &str) -> Result<Uuid, ScimError> {
    Uuid::parse_str(id).map_err(|_| not_found(kind, id))
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
                Box::pin(async move {
                    user_changes::insert_user(change, &caller, &draft)
                        .await
                        .map(Ok)
                })
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
                    let current =
                        user_changes::user_for_update(change.txn, &caller, uuid, &id).await?;
                    let draft = build(&current.user)?;
                    user_changes::write_user(change, &caller, current, draft).await
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
                    let found =
                        user_changes::user_for_update(change.txn, &caller, uuid, &id).await?;
                    user_changes::remove_user(change, &caller, found).await
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
