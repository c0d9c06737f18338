//! Logout with a real OpenID Provider (`oidc-provider`, RP-Initiated Logout
//! and Back-Channel Logout on): signing out of Latchkey sends the member to
//! the provider's end_session_endpoint and back; the provider's own logout
//! reaches Latchkey over the back channel and ends the member's session. The
//! app is served on a real port here, since the provider POSTs to it.

mod common;

use axum::http::{header, StatusCode};
use common::oidc_peer::*;
use common::*;
use serde_json::json;
use server::secrets::SecretSlot;
use std::net::SocketAddr;

struct Setup {
    app: TestApp,
    provider: Provider,
    connection: String,
    /// Where this app is served, and its public URL.
    public: String,
}

impl Setup {
    async fn new() -> Self {
        let provider = Provider::start().await;
        let port = free_port();
        let public = format!("http://127.0.0.1:{port}");
        let app = TestApp::spawn_with(&[
            ("LATCHKEY_ALLOW_PRIVATE_URLS", "true"),
            ("LATCHKEY_PUBLIC_URL", public.as_str()),
        ])
        .await
        .with_acme()
        .await;
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        let router = app.router.clone();
        tokio::spawn(async move {
            axum::serve(
                listener,
                router.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await
        });
        let admin = app.session_for(ADMIN_EMAIL).await;
        let connection = create_oidc_connection(&app, &admin, &provider, CLIENT_SECRET).await;
        provider
            .allow_redirect(&format!("{public}/sso/oidc/{connection}/callback"))
            .await;
        provider
            .allow_logout(
                &format!("{public}/sso/oidc/{connection}/logout"),
                &format!("{public}/sso/oidc/{connection}/backchannel-logout"),
            )
            .await;
        Self {
            app,
            provider,
            connection,
            public,
        }
    }

    /// `login` signs in through the provider; returns the session cookie.
    async fn sign_in(&self, login: &str) -> String {
        let started = self.app.get("/login/acme", None).await;
        let (authorize, binding) = started_at_provider(&started);
        let back = self
            .provider
            .sign_in_back_to(&authorize, login, &self.public)
            .await;
        let response = self.get(&back, Some(&binding)).await;
        response.session_cookie().expect("signed in")
    }

    async fn get(&self, url: &str, cookie: Option<&str>) -> TestResponse {
        let path = url.strip_prefix(&self.public).expect("one of our URLs");
        let mut request = axum::http::Request::get(path);
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        self.app
            .send(request.body(axum::body::Body::empty()).unwrap())
            .await
    }

    async fn session(&self, cookie: &str) -> Option<server::entities::session::Model> {
        server::sessions::find_live(&self.app.db, cookie)
            .await
            .unwrap()
    }

    async fn backchannel(&self, logout_token: &str) -> TestResponse {
        let body = url_encode(&[("logout_token", logout_token)]);
        self.app
            .send(
                axum::http::Request::post(format!(
                    "/sso/oidc/{}/backchannel-logout",
                    self.connection
                ))
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(axum::body::Body::from(body))
                .unwrap(),
            )
            .await
    }
}

#[tokio::test]
async fn signing_out_ends_the_session_at_the_provider_and_comes_back() {
    let setup = Setup::new().await;
    let cookie = setup.sign_in("peter").await;

    let signed_out = setup.app.call("logout", "", Some(&cookie)).await;
    let to_provider = signed_out.header("location").expect("sent on").to_string();
    let url = url::Url::parse(&to_provider).unwrap();
    assert_eq!(
        url.as_str().split('?').next(),
        Some(format!("{}/session/end", setup.provider.issuer).as_str())
    );
    let query: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(query["client_id"], CLIENT_ID);
    assert_eq!(
        query["post_logout_redirect_uri"],
        format!("{}/sso/oidc/{}/logout", setup.public, setup.connection)
    );
    assert!(query["id_token_hint"].split('.').count() == 3);
    assert!(setup.session(&cookie).await.is_none(), "ended here at once");

    // oidc-provider checks the hint and the registered address, asks, and sends the member back.
    let back = setup.provider.confirm_logout(&to_provider).await;
    assert!(
        back.starts_with(&format!(
            "{}/sso/oidc/{}/logout?state=",
            setup.public, setup.connection
        )),
        "{back}"
    );
    let landed = setup.get(&back, None).await;
    assert_eq!(landed.status, StatusCode::SEE_OTHER, "{}", landed.body);
    assert_eq!(landed.header("location"), Some("/login"));
    let event = setup.app.last_sso_event().await;
    assert_eq!((event.kind.as_str(), event.success), ("logout", true));
}

#[tokio::test]
async fn the_providers_back_channel_logout_ends_the_members_session() {
    let setup = Setup::new().await;
    let cookie = setup.sign_in("peter").await;
    assert!(setup.session(&cookie).await.unwrap().idp_sid.is_some());

    // The member logs out at the provider itself.
    setup
        .provider
        .confirm_logout(&format!("{}/session/end", setup.provider.issuer))
        .await;
    for _ in 0..100 {
        if setup.session(&cookie).await.is_none() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        setup.session(&cookie).await.is_none(),
        "the provider's logout reached us: {:?}",
        setup.app.last_sso_event().await
    );
    let event = setup.app.last_sso_event().await;
    assert_eq!(
        (event.kind.as_str(), event.success),
        ("logout", true),
        "{event:?}"
    );
    assert_eq!(event.subject, "peter");
}

#[tokio::test]
async fn tokens_that_are_not_the_providers_logout_tokens_end_nothing() {
    let setup = Setup::new().await;
    let cookie = setup.sign_in("peter").await;
    let session = setup.session(&cookie).await.unwrap();
    let connection_id = uuid::Uuid::parse_str(&setup.connection).unwrap();
    // The provider's own ID token for this session: signed by it, but not a logout token.
    let id_token = setup
        .app
        .state
        .secrets
        .decrypt(
            SecretSlot::IdpIdToken(connection_id),
            session.idp_id_token.as_deref().unwrap(),
        )
        .unwrap();
    let b64 = |value: serde_json::Value| {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string())
    };
    let unsigned = format!(
        "{}.{}.",
        b64(json!({"alg": "none"})),
        b64(json!({
            "iss": setup.provider.issuer, "aud": CLIENT_ID, "iat": chrono::Utc::now().timestamp(),
            "sid": session.idp_sid, "events": {"http://schemas.openid.net/event/backchannel-logout": {}}
        }))
    );
    for (name, token) in [
        ("an ID token", id_token.as_str()),
        ("an unsigned token", unsigned.as_str()),
        ("not a JWT", "garbage"),
    ] {
        let response = setup.backchannel(token).await;
        assert_eq!(
            response.status,
            StatusCode::BAD_REQUEST,
            "{name}: {}",
            response.body
        );
        assert_eq!(response.json()["error"], "invalid_request", "{name}");
        assert!(
            setup.session(&cookie).await.is_some(),
            "{name}: the session survives"
        );
    }
}
