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

#[cfg(test)]
mod tests {
    use super::local_path;

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
