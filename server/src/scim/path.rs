//! SCIM 2.0 PATCH `path` parser (RFC 7644 §3.5.2, Figure 7).
//!
//! ```text
//! PATH = attrPath / valuePath [ "." ATTRNAME ]
//! ```
//!
//! i.e. `attr`, `attr.sub`, `urn:...:attr`, `urn:...:attr.sub`, `attr[filter]` and
//! `attr[filter].sub`. The bracket filter is parsed by the filter parser (same rules, same
//! limits; attribute names inside it are relative to `attr`).

use std::fmt;
use std::str::FromStr;

use super::filter::{check_len, quote, AttrPath, Filter, FilterError, Parser};

/// A parsed PATCH path.
///
/// The sub-attribute always lives in [`PatchPath::sub_attr`], with or without a filter;
/// `attr.sub_attr` is always `None` in a parsed path. So `name.familyName` gives
/// `attr = name, filter = None, sub_attr = Some("familyName")` and
/// `emails[type eq "work"].value` gives `attr = emails, filter = Some(..), sub_attr =
/// Some("value")`.
///
/// Equality ignores the case of names, like [`AttrPath`].
#[derive(Debug, Clone)]
pub struct PatchPath {
    /// The targeted attribute (with its schema URN, if any), never with a sub-attribute.
    pub attr: AttrPath,
    /// The value filter in brackets, selecting elements of a multi-valued attribute.
    pub filter: Option<Filter>,
    /// The sub-attribute to act on.
    pub sub_attr: Option<String>,
}

impl PatchPath {
    /// Parses a PATCH `path`. Surrounding whitespace is ignored.
    pub fn parse(input: &str) -> Result<PatchPath, PathError> {
        check_len(input).map_err(PathError::from_syntax)?;
        let mut p = Parser::new(input);
        p.skip_ws();
        if p.at_end() {
            return Err(PathError::from_syntax(
                p.expected(p.pos, "expected an attribute path"),
            ));
        }
        let mut attr = p.parse_attr_path().map_err(PathError::from_syntax)?;
        let mut sub_attr = attr.sub_attr.take();
        let mut filter = None;
        if p.peek() == Some('[') {
            if sub_attr.is_some() {
                return Err(PathError::Syntax {
                    position: p.pos,
                    message: format!(
                        "a value filter must follow an attribute name, not the sub-attribute path {}",
                        quote(&attr.clone().with_sub_attr(sub_attr.unwrap_or_default()).to_string())
                    ),
                    found: None,
                });
            }
            filter = Some(p.parse_bracket().map_err(PathError::Filter)?);
            if p.peek() == Some('.') {
                p.pos += 1;
                sub_attr = Some(p.parse_sub_attr_name().map_err(PathError::from_syntax)?);
            }
        }
        p.skip_ws();
        if !p.at_end() {
            let expected = match (&filter, &sub_attr) {
                (Some(_), None) => "expected \".\" and a sub-attribute name, or end of path",
                (None, None) => "expected \"[\" or end of path",
                (_, Some(_)) => "expected end of path",
            };
            return Err(PathError::from_syntax(p.expected(p.pos, expected)));
        }
        Ok(PatchPath {
            attr,
            filter,
            sub_attr,
        })
    }

    /// The attribute path this PATCH path addresses, ignoring the filter:
    /// `emails[type eq "work"].value` gives `emails.value`.
    pub fn attr_path(&self) -> AttrPath {
        AttrPath {
            sub_attr: self.sub_attr.clone().or_else(|| self.attr.sub_attr.clone()),
            ..self.attr.clone()
        }
    }
}

impl PartialEq for PatchPath {
    fn eq(&self, other: &Self) -> bool {
        let sub_eq = match (&self.sub_attr, &other.sub_attr) {
            (None, None) => true,
            (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
            _ => false,
        };
        sub_eq && self.attr == other.attr && self.filter == other.filter
    }
}

impl Eq for PatchPath {}

/// Canonical form; the filter is printed in its canonical form too.
impl fmt::Display for PatchPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.attr)?;
        if let Some(filter) = &self.filter {
            write!(f, "[{filter}]")?;
        }
        if let Some(sub) = &self.sub_attr {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

impl FromStr for PatchPath {
    type Err = PathError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PatchPath::parse(s)
    }
}

/// Why a PATCH path was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathError {
    /// The path is longer than `max` bytes.
    TooLong { len: usize, max: usize },
    /// The path itself (outside the brackets) is malformed at byte offset `position`.
    Syntax {
        position: usize,
        message: String,
        found: Option<String>,
    },
    /// The value filter inside `[...]` is malformed (positions are offsets in the path).
    Filter(FilterError),
}

impl PathError {
    /// The SCIM `scimType` (RFC 7644 §3.12, Table 9): `invalidPath`, except for a malformed
    /// value filter inside the brackets, which the RFC assigns to `invalidFilter`
    /// ("PATCH (Path Filter - Section 3.5.2)").
    pub fn scim_type(&self) -> &'static str {
        match self {
            PathError::Filter(_) => "invalidFilter",
            PathError::TooLong { .. } | PathError::Syntax { .. } => "invalidPath",
        }
    }

    /// Byte offset in the path the error refers to.
    pub fn position(&self) -> usize {
        match self {
            PathError::TooLong { max, .. } => *max,
            PathError::Syntax { position, .. } => *position,
            PathError::Filter(e) => e.position(),
        }
    }

    fn from_syntax(e: FilterError) -> PathError {
        match e {
            FilterError::TooLong { len, max } => PathError::TooLong { len, max },
            FilterError::Syntax {
                position,
                message,
                found,
            } => PathError::Syntax {
                position,
                message,
                found,
            },
            other => PathError::Filter(other),
        }
    }
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathError::TooLong { len, max } => {
                write!(f, "path is too long: {len} bytes (the limit is {max})")
            }
            PathError::Syntax {
                position,
                message,
                found,
            } => {
                write!(f, "{message} at position {position}")?;
                if let Some(found) = found {
                    write!(f, ", found {found}")?;
                }
                Ok(())
            }
            PathError::Filter(e) => write!(f, "invalid value filter in path: {e}"),
        }
    }
}

impl std::error::Error for PathError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PathError::Filter(e) => Some(e),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::filter::{CompareOp, Value, MAX_DEPTH, MAX_INPUT_LEN};
    use super::*;

    fn parse_ok(input: &str) -> PatchPath {
        PatchPath::parse(input).unwrap_or_else(|e| panic!("{input:?} should parse, got: {e}"))
    }

    /// (input, urn, attr, filter in canonical form, sub-attribute, canonical path)
    type Row = (
        &'static str,
        Option<&'static str>,
        &'static str,
        Option<&'static str>,
        Option<&'static str>,
        &'static str,
    );

    const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

    const VALID: &[Row] = &[
        ("userName", None, "userName", None, None, "userName"),
        ("active", None, "active", None, None, "active"),
        ("members", None, "members", None, None, "members"),
        (
            "name.familyName",
            None,
            "name",
            None,
            Some("familyName"),
            "name.familyName",
        ),
        (
            "name.givenName",
            None,
            "name",
            None,
            Some("givenName"),
            "name.givenName",
        ),
        (" userName ", None, "userName", None, None, "userName"),
        (
            r#"emails[type eq "work"]"#,
            None,
            "emails",
            Some(r#"type eq "work""#),
            None,
            r#"emails[type eq "work"]"#,
        ),
        (
            r#"emails[type eq "work"].value"#,
            None,
            "emails",
            Some(r#"type eq "work""#),
            Some("value"),
            r#"emails[type eq "work"].value"#,
        ),
        (
            r#"addresses[type eq "work"].streetAddress"#,
            None,
            "addresses",
            Some(r#"type eq "work""#),
            Some("streetAddress"),
            r#"addresses[type eq "work"].streetAddress"#,
        ),
        (
            r#"phoneNumbers[type eq "mobile"].value"#,
            None,
            "phoneNumbers",
            Some(r#"type eq "mobile""#),
            Some("value"),
            r#"phoneNumbers[type eq "mobile"].value"#,
        ),
        (
            r#"members[value eq "2819c223-7f76-453a-919d-413861904646"]"#,
            None,
            "members",
            Some(r#"value eq "2819c223-7f76-453a-919d-413861904646""#),
            None,
            r#"members[value eq "2819c223-7f76-453a-919d-413861904646"]"#,
        ),
        (
            r#"members[value eq "a" OR value eq "b"]"#,
            None,
            "members",
            Some(r#"value eq "a" or value eq "b""#),
            None,
            r#"members[value eq "a" or value eq "b"]"#,
        ),
        (
            r#"emails[type eq "work" and primary eq TRUE].display"#,
            None,
            "emails",
            Some(r#"type eq "work" and primary eq true"#),
            Some("display"),
            r#"emails[type eq "work" and primary eq true].display"#,
        ),
        (
            r#"roles[primary eq "True"].value"#,
            None,
            "roles",
            Some(r#"primary eq "True""#),
            Some("value"),
            r#"roles[primary eq "True"].value"#,
        ),
        (
            r#"EMAILS[TYPE EQ "work"].VALUE"#,
            None,
            "EMAILS",
            Some(r#"TYPE eq "work""#),
            Some("VALUE"),
            r#"EMAILS[TYPE eq "work"].VALUE"#,
        ),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
            Some(ENTERPRISE),
            "employeeNumber",
            None,
            None,
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
        ),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
            Some(ENTERPRISE),
            "manager",
            None,
            None,
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
        ),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
            Some(ENTERPRISE),
            "manager",
            None,
            Some("value"),
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
        ),
        (
            r#"urn:ietf:params:scim:schemas:core:2.0:User:emails[type eq "work"].value"#,
            Some("urn:ietf:params:scim:schemas:core:2.0:User"),
            "emails",
            Some(r#"type eq "work""#),
            Some("value"),
            r#"urn:ietf:params:scim:schemas:core:2.0:User:emails[type eq "work"].value"#,
        ),
        (
            r#"emails[not (type eq "home")]"#,
            None,
            "emails",
            Some(r#"not (type eq "home")"#),
            None,
            r#"emails[not (type eq "home")]"#,
        ),
        (
            r#"members[$ref eq "https://example.com/v2/Users/1"]"#,
            None,
            "members",
            Some(r#"$ref eq "https://example.com/v2/Users/1""#),
            None,
            r#"members[$ref eq "https://example.com/v2/Users/1"]"#,
        ),
    ];

    #[test]
    fn valid_paths() {
        for &(input, urn, attr, filter, sub, canonical) in VALID {
            let p = parse_ok(input);
            assert_eq!(p.attr.urn.as_deref(), urn, "urn of {input:?}");
            assert_eq!(p.attr.attr, attr, "attr of {input:?}");
            assert_eq!(p.attr.sub_attr, None, "attr.sub_attr of {input:?}");
            assert_eq!(
                p.filter.as_ref().map(|f| f.to_string()).as_deref(),
                filter,
                "filter of {input:?}"
            );
            assert_eq!(p.sub_attr.as_deref(), sub, "sub_attr of {input:?}");
            assert_eq!(p.to_string(), canonical, "canonical form of {input:?}");
            assert_eq!(parse_ok(&p.to_string()), p, "round trip of {input:?}");
            assert_eq!(input.parse::<PatchPath>().as_ref(), Ok(&p));
        }
    }

    #[test]
    fn filter_in_path_is_a_real_filter() {
        let p = parse_ok(r#"emails[type eq "work"].value"#);
        assert_eq!(
            p.filter,
            Some(Filter::Compare {
                path: AttrPath::new("type"),
                op: CompareOp::Eq,
                value: Value::from("work"),
            })
        );
        assert_eq!(
            p.attr_path(),
            AttrPath::new("emails").with_sub_attr("value")
        );
        assert_eq!(
            parse_ok("name.familyName").attr_path(),
            AttrPath::new("name").with_sub_attr("familyName")
        );
        assert_eq!(
            parse_ok(&format!("{ENTERPRISE}:manager.value")).attr_path(),
            AttrPath::new("manager")
                .with_urn(ENTERPRISE)
                .with_sub_attr("value")
        );
        // Names compare case-insensitively.
        assert_eq!(parse_ok("NAME.FAMILYNAME"), parse_ok("name.familyName"));
    }

    /// (input, error position, scimType, fragment of the message)
    const INVALID: &[(&str, usize, &str, &str)] = &[
        ("", 0, "invalidPath", "expected an attribute path"),
        ("   ", 3, "invalidPath", "expected an attribute path"),
        ("$", 0, "invalidPath", "expected an attribute name"),
        ("1abc", 0, "invalidPath", "names start with a letter"),
        ("foo:bar", 3, "invalidPath", r#"unexpected ":""#),
        ("urn:a:b:", 8, "invalidPath", "expected an attribute name"),
        ("urn:x", 0, "invalidPath", "incomplete schema URN"),
        (
            "name.familyName.x",
            15,
            "invalidPath",
            "at most one sub-attribute",
        ),
        ("name.", 5, "invalidPath", "expected an attribute name"),
        (
            "name.familyName[value eq 1]",
            15,
            "invalidPath",
            "a value filter must follow an attribute name",
        ),
        (
            r#"userName eq "x""#,
            9,
            "invalidPath",
            r#"expected "[" or end of path"#,
        ),
        (
            "emails []",
            7,
            "invalidPath",
            r#"expected "[" or end of path"#,
        ),
        (
            r#"emails[type eq "work"]value"#,
            22,
            "invalidPath",
            r#"expected "." and a sub-attribute name, or end of path"#,
        ),
        (
            r#"emails[type eq "work"]."#,
            23,
            "invalidPath",
            "expected an attribute name",
        ),
        (
            r#"emails[type eq "work"].value.x"#,
            28,
            "invalidPath",
            "expected end of path",
        ),
        (
            r#"emails[type eq "work"].value eq "x""#,
            29,
            "invalidPath",
            "expected end of path",
        ),
        (
            r#"emails[type eq "work"][x pr]"#,
            22,
            "invalidPath",
            r#"expected "." and a sub-attribute name"#,
        ),
        (
            r#"emails[type eq "work""#,
            21,
            "invalidFilter",
            r#"to close the "[" at position 6"#,
        ),
        ("emails[]", 7, "invalidFilter", "expected an attribute path"),
        ("emails[type eq]", 14, "invalidFilter", "expected a value"),
        (
            "emails[type]",
            11,
            "invalidFilter",
            r#"expected an operator after "type""#,
        ),
        (
            "emails[value[x eq 1]]",
            12,
            "invalidFilter",
            "value filters cannot be nested",
        ),
        (
            "emails[name.x eq 1]",
            11,
            "invalidFilter",
            r#"without a ".""#,
        ),
        (
            r#"emails[type eq "\ud800"]"#,
            16,
            "invalidFilter",
            "unpaired UTF-16 high surrogate",
        ),
    ];

    #[test]
    fn invalid_paths_report_positions() {
        for &(input, position, scim_type, fragment) in INVALID {
            let err = match PatchPath::parse(input) {
                Ok(p) => panic!("{input:?} should not parse, got {p:?}"),
                Err(e) => e,
            };
            let message = err.to_string();
            assert_eq!(
                err.position(),
                position,
                "position for {input:?}: {message}"
            );
            assert_eq!(
                err.scim_type(),
                scim_type,
                "scimType for {input:?}: {message}"
            );
            assert!(
                message.contains(fragment),
                "message for {input:?} should contain {fragment:?}: {message}"
            );
            assert!(
                message.contains(&format!("at position {position}")),
                "{message}"
            );
        }
    }

    #[test]
    fn path_error_messages() {
        let e = PatchPath::parse("emails[type]").unwrap_err();
        assert_eq!(
            e.to_string(),
            r#"invalid value filter in path: expected an operator after "type" at position 11, found "]""#
        );
        assert!(std::error::Error::source(&e).is_some());
        let e = PatchPath::parse("name.familyName.x").unwrap_err();
        assert_eq!(
            e.to_string(),
            "an attribute path can have at most one sub-attribute at position 15"
        );
    }

    #[test]
    fn path_limits() {
        let e = PatchPath::parse(&"a".repeat(MAX_INPUT_LEN + 1)).unwrap_err();
        assert_eq!(
            e,
            PathError::TooLong {
                len: MAX_INPUT_LEN + 1,
                max: MAX_INPUT_LEN
            }
        );
        assert_eq!(e.scim_type(), "invalidPath");
        parse_ok(&"a".repeat(MAX_INPUT_LEN));
        let deep = format!(
            "emails[{}type pr{}]",
            "(".repeat(MAX_DEPTH),
            ")".repeat(MAX_DEPTH)
        );
        let e = PatchPath::parse(&deep).unwrap_err();
        assert!(
            matches!(e, PathError::Filter(FilterError::TooDeep { .. })),
            "{e:?}"
        );
        assert_eq!(e.scim_type(), "invalidFilter");
        let e = PatchPath::parse(&format!("emails[{}", "(".repeat(4000))).unwrap_err();
        assert!(matches!(e, PathError::Filter(FilterError::TooDeep { .. })));
    }

    fn iterations(base: usize) -> usize {
        let scale = std::env::var("SCIM_FUZZ_SCALE")
            .ok()
            .and_then(|s| s.parse::<usize>().ok())
            .unwrap_or(1);
        base.saturating_mul(scale)
    }

    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            self.0 >> 33
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    fn check_any(input: &str) {
        match PatchPath::parse(input) {
            Ok(p) => {
                let printed = p.to_string();
                match PatchPath::parse(&printed) {
                    Ok(again) => assert_eq!(again, p, "{input:?} -> {printed:?}"),
                    Err(PathError::TooLong { .. })
                    | Err(PathError::Filter(FilterError::TooLong { .. }))
                    | Err(PathError::Filter(FilterError::TooDeep { .. })) => {}
                    Err(e) => panic!("canonical {printed:?} of {input:?} fails: {e}"),
                }
            }
            Err(e) => {
                let pos = e.position();
                if !matches!(e, PathError::TooLong { .. }) {
                    assert!(
                        pos <= input.len() && input.is_char_boundary(pos),
                        "{input:?}: {e}"
                    );
                }
                assert!(!e.to_string().is_empty());
            }
        }
    }

    #[test]
    fn fuzz_paths() {
        const PIECES: &[&str] = &[
            "emails",
            "name",
            ".",
            "familyName",
            "[",
            "]",
            "type",
            " eq ",
            "\"work\"",
            " and ",
            " or ",
            "not",
            "(",
            ")",
            "value",
            "urn:",
            "ietf:params:scim:",
            "2.0:User:",
            ":",
            "$ref",
            " pr",
            "\"",
            "\\u",
            "é",
            "😀",
            " ",
            "1",
            "-",
            "\u{0}",
        ];
        let mut rng = Lcg(0x9a74_0001);
        for _ in 0..iterations(6000) {
            let n = rng.below(10);
            let s: String = (0..n).map(|_| PIECES[rng.below(PIECES.len())]).collect();
            check_any(&s);
        }
        for _ in 0..iterations(6000) {
            let (base, ..) = VALID[rng.below(VALID.len())];
            let mut chars: Vec<char> = base.chars().collect();
            for _ in 0..1 + rng.below(3) {
                let at = rng.below(chars.len() + 1);
                match rng.below(3) {
                    0 if at < chars.len() => {
                        chars.remove(at);
                    }
                    1 => {
                        let piece: Vec<char> = PIECES[rng.below(PIECES.len())].chars().collect();
                        chars.splice(at..at, piece);
                    }
                    _ => chars.truncate(at),
                }
            }
            check_any(&chars.iter().collect::<String>());
        }
        for _ in 0..iterations(3000) {
            let len = rng.below(32);
            let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            check_any(&String::from_utf8_lossy(&bytes));
        }
    }
}
