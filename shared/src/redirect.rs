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
    use super::{local_path, org_login_path};

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
