//! First run: a demo organization so a new user can sign in at once.

use crate::accounts::{self, NewUser};
use crate::audit::Actor;
use crate::entities::organization;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use sea_orm::{DatabaseConnection, EntityTrait, PaginatorTrait};
use shared::Role;

pub const DEMO_SLUG: &str = "acme";
pub const DEMO_ADMIN_EMAIL: &str = "admin@acme.test";

pub struct DemoCredentials {
    pub email: String,
    pub password: String,
}

/// Creates the demo organization and its admin when the database has no
/// organization at all; returns the credentials to print once.
pub async fn seed_demo(
    db: &DatabaseConnection,
) -> Result<Option<DemoCredentials>, accounts::AccountError> {
    if organization::Entity::find().count(db).await? > 0 {
        return Ok(None);
    }
    accounts::create_organization(db, DEMO_SLUG, "Acme Inc.", Actor::Cli).await?;
    let password = random_password();
    accounts::create_user(
        db,
        NewUser {
            org_slug: DEMO_SLUG.into(),
            email: DEMO_ADMIN_EMAIL.into(),
            first_name: "Avery".into(),
            last_name: "Admin".into(),
            role: Role::IntegrationsAdmin,
            password: Some(password.clone()),
            source: shared::members::MemberSource::Manual,
        },
        Actor::Cli,
    )
    .await?;
    Ok(Some(DemoCredentials {
        email: DEMO_ADMIN_EMAIL.into(),
        password,
    }))
}

fn random_password() -> String {
    let mut bytes = [0u8; 15];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}
