//! The discovery documents: ServiceProviderConfig, ResourceTypes and Schemas
//! (RFC 7643 §5–§7), built from one description of what this server supports.

use super::resource::{ENTERPRISE_SCHEMA, GROUP_SCHEMA, LIST_SCHEMA, USER_SCHEMA};
use super::schema::{self, Attr, ResourceKind};
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

fn schema(base: &str, id: &str, name: &str, attributes: &[Attr]) -> Value {
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
        schema(base, USER_SCHEMA, "User", ResourceKind::User.attributes()),
        schema(
            base,
            ENTERPRISE_SCHEMA,
            "EnterpriseUser",
            schema::enterprise_attributes(),
        ),
        schema(
            base,
            GROUP_SCHEMA,
            "Group",
            ResourceKind::Group.attributes(),
        ),
    ]
}
