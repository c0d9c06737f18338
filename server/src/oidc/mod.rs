//! The OpenID Connect relying party: no HTML, no UI knowledge.
//!
//! `discovery` reads the provider's endpoints when an admin saves a connection;
//! `request` builds the authorization request; `token` exchanges the code and
//! checks the ID token; `claims` reads the person from the claims.

pub mod claims;
pub mod discovery;
pub mod http_client;
pub mod jwks;
pub mod logout;
pub mod request;
pub mod token;

use shared::doctor::DiscoveredEndpoints;

/// What a connection needs to run a sign-in, read from its saved settings.
#[derive(Debug, Clone)]
pub struct OidcSettings {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    pub redirect_uri: String,
    pub endpoints: DiscoveredEndpoints,
}

/// Clock skew tolerated on `exp` and `iat`, as for SAML.
pub const CLOCK_SKEW_SECS: i64 = 120;
