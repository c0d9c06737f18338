//! Organizations, their users and memberships, sessions and the audit log.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.create_table(organizations()).await?;
        manager.create_table(users()).await?;
        manager.create_table(memberships()).await?;
        manager.create_table(sessions()).await?;
        manager.create_table(audit_events()).await?;
        for index in indexes() {
            manager.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            AuditEvents::Table.into_iden(),
            Sessions::Table.into_iden(),
            Memberships::Table.into_iden(),
            Users::Table.into_iden(),
            Organizations::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

fn organizations() -> TableCreateStatement {
    Table::create()
        .table(Organizations::Table)
        .col(pk_uuid(Organizations::Id))
        .col(string_len_uniq(Organizations::Slug, 63))
        .col(string_len(Organizations::Name, 120))
        .col(boolean(Organizations::RequireSso).default(false))
        .col(timestamp_with_time_zone(Organizations::CreatedAt))
        .to_owned()
}

fn users() -> TableCreateStatement {
    Table::create()
        .table(Users::Table)
        .col(pk_uuid(Users::Id))
        .col(uuid(Users::OrgId))
        .col(string_len(Users::Email, 254))
        // Lower-cased email: uniqueness per organization ignores case.
        .col(string_len(Users::EmailNormalized, 254))
        .col(string_len(Users::FirstName, 120).default(""))
        .col(string_len(Users::LastName, 120).default(""))
        // Null for accounts that can only sign in through SSO.
        .col(text_null(Users::PasswordHash))
        .col(boolean(Users::Active).default(true))
        .col(timestamp_with_time_zone(Users::CreatedAt))
        .col(timestamp_with_time_zone(Users::UpdatedAt))
        .foreign_key(
            ForeignKey::create()
                .from(Users::Table, Users::OrgId)
                .to(Organizations::Table, Organizations::Id)
                .on_delete(ForeignKeyAction::Cascade),
        )
        .to_owned()
}

fn memberships() -> TableCreateStatement {
    Table::create()
        .table(Memberships::Table)
        .col(pk_uuid(Memberships::Id))
        .col(uuid(Memberships::OrgId))
        .col(uuid(Memberships::UserId))
        .col(string_len(Memberships::Role, 32))
        .col(timestamp_with_time_zone(Memberships::CreatedAt))
        .foreign_key(
            ForeignKey::create()
                .from(Memberships::Table, Memberships::OrgId)
                .to(Organizations::Table, Organizations::Id)
                .on_delete(ForeignKeyAction::Cascade),
        )
        .foreign_key(
            ForeignKey::create()
                .from(Memberships::Table, Memberships::UserId)
                .to(Users::Table, Users::Id)
                .on_delete(ForeignKeyAction::Cascade),
        )
        .to_owned()
}

fn sessions() -> TableCreateStatement {
    Table::create()
        .table(Sessions::Table)
        // SHA-256 of the cookie value: a copy of the table opens no session.
        .col(string_len(Sessions::TokenHash, 64).primary_key())
        .col(uuid(Sessions::UserId))
        .col(uuid(Sessions::OrgId))
        .col(string_len(Sessions::Method, 32))
        .col(string_len_null(Sessions::ClientIp, 64))
        .col(timestamp_with_time_zone(Sessions::CreatedAt))
        .col(timestamp_with_time_zone(Sessions::ExpiresAt))
        .foreign_key(
            ForeignKey::create()
                .from(Sessions::Table, Sessions::UserId)
                .to(Users::Table, Users::Id)
                .on_delete(ForeignKeyAction::Cascade),
        )
        .to_owned()
}

fn audit_events() -> TableCreateStatement {
    Table::create()
        .table(AuditEvents::Table)
        .col(pk_uuid(AuditEvents::Id))
        // Null for events that belong to no organization (an unknown email).
        .col(uuid_null(AuditEvents::OrgId))
        .col(uuid_null(AuditEvents::ActorUserId))
        .col(string_len(AuditEvents::Actor, 254))
        .col(string_len(AuditEvents::Action, 64))
        .col(string_len(AuditEvents::Outcome, 32))
        .col(text(AuditEvents::Detail))
        .col(string_len_null(AuditEvents::ClientIp, 64))
        .col(timestamp_with_time_zone(AuditEvents::CreatedAt))
        .to_owned()
}

fn indexes() -> Vec<IndexCreateStatement> {
    vec![
        Index::create()
            .name("ux_users_org_email")
            .table(Users::Table)
            .col(Users::OrgId)
            .col(Users::EmailNormalized)
            .unique()
            .to_owned(),
        Index::create()
            .name("ix_users_email")
            .table(Users::Table)
            .col(Users::EmailNormalized)
            .to_owned(),
        Index::create()
            .name("ux_memberships_user")
            .table(Memberships::Table)
            .col(Memberships::UserId)
            .unique()
            .to_owned(),
        Index::create()
            .name("ix_memberships_org")
            .table(Memberships::Table)
            .col(Memberships::OrgId)
            .to_owned(),
        Index::create()
            .name("ix_sessions_user")
            .table(Sessions::Table)
            .col(Sessions::UserId)
            .to_owned(),
        Index::create()
            .name("ix_audit_org_time")
            .table(AuditEvents::Table)
            .col(AuditEvents::OrgId)
            .col(AuditEvents::CreatedAt)
            .to_owned(),
    ]
}

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
    Slug,
    Name,
    RequireSso,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    OrgId,
    Email,
    EmailNormalized,
    FirstName,
    LastName,
    PasswordHash,
    Active,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Memberships {
    Table,
    Id,
    OrgId,
    UserId,
    Role,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    TokenHash,
    UserId,
    OrgId,
    Method,
    ClientIp,
    CreatedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum AuditEvents {
    Table,
    Id,
    OrgId,
    ActorUserId,
    Actor,
    Action,
    Outcome,
    Detail,
    ClientIp,
    CreatedAt,
}
