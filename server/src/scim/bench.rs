//! Benchmark support: many users at once, inserted in bulk (not through SCIM), so a
//! benchmark can measure lookups against a realistically large organization.

use crate::entities::{membership, user};
use chrono::Utc;
use sea_orm::{DatabaseConnection, DbErr, EntityTrait, Set};
use shared::members::MemberSource;
use shared::Role;
use uuid::Uuid;

/// Adds `user<n>@<domain>` for n in 0..count; returns their ids in order.
pub async fn seed_users(
    db: &DatabaseConnection,
    org_id: Uuid,
    count: u32,
    domain: &str,
) -> Result<Vec<Uuid>, DbErr> {
    let mut ids = Vec::with_capacity(count as usize);
    let numbers: Vec<u32> = (0..count).collect();
    for chunk in numbers.chunks(1000) {
        let now = Utc::now();
        let (txn, _turn) = crate::db::begin_write(db).await?;
        let mut users = Vec::with_capacity(chunk.len());
        let mut memberships = Vec::with_capacity(chunk.len());
        for n in chunk {
            let id = crate::db::new_row_id();
            ids.push(id);
            let email = format!("user{n}@{domain}");
            users.push(user::ActiveModel {
                id: Set(id),
                org_id: Set(org_id),
                email_normalized: Set(email.clone()),
                email: Set(email),
                first_name: Set("Bench".into()),
                last_name: Set(format!("User {n}")),
                password_hash: Set(None),
                active: Set(true),
                external_id: Set(Some(format!("ext-{n}"))),
                scim_attributes: Set(None),
                source: Set(MemberSource::Scim.as_str().to_string()),
                last_sign_in_at: Set(None),
                last_sign_in_method: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
            });
            memberships.push(membership::ActiveModel {
                id: Set(crate::db::new_row_id()),
                org_id: Set(org_id),
                user_id: Set(id),
                role: Set(Role::Member.as_str().to_string()),
                created_at: Set(now),
            });
        }
        // Stay under the bind-parameter limits of both backends.
        for part in users.chunks(250) {
            user::Entity::insert_many(part.to_vec()).exec(&txn).await?;
        }
        for part in memberships.chunks(500) {
            membership::Entity::insert_many(part.to_vec())
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
    }
    Ok(ids)
}
