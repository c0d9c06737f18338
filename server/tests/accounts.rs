//! Organizations and users as the `latchkey` commands create them.

mod common;

use common::*;
use server::accounts::{self, AccountError, NewUser};
use server::audit::Actor;
use server::bootstrap;
use shared::Role;

fn user(email: &str, password: Option<&str>) -> NewUser {
    NewUser {
        org_slug: "acme".into(),
        email: email.into(),
        first_name: String::new(),
        last_name: String::new(),
        role: Role::Member,
        password: password.map(str::to_string),
        source: shared::members::MemberSource::Manual,
    }
}

#[tokio::test]
async fn organization_slugs_are_unique_and_validated() {
    let app = TestApp::spawn().await.with_acme().await;
    let duplicate = accounts::create_organization(&app.db, "acme", "Again", Actor::Cli).await;
    assert!(matches!(
        duplicate,
        Err(AccountError::OrganizationExists(_))
    ));
    let invalid = accounts::create_organization(&app.db, "Not A Slug", "", Actor::Cli).await;
    match invalid {
        Err(AccountError::Invalid(errors)) => {
            assert!(errors.for_field("slug").is_some());
            assert!(errors.for_field("name").is_some());
        }
        other => panic!("expected field errors, got {other:?}"),
    }
}

#[tokio::test]
async fn emails_are_unique_per_organization_ignoring_case() {
    let app = TestApp::spawn().await.with_acme().await;
    let again = accounts::create_user(&app.db, user("MEMBER@acme.test", None), Actor::Cli).await;
    assert!(
        matches!(again, Err(AccountError::UserExists(_))),
        "{again:?}"
    );

    // The same email may exist in another organization.
    accounts::create_organization(&app.db, "globex", "Globex", Actor::Cli)
        .await
        .unwrap();
    let mut other = user(MEMBER_EMAIL, None);
    other.org_slug = "globex".into();
    accounts::create_user(&app.db, other, Actor::Cli)
        .await
        .unwrap();
}

#[tokio::test]
async fn user_creation_validates_and_changes_nothing_on_failure() {
    let app = TestApp::spawn().await.with_acme().await;
    let before = app.audit().await.len();
    let short =
        accounts::create_user(&app.db, user("new@acme.test", Some("short")), Actor::Cli).await;
    assert!(matches!(short, Err(AccountError::Invalid(_))));
    let no_org = accounts::create_user(
        &app.db,
        NewUser {
            org_slug: "nope".into(),
            ..user("new@acme.test", None)
        },
        Actor::Cli,
    )
    .await;
    assert!(matches!(no_org, Err(AccountError::OrganizationNotFound(_))));
    assert_eq!(app.audit().await.len(), before);
}

#[tokio::test]
async fn sso_only_accounts_cannot_use_a_password() {
    let app = TestApp::spawn().await.with_acme().await;
    accounts::create_user(&app.db, user("sso@acme.test", None), Actor::Cli)
        .await
        .unwrap();
    let response = app.sign_in("sso@acme.test", "").await;
    assert_eq!(response.status.as_u16(), 422);
    let response = app.sign_in("sso@acme.test", "anything at all").await;
    assert_eq!(response.status.as_u16(), 401);
}

#[tokio::test]
async fn admin_changes_are_audited() {
    let app = TestApp::spawn().await.with_acme().await;
    let audit = app.audit().await;
    assert!(audit.contains(&(
        "organization_created".into(),
        "success".into(),
        "cli".into()
    )));
    assert_eq!(
        audit
            .iter()
            .filter(|(action, _, _)| action == "user_created")
            .count(),
        2
    );
}

#[tokio::test]
async fn demo_organization_is_seeded_only_on_an_empty_database() {
    let app = TestApp::spawn().await;
    let demo = bootstrap::seed_demo(&app.db)
        .await
        .unwrap()
        .expect("seeded");
    assert_eq!(demo.email, bootstrap::DEMO_ADMIN_EMAIL);
    assert!(demo.password.len() >= 16);
    let response = app.sign_in(&demo.email, &demo.password).await;
    assert_eq!(response.status.as_u16(), 200);
    assert!(bootstrap::seed_demo(&app.db).await.unwrap().is_none());
}
