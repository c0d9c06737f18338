//! Settings > Members: who is in the organization, where each account came
//! from, and what an Integrations Admin may change by hand.

use crate::audit::AuditRow;
use crate::Role;
use serde::{Deserialize, Serialize};

/// Rows per page of the members list.
pub const MEMBERS_PAGE_SIZE: u64 = 25;
/// The longest search the list accepts (an email is at most 320 characters).
pub const MAX_SEARCH_LEN: usize = 320;
/// Audit events shown on a member's detail.
pub const RECENT_EVENTS: u64 = 20;

/// Visible labels (SPEC §4); browser tests find controls by these names.
pub mod label {
    pub const SEARCH: &str = "Search members";
    pub const DEACTIVATE: &str = "Deactivate";
    pub const REACTIVATE: &str = "Reactivate";
    pub const END_SESSIONS: &str = "End sessions";
    pub const MAKE_ADMIN: &str = "Make Integrations Admin";
    pub const REMOVE_ADMIN: &str = "Remove Integrations Admin";
}

/// How an account came to exist. Stored as `as_str`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemberSource {
    /// Created by an operator or a setup link, with a password.
    Manual,
    /// Created just in time by a first SSO sign-in.
    Sso,
    /// Created or taken over by the IdP through SCIM provisioning.
    Scim,
}

impl MemberSource {
    pub fn as_str(self) -> &'static str {
        match self {
            MemberSource::Manual => "manual",
            MemberSource::Sso => "sso",
            MemberSource::Scim => "scim",
        }
    }

    pub fn parse(stored: &str) -> Option<Self> {
        [Self::Manual, Self::Sso, Self::Scim]
            .into_iter()
            .find(|s| s.as_str() == stored)
    }

    pub fn label(self) -> &'static str {
        match self {
            MemberSource::Manual => "Created by hand",
            MemberSource::Sso => "SSO (just in time)",
            MemberSource::Scim => "SCIM",
        }
    }
}

/// What an admin can do to a member by hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemberAction {
    Deactivate,
    Reactivate,
    EndSessions,
    MakeAdmin,
    RemoveAdmin,
}

impl MemberAction {
    pub fn label(self) -> &'static str {
        match self {
            MemberAction::Deactivate => label::DEACTIVATE,
            MemberAction::Reactivate => label::REACTIVATE,
            MemberAction::EndSessions => label::END_SESSIONS,
            MemberAction::MakeAdmin => label::MAKE_ADMIN,
            MemberAction::RemoveAdmin => label::REMOVE_ADMIN,
        }
    }

    /// What the page announces once the change is made.
    pub fn done(self, name: &str) -> String {
        match self {
            MemberAction::Deactivate => format!("{name} is deactivated and signed out everywhere."),
            MemberAction::Reactivate => format!("{name} is active again and can sign in."),
            MemberAction::EndSessions => format!("{name} is signed out of every browser."),
            MemberAction::MakeAdmin => format!("{name} is now an Integrations Admin."),
            MemberAction::RemoveAdmin => format!("{name} is no longer an Integrations Admin."),
        }
    }

    /// What happens, shown beside the button.
    pub fn consequence(self) -> &'static str {
        match self {
            MemberAction::Deactivate => {
                "They are signed out everywhere and can't sign in until someone reactivates them."
            }
            MemberAction::Reactivate => "They can sign in again.",
            MemberAction::EndSessions => {
                "They are signed out of every browser now and can sign in again right away."
            }
            MemberAction::MakeAdmin => {
                "They can change how the organization signs in and provisions accounts."
            }
            MemberAction::RemoveAdmin => "They keep their account but lose access to Settings.",
        }
    }
}

/// Why a change by hand was refused. Checked by the server; the page offers
/// only the actions `allowed_actions` returns, so these are for races and
/// hand-made requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MemberRefusal {
    ManagedByScim,
    LastAdmin,
    OwnAccount,
    NotApplicable,
}

impl MemberRefusal {
    pub fn code(&self) -> &'static str {
        match self {
            MemberRefusal::ManagedByScim => "managed_by_scim",
            MemberRefusal::LastAdmin => "last_admin",
            MemberRefusal::OwnAccount => "own_account",
            MemberRefusal::NotApplicable => "not_applicable",
        }
    }

    /// What the admin reads.
    pub fn message(&self) -> &'static str {
        match self {
            MemberRefusal::ManagedByScim => {
                "Your identity provider manages this member through SCIM. Change them there; the change reaches Latchkey at the next sync."
            }
            MemberRefusal::LastAdmin => {
                "This is the organization's last active Integrations Admin. Make someone else an Integrations Admin first."
            }
            MemberRefusal::OwnAccount => {
                "You can't deactivate your own account or remove your own admin role. Ask another Integrations Admin."
            }
            MemberRefusal::NotApplicable => {
                "That doesn't apply to this member as they are now. Reload the page to see their current state."
            }
        }
    }
}

/// What the rules need to know about a member and who is acting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActionContext {
    pub active: bool,
    pub role: Role,
    pub managed_by_scim: bool,
    pub is_self: bool,
    /// Active Integrations Admins in the organization, this member included.
    pub active_admins: u64,
}

/// Whether `action` may be taken now, and if not, why. The one place these
/// rules live: the page asks it to choose its buttons, the server to decide.
pub fn check_action(action: MemberAction, ctx: ActionContext) -> Result<(), MemberRefusal> {
    let admin = ctx.role == Role::IntegrationsAdmin;
    let last_admin = admin && ctx.active && ctx.active_admins <= 1;
    let applies = match action {
        MemberAction::Deactivate => ctx.active,
        MemberAction::Reactivate => !ctx.active,
        MemberAction::EndSessions => true,
        MemberAction::MakeAdmin => !admin,
        MemberAction::RemoveAdmin => admin,
    };
    if !applies {
        return Err(MemberRefusal::NotApplicable);
    }
    let removes_access = matches!(action, MemberAction::Deactivate | MemberAction::RemoveAdmin);
    // Ending sessions signs a member out but changes nothing the IdP owns.
    if ctx.managed_by_scim && action != MemberAction::EndSessions {
        return Err(MemberRefusal::ManagedByScim);
    }
    if removes_access && ctx.is_self {
        return Err(MemberRefusal::OwnAccount);
    }
    if removes_access && last_admin {
        return Err(MemberRefusal::LastAdmin);
    }
    Ok(())
}

/// The actions the page offers for a member, in display order.
pub fn allowed_actions(ctx: ActionContext) -> Vec<MemberAction> {
    [
        MemberAction::Deactivate,
        MemberAction::Reactivate,
        MemberAction::EndSessions,
        MemberAction::MakeAdmin,
        MemberAction::RemoveAdmin,
    ]
    .into_iter()
    .filter(|a| check_action(*a, ctx).is_ok())
    .collect()
}

/// A search and page of the members list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberQuery {
    /// Part of a name or email, case-insensitive.
    pub search: String,
    /// Only the members of this SCIM group (its id).
    pub group: Option<String>,
    /// From 0.
    pub page: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastSignIn {
    /// Unix seconds.
    pub at: i64,
    /// How, as `sign_in_method_label` names it.
    pub method: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberRow {
    pub id: String,
    pub name: String,
    pub email: String,
    pub role: Role,
    pub active: bool,
    pub source: MemberSource,
    pub last_sign_in: Option<LastSignIn>,
    pub groups: Vec<String>,
    /// SCIM created or took over this account and provisioning is on.
    pub managed_by_scim: bool,
    /// What the admin looking at the row may do (`allowed_actions`).
    pub allowed: Vec<MemberAction>,
}

impl MemberRow {
    /// The name, or the email for an account that has none (SCIM may send none).
    pub fn display_name(&self) -> &str {
        if self.name.is_empty() {
            &self.email
        } else {
            &self.name
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MembersPage {
    pub rows: Vec<MemberRow>,
    pub page: u64,
    /// Members matching the search.
    pub total: u64,
    pub has_next: bool,
    /// The organization's SCIM groups by name (at most `MAX_GROUPS_LISTED`).
    pub groups: Vec<GroupSummary>,
    /// The group the list is filtered by, if any.
    pub group: Option<GroupSummary>,
    /// SCIM provisioning is on: members it created are read-only here.
    pub scim_enabled: bool,
}

/// A group the IdP provisioned; the list filtered by it shows its members.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupSummary {
    pub id: String,
    pub name: String,
    pub member_count: u64,
}

/// Groups listed on the members page; more are reachable by search in the IdP.
pub const MAX_GROUPS_LISTED: u64 = 100;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberDetail {
    pub member: MemberRow,
    pub live_sessions: u64,
    /// Unix seconds.
    pub created_at: i64,
    /// This member's own and others' audit events about them, newest first.
    pub recent_events: Vec<AuditRow>,
}

/// A stored session method as the members list names it.
pub fn sign_in_method_label(stored: &str) -> &'static str {
    match stored {
        "password" => "Password",
        "break_glass" => "Password (break-glass)",
        "saml" => "SAML",
        "oidc" => "OIDC",
        "setup_link" => "Setup link",
        _ => "Other",
    }
}

/// The status word shown for a member.
pub fn status_label(active: bool) -> &'static str {
    if active {
        "Active"
    } else {
        "Deactivated"
    }
}

/// Trims a search and refuses one longer than any email.
pub fn normalize_search(search: &str) -> Result<String, String> {
    let trimmed = search.trim();
    if trimmed.chars().count() > MAX_SEARCH_LEN {
        return Err(format!("Search for at most {MAX_SEARCH_LEN} characters."));
    }
    Ok(trimmed.to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> ActionContext {
        ActionContext {
            active: true,
            role: Role::Member,
            managed_by_scim: false,
            is_self: false,
            active_admins: 2,
        }
    }

    #[test]
    fn an_active_member_can_be_deactivated_signed_out_and_promoted() {
        assert_eq!(
            allowed_actions(ctx()),
            vec![
                MemberAction::Deactivate,
                MemberAction::EndSessions,
                MemberAction::MakeAdmin
            ]
        );
        let inactive = ActionContext {
            active: false,
            ..ctx()
        };
        assert_eq!(
            allowed_actions(inactive),
            vec![
                MemberAction::Reactivate,
                MemberAction::EndSessions,
                MemberAction::MakeAdmin
            ]
        );
    }

    #[test]
    fn scim_managed_members_can_only_be_signed_out() {
        let managed = ActionContext {
            managed_by_scim: true,
            ..ctx()
        };
        assert_eq!(allowed_actions(managed), vec![MemberAction::EndSessions]);
        assert_eq!(
            check_action(MemberAction::Deactivate, managed),
            Err(MemberRefusal::ManagedByScim)
        );
    }

    #[test]
    fn the_last_admin_and_your_own_account_keep_their_access() {
        let last = ActionContext {
            role: Role::IntegrationsAdmin,
            active_admins: 1,
            ..ctx()
        };
        for action in [MemberAction::Deactivate, MemberAction::RemoveAdmin] {
            assert_eq!(check_action(action, last), Err(MemberRefusal::LastAdmin));
        }
        let own = ActionContext {
            role: Role::IntegrationsAdmin,
            is_self: true,
            ..ctx()
        };
        assert_eq!(
            check_action(MemberAction::Deactivate, own),
            Err(MemberRefusal::OwnAccount)
        );
        assert_eq!(check_action(MemberAction::EndSessions, own), Ok(()));
        let other_admin = ActionContext {
            role: Role::IntegrationsAdmin,
            ..ctx()
        };
        assert_eq!(check_action(MemberAction::RemoveAdmin, other_admin), Ok(()));
    }

    #[test]
    fn actions_that_do_not_fit_the_state_are_refused() {
        let inactive = ActionContext {
            active: false,
            ..ctx()
        };
        assert_eq!(
            check_action(MemberAction::Deactivate, inactive),
            Err(MemberRefusal::NotApplicable)
        );
        assert_eq!(
            check_action(MemberAction::RemoveAdmin, ctx()),
            Err(MemberRefusal::NotApplicable)
        );
    }

    #[test]
    fn sources_round_trip_and_searches_are_bounded() {
        for source in [MemberSource::Manual, MemberSource::Sso, MemberSource::Scim] {
            assert_eq!(MemberSource::parse(source.as_str()), Some(source));
        }
        assert_eq!(MemberSource::parse("ldap"), None);
        assert_eq!(normalize_search("  Ida "), Ok("ida".to_string()));
        assert!(normalize_search(&"a".repeat(MAX_SEARCH_LEN + 1)).is_err());
    }
}
