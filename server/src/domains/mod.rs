//! Email domains an organization claims for "Sign in with SSO", and the DNS
//! proof that makes a claim route sign-ins.
//!
//! The rule (a mature product's, e.g. the way WorkOS or Atlassian verify
//! domains): anyone may claim a domain, several organizations may hold pending
//! claims of the same one, and a claim routes nothing until Verify finds the
//! claim's own token in a TXT record at `_latchkey-challenge.<domain>`. The
//! first organization to verify wins; the database lets only one claim of a
//! domain be verified. The others' claims stay in their lists marked "verified
//! by another organization" (never routing, never verifiable) until they remove
//! them, and become pending again if the winner gives the domain up. A squatter's
//! pending claim therefore blocks no one, and a verified domain cannot be taken.

pub mod dns;
pub mod store;

use crate::entities::org_domain;
use rand::RngCore;
use shared::domain::{challenge_record_name, DomainCheckFailure, DomainClaim, DomainStatus};

/// Every token starts with this, so admins recognise it in their DNS console.
pub const TOKEN_PREFIX: &str = "lkverify_";

/// A claim's token: 16 random bytes in hex. Public once published; what counts
/// is that each claim has its own, so one organization's record cannot
/// verify another's claim.
pub fn new_token() -> String {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("{TOKEN_PREFIX}{}", hex::encode(bytes))
}

/// The page's view of a stored claim; `taken` when another organization verified it.
pub fn view(claim: &org_domain::Model, taken: bool) -> DomainClaim {
    let status = if claim.verified_at.is_some() {
        DomainStatus::Verified
    } else if taken {
        DomainStatus::VerifiedElsewhere
    } else {
        DomainStatus::Pending
    };
    DomainClaim {
        record_name: challenge_record_name(&claim.domain),
        domain: claim.domain.clone(),
        status,
        record_value: claim.token.clone(),
        claimed_at: claim.created_at.timestamp(),
        verified_at: claim.verified_at.map(|t| t.timestamp()),
        checked_at: claim.checked_at.map(|t| t.timestamp()),
        last_failure: claim
            .check_failure
            .as_deref()
            .and_then(|json| serde_json::from_str::<DomainCheckFailure>(json).ok()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_recognisable() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert!(a.starts_with(TOKEN_PREFIX));
        assert_eq!(a.len(), TOKEN_PREFIX.len() + 32);
    }
}
