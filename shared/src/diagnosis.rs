//! Why a sign-in failed, in words an Integrations Admin can act on. Test
//! Connection and the sign-in error page both show the title, what it means,
//! how to fix it, and the expected and received values side by side.

use crate::catalogue::Protocol;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A stable reason for a failed sign-in. The code is what logs, audit rows and
/// outside tests see; the texts may improve over time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiagnosisCode {
    // Either protocol.
    ConnectionNotConfigured,
    UserDeactivated,
    ServerBusy,
    IdentityConflict,
    AdminLinkRequired,
    UserDeleted,
    // SAML.
    EmailAttributeMissing,
    InvalidSamlResponse,
    SignatureInvalid,
    CertificateMismatch,
    CertificateExpired,
    AudienceMismatch,
    AcsUrlMismatch,
    IssuerMismatch,
    ResponseExpired,
    ResponseReplayed,
    InResponseToUnknown,
    IdpInitiatedNotAllowed,
    IdpErrorStatus,
    BrowserMismatch,
    NameIdNotPersistent,
    AssertionNotEncrypted,
    AssertionUndecryptable,
    EncryptionAlgorithmRefused,
    // OpenID Connect.
    DiscoveryFailed,
    InvalidClient,
    RedirectUriMismatch,
    StateMismatch,
    NonceMismatch,
    IdTokenInvalid,
    TokenRequestFailed,
    EmailClaimMissing,
    EmailNotVerified,
    IdpError,
    // Single logout.
    LogoutUnsigned,
    LogoutSignatureInvalid,
    LogoutDestinationMismatch,
    LogoutRequestUnknown,
    LogoutFailedAtIdp,
}

impl DiagnosisCode {
    pub const ALL: &'static [DiagnosisCode] = &[
        DiagnosisCode::ConnectionNotConfigured,
        DiagnosisCode::UserDeactivated,
        DiagnosisCode::ServerBusy,
        DiagnosisCode::IdentityConflict,
        DiagnosisCode::AdminLinkRequired,
        DiagnosisCode::UserDeleted,
        DiagnosisCode::EmailAttributeMissing,
        DiagnosisCode::InvalidSamlResponse,
        DiagnosisCode::SignatureInvalid,
        DiagnosisCode::CertificateMismatch,
        DiagnosisCode::CertificateExpired,
        DiagnosisCode::AudienceMismatch,
        DiagnosisCode::AcsUrlMismatch,
        DiagnosisCode::IssuerMismatch,
        DiagnosisCode::ResponseExpired,
        DiagnosisCode::ResponseReplayed,
        DiagnosisCode::InResponseToUnknown,
        DiagnosisCode::IdpInitiatedNotAllowed,
        DiagnosisCode::IdpErrorStatus,
        DiagnosisCode::BrowserMismatch,
        DiagnosisCode::NameIdNotPersistent,
        DiagnosisCode::AssertionNotEncrypted,
        DiagnosisCode::AssertionUndecryptable,
        DiagnosisCode::EncryptionAlgorithmRefused,
        DiagnosisCode::DiscoveryFailed,
        DiagnosisCode::InvalidClient,
        DiagnosisCode::RedirectUriMismatch,
        DiagnosisCode::StateMismatch,
        DiagnosisCode::NonceMismatch,
        DiagnosisCode::IdTokenInvalid,
        DiagnosisCode::TokenRequestFailed,
        DiagnosisCode::EmailClaimMissing,
        DiagnosisCode::EmailNotVerified,
        DiagnosisCode::IdpError,
        DiagnosisCode::LogoutUnsigned,
        DiagnosisCode::LogoutSignatureInvalid,
        DiagnosisCode::LogoutDestinationMismatch,
        DiagnosisCode::LogoutRequestUnknown,
        DiagnosisCode::LogoutFailedAtIdp,
    ];

    /// The stable snake_case code; equal to the serde name.
    pub fn code(self) -> &'static str {
        match self {
            DiagnosisCode::ConnectionNotConfigured => "connection_not_configured",
            DiagnosisCode::UserDeactivated => "user_deactivated",
            DiagnosisCode::ServerBusy => "server_busy",
            DiagnosisCode::IdentityConflict => "identity_conflict",
            DiagnosisCode::AdminLinkRequired => "admin_link_required",
            DiagnosisCode::UserDeleted => "user_deleted",
            DiagnosisCode::EmailAttributeMissing => "email_attribute_missing",
            DiagnosisCode::InvalidSamlResponse => "invalid_saml_response",
            DiagnosisCode::SignatureInvalid => "signature_invalid",
            DiagnosisCode::CertificateMismatch => "certificate_mismatch",
            DiagnosisCode::CertificateExpired => "certificate_expired",
            DiagnosisCode::AudienceMismatch => "audience_mismatch",
            DiagnosisCode::AcsUrlMismatch => "acs_url_mismatch",
            DiagnosisCode::IssuerMismatch => "issuer_mismatch",
            DiagnosisCode::ResponseExpired => "response_expired",
            DiagnosisCode::ResponseReplayed => "response_replayed",
            DiagnosisCode::InResponseToUnknown => "in_response_to_unknown",
            DiagnosisCode::IdpInitiatedNotAllowed => "idp_initiated_not_allowed",
            DiagnosisCode::IdpErrorStatus => "idp_error_status",
            DiagnosisCode::BrowserMismatch => "browser_mismatch",
            DiagnosisCode::NameIdNotPersistent => "name_id_not_persistent",
            DiagnosisCode::AssertionNotEncrypted => "assertion_not_encrypted",
            DiagnosisCode::AssertionUndecryptable => "assertion_undecryptable",
            DiagnosisCode::EncryptionAlgorithmRefused => "encryption_algorithm_refused",
            DiagnosisCode::DiscoveryFailed => "discovery_failed",
            DiagnosisCode::InvalidClient => "invalid_client",
            DiagnosisCode::RedirectUriMismatch => "redirect_uri_mismatch",
            DiagnosisCode::StateMismatch => "state_mismatch",
            DiagnosisCode::NonceMismatch => "nonce_mismatch",
            DiagnosisCode::IdTokenInvalid => "id_token_invalid",
            DiagnosisCode::TokenRequestFailed => "token_request_failed",
            DiagnosisCode::EmailClaimMissing => "email_claim_missing",
            DiagnosisCode::EmailNotVerified => "email_not_verified",
            DiagnosisCode::IdpError => "idp_error",
            DiagnosisCode::LogoutUnsigned => "logout_unsigned",
            DiagnosisCode::LogoutSignatureInvalid => "logout_signature_invalid",
            DiagnosisCode::LogoutDestinationMismatch => "logout_destination_mismatch",
            DiagnosisCode::LogoutRequestUnknown => "logout_request_unknown",
            DiagnosisCode::LogoutFailedAtIdp => "logout_failed_at_idp",
        }
    }

    /// The inverse of [`DiagnosisCode::code`]; exact match only.
    pub fn from_code(code: &str) -> Option<DiagnosisCode> {
        DiagnosisCode::ALL
            .iter()
            .copied()
            .find(|c| c.code() == code)
    }

    /// The protocol the failure belongs to; `None` when it can happen with either.
    pub fn protocol(self) -> Option<Protocol> {
        use DiagnosisCode::*;
        match self {
            ConnectionNotConfigured
            | UserDeactivated
            | ServerBusy
            | IdentityConflict
            | AdminLinkRequired
            | UserDeleted
            | LogoutRequestUnknown
            | LogoutFailedAtIdp => None,
            EmailAttributeMissing
            | InvalidSamlResponse
            | SignatureInvalid
            | CertificateMismatch
            | CertificateExpired
            | AudienceMismatch
            | AcsUrlMismatch
            | IssuerMismatch
            | ResponseExpired
            | ResponseReplayed
            | InResponseToUnknown
            | IdpInitiatedNotAllowed
            | IdpErrorStatus
            | BrowserMismatch
            | NameIdNotPersistent
            | AssertionNotEncrypted
            | AssertionUndecryptable
            | EncryptionAlgorithmRefused
            | LogoutUnsigned
            | LogoutSignatureInvalid
            | LogoutDestinationMismatch => Some(Protocol::Saml),
            DiscoveryFailed | InvalidClient | RedirectUriMismatch | StateMismatch
            | NonceMismatch | IdTokenInvalid | TokenRequestFailed | EmailClaimMissing
            | EmailNotVerified | IdpError => Some(Protocol::Oidc),
        }
    }

    /// A short heading.
    pub fn title(self) -> &'static str {
        use DiagnosisCode::*;
        match self {
            ConnectionNotConfigured => "Connection not fully configured",
            UserDeactivated => "User deactivated",
            ServerBusy => "Too busy to check the sign-in",
            IdentityConflict => "Account belongs to a different identity",
            AdminLinkRequired => "Admin must link their SSO identity first",
            UserDeleted => "Account was deleted by provisioning",
            EmailAttributeMissing => "Email attribute missing",
            InvalidSamlResponse => "Invalid SAML response",
            SignatureInvalid => "Signature does not verify",
            CertificateMismatch => "Signed with a different certificate",
            CertificateExpired => "Certificate expired",
            AudienceMismatch => "Audience mismatch",
            AcsUrlMismatch => "ACS URL mismatch",
            IssuerMismatch => "Issuer mismatch",
            ResponseExpired => "Response expired or not yet valid",
            ResponseReplayed => "Response already used",
            InResponseToUnknown => "Response to an unknown sign-in request",
            IdpInitiatedNotAllowed => "Sign-in started at the identity provider is turned off",
            IdpErrorStatus => "Identity provider reported an error",
            BrowserMismatch => "Sign-in finished in a different browser",
            NameIdNotPersistent => "NameID changes at every sign-in",
            AssertionNotEncrypted => "Assertion not encrypted",
            AssertionUndecryptable => "Assertion encrypted for another key",
            EncryptionAlgorithmRefused => "Encryption algorithm not accepted",
            DiscoveryFailed => "Endpoint discovery failed",
            InvalidClient => "Client ID or secret rejected",
            RedirectUriMismatch => "Redirect URI mismatch",
            StateMismatch => "Sign-in session not recognised",
            NonceMismatch => "Nonce mismatch",
            IdTokenInvalid => "ID token rejected",
            TokenRequestFailed => "Token request failed",
            EmailClaimMissing => "Email claim missing",
            EmailNotVerified => "Email address not verified",
            IdpError => "Identity provider returned an error",
            LogoutUnsigned => "Logout message not signed",
            LogoutSignatureInvalid => "Logout signature rejected",
            LogoutDestinationMismatch => "Logout sent to the wrong address",
            LogoutRequestUnknown => "Logout answer not recognised",
            LogoutFailedAtIdp => "Identity provider did not end its session",
        }
    }

    /// What happened, in one or two sentences.
    pub fn meaning(self) -> &'static str {
        use DiagnosisCode::*;
        match self {
            ConnectionNotConfigured => {
                "The connection is missing a setting it needs before anyone can sign in \
                 with it, or it is not active."
            }
            UserDeactivated => {
                "The identity provider vouched for this person, but their account in this \
                 organization is deactivated, for example by SCIM provisioning or by an admin."
            }
            ServerBusy => {
                "So many sign-ins arrived at once that the response could not be checked \
                 within a few seconds, so it was refused rather than left waiting. Nothing \
                 is wrong with the connection's settings."
            }
            IdentityConflict => {
                "The identity provider vouched for someone whose email belongs to an account \
                 that already signs in through this connection as a different person (another \
                 NameID or subject). An identity provider that gives an old address to a new \
                 person must not hand them the old account, so the sign-in was refused."
            }
            AdminLinkRequired => {
                "The email belongs to an Integrations Admin who signs in with a password. \
                 Single sign-on does not take over such an account until the admin links \
                 their identity at this identity provider while signed in."
            }
            UserDeleted => {
                "Provisioning (SCIM) deleted this person's account, so single sign-on does \
                 not create it again on its own."
            }
            EmailAttributeMissing => {
                "The SAML response was trusted, but it carries no attribute with the name \
                 mapped to email, so there is no way to tell who signed in."
            }
            InvalidSamlResponse => {
                "The SAML response could not be accepted: it is malformed, unsigned, holds \
                 other than exactly one assertion, or breaks another SAML rule."
            }
            SignatureInvalid => {
                "The response carries a signature, but the signature does not verify: the \
                 content changed after signing, or it was signed with an algorithm that is \
                 not accepted."
            }
            CertificateMismatch => {
                "The response is signed with a certificate that is not saved on this \
                 connection. Usually the identity provider has rotated its signing certificate."
            }
            CertificateExpired => {
                "The certificate saved on this connection is past its expiry date, so \
                 signatures made with it are no longer trusted."
            }
            AudienceMismatch => {
                "The response is addressed to a different service provider: its Audience \
                 does not contain this connection's Audience URI / Entity ID."
            }
            AcsUrlMismatch => {
                "The response was issued for a different address: its Destination or \
                 Recipient is not this connection's ACS URL."
            }
            IssuerMismatch => {
                "The response names a different identity provider as its Issuer than the \
                 IdP Entity ID saved on this connection."
            }
            ResponseExpired => {
                "The response's validity window does not include the current time, even \
                 allowing two minutes of clock difference. It was used too late, or the \
                 clocks of the identity provider and this server disagree."
            }
            ResponseReplayed => {
                "An assertion with this ID has already been used to sign in. Each assertion \
                 is accepted once, so that a captured response cannot be used again."
            }
            InResponseToUnknown => {
                "The response answers a sign-in request there is no record of: the request \
                 expired, was already completed, or was started in another browser or for \
                 another connection."
            }
            IdpInitiatedNotAllowed => {
                "The sign-in started from the identity provider's dashboard rather than from \
                 the login page, and this connection only accepts sign-ins that start here."
            }
            IdpErrorStatus => {
                "The identity provider answered with a status other than Success, so it did \
                 not sign the person in. The received value shows the status it sent."
            }
            BrowserMismatch => {
                "The response answers a sign-in that was started in another browser, or the \
                 browser did not send back the cookie set when the sign-in started. Such a \
                 response could sign this browser in as someone else, so it was refused."
            }
            NameIdNotPersistent => {
                "The identity provider sent a transient NameID: a new random value at each \
                 sign-in. Latchkey recognises a person by their NameID, so it cannot tell \
                 whether this is the same person as last time."
            }
            AssertionNotEncrypted => {
                "This connection requires encrypted assertions, but the identity provider \
                 sent the assertion in plain text, so it was refused."
            }
            AssertionUndecryptable => {
                "The identity provider encrypted the assertion, but none of this \
                 connection's encryption keys can open it: it was encrypted for another \
                 certificate, such as an old one or another application's."
            }
            EncryptionAlgorithmRefused => {
                "The identity provider encrypted the assertion with an algorithm that is not \
                 accepted: RSA PKCS#1 v1.5 key transport and Triple DES can be broken, and \
                 other algorithms are not supported."
            }
            DiscoveryFailed => {
                "The OpenID configuration could not be read from the Issuer URL, so it is \
                 unknown where to send members and how to check their tokens."
            }
            InvalidClient => {
                "The identity provider refused the client ID or client secret when the \
                 sign-in code was exchanged for tokens."
            }
            RedirectUriMismatch => {
                "The identity provider does not list this connection's Redirect URI among \
                 the redirect URIs the application allows."
            }
            StateMismatch => {
                "The state value sent back by the identity provider does not match a sign-in \
                 started in this browser: it expired, was already completed, or was started \
                 in another browser."
            }
            NonceMismatch => {
                "The ID token does not carry the nonce sent with this sign-in, so it may \
                 belong to a different sign-in and was refused."
            }
            IdTokenInvalid => {
                "The ID token failed a check of its signature, issuer, audience, expiry or \
                 signing algorithm. The detail names the check that failed."
            }
            TokenRequestFailed => {
                "The sign-in code could not be exchanged for tokens at the identity \
                 provider's token endpoint."
            }
            EmailClaimMissing => {
                "Neither the ID token nor the UserInfo response includes the person's email \
                 address, so there is no way to tell who signed in."
            }
            EmailNotVerified => {
                "The identity provider reports the person's email address as not verified, \
                 so it cannot be trusted to pick an account."
            }
            IdpError => {
                "The identity provider sent the person back with an error instead of a \
                 sign-in code. The received value shows the error it sent."
            }
            LogoutUnsigned => {
                "The identity provider sent a single logout message without a signature. \
                 An unsigned logout message could come from anyone, so it was ignored and \
                 no session ended or continued because of it."
            }
            LogoutSignatureInvalid => {
                "The identity provider's single logout message is signed, but not by a \
                 certificate in X.509 Certificate, or it was changed after it was signed, \
                 or it uses a weak algorithm such as RSA-SHA1."
            }
            LogoutDestinationMismatch => {
                "The identity provider addressed the single logout message to another URL \
                 than this connection's Single Logout URL, so it may have been meant for \
                 another application."
            }
            LogoutRequestUnknown => {
                "The identity provider answered a logout that was not started here in the \
                 last 10 minutes, or that was already answered."
            }
            LogoutFailedAtIdp => {
                "The person was signed out of this service, but the identity provider \
                 reported that it could not end its own session (or every session), so \
                 they may still be signed in there."
            }
        }
    }

    /// Concrete steps that resolve it.
    pub fn fix(self) -> &'static str {
        use DiagnosisCode::*;
        match self {
            ConnectionNotConfigured => {
                "Open Settings > Authentication, fill in every required field of the \
                 connection (Connection Health lists what is missing), click Save, and run \
                 Test Connection again."
            }
            UserDeactivated => {
                "If this person should have access, assign them to the application in your \
                 identity provider so that provisioning reactivates their account. If they \
                 have left, nothing needs fixing."
            }
            ServerBusy => {
                "Sign in again in a moment. If it keeps happening, the server is overloaded \
                 or flooded with requests to the ACS URL: look at its logs and add capacity \
                 or block the source."
            }
            IdentityConflict => {
                "If this is the same person and the identity provider changed their \
                 identifier, an Integrations Admin can remove the old link from the member's \
                 account; otherwise give the new person their own email address. The \
                 expected and received values show the two identifiers."
            }
            AdminLinkRequired => {
                "Sign in with your email and password, open Settings > Authentication, \
                 choose this connection and click Link my SSO identity. From then on you \
                 can sign in through your identity provider as well."
            }
            UserDeleted => {
                "If this person should have access again, assign them to the application in \
                 your identity provider so that provisioning creates their account again."
            }
            EmailAttributeMissing => {
                "In your identity provider, add an attribute statement that sends the user's \
                 email address, named exactly like the email mapping in Settings > \
                 Authentication (names are case-sensitive). If your identity provider sends \
                 the email address as NameID, set the email mapping to NameID instead. The \
                 received value lists the attributes that did arrive."
            }
            InvalidSamlResponse => {
                "Check that X.509 Certificate holds your identity provider's current signing \
                 certificate, that the identity provider signs the response or the \
                 assertion, and that the ACS URL and Audience URI / Entity ID in your \
                 identity provider match Service provider details. The detail names the \
                 rule that failed."
            }
            SignatureInvalid => {
                "Make sure your identity provider signs the assertion or the response with \
                 RSA-SHA256 or stronger, and that nothing between it and this service, such \
                 as a proxy, rewrites the response. Then run Test Connection again."
            }
            CertificateMismatch => {
                "Download the current signing certificate from your identity provider and \
                 paste it into X.509 Certificate. Compare the fingerprints shown as expected \
                 and received to see which certificate the identity provider now uses."
            }
            CertificateExpired => {
                "In your identity provider, create or activate a new signing certificate, \
                 download it, and paste it into X.509 Certificate. During a rollover you can \
                 keep the old and the new certificate together until the identity provider \
                 signs with the new one."
            }
            AudienceMismatch => {
                "Copy the Audience URI / Entity ID from Service provider details and paste it \
                 as the Audience URI (SP Entity ID), also called Identifier, in your identity \
                 provider, replacing the received value."
            }
            AcsUrlMismatch => {
                "Copy the ACS URL from Service provider details and paste it as the Single \
                 sign-on URL / Reply URL in your identity provider. Every connection has its \
                 own ACS URL, so copy it from this connection."
            }
            IssuerMismatch => {
                "Copy the issuer (entity ID) from your identity provider's SAML settings and \
                 paste it into IdP Entity ID. If the received value belongs to another \
                 application, make sure people sign in through the application set up for \
                 this connection."
            }
            ResponseExpired => {
                "Try signing in again. If it happens again, look at the clock difference \
                 shown: synchronise this server's clock (NTP), and make sure the identity \
                 provider does not issue assertions with a very short lifetime."
            }
            ResponseReplayed => {
                "Start a new sign-in from the login page or from your identity provider \
                 instead of reloading the page or going back. If it happens on a fresh \
                 sign-in, check that your identity provider creates a new assertion ID \
                 every time."
            }
            InResponseToUnknown => {
                "Start the sign-in again from the login page and finish it within a few \
                 minutes in the same browser. If it keeps happening, check that the Single \
                 sign-on URL in your identity provider is this connection's ACS URL."
            }
            IdpInitiatedNotAllowed => {
                "Sign in from the organization login URL instead. If your members start \
                 from the identity provider's dashboard, allow sign-ins started at the \
                 identity provider for this connection in Settings > Authentication."
            }
            IdpErrorStatus => {
                "Read the status your identity provider sent. Most often the person is not \
                 assigned to the application there, cancelled the sign-in, or a NameID \
                 format was requested that the application does not offer. Fix it in the \
                 identity provider and try again."
            }
            BrowserMismatch => {
                "Start the sign-in again from the login page and finish it in the same browser \
                 within ten minutes, with cookies allowed for this site. If it fails every \
                 time, serve Latchkey over https (LATCHKEY_PUBLIC_URL starting with https://): \
                 over http, browsers send the sign-in cookie with the identity provider's POST \
                 only when the identity provider is on the same site."
            }
            NameIdNotPersistent => {
                "In your identity provider, set the application's NameID format to \
                 Persistent or EmailAddress (Okta: Name ID format EmailAddress; Entra ID: \
                 the Unique User Identifier claim as persistent; ADFS: a persistent or \
                 email NameID claim rule), save, and run Test Connection again."
            }
            AssertionNotEncrypted => {
                "In your identity provider, turn on assertion encryption for this \
                 application with the Encryption certificate from Service provider details \
                 (or import the SP metadata URL again). Or, if encryption is not needed, \
                 turn off Require encrypted assertions on this connection."
            }
            AssertionUndecryptable => {
                "Give your identity provider this connection's current Encryption certificate \
                 from Service provider details, or import the SP metadata URL again, then run \
                 Test Connection. The expected and received values show which certificates \
                 were involved."
            }
            EncryptionAlgorithmRefused => {
                "In your identity provider's encryption settings, choose AES-256-GCM (or \
                 AES-256-CBC) for the assertion and RSA-OAEP for the key transport, save, and \
                 run Test Connection again."
            }
            DiscoveryFailed => {
                "Open the Issuer URL followed by /.well-known/openid-configuration in a \
                 browser. If it does not load, copy the Issuer URL exactly from your \
                 identity provider, including any path such as /oauth2/default, and save \
                 again. Also check that this server can reach the identity provider."
            }
            InvalidClient => {
                "Copy the client ID and a current client secret from the application in your \
                 identity provider, paste them into Client ID and Client Secret, and click \
                 Save. A secret that expired or was regenerated there must be replaced here too."
            }
            RedirectUriMismatch => {
                "Copy the Redirect URI from Service provider details and add it, exactly as \
                 shown, to the allowed sign-in redirect URIs of the application in your \
                 identity provider."
            }
            StateMismatch => {
                "Start the sign-in again from the login page and complete it in the same \
                 browser within a few minutes. If it keeps happening, make sure the browser \
                 accepts cookies from this site."
            }
            NonceMismatch => {
                "Start the sign-in again. If it keeps happening, make sure your identity \
                 provider copies the nonce from the sign-in request into the ID token."
            }
            IdTokenInvalid => {
                "Check that Issuer URL and Client ID match the application in your identity \
                 provider exactly, that it signs ID tokens with an asymmetric algorithm such \
                 as RS256 or ES256, and that this server's clock is correct."
            }
            TokenRequestFailed => {
                "Check that this server can reach the token endpoint listed under Connection \
                 Health, and that the application in your identity provider allows the \
                 authorization code flow with PKCE. Then try again."
            }
            EmailClaimMissing => {
                "Allow the email scope for the application in your identity provider and \
                 make sure the person has an email address there. Sign-in asks for the \
                 openid, email and profile scopes."
            }
            EmailNotVerified => {
                "Have the person verify their email address with your identity provider, or \
                 mark it verified there, then sign in again."
            }
            IdpError => {
                "Read the error your identity provider sent. access_denied usually means the \
                 person is not assigned to the application or declined; unauthorized_client \
                 or invalid_scope mean the application must allow the authorization code \
                 flow and the openid, email and profile scopes."
            }
            LogoutUnsigned => {
                "In your identity provider, turn on signing for single logout requests \
                 and responses (RSA-SHA256 or stronger), with the same certificate as in \
                 X.509 Certificate."
            }
            LogoutSignatureInvalid => {
                "Make sure X.509 Certificate holds the certificate your identity provider \
                 signs logout messages with, and that it signs them with RSA-SHA256 or \
                 stronger. The received value shows what arrived."
            }
            LogoutDestinationMismatch => {
                "In your identity provider, set the single logout URL (SLO URL) of this \
                 application to the SLO URL shown under Service provider details."
            }
            LogoutRequestUnknown => {
                "Nothing needs fixing if the person simply signed out twice. If it keeps \
                 happening, check that the identity provider sends its logout answer back \
                 to this connection's own logout URL."
            }
            LogoutFailedAtIdp => {
                "Read the status your identity provider sent (the received value). Check \
                 that single logout is enabled for this application in your identity \
                 provider and that its logout URL is the SLO URL shown under Service \
                 provider details."
            }
        }
    }
}

impl fmt::Display for DiagnosisCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// One diagnosed failure, with what was expected and what arrived.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnosis {
    pub code: DiagnosisCode,
    /// What this side expected, e.g. our Entity ID.
    pub expected: Option<String>,
    /// What the identity provider sent.
    pub received: Option<String>,
    /// Anything else that helps, e.g. the measured clock difference.
    pub detail: Option<String>,
}

impl Diagnosis {
    pub fn new(code: DiagnosisCode) -> Self {
        Self {
            code,
            expected: None,
            received: None,
            detail: None,
        }
    }

    pub fn with_expected(mut self, value: impl Into<String>) -> Self {
        self.expected = Some(value.into());
        self
    }

    pub fn with_received(mut self, value: impl Into<String>) -> Self {
        self.received = Some(value.into());
        self
    }

    pub fn with_detail(mut self, value: impl Into<String>) -> Self {
        self.detail = Some(value.into());
        self
    }

    pub fn title(&self) -> &'static str {
        self.code.title()
    }

    pub fn meaning(&self) -> &'static str {
        self.code.meaning()
    }

    pub fn fix(&self) -> &'static str {
        self.code.fix()
    }
}

impl From<DiagnosisCode> for Diagnosis {
    fn from(code: DiagnosisCode) -> Self {
        Diagnosis::new(code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::de::value::{Error as DeError, StrDeserializer};
    use serde::de::IntoDeserializer;
    use DiagnosisCode as D;

    /// Every code the specification and the brief name, with its protocol.
    const REQUIRED: &[(&str, Option<Protocol>)] = &[
        ("connection_not_configured", None),
        ("user_deactivated", None),
        ("server_busy", None),
        ("identity_conflict", None),
        ("admin_link_required", None),
        ("user_deleted", None),
        ("name_id_not_persistent", Some(Protocol::Saml)),
        ("assertion_not_encrypted", Some(Protocol::Saml)),
        ("assertion_undecryptable", Some(Protocol::Saml)),
        ("encryption_algorithm_refused", Some(Protocol::Saml)),
        ("email_attribute_missing", Some(Protocol::Saml)),
        ("invalid_saml_response", Some(Protocol::Saml)),
        ("audience_mismatch", Some(Protocol::Saml)),
        ("acs_url_mismatch", Some(Protocol::Saml)),
        ("issuer_mismatch", Some(Protocol::Saml)),
        ("response_expired", Some(Protocol::Saml)),
        ("response_replayed", Some(Protocol::Saml)),
        ("certificate_expired", Some(Protocol::Saml)),
        ("idp_error_status", Some(Protocol::Saml)),
        ("in_response_to_unknown", Some(Protocol::Saml)),
        ("idp_initiated_not_allowed", Some(Protocol::Saml)),
        ("signature_invalid", Some(Protocol::Saml)),
        ("browser_mismatch", Some(Protocol::Saml)),
        ("certificate_mismatch", Some(Protocol::Saml)),
        ("discovery_failed", Some(Protocol::Oidc)),
        ("invalid_client", Some(Protocol::Oidc)),
        ("redirect_uri_mismatch", Some(Protocol::Oidc)),
        ("state_mismatch", Some(Protocol::Oidc)),
        ("nonce_mismatch", Some(Protocol::Oidc)),
        ("id_token_invalid", Some(Protocol::Oidc)),
        ("email_claim_missing", Some(Protocol::Oidc)),
        ("email_not_verified", Some(Protocol::Oidc)),
        ("idp_error", Some(Protocol::Oidc)),
        ("logout_unsigned", Some(Protocol::Saml)),
        ("logout_signature_invalid", Some(Protocol::Saml)),
        ("logout_destination_mismatch", Some(Protocol::Saml)),
        ("logout_request_unknown", None),
        ("logout_failed_at_idp", None),
        ("token_request_failed", Some(Protocol::Oidc)),
    ];

    fn from_serde(name: &str) -> Option<DiagnosisCode> {
        let de: StrDeserializer<'_, DeError> = name.into_deserializer();
        DiagnosisCode::deserialize(de).ok()
    }

    #[test]
    fn every_required_code_exists_with_its_protocol() {
        for &(code, protocol) in REQUIRED {
            let parsed = DiagnosisCode::from_code(code).unwrap_or_else(|| panic!("{code}"));
            assert_eq!(parsed.code(), code);
            assert_eq!(parsed.protocol(), protocol, "{code}");
        }
        assert_eq!(REQUIRED.len(), DiagnosisCode::ALL.len());
    }

    #[test]
    fn every_code_round_trips_and_equals_its_serde_name() {
        for &c in DiagnosisCode::ALL {
            assert_eq!(DiagnosisCode::from_code(c.code()), Some(c));
            assert_eq!(from_serde(c.code()), Some(c), "{c:?}");
            assert_eq!(c.to_string(), c.code());
            assert!(
                c.code()
                    .chars()
                    .all(|ch| ch.is_ascii_lowercase() || ch == '_'),
                "{c:?}"
            );
        }
        let mut codes: Vec<&str> = DiagnosisCode::ALL.iter().map(|c| c.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), DiagnosisCode::ALL.len(), "codes are unique");
    }

    #[test]
    fn unknown_codes_are_refused() {
        for bad in [
            "",
            "Audience_Mismatch",
            "audience-mismatch",
            " audience_mismatch",
            "ok",
        ] {
            assert_eq!(DiagnosisCode::from_code(bad), None, "{bad:?}");
            assert_eq!(from_serde(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn every_code_has_helpful_texts() {
        let mut titles = Vec::new();
        for &c in DiagnosisCode::ALL {
            let (title, meaning, fix) = (c.title(), c.meaning(), c.fix());
            assert!(!title.is_empty() && !title.ends_with('.'), "{c:?} title");
            assert!(title.chars().next().unwrap().is_uppercase(), "{c:?} title");
            for text in [meaning, fix] {
                assert!(text.len() >= 40, "{c:?}: {text}");
                assert!(text.ends_with('.'), "{c:?}: {text}");
                assert!(!text.contains("  "), "{c:?} has a double space: {text}");
                assert!(
                    text.chars().next().unwrap().is_uppercase() || text.starts_with("access_"),
                    "{c:?}"
                );
            }
            assert_ne!(meaning, fix, "{c:?}");
            titles.push(title);
        }
        titles.sort_unstable();
        titles.dedup();
        assert_eq!(titles.len(), DiagnosisCode::ALL.len(), "titles are unique");
    }

    #[test]
    fn fixes_point_at_the_right_setting() {
        let cases: &[(DiagnosisCode, &[&str])] = &[
            (
                D::AcsUrlMismatch,
                &["ACS URL", "Service provider details", "Reply URL"],
            ),
            (
                D::AudienceMismatch,
                &["Audience URI / Entity ID", "Service provider details"],
            ),
            (
                D::RedirectUriMismatch,
                &["Redirect URI", "Service provider details"],
            ),
            (D::IssuerMismatch, &["IdP Entity ID"]),
            (D::CertificateExpired, &["X.509 Certificate"]),
            (
                D::CertificateMismatch,
                &["X.509 Certificate", "fingerprints"],
            ),
            (D::EmailAttributeMissing, &["NameID", "case-sensitive"]),
            (D::InvalidClient, &["Client ID", "Client Secret"]),
            (D::DiscoveryFailed, &["/.well-known/openid-configuration"]),
            (D::ResponseExpired, &["clock"]),
            (D::ConnectionNotConfigured, &["Connection Health"]),
            (D::EmailClaimMissing, &["email scope"]),
            (D::IdpInitiatedNotAllowed, &["login URL"]),
            (D::BrowserMismatch, &["same browser", "https"]),
            (
                D::AssertionNotEncrypted,
                &["Encryption certificate", "Require encrypted assertions"],
            ),
            (D::AssertionUndecryptable, &["Encryption certificate"]),
            (D::EncryptionAlgorithmRefused, &["AES-256-GCM", "RSA-OAEP"]),
        ];
        for (c, needles) in cases {
            for needle in *needles {
                assert!(
                    c.fix().contains(needle),
                    "{c:?} fix should mention {needle:?}"
                );
            }
        }
    }

    #[test]
    fn diagnosis_builder() {
        let d = Diagnosis::new(D::AudienceMismatch)
            .with_expected("https://sso.example.com/sso/saml/1/metadata")
            .with_received("https://other.example.com")
            .with_detail("checked 1 audience");
        assert_eq!(d.code, D::AudienceMismatch);
        assert_eq!(
            d.expected.as_deref(),
            Some("https://sso.example.com/sso/saml/1/metadata")
        );
        assert_eq!(d.received.as_deref(), Some("https://other.example.com"));
        assert_eq!(d.detail.as_deref(), Some("checked 1 audience"));
        assert_eq!(d.title(), "Audience mismatch");
        assert_eq!(d.meaning(), D::AudienceMismatch.meaning());
        assert_eq!(d.fix(), D::AudienceMismatch.fix());
        let bare: Diagnosis = D::UserDeactivated.into();
        assert_eq!(bare, Diagnosis::new(D::UserDeactivated));
        assert_eq!(
            (bare.expected, bare.received, bare.detail),
            (None, None, None)
        );
    }

    #[test]
    fn diagnosis_is_plain_owned_data() {
        fn owned<T: serde::de::DeserializeOwned + Serialize + Clone + Send + Sync>() {}
        owned::<Diagnosis>();
        owned::<DiagnosisCode>();
    }
}
