//! A user's changes through the group commit: creation, replacement (PUT and
//! PATCH) and deletion, with the rules that keep the organization's last
//! active Integrations Admin.

use super::errors::ScimError;
use super::store::{internal, not_found, Caller};
use super::users::UserDraft;
use crate::audit::{AuditAction, AuditEntry};
use crate::db::{is_unique_violation, Script};
use crate::entities::{membership, user};
use crate::events::{self, EventType};
use crate::group_commit::{Change, Outcome};
use crate::sessions;
use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait, LockType, Query, QueryStatementBuilder};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, FromQueryResult, QueryFilter, QuerySelect,
    Set,
};
use serde_json::json;
use shared::members::MemberSource;
use shared::validate::normalize_email;
use shared::Role;
use uuid::Uuid;

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

/// A user read for a change, with their role in the organization.
#[derive(Debug, FromQueryResult)]
pub(super) struct LockedUser {
    #[sea_orm(nested)]
    pub(super) user: user::Model,
    role: Option<String>,
}

impl LockedUser {
    fn is_integrations_admin(&self) -> bool {
        self.role.as_deref() == Some(Role::IntegrationsAdmin.as_str())
    }
}

/// The user to change, read inside the change (locked on PostgreSQL).
pub(super) async fn user_for_update(
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

pub(super) async fn insert_user(
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
pub(super) async fn write_user(
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
    let email_normalized = normalize_email(&draft.user_name);
    let renamed = email_normalized != current.email_normalized;
    let mut model: user::ActiveModel = current.into();
    model.email_normalized = Set(email_normalized);
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
    // Only a new userName can break a unique index: a savepoint then undoes
    // the script alone, and the caller hears that the name is taken.
    let written = if renamed {
        change.run(script).await
    } else {
        change.run_conflict_free(script).await
    };
    written.map_err(|e| {
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

pub(super) async fn remove_user(
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
