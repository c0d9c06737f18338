use sea_orm::entity::prelude::*;

/// One SSO sign-in or test on a connection, as its event log shows it.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sso_events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub connection_id: Uuid,
    pub org_id: Uuid,
    /// `sign_in` or `test`.
    pub kind: String,
    pub success: bool,
    pub code: Option<String>,
    pub reference: String,
    /// The SAML NameID or the OIDC `sub`.
    pub subject: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    /// JSON list of `[name, [values…]]`.
    pub attributes: String,
    pub expected: Option<String>,
    pub received: Option<String>,
    pub detail: Option<String>,
    pub user_id: Option<Uuid>,
    pub created_at: DateTimeUtc,
    /// The HTTP request that wrote the row (its `X-Request-Id`), if any.
    pub request_id: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
