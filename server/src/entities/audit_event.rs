use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub org_id: Option<Uuid>,
    pub actor_user_id: Option<Uuid>,
    /// Who acted: an email, or `cli` for the operator's commands.
    pub actor: String,
    pub action: String,
    /// `success` or `failure`.
    pub outcome: String,
    /// JSON object with the details; never a password, token or secret.
    pub detail: String,
    pub client_ip: Option<String>,
    pub created_at: DateTimeUtc,
    /// The HTTP request that wrote the row (its `X-Request-Id`), if any.
    pub request_id: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
