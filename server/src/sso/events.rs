//! The per-connection event log: every SSO sign-in and test, with what the
//! identity provider sent and, on failure, the diagnosis.

use crate::db::Script;
use crate::entities::sso_event::{ActiveModel, Column, Entity, Model};
use chrono::Utc;
use rand::Rng;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use shared::sso_event::{ReceivedAttribute, SsoEvent, SsoEventKind};
use shared::{Diagnosis, DiagnosisCode};
use uuid::Uuid;

/// How many events a connection page lists.
pub const RECENT_EVENTS: u64 = 50;

/// What happened, to be recorded.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub connection_id: Uuid,
    pub org_id: Uuid,
    pub kind: SsoEventKind,
    pub subject: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub attributes: Vec<ReceivedAttribute>,
    pub user_id: Option<Uuid>,
    pub outcome: Result<(), Diagnosis>,
}

impl NewEvent {
    pub fn failure(
        connection_id: Uuid,
        org_id: Uuid,
        kind: SsoEventKind,
        diagnosis: Diagnosis,
    ) -> Self {
        Self {
            connection_id,
            org_id,
            kind,
            subject: String::new(),
            email: String::new(),
            first_name: String::new(),
            last_name: String::new(),
            attributes: Vec::new(),
            user_id: None,
            outcome: Err(diagnosis),
        }
    }
}

/// A short reference a member can read out: 8 characters without look-alikes.
fn new_reference() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
    let mut rng = rand::thread_rng();
    (0..8)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

/// Stores the event in its turn to write; returns its ID and reference.
pub async fn record(db: &DatabaseConnection, event: NewEvent) -> Result<(Uuid, String), DbErr> {
    let turn = crate::db::write_turn(db).await?;
    insert(turn.db(), event).await
}

/// Stores the event in a transaction that already holds its turn to write.
pub async fn insert(db: &impl ConnectionTrait, event: NewEvent) -> Result<(Uuid, String), DbErr> {
    let (row, id, reference) = row(event);
    Entity::insert(row).exec_without_returning(db).await?;
    Ok((id, reference))
}

/// Adds the event's row to a script; returns its ID and reference.
pub fn push(script: &mut Script, event: NewEvent) -> (Uuid, String) {
    let (row, id, reference) = row(event);
    script.push(&Entity::insert(row));
    (id, reference)
}

/// The event's row, its ID and its reference.
fn row(event: NewEvent) -> (ActiveModel, Uuid, String) {
    let id = crate::db::new_row_id();
    let reference = new_reference();
    let diagnosis = event.outcome.as_ref().err();
    let row = ActiveModel {
        id: Set(id),
        connection_id: Set(event.connection_id),
        org_id: Set(event.org_id),
        kind: Set(event.kind.key().to_string()),
        success: Set(event.outcome.is_ok()),
        code: Set(diagnosis.map(|d| d.code.code().to_string())),
        reference: Set(reference.clone()),
        subject: Set(clip(&event.subject, 512)),
        email: Set(clip(&event.email, 320)),
        first_name: Set(clip(&event.first_name, 200)),
        last_name: Set(clip(&event.last_name, 200)),
        attributes: Set(
            serde_json::to_string(&clip_attributes(event.attributes)).unwrap_or_default()
        ),
        expected: Set(diagnosis.and_then(|d| d.expected.as_deref().map(|v| clip(v, 2000)))),
        received: Set(diagnosis.and_then(|d| d.received.as_deref().map(|v| clip(v, 2000)))),
        detail: Set(diagnosis.and_then(|d| d.detail.as_deref().map(|v| clip(v, 2000)))),
        user_id: Set(event.user_id),
        created_at: Set(Utc::now()),
        request_id: crate::request_context::column(),
    };
    (row, id, reference)
}

/// The newest events of a connection, newest first.
pub async fn recent(
    db: &impl ConnectionTrait,
    connection_id: Uuid,
) -> Result<Vec<SsoEvent>, DbErr> {
    Ok(Entity::find()
        .filter(Column::ConnectionId.eq(connection_id))
        .order_by_desc(Column::CreatedAt)
        .limit(RECENT_EVENTS)
        .all(db)
        .await?
        .into_iter()
        .map(to_view)
        .collect())
}

pub async fn find(
    db: &impl ConnectionTrait,
    connection_id: Uuid,
    id: Uuid,
) -> Result<Option<SsoEvent>, DbErr> {
    Ok(Entity::find_by_id(id)
        .filter(Column::ConnectionId.eq(connection_id))
        .one(db)
        .await?
        .map(to_view))
}

fn to_view(model: Model) -> SsoEvent {
    let diagnosis = model
        .code
        .as_deref()
        .and_then(DiagnosisCode::from_code)
        .map(|code| Diagnosis {
            code,
            expected: model.expected.clone(),
            received: model.received.clone(),
            detail: model.detail.clone(),
        });
    SsoEvent {
        id: model.id.to_string(),
        at: model.created_at.timestamp(),
        kind: SsoEventKind::from_key(&model.kind).unwrap_or(SsoEventKind::SignIn),
        success: model.success,
        reference: model.reference,
        subject: model.subject,
        email: model.email,
        first_name: model.first_name,
        last_name: model.last_name,
        attributes: serde_json::from_str(&model.attributes).unwrap_or_default(),
        diagnosis,
        request_id: model.request_id,
    }
}

/// Shortens a value an identity provider (or an attacker) chose. NUL is
/// dropped: PostgreSQL text cannot hold it, and it never means anything here.
fn clip(value: &str, max_chars: usize) -> String {
    value
        .chars()
        .filter(|c| *c != '\0')
        .take(max_chars)
        .collect()
}

/// Attributes are shown to admins, not archived: keep each event small.
fn clip_attributes(attributes: Vec<ReceivedAttribute>) -> Vec<ReceivedAttribute> {
    attributes
        .into_iter()
        .take(100)
        .map(|a| ReceivedAttribute {
            name: clip(&a.name, 256),
            values: a.values.iter().take(20).map(|v| clip(v, 512)).collect(),
        })
        .collect()
}
