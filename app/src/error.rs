//! The one error type that crosses the wire between server functions and pages.
//! Each variant has a stable code, an HTTP status and a sentence for people.

use serde::{Deserialize, Serialize};
use server_fn::codec::JsonEncoding;
use server_fn::error::{FromServerFnError, ServerFnErrorErr};
use shared::FieldErrors;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    #[error("Sign in to continue.")]
    Unauthenticated,
    #[error("Only Integrations Admins can open organization settings.")]
    Forbidden,
    /// Unknown email and wrong password read the same, so a guesser learns nothing.
    #[error("Incorrect email or password.")]
    InvalidCredentials,
    #[error("This account is deactivated. Ask an Integrations Admin in your organization.")]
    AccountDeactivated,
    #[error("Too many sign-in attempts. Wait {retry_after_secs} seconds, then try again.")]
    RateLimited { retry_after_secs: u64 },
    #[error("That connection no longer exists. It may have been deleted.")]
    NotFound,
    /// Same answer for unknown domains and for organizations without SSO.
    #[error("Single sign-on isn't available for that email address. Sign in with your password, or ask your Integrations Admin for your organization's login link.")]
    SsoNotAvailable,
    /// The organization's connection names an identity-provider address that
    /// Latchkey refuses to open; the admin finds the diagnosis by the reference.
    #[error("Single sign-on could not start: your organization's connection is set up with an identity provider address that Latchkey refuses to open (it must start with https://). Ask your Integrations Admin to check the connection under Settings > Authentication, and give them the reference {reference}.")]
    SsoRefused { reference: String },
    /// Only after the password was verified, so a guesser learns nothing from it.
    #[error("Your organization requires single sign-on. Use Sign in with SSO, or go to {login_path} to sign in through your identity provider.")]
    SsoRequired { login_path: String },
    #[error("That member no longer exists; SCIM provisioning may have deleted them.")]
    MemberNotFound,
    /// Settings > Members: a change by hand the rules do not allow.
    #[error("{}", .0.message())]
    MemberRefused(shared::members::MemberRefusal),
    /// The action does not fit the current state (e.g. a rotation already running).
    #[error("{0}")]
    Conflict(String),
    #[error("Some fields need attention: {0}")]
    Invalid(FieldErrors),
    #[error("The request could not be read: {0}")]
    BadRequest(String),
    #[error("Something went wrong on our side. Reference {reference}.")]
    Internal { reference: String },
}

impl AppError {
    /// Stable machine code, for tests, logs and support.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::Unauthenticated => "unauthenticated",
            AppError::Forbidden => "forbidden",
            AppError::InvalidCredentials => "invalid_credentials",
            AppError::AccountDeactivated => "user_deactivated",
            AppError::RateLimited { .. } => "rate_limited",
            AppError::NotFound => "not_found",
            AppError::MemberNotFound => "member_not_found",
            AppError::MemberRefused(refusal) => refusal.code(),
            AppError::SsoNotAvailable => "sso_not_available",
            AppError::SsoRequired { .. } => "sso_required",
            AppError::SsoRefused { .. } => "sso_refused",
            AppError::Conflict(_) => "conflict",
            AppError::Invalid(_) => "invalid_input",
            AppError::BadRequest(_) => "bad_request",
            AppError::Internal { .. } => "internal",
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            AppError::Unauthenticated | AppError::InvalidCredentials => 401,
            AppError::Forbidden | AppError::AccountDeactivated | AppError::SsoRequired { .. } => {
                403
            }
            AppError::RateLimited { .. } => 429,
            AppError::NotFound | AppError::MemberNotFound | AppError::SsoNotAvailable => 404,
            AppError::Conflict(_) | AppError::SsoRefused { .. } | AppError::MemberRefused(_) => 409,
            AppError::Invalid(_) => 422,
            AppError::BadRequest(_) => 400,
            AppError::Internal { .. } => 500,
        }
    }

    /// The message for one form field, when this is a validation failure.
    pub fn field(&self, field: &str) -> Option<String> {
        match self {
            AppError::Invalid(errors) => errors.for_field(field).map(str::to_string),
            _ => None,
        }
    }

    /// A message for the top of a form: validation failures are shown by their fields.
    pub fn banner(&self) -> Option<String> {
        match self {
            AppError::Invalid(_) => None,
            other => Some(other.to_string()),
        }
    }
}

impl From<FieldErrors> for AppError {
    fn from(errors: FieldErrors) -> Self {
        AppError::Invalid(errors)
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        let error = match value {
            ServerFnErrorErr::Args(m)
            | ServerFnErrorErr::Deserialization(m)
            | ServerFnErrorErr::MissingArg(m) => AppError::BadRequest(m),
            ServerFnErrorErr::Request(m) | ServerFnErrorErr::Response(m) => {
                AppError::BadRequest(format!("the server could not be reached ({m})"))
            }
            other => AppError::Internal {
                reference: short_reference(&other.to_string()),
            },
        };
        #[cfg(feature = "ssr")]
        crate::ssr::set_status(&error);
        error
    }
}

/// A short, non-secret tag that ties a message a person sees to a log line.
fn short_reference(text: &str) -> String {
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    format!("E{:08X}", hash as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_has_a_code_and_status() {
        let all = [
            AppError::Unauthenticated,
            AppError::Forbidden,
            AppError::InvalidCredentials,
            AppError::AccountDeactivated,
            AppError::RateLimited {
                retry_after_secs: 3,
            },
            AppError::SsoNotAvailable,
            AppError::SsoRequired {
                login_path: "/login/acme".into(),
            },
            AppError::SsoRefused {
                reference: "ABCD2345".into(),
            },
            AppError::NotFound,
            AppError::Invalid(FieldErrors::default()),
            AppError::BadRequest("x".into()),
            AppError::Conflict("x".into()),
            AppError::Internal {
                reference: "E1".into(),
            },
        ];
        for e in all {
            assert!(!e.code().is_empty());
            assert!((400..600).contains(&e.status()), "{e:?}");
            assert!(!e.to_string().is_empty());
        }
    }

    #[test]
    fn malformed_arguments_become_bad_request_not_internal() {
        let e = AppError::from_server_fn_error(ServerFnErrorErr::Args("missing field".into()));
        assert_eq!(e.status(), 400);
    }
}
