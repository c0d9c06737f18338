use sea_orm::entity::prelude::*;

/// An organization's claim of an email domain for "Sign in with SSO". Only a
/// verified claim routes sign-ins; at most one claim of a domain is verified
/// (a partial unique index), while several may be pending.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "org_domain_claims")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub org_id: Uuid,
    /// Lower-case, without a trailing dot.
    #[sea_orm(primary_key, auto_increment = false)]
    pub domain: String,
    /// The value to publish at `_latchkey-challenge.<domain>`. Not a secret:
    /// it is public once in DNS; what matters is that it is this claim's own.
    pub token: String,
    pub created_at: DateTimeUtc,
    pub verified_at: Option<DateTimeUtc>,
    /// When Verify last looked the record up.
    pub checked_at: Option<DateTimeUtc>,
    /// JSON `shared::domain::DomainCheckFailure` of the last unsuccessful check.
    pub check_failure: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
