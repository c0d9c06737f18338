//! The discovery documents: ServiceProviderConfig, ResourceTypes and Schemas
//! (RFC 7643 §5–§7), built from one description of what this server supports.

use super::resource::{ENTERPRISE_SCHEMA, GROUP_SCHEMA, LIST_SCHEMA, USER_SCHEMA};
use serde_json::{json, Value};

pub const SPC_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
pub const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
pub const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

/// Largest page a list returns; also the `filter.maxResults` advertised.
pub const MAX_RESULTS: u64 = 1000;
/// Largest request body accepted on the SCIM endpoints.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

pub fn service_provider_config(base: &str) -> Value {
    json!({
        "schemas": [SPC_SCHEMA],
        "documentationUri": "https://github.com/latchkey/latchkey#scim-provisioning",
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": true, "maxResults": MAX_RESULTS},
        "changePassword": {"supported": false},
        "sort": {"supported": false},
        "etag": {"supported": false},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "The bearer token shown once in Settings > User Provisioning.",
            "primary": true
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{base}/ServiceProviderConfig")
        }
    })
}

pub fn resource_types(base: &str) -> Vec<Value> {
    vec![
        json!({
            "schemas": [RESOURCE_TYPE_SCHEMA],
            "id": "User",
            "name": "User",
            "endpoint": "/Users",
            "description": "A person's account; userName is the sign-in email.",
            "schema": USER_SCHEMA,
            "schemaExtensions": [{"schema": ENTERPRISE_SCHEMA, "required": false}],
            "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/User")}
        }),
        json!({
            "schemas": [RESOURCE_TYPE_SCHEMA],
            "id": "Group",
            "name": "Group",
            "endpoint": "/Groups",
            "description": "A group of users.",
            "schema": GROUP_SCHEMA,
            "schemaExtensions": [],
            "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/Group")}
        }),
    ]
}

pub fn list(resources: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_SCHEMA],
        "totalResults": resources.len(),
        "startIndex": 1,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}

/// An attribute definition with the RFC's defaults for everything not given.
struct Attr {
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

    fn to_json(&self) -> Value {
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
        multi("roles", typed_values("string")),
    ]
}

fn enterprise_attributes() -> Vec<Attr> {
    vec![
        string("employeeNumber"),
        string("costCenter"),
        string("organization"),
        string("division"),
        string("department"),
        complex(
            "manager",
            vec![string("value"), attr("$ref", "reference").refs(&["User"])],
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

fn schema(base: &str, id: &str, name: &str, attributes: Vec<Attr>) -> Value {
    json!({
        "schemas": [SCHEMA_SCHEMA],
        "id": id,
        "name": name,
        "description": format!("{name} as Latchkey stores it"),
        "attributes": attributes.iter().map(Attr::to_json).collect::<Vec<_>>(),
        "meta": {"resourceType": "Schema", "location": format!("{base}/Schemas/{id}")}
    })
}

pub fn schemas(base: &str) -> Vec<Value> {
    vec![
        schema(base, USER_SCHEMA, "User", user_attributes()),
        schema(
            base,
            ENTERPRISE_SCHEMA,
            "EnterpriseUser",
            enterprise_attributes(),
        ),
        schema(base, GROUP_SCHEMA, "Group", group_attributes()),
    ]
}
