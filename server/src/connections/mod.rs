//! SSO connections: storing them per organization and presenting them to the
//! settings pages (service-provider URLs, saved settings, doctor checks).

pub mod service;
pub mod sp_keys;
pub mod store;
pub mod view;

use url::Url;
use uuid::Uuid;

/// The absolute URLs an admin copies into their identity provider, all built
/// from the configured public URL.
#[derive(Debug, Clone)]
pub struct PublicUrls {
    base: String,
}

impl PublicUrls {
    pub fn new(public_url: &Url) -> Self {
        Self {
            base: public_url.as_str().trim_end_matches('/').to_string(),
        }
    }

    pub fn acs_url(&self, connection: Uuid) -> String {
        format!("{}/sso/saml/{connection}/acs", self.base)
    }

    /// The SP entity ID is the metadata URL: unique per connection and resolvable.
    pub fn sp_entity_id(&self, connection: Uuid) -> String {
        self.metadata_url(connection)
    }

    pub fn metadata_url(&self, connection: Uuid) -> String {
        format!("{}/sso/saml/{connection}/metadata", self.base)
    }

    pub fn redirect_uri(&self, connection: Uuid) -> String {
        format!("{}/sso/oidc/{connection}/callback", self.base)
    }

    /// The SAML Single Logout service, for both bindings.
    pub fn slo_url(&self, connection: Uuid) -> String {
        format!("{}/sso/saml/{connection}/slo", self.base)
    }

    /// Where an OpenID Provider sends the member back after logging out.
    pub fn post_logout_redirect_uri(&self, connection: Uuid) -> String {
        format!("{}/sso/oidc/{connection}/logout", self.base)
    }

    /// Where an OpenID Provider POSTs its back-channel logout tokens.
    pub fn backchannel_logout_uri(&self, connection: Uuid) -> String {
        format!("{}/sso/oidc/{connection}/backchannel-logout", self.base)
    }

    pub fn login_url(&self, org_slug: &str) -> String {
        format!("{}/login/{org_slug}", self.base)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_follow_the_public_url() {
        let urls = PublicUrls::new(&Url::parse("https://sso.example.com/").unwrap());
        let id = Uuid::nil();
        assert_eq!(
            urls.acs_url(id),
            "https://sso.example.com/sso/saml/00000000-0000-0000-0000-000000000000/acs"
        );
        assert!(urls.sp_entity_id(id).ends_with("/metadata"));
        assert!(urls.redirect_uri(id).ends_with("/callback"));
        assert_eq!(urls.login_url("acme"), "https://sso.example.com/login/acme");
    }
}
