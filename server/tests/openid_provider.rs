//! Latchkey as the OpenID Provider of host apps (SPEC §14), fed every request
//! a host app (or an attacker holding part of one) can send: the happy path
//! is checked with the `openidconnect` crate's own ID-token verifier against
//! our JWKS, and each refusal is checked for the exact error a client sees.

mod common;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use common::*;
use openidconnect::core::CoreJsonWebKeySet;
use openidconnect::{ClientId, IdTokenVerifier, IssuerUrl, Nonce};
use sea_orm::{ActiveModelTrait, EntityTrait, Set};
use serde_json::{json, Value};
use server::entities::op_authorization_code;
use server::provider::apps::{self, NewApp};
use server::provider::claims::HostIdToken;
use std::collections::HashMap;

const REDIRECT_URI: &str = "https://app.example.com/callback";
const PUBLIC_URL: &str = "https://latchkey.example.com";
// RFC 7636 Appendix B.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

struct Client {
    id: String,
    secret: String,
}

async fn provider() -> TestApp {
    TestApp::spawn_with(&[("LATCHKEY_PUBLIC_URL", PUBLIC_URL)])
        .await
        .with_acme()
        .await
}

async fn register(app: &TestApp, redirect_uris: &[&str]) -> Client {
    let created = app.register_app(redirect_uris, None).await;
    Client {
        id: created.client_id,
        secret: created.client_secret,
    }
}

/// An authorization request with every parameter a strict client sends;
/// `changes` replace (or, with an empty value, remove) or add parameters.
fn authorize_path(client: &Client, changes: &[(&str, &str)]) -> String {
    let mut params: Vec<(String, String)> = [
        ("response_type", "code"),
        ("client_id", client.id.as_str()),
        ("redirect_uri", REDIRECT_URI),
        ("scope", "openid email profile"),
        ("state", "state-123"),
        ("nonce", "nonce-456"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (name, value) in changes {
        params.retain(|(k, _)| k != name);
        if !value.is_empty() {
            params.push((name.to_string(), value.to_string()));
        }
    }
    format!(
        "/oauth2/authorize?{}",
        serde_urlencoded::to_string(&params).unwrap()
    )
}

/// The query of the redirect back to the app.
fn answer(response: &TestResponse) -> HashMap<String, String> {
    let location = response
        .header("location")
        .unwrap_or_else(|| panic!("no redirect ({}): {}", response.status, response.body));
    assert!(
        location.starts_with(&format!("{REDIRECT_URI}?")),
        "not sent back to the app: {location}"
    );
    url::Url::parse(location)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

async fn code_for(app: &TestApp, client: &Client, cookie: &str) -> String {
    let response = app.get(&authorize_path(client, &[]), Some(cookie)).await;
    assert_eq!(response.status, StatusCode::SEE_OTHER, "{}", response.body);
    let answer = answer(&response);
    assert_eq!(answer.get("state").map(String::as_str), Some("state-123"));
    assert_eq!(answer.get("iss").map(String::as_str), Some(PUBLIC_URL));
    answer["code"].clone()
}

fn basic(client: &Client) -> String {
    format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{}", client.id, client.secret))
    )
}

async fn token(app: &TestApp, authorization: Option<&str>, form: &[(&str, &str)]) -> TestResponse {
    let mut builder = Request::post("/oauth2/token")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(authorization) = authorization {
        builder = builder.header(header::AUTHORIZATION, authorization);
    }
    let body = serde_urlencoded::to_string(form).unwrap();
    app.send(builder.body(Body::from(body)).unwrap()).await
}

async fn redeem(app: &TestApp, client: &Client, code: &str) -> TestResponse {
    token(
        app,
        Some(&basic(client)),
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", VERIFIER),
        ],
    )
    .await
}

async fn userinfo(app: &TestApp, access_token: &str) -> TestResponse {
    let request = Request::get("/oauth2/userinfo")
        .header(header::AUTHORIZATION, format!("Bearer {access_token}"))
        .body(Body::empty())
        .unwrap();
    app.send(request).await
}

fn error_of(response: &TestResponse) -> (StatusCode, String) {
    (
        response.status,
        response.json()["error"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
}

/// The ID token's claims, as a stock client library verifies them.
async fn verified_claims(app: &TestApp, client: &Client, id_token: &str) -> Value {
    let jwks: CoreJsonWebKeySet =
        serde_json::from_str(&app.get("/oauth2/jwks", None).await.body).expect("JWKS parses");
    let verifier = IdTokenVerifier::new_public_client(
        ClientId::new(client.id.clone()),
        IssuerUrl::new(PUBLIC_URL.into()).unwrap(),
        jwks,
    );
    let token: HostIdToken = id_token.parse().expect("ID token parses");
    let claims = token
        .claims(&verifier, &Nonce::new("nonce-456".into()))
        .expect("ID token verifies");
    serde_json::to_value(claims).unwrap()
}

#[tokio::test]
async fn discovery_names_the_public_url_and_what_a_client_must_use() {
    let app = provider().await;
    let response = app.get("/.well-known/openid-configuration", None).await;
    assert_eq!(response.status, StatusCode::OK);
    let document = response.json();
    assert_eq!(document["issuer"], PUBLIC_URL);
    for (field, path) in [
        ("authorization_endpoint", "/oauth2/authorize"),
        ("token_endpoint", "/oauth2/token"),
        ("userinfo_endpoint", "/oauth2/userinfo"),
        ("jwks_uri", "/oauth2/jwks"),
    ] {
        assert_eq!(document[field], format!("{PUBLIC_URL}{path}"), "{field}");
    }
    assert_eq!(
        document["code_challenge_methods_supported"],
        json!(["S256"])
    );
    assert_eq!(document["response_types_supported"], json!(["code"]));
    assert_eq!(
        document["token_endpoint_auth_methods_supported"],
        json!(["client_secret_basic", "client_secret_post"])
    );
    let jwks = app.get("/oauth2/jwks", None).await.json();
    let keys = jwks["keys"].as_array().expect("keys");
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["alg"], "RS256");
    assert_eq!(keys[0]["kty"], "RSA");
    assert!(keys[0].get("d").is_none(), "no private part is published");
}

#[tokio::test]
async fn a_signed_in_member_gets_a_code_that_buys_verified_tokens_and_userinfo() {
    let app = provider().await;
    let client = register(&app, &[REDIRECT_URI]).await;
    let cookie = app.session_for(MEMBER_EMAIL).await;
    let code = code_for(&app, &client, &cookie).await;
    let response = redeem(&app, &client, &code).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    assert_eq!(response.header("cache-control"), Some("no-store"));
    let tokens = response.json();
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 3600);
    let claims = verified_claims(&app, &client, tokens["id_token"].as_str().unwrap()).await;
    let member = app.account(MEMBER_EMAIL).await;
    let expected = json!({
        "sub": member.user.id.to_string(),
        "email": MEMBER_EMAIL,
        "email_verified": false,
        "name": "Test User",
        "given_name": "Test",
        "family_name": "User",
        "org_id": member.org.id.to_string(),
        "org_slug": "acme",
        "groups": [],
        "role": "member",
        "amr": ["pwd"],
        "nonce": "nonce-456",
        "iss": PUBLIC_URL,
        "aud": [client.id],
    });
    for (name, value) in expected.as_object().unwrap() {
        assert_eq!(&claims[name], value, "ID token claim {name}");
    }
    assert!(claims["auth_time"].is_number());
    assert!(
        claims.get("idp").is_none(),
        "a password sign-in names no IdP"
    );

    let info = userinfo(&app, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(info.status, StatusCode::OK, "{}", info.body);
    let info = info.json();
    for name in [
        "sub",
        "email",
        "email_verified",
        "name",
        "given_name",
        "family_name",
        "org_id",
        "org_slug",
        "groups",
        "role",
        "amr",
        "auth_time",
    ] {
        assert_eq!(info[name], claims[name], "userinfo claim {name}");
    }
}

#[tokio::test]
async fn a_member_who_signed_in_through_sso_is_said_to_have_and_named_the_connection() {
    let app = provider().await;
    let client = register(&app, &[REDIRECT_URI]).await;
    let member = app.account(MEMBER_EMAIL).await;
    let connection = uuid::Uuid::new_v4();
    let cookie = server::sessions::open_via_sso(
        &app.db,
        member.user.id,
        member.org.id,
        (
            server::sessions::SignInMethod::Saml,
            connection,
            Default::default(),
        ),
        None,
    )
    .await
    .unwrap();
    let code = code_for(&app, &client, &cookie).await;
    let tokens = redeem(&app, &client, &code).await.json();
    let claims = verified_claims(&app, &client, tokens["id_token"].as_str().unwrap()).await;
    assert_eq!(claims["amr"], json!(["sso"]));
    assert_eq!(claims["idp"], json!(connection.to_string()));
}

#[tokio::test]
async fn until_the_client_and_redirect_uri_are_trusted_the_browser_is_sent_nowhere() {
    let app = provider().await;
    let client = register(&app, &[REDIRECT_URI]).await;
    let unknown = Client {
        id: "app_unknown".into(),
        secret: String::new(),
    };
    let cases = [
        (authorize_path(&unknown, &[]), "Unknown application"),
        (
            authorize_path(&client, &[("client_id", "")]),
            "no client_id",
        ),
        (
            authorize_path(&client, &[("redirect_uri", "")]),
            "no redirect_uri",
        ),
        (
            authorize_path(
                &client,
                &[("redirect_uri", "https://evil.example/callback")],
            ),
            "has not registered",
        ),
        (
            authorize_path(
                &client,
                &[("redirect_uri", "https://app.example.com/callback/")],
            ),
            "has not registered",
        ),
        (
            format!("{}&client_id=other", authorize_path(&client, &[])),
            "client_id more than once",
        ),
    ];
    for (path, says) in cases {
        let response = app.get(&path, None).await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST, "{path}");
        assert_eq!(response.header("location"), None, "{path}");
        assert!(response.body.contains(says), "{path}: {}", response.body);
    }
}

#[tokio::test]
async fn a_malformed_request_goes_back_to_the_app_with_the_reason() {
    let app = provider().await;
    let client = register(&app, &[REDIRECT_URI]).await;
    let cookie = app.session_for(MEMBER_EMAIL).await;
    let cases: [(&[(&str, &str)], &str); 8] = [
        (&[("code_challenge", "")], "invalid_request"),
        (&[("code_challenge_method", "plain")], "invalid_request"),
        (&[("code_challenge", "too-short")], "invalid_request"),
        (&[("scope", "email profile")], "invalid_scope"),
        (&[("response_type", "token")], "unsupported_response_type"),
        (&[("response_type", "")], "invalid_request"),
        (
            &[("request", "eyJhbGciOiJub25lIn0.e30.")],
            "request_not_supported",
        ),
        (&[("prompt", "sideways")], "invalid_request"),
    ];
    for (changes, error) in cases {
        let response = app
            .get(&authorize_path(&client, changes), Some(&cookie))
            .await;
        assert_eq!(response.status, StatusCode::SEE_OTHER, "{changes:?}");
        let answer = answer(&response);
        assert_eq!(
            answer.get("error").map(String::as_str),
            Some(error),
            "{changes:?}"
        );
        assert_eq!(answer.get("state").map(String::as_str), Some("state-123"));
        assert!(!answer.contains_key("code"), "{changes:?}");
        assert!(!answer["error_description"].is_empty());
    }
    let repeated = format!("{}&scope=openid", authorize_path(&client, &[]));
    let answer = answer(&app.get(&repeated, Some(&cookie)).await);
    assert_eq!(answer["error"], "invalid_request");
}

#[tokio::test]
async fn nobody_signed_in_is_sent_to_sign_in_and_comes_back_with_a_code() {
    let app = provider().await;
    let client = register(&app, &[REDIRECT_URI]).await;
    let path = authorize_path(&client, &[]);
    let response = app.get(&path, None).await;
    assert_eq!(response.status, StatusCode::SEE_OTHER);
    let expected = format!(
        "/login?next={}",
        url::form_urlencoded::byte_serialize(path.as_bytes()).collect::<String>()
    );
    assert_eq!(response.header("location"), Some(expected.as_str()));

    // An organization without single sign-on signs in with its password form.
    let for_acme = app
        .get(&authorize_path(&client, &[("organization", "acme")]), None)
        .await;
    assert!(for_acme
        .header("location")
        .unwrap()
        .starts_with("/login?next=%2Foauth2%2Fauthorize"));

    let signed_in = app
        .call(
            "login",
            &url_encode(&[
                ("email", MEMBER_EMAIL),
                ("password", PASSWORD),
                ("next", &path),
            ]),
            None,
        )
        .await;
    let cookie = signed_in.session_cookie().expect("signed in");
    let back = signed_in.header("location").expect("sent on").to_string();
    // The sign-in form hands the browser over to the request it came from.
    let handover = format!(
        "/continue?to={}",
        url::form_urlencoded::byte_serialize(path.as_bytes()).collect::<String>()
    );
    assert_eq!(back, handover);
    let response = app.get(&path, Some(&cookie)).await;
    assert!(answer(&response).contains_key("code"));

    // prompt=none never shows a page.
    let silent = app
        .get(&authorize_path(&client, &[("prompt", "none")]), None)
        .await;
    assert_eq!(answer(&silent)["error"], "login_required");
}

#[tokio::test]
async fn a_session_that_does_not_satisfy_the_request_signs_in_again() {
    let app = provider().await;
    let client = register(&app, &[REDIRECT_URI]).await;
    let cookie = app.session_for(MEMBER_EMAIL).await;
    for changes in [
        [("prompt", "login")],
        [("organization", "other-org")],
        [("max_age", "0")],
    ] {
        // max_age=0: any earlier sign-in is too old once a second has passed.
        if changes[0].0 == "max_age" {
            tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        }
        let response = app
            .get(&authorize_path(&client, &changes), Some(&cookie))
            .await;
        let location = response.header("location").unwrap_or_default();
        assert!(location.starts_with("/login"), "{changes:?}: {location}");
        assert!(
            !location.contains("prompt%3Dlogin") && !location.contains("max_age"),
            "{location}"
        );
    }
}

#[tokio::test]
async fn a_member_whose_sign_in_require_sso_no_longer_allows_is_not_handed_over() {
    let app = provider().await;
    let client = register(&app, &[REDIRECT_URI]).await;
    let cookie = app.session_for(MEMBER_EMAIL).await;
    let org = server::accounts::find_organization(&app.db, "acme")
        .await
        .unwrap()
        .unwrap();
    let mut active: server::entities::organization::ActiveModel = org.into();
    active.require_sso = Set(true);
    active.update(&app.db).await.unwrap();
    let response = app
        .get(
            &authorize_path(&client, &[("prompt", "none")]),
            Some(&cookie),
        )
        .await;
    assert_eq!(answer(&response)["error"], "login_required");
}

#[tokio::test]
async fn the_token_endpoint_refuses_what_a_thief_or_a_broken_client_sends() {
    let app = provider().await;
    let client = register(&app, &[REDIRECT_URI, "https://app.example.com/other"]).await;
    let other = register(&app, &[REDIRECT_URI]).await;
    let cookie = app.session_for(MEMBER_EMAIL).await;
    let redeem_with = |changes: Vec<(&'static str, String)>| {
        let mut form: Vec<(&str, String)> = vec![
            ("grant_type", "authorization_code".into()),
            ("redirect_uri", REDIRECT_URI.into()),
            ("code_verifier", VERIFIER.into()),
        ];
        for (name, value) in changes {
            form.retain(|(k, _)| *k != name);
            form.push((name, value));
        }
        form
    };
    let send = |form: Vec<(&'static str, String)>, authorization: Option<String>| {
        let app = &app;
        async move {
            let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            token(app, authorization.as_deref(), &pairs).await
        }
    };

    // Wrong secret, unknown client, no authentication.
    let code = code_for(&app, &client, &cookie).await;
    let wrong = Client {
        id: client.id.clone(),
        secret: "not-the-secret".into(),
    };
    let response = send(
        redeem_with(vec![("code", code.clone())]),
        Some(basic(&wrong)),
    )
    .await;
    assert_eq!(
        error_of(&response),
        (StatusCode::UNAUTHORIZED, "invalid_client".into())
    );
    assert_eq!(
        response.header("www-authenticate"),
        Some("Basic realm=\"latchkey\"")
    );
    let response = send(redeem_with(vec![("code", code.clone())]), None).await;
    assert_eq!(
        error_of(&response),
        (StatusCode::UNAUTHORIZED, "invalid_client".into())
    );

    // A code issued to another client, or with another redirect URI, or the wrong verifier.
    let cases = [
        (redeem_with(vec![("code", code.clone())]), basic(&other)),
        (
            redeem_with(vec![
                ("code", code_for(&app, &client, &cookie).await),
                ("redirect_uri", "https://app.example.com/other".into()),
            ]),
            basic(&client),
        ),
        (
            redeem_with(vec![
                ("code", code_for(&app, &client, &cookie).await),
                ("code_verifier", "x".repeat(43)),
            ]),
            basic(&client),
        ),
        (
            redeem_with(vec![("code", "never-issued".into())]),
            basic(&client),
        ),
    ];
    for (form, authorization) in cases {
        let response = send(form.clone(), Some(authorization)).await;
        assert_eq!(
            error_of(&response),
            (StatusCode::BAD_REQUEST, "invalid_grant".into()),
            "{form:?}"
        );
    }

    // Missing PKCE verifier, unsupported grant, both authentication methods.
    let code = code_for(&app, &client, &cookie).await;
    let response = send(
        vec![
            ("grant_type", "authorization_code".into()),
            ("code", code.clone()),
            ("redirect_uri", REDIRECT_URI.into()),
        ],
        Some(basic(&client)),
    )
    .await;
    assert_eq!(
        error_of(&response),
        (StatusCode::BAD_REQUEST, "invalid_request".into())
    );
    let response = send(
        vec![("grant_type", "password".into())],
        Some(basic(&client)),
    )
    .await;
    assert_eq!(
        error_of(&response),
        (StatusCode::BAD_REQUEST, "unsupported_grant_type".into())
    );
    let response = send(
        redeem_with(vec![
            ("code", code.clone()),
            ("client_secret", client.secret.clone()),
        ]),
        Some(basic(&client)),
    )
    .await;
    assert_eq!(
        error_of(&response),
        (StatusCode::BAD_REQUEST, "invalid_request".into())
    );

    // client_secret_post works as well as Basic.
    let response = send(
        redeem_with(vec![
            ("code", code),
            ("client_id", client.id.clone()),
            ("client_secret", client.secret.clone()),
        ]),
        None,
    )
    .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.body);
}

#[tokio::test]
async fn a_replayed_code_is_refused_and_revokes_what_it_bought() {
    let app = provider().await;
    let client = register(&app, &[REDIRECT_URI]).await;
    let cookie = app.session_for(MEMBER_EMAIL).await;
    let code = code_for(&app, &client, &cookie).await;
    let first = redeem(&app, &client, &code).await;
    assert_eq!(first.status, StatusCode::OK);
    let access_token = first.json()["access_token"].as_str().unwrap().to_string();
    assert_eq!(userinfo(&app, &access_token).await.status, StatusCode::OK);

    let replay = redeem(&app, &client, &code).await;
    assert_eq!(
        error_of(&replay),
        (StatusCode::BAD_REQUEST, "invalid_grant".into())
    );
    let revoked = userinfo(&app, &access_token).await;
    assert_eq!(revoked.status, StatusCode::UNAUTHORIZED);
    assert!(revoked
        .header("www-authenticate")
        .unwrap()
        .contains("error=\"invalid_token\""));
}

#[tokio::test]
async fn an_expired_code_is_refused() {
    let app = provider().await;
    let client = register(&app, &[REDIRECT_URI]).await;
    let cookie = app.session_for(MEMBER_EMAIL).await;
    let code = code_for(&app, &client, &cookie).await;
    let stored = op_authorization_code::Entity::find()
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let mut aged: op_authorization_code::ActiveModel = stored.into();
    aged.expires_at = Set(chrono::Utc::now() - chrono::Duration::seconds(1));
    aged.update(&app.db).await.unwrap();
    let response = redeem(&app, &client, &code).await;
    assert_eq!(
        error_of(&response),
        (StatusCode::BAD_REQUEST, "invalid_grant".into())
    );
    assert_eq!(
        response.json()["error_description"],
        "The code has expired."
    );
}

#[tokio::test]
async fn userinfo_wants_a_live_member_token() {
    let app = provider().await;
    let missing = app
        .send(
            Request::get("/oauth2/userinfo")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        missing.header("www-authenticate"),
        Some("Bearer realm=\"latchkey\"")
    );
    let forged = userinfo(&app, "forged-token").await;
    assert_eq!(forged.status, StatusCode::UNAUTHORIZED);

    // A member deactivated after sign-in: the token opens nothing more.
    let client = register(&app, &[REDIRECT_URI]).await;
    let cookie = app.session_for(MEMBER_EMAIL).await;
    let code = code_for(&app, &client, &cookie).await;
    let access_token = redeem(&app, &client, &code).await.json()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let member = app.account(MEMBER_EMAIL).await;
    let mut user: server::entities::user::ActiveModel = member.user.into();
    user.active = Set(false);
    user.update(&app.db).await.unwrap();
    assert_eq!(
        userinfo(&app, &access_token).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_rotated_signing_key_stays_published_while_new_tokens_use_the_new_one() {
    let app = provider().await;
    let client = register(&app, &[REDIRECT_URI]).await;
    let cookie = app.session_for(MEMBER_EMAIL).await;
    let code = code_for(&app, &client, &cookie).await;
    let before = redeem(&app, &client, &code).await.json()["id_token"]
        .as_str()
        .unwrap()
        .to_string();

    let new_kid = server::provider::keys::rotate(&app.db, &app.state.secrets)
        .await
        .unwrap();
    app.state.provider.keys.forget().await;
    let code = code_for(&app, &client, &cookie).await;
    let after = redeem(&app, &client, &code).await.json()["id_token"]
        .as_str()
        .unwrap()
        .to_string();

    let kid_of = |jwt: &str| {
        let header = jwt.split('.').next().unwrap();
        let header: Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(header)
                .unwrap(),
        )
        .unwrap();
        header["kid"].as_str().unwrap().to_string()
    };
    assert_eq!(kid_of(&after), new_kid);
    assert_ne!(kid_of(&before), new_kid);
    let published: Vec<String> = app.get("/oauth2/jwks", None).await.json()["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(published, vec![new_kid, kid_of(&before)]);
    // Both tokens verify against the published keys.
    verified_claims(&app, &client, &before).await;
    verified_claims(&app, &client, &after).await;
}

#[tokio::test]
async fn registering_an_app_refuses_unsafe_redirect_uris_and_keeps_no_secret_in_clear() {
    let app = provider().await;
    for uri in [
        "http://app.example.com/cb",
        "javascript:alert(1)",
        "https://app.example.com/cb#frag",
    ] {
        let new = NewApp {
            name: "X".into(),
            redirect_uris: vec![uri.into()],
            webhook_url: None,
            ..Default::default()
        };
        let refused = apps::create(&app.db, &app.state.secrets, new, false).await;
        assert_eq!(
            refused.map(|_| ()).unwrap_err().code(),
            "invalid_redirect_uri",
            "{uri}"
        );
    }
    let client = register(&app, &[REDIRECT_URI]).await;
    let stored = server::entities::host_app::Entity::find()
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let row = format!("{stored:?}");
    assert!(
        !row.contains(&client.secret),
        "the client secret is stored hashed"
    );
    assert!(
        stored.webhook_secret.unwrap().starts_with("v2:"),
        "the webhook secret is sealed"
    );

    let rotated = apps::rotate_secret(&app.db, &client.id).await.unwrap();
    let cookie = app.session_for(MEMBER_EMAIL).await;
    let code = code_for(&app, &client, &cookie).await;
    assert_eq!(
        error_of(&redeem(&app, &client, &code).await).1,
        "invalid_client"
    );
    let fresh = Client {
        id: client.id.clone(),
        secret: rotated,
    };
    let code = code_for(&app, &fresh, &cookie).await;
    assert_eq!(redeem(&app, &fresh, &code).await.status, StatusCode::OK);

    apps::delete(&app.db, &client.id).await.unwrap();
    let gone = app.get(&authorize_path(&client, &[]), Some(&cookie)).await;
    assert_eq!(gone.status, StatusCode::BAD_REQUEST);
}

// Logout (RP-Initiated Logout 1.0 and Back-Channel Logout 1.0).

const SIGNED_OUT_URI: &str = "https://app.example.com/signed-out";

/// A host app's back-channel logout URI on loopback: the logout tokens it receives.
#[derive(Clone, Default)]
struct LogoutReceiver {
    tokens: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl LogoutReceiver {
    async fn start(&self) -> String {
        let tokens = self.tokens.clone();
        let router = axum::Router::new().route(
            "/backchannel",
            axum::routing::post(move |body: String| {
                let tokens = tokens.clone();
                async move {
                    let form: HashMap<String, String> =
                        serde_urlencoded::from_str(&body).unwrap_or_default();
                    if let Some(token) = form.get("logout_token") {
                        tokens.lock().unwrap().push(token.clone());
                    }
                    StatusCode::OK
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await });
        format!("http://{address}/backchannel")
    }

    /// Waits (up to five seconds) for `count` logout tokens.
    async fn wait_for(&self, count: usize) -> Vec<String> {
        for _ in 0..100 {
            if self.tokens.lock().unwrap().len() >= count {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        self.tokens.lock().unwrap().clone()
    }
}

/// A provider that may post to loopback, as back-channel receivers here are.
async fn provider_for_logout() -> TestApp {
    TestApp::spawn_with(&[
        ("LATCHKEY_PUBLIC_URL", PUBLIC_URL),
        ("LATCHKEY_ALLOW_PRIVATE_URLS", "true"),
    ])
    .await
    .with_acme()
    .await
}

async fn register_for_logout(app: &TestApp, backchannel: &str) -> Client {
    let new = NewApp {
        name: "Acme CRM".into(),
        redirect_uris: vec![REDIRECT_URI.into()],
        post_logout_redirect_uris: vec![SIGNED_OUT_URI.into()],
        backchannel_logout_uri: Some(backchannel.into()),
        ..Default::default()
    };
    let created = apps::create(&app.db, &app.state.secrets, new, true)
        .await
        .unwrap();
    Client {
        id: created.client_id,
        secret: created.client_secret,
    }
}

/// The member's ID token for `client`, from a full sign-in.
async fn id_token_for(app: &TestApp, client: &Client, cookie: &str) -> String {
    let code = code_for(app, client, cookie).await;
    let tokens = redeem(app, client, &code).await.json();
    tokens["id_token"].as_str().unwrap().to_string()
}

fn logout_path(params: &[(&str, &str)]) -> String {
    format!(
        "/oauth2/logout?{}",
        serde_urlencoded::to_string(params).unwrap()
    )
}

async fn is_live(app: &TestApp, cookie: &str) -> bool {
    server::sessions::find_live(&app.db, cookie)
        .await
        .unwrap()
        .is_some()
}

/// A logout token's header and claims, once its signature verified with our JWKS.
async fn verified_logout_token(app: &TestApp, token: &str) -> (Value, Value) {
    use openidconnect::core::{CoreJsonWebKey, CoreJwsSigningAlgorithm};
    use openidconnect::JsonWebKey;
    let jwks: Value = app.get("/oauth2/jwks", None).await.json();
    let parts: Vec<&str> = token.split('.').collect();
    let decode = |part: &str| -> Value {
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(part)
                .unwrap(),
        )
        .unwrap()
    };
    let header = decode(parts[0]);
    let key: CoreJsonWebKey = serde_json::from_value(
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kid"] == header["kid"])
            .expect("signed with a published key")
            .clone(),
    )
    .unwrap();
    let signature = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(parts[2])
        .unwrap();
    key.verify_signature(
        &CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        format!("{}.{}", parts[0], parts[1]).as_bytes(),
        &signature,
    )
    .expect("the logout token verifies");
    (header, decode(parts[1]))
}

#[tokio::test]
async fn discovery_announces_logout_and_id_tokens_name_the_session() {
    let app = provider().await;
    let discovery = app
        .get("/.well-known/openid-configuration", None)
        .await
        .json();
    assert_eq!(
        discovery["end_session_endpoint"],
        json!(format!("{PUBLIC_URL}/oauth2/logout"))
    );
    assert_eq!(discovery["backchannel_logout_supported"], json!(true));
    assert_eq!(
        discovery["backchannel_logout_session_supported"],
        json!(true)
    );

    let client = register(&app, &[REDIRECT_URI]).await;
    let cookie = app.session_for(MEMBER_EMAIL).await;
    let id_token = id_token_for(&app, &client, &cookie).await;
    let claims = verified_claims(&app, &client, &id_token).await;
    let session = server::sessions::find_live(&app.db, &cookie)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claims["sid"], json!(session.sid.unwrap()));
}

#[tokio::test]
async fn a_host_app_ends_the_members_session_and_every_app_it_reached_is_told() {
    let app = provider_for_logout().await;
    let receiver = LogoutReceiver::default();
    let backchannel = receiver.start().await;
    let crm = register_for_logout(&app, &backchannel).await;
    let wiki = register_for_logout(&app, &backchannel).await;
    let cookie = app.session_for(MEMBER_EMAIL).await;
    let id_token = id_token_for(&app, &crm, &cookie).await;
    id_token_for(&app, &wiki, &cookie).await;
    let sid = verified_claims(&app, &crm, &id_token).await["sid"].clone();

    let response = app
        .get(
            &logout_path(&[
                ("id_token_hint", &id_token),
                ("post_logout_redirect_uri", SIGNED_OUT_URI),
                ("state", "bye-1"),
            ]),
            Some(&cookie),
        )
        .await;
    assert_eq!(response.status, StatusCode::SEE_OTHER, "{}", response.body);
    assert_eq!(
        response.header("location"),
        Some(format!("{SIGNED_OUT_URI}?state=bye-1").as_str())
    );
    assert_eq!(response.session_cookie().as_deref(), Some(""));
    assert!(!is_live(&app, &cookie).await);

    let tokens = receiver.wait_for(2).await;
    assert_eq!(tokens.len(), 2, "one logout token per app");
    let mut audiences = Vec::new();
    for token in tokens {
        let (header, claims) = verified_logout_token(&app, &token).await;
        assert_eq!(header["typ"], json!("logout+jwt"));
        assert_eq!(claims["iss"], json!(PUBLIC_URL));
        assert_eq!(claims["sid"], sid);
        assert_eq!(
            claims["events"],
            json!({"http://schemas.openid.net/event/backchannel-logout": {}})
        );
        assert!(claims.get("nonce").is_none());
        assert!(claims["jti"].is_string());
        audiences.push(claims["aud"].as_str().unwrap().to_string());
    }
    audiences.sort();
    let mut expected = vec![crm.id.clone(), wiki.id.clone()];
    expected.sort();
    assert_eq!(audiences, expected);
}

#[tokio::test]
async fn logout_requests_a_third_party_could_send_end_nothing_without_the_member() {
    let app = provider_for_logout().await;
    let receiver = LogoutReceiver::default();
    let crm = register_for_logout(&app, &receiver.start().await).await;
    let cookie = app.session_for(MEMBER_EMAIL).await;
    let id_token = id_token_for(&app, &crm, &cookie).await;
    let (head, rest) = id_token.split_once('.').unwrap();
    let (payload, signature) = rest.split_once('.').unwrap();
    let mut claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    claims["sub"] = json!(uuid::Uuid::new_v4().to_string());
    let forged = format!(
        "{head}.{}.{signature}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let refused: Vec<(&str, Vec<(&str, &str)>)> = vec![
        (
            "an unregistered return address",
            vec![
                ("id_token_hint", &id_token),
                ("post_logout_redirect_uri", "https://evil.example.com/"),
            ],
        ),
        (
            "a return address with no app named",
            vec![("post_logout_redirect_uri", SIGNED_OUT_URI)],
        ),
        (
            "an ID token changed after signing",
            vec![("id_token_hint", &forged)],
        ),
        (
            "another app's client_id beside the hint",
            vec![("id_token_hint", &id_token), ("client_id", "app_other")],
        ),
        ("an unknown client_id", vec![("client_id", "app_unknown")]),
    ];
    for (name, params) in refused {
        let response = app.get(&logout_path(&params), Some(&cookie)).await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST, "{name}");
        assert!(response.header("location").is_none(), "{name}");
        assert!(is_live(&app, &cookie).await, "{name}: the session survives");
    }

    // Without the session's own ID token the member is asked, on our page.
    let unproven = [
        ("client_id", crm.id.as_str()),
        ("post_logout_redirect_uri", SIGNED_OUT_URI),
    ];
    let asked = app.get(&logout_path(&unproven), Some(&cookie)).await;
    assert_eq!(asked.status, StatusCode::OK);
    assert!(
        asked.body.contains("Sign out of Latchkey?"),
        "{}",
        asked.body
    );
    assert!(is_live(&app, &cookie).await);

    // A confirmation posted from another site is not the member's.
    let confirm = |site: &str| {
        let mut form: Vec<(&str, &str)> = unproven.to_vec();
        form.push(("confirm", "yes"));
        Request::post("/oauth2/logout")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::COOKIE, format!("latchkey_session={cookie}"))
            .header("sec-fetch-site", site)
            .body(Body::from(serde_urlencoded::to_string(&form).unwrap()))
            .unwrap()
    };
    let cross_site = app.send(confirm("cross-site")).await;
    assert_eq!(cross_site.status, StatusCode::OK);
    assert!(
        is_live(&app, &cookie).await,
        "a cross-site confirmation ends nothing"
    );

    let confirmed = app.send(confirm("same-origin")).await;
    assert_eq!(confirmed.status, StatusCode::SEE_OTHER);
    assert_eq!(confirmed.header("location"), Some(SIGNED_OUT_URI));
    assert!(!is_live(&app, &cookie).await);
}

#[tokio::test]
async fn a_cross_site_logout_form_is_followed_by_a_get_that_carries_the_session() {
    let app = provider_for_logout().await;
    let receiver = LogoutReceiver::default();
    let crm = register_for_logout(&app, &receiver.start().await).await;
    let form = [
        ("client_id", crm.id.as_str()),
        ("post_logout_redirect_uri", SIGNED_OUT_URI),
        ("state", "s"),
    ];
    // SameSite=Lax keeps the session cookie off another site's POST.
    let posted = app
        .send(
            Request::post("/oauth2/logout")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header("sec-fetch-site", "cross-site")
                .body(Body::from(serde_urlencoded::to_string(form).unwrap()))
                .unwrap(),
        )
        .await;
    assert_eq!(posted.status, StatusCode::SEE_OTHER);
    assert_eq!(posted.header("location"), Some(logout_path(&form).as_str()));
}

#[tokio::test]
async fn sessions_ended_without_a_logout_still_reach_the_apps() {
    let app = provider_for_logout().await;
    let receiver = LogoutReceiver::default();
    let crm = register_for_logout(&app, &receiver.start().await).await;
    let admin = app.session_for(ADMIN_EMAIL).await;
    let cookie = app.session_for(MEMBER_EMAIL).await;
    let id_token = id_token_for(&app, &crm, &cookie).await;
    let sid = verified_claims(&app, &crm, &id_token).await["sid"].clone();
    let member = app.account(MEMBER_EMAIL).await;

    // An admin's "End sessions" runs no logout code of its own.
    let ended = app
        .call_json(
            "change_member",
            json!({ "id": member.user.id.to_string(), "action": "end_sessions" }),
            Some(&admin),
        )
        .await;
    assert_eq!(ended.status, StatusCode::OK, "{}", ended.body);
    let provider = &app.state.provider;
    assert_eq!(
        server::provider::backchannel::sweep(provider)
            .await
            .unwrap(),
        1
    );
    let tokens = receiver.wait_for(1).await;
    let (_, claims) = verified_logout_token(&app, &tokens[0]).await;
    assert_eq!(claims["sid"], sid);
    assert_eq!(claims["sub"], json!(member.user.id.to_string()));
    // Told once: the next sweep finds nothing.
    assert_eq!(
        server::provider::backchannel::sweep(provider)
            .await
            .unwrap(),
        0
    );
}
