//! The attribute catalogue: the schemas Latchkey publishes at `/Schemas`
//! (RFC 7643 §4, §7) and the rules every request is held to. Discovery renders
//! it; POST and PUT documents and every PATCH operation are checked against it,
//! so what we publish and what we accept cannot drift apart.
//!
//! What a check refuses (RFC 7644 §3.12): a value of the wrong type, a list
//! where one value belongs or the reverse, or a value outside an attribute's
//! canonical values is `invalidValue`; an attribute the schema does not have is
//! `invalidSyntax` in a document and `invalidPath` in a PATCH path; an extension
//! schema we do not support is refused with its name. Read-only attributes in a
//! document are ignored (RFC 7644 §3.5.1); `password` (write-only) is dropped
//! by the User draft without being checked, so an attempt can still be audited.

use super::errors::ScimError;
use super::path::PatchPath;
use super::resource::{scope_of, Scope, ENTERPRISE_SCHEMA, GROUP_SCHEMA, READ_ONLY, USER_SCHEMA};
use serde_json::{json, Map, Value};
use std::sync::OnceLock;

/// An attribute definition with the RFC's defaults for everything not given.
pub struct Attr {
    name: &'static str,
    kind: &'static str,
    multi: bool,
    required: bool,
    mutability: &'static str,
    returned: &'static str,
    uniqueness: &'static str,
    case_exact: bool,
    references: &'static [&'static str],
    canonical: &'static [&'static str],
    subs: Vec<Attr>,
}

fn attr(name: &'static str, kind: &'static str) -> Attr {
    Attr {
        name,
        kind,
        multi: false,
        required: false,
        mutability: "readWrite",
        returned: "default",
        uniqueness: "none",
        case_exact: false,
        references: &[],
        canonical: &[],
        subs: Vec::new(),
    }
}

fn string(name: &'static str) -> Attr {
    attr(name, "string")
}

fn complex(name: &'static str, subs: Vec<Attr>) -> Attr {
    Attr {
        subs,
        ..attr(name, "complex")
    }
}

fn multi(name: &'static str, subs: Vec<Attr>) -> Attr {
    Attr {
        multi: true,
        ..complex(name, subs)
    }
}

impl Attr {
    fn required(mut self) -> Self {
        self.required = true;
        self
    }
    fn server_unique(mut self) -> Self {
        self.uniqueness = "server";
        self
    }
    fn mutability(mut self, m: &'static str) -> Self {
        self.mutability = m;
        self
    }
    fn returned(mut self, r: &'static str) -> Self {
        self.returned = r;
        self
    }
    fn case_exact(mut self) -> Self {
        self.case_exact = true;
        self
    }
    fn refs(mut self, r: &'static [&'static str]) -> Self {
        self.references = r;
        self
    }
    fn canonical(mut self, values: &'static [&'static str]) -> Self {
        self.canonical = values;
        self
    }

    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "name": self.name,
            "type": self.kind,
            "multiValued": self.multi,
            "description": "",
            "required": self.required,
            "caseExact": self.case_exact,
            "mutability": self.mutability,
            "returned": self.returned,
            "uniqueness": self.uniqueness,
        });
        if self.kind == "reference" {
            v["referenceTypes"] = json!(self.references);
        }
        if !self.canonical.is_empty() {
            v["canonicalValues"] = json!(self.canonical);
        }
        if !self.subs.is_empty() {
            v["subAttributes"] = Value::Array(self.subs.iter().map(Attr::to_json).collect());
        }
        v
    }
}

fn typed_values(value_kind: &'static str) -> Vec<Attr> {
    vec![
        attr("value", value_kind),
        string("display"),
        string("type"),
        attr("primary", "boolean"),
    ]
}

fn user_attributes() -> Vec<Attr> {
    vec![
        string("userName").required().server_unique(),
        complex(
            "name",
            vec![
                string("formatted"),
                string("familyName"),
                string("givenName"),
                string("middleName"),
                string("honorificPrefix"),
                string("honorificSuffix"),
            ],
        ),
        string("displayName"),
        string("nickName"),
        attr("profileUrl", "reference").refs(&["external"]),
        string("title"),
        string("userType"),
        string("preferredLanguage"),
        string("locale"),
        string("timezone"),
        attr("active", "boolean"),
        string("password").mutability("writeOnly").returned("never"),
        multi("emails", typed_values("string")),
        multi("phoneNumbers", typed_values("string")),
        multi(
            "addresses",
            vec![
                string("formatted"),
                string("streetAddress"),
                string("locality"),
                string("region"),
                string("postalCode"),
                string("country"),
                string("type"),
                attr("primary", "boolean"),
            ],
        ),
        multi("ims", typed_values("string")),
        multi("photos", typed_values("reference")),
        multi("entitlements", typed_values("string")),
        multi("roles", typed_values("string")),
        multi("x509Certificates", typed_values("binary")),
        // Written by the server from Group memberships; ignored in requests.
        multi(
            "groups",
            vec![
                string("value"),
                attr("$ref", "reference").refs(&["User", "Group"]),
                string("display"),
                string("type").canonical(&["direct", "indirect"]),
            ],
        )
        .mutability("readOnly"),
    ]
}

fn enterprise_attributes_list() -> Vec<Attr> {
    vec![
        string("employeeNumber"),
        string("costCenter"),
        string("organization"),
        string("division"),
        string("department"),
        complex(
            "manager",
            vec![
                string("value"),
                attr("$ref", "reference").refs(&["User"]),
                string("displayName").mutability("readOnly"),
            ],
        ),
    ]
}

fn group_attributes() -> Vec<Attr> {
    vec![
        string("displayName").required(),
        multi(
            "members",
            vec![
                string("value").mutability("immutable").case_exact(),
                attr("$ref", "reference")
                    .refs(&["User", "Group"])
                    .mutability("immutable"),
                string("type")
                    .mutability("immutable")
                    .canonical(&["User", "Group"]),
            ],
        ),
    ]
}

/// Attributes every resource has (RFC 7643 §3.1), not listed in any schema.
fn common_attributes() -> Vec<Attr> {
    vec![
        string("id").mutability("readOnly").case_exact(),
        string("externalId").case_exact(),
        complex(
            "meta",
            vec![
                string("resourceType"),
                attr("created", "dateTime"),
                attr("lastModified", "dateTime"),
                attr("location", "reference"),
                string("version"),
            ],
        )
        .mutability("readOnly"),
    ]
}

/// The sub-attributes RFC 7643 §2.4 gives every multi-valued attribute, so an
/// element may carry them even where the schema lists fewer (Okta sends each
/// group member's `display`).
fn default_sub_attributes() -> Vec<Attr> {
    vec![
        string("type"),
        attr("primary", "boolean"),
        string("display").mutability("immutable"),
        string("value"),
        attr("$ref", "reference"),
    ]
}

struct Catalogue {
    user: Vec<Attr>,
    enterprise: Vec<Attr>,
    group: Vec<Attr>,
    common: Vec<Attr>,
    default_subs: Vec<Attr>,
}

fn catalogue() -> &'static Catalogue {
    static CATALOGUE: OnceLock<Catalogue> = OnceLock::new();
    CATALOGUE.get_or_init(|| Catalogue {
        user: user_attributes(),
        enterprise: enterprise_attributes_list(),
        group: group_attributes(),
        common: common_attributes(),
        default_subs: default_sub_attributes(),
    })
}

/// Every attribute and sub-attribute name the catalogue knows, once each, and
/// whether any attribute of that name is multi-valued.
fn names() -> &'static [(&'static str, bool)] {
    static NAMES: OnceLock<Vec<(&'static str, bool)>> = OnceLock::new();
    NAMES.get_or_init(|| {
        fn walk(attrs: &'static [Attr], out: &mut Vec<(&'static str, bool)>) {
            for attr in attrs {
                match out.iter_mut().find(|(name, _)| *name == attr.name) {
                    Some((_, multi)) => *multi |= attr.multi,
                    None => out.push((attr.name, attr.multi)),
                }
                walk(&attr.subs, out);
            }
        }
        let c = catalogue();
        let mut out = vec![("schemas", true)];
        for attrs in [&c.user, &c.enterprise, &c.group, &c.common, &c.default_subs] {
            walk(attrs, &mut out);
        }
        out
    })
}

/// The catalogue's spelling of an attribute name given in any case (RFC 7643 §2.1).
pub fn canonical_spelling(name: &str) -> Option<&'static str> {
    names()
        .iter()
        .find(|(known, _)| known.eq_ignore_ascii_case(name))
        .map(|(known, _)| *known)
}

/// Whether an attribute of this name holds a list.
pub fn is_multi_valued(name: &str) -> bool {
    names()
        .iter()
        .any(|(known, multi)| *multi && known.eq_ignore_ascii_case(name))
}

/// The enterprise User extension's attributes.
pub fn enterprise_attributes() -> &'static [Attr] {
    &catalogue().enterprise
}

/// The two kinds of resource the SCIM endpoints serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceKind {
    User,
    Group,
}

impl ResourceKind {
    pub fn name(self) -> &'static str {
        match self {
            Self::User => "User",
            Self::Group => "Group",
        }
    }

    pub fn core_schema(self) -> &'static str {
        match self {
            Self::User => USER_SCHEMA,
            Self::Group => GROUP_SCHEMA,
        }
    }

    /// The core schema's attributes, as published.
    pub fn attributes(self) -> &'static [Attr] {
        match self {
            Self::User => &catalogue().user,
            Self::Group => &catalogue().group,
        }
    }

    /// The extension schema named `urn`, if this resource supports it.
    fn extension(self, urn: &str) -> Option<&'static [Attr]> {
        (self == Self::User && urn.eq_ignore_ascii_case(ENTERPRISE_SCHEMA))
            .then(enterprise_attributes)
    }

    /// A core attribute or a common one, by name in any case.
    fn find(self, name: &str) -> Option<&'static Attr> {
        find(self.attributes(), name).or_else(|| find(&catalogue().common, name))
    }
}

fn find<'a>(attrs: &'a [Attr], name: &str) -> Option<&'a Attr> {
    attrs.iter().find(|a| a.name.eq_ignore_ascii_case(name))
}

/// A member of an object described by `attrs`; `element`: the object is an
/// element of a list, which may also carry the RFC's default sub-attributes.
fn find_member(attrs: &'static [Attr], element: bool, name: &str) -> Option<&'static Attr> {
    find(attrs, name).or_else(|| {
        element
            .then(|| find(&catalogue().default_subs, name))
            .flatten()
    })
}

/// Checks a POST or PUT document (keys already in their canonical spelling)
/// against the resource's schemas, and returns it with the forms IdPs send
/// turned into the published ones (see [`conform_value`]).
pub fn conform_document(
    kind: ResourceKind,
    doc: Map<String, Value>,
) -> Result<Map<String, Value>, ScimError> {
    let declared = declared_schemas(kind, doc.get("schemas"))?;
    let mut out = Map::with_capacity(doc.len());
    for (key, value) in doc {
        let value = if key == "schemas" {
            value
        } else if key.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:")) {
            conform_extension(kind, &key, value, &declared)?
        } else {
            let attr = kind.find(&key).ok_or_else(|| {
                ScimError::InvalidSyntax(format!(
                    "\"{}\" is not an attribute of a {} (see /Schemas).",
                    short(&key),
                    kind.name()
                ))
            })?;
            conform_value(attr, &key, value)?
        };
        out.insert(key, value);
    }
    Ok(out)
}

/// The `schemas` a document lists: each must be this resource's core schema or
/// an extension it supports.
fn declared_schemas(kind: ResourceKind, schemas: Option<&Value>) -> Result<Vec<String>, ScimError> {
    let list = match schemas {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(list)) => list,
        Some(_) => {
            return Err(ScimError::InvalidValue(
                "\"schemas\" must be a list of schema URNs.".into(),
            ))
        }
    };
    let mut declared = Vec::with_capacity(list.len());
    for urn in list {
        let Some(urn) = urn.as_str() else {
            return Err(ScimError::InvalidValue(
                "\"schemas\" must be a list of schema URNs.".into(),
            ));
        };
        if !urn.eq_ignore_ascii_case(kind.core_schema()) && kind.extension(urn).is_none() {
            return Err(ScimError::InvalidValue(format!(
                "The schema \"{}\" is not supported here. {}",
                short(urn),
                supported(kind)
            )));
        }
        declared.push(urn.to_string());
    }
    Ok(declared)
}

fn supported(kind: ResourceKind) -> String {
    match kind {
        ResourceKind::User => {
            format!("A User may use \"{USER_SCHEMA}\" and the extension \"{ENTERPRISE_SCHEMA}\".")
        }
        ResourceKind::Group => format!("A Group may use \"{GROUP_SCHEMA}\" only."),
    }
}

fn conform_extension(
    kind: ResourceKind,
    urn: &str,
    value: Value,
    declared: &[String],
) -> Result<Value, ScimError> {
    let Some(attrs) = kind.extension(urn) else {
        return Err(if declared.iter().any(|d| d.eq_ignore_ascii_case(urn)) {
            ScimError::InvalidValue(format!(
                "The schema \"{}\" is not supported here. {}",
                short(urn),
                supported(kind)
            ))
        } else {
            ScimError::InvalidSyntax(format!(
                "\"{}\" is not a schema of a {}, and it is not listed in \"schemas\". {}",
                short(urn),
                kind.name(),
                supported(kind)
            ))
        });
    };
    match value {
        Value::Null => Ok(Value::Null),
        Value::Object(mut ext) => {
            // Some clients repeat the extension's `schemas` inside it; it says nothing new.
            ext.remove("schemas");
            Ok(Value::Object(conform_members(attrs, false, urn, ext)?))
        }
        other => Err(wrong_type(urn, "an object", &other)),
    }
}

/// Checks each member of an object against `attrs` (the sub-attributes of a
/// complex attribute, or an extension's attributes); an element of a list may
/// also carry the RFC's default sub-attributes.
fn conform_members(
    attrs: &'static [Attr],
    element: bool,
    label: &str,
    members: Map<String, Value>,
) -> Result<Map<String, Value>, ScimError> {
    let mut out = Map::with_capacity(members.len());
    for (key, value) in members {
        let Some(attr) = find_member(attrs, element, &key) else {
            return Err(ScimError::InvalidSyntax(format!(
                "\"{label}.{}\" is not an attribute here (see /Schemas).",
                short(&key)
            )));
        };
        let value = conform_value(attr, &format!("{label}.{key}"), value)?;
        out.insert(attr.name.to_string(), value);
    }
    Ok(out)
}

/// Checks one attribute's value. Null means "no value" and is always allowed;
/// read-only and write-only values are left as they came (ignored or dropped
/// later, never stored). A single object sent for a multi-valued attribute
/// becomes a list of one.
pub fn conform_value(attr: &'static Attr, label: &str, value: Value) -> Result<Value, ScimError> {
    if value.is_null() || matches!(attr.mutability, "readOnly" | "writeOnly") {
        return Ok(value);
    }
    if !attr.multi {
        return conform_single(attr, label, value);
    }
    let items = match value {
        Value::Array(items) => items,
        single @ Value::Object(_) => vec![single],
        other => return Err(wrong_type(label, "a list", &other)),
    };
    items
        .into_iter()
        .map(|item| conform_single(attr, label, item))
        .collect::<Result<Vec<_>, _>>()
        .map(Value::Array)
}

/// One value (or one element of a list) of `attr`.
fn conform_single(attr: &'static Attr, label: &str, value: Value) -> Result<Value, ScimError> {
    match (attr.kind, value) {
        (_, Value::Null) => Ok(Value::Null),
        ("complex", Value::Object(members)) => Ok(Value::Object(conform_members(
            &attr.subs, attr.multi, label, members,
        )?)),
        // Entra ID sends the enterprise `manager` as the manager's id alone.
        ("complex", Value::String(id)) if !attr.multi && find(&attr.subs, "value").is_some() => {
            Ok(json!({ "value": id }))
        }
        ("complex", other) => Err(wrong_type(label, "an object", &other)),
        ("boolean", Value::Bool(b)) => Ok(Value::Bool(b)),
        ("boolean", Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Value::Bool(true)),
        ("boolean", Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Value::Bool(false)),
        ("boolean", other) => Err(wrong_type(label, "true or false", &other)),
        (_, Value::String(s)) => check_canonical(attr, label, s),
        (_, other) => Err(wrong_type(label, "a string", &other)),
    }
}

fn check_canonical(attr: &Attr, label: &str, s: String) -> Result<Value, ScimError> {
    if attr.canonical.is_empty() {
        return Ok(Value::String(s));
    }
    match attr.canonical.iter().find(|c| c.eq_ignore_ascii_case(&s)) {
        Some(canonical) => Ok(Value::String(canonical.to_string())),
        None => Err(ScimError::InvalidValue(format!(
            "\"{label}\" must be one of {}; got \"{}\".",
            attr.canonical.join(", "),
            short(&s)
        ))),
    }
}

fn wrong_type(label: &str, expected: &str, got: &Value) -> ScimError {
    let got = match got {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    };
    ScimError::InvalidValue(format!("\"{label}\" must be {expected}; got {got}."))
}

fn short(s: &str) -> String {
    s.chars().take(120).collect()
}

/// Checks a PATCH operation's path against the catalogue and its value against
/// what the path names, and returns the value in its published form. Without
/// a path, the value is an object of attributes, each key read as a path.
pub fn conform_operation(
    kind: ResourceKind,
    path: Option<&PatchPath>,
    value: Option<Value>,
) -> Result<Option<Value>, ScimError> {
    match path {
        Some(path) => {
            let target = resolve(kind, path)?;
            match value {
                Some(value) => target.conform(value).map(Some),
                None => Ok(None),
            }
        }
        None => match value {
            Some(Value::Object(values)) => {
                conform_pathless(kind, values).map(|v| Some(Value::Object(v)))
            }
            other => Ok(other),
        },
    }
}

fn conform_pathless(
    kind: ResourceKind,
    values: Map<String, Value>,
) -> Result<Map<String, Value>, ScimError> {
    let mut out = Map::with_capacity(values.len());
    for (key, value) in values {
        let value = if READ_ONLY.iter().any(|r| r.eq_ignore_ascii_case(&key)) {
            value
        } else if key == ENTERPRISE_SCHEMA && kind == ResourceKind::User {
            conform_extension(kind, &key, value, &[])?
        } else {
            let path = PatchPath::parse(&key)?;
            resolve(kind, &path)?.conform(value)?
        };
        out.insert(key, value);
    }
    Ok(out)
}

/// What a PATCH path names: an attribute, one of its sub-attributes, or the
/// whole enterprise extension.
enum Target {
    Extension(ResourceKind, String),
    Attribute {
        attr: &'static Attr,
        sub: Option<&'static Attr>,
        filtered: bool,
        label: String,
    },
}

impl Target {
    fn conform(&self, value: Value) -> Result<Value, ScimError> {
        match self {
            Self::Extension(kind, urn) => conform_extension(*kind, urn, value, &[]),
            Self::Attribute {
                sub: Some(sub),
                label,
                ..
            } => conform_value(sub, label, value),
            // `emails[type eq "work"]`: the value is one element.
            Self::Attribute {
                attr,
                filtered: true,
                label,
                ..
            } => conform_single(attr, label, value),
            Self::Attribute { attr, label, .. } => conform_value(attr, label, value),
        }
    }
}

fn resolve(kind: ResourceKind, path: &PatchPath) -> Result<Target, ScimError> {
    let unknown = || {
        ScimError::InvalidPath(format!(
            "\"{path}\" is not an attribute of a {} (see /Schemas).",
            kind.name()
        ))
    };
    let (scope, attr_path) = scope_of(&path.attr, kind.core_schema())?;
    let Some(attr_path) = attr_path else {
        return Ok(Target::Extension(kind, ENTERPRISE_SCHEMA.to_string()));
    };
    let attr = match scope {
        Scope::Core => kind.find(&attr_path.attr),
        Scope::Enterprise => find(enterprise_attributes(), &attr_path.attr),
    }
    .ok_or_else(unknown)?;
    if path.filter.is_some() && !attr.multi {
        return Err(ScimError::InvalidPath(format!(
            "\"{}\" is not multi-valued, so it takes no value filter.",
            attr.name
        )));
    }
    let sub = match &path.sub_attr {
        None => None,
        Some(name) => Some(find_member(&attr.subs, attr.multi, name).ok_or_else(unknown)?),
    };
    let label = match sub {
        Some(sub) => format!("{}.{}", attr.name, sub.name),
        None => attr.name.to_string(),
    };
    Ok(Target::Attribute {
        attr,
        sub,
        filtered: path.filter.is_some(),
        label,
    })
}
