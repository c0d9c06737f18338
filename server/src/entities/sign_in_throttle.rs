use sea_orm::entity::prelude::*;

/// Failed sign-ins counted for one account or one client address, shared by
/// every instance through the database.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sign_in_throttle")]
pub struct Model {
    /// `account` or `address`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub kind: String,
    /// The normalized email, or the client address (an IPv6 client's /64).
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    pub failures: i32,
    /// Unix milliseconds.
    pub window_started_ms: i64,
    /// Unix milliseconds; 0 when not blocked.
    pub blocked_until_ms: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
