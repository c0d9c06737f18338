//! An IdP's side of SCIM: the acme organization with SCIM on, and requests
//! sent with its bearer token.

use super::{TestApp, TestResponse};
use serde_json::{json, Value};
use uuid::Uuid;

pub const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

pub struct ScimIdp {
    pub app: TestApp,
    pub connection: Uuid,
    pub token: String,
}

impl ScimIdp {
    /// A new server with the acme organization and SCIM enabled.
    pub async fn start() -> Self {
        let app = TestApp::spawn().await.with_acme().await;
        let (connection, token) = app.enable_scim().await;
        Self {
            app,
            connection,
            token,
        }
    }

    /// One request to `path` under the connection's SCIM base URL.
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> TestResponse {
        self.app
            .scim(method, self.connection, path, Some(&self.token), body)
            .await
    }

    /// A PatchOp request with these operations.
    pub async fn patch(&self, path: &str, operations: Value) -> TestResponse {
        self.call(
            "PATCH",
            path,
            Some(json!({"schemas": [PATCH], "Operations": operations})),
        )
        .await
    }
}
