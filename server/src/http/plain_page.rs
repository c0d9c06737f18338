//! Small server-rendered pages for the protocol endpoints: the member's
//! sign-in error page and the Test Connection popup's last page. They stand
//! alone (inline styles), so they render even when the app bundle cannot.

use super::headers::policy;
use axum::http::header::{self, HeaderValue};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sha2::{Digest, Sha256};
use shared::Diagnosis;

const STYLE: &str = "body{font-family:system-ui,sans-serif;background:#f8fafc;color:#0f172a;display:flex;min-height:100vh;align-items:center;justify-content:center;margin:0;padding:1rem}main{max-width:32rem;background:#fff;border:1px solid #e2e8f0;border-radius:.75rem;padding:1.5rem 1.75rem;box-shadow:0 1px 2px rgba(0,0,0,.05)}h1{font-size:1.25rem;margin:0 0 .5rem}p{line-height:1.5;color:#334155}code{background:#f1f5f9;padding:.1rem .35rem;border-radius:.25rem;font-size:1rem}a{color:#4338ca;font-weight:500}button{margin-top:.5rem;background:#4f46e5;color:#fff;border:0;border-radius:.375rem;padding:.6rem 1rem;font-size:1rem;font-weight:500;cursor:pointer}button:hover{background:#4338ca}";

pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{} · Latchkey</title><style>{STYLE}</style></head><body><main>{body}</main></body></html>",
        escape(title)
    );
    (status, Html(html)).into_response()
}

/// What a member sees when SSO refuses them: the reason in plain words and a
/// reference their admin can look up. The technical record stays with the admin.
pub fn sign_in_failed(diagnosis: &Diagnosis, reference: &str) -> Response {
    use shared::DiagnosisCode::*;
    // The IdP vouched for the person; the account rules refused them.
    let status = match diagnosis.code {
        UserDeactivated | UserDeleted | IdentityConflict | AdminLinkRequired => {
            StatusCode::FORBIDDEN
        }
        _ => StatusCode::BAD_REQUEST,
    };
    let body = format!(
        "<h1>We couldn't sign you in</h1><p><strong>{}</strong></p><p>Your organization's single sign-on setup refused this sign-in. Please contact your administrator and give them this reference:</p><p><code data-testid=\"reference\">{}</code></p><p><a href=\"/login\">Back to sign in</a></p>",
        escape(diagnosis.title()),
        escape(reference)
    );
    page(status, "Sign-in failed", &body)
}

pub fn not_found(message: &str) -> Response {
    let body = format!("<h1>Not found</h1><p>{}</p>", escape(message));
    page(StatusCode::NOT_FOUND, "Not found", &body)
}

/// A request Latchkey will not follow (a host app's sign-in request with an
/// unknown client or an unregistered redirect URI): said here, sent nowhere.
pub fn refused(title: &str, message: &str) -> Response {
    let body = format!("<h1>{}</h1><p>{}</p>", escape(title), escape(message));
    page(StatusCode::BAD_REQUEST, title, &body)
}

/// A setup link's first page: what accepting it does, and the button that does
/// it (a POST, so that a mail scanner opening the link uses nothing).
pub fn setup_invitation(org_name: &str, email: &str) -> Response {
    let body = format!(
        "<h1>Set up sign-in for {org}</h1><p>You are invited to become the <strong>Integrations Admin</strong> of {org} in Latchkey, as <strong data-testid=\"setup-email\">{email}</strong>. Next you will connect {org}'s identity provider.</p><form method=\"post\"><button type=\"submit\">Accept and continue</button></form><p>This link works once. If you were not expecting it, close this page.</p>",
        org = escape(org_name),
        email = escape(email),
    );
    page(StatusCode::OK, "Set up sign-in", &body)
}

/// A setup link that can no longer be used, and what to do about it.
pub fn setup_link_unusable(reason: &str) -> Response {
    let body = format!(
        "<h1>This setup link can't be used</h1><p><strong>{}</strong></p><p>Ask the people who sent it for a new one.</p>",
        escape(reason)
    );
    page(StatusCode::GONE, "Setup link", &body)
}

/// After a logout with nowhere to go back to.
pub fn signed_out() -> Response {
    page(
        StatusCode::OK,
        "Signed out",
        "<h1>You are signed out</h1><p>Your session has ended. Close this window, or sign in again.</p><p><a href=\"/login\">Sign in</a></p>",
    )
}

/// A host app asks to end the member's session without proof that it is the
/// member's own request (no matching `id_token_hint`): the member decides.
/// The form repeats the request, so confirming completes it.
pub fn confirm_sign_out(app_name: Option<&str>, fields: &[(&str, &str)]) -> Response {
    let hidden: String = fields
        .iter()
        .map(|(name, value)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                escape(name),
                escape(value)
            )
        })
        .collect();
    let asker = app_name
        .map(|name| format!("<strong>{}</strong> asks", escape(name)))
        .unwrap_or_else(|| "You are asked".to_string());
    let body = format!(
        "<h1>Sign out of Latchkey?</h1><p>{asker} to end your Latchkey session. You will be signed out of every app you signed in to with it.</p><form method=\"post\" action=\"/oauth2/logout\">{hidden}<input type=\"hidden\" name=\"confirm\" value=\"yes\"><button type=\"submit\">Sign out</button></form><p><a href=\"/\">Stay signed in</a></p>"
    );
    page(StatusCode::OK, "Sign out", &body)
}

/// A logout message from an identity provider that was not acted on.
pub fn logout_refused(message: &str, reference: &str) -> Response {
    let body = format!(
        "<h1>Logout message refused</h1><p>{}</p><p>Your administrator can look it up with this reference:</p><p><code data-testid=\"reference\">{}</code></p><p><a href=\"/login\">Go to sign in</a></p>",
        escape(message),
        escape(reference)
    );
    page(StatusCode::BAD_REQUEST, "Logout refused", &body)
}

pub fn forbidden(message: &str) -> Response {
    let body = format!("<h1>Not allowed</h1><p>{}</p>", escape(message));
    page(StatusCode::FORBIDDEN, "Not allowed", &body)
}

/// The popup's last page: hands the result to the settings page that opened
/// it (our own origin only) and closes.
pub fn test_finished(event_id: &str, origin: &str, connection_id: &str) -> Response {
    let message =
        serde_json::Value::String(format!("latchkey-test-result:{connection_id}:{event_id}"));
    let script = format!(
        "(function(){{var o=window.opener;if(o&&!o.closed){{o.postMessage({message},{origin});window.close();}}}})();",
        origin = serde_json::Value::String(origin.to_string()),
    );
    let body = format!(
        "<h1>Test finished</h1><p>The result is on the connection's page in Latchkey. You can close this window.</p><p><a href=\"/settings/authentication?connection={}\">Open the connection</a></p><script>{script}</script>",
        escape(connection_id)
    );
    let mut response = page(StatusCode::OK, "Test finished", &body);
    // This page's one script is allowed by its hash: nothing else on it can run.
    let csp = policy(&format!(
        "'sha256-{}'",
        STANDARD.encode(Sha256::digest(&script))
    ));
    if let Ok(value) = HeaderValue::from_str(&csp) {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn the_test_popup_page_allows_exactly_its_one_script() {
        let response = test_finished("event-1", "https://sso.example.com", "conn-1");
        let csp = response.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .to_string();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let body = String::from_utf8(body.to_vec()).unwrap();
        let script = body
            .split_once("<script>")
            .and_then(|(_, rest)| rest.split_once("</script>"))
            .map(|(script, _)| script)
            .unwrap();
        let hash = STANDARD.encode(Sha256::digest(script));
        assert_eq!(csp, policy(&format!("'sha256-{hash}'")));
        assert_eq!(body.matches("<script").count(), 1);
    }
}
