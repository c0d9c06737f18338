//! What a host app learns about a member: the ID token and the userinfo
//! answer carry the same claims (SPEC §14). `openid` alone gives the
//! organization claims; `email` and `profile` add theirs (OIDC Core §5.4).

use super::codes::Authentication;
use crate::accounts::{self, Account};
use crate::entities::{scim_group, scim_group_member};
use chrono::{DateTime, Utc};
use openidconnect::core::{
    CoreGenderClaim, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm,
    CoreRsaPrivateSigningKey,
};
use openidconnect::{
    AccessToken, AdditionalClaims, Audience, AuthenticationMethodReference, AuthorizationCode,
    EndUserEmail, EndUserFamilyName, EndUserGivenName, EndUserName, IdToken, IdTokenClaims,
    IssuerUrl, LocalizedClaim, Nonce, StandardClaims, SubjectIdentifier,
};
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Latchkey's own claims, beside the standard ones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrganizationClaims {
    pub org_id: String,
    pub org_slug: String,
    /// Display names of the SCIM groups the member is in.
    pub groups: Vec<String>,
    /// `integrations_admin` or `member`.
    pub role: String,
    /// The SSO connection the member signed in through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idp: Option<String>,
    /// The member's Latchkey session (OIDC Back-Channel Logout §2.1): a
    /// logout token names it. In ID tokens only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
}

impl AdditionalClaims for OrganizationClaims {}

pub type HostIdToken = IdToken<
    OrganizationClaims,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;

/// A member as host apps see them.
#[derive(Debug, Clone)]
pub struct Member {
    pub account: Account,
    pub groups: Vec<String>,
    /// Whether the email's domain is one the organization proved in DNS.
    pub email_verified: bool,
}

/// The member with this id, when the account is still active.
pub async fn member(db: &DatabaseConnection, user_id: Uuid) -> Result<Option<Member>, DbErr> {
    let Some(account) = accounts::account_by_id(db, user_id).await? else {
        return Ok(None);
    };
    if !account.user.active {
        return Ok(None);
    }
    let group_ids: Vec<Uuid> = scim_group_member::Entity::find()
        .filter(scim_group_member::Column::UserId.eq(user_id))
        .all(db)
        .await?
        .into_iter()
        .map(|m| m.group_id)
        .collect();
    let groups = if group_ids.is_empty() {
        Vec::new()
    } else {
        scim_group::Entity::find()
            .filter(scim_group::Column::Id.is_in(group_ids))
            .order_by_asc(scim_group::Column::DisplayName)
            .all(db)
            .await?
            .into_iter()
            .map(|g| g.display_name)
            .collect()
    };
    let email_verified = match shared::domain::email_domain(&account.user.email) {
        Some(domain) => {
            crate::domains::store::verified_owner(db, &domain).await? == Some(account.org.id)
        }
        None => false,
    };
    Ok(Some(Member {
        account,
        groups,
        email_verified,
    }))
}

/// Which claim groups a scope string asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scopes {
    pub email: bool,
    pub profile: bool,
}

impl Scopes {
    pub fn parse(scope: &str) -> Self {
        let has = |name| scope.split(' ').any(|s| s == name);
        Self {
            email: has("email"),
            profile: has("profile"),
        }
    }
}

fn organization_claims(member: &Member, auth: &Authentication) -> OrganizationClaims {
    OrganizationClaims {
        org_id: member.account.org.id.to_string(),
        org_slug: member.account.org.slug.clone(),
        groups: member.groups.clone(),
        role: member.account.role.as_str().to_string(),
        idp: auth.idp.map(|id| id.to_string()),
        sid: None,
    }
}

fn full_name(member: &Member) -> String {
    let user = &member.account.user;
    format!("{} {}", user.first_name, user.last_name)
        .trim()
        .to_string()
}

fn standard_claims(member: &Member, scopes: Scopes) -> StandardClaims<CoreGenderClaim> {
    let user = &member.account.user;
    let mut claims = StandardClaims::new(SubjectIdentifier::new(user.id.to_string()));
    if scopes.email {
        claims = claims
            .set_email(Some(EndUserEmail::new(user.email.clone())))
            .set_email_verified(Some(member.email_verified));
    }
    if scopes.profile {
        let non_empty = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_string());
        claims = claims
            .set_name(
                non_empty(&full_name(member)).map(|n| LocalizedClaim::from(EndUserName::new(n))),
            )
            .set_given_name(
                non_empty(&user.first_name).map(|n| LocalizedClaim::from(EndUserGivenName::new(n))),
            )
            .set_family_name(
                non_empty(&user.last_name).map(|n| LocalizedClaim::from(EndUserFamilyName::new(n))),
            );
    }
    claims
}

/// Everything an ID token needs besides the member.
pub struct IdTokenRequest<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub scope: &'a str,
    pub nonce: Option<&'a str>,
    pub auth: &'a Authentication,
    pub access_token: &'a str,
    pub code: &'a str,
    pub sid: Option<&'a str>,
    pub now: DateTime<Utc>,
}

pub fn id_token(
    member: &Member,
    request: IdTokenRequest<'_>,
    key: &CoreRsaPrivateSigningKey,
) -> Result<String, String> {
    let issuer = IssuerUrl::new(request.issuer.to_string()).map_err(|e| e.to_string())?;
    let claims = IdTokenClaims::new(
        issuer,
        vec![Audience::new(request.client_id.to_string())],
        request.now + super::keys::ID_TOKEN_LIFETIME,
        request.now,
        standard_claims(member, Scopes::parse(request.scope)),
        OrganizationClaims {
            sid: request.sid.map(str::to_string),
            ..organization_claims(member, request.auth)
        },
    )
    .set_auth_time(Some(request.auth.time))
    .set_nonce(request.nonce.map(|n| Nonce::new(n.to_string())))
    .set_auth_method_refs(Some(vec![AuthenticationMethodReference::new(
        request.auth.method.clone(),
    )]));
    let token = HostIdToken::new(
        claims,
        key,
        CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        Some(&AccessToken::new(request.access_token.to_string())),
        Some(&AuthorizationCode::new(request.code.to_string())),
    )
    .map_err(|e| e.to_string())?;
    Ok(token.to_string())
}

/// The userinfo answer: the ID token's member claims, as plain JSON.
pub fn userinfo(member: &Member, scope: &str, auth: &Authentication) -> serde_json::Value {
    let mut claims = serde_json::to_value(standard_claims(member, Scopes::parse(scope)))
        .unwrap_or_else(|_| serde_json::json!({}));
    let extra = serde_json::to_value(organization_claims(member, auth)).unwrap_or_default();
    if let (Some(object), Some(extra)) = (claims.as_object_mut(), extra.as_object()) {
        object.extend(extra.clone());
        object.insert("amr".into(), serde_json::json!([auth.method]));
        object.insert("auth_time".into(), serde_json::json!(auth.time.timestamp()));
    }
    claims
}
