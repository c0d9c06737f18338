//! Where Latchkey may send a browser after sign-in: only to a path of its own.

/// Returns `target` when it is a path on this site, otherwise `/`.
///
/// Refuses absolute URLs, scheme-relative `//host` and `/\host` (browsers treat
/// the backslash as a slash), and anything with control characters.
pub fn local_path(target: Option<&str>) -> String {
    let Some(target) = target.map(str::trim) else {
        return "/".into();
    };
    let is_local = target.starts_with('/')
        && !target.starts_with("//")
        && !target.starts_with("/\\")
        && !target.chars().any(|c| c.is_control() || c == '\\')
        && target.len() <= 2048;
    if is_local {
        target.to_string()
    } else {
        "/".into()
    }
}

/// Paths answered by the server's protocol endpoints (a host app's sign-in
/// request, Test Connection) rather than by the app's pages: the browser must
/// load them itself, the client-side router knows nothing of them.
pub fn is_server_path(path: &str) -> bool {
    path.starts_with("/oauth2/") || path.starts_with("/sso/")
}

/// Where a successful sign-in form sends the browser: `next` when it is a page
/// of ours; for a protocol path, the page that hands the browser over to it.
pub fn after_sign_in(next: Option<&str>) -> String {
    let path = local_path(next);
    if is_server_path(&path) {
        format!("/continue?to={}", encode_component(&path))
    } else {
        path
    }
}

/// An organization login URL that starts SSO through one connection (or lists
/// them when `connection` is `None`) and then returns to `next`.
pub fn org_login_path(org_slug: &str, connection: Option<&str>, next: Option<&str>) -> String {
    let mut query = Vec::new();
    if let Some(connection) = connection {
        query.push(format!("connection={}", encode_component(connection)));
    }
    if let Some(next) = next.filter(|n| *n != "/") {
        query.push(format!("next={}", encode_component(next)));
    }
    let path = format!("/login/{}", encode_component(org_slug));
    if query.is_empty() {
        path
    } else {
        format!("{path}?{}", query.join("&"))
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn encode_component(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{after_sign_in, local_path, org_login_path};

    #[test]
    fn a_sign_in_for_a_protocol_path_hands_over_through_the_continue_page() {
        assert_eq!(after_sign_in(Some("/settings")), "/settings");
        assert_eq!(
            after_sign_in(Some("/oauth2/authorize?client_id=a&state=b")),
            "/continue?to=%2Foauth2%2Fauthorize%3Fclient_id%3Da%26state%3Db"
        );
        assert_eq!(
            after_sign_in(Some("/sso/test/c-1")),
            "/continue?to=%2Fsso%2Ftest%2Fc-1"
        );
        assert_eq!(after_sign_in(Some("https://evil.test/oauth2/")), "/");
    }

    #[test]
    fn org_login_paths_carry_the_connection_and_an_encoded_next() {
        assert_eq!(org_login_path("acme", None, None), "/login/acme");
        assert_eq!(org_login_path("acme", None, Some("/")), "/login/acme");
        assert_eq!(
            org_login_path("acme", Some("c-1"), Some("/settings?a=1&b=2")),
            "/login/acme?connection=c-1&next=%2Fsettings%3Fa%3D1%26b%3D2"
        );
    }

    #[test]
    fn keeps_local_paths_and_refuses_everything_else() {
        let cases = [
            (Some("/settings/authentication"), "/settings/authentication"),
            (Some("/?a=1#b"), "/?a=1#b"),
            (None, "/"),
            (Some(""), "/"),
            (Some("https://evil.test/"), "/"),
            (Some("//evil.test"), "/"),
            (Some("/\\evil.test"), "/"),
            (Some("/x\\y"), "/"),
            (Some("javascript:alert(1)"), "/"),
            (Some("/\nLocation: x"), "/"),
            (Some("settings"), "/"),
        ];
        for (input, expected) in cases {
            assert_eq!(local_path(input), expected, "{input:?}");
        }
    }
}
